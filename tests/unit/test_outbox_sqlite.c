/* test_outbox_sqlite.c: libsamsa and the relay's store on a real SQLite file
 * in a temporary directory, what only SQLite does or what this file checks
 * its own way: the switch to WAL, claim by status and skip() (explicit ids
 * refused), wait, the acknowledgements journal, an old journal after the
 * v2 -> v3 upgrade, open errors. What both databases promise alike
 * (migrations, enqueue, marks, requeue and cleanup, holds, the inbox,
 * incarnations, the upgrade) is test_store_contract.c, run on SQLite and
 * PostgreSQL. */
#include <sqlite3.h>
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
#include "sqlite_journal.h"
#include "outbox/samsa.h"
#include "outbox/store.h"

static char dir[64];
static char path[128];
static char url[160];

static sqlite3 *app_open(void)
{
    sqlite3 *db = NULL;
    REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "PRAGMA busy_timeout = 5000", NULL, NULL, NULL) == SQLITE_OK);
    return db;
}

static void x(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "sql failed: %s: %s\n", sql, msg ? msg : "?");
        sqlite3_free(msg);
        exit(1);
    }
}

static int64_t q1(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
    int64_t v = -999;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}


static int64_t journal_rows(void) { return sq_journal_rows(path); }

/* PUBLISHED marks reach the outbox through the journal's applier thread:
 * waits until it has applied them all (the journal is empty). */
static void marks_applied(void) { CHECK_EQ_I64(sq_marks_applied(path, 30000), 0); }

static int64_t enqueue(sqlite3 *db, const char *topic, const char *key, const char *payload)
{
    samsa_event ev = {.topic = topic, .key = key, .payload = payload,
                      .payload_len = payload ? strlen(payload) : 0};
    char err[256];
    x(db, "BEGIN");
    int rc = samsa_outbox_enqueue_sqlite(db, &ev, NULL, err, sizeof err);
    if (rc)
        fprintf(stderr, "enqueue: %s\n", err);
    REQUIRE(rc == 0);
    x(db, "COMMIT");
    return sqlite3_last_insert_rowid(db);
}

