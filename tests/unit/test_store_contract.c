/* test_store_contract.c: what libsamsa and the relay's store promise on
 * either database, one suite run once per backend:
 *
 *   test_store_contract sqlite    a SQLite file in a temporary directory
 *   test_store_contract pg        the PostgreSQL of SAMSA_PG_URL (database
 *                                 samsa; tests/integration/pg.py starts it)
 *
 * ctest runs both (unit.store_contract.sqlite, unit.store_contract.pg).
 * The application's connection is db.h's (one SQL text on both); what only
 * one database does stays in test_outbox_sqlite.c and test_pg_outbox.c.
 * Checked: migrations (fresh, again, refused inside a transaction, through
 * the store), enqueue (defaults, canonical event id, rollback, refused
 * input), claim (by status in id order, skip() not counted, owned slots, due
 * only, the row's fields), marks (published in batches, retry, dead, completion below an
 * offset, partitions, stats), stale requeue and cleanup (delete, archive,
 * batches), holds of a key in the database (a waiting retry, a DEAD row
 * with on.dead=block), the inbox, topic incarnations (claims carry them,
 * marks record them, completion touches only the current one, a new one
 * starts once, rows of other ones re-queued) and the v2 -> v3 upgrade. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "check.h"
#include "outbox_test.h"
#include "outbox/admin.h"
#include "outbox/db.h"
#include "outbox/outbox_int.h"
#include "outbox/samsa.h"
#include "outbox/store.h"
#include "sqlite_journal.h"

#define CHECK_EQ_STR(a, b)                                                                        \
    do {                                                                                          \
        if (strcmp((a), (b)))                                                                     \
            fprintf(stderr, "%s:%d: got '%s', want '%s'\n", __FILE__, __LINE__, (a), (b));     \
        CHECK(!strcmp((a), (b)));                                                                 \
    } while (0)

static bool pg;         /* the backend under test */
static char url[700];   /* the store's and the application's database */
static char dir[64];    /* SQLite: the temporary directory */
static char path[128];  /* SQLite: the file */

static sm_db *app_open(void)
{
    sm_db *db = NULL;
    char err[512];
    if (sm_db_open(&db, url, true, "store-contract", err, sizeof err) != SM_OK) {
        fprintf(stderr, "open %s: %s\n", url, err);
        exit(1);
    }
    return db;
}

static void x(sm_db *db, const char *sql)
{
    char err[512];
    if (sm_db_script(db, "test", sql, err, sizeof err) != SM_OK) {
        fprintf(stderr, "sql failed: %s: %s\n", sql, err);
        exit(1);
    }
}

/* The first column of the first row as an integer (-1: NULL, -999: none). */
static int64_t q1(sm_db *db, const char *sql)
{
    char err[512];
    sm_db_res r;
    if (sm_db_query(db, "test", sql, NULL, 0, &r, err, sizeof err) != SM_OK) {
        fprintf(stderr, "query failed: %s: %s\n", sql, err);
        exit(1);
    }
    int64_t v = sm_db_next(&r) ? sm_db_i64(&r, 0, -1) : -999;
    REQUIRE(sm_db_done(&r, err, sizeof err) == SM_OK);
    return v;
}

/* The library's functions on the application's connection. */
static int schema_apply(sm_db *db, char *err, size_t errlen)
{
    return pg ? samsa_schema_apply_pg(db->pg, err, errlen)
              : samsa_schema_apply_sqlite(db->sq, err, errlen);
}

static int schema_version(sm_db *db, int *v, char *err, size_t errlen)
{
    return pg ? samsa_schema_version_pg(db->pg, v, err, errlen)
              : samsa_schema_version_sqlite(db->sq, v, err, errlen);
}

static int inbox_begin(sm_db *db, const char *consumer, const char *event_id, char *err,
                       size_t errlen)
{
    return pg ? samsa_inbox_begin_pg(db->pg, consumer, event_id, err, errlen)
              : samsa_inbox_begin_sqlite(db->sq, consumer, event_id, err, errlen);
}

static bool is_uuid4(const char *s)
{
    if (strlen(s) != 36 || s[14] != '4' || !strchr("89ab", s[19]))
        return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!strchr("0123456789abcdef", s[i])) {
            return false;
        }
    }
    return true;
}

/* How messages name the database. */
static const char *db_name(char *buf, size_t len)
{
    if (pg)
        return pg_samsa_name(url, buf, len);
    snprintf(buf, len, "sqlite:%s", path);
    return buf;
}

/* A new empty database beside the test's (SQLite: a file in the temporary
 * directory; PostgreSQL: CREATE DATABASE on the same server). */
static sm_db *fresh_db(sm_db *app, const char *name)
{
    sm_db *d = calloc(1, sizeof *d);
    REQUIRE(d != NULL);
    d->owned = true;
    snprintf(d->name, sizeof d->name, "%s", name);
    if (pg) {
        char sql[200];
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
        x(app, sql);
        const char *const keys[] = {"dbname", "dbname", NULL};
        const char *const vals[] = {url, name, NULL};
        d->pg = PQconnectdbParams(keys, vals, 1);
        REQUIRE(PQstatus(d->pg) == CONNECTION_OK);
    } else {
        char p[300];
        snprintf(p, sizeof p, "%s/%s.db", dir, name);
        REQUIRE(sqlite3_open(p, &d->sq) == SQLITE_OK);
    }
    return d;
}

static void fresh_db_drop(sm_db *app, sm_db *d)
{
    char sql[300];
    snprintf(sql, sizeof sql, "DROP DATABASE %s", d->name);
    sm_db_close(d);
    if (pg)
        x(app, sql);
}

static int enqueue_ev(sm_db *db, const samsa_event *ev, char *id, char *err, size_t errlen)
{
    return pg ? samsa_outbox_enqueue_pg(db->pg, ev, id, err, errlen)
              : samsa_outbox_enqueue_sqlite(db->sq, ev, id, err, errlen);
}

/* One event in a transaction of its own; its row id. */
static int64_t enqueue(sm_db *db, const char *topic, const char *key, const char *payload)
{
    samsa_event ev = {.topic = topic, .key = key, .payload = payload,
                      .payload_len = payload ? strlen(payload) : 0};
    char err[512];
    x(db, "BEGIN");
    int rc = pg ? samsa_outbox_enqueue_pg(db->pg, &ev, NULL, err, sizeof err)
                : samsa_outbox_enqueue_sqlite(db->sq, &ev, NULL, err, sizeof err);
    if (rc)
        fprintf(stderr, "enqueue: %s\n", err);
    REQUIRE(rc == 0);
    int64_t id = q1(db, "SELECT max(id) FROM samsa_outbox");
    x(db, "COMMIT");
    return id;
}

