#!/usr/bin/python3
"""Three clients in ONE consumer group: librdkafka (confluent-kafka),
kafka-python 2.0.2 and kafkajs 2.2.4, each a member process
(group_member.py, js/group_member.js) under the "roundrobin" protocol of the
classic consumer protocol (kafkajs's round-robin assigner offered under that
name: see js/group_member.js).

Checked: the group forms with the three (DescribeGroups: Stable, protocol
roundrobin, the three client ids, and each member id handed the partitions
its process reports, 2 each, all 6 covered); messages produced afterwards
are consumed by the owner of their partition only, exactly once, and
committed; each member reads back through its own client (OffsetFetch) the
committed offsets of all 6 partitions, the others' included; when the
kafkajs member leaves, the other two take its partitions over from its
commits and the next messages are consumed exactly once.

Usage: test_groups_mixed.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import collections
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check, check_eq, run_tests, unique, wait_for  # noqa: E402
from group_member import MemberProcess, stop_all_members  # noqa: E402
import group_wire as gw  # noqa: E402

import confluent_kafka as ck  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

broker = Broker(overrides={"group.min.session.timeout.ms": 1000, "group.initial.rebalance.delay.ms": 0,
                           "auto.create.topics.enable": "false"}, name="mixed")
workdir = tempfile.mkdtemp(prefix="samsa-groups-mixed-")
NP = 6


def produce(topic, per_part, start):
    """per_part messages to each partition, value "p<p>-o<offset>" naming the
    offset it must land at; checks the delivery reports say so."""
    reports = []
    pr = ck.Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(per_part):
        for p in range(NP):
            pr.produce(topic, value=("p%d-o%d" % (p, start + i)).encode(), partition=p,
                       on_delivery=lambda e, m: reports.append((e, m.partition(), m.offset(), m.value())))
    left = pr.flush(30)
    ok = left == 0 and len(reports) == NP * per_part and all(
        e is None and v == ("p%d-o%d" % (p, o)).encode() for e, p, o, v in reports)
    check(ok, "%d messages produced, offsets %d..%d of each partition" % (NP * per_part, start, start + per_part - 1))


def leader_client(group, described, n):
    """The client id of the leader of the group's last generation with n
    members, from the broker's log line announcing it."""
    ids = {m["member_id"]: m["client_id"] for m in described["members"]}
    leader = None
    for line in broker.log_text().splitlines():
        if "group %s: generation " % group in line and " with %d member(s)" % n in line and ", leader " in line:
            leader = line.rsplit(", leader ", 1)[1].strip()
    return ids.get(leader, leader)


def committed(group, topic):
    offs, err = gw.offset_fetch(broker.port, group, {topic: list(range(NP))})
    return {p: offs[(topic, p)][0] for p in range(NP)} if not err else None


