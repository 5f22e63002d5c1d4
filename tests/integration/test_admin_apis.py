#!/usr/bin/python3
"""The admin APIs that tools call when their topic, group and broker pages
load, over raw frames, each answer read field by field to its last byte:

  DescribeAcls / CreateAcls / DeleteAcls v0-v1   SECURITY_DISABLED (54) with
      Kafka's messages: DescribeAcls at the top with no resources, CreateAcls
      one result per creation, DeleteAcls one per filter with no ACLs; the
      connection stays open (a later request on it is answered)
  DescribeLogDirs v0-v1   every log dir (absolute path) of a broker with two,
      each partition in exactly one, with its real size (the bytes of its
      segment files on disk, which grow after a produce) and offset lag 0;
      the topic filter; an unknown topic is left out
  IncrementalAlterConfigs v0   SET and DELETE change only the configs named
      (others stay), APPEND/SUBTRACT on cleanup.policy and refused on a
      non-list config (INVALID_CONFIG), validate-only changes nothing, a null
      value for SET, a config named twice, a resource named twice (each
      INVALID_REQUEST), unknown topic (3), an invalid value (40); a broker
      resource: SET refused (its configs are static), DELETE accepted,
      another broker id refused
  flexible versions  DescribeAcls/CreateAcls/DeleteAcls v2-v3, DescribeLogDirs
      v2-v4 (v3 top-level error, v4 total and usable bytes of the file system,
      usable <= total, both > 0), IncrementalAlterConfigs v1: the same answers
      in the compact forms with tagged-field sections, response header v1
  DescribeCluster v0-v2   this broker (node id, advertised host and port, no
      rack), the cluster id Metadata gives, controller = this broker,
      authorized operations INT32_MIN unless asked for, then the CLUSTER
      operations a broker without authorizer grants; endpoint type 2
      (controllers) MISMATCHED_ENDPOINT_TYPE (114), 7 UNSUPPORTED_ENDPOINT_TYPE
      (115); v2 IsFenced false
  ListPartitionReassignments v0   none under way, for every topic or named ones
  DescribeProducers v0   an idempotent producer's id, epoch, last sequence and
      last timestamp on the partitions it wrote, none on the others;
      coordinator epoch and txn start offset -1; unknown topic (3 with
      Kafka's message), a partition the topic lacks (3), an invalid name (17)
  ListGroups v3-v5   states (Empty, Stable) and type classic; the states
      filter (any case), the types filter (consumer: none)
  OffsetForLeaderEpoch v0-v4   epoch 0 (the one Metadata v7+ reports): the log end
      offset; epoch 5 and -1: -1/-1, no error; epoch -3: that epoch, ending
      at the log start; an empty partition -1/-1; CurrentLeaderEpoch 1
      UNKNOWN_LEADER_EPOCH (75), -7 FENCED_LEADER_EPOCH (74); unknown topic
      and partition (3)
  DescribeClientQuotas v0-v1   no quotas: an empty list for user, client-id, ip
      filters (exact, default, any; strict or not); Kafka's refusals with null
      entries: an empty entity type, one twice, ip with user, EXACT without a
      match, DEFAULT/SPECIFIED with one, match type 7 (42), entity type 'group'
      (35)
  ListTransactions v0-v1, DescribeTransactions v0   no transactions: none listed,
      the state filters Kafka does not know reported back (Ongoing known,
      'Bogus' not); every id TRANSACTIONAL_ID_NOT_FOUND (105), '' 42
  unimplemented API keys  SaslHandshake (ILLEGAL_SASL_STATE, no mechanisms),
      SaslAuthenticate (v1, v2 flexible), EndTxn (v0, v3 flexible),
      AddOffsetsToTxn: the API's error response and
      the connection stays open; a key Kafka does not define, and a version
      outside the known layouts, close the connection; the broker serves on

Usage: test_admin_apis.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check, check_eq, run_tests, unique  # noqa: E402
import kafka_wire as wire  # noqa: E402
from kafka_wire import array, i8, i16, i32, nullable_string, string  # noqa: E402

broker = Broker(overrides={"auto.create.topics.enable": "false", "num.partitions": "1"}, name="admin-apis")
_corr = [1000]

SECURITY_DISABLED = 54
INVALID_REQUEST = 42
INVALID_CONFIG = 40
UNKNOWN_TOPIC = 3


def corr():
    _corr[0] += 1
    return _corr[0]


def rpc(api, version, body):
    return wire.rpc(broker.port, api, version, body, corr=corr())


class FReader(wire.Reader):
    """A Reader of flexible versions: compact strings and arrays, tagged fields."""

    def uvarint(self):
        v = shift = 0
        while True:
            b = self.take(1)[0]
            v |= (b & 0x7F) << shift
            if b < 0x80:
                return v
            shift += 7

    def cstring(self):
        n = self.uvarint()
        return None if n == 0 else self.take(n - 1).decode()

    def carray(self, fn):
        n = self.uvarint()
        return None if n == 0 else [fn(self) for _ in range(n - 1)]

    def tags(self):
        check_eq(self.uvarint(), 0, "no tagged fields")


def cstring(s):
    return wire.uvarint(0) if s is None else wire.compact_string(s)


def carray(items):
    return wire.uvarint(len(items) + 1) + b"".join(items)


NO_TAGS = wire.uvarint(0)


def frpc(api, version, body):
    """A flexible request (header v2); the answer after its correlation id
    and the response header's tags, as an FReader."""
    c = corr()
    resp = wire.roundtrip(broker.port, wire.frame(api, version, c, body, flexible=True))
    r = FReader(resp)
    check_eq(r.i32(), c, "api %d v%d: the answer carries its correlation id" % (api, version))
    r.tags()   # response header v1
    return r


