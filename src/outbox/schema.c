/* schema.c: the outbox schema as ordered migrations, one list per database,
 * and the code that applies them.
 *
 * The two lists are the same tables with the same meaning (docs/outbox.md);
 * only the types differ (timestamptz vs integer milliseconds, uuid vs text).
 * A database records every applied version in samsa_schema_version; applying
 * runs the missing ones in order inside one transaction, so a failure leaves
 * the previous version intact. Migrations are append-only: never edit one
 * that has shipped, add the next version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "outbox/outbox_int.h"

typedef struct sm_migration {
    int version;
    const char *sql;
} sm_migration;

/* ---- SQLite ----------------------------------------------------------------- */

/* Milliseconds since the Unix epoch: unixepoch('subsec') needs SQLite 3.42,
 * julianday('now') has millisecond precision since long before. */
#define SQ_NOW_MS "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)"
/* A random (version 4, variant 10xx) UUID in canonical lower-case text. */
#define SQ_UUID4                                                                                  \
    "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' ||"                            \
    " substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) ||"      \
    " substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))"

static const sm_migration sqlite_migrations[] = {
    {1,
     "CREATE TABLE samsa_outbox ("
     " id INTEGER PRIMARY KEY AUTOINCREMENT,"
     " event_id TEXT NOT NULL DEFAULT (" SQ_UUID4 "),"
     " topic TEXT NOT NULL,"
     " key TEXT,"
     " type TEXT,"
     " payload BLOB,"
     " headers TEXT,"
     " created_at INTEGER NOT NULL DEFAULT (" SQ_NOW_MS "),"
     " status TEXT NOT NULL DEFAULT 'INIT'"
     "  CHECK (status IN ('INIT', 'PUBLISHED', 'COMPLETE', 'DEAD')),"
     " attempts INTEGER NOT NULL DEFAULT 0,"
     " next_attempt_at INTEGER NOT NULL DEFAULT (" SQ_NOW_MS "),"
     " last_error TEXT,"
     " kafka_partition INTEGER,"
     " kafka_offset INTEGER,"
     " published_at INTEGER);"
     /* claim: INIT rows in id order */
     "CREATE INDEX samsa_outbox_claim ON samsa_outbox (id) WHERE status = 'INIT';"
     /* completion: PUBLISHED rows of a partition below an offset */
     "CREATE INDEX samsa_outbox_published ON samsa_outbox (topic, kafka_partition, kafka_offset)"
     " WHERE status = 'PUBLISHED';"
     /* cleanup and counts of finished rows; not on the PUBLISHED path, so
      * marking a row PUBLISHED maintains one index fewer. Queries repeat the
      * predicate literally so that SQLite sees it implied. */
     "CREATE INDEX samsa_outbox_done ON samsa_outbox (status, published_at)"
     " WHERE status IN ('COMPLETE', 'DEAD');"
     /* claim: keys held by a failed row (a retry not yet due, or DEAD); only
      * failed rows enter it, so inserts and marks never touch it */
     "CREATE INDEX samsa_outbox_held ON samsa_outbox (key, id)"
     " WHERE status = 'DEAD' OR (status = 'INIT' AND attempts > 0);"
     "CREATE TABLE samsa_outbox_archive ("
     " id INTEGER PRIMARY KEY,"
     " event_id TEXT NOT NULL,"
     " topic TEXT NOT NULL,"
     " key TEXT,"
     " type TEXT,"
     " payload BLOB,"
     " headers TEXT,"
     " created_at INTEGER NOT NULL,"
     " status TEXT NOT NULL,"
     " attempts INTEGER NOT NULL,"
     " next_attempt_at INTEGER NOT NULL,"
     " last_error TEXT,"
     " kafka_partition INTEGER,"
     " kafka_offset INTEGER,"
     " published_at INTEGER,"
     " archived_at INTEGER NOT NULL DEFAULT (" SQ_NOW_MS "));"
     "CREATE TABLE samsa_inbox ("
     " consumer TEXT NOT NULL,"
     " event_id TEXT NOT NULL,"
     " processed_at INTEGER NOT NULL DEFAULT (" SQ_NOW_MS "),"
     " PRIMARY KEY (consumer, event_id)) WITHOUT ROWID;"},
    /* Version 2: ids come from the database only. An explicit id <= 0 was
     * never claimed (claims look above 0), a huge one made every later row
     * wait for the claim cursor. In a BEFORE INSERT trigger NEW.id is -1
     * when the INSERT leaves id out (or gives NULL), so any other value was
     * given explicitly; an explicit -1 is caught after the insert. */
    {2,
     "CREATE TRIGGER samsa_outbox_id_given BEFORE INSERT ON samsa_outbox WHEN NEW.id <> -1"
     " BEGIN SELECT RAISE(ABORT, 'samsa_outbox.id is assigned by the database:"
     " leave it out of the INSERT'); END;"
     "CREATE TRIGGER samsa_outbox_id_positive AFTER INSERT ON samsa_outbox WHEN NEW.id <= 0"
     " BEGIN SELECT RAISE(ABORT, 'samsa_outbox.id is assigned by the database:"
     " leave it out of the INSERT'); END;"},
    /* Version 3: the incarnation of its topic a row was published to. A
     * topic deleted and created again starts its offsets (and its groups'
     * committed offsets) again from 0, so an offset means something only
     * together with the incarnation it belongs to: completion compares a
     * row's offset only with offsets of its own incarnation. The relay
     * numbers the incarnations it has detected per topic in
     * samsa_topic_incarnation (no row: 0). Rows PUBLISHED before version 3
     * belong to incarnation 0; the completion index gets the column. */
    {3,
     "ALTER TABLE samsa_outbox ADD COLUMN kafka_incarnation INTEGER;"
     "ALTER TABLE samsa_outbox_archive ADD COLUMN kafka_incarnation INTEGER;"
     "DROP INDEX samsa_outbox_published;"
     "UPDATE samsa_outbox SET kafka_incarnation = 0 WHERE status = 'PUBLISHED';"
     "CREATE INDEX samsa_outbox_published"
     " ON samsa_outbox (topic, kafka_partition, kafka_incarnation, kafka_offset)"
     " WHERE status = 'PUBLISHED';"
     "CREATE TABLE samsa_topic_incarnation ("
     " topic TEXT PRIMARY KEY,"
     " incarnation INTEGER NOT NULL,"
     " detected_at INTEGER NOT NULL DEFAULT (" SQ_NOW_MS "),"
     " reason TEXT);"},
};