static sm_store *store_open(void)
{
    sm_store *s = NULL;
    char err[512];
    if (sm_store_open(&s, url, err, sizeof err) != SM_OK) {
        fprintf(stderr, "store open: %s\n", err);
        exit(1);
    }
    return s;
}

/* PUBLISHED marks on SQLite reach the outbox through the journal's applier
 * thread: waits until it has applied them all. PostgreSQL marks at once. */
static void marks_applied(void)
{
    if (!pg)
        CHECK_EQ_I64(sq_marks_applied(path, 30000), 0);
}

/* ---- migrations ---------------------------------------------------------------- */

static void test_migrations(void)
{
    TEST_SECTION("migrations: fresh, again, inside a transaction refused, through the store");
    sm_db *db = app_open();
    char err[512];
    int v = -1;
    CHECK(schema_version(db, &v, err, sizeof err) == 0 && v == 0);
    CHECK(schema_apply(db, err, sizeof err) == 0);
    CHECK(schema_version(db, &v, err, sizeof err) == 0 && v == SAMSA_SCHEMA_VERSION);
    CHECK(schema_apply(db, err, sizeof err) == 0);
    CHECK_EQ_I64(q1(db, "SELECT count(*) FROM samsa_schema_version"), SAMSA_SCHEMA_VERSION);
    x(db, "BEGIN");
    CHECK(schema_apply(db, err, sizeof err) == SAMSA_EINVAL);
    CHECK(strstr(err, "inside a transaction") != NULL);
    x(db, "ROLLBACK");
    sm_store *s = store_open();
    CHECK(sm_store_is_pg(s) == pg);
    CHECK(sm_store_migrate(s, err, sizeof err) == SM_OK);
    CHECK(sm_store_schema_version(s, &v, err, sizeof err) == SM_OK && v == SAMSA_SCHEMA_VERSION);
    /* PostgreSQL's wake-up is its socket; SQLite has none to poll */
    if (pg)
        CHECK(sm_store_wait_fd(s) >= 0);
    else
        CHECK(sm_store_wait_fd(s) == -1);
    sm_store_close(s);
    CHECK_EQ_I64(q1(db, "SELECT count(*) FROM samsa_schema_version"), SAMSA_SCHEMA_VERSION);
    sm_db_close(db);
}

/* ---- claim ------------------------------------------------------------------------ */

/* The slot of key as the store computes it (PostgreSQL in SQL, SQLite in C). */
static int64_t slot_of(sm_db *db, const char *key)
{
    if (!pg)
        return sm_slot_of(key, strlen(key));
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT hashtext('%s') & 63", key);
    return q1(db, sql);
}

