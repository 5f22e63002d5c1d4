#!/usr/bin/python3
"""Outbox: three relays sharing one PostgreSQL outbox.

Phase 1, normal operation: relays r1, r2, r3 (balance.interval.ms=300)
  split the 64 key slots (each owns some, together all 64); 4 writers commit
  ~1600 events of 40 keys. Every event is published exactly once (no double
  publish), per-key order kept, every relay published some, and the relays'
  published_total add up to the events.
Phase 2, a relay dies: writers commit again; r2 is killed with SIGKILL
  mid-stream (frozen with SIGSTOP first, and the INIT rows of its slots
  read then: it may have published them without marking them). r1 and r3 take its slots (their owned_slots add up to 64
  again) and everything arrives; duplicates only of rows that were INIT at
  the kill in slots r2 owned (samsa_relay_heartbeat.owned, read just before
  the kill); per-key order by first copy.
Phase 3, it comes back: r2 restarts, gets a share of the slots back by a
  graceful hand-over (all 64 owned, each relay some), and a third batch of
  events is published exactly once, in order.

A hung relay (test_hung_relay_loses_its_slots): r1 and r2 split the slots,
  then r2 is frozen with SIGSTOP (its process and database sessions stay up:
  its slot locks do not go away by themselves). Writers commit events of
  every slot; r1 finds r2's heartbeat older than slot.lease.ms (2 s), ends
  its database session (logged), owns all 64 slots, and publishes every
  event exactly once, in order. r2 is resumed with SIGCONT: it finds its
  session gone, reconnects, gets a share of the slots back, and a second
  batch is published exactly once, in order; r2 exits 0 on SIGTERM.
"""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, check_eq, unique, wait_for  # noqa: E402
from relay_harness import (Stack, Writers, check_order, check_per_key_order, consume_all, q,  # noqa: E402
                           run_outbox_tests, status_counts, tool, wait_all_published)

PROPS = {"balance_interval_ms": 300}


def owned(relays):
    return [int(r.metric("samsa_relay_owned_slots")) for r in relays]


def balanced(relays):
    o = owned(relays)
    return o if sum(o) == 64 and all(x > 0 for x in o) else None


