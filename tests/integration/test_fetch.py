#!/usr/bin/python3
"""Fetch semantics over raw Fetch v4 frames: long poll (max_wait_ms, min_bytes,
woken by a produce), response and partition size limits (KIP-74: the first
batch always whole), batches returned byte for byte as produced, and the
errors for an offset past the end and an unknown topic; Fetch v12 (flexible)
with the leader-epoch checks (LastFetchedEpoch, DivergingEpoch,
CurrentLeaderEpoch).

Usage: test_fetch.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import os
import select
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check, check_eq, run_tests, unique  # noqa: E402
import kafka_wire as wire  # noqa: E402
from kafka_wire import (array, batches, compact_string, i8, i16, i32, i64, produce_v3,  # noqa: E402
                        record_batch, string, uvarint)

broker = Broker(overrides={"auto.create.topics.enable": "false"}, name="fetch")
corr_seq = [100]


def next_corr():
    corr_seq[0] += 1
    return corr_seq[0]


def create_topic(name, partitions):
    body = array([string(name) + i32(partitions) + i16(1) + array([]) + array([])]) + i32(10000) + i8(0)
    r = wire.rpc(broker.port, 19, 2, body, corr=next_corr())
    r.i32()
    topics = r.array(lambda x: (x.string(), x.i16(), x.string()))
    check_eq([(t[0], t[1]) for t in topics], [(name, 0)], "created %s with %d partitions" % (name, partitions))
    return name


def produce(topic, partition, batch):
    """Produce one batch with acks=1; returns its base offset."""
    corr = next_corr()
    s = wire.connect(broker.port)
    try:
        wire.send(s, produce_v3(corr, topic, partition, batch, acks=1))
        resp = wire.read_response(s)
    finally:
        s.close()
    r = wire.Reader(resp)
    if r.i32() != corr:
        raise AssertionError("produce: wrong correlation id")
    (name, parts), = r.array(lambda x: (x.string(), x.array(lambda y: (y.i32(), y.i16(), y.i64(), y.i64()))))
    (_p, err, base, _t), = parts
    if err != 0:
        raise AssertionError("produce to %s [%d]: error %d" % (topic, partition, err))
    return base


def fetch_request(corr, wants, max_wait=100, min_bytes=1, max_bytes=1 << 20):
    """wants: [(topic, partition, offset, partition_max_bytes)]."""
    by_topic = {}
    for t, p, off, pmax in wants:
        by_topic.setdefault(t, []).append(i32(p) + i64(off) + i32(pmax))
    body = (i32(-1) + i32(max_wait) + i32(min_bytes) + i32(max_bytes) + i8(0)
            + array([string(t) + array(ps) for t, ps in by_topic.items()]))
    return wire.frame(1, 4, corr, body)


def parse_fetch(resp, corr):
    r = wire.Reader(resp)
    if r.i32() != corr:
        raise AssertionError("Fetch v4: wrong correlation id")
    r.i32()   # throttle
    out = {}
    for topic, parts in r.array(lambda x: (x.string(), x.array(lambda y: (
            y.i32(), y.i16(), y.i64(), y.i64(), y.array(lambda z: (z.i64(), z.i64())), y.bytes())))):
        for p, err, hw, lso, _aborted, records in parts:
            out[(topic, p)] = {"err": err, "hw": hw, "lso": lso, "records": records or b""}
    if not r.at_end():
        raise AssertionError("Fetch v4 response: %d bytes left over" % (len(r.d) - r.p))
    return out


def fetch(wants, **kw):
    """Fetch and time it: (result by (topic, partition), seconds)."""
    corr = next_corr()
    s = wire.connect(broker.port)
    try:
        t0 = time.monotonic()
        wire.send(s, fetch_request(corr, wants, **kw))
        resp = wire.read_response(s, timeout=30)
        elapsed = time.monotonic() - t0
    finally:
        s.close()
    if resp is None:
        raise AssertionError("Fetch v4: connection closed instead of an answer")
    return parse_fetch(resp, corr), elapsed


def filler(n, size, tag):
    return [(b"%s-%d" % (tag, i), bytes([97 + i % 26]) * size) for i in range(n)]


def test_long_poll_times_out():
    topic = create_topic(unique("lp-empty"), 1)
    res, t = fetch([(topic, 0, 0, 1 << 20)], max_wait=500, min_bytes=1)
    r = res[(topic, 0)]
    check_eq((r["err"], r["hw"], r["records"]), (0, 0, b""), "empty partition: no error, HW 0, no records")
    # not before max_wait; how long after is MEASURED (fetch()'s 30 s read is the hang guard)
    check(t >= 0.4, "max_wait_ms=500 with nothing to return: answered, not before max_wait (%.3fs)" % t)
    print("  MEASURED: an empty long poll with max_wait_ms=500 answered after %.3fs" % t, flush=True)


def test_long_poll_wakes_on_produce():
    topic = create_topic(unique("lp-wake"), 1)
    corr = next_corr()
    s = wire.connect(broker.port)
    try:
        t0 = time.monotonic()
        # max_wait 120 s, and the read below gives up at 60 s: an answer at all
        # is one the produce woke, no timing bound needed
        wire.send(s, fetch_request(corr, [(topic, 0, 0, 1 << 20)], max_wait=120000, min_bytes=1))
        # await the broker having read the fetch: its one event loop serves
        # every socket that was ready before it answers a request sent
        # afterwards on another connection (two round trips leave no doubt)
        for _ in range(2):
            wire.rpc(broker.port, 18, 0, b"", corr=next_corr())
        ready, _, _ = select.select([s], [], [], 0)
        check(not ready, "the fetch is parked: no answer yet on its connection")
        sent = record_batch([(b"wake", b"up")])
        base = produce(topic, 0, sent)
        t_prod = time.monotonic()
        resp = wire.read_response(s, timeout=60)
        t_resp = time.monotonic()
    finally:
        s.close()
    check_eq(base, 0, "produced while the fetch waited, at offset 0")
    check(resp is not None, "the parked fetch (max_wait 120 s) answered within the 60 s read: woken by the produce")
    res = parse_fetch(resp, corr)
    got, rest = batches(res[(topic, 0)]["records"])
    print("  MEASURED: the parked fetch answered %.3fs after the produce (%.3fs after it was sent)"
          % (t_resp - t_prod, t_resp - t0), flush=True)
    check_eq(len(got), 1, "it carries the one batch")
    check_eq(got[0][3][17:], sent[17:], "the batch comes back byte for byte as sent from its CRC on")
    check(got[0][4] and rest == b"", "its CRC-32C checks out and nothing trails it")


def test_min_bytes():
    topic = create_topic(unique("minbytes"), 1)
    produce(topic, 0, record_batch([(b"k", b"small")]))
    res, t = fetch([(topic, 0, 0, 1 << 20)], max_wait=400, min_bytes=1 << 20)
    got, _ = batches(res[(topic, 0)]["records"])
    check(t >= 0.35, "min_bytes 1 MiB not reached: the broker waits max_wait 400ms, not less (%.3fs)" % t)
    print("  MEASURED: min_bytes not reached, max_wait_ms=400: answered after %.3fs" % t, flush=True)
    check_eq([b[2] for b in got], [1], "and then returns what it has (one batch, one record)")
    # max_wait 120 s, fetch() reads for 30 s: an answer means it did not wait
    res, t = fetch([(topic, 0, 0, 1 << 20)], max_wait=120000, min_bytes=1)
    check(res[(topic, 0)]["records"] != b"", "min_bytes 1 with data there: answered with it, not after max_wait 120 s "
          "(MEASURED %.3fs)" % t)


def test_size_limits():
    topic = create_topic(unique("limits"), 2)
    sizes = []
    for p in (0, 1):
        bases = []
        for i in range(10):
            b = record_batch(filler(1, 950, b"p%d-b%d" % (p, i)))
            sizes.append(len(b))
            bases.append(produce(topic, p, b))
        check_eq(bases, list(range(10)), "partition %d: ten ~1 KB batches at offsets 0..9" % p)
    one = max(sizes)
    res, _ = fetch([(topic, 0, 0, 2500)])
    got, rest = batches(res[(topic, 0)]["records"])
    total = len(res[(topic, 0)]["records"])
    check(total <= 2500, "partition_max_bytes 2500: %d bytes returned" % total)
    check(len(got) >= 1 and [b[0] for b in got] == list(range(len(got))) and all(b[4] for b in got),
          "%d whole batch(es) from offset 0, in order, CRCs good (%d trailing bytes)" % (len(got), len(rest)))
    res, _ = fetch([(topic, 0, 3, 100)])
    got, _ = batches(res[(topic, 0)]["records"])
    check(len(got) >= 1 and got[0][0] == 3 and len(got[0][3]) > 100,
          "partition_max_bytes 100, smaller than a batch: the first batch (offset 3, %d bytes) still comes whole"
          % (len(got[0][3]) if got else 0))
    res, _ = fetch([(topic, 0, 0, 1 << 20), (topic, 1, 0, 1 << 20)], max_bytes=2500)
    total = sum(len(res[(topic, p)]["records"]) for p in (0, 1))
    first, _ = batches(res[(topic, 0)]["records"] or res[(topic, 1)]["records"])
    check(0 < total <= max(2500, one) and first, "response max_bytes 2500 over two partitions: %d bytes" % total)
    res, _ = fetch([(topic, 0, 0, 1 << 20), (topic, 1, 0, 1 << 20)])
    for p in (0, 1):
        got, rest = batches(res[(topic, p)]["records"])
        check(len(got) == 10 and rest == b"" and res[(topic, p)]["hw"] == 10,
              "no limits: partition %d returns all 10 batches, HW 10" % p)


def test_response_room():
    """How a response's max_bytes is shared (Kafka's rules, KIP-74): the
    first partition with data may go over it with one whole batch; a later
    partition gets what room is left, cut after a whole first batch, or
    nothing when its first batch does not fit; partition_max_bytes 0 still
    returns the first batch whole."""
    def stored(batch, base):
        """A batch as the log keeps it: its BaseOffset assigned, PartitionLeaderEpoch 0."""
        return i64(base) + batch[8:12] + i32(0) + batch[16:]

    topic = create_topic(unique("room"), 2)
    sent = record_batch(filler(1, 900, b"big"))
    produce(topic, 0, sent)
    big = stored(sent, 0)
    small = []
    for i in range(3):
        b = record_batch(filler(1, 250, b"s%d" % i))
        small.append(stored(b, produce(topic, 1, b)))
    res, _ = fetch([(topic, 0, 0, 0)])
    check_eq(res[(topic, 0)]["records"], big, "partition_max_bytes 0: the first batch whole all the same")
    wants = [(topic, 0, 0, 1 << 20), (topic, 1, 0, 1 << 20)]
    room = len(small[0]) + 40
    res, _ = fetch(wants, max_bytes=len(big) + room)
    check_eq(res[(topic, 0)]["records"], big, "max_bytes = %d: partition 0 its batch whole" % (len(big) + room))
    check_eq(res[(topic, 1)]["records"], (b"".join(small))[:room],
             "partition 1 the %d bytes left: its first batch whole, then the start of the next" % room)
    got, rest = batches(res[(topic, 1)]["records"])
    check(len(got) == 1 and got[0][4] and len(rest) == 40, "(one whole batch with a good CRC, 40 bytes of the next)")
    res, _ = fetch(wants, max_bytes=len(big) + len(small[0]) - 1)
    check_eq((res[(topic, 0)]["records"], res[(topic, 1)]["records"], res[(topic, 1)]["hw"]), (big, b"", 3),
             "room for less than partition 1's first batch: nothing of it (high watermark 3 still told)")
    res, _ = fetch(wants, max_bytes=len(big))
    check_eq((res[(topic, 0)]["records"], res[(topic, 1)]["records"]), (big, b""),
             "max_bytes exactly partition 0's batch: partition 1 waits for the next fetch")
    res, _ = fetch(list(reversed(wants)), max_bytes=10)
    check_eq((res[(topic, 1)]["records"], res[(topic, 0)]["records"]), (small[0], b""),
             "max_bytes 10, partition 1 asked first: its first batch whole, partition 0 nothing")


def test_fetch_errors_and_mid_batch():
    topic = create_topic(unique("ferr"), 1)
    produce(topic, 0, record_batch(filler(5, 10, b"a")))     # offsets 0..4
    produce(topic, 0, record_batch(filler(5, 10, b"b")))     # offsets 5..9
    res, _ = fetch([(topic, 0, 7, 1 << 20)])
    got, _ = batches(res[(topic, 0)]["records"])
    check(got and got[0][0] <= 7 <= got[0][1], "fetch at offset 7 returns the batch holding it first (%s)"
          % ([(b[0], b[1]) for b in got],))
    res, _ = fetch([(topic, 0, 10, 1 << 20)], max_wait=200)
    check_eq((res[(topic, 0)]["err"], res[(topic, 0)]["records"]), (0, b""),
             "fetch at the high watermark 10: no error, nothing")
    res, _ = fetch([(topic, 0, 11, 1 << 20)])
    check_eq(res[(topic, 0)]["err"], 1, "fetch past the high watermark: OFFSET_OUT_OF_RANGE (1)")
    res, _ = fetch([(topic, 0, -5, 1 << 20)])
    check_eq(res[(topic, 0)]["err"], 1, "fetch at offset -5: OFFSET_OUT_OF_RANGE (1)")
    res, _ = fetch([(topic, 3, 0, 1 << 20)])
    check_eq(res[(topic, 3)]["err"], 3, "fetch of partition 3 of a 1-partition topic: UNKNOWN_TOPIC_OR_PARTITION (3)")
    res, _ = fetch([("no-such-topic-fetch", 0, 0, 1 << 20)])
    check_eq(res[("no-such-topic-fetch", 0)]["err"], 3, "fetch of an unknown topic: UNKNOWN_TOPIC_OR_PARTITION (3)")


def fetch_v12(topic, partition, offset, last_fetched_epoch=-1, current_leader_epoch=-1):
    """One partition over Fetch v12 (flexible, KIP-482; LastFetchedEpoch,
    KIP-595): (error, high watermark, records, tags of the partition)."""
    corr = next_corr()
    body = (i32(-1) + i32(0) + i32(0) + i32(1 << 20) + i8(0) + i32(0) + i32(-1)
            + uvarint(2) + compact_string(topic) + uvarint(2)
            + i32(partition) + i32(current_leader_epoch) + i64(offset) + i32(last_fetched_epoch)
            + i64(-1) + i32(1 << 20) + uvarint(0) + uvarint(0)
            + uvarint(1) + compact_string("") + uvarint(0))
    r = wire.rpc(broker.port, 1, 12, body, corr=corr, flexible=True)
    check_eq(r.tags(), {}, "Fetch v12: response header v1")
    r.i32()
    check_eq((r.i16(), r.i32()), (0, 0), "Fetch v12: no top-level error, session 0")
    (_t, parts, _tt), = r.compact_array(lambda x: (x.compact_string(), x.compact_array(lambda y: (
        y.i32(), y.i16(), y.i64(), y.i64(), y.i64(), y.compact_array(lambda z: (z.i64(), z.i64(), z.tags())),
        y.i32(), y.take(y.uvarint() - 1), y.tags())), x.tags()))
    r.tags()
    check(r.at_end(), "Fetch v12 answer fully parsed")
    (_p, err, hw, _lso, _ls, _ab, _pref, records, tags), = parts
    return err, hw, records, tags


def test_fetch_v12_epochs():
    """Fetch v12 against the one leader epoch (0) samsa-broker stamps into
    every batch, as Kafka checks a fetcher's epochs: LastFetchedEpoch 0 at a
    valid offset reads; past the log end it is a DivergingEpoch (tag 0:
    epoch 0, the log end offset) with no records; an epoch the log never had
    is OFFSET_OUT_OF_RANGE; a CurrentLeaderEpoch newer than 0 is
    UNKNOWN_LEADER_EPOCH."""
    topic = create_topic(unique("fepoch"), 1)
    produce(topic, 0, record_batch(filler(3, 10, b"e")))     # offsets 0..2
    err, hw, records, tags = fetch_v12(topic, 0, 1, last_fetched_epoch=0)
    got, _ = batches(records)
    check(err == 0 and hw == 3 and got and tags == {}, "LastFetchedEpoch 0 at offset 1: the batch, no tags",
          (err, hw, tags))
    check_eq(struct.unpack(">i", records[12:16])[0], 0, "the batch's PartitionLeaderEpoch is 0")
    err, hw, records, tags = fetch_v12(topic, 0, 5, last_fetched_epoch=0)
    check_eq((err, records), (0, b""), "LastFetchedEpoch 0 at offset 5 (past the end 3): no error, no records")
    check_eq(tags, {0: i32(0) + i64(3) + uvarint(0)}, "DivergingEpoch (tag 0): epoch 0 ends at 3")
    err, _hw, _r, tags = fetch_v12(topic, 0, 1, last_fetched_epoch=4)
    check_eq((err, tags), (1, {}), "LastFetchedEpoch 4 (never held): OFFSET_OUT_OF_RANGE")
    err, _hw, _r, _t = fetch_v12(topic, 0, 1, current_leader_epoch=1)
    check_eq(err, 75, "CurrentLeaderEpoch 1 (newer than 0): UNKNOWN_LEADER_EPOCH")
    err, _hw, records, _t = fetch_v12(topic, 0, 0, current_leader_epoch=0)
    check(err == 0 and records, "CurrentLeaderEpoch 0: read", err)


def main():
    try:
        broker.start()
        print("broker pid %d on %s" % (broker.pid, broker.bootstrap), flush=True)
        rc = run_tests([test_long_poll_times_out, test_long_poll_wakes_on_produce, test_min_bytes,
                        test_size_limits, test_response_room, test_fetch_errors_and_mid_batch,
                        test_fetch_v12_epochs], [broker])
        return broker.finish(rc)
    finally:
        broker.cleanup()


if __name__ == "__main__":
    sys.exit(main())
