#!/usr/bin/python3
"""Bounded resources (issue 10 item 5): what one client can make the broker
hold, over raw frames (kafka_wire) and confluent-kafka.

test_auto_create_bound: one Metadata v4 request naming 5,000 new topics
  auto-creates topics only up to samsa.auto.create.max.partitions.per.request
  (100 by default, num.partitions=1: 100 topics); every other new topic is
  answered UNKNOWN_TOPIC_OR_PARTITION (3), as a Kafka broker answers a topic
  whose creation it has not finished; the broker logs it once; the next
  request creates the next 100; a Produce naming 150 new topics writes to
  the first 100 and answers the rest 3; a confluent-kafka producer sending
  to 250 new topics has every message delivered (its metadata retries
  create them); other clients are served throughout.
test_many_partitions_few_descriptors: the broker runs under `prlimit
  --nofile=256:256` (soft and hard, so it cannot raise it). 500 partitions
  (20 topics x 25) are created, 5 rounds of ~7 KB batches produced to every
  one (segment.bytes 16 KiB: 3 segments each, 1,500 segments, 4,500 segment
  files), the last round acks=all; 40 connections stay open and answered,
  40 more are opened beside them (up to 80 after the restarts: the limit
  leaves the broker room for 96); every record of every partition is
  fetched back exactly; then a
  clean restart and a kill -9 restart (recovery) under the same limit, and
  every record read again; the broker never logs "Too many open files".
  Before: CreateTopics refused the second topic (5 descriptors counted per
  partition), and an auto-created flood used up the descriptors.
test_queued_request_bytes: socket.request.max.bytes=32 MiB,
  queued.max.request.bytes=64 MiB. Eight connections each announce a 30 MiB
  Produce and send 16 MiB of it: two are read (60 MiB reserved), the others
  wait unread (the broker logs it); the broker's resident memory (VmRSS)
  grows by at most the 64 MiB plus 16 MiB, where it grew by the whole 128
  MiB before, and by no more than the 32 MiB that arrived (+ 8): memory is
  taken as bytes arrive; a confluent-kafka producer and consumer are served meanwhile;
  when the two that were read close, two waiting ones are read; when all
  are gone a 20 MiB request is read and answered.

Usage: test_resources.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import os
import re
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check, check_eq, run_tests, unique, wait_for  # noqa: E402
import kafka_wire as wire  # noqa: E402
from kafka_wire import Reader, array, i8, string  # noqa: E402

import confluent_kafka as ck  # noqa: E402

MiB = 1 << 20
AUTO_BOUND = 100            # samsa.auto.create.max.partitions.per.request's default
NOFILE = 256
TOPICS, PARTS, ROUNDS = 20, 25, 5
VALUE = 7000                # a batch of one ~7 KB record: two per 16 KiB segment
QUEUED = 64 * MiB
FRAME = 30 * MiB
SENT = 16 * MiB
ATTACKERS = 8
EMFILE_RE = re.compile(r"Too many open files|EMFILE")


class LimitedBroker(Broker):
    """A broker run under prlimit: RLIMIT_NOFILE soft = hard = nofile."""

    def __init__(self, nofile, **kw):
        super().__init__(**kw)
        self.nofile = nofile

    def spawn_on_port(self, port, args, *a, **kw):
        return super().spawn_on_port(port, ["prlimit", "--nofile=%d:%d" % (self.nofile, self.nofile), "--"]
                                     + args, *a, **kw)


auto = Broker(overrides={"num.partitions": 1}, name="auto-create")
fds = LimitedBroker(NOFILE, overrides={"auto.create.topics.enable": "false", "log.segment.bytes": 16384},
                    name="few-fds")
mem = Broker(overrides={"socket.request.max.bytes": 32 * MiB, "queued.max.request.bytes": QUEUED,
                        "auto.create.topics.enable": "true", "num.partitions": 1}, name="queued-bytes")
_corr = [9000]


def next_corr():
    _corr[0] += 1
    return _corr[0]


def metadata_v4(port, names):
    """Metadata v4 with allow_auto_topic_creation: {name: (error, npartitions)}."""
    r = wire.rpc(port, 3, 4, array([string(n) for n in names]) + i8(1), corr=next_corr(), timeout=120)
    r.i32()    # throttle
    r.array(lambda x: (x.i32(), x.string(), x.i32(), x.string()))
    r.string()
    r.i32()
    topics = r.array(lambda x: (x.i16(), x.string(), x.i8(),
                                x.array(lambda y: (y.i16(), y.i32(), y.i32(),
                                                   y.array(lambda z: z.i32()), y.array(lambda z: z.i32())))))
    if not r.at_end():
        raise AssertionError("Metadata v4 response: bytes left over")
    return {t[1]: (t[0], len(t[3])) for t in topics}


def api_versions_ok(s):
    corr = next_corr()
    if not wire.send(s, wire.frame(18, 0, corr, b"")):
        return False
    resp = wire.read_response(s, 20)
    return resp is not None and Reader(resp).i32() == corr


def round_trip(b, what):
    """A new confluent-kafka producer's message is acknowledged and read back."""
    topic = unique("health")
    value = ("after %s" % what).encode()
    reports = []
    p = ck.Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "message.timeout.ms": 20000})
    p.produce(topic, value=value, partition=0, on_delivery=lambda e, m: reports.append((e, m.offset())))
    left = p.flush(30)
    check(left == 0 and len(reports) == 1 and reports[0][0] is None,
          "%s: a confluent-kafka producer's message is acknowledged" % what, reports)
    c = ck.Consumer({"bootstrap.servers": b.bootstrap, "group.id": "itest-resources", "enable.auto.commit": False})
    try:
        c.assign([ck.TopicPartition(topic, 0, reports[0][1])])
        got = None
        deadline = time.monotonic() + 30
        while got is None and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                got = m.value()
        check_eq(got, value, "%s: and a consumer reads it back" % what)
    finally:
        c.close()


