#!/usr/bin/env bash
# bench/production.sh: the production shape (docs/production.md), run and
# measured. Builds a Release tree, then starts a 3-node Apache Kafka on
# loopback with docs/production.md's settings (tests/compat/kafka_cluster.py:
# RF 3, min.insync.replicas=2, auto.create.topics.enable=false, unclean
# leader election off) and the whole shop on PostgreSQL against it (six
# services, three relays producing with acks=all and the idempotent
# producer; topics by `samsa topic create -p 12 -r 3 -c
# min.insync.replicas=2`), and runs two scenarios on it
# (tests/production/production.py, the code production.shop_kafka runs),
# each with shop-load run back to back from before the stop until the node
# is back in every ISR:
#   kill9: the node leading the most partitions SIGKILLed once the orders
#          relay has published 300 rows, started again once its partitions
#          have new leaders;
#   stop:  the same with a clean stop (SIGTERM: Kafka's controlled shutdown).
# Writes the figures (events, shop-load's latencies, the outage's timeline,
# the oldest unpublished row's age, duplicates, the books, outbox states,
# what Kafka holds against the outboxes), shop-load's verbatim output and
# the provenance (bench/provenance.sh) to
# bench/results/<timestamp>-production.md. A benchmark, not a test: it fails
# only when something could not run; the verdicts are in the table.
#
# Environment (defaults in brackets):
#   SAMSA_PROD_ORDERS [2000]         shop-load --orders per shop-load run
#   SAMSA_PROD_RESERVATIONS [200]    shop-load --reservations per shop-load run
#   SAMSA_PROD_CONCURRENCY [8]       shop-load --concurrency
#   SAMSA_BENCH_BUILD [build-bench]  the Release build directory
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${SAMSA_BENCH_BUILD:-$root/build-bench}
. "$root/bench/provenance.sh"
provenance_start

echo "== building a Release tree in $build" >&2
log=$(mktemp)
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release &&
       cmake --build "$build" -j"$(nproc)"; } >"$log" 2>&1; then
    tail -40 "$log" >&2; rm -f "$log"; exit 1
fi
rm -f "$log"
echo "== Apache Kafka's jars (scripts/kafka.sh)" >&2
/usr/bin/python3 "$root/tests/compat/setup_clients.py" kafka >&2

stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$root/bench/results"
out=$root/bench/results/$stamp-production.md
cmdline=""
for v in $(env | grep -o '^SAMSA_PROD_[A-Z_]*' | sort); do
    cmdline="$cmdline$v=${!v} "
done
export PROV_COMMIT PROV_DIRTY PROV_LOAD_BEFORE PROD_ROOT=$root PROD_OUT=$out PROD_STAMP=$stamp \
    PROD_CMD="${cmdline}bench/production.sh" PYTHONDONTWRITEBYTECODE=1
export SAMSA_BROKER_BIN=$build/src/samsa-broker SAMSA_RELAY_BIN=$build/src/samsa-relay \
    SAMSA_CLI_BIN=$build/src/samsa SAMSA_SHOP_BIN_DIR=$build/examples/shop
/usr/bin/python3 - <<'PY'
import os, subprocess, sys

E = os.environ
sys.path.insert(0, os.path.join(E["PROD_ROOT"], "tests", "production"))
import production as prod  # noqa: E402

orders = int(E.get("SAMSA_PROD_ORDERS", "2000"))
reservations = int(E.get("SAMSA_PROD_RESERVATIONS", "200"))
concurrency = int(E.get("SAMSA_PROD_CONCURRENCY", "8"))


def log(s):
    print(s, file=sys.stderr, flush=True)


kafka = prod.start_kafka(log=log)
shop = None
runs = []
try:
    shop = prod.start_shop(kafka)
    for how, seed in (("kill9", 100), ("stop", 200)):
        r = prod.run_scenario(shop, kafka, how, orders, reservations, concurrency=concurrency, seed=seed, log=log)
        r["kafka"] = prod.kafka_contents(shop, kafka)
        r["outbox"] = prod.outbox_states(shop)
        r["books"] = prod.books_verdict(shop)
        runs.append(r)
finally:
    if shop is not None:
        shop.stop()
        shop.cleanup()
    kafka.cleanup()


def cell(r, f):
    try:
        return f(r)
    except (KeyError, IndexError, TypeError):
        return "n/a"


def lat(path, r):
    for l in r["load"]["latency"]:
        if l["path"] == path:
            return "%d / %d / %d" % (l["p50"], l["p99"], l["max"])
    return "n/a"


def delta(r, key):
    return sum(c[key] - r["before"][n][key] for n, c in r["after"].items())


