#!/usr/bin/python3
"""Batches whose framing and CRC-32C are right but whose contents are not.

Each case is a raw Produce (v3, or v7 for zstd) on one connection per
partition, with a batch built field by field (batch_wire.py): compressed
payloads that do not decompress (each codec), decompression bombs, garbage
records, RecordCount and LastOffsetDelta that lie, repeated offset deltas,
timestamps out of the topic's bounds, and the header rules Kafka enforces.
For each refused batch: the error code is Kafka's, the high watermark did
not move, the partition's log did not grow by a byte, and a good batch on
the same connection right after lands at the next offset. At the end
librdkafka (confluent-kafka) and kafka-python consumers read every
partition from the start: exactly the good records, no error, not stuck.
Real producers of every codec (librdkafka and kafka-python) still work.

Usage: test_bad_batches.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import glob
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check, check_eq, run_tests, unique, wait_for  # noqa: E402
import batch_wire as bw  # noqa: E402
import kafka_wire as wire  # noqa: E402

import confluent_kafka as ck  # noqa: E402
import confluent_kafka.admin as cka  # noqa: E402
import kafka as kp  # noqa: E402

CORRUPT_MESSAGE, MESSAGE_TOO_LARGE, INVALID_TIMESTAMP = 2, 10, 32
UNSUPPORTED_COMPRESSION_TYPE, INVALID_RECORD = 76, 87
NAMES = {0: "NONE", 2: "CORRUPT_MESSAGE", 10: "MESSAGE_TOO_LARGE", 32: "INVALID_TIMESTAMP",
         76: "UNSUPPORTED_COMPRESSION_TYPE", 87: "INVALID_RECORD"}

broker = Broker(overrides={"auto.create.topics.enable": "false"}, name="badbatches")
rng = random.Random(20261124)
partitions = []          # every Partition made, read back by the consumers at the end
_watermarks = []         # one consumer handle for watermark queries


def now_ms():
    return int(time.time() * 1000)


def create_topic(prefix, config=None):
    name = unique(prefix)
    admin = cka.AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([cka.NewTopic(name, 1, 1, config=config or {})])[name].result(timeout=30)
    return name


def high_watermark(topic):
    if not _watermarks:
        _watermarks.append(ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "itest-bad-batches",
                                        "enable.auto.commit": False}))
    return _watermarks[0].get_watermark_offsets(ck.TopicPartition(topic, 0), timeout=10, cached=False)[1]


class Partition:
    """Partition 0 of a new topic, one raw connection to it, and the good
    records written so far (what a consumer must read back)."""

    def __init__(self, prefix, config=None):
        self.topic = create_topic(prefix, config)
        self.sock = wire.connect(broker.port)
        self.corr = 0
        self.good_records = []     # (key, value) in offset order
        partitions.append(self)

    def log_bytes(self):
        files = glob.glob(os.path.join(broker.data_dir, "%s-0" % self.topic, "*.log"))
        check(files, "%s has a segment file" % self.topic)
        return sum(os.path.getsize(f) for f in files)

    def produce(self, records_bytes, version=3):
        """(error, base offset) for one Produce on this partition's connection."""
        self.corr += 1
        check(wire.send(self.sock, bw.produce_request(self.corr, self.topic, 0, records_bytes, version)),
              "request sent on the same connection")
        resp = wire.read_response(self.sock)
        check(resp is not None, "the broker answered on the same connection (it did not close it)")
        check_eq(wire.Reader(resp).i32(), self.corr, "correlation id")
        topics = bw.parse_produce_response(resp, version)
        check(len(topics) == 1 and topics[0][0] == self.topic and len(topics[0][1]) == 1,
              "one topic, one partition in the answer", topics)
        _, err, base = topics[0][1][0]
        return err, base

    def write_good(self, n=2, codec=bw.NONE, version=3, ts=None, what="a good batch", **opts):
        prefix = b"g%d" % len(self.good_records)
        b = bw.batch(bw.records(n, prefix), n, base_ts=now_ms() if ts is None else ts, codec=codec, **opts)
        size = self.log_bytes() if self.good_records else 0
        err, base = self.produce(b, 7 if codec == bw.ZSTD else version)
        check_eq((err, base), (0, len(self.good_records)),
                 "%s (%d records) lands at offset %d" % (what, n, len(self.good_records)))
        self.good_records += [(b"%s-k%d" % (prefix, i), b"%s-v%d" % (prefix, i)) for i in range(n)]
        # the two measures refuse() relies on do see a write
        check_eq(high_watermark(self.topic), len(self.good_records), "the high watermark moved past it")
        check_eq(self.log_bytes(), size + len(b), "the log grew by the batch's %d bytes" % len(b))

    def logged(self, what, records_bytes, code, text, version=3):
        """The broker logs why it refused the batch (Produce v0-v7 has no
        ErrorMessage). Refusals are logged a few per second, so the batch is
        sent again until the line shows up; each time it is refused."""
        def seen():
            err, _ = self.produce(records_bytes, version)
            check_eq(err, code, "%s: refused again" % what)
            return text in broker.log_text()
        wait_for(seen, 20, "the log line %r" % text, interval=0.2)
        check(True, "%s: the broker logged %r" % (what, text))

    def refuse(self, what, records_bytes, code, version=3):
        """The batch is refused with code and nothing of it is kept; the
        connection then takes a good batch."""
        hw, size = high_watermark(self.topic), self.log_bytes()
        err, _ = self.produce(records_bytes, version)
        check_eq(NAMES.get(err, err), NAMES[code], "%s: refused with %s (%d)" % (what, NAMES[code], code))
        check_eq(high_watermark(self.topic), hw, "%s: high watermark still %d" % (what, hw))
        check_eq(self.log_bytes(), size, "%s: the log is still %d bytes" % (what, size))
        self.write_good(what="then a good batch on the same connection")