class Conn:
    """One connection kept open across requests."""

    def __init__(self):
        self.s = wire.connect(broker.port)

    def call(self, api, version, body):
        """The answer after its correlation id, or None when the broker closed."""
        c = corr()
        wire.send(self.s, wire.frame(api, version, c, body))
        resp = wire.read_response(self.s, 10)
        if resp is None:
            return None
        r = wire.Reader(resp)
        check_eq(r.i32(), c, "api %d v%d: the answer carries its correlation id" % (api, version))
        return r

    def metadata_ok(self):
        r = self.call(3, 1, i32(-1))   # Metadata v1, every topic
        return r is not None and len(r.d) > 8

    def close(self):
        self.s.close()


def metadata_answers(conn, what):
    check(conn.metadata_ok(), "%s: a Metadata request on the same connection is answered" % what)


def create_topic(name, partitions, configs=None):
    res = wire.create_topics(broker.port, [(name, partitions, configs or {})], corr=corr())
    check_eq(res[name][0], 0, "topic %s created" % name)


def produce(topic, partition, n, size=100):
    batch = wire.record_batch([(b"k%d" % i, b"v" * size) for i in range(n)])
    resp = wire.roundtrip(broker.port, wire.produce_request(corr(), {(topic, partition): batch}, version=3))
    err, _, _ = list(wire.parse_produce(resp, _corr[0]).values())[0]
    check_eq(err, 0, "produced %d records to %s-%d" % (n, topic, partition))


def describe_configs(topic):
    """{name: (value, source)} of a topic (DescribeConfigs v1)."""
    r = rpc(32, 1, array([i8(2) + string(topic) + i32(-1)]) + i8(0))
    r.i32()

    def config(x):
        name, value, _ro, src, _sens = x.string(), x.string(), x.i8(), x.i8(), x.i8()
        x.array(lambda y: (y.string(), y.string(), y.i8()))
        return name, (value, src)

    res = r.array(lambda x: (x.i16(), x.string(), x.i8(), x.string(), dict(x.array(config))))
    check_eq(res[0][0], 0, "DescribeConfigs of %s" % topic)
    return res[0][4]


# -- ACLs ----------------------------------------------------------------------


def acl_filter(version, name="orders"):
    return (i8(2) + nullable_string(name) + (i8(3) if version >= 1 else b"")
            + nullable_string("User:alice") + nullable_string(None) + i8(4) + i8(3))


def test_acls():
    conn = Conn()
    try:
        for v in (0, 1):
            r = conn.call(29, v, acl_filter(v))
            check(r is not None, "DescribeAcls v%d answered" % v)
            r.i32()
            check_eq((r.i16(), r.string()), (SECURITY_DISABLED, "No Authorizer is configured on the broker"),
                     "DescribeAcls v%d: SECURITY_DISABLED with Kafka's message" % v)
            check_eq(r.array(lambda x: x.string()), [], "DescribeAcls v%d: no resources" % v)
            check(r.at_end(), "DescribeAcls v%d answer read to its last byte" % v)
            metadata_answers(conn, "after DescribeAcls v%d" % v)

            creations = [i8(2) + string(t) + (i8(3) if v >= 1 else b"") + string("User:alice") + string("*")
                         + i8(4) + i8(3) for t in ("orders", "payments")]
            r = conn.call(30, v, array(creations))
            check(r is not None, "CreateAcls v%d answered" % v)
            r.i32()
            check_eq(r.array(lambda x: (x.i16(), x.string())),
                     [(SECURITY_DISABLED, "No Authorizer is configured.")] * 2,
                     "CreateAcls v%d: one SECURITY_DISABLED result per creation" % v)
            check(r.at_end(), "CreateAcls v%d answer read to its last byte" % v)

            r = conn.call(31, v, array([acl_filter(v, "orders"), acl_filter(v, None), acl_filter(v, "x")]))
            check(r is not None, "DeleteAcls v%d answered" % v)
            r.i32()
            check_eq(r.array(lambda x: (x.i16(), x.string(), x.array(lambda y: y.i16()))),
                     [(SECURITY_DISABLED, "No Authorizer is configured.", [])] * 3,
                     "DeleteAcls v%d: one SECURITY_DISABLED result per filter, no matching ACLs" % v)
            check(r.at_end(), "DeleteAcls v%d answer read to its last byte" % v)
            metadata_answers(conn, "after CreateAcls and DeleteAcls v%d" % v)
        # a filter cut short is refused by closing, as every malformed request
        check(conn.call(29, 1, acl_filter(1)[:-1]) is None, "a DescribeAcls cut short closes the connection")
    finally:
        conn.close()


# -- DescribeLogDirs ---------------------------------------------------------------


def describe_log_dirs(version, topics):
    """topics: None (all) or [(topic, [partitions])]; {log_dir: (error,
    {(topic, partition): (size, lag, future)})}."""
    body = i32(-1) if topics is None else array([string(t) + array([i32(p) for p in ps]) for t, ps in topics])
    r = rpc(35, version, body)
    r.i32()
    out = {}
    for err, d, tps in r.array(lambda x: (x.i16(), x.string(), x.array(lambda y: (y.string(), y.array(
            lambda z: (z.i32(), z.i64(), z.i64(), z.i8())))))):
        check(d not in out, "log dir %s listed once" % d)
        parts = {}
        for t, ps in tps:
            for p, size, lag, fut in ps:
                check((t, p) not in parts, "%s-%d listed once in %s" % (t, p, d))
                parts[(t, p)] = (size, lag, fut)
        out[d] = (err, parts)
    check(r.at_end(), "DescribeLogDirs v%d answer read to its last byte" % version)
    return out


