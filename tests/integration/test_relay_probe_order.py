#!/usr/bin/python3
"""Outbox: per-key order across the "unproven topic" cap (keys.h, sm_topics).

A topic not yet proven by an acknowledgement may have only probe =
min(batch.size, max.inflight/4) rows in flight; the claim skips its other
rows, and its cursor passes them; they are rewound to once a row of the
topic lands. In integration.relay_faults (relay kill -9 on PostgreSQL) a
key's seq 121 was published before its seq 11, right after the first 500
rows (the probe). The mechanism: the acknowledgement that proves the topic
is read by the poll at the top of the relay's loop, and the same loop turn
claimed again from the cursor before the rewind was applied (it was applied
at the end of the turn), so rows of the topic beyond the skipped ones were
admitted before them.

test_probe_cap_order: batch.size=5 (probe 5), producer.linger.ms=100 (the
  first acknowledgement comes late, after the claims passed the skipped
  rows). Eight rounds, each on a new topic (not proven): 100 rows (5 keys,
  seq 1..20) in one transaction, then a writer thread commits 1,000 more
  rows of the same keys (seq 21..), one per transaction, so NOTIFYs make
  the relay claim in the turn whose poll reads the first acknowledgement.
  The window is a race, so eight rounds: one that hits it fails the test.
  Checked: every row PUBLISHED exactly once, per-key order on each topic
  (by first copy), order_violations_total 0. Before the fix this failed in
  every run (3 of 3, in round 0 or 1): a key's seq 21+ published before its
  seq 2, and order_violations_total counted them.
"""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check_eq, unique  # noqa: E402
from relay_harness import (Stack, check_per_key_order, consume_all, payload,  # noqa: E402
                           pg_connect, run_outbox_tests, wait_all_published)

U_KEYS, U_SEQ, WRITES, ROUNDS, LINGER = 5, 20, 1000, 8, 100


def create_topic(bootstrap, name, partitions=4):
    import confluent_kafka.admin as ka
    a = ka.AdminClient({"bootstrap.servers": bootstrap})
    for f in a.create_topics([ka.NewTopic(name, num_partitions=partitions,
                                          replication_factor=1)]).values():
        f.result(10)


def writer(url, topic, first_seq, n, out):
    """n commits of one row each to topic, keys in turn, seq from first_seq."""
    try:
        c = pg_connect(url)
        cur = c.cursor()
        for i in range(n):
            k = "u%d" % (i % U_KEYS)
            cur.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES (%s, %s, %s)",
                        (topic, k, payload(k, first_seq + i // U_KEYS)))
            c.commit()
        c.close()
        out.append(n)
    except Exception as e:  # reported by the check below
        out.append(e)


def test_probe_cap_order(st):
    url = st.new_db()
    relay = st.relay(url, batch_size=5, max_inflight=10000, **{"producer.linger.ms": LINGER})
    c = pg_connect(url)
    cur = c.cursor()
    rows, us = 0, []
    for rnd in range(ROUNDS):
        tu = unique("probe-u%d" % rnd)
        create_topic(st.broker.bootstrap, tu)
        # one transaction: the first claim fills the probe, the next skip the rest
        cur.executemany("INSERT INTO samsa_outbox (topic, key, payload) VALUES (%s, %s, %s)",
                        [(tu, "u%d" % (i % U_KEYS), payload("u%d" % (i % U_KEYS), i // U_KEYS + 1))
                         for i in range(U_KEYS * U_SEQ)])
        c.commit()
        out = []
        w = threading.Thread(target=writer, args=(url, tu, U_SEQ + 1, WRITES, out))
        w.start()
        w.join(120)
        check_eq(out, [WRITES], "round %d: the writer committed its rows" % rnd)
        rows += U_KEYS * U_SEQ + WRITES
        wait_all_published(url, rows, 180, "round %d: every row" % rnd)
        us.append(tu)
    c.close()
    nu = U_KEYS * U_SEQ + WRITES
    for tu in us:
        recs = consume_all(st.broker.bootstrap, tu, expect=nu, timeout=120)
        check_eq(len({r["headers"]["samsa.event_id"] for r in recs}), nu,
                 "%s: every row published" % tu)
        check_per_key_order(recs, tu, first_only=True)
    check_eq(relay.metric("samsa_relay_order_violations_total"), 0.0,
             "order_violations_total")


if __name__ == "__main__":
    st = Stack(name="probe-order")
    try:
        st.start()
        sys.exit(run_outbox_tests(st, [test_probe_cap_order]))
    finally:
        st.cleanup()
