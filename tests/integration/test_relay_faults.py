#!/usr/bin/python3
"""Outbox under faults (PostgreSQL, writers through libsamsa).

test_broker_down: 4 writers commit steadily; once rows flow the broker is
  stopped (SIGTERM) for 10 s while they keep committing, then restarted on
  the same port and data dir. Checked: during the outage nothing new becomes
  PUBLISHED and the relay reports broker_up 0; afterwards every committed
  event arrives exactly once, in per-key order; no row went DEAD or spent an
  attempt on the outage (attempts stay 0: librdkafka holds the rows, as the
  relay's message.timeout.ms=0 default documents); broker_up is 1 again.

test_kill9_inbox: 6000 rows are committed (and 3 writers keep committing);
  the relay is killed with SIGKILL while it has rows in flight, and
  restarted, three times. Checked against the rows' state at each kill:
  nothing lost; every row PUBLISHED at a kill was published exactly once,
  at the offset it records; duplicates only of rows that were INIT at a
  kill (in flight), at most max.inflight per kill; per-key order by first
  copy.
  Then a consumer applies the events through the inbox
  (samsa_inbox_begin_pg in its own transaction with the effect) and
  "crashes" after a record's effect committed but before its offset was
  committed; a second consumer takes over: every event's effect exactly once
  (the effect table has no unique constraint), and the inbox skipped every
  redelivered copy (relay duplicates + the crash's redelivery).
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, check_eq, unique, wait_for  # noqa: E402
from relay_harness import (Stack, Writers, check_order, check_per_key_order, consume_all,  # noqa: E402
                           q, run_outbox_tests, status_counts, tool)


def test_broker_down(st):
    url = st.new_db()
    topic = unique("down")
    tool("setup", url, "--keys", 20)
    relay = st.relay(url)
    # ~16 s of steady commits: 4 writers x 160 transactions, 100 ms apart
    writers = Writers(url, topic, n=4, txns=160, keys=20, per_txn=2, pause_us=100000, seed=11)
    try:
        wait_for(lambda: status_counts(url).get("PUBLISHED", 0) >= 40, 30, "rows flowing")
        st.broker.stop()
        check(not st.broker.alive(), "broker stopped (SIGTERM) while writers commit")
        t_down = time.monotonic()
        wait_for(lambda: relay.metric("samsa_relay_broker_up") == 0.0, 10, "relay reports broker_up 0")
        check(True, "metrics: broker_up 0 during the outage")
        # the acknowledgements the broker sent before it exited: once every
        # one the relay counted is marked, the count must not move
        def marked():
            acked = relay.metric("samsa_relay_published_total")
            return (acked,) if status_counts(url).get("PUBLISHED", 0) == acked else None
        acked, = wait_for(marked, 30, "every acknowledged row marked PUBLISHED")
        published_at_stop = status_counts(url).get("PUBLISHED", 0)
        claims_at_stop = relay.metric("samsa_relay_claims_total")
        # the outage itself: 10 s of commits the broker cannot take (the
        # scenario's length, not a wait for something to happen)
        time.sleep(max(0.0, 10.0 - (time.monotonic() - t_down)))
        check(relay.metric("samsa_relay_claims_total") > claims_at_stop,
              "the relay went on claiming during the outage (samsa_relay_claims_total %d -> %d)"
              % (claims_at_stop, relay.metric("samsa_relay_claims_total")))
        check_eq(relay.metric("samsa_relay_published_total"), acked, "metrics: no acknowledgement during the outage")
        c = status_counts(url)
        check(c.get("INIT", 0) > 100, "rows committed during the outage wait as INIT (%s)" % c)
        check_eq(c.get("PUBLISHED", 0), published_at_stop,
                 "nothing newly PUBLISHED while the broker was down")
        st.broker.start()
        check(True, "broker back on the same port %d and data dir after %.1f s"
              % (st.broker.port, time.monotonic() - t_down))
        committed, _ = writers.wait(timeout=120)
    finally:
        writers.kill()
    wait_for(lambda: status_counts(url) == {"PUBLISHED": len(committed)}, 60,
             "all %d rows PUBLISHED after the outage" % len(committed))
    check(True, "all %d committed rows PUBLISHED" % len(committed))
    recs = consume_all(st.broker.bootstrap, topic, expect=len(committed))
    check_order(recs, committed, "after the outage")
    check_eq(q(url, "SELECT max(attempts), count(*) FILTER (WHERE last_error IS NOT NULL) FROM samsa_outbox")[0],
             (0, 0), "the outage cost no row an attempt and left no error")
    check_eq(relay.metric("samsa_relay_broker_up"), 1.0, "metrics: broker_up back to 1")
    check_eq(relay.metric("samsa_relay_dead_letters_total"), 0.0, "metrics: no dead letter")
    lines = relay.log_lines(r"broker (down|up)")
    check(any("broker down" in l for l in lines) and any("broker up" in l for l in lines),
          "the relay logged the outage and the recovery", lines)


def test_kill9_inbox(st):
    url = st.new_db()
    topic = unique("kill9")
    tool("setup", url, "--keys", 50)
    n0 = 6000
    # committed before the relay starts: keys k0..k49, seq 1.. per key
    q(url, "INSERT INTO samsa_outbox (topic, key, type, payload)"
           " SELECT %s, 'k' || (i %% 50), 'test.event',"
           " convert_to('{\"k\": \"k' || (i %% 50) || '\", \"seq\": ' || (i / 50 + 1) || '}', 'UTF8')"
           " FROM generate_series(0, %s - 1) i", (topic, n0))
    q(url, "UPDATE samsa_test_agg SET seq = %s / 50", (n0,))
    pre = {r[0]: (r[1], int(r[2])) for r in q(
        url, "SELECT event_id::text, key, convert_from(payload, 'UTF8')::json->>'seq' FROM samsa_outbox")}
    relay = st.relay(url, max_inflight=4000, batch_size=500)
    writers = Writers(url, topic, n=3, txns=120, keys=50, per_txn=2, pause_us=5000, seed=5)
    init_at_kill, pub_at_kill, at_kill = set(), set(), {}
    try:
        # kill it mid-stream, three times: some rows acknowledged, some in flight
        for threshold in (1000, 2500, 4000):
            wait_for(lambda: status_counts(url).get("PUBLISHED", 0) >= threshold, 60,
                     "%d rows published" % threshold)
            wait_for(lambda: relay.metric("samsa_relay_inflight", 0) > 0, 10, "rows in flight")
            relay.kill9()
            snap = {r[0]: r[1:] for r in q(
                url, "SELECT event_id::text, status, kafka_partition, kafka_offset FROM samsa_outbox")}
            pub = {e for e, v in snap.items() if v[0] == "PUBLISHED"}
            init = {e for e, v in snap.items() if v[0] == "INIT"}
            check(pub and init, "relay killed with SIGKILL (exit %s) with rows in flight: %d PUBLISHED, %d INIT"
                  % (relay.last_exit, len(pub), len(init)))
            check(pub_at_kill <= pub, "rows PUBLISHED at an earlier kill are still PUBLISHED")
            for e in pub - pub_at_kill:
                at_kill[e] = snap[e]
            pub_at_kill |= pub
            init_at_kill |= init
            relay.start()
        committed, _ = writers.wait(timeout=120)
    finally:
        writers.kill()
    committed.update(pre)
    wait_for(lambda: status_counts(url) == {"PUBLISHED": len(committed)}, 90,
             "all %d rows PUBLISHED after the restart" % len(committed))
    check(True, "all %d committed rows PUBLISHED after the restart" % len(committed))

    recs = consume_all(st.broker.bootstrap, topic, expect=len(committed), timeout=60)
    copies = {}
    for r in recs:
        copies.setdefault(r["headers"]["samsa.event_id"], []).append(r)
    missing = [e for e in committed if e not in copies]
    check(not missing, "nothing lost: all %d committed events on the topic" % len(committed), missing[:5])
    check(not [e for e in copies if e not in committed], "no unknown event")
    dups = {e: v for e, v in copies.items() if len(v) > 1}
    bad_dups = [e for e in dups if e not in init_at_kill]
    print("  relay duplicates after the kills: %d (rows INIT at a kill: %d)" % (len(dups), len(init_at_kill)))
    check(not bad_dups, "duplicates only of rows INIT (in flight) at a kill (%d duplicates)" % len(dups),
          [(e, at_kill.get(e)) for e in bad_dups[:5]])
    check(len(dups) <= 3 * 4000, "at most max.inflight (4000) duplicates per kill", len(dups))
    final = {r[0]: r[1:] for r in q(url, "SELECT event_id::text, kafka_partition, kafka_offset FROM samsa_outbox")}
    moved = [(e, at_kill[e], final[e]) for e in at_kill if tuple(at_kill[e][1:]) != tuple(final[e])]
    check(not moved, "a row PUBLISHED at a kill keeps its partition and offset (%d rows)" % len(at_kill), moved[:5])
    lost_mark = [e for e, v in final.items() if (v[0], v[1]) not in
                 {(r["partition"], r["offset"]) for r in copies[e]}]
    check(not lost_mark, "every row's recorded partition/offset holds a copy of it", lost_mark[:5])
    check_per_key_order(recs, "after kill -9", first_only=True)
    seqs_ok = all(parse_ok(r, committed) for r in recs)
    check(seqs_ok, "every record's payload is its row's")

    # the inbox: a consumer crashes between its effect's commit and the
    # offset commit; the next one gets that record again
    group = "inbox-" + topic
    out1 = tool("inbox", url, "--bootstrap", st.broker.bootstrap, "--topic", topic, "--group", group,
                "--consumer", "billing", "--stop-after", 2000, "--max-ms", 60000, timeout=90)
    check("stopped without committing" in out1, "first consumer applied 2000 records and crashed: " + out1.strip())
    out2 = tool("inbox", url, "--bootstrap", st.broker.bootstrap, "--topic", topic, "--group", group,
                "--consumer", "billing", "--expect", len(committed), "--idle-ms", 1500, "--max-ms", 90000,
                timeout=120)
    check(True, "second consumer: " + out2.strip())
    total, distinct = q(url, "SELECT count(*), count(DISTINCT event_id) FROM samsa_test_effect")[0]
    check_eq(distinct, len(committed), "the inbox consumers applied every committed event")
    check_eq(total, len(committed), "each event's effect exactly once (no duplicate effect row)")
    inbox_rows = q(url, "SELECT count(*) FROM samsa_inbox WHERE consumer = 'billing'")[0][0]
    check_eq(inbox_rows, len(committed), "samsa_inbox holds one row per event")
    nums = [int(x) for x in out1.split()[2:7:2]] + [int(x) for x in out2.split()[2:7:2]]
    received = nums[0] + nums[3]
    skipped = nums[2] + nums[5]
    check(skipped >= len(dups) + 1 and received - skipped == len(committed),
          "the inbox skipped every redelivered copy: %d received, %d skipped (%d relay duplicates + the "
          "crash's redelivery)" % (received, skipped, len(dups)))


def parse_ok(r, committed):
    from relay_harness import parse_payload
    return parse_payload(r["value"]) == committed.get(r["headers"]["samsa.event_id"])


def main():
    st = Stack(name="relay-faults")
    try:
        st.start()
        return run_outbox_tests(st, [test_broker_down, test_kill9_inbox])
    finally:
        st.cleanup()


if __name__ == "__main__":
    sys.exit(main())