/* ---- PostgreSQL ------------------------------------------------------------- */

#define STR_(x) #x
#define STR(x) STR_(x)

static const sm_migration pg_migrations[] = {
    {1,
     "CREATE TABLE samsa_outbox ("
     " id bigserial PRIMARY KEY,"
     " event_id uuid NOT NULL DEFAULT gen_random_uuid(),"
     " topic text COLLATE \"C\" NOT NULL,"
     " key text COLLATE \"C\","
     " type text COLLATE \"C\","
     " payload bytea,"
     " headers jsonb,"
     " created_at timestamptz NOT NULL DEFAULT now(),"
     " status text COLLATE \"C\" NOT NULL DEFAULT 'INIT'"
     "  CHECK (status IN ('INIT', 'PUBLISHED', 'COMPLETE', 'DEAD')),"
     " attempts int NOT NULL DEFAULT 0,"
     " next_attempt_at timestamptz NOT NULL DEFAULT now(),"
     " last_error text,"
     " kafka_partition int,"
     " kafka_offset bigint,"
     " published_at timestamptz,"
     /* relay-internal: the key's slot, for sharing the outbox between relays;
      * hashtext is immutable (hash indexes rely on it) */
     " slot smallint GENERATED ALWAYS AS"
     "  ((CASE WHEN key IS NULL THEN 0 ELSE hashtext(key) & 63 END)::smallint) STORED"
     ") WITH (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02);"
     "CREATE INDEX samsa_outbox_claim ON samsa_outbox (id) WHERE status = 'INIT';"
     "CREATE INDEX samsa_outbox_published ON samsa_outbox (topic, kafka_partition, kafka_offset)"
     " WHERE status = 'PUBLISHED';"
     "CREATE INDEX samsa_outbox_done ON samsa_outbox (status, published_at)"
     " WHERE status IN ('COMPLETE', 'DEAD');"
     "CREATE INDEX samsa_outbox_held ON samsa_outbox (key, id)"
     " WHERE status = 'DEAD' OR (status = 'INIT' AND attempts > 0);"
     "CREATE TABLE samsa_outbox_archive ("
     " id bigint PRIMARY KEY,"
     " event_id uuid NOT NULL,"
     " topic text COLLATE \"C\" NOT NULL,"
     " key text COLLATE \"C\","
     " type text COLLATE \"C\","
     " payload bytea,"
     " headers jsonb,"
     " created_at timestamptz NOT NULL,"
     " status text COLLATE \"C\" NOT NULL,"
     " attempts int NOT NULL,"
     " next_attempt_at timestamptz NOT NULL,"
     " last_error text,"
     " kafka_partition int,"
     " kafka_offset bigint,"
     " published_at timestamptz,"
     " archived_at timestamptz NOT NULL DEFAULT now());"
     "CREATE TABLE samsa_inbox ("
     " consumer text COLLATE \"C\" NOT NULL,"
     " event_id text COLLATE \"C\" NOT NULL,"
     " processed_at timestamptz NOT NULL DEFAULT now(),"
     " PRIMARY KEY (consumer, event_id));"
     /* relays sharing the outbox: one row each, see sm_store_balance */
     "CREATE TABLE samsa_relay_heartbeat ("
     " relay_id text PRIMARY KEY,"
     " pid int NOT NULL,"
     " last_seen timestamptz NOT NULL DEFAULT now(),"
     " owned bigint NOT NULL DEFAULT 0);"
     /* Wake a waiting relay on insert. NOTIFY serializes the commits of all
      * notifying transactions (PostgreSQL holds a global lock from pre-commit
      * to the end of commit), so notify only while a relay waits: it holds
      * the wake lock exclusively then, and the shared try fails. A
      * transaction that did not notify holds the lock shared until it ends,
      * so a relay cannot start waiting (and miss its row) before it commits. */
     "CREATE FUNCTION samsa_outbox_wake() RETURNS trigger LANGUAGE plpgsql AS $f$"
     " BEGIN"
     "  IF NOT pg_catalog.pg_try_advisory_xact_lock_shared(" STR(SM_PG_LOCK_CLASS) ", " STR(
         SM_PG_LOCK_WAKE) ") THEN"
     "   PERFORM pg_catalog.pg_notify('" SM_PG_CHANNEL "', '');"
     "  END IF;"
     "  RETURN NULL;"
     " END $f$;"
     "CREATE TRIGGER samsa_outbox_wake AFTER INSERT ON samsa_outbox"
     " FOR EACH STATEMENT EXECUTE FUNCTION samsa_outbox_wake();"},
    /* Version 2: ids come from the database only (an identity column,
     * GENERATED ALWAYS: an INSERT that gives one fails unless it says
     * OVERRIDING SYSTEM VALUE). An explicit id <= 0 was never claimed, a
     * huge one made every later row wait for the claim cursor. The new
     * sequence (same name) starts above every id used so far. */
    {2,
     "DO $m$ DECLARE nxt bigint; BEGIN"
     " SELECT greatest(coalesce((SELECT max(id) FROM samsa_outbox), 0),"
     "  coalesce((SELECT max(id) FROM samsa_outbox_archive), 0),"
     "  (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM samsa_outbox_id_seq))"
     "  + 1 INTO nxt;"
     " ALTER TABLE samsa_outbox ALTER COLUMN id DROP DEFAULT;"
     " DROP SEQUENCE samsa_outbox_id_seq;"
     " EXECUTE format('ALTER TABLE samsa_outbox ALTER COLUMN id"
     "  ADD GENERATED ALWAYS AS IDENTITY (START WITH %s)', nxt);"
     " END $m$;"},
    /* Version 3: the incarnation of its topic a row was published to (see
     * the SQLite list). The index rebuild reads the table once. */
    {3,
     "ALTER TABLE samsa_outbox ADD COLUMN kafka_incarnation int;"
     "ALTER TABLE samsa_outbox_archive ADD COLUMN kafka_incarnation int;"
     "DROP INDEX samsa_outbox_published;"
     "UPDATE samsa_outbox SET kafka_incarnation = 0 WHERE status = 'PUBLISHED';"
     "CREATE INDEX samsa_outbox_published"
     " ON samsa_outbox (topic, kafka_partition, kafka_incarnation, kafka_offset)"
     " WHERE status = 'PUBLISHED';"
     "CREATE TABLE samsa_topic_incarnation ("
     " topic text COLLATE \"C\" PRIMARY KEY,"
     " incarnation int NOT NULL,"
     " detected_at timestamptz NOT NULL DEFAULT now(),"
     " reason text);"},
};

