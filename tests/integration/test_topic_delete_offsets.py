#!/usr/bin/python3
"""Deleting a topic deletes the consumer groups' committed offsets of it, as
Kafka does (issue 18, item 3): a topic created again under the same name
starts with no committed offset, so nothing (a consumer's position, the
relay's completion tracking) takes an offset of the old topic for one of the
new.

Two groups commit offsets on a 2-partition topic (and one also on another
topic); the topic is deleted (confluent-kafka AdminClient): OffsetFetch
gives -1 for both partitions of both groups, the other topic's offset
stays; the topic is created again: still -1; after a kill -9 and a restart
(the offsets store is replayed) still -1, and the other topic's offset is
still there. Before the fix the broker kept 40 and 41 through all of it.

Usage: test_topic_delete_offsets.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check_eq, run_tests, unique  # noqa: E402
import group_wire as gw  # noqa: E402

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

broker = Broker(overrides={"auto.create.topics.enable": "false"}, name="topic-delete-offsets")


def test_delete_drops_offsets():
    topic, other = unique("deloff"), unique("deloff-other")
    g1, g2 = unique("deloff-g1"), unique("deloff-g2")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for f in admin.create_topics([NewTopic(topic, 2, 1), NewTopic(other, 1, 1)]).values():
        f.result(30)

    def commit(g, offsets):
        res = gw.parse_offset_commit(gw.rpc(broker.port, gw.OFFSET_COMMIT, 2, gw.offset_commit_body(
            2, g, -1, "", {tp: (o, None) for tp, o in offsets.items()})), 2)
        check_eq(set(res.values()), {0}, "group %s commits %s" % (g, sorted(offsets.items())))

    def committed(g, parts):
        offs, _ = gw.offset_fetch(broker.port, g, parts)
        return {tp: v[0] for tp, v in offs.items()}

    commit(g1, {(topic, 0): 40, (topic, 1): 41, (other, 0): 7})
    commit(g2, {(topic, 0): 5})
    check_eq(committed(g1, {topic: [0, 1]}), {(topic, 0): 40, (topic, 1): 41}, "offsets committed")

    admin.delete_topics([topic])[topic].result(30)
    none = {(topic, 0): -1, (topic, 1): -1}
    check_eq(committed(g1, {topic: [0, 1]}), none, "topic deleted: group 1 has no offset of it")
    check_eq(committed(g2, {topic: [0, 1]}), none, "topic deleted: group 2 has no offset of it")
    check_eq(committed(g1, {other: [0]}), {(other, 0): 7}, "the other topic's offset stays")

    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(30)
    check_eq(committed(g1, {topic: [0, 1]}), none, "created again: it starts with no committed offset")

    broker.kill9()
    broker.restart()
    check_eq(committed(g1, {topic: [0, 1]}), none, "after kill -9 and restart: still none")
    check_eq(committed(g2, {topic: [0, 1]}), none, "after kill -9 and restart: group 2 none")
    check_eq(committed(g1, {other: [0]}), {(other, 0): 7}, "after restart: the other topic's offset")


if __name__ == "__main__":
    broker.start()
    try:
        sys.exit(broker.finish(run_tests([test_delete_drops_offsets], [broker])))
    finally:
        broker.cleanup()
