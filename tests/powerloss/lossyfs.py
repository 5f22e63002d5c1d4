"""Runs lossyfs (lossyfs.c: a FUSE file system that discards, on command,
whatever was not fsynced) for a test, and always unmounts it.

    fs = LossyFS(binary)        # binary from --lossyfs, or skip() with the reason
    fs.mount()                  # lossyfs BACKING MOUNT STATE, waits for its ready line
    ... processes use fs.mnt ...
    report = fs.cut()           # SIGUSR1: a power cut; returns the parsed report
    fs.mount()                  # "reboot": what is left is what was durable
    fs.unmount()                # SIGTERM: clean unmount, nothing lost
    fs.cleanup()                # unmount whatever is mounted, remove the temp dir

A mount the kernel refuses (no /dev/fuse, no permission) makes the test
skip with lossyfs's own words (exit 3 of lossyfs), never pass. lossyfs is
in harness's list of live children, so the atexit hook stops it (after the
brokers started later, which die first), and it gets SIGTERM (a clean
unmount) if the test process dies.
"""

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402
from harness import skip, wait_for  # noqa: E402

READY_RE = re.compile(r"lossyfs: mounted .* (\d+) files in (\d+) directories")
CUT_RE = re.compile(r"lossyfs: power cut: discarded unsynced contents of (\d+) files \((\d+) bytes\) and "
                    r"unsynced entries of (\d+) directories; .* now holds (\d+) files in (\d+) directories "
                    r"\((\d+) names dropped\)")
MOUNT_REFUSED = 3


def lossyfs_binary(argv=None):
    """--lossyfs BIN from argv; when CMake found no libfuse3 it passes
    --lossyfs-missing REASON instead, and the test skips with it."""
    argv = sys.argv if argv is None else argv
    for i, a in enumerate(argv):
        if a == "--lossyfs" and i + 1 < len(argv):
            return argv[i + 1]
        if a == "--lossyfs-missing" and i + 1 < len(argv):
            skip("lossyfs was not built: " + argv[i + 1])
    skip("no --lossyfs BIN given (lossyfs is built when CMake finds libfuse3)")


def _term_with_parent():
    # between fork and exec: SIGTERM (a clean unmount) if the test dies
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)   # PR_SET_PDEATHSIG
    except OSError:
        pass
    os.setpgid(0, 0)


def _mounted(path):
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == real for line in f)


class LossyFS:
    LOG_TAG = "lossyfs"

    def __init__(self, binary, name="lossyfs"):
        self.binary = binary
        if not os.access(binary, os.X_OK):
            raise RuntimeError("lossyfs binary %s is not there" % binary)
        self.dir = tempfile.mkdtemp(prefix="samsa-lossyfs-")
        self.backing = os.path.join(self.dir, "backing")
        self.mnt = os.path.join(self.dir, "mnt")
        self.state = os.path.join(self.dir, "state")
        for d in (self.backing, self.mnt, self.state):
            os.makedirs(d)
        self.log_path = os.path.join(self.dir, name + ".log")
        self.name = name
        self.proc = None
        self.mounts = 0
        self.cuts = []        # every cut's report

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _log_from(self, offset):
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def mount(self, timeout=60.0):
        if self.alive():
            raise RuntimeError("lossyfs already mounted (pid %d)" % self.proc.pid)
        self.mounts += 1
        logf = open(self.log_path, "ab")
        logf.write(("\n=== %s: mount #%d\n" % (self.LOG_TAG, self.mounts)).encode())
        logf.flush()
        offset = logf.tell()
        # ASan without the leak check: releases the kernel still had queued
        # at unmount never arrive, so libfuse's and lossyfs's per-handle
        # memory is not freed at exit (every other ASan/UBSan report stays)
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "detect_leaks=0"]))
        self.proc = subprocess.Popen([self.binary, self.backing, self.mnt, self.state], stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=subprocess.STDOUT, close_fds=True, env=env,
                                     preexec_fn=_term_with_parent)
        logf.close()
        harness._live.append(self)

        def ready():
            text = self._log_from(offset)
            m = READY_RE.search(text)
            if m and _mounted(self.mnt):
                return m
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self._reaped()
                if code == MOUNT_REFUSED:
                    skip("FUSE cannot mount here: " + " / ".join(l.strip() for l in text.splitlines() if l.strip()))
                raise RuntimeError("lossyfs exited with code %s before it was mounted:\n%s" % (code, text))
            return None

        return wait_for(ready, timeout, "lossyfs mounted on %s" % self.mnt)

    def _wait_exit(self, timeout):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("lossyfs did not exit %.0fs after its signal" % timeout)
        code = self.proc.returncode
        self._reaped()
        return code

    def cut(self, timeout=120.0):
        """A power cut: lossyfs unmounts and rebuilds BACKING from what was
        durable. Every process with files there must be dead already.
        Returns {"files", "bytes", "dirs", "kept_files", "kept_dirs", "dropped"}."""
        offset = os.path.getsize(self.log_path)
        self.proc.send_signal(signal.SIGUSR1)
        code = self._wait_exit(timeout)
        text = self._log_from(offset)
        m = CUT_RE.search(text)
        if code != 0 or not m:
            raise RuntimeError("lossyfs's power cut failed (exit %s):\n%s" % (code, text))
        r = dict(zip(("files", "bytes", "dirs", "kept_files", "kept_dirs", "dropped"), map(int, m.groups())))
        self.cuts.append(r)
        return r

    def unmount(self, timeout=60.0):
        """A clean unmount (SIGTERM): everything kept. Returns the exit code."""
        if not self.alive():
            return None
        self.proc.send_signal(signal.SIGTERM)
        return self._wait_exit(timeout)

    # harness's atexit hook calls these
    def stop(self, timeout=20.0):
        return self.unmount(timeout)

    def kill9(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()
            self._reaped()
        self._force_unmount()

    def _force_unmount(self):
        if _mounted(self.mnt):
            subprocess.run(["umount", "-l", self.mnt], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _reaped(self):
        self.proc = None
        if self in harness._live:
            harness._live.remove(self)

    def sanitizer_reports(self):
        try:
            text = self._log_from(0)
        except OSError:
            return []
        return [l for l in text.splitlines() if harness.SANITIZER_RE.search(l)]

    def log_tail(self, lines=30):
        try:
            text = self._log_from(0)
        except OSError:
            return "  | (no log)"
        return "\n".join("  | " + l for l in text.splitlines()[-lines:])

    def cleanup(self):
        try:
            self.unmount(20)
        except Exception:
            self.kill9()
        self._force_unmount()
        if os.environ.get("SAMSA_KEEP_TMP") == "1":
            print("lossyfs: kept %s" % self.dir, flush=True)
        elif not _mounted(self.mnt):
            shutil.rmtree(self.dir, ignore_errors=True)
