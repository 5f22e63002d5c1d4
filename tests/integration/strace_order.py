"""The order of a running broker's system calls, read with strace.

Tracer(broker, path, poke) attaches `strace -f -yy` to the broker (every
thread: the event loop writes and answers, the flusher fsyncs), waits until
the trace shows an answer to poke() (so it really is attached), and on
exit detaches with SIGINT; the broker runs on. injects: strace `-e inject=`
specs (a failing or slow fdatasync, say) in force while it is attached. calls() parses the trace
into Call records, in the order strace saw them: a call's `start` is the
index of the line where it entered, `end` the index of the line where it
returned (the "<... resumed>" line when another thread's call came in
between). Since a thread stopped in a traced call cannot go on before
strace has recorded it, "A.end < B.start" means A returned before B began
whenever B depends on A (the flusher's eventfd write wakes the loop that
answers).

When strace is missing or cannot attach (ptrace forbidden), the test
cannot check anything: cannot_check() then skips the test the harness's
way if it has one (harness.skip), and otherwise fails it with the reason.
It never passes.

Used by test_durable_order.py (produce and offset commits answered after
the data's fsync).
"""

import os
import re
import shutil
import signal
import subprocess

import harness

SYSCALLS = "pwrite64,pwritev,write,writev,fsync,fdatasync,sendmsg,sendto"
WRITES = ("pwrite64", "pwritev", "write", "writev")
SYNCS = ("fsync", "fdatasync")
SENDS = ("write", "writev", "sendmsg", "sendto")

_START = re.compile(r"^(\d+)\s+(\w+)\((.*)$")
_RESUMED = re.compile(r"^(\d+)\s+<\.\.\. (\w+) resumed>(.*)$")
_FD = re.compile(r"^(\d+)<(.*?)>(?=[,) ])")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"(?:\.\.\.)?')
_RESULT = re.compile(r"\)\s+=\s+(-?\d+)")


def cannot_check(reason):
    """The test cannot check what it is for: skip (harness.skip, when the
    harness has it) or fail; never pass."""
    skip = getattr(harness, "skip", None)
    if skip is not None:
        skip(reason)
    raise AssertionError("cannot check: %s (install strace and allow ptrace: scripts/deps.sh test)" % reason)


class Call:
    """One system call of the trace."""

    def __init__(self, tid, name, args, start):
        self.tid = tid
        self.name = name
        self.args = args          # the argument text as strace printed it (maybe cut short)
        self.start = start        # line index where it entered
        self.end = None           # line index where it returned (None: still running when traced)
        self.result = None
        m = _FD.match(args)
        self.fd = int(m.group(1)) if m else None
        self.path = m.group(2) if m else ""   # -yy: a file's path, or TCP:[local->peer]

    def finish(self, index, rest):
        self.end = index
        m = _RESULT.search(rest)
        self.result = int(m.group(1)) if m else None

    def int_arg(self, n):
        """The n-th argument (0-based) as an integer, or None."""
        args = _QUOTED.sub("S", self.args.split(" <unfinished")[0])
        args = args[:args.rfind(")")] if ")" in args else args
        parts = [p.strip() for p in args.split(", ")]
        try:
            return int(parts[n])
        except (IndexError, ValueError):
            return None

    def __repr__(self):
        return "%s %s(%s) lines %s-%s = %s" % (self.tid, self.name, self.path or self.fd, self.start, self.end,
                                               self.result)


def parse(lines):
    """Call records of strace -f output lines, in order of entry."""
    calls = []
    open_by_tid = {}
    for i, line in enumerate(lines):
        m = _RESUMED.match(line)
        if m:
            c = open_by_tid.pop(m.group(1), None)
            if c is not None and c.name == m.group(2):
                c.finish(i, m.group(3))
            continue
        m = _START.match(line)
        if not m:
            continue     # signals, exits
        c = Call(m.group(1), m.group(2), m.group(3), i)
        calls.append(c)
        if line.rstrip().endswith("<unfinished ...>"):
            open_by_tid[c.tid] = c
        else:
            c.finish(i, m.group(3))
    return calls


