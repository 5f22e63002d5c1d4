"""Relay harness: runs a real samsa-relay for a test, scrapes its metrics,
and gives the outbox tests their common pieces.

A Relay owns one samsa-relay process: a properties file written from a dict
(the test's settings), plus --override KEY=VALUE arguments; metrics on
127.0.0.1:0, so the kernel picks a port and the ready line tells it:

    samsa-relay VERSION started: ... metrics on http://ADDR:PORT/metrics

start() waits for that line; stop() sends SIGTERM (then SIGKILL after a
timeout), kill9() sends SIGKILL, restart() starts it again with the same
settings. Like harness.Broker, every relay is stopped by its pid whatever
happens (finally blocks, an atexit hook, PR_SET_PDEATHSIG in the child).
finish() fails on a sanitizer report in the relay's log or a non-zero exit
after SIGTERM.

Also here, for the outbox tests:
  - Stack: one PostgreSQL (pg.py), one samsa-broker, a fresh database per
    test (so a test's relays never see another test's rows);
  - pg_connect(), pg_rows(): psycopg2 connections and the outbox's state;
  - consume_all(): every record of a topic, with its headers, read through
    confluent-kafka with assign() from offset 0 (no group);
  - check_order(): every expected event exactly once, per-key order by the
    payload's sequence numbers.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, wait_for  # noqa: E402,F401

READY_RE = re.compile(r"samsa-relay [^ ]+ started: .*metrics on http://([0-9.]+):([0-9]+)/metrics")
METRIC_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")



def relay_binary(argv=None):
    """The relay binary: --relay BIN in argv, else $SAMSA_RELAY_BIN."""
    argv = sys.argv if argv is None else argv
    for i, a in enumerate(argv):
        if a == "--relay" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--relay="):
            return a.split("=", 1)[1]
    b = os.environ.get("SAMSA_RELAY_BIN")
    if not b:
        sys.exit("relay_harness: no relay binary: pass --relay BIN or set SAMSA_RELAY_BIN")
    return b


class RelayError(Exception):
    pass


class Relay(harness.ChildProcess):
    """One samsa-relay process. props go to a properties file, overrides to
    --override (the file is written at every start, so a test may change
    props between restarts)."""

    ERROR = RelayError

    def __init__(self, props, overrides=None, binary=None, name="relay", workdir=None):
        self.binary = binary or relay_binary()
        self.props = dict(props)
        self.props.setdefault("metrics.listen", "127.0.0.1:0")
        self.overrides = dict(overrides or {})
        self.name = name
        self._own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="samsa-relay-")
        self.props_path = os.path.join(self.dir, name + ".properties")
        self.log_path = os.path.join(self.dir, name + ".log")
        self.proc = None
        self.metrics_url = None
        self.starts = 0
        self.last_exit = None

    def start(self, timeout=30.0):
        if self.alive():
            raise RelayError("relay %s already running (pid %d)" % (self.name, self.proc.pid))
        with open(self.props_path, "w") as f:
            f.write("# written by relay_harness.py for %s\n" % self.name)
            for k, v in self.props.items():
                f.write("%s=%s\n" % (k, v))
        args = [self.binary, self.props_path]
        for k, v in self.overrides.items():
            args += ["--override", "%s=%s" % (k, v)]
        m = self.spawn(args, READY_RE, timeout, "relay %s" % self.name)
        self.metrics_url = "http://%s:%s/metrics" % (m.group(1), m.group(2))
        return self

    # -- metrics -------------------------------------------------------------

    def scrape(self, timeout=5.0):
        """GET /metrics: {'name': value, 'name{labels}': value}."""
        with urllib.request.urlopen(self.metrics_url, timeout=timeout) as r:
            ctype = r.headers.get("Content-Type", "")
            text = r.read().decode()
        if not ctype.startswith("text/plain"):
            raise RelayError("metrics Content-Type %r" % ctype)
        out = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = METRIC_RE.match(line)
            if not m:
                raise RelayError("unparsable metrics line %r" % line)
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
        return out

    def metric(self, name, default=None):
        return self.scrape().get(name, default)

    # -- logs ----------------------------------------------------------------

    def log_lines(self, pattern):
        """Log lines matching a regex."""
        try:
            text = self.log_text()
        except OSError:
            return []
        rx = re.compile(pattern)
        return [l for l in text.splitlines() if rx.search(l)]

    def log_tail(self, lines=40):
        try:
            text = self.log_text()
        except OSError:
            return "(no relay log)"
        return "\n".join("  | " + l for l in text.splitlines()[-lines:])

    def finish(self, rc=0):
        """The relay (if still running) must exit 0 on SIGTERM, and its log
        must hold no sanitizer report. Returns rc, or 1."""
        running = self.alive()
        code = self.stop() if running else self.last_exit
        reports = self.sanitizer_reports()
        print("relay %s: exit code after SIGTERM %s, sanitizer reports %d"
              % (self.name, code if running else "(not running)", len(reports)), flush=True)
        if (running and code != 0) or reports:
            print("FAIL: the relay must exit 0 on SIGTERM and log no sanitizer report\n"
                  + "\n".join("  ! " + l for l in reports[:10]) + "\n" + self.log_tail(), flush=True)
            return 1
        return rc


# -- PostgreSQL and the outbox ---------------------------------------------

def pg_connect(url, autocommit=False):
    import psycopg2
    c = psycopg2.connect(url)
    c.autocommit = autocommit
    return c


def q(url_or_conn, sql, args=()):
    """Runs one statement in autocommit; returns the rows (or [])."""
    own = isinstance(url_or_conn, str)
    c = pg_connect(url_or_conn, autocommit=True) if own else url_or_conn
    try:
        with c.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else []
    finally:
        if own:
            c.close()


def status_counts(url):
    return dict(q(url, "SELECT status, count(*) FROM samsa_outbox GROUP BY status"))


def init_schema(relay_bin, db, timeout=60):
    """samsa-relay --init-schema against db (sqlite:PATH or a URL)."""
    r = subprocess.run([relay_bin, "--init-schema", "--override", "outbox.db=" + db],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                       preexec_fn=harness._die_with_parent)
    if r.returncode:
        raise RelayError("samsa-relay --init-schema %s: exit %d:\n%s"
                         % (db, r.returncode, r.stdout.decode("utf-8", "replace")))
    san = [l for l in r.stdout.decode("utf-8", "replace").splitlines()
           if harness.SANITIZER_RE.search(l)]
    if san:
        raise RelayError("samsa-relay --init-schema: sanitizer report:\n" + "\n".join(san))


class Stack:
    """PostgreSQL + samsa-broker for one test file; a fresh database and
    a list of relays per test (stopped at the test's end)."""

    def __init__(self, broker_overrides=None, pg=True, name="outbox"):
        self.broker = harness.Broker(overrides=dict({"auto.create.topics.enable": "true",
                                                     "num.partitions": 4,
                                                     "group.initial.rebalance.delay.ms": 0},
                                                    **(broker_overrides or {})), name=name)
        self.pg = None
        self.want_pg = pg
        self.relay_bin = relay_binary()
        self.relays = []
        self.dbs = 0
        self.dir = tempfile.mkdtemp(prefix="samsa-otest-")

    def start(self):
        if self.want_pg:
            import pg as pgmod
            try:
                self.pg = pgmod.Postgres().start()
            except pgmod.Unavailable as e:
                harness.skip("PostgreSQL unavailable: %s" % e)
            print("postgres on %s" % self.pg.url, flush=True)
        self.broker.start()
        print("broker pid %d on %s" % (self.broker.pid, self.broker.bootstrap), flush=True)
        return self

    def new_db(self):
        """A fresh PostgreSQL database with the outbox schema; its URL."""
        self.dbs += 1
        name = "t%d_%d" % (os.getpid(), self.dbs)
        self.pg.psql("postgres", "CREATE DATABASE %s" % name)
        url = self.pg.url_for(name)
        init_schema(self.relay_bin, url)
        return url

    def new_sqlite(self):
        self.dbs += 1
        path = os.path.join(self.dir, "outbox%d.db" % self.dbs)
        init_schema(self.relay_bin, "sqlite:" + path)
        return path

    def relay(self, db, name=None, start=True, **props):
        """A relay on db (a URL or sqlite:PATH) and this broker; props with
        '_' for '.' are easier to write: relay(db, max_attempts=3)."""
        p = {"outbox.db": db, "bootstrap.servers": self.broker.bootstrap,
             "log.level": "info", "stats.interval.ms": 200, "balance.interval.ms": 500,
             "poll.interval.ms": 10, "shutdown.timeout.ms": 5000}
        for k, v in props.items():
            p[k.replace("_", ".")] = v
        r = Relay(p, name=name or "relay%d" % (len(self.relays) + 1), workdir=self.dir)
        self.relays.append(r)
        if start:
            r.start()
        return r

    def end_test(self):
        """Stops this test's relays; returns the problems found (sanitizer
        reports, non-zero exits) as text lines."""
        bad = []
        for r in self.relays:
            running = r.alive()
            code = r.stop() if running else None
            rep = r.sanitizer_reports()
            if (running and code != 0) or rep:
                bad.append("relay %s: exit after SIGTERM %s, sanitizer reports:\n%s\n%s"
                           % (r.name, code, "\n".join(rep[:10]), r.log_tail()))
        self.relays = []
        return bad

    def logs(self):
        out = []
        for r in self.relays:
            out.append("relay %s (pid %s, alive %s) log tail:\n%s" % (r.name, r.pid, r.alive(), r.log_tail(60)))
        return "\n".join(out)

    def cleanup(self):
        for r in self.relays:
            r.kill9()
        self.broker.cleanup()
        if self.pg:
            self.pg.cleanup()
        if os.environ.get("SAMSA_KEEP_TMP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)


def run_outbox_tests(stack, tests):
    """harness.run_tests with per-test relay shutdown checks; then the
    broker's finish() (alive, exit 0, no sanitizer report)."""
    wrapped = []
    for t in tests:
        def w(t=t):
            ok = skipped = False
            try:
                t(stack)
                ok = True
            except harness.Skip:
                skipped = True
                raise
            finally:
                if not ok and not skipped:
                    print(stack.logs(), flush=True)
                bad = stack.end_test()
                if bad and (ok or skipped):
                    raise AssertionError("\n".join(bad))
                elif bad:
                    print("\n".join(bad), flush=True)
        w.__name__ = t.__name__
        wrapped.append(w)
    rc = harness.run_tests(wrapped, [stack.broker])
    return stack.broker.finish(rc)


# -- Kafka side --------------------------------------------------------------

def consume_all(bootstrap, topic, expect=None, timeout=30.0, idle=1.0):
    """Every record of topic (all partitions, from offset 0), as dicts with
    partition, offset, key, value, headers (name -> str). Reads until expect
    records have arrived and then idle seconds pass with nothing new (or,
    without expect, until every partition's high watermark is reached),
    failing after timeout."""
    import confluent_kafka as ck
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "harness-unused",
                     "enable.auto.commit": False, "enable.partition.eof": True,
                     "topic.metadata.refresh.interval.ms": 500})
    out = []
    try:
        md = wait_for(lambda: _partitions(c, topic), timeout, "topic %s to exist" % topic, 0.1)
        c.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in md])
        deadline = time.monotonic() + timeout
        last_new = time.monotonic()
        eof = set()
        while True:
            m = c.poll(0.1)
            now = time.monotonic()
            if m is not None:
                if m.error():
                    if m.error().code() == ck.KafkaError._PARTITION_EOF:
                        eof.add(m.partition())
                    else:
                        raise AssertionError("consume %s: %s" % (topic, m.error()))
                else:
                    eof.discard(m.partition())
                    out.append(_rec(m))
                    last_new = now
            if expect is not None:
                if len(out) >= expect and now - last_new >= idle:
                    break
            elif len(eof) == len(md) and now - last_new >= idle:
                break
            if now > deadline:
                if expect is not None:
                    raise AssertionError("consume %s: %d of %d records after %.0fs"
                                         % (topic, len(out), expect, timeout))
                break
    finally:
        c.close()
    return out


