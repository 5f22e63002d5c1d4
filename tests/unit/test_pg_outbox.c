/* test_pg_outbox.c: libsamsa and the relay's store against a real PostgreSQL
 * (tests/integration/pg.py starts one and sets SAMSA_PG_URL), what only
 * PostgreSQL does or what this file checks its own way: concurrent
 * migrations, ids (v1 -> v2), enqueue's slot column, database errors and
 * lost prepared statements, claim by status with out-of-order commits and
 * skip(), the claim cursor (a row committed late comes with the next
 * claim), one snapshot per claim, the index of held keys, the relay role's
 * privileges, the wake-up (conditional NOTIFY, arming, timeouts), slot
 * balancing between two relays and after a lost connection, and a
 * claim+mark throughput figure. What both databases promise alike
 * (migrations, enqueue, marks, requeue and cleanup, holds, the inbox,
 * incarnations, the upgrade) is test_store_contract.c, run on SQLite and
 * PostgreSQL. */
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "check.h"
#include "outbox_test.h"
#include "outbox/db.h"
#include "outbox/outbox_int.h"
#include "outbox/samsa.h"
#include "outbox/store.h"

static const char *pg_url;

static PGconn *connect_db(const char *dbname)
{
    const char *const keys[] = {"dbname", "dbname", NULL};
    const char *const vals[] = {pg_url, dbname, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "connect %s: %s", dbname, PQerrorMessage(c));
        exit(1);
    }
    return c;
}

static PGconn *app(void) { return connect_db("samsa"); }

static void x(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "sql failed: %s: %s", sql, PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
}

/* The first column of the first row as an integer (-1: NULL, -999: none). */
static int64_t q1(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    int64_t v = -999;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "query failed: %s: %s", sql, PQerrorMessage(c));
        exit(1);
    }
    if (PQntuples(r) > 0)
        v = PQgetisnull(r, 0, 0) ? -1 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static int64_t enqueue(PGconn *c, const char *topic, const char *key, const char *payload)
{
    samsa_event ev = {.topic = topic, .key = key, .payload = payload,
                      .payload_len = payload ? strlen(payload) : 0};
    char err[512];
    x(c, "BEGIN");
    int rc = samsa_outbox_enqueue_pg(c, &ev, NULL, err, sizeof err);
    if (rc)
        fprintf(stderr, "enqueue: %s\n", err);
    REQUIRE(rc == 0);
    int64_t id = q1(c, "SELECT currval('samsa_outbox_id_seq')");
    x(c, "COMMIT");
    return id;
}

/* Migrates c's database up to version target (0: the newest). */
static int schema_to(PGconn *c, const char *name, int target, char *err, size_t errlen)
{
    sm_db w;
    sm_db_wrap_pg(&w, c, name);
    return sm_schema_apply(&w, target, err, errlen);
}

static sm_store *store_open(void)
{
    sm_store *s = NULL;
    char err[512];
    if (sm_store_open(&s, pg_url, err, sizeof err) != SM_OK) {
        fprintf(stderr, "store open: %s\n", err);
        exit(1);
    }
    return s;
}

/* ---- migrations ---------------------------------------------------------------- */

typedef struct mig_arg {
    pthread_barrier_t *bar;
    int rc;
    char err[512];
} mig_arg;

static void *migrate_thread(void *p)
{
    mig_arg *a = p;
    PGconn *c = connect_db("samsa_mig");
    pthread_barrier_wait(a->bar);
    a->rc = samsa_schema_apply_pg(c, a->err, sizeof a->err);
    PQfinish(c);
    return NULL;
}

static void test_migrations(void)
{
    TEST_SECTION("migrations: concurrent (fresh, again, refused inside a transaction:"
                 " test_store_contract.c)");
    PGconn *c = app();
    char err[512];
    REQUIRE(samsa_schema_apply_pg(c, err, sizeof err) == 0);

    /* six processes' worth of migrators on an empty database at once */
    x(c, "CREATE DATABASE samsa_mig");
    enum { N = 6 };
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, N);
    pthread_t th[N];
    mig_arg args[N];
    for (int i = 0; i < N; i++) {
        args[i] = (mig_arg){.bar = &bar};
        pthread_create(&th[i], NULL, migrate_thread, &args[i]);
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        if (args[i].rc == 0)
            ok++;
        else
            fprintf(stderr, "concurrent migrate: %s\n", args[i].err);
    }
    pthread_barrier_destroy(&bar);
    CHECK(ok == N);
    PGconn *m = connect_db("samsa_mig");
    CHECK_EQ_I64(q1(m, "SELECT count(*) FROM samsa_schema_version"), SAMSA_SCHEMA_VERSION);
    CHECK_EQ_I64(q1(m, "SELECT count(*) FROM pg_trigger WHERE tgname = 'samsa_outbox_wake'"), 1);
    PQfinish(m);
    x(c, "DROP DATABASE samsa_mig");
    PQfinish(c);
}

/* x() that must fail; returns whether the error contains want. */
static bool x_fails(PGconn *c, const char *sql, const char *want)
{
    PGresult *r = PQexec(c, sql);
    bool failed = PQresultStatus(r) == PGRES_FATAL_ERROR;
    bool said = strstr(PQresultErrorMessage(r), want) != NULL;
    if (!failed || !said)
        fprintf(stderr, "  %s: %s\n", sql, failed ? PQresultErrorMessage(r) : "succeeded");
    PQclear(r);
    return failed && said;
}

