#!/usr/bin/python3
"""bench/relay_kill9.py: duplicates per relay kill -9 on an outbox (issue 18,
item 8). A measurement, not a test: it prints figures and fails only when
something could not run or a committed row was lost.

A samsa-broker, an outbox (SQLite file by default, or PostgreSQL with
--pg), 4 writer processes (outbox_tool: libsamsa, transactions of 1..3
events bumping their keys' rows, so writes hold the SQLite write lock as a
real application does) committing steadily, and one samsa-relay, which is
killed with SIGKILL every 0.5..1.5 s while rows flow and restarted, KILLS
times. Then the writers finish, every row is published, and the topic is
read from offset 0: every committed event must be there (nothing lost);
duplicates are the records beyond one per event.

  /usr/bin/python3 bench/relay_kill9.py --broker B --relay R --tool T [--kills 20] [--pg]
                                        [--pause-us 2000] [--seed 7]

(B, R, T: build-test/src/samsa-broker, build-test/src/samsa-relay,
build-test/tests/integration/outbox_tool.)
"""

import os
import random
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "integration"))
from harness import unique, wait_for  # noqa: E402
import harness  # noqa: E402
from relay_harness import Stack, consume_all, status_counts, tool, tool_binary  # noqa: E402


def arg(name, default):
    if name in sys.argv:
        i = sys.argv.index(name)
        return sys.argv[i + 1] if i + 1 < len(sys.argv) and not sys.argv[i + 1].startswith("--") else True
    return default


def main():
    kills = int(arg("--kills", 20))
    pg = bool(arg("--pg", False))
    rng = random.Random(int(arg("--seed", 7)))
    pause = int(arg("--pause-us", 2000))   # between a writer's transactions
    st = Stack(pg=pg, name="kill9")
    st.start()
    try:
        if pg:
            db = st.new_db()
        else:
            db = "sqlite:" + st.new_sqlite()
        topic = unique("kill9")
        tool("setup", db, "--keys", 16)
        relay = st.relay(db)
        # outbox_tool's stdout goes to files: a pipe nobody reads would stop them
        procs = []
        for w in range(4):
            out = open(os.path.join(st.dir, "writer%d.out" % w), "wb")
            procs.append(subprocess.Popen([tool_binary(), "enqueue", db, "--topic", topic, "--keys", "16",
                                           "--txns", "100000", "--per-txn", "3", "--writer", str(w),
                                           "--seed", "3", "--pause-us", str(pause)], stdout=out,
                                          stderr=subprocess.DEVNULL, preexec_fn=harness._die_with_parent))
            out.close()
        try:
            for k in range(kills):
                base = relay.metric("samsa_relay_published_total") or 0
                try:
                    wait_for(lambda: (relay.metric("samsa_relay_published_total") or 0) >= base + 200, 60,
                             "rows flowing before kill %d" % (k + 1))
                except AssertionError:
                    print(relay.log_tail(5), [p.poll() for p in procs], flush=True)
                    m = relay.scrape()
                    print({k: v for k, v in m.items() if "bucket" not in str(k)}, flush=True)
                    import sqlite3
                    c = sqlite3.connect(db[len("sqlite:"):], timeout=30)
                    print(c.execute("SELECT status, count(*), min(id), max(id), max(attempts) FROM samsa_outbox GROUP BY status").fetchall(), flush=True)
                    c.close()
                    if os.environ.get("KILL9_GDB"):
                        os.system("gdb -p %d -batch -ex 'thread apply all bt' 2>&1 | grep -E '^#|^Thread' | head -80" % relay.pid)
                    raise
                time.sleep(rng.uniform(0.5, 1.5))  # a measurement: kill at a random moment
                if os.environ.get("KILL9_VERBOSE"):
                    m = relay.scrape()
                    print("kill %d: inflight %d published_total %d INIT %d" % (
                        k + 1, m["samsa_relay_inflight"], m["samsa_relay_published_total"],
                        m['samsa_outbox_rows{status="INIT"}']), flush=True)
                relay.kill9()
                relay.restart()
        finally:
            for p in procs:
                p.kill()
                p.wait()
        # the writers were killed mid-run: what they committed is what is in the table
        if pg:
            from relay_harness import q
            n = q(db, "SELECT count(*) FROM samsa_outbox")[0][0]
            eids = {r[0] for r in q(db, "SELECT event_id::text FROM samsa_outbox")}
        else:
            import sqlite3
            c = sqlite3.connect(db[len("sqlite:"):], timeout=30)
            eids = {r[0] for r in c.execute("SELECT event_id FROM samsa_outbox")}
            n = len(eids)
            c.close()
        committed = n
        if pg:
            wait_for(lambda: status_counts(db) == {"PUBLISHED": n}, 120, "all published")
        else:
            import sqlite3

            def done():
                c = sqlite3.connect(db[len("sqlite:"):], timeout=30)
                try:
                    return c.execute("SELECT count(*) FROM samsa_outbox WHERE status <> 'PUBLISHED'").fetchone()[0] == 0
                finally:
                    c.close()
            wait_for(done, 120, "all published", 0.2)
        recs = consume_all(st.broker.bootstrap, topic, expect=committed, timeout=120)
        seen = {}
        for r in recs:
            e = r["headers"].get("samsa.event_id")
            seen[e] = seen.get(e, 0) + 1
        lost = eids - set(seen)
        dups = sum(v - 1 for v in seen.values())
        print("%s: %d committed rows, %d relay kill -9s: %d records, %d lost, %d duplicates"
              " (%.1f per kill, %.2f%% of rows)"
              % ("PostgreSQL" if pg else "SQLite", committed, kills, len(recs), len(lost), dups,
                 dups / kills, 100.0 * dups / max(committed, 1)), flush=True)
        return 1 if lost else 0
    finally:
        st.end_test()
        st.cleanup()


if __name__ == "__main__":
    sys.exit(main())