def _partitions(c, topic):
    md = c.list_topics(topic, timeout=2)
    t = md.topics.get(topic)
    if t is None or t.error is not None or not t.partitions:
        return None
    return sorted(t.partitions)


def _rec(m):
    h = {}
    for k, v in (m.headers() or []):
        h[k] = v.decode("utf-8", "replace") if v is not None else None
    return {"partition": m.partition(), "offset": m.offset(),
            "key": m.key().decode() if m.key() is not None else None,
            "value": m.value(), "headers": h, "timestamp": m.timestamp()[1]}


class AppOutbox:
    """The outbox table of one test, PostgreSQL or SQLite, from the
    application's side: a database of st's (kind "pg" or "sqlite"), one
    connection kept, queries written with %s placeholders for both."""

    def __init__(self, st, kind):
        self.kind = kind
        if kind == "pg":
            self.db = self.url = st.new_db()
        else:
            self.path = st.new_sqlite()
            self.db = "sqlite:" + self.path
        self.conn = None

    def _c(self):
        if self.conn is None:
            if self.kind == "pg":
                self.conn = pg_connect(self.url, autocommit=True)
            else:
                import sqlite3
                self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                self.conn.execute("PRAGMA busy_timeout = 30000")
        return self.conn

    def q(self, sql, args=()):
        if self.kind == "pg":
            return q(self._c(), sql, args)
        return self._c().execute(sql.replace("%s", "?"), args).fetchall()

    def insert_rows(self, topic, rows):
        """rows: [(key, seq)] committed in one transaction; their event ids
        in order."""
        out = []
        if self.kind == "pg":
            c = pg_connect(self.url)
            cur = c.cursor()
            for key, seq in rows:
                cur.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES (%s, %s, %s)"
                            " RETURNING event_id::text", (topic, key, payload(key, seq)))
                out.append(cur.fetchone()[0])
            c.commit()
            c.close()
        else:
            c = self._c()
            c.execute("BEGIN IMMEDIATE")
            for key, seq in rows:
                out.append(c.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES (?, ?, ?)"
                                     " RETURNING event_id", (topic, key, payload(key, seq))).fetchone()[0])
            c.execute("COMMIT")
        return out

    def counts(self):
        return dict(self.q("SELECT status, count(*) FROM samsa_outbox GROUP BY status"))

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def rounds_pass(relay, n, what, timeout=60):
    """Waits for n more completion tracking rounds applied by relay (each
    read every tracked group's commits and marked what they allow), so
    "nothing changed" is seen over n rounds, not over a guessed sleep."""
    start = relay.metric("samsa_relay_complete_rounds_total")
    check(start is not None, "the relay counts its tracking rounds (samsa_relay_complete_rounds_total)")
    wait_for(lambda: relay.metric("samsa_relay_complete_rounds_total") >= start + n, timeout,
             "%d more tracking rounds (%s)" % (n, what), 0.05)