static void test_claim(void)
{
    TEST_SECTION("claim: by status in id order, skip() not counted, owned slots, due only");
    sm_db *db = app_open();
    sm_store *s = store_open();
    char err[512];
    sm_row *rows = NULL;
    int n = -1;
    uint64_t owned = 0;
    CHECK(sm_store_balance(s, "relay-1", &owned, err, sizeof err) == SM_OK);
    CHECK(owned == ~(uint64_t)0 && sm_store_owned(s) == owned); /* the only relay */

    int64_t t0 = sm_wall_ms();
    x(db, pg ? "INSERT INTO samsa_outbox (topic, key, payload) VALUES ('t', 'k100', '\\x00ff')"
             : "INSERT INTO samsa_outbox (topic, key, payload) VALUES ('t', 'k100', x'00ff')");
    int64_t id100 = q1(db, "SELECT max(id) FROM samsa_outbox");
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 1 && rows[0].id == id100 && rows[0].payload_len == 2 && rows[0].payload[1] == 0xff);
    if (n == 1) {
        CHECK(rows[0].slot == slot_of(db, "k100") && rows[0].key_len == 4);
        CHECK(rows[0].headers_json == NULL && rows[0].type == NULL && rows[0].attempts == 0);
        CHECK(is_uuid4(rows[0].event_id) && !strcmp(rows[0].topic, "t"));
        CHECK(rows[0].created_at_ms >= t0 - 1000 && rows[0].created_at_ms <= sm_wall_ms() + 1000);
        /* the relay may take a pointer over */
        uint8_t *taken = rows[0].payload;
        rows[0].payload = NULL;
        free(taken);
    }
    sm_rows_free(rows, n);

    /* rows the relay has in flight are skipped, and later ones still come */
    int64_t id50 = enqueue(db, "t", "k50", "p");
    skip_ctx sc = {.inflight = {id100}, .ninflight = 1};
    CHECK(sm_store_claim(s, owned, 10, skip_fn, &sc, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 1 && rows[0].id == id50);
    sm_rows_free(rows, n);
    x(db, "DELETE FROM samsa_outbox");

    /* 1000 rows of a held key lead the queue; later rows still come, and the
     * held ones do not count towards max */
    x(db, pg ? "INSERT INTO samsa_outbox (topic, key, payload)"
               " SELECT 't', 'held', 'h' FROM generate_series(1, 1000)"
             : "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 1000)"
               " INSERT INTO samsa_outbox (topic, key, payload) SELECT 't', 'held', 'h' FROM g");
    x(db, "INSERT INTO samsa_outbox (topic, key, payload, headers, type) VALUES"
          " ('t', 'a', '1', '{\"x\": \"y\"}', 'ty'), ('t', NULL, '2', NULL, NULL),"
          " ('t', 'b', NULL, NULL, NULL), ('t', 'c', '4', NULL, NULL)");
    skip_ctx held = {.held_key = "held"};
    CHECK(sm_store_claim(s, owned, 3, skip_fn, &held, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 3);
    if (n == 3) {
        CHECK(rows[0].id < rows[1].id && rows[1].id < rows[2].id);
        CHECK(!strcmp(rows[0].key, "a") && !strcmp(rows[0].headers_json, "{\"x\": \"y\"}"));
        CHECK(!strcmp(rows[0].type, "ty") && rows[0].slot == slot_of(db, "a"));
        CHECK(rows[1].key == NULL && rows[1].key_len == -1 && rows[1].slot == 0);
        CHECK(rows[1].payload_len == 1 && rows[1].payload[0] == '2');
        CHECK(!strcmp(rows[2].key, "b") && rows[2].payload == NULL && rows[2].payload_len == -1);
    }
    CHECK(held.calls == 1003);
    CHECK(held.wrong_topic == 0);
    sm_rows_free(rows, n);
    /* without skip, max holds and the order is ids */
    CHECK(sm_store_claim(s, owned, 5, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 5 && rows[0].id < rows[4].id && !strcmp(rows[4].key, "held"));
    sm_rows_free(rows, n);
    /* only owned slots: none, or the one of key a */
    CHECK(sm_store_claim(s, 0, 5, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK && n == 0);
    CHECK(rows == NULL);
    int64_t slot_a = slot_of(db, "a");
    CHECK(sm_store_claim(s, (uint64_t)1 << slot_a, 10, skip_fn, &held, &rows, &n, err,
                         sizeof err) == SM_OK);
    CHECK(n >= 1);
    for (int i = 0; i < n; i++)
        CHECK(rows[i].slot == slot_a);
    sm_rows_free(rows, n);
    /* not yet due: left alone */
    x(db, pg ? "UPDATE samsa_outbox SET next_attempt_at = now() + interval '1 hour'"
             : "UPDATE samsa_outbox SET next_attempt_at = next_attempt_at + 3600000");
    CHECK(sm_store_claim(s, owned, 5, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK && n == 0);
    x(db, "DELETE FROM samsa_outbox");
    sm_store_close(s);
    sm_db_close(db);
}

/* ---- marks ------------------------------------------------------------------------ */

/* An integer column of row id (-1: NULL, -999: no row). */
static int64_t col_of(sm_db *db, const char *col, int64_t id, const char *where)
{
    char sql[400];
    snprintf(sql, sizeof sql, "SELECT %s FROM samsa_outbox WHERE id = %lld%s%s", col,
             (long long)id, where ? " AND " : "", where ? where : "");
    return q1(db, sql);
}

/* A time column of row id in ms since the epoch. */
static int64_t ms_of(sm_db *db, const char *col, int64_t id)
{
    char expr[200];
    if (pg)
        snprintf(expr, sizeof expr, "floor(extract(epoch FROM %s) * 1000)::bigint", col);
    else
        snprintf(expr, sizeof expr, "%s", col);
    return col_of(db, expr, id, NULL);
}

static void test_marks(void)
{
    TEST_SECTION("mark published (batch), retry, dead, complete, partitions, stats");
    sm_db *db = app_open();
    sm_store *s = store_open();
    char err[512];
    uint64_t owned = 0;
    CHECK(sm_store_balance(s, "relay-a", &owned, err, sizeof err) == SM_OK);
    int64_t ids[6];
    const char *keys[6] = {"k0", "k1", "k2", "k3", "k4", "k5"};
    for (int i = 0; i < 6; i++)
        ids[i] = enqueue(db, i < 4 ? "alpha" : "beta", keys[i], "v");
    int64_t now = sm_wall_ms();
    sm_published pub[4] = {{ids[0], 0, 10, now, 0}, {ids[1], 0, 11, now, 0}, {ids[2], 1, 5, now, 0},
                           {ids[4], 3, 7, now, 0}};
    CHECK(sm_store_mark_published(s, pub, 4, err, sizeof err) == SM_OK);
    marks_applied();
    CHECK_EQ_I64(q1(db, "SELECT count(*) FROM samsa_outbox WHERE status = 'PUBLISHED'"), 4);
    CHECK_EQ_I64(col_of(db, "kafka_offset * 1000 + kafka_partition", ids[2], NULL), 5001);
    CHECK_EQ_I64(ms_of(db, "published_at", ids[4]), now);

    sm_tp *tps = NULL;
    int ntp = 0;
    CHECK(sm_store_published_partitions(s, &tps, &ntp, err, sizeof err) == SM_OK);
    CHECK(ntp == 3);
    if (ntp == 3) {
        CHECK(!strcmp(tps[0].topic, "alpha") && tps[0].partition == 0);
        CHECK(!strcmp(tps[1].topic, "alpha") && tps[1].partition == 1);
        CHECK(!strcmp(tps[2].topic, "beta") && tps[2].partition == 3);
    }
    sm_tps_free(tps, ntp);

    int64_t changed = -1;
    CHECK(sm_store_complete(s, "alpha", 0, 0, 0, 11, &changed, err, sizeof err) == SM_OK);
    CHECK(changed == 1); /* offset 10 only: 11 is not below 11 */
    CHECK(sm_store_complete(s, "alpha", 0, 0, 0, 12, &changed, err, sizeof err) == SM_OK);
    CHECK(changed == 1);
    CHECK(sm_store_complete(s, "alpha", 0, 0, 0, 100, &changed, err, sizeof err) == SM_OK);
    CHECK(changed == 0);
    CHECK_EQ_I64(q1(db, "SELECT count(*) FROM samsa_outbox WHERE status = 'COMPLETE'"), 2);

    /* retry: attempts counts up, not due until next_attempt */
    CHECK(sm_store_mark_retry(s, ids[3], 1, now + 3600000, "broker down", err, sizeof err) ==
          SM_OK);
    CHECK_EQ_I64(col_of(db, "attempts", ids[3], "status = 'INIT' AND last_error = 'broker down'"),
                 1);
    CHECK_EQ_I64(ms_of(db, "next_attempt_at", ids[3]), now + 3600000);
    sm_row *rows;
    int n;
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 1 && rows[0].id == ids[5]);
    sm_rows_free(rows, n);
    /* the count is stored as given */
    CHECK(sm_store_mark_retry(s, ids[3], 2, now - 1, "again", err, sizeof err) == SM_OK);
    CHECK_EQ_I64(col_of(db, "attempts", ids[3], NULL), 2);
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 2 && rows[0].id == ids[3] && rows[0].attempts == 2);
    sm_rows_free(rows, n);
    CHECK(sm_store_mark_dead(s, ids[3], 3, "too large; dead letter in alpha.dlq", err,
                             sizeof err) == SM_OK);
    const char *dead = "status = 'DEAD' AND last_error LIKE 'too large%'";
    CHECK_EQ_I64(col_of(db, "attempts", ids[3], dead), 3);
    /* a dead row is no longer marked by a late retry */
    CHECK(sm_store_mark_retry(s, ids[3], 9, now, "late", err, sizeof err) == SM_OK);
    CHECK_EQ_I64(col_of(db, "attempts", ids[3], dead), 3);
    /* a PUBLISHED row is not marked DEAD by a late report */
    CHECK(sm_store_mark_dead(s, ids[4], 9, "late", err, sizeof err) == SM_OK);
    CHECK_EQ_I64(col_of(db, "count(*)", ids[4], "status = 'PUBLISHED'"), 1);

    sm_store_stats st;
    CHECK(sm_store_stats_get(s, &st, err, sizeof err) == SM_OK);
    CHECK(st.init == 1 && st.published == 2 && st.complete == 2 && st.dead == 1);
    CHECK(st.oldest_init_age_ms >= 0 && st.oldest_init_age_ms < 60000);
    x(db, "DELETE FROM samsa_outbox");
    CHECK(sm_store_stats_get(s, &st, err, sizeof err) == SM_OK);
    CHECK(st.init == 0 && st.published == 0 && st.oldest_init_age_ms == -1);
    sm_store_close(s);
    sm_db_close(db);
}

static void test_marks_batch(void)
{
    TEST_SECTION("mark published: 1998 rows in one batch, completion by offsets, stats");
    sm_db *db = app_open();
    sm_store *s = store_open();
    char err[512], sql[600];
    uint64_t owned;
    CHECK(sm_store_balance(s, "relay-a", &owned, err, sizeof err) == SM_OK);
    x(db, pg ? "INSERT INTO samsa_outbox (topic, key, payload)"
               " SELECT CASE WHEN i <= 1500 THEN 'alpha' ELSE 'beta' END, 'k' || (i % 50), 'v'"
               " FROM generate_series(1, 2000) i"
             : "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 2000)"
               " INSERT INTO samsa_outbox (topic, key, payload)"
               " SELECT CASE WHEN i <= 1500 THEN 'alpha' ELSE 'beta' END, 'k' || (i % 50), 'v'"
               " FROM g");
    int64_t first = q1(db, "SELECT min(id) FROM samsa_outbox");
    enum { N = 2000 };
    static sm_published pub[N];
    int64_t now = sm_wall_ms();
    for (int i = 0; i < N; i++)
        pub[i] = (sm_published){first + i, i < 1500 ? i % 3 : 7, i, now - i, 0};
    CHECK(sm_store_mark_published(s, pub, N - 2, err, sizeof err) == SM_OK);
    marks_applied();
    CHECK_EQ_I64(q1(db, "SELECT count(*) FROM samsa_outbox WHERE status = 'PUBLISHED'"), N - 2);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM samsa_outbox WHERE status = 'PUBLISHED' AND kafka_offset ="
             " id - %lld AND %s = %lld - (id - %lld)",
             (long long)first,
             pg ? "floor(extract(epoch FROM published_at) * 1000)::bigint" : "published_at",
             (long long)now, (long long)first);
    CHECK_EQ_I64(q1(db, sql), N - 2);

    sm_tp *tps = NULL;
    int ntp = 0;
    CHECK(sm_store_published_partitions(s, &tps, &ntp, err, sizeof err) == SM_OK);
    CHECK(ntp == 4);
    if (ntp == 4) {
        CHECK(!strcmp(tps[0].topic, "alpha") && tps[0].partition == 0);
        CHECK(!strcmp(tps[2].topic, "alpha") && tps[2].partition == 2);
        CHECK(!strcmp(tps[3].topic, "beta") && tps[3].partition == 7);
    }
    sm_tps_free(tps, ntp);

    int64_t changed = -1;
    /* alpha/0 holds offsets 0, 3, 6, ...: below 9 are 0, 3, 6 */
    CHECK(sm_store_complete(s, "alpha", 0, 0, 0, 9, &changed, err, sizeof err) == SM_OK);
    CHECK(changed == 3);
    CHECK(sm_store_complete(s, "alpha", 0, 0, 0, 9, &changed, err, sizeof err) == SM_OK);
    CHECK(changed == 0);
    CHECK(sm_store_complete(s, "beta", 7, 0, 0, 100000, &changed, err, sizeof err) == SM_OK);
    CHECK(changed == 498);
    CHECK_EQ_I64(q1(db, "SELECT count(*) FROM samsa_outbox WHERE status = 'COMPLETE'"), 501);
    sm_store_stats st;
    CHECK(sm_store_stats_get(s, &st, err, sizeof err) == SM_OK);
    CHECK(st.init == 2 && st.published == N - 2 - 501 && st.complete == 501 && st.dead == 0);
    x(db, "DELETE FROM samsa_outbox");
    sm_store_close(s);
    sm_db_close(db);
}

/* ---- requeue and cleanup ---------------------------------------------------------- */

/* n rows ('t', 'k', 'v') with status, partition 0, offsets 1..n and
 * published_at ago_ms before now, in one statement. */
static void insert_published(sm_db *db, int n, const char *status, int64_t ago_ms)
{
    char sql[600], when[120];
    if (pg)
        snprintf(when, sizeof when, "now() - interval '%lld milliseconds'", (long long)ago_ms);
    else
        snprintf(when, sizeof when, "%lld", (long long)(sm_wall_ms() - ago_ms));
    snprintf(sql, sizeof sql,
             pg ? "INSERT INTO samsa_outbox (topic, key, payload, status, kafka_partition,"
                  " kafka_offset, published_at) SELECT 't', 'k', 'v', '%s', 0, i, %s"
                  " FROM generate_series(1, %d) i"
                : "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < %3$d)"
                  " INSERT INTO samsa_outbox (topic, key, payload, status, kafka_partition,"
                  " kafka_offset, published_at)"
                  " SELECT 't', 'k', CAST('v' AS BLOB), '%1$s', 0, i, %2$s FROM g",
             status, when, n);
    x(db, sql);
}

static void test_requeue_cleanup(void)
{
    TEST_SECTION("requeue stale, cleanup: delete and archive in batches, by age");
    sm_db *db = app_open();
    sm_store *s = store_open();
    char err[512];
    /* 25000 COMPLETE and 3 PUBLISHED published 10 minutes ago, 2 PUBLISHED
     * now, 1 INIT */
    insert_published(db, 25000, "COMPLETE", 600000);
    insert_published(db, 3, "PUBLISHED", 600000);
    insert_published(db, 2, "PUBLISHED", 0);
    x(db, "INSERT INTO samsa_outbox (topic, key, payload) VALUES ('t', 'k', 'v')");
    int64_t changed = -1;
    CHECK(sm_store_requeue_stale(s, 60000, &changed, err, sizeof err) == SM_OK && changed == 3);
    /* back to INIT and due now */
    char sql[300];
    if (pg)
        snprintf(sql, sizeof sql, "SELECT count(*) FROM samsa_outbox WHERE status = 'INIT'"
                                  " AND next_attempt_at <= now()");
    else
        snprintf(sql, sizeof sql, "SELECT count(*) FROM samsa_outbox WHERE status = 'INIT'"
                                  " AND next_attempt_at <= %lld", (long long)sm_wall_ms());
    CHECK_EQ_I64(q1(db, sql), 4);
    x(db, "UPDATE samsa_outbox SET status = 'PUBLISHED' WHERE status = 'INIT'"
          " AND kafka_offset IS NOT NULL");
    int64_t removed = -1;
    CHECK(sm_store_cleanup(s, 60000, false, false, &removed, err, sizeof err) == SM_OK);
    CHECK(removed == 25000); /* the old COMPLETE rows, deleted */
    CHECK(sm_store_cleanup(s, 60000, true, true, &removed, err, sizeof err) == SM_OK);
    CHECK(removed == 3); /* the old PUBLISHED rows, archived */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM samsa_outbox_archive WHERE status = 'PUBLISHED'"
             " AND payload = %s AND %s > %lld",
             pg ? "'v'" : "CAST('v' AS BLOB)",
             pg ? "floor(extract(epoch FROM archived_at) * 1000)::bigint" : "archived_at",
             (long long)(sm_wall_ms() - 60000));
    CHECK_EQ_I64(q1(db, sql), 3);
    CHECK_EQ_I64(q1(db, "SELECT count(*) FROM samsa_outbox"), 3);
    CHECK(sm_store_cleanup(s, 0, true, false, &removed, err, sizeof err) == SM_OK);
    CHECK(removed == 2); /* the fresh PUBLISHED ones, with age 0 */
    CHECK_EQ_I64(q1(db, "SELECT count(*) FROM samsa_outbox WHERE status = 'INIT'"), 1);
    x(db, "DELETE FROM samsa_outbox");

    /* many rows archived: batches of 10000 */
    insert_published(db, 25000, "COMPLETE", 600000);
    CHECK(sm_store_cleanup(s, 1000, false, true, &removed, err, sizeof err) == SM_OK);
    CHECK(removed == 25000);
    CHECK_EQ_I64(q1(db, "SELECT count(*) FROM samsa_outbox"), 0);
    CHECK_EQ_I64(q1(db, "SELECT count(*) FROM samsa_outbox_archive"), 25003);
    x(db, "DELETE FROM samsa_outbox_archive");
    sm_store_close(s);
    sm_db_close(db);
}

