#!/usr/bin/python3
"""Outbox, normal operation: concurrent application transactions, some
rolled back, some committing out of id order; every committed event is
published exactly once, no rolled-back one ever, per-key order kept.

PostgreSQL (test_pg_concurrent):
  - 6 writer processes through libsamsa (outbox_tool enqueue: each
    transaction bumps its keys' rows in a business table, so writes of a key
    are serialized, and enqueues 1..3 events; every 5th rolled back) and 2
    Python threads writing the table contract with raw SQL (psycopg2, with
    a type and a headers JSON; every 4th rolled back);
  - meanwhile a transaction holds its row open (id H) until the relay has
    published rows with higher ids, then commits: it must still be
    published (a relay polling "id > last seen" loses it); another holds its
    row the same way and rolls back: never published; while both are open,
    the claim cursor's floor (each claim's debug line) stays below their
    ids (a floor over H would leave H to the claim from the lowest INIT row
    every 2 s: still published, so only the floor shows it);
  - then the topic is read from offset 0: each committed event id exactly
    once, no rolled-back or unknown one, per key rising sequence numbers in
    one partition, payloads intact, the raw-SQL rows' samsa.type and custom
    headers present; each row is PUBLISHED with the partition and offset
    where the record really is; published_total equals the events.
SQLite (test_sqlite_concurrent): 4 writer processes through libsamsa on one
SQLite file (WAL), every 4th transaction rolled back; the same checks.
"""

import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, check_eq, unique, wait_for  # noqa: E402
from relay_harness import (Stack, Writers, check_order, consume_all, payload, pg_connect, q,  # noqa: E402
                           run_outbox_tests, status_counts, tool)


def py_writer(url, topic, n, keys, seed, committed, rolled, errors):
    """The table contract from another language: raw SQL through psycopg2."""
    rng = random.Random(seed)
    try:
        c = pg_connect(url)
        cur = c.cursor()
        for t in range(n):
            key = "py%d" % rng.randrange(keys)
            cur.execute("UPDATE samsa_test_agg SET seq = seq + 1 WHERE key = %s RETURNING seq", (key,))
            seq = cur.fetchone()[0]
            cur.execute("INSERT INTO samsa_outbox (topic, key, type, payload, headers)"
                        " VALUES (%s, %s, 'py.event', %s, %s) RETURNING event_id::text",
                        (topic, key, payload(key, seq), '{"trace-id": "py-%d-%d"}' % (seed, t)))
            eid = cur.fetchone()[0]
            if (t + 1) % 4 == 0:
                c.rollback()
                rolled.add(eid)
            else:
                c.commit()
                committed[eid] = (key, seq)
        c.close()
    except Exception as e:  # reported by the test
        errors.append(repr(e))


FLOOR_RE = __import__("re").compile(r": claim from id [0-9]+ to [0-9]+.*: [0-9]+ taken; floor ([0-9]+),")


def published_by_id(url, eids):
    rows = q(url, "SELECT event_id::text, status, kafka_partition, kafka_offset FROM samsa_outbox")
    return {r[0]: r[1:] for r in rows if r[0] in eids}


