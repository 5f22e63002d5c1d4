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
#include <string.h>

#include "base/err.h"
#include "outbox/db.h"
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

/* ---- applying ------------------------------------------------------------------ */

/* What applying does differently per database; the steps are one. */
typedef struct schema_kind {
    const sm_migration *migs;
    int n;
    const char *begin;
    /* run after begin, each its own step: PostgreSQL quiets "relation
     * already exists, skipping" (it would reach the app's notice processor)
     * and takes the migration lock, so concurrent migrators queue and the
     * next one sees our versions; SQLite's BEGIN IMMEDIATE is its lock */
    const char *quiet, *lock;
    const char *version_table;
    const char *has_version_table;
} schema_kind;

static const schema_kind sqlite_kind = {
    sqlite_migrations, NMIG(sqlite_migrations), "BEGIN IMMEDIATE", NULL, NULL,
    "CREATE TABLE IF NOT EXISTS samsa_schema_version ("
    " version INTEGER PRIMARY KEY,"
    " applied_at INTEGER NOT NULL DEFAULT (" SQ_NOW_MS "))",
    "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table'"
    " AND name = 'samsa_schema_version'"};

static const schema_kind pg_kind = {
    pg_migrations, NMIG(pg_migrations), "BEGIN", "SET LOCAL client_min_messages = warning",
    "SELECT pg_advisory_xact_lock(" STR(SM_PG_LOCK_CLASS) ", " STR(SM_PG_LOCK_MIGRATE) ")",
    "CREATE TABLE IF NOT EXISTS samsa_schema_version ("
    " version int PRIMARY KEY,"
    " applied_at timestamptz NOT NULL DEFAULT now())",
    "SELECT (to_regclass('samsa_schema_version') IS NOT NULL)::int"};

static const schema_kind *kind_of(const sm_db *db)
{
    return sm_db_is_pg(db) ? &pg_kind : &sqlite_kind;
}

/* The first column of the one row sql returns, as an integer. */
static int read_int(sm_db *db, const char *op, const char *sql, int64_t *v, char *err,
                    size_t errlen)
{
    sm_db_res r;
    int rc = sm_db_query(db, op, sql, NULL, 0, &r, err, errlen);
    if (rc)
        return rc;
    bool got = sm_db_next(&r);
    if (got)
        *v = sm_db_i64(&r, 0, 0);
    rc = sm_db_done(&r, err, errlen);
    if (!rc && !got)
        rc = sm_fail(err, errlen, SM_ERR, "%s: %s: no row", db->name, op);
    return rc;
}

int sm_schema_version(sm_db *db, int *version, char *err, size_t errlen)
{
    /* two steps: a query naming a missing table fails at parse time, and
     * inside the migration's transaction a failure would abort it */
    int64_t exists = 0, v = 0;
    *version = 0;
    int rc = read_int(db, "schema version", kind_of(db)->has_version_table, &exists, err, errlen);
    if (rc || !exists)
        return rc;
    rc = read_int(db, "schema version", "SELECT coalesce(max(version), 0) FROM samsa_schema_version",
                  &v, err, errlen);
    if (!rc)
        *version = (int)v;
    return rc;
}

int sm_schema_apply(sm_db *db, int target, char *err, size_t errlen)
{
    const schema_kind *k = kind_of(db);
    if (target <= 0 || target > k->n)
        target = k->n;
    if (sm_db_in_txn(db))
        return sm_fail(err, errlen, SM_EINVAL,
                       "%s: migrate: the connection is inside a transaction%s; migrations run"
                       " their own", db->name, sm_db_is_pg(db) ? " (or busy)" : "");
    /* Already current: no DDL at all and no write lock, so a role with only
     * the privileges of docs/outbox.md ("Privileges") may call this at every
     * start (in PostgreSQL 15 even CREATE TABLE IF NOT EXISTS needs CREATE on
     * the schema). Reading the version needs SELECT on samsa_schema_version. */
    int have = 0;
    int rc = sm_schema_version(db, &have, err, errlen);
    if (rc == SM_OK && have >= target)
        return SM_OK;
    if (rc == SM_EIO)
        return rc;
    rc = sm_db_script(db, "migrate: begin", k->begin, err, errlen);
    if (rc)
        return rc;
    if (k->quiet && (rc = sm_db_script(db, "migrate", k->quiet, err, errlen)))
        goto fail;
    if (k->lock && (rc = sm_db_script(db, "migrate: lock", k->lock, err, errlen)))
        goto fail;
    if ((rc = sm_db_script(db, "migrate", k->version_table, err, errlen)))
        goto fail;
    int cur;
    if ((rc = sm_schema_version(db, &cur, err, errlen)))
        goto fail;
    for (int i = 0; i < k->n; i++) {
        const sm_migration *m = &k->migs[i];
        if (m->version <= cur || m->version > target)
            continue;
        char op[64], sql[128];
        snprintf(op, sizeof op, "migrate to version %d", m->version);
        if ((rc = sm_db_script(db, op, m->sql, err, errlen)))
            goto fail;
        snprintf(sql, sizeof sql, "INSERT INTO samsa_schema_version (version) VALUES (%d)",
                 m->version);
        if ((rc = sm_db_script(db, op, sql, err, errlen)))
            goto fail;
    }
    if ((rc = sm_db_script(db, "migrate: commit", "COMMIT", err, errlen)))
        goto fail;
    return SM_OK;
fail:
    if (sm_db_in_txn(db))
        sm_db_script(db, "migrate: rollback", "ROLLBACK", NULL, 0);
    return rc;
}