#define NMIG(a) ((int)(sizeof(a) / sizeof((a)[0])))

_Static_assert(NMIG(sqlite_migrations) == SM_SCHEMA_VERSION, "sqlite migrations vs version");
_Static_assert(NMIG(pg_migrations) == SM_SCHEMA_VERSION, "pg migrations vs version");

/* ---- applying: SQLite ------------------------------------------------------- */

static int sqlite_exec(sqlite3 *db, const char *name, const char *op, const char *sql, char *err,
                       size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = sm_fail(err, errlen, SM_ERR, "%s: %s: %s", name, op,
                         msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return rc;
    }
    return SM_OK;
}

static int sqlite_read_version(sqlite3 *db, const char *name, int *version, char *err,
                               size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = SM_OK;
    *version = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                           " AND name = 'samsa_schema_version')",
                           -1, &st, NULL) != SQLITE_OK)
        return sm_sqlite_fail(err, errlen, name, "schema version", db);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = sm_sqlite_fail(err, errlen, name, "schema version", db);
        goto out;
    }
    int exists = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (!exists)
        return SM_OK;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM samsa_schema_version", -1,
                           &st, NULL) != SQLITE_OK)
        return sm_sqlite_fail(err, errlen, name, "schema version", db);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = sm_sqlite_fail(err, errlen, name, "schema version", db);
        goto out;
    }
    *version = sqlite3_column_int(st, 0);
