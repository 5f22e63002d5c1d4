#!/usr/bin/python3
"""Durability that reaches the disk: with strace attached to the running
broker (strace_order.py), the answer to a request that promises
durability is written to the client's socket only after the data's write
and an fsync (fdatasync) of that very file that began after the write
returned. kill -9 keeps the page cache, so only the order of the system
calls shows what a power loss would keep.

test_produce_acks_all: acks=-1 produces, one partition each: the batch's
  pwrite to its partition's .log, then an fdatasync of that .log, then
  the answer.
test_produce_several_partitions: one acks=-1 request to 2 topics x 2
  partitions: all four logs written and synced before the one answer.
test_group_commit: two producers on their own connections send acks=-1
  batches to one partition, 5 requests in flight each: every answer
  comes after an fdatasync that began after its own batch's write (the
  number of fdatasyncs shared is printed).
test_produce_acks_1: acks=1 is answered after the write; whether the
  answer came before any fsync is printed (nothing waits for one, but a
  background flush could come first: not a check).
test_offset_commit_order: an OffsetCommit, an OffsetDelete and a
  DeleteGroups: their records written to the offsets store
  (samsa-groups/) and fsynced before each answer.

test_failed_write_and_fsync: strace makes the disk fail: a pwrite failing
  ENOSPC is answered KAFKA_STORAGE_ERROR and leaves nothing in the log (the
  next batch takes the same offset), and an OffsetCommit whose record
  cannot be written is refused (nothing committed); an fdatasync failing EIO answers the
  acks=-1 produce KAFKA_STORAGE_ERROR, takes that partition offline (the
  other goes on) until a restart.
test_waiting_produce_deleted_or_shut_down: an acks=-1 produce waiting on a
  slow fdatasync (strace delays it 1.5 s): its topic deleted meanwhile,
  answered UNKNOWN_TOPIC_OR_PARTITION; the broker told to stop, answered
  NONE after the broker's own sync, the record there after the restart.

Without strace, or when it cannot attach (ptrace forbidden), these tests
fail (or skip, when the harness can): they never pass unchecked.

Usage: test_durable_order.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check, check_eq, run_tests, unique, wait_for  # noqa: E402
import group_wire as gw  # noqa: E402
import kafka_wire as wire  # noqa: E402
import strace_order as so  # noqa: E402

broker = Broker(overrides={"auto.create.topics.enable": "false"}, name="durable-order")
_corr = [1000]


def next_corr():
    _corr[0] += 1
    return _corr[0]


def create_topic(name, partitions):
    check_eq(wire.create_topics(broker.port, [(name, partitions, {})], corr=next_corr()), {name: (0, None)},
             "created %s with %d partitions" % (name, partitions))
    return name


def poke():
    wire.rpc(broker.port, 18, 0, b"", corr=next_corr())   # ApiVersions: any answer will do


def tracer(name):
    return so.Tracer(broker, os.path.join(broker.dir, name + ".trace"), poke)


def produce_on(s, parts, acks):
    """One Produce v3 on socket s; {(topic, partition): (err, base, lat)}."""
    corr = next_corr()
    wire.send(s, wire.produce_request(corr, parts, acks=acks))
    resp = wire.read_response(s, timeout=30)
    if resp is None:
        raise AssertionError("produce: the broker closed the connection")
    return wire.parse_produce(resp, corr)


def log_of(topic, partition):
    """A path test for the .log segments of one partition."""
    d = "/%s-%d/" % (topic, partition)
    return lambda p: d in p and p.endswith(".log")


def batch_write(calls, topic, partition, length, answer):
    """The pwrite of `length` bytes to topic-partition's log that returned
    before answer began (the batch), or None."""
    ws = [w for w in so.file_writes(calls, log_of(topic, partition))
          if w.end < answer.start and w.int_arg(2) == length]
    return ws[-1] if ws else None


def check_durable_before(calls, topic, partition, length, answer, what):
    w = batch_write(calls, topic, partition, length, answer)
    check(w is not None, "%s: the trace shows its %d-byte batch written to %s-%d's log before the answer"
          % (what, length, topic, partition))
    s = so.synced_before(calls, w, log_of(topic, partition), answer)
    check(s is not None, "%s: an fdatasync of %s-%d's log began after that write returned (line %d) and returned "
          "(line %s) before the answer was written (line %d)"
          % (what, topic, partition, w.end, s.end if s else None, answer.start))


def test_produce_acks_all():
    topic = create_topic(unique("acks-all"), 4)
    sent = {}
    with tracer("acks-all") as t:
        for p in range(4):
            batch = wire.record_batch([(b"k%d" % p, b"durable %d " % p + b"x" * (40 * p))])
            s = wire.connect(broker.port)
            try:
                res = produce_on(s, {(topic, p): batch}, acks=-1)
                sent[p] = (s.getsockname()[1], len(batch))
            finally:
                s.close()
            check_eq(res, {(topic, p): (0, 0, -1)}, "acks=-1 produce to %s-%d answered: offset 0" % (topic, p))
    calls = t.calls()
    for p, (port, length) in sent.items():
        answers = so.socket_writes(calls, port)
        check(answers, "partition %d: the trace shows the answer written to the client's socket" % p)
        check_durable_before(calls, topic, p, length, answers[0], "acks=-1 to partition %d" % p)


def test_produce_several_partitions():
    t1, t2 = create_topic(unique("multi-a"), 2), create_topic(unique("multi-b"), 2)
    parts = {(t, p): wire.record_batch([(b"k", b"%s-%d " % (t.encode(), p) + b"y" * (30 * p + (7 if t == t2 else 0)))])
             for t in (t1, t2) for p in range(2)}
    with tracer("multi") as t:
        s = wire.connect(broker.port)
        try:
            res = produce_on(s, parts, acks=-1)
            port = s.getsockname()[1]
        finally:
            s.close()
        check_eq(res, {tp: (0, 0, -1) for tp in parts}, "one acks=-1 produce to 2 topics x 2 partitions answered")
    calls = t.calls()
    answers = so.socket_writes(calls, port)
    check_eq(len(answers), 1, "the trace shows one answer written to the client's socket")
    for (topic, p), batch in parts.items():
        check_durable_before(calls, topic, p, len(batch), answers[0], "the 4-partition request, %s-%d" % (topic, p))


def test_group_commit():
    topic = create_topic(unique("group-commit"), 1)
    N, WINDOW = 20, 5
    sent = {0: [], 1: []}      # producer -> [(batch length, base offset, answer size)]
    ports = {}
    errors = []

    def producer(k):
        s = wire.connect(broker.port)
        ports[k] = s.getsockname()[1]
        try:
            for w0 in range(0, N, WINDOW):
                # WINDOW requests in flight, as a client pipelines them; lengths
                # distinct across both producers: each write is known by its length
                corrs = []
                for i in range(w0, min(N, w0 + WINDOW)):
                    batch = wire.record_batch([(b"p%d" % k, b"v" * (100 + 2 * i + k))])
                    corrs.append((next_corr(), len(batch)))
                    wire.send(s, wire.produce_request(corrs[-1][0], {(topic, 0): batch}, acks=-1))
                for corr, length in corrs:
                    resp = wire.read_response(s, timeout=30)
                    if resp is None:
                        raise AssertionError("the broker closed the connection")
                    err, base, _ = wire.parse_produce(resp, corr)[(topic, 0)]
                    if err:
                        errors.append("producer %d: error %d" % (k, err))
                    sent[k].append((length, base, len(resp) + 4))
        except Exception as e:   # noqa: BLE001  (reported below)
            errors.append("producer %d: %r" % (k, e))
        finally:
            s.close()

    with tracer("group-commit") as t:
        threads = [threading.Thread(target=producer, args=(k,)) for k in (0, 1)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    check_eq(errors, [], "two concurrent acks=-1 producers, %d batches each, all answered without error" % N)
    offsets = sorted(b for k in sent for _, b, _ in sent[k])
    check_eq(offsets, list(range(2 * N)), "they got offsets 0..%d, each once" % (2 * N - 1))
    calls = t.calls()
    for k in (0, 1):
        answers = so.answer_writes(calls, ports[k], [n for _, _, n in sent[k]])
        check(None not in answers, "producer %d: the trace shows the socket writes carrying its %d answers" % (k, N))
        for i, (length, _, _) in enumerate(sent[k]):
            w = batch_write(calls, topic, 0, length, answers[i])
            s = w and so.synced_before(calls, w, log_of(topic, 0), answers[i])
            if w is None or s is None:
                check(False, "producer %d batch %d: written (%s) and fsynced (%s) before its answer (line %d)"
                      % (k, i, w, s, answers[i].start))
        check(True, "producer %d: each of its %d answers came after an fdatasync that began after its batch's "
              "write returned" % (k, N))
    syncs = so.file_syncs(calls, log_of(topic, 0))
    print("  group commit: %d acks=-1 batches, %d fdatasync(s) of the log" % (2 * N, len(syncs)), flush=True)


def test_produce_acks_1():
    topic = create_topic(unique("acks-1"), 1)
    batch = wire.record_batch([(b"k", b"acks one")])
    with tracer("acks-1") as t:
        s = wire.connect(broker.port)
        try:
            res = produce_on(s, {(topic, 0): batch}, acks=1)
            port = s.getsockname()[1]
        finally:
            s.close()
        check_eq(res, {(topic, 0): (0, 0, -1)}, "acks=1 produce answered: offset 0")
        poke()
    calls = t.calls()
    answers = so.socket_writes(calls, port)
    check(answers, "the trace shows the answer written to the client's socket")
    w = batch_write(calls, topic, 0, len(batch), answers[0])
    check(w is not None, "the batch was written to the log (line %s) before the acks=1 answer (line %d)"
          % (w.end if w else None, answers[0].start))
    first_sync = next(iter(so.file_syncs(calls, log_of(topic, 0))), None)
    if first_sync is None or first_sync.end > answers[0].start:
        print("  acks=1: answered (line %d) with no fdatasync of the log before it (first: %s): it did not wait"
              % (answers[0].start, first_sync.end if first_sync else "none while traced"), flush=True)
    else:
        print("  acks=1: an fdatasync of the log happened to return (line %d) before the answer (line %d)"
              % (first_sync.end, answers[0].start), flush=True)


def test_offset_commit_order():
    """OffsetCommit, OffsetDelete and DeleteGroups: the write of their
    records to the offsets store and its fsync complete before the
    response is written (what makes an acknowledged commit survive a
    power loss)."""
    topic, group = create_topic(unique("commit-order"), 2), unique("commit-order-group")
    conns = {}

    def send(name, api, v, body):
        c = gw.Conn(broker.port)
        conns[name] = c.s.getsockname()[1]
        try:
            return c.call(api, v, body)
        finally:
            c.close()

    with tracer("offsets") as t:
        res = gw.parse_offset_commit(send("OffsetCommit", gw.OFFSET_COMMIT, 2, gw.offset_commit_body(
            2, group, -1, "", {(topic, 0): (42, "fsync"), (topic, 1): (43, None)})), 2)
        check_eq(set(res.values()), {0}, "OffsetCommit of 2 partitions answered")
        err, res = gw.parse_offset_delete(send("OffsetDelete", gw.OFFSET_DELETE, 0, gw.offset_delete_body(
            group, {topic: [1]})))
        check_eq((err, res), (0, {(topic, 1): 0}), "OffsetDelete answered")
        res = gw.parse_delete_groups(send("DeleteGroups", gw.DELETE_GROUPS, 1, gw.delete_groups_body([group])))
        check_eq(res, {group: 0}, "DeleteGroups answered")
    check(broker.alive(), "the broker runs on after strace detached")
    calls = t.calls()

    def store(p):
        return "/samsa-groups/" in p and p.endswith(".log")

    for name, port in conns.items():
        answers = so.socket_writes(calls, port)
        check(answers, "%s: the trace shows its response written to the client's socket" % name)
        writes = [w for w in so.file_writes(calls, store) if w.end < answers[0].start]
        check(writes, "%s: its records were written to the offsets store before the answer" % name)
        s = so.synced_before(calls, writes[-1], store, answers[0])
        check(s is not None, "%s: the store's last write (line %d) was fsynced (line %s) before the answer (line %d)"
              % (name, writes[-1].end, s.end if s else None, answers[0].start))


def injecting(name, injects):
    return so.Tracer(broker, os.path.join(broker.dir, name + ".trace"), poke, injects)


def log_size(topic, partition):
    d = os.path.join(broker.data_dir, "%s-%d" % (topic, partition))
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".log"))


def test_failed_write_and_fsync():
    """What the answer says when the disk fails (strace makes the system call
    fail): a pwrite failing ENOSPC is answered KAFKA_STORAGE_ERROR and leaves
    nothing in the log (the next batch takes the same offset); an fdatasync
    failing EIO answers the acks=-1 produce waiting on it KAFKA_STORAGE_ERROR,
    never success, and takes that partition offline (the others go on) until
    a restart checks the log again."""
    topic = create_topic(unique("faults"), 2)
    batch = wire.record_batch([(b"k", b"refused by a full disk")])
    with injecting("enospc", ["pwrite64:error=ENOSPC"]):
        s = wire.connect(broker.port)
        try:
            res = produce_on(s, {(topic, 0): batch}, acks=1)
        finally:
            s.close()
    check_eq(res, {(topic, 0): (56, -1, -1)}, "acks=1 produce whose pwrite fails ENOSPC: KAFKA_STORAGE_ERROR")
    check_eq(log_size(topic, 0), 0, "nothing of it in the partition's log")
    s = wire.connect(broker.port)
    try:
        check_eq(produce_on(s, {(topic, 0): batch}, acks=-1), {(topic, 0): (0, 0, -1)},
                 "the same batch afterwards: offset 0 (no gap, nothing half-written before it)")
    finally:
        s.close()
    check_eq(log_size(topic, 0), len(batch), "the log holds exactly that batch")

    # an offset commit whose record cannot be written to the offsets store
    group = unique("faults-group")
    body = gw.offset_commit_body(2, group, -1, "", {(topic, 0): (1, None)})
    with injecting("enospc-commit", ["pwrite64:error=ENOSPC"]):
        got = gw.parse_offset_commit(gw.rpc(broker.port, gw.OFFSET_COMMIT, 2, body), 2)
    check_eq(got, {(topic, 0): 56}, "an OffsetCommit whose record's pwrite fails ENOSPC: KAFKA_STORAGE_ERROR")
    check_eq(gw.offset_fetch(broker.port, group, {topic: [0]})[0][(topic, 0)][0], -1,
             "and nothing is committed")
    check_eq(gw.parse_offset_commit(gw.rpc(broker.port, gw.OFFSET_COMMIT, 2, body), 2), {(topic, 0): 0},
             "the same commit afterwards: NONE")
    check_eq(gw.offset_fetch(broker.port, group, {topic: [0]})[0][(topic, 0)][0], 1, "committed offset 1")

    with injecting("eio", ["fdatasync:error=EIO"]):
        s = wire.connect(broker.port)
        try:
            res = produce_on(s, {(topic, 1): batch}, acks=-1)
        finally:
            s.close()
    check_eq(res, {(topic, 1): (56, -1, -1)}, "acks=-1 produce whose fdatasync fails EIO: KAFKA_STORAGE_ERROR, "
             "not success")
    s = wire.connect(broker.port)
    try:
        check_eq(produce_on(s, {(topic, 1): batch}, acks=1)[(topic, 1)][0], 56,
                 "the partition stays offline: the next produce to it KAFKA_STORAGE_ERROR too")
        check_eq(produce_on(s, {(topic, 0): batch}, acks=-1), {(topic, 0): (0, 1, -1)},
                 "the other partition takes batches (offset 1)")
    finally:
        s.close()
    check("fdatasync of %s" % os.path.join(broker.data_dir, "%s-1" % topic) in broker.log_tail(200),
          "the broker's log names the failed fdatasync")
    check_eq(broker.stop(), 0, "SIGTERM: exit 0")
    broker.start()
    s = wire.connect(broker.port)
    try:
        res = produce_on(s, {(topic, 1): batch}, acks=-1)
    finally:
        s.close()
    check(res[(topic, 1)][0] == 0, "after a restart the partition takes batches again (offset %d)" % res[(topic, 1)][1])


def test_waiting_produce_deleted_or_shut_down():
    """An acks=-1 produce waiting for a slow fdatasync (strace delays each
    by 1.5 s) when its topic is deleted: answered UNKNOWN_TOPIC_OR_PARTITION
    at once; when the broker is told to stop: answered NONE after the
    broker's own sync, and the record is there after the restart."""
    topic = create_topic(unique("waiting"), 1)
    batch = wire.record_batch([(b"k", b"never made durable")])
    trace = os.path.join(broker.dir, "slow.trace")
    with injecting("slow", ["fdatasync:delay_enter=1500000"]):
        s = wire.connect(broker.port)
        try:
            c = next_corr()
            wire.send(s, wire.produce_request(c, {(topic, 0): batch}, acks=-1))
            wait_for(lambda: ("fdatasync(" in open(trace).read() and "%s-0/" % topic in open(trace).read()),
                     30, "the flusher to enter the partition's fdatasync")
            r = wire.rpc(broker.port, 20, 1, wire.array([wire.string(topic)]) + wire.i32(10000), corr=next_corr())
            r.i32()
            check_eq(r.array(lambda x: (x.string(), x.i16())), [(topic, 0)], "DeleteTopics while it waits: NONE")
            resp = wire.read_response(s, timeout=30)
        finally:
            s.close()
    check_eq(wire.parse_produce(resp, c), {(topic, 0): (3, -1, -1)},
             "the waiting produce: UNKNOWN_TOPIC_OR_PARTITION (its topic is gone)")

    topic = create_topic(unique("waiting"), 1)
    batch = wire.record_batch([(b"k", b"made durable by the shutdown")])
    with injecting("slow2", ["fdatasync:delay_enter=1500000"]):
        s = wire.connect(broker.port)
        try:
            c = next_corr()
            wire.send(s, wire.produce_request(c, {(topic, 0): batch}, acks=-1))
            wait_for(lambda: "fdatasync(" in open(os.path.join(broker.dir, "slow2.trace")).read(), 30,
                     "the flusher to enter an fdatasync")
            broker.proc.send_signal(signal.SIGTERM)
            resp = wire.read_response(s, timeout=30)
        finally:
            s.close()
    check_eq(wire.parse_produce(resp, c), {(topic, 0): (0, 0, -1)},
             "SIGTERM while it waits: answered NONE, offset 0, before the broker exits")
    check_eq(broker.stop(), 0, "the broker exits 0")
    broker.start()
    r = wire.parse_fetch_v4(wire.roundtrip(broker.port, wire.fetch_v4(7, [(topic, 0, 0, 1 << 20)])), 7)[(topic, 0)]
    check_eq((r["err"], r["hw"]), (0, 1), "after the restart the record is there (high watermark 1)")


def main():
    try:
        broker.start()
        print("broker pid %d on %s" % (broker.pid, broker.bootstrap), flush=True)
        rc = run_tests([test_produce_acks_all, test_produce_several_partitions, test_group_commit,
                        test_produce_acks_1, test_offset_commit_order, test_failed_write_and_fsync,
                        test_waiting_produce_deleted_or_shut_down], [broker])
        return broker.finish(rc)
    finally:
        broker.cleanup()


if __name__ == "__main__":
    sys.exit(main())
