#!/usr/bin/python3
"""Outbox: bad input rows, written with raw SQL (bypassing libsamsa's
checks), beside good rows. The broker does not auto-create topics here, so
a well-formed but unknown topic name stays unknown.

Bad rows, each of its own key and followed by a good row of that key:
  - an invalid topic name ("bad topic!")           -> DEAD at once
  - a valid but unknown topic name                 -> retried, DEAD after
                                                      max.attempts
  - headers that are not a JSON object of strings  -> DEAD at once
    (PostgreSQL's jsonb only holds valid JSON: '{"n": 1}' and '[1, 2]';
    SQLite's TEXT column: '{broken' and '{"n": 1}')
  - a NULL payload                                 -> DEAD at once
  - headers naming a reserved header (samsa.event_id, which a consumer
    reading the last header of a name would take for the event id)
                                                   -> DEAD at once, its dead
                                                      letter with the real id
Checked for PostgreSQL and SQLite: each bad row ends DEAD with a clear
last_error (what is wrong, the offending value or position); the others'
dead letters reach <topic>.DLT with samsa.error; every good row, including
the ones behind a bad row of the same key (on.dead=continue), is PUBLISHED
exactly once and in order; nothing stays INIT; the relay keeps running.
"""

import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, check_eq, unique, wait_for  # noqa: E402
from relay_harness import (Stack, check_order, consume_all, payload, pg_connect, q,  # noqa: E402
                           run_outbox_tests)

RELAY_PROPS = {"max_attempts": 3, "retry_backoff_ms": 100, "retry_backoff_max_ms": 300,
               # librdkafka waits this long for an unknown topic to appear
               "topic.metadata.propagation.max.ms": 500}


def create_topics(bootstrap, names):
    import confluent_kafka.admin as ka
    a = ka.AdminClient({"bootstrap.servers": bootstrap})
    fs = a.create_topics([ka.NewTopic(n, num_partitions=2, replication_factor=1) for n in names])
    for n, f in fs.items():
        f.result(10)


def bad_rows(topic, unknown, headers_bad):
    """(label, topic, key, payload, headers, expected error fragments) in
    insertion order; a good row follows each bad one on the same key."""
    rows = [("good", topic, "g", payload("g", 1), None, None)]
    bad = [("invalid topic name", "bad topic!", "b1", payload("b1", 1), None, ["invalid topic name", "' '"]),
           ("unknown topic", unknown, "b2", payload("b2", 1), None, ["UNKNOWN_TOPIC", unknown]),
           ("headers 1", topic, "b3", payload("b3", 1), headers_bad[0][0], headers_bad[0][1]),
           ("headers 2", topic, "b4", payload("b4", 1), headers_bad[1][0], headers_bad[1][1]),
           ("NULL payload", topic, "b5", None, None, ["NULL payload"]),
           ("reserved header", topic, "b6", payload("b6", 1),
            '{"samsa.event_id": "spoofed", "trace-id": "t"}', ["'samsa.event_id'", "reserved"])]
    for i, b in enumerate(bad):
        rows.append(b)
        rows.append(("good", topic, b[2], payload(b[2], 2), None, None))
        rows.append(("good", topic, "g", payload("g", 2 + i), '{"trace": "t%d"}' % i, None))
    return rows


