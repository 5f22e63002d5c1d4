"""Integration-test harness: runs a real samsa-broker for a test and cleans up.

A Broker owns one broker process on 127.0.0.1 (port 0 on first start, so the
kernel picks a free port; the same port on restart) and one temporary data
directory.  The broker's stderr goes to a log file in that directory; a test
that fails prints its tail.

Every process a test starts is stopped by its PID, whatever happens:
  - Broker.stop()/kill9() in the test's finally blocks (or the context manager),
  - an atexit hook that stops every broker still registered,
  - SIGTERM/SIGINT/SIGHUP turned into SystemExit so finally blocks and atexit run,
  - PR_SET_PDEATHSIG(SIGKILL) in the child, so a broker never outlives a test
    process that was itself killed with SIGKILL (a ctest timeout, for one).

Also here: a tiny test runner (check(), run_tests()) so each script prints
every check it made and ends with the "N passed, N failed" line.
"""

import atexit
import ctypes
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

READY_RE = re.compile(r"started in [0-9.]+ ms: listening on ([0-9.]+):([0-9]+)")
SANITIZER_RE = re.compile(r"runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer|SUMMARY: UndefinedBehaviorSanitizer")
PYTHON = "/usr/bin/python3"

_live = []          # children (brokers, relays, shop services) that may be running, for the atexit hook


def broker_binary(argv=None):
    """The broker binary: --broker BIN in argv, else $SAMSA_BROKER_BIN."""
    argv = sys.argv if argv is None else argv
    for i, a in enumerate(argv):
        if a == "--broker" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--broker="):
            return a.split("=", 1)[1]
    b = os.environ.get("SAMSA_BROKER_BIN")
    if not b:
        sys.exit("harness: no broker binary: pass --broker BIN or set SAMSA_BROKER_BIN")
    return b


def _die_with_parent():
    # Runs in the child between fork and exec: SIGKILL it if we die.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG = 1
    except OSError:
        pass
    os.setpgid(0, 0)   # own group: a ^C at the terminal reaches us, not it directly


