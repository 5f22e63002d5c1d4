#!/usr/bin/python3
"""kafka-python (python3-kafka) and confluent-kafka (python3-confluent-kafka)
against samsa-broker: admin create/delete topics and partitions, keyed
produce, consume with assign() at explicit offsets, offsets for times.

Usage: test_python_clients.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check, check_eq, run_tests, unique  # noqa: E402

import confluent_kafka as ck  # noqa: E402
import confluent_kafka.admin as cka  # noqa: E402
import kafka  # noqa: E402
import kafka.admin as ka  # noqa: E402
import kafka.errors as kerr  # noqa: E402
from kafka.structs import TopicPartition as KTP  # noqa: E402

broker = Broker(overrides={"num.partitions": 2, "auto.create.topics.enable": "false"},
                name="pyclients")


def messages(tag, partitions, per_partition):
    """Expected content: {partition: [(key, value), ...]}."""
    return {p: [(("%s-k%d" % (tag, i % 5)).encode(),
                 ("%s p%d #%d %s" % (tag, p, i, "x" * (i % 17))).encode())
                for i in range(per_partition)]
            for p in range(partitions)}


# -- kafka-python ------------------------------------------------------------

def kp_admin():
    return ka.KafkaAdminClient(bootstrap_servers=broker.bootstrap, client_id="itest-kafka-python",
                               request_timeout_ms=20000)


def kp_topics():
    c = kafka.KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None)
    try:
        return set(c.topics())
    finally:
        c.close()


def kp_consume(topic, partitions, want_total, timeout=30):
    c = kafka.KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None,
                            enable_auto_commit=False, auto_offset_reset="none")
    got = {}
    try:
        tps = [KTP(topic, p) for p in range(partitions)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout
        n = 0
        while n < want_total and time.monotonic() < deadline:
            for tp, recs in c.poll(timeout_ms=200).items():
                for r in recs:
                    got.setdefault(tp.partition, []).append((r.offset, r.key, r.value))
                    n += 1
        # anything extra would show up now
        for tp, recs in c.poll(timeout_ms=300).items():
            for r in recs:
                got.setdefault(tp.partition, []).append((r.offset, r.key, r.value))
        ends = c.end_offsets(tps)
        return got, {tp.partition: o for tp, o in ends.items()}
    finally:
        c.close()


def test_kafka_python_admin():
    admin = kp_admin()
    try:
        topic = unique("kp-admin")
        admin.create_topics([ka.NewTopic(topic, 3, 1, topic_configs={"retention.ms": "3600000"})],
                            timeout_ms=20000)
        check(topic in kp_topics(), "kafka-python create_topics: %s listed in metadata" % topic)
        parts = kafka.KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None)
        try:
            check_eq(parts.partitions_for_topic(topic), {0, 1, 2}, "the topic has partitions 0..2")
        finally:
            parts.close()
        try:
            admin.create_topics([ka.NewTopic(topic, 1, 1)], timeout_ms=20000)
            raised = None
        except kerr.TopicAlreadyExistsError as e:
            raised = e
        check(raised is not None, "creating it again raises TopicAlreadyExistsError")
        vtopic = unique("kp-validate")
        admin.create_topics([ka.NewTopic(vtopic, 1, 1)], timeout_ms=20000, validate_only=True)
        check(vtopic not in kp_topics(), "validate_only create leaves no topic behind")
        try:
            admin.create_topics([ka.NewTopic("no/slashes", 1, 1)], timeout_ms=20000)
            raised = None
        except kerr.InvalidTopicError as e:
            raised = e
        check(raised is not None, "an invalid name raises InvalidTopicError (17)")
        res = admin.describe_configs([ka.ConfigResource(ka.ConfigResourceType.TOPIC, topic)])
        entries = {}
        for r in res:
            for (err, _msg, _rtype, rname, cfgs) in r.resources:
                check_eq((err, rname), (0, topic), "describe_configs: no error for the topic")
                for c in cfgs:
                    entries[c[0]] = c[1]
        check_eq(entries.get("retention.ms"), "3600000", "describe_configs shows the create-time retention.ms")
        admin.create_partitions({topic: ka.NewPartitions(5)}, timeout_ms=20000)
        c = kafka.KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None)
        try:
            check_eq(c.partitions_for_topic(topic), {0, 1, 2, 3, 4},
                     "create_partitions 3 -> 5: a new client sees partitions 0..4")
        finally:
            c.close()
        admin.delete_topics([topic], timeout_ms=20000)
        check(topic not in kp_topics(), "delete_topics: %s gone from metadata" % topic)
        try:
            admin.delete_topics([topic], timeout_ms=20000)
            raised = None
        except kerr.UnknownTopicOrPartitionError as e:
            raised = e
        check(raised is not None, "deleting it again raises UnknownTopicOrPartitionError")
    finally:
        admin.close()


def test_kafka_python_produce_consume():
    admin = kp_admin()
    topic = unique("kp-data")
    try:
        admin.create_topics([ka.NewTopic(topic, 3, 1)], timeout_ms=20000)
    finally:
        admin.close()
    want = messages("kp", 3, 40)
    for codec in (None, "gzip"):
        prod = kafka.KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5,
                                   compression_type=codec, client_id="itest-kafka-python")
        try:
            futs = []
            for p in range(3):
                half = want[p][:20] if codec is None else want[p][20:]
                for k, v in half:
                    futs.append((p, prod.send(topic, key=k, value=v, partition=p)))
            prod.flush(30)
            metas = [(p, f.get(timeout=30)) for p, f in futs]
        finally:
            prod.close(10)
        check(all(m.partition == p and m.topic == topic for p, m in metas),
              "kafka-python (%s): every send acknowledged on its partition" % (codec or "no compression"))
        base = 0 if codec is None else 20
        for p in range(3):
            check_eq([m.offset for q, m in metas if q == p], list(range(base, base + 20)),
                     "kafka-python (%s): partition %d offsets %d..%d" % (codec or "none", p, base, base + 19))
    got, ends = kp_consume(topic, 3, 120)
    for p in range(3):
        check_eq([(o, k, v) for o, k, v in got.get(p, [])],
                 [(i, k, v) for i, (k, v) in enumerate(want[p])],
                 "kafka-python consume (assign + seek_to_beginning) partition %d: 40 exact messages in order" % p)
        check_eq(ends[p], 40, "kafka-python end_offsets partition %d is 40" % p)
    # offsets_for_times
    c = kafka.KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None)
    try:
        tp = KTP(topic, 0)
        r = c.offsets_for_times({tp: 0})
        check(r[tp] is not None and r[tp].offset == 0, "kafka-python offsets_for_times(0) is offset 0", r)
        r = c.offsets_for_times({tp: int(time.time() * 1000) + 3600000})
        check(r[tp] is None, "kafka-python offsets_for_times(an hour ahead) is None", r)
        check_eq(c.beginning_offsets([tp])[tp], 0, "kafka-python beginning_offsets is 0")
    finally:
        c.close()


# -- confluent-kafka ---------------------------------------------------------

def ck_admin():
    return cka.AdminClient({"bootstrap.servers": broker.bootstrap})


def ck_topics(admin):
    return admin.list_topics(timeout=10).topics


def ck_err(fut):
    """The KafkaError code a future fails with, or None when it succeeds."""
    try:
        fut.result(timeout=30)
        return None
    except ck.KafkaException as e:
        return e.args[0].code()


def ck_consume(topic, partitions, want_total, timeout=30, start=ck.OFFSET_BEGINNING):
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "itest-assign-only",
                     "enable.auto.commit": False, "enable.partition.eof": True,
                     "auto.offset.reset": "error", "check.crcs": True, "fetch.wait.max.ms": 100})
    got = {}
    try:
        c.assign([ck.TopicPartition(topic, p, start) for p in range(partitions)])
        eof = {}
        deadline = time.monotonic() + timeout
        n = 0
        while time.monotonic() < deadline:
            if n >= want_total and len(eof) == partitions and all(
                    eof[p] == (got[p][-1][0] + 1 if got.get(p) else eof[p]) for p in eof):
                break
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == ck.KafkaError._PARTITION_EOF:
                    eof[m.partition()] = m.offset()
                    continue
                if m.topic():
                    raise AssertionError("consumer error on %s [%s]: %s" % (m.topic(), m.partition(), m.error()))
                print("  (consumer notice: %s)" % m.error())
                continue
            got.setdefault(m.partition(), []).append((m.offset(), m.key(), m.value()))
            n += 1
        return got
    finally:
        c.close()


def test_confluent_admin():
    admin = ck_admin()
    topic = unique("ck-admin")
    fs = admin.create_topics([cka.NewTopic(topic, 4, 1, config={"retention.ms": "7200000"})])
    check_eq(ck_err(fs[topic]), None, "confluent create_topics %s succeeds" % topic)
    t = ck_topics(admin).get(topic)
    check(t is not None and sorted(t.partitions) == [0, 1, 2, 3],
          "list_topics shows %s with partitions 0..3" % topic, t and sorted(t.partitions))
    fs = admin.create_topics([cka.NewTopic(topic, 1, 1)])
    check_eq(ck_err(fs[topic]), ck.KafkaError.TOPIC_ALREADY_EXISTS, "creating it again: TOPIC_ALREADY_EXISTS")
    v = unique("ck-validate")
    fs = admin.create_topics([cka.NewTopic(v, 2, 1)], validate_only=True)
    check_eq(ck_err(fs[v]), None, "validate_only create succeeds")
    check(v not in ck_topics(admin), "and leaves no topic behind")
    fs = admin.create_topics([cka.NewTopic("spaces are bad", 1, 1)])
    check_eq(ck_err(fs["spaces are bad"]), ck.KafkaError.TOPIC_EXCEPTION,
             "an invalid name: INVALID_TOPIC_EXCEPTION (17)")
    res = cka.ConfigResource("topic", topic)
    cfg = admin.describe_configs([res])[res].result(timeout=30)
    check_eq(cfg["retention.ms"].value, "7200000", "describe_configs: retention.ms from create time")
    fs = admin.create_partitions([cka.NewPartitions(topic, 6)])
    check_eq(ck_err(fs[topic]), None, "create_partitions 4 -> 6 succeeds")
    check_eq(sorted(ck_topics(admin)[topic].partitions), list(range(6)), "list_topics shows 6 partitions")
    fs = admin.delete_topics([topic], operation_timeout=20)
    check_eq(ck_err(fs[topic]), None, "delete_topics %s succeeds" % topic)
    check(topic not in ck_topics(admin), "the topic is gone from list_topics")
    fs = admin.delete_topics([topic], operation_timeout=20)
    check_eq(ck_err(fs[topic]), ck.KafkaError.UNKNOWN_TOPIC_OR_PART, "deleting it again: UNKNOWN_TOPIC_OR_PART")


def test_confluent_produce_consume():
    admin = ck_admin()
    topic = unique("ck-data")
    check_eq(ck_err(admin.create_topics([cka.NewTopic(topic, 3, 1)])[topic]), None, "create %s" % topic)
    want = messages("ck", 3, 60)
    codecs = ["none", "gzip", "snappy", "lz4", "zstd"]
    reports = []

    def on_delivery(err, msg):
        reports.append((err, msg.partition(), msg.offset(), msg.key(), msg.value()))

    for n, codec in enumerate(codecs):
        prod = ck.Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5,
                            "compression.type": codec})
        for p in range(3):
            for k, v in want[p][n * 12:(n + 1) * 12]:
                prod.produce(topic, value=v, key=k, partition=p, on_delivery=on_delivery)
        left = prod.flush(30)
        check_eq(left, 0, "confluent producer (%s): everything flushed" % codec)
    check_eq(len(reports), 180, "180 delivery reports")
    check_eq([r for r in reports if r[0] is not None], [], "no delivery report carries an error")
    for p in range(3):
        check_eq([(o, k, v) for e, q, o, k, v in reports if q == p],
                 [(i, k, v) for i, (k, v) in enumerate(want[p])],
                 "partition %d: delivery offsets 0..59 in produce order" % p)
    got = ck_consume(topic, 3, 180)
    for p in range(3):
        check_eq(got.get(p, []), [(i, k, v) for i, (k, v) in enumerate(want[p])],
                 "confluent consume (assign at beginning) partition %d: 60 exact messages, 5 codecs, in order" % p)
    mid = ck_consume(topic, 1, 30, start=30)
    check_eq(mid.get(0, []), [(30 + i, k, v) for i, (k, v) in enumerate(want[0][30:])],
             "assign at offset 30: the exact tail")
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "itest-assign-only",
                     "enable.auto.commit": False})
    try:
        lo, hi = c.get_watermark_offsets(ck.TopicPartition(topic, 1), timeout=10)
        check_eq((lo, hi), (0, 60), "get_watermark_offsets partition 1 is (0, 60)")
        r = c.offsets_for_times([ck.TopicPartition(topic, 2, 0)], timeout=10)
        check_eq((r[0].error, r[0].offset), (None, 0), "offsets_for_times(0) is offset 0")
    finally:
        c.close()
    check_eq(ck_err(admin.delete_topics([topic], operation_timeout=20)[topic]), None, "delete %s" % topic)


def main():
    try:
        broker.start()
        print("broker pid %d on %s; kafka-python %s, confluent-kafka %s (librdkafka %s)"
              % (broker.pid, broker.bootstrap, kafka.__version__, ck.version()[0], ck.libversion()[0]),
              flush=True)
        rc = run_tests([test_kafka_python_admin, test_kafka_python_produce_consume,
                        test_confluent_admin, test_confluent_produce_consume], [broker])
        return broker.finish(rc)
    finally:
        broker.cleanup()


if __name__ == "__main__":
    sys.exit(main())
