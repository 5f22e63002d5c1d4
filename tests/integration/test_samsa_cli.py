#!/usr/bin/python3
"""The samsa command against a real samsa-broker and real outbox databases.

Every subcommand is run as a user would (the binary, its stdout, stderr and
exit code), and what it did is checked with an independent client
(confluent-kafka), the broker's data directory, or the database itself.
Bad input is checked with the exact error line and exit code.

test_usage: --help at every level (usage line, examples, exit codes),
  --version, a missing command, unknown commands and options, missing
  arguments, malformed values, bad --output, malformed and unknown -X.
test_unreachable: a closed port and an unresolvable host: exit 4 fast with
  librdkafka's reason; the outbox against a PostgreSQL nobody listens on.
test_topics: create (partitions, configs, validate-only, exists,
  --if-not-exists, invalid name), list (pattern, JSON), describe (table
  and JSON: partitions, leaders, offsets, configs), alter-config (set,
  remove, other configs kept, unknown config), add-partitions (fewer
  refused), delete (--if-exists, unknown), all seen by confluent-kafka.
test_produce: keys with a separator, a fixed key, headers, a partition,
  acks 0/1/all, every codec (the batch attributes in the broker's segment
  file say the codec; where librdkafka will not compress, samsa must have
  said so), -f FILE, a line without the separator (exit 2,
  records before it delivered), an unknown topic with auto-creation off,
  a partition the topic does not have, JSON summary offsets.
test_consume: formats (plain, kv, json with headers and timestamps, a
  format string, non-UTF-8 values in base64), -o beginning/end/N/-N/@time
  (records produced in two phases), -p, -n, -e, bad offsets (the range in
  the message, exit 3), unknown topic and partition, -g with -o N refused.
test_groups: a group consuming (-g -e) commits; list and describe (members
  and assignment of a live confluent-kafka member, committed, end, lag);
  reset-offsets dry run changes nothing, refused with a live member,
  --execute to earliest/latest/offset/time/shift-by checked with
  confluent-kafka's committed(); out-of-range offset; delete (non-empty
  refused, unknown, done).
test_cluster_info: brokers, controller, cluster id, and the ApiVersions
  ranges the broker advertises (docs/broker.md's table).
test_cluster_info_bad_peer: a broker advertising an address where a peer
  closes, answers garbage, an error or nothing, or nobody listens: exit 1
  naming the broker and what went wrong.
test_progress: the progress line appears when stderr is a terminal (a
  pty) during a long produce, and never when it is a pipe.
test_completion: `samsa completion bash` is contrib/samsa-completion.bash,
  is valid bash, and completes commands, options and topic names.
test_outbox_sqlite / test_outbox_postgres: init, enqueue, status (counts
  per status and topic, oldest unpublished), list (filters, paging), show
  (by id and event id; archive), dead, retry (one, --all, --topic, not
  DEAD, unknown id), missing database and table, all checked in SQL.
test_outbox_relay: a real samsa-relay on the SQLite outbox: rows become
  PUBLISHED and `outbox show` names the partition and offset where
  `samsa consume` finds the record with its samsa.event_id; a payload the
  broker refuses goes DEAD with the broker's error, `outbox dead` lists it,
  `outbox retry` re-queues it and the relay tries it again.

Usage: test_samsa_cli.py --broker BIN --samsa BIN [--relay BIN]
"""

import json
import os
import pty
import re
import select
import shlex
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Broker, check, check_eq, run_tests, skip, unique, wait_for  # noqa: E402

import confluent_kafka as ck  # noqa: E402
import confluent_kafka.admin  # noqa: E402,F401


def arg(name, env):
    for i, a in enumerate(sys.argv):
        if a == name and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return os.environ.get(env)


SAMSA = arg("--samsa", "SAMSA_CLI_BIN")
RELAY = arg("--relay", "SAMSA_RELAY_BIN")
if not SAMSA:
    sys.exit("test_samsa_cli: pass --samsa BIN (or SAMSA_CLI_BIN)")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
tmp = tempfile.mkdtemp(prefix="samsa-itest-samsa-")
# auto-creation off: an unknown topic must stay unknown
broker = Broker(name="samsa-cli", overrides={"auto.create.topics.enable": "false",
                                             "num.partitions": 3,
                                             "message.max.bytes": 100000,
                                             "group.initial.rebalance.delay.ms": 0,
                                             "group.min.session.timeout.ms": 1000})
sanitizer_hits = []


def samsa(*args, stdin=None, env=None, timeout=60, brokers=True, input_bytes=None):
    """Runs samsa; returns (exit code, stdout text, stderr text). Fails the
    test on a sanitizer report in stderr."""
    cmd = [SAMSA] + list(args)
    if brokers:
        cmd[1:1] = ["-b", broker.bootstrap]
    e = dict(os.environ)
    e.pop("SAMSA_BROKERS", None)
    e.pop("SAMSA_OUTBOX_DB", None)
    e.update(env or {})
    r = subprocess.run(cmd, input=input_bytes if input_bytes is not None else
                       (stdin.encode() if stdin is not None else None),
                       stdin=None if (stdin is not None or input_bytes is not None) else subprocess.DEVNULL,
                       capture_output=True, timeout=timeout, env=e)
    out, err = r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")
    if harness.SANITIZER_RE.search(err):
        sanitizer_hits.append((args, err))
        raise AssertionError("sanitizer report from samsa %s:\n%s" % (" ".join(args), err))
    return r.returncode, out, err


def ok(*args, **kw):
    rc, out, err = samsa(*args, **kw)
    check(rc == 0, "samsa %s: exit 0" % " ".join(args), "exit %d, stderr: %s" % (rc, err.strip()))
    return out


def fails(code, line, *args, **kw):
    """samsa exits with code and stderr is exactly line (one line)."""
    rc, out, err = samsa(*args, **kw)
    check_eq((rc, err.rstrip("\n")), (code, line), "samsa %s: exit %d, '%s'" % (" ".join(args), code, line))
    return out


def js(*args, **kw):
    return json.loads(ok(*args, "--output", "json", **kw))


def admin():
    return ck.admin.AdminClient({"bootstrap.servers": broker.bootstrap})


def end_offset(topic, partition):
    """The partition's high watermark (ListOffsets through confluent-kafka)."""
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "verify"})
    try:
        return c.get_watermark_offsets(ck.TopicPartition(topic, partition), timeout=10)[1]
    finally:
        c.close()


def read_all(topic, partitions=None):
    """Every record of topic through confluent-kafka (assign, no group)."""
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "verify",
                     "enable.auto.commit": False, "enable.partition.eof": True})
    md = c.list_topics(topic, timeout=10).topics[topic]
    parts = sorted(md.partitions) if partitions is None else partitions
    c.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in parts])
    out, eof = [], set()
    deadline = time.monotonic() + 20
    while len(eof) < len(parts) and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            if m.error().code() == ck.KafkaError._PARTITION_EOF:
                eof.add(m.partition())
                continue
            raise AssertionError(str(m.error()))
        out.append(m)
    c.close()
    return out


def segment_codecs(topic, partition):
    """The compression codec (attributes & 7) of every batch in the
    partition's first segment, read from the broker's data directory."""
    path = os.path.join(broker.data_dir, "%s-%d" % (topic, partition), "%020d.log" % 0)
    with open(path, "rb") as f:
        data = f.read()
    codecs, pos = [], 0
    while pos + 23 <= len(data):
        length = struct.unpack(">i", data[pos + 8:pos + 12])[0]
        attrs = struct.unpack(">h", data[pos + 21:pos + 23])[0]
        codecs.append(attrs & 7)
        pos += 12 + length
    return codecs


# -- usage -----------------------------------------------------------------

LEAVES = ["topic create", "topic list", "topic describe", "topic delete", "topic alter-config",
          "topic add-partitions", "produce", "consume", "group list", "group describe",
          "group delete", "group reset-offsets", "cluster info", "outbox status", "outbox list",
          "outbox show", "outbox retry", "outbox dead", "outbox init", "outbox enqueue",
          "completion"]


def test_usage():
    out = ok("--help", brokers=False)
    for word in ("topic", "produce", "consume", "group", "cluster", "outbox", "Exit codes"):
        check(word in out, "samsa --help mentions %s" % word)
    check_eq(ok("help", brokers=False), out, "samsa help is samsa --help")
    check(re.match(r"samsa \d+\.\d+\.\d+ \(librdkafka 2\.", ok("--version", brokers=False)),
          "--version names samsa's and librdkafka's versions")
    for leaf in LEAVES:
        words = leaf.split()
        h = ok(*words, "--help", brokers=False)
        check(h.startswith("usage: samsa %s " % leaf), "%s --help starts with its usage line" % leaf, h[:80])
        check("\nExamples:\n" in h and "\nExit codes:" in h, "%s --help has examples and exit codes" % leaf)
        check_eq(ok("help", *words, brokers=False), h, "samsa help %s is the same text" % leaf)
        # every example in --help parses: run it with --help appended, so
        # its options are read (a bad one fails) and nothing is done
        examples = h.split("\nExamples:\n", 1)[1].split("\n\nExit codes")[0]
        for ex in examples.replace("\\\n", " ").splitlines():
            words = shlex.split(ex[ex.index("samsa "):])
            rc, _, err = samsa(*words[1:], "--help", brokers=False)
            check_eq((rc, err), (0, ""), "the example '%s' parses" % ex.strip())
    for group in ("topic", "group", "cluster", "outbox"):
        h = ok(group, "--help", brokers=False)
        check(h.startswith("usage: samsa %s COMMAND" % group), "%s --help lists its commands" % group)
    rc, out, err = samsa(brokers=False)
    check_eq((rc, err.splitlines()[-1]), (2, "samsa: a command is needed"), "samsa alone: exit 2")
    fails(2, "samsa: unknown command 'frob' (see 'samsa --help')", "frob", brokers=False)
    rc, out, err = samsa("topic", brokers=False)
    check_eq((rc, err.splitlines()[-1]), (2, "samsa topic: a command is needed"), "samsa topic alone: exit 2")
    fails(2, "samsa topic: unknown command 'make' (see 'samsa topic --help')", "topic", "make", brokers=False)
    fails(2, "samsa topic list: unknown option '--bogus' (see 'samsa topic list --help')",
          "topic", "list", "--bogus", brokers=False)
    fails(2, "samsa topic create: unknown option '-Q' (see 'samsa topic create --help')",
          "topic", "create", "x", "-Q", brokers=False)
    fails(2, "samsa topic create: option '--partitions' needs an argument (see 'samsa topic create --help')",
          "topic", "create", "x", "--partitions", brokers=False)
    fails(2, "samsa topic create: option '--if-not-exists=1' takes no argument (see 'samsa topic create --help')",
          "topic", "create", "x", "--if-not-exists=1", brokers=False)
    fails(2, "samsa topic create: which topic? (samsa topic create TOPIC)", "topic", "create", brokers=False)
    fails(2, "samsa topic create: -p/--partitions 'three': expected an integer",
          "topic", "create", "x", "-p", "three", brokers=False)
    fails(2, "samsa topic create: -p/--partitions '0': must be 1..1000000",
          "topic", "create", "x", "-p", "0", brokers=False)
    fails(2, "samsa topic create: -c 'retention.ms': expected KEY=VALUE",
          "topic", "create", "x", "-c", "retention.ms", brokers=False)
    fails(2, "samsa consume: which topic? (samsa consume TOPIC)", "consume", brokers=False)
    fails(2, "samsa consume: -o 'middle': expected beginning, end, an offset, -N or @TIME",
          "consume", "t", "-o", "middle", brokers=False)
    fails(2, "samsa consume: -o @TIME 'yesterday': expected milliseconds since the epoch, an ISO 8601 "
          "time (2024-05-01T12:00:00Z) or -DURATION (-15m, -2h, -1d)",
          "consume", "t", "-o", "@yesterday", brokers=False)
    fails(2, "samsa consume: -f 'xml': expected plain, kv, json or a format string with %v, %k...",
          "consume", "t", "-f", "xml", brokers=False)
    fails(2, "samsa consume: with -g, -o can only be beginning or end (it applies where the group has no "
          "committed offset); move a group with 'samsa group reset-offsets'",
          "consume", "t", "-g", "g", "-o", "5", brokers=False)
    fails(2, "samsa produce: --acks '2': expected 0, 1 or all", "produce", "t", "--acks", "2", brokers=False)
    fails(2, "samsa produce: -k and -K exclude each other", "produce", "t", "-k", "a", "-K", ":", brokers=False)
    fails(2, "samsa group reset-offsets: where to? give --to-earliest, --to-latest, --to-offset N, "
          "--to-datetime TIME or --shift-by N", "group", "reset-offsets", "g", "--topic", "t", brokers=False)
    fails(2, "samsa group reset-offsets: give one of --to-earliest, --to-latest, --to-offset, "
          "--to-datetime, --shift-by", "group", "reset-offsets", "g", "--to-earliest", "--to-latest",
          brokers=False)
    fails(2, "samsa topic list: --output 'yaml': expected table or json", "topic", "list", "--output", "yaml",
          brokers=False)
    fails(2, "samsa topic list: --timeout '-5': must be at least 1", "topic", "list", "--timeout", "-5",
          brokers=False)
    # -X: malformed, unknown, a bad value; before or after the command word
    fails(2, "samsa topic list: -X 'linger.ms': expected KEY=VALUE", "topic", "list", "-X", "linger.ms")
    fails(2, "samsa: -X '=5': expected KEY=VALUE", "-X", "=5", "topic", "list")
    fails(2, "samsa topic list: -X no.such.property=1: No such configuration property: \"no.such.property\"",
          "topic", "list", "-X", "no.such.property=1")
    fails(2, "samsa topic list: -X socket.timeout.ms=abc: Invalid value for configuration property "
          "\"socket.timeout.ms\"", "topic", "list", "-X", "socket.timeout.ms=abc")
    fails(2, "samsa completion: no completion for 'zsh': only bash", "completion", "zsh", brokers=False)


