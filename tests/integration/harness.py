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
every check it made and ends with the "N passed, N failed, N skipped" line.
A test that cannot check calls skip(reason) (so can a file's setup, before
run_tests): the test is reported SKIPPED with the reason, and the file exits
77, which ctest shows as "Skipped" (SKIP_RETURN_CODE, the top CMakeLists.txt)
and `make test` lists at the end (SAMSA_TEST_STRICT=1 makes that a failure).
A file that ran no test (SAMSA_TEST_ONLY naming none) or a test that passed
without a single check() fails: neither proved anything.
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
PORT_TAKEN_RE = re.compile(r"[Aa]ddress already in use|address in use")
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


def _kill9(p):
    """SIGKILL to a child process (a Popen), and reap it. Under make coverage
    (SAMSA_COVERAGE_KILL=1) SIGUSR2 first: a coverage build's program writes
    its gcov counts and then kills itself with SIGKILL
    (tests/coverage/dump_on_signal.c); SIGKILL after 10 s if it has not."""
    if os.environ.get("SAMSA_COVERAGE_KILL") == "1":
        try:
            p.send_signal(signal.SIGUSR2)
            p.wait(10)
            return
        except subprocess.TimeoutExpired:
            pass
    p.kill()
    p.wait()


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

    # pauses between tries when a restart finds its old port taken
    PORT_RETRY_PAUSES = (0.2, 0.5, 1.0, 2.0, 4.0)

    def spawn_on_port(self, port, args, ready_re, timeout, what, env=None):
        """spawn() for a child told to listen on port (a restart keeps its
        port: the clients know it). The port was free when the kernel first
        picked it, but while the child was down any process may have been
        given it (an outgoing connection's ephemeral port, say); the child
        then exits saying "address in use". So: try again after a pause, a
        few times, then fail saying who holds the port. port 0: spawn()."""
        tries = 1 + (len(self.PORT_RETRY_PAUSES) if port else 0)
        for i in range(tries):
            if i:
                pause = self.PORT_RETRY_PAUSES[i - 1]
                self._note("port %d taken by another process: try %d of %d in %.1fs" % (port, i + 1, tries, pause))
                print("harness: %s: port %d taken by another process; trying again in %.1fs" % (what, port, pause),
                      flush=True)
                time.sleep(pause)   # a backoff between tries, not a wait for an event
            offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
            try:
                return self.spawn(args, ready_re, timeout, what, env)
            except self.ERROR:
                with open(self.log_path, "rb") as f:
                    f.seek(offset)
                    taken = PORT_TAKEN_RE.search(f.read().decode("utf-8", "replace"))
                if not port or not taken or i == tries - 1:
                    if port and taken:
                        raise self.ERROR("%s: port %d stayed taken by another process over %d tries (%.1fs); "
                                         "its holder: %s\n%s" % (what, port, tries, sum(self.PORT_RETRY_PAUSES),
                                                                 _port_holder(port), self.log_tail()))
                    raise

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
            _kill9(p)
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


def _port_holder(port):
    """What `ss` says holds TCP port on this machine (best effort)."""
    try:
        r = subprocess.run(["ss", "-Htanp", "sport = :%d" % port], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=10)
        return r.stdout.decode("utf-8", "replace").strip() or "(ss shows nothing now)"
    except (OSError, subprocess.TimeoutExpired) as e:
        return "(ss: %s)" % e


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
        m = self.spawn_on_port(self.port, args, READY_RE, timeout, "broker")
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

SKIP_CODE = 77      # the exit code of a file that skipped something and failed nothing (ctest's SKIP_RETURN_CODE)

_counts = {"checks": 0}
# every run_tests() of this process: tests selected, passed, failed, skipped
_runs = {"runs": 0, "selected": 0, "passed": 0, "failed": 0, "skipped": 0, "names": []}
_skips = []         # (test name, reason) of every skipped test


class Skip(SystemExit):
    """skip(reason) raises it. run_tests() counts the test as skipped; raised
    outside a test (a file's setup), nothing catches it and, being a
    SystemExit, it ends the process with code 77 through the finally blocks
    and atexit hooks that stop every child. `except Exception` does not
    catch it, so a skip is never mistaken for a failure to retry."""

    def __init__(self, reason):
        super().__init__(SKIP_CODE)
        self.reason = reason


