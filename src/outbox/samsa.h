/* samsa.h: libsamsa, the outbox write API and the consumer inbox for C
 * services, on SQLite or PostgreSQL (libpq). The tables are docs/outbox.md;
 * this library is a convenience over them, not a requirement.
 *
 * Writing: call samsa_outbox_enqueue_* inside the transaction that makes the
 * business change, then commit it yourself. The event exists exactly when
 * the transaction commits; samsa-relay publishes it to Kafka afterwards.
 *
 * Consuming: in the transaction that applies an event's effect, call
 * samsa_inbox_begin_* first: 1 means new (apply it, commit), 0 means already
 * processed (commit or roll back, apply nothing). After your commit, commit
 * the Kafka offset. A redelivered event then finds its inbox row and is
 * skipped. The event id comes from the Kafka header SAMSA_HEADER_EVENT_ID.
 *
 * Ownership: the library never keeps a pointer you pass it beyond the call,
 * never frees your memory, and hands you nothing to free. It never begins,
 * commits or rolls back your transactions (only samsa_schema_apply_* runs
 * its own, on a connection that is not inside one). A connection is used by
 * one thread at a time, as SQLite and libpq require.
 *
 * Errors: functions return SAMSA_OK (0) or a negative SAMSA_E* code and, when
 * err is not NULL, write a one-line reason into err (errlen bytes,
 * NUL-terminated) naming the database and the operation. A database error
 * inside your transaction leaves it failed: roll it back.
 *
 * Speed: on PostgreSQL the insert is prepared once per connection (named
 * statements "samsa_enqueue_v1" and "samsa_inbox_v1", tracked with a libpq
 * event procedure, so PQreset and PQfinish are handled). If something drops
 * them behind the library's back (DISCARD ALL, DEALLOCATE ALL, a
 * transaction-pooling proxy), the next call fails once with a message that
 * says so, and prepares again on the call after. */
#ifndef SAMSA_H
#define SAMSA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sqlite3 sqlite3;
typedef struct pg_conn PGconn;

enum {
    SAMSA_OK = 0,
    SAMSA_ERR = -1,    /* the database refused or failed; see err */
    SAMSA_ENOMEM = -3,
    SAMSA_EIO = -4,    /* the connection to the database is lost */
    SAMSA_EINVAL = -8, /* bad argument, or not inside a transaction */
};

/* Newest schema version this library creates (samsa_schema_version table). */
#define SAMSA_SCHEMA_VERSION 3

/* Kafka headers the relay puts on every record (values are UTF-8 text). */
#define SAMSA_HEADER_EVENT_ID "samsa.event_id"     /* the row's event_id (UUID) */
#define SAMSA_HEADER_TYPE "samsa.type"             /* the row's type, when set */
#define SAMSA_HEADER_CREATED_AT "samsa.created_at" /* ms since the Unix epoch, decimal */

/* Room for an event id: a canonical UUID and its NUL. */
#define SAMSA_EVENT_ID_SIZE 37

/* One event to enqueue. Every pointer is the caller's and is only read
 * during the call. */
typedef struct samsa_event {
    const char *topic;        /* required: a Kafka topic name ([a-zA-Z0-9._-], 1..249) */
    const char *key;          /* NULL: no key (no per-key order); else NUL-terminated text */
    const void *payload;      /* the record value: payload_len bytes (NULL only when 0) */
    size_t payload_len;
    const char *type;         /* NULL: none; goes to the samsa.type header */
    const char *headers_json; /* NULL: none; a JSON object of string values,
                                 e.g. {"trace-id":"abc"}; names "samsa.*" are reserved */
    const char *event_id;     /* NULL: a random UUID v4 is generated; else a UUID in
                                 canonical text (stored in lower case) */
} samsa_event;

/* INSERT one event into samsa_outbox inside the caller's open transaction.
 * Refuses (SAMSA_EINVAL, nothing written) when no transaction is open, when
 * the topic, event id or headers are invalid. event_id_out: NULL, or
 * SAMSA_EVENT_ID_SIZE bytes that receive the event id used. */
int samsa_outbox_enqueue_sqlite(sqlite3 *db, const samsa_event *ev, char *event_id_out,
                                char *err, size_t errlen);
int samsa_outbox_enqueue_pg(PGconn *conn, const samsa_event *ev, char *event_id_out, char *err,
                            size_t errlen);

/* Records (consumer, event_id) in samsa_inbox inside the caller's open
 * transaction. Returns 1 if the event is new for this consumer (apply it,
 * then commit), 0 if it was already processed (skip it), or a negative
 * SAMSA_E* code. consumer: the consuming service (usually the Kafka group
 * id); event_id: the SAMSA_HEADER_EVENT_ID header (any non-empty text up to
 * 200 bytes). On PostgreSQL, a concurrent transaction holding the same
 * (consumer, event_id) makes this wait for it: 0 if it commits, 1 if it
 * rolls back. If the transaction rolls back, the row goes with it. */
int samsa_inbox_begin_sqlite(sqlite3 *db, const char *consumer, const char *event_id, char *err,
                             size_t errlen);
int samsa_inbox_begin_pg(PGconn *conn, const char *consumer, const char *event_id, char *err,
                         size_t errlen);

/* Creates or upgrades the samsa tables to SAMSA_SCHEMA_VERSION on an
 * application's own connection, in one transaction of their own (the
 * connection must not be inside one). Safe to run from several processes at
 * once (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock), and again. */
int samsa_schema_apply_sqlite(sqlite3 *db, char *err, size_t errlen);
int samsa_schema_apply_pg(PGconn *conn, char *err, size_t errlen);

/* The schema version of the database (0: no samsa tables). */
int samsa_schema_version_sqlite(sqlite3 *db, int *version, char *err, size_t errlen);
int samsa_schema_version_pg(PGconn *conn, int *version, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