def test_arguments():
    """Argument errors of every command (exit 2, the exact line, before any
    connection), option forms (-p3, --partitions=3, --), and the times -o @
    and --to-datetime take, to the millisecond."""
    fails(2, "samsa: -b/--brokers: empty broker list (see 'samsa --help')", "-b", "", "topic", "list",
          brokers=False)
    fails(2, "samsa: unknown option '--bogus' (see 'samsa --help')", "--bogus", "topic", "list", brokers=False)
    fails(2, "samsa topic create: option '-p' needs an argument (see 'samsa topic create --help')",
          "topic", "create", "x", "-p", brokers=False)
    fails(2, "samsa topic create: -r/--replicas 'x': expected an integer", "topic", "create", "a", "-r", "x",
          brokers=False)
    many = lambda prefix: ["%s%d" % (prefix, i) for i in range(65)]  # noqa: E731
    usage = [
        (["cluster", "info", "extra"], "samsa cluster info: unexpected argument 'extra'"),
        (["completion"], "samsa completion: which shell? (samsa completion bash)"),
        (["completion", "bash", "zsh"], "samsa completion: one shell at a time"),
        (["consume", "a", "b"], "samsa consume: one topic at a time ('a' and 'b')"),
        (["consume", "t", "-p", "x"], "samsa consume: -p/--partition 'x': expected an integer"),
        (["consume", "t", "-g", ""], "samsa consume: -g: the group id is empty"),
        (["produce", "a", "b"], "samsa produce: one topic at a time ('a' and 'b')"),
        (["produce", "t", "-K", ""], "samsa produce: -K: the key separator is empty"),
        (["produce", "t", "-H", "novalue"], "samsa produce: -H 'novalue': expected NAME=VALUE"),
        (["produce", "t"] + sum([["-H", "h%d=v" % i] for i in range(65)], []), "samsa produce: at most 64 headers"),
        (["produce"], "samsa produce: which topic? (samsa produce TOPIC)"),
        (["group", "list", "extra"], "samsa group list: unexpected argument 'extra'"),
        (["group", "describe"], "samsa group describe: which group? (samsa group describe GROUP)"),
        (["group", "describe"] + many("g"), "samsa group describe: at most 64 groups at once"),
        (["group", "delete"], "samsa group delete: which group? (samsa group delete GROUP)"),
        (["group", "delete"] + many("g"), "samsa group delete: at most 64 groups at once"),
        (["group", "reset-offsets", "g1", "g2"], "samsa group reset-offsets: one group at a time ('g1' and 'g2')"),
        (["group", "reset-offsets", "g", "--to-earliest"],
         "samsa group reset-offsets: which partitions? give --topic TOPIC or --all-topics"),
        (["group", "reset-offsets", "--to-earliest", "--topic", "t"],
         "samsa group reset-offsets: which group? (samsa group reset-offsets GROUP ...)"),
        (["group", "reset-offsets", "g", "--to-earliest", "--topic", "t", "--all-topics"],
         "samsa group reset-offsets: --topic and --all-topics exclude each other"),
        (["group", "reset-offsets", "g", "--to-offset", "abc", "--topic", "t"],
         "samsa group reset-offsets: --to-offset 'abc': expected an integer"),
        (["group", "reset-offsets", "g", "--shift-by", "abc", "--topic", "t"],
         "samsa group reset-offsets: --shift-by 'abc': expected an integer"),
        (["group", "reset-offsets", "g", "--to-earliest"] + sum([["--topic", t] for t in many("t")], []),
         "samsa group reset-offsets: at most 64 --topic"),
        (["topic", "list", "a", "b"], "samsa topic list: one pattern at most, got 'b' too"),
        (["topic", "create"] + many("t"), "samsa topic create: at most 64 topics at once"),
        (["topic", "describe"], "samsa topic describe: which topic? (samsa topic describe TOPIC)"),
        (["topic", "describe"] + many("t"), "samsa topic describe: at most 64 topics at once"),
        (["topic", "delete"], "samsa topic delete: which topic? (samsa topic delete TOPIC)"),
        (["topic", "delete"] + many("t"), "samsa topic delete: at most 64 topics at once"),
        (["topic", "alter-config", "a", "b"], "samsa topic alter-config: one topic at a time ('a' and 'b')"),
        (["topic", "alter-config", "t", "-c", "x"], "samsa topic alter-config: -c 'x': expected KEY=VALUE"),
        (["topic", "alter-config", "t", "-d", ""], "samsa topic alter-config: -d '': expected a config name"),
        (["topic", "alter-config"],
         "samsa topic alter-config: which topic? (samsa topic alter-config TOPIC -c K=V)"),
        (["topic", "add-partitions", "a", "b"], "samsa topic add-partitions: one topic at a time ('a' and 'b')"),
        (["topic", "add-partitions", "t", "-p", "x"],
         "samsa topic add-partitions: -p/--partitions 'x': expected an integer"),
        (["topic", "add-partitions", "t"],
         "samsa topic add-partitions: -p TOTAL is required: the new partition count"),
        (["topic", "add-partitions"], "samsa topic add-partitions: which topic? (samsa topic add-partitions TOPIC -p N)"),
        (["outbox", "status", "extra"], "samsa outbox status: unexpected argument 'extra'"),
        (["outbox", "status", "--db", "sqlite:"], "samsa outbox status: --db sqlite: needs a path (sqlite:PATH)"),
        (["outbox", "list", "extra", "--db", "sqlite:x"], "samsa outbox list: unexpected argument 'extra'"),
        (["outbox", "list", "--limit", "x", "--db", "sqlite:x"], "samsa outbox list: -n/--limit 'x': expected an integer"),
        (["outbox", "list", "--status", "BOGUS", "--db", "sqlite:x"],
         "samsa outbox list: --status 'BOGUS': expected INIT, PUBLISHED, COMPLETE or DEAD"),
        (["outbox", "dead", "extra", "--db", "sqlite:x"], "samsa outbox dead: unexpected argument 'extra'"),
        (["outbox", "show"], "samsa outbox show: which row? (samsa outbox show ID --db URL)"),
        (["outbox", "show", "1", "2"], "samsa outbox show: one row at a time ('1' and '2')"),
        (["outbox", "retry", "1", "--all", "--db", "sqlite:x"], "samsa outbox retry: row ids and --all exclude each other"),
        (["outbox", "retry", "--topic", "t", "1", "--db", "sqlite:x"], "samsa outbox retry: --topic goes with --all"),
        (["outbox", "retry", "--db", "sqlite:x"], "samsa outbox retry: which rows? give row ids or --all"),
        (["outbox", "enqueue", "--topic", "t", "a", "b", "--db", "sqlite:x"],
         "samsa outbox enqueue: one payload ('a' and 'b')"),
        (["outbox", "enqueue", "--topic", "t", "a", "--file", "/etc/hostname", "--db", "sqlite:x"],
         "samsa outbox enqueue: PAYLOAD and --file exclude each other"),
        (["outbox", "enqueue", "--topic", "t", "--file", "/nonexistent", "--db", "sqlite:x"],
         "samsa outbox enqueue: /nonexistent: No such file or directory"),
        (["outbox", "enqueue", "--topic", "t", "-H", "x", "--db", "sqlite:x"],
         "samsa outbox enqueue: -H 'x': expected NAME=VALUE"),
    ]
    for args, line in usage:
        rc, _, err = samsa(*args, brokers=False)
        check_eq((rc, err.rstrip("\n")), (2, line), "samsa %s: exit 2" % " ".join(args[:6]))
    bad_times = ["2024-13-01T00:00:00Z", "2024-05-01T25:00:00Z", "2024-05-01T10:00:00.Z", "2024-05-01T10:00:00+0200",
                 "2024-05-01Tnoon", "2024-05-01T10:00:00Zjunk", "-200000000d", "-15parsecs", "1234567890123456"]
    for t in bad_times:
        fails(2, "samsa consume: -o @TIME '%s': expected milliseconds since the epoch, an ISO 8601 time "
              "(2024-05-01T12:00:00Z) or -DURATION (-15m, -2h, -1d)" % t, "consume", "x", "-o", "@" + t,
              brokers=False)

    # option forms, with the broker
    t = unique("args")
    ok("topic", "create", "-p3", t)
    t2 = unique("args")
    ok("-v", "topic", "create", "--partitions=2", "--replicas", "1", t2)
    d = js("topic", "describe", t, t2)
    check_eq([len(x["partitions"]) for x in d], [3, 2], "-p3 and --partitions=2 (and -v, --replicas 1) accepted")
    check(t in ok("topic", "list", "--", t).split(), "-- then a pattern")
    check_eq(ok("topic", "list", "--output", "table", t).split()[-3:-2], [t], "--output table")

    # times, to the millisecond: records at T-1, T, T+1 (T = 2024-05-01T10:00:00.500Z)
    T = 1714557600500
    p = ck.Producer({"bootstrap.servers": broker.bootstrap})
    for i, ts in enumerate((T - 1, T, T + 1)):
        p.produce(t, value=b"r%d" % i, partition=0, timestamp=ts)
    p.flush(10)
    for spec, want in [("1714557600500", "1 2"), ("2024-05-01T10:00:00.5Z", "1 2"),
                       ("2024-05-01T12:00:00.500+02:00", "1 2"), ("2024-05-01T04:30:00.501-05:30", "2"),
                       ("2024-05-01 10:00:00.4999Z", "0 1 2"), ("2024-05-01T10:00:00.50199", "2"),
                       ("2024-05-01", "0 1 2"), ("2024-05-02", ""), ("-1d", "")]:
        out = ok("consume", t, "-p", "0", "-o", "@" + spec, "-e", "-f", "%o ")
        check_eq(out.strip(), want, "-o @%s: the records from offset(s) '%s'" % (spec, want))
    out = ok("consume", t, "-p", "0", "-o", "beginning", "-e", "-f", "%q%v|")
    check_eq(out, "%qr0|%qr1|%qr2|", "an unknown %-escape in a format string is printed as it is")

    # produce: the summary with acks=0; a producer queue of 5 messages for 300 lines
    out = ok("produce", t, "-p", "1", "--acks", "0", stdin="a\nb\n")
    check(re.match(r"produced 2 records \(2 bytes\) to %s in [0-9.]+ s: partition 1: 2 records \(no offsets "
                   r"with acks=0\)\n$" % re.escape(t), out), "acks=0: the summary counts records, no offsets", out)
    lines = "".join("q%d\n" % i for i in range(300))
    out = ok("produce", t, "-p", "2", "-X", "queue.buffering.max.messages=5", stdin=lines)
    check(out.startswith("produced 300 records"), "a producer queue of 5 for 300 lines: it waits for room, "
          "all 300 delivered", out)
    check_eq(end_offset(t, 2), 300, "partition 2 holds them (high watermark 300)")
    # answers from the broker that commands turn into messages and exit codes
    g = unique("args-group")
    fails(3, "samsa group reset-offsets: group '%s' has no committed offsets; name the topic with --topic" % g,
          "group", "reset-offsets", g, "--all-topics", "--to-earliest")
    fails(3, "samsa group reset-offsets: group '%s' has no committed offset on %s [0] to shift" % (g, t),
          "group", "reset-offsets", g, "--topic", "%s:0" % t, "--shift-by", "1")
    out = ok("group", "reset-offsets", g, "--topic", t, "--to-earliest", "--dry-run")
    check(out.endswith("dry run: nothing changed; add --execute to apply\n") and
          re.search(r"^%s +0 +- +0$" % re.escape(t), out, re.M), "--dry-run: the plan, nothing changed", out)
    fails(3, "samsa group describe: group '%s' does not exist" % g, "group", "describe", g)
    missing = unique("args-missing")
    check_eq(js("topic", "delete", missing, "--if-exists"), [{"topic": missing, "deleted": False, "exists": False}],
             "topic delete --if-exists of a topic that does not exist: exit 0, said so in JSON")
    fails(2, "samsa topic create: topic '%s': replication factor 3 is not possible on a single-node samsa-broker; "
          "use 1 (or -1 for the default)" % missing, "topic", "create", missing, "-r", "3")
    fails(2, "samsa topic list: cannot create the Kafka client: `acks` must be set to `all` when "
          "`enable.idempotence` is true", "topic", "list", "-X", "enable.idempotence=true", "-X", "acks=1")
    fails(2, "samsa: unknown command 'frob' (see 'samsa --help')", "help", "frob", brokers=False)
    rc, out, err = samsa("topic", "alter-config", t, "-d", "retention.ms")
    check(rc == 0 and err == "samsa topic alter-config: warning: retention.ms is not set on topic '%s'; nothing "
          "to remove\n" % t, "alter-config -d of a config the topic does not set: a warning, exit 0", err)
    rc, out, err = samsa("-vv", "topic", "list")
    check(rc == 0 and "samsa: rdkafka " in err and t in out, "-vv: librdkafka's debug log on stderr, the answer on "
          "stdout", err[:300])