static void test_ids(void)
{
    TEST_SECTION("ids come from the database only (v2: GENERATED ALWAYS AS IDENTITY); v1 -> v2"
                 " keeps the rows and starts above every id used");
    PGconn *c = app();
    char err[512];
    x(c, "CREATE DATABASE samsa_ids");
    PGconn *d = connect_db("samsa_ids");
    CHECK(schema_to(d, "samsa_ids", 1, err, sizeof err) == SM_OK);
    CHECK_EQ_I64(q1(d, "SELECT max(version) FROM samsa_schema_version"), 1);
    /* what v1 let through: explicit ids <= 0 and a huge one */
    x(d, "INSERT INTO samsa_outbox (topic, key, payload) VALUES ('t', 'a', '1')");
    x(d, "INSERT INTO samsa_outbox (id, topic, key, payload) VALUES (-3, 't', 'a', '2'),"
         " (0, 't', 'b', '3'), (1000000, 't', 'c', '4')");
    CHECK(schema_to(d, "samsa_ids", 2, err, sizeof err) == SM_OK);
    CHECK_EQ_I64(q1(d, "SELECT max(version) FROM samsa_schema_version"), 2);
    CHECK_EQ_I64(q1(d, "SELECT count(*) FROM samsa_outbox"), 4);
    x(d, "INSERT INTO samsa_outbox (topic, key, payload) VALUES ('t', 'd', '5')");
    CHECK(q1(d, "SELECT max(id) FROM samsa_outbox WHERE key = 'd'") > 1000000);
    CHECK(x_fails(d, "INSERT INTO samsa_outbox (id, topic, key, payload) VALUES (7, 't', 'e', '6')",
                  "GENERATED ALWAYS"));
    CHECK(x_fails(d, "INSERT INTO samsa_outbox (id, topic, key, payload) VALUES (-1, 't', 'e', '6')",
                  "GENERATED ALWAYS"));
    CHECK_EQ_I64(q1(d, "SELECT count(*) FROM samsa_outbox"), 5);
    /* libsamsa still enqueues (it never names id) */
    int64_t id = enqueue(d, "t", "f", "7");
    CHECK(id > 1000001);
    PQfinish(d);
    x(c, "DROP DATABASE samsa_ids");
    PQfinish(c);
}

/* ---- topic incarnations ---------------------------------------------------------- */

static void test_incarnation_privileges(void)
{
    TEST_SECTION("incarnations: the relay's privileges of docs/outbox.md are enough for"
                 " all of it (the behaviour: test_store_contract.c)");
    PGconn *c = app();
    char err[512];
    uint64_t owned = 0;
    int64_t ids[1], changed = -1, now = sm_wall_ms();
    int32_t cur = -1;
    bool started = false;
    sm_row *rows = NULL;
    int n = 0;
    sm_tp *tps = NULL;
    int ntp = 0;
    /* the relay's privileges of docs/outbox.md are enough for all of it */
    x(c, "DROP ROLE IF EXISTS inc_relay");
    x(c, "CREATE ROLE inc_relay LOGIN");
    x(c, "GRANT SELECT ON samsa_schema_version TO inc_relay;"
         " GRANT SELECT, UPDATE, DELETE ON samsa_outbox TO inc_relay;"
         " GRANT SELECT, INSERT ON samsa_outbox_archive TO inc_relay;"
         " GRANT SELECT, INSERT, UPDATE, DELETE ON samsa_relay_heartbeat TO inc_relay;"
         " GRANT SELECT, INSERT, UPDATE ON samsa_topic_incarnation TO inc_relay");
    const char *at = strchr(pg_url, '@');
    char url[600];
    REQUIRE(at && !strncmp(pg_url, "postgresql://", 13));
    snprintf(url, sizeof url, "postgresql://inc_relay%s", at);
    sm_store *r = NULL;
    REQUIRE(sm_store_open(&r, url, err, sizeof err) == SM_OK);
    CHECK(sm_store_balance(r, "inc-role", &owned, err, sizeof err) == SM_OK && owned);
    ids[0] = enqueue(c, "inc", "a", "v");
    CHECK(sm_store_claim(r, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK && n == 1);
    sm_rows_free(rows, n);
    sm_published p3 = {ids[0], 0, 3, now, 0};
    CHECK(sm_store_mark_published(r, &p3, 1, err, sizeof err) == SM_OK);
    CHECK(sm_store_published_partitions(r, &tps, &ntp, err, sizeof err) == SM_OK && ntp == 1);
    sm_tps_free(tps, ntp);
    CHECK(sm_store_complete(r, "inc", 0, 0, 0, 3, &changed, err, sizeof err) == SM_OK);
    CHECK(sm_store_new_incarnation(r, "inc", 0, "role: inserted", &cur, &started, err,
                                   sizeof err) == SM_OK && started && cur == 1);
    CHECK(sm_store_new_incarnation(r, "inc", 1, "role: updated", &cur, &started, err,
                                   sizeof err) == SM_OK && started && cur == 2);
    CHECK(sm_store_requeue_incarnations(r, "inc", "role", &changed, err, sizeof err) == SM_OK);
    CHECK(changed == 1);
    sm_store_close(r);
    x(c, "DELETE FROM samsa_outbox");
    x(c, "DELETE FROM samsa_topic_incarnation");
    x(c, "DELETE FROM samsa_relay_heartbeat WHERE relay_id = 'inc-role'");
    x(c, "REVOKE ALL ON samsa_schema_version, samsa_outbox, samsa_outbox_archive,"
         " samsa_relay_heartbeat, samsa_topic_incarnation FROM inc_relay");
    x(c, "DROP ROLE inc_relay");
    PQfinish(c);
}

/* ---- enqueue ------------------------------------------------------------------- */

static void test_enqueue(void)
{
    TEST_SECTION("enqueue: the key's slot, a database error, lost prepared statement (the"
                 " rest: test_store_contract.c)");
    PGconn *c = app();
    char err[512], id[SAMSA_EVENT_ID_SIZE], sql[1024];
    samsa_event ev = {.topic = "orders", .key = "order-1", .payload = "v", .payload_len = 1};
    x(c, "BEGIN");
    CHECK(samsa_outbox_enqueue_pg(c, &ev, id, err, sizeof err) == 0);
    x(c, "COMMIT");
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM samsa_outbox WHERE event_id = '%s'"
             " AND slot = hashtext('order-1') & 63", id);
    CHECK_EQ_I64(q1(c, sql), 1);
    samsa_event ev2 = {.topic = "orders", .event_id = "5A1D7C9E-0B3F-4D2A-9C8E-1F2A3B4C5D6E"};
    x(c, "BEGIN");
    CHECK(samsa_outbox_enqueue_pg(c, &ev2, id, err, sizeof err) == 0);
    x(c, "COMMIT");
    CHECK_EQ_I64(q1(c, "SELECT count(*) FROM samsa_outbox WHERE event_id ="
                       " '5a1d7c9e-0b3f-4d2a-9c8e-1f2a3b4c5d6e' AND key IS NULL AND slot = 0"),
                 1);
    int64_t n0 = q1(c, "SELECT count(*) FROM samsa_outbox");

    /* a database error fails the caller's transaction, named */
    samsa_event dup = ev2; /* same event id is fine (not unique), but a bad key encoding is not */
    const char badutf8[] = {'k', (char)0xff, 0};
    dup.key = badutf8;
    x(c, "BEGIN");
    CHECK(samsa_outbox_enqueue_pg(c, &dup, NULL, err, sizeof err) == SAMSA_ERR);
    CHECK(strstr(err, ": enqueue: ERROR 22021") != NULL);
    CHECK(samsa_outbox_enqueue_pg(c, &ev, NULL, err, sizeof err) == SAMSA_EINVAL);
    CHECK(strstr(err, "already failed") != NULL);
    x(c, "ROLLBACK");

    /* the prepared statement dropped behind the library's back: one failure
     * that says so, then it works again */
    x(c, "DEALLOCATE ALL");
    x(c, "BEGIN");
    CHECK(samsa_outbox_enqueue_pg(c, &ev, NULL, err, sizeof err) == SAMSA_ERR);
    CHECK(strstr(err, "prepared statement is gone") != NULL);
    x(c, "ROLLBACK");
    x(c, "BEGIN");
    CHECK(samsa_outbox_enqueue_pg(c, &ev, NULL, err, sizeof err) == 0);
    x(c, "COMMIT");
    /* PQreset: a new session, prepared again without a failure */
    PQreset(c);
    REQUIRE(PQstatus(c) == CONNECTION_OK);
    x(c, "BEGIN");
    CHECK(samsa_outbox_enqueue_pg(c, &ev, NULL, err, sizeof err) == 0);
    x(c, "COMMIT");
    CHECK_EQ_I64(q1(c, "SELECT count(*) FROM samsa_outbox"), n0 + 2);
    x(c, "TRUNCATE samsa_outbox");
    PQfinish(c);
}

