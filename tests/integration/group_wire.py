"""The group and offset APIs of the Kafka protocol by hand, for tests that
need exact frames: JoinGroup 0-5, SyncGroup 0-3, Heartbeat 0-3,
LeaveGroup 0-3, OffsetCommit 0-7, OffsetFetch 1-5, DescribeGroups 0-4,
ListGroups 0-2, DeleteGroups 0-1, FindCoordinator 0-2, and the "consumer"
protocol's subscription and assignment bytes.  Written from the Kafka
protocol guide (apache/kafka clients/src/main/resources/common/message);
built on kafka_wire.

A Member owns one connection, as a real group member does, so that a
JoinGroup or SyncGroup the coordinator parks can be sent now and read later
(send_* then recv_*) while other members act on their own connections.
"""

import select
import time

import kafka_wire as wire
from kafka_wire import Reader, array, frame, i8, i16, i32, i64, nullable_string, string

JOIN, SYNC, HEARTBEAT, LEAVE = 11, 14, 12, 13
OFFSET_COMMIT, OFFSET_FETCH = 8, 9
FIND_COORDINATOR, DESCRIBE_GROUPS, LIST_GROUPS, DELETE_GROUPS, OFFSET_DELETE = 10, 15, 16, 42, 47

# error codes
NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
OFFSET_METADATA_TOO_LARGE = 12
ILLEGAL_GENERATION = 22
INCONSISTENT_GROUP_PROTOCOL = 23
UNKNOWN_MEMBER_ID = 25
INVALID_SESSION_TIMEOUT = 26
REBALANCE_IN_PROGRESS = 27
NON_EMPTY_GROUP = 68
GROUP_ID_NOT_FOUND = 69
MEMBER_ID_REQUIRED = 79
GROUP_MAX_SIZE_REACHED = 81
FENCED_INSTANCE_ID = 82
GROUP_SUBSCRIBED_TO_TOPIC = 86


def nbytes(b):
    return i32(-1) if b is None else i32(len(b)) + b


# -- the "consumer" protocol ----------------------------------------------------


def subscription(topics, user_data=None, version=0):
    """ConsumerProtocolSubscription v0: Version, Topics, UserData."""
    return i16(version) + array([string(t) for t in topics]) + nbytes(user_data)


def assignment(parts, user_data=None, version=0):
    """ConsumerProtocolAssignment v0 from {topic: [partition, ...]}."""
    return (i16(version) + array([string(t) + array([i32(p) for p in ps]) for t, ps in sorted(parts.items())])
            + nbytes(user_data))


def decode_assignment(b):
    """{topic: [partitions]}, user data; of ConsumerProtocolAssignment bytes."""
    r = Reader(b)
    r.i16()
    parts = dict(r.array(lambda x: (x.string(), x.array(lambda y: y.i32()))))
    user = r.bytes() if not r.at_end() else None
    return parts, user


def decode_subscription(b):
    r = Reader(b)
    r.i16()
    return r.array(lambda x: x.string())


# -- requests --------------------------------------------------------------------


def join_group_body(version, group, member_id="", session_ms=10000, rebalance_ms=10000,
                    protocol_type="consumer", protocols=(("range", b""),), instance_id=None):
    body = string(group) + i32(session_ms)
    if version >= 1:
        body += i32(rebalance_ms)
    body += string(member_id)
    if version >= 5:
        body += nullable_string(instance_id)
    body += string(protocol_type) + array([string(n) + nbytes(m) for n, m in protocols])
    return body


def parse_join(r, version):
    if version >= 2:
        r.i32()
    out = {"error": r.i16(), "generation": r.i32(), "protocol": r.string(), "leader": r.string(),
           "member_id": r.string()}
    if version >= 5:
        out["members"] = r.array(lambda x: (x.string(), x.string(), x.bytes()))
    else:
        out["members"] = r.array(lambda x: (x.string(), None, x.bytes()))
    out["complete"] = r.at_end()
    return out


def sync_group_body(version, group, generation, member_id, assignments=(), instance_id=None):
    body = string(group) + i32(generation) + string(member_id)
    if version >= 3:
        body += nullable_string(instance_id)
    return body + array([string(m) + nbytes(a) for m, a in assignments])


def parse_sync(r, version):
    if version >= 1:
        r.i32()
    err = r.i16()
    a = r.bytes()
    return err, a, r.at_end()