def test_unreachable():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]   # bound, never listening: refused, and no one else can take it meanwhile
    try:
        unreachable(port)
    finally:
        s.close()


def unreachable(port):
    for cmd in (["topic", "list"], ["group", "list"], ["consume", "t", "-e"], ["cluster", "info"]):
        t0 = time.monotonic()
        rc, out, err = samsa("-b", "127.0.0.1:%d" % port, "--timeout", "120000", *cmd, brokers=False)
        took = time.monotonic() - t0
        want = "samsa %s: cannot reach 127.0.0.1:%d: 127.0.0.1:%d/bootstrap: Connect to ipv4#127.0.0.1:%d " \
               "failed: Connection refused" % (" ".join(cmd[:2]) if cmd[0] != "consume" else "consume",
                                                port, port, port)
        check(rc == 4 and err.startswith(want), "%s on a closed port: exit 4, '%s...'" % (" ".join(cmd), want),
              "exit %d: %s" % (rc, err))
        # a generous bound, half the --timeout: it tells giving up at once from waiting the timeout out
        check(took < 60, "and it gives up at once (%.1f s), not after --timeout 120 s" % took)
    rc, out, err = samsa("-b", "no-such-host.invalid:9092", "topic", "list", brokers=False)
    check(rc == 4 and "Failed to resolve 'no-such-host.invalid:9092'" in err,
          "an unresolvable host: exit 4 naming it", err)
    # SAMSA_BROKERS is the default; -b wins over it
    rc, out, err = samsa("topic", "list", brokers=False, env={"SAMSA_BROKERS": "127.0.0.1:%d" % port})
    check(rc == 4 and ("127.0.0.1:%d" % port) in err, "SAMSA_BROKERS is used without -b", err)
    rc, out, err = samsa("topic", "list", env={"SAMSA_BROKERS": "127.0.0.1:%d" % port})
    check_eq(rc, 0, "-b wins over SAMSA_BROKERS")
    fails(4, "samsa outbox status: postgresql://nobody@127.0.0.1:%d/x: connect: connection to server at "
          "\"127.0.0.1\", port %d failed: Connection refused" % (port, port),
          "outbox", "status", "--db", "postgresql://nobody:secret@127.0.0.1:%d/x" % port, brokers=False)


# -- topics ------------------------------------------------------------------

def test_topics():
    a, b = unique("tp-a"), unique("tp-b")
    out = ok("topic", "create", a, "-p", "3", "-c", "retention.ms=3600000", "-c", "max.message.bytes=50000")
    check_eq(out, "created topic %s with 3 partitions\n" % a, "create says what it made")
    md = admin().list_topics(timeout=10).topics
    check_eq(len(md[a].partitions), 3, "confluent-kafka sees 3 partitions")
    fails(1, "samsa topic create: topic '%s' already exists" % a, "topic", "create", a)
    check_eq(ok("topic", "create", a, "--if-not-exists"), "topic %s exists already\n" % a,
             "--if-not-exists: not an error")
    check_eq(ok("topic", "create", b, "--validate-only", "-p", "2"), "topic %s: valid (nothing created)\n" % b,
             "--validate-only creates nothing")
    check(b not in admin().list_topics(timeout=10).topics, "and the topic does not exist")
    rc, out, err = samsa("topic", "create", "bad name!")
    check(rc == 2 and err.startswith("samsa topic create: topic 'bad name!': "), "an invalid name: exit 2", err)
    fails(2, "samsa topic create: topic '%s': unknown topic config 'no.such.config'" % b,
          "topic", "create", b, "-c", "no.such.config=1")
    j = js("topic", "create", b, "-p", "2")
    check_eq(j, [{"topic": b, "created": True, "partitions": 2}], "create --output json")

    listing = js("topic", "list")
    names = [t["topic"] for t in listing]
    check(a in names and b in names and names == sorted(names), "list: both topics, sorted")
    check_eq([t for t in listing if t["topic"] == a], [{"topic": a, "partitions": 3, "replication_factor": 1}],
             "list JSON: partitions and replication factor")
    table = ok("topic", "list", a)
    check_eq(table.splitlines(), ["TOPIC%s  PARTITIONS  REPLICAS" % (" " * (len(a) - 5)),
                                  "%s           3         1" % a], "list PATTERN: a table of one")
    check_eq(ok("topic", "list", "no-match-*"), "TOPIC  PARTITIONS  REPLICAS\n", "a pattern that matches nothing")

    # describe: offsets after some records
    p = ck.Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(5):
        p.produce(a, b"v%d" % i, partition=1)
    p.flush(10)
    d = js("topic", "describe", a)
    check_eq((d["topic"], d["partition_count"], d["replication_factor"], d["messages"]), (a, 3, 1, 5),
             "describe JSON: counts")
    check_eq([(x["partition"], x["leader"], x["replicas"], x["isr"], x["low"], x["high"], x["messages"])
              for x in d["partitions"]],
             [(0, 0, [0], [0], 0, 0, 0), (1, 0, [0], [0], 0, 5, 5), (2, 0, [0], [0], 0, 0, 0)],
             "describe JSON: leader, replicas, ISR, watermarks per partition")
    check_eq((d["configs"]["retention.ms"]["value"], d["configs"]["retention.ms"]["source"]), ("3600000", "topic"),
             "describe JSON: a topic config and its source")
    check_eq(d["configs"]["segment.bytes"]["source"] != "topic", True, "an unset config is not from the topic")
    text = ok("topic", "describe", a)
    check(text.startswith("Topic: %s  partitions: 3  replication factor: 1  messages: 5\n" % a),
          "describe: the heading line", text)
    check("        1       0  0         0      0     5         5" in text, "describe: partition 1's row", text)
    check(re.search(r"^retention\.ms\s+3600000\s+topic$", text, re.M) and "segment.bytes" not in text,
          "describe: only configs set on the topic", text)
    check("segment.bytes" in ok("topic", "describe", a, "--all-configs"), "--all-configs lists defaults too")
    fails(3, "samsa topic describe: topic 'nope-%d' does not exist" % os.getpid(), "topic", "describe",
          "nope-%d" % os.getpid())

    # alter-config keeps what it is not told to change
    out = ok("topic", "alter-config", a, "-c", "retention.ms=7200000", "-c", "segment.ms=600000")
    check_eq(out.splitlines(), ["CONFIG        OLD        NEW", "retention.ms  3600000    7200000",
                                "segment.ms    (default)  600000", "topic %s updated" % a],
             "alter-config: old and new values")
    cfg = js("topic", "describe", a)["configs"]
    check_eq((cfg["retention.ms"]["value"], cfg["segment.ms"]["value"], cfg["max.message.bytes"]["value"],
              cfg["max.message.bytes"]["source"]), ("7200000", "600000", "50000", "topic"),
             "both changed, and max.message.bytes (not named) is still set")
    adm = admin()
    res = adm.describe_configs([ck.admin.ConfigResource("topic", a)])
    cc = list(res.values())[0].result(10)
    check_eq(cc["retention.ms"].value, "7200000", "confluent-kafka sees the new retention.ms")
    j = js("topic", "alter-config", a, "-d", "segment.ms")
    check_eq(j, {"topic": a, "applied": True, "changes": [{"config": "segment.ms", "old": "600000", "new": None}]},
             "alter-config -d, JSON")
    cfg = js("topic", "describe", a)["configs"]
    check_eq((cfg["segment.ms"]["source"] != "topic", cfg["retention.ms"]["value"]), (True, "7200000"),
             "segment.ms removed, retention.ms kept")
    fails(2, "samsa topic alter-config: topic '%s': unknown topic config 'no.such.config'" % a,
          "topic", "alter-config", a, "-c", "no.such.config=1")
    fails(2, "samsa topic alter-config: -d no.such.config: topic '%s' has no config of that name" % a,
          "topic", "alter-config", a, "-d", "no.such.config")
    fails(2, "samsa topic alter-config: nothing to change: give -c KEY=VALUE or -d KEY", "topic", "alter-config", a)
    fails(3, "samsa topic alter-config: topic 'nope-%d' does not exist" % os.getpid(),
          "topic", "alter-config", "nope-%d" % os.getpid(), "-c", "retention.ms=1")

    # add-partitions
    fails(2, "samsa topic add-partitions: topic '%s' has 3 partitions; -p must be more than that "
          "(partitions cannot be removed)" % a, "topic", "add-partitions", a, "-p", "3")
    fails(2, "samsa topic add-partitions: -p TOTAL is required: the new partition count",
          "topic", "add-partitions", a)
    check_eq(ok("topic", "add-partitions", a, "-p", "5", "--validate-only"),
             "topic %s: 3 -> 5 partitions is valid (nothing changed)\n" % a, "add-partitions --validate-only")
    check_eq(ok("topic", "add-partitions", a, "-p", "5"), "topic %s: 3 -> 5 partitions\n" % a, "add-partitions")
    check_eq(len(admin().list_topics(timeout=10).topics[a].partitions), 5, "confluent-kafka sees 5 partitions")
    fails(3, "samsa topic add-partitions: topic 'nope-%d' does not exist" % os.getpid(),
          "topic", "add-partitions", "nope-%d" % os.getpid(), "-p", "2")

    # delete
    fails(3, "samsa topic delete: topic 'nope-%d' does not exist" % os.getpid(), "topic", "delete",
          "nope-%d" % os.getpid())
    check_eq(ok("topic", "delete", b, "nope-%d" % os.getpid(), "--if-exists"),
             "topic nope-%d does not exist\ndeleted topic %s\n" % (os.getpid(), b), "delete --if-exists")
    j = js("topic", "delete", a)
    check_eq(j, [{"topic": a, "deleted": True}], "delete --output json")
    topics = admin().list_topics(timeout=10).topics
    check(a not in topics and b not in topics, "confluent-kafka no longer sees them")


