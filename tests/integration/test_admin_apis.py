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
  unimplemented API keys  SaslHandshake (ILLEGAL_SASL_STATE, no mechanisms),
      SaslAuthenticate, EndTxn, AddOffsetsToTxn: the API's error response and
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
        rc = run_tests([test_acls, test_describe_log_dirs, test_incremental_alter_configs,
                        test_unimplemented_keys], [broker])
        return broker.finish(rc)
    finally:
        broker.cleanup()


if __name__ == "__main__":
    sys.exit(main())