# -- auto-creation --------------------------------------------------------------


def test_auto_create_bound():
    prefix = unique("flood")
    names = ["%s-%04d" % (prefix, i) for i in range(5000)]
    t0 = time.monotonic()
    got = metadata_v4(auto.port, names)
    print("  MEASURED: a Metadata request naming 5000 new topics answered in %.2fs" % (time.monotonic() - t0))
    created = sorted(n for n, (e, np) in got.items() if e == 0)
    check_eq(len(got), 5000, "every one of the 5000 topics is answered")
    check_eq(len(created), AUTO_BOUND, "exactly %d of them were auto-created (1 partition each)" % AUTO_BOUND)
    check(all(got[n] == (0, 1) for n in created), "each created one is answered with its partition")
    check(all(e == 3 and np == 0 for n, (e, np) in got.items() if e != 0),
          "every other one is answered UNKNOWN_TOPIC_OR_PARTITION (3), no partitions",
          sorted({e for e, np in got.values()}))
    log = auto.log_text()
    check(log.count("samsa.auto.create.max.partitions.per.request") == 1,
          "the broker logs once that it stopped at samsa.auto.create.max.partitions.per.request")
    dirs = [d for d in os.listdir(auto.data_dir) if d.startswith(prefix)]
    check_eq(len(dirs), AUTO_BOUND, "%d partition directories on disk" % AUTO_BOUND)
    s = wire.connect(auto.port)
    try:
        check(api_versions_ok(s), "a new connection is served right after")
    finally:
        s.close()

    again = metadata_v4(auto.port, names)
    created2 = sorted(n for n, (e, np) in again.items() if e == 0)
    check_eq(len(created2), 2 * AUTO_BOUND, "the same request again: the first %d are there and %d more are "
                                             "created" % (AUTO_BOUND, AUTO_BOUND))
    check(set(created) < set(created2), "the earlier ones among them")

    # Produce auto-creates too (librdkafka's producer does it that way)
    prefix = unique("pflood")
    parts = {("%s-%03d" % (prefix, i), 0): wire.record_batch([(b"k", b"v%d" % i)]) for i in range(150)}
    corr = next_corr()
    resp = wire.roundtrip(auto.port, wire.produce_request(corr, parts, acks=1), timeout=120)
    res = wire.parse_produce(resp, corr)
    ok = sorted(t for (t, p), (e, base, lat) in res.items() if e == 0 and base == 0)
    refused = [t for (t, p), (e, base, lat) in res.items() if e == 3]
    check_eq((len(ok), len(refused)), (AUTO_BOUND, 150 - AUTO_BOUND),
             "a Produce naming 150 new topics: %d created and written at offset 0, %d answered 3"
             % (AUTO_BOUND, 150 - AUTO_BOUND))
    # a real client producing to 250 new topics gets there through its retries
    prefix = unique("lib")
    reports = []
    p = ck.Producer({"bootstrap.servers": auto.bootstrap, "acks": "all", "message.timeout.ms": 60000,
                     "linger.ms": 5})
    t0 = time.monotonic()
    for i in range(250):
        p.produce("%s-%03d" % (prefix, i), value=b"v", partition=0,
                  on_delivery=lambda e, m: reports.append((e, m.topic(), m.offset())))
    left = p.flush(90)
    print("  MEASURED: confluent-kafka delivered to 250 new topics in %.2fs" % (time.monotonic() - t0))
    check(left == 0 and len(reports) == 250 and all(e is None and off == 0 for e, _t, off in reports),
          "a confluent-kafka producer's messages to 250 new topics are all delivered at offset 0: its "
          "metadata retries created the topics 100 at a time",
          [r for r in reports if r[0] is not None][:3])
    round_trip(auto, "the auto-create floods")


