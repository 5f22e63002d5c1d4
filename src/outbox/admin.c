/* admin.c: the operator's view of an outbox (admin.h) on db.h. Statements
 * are written once; only the column lists differ, because PostgreSQL keeps
 * times as timestamptz and payloads as bytea while SQLite keeps
 * milliseconds and blobs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "outbox/admin.h"
#include "outbox/outbox_int.h"

/* Every column of a row, in sm_admin_row order; the caller adds archived_at. */
#define SQ_COLS                                                                                   \
    "id, event_id, topic, key, type, payload, headers, created_at, status, attempts,"             \
    " next_attempt_at, last_error, kafka_partition, kafka_offset, published_at"
#define PG_MS(x) "floor(extract(epoch FROM " x ") * 1000)::bigint"
#define PG_COLS                                                                                   \
    "id, event_id::text, topic, key, type, encode(payload, 'hex'), headers::text, "              \
    PG_MS("created_at") ", status, attempts, " PG_MS("next_attempt_at") ", last_error,"          \
    " kafka_partition, kafka_offset, " PG_MS("published_at")

int sm_admin_check_table(sm_db *db, char *err, size_t errlen)
{
    const char *sql = sm_db_is_pg(db) ? "SELECT (to_regclass('samsa_outbox') IS NOT NULL)::int"
                                      : "SELECT count(*) > 0 FROM sqlite_master"
                                        " WHERE type = 'table' AND name = 'samsa_outbox'";
    sm_db_res r;
    int rc = sm_db_query(db, "looking for samsa_outbox", sql, NULL, 0, &r, err, errlen);
    if (rc)
        return rc;
    bool exists = sm_db_next(&r) && sm_db_i64(&r, 0, 0) > 0;
    if ((rc = sm_db_done(&r, err, errlen)))
        return rc;
    if (!exists)
        return sm_fail(err, errlen, SM_ENOENT,
                       "%s has no samsa_outbox table (create it with 'samsa outbox init'"
                       " or 'samsa-relay --init-schema')",
                       db->name);
    return SM_OK;
}

/* ---- rows ------------------------------------------------------------------ */

static void read_row(const sm_db_res *r, sm_admin_row *row)
{
    memset(row, 0, sizeof *row);
    row->id = sm_db_i64(r, 0, 0);
    row->event_id = sm_db_str(r, 1);
    row->topic = sm_db_str(r, 2);
    row->key = sm_db_str(r, 3);
    row->type = sm_db_str(r, 4);
    row->payload = sm_db_blob(r, 5, &row->payload_len);
    row->headers = sm_db_str(r, 6);
    row->created_at = sm_db_i64(r, 7, -1);
    row->status = sm_db_str(r, 8);
    row->attempts = (int32_t)sm_db_i64(r, 9, 0);
    row->next_attempt_at = sm_db_i64(r, 10, -1);
    row->last_error = sm_db_str(r, 11);
    row->partition = (int32_t)sm_db_i64(r, 12, -1);
    row->offset = sm_db_i64(r, 13, -1);
    row->published_at = sm_db_i64(r, 14, -1);
    row->archived_at = sm_db_i64(r, 15, -1);
}

void sm_admin_row_release(sm_admin_row *r)
{
    free(r->event_id);
    free(r->topic);
    free(r->key);
    free(r->type);
    free(r->headers);
    free(r->status);
    free(r->last_error);
    free(r->payload);
    memset(r, 0, sizeof *r);
}

void sm_admin_rows_free(sm_admin_row *rows, int n)
{
    for (int i = 0; rows && i < n; i++)
        sm_admin_row_release(&rows[i]);
    free(rows);
}

int sm_admin_list(sm_db *db, const sm_admin_filter *f, sm_admin_row **rows, int *n, char *err,
                  size_t errlen)
{
    char sql[2048];
    sm_db_param p[6];
    int np = 0;
    size_t o = (size_t)snprintf(sql, sizeof sql, "SELECT %s, NULL FROM samsa_outbox WHERE id > $1",
                                sm_db_is_pg(db) ? PG_COLS : SQ_COLS);
    p[np++] = SM_DB_INT(f->after_id);
    if (f->status) {
        p[np++] = SM_DB_TEXT(f->status);
        o += (size_t)snprintf(sql + o, sizeof sql - o, " AND status = $%d", np);
    }
    if (f->topic) {
        p[np++] = SM_DB_TEXT(f->topic);
        o += (size_t)snprintf(sql + o, sizeof sql - o, " AND topic = $%d", np);
    }
    if (f->key) {
        p[np++] = SM_DB_TEXT(f->key);
        o += (size_t)snprintf(sql + o, sizeof sql - o, " AND key = $%d", np);
    }
    p[np++] = SM_DB_INT(f->limit);
    snprintf(sql + o, sizeof sql - o, " ORDER BY id %s LIMIT $%d",
             f->newest_first ? "DESC" : "ASC", np);
    *rows = NULL;
    *n = 0;
    sm_db_res r;
    int rc = sm_db_query(db, "listing rows", sql, p, np, &r, err, errlen);
    if (rc)
        return rc;
    int cap = 0;
    while (sm_db_next(&r)) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            sm_admin_row *v = realloc(*rows, (size_t)cap * sizeof *v);
            if (!v) {
                sm_db_done(&r, NULL, 0);
                return sm_fail(err, errlen, SM_ENOMEM, "%s: listing rows: out of memory",
                               db->name);
            }
            *rows = v;
        }
        read_row(&r, &(*rows)[(*n)++]);
    }
    return sm_db_done(&r, err, errlen);
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

