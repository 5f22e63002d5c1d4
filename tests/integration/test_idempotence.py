#!/usr/bin/python3
"""Idempotent producers on the wire: raw InitProducerId, Produce and Fetch
frames with record batches built here (producer id, epoch, base sequence,
CRC-32C), so every case a client would only reach after a lost answer or
a crash is sent on purpose. What each case gets is Apache Kafka's answer
(ProducerStateManager / ProducerAppendInfo / LogValidator):

test_init_producer_id: InitProducerId hands out distinct ids, epoch 0; a
  transactional id is refused (no transactions here).
test_duplicate: a batch sent again is answered with the offset it got the
  first time, error NONE, and not appended (high watermark unchanged, each
  record once when fetched); the last five batches of a producer are
  recognised, an older one is OUT_OF_ORDER_SEQUENCE_NUMBER, as in Kafka.
test_duplicate_log_append_time: a duplicate's answer carries the
  log_append_time of the batch it repeats (the append time on a
  LogAppendTime topic, the batch's MaxTimestamp on a CreateTime one), as
  Kafka's does.
test_sequence_gap: a batch whose first sequence skips one is
  OUT_OF_ORDER_SEQUENCE_NUMBER (45) and nothing of it is written; the
  producer goes on at the right sequence afterwards.
test_old_epoch: after a batch with a higher epoch (a client-side bump, as
  the Java producer makes), a batch with the older epoch is
  INVALID_PRODUCER_EPOCH (47) and not written; a new epoch must start at
  sequence 0 (else 45).
test_sequence_required: a batch with a producer id but no base sequence
  (-1) is INVALID_RECORD (87), as Kafka's LogValidator answers.
test_producer_ids_across_restarts: ids handed out before a SIGTERM
  restart, after it and after a kill -9 restart are all distinct.
test_dedupe_across_restart: batches appended with acks=-1, the broker
  killed with kill -9 and restarted: the last batch sent again is a
  duplicate (its first offset, nothing appended), a gap is still refused,
  the next sequence is accepted.

Usage: test_idempotence.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check, check_eq, run_tests, unique  # noqa: E402
import kafka_wire as wire  # noqa: E402

NONE, OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH, INVALID_RECORD = 0, 45, 47, 87

broker = Broker(overrides={"auto.create.topics.enable": "false"}, name="idempotence")
_corr = [2000]


def next_corr():
    _corr[0] += 1
    return _corr[0]


def create_topic(name, partitions=1):
    check_eq(wire.create_topics(broker.port, [(name, partitions, {})], corr=next_corr()), {name: (0, None)},
             "created %s" % name)
    return name


def init_pid():
    err, pid, epoch = wire.init_producer_id(broker.port, corr=next_corr())
    check_eq((err, epoch), (NONE, 0), "InitProducerId: no error, epoch 0 (producer id %d)" % pid)
    check(pid >= 0, "the producer id %d is not negative" % pid)
    return pid


def produce(topic, batch, partition=0, acks=-1):
    """(error_code, base_offset) of one Produce v3 of one batch."""
    corr = next_corr()
    resp = wire.roundtrip(broker.port, wire.produce_request(corr, {(topic, partition): batch}, acks=acks), timeout=30)
    err, base, _ = wire.parse_produce(resp, corr)[(topic, partition)]
    return err, base


def produce3(topic, batch, partition=0):
    """(error_code, base_offset, log_append_time) of one Produce v3 (acks=-1)."""
    corr = next_corr()
    resp = wire.roundtrip(broker.port, wire.produce_request(corr, {(topic, partition): batch}), timeout=30)
    return wire.parse_produce(resp, corr)[(topic, partition)]


def fetch_all(topic, partition=0):
    """(high watermark, [batch bytes]) of the whole partition."""
    corr = next_corr()
    resp = wire.roundtrip(broker.port, wire.fetch_v4(corr, [(topic, partition, 0, 8 << 20)]))
    r = wire.parse_fetch_v4(resp, corr)[(topic, partition)]
    if r["err"] != NONE:
        raise AssertionError("fetch %s-%d: error %d" % (topic, partition, r["err"]))
    got, rest = wire.batches(r["records"])
    if rest:
        raise AssertionError("fetch %s-%d: %d bytes of a partial batch" % (topic, partition, len(rest)))
    for base, _last, _count, _b, crc_ok in got:
        if not crc_ok:
            raise AssertionError("fetch %s-%d: the batch at %d has a bad CRC" % (topic, partition, base))
    return r["hw"], [b for *_, b, _ok in got]


def ibatch(pid, epoch, seq, n, tag):
    """An idempotent batch of n records, sequences seq..seq+n-1."""
    return wire.record_batch([(b"%s-%d" % (tag, seq + i), b"value %s %d" % (tag, seq + i)) for i in range(n)],
                             producer_id=pid, producer_epoch=epoch, base_sequence=seq)


def same_batch(stored, sent):
    """The stored batch is the sent one (from its CRC on: the broker sets the
    base offset and the partition leader epoch)."""
    return stored[17:] == sent[17:]


def test_init_producer_id():
    ids = [init_pid() for _ in range(3)]
    check_eq(len(set(ids)), 3, "three InitProducerId calls: three distinct ids %s" % ids)
    err, pid, epoch = wire.init_producer_id(broker.port, transactional_id="tx-1", corr=next_corr())
    check(err != NONE and pid == -1 and epoch == -1,
          "InitProducerId with a transactional id refused (error %d, id %d, epoch %d)" % (err, pid, epoch))


def test_duplicate():
    topic = create_topic(unique("idem-dup"))
    pid = init_pid()
    a, b = ibatch(pid, 0, 0, 3, b"a"), ibatch(pid, 0, 3, 2, b"b")
    check_eq(produce(topic, a), (NONE, 0), "batch A (sequences 0-2) appended at offset 0")
    check_eq(produce(topic, b), (NONE, 3), "batch B (sequences 3-4) appended at offset 3")
    check_eq(produce(topic, a), (NONE, 0), "batch A sent again: no error, its first offset 0")
    check_eq(produce(topic, b, acks=1), (NONE, 3), "batch B sent again (acks=1): no error, its first offset 3")
    hw, got = fetch_all(topic)
    check_eq(hw, 5, "the high watermark is still 5")
    check(len(got) == 2 and same_batch(got[0], a) and same_batch(got[1], b),
          "the partition holds A then B, each once (%d batches)" % len(got))

    # Kafka keeps the last five batches per producer: 6 more batches make A's
    # successors C..H; the oldest of the five kept is still a duplicate, the
    # one before it is out of order
    seq, later = 5, []
    for i in range(6):
        x = ibatch(pid, 0, seq, 1, b"c%d" % i)
        check_eq(produce(topic, x), (NONE, 5 + i), "batch %d of 6 more (sequence %d) at offset %d" % (i + 1, seq, 5 + i))
        later.append(x)
        seq += 1
    check_eq(produce(topic, later[1]), (NONE, 6), "the oldest of the last five batches sent again: its offset 6")
    check_eq(produce(topic, later[0])[0], OUT_OF_ORDER_SEQUENCE_NUMBER,
             "the batch before the last five sent again: OUT_OF_ORDER_SEQUENCE_NUMBER (45), as in Kafka")
    hw, got = fetch_all(topic)
    check_eq((hw, len(got)), (11, 8), "nothing appended by either: high watermark 11, 8 batches")


def test_duplicate_log_append_time():
    # Kafka answers a duplicate with the log_append_time of the batch it
    # repeats (UnifiedLog: appendInfo.setLogAppendTime(duplicate.timestamp),
    # the stored MaxTimestamp): the append time on a LogAppendTime topic, the
    # batch's own MaxTimestamp on a CreateTime one
    lat_topic = unique("idem-lat")
    check_eq(wire.create_topics(broker.port, [(lat_topic, 1, {"message.timestamp.type": "LogAppendTime"})],
                                corr=next_corr()), {lat_topic: (0, None)}, "created %s (LogAppendTime)" % lat_topic)
    pid = init_pid()
    a = ibatch(pid, 0, 0, 2, b"lat")
    err, base, lat = produce3(lat_topic, a)
    check(err == NONE and base == 0 and lat > 0, "batch A appended at offset 0, log_append_time %d" % lat)
    check_eq(produce3(lat_topic, a), (NONE, 0, lat), "batch A sent again: offset 0 and the same log_append_time")
    ct_topic = create_topic(unique("idem-ct"))
    b = wire.record_batch([(b"k", b"ct")], ts=1234567890123, producer_id=pid, producer_epoch=0, base_sequence=0)
    check_eq(produce3(ct_topic, b), (NONE, 0, -1), "CreateTime topic: batch B at offset 0, log_append_time -1")
    check_eq(produce3(ct_topic, b), (NONE, 0, 1234567890123),
             "batch B sent again: offset 0, log_append_time its MaxTimestamp, as Kafka answers a duplicate")


def test_sequence_gap():
    topic = create_topic(unique("idem-gap"))
    pid = init_pid()
    check_eq(produce(topic, ibatch(pid, 0, 0, 3, b"a")), (NONE, 0), "sequences 0-2 appended at offset 0")
    gap = ibatch(pid, 0, 5, 1, b"gap")
    err, base = produce(topic, gap)
    check_eq(err, OUT_OF_ORDER_SEQUENCE_NUMBER, "sequence 5 after 2: OUT_OF_ORDER_SEQUENCE_NUMBER (45)")
    err, _ = produce(topic, ibatch(pid, 0, 5, 1, b"gap"), acks=1)
    check_eq(err, OUT_OF_ORDER_SEQUENCE_NUMBER, "the same with acks=1")
    hw, got = fetch_all(topic)
    check_eq((hw, len(got)), (3, 1), "nothing of it written: high watermark 3, one batch")
    nxt = ibatch(pid, 0, 3, 2, b"next")
    check_eq(produce(topic, nxt), (NONE, 3), "then sequence 3 is accepted at offset 3")
    hw, got = fetch_all(topic)
    check(hw == 5 and len(got) == 2 and same_batch(got[1], nxt), "high watermark 5, the batch of sequence 3 last")


def test_old_epoch():
    topic = create_topic(unique("idem-epoch"))
    pid = init_pid()
    check_eq(produce(topic, ibatch(pid, 0, 0, 2, b"e0")), (NONE, 0), "epoch 0, sequences 0-1 at offset 0")
    check_eq(produce(topic, ibatch(pid, 1, 0, 1, b"e1")), (NONE, 2),
             "epoch 1 (a client-side bump), sequence 0: accepted at offset 2")
    err, _ = produce(topic, ibatch(pid, 0, 2, 1, b"e0-late"))
    check_eq(err, INVALID_PRODUCER_EPOCH, "epoch 0 again, sequence 2: INVALID_PRODUCER_EPOCH (47)")
    err, _ = produce(topic, ibatch(pid, 0, 0, 2, b"e0"))
    check_eq(err, INVALID_PRODUCER_EPOCH, "epoch 0's first batch sent again: INVALID_PRODUCER_EPOCH (47)")
    err, _ = produce(topic, ibatch(pid, 2, 3, 1, b"e2"))
    check_eq(err, OUT_OF_ORDER_SEQUENCE_NUMBER, "epoch 2 starting at sequence 3: OUT_OF_ORDER_SEQUENCE_NUMBER (45)")
    hw, got = fetch_all(topic)
    check_eq((hw, len(got)), (3, 2), "none of the three written: high watermark 3, two batches")
    check_eq(produce(topic, ibatch(pid, 1, 1, 1, b"e1")), (NONE, 3), "epoch 1 goes on at sequence 1, offset 3")


def test_sequence_required():
    topic = create_topic(unique("idem-noseq"))
    pid = init_pid()
    err, _ = produce(topic, ibatch(pid, 0, -1, 1, b"noseq"))
    check_eq(err, INVALID_RECORD, "a producer id with base sequence -1: INVALID_RECORD (87), as Kafka answers")
    hw, _ = fetch_all(topic)
    check_eq(hw, 0, "nothing written")
    check_eq(produce(topic, ibatch(pid, 0, 0, 1, b"seq")), (NONE, 0), "the same producer at sequence 0: offset 0")


def test_producer_ids_across_restarts():
    ids = [init_pid(), init_pid()]
    broker.restart()                      # SIGTERM, then the same data dir and port
    check_eq(broker.last_exit, 0, "the broker exited 0 on SIGTERM and started again")
    ids += [init_pid(), init_pid()]
    broker.kill9()
    broker.start()
    check(True, "the broker killed with kill -9 and started again")
    ids += [init_pid(), init_pid()]
    check_eq(len(set(ids)), len(ids), "producer ids before, after a SIGTERM restart and after a kill -9 restart "
             "are all distinct: %s" % ids)


def test_dedupe_across_restart():
    topic = create_topic(unique("idem-restart"), 2)
    pid = init_pid()
    a, b = ibatch(pid, 0, 0, 2, b"a"), ibatch(pid, 0, 2, 3, b"b")
    check_eq(produce(topic, a, partition=1), (NONE, 0), "batch A (sequences 0-1) at offset 0 of partition 1")
    check_eq(produce(topic, b, partition=1), (NONE, 2), "batch B (sequences 2-4) at offset 2")
    broker.kill9()
    broker.start()
    check(True, "the broker killed with kill -9 and started again")
    check_eq(produce(topic, b, partition=1), (NONE, 2), "batch B sent again after the restart: its first offset 2")
    check_eq(produce(topic, a, partition=1), (NONE, 0), "batch A too: offset 0")
    hw, got = fetch_all(topic, 1)
    check(hw == 5 and len(got) == 2 and same_batch(got[0], a) and same_batch(got[1], b),
          "nothing appended: high watermark 5, A and B once (%d batches)" % len(got))
    err, _ = produce(topic, ibatch(pid, 0, 7, 1, b"gap"), partition=1)
    check_eq(err, OUT_OF_ORDER_SEQUENCE_NUMBER, "a gap after the restart is still OUT_OF_ORDER_SEQUENCE_NUMBER (45)")
    check_eq(produce(topic, ibatch(pid, 0, 5, 1, b"c"), partition=1), (NONE, 5), "sequence 5 goes on at offset 5")
    broker.restart()
    check_eq(produce(topic, ibatch(pid, 0, 5, 1, b"c"), partition=1), (NONE, 5),
             "after a clean restart too, the last batch sent again is answered with its offset 5")


def main():
    try:
        broker.start()
        print("broker pid %d on %s" % (broker.pid, broker.bootstrap), flush=True)
        rc = run_tests([test_init_producer_id, test_duplicate, test_duplicate_log_append_time, test_sequence_gap,
                        test_old_epoch, test_sequence_required, test_producer_ids_across_restarts,
                        test_dedupe_across_restart], [broker])
        return broker.finish(rc)
    finally:
        broker.cleanup()


if __name__ == "__main__":
    sys.exit(main())
