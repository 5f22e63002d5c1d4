#!/usr/bin/python3
"""LogAppendTime, as docs/broker.md promises it: on a topic with
message.timestamp.type=LogAppendTime (or a broker with
log.message.timestamp.type=LogAppendTime) the broker stamps each batch's
MaxTimestamp with its own clock and sets the timestamp-type attribute,
keeps the CRC-32C valid, and returns that time as the Produce response's
log_append_time; consumers see the broker's time with the LogAppendTime
type. A CreateTime topic keeps the producer's timestamps and answers
log_append_time -1.

Raw Produce v3 and Fetch v4 frames (kafka_wire) check the bytes;
confluent-kafka consumers (check.crcs on) check what a client sees.

Usage: test_log_append_time.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import math
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check, check_eq, run_tests, unique  # noqa: E402
import kafka_wire as wire  # noqa: E402

import confluent_kafka as ck  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource  # noqa: E402

OLD_TS = 1000000000000            # 2001-09-09: a CreateTime no broker clock shows
ATTR_LOG_APPEND_TIME = 0x08

broker = Broker(overrides={"auto.create.topics.enable": "false"}, name="lat")
broker_wide = Broker(overrides={"auto.create.topics.enable": "false", "log.message.timestamp.type": "LogAppendTime"},
                     name="lat-broker-wide")
_corr = [3000]


def next_corr():
    _corr[0] += 1
    return _corr[0]


def create_topic(b, name, config):
    check_eq(wire.create_topics(b.port, [(name, 1, config)], corr=next_corr()), {name: (0, None)},
             "created %s with %s" % (name, config or "no config"))
    return name


def produce_timed(b, topic, batch):
    """Produce v3 acks=-1 of one batch: (error, base offset, log_append_time,
    wall ms before, wall ms after)."""
    corr = next_corr()
    before = math.floor(time.time() * 1000)
    resp = wire.roundtrip(b.port, wire.produce_request(corr, {(topic, 0): batch}, acks=-1), timeout=30)
    after = math.ceil(time.time() * 1000)
    err, base, lat = wire.parse_produce(resp, corr)[(topic, 0)]
    return err, base, lat, before, after


def fetch_batches(b, topic):
    corr = next_corr()
    r = wire.parse_fetch_v4(wire.roundtrip(b.port, wire.fetch_v4(corr, [(topic, 0, 0, 1 << 20)])), corr)[(topic, 0)]
    got, rest = wire.batches(r["records"])
    if r["err"] or rest:
        raise AssertionError("fetch %s: error %d, %d trailing bytes" % (topic, r["err"], len(rest)))
    return got


def header(batch):
    """(attributes, FirstTimestamp, MaxTimestamp) of a record batch v2."""
    attrs, = struct.unpack_from(">h", batch, 21)
    first, mx = struct.unpack_from(">qq", batch, 27)
    return attrs, first, mx


def consume(b, topic, n):
    """[(timestamp type, timestamp, value)] of the first n messages, read
    by confluent-kafka with CRC checks on."""
    c = ck.Consumer({"bootstrap.servers": b.bootstrap, "group.id": "itest-lat", "enable.auto.commit": False,
                     "check.crcs": True, "fetch.wait.max.ms": 50})
    got = []
    try:
        c.assign([ck.TopicPartition(topic, 0, ck.OFFSET_BEGINNING)])
        deadline = time.monotonic() + 30
        while len(got) < n and time.monotonic() < deadline:
            for m in c.consume(n, 0.2):
                if m.error():
                    raise AssertionError("consumer error: %s" % m.error())
                tstype, ts = m.timestamp()
                got.append((tstype, ts, m.value()))
    finally:
        c.close()
    return got


def records(tag, n=3):
    return [(b"k%d" % i, b"%s %d" % (tag, i)) for i in range(n)]


def check_stamped(b, topic, what):
    """Produce a CreateTime batch to a LogAppendTime topic and check every
    promise about it."""
    sent = wire.record_batch(records(b"stamped"), ts=OLD_TS)
    err, base, lat, before, after = produce_timed(b, topic, sent)
    check_eq((err, base), (0, 0), "%s: produced at offset 0" % what)
    check(before <= lat <= after, "%s: the Produce response's log_append_time %d is the broker's clock (between %d "
          "and %d, when the request was sent and answered)" % (what, lat, before, after))
    (_b, _l, count, stored, crc_ok), = fetch_batches(b, topic)
    attrs, first, mx = header(stored)
    check(attrs & ATTR_LOG_APPEND_TIME, "%s: the stored batch has the LogAppendTime attribute (0x%x)" % (what, attrs))
    check_eq(mx, lat, "%s: its MaxTimestamp is that log_append_time" % what)
    check(crc_ok, "%s: its CRC-32C is valid after the stamping" % what)
    check_eq(stored[43:], sent[43:], "%s: producer fields and records as sent" % what)
    print("  FirstTimestamp %d (as sent: %d)" % (first, OLD_TS))
    got = consume(b, topic, count)
    check_eq(got, [(ck.TIMESTAMP_LOG_APPEND_TIME, lat, v) for _k, v in records(b"stamped")],
             "%s: confluent-kafka (check.crcs) reads each message with type LogAppendTime and the broker's time" % what)


def test_topic_log_append_time():
    topic = create_topic(broker, unique("lat"), {"message.timestamp.type": "LogAppendTime"})
    check_stamped(broker, topic, "message.timestamp.type=LogAppendTime")


def test_create_time_untouched():
    topic = create_topic(broker, unique("ct"), {})
    sent = wire.record_batch(records(b"create"), ts=OLD_TS)
    err, base, lat, _, _ = produce_timed(broker, topic, sent)
    check_eq((err, base, lat), (0, 0, -1), "CreateTime topic: offset 0, log_append_time -1")
    (_b, _l, _c, stored, crc_ok), = fetch_batches(broker, topic)
    check(crc_ok and stored[17:] == sent[17:], "the batch is stored as sent from its CRC on")
    check_eq(consume(broker, topic, 3), [(ck.TIMESTAMP_CREATE_TIME, OLD_TS, v) for _k, v in records(b"create")],
             "confluent-kafka reads the producer's CreateTime")


def test_altered_to_log_append_time():
    topic = create_topic(broker, unique("alter"), {})
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={"message.timestamp.type": "LogAppendTime"})
    admin.alter_configs([res])[res].result(30)
    check(True, "AlterConfigs: message.timestamp.type=LogAppendTime on %s" % topic)
    check_stamped(broker, topic, "after AlterConfigs")


def test_broker_wide():
    broker_wide.start()
    try:
        topic = create_topic(broker_wide, unique("lat-wide"), {})
        check_stamped(broker_wide, topic, "log.message.timestamp.type=LogAppendTime, topic without config")
        rc = broker_wide.finish(0)
        check_eq(rc, 0, "the second broker exits 0 on SIGTERM with no sanitizer report")
    finally:
        broker_wide.cleanup()


def main():
    try:
        broker.start()
        print("broker pid %d on %s" % (broker.pid, broker.bootstrap), flush=True)
        rc = run_tests([test_topic_log_append_time, test_create_time_untouched, test_altered_to_log_append_time,
                        test_broker_wide], [broker, broker_wide])
        return broker.finish(rc)
    finally:
        broker.cleanup()
        broker_wide.cleanup()


if __name__ == "__main__":
    sys.exit(main())
