#!/usr/bin/python3
"""Least privilege on PostgreSQL (issue 18, item 4): the relay, the samsa CLI
and an application run as roles that hold exactly the privileges
docs/outbox.md ("Privileges") lists, on an outbox whose tables another role
(the owner) created with --init-schema. PostgreSQL 15 gives PUBLIC no CREATE
on schema public, so any DDL at start (even CREATE TABLE IF NOT EXISTS) is
refused to them.

test_least_privilege: roles samsa_relay (SELECT on samsa_schema_version;
  SELECT, UPDATE, DELETE on samsa_outbox; SELECT, INSERT on samsa_outbox_archive;
  SELECT, INSERT, UPDATE, DELETE on samsa_relay_heartbeat; SELECT, INSERT,
  UPDATE on samsa_topic_incarnation), app (SELECT on
  samsa_schema_version; INSERT on samsa_outbox, SELECT (event_id); SELECT,
  INSERT on samsa_inbox; no sequence: since schema v2 the id is an identity
  column) and samsa_cli (SELECT on samsa_schema_version; SELECT, UPDATE on samsa_outbox).
  The relay starts as samsa_relay (before the fix it failed: "permission
  denied for schema public"), with completion tracking, cleanup with
  archive; the app (libsamsa through outbox_tool, and raw SQL) enqueues 200
  events in committed and rolled-back transactions; every committed row is
  published once and in order, then cleaned into the archive; no database
  error is counted; `samsa outbox status` and `list` work as samsa_cli, and
  `retry` re-queues a DEAD row that the relay then publishes.
test_outdated_schema_clear_error: a database without the outbox tables:
  the relay as samsa_relay exits 1 naming the schema version, the version
  it needs and --init-schema.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import pg  # noqa: E402
from harness import check, check_eq, unique, wait_for  # noqa: E402
from relay_harness import (Relay, Stack, check_order, consume_all, payload, pg_connect, q,  # noqa: E402
                           run_outbox_tests, tool)

GRANTS = {
    "samsa_relay": [
        "GRANT SELECT ON samsa_schema_version TO samsa_relay",
        "GRANT SELECT, UPDATE, DELETE ON samsa_outbox TO samsa_relay",
        "GRANT SELECT, INSERT ON samsa_outbox_archive TO samsa_relay",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON samsa_relay_heartbeat TO samsa_relay",
        "GRANT SELECT, INSERT, UPDATE ON samsa_topic_incarnation TO samsa_relay",
    ],
    "app": [
        "GRANT SELECT ON samsa_schema_version TO app",
        "GRANT INSERT, SELECT (event_id) ON samsa_outbox TO app",
        "GRANT SELECT, INSERT ON samsa_inbox TO app",
    ],
    "samsa_cli": [
        "GRANT SELECT ON samsa_schema_version TO samsa_cli",
        "GRANT SELECT, UPDATE ON samsa_outbox TO samsa_cli",
    ],
}


def cli_binary():
    for i, a in enumerate(sys.argv):
        if a == "--samsa" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
    return os.environ.get("SAMSA_CLI_BIN")


def as_role(url, role):
    head, rest = url.split("://", 1)
    return "%s://%s@%s" % (head, role, rest.split("@", 1)[1])


def roles(st, url):
    db = pg.dbname_of(url)
    for role in GRANTS:
        st.pg.psql("postgres", "DO $$ BEGIN CREATE ROLE %s LOGIN; EXCEPTION WHEN duplicate_object THEN"
                               " NULL; END $$" % role)
    st.pg.psql(db, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    for role, grants in GRANTS.items():
        for g in grants:
            st.pg.psql(db, g)


def cli(*args):
    r = subprocess.run([cli_binary()] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60, preexec_fn=harness._die_with_parent)
    return r.returncode, r.stdout.decode("utf-8", "replace")


def test_least_privilege(st):
    url = st.new_db()
    tool("setup", url, "--keys", 8)  # the app's own table (samsa_test_agg), as the owner
    roles(st, url)
    st.pg.psql(pg.dbname_of(url), "GRANT SELECT, UPDATE ON samsa_test_agg TO app")
    topic = unique("lp")
    group = unique("lp-group")
    relay = st.relay(as_role(url, "samsa_relay"), track_groups=group, complete_interval_ms=200,
                     cleanup_after_ms=1, cleanup_interval_ms=300, cleanup_archive="true")
    check(True, "the relay started as samsa_relay (no DDL at start)")
    app = as_role(url, "app")
    out = tool("enqueue", app, "--topic", topic, "--keys", 8, "--txns", 60, "--per-txn", 3,
               "--rollback-every", 4, "--seed", 5)
    committed = {}
    for line in out.splitlines():
        f = line.split()
        if f[0] == "C":
            committed[f[1]] = (f[2], int(f[3]))
    c = pg_connect(app)
    with c.cursor() as cur:
        for i in range(20):
            cur.execute("INSERT INTO samsa_outbox (topic, key, payload) VALUES (%s, 'raw', %s)"
                        " RETURNING event_id::text", (topic, payload("raw", i + 1)))
            committed[cur.fetchone()[0]] = ("raw", i + 1)
            c.commit()
        cur.execute("INSERT INTO samsa_inbox (consumer, event_id) VALUES ('c', 'e1') ON CONFLICT DO NOTHING")
        c.commit()
    c.close()
    check(len(committed) > 100, "the app (libsamsa and raw SQL) committed %d events as role app" % len(committed))
    recs = consume_all(st.broker.bootstrap, topic, expect=len(committed))
    check_order(recs, committed, "as samsa_relay")

    # a consumer group commits past everything: COMPLETE, then cleaned into the archive
    import confluent_kafka as ck
    cons = ck.Consumer({"bootstrap.servers": st.broker.bootstrap, "group.id": group,
                        "enable.auto.commit": False})
    consume_parts = sorted({r["partition"] for r in recs})
    high = {}
    for r in recs:
        high[r["partition"]] = max(high.get(r["partition"], -1), r["offset"])
    cons.commit(offsets=[ck.TopicPartition(topic, p, high[p] + 1) for p in consume_parts], asynchronous=False)
    cons.close()
    wait_for(lambda: q(url, "SELECT count(*) FROM samsa_outbox")[0][0] == 0, 60,
             "every row COMPLETE and cleaned")
    check_eq(q(url, "SELECT count(*) FROM samsa_outbox_archive")[0][0], len(committed),
             "cleanup.archive: every row moved to samsa_outbox_archive")
    check_eq(relay.metric("samsa_relay_db_errors_total"), 0.0, "no database error as samsa_relay")
    check(not relay.log_lines("permission denied"), "no 'permission denied' in the relay's log")

    # the CLI as samsa_cli
    cu = as_role(url, "samsa_cli")
    rc, text = cli("outbox", "status", "--db", cu)
    check(rc == 0, "samsa outbox status as samsa_cli", text)
    q(url, "INSERT INTO samsa_outbox (topic, key, payload, status, attempts, last_error)"
           " VALUES (%s, 'dead', %s, 'DEAD', 3, 'x')", (topic, payload("dead", 1)))
    rc, text = cli("outbox", "list", "--db", cu, "-s", "DEAD")
    check(rc == 0 and "dead" in text, "samsa outbox list -s DEAD as samsa_cli", text)
    rc, text = cli("outbox", "retry", "--all", "--db", cu)
    check(rc == 0, "samsa outbox retry --all as samsa_cli", text)
    wait_for(lambda: q(url, "SELECT status FROM samsa_outbox WHERE key = 'dead'") == [("PUBLISHED",)], 60,
             "the re-queued row PUBLISHED by the relay")
    check_eq(relay.metric("samsa_relay_db_errors_total"), 0.0, "still no database error")


def test_outdated_schema_clear_error(st):
    st.dbs += 1
    name = "t%d_%d" % (os.getpid(), st.dbs)
    st.pg.psql("postgres", "CREATE DATABASE %s" % name)
    url = as_role(st.pg.url_for(name), "samsa_relay")
    st.pg.psql(name, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    r = Relay({"outbox.db": url, "bootstrap.servers": st.broker.bootstrap}, name="outdated", workdir=st.dir)
    st.relays.append(r)
    try:
        r.start(timeout=20)
        started = True
    except Exception:
        started = False
    check(not started, "the relay does not start on an outbox without its tables")
    wait_for(lambda: not r.alive(), 20, "the relay to exit")
    code = r.stop()
    log = r.log_text()
    check("schema is at version 0, this relay needs" in log and "--init-schema" in log,
          "its error names the versions and --init-schema (exit %s)" % code, log[-1500:])


if __name__ == "__main__":
    st = Stack(name="privileges")
    try:
        st.start()
        sys.exit(run_outbox_tests(st, [test_least_privilege, test_outdated_schema_clear_error]))
    finally:
        st.cleanup()