def test_pg_concurrent(st):
    url = st.new_db()
    topic = unique("order-pg")
    tool("setup", url, "--keys", 24)
    q(url, "INSERT INTO samsa_test_agg SELECT 'py' || i, 0 FROM generate_series(0, 4) i")
    relay = st.relay(url, log_level="debug")  # debug: the claim cursor's floor, per claim

    # a transaction that commits after later ids: hold it open
    hold = pg_connect(url)
    hc = hold.cursor()
    hc.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES (%s, 'hold', %s)"
               " RETURNING id, event_id::text", (topic, payload("hold", 1)))
    hold_id, hold_eid = hc.fetchone()
    gone = pg_connect(url)
    gc = gone.cursor()
    gc.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES (%s, 'gone', %s)"
               " RETURNING id, event_id::text", (topic, payload("gone", 1)))
    gone_id, gone_eid = gc.fetchone()

    writers = Writers(url, topic, n=6, txns=120, keys=24, per_txn=3, rollback_every=5, seed=7)
    py_committed, py_rolled, errors = {}, set(), []
    threads = [threading.Thread(target=py_writer, args=(url, topic, 150, 5, s, py_committed, py_rolled, errors))
               for s in (1, 2)]
    for t in threads:
        t.start()

    # later rows get published while the held ones are still open
    wait_for(lambda: q(url, "SELECT count(*) FROM samsa_outbox WHERE id > %s AND status = 'PUBLISHED'",
                       (max(hold_id, gone_id),))[0][0] >= 50, 60, "rows above the held ids published")
    check(True, "rows with ids above the open transactions' (%d, %d) were published first" % (hold_id, gone_id))
    # the claim cursor's floor never passes an id whose transaction is open
    # (docs/outbox.md, "Capture: the claim cursor"): seen in every claim's
    # debug line, over three more claims while both are still open
    c0 = relay.metric("samsa_relay_claims_total")
    wait_for(lambda: relay.metric("samsa_relay_claims_total") >= c0 + 3, 30, "three more claims")
    floors = [int(m.group(1)) for m in (FLOOR_RE.search(l) for l in relay.log_lines(FLOOR_RE.pattern)) if m]
    check(floors and max(floors) < min(hold_id, gone_id),
          "the claim cursor's floor stayed below the open transactions' ids in all %d claims (highest %s)"
          % (len(floors), max(floors) if floors else None), floors[-10:])
    hold.commit()
    hold.close()
    gone.rollback()
    gone.close()

    committed, rolled = writers.wait()
    for t in threads:
        t.join(120)
    check(not errors, "python writers ran", errors)
    committed.update(py_committed)
    rolled |= py_rolled
    committed[hold_eid] = ("hold", 1)
    rolled.add(gone_eid)
    check(len(rolled) > 50 and len(committed) > 700,
          "%d events committed, %d rolled back, by 8 concurrent writers" % (len(committed), len(rolled)))

    wait_for(lambda: status_counts(url).get("PUBLISHED", 0) == len(committed), 60,
             "all %d committed rows PUBLISHED (now %s)" % (len(committed), status_counts(url)))
    check_eq(status_counts(url), {"PUBLISHED": len(committed)}, "outbox: every row PUBLISHED, none else")

    recs = consume_all(st.broker.bootstrap, topic, expect=len(committed))
    check_order(recs, committed, "pg")
    eids = {r["headers"]["samsa.event_id"] for r in recs}
    check(not (eids & rolled), "no rolled-back event published (%d rolled back)" % len(rolled))
    check(hold_eid in eids, "the event committed after higher ids was published (row %d)" % hold_id)
    check(gone_eid not in eids, "the held transaction that rolled back was not")

    where = published_by_id(url, eids)
    bad = [(r["headers"]["samsa.event_id"], where.get(r["headers"]["samsa.event_id"]), r["partition"], r["offset"])
           for r in recs if where.get(r["headers"]["samsa.event_id"]) != ("PUBLISHED", r["partition"], r["offset"])]
    check(not bad, "each row's kafka_partition/kafka_offset is where its record is", bad[:5])

    py = [r for r in recs if r["headers"]["samsa.event_id"] in py_committed]
    check(py and all(r["headers"].get("samsa.type") == "py.event" and r["headers"].get("trace-id", "").startswith("py-")
                     and r["headers"].get("samsa.created_at", "").isdigit() for r in py),
          "raw-SQL rows carry samsa.type, samsa.created_at and their own headers (%d rows)" % len(py))
    lib = [r for r in recs if r["key"].startswith("k")]
    check(lib and all(r["headers"].get("samsa.type") == "test.event" for r in lib),
          "libsamsa rows carry samsa.type")

    wait_for(lambda: relay.metric("samsa_relay_published_total") == len(committed), 10,
             "published_total == %d" % len(committed))
    check_eq(relay.metric("samsa_relay_published_total"), float(len(committed)),
             "metrics: published_total equals the committed events (no re-publish)")
    check_eq(relay.metric("samsa_relay_order_violations_total"), 0.0, "metrics: no order violation")


def test_sqlite_concurrent(st):
    path = st.new_sqlite()
    db = "sqlite:" + path
    topic = unique("order-lite")
    tool("setup", db, "--keys", 16)
    relay = st.relay(db)
    writers = Writers(db, topic, n=4, txns=150, keys=16, per_txn=3, rollback_every=4, seed=3)
    committed, rolled = writers.wait()
    check(len(rolled) > 50 and len(committed) > 500,
          "%d events committed, %d rolled back, by 4 writer processes on one SQLite file"
          % (len(committed), len(rolled)))

    def counts():
        return dict(q_lite(path, "SELECT status, count(*) FROM samsa_outbox GROUP BY status"))
    wait_for(lambda: counts().get("PUBLISHED", 0) == len(committed), 60,
             "all %d committed rows PUBLISHED" % len(committed))
    check_eq(counts(), {"PUBLISHED": len(committed)}, "outbox: every row PUBLISHED, none else")
    recs = consume_all(st.broker.bootstrap, topic, expect=len(committed))
    check_order(recs, committed, "sqlite")
    eids = {r["headers"]["samsa.event_id"] for r in recs}
    check(not (eids & rolled), "no rolled-back event published")
    where = {r[0]: tuple(r[1:]) for r in q_lite(path, "SELECT event_id, status, kafka_partition, kafka_offset FROM samsa_outbox")}
    bad = [r for r in recs if where.get(r["headers"]["samsa.event_id"]) != ("PUBLISHED", r["partition"], r["offset"])]
    check(not bad, "each row's kafka_partition/kafka_offset is where its record is", bad[:3])
    check_eq(relay.metric("samsa_relay_published_total"), float(len(committed)),
             "metrics: published_total equals the committed events")


def q_lite(path, sql, args=()):
    import sqlite3
    c = sqlite3.connect(path, timeout=30)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def main():
    st = Stack(name="relay-order")
    try:
        st.start()
        return run_outbox_tests(st, [test_pg_concurrent, test_sqlite_concurrent])
    finally:
        st.cleanup()


if __name__ == "__main__":
    sys.exit(main())
