/* outbox_int.h: what the outbox library's files share and nobody else sees:
 * the store's dispatch table, the schema migrations, and the small libpq and
 * SQLite helpers (error text, binary parameters and results).
 *
 * The one idea: every store function in store.c forwards through
 * sm_store_ops, so store_sqlite.c and store_pg.c are two implementations of
 * one contract (store.h) chosen once, at sm_store_open. */
#ifndef SM_OUTBOX_INT_H
#define SM_OUTBOX_INT_H

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "outbox/store.h"

struct sm_db;

/* PostgreSQL advisory lock keys, all in one class: pg_try_advisory_lock(
 * SM_PG_LOCK_CLASS, n). n in [0, 64): the relay slots (session locks);
 * SM_PG_LOCK_MIGRATE: schema migrations (transaction lock); SM_PG_LOCK_WAKE:
 * a relay waiting for NOTIFY holds it exclusively, and the insert trigger on
 * samsa_outbox notifies only when it cannot take it shared (see store_pg_claim.c). */
#define SM_PG_LOCK_CLASS 1396788563 /* "SAMS" */
#define SM_PG_LOCK_MIGRATE 100
#define SM_PG_LOCK_WAKE 101
#define SM_PG_CHANNEL "samsa_outbox"

/* Newest schema version this code knows (docs/outbox.md lists them). */
#define SM_SCHEMA_VERSION 3

typedef struct sm_store_ops {
    void (*close)(sm_store *s);
    /* The store's connection as a db.h handle (PostgreSQL: reconnected
     * first if lost) for what runs on db.h: the schema, the stats. db_end
     * tells the store how it went (a lost connection costs its slots). */
    int (*db_begin)(sm_store *s, const char *op, struct sm_db *db, char *err, size_t errlen);
    void (*db_end)(sm_store *s, int rc);
    int (*balance)(sm_store *s, const char *relay_id, uint64_t busy, uint64_t *owned, char *err,
                   size_t errlen);
    int (*claim)(sm_store *s, uint64_t owned, int max, sm_row_skip_fn skip, void *arg,
                 sm_row **rows, int *n, char *err, size_t errlen);
    int (*mark_published)(sm_store *s, const sm_published *v, int n, char *err, size_t errlen);
    int (*mark_retry)(sm_store *s, int64_t id, int32_t attempts, int64_t next_attempt_ms,
                      const char *error, char *err, size_t errlen);
    int (*mark_dead)(sm_store *s, int64_t id, int32_t attempts, const char *error, char *err,
                     size_t errlen);
    int (*complete)(sm_store *s, const char *topic, int32_t partition, int32_t inc, int64_t from,
                    int64_t below, int64_t *changed, char *err, size_t errlen);
    int (*published_partitions)(sm_store *s, sm_tp **tps, int *n, char *err, size_t errlen);
    int (*new_incarnation)(sm_store *s, const char *topic, int32_t inc, const char *reason,
                           int32_t *current, bool *started, char *err, size_t errlen);
    int (*requeue_incarnations)(sm_store *s, const char *topic, const char *reason,
                                int64_t *changed, char *err, size_t errlen);
    int (*requeue_stale)(sm_store *s, int64_t age_ms, int64_t *changed, char *err, size_t errlen);
    int (*cleanup)(sm_store *s, int64_t age_ms, bool include_published, bool archive,
                   int64_t *removed, char *err, size_t errlen);
    int (*wait)(sm_store *s, int timeout_ms, char *err, size_t errlen);
    int (*wait_fd)(sm_store *s);
    uint64_t (*owned)(const sm_store *s);
    /* where claims start (store.h: sm_store_set_claim_cursor, sm_store_rewind) */
    void (*set_claim_cursor)(sm_store *s, bool on);
    void (*rewind)(sm_store *s, int64_t id);
    /* slot leases; NULL where there are none (SQLite: one relay) */
    void (*set_lease_ms)(sm_store *s, int64_t ms);
} sm_store_ops;

/* The part every store shares; implementations embed it first. */
struct sm_store {
    const sm_store_ops *ops;
    bool is_pg;
    char name[256]; /* the database as messages name it; never a password */
    int poll_ms;
    int heartbeat_ttl_ms;
    bool dead_holds_key; /* a DEAD row holds its key's later rows (on.dead=block) */
};

#define SM_STORE_DEFAULT_POLL_MS 10
#define SM_STORE_DEFAULT_TTL_MS 10000
#define SM_STORE_ALL_SLOTS (~(uint64_t)0)

int sm_store_sqlite_open(sm_store **out, const char *path, char *err, size_t errlen);
int sm_store_pg_open(sm_store **out, const char *url, char *err, size_t errlen);

