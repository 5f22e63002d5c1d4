#!/usr/bin/python3
"""Topic ids (KIP-516) over raw Metadata v10-v12 frames, and their life on
disk across restarts.

  - a created topic has a non-zero id, the same in v10, v11 and v12;
  - v12 by id (null name) finds the topic by its id and names it; an
    unknown id is UNKNOWN_TOPIC_ID (100) with a null name and the id asked
    for; an unknown name is UNKNOWN_TOPIC_OR_PARTITION (3) with a zero id;
  - v10 and v11 refuse a topic named by id: every topic of the request
    INVALID_REQUEST (42), as Kafka answers before v12;
  - the id survives a restart (SIGTERM) and a kill -9;
  - a deleted and re-created topic gets a new id;
  - a topic stored without an id (from before topic ids) gets one at
    start-up, written to its record: the next restart keeps it;
  - Fetch v13 names topics by id: the records of a topic fetched by its
    id, the id echoed; an unknown id is UNKNOWN_TOPIC_ID (100) for each of
    its partitions; a known id with an unknown partition is 3; a forgotten
    topic given by id reads; after delete and re-create the old id is
    UNKNOWN_TOPIC_ID and the new id reads the new topic.

Usage: test_topic_ids.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check, check_eq, run_tests, unique  # noqa: E402
import kafka_wire as wire  # noqa: E402
from kafka_wire import compact_string, i8, i32, string, array, uvarint  # noqa: E402

broker = Broker(overrides={"auto.create.topics.enable": "false"}, name="topic-ids")
ZERO = bytes(16)
_corr = [200]


def metadata(topics, version=12):
    """topics: list of (id bytes, name or None). Returns [(error, name, id, partitions)]."""
    _corr[0] += 1
    body = uvarint(len(topics) + 1)
    for tid, name in topics:
        body += tid + (uvarint(0) if name is None else compact_string(name)) + uvarint(0)
    body += i8(0)                     # AllowAutoTopicCreation
    if version <= 10:
        body += i8(0)                 # IncludeClusterAuthorizedOperations
    body += i8(0) + uvarint(0)        # IncludeTopicAuthorizedOperations, tags
    r = wire.rpc(broker.port, 3, version, body, corr=_corr[0], flexible=True)
    r.tags()                          # response header v1
    r.i32()
    r.compact_array(lambda x: (x.i32(), x.compact_string(), x.i32(), x.compact_string(), x.tags()))
    r.compact_string()
    r.i32()

    def topic(x):
        err, name, tid, _internal = x.i16(), x.compact_string(), x.take(16), x.i8()
        parts = x.compact_array(lambda y: (y.i16(), y.i32(), y.i32(), y.i32(), y.compact_array(lambda z: z.i32()),
                                           y.compact_array(lambda z: z.i32()), y.compact_array(lambda z: z.i32()),
                                           y.tags()))
        x.i32()
        x.tags()
        return err, name, tid, len(parts)
    out = r.compact_array(topic)
    if version <= 10:
        r.i32()
    r.tags()
    check(r.at_end(), "Metadata v%d answer read to its last byte" % version)
    return out


def topic_id(name, version=12):
    got = metadata([(ZERO, name)], version)
    check_eq([(e, n) for e, n, _, _ in got], [(0, name)], "v%d: %s found by name" % (version, name))
    return got[0][2]


def delete_topic(name):
    r = wire.rpc(broker.port, 20, 1, array([string(name)]) + i32(10000), corr=_corr[0] + 1)
    r.i32()
    check_eq(r.array(lambda x: (x.string(), x.i16())), [(name, 0)], "DeleteTopics %s" % name)


def test_ids_in_metadata():
    t = unique("ids")
    wire.create_topics(broker.port, [(t, 2, {})])
    tid = topic_id(t)
    check(tid != ZERO, "a created topic has a non-zero topic id (%s)" % tid.hex())
    check_eq(topic_id(t, 10), tid, "v10 gives the same id")
    check_eq(topic_id(t, 11), tid, "v11 gives the same id")
    got = metadata([(tid, None)])
    check_eq([(e, n, i, p) for e, n, i, p in got], [(0, t, tid, 2)],
             "v12 by id alone: the topic, named, with its id and 2 partitions")
    ghost = bytes(range(1, 17))
    missing = unique("ids-missing")
    got = metadata([(ghost, None), (ZERO, missing)])
    check_eq(got, [(100, None, ghost, 0), (3, missing, ZERO, 0)],
             "v12: an unknown id is UNKNOWN_TOPIC_ID with a null name and that id; an unknown name "
             "UNKNOWN_TOPIC_OR_PARTITION with a zero id")
    for v in (10, 11):
        got = metadata([(ZERO, t), (tid, None)], v)
        check_eq(got, [(42, t, ZERO, 0), (42, "", tid, 0)],
                 "v%d: a topic named by id fails the request as Kafka answers it: every topic "
                 "INVALID_REQUEST, with its name (\"\" for null) and id" % v)


def test_ids_survive_restarts():
    t = unique("keep")
    wire.create_topics(broker.port, [(t, 1, {})])
    tid = topic_id(t)
    check_eq(broker.stop(), 0, "SIGTERM: exit 0")
    broker.start()
    check_eq(topic_id(t), tid, "after a restart the topic has the same id")
    broker.kill9()
    broker.start()
    check_eq(topic_id(t), tid, "after a kill -9 the topic has the same id")
    delete_topic(t)
    wire.create_topics(broker.port, [(t, 1, {})])
    tid2 = topic_id(t)
    check(tid2 != tid and tid2 != ZERO, "deleted and re-created: a new id (%s, was %s)" % (tid2.hex(), tid.hex()))
    check_eq(metadata([(tid, None)])[0][0], 100, "the old id is unknown now (UNKNOWN_TOPIC_ID)")


def test_id_assigned_to_old_topic():
    t = unique("old")
    wire.create_topics(broker.port, [(t, 1, {"retention.ms": "7200000"})])
    check_eq(broker.stop(), 0, "SIGTERM: exit 0")
    path = os.path.join(broker.data_dir, "samsa-topics", t + ".properties")
    with open(path) as f:
        lines = f.read().splitlines()
    check(any(ln.startswith("samsa.topic.id=") for ln in lines), "the topic's record holds its id")
    with open(path, "w") as f:
        f.write("\n".join(ln for ln in lines if not ln.startswith("samsa.topic.id=")) + "\n")
    broker.start()
    tid = topic_id(t)
    check(tid != ZERO, "a topic stored without an id gets one at start-up")
    with open(path) as f:
        text = f.read()
    check("samsa.topic.id=" + tid.hex() in text and "retention.ms=7200000" in text,
          "written to its record, configs kept")
    broker.kill9()
    broker.start()
    check_eq(topic_id(t), tid, "and kept by the next start")


def produce(topic, values):
    _corr[0] += 1
    recs = wire.record_batch([(b"k", v) for v in values])
    resp = wire.roundtrip(broker.port, wire.produce_request(_corr[0], {(topic, 0): recs}))
    check_eq(wire.parse_produce(resp, _corr[0])[(topic, 0)][0], 0, "produced %d record(s) to %s" % (len(values), topic))


def fetch13(topics, forgotten=(), version=13):
    """Fetch v13-v16 of [(id, [partition])] at offset 0: [(id, [(partition, error, hw, records)])]."""
    _corr[0] += 1
    body = i32(-1) if version <= 14 else b""   # ReplicaId: v0-v14
    body += i32(0) + i32(0) + i32(1 << 20) + i8(0) + i32(0) + i32(-1)
    body += uvarint(len(topics) + 1)
    for tid, parts in topics:
        body += tid + uvarint(len(parts) + 1)
        for p in parts:
            body += i32(p) + i32(-1) + wire.i64(0) + i32(-1) + wire.i64(-1) + i32(1 << 20) + uvarint(0)
        body += uvarint(0)
    body += uvarint(len(forgotten) + 1)
    for tid, parts in forgotten:
        body += tid + uvarint(len(parts) + 1) + b"".join(i32(p) for p in parts) + uvarint(0)
    body += compact_string("") + uvarint(0)
    r = wire.rpc(broker.port, 1, version, body, corr=_corr[0], flexible=True)
    r.tags()
    r.i32()
    check_eq((r.i16(), r.i32()), (0, 0), "Fetch v%d: no top-level error, no session" % version)

    def part(x):
        idx, err, hw = x.i32(), x.i16(), x.i64()
        x.i64()
        x.i64()
        x.compact_array(lambda y: (y.i64(), y.i64(), y.tags()))
        x.i32()
        n = x.uvarint() - 1
        recs = None if n < 0 else x.take(n)
        x.tags()
        return idx, err, hw, recs
    out = r.compact_array(lambda x: (x.take(16), x.compact_array(part), x.tags())[:2])
    check_eq(r.tags(), {}, "Fetch v%d: no tagged fields at the end (no NodeEndpoints)" % version)
    check(r.at_end(), "Fetch v%d answer read to its last byte" % version)
    return out


def test_fetch_v13_by_id():
    t = unique("f13")
    wire.create_topics(broker.port, [(t, 1, {})])
    produce(t, [b"one", b"two"])
    tid = topic_id(t)
    got = fetch13([(tid, [0])])
    check_eq([(i, [(p, e, hw) for p, e, hw, _ in ps]) for i, ps in got], [(tid, [(0, 0, 2)])],
             "Fetch v13 by id: the topic's id echoed, partition 0, no error, high watermark 2")
    bs = wire.batches(got[0][1][0][3])[0]
    check_eq(sum(b[2] for b in bs), 2, "and its 2 records")
    for v in (14, 15, 16):
        got = fetch13([(tid, [0])], version=v)
        check_eq([(i, [(p, e, hw, sum(b[2] for b in wire.batches(rec)[0])) for p, e, hw, rec in ps]) for i, ps in got],
                 [(tid, [(0, 0, 2, 2)])], "Fetch v%d%s by id: the same 2 records" % (v, " (no ReplicaId)" if v >= 15 else ""))
    ghost = bytes(range(1, 17))
    got = fetch13([(ghost, [0, 1]), (tid, [7])], forgotten=[(ghost, [3])])
    check_eq([(i, [(p, e) for p, e, _, _ in ps]) for i, ps in got],
             [(ghost, [(0, 100), (1, 100)]), (tid, [(7, 3)])],
             "an unknown id: UNKNOWN_TOPIC_ID for each partition (id echoed); a known id's unknown "
             "partition UNKNOWN_TOPIC_OR_PARTITION; a forgotten topic by id read")
    delete_topic(t)
    wire.create_topics(broker.port, [(t, 1, {})])
    produce(t, [b"new"])
    tid2 = topic_id(t)
    got = fetch13([(tid, [0]), (tid2, [0])])
    check_eq([(i, [(p, e, hw) for p, e, hw, _ in ps]) for i, ps in got], [(tid, [(0, 100, -1)]), (tid2, [(0, 0, 1)])],
             "re-created: the old id UNKNOWN_TOPIC_ID, the new id reads the new topic (1 record)")


def main():
    try:
        broker.start()
        rc = run_tests([test_ids_in_metadata, test_ids_survive_restarts, test_id_assigned_to_old_topic,
                        test_fetch_v13_by_id], [broker])
        return broker.finish(rc)
    finally:
        broker.cleanup()


if __name__ == "__main__":
    sys.exit(main())