/* ---- claim ------------------------------------------------------------------------ */

static void test_claim(void)
{
    TEST_SECTION("claim: nothing before the first balance; a lower id committed later is claimed"
                 " (the rest: test_store_contract.c)");
    PGconn *a = app(), *b = app();
    sm_store *s = store_open();
    char err[512];
    sm_row *rows = NULL;
    int n = -1;
    uint64_t owned = 0;
    /* no balance yet: the store owns nothing and claims nothing */
    enqueue(b, "t", "k0", "p");
    CHECK(sm_store_owned(s) == 0);
    CHECK(sm_store_claim(s, ~(uint64_t)0, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 0);
    CHECK(sm_store_balance(s, "relay-a", &owned, err, sizeof err) == SM_OK);
    CHECK(owned == ~(uint64_t)0);
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 1);
    sm_rows_free(rows, n);
    x(a, "TRUNCATE samsa_outbox");

    /* a takes id 1 first, b takes id 2 and commits first */
    samsa_event ev = {.topic = "t", .key = "k1", .payload = "one", .payload_len = 3};
    x(a, "BEGIN");
    CHECK(samsa_outbox_enqueue_pg(a, &ev, NULL, err, sizeof err) == 0);
    int64_t id1 = q1(a, "SELECT currval('samsa_outbox_id_seq')");
    int64_t id2 = enqueue(b, "t", "k2", "two");
    CHECK(id1 < id2);
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 1 && rows[0].id == id2);
    sm_rows_free(rows, n);
    x(a, "COMMIT");
    skip_ctx sc = {.inflight = {id2}, .ninflight = 1};
    CHECK(sm_store_claim(s, owned, 10, skip_fn, &sc, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 1 && rows[0].id == id1);
    sm_rows_free(rows, n);
    x(a, "TRUNCATE samsa_outbox");
    sm_store_close(s);
    PQfinish(a);
    PQfinish(b);
}

/* One claim; the ids it returned (at most 8), their count in *n. */
static int claim_ids(sm_store *s, uint64_t owned, skip_ctx *sc, int64_t *ids, int *n)
{
    sm_row *rows = NULL;
    char err[512];
    *n = 0;
    if (sm_store_claim(s, owned, 8, sc ? skip_fn : NULL, sc, &rows, n, err, sizeof err) != SM_OK) {
        fprintf(stderr, "claim: %s\n", err);
        return -1;
    }
    for (int i = 0; i < *n; i++)
        ids[i] = rows[i].id;
    sm_rows_free(rows, *n);
    return 0;
}

static void publish_ids(sm_store *s, const int64_t *ids, int n)
{
    char err[512];
    for (int i = 0; i < n; i++) {
        sm_published p = {ids[i], 0, ids[i], sm_wall_ms(), 0};
        CHECK(sm_store_mark_published(s, &p, 1, err, sizeof err) == SM_OK);
    }
}

/* The claim cursor (docs/outbox.md, "Capture: the claim cursor"): its floor
 * rises only over ids whose transactions have all ended (the snapshot's
 * xmin passed the checkpoint). A row inserted first and committed after
 * later rows were claimed must come with the first claim after its commit,
 * not only with the periodic claim from the lowest INIT row (every 2 s).
 * Which claim is which is seen, not timed: a canary row the relay "has in
 * flight" (skipped) sits below the floor; a claim that returns it once it is
 * no longer skipped started from the lowest INIT row, and the round is
 * repeated. */