def heartbeat_body(version, group, generation, member_id, instance_id=None):
    body = string(group) + i32(generation) + string(member_id)
    if version >= 3:
        body += nullable_string(instance_id)
    return body


def parse_error_only(r, version, throttle_from=1):
    if version >= throttle_from:
        r.i32()
    return r.i16()


def leave_group_body(version, group, member_id, instance_id=None):
    if version >= 3:
        return string(group) + array([string(member_id) + nullable_string(instance_id)])
    return string(group) + string(member_id)


def parse_leave(r, version):
    if version >= 1:
        r.i32()
    err = r.i16()
    members = r.array(lambda x: (x.string(), x.string(), x.i16())) if version >= 3 else None
    return err, members


def offset_commit_body(version, group, generation, member_id, offsets, instance_id=None):
    """offsets: {(topic, partition): (offset, metadata)}"""
    body = string(group)
    if version >= 1:
        body += i32(generation) + string(member_id)
    if version >= 7:
        body += nullable_string(instance_id)
    if 2 <= version <= 4:
        body += i64(-1)          # RetentionTimeMs: the broker's default
    by_topic = {}
    for (t, p), v in sorted(offsets.items()):
        by_topic.setdefault(t, []).append((p, v))
    topics = []
    for t, ps in by_topic.items():
        parts = []
        for p, (off, meta) in ps:
            e = i32(p) + i64(off)
            if version >= 6:
                e += i32(-1)     # CommittedLeaderEpoch
            if version == 1:
                e += i64(-1)     # CommitTimestamp
            parts.append(e + nullable_string(meta))
        topics.append(string(t) + array(parts))
    return body + array(topics)


def parse_offset_commit(r, version):
    if version >= 3:
        r.i32()
    out = {}
    for t, ps in r.array(lambda x: (x.string(), x.array(lambda y: (y.i32(), y.i16())))):
        for p, e in ps:
            out[(t, p)] = e
    return out


def offset_fetch_body(version, group, parts):
    """parts: {topic: [partition]} or None (every committed offset, v2+)."""
    if parts is None:
        return string(group) + i32(-1)
    return string(group) + array([string(t) + array([i32(p) for p in ps]) for t, ps in sorted(parts.items())])


def parse_offset_fetch(r, version):
    """({(topic, partition): (offset, metadata, error)}, top-level error)"""
    if version >= 3:
        r.i32()
    out = {}

    def part(y):
        p, off = y.i32(), y.i64()
        if version >= 5:
            y.i32()
        return p, off, y.string(), y.i16()

    for t, ps in r.array(lambda x: (x.string(), x.array(part))):
        for p, off, meta, e in ps:
            out[(t, p)] = (off, meta, e)
    err = r.i16() if version >= 2 else None
    return out, err


def delete_groups_body(groups):
    return array([string(g) for g in groups])


def parse_delete_groups(r):
    r.i32()
    return dict(r.array(lambda x: (x.string(), x.i16())))


def offset_delete_body(group, parts):
    """OffsetDelete v0; parts: {topic: [partition]}"""
    return string(group) + array([string(t) + array([i32(p) for p in ps]) for t, ps in sorted(parts.items())])


def parse_offset_delete(r):
    """(top-level error, {(topic, partition): error}); ErrorCode comes
    before ThrottleTimeMs in this response, unlike the others."""
    err = r.i16()
    r.i32()
    out = {}
    for t, ps in r.array(lambda x: (x.string(), x.array(lambda y: (y.i32(), y.i16())))):
        for p, e in ps:
            out[(t, p)] = e
    return err, out


def describe_groups_body(version, groups):
    body = array([string(g) for g in groups])
    if version >= 3:
        body += i8(0)
    return body


def parse_describe_groups(r, version):
    if version >= 1:
        r.i32()

    def member(x):
        m = {"member_id": x.string()}
        m["instance_id"] = x.string() if version >= 4 else None
        m["client_id"] = x.string()
        m["client_host"] = x.string()
        m["metadata"] = x.bytes()
        m["assignment"] = x.bytes()
        return m

    def group(x):
        g = {"error": x.i16(), "group": x.string(), "state": x.string(), "protocol_type": x.string(),
             "protocol": x.string(), "members": x.array(member)}
        if version >= 3:
            x.i32()
        return g

    return {g["group"]: g for g in r.array(group)}