# -- produce -----------------------------------------------------------------

def test_produce():
    t = unique("prod")
    ok("topic", "create", t, "-p", "3")
    out = ok("produce", t, "-K", ":", "-H", "source=cli", "-H", "trace=a=b",
             stdin="order-1:created\norder-2:created\norder-1:paid\nk:v:with:colons\n:no key\n")
    check(re.match(r"produced 5 records \(\d+ bytes\) to %s in [0-9.]+ s: partition " % t, out),
          "the summary counts 5 records", out)
    recs = read_all(t)
    got = sorted((m.key(), m.value(), m.headers()) for m in recs)
    hdr = [("source", b"cli"), ("trace", b"a=b")]
    check_eq(got, sorted([(b"order-1", b"created", hdr), (b"order-2", b"created", hdr), (b"order-1", b"paid", hdr),
                          (b"k", b"v:with:colons", hdr), (b"", b"no key", hdr)]),
             "keys split at the first separator, every header on every record")
    by_key = {}
    for m in recs:
        by_key.setdefault(m.key(), set()).add(m.partition())
    check_eq(len(by_key[b"order-1"]), 1, "one key, one partition (librdkafka's partitioner)")
    o1 = [m.value() for m in sorted(recs, key=lambda m: m.offset()) if m.key() == b"order-1"]
    check_eq(o1, [b"created", b"paid"], "and in order")

    # a fixed key, a partition, acks and codecs; JSON summary
    for acks in ("0", "1", "all"):
        j = js("produce", t, "-k", "fixed", "-p", "2", "--acks", acks, stdin="a\nb\n")
        check_eq((j["records"], j["failed"], [x["partition"] for x in j["partitions"]]), (2, 0, [2]),
                 "acks=%s: 2 records on partition 2" % acks)
        check_eq(j["partitions"][0]["first_offset"] is None, acks == "0",
                 "acks=%s: %s" % (acks, "no offsets (the broker answers nothing)" if acks == "0" else "offsets"))
    codecs = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
    tc = unique("codecs")
    ok("topic", "create", tc, "-p", "1")
    # Lines that compress to more than 7 bytes a record: samsa-broker
    # refuses a compressed batch whose record count exceeds
    # (batch bytes - 61) / 7 + 1 (src/proto/batch.c, sm_batch_validate) as
    # CORRUPT_MESSAGE, although compressed records can be smaller than
    # that; 50 lines of "zstd line N" are refused. Reported as a broker bug.
    lines = {n: ["%s %s" % (n, os.urandom(12).hex()) for i in range(50)] for n in codecs}
    want = []
    for name in codecs:
        rc, out, err = samsa("produce", tc, "-z", name, "--output", "json",
                             stdin="".join(x + "\n" for x in lines[name]))
        check_eq((rc, json.loads(out)["records"]), (0, 50), "-z %s: 50 records" % name)
        # librdkafka < 2.11.1 sends gzip/snappy/lz4 uncompressed to brokers
        # without Produce v0 (samsa-broker starts at v3); samsa must say so
        warned = err.startswith("samsa produce: warning: -z %s has no effect: librdkafka " % name)
        check(warned or err == "", "-z %s: %s" % (name, "a warning that librdkafka will not compress"
                                                   if warned else "no warning"), err)
        if warned:
            check(name in ("gzip", "snappy", "lz4") and ck.libversion()[1] < 0x020b0100,
                  "only for the codecs and librdkafka versions that do that")
        want.append(0 if warned else codecs[name])
    check_eq(segment_codecs(tc, 0), want,
             "the segment's batches carry the codec asked for, or none where samsa warned")
    check_eq(segment_codecs(tc, 0)[-1], 4, "zstd is on disk")
    vals = [m.value() for m in read_all(tc)]
    check_eq(vals, [x.encode() for n in codecs for x in lines[n]], "and every record reads back intact")
    fails(2, "samsa produce: --compression 'brotli': Invalid value \"brotli\" for configuration property "
          "\"compression.codec\"", "produce", tc, "-z", "brotli", stdin="x\n")

    # -f FILE, with JSON summary offsets that match the log
    path = os.path.join(tmp, "lines.txt")
    with open(path, "w") as f:
        f.write("".join("k%d\t%d\n" % (i % 4, i) for i in range(1000)))
    j = js("produce", t, "-f", path, "-K", "\t")
    check_eq((j["records"], j["failed"]), (1000, 0), "-f: 1000 records")
    tot = sum(x["records"] for x in j["partitions"])
    check_eq(tot, 1000, "the per-partition counts add up")
    for x in j["partitions"]:
        check_eq(x["last_offset"] - x["first_offset"] + 1, x["records"],
                 "partition %d: offsets %d..%d are contiguous" % (x["partition"], x["first_offset"], x["last_offset"]))
    fails(2, "samsa produce: /nonexistent/x.txt: No such file or directory", "produce", t, "-f", "/nonexistent/x.txt")

    # a line without the separator: the ones before it are delivered
    tl = unique("prod-line")
    ok("topic", "create", tl, "-p", "1")
    rc, out, err = samsa("produce", tl, "-K", ":", stdin="a:1\nb:2\nno separator\nc:3\n")
    check_eq((rc, err.strip()), (2, "samsa produce: line 3: no key separator ':' (records before it are sent)"),
             "a line without the separator: exit 2 naming the line")
    check(out.startswith("produced 2 records"), "the summary says 2 were delivered", out)
    check_eq([(m.key(), m.value()) for m in read_all(tl)], [(b"a", b"1"), (b"b", b"2")], "and those 2 are there")

    # Ctrl-C while reading: what was read is delivered, exit 130
    proc = subprocess.Popen([SAMSA, "-b", broker.bootstrap, "produce", tl, "-K", ":"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(b"c:3\nd:4\n")
    proc.stdin.flush()
    # Ctrl-C once both lines have been read: they are in the log then (each
    # is handed over as it is read). A fixed pause raced a slow start-up: a
    # signal before the second line was read stops the loop at one record.
    wait_for(lambda: end_offset(tl, 0) == 4, 30, "the CLI to read and hand over c:3 and d:4")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    check_eq((proc.returncode, err), (130, b""), "SIGINT while reading stdin: exit 130, no error text")
    check(out.startswith(b"produced 2 records"), "the 2 lines read were delivered", out)
    check_eq([(m.key(), m.value()) for m in read_all(tl)][-2:], [(b"c", b"3"), (b"d", b"4")], "and are there")
    proc.stdin.close()

    # unknown topic (auto-creation is off on this broker), unknown partition
    fails(3, "samsa produce: topic 'nope-%d' does not exist (and the broker did not create it)" % os.getpid(),
          "produce", "nope-%d" % os.getpid(), stdin="x\n")
    fails(3, "samsa produce: topic '%s' has no partition 7 (it has 3)" % t, "produce", t, "-p", "7", stdin="x\n")
    # a record larger than the broker takes: not delivered, exit 1
    rc, out, err = samsa("produce", tl, "-q", stdin="x" * 150000 + "\n")
    check_eq((rc, err.strip()), (1, "samsa produce: 1 of 1 records were not delivered: Broker: Message size too large"),
             "a record over message.max.bytes: exit 1 with the broker's error")


# -- consume -----------------------------------------------------------------

def test_consume():
    t = unique("cons")
    ok("topic", "create", t, "-p", "2")
    p = ck.Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(6):
        p.produce(t, value=b"v%d" % i, key=b"k%d" % i, partition=i % 2, headers=[("h", b"%d" % i)],
                  timestamp=1700000000000 + i)
    p.produce(t, value=b"\xff\xfe", key=None, partition=0)
    p.produce(t, value=None, key=b"tomb", partition=1)
    p.flush(10)
    # partition 0: v0 v2 v4 <ff fe>; partition 1: v1 v3 v5 <null>

    out = ok("consume", t, "-p", "0", "--from-beginning", "-e")
    check_eq(out, "v0\nv2\nv4\n\ufffd\ufffd\n",
             "plain: the values of partition 0 in order")
    out = ok("consume", t, "-p", "1", "-o", "beginning", "-e", "-f", "kv", "-K", "=")
    check_eq(out, "k1=v1\nk3=v3\nk5=v5\ntomb=\n", "kv with a separator; a null value prints empty")
    lines = ok("consume", t, "-p", "0", "-o", "beginning", "-e", "-f", "json").splitlines()
    recs = [json.loads(x) for x in lines]
    check_eq(recs[0], {"topic": t, "partition": 0, "offset": 0, "timestamp": 1700000000000, "key": "k0",
                       "value": "v0", "headers": [{"key": "h", "value": "0"}]}, "json: every field")
    check_eq((recs[3]["key"], recs[3]["value"], recs[3]["value_base64"]), (None, None, "//4="),
             "json: a null key, non-UTF-8 value as value_base64")
    j1 = [json.loads(x) for x in ok("consume", t, "-p", "1", "-o", "3", "-e", "--output", "json").splitlines()]
    check_eq((j1[0]["key"], j1[0]["value"], j1[0]["offset"]), ("tomb", None, 3), "--output json; a null value")
    out = ok("consume", t, "-o", "beginning", "-e", "-f", "%t|%p|%o|%k|%v|%T|%h|%K|%S|%%\\n")
    rows = sorted(out.splitlines())
    check_eq(rows[0], "%s|0|0|k0|v0|1700000000000|h=0|2|2|%%" % t, "a format string: every token")
    check_eq(len(rows), 8, "all 8 records of both partitions")

    # where to start
    check_eq(ok("consume", t, "-p", "0", "-o", "2", "-e"), "v4\n\ufffd\ufffd\n", "-o 2: from offset 2")
    check_eq(ok("consume", t, "-p", "1", "-o", "-2", "-e", "-f", "%k\\n"), "k5\ntomb\n", "-o -2: the last two")
    check_eq(ok("consume", t, "-p", "1", "-o", "-100", "-e", "-f", "%o\\n"), "0\n1\n2\n3\n",
             "-o -100 on a shorter partition: all of it")
    check_eq(ok("consume", t, "-o", "end", "-e"), "", "-o end -e: nothing, at once")
    check_eq(ok("consume", t, "-p", "0", "-o", "4", "-e"), "", "-o HIGH (the end) is valid: nothing")
    check_eq(ok("consume", t, "--from-beginning", "-n", "3", "-p", "1"), "v1\nv3\nv5\n", "-n 3 stops after 3")
    out = ok("consume", t, "-p", "0", "-o", "@1700000000003", "-e", "-f", "%o %T\\n")
    check_eq(out.splitlines()[0], "2 1700000000004", "-o @ms: the first record at or after it")
    out = ok("consume", t, "-p", "1", "-o", "@2023-11-14T22:13:20.003Z", "-e", "-f", "%k\\n")
    check_eq(out, "k3\nk5\ntomb\n", "-o @ISO-8601 (1700000000003 ms)")
    check_eq(ok("consume", t, "-o", "@2100-01-01", "-e"), "", "-o @ a time after everything: nothing")

    # two produce phases in real time: -o @ms between them
    tt = unique("cons-time")
    ok("topic", "create", tt, "-p", "1")
    ok("produce", tt, stdin="old1\nold2\n")
    mark = int(time.time() * 1000) + 1          # after every old record's timestamp
    wait_for(lambda: time.time() * 1000 > mark + 1, 5, "the clock to pass the mark")   # the clock, not the broker
    ok("produce", tt, stdin="new1\nnew2\n")
    check_eq(ok("consume", tt, "-o", "@%d" % mark, "-e"), "new1\nnew2\n", "-o @ms between two produce phases")
    # -o @-DURATION: records stamped two hours ago and now, 30 minutes apart
    # from the boundary either way, so a slow machine cannot blur it
    td = unique("cons-dur")
    ok("topic", "create", td, "-p", "1")
    now = int(time.time() * 1000)
    for v, ts in ((b"2h-ago", now - 7200000), (b"1h-ago", now - 3600000), (b"now", now)):
        p.produce(td, value=v, partition=0, timestamp=ts)
    p.flush(10)
    check_eq(ok("consume", td, "-o", "@-90m", "-e"), "1h-ago\nnow\n", "-o @-90m")
    check_eq(ok("consume", td, "-o", "@-0.5h", "-e"), "now\n", "-o @-0.5h")
    check_eq(ok("consume", td, "-o", "@-1d", "-e"), "2h-ago\n1h-ago\nnow\n", "-o @-1d")

    # bad offsets and unknown things
    fails(3, "samsa consume: offset 9 is out of range for %s [0]: it holds offsets 0..3" % t,
          "consume", t, "-p", "0", "-o", "9", "-e")
    te = unique("cons-empty")
    ok("topic", "create", te, "-p", "1")
    fails(3, "samsa consume: offset 1 is out of range for %s [0]: the partition is empty (next offset 0)" % te,
          "consume", te, "-o", "1", "-e")
    fails(3, "samsa consume: topic 'nope-%d' does not exist" % os.getpid(), "consume", "nope-%d" % os.getpid(), "-e")
    fails(3, "samsa consume: topic '%s' has no partition 5 (it has 2)" % t, "consume", t, "-p", "5", "-e")
    fails(2, "samsa consume: -p and -g exclude each other: the group assigns the partitions",
          "consume", t, "-p", "0", "-g", "x", "-e")

    # a consumer that follows: it prints what arrives, ends on SIGTERM with 0
    e = dict(os.environ)
    proc = subprocess.Popen([SAMSA, "-b", broker.bootstrap, "consume", tt, "-o", "end"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=e)
    line = [None]

    def reader():
        line[0] = proc.stdout.readline()
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    # the consumer starts at the end as of its start: produce until it prints
    for _ in range(20):
        ok("produce", tt, "-q", stdin="live\n")
        th.join(1.0)
        if not th.is_alive():
            break
    printed_live = not th.is_alive()
    proc.terminate()
    out, err = proc.communicate(timeout=20)
    check(printed_live, "follow: a record produced later is printed while it runs (not at exit)")
    check_eq(line[0], b"live\n", "follow: the record's value")
    check_eq((proc.returncode, err.decode()), (0, ""), "SIGTERM ends a follow with exit 0, nothing on stderr")
    # a reader that goes away (| head -1): exit 0 quietly
    r = subprocess.run("'%s' -b %s consume %s --from-beginning -e | head -1" % (SAMSA, broker.bootstrap, tt),
                       shell=True, capture_output=True, executable="/bin/bash")
    check_eq((r.returncode, r.stdout, r.stderr), (0, b"old1\n", b""), "| head -1: one line, no error")


# -- groups ------------------------------------------------------------------

def committed(group, topic, parts):
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False})
    r = c.committed([ck.TopicPartition(topic, p) for p in parts], timeout=10)
    c.close()
    return [x.offset for x in r]


def test_groups():
    t, g = unique("grp"), unique("g")
    ok("topic", "create", t, "-p", "2")
    ok("produce", t, "-K", ":", stdin="".join("k%d:v%d\n" % (i, i) for i in range(10)))
    ends = [p["high"] for p in js("topic", "describe", t)["partitions"]]
    check_eq(sum(ends), 10, "10 records in 2 partitions")
    out = ok("consume", t, "-g", g, "--from-beginning", "-e")
    check_eq(len(out.splitlines()), 10, "consume -g --from-beginning -e: all 10")
    check_eq(committed(g, t, [0, 1]), ends, "the group committed the ends (confluent-kafka)")
    check_eq(ok("consume", t, "-g", g, "--from-beginning", "-e"), "", "again: nothing new for the group")

    # -e as a member that the group gives no partition: it ends, it does not wait forever
    t1, g1 = unique("one"), unique("g1")
    ok("topic", "create", t1, "-p", "1")
    ok("produce", t1, stdin="x\n")
    holder = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": g1,
                          "enable.auto.commit": False, "session.timeout.ms": 6000})
    held = []
    holder.subscribe([t1], on_assign=lambda c, ps: held.extend(ps))
    try:
        deadline = time.monotonic() + 20
        while not held and time.monotonic() < deadline:
            holder.poll(0.1)
        check(held, "the first member holds the only partition")
        # the holder keeps polling from a thread so it stays in the group through the rebalance
        stop = threading.Event()
        th = threading.Thread(target=lambda: [holder.poll(0.1) for _ in iter(stop.is_set, True)])
        th.start()
        try:
            t0 = time.monotonic()
            rc, out, err = samsa("consume", t1, "-g", g1, "-e", timeout=40)
            took = time.monotonic() - t0
        finally:
            stop.set()
            th.join()
        check_eq((rc, out), (0, ""), "consume -g -e with no partition of its own: exit 0, nothing printed")
        # a hang guard, not a timing bound: samsa() kills it at 40 s
        check(took < 30, "and it ends by itself", "took %.1fs" % took)
    finally:
        holder.close()
    listing = js("group", "list")
    check_eq([x for x in listing if x["group"] == g], [{"group": g, "state": "Empty", "type": "consumer"}],
             "group list: the group, Empty")
    d = js("group", "describe", g)
    check_eq((d["group"], d["state"], d["member_count"], d["lag"], d["coordinator"]["id"]), (g, "Empty", 0, 0, 0),
             "describe: state, no members, no lag, coordinator 0")
    check_eq([(x["topic"], x["partition"], x["committed"], x["end"], x["lag"]) for x in d["offsets"]],
             [(t, 0, ends[0], ends[0], 0), (t, 1, ends[1], ends[1], 0)], "describe: committed = end per partition")
    ok("produce", t, "-p", "0", stdin="x\ny\nz\n")
    d = js("group", "describe", g)
    check_eq((d["lag"], d["offsets"][0]["lag"], d["offsets"][0]["end"]), (3, 3, ends[0] + 3),
             "3 new records: lag 3 on partition 0")
    text = ok("group", "describe", g)
    check(text.startswith("Group: %s  state: Empty  assignor: -  members: 0  lag: 3  coordinator: 0 (127.0.0.1:%d)\n"
                          % (g, broker.port)), "describe: the heading line", text)
    check(re.search(r"^%s\s+0\s+%d\s+%d\s+3\s+-\s+-$" % (t, ends[0], ends[0] + 3), text, re.M),
          "describe: partition 0's row with its lag", text)
    fails(3, "samsa group describe: group 'nope-%d' does not exist" % os.getpid(), "group", "describe",
          "nope-%d" % os.getpid())

    # a live member (confluent-kafka): members, assignment; reset refused
    member = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": g, "client.id": "live-one",
                          "session.timeout.ms": 6000, "enable.auto.commit": False})
    member.subscribe([t])
    wait_for(lambda: member.poll(0.2) is not None or member.assignment(), 30, "the member's assignment")
    d = wait_for(lambda: (lambda d: d if d["state"] == "Stable" and d["members"] and d["members"][0]["assignment"]
                          else None)(js("group", "describe", g)), 30, "a Stable group with an assignment")
    m = d["members"][0]
    check_eq((d["member_count"], m["client_id"], sorted((a["topic"], a["partition"]) for a in m["assignment"])),
             (1, "live-one", [(t, 0), (t, 1)]), "describe: the member, its client id and both partitions")
    check_eq({x["member_id"] for x in d["offsets"]}, {m["member_id"]}, "each partition names its member")
    check(d["assignor"] in ("range", "roundrobin"), "the assignor is named (%s)" % d["assignor"])
    fails(1, "samsa group reset-offsets: group '%s' has 1 active member; stop it before resetting offsets "
          "(without --execute the plan is shown anyway)" % g,
          "group", "reset-offsets", g, "--topic", t, "--to-earliest", "--execute")
    plan = js("group", "reset-offsets", g, "--topic", t, "--to-earliest")
    check_eq((plan["executed"], [(x["partition"], x["new"]) for x in plan["partitions"]]), (False, [(0, 0), (1, 0)]),
             "the dry run works with a live member")
    fails(1, "samsa group delete: group '%s' has active members; stop them first" % g, "group", "delete", g)
    member.close()

    before = committed(g, t, [0, 1])
    out = ok("group", "reset-offsets", g, "--topic", t, "--to-earliest")
    check_eq(out.splitlines()[-1], "dry run: nothing changed; add --execute to apply", "a dry run by default")
    check_eq(committed(g, t, [0, 1]), before, "and nothing changed")
    ok("group", "reset-offsets", g, "--topic", t, "--to-earliest", "--execute")
    check_eq(committed(g, t, [0, 1]), [0, 0], "--to-earliest --execute: 0, 0")
    check_eq(len(ok("consume", t, "-g", g, "-e").splitlines()), 13, "the group reads all 13 again")
    ok("group", "reset-offsets", g, "--topic", t + ":1", "--to-offset", "2", "--execute")
    check_eq(committed(g, t, [0, 1]), [ends[0] + 3, 2], "--topic T:1 --to-offset 2: only partition 1 moved")
    ok("group", "reset-offsets", g, "--all-topics", "--shift-by", "-1", "--execute")
    check_eq(committed(g, t, [0, 1]), [ends[0] + 2, 1], "--shift-by -1 on every committed partition")
    ok("group", "reset-offsets", g, "--all-topics", "--shift-by", "-100", "--execute")
    check_eq(committed(g, t, [0, 1]), [0, 0], "--shift-by past the start stops at the start")
    ok("group", "reset-offsets", g, "--topic", t, "--to-latest", "--execute")
    check_eq(committed(g, t, [0, 1]), [ends[0] + 3, ends[1]], "--to-latest")
    mark = int(time.time() * 1000) + 1          # after every earlier record's timestamp
    wait_for(lambda: time.time() * 1000 > mark + 1, 5, "the clock to pass the mark")   # the clock, not the broker
    ok("produce", t, "-p", "1", stdin="later\n")
    j = js("group", "reset-offsets", g, "--topic", t, "--to-datetime", str(mark), "--execute")
    check_eq([(x["partition"], x["new"]) for x in j["partitions"]], [(0, ends[0] + 3), (1, ends[1])],
             "--to-datetime: the first record after it, or the end")
    check_eq(committed(g, t, [0, 1]), [ends[0] + 3, ends[1]], "and committed so")
    fails(3, "samsa group reset-offsets: offset 99 is out of range for %s [0]: offsets 0..%d (%d is the end)"
          % (t, ends[0] + 3, ends[0] + 3), "group", "reset-offsets", g, "--topic", t, "--to-offset", "99")
    fails(3, "samsa group reset-offsets: topic 'nope-%d' does not exist" % os.getpid(),
          "group", "reset-offsets", g, "--topic", "nope-%d" % os.getpid(), "--to-earliest")
    fails(3, "samsa group reset-offsets: topic '%s' has no partition 4 (it has 2)" % t,
          "group", "reset-offsets", g, "--topic", t + ":4", "--to-earliest")
    # a new group can be given offsets before it ever runs
    g2 = unique("g-new")
    ok("group", "reset-offsets", g2, "--topic", t, "--to-offset", "1", "--execute")
    check_eq(committed(g2, t, [0, 1]), [1, 1], "a group that never ran gets offsets")

    fails(3, "samsa group delete: group 'nope-%d' does not exist" % os.getpid(), "group", "delete",
          "nope-%d" % os.getpid())
    check_eq(ok("group", "delete", g, g2), "deleted group %s\ndeleted group %s\n" % (g, g2), "group delete")
    check(g not in [x["group"] for x in js("group", "list")], "the group is gone from the list")
    check_eq(committed(g, t, [0, 1]), [ck.OFFSET_INVALID, ck.OFFSET_INVALID], "and its offsets with it")