static void test_claim_cursor(void)
{
    TEST_SECTION("claim cursor: a row committed after higher ids were claimed comes with the next claim");
    PGconn *a = app(), *b = app();
    char err[512];
    bool judged = false;
    for (int round = 1; round <= 5 && !judged; round++) {
        x(b, "TRUNCATE samsa_outbox");
        sm_store *s = store_open();
        sm_store_set_claim_cursor(s, true);
        uint64_t owned = 0;
        REQUIRE(sm_store_balance(s, "relay-cursor", &owned, err, sizeof err) == SM_OK);
        int64_t ids[8];
        int n = 0;
        int64_t canary = enqueue(b, "t", "canary", "0");
        skip_ctx sc = {.inflight = {canary}, .ninflight = 1};
        /* a few claims with nothing open: the floor passes the canary */
        for (int i = 0; i < 4; i++) {
            REQUIRE(claim_ids(s, owned, &sc, ids, &n) == 0);
            CHECK(n == 0);
        }
        /* a takes the next id and keeps its transaction open */
        samsa_event ev = {.topic = "t", .key = "late", .payload = "late", .payload_len = 4};
        x(a, "BEGIN");
        REQUIRE(samsa_outbox_enqueue_pg(a, &ev, NULL, err, sizeof err) == 0);
        int64_t late = q1(a, "SELECT currval('samsa_outbox_id_seq')");
        /* b commits higher ids, each claimed and published, then more claims */
        for (int i = 0; i < 3; i++) {
            int64_t id = enqueue(b, "t", i % 2 ? "k1" : "k2", "x");
            CHECK(id > late);
            REQUIRE(claim_ids(s, owned, &sc, ids, &n) == 0);
            CHECK(n == 1 && ids[0] == id);
            publish_ids(s, ids, n);
        }
        for (int i = 0; i < 4; i++) {
            REQUIRE(claim_ids(s, owned, &sc, ids, &n) == 0);
            CHECK(n == 0); /* the open transaction's row is not visible */
        }
        x(a, "COMMIT");
        REQUIRE(claim_ids(s, owned, NULL, ids, &n) == 0);
        bool full = false;
        for (int i = 0; i < n; i++)
            full = full || ids[i] == canary;
        if (full) {
            printf("   round %d: that claim started from the lowest INIT row (the canary came);"
                   " again\n", round);
        } else {
            judged = true;
            CHECK(n == 1 && ids[0] == late);
            printf("   round %d: the row committed late (id %lld) came with the next claim: %s\n",
                   round, (long long)late, n == 1 && ids[0] == late ? "yes" : "NO");
        }
        sm_store_close(s);
    }
    CHECK(judged); /* five claims in a row from the lowest INIT row: nothing was checked */
    x(b, "TRUNCATE samsa_outbox");
    PQfinish(a);
    PQfinish(b);
}

/* skip() runs between the claim's pages: the first call commits the open
 * transaction, so a claim whose pages each took a snapshot of their own
 * would see its later row (above page 1) but not its earlier one. */
typedef struct commit_ctx {
    PGconn *open; /* its transaction commits at the first skip() */
    const char *skip_key;
} commit_ctx;

static bool skip_commit(int64_t id, const char *key, const char *topic, void *arg)
{
    (void)topic;
    (void)id;
    commit_ctx *c = arg;
    if (c->open) {
        x(c->open, "COMMIT");
        c->open = NULL;
    }
    return key && !strcmp(key, c->skip_key);
}