def skip(reason):
    """This test (or this file, before run_tests) cannot check what it is
    for on this machine: say why and stop it. Never green in CI."""
    print("SKIP: %s" % reason, flush=True)
    raise Skip(reason)


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
    """Run each test function; print a summary line; return the exit code.

    brokers: Broker objects whose log tail is printed when a test fails.
    Set SAMSA_TEST_ONLY=name to run one test. A test that raises Skip
    (skip()) is skipped; one that returns without a check() fails.
    Returns verdict(): 1 on a failure or when no test ran, 77 when a test
    skipped, else 0, over every run_tests() of this process (a file that
    calls it more than once ends with sys.exit(harness.verdict()))."""
    only = os.environ.get("SAMSA_TEST_ONLY")
    passed = failed = skipped = selected = 0
    skips = []
    t_all = time.monotonic()
    c_all = _counts["checks"]
    _runs["runs"] += 1
    _runs["names"] += [t.__name__ for t in tests]
    for t in tests:
        if only and t.__name__ != only:
            continue
        selected += 1
        print("--- %s" % t.__name__, flush=True)
        t0 = time.monotonic()
        c0 = _counts["checks"]
        try:
            t()
        except Skip as e:
            skipped += 1
            skips.append((t.__name__, e.reason))
            print("SKIPPED %s (%.2fs, %d checks before it): %s"
                  % (t.__name__, time.monotonic() - t0, _counts["checks"] - c0, e.reason), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s (%.2fs)" % (t.__name__, time.monotonic() - t0), flush=True)
            traceback.print_exc(file=sys.stdout)
            for b in brokers:
                print("broker %s (pid %s, alive %s) log tail:\n%s"
                      % (b.name, b.pid, b.alive(), b.log_tail()), flush=True)
        else:
            if _counts["checks"] == c0:
                failed += 1
                print("FAIL %s (%.2fs): it passed without making a single check" % (t.__name__, time.monotonic() - t0),
                      flush=True)
            else:
                passed += 1
                print("PASS %s (%.2fs)" % (t.__name__, time.monotonic() - t0), flush=True)
    _runs["selected"] += selected
    _runs["passed"] += passed
    _runs["failed"] += failed
    _runs["skipped"] += skipped
    _skips.extend(skips)
    print("%d checks in %.1fs" % (_counts["checks"] - c_all, time.monotonic() - t_all))
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped), flush=True)
    if not selected:    # a failure unless another run_tests() of this file runs one (verdict())
        print("no test selected here%s of: %s" % (" (SAMSA_TEST_ONLY=%s)" % only if only else "",
                                                   ", ".join(t.__name__ for t in tests) or "(an empty list)"),
              flush=True)
    for name, reason in skips:
        print("SKIPPED %s: %s" % (name, reason), flush=True)
    return verdict(say=False)


def verdict(say=True):
    """The exit code of everything run_tests() ran in this process: 1 when
    a test failed or none ran at all, 77 when one was skipped, else 0.
    say: print the totals and every skip's reason (for a file that called
    run_tests more than once)."""
    r = _runs
    if say and r["runs"] > 1:
        print("all %d runs: %d passed, %d failed, %d skipped" % (r["runs"], r["passed"], r["failed"], r["skipped"]),
              flush=True)
        for name, reason in _skips:
            print("SKIPPED %s: %s" % (name, reason), flush=True)
    if r["failed"]:
        return 1
    if not r["selected"]:
        if say:
            only = os.environ.get("SAMSA_TEST_ONLY")
            print("FAIL: no test ran%s" % (": SAMSA_TEST_ONLY=%s names none of %s" % (only, ", ".join(r["names"]))
                                           if only else ""), flush=True)
        return 1
    if r["skipped"]:
        return SKIP_CODE
    return 0


_unique_seq = itertools.count(1)


def unique(prefix):
    """A topic or group name unique to this run: the pid, the time and a
    counter (two calls in the same millisecond once gave the same name, and
    a test then joined the group of the one before it)."""
    return "%s-%d-%d-%d" % (prefix, os.getpid(), int(time.time() * 1000) % 100000000, next(_unique_seq))