int sm_admin_get(sm_db *db, const char *ref, sm_admin_row *row, char *err, size_t errlen)
{
    bool pg = sm_db_is_pg(db);
    bool by_id = all_digits(ref) && strlen(ref) < 19;
    sm_db_param p = by_id ? SM_DB_INT(strtoll(ref, NULL, 10)) : SM_DB_TEXT(ref);
    /* PostgreSQL's event_id is a uuid: compare as text so a malformed one is
     * simply not found */
    const char *where = by_id ? "id = $1" : pg ? "event_id::text = lower($1)"
                                               : "event_id = lower($1)";
    for (int archive = 0; archive < 2; archive++) {
        char sql[1024];
        snprintf(sql, sizeof sql, "SELECT %s, %s FROM %s WHERE %s", pg ? PG_COLS : SQ_COLS,
                 archive ? (pg ? PG_MS("archived_at") : "archived_at") : "NULL",
                 archive ? "samsa_outbox_archive" : "samsa_outbox", where);
        sm_db_res r;
        int rc = sm_db_query(db, "reading the row", sql, &p, 1, &r, err, errlen);
        if (rc)
            return rc;
        bool found = sm_db_next(&r);
        if (found)
            read_row(&r, row);
        rc = sm_db_done(&r, err, errlen);
        if (rc) {
            if (found)
                sm_admin_row_release(row);
            return rc;
        }
        if (found)
            return SM_OK;
    }
    return sm_fail(err, errlen, SM_ENOENT, "no outbox row %s%s in %s",
                   by_id ? "" : "with event id ", ref, db->name);
}

/* ---- re-queueing ------------------------------------------------------------------ */

/* $1 is the row id or the topic; SQLite gets the time as $2 (ms), while
 * PostgreSQL uses now() and is given only $1 (it refuses unused ones). */
static const char *requeue_sql(const sm_db *db)
{
    return sm_db_is_pg(db) ? "UPDATE samsa_outbox SET status = 'INIT', attempts = 0,"
                             " next_attempt_at = now() WHERE status = 'DEAD'"
                           : "UPDATE samsa_outbox SET status = 'INIT', attempts = 0,"
                             " next_attempt_at = $2 WHERE status = 'DEAD'";
}

int sm_admin_notify(sm_db *db, char *err, size_t errlen)
{
    if (!sm_db_is_pg(db))
        return SM_OK; /* SQLite: the relay polls PRAGMA data_version */
    return sm_db_exec(db, "notifying the relay", "SELECT pg_notify('" SM_PG_CHANNEL "', '')",
                      NULL, 0, NULL, err, errlen);
}

int sm_admin_retry_one(sm_db *db, int64_t id, char *err, size_t errlen)
{
    char sql[512];
    sm_db_param p[2] = {SM_DB_INT(id), SM_DB_INT(sm_wall_ms())};
    snprintf(sql, sizeof sql, "%s AND id = $1", requeue_sql(db));
    int64_t changed = 0;
    int rc = sm_db_exec(db, "re-queueing", sql, p, sm_db_is_pg(db) ? 1 : 2, &changed, err,
                        errlen);
    if (rc || changed == 1)
        return rc;
    char ref[32];
    snprintf(ref, sizeof ref, "%lld", (long long)id);
    sm_admin_row row;
    rc = sm_admin_get(db, ref, &row, err, errlen);
    if (rc)
        return rc;
    if (row.archived_at >= 0)
        rc = sm_fail(err, errlen, SM_ERR,
                     "row %lld is archived (%s); only DEAD rows of samsa_outbox are re-queued",
                     (long long)id, row.status);
    else
        rc = sm_fail(err, errlen, SM_ERR, "row %lld is %s, not DEAD; only DEAD rows are re-queued",
                     (long long)id, row.status);
    sm_admin_row_release(&row);
    return rc;
}

int sm_admin_retry_all(sm_db *db, const char *topic, int64_t *n, char *err, size_t errlen)
{
    char sql[512];
    sm_db_param p[2] = {SM_DB_TEXT(topic ? topic : ""), SM_DB_INT(sm_wall_ms())};
    snprintf(sql, sizeof sql, "%s%s", requeue_sql(db), topic ? " AND topic = $1" : "");
    return sm_db_exec(db, "re-queueing", sql, p, sm_db_is_pg(db) ? (topic ? 1 : 0) : 2, n, err,
                      errlen);
}

