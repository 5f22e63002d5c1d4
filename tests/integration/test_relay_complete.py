#!/usr/bin/python3
"""Outbox: COMPLETE comes only from the tracked groups' committed offsets.

A one-partition topic, 40 rows published (offsets 0..39), a relay with
track.groups=g1,g2 and complete.interval.ms=100. Consumers (confluent-kafka,
a group each, reading the partition and committing a consumed record's
offset) move the groups step by step; after each step the rows must be
COMPLETE exactly below the lowest committed offset of the two groups and
PUBLISHED from there on, and stay so for 10 more tracking rounds (counted
by the relay's samsa_relay_complete_rounds_total, not guessed from a sleep):
  1. only g2 commits (30): g1 never committed -> nothing COMPLETE;
  2. g1 commits 20 -> offsets 0..19 COMPLETE, 20..39 PUBLISHED;
  3. g1 commits 40, g2 still 30 -> 0..29 COMPLETE, 30..39 PUBLISHED;
  4. g2 commits 40 -> all COMPLETE.
Also: completed_total and samsa_outbox_rows{status="COMPLETE"} say 40.

Per-topic tracking (test_per_topic): track.groups=ga:A,gb:B (the shop's
shape: each group reads one topic), 10 rows on each of A, B and C (one
partition each). C is tracked by nobody: its rows go COMPLETE at once. A and
B stay PUBLISHED (ga, gb never committed) for 10 rounds; ga commits A to 10:
all of A COMPLETE, though ga never reads B and gb never reads A (before
per-topic tracking, a group that never commits on a topic kept every row of
it from COMPLETE); gb commits B to 4: B's offsets 0..3 COMPLETE, 4..9
PUBLISHED, stable for 10 rounds.

Cleanup (test_cleanup): cleanup.after.ms=1 deletes COMPLETE rows (or, with
cleanup.archive, moves them to samsa_outbox_archive with archived_at) and
keeps PUBLISHED and INIT ones; with cleanup.include.published PUBLISHED
rows go too; samsa_relay_cleaned_total and the log say how many.

Stale re-publishing (test_republish_stale): track.groups=g1. Rows 0..4 of a
one-partition topic are published and consumed by g1 (COMPLETE); then the
relay is restarted with republish.stale.after.ms=3000 and rows 5..9 are
published, which g1 never consumes. Checked: each of them is re-queued and
published again (a second record with the same samsa.event_id, and the row
then PUBLISHED at its new offset), and its second record was produced at
least 3000 ms after its first (the record timestamps): a row is re-queued
only once stale; COMPLETE rows 0..4 are never re-published (one record
each, still COMPLETE at offsets 0..4); requeued_stale_total counts them and
the relay logged the re-queueing.

The broker gone while rows wait for their completion (test_broker_outage):
track.groups=g1, 20 rows PUBLISHED, g1 at 5. The broker is SIGKILLed and
stays down until the relay has logged that a tracking round could not
read g1's commits (timed out: the coordinator is gone), then started again
on its port; g1 commits 20. Checked: the same relay process (it used to
abort in librdkafka 2.0.2's admin API, librdkafka #4605: an admin request
that timed out waiting for its coordinator was freed, then the coordinator
came back and the request ran anyway), every row COMPLETE, a tracking
round applied after the outage.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, check_eq, unique, wait_for  # noqa: E402
from relay_harness import Stack, consume_all, payload, pg_connect, q, rounds_pass, run_outbox_tests, status_counts  # noqa: E402


def consume_and_commit(bootstrap, group, topic, upto):
    """A consumer of group reads the partition from its committed offset
    (or the start) and commits after the record at offset upto-1."""
    import confluent_kafka as ck
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                     "auto.offset.reset": "earliest"})
    try:
        committed = c.committed([ck.TopicPartition(topic, 0)], timeout=10)[0].offset
        start = committed if committed >= 0 else 0
        c.assign([ck.TopicPartition(topic, 0, start)])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            if m.offset() == upto - 1:
                c.commit(message=m, asynchronous=False)
                got = c.committed([ck.TopicPartition(topic, 0)], timeout=10)[0].offset
                check_eq(got, upto, "group %s committed offset %d" % (group, upto))
                return
        raise AssertionError("group %s: offset %d not reached" % (group, upto - 1))
    finally:
        c.close()


def statuses(url):
    return q(url, "SELECT kafka_offset, status FROM samsa_outbox ORDER BY kafka_offset")


def expect_complete_below(url, bound, what, relay):
    want = [(o, "COMPLETE" if o < bound else "PUBLISHED") for o in range(40)]
    wait_for(lambda: statuses(url) == want, 15, "%s: COMPLETE below offset %d" % (what, bound))
    rounds_pass(relay, 11, what)  # the first may have begun before: 10 whole rounds
    check_eq(statuses(url), want, "%s: rows below offset %d COMPLETE, the rest PUBLISHED (after 10 rounds)"
             % (what, bound))


def test_complete(st):
    url = st.new_db()
    topic = unique("complete")
    import confluent_kafka.admin as ka
    admin = ka.AdminClient({"bootstrap.servers": st.broker.bootstrap})
    admin.create_topics([ka.NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(10)
    relay = st.relay(url, track_groups="g1,g2", complete_interval_ms=100)
    c = pg_connect(url)
    cur = c.cursor()
    for i in range(40):
        cur.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES (%s, %s, %s)",
                    (topic, "c%d" % (i % 4), payload("c%d" % (i % 4), i)))
    c.commit()
    c.close()
    wait_for(lambda: status_counts(url) == {"PUBLISHED": 40}, 30, "40 rows PUBLISHED")
    check_eq([o for o, _ in statuses(url)], list(range(40)), "40 rows PUBLISHED at offsets 0..39")

    consume_and_commit(st.broker.bootstrap, "g2", topic, 30)
    expect_complete_below(url, 0, "only g2 committed (g1 never)", relay)
    consume_and_commit(st.broker.bootstrap, "g1", topic, 20)
    expect_complete_below(url, 20, "g1 at 20, g2 at 30", relay)
    consume_and_commit(st.broker.bootstrap, "g1", topic, 40)
    expect_complete_below(url, 30, "g1 at 40, g2 at 30", relay)
    consume_and_commit(st.broker.bootstrap, "g2", topic, 40)
    want = [(o, "COMPLETE") for o in range(40)]
    wait_for(lambda: statuses(url) == want, 15, "all COMPLETE")
    check(True, "both groups at 40: all rows COMPLETE")
    wait_for(lambda: relay.metric('samsa_outbox_rows{status="COMPLETE"}') == 40.0, 10, "metrics catch up")
    check_eq(relay.metric("samsa_relay_completed_total"), 40.0, "metrics: completed_total 40")
    check_eq(relay.metric('samsa_outbox_rows{status="COMPLETE"}'), 40.0, "metrics: 40 rows COMPLETE")


def topic_statuses(url, topics):
    rows = q(url, "SELECT topic, kafka_offset, status FROM samsa_outbox ORDER BY topic, kafka_offset")
    return {t: [(o, s) for tt, o, s in rows if tt == t] for t in topics}


def test_per_topic(st):
    url = st.new_db()
    a, b, c = unique("pta"), unique("ptb"), unique("ptc")
    import confluent_kafka.admin as ka
    admin = ka.AdminClient({"bootstrap.servers": st.broker.bootstrap})
    fs = admin.create_topics([ka.NewTopic(t, num_partitions=1, replication_factor=1) for t in (a, b, c)])
    for f in fs.values():
        f.result(10)
    relay = st.relay(url, track_groups="ga:%s,gb:%s" % (a, b), complete_interval_ms=100)
    conn = pg_connect(url)
    cur = conn.cursor()
    for i in range(10):
        for t in (a, b, c):
            cur.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES (%s, %s, %s)",
                        (t, "k%d" % (i % 3), payload("k%d" % (i % 3), i)))
    conn.commit()
    conn.close()

    def want(a_below, b_below):
        return {a: [(o, "COMPLETE" if o < a_below else "PUBLISHED") for o in range(10)],
                b: [(o, "COMPLETE" if o < b_below else "PUBLISHED") for o in range(10)],
                c: [(o, "COMPLETE") for o in range(10)]}

    def expect(a_below, b_below, what):
        w = want(a_below, b_below)
        wait_for(lambda: topic_statuses(url, (a, b, c)) == w, 20, what)
        rounds_pass(relay, 11, what)  # the first may have begun before: 10 whole rounds
        check_eq(topic_statuses(url, (a, b, c)), w, "%s (after 10 rounds)" % what)

    expect(0, 0, "C (tracked by no group) COMPLETE at once; A and B PUBLISHED (ga, gb never committed)")
    consume_and_commit(st.broker.bootstrap, "ga", a, 10)
    expect(10, 0, "ga at 10 on A: all of A COMPLETE although ga never reads B; B still PUBLISHED")
    consume_and_commit(st.broker.bootstrap, "gb", b, 4)
    expect(10, 4, "gb at 4 on B: B's offsets 0..3 COMPLETE, 4..9 PUBLISHED")
    wait_for(lambda: relay.metric("samsa_relay_completed_total") == 24.0, 10, "completed_total 24")
    check(True, "metrics: completed_total 24 (10 of C, 10 of A, 4 of B)")


def test_republish_stale(st):
    url = st.new_db()
    topic = unique("stale")
    stale_ms = 3000
    import confluent_kafka.admin as ka
    admin = ka.AdminClient({"bootstrap.servers": st.broker.bootstrap})
    admin.create_topics([ka.NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(10)

    def insert(seqs):
        c = pg_connect(url)
        cur = c.cursor()
        ids = []
        for i in seqs:
            cur.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES (%s, %s, %s) RETURNING event_id::text",
                        (topic, "s%d" % (i % 2), payload("s%d" % (i % 2), i)))
            ids.append(cur.fetchone()[0])
        c.commit()
        c.close()
        return ids

    relay = st.relay(url, track_groups="g1", complete_interval_ms=100)
    done = insert(range(5))
    wait_for(lambda: status_counts(url) == {"PUBLISHED": 5}, 30, "rows 0..4 PUBLISHED")
    consume_and_commit(st.broker.bootstrap, "g1", topic, 5)
    wait_for(lambda: status_counts(url) == {"COMPLETE": 5}, 30, "rows 0..4 COMPLETE")
    check(True, "rows 0..4 published and consumed by g1: COMPLETE")
    relay.stop()
    relay = st.relay(url, track_groups="g1", complete_interval_ms=100, republish_stale_after_ms=stale_ms)
    stale = insert(range(5, 10))
    wait_for(lambda: relay.metric("samsa_relay_requeued_stale_total") >= 5, 60, "the 5 stale rows re-queued")
    # published again: each PUBLISHED once more, at an offset past the first ten
    wait_for(lambda: q(url, "SELECT count(*) FROM samsa_outbox WHERE event_id::text = ANY(%s)"
                            " AND status = 'PUBLISHED' AND kafka_offset >= 10", (stale,))[0][0] == 5,
             60, "the 5 stale rows PUBLISHED again")
    check(True, "rows 5..9 (never consumed by g1) re-queued and PUBLISHED again")
    recs = consume_all(st.broker.bootstrap, topic, expect=15)
    copies = {}
    for r in sorted(recs, key=lambda r: r["offset"]):
        copies.setdefault(r["headers"]["samsa.event_id"], []).append(r)
    check_eq({e: len(copies.get(e, [])) for e in done}, {e: 1 for e in done},
             "COMPLETE rows 0..4: one record each, never re-published")
    check_eq(q(url, "SELECT kafka_offset, status FROM samsa_outbox WHERE event_id::text = ANY(%s) ORDER BY 1",
               (done,)), [(o, "COMPLETE") for o in range(5)], "rows 0..4 still COMPLETE at offsets 0..4")
    check(all(len(copies.get(e, [])) >= 2 for e in stale),
          "rows 5..9: a second record with the same samsa.event_id each",
          {e: len(copies.get(e, [])) for e in stale})
    gaps = {e: copies[e][1]["timestamp"] - copies[e][0]["timestamp"] for e in stale if len(copies.get(e, [])) >= 2}
    check(gaps and all(g >= stale_ms for g in gaps.values()),
          "each second record produced at least %d ms after the first (re-queued only once stale): %s ms"
          % (stale_ms, sorted(gaps.values())), gaps)
    lines = relay.log_lines(r"republish.stale.after.ms: [0-9]+ PUBLISHED rows not COMPLETE after %d ms re-queued"
                            % stale_ms)
    check(lines, "the relay logged the re-queueing: %s" % (lines[:1] and lines[0].split(" ", 3)[-1][:100]))


def test_cleanup(st):
    """cleanup.after.ms: COMPLETE rows that old are deleted (cleanup.archive:
    moved to samsa_outbox_archive with archived_at), PUBLISHED ones kept;
    with cleanup.include.published PUBLISHED rows too; INIT rows never.
    samsa_relay_cleaned_total counts them and the relay logs it."""
    import confluent_kafka.admin as ka
    admin = ka.AdminClient({"bootstrap.servers": st.broker.bootstrap})
    done, kept = unique("clean-done"), unique("clean-kept")
    for f in admin.create_topics([ka.NewTopic(t, num_partitions=1, replication_factor=1)
                                  for t in (done, kept)]).values():
        f.result(10)

    def fill(url, n_done, n_kept, n_init=0):
        conn = pg_connect(url)
        cur = conn.cursor()
        for i in range(n_done):
            cur.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES (%s, 'd', %s)", (done, payload("d", i)))
        for i in range(n_kept):
            cur.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES (%s, 'k', %s)", (kept, payload("k", i)))
        for i in range(n_init):   # not due for an hour: stays INIT
            cur.execute("INSERT INTO samsa_outbox (topic, key, payload, next_attempt_at) VALUES"
                        " (%s, 'i', %s, now() + interval '1 hour')", (done, payload("i", i)))
        conn.commit()
        conn.close()

    # the kept topic is tracked by a group that never commits: its rows stay PUBLISHED
    for archive in (False, True):
        url = st.new_db()
        relay = st.relay(url, track_groups="gnever:%s" % kept, complete_interval_ms=100, cleanup_after_ms=1,
                         cleanup_interval_ms=100, cleanup_archive="true" if archive else "false")
        fill(url, 6, 4, 2)
        what = "archived" if archive else "deleted"
        wait_for(lambda: q(url, "SELECT status, count(*) FROM samsa_outbox GROUP BY status ORDER BY status")
                 == [("INIT", 2), ("PUBLISHED", 4)], 30, "the COMPLETE rows %s" % what)
        rounds_pass(relay, 5, "cleanup goes on")   # cleanup.interval.ms = complete.interval.ms: about 5 cleanups
        check_eq(q(url, "SELECT status, count(*) FROM samsa_outbox GROUP BY status ORDER BY status"),
                 [("INIT", 2), ("PUBLISHED", 4)],
                 "cleanup.after.ms=1%s: the 6 COMPLETE rows %s, the 4 PUBLISHED and 2 INIT rows kept (5 rounds later)"
                 % (", cleanup.archive" if archive else "", what))
        arch = q(url, "SELECT count(*), count(archived_at), min(status), max(status) FROM samsa_outbox_archive")[0]
        check_eq(tuple(arch), (6, 6, "COMPLETE", "COMPLETE") if archive else (0, 0, None, None),
                 "samsa_outbox_archive: %s" % ("the 6 rows, each with archived_at" if archive else "empty"))
        wait_for(lambda: relay.metric("samsa_relay_cleaned_total") == 6.0, 10, "cleaned_total 6")
        check(True, "samsa_relay_cleaned_total 6")
        check("cleanup: %s 6 COMPLETE rows older than 1 ms" % what in relay.log_text(),
              "the relay logs the cleanup")
        st.end_test()

    url = st.new_db()
    relay = st.relay(url, cleanup_after_ms=1, cleanup_interval_ms=100, cleanup_include_published="true")
    fill(url, 0, 5, 1)
    wait_for(lambda: q(url, "SELECT status, count(*) FROM samsa_outbox GROUP BY status") == [("INIT", 1)], 30,
             "the PUBLISHED rows removed")
    check(True, "cleanup.include.published without tracking: the 5 PUBLISHED rows removed, the INIT one kept")
    check("cleanup: deleted 5 COMPLETE/PUBLISHED rows" in relay.log_text(), "and logged")


def test_broker_outage(st):
    url = st.new_db()
    topic = unique("outage")
    import confluent_kafka.admin as ka
    admin = ka.AdminClient({"bootstrap.servers": st.broker.bootstrap})
    admin.create_topics([ka.NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(10)
    relay = st.relay(url, track_groups="g1", complete_interval_ms=100)
    c = pg_connect(url)
    cur = c.cursor()
    for i in range(20):
        cur.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES (%s, %s, %s)",
                    (topic, "o%d" % (i % 4), payload("o%d" % (i % 4), i)))
    c.commit()
    c.close()
    wait_for(lambda: status_counts(url) == {"PUBLISHED": 20}, 30, "20 rows PUBLISHED")
    consume_and_commit(st.broker.bootstrap, "g1", topic, 5)
    wait_for(lambda: status_counts(url) == {"COMPLETE": 5, "PUBLISHED": 15}, 30, "rows 0..4 COMPLETE")
    check(True, "g1 at 5: rows 0..4 COMPLETE, 15 PUBLISHED (tracking rounds go on for them)")
    pid = relay.pid
    rounds = relay.metric("samsa_relay_complete_rounds_total")
    st.broker.kill9()
    wait_for(lambda: relay.log_lines(r"completion tracking: .*[Tt]imed out"), 90,
             "the relay to log a tracking round that timed out while the broker is down", 0.1)
    check(True, "broker down: the relay logged that a tracking round timed out")
    st.broker.start()
    consume_and_commit(st.broker.bootstrap, "g1", topic, 20)
    wait_for(lambda: status_counts(url) == {"COMPLETE": 20} or not relay.alive(), 60,
             "all 20 rows COMPLETE (or the relay gone)")
    check(relay.alive() and relay.pid == pid and relay.starts == 1,
          "the relay survived the broker's return (pid %d, one start)" % pid, relay.log_tail())
    check_eq(status_counts(url), {"COMPLETE": 20}, "g1 at 20 after the outage: all 20 rows COMPLETE")
    check(relay.metric("samsa_relay_complete_rounds_total") > rounds, "tracking rounds applied after the outage")


def main():
    st = Stack(name="relay-complete")
    try:
        st.start()
        return run_outbox_tests(st, [test_complete, test_per_topic, test_republish_stale, test_cleanup,
                                     test_broker_outage])
    finally:
        st.cleanup()


if __name__ == "__main__":
    sys.exit(main())
