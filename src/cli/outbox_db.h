/* outbox_db.h: the samsa command's own access to an outbox database
 * (sqlite:PATH or a postgresql:// URL), for what the relay's store does not
 * offer: listing and showing rows, re-queueing DEAD ones, counts per topic.
 * It follows the table contract of docs/outbox.md and nothing else; every
 * time is handed out as milliseconds since the epoch on both databases.
 *
 * Errors are printed through sm_cli_fail; functions return SM_EXIT_* codes. */
#ifndef SM_CLI_OUTBOX_DB_H
#define SM_CLI_OUTBOX_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/cli.h"

typedef struct sm_odb sm_odb;

/* One outbox row. Strings are NUL-terminated or NULL (SQL NULL); payload
 * has payload_len bytes (-1: NULL). Owned by the row (sm_odb_row_release). */
typedef struct sm_odb_row {
    int64_t id;
    char *event_id, *topic, *key, *type, *headers, *status, *last_error;
    uint8_t *payload;
    int64_t payload_len;
    int64_t created_at, next_attempt_at, published_at; /* -1: NULL */
    int32_t attempts;
    int32_t partition; /* -1: NULL */
    int64_t offset;    /* -1: NULL */
    int64_t archived_at; /* -1: a live row; else it was found in samsa_outbox_archive */
} sm_odb_row;

void sm_odb_row_release(sm_odb_row *r);
void sm_odb_rows_free(sm_odb_row *rows, int n);

/* url: "sqlite:PATH" (the file must exist unless create) or postgresql://.
 * Checks that samsa_outbox exists unless create. */
int sm_odb_open(sm_cli *c, const char *url, bool create, sm_odb **out);
void sm_odb_close(sm_odb *db);
/* The URL without a password, for messages. */
const char *sm_odb_name(const sm_odb *db);
bool sm_odb_is_pg(const sm_odb *db);
/* The underlying handle, for libsamsa's functions: sqlite3* or PGconn*. */
void *sm_odb_handle(sm_odb *db);

typedef struct sm_odb_filter {
    const char *status; /* NULL: any */
    const char *topic;  /* NULL: any */
    const char *key;    /* NULL: any */
    int64_t after_id;   /* 0: from the start */
    bool newest_first;
    int limit;
} sm_odb_filter;

int sm_odb_list(sm_odb *db, const sm_odb_filter *f, sm_odb_row **rows, int *n);
/* By row id (when ref is all digits) or event id; then in the archive.
 * SM_EXIT_NOTFOUND (printed) when there is no such row. */
int sm_odb_get(sm_odb *db, const char *ref, sm_odb_row *row);

/* Re-queues one DEAD row: status INIT, attempts 0, next_attempt_at now.
 * A row that is not DEAD is an error naming its status. */
int sm_odb_retry_one(sm_odb *db, int64_t id);
/* Every DEAD row (of topic, unless NULL); *n gets how many. */
int sm_odb_retry_all(sm_odb *db, const char *topic, int64_t *n);
/* PostgreSQL: wakes a waiting relay (NOTIFY samsa_outbox) after rows went
 * back to INIT; SQLite: nothing (the relay sees every commit). */
void sm_odb_notify(sm_odb *db);

/* Rows by status and the age of the oldest INIT row (-1: none): what the
 * relay's metrics report, computed on this read-only connection. */
typedef struct sm_odb_stats {
    int64_t init, published, complete, dead;
    int64_t oldest_init_age_ms;
    int64_t oldest_init_id; /* valid when have_oldest */
    bool have_oldest;
    /* INIT rows the relay never claims: ids <= 0 (written explicitly before
     * schema v2 refused that; claims look above id 0) */
    int64_t unclaimable;
    int64_t unclaimable_first_id;
} sm_odb_stats;

/* Why the relay would never claim this INIT row, or NULL. */
const char *sm_odb_unclaimable_why(const sm_odb_row *r);
#define SM_ODB_UNCLAIMABLE_WHY                                                                    \
    "never claimed by the relay: id <= 0 (an explicit id; the relay claims ids above 0)"

int sm_odb_stats_get(sm_odb *db, sm_odb_stats *st);

typedef struct sm_odb_topic_counts {
    char *topic;
    int64_t init, published, complete, dead;
} sm_odb_topic_counts;
int sm_odb_topic_counts_get(sm_odb *db, sm_odb_topic_counts **v, int *n);
void sm_odb_topic_counts_free(sm_odb_topic_counts *v, int n);

#endif
