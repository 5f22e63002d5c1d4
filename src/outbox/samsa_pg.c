/* samsa_pg.c: the public outbox and inbox API on an application's own libpq
 * connection.
 *
 * The two inserts are prepared once per server session. Which sessions have
 * them is remembered with libpq's event system: a small record hangs off the
 * PGconn (PQinstanceData), is cleared on PQreset (a new session has no
 * prepared statements) and freed on PQfinish. Parameters go in binary: the
 * payload as raw bytea bytes, text as its bytes, no escaping. */
#include <libpq-events.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "outbox/db.h"
#include "outbox/outbox_int.h"
#include "outbox/samsa.h"

#define ENQUEUE_STMT "samsa_enqueue_v1"
#define INBOX_STMT "samsa_inbox_v1"

typedef struct conn_state {
    bool enqueue_prepared;
    bool inbox_prepared;
} conn_state;

static int conn_event(PGEventId id, void *info, void *pass)
{
    (void)pass;
    if (id == PGEVT_CONNRESET) {
        PGconn *c = ((PGEventConnReset *)info)->conn;
        conn_state *cs = PQinstanceData(c, conn_event);
        if (cs)
            memset(cs, 0, sizeof *cs);
    } else if (id == PGEVT_CONNDESTROY) {
        PGconn *c = ((PGEventConnDestroy *)info)->conn;
        free(PQinstanceData(c, conn_event));
    }
    return 1;
}

static conn_state *state_of(PGconn *c)
{
    conn_state *cs = PQinstanceData(c, conn_event);
    if (cs)
        return cs;
    cs = calloc(1, sizeof *cs);
    if (!cs)
        return NULL;
    if (!PQregisterEventProc(c, conn_event, "samsa", NULL) ||
        !PQsetInstanceData(c, conn_event, cs)) {
        free(cs);
        return NULL;
    }
    return cs;
}

static int need_txn(PGconn *c, const char *name, const char *op, char *err, size_t errlen)
{
    switch (PQtransactionStatus(c)) {
    case PQTRANS_INTRANS:
        return SM_OK;
    case PQTRANS_IDLE:
        return sm_fail(err, errlen, SM_EINVAL,
                       "%s: %s: not inside a transaction: call it between BEGIN and COMMIT,"
                       " with the change it belongs to", name, op);
    case PQTRANS_INERROR:
        return sm_fail(err, errlen, SM_EINVAL,
                       "%s: %s: the transaction has already failed; roll it back", name, op);
    case PQTRANS_ACTIVE:
        return sm_fail(err, errlen, SM_EINVAL, "%s: %s: the connection is busy with a query",
                       name, op);
    default:
        return sm_fail(err, errlen, SM_EIO, "%s: %s: the connection is lost", name, op);
    }
}

/* Prepares name once per session; *flag remembers it. */
static int prepare_once(PGconn *c, const char *cname, const char *op, bool *flag,
                        const char *stmt, const char *sql, int nparams, const Oid *types,
                        char *err, size_t errlen)
{
    if (*flag)
        return SM_OK;
    PGresult *r = PQprepare(c, stmt, sql, nparams, types);
    if (!sm_pg_ok(r, PGRES_COMMAND_OK)) {
        int rc = sm_pg_fail(err, errlen, cname, op, c, r);
        PQclear(r);
        return rc;
    }
    PQclear(r);
    *flag = true;
    return SM_OK;
}

/* An execution failed: if the server no longer knows the statement, forget
 * that it was prepared and say why. */
static int exec_fail(PGconn *c, const char *cname, const char *op, bool *flag, PGresult *r,
                     char *err, size_t errlen)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (state && !strcmp(state, "26000")) {
        *flag = false;
        return sm_fail(err, errlen, SM_ERR,
                       "%s: %s: the prepared statement is gone (DISCARD ALL, DEALLOCATE, or a"
                       " transaction-pooling proxy?); roll back and retry: the next call"
                       " prepares it again", cname, op);
    }
    return sm_pg_fail(err, errlen, cname, op, c, r);
}