def garbage(n):
    return bytes(rng.randrange(256) for _ in range(n))


# -- (a) compressed payloads that do not decompress ------------------------------------------

def test_compressed_payloads_that_do_not_decompress():
    for name, codec, opts in (("gzip", bw.GZIP, {}), ("snappy (xerial framing)", bw.SNAPPY, {}),
                              ("snappy (raw)", bw.SNAPPY, {"snappy_framing": "raw"}),
                              ("lz4", bw.LZ4, {}), ("zstd", bw.ZSTD, {})):
        p = Partition("bad-" + name.split()[0])
        v = 7 if codec == bw.ZSTD else 3
        ts = now_ms()
        p.write_good(3, codec, what="a good %s batch built here" % name, **opts)
        recs = bw.records(3, b"x")
        packed = bw.compress(codec, recs, **opts)
        p.refuse("%s: random bytes as the payload" % name,
                 bw.batch(recs, 3, base_ts=ts, codec=codec, payload=garbage(len(packed))), CORRUPT_MESSAGE, v)
        p.refuse("%s: the payload cut 5 bytes short" % name,
                 bw.batch(recs, 3, base_ts=ts, codec=codec, payload=packed[:-5]), CORRUPT_MESSAGE, v)
        p.refuse("%s: 7 bytes of junk after the compressed data" % name,
                 bw.batch(recs, 3, base_ts=ts, codec=codec, payload=packed + b"garbage"), CORRUPT_MESSAGE, v)
        p.refuse("%s: an empty payload" % name,
                 bw.batch(recs, 3, base_ts=ts, codec=codec, payload=b""), CORRUPT_MESSAGE, v)
        if codec == bw.GZIP:
            bad = bytearray(packed)
            bad[-6] ^= 0x01                 # inside the CRC-32 of the gzip trailer
            p.refuse("gzip: its trailer's CRC-32 wrong", bw.batch(recs, 3, base_ts=ts, codec=codec,
                                                                    payload=bytes(bad)), CORRUPT_MESSAGE)
        if codec == bw.LZ4:
            p.refuse("lz4: a frame with linked blocks (Kafka reads only independent ones)",
                     bw.batch(recs, 3, base_ts=ts, codec=codec, lz4_linked=True), CORRUPT_MESSAGE)
        if codec == bw.SNAPPY and not opts:
            p.refuse("snappy: a xerial block length past the data",
                     bw.batch(recs, 3, base_ts=ts, codec=codec, payload=packed[:16] + wire.i32(1 << 20) + packed[20:]),
                     CORRUPT_MESSAGE)
        # (b) inside a good compressed stream, records that are garbage
        p.refuse("%s: decompresses fine, to garbage records" % name,
                 bw.batch(b"", 3, base_ts=ts, codec=codec, payload=bw.compress(codec, garbage(60), **opts)),
                 INVALID_RECORD, v)
    p = Partition("bad-zstd-v3")
    p.refuse("zstd in a Produce v3 (Kafka wants v7 for zstd)", bw.good(2, now_ms(), bw.ZSTD),
             UNSUPPORTED_COMPRESSION_TYPE, version=3)
    p.refuse("compression type 5 (no such codec)", bw.good(2, now_ms(), payload=bw.records(2), codec=5),
             UNSUPPORTED_COMPRESSION_TYPE)