/* ---- holds ------------------------------------------------------------------------ */

static void test_holds(void)
{
    TEST_SECTION("holds in the database: a waiting retry or (if set) a DEAD row holds its key");
    sm_db *db = app_open();
    sm_store *s = store_open();
    char err[512];
    sm_row *rows;
    int n;
    uint64_t owned = 0;
    CHECK(sm_store_balance(s, "relay-a", &owned, err, sizeof err) == SM_OK);
    int64_t a1 = enqueue(db, "t", "a", "1"), b1 = enqueue(db, "t", "b", "1");
    int64_t a2 = enqueue(db, "t", "a", "2"), n1 = enqueue(db, "t", NULL, "1");
    int64_t a3 = enqueue(db, "t", "a", "3"), n2 = enqueue(db, "t", NULL, "2");
    int64_t now = sm_wall_ms();
    /* a1 failed and waits: a2 and a3 wait behind it, b and keyless rows go */
    CHECK(sm_store_mark_retry(s, a1, 1, now + 3600000, "down", err, sizeof err) == SM_OK);
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 3 && rows[0].id == b1 && rows[1].id == n1 && rows[2].id == n2);
    sm_rows_free(rows, n);
    /* due again: a1 comes first, then the rest of its key */
    CHECK(sm_store_mark_retry(s, a1, 1, now - 1, "down", err, sizeof err) == SM_OK);
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 6 && rows[0].id == a1 && rows[2].id == a2 && rows[4].id == a3);
    sm_rows_free(rows, n);
    /* DEAD: holds only with on.dead=block */
    CHECK(sm_store_mark_dead(s, a1, 2, "gave up", err, sizeof err) == SM_OK);
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 5 && rows[1].id == a2);
    sm_rows_free(rows, n);
    sm_store_set_dead_holds_key(s, true);
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 3 && rows[0].id == b1);
    sm_rows_free(rows, n);
    /* re-queued by an operator: published first, and the key flows again */
    x(db, "UPDATE samsa_outbox SET status = 'INIT', attempts = 0 WHERE status = 'DEAD'");
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 6 && rows[0].id == a1);
    sm_rows_free(rows, n);
    sm_store_set_dead_holds_key(s, false);
    x(db, "DELETE FROM samsa_outbox");
    sm_store_close(s);
    sm_db_close(db);
}