static void test_wal(void)
{
    TEST_SECTION("the relay's open switches the file to WAL, which persists (migrations:"
                 " test_store_contract.c)");
    sqlite3 *db = app_open();
    char err[256];
    sm_store *s = NULL;
    REQUIRE(sm_store_open(&s, url, err, sizeof err) == SM_OK);
    REQUIRE(sm_store_migrate(s, err, sizeof err) == SM_OK);
    sm_store_close(s);
    sqlite3_stmt *st;
    REQUIRE(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW &&
          !strcmp((const char *)sqlite3_column_text(st, 0), "wal"));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static int64_t count_rows(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM samsa_outbox", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void test_explicit_ids(void)
{
    TEST_SECTION("ids come from the database only (schema v2's triggers; the claim:"
                 " test_store_contract.c)");
    sqlite3 *db = app_open();
    /* an explicit id, of any value, is refused and nothing is written */
    const char *given[] = {"100", "0", "-1", "-5", "1000000"};
    for (size_t i = 0; i < sizeof given / sizeof given[0]; i++) {
        char sql[160], *msg = NULL;
        snprintf(sql, sizeof sql,
                 "INSERT INTO samsa_outbox (id, topic, key, payload) VALUES (%s, 't', 'k', 'p')",
                 given[i]);
        CHECK(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_CONSTRAINT && msg &&
              strstr(msg, "assigned by the database"));
        sqlite3_free(msg);
    }
    CHECK(count_rows(db) == 0);
    x(db, "INSERT INTO samsa_outbox (id, topic, key, payload) VALUES (NULL, 't', 'k0', 'p')");
    x(db, "DELETE FROM samsa_outbox");
    sqlite3_close(db);
}

static void test_wait(sm_store *s)
{
    TEST_SECTION("wait: times out when nothing commits, wakes on another connection's commit");
    sqlite3 *db = app_open();
    char err[256];
    sm_row *rows;
    int n;
    sm_store_set_poll_ms(s, 5);
    CHECK(sm_store_claim(s, ~(uint64_t)0, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    sm_rows_free(rows, n);
    /* timing is measured, not bounded above (bench/ is for that): SM_OK
     * means woken, SM_AGAIN timed out */
    int64_t t0 = sm_mono_ms();
    CHECK(sm_store_wait(s, 150, err, sizeof err) == SM_AGAIN);
    int64_t took = sm_mono_ms() - t0;
    CHECK(took >= 140); /* not before its timeout */
    printf("   MEASURED: wait(150 ms) with nothing committed returned after %" PRId64 " ms\n", took);
    enqueue(db, "t", "k", "v");
    t0 = sm_mono_ms();
    CHECK(sm_store_wait(s, 30000, err, sizeof err) == SM_OK); /* woken, not timed out */
    printf("   MEASURED: wait(30 s) after another connection's commit returned after %" PRId64 " ms\n",
           sm_mono_ms() - t0);
    /* seen now: the next wait sleeps again */
    CHECK(sm_store_wait(s, 30, err, sizeof err) == SM_AGAIN);
    /* the store's own marks (applied by its journal's thread, on another
     * connection) may wake it once; then it sleeps again */
    CHECK(sm_store_claim(s, ~(uint64_t)0, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 1);
    sm_published p = {rows[0].id, 0, 0, sm_wall_ms(), 0};
    CHECK(sm_store_mark_published(s, &p, 1, err, sizeof err) == SM_OK);
    sm_rows_free(rows, n);
    marks_applied();
    sm_store_wait(s, 30, err, sizeof err);
    CHECK(sm_store_wait(s, 30, err, sizeof err) == SM_AGAIN);
    x(db, "DELETE FROM samsa_outbox");
    sqlite3_close(db);
}

static void test_open_errors(void)
{
    TEST_SECTION("open: bad URLs and paths say which");
    sm_store *s = NULL;
    char err[256];
    CHECK(sm_store_open(&s, "mysql://x", err, sizeof err) == SM_EINVAL && !s);
    CHECK(strstr(err, "sqlite:PATH") != NULL);
    CHECK(sm_store_open(&s, "sqlite:", err, sizeof err) == SM_EINVAL && !s);
    CHECK(sm_store_open(&s, "sqlite:/nonexistent-dir/x/y.db", err, sizeof err) != SM_OK && !s);
    CHECK(strstr(err, "sqlite:/nonexistent-dir/x/y.db: open") != NULL);
    /* a database without the schema: the operation and the database are named */
    char other[200];
    snprintf(other, sizeof other, "sqlite:%s/empty.db", dir);
    CHECK(sm_store_open(&s, other, err, sizeof err) == SM_OK);
    sm_row *rows;
    int n;
    CHECK(sm_store_claim(s, ~(uint64_t)0, 1, NULL, NULL, &rows, &n, err, sizeof err) == SM_ERR);
    CHECK(strstr(err, "empty.db: claim: no such table") != NULL);
    sm_store_close(s);
}


static void test_journal(void)
{
    TEST_SECTION("acknowledgements journal: marks never wait behind a writer, and survive the"
                 " relay's end while the outbox's write lock is held");
    sqlite3 *db = app_open();
    char err[256];
    sm_store *s = NULL;
    REQUIRE(sm_store_open(&s, url, err, sizeof err) == SM_OK);
    uint64_t owned = 0;
    CHECK(sm_store_balance(s, "r", &owned, err, sizeof err) == SM_OK);
    int64_t a = enqueue(db, "t", "ka", "1"), b = enqueue(db, "t", "kb", "2");
    int64_t c = enqueue(db, "t", "kc", "3");
    sm_row *rows = NULL;
    int n = 0;
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK && n == 3);
    sm_rows_free(rows, n);
    /* an application transaction holds the write lock */
    x(db, "BEGIN IMMEDIATE");
    x(db, "UPDATE samsa_outbox SET type = type WHERE 0");
    sm_published pub[2] = {{a, 0, 10, sm_wall_ms(), 0}, {b, 1, 11, sm_wall_ms(), 0}};
    int64_t t0 = sm_mono_ms();
    CHECK(sm_store_mark_published(s, pub, 2, err, sizeof err) == SM_OK);
    CHECK(sm_mono_ms() - t0 < 4000); /* not the 5 s busy timeout: it did not wait */
    CHECK_EQ_I64(journal_rows(), 2);
    /* the two are not claimed again; c is */
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 1 && rows[0].id == c);
    sm_rows_free(rows, n);
    /* the relay ends while the lock is still held (its close tries for the
     * busy timeout, then leaves the marks in the journal) */
    sm_store_close(s);
    CHECK_EQ_I64(journal_rows(), 2);
    CHECK_EQ_I64(q1(db, "SELECT count(*) FROM samsa_outbox WHERE status = 'PUBLISHED'"), 0);
    /* a new relay: the journal's rows are not claimed, then applied */
    REQUIRE(sm_store_open(&s, url, err, sizeof err) == SM_OK);
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK);
    CHECK(n == 1 && rows[0].id == c);
    sm_rows_free(rows, n);
    x(db, "COMMIT");
    marks_applied();
    CHECK_EQ_I64(q1(db, "SELECT count(*) FROM samsa_outbox WHERE status = 'PUBLISHED'"), 2);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT kafka_partition * 100 + kafka_offset FROM samsa_outbox"
                              " WHERE id = %lld", (long long)b);
    CHECK_EQ_I64(q1(db, sql), 111);
    sm_store_close(s);
    x(db, "DELETE FROM samsa_outbox");
    sqlite3_close(db);
}

/* Version 2 -> 3: PUBLISHED rows are of incarnation 0, others have none;
 * and a journal written before incarnations is read (its marks of 0). */
static void test_upgrade_v3(void)
{
    TEST_SECTION("schema v2 -> v3: an old journal is applied");
    char p2[200], u2[220], jp[230], err[256];
    snprintf(p2, sizeof p2, "%s/v2.db", dir);
    snprintf(u2, sizeof u2, "sqlite:%s", p2);
    snprintf(jp, sizeof jp, "%s-samsa-acks", p2);
    sqlite3 *db = NULL;
    REQUIRE(sqlite3_open(p2, &db) == SQLITE_OK);
    sm_db w;
    sm_db_wrap_sqlite(&w, db, "v2");
    CHECK(sm_schema_apply(&w, 2, err, sizeof err) == SM_OK);
    x(db, "INSERT INTO samsa_outbox (topic, key, payload, status, kafka_partition, kafka_offset,"
          " published_at) VALUES ('t', 'a', 'v', 'PUBLISHED', 0, 0, 1),"
          " ('t', 'a', 'v', 'COMPLETE', 0, 1, 1), ('t', 'a', 'v', 'INIT', NULL, NULL, NULL)");
    /* the upgrade itself: test_store_contract.c */
    REQUIRE(samsa_schema_apply_sqlite(db, err, sizeof err) == 0);
    /* a journal as the relay wrote it before version 3, holding a mark */
    sqlite3 *j = NULL;
    REQUIRE(sqlite3_open(jp, &j) == SQLITE_OK);
    x(j, "CREATE TABLE samsa_acks (id INTEGER PRIMARY KEY, kafka_partition INTEGER NOT NULL,"
         " kafka_offset INTEGER NOT NULL, published_at INTEGER NOT NULL);"
         "CREATE TABLE samsa_acks_outbox (ident TEXT NOT NULL)");
    sm_store *s = NULL;
    REQUIRE(sm_store_open(&s, u2, err, sizeof err) == SM_OK);
    uint64_t owned = 0;
    CHECK(sm_store_balance(s, "r", &owned, err, sizeof err) == SM_OK);
    sm_row *rows = NULL;
    int n = 0;
    /* the store's first claim takes the journal over (ident) */
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK && n == 1);
    int64_t id = n == 1 ? rows[0].id : 0;
    sm_rows_free(rows, n);
    sm_store_close(s);
    char sql[200];
    snprintf(sql, sizeof sql, "INSERT INTO samsa_acks (id, kafka_partition, kafka_offset,"
                              " published_at) VALUES (%lld, 0, 2, 5)", (long long)id);
    x(j, sql);
    sqlite3_close(j);
    REQUIRE(sm_store_open(&s, u2, err, sizeof err) == SM_OK);
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK && n == 0);
    sm_rows_free(rows, n);
    int64_t until = sm_mono_ms() + 30000;
    while (q1(db, "SELECT count(*) FROM samsa_outbox WHERE status = 'PUBLISHED'") != 2 &&
           sm_mono_ms() < until) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    snprintf(sql, sizeof sql, "SELECT count(*) FROM samsa_outbox WHERE id = %lld AND"
                              " status = 'PUBLISHED' AND kafka_offset = 2 AND kafka_incarnation = 0",
             (long long)id);
    CHECK_EQ_I64(q1(db, sql), 1);
    sm_store_close(s);
    sqlite3_close(db);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/samsa-outbox-XXXXXX");
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/app.db", dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    test_wal();
    test_explicit_ids();
    char err[256];
    sm_store *s = NULL;
    REQUIRE(sm_store_open(&s, url, err, sizeof err) == SM_OK);
    test_wait(s);
    sm_store_close(s);
    test_journal();
    test_upgrade_v3();
    test_open_errors();
    rm_tmpdir(dir);
    return check_report("test_outbox_sqlite");
}