/* The slot of a key for stores that compute it in C (SQLite); PostgreSQL
 * computes its own in the generated column samsa_outbox.slot. */
int sm_slot_of(const char *key, size_t len);

/* ---- schema (schema.c) ------------------------------------------------------ */

/* Applies every migration newer than the database's version up to target
 * (0: the newest; an older one for tests of upgrades), in one transaction
 * (SQLite: BEGIN IMMEDIATE; PostgreSQL: under an advisory transaction lock,
 * so concurrent migrators queue). The connection must not be inside a
 * transaction. Messages name db->name. */
int sm_schema_apply(struct sm_db *db, int target, char *err, size_t errlen);
/* 0 when the database has no samsa schema yet. */
int sm_schema_version(struct sm_db *db, int *version, char *err, size_t errlen);

/* ---- SQLite helpers --------------------------------------------------------- */

/* "sqlite:PATH" of the main database, for messages. */
void sm_sqlite_name(sqlite3 *db, char *out, size_t outlen);
/* Fails with "<name>: <op>: <sqlite message>" and returns SM_ERR. */
int sm_sqlite_fail(char *err, size_t errlen, const char *name, const char *op, sqlite3 *db);

/* ---- libpq helpers (pg_util.c) ---------------------------------------------- */

/* Type OIDs used for binary parameters (pg_type.h is server-side only). */
#define SM_OID_BOOL 16
#define SM_OID_BYTEA 17
#define SM_OID_INT8 20
#define SM_OID_INT2 21
#define SM_OID_INT4 23
#define SM_OID_TEXT 25
#define SM_OID_INT2ARR 1005
#define SM_OID_INT4ARR 1007
#define SM_OID_INT8ARR 1016

/* "postgresql://user@host:port/db" of a connection, or of a URL/conninfo
 * before connecting: built from the parsed fields, so a password in the URL
 * never reaches a message. */
void sm_pg_name_conn(PGconn *c, char *out, size_t outlen);
void sm_pg_name_url(const char *url, char *out, size_t outlen);

/* Fails with "<name>: <op>: <severity> <sqlstate>: <message> (<detail>)",
 * from r when it carries an error, else from the connection. Returns SM_EIO
 * when the connection is lost, SM_ERR otherwise. */
int sm_pg_fail(char *err, size_t errlen, const char *name, const char *op, PGconn *c,
               const PGresult *r);
/* True if r is a result of the expected status; PQclear is the caller's. */
bool sm_pg_ok(const PGresult *r, ExecStatusType want);

/* Binary one-dimensional arrays, appended to w (array_recv's format). */
void sm_pg_arr_begin(sm_wbuf *w, uint32_t elem_oid, int n);
void sm_pg_arr_int2(sm_wbuf *w, const int16_t *v, int n);
void sm_pg_arr_int4(sm_wbuf *w, const int32_t *v, int n);
void sm_pg_arr_int8(sm_wbuf *w, const int64_t *v, int n);

/* Binary result fields. NULL fields read as 0 / NULL. */
int64_t sm_pg_get_i64(const PGresult *r, int row, int col);
int32_t sm_pg_get_i32(const PGresult *r, int row, int col);
int16_t sm_pg_get_i16(const PGresult *r, int row, int col);
bool sm_pg_get_bool(const PGresult *r, int row, int col);
/* timestamptz (microseconds since 2000-01-01) as ms since the Unix epoch. */
int64_t sm_pg_get_ts_ms(const PGresult *r, int row, int col);
/* A malloc'd NUL-terminated copy of a text/bytea field, or NULL if the field
 * is NULL (*len = -1); *ok = false when out of memory. */
char *sm_pg_get_dup(const PGresult *r, int row, int col, int32_t *len, bool *ok);

/* Affected rows of a command result (PQcmdTuples). */
int64_t sm_pg_cmd_rows(PGresult *r);

/* Kafka topic names: 1..249 of [a-zA-Z0-9._-], not "." or "..". */
bool sm_topic_valid(const char *topic);
/* Canonical UUID text (8-4-4-4-12 hex digits, either case); out gets it in
 * lower case (37 bytes). */
bool sm_uuid_norm(const char *in, char out[37]);
/* Checks headers JSON: an object whose values are strings (what the relay
 * accepts), no name starting with "samsa.". */
int sm_headers_check(const char *json, char *err, size_t errlen);
/* The checks both enqueue functions make before touching the database:
 * topic, payload, event id (normalized into uuid when given), headers. */
struct samsa_event;
int sm_check_event(const struct samsa_event *ev, char uuid[37], char *err, size_t errlen);
/* The checks both inbox functions make: consumer and event id 1..200
 * bytes. SM_EINVAL and msg says which. */
int sm_check_inbox(const char *consumer, const char *event_id, char *msg, size_t msglen);

#endif
