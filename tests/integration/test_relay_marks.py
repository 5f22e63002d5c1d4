#!/usr/bin/python3
"""The relay's marks: PUBLISHED only after the broker's acknowledgement, and
a PUBLISHED mark, once visible, stays (PostgreSQL and SQLite).

test_mark_after_ack_{pg,sqlite}: rows flow (the topic exists, the producer
  is connected); then the broker is frozen with SIGSTOP (its sockets stay
  open, it answers nothing) and 60 rows are committed. Once the relay
  reports them in flight (samsa_relay_inflight, rows handed to the producer)
  and has claimed twice more (samsa_relay_claims_total: its loop ran on and
  wrote whatever it had queued), none of them may be PUBLISHED: nothing
  acknowledged them. SIGCONT: every row PUBLISHED, and each row's
  kafka_partition/kafka_offset is where the broker put its record (the
  offset came from the acknowledgement), each event once.

test_mark_durable_{pg,sqlite}: 4000 rows, the relay publishing; as soon as
  a poll (a connection of its own) sees more PUBLISHED rows than at the last
  kill, the relay is killed with SIGKILL; the rows PUBLISHED at that moment
  are noted with their offsets, the relay started again; three times. At
  the end: every row PUBLISHED; each row seen PUBLISHED before a kill still
  has the partition and offset it had then, and no copy of it follows that
  offset (a mark that was visible was committed: the restarted relay never
  publishes the row again); duplicates only of rows that were INIT at a
  kill (acknowledged, not yet marked).
"""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, check_eq, unique, wait_for  # noqa: E402
from relay_harness import (AppOutbox, Stack, check_order, check_per_key_order, consume_all,  # noqa: E402
                           q, run_outbox_tests)


class Outbox(AppOutbox):
    """The outbox table of one test, PostgreSQL or SQLite, from the
    application's side."""

    def insert(self, topic, rows):
        """rows: [(key, seq)]; one transaction. Returns {event_id: (key, seq)}."""
        return dict(zip(self.insert_rows(topic, rows), rows))

    def published(self):
        """{event_id: (partition, offset)} of the PUBLISHED rows."""
        return {r[0]: (r[1], r[2]) for r in self.q(
            "SELECT event_id, kafka_partition, kafka_offset FROM samsa_outbox WHERE status = 'PUBLISHED'")}


