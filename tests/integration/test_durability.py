#!/usr/bin/python3
"""Durability: acks=all messages survive kill -9 of samsa-broker.

A confluent-kafka producer (acks=all, no retries, so nothing is ever written
twice) sends numbered messages without pause to three partitions and
records every message whose delivery report succeeded.  At a random moment
(random.Random(seed); the seed is printed, SAMSA_TEST_SEED=N replays it) the
broker gets SIGKILL, is restarted on the same data dir and port, and the
whole topic is read back from offset 0 to the high watermark:
  - every acknowledged message is there, at the offset its report gave,
  - offsets run 0..HW-1 without gaps,
  - each message body is intact (a CRC-32 inside the message covers it, and
    the consumer checks the batch CRCs), so no torn or partial record,
  - per partition, sequence numbers only go up (no loss reordering, no
    duplicates).
Repeated for several kill cycles, then once more after a clean SIGTERM stop.
Then the same with acks=1 and SIGTERM under load: a clean stop loses nothing
it acknowledged.

Usage: test_durability.py [--broker BIN] [--cycles N]
"""

import os
import random
import re
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check, check_eq, run_tests, unique, wait_for  # noqa: E402

import confluent_kafka as ck  # noqa: E402

PARTITIONS = 3
CYCLES = 4
for _i, _a in enumerate(sys.argv):
    if _a == "--cycles" and _i + 1 < len(sys.argv):
        CYCLES = int(sys.argv[_i + 1])

SEED = int(os.environ.get("SAMSA_TEST_SEED") or (time.time_ns() % 1000000007))
rng = random.Random(SEED)

# small segments so the kills also land around segment rolls
broker = Broker(overrides={"auto.create.topics.enable": "true", "num.partitions": PARTITIONS,
                           "log.segment.bytes": 262144},
                name="durability")

BODY_RE = re.compile(rb"^seq=(\d{10}) p=(\d+) pad=([a-z]*) crc=([0-9a-f]{8})$")


def body(seq, partition):
    pad = chr(97 + seq % 26) * ((seq * 7919) % 300)
    head = b"seq=%010d p=%d pad=%s" % (seq, partition, pad.encode())
    return head + b" crc=%08x" % zlib.crc32(head)


def parse(value):
    """(seq, partition) of an intact body, or None."""
    m = BODY_RE.match(value or b"")
    if not m:
        return None
    head = value[:value.rindex(b" crc=")]
    if zlib.crc32(head) != int(m.group(4), 16):
        return None
    return int(m.group(1)), int(m.group(2))


class Writer:
    """One producer thread; acked[(partition, offset)] = seq."""

    def __init__(self, topic, first_seq, acks="all"):
        self.topic = topic
        self.seq = first_seq
        self.acked = {}
        self.failed = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.producer = ck.Producer({
            "bootstrap.servers": broker.bootstrap,
            "acks": acks,
            "enable.idempotence": False,
            "message.send.max.retries": 0,      # a retry could write a message twice
            "linger.ms": 2,
            "queue.buffering.max.messages": 5000,
            "message.timeout.ms": 20000,
            "reconnect.backoff.ms": 20,
            "reconnect.backoff.max.ms": 200,
        })
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _report(self, err, msg):
        with self.lock:
            if err is None:
                self.acked[(msg.partition(), msg.offset())] = parse(msg.value())[0]
            else:
                self.failed += 1

    def _run(self):
        while not self.stop.is_set():
            p = self.seq % PARTITIONS
            try:
                self.producer.produce(self.topic, key=b"k%d" % (self.seq % 16), value=body(self.seq, p),
                                      partition=p, on_delivery=self._report)
                self.seq += 1
            except BufferError:
                self.producer.poll(0.02)
            self.producer.poll(0)

    def n_acked(self):
        with self.lock:
            return len(self.acked)


