#!/usr/bin/env python3
"""The differential suite's runner for the Python client families: it runs
scenarios against one broker and prints, per scenario, one JSON line of
what the client observed, normalized so that the same behaviour gives the
same line on Apache Kafka and on samsa-broker (no broker ids, ports,
member ids or clock values; presence instead of timestamps).

  py_runner.py --client confluent|kafka-python --bootstrap H:P --prefix P --scenarios a,b,...

  confluent: confluent-kafka, i.e. librdkafka (Debian's python3-confluent-kafka
             under /usr/bin/python3, or the PyPI wheel's bundled librdkafka in
             build-compat/venv); kafka-python: the PyPI package in that venv.

Output lines: {"scenario": S, "obs": {...}} or {"scenario": S, "error": text}
(the scenario raised) or {"scenario": S, "unsupported": reason} (this client
has no API for it). tests/compat/driver.py runs it against both brokers and
compares. Each scenario names its topics and groups <prefix>-<scenario>-...
"""

import argparse
import json
import sys
import time
import traceback

SCENARIOS = {}


def scenario(fn):
    SCENARIOS[fn.__name__] = fn
    return fn


class Unsupported(Exception):
    pass


def wait(cond, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))
        time.sleep(interval)


# the topic configs and bad values every family tries (tests/integration/test_topic_configs.py has the why)
LEGACY_CONFIGS = {"message.format.version": "2.8-IV1", "message.downconversion.enable": "false",
                  "message.timestamp.difference.max.ms": "60000"}
NEW_CONFIGS = {"compression.gzip.level": "5", "compression.zstd.level": "-5", "local.retention.ms": "-1",
               "remote.log.copy.disable": "true", "follower.replication.throttled.replicas": "0:1",
               "segment.index.bytes": "4096", "min.cleanable.dirty.ratio": "0.25"}
BAD_CONFIGS = [("flush.messages", "0"), ("preallocate", "yes"), ("compression.gzip.level", "0"),
               ("compression.zstd.level", "23"), ("min.cleanable.dirty.ratio", "1.5"), ("retention.ms", "-2"),
               ("segment.ms", "0"), ("message.timestamp.type", "Foo"), ("cleanup.policy", "bogus"),
               ("compression.type", "bogus"), ("remote.storage.enable", "true"), ("no.such.config", "1"),
               ("retention.ms", "abc"), ("segment.bytes", "1000"), ("min.insync.replicas", "2"),
               ("cleanup.policy", "compact"), ("compression.type", "gzip")]
DESCRIBED = ["cleanup.policy", "compression.type", "delete.retention.ms", "file.delete.delay.ms", "flush.messages",
             "flush.ms", "index.interval.bytes", "max.compaction.lag.ms", "max.message.bytes",
             "message.timestamp.after.max.ms", "message.timestamp.before.max.ms", "message.timestamp.type",
             "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "min.insync.replicas", "preallocate",
             "retention.bytes", "retention.ms", "segment.bytes", "segment.index.bytes", "segment.jitter.ms",
             "segment.ms", "unclean.leader.election.enable", "compression.gzip.level", "compression.lz4.level",
             "compression.zstd.level", "local.retention.bytes", "local.retention.ms", "remote.storage.enable"]


# -- librdkafka (confluent-kafka) ----------------------------------------------