def run_case(st, db, insert, select):
    topic = unique("bad")
    unknown = unique("nosuch")
    create_topics(st.broker.bootstrap, [topic, topic + ".DLT"])
    relay = st.relay(db, **RELAY_PROPS)
    ids = insert(topic, unknown)
    good = {eid: (key, seq) for (label, key, seq, eid) in ids if label == "good"}
    wait_for(lambda: not [r for r in select() if r[1] == "INIT"], 60, "no row INIT")
    rows = {r[0]: r for r in select()}
    for label, key, seq, eid in ids:
        r = rows[eid]
        if label == "good":
            continue
        check_eq(r[1], "DEAD", "%s (key %s): DEAD" % (label, key))
        frags = next(b[5] for b in RULES if b[0] == label)
        err = r[2] or ""
        check(all(f.lower() in err.lower() for f in frags),
              "%s: last_error says why: %r" % (label, err), "expected to contain %s" % frags)
        want_attempts = 3 if label == "unknown topic" else 1
        check_eq(r[3], want_attempts, "%s: %d attempt(s)" % (label, want_attempts))
    check_eq(sorted(r[1] for r in rows.values() if r[0] in good), ["PUBLISHED"] * len(good),
             "every good row PUBLISHED (%d)" % len(good))
    recs = consume_all(st.broker.bootstrap, topic, expect=len(good))
    check_order(recs, good, "good rows beside bad ones")
    traced = [r for r in recs if r["key"] == "g" and "trace" in r["headers"]]
    check_eq(len(traced), 6, "good rows' own headers arrive")
    dlt = consume_all(st.broker.bootstrap, topic + ".DLT", expect=4, idle=0.5)
    by_key = {r["key"]: r["headers"] for r in dlt}
    check_eq(sorted(by_key), ["b3", "b4", "b5", "b6"], "dead letters of the bad rows of %s on %s.DLT" % (topic, topic))
    b6 = next(eid for (label, key, seq, eid) in ids if key == "b6")
    check_eq(by_key["b6"].get("samsa.event_id"), b6,
             "the reserved-header row's dead letter carries its own samsa.event_id, not the spoofed one")
    check(not [r for r in recs if r["headers"].get("samsa.event_id") in (b6, "spoofed")],
          "the reserved-header row was not published, and no record carries the spoofed id")
    check(all(h.get("samsa.error") and h.get("samsa.event_id") for h in by_key.values()),
          "each dead letter carries samsa.error and samsa.event_id",
          {k: h.get("samsa.error") for k, h in by_key.items()})
    check(relay.alive(), "the relay is still running")
    check_eq(relay.metric("samsa_relay_dead_letters_total"), 6.0, "metrics: 6 rows DEAD")


RULES = []


def test_bad_rows_pg(st):
    url = st.new_db()
    global RULES
    hb = [('{"n": 1}', ["headers", "'n'", "not a string"]), ("[1, 2]", ["headers", "object"])]

    def insert(topic, unknown):
        global RULES
        RULES = bad_rows(topic, unknown, hb)
        c = pg_connect(url)
        cur = c.cursor()
        out = []
        for label, t, key, body, headers, _ in RULES:
            cur.execute("INSERT INTO samsa_outbox (topic, key, payload, headers) VALUES (%s, %s, %s, %s)"
                        " RETURNING event_id::text", (t, key, body, headers))
            seq = int(body.split(b'"seq": ')[1].rstrip(b"}")) if body else 0
            out.append((label, key, seq, cur.fetchone()[0]))
        c.commit()
        c.close()
        return out

    run_case(st, url, insert,
             lambda: q(url, "SELECT event_id::text, status, last_error, attempts FROM samsa_outbox"))


def test_bad_rows_sqlite(st):
    path = st.new_sqlite()
    hb = [("{broken", ["invalid headers JSON"]), ('{"n": 1}', ["headers", "'n'", "not a string"])]

    def insert(topic, unknown):
        global RULES
        RULES = bad_rows(topic, unknown, hb)
        c = sqlite3.connect(path, timeout=30)
        out = []
        for label, t, key, body, headers, _ in RULES:
            cur = c.execute("INSERT INTO samsa_outbox (topic, key, payload, headers) VALUES (?, ?, ?, ?)"
                            " RETURNING event_id", (t, key, body, headers))
            seq = int(body.split(b'"seq": ')[1].rstrip(b"}")) if body else 0
            out.append((label, key, seq, cur.fetchone()[0]))
        c.commit()
        c.close()
        return out

    def select():
        c = sqlite3.connect(path, timeout=30)
        try:
            return c.execute("SELECT event_id, status, last_error, attempts FROM samsa_outbox").fetchall()
        finally:
            c.close()

    run_case(st, "sqlite:" + path, insert, select)


def main():
    st = Stack(name="relay-bad-rows", broker_overrides={"auto.create.topics.enable": "false"})
    try:
        st.start()
        return run_outbox_tests(st, [test_bad_rows_pg, test_bad_rows_sqlite])
    finally:
        st.cleanup()


if __name__ == "__main__":
    sys.exit(main())
