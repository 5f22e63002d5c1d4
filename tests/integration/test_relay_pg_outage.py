#!/usr/bin/python3
"""The relay through a PostgreSQL outage and a PostgreSQL crash.

test_outage: 3 writer threads (psycopg2, the table contract; each key
  written by one thread, so per-key order is id order) commit steadily and
  keep trying, reconnecting, whatever fails. Once rows flow, PostgreSQL is
  stopped (fast shutdown) under the running relay. While it is down: the
  relay stays alive, counts failed database calls
  (samsa_relay_db_errors_total rises), owns no slot
  (samsa_relay_owned_slots 0: its locks went with the session) and answers
  /healthz 200 (its loop keeps ticking); the writers see errors. PostgreSQL
  is started again on the same port and data: the relay logs that it
  reconnected, owns its 64 slots again, and the writers commit 200 more.
  Then: every row in the table (each commit the writers saw succeed, plus
  any whose COMMIT's answer the outage cut off and that did commit)
  PUBLISHED, each event on the topic exactly once, per-key order kept, no
  row DEAD or charged an attempt; the relay exits 0 on SIGTERM.

test_crash_keeps_marks: 6000 rows, the relay publishing; as soon as a poll
  sees more PUBLISHED rows than before, every PostgreSQL process is
  SIGKILLed (a crash: no shutdown checkpoint) and PostgreSQL restarted
  (crash recovery from the WAL); five times, the relay running throughout.
  Each row seen PUBLISHED before a crash is still PUBLISHED at the same
  partition and offset after recovery (a visible mark was a durable
  commit) and is never published again after it; at the end every row
  PUBLISHED, every event on the topic.
"""

import os
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, check_eq, unique, wait_for  # noqa: E402
from relay_harness import (Stack, check_order, check_per_key_order, consume_all, payload, pg_connect,  # noqa: E402
                           q, run_outbox_tests, status_counts)


class Writer(threading.Thread):
    """Commits one row per transaction on its own keys until halted, and
    keeps trying through errors (a new connection each time one fails).
    committed: {event_id: (key, seq)} whose COMMIT returned; doubt: those
    whose COMMIT was sent but its answer lost (they may or may not exist)."""

    def __init__(self, url, topic, wid, keys=5):
        super().__init__(daemon=True)
        self.url, self.topic, self.wid, self.keys = url, topic, wid, keys
        self.committed, self.doubt = {}, {}
        self.errors = 0
        self.halt = threading.Event()
        self.seq = {}

    def run(self):
        import psycopg2
        conn = None
        i = 0
        while not self.halt.is_set():
            key = "w%d-%d" % (self.wid, i % self.keys)
            i += 1
            try:
                if conn is None:
                    conn = pg_connect(self.url)
                self.seq[key] = self.seq.get(key, 0) + 1
                seq = self.seq[key]
                cur = conn.cursor()
                cur.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES (%s, %s, %s)"
                            " RETURNING event_id::text", (self.topic, key, payload(key, seq)))
                eid = cur.fetchone()[0]
                try:
                    conn.commit()
                except psycopg2.Error:
                    self.doubt[eid] = (key, seq)
                    raise
                self.committed[eid] = (key, seq)
                time.sleep(0.005)  # a steady trickle, not a flood
            except psycopg2.Error:
                self.errors += 1
                if conn is not None:
                    try:
                        conn.close()
                    except psycopg2.Error:
                        pass
                conn = None
                time.sleep(0.05)  # the database is down: try again soon
        if conn is not None:
            conn.close()


