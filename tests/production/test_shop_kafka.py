#!/usr/bin/python3
"""The production shape, run (docs/production.md, issue 9 item 4): the
whole shop (the six services and three relays of `make run`) on PostgreSQL
against a 3-node Apache Kafka 4.1.1 on loopback (each node broker and
controller) with RF 3, min.insync.replicas=2, no topic auto-creation,
unclean leader election off; the relays produce with acks=all and the
idempotent producer (their own settings); the four topics created by
`samsa topic create -p 12 -r 3 -c min.insync.replicas=2`.

Two scenarios on the same shop, each with the real shop-load (1000 orders
and 100 reservations a run) run back to back from before the stop until
the node is back in every ISR (so the load spans the outage on a machine of
any speed):
  1. the Kafka node leading the most partitions SIGKILLed once the orders
     relay has published 300 rows, started again once its partitions have
     new leaders;
  2. the same with a clean stop (SIGTERM: Kafka's controlled shutdown).
Each: every shop-load run's verdict (exit 0, `books balanced: yes`), the books from
the services' own APIs (shop_harness.check_books), no outbox row DEAD,
every outbox row in its topic with its recorded partition and offset,
per-key order in Kafka (shop.rooms: per room and reservation; see
production.order_key), the relays' order_violations_total equal to the
records Kafka holds after a higher outbox id of their key (0 for the
orders and rooms outboxes), every process still up. First (t_shape): the
cluster and topics as a client sees them (3 brokers, RF 3 in sync,
min.insync.replicas=2, auto-creation off: a record to an unknown topic is
refused). MEASURED: events, shop-load's end-to-end latency (p50,
p99, max), how long the stop disturbed publishing (the oldest unpublished
row's age), when leaders moved and the node was back in every ISR, the
duplicates Kafka holds and the inboxes skipped, producer restarts.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import production as prod  # noqa: E402
import harness  # noqa: E402
import kafka_cluster  # noqa: E402
import shop_harness as sh  # noqa: E402
from harness import check, check_eq  # noqa: E402

ORDERS = int(os.environ.get("SAMSA_PROD_ORDERS", "1000"))   # a shop-load run
RESERVATIONS = int(os.environ.get("SAMSA_PROD_RESERVATIONS", "100"))


def check_shape(shop, kafka):
    """The cluster and topics are docs/production.md's shape, as a client
    sees them: three brokers; each of the four topics (made by `samsa topic
    create`) with 12 partitions of 3 replicas, all in sync, and
    min.insync.replicas=2 as a config of the topic itself; every broker with auto.create.topics.enable=false
    and a producer to an unknown topic refused (no topic appears)."""
    from confluent_kafka.admin import ConfigResource, ConfigSource
    import confluent_kafka as ck
    adm = prod.admin(kafka)
    md = adm.list_topics(timeout=30)
    check_eq(sorted(md.brokers), [n.id for n in kafka.nodes], "three brokers in Metadata")
    state = harness.wait_for(lambda: prod.partition_state(kafka), 60, "metadata of the shop's topics", 0.5)
    for t in sh.TOPICS:
        parts = {p: v for (tt, p), v in state.items() if tt == t}
        check(len(parts) == prod.PARTITIONS and all(len(r) == 3 and isr == r for _, r, isr in parts.values()),
              "%s: %d partitions, 3 replicas each, all in sync" % (t, prod.PARTITIONS), parts)
    res = [ConfigResource(ConfigResource.Type.TOPIC, t) for t in sh.TOPICS]
    for r, f in adm.describe_configs(res).items():
        e = f.result(30)["min.insync.replicas"]
        check_eq((e.value, getattr(e.source, "value", e.source)), ("2", ConfigSource.DYNAMIC_TOPIC_CONFIG.value),
                 "%s: min.insync.replicas=2 set on the topic itself (samsa topic create -c), not inherited from "
                 "the broker" % r.name)
    for n in kafka.nodes:   # one broker per DescribeConfigs call (librdkafka's rule)
        r = ConfigResource(ConfigResource.Type.BROKER, str(n.id))
        cfg = adm.describe_configs([r])[r].result(30)
        check_eq((cfg["auto.create.topics.enable"].value, cfg["min.insync.replicas"].value,
                  cfg["default.replication.factor"].value), ("false", "2", "3"),
                 "broker %s: auto.create.topics.enable, min.insync.replicas, default.replication.factor" % r.name)
    ghost = "shop.no-such-topic"
    pr = ck.Producer({"bootstrap.servers": kafka.bootstrap, "message.timeout.ms": 5000, "log_level": 0})
    errs = []
    pr.produce(ghost, b"x", on_delivery=lambda e, m: errs.append(e))
    pr.flush(30)
    check(errs and errs[0] is not None, "a record to an unknown topic is refused: %s" % (errs and errs[0]))
    check(ghost not in adm.list_topics(timeout=30).topics, "and the topic was not created")


def measure(r, k):
    """Prints the run's figures (MEASURED lines)."""
    how, load, t = r["how"], r["load"], r["timeline"]
    print("MEASURED %s: %d shop-load runs of %d orders and %d reservations back to back; %d events published, "
          "%d consumed in %.1fs" % (how, load["runs"], r["orders"], r["reservations"], load["published"],
                                    load["consumed"], load["seconds"]), flush=True)
    for lat in load["latency"]:
        print("MEASURED %s: %s worst run's p50 %d ms, p99 %d ms, max %d ms (%d events)"
              % (how, lat["path"], lat["p50"], lat["p99"], lat["max"], lat["events"]), flush=True)
    print("MEASURED %s: node %d (leading %d partitions) down %.1fs into the load; leaders moved %.1fs after, "
          "node started again %.1fs after, back in every ISR %.1fs after, load done %.1fs after"
          % (how, r["victim"], r["victim_leads"], t["stop_after_load_start"], t["leaders_moved"], t["restarted"],
             t["in_isr"], t["load_end"]), flush=True)
    print("MEASURED %s: oldest unpublished row at most %.1fs old before the stop, %.1fs after it"
          % (how, r["age_before"] or 0, r["age_after"] or 0), flush=True)
    print("MEASURED %s: so far %d outbox rows, %d records in Kafka, %d duplicate records (published twice); inbox "
          "duplicates skipped %s; records after a higher outbox id of their key %s" % (
              how, k["rows"], k["records"], k["duplicates"], load["duplicates"], k["inversions"]), flush=True)
    print("MEASURED %s: relays: %s" % (how, {n: {key: c[key] - r["before"][n][key] for key in c}
                                             for n, c in r["after"].items()}), flush=True)