/* ---- inbox ------------------------------------------------------------------------ */

static void test_inbox(void)
{
    TEST_SECTION("inbox: new, duplicate, rolled back leaves nothing, outside a transaction");
    sm_db *db = app_open();
    char err[512];
    x(db, "BEGIN");
    CHECK(inbox_begin(db, "billing", "e-1", err, sizeof err) == 1);
    x(db, "COMMIT");
    x(db, "BEGIN");
    CHECK(inbox_begin(db, "billing", "e-1", err, sizeof err) == 0);
    CHECK(inbox_begin(db, "shipping", "e-1", err, sizeof err) == 1);
    x(db, "COMMIT");
    x(db, "BEGIN");
    CHECK(inbox_begin(db, "billing", "e-2", err, sizeof err) == 1);
    x(db, "ROLLBACK");
    x(db, "BEGIN");
    CHECK(inbox_begin(db, "billing", "e-2", err, sizeof err) == 1);
    x(db, "ROLLBACK");
    CHECK_EQ_I64(q1(db, "SELECT count(*) FROM samsa_inbox"), 2);
    CHECK(inbox_begin(db, "billing", "e-3", err, sizeof err) == SAMSA_EINVAL);
    x(db, "BEGIN");
    CHECK(inbox_begin(db, "", "e-3", err, sizeof err) == SAMSA_EINVAL);
    CHECK(inbox_begin(db, "billing", "", err, sizeof err) == SAMSA_EINVAL);
    CHECK(inbox_begin(db, "billing", NULL, err, sizeof err) == SAMSA_EINVAL);
    x(db, "ROLLBACK");
    x(db, "DELETE FROM samsa_inbox");
    sm_db_close(db);
}

