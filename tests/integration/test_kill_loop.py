#!/usr/bin/python3
"""The kill loop: samsa-broker SIGKILLed again and again under acks=all load.

Each cycle (crash_load.run_cycles): two confluent-kafka producers, acks=all,
one idempotent (retries on, the broker drops the duplicates) and one without
retries, send numbered self-checking records flat out to a topic each
(3 partitions, 256 KiB segments); a simple consumer commits ever larger
offsets for a group. At a random moment (seed printed; SAMSA_TEST_SEED=N
replays) the broker gets SIGKILL and is restarted on the same dir and port.
Then:
  - every record acknowledged is at its offset, offsets run without gaps,
    every body is intact, per partition sequence numbers strictly increase:
    order kept, nothing duplicated (also not by the idempotent producer's
    retries across the kill), no offset acknowledged twice;
  - each partition's committed offset is the last acknowledged commit, or
    a later attempt whose answer the kill cut off.
After the last cycle: a clean SIGTERM stop, a restart, and a read of
everything from offset 0. The totals line (cycles, acknowledged, lost,
duplicated) is what tests/soak/kill_loop.sh collects for 100+ cycles.

Usage: test_kill_loop.py [--broker BIN] [--cycles N] [--rate RECORDS_PER_S] [--keep-going]
(the last two for the soak: a paced load, and a failed cycle counted
instead of ending the run)
"""

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check_eq, run_tests, unique  # noqa: E402
import crash_load as cl  # noqa: E402

PARTITIONS = 3
CYCLES = 10
KEEP_GOING = "--keep-going" in sys.argv     # the soak: count a failed cycle and go on
RATE = None                                 # records/s per producer (the soak); flat out here
for _i, _a in enumerate(sys.argv):
    if _a == "--cycles" and _i + 1 < len(sys.argv):
        CYCLES = int(sys.argv[_i + 1])
    if _a == "--rate" and _i + 1 < len(sys.argv):
        RATE = int(sys.argv[_i + 1])

SEED = int(os.environ.get("SAMSA_TEST_SEED") or (time.time_ns() % 1000000007))
rng = random.Random(SEED)

broker = Broker(overrides={"auto.create.topics.enable": "false", "log.segment.bytes": 262144}, name="kill-loop")


def test_kill_loop():
    t = cl.run_cycles(broker, CYCLES, rng, unique, PARTITIONS, keep_going=KEEP_GOING, rate=RATE)
    check_eq(broker.stop(), 0, "clean SIGTERM stop after the last cycle exits 0")
    broker.start()
    for led in t["ledgers"]:
        led.verify(broker.bootstrap, "after a clean restart, everything from offset 0", full=True)
    print(cl.summary_line(t), flush=True)
    check_eq((t["failed_cycles"], t["lost"], t["duplicated"], t["reused"]), (0, 0, 0, 0),
             "%d cycles: %d records acknowledged, none lost, none duplicated, no offset reused"
             % (t["cycles"], t["acked"]))


def main():
    print("seed %d (replay with SAMSA_TEST_SEED=%d), %d kill cycles" % (SEED, SEED, CYCLES), flush=True)
    try:
        broker.start()
        print("broker pid %d on %s" % (broker.pid, broker.bootstrap), flush=True)
        rc = run_tests([test_kill_loop], [broker])
        return broker.finish(rc)
    finally:
        broker.cleanup()


if __name__ == "__main__":
    sys.exit(main())