def healthz(relay):
    try:
        with urllib.request.urlopen(relay.metrics_url.replace("/metrics", "/healthz"), timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_outage(st):
    url = st.new_db()
    topic = unique("pgdown")
    relay = st.relay(url)
    writers = [Writer(url, topic, w) for w in range(3)]
    for w in writers:
        w.start()
    try:
        wait_for(lambda: status_counts(url).get("PUBLISHED", 0) >= 150, 60, "rows flowing")
        errs0 = relay.metric("samsa_relay_db_errors_total")
        st.pg.stop()
        check(True, "PostgreSQL stopped (fast shutdown) under the running relay, %d rows committed so far"
              % sum(len(w.committed) for w in writers))
        wait_for(lambda: relay.metric("samsa_relay_db_errors_total") >= errs0 + 3, 30,
                 "the relay to count failed database calls")
        check(True, "metrics: samsa_relay_db_errors_total rose (%d -> %d)"
              % (errs0, relay.metric("samsa_relay_db_errors_total")))
        wait_for(lambda: relay.metric("samsa_relay_owned_slots") == 0.0, 30, "owned_slots 0")
        check(True, "metrics: owned_slots 0 (its locks went with the session)")
        check(relay.alive(), "the relay is alive while the database is down")
        check_eq(healthz(relay), 200, "/healthz answers 200: the loop keeps ticking")
        wait_for(lambda: all(w.errors > 0 for w in writers), 30, "the writers to see the outage")
        check(True, "the writers' transactions fail meanwhile (%s errors)" % [w.errors for w in writers])
        before = sum(len(w.committed) for w in writers)
        st.pg.restart()
        check(True, "PostgreSQL started again on the same port and data")
        wait_for(lambda: relay.log_lines(r"reconnected"), 30, "the relay's 'reconnected' log line")
        check(True, "the relay logged: %s" % relay.log_lines(r"reconnected")[0].split(" ", 3)[-1])
        wait_for(lambda: relay.metric("samsa_relay_owned_slots") == 64.0, 30, "owned_slots 64 again")
        check(True, "metrics: owned_slots 64 again")
        wait_for(lambda: sum(len(w.committed) for w in writers) >= before + 200, 60, "200 more commits")
    finally:
        for w in writers:
            w.halt.set()
        for w in writers:
            w.join()
        if st.pg.proc is None:
            st.pg.restart()  # failed during the outage: the next test needs it
    committed = {}
    for w in writers:
        committed.update(w.committed)
    in_table = {r[0]: r[1] for r in q(url, "SELECT event_id::text, status FROM samsa_outbox")}
    missing = [e for e in committed if e not in in_table]
    check(not missing, "every commit the writers saw succeed is in the table (%d)" % len(committed), missing[:5])
    doubt = {e: v for w in writers for e, v in w.doubt.items()}
    kept = {e: v for e, v in doubt.items() if e in in_table}
    print("  commits whose answer the outage cut off: %d, of which committed: %d" % (len(doubt), len(kept)))
    committed.update(kept)
    check_eq(len(in_table), len(committed), "the table holds exactly those rows")
    wait_for(lambda: status_counts(url) == {"PUBLISHED": len(committed)}, 60,
             "all %d rows PUBLISHED" % len(committed))
    check(True, "all %d rows PUBLISHED after the outage" % len(committed))
    recs = consume_all(st.broker.bootstrap, topic, expect=len(committed))
    check_order(recs, committed, "through the outage")
    check_eq(q(url, "SELECT max(attempts), count(*) FILTER (WHERE last_error IS NOT NULL) FROM samsa_outbox")[0],
             (0, 0), "the outage cost no row an attempt and left no error")
    check(relay.alive() and relay.starts == 1, "the same relay process ran throughout")


def test_crash_keeps_marks(st):
    url = st.new_db()
    topic = unique("pgcrash")
    n = 6000
    q(url, "INSERT INTO samsa_outbox (topic, key, payload)"
           " SELECT %s, 'k' || (i %% 40), convert_to('{\"k\": \"k' || (i %% 40) || '\", \"seq\": ' || (i / 40 + 1)"
           " || '}', 'UTF8') FROM generate_series(0, %s - 1) i", (topic, n))
    expected = {r[0]: (r[1], int(r[2])) for r in q(
        url, "SELECT event_id::text, key, convert_from(payload, 'UTF8')::json->>'seq' FROM samsa_outbox")}
    relay = st.relay(url, batch_size=200, max_inflight=1000)
    seen = {}
    last = 0
    for k in range(5):
        c = pg_connect(url, autocommit=True)
        try:
            wait_for(lambda: q(c, "SELECT count(*) FROM samsa_outbox WHERE status = 'PUBLISHED'")[0][0] > last,
                     60, "more rows PUBLISHED than before the last crash", interval=0.001)
            pub = {r[0]: (r[1], r[2]) for r in q(c, "SELECT event_id::text, kafka_partition, kafka_offset"
                                                    " FROM samsa_outbox WHERE status = 'PUBLISHED'")}
        finally:
            c.close()
        st.pg.kill9()
        st.pg.restart()
        after = {r[0]: (r[1], r[2]) for r in q(url, "SELECT event_id::text, kafka_partition, kafka_offset"
                                                    " FROM samsa_outbox WHERE status = 'PUBLISHED'")}
        lost = [(e, p, after.get(e)) for e, p in pub.items() if after.get(e) != p]
        check(not lost, "crash %d: PostgreSQL SIGKILLed right after %d rows were seen PUBLISHED; after crash "
              "recovery each is still PUBLISHED at the same offset" % (k + 1, len(pub)), lost[:5])
        for e, p in pub.items():
            seen.setdefault(e, p)
        last = len(after)
    wait_for(lambda: status_counts(url) == {"PUBLISHED": n}, 90, "all %d rows PUBLISHED" % n)
    check(True, "all %d rows PUBLISHED after 5 crashes of PostgreSQL" % n)
    final = {r[0]: (r[1], r[2]) for r in q(url, "SELECT event_id::text, kafka_partition, kafka_offset FROM samsa_outbox")}
    moved = [(e, seen[e], final[e]) for e in seen if final[e] != seen[e]]
    check(not moved, "every row seen PUBLISHED before a crash (%d) kept its partition and offset" % len(seen),
          moved[:5])
    recs = consume_all(st.broker.bootstrap, topic, expect=n, timeout=60)
    copies = {}
    for r in recs:
        copies.setdefault(r["headers"]["samsa.event_id"], []).append((r["partition"], r["offset"]))
    check_eq(set(copies), set(expected), "every committed event on the topic, nothing else")
    again = {e: (seen[e], v) for e, v in copies.items() if e in seen and any(c > seen[e] for c in v)}
    check(not again, "no row seen PUBLISHED before a crash was published again after that", list(again.items())[:5])
    off = [e for e, p in final.items() if p not in copies[e]]
    check(not off, "every row's partition/offset holds a copy of it", off[:5])
    check_per_key_order(recs, "after the crashes", first_only=True)
    check(relay.alive() and relay.starts == 1, "the same relay process ran throughout")


def main():
    st = Stack(name="relay-pg-outage")
    try:
        st.start()
        return run_outbox_tests(st, [test_outage, test_crash_keeps_marks])
    finally:
        st.cleanup()


if __name__ == "__main__":
    sys.exit(main())
