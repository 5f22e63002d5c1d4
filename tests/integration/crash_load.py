"""Load and checks shared by the crash tests: test_kill_loop.py (kill -9),
tests/powerloss/test_power_loss.py (kill -9 and a power cut on lossyfs) and
tests/soak/kill_loop.py (the long kill loop).

  Writer     one confluent-kafka producer thread sending numbered, self-
             checking records (acks=all; idempotent, or without retries so
             nothing is ever written twice), recording each acknowledged
             (partition, offset) -> sequence number
  Committer  one thread committing ever larger offsets for a consumer
             group (OffsetCommit of a simple consumer, synchronous),
             recording each acknowledged value
  Ledger     every acknowledgement of every cycle, and what a read-back
             found: verify() reads partitions back and checks that every
             acknowledged record is at its offset, offsets run without gaps,
             every body is intact, sequence numbers only go up (no
             duplicate, no reordering), no offset is acknowledged twice;
             verify_commits() that the committed offsets are the last
             acknowledged (or a later one a cut cut off)

Counting, not only checking: a Ledger keeps the totals (acknowledged,
lost, duplicated, present) that the soak writes to its results file.
"""

import re
import threading
import time
import zlib

from harness import check, check_eq, wait_for

import confluent_kafka as ck
import confluent_kafka.admin  # noqa: F401 (ck.admin)

BODY_RE = re.compile(rb"^([a-z]+) seq=(\d{10}) p=(\d+) pad=([a-z]*) crc=([0-9a-f]{8})$")


def body(tag, seq, partition):
    pad = chr(97 + seq % 26) * ((seq * 7919) % 300)
    head = b"%s seq=%010d p=%d pad=%s" % (tag.encode(), seq, partition, pad.encode())
    return head + b" crc=%08x" % zlib.crc32(head)


def parse(value):
    """(tag, seq, partition) of an intact body, or None."""
    m = BODY_RE.match(value or b"")
    if not m:
        return None
    head = value[:value.rindex(b" crc=")]
    if zlib.crc32(head) != int(m.group(5), 16):
        return None
    return m.group(1).decode(), int(m.group(2)), int(m.group(3))


class Writer:
    """One producer thread on one topic; acked[(partition, offset)] = seq.
    Sequence numbers go round the partitions (seq % partitions), so per
    partition they only go up."""

    def __init__(self, bootstrap, topic, partitions, first_seq, idempotent, acks="all"):
        self.topic = topic
        self.partitions = partitions
        self.tag = "idem" if idempotent else "plain"
        self.seq = first_seq
        self.acked = {}
        self.failed = 0
        self.errors = {}
        self.stop = threading.Event()
        self.lock = threading.Lock()
        conf = {
            "bootstrap.servers": bootstrap,
            "acks": acks,
            "linger.ms": 2,
            "queue.buffering.max.messages": 5000,
            "message.timeout.ms": 60000,
            "reconnect.backoff.ms": 20,
            "reconnect.backoff.max.ms": 200,
            "log.connection.close": False,      # the kills close connections by the hundred
        }
        if idempotent:
            conf["enable.idempotence"] = True     # retries kept: the broker drops the duplicates
        else:
            conf["enable.idempotence"] = False
            conf["message.send.max.retries"] = 0  # a retry could write a message twice
        self.producer = ck.Producer(conf)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _report(self, err, msg):
        with self.lock:
            if err is None:
                self.acked[(msg.partition(), msg.offset())] = parse(msg.value())[1]
            else:
                self.failed += 1
                self.errors[err.name()] = self.errors.get(err.name(), 0) + 1

    def _run(self):
        while not self.stop.is_set():
            p = self.seq % self.partitions
            try:
                self.producer.produce(self.topic, key=b"k%d" % (self.seq % 16), value=body(self.tag, self.seq, p),
                                      partition=p, on_delivery=self._report)
                self.seq += 1
            except BufferError:
                self.producer.poll(0.02)
            self.producer.poll(0)

    def start(self):
        self.thread.start()
        return self

    def n_acked(self):
        with self.lock:
            return len(self.acked)

    def halt(self):
        """Stop producing (what is queued stays queued)."""
        self.stop.set()
        self.thread.join(30)
        check(not self.thread.is_alive(), "%s producer thread stopped" % self.tag)

    def finish(self, timeout=90):
        """Delivery reports for everything sent (call after halt()).
        Returns the number of messages still without one."""
        return self.producer.flush(timeout)