def disk_size(topic, p):
    """The bytes of a partition's segment files (.log), wherever it lives."""
    found = [d for d in dirs() if os.path.isdir(os.path.join(d, "%s-%d" % (topic, p)))]
    check_eq(len(found), 1, "%s-%d is in exactly one log dir on disk" % (topic, p))
    return sum(os.path.getsize(f) for f in glob.glob(os.path.join(found[0], "%s-%d" % (topic, p), "*.log")))


def dirs():
    return [os.path.realpath(os.path.join(broker.dir, "d%d" % i)) for i in (1, 2)]


def test_describe_log_dirs():
    topic = unique("dld")
    create_topic(topic, 4)
    for p in range(4):
        produce(topic, p, 3 * (p + 1))
    for v in (0, 1):
        got = describe_log_dirs(v, None)
        check_eq(sorted(got), sorted(dirs()), "DescribeLogDirs v%d: both log dirs, as absolute paths" % v)
        where = {}
        for d, (err, parts) in got.items():
            check_eq(err, 0, "log dir %s: no error" % d)
            for tp, (size, lag, fut) in parts.items():
                where.setdefault(tp, []).append(d)
                if tp[0] == topic:
                    check_eq((size, lag, fut), (disk_size(*tp), 0, 0),
                             "%s-%d: its size on disk, lag 0, not a future log" % tp)
                    check(os.path.isdir(os.path.join(d, "%s-%d" % tp)), "%s-%d is listed under its own dir" % tp)
        check_eq(sorted(p for t, p in where if t == topic), [0, 1, 2, 3], "every partition of %s listed" % topic)
        check(len({d for ds in where.values() for d in ds}) == 2, "partitions spread over both dirs")
    before = disk_size(topic, 0)
    produce(topic, 0, 5)
    after = describe_log_dirs(1, [(topic, [0, 2]), ("no-such-topic", [0])])
    listed = {tp: v for _, (_, parts) in after.items() for tp, v in parts.items()}
    check_eq(sorted(listed), [(topic, 0), (topic, 2)], "the filter: only the partitions asked for; an unknown topic left out")
    check(listed[(topic, 0)][0] > before, "a produce grows the size reported (%d > %d)" % (listed[(topic, 0)][0], before))
    check_eq(listed[(topic, 0)][0], disk_size(topic, 0), "and it is the size on disk")
    check_eq(describe_log_dirs(1, [])[dirs()[0]][1], {}, "an empty topic list: log dirs with no partitions")


# -- IncrementalAlterConfigs --------------------------------------------------------


SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


def iac(resources, validate_only=False):
    """resources: [(type, name, [(config, op, value)])]; [(error, message, type, name)]."""
    body = array([i8(t) + string(n) + array([string(k) + i8(op) + nullable_string(v) for k, op, v in cfgs])
                  for t, n, cfgs in resources]) + i8(1 if validate_only else 0)
    r = rpc(44, 0, body)
    r.i32()
    out = r.array(lambda x: (x.i16(), x.string(), x.i8(), x.string()))
    check(r.at_end(), "IncrementalAlterConfigs answer read to its last byte")
    return out


def overrides(topic):
    return {k: v for k, (v, src) in describe_configs(topic).items() if src == 1}