static void test_claim_snapshot(void)
{
    TEST_SECTION("claim: every page reads one snapshot (a transaction committing between pages"
                 " is seen whole or not at all)");
    PGconn *a = app(), *t = app();
    sm_store *s = store_open();
    char err[512];
    sm_row *rows = NULL;
    int n = -1;
    uint64_t owned = 0;
    CHECK(sm_store_balance(s, "relay-snap", &owned, err, sizeof err) == SM_OK);
    /* T's first event of key k, then 300 committed rows the relay skips
     * (in flight), then T's second event: T straddles the first page */
    x(t, "BEGIN");
    x(t, "INSERT INTO samsa_outbox (topic, key, payload) VALUES ('t', 'k', '1')");
    int64_t first = q1(t, "SELECT currval('samsa_outbox_id_seq')");
    x(a, "INSERT INTO samsa_outbox (topic, key, payload)"
         " SELECT 't', 'busy', 'b' FROM generate_series(1, 300)");
    x(t, "INSERT INTO samsa_outbox (topic, key, payload) VALUES ('t', 'k', '2')");
    int64_t second = q1(t, "SELECT currval('samsa_outbox_id_seq')");
    commit_ctx cc = {.open = t, .skip_key = "busy"};
    CHECK(sm_store_claim(s, owned, 10, skip_commit, &cc, &rows, &n, err, sizeof err) == SM_OK);
    bool second_alone = false;
    for (int i = 0; i < n; i++)
        if (rows[i].id == second && (i == 0 || rows[i - 1].id != first))
            second_alone = true;
    CHECK(!second_alone);
    if (second_alone)
        fprintf(stderr, "  the claim returned row %lld (key k, event 2) without row %lld"
                " (event 1): a consumer gets event 2 first\n", (long long)second,
                (long long)first);
    CHECK(n == 0); /* T committed after the claim's snapshot */
    sm_rows_free(rows, n);
    cc.open = NULL;
    CHECK(sm_store_claim(s, owned, 10, skip_commit, &cc, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 2 && rows[0].id == first && rows[1].id == second);
    sm_rows_free(rows, n);
    /* the claim's transaction is over: the session is idle */
    CHECK(q1(a, "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'"
                " AND datname = current_database()") == 0);
    x(a, "TRUNCATE samsa_outbox");
    sm_store_close(s);
    PQfinish(a);
    PQfinish(t);
}

/* ---- marks ------------------------------------------------------------------------ */

static void test_held_index(void)
{
    TEST_SECTION("holds: the probe goes through the small index of failed rows (the holds"
                 " themselves: test_store_contract.c)");
    PGconn *c = app();
    PGresult *r = PQexec(c, "EXPLAIN SELECT 1 FROM samsa_outbox e WHERE e.key = 'a' AND e.id < 5"
                            " AND (e.status = 'DEAD' OR (e.status = 'INIT' AND e.attempts > 0))");
    bool uses = false;
    for (int i = 0; i < PQntuples(r); i++)
        uses = uses || strstr(PQgetvalue(r, i, 0), "samsa_outbox_held") != NULL;
    PQclear(r);
    CHECK(uses);
    PQfinish(c);
}

/* Backends exit a moment after PQfinish: wait for their locks to go. */
static bool no_advisory_locks(PGconn *c)
{
    for (int i = 0; i < 100; i++) {
        if (q1(c, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0)
            return true;
        usleep(20000);
    }
    return false;
}

/* ---- wake-up ---------------------------------------------------------------------- */

/* Notifications on samsa_outbox a plain listener connection got from every
 * transaction committed before the call. l (LISTENing on samsa_test_fence
 * too) sends a NOTIFY on the fence channel and reads until it comes back:
 * PostgreSQL delivers notifications in commit order, so whatever an
 * earlier commit sent has arrived by then, and 0 is an answer, not a guess
 * after a pause. */
static int heard(PGconn *l)
{
    int n = 0;
    bool fence = false;
    x(l, "NOTIFY samsa_test_fence");
    int64_t deadline = sm_mono_ms() + 30000;
    for (;;) {
        PQconsumeInput(l);
        PGnotify *nt;
        while ((nt = PQnotifies(l)) != NULL) {
            if (!strcmp(nt->relname, "samsa_test_fence"))
                fence = true;
            else if (!fence)
                n++;
            PQfreemem(nt);
        }
        if (fence)
            return n;
        REQUIRE(sm_mono_ms() < deadline); /* our own NOTIFY never came back */
        struct pollfd p = {PQsocket(l), POLLIN, 0};
        poll(&p, 1, 100);
    }
}

static void test_wait(void)
{
    TEST_SECTION("wait: NOTIFY only while a relay waits, arming covers open transactions");
    PGconn *c = app(), *l = app(), *open_txn = app();
    x(l, "LISTEN samsa_outbox");
    x(l, "LISTEN samsa_test_fence");
    sm_store *s = store_open();
    char err[512];
    uint64_t owned;
    sm_row *rows;
    int n;
    CHECK(sm_store_balance(s, "relay-a", &owned, err, sizeof err) == SM_OK);

    /* nobody waits: inserts do not notify (no commit serialization) */
    enqueue(c, "t", "k", "v");
    CHECK_EQ_I64(heard(l), 0);
    /* the relay arms: SM_OK at once (claim again), then inserts notify */
    CHECK(sm_store_wait(s, 0, err, sizeof err) == SM_OK);
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 1); /* the row from before arming; this claim disarms */
    sm_published p = {rows[0].id, 0, 0, sm_wall_ms(), 0};
    CHECK(sm_store_mark_published(s, &p, 1, err, sizeof err) == SM_OK);
    sm_rows_free(rows, n);
    enqueue(c, "t", "k", "v");
    CHECK_EQ_I64(heard(l), 0); /* disarmed by the claim that returned rows */
    CHECK(sm_store_wait(s, 0, err, sizeof err) == SM_OK); /* arms */
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 1);
    p.id = rows[0].id;
    CHECK(sm_store_mark_published(s, &p, 1, err, sizeof err) == SM_OK);
    sm_rows_free(rows, n);
    CHECK(sm_store_wait(s, 0, err, sizeof err) == SM_OK); /* arms again */
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 0); /* nothing: stays armed */
    /* timing is measured, not bounded above (bench/ is for that): a wait
     * that returns SM_OK was woken, SM_AGAIN is its timeout */
    int64_t t0 = sm_mono_ms();
    CHECK(sm_store_wait(s, 200, err, sizeof err) == SM_AGAIN);
    int64_t took = sm_mono_ms() - t0;
    CHECK(took >= 190); /* not before its timeout */
    printf("   MEASURED: wait(200 ms) with nothing committed returned after %" PRId64 " ms\n", took);
    enqueue(c, "t", "k", "v");
    CHECK_EQ_I64(heard(l), 1);
    t0 = sm_mono_ms();
    CHECK(sm_store_wait(s, 30000, err, sizeof err) == SM_OK); /* woken, not timed out */
    printf("   MEASURED: wait(30 s) after a NOTIFY returned after %" PRId64 " ms\n", sm_mono_ms() - t0);
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 1);
    p.id = rows[0].id;
    CHECK(sm_store_mark_published(s, &p, 1, err, sizeof err) == SM_OK);
    sm_rows_free(rows, n);

    /* a transaction that inserted without notifying is still open: arming
     * queues behind it; meanwhile other commits notify; when it commits, the
     * lock is granted and wait says so */
    samsa_event ev = {.topic = "t", .key = "late", .payload = "x", .payload_len = 1};
    x(open_txn, "BEGIN");
    CHECK(samsa_outbox_enqueue_pg(open_txn, &ev, NULL, err, sizeof err) == 0);
    CHECK(sm_store_wait(s, 0, err, sizeof err) == SM_AGAIN); /* queued, not armed */
    CHECK(sm_store_wait(s, 100, err, sizeof err) == SM_AGAIN);
    enqueue(c, "t", "other", "v");
    CHECK_EQ_I64(heard(l), 1); /* behind a queued request, commits notify */
    CHECK(sm_store_wait(s, 1000, err, sizeof err) == SM_OK);
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 1 && !strcmp(rows[0].key, "other"));
    p.id = rows[0].id;
    CHECK(sm_store_mark_published(s, &p, 1, err, sizeof err) == SM_OK);
    sm_rows_free(rows, n); /* rows: disarmed (the queued request cancelled) */
    CHECK(sm_store_wait(s, 0, err, sizeof err) == SM_AGAIN); /* queued again */
    t0 = sm_mono_ms();
    x(open_txn, "COMMIT");
    CHECK(sm_store_wait(s, 30000, err, sizeof err) == SM_OK); /* the lock granted, not timed out */
    printf("   MEASURED: wait(30 s) after the open transaction committed returned after %" PRId64
           " ms\n", sm_mono_ms() - t0);
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 1 && !strcmp(rows[0].key, "late"));
    sm_rows_free(rows, n);
    (void)heard(l);

    /* armed, a NOTIFY wakes it (a late notification may come first: wait
     * returns SM_OK for it without arming, then arms on the next call) */
    bool armed = false;
    for (int i = 0; i < 10 && !armed; i++) {
        CHECK(sm_store_wait(s, 0, err, sizeof err) == SM_OK);
        armed = q1(c, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                      " AND objid = 101 AND mode = 'ExclusiveLock' AND granted") == 1;
    }
    CHECK(armed);
    enqueue(c, "t", "k", "v");
    CHECK_EQ_I64(heard(l), 1);
    /* the relay's own connection gets the NOTIFY in its time: SM_OK is the
     * wake-up, SM_AGAIN only after 30 s */
    CHECK(sm_store_wait(s, 30000, err, sizeof err) == SM_OK);
    x(c, "TRUNCATE samsa_outbox");
    sm_store_close(s);
    CHECK(no_advisory_locks(c));
    /* a closed relay no longer holds the wake lock: inserts stop notifying */
    enqueue(c, "t", "k", "v");
    CHECK_EQ_I64(heard(l), 0);
    x(c, "TRUNCATE samsa_outbox");
    PQfinish(open_txn);
    PQfinish(l);
    PQfinish(c);
}

