#!/usr/bin/python3
"""The differential suite: the same client code against Apache Kafka and
samsa-broker, what the client observes compared.

  driver.py --family FAMILY [--broker BIN] [--scenarios a,b] [--kafka-bootstrap H:P]

For one client family (FAMILIES below) it starts one Apache Kafka (1 node,
tests/compat/kafka_cluster.py) and one samsa-broker with the same settings,
runs the family's runner against both at once (each prints one JSON line per
scenario: what it observed, normalized; see runners/py_runner.py), and
compares them scenario by scenario, path by path. Every difference must be
one that tests/compat/expected.py lists for this family and scenario, with
the values seen on each side, and each listed difference must show up (one
that no longer does is a failure: fixed? then take it out of expected.py and
docs/compatibility.md). Each listed difference has an id that
docs/compatibility.md explains. --kafka-bootstrap uses a Kafka already
running (scripts/kafka.sh start) instead of starting one.

Scenario names: the runners' own (py_runner.NAMES and the others'); a
scenario a client has no API for is "unsupported" on both sides (said, not
compared). The family's clients come from tests/compat/setup_clients.py (the
compat.setup fixture): a missing one fails here, naming that step.
"""

import argparse
import fnmatch
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, HERE)
import harness  # noqa: E402
from harness import check, check_eq  # noqa: E402
import kafka_cluster  # noqa: E402
import expected  # noqa: E402

COMPAT_BUILD = os.environ.get("SAMSA_COMPAT_BUILD", os.path.join(REPO, "build-compat"))
VENV_PY = os.path.join(COMPAT_BUILD, "venv", "bin", "python")
RUNNERS = os.path.join(HERE, "runners")

# The settings both brokers get (Kafka's names); KAFKA_ONLY keeps a one-node
# Kafka light (samsa-broker has no internal topics).
COMMON_PROPS = {"auto.create.topics.enable": "false", "group.initial.rebalance.delay.ms": "0",
                "group.min.session.timeout.ms": "1000", "num.partitions": "1"}
KAFKA_ONLY = {"offsets.topic.num.partitions": "1", "transaction.state.log.num.partitions": "1",
              "share.coordinator.state.topic.num.partitions": "1"}


def family_cmd(family):
    """The runner's command line (without --bootstrap/--prefix/--scenarios),
    and a note when its client is missing."""
    py = os.path.join(RUNNERS, "py_runner.py")
    if family == "rdkafka-debian":
        return ["/usr/bin/python3", py, "--client", "confluent"], None
    if family == "rdkafka-pypi":
        return [VENV_PY, py, "--client", "confluent"], None if os.path.exists(VENV_PY) else "no venv"
    if family == "kafka-python":
        return [VENV_PY, py, "--client", "kafka-python"], None if os.path.exists(VENV_PY) else "no venv"
    if family == "java":
        cp = os.path.join(COMPAT_BUILD, "java", "classpath.txt")
        if not os.path.exists(cp):
            return None, "no %s" % cp
        with open(cp) as f:
            classpath = f.read().strip()
        return [kafka_cluster.java_binary(), "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", classpath,
                "dev.samsa.compat.Runner"], None
    if family in ("franz-go", "sarama"):
        exe = os.path.join(COMPAT_BUILD, "go", "compat-runner")
        return [exe, "--client", family], None if os.path.exists(exe) else "no %s" % exe
    if family == "kafkajs":
        return ["node", os.path.join(RUNNERS, "kafkajs_runner.js")], None
    if family == "wire":
        return ["/usr/bin/python3", os.path.join(RUNNERS, "wire_runner.py")], None
    raise SystemExit("unknown family %s" % family)


FAMILIES = ["java", "rdkafka-debian", "rdkafka-pypi", "kafka-python", "kafkajs", "franz-go", "sarama", "wire"]


def run_runner(cmd, bootstrap, prefix, scenarios, log_path, timeout):
    """Runs the runner; returns {scenario: line dict}."""
    args = cmd + ["--bootstrap", bootstrap, "--prefix", prefix]
    if scenarios:
        args += ["--scenarios", ",".join(scenarios)]
    with open(log_path, "wb") as err:
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                             cwd=RUNNERS, preexec_fn=harness._die_with_parent)
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
    res = {}
    for line in out.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if "scenario" in d:
            res[d["scenario"]] = d
    res["__exit__"] = p.returncode
    return res