def test_incremental_alter_configs():
    topic = unique("iac")
    create_topic(topic, 1, {"segment.ms": "600000"})
    check_eq(iac([(2, topic, [("retention.ms", SET, "3600000")])]), [(0, None, 2, topic)], "SET retention.ms")
    check_eq(overrides(topic), {"segment.ms": "600000", "retention.ms": "3600000"},
             "SET adds to the overrides: segment.ms is kept")
    check_eq(iac([(2, topic, [("retention.ms", SET, "7200000"), ("max.message.bytes", SET, "2000")])])[0][0], 0,
             "SET two more")
    check_eq(iac([(2, topic, [("segment.ms", DELETE, None)])])[0][0], 0, "DELETE segment.ms (a null value)")
    check_eq(overrides(topic), {"retention.ms": "7200000", "max.message.bytes": "2000"},
             "DELETE removes only segment.ms")
    check_eq(describe_configs(topic)["segment.ms"][1], 5, "segment.ms is back to its default")
    check_eq(iac([(2, topic, [("no.such.config", DELETE, None)])])[0][0], 0, "DELETE of a config not set: nothing to do")
    check_eq(iac([(2, topic, [("cleanup.policy", APPEND, "delete")])])[0][0], 0,
             "APPEND delete to cleanup.policy (already there: not added twice)")
    check_eq(overrides(topic).get("cleanup.policy"), "delete", "cleanup.policy is 'delete'")
    check_eq(iac([(2, topic, [("cleanup.policy", SUBTRACT, "compact")])])[0][0], 0,
             "SUBTRACT compact (not there) from cleanup.policy")
    check_eq(overrides(topic).get("cleanup.policy"), "delete", "cleanup.policy is still 'delete'")
    key = "leader.replication.throttled.replicas"
    check_eq(iac([(2, topic, [(key, APPEND, "0:0")])])[0][0], 0, "APPEND 0:0 to %s (from its default, empty)" % key)
    check_eq(iac([(2, topic, [(key, APPEND, "1:0,0:0")])])[0][0], 0, "APPEND 1:0,0:0")
    check_eq(overrides(topic).get(key), "0:0,1:0", "%s is 0:0,1:0 (0:0 not added twice)" % key)
    check_eq(iac([(2, topic, [(key, SUBTRACT, "0:0")])])[0][0], 0, "SUBTRACT 0:0")
    check_eq(overrides(topic).get(key), "1:0", "%s is 1:0" % key)
    err = iac([(2, topic, [("retention.ms", APPEND, "5")])])[0]
    check_eq(err[:2], (INVALID_CONFIG, "Can't APPEND to key retention.ms because its type is not LIST."),
             "APPEND to a non-list config")
    err = iac([(2, topic, [("retention.ms", SUBTRACT, "5")])])[0]
    check_eq(err[0], INVALID_CONFIG, "SUBTRACT from a non-list config")
    check_eq(iac([(2, topic, [("retention.ms", SET, "1000")])], validate_only=True)[0][0], 0, "validate-only SET")
    check_eq(overrides(topic).get("retention.ms"), "7200000", "validate-only changed nothing")
    err = iac([(2, topic, [("retention.ms", SET, "abc")])])[0]
    check_eq(err[0], INVALID_CONFIG, "an invalid value: INVALID_CONFIG")
    err = iac([(2, topic, [("retention.ms", SET, None)])])[0]
    check_eq(err[:2], (INVALID_REQUEST, "Null value not supported for : retention.ms"), "a null value for SET")
    err = iac([(2, topic, [("retention.ms", SET, "1"), ("retention.ms", DELETE, None)])])[0]
    check_eq(err[:2], (INVALID_REQUEST, "Error due to duplicate config keys"), "a config named twice")
    err = iac([(2, topic, [("retention.ms", 9, "1")])])[0]
    check_eq(err[0], INVALID_REQUEST, "an unknown operation")
    both = iac([(2, topic, [("retention.ms", SET, "1")]), (2, topic, [("segment.ms", SET, "1")])])
    check_eq([e[:2] for e in both], [(INVALID_REQUEST, "Each resource must appear at most once.")] * 2,
             "a resource named twice: both refused")
    check_eq(overrides(topic).get("retention.ms"), "7200000", "and neither applied")
    check_eq(iac([(2, "no-such-topic", [("retention.ms", SET, "1")])])[0][0], UNKNOWN_TOPIC, "unknown topic")
    # the broker's configs are static
    err = iac([(4, "0", [("log.retention.ms", SET, "1000")])])[0]
    check_eq(err[:2], (INVALID_REQUEST, "Cannot update these configs dynamically: Set(log.retention.ms)"),
             "broker config SET refused")
    check_eq(iac([(4, "", [("log.retention.ms", DELETE, None)])])[0][0], 0,
             "broker config DELETE: nothing dynamic to delete")
    err = iac([(4, "7", [("log.retention.ms", DELETE, None)])])[0]
    check_eq(err[:2], (INVALID_REQUEST, "Unexpected broker id, expected 0, but received 7"), "another broker id")
    err = iac([(9, "x", [("a", SET, "b")])])[0]
    check_eq(err[0], INVALID_REQUEST, "an unknown resource type")


# -- flexible versions ---------------------------------------------------------------


def cacl_filter(version, name="orders"):
    return (i8(2) + cstring(name) + i8(3) + cstring("User:alice") + cstring(None) + i8(4) + i8(3))


def test_acls_flexible():
    for v in (2, 3):
        r = frpc(29, v, cacl_filter(v) + NO_TAGS)
        r.i32()
        check_eq((r.i16(), r.cstring(), r.carray(lambda x: x.cstring())),
                 (SECURITY_DISABLED, "No Authorizer is configured on the broker", []),
                 "DescribeAcls v%d: SECURITY_DISABLED, no resources" % v)
        r.tags()
        check(r.at_end(), "DescribeAcls v%d answer read to its last byte" % v)
        creation = i8(2) + cstring("orders") + i8(3) + cstring("User:alice") + cstring("*") + i8(4) + i8(3) + NO_TAGS
        r = frpc(30, v, carray([creation, creation]) + NO_TAGS)
        r.i32()

        def result(x):
            out = (x.i16(), x.cstring())
            x.tags()
            return out
        check_eq(r.carray(result), [(SECURITY_DISABLED, "No Authorizer is configured.")] * 2,
                 "CreateAcls v%d: one result per creation" % v)
        r.tags()
        check(r.at_end(), "CreateAcls v%d answer read to its last byte" % v)
        r = frpc(31, v, carray([cacl_filter(v) + NO_TAGS]) + NO_TAGS)
        r.i32()

        def fresult(x):
            out = (x.i16(), x.cstring(), x.carray(lambda y: y.i16()))
            x.tags()
            return out
        check_eq(r.carray(fresult), [(SECURITY_DISABLED, "No Authorizer is configured.", [])],
                 "DeleteAcls v%d: one result per filter" % v)
        r.tags()
        check(r.at_end(), "DeleteAcls v%d answer read to its last byte" % v)