# -- file descriptors -----------------------------------------------------------


def fetch_all(b, topics, what):
    """Reads every partition from offset 0 to its high watermark; checks
    the records are exactly the ROUNDS values produced."""
    want = {(t, p): 0 for t in topics for p in range(PARTS)}
    values = {tp: [] for tp in want}
    hws = {}
    rounds = 0
    while want:
        rounds += 1
        if rounds > 20 * ROUNDS:
            raise AssertionError("%s: fetching does not finish: %d partitions left" % (what, len(want)))
        by_topic = {}
        for (t, p), off in want.items():
            by_topic.setdefault(t, []).append((t, p, off, 64 * 1024))
        for t, wants in by_topic.items():
            corr = next_corr()
            r = wire.parse_fetch_v4(wire.roundtrip(b.port, wire.fetch_v4(corr, wants, max_bytes=4 * MiB),
                                                   timeout=60), corr)
            for (tt, p, off, _m) in wants:
                part = r[(tt, p)]
                if part["err"] != 0:
                    raise AssertionError("%s: fetch %s-%d at %d: error %d" % (what, tt, p, off, part["err"]))
                hws[(tt, p)] = part["hw"]
                bs, _partial = wire.batches(part["records"])
                for base, last, count, raw, crc_ok in bs:
                    if base < off:
                        continue
                    if not crc_ok or base != off:
                        raise AssertionError("%s: %s-%d: batch at %d (wanted %d), crc ok %s"
                                             % (what, tt, p, base, off, crc_ok))
                    values[(tt, p)].append(raw[-VALUE - 1:-1])
                    off = last + 1
                if off >= part["hw"]:
                    del want[(tt, p)]
                else:
                    want[(tt, p)] = off
    bad = [tp for tp, vs in values.items()
           if vs != [("%s-%d-%d" % (tp[0], tp[1], rnd)).encode().ljust(VALUE, b".") for rnd in range(ROUNDS)]]
    check(not bad and all(h == ROUNDS for h in hws.values()),
          "%s: all %d partitions read back, %d records each, exactly as produced"
          % (what, len(values), ROUNDS), bad[:3])