def stopped(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


def published(relays):
    return [int(r.metric("samsa_relay_published_total")) for r in relays]


def test_three_relays(st):
    url = st.new_db()
    topic = unique("multi")
    tool("setup", url, "--keys", 40)
    rs = [st.relay(url, name="r%d" % i, relay_id="r%d" % i, **PROPS) for i in (1, 2, 3)]
    o = wait_for(lambda: balanced(rs), 20, "the three relays to split the 64 slots")
    check(True, "slots split %s" % o)

    # phase 1
    committed, _ = Writers(url, topic, n=4, txns=200, keys=40, per_txn=3, pause_us=1000, seed=21).wait()
    wait_all_published(url, len(committed), 60, "phase 1 PUBLISHED")
    recs = consume_all(st.broker.bootstrap, topic, expect=len(committed))
    check_order(recs, committed, "phase 1, three relays")
    p = wait_for(lambda: (lambda p: p if sum(p) == len(committed) else None)(published(rs)), 10,
                 "published_total to add up")
    check(all(x > 0 for x in p), "every relay published some: %s = %d" % (p, len(committed)))
    total = dict(committed)

    # phase 2
    writers = Writers(url, topic, n=4, txns=250, keys=40, per_txn=3, pause_us=2000, seed=22)
    try:
        base = len(total)
        wait_for(lambda: status_counts(url).get("PUBLISHED", 0) >= base + 400, 60, "phase 2 flowing")
        hb = dict(q(url, "SELECT relay_id, owned FROM samsa_relay_heartbeat"))
        r2_slots = {s for s in range(64) if (hb.get("r2", 0) >> s) & 1}
        check(len(r2_slots) == owned([rs[1]])[0], "r2's slots from its heartbeat row: %d" % len(r2_slots))
        # frozen first, so the rows it may have published without marking are
        # read while it still holds its slots: after the kill, r1 and r3 may
        # take them over, publish and mark them before a query could run
        os.kill(rs[1].pid, signal.SIGSTOP)
        wait_for(lambda: stopped(rs[1].pid), 10, "r2 to be stopped")
        init_at_kill = {r[0] for r in q(url, "SELECT event_id::text FROM samsa_outbox WHERE status = 'INIT'"
                                             " AND slot = ANY(%s)", (sorted(r2_slots),))}
        rs[1].kill9()
        check(True, "r2 killed with SIGKILL; %d rows of its slots INIT at that moment" % len(init_at_kill))
        o = wait_for(lambda: (lambda o: o if sum(o) == 64 else None)(owned([rs[0], rs[2]])), 30,
                     "r1 and r3 to own all 64 slots")
        check(True, "r1 and r3 took over r2's slots: %s" % o)
        c2, _ = writers.wait()
    finally:
        writers.kill()
    total.update(c2)
    wait_all_published(url, len(total), 60, "phase 2 PUBLISHED")
    recs = consume_all(st.broker.bootstrap, topic, expect=len(total))
    copies = {}
    for r in recs:
        copies.setdefault(r["headers"]["samsa.event_id"], []).append(r)
    check(all(e in copies for e in total), "phase 2: nothing lost (%d events)" % len(total))
    check(not [e for e in copies if e not in total], "phase 2: no unknown event")
    dups = [e for e, v in copies.items() if len(v) > 1]
    bad = [e for e in dups if e not in init_at_kill]
    check(not bad, "phase 2: duplicates (%d) only of rows in r2's slots INIT at the kill" % len(dups), bad[:5])
    check_per_key_order(recs, "phase 2", first_only=True)

    # phase 3
    rs[1].start()
    o = wait_for(lambda: balanced(rs), 30, "r2 back with a share of the slots")
    check(True, "r2 restarted and got slots back: %s" % o)
    c3, _ = Writers(url, topic, n=4, txns=100, keys=40, per_txn=3, pause_us=1000, seed=23).wait()
    total.update(c3)
    wait_all_published(url, len(total), 60, "phase 3 PUBLISHED")
    recs = consume_all(st.broker.bootstrap, topic, expect=len(total) + len(dups))
    new = [r for r in recs if r["headers"]["samsa.event_id"] in c3]
    check_order(new, c3, "phase 3, after the hand-over")
    check_per_key_order(recs, "whole topic", first_only=True)


def test_hung_relay_loses_its_slots(st):
    url = st.new_db()
    topic = unique("hung")
    tool("setup", url, "--keys", 40)
    props = dict(PROPS, slot_lease_ms=2000)
    rs = [st.relay(url, name="h%d" % i, relay_id="h%d" % i, **props) for i in (1, 2)]
    o = wait_for(lambda: balanced(rs), 20, "the two relays to split the 64 slots")
    check(True, "slots split %s" % o)
    r1, r2 = rs
    os.kill(r2.pid, signal.SIGSTOP)
    try:
        committed, _ = Writers(url, topic, n=4, txns=150, keys=40, per_txn=3, pause_us=1000, seed=31).wait()
        o = wait_for(lambda: (lambda o: o if o[0] == 64 else None)(owned([r1])), 30,
                     "r1 to take the frozen r2's slots")
        check(True, "r1 owns all %d slots while r2 is frozen" % o[0])
        check(bool(r1.log_lines(r"relay h2 .*has not written its heartbeat.*looks hung")),
              "r1 logged that r2 looks hung and ended its session")
        wait_all_published(url, len(committed), 60, "events committed while r2 was frozen")
        recs = consume_all(st.broker.bootstrap, topic, expect=len(committed))
        check_order(recs, committed, "r2 frozen")
        total = dict(committed)
    finally:
        os.kill(r2.pid, signal.SIGCONT)
    o = wait_for(lambda: balanced(rs), 30, "r2, resumed, to get a share of the slots back")
    check(True, "r2 resumed and got slots back: %s" % o)
    check(bool(r2.log_lines(r"connection lost|terminat")), "r2 logged that its session was lost")
    c2, _ = Writers(url, topic, n=4, txns=100, keys=40, per_txn=3, pause_us=1000, seed=32).wait()
    total.update(c2)
    wait_all_published(url, len(total), 60, "events after r2 resumed")
    recs = consume_all(st.broker.bootstrap, topic, expect=len(total))
    check_order(recs, total, "after r2 resumed")


def main():
    st = Stack(name="relay-multi")
    try:
        st.start()
        return run_outbox_tests(st, [test_three_relays, test_hung_relay_loses_its_slots])
    finally:
        st.cleanup()


if __name__ == "__main__":
    sys.exit(main())
