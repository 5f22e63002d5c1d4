#!/usr/bin/python3
"""Power loss under samsa-relay on SQLite: marks may be lost, events never.

The relay's SQLite connection uses synchronous=NORMAL (docs/outbox.md): in
WAL mode its commits (the PUBLISHED marks) reach the disk only at the next
fsync of the WAL, so a power cut may take marks back; such a row is INIT
again and is published again (a duplicate the inbox drops), but no
committed event may be lost. Here the outbox file is on lossyfs (lossyfs.c:
whatever was not fsynced is discarded on a cut); the broker is on a normal
disk (it is not the subject). Each cycle:
  - a writer process (the application: Python's sqlite3, WAL,
    synchronous=FULL, so each of its commits is durable when COMMIT
    returns) commits 5 events per transaction and prints each committed
    transaction's event ids; samsa-relay publishes them;
  - at a random moment (seed printed; SAMSA_TEST_SEED=N replays), once
    rows are being marked, the writer and the relay get SIGKILL and
    lossyfs cuts the power; it is mounted again, the relay restarted
    (SQLite recovers the WAL), a new writer goes on.
At the end every row is PUBLISHED, and every event the writer saw
committed is in the topic (at least once: a lost mark publishes it again;
how many were published twice is printed). The row count in the table is
at least what the writer saw committed.

Usage: test_relay_power_loss.py --lossyfs BIN --broker BIN --relay BIN [--cycles N]
"""

import os
import random
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from lossyfs import LossyFS, lossyfs_binary  # noqa: E402
import harness  # noqa: E402
from harness import check, check_eq, unique, wait_for  # noqa: E402
from relay_harness import Stack, consume_all, init_schema, run_outbox_tests  # noqa: E402

CYCLES = 3
for _i, _a in enumerate(sys.argv):
    if _a == "--cycles" and _i + 1 < len(sys.argv):
        CYCLES = int(sys.argv[_i + 1])
SEED = int(os.environ.get("SAMSA_TEST_SEED") or (time.time_ns() % 1000000007))
rng = random.Random(SEED)

# The application: commits 5 events per transaction, durably, and prints
# their event ids once COMMIT has returned (so a printed id is committed).
WRITER = r"""
import sqlite3, sys
path, topic, seq = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = sqlite3.connect(path, timeout=30, isolation_level=None)
c.execute("PRAGMA journal_mode = WAL")
c.execute("PRAGMA synchronous = FULL")
c.execute("PRAGMA busy_timeout = 30000")
while True:
    c.execute("BEGIN IMMEDIATE")
    ids = []
    for _ in range(5):
        ids.append(c.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES (?, ?, ?) RETURNING event_id",
                             (topic, "k%d" % (seq % 8), b"seq=%d" % seq)).fetchone()[0])
        seq += 1
    c.execute("COMMIT")
    print("committed %d %s" % (seq, " ".join(ids)), flush=True)
"""


class Writer:
    def __init__(self, path, topic, seq, log):
        self.log = log
        self.offset = os.path.getsize(log) if os.path.exists(log) else 0
        with open(log, "ab") as f:
            self.proc = subprocess.Popen([harness.PYTHON, "-c", WRITER, path, topic, str(seq)], stdout=f,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         preexec_fn=harness._die_with_parent)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def committed(self):
        """(event ids, next seq) of the transactions it printed as committed."""
        ids, seq = [], None
        with open(self.log, "rb") as f:
            f.seek(self.offset)
            for line in f.read().decode("utf-8", "replace").splitlines():
                parts = line.split()
                if len(parts) == 7 and parts[0] == "committed":
                    seq = int(parts[1])
                    ids += parts[2:]
        return ids, seq


def published_count(path):
    """PUBLISHED rows, read on a connection of its own (closed at once)."""
    c = sqlite3.connect(path, timeout=30)
    try:
        c.execute("PRAGMA busy_timeout = 30000")
        return c.execute("SELECT count(*) FROM samsa_outbox WHERE status = 'PUBLISHED'").fetchone()[0]
    finally:
        c.close()


def test_relay_marks_power_cut(st):
    topic = unique("relay-pl")
    path = os.path.join(fs.mnt, "outbox.db")
    init_schema(st.relay_bin, "sqlite:" + path)
    check(True, "outbox schema created on lossyfs (%s)" % path)
    log = os.path.join(fs.dir, "writer.log")
    committed = []
    seq = 0
    relay = st.relay("sqlite:" + path)
    for cycle in range(1, CYCLES + 1):
        w = Writer(path, topic, seq, log)
        try:
            wait_for(lambda: len(w.committed()[0]) >= 50, 60, "cycle %d: the writer committed 50 events" % cycle)
            base = published_count(path)
            wait_for(lambda: published_count(path) >= base + 50, 60,
                     "cycle %d: 50 more rows PUBLISHED" % cycle)
            time.sleep(rng.uniform(0.05, 1.0))   # the random moment of the cut is the point: a sleep, not a wait
        finally:
            w.kill()
            relay.kill9()
        ids, nseq = w.committed()
        committed += ids
        seq = nseq if nseq is not None else seq
        r = fs.cut()
        print("  cycle %d: writer and relay SIGKILLed, power cut: lossyfs discarded unsynced contents of %d files "
              "(%d bytes); %d events committed so far" % (cycle, r["files"], r["bytes"], len(committed)),
              flush=True)
        fs.mount()
        relay.start()
    wait_for(lambda: st_counts(path).keys() == {"PUBLISHED"}, 120, "every row PUBLISHED")
    counts = st_counts(path)
    check(counts["PUBLISHED"] >= len(committed),
          "every row PUBLISHED: %d rows, at least the %d events the writer saw committed" %
          (counts["PUBLISHED"], len(committed)))
    recs = consume_all(st.broker.bootstrap, topic, expect=counts["PUBLISHED"], timeout=120)
    seen = {}
    for rec in recs:
        e = rec["headers"].get("samsa.event_id")
        seen[e] = seen.get(e, 0) + 1
    lost = [e for e in committed if e not in seen]
    check_eq(lost[:5], [], "each of the %d committed events is in the topic (none lost to %d power cuts)"
             % (len(committed), CYCLES))
    twice = sum(1 for n in seen.values() if n > 1)
    print("  MEASURED %d records for %d distinct events: %d events published more than once (marks a cut took "
          "back, or acknowledgements a kill cut off)" % (len(recs), len(seen), twice), flush=True)
    check(sum(r["bytes"] for r in fs.cuts) > 0, "the cuts discarded unsynced data (%d bytes in all)"
          % sum(r["bytes"] for r in fs.cuts))


def st_counts(path):
    c = sqlite3.connect(path, timeout=30)
    try:
        c.execute("PRAGMA busy_timeout = 30000")
        return dict(c.execute("SELECT status, count(*) FROM samsa_outbox GROUP BY status").fetchall())
    finally:
        c.close()


def main():
    global fs
    binary = lossyfs_binary()
    print("seed %d (replay with SAMSA_TEST_SEED=%d), %d power cuts" % (SEED, SEED, CYCLES), flush=True)
    fs = LossyFS(binary)
    st = Stack(pg=False, name="relay-power-loss")
    try:
        fs.mount()
        st.start()
        rc = run_outbox_tests(st, [test_relay_marks_power_cut])
        if fs.unmount() not in (0, None) or fs.sanitizer_reports():
            print("FAIL: lossyfs must unmount cleanly and log no sanitizer report\n" + fs.log_tail(), flush=True)
            rc = 1
        return rc
    finally:
        st.cleanup()
        fs.cleanup()


if __name__ == "__main__":
    sys.exit(main())
