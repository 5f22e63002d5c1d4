#!/usr/bin/python3
"""Outbox: poison events, dead letters, on.dead, and the metrics endpoint
(PostgreSQL; the broker's message.max.bytes lowered to 20000 with
--override, so a 30000-byte payload can never be published).

test_poison_continue (on.dead default, continue): in one transaction, key
  "poison" gets seq 1 (small), 2 (30000 bytes), 3, 4 (small), and 10 other
  keys 30 rows each. While it runs, a watcher polls the rows every 20 ms:
  seq 3/4 must never be PUBLISHED while seq 2 is still INIT (a failing row
  holds back its key). Then: seq 2 DEAD after exactly max.attempts (3)
  attempts with the broker's error in last_error; one record on
  <topic>.DLT with the key, samsa.event_id, samsa.error, samsa.attempts=3,
  samsa.original_topic and samsa.payload_omitted (the value is too large
  for the dead-letter topic too); the topic has poison seq 1, 3, 4 in that
  order and every other key complete and in order.
test_poison_block (on.dead=block): the same rows; after seq 2 is DEAD,
  seq 3/4 stay INIT while rows of other keys committed after them are
  published; they still stay INIT after a relay restart (a DEAD row blocks
  its key until it is re-queued, whoever runs the relay); the DEAD row is
  then re-queued (status INIT, attempts 0, a payload that fits, as an
  operator would after fixing it; last_error left as it was): seq 2, 3, 4
  follow, in order, and its last_error is cleared once it is PUBLISHED.
test_backoff: a poison row with max.attempts=4 and retry.backoff.ms =
  retry.backoff.max.ms = 3000 (each retry drawn from [1, 3000] ms). A
  watcher polls it every few ms until it is DEAD: some failed attempt was
  seen INIT with next_attempt_at still in the future (the retry was put
  off, not made at once), next_attempt_at rose with every attempt, and
  retries_total says 3. A relay that ignores the backoff retries at once
  and is never seen waiting.
test_metrics: 300 good rows, one poison row, one row not due for an hour
  whose created_at is 90 s ago. The endpoint must report rows by status
  equal to the table's counts, the oldest unpublished age (~90 s), and
  counters that match what happened: published_total 300 (dead letters not
  counted), retries_total 2, dead_letters_total 1, a latency histogram with
  300 observations and cumulative buckets, inflight 0, 64 owned slots,
  broker_up 1; after the last row is made due: INIT 0, age 0,
  published_total 301.
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, check_eq, unique, wait_for  # noqa: E402
from relay_harness import (Stack, check_order, consume_all, payload, q, run_outbox_tests,  # noqa: E402
                           status_counts)

POISON = 30000
FAST_RETRY = {"max_attempts": 3, "retry_backoff_ms": 100, "retry_backoff_max_ms": 300}


def insert_rows(url, topic, other_keys=10, per_key=30):
    """Poison key seq 1..4 (seq 2 too large) and other keys; returns
    ({event_id: (key, seq)} of the publishable rows, poison ids by seq)."""
    rows = []
    for s in range(1, per_key + 1):
        for k in range(other_keys):
            rows.append(("o%d" % k, s, payload("o%d" % k, s)))
        if s <= 4:
            rows.append(("poison", s, payload("poison", s, b"\n" + b"x" * POISON if s == 2 else b"")))
    from relay_harness import pg_connect
    c = pg_connect(url)
    cur = c.cursor()
    expected, pids = {}, {}
    for key, seq, body in rows:
        cur.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES (%s, %s, %s)"
                    " RETURNING id, event_id::text", (topic, key, body))
        rid, eid = cur.fetchone()
        if key == "poison":
            pids[seq] = (rid, eid)
        if not (key == "poison" and seq == 2):
            expected[eid] = (key, seq)
    c.commit()
    c.close()
    return expected, pids


class Watcher(threading.Thread):
    """Polls the poison key's rows; records any moment a later row was
    PUBLISHED while the poison row was still INIT."""

    def __init__(self, url, pids):
        super().__init__(daemon=True)
        self.url, self.pids = url, pids
        self.violations = []
        self.polls = 0
        self.seen_init = 0  # polls that saw the poison row INIT (the hold was watched)
        self.halt = threading.Event()

    def run(self):
        from relay_harness import pg_connect
        ids = tuple(rid for rid, _ in self.pids.values())
        c = pg_connect(self.url, autocommit=True)  # one connection: a poll every few ms
        try:
            while not self.halt.is_set():
                st = dict(q(c, "SELECT id, status FROM samsa_outbox WHERE id IN %s", (ids,)))
                self.polls += 1
                p2 = st.get(self.pids[2][0])
                if p2 == "INIT":
                    self.seen_init += 1
                    for s in (3, 4):
                        if st.get(self.pids[s][0]) == "PUBLISHED":
                            self.violations.append("seq %d PUBLISHED while seq 2 INIT" % s)
                time.sleep(0.005)
        finally:
            c.close()


def check_dead_row(st, url, topic, pids, relay):
    rid, eid = pids[2]
    status, attempts, err = q(url, "SELECT status, attempts, last_error FROM samsa_outbox WHERE id = %s", (rid,))[0]
    check_eq((status, attempts), ("DEAD", 3), "poison row DEAD after max.attempts=3 attempts")
    check(err and ("MSG_SIZE_TOO_LARGE" in err or "too large" in err.lower()),
          "last_error names the broker's refusal: %r" % err)
    dlt = consume_all(st.broker.bootstrap, topic + ".DLT", expect=1, idle=0.5)
    check_eq(len(dlt), 1, "one record on the dead-letter topic %s.DLT" % topic)
    h = dlt[0]["headers"]
    check_eq((dlt[0]["key"], h.get("samsa.event_id"), h.get("samsa.original_topic"), h.get("samsa.attempts")),
             ("poison", eid, topic, "3"), "dead letter: key, samsa.event_id, samsa.original_topic, samsa.attempts")
    check(h.get("samsa.error") and ("MSG_SIZE_TOO_LARGE" in h["samsa.error"] or "too large" in h["samsa.error"].lower()),
          "dead letter: samsa.error carries the error: %r" % h.get("samsa.error"))
    check(h.get("samsa.payload_omitted") is not None and int(h["samsa.payload_omitted"]) > POISON,
          "dead letter: the value did not fit either, samsa.payload_omitted=%s" % h.get("samsa.payload_omitted"))
    check(relay.log_lines(r"row %d DEAD" % rid), "the relay logged the row going DEAD")


def test_poison_continue(st):
    url = st.new_db()
    topic = unique("poison-c")
    relay = st.relay(url, **FAST_RETRY)
    expected, pids = insert_rows(url, topic)
    w = Watcher(url, pids)
    w.start()
    try:
        wait_for(lambda: q(url, "SELECT status FROM samsa_outbox WHERE id = %s", (pids[4][0],))[0][0] == "PUBLISHED",
                 60, "poison key's seq 4 PUBLISHED")
    finally:
        w.halt.set()
        w.join()
    check(w.seen_init > 0 and not w.violations,
          "a failing row held back its key's later rows (%d polls, %d while it was INIT)"
          % (w.polls, w.seen_init), w.violations[:3])
    wait_for(lambda: status_counts(url) == {"PUBLISHED": len(expected), "DEAD": 1}, 30,
             "every other row PUBLISHED, one DEAD")
    check(True, "every other row PUBLISHED, the poison row DEAD")
    check_dead_row(st, url, topic, pids, relay)
    recs = consume_all(st.broker.bootstrap, topic, expect=len(expected))
    check_order(recs, expected, "continue")
    seqs = [r["value"] for r in sorted(recs, key=lambda r: r["offset"]) if r["key"] == "poison"]
    check_eq([int(x.split(b'"seq": ')[1].rstrip(b"}")) for x in seqs], [1, 3, 4],
             "poison key on the topic: seq 1, 3, 4 (the DEAD row skipped, the rest in order)")
    check_eq(relay.metric("samsa_relay_dead_letters_total"), 1.0, "metrics: one dead letter")


def test_poison_block(st):
    url = st.new_db()
    topic = unique("poison-b")
    relay = st.relay(url, on_dead="block", **FAST_RETRY)
    expected, pids = insert_rows(url, topic, per_key=5)
    wait_for(lambda: q(url, "SELECT status FROM samsa_outbox WHERE id = %s", (pids[2][0],))[0][0] == "DEAD",
             60, "seq 2 DEAD")
    check_dead_row(st, url, topic, pids, relay)

    def later_blocked(what):
        # rows of other keys committed after the blocked ones get published
        from relay_harness import pg_connect
        c = pg_connect(url)
        cur = c.cursor()
        ids = []
        seq = 100 + len(expected)
        for k in range(10):
            cur.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES (%s, %s, %s) RETURNING id, event_id::text",
                        (topic, "o%d" % k, payload("o%d" % k, seq)))
            rid, eid = cur.fetchone()
            ids.append(rid)
            expected[eid] = ("o%d" % k, seq)
        c.commit()
        c.close()
        wait_for(lambda: q(url, "SELECT count(*) FROM samsa_outbox WHERE id = ANY(%s) AND status = 'PUBLISHED'",
                           (ids,))[0][0] == len(ids), 30, "later rows of other keys PUBLISHED")
        st34 = [q(url, "SELECT status FROM samsa_outbox WHERE id = %s", (pids[s][0],))[0][0] for s in (3, 4)]
        check_eq(st34, ["INIT", "INIT"], "%s: seq 3, 4 of the DEAD row's key stay INIT while other keys flow" % what)

    later_blocked("on.dead=block")
    relay.restart()
    later_blocked("after a relay restart")

    # the operator fixes and re-queues the DEAD row
    # (as samsa outbox retry does, last_error is left as it was)
    q(url, "UPDATE samsa_outbox SET status = 'INIT', attempts = 0, next_attempt_at = now(),"
           " payload = %s WHERE id = %s", (payload("poison", 2), pids[2][0]))
    expected[pids[2][1]] = ("poison", 2)
    wait_for(lambda: status_counts(url) == {"PUBLISHED": len(expected)}, 30,
             "the re-queued row and its key's later rows PUBLISHED")
    check(True, "re-queued: the DEAD row and the rows it held are PUBLISHED")
    check_eq(q(url, "SELECT last_error FROM samsa_outbox WHERE id = %s", (pids[2][0],))[0][0], None,
             "the re-queued row's last_error is cleared once it is published")
    recs = consume_all(st.broker.bootstrap, topic, expect=len(expected))
    check_order(recs, expected, "block")
    seqs = [r["value"] for r in sorted(recs, key=lambda r: r["offset"]) if r["key"] == "poison"]
    check_eq([int(x.split(b'"seq": ')[1].rstrip(b"}")) for x in seqs], [1, 2, 3, 4],
             "poison key on the topic: seq 1, 2, 3, 4 in order")


def test_backoff(st):
    url = st.new_db()
    topic = unique("backoff")
    relay = st.relay(url, max_attempts=4, retry_backoff_ms=3000, retry_backoff_max_ms=3000)
    rid = q(url, "INSERT INTO samsa_outbox (topic, key, payload) VALUES (%s, 'slow', %s) RETURNING id",
            (topic, b"z" * POISON))[0][0]
    from relay_harness import pg_connect
    c = pg_connect(url, autocommit=True)
    waiting = {}   # attempts -> polls that saw the retry still in the future
    due = {}       # attempts -> next_attempt_at written with them
    polls = 0
    try:
        def dead():
            nonlocal polls
            status, attempts, nxt, future = q(c, "SELECT status, attempts, next_attempt_at,"
                                                 " next_attempt_at > clock_timestamp()"
                                                 " FROM samsa_outbox WHERE id = %s", (rid,))[0]
            polls += 1
            if status == "INIT" and attempts > 0:
                due.setdefault(attempts, nxt)
                if future:
                    waiting[attempts] = waiting.get(attempts, 0) + 1
            return status == "DEAD"
        wait_for(dead, 90, "the poison row DEAD after 4 attempts", interval=0.005)
    finally:
        c.close()
    check_eq(q(url, "SELECT status, attempts FROM samsa_outbox WHERE id = %s", (rid,))[0], ("DEAD", 4),
             "the poison row DEAD after max.attempts=4 attempts")
    print("  %d polls; retries seen waiting (attempt: polls): %s; next_attempt_at by attempt: %s"
          % (polls, waiting, {a: str(t) for a, t in sorted(due.items())}), flush=True)
    check(waiting, "a failed attempt's retry was seen scheduled in the future (backoff), not made at once",
          "no poll ever saw next_attempt_at ahead of the clock; next_attempt_at by attempt: %s" % due)
    times = [due[a] for a in sorted(due)]
    check(all(a < b for a, b in zip(times, times[1:])), "next_attempt_at rose with every attempt", due)
    wait_for(lambda: relay.metric("samsa_relay_retries_total") == 3.0, 10, "retries_total 3")
    check(True, "metrics: retries_total 3 (attempts 1 to 3 of 4 scheduled a retry)")


def test_metrics(st):
    url = st.new_db()
    topic = unique("metrics")
    q(url, "INSERT INTO samsa_outbox (topic, key, payload, created_at, next_attempt_at)"
           " VALUES (%s, 'later', %s, now() - interval '90 seconds', now() + interval '1 hour')",
      (topic, payload("later", 1)))
    relay = st.relay(url, **FAST_RETRY)
    from relay_harness import pg_connect
    c = pg_connect(url)
    cur = c.cursor()
    for i in range(300):
        cur.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES (%s, %s, %s)",
                    (topic, "m%d" % (i % 10), payload("m%d" % (i % 10), i)))
    cur.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES (%s, 'px', %s)",
                (topic, b"y" * POISON))
    c.commit()
    c.close()
    want = {"INIT": 1, "PUBLISHED": 300, "DEAD": 1}
    wait_for(lambda: status_counts(url) == want, 60, "300 PUBLISHED, 1 DEAD, 1 INIT (not due)")
    check(True, "the table holds %s" % want)

    def rows_match():
        m = relay.scrape()
        return m if all(m.get('samsa_outbox_rows{status="%s"}' % s) == float(want.get(s, 0))
                        for s in ("INIT", "PUBLISHED", "COMPLETE", "DEAD")) else None
    m = wait_for(rows_match, 10, "samsa_outbox_rows to match the table")
    check(True, "metrics: samsa_outbox_rows by status match the table: %s"
          % {k: v for k, v in m.items() if k.startswith("samsa_outbox_rows")})
    age = m["samsa_outbox_oldest_unpublished_age_seconds"]
    check(90 <= age < 150, "metrics: oldest unpublished age %.1f s (the row was created 90 s ago)" % age)
    check_eq(m["samsa_relay_published_total"], 300.0, "metrics: published_total 300 (dead letters not counted)")
    check_eq(m["samsa_relay_retries_total"], 2.0, "metrics: retries_total 2 (attempts 1 and 2 of max.attempts 3)")
    check_eq(m["samsa_relay_dead_letters_total"], 1.0, "metrics: dead_letters_total 1")
    check_eq(m["samsa_relay_publish_latency_seconds_count"], 300.0, "metrics: 300 latency observations")
    buckets = sorted(((float(k.split('"')[1]) if "+Inf" not in k else float("inf")), v)
                     for k, v in m.items() if k.startswith("samsa_relay_publish_latency_seconds_bucket"))
    check(len(buckets) > 5 and all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])) and buckets[-1][1] == 300.0,
          "metrics: latency buckets cumulative, +Inf = count")
    check(m["samsa_relay_publish_latency_seconds_sum"] > 0, "metrics: latency sum > 0")
    check_eq((m["samsa_relay_inflight"], m["samsa_relay_owned_slots"], m["samsa_relay_broker_up"]),
             (0.0, 64.0, 1.0), "metrics: inflight 0, 64 owned slots, broker_up 1")
    check_eq(m["samsa_relay_order_violations_total"], 0.0, "metrics: no order violation")

    q(url, "UPDATE samsa_outbox SET next_attempt_at = now() WHERE key = 'later'")
    m = wait_for(lambda: (lambda m: m if m['samsa_outbox_rows{status="INIT"}'] == 0.0
                          and m["samsa_relay_published_total"] == 301.0 else None)(relay.scrape()),
                 10, "the last row published and counted")
    check_eq(m["samsa_outbox_oldest_unpublished_age_seconds"], 0.0, "metrics: no INIT row: oldest age 0")
    check_eq(m['samsa_outbox_rows{status="PUBLISHED"}'], 301.0, "metrics: 301 PUBLISHED")
    with __import__("urllib.request").request.urlopen(relay.metrics_url.replace("/metrics", "/healthz"), timeout=5) as r:
        check_eq((r.status, r.read()), (200, b"ok\n"), "/healthz answers ok")


def main():
    st = Stack(name="relay-dead", broker_overrides={"message.max.bytes": 20000})
    try:
        st.start()
        return run_outbox_tests(st, [test_poison_continue, test_poison_block, test_backoff, test_metrics])
    finally:
        st.cleanup()


if __name__ == "__main__":
    sys.exit(main())
