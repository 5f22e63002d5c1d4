#!/usr/bin/python3
"""Outbox: COMPLETE means consumed, across a topic's deletion and re-creation
(issue 18, item 3).

A tracked topic deleted and created again starts its offsets from 0, and its
groups' committed offsets too (samsa-broker deletes them with the topic, as
Kafka does). A row PUBLISHED to the old topic and never consumed there has a
kafka_offset that, on the new topic, points at some other record: a group
committing past that offset on the new topic has not consumed the row. Each
test checks, after a group commits on the new topic and 10 completion rounds
have passed (samsa_relay_complete_rounds_total), that every COMPLETE row's
record is in the new topic at the row's kafka_offset, below the committed
offset (its samsa.event_id there): COMPLETE only when consumed in the
incarnation the row was published to. Then the group reads the new topic to
its end: every row ends COMPLETE, each old row published again to the new
topic (on.topic.recreated=republish, the default), the new rows once.

  test_live_{pg,sqlite}: the issue's steps with the relay running: 200 rows
    at offsets 0..199, `samsa topic delete` and `samsa topic create`, 50 new
    rows. With completion rounds off (complete.interval.ms=3600000), the
    relay's own producer sees its acknowledgements go back to offset 0: the
    new incarnation begins (samsa_topic_incarnation: 1), the 200 rows are
    re-queued and published again to the new topic, all before any round.
    Then rounds on, the group commits 50, later the end.
  test_refilled_{pg,sqlite}: the relay stopped across the re-creation while
    another producer writes 300 records to the new topic (past every old
    offset), then restarted with 20 new rows (offsets 300..319): nothing
    went backwards for any producer of the relay; the record check finds
    another record at the lowest PUBLISHED row's offset. The group commits
    320 (before the fix: all 220 rows COMPLETE).
  test_shorter_sqlite: rows 0..99 consumed (COMPLETE) before the deletion,
    100..199 not; the relay restarted after the re-creation publishes 50
    rows at 0..49, below the old ones: the record check finds the new log
    ending before the highest PUBLISHED row. The group commits 50, then
    after 150 more rows 200 (before the fix: old rows 100..199 COMPLETE).
  test_keep_pg: as refilled, with on.topic.recreated=keep: the rows of the
    old incarnation stay PUBLISHED through 10 rounds after the group read
    the whole new topic, none published again; rows claimed after the new
    incarnation began complete normally.
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, unique, wait_for  # noqa: E402
from relay_harness import AppOutbox, Stack, consume_all, rounds_pass, run_outbox_tests  # noqa: E402


def samsa_binary():
    for i, a in enumerate(sys.argv):
        if a == "--samsa" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
    b = os.environ.get("SAMSA_CLI_BIN")
    if not b:
        sys.exit("test_relay_topic_recreated: pass --samsa BIN")
    return b


def samsa(st, *args):
    r = subprocess.run([samsa_binary()] + list(args) + ["-b", st.broker.bootstrap],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
                       preexec_fn=harness._die_with_parent)
    out = r.stdout.decode("utf-8", "replace").strip()
    check(r.returncode == 0, "samsa %s" % " ".join(args), "exit %d: %s" % (r.returncode, out))
    return out


def recreate(st, topic):
    """`samsa topic delete` then `samsa topic create`, one partition."""
    samsa(st, "topic", "delete", topic)
    samsa(st, "topic", "create", topic, "-p", "1")


class Outbox(AppOutbox):
    """The outbox of one test, PostgreSQL or SQLite, from the application's
    side."""

    def insert(self, topic, first, n):
        """n rows on keys k0..k3 in one transaction; their event ids."""
        return self.insert_rows(topic, [("k%d" % (i % 4), i) for i in range(first, first + n)])

    def rows(self):
        """[(event_id, status, kafka_offset, kafka_incarnation)] in id order."""
        eid = "event_id::text" if self.kind == "pg" else "event_id"
        return self.q("SELECT %s, status, kafka_offset, kafka_incarnation FROM samsa_outbox"
                      " ORDER BY id" % eid)

    def incarnations(self, topic):
        return self.q("SELECT incarnation, reason FROM samsa_topic_incarnation WHERE topic = %s",
                      (topic,))


def records(st, topic):
    """{offset: samsa.event_id or None} of partition 0 of the topic as it is now."""
    return {r["offset"]: r["headers"].get("samsa.event_id")
            for r in consume_all(st.broker.bootstrap, topic, timeout=60, idle=0.3)}


def high_watermark(st, topic):
    import confluent_kafka as ck
    c = ck.Consumer({"bootstrap.servers": st.broker.bootstrap, "group.id": "harness-unused"})
    try:
        return c.get_watermark_offsets(ck.TopicPartition(topic, 0), timeout=10)[1]
    finally:
        c.close()


def group_commit(st, group, topic, upto):
    """A consumer of group reads partition 0 from its committed offset (or
    the start) up to the record at upto-1 and commits upto."""
    import confluent_kafka as ck
    c = ck.Consumer({"bootstrap.servers": st.broker.bootstrap, "group.id": group,
                     "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        committed = c.committed([ck.TopicPartition(topic, 0)], timeout=10)[0].offset
        start = committed if committed >= 0 else 0
        if start == upto:
            check(True, "group %s at offset %d of the new topic already" % (group, upto))
            return
        c.assign([ck.TopicPartition(topic, 0, start)])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            if m.offset() == upto - 1:
                c.commit(message=m, asynchronous=False)
                got = c.committed([ck.TopicPartition(topic, 0)], timeout=10)[0].offset
                check_eq(got, upto, "group %s committed offset %d on the new topic" % (group, upto))
                return
        raise AssertionError("group %s: offset %d not reached" % (group, upto - 1))
    finally:
        c.close()


def check_consumed(st, ob, topic, committed, what, exempt=()):
    """Every COMPLETE row is consumed in its incarnation: its record, with
    its event id, is in the topic as it is now at its kafka_offset, below
    the group's committed offset (exempt: rows consumed in the old topic,
    COMPLETE before it was deleted). Returns the COMPLETE rows."""
    recs = records(st, topic)
    done = [r for r in ob.rows() if r[1] == "COMPLETE" and r[0] not in exempt]
    bad = [r for r in done if not (r[2] < committed and recs.get(r[2]) == r[0])]
    check(not bad, "%s: each of %d COMPLETE rows has its record below offset %d of the new topic"
          % (what, len(done), committed),
          "%d COMPLETE rows were never consumed there, e.g. %s" % (len(bad), bad[:5]))
    return done


def check_end(st, ob, topic, old, new, what):
    """The group has read the whole new topic: every row COMPLETE at its
    record, every old row published again to it, each new row at least once."""
    wait_for(lambda: ob.counts() == {"COMPLETE": len(old) + len(new)}, 60,
             "%s: every row COMPLETE" % what)
    recs = records(st, topic)
    rows = ob.rows()
    bad = [r for r in rows if recs.get(r[2]) != r[0]]
    check(not bad, "%s: all %d rows COMPLETE, each at its record in the new topic" % (what, len(rows)),
          bad[:5])
    present = set(recs.values())
    check(all(e in present for e in old), "%s: all %d rows of the old topic were published again to"
          " the new one" % (what, len(old)), [e for e in old if e not in present][:5])
    check(all(e in present for e in new), "%s: the %d new rows are in the new topic" % (what, len(new)))
    return recs


def create_topic(st, topic):
    samsa(st, "topic", "create", topic, "-p", "1")


def start_relay(st, ob, topic, **props):
    return st.relay(ob.db, track_groups="g:" + topic, **props)


def published_at(ob, n, what):
    wait_for(lambda: ob.counts() == {"PUBLISHED": n}, 60, "%s: %d rows PUBLISHED" % (what, n))


# ---- the relay running through the re-creation ---------------------------------

def live(st, kind):
    ob = Outbox(st, kind)
    topic = unique("live")
    create_topic(st, topic)
    relay = start_relay(st, ob, topic, complete_interval_ms=3600000)
    old = ob.insert(topic, 0, 200)
    published_at(ob, 200, "old topic")
    check_eq(sorted(r[2] for r in ob.rows()), list(range(200)), "200 rows at offsets 0..199 of the old topic")
    recreate(st, topic)
    new = ob.insert(topic, 200, 50)
    wait_for(lambda: relay.metric("samsa_relay_topic_incarnations_total") == 1.0, 60,
             "the relay begins incarnation 1 of the topic")
    inc = ob.incarnations(topic)
    check(len(inc) == 1 and inc[0][0] == 1 and "backwards" in inc[0][1],
          "samsa_topic_incarnation: incarnation 1, because a producer's acknowledgements went backwards", inc)
    wait_for(lambda: set(old) <= set(records(st, topic).values()), 60,
             "the 200 old rows published again to the new topic")
    check(True, "every old row is in the new topic again, with its samsa.event_id")
    check_eq(relay.metric("samsa_relay_complete_rounds_total"), 0.0,
             "no completion round ran: the relay's own acknowledgements told it")
    check(relay.metric("samsa_relay_requeued_recreated_total") >= 200,
          "requeued_recreated_total counts the re-queued old rows (%s)"
          % relay.metric("samsa_relay_requeued_recreated_total"))
    check(relay.log_lines("topic %s was deleted and created again" % topic),
          "the relay logged the new incarnation")
    relay.stop()

    relay.props["complete.interval.ms"] = 100
    relay.start()
    group_commit(st, "g", topic, 50)
    rounds_pass(relay, 11, "the group at 50", timeout=120)
    done = check_consumed(st, ob, topic, 50, "group at 50")
    below = [r for r in ob.rows() if r[2] is not None and r[2] < 50 and r[1] in ("PUBLISHED", "COMPLETE")]
    check_eq(len(done), len(below), "every row at an offset below 50 of the new topic is COMPLETE")
    group_commit(st, "g", topic, high_watermark(st, topic))
    check_end(st, ob, topic, old, new, "the group at the end")
    ob.close()


def test_live_pg(st):
    live(st, "pg")


def test_live_sqlite(st):
    live(st, "sqlite")


# ---- the relay stopped across it; the new topic filled by another producer ----

def fill(st, topic, n):
    import confluent_kafka as ck
    p = ck.Producer({"bootstrap.servers": st.broker.bootstrap, "linger.ms": 5})
    for i in range(n):
        p.produce(topic, key=b"other", value=b"other %d" % i, partition=0)
    check_eq(p.flush(30), 0, "another producer wrote %d records to the new topic" % n)
    check_eq(high_watermark(st, topic), n, "the new topic's log ends at %d" % n)


def refilled(st, kind, keep=False):
    ob = Outbox(st, kind)
    topic = unique("refilled")
    create_topic(st, topic)
    props = {"complete_interval_ms": 100}
    if keep:
        props["on_topic_recreated"] = "keep"
    relay = start_relay(st, ob, topic, **props)
    old = ob.insert(topic, 0, 200)
    published_at(ob, 200, "old topic")
    relay.stop()
    recreate(st, topic)
    fill(st, topic, 300)
    relay.start()
    new = ob.insert(topic, 200, 20)
    wait_for(lambda: all(r[2] is not None and (r[2] >= 300 or r[0] in old) for r in ob.rows()), 60,
             "the 20 new rows published after the other producer's 300 records")
    group_commit(st, "g", topic, 320)
    rounds_pass(relay, 11, "the group at 320", timeout=120)
    check_consumed(st, ob, topic, 320, "group at 320")
    inc = ob.incarnations(topic)
    check(len(inc) == 1 and inc[0][0] == 1, "samsa_topic_incarnation: incarnation 1 (%s)" % (inc,))
    if not keep:
        group_commit(st, "g", topic, high_watermark(st, topic))
        check_end(st, ob, topic, old, new, "the group at the end")
        ob.close()
        return
    # keep: the rows published before the new incarnation began stay PUBLISHED
    group_commit(st, "g", topic, high_watermark(st, topic))
    rounds_pass(relay, 11, "the group at the end", timeout=120)
    check_consumed(st, ob, topic, high_watermark(st, topic), "keep, group at the end")
    rows = ob.rows()
    check(all(r[1] == "PUBLISHED" and r[3] == 0 for r in rows if r[0] in old),
          "keep: the 200 old rows stay PUBLISHED in incarnation 0 through 10 rounds")
    present = set(records(st, topic).values())
    check(not any(e in present for e in old), "keep: no old row was published again")
    check_eq(relay.metric("samsa_relay_requeued_recreated_total"), 0.0, "keep: requeued_recreated_total 0")
    later = ob.insert(topic, 220, 10)
    wait_for(lambda: all(r[1] == "PUBLISHED" and r[3] == 1 for r in ob.rows() if r[0] in later), 60,
             "rows claimed after the new incarnation began are PUBLISHED in incarnation 1")
    group_commit(st, "g", topic, high_watermark(st, topic))
    wait_for(lambda: all(r[1] == "COMPLETE" for r in ob.rows() if r[0] in later), 60,
             "keep: the new incarnation's rows COMPLETE once the group read them")
    check_consumed(st, ob, topic, high_watermark(st, topic), "keep, the new rows read")
    ob.close()


def test_refilled_pg(st):
    refilled(st, "pg")


def test_refilled_sqlite(st):
    refilled(st, "sqlite")


def test_keep_pg(st):
    refilled(st, "pg", keep=True)


# ---- the new rows land below the old ones: the new log is shorter --------------

def test_shorter_sqlite(st):
    ob = Outbox(st, "sqlite")
    topic = unique("shorter")
    create_topic(st, topic)
    relay = start_relay(st, ob, topic, complete_interval_ms=100)
    old = ob.insert(topic, 0, 200)
    published_at(ob, 200, "old topic")
    group_commit(st, "g", topic, 100)
    wait_for(lambda: ob.counts() == {"COMPLETE": 100, "PUBLISHED": 100}, 60,
             "rows 0..99 consumed in the old topic: COMPLETE")
    relay.stop()
    recreate(st, topic)
    relay.start()
    new = ob.insert(topic, 200, 50)
    wait_for(lambda: relay.metric("samsa_relay_topic_incarnations_total") == 1.0, 60,
             "the relay begins incarnation 1 of the topic")
    inc = ob.incarnations(topic)
    check(len(inc) == 1 and "ends at offset" in (inc[0][1] or ""),
          "samsa_topic_incarnation: the new log ends before the highest old row (%s)" % (inc,))
    wait_for(lambda: high_watermark(st, topic) >= 150, 60, "the old rows published again too")
    # the 100 rows consumed in the old topic stay COMPLETE (at their old offsets)
    consumed_before = set(old[:100])
    group_commit(st, "g", topic, 50)
    rounds_pass(relay, 11, "the group at 50", timeout=120)
    check_consumed(st, ob, topic, 50, "group at 50", consumed_before)
    new2 = ob.insert(topic, 250, 150)
    wait_for(lambda: all(r[1] != "INIT" for r in ob.rows() if r[0] in new2), 60,
             "150 more rows published")
    group_commit(st, "g", topic, 200)
    rounds_pass(relay, 11, "the group at 200", timeout=120)
    check_consumed(st, ob, topic, 200, "group at 200", consumed_before)
    group_commit(st, "g", topic, high_watermark(st, topic))
    wait_for(lambda: ob.counts() == {"COMPLETE": 400}, 60, "every row COMPLETE")
    recs = records(st, topic)
    rows = [r for r in ob.rows() if r[0] not in consumed_before]
    bad = [r for r in rows if recs.get(r[2]) != r[0]]
    check(not bad, "the 300 rows not consumed before the deletion COMPLETE at their records in the"
          " new topic", bad[:5])
    present = set(recs.values())
    check(all(e in present for e in old[100:] + new + new2),
          "the 100 unconsumed old rows were published again, the 200 new ones are there")
    ob.close()


def main():
    st = Stack(name="relay-topic-recreated", broker_overrides={"auto.create.topics.enable": "false"})
    try:
        st.start()
        return run_outbox_tests(st, [test_live_pg, test_live_sqlite, test_refilled_pg,
                                     test_refilled_sqlite, test_shorter_sqlite, test_keep_pg])
    finally:
        st.cleanup()


if __name__ == "__main__":
    sys.exit(main())