class Confluent:
    def __init__(self, bootstrap, prefix):
        import confluent_kafka as ck
        from confluent_kafka import admin as ckadmin
        self.ck = ck
        self.ad = ckadmin
        self.bs = bootstrap
        self.prefix = prefix
        self.admin = ckadmin.AdminClient({"bootstrap.servers": bootstrap})

    def name(self, s):
        return "%s-%s" % (self.prefix, s)

    def err(self, e):
        """A KafkaError (or an exception carrying one) as its name."""
        if e is None:
            return None
        if isinstance(e, self.ck.KafkaException):
            e = e.args[0]
        if isinstance(e, self.ck.KafkaError):
            return e.name()
        return type(e).__name__

    def create(self, name, parts=1, rf=1, config=None, validate_only=False):
        f = self.admin.create_topics([self.ad.NewTopic(name, parts, rf, config=config or {})],
                                     validate_only=validate_only, operation_timeout=20)[name]
        try:
            f.result(30)
        except Exception as e:
            return self.err(e)
        if not validate_only:
            self.await_topic(name, parts)
        return None

    def await_topic(self, name, parts):
        """Kafka answers CreateTopics before its brokers know the topic: wait
        until Metadata shows every partition with a leader, as clients retry."""
        def ready():
            t = self.admin.list_topics(name, timeout=10).topics.get(name)
            return t is not None and not t.error and len(t.partitions) == parts and \
                all(p.leader >= 0 and not p.error for p in t.partitions.values())
        wait(ready, 20, "topic %s in Metadata" % name)

    def producer(self, **kw):
        conf = {"bootstrap.servers": self.bs, "acks": "all", "linger.ms": 0, "message.timeout.ms": 10000}
        conf.update(kw)
        return self.ck.Producer(conf)

    def produce(self, p, topic, msgs):
        """msgs: (partition, key, value, headers, timestamp or None); returns
        [(error, offset)] in order, each flushed before the next."""
        out = []
        for part, key, value, headers, ts in msgs:
            res = []
            kw = {"partition": part, "key": key, "value": value,
                  "on_delivery": lambda e, m: res.append((self.err(e), m.offset() if e is None else None))}
            if headers:
                kw["headers"] = headers
            if ts is not None:
                kw["timestamp"] = ts
            try:
                p.produce(topic, **kw)
            except Exception as e:   # refused before it was sent (BufferError, KafkaException)
                out.append((self.err(e), None))
                continue
            p.flush(30)
            out.append(res[0] if res else ("NO_REPORT", None))
        return out

    def consumer(self, group=None, **kw):
        conf = {"bootstrap.servers": self.bs, "group.id": group or self.name("nogroup"), "enable.auto.commit": False,
                "auto.offset.reset": "earliest", "fetch.wait.max.ms": 100, "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 300}
        conf.update(kw)
        return self.ck.Consumer(conf)

    def read(self, c, n, timeout=30):
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                got.append({"error": self.err(m.error())})
                continue
            tstype, ts = m.timestamp()
            got.append({"p": m.partition(), "o": m.offset(), "k": m.key() and m.key().decode(),
                        "v": m.value() and m.value().decode(), "h": [[k, v.decode()] for k, v in (m.headers() or [])],
                        "ts_type": tstype, "ts": ts > 0})
        return got

    def tp(self, topic, p, off=-1001):
        return self.ck.TopicPartition(topic, p, off)

    def assignment(self, c):
        return sorted([tp.topic.replace(self.prefix, "<p>"), tp.partition] for tp in c.assignment())

    # -- scenarios

    def produce_consume(self):
        t = self.name("pc")
        o = {"create": self.create(t, 3)}
        p = self.producer()
        o["produce"] = self.produce(p, t, [(0, b"k%d" % i, b"v%d" % i, [("h", b"x%d" % i)], None) for i in range(5)])
        o["produce_null_value"] = self.produce(p, t, [(1, b"knull", None, None, None)])
        c = self.consumer()
        c.assign([self.tp(t, 0, -2), self.tp(t, 1, -2)])
        o["consumed"] = sorted(self.read(c, 6), key=lambda m: (m.get("p", -1), m.get("o", -1)))
        o["watermarks_p0"] = list(c.get_watermark_offsets(self.tp(t, 0), timeout=10))
        o["watermarks_p2"] = list(c.get_watermark_offsets(self.tp(t, 2), timeout=10))
        c.close()
        return o

    def metadata(self):
        t = self.name("md")
        o = {"create": self.create(t, 3)}
        md = self.admin.list_topics(timeout=20)
        o["brokers"] = len(md.brokers)
        o["controller_is_a_broker"] = md.controller_id in md.brokers
        o["cluster_id_set"] = bool(md.cluster_id)
        tm = md.topics[t]
        o["topic_error"] = self.err(tm.error)
        o["partitions"] = sorted([p.id, p.leader in md.brokers, len(p.replicas), len(p.isrs), self.err(p.error)]
                                 for p in tm.partitions.values())
        o["internal_topics_listed"] = sorted(x for x in md.topics if x.startswith("__"))
        um = self.admin.list_topics(topic=self.name("md-unknown"), timeout=20)
        u = um.topics.get(self.name("md-unknown"))
        o["unknown_topic"] = self.err(u.error) if u else "ABSENT"
        return o

    def unknown_topic_partition(self):
        t = self.name("utp")
        o = {"create": self.create(t, 2)}
        p = self.producer(**{"message.timeout.ms": 5000})
        o["produce_unknown_topic"] = self.produce(p, self.name("utp-none"), [(0, b"k", b"v", None, None)])
        o["produce_partition_99"] = self.produce(p, t, [(99, b"k", b"v", None, None)])
        c = self.consumer()
        try:
            c.get_watermark_offsets(self.tp(self.name("utp-none"), 0), timeout=10)
            o["watermarks_unknown"] = None
        except Exception as e:
            o["watermarks_unknown"] = self.err(e)
        c.close()
        return o

    def topic_configs(self):
        t = self.name("tcfg")
        o = {"create": self.create(t, 1, config={"retention.ms": "3600000"})}
        r = self.ad.ConfigResource("topic", t)
        cfg = list(self.admin.describe_configs([r]).values())[0].result(30)
        o["described"] = {k: [cfg[k].value, int(cfg[k].source), bool(cfg[k].is_read_only),
                              bool(cfg[k].is_sensitive)] for k in DESCRIBED if k in cfg}
        o["missing"] = [k for k in DESCRIBED if k not in cfg]
        return o

    def topic_config_names(self):
        o = {}
        for k, v in sorted(dict(LEGACY_CONFIGS, **NEW_CONFIGS).items()):
            o[k] = self.create(self.name("tcn"), 1, config={k: v}, validate_only=True)
        return o

    def invalid_configs(self):
        return {"%s=%s" % (k, v): self.create(self.name("ic"), 1, config={k: v}, validate_only=True)
                for k, v in BAD_CONFIGS}

    def create_topic_errors(self):
        t = self.name("cte")
        o = {"create": self.create(t, 2)}
        o["again"] = self.create(t, 2)
        o["rf3"] = self.create(self.name("cte-rf3"), 1, rf=3)
        o["partitions0"] = self.create(self.name("cte-p0"), 0) if self._allows_zero() else "client-refuses"
        o["bad_name"] = self.create("bad/name", 1)
        o["rf3_validate_only"] = self.create(self.name("cte-rf3v"), 1, rf=3, validate_only=True)
        return o

    def _allows_zero(self):
        try:
            self.ad.NewTopic("x", 0, 1)
            return True
        except Exception:
            return False

    def list_offsets_by_time(self):
        t = self.name("lot")
        o = {"create": self.create(t, 1)}
        base = int(time.time() * 1000) - 60000
        p = self.producer()
        o["produce"] = self.produce(p, t, [(0, b"k", b"v%d" % i, None, base + 1000 * i) for i in range(3)])
        c = self.consumer()
        res = {}
        for label, ts in (("before", base - 1), ("at0", base), ("mid01", base + 500), ("at2", base + 2000),
                          ("after", base + 5000)):
            r = c.offsets_for_times([self.tp(t, 0, ts)], timeout=10)[0]
            res[label] = [r.offset, self.err(r.error)]
        o["offsets_for_times"] = res
        c.assign([self.tp(t, 0, -2)])
        o["timestamps_kept"] = [m.get("ts") for m in self.read(c, 3)]
        c.close()
        return o

    def delete_records(self):
        if not hasattr(self.admin, "delete_records"):
            raise Unsupported("this confluent-kafka has no AdminClient.delete_records")
        t = self.name("dr")
        o = {"create": self.create(t, 1)}
        p = self.producer()
        o["produce"] = self.produce(p, t, [(0, None, b"v%d" % i, None, None) for i in range(10)])
        f = self.admin.delete_records([self.tp(t, 0, 4)])
        r = list(f.values())[0].result(30)
        o["low_watermark"] = getattr(r, "low_watermark", None)
        c = self.consumer()
        o["watermarks"] = list(c.get_watermark_offsets(self.tp(t, 0), timeout=10))
        c.assign([self.tp(t, 0, -2)])
        o["first_read"] = [m.get("o") for m in self.read(c, 1)]
        c.close()
        try:
            list(self.admin.delete_records([self.tp(t, 0, 50)]).values())[0].result(30)
            o["beyond_end"] = None
        except Exception as e:
            o["beyond_end"] = self.err(e)
        return o

    def too_large(self):
        t = self.name("tl")
        o = {"create": self.create(t, 1, config={"max.message.bytes": "2000"})}
        p = self.producer(**{"compression.type": "none"})
        o["small"] = self.produce(p, t, [(0, None, b"x" * 100, None, None)])
        o["large"] = self.produce(p, t, [(0, None, b"x" * 6000, None, None)])
        o["after"] = self.produce(p, t, [(0, None, b"y" * 100, None, None)])
        return o

    def offset_out_of_range(self):
        t = self.name("oor")
        o = {"create": self.create(t, 1)}
        o["produce"] = self.produce(self.producer(), t, [(0, None, b"v%d" % i, None, None) for i in range(3)])
        c = self.consumer(**{"auto.offset.reset": "earliest"})
        c.assign([self.tp(t, 0, 50)])
        o["reset_earliest"] = [m.get("o", m.get("error")) for m in self.read(c, 1)]
        c.close()
        c = self.consumer(**{"auto.offset.reset": "latest"})
        c.assign([self.tp(t, 0, 50)])
        o["reset_latest"] = [m.get("o", m.get("error")) for m in self.read(c, 1, timeout=3)]
        self.produce(self.producer(), t, [(0, None, b"late", None, None)])
        o["reset_latest_then_new"] = [m.get("o", m.get("error")) for m in self.read(c, 1, timeout=10)]
        c.close()
        c = self.consumer(**{"auto.offset.reset": "error"})
        c.assign([self.tp(t, 0, 50)])
        o["reset_error"] = [m.get("o", m.get("error")) for m in self.read(c, 1)]
        c.close()
        return o

    def _group(self, topic, n, group, assignor="range", extra=None):
        cs = []
        for i in range(n):
            kw = {"client.id": "c%d" % (i + 1), "partition.assignment.strategy": assignor}
            kw.update((extra or {}).get(i, {}))
            c = self.consumer(group, **kw)
            c.subscribe(topic if isinstance(topic, list) else [topic])
            cs.append(c)
        return cs

    def _settle(self, cs, want, timeout=60):
        """Polls until the group's members hold want partitions between them,
        each at least one and none twice."""
        def ok():
            for c in cs:
                c.poll(0.05)
            got = [tuple(a) for c in cs for a in self.assignment(c)]
            return len(got) == want and len(set(got)) == want and all(c.assignment() for c in cs)
        wait(ok, timeout, "%d partitions assigned across the group" % want, interval=0)

    def group_basic(self):
        t = self.name("gb")
        g = self.name("gb-group")
        o = {"create": self.create(t, 4)}
        cs = self._group(t, 2, g)
        self._settle(cs, 4)
        o["assignment"] = [self.assignment(c) for c in cs]
        self.produce(self.producer(), t, [(p, None, b"m%d" % p, None, None) for p in range(4)])
        for c in cs:
            got = self.read(c, 2)
            o.setdefault("consumed_by", []).append(sorted([m.get("p"), m.get("o")] for m in got))
            c.commit(asynchronous=False)
        o["committed"] = sorted([tp.partition, tp.offset] for tp in
                                cs[0].committed([self.tp(t, p) for p in range(4)], timeout=10))
        for c in cs:
            c.close()
        return o

    def subscription_change(self):
        ta, tb = self.name("sc-a"), self.name("sc-b")
        g = self.name("sc-group")
        o = {"create": [self.create(ta, 2), self.create(tb, 2)]}
        cs = self._group(ta, 2, g)
        self._settle(cs, 2)
        o["before"] = [self.assignment(c) for c in cs]
        cs[1].subscribe([ta, tb])
        self._settle(cs, 4)
        o["after"] = [self.assignment(c) for c in cs]
        for c in cs:
            c.close()
        return o

    def lone_member_subscription_change(self):
        """A group's only member subscribes to one more topic: the rebalance
        completes at once on Kafka; waiting for the rebalance timeout
        (max.poll.interval.ms, 60 s here) would take more than the 30 s read."""
        ta, tb = self.name("lm-a"), self.name("lm-b")
        g = self.name("lm-group")
        o = {"create": [self.create(ta, 2), self.create(tb, 2)]}
        c = self.consumer(g, **{"client.id": "c1", "partition.assignment.strategy": "range",
                                "session.timeout.ms": 10000, "max.poll.interval.ms": 60000})
        c.subscribe([ta])
        self._settle([c], 2)
        c.subscribe([ta, tb])
        try:
            self._settle([c], 4, timeout=30)
            o["settled_within_30s"] = True
        except AssertionError:
            o["settled_within_30s"] = False
        o["after"] = self.assignment(c)
        c.close()
        return o

    def static_leader_restart(self):
        t = self.name("slr")
        g = self.name("slr-group")
        o = {"create": self.create(t, 4)}
        events = []

        def cb(who):
            return {"on_assign": lambda c, ps: events.append([who, "assign", sorted(p.partition for p in ps)]),
                    "on_revoke": lambda c, ps: events.append([who, "revoke", sorted(p.partition for p in ps)])}
        c1 = self.consumer(g, **{"client.id": "c1", "group.instance.id": "i1", "session.timeout.ms": 30000})
        c1.subscribe([t], **cb("c1"))
        self._settle([c1], 4)
        c2 = self.consumer(g, **{"client.id": "c2", "group.instance.id": "i2", "session.timeout.ms": 30000})
        c2.subscribe([t], **cb("c2"))
        self._settle([c1, c2], 4)
        o["before"] = [self.assignment(c1), self.assignment(c2)]
        del events[:]
        c1.close()   # a static member's close sends no LeaveGroup
        c1 = self.consumer(g, **{"client.id": "c1", "group.instance.id": "i1", "session.timeout.ms": 30000})
        c1.subscribe([t], **cb("c1new"))
        self._settle([c1, c2], 4)
        for _ in range(20):   # a second of polls: any rebalance of c2 would show in events
            c1.poll(0.05)
            c2.poll(0.05)
        o["after"] = [self.assignment(c1), self.assignment(c2)]
        o["c2_events_after_restart"] = [e for e in events if e[0] == "c2"]
        c1.close()
        c2.close()
        return o

    def member_leaves_mid_rebalance(self):
        t = self.name("mlr")
        g = self.name("mlr-group")
        o = {"create": self.create(t, 6)}
        cs = self._group(t, 2, g)
        self._settle(cs, 6)
        c3 = self.consumer(g, **{"client.id": "c3", "partition.assignment.strategy": "range"})
        c3.subscribe([t])
        for c in cs + [c3]:
            c.poll(0.05)
        cs[1].close()   # LeaveGroup while the rebalance c3 started is under way
        self._settle([cs[0], c3], 6)
        o["after"] = [self.assignment(cs[0]), self.assignment(c3)]
        cs[0].close()
        c3.close()
        return o


# -- kafka-python ------------------------------------------------------------------


class KafkaPython:
    def __init__(self, bootstrap, prefix):
        import kafka
        from kafka import admin as kadmin
        from kafka import errors as kerrors
        self.k = kafka
        self.ka = kadmin
        self.ke = kerrors
        self.bs = bootstrap
        self.prefix = prefix
        self.admin = kadmin.KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)

    def name(self, s):
        return "%s-%s" % (self.prefix, s)

    def err(self, e):
        if e is None:
            return None
        if isinstance(e, self.ke.KafkaError) and type(e).__name__ != "KafkaError":
            return type(e).__name__
        return type(e).__name__

    def create(self, name, parts=1, rf=1, config=None, validate_only=False):
        try:
            r = self.admin.create_topics([self.ka.NewTopic(name, parts, rf, topic_configs=config or {})],
                                         validate_only=validate_only)
            errs = self._topic_errors(r)
        except Exception as e:
            return self.err(e)
        if errs:
            return errs[0]
        if not validate_only:
            def ready():   # Kafka answers before its brokers know the topic
                try:
                    d = self.admin.describe_topics([name])[0]
                except Exception:
                    return False
                return d["error_code"] == 0 and len(d["partitions"]) == parts and \
                    all(p["leader_id"] >= 0 for p in d["partitions"])
            wait(ready, 20, "topic %s in Metadata" % name)
        return None

    def _topic_errors(self, resp):
        out = []
        for t in getattr(resp, "topic_errors", []) or []:
            code = t[1]
            if code:
                out.append(self.ke.for_code(code).__name__)
        return out

    def producer(self, **kw):
        conf = dict(bootstrap_servers=self.bs, acks="all", linger_ms=0, request_timeout_ms=10000,
                    max_block_ms=5000, retries=3, retry_backoff_ms=100)
        conf.update(kw)
        return self.k.KafkaProducer(**conf)

    def produce(self, p, topic, msgs):
        out = []
        for part, key, value, headers, ts in msgs:
            try:
                f = p.send(topic, key=key, value=value, partition=part, headers=headers or None, timestamp_ms=ts)
                md = f.get(timeout=15)
                out.append((None, md.offset))
            except Exception as e:
                out.append((self.err(e), None))
        return out

    def consumer(self, group=None, **kw):
        conf = dict(bootstrap_servers=self.bs, group_id=group, enable_auto_commit=False,
                    auto_offset_reset="earliest", fetch_max_wait_ms=100, session_timeout_ms=6000,
                    heartbeat_interval_ms=300, consumer_timeout_ms=1000)
        conf.update(kw)
        return self.k.KafkaConsumer(**conf)

    def tp(self, topic, p):
        return self.k.TopicPartition(topic, p)

    def read(self, c, n, timeout=30):
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            try:
                recs = c.poll(timeout_ms=200)
            except Exception as e:
                got.append({"error": self.err(e)})
                break
            for tp, ms in sorted(recs.items(), key=lambda kv: kv[0].partition):
                for m in ms:
                    got.append({"p": m.partition, "o": m.offset, "k": m.key and m.key.decode(),
                                "v": m.value and m.value.decode(),
                                "h": [[k, v.decode()] for k, v in (m.headers or [])],
                                "ts_type": m.timestamp_type, "ts": m.timestamp > 0})
        return got

    def assignment(self, c):
        return sorted([tp.topic.replace(self.prefix, "<p>"), tp.partition] for tp in c.assignment())

    def produce_consume(self):
        t = self.name("pc")
        o = {"create": self.create(t, 3)}
        p = self.producer()
        o["produce"] = self.produce(p, t, [(0, b"k%d" % i, b"v%d" % i, [("h", b"x%d" % i)], None) for i in range(5)])
        o["produce_null_value"] = self.produce(p, t, [(1, b"knull", None, None, None)])
        p.close()
        c = self.consumer()
        c.assign([self.tp(t, 0), self.tp(t, 1)])
        c.seek_to_beginning()
        o["consumed"] = sorted(self.read(c, 6), key=lambda m: (m.get("p", -1), m.get("o", -1)))
        o["end_offsets"] = sorted([tp.partition, v] for tp, v in c.end_offsets([self.tp(t, p) for p in range(3)]).items())
        o["beginning_offsets"] = sorted([tp.partition, v] for tp, v in
                                        c.beginning_offsets([self.tp(t, p) for p in range(3)]).items())
        c.close()
        return o

    def metadata(self):
        t = self.name("md")
        o = {"create": self.create(t, 3)}
        d = self.admin.describe_cluster()
        ids = [b.get("broker_id", b.get("node_id")) for b in d["brokers"]]
        o["brokers"] = len(ids)
        o["controller_is_a_broker"] = d["controller_id"] in ids
        o["cluster_id_set"] = bool(d["cluster_id"])
        tm = self.admin.describe_topics([t])[0]
        o["topic_error"] = tm["error_code"]
        o["internal"] = tm.get("is_internal")
        o["partitions"] = sorted([p["partition_index"], p["leader_id"] in ids, len(p["replica_nodes"]),
                                  len(p["isr_nodes"]), p["error_code"]] for p in tm["partitions"])
        o["internal_topics_listed"] = sorted(x for x in self.admin.list_topics() if x.startswith("__"))
        try:
            um = self.admin.describe_topics([self.name("md-unknown")])
            o["unknown_topic"] = um[0]["error_code"]
        except Exception as e:
            o["unknown_topic"] = self.err(e)
        return o

    def unknown_topic_partition(self):
        t = self.name("utp")
        o = {"create": self.create(t, 2)}
        p = self.producer(max_block_ms=3000)
        o["produce_unknown_topic"] = self.produce(p, self.name("utp-none"), [(0, b"k", b"v", None, None)])
        o["produce_partition_99"] = self.produce(p, t, [(99, b"k", b"v", None, None)])
        p.close()
        return o

    def topic_configs(self):
        t = self.name("tcfg")
        o = {"create": self.create(t, 1, config={"retention.ms": "3600000"})}
        r = self.admin.describe_configs([self.ka.ConfigResource(self.ka.ConfigResourceType.TOPIC, t)])
        # kafka-python 3 hands back the configs that are not defaults: {type: {name: {config: {...}}}}
        entries = r["topic"][t] if isinstance(r, dict) else {}
        o["described"] = {k: [v.get("value"), v.get("config_source"), v.get("read_only"), v.get("is_sensitive"),
                              v.get("config_type")] for k, v in sorted(entries.items())}
        return o

    def topic_config_names(self):
        return {k: self.create(self.name("tcn"), 1, config={k: v}, validate_only=True)
                for k, v in sorted(dict(LEGACY_CONFIGS, **NEW_CONFIGS).items())}

    def invalid_configs(self):
        return {"%s=%s" % (k, v): self.create(self.name("ic"), 1, config={k: v}, validate_only=True)
                for k, v in BAD_CONFIGS}

    def create_topic_errors(self):
        t = self.name("cte")
        o = {"create": self.create(t, 2)}
        o["again"] = self.create(t, 2)
        o["rf3"] = self.create(self.name("cte-rf3"), 1, rf=3)
        o["partitions0"] = self.create(self.name("cte-p0"), 0)
        o["bad_name"] = self.create("bad/name", 1)
        o["rf3_validate_only"] = self.create(self.name("cte-rf3v"), 1, rf=3, validate_only=True)
        return o

    def list_offsets_by_time(self):
        t = self.name("lot")
        o = {"create": self.create(t, 1)}
        base = int(time.time() * 1000) - 60000
        p = self.producer()
        o["produce"] = self.produce(p, t, [(0, b"k", b"v%d" % i, None, base + 1000 * i) for i in range(3)])
        p.close()
        c = self.consumer()
        res = {}
        for label, ts in (("before", base - 1), ("at0", base), ("mid01", base + 500), ("at2", base + 2000),
                          ("after", base + 5000)):
            r = c.offsets_for_times({self.tp(t, 0): ts})[self.tp(t, 0)]
            res[label] = [r.offset if r else None, r is not None and r.timestamp > 0]
        o["offsets_for_times"] = res
        c.close()
        return o

    def delete_records(self):
        t = self.name("dr")
        o = {"create": self.create(t, 1)}
        p = self.producer()
        o["produce"] = self.produce(p, t, [(0, None, b"v%d" % i, None, None) for i in range(10)])
        p.close()
        r = self.admin.delete_records({self.tp(t, 0): 4})
        o["low_watermark"] = [v.get("low_watermark") if isinstance(v, dict) else v for v in r.values()]
        c = self.consumer()
        o["beginning"] = [v for v in c.beginning_offsets([self.tp(t, 0)]).values()]
        c.close()
        try:
            self.admin.delete_records({self.tp(t, 0): 50})
            o["beyond_end"] = None
        except Exception as e:
            o["beyond_end"] = self.err(e)
        return o

    def too_large(self):
        t = self.name("tl")
        o = {"create": self.create(t, 1, config={"max.message.bytes": "2000"})}
        p = self.producer()
        o["small"] = self.produce(p, t, [(0, None, b"x" * 100, None, None)])
        o["large"] = self.produce(p, t, [(0, None, b"x" * 6000, None, None)])
        o["after"] = self.produce(p, t, [(0, None, b"y" * 100, None, None)])
        p.close()
        return o

    def offset_out_of_range(self):
        t = self.name("oor")
        o = {"create": self.create(t, 1)}
        p = self.producer()
        o["produce"] = self.produce(p, t, [(0, None, b"v%d" % i, None, None) for i in range(3)])
        p.close()
        c = self.consumer(auto_offset_reset="earliest")
        c.assign([self.tp(t, 0)])
        c.seek(self.tp(t, 0), 50)
        o["reset_earliest"] = [m.get("o", m.get("error")) for m in self.read(c, 1)]
        c.close()
        c = self.consumer(auto_offset_reset="none")
        c.assign([self.tp(t, 0)])
        c.seek(self.tp(t, 0), 50)
        o["reset_none"] = [m.get("o", m.get("error")) for m in self.read(c, 1, timeout=10)]
        c.close()
        return o

    def _settle(self, cs, want, timeout=60):
        def ok():
            for c in cs:
                c.poll(timeout_ms=50)
            got = [tuple(a) for c in cs for a in self.assignment(c)]
            return len(got) == want and len(set(got)) == want and all(c.assignment() for c in cs)
        wait(ok, timeout, "%d partitions assigned across the group" % want, interval=0)

    def _stable_generation(self, cs, timeout=60):
        """Polls until every member is in the same generation, joined (state
        STABLE) and wanting no rejoin (kafka-python's leader rejoins when the
        topic metadata it assigned from has changed): a rebalance still on its
        way must not land inside what a scenario measures. Returns it."""
        from kafka.coordinator.base import MemberState
        def ok():
            for c in cs:
                c.poll(timeout_ms=50)
            co = [c._coordinator for c in cs]
            gens = {x._generation.generation_id for x in co}
            return len(gens) == 1 and all(x.state == MemberState.STABLE and not x.need_rejoin() for x in co)
        wait(ok, timeout, "every member joined in one generation, none wanting to rejoin", interval=0)
        return cs[0]._coordinator._generation.generation_id

    def _member(self, group, topics, client_id, **kw):
        from kafka.coordinator.assignors.range import RangePartitionAssignor
        c = self.consumer(group, client_id=client_id, partition_assignment_strategy=[RangePartitionAssignor], **kw)
        c.subscribe(topics)
        return c

    def group_basic(self):
        t = self.name("gb")
        g = self.name("gb-group")
        o = {"create": self.create(t, 4)}
        cs = [self._member(g, [t], "c%d" % (i + 1)) for i in range(2)]
        self._settle(cs, 4)
        o["assignment"] = [self.assignment(c) for c in cs]
        p = self.producer()
        self.produce(p, t, [(q, None, b"m%d" % q, None, None) for q in range(4)])
        p.close()
        for c in cs:
            got = self.read(c, 2)
            o.setdefault("consumed_by", []).append(sorted([m.get("p"), m.get("o")] for m in got))
            c.commit()
        o["committed"] = sorted([q, cs[0].committed(self.tp(t, q))] for q in range(4))
        for c in cs:
            c.close()
        return o

    def subscription_change(self):
        raise Unsupported("kafka-python 3.0.12 does not rejoin when subscribe() adds a topic to a joined "
                          "member: no rebalance within 60 s against Apache Kafka 4.1 either")

    def subscription_change_not_run(self):
        ta, tb = self.name("sc-a"), self.name("sc-b")
        g = self.name("sc-group")
        o = {"create": [self.create(ta, 2), self.create(tb, 2)]}
        cs = [self._member(g, [ta], "c%d" % (i + 1)) for i in range(2)]
        self._settle(cs, 2)
        o["before"] = [self.assignment(c) for c in cs]
        cs[1].subscribe([ta, tb])
        self._settle(cs, 4)
        o["after"] = [self.assignment(c) for c in cs]
        for c in cs:
            c.close()
        return o

    def static_leader_restart(self):
        t = self.name("slr")
        g = self.name("slr-group")
        o = {"create": self.create(t, 4)}
        try:
            c1 = self._member(g, [t], "c1", group_instance_id="i1", session_timeout_ms=30000)
        except Exception as e:
            raise Unsupported("kafka-python has no group.instance.id: %s" % e)
        self._settle([c1], 4)
        c2 = self._member(g, [t], "c2", group_instance_id="i2", session_timeout_ms=30000)
        self._settle([c1, c2], 4)
        gen_before = self._stable_generation([c1, c2])
        o["before"] = [self.assignment(c1), self.assignment(c2)]
        c1.close(autocommit=False)
        c1 = self._member(g, [t], "c1", group_instance_id="i1", session_timeout_ms=30000)
        self._settle([c1, c2], 4)
        for _ in range(20):
            c1.poll(timeout_ms=50)
            c2.poll(timeout_ms=50)
        o["after"] = [self.assignment(c1), self.assignment(c2)]
        gen_after = c2._coordinator._generation.generation_id
        o["c2_generation_unchanged"] = gen_before == gen_after
        c1.close()
        c2.close()
        return o

    def member_leaves_mid_rebalance(self):
        t = self.name("mlr")
        g = self.name("mlr-group")
        o = {"create": self.create(t, 6)}
        cs = [self._member(g, [t], "c%d" % (i + 1)) for i in range(2)]
        self._settle(cs, 6)
        c3 = self._member(g, [t], "c3")
        c3.poll(timeout_ms=50)
        cs[1].close()
        self._settle([cs[0], c3], 6)
        o["after"] = [self.assignment(cs[0]), self.assignment(c3)]
        cs[0].close()
        c3.close()
        return o


