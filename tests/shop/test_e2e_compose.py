#!/usr/bin/python3
"""The production shape (examples/shop/docker-compose.yml + Dockerfile),
checked as far as a machine without Docker can: it cannot run here, so this
test reads it and holds it to docs/production.md and to the real binaries.

  - the YAML parses (python3-yaml);
  - Apache Kafka in KRaft mode: 3 brokers, each broker and controller, a
    3-voter quorum, replication factor 3, min.insync.replicas 2, no topic
    auto-creation; the topics are created with -r 3 and
    min.insync.replicas=2;
  - PostgreSQL with one database per service (config/postgres-init.sql);
  - the six services and three relays: each on a postgresql:// URL of its
    own database, every service flag one the real binary's --help lists,
    every relay --override a property samsa-relay --help lists, the tracked
    groups those of docs/shop.md;
  - the Dockerfile builds every binary the compose file runs;
  - the Kafka image is the version tests/production runs on loopback
    (scripts/kafka/pom.xml), and docs/production.md says that the compose
    file itself has not been started here and points to tests/production.
"""
# ctest-timeout: 120

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shop_harness as sh  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "compat"))
import kafka_cluster  # noqa: E402
KAFKA_VERSION = kafka_cluster.kafka_version()
import harness  # noqa: E402
from shop_harness import check, check_eq  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SHOP = os.path.join(ROOT, "examples", "shop")
SERVICES = {"orders": 8081, "stock": 8082, "sink": 8083, "receiver": 8089, "reservations": 8084, "rooms": 8085}
RELAYS = {"relay-orders": ("orders", {"shop-stock:shop.orders", "shop-sink:shop.payments"}),
          "relay-reservations": ("reservations", {"shop-rooms:shop.rooms"}),
          "relay-rooms": ("rooms", {"shop-reservations:shop.reservation-results"})}


def load():
    import yaml
    with open(os.path.join(SHOP, "docker-compose.yml")) as f:
        return yaml.safe_load(f)


