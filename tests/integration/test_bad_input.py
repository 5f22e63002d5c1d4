#!/usr/bin/python3
"""Bad input to samsa-broker over raw sockets, then a normal client still works.

Frames are built here with struct: request header v1 (v2 for a flexible
ApiVersions v3), Produce v3 with a record batch v2 whose CRC-32C is computed
in pure Python, CreateTopics v2, Metadata v4.  After every case the broker
process must still be alive and a fresh confluent-kafka producer and
consumer must round-trip a message.

Usage: test_bad_input.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check, check_eq, run_tests, unique  # noqa: E402
import kafka_wire as wire  # noqa: E402
from kafka_wire import (Reader, array, compact_string, frame, i8, i16, i32, nullable_string,  # noqa: E402
                        produce_v3, read_response, record_batch, send, string, uvarint, wait_closed)

import confluent_kafka as ck  # noqa: E402

MAX_REQUEST = 65536
broker = Broker(overrides={"socket.request.max.bytes": MAX_REQUEST, "auto.create.topics.enable": "true",
                           "num.partitions": 1}, name="badinput")
rng = random.Random(20240611)



def connect():
    return wire.connect(broker.port)


def rpc(api_key, version, body, corr=None, flexible=False):
    corr = rng.randrange(1, 1 << 30) if corr is None else corr
    s = connect()
    try:
        send(s, frame(api_key, version, corr, body, flexible=flexible))
        resp = read_response(s)
    finally:
        s.close()
    check(resp is not None, "api %d v%d: the broker answered" % (api_key, version))
    r = Reader(resp)
    check_eq(r.i32(), corr, "api %d v%d: response correlation id" % (api_key, version))
    return r


# -- the normal client ----------------------------------------------------------

HEALTH = unique("health")
health_count = [0]


def healthy(what):
    """Broker alive, and a fresh confluent-kafka producer and consumer
    round-trip a message."""
    check(broker.alive(), "after %s: broker process %d is alive" % (what, broker.pid))
    value = ("after %s #%d" % (what, health_count[0])).encode()
    health_count[0] += 1
    reports = []
    p = ck.Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "message.timeout.ms": 15000})
    p.produce(HEALTH, value=value, key=b"h", partition=0, on_delivery=lambda e, m: reports.append((e, m.offset())))
    left = p.flush(20)
    check(left == 0 and len(reports) == 1 and reports[0][0] is None,
          "after %s: a new producer's message is acknowledged" % what, reports)
    off = reports[0][1]
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "itest-bad-input-assign",
                     "enable.auto.commit": False})
    try:
        c.assign([ck.TopicPartition(HEALTH, 0, off)])
        got = None
        deadline = time.monotonic() + 20
        while got is None and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                got = m
        check(got is not None and got.offset() == off and got.value() == value,
              "after %s: a new consumer reads it back at offset %d" % (what, off))
    finally:
        c.close()


def end_offset(topic, partition):
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "itest-bad-input-assign",
                     "enable.auto.commit": False})
    try:
        return c.get_watermark_offsets(ck.TopicPartition(topic, partition), timeout=10)[1]
    finally:
        c.close()


def expect_closed(data, what, timeout=10):
    s = connect()
    try:
        send(s, data)
        check(wait_closed(s, timeout), "%s: the broker closes the connection" % what)
    finally:
        s.close()


def expect_closed_or_error(data, corr, what, codes=(35,)):
    """Kafka closes the connection for requests it cannot parse; an error
    response with a matching correlation id is accepted too."""
    s = connect()
    try:
        send(s, data)
        resp = read_response(s)
        if resp is None:
            check(True, "%s: connection closed" % what)
            return
        r = Reader(resp)
        got_corr = r.i32()
        first = r.i16() if len(resp) >= 6 else None
        after_throttle = struct.unpack(">h", resp[8:10])[0] if len(resp) >= 10 else None
        check(got_corr == corr and (first in codes or after_throttle in codes),
              "%s: answered with error %s" % (what, codes),
              "correlation %d (sent %d), first int16 %s, after throttle %s" % (got_corr, corr, first, after_throttle))
    finally:
        s.close()


# -- tests ---------------------------------------------------------------------


def test_baseline_api_versions():
    r = rpc(18, 0, b"")
    check_eq(r.i16(), 0, "ApiVersions v0: error 0")
    apis = {k: (lo, hi) for k, lo, hi in r.array(lambda x: (x.i16(), x.i16(), x.i16()))}
    check(r.at_end(), "ApiVersions v0: response fully parsed")
    for key, version in ((0, 3), (1, 4), (3, 4), (18, 0), (19, 2)):
        check(key in apis and apis[key][0] <= version <= apis[key][1],
              "ApiVersions lists api %d covering v%d" % (key, version), apis.get(key))
    healthy("a valid ApiVersions")


def test_api_versions_v3():
    """ApiVersions v3 (flexible, KIP-511): the answer keeps response header v0
    (no tag byte after the correlation id), a compact ApiKeys array whose
    entries end with tags, ThrottleTimeMs, tags."""
    corr = 4242
    body = compact_string("itest") + compact_string("1.0") + uvarint(0)
    r = rpc(18, 3, body, corr=corr, flexible=True)
    check_eq(r.i16(), 0, "ApiVersions v3: error 0 (the first byte after the correlation id is the error code)")
    entries = r.compact_array(lambda x: (x.i16(), x.i16(), x.i16(), x.tags()))
    throttle = r.i32()
    tags = r.tags()
    check(r.at_end(), "ApiVersions v3 answer fully parsed", "%d bytes left" % (len(r.d) - r.p))
    apis = {k: (lo, hi) for k, lo, hi, _ in entries}
    check(apis.get(18, (0, 0))[1] >= 3 and 3 in apis, "ApiVersions v3 lists itself up to v3+ and Metadata",
          apis)
    check(throttle == 0 and tags == {}, "ApiVersions v3: throttle 0, no tagged fields", (throttle, tags))
    healthy("ApiVersions v3")


def test_api_versions_unsupported():
    """A version past ours: UNSUPPORTED_VERSION in the v0 shape, listing only
    ApiVersions' own range (as Kafka answers), so the client can retry."""
    corr = 4343
    body = compact_string("itest") + compact_string("1.0") + uvarint(0)
    r = rpc(18, 99, body, corr=corr, flexible=True)
    check_eq(r.i16(), 35, "ApiVersions v99: error 35 UNSUPPORTED_VERSION")
    entries = r.array(lambda x: (x.i16(), x.i16(), x.i16()))
    check(r.at_end(), "ApiVersions v99 answer has the v0 shape (error, [key, min, max]) and nothing more",
          "%d bytes left" % (len(r.d) - r.p))
    check(len(entries) == 1 and entries[0][0] == 18 and entries[0][1] == 0 and entries[0][2] >= 3,
          "it lists ApiVersions' own range only", entries)
    healthy("ApiVersions v99")