def test_decompression_bombs():
    # 64 x max.message.bytes (100000) = 6400000 bytes may come out of one batch
    p = Partition("bomb", {"max.message.bytes": "100000"})
    ts = now_ms()
    bomb = bw.record(0, b"k", bytes(8 << 20), ts_delta=0)          # one record of 8 MiB of zeros
    for name, codec in (("gzip", bw.GZIP), ("lz4", bw.LZ4), ("zstd", bw.ZSTD)):
        b = bw.batch(bomb, 1, base_ts=ts, codec=codec)
        check(len(b) < 100000, "%s: an 8 MiB record compresses to %d bytes, under max.message.bytes"
              % (name, len(b)))
        p.refuse("%s: a %d-byte batch inflating to 8 MiB" % (name, len(b)), b, MESSAGE_TOO_LARGE,
                 7 if codec == bw.ZSTD else 3)
    p.logged("the gzip bomb", bw.batch(bomb, 1, base_ts=ts, codec=bw.GZIP), MESSAGE_TOO_LARGE,
             "gzip: the records decompress to more than the limit of 6400000 bytes")
    # an honest batch under the bound still goes in: 5 MB in 1000 records
    n = 1000
    recs = b"".join(bw.record(i, b"k%d" % i, bytes(5000), ts_delta=i) for i in range(n))
    err, base = p.produce(bw.batch(recs, n, base_ts=ts, codec=bw.GZIP))
    check_eq((err, base), (0, len(p.good_records)), "a gzip batch of 1000 records inflating to 5 MB is accepted")
    p.good_records += [(b"k%d" % i, bytes(5000)) for i in range(n)]


# -- (b) garbage records -------------------------------------------------------------------

