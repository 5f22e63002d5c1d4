#!/usr/bin/python3
"""Topic changes on disk are all or nothing, whatever moment a crash picks,
and every topic name Kafka accepts works (issue 10, items 3 and 4).

DeleteTopics, CreateTopics and CreatePartitions on an 8-partition topic are
each interrupted by SIGKILL at every point that changes the disk: strace,
attached to the running broker, kills it on entering the Nth rename,
unlink, rmdir, mkdir, fsync or fdatasync (`-e inject=SYSCALL:signal=KILL:
when=N`, N = 1, 2, ... until the operation completes before the Nth call). After each kill the broker is
restarted and the topic must be wholly there (every partition, each with
the record it held) or wholly gone (no partition, no directory, no config
file); nothing of an unfinished operation may remain on disk.

System calls that fail instead (strace `-e inject=SYSCALL:error=ENOSPC|EIO`):
CreateTopics, CreatePartitions, AlterConfigs and DeleteTopics answer
KAFKA_STORAGE_ERROR with the reason and undo what they did; when the undo
fails too (or a recorded deletion cannot go on), later topic changes are
refused until a restart finishes the change; a damaged change record stops
the broker from starting. And one failing system call at every mkdir,
rename, fsync, fdatasync and unlink of CreateTopics, CreatePartitions and
DeleteTopics, one at a time: each answer (NONE or KAFKA_STORAGE_ERROR) says
truly whether the change happened, whole.

Names of 240 to 249 characters (Kafka's limit) are created without and
with a topic config, altered (AlterConfigs), described, produced to,
deleted, and the deletion holds across restarts; the name is created again
and gets only its new config.

Raw Kafka frames for the admin requests and produce/fetch (kafka_wire);
confluent-kafka's AdminClient for DescribeConfigs.

Usage: test_topic_ops.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import os
import re
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Broker, check, check_eq, run_tests, wait_for  # noqa: E402
import kafka_wire as wire  # noqa: E402
import group_wire as gw  # noqa: E402

import confluent_kafka.admin as cka  # noqa: E402

broker = Broker(overrides={"auto.create.topics.enable": "false"}, name="topic-ops")
NPART = 8
_seq = [0]
_corr = [100]


def corr():
    _corr[0] += 1
    return _corr[0]


def name(tag, length=None):
    _seq[0] += 1
    n = "%s-%d-%d" % (tag, os.getpid(), _seq[0])
    if length:
        n = (n + "-" + "x" * length)[:length]
    return n


# -- raw admin requests --------------------------------------------------------------------------


def delete_topics_body(topics):
    return wire.array([wire.string(t) for t in topics]) + wire.i32(10000)


def create_partitions_body(topic, count):
    return (wire.array([wire.string(topic) + wire.i32(count) + wire.i32(-1)])
            + wire.i32(10000) + wire.i8(0))


def delete_topics(topics):
    r = wire.rpc(broker.port, 20, 1, delete_topics_body(topics), corr=corr())
    r.i32()   # throttle
    return dict(r.array(lambda x: (x.string(), x.i16())))


def create_partitions(topic, count):
    r = wire.rpc(broker.port, 37, 0, create_partitions_body(topic, count), corr=corr())
    r.i32()
    return {n: (e, m) for n, e, m in r.array(lambda x: (x.string(), x.i16(), x.string()))}


def metadata(topic):
    """Metadata v1 of one topic: (error_code, number of partitions)."""
    r = wire.rpc(broker.port, 3, 1, wire.array([wire.string(topic)]), corr=corr())
    r.array(lambda x: (x.i32(), x.string(), x.i32(), x.string()))   # brokers
    r.i32()                                                           # controller
    topics = r.array(lambda x: (x.i16(), x.string(), x.i8(), x.array(lambda y: (
        y.i16(), y.i32(), y.i32(), y.array(lambda z: z.i32()), y.array(lambda z: z.i32())))))
    (err, got, _internal, parts), = topics
    assert got == topic, (got, topic)
    return err, len(parts or [])


def produce(topic, partition, value):
    batch = wire.record_batch([(b"k", value)])
    c = corr()
    resp = wire.roundtrip(broker.port, wire.produce_request(c, {(topic, partition): batch}), timeout=30)
    err, base, _ = wire.parse_produce(resp, c)[(topic, partition)]
    return err, base


def fetch_values(topic, partition):
    """(error_code, high watermark, [record values]) of partition from offset 0."""
    c = corr()
    resp = wire.roundtrip(broker.port, wire.fetch_v4(c, [(topic, partition, 0, 1 << 20)]))
    r = wire.parse_fetch_v4(resp, c)[(topic, partition)]
    values = []
    for _base, _last, _count, b, ok in wire.batches(r["records"])[0]:
        assert ok, "a batch with a bad CRC"
        values.append(record_value(b))
    return r["err"], r["hw"], values


def record_value(batch):
    """The value of the one record of an uncompressed batch built by wire.record_batch."""
    p = 61
    _len, p = read_varint(batch, p)
    p += 1                                  # attributes
    _, p = read_varint(batch, p)            # timestamp delta
    _, p = read_varint(batch, p)            # offset delta
    klen, p = read_varint(batch, p)
    p += max(klen, 0)
    vlen, p = read_varint(batch, p)
    return batch[p:p + vlen]


def read_varint(b, p):
    shift = v = 0
    while True:
        c = b[p]
        p += 1
        v |= (c & 0x7f) << shift
        shift += 7
        if not c & 0x80:
            return (v >> 1) ^ -(v & 1), p


def describe_config(topic, key):
    admin = cka.AdminClient({"bootstrap.servers": broker.bootstrap})
    res = cka.ConfigResource(cka.ConfigResource.Type.TOPIC, topic)
    cfg = admin.describe_configs([res])[res].result(timeout=30)
    return cfg[key].value, cfg[key].source


def alter_config(topic, configs):
    admin = cka.AdminClient({"bootstrap.servers": broker.bootstrap})
    res = cka.ConfigResource(cka.ConfigResource.Type.TOPIC, topic, set_config=configs)
    admin.alter_configs([res])[res].result(timeout=30)


# -- what is on disk -----------------------------------------------------------------------------

PART_RE = re.compile(r"^(.+)-(\d+)$")


def partition_dirs(topic):
    out = set()
    for n in os.listdir(broker.data_dir):
        m = PART_RE.match(n)
        if m and m.group(1) == topic and os.path.isdir(os.path.join(broker.data_dir, n)):
            out.add(int(m.group(2)))
    return out


def leftovers():
    """What an unfinished topic operation could leave: directories being
    deleted in the log dir, and anything but topic configs in samsa-topics."""
    out = [n for n in os.listdir(broker.data_dir) if n.endswith("-delete")]
    td = os.path.join(broker.data_dir, "samsa-topics")
    if os.path.isdir(td):
        for root, dirs, files in os.walk(td):
            out += [os.path.join(root, f) for f in files if not f.endswith(".properties")]
    return out


def config_files():
    td = os.path.join(broker.data_dir, "samsa-topics")
    out = []
    for root, _dirs, files in os.walk(td):
        out += [os.path.join(root, f) for f in files]
    return out


# -- kill at the Nth system call -----------------------------------------------------------------

STRACE = shutil.which("strace")


def kill_during(syscall, n, request):
    """Attaches strace to the broker, told to SIGKILL it on entering its
    n-th `syscall` from then on; sends `request` (a whole frame) and waits
    for its answer or the broker's death. Returns True if it was killed
    (then the broker is reaped), False if it answered first."""
    if not STRACE:
        raise AssertionError("cannot check: no strace (scripts/deps.sh test installs it)")
    trace = os.path.join(broker.dir, "kill.trace")
    if os.path.exists(trace):
        os.unlink(trace)
    sc = "%s,write,writev,sendmsg,sendto" % syscall
    st = subprocess.Popen([STRACE, "-f", "-qq", "-yy", "-o", trace, "-e", "trace=" + sc,
                           "-e", "inject=%s:signal=KILL:when=%d" % (syscall, n), "-p", str(broker.pid)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          preexec_fn=harness._die_with_parent)
    try:
        # attached once the answer to a request shows in the trace
        def attached():
            if st.poll() is not None:
                raise AssertionError("cannot check: strace could not attach: %s"
                                     % st.stderr.read().decode("utf-8", "replace")[:300])
            wire.rpc(broker.port, 18, 0, b"", corr=corr())    # ApiVersions
            try:
                with open(trace, "rb") as f:
                    return b"TCP:[" in f.read()
            except FileNotFoundError:
                return False
        wait_for(attached, 20, "strace to attach to the broker")
        s = wire.connect(broker.port)
        try:
            wire.send(s, request)
            resp = wire.read_response(s, 30)
        finally:
            s.close()
        if resp is not None:
            return False
        wait_for(lambda: not broker.alive(), 20, "the broker to die")
        code = broker.kill9()
        if code != -signal.SIGKILL:
            raise AssertionError("the broker exited with %s, not by SIGKILL" % code)
        return True
    finally:
        if st.poll() is None:
            st.send_signal(signal.SIGINT)
            try:
                st.wait(20)
            except subprocess.TimeoutExpired:
                st.kill()
                st.wait()
        st.stderr.close()


def fail_during(injects, request, must_inject=True):
    """Attaches strace to the broker with `-e inject=...` for each of
    injects (e.g. "mkdir:error=ENOSPC:when=3": the 3rd mkdir from then on
    fails with ENOSPC, nothing else changes), sends `request` (a whole
    frame), detaches, and returns the response payload (the broker must
    answer: a failed system call is an error to report, not a crash)."""
    if not STRACE:
        raise AssertionError("cannot check: no strace (scripts/deps.sh test installs it)")
    trace = os.path.join(broker.dir, "fail.trace")
    if os.path.exists(trace):
        os.unlink(trace)
    calls = sorted({i.split(":")[0] for i in injects} | {"write", "writev", "sendmsg", "sendto"})
    args = [STRACE, "-f", "-qq", "-yy", "-o", trace, "-e", "trace=" + ",".join(calls)]
    for i in injects:
        args += ["-e", "inject=" + i]
    st = subprocess.Popen(args + ["-p", str(broker.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          preexec_fn=harness._die_with_parent)
    try:
        def attached():
            if st.poll() is not None:
                raise AssertionError("cannot check: strace could not attach: %s"
                                     % st.stderr.read().decode("utf-8", "replace")[:300])
            wire.rpc(broker.port, 18, 0, b"", corr=corr())    # ApiVersions
            try:
                with open(trace, "rb") as f:
                    return b"TCP:[" in f.read()
            except FileNotFoundError:
                return False
        wait_for(attached, 20, "strace to attach to the broker")
        s = wire.connect(broker.port)
        try:
            wire.send(s, request)
            resp = wire.read_response(s, 30)
        finally:
            s.close()
    finally:
        if st.poll() is None:
            st.send_signal(signal.SIGINT)
            try:
                st.wait(20)
            except subprocess.TimeoutExpired:
                st.kill()
                st.wait()
        st.stderr.close()
    if resp is None:
        raise AssertionError("the broker closed the connection instead of answering (alive: %s)" % broker.alive())
    with open(trace, "rb") as f:
        injected = f.read().count(b"(INJECTED)")
    if not must_inject:
        return resp, injected
    check(injected > 0, "strace injected %d failure(s) (%s)" % (injected, ", ".join(injects)))
    return resp


def topic_result(resp, version, with_message=True):
    """{name: (error, message)} of a CreateTopics v2 / CreatePartitions v0 /
    DeleteTopics v1 response (throttle first)."""
    r = wire.Reader(resp)
    r.i32()   # correlation id
    r.i32()   # throttle
    return {n: (e, m) for n, e, m in r.array(lambda x: (x.string(), x.i16(), x.string() if with_message else None))}


def kill_points(plan, op, setup, judge):
    """For each syscall of plan: N = 1, 2, ..., a fresh topic from setup(),
    op(topic) (a request frame) killed at the N-th call; restart;
    judge(topic, killed at) checks what is there and returns "whole" or
    "none". Stops a syscall at the first N the operation outlives (then
    judge(topic, None) checks the completed operation). Returns {outcome:
    count}."""
    seen = {"whole": 0, "none": 0, "completed": 0}
    for syscall in plan:
        n = 1
        while True:
            topic = setup()
            killed = kill_during(syscall, n, op(topic))
            where = "%s #%d" % (syscall, n)
            if not killed:
                seen["completed"] += 1
                judge(topic, None)
                print("  %s: the operation completed before it (%d kill points for %s)"
                      % (where, n - 1, syscall), flush=True)
                break
            broker.start()
            outcome = judge(topic, where)
            seen[outcome] += 1
            n += 1
    return seen


# -- the tests -----------------------------------------------------------------------------------


def filled_topic(partitions=NPART, configs=None):
    t = name("ops")
    check_eq(wire.create_topics(broker.port, [(t, partitions, configs or {})], corr=corr()),
             {t: (0, None)}, "created %s with %d partitions" % (t, partitions))
    for p in range(partitions):
        err, base = produce(t, p, b"%s/%d" % (t.encode(), p))
        assert (err, base) == (0, 0), (err, base)
    return t


def judge_whole_or_none(topic, where, want_parts, with_data, configs=None):
    """After a restart: the topic with all want_parts partitions (each with
    its record when with_data counts it) or none of it."""
    dirs = partition_dirs(topic)
    err, nparts = metadata(topic)
    left = leftovers()
    cfgs = [f for f in config_files() if os.path.basename(f).startswith(topic[:100])]
    what = where or "completed"
    if err == 3 and not dirs:
        check(not left and not cfgs, "%s: the topic is gone: no partition, no directory, no config, "
              "nothing left over" % what, (left, cfgs))
        return "none"
    check(err == 0 and nparts == want_parts and dirs == set(range(want_parts)),
          "%s: the topic is whole: %d partitions in Metadata and on disk" % (what, want_parts),
          "Metadata error %d with %d partitions, directories %s" % (err, nparts, sorted(dirs)))
    for p in range(want_parts):
        e, hw, values = fetch_values(topic, p)
        want = [b"%s/%d" % (topic.encode(), p)] if p < with_data else []
        if (e, hw, values) != (0, len(want), want):
            raise AssertionError("%s: partition %d: fetch error %d, high watermark %d, values %s; want %s"
                                 % (what, p, e, hw, values, want))
    check(not left, "%s: each partition holds what it held; nothing left over" % what, left)
    if configs:
        for k, v in configs.items():
            check_eq(describe_config(topic, k)[0], v, "%s: its config %s=%s" % (what, k, v))
    return "whole"


def commit_offsets(t):
    """A group commits offset 1 on partitions 0 and 1 of t."""
    c = gw.Conn(broker.port)
    try:
        res = gw.parse_offset_commit(c.call(gw.OFFSET_COMMIT, 2, gw.offset_commit_body(
            2, "ops-group", -1, "", {(t, 0): (1, "m"), (t, 1): (1, None)})), 2)
    finally:
        c.close()
    assert set(res.values()) == {0}, res


def committed(t):
    offs, _ = gw.offset_fetch(broker.port, "ops-group", {t: [0, 1]})
    return [offs[(t, p)][0] for p in (0, 1)]


def test_delete_topics_all_or_nothing():
    """DeleteTopics of an 8-partition topic, each partition holding a
    record and a group's committed offsets on two of them, killed at every
    rename, fsync, fdatasync, unlink and rmdir: the topic and its offsets
    are both there or both gone."""
    plan = ["rename", "fsync", "fdatasync", "unlink", "rmdir"]

    def op(t):
        return wire.frame(20, 1, corr(), delete_topics_body([t]))

    def setup():
        t = filled_topic(configs={"retention.ms": "86400000"})
        commit_offsets(t)
        return t

    def judge(t, where):
        if where is None:
            check(not partition_dirs(t) and metadata(t)[0] == 3, "deleted: no partition left")
            check_eq(committed(t), [-1, -1], "deleted: no committed offset left")
            return "completed"
        out = judge_whole_or_none(t, where, NPART, NPART, {"retention.ms": "86400000"})
        check_eq(committed(t), [1, 1] if out == "whole" else [-1, -1],
                 "%s: the group's committed offsets %s with the topic" % (where, "kept" if out == "whole" else "gone"))
        if out == "whole":
            check_eq(delete_topics([t]), {t: 0}, "%s: deleted again" % where)
        return out

    seen = kill_points(plan, op, setup, judge)
    print("  outcomes: %s" % seen)
    check(seen["whole"] > 0 and seen["none"] > 0,
          "kills before the deletion was recorded left the topic whole, later ones none of it")


def test_create_topics_all_or_nothing():
    """CreateTopics of 8 partitions with a config, killed at every mkdir,
    rename, unlink, fsync and fdatasync."""
    plan = ["mkdir", "rename", "unlink", "fsync", "fdatasync"]
    cfg = {"retention.ms": "7200000"}

    def op(t):
        return wire.frame(19, 2, corr(), wire.create_topics_v2([(t, NPART, cfg)]))

    def judge(t, where):
        out = judge_whole_or_none(t, where, NPART, 0, cfg)
        if where is None:
            check_eq(out, "whole", "completed: the topic is there")
            out = "completed"
        if out != "none":
            check_eq(delete_topics([t]), {t: 0}, "%s: deleted" % (where or "completed"))
        return out

    seen = kill_points(plan, op, lambda: name("create"), judge)
    print("  outcomes: %s" % seen)
    check(seen["whole"] > 0 and seen["none"] > 0,
          "early kills left no topic, kills after the creation was complete a whole one")


def test_create_partitions_all_or_nothing():
    """CreatePartitions 3 -> 8 of a topic whose 3 partitions hold a record
    each, killed at every mkdir, rename, unlink, fsync and fdatasync."""
    plan = ["mkdir", "rename", "unlink", "fsync", "fdatasync"]

    def op(t):
        return wire.frame(37, 0, corr(), create_partitions_body(t, NPART))

    def judge(t, where):
        err, n = metadata(t)
        check_eq(err, 0, "%s: the topic is there" % (where or "completed"))
        if where is None:
            out = "completed"
            judge_whole_or_none(t, "completed", NPART, 3)
        else:
            want = n if n in (3, NPART) else NPART
            judge_whole_or_none(t, where, want, 3)
            out = "whole" if want == NPART else "none"
            check(True, "%s: %s" % (where, "all 8 partitions" if want == NPART else
                                   "the 3 partitions it had, with their records"))
        check_eq(delete_topics([t]), {t: 0}, "deleted")
        return out

    seen = kill_points(plan, op, lambda: filled_topic(3), judge)
    print("  outcomes: %s" % seen)
    check(seen["whole"] > 0 and seen["none"] > 0,
          "early kills left 3 partitions, kills after the change was complete all 8")


def test_io_errors():
    """A failed system call (ENOSPC, EIO, injected by strace into the running
    broker) in CreateTopics, CreatePartitions, DeleteTopics and AlterConfigs:
    the request is answered KAFKA_STORAGE_ERROR with the reason, and what
    was done is undone, so the topic is as it was. When the undo fails too,
    every later topic change is refused until a restart, which finishes it.
    A topic change record that does not read stops the broker from starting,
    naming the file."""
    # CreateTopics: partition 1's mkdir fails (mkdirs #1 and #2 are samsa-topics,
    # EEXIST, for the change record and the config file; #3 is partition 0)
    t = name("ioerr")
    resp = fail_during(["mkdir:error=ENOSPC:when=4"],
                       wire.frame(19, 2, corr(), wire.create_topics_v2([(t, 3, {"retention.ms": "7200000"})])))
    err, msg = topic_result(resp, 2)[t]
    check(err == 56 and "No space left on device" in (msg or ""),
          "CreateTopics, mkdir of partition 1 failing ENOSPC: KAFKA_STORAGE_ERROR with the reason (%r)" % msg)
    check(metadata(t)[0] == 3 and not partition_dirs(t) and not leftovers()
          and not [f for f in config_files() if os.path.basename(f).startswith(t)],
          "and the creation is undone: no topic, no directory, no config, nothing left over")
    check_eq(wire.create_topics(broker.port, [(t, 3, {})], corr=corr()), {t: (0, None)},
             "the same CreateTopics afterwards succeeds")

    # CreatePartitions 3 -> 5: the 2nd new partition's mkdir fails
    for p in range(3):
        produce(t, p, b"%s/%d" % (t.encode(), p))
    resp = fail_during(["mkdir:error=EIO:when=3"], wire.frame(37, 0, corr(), create_partitions_body(t, 5)))
    err, msg = topic_result(resp, 0)[t]
    check(err == 56 and "Input/output error" in (msg or ""), "CreatePartitions 3 -> 5 with an EIO: "
          "KAFKA_STORAGE_ERROR with the reason (%r)" % msg)
    judge_whole_or_none(t, "after the failed CreatePartitions", 3, 3)

    # AlterConfigs: the rename of the new config file fails
    r = wire.Reader(fail_during(["rename:error=EIO:when=1"], wire.frame(33, 0, corr(), wire.array(
        [wire.i8(2) + wire.string(t) + wire.array([wire.string("retention.ms") + wire.nullable_string("1000")])])
        + wire.i8(0))))
    r.i32()
    r.i32()
    (err, msg, _, _), = r.array(lambda x: (x.i16(), x.string(), x.i8(), x.string()))
    check(err == 56 and "cannot rename" in (msg or ""), "AlterConfigs whose config file cannot be renamed into "
          "place: KAFKA_STORAGE_ERROR (%r)" % msg)
    check_eq(describe_config(t, "retention.ms")[0], "604800000", "and the topic keeps its old config")

    # DeleteTopics: its record cannot be written
    resp = fail_during(["rename:error=ENOSPC:when=1"], wire.frame(20, 1, corr(), delete_topics_body([t])))
    check_eq(topic_result(resp, 1, with_message=False)[t][0], 56,
             "DeleteTopics whose change record cannot be written: KAFKA_STORAGE_ERROR")
    judge_whole_or_none(t, "after the failed DeleteTopics", 3, 3)

    # CreateTopics failing at partition 1, then its undo failing too: every
    # rename from the 3rd on fails (the record and the config file take the
    # first two), so partition 0 cannot be renamed aside
    u = name("unfinished")
    resp = fail_during(["mkdir:error=ENOSPC:when=4", "rename:error=EIO:when=3+"],
                       wire.frame(19, 2, corr(), wire.create_topics_v2([(u, 4, {"retention.ms": "7200000"})])))
    check_eq(topic_result(resp, 2)[u][0], 56, "CreateTopics failing, and its undo failing: KAFKA_STORAGE_ERROR")
    v = name("blocked")
    got = wire.create_topics(broker.port, [(v, 1, {})], corr=corr())
    check(got[v][0] == 56 and "restart samsa-broker to finish it" in got[v][1],
          "then every topic change is refused until a restart: CreateTopics %r" % (got[v],))
    check_eq(delete_topics([t]), {t: 56}, "DeleteTopics refused too")
    check_eq(create_partitions(t, 4)[t][0], 56, "and CreatePartitions")
    check(produce(t, 0, b"still")[0] == 0, "while records are still taken")
    check_eq(broker.stop(), 0, "SIGTERM: exit 0")
    broker.start()
    check(metadata(u)[0] == 3 and not partition_dirs(u) and not leftovers(),
          "the restart finished the undo: no %s, no directory, nothing left over" % u)
    check_eq(wire.create_topics(broker.port, [(v, 1, {})], corr=corr()), {v: (0, None)},
             "and topic changes are taken again")
    check_eq(delete_topics([t, v]), {t: 0, v: 0}, "cleaned up")

    # DeleteTopics recorded, then its partition directories cannot be renamed
    # aside: the deletion stands (recorded first) and the restart finishes it
    w = filled_topic(2)
    resp = fail_during(["rename:error=EIO:when=2+"], wire.frame(20, 1, corr(), delete_topics_body([w])))
    check_eq(topic_result(resp, 1, with_message=False)[w][0], 0,
             "DeleteTopics whose directories cannot be renamed aside: answered NONE, the deletion is recorded")
    check(metadata(w)[0] == 3 and partition_dirs(w) == {0, 1},
          "the topic is gone from Metadata, its directories still on disk")
    x = name("blocked")
    check_eq(wire.create_topics(broker.port, [(x, 1, {})], corr=corr())[x][0], 56,
             "later topic changes are refused until a restart")
    check_eq(broker.stop(), 0, "SIGTERM: exit 0")
    broker.start()
    check(metadata(w)[0] == 3 and not partition_dirs(w) and not leftovers(),
          "the restart finished the deletion: no directory, nothing left over")

    # a change record that does not read: the broker does not start
    check_eq(broker.stop(), 0, "SIGTERM: exit 0")
    bad = os.path.join(broker.data_dir, "samsa-topics", "create-0000.pending")
    with open(bad, "w") as f:
        f.write("samsa topic change 1\nop=create\ntopic=x\nfrom=0\nto=1\ncrc=00000000\n")
    try:
        broker.start()
        check(False, "the broker started over a damaged topic change record")
    except harness.BrokerError as e:
        check("not a valid topic change record" in str(e) and bad in str(e),
              "a damaged topic change record: the broker does not start, naming the file")
    os.unlink(bad)
    broker.start()
    check(broker.alive(), "without it the broker starts")


def blocked():
    """True when the broker refuses topic changes until a restart."""
    probe = name("probe")
    got = wire.create_topics(broker.port, [(probe, 1, {})], corr=corr())[probe]
    if got[0] == 0:
        check_eq(delete_topics([probe]), {probe: 0}, "probe topic deleted")
        return False
    check(got[0] == 56 and "restart" in (got[1] or ""), "topic changes refused until a restart", got)
    return True


def test_errors_at_every_point():
    """CreateTopics (3 partitions and a config), CreatePartitions 2 -> 4 and
    DeleteTopics of a topic holding records, with one system call failing
    (EIO, strace) at every mkdir, rename, fsync, fdatasync and unlink each
    makes, one at a time. Each answer is NONE or KAFKA_STORAGE_ERROR and
    says what happened: NONE, the change is whole; KAFKA_STORAGE_ERROR, the
    topic is as before (or, where undoing failed too, later changes are
    refused until a restart, after which it is as before). Nothing is left
    over after a restart."""
    ops = {
        "create": (["mkdir", "rename", "fsync", "fdatasync", "unlink"], lambda: name("everr-c")),
        "partitions": (["mkdir", "rename", "fsync", "fdatasync", "unlink"], lambda: filled_topic(2)),
        "delete": (["rename", "fsync", "unlink"], lambda: filled_topic(2)),
    }
    seen = {}
    for op, (plan, setup) in ops.items():
        for sc in plan:
            n = 1
            while n <= 30:
                t = setup()
                if op == "create":
                    req = wire.frame(19, 2, corr(), wire.create_topics_v2([(t, 3, {"retention.ms": "7200000"})]))
                elif op == "partitions":
                    req = wire.frame(37, 0, corr(), create_partitions_body(t, 4))
                else:
                    req = wire.frame(20, 1, corr(), delete_topics_body([t]))
                resp, injected = fail_during(["%s:error=EIO:when=%d" % (sc, n)], req, must_inject=False)
                err = topic_result(resp, 1 if op == "delete" else 2, with_message=op != "delete")[t][0]
                where = "%s, %s #%d failing" % (op, sc, n)
                check(err in (0, 56), "%s: answered %s" % (where, {0: "NONE", 56: "KAFKA_STORAGE_ERROR"}.get(err, err)))
                seen[(op, err)] = seen.get((op, err), 0) + 1
                if blocked() or leftovers():
                    # an unfinished change, or a renamed-aside directory a
                    # failed unlink left: both finished by the next start
                    check_eq(broker.stop(), 0, "%s: SIGTERM: exit 0" % where)
                    broker.start()
                changed = err == 0
                if op == "create":
                    judge_whole_or_none(t, where, 3, 0) if changed else check(
                        metadata(t)[0] == 3 and not partition_dirs(t) and not leftovers(),
                        "%s: no topic, no directory, nothing left over" % where)
                elif op == "partitions":
                    judge_whole_or_none(t, where, 4 if changed else 2, 2)
                else:
                    if changed:
                        check(metadata(t)[0] == 3 and not partition_dirs(t) and not leftovers(),
                              "%s: deleted, nothing left over" % where)
                    else:
                        judge_whole_or_none(t, where, 2, 2)
                if metadata(t)[0] == 0:
                    check_eq(delete_topics([t]), {t: 0}, "%s: cleaned up" % where)
                if not injected:
                    check(changed, "%s: nothing failed (the operation makes fewer): NONE" % where)
                    break
                n += 1
    print("  outcomes (operation, answer): %s" % seen)
    check(seen.get(("create", 56)) and seen.get(("create", 0)) and seen.get(("delete", 0)),
          "failures were met and answered both ways")


def test_long_names():
    """Topic names of 240 to 249 characters: created without a config,
    deleted, gone after kill -9; created with a config, altered, described,
    produced to and read across kill -9, deleted, gone after a restart,
    then created again with a new config only."""
    for length in (240, 244, 245, 249):
        t = name("long", length)
        check_eq(len(t), length, "a topic name of %d characters" % length)
        check_eq(wire.create_topics(broker.port, [(t, 3, {})], corr=corr()), {t: (0, None)},
                 "%d: created with 3 partitions, no config" % length)
        check_eq(produce(t, 2, b"v0"), (0, 0), "%d: produced at offset 0 of partition 2" % length)
        check_eq(delete_topics([t]), {t: 0}, "%d: DeleteTopics: no error" % length)
        check(not partition_dirs(t), "%d: no partition directory left" % length, sorted(partition_dirs(t)))
        broker.kill9()
        broker.start()
        check_eq(metadata(t)[0], 3, "%d: still gone after kill -9 and a restart" % length)
        got = wire.create_topics(broker.port, [(t, 2, {"retention.ms": "123456789"})], corr=corr())
        check_eq(got, {t: (0, None)}, "%d: created with retention.ms=123456789" % length)
        check_eq(describe_config(t, "retention.ms"), ("123456789", 1),
                 "%d: DescribeConfigs: retention.ms=123456789, a topic override" % length)
        check_eq(produce(t, 1, b"v1"), (0, 0), "%d: produced at offset 0 of partition 1" % length)
        alter_config(t, {"retention.ms": "987654321"})
        check_eq(describe_config(t, "retention.ms")[0], "987654321",
                 "%d: AlterConfigs: retention.ms=987654321" % length)
        broker.kill9()
        broker.start()
        check_eq(metadata(t), (0, 2), "%d: after kill -9 and a restart: 2 partitions" % length)
        check_eq(describe_config(t, "retention.ms")[0], "987654321", "%d: and its config" % length)
        check_eq(fetch_values(t, 1), (0, 1, [b"v1"]), "%d: and its record" % length)
        check_eq(delete_topics([t]), {t: 0}, "%d: DeleteTopics: no error" % length)
        check_eq(metadata(t)[0], 3, "%d: Metadata: UNKNOWN_TOPIC_OR_PARTITION" % length)
        check(not partition_dirs(t) and not leftovers(), "%d: no partition directory, nothing left over"
              % length, leftovers())
        broker.stop()
        broker.start()
        check_eq(metadata(t)[0], 3, "%d: still gone after a restart" % length)
        got = wire.create_topics(broker.port, [(t, 1, {"segment.ms": "3600000"})], corr=corr())
        check_eq(got, {t: (0, None)}, "%d: created again, with segment.ms=3600000" % length)
        broker.kill9()
        broker.start()
        check_eq(describe_config(t, "segment.ms"), ("3600000", 1), "%d: segment.ms=3600000" % length)
        check_eq(describe_config(t, "retention.ms")[1], 5,
                 "%d: retention.ms is the default again: nothing of the old topic came back" % length)
        check_eq(metadata(t), (0, 1), "%d: 1 partition, empty" % length)
        check_eq(fetch_values(t, 0), (0, 0, []), "%d: its partition is empty" % length)
        check_eq(delete_topics([t]), {t: 0}, "%d: deleted" % length)
    bad = broker.log_text().rsplit("=== harness: start #1", 1)[-1]
    complaints = [l for l in bad.splitlines() if "too long" in l or "ENAMETOOLONG" in l or "could not" in l]
    check(not complaints, "the broker logged no failure to name a file", complaints[:3])


def main():
    try:
        broker.start()
        print("broker pid %d on %s" % (broker.pid, broker.bootstrap), flush=True)
        rc = run_tests([test_long_names, test_io_errors, test_errors_at_every_point, test_delete_topics_all_or_nothing,
                        test_create_topics_all_or_nothing, test_create_partitions_all_or_nothing],
                       [broker])
        if not broker.alive():
            broker.start()
        return broker.finish(rc)
    finally:
        broker.cleanup()


if __name__ == "__main__":
    sys.exit(main())