def test_api_versions_bad_software():
    """KIP-511: a client software name Kafka's pattern refuses is answered
    INVALID_REQUEST (42) with no ApiKeys, the connection kept."""
    corr = 4444
    body = compact_string("bad name!") + compact_string("1.0") + uvarint(0)
    r = rpc(18, 3, body, corr=corr, flexible=True)
    check_eq(r.i16(), 42, "ApiVersions v3 with software name 'bad name!': INVALID_REQUEST")
    check_eq(r.compact_array(lambda x: x.i16()), [], "no ApiKeys")
    r.i32()
    r.tags()
    check(r.at_end(), "answer fully parsed")
    healthy("ApiVersions v3 with a bad software name")


def test_produce_v9_record_errors():
    """Produce v9 (flexible; v8's RecordErrors, KIP-467): a batch whose records
    are stamped two hours ahead (past message.timestamp.after.max.ms, 1 h)
    is refused INVALID_TIMESTAMP, every record listed by its index with
    Kafka's message, under Kafka's summary; response header v1 (tags after
    the correlation id). A good batch next to it is appended."""
    topic = unique("badinput-v9")
    now = int(time.time() * 1000)
    bad = record_batch([(b"k", b"v0"), (b"k", b"v1"), (b"k", b"v2")], ts=now + 2 * 3600 * 1000)
    good = record_batch([(b"k", b"ok")])
    body = (uvarint(0) + i16(1) + i32(10000) + uvarint(2)
            + compact_string(topic) + uvarint(3)
            + i32(0) + uvarint(len(bad) + 1) + bad + uvarint(0)
            + i32(1) + uvarint(len(good) + 1) + good + uvarint(0)
            + uvarint(0) + uvarint(0))
    corr = 9009
    # the topic is auto-created with one partition: make it two first
    wire.create_topics(broker.port, [(topic, 2, {})])
    r = rpc(0, 9, body, corr=corr, flexible=True)
    check_eq(r.tags(), {}, "Produce v9: response header v1 (empty tags after the correlation id)")
    topics = r.compact_array(lambda x: (x.compact_string(), x.compact_array(lambda y: (
        y.i32(), y.i16(), y.i64(), y.i64(), y.i64(),
        y.compact_array(lambda z: (z.i32(), z.compact_string(), z.tags())), y.compact_string(), y.tags())),
        x.tags()))
    r.i32()
    r.tags()
    check(r.at_end(), "Produce v9 answer fully parsed", "%d bytes left" % (len(r.d) - r.p))
    parts = {p[0]: p for p in topics[0][1]}
    check_eq(parts[0][1], 32, "the batch from the future: INVALID_TIMESTAMP")
    check_eq([e[0] for e in parts[0][5]], [0, 1, 2], "RecordErrors lists every record by its index")
    check(all("is out of range" in (e[1] or "") for e in parts[0][5]), "each with Kafka's message",
          parts[0][5])
    check_eq(parts[0][6], "One or more records have been rejected due to invalid timestamp",
             "ErrorMessage: Kafka's summary")
    check(parts[1][1] == 0 and parts[1][2] == 0 and parts[1][5] == [] and parts[1][6] is None,
          "the good batch beside it: appended at offset 0, no record errors, no message", parts[1])
    healthy("Produce v9 with a batch from the future")


