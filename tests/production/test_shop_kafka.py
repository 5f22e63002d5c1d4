#!/usr/bin/python3
"""The production shape, run (docs/production.md, issue 9 item 4): the
whole shop (the six services and three relays of `make run`) on PostgreSQL
against a 3-node Apache Kafka 4.1.1 on loopback (each node broker and
controller) with RF 3, min.insync.replicas=2, no topic auto-creation,
unclean leader election off; the relays produce with acks=all and the
idempotent producer (their own settings); the four topics created by
`samsa topic create -p 12 -r 3 -c min.insync.replicas=2`.

Two runs of the real shop-load on the same shop:
  1. the Kafka node leading the most partitions SIGKILLed mid-run, started
     again once its partitions have new leaders;
  2. the same with a clean stop (SIGTERM: Kafka's controlled shutdown).
Each: shop-load's verdict (exit 0, `books balanced: yes`), the books from
the services' own APIs (shop_harness.check_books), no outbox row DEAD,
every outbox row in its topic with its recorded partition and offset,
per-key order in Kafka, no order violation counted by the relays, every
process still up. MEASURED: events, shop-load's end-to-end latency (p50,
p99, max), how long the stop disturbed publishing (the oldest unpublished
row's age), when leaders moved and the node was back in every ISR, the
duplicates Kafka holds and the inboxes skipped, producer restarts.
"""
# ctest-timeout: 600

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import production as prod  # noqa: E402
import harness  # noqa: E402
import kafka_cluster  # noqa: E402
import shop_harness as sh  # noqa: E402
from harness import check, check_eq  # noqa: E402

ORDERS = int(os.environ.get("SAMSA_PROD_ORDERS", "2500"))
RESERVATIONS = int(os.environ.get("SAMSA_PROD_RESERVATIONS", "250"))


def setup(shop, kafka):
    out = sh.subprocess.run([sh.cli_binary(), "-b", kafka.bootstrap, "--output", "json", "topic", "describe"]
                            + list(sh.TOPICS), stdout=sh.subprocess.PIPE, stderr=sh.subprocess.STDOUT,
                            timeout=60).stdout.decode()
    import json
    desc = json.loads(out)
    print(out[:2000])
    check(desc is not None, "samsa topic describe answers")


def scenario(shop, kafka, how, seed):
    r = prod.run_scenario(shop, kafka, how, ORDERS, RESERVATIONS, seed=seed)
    load = r["load"]
    check_eq(sh.last_line(load["out"]), "books balanced: yes", "%s: shop-load's last line" % how)
    check_eq(load["rc"], 0, "%s: shop-load's exit code" % how)
    check(r["load_running_at_stop"], "%s: shop-load was running when node %d went down" % (how, r["victim"]))
    check(r["load_running_at_isr"], "%s: shop-load was still running when node %d was back in every ISR"
          % (how, r["victim"]))
    sh.check_books(shop, how)
    for name, c in r["after"].items():
        b = r["before"][name]
        check_eq(c["order_violations_total"], 0, "%s: relay-%s counted no order violation" % (how, name))
        check_eq(c["dead_letters_total"] - b["dead_letters_total"], 0, "%s: relay-%s sent no dead letter" % (how, name))
    for label, p in shop.processes():
        check(p.alive(), "%s: %s still runs" % (how, label))
    k = prod.kafka_contents(shop, kafka)
    check(not k["missing"], "%s: every outbox row's event is in its topic (%d rows, %d records)"
          % (how, k["rows"], k["records"]), k["missing"][:5])
    check(not k["misplaced"], "%s: each published row's kafka_partition/kafka_offset holds its event" % how,
          k["misplaced"][:5])
    check(not k["reordered"], "%s: per key, Kafka holds the events in outbox order" % how, k["reordered"][:5])
    t = r["timeline"]
    print("MEASURED %s: %d orders, %d reservations; %s events published, %s consumed in %.1fs; "
          "%s HTTP requests/s" % (how, ORDERS, RESERVATIONS, load.get("published"), load.get("consumed"),
                                  load.get("seconds", 0), load.get("requests_per_s")), flush=True)
    for lat in load["latency"]:
        print("MEASURED %s: %s p50 %d ms, p99 %d ms, max %d ms (%d events)"
              % (how, lat["path"], lat["p50"], lat["p99"], lat["max"], lat["events"]), flush=True)
    print("MEASURED %s: node %d (leading %d partitions) down %.1fs into the run; leaders moved %.1fs after, "
          "node started again %.1fs after, back in every ISR %.1fs after, shop-load done %.1fs after"
          % (how, r["victim"], r["victim_leads"], t["stop_after_load_start"], t["leaders_moved"], t["restarted"],
             t["in_isr"], t["load_end"]), flush=True)
    print("MEASURED %s: oldest unpublished row at most %.1fs old before the stop, %.1fs after it"
          % (how, r["age_before"] or 0, r["age_after"] or 0), flush=True)
    print("MEASURED %s: Kafka holds %d duplicate records (published twice, skipped by the inboxes); inbox "
          "duplicates skipped %s; relays: %s" % (how, k["duplicates"], load["duplicates"],
                                               {n: {key: c[key] - r["before"][n][key] for key in c}
                                                for n, c in r["after"].items()}), flush=True)


def main():
    try:
        kafka = prod.start_kafka(log=print)
    except kafka_cluster.KafkaError as e:
        print("FAIL: Apache Kafka did not start: %s" % e, flush=True)
        return 1
    shop = None
    ok = False
    try:
        shop = prod.start_shop(kafka)

        def t_kill9():
            setup(shop, kafka)
            scenario(shop, kafka, "kill9", 91)

        def t_stop():
            scenario(shop, kafka, "stop", 92)
        rc = harness.run_tests([t_kill9, t_stop])
        ok = rc == 0
        return rc
    finally:
        if shop is not None:
            if not ok:
                print(shop.logs(), flush=True)
                print(kafka.log_tails(), flush=True)
            bad = shop.stop()
            shop.cleanup()
            if bad:
                print("\n".join(bad), flush=True)
        kafka.cleanup()


if __name__ == "__main__":
    sys.exit(main())