/* ---- topic incarnations ---------------------------------------------------------- */

/* The rows of topic as "offset:incarnation:status,..." in id order. */
static void rows_of(sm_db *db, const char *topic, char *out, size_t len)
{
    char sql[300], err[512];
    snprintf(sql, sizeof sql,
             "SELECT kafka_offset, kafka_incarnation, status FROM samsa_outbox"
             " WHERE topic = $1 ORDER BY id");
    sm_db_param p = SM_DB_TEXT(topic);
    sm_db_res r;
    size_t o = 0;
    out[0] = 0;
    REQUIRE(sm_db_query(db, "rows of", sql, &p, 1, &r, err, sizeof err) == SM_OK);
    while (sm_db_next(&r) && o < len) {
        char inc[24];
        if (sm_db_null(&r, 1))
            snprintf(inc, sizeof inc, "null");
        else
            snprintf(inc, sizeof inc, "%lld", (long long)sm_db_i64(&r, 1, 0));
        o += (size_t)snprintf(out + o, len - o, "%s%lld:%s:%s", o ? "," : "",
                              (long long)sm_db_i64(&r, 0, -1), inc, sm_db_text(&r, 2));
    }
    REQUIRE(sm_db_done(&r, err, sizeof err) == SM_OK);
}

static void test_incarnations(void)
{
    TEST_SECTION("incarnations: claims carry the topic's, marks record it, completion touches"
                 " only the current one, a new one starts once (PostgreSQL: also when two"
                 " relays race), other ones re-queued");
    sm_db *db = app_open();
    /* two relays on PostgreSQL; SQLite has one relay per file */
    sm_store *s = store_open(), *s2 = pg ? store_open() : s;
    char err[512], got[400];
    uint64_t owned = 0;
    CHECK(sm_store_balance(s, "inc-r", &owned, err, sizeof err) == SM_OK);
    int64_t ids[4];
    for (int i = 0; i < 4; i++)
        ids[i] = enqueue(db, "inc", i < 3 ? "a" : "b", "v");
    sm_row *rows = NULL;
    int n = 0;
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK && n == 4);
    for (int i = 0; i < n; i++)
        CHECK(rows[i].incarnation == 0); /* no row in samsa_topic_incarnation: 0 */
    int64_t now = sm_wall_ms();
    sm_published pub[4] = {{ids[0], 0, 0, now, 0}, {ids[1], 0, 1, now, 0}, {ids[2], 0, 2, now, 0},
                           {ids[3], 1, 5, now, 0}};
    CHECK(sm_store_mark_published(s, pub, 4, err, sizeof err) == SM_OK);
    marks_applied();
    rows_of(db, "inc", got, sizeof got);
    CHECK_EQ_STR(got, "0:0:PUBLISHED,1:0:PUBLISHED,2:0:PUBLISHED,5:0:PUBLISHED");

    sm_tp *tps = NULL;
    int ntp = 0;
    CHECK(sm_store_published_partitions(s, &tps, &ntp, err, sizeof err) == SM_OK && ntp == 2);
    if (ntp == 2 && n == 4) {
        CHECK(tps[0].incarnation == 0 && tps[0].low.offset == 0 && tps[0].high.offset == 2);
        CHECK(tps[0].low.same_offset == 1 && tps[0].high.same_offset == 1 && !tps[0].others);
        CHECK(!strcmp(tps[0].low.event_id, rows[0].event_id));
        CHECK(!strcmp(tps[0].high.event_id, rows[2].event_id));
        CHECK(tps[0].low.created_at_ms == rows[0].created_at_ms);
        CHECK(tps[1].partition == 1 && tps[1].low.offset == 5 && tps[1].high.offset == 5);
    }
    sm_tps_free(tps, ntp);
    sm_rows_free(rows, n);

    /* a committed offset of incarnation 0 completes from..below only */
    int64_t changed = -1;
    CHECK(sm_store_complete(s, "inc", 0, 0, 1, 2, &changed, err, sizeof err) == SM_OK);
    CHECK(changed == 1);
    rows_of(db, "inc", got, sizeof got);
    CHECK_EQ_STR(got, "0:0:PUBLISHED,1:0:COMPLETE,2:0:PUBLISHED,5:0:PUBLISHED");

    /* a new incarnation starts once, however many detect it */
    int32_t cur = -1, cur2 = -1;
    bool started = false, started2 = false;
    CHECK(sm_store_new_incarnation(s, "inc", 0, "test: deleted", &cur, &started, err,
                                   sizeof err) == SM_OK);
    CHECK(sm_store_new_incarnation(s2, "inc", 0, "test: again", &cur2, &started2, err,
                                   sizeof err) == SM_OK);
    CHECK(started && cur == 1 && !started2 && cur2 == 1);
    CHECK_EQ_I64(q1(db, "SELECT incarnation FROM samsa_topic_incarnation WHERE topic = 'inc'"
                        " AND reason = 'test: deleted'"), 1);
    /* offsets of incarnation 0 complete nothing any more */
    CHECK(sm_store_complete(s, "inc", 0, 0, 0, 100, &changed, err, sizeof err) == SM_OK);
    CHECK(changed == 0);
    CHECK(sm_store_published_partitions(s, &tps, &ntp, err, sizeof err) == SM_OK && ntp == 2);
    if (ntp == 2)
        CHECK(tps[0].incarnation == 1 && tps[0].low.offset == -1 && tps[0].high.offset == -1 &&
              tps[0].others);
    sm_tps_free(tps, ntp);

    /* new rows are claimed in incarnation 1 and complete by its offsets */
    int64_t fresh = enqueue(db, "inc", "c", "v");
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK && n == 1);
    CHECK(n == 1 && rows[0].incarnation == 1);
    sm_rows_free(rows, n);
    sm_published p1 = {fresh, 0, 0, now, 1};
    CHECK(sm_store_mark_published(s, &p1, 1, err, sizeof err) == SM_OK);
    marks_applied();
    CHECK(sm_store_complete(s, "inc", 0, 1, 0, 1, &changed, err, sizeof err) == SM_OK);
    CHECK(changed == 1);
    rows_of(db, "inc", got, sizeof got);
    CHECK_EQ_STR(got, "0:0:PUBLISHED,1:0:COMPLETE,2:0:PUBLISHED,5:0:PUBLISHED,0:1:COMPLETE");

    /* rows of incarnation 0 back to INIT, with why */
    CHECK(sm_store_requeue_incarnations(s, "inc", "recreated", &changed, err, sizeof err) ==
          SM_OK);
    CHECK(changed == 3);
    CHECK_EQ_I64(q1(db, "SELECT count(*) FROM samsa_outbox WHERE topic = 'inc'"
                        " AND status = 'INIT' AND last_error = 'recreated'"), 3);
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 3);
    for (int i = 0; i < n; i++)
        CHECK(rows[i].incarnation == 1);
    /* two rows at one offset of one incarnation: the listing says so */
    if (n >= 2) {
        sm_published p2[2] = {{rows[0].id, 0, 7, now, 1}, {rows[1].id, 0, 7, now, 1}};
        CHECK(sm_store_mark_published(s, p2, 2, err, sizeof err) == SM_OK);
        marks_applied();
    }
    sm_rows_free(rows, n);
    CHECK(sm_store_published_partitions(s, &tps, &ntp, err, sizeof err) == SM_OK && ntp == 1);
    if (ntp == 1)
        CHECK(tps[0].low.offset == 7 && tps[0].low.same_offset == 2 && !tps[0].others);
    sm_tps_free(tps, ntp);
    /* a topic nobody tracks: any incarnation */
    CHECK(sm_store_complete(s, "inc", 0, -1, 0, INT64_MAX, &changed, err, sizeof err) == SM_OK);
    CHECK(changed == 2);
    x(db, "DELETE FROM samsa_outbox");
    x(db, "DELETE FROM samsa_topic_incarnation");
    if (s2 != s)
        sm_store_close(s2);
    sm_store_close(s);
    sm_db_close(db);
}