def test_garbage():
    expect_closed(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", "an HTTP request (size field 0x47455420)")
    healthy("an HTTP request")
    for i in range(3):
        junk = bytes(rng.randrange(256) for _ in range(200))
        s = connect()
        try:
            send(s, junk)
            try:
                s.shutdown(socket.SHUT_WR)     # EOF: no more of the frame will come
            except OSError:
                pass                           # already closed by the broker
            check(wait_closed(s, 10), "random junk #%d (size field %d), then EOF: connection closed"
                  % (i, struct.unpack(">i", junk[:4])[0]))
        finally:
            s.close()
        healthy("random junk #%d" % i)
    # a well-formed frame with a nonsense body: header of a Produce v3, then junk
    corr = 777
    body = bytes(rng.randrange(256) for _ in range(64))
    expect_closed_or_error(frame(0, 3, corr, body), corr, "Produce v3 with a junk body", codes=(2, 35, 42, 87))
    healthy("a Produce with a junk body")
    # an array count that lies: 2^31-1 topics in a 40-byte request
    corr = 778
    body = nullable_string(None) + i16(-1) + i32(1000) + i32(0x7FFFFFFF)
    expect_closed_or_error(frame(0, 3, corr, body), corr, "Produce v3 claiming 2^31-1 topics", codes=(2, 35, 42, 87))
    healthy("a lying array count")


def test_truncated_frame():
    s = connect()
    send(s, i32(100) + b"\x00\x03\x00\x01" + b"\x00" * 6)   # 10 of the promised 100 bytes
    s.close()
    print("  sent size 100, then 10 bytes, then closed")
    healthy("a truncated frame")
    s = connect()
    send(s, b"\x00\x00")    # half a size field
    s.close()
    healthy("half a size field")


def test_lying_length():
    expect_closed(i32(0x7FFFFFFF) + b"\x00\x12\x00\x00", "size 0x7fffffff")
    healthy("size 0x7fffffff")
    expect_closed(struct.pack(">I", 0xFFFFFFFF) + b"\x00\x12\x00\x00", "size -1")
    healthy("size -1")
    expect_closed(struct.pack(">I", 0x80000000) + b"\x00\x12\x00\x00", "size -2^31")
    healthy("size -2^31")


def test_frame_over_max():
    big = MAX_REQUEST + 1
    s = connect()
    try:
        payload = i16(18) + i16(0) + i32(9) + string("itest") + b"\x00" * (big - 11)
        sent = send(s, i32(big) + payload)
        check(wait_closed(s, 10), "a %d-byte frame over socket.request.max.bytes=%d: connection closed (all sent: %s)"
              % (big, MAX_REQUEST, sent))
    finally:
        s.close()
    healthy("an oversized frame")
    # just under the limit still works: a Produce of one ~60 KB record
    topic = create_topic_raw(unique("bigok"))
    batch = record_batch([(b"big", b"v" * (MAX_REQUEST - 2000))])
    s = connect()
    try:
        send(s, produce_v3(55, topic, 0, batch))
        err, base = parse_produce(read_response(s), 55, topic)
    finally:
        s.close()
    check_eq((err, base), (0, 0), "a %d-byte Produce under the limit is accepted at offset 0" % (len(batch) + 60))


def test_unknown_api_and_version():
    expect_closed_or_error(frame(999, 0, 31, b""), 31, "unknown api key 999", codes=(35, 42))
    healthy("an unknown api key")
    expect_closed_or_error(frame(3, 99, 32, array([])), 32, "Metadata v99", codes=(35,))
    healthy("Metadata v99")
    expect_closed_or_error(frame(0, 2, 33, b""), 33, "Produce v2 (below the supported v3)", codes=(35,))
    healthy("Produce v2")


def create_topic_raw(name, partitions=1, expect=0):
    body = (array([string(name) + i32(partitions) + i16(1) + array([]) + array([])])
            + i32(10000) + i8(0))
    r = rpc(19, 2, body)
    r.i32()   # throttle
    topics = r.array(lambda x: (x.string(), x.i16(), x.string()))
    check(r.at_end(), "CreateTopics v2 response fully parsed")
    check_eq([(t[0], t[1]) for t in topics], [(name, expect),],
             "CreateTopics v2 %r: error %d (message: %s)" % (name, expect, topics[0][2] if topics else None))
    return name


def parse_produce(resp, corr, topic):
    check(resp is not None, "Produce v3 answered")
    r = Reader(resp)
    check_eq(r.i32(), corr, "Produce v3 correlation id")
    topics = r.array(lambda x: (x.string(), x.array(lambda y: (y.i32(), y.i16(), y.i64(), y.i64()))))
    r.i32()   # throttle
    check(r.at_end() and len(topics) == 1 and topics[0][0] == topic and len(topics[0][1]) == 1,
          "Produce v3 response: one topic, one partition, fully parsed")
    return topics[0][1][0][1], topics[0][1][0][2]


def produce_raw(topic, batch, corr=None):
    corr = corr or rng.randrange(1, 1 << 30)
    s = connect()
    try:
        send(s, produce_v3(corr, topic, 0, batch))
        return parse_produce(read_response(s), corr, topic)
    finally:
        s.close()


def test_corrupt_crc():
    topic = create_topic_raw(unique("crc"))
    good = record_batch([(b"k1", b"first"), (b"k2", b"second"), (b"k3", b"third")])
    err, base = produce_raw(topic, good)
    check_eq((err, base), (0, 0), "a correct hand-built batch (our CRC-32C) is accepted at offset 0")
    check_eq(end_offset(topic, 0), 3, "end offset 3 after it")

    bad = bytearray(good)
    bad[-5] ^= 0x20                                  # a bit in the last record's value
    err, _ = produce_raw(topic, bytes(bad))
    check_eq(err, 2, "a batch with a flipped payload bit: CORRUPT_MESSAGE (2)")
    check_eq(end_offset(topic, 0), 3, "nothing written: end offset still 3")

    bad = bytearray(good)
    bad[17] ^= 0xFF                                  # the CRC field itself
    err, _ = produce_raw(topic, bytes(bad))
    check_eq(err, 2, "a batch with a wrong CRC field: CORRUPT_MESSAGE (2)")
    check_eq(end_offset(topic, 0), 3, "nothing written: end offset still 3")

    long_len = bytearray(good)
    struct.pack_into(">i", long_len, 8, len(good) - 12 + 100)    # batchLength 100 past the bytes sent
    err, _ = produce_raw(topic, bytes(long_len))
    check(err != 0, "a batch whose batchLength runs past the data is rejected (error %d)" % err)
    check_eq(end_offset(topic, 0), 3, "nothing written: end offset still 3")

    v1 = record_batch([(b"k", b"old format")], magic=1)
    err, _ = produce_raw(topic, v1)
    check(err != 0, "a batch with magic 1 is rejected (error %d)" % err)
    check_eq(end_offset(topic, 0), 3, "nothing written: end offset still 3")

    err, base = produce_raw(topic, record_batch([(b"k4", b"fourth")]))
    check_eq((err, base), (0, 3), "a correct batch afterwards lands at offset 3")
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "itest-bad-input-assign",
                     "enable.auto.commit": False, "check.crcs": True, "enable.partition.eof": True})
    try:
        c.assign([ck.TopicPartition(topic, 0, 0)])
        got = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == ck.KafkaError._PARTITION_EOF:
                    if len(got) >= 4:
                        break
                    continue
                got.append(("consumer error", str(m.error())))
                break
            got.append((m.offset(), m.key(), m.value()))
        check_eq(got, [(0, b"k1", b"first"), (1, b"k2", b"second"), (2, b"k3", b"third"), (3, b"k4", b"fourth")],
                 "a consumer (checking CRCs) reads exactly the four good records")
    finally:
        c.close()
    healthy("corrupt batches")