def test_describe_log_dirs_flexible():
    topic = unique("dldf")
    create_topic(topic, 2)
    produce(topic, 1, 4)
    for v in (2, 3, 4):
        body = carray([cstring(topic) + carray([i32(0), i32(1)]) + NO_TAGS]) + NO_TAGS
        r = frpc(35, v, body)
        r.i32()
        if v >= 3:
            check_eq(r.i16(), 0, "DescribeLogDirs v%d: top-level error 0" % v)

        def part(x):
            out = (x.i32(), x.i64(), x.i64(), x.i8())
            x.tags()
            return out

        def topic_(x):
            out = (x.cstring(), x.carray(part))
            x.tags()
            return out

        def result(x):
            out = [x.i16(), x.cstring(), x.carray(topic_)]
            if v >= 4:
                out += [x.i64(), x.i64()]
            x.tags()
            return out
        res = r.carray(result)
        r.tags()
        check(r.at_end(), "DescribeLogDirs v%d answer read to its last byte" % v)
        check_eq(sorted(x[1] for x in res), sorted(dirs()), "DescribeLogDirs v%d: both log dirs" % v)
        sizes = {(t, p): size for x in res for t, ps in x[2] for p, size, _, _ in ps}
        check_eq(sizes, {(topic, 0): disk_size(topic, 0), (topic, 1): disk_size(topic, 1)},
                 "DescribeLogDirs v%d: both partitions with their sizes on disk" % v)
        if v >= 4:
            for x in res:
                check(0 < x[4] <= x[3], "v4 %s: usable bytes %d within total %d" % (x[1], x[4], x[3]))


def test_iac_flexible():
    topic = unique("iacf")
    create_topic(topic, 1)
    body = carray([i8(2) + cstring(topic) + carray([cstring("retention.ms") + i8(SET) + cstring("60000") + NO_TAGS,
                                                   cstring("segment.ms") + i8(SET) + cstring(None) + NO_TAGS])
                   + NO_TAGS,
                   i8(2) + cstring(topic + "-none") + carray([cstring("retention.ms") + i8(SET) + cstring("1") + NO_TAGS])
                   + NO_TAGS]) + i8(0) + NO_TAGS
    r = frpc(44, 1, body)
    r.i32()

    def res(x):
        out = (x.i16(), x.cstring(), x.i8(), x.cstring())
        x.tags()
        return out
    check_eq(r.carray(res), [(INVALID_REQUEST, "Null value not supported for : segment.ms", 2, topic),
                             (UNKNOWN_TOPIC, "no such topic", 2, topic + "-none")],
             "IncrementalAlterConfigs v1: a null SET value, an unknown topic")
    r.tags()
    check(r.at_end(), "IncrementalAlterConfigs v1 answer read to its last byte")
    body = carray([i8(2) + cstring(topic) + carray([cstring("retention.ms") + i8(SET) + cstring("60000") + NO_TAGS])
                   + NO_TAGS]) + i8(0) + NO_TAGS
    r = frpc(44, 1, body)
    r.i32()
    check_eq(r.carray(res), [(0, None, 2, topic)], "IncrementalAlterConfigs v1 SET")
    check_eq(overrides(topic), {"retention.ms": "60000"}, "and it is set")


# -- DescribeCluster, ListPartitionReassignments, DescribeProducers, ListGroups ----------


def metadata_cluster():
    """(cluster id, controller id, [(node, host, port)]) from Metadata v2."""
    r = rpc(3, 2, i32(0))
    brokers = r.array(lambda x: (x.i32(), x.string(), x.i32(), x.string()))
    cluster_id, controller = r.string(), r.i32()
    return cluster_id, controller, [(n, h, p) for n, h, p, _ in brokers]


def describe_cluster(v, include_ops=False, endpoint_type=None):
    body = (i8(1 if include_ops else 0) + (i8(endpoint_type) if v >= 1 else b"")
            + (i8(1) if v >= 2 else b"") + NO_TAGS)   # v2: IncludeFencedBrokers
    r = frpc(60, v, body)
    out = {"throttle": r.i32(), "error": r.i16(), "message": r.cstring()}
    if v >= 1:
        out["endpoint_type"] = r.i8()
    out["cluster_id"] = r.cstring()
    out["controller"] = r.i32()

    def brk(x):
        o = (x.i32(), x.cstring(), x.i32(), x.cstring())
        if v >= 2:
            check_eq(x.i8(), 0, "DescribeCluster v2: the broker is not fenced")
        x.tags()
        return o
    out["brokers"] = r.carray(brk)
    out["ops"] = r.i32()
    r.tags()
    check(r.at_end(), "DescribeCluster v%d answer read to its last byte" % v)
    return out


def test_describe_cluster():
    cluster_id, controller, nodes = metadata_cluster()
    for v in (0, 1, 2):
        d = describe_cluster(v, endpoint_type=1)
        check_eq((d["error"], d["message"]), (0, None), "DescribeCluster v%d: no error" % v)
        check_eq(d["cluster_id"], cluster_id, "DescribeCluster v%d: the cluster id Metadata gives" % v)
        check_eq(d["controller"], controller, "DescribeCluster v%d: controller as in Metadata (this broker)" % v)
        check_eq([(n, h, p) for n, h, p, _ in d["brokers"]], nodes, "DescribeCluster v%d: the brokers Metadata lists" % v)
        check_eq(d["brokers"][0][3], None, "no rack")
        check_eq(d["ops"], -2147483648, "authorized operations not asked for: INT32_MIN")
        if v >= 1:
            check_eq(d["endpoint_type"], 1, "endpoint type brokers")
        ops = describe_cluster(v, include_ops=True, endpoint_type=1)["ops"]
        check_eq(sorted(b for b in range(32) if ops >> b & 1), [5, 7, 8, 9, 10, 11, 12],
                 "DescribeCluster v%d: every CLUSTER operation (no authorizer)" % v)
    d = describe_cluster(1, endpoint_type=2)
    check_eq((d["error"], d["cluster_id"], d["brokers"]), (114, "", []),
             "DescribeCluster v1 for controllers: MISMATCHED_ENDPOINT_TYPE, nothing listed")
    d = describe_cluster(1, endpoint_type=7)
    check_eq((d["error"], d["message"]), (115, "Unsupported endpoint type 7"), "endpoint type 7: UNSUPPORTED_ENDPOINT_TYPE")