/* ---- counts ------------------------------------------------------------------ */

int sm_admin_stats(sm_db *db, sm_store_stats *st, char *err, size_t errlen)
{
    /* The status predicates repeat the partial indexes' (docs/outbox.md), so
     * SQLite sees them implied. The oldest INIT row's age: PostgreSQL's
     * clock (the relay may run elsewhere), SQLite's rows are ours. */
#define STATS_SQL(oldest)                                                                         \
    "SELECT (SELECT count(*) FROM samsa_outbox WHERE status = 'INIT'),"                           \
    " (SELECT count(*) FROM samsa_outbox WHERE status = 'PUBLISHED'),"                            \
    " (SELECT count(*) FROM samsa_outbox WHERE status IN ('COMPLETE', 'DEAD')"                    \
    "  AND status = 'COMPLETE'),"                                                                 \
    " (SELECT count(*) FROM samsa_outbox WHERE status IN ('COMPLETE', 'DEAD')"                    \
    "  AND status = 'DEAD'),"                                                                     \
    " (SELECT id FROM samsa_outbox WHERE status = 'INIT' ORDER BY id LIMIT 1),"                   \
    " (SELECT " oldest " FROM samsa_outbox WHERE status = 'INIT' ORDER BY id LIMIT 1),"          \
    " (SELECT count(*) FROM samsa_outbox WHERE status = 'INIT' AND id <= 0),"                     \
    " (SELECT min(id) FROM samsa_outbox WHERE status = 'INIT' AND id <= 0)"
    static const char pg_sql[] = STATS_SQL(PG_MS("now() - created_at"));
    static const char sq_sql[] = STATS_SQL("created_at");
#undef STATS_SQL
    bool pg = sm_db_is_pg(db);
    memset(st, 0, sizeof *st);
    st->oldest_init_age_ms = -1;
    st->oldest_init_id = -1;
    sm_db_res r;
    int rc = sm_db_query(db, "stats", pg ? pg_sql : sq_sql, NULL, 0, &r, err, errlen);
    if (rc)
        return rc;
    if (sm_db_next(&r)) {
        st->init = sm_db_i64(&r, 0, 0);
        st->published = sm_db_i64(&r, 1, 0);
        st->complete = sm_db_i64(&r, 2, 0);
        st->dead = sm_db_i64(&r, 3, 0);
        if (!sm_db_null(&r, 4)) {
            st->have_oldest = true;
            st->oldest_init_id = sm_db_i64(&r, 4, -1);
        }
        if (!sm_db_null(&r, 5)) {
            int64_t v = sm_db_i64(&r, 5, 0);
            int64_t age = pg ? v : sm_wall_ms() - v;
            st->oldest_init_age_ms = age < 0 ? 0 : age;
        }
        st->unclaimable = sm_db_i64(&r, 6, 0);
        st->unclaimable_first_id = sm_db_i64(&r, 7, 0);
    }
    return sm_db_done(&r, err, errlen);
}

const char *sm_admin_unclaimable_why(const sm_admin_row *r)
{
    if (r->id <= 0 && r->status && !strcmp(r->status, "INIT"))
        return SM_ADMIN_UNCLAIMABLE_WHY;
    return NULL;
}

int sm_admin_topic_counts_get(sm_db *db, sm_admin_topic_counts **v, int *n, char *err,
                          size_t errlen)
{
    static const char sql[] =
        "SELECT topic, sum(CASE WHEN status = 'INIT' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 'PUBLISHED' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 'COMPLETE' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 'DEAD' THEN 1 ELSE 0 END)"
        " FROM samsa_outbox GROUP BY topic ORDER BY topic";
    *v = NULL;
    *n = 0;
    sm_db_res r;
    int rc = sm_db_query(db, "counting rows per topic", sql, NULL, 0, &r, err, errlen);
    if (rc)
        return rc;
    int cap = 0;
    while (sm_db_next(&r)) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            sm_admin_topic_counts *nv = realloc(*v, (size_t)cap * sizeof *nv);
            if (!nv) {
                sm_db_done(&r, NULL, 0);
                return sm_fail(err, errlen, SM_ENOMEM,
                               "%s: counting rows per topic: out of memory", db->name);
            }
            *v = nv;
        }
        sm_admin_topic_counts *t = &(*v)[(*n)++];
        t->topic = sm_db_str(&r, 0);
        t->init = sm_db_i64(&r, 1, 0);
        t->published = sm_db_i64(&r, 2, 0);
        t->complete = sm_db_i64(&r, 3, 0);
        t->dead = sm_db_i64(&r, 4, 0);
    }
    return sm_db_done(&r, err, errlen);
}

void sm_admin_topic_counts_free(sm_admin_topic_counts *v, int n)
{
    for (int i = 0; v && i < n; i++)
        free(v[i].topic);
    free(v);
}
