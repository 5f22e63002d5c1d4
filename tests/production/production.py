"""The production shape (docs/production.md), for the tests and the bench
script that run it: the whole shop on PostgreSQL against a 3-node Apache
Kafka on loopback, and the scenario "shop-load while one Kafka node is
killed (or stopped) and started again".

    kafka = start_kafka()                       # 3 KRaft nodes, docs/production.md's settings
    shop = start_shop(kafka)                    # PostgreSQL, 6 services, 3 relays, topics by the CLI
    r = run_scenario(shop, kafka, "kill9", orders=..., reservations=..., log=print)
    # r: the shop-load runs (back to back until the node is back in every
    # ISR) and their sum, the timeline, the measurements

run_scenario() only drives and measures; the callers check (the test with
harness.check, the bench script by writing the figures down). check_kafka_
contents() reads every record back and compares it with the outboxes.
"""

import os
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
for d in ("tests/integration", "tests/shop", "tests/compat"):
    sys.path.insert(0, os.path.join(REPO, d))
import harness  # noqa: E402
import kafka_cluster  # noqa: E402
import relay_harness  # noqa: E402
import shop_harness as sh  # noqa: E402

# docs/production.md: what every broker runs with
KAFKA_PROPS = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "auto.create.topics.enable": "false",
    "unclean.leader.election.enable": "false",
    "num.partitions": "12",
    "group.initial.rebalance.delay.ms": "0",
}
PARTITIONS = 12
TOPIC_ARGS = ["-r", "3", "-c", "min.insync.replicas=2"]
# the relays as in the main job (samsa-shop writes these), metrics on port 0
RELAY_PROPS = {"complete.interval.ms": 500, "stats.interval.ms": 200, "retry.backoff.ms": 100,
               "retry.backoff.max.ms": 5000, "shutdown.timeout.ms": 5000}


def start_kafka(log=None):
    """Three nodes (each broker and controller) with KAFKA_PROPS; the test
    process owns them (they die with it)."""
    return kafka_cluster.KafkaCluster(nodes=3, props=KAFKA_PROPS).start(timeout=240, log=log)


def start_shop(kafka):
    return sh.Shop(pg=True, kafka=kafka, partitions=PARTITIONS, topic_args=TOPIC_ARGS,
                   relay_props=RELAY_PROPS).start()


# -- the cluster as a client sees it -----------------------------------------------


def admin(kafka):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": kafka.bootstrap, "log_level": 3})


def partition_state(kafka, topics=sh.TOPICS, timeout=10):
    """{(topic, partition): (leader, replicas, isr)} from Metadata, or None
    when a topic has no metadata (yet)."""
    md = admin(kafka).list_topics(timeout=timeout)
    out = {}
    for t in topics:
        tm = md.topics.get(t)
        if tm is None or tm.error is not None:
            return None
        for p, pm in tm.partitions.items():
            out[(t, p)] = (pm.leader, sorted(pm.replicas), sorted(pm.isrs))
    return out


def leaders_count(state):
    n = {}
    for leader, _, _ in state.values():
        n[leader] = n.get(leader, 0) + 1
    return n


# -- metrics over time -----------------------------------------------------------------


class Sampler(threading.Thread):
    """Every 0.2 s: each relay's oldest unpublished row's age and its
    published/retry/restart counters. Samples are (monotonic time, relay,
    metrics dict); a scrape that fails (a relay busy) is left out."""

    def __init__(self, shop, every=0.2):
        super().__init__(daemon=True)
        self.shop = shop
        self.every = every
        self.samples = []
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            t = time.monotonic()
            for name, r in self.shop.relays.items():
                try:
                    self.samples.append((t, name, r.scrape(timeout=2)))
                except Exception:
                    pass
            self.halt.wait(self.every)   # pacing of the samples, not a wait for an event

    def stop(self):
        self.halt.set()
        self.join(10)

    def max_age(self, t0, t1):
        """The largest oldest-unpublished age any relay reported in [t0, t1]."""
        ages = [m.get("samsa_outbox_oldest_unpublished_age_seconds", 0.0) for t, _, m in self.samples
                if t0 <= t <= t1]
        return max(ages) if ages else None


def relay_counters(shop):
    keys = ("samsa_relay_published_total", "samsa_relay_retries_total", "samsa_relay_dead_letters_total",
            "samsa_relay_order_violations_total", "samsa_relay_producer_restarts_total")
    out = {}
    for name, r in shop.relays.items():
        m = r.scrape()
        out[name] = {k.replace("samsa_relay_", ""): int(m.get(k, 0)) for k in keys}
    return out


# -- shop-load output -------------------------------------------------------------------