def test_bad_topic_names():
    for name in ("bad name", "a/b", "..", "x" * 250, ""):
        create_topic_raw(name, expect=17)
    healthy("CreateTopics with bad names")
    good = unique("autocreate")
    r = rpc(3, 4, array([string("bad name!"), string(good)]) + i8(1))
    r.i32()    # throttle
    brokers = r.array(lambda x: (x.i32(), x.string(), x.i32(), x.string()))
    r.string()
    r.i32()
    topics = r.array(lambda x: (x.i16(), x.string(), x.i8(),
                                x.array(lambda y: (y.i16(), y.i32(), y.i32(),
                                                   y.array(lambda z: z.i32()), y.array(lambda z: z.i32())))))
    check(r.at_end(), "Metadata v4 response fully parsed")
    check_eq([b[2] for b in brokers], [broker.port], "Metadata v4 lists the broker on its port")
    errs = {t[1]: t[0] for t in topics}
    check_eq(errs.get("bad name!"), 17, "Metadata v4 auto-create of \"bad name!\": INVALID_TOPIC_EXCEPTION (17)")
    check(errs.get(good) in (0, 5), "Metadata v4 auto-create of a good name: error 0 or LEADER_NOT_AVAILABLE",
          errs.get(good))
    healthy("Metadata auto-create with a bad name")


