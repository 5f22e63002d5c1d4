/* test_outbox_errors.c: libsamsa and the relay's SQLite store when the
 * database fails under them, on a real SQLite file: the outbox table
 * renamed away under an open store (every operation fails with an error
 * naming it and the database, nothing crashes, and all works again once the
 * table is back); a file that is not a database; a migration that fails
 * (rolled back whole) or cannot begin (the database locked); libsamsa's
 * calls without a connection or without their tables. */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "check.h"
#include "outbox_test.h"
#include "sqlite_journal.h"
#include "outbox/samsa.h"
#include "outbox/store.h"

static char dir[64];

static sqlite3 *db_open(const char *path)
{
    sqlite3 *db = NULL;
    REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
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
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* err names the operation and says the table is missing */
static bool names(const char *err, const char *op)
{
    bool ok = strstr(err, op) && strstr(err, "no such table");
    if (!ok)
        fprintf(stderr, "  error '%s' does not name '%s' and the missing table\n", err, op);
    return ok;
}

static void test_table_gone(void)
{
    TEST_SECTION("the outbox table renamed away under an open store, then back");
    char path[128], url[160], err[256];
    snprintf(path, sizeof path, "%s/gone.db", dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    sm_store *s = NULL;
    REQUIRE(sm_store_open(&s, url, err, sizeof err) == SM_OK);
    REQUIRE(sm_store_migrate(s, err, sizeof err) == SM_OK);
    sqlite3 *app = db_open(path);
    x(app, "PRAGMA busy_timeout = 5000");
    x(app, "INSERT INTO samsa_outbox (topic, key, payload) VALUES ('t', 'k1', 'a'), ('t', 'k2', 'b'),"
           " ('u', 'k3', 'c')");
    uint64_t owned = 0;
    REQUIRE(sm_store_balance(s, "r", &owned, err, sizeof err) == SM_OK);
    sm_row *rows = NULL;
    int n = 0;
    /* every statement prepared once, then the table goes */
    REQUIRE(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK && n == 3);
    int64_t id0 = rows[0].id, id1 = rows[1].id, id2 = rows[2].id;
    sm_rows_free(rows, n);
    sm_published pub = {id0, 0, 5, sm_wall_ms(), 0};
    REQUIRE(sm_store_mark_published(s, &pub, 1, err, sizeof err) == SM_OK);
    REQUIRE(sq_marks_applied(path, 30000) == 0); /* id0 PUBLISHED in the outbox */
    sm_store_stats st;
    REQUIRE(sm_store_stats_get(s, &st, err, sizeof err) == SM_OK);
    x(app, "ALTER TABLE samsa_outbox RENAME TO samsa_outbox_away");

    rows = NULL;
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) != SM_OK && !rows);
    CHECK(names(err, "claim") && strstr(err, path));
    CHECK(sm_store_mark_retry(s, id1, 1, sm_wall_ms(), "boom", err, sizeof err) != SM_OK);
    CHECK(names(err, "mark retry"));
    CHECK(sm_store_mark_dead(s, id2, 3, "dead", err, sizeof err) != SM_OK);
    CHECK(names(err, "mark dead"));
    int64_t changed = -1;
    CHECK(sm_store_complete(s, "t", 0, 0, 0, 100, &changed, err, sizeof err) != SM_OK);
    CHECK(names(err, "complete"));
    sm_tp *tps = NULL;
    int ntp = 0;
    CHECK(sm_store_published_partitions(s, &tps, &ntp, err, sizeof err) != SM_OK);
    CHECK(names(err, "published partitions"));
    CHECK(sm_store_requeue_stale(s, 1, &changed, err, sizeof err) != SM_OK);
    CHECK(names(err, "requeue stale"));
    int64_t removed = -1;
    CHECK(sm_store_cleanup(s, 0, true, false, &removed, err, sizeof err) != SM_OK);
    CHECK(names(err, "cleanup"));
    CHECK(sm_store_cleanup(s, 0, true, true, &removed, err, sizeof err) != SM_OK);
    CHECK(names(err, "cleanup"));
    CHECK(sm_store_stats_get(s, &st, err, sizeof err) != SM_OK);
    CHECK(names(err, "stats"));
    /* the rows are untouched by all of it */
    CHECK_EQ_I64(q1(app, "SELECT count(*) FROM samsa_outbox_away WHERE status = 'INIT'"), 2);

    x(app, "ALTER TABLE samsa_outbox_away RENAME TO samsa_outbox");
    CHECK(sm_store_claim(s, owned, 10, NULL, NULL, &rows, &n, err, sizeof err) == SM_OK && n == 2);
    sm_rows_free(rows, n);
    /* a PUBLISHED mark goes to the store's journal first (its own file, not
     * the outbox's table), and the applier writes it once it can */
    pub.id = id1;
    CHECK(sm_store_mark_published(s, &pub, 1, err, sizeof err) == SM_OK);
    CHECK_EQ_I64(sq_marks_applied(path, 30000), 0);
    CHECK(sm_store_mark_dead(s, id2, 3, "dead", err, sizeof err) == SM_OK);
    CHECK(sm_store_complete(s, "t", 0, 0, 0, 100, &changed, err, sizeof err) == SM_OK);
    CHECK(sm_store_stats_get(s, &st, err, sizeof err) == SM_OK);
    CHECK_EQ_I64(q1(app, "SELECT count(*) FROM samsa_outbox WHERE status = 'COMPLETE'"), 2);
    CHECK_EQ_I64(q1(app, "SELECT count(*) FROM samsa_outbox WHERE status = 'DEAD'"), 1);
    sqlite3_close(app);
    sm_store_close(s);
}