def help_text(binary):
    r = subprocess.run([binary, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    return r.stdout.decode("utf-8", "replace")


def test_kafka_and_postgres():
    c = load()
    check(isinstance(c, dict) and "services" in c, "docker-compose.yml parses")
    svc = c["services"]
    kafkas = sorted(n for n in svc if re.fullmatch(r"kafka[0-9]+", n))
    check_eq(kafkas, ["kafka1", "kafka2", "kafka3"], "three Kafka brokers")
    ids = set()
    for n in kafkas:
        k = svc[n]
        env = {key: str(v) for key, v in k["environment"].items()}
        check_eq(k["image"], "apache/kafka:" + KAFKA_VERSION,
                 "%s runs the Apache Kafka that tests/production runs on loopback (scripts/kafka/pom.xml)" % n)
        check_eq(env["KAFKA_PROCESS_ROLES"], "broker,controller", "%s: KRaft, broker and controller" % n)
        check_eq(len(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")), 3, "%s: a quorum of 3 voters" % n)
        check_eq(env["KAFKA_DEFAULT_REPLICATION_FACTOR"], "3", "%s: replication factor 3" % n)
        check_eq(env["KAFKA_MIN_INSYNC_REPLICAS"], "2", "%s: min.insync.replicas 2" % n)
        check_eq(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"], "3", "%s: committed offsets replicated 3 times" % n)
        check_eq(env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"], "false", "%s: no topic auto-creation" % n)
        check(n in env["KAFKA_ADVERTISED_LISTENERS"], "%s advertises its own name" % n)
        ids.add(env["KAFKA_NODE_ID"])
    check_eq(len(ids), 3, "three distinct node ids")
    cmd = svc["topics"]["command"]
    check(cmd[0] == "samsa" and "-r" in cmd and cmd[cmd.index("-r") + 1] == "3", "topics created with -r 3")
    check("min.insync.replicas=2" in cmd, "topics created with min.insync.replicas=2")
    check_eq(set(sh.TOPICS) - set(cmd), set(), "all four shop topics created")
    check("postgres" in svc and svc["postgres"]["image"].startswith("postgres:"), "a PostgreSQL service")
    with open(os.path.join(SHOP, "config", "postgres-init.sql")) as f:
        dbs = set(re.findall(r"CREATE DATABASE ([a-z_]+);", f.read()))
    check_eq(dbs, set(SERVICES), "postgres-init.sql creates one database per service")


def test_services_and_relays_match_the_binaries():
    svc = load()["services"]
    for name, port in SERVICES.items():
        cmd = svc[name]["command"]
        check_eq(cmd[0], "shop-" + name, "%s runs shop-%s" % (name, name))
        db = cmd[cmd.index("--db") + 1]
        check(db.startswith("postgresql://") and db.endswith("/" + name), "%s on its own PostgreSQL database" % name, db)
        check_eq(cmd[cmd.index("--listen") + 1], "0.0.0.0:%d" % port, "%s listens on docs/shop.md's port" % name)
        check_eq(cmd[cmd.index("--brokers") + 1].count("kafka"), 3, "%s bootstraps from the three brokers" % name)
        text = help_text(sh.shop_binary(name))
        flags = [a for a in cmd[1:] if a.startswith("--")]
        unknown = [f for f in flags if f not in text]
        check(not unknown, "every flag of %s is one shop-%s --help lists" % (name, name), unknown)
    relay_help = help_text(os.environ["SAMSA_RELAY_BIN"])
    for name, (db, groups) in RELAYS.items():
        cmd = svc[name]["command"]
        check_eq(cmd[0], "samsa-relay", "%s runs samsa-relay" % name)
        props = dict(cmd[i + 1].split("=", 1) for i in range(len(cmd)) if cmd[i] == "--override")
        check(props["outbox.db"].startswith("postgresql://") and props["outbox.db"].endswith("/" + db),
              "%s reads the outbox of %s's database" % (name, db))
        unknown = [k for k in props if k not in relay_help]
        check(not unknown, "every property of %s is one samsa-relay --help lists" % name, unknown)
        check_eq(set(props["track.groups"].split(",")), groups, "%s tracks docs/shop.md's groups" % name)
    check(svc["relay-orders"].get("deploy", {}).get("replicas", 1) >= 2,
          "the orders relay runs twice (relays share a PostgreSQL outbox)")
    load_cmd = svc["load"]["entrypoint"]
    check_eq(load_cmd[0], "shop-load", "the load profile runs shop-load")
    text = help_text(sh.shop_binary("load"))
    unknown = [a for a in load_cmd[1:] + svc["load"]["command"] if a.startswith("--") and a not in text]
    check(not unknown, "every shop-load flag is one shop-load --help lists", unknown)


def test_dockerfile_and_docs():
    with open(os.path.join(SHOP, "Dockerfile")) as f:
        df = f.read()
    svc = load()["services"]
    used = {s["command"][0] for n, s in svc.items()
            if s.get("image") == "samsa-shop:latest" and n not in ("image", "load")} | {svc["load"]["entrypoint"][0]}
    target = {"samsa": "samsa-cli"}   # the CMake target of the samsa CLI
    joined = df.replace("\\\n", " ")   # continuation lines joined
    line = next((l for l in joined.splitlines() if "--target" in l), "")
    built = set(line.split("--target", 1)[1].split()) if line else set()
    missing = [u for u in used if target.get(u, u) not in built]
    check(not missing, "the Dockerfile builds every binary the compose file runs (%s)" % sorted(used), missing)
    check("FROM debian:12" in df, "built on Debian 12, as our machines")
    with open(os.path.join(ROOT, "docs", "production.md")) as f:
        doc = " ".join(f.read().split())   # lines joined
    check("docker-compose.yml" in doc and "tests/production" in doc and "not been started" in doc,
          "docs/production.md names the compose file, says it has not been started here (no Docker) and "
          "points to tests/production, which runs the same shape on loopback")


if __name__ == "__main__":
    sys.exit(harness.run_tests([test_kafka_and_postgres, test_services_and_relays_match_the_binaries,
                                test_dockerfile_and_docs]))