out:
    sqlite3_finalize(st);
    return rc;
}

int sm_schema_version_sqlite(sqlite3 *db, const char *name, int *version, char *err,
                             size_t errlen)
{
    return sqlite_read_version(db, name, version, err, errlen);
}

int sm_schema_apply_sqlite(sqlite3 *db, const char *name, char *err, size_t errlen)
{
    return sm_schema_apply_sqlite_to(db, name, NMIG(sqlite_migrations), err, errlen);
}

int sm_schema_apply_sqlite_to(sqlite3 *db, const char *name, int target, char *err,
                              size_t errlen)
{
    if (!sqlite3_get_autocommit(db))
        return sm_fail(err, errlen, SM_EINVAL,
                       "%s: migrate: the connection is inside a transaction; migrations run"
                       " their own", name);
    /* already current: nothing to write (no write lock taken) */
    int have = 0;
    if (sqlite_read_version(db, name, &have, NULL, 0) == SM_OK &&
        have >= target)
        return SM_OK;
    int rc = sqlite_exec(db, name, "migrate: begin", "BEGIN IMMEDIATE", err, errlen);
    if (rc)
        return rc;
    rc = sqlite_exec(db, name, "migrate",
                     "CREATE TABLE IF NOT EXISTS samsa_schema_version ("
                     " version INTEGER PRIMARY KEY,"
                     " applied_at INTEGER NOT NULL DEFAULT (" SQ_NOW_MS "))",
                     err, errlen);
    if (rc)
        goto fail;
    int cur;
    rc = sqlite_read_version(db, name, &cur, err, errlen);
    if (rc)
        goto fail;
    for (int i = 0; i < NMIG(sqlite_migrations); i++) {
        const sm_migration *m = &sqlite_migrations[i];
        if (m->version <= cur || m->version > target)
            continue;
        char op[64], sql[128];
        snprintf(op, sizeof op, "migrate to version %d", m->version);
        rc = sqlite_exec(db, name, op, m->sql, err, errlen);
        if (rc)
            goto fail;
        snprintf(sql, sizeof sql, "INSERT INTO samsa_schema_version (version) VALUES (%d)",
                 m->version);
        rc = sqlite_exec(db, name, op, sql, err, errlen);
        if (rc)
            goto fail;
    }
    rc = sqlite_exec(db, name, "migrate: commit", "COMMIT", err, errlen);
    if (rc)
        goto fail;
    return SM_OK;
fail:
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* ---- applying: PostgreSQL --------------------------------------------------- */

static int pg_exec(PGconn *c, const char *name, const char *op, const char *sql, char *err,
                   size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    int rc = SM_OK;
    if (!sm_pg_ok(r, PGRES_COMMAND_OK) && !sm_pg_ok(r, PGRES_TUPLES_OK))
        rc = sm_pg_fail(err, errlen, name, op, c, r);
    PQclear(r);
    return rc;
}

static int pg_read_version(PGconn *c, const char *name, int *version, char *err, size_t errlen)
{
    /* two steps: a query naming a missing table fails at parse time, and
     * inside the migration's transaction a failure would abort it */
    PGresult *r = PQexec(c, "SELECT to_regclass('samsa_schema_version') IS NOT NULL");
    if (!sm_pg_ok(r, PGRES_TUPLES_OK) || PQntuples(r) != 1) {
        int rc = sm_pg_fail(err, errlen, name, "schema version", c, r);
        PQclear(r);
        return rc;
    }
    bool exists = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    *version = 0;
    if (!exists)
        return SM_OK;
    r = PQexec(c, "SELECT coalesce(max(version), 0) FROM samsa_schema_version");
    if (!sm_pg_ok(r, PGRES_TUPLES_OK) || PQntuples(r) != 1) {
        int rc = sm_pg_fail(err, errlen, name, "schema version", c, r);
        PQclear(r);
        return rc;
    }
    *version = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return SM_OK;
}

int sm_schema_version_pg(PGconn *c, const char *name, int *version, char *err, size_t errlen)
{
    return pg_read_version(c, name, version, err, errlen);
}

int sm_schema_apply_pg(PGconn *c, const char *name, char *err, size_t errlen)
{
    return sm_schema_apply_pg_to(c, name, NMIG(pg_migrations), err, errlen);
}

int sm_schema_apply_pg_to(PGconn *c, const char *name, int target, char *err, size_t errlen)
{
    if (PQtransactionStatus(c) != PQTRANS_IDLE)
        return sm_fail(err, errlen, SM_EINVAL,
                       "%s: migrate: the connection is inside a transaction (or busy);"
                       " migrations run their own", name);
    /* Already current: no DDL at all, so a role with only the privileges of
     * docs/outbox.md ("Privileges") may call this at every start (in
     * PostgreSQL 15 even CREATE TABLE IF NOT EXISTS needs CREATE on the
     * schema). Reading the version needs SELECT on samsa_schema_version. */
    int have = 0;
    int rc = pg_read_version(c, name, &have, err, errlen);
    if (rc == SM_OK && have >= target)
        return SM_OK;
    if (rc == SM_EIO)
        return rc;
    rc = pg_exec(c, name, "migrate: begin", "BEGIN", err, errlen);
    if (rc)
        return rc;
    /* quiet: "relation already exists, skipping" would reach the app's
     * notice processor */
    rc = pg_exec(c, name, "migrate", "SET LOCAL client_min_messages = warning", err, errlen);
    if (rc)
        goto fail;
    /* concurrent migrators queue here; the next one sees our versions */
    rc = pg_exec(c, name, "migrate: lock",
                 "SELECT pg_advisory_xact_lock(" STR(SM_PG_LOCK_CLASS) ", " STR(
                     SM_PG_LOCK_MIGRATE) ")",
                 err, errlen);
    if (rc)
        goto fail;
    rc = pg_exec(c, name, "migrate",
                 "CREATE TABLE IF NOT EXISTS samsa_schema_version ("
                 " version int PRIMARY KEY,"
                 " applied_at timestamptz NOT NULL DEFAULT now())",
                 err, errlen);
    if (rc)
        goto fail;
    int cur;
    rc = pg_read_version(c, name, &cur, err, errlen);
    if (rc)
        goto fail;
    for (int i = 0; i < NMIG(pg_migrations); i++) {
        const sm_migration *m = &pg_migrations[i];
        if (m->version <= cur || m->version > target)
            continue;
        char op[64], sql[128];
        snprintf(op, sizeof op, "migrate to version %d", m->version);
        rc = pg_exec(c, name, op, m->sql, err, errlen);
        if (rc)
            goto fail;
        snprintf(sql, sizeof sql, "INSERT INTO samsa_schema_version (version) VALUES (%d)",
                 m->version);
        rc = pg_exec(c, name, op, sql, err, errlen);
        if (rc)
            goto fail;
    }
    rc = pg_exec(c, name, "migrate: commit", "COMMIT", err, errlen);
    if (rc)
        goto fail;
    return SM_OK;
fail:
    if (PQtransactionStatus(c) != PQTRANS_IDLE) {
        PGresult *r = PQexec(c, "ROLLBACK");
        PQclear(r);
    }
    return rc;
}
