#!/usr/bin/python3
"""Topic-level configs by name (issue 9, 3c): every topic config Kafka 2.x
to 4.x defines is accepted by CreateTopics and AlterConfigs (the Kafka 4
ones checked as Kafka 4.1 checks them), the three that Kafka 4 removed
(message.format.version, message.downconversion.enable,
message.timestamp.difference.max.ms) too, so applications and tools written
for Kafka 2.x/3.x work unchanged; DescribeConfigs lists Kafka 4.1's set
(the removed names only when a topic sets them); values Kafka 4.1 refuses
are INVALID_CONFIG (40). tests/compat runs the same names against Apache
Kafka (scenario topic_config_names) and pins the differences.

Usage: test_topic_configs.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check, check_eq, run_tests, unique  # noqa: E402

from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # noqa: E402
from confluent_kafka import KafkaException  # noqa: E402

broker = Broker(overrides={"auto.create.topics.enable": "false"}, name="topicconfigs")

# Kafka 4.1.1's topic configs as DescribeConfigs lists them (with a default),
# and a valid non-default value for each that samsa-broker can take.
KAFKA4 = {
    "cleanup.policy": "delete", "compression.gzip.level": "5", "compression.lz4.level": "12",
    "compression.type": "producer", "compression.zstd.level": "-5", "delete.retention.ms": "1000",
    "file.delete.delay.ms": "1000", "flush.messages": "1000", "flush.ms": "1000",
    "follower.replication.throttled.replicas": "0:1,1:1", "index.interval.bytes": "8192",
    "leader.replication.throttled.replicas": "*", "local.retention.bytes": "-1", "local.retention.ms": "-1",
    "max.compaction.lag.ms": "1000", "max.message.bytes": "100000", "message.timestamp.after.max.ms": "1000",
    "message.timestamp.before.max.ms": "1000", "message.timestamp.type": "LogAppendTime",
    "min.cleanable.dirty.ratio": "0.25", "min.compaction.lag.ms": "5", "min.insync.replicas": "1",
    "preallocate": "TRUE", "remote.log.copy.disable": "true", "remote.log.delete.on.disable": "true",
    "remote.storage.enable": "false", "retention.bytes": "1000000", "retention.ms": "3600000",
    "segment.bytes": "1048576", "segment.index.bytes": "4096", "segment.jitter.ms": "10", "segment.ms": "3600000",
    "unclean.leader.election.enable": "false",
}
# Kafka 2.x/3.x names that Kafka 4 removed (Kafka 4.1 answers INVALID_CONFIG)
LEGACY = {"message.format.version": "2.8-IV1", "message.downconversion.enable": "false",
          "message.timestamp.difference.max.ms": "60000"}
# values Kafka 4.1.1 refuses (INVALID_CONFIG) that samsa-broker refuses too
BAD = [("flush.messages", "0"), ("flush.ms", "-1"), ("max.compaction.lag.ms", "0"), ("segment.index.bytes", "3"),
       ("preallocate", "yes"), ("unclean.leader.election.enable", "1"), ("min.cleanable.dirty.ratio", "1.5"),
       ("min.cleanable.dirty.ratio", "x"), ("compression.gzip.level", "0"), ("compression.gzip.level", "10"),
       ("compression.lz4.level", "18"), ("compression.zstd.level", "23"), ("local.retention.ms", "-3"),
       ("local.retention.bytes", "-3"), ("remote.storage.enable", "true"), ("remote.storage.enable", "maybe"),
       ("follower.replication.throttled.replicas", "bad"), ("leader.replication.throttled.replicas", "1:"),
       ("retention.ms", "-2"), ("segment.ms", "0"), ("delete.retention.ms", "-1"), ("message.timestamp.type", "Foo"),
       ("max.message.bytes", "-1"), ("index.interval.bytes", "-1"), ("min.insync.replicas", "0"),
       ("cleanup.policy", "bogus"), ("compression.type", "bogus"), ("message.timestamp.before.max.ms", "-1"),
       ("retention.ms", "abc"), ("file.delete.delay.ms", "-1"), ("segment.jitter.ms", "-1"),
       ("min.compaction.lag.ms", "-1"), ("message.downconversion.enable", "maybe"),
       ("message.timestamp.difference.max.ms", "-1"), ("no.such.config", "1")]


def admin():
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def create(a, name, config, validate_only=False):
    """None, or the error code of CreateTopics."""
    f = a.create_topics([NewTopic(name, 1, 1, config=config)], validate_only=validate_only)[name]
    try:
        f.result(30)
        return None
    except KafkaException as e:
        return e.args[0].code()


def describe(a, name):
    cfg = a.describe_configs([ConfigResource("topic", name)])
    return list(cfg.values())[0].result(30)


def test_every_name_accepted():
    a = admin()
    t = unique("tc-all")
    check_eq(create(a, t, dict(KAFKA4, **LEGACY)), None,
             "CreateTopics with all %d Kafka 4.1 topic configs and the 3 that Kafka 4 removed: accepted"
             % len(KAFKA4))
    d = describe(a, t)
    check_eq(sorted(d), sorted(list(KAFKA4) + list(LEGACY)), "DescribeConfigs lists each of them")
    check_eq({k: d[k].value for k in d}, dict(KAFKA4, **LEGACY), "with the values given")
    check(all(d[k].source == 1 for k in d), "each a DYNAMIC_TOPIC_CONFIG (source 1)")
    plain = unique("tc-plain")
    check_eq(create(a, plain, {}), None, "a topic without configs")
    d = describe(a, plain)
    check_eq(sorted(d), sorted(KAFKA4), "DescribeConfigs lists Kafka 4.1's %d names, none of the removed ones"
             % len(KAFKA4))
    for name, value in LEGACY.items():
        tn = unique("tc-legacy")
        check_eq(create(a, tn, {name: value}), None, "CreateTopics with %s=%s alone: accepted" % (name, value))


def test_alter_configs():
    a = admin()
    t = unique("tc-alter")
    check_eq(create(a, t, {}), None, "a topic")
    res = ConfigResource("topic", t, set_config={"message.format.version": "3.0-IV1", "retention.ms": "7200000",
                                                  "compression.zstd.level": "7"})
    list(a.alter_configs([res]).values())[0].result(30)
    d = describe(a, t)
    check_eq((d["message.format.version"].value, d["retention.ms"].value, d["compression.zstd.level"].value),
             ("3.0-IV1", "7200000", "7"), "AlterConfigs with message.format.version (Kafka 3.x) and two more: "
             "all three set, as DescribeConfigs shows")
    res = ConfigResource("topic", t, set_config={"compression.gzip.level": "0"})
    try:
        list(a.alter_configs([res]).values())[0].result(30)
        code = None
    except KafkaException as e:
        code = e.args[0].code()
    check_eq(code, 40, "AlterConfigs with compression.gzip.level=0: INVALID_CONFIG")
    check_eq(describe(a, t)["retention.ms"].value, "7200000", "and the topic's configs are as they were")


def test_bad_values_refused():
    a = admin()
    for name, value in BAD:
        t = unique("tc-bad")
        check_eq(create(a, t, {name: value}, validate_only=True), 40,
                 "CreateTopics (validate only) with %s=%s: INVALID_CONFIG, as from Kafka 4.1" % (name, value))
    t = unique("tc-bad-real")
    check_eq(create(a, t, {"preallocate": "yes"}), 40, "a real CreateTopics with preallocate=yes: INVALID_CONFIG")
    check(t not in a.list_topics(timeout=30).topics, "and the topic does not exist")


def main():
    try:
        broker.start()
        rc = run_tests([test_every_name_accepted, test_alter_configs, test_bad_values_refused], [broker])
        return broker.finish(rc)
    finally:
        broker.cleanup()


if __name__ == "__main__":
    sys.exit(main())
