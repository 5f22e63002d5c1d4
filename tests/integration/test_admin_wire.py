#!/usr/bin/python3
"""The admin APIs and ListOffsets over raw frames: every refusal the
handlers make, with the error code (and message) Kafka's clients expect,
checked field by field in the answer; and every request that does not
decode closes the connection without harming the broker.

  ListOffsets v0-v3   unknown topic and partitions (3), a negative timestamp
                      other than -1/-2 (42), a timestamp after every record
                      (offset -1, no error), v0's old-style offset list
  ListOffsets v4-v10  LeaderEpoch, CurrentLeaderEpoch 1 (75), MAX_TIMESTAMP,
                      EARLIEST_LOCAL, LATEST_TIERED from their versions
  CreateTopics v0-v4  a name twice (42, the first one created), manual
                      assignment (39), a null config value, unknown configs,
                      values out of range, values samsa does not support
                      (40), partitions 0 and 10001 (37), replication 3 (38);
                      nothing created by a refused request
  CreatePartitions    a name twice (42), unknown topic (3), assignment (39),
                      fewer or too many partitions (37), validate-only
  DeleteRecords       unknown topic and partition (3)
  DescribeConfigs     a resource twice (42), an invalid topic name (17),
                      unknown topic (3), another broker id (42), resource
                      types other than TOPIC and BROKER (42), the key
                      filter, v0's IsDefault, a retention given in hours
                      (source STATIC_BROKER_CONFIG)
  AlterConfigs        a broker resource (42), unknown topic (3), an empty
                      config name (40), a null value (back to the default),
                      validate-only
  DeleteTopics        delete.topic.enable=false: TOPIC_DELETION_DISABLED
                      (73) from v3, INVALID_REQUEST (42) before
  every API key/version the broker speaks, with a body that does not
  decode, and a frame too short for its header: the connection is closed,
  the broker answers the next client

Usage: test_admin_wire.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check, check_eq, run_tests, unique  # noqa: E402
import kafka_wire as wire  # noqa: E402
from kafka_wire import (array, compact_string, i8, i16, i32, i64, nullable_string, string,  # noqa: E402
                        uvarint)

broker = Broker(overrides={"auto.create.topics.enable": "false", "num.partitions": "2",
                           "log.retention.hours": "100", "log.roll.hours": "10"}, name="admin")
no_delete = Broker(overrides={"delete.topic.enable": "false"}, name="admin-no-delete")

_corr = [100]


def rpc(api, version, body, b=None):
    _corr[0] += 1
    return wire.rpc((b or broker).port, api, version, body, corr=_corr[0])


def produce(topic, partition, n):
    batch = wire.record_batch([(b"k%d" % i, b"v%d" % i) for i in range(n)])
    resp = wire.roundtrip(broker.port, wire.produce_request(7, {(topic, partition): batch}))
    err, base, _ = wire.parse_produce(resp, 7)[(topic, partition)]
    check_eq(err, 0, "produced %d records to %s-%d" % (n, topic, partition))
    return base


# -- encoders and decoders (Kafka's *Request.json / *Response.json) ------------


def create_topics(topics, version=2, validate_only=False):
    """topics: [(name, partitions, replication, assignments, {config: value})];
    {name: [(error, message)]} (a list: a name may come back twice)."""
    body = array([string(n) + i32(p) + i16(rf)
                  + array([i32(pi) + array([i32(b) for b in ids]) for pi, ids in asg])
                  + array([string(k) + nullable_string(v) for k, v in cfg.items()])
                  for n, p, rf, asg, cfg in topics]) + i32(10000)
    if version >= 1:
        body += i8(1 if validate_only else 0)
    r = rpc(19, version, body)
    if version >= 2:
        r.i32()
    out = {}
    for n, e, m in r.array(lambda x: (x.string(), x.i16(), x.string() if version >= 1 else None)):
        out.setdefault(n, []).append((e, m))
    check(r.at_end(), "CreateTopics v%d answer read to its last byte" % version)
    return out


def describe_configs(resources, version=1):
    """resources: [(type, name, keys or None)]; [(error, message, type, name,
    {config: (value, read_only, source or is_default, sensitive)})]."""
    body = array([i8(t) + string(n) + (i32(-1) if keys is None else array([string(k) for k in keys]))
                  for t, n, keys in resources])
    if version >= 1:
        body += i8(0)
    r = rpc(32, version, body)
    r.i32()

    def config(x):
        name, value, ro, src, sens = x.string(), x.string(), x.i8(), x.i8(), x.i8()
        if version >= 1:
            x.array(lambda y: (y.string(), y.string(), y.i8()))
        return name, (value, ro, src, sens)

    out = r.array(lambda x: (x.i16(), x.string(), x.i8(), x.string(), dict(x.array(config))))
    check(r.at_end(), "DescribeConfigs v%d answer read to its last byte" % version)
    return out


def alter_configs(resources, validate_only=False, version=0):
    """resources: [(type, name, {config: value or None})]; [(error, message, type, name)]."""
    body = array([i8(t) + string(n) + array([string(k) + nullable_string(v) for k, v in cfg.items()])
                  for t, n, cfg in resources]) + i8(1 if validate_only else 0)
    r = rpc(33, version, body)
    r.i32()
    out = r.array(lambda x: (x.i16(), x.string(), x.i8(), x.string()))
    check(r.at_end(), "AlterConfigs v%d answer read to its last byte" % version)
    return out


def topic_configs(topic):
    res = describe_configs([(2, topic, None)])
    check_eq(res[0][0], 0, "DescribeConfigs of %s" % topic)
    return res[0][4]


def topic_exists(topic):
    return describe_configs([(2, topic, [])])[0][0] == 0


# -- tests ---------------------------------------------------------------------


def test_list_offsets():
    topic = unique("lo")
    check_eq(create_topics([(topic, 2, 1, [], {})]), {topic: [(0, None)]}, "created %s" % topic)
    produce(topic, 0, 3)
    missing = unique("missing")
    for v in range(0, 4):
        parts = [(0, -1), (1, -2), (2, -1), (-1, -1), (0, -3), (0, 1 << 62)]
        if v == 0:
            body = i32(-1) + array([string(topic) + array([i32(p) + i64(ts) + i32(1) for p, ts in parts]),
                                    string(missing) + array([i32(0) + i64(-1) + i32(1)])])
        else:
            body = i32(-1) + (i8(0) if v >= 2 else b"") + array(
                [string(topic) + array([i32(p) + i64(ts) for p, ts in parts]),
                 string(missing) + array([i32(0) + i64(-1)])])
        r = rpc(2, v, body)
        if v >= 2:
            r.i32()
        if v == 0:
            got = r.array(lambda x: (x.string(), x.array(lambda y: (y.i32(), y.i16(), y.array(lambda z: z.i64())))))
            want = [(topic, [(0, 0, [3]), (1, 0, [0]), (2, 3, []), (-1, 3, []), (0, 42, []), (0, 0, [])]),
                    (missing, [(0, 3, [])])]
        else:
            got = r.array(lambda x: (x.string(), x.array(lambda y: (y.i32(), y.i16(), y.i64(), y.i64()))))
            want = [(topic, [(0, 0, -1, 3), (1, 0, -1, 0), (2, 3, -1, -1), (-1, 3, -1, -1), (0, 42, -1, -1),
                             (0, 0, -1, -1)]),
                    (missing, [(0, 3, -1, -1)])]
        check(r.at_end(), "ListOffsets v%d answer read to its last byte" % v)
        check_eq(got, want, "ListOffsets v%d: latest 3, earliest 0, partitions 2 and -1 and an unknown topic "
                 "UNKNOWN_TOPIC_OR_PARTITION, timestamp -3 INVALID_REQUEST, a timestamp after every record: "
                 "offset -1 without error" % v)


def test_list_offsets_v4_v10():
    """ListOffsets v4-v10 (v6+ flexible): LeaderEpoch in the answer (0 once
    the log has a record, -1 for a log never written or no offset),
    CurrentLeaderEpoch newer than 0 refused UNKNOWN_LEADER_EPOCH (75), and
    the special timestamps from the version that brings them: -3
    MAX_TIMESTAMP (v7), -4 EARLIEST_LOCAL (v8: the log start, nothing is
    tiered), -5 LATEST_TIERED (v9: -1); before that version they are
    INVALID_REQUEST (42)."""
    topic = unique("lo4")
    check_eq(create_topics([(topic, 2, 1, [], {})]), {topic: [(0, None)]}, "created %s" % topic)
    t0 = int(time.time() * 1000)
    produce(topic, 0, 3)
    t1 = int(time.time() * 1000)
    parts = [(0, -1, -1), (1, -1, -1), (0, -2, -1), (0, -3, -1), (0, -4, -1), (0, -5, -1), (0, -1, 1)]
    for v in range(4, 11):
        fx = v >= 6
        if fx:
            body = (i32(-1) + i8(0) + uvarint(2) + compact_string(topic) + uvarint(len(parts) + 1)
                    + b"".join(i32(p) + i32(ce) + i64(ts) + uvarint(0) for p, ce, ts in
                               [(p, ce, ts) for p, ts, ce in parts])
                    + uvarint(0) + (i32(1000) if v >= 10 else b"") + uvarint(0))
            _corr[0] += 1
            r = wire.rpc(broker.port, 2, v, body, corr=_corr[0], flexible=True)
            check_eq(r.tags(), {}, "ListOffsets v%d: response header v1" % v)
            r.i32()
            (name, got, _), = r.compact_array(lambda x: (x.compact_string(), x.compact_array(lambda y: (
                y.i32(), y.i16(), y.i64(), y.i64(), y.i32(), y.tags())), x.tags()))
            got = [g[:5] for g in got]
            r.tags()
        else:
            body = i32(-1) + i8(0) + array([string(topic) + array([i32(p) + i32(ce) + i64(ts)
                                                                   for p, ts, ce in parts])])
            r = rpc(2, v, body)
            r.i32()
            (name, got), = r.array(lambda x: (x.string(), x.array(lambda y: (
                y.i32(), y.i16(), y.i64(), y.i64(), y.i32()))))
        check(r.at_end(), "ListOffsets v%d answer read to its last byte" % v)
        bad = (0, 42, -1, -1, -1)
        want = [(0, 0, -1, 3, 0), (1, 0, -1, 0, -1), (0, 0, -1, 0, 0),
                None if v >= 7 else bad,
                (0, 0, -1, 0, 0) if v >= 8 else bad,
                (0, 0, -1, -1, -1) if v >= 9 else bad,
                (0, 75, -1, -1, -1)]
        if v >= 7:
            p, err, ts, off, ep = got[3]
            check(err == 0 and off == 0 and ep == 0 and t0 - 1000 <= ts <= t1 + 1000,
                  "ListOffsets v%d MAX_TIMESTAMP: offset 0 (all three records share the largest timestamp), "
                  "its timestamp, epoch 0" % v, got[3])
            got[3] = None
        check_eq(got, want, "ListOffsets v%d: latest 3 (epoch 0), an empty partition's latest 0 (epoch -1), "
                 "earliest 0, the special timestamps, CurrentLeaderEpoch 1 refused" % v)


def test_create_topics_refusals():
    base = unique("ct")
    dup, asg, nullcfg = base + "-dup", base + "-asg", base + "-null"
    got = create_topics([(dup, 1, 1, [], {}), (dup, 3, 1, [], {}),
                         (asg, -1, -1, [(0, [1])], {}),
                         (nullcfg, 1, 1, [], {"retention.ms": None})])
    check_eq(got[dup][0], (0, None), "a topic named twice: the first is created")
    check(got[dup][1][0] == 42 and "named more than once" in got[dup][1][1],
          "the second gets INVALID_REQUEST naming it (%s)" % (got[dup][1],))
    check(got[asg][0][0] == 39 and "manual replica assignment" in got[asg][0][1],
          "a manual replica assignment: INVALID_REPLICA_ASSIGNMENT (%s)" % (got[asg][0],))
    check(got[nullcfg][0][0] == 40 and "'retention.ms' has no value" in got[nullcfg][0][1],
          "a config with a null value: INVALID_CONFIG (%s)" % (got[nullcfg][0],))
    check_eq([topic_exists(t) for t in (dup, asg, nullcfg)], [True, False, False],
             "only the topic that was accepted exists")
    cases = [
        ({"cleanup.policy": "compact"}, 40, "only 'delete' is supported"),
        ({"min.insync.replicas": "2"}, 40, "only '1' is supported"),
        ({"message.timestamp.type": "WallTime"}, 40, "is not CreateTime or LogAppendTime"),
        ({"retention.ms": "soon"}, 40, "is not a whole number in [-1, "),
        ({"segment.bytes": "13"}, 40, "is not a whole number in [14, "),
        ({"no.such.config": "1"}, 40, "unknown topic config 'no.such.config'"),
    ]
    for cfg, code, text in cases:
        name = unique("ct-cfg")
        (err, msg), = create_topics([(name, 1, 1, [], cfg)])[name]
        check(err == code and text in (msg or ""), "config %s refused: %d, %r" % (cfg, err, msg))
        check(not topic_exists(name), "and %s was not created" % name)
    for parts, rf, code, text in [(0, 1, 37, "must be in [1, 10000], got 0"),
                                  (10001, 1, 37, "got 10001"),
                                  (1, 3, 38, "replication factor 3 is not possible")]:
        name = unique("ct-n")
        (err, msg), = create_topics([(name, parts, rf, [], {})])[name]
        check(err == code and text in (msg or ""), "%d partitions, replication %d: %d, %r" % (parts, rf, err, msg))
    # configs samsa takes as they are, and one that sets the index interval
    name = unique("ct-free")
    check_eq(create_topics([(name, -1, -1, [], {"preallocate": "true", "index.interval.bytes": "100",
                                                "segment.jitter.ms": "5"})]),
             {name: [(0, None)]}, "configs samsa keeps but does not act on are accepted (preallocate, jitter)")
    cfg = topic_configs(name)
    check_eq((cfg["preallocate"][0], cfg["index.interval.bytes"][0], cfg["segment.jitter.ms"][0]),
             ("true", "100", "5"), "and DescribeConfigs shows them")
    base_off = produce(name, 1, 50)
    check_eq(base_off, 0, "and the topic (num.partitions=2 for -1) takes records in partition 1")
    # v0 (no message, no validate-only), v1 (message), v3, v4: the same refusal
    for v in (0, 1, 3, 4):
        name = unique("ct-v%d" % v)
        got = create_topics([(name, 0, 1, [], {})], version=v)
        check_eq(got[name][0][0], 37, "CreateTopics v%d: 0 partitions refused (INVALID_PARTITIONS)" % v)
        check_eq(got[name][0][1] is None, v == 0, "CreateTopics v%d: %s error message" % (v, "no" if v == 0 else "an"))
    name = unique("ct-validate")
    check_eq(create_topics([(name, 4, 1, [], {})], version=1, validate_only=True), {name: [(0, None)]},
             "validate-only CreateTopics v1 of a good topic: no error")
    check(not topic_exists(name), "and nothing created")


def create_partitions(topics, validate_only=False, version=0):
    body = array([string(n) + i32(count) + (i32(-1) if asg is None else array([array([i32(b) for b in ids])
                                                                               for ids in asg]))
                  for n, count, asg in topics]) + i32(10000) + i8(1 if validate_only else 0)
    r = rpc(37, version, body)
    r.i32()
    out = r.array(lambda x: (x.string(), x.i16(), x.string()))
    check(r.at_end(), "CreatePartitions v%d answer read to its last byte" % version)
    return out


def partition_count(topic):
    r = rpc(3, 1, array([string(topic)]))
    r.array(lambda x: (x.i32(), x.string(), x.i32(), x.string()))    # brokers (v1: rack)
    r.i32()   # controller
    topics = r.array(lambda x: (x.i16(), x.string(), x.i8(), x.array(lambda y: (
        y.i16(), y.i32(), y.i32(), y.array(lambda z: z.i32()), y.array(lambda z: z.i32())))))
    return len(topics[0][3]) if topics and topics[0][0] == 0 else None


def test_metadata_named_twice():
    topic = unique("md")
    create_topics([(topic, 3, 1, [], {})])
    missing = unique("md-missing")
    r = rpc(3, 1, array([string(topic), string(missing), string(topic)]))
    r.array(lambda x: (x.i32(), x.string(), x.i32(), x.string()))    # brokers
    r.i32()   # controller
    topics = r.array(lambda x: (x.i16(), x.string(), x.i8(), x.array(lambda y: (
        y.i16(), y.i32(), y.i32(), y.array(lambda z: z.i32()), y.array(lambda z: z.i32())))))
    check(r.at_end(), "Metadata v1 answer read to its last byte")
    check_eq([(e, n, len(p)) for e, n, _, p in topics], [(0, topic, 3), (3, missing, 0)],
             "Metadata of a topic named twice (and an unknown one between): answered once, as Kafka does")


def test_create_partitions_refusals():
    topic = unique("cp")
    create_topics([(topic, 2, 1, [], {})])
    missing = unique("cp-missing")
    got = create_partitions([(topic, 3, None), (topic, 4, None), (missing, 2, None)])
    check_eq([(n, e) for n, e, _ in got], [(topic, 0), (topic, 42), (missing, 3)],
             "CreatePartitions: 2 -> 3; the same topic again INVALID_REQUEST; an unknown one UNKNOWN_TOPIC_OR_PARTITION")
    check("more than once" in got[1][2] and "does not exist" in got[2][2], "with messages: %r, %r"
          % (got[1][2], got[2][2]))
    for v in (0, 1):
        got = create_partitions([(topic, 5, [[1], [1]])], version=v)
        check(got[0][1] == 39 and "manual replica assignment" in got[0][2],
              "v%d: a manual assignment INVALID_REPLICA_ASSIGNMENT (%r)" % (v, got[0][2]))
    got = create_partitions([(topic, 3, None)])
    check(got[0][1] == 37 and "must be larger" in got[0][2], "3 partitions for a topic that has 3: INVALID_PARTITIONS")
    got = create_partitions([(topic, 10001, None)])
    check(got[0][1] == 37 and "at most 10000" in got[0][2], "10001 partitions: INVALID_PARTITIONS (%r)" % got[0][2])
    got = create_partitions([(topic, 8, None)], validate_only=True)
    check_eq(got[0][1], 0, "validate-only 3 -> 8: no error")
    check_eq(partition_count(topic), 3, "and the topic still has 3 partitions (Metadata)")


def test_delete_records_refusals():
    topic = unique("dr")
    create_topics([(topic, 1, 1, [], {})])
    produce(topic, 0, 5)
    missing = unique("dr-missing")
    for v in (0, 1):
        body = array([string(topic) + array([i32(0) + i64(2), i32(1) + i64(0), i32(-1) + i64(0), i32(0) + i64(9)]),
                      string(missing) + array([i32(0) + i64(0)])]) + i32(10000)
        r = rpc(21, v, body)
        r.i32()
        got = r.array(lambda x: (x.string(), x.array(lambda y: (y.i32(), y.i64(), y.i16()))))
        check(r.at_end(), "DeleteRecords v%d answer read to its last byte" % v)
        check_eq(got, [(topic, [(0, 2, 0), (1, -1, 3), (-1, -1, 3), (0, -1, 1)]), (missing, [(0, -1, 3)])],
                 "DeleteRecords v%d: to offset 2 (low watermark 2); partitions 1 and -1 and an unknown topic "
                 "UNKNOWN_TOPIC_OR_PARTITION; past the high watermark OFFSET_OUT_OF_RANGE" % v)


def test_describe_configs():
    topic = unique("dc")
    create_topics([(topic, 1, 1, [], {"retention.bytes": "12345"})])
    res = describe_configs([(2, topic, ["retention.bytes", "segment.bytes", "no.such"]), (2, topic, None),
                            (2, "bad name!", None), (2, unique("dc-missing"), None),
                            (4, "999", None), (4, "", ["num.partitions"]), (3, "x", None)])
    check_eq([(e, t) for e, _, t, _, _ in res], [(0, 2), (42, 2), (17, 2), (3, 2), (42, 4), (0, 4), (42, 3)],
             "DescribeConfigs: the topic; the same topic again INVALID_REQUEST; 'bad name!' "
             "INVALID_TOPIC_EXCEPTION; an unknown topic UNKNOWN_TOPIC_OR_PARTITION; broker 999 INVALID_REQUEST; "
             "broker '' answered; resource type 3 INVALID_REQUEST")
    check_eq(sorted(res[0][4]), ["retention.bytes", "segment.bytes"], "the key filter: only the two named keys")
    check_eq(res[0][4]["retention.bytes"][0:3], ("12345", 0, 1), "retention.bytes: the topic's value, source "
             "TOPIC_CONFIG (1)")
    check_eq(res[5][4], {"num.partitions": ("2", 1, 4, 0)}, "the broker's num.partitions: '2', read-only, "
             "STATIC_BROKER_CONFIG (4)")
    check("more than once" in res[1][1] and "only TOPIC (2) and BROKER (4)" in res[6][1]
          and "only broker" in res[4][1], "with messages (%r, %r, %r)" % (res[1][1], res[6][1], res[4][1]))
    full = topic_configs(topic)
    check_eq(full["retention.ms"][0:3], (str(100 * 3600 * 1000), 0, 4),
             "log.retention.hours=100: a topic's retention.ms is 360000000 from STATIC_BROKER_CONFIG (4)")
    check_eq(full["segment.ms"][0:3], (str(10 * 3600 * 1000), 0, 4),
             "log.roll.hours=10: segment.ms 36000000 from STATIC_BROKER_CONFIG (4)")
    v0 = describe_configs([(2, topic, ["retention.bytes", "cleanup.policy"])], version=0)
    check_eq(v0[0][4], {"retention.bytes": ("12345", 0, 0, 0), "cleanup.policy": ("delete", 0, 1, 0)},
             "v0: IsDefault false for the topic's own value, true for a default")
    v2 = describe_configs([(2, topic, ["retention.bytes"])], version=2)
    check_eq(v2[0][4], {"retention.bytes": ("12345", 0, 1, 0)}, "v2: the same as v1")


def test_alter_configs():
    topic = unique("ac")
    create_topics([(topic, 1, 1, [], {"retention.ms": "1000", "segment.ms": "600000"})])
    got = alter_configs([(4, "", {"num.partitions": "3"}), (2, unique("ac-missing"), {"retention.ms": "1"}),
                         (2, topic, {"": "x"})])
    check_eq([(e, t) for e, _, t, _ in got], [(42, 4), (3, 2), (40, 2)],
             "AlterConfigs: a broker resource INVALID_REQUEST, an unknown topic UNKNOWN_TOPIC_OR_PARTITION, an "
             "empty config name INVALID_CONFIG")
    check("static" in got[0][1] and "no such topic" == got[1][1] and "empty name" in got[2][1],
          "with messages (%r, %r, %r)" % tuple(g[1] for g in got))
    check_eq(topic_configs(topic)["retention.ms"][0], "1000", "the topic's configs unchanged by the refusal")
    got = alter_configs([(2, topic, {"retention.ms": "2000"})], validate_only=True, version=1)
    check_eq(got[0][0], 0, "validate-only AlterConfigs v1: no error")
    check_eq(topic_configs(topic)["retention.ms"][0], "1000", "and nothing changed")
    got = alter_configs([(2, topic, {"retention.ms": None, "segment.ms": "700000"})])
    check_eq(got[0][0], 0, "AlterConfigs: retention.ms null, then segment.ms set")
    cfg = topic_configs(topic)
    check_eq((cfg["segment.ms"][0:3], cfg["retention.ms"][0:3]),
             (("700000", 0, 1), (str(100 * 3600 * 1000), 0, 4)),
             "segment.ms is the topic's; retention.ms is back to the broker's (log.retention.hours)")


def test_delete_topics_disabled():
    topic = unique("nd")
    check_eq(wire.create_topics(no_delete.port, [(topic, 1, {})], corr=5), {topic: (0, None)},
             "created %s on a broker with delete.topic.enable=false" % topic)
    for v, code in ((0, 42), (1, 42), (2, 42), (3, 73)):
        r = rpc(20, v, array([string(topic)]) + i32(10000), b=no_delete)
        if v >= 1:
            r.i32()
        got = r.array(lambda x: (x.string(), x.i16()))
        check(r.at_end(), "DeleteTopics v%d answer read to its last byte" % v)
        check_eq(got, [(topic, code)], "DeleteTopics v%d: %s" % (v, "TOPIC_DELETION_DISABLED" if code == 73
                                                               else "INVALID_REQUEST (73 is unknown before v3)"))
    r = rpc(3, 1, array([string(topic)]), b=no_delete)
    check(topic.encode() in r.d, "and the topic is still there (Metadata)")


# Flexible (KIP-482) from these versions on, per Kafka's *Request.json
# files: those versions are sent with request header v2.
FIRST_FLEXIBLE = {0: 9, 1: 12, 2: 6, 3: 9, 8: 8, 9: 6, 10: 3, 11: 6, 12: 4, 13: 4, 14: 4, 15: 5, 16: 3,
                  18: 3, 19: 5, 20: 4, 21: 2, 22: 2, 23: 4, 29: 2, 30: 2, 31: 2, 32: 4, 33: 2, 35: 2, 37: 2, 42: 2,
                  44: 1, 46: 0, 48: 1, 60: 0, 61: 0, 65: 0, 66: 0}


def broker_versions():
    """The versions the broker speaks, from its ApiVersions v0 answer."""
    r = rpc(18, 0, b"")
    check_eq(r.i16(), 0, "ApiVersions v0")
    return {k: (lo, hi) for k, lo, hi in r.array(lambda x: (x.i16(), x.i16(), x.i16()))}


def healthy():
    r = rpc(18, 0, b"")
    return r.i16() == 0


def test_undecodable_requests():
    # Bodies that cannot be read: an array count that lies (2^31-1 elements
    # in 4 bytes), then a string cut short. Answered by closing the
    # connection, as Kafka does; the broker goes on serving.
    bodies = [b"\x7f\xff\xff\xff", b"\x00\x05ab"]
    closed = answered = 0
    versions = broker_versions()
    for key, (lo, hi) in sorted(versions.items()):
        for v in range(lo, hi + 1):
            for body in bodies:
                s = wire.connect(broker.port)
                try:
                    flexible = v >= FIRST_FLEXIBLE.get(key, 1 << 15)
                    wire.send(s, wire.frame(key, v, 9, body, flexible=flexible))
                    resp = wire.read_response(s, 10)
                    if resp is None:
                        closed += 1
                    else:
                        answered += 1
                        print("  answered: api %d v%d body %r" % (key, v, body))
                finally:
                    s.close()
    total = len(bodies) * sum(hi - lo + 1 for lo, hi in versions.values())
    check_eq((closed, answered), (total, 0), "undecodable bodies for every API key and version (%d requests): "
             "each closed its connection, none answered" % total)
    # a frame of 3 bytes: an API key the broker knows, then one byte
    s = wire.connect(broker.port)
    try:
        wire.send(s, wire.i32(3) + wire.i16(3) + b"\x00")
        check(wire.wait_closed(s), "a frame too short for its request header: connection closed")
    finally:
        s.close()
    check(healthy(), "the broker answers ApiVersions after all of it")
    check(broker.alive(), "and is alive")


def main():
    try:
        broker.start()
        no_delete.start()
        print("broker pid %d on %s" % (broker.pid, broker.bootstrap), flush=True)
        rc = run_tests([test_list_offsets, test_list_offsets_v4_v10, test_create_topics_refusals, test_metadata_named_twice, test_create_partitions_refusals,
                        test_delete_records_refusals, test_describe_configs, test_alter_configs,
                        test_delete_topics_disabled, test_undecodable_requests], [broker, no_delete])
        rc = no_delete.finish(rc)
        return broker.finish(rc)
    finally:
        broker.cleanup()
        no_delete.cleanup()


if __name__ == "__main__":
    sys.exit(main())
