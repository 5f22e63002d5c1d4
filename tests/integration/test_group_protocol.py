#!/usr/bin/python3
"""Group requests out of order, stale, malformed or oversized, over raw
sockets: each gets the error code a Kafka broker sends, never a crash, and
the broker keeps serving a normal consumer group afterwards.

Cases: SyncGroup/Heartbeat/OffsetCommit/LeaveGroup before any JoinGroup
and from unknown members (UNKNOWN_MEMBER_ID 25); wrong and stale
generations (ILLEGAL_GENERATION 22); JoinGroup v4+ without a member id
(MEMBER_ID_REQUIRED 79, with the id to use) and v0-v3 without the step;
a heartbeat during a rebalance (REBALANCE_IN_PROGRESS 27), a follower's
SyncGroup held until the leader's; a SyncGroup assignment just under
socket.request.max.bytes handed back byte for byte, and one over it
closing the connection; session timeouts outside the broker's bounds
(INVALID_SESSION_TIMEOUT 26); another protocol type or no common protocol
(INCONSISTENT_GROUP_PROTOCOL 23); DeleteGroups of a group with members
(NON_EMPTY_GROUP 68) and of an unknown group (GROUP_ID_NOT_FOUND 69);
commit metadata over offset.metadata.max.bytes (OFFSET_METADATA_TOO_LARGE
12); OffsetDelete refused for a topic the group consumes
(GROUP_SUBSCRIBED_TO_TOPIC 86), done for others and once the group is empty;
a member that does not rejoin removed at the rebalance timeout; parked
JoinGroup and SyncGroup requests whose connections close; a member parked in
JoinGroup longer than its session timeout kept; group.max.size
(GROUP_MAX_SIZE_REACHED 81), on a second broker, also when two newcomers got
their member ids before either joined; a static member's old incarnation
fenced (FENCED_INSTANCE_ID 82); every version of each group API answered
in that version's layout, read to its last byte.
After each test: the broker process is alive and a confluent-kafka
consumer joins a group, consumes, commits and reads its commit back.

Usage: test_group_protocol.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check, check_eq, run_tests, unique  # noqa: E402
import group_wire as gw  # noqa: E402
from group_wire import Member  # noqa: E402
import kafka_wire as wire  # noqa: E402

import confluent_kafka as ck  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

MAX_REQUEST = 1 << 20
MIN_SESSION, MAX_SESSION = 1000, 60000
META_MAX = 4096
broker = Broker(overrides={"socket.request.max.bytes": MAX_REQUEST,
                           "group.min.session.timeout.ms": MIN_SESSION,
                           "group.max.session.timeout.ms": MAX_SESSION,
                           "group.initial.rebalance.delay.ms": 0,
                           "offset.metadata.max.bytes": META_MAX,
                           "auto.create.topics.enable": "false"}, name="groupproto")
TOPIC = unique("gp")
HEALTH = unique("gp-health")
open_members = []


def member(group, **kw):
    kw.setdefault("topics", [TOPIC])
    m = Member(broker.port, group, **kw)
    open_members.append(m)
    return m


def close_members():
    while open_members:
        open_members.pop().close()


def two_partitions_each(ids):
    """A range-like plan over TOPIC's 4 partitions for up to 2 members."""
    ids = sorted(ids)
    return {mid: gw.assignment({TOPIC: list(range(k * 4 // len(ids), (k + 1) * 4 // len(ids)))})
            for k, mid in enumerate(ids)}


def stable_group(n=1, **kw):
    g = unique("gp-group")
    ms = [member(g, client_id="itest-raw-%d" % i, **kw) for i in range(n)]
    gw.form_group(ms, two_partitions_each)
    return g, ms


# -- the normal client ----------------------------------------------------------

health_count = [0]


def healthy(what):
    """Broker alive; a confluent-kafka consumer group member consumes a
    fresh message and commits; the commit reads back."""
    check(broker.alive(), "after %s: broker process %d is alive" % (what, broker.pid))
    health_count[0] += 1
    value = ("after %s #%d" % (what, health_count[0])).encode()
    reports = []
    p = ck.Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    p.produce(HEALTH, value=value, partition=0, on_delivery=lambda e, m: reports.append((e, m.offset())))
    p.flush(20)
    check(len(reports) == 1 and reports[0][0] is None, "after %s: a message is acknowledged" % what, reports)
    off = reports[0][1]
    group = unique("gp-health-group")
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False,
                     "auto.offset.reset": "earliest", "session.timeout.ms": 6000, "heartbeat.interval.ms": 200,
                     "fetch.wait.max.ms": 100})
    try:
        c.subscribe([HEALTH])
        got = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error() and m.offset() == off:
                got = m
                break
        check(got is not None and got.value() == value,
              "after %s: a consumer group member joins and reads it at offset %d" % (what, off))
        c.commit(message=got, asynchronous=False)
        committed = c.committed([ck.TopicPartition(HEALTH, 0)], timeout=10)[0].offset
        check_eq(committed, off + 1, "after %s: its commit reads back" % what)
    finally:
        c.close()


def caught_up(port=None):
    """Returns once the broker has seen whatever reached its sockets before
    now (a connection's close, for one): its one event loop serves every
    socket that was ready before it answers a request sent afterwards; two
    round trips leave no doubt."""
    for _ in range(2):
        gw.rpc(port or broker.port, 18, 0, b"")


# -- tests ---------------------------------------------------------------------


def test_before_join_and_unknown_members():
    g = unique("gp-nojoin")
    for v in range(4):
        c = gw.Conn(broker.port)
        try:
            err, a, _ = gw.parse_sync(c.call(gw.SYNC, v, gw.sync_group_body(v, g, 0, "ghost", [("ghost", b"x")])), v)
        finally:
            c.close()
        check_eq(err, gw.UNKNOWN_MEMBER_ID, "SyncGroup v%d before any JoinGroup: UNKNOWN_MEMBER_ID" % v)
    for v in range(4):
        err = gw.parse_error_only(gw.rpc(broker.port, gw.HEARTBEAT, v, gw.heartbeat_body(v, g, 1, "ghost")), v)
        check_eq(err, gw.UNKNOWN_MEMBER_ID, "Heartbeat v%d to a group nobody joined: UNKNOWN_MEMBER_ID" % v)
    for v in (1, 2, 5, 7):
        res = gw.parse_offset_commit(gw.rpc(broker.port, gw.OFFSET_COMMIT, v, gw.offset_commit_body(
            v, g, 1, "ghost", {(TOPIC, 0): (5, "")})), v)
        check_eq(res, {(TOPIC, 0): gw.UNKNOWN_MEMBER_ID},
                 "OffsetCommit v%d with member id and generation 1, no such group: UNKNOWN_MEMBER_ID" % v)
    offs, err = gw.offset_fetch(broker.port, g, {TOPIC: [0]})
    check_eq((offs[(TOPIC, 0)][0], err), (-1, 0), "and nothing was committed (OffsetFetch: -1)")
    g2, (a,) = stable_group(1)
    for v in range(4):
        c = gw.Conn(broker.port)
        try:
            err, _, _ = gw.parse_sync(c.call(gw.SYNC, v, gw.sync_group_body(v, g2, a.generation, "nobody")), v)
        finally:
            c.close()
        check_eq(err, gw.UNKNOWN_MEMBER_ID, "SyncGroup v%d from an unknown member of a Stable group: UNKNOWN_MEMBER_ID" % v)
    check_eq(a.heartbeat(member_id="nobody"), gw.UNKNOWN_MEMBER_ID, "Heartbeat from an unknown member: UNKNOWN_MEMBER_ID")
    check_eq(a.commit({(TOPIC, 1): (3, None)}, member_id="nobody"), {(TOPIC, 1): gw.UNKNOWN_MEMBER_ID},
             "OffsetCommit from an unknown member: UNKNOWN_MEMBER_ID")
    for v in (0, 3):
        err, members = gw.parse_leave(gw.rpc(broker.port, gw.LEAVE, v, gw.leave_group_body(v, g2, "nobody")), v)
        got = err if v < 3 else members[0][2]
        check_eq(got, gw.UNKNOWN_MEMBER_ID, "LeaveGroup v%d of an unknown member: UNKNOWN_MEMBER_ID" % v)
    check_eq(a.heartbeat(), gw.NONE, "the real member's heartbeat is still fine")
    check_eq(gw.describe_groups(broker.port, [g2])[g2]["state"], "Stable", "the group is still Stable")
    close_members()
    healthy("requests before JoinGroup and from unknown members")


def test_member_id_required():
    for v in (4, 5):
        g = unique("gp-kip394")
        m = member(g, join_version=v, client_id="kip394")
        sub = m.protocols[0][1]
        j = m.join_for_id()
        check(j["error"] == gw.MEMBER_ID_REQUIRED and j["member_id"].startswith("kip394-") and j["generation"] == -1,
              "JoinGroup v%d without a member id: MEMBER_ID_REQUIRED, generation -1, a member id handed out (%s)"
              % (v, j["member_id"]), j)
        j2 = m.join()
        check(j2["error"] == 0 and j2["member_id"] == j["member_id"] and j2["generation"] == 1
              and j2["leader"] == j["member_id"] and j2["protocol"] == "range",
              "JoinGroup v%d again with that id: generation 1, it leads, protocol range" % v, j2)
        check_eq([(mid, meta) for mid, _, meta in j2["members"]], [(j["member_id"], sub)],
                 "the leader's member list holds it with its subscription bytes")
        check(j2["complete"], "JoinGroup v%d response fully parsed" % v)
        m.send_sync([(m.member_id, gw.assignment({TOPIC: [0, 1, 2, 3]}))])
        err, a = m.recv_sync()
        check_eq((err, gw.decode_assignment(a)[0]), (0, {TOPIC: [0, 1, 2, 3]}), "SyncGroup hands it its assignment")
        unknown = Member(broker.port, g, topics=[TOPIC], join_version=v)
        open_members.append(unknown)
        unknown.member_id = "made-up-id"
        check_eq(unknown.join()["error"], gw.UNKNOWN_MEMBER_ID,
                 "JoinGroup v%d with a member id the broker never handed out: UNKNOWN_MEMBER_ID" % v)
    for v in range(4):
        g = unique("gp-v%d" % v)
        m = member(g, join_version=v)
        j = m.join()
        check(j["error"] == 0 and j["generation"] == 1 and j["member_id"] and j["leader"] == j["member_id"]
              and j["complete"], "JoinGroup v%d without a member id joins in one step (generation 1)" % v, j)
    g = unique("gp-static")
    m = member(g, join_version=5, instance_id="static-1")
    j = m.join_for_id()
    check(j["error"] == 0 and j["generation"] == 1,
          "JoinGroup v5 of a static member (group.instance.id) without a member id joins in one step", j)
    check_eq([inst for _, inst, _ in j["members"]], ["static-1"], "the member list carries its group.instance.id")
    close_members()
    healthy("JoinGroup without member ids")


def test_wrong_generation():
    g, (a, b) = stable_group(2)
    gen = a.generation
    check(gen >= 2, "two members in a Stable group at generation %d" % gen)
    for v in range(4):
        check_eq(a.heartbeat(version=v, generation=gen + 1, instance_id=None), gw.ILLEGAL_GENERATION,
                 "Heartbeat v%d with generation %d (one ahead): ILLEGAL_GENERATION" % (v, gen + 1))
    check_eq(b.heartbeat(generation=gen - 1), gw.ILLEGAL_GENERATION,
             "Heartbeat with the previous generation %d: ILLEGAL_GENERATION" % (gen - 1))
    check_eq(b.heartbeat(generation=-1), gw.ILLEGAL_GENERATION, "Heartbeat with generation -1: ILLEGAL_GENERATION")
    for v in range(4):
        b.send_sync(version=v, generation=gen + 5)
        err, _ = b.recv_sync(version=v)
        check_eq(err, gw.ILLEGAL_GENERATION, "SyncGroup v%d with generation %d: ILLEGAL_GENERATION" % (v, gen + 5))
    for v in (1, 2, 5, 6, 7):
        check_eq(a.commit({(TOPIC, 0): (7, "stale")}, version=v, generation=gen - 1), {(TOPIC, 0): gw.ILLEGAL_GENERATION},
                 "OffsetCommit v%d with the previous generation: ILLEGAL_GENERATION" % v)
    offs, _ = gw.offset_fetch(broker.port, g, {TOPIC: [0]})
    check_eq(offs[(TOPIC, 0)][0], -1, "nothing committed by the refused commits")
    check_eq(a.commit({(TOPIC, 0): (7, "ok")}), {(TOPIC, 0): 0}, "the same commit with generation %d: accepted" % gen)
    offs, _ = gw.offset_fetch(broker.port, g, {TOPIC: [0]})
    check_eq(offs[(TOPIC, 0)][:2], (7, "ok"), "OffsetFetch: offset 7, metadata \"ok\"")
    # a newer generation makes the current one stale
    c = member(g, client_id="itest-raw-late")
    c.join_for_id()
    c.send_join()
    for x in (a, b):
        x.wait_heartbeat_error(gw.REBALANCE_IN_PROGRESS)
        x.send_join()
    for x in (a, b, c):
        check_eq(x.recv_join()["error"], 0, "rejoin into generation %d" % (gen + 1))
    check_eq(a.commit({(TOPIC, 0): (9, "old")}, generation=gen), {(TOPIC, 0): gw.ILLEGAL_GENERATION},
             "OffsetCommit of generation %d after generation %d formed: ILLEGAL_GENERATION" % (gen, gen + 1))
    offs, _ = gw.offset_fetch(broker.port, g, {TOPIC: [0]})
    check_eq(offs[(TOPIC, 0)][0], 7, "the committed offset is still 7")
    close_members()
    healthy("wrong generations")


def test_rebalance_in_progress():
    g, (a,) = stable_group(1)
    gen = a.generation
    b = member(g, client_id="itest-raw-b")
    b.join_for_id()
    b.send_join()
    a.wait_heartbeat_error(gw.REBALANCE_IN_PROGRESS)
    check(True, "a new member's JoinGroup is parked; the Stable member's heartbeat gets REBALANCE_IN_PROGRESS")
    check(not b.conn.ready(0.2), "the newcomer's JoinGroup is not answered while the old member has not rejoined")
    check_eq(gw.describe_groups(broker.port, [g])[g]["state"], "PreparingRebalance", "DescribeGroups: PreparingRebalance")
    check_eq(a.commit({(TOPIC, 3): (11, None)}), {(TOPIC, 3): 0},
             "OffsetCommit of the current generation while PreparingRebalance: accepted (as Kafka does)")
    a.send_join()
    ja, jb = a.recv_join(), b.recv_join()
    check(ja["error"] == jb["error"] == 0 and ja["generation"] == jb["generation"] == gen + 1,
          "both JoinGroups answered with generation %d" % (gen + 1), (ja, jb))
    leader, follower = (a, b) if a.is_leader() else (b, a)
    check_eq(len(leader.members), 2, "the leader's answer lists the 2 members")
    check_eq(follower.members, [], "the follower's answer lists none")
    follower.send_sync()
    check(not follower.conn.ready(0.3), "the follower's SyncGroup is held until the leader's arrives")
    check_eq(leader.heartbeat(generation=gen), gw.ILLEGAL_GENERATION,
             "meanwhile a heartbeat of the old generation: ILLEGAL_GENERATION")
    plan = two_partitions_each([a.member_id, b.member_id])
    leader.send_sync(sorted(plan.items()))
    errf, af = follower.recv_sync()
    errl, al = leader.recv_sync()
    check((errf, errl) == (0, 0) and af == plan[follower.member_id] and al == plan[leader.member_id],
          "then each gets its own assignment, byte for byte")
    check_eq(gw.describe_groups(broker.port, [g])[g]["state"], "Stable", "DescribeGroups: Stable")
    close_members()
    healthy("a rebalance in progress")


def test_huge_assignment():
    g, (a, b) = stable_group(2)
    c = member(g, client_id="itest-raw-c")
    c.join_for_id()
    c.send_join()
    for x in (a, b):
        x.wait_heartbeat_error(gw.REBALANCE_IN_PROGRESS)
        x.send_join()
    for x in (a, b, c):
        x.recv_join()
    leader = [x for x in (a, b, c) if x.is_leader()][0]
    others = [x for x in (a, b, c) if x is not leader]
    def sync_frame(user):
        plan = {others[0].member_id: gw.assignment({TOPIC: [0, 1]}, user_data=user),
                others[1].member_id: gw.assignment({TOPIC: [2]}), leader.member_id: gw.assignment({TOPIC: [3]})}
        body = gw.sync_group_body(3, g, leader.generation, leader.member_id, sorted(plan.items()))
        return plan, body, len(wire.frame(gw.SYNC, 3, 1, body, client_id=leader.conn.client_id)) - 4

    # a frame of exactly socket.request.max.bytes (Kafka refuses only larger ones)
    _, _, small = sync_frame(b"")
    big_user = os.urandom(MAX_REQUEST - small)
    plan, body, size = sync_frame(big_user)
    big = plan[others[0].member_id]
    check_eq(size, MAX_REQUEST, "a SyncGroup of exactly socket.request.max.bytes=%d with a %d-byte assignment"
             % (MAX_REQUEST, len(big)))
    for x in others:
        x.send_sync()
    leader.conn.send(gw.SYNC, 3, body)
    err, got = others[0].recv_sync(timeout=30)
    check(err == 0 and got == big, "the member it was for gets the %d bytes back exactly (error %d, %d bytes)"
          % (len(big), err, len(got or b"")))
    check_eq(gw.decode_assignment(got), ({TOPIC: [0, 1]}, big_user), "and they decode as the assignment sent")
    check_eq(others[1].recv_sync(), (0, plan[others[1].member_id]), "the other follower gets its small assignment")
    check_eq(leader.recv_sync(), (0, plan[leader.member_id]), "the leader gets its own")
    d = gw.describe_groups(broker.port, [g])[g]
    by_id = {m["member_id"]: m["assignment"] for m in d["members"]}
    check(by_id.get(others[0].member_id) == big, "DescribeGroups returns the big assignment too")
    # one byte over the limit: the frame is refused and the connection closed
    _, body, size = sync_frame(big_user + b"!")
    data = wire.frame(gw.SYNC, 3, 2, body, client_id=leader.conn.client_id)
    check_eq(size, MAX_REQUEST + 1, "a SyncGroup frame of socket.request.max.bytes + 1 bytes")
    s = wire.connect(broker.port)
    try:
        wire.send(s, data)
        check(wire.wait_closed(s, 10), "it closes the connection")
    finally:
        s.close()
    for x in (a, b, c):
        check_eq(x.heartbeat(), 0, "member %s still heartbeats fine" % x.conn.client_id)
    close_members()
    healthy("a huge SyncGroup assignment")


def test_bad_session_timeout():
    g, (a,) = stable_group(1)
    for v in (0, 1, 4, 5):
        for st in (MIN_SESSION - 1, MAX_SESSION + 1, 0, -5):
            m = member(g, join_version=v, session_ms=st)
            j = m.join()
            check_eq(j["error"], gw.INVALID_SESSION_TIMEOUT,
                     "JoinGroup v%d with session.timeout.ms=%d (bounds %d..%d): INVALID_SESSION_TIMEOUT"
                     % (v, st, MIN_SESSION, MAX_SESSION))
    check_eq(a.heartbeat(), 0, "the group's member still heartbeats fine")
    check_eq(len(gw.describe_groups(broker.port, [g])[g]["members"]), 1, "and is still the only member")
    m = member(unique("gp-bounds"), session_ms=MIN_SESSION)
    check_eq(m.join()["error"], 0, "session.timeout.ms=%d (the minimum) is accepted" % MIN_SESSION)
    close_members()
    healthy("bad session timeouts")


def test_inconsistent_protocol():
    g, (a,) = stable_group(1)
    m = member(g)
    j = gw.parse_join(m.conn.call(gw.JOIN, 5, gw.join_group_body(5, g, "", protocol_type="connect",
                                                                 protocols=[("range", b"x")])), 5)
    check_eq(j["error"], gw.INCONSISTENT_GROUP_PROTOCOL, "JoinGroup with protocol type \"connect\" into a consumer group: 23")
    m2 = member(g, protocols=[("sticky-only", gw.subscription([TOPIC]))])
    check_eq(m2.join()["error"], gw.INCONSISTENT_GROUP_PROTOCOL,
             "JoinGroup whose only protocol no member supports: INCONSISTENT_GROUP_PROTOCOL")
    m3 = member(unique("gp-noproto"), protocols=[])
    check_eq(m3.join()["error"], gw.INCONSISTENT_GROUP_PROTOCOL, "JoinGroup with no protocols: INCONSISTENT_GROUP_PROTOCOL")
    j = gw.parse_join(gw.rpc(broker.port, gw.JOIN, 5, gw.join_group_body(5, unique("gp-notype"), "", protocol_type="")), 5)
    check_eq(j["error"], gw.INCONSISTENT_GROUP_PROTOCOL, "JoinGroup with an empty protocol type: INCONSISTENT_GROUP_PROTOCOL")
    check_eq(a.heartbeat(), 0, "the group's member still heartbeats fine")
    d = gw.describe_groups(broker.port, [g])[g]
    check_eq((d["state"], d["protocol_type"], d["protocol"], len(d["members"])), ("Stable", "consumer", "range", 1),
             "DescribeGroups: still Stable, consumer/range, 1 member")
    # a common protocol later in the newcomer's list is chosen in the leader's order
    m4 = member(g, protocols=[("roundrobin", gw.subscription([TOPIC])), ("range", gw.subscription([TOPIC]))])
    m4.join_for_id()
    m4.send_join()
    a.wait_heartbeat_error(gw.REBALANCE_IN_PROGRESS)
    a.send_join()
    ja, j4 = a.recv_join(), m4.recv_join()
    check_eq((ja["error"], j4["error"], ja["protocol"], j4["protocol"]), (0, 0, "range", "range"),
             "a newcomer listing roundrobin first and range second joins; the group keeps range, the one all support")
    close_members()
    healthy("inconsistent protocols")


def test_delete_groups():
    g, (a,) = stable_group(1)
    check_eq(a.commit({(TOPIC, 0): (4, None)}), {(TOPIC, 0): 0}, "a commit in the group")
    unknown = unique("gp-never")
    for v in (0, 1):
        res = gw.delete_groups(broker.port, [g, unknown], version=v)
        check_eq(res, {g: gw.NON_EMPTY_GROUP, unknown: gw.GROUP_ID_NOT_FOUND},
                 "DeleteGroups v%d: the group with a member NON_EMPTY_GROUP, an unknown one GROUP_ID_NOT_FOUND" % v)
    check_eq(a.heartbeat(), 0, "the member was not disturbed")
    err, members = a.leave()
    check_eq((err, [e for _, _, e in members]), (0, [0]), "LeaveGroup v3 of the member")
    check_eq(gw.describe_groups(broker.port, [g])[g]["state"], "Empty", "the group is Empty")
    _, groups = gw.list_groups(broker.port)
    check(g in groups, "ListGroups still lists the empty group (it has a committed offset)")
    res = gw.delete_groups(broker.port, [g])
    check_eq(res, {g: 0}, "DeleteGroups of the empty group: no error")
    _, groups = gw.list_groups(broker.port)
    check(g not in groups, "ListGroups no longer lists it")
    offs, _ = gw.offset_fetch(broker.port, g, {TOPIC: [0]})
    check_eq(offs[(TOPIC, 0)][0], -1, "its committed offset is gone")
    check_eq(gw.delete_groups(broker.port, [g]), {g: gw.GROUP_ID_NOT_FOUND}, "deleting it again: GROUP_ID_NOT_FOUND")
    check_eq(gw.describe_groups(broker.port, [g])[g]["state"], "Dead", "DescribeGroups of it: Dead")
    close_members()
    healthy("DeleteGroups")


def test_metadata_too_large():
    g, (a,) = stable_group(1)
    res = a.commit({(TOPIC, 0): (5, "m" * (META_MAX + 1)), (TOPIC, 1): (6, "fine")})
    check_eq(res, {(TOPIC, 0): gw.OFFSET_METADATA_TOO_LARGE, (TOPIC, 1): 0},
             "OffsetCommit with %d bytes of metadata on one partition and 4 on another: 12 for the first, 0 for the second"
             % (META_MAX + 1))
    exact = "x" * META_MAX
    check_eq(a.commit({(TOPIC, 2): (8, exact)}), {(TOPIC, 2): 0},
             "%d bytes (offset.metadata.max.bytes) accepted" % META_MAX)
    for v in (1, 3, 5):
        offs, err = gw.offset_fetch(broker.port, g, {TOPIC: [0, 1, 2]}, version=v)
        check_eq(offs, {(TOPIC, 0): (-1, "", 0), (TOPIC, 1): (6, "fine", 0), (TOPIC, 2): (8, exact, 0)},
                 "OffsetFetch v%d: nothing on partition 0, 6/\"fine\" on 1, the %d-byte metadata on 2" % (v, META_MAX))
    offs, err = gw.offset_fetch(broker.port, g, None, version=5)
    check_eq(sorted(offs), [(TOPIC, 1), (TOPIC, 2)], "OffsetFetch v5 of all topics: the two committed partitions")
    close_members()
    healthy("too-large metadata")


def test_offset_delete():
    g, (a,) = stable_group(1)
    check_eq(a.commit({(TOPIC, 0): (5, None), (HEALTH, 0): (3, None)}), {(TOPIC, 0): 0, (HEALTH, 0): 0},
             "commits on the subscribed topic and on another one")
    err, res = gw.offset_delete(broker.port, g, {TOPIC: [0], HEALTH: [0], "no-such-topic": [0]})
    check_eq((err, res), (0, {(TOPIC, 0): gw.GROUP_SUBSCRIBED_TO_TOPIC, (HEALTH, 0): 0,
                              ("no-such-topic", 0): gw.UNKNOWN_TOPIC_OR_PARTITION}),
             "OffsetDelete while a member subscribes to the topic: GROUP_SUBSCRIBED_TO_TOPIC for it, the other "
             "topic's offset deleted, an unknown topic UNKNOWN_TOPIC_OR_PARTITION")
    offs, _ = gw.offset_fetch(broker.port, g, {TOPIC: [0], HEALTH: [0]})
    check_eq((offs[(TOPIC, 0)][0], offs[(HEALTH, 0)][0]), (5, -1), "OffsetFetch: 5 kept, the deleted one -1")
    err, _ = gw.offset_delete(broker.port, unique("gp-never"), {TOPIC: [0]})
    check_eq(err, gw.GROUP_ID_NOT_FOUND, "OffsetDelete of an unknown group: GROUP_ID_NOT_FOUND")
    a.leave()
    err, res = gw.offset_delete(broker.port, g, {TOPIC: [0]})
    check_eq((err, res), (0, {(TOPIC, 0): 0}), "once the group is empty: deleted")
    offs, _ = gw.offset_fetch(broker.port, g, {TOPIC: [0]})
    check_eq(offs[(TOPIC, 0)][0], -1, "OffsetFetch: -1")
    close_members()
    healthy("OffsetDelete")


def test_rebalance_timeout():
    g = unique("gp-rtimeout")
    a = member(g, rebalance_ms=1500, client_id="itest-raw-silent")
    gw.form_group([a], two_partitions_each)
    b = member(g, rebalance_ms=1500, client_id="itest-raw-b")
    b.join_for_id()
    t0 = time.monotonic()
    b.send_join()
    a.wait_heartbeat_error(gw.REBALANCE_IN_PROGRESS)
    check(True, "the Stable member's heartbeat learns of the rebalance")
    # a never rejoins: the rebalance completes without it when the largest
    # rebalance timeout of the members (1500 ms) has passed
    j = b.recv_join(timeout=15)
    waited = time.monotonic() - t0
    check(j["error"] == 0 and j["leader"] == b.member_id and [m[0] for m in j["members"]] == [b.member_id],
          "the newcomer's JoinGroup is answered with a generation of its own, as leader", j)
    # not before the timeout; how long after is MEASURED (recv_join's 15 s is the hang guard)
    check(waited >= 1.4, "not before the 1500 ms rebalance timeout (%.2f s)" % waited)
    print("  MEASURED: the rebalance completed without the silent member %.2f s after the newcomer's JoinGroup "
          "(rebalance timeout 1.5 s)" % waited, flush=True)
    check_eq(a.heartbeat(), gw.UNKNOWN_MEMBER_ID, "the member that did not rejoin is out: UNKNOWN_MEMBER_ID")
    close_members()
    healthy("a rebalance timeout")


def test_parked_connection_closed():
    # a JoinGroup parked, then its connection closed: the rebalance goes on
    # without it once the rebalance timeout passes
    g = unique("gp-closed-join")
    a = member(g, rebalance_ms=1500, session_ms=6000)
    gw.form_group([a], two_partitions_each)
    b = member(g, rebalance_ms=1500, session_ms=6000, client_id="itest-raw-gone")
    b.join_for_id()
    b.send_join()
    a.wait_heartbeat_error(gw.REBALANCE_IN_PROGRESS)
    b.close()
    open_members.remove(b)
    caught_up()
    t0 = time.monotonic()
    a.send_join()
    j = a.recv_join()
    check(j["error"] == 0 and [m[0] for m in j["members"]] == [a.member_id],
          "a member whose parked JoinGroup's connection closed is dropped: the other gets a generation of its own "
          "(%.2f s later)" % (time.monotonic() - t0), j)
    a.send_sync([(a.member_id, gw.assignment({TOPIC: [0, 1, 2, 3]}))])
    check_eq(a.recv_sync()[0], 0, "and syncs")
    # a SyncGroup parked, then its connection closed: the leader's SyncGroup
    # completes the generation; the closed member's session then ends
    c = member(g, rebalance_ms=1500, session_ms=1000, client_id="itest-raw-gone-sync")
    c.join_for_id()
    c.send_join()
    a.wait_heartbeat_error(gw.REBALANCE_IN_PROGRESS)
    a.send_join()
    ja, jc = a.recv_join(), c.recv_join()
    check(ja["error"] == jc["error"] == 0 and len(ja["members"]) == 2, "a newcomer joins: a generation of two")
    c.send_sync()
    check(not c.conn.ready(0.1), "the newcomer's SyncGroup is parked")
    c.close()
    open_members.remove(c)
    a.send_sync(sorted(two_partitions_each([a.member_id, c.member_id]).items()))
    check_eq(a.recv_sync()[0], 0, "the leader's SyncGroup, after the follower's connection closed: answered")
    a.wait_heartbeat_error(gw.REBALANCE_IN_PROGRESS, timeout=10)
    check(True, "the closed member's 1000 ms session ended: the leader's heartbeat gets REBALANCE_IN_PROGRESS")
    a.send_join()
    j = a.recv_join()
    check(j["error"] == 0 and [m[0] for m in j["members"]] == [a.member_id], "and rejoins alone", j)
    close_members()
    healthy("parked requests whose connections closed")


def test_parked_member_kept_alive():
    # a member waiting in JoinGroup cannot heartbeat: its session must not end
    # while it waits (Kafka keeps members awaiting a join or sync alive)
    g = unique("gp-keepalive")
    a = member(g, rebalance_ms=10000, session_ms=6000)
    gw.form_group([a], two_partitions_each)
    b = member(g, rebalance_ms=10000, session_ms=1000, client_id="itest-raw-waiting")
    b.join_for_id()
    b.send_join()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 2.5:            # a slow member: it heartbeats, but rejoins late
        a.heartbeat()
        time.sleep(0.2)
    a.send_join()
    ja, jb = a.recv_join(), b.recv_join()
    check(ja["error"] == jb["error"] == 0 and len(ja["members"] or jb["members"]) == 2,
          "after 2.5 s the newcomer (session.timeout.ms=1000) is still in: its JoinGroup answered with a generation of two",
          (ja, jb))
    close_members()
    healthy("a member parked longer than its session")


def test_group_max_size():
    small = Broker(overrides={"group.max.size": 2, "group.min.session.timeout.ms": MIN_SESSION,
                              "group.initial.rebalance.delay.ms": 0, "auto.create.topics.enable": "false"},
                   name="groupmax")
    ms = []
    try:
        small.start()

        def mk(name):
            m = Member(small.port, "gp-max", topics=[TOPIC], client_id=name)
            ms.append(m)
            return m

        a, b, c = mk("max-a"), mk("max-b"), mk("max-c")
        for m in (a, b, c):
            m.group = "gp-max-full"
        gw.form_group([a, b], two_partitions_each)
        j = c.join_for_id()
        check_eq(j["error"], gw.GROUP_MAX_SIZE_REACHED,
                 "group.max.size=2, two members in: a third's JoinGroup gets GROUP_MAX_SIZE_REACHED (81)")
        check_eq(len(gw.describe_groups(small.port, ["gp-max-full"])["gp-max-full"]["members"]), 2,
                 "the group still has its 2 members")
        # two newcomers get their member ids while the group holds one member,
        # then both join with them: Kafka checks the size on that second
        # JoinGroup too (GroupCoordinator.acceptJoiningMember), so one of the
        # three ends up refused
        a, b, c = mk("max-a2"), mk("max-b2"), mk("max-c2")
        for m in (a, b, c):
            m.group = "gp-max-race"
        gw.form_group([a], two_partitions_each)
        check_eq(b.join_for_id()["error"], gw.MEMBER_ID_REQUIRED, "one member in: a second newcomer gets an id")
        check_eq(c.join_for_id()["error"], gw.MEMBER_ID_REQUIRED, "and a third too (the group still holds one)")
        b.send_join()
        c.send_join()
        caught_up(small.port)        # both newcomers' JoinGroups are in
        a.wait_heartbeat_error(gw.REBALANCE_IN_PROGRESS)
        a.send_join()
        answers = {m.conn.client_id: m.recv_join() for m in (a, b, c)}
        errs = {k: v["error"] for k, v in answers.items()}
        sizes = [len(v["members"]) for v in answers.values() if v["error"] == 0 and v["members"]]
        print("  JoinGroup answers: %s; the leader's member list has %s member(s)" % (errs, sizes))
        check(sorted(errs.values()) == [0, 0, gw.GROUP_MAX_SIZE_REACHED] and sizes == [2],
              "two of the three are in the generation and one gets GROUP_MAX_SIZE_REACHED: never more members "
              "than group.max.size", "answers %s, generation sizes %s" % (errs, sizes))
        check(small.alive(), "the broker is alive")
    except Exception:
        print("broker groupmax log tail:\n%s" % small.log_tail(20), flush=True)
        raise
    finally:
        for m in ms:
            m.close()
        rc = small.finish(0)
        small.cleanup()
    check_eq(rc, 0, "that broker exits 0 on SIGTERM with no sanitizer report")


def test_every_version():
    """Each version of each group API answered in that version's layout:
    the decoder for it reads the response to its last byte."""
    g, (a,) = stable_group(1, instance_id="every-version")
    gen, mid = a.generation, a.member_id

    def call(api, v, body):
        c = gw.Conn(broker.port)
        try:
            return c.call(api, v, body)
        finally:
            c.close()

    for v in range(3):
        r = call(gw.FIND_COORDINATOR, v, gw.find_coordinator_body(v, g))
        res = gw.parse_find_coordinator(r, v)
        check(res == (0, 0, "127.0.0.1", broker.port) and r.at_end(),
              "FindCoordinator v%d: this broker (node 0, 127.0.0.1:%d), whole response" % (v, broker.port), res)
    r = call(gw.FIND_COORDINATOR, 1, gw.find_coordinator_body(1, "a-transactional-id", key_type=1))
    check_eq(gw.parse_find_coordinator(r, 1)[0], 15, "FindCoordinator for a transaction: COORDINATOR_NOT_AVAILABLE")
    for v in range(4):
        r = call(gw.HEARTBEAT, v, gw.heartbeat_body(v, g, gen, mid, "every-version"))
        check(gw.parse_error_only(r, v) == 0 and r.at_end(), "Heartbeat v%d: error 0, whole response" % v)
    for v in range(4):
        r = call(gw.SYNC, v, gw.sync_group_body(v, g, gen, mid, [], "every-version"))
        err, asg, end = gw.parse_sync(r, v)
        check(err == 0 and asg == a.assignment and end, "SyncGroup v%d in a Stable group: its assignment again, whole "
              "response" % v)
    for v in range(8):
        r = call(gw.OFFSET_COMMIT, v, gw.offset_commit_body(v, g, gen, mid, {(TOPIC, 0): (100 + v, "v%d" % v)},
                                                            "every-version"))
        res = gw.parse_offset_commit(r, v)
        want = 0 if v >= 1 else gw.UNKNOWN_MEMBER_ID     # v0 carries no member: refused while the group has members
        check(res == {(TOPIC, 0): want} and r.at_end(), "OffsetCommit v%d: error %d, whole response" % (v, want), res)
    for v in range(6):
        r = call(gw.OFFSET_FETCH, v, gw.offset_fetch_body(v, g, {TOPIC: [0]}))
        offs, err = gw.parse_offset_fetch(r, v)
        check(offs == {(TOPIC, 0): (107, "v7", 0)} and err in (None, 0) and r.at_end(),
              "OffsetFetch v%d: offset 107 and metadata \"v7\" of the last commit, whole response" % v, offs)
    for v in range(5):
        r = call(gw.DESCRIBE_GROUPS, v, gw.describe_groups_body(v, [g, ""]))
        d = gw.parse_describe_groups(r, v)
        check(r.at_end() and d[g]["state"] == "Stable" and [m["member_id"] for m in d[g]["members"]] == [mid]
              and d[""]["error"] == 24, "DescribeGroups v%d: the group, its member, INVALID_GROUP_ID (24) for \"\", "
              "whole response" % v)
        if v >= 4:
            check_eq(d[g]["members"][0]["instance_id"], "every-version", "DescribeGroups v4 has the group.instance.id")
    for v in range(3):
        r = call(gw.LIST_GROUPS, v, b"")
        err, groups = gw.parse_list_groups(r, v)
        check(err == 0 and groups.get(g) == "consumer" and r.at_end(), "ListGroups v%d lists it, whole response" % v)
    for v in range(4):
        m = member(g, client_id="itest-leaver-%d" % v)
        m.join_for_id()
        m.send_join()
        a.wait_heartbeat_error(gw.REBALANCE_IN_PROGRESS)
        a.send_join()
        a.recv_join()
        m.recv_join()
        r = call(gw.LEAVE, v, gw.leave_group_body(v, g, m.member_id))
        err, members = gw.parse_leave(r, v)
        ok = err == 0 and (v < 3 or members == [(m.member_id, None, 0)])
        check(ok and r.at_end(), "LeaveGroup v%d of a member: error 0, whole response" % v, (err, members))
        a.wait_heartbeat_error(gw.REBALANCE_IN_PROGRESS)
        a.send_join()
        check_eq(a.recv_join()["members"], [(mid, "every-version", a.protocols[0][1])], "the group is down to one")
        a.send_sync([(mid, gw.assignment({TOPIC: [0, 1, 2, 3]}))])
        a.recv_sync()
    other = unique("gp-empty")
    gw.parse_offset_commit(gw.rpc(broker.port, gw.OFFSET_COMMIT, 2, gw.offset_commit_body(
        2, other, -1, "", {(TOPIC, 1): (1, None)})), 2)
    for v in range(2):
        r = call(gw.DELETE_GROUPS, v, gw.delete_groups_body([other]))
        res = gw.parse_delete_groups(r)
        check(res == {other: 0 if v == 0 else gw.GROUP_ID_NOT_FOUND} and r.at_end(),
              "DeleteGroups v%d: %s, whole response" % (v, "deleted" if v == 0 else "then GROUP_ID_NOT_FOUND"), res)
    close_members()
    healthy("every version of the group APIs")


def flex_call(api, v, body):
    """One request in a flexible version (request header v2); the answer's
    header v1 tags are read off. Returns the Reader at the body."""
    corr = 4000 + api
    s = wire.connect(broker.port)
    try:
        wire.send(s, wire.frame(api, v, corr, body, flexible=True))
        resp = wire.read_response(s)
    finally:
        s.close()
    check(resp is not None, "api %d v%d (flexible): answered" % (api, v))
    r = wire.Reader(resp)
    check_eq((r.i32(), r.tags()), (corr, {}), "api %d v%d: correlation id, response header v1" % (api, v))
    return r


def test_flexible_versions():
    """The group APIs in their flexible versions over raw frames, against a
    Stable group formed at the classic versions: FindCoordinator v4 (one
    coordinator per key), Heartbeat v4, SyncGroup v5 (KIP-559: the group's
    type and protocol answered; another type or protocol is
    INCONSISTENT_GROUP_PROTOCOL), OffsetCommit v8 then OffsetFetch v7,
    DescribeGroups v5 with authorized operations (no authorizer: READ,
    DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS), each read to its last
    byte."""
    cs, uv, T = wire.compact_string, wire.uvarint, wire.uvarint(0)
    g, (a,) = stable_group(1)
    gen, mid = a.generation, a.member_id
    r = flex_call(gw.FIND_COORDINATOR, 4, wire.i8(0) + uv(3) + cs(g) + cs("other-group") + T)
    r.i32()
    coords = r.compact_array(lambda x: (x.compact_string(), x.i32(), x.compact_string(), x.i32(), x.i16(),
                                        x.compact_string(), x.tags()))
    r.tags()
    check(r.at_end() and [(c[0], c[1], c[3], c[4]) for c in coords] == [(g, 0, broker.port, 0),
                                                                        ("other-group", 0, broker.port, 0)],
          "FindCoordinator v4: this broker for both keys, whole response", coords)
    r = flex_call(gw.HEARTBEAT, 4, cs(g) + wire.i32(gen) + cs(mid) + uv(0) + T)
    r.i32()
    check(r.i16() == 0 and r.tags() == {} and r.at_end(), "Heartbeat v4: error 0, whole response")
    for ptype, pname, want in (("consumer", "range", 0), (None, None, 0), ("connect", "range", 23),
                               ("consumer", "roundrobin", 23)):
        body = (cs(g) + wire.i32(gen) + cs(mid) + uv(0) + (cs(ptype) if ptype else uv(0))
                + (cs(pname) if pname else uv(0)) + uv(1) + T)
        r = flex_call(gw.SYNC, 5, body)
        r.i32()
        err, rt, rn, asg = r.i16(), r.compact_string(), r.compact_string(), r.take(r.uvarint() - 1)
        r.tags()
        check(r.at_end(), "SyncGroup v5 answer read to its last byte")
        if want == 0:
            check(err == 0 and rt == "consumer" and rn == "range" and asg == a.assignment,
                  "SyncGroup v5 naming %s/%s: its assignment, the group's type and protocol" % (ptype, pname),
                  (err, rt, rn))
        else:
            check((err, rt, rn, asg) == (23, None, None, b""),
                  "SyncGroup v5 naming %s/%s: INCONSISTENT_GROUP_PROTOCOL, type and protocol null" % (ptype, pname),
                  (err, rt, rn))
    body = (cs(g) + wire.i32(gen) + cs(mid) + uv(0) + uv(2) + cs(TOPIC) + uv(2) + wire.i32(1) + wire.i64(77)
            + wire.i32(0) + cs("flex") + T + T + T)
    r = flex_call(gw.OFFSET_COMMIT, 8, body)
    r.i32()
    res = r.compact_array(lambda x: (x.compact_string(), x.compact_array(lambda y: (y.i32(), y.i16(), y.tags())),
                                     x.tags()))
    r.tags()
    check(r.at_end() and res == [(TOPIC, [(1, 0, {})], {})], "OffsetCommit v8: committed, whole response", res)
    r = flex_call(gw.OFFSET_FETCH, 7, cs(g) + uv(2) + cs(TOPIC) + uv(2) + wire.i32(1) + T + wire.i8(1) + T)
    r.i32()
    res = r.compact_array(lambda x: (x.compact_string(), x.compact_array(lambda y: (
        y.i32(), y.i64(), y.i32(), y.compact_string(), y.i16(), y.tags())), x.tags()))
    err = r.i16()
    r.tags()
    check(r.at_end() and err == 0 and res == [(TOPIC, [(1, 77, 0, "flex", 0, {})], {})],
          "OffsetFetch v7 (RequireStable): offset 77, leader epoch 0, metadata \"flex\"", res)
    r = flex_call(gw.DESCRIBE_GROUPS, 5, uv(3) + cs(g) + cs("") + wire.i8(1) + T)
    r.i32()
    groups = r.compact_array(lambda x: (x.i16(), x.compact_string(), x.compact_string(), x.compact_string(),
                                        x.compact_string(), x.compact_array(lambda y: (
                                            y.compact_string(), y.compact_string(), y.compact_string(),
                                            y.compact_string(), y.take(y.uvarint() - 1), y.take(y.uvarint() - 1),
                                            y.tags())), x.i32(), x.tags()))
    r.tags()
    check(r.at_end(), "DescribeGroups v5 answer read to its last byte")
    check(groups[0][:3] == (0, g, "Stable") and [m[0] for m in groups[0][5]] == [mid] and groups[0][6] == 0xd48,
          "DescribeGroups v5: the group, its member, authorized operations 0xd48", groups[0][:3] + (groups[0][6],))
    check(groups[1][0] == 24 and groups[1][6] == -2147483648,
          "DescribeGroups v5: INVALID_GROUP_ID for \"\", no operations with an error", groups[1][:1] + (groups[1][6],))
    close_members()
    healthy("the group APIs in flexible versions")


def test_initial_delay_stretches():
    """group.initial.rebalance.delay.ms (Kafka's InitialDelayedJoin): a new
    group's first rebalance waits that long for more members, and every
    member arriving meanwhile starts the wait again (up to the rebalance
    timeout), so the first members share one generation."""
    delayed = Broker(overrides={"group.initial.rebalance.delay.ms": 3000, "group.min.session.timeout.ms": MIN_SESSION,
                                "auto.create.topics.enable": "false"}, name="groupdelay")
    ms = []
    try:
        delayed.start()
        g = unique("gp-delay")
        a = Member(delayed.port, g, topics=[TOPIC], client_id="dl-a", rebalance_ms=60000)
        b = Member(delayed.port, g, topics=[TOPIC], client_id="dl-b", rebalance_ms=60000, join_version=3)
        ms += [a, b]
        check_eq(a.join_for_id()["error"], gw.MEMBER_ID_REQUIRED, "a (JoinGroup v5) gets its member id")
        t0 = time.monotonic()
        a.send_join()
        caught_up(delayed.port)
        check(not a.conn.ready(0), "a's JoinGroup waits (the initial delay)")
        b.send_join()
        ja, jb = a.recv_join(30), b.recv_join(30)
        took = time.monotonic() - t0
        check(ja["error"] == jb["error"] == 0 and ja["generation"] == jb["generation"] == 1,
              "b (JoinGroup v3, no member id), arriving during the delay, joins the same first generation as a "
              "(generation 1)", (ja, jb))
        leader = ja if ja["members"] else jb
        check_eq(len(leader["members"]), 2, "the leader's answer lists both members")
        check(took >= 3.0, "answered no sooner than the 3 s delay (%.1f s after a's JoinGroup; MEASURED)" % took)
    finally:
        for m in ms:
            m.close()
        delayed.finish(0)
        delayed.cleanup()


def test_join_edges():
    """JoinGroup's other refusals and repeats: an empty group id
    (INVALID_GROUP_ID), a member id for a group that does not exist
    (UNKNOWN_MEMBER_ID), a known member id with another group.instance.id
    (FENCED_INSTANCE_ID); a second JoinGroup from a member whose first is
    still parked answers the first REBALANCE_IN_PROGRESS and takes its
    place; a rebalance timeout of 0 means the session timeout."""
    j = gw.parse_join(gw.rpc(broker.port, gw.JOIN, 5, gw.join_group_body(5, "", "")), 5)
    check_eq(j["error"], 24, "JoinGroup v5 of group '': INVALID_GROUP_ID")
    j = gw.parse_join(gw.rpc(broker.port, gw.JOIN, 5, gw.join_group_body(5, unique("gp-none"), "nobody-1")), 5)
    check_eq(j["error"], gw.UNKNOWN_MEMBER_ID, "JoinGroup with a member id, of a group that does not exist: "
             "UNKNOWN_MEMBER_ID")
    g = unique("gp-edges")
    s1 = member(g, instance_id="inst-e", client_id="itest-edge-static")
    gw.form_group([s1], two_partitions_each)
    j = gw.parse_join(gw.rpc(broker.port, gw.JOIN, 5, gw.join_group_body(
        5, g, s1.member_id, instance_id="inst-other", protocols=s1.protocols)), 5)
    check_eq(j["error"], gw.FENCED_INSTANCE_ID, "its member id with another group.instance.id: FENCED_INSTANCE_ID")
    close_members()

    g = unique("gp-edges")
    a = member(g, client_id="itest-edge-a")
    b = member(g, client_id="itest-edge-b", rebalance_ms=0)
    gw.form_group([a, b], two_partitions_each)
    check(True, "a member with rebalance timeout 0 (the session timeout then) is in the group")
    leader, follower = (a, b) if a.is_leader() else (b, a)
    gen0 = follower.generation
    leader.send_join()                  # the leader rejoining starts a rebalance; parked for the follower
    follower.wait_heartbeat_error(gw.REBALANCE_IN_PROGRESS)
    again = gw.Conn(broker.port, leader.conn.client_id)
    open_members.append(again)
    again.send(gw.JOIN, 5, gw.join_group_body(5, g, leader.member_id, leader.session_ms, leader.rebalance_ms,
                                               "consumer", leader.protocols))
    first = leader.recv_join()
    check_eq(first["error"], gw.REBALANCE_IN_PROGRESS, "the leader's JoinGroup again, on another connection, while "
             "its first is parked: the first answered REBALANCE_IN_PROGRESS")
    follower.send_join()
    jf, jl = follower.recv_join(), gw.parse_join(again.recv(), 5)
    check(jf["error"] == jl["error"] == 0 and jf["generation"] == jl["generation"] == gen0 + 1,
          "the second takes its place: both at generation %d" % (gen0 + 1), (jf, jl))
    close_members()
    healthy("JoinGroup edges")


def test_static_member_fencing():
    g = unique("gp-static")
    old = member(g, instance_id="inst-1", client_id="itest-static-old")
    gw.form_group([old], two_partitions_each)
    old_id = old.member_id
    check_eq(gw.describe_groups(broker.port, [g])[g]["members"][0]["instance_id"], "inst-1",
             "DescribeGroups v4 shows the static member's group.instance.id")
    new = member(g, instance_id="inst-1", client_id="itest-static-new")
    j = new.join()
    check(j["error"] == 0 and new.member_id != old_id,
          "a new incarnation with the same group.instance.id joins with a new member id (%s)" % new.member_id, j)
    new.send_sync([(new.member_id, gw.assignment({TOPIC: [0, 1, 2, 3]}))] if new.is_leader() else [])
    check_eq(new.recv_sync()[0], 0, "and syncs")
    check_eq(old.heartbeat(), gw.FENCED_INSTANCE_ID, "the old incarnation's Heartbeat v3: FENCED_INSTANCE_ID")
    check_eq(old.commit({(TOPIC, 0): (1, None)}), {(TOPIC, 0): gw.FENCED_INSTANCE_ID},
             "its OffsetCommit v7: FENCED_INSTANCE_ID")
    old.send_sync(generation=new.generation)
    check_eq(old.recv_sync()[0], gw.FENCED_INSTANCE_ID, "its SyncGroup v3: FENCED_INSTANCE_ID")
    check_eq(old.join()["error"], gw.FENCED_INSTANCE_ID, "its JoinGroup v5 with the old member id: FENCED_INSTANCE_ID")
    check_eq(new.heartbeat(instance_id="inst-other"), gw.FENCED_INSTANCE_ID,
             "the new incarnation's member id with another group.instance.id: FENCED_INSTANCE_ID")
    check_eq(new.heartbeat(), 0, "the new incarnation heartbeats fine")
    d = gw.describe_groups(broker.port, [g])[g]
    # (Kafka keeps the member's other details, client id included, when a
    # static member comes back: only the member id changes)
    check_eq([(m["member_id"], m["instance_id"]) for m in d["members"]], [(new.member_id, "inst-1")],
             "DescribeGroups: the new incarnation's member id is the only member, with group.instance.id inst-1")
    offs, _ = gw.offset_fetch(broker.port, g, {TOPIC: [0]})
    check_eq(offs[(TOPIC, 0)][0], -1, "the fenced commit left nothing")
    close_members()
    healthy("static member fencing")


def test_static_leader_restart():
    """Issue 9, 3(b): a static member that restarts while it leads a Stable
    group gets, as from Kafka (updateStaticMemberThenRebalanceOrCompleteJoin),
    the current generation at once, a leader id that is not its own (the old
    incarnation's) and an empty member list, so it does not assign; its
    SyncGroup hands back the assignment it had; the other member sees no
    rebalance. The same when it comes back with another subscription while
    the chosen protocol stays range."""
    g = unique("gp-static-lead")
    lead = member(g, instance_id="lead", client_id="itest-lead-old")
    other = member(g, instance_id="other", client_id="itest-other")
    gw.form_group([lead, other], two_partitions_each)
    check(lead.is_leader(), "the first static member leads (generation %d)" % lead.generation)
    gen = lead.generation
    old_id = lead.member_id
    plan = two_partitions_each([lead.member_id, other.member_id])
    for topics, what in (([TOPIC], "the same subscription"), ([TOPIC, "another-topic"], "another subscription")):
        back = member(g, instance_id="lead", client_id="itest-lead-new", topics=topics, rebalance_ms=120000)
        back.send_join()
        j = back.recv_join(timeout=60)
        check(j["error"] == 0 and j["generation"] == gen and back.member_id not in (old_id, "")
              and j["leader"] != back.member_id and j["members"] == [],
              "the leader restarted with %s: JoinGroup answered at once in generation %d, a new member id, "
              "the leader named is not itself, no member list (it does not assign)" % (what, gen), j)
        check_eq(j["leader"], old_id, "the leader named is its old incarnation's id, as Kafka names it")
        back.send_sync()
        err, a = back.recv_sync(timeout=60)
        check_eq((err, a), (0, plan[old_id]), "its SyncGroup (no assignments sent) hands back what it had")
        check_eq(other.heartbeat(), gw.NONE, "the other member's heartbeat: no rebalance")
        d = gw.describe_groups(broker.port, [g])[g]
        check_eq((d["state"], sorted(m["instance_id"] for m in d["members"])), ("Stable", ["lead", "other"]),
                 "DescribeGroups: Stable, the two static members")
        check(back.member_id in [m["member_id"] for m in d["members"]], "with the new incarnation's member id")
        check_eq(lead.heartbeat(), gw.FENCED_INSTANCE_ID, "the old incarnation is fenced")
        lead, old_id = back, back.member_id
        plan = {old_id: plan[[k for k in plan if k != other.member_id][0]], other.member_id: plan[other.member_id]}
    # it now leads (Kafka moves the leadership to the new id): its JoinGroup in
    # a Stable group starts a rebalance, as any leader's
    lead.send_join()
    other.wait_heartbeat_error(gw.REBALANCE_IN_PROGRESS)
    other.send_join()
    jl, jo = lead.recv_join(), other.recv_join()
    check(jl["error"] == 0 and jo["error"] == 0 and jl["generation"] == gen + 1 and lead.is_leader()
          and len(jl["members"]) == 2,
          "the new incarnation leads the next generation (%d) with both members listed" % (gen + 1), jl)
    close_members()
    healthy("a static leader's restart")


def test_subscription_change_completes():
    """Issue 9, 3(a): a member that rejoins a Stable group with another
    subscription starts a rebalance that completes as soon as every known
    member has rejoined: its JoinGroup (and the others') is answered in a
    read of 60 s though the rebalance timeout is 120 s (waiting for it would
    fail). First the group's only member (it is every known member: Kafka
    completes at once; samsa-broker used to wait for the rebalance timeout),
    also in CompletingRebalance and as a leader rejoining unchanged; then a
    follower of two."""
    for when in ("Stable", "CompletingRebalance"):
        for change in (True, False):
            g = unique("gp-subchange-one")
            m = member(g, client_id="itest-sub-one", rebalance_ms=120000)
            j = m.join()
            check_eq((j["error"], j["generation"]), (0, 1), "a member alone in a group: generation 1")
            if when == "Stable":
                m.send_sync([(m.member_id, gw.assignment({TOPIC: [0, 1, 2, 3]}))])
                check_eq(m.recv_sync()[0], 0, "synced: Stable")
            if change:
                m.protocols = [("range", gw.subscription([TOPIC, HEALTH]))]
            m.send_join()
            j = m.recv_join(timeout=60)
            # unchanged in CompletingRebalance: Kafka answers the same generation again
            gen = 1 if when == "CompletingRebalance" and not change else 2
            check(j["error"] == 0 and j["generation"] == gen and m.is_leader(),
                  "in %s it rejoins %s: answered at once (within 60 s, rebalance timeout 120 s) in generation %d, "
                  "as leader" % (when, "with another subscription" if change else "unchanged, as the leader", gen), j)
    g = unique("gp-subchange")
    a = member(g, client_id="itest-sub-a", rebalance_ms=120000)
    b = member(g, client_id="itest-sub-b", rebalance_ms=120000)
    gw.form_group([a, b], two_partitions_each)
    gen = a.generation
    follower = b if a.is_leader() else a
    leader = a if follower is b else b
    follower.protocols = [("range", gw.subscription([TOPIC, HEALTH]))]
    follower.send_join()
    leader.wait_heartbeat_error(gw.REBALANCE_IN_PROGRESS)
    leader.send_join()
    jl, jf = leader.recv_join(timeout=60), follower.recv_join(timeout=60)
    check(jl["error"] == 0 and jf["error"] == 0 and jl["generation"] == jf["generation"] == gen + 1,
          "a follower with another subscription, then the leader after its heartbeat's REBALANCE_IN_PROGRESS: "
          "both answered in generation %d well before the 120 s rebalance timeout" % (gen + 1), (jl, jf))
    subs = {mid: gw.decode_subscription(meta) for mid, _, meta in jl["members"]}
    check_eq(subs.get(follower.member_id), [TOPIC, HEALTH], "the leader's member list has the new subscription")
    close_members()
    healthy("a subscription change")


def test_rejoins():
    """A member that sends JoinGroup again: during CompletingRebalance with
    the same protocols it gets the same answer (generation unchanged), with
    another subscription it starts a new rebalance; in Stable a follower
    with the same protocols gets the current generation back at once, the
    leader rejoining starts a rebalance. LeaveGroup v3 by group.instance.id
    alone; of an unknown member or group, UNKNOWN_MEMBER_ID."""
    # rebalance timeout 120 s, answers read for 60 s: a rejoin that completes
    # the rebalance is answered at once, not when the timeout ends it
    g = unique("gp-rejoin")
    a = member(g, client_id="itest-raw-a", rebalance_ms=120000)
    j1 = a.join()
    check(j1["error"] == 0 and a.is_leader(), "a alone: generation %d, the leader" % a.generation)
    gen1 = a.generation
    j2 = a.join()     # the leader has not synced: CompletingRebalance
    check_eq((j2["error"], j2["generation"], j2["member_id"], j2["leader"]), (0, gen1, a.member_id, a.member_id),
             "JoinGroup again with the same protocols while CompletingRebalance: the same answer, generation %d"
             % gen1)
    a.protocols = [("range", gw.subscription([TOPIC, HEALTH]))]
    j3 = a.join(timeout=60)
    check(j3["error"] == 0 and j3["generation"] == gen1 + 1,
          "with another subscription: a new rebalance, generation %d, answered at once (every member has "
          "rejoined), not at the 120 s rebalance timeout" % j3["generation"])
    a.send_sync([(a.member_id, gw.assignment({TOPIC: [0, 1, 2, 3]}))])
    check_eq(a.recv_sync()[0], 0, "synced: Stable at generation %d" % a.generation)
    a.protocols = [("range", gw.subscription([TOPIC]))]
    j4 = a.join(timeout=60)
    check(j4["error"] == 0 and j4["generation"] == gen1 + 2,
          "the only member, Stable, subscribing anew: generation %d, answered at once" % j4["generation"])
    b = member(g, client_id="itest-raw-b")
    gw.form_group([a, b], two_partitions_each)
    gen = b.generation
    leader, follower = (a, b) if a.is_leader() else (b, a)
    jf = follower.join()
    check_eq((jf["error"], jf["generation"], jf["member_id"]), (0, gen, follower.member_id),
             "Stable: the follower rejoining with the same protocols gets generation %d back at once" % gen)
    check_eq(follower.heartbeat(), 0, "and the group stays Stable (its heartbeat: NONE)")
    leader.send_join()
    follower.wait_heartbeat_error(gw.REBALANCE_IN_PROGRESS)
    follower.send_join()
    jl, jf = leader.recv_join(), follower.recv_join()
    check(jl["error"] == jf["error"] == 0 and jl["generation"] == jf["generation"] == gen + 1,
          "the leader rejoining starts a rebalance: both at generation %d" % (gen + 1))
    close_members()

    gs = unique("gp-leave-static")
    s1 = member(gs, instance_id="inst-leave", client_id="itest-static")
    gw.form_group([s1], two_partitions_each)
    r = gw.rpc(broker.port, gw.LEAVE, 3, gw.leave_group_body(3, gs, "", "inst-leave"))
    err, members = gw.parse_leave(r, 3)
    check_eq((err, members), (0, [("", "inst-leave", 0)]), "LeaveGroup v3 by group.instance.id alone: NONE")
    check_eq(gw.describe_groups(broker.port, [gs])[gs]["members"], [], "and the group has no member left")
    r = gw.rpc(broker.port, gw.LEAVE, 3, gw.leave_group_body(3, gs, "", "inst-nobody"))
    check_eq(gw.parse_leave(r, 3), (0, [("", "inst-nobody", gw.UNKNOWN_MEMBER_ID)]),
             "an unknown group.instance.id: that member UNKNOWN_MEMBER_ID")
    missing = unique("gp-no-such-group")
    r = gw.rpc(broker.port, gw.LEAVE, 3, gw.leave_group_body(3, missing, "m-1", None))
    check_eq(gw.parse_leave(r, 3), (gw.UNKNOWN_MEMBER_ID, [("m-1", None, gw.UNKNOWN_MEMBER_ID)]),
             "LeaveGroup v3 of a group that does not exist: UNKNOWN_MEMBER_ID, and for its member")
    r = gw.rpc(broker.port, gw.LEAVE, 0, gw.leave_group_body(0, missing, "m-1"))
    check_eq(gw.parse_leave(r, 0), (gw.UNKNOWN_MEMBER_ID, None), "LeaveGroup v0 of it: UNKNOWN_MEMBER_ID")
    close_members()
    healthy("rejoins and leaves")


def test_offset_api_errors():
    """The offset APIs' refusals: an empty group id (INVALID_GROUP_ID) in
    OffsetCommit, OffsetFetch, OffsetDelete and DeleteGroups; a commit to a
    partition that does not exist (UNKNOWN_TOPIC_OR_PARTITION); a member's
    commit while its group is CompletingRebalance (REBALANCE_IN_PROGRESS)."""
    r = gw.rpc(broker.port, gw.OFFSET_COMMIT, 2, gw.offset_commit_body(2, "", -1, "", {(TOPIC, 0): (5, None)}))
    check_eq(gw.parse_offset_commit(r, 2), {(TOPIC, 0): 24}, "OffsetCommit v2 of group '': INVALID_GROUP_ID")
    offs, err = gw.offset_fetch(broker.port, "", {TOPIC: [0]})
    check_eq(err, 24, "OffsetFetch v5 of group '': INVALID_GROUP_ID")
    check_eq(gw.offset_delete(broker.port, "", {TOPIC: [0]})[0], 24, "OffsetDelete of group '': INVALID_GROUP_ID")
    check_eq(gw.delete_groups(broker.port, [""]), {"": 24}, "DeleteGroups of group '': INVALID_GROUP_ID")
    g = unique("gp-offerr")
    r = gw.rpc(broker.port, gw.OFFSET_COMMIT, 2, gw.offset_commit_body(
        2, g, -1, "", {(TOPIC, 99): (5, None), ("gp-no-such-topic", 0): (1, None), (TOPIC, 0): (7, None)}))
    check_eq(gw.parse_offset_commit(r, 2), {(TOPIC, 99): 3, ("gp-no-such-topic", 0): 3, (TOPIC, 0): 0},
             "a commit to partition 99 and to a topic that does not exist: UNKNOWN_TOPIC_OR_PARTITION; "
             "partition 0 beside them committed")
    check_eq(gw.offset_fetch(broker.port, g, {TOPIC: [0, 99]})[0],
             {(TOPIC, 0): (7, None, 0), (TOPIC, 99): (-1, "", 0)}, "OffsetFetch: only partition 0's commit")
    a = member(g, client_id="itest-raw-a")
    a.join()    # generation 1, not synced yet: CompletingRebalance
    check_eq(a.commit({(TOPIC, 1): (3, None)}), {(TOPIC, 1): gw.REBALANCE_IN_PROGRESS},
             "a member's OffsetCommit while CompletingRebalance: REBALANCE_IN_PROGRESS")
    close_members()
    healthy("offset API errors")


def main():
    try:
        broker.start()
        print("broker pid %d on %s: socket.request.max.bytes=%d group.min/max.session.timeout.ms=%d/%d "
              "offset.metadata.max.bytes=%d" % (broker.pid, broker.bootstrap, MAX_REQUEST, MIN_SESSION, MAX_SESSION,
                                                META_MAX), flush=True)
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        for f in admin.create_topics([NewTopic(TOPIC, 4, 1), NewTopic(HEALTH, 1, 1)]).values():
            f.result(30)
        del admin
        rc = run_tests([test_flexible_versions, test_before_join_and_unknown_members, test_member_id_required, test_wrong_generation,
                        test_rebalance_in_progress, test_huge_assignment, test_bad_session_timeout,
                        test_inconsistent_protocol, test_delete_groups, test_metadata_too_large,
                        test_offset_delete, test_rebalance_timeout, test_parked_connection_closed,
                        test_parked_member_kept_alive, test_group_max_size, test_initial_delay_stretches,
                        test_static_member_fencing, test_join_edges, test_static_leader_restart,
                        test_subscription_change_completes, test_rejoins, test_offset_api_errors,
                        test_every_version], [broker])
        close_members()
        return broker.finish(rc)
    finally:
        close_members()
        broker.cleanup()


if __name__ == "__main__":
    sys.exit(main())