/* ---- enqueue ------------------------------------------------------------------- */

/* Input the library refuses before it touches the database (SAMSA_EINVAL),
 * inside an open transaction. */
static void refused(sm_db *db, const samsa_event *ev)
{
    char err[512];
    samsa_event bad = *ev;
    bad.headers_json = "{\"a\": ";
    CHECK(enqueue_ev(db, &bad, NULL, err, sizeof err) == SAMSA_EINVAL);
    CHECK(strstr(err, "headers: invalid JSON") != NULL);
    bad.headers_json = "{\"a\": tru}";
    CHECK(enqueue_ev(db, &bad, NULL, err, sizeof err) == SAMSA_EINVAL);
    CHECK(strstr(err, "headers: invalid JSON") != NULL);
    bad.headers_json = "[1,2]";
    CHECK(enqueue_ev(db, &bad, NULL, err, sizeof err) == SAMSA_EINVAL);
    CHECK(strstr(err, "not a JSON object") != NULL);
    bad.headers_json = "\"s\"";
    CHECK(enqueue_ev(db, &bad, NULL, err, sizeof err) == SAMSA_EINVAL);
    bad.headers_json = "{\"n\": 5}";
    CHECK(enqueue_ev(db, &bad, NULL, err, sizeof err) == SAMSA_EINVAL);
    CHECK(strstr(err, "strings") != NULL);
    bad.headers_json = "{\"n\": null}";
    CHECK(enqueue_ev(db, &bad, NULL, err, sizeof err) == SAMSA_EINVAL);
    bad.headers_json = "{\"samsa.type\": \"x\"}";
    CHECK(enqueue_ev(db, &bad, NULL, err, sizeof err) == SAMSA_EINVAL);
    bad = *ev;
    bad.topic = "no spaces";
    CHECK(enqueue_ev(db, &bad, NULL, err, sizeof err) == SAMSA_EINVAL);
    CHECK(strstr(err, "topic") != NULL);
    bad.topic = "";
    CHECK(enqueue_ev(db, &bad, NULL, err, sizeof err) == SAMSA_EINVAL);
    bad.topic = NULL;
    CHECK(enqueue_ev(db, &bad, NULL, err, sizeof err) == SAMSA_EINVAL);
    bad = *ev;
    bad.event_id = "not-a-uuid";
    CHECK(enqueue_ev(db, &bad, NULL, err, sizeof err) == SAMSA_EINVAL);
    bad.event_id = "5a1d7c9e0b3f4d2a9c8e1f2a3b4c5d6e";
    CHECK(enqueue_ev(db, &bad, NULL, err, sizeof err) == SAMSA_EINVAL);
    bad = *ev;
    bad.payload = NULL;
    CHECK(enqueue_ev(db, &bad, NULL, err, sizeof err) == SAMSA_EINVAL);
}

