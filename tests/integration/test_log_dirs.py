#!/usr/bin/python3
"""Several log.dirs, as docs/broker.md promises: "new partitions go to the
one holding the fewest" (ties to the first listed), whether they come from
CreateTopics or CreatePartitions; and every partition is found again after
a clean restart and after kill -9, in the directory it was placed in, with
its data, and new partitions still go where the fewest are. A partition
directory lost from the log dirs is recreated empty at start-up (logged),
the others keep their data.

Raw CreateTopics, Produce and Fetch frames (kafka_wire); confluent-kafka's
AdminClient for CreatePartitions and the topic metadata.

Usage: test_log_dirs.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check, check_eq, run_tests, unique  # noqa: E402
import kafka_wire as wire  # noqa: E402

from confluent_kafka.admin import AdminClient, NewPartitions  # noqa: E402

NDIRS = 3
broker = Broker(overrides={"auto.create.topics.enable": "false"}, name="log-dirs")
DIRS = [os.path.join(broker.dir, "dir%d" % i) for i in range(NDIRS)]
broker.overrides["log.dirs"] = ",".join(DIRS)
PART_RE = re.compile(r"^(.+)-(\d+)$")
_corr = [5000]
placed = {}        # (topic, partition) -> dir index, as the placement rule predicts
written = {}       # (topic, partition) -> [batch bytes] produced


def next_corr():
    _corr[0] += 1
    return _corr[0]


def on_disk():
    """{(topic, partition): [dir index, ...]} of the partition directories
    in the log dirs."""
    out = {}
    for i, d in enumerate(DIRS):
        for name in os.listdir(d):
            m = PART_RE.match(name)
            if m and os.path.isdir(os.path.join(d, name)) and not name.startswith("samsa-"):
                out.setdefault((m.group(1), int(m.group(2))), []).append(i)
    return out


def predict(new_parts):
    """Where the rule puts new partitions, one after another: the dir
    holding the fewest, the first listed on a tie."""
    for tp in new_parts:
        counts = [sum(1 for d in placed.values() if d == i) for i in range(NDIRS)]
        placed[tp] = counts.index(min(counts))


def check_placement(what):
    got = on_disk()
    check_eq(got, {tp: [d] for tp, d in placed.items()},
             "%s: each partition directory in exactly one log dir, the one holding the fewest when it was made" % what)
    counts = [sum(1 for d in placed.values() if d == i) for i in range(NDIRS)]
    print("  partitions per log dir: %s" % counts)


def create_topic(name, n):
    check_eq(wire.create_topics(broker.port, [(name, n, {})], corr=next_corr()), {name: (0, None)},
             "created %s with %d partitions" % (name, n))
    predict([(name, p) for p in range(n)])


def produce(tp, tag):
    batch = wire.record_batch([(b"k", b"%s %s-%d" % (tag, tp[0].encode(), tp[1]))])
    corr = next_corr()
    resp = wire.roundtrip(broker.port, wire.produce_request(corr, {tp: batch}, acks=-1), timeout=30)
    err, base, _ = wire.parse_produce(resp, corr)[tp]
    if err:
        raise AssertionError("produce to %s-%d: error %d" % (tp[0], tp[1], err))
    written.setdefault(tp, []).append(batch)
    return base


def check_data(what):
    """Every partition's batches read back as produced."""
    for tp, sent in sorted(written.items()):
        corr = next_corr()
        r = wire.parse_fetch_v4(wire.roundtrip(broker.port, wire.fetch_v4(corr, [(tp[0], tp[1], 0, 1 << 20)])),
                                corr)[tp]
        got, rest = wire.batches(r["records"])
        ok = (r["err"] == 0 and r["hw"] == len(sent) and rest == b"" and len(got) == len(sent)
              and all(g[4] and g[3][17:] == s[17:] for g, s in zip(got, sent)))
        if not ok:
            check(False, "%s: %s-%d reads back its %d batches" % (what, tp[0], tp[1], len(sent)),
                  "error %d, high watermark %d, %d batches" % (r["err"], r["hw"], len(got)))
    check(True, "%s: all %d partitions read back their batches as produced" % (what, len(written)))