def read_all(topic):
    """{partition: [(offset, value)]} from offset 0 up to the end of each
    partition, and {partition: end offset}.  Explicit offsets and the fetch
    responses' high watermarks (partition EOF) only: no ListOffsets."""
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "itest-durability-assign",
                     "enable.auto.commit": False, "auto.offset.reset": "error", "check.crcs": True,
                     "enable.partition.eof": True, "fetch.wait.max.ms": 50})
    try:
        c.assign([ck.TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        got = {p: [] for p in range(PARTITIONS)}
        eof = {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if len(eof) == PARTITIONS and all(
                    eof[p] == (got[p][-1][0] + 1 if got[p] else 0) for p in range(PARTITIONS)):
                break
            for m in c.consume(1000, 0.2):
                if m.error():
                    if m.error().code() == ck.KafkaError._PARTITION_EOF:
                        eof[m.partition()] = m.offset()
                        continue
                    raise AssertionError("consumer error on %s [%s] at %s: %s"
                                         % (m.topic(), m.partition(), m.offset(), m.error()))
                got[m.partition()].append((m.offset(), m.value()))
        check(len(eof) == PARTITIONS, "read every partition to its end %s" % eof)
        return got, eof
    finally:
        c.close()


def verify(topic, acked, label):
    got, hw = read_all(topic)
    present = 0
    for p in range(PARTITIONS):
        msgs = got[p]
        check_eq([o for o, _ in msgs], list(range(hw[p])),
                 "%s: partition %d offsets are 0..%d without gaps" % (label, p, hw[p] - 1))
        bad = [(o, v[:60]) for o, v in msgs if parse(v) is None or parse(v)[1] != p]
        check_eq(bad[:3], [], "%s: partition %d: all %d bodies intact (CRC-32 inside each message)"
                 % (label, p, len(msgs)))
        seqs = [parse(v)[0] for _, v in msgs]
        back = [(i, seqs[i - 1], seqs[i]) for i in range(1, len(seqs)) if seqs[i] <= seqs[i - 1]]
        check_eq(back[:3], [], "%s: partition %d: sequence numbers strictly increase" % (label, p))
        by_off = dict(zip([o for o, _ in msgs], seqs))
        missing = [(p2, o, s) for (p2, o), s in acked.items() if p2 == p and by_off.get(o) != s]
        check_eq(missing[:3], [], "%s: partition %d: each of %d acknowledged messages is at its acked offset"
                 % (label, p, sum(1 for (p2, _o) in acked if p2 == p)))
        present += len(msgs)
    return present


def test_kill9_cycles():
    topic = unique("durable")     # auto-created (num.partitions) by the first produce
    acked = {}
    seq = 0
    failed = 0
    for cycle in range(1, CYCLES + 1):
        w = Writer(topic, seq)
        w.thread.start()
        try:
            wait_for(lambda: w.n_acked() >= 100, 60, "100 acknowledged messages in cycle %d" % cycle)
            delay = rng.uniform(0.05, 1.5)
            # the random kill moment is the point of this test: a sleep, not a wait
            time.sleep(delay)
            before = w.n_acked()
            broker.kill9()
            print("  cycle %d: kill -9 %.3fs after the 100th ack (%d acked, seq %d sent so far)"
                  % (cycle, delay, before, w.seq), flush=True)
        finally:
            w.stop.set()
            w.thread.join(10)
        t0 = time.monotonic()
        broker.restart()
        print("  cycle %d: broker restarted in %.2fs on %s" % (cycle, time.monotonic() - t0, broker.bootstrap))
        left = w.producer.flush(30)
        check_eq(left, 0, "cycle %d: every message got a delivery report" % cycle)
        with w.lock:
            twice = [k for k in w.acked if k in acked]
            check_eq(twice[:3], [], "cycle %d: no (partition, offset) acknowledged in an earlier cycle again"
                     % cycle)
            acked.update(w.acked)
            failed += w.failed
        seq = w.seq
        present = verify(topic, acked, "after kill %d" % cycle)
        print("  cycle %d: %d sent, %d acknowledged, %d failed (unacknowledged), %d present"
              % (cycle, seq, len(acked), failed, present), flush=True)
        check(present >= len(acked), "cycle %d: at least every acknowledged message present" % cycle)
    code = broker.stop()
    check_eq(code, 0, "clean SIGTERM stop exits 0")
    broker.start()
    verify(topic, acked, "after clean restart")
    # the broker still takes writes after all that
    w = Writer(topic, seq)
    w.thread.start()
    try:
        wait_for(lambda: w.n_acked() >= 50, 60, "50 more acknowledged messages")
    finally:
        w.stop.set()
        w.thread.join(10)
    check_eq(w.producer.flush(30), 0, "the last producer flushed")
    acked.update(w.acked)
    check_eq(w.failed, 0, "no failed deliveries without a kill")
    verify(topic, acked, "final")


def test_sigterm_under_load():
    """A clean stop answers or drops in-flight requests but loses nothing it
    acknowledged, even with acks=1 (answered before fsync)."""
    topic = unique("sigterm")
    acked = {}
    seq = 0
    for cycle in (1, 2):
        w = Writer(topic, seq, acks="1")
        w.thread.start()
        try:
            wait_for(lambda: w.n_acked() >= 100, 60, "100 acknowledged messages (acks=1)")
            time.sleep(rng.uniform(0.05, 0.5))    # a random moment, on purpose
            code = broker.stop()
        finally:
            w.stop.set()
            w.thread.join(10)
        check_eq(code, 0, "SIGTERM under acks=1 load, round %d: exit 0" % cycle)
        broker.restart()
        check_eq(w.producer.flush(30), 0, "round %d: every message got a delivery report" % cycle)
        acked.update(w.acked)
        seq = w.seq
        present = verify(topic, acked, "after SIGTERM %d" % cycle)
        print("  round %d: %d sent, %d acknowledged (acks=1), %d present" % (cycle, seq, len(acked), present))


def main():
    print("seed %d (replay with SAMSA_TEST_SEED=%d), %d kill cycles" % (SEED, SEED, CYCLES), flush=True)
    try:
        broker.start()
        print("broker pid %d on %s" % (broker.pid, broker.bootstrap), flush=True)
        rc = run_tests([test_kill9_cycles, test_sigterm_under_load], [broker])
        return broker.finish(rc)
    finally:
        broker.cleanup()


if __name__ == "__main__":
    sys.exit(main())