def mark_after_ack(st, kind):
    ob = Outbox(st, kind)
    topic = unique("ack-" + kind)
    relay = st.relay(ob.db)
    try:
        expected = ob.insert(topic, [("w", s) for s in range(1, 6)])
        wait_for(lambda: ob.counts() == {"PUBLISHED": 5}, 30, "the first 5 rows PUBLISHED")
        check(True, "%s: rows flow (5 PUBLISHED)" % kind)
        os.kill(st.broker.pid, signal.SIGSTOP)
        try:
            rows = [("k%d" % (i % 6), i // 6 + 1) for i in range(60)]
            expected.update(ob.insert(topic, rows))
            wait_for(lambda: relay.metric("samsa_relay_inflight", 0) >= 60, 30,
                     "the 60 rows handed to the producer (samsa_relay_inflight)")
            c0 = relay.metric("samsa_relay_claims_total")
            wait_for(lambda: relay.metric("samsa_relay_claims_total") >= c0 + 2, 30, "two more claims")
            c = ob.counts()
            check_eq(c, {"PUBLISHED": 5, "INIT": 60},
                     "%s: 60 rows in flight to a frozen broker (%d claims later): none PUBLISHED, nothing "
                     "acknowledged them" % (kind, relay.metric("samsa_relay_claims_total") - c0))
        finally:
            os.kill(st.broker.pid, signal.SIGCONT)
        wait_for(lambda: ob.counts() == {"PUBLISHED": 65}, 60, "all 65 rows PUBLISHED after SIGCONT")
        check(True, "%s: the broker thawed: all 65 rows PUBLISHED" % kind)
        recs = consume_all(st.broker.bootstrap, topic, expect=65)
        check_order(recs, expected, kind)
        where = {(r["partition"], r["offset"]): r["headers"]["samsa.event_id"] for r in recs}
        pub = ob.published()
        wrong = [(e, p) for e, p in pub.items() if where.get(p) != e]
        check(not wrong, "%s: each row's kafka_partition/kafka_offset is where the broker put its record" % kind,
              wrong[:5])
    finally:
        ob.close()


def test_mark_after_ack_pg(st):
    mark_after_ack(st, "pg")


def test_mark_after_ack_sqlite(st):
    mark_after_ack(st, "sqlite")


def mark_durable(st, kind):
    ob = Outbox(st, kind)
    topic = unique("mark-" + kind)
    n = 4000
    try:
        expected = {}
        for part in range(4):
            expected.update(ob.insert(topic, [("k%d" % (i % 40), part * 25 + i // 40 + 1)
                                              for i in range(1000)]))
        relay = st.relay(ob.db, batch_size=200, max_inflight=1000)
        seen = {}          # event id -> (partition, offset) seen PUBLISHED before a kill
        init_at_kill = set()
        last = 0
        for k in range(3):
            wait_for(lambda: ob.q("SELECT count(*) FROM samsa_outbox WHERE status = 'PUBLISHED'")[0][0] > last,
                     60, "more rows PUBLISHED than at the last kill", interval=0.001)
            pub = ob.published()
            relay.kill9()
            after = ob.published()
            lost = [e for e in pub if after.get(e) != pub[e]]
            check(not lost, "%s kill %d: SIGKILL right after %d rows were seen PUBLISHED: each still PUBLISHED at "
                  "the same offset once the relay is dead" % (kind, k + 1, len(pub)), lost[:5])
            for e, p in pub.items():
                seen.setdefault(e, p)
            init_at_kill |= {r[0] for r in ob.q("SELECT event_id FROM samsa_outbox WHERE status = 'INIT'")}
            last = len(after)
            relay.start()
        wait_for(lambda: ob.counts() == {"PUBLISHED": n}, 90, "all %d rows PUBLISHED" % n)
        check(True, "%s: all %d rows PUBLISHED after 3 kills" % (kind, n))
        final = ob.published()
        moved = [(e, seen[e], final[e]) for e in seen if final[e] != seen[e]]
        check(not moved, "%s: every row seen PUBLISHED before a kill (%d) kept its partition and offset"
              % (kind, len(seen)), moved[:5])
        recs = consume_all(st.broker.bootstrap, topic, expect=n, timeout=60)
        copies = {}
        for r in recs:
            copies.setdefault(r["headers"]["samsa.event_id"], []).append((r["partition"], r["offset"]))
        check_eq(set(copies), set(expected), "%s: every committed event on the topic, nothing else" % kind)
        # a copy after the one its mark names was produced after the mark
        # was committed (a row is never in flight twice at once)
        again = {e: (seen[e], v) for e, v in copies.items() if e in seen and any(c > seen[e] for c in v)}
        check(not again, "%s: no row seen PUBLISHED before a kill was published again after that" % kind,
              list(again.items())[:5])
        dups = [e for e, v in copies.items() if len(v) > 1]
        check(all(e in init_at_kill for e in dups),
              "%s: duplicates (%d) only of rows INIT at a kill" % (kind, len(dups)))
        off = [e for e, p in final.items() if p not in copies[e]]
        check(not off, "%s: every row's partition/offset holds a copy of it" % kind, off[:5])
        check_per_key_order(recs, kind, first_only=True)
    finally:
        ob.close()


def test_mark_durable_pg(st):
    mark_durable(st, "pg")


def test_mark_durable_sqlite(st):
    mark_durable(st, "sqlite")


def main():
    st = Stack(name="relay-marks")
    try:
        st.start()
        return run_outbox_tests(st, [test_mark_after_ack_pg, test_mark_after_ack_sqlite,
                                     test_mark_durable_pg, test_mark_durable_sqlite])
    finally:
        st.cleanup()


if __name__ == "__main__":
    sys.exit(main())