class Committer:
    """Commits offsets 1, 2, 3, ... for every partition of a topic in one
    synchronous OffsetCommit each, as a simple consumer of `group`;
    acked = the last value the broker acknowledged, attempted = every value
    sent (one whose answer a kill cut off may still be what is stored)."""

    def __init__(self, bootstrap, group, topic, partitions, first=1):
        self.group = group
        self.topic = topic
        self.partitions = partitions
        self.value = first
        self.acked = None
        self.n_acked = 0
        self.attempted = set()
        self.failed = 0
        self.stop = threading.Event()
        self.consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                                     "enable.auto.commit": False, "reconnect.backoff.ms": 20,
                                     "reconnect.backoff.max.ms": 200, "log.connection.close": False})
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.is_set():
            v = self.value
            self.attempted.add(v)
            try:
                res = self.consumer.commit(offsets=[ck.TopicPartition(self.topic, p, v)
                                                    for p in range(self.partitions)], asynchronous=False)
                if all(tp.error is None for tp in res):
                    self.acked = v
                    self.n_acked += 1
                else:
                    self.failed += 1
            except ck.KafkaException:
                self.failed += 1
                self.stop.wait(0.05)    # a backoff while the broker is down, not a wait for an event
            self.value += 1

    def start(self):
        self.thread.start()
        return self

    def halt(self, timeout=120):
        """Stop after the commit in flight (which may wait for the broker
        to come back) and close the consumer."""
        self.stop.set()
        self.thread.join(timeout)
        check(not self.thread.is_alive(), "committer thread stopped (its last commit answered)")
        self.consumer.close()


def committed(bootstrap, group, topic, partitions):
    """{partition: committed offset} as OffsetFetch answers it now."""
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        got = c.committed([ck.TopicPartition(topic, p) for p in range(partitions)], timeout=30)
        return {tp.partition: tp.offset for tp in got}
    finally:
        c.close()


def read_from(bootstrap, topic, start):
    """{partition: [(offset, value)]} from start[partition] up to the end,
    and {partition: end offset}: explicit offsets and the fetch responses'
    high watermarks (partition EOF) only."""
    parts = sorted(start)
    md = ck.admin.AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=30)
    t = md.topics.get(topic)
    check(t is not None and t.error is None and len(t.partitions) == len(parts),
          "%s: the topic is there with its %d partitions" % (topic, len(parts)),
          "metadata says %s" % (t.error if t else "nothing"))
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "crash-load-reader",
                     "enable.auto.commit": False, "auto.offset.reset": "error", "check.crcs": True,
                     "enable.partition.eof": True, "fetch.wait.max.ms": 50})
    try:
        c.assign([ck.TopicPartition(topic, p, start[p]) for p in parts])
        got = {p: [] for p in parts}
        eof = {}
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if len(eof) == len(parts) and all(
                    eof[p] == (got[p][-1][0] + 1 if got[p] else start[p]) for p in parts):
                break
            for m in c.consume(1000, 0.2):
                if m.error():
                    if m.error().code() == ck.KafkaError._PARTITION_EOF:
                        eof[m.partition()] = m.offset()
                        continue
                    raise AssertionError("consumer error on %s [%s] at %s: %s"
                                         % (m.topic(), m.partition(), m.offset(), m.error()))
                got[m.partition()].append((m.offset(), m.value()))
        check(len(eof) == len(parts), "%s: read every partition to its end %s" % (topic, eof))
        return got, eof
    finally:
        c.close()