static void test_not_a_database(void)
{
    TEST_SECTION("a file that is not a database; a directory");
    char path[128], url[160], err[256];
    snprintf(path, sizeof path, "%s/garbage.db", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 37 + 11);
    REQUIRE(write(fd, junk, sizeof junk) == (ssize_t)sizeof junk);
    close(fd);
    snprintf(url, sizeof url, "sqlite:%s", path);
    sm_store *s = NULL;
    CHECK(sm_store_open(&s, url, err, sizeof err) != SM_OK && !s);
    CHECK(strstr(err, path) && strstr(err, "not a database"));
    snprintf(url, sizeof url, "sqlite:%s", dir);
    CHECK(sm_store_open(&s, url, err, sizeof err) != SM_OK && !s);
    CHECK(strstr(err, dir) != NULL);
}

static void test_migration_failures(void)
{
    TEST_SECTION("a migration that fails is rolled back whole; a locked database");
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/conflict.db", dir);
    sqlite3 *db = db_open(path);
    /* an application's own table in the way of the outbox's */
    x(db, "CREATE TABLE samsa_outbox (something TEXT)");
    CHECK(samsa_schema_apply_sqlite(db, err, sizeof err) != 0);
    CHECK(strstr(err, "migrate to version 1") && strstr(err, path));
    int v = -1;
    CHECK(samsa_schema_version_sqlite(db, &v, err, sizeof err) == 0 && v == 0);
    CHECK_EQ_I64(q1(db, "SELECT count(*) FROM sqlite_master WHERE name = 'samsa_schema_version'"), 0);
    CHECK(sqlite3_get_autocommit(db)); /* no transaction left open */
    x(db, "DROP TABLE samsa_outbox");
    /* another connection holds the write lock: BEGIN IMMEDIATE cannot start */
    sqlite3 *other = db_open(path);
    x(other, "BEGIN EXCLUSIVE");
    x(db, "PRAGMA busy_timeout = 0");
    CHECK(samsa_schema_apply_sqlite(db, err, sizeof err) != 0);
    CHECK(strstr(err, "migrate: begin") && strstr(err, "locked"));
    x(other, "ROLLBACK");
    sqlite3_close(other);
    CHECK(samsa_schema_apply_sqlite(db, err, sizeof err) == 0);
    CHECK(samsa_schema_version_sqlite(db, &v, err, sizeof err) == 0 && v == SAMSA_SCHEMA_VERSION);
    sqlite3_close(db);
}

static void test_library_errors(void)
{
    TEST_SECTION("libsamsa: no connection, no table, a bad consumer");
    char err[256], id[SAMSA_EVENT_ID_SIZE];
    samsa_event ev = {.topic = "t", .key = "k", .payload = "p", .payload_len = 1};
    CHECK(samsa_outbox_enqueue_sqlite(NULL, &ev, id, err, sizeof err) == SAMSA_EINVAL);
    CHECK(strstr(err, "enqueue: no connection") != NULL);
    CHECK(samsa_inbox_begin_sqlite(NULL, "c", "e", err, sizeof err) == SAMSA_EINVAL);
    CHECK(strstr(err, "inbox: no connection") != NULL);
    CHECK(samsa_schema_apply_sqlite(NULL, err, sizeof err) == SAMSA_EINVAL);
    CHECK(strstr(err, "migrate: no connection") != NULL);
    int v;
    CHECK(samsa_schema_version_sqlite(NULL, &v, err, sizeof err) == SAMSA_EINVAL);
    CHECK(strstr(err, "schema version: no connection") != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/noschema.db", dir);
    sqlite3 *db = db_open(path);
    x(db, "BEGIN");
    CHECK(samsa_outbox_enqueue_sqlite(db, &ev, id, err, sizeof err) != 0);
    CHECK(strstr(err, "enqueue") && strstr(err, "no such table: samsa_outbox"));
    CHECK(samsa_inbox_begin_sqlite(db, "c", "e", err, sizeof err) < 0);
    CHECK(strstr(err, "inbox") && strstr(err, "no such table: samsa_inbox"));
    char longc[300];
    memset(longc, 'c', 250);
    longc[250] = 0;
    CHECK(samsa_inbox_begin_sqlite(db, longc, "e", err, sizeof err) == SAMSA_EINVAL);
    CHECK(strstr(err, "consumer must be 1..200 bytes") != NULL);
    x(db, "ROLLBACK");
    sqlite3_close(db);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/samsa-outbox-err-XXXXXX");
    REQUIRE(mkdtemp(dir) != NULL);
    test_table_gone();
    test_not_a_database();
    test_migration_failures();
    test_library_errors();
    rm_tmpdir(dir);
    return check_report("test_outbox_errors");
}