LAT_RE = re.compile(r"^\s*(\S.*?\S)\s+p50 (\d+) ms, p99 (\d+) ms, max (\d+) ms \((\d+) events\)", re.M)
THRU_RE = re.compile(r"(\d+) events published and (\d+) consumed in ([0-9.]+) s")
REQ_RE = re.compile(r"throughput: (\d+) HTTP requests/s")
DUP_RE = {"shop-stock": re.compile(r"shop-stock\s+applied \d+, duplicates skipped (\d+)"),
          "shop-sink": re.compile(r"shop-sink\s+delivered \d+ \(.*duplicates (\d+)\)"),
          "shop-receiver": re.compile(r"shop-receiver\s+stored \d+, duplicates (\d+)")}


def parse_load(out):
    r = {"latency": [], "duplicates": {}}
    for m in LAT_RE.finditer(out):
        r["latency"].append({"path": m.group(1), "p50": int(m.group(2)), "p99": int(m.group(3)),
                             "max": int(m.group(4)), "events": int(m.group(5))})
    m = THRU_RE.search(out)
    if m:
        r["published"], r["consumed"], r["seconds"] = int(m.group(1)), int(m.group(2)), float(m.group(3))
    m = REQ_RE.search(out)
    if m:
        r["requests_per_s"] = int(m.group(1))
    for k, rx in DUP_RE.items():
        m = rx.search(out)
        if m:
            r["duplicates"][k] = int(m.group(1))
    return r


# -- the scenario -------------------------------------------------------------------------


class LoadLoop(threading.Thread):
    """shop-load runs back to back (each `orders` orders and `reservations`
    reservations, seeds seed, seed+1, ...) until told to finish; the one
    running then is the last. So the load spans the whole outage however
    fast the machine is. Each run: (start, end, exit code, output, parsed)."""

    def __init__(self, shop, how, orders, reservations, concurrency, seed, log):
        super().__init__(daemon=True)
        self.shop, self.how, self.log = shop, how, log
        self.orders, self.reservations, self.concurrency, self.seed = orders, reservations, concurrency, seed
        self.finish = threading.Event()
        self.runs = []
        self.proc = None
        self.error = None

    def run(self):
        i = 0
        try:
            while not self.finish.is_set():
                cmd = [sh.shop_binary("load")] + sh.load_args(self.shop) + [
                    "--orders", str(self.orders), "--reservations", str(self.reservations),
                    "--concurrency", str(self.concurrency), "--seed", str(self.seed + i), "--timeout", "180"]
                if i == 0:
                    self.log("running, again and again until the node is back in every ISR: %s" % " ".join(cmd))
                outpath = os.path.join(self.shop.dir, "shop-load-%s-%d.out" % (self.how, i))
                t0 = time.monotonic()
                with open(outpath, "wb") as outf:
                    self.proc = subprocess.Popen(cmd, stdout=outf, stderr=subprocess.STDOUT,
                                                 preexec_fn=harness._die_with_parent)
                    try:
                        rc = self.proc.wait(600)
                    except subprocess.TimeoutExpired:
                        self.proc.kill()
                        rc = self.proc.wait()
                with open(outpath, "rb") as f:
                    out = f.read().decode("utf-8", "replace")
                run = {"start": t0, "end": time.monotonic(), "rc": rc, "out": out, "seed": self.seed + i}
                run.update(parse_load(out))
                self.runs.append(run)
                self.log("shop-load #%d (seed %d) exit %d after %.1fs: %s" % (i + 1, self.seed + i, rc,
                                                                        run["end"] - t0, sh.last_line(out)))
                i += 1
                if rc != 0:
                    break
        except Exception as e:   # reported by the caller
            self.error = e

    def running(self):
        return self.is_alive() and self.proc is not None and self.proc.poll() is None