class Tracer:
    """strace attached to broker for the time of a with block. poke() must
    make the broker answer something on a socket (any request)."""

    def __init__(self, broker, path, poke, injects=()):
        self.broker = broker
        self.path = path
        self.poke = poke
        self.injects = list(injects)   # strace -e inject=... specs: faults or delays on purpose
        self.proc = None

    def __enter__(self):
        strace = shutil.which("strace")
        if not strace:
            cannot_check("no strace on this machine")
        if os.path.exists(self.path):
            os.unlink(self.path)
        inject = sum((["-e", "inject=" + i] for i in self.injects), [])
        self.proc = subprocess.Popen([strace, "-f", "-yy", "-qq", "-e", "trace=" + SYSCALLS, "-o", self.path]
                                     + inject + ["-p", str(self.broker.pid)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     preexec_fn=harness._die_with_parent)

        # attached once an answer to a request shows up in the trace
        def attached():
            if self.proc.poll() is not None:
                return "exited"
            self.poke()
            try:
                with open(self.path, "rb") as f:
                    return "TCP:[" in f.read().decode("utf-8", "replace") and "yes"
            except FileNotFoundError:
                return None
        try:
            state = harness.wait_for(attached, 20, "strace to attach to the broker (pid %d)" % self.broker.pid)
        except AssertionError:
            self._detach()
            cannot_check("strace did not attach to the broker within 20 s")
        if state == "exited":
            err = self.proc.stderr.read().decode("utf-8", "replace").strip()
            self.proc = None
            cannot_check("strace could not attach to the broker: %s" % err[:300])
        return self

    def _detach(self):
        p, self.proc = self.proc, None
        if p is None:
            return
        if p.poll() is None:
            p.send_signal(signal.SIGINT)      # detaches; the broker goes on
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        p.stderr.close()

    def __exit__(self, *exc):
        self._detach()
        return False

    def calls(self):
        with open(self.path, "rb") as f:
            return parse(f.read().decode("utf-8", "replace").splitlines())


# -- questions about a trace ------------------------------------------------------------------


def socket_writes(calls, client_port):
    """Writes to the broker's socket whose peer is 127.0.0.1:client_port
    (the answers to that client), in order."""
    peer = "->127.0.0.1:%d]" % client_port
    return [c for c in calls if c.name in SENDS and c.path.startswith("TCP:[") and c.path.endswith(peer)]


def answer_writes(calls, client_port, sizes):
    """For answers of the given sizes (whole frames, length prefix
    included) sent in order to 127.0.0.1:client_port: the socket write
    that carried each one's first byte (the broker may put several answers
    in one writev, or one answer in several writes)."""
    out = []
    writes = [w for w in socket_writes(calls, client_port) if w.result is not None and w.result > 0]
    done = 0          # bytes the writes so far carried
    wi = 0
    start = 0         # first byte of the next answer
    for n in sizes:
        while wi < len(writes) and done + writes[wi].result <= start:
            done += writes[wi].result
            wi += 1
        out.append(writes[wi] if wi < len(writes) else None)
        start += n
    return out


def file_writes(calls, path_test):
    """Completed, successful writes to files whose path passes path_test."""
    return [c for c in calls if c.name in WRITES and not c.path.startswith("TCP:[") and path_test(c.path)
            and c.end is not None and c.result is not None and c.result > 0]


def file_syncs(calls, path_test):
    """Completed, successful fsync/fdatasync of files whose path passes path_test."""
    return [c for c in calls if c.name in SYNCS and path_test(c.path) and c.end is not None and c.result == 0]


def synced_before(calls, write, path_test, answer):
    """The first successful fsync/fdatasync of a file passing path_test
    that began after `write` returned and returned before `answer` began;
    or None."""
    for s in file_syncs(calls, path_test):
        if s.start > write.end and s.end < answer.start:
            return s
    return None
