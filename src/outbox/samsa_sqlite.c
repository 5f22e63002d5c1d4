/* samsa_sqlite.c: the public outbox and inbox API on an application's own
 * SQLite connection.
 *
 * Statements are prepared per call, not cached: a statement left prepared
 * on the application's connection would make its sqlite3_close() fail with
 * SQLITE_BUSY, and preparing these small statements costs microseconds. */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "outbox/db.h"
#include "outbox/outbox_int.h"
#include "outbox/samsa.h"

_Static_assert((int)SAMSA_ERR == (int)SM_ERR && (int)SAMSA_ENOMEM == (int)SM_ENOMEM &&
                   (int)SAMSA_EIO == (int)SM_EIO && (int)SAMSA_EINVAL == (int)SM_EINVAL,
               "public codes are the internal ones");
_Static_assert(SAMSA_SCHEMA_VERSION == SM_SCHEMA_VERSION, "one schema version");

static int need_txn(sqlite3 *db, const char *name, const char *op, char *err, size_t errlen)
{
    if (sqlite3_get_autocommit(db))
        return sm_fail(err, errlen, SM_EINVAL,
                       "%s: %s: not inside a transaction: call it between BEGIN and COMMIT,"
                       " with the change it belongs to", name, op);
    return SM_OK;
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

int samsa_outbox_enqueue_sqlite(sqlite3 *db, const samsa_event *ev, char *event_id_out,
                                char *err, size_t errlen)
{
    char name[256], uuid[37], msg[400];
    sqlite3_stmt *st = NULL;
    if (!db)
        return sm_fail(err, errlen, SM_EINVAL, "sqlite: enqueue: no connection");
    sm_sqlite_name(db, name, sizeof name);
    int rc = need_txn(db, name, "enqueue", err, errlen);
    if (rc)
        return rc;
    rc = sm_check_event(ev, uuid, msg, sizeof msg);
    if (rc)
        return sm_fail(err, errlen, rc, "%s: enqueue: %s", name, msg);
    /* without an event id the column default makes one, as for any app */
    const char *sql =
        ev->event_id
            ? "INSERT INTO samsa_outbox (topic, key, type, payload, headers, event_id)"
              " VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING event_id"
            : "INSERT INTO samsa_outbox (topic, key, type, payload, headers)"
              " VALUES (?1, ?2, ?3, ?4, ?5) RETURNING event_id";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return sm_sqlite_fail(err, errlen, name, "enqueue", db);
    int b = bind_text(st, 1, ev->topic);
    if (b == SQLITE_OK)
        b = bind_text(st, 2, ev->key);
    if (b == SQLITE_OK)
        b = bind_text(st, 3, ev->type);
    if (b == SQLITE_OK)
        b = ev->payload_len
                ? sqlite3_bind_blob(st, 4, ev->payload, (int)ev->payload_len, SQLITE_STATIC)
                : sqlite3_bind_zeroblob(st, 4, 0); /* empty, not NULL */
    if (b == SQLITE_OK)
        b = bind_text(st, 5, ev->headers_json);
    if (b == SQLITE_OK && ev->event_id)
        b = sqlite3_bind_text(st, 6, uuid, -1, SQLITE_STATIC);
    if (b != SQLITE_OK) {
        rc = sm_sqlite_fail(err, errlen, name, "enqueue: bind", db);
        goto out;
    }
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = sm_sqlite_fail(err, errlen, name, "enqueue", db);
        goto out;
    }
    const unsigned char *id = sqlite3_column_text(st, 0);
    if (event_id_out) {
        snprintf(event_id_out, SAMSA_EVENT_ID_SIZE, "%s", id ? (const char *)id : "");
    }
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = sm_sqlite_fail(err, errlen, name, "enqueue", db);
        goto out;
    }
    rc = SM_OK;
out:
    sqlite3_finalize(st);
    return rc;
}

int samsa_inbox_begin_sqlite(sqlite3 *db, const char *consumer, const char *event_id, char *err,
                             size_t errlen)
{
    char name[256];
    sqlite3_stmt *st = NULL;
    if (!db)
        return sm_fail(err, errlen, SM_EINVAL, "sqlite: inbox: no connection");
    sm_sqlite_name(db, name, sizeof name);
    int rc = need_txn(db, name, "inbox", err, errlen);
    if (rc)
        return rc;
    char msg[100];
    if ((rc = sm_check_inbox(consumer, event_id, msg, sizeof msg)))
        return sm_fail(err, errlen, rc, "%s: inbox: %s", name, msg);
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO samsa_inbox (consumer, event_id) VALUES (?1, ?2)"
                           " ON CONFLICT DO NOTHING",
                           -1, &st, NULL) != SQLITE_OK)
        return sm_sqlite_fail(err, errlen, name, "inbox", db);
    if (sqlite3_bind_text(st, 1, consumer, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, event_id, -1, SQLITE_STATIC) != SQLITE_OK) {
        rc = sm_sqlite_fail(err, errlen, name, "inbox: bind", db);
        goto out;
    }
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = sm_sqlite_fail(err, errlen, name, "inbox", db);
        goto out;
    }
    rc = sqlite3_changes(db) == 1 ? 1 : 0;
out:
    sqlite3_finalize(st);
    return rc;
}

/* The schema functions are schema.c's, on db.h over the app's connection. */
static void wrap(sm_db *d, sqlite3 *db)
{
    char name[256];
    sm_sqlite_name(db, name, sizeof name);
    sm_db_wrap_sqlite(d, db, name);
}

int samsa_schema_apply_sqlite(sqlite3 *db, char *err, size_t errlen)
{
    sm_db d;
    if (!db)
        return sm_fail(err, errlen, SM_EINVAL, "sqlite: migrate: no connection");
    wrap(&d, db);
    return sm_schema_apply(&d, 0, err, errlen);
}

int samsa_schema_version_sqlite(sqlite3 *db, int *version, char *err, size_t errlen)
{
    sm_db d;
    if (!db || !version)
        return sm_fail(err, errlen, SM_EINVAL, "sqlite: schema version: no connection");
    wrap(&d, db);
    return sm_schema_version(&d, version, err, errlen);
}