def test_garbage_records():
    p = Partition("bad-records")
    ts = now_ms()
    p.refuse("uncompressed: 60 random bytes as records",
             bw.batch(garbage(60), 3, base_ts=ts), INVALID_RECORD)
    p.refuse("a key length of -5",
             bw.batch(bw.record(0, key=-5, value=b"v"), 1, base_ts=ts), INVALID_RECORD)
    p.refuse("a value length running past the record",
             bw.batch(bw.record(0, value=40) + b"v", 1, base_ts=ts), INVALID_RECORD)
    p.refuse("a record Length 3 bytes longer than the record",
             bw.batch(bw.record(0, length_adjust=3), 1, base_ts=ts), INVALID_RECORD)
    p.refuse("a record Length 2 bytes shorter than the record",
             bw.batch(bw.record(0, length_adjust=-2) + bw.record(1), 2, base_ts=ts), INVALID_RECORD)
    p.refuse("a HeaderCount of -1",
             bw.batch(bw.record(0, header_count=-1), 1, base_ts=ts), INVALID_RECORD)
    p.refuse("a null header key",
             bw.batch(bw.record(0, headers=[(None, b"v")]), 1, base_ts=ts), INVALID_RECORD)
    p.refuse("an OffsetDelta varint of 6 bytes",
             bw.batch(bw.varint(9) + b"\x00\x00" + b"\xff" * 5 + b"\x01", 1, base_ts=ts), INVALID_RECORD)
    rec = bw.record(0, key=None, value=b"", headers=[(b"h", b"1"), (b"n", None)])
    err, base = p.produce(bw.batch(rec, 1, base_ts=ts))
    check_eq((err, base), (0, len(p.good_records)), "null key, empty value, a null header value: accepted")
    p.good_records.append((None, b""))


# -- (c) RecordCount and LastOffsetDelta ------------------------------------------------------

def test_counts_that_lie():
    for name, codec in (("uncompressed", bw.NONE), ("lz4", bw.LZ4)):
        p = Partition("bad-count-" + name)
        ts = now_ms()
        three = bw.records(3, b"c")
        p.refuse("%s: RecordCount 4, LastOffsetDelta 3, 3 records" % name,
                 bw.batch(three, 4, base_ts=ts, codec=codec), INVALID_RECORD)
        p.refuse("%s: RecordCount 2, LastOffsetDelta 1, 3 records" % name,
                 bw.batch(three, 2, base_ts=ts, codec=codec), INVALID_RECORD)
        p.refuse("%s: LastOffsetDelta 0 with 3 records (an offset twice)" % name,
                 bw.batch(three, 3, last_offset_delta=0, base_ts=ts, codec=codec), INVALID_RECORD)
        p.refuse("%s: LastOffsetDelta 2^31-1 with 3 records (HW +2 billion)" % name,
                 bw.batch(three, 3, last_offset_delta=2 ** 31 - 1, base_ts=ts, codec=codec), INVALID_RECORD)
        p.refuse("%s: RecordCount 0, LastOffsetDelta -1" % name,
                 bw.batch(b"", 0, base_ts=ts, codec=codec), INVALID_RECORD)
        p.refuse("%s: RecordCount 2^31-1" % name,
                 bw.batch(three, 2 ** 31 - 1, base_ts=ts, codec=codec), INVALID_RECORD)
        p.logged("%s: LastOffsetDelta 0 with 3 records" % name,
                 bw.batch(three, 3, last_offset_delta=0, base_ts=ts, codec=codec), INVALID_RECORD,
                 "refused (INVALID_RECORD): LastOffsetDelta 0 does not match RecordCount 3")


# -- (d) offset deltas and timestamps ---------------------------------------------------------

def test_offset_deltas():
    for name, codec in (("uncompressed", bw.NONE), ("zstd", bw.ZSTD), ("gzip", bw.GZIP)):
        p = Partition("bad-delta-" + name)
        v = 7 if codec == bw.ZSTD else 3
        ts = now_ms()
        p.refuse("%s: OffsetDeltas 0, 0, 0" % name,
                 bw.batch(b"".join(bw.record(0, b"k%d" % i) for i in range(3)), 3, base_ts=ts, codec=codec),
                 INVALID_RECORD, v)
        p.refuse("%s: OffsetDeltas 0, 2, 1" % name,
                 bw.batch(bw.record(0) + bw.record(2) + bw.record(1), 3, base_ts=ts, codec=codec),
                 INVALID_RECORD, v)
        p.refuse("%s: OffsetDeltas 1, 2, 3" % name,
                 bw.batch(bw.record(1) + bw.record(2) + bw.record(3), 3, base_ts=ts, codec=codec),
                 INVALID_RECORD, v)


