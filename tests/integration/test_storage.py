#!/usr/bin/python3
"""The partition log as an operator and a client see it.

On disk: one directory per partition (<topic>-<partition>), Kafka's segment
names (20-digit base offset .log with its .index), segments rolled by size
and by age (segment.ms), each .log a run of whole record batches v2 with
good CRC-32Cs and contiguous offsets.  Retention by size and by time (topic
configs set through CreateTopics) deletes whole segments: the log start
offset moves to a segment base, the files go, and what is left reads back
intact.  max.message.bytes rejects a batch that is too large.  A torn
batch at the end of the log after kill -9 is cut away at restart; damage
in data that was fsynced (below the recovery point) is never cut: the
partition goes offline (KAFKA_STORAGE_ERROR) and loses nothing.

Usage: test_storage.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import os
import re
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, BrokerError, check, check_eq, run_tests, unique, wait_for  # noqa: E402
from kafka_wire import batches  # noqa: E402
import kafka_wire as wire  # noqa: E402

import confluent_kafka as ck  # noqa: E402
import confluent_kafka.admin as cka  # noqa: E402

SEGMENT = 16384
broker = Broker(overrides={"log.segment.bytes": SEGMENT, "log.retention.check.interval.ms": 200,
                           "auto.create.topics.enable": "false"}, name="storage")
SEG_RE = re.compile(r"^(\d{20})\.log$")


def create(topic, partitions, config=None):
    admin = cka.AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([cka.NewTopic(topic, partitions, 1, config=config or {})])[topic].result(timeout=30)
    print("  created %s (%d partitions, config %s)" % (topic, partitions, config or {}))


def produce(topic, partition, values, ts=0):
    """acks=all, small batches; returns the delivery offsets."""
    reports = []
    p = ck.Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 1,
                     "batch.size": 4096, "message.timeout.ms": 20000})
    for i, v in enumerate(values):
        p.produce(topic, value=v, key=b"k%d" % i, partition=partition, timestamp=ts,
                  on_delivery=lambda e, m: reports.append((e, m.offset())))
        p.poll(0)
    left = p.flush(30)
    errors = [e for e, _ in reports if e is not None]
    if left or errors or len(reports) != len(values):
        raise AssertionError("produce to %s [%d]: %d left, errors %s" % (topic, partition, left, errors[:3]))
    return [o for _, o in reports]


def watermarks(topic, partition):
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "itest-storage", "enable.auto.commit": False})
    try:
        return c.get_watermark_offsets(ck.TopicPartition(topic, partition), timeout=10)
    finally:
        c.close()


def read_from_beginning(topic, partition, count):
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "itest-storage",
                     "enable.auto.commit": False, "auto.offset.reset": "error", "fetch.wait.max.ms": 50})
    got = []
    try:
        c.assign([ck.TopicPartition(topic, partition, ck.OFFSET_BEGINNING)])
        deadline = time.monotonic() + 30
        while len(got) < count and time.monotonic() < deadline:
            for m in c.consume(500, 0.2):
                if m.error():
                    raise AssertionError("consumer error: %s" % m.error())
                got.append((m.offset(), m.value()))
    finally:
        c.close()
    return got


def segments(topic, partition):
    """[(base offset, .log path)] of a partition directory, by base."""
    d = os.path.join(broker.data_dir, "%s-%d" % (topic, partition))
    out = []
    for name in os.listdir(d):
        m = SEG_RE.match(name)
        if m:
            out.append((int(m.group(1)), os.path.join(d, name)))
    return sorted(out)


def value(i, size=400):
    return (b"%06d:" % i) + bytes([97 + i % 26]) * (size - 7)


def test_segment_layout():
    topic = unique("layout")
    create(topic, 2)
    offsets = produce(topic, 0, [value(i) for i in range(300)])
    check_eq(offsets, list(range(300)), "300 messages at offsets 0..299")
    produce(topic, 1, [value(i) for i in range(3)])
    names = sorted(os.listdir(broker.data_dir))
    check("%s-0" % topic in names and "%s-1" % topic in names,
          "one directory per partition: %s-0 and %s-1" % (topic, topic), names)
    segs = segments(topic, 0)
    check(len(segs) >= 120000 // SEGMENT, "about 120 KB in %d-byte segments: %d .log files" % (SEGMENT, len(segs)))
    check_eq(segs[0][0], 0, "the first segment is 00000000000000000000.log")
    d = os.path.dirname(segs[0][1])
    check(all(os.path.exists(os.path.join(d, "%020d.index" % b)) for b, _ in segs),
          "every .log has its .index of the same base offset")
    check(all(os.path.getsize(p) <= SEGMENT for _, p in segs), "no segment is over log.segment.bytes",
          [os.path.getsize(p) for _, p in segs])
    expect = 0
    intact = True
    for base, path in segs:
        with open(path, "rb") as f:
            data = f.read()
        got, rest = batches(data)
        if base != expect or rest or not got or got[0][0] != base or not all(b[4] for b in got):
            intact = False
            print("  segment %s: base %d, expected %d, %d trailing bytes" % (path, base, expect, len(rest)))
        for b in got:
            if b[0] != expect:
                intact = False
            expect = b[1] + 1
    check(intact, "each .log is whole record batches v2 with good CRCs, offsets contiguous across segments")
    check_eq(expect, 300, "the segments hold offsets 0..299")


def test_roll_by_time():
    topic = unique("roll")
    create(topic, 1, {"segment.ms": "300"})
    produce(topic, 0, [value(0)])
    t0 = time.time()
    wait_for(lambda: time.time() - t0 > 0.5, 5, "half a second to pass")   # the clock, not the broker
    produce(topic, 0, [value(1)])
    bases = [b for b, _ in segments(topic, 0)]
    check(len(bases) >= 2 and bases[-1] == 1 and 0 in bases,
          "segment.ms=300: a message produced 0.5s later opens a new segment at offset 1", bases)


def test_retention_by_size():
    topic = unique("retsize")
    create(topic, 1, {"retention.bytes": "40000"})
    values = [value(i) for i in range(400)]          # about 160 KB
    produce(topic, 0, values)
    # The retention check (every 200 ms) also runs while the producer is
    # still sending, so a moved log start offset alone only says some pass
    # ran, not that one ran after the last batch.  Wait for a pass to have
    # brought the log within bounds, then look at a snapshot that no pass cut
    # through: the log start offset (the broker's loop answers ListOffsets
    # between passes, never during one) the same before and after the listing.
    bound = 40000 + SEGMENT
    last = {}

    def trimmed():
        lo = watermarks(topic, 0)[0]
        try:
            segs = [(b, os.path.getsize(p)) for b, p in segments(topic, 0)]
        except FileNotFoundError:           # a segment deleted between listdir and stat
            return None
        last.update(lo=lo, segs=segs)
        size = sum(sz for _, sz in segs)
        if lo and size <= bound and watermarks(topic, 0)[0] == lo:
            return lo, segs, size
        return None

    try:
        lo, segs, size = wait_for(trimmed, 30, "a retention pass to bring the log within retention.bytes "
                                  "+ one segment (%d bytes)" % bound)
    except AssertionError:
        segs = last.get("segs", [])
        check(False, "what remains (%d bytes in %d segments, log start %s) is within retention.bytes + one segment"
              % (sum(sz for _, sz in segs), len(segs), last.get("lo")))
    check_eq(segs[0][0], lo, "the log start offset %d is the base of the first remaining segment" % lo)
    check(size <= bound, "what remains (%d bytes in %d segments) is within retention.bytes + one segment"
          % (size, len(segs)))
    got = read_from_beginning(topic, 0, 400 - lo)
    check_eq(got, [(o, values[o]) for o in range(lo, 400)],
             "a consumer from the beginning reads offsets %d..399, exactly as produced" % lo)


def test_retention_by_time():
    topic = unique("rettime")
    create(topic, 1, {"retention.ms": "60000"})
    old = int(time.time() * 1000) - 3600 * 1000
    produce(topic, 0, [value(i) for i in range(200)], ts=old)      # an hour old: expired already
    fresh = [value(1000 + i) for i in range(5)]
    produce(topic, 0, fresh)
    lo = wait_for(lambda: (watermarks(topic, 0)[0] or None), 20, "the expired segments to go")
    lo, hi = watermarks(topic, 0)
    check(0 < lo <= 200 and hi == 205, "segments of hour-old messages deleted: log start %d, end %d" % (lo, hi))
    got = read_from_beginning(topic, 0, hi - lo)
    check_eq(got[-5:], [(200 + i, v) for i, v in enumerate(fresh)], "the five fresh messages are all still there")
    check_eq([o for o, _ in got], list(range(lo, hi)), "and everything from %d on reads back" % lo)


def test_max_message_bytes():
    topic = unique("maxmsg")
    create(topic, 1, {"max.message.bytes": "2000"})
    reports = []
    p = ck.Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "message.send.max.retries": 0})
    p.produce(topic, value=b"x" * 5000, partition=0, on_delivery=lambda e, m: reports.append(e))
    p.flush(20)
    check(len(reports) == 1 and reports[0] is not None and reports[0].code() == ck.KafkaError.MSG_SIZE_TOO_LARGE,
          "a 5000-byte message to a topic with max.message.bytes=2000: MESSAGE_TOO_LARGE (10)", reports)
    check_eq(watermarks(topic, 0), (0, 0), "nothing was written")
    check_eq(produce(topic, 0, [b"y" * 1000]), [0], "a 1000-byte message is accepted at offset 0")


def test_compressed_batches_stored_as_sent():
    """Each codec's batches reach the segment compressed by the producer
    (attributes name the codec), with many small records per batch, and come
    back whole."""
    import struct
    codecs = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
    for name, code in codecs.items():
        topic = unique("codec-" + name)
        create(topic, 1)
        p = ck.Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 50,
                         "compression.type": name})
        for i in range(500):
            p.produce(topic, value=b"small %d" % i, partition=0)
        check_eq(p.flush(30), 0, "%s: 500 small records acknowledged" % name)
        raw = b"".join(open(path, "rb").read() for _, path in segments(topic, 0))
        found, rest = batches(raw)
        check(found and rest == b"", "%s: the segment holds whole batches only" % name)
        attrs = [struct.unpack_from(">h", b[3], 21)[0] & 7 for b in found]
        # librdkafka sends a batch uncompressed when compressing does not shrink it
        check(code in attrs and set(attrs) <= {0, code},
              "%s: the stored batches carry codec %d in their attributes (%d of %d; the rest sent "
              "uncompressed by the producer)" % (name, code, attrs.count(code), len(attrs)))
        check_eq(sum(b[2] for b in found), 500, "%s: the batches hold the 500 records" % name)
        got = read_from_beginning(topic, 0, 500)
        check_eq([v for _, v in got], [b"small %d" % i for i in range(500)],
                 "%s: consumed back in order, byte for byte" % name)


def test_torn_tail_cut_at_restart():
    """A crash in the middle of a write leaves the start of a batch at the
    end of the active segment: after kill -9 the first part of a next batch
    is written there by hand, and the restart must cut it away (as
    docs/broker.md promises), so the log ends where it did and new batches
    follow the last whole one."""
    topic = unique("torn")
    create(topic, 1)
    offs = produce(topic, 0, [value(i, 300) for i in range(20)])
    check_eq(offs, list(range(20)), "20 messages acknowledged (acks=all) at offsets 0..19")
    (_, log), = segments(topic, 0)
    broker.kill9()
    with open(log, "rb") as f:
        data = f.read()
    whole, rest = batches(data)
    check(whole and rest == b"" and whole[-1][1] == 19 and all(b[4] for b in whole),
          "after kill -9 the .log holds %d whole batches up to offset 19, good CRCs" % len(whole))
    # the next batch as it would be written, cut in the middle of its records
    nxt = struct.pack(">q", 20) + whole[-1][3][8:]
    torn = nxt[:len(nxt) // 2]
    with open(log, "ab") as f:
        f.write(torn)
    check(True, "%d bytes of a next batch (offset 20, %d bytes whole) appended to %s"
          % (len(torn), len(nxt), os.path.basename(log)))
    broker.start()
    check_eq(os.path.getsize(log), len(data), "the .log is back to its %d bytes before the torn write" % len(data))
    check_eq(watermarks(topic, 0), (0, 20), "watermarks (0, 20)")
    more = produce(topic, 0, [value(i, 300) for i in range(20, 23)])
    check_eq(more, [20, 21, 22], "3 more messages at offsets 20..22")
    got = read_from_beginning(topic, 0, 23)
    check_eq(got, [(i, value(i, 300)) for i in range(23)], "all 23 read back in order, each intact")
    with open(log, "rb") as f:
        whole, rest = batches(f.read())
    check(rest == b"" and whole[-1][1] == 22 and all(b[4] for b in whole)
          and [b[0] for b in whole[1:]] == [b[1] + 1 for b in whole[:-1]],
          "the .log is whole batches again, contiguous offsets up to 22, good CRCs")
    started = broker.log_text().rsplit("=== harness: start", 1)[1]
    check("recovery:" in started and "truncated" in started and os.path.basename(log)[:-4] in started,
          "the broker logged that recovery truncated the segment",
          "\n".join(l for l in started.splitlines() if "recovery" in l) or started[-2000:])


def raw_produce(topic, partition, values):
    """One acks=all Produce v3 of one batch: (error_code, base_offset)."""
    batch = wire.record_batch([(b"k", v) for v in values])
    resp = wire.roundtrip(broker.port, wire.produce_request(31, {(topic, partition): batch}), timeout=30)
    err, base, _ = wire.parse_produce(resp, 31)[(topic, partition)]
    return err, base


def raw_fetch(topic, partition, offset):
    """Fetch v4 at offset: {"err", "hw", "records"}."""
    resp = wire.roundtrip(broker.port, wire.fetch_v4(32, [(topic, partition, offset, 1 << 20)]))
    return wire.parse_fetch_v4(resp, 32)[(topic, partition)]


def log_files(topic, partition):
    """{file name: bytes} of the .log files of a partition directory."""
    out = {}
    for _, path in segments(topic, partition):
        with open(path, "rb") as f:
            out[os.path.basename(path)] = f.read()
    return out


def test_old_damage_offline():
    """One flipped bit in an old segment, long fsynced, found by the
    recovery after kill -9: the log is not cut (issue 10: it used to be
    truncated there and every later segment deleted, 2,284 of 3,000 acked
    records gone). The partition answers KAFKA_STORAGE_ERROR to produce and
    fetch and the log says why, the other partition works, no .log file
    changes; once the bit is repaired, a restart serves every record, the
    high watermark where it was and the committed offset below it."""
    topic = unique("damage")
    create(topic, 2)
    n = 1500
    offs = produce(topic, 0, [value(i, 200) for i in range(n)])
    check_eq(offs, list(range(n)), "%d messages acknowledged (acks=all) on partition 0" % n)
    check_eq(produce(topic, 1, [value(i, 200) for i in range(10)]), list(range(10)),
             "10 on partition 1")
    group = unique("damage-group")
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False})
    c.commit(offsets=[ck.TopicPartition(topic, 0, n - 5)], asynchronous=False)
    c.close()
    check_eq(watermarks(topic, 0), (0, n), "watermarks (0, %d)" % n)
    segs = segments(topic, 0)
    check(len(segs) >= 6, "partition 0 spans %d segments of %d bytes" % (len(segs), SEGMENT))
    broker.kill9()
    # the last batch of the second segment: its tail, checked at every unclean start
    victim = segs[1][1]
    with open(victim, "rb") as f:
        data = f.read()
    whole, rest = wire.batches(data)
    check(whole and rest == b"" and all(b[4] for b in whole), "%s: %d whole batches, good CRCs"
          % (os.path.basename(victim), len(whole)))
    at = len(data) - 20                         # a byte of the last batch's last record
    with open(victim, "r+b") as f:
        f.seek(at)
        f.write(bytes([data[at] ^ 0x04]))
    check(True, "one bit flipped at position %d of %s (offsets %d..%d, second of %d segments)"
          % (at, os.path.basename(victim), whole[0][0], whole[-1][1], len(segs)))
    before = log_files(topic, 0)
    broker.start()
    started = broker.log_text().rsplit("=== harness: start", 1)[1]
    lines = [l for l in started.splitlines() if "offline" in l]
    check(any(os.path.basename(victim) in l and "recovery point" in l for l in lines),
          "the broker logged the partition offline, naming the file and the recovery point",
          "\n".join(l for l in started.splitlines() if "recovery" in l or "offline" in l) or started[-2000:])
    print("  | " + lines[0][:400])
    check_eq(raw_produce(topic, 0, [b"after"])[0], 56, "produce to partition 0: KAFKA_STORAGE_ERROR (56)")
    r = raw_fetch(topic, 0, 0)
    check_eq((r["err"], r["records"]), (56, b""), "fetch of partition 0: KAFKA_STORAGE_ERROR (56), no records")
    err, base = raw_produce(topic, 1, [b"p1 after"])
    check_eq((err, base), (0, 10), "partition 1 takes a produce at offset 10")
    r = raw_fetch(topic, 1, 0)
    got, _ = wire.batches(r["records"])
    check(r["err"] == 0 and r["hw"] == 11 and got[-1][1] == 10,
          "partition 1 fetches offsets 0..10, high watermark 11", r)
    check(log_files(topic, 0) == before, "no .log file of partition 0 was changed, cut or removed "
          "(%d files)" % len(before))
    check_eq(broker.stop(), 0, "the broker stops (exit 0)")
    with open(victim, "r+b") as f:
        f.seek(at)
        f.write(bytes([data[at]]))
    check(True, "the bit repaired by hand, as an operator would")
    broker.start()
    check_eq(watermarks(topic, 0), (0, n), "watermarks (0, %d): the high watermark did not move" % n)
    got = read_from_beginning(topic, 0, n)
    check_eq(got, [(i, value(i, 200)) for i in range(n)], "all %d read back in order, each intact" % n)
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False})
    committed = c.committed([ck.TopicPartition(topic, 0)], timeout=10)[0].offset
    c.close()
    check_eq(committed, n - 5, "the group's committed offset is still %d, below the high watermark" % (n - 5))
    check_eq(produce(topic, 0, [value(n, 200)]), [n], "the next message gets offset %d" % n)


def test_offsets_store_damage_stops_start():
    """The committed-offsets store (samsa-groups/) is a log too: a bit
    flipped in a commit it fsynced is found after kill -9, and the broker
    refuses to start with an error naming the file, rather than start
    without the commits (every group would go back to auto.offset.reset).
    Repaired, it starts with every commit."""
    topic = unique("commits")
    create(topic, 1)
    groups = [unique("g") for _ in range(3)]
    for i, g in enumerate(groups):
        c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": g, "enable.auto.commit": False})
        c.commit(offsets=[ck.TopicPartition(topic, 0, 10 + i)], asynchronous=False)
        c.close()
    check(True, "3 groups committed offsets 10, 11, 12")
    broker.kill9()
    store = sorted(p for p in os.listdir(os.path.join(broker.data_dir, "samsa-groups")) if SEG_RE.match(p))[-1]
    path = os.path.join(broker.data_dir, "samsa-groups", store)
    with open(path, "rb") as f:
        data = f.read()
    whole, rest = wire.batches(data)
    check(whole and rest == b"" and all(b[4] for b in whole), "samsa-groups/%s: %d whole batches" % (store, len(whole)))
    at = len(data) - 3                          # in the last commit
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(bytes([data[at] ^ 0x10]))
    try:
        broker.start(timeout=20)
        started = True
    except BrokerError:
        started = False
    text = broker.log_text().rsplit("=== harness: start", 1)[1]
    check(not started and any("failed to start" in l and "committed-offsets store" in l and store in l
                              for l in text.splitlines()),
          "the broker does not start: 'failed to start: the committed-offsets store is damaged', naming the file",
          text[-1500:])
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(bytes([data[at]]))
    broker.start()
    for i, g in enumerate(groups):
        c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": g, "enable.auto.commit": False})
        got = c.committed([ck.TopicPartition(topic, 0)], timeout=10)[0].offset
        c.close()
        check_eq(got, 10 + i, "repaired and restarted: group %d's committed offset is %d" % (i, 10 + i))


def main():
    try:
        broker.start()
        print("broker pid %d on %s, log.segment.bytes=%d" % (broker.pid, broker.bootstrap, SEGMENT), flush=True)
        rc = run_tests([test_segment_layout, test_roll_by_time, test_retention_by_size, test_retention_by_time,
                        test_max_message_bytes, test_compressed_batches_stored_as_sent,
                        test_torn_tail_cut_at_restart, test_old_damage_offline,
                        test_offsets_store_damage_stops_start], [broker])
        return broker.finish(rc)
    finally:
        broker.cleanup()


if __name__ == "__main__":
    sys.exit(main())
