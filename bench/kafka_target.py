#!/usr/bin/env python3
"""Apache Kafka as a bench/run.sh target: its start-up, measured the way
samsa-bench measures samsa-broker's (exec to the first TCP connect the
kernel accepts on the client listener).

    kafka_target.py startup --label kafka --runs N [--prop K=V]...

One node (tests/compat/kafka_cluster.py: KRaft, broker + controller, the
pinned Kafka from build-kafka/) is formatted once in a temp dir; then N times
its JVM is started and a connect to its PLAINTEXT port is tried every 0.5
ms; the time from spawn to the first accepted connect is one sample, and the
time to "ready" (Metadata answered, as kafka.sh waits for) another. Each run
is stopped with SIGTERM and waited for. Prints one JSON line (the keys of
samsa-bench's startup phase) and one human line (# ...). JVM options come from
SAMSA_KAFKA_HEAP / SAMSA_KAFKA_JVM_OPTS as for every node.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "compat"))
import kafka_cluster as kc  # noqa: E402


def first_connect(port, node, deadline):
    while time.monotonic() < deadline:
        if not node.alive():
            raise kc.KafkaError("kafka exited during start-up:\n" + node.log_tail())
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", port))
            return True
        except OSError:
            time.sleep(0.0005)
        finally:
            s.close()
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["startup"])
    ap.add_argument("--label", default="kafka")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--prop", action="append", default=[])
    o = ap.parse_args()
    props = dict(p.split("=", 1) for p in o.prop)
    d = tempfile.mkdtemp(prefix="samsa-bench-kafka-")
    c = kc.KafkaCluster(nodes=1, dir=d, props=props)
    connect_ms, ready_ms = [], []
    try:
        c.start(timeout=180)          # formats, picks ports, proves they bind
        node = c.nodes[0]
        node.stop()
        for _ in range(o.runs):
            t0 = time.monotonic()
            node.spawn()
            if not first_connect(node.port, node, t0 + 120):
                raise kc.KafkaError("no connect accepted within 120 s")
            connect_ms.append((time.monotonic() - t0) * 1e3)
            res = c._wait_ready([node], 120)
            if res != "ready":
                raise kc.KafkaError("not ready: %s" % res)
            ready_ms.append((time.monotonic() - t0) * 1e3)
            node.stop()
    finally:
        c.stop()
        shutil.rmtree(d, ignore_errors=True)
    out = {"phase": "startup", "target": o.label, "runs": o.runs,
           "connect_ms_median": statistics.median(connect_ms),
           "connect_ms_min": min(connect_ms), "connect_ms_max": max(connect_ms),
           "ready_ms_median": statistics.median(ready_ms)}
    print(json.dumps(out))
    print("# %s start-up: first accepted connect %.0f ms median (%.0f-%.0f), Metadata ready %.0f ms, %d runs"
          % (o.label, out["connect_ms_median"], out["connect_ms_min"], out["connect_ms_max"],
             out["ready_ms_median"], o.runs))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except kc.KafkaError as e:
        print("kafka_target.py: %s" % e, file=sys.stderr)
        sys.exit(1)