def test_list_partition_reassignments():
    topic = unique("lpr")
    create_topic(topic, 2)
    for topics in (None, [(topic, [0, 1])], [("no-such-topic", [0])]):
        body = i32(30000) + (wire.uvarint(0) if topics is None else
                             carray([cstring(t) + carray([i32(p) for p in ps]) + NO_TAGS for t, ps in topics])) + NO_TAGS
        r = frpc(46, 0, body)
        got = (r.i32(), r.i16(), r.cstring(), r.carray(lambda x: x.cstring()))
        r.tags()
        check(r.at_end(), "ListPartitionReassignments answer read to its last byte")
        check_eq(got, (0, 0, None, []), "ListPartitionReassignments of %s: none under way" % (topics or "every topic"))


def describe_producers(topics):
    body = carray([cstring(t) + carray([i32(p) for p in ps]) + NO_TAGS for t, ps in topics]) + NO_TAGS
    r = frpc(61, 0, body)
    r.i32()

    def prod(x):
        o = (x.i64(), x.i32(), x.i32(), x.i64(), x.i32(), x.i64())
        x.tags()
        return o

    def part(x):
        o = (x.i32(), x.i16(), x.cstring(), x.carray(prod))
        x.tags()
        return o

    def top(x):
        o = (x.cstring(), x.carray(part))
        x.tags()
        return o
    out = r.carray(top)
    r.tags()
    check(r.at_end(), "DescribeProducers answer read to its last byte")
    return out


def test_describe_producers():
    topic = unique("dp")
    create_topic(topic, 3)
    r = rpc(22, 1, wire.init_producer_id_v1())
    r.i32()
    check_eq(r.i16(), 0, "InitProducerId")
    pid, epoch = r.i64(), r.i16()
    ts = 1700000000000
    for seq, n in ((0, 3), (3, 2)):
        batch = wire.record_batch([(b"k", b"v")] * n, ts=ts + seq, producer_id=pid, producer_epoch=epoch,
                                  base_sequence=seq)
        resp = wire.roundtrip(broker.port, wire.produce_request(corr(), {(topic, 1): batch}, version=3))
        check_eq(list(wire.parse_produce(resp, _corr[0]).values())[0][0], 0, "idempotent batch seq %d" % seq)
    produce(topic, 2, 2)   # not idempotent
    got = describe_producers([(topic, [0, 1, 2, 7]), ("no-such-topic", [0]), ("bad name!", [1])])
    check_eq(got[0][0], topic, "the topic asked for")
    by_part = {p[0]: p for p in got[0][1]}
    check_eq(by_part[0][1:], (0, None, []), "partition 0: no producer")
    check_eq(by_part[1][1:3], (0, None), "partition 1: no error")
    check_eq(by_part[1][3], [(pid, epoch, 4, ts + 3, -1, -1)],
             "partition 1: the producer, its epoch, last sequence 4, the last batch's timestamp, -1 -1")
    check_eq(by_part[2][1:], (0, None, []), "partition 2 (plain produce): no producer")
    check_eq(by_part[7][1:], (UNKNOWN_TOPIC, None, []), "partition 7 (the topic has 3): UNKNOWN_TOPIC_OR_PARTITION")
    check_eq(got[1], ("no-such-topic", [(0, UNKNOWN_TOPIC, "This server does not host this topic-partition.", [])]),
             "unknown topic: 3 with Kafka's message")
    check_eq(got[2][1][0][1], 17, "an invalid topic name: INVALID_TOPIC_EXCEPTION")


def list_groups(v, states=(), types=()):
    body = b""
    if v >= 4:
        body += carray([cstring(x) for x in states])
    if v >= 5:
        body += carray([cstring(x) for x in types])
    r = frpc(16, v, body + NO_TAGS)
    r.i32()
    check_eq(r.i16(), 0, "ListGroups v%d: no error" % v)

    def grp(x):
        o = [x.cstring(), x.cstring()]
        if v >= 4:
            o.append(x.cstring())
        if v >= 5:
            o.append(x.cstring())
        x.tags()
        return tuple(o)
    out = r.carray(grp)
    r.tags()
    check(r.at_end(), "ListGroups v%d answer read to its last byte" % v)
    return out


def test_list_groups_states():
    topic = unique("lg")
    create_topic(topic, 1)
    empty = unique("lg-empty")
    # an offsets-only group (Empty): OffsetCommit v2 with generation -1
    body = (string(empty) + i32(-1) + string("") + wire.i64(-1)
            + array([string(topic) + array([i32(0) + wire.i64(1) + nullable_string(None)])]))
    r = rpc(8, 2, body)
    r.array(lambda x: (x.string(), x.array(lambda y: (y.i32(), y.i16()))))
    mine = lambda gs: sorted(g for g in gs if g[0] == empty)  # noqa: E731
    check_eq(mine(list_groups(3)), [(empty, "")], "ListGroups v3 lists the group")
    check_eq(mine(list_groups(4)), [(empty, "", "Empty")], "ListGroups v4: its state Empty")
    check_eq(mine(list_groups(5)), [(empty, "", "Empty", "classic")], "ListGroups v5: state and type classic")
    check_eq(mine(list_groups(4, states=["eMpTy"])), [(empty, "", "Empty")], "the states filter, any case")
    check_eq(mine(list_groups(4, states=["Stable", "PreparingRebalance"])), [], "a states filter it does not match")
    check_eq(mine(list_groups(5, types=["Classic"])), [(empty, "", "Empty", "classic")], "the types filter classic")
    check_eq(mine(list_groups(5, types=["consumer"])), [], "the types filter consumer: not listed")


