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
                                        [--pause-us 2000] [--seed 7] [--repeat 3]

Runs REPEAT times (seeds SEED, SEED+1, ...), each on a fresh stack, and writes
bench/results/<timestamp>-relay-kill9.md: the median (min-max) of the
duplicates per kill, the lost rows of all runs, each run's line and the
provenance in bench/provenance.sh's format (commit, clean or dirty tree,
machine, load average), so docs can cite it (tests/docs/check_figures.py).

(B, R, T: build-test/src/samsa-broker, build-test/src/samsa-relay,
build-test/tests/integration/outbox_tool.)
"""

import os
import random
import statistics
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


def trial(kills, pg, rng, pause):
    """One stack, KILLS relay kill -9s; returns its figures as a dict."""
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
        line = ("%s: %d committed rows, %d relay kill -9s: %d records, %d lost, %d duplicates"
                " (%.1f per kill, %.2f%% of rows)"
                % ("PostgreSQL" if pg else "SQLite", committed, kills, len(recs), len(lost), dups,
                   dups / kills, 100.0 * dups / max(committed, 1)))
        print(line, flush=True)
        return {"committed": committed, "kills": kills, "records": len(recs), "lost": len(lost),
                "duplicates": dups, "line": line}
    finally:
        st.end_test()
        st.cleanup()


def git_out(*args):
    r = subprocess.run(["git", "-C", os.path.join(here, "..")] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    return r.stdout.strip() if r.returncode == 0 else ""


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def provenance(commit, dirty, load_before):
    """The lines bench/provenance.sh writes, in its format (check_figures.py reads them)."""
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    out = ["- commit: %s" % (commit or "unknown"),
           "- tree: clean" if dirty == 0 else "- tree: dirty (%d changed files; figures not citeable)" % dirty,
           "- machine: %d cores, %s, %.0f GB, Linux %s" % (os.cpu_count(), cpu, mem / 1048576, os.uname().release),
           "- load average (1/5/15 min) before / after: %s / %s" % (load_before, loadavg())]
    return out


def main():
    kills = int(arg("--kills", 20))
    pg = bool(arg("--pg", False))
    seed = int(arg("--seed", 7))
    pause = int(arg("--pause-us", 2000))   # between a writer's transactions
    repeat = int(arg("--repeat", 3))
    commit = git_out("rev-parse", "HEAD")
    status = git_out("status", "--porcelain", "--untracked-files=all", "--", ".", ":!bench/results")
    dirty = len([l for l in status.splitlines() if l.strip()])
    load_before = loadavg()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    runs = []
    for i in range(repeat):
        print("== run %d of %d" % (i + 1, repeat), flush=True)
        runs.append(trial(kills, pg, random.Random(seed + i), pause))
    per_kill = [r["duplicates"] / r["kills"] for r in runs]
    pct = [100.0 * r["duplicates"] / max(r["committed"], 1) for r in runs]
    lost = sum(r["lost"] for r in runs)
    store = "PostgreSQL" if pg else "SQLite"

    def mm(xs, f):
        s = f % statistics.median(xs)
        return s + (" (%s-%s)" % (f % min(xs), f % max(xs)) if len(xs) > 1 else "")
    lines = ["# relay kill -9: duplicates per kill, %s outbox, %s" % (store, stamp), "",
             "- command: `/usr/bin/python3 bench/relay_kill9.py --kills %d%s --pause-us %d --seed %d --repeat %d`"
             % (kills, " --pg" if pg else "", pause, seed, repeat)]
    lines += provenance(commit, dirty, load_before)
    lines += ["- binaries: %s, %s, %s" % (os.path.relpath(os.path.abspath(arg("--broker", "")), os.path.join(here, "..")),
                                          os.path.relpath(os.path.abspath(arg("--relay", "")), os.path.join(here, "..")),
                                          os.path.relpath(os.path.abspath(arg("--tool", "")), os.path.join(here, ".."))),
              "- each run: a fresh samsa-broker, outbox and samsa-relay; 4 writer processes (transactions of 1..3"
              " events); the relay killed with SIGKILL every 0.5..1.5 s while rows flow, %d times, and restarted;"
              " then every committed event is looked for in the topic. Median of %d runs (min-max)" % (kills, repeat),
              "",
              "| outbox | runs | kills per run | committed rows (median) | lost (all runs) | duplicates per kill | duplicates, % of rows |",
              "|---|---:|---:|---:|---:|---:|---:|",
              "| %s | %d | %d | %d | %d | %s | %s |" % (store, repeat, kills,
                                                     statistics.median(r["committed"] for r in runs), lost,
                                                     mm(per_kill, "%.1f"), mm(pct, "%.2f")),
              "", "Each run's line, verbatim:", "", "```"] + [r["line"] for r in runs] + ["```"]
    out = os.path.join(here, "results", "%s-relay-kill9.md" % stamp)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(l for l in lines if l.startswith("|")))
    print("== written to bench/results/%s" % os.path.basename(out), flush=True)
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