int samsa_outbox_enqueue_pg(PGconn *c, const samsa_event *ev, char *event_id_out, char *err,
                            size_t errlen)
{
    static const Oid types[6] = {SM_OID_TEXT, SM_OID_TEXT, SM_OID_TEXT,
                                 SM_OID_BYTEA, SM_OID_TEXT, SM_OID_TEXT};
    char name[256], uuid[37], msg[400];
    if (!c)
        return sm_fail(err, errlen, SM_EINVAL, "postgresql: enqueue: no connection");
    sm_pg_name_conn(c, name, sizeof name);
    int rc = need_txn(c, name, "enqueue", err, errlen);
    if (rc)
        return rc;
    rc = sm_check_event(ev, uuid, msg, sizeof msg);
    if (rc)
        return sm_fail(err, errlen, rc, "%s: enqueue: %s", name, msg);
    conn_state *cs = state_of(c);
    if (!cs)
        return sm_fail(err, errlen, SM_ENOMEM, "%s: enqueue: out of memory", name);
    /* the event id defaults as the column does when none is given */
    rc = prepare_once(c, name, "enqueue: prepare", &cs->enqueue_prepared, ENQUEUE_STMT,
                      "INSERT INTO samsa_outbox (event_id, topic, key, type, payload, headers)"
                      " VALUES (coalesce($6::uuid, gen_random_uuid()), $1, $2, $3, $4,"
                      " $5::jsonb) RETURNING event_id::text",
                      6, types, err, errlen);
    if (rc)
        return rc;
    const char *vals[6] = {ev->topic, ev->key, ev->type,
                           ev->payload_len ? (const char *)ev->payload : "", ev->headers_json,
                           ev->event_id ? uuid : NULL};
    int lens[6] = {(int)strlen(ev->topic), ev->key ? (int)strlen(ev->key) : 0,
                   ev->type ? (int)strlen(ev->type) : 0, (int)ev->payload_len,
                   ev->headers_json ? (int)strlen(ev->headers_json) : 0,
                   ev->event_id ? 36 : 0};
    static const int fmts[6] = {1, 1, 1, 1, 1, 1};
    PGresult *r = PQexecPrepared(c, ENQUEUE_STMT, 6, vals, lens, fmts, 0);
    if (!sm_pg_ok(r, PGRES_TUPLES_OK) || PQntuples(r) != 1) {
        rc = exec_fail(c, name, "enqueue", &cs->enqueue_prepared, r, err, errlen);
        PQclear(r);
        return rc;
    }
    if (event_id_out)
        snprintf(event_id_out, SAMSA_EVENT_ID_SIZE, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return SM_OK;
}

int samsa_inbox_begin_pg(PGconn *c, const char *consumer, const char *event_id, char *err,
                         size_t errlen)
{
    static const Oid types[2] = {SM_OID_TEXT, SM_OID_TEXT};
    char name[256];
    if (!c)
        return sm_fail(err, errlen, SM_EINVAL, "postgresql: inbox: no connection");
    sm_pg_name_conn(c, name, sizeof name);
    int rc = need_txn(c, name, "inbox", err, errlen);
    if (rc)
        return rc;
    char msg[100];
    if ((rc = sm_check_inbox(consumer, event_id, msg, sizeof msg)))
        return sm_fail(err, errlen, rc, "%s: inbox: %s", name, msg);
    conn_state *cs = state_of(c);
    if (!cs)
        return sm_fail(err, errlen, SM_ENOMEM, "%s: inbox: out of memory", name);
    rc = prepare_once(c, name, "inbox: prepare", &cs->inbox_prepared, INBOX_STMT,
                      "INSERT INTO samsa_inbox (consumer, event_id) VALUES ($1, $2)"
                      " ON CONFLICT DO NOTHING",
                      2, types, err, errlen);
    if (rc)
        return rc;
    const char *vals[2] = {consumer, event_id};
    int lens[2] = {(int)strlen(consumer), (int)strlen(event_id)};
    static const int fmts[2] = {1, 1};
    PGresult *r = PQexecPrepared(c, INBOX_STMT, 2, vals, lens, fmts, 0);
    if (!sm_pg_ok(r, PGRES_COMMAND_OK)) {
        rc = exec_fail(c, name, "inbox", &cs->inbox_prepared, r, err, errlen);
        PQclear(r);
        return rc;
    }
    rc = sm_pg_cmd_rows(r) == 1 ? 1 : 0;
    PQclear(r);
    return rc;
}

/* The schema functions are schema.c's, on db.h over the app's connection. */
static void wrap(sm_db *d, PGconn *c)
{
    char name[256];
    sm_pg_name_conn(c, name, sizeof name);
    sm_db_wrap_pg(d, c, name);
}

int samsa_schema_apply_pg(PGconn *c, char *err, size_t errlen)
{
    sm_db d;
    if (!c)
        return sm_fail(err, errlen, SM_EINVAL, "postgresql: migrate: no connection");
    wrap(&d, c);
    return sm_schema_apply(&d, 0, err, errlen);
}

int samsa_schema_version_pg(PGconn *c, int *version, char *err, size_t errlen)
{
    sm_db d;
    if (!c || !version)
        return sm_fail(err, errlen, SM_EINVAL, "postgresql: schema version: no connection");
    wrap(&d, c);
    return sm_schema_version(&d, version, err, errlen);
}