def run_scenario(shop, kafka, how, orders, reservations, concurrency=8, seed=1, log=print,
                 started_after=300, load_timeout=900):
    """shop-load (`orders` orders and `reservations` reservations a run)
    runs back to back (LoadLoop); once the orders relay has published
    `started_after` rows of this scenario, the Kafka node that leads the
    most partitions of the shop's topics is stopped (how: "kill9" =
    SIGKILL, "stop" = SIGTERM, a controlled shutdown), then, once no
    partition names it as leader any more, started again; once it is back
    in every ISR no further shop-load run starts, and the scenario waits
    for the one running to end. Returns a dict: runs (each shop-load run),
    load (the runs summed: exit codes, events, latencies' worst), timeline
    (s after the stop), victim, counters before/after, the largest oldest-
    unpublished age before and after the stop, whether shop-load ran at
    each step."""
    res = {"how": how, "orders": orders, "reservations": reservations}
    before = relay_counters(shop)
    state = harness.wait_for(lambda: partition_state(kafka), 60, "metadata of the shop's topics", 0.5)
    leaders = leaders_count(state)
    victim_id = max(sorted(leaders), key=lambda n: leaders[n])
    idx = [n.id for n in kafka.nodes].index(victim_id)
    res["victim"] = victim_id
    res["victim_leads"] = leaders[victim_id]
    log("%s: node %d leads %d of %d partitions of the shop's topics; it goes down once the orders relay "
        "has published %d rows of this scenario" % (how, victim_id, leaders[victim_id], len(state), started_after))

    sampler = Sampler(shop)
    sampler.start()
    loop = LoadLoop(shop, how, orders, reservations, concurrency, seed, log)
    t_load = time.monotonic()
    loop.start()
    try:
        base = before["orders"]["published_total"]

        def flowing():
            if not loop.is_alive():
                raise AssertionError("shop-load stopped (%s) before the orders relay had published %d rows"
                                     % ([r["rc"] for r in loop.runs], started_after))
            return shop.relays["orders"].metric("samsa_relay_published_total", 0) - base >= started_after
        harness.wait_for(flowing, 120, "the orders relay to publish %d rows of this scenario" % started_after, 0.1)
        t_down = time.monotonic()
        res["load_running_at_stop"] = loop.running()
        if how == "kill9":
            kafka.kill9(idx)
        else:
            kafka.stop_node(idx)
        t_gone = time.monotonic()
        log("%s: node %d %s %.1fs after shop-load started (stop took %.1fs)"
            % (how, victim_id, "killed" if how == "kill9" else "stopped", t_down - t_load, t_gone - t_down))

        def moved():
            try:
                st = partition_state(kafka, timeout=5)
            except Exception:
                return False
            return st is not None and all(leader != victim_id and leader >= 0 for leader, _, _ in st.values())
        harness.wait_for(moved, 120, "every partition of the shop's topics to have a leader other than node %d"
                         % victim_id, 0.2)
        t_moved = time.monotonic()
        res["load_running_at_restart"] = loop.is_alive()
        kafka.start_node(idx)
        t_up = time.monotonic()

        def back():
            try:
                st = partition_state(kafka, timeout=5)
            except Exception:
                return False
            return st is not None and all(victim_id in isr for _, _, isr in st.values())
        harness.wait_for(back, 180, "node %d back in the ISR of every partition" % victim_id, 0.2)
        t_isr = time.monotonic()
        res["load_running_at_isr"] = loop.is_alive()
        loop.finish.set()
        log("%s: leaders moved off node %d %.1fs after the stop; node %d started again %.1fs after it, "
            "in every ISR again %.1fs after it; shop-load runs so far: %d"
            % (how, victim_id, t_moved - t_down, victim_id, t_up - t_down, t_isr - t_down, len(loop.runs)))
        loop.join(load_timeout)
        if loop.is_alive():
            if loop.proc is not None:
                loop.proc.kill()
            loop.join(30)
            raise AssertionError("shop-load still running %ds after the node came back (hang guard)" % load_timeout)
        if loop.error is not None:
            raise loop.error
        t_end = time.monotonic()
    finally:
        loop.finish.set()
        if loop.proc is not None and loop.proc.poll() is None:
            loop.proc.kill()
        sampler.stop()
    runs = loop.runs
    for i, r in enumerate(runs, 1):
        log("shop-load #%d output:\n%s" % (i, "\n".join("  > " + l for l in r["out"].splitlines())))
    res["runs"] = runs
    res["load"] = summarize(runs)
    res["load"]["seconds"] = t_end - t_load
    res["timeline"] = {"stop_after_load_start": t_down - t_load, "stopped": t_gone - t_down,
                       "leaders_moved": t_moved - t_down, "restarted": t_up - t_down, "in_isr": t_isr - t_down,
                       "load_end": t_end - t_down}
    res["age_before"] = sampler.max_age(t_load, t_down)
    res["age_after"] = sampler.max_age(t_down, t_end)
    res["before"] = before
    res["after"] = relay_counters(shop)
    return res