def flatten(v, path="", out=None):
    """Nested dicts to {dotted path: leaf}; lists stay leaves."""
    out = {} if out is None else out
    if isinstance(v, dict):
        for k in sorted(v):
            flatten(v[k], "%s.%s" % (path, k) if path else str(k), out)
    else:
        out[path] = v
    return out


def normalize(v, prefix):
    """The run's name prefix out of every string."""
    if isinstance(v, str):
        return v.replace(prefix, "<p>")
    if isinstance(v, list):
        return [normalize(x, prefix) for x in v]
    if isinstance(v, dict):
        return {normalize(k, prefix): normalize(x, prefix) for k, x in v.items()}
    return v


def side(d):
    """What one side shows for a scenario: its observations, flattened, or
    an 'error'/'unsupported' leaf."""
    if d is None:
        return {"<no output>": True}
    if "obs" in d:
        return flatten(d["obs"])
    if "unsupported" in d:
        return {"<unsupported>": d["unsupported"]}
    return {"<error>": d.get("error")}


def compare(family, scen, k, s):
    """(matched expected diffs, unexpected differences [(path, kafka, samsa)])."""
    paths = sorted(set(k) | set(s))
    seen = set()
    bad = []
    for p in paths:
        kv, sv = k.get(p, "<absent>"), s.get(p, "<absent>")
        if kv == sv:
            continue
        d = expected.match(family, scen, p, kv, sv)
        if d:
            seen.add(d.id)
        else:
            bad.append((p, kv, sv))
    return seen, bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--family", required=True, choices=FAMILIES)
    ap.add_argument("--broker", default=os.environ.get("SAMSA_BROKER_BIN"))
    ap.add_argument("--scenarios", default="")
    ap.add_argument("--kafka-bootstrap", default="")
    ap.add_argument("--timeout", type=float, default=900)
    o = ap.parse_args()
    family = o.family
    scenarios = [s for s in o.scenarios.split(",") if s]
    with open(os.path.join(REPO, "docs", "compatibility.md")) as f:
        doc = f.read()
    missing_ids = [d.id for d in expected.DIFFS if "| %s |" % d.id not in doc]
    if missing_ids:
        print("FAIL: docs/compatibility.md has no row for the expected difference(s) %s" % ", ".join(missing_ids))
        return 1
    cmd, missing = family_cmd(family)
    if missing:
        print("FAIL: the %s runner is not set up (%s): the compat.setup fixture (tests/compat/setup_clients.py) "
              "installs it" % (family, missing))
        return 1

    samsa = harness.Broker(binary=o.broker, overrides=COMMON_PROPS, name="samsa-compat-" + family)
    kafka = None
    t0 = time.monotonic()
    try:
        samsa.start()
        if o.kafka_bootstrap:
            kafka_bs = o.kafka_bootstrap
            warm_up(kafka_bs)
        else:
            kafka = kafka_cluster.KafkaCluster(nodes=1, props=dict(COMMON_PROPS, **KAFKA_ONLY))
            kafka.start(timeout=180, log=lambda s: print(s, flush=True))
            kafka_bs = kafka.bootstrap
        warm_up(kafka_bs)
        print("MEASURED brokers ready in %.1fs: Apache Kafka %s at %s, samsa-broker pid %d at %s"
              % (time.monotonic() - t0, kafka_cluster.kafka_version(), kafka_bs, samsa.pid, samsa.bootstrap),
              flush=True)
        prefix = "cx%d" % (int(time.time() * 1000) % 100000000)
        results = {}
        logs = {"kafka": os.path.join(samsa.dir, "runner-kafka.err"),
                "samsa": os.path.join(samsa.dir, "runner-samsa.err")}

        def go(name, bs):
            results[name] = run_runner(cmd, bs, prefix, scenarios, logs[name], o.timeout)

        t1 = time.monotonic()
        ths = [threading.Thread(target=go, args=("kafka", kafka_bs)),
               threading.Thread(target=go, args=("samsa", samsa.bootstrap))]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        print("MEASURED the %s runner took %.1fs (both brokers at once)" % (family, time.monotonic() - t1),
              flush=True)
        rk, rs = results["kafka"], results["samsa"]
        names = scenarios or [n for n in rk if n != "__exit__"] or [n for n in rs if n != "__exit__"]

        def test_family():
            check(bool(names), "the %s runner reported scenarios (exit codes: kafka %s, samsa %s)"
                  % (family, rk.get("__exit__"), rs.get("__exit__")),
                  "no output; its stderr: %s" % _tail(logs["kafka"]))
            counts = {"same": 0, "expected": 0, "unsupported": 0}
            fails = []
            for scen in names:
                dk, ds = rk.get(scen), rs.get(scen)
                k = side(normalize(dk, prefix) if dk else None)
                s = side(normalize(ds, prefix) if ds else None)
                secs = "kafka %.1fs, samsa %.1fs" % ((dk or {}).get("seconds", -1), (ds or {}).get("seconds", -1))
                if "<unsupported>" in k and k == s:
                    counts["unsupported"] += 1
                    print("  -- %s: unsupported by this client (%s)" % (scen, k["<unsupported>"]), flush=True)
                    continue
                if "<error>" in k and not expected.match(family, scen, "<error>", k["<error>"],
                                                         s.get("<error>", "<absent>")):
                    fails.append("%s: the scenario failed against Apache Kafka: %s" % (scen, k["<error>"]))
                    continue
                seen, bad = compare(family, scen, k, s)
                want = {d.id for d in expected.applicable(family, scen)}
                stale = sorted(want - seen)
                if bad:
                    fails.append("%s: %d unexpected difference(s):\n%s" % (scen, len(bad), "\n".join(
                        "      %s: kafka %s, samsa %s" % (p, json.dumps(kv, default=str), json.dumps(sv, default=str))
                        for p, kv, sv in bad)))
                if stale:
                    fails.append("%s: expected difference(s) %s not seen any more (fixed? update "
                                 "tests/compat/expected.py and docs/compatibility.md)" % (scen, ", ".join(stale)))
                if not bad and not stale:
                    if seen:
                        counts["expected"] += 1
                        print("  ok: %s: the documented difference(s) %s, the rest the same (%s)"
                              % (scen, ", ".join(sorted(seen)), secs), flush=True)
                    else:
                        counts["same"] += 1
                        print("  ok: %s: the same on both (%d observations; %s)" % (scen, len(k), secs), flush=True)
            print("SUMMARY %s: %d scenarios: %d the same, %d with documented differences, %d unsupported, %d failing"
                  % (family, len(names), counts["same"], counts["expected"], counts["unsupported"], len(fails)),
                  flush=True)
            check(not fails, "%s: every scenario the same on Apache Kafka and samsa-broker, or different only "
                  "as docs/compatibility.md says" % family, "\n  " + "\n  ".join(fails))

        rc = harness.run_tests([test_family], [samsa])
        if rc != 0:
            lines = [l for l in samsa.log_text().splitlines() if prefix in l and " group " in l]
            print("samsa-broker's log about the run's groups (last 150 of %d lines):\n%s"
                  % (len(lines), "\n".join("  | " + l for l in lines[-150:])), flush=True)
            print("runner stderr (kafka side), tail:\n%s\nrunner stderr (samsa side), tail:\n%s"
                  % (_tail(logs["kafka"]), _tail(logs["samsa"])), flush=True)
        return samsa.finish(rc)
    finally:
        if kafka is not None:
            kafka.cleanup()
        samsa.cleanup()