def offset_for_leader_epoch(v, topic, parts):
    """parts: [(partition, current_epoch, epoch)]; {partition: (error, epoch, end_offset)}."""
    fx = v >= 4
    def part(p, cur, ep):
        return i32(p) + (i32(cur) if v >= 2 else b"") + i32(ep) + (NO_TAGS if fx else b"")
    body = i32(-1) if v >= 3 else b""
    if fx:
        body += carray([cstring(topic) + carray([part(*x) for x in parts]) + NO_TAGS]) + NO_TAGS
        r = frpc(23, v, body)
    else:
        body += array([string(topic) + array([part(*x) for x in parts])])
        r = rpc(23, v, body)
    if v >= 2:
        r.i32()
    out = {}
    n_topics = r.uvarint() - 1 if fx else r.i32()
    check_eq(n_topics, 1, "OffsetForLeaderEpoch v%d: one topic" % v)
    check_eq(r.cstring() if fx else r.string(), topic, "the topic asked for")
    n = r.uvarint() - 1 if fx else r.i32()
    for _ in range(n):
        err, p = r.i16(), r.i32()
        ep = r.i32() if v >= 1 else None
        out[p] = (err, ep, r.i64())
        if fx:
            r.tags()
    if fx:
        r.tags()
        r.tags()
    check(r.at_end(), "OffsetForLeaderEpoch v%d answer read to its last byte" % v)
    return out


def test_offset_for_leader_epoch():
    topic = unique("ofle")
    create_topic(topic, 2)
    produce(topic, 0, 7)
    for v in range(5):
        got = offset_for_leader_epoch(v, topic, [(0, -1, 0)])
        ep = (lambda e: e if v >= 1 else None)
        check_eq(got[0], (0, ep(0), 7), "v%d: epoch 0 ends at the log end offset 7" % v)
        check_eq(offset_for_leader_epoch(v, topic, [(1, -1, 0)])[1], (0, ep(-1), -1),
                 "v%d: an empty partition has no epoch: -1/-1, no error" % v)
        check_eq(offset_for_leader_epoch(v, topic, [(0, -1, 5)])[0], (0, ep(-1), -1),
                 "v%d: a newer epoch: -1/-1, no error" % v)
        check_eq(offset_for_leader_epoch(v, topic, [(0, -1, -1)])[0], (0, ep(-1), -1), "v%d: epoch -1: -1/-1" % v)
        check_eq(offset_for_leader_epoch(v, topic, [(0, -1, -3)])[0], (0, ep(-3), 0),
                 "v%d: an older epoch ends where epoch 0 starts (the log start)" % v)
        check_eq(offset_for_leader_epoch(v, topic, [(9, -1, 0)])[9], (UNKNOWN_TOPIC, ep(-1), -1),
                 "v%d: a partition the topic lacks: 3" % v)
        if v >= 2:
            check_eq(offset_for_leader_epoch(v, topic, [(0, 1, 0)])[0][0], 75, "v%d: CurrentLeaderEpoch 1: 75" % v)
            check_eq(offset_for_leader_epoch(v, topic, [(0, -7, 0)])[0][0], 74, "v%d: CurrentLeaderEpoch -7: 74" % v)
            check_eq(offset_for_leader_epoch(v, topic, [(0, 0, 0)])[0], (0, 0, 7), "v%d: CurrentLeaderEpoch 0: answered" % v)
    check_eq(offset_for_leader_epoch(2, "no-such-topic", [(0, -1, 0)])[0][0], UNKNOWN_TOPIC, "unknown topic: 3")


def describe_client_quotas(v, components, strict=False):
    """components: [(entity_type, match_type, match)]; (error, message, entries)."""
    if v >= 1:
        body = carray([cstring(t) + i8(m) + cstring(x) + NO_TAGS for t, m, x in components]) + i8(strict) + NO_TAGS
        r = frpc(48, v, body)
    else:
        body = array([string(t) + i8(m) + nullable_string(x) for t, m, x in components]) + i8(strict)
        r = rpc(48, v, body)
    check_eq(r.i32(), 0, "throttle")
    err = r.i16()
    msg = r.cstring() if v >= 1 else r.string()
    if v >= 1:
        n = r.uvarint() - 1
        entries = None if n < 0 else n
        r.tags()
    else:
        entries = r.i32()
        entries = None if entries < 0 else entries
    check(r.at_end(), "DescribeClientQuotas v%d answer read to its last byte" % v)
    return err, msg, entries


def test_describe_client_quotas():
    for v in (0, 1):
        for comps, strict in (([], False), ([("user", 2, None)], False), ([("user", 0, "alice"), ("client-id", 1, None)], True),
                              ([("ip", 2, None)], False)):
            check_eq(describe_client_quotas(v, comps, strict), (0, None, 0),
                     "v%d %s: no quotas, an empty list" % (v, comps))
        for comps, want in (
                ([("", 2, None)], (42, "Invalid empty entity type.")),
                ([("user", 2, None), ("user", 1, None)], (42, "Entity type user cannot appear more than once in the filter.")),
                ([("group", 2, None)], (35, "Unsupported entity type group")),
                ([("user", 0, None)], (42, "Request specified MATCH_TYPE_EXACT, but set match string to null.")),
                ([("user", 1, "x")], (42, "Request specified MATCH_TYPE_DEFAULT, but also specified a match string.")),
                ([("user", 2, "x")], (42, "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.")),
                ([("user", 7, None)], (42, "Unknown match type 7")),
                ([("ip", 2, None), ("user", 2, None)], (42, "Invalid entity filter component combination. IP filter "
                                                          "component should not be used with user or clientId filter component."))):
            check_eq(describe_client_quotas(v, comps), want + (None,), "v%d %s: refused as Kafka does, null entries" % (v, comps))