/* ---- balancing ---------------------------------------------------------------------- */

static void test_balance(void)
{
    TEST_SECTION("balance: two relays split the slots, hand over gracefully, take over");
    PGconn *c = app();
    char err[512];
    sm_store *a = store_open(), *b = store_open();
    uint64_t oa = 0, ob = 0;
    CHECK(sm_store_balance(a, "relay-a", &oa, err, sizeof err) == SM_OK);
    CHECK(oa == ~(uint64_t)0);
    CHECK(sm_store_balance(b, "relay-b", &ob, err, sizeof err) == SM_OK);
    CHECK(ob == 0); /* everything is a's until a gives some up */
    CHECK(sm_store_balance(a, "relay-a", &oa, err, sizeof err) == SM_OK);
    CHECK(__builtin_popcountll(oa) == 32);
    CHECK(sm_store_balance(b, "relay-b", &ob, err, sizeof err) == SM_OK);
    CHECK(__builtin_popcountll(ob) == 32 && (oa & ob) == 0 && (oa | ob) == ~(uint64_t)0);
    CHECK(sm_store_balance(a, "relay-a", &oa, err, sizeof err) == SM_OK);
    CHECK(__builtin_popcountll(oa) == 32);
    CHECK_EQ_I64(q1(c, "SELECT count(*) FROM samsa_relay_heartbeat"), 2);
    CHECK_EQ_I64(q1(c, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                       " AND classid = 1396788563 AND objid < 64 AND granted"),
                 64);

    /* each claims only rows of its own slots */
    x(c, "INSERT INTO samsa_outbox (topic, key, payload) SELECT 't', 'key-' || i, 'v'"
         " FROM generate_series(1, 400) i");
    sm_row *rows;
    int n, total = 0;
    bool own = true;
    CHECK(sm_store_claim(a, oa, 1000, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    for (int i = 0; i < n; i++)
        own = own && (oa >> rows[i].slot & 1);
    total += n;
    sm_rows_free(rows, n);
    CHECK(sm_store_claim(b, ob, 1000, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    for (int i = 0; i < n; i++)
        own = own && (ob >> rows[i].slot & 1);
    total += n;
    sm_rows_free(rows, n);
    CHECK(own && total == 400);
    /* passing slots it does not hold claims nothing of them */
    CHECK(sm_store_claim(a, ob, 1000, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 0);
    x(c, "TRUNCATE samsa_outbox");

    /* b leaves: a takes everything at its next balance */
    sm_store_close(b);
    CHECK(sm_store_balance(a, "relay-a", &oa, err, sizeof err) == SM_OK);
    CHECK(oa == ~(uint64_t)0);
    CHECK_EQ_I64(q1(c, "SELECT count(*) FROM samsa_relay_heartbeat"), 1);

    /* a new b2: a gives up half, idle slots first, released at once */
    sm_store *b2 = store_open();
    CHECK(sm_store_balance(b2, "relay-b2", &ob, err, sizeof err) == SM_OK && ob == 0);
    const uint64_t top = 0xffffffff00000000ull;
    CHECK(sm_store_balance_busy(a, "relay-a", top, &oa, err, sizeof err) == SM_OK);
    CHECK(oa == top);
    CHECK(sm_store_balance(b2, "relay-b2", &ob, err, sizeof err) == SM_OK);
    CHECK(ob == ~top);
    /* a third relay: a must give up 10 slots, all busy: they leave a's
     * owned set at once but stay locked until a reports them idle */
    sm_store *c3 = store_open();
    uint64_t oc = 0;
    CHECK(sm_store_balance(c3, "relay-c", &oc, err, sizeof err) == SM_OK && oc == 0);
    CHECK(sm_store_balance_busy(a, "relay-a", top, &oa, err, sizeof err) == SM_OK);
    CHECK(__builtin_popcountll(oa) == 22 && (oa & ~top) == 0); /* ceil(64 / 3) */
    CHECK(sm_store_owned(a) == oa);
    CHECK(sm_store_balance(c3, "relay-c", &oc, err, sizeof err) == SM_OK);
    CHECK(oc == 0); /* a's 10 given-up slots are busy: still locked */
    CHECK(sm_store_balance_busy(a, "relay-a", 0, &oa, err, sizeof err) == SM_OK);
    CHECK(sm_store_balance(b2, "relay-b2", &ob, err, sizeof err) == SM_OK);
    CHECK(sm_store_balance(c3, "relay-c", &oc, err, sizeof err) == SM_OK);
    CHECK(sm_store_balance(c3, "relay-c", &oc, err, sizeof err) == SM_OK);
    CHECK(__builtin_popcountll(oa) == 22 && __builtin_popcountll(ob) == 22);
    CHECK(__builtin_popcountll(oc) == 20);
    CHECK((oa & ob) == 0 && (oa & oc) == 0 && (ob & oc) == 0);
    CHECK((oa | ob | oc) == ~(uint64_t)0);

    /* c3's connection dies (kill -9 of its relay looks the same to the
     * server): the others count it out at once and take its slots */
    /* with a timeout, pg_terminate_backend waits for the backend to be gone
     * (and its locks with it), PostgreSQL 14 on */
    x(c, "SELECT pg_terminate_backend(pid, 30000) FROM samsa_relay_heartbeat WHERE relay_id = 'relay-c'");
    CHECK(sm_store_balance(a, "relay-a", &oa, err, sizeof err) == SM_OK);
    CHECK(sm_store_balance(b2, "relay-b2", &ob, err, sizeof err) == SM_OK);
    CHECK(__builtin_popcountll(oa) == 32 && __builtin_popcountll(ob) == 32);
    CHECK((oa | ob) == ~(uint64_t)0);
    /* c3 learns it on its next call: SM_EIO, named, slots gone */
    sm_row *r3;
    int n3;
    int rc = sm_store_claim(c3, oc, 10, NULL, NULL, &r3, &n3, err, sizeof err);
    CHECK(rc == SM_EIO);
    CHECK(strstr(err, ": claim: ") && strstr(err, "connection lost") &&
          strstr(err, "slots released"));
    CHECK(sm_store_owned(c3) == 0);
    /* the next call reconnects; everything is owned by a and b2 */
    CHECK(sm_store_balance(c3, "relay-c", &oc, err, sizeof err) == SM_OK);
    CHECK(oc == 0);
    sm_store_close(c3);
    sm_store_close(b2);
    sm_store_close(a);
    CHECK_EQ_I64(q1(c, "SELECT count(*) FROM samsa_relay_heartbeat"), 0);
    CHECK(no_advisory_locks(c));
    PQfinish(c);
}

static void test_lost_connection(void)
{
    TEST_SECTION("a lost connection: the call that sees it fails (SM_EIO), the next reconnects");
    PGconn *c = app();
    char err[512];
    sm_store *s = store_open();
    uint64_t owned;
    CHECK(sm_store_balance(s, "relay-a", &owned, err, sizeof err) == SM_OK);
    enqueue(c, "t", "k", "v");
    x(c, "SELECT pg_terminate_backend(pid, 30000) FROM pg_stat_activity"
         " WHERE application_name = 'samsa-relay'");
    sm_row *rows;
    int n;
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_EIO);
    char name[300], want[340];
    snprintf(want, sizeof want, "%s: claim: ", pg_samsa_name(pg_url, name, sizeof name));
    CHECK(strstr(err, want) != NULL);
    CHECK(sm_store_owned(s) == 0);
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 0); /* reconnected, but owns nothing until it balances */
    CHECK(sm_store_balance(s, "relay-a", &owned, err, sizeof err) == SM_OK);
    CHECK(owned == ~(uint64_t)0);
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 1);
    sm_rows_free(rows, n);
    /* the wake connection reconnects too */
    int rc1 = sm_store_wait(s, 0, err, sizeof err);
    int rc2 = sm_store_wait(s, 0, err, sizeof err);
    CHECK(rc1 == SM_EIO && rc2 == SM_OK);
    x(c, "TRUNCATE samsa_outbox");
    sm_store_close(s);
    PQfinish(c);
}

/* ---- inbox, names ------------------------------------------------------------------- */

/* libsamsa's calls on a connection in every state but the right one, and a
 * migration that fails: rolled back whole. */
static void test_library_errors(void)
{
    TEST_SECTION("libsamsa on PostgreSQL: no connection, a busy one, a lost one, no table, a failed migration");
    char err[512], id[SAMSA_EVENT_ID_SIZE];
    samsa_event ev = {.topic = "t", .key = "k", .payload = "p", .payload_len = 1};
    CHECK(samsa_outbox_enqueue_pg(NULL, &ev, id, err, sizeof err) == SAMSA_EINVAL);
    CHECK(strstr(err, "postgresql: enqueue: no connection") != NULL);
    CHECK(samsa_inbox_begin_pg(NULL, "c", "e", err, sizeof err) == SAMSA_EINVAL);
    CHECK(strstr(err, "postgresql: inbox: no connection") != NULL);
    CHECK(samsa_schema_apply_pg(NULL, err, sizeof err) == SAMSA_EINVAL);
    CHECK(strstr(err, "postgresql: migrate: no connection") != NULL);
    int v;
    CHECK(samsa_schema_version_pg(NULL, &v, err, sizeof err) == SAMSA_EINVAL);
    CHECK(strstr(err, "postgresql: schema version: no connection") != NULL);

    PGconn *c = app();
    x(c, "BEGIN");
    char longc[300];
    memset(longc, 'c', 250);
    longc[250] = 0;
    CHECK(samsa_inbox_begin_pg(c, longc, "e", err, sizeof err) == SAMSA_EINVAL);
    CHECK(strstr(err, "consumer must be 1..200 bytes") != NULL);
    x(c, "ROLLBACK");
    /* a query sent and not read yet: the connection is busy */
    REQUIRE(PQsendQuery(c, "SELECT pg_sleep(0.2)") == 1);
    CHECK(samsa_outbox_enqueue_pg(c, &ev, id, err, sizeof err) == SAMSA_EINVAL);
    CHECK(strstr(err, "enqueue: the connection is busy with a query") != NULL);
    PGresult *r;
    while ((r = PQgetResult(c)) != NULL)
        PQclear(r);
    /* the server ends the session: the next call finds the connection lost */
    PGconn *admin = app();
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d, 30000)", PQbackendPID(c));
    x(admin, sql);
    r = PQexec(c, "BEGIN"); /* fails: the server is gone */
    PQclear(r);
    CHECK(PQstatus(c) == CONNECTION_BAD);
    CHECK(samsa_outbox_enqueue_pg(c, &ev, id, err, sizeof err) == SAMSA_EIO);
    CHECK(strstr(err, "enqueue: the connection is lost") != NULL);
    PQfinish(c);

    /* a database whose application has a table of its own in the way */
    x(admin, "CREATE DATABASE samsa_conflict");
    PGconn *d = connect_db("samsa_conflict");
    x(d, "CREATE TABLE samsa_outbox (something text)");
    CHECK(samsa_schema_apply_pg(d, err, sizeof err) != 0);
    CHECK(strstr(err, "migrate to version 1") != NULL);
    CHECK(PQtransactionStatus(d) == PQTRANS_IDLE); /* rolled back, not left open */
    CHECK(samsa_schema_version_pg(d, &v, err, sizeof err) == 0 && v == 0);
    CHECK_EQ_I64(q1(d, "SELECT count(*) FROM pg_tables WHERE tablename = 'samsa_schema_version'"), 0);
    /* the inbox without its table, inside a transaction */
    x(d, "BEGIN");
    CHECK(samsa_inbox_begin_pg(d, "c", "e-1", err, sizeof err) < 0);
    CHECK(strstr(err, "inbox") && strstr(err, "samsa_inbox"));
    x(d, "ROLLBACK");
    PQfinish(d);
    x(admin, "DROP DATABASE samsa_conflict");
    PQfinish(admin);
}

static void test_names(void)
{
    TEST_SECTION("messages name the database without its password");
    char url[300], err[512];
    const char *at = strchr(pg_url, '@');
    REQUIRE(at);
    /* a wrong port: nothing listens on 1 */
    snprintf(url, sizeof url, "postgresql://samsa:hunter2@127.0.0.1:1/samsa?connect_timeout=2");
    sm_store *s = NULL;
    CHECK(sm_store_open(&s, url, err, sizeof err) == SM_EIO && !s);
    CHECK(strstr(err, "postgresql://samsa@127.0.0.1:1/samsa: connect:") != NULL);
    CHECK(strstr(err, "hunter2") == NULL);
    const char *slash = strchr(at, '/');
    REQUIRE(slash);
    const char *query = strchr(slash, '?'); /* ?host=SOCKETDIR when over a Unix socket */
    snprintf(url, sizeof url, "postgresql://samsa:hunter2@%.*s/nosuchdb%s", (int)(slash - at - 1),
             at + 1, query ? query : "");
    CHECK(sm_store_open(&s, url, err, sizeof err) != SM_OK && !s);
    CHECK(strstr(err, "nosuchdb") != NULL && strstr(err, "hunter2") == NULL);
}

/* ---- throughput ----------------------------------------------------------------------- */

typedef struct idset {
    int64_t *v;
    size_t cap; /* power of two */
} idset;

static bool idset_has(const idset *s, int64_t id)
{
    for (size_t i = (size_t)id * 0x9e3779b97f4a7c15ull & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->v[i] == id)
            return true;
        if (s->v[i] == 0)
            return false;
    }
}