def open_fds(b):
    return len(os.listdir("/proc/%d/fd" % b.pid))


def many_connections(b, n, what):
    conns = []
    try:
        for _ in range(n):
            conns.append(wire.connect(b.port))
        check(all(api_versions_ok(s) for s in conns), "%s: %d more connections accepted and answered" % (what, n))
        print("  MEASURED: %d descriptors open with %d extra connections (limit %d)" % (open_fds(b), n, NOFILE))
    finally:
        for s in conns:
            s.close()


def no_emfile(b, what):
    bad = [l for l in b.log_text().splitlines() if EMFILE_RE.search(l)]
    check(not bad, "%s: the broker never ran out of descriptors (no EMFILE in its log)" % what, bad[:3])


def test_many_partitions_few_descriptors():
    with open("/proc/%d/limits" % fds.pid) as f:
        line = [l for l in f if l.startswith("Max open files")][0]
    check_eq(line.split()[3:5], [str(NOFILE), str(NOFILE)], "the broker runs with RLIMIT_NOFILE %d (soft and hard)"
             % NOFILE)
    prefix = unique("many")
    topics = ["%s-%02d" % (prefix, i) for i in range(TOPICS)]
    res = wire.create_topics(fds.port, [(t, PARTS, {}) for t in topics], corr=next_corr())
    check_eq(res, {t: (0, None) for t in topics}, "%d topics x %d partitions = %d partitions created with "
             "%d descriptors allowed" % (TOPICS, PARTS, TOPICS * PARTS, NOFILE))
    held = []
    try:
        for _ in range(40):
            held.append(wire.connect(fds.port))
        check(all(api_versions_ok(s) for s in held), "40 connections opened and answered, held open")
        for rnd in range(ROUNDS):
            acks = -1 if rnd == ROUNDS - 1 else 1
            for t in topics:
                parts = {(t, p): wire.record_batch([(b"k", ("%s-%d-%d" % (t, p, rnd)).encode().ljust(VALUE, b"."))])
                         for p in range(PARTS)}
                corr = next_corr()
                r = wire.parse_produce(wire.roundtrip(fds.port, wire.produce_request(corr, parts, acks=acks),
                                                      timeout=60), corr)
                bad = {k: v for k, v in r.items() if v[0] != 0 or v[1] != rnd}
                if bad:
                    raise AssertionError("round %d, %s: %s" % (rnd, t, sorted(bad.items())[:3]))
        check(True, "%d rounds of a ~7 KB batch to each of the %d partitions, each at its offset (the last "
              "acks=all)" % (ROUNDS, TOPICS * PARTS))
        segs = sum(1 for d in os.listdir(fds.data_dir) if d.startswith(prefix)
                   for f in os.listdir(os.path.join(fds.data_dir, d)) if f.endswith(".log"))
        check_eq(segs, TOPICS * PARTS * 3, "3 segments per partition: %d segment files (.log), %d with their "
                 "indexes" % (TOPICS * PARTS * 3, TOPICS * PARTS * 9))
        print("  MEASURED: %d descriptors open after producing (limit %d)" % (open_fds(fds), NOFILE))
        check(all(api_versions_ok(s) for s in held), "the 40 held connections are still served")
        fetch_all(fds, topics, "running")
        many_connections(fds, 40, "running")
    finally:
        for s in held:
            s.close()
    no_emfile(fds, "producing and fetching")

    check_eq(fds.stop(), 0, "SIGTERM: a clean shutdown (every log synced and closed), exit 0")
    fds.start(timeout=120)
    fetch_all(fds, topics, "after a clean restart under the same limit")
    fds.kill9()
    fds.start(timeout=180)
    check("recovering" in fds.log_text(), "kill -9, restart: the broker recovered the logs")
    fetch_all(fds, topics, "after kill -9 and recovery under the same limit")
    many_connections(fds, 80, "after the restarts")
    no_emfile(fds, "the restarts")


