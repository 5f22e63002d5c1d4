#!/usr/bin/python3
"""Outbox: COMPLETE comes only from the tracked groups' committed offsets.

A one-partition topic, 40 rows published (offsets 0..39), a relay with
track.groups=g1,g2 and complete.interval.ms=100. Consumers (confluent-kafka,
a group each, reading the partition and committing a consumed record's
offset) move the groups step by step; after each step the rows must be
COMPLETE exactly below the lowest committed offset of the two groups and
PUBLISHED from there on, and stay so for 10 tracking rounds (1 s: no event
tells that a round changed nothing, so this one wait is a sleep):
  1. only g2 commits (30): g1 never committed -> nothing COMPLETE;
  2. g1 commits 20 -> offsets 0..19 COMPLETE, 20..39 PUBLISHED;
  3. g1 commits 40, g2 still 30 -> 0..29 COMPLETE, 30..39 PUBLISHED;
  4. g2 commits 40 -> all COMPLETE.
Also: completed_total and samsa_outbox_rows{status="COMPLETE"} say 40.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, check_eq, unique, wait_for  # noqa: E402
from relay_harness import Stack, payload, pg_connect, q, run_outbox_tests, status_counts  # noqa: E402


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


def expect_complete_below(url, bound, what):
    want = [(o, "COMPLETE" if o < bound else "PUBLISHED") for o in range(40)]
    wait_for(lambda: statuses(url) == want, 15, "%s: COMPLETE below offset %d" % (what, bound))
    time.sleep(1.0)  # 10 rounds of complete.interval.ms
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
    expect_complete_below(url, 0, "only g2 committed (g1 never)")
    consume_and_commit(st.broker.bootstrap, "g1", topic, 20)
    expect_complete_below(url, 20, "g1 at 20, g2 at 30")
    consume_and_commit(st.broker.bootstrap, "g1", topic, 40)
    expect_complete_below(url, 30, "g1 at 40, g2 at 30")
    consume_and_commit(st.broker.bootstrap, "g2", topic, 40)
    want = [(o, "COMPLETE") for o in range(40)]
    wait_for(lambda: statuses(url) == want, 15, "all COMPLETE")
    check(True, "both groups at 40: all rows COMPLETE")
    wait_for(lambda: relay.metric('samsa_outbox_rows{status="COMPLETE"}') == 40.0, 10, "metrics catch up")
    check_eq(relay.metric("samsa_relay_completed_total"), 40.0, "metrics: completed_total 40")
    check_eq(relay.metric('samsa_outbox_rows{status="COMPLETE"}'), 40.0, "metrics: 40 rows COMPLETE")


def main():
    st = Stack(name="relay-complete")
    try:
        st.start()
        return run_outbox_tests(st, [test_complete])
    finally:
        st.cleanup()


if __name__ == "__main__":
    sys.exit(main())