def wait_for(cond, timeout, what, interval=0.02):
    """Poll cond() until it returns a true value or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


class ChildProcess:
    """The life of one child process that logs to a file and prints a ready
    line: samsa-broker (Broker), samsa-relay (relay_harness.Relay) and the
    shop services (tests/shop/shop_harness.py).

    The subclass sets, in __init__: log_path, proc = None, starts = 0,
    last_exit = None (and dir, _own_dir for cleanup()); it defines
    start(timeout) with spawn(); as class attributes: LOG_TAG (the "=== TAG:"
    prefix of the lines the harness writes into the log) and ERROR (the
    exception start() raises). It may override log_tail(). Every child is
    started with PR_SET_PDEATHSIG(SIGKILL) and is in LIVE while it may run,
    so the atexit hook stops it (the newest first) whatever the test did."""

    LOG_TAG = "harness"
    LIVE = _live
    ERROR = RuntimeError

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def spawn(self, args, ready_re, timeout, what, env=None):
        """Starts args, stdout and stderr appended to log_path, and waits up
        to timeout for ready_re in what it writes from now on. Returns the
        match; raises ERROR (naming what) if the child exits first or is not
        ready in time (then it is killed)."""
        self.starts += 1
        logf = open(self.log_path, "ab")
        logf.write(("\n=== %s: start #%d: %s\n" % (self.LOG_TAG, self.starts, " ".join(args))).encode())
        logf.flush()
        offset = logf.tell()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logf,
                                     stderr=subprocess.STDOUT, close_fds=True, env=env,
                                     preexec_fn=_die_with_parent)
        logf.close()
        self.LIVE.append(self)

        def ready():
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                m = ready_re.search(f.read().decode("utf-8", "replace"))
            if m:
                return m
            if self.proc.poll() is not None:
                self._reaped()
                raise self.ERROR("%s exited with code %s before it was ready:\n%s"
                                 % (what, self.last_exit, self.log_tail()))
            return None

        try:
            return wait_for(ready, timeout, "%s's ready line" % what)
        except AssertionError:
            self.kill9()
            raise self.ERROR("%s not ready after %.0fs:\n%s" % (what, timeout, self.log_tail()))

    def stop(self, timeout=20.0, sig=signal.SIGTERM):
        """sig, wait up to timeout, then SIGKILL. Returns the exit code."""
        p = self.proc
        if p is None:
            return self.last_exit
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                self._note("did not exit %.0fs after signal %d: killed" % (timeout, sig))
        self._reaped()
        return self.last_exit

    def kill9(self):
        p = self.proc
        if p is None:
            return self.last_exit
        if p.poll() is None:
            p.kill()
            p.wait()
        self._reaped()
        return self.last_exit

    def restart(self, timeout=30.0):
        """Start again (stopping it first if it runs), same data, same port."""
        if self.alive():
            self.stop()
        return self.start(timeout)

    def cleanup(self):
        """kill -9, and remove the temp dir it made (unless SAMSA_KEEP_TMP=1)."""
        self.kill9()
        if self._own_dir and os.environ.get("SAMSA_KEEP_TMP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def sanitizer_reports(self):
        """Lines of the log where ASan, LSan or UBSan reported."""
        try:
            text = self.log_text()
        except OSError:
            return []
        return [l for l in text.splitlines() if SANITIZER_RE.search(l)]

    def _reaped(self):
        self.last_exit = self.proc.returncode
        self.proc = None
        if self in self.LIVE:
            self.LIVE.remove(self)

    def _note(self, text):
        with open(self.log_path, "ab") as f:
            f.write(("=== %s: %s\n" % (self.LOG_TAG, text)).encode())

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return "  | (no log)"
        return "\n".join("  | " + l for l in text.splitlines()[-lines:])


class BrokerError(Exception):
    pass


class Broker(ChildProcess):
    ERROR = BrokerError

    def __init__(self, binary=None, overrides=None, name="broker", data_dir=None, config_file=None):
        """config_file: a server.properties to pass first; it then supplies
        listeners and log.dirs itself (a restart still pins the port)."""
        self.binary = binary or broker_binary()
        self.config_file = config_file
        self.overrides = dict(overrides or {})
        self.name = name
        self._own_dir = data_dir is None
        self.dir = data_dir or tempfile.mkdtemp(prefix="samsa-itest-")
        self.data_dir = os.path.join(self.dir, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.log_path = os.path.join(self.dir, name + ".log")
        self.proc = None
        self.port = 0
        self.starts = 0
        self.last_exit = None

    # -- lifecycle ---------------------------------------------------------

    def start(self, timeout=30.0):
        if self.proc is not None and self.proc.poll() is None:
            raise BrokerError("broker already running (pid %d)" % self.proc.pid)
        props = {}
        if not self.config_file or self.port:
            props["listeners"] = "PLAINTEXT://127.0.0.1:%d" % self.port
        if not self.config_file:
            props["log.dirs"] = self.data_dir
        props.update(self.overrides)
        args = [self.binary] + ([self.config_file] if self.config_file else [])
        for k, v in props.items():
            args += ["--override", "%s=%s" % (k, v)]
        m = self.spawn(args, READY_RE, timeout, "broker")
        port = int(m.group(2))
        if self.port and port != self.port:
            raise BrokerError("restarted broker listens on %d, asked for %d" % (port, self.port))
        self.port = port
        return self

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    # -- diagnostics -------------------------------------------------------

    def finish(self, rc):
        """End of a test file: the broker must still be alive, exit 0 on
        SIGTERM and have no sanitizer report in its log. Returns rc, or 1
        when one of those fails."""
        alive = self.alive()
        code = self.stop()
        reports = self.sanitizer_reports()
        print("broker %s: alive at the end %s, exit code after SIGTERM %s, sanitizer reports %d"
              % (self.name, alive, code, len(reports)), flush=True)
        if not alive or code != 0 or reports:
            print("FAIL: the broker must survive, exit 0 on SIGTERM and log no sanitizer report\n"
                  + "\n".join("  ! " + l for l in reports[:10]) + "\n" + self.log_tail(), flush=True)
            return 1
        return rc

    def __enter__(self):
        if not self.alive():
            self.start()
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            print("broker %s log tail:\n%s" % (self.name, self.log_tail()), flush=True)
        self.stop()
        self.cleanup()
        return False


def _stop_all():
    for c in reversed(list(_live)):  # the newest first: services, relays, then brokers
        try:
            c.stop(timeout=5)
        except Exception:
            c.kill9()


def _on_signal(signum, frame):
    raise SystemExit(128 + signum)


atexit.register(_stop_all)
for _s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_s, _on_signal)


# -- checks and a small runner --------------------------------------------

_counts = {"checks": 0}


def check(cond, what, detail=None):
    """Assert cond; print what was checked. detail explains a failure."""
    _counts["checks"] += 1
    if not cond:
        raise AssertionError(what + ("" if detail is None else ": " + str(detail)))
    print("  ok: " + what, flush=True)


def check_eq(got, want, what):
    check(got == want, what, "expected %r, got %r" % (_short(want), _short(got)))


def _short(v, n=300):
    r = repr(v)
    return v if len(r) <= n else r[:n] + "...(%d chars)" % len(r)


def run_tests(tests, brokers=()):
    """Run each test function; print a summary line; exit non-zero on failure.

    brokers: Broker objects whose log tail is printed when a test fails.
    Set SAMSA_TEST_ONLY=name to run one test.
    """
    only = os.environ.get("SAMSA_TEST_ONLY")
    passed = failed = 0
    t_all = time.monotonic()
    for t in tests:
        if only and t.__name__ != only:
            continue
        print("--- %s" % t.__name__, flush=True)
        t0 = time.monotonic()
        try:
            t()
        except Exception:
            failed += 1
            print("FAIL %s (%.2fs)" % (t.__name__, time.monotonic() - t0), flush=True)
            traceback.print_exc(file=sys.stdout)
            for b in brokers:
                print("broker %s (pid %s, alive %s) log tail:\n%s"
                      % (b.name, b.pid, b.alive(), b.log_tail()), flush=True)
        else:
            passed += 1
            print("PASS %s (%.2fs)" % (t.__name__, time.monotonic() - t0), flush=True)
    print("%d checks in %.1fs" % (_counts["checks"], time.monotonic() - t_all))
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


_unique_seq = itertools.count(1)


def unique(prefix):
    """A topic or group name unique to this run: the pid, the time and a
    counter (two calls in the same millisecond once gave the same name, and
    a test then joined the group of the one before it)."""
    return "%s-%d-%d-%d" % (prefix, os.getpid(), int(time.time() * 1000) % 100000000, next(_unique_seq))