def check_metadata(topics, what):
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10)
    got = {t: len(md.topics[t].partitions) if t in md.topics else None for t in topics}
    want = {t: sum(1 for tt, _ in placed if tt == t) for t in topics}
    check_eq(got, want, "%s: Metadata lists every topic with all its partitions" % what)


def test_placement_and_restarts():
    a, b = unique("dirs-a"), unique("dirs-b")
    create_topic(a, 4)
    check_placement("after a topic of 4 partitions")
    create_topic(b, 2)
    check_placement("after a second topic of 2")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_partitions([NewPartitions(a, 6)])[a].result(30)
    del admin     # no client left connected across the restarts
    predict([(a, 4), (a, 5)])
    check(True, "CreatePartitions: %s to 6 partitions" % a)
    check_placement("after CreatePartitions")
    for tp in sorted(placed):
        produce(tp, b"first")
    check_data("before any restart")

    broker.restart()
    check_eq(broker.last_exit, 0, "SIGTERM: exit 0, started again on the same log dirs")
    check_placement("after a clean restart")
    check_metadata([a, b], "after a clean restart")
    check_data("after a clean restart")
    for tp in sorted(placed):
        produce(tp, b"second")

    broker.kill9()
    broker.start()
    check(True, "kill -9, started again")
    check_placement("after kill -9 and a restart")
    check_metadata([a, b], "after kill -9 and a restart")
    check_data("after kill -9 and a restart")

    c = unique("dirs-c")
    create_topic(c, 3)
    check_placement("a topic created after the restarts")
    for p in range(3):
        produce((c, p), b"third")
    check_data("with the new topic")


def test_missing_partition_dir():
    """A partition directory lost (a failed disk taken out of the list, or
    a crash while partitions were being added): the broker starts, logs it,
    and recreates the partition empty in a log dir; the others keep their
    data."""
    d = unique("dirs-lost")
    create_topic(d, 3)
    for p in range(3):
        produce((d, p), b"before the loss")
    broker.stop()
    check_eq(broker.last_exit, 0, "broker stopped (SIGTERM, exit 0)")
    (lost_in,) = on_disk()[(d, 1)]
    shutil.move(os.path.join(DIRS[lost_in], "%s-1" % d), os.path.join(broker.dir, "lost-%s-1" % d))
    check(True, "%s-1's directory moved out of log dir %d" % (d, lost_in))
    broker.start()
    check(True, "the broker starts without it")
    started = broker.log_text().rsplit("=== harness: start", 1)[1]
    check("topic %s: partition 1 missing on disk; creating it empty" % d in started,
          "it logs that partition 1 is missing and is created empty")
    where = on_disk().get((d, 1), [])
    check_eq(len(where), 1, "%s-1 exists again, in one log dir (%s)" % (d, where))
    # topics are loaded in name order and the gap is filled while its topic
    # loads: "dirs-lost-" sorts after every other topic here, so all of them
    # count when its place is chosen
    del placed[(d, 1)]
    predict([(d, 1)])
    check_placement("the recreated partition in the dir holding the fewest")
    written[(d, 1)] = []
    check_data("after the restart without %s-1" % d)
    check_eq(produce((d, 1), b"after the loss"), 0, "%s-1 takes a new batch at offset 0" % d)
    check_data("with %s-1 written again" % d)


def main():
    try:
        broker.start()
        print("broker pid %d on %s, log.dirs %s" % (broker.pid, broker.bootstrap, broker.overrides["log.dirs"]),
              flush=True)
        rc = run_tests([test_placement_and_restarts, test_missing_partition_dir], [broker])
        return broker.finish(rc)
    finally:
        broker.cleanup()


if __name__ == "__main__":
    sys.exit(main())