ROWS = [
    ("shop-load runs, back to back (exit codes)", lambda r: "%d (%s)" % (r["load"]["runs"],
                                                                      ", ".join(map(str, r["load"]["rcs"])))),
    ("shop-load runs saying books balanced: yes", lambda r: "%d of %d" % (
        sum(1 for l in r["load"]["last_lines"] if l == "books balanced: yes"), r["load"]["runs"])),
    ("events published / consumed (shop-load, all runs)", lambda r: "%d / %d" % (r["load"]["published"],
                                                                                r["load"]["consumed"])),
    ("load from first start to last end, s", lambda r: "%.1f" % r["load"]["seconds"]),
    ("orders -> shop-stock p50 / p99 / max, ms (worst run)", lambda r: lat("orders -> shop-stock", r)),
    ("payments -> shop-sink -> receiver p50 / p99 / max, ms (worst run)",
     lambda r: lat("payments -> shop-sink -> receiver", r)),
    ("reservation -> rooms -> result p50 / p99 / max, ms (worst run)",
     lambda r: lat("reservation -> rooms -> result", r)),
    ("node stopped (partitions it led of 48)", lambda r: "node %d (%d)" % (r["victim"], r["victim_leads"])),
    ("node down after shop-load's start, s", lambda r: "%.1f" % r["timeline"]["stop_after_load_start"]),
    ("leaders moved off it, s after the stop", lambda r: "%.1f" % r["timeline"]["leaders_moved"]),
    ("node started again, s after the stop", lambda r: "%.1f" % r["timeline"]["restarted"]),
    ("node back in every ISR, s after the stop", lambda r: "%.1f" % r["timeline"]["in_isr"]),
    ("last shop-load run done, s after the stop", lambda r: "%.1f" % r["timeline"]["load_end"]),
    ("oldest unpublished row, max age before / after the stop, s",
     lambda r: "%.1f / %.1f" % (r["age_before"] or 0, r["age_after"] or 0)),
    ("relay retries / producer restarts / dead letters (this scenario)",
     lambda r: "%d / %d / %d" % (delta(r, "retries_total"), delta(r, "producer_restarts_total"),
                                 delta(r, "dead_letters_total"))),
    ("outbox rows so far: COMPLETE / PUBLISHED / INIT / DEAD", lambda r: "%d / %d / %d / %d" % tuple(
        sum(s.get(k, 0) for s in r["outbox"].values()) for k in ("COMPLETE", "PUBLISHED", "INIT", "DEAD"))),
    ("outbox rows missing from Kafka / at another offset / out of key order",
     lambda r: "%d / %d / %d" % (len(r["kafka"]["missing"]), len(r["kafka"]["misplaced"]),
                                 len(r["kafka"]["reordered"]))),
    ("records in Kafka so far / duplicates (published twice)",
     lambda r: "%d / %d" % (r["kafka"]["records"], r["kafka"]["duplicates"])),
    ("records after a higher outbox id of their key so far (orders, reservations, rooms outboxes)",
     lambda r: "%d, %d, %d" % tuple(r["kafka"]["inversions"][k] for k in ("orders", "reservations", "rooms"))),
    ("relays' order_violations_total (orders, reservations, rooms)",
     lambda r: "%d, %d, %d" % tuple(r["after"][k]["order_violations_total"] for k in ("orders", "reservations",
                                                                                       "rooms"))),
    ("inbox duplicates skipped (stock, sink, receiver)",
     lambda r: "%d, %d, %d" % tuple(r["load"]["duplicates"].get(k, 0)
                                    for k in ("shop-stock", "shop-sink", "shop-receiver"))),
    ("books (services' APIs)", lambda r: r["books"]),
]

lines = ["# Production shape: the shop on a 3-node Apache Kafka, a node stopped under load (%s)" % E["PROD_STAMP"],
         "", "Command: `%s`" % E["PROD_CMD"], ""]
prov = subprocess.run(["bash", "-c", '. "$PROD_ROOT/bench/provenance.sh" && provenance_lines'],
                      stdout=subprocess.PIPE, text=True, check=True).stdout
lines += prov.splitlines()
lines += ["- Apache Kafka %s, 3 nodes (broker + controller each) on 127.0.0.1: %s; topics by samsa topic create %s "
          "with %d partitions" % (prod.kafka_cluster.kafka_version(),
                                   ", ".join("%s=%s" % kv for kv in sorted(prod.KAFKA_PROPS.items())),
                                   " ".join(prod.TOPIC_ARGS), prod.PARTITIONS),
          "- the Release shop (six services, three relays: acks=all, idempotent producer) on one PostgreSQL 15; "
          "shop-load --orders %d --reservations %d --concurrency %d a run, run back to back from before the "
          "stop until the node was back in every ISR; both scenarios on the same shop and cluster"
          % (orders, reservations, concurrency),
          "- kill9: the node leading the most partitions SIGKILLed once the orders relay had published 300 rows "
          "of the scenario, started again once no partition named it leader; stop: the same with SIGTERM "
          "(controlled shutdown)", "",
          "| figure | kill9 | stop |", "|---|---|---|"]
for label, f in ROWS:
    lines.append("| %s | %s | %s |" % (label, cell(runs[0], f), cell(runs[1], f) if len(runs) > 1 else "n/a"))
for r in runs:
    for i, one in enumerate(r["runs"], 1):
        lines += ["", "shop-load's output, %s, run %d (seed %d):" % (r["how"], i, one["seed"]), "", "```"]
        lines += one["out"].rstrip("\n").splitlines() + ["```"]
open(E["PROD_OUT"], "w").write("\n".join(lines) + "\n")
print("\n".join(l for l in lines if l.startswith("|") or l.startswith("- ")))
PY
echo "results: bench/results/$stamp-production.md" >&2