class Ledger:
    """Everything acknowledged on one topic over all cycles, and what the
    read-backs found. verify() reads from where the last verify ended (or
    from 0 with full=True), so a long loop does not re-read everything each
    cycle; the last seq per partition carries over."""

    def __init__(self, topic, partitions, tag):
        self.topic = topic
        self.partitions = partitions
        self.tag = tag
        self.acked = {}             # (partition, offset) -> seq
        self.verified_end = {p: 0 for p in range(partitions)}
        self.last_seq = {p: -1 for p in range(partitions)}
        self.lost = 0               # acknowledged, not at its offset
        self.duplicated = 0         # a seq read twice (or going back)
        self.reused = 0             # an offset acknowledged in two cycles
        self.present = 0
        self.failed = 0

    def add(self, writer, label):
        """Take a finished Writer's acknowledgements."""
        with writer.lock:
            twice = [k for k in writer.acked if k in self.acked]
            self.reused += len(twice)
            check_eq(twice[:3], [], "%s: %s: no (partition, offset) acknowledged in an earlier cycle again"
                     % (label, self.topic))
            self.acked.update(writer.acked)
            self.failed += writer.failed

    def verify(self, bootstrap, label, full=False):
        start = {p: 0 for p in range(self.partitions)} if full else dict(self.verified_end)
        got, hw = read_from(bootstrap, self.topic, start)
        for p in range(self.partitions):
            msgs = got[p]
            check(hw[p] >= self.verified_end[p],
                  "%s: %s[%d]: the end (%d) not below what an earlier read found (%d)"
                  % (label, self.tag, p, hw[p], self.verified_end[p]))
            check_eq([o for o, _ in msgs], list(range(start[p], hw[p])),
                     "%s: %s[%d]: offsets %d..%d without gaps" % (label, self.tag, p, start[p], hw[p] - 1))
            bad = [(o, v[:60]) for o, v in msgs if parse(v) is None or parse(v)[2] != p]
            check_eq(bad[:3], [], "%s: %s[%d]: %d bodies intact (CRC-32 inside each)" % (label, self.tag, p, len(msgs)))
            seqs = [parse(v)[1] for _, v in msgs]
            prev = -1 if full else self.last_seq[p]
            back = []
            for (o, _), s in zip(msgs, seqs):
                if s <= prev:
                    back.append((o, prev, s))
                prev = s
            if not full:
                self.duplicated += len(back)
            check_eq(back[:3], [], "%s: %s[%d]: sequence numbers strictly increase (no duplicate, no reordering)"
                     % (label, self.tag, p))
            by_off = dict(zip([o for o, _ in msgs], seqs))
            mine = [(o, s) for (p2, o), s in self.acked.items() if p2 == p and o >= start[p]]
            missing = [(o, s, by_off.get(o)) for o, s in mine if by_off.get(o) != s]
            if not full:
                self.lost += len(missing)
            check_eq(missing[:3], [], "%s: %s[%d]: each of %d acknowledged records at its offset"
                     % (label, self.tag, p, len(mine)))
            self.verified_end[p] = hw[p]
            if seqs:
                self.last_seq[p] = seqs[-1]
        self.present = sum(self.verified_end.values())
        return self.present


def verify_commits(bootstrap, committer, label):
    """After the committer stopped: each partition's committed offset is the
    last acknowledged commit or a later attempt (the kill may have cut off
    its answer), never an older one."""
    now = committed(bootstrap, committer.group, committer.topic, committer.partitions)
    if committer.acked is None:
        ok = all(v < 0 or v in committer.attempted for v in now.values())
        check(ok, "%s: no commit acknowledged; what is stored (%s) was attempted" % (label, now))
        return now
    later = {v for v in committer.attempted if v >= committer.acked}
    bad = {p: v for p, v in now.items() if v not in later}
    check_eq(bad, {}, "%s: every partition's committed offset is the last acknowledged (%d) or a later attempt "
                      "(up to %d)" % (label, committer.acked, max(committer.attempted)))
    return now


def wait_acked(writers, committer, n, timeout, label):
    wait_for(lambda: all(w.n_acked() >= n for w in writers) and (committer is None or committer.n_acked >= 5),
             timeout, "%s: %d acknowledged records per producer and 5 acknowledged commits" % (label, n))