def test_timestamps():
    hour = 3600 * 1000
    p = Partition("ts-default")
    p.refuse("a timestamp 2 hours ahead (message.timestamp.after.max.ms is 1 hour by default)",
             bw.good(2, now_ms() + 2 * hour), INVALID_TIMESTAMP)
    p.refuse("the second record 2 hours ahead",
             bw.batch(bw.record(0, ts_delta=0) + bw.record(1, ts_delta=2 * hour), 2, base_ts=now_ms()),
             INVALID_TIMESTAMP)
    p.refuse("a zstd batch 2 hours ahead", bw.good(2, now_ms() + 2 * hour, bw.ZSTD), INVALID_TIMESTAMP, 7)
    p.refuse("a timestamp that overflows int64",
             bw.batch(bw.record(0, ts_delta=100), 1, base_ts=2 ** 63 - 10), INVALID_TIMESTAMP)
    p.refuse("the LogAppendTime bit set by the producer",
             bw.good(2, now_ms(), attributes=bw.LOG_APPEND_TIME), INVALID_TIMESTAMP)
    p.write_good(2, ts=now_ms() + hour // 2, what="half an hour ahead")
    p.write_good(2, ts=now_ms() - 100 * 24 * hour, what="100 days old (before.max.ms unbounded)")
    p.write_good(2, ts=-1, what="no timestamp (-1)")
    q = Partition("ts-bounded", {"message.timestamp.before.max.ms": str(hour),
                                 "message.timestamp.after.max.ms": str(60000)})
    q.refuse("2 hours old on a topic with before.max.ms 1 hour", bw.good(2, now_ms() - 2 * hour), INVALID_TIMESTAMP)
    q.refuse("10 minutes ahead on a topic with after.max.ms 1 minute", bw.good(2, now_ms() + 600000),
             INVALID_TIMESTAMP)
    q.write_good(2, ts=now_ms() - hour // 2, what="half an hour old")
    r = Partition("ts-difference", {"message.timestamp.difference.max.ms": str(hour)})
    r.refuse("2 hours old, message.timestamp.difference.max.ms 1 hour (Kafka 3.6's fallback)",
             bw.good(2, now_ms() - 2 * hour), INVALID_TIMESTAMP)
    r.write_good(2, ts=now_ms() - hour // 2, what="half an hour old")
    s = Partition("ts-logappend", {"message.timestamp.type": "LogAppendTime"})
    s.write_good(2, ts=now_ms() + 5 * hour, what="5 hours ahead on a LogAppendTime topic (not bounded)")
    s.refuse("the LogAppendTime bit set by the producer on a LogAppendTime topic",
             bw.good(2, now_ms(), attributes=bw.LOG_APPEND_TIME), INVALID_TIMESTAMP)


# -- header rules and the request's shape -----------------------------------------------------

def test_header_rules():
    p = Partition("bad-header")
    ts = now_ms()
    p.refuse("a control batch from a producer", bw.good(1, ts, attributes=bw.CONTROL), INVALID_RECORD)
    p.refuse("ProducerId 5 with BaseSequence -1",
             bw.good(2, ts, producer_id=5, producer_epoch=0, base_sequence=-1), INVALID_RECORD)
    p.refuse("two batches for one partition", bw.good(1, ts) + bw.good(1, ts), INVALID_RECORD)
    p.refuse("no batch at all (0 bytes)", b"", INVALID_RECORD)
    flipped = bytearray(bw.good(2, ts))
    flipped[-3] ^= 0x01
    p.refuse("a CRC-32C mismatch", bytes(flipped), CORRUPT_MESSAGE)


# -- what consumers read afterwards -----------------------------------------------------------

def test_consumers_read_every_good_record():
    check(len(partitions) > 5, "%d partitions were written to" % len(partitions))
    for p in partitions:
        want = p.good_records
        c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "itest-bad-batches",
                         "enable.auto.commit": False, "enable.partition.eof": True, "check.crcs": True})
        got, errors = [], []
        try:
            c.assign([ck.TopicPartition(p.topic, 0, 0)])
            deadline = time.monotonic() + 30
            eof = False
            while not eof and time.monotonic() < deadline:
                m = c.poll(0.5)
                if m is None:
                    continue
                if m.error():
                    if m.error().code() == ck.KafkaError._PARTITION_EOF:
                        eof = len(got) >= len(want)
                    else:
                        errors.append(str(m.error()))
                        break
                    continue
                got.append((m.offset(), m.key(), m.value()))
        finally:
            c.close()
        check_eq(errors, [], "%s: librdkafka consumer has no error" % p.topic)
        check_eq(got, [(i, k, v) for i, (k, v) in enumerate(want)],
                 "%s: librdkafka consumer reads the %d good records to the end" % (p.topic, len(want)))
        kc = kp.KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False,
                              consumer_timeout_ms=2000, fetch_max_bytes=64 << 20,
                              max_partition_fetch_bytes=64 << 20)
        try:
            tp = kp.TopicPartition(p.topic, 0)
            kc.assign([tp])
            kc.seek_to_beginning(tp)
            kgot = []
            deadline = time.monotonic() + 30
            while len(kgot) < len(want) and time.monotonic() < deadline:
                for recs in kc.poll(timeout_ms=500).values():
                    kgot += [(r.offset, r.key, r.value) for r in recs]
        finally:
            kc.close()
        check_eq(kgot, [(i, k, v) for i, (k, v) in enumerate(want)],
                 "%s: kafka-python consumer reads the same, no CorruptRecordException" % p.topic)


