#!/usr/bin/python3
"""One consumer group member in its own process, for the group tests.

  group_member.py --client ck|kp --bootstrap H:P --group G --topic T
                  --partitions N --out FILE [--assignor roundrobin]
                  [--session-ms MS] [--heartbeat-ms MS] [--commit-every N]
                  [--client-id ID]

--client ck is confluent-kafka (librdkafka), kp is kafka-python.  The
member subscribes to T and consumes; it commits (synchronously) the
positions of what it consumed every --commit-every messages, whenever a
poll comes back empty, and before it gives partitions up in a rebalance.

It records what it does in FILE as JSON lines, each written with one
write(2) on an O_APPEND descriptor, so every line it wrote survives a
kill -9 of this process (the test reads the file afterwards):
  {"ev": "start", "pid": P, "t": T}
  {"ev": "assign", "parts": [...], "t": T}    its whole assignment after a change
  {"ev": "msg", "p": P, "o": O, "v": "...", "t": T}
  {"ev": "commit", "offsets": {"P": O, ...}, "t": T}   written after the commit is acknowledged
  {"ev": "commit_error", "error": "...", "t": T}
  {"ev": "committed", "offsets": {"P": O, ...}}   answer to the "committed" command
  {"ev": "stopped", "t": T}
t is time.monotonic() (CLOCK_MONOTONIC, comparable across processes).
Commands, one per line on stdin: "committed" (OffsetFetch of all N
partitions), "stop" (commit, leave the group, exit 0).

MemberProcess is the test's side: it starts this script (or the kafkajs
twin, js/group_member.js) with PR_SET_PDEATHSIG, reads the record back, and
stops or kills the process by its pid.
"""