CLIENTS = {"confluent": Confluent, "kafka-python": KafkaPython}
NAMES = ["produce_consume", "metadata", "unknown_topic_partition", "topic_configs", "topic_config_names",
         "invalid_configs", "create_topic_errors", "list_offsets_by_time", "delete_records", "too_large",
         "offset_out_of_range", "group_basic", "subscription_change", "lone_member_subscription_change",
         "static_leader_restart", "member_leaves_mid_rebalance"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", required=True, choices=sorted(CLIENTS))
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--scenarios", default=",".join(NAMES))
    o = ap.parse_args()
    try:
        client = CLIENTS[o.client](o.bootstrap, o.prefix)
    except Exception as e:
        for s in o.scenarios.split(","):
            print(json.dumps({"scenario": s, "error": "client setup: %s: %s" % (type(e).__name__, e)}), flush=True)
        return 0
    for s in o.scenarios.split(","):
        fn = getattr(client, s, None)
        t0 = time.monotonic()
        if fn is None:
            out = {"scenario": s, "unsupported": "not written for %s" % o.client}
        else:
            try:
                out = {"scenario": s, "obs": fn()}
            except Unsupported as e:
                out = {"scenario": s, "unsupported": str(e)}
            except Exception as e:
                traceback.print_exc(file=sys.stderr)
                out = {"scenario": s, "error": "%s: %s" % (type(e).__name__, e)}
        out["seconds"] = round(time.monotonic() - t0, 2)
        print(json.dumps(out, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