def test_real_producers_every_codec():
    topic = create_topic("codecs")
    want = []
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        reports = []
        p = ck.Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "compression.codec": codec,
                         "linger.ms": 50})
        for i in range(20):
            v = (b"librdkafka %s %d " % (codec.encode(), i)) * 20
            p.produce(topic, key=b"r%d" % i, value=v, partition=0,
                      on_delivery=lambda e, m: reports.append(e))
            want.append(v)
        check_eq((p.flush(30), [e for e in reports if e is not None], len(reports)), (0, [], 20),
                 "librdkafka %s: 20 messages acknowledged" % codec)
        kprod = kp.KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", compression_type=codec,
                                 linger_ms=50)
        futs = []
        for i in range(20):
            v = (b"kafka-python %s %d " % (codec.encode(), i)) * 20
            futs.append(kprod.send(topic, key=b"p%d" % i, value=v, partition=0))
            want.append(v)
        kprod.flush(30)
        offsets = [f.get(timeout=30).offset for f in futs]
        kprod.close()
        check_eq(len(offsets), 20, "kafka-python %s: 20 messages acknowledged" % codec)
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "itest-bad-batches",
                     "enable.auto.commit": False})
    got = []
    try:
        c.assign([ck.TopicPartition(topic, 0, 0)])
        deadline = time.monotonic() + 30
        while len(got) < len(want) and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value())
    finally:
        c.close()
    check_eq(got, want, "all 160 messages (4 codecs x 2 producers) read back in order")


def main():
    try:
        broker.start()
        print("broker pid %d on %s" % (broker.pid, broker.bootstrap), flush=True)
        rc = run_tests([test_compressed_payloads_that_do_not_decompress, test_decompression_bombs,
                        test_garbage_records, test_counts_that_lie, test_offset_deltas, test_timestamps,
                        test_header_rules, test_consumers_read_every_good_record,
                        test_real_producers_every_codec], [broker])
        for c in _watermarks:
            c.close()
        for p in partitions:
            p.sock.close()
        return broker.finish(rc)
    finally:
        broker.cleanup()


if __name__ == "__main__":
    sys.exit(main())
