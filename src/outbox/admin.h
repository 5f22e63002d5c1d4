/* admin.h: the operator's view of an outbox, internal to libsamsa: rows
 * listed and shown, DEAD rows re-queued, counts by status and per topic.
 * The samsa command's `outbox` subcommands use it, and the counts are the
 * relay's metrics too (sm_store_stats_get calls sm_admin_stats), so both
 * say the same. Everything runs on db.h, one SQL text for SQLite and
 * PostgreSQL; times are handed out as milliseconds since the epoch.
 *
 * Threads, ownership and errors are db.h's: one thread per sm_db; rows and
 * counts handed out are the caller's (sm_admin_row_release,
 * sm_admin_rows_free, sm_admin_topic_counts_free); functions return SM_OK
 * or a negative code and fill err, SM_ENOENT for a row or a table that is
 * not there. */
#ifndef SM_OUTBOX_ADMIN_H
#define SM_OUTBOX_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outbox/db.h"
#include "outbox/store.h"

/* SM_ENOENT (err says how to create it) unless samsa_outbox exists. */
int sm_admin_check_table(sm_db *db, char *err, size_t errlen);

/* One outbox row. Strings are NUL-terminated or NULL (SQL NULL); payload
 * has payload_len bytes (-1: NULL). Owned by the row. */
typedef struct sm_admin_row {
    int64_t id;
    char *event_id, *topic, *key, *type, *headers, *status, *last_error;
    uint8_t *payload;
    int64_t payload_len;
    int64_t created_at, next_attempt_at, published_at; /* -1: NULL */
    int32_t attempts;
    int32_t partition; /* -1: NULL */
    int64_t offset;    /* -1: NULL */
    int64_t archived_at; /* -1: a live row; else it was found in samsa_outbox_archive */
} sm_admin_row;

void sm_admin_row_release(sm_admin_row *r);
void sm_admin_rows_free(sm_admin_row *rows, int n);

typedef struct sm_admin_filter {
    const char *status; /* NULL: any */
    const char *topic;  /* NULL: any */
    const char *key;    /* NULL: any */
    int64_t after_id;   /* only ids above it */
    bool newest_first;
    int limit;
} sm_admin_filter;

int sm_admin_list(sm_db *db, const sm_admin_filter *f, sm_admin_row **rows, int *n, char *err,
                  size_t errlen);
/* By row id (when ref is all digits) or event id; then in the archive.
 * SM_ENOENT when there is no such row. */
int sm_admin_get(sm_db *db, const char *ref, sm_admin_row *row, char *err, size_t errlen);

/* Re-queues one DEAD row: status INIT, attempts 0, next_attempt_at now.
 * A row that is not DEAD is SM_ERR naming its status; no row SM_ENOENT. */
int sm_admin_retry_one(sm_db *db, int64_t id, char *err, size_t errlen);
/* Every DEAD row (of topic, unless NULL); *n gets how many. */
int sm_admin_retry_all(sm_db *db, const char *topic, int64_t *n, char *err, size_t errlen);
/* PostgreSQL: wakes a waiting relay (NOTIFY samsa_outbox) after rows went
 * back to INIT; SQLite: nothing (the relay sees every commit). */
int sm_admin_notify(sm_db *db, char *err, size_t errlen);

/* Counts by status, the oldest INIT row and its age, and the INIT rows no
 * relay claims (store.h's sm_store_stats). */
int sm_admin_stats(sm_db *db, sm_store_stats *st, char *err, size_t errlen);

/* Why the relay would never claim this INIT row, or NULL. */
const char *sm_admin_unclaimable_why(const sm_admin_row *r);
#define SM_ADMIN_UNCLAIMABLE_WHY                                                                  \
    "never claimed by the relay: id <= 0 (an explicit id; the relay claims ids above 0)"

typedef struct sm_admin_topic_counts {
    char *topic;
    int64_t init, published, complete, dead;
} sm_admin_topic_counts;
int sm_admin_topic_counts_get(sm_db *db, sm_admin_topic_counts **v, int *n, char *err,
                          size_t errlen);
void sm_admin_topic_counts_free(sm_admin_topic_counts *v, int n);

#endif