def summarize(runs):
    """The shop-load runs of a scenario as one: every exit code and last
    line, events and HTTP requests summed, per path the highest p50, p99
    and max of any run and the events summed, duplicates summed."""
    out = {"runs": len(runs), "rcs": [r["rc"] for r in runs],
           "last_lines": [sh.last_line(r["out"]) for r in runs],
           "published": sum(r.get("published", 0) for r in runs),
           "consumed": sum(r.get("consumed", 0) for r in runs),
           "latency": [], "duplicates": {}}
    paths = []
    for r in runs:
        for l in r["latency"]:
            if l["path"] not in paths:
                paths.append(l["path"])
    for p in paths:
        ls = [l for r in runs for l in r["latency"] if l["path"] == p]
        out["latency"].append({"path": p, "p50": max(l["p50"] for l in ls), "p99": max(l["p99"] for l in ls),
                               "max": max(l["max"] for l in ls), "events": sum(l["events"] for l in ls)})
    for r in runs:
        for k, v in r["duplicates"].items():
            out["duplicates"][k] = out["duplicates"].get(k, 0) + v
    return out


# -- what Kafka holds against what the outboxes say -----------------------------------------

OUTBOXES = {"orders": ("shop.orders", "shop.payments"), "reservations": ("shop.rooms",),
            "rooms": ("shop.reservation-results",)}


def order_key(topic, key, value):
    """What per-key order is promised for: the key, and for shop.rooms (key =
    room) the reservation too. Two reservations of one room are made by two
    independent requests whose transactions may commit in either order of
    their outbox ids; the relay publishes in commit order, so ids of
    different reservations of a room may appear inverted in Kafka (and the
    relay counts that as an order violation: see inversions below). The
    events of one reservation, and every key of the other topics, are
    written by transactions one after the other."""
    if topic == "shop.rooms":
        import json
        try:
            return (topic, key, json.loads(value).get("reservation"))
        except (ValueError, AttributeError):
            return (topic, key, None)
    return (topic, key)


def kafka_contents(shop, kafka):
    """Compares every record of the four topics with the outbox rows:
    returns {missing, misplaced, reordered, duplicates, records, rows,
    inversions}: rows not in their topic (by samsa.event_id), rows whose
    kafka_partition/kafka_offset do not hold their event, order keys
    (order_key) whose events' first copies are not in outbox id order,
    records that repeat an earlier one's event id (published twice; the
    inboxes skip them), and per outbox the records that land after a
    higher outbox id of their topic and key (what the relay's
    order_violations_total counts)."""
    res = {"missing": [], "misplaced": [], "reordered": [], "duplicates": 0, "records": 0, "rows": 0,
           "inversions": {}}
    for svc, topics in OUTBOXES.items():
        rows = relay_harness.q(shop.dbs[svc], "SELECT id, event_id::text, topic, key, status, kafka_partition, "
                                              "kafka_offset FROM samsa_outbox ORDER BY id")
        res["rows"] += len(rows)
        res["inversions"][svc] = 0
        id_of = {ev: rid for rid, ev, _, _, _, _, _ in rows}
        for topic in topics:
            recs = relay_harness.consume_all(kafka.bootstrap, topic, timeout=120)
            res["records"] += len(recs)
            at = {(r["partition"], r["offset"]): r["headers"].get("samsa.event_id") for r in recs}
            first = {}
            okey = {}
            high = {}
            for r in sorted(recs, key=lambda r: (r["partition"], r["offset"])):
                ev = r["headers"].get("samsa.event_id")
                if ev in first:
                    res["duplicates"] += 1
                    continue
                first[ev] = (r["partition"], r["offset"])
                okey[ev] = order_key(topic, r["key"], r["value"])
                rid = id_of.get(ev)
                if rid is not None:
                    k = r["key"]
                    if k in high and rid < high[k]:
                        res["inversions"][svc] += 1
                    high[k] = max(high.get(k, rid), rid)
            last_by_key = {}
            for rid, ev, t, key, status, part, off in rows:
                if t != topic:
                    continue
                if ev not in first:
                    res["missing"].append((svc, rid, ev, status))
                    continue
                if status in ("PUBLISHED", "COMPLETE") and at.get((part, off)) != ev:
                    res["misplaced"].append((svc, rid, ev, part, off))
                pos = first[ev]
                k = okey[ev]
                prev = last_by_key.get(k)
                if prev is not None and (prev[0] != pos[0] or prev[1] > pos[1]):
                    res["reordered"].append((svc, k, rid))
                last_by_key[k] = pos
    return res


def outbox_states(shop):
    """{service: {status: rows}} of the three outboxes."""
    return {svc: dict(relay_harness.q(shop.dbs[svc], "SELECT status, count(*) FROM samsa_outbox GROUP BY status"))
            for svc in OUTBOXES}


def books_verdict(shop):
    """shop_harness.check_books over the services' APIs: "balanced", or
    what failed (for the bench script, which reports instead of asserting)."""
    try:
        sh.check_books(shop, "books")
        return "balanced"
    except AssertionError as e:
        return "NOT balanced: %s" % str(e)[:200]
