#!/usr/bin/python3
"""kcat against samsa-broker: metadata list, keyed produce/consume, -Q offsets for time.

Usage: test_kcat.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check, check_eq, run_tests, unique, wait_for  # noqa: E402

PARTITIONS = 3
broker = Broker(overrides={"num.partitions": PARTITIONS, "auto.create.topics.enable": "true"},
                name="kcat")


def kcat(*args, stdin=None, timeout=60):
    cmd = ["kcat", "-b", broker.bootstrap, "-m", "10"] + list(args)
    r = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError("%s exited %d\nstdout: %s\nstderr: %s"
                             % (" ".join(cmd), r.returncode, r.stdout.decode(errors="replace")[-2000:],
                                r.stderr.decode(errors="replace")[-2000:]))
    return r.stdout.decode()


def produce(topic, partition, lines, *extra):
    """Produce "key:value" lines to one partition with acks=all; kcat exits
    non-zero when a delivery fails."""
    kcat("-P", "-t", topic, "-p", str(partition), "-K:", "-X", "acks=all", *extra,
         stdin=("\n".join(lines) + "\n").encode())


def consume(topic, partition, start="beginning"):
    """All messages of one partition from start to the end, as JSON dicts."""
    out = kcat("-C", "-t", topic, "-p", str(partition), "-o", str(start), "-e", "-J", "-q")
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def metadata(topic=None):
    args = ["-L", "-J"] + (["-t", topic] if topic else [])
    return json.loads(kcat(*args))


def query(topic, partition, ts):
    """kcat -Q for one partition: the offset for timestamp ts."""
    out = json.loads(kcat("-Q", "-J", "-t", "%s:%d:%d" % (topic, partition, ts)))
    entry = out[topic][str(partition)]
    check("error" not in entry, "-Q %s:%d:%d has no error" % (topic, partition, ts), entry)
    return entry["offset"]


def test_metadata_list():
    md = metadata()
    check_eq([b["name"] for b in md["brokers"]], [broker.bootstrap],
             "-L lists exactly one broker, at the bootstrap address")
    node = md["brokers"][0]["id"]
    check_eq(md["controllerid"], node, "the controller is the broker itself")
    topic = unique("kcat-md")
    produce(topic, 0, ["k:v"])        # auto-creates the topic
    md = metadata()
    names = [t["topic"] for t in md["topics"]]
    check(topic in names, "-L lists the auto-created topic %s" % topic, names)
    t = [t for t in md["topics"] if t["topic"] == topic][0]
    check_eq(sorted(p["partition"] for p in t["partitions"]), list(range(PARTITIONS)),
             "the topic has num.partitions=%d partitions" % PARTITIONS)
    for p in t["partitions"]:
        check(p["leader"] == node and [r["id"] for r in p["replicas"]] == [node]
              and [r["id"] for r in p["isrs"]] == [node],
              "partition %d: leader, replicas and ISR are the one broker" % p["partition"], p)
    check("error" not in t, "topic metadata carries no error", t.get("error"))
    one = metadata(topic)
    check_eq([x["topic"] for x in one["topics"]], [topic], "-L -t lists just that topic")


def test_produce_consume_keys():
    topic = unique("kcat-keys")
    want = {}
    for p in range(PARTITIONS):
        want[p] = [("key-%d-%d" % (p, i), "value %d of partition %d: with:colons" % (i, p))
                   for i in range(25 + p * 7)]
    # two produce runs per partition, with different codecs, so order must hold
    # across requests and across batches
    codecs = ["none", "gzip", "snappy", "lz4", "zstd"]
    for p in range(PARTITIONS):
        half = len(want[p]) // 2
        for n, part in enumerate((want[p][:half], want[p][half:])):
            produce(topic, p, ["%s:%s" % kv for kv in part],
                    "-X", "compression.codec=" + codecs[(2 * p + n) % len(codecs)])
    for p in range(PARTITIONS):
        got = consume(topic, p)
        check_eq([(m["key"], m["payload"]) for m in got], want[p],
                 "partition %d: consumed %d keyed messages, exact content and order"
                 % (p, len(want[p])))
        check_eq([m["offset"] for m in got], list(range(len(want[p]))),
                 "partition %d: offsets are 0..%d without gaps" % (p, len(want[p]) - 1))
        check(all(m["partition"] == p for m in got), "partition %d: every message says partition %d" % (p, p))
    # consume from an absolute offset in the middle
    mid = consume(topic, 1, start=10)
    check_eq([(m["key"], m["payload"]) for m in mid], want[1][10:],
             "partition 1 from offset 10: the tail, exactly")
    # an empty message value and a key-only line
    topic2 = unique("kcat-empty")
    produce(topic2, 0, ["onlykey:", "k2:x"], "-Z")
    got = consume(topic2, 0)
    check_eq([(m["key"], m["payload"]) for m in got], [("onlykey", None), ("k2", "x")],
             "a NULL value (-Z) comes back as NULL, keys intact")


def test_offsets_for_time():
    topic = unique("kcat-time")
    p = 2
    produce(topic, p, ["a%d:phase one %d" % (i, i) for i in range(10)])
    one = consume(topic, p)
    check_eq(len(one), 10, "phase one: 10 messages stored")
    ts_one = [m["ts"] for m in one]
    check(all(m["tstype"] == "create" for m in one), "phase one timestamps are CreateTime")
    boundary = max(ts_one) + 1
    # await (not sleep) the wall clock passing the boundary, so phase two's
    # CreateTime is strictly after every phase-one timestamp
    wait_for(lambda: time.time() * 1000 > boundary + 1, 5, "the clock to pass %d" % boundary)
    produce(topic, p, ["b%d:phase two %d" % (i, i) for i in range(5)])
    both = consume(topic, p)
    check_eq([m["key"] for m in both], ["a%d" % i for i in range(10)] + ["b%d" % i for i in range(5)],
             "15 messages in produce order")
    ts_two = [m["ts"] for m in both[10:]]
    check(min(ts_two) >= boundary, "phase two timestamps >= boundary %d" % boundary, ts_two)
    check_eq(query(topic, p, boundary), 10, "-Q at the boundary timestamp gives offset 10 (first of phase two)")
    check_eq(query(topic, p, min(ts_one)), 0, "-Q at the first timestamp gives offset 0")
    check_eq(query(topic, p, 0), 0, "-Q at timestamp 0 gives offset 0")
    check_eq(query(topic, p, max(ts_two) + 60000), -1,
             "-Q a minute after the last message gives -1 (no such offset)")
    # and the consumer's own timestamp start (-o s@ts) agrees
    tail = consume(topic, p, start="s@%d" % boundary)
    check_eq([m["key"] for m in tail], ["b%d" % i for i in range(5)],
             "consume -o s@boundary starts at phase two")
    empty = query(topic, 0, 0)
    check_eq(empty, -1, "-Q on an empty partition gives -1")


def main():
    try:
        broker.start()
        print("broker pid %d on %s" % (broker.pid, broker.bootstrap), flush=True)
        rc = run_tests([test_metadata_list, test_produce_consume_keys, test_offsets_for_time], [broker])
        return broker.finish(rc)
    finally:
        broker.cleanup()


if __name__ == "__main__":
    sys.exit(main())
