#!/usr/bin/python3
"""offsets.retention.minutes: committed offsets of a group that has been
empty that long expire; those of a group with members never do.

The broker runs with offsets.retention.minutes=1 (the smallest it takes)
and offsets.retention.check.interval.ms=500, so this test takes a little
over a minute. Three groups commit at the same moment: one is empty from
the start (commits outside group management), one keeps a member that
heartbeats throughout, and one has a member that leaves 8 s later. The
first group's offsets must be there until 60 s have passed and be gone soon
after (OffsetFetch -1, the group no longer listed); the second's stay; the
third's outlive the first's by the time its member stayed, then go too.
After a kill -9 and a restart, the expired offsets stay expired and the
kept ones stay.

Usage: test_groups_retention.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check, check_eq, run_tests, unique  # noqa: E402
import group_wire as gw  # noqa: E402
from group_wire import Member  # noqa: E402

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

RETENTION_S = 60
CHECK_MS = 500
broker = Broker(overrides={"offsets.retention.minutes": RETENTION_S // 60,
                           "offsets.retention.check.interval.ms": CHECK_MS,
                           "group.min.session.timeout.ms": 1000, "group.initial.rebalance.delay.ms": 0,
                           "auto.create.topics.enable": "false"}, name="retention")


def test_retention():
    topic = unique("ret")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    del admin
    empty, active, left = unique("ret-empty"), unique("ret-active"), unique("ret-left")

    def committed(g):
        offs, _ = gw.offset_fetch(broker.port, g, {topic: [0]})
        return offs[(topic, 0)][0]

    def listed(g):
        return g in gw.list_groups(broker.port)[1]

    keeper = Member(broker.port, active, topics=[topic], session_ms=10000, client_id="itest-ret-active")
    leaver = Member(broker.port, left, topics=[topic], session_ms=10000, client_id="itest-ret-left")
    try:
        gw.form_group([keeper], lambda ids: {i: gw.assignment({topic: [0]}) for i in ids})
        gw.form_group([leaver], lambda ids: {i: gw.assignment({topic: [0]}) for i in ids})
        t0 = time.monotonic()
        res = gw.parse_offset_commit(gw.rpc(broker.port, gw.OFFSET_COMMIT, 2, gw.offset_commit_body(
            2, empty, -1, "", {(topic, 0): (11, None)})), 2)
        check_eq(res, {(topic, 0): 0}, "group %s (no members) commits 11" % empty)
        check_eq(keeper.commit({(topic, 0): (22, None)}), {(topic, 0): 0}, "group %s (a member) commits 22" % active)
        check_eq(leaver.commit({(topic, 0): (33, None)}), {(topic, 0): 0}, "group %s (a member) commits 33" % left)

        # the watch: a heartbeat a second for the members, a look at the
        # offsets twice a second (pacing, with the expiry moments recorded)
        gone = {}
        left_at = None
        hb_errors = 0
        deadline = t0 + RETENTION_S + 30
        while time.monotonic() < deadline and len(gone) < 2:
            now = time.monotonic() - t0
            hb_errors += keeper.heartbeat() != 0
            if left_at is None:
                if now >= 8:
                    err, _ = leaver.leave()
                    left_at = now
                    check_eq(err, 0, "group %s's member leaves at %.1f s: the group is empty from then on"
                             % (left, now))
                else:
                    leaver.heartbeat()
            for g in (empty, left):
                if g not in gone and committed(g) == -1:
                    gone[g] = (now, listed(g))
            time.sleep(CHECK_MS / 2000.0)
        check_eq(hb_errors, 0, "the active group's member heartbeated without an error throughout")
        print("  expired: %s" % {g: "%.1f s (still listed: %s)" % v for g, v in gone.items()})
        # not before the retention; how long after is MEASURED (the watch ends at
        # retention + 30 s, the hang guard)
        print("  MEASURED: expiry after the commit / after the group emptied: %s (retention %d s, checked every "
              "%d ms)" % ({g: "%.1f s" % (v[0] - (left_at if g == left else 0)) for g, v in gone.items()},
                          RETENTION_S, CHECK_MS), flush=True)
        check(empty in gone and RETENTION_S <= gone[empty][0],
              "the empty group's offset expired, not before %d s after its commit (%s)"
              % (RETENTION_S, gone.get(empty)))
        check(empty in gone and not gone[empty][1], "and the group, left with nothing, is no longer listed")
        check(left in gone and left_at + RETENTION_S <= gone[left][0],
              "the group whose member left at %.1f s expired, not before %d s after it became empty (%s)"
              % (left_at, RETENTION_S, gone.get(left)))
        check_eq(committed(active), 22, "the group with a member keeps its offset after %.0f s"
                 % (time.monotonic() - t0))
        broker.kill9()
        broker.restart()
        check_eq((committed(empty), committed(left), listed(empty)), (-1, -1, False),
                 "after kill -9 and a restart the expired offsets stay expired")
        check_eq(committed(active), 22, "and the kept one is kept")
    finally:
        keeper.close()
        leaver.close()


def main():
    try:
        broker.start()
        print("broker pid %d on %s: offsets.retention.minutes=%d offsets.retention.check.interval.ms=%d"
              % (broker.pid, broker.bootstrap, RETENTION_S // 60, CHECK_MS), flush=True)
        rc = run_tests([test_retention], [broker])
        return broker.finish(rc)
    finally:
        broker.cleanup()


if __name__ == "__main__":
    sys.exit(main())
