#!/usr/bin/python3
"""scripts/kafka.sh (tests/compat/kafka_cluster.py), as people and the
benchmarks use it: start 3 nodes with an extra property, status, a client
round trip through every node, stop by pid; one node restarted on its old
port while another process holds that port (tried again until it is free);
clear errors without Java.

Usage: test_kafka_script.py
"""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, HERE)
import harness  # noqa: E402
from harness import check, check_eq  # noqa: E402
import kafka_cluster  # noqa: E402

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # noqa: E402

SCRIPT = os.path.join(REPO, "scripts", "kafka.sh")


def sh(*args, env=None, timeout=300):
    r = subprocess.run([SCRIPT] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                       timeout=timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace")


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_three_nodes():
    d = tempfile.mkdtemp(prefix="samsa-kafka-script-")
    try:
        t0 = time.monotonic()
        rc, out = sh("start", "--nodes", "3", "--dir", d, "--prop", "num.partitions=5",
                     "--prop", "auto.create.topics.enable=false")
        print("MEASURED kafka.sh start --nodes 3: %.1fs" % (time.monotonic() - t0), flush=True)
        check_eq(rc, 0, "kafka.sh start --nodes 3 exits 0", )
        pids = [int(p) for p in re.findall(r"node \d: pid (\d+)", out)]
        bs = re.search(r"bootstrap.servers=(\S+)", out)
        check(len(pids) == 3 and bs, "it prints 3 nodes with their pids and the bootstrap.servers line", out)
        check(all(pid_alive(p) for p in pids), "the 3 pids run")
        for i in (1, 2, 3):
            check(os.path.exists(os.path.join(d, "node-%d" % i, "kafka.log")), "node %d logs into its dir" % i)
        rc, st = sh("status", "--dir", d)
        check(rc == 0 and st.count("running") == 3, "status: 3 nodes running (exit 0)", st)
        for addr in bs.group(1).split(","):
            check_eq(kafka_cluster.metadata_brokers("127.0.0.1", int(addr.split(":")[1])), [1, 2, 3],
                     "node at %s answers Metadata with brokers 1, 2, 3" % addr)
        a = AdminClient({"bootstrap.servers": bs.group(1)})
        t = "script-rf3"
        a.create_topics([NewTopic(t, 3, 3, config={"min.insync.replicas": "2"})])[t].result(60)
        md = a.list_topics(t, timeout=30).topics[t]
        check(all(len(p.replicas) == 3 for p in md.partitions.values()), "a topic with replication factor 3 spans "
              "the 3 nodes")
        cfg = list(a.describe_configs([ConfigResource("broker", "1")]).values())[0].result(30)
        check_eq(cfg["num.partitions"].value, "5", "the --prop reached the brokers (num.partitions=5)")
        reports = []
        p = Producer({"bootstrap.servers": bs.group(1), "acks": "all", "enable.idempotence": True})
        for i in range(30):
            p.produce(t, value=b"m%d" % i, on_delivery=lambda e, m: reports.append(e))
        p.flush(60)
        check(len(reports) == 30 and all(e is None for e in reports),
              "30 idempotent acks=all messages acknowledged by the 3-node cluster", reports[:3])
        del p, a   # no client left to reconnect while the nodes stop
        rc, out = sh("start", "--nodes", "1", "--dir", d)
        check(rc != 0 and "already runs" in out, "a second start on the same dir is refused", out)
        t0 = time.monotonic()
        rc, out = sh("stop", "--dir", d)
        print("MEASURED kafka.sh stop (3 nodes): %.1fs" % (time.monotonic() - t0), flush=True)
        check(rc == 0 and not any(pid_alive(p) for p in pids), "kafka.sh stop stops every pid", out)
        rc, st = sh("status", "--dir", d)
        check(rc == 3 and st.count("stopped") == 3, "status then: 3 stopped, exit 3", st)
    finally:
        sh("stop", "--dir", d)


def test_restart_on_taken_port():
    c = kafka_cluster.KafkaCluster(nodes=1, props={"auto.create.topics.enable": "false"})
    try:
        c.start(timeout=180)
        n = c.nodes[0]
        port, pid = n.port, n.pid
        check(pid_alive(pid), "a node started by the module (pid %d, port %d)" % (pid, port))
        n.kill9()
        check(not pid_alive(pid), "kill -9 of that pid")
        hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hold.bind(("127.0.0.1", port))
        hold.listen(1)
        released = threading.Event()

        def release():
            # frees the port once the node's log says its bind failed once
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if kafka_cluster.BIND_FAIL_RE.search(n.new_log()):
                    break
                time.sleep(0.05)
            hold.close()
            released.set()
        th = threading.Thread(target=release)
        th.start()
        c.start_node(0, timeout=180)
        th.join()
        check(released.is_set(), "its restart found the port taken (bind failure in its log) and the port was freed")
        check_eq(n.port, port, "the node runs again on its old port after trying again")
        check_eq(kafka_cluster.metadata_brokers("127.0.0.1", port), [1], "and answers Metadata there")
        check(n.starts >= 2, "it was started %d times in all" % n.starts)
    finally:
        c.cleanup()
    check(n.pid is None and not pid_alive(pid), "cleanup stopped it")


def test_no_java():
    env = dict(os.environ, JAVA_HOME="/nonexistent-java", PATH="/usr/bin:/bin")
    bad = tempfile.mkdtemp(prefix="samsa-kafka-nojava-")
    rc, out = sh("start", "--dir", bad, env=env)
    check(rc == 1 and "no Java" in out and "Java 17" in out, "without Java: exit 1 and a message naming Java 17", out)


def main():
    return harness.run_tests([test_no_java, test_restart_on_taken_port, test_three_nodes])


if __name__ == "__main__":
    sys.exit(main())