def warm_up(bootstrap):
    """Has Apache Kafka's group coordinator ready before the runners start:
    a fresh Kafka creates __consumer_offsets and loads it on the first
    FindCoordinator (NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE until
    then, which raw frames do not retry), so every family sees the same
    Kafka whatever order its scenarios run in. One offset commit of a
    throwaway group, tried until it succeeds."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
    t = "samsa-compat-warmup"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        admin.create_topics([NewTopic(t, 1, 1)])[t].result(60)
    except KafkaException as e:
        if e.args[0].code() != 36:   # TOPIC_ALREADY_EXISTS: a Kafka already warmed up
            raise
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "samsa-compat-warmup", "enable.auto.commit": False})
    try:
        def committed():
            try:
                c.commit(offsets=[TopicPartition(t, 0, 0)], asynchronous=False)
                return True
            except KafkaException:
                return False
        harness.wait_for(committed, 120, "a first offset commit on Apache Kafka", interval=0.2)
    finally:
        c.close()


def _tail(path, n=40):
    try:
        with open(path, "rb") as f:
            lines = [l for l in f.read().decode("utf-8", "replace").splitlines() if not l.startswith("%7|")]
        return "\n".join("  | " + l for l in lines[-n:])
    except OSError:
        return "  (none)"


if __name__ == "__main__":
    sys.exit(main())