static bool skip_inflight(int64_t id, const char *key, const char *topic, void *arg)
{
    (void)topic;
    (void)key;
    return idset_has(arg, id);
}

static void idset_add(idset *s, int64_t id)
{
    for (size_t i = (size_t)id * 0x9e3779b97f4a7c15ull & (s->cap - 1);; i = (i + 1) & (s->cap - 1))
        if (s->v[i] == 0) {
            s->v[i] = id;
            return;
        }
}

typedef struct batch {
    sm_published *p;
    int n;
} batch;

/* Claims batches of B rows with D batches in flight (their rows skipped by
 * skip(), as the relay does), marking the oldest batch PUBLISHED in one
 * statement once more than D are out. Returns rows per second. */
static int64_t claim_us, mark_us;

static double run_pipeline(sm_store *s, PGconn *c, int rows_total, int B, int D)
{
    char err[512];
    uint64_t owned = sm_store_owned(s);
    idset in = {calloc(1 << 18, sizeof(int64_t)), 1 << 18};
    batch q[16];
    int qh = 0, qn = 0, done = 0;
    REQUIRE(in.v && D < 16);
    int64_t t0 = sm_mono_us();
    for (;;) {
        sm_row *rows;
        int n;
        int64_t t = sm_mono_us();
        REQUIRE(sm_store_claim(s, owned, B, skip_inflight, &in, &rows, &n, err, sizeof err) ==
                SM_OK);
        claim_us += sm_mono_us() - t;
        if (n > 0) {
            sm_published *p = malloc((size_t)n * sizeof *p);
            REQUIRE(p);
            for (int i = 0; i < n; i++) {
                p[i] = (sm_published){rows[i].id, 0, rows[i].id, sm_wall_ms(), 0};
                idset_add(&in, rows[i].id);
            }
            q[(qh + qn) % 16] = (batch){p, n};
            qn++;
        }
        sm_rows_free(rows, n);
        bool popped = false;
        while (qn > D || (n == 0 && qn > 0)) {
            batch *o = &q[qh];
            int64_t t1 = sm_mono_us();
            REQUIRE(sm_store_mark_published(s, o->p, o->n, err, sizeof err) == SM_OK);
            mark_us += sm_mono_us() - t1;
            done += o->n;
            free(o->p);
            qh = (qh + 1) % 16;
            qn--;
            popped = true;
        }
        if (popped) {
            memset(in.v, 0, in.cap * sizeof(int64_t));
            for (int k = 0; k < qn; k++)
                for (int i = 0; i < q[(qh + k) % 16].n; i++)
                    idset_add(&in, q[(qh + k) % 16].p[i].id);
        }
        if (n == 0 && qn == 0 &&
            q1(c, "SELECT count(*) FROM samsa_outbox WHERE status = 'INIT'") == 0)
            break;
    }
    double secs = (double)(sm_mono_us() - t0) / 1e6;
    CHECK(done == rows_total);
    free(in.v);
    return rows_total / secs;
}

