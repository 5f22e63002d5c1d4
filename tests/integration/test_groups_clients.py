#!/usr/bin/python3
"""Consumer groups of samsa-broker under failure, and their admin side.

test_consumer_crash: three confluent-kafka member PROCESSES (group_member.py)
  share a 6-partition topic while a producer writes steadily; one is killed
  with kill -9. Measured and printed: the time from the kill to each of its
  partitions being consumed again by a survivor, with the session timeout
  used; checked: that time is within session.timeout.ms plus a margin, the
  union of what the three processed covers every acknowledged message
  (at-least-once), and every message processed twice is on one of the
  killed member's partitions at or after its last acknowledged commit
  (each member records what it consumed and what was committed, line by
  line, before going on).
test_broker_restart: the broker is killed with kill -9 while two
  confluent-kafka members commit (synchronously, every two messages), at a
  random moment (seed printed; SAMSA_TEST_SEED=N replays), and restarted on
  the same port and data, twice. After each restart the committed offset of
  every partition (OffsetFetch) is the last one acknowledged to the client,
  or a later one whose answer the kill cut off; the members rejoin and each
  partition's next message is exactly at that offset.
test_offsets_store_compaction: 15000 superseded commits, a deleted group and
  a deleted offset, kill -9, restart: the store is compacted on start-up to a
  fraction of its size and still holds the last commits (offsets and
  metadata) and nothing deleted, also after a second restart.
test_admin_and_lag: kafka-python's KafkaAdminClient (list, describe with the
  consumer protocol decoded, offsets, delete) and confluent-kafka's
  AdminClient.list_groups on a group of two; lag per partition from the
  committed offsets and the high watermarks; DeleteGroups refused while the
  group has members, done once it is empty.

Usage: test_groups_clients.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import collections
import datetime
import os
import random
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check, check_eq, run_tests, unique, wait_for  # noqa: E402
from group_member import MemberProcess, stop_all_members  # noqa: E402
import group_wire as gw  # noqa: E402

import confluent_kafka as ck  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402
import kafka  # noqa: E402
import kafka.admin as ka  # noqa: E402
import kafka.errors as kerr  # noqa: E402

# Crash test settings: a short session so the suite stays fast (the broker's
# group.min.session.timeout.ms is lowered to allow it), heartbeats at a tenth.
SESSION_MS = 2000
HEARTBEAT_MS = 200
# How long the broker took to notice the kill and the survivors to take over
# is MEASURED, not bounded (timing belongs in bench/): the wait for the
# re-consumption gives up after session.timeout.ms + 30 s, a hang guard.

broker = Broker(overrides={"group.min.session.timeout.ms": 1000, "group.initial.rebalance.delay.ms": 0,
                           "auto.create.topics.enable": "false"}, name="groups")
seed = int(os.environ.get("SAMSA_TEST_SEED", random.randrange(1 << 30)))
rng = random.Random(seed)
workdir = tempfile.mkdtemp(prefix="samsa-groups-members-")


def create_topic(name, parts):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(name, parts, 1)])[name].result(30)


def high_watermarks(topic, parts):
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "itest-watermarks"})
    try:
        return {p: c.get_watermark_offsets(ck.TopicPartition(topic, p), timeout=10)[1] for p in range(parts)}
    finally:
        c.close()


def committed(group, topic, parts):
    offs, err = gw.offset_fetch(broker.port, group, {topic: list(range(parts))})
    if err:
        raise AssertionError("OffsetFetch %s: error %d" % (group, err))
    return {p: offs[(topic, p)][0] for p in range(parts)}


def produce(topic, parts, per_part):
    """per_part messages to each partition, values "p<p>-<i>"; returns
    {(p, offset): value} from the delivery reports."""
    out = {}
    errs = []
    pr = ck.Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})

    def dr(err, m):
        if err:
            errs.append(str(err))
        else:
            out[(m.partition(), m.offset())] = m.value().decode()

    for i in range(per_part):
        for p in range(parts):
            pr.produce(topic, value=("p%d-%d" % (p, i)).encode(), partition=p, on_delivery=dr)
        pr.poll(0)
    left = pr.flush(30)
    check(not errs and left == 0 and len(out) == parts * per_part,
          "%d messages produced, %d per partition, all acknowledged" % (parts * per_part, per_part), errs[:3])
    return out


class SteadyProducer(threading.Thread):
    """Produces to the partitions in turn at about rate messages/s until
    stopped; keeps every acknowledged (partition, offset) -> value."""

    def __init__(self, topic, parts, rate):
        super().__init__(daemon=True)
        self.topic, self.parts, self.rate = topic, parts, rate
        self.acked = {}
        self.errors = []
        self.unflushed = None
        self.halt = threading.Event()

    def _dr(self, err, m):
        if err:
            self.errors.append(str(err))
        else:
            self.acked[(m.partition(), m.offset())] = m.value().decode()

    def run(self):
        pr = ck.Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 2})
        seq = 0
        next_t = time.monotonic()
        while not self.halt.is_set():
            pr.produce(self.topic, value=("m%d" % seq).encode(), partition=seq % self.parts, on_delivery=self._dr)
            seq += 1
            pr.poll(0)
            next_t += 1.0 / self.rate
            pause = next_t - time.monotonic()
            if pause > 0:
                self.halt.wait(pause)     # pacing, not waiting for a condition
        self.unflushed = pr.flush(30)

    def finish(self):
        self.halt.set()
        self.join(60)


def broker_log_time(pattern):
    """Wall time (epoch seconds) of the last broker log line containing pattern."""
    t = None
    for line in broker.log_text().splitlines():
        if pattern in line and line[:4].isdigit():
            stamp = line.split(" ", 1)[0].rstrip("Z")
            t = datetime.datetime.fromisoformat(stamp).replace(tzinfo=datetime.timezone.utc).timestamp()
    return t


# -- kill -9 of a member ---------------------------------------------------------


def test_consumer_crash():
    NP = 6
    topic, group = unique("crash"), unique("crash-group")
    create_topic(topic, NP)
    members = [MemberProcess("ck", broker.bootstrap, group, topic, NP, os.path.join(workdir, "%s-%d.jsonl" % (group, i)),
                             session_ms=SESSION_MS, heartbeat_ms=HEARTBEAT_MS, commit_every=10,
                             client_id="itest-crash-%d" % i) for i in range(3)]
    print("  member processes (confluent-kafka, roundrobin, session.timeout.ms=%d, heartbeat.interval.ms=%d): pids %s"
          % (SESSION_MS, HEARTBEAT_MS, [m.pid for m in members]))

    def balanced():
        a = [m.assignment() for m in members]
        if any(x is None or len(x) != 2 for x in a) or sorted(sum(a, [])) != list(range(NP)):
            return None
        return a

    try:
        assigns = wait_for(balanced, 60, "three members with 2 partitions each")
        check(True, "three member processes hold 2 partitions each: %s" % assigns)
        victim, survivors = members[1], [members[0], members[2]]
        vparts = assigns[1]
        prod = SteadyProducer(topic, NP, rate=300)
        prod.start()
        try:
            wait_for(lambda: sum(e["ev"] == "commit" for e in victim.events()) >= 3, 30,
                     "the member to be killed to consume and commit")
            time.sleep(rng.uniform(0, 0.4))     # a random moment between commits
            t_kill, wall_kill = time.monotonic(), time.time()
            victim.kill9()
            print("  kill -9 of member %d (pid %d, partitions %s)" % (1, victim.pid, vparts))

            def reconsumed():
                firsts = {}
                for m in survivors:
                    for e in m.events():
                        if e["ev"] == "msg" and e["p"] in vparts and e["t"] > t_kill:
                            firsts[e["p"]] = min(firsts.get(e["p"], e["t"]), e["t"])
                return firsts if len(firsts) == len(vparts) else None

            firsts = wait_for(reconsumed, SESSION_MS / 1000.0 + 30, "the killed member's partitions consumed again")
            first_ms = (min(firsts.values()) - t_kill) * 1000
            all_ms = (max(firsts.values()) - t_kill) * 1000
            noticed = broker_log_time("(itest-crash-1) left: no heartbeat")
            noticed_ms = (noticed - wall_kill) * 1000 if noticed else float("nan")
            print("MEASURED kill -9 to re-consumption: session.timeout.ms=%d heartbeat.interval.ms=%d: the broker "
                  "removed the member %.0f ms after the kill; its partitions %s were consumed again by the survivors "
                  "%.0f ms after the kill (the first) and %.0f ms (all)"
                  % (SESSION_MS, HEARTBEAT_MS, noticed_ms, vparts, first_ms, all_ms), flush=True)
            # the positive signal: the broker's own log line, after the kill, that it
            # removed the member for its missing heartbeats (not a timing bound)
            check(noticed is not None and noticed_ms > 0,
                  "the broker removed the killed member for missing heartbeats, after the kill (%.0f ms)" % noticed_ms)
            # some traffic after the rebalance, so the survivors go on working
            mark = len(prod.acked)
            wait_for(lambda: len(prod.acked) >= mark + 150, 30, "more messages produced after the rebalance")
        finally:
            prod.finish()
        check(not prod.errors and prod.unflushed == 0,
              "the producer's %d messages were all acknowledged" % len(prod.acked), prod.errors[:3])
        hw = high_watermarks(topic, NP)
        check_eq(sum(hw.values()), len(prod.acked), "the high watermarks add up to the acknowledged messages")
        wait_for(lambda: committed(group, topic, NP) == hw, 60, "the survivors to commit up to the high watermarks")
        check(True, "the group's committed offsets reached the high watermarks %s" % hw)
        for i in (0, 2):
            check_eq(members[i].stop(), 0, "survivor %d leaves the group and exits 0" % i)
    finally:
        stop_all_members()

    # what each member processed, read back from the records
    consumed = collections.defaultdict(list)     # (p, o) -> [(member, t, value)]
    for i, m in enumerate(members):
        for e in m.events():
            if e["ev"] == "msg":
                consumed[(e["p"], e["o"])].append((i, e["t"], e["v"]))
    missing = sorted(k for k in prod.acked if k not in consumed)
    check(not missing, "at-least-once: each of the %d acknowledged messages was processed by a member"
          % len(prod.acked), "%d missing, first %s" % (len(missing), missing[:5]))
    wrong = [k for k, v in consumed.items() if any(x[2] != prod.acked.get(k) for x in v)]
    check(not wrong, "every processed message has the value produced at its offset", wrong[:5])

    vev = victim.events()
    last_commit = {}
    for e in vev:
        if e["ev"] == "commit":
            for p, o in e["offsets"].items():
                last_commit[int(p)] = o
    last_assign = max(i for i, e in enumerate(vev) if e["ev"] == "assign")
    v_first, v_max = {}, {}
    for e in vev[last_assign:]:
        if e["ev"] == "msg":
            v_first.setdefault(e["p"], e["o"])
            v_max[e["p"]] = max(v_max.get(e["p"], -1), e["o"])
    # a message may be processed again only if the killed member processed it
    # after its last acknowledged commit of that partition
    floor = {p: last_commit.get(p, v_first.get(p)) for p in vparts}
    dups = {k: v for k, v in consumed.items() if len(v) > 1}
    bad = [(k, [x[0] for x in v]) for k, v in dups.items()
           if k[0] not in vparts or floor.get(k[0]) is None or not floor[k[0]] <= k[1] <= v_max.get(k[0], -1)
           or sorted(x[0] for x in v) not in ([0, 1], [1, 2])]
    check(not bad, "%d messages processed twice, each once by the killed member and once by a survivor, all on its "
          "partitions %s at or after its last commit" % (len(dups), vparts), bad[:5])
    for p in vparts:
        after = [o for (q, o), v in consumed.items() if q == p and any(x[0] != 1 and x[1] > t_kill for x in v)]
        resumed = min(after)
        n_dup = sum(1 for (q, o) in dups if q == p)
        print("  partition %d: the killed member's last commit %s, it processed up to %s; a survivor resumed at %d; "
              "%d processed twice" % (p, last_commit.get(p), v_max.get(p), resumed, n_dup))
        check(floor[p] <= resumed <= v_max.get(p, floor[p]) + 1,
              "partition %d resumed at %d: not before the killed member's last acknowledged commit %s, "
              "not after what it processed" % (p, resumed, floor[p]))


# -- kill -9 of the broker under commits -------------------------------------------


class InProcessMember:
    """A confluent-kafka member polled by the test thread."""

    def __init__(self, group, topic, name):
        self.name = name
        self.topic = topic
        self.assigned = set()
        self.assigns = 0
        self.pending = {}
        self.c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "client.id": name,
                              "partition.assignment.strategy": "range", "session.timeout.ms": 6000,
                              "heartbeat.interval.ms": 200, "enable.auto.commit": False,
                              "auto.offset.reset": "earliest", "fetch.wait.max.ms": 50})
        self.c.subscribe([topic], on_assign=self._assign, on_revoke=self._revoke, on_lost=self._lost)

    def _assign(self, c, parts):
        self.assigned = {tp.partition for tp in parts}
        self.assigns += 1

    def _revoke(self, c, parts):
        self.assigned -= {tp.partition for tp in parts}

    def _lost(self, c, parts):
        for tp in parts:
            self.assigned.discard(tp.partition)
            self.pending.pop(tp.partition, None)

    def close(self):
        self.c.close()


def test_broker_restart():
    NP, PER = 4, 400
    topic, group = unique("restart"), unique("restart-group")
    create_topic(topic, NP)
    produced = produce(topic, NP, PER)
    ms = [InProcessMember(group, topic, "itest-restart-%d" % i) for i in range(2)]
    acked = {}                                   # p -> last commit acknowledged to the client
    unacked = collections.defaultdict(set)      # p -> commits sent after it whose answer never came
    processed = collections.defaultdict(list)   # p -> offsets in the order processed
    try:
        def both_assigned():
            for m in ms:
                m.c.poll(0.02)
            return all(m.assigned for m in ms) and sorted(ms[0].assigned | ms[1].assigned) == list(range(NP))
        wait_for(both_assigned, 60, "two members sharing the 4 partitions", interval=0)
        check(True, "two members hold %s and %s" % (sorted(ms[0].assigned), sorted(ms[1].assigned)))

        def commit(m):
            offs = dict(m.pending)
            if not offs:
                return True
            for p, o in offs.items():
                unacked[p].add(o)
            try:
                m.c.commit(offsets=[ck.TopicPartition(topic, p, o) for p, o in offs.items()], asynchronous=False)
            except ck.KafkaException:
                return False
            for p, o in offs.items():
                acked[p] = o
                unacked[p] = set()
                if m.pending.get(p) == o:
                    del m.pending[p]
            return True

        for cycle in range(2):
            threshold = rng.randrange(5, 30)
            n_ok = [0]
            halt = threading.Event()
            failures = []

            def consume_and_commit():
                # the members' loop, in a thread of its own: a commit that the
                # kill interrupts is held by librdkafka until the coordinator is
                # back, and the test thread has to start the broker meanwhile
                # (the broker's PR_SET_PDEATHSIG ties it to the thread starting it)
                try:
                    since = 0
                    while not halt.is_set():
                        for m in ms:
                            msg = m.c.poll(0.01)
                            if msg is None or msg.error():
                                continue
                            processed[msg.partition()].append(msg.offset())
                            m.pending[msg.partition()] = msg.offset() + 1
                            since += 1
                            if since >= 2:
                                since = 0
                                if commit(m):
                                    n_ok[0] += 1
                except Exception as e:
                    failures.append(e)

            th = threading.Thread(target=consume_and_commit, daemon=True)
            th.start()
            wait_for(lambda: n_ok[0] >= threshold or failures, 60, "%d acknowledged commits" % threshold, interval=0.001)
            broker.kill9()
            halt.set()
            at_kill = n_ok[0]
            broker.restart()
            th.join(60)
            check(not th.is_alive() and not failures, "the members' loop ended after the restart", failures)
            check(at_kill >= threshold, "cycle %d (seed %d): kill -9 of the broker after %d acknowledged commits, "
                  "the members committing every 2 messages" % (cycle, seed, at_kill))
            print("  broker restarted (pid %d) on the same port and data" % broker.pid, flush=True)
            view = committed(group, topic, NP)
            for p in range(NP):
                ok = view[p] == acked.get(p, -1) or view[p] in unacked[p]
                check(ok and view[p] >= acked.get(p, -1),
                      "partition %d after the restart: committed %d; last acknowledged commit %s; commits cut off "
                      "by the kill %s" % (p, view[p], acked.get(p), sorted(unacked[p])))
                unacked[p] = set()
                if view[p] >= 0:
                    acked[p] = view[p]
            # the members rejoin; each partition goes on from its committed offset
            # (a partition committed up to its end has nothing more to give)
            want = sorted(p for p in range(NP) if max(view[p], 0) < PER)
            seen = [m.assigns for m in ms]
            first_after = {}
            stale = 0
            deadline = time.monotonic() + 60
            while sorted(first_after) != want and time.monotonic() < deadline:
                for i, m in enumerate(ms):
                    msg = m.c.poll(0.02)
                    if msg is None or msg.error():
                        continue
                    p, o = msg.partition(), msg.offset()
                    if m.assigns == seen[i]:
                        stale += 1           # from before its new assignment: not the group's resumption
                        continue
                    first_after.setdefault(p, o)
                    processed[p].append(o)
                    m.pending[p] = o + 1
            check_eq(sorted(first_after), want, "cycle %d: the members rejoined and consume every partition not "
                     "consumed to its end" % cycle)
            check_eq(first_after, {p: max(view[p], 0) for p in want},
                     "cycle %d: each partition's first message after the restart is at its committed offset "
                     "(%d delivered from the old assignment before the rejoin, ignored)" % (cycle, stale))
        # what was processed matches what was produced
        bad = [(p, o) for p, offs in processed.items() for o in offs if (p, o) not in produced]
        check(not bad, "every processed offset is one that was produced", bad[:5])
    finally:
        for m in ms:
            m.close()


# -- the offsets store's compaction ---------------------------------------------------


def store_bytes():
    d = os.path.join(broker.data_dir, "samsa-groups")
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


def test_offsets_store_compaction():
    NP, ROUNDS = 50, 300
    topic = unique("compact")
    create_topic(topic, NP)
    keep, gone, trimmed = unique("compact-keep"), unique("compact-deleted"), unique("compact-trimmed")
    conn = gw.Conn(broker.port)
    try:
        # commits outside group management (generation -1, no member id), as a
        # consumer that assigns partitions itself makes them: many rounds over
        # the same keys, so the store is mostly superseded records
        for r in range(ROUNDS):
            res = gw.parse_offset_commit(conn.call(gw.OFFSET_COMMIT, 2, gw.offset_commit_body(
                2, keep, -1, "", {(topic, p): (r * 10 + p, "round %d" % r) for p in range(NP)})), 2)
            if set(res.values()) != {0}:
                raise AssertionError("round %d: commit errors %s" % (r, res))
        for g in (gone, trimmed):
            res = gw.parse_offset_commit(conn.call(gw.OFFSET_COMMIT, 2, gw.offset_commit_body(
                2, g, -1, "", {(topic, p): (7, "x") for p in range(3)})), 2)
            check_eq(set(res.values()), {0}, "group %s commits offset 7 on partitions 0-2" % g)
    finally:
        conn.close()
    check(True, "%d rounds of commits on %d partitions for group %s" % (ROUNDS, NP, keep))
    check_eq(gw.delete_groups(broker.port, [gone]), {gone: 0}, "group %s deleted" % gone)
    err, res = gw.offset_delete(broker.port, trimmed, {topic: [1]})
    check_eq((err, res), (0, {(topic, 1): 0}), "OffsetDelete of partition 1 of group %s" % trimmed)
    before = store_bytes()
    broker.kill9()
    broker.restart()
    after = store_bytes()
    started = broker.log_text().rsplit("=== harness: start", 1)[1]
    check("offsets store compacted" in started, "after kill -9 and a restart the store (%d bytes) was compacted on "
          "start-up to %d bytes" % (before, after))
    check(after < before // 10, "to less than a tenth (%d -> %d bytes)" % (before, after))
    for restart in ("kill -9", "SIGTERM"):
        offs, err = gw.offset_fetch(broker.port, keep, {topic: list(range(NP))})
        last = ROUNDS - 1
        check_eq({p: offs[(topic, p)][:2] for p in range(NP)},
                 {p: (last * 10 + p, "round %d" % last) for p in range(NP)},
                 "after the %s restart: group %s has the last round's offsets and metadata" % (restart, keep))
        offs, _ = gw.offset_fetch(broker.port, gone, {topic: [0, 1, 2]})
        _, groups = gw.list_groups(broker.port)
        check(all(offs[(topic, p)][0] == -1 for p in range(3)) and gone not in groups,
              "the deleted group stays deleted (no offsets, not listed)")
        offs, _ = gw.offset_fetch(broker.port, trimmed, {topic: [0, 1, 2]})
        check_eq([offs[(topic, p)][0] for p in range(3)], [7, -1, 7], "the deleted offset stays deleted")
        if restart == "kill -9":
            broker.restart()      # SIGTERM, then start again on the same data


# -- admin ---------------------------------------------------------------------------


def test_admin_and_lag():
    NP = 4
    topic, group = unique("admin"), unique("admin-group")
    create_topic(topic, NP)
    produce(topic, NP, 10)
    ms = [InProcessMember(group, topic, "itest-admin-%s" % x) for x in "ab"]
    kadmin = ka.KafkaAdminClient(bootstrap_servers=broker.bootstrap, client_id="itest-admin-kafka-python")
    cadmin = AdminClient({"bootstrap.servers": broker.bootstrap})
    try:
        def balanced():
            for m in ms:
                m.c.poll(0.02)
            return (len(ms[0].assigned) == 2 and len(ms[1].assigned) == 2
                    and sorted(ms[0].assigned | ms[1].assigned) == list(range(NP)))
        wait_for(balanced, 60, "two members with 2 partitions each", interval=0)
        mine = {m.name: sorted(m.assigned) for m in ms}
        check(True, "members hold %s" % mine)
        for m in ms:
            m.c.commit(offsets=[ck.TopicPartition(topic, p, 2 + p) for p in sorted(m.assigned)], asynchronous=False)
        check(True, "each member commits offset 2+p for its partitions p")

        listed = dict(kadmin.list_consumer_groups())
        check_eq(listed.get(group), "consumer", "kafka-python list_consumer_groups: the group, protocol type consumer")
        (d,) = kadmin.describe_consumer_groups([group])
        check_eq((d.error_code, d.group, d.state, d.protocol_type, d.protocol),
                 (0, group, "Stable", "consumer", "range"),
                 "kafka-python describe_consumer_groups: Stable, consumer, range")
        got = {}
        for mem in d.members:
            got[mem.client_id] = (mem.client_host, list(mem.member_metadata.subscription),
                                  sorted(p for t, ps in mem.member_assignment.assignment for p in ps if t == topic))
        check_eq(got, {m.name: ("/127.0.0.1", [topic], mine[m.name]) for m in ms},
                 "its members: client ids, host /127.0.0.1, subscription and assignment decoded from the consumer "
                 "protocol, as each consumer sees it")
        offs = kadmin.list_consumer_group_offsets(group)
        check_eq({tp.partition: om.offset for tp, om in offs.items() if tp.topic == topic},
                 {p: 2 + p for p in range(NP)}, "kafka-python list_consumer_group_offsets: 2+p on partition p")
        groups = cadmin.list_groups(timeout=10)
        check(any(g.id == group for g in groups), "confluent-kafka AdminClient.list_groups lists the group")
        (cg,) = cadmin.list_groups(group=group, timeout=10)
        cgot = {mem.client_id: sorted(gw.decode_assignment(mem.assignment)[0].get(topic, [])) for mem in cg.members}
        check_eq((cg.state, cg.protocol_type, cg.protocol, cgot), ("Stable", "consumer", "range", mine),
                 "confluent-kafka list_groups(group): Stable, consumer, range, each member's assignment")

        # lag: high watermark minus committed offset, both ways
        kc = kafka.KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None)
        try:
            tps = [kafka.TopicPartition(topic, p) for p in range(NP)]
            ends = kc.end_offsets(tps)
        finally:
            kc.close()
        lag_kp = {tp.partition: ends[tp] - offs[tp].offset for tp in tps}
        hw = high_watermarks(topic, NP)
        com = ms[0].c.committed([ck.TopicPartition(topic, p) for p in range(NP)], timeout=10)
        lag_ck = {tp.partition: hw[tp.partition] - tp.offset for tp in com}
        print("  lag per partition (high watermark - committed): %s" % lag_kp)
        check_eq(lag_kp, {p: 8 - p for p in range(NP)}, "lag from kafka-python (end_offsets, committed): 8-p")
        check_eq(lag_ck, lag_kp, "lag from confluent-kafka (watermarks, committed) is the same")

        unknown = unique("admin-never")
        res = dict(kadmin.delete_consumer_groups([group, unknown]))
        check_eq((res[group], res[unknown]), (kerr.NonEmptyGroupError, kerr.GroupIdNotFoundError),
                 "kafka-python delete_consumer_groups: the group with members NON_EMPTY_GROUP, an unknown one "
                 "GROUP_ID_NOT_FOUND")
        for m in ms:
            m.close()
        ms = []
        (d,) = kadmin.describe_consumer_groups([group])
        check_eq((d.state, len(d.members)), ("Empty", 0), "after both members closed: Empty, no members")
        res = dict(kadmin.delete_consumer_groups([group]))
        check_eq(res[group], kerr.NoError, "delete_consumer_groups of the empty group: no error")
        check(group not in dict(kadmin.list_consumer_groups()), "it is no longer listed")
        offs = kadmin.list_consumer_group_offsets(group, partitions=[kafka.TopicPartition(topic, 0)])
        check_eq([om.offset for om in offs.values()], [-1], "and its committed offsets are gone")
    finally:
        for m in ms:
            m.close()
        kadmin.close()


def main():
    try:
        broker.start()
        print("broker pid %d on %s (group.min.session.timeout.ms=1000, group.initial.rebalance.delay.ms=0); seed %d"
              % (broker.pid, broker.bootstrap, seed), flush=True)
        rc = run_tests([test_consumer_crash, test_admin_and_lag, test_broker_restart, test_offsets_store_compaction],
                       [broker])
        return broker.finish(rc)
    finally:
        stop_all_members()
        broker.cleanup()
        if os.environ.get("SAMSA_KEEP_TMP") != "1":
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print("member records kept in %s" % workdir)


if __name__ == "__main__":
    sys.exit(main())