def find_coordinator_body(version, key, key_type=0):
    return string(key) + (i8(key_type) if version >= 1 else b"")


def parse_find_coordinator(r, version):
    """(error, node_id, host, port)"""
    if version >= 1:
        r.i32()
    err = r.i16()
    if version >= 1:
        r.string()
    return err, r.i32(), r.string(), r.i32()


def parse_list_groups(r, version):
    if version >= 1:
        r.i32()
    err = r.i16()
    return err, dict(r.array(lambda x: (x.string(), x.string())))


# -- connections -------------------------------------------------------------------


class Conn:
    """One connection; requests can be sent ahead and answers read later."""

    def __init__(self, port, client_id="itest-raw"):
        self.s = wire.connect(port)
        self.client_id = client_id
        self.corr = 100
        self.sent = []        # correlation ids sent and not yet read

    def close(self):
        self.s.close()

    def send(self, api, version, body):
        self.corr += 1
        if not wire.send(self.s, frame(api, version, self.corr, body, client_id=self.client_id)):
            raise AssertionError("api %d v%d: connection closed by the broker while sending" % (api, version))
        self.sent.append(self.corr)
        return self.corr

    def ready(self, timeout):
        """True when bytes (an answer or a close) arrive within timeout."""
        return bool(select.select([self.s], [], [], timeout)[0])

    def recv(self, timeout=15):
        resp = wire.read_response(self.s, timeout)
        if resp is None:
            raise AssertionError("connection closed instead of an answer")
        r = Reader(resp)
        corr = r.i32()
        want = self.sent.pop(0)
        if corr != want:
            raise AssertionError("answer with correlation id %d, expected %d" % (corr, want))
        return r

    def call(self, api, version, body, timeout=15):
        self.send(api, version, body)
        return self.recv(timeout)


class Member:
    """A group member speaking the protocol itself."""

    def __init__(self, port, group, topics=("t",), protocols=None, client_id="itest-raw",
                 session_ms=10000, rebalance_ms=10000, instance_id=None, join_version=5):
        self.port = port
        self.conn = Conn(port, client_id)
        self.group = group
        self.topics = list(topics)
        self.protocols = [("range", subscription(self.topics))] if protocols is None else protocols
        self.session_ms = session_ms
        self.rebalance_ms = rebalance_ms
        self.instance_id = instance_id
        self.jv = join_version
        self.member_id = ""
        self.generation = -1
        self.leader = None
        self.members = []
        self.protocol = None
        self.assignment = None

    def close(self):
        self.conn.close()

    def send_join(self):
        return self.conn.send(JOIN, self.jv, join_group_body(
            self.jv, self.group, self.member_id, self.session_ms, self.rebalance_ms, "consumer",
            self.protocols, self.instance_id))

    def recv_join(self, timeout=15):
        j = parse_join(self.conn.recv(timeout), self.jv)
        if j["error"] == NONE:
            self.member_id = j["member_id"]
            self.generation = j["generation"]
            self.leader = j["leader"]
            self.members = j["members"]
            self.protocol = j["protocol"]
        return j

    def join(self, timeout=15):
        """JoinGroup, answering MEMBER_ID_REQUIRED once; returns the answer."""
        self.send_join()
        j = self.recv_join(timeout)
        if j["error"] == MEMBER_ID_REQUIRED:
            self.member_id = j["member_id"]
            self.send_join()
            j = self.recv_join(timeout)
        return j

    def join_for_id(self, timeout=15):
        """The first step of a v4+ join: JoinGroup without an id; keeps
        the id a MEMBER_ID_REQUIRED answer hands out."""
        self.send_join()
        j = self.recv_join(timeout)
        if j["error"] == MEMBER_ID_REQUIRED:
            self.member_id = j["member_id"]
        return j

    def wait_heartbeat_error(self, want, timeout=15):
        """Heartbeats until one is answered with error want, as a client
        learns of a rebalance; raises on a deadline."""
        deadline = time.monotonic() + timeout
        while True:
            err = self.heartbeat()
            if err == want:
                return
            if time.monotonic() >= deadline:
                raise AssertionError("heartbeat still answered %d after %.0fs, waiting for %d" % (err, timeout, want))
            time.sleep(0.02)

    def is_leader(self):
        return self.leader == self.member_id

    def send_sync(self, assignments=(), version=3, generation=None):
        gen = self.generation if generation is None else generation
        return self.conn.send(SYNC, version, sync_group_body(version, self.group, gen, self.member_id,
                                                             assignments, self.instance_id if version >= 3 else None))

    def recv_sync(self, version=3, timeout=15):
        err, a, _ = parse_sync(self.conn.recv(timeout), version)
        if err == NONE:
            self.assignment = a
        return err, a

    def heartbeat(self, version=3, generation=None, member_id=None, instance_id="same"):
        gen = self.generation if generation is None else generation
        mid = self.member_id if member_id is None else member_id
        inst = self.instance_id if instance_id == "same" else instance_id
        return parse_error_only(self.conn.call(HEARTBEAT, version,
                                               heartbeat_body(version, self.group, gen, mid, inst)), version)

    def commit(self, offsets, version=7, generation=None, member_id=None, instance_id="same"):
        gen = self.generation if generation is None else generation
        mid = self.member_id if member_id is None else member_id
        inst = self.instance_id if instance_id == "same" else instance_id
        return parse_offset_commit(self.conn.call(OFFSET_COMMIT, version, offset_commit_body(
            version, self.group, gen, mid, offsets, inst)), version)

    def leave(self, version=3):
        err, members = parse_leave(self.conn.call(LEAVE, version, leave_group_body(
            version, self.group, self.member_id, self.instance_id if version >= 3 else None)), version)
        return err, members


