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

Usage: test_power_loss.py --lossyfs BIN [--broker BIN] [--cycles N] [--rate RECORDS_PER_S] [--keep-going]
(the last two for the soak, tests/soak/kill_loop.sh power)
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

PARTITIONS = 3
CYCLES = 5
KEEP_GOING = "--keep-going" in sys.argv     # the soak: count a failed cycle and go on
RATE = None                                 # records/s per producer (the soak); flat out here
for _i, _a in enumerate(sys.argv):
    if _a == "--cycles" and _i + 1 < len(sys.argv):
        CYCLES = int(sys.argv[_i + 1])
    if _a == "--rate" and _i + 1 < len(sys.argv):
        RATE = int(sys.argv[_i + 1])

SEED = int(os.environ.get("SAMSA_TEST_SEED") or (time.time_ns() % 1000000007))
rng = random.Random(SEED)

fs = None
broker = None


def test_power_cuts():
    def cut():
        r = fs.cut()
        fs.mount()
        return ("power cut: lossyfs discarded unsynced contents of %d files (%d bytes) and entries of %d directories"
                % (r["files"], r["bytes"], r["dirs"]))

    t = cl.run_cycles(broker, CYCLES, rng, unique, PARTITIONS, cut=cut, what="kill -9 and a power cut",
                      keep_going=KEEP_GOING, rate=RATE)
    discarded = sum(c["bytes"] for c in fs.cuts)
    files = sum(c["files"] for c in fs.cuts)
    check(discarded > 0, "the %d cuts discarded unsynced data (%d files, %d bytes in all): the test can tell"
          % (len(fs.cuts), files, discarded))
    check_eq(broker.stop(), 0, "clean SIGTERM stop exits 0")
    broker.start()
    for led in t["ledgers"]:
        led.verify(broker.bootstrap, "after a clean restart, everything from offset 0", full=True)
    print(cl.summary_line(t) + " discarded_bytes %d" % discarded, flush=True)
    check_eq((t["failed_cycles"], t["lost"], t["duplicated"], t["reused"]), (0, 0, 0, 0),
             "%d cycles: %d records acknowledged, none lost, none duplicated, no offset reused"
             % (t["cycles"], t["acked"]))


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