# -- request memory -------------------------------------------------------------


def rss_kib(b):
    with open("/proc/%d/status" % b.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class Attacker:
    """Announces a FRAME-byte Produce v3 and sends SENT bytes of it (from a
    thread: the send blocks while the broker does not read)."""

    def __init__(self, port, i):
        self.s = wire.connect(port)
        self.s.settimeout(None)
        self.done = False
        self.error = None
        header = struct.pack(">ihhi", FRAME, 0, 3, 77000 + i) + struct.pack(">h", 4) + b"evil"
        self.data = header + b"\x00" * (SENT - len(header))
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            self.s.sendall(self.data)
            self.done = True
        except OSError as e:
            self.error = e

    def close(self):
        try:
            self.s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.s.close()
        self.t.join(30)


def test_queued_request_bytes():
    round_trip(mem, "start")
    base = rss_kib(mem)
    attackers = [Attacker(mem.port, i) for i in range(ATTACKERS)]
    peak = [base]
    try:
        def settled():
            peak[0] = max(peak[0], rss_kib(mem))
            done = sum(a.done for a in attackers)
            if done == ATTACKERS:
                return "all"
            if done >= 2 and "queued.max.request.bytes" in mem.log_text():
                return "limited"
            return None
        how = wait_for(settled, 120, "the attackers to be read or held back", interval=0.05)
        peak[0] = max(peak[0], rss_kib(mem))
        done = sum(a.done for a in attackers)
        grew = (peak[0] - base) / 1024.0
        print("  MEASURED: %d of %d connections sent their 16 MiB (%s); the broker's RSS grew by %.1f MiB "
              "(from %.1f MiB)" % (done, ATTACKERS, how, grew, base / 1024.0), flush=True)
        check(grew <= QUEUED / MiB + 16, "%d connections each sending 16 MiB of a 30 MiB request: the broker's "
              "resident memory grew by %.1f MiB, within queued.max.request.bytes (64 MiB) + 16 MiB"
              % (ATTACKERS, grew))
        check_eq(done, 2, "two of the requests were read (60 MiB of 64 reserved), the others wait unread")
        check(grew <= 2 * SENT / MiB + 8, "and by no more than the 2 x 16 MiB that arrived (+ 8 MiB): a large "
              "request's memory is taken as its bytes arrive, not all 30 MiB at its first byte")
        check("queued.max.request.bytes" in mem.log_text(), "the broker logged that it holds requests back")
        round_trip(mem, "eight huge requests held")
        first = [a for a in attackers if a.done]
        for a in first:
            a.close()
        wait_for(lambda: sum(a.done for a in attackers if a not in first) >= 2, 60,
                 "two waiting requests to be read once the first two closed")
        check(True, "the two that were read closed: two waiting ones are read now")
        peak[0] = max(peak[0], rss_kib(mem))
    finally:
        for a in attackers:
            a.close()
    check(mem.alive(), "the broker is alive")
    # all gone: memory is free again for a large request
    big = wire.record_batch([(b"k", b"x" * (20 * MiB))])
    corr = next_corr()
    r = wire.parse_produce(wire.roundtrip(mem.port, wire.produce_v3(corr, unique("big"), 0, big), timeout=60), corr)
    check_eq([v[0] for v in r.values()], [10], "a 20 MiB request afterwards is read and answered "
             "(MESSAGE_TOO_LARGE: over message.max.bytes)")
    round_trip(mem, "the attackers closed")


def main():
    brokers = [auto, fds, mem]
    try:
        for b in brokers:
            b.start(timeout=60)
            print("broker %s pid %d on %s" % (b.name, b.pid, b.bootstrap), flush=True)
        rc = run_tests([test_auto_create_bound, test_many_partitions_few_descriptors, test_queued_request_bytes],
                       brokers)
        for b in brokers:
            rc = b.finish(rc)
        return rc
    finally:
        for b in brokers:
            b.cleanup()


if __name__ == "__main__":
    sys.exit(main())