def test_three_clients_one_group():
    topic, group = unique("mixed"), unique("mixed-group")
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, NP, 1)])[topic].result(30)
    del admin
    kinds = ("kafkajs", "kp", "ck")
    ms = {}

    def formed(live):
        a = {k: ms[k].assignment() for k in live}
        per = NP // len(live)
        if any(v is None or len(v) != per for v in a.values()) or sorted(sum(a.values(), [])) != list(range(NP)):
            return None
        d = gw.describe_groups(broker.port, [group])[group]
        if d["state"] != "Stable" or len(d["members"]) != len(live):
            return None
        return a, d

    try:
        # one at a time, kafkajs first: the first member leads the group (and
        # keeps leading while it stays), so kafkajs computes the assignment the
        # other two clients decode
        for n, k in enumerate(kinds):
            ms[k] = MemberProcess(k, broker.bootstrap, group, topic, NP, os.path.join(workdir, "%s.jsonl" % k),
                                  session_ms=6000, heartbeat_ms=500, commit_every=5, client_id="itest-mixed-%s" % k)
            print("  started the %s member, pid %d" % (k, ms[k].pid), flush=True)
            wait_for(lambda: formed(kinds[:n + 1]), 90, "%d member(s) to share the partitions" % (n + 1), interval=0.1)
        a, d = wait_for(lambda: formed(kinds), 90, "the three clients to share the 6 partitions in a Stable group",
                        interval=0.1)
        check(True, "one group, three clients, 2 partitions each: %s" % a)
        lead = leader_client(group, d, 3)
        print("  the 3-member generation's leader: %s" % lead)
        check_eq(lead, "itest-mixed-kafkajs", "kafkajs, the first to join, leads the 3-member generation")
        check_eq((d["protocol_type"], d["protocol"]), ("consumer", "roundrobin"),
                 "DescribeGroups: protocol type consumer, protocol roundrobin")
        described = {m["client_id"]: sorted(gw.decode_assignment(m["assignment"])[0].get(topic, []))
                     for m in d["members"]}
        check_eq(described, {"itest-mixed-%s" % k: a[k] for k in kinds},
                 "each client's member id was handed the partitions that client reports")
        subs = {m["client_id"]: gw.decode_subscription(m["metadata"]) for m in d["members"]}
        check_eq(subs, {"itest-mixed-%s" % k: [topic] for k in kinds},
                 "each member's subscription (as its client encoded it) names the topic")

        produce(topic, 10, 0)
        wait_for(lambda: committed(group, topic) == {p: 10 for p in range(NP)}, 60,
                 "every partition committed at 10", interval=0.1)
        check(True, "the group committed offset 10 on all 6 partitions")
        for k in kinds:
            got = collections.Counter((e["p"], e["o"], e["v"]) for e in ms[k].events() if e["ev"] == "msg")
            want = collections.Counter((p, o, "p%d-o%d" % (p, o)) for p in a[k] for o in range(10))
            check_eq(got, want, "%s consumed offsets 0..9 of its partitions %s once each, with their values, and "
                     "nothing else" % (k, a[k]))
            check(any(e["ev"] == "commit" for e in ms[k].events()), "%s committed through its own client" % k)
        for k in kinds:
            n = len([e for e in ms[k].events() if e["ev"] == "committed"])
            ms[k].command("committed")
            views = wait_for(lambda: [e for e in ms[k].events() if e["ev"] == "committed"][n:], 30,
                             "%s to read the committed offsets" % k)
            check_eq({int(p): o for p, o in views[0]["offsets"].items()}, {p: 10 for p in range(NP)},
                     "%s reads offset 10 committed on all 6 partitions, the other clients' included" % k)

        # kafkajs leaves; the other two take its partitions over from its commits
        js_parts = a["kafkajs"]
        check_eq(ms["kafkajs"].stop(), 0, "the kafkajs member leaves the group and exits 0")
        a2, d2 = wait_for(lambda: formed(("ck", "kp")), 60, "the two others to share the 6 partitions", interval=0.1)
        check(True, "after kafkajs left: confluent-kafka holds %s, kafka-python %s" % (a2["ck"], a2["kp"]))
        print("  the 2-member generation's leader: %s" % leader_client(group, d2, 2))
        marks = {k: len(ms[k].events()) for k in ("ck", "kp")}
        produce(topic, 5, 10)
        wait_for(lambda: committed(group, topic) == {p: 15 for p in range(NP)}, 60,
                 "every partition committed at 15", interval=0.1)
        got = collections.Counter()
        for k in ("ck", "kp"):
            for e in ms[k].events()[marks[k]:]:
                if e["ev"] == "msg":
                    got[(e["p"], e["o"])] += 1
        check_eq(got, collections.Counter((p, o) for p in range(NP) for o in range(10, 15)),
                 "the 30 new messages, kafkajs's former partitions %s included, consumed once each from offset 10"
                 % js_parts)
        for k in ("ck", "kp"):
            check_eq(ms[k].stop(), 0, "the %s member leaves and exits 0" % k)
        check_eq(gw.describe_groups(broker.port, [group])[group]["state"], "Empty", "the group is Empty")
    except Exception:
        for k, m in ms.items():
            print("member %s log tail:\n%s" % (k, m.log_tail()), flush=True)
        raise
    finally:
        stop_all_members()


def main():
    try:
        broker.start()
        print("broker pid %d on %s (group.initial.rebalance.delay.ms=0)" % (broker.pid, broker.bootstrap), flush=True)
        rc = run_tests([test_three_clients_one_group], [broker])
        return broker.finish(rc)
    finally:
        stop_all_members()
        broker.cleanup()
        if os.environ.get("SAMSA_KEEP_TMP") != "1":
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