def test_transactions():
    for v in (0, 1):
        body = carray([cstring("Ongoing"), cstring("Bogus"), cstring("ongoing")]) + carray([wire.i64(5)])
        if v >= 1:
            body += wire.i64(60000)
        r = frpc(66, v, body + NO_TAGS)
        got = (r.i32(), r.i16(), r.carray(lambda x: x.cstring()), r.carray(lambda x: x.cstring()))
        r.tags()
        check(r.at_end(), "ListTransactions v%d answer read to its last byte" % v)
        check_eq(got, (0, 0, ["Bogus", "ongoing"], []),
                 "ListTransactions v%d: none; the filters naming no Kafka state (case counts) reported" % v)
    r = frpc(65, 0, carray([cstring("txn-a"), cstring("")]) + NO_TAGS)
    r.i32()

    def state(x):
        o = (x.i16(), x.cstring(), x.cstring(), x.i32(), x.i64(), x.i64(), x.i16(), x.carray(lambda y: y.cstring()))
        x.tags()
        return o
    got = r.carray(state)
    r.tags()
    check(r.at_end(), "DescribeTransactions answer read to its last byte")
    check_eq(got, [(105, "txn-a", "", 0, 0, 0, 0, []), (42, "", "", 0, 0, 0, 0, [])],
             "DescribeTransactions: an id TRANSACTIONAL_ID_NOT_FOUND, an empty one INVALID_REQUEST")


# -- unimplemented and unknown keys ---------------------------------------------------


def test_unimplemented_keys():
    conn = Conn()
    try:
        r = conn.call(17, 1, string("PLAIN"))
        check(r is not None, "SaslHandshake v1 answered, not closed")
        check_eq((r.i16(), r.array(lambda x: x.string())), (34, []), "SaslHandshake: ILLEGAL_SASL_STATE, no mechanisms")
        check(r.at_end(), "SaslHandshake answer read to its last byte")
        metadata_answers(conn, "after SaslHandshake")
        r = conn.call(36, 1, wire.i32(0))
        check(r is not None, "SaslAuthenticate v1 answered")
        check_eq((r.i16(), r.string(), r.bytes(), r.i64()),
                 (34, "SaslAuthenticate request received after successful authentication", b"", 0),
                 "SaslAuthenticate: ILLEGAL_SASL_STATE with Kafka's message")
        check(r.at_end(), "SaslAuthenticate answer read to its last byte")
        r = frpc(36, 2, wire.uvarint(1) + NO_TAGS)   # SaslAuthenticate v2 (flexible): empty AuthBytes
        check_eq((r.i16(), r.cstring(), r.uvarint(), r.i64()),
                 (34, "SaslAuthenticate request received after successful authentication", 1, 0),
                 "SaslAuthenticate v2: the same answer in the compact forms (empty bytes)")
        r.tags()
        check(r.at_end(), "SaslAuthenticate v2 answer read to its last byte")
        r = frpc(26, 3, cstring("txn") + wire.i64(1) + i16(0) + i8(1) + NO_TAGS)
        check_eq((r.i32(), r.i16()), (0, 53), "EndTxn v3 (flexible): TRANSACTIONAL_ID_AUTHORIZATION_FAILED")
        r.tags()
        check(r.at_end(), "EndTxn v3 answer read to its last byte")
        for key, name in ((26, "EndTxn"), (25, "AddOffsetsToTxn")):
            r = conn.call(key, 0, string("txn") + wire.i64(1) + i16(0) + (i8(1) if key == 26 else string("g")))
            check(r is not None, "%s v0 answered" % name)
            r.i32()
            check_eq(r.i16(), 53, "%s: TRANSACTIONAL_ID_AUTHORIZATION_FAILED (no transactions)" % name)
            check(r.at_end(), "%s answer read to its last byte" % name)
        metadata_answers(conn, "after the transaction APIs")
    finally:
        conn.close()
    for key, version, what in ((32000, 0, "a key Kafka does not define"), (17, 9, "SaslHandshake v9"),
                               (-1, 0, "key -1")):
        conn = Conn()
        try:
            check(conn.call(key, version, b"") is None, "%s: the connection is closed" % what)
        finally:
            conn.close()
    conn = Conn()
    try:
        metadata_answers(conn, "a new connection after them")
    finally:
        conn.close()
    check(broker.alive(), "the broker is alive")


def main():
    try:
        os.makedirs(os.path.join(broker.dir, "d1"), exist_ok=True)
        os.makedirs(os.path.join(broker.dir, "d2"), exist_ok=True)
        broker.overrides["log.dirs"] = ",".join(os.path.join(broker.dir, d) for d in ("d1", "d2"))
        broker.start()
        print("broker pid %d on %s" % (broker.pid, broker.bootstrap), flush=True)
        rc = run_tests([test_acls, test_describe_log_dirs, test_incremental_alter_configs, test_acls_flexible,
                        test_describe_log_dirs_flexible, test_iac_flexible, test_describe_cluster,
                        test_list_partition_reassignments, test_describe_producers, test_list_groups_states,
                        test_offset_for_leader_epoch, test_describe_client_quotas, test_transactions,
                        test_unimplemented_keys], [broker])
        return broker.finish(rc)
    finally:
        broker.cleanup()


if __name__ == "__main__":
    sys.exit(main())