# -- cluster -----------------------------------------------------------------


def docs_api_ranges():
    """{name: (key, min, max)} from the protocol table in docs/broker.md."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "broker.md")
    out = {}
    for line in open(path, encoding="utf-8"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not re.match(r"^\w+ \(\d+\)", cells[0]):
            continue
        names = re.findall(r"(\w+) \((\d+)\)", cells[0])
        ranges = [r.strip() for r in cells[1].split("/")]
        for (name, key), r in zip(names, ranges):
            lo, _, hi = r.partition("–")
            out[name] = (int(key), int(lo), int(hi or lo))
    return out

def test_cluster_info():
    j = js("cluster", "info")
    check_eq([(b["id"], b["host"], b["port"], b["controller"]) for b in j["brokers"]],
             [(0, "127.0.0.1", broker.port, True)], "one broker, node 0, the controller")
    check_eq(j["controller_id"], 0, "controller id 0")
    check(isinstance(j["cluster_id"], str) and len(j["cluster_id"]) >= 16, "a cluster id", j["cluster_id"])
    apis = {a["name"]: (a["key"], a["min"], a["max"]) for a in j["brokers"][0]["api_versions"]}
    want = docs_api_ranges()
    check(len(want) >= 20, "docs/broker.md lists the APIs", sorted(want))
    check_eq({k: apis.get(k) for k in want}, want, "the API version ranges docs/broker.md lists")
    text = ok("cluster", "info")
    check(text.startswith("Cluster: %s  controller: 0  brokers: 1  topics: " % j["cluster_id"]), "the heading", text)
    check(all(re.search(r"^ +%d +%s +%d +%d$" % (want[n][0], n, want[n][1], want[n][2]), text, re.M)
              for n in ("Produce", "ApiVersions", "DescribeCluster")),
          "the API table: Produce, ApiVersions, DescribeCluster with the ranges docs/broker.md lists", text)
    out = ok("cluster", "info", "--no-api-versions")
    check("API versions" not in out and "127.0.0.1" in out, "--no-api-versions leaves the table out")
    out = ok("cluster", "info", "-X", "security.protocol=plaintext")
    check("Produce" in out, "security.protocol=plaintext still asks")


class BadPeer:
    """A TCP peer that answers samsa's own ApiVersions request (correlation
    id "SAMS") the way `mode` says, and closes every other connection (the
    ones librdkafka makes): what `cluster info` meets when a broker's
    advertised address leads somewhere else."""

    def __init__(self):
        self.s = socket.socket()
        self.s.bind(("127.0.0.1", 0))
        self.s.listen(16)
        self.port = self.s.getsockname()[1]
        self.mode = "close"
        self.open = []
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                c, _ = self.s.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            c.settimeout(30)
            head = c.recv(4, socket.MSG_WAITALL)
            n = struct.unpack(">i", head)[0]
            body = b""
            while len(body) < n:
                chunk = c.recv(n - len(body))
                if not chunk:
                    return
                body += chunk
            corr = body[4:8]
            if corr != b"SAMS" or self.mode == "close":
                return
            if self.mode == "silent":
                self.open.append(c)     # kept open, never answered
                c = None
                return
            if self.mode == "huge":
                c.sendall(struct.pack(">i", 1 << 30))
                return
            if self.mode == "error":
                payload = corr + struct.pack(">hi", 35, 0)
            elif self.mode == "wrongcorr":
                payload = b"XXXX" + struct.pack(">hi", 0, 0)
            else:   # "many": 1500 entries, more than the 1000 samsa reads
                payload = corr + struct.pack(">hi", 0, 1500) + b"".join(
                    struct.pack(">hhh", k % 100, 0, k % 7) for k in range(1500))
            c.sendall(struct.pack(">i", len(payload)) + payload)
        except OSError:
            pass
        finally:
            if c is not None:
                c.close()

    def close(self):
        try:
            self.s.shutdown(socket.SHUT_RDWR)   # wakes the accept() of the loop's thread
        except OSError:
            pass
        self.s.close()
        for c in self.open:
            c.close()
        self.open = []


def test_cluster_info_bad_peer():
    """cluster info asks each broker's advertised address for ApiVersions
    itself: a peer there that closes, answers 1 GiB, an error, another
    correlation id, nothing in time, more APIs than samsa reads, or is gone.
    Each: exit 1 naming the broker and what went wrong (in JSON too), never
    a crash or a hang."""
    peer = BadPeer()
    b2 = Broker(name="samsa-cli-adv", overrides={"advertised.listeners": "PLAINTEXT://127.0.0.1:%d" % peer.port})
    try:
        b2.start()
        boot = ["-b", b2.bootstrap]
        where = "samsa cluster info: ApiVersions from broker 0 (127.0.0.1:%d): " % peer.port
        for mode, why in [("close", "the broker closed the connection"),
                          ("huge", "a response of 1073741824 bytes is not an ApiVersions answer"),
                          ("error", "ApiVersions answered error 35"),
                          ("wrongcorr", "a malformed ApiVersions response"),
                          ("silent", "no answer in time")]:
            peer.mode = mode
            rc, out, err = samsa(*boot, "--timeout", "3000", "cluster", "info", brokers=False)
            check(rc == 1 and err.splitlines()[-1] == where + why, "a peer that answers '%s': exit 1, '%s'"
                  % (mode, why), err[-300:])
        peer.mode = "error"
        rc, out, err = samsa(*boot, "cluster", "info", "--output", "json", brokers=False)
        check(rc == 1 and json.loads(out)["brokers"][0]["api_versions_error"] == "ApiVersions answered error 35",
              "--output json: the error in api_versions_error", out[-300:])
        peer.mode = "many"
        rc, out, err = samsa(*boot, "cluster", "info", "--output", "json", brokers=False)
        check(rc == 0 and len(json.loads(out)["brokers"][0]["api_versions"]) == 1000,
              "1500 APIs in the answer: the first 1000 read, exit 0", err[-300:])
        peer.close()
        rc, out, err = samsa(*boot, "--timeout", "3000", "cluster", "info", brokers=False)
        check(rc == 1 and err.splitlines()[-1] == where.replace("): ", "): connecting to 127.0.0.1:%d: "
                                                                 % peer.port) + "Connection refused",
              "nobody listening there: exit 1, connection refused", (rc, out[-300:], err[-300:]))
        check_eq(b2.finish(0), 0, "the broker is unaffected")
    finally:
        peer.close()
        b2.cleanup()


# -- progress and completion -------------------------------------------------

def test_progress():
    t = unique("progress")
    ok("topic", "create", t, "-p", "1")

    progress_re = re.compile(rb"\r\x1b\[K\d+ records  [0-9.]+ MB  \d+/s")
    drawn = threading.Event()
    fed = [0]

    def feed(w):
        # 100 lines every 60 ms, at least 30 times, and on until the progress
        # line shows: it is drawn once reading has lasted a second, and how
        # long the command takes to start on a loaded machine is not ours to
        # guess (60 s at most; then the check below fails)
        deadline = time.monotonic() + 60
        i = 0
        while i < 30 or (not drawn.is_set() and time.monotonic() < deadline):
            w.write(b"".join(b"r%d-%d\n" % (i, k) for k in range(100)))
            w.flush()
            fed[0] += 100
            i += 1
            time.sleep(0.06)
        w.close()

    # stderr a terminal (a pty), stdin a slow pipe: the progress line shows
    master, slave = pty.openpty()
    proc = subprocess.Popen([SAMSA, "-b", broker.bootstrap, "produce", t], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    th = threading.Thread(target=feed, args=(proc.stdin,), daemon=True)
    th.start()
    seen = b""
    while True:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            if progress_re.search(seen):
                drawn.set()
        elif proc.poll() is not None:
            break
    out = proc.stdout.read()
    proc.wait(20)
    th.join(10)
    os.close(master)
    check_eq(proc.returncode, 0, "produce with a terminal on stderr: exit 0")
    check(progress_re.search(seen), "a progress line on the terminal (records, MB, rate)", seen[:200])
    check(out.startswith(b"produced %d records" % fed[0]), "the summary on stdout: all %d lines" % fed[0], out)
    # the same with stderr a pipe: no progress, no escapes
    data = b"".join(b"x%d\n" % i for i in range(3000))
    rc, out, err = samsa("produce", t, input_bytes=data)
    check_eq((rc, err), (0, ""), "stderr a pipe: nothing on it")


def test_completion():
    script = ok("completion", "bash", brokers=False)
    with open(os.path.join(ROOT, "contrib", "samsa-completion.bash")) as f:
        check_eq(f.read(), script, "contrib/samsa-completion.bash is what 'samsa completion bash' prints")
    r = subprocess.run(["bash", "-n"], input=script.encode(), capture_output=True)
    check_eq(r.returncode, 0, "the script is valid bash")
    t = unique("compl")
    ok("topic", "create", t, "-p", "1")
    probe = os.path.join(tmp, "probe.bash")
    with open(probe, "w") as f:
        f.write(script + '\nt(){ COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _samsa;'
                ' echo "${COMPREPLY[*]}"; }\n'
                't samsa ""\nt samsa topic de\nt samsa consume %s -f ""\nt samsa topic create --p\n'
                't samsa -b %s topic describe %s\nt samsa outbox retry --a\n'
                % (t, broker.bootstrap, t[:len(t) - 2]))
    env = dict(os.environ, PATH=os.path.dirname(SAMSA) + ":" + os.environ["PATH"])
    r = subprocess.run(["bash", probe], capture_output=True, env=env, timeout=60)
    lines = r.stdout.decode().splitlines()
    check_eq(lines[0].split()[:7], ["topic", "produce", "consume", "group", "cluster", "outbox", "completion"],
             "the first word: the commands")
    check_eq(lines[1], "describe delete", "topic de<TAB>")
    check_eq(lines[2], "plain kv json", "consume -f <TAB>: the formats")
    check_eq(lines[3], "--partitions --property", "topic create --p<TAB>")
    check_eq(lines[4], t, "topic describe <prefix><TAB>: the topic, from the cluster named by -b")
    check_eq(lines[5], "--all", "outbox retry --a<TAB>")


# -- outbox ------------------------------------------------------------------

def outbox_flow(url, sql, label):
    """The outbox commands on one database. sql(statement, args) runs SQL
    on it (for setting a row DEAD as a relay would, and for checking)."""
    db = ["--db", url]
    j = js("outbox", "init", *db, brokers=False)
    check_eq(j["schema_version"], 3, "%s: init: schema version 3" % label)
    js("outbox", "init", *db, brokers=False)
    st = js("outbox", "status", *db, brokers=False)
    check_eq((st["counts"], st["oldest_unpublished_age_ms"], st["topics"]),
             ({"INIT": 0, "PUBLISHED": 0, "COMPLETE": 0, "DEAD": 0}, None, []), "%s: status of an empty outbox" % label)
    ids = []
    for i in range(5):
        e = js("outbox", "enqueue", *db, "--topic", "orders" if i < 3 else "payments", "-k", "k%d" % (i % 2),
               "--type", "t.%d" % i, "-H", "trace=%d" % i, '{"n":%d}' % i, brokers=False)
        ids.append((e["id"], e["event_id"]))
    check_eq([i for i, _ in ids], [1, 2, 3, 4, 5], "%s: enqueue: rows 1..5" % label)
    row = sql("SELECT topic, key, type, payload, headers, status FROM samsa_outbox WHERE id = 2", ())[0]
    headers = row[4] if isinstance(row[4], dict) else json.loads(row[4])   # psycopg2 decodes jsonb
    check_eq((row[0], row[1], row[2], bytes(row[3]), headers, row[5]),
             ("orders", "k1", "t.1", b'{"n":1}', {"trace": "1"}, "INIT"), "%s: the row as the contract says" % label)
    fails(2, "samsa outbox enqueue: --topic is required", "outbox", "enqueue", *db, "x", brokers=False)
    rc, out, err = samsa("outbox", "enqueue", *db, "--topic", "bad topic!", "x", brokers=False)
    check(rc == 2 and "topic" in err, "%s: enqueue with an invalid topic name: exit 2" % label, err)

    # a relay's doing, by SQL: row 2 PUBLISHED, 3 COMPLETE, 4 DEAD
    sql("UPDATE samsa_outbox SET status = 'PUBLISHED', kafka_partition = 1, kafka_offset = 17 WHERE id = 2", ())
    sql("UPDATE samsa_outbox SET status = 'COMPLETE', kafka_partition = 0, kafka_offset = 3 WHERE id = 3", ())
    sql("UPDATE samsa_outbox SET status = 'DEAD', attempts = 10, last_error = 'Broker: Message size too large'"
        " WHERE id = 4", ())
    st = js("outbox", "status", *db, brokers=False)
    check_eq(st["counts"], {"INIT": 2, "PUBLISHED": 1, "COMPLETE": 1, "DEAD": 1}, "%s: status counts" % label)
    check_eq(st["oldest_unpublished_id"], 1, "%s: the oldest unpublished row is 1" % label)
    check(0 <= st["oldest_unpublished_age_ms"] < 120000, "%s: and its age is small" % label,
          st["oldest_unpublished_age_ms"])
    check_eq(st["topics"], [{"topic": "orders", "INIT": 1, "PUBLISHED": 1, "COMPLETE": 1, "DEAD": 0},
                            {"topic": "payments", "INIT": 1, "PUBLISHED": 0, "COMPLETE": 0, "DEAD": 1}],
             "%s: counts per topic" % label)
    text = ok("outbox", "status", *db, brokers=False)
    check(text.startswith("Outbox: %s (schema version 3)\n\nSTATUS     ROWS\nINIT          2\nPUBLISHED     1\n"
                          "COMPLETE      1\nDEAD          1\n\noldest unpublished: " % url.replace(":secret", "")),
          "%s: the status table (the database named by its URL without the password)" % label, text)

    rows = js("outbox", "list", *db, brokers=False)
    check_eq([(r["id"], r["status"], r["topic"], r["key"]) for r in rows],
             [(1, "INIT", "orders", "k0"), (2, "PUBLISHED", "orders", "k1"), (3, "COMPLETE", "orders", "k0"),
              (4, "DEAD", "payments", "k1"), (5, "INIT", "payments", "k0")], "%s: list, oldest first" % label)
    check_eq([r["id"] for r in js("outbox", "list", *db, "--status", "init", brokers=False)], [1, 5],
             "%s: list --status (any case)" % label)
    check_eq([r["id"] for r in js("outbox", "list", *db, "--topic", "orders", "-k", "k0", brokers=False)], [1, 3],
             "%s: list --topic --key" % label)
    check_eq([r["id"] for r in js("outbox", "list", *db, "--newest", "-n", "2", brokers=False)], [5, 4],
             "%s: --newest -n 2" % label)
    check_eq([r["id"] for r in js("outbox", "list", *db, "--after", "3", brokers=False)], [4, 5],
             "%s: --after 3" % label)
    text = ok("outbox", "list", *db, "-n", "2", brokers=False)
    check_eq(text.splitlines()[-1], "(first 2 rows; --limit or --after 2 for more)", "%s: paging hint" % label)
    check(re.search(r"^ 2  PUBLISHED\s+orders\s+k1\s+0  \S+Z  1/17$", text, re.M), "%s: WHERE is partition/offset"
          % label, text)
    fails(2, "samsa outbox list: --status 'LOST': expected INIT, PUBLISHED, COMPLETE or DEAD",
          "outbox", "list", *db, "--status", "LOST", brokers=False)

    d = js("outbox", "dead", *db, brokers=False)
    check_eq([(r["id"], r["attempts"], r["last_error"]) for r in d], [(4, 10, "Broker: Message size too large")],
             "%s: dead: the DEAD row with its error" % label)
    s = js("outbox", "show", "2", *db, brokers=False)
    check_eq((s["event_id"], s["status"], s["partition"], s["offset"], s["payload"], s["headers"], s["type"]),
             (ids[1][1], "PUBLISHED", 1, 17, '{"n":1}', {"trace": "1"}, "t.1"), "%s: show by id" % label)
    check_eq(js("outbox", "show", ids[3][1].upper(), *db, brokers=False)["id"], 4,
             "%s: show by event id (any case)" % label)
    text = ok("outbox", "show", "4", *db, brokers=False)
    check("\nstatus:           DEAD\n" in text and "\nLast error:\n  Broker: Message size too large\n" in text
          and "re-queue with 'samsa outbox retry 4'" in text, "%s: show: status, error, what to do" % label, text)
    fails(3, "samsa outbox show: no outbox row 99 in %s" % url.replace(":secret", ""), "outbox", "show", "99", *db,
          brokers=False)
    fails(3, "samsa outbox show: no outbox row with event id 00000000-0000-4000-8000-000000000000 in %s"
          % url.replace(":secret", ""), "outbox", "show", "00000000-0000-4000-8000-000000000000", *db, brokers=False)

    # retry
    fails(1, "samsa outbox retry: row 1 is INIT, not DEAD; only DEAD rows are re-queued", "outbox", "retry", "1",
          *db, brokers=False)
    fails(3, "samsa outbox retry: no outbox row 42 in %s" % url.replace(":secret", ""), "outbox", "retry", "42",
          *db, brokers=False)
    fails(2, "samsa outbox retry: which rows? give row ids or --all", "outbox", "retry", *db, brokers=False)
    check_eq(ok("outbox", "retry", "4", *db, brokers=False), "row 4 re-queued\n", "%s: retry 4" % label)
    row = sql("SELECT status, attempts, last_error FROM samsa_outbox WHERE id = 4", ())[0]
    check_eq(tuple(row), ("INIT", 0, "Broker: Message size too large"),
             "%s: row 4: INIT, attempts 0 (the old error kept until the next attempt)" % label)
    due = sql("SELECT %s FROM samsa_outbox WHERE id = 4" % (
        "next_attempt_at <= now()" if url.startswith("postgres") else
        "next_attempt_at <= CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)"), ())[0][0]
    check(bool(due), "%s: and due now" % label)
    sql("UPDATE samsa_outbox SET status = 'DEAD' WHERE id IN (1, 4, 5)", ())
    check_eq(ok("outbox", "retry", "--all", "--topic", "payments", *db, brokers=False),
             "2 DEAD rows re-queued for topic payments\n", "%s: retry --all --topic" % label)
    j = js("outbox", "retry", "--all", *db, brokers=False)
    check_eq(j, {"requeued": 1, "ids": []}, "%s: retry --all: the one left" % label)
    check_eq(js("outbox", "status", *db, brokers=False)["counts"]["DEAD"], 0, "%s: no DEAD rows left" % label)


def test_outbox_display():
    """How `samsa outbox` shows what rows hold (SQLite, rows made by SQL):
    ages in seconds, minutes, hours and days; keys, errors and payloads with
    control characters and bytes that are not UTF-8 escaped as \\xNN, multi-byte
    characters kept, long keys and errors cut with "..."; a NULL payload;
    non-UTF-8 payloads as payload_base64 in JSON; a retry waiting, a COMPLETE
    row, an archived one."""
    path = os.path.join(tmp, "display.db")
    ok("outbox", "init", "--db", "sqlite:" + path, brokers=False)
    con = sqlite3.connect(path, isolation_level=None)
    now = int(time.time() * 1000)
    day, hour, minute = 86400000, 3600000, 60000
    err120 = "E" * 120
    # schema v2 assigns ids: these five rows are 1..5 in a fresh file
    con.execute("INSERT INTO samsa_outbox (topic, key, payload, created_at) VALUES"
                " ('t', CAST(x'6b01c3a9ff' AS TEXT), NULL, ?)", (now - 3 * day - 2 * hour - 5 * minute,))
    con.execute("INSERT INTO samsa_outbox (topic, key, payload, created_at, attempts, next_attempt_at)"
                " VALUES ('t', 'k2', x'ff00', ?, 2, ?)", (now - 5 * minute - 7000, now + hour))
    con.execute("INSERT INTO samsa_outbox (topic, key, payload, created_at, status, kafka_partition,"
                " kafka_offset, published_at) VALUES ('t', 'k3', 'p', ?, 'COMPLETE', 0, 9, ?)",
                (now - 2 * hour - 3 * minute - 500, now - hour))
    con.execute("INSERT INTO samsa_outbox (topic, key, payload, status, attempts, last_error) VALUES"
                " ('t', 'k4', 'p', 'DEAD', 10, ?)", (err120,))
    con.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES ('t', ?, 'p')", ("x" * 60,))
    con.execute("INSERT INTO samsa_outbox_archive (id, event_id, topic, key, payload, created_at, status, attempts,"
                " next_attempt_at, archived_at) VALUES (6, '00000000-0000-4000-8000-000000000006', 't', 'k6', 'p', ?,"
                " 'COMPLETE', 0, ?, ?)", (now - day, now - day, now - 1000))
    db = ["--db", "sqlite:" + path]
    text = ok("outbox", "status", *db, brokers=False)
    check("\noldest unpublished: 3 d 2 h (row 1)\n" in text, "status: the oldest unpublished row's age in days "
          "and hours", text)
    show1 = ok("outbox", "show", "1", *db, brokers=False)
    check("\nkey:              k\\x01\u00e9\\xff\n" in show1, "show: a key's control character and stray byte "
          "escaped, its é kept", show1)
    check("(3 d 2 h ago)" in show1 and "\nPayload: NULL\n" in show1, "show: '3 d 2 h ago', a NULL payload", show1)
    show2 = ok("outbox", "show", "2", *db, brokers=False)
    check(re.search(r"\(5 min [78] s ago\)", show2) and "2 attempts failed" in show2
          and "next attempt (waiting for a retry)" in show2 and "\nPayload (2 bytes):\n  \\xff\\x00\n" in show2,
          "show: '5 min 7 s ago', 2 attempts failed, a retry waiting, the payload's bytes escaped", show2)
    show3 = ok("outbox", "show", "3", *db, brokers=False)
    check("(2 h 3 min ago)" in show3 and "published to t [0] at offset 9" in show3
          and "COMPLETE: consumed by every tracked group" in show3,
          "show: '2 h 3 min ago', where it was published, COMPLETE", show3)
    show6 = ok("outbox", "show", "6", *db, brokers=False)
    check("status:           COMPLETE (archived)" in show6 and "  archived\n" in show6,
          "show of an archived row: marked archived, with the time", show6)
    j2 = js("outbox", "show", "2", *db, brokers=False)
    check_eq((j2["payload"], j2["payload_base64"]), (None, "/wA="), "show --output json: a non-UTF-8 payload as "
             "payload_base64")
    lst = ok("outbox", "list", *db, brokers=False)
    check(re.search(r"^ 5  INIT\s+t\s+%s\.\.\.\s" % ("x" * 40), lst, re.M), "list: a 60-character key cut to 40 "
          "and '...'", lst)
    check(re.search(r"^ 4  DEAD .* %s\.\.\.$" % ("E" * 50), lst, re.M), "list: a 120-character error cut to 50 "
          "and '...'", lst)
    dead = ok("outbox", "dead", *db, brokers=False)
    check(re.search(r"^ 4  DEAD .* %s$" % ("E" * 120), dead, re.M), "dead: the error whole (up to 200 characters)",
          dead)
    con.close()


def test_outbox_sqlite():
    path = os.path.join(tmp, "outbox.db")
    con = sqlite3.connect(path, isolation_level=None)

    def sql(stmt, args):
        return con.execute(stmt, args).fetchall()
    missing = os.path.join(tmp, "missing.db")
    fails(3, "samsa outbox status: sqlite:%s: no such file" % missing, "outbox", "status", "--db",
          "sqlite:" + missing, brokers=False)
    check(not os.path.exists(missing), "a missing SQLite file is not created")
    empty = os.path.join(tmp, "empty.db")
    sqlite3.connect(empty).execute("CREATE TABLE other (x)")
    fails(3, "samsa outbox list: sqlite:%s has no samsa_outbox table (create it with 'samsa outbox init' or "
          "'samsa-relay --init-schema')" % empty, "outbox", "list", "--db", "sqlite:" + empty, brokers=False)
    fails(2, "samsa outbox status: --db 'mysql://x': expected sqlite:PATH or a postgresql:// URL",
          "outbox", "status", "--db", "mysql://x", brokers=False)
    fails(2, "samsa outbox status: which outbox database? give --db sqlite:PATH or --db postgresql://... "
          "(or set SAMSA_OUTBOX_DB)", "outbox", "status", brokers=False)
    outbox_flow("sqlite:" + path, sql, "sqlite")
    try:
        sql("INSERT INTO samsa_outbox (id, topic, key, payload) VALUES (-7, 'orders', 'x', 'p')", ())
        refused = None
    except sqlite3.IntegrityError as e:
        refused = str(e)
    check(refused and "assigned by the database" in refused, "sqlite: an explicit id is refused", refused)
    st = js("outbox", "status", brokers=False, env={"SAMSA_OUTBOX_DB": "sqlite:" + path})
    check_eq(st["db"], "sqlite:" + path, "SAMSA_OUTBOX_DB is the default --db")
    mode = con.execute("PRAGMA journal_mode").fetchone()[0]
    check_eq(mode, "delete", "the command never changed the database's journal mode")
    # the archive: show finds a row the relay's cleanup moved there
    cols = ("id, event_id, topic, key, type, payload, headers, created_at, status, attempts,"
            " next_attempt_at, last_error, kafka_partition, kafka_offset, published_at, kafka_incarnation")
    con.execute("INSERT INTO samsa_outbox_archive (%s, archived_at) SELECT %s, 1700000000000"
                " FROM samsa_outbox WHERE id = 3" % (cols, cols))
    con.execute("DELETE FROM samsa_outbox WHERE id = 3")
    s = js("outbox", "show", "3", "--db", "sqlite:" + path, brokers=False)
    check_eq((s["id"], s["status"], s["archived_at"]), (3, "COMPLETE", "2023-11-14T22:13:20.000Z"),
             "show finds an archived row")
    con.close()


def unclaimable_rows(url, sql):
    """INIT rows the relay never claims (id <= 0, written before schema v2
    refused explicit ids; the owner can still force one) are shown by status
    and list, with why."""
    import psycopg2
    try:
        sql("INSERT INTO samsa_outbox (id, topic, key, payload) VALUES (-7, 'orders', 'x', 'p')", ())
        refused = None
    except psycopg2.Error as e:
        refused = str(e)
    check(refused and "GENERATED ALWAYS" in refused, "postgresql: an explicit id is refused", refused)
    sql("INSERT INTO samsa_outbox (id, topic, key, payload) OVERRIDING SYSTEM VALUE"
        " VALUES (-7, 'orders', 'x', 'p'), (0, 'orders', 'y', 'p')", ())
    db = ["--db", url]
    st = js("outbox", "status", *db, brokers=False)
    check_eq((st["unclaimable"]["count"], st["unclaimable"]["first_id"], st["oldest_unpublished_id"]), (2, -7, -7),
             "status (json): 2 INIT rows the relay never claims, the first -7, and -7 is the oldest unpublished")
    text = ok("outbox", "status", *db, brokers=False)
    check("never claimed: 2 INIT rows with id <= 0 (explicit ids; the relay claims ids above 0), first row -7"
          in text and "(row -7)" in text, "status (table) says so, with the row", text)
    rows = js("outbox", "list", *db, "-s", "INIT", brokers=False)
    never = {r["id"]: r.get("unclaimable") for r in rows if r["id"] <= 0}
    check(sorted(never) == [-7, 0] and all(v and "id <= 0" in v for v in never.values()),
          "list -s INIT (json): both rows, each with why", rows)
    text = ok("outbox", "list", *db, "-s", "INIT", brokers=False)
    check(re.search(r"^ *-7 +INIT .*never claimed by the relay: id <= 0", text, re.M),
          "list -s INIT (table): row -7 and why", text)
    sql("DELETE FROM samsa_outbox WHERE id <= 0", ())


def retry_notifies(url, sql, plain_url):
    """samsa outbox retry wakes an idle relay: a NOTIFY on samsa_outbox
    (a LISTENing connection gets it), for ids and for --all."""
    import select
    import psycopg2
    lc = psycopg2.connect(plain_url)
    lc.autocommit = True
    lc.cursor().execute("LISTEN samsa_outbox")
    try:
        def heard():
            if select.select([lc], [], [], 0.05)[0]:
                lc.poll()
            got = [n.channel for n in lc.notifies]
            del lc.notifies[:]
            return got
        heard()
        rid = sql("INSERT INTO samsa_outbox (topic, key, payload, status) VALUES ('orders', 'n', 'p', 'DEAD')"
                  " RETURNING id", ())[0][0]
        heard()
        ok("outbox", "retry", str(rid), "--db", url, brokers=False)
        check_eq(wait_for(heard, 10, "a notification after retry"), ["samsa_outbox"],
                 "retry ID notifies samsa_outbox (the relay wakes at once)")
        sql("UPDATE samsa_outbox SET status = 'DEAD' WHERE id = %s", (rid,))
        heard()
        ok("outbox", "retry", "--all", "--db", url, brokers=False)
        check_eq(wait_for(heard, 10, "a notification after retry --all"), ["samsa_outbox"],
                 "retry --all notifies samsa_outbox")
        sql("DELETE FROM samsa_outbox WHERE id = %s", (rid,))
    finally:
        lc.close()


def test_outbox_postgres():
    import pg as pgmod
    import psycopg2
    try:
        server = pgmod.Postgres().start()
    except pgmod.Unavailable as e:   # no PostgreSQL server on this machine: skipped, never a pass
        skip("PostgreSQL unavailable: %s" % e)
    try:
        url = server.url.replace("postgresql://samsa@", "postgresql://samsa:secret@")
        con = psycopg2.connect(server.url)
        con.autocommit = True

        def sql(stmt, args):
            cur = con.cursor()
            cur.execute(stmt, args)
            return cur.fetchall() if cur.description else []
        outbox_flow(url, sql, "postgresql")
        text = ok("outbox", "status", "--db", url, brokers=False)
        check("secret" not in text, "the password never appears in the output")
        unclaimable_rows(url, sql)
        retry_notifies(url, sql, server.url)
        con.close()
    finally:
        server.cleanup()


def test_outbox_relay():
    if not RELAY:
        skip("no --relay given (samsa-relay not built)")
    import relay_harness
    path = os.path.join(tmp, "relay.db")
    db = ["--db", "sqlite:" + path]
    t = unique("ob")
    ok("topic", "create", t, "-p", "2")
    ok("topic", "create", t + ".DLT", "-p", "1")
    ok("outbox", "init", *db, brokers=False)
    events = [js("outbox", "enqueue", *db, "-t", t, "-k", "k%d" % (i % 3), "v%d" % i, brokers=False)
              for i in range(6)]
    big = os.path.join(tmp, "big.bin")
    with open(big, "wb") as f:
        f.write(b"B" * 150000)   # over this broker's message.max.bytes
    dead = js("outbox", "enqueue", *db, "-t", t, "-k", "poison", "-f", big, brokers=False)
    relay = relay_harness.Relay({"outbox.db": "sqlite:" + path, "bootstrap.servers": broker.bootstrap,
                                 "max.attempts": 2, "retry.backoff.ms": 100, "retry.backoff.max.ms": 200,
                                 "poll.interval.ms": 10}, binary=RELAY, name="cli-relay", workdir=tmp)
    try:
        relay.start()
        wait_for(lambda: js("outbox", "status", *db, brokers=False)["counts"] ==
                 {"INIT": 0, "PUBLISHED": 6, "COMPLETE": 0, "DEAD": 1}, 60, "6 PUBLISHED and 1 DEAD", 0.3)
        recs = [json.loads(x) for x in ok("consume", t, "--from-beginning", "-e", "-f", "json").splitlines()]
        by_event = {}
        for r in recs:
            h = {x["key"]: x["value"] for x in r["headers"]}
            by_event[h["samsa.event_id"]] = r
        check_eq(len(by_event), 6, "samsa consume finds the 6 published records with their samsa.event_id")
        for e in events:
            s = js("outbox", "show", e["event_id"], *db, brokers=False)
            r = by_event[e["event_id"]]
            check_eq((s["status"], s["partition"], s["offset"], s["payload"]),
                     ("PUBLISHED", r["partition"], r["offset"], r["value"]),
                     "row %d: show says where consume found it" % e["id"])
        d = js("outbox", "dead", *db, brokers=False)
        check_eq([(x["id"], x["attempts"]) for x in d], [(dead["id"], 2)], "dead: the poison row after 2 attempts")
        check("too large" in (d[0]["last_error"] or "").lower(), "with the broker's error", d[0]["last_error"])
        check_eq(ok("outbox", "retry", str(dead["id"]), *db, brokers=False), "row %d re-queued\n" % dead["id"],
                 "retry the poison row")
        # the relay tries it again (attempts climb from 0) and it dies again
        wait_for(lambda: (lambda r: r if r["status"] == "DEAD" and r["attempts"] == 2 else None)(
            js("outbox", "show", str(dead["id"]), *db, brokers=False)), 60, "the row DEAD again", 0.3)
        check_eq(relay.stop(), 0, "the relay stops cleanly")
        check_eq(relay.sanitizer_reports(), [], "and without a sanitizer report")
    finally:
        relay.kill9()


def main():
    try:
        broker.start()
        tests = [test_usage, test_arguments, test_unreachable, test_topics, test_produce, test_consume, test_groups,
                 test_cluster_info, test_cluster_info_bad_peer, test_progress, test_completion, test_outbox_display, test_outbox_sqlite, test_outbox_postgres,
                 test_outbox_relay]
        rc = run_tests(tests, [broker])
        return broker.finish(rc)
    finally:
        broker.cleanup()
        if os.environ.get("SAMSA_KEEP_TMP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