import argparse
import atexit
import json
import os
import select
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", choices=("ck", "kp"), required=True)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--partitions", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--assignor", default="roundrobin")
    ap.add_argument("--session-ms", type=int, default=6000)
    ap.add_argument("--heartbeat-ms", type=int, default=500)
    ap.add_argument("--commit-every", type=int, default=10)
    ap.add_argument("--client-id", default=None)
    o = ap.parse_args()
    fd = os.open(o.out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def record(**ev):
        ev.setdefault("t", time.monotonic())
        os.write(fd, (json.dumps(ev, sort_keys=True) + "\n").encode())

    record(ev="start", pid=os.getpid(), client=o.client)
    member = (CkMember if o.client == "ck" else KpMember)(o, record)
    stdin_open = True
    try:
        while True:
            if stdin_open and select.select([sys.stdin], [], [], 0)[0]:
                line = sys.stdin.readline()
                if not line:
                    stdin_open = False      # the test went away: PR_SET_PDEATHSIG ends us
                elif line.strip() == "committed":
                    record(ev="committed", offsets=member.committed())
                elif line.strip() == "stop":
                    break
            member.poll_once()
    finally:
        member.close()
        record(ev="stopped")
        os.close(fd)
    return 0


class Base:
    def __init__(self, o, record):
        self.o = o
        self.record = record
        self.pending = {}        # partition -> next offset, consumed and not yet committed
        self.since_commit = 0

    def got(self, p, off, value):
        self.record(ev="msg", p=p, o=off, v=value.decode("utf-8", "replace") if value is not None else None)
        self.pending[p] = off + 1
        self.since_commit += 1
        if self.since_commit >= self.o.commit_every:
            self.commit()

    def commit(self, only=None):
        offs = {p: v for p, v in self.pending.items() if only is None or p in only}
        if not offs:
            return
        try:
            self.commit_offsets(offs)
        except Exception as e:      # recorded; the test decides what it means
            self.record(ev="commit_error", error=str(e), offsets={str(p): v for p, v in offs.items()})
            return
        self.record(ev="commit", offsets={str(p): v for p, v in offs.items()})
        for p in offs:
            if self.pending.get(p) == offs[p]:
                del self.pending[p]
        self.since_commit = 0


class CkMember(Base):
    def __init__(self, o, record):
        super().__init__(o, record)
        import confluent_kafka as ck
        self.ck = ck
        self.assigned = set()
        self.c = ck.Consumer({
            "bootstrap.servers": o.bootstrap, "group.id": o.group, "client.id": o.client_id or "itest-member-ck",
            "partition.assignment.strategy": o.assignor, "session.timeout.ms": o.session_ms,
            "heartbeat.interval.ms": o.heartbeat_ms, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "fetch.wait.max.ms": 50})
        self.c.subscribe([o.topic], on_assign=self.on_assign, on_revoke=self.on_revoke, on_lost=self.on_lost)

    def on_assign(self, c, parts):
        self.assigned = {tp.partition for tp in parts}
        self.record(ev="assign", parts=sorted(self.assigned))

    def on_revoke(self, c, parts):
        self.commit(only={tp.partition for tp in parts})
        self.assigned -= {tp.partition for tp in parts}
        self.record(ev="assign", parts=sorted(self.assigned))

    def on_lost(self, c, parts):
        # the coordinator no longer knows us: those positions are not ours to commit
        lost = {tp.partition for tp in parts}
        self.assigned -= lost
        for p in lost:
            self.pending.pop(p, None)
        self.record(ev="assign", parts=sorted(self.assigned), lost=sorted(lost))

    def commit_offsets(self, offs):
        res = self.c.commit(offsets=[self.ck.TopicPartition(self.o.topic, p, v) for p, v in offs.items()],
                            asynchronous=False)
        bad = [(tp.partition, str(tp.error)) for tp in res or [] if tp.error]
        if bad:
            raise RuntimeError("commit errors %s" % bad)

    def poll_once(self):
        m = self.c.poll(0.05)
        if m is None:
            self.commit()
        elif not m.error():
            self.got(m.partition(), m.offset(), m.value())

    def committed(self):
        tps = self.c.committed([self.ck.TopicPartition(self.o.topic, p) for p in range(self.o.partitions)], timeout=10)
        return {str(tp.partition): tp.offset for tp in tps}

    def close(self):
        self.commit()
        self.c.close()


class KpMember(Base):
    def __init__(self, o, record):
        super().__init__(o, record)
        import kafka
        from kafka.coordinator.assignors.range import RangePartitionAssignor
        from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
        self.kafka = kafka
        self.assigned = set()
        assignor = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}[o.assignor]
        self.c = kafka.KafkaConsumer(
            bootstrap_servers=o.bootstrap, group_id=o.group, client_id=o.client_id or "itest-member-kp",
            partition_assignment_strategy=[assignor], session_timeout_ms=o.session_ms,
            heartbeat_interval_ms=o.heartbeat_ms, enable_auto_commit=False, auto_offset_reset="earliest",
            fetch_max_wait_ms=50)
        member = self

        class Listener(kafka.ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                member.commit(only={tp.partition for tp in revoked})
                member.assigned -= {tp.partition for tp in revoked}
                member.record(ev="assign", parts=sorted(member.assigned))

            def on_partitions_assigned(self, assigned):
                member.assigned = {tp.partition for tp in assigned}
                member.record(ev="assign", parts=sorted(member.assigned))

        self.c.subscribe([o.topic], listener=Listener())

    def commit_offsets(self, offs):
        from kafka.structs import OffsetAndMetadata, TopicPartition
        self.c.commit({TopicPartition(self.o.topic, p): OffsetAndMetadata(v, "") for p, v in offs.items()})

    def poll_once(self):
        batch = self.c.poll(timeout_ms=50)
        n = 0
        for tp, msgs in batch.items():
            for m in msgs:
                self.got(tp.partition, m.offset, m.value)
                n += 1
        if not n:
            self.commit()

    def committed(self):
        from kafka.structs import TopicPartition
        out = {}
        for p in range(self.o.partitions):
            v = self.c.committed(TopicPartition(self.o.topic, p))
            out[str(p)] = -1 if v is None else v
        return out

    def close(self):
        self.commit()
        self.c.close()


# -- the test's side ------------------------------------------------------------

_live = []      # MemberProcess objects whose process may be running


class MemberProcess:
    """A member process started by a test. kind: "ck", "kp" or "kafkajs"."""

    def __init__(self, kind, bootstrap, group, topic, partitions, out, assignor="roundrobin",
                 session_ms=6000, heartbeat_ms=500, commit_every=10, client_id=None, log=None):
        import harness
        self.kind = kind
        self.out = out
        self.client_id = client_id or "itest-member-%s" % kind
        if kind == "kafkajs":
            cmd = ["node", os.path.join(HERE, "js", "group_member.js"), bootstrap, group, topic, str(partitions),
                   out, assignor, self.client_id]
        else:
            cmd = [harness.PYTHON, os.path.join(HERE, "group_member.py"), "--client", kind, "--bootstrap", bootstrap,
                   "--group", group, "--topic", topic, "--partitions", str(partitions), "--out", out,
                   "--assignor", assignor, "--session-ms", str(session_ms), "--heartbeat-ms", str(heartbeat_ms),
                   "--commit-every", str(commit_every), "--client-id", self.client_id]
        self.log_path = log or out + ".log"
        logf = open(self.log_path, "ab")
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=logf, stderr=subprocess.STDOUT,
                                     close_fds=True, env=env, preexec_fn=harness._die_with_parent)
        logf.close()
        _live.append(self)

    @property
    def pid(self):
        return self.proc.pid

    def events(self):
        """The complete lines of the record, parsed."""
        try:
            with open(self.out, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return []
        lines = data.split(b"\n")[:-1]      # a last line without its newline is not whole yet
        return [json.loads(line) for line in lines]

    def assignment(self):
        """Its current partitions, from its last assign event (None before one)."""
        last = None
        for e in self.events():
            if e["ev"] == "assign":
                last = e["parts"]
        return last

    def command(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def kill9(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._forget()

    def stop(self, timeout=30):
        """Asks it to commit, leave and exit; kills it after timeout.
        Returns its exit code."""
        if self.proc.poll() is None:
            try:
                self.command("stop")
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._forget()
        return self.proc.returncode

    def log_tail(self, n=20):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join("  | " + l for l in f.read().decode("utf-8", "replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def _forget(self):
        if self in _live:
            _live.remove(self)
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass


def stop_all_members():
    """Kills every member process still running (the tests' finally)."""
    for m in list(_live):
        m.kill9()


atexit.register(stop_all_members)


if __name__ == "__main__":
    sys.exit(main())