static void test_throughput(void)
{
    TEST_SECTION("throughput: claim + mark_published, rows per second");
    const char *env = getenv("SAMSA_BENCH_ROWS");
    int total = env ? atoi(env) : 50000;
    PGconn *c = app();
    char err[512], sql[300];
    sm_store *s = store_open();
    uint64_t owned;
    REQUIRE(sm_store_balance(s, "bench", &owned, err, sizeof err) == SM_OK);
    int shapes[3][2] = {{1000, 0}, {5000, 0}, {2000, 4}};
    for (int k = 0; k < 3; k++) {
        x(c, "TRUNCATE samsa_outbox");
        snprintf(sql, sizeof sql,
                 "INSERT INTO samsa_outbox (topic, key, payload) SELECT 'bench', 'key-' ||"
                 " (i %% 10000), convert_to(repeat('x', 200), 'UTF8')"
                 " FROM generate_series(1, %d) i",
                 total);
        x(c, sql);
        x(c, "VACUUM ANALYZE samsa_outbox");
        claim_us = mark_us = 0;
        double rps = run_pipeline(s, c, total, shapes[k][0], shapes[k][1]);
        printf("   %d rows, batch %d, %d batches in flight (skipped by skip()): %.0f rows/s"
               " (claim %.1f us/row, mark %.1f us/row)\n",
               total, shapes[k][0], shapes[k][1], rps, (double)claim_us / total,
               (double)mark_us / total);
        CHECK(rps > 1000);
        CHECK_EQ_I64(q1(c, "SELECT count(*) FROM samsa_outbox WHERE status = 'PUBLISHED'"),
                     total);
    }
    x(c, "TRUNCATE samsa_outbox");
    sm_store_close(s);
    PQfinish(c);
}

int main(void)
{
    pg_url = getenv("SAMSA_PG_URL");
    if (!pg_url || !*pg_url) {
        return check_skip("test_pg_outbox",
                          "SAMSA_PG_URL not set (run it through tests/integration/pg.py run)");
    }
    test_migrations();
    test_ids();
    test_enqueue();
    test_claim();
    test_claim_cursor();
    test_claim_snapshot();
    test_held_index();
    test_incarnation_privileges();
    test_wait();
    test_balance();
    test_lost_connection();
    test_library_errors();
    test_names();
    test_throughput();
    return check_report("test_pg_outbox");
}