def rpc(port, api, version, body, timeout=15):
    c = Conn(port)
    try:
        return c.call(api, version, body, timeout)
    finally:
        c.close()


def offset_fetch(port, group, parts, version=5):
    return parse_offset_fetch(rpc(port, OFFSET_FETCH, version, offset_fetch_body(version, group, parts)), version)


def describe_groups(port, groups, version=4):
    return parse_describe_groups(rpc(port, DESCRIBE_GROUPS, version, describe_groups_body(version, groups)), version)


def offset_delete(port, group, parts):
    return parse_offset_delete(rpc(port, OFFSET_DELETE, 0, offset_delete_body(group, parts)))


def list_groups(port, version=2):
    return parse_list_groups(rpc(port, LIST_GROUPS, version, b""), version)


def delete_groups(port, groups, version=1):
    return parse_delete_groups(rpc(port, DELETE_GROUPS, version, delete_groups_body(groups)))


def form_group(members, assign, timeout=15):
    """Brings members into one Stable generation: joins them one by one
    (each later join makes the earlier members rejoin, as a heartbeat's
    REBALANCE_IN_PROGRESS would tell them), then syncs with the leader's
    assignment assign(member_ids) -> {member_id: bytes}. Returns the time
    from the first JoinGroup sent to the last SyncGroup answered."""
    t0 = time.monotonic()
    first = members[0]
    j = first.join(timeout)
    if j["error"] != NONE:
        raise AssertionError("JoinGroup of the first member: error %d" % j["error"])
    for k in range(1, len(members)):
        m = members[k]
        if m.jv >= 4 and m.instance_id is None:
            jm = m.join_for_id(timeout)
            if jm["error"] != MEMBER_ID_REQUIRED:
                raise AssertionError("JoinGroup v%d of member %d without an id: error %d" % (m.jv, k, jm["error"]))
        m.send_join()        # parked: the group now waits for the others
        for old in members[:k]:
            old.wait_heartbeat_error(REBALANCE_IN_PROGRESS, timeout)
            old.send_join()
        for x in members[:k + 1]:
            jx = x.recv_join(timeout)
            if jx["error"] != NONE:
                raise AssertionError("JoinGroup round %d: error %d" % (k, jx["error"]))
    gens = {m.generation for m in members}
    if len(gens) != 1:
        raise AssertionError("members ended in different generations %s" % gens)
    leader = [m for m in members if m.is_leader()]
    if len(leader) != 1:
        raise AssertionError("%d leaders among the members" % len(leader))
    plan = assign([m.member_id for m in members])
    for m in members:
        if m is not leader[0]:
            m.send_sync()
    leader[0].send_sync(sorted(plan.items()))
    for m in members:
        err, _ = m.recv_sync(timeout=timeout)
        if err != NONE:
            raise AssertionError("SyncGroup: error %d" % err)
    return time.monotonic() - t0