static void test_enqueue(void)
{
    TEST_SECTION("enqueue: committed row has its defaults, rolled back leaves none, bad input");
    sm_db *db = app_open();
    char err[512], id[SAMSA_EVENT_ID_SIZE], name[300];
    const uint8_t bin[6] = {0, 1, 0xff, 0, '\\', 7};
    samsa_event ev = {.topic = "orders", .key = "order-1", .payload = bin, .payload_len = 6,
                      .type = "order.created", .headers_json = "{\"trace\":\"t1\",\"n\":\"\"}"};
    int64_t before = sm_wall_ms();
    x(db, "BEGIN");
    CHECK(enqueue_ev(db, &ev, id, err, sizeof err) == 0);
    x(db, "COMMIT");
    int64_t after = sm_wall_ms();
    CHECK(is_uuid4(id));
    /* the row as the operator's view reads it (times in ms on both) */
    sm_admin_row r;
    REQUIRE(sm_admin_get(db, id, &r, err, sizeof err) == SM_OK);
    CHECK(!strcmp(r.event_id, id) && !strcmp(r.topic, "orders"));
    CHECK(r.key && !strcmp(r.key, "order-1") && r.type && !strcmp(r.type, "order.created"));
    CHECK(r.payload_len == 6 && !memcmp(r.payload, bin, 6));
    /* SQLite keeps the text given, PostgreSQL's jsonb its own form */
    CHECK(r.headers && !strcmp(r.headers, pg ? "{\"n\": \"\", \"trace\": \"t1\"}"
                                             : "{\"trace\":\"t1\",\"n\":\"\"}"));
    CHECK(!strcmp(r.status, "INIT") && r.attempts == 0 && r.last_error == NULL);
    CHECK(r.created_at >= before - 5 && r.created_at <= after + 5);
    CHECK(r.next_attempt_at >= before - 5 && r.next_attempt_at <= after + 5);
    CHECK(r.partition == -1 && r.offset == -1 && r.published_at == -1 && r.archived_at == -1);
    sm_admin_row_release(&r);

    /* a given event id (upper case) is stored canonical; empty payload is
     * empty, not NULL; no key is NULL */
    samsa_event ev2 = {.topic = "orders", .event_id = "5A1D7C9E-0B3F-4D2A-9C8E-1F2A3B4C5D6E"};
    x(db, "BEGIN");
    CHECK(enqueue_ev(db, &ev2, id, err, sizeof err) == 0);
    x(db, "COMMIT");
    CHECK(!strcmp(id, "5a1d7c9e-0b3f-4d2a-9c8e-1f2a3b4c5d6e"));
    REQUIRE(sm_admin_get(db, id, &r, err, sizeof err) == SM_OK);
    CHECK(r.key == NULL && r.payload != NULL && r.payload_len == 0);
    sm_admin_row_release(&r);

    int64_t n0 = q1(db, "SELECT count(*) FROM samsa_outbox");
    x(db, "BEGIN");
    CHECK(enqueue_ev(db, &ev, NULL, err, sizeof err) == 0);
    x(db, "ROLLBACK");
    CHECK_EQ_I64(q1(db, "SELECT count(*) FROM samsa_outbox"), n0);

    /* outside a transaction: refused, nothing written, the database named */
    CHECK(enqueue_ev(db, &ev, NULL, err, sizeof err) == SAMSA_EINVAL);
    CHECK(strstr(err, "not inside a transaction") != NULL);
    CHECK(strstr(err, db_name(name, sizeof name)) != NULL);
    /* bad input: nothing written, even when the transaction commits */
    x(db, "BEGIN");
    refused(db, &ev);
    x(db, "COMMIT");
    CHECK_EQ_I64(q1(db, "SELECT count(*) FROM samsa_outbox"), n0);
    /* and rejected input did not spoil the transaction */
    x(db, "BEGIN");
    refused(db, &ev);
    CHECK(enqueue_ev(db, &ev, NULL, err, sizeof err) == 0);
    x(db, "ROLLBACK");
    CHECK_EQ_I64(q1(db, "SELECT count(*) FROM samsa_outbox"), n0);
    x(db, "DELETE FROM samsa_outbox");
    sm_db_close(db);
}

/* ---- upgrades ------------------------------------------------------------------- */

static void test_upgrade_v3(void)
{
    TEST_SECTION("schema v2 -> v3 keeps rows, PUBLISHED ones in incarnation 0, the completion"
                 " index on (topic, partition, incarnation, offset), the archive's column");
    sm_db *app = app_open();
    sm_db *d = fresh_db(app, "samsa_v3");
    char err[512], sql[400];
    CHECK(sm_schema_apply(d, 2, err, sizeof err) == SM_OK);
    snprintf(sql, sizeof sql,
             "INSERT INTO samsa_outbox (topic, key, payload, status, kafka_partition, kafka_offset,"
             " published_at) VALUES ('t', 'a', 'v', 'PUBLISHED', 0, 0, %s),"
             " ('t', 'a', 'v', 'COMPLETE', 0, 1, %s), ('t', 'a', 'v', 'INIT', NULL, NULL, NULL)",
             pg ? "now()" : "1", pg ? "now()" : "1");
    x(d, sql);
    CHECK(sm_schema_apply(d, 0, err, sizeof err) == SM_OK);
    CHECK_EQ_I64(q1(d, "SELECT max(version) FROM samsa_schema_version"), 3);
    CHECK_EQ_I64(q1(d, "SELECT count(*) FROM samsa_outbox WHERE kafka_incarnation = 0"
                       " AND status = 'PUBLISHED'"), 1);
    CHECK_EQ_I64(q1(d, "SELECT count(*) FROM samsa_outbox WHERE kafka_incarnation IS NULL"), 2);
    CHECK_EQ_I64(q1(d, pg ? "SELECT indnatts FROM pg_index"
                            " WHERE indexrelid = 'samsa_outbox_published'::regclass"
                          : "SELECT count(*) FROM pragma_index_info('samsa_outbox_published')"),
                 4);
    CHECK_EQ_I64(q1(d, pg ? "SELECT count(*) FROM information_schema.columns"
                            " WHERE table_name = 'samsa_outbox_archive'"
                            " AND column_name = 'kafka_incarnation'"
                          : "SELECT count(*) FROM pragma_table_info('samsa_outbox_archive')"
                            " WHERE name = 'kafka_incarnation'"),
                 1);
    fresh_db_drop(app, d);
    sm_db_close(app);
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "sqlite") && strcmp(argv[1], "pg"))) {
        fprintf(stderr, "usage: test_store_contract sqlite|pg\n");
        return 2;
    }
    pg = !strcmp(argv[1], "pg");
    const char *prog = pg ? "test_store_contract pg" : "test_store_contract sqlite";
    if (pg) {
        const char *u = getenv("SAMSA_PG_URL");
        if (!u || !*u)
            return check_skip(prog, "SAMSA_PG_URL not set (run it through"
                                    " tests/integration/pg.py run)");
        snprintf(url, sizeof url, "%s", u);
    } else {
        snprintf(dir, sizeof dir, "/tmp/samsa-contract-XXXXXX");
        REQUIRE(mkdtemp(dir) != NULL);
        snprintf(path, sizeof path, "%s/app.db", dir);
        snprintf(url, sizeof url, "sqlite:%s", path);
    }
    test_migrations();
    test_enqueue();
    test_claim();
    test_marks();
    test_marks_batch();
    test_requeue_cleanup();
    test_holds();
    test_inbox();
    test_incarnations();
    test_upgrade_v3();
    if (!pg)
        rm_tmpdir(dir);
    return check_report(prog);
}