def scenario(shop, kafka, how, seed):
    r = prod.run_scenario(shop, kafka, how, ORDERS, RESERVATIONS, seed=seed)
    load = r["load"]
    k = prod.kafka_contents(shop, kafka)
    measure(r, k)
    check(load["runs"] >= 1 and all(rc == 0 for rc in load["rcs"]),
          "%s: every shop-load run exited 0 (%d runs)" % (how, load["runs"]), load["rcs"])
    check(all(l == "books balanced: yes" for l in load["last_lines"]),
          "%s: every shop-load run's last line is 'books balanced: yes'" % how, load["last_lines"])
    check(r["load_running_at_stop"], "%s: shop-load was running when node %d went down" % (how, r["victim"]))
    check(r["load_running_at_restart"] and r["load_running_at_isr"],
          "%s: the load went on while node %d was started again and until it was back in every ISR"
          % (how, r["victim"]))
    sh.check_books(shop, how)
    check(not k["missing"], "%s: every outbox row's event is in its topic (%d rows, %d records)"
          % (how, k["rows"], k["records"]), k["missing"][:5])
    check(not k["misplaced"], "%s: each published row's kafka_partition/kafka_offset holds its event" % how,
          k["misplaced"][:5])
    check(not k["reordered"], "%s: per key (shop.rooms: per room and reservation), Kafka holds the events in "
          "outbox order" % how, k["reordered"][:5])
    for name, c in r["after"].items():
        b = r["before"][name]
        check_eq(c["dead_letters_total"] - b["dead_letters_total"], 0, "%s: relay-%s sent no dead letter" % (how, name))
        check_eq(c["order_violations_total"], k["inversions"][name],
                 "%s: relay-%s's order_violations_total equals the records Kafka holds after a higher outbox id of "
                 "their key (%d)" % (how, name, k["inversions"][name]))
    for name in ("orders", "rooms"):
        check_eq(k["inversions"][name], 0, "%s: no record of %s's outbox after a higher id of its key" % (how, name))
    for label, p in shop.processes():
        check(p.alive(), "%s: %s still runs" % (how, label))


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

        def t_shape():
            check_shape(shop, kafka)

        def t_kill9():
            scenario(shop, kafka, "kill9", 100)

        def t_stop():
            scenario(shop, kafka, "stop", 200)
        rc = harness.run_tests([t_shape, t_kill9, t_stop])
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