def test_half_frames_beside_a_working_client():
    stalled = []
    try:
        for i in range(50):
            s = connect()
            send(s, i32(1000) + i16(18) + i16(0) + i32(i))   # 8 of 1000 bytes, then nothing
            stalled.append(s)
        print("  50 connections each holding half a frame")
        t0 = time.monotonic()
        healthy("50 stalled half frames")   # its own limits (message.timeout.ms 15 s, 20 s to read) catch a stall
        print("  MEASURED: the round trip beside 50 stalled half frames took %.2fs" % (time.monotonic() - t0),
              flush=True)
        r = rpc(18, 0, b"")
        check_eq(r.i16(), 0, "a raw ApiVersions on another connection is answered meanwhile")
    finally:
        for s in stalled:
            s.close()
    healthy("closing the stalled connections")


def main():
    try:
        broker.start()
        print("broker pid %d on %s, socket.request.max.bytes=%d" % (broker.pid, broker.bootstrap, MAX_REQUEST),
              flush=True)
        rc = run_tests([test_baseline_api_versions, test_api_versions_v3, test_api_versions_unsupported,
                        test_api_versions_bad_software, test_produce_v9_record_errors, test_garbage, test_truncated_frame,
                        test_lying_length, test_frame_over_max, test_unknown_api_and_version, test_corrupt_crc,
                        test_bad_topic_names, test_half_frames_beside_a_working_client], [broker])
        return broker.finish(rc)
    finally:
        broker.cleanup()


if __name__ == "__main__":
    sys.exit(main())
