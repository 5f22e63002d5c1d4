#!/usr/bin/python3
"""The differential suite's runner for raw group protocol frames
(tests/integration/group_wire.py: JoinGroup v4/v5, SyncGroup v3, Heartbeat
v3, OffsetCommit v7, LeaveGroup v3, DescribeGroups v4, DeleteGroups v1),
for what a client library hides: the error codes of stale generations,
unknown members, rebalances in progress, a member leaving mid-rebalance, a
static leader coming back. Member ids are random, so they are reported as
roles (self, old incarnation, another member). Same output as
py_runner.py.

  wire_runner.py --bootstrap 127.0.0.1:P --prefix P [--scenarios a,b,...]
"""

import argparse
import json
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "integration"))
import group_wire as gw  # noqa: E402
from group_wire import Member  # noqa: E402

NAMES = ["stale_generation_commit", "member_leaves_mid_rebalance", "static_leader_restart", "join_errors",
         "delete_groups", "lone_member_rejoin"]


class Wire:
    def __init__(self, bootstrap, prefix):
        self.port = int(bootstrap.rsplit(":", 1)[1])
        self.bs = bootstrap
        self.prefix = prefix
        self.open = []
        from confluent_kafka.admin import AdminClient, NewTopic
        self.topic = "%s-wire" % prefix
        a = AdminClient({"bootstrap.servers": bootstrap})
        a.create_topics([NewTopic(self.topic, 4, 1)])[self.topic].result(30)
        deadline = time.monotonic() + 15   # Kafka answers CreateTopics before its metadata has the leaders
        while time.monotonic() < deadline:
            t = a.list_topics(self.topic, timeout=10).topics.get(self.topic)
            if t and not t.error and len(t.partitions) == 4 and all(p.leader >= 0 for p in t.partitions.values()):
                break
            time.sleep(0.05)

    def member(self, group, **kw):
        kw.setdefault("topics", [self.topic])
        m = Member(self.port, group, **kw)
        self.open.append(m)
        return m

    def close(self):
        while self.open:
            self.open.pop().close()

    def plan(self, ids):
        ids = sorted(ids)
        return {mid: gw.assignment({self.topic: list(range(k * 4 // len(ids), (k + 1) * 4 // len(ids)))})
                for k, mid in enumerate(ids)}

    def stale_generation_commit(self):
        g = "%s-stale" % self.prefix
        a = self.member(g, client_id="wire-a")
        b = self.member(g, client_id="wire-b")
        gw.form_group([a, b], self.plan)
        gen = a.generation
        o = {"generations_equal": a.generation == b.generation}
        o["commit_current"] = a.commit({(self.topic, 0): (1, None)})[(self.topic, 0)]
        o["commit_stale"] = a.commit({(self.topic, 0): (2, None)}, generation=gen - 1)[(self.topic, 0)]
        o["commit_future"] = a.commit({(self.topic, 0): (2, None)}, generation=gen + 1)[(self.topic, 0)]
        o["commit_unknown_member"] = a.commit({(self.topic, 0): (2, None)}, member_id="nobody")[(self.topic, 0)]
        o["heartbeat_stale"] = a.heartbeat(generation=gen - 1)
        o["sync_stale"] = self._sync_error(a, gen - 1)
        c = self.member(g, client_id="wire-c")
        c.join_for_id()
        c.send_join()   # parked: a rebalance is under way
        a.wait_heartbeat_error(gw.REBALANCE_IN_PROGRESS)
        o["heartbeat_during_rebalance"] = gw.REBALANCE_IN_PROGRESS
        o["commit_current_during_rebalance"] = a.commit({(self.topic, 1): (1, None)})[(self.topic, 1)]
        o["commit_stale_during_rebalance"] = a.commit({(self.topic, 1): (1, None)}, generation=gen - 1)[(self.topic, 1)]
        a.send_join()
        b.send_join()
        js = [m.recv_join() for m in (a, b, c)]
        o["rejoined"] = [[j["error"], j["generation"] - gen] for j in js]
        o["commit_old_generation_after"] = a.commit({(self.topic, 2): (1, None)}, generation=gen)[(self.topic, 2)]
        offs, err = gw.offset_fetch(self.port, g, {self.topic: [0, 1, 2]})
        o["committed"] = [offs[(self.topic, p)][0] for p in range(3)] + [err]
        self.close()
        return o

    def _sync_error(self, m, gen):
        m.send_sync(generation=gen)
        return m.recv_sync()[0]

    def member_leaves_mid_rebalance(self):
        g = "%s-leave" % self.prefix
        a = self.member(g, client_id="wire-a")
        b = self.member(g, client_id="wire-b")
        gw.form_group([a, b], self.plan)
        gen = a.generation
        c = self.member(g, client_id="wire-c")
        c.join_for_id()
        c.send_join()
        a.wait_heartbeat_error(gw.REBALANCE_IN_PROGRESS)
        a.send_join()
        err, members = b.leave()
        o = {"leave": [err, [x[2] for x in members]]}
        ja, jc = a.recv_join(), c.recv_join()
        o["joins"] = [[ja["error"], ja["generation"] - gen], [jc["error"], jc["generation"] - gen]]
        leader = a if a.is_leader() else c
        o["leader_member_list"] = sorted([mid == a.member_id, mid == c.member_id] for mid, _, _ in leader.members)
        o["one_leader"] = a.is_leader() != c.is_leader()
        d = gw.describe_groups(self.port, [g])[g]
        o["state"] = d["state"]
        o["members"] = len(d["members"])
        self.close()
        return o

    def static_leader_restart(self):
        g = "%s-static" % self.prefix
        lead = self.member(g, instance_id="lead", client_id="wire-lead")
        other = self.member(g, instance_id="other", client_id="wire-other")
        gw.form_group([lead, other], self.plan)
        o = {"first_leads": lead.is_leader()}
        gen, old_id = lead.generation, lead.member_id
        plan = self.plan([lead.member_id, other.member_id])
        back = self.member(g, instance_id="lead", client_id="wire-lead", rebalance_ms=60000)
        back.send_join()
        j = back.recv_join(timeout=90)
        o["join"] = {"error": j["error"], "generation_delta": j["generation"] - gen,
                     "leader_is_self": j["leader"] == back.member_id, "leader_is_old_id": j["leader"] == old_id,
                     "members_listed": len(j["members"]), "new_member_id": back.member_id not in ("", old_id)}
        back.send_sync()
        err, a = back.recv_sync(timeout=90)
        o["sync"] = [err, a == plan[old_id]]
        o["other_heartbeat"] = other.heartbeat()
        o["old_heartbeat"] = lead.heartbeat()
        d = gw.describe_groups(self.port, [g])[g]
        o["state"] = d["state"]
        self.close()
        return o

    def lone_member_rejoin(self):
        """A group's only member rejoins a Stable group with another
        subscription (rebalance timeout 20 s): Kafka answers at once; an
        answer only after 10 s means the broker waited for the timeout."""
        g = "%s-lone" % self.prefix
        m = self.member(g, rebalance_ms=20000)
        gw.form_group([m], self.plan)
        gen = m.generation
        m.protocols = [("range", gw.subscription([self.topic, self.topic + "-other"]))]
        t0 = time.monotonic()
        m.send_join()
        j = m.recv_join(timeout=60)
        o = {"join": [j["error"], j["generation"] - gen, m.is_leader()],
             "answered_within_10s": time.monotonic() - t0 < 10}
        self.close()
        return o

    def join_errors(self):
        g = "%s-joinerr" % self.prefix
        o = {}
        m = self.member(g, join_version=4)
        j = m.join_for_id()
        o["v4_without_id"] = [j["error"], j["generation"], bool(j["member_id"])]
        m2 = self.member(g, join_version=5)
        m2.member_id = "made-up"
        o["unknown_member_id"] = m2.join()["error"]
        m3 = self.member(g + "-s", session_ms=500)
        o["session_too_short"] = m3.join()["error"]
        m4 = self.member(g + "-p")
        gw.form_group([m4], self.plan)
        m5 = self.member(g + "-p", protocols=[("other-assignor", b"")])
        o["no_common_protocol"] = m5.join()["error"]
        c = gw.Conn(self.port)
        try:
            err, _, _ = gw.parse_sync(c.call(gw.SYNC, 3, gw.sync_group_body(3, g + "-none", 1, "ghost")), 3)
        finally:
            c.close()
        o["sync_unknown_group"] = err
        o["heartbeat_unknown_group"] = gw.parse_error_only(
            gw.rpc(self.port, gw.HEARTBEAT, 3, gw.heartbeat_body(3, g + "-none", 1, "ghost")), 3)
        self.close()
        return o

    def delete_groups(self):
        g = "%s-del" % self.prefix
        m = self.member(g)
        gw.form_group([m], self.plan)
        m.commit({(self.topic, 0): (3, None)})
        o = {"non_empty": gw.delete_groups(self.port, [g])}
        m.leave()
        o["after_leave"] = gw.delete_groups(self.port, [g])
        o["unknown"] = gw.delete_groups(self.port, [g + "-none"])
        offs, err = gw.offset_fetch(self.port, g, {self.topic: [0]})
        o["offsets_after_delete"] = [offs[(self.topic, 0)][0], err]
        self.close()
        return {k: (normalize_groups(v, self.prefix) if isinstance(v, dict) else v) for k, v in o.items()}


def normalize_groups(v, prefix):
    return {k.replace(prefix, "<p>"): x for k, x in v.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--scenarios", default=",".join(NAMES))
    o = ap.parse_args()
    w = Wire(o.bootstrap, o.prefix)
    for s in o.scenarios.split(","):
        t0 = time.monotonic()
        fn = getattr(w, s, None)
        if fn is None:
            out = {"scenario": s, "unsupported": "not written for raw frames"}
        else:
            try:
                out = {"scenario": s, "obs": fn()}
            except Exception as e:
                traceback.print_exc(file=sys.stderr)
                out = {"scenario": s, "error": "%s: %s" % (type(e).__name__, e)}
            w.close()
        out["seconds"] = round(time.monotonic() - t0, 2)
        print(json.dumps(out, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