def payload(key, seq, extra=b""):
    return json.dumps({"k": key, "seq": seq}).encode() + extra


def parse_payload(v):
    try:
        d = json.loads(v.split(b"\n", 1)[0])
        return d["k"], d["seq"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def check_order(recs, expected, what):
    """recs: consumed records; expected: {event_id: (key, seq)} of every
    committed row. Checks: each event id exactly once, none unexpected,
    header/payload agree, and per key the sequence numbers rise."""
    seen = {}
    for r in recs:
        eid = r["headers"].get("samsa.event_id")
        seen.setdefault(eid, []).append(r)
    dup = {e: len(v) for e, v in seen.items() if len(v) > 1}
    unexpected = [e for e in seen if e not in expected]
    missing = [e for e in expected if e not in seen]
    check(not unexpected, "%s: no record that was not committed (%d records)" % (what, len(recs)),
          "unexpected event ids %s" % unexpected[:5])
    check(not missing, "%s: every one of %d committed events arrived" % (what, len(expected)),
          "%d missing, e.g. %s" % (len(missing), [(e, expected[e]) for e in missing[:5]]))
    check(not dup, "%s: each event exactly once" % what,
          "%d duplicated, e.g. %s" % (len(dup), list(dup.items())[:5]))
    check_per_key_order(recs, what)
    bad = [r for r in recs if parse_payload(r["value"]) != expected.get(r["headers"].get("samsa.event_id"))]
    check(not bad, "%s: each record's payload is its row's" % what, bad[:3])


def check_per_key_order(recs, what, first_only=False):
    """Per key, records of one partition in offset order carry rising
    sequence numbers, and a key never spans two partitions. first_only:
    judge each event by its first copy (duplicates after a crash repeat
    earlier events of the key by design)."""
    by_key = {}
    parts = {}
    seen = set()
    for r in sorted(recs, key=lambda r: (r["partition"], r["offset"])):
        eid = r["headers"].get("samsa.event_id")
        if first_only and eid in seen:
            continue
        seen.add(eid)
        kp = parse_payload(r["value"])
        if kp is None:
            continue
        by_key.setdefault(r["key"], []).append(kp[1])
        parts.setdefault(r["key"], set()).add(r["partition"])
    split = {k: v for k, v in parts.items() if len(v) > 1}
    check(not split, "%s: each key in one partition" % what, split)
    bad = {}
    for k, seqs in by_key.items():
        for a, b in zip(seqs, seqs[1:]):
            if b <= a:
                bad[k] = seqs
                break
    check(not bad, "%s: per-key order kept for %d keys" % (what, len(by_key)),
          "out of order: %s" % {k: v[:20] for k, v in list(bad.items())[:3]})


# -- the application side: outbox_tool (libsamsa) ---------------------------

def tool_binary(argv=None):
    """outbox_tool: --tool BIN in argv, else $SAMSA_OUTBOX_TOOL."""
    argv = sys.argv if argv is None else argv
    for i, a in enumerate(argv):
        if a == "--tool" and i + 1 < len(argv):
            return argv[i + 1]
    b = os.environ.get("SAMSA_OUTBOX_TOOL")
    if not b:
        sys.exit("relay_harness: no outbox_tool: pass --tool BIN or set SAMSA_OUTBOX_TOOL")
    return b


def tool(*args, timeout=120):
    """Runs outbox_tool to completion; returns its stdout (fails on exit != 0)."""
    r = subprocess.run([tool_binary()] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, preexec_fn=harness._die_with_parent)
    if r.returncode:
        raise AssertionError("outbox_tool %s: exit %d: %s" % (" ".join(map(str, args[:2])), r.returncode,
                                                              r.stderr.decode("utf-8", "replace")[-2000:]))
    return r.stdout.decode()


class Writers:
    """n concurrent outbox_tool enqueue processes; wait() collects what they
    committed ({event_id: (key, seq)}) and rolled back ({event_id})."""

    def __init__(self, db, topic, n, txns, keys, per_txn=3, rollback_every=0, pause_us=0, seed=1):
        self.procs = []
        for w in range(n):
            args = [tool_binary(), "enqueue", db, "--topic", topic, "--keys", keys, "--txns", txns,
                    "--per-txn", per_txn, "--rollback-every", rollback_every, "--writer", w,
                    "--seed", seed, "--pause-us", pause_us]
            self.procs.append(subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE,
                                               stderr=subprocess.PIPE,
                                               preexec_fn=harness._die_with_parent))

    def wait(self, timeout=120):
        committed, rolled = {}, set()
        errors = []
        try:
            for p in self.procs:
                out, err = p.communicate(timeout=timeout)
                if p.returncode:
                    errors.append("writer pid %d exit %d: %s" % (p.pid, p.returncode, err.decode()[-1000:]))
                for line in out.decode().splitlines():
                    f = line.split()
                    if f[0] == "C":
                        committed[f[1]] = (f[2], int(f[3]))
                    elif f[0] == "R":
                        rolled.add(f[1])
        finally:
            self.kill()
        if errors:
            raise AssertionError("\n".join(errors))
        return committed, rolled

    def kill(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def wait_all_published(url, n, timeout, what):
    """Waits until the outbox holds exactly n rows, all PUBLISHED; on a
    timeout the error names the counts and the first rows still INIT."""
    try:
        wait_for(lambda: status_counts(url) == {"PUBLISHED": n}, timeout, what)
    except AssertionError as e:
        stuck = q(url, "SELECT id, key, slot, attempts, next_attempt_at - now(), last_error FROM samsa_outbox"
                       " WHERE status <> 'PUBLISHED' ORDER BY id LIMIT 10")
        hb = q(url, "SELECT relay_id, pid, now() - last_seen, owned FROM samsa_relay_heartbeat")
        raise AssertionError("%s: counts %s (want %d PUBLISHED); first rows not PUBLISHED "
                             "(id, key, slot, attempts, due in, last_error): %s; heartbeats: %s"
                             % (e, status_counts(url), n, stuck, hb))
