#!/usr/bin/python3
"""Power loss: acks=all records and committed offsets survive a power cut.

kill -9 keeps the page cache, so it cannot show that acks=all waits for the
disk. Here samsa-broker's log.dirs is on lossyfs (lossyfs.c: every change
held until it is fsynced, and on a cut everything not yet fsynced is
discarded, files and directory entries alike). Each cycle:
  - two confluent-kafka producers, acks=all, one idempotent, one without
    retries, send numbered self-checking records flat out to a topic each
    (3 partitions, 64 KiB segments so cuts land around segment rolls), and
    a simple consumer commits ever larger offsets for a group, synchronously;
  - at a random moment (seed printed; SAMSA_TEST_SEED=N replays) the broker
    gets SIGKILL and lossyfs cuts the power: only what was fsynced is left;
  - lossyfs is mounted again and the broker restarted on what is left;
  - every record acknowledged (before the cut or after it) is at its
    offset, offsets run without gaps, every body is intact, per partition
    sequence numbers only go up (no duplicate, also not from the
    idempotent producer's retries), no offset is acknowledged twice (none
    reused); every partition's committed offset is the last acknowledged
    commit or a later attempt, never an older one.
Over all cycles the cuts must have discarded unsynced data (lossyfs
reports it), or the test proved nothing. Then a clean stop and a full
read-back.

Usage: test_power_loss.py --lossyfs BIN [--broker BIN] [--cycles N]
"""

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from lossyfs import LossyFS, lossyfs_binary  # noqa: E402
from harness import Broker, check, check_eq, run_tests, unique  # noqa: E402
import crash_load as cl  # noqa: E402

import confluent_kafka as ck  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

PARTITIONS = 3
CYCLES = 5
for _i, _a in enumerate(sys.argv):
    if _a == "--cycles" and _i + 1 < len(sys.argv):
        CYCLES = int(sys.argv[_i + 1])

SEED = int(os.environ.get("SAMSA_TEST_SEED") or (time.time_ns() % 1000000007))
rng = random.Random(SEED)

fs = None
broker = None


def create_topics(names):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    futs = admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names], operation_timeout=30)
    for n, f in futs.items():
        f.result(60)
    check(True, "topics %s created with %d partitions" % (", ".join(names), PARTITIONS))


def test_power_cuts():
    plain = cl.Ledger(unique("pl-plain"), PARTITIONS, "plain")
    idem = cl.Ledger(unique("pl-idem"), PARTITIONS, "idem")
    group = unique("pl-group")
    create_topics([plain.topic, idem.topic])
    seq = {"plain": 0, "idem": 0}
    commit_from = 1
    for cycle in range(1, CYCLES + 1):
        label = "cycle %d" % cycle
        wp = cl.Writer(broker.bootstrap, plain.topic, PARTITIONS, seq["plain"], idempotent=False).start()
        wi = cl.Writer(broker.bootstrap, idem.topic, PARTITIONS, seq["idem"], idempotent=True).start()
        cm = cl.Committer(broker.bootstrap, group, plain.topic, PARTITIONS, first=commit_from).start()
        try:
            cl.wait_acked([wp, wi], cm, 100, 120, label)
            delay = rng.uniform(0.05, 1.5)
            time.sleep(delay)   # the random moment of the cut is the point of this test: a sleep, not a wait
            before = (wp.n_acked(), wi.n_acked(), cm.acked)
            broker.kill9()
        finally:
            wp.stop.set()
            wi.stop.set()
        cut = fs.cut()
        print("  %s: kill -9 and power cut %.3fs after the 100th ack (acked so far: plain %d, idempotent %d, "
              "commit %s); lossyfs discarded unsynced contents of %d files (%d bytes) and entries of %d "
              "directories" % (label, delay, before[0], before[1], before[2], cut["files"], cut["bytes"], cut["dirs"]),
              flush=True)
        fs.mount()
        t0 = time.monotonic()
        broker.restart(timeout=60)
        print("  %s: broker restarted on what was durable in %.2fs" % (label, time.monotonic() - t0), flush=True)
        wp.halt()
        wi.halt()
        check_eq(wp.finish(), 0, "%s: every plain record got a delivery report" % label)
        check_eq(wi.finish(), 0, "%s: every idempotent record got a delivery report" % label)
        cm.halt()
        plain.add(wp, label)
        idem.add(wi, label)
        seq = {"plain": wp.seq, "idem": wi.seq}
        for led in (plain, idem):
            led.verify(broker.bootstrap, label)
        stored = cl.verify_commits(broker.bootstrap, cm, label)
        commit_from = max(cm.attempted) + 1
        print("  %s: plain %d sent, %d acked, %d failed (%s); idempotent %d sent, %d acked, %d failed (%s); "
              "%d present; commits %d acked, last %s, stored %s"
              % (label, wp.seq, len(plain.acked), plain.failed, wp.errors, wi.seq, len(idem.acked), idem.failed,
                 wi.errors, plain.present + idem.present, cm.n_acked, cm.acked, stored), flush=True)
    discarded = sum(c["bytes"] for c in fs.cuts)
    files = sum(c["files"] for c in fs.cuts)
    check(discarded > 0, "the %d cuts discarded unsynced data (%d files, %d bytes in all): the test can tell"
          % (len(fs.cuts), files, discarded))
    check_eq(broker.stop(), 0, "clean SIGTERM stop exits 0")
    broker.start()
    for led in (plain, idem):
        led.verify(broker.bootstrap, "after a clean restart, everything from offset 0", full=True)
    print("  total: %d acknowledged records (plain %d, idempotent %d), lost %d, duplicated %d, offsets reused %d"
          % (len(plain.acked) + len(idem.acked), len(plain.acked), len(idem.acked), plain.lost + idem.lost,
             plain.duplicated + idem.duplicated, plain.reused + idem.reused), flush=True)


def main():
    global fs, broker
    binary = lossyfs_binary()
    print("seed %d (replay with SAMSA_TEST_SEED=%d), %d power cuts" % (SEED, SEED, CYCLES), flush=True)
    fs = LossyFS(binary)
    rc = 1
    try:
        fs.mount()
        broker = Broker(overrides={"log.dirs": os.path.join(fs.mnt, "kafka"), "auto.create.topics.enable": "false",
                                   "log.segment.bytes": 65536}, name="power-loss")
        broker.start()
        print("broker pid %d on %s, log.dirs on lossyfs at %s" % (broker.pid, broker.bootstrap, fs.mnt), flush=True)
        rc = run_tests([test_power_cuts], [broker])
        rc = broker.finish(rc)
        reports = fs.sanitizer_reports()
        if fs.unmount() not in (0, None) or reports:
            print("FAIL: lossyfs must unmount cleanly and log no sanitizer report\n" + fs.log_tail(), flush=True)
            rc = 1
        return rc
    finally:
        if rc:
            print("lossyfs log:\n" + fs.log_tail(), flush=True)
        if broker:
            broker.cleanup()
        fs.cleanup()


if __name__ == "__main__":
    sys.exit(main())
