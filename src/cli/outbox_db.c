/* outbox_db.c: the samsa command's SQL on an outbox database, SQLite or
 * PostgreSQL behind one small query helper. Statements are written once
 * with $1.. placeholders (PostgreSQL's; SQLite reads "$1" as a named
 * parameter and we bind by that name); only the column lists differ,
 * because PostgreSQL keeps times as timestamptz and payloads as bytea while
 * SQLite keeps milliseconds and blobs. */
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/clock.h"
#include "cli/outbox_db.h"

struct sm_odb {
    sm_cli *c;
    sqlite3 *sq;
    PGconn *pg;
    char name[512];
};

/* Every column of a row, in sm_odb_row order; the last is archived_at. */
#define SQ_COLS                                                                                   \
    "id, event_id, topic, key, type, payload, headers, created_at, status, attempts,"             \
    " next_attempt_at, last_error, kafka_partition, kafka_offset, published_at"
#define PG_MS(x) "floor(extract(epoch FROM " x ") * 1000)::bigint"
#define PG_COLS                                                                                   \
    "id, event_id::text, topic, key, type, encode(payload, 'hex'), headers::text, "              \
    PG_MS("created_at") ", status, attempts, " PG_MS("next_attempt_at") ", last_error,"          \
    " kafka_partition, kafka_offset, " PG_MS("published_at")

/* ---- the query helper --------------------------------------------------------- */

typedef struct odb_param {
    const char *s; /* text, or NULL for an integer */
    int64_t i;
} odb_param;

typedef struct odb_res {
    sm_odb *db;
    sqlite3_stmt *st;
    PGresult *pg;
    int row, nrows;
    bool failed;
    int64_t changed;
} odb_res;

/* The first line of a database's message (libpq adds hint lines). */
static void first_line(const char *msg, char *out, size_t len)
{
    snprintf(out, len, "%s", msg && *msg ? msg : "unknown error");
    out[strcspn(out, "\n")] = 0;
    size_t n = strlen(out);
    while (n && out[n - 1] == ' ')
        out[--n] = 0;
}

static int db_fail(sm_odb *db, const char *op)
{
    char clean[512];
    first_line(db->pg ? PQerrorMessage(db->pg) : sqlite3_errmsg(db->sq), clean, sizeof clean);
    int code = SM_EXIT_FAIL;
    if (db->pg && PQstatus(db->pg) != CONNECTION_OK)
        code = SM_EXIT_UNREACH;
    return sm_cli_fail(db->c, code, "%s: %s: %s", db->name, op, clean);
}

/* Runs sql. Rows are read with q_next; q_done frees. */
static int q_run(sm_odb *db, const char *sql, const odb_param *p, int np, odb_res *r,
                 const char *op)
{
    memset(r, 0, sizeof *r);
    r->db = db;
    r->row = -1;
    if (db->pg) {
        const char *vals[16] = {NULL};
        char nums[16][24];
        if (np > 16)
            np = 16; /* our statements take a handful */
        for (int i = 0; i < np; i++) {
            if (p[i].s) {
                vals[i] = p[i].s;
            } else {
                snprintf(nums[i], sizeof nums[i], "%lld", (long long)p[i].i);
                vals[i] = nums[i];
            }
        }
        r->pg = PQexecParams(db->pg, sql, np, NULL, vals, NULL, NULL, 0);
        ExecStatusType st = r->pg ? PQresultStatus(r->pg) : PGRES_FATAL_ERROR;
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            char clean[512];
            first_line(r->pg ? PQresultErrorMessage(r->pg) : PQerrorMessage(db->pg), clean,
                       sizeof clean);
            PQclear(r->pg);
            r->pg = NULL;
            return sm_cli_fail(db->c, PQstatus(db->pg) == CONNECTION_OK ? SM_EXIT_FAIL
                                                                       : SM_EXIT_UNREACH,
                               "%s: %s: %s", db->name, op, clean);
        }
        r->nrows = PQntuples(r->pg);
        const char *ct = PQcmdTuples(r->pg);
        r->changed = ct && *ct ? strtoll(ct, NULL, 10) : 0;
        return SM_EXIT_OK;
    }
    if (sqlite3_prepare_v2(db->sq, sql, -1, &r->st, NULL) != SQLITE_OK)
        return db_fail(db, op);
    for (int i = 0; i < np; i++) {
        char name[16];
        snprintf(name, sizeof name, "$%d", i + 1);
        int at = sqlite3_bind_parameter_index(r->st, name);
        if (!at)
            continue;
        if (p[i].s)
            sqlite3_bind_text(r->st, at, p[i].s, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_int64(r->st, at, p[i].i);
    }
    return SM_EXIT_OK;
}

static bool q_next(odb_res *r)
{
    if (r->pg)
        return ++r->row < r->nrows;
    int s = sqlite3_step(r->st);
    if (s == SQLITE_ROW)
        return true;
    if (s != SQLITE_DONE)
        r->failed = true;
    else
        r->changed = sqlite3_changes(r->db->sq);
    return false;
}

/* Runs a statement to its end (no rows wanted); *changed: rows changed. */
static int q_exec(sm_odb *db, const char *sql, const odb_param *p, int np, const char *op,
                  int64_t *changed)
{
    odb_res r;
    int rc = q_run(db, sql, p, np, &r, op);
    if (rc)
        return rc;
    while (q_next(&r))
        ;
    if (r.failed)
        rc = db_fail(db, op);
    if (changed)
        *changed = r.changed;
    if (r.st)
        sqlite3_finalize(r.st);
    PQclear(r.pg);
    return rc;
}

static void q_done(odb_res *r)
{
    if (r->st)
        sqlite3_finalize(r->st);
    PQclear(r->pg);
    r->st = NULL;
    r->pg = NULL;
}

static bool q_null(odb_res *r, int col)
{
    return r->pg ? PQgetisnull(r->pg, r->row, col)
                 : sqlite3_column_type(r->st, col) == SQLITE_NULL;
}

static char *q_str(odb_res *r, int col)
{
    if (q_null(r, col))
        return NULL;
    const char *s = r->pg ? PQgetvalue(r->pg, r->row, col)
                          : (const char *)sqlite3_column_text(r->st, col);
    return strdup(s ? s : "");
}

static int64_t q_i64(odb_res *r, int col, int64_t if_null)
{
    if (q_null(r, col))
        return if_null;
    return r->pg ? strtoll(PQgetvalue(r->pg, r->row, col), NULL, 10)
                 : sqlite3_column_int64(r->st, col);
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* A blob: SQLite's bytes, or PostgreSQL's encode(.., 'hex') decoded. */
static uint8_t *q_blob(odb_res *r, int col, int64_t *len)
{
    *len = -1;
    if (q_null(r, col))
        return NULL;
    if (r->pg) {
        const char *h = PQgetvalue(r->pg, r->row, col);
        size_t n = strlen(h) / 2;
        uint8_t *b = malloc(n + 1);
        for (size_t i = 0; b && i < n; i++)
            b[i] = (uint8_t)(hexval(h[2 * i]) << 4 | hexval(h[2 * i + 1]));
        *len = b ? (int64_t)n : -1;
        return b;
    }
    int n = sqlite3_column_bytes(r->st, col);
    const void *p = sqlite3_column_blob(r->st, col);
    uint8_t *b = malloc((size_t)n + 1);
    if (b && n)
        memcpy(b, p, (size_t)n);
    *len = b ? n : -1;
    return b;
}

static void read_row(odb_res *r, sm_odb_row *row)
{
    memset(row, 0, sizeof *row);
    row->id = q_i64(r, 0, 0);
    row->event_id = q_str(r, 1);
    row->topic = q_str(r, 2);
    row->key = q_str(r, 3);
    row->type = q_str(r, 4);
    row->payload = q_blob(r, 5, &row->payload_len);
    row->headers = q_str(r, 6);
    row->created_at = q_i64(r, 7, -1);
    row->status = q_str(r, 8);
    row->attempts = (int32_t)q_i64(r, 9, 0);
    row->next_attempt_at = q_i64(r, 10, -1);
    row->last_error = q_str(r, 11);
    row->partition = (int32_t)q_i64(r, 12, -1);
    row->offset = q_i64(r, 13, -1);
    row->published_at = q_i64(r, 14, -1);
    row->archived_at = q_i64(r, 15, -1);
}

void sm_odb_row_release(sm_odb_row *r)
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

void sm_odb_rows_free(sm_odb_row *rows, int n)
{
    for (int i = 0; rows && i < n; i++)
        sm_odb_row_release(&rows[i]);
    free(rows);
}

/* ---- open ------------------------------------------------------------------ */

/* postgresql://user:secret@host/db -> postgresql://user@host/db */
static void name_of(const char *url, char *out, size_t len)
{
    const char *scheme = strstr(url, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (colon)
        snprintf(out, len, "%.*s%s", (int)(colon - url), url, at);
    else
        snprintf(out, len, "%s", url);
    /* a password=... parameter in the query string */
    char *pw = strstr(out, "password=");
    if (pw) {
        char *end = strchr(pw, '&');
        memmove(pw + 9, "***", 4);
        if (end)
            snprintf(pw + 12, len - (size_t)(pw + 12 - out), "%s", end);
    }
}

int sm_odb_open(sm_cli *c, const char *url, bool create, sm_odb **out)
{
    *out = NULL;
    if (!url || !*url)
        return sm_cli_fail(c, SM_EXIT_USAGE,
                           "which outbox database? give --db sqlite:PATH or --db postgresql://..."
                           " (or set SAMSA_OUTBOX_DB)");
    bool is_sqlite = !strncmp(url, "sqlite:", 7);
    bool is_pg = !strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11);
    if (!is_sqlite && !is_pg)
        return sm_cli_fail(c, SM_EXIT_USAGE,
                           "--db '%s': expected sqlite:PATH or a postgresql:// URL", url);
    sm_odb *db = calloc(1, sizeof *db);
    if (!db)
        return sm_cli_fail(c, SM_EXIT_FAIL, "out of memory");
    db->c = c;
    name_of(url, db->name, sizeof db->name);
    int rc;
    if (is_sqlite) {
        const char *path = url + 7;
        struct stat sb;
        if (!*path) {
            rc = sm_cli_fail(c, SM_EXIT_USAGE, "--db sqlite: needs a path (sqlite:PATH)");
            goto fail;
        }
        if (!create && stat(path, &sb)) {
            rc = sm_cli_fail(c, SM_EXIT_NOTFOUND, "%s: no such file", db->name);
            goto fail;
        }
        int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
        if (sqlite3_open_v2(path, &db->sq, flags, NULL) != SQLITE_OK) {
            rc = db->sq ? db_fail(db, "open") : sm_cli_fail(c, SM_EXIT_FAIL, "out of memory");
            goto fail;
        }
        sqlite3_busy_timeout(db->sq, 5000);
    } else {
        const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
        const char *const vals[] = {"10", "samsa-cli", url, NULL};
        db->pg = PQconnectdbParams(keys, vals, 1);
        if (!db->pg) {
            rc = sm_cli_fail(c, SM_EXIT_FAIL, "out of memory");
            goto fail;
        }
        if (PQstatus(db->pg) != CONNECTION_OK) {
            rc = db_fail(db, "connect");
            goto fail;
        }
    }
    if (!create) {
        odb_res r;
        const char *sql = db->pg ? "SELECT to_regclass('samsa_outbox') IS NOT NULL"
                                 : "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                                   " AND name = 'samsa_outbox'";
        rc = q_run(db, sql, NULL, 0, &r, "looking for samsa_outbox");
        if (rc)
            goto fail;
        bool exists = false;
        if (q_next(&r))
            exists = db->pg ? !strcmp(PQgetvalue(r.pg, r.row, 0), "t") : q_i64(&r, 0, 0) > 0;
        bool failed = r.failed;
        q_done(&r);
        if (failed) {
            rc = db_fail(db, "looking for samsa_outbox");
            goto fail;
        }
        if (!exists) {
            rc = sm_cli_fail(c, SM_EXIT_NOTFOUND,
                             "%s has no samsa_outbox table (create it with 'samsa outbox init'"
                             " or 'samsa-relay --init-schema')",
                             db->name);
            goto fail;
        }
    }
    *out = db;
    return SM_EXIT_OK;
fail:
    sm_odb_close(db);
    return rc;
}

void sm_odb_close(sm_odb *db)
{
    if (!db)
        return;
    if (db->sq)
        sqlite3_close(db->sq);
    if (db->pg)
        PQfinish(db->pg);
    free(db);
}

const char *sm_odb_name(const sm_odb *db) { return db->name; }
bool sm_odb_is_pg(const sm_odb *db) { return db->pg != NULL; }
void *sm_odb_handle(sm_odb *db) { return db->pg ? (void *)db->pg : (void *)db->sq; }

/* ---- reading ------------------------------------------------------------------ */

int sm_odb_list(sm_odb *db, const sm_odb_filter *f, sm_odb_row **rows, int *n)
{
    char sql[2048];
    odb_param p[6];
    int np = 0;
    size_t o = (size_t)snprintf(sql, sizeof sql, "SELECT %s, NULL FROM samsa_outbox WHERE id > $1",
                                db->pg ? PG_COLS : SQ_COLS);
    p[np++] = (odb_param){NULL, f->after_id};
    if (f->status) {
        p[np++] = (odb_param){f->status, 0};
        o += (size_t)snprintf(sql + o, sizeof sql - o, " AND status = $%d", np);
    }
    if (f->topic) {
        p[np++] = (odb_param){f->topic, 0};
        o += (size_t)snprintf(sql + o, sizeof sql - o, " AND topic = $%d", np);
    }
    if (f->key) {
        p[np++] = (odb_param){f->key, 0};
        o += (size_t)snprintf(sql + o, sizeof sql - o, " AND key = $%d", np);
    }
    p[np++] = (odb_param){NULL, f->limit};
    snprintf(sql + o, sizeof sql - o, " ORDER BY id %s LIMIT $%d",
             f->newest_first ? "DESC" : "ASC", np);
    *rows = NULL;
    *n = 0;
    odb_res r;
    int rc = q_run(db, sql, p, np, &r, "listing rows");
    if (rc)
        return rc;
    int cap = 0;
    while (q_next(&r)) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            sm_odb_row *v = realloc(*rows, (size_t)cap * sizeof *v);
            if (!v) {
                q_done(&r);
                return sm_cli_fail(db->c, SM_EXIT_FAIL, "out of memory");
            }
            *rows = v;
        }
        read_row(&r, &(*rows)[(*n)++]);
    }
    if (r.failed)
        rc = db_fail(db, "listing rows");
    q_done(&r);
    return rc;
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

int sm_odb_get(sm_odb *db, const char *ref, sm_odb_row *row)
{
    bool by_id = all_digits(ref) && strlen(ref) < 19;
    odb_param p = by_id ? (odb_param){NULL, strtoll(ref, NULL, 10)} : (odb_param){ref, 0};
    /* PostgreSQL's event_id is a uuid: compare as text so a malformed one is
     * simply not found */
    const char *where = by_id ? "id = $1" : db->pg ? "event_id::text = lower($1)"
                                                   : "event_id = lower($1)";
    for (int archive = 0; archive < 2; archive++) {
        char sql[1024];
        snprintf(sql, sizeof sql, "SELECT %s, %s FROM %s WHERE %s", db->pg ? PG_COLS : SQ_COLS,
                 archive ? (db->pg ? PG_MS("archived_at") : "archived_at") : "NULL",
                 archive ? "samsa_outbox_archive" : "samsa_outbox", where);
        odb_res r;
        int rc = q_run(db, sql, &p, 1, &r, "reading the row");
        if (rc)
            return rc;
        bool found = q_next(&r);
        if (found)
            read_row(&r, row);
        bool failed = r.failed;
        q_done(&r);
        if (failed)
            return db_fail(db, "reading the row");
        if (found)
            return SM_EXIT_OK;
    }
    return sm_cli_fail(db->c, SM_EXIT_NOTFOUND, "no outbox row %s%s in %s",
                       by_id ? "" : "with event id ", ref, db->name);
}

/* ---- re-queueing ------------------------------------------------------------------ */

/* $1 is the row id or the topic; SQLite gets the time as $2 (ms), while
 * PostgreSQL uses now() and is given only $1 (it refuses unused ones). */
static const char *requeue_sql(const sm_odb *db)
{
    return db->pg ? "UPDATE samsa_outbox SET status = 'INIT', attempts = 0,"
                    " next_attempt_at = now() WHERE status = 'DEAD'"
                  : "UPDATE samsa_outbox SET status = 'INIT', attempts = 0,"
                    " next_attempt_at = $2 WHERE status = 'DEAD'";
}

void sm_odb_notify(sm_odb *db)
{
    if (!db->pg)
        return; /* SQLite: the relay polls PRAGMA data_version */
    PGresult *r = PQexec(db->pg, "SELECT pg_notify('samsa_outbox', '')");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "samsa: warning: %s: could not notify the relay (it finds the rows within"
                        " 2 s anyway): %s", db->name, PQerrorMessage(db->pg));
    PQclear(r);
}

int sm_odb_retry_one(sm_odb *db, int64_t id)
{
    char sql[512];
    odb_param p[2] = {{NULL, id}, {NULL, sm_wall_ms()}};
    snprintf(sql, sizeof sql, "%s AND id = $1", requeue_sql(db));
    int64_t changed = 0;
    int rc = q_exec(db, sql, p, db->pg ? 1 : 2, "re-queueing", &changed);
    if (rc || changed == 1)
        return rc;
    char ref[32];
    snprintf(ref, sizeof ref, "%lld", (long long)id);
    sm_odb_row row;
    rc = sm_odb_get(db, ref, &row);
    if (rc)
        return rc;
    if (row.archived_at >= 0)
        rc = sm_cli_fail(db->c, SM_EXIT_FAIL,
                         "row %lld is archived (%s); only DEAD rows of samsa_outbox are"
                         " re-queued",
                         (long long)id, row.status);
    else
        rc = sm_cli_fail(db->c, SM_EXIT_FAIL,
                         "row %lld is %s, not DEAD; only DEAD rows are re-queued", (long long)id,
                         row.status);
    sm_odb_row_release(&row);
    return rc;
}

int sm_odb_retry_all(sm_odb *db, const char *topic, int64_t *n)
{
    char sql[512];
    odb_param p[2] = {{topic ? topic : "", 0}, {NULL, sm_wall_ms()}};
    snprintf(sql, sizeof sql, "%s%s", requeue_sql(db), topic ? " AND topic = $1" : "");
    return q_exec(db, sql, p, db->pg ? (topic ? 1 : 0) : 2, "re-queueing", n);
}

/* ---- counts ------------------------------------------------------------------ */

int sm_odb_stats_get(sm_odb *db, sm_odb_stats *st)
{
    /* the status predicates repeat the partial indexes' (docs/outbox.md) */
    static const char counts[] =
        "SELECT (SELECT count(*) FROM samsa_outbox WHERE status = 'INIT'),"
        " (SELECT count(*) FROM samsa_outbox WHERE status <> 'INIT' AND status = 'PUBLISHED'),"
        " (SELECT count(*) FROM samsa_outbox WHERE status <> 'INIT' AND status = 'COMPLETE'),"
        " (SELECT count(*) FROM samsa_outbox WHERE status <> 'INIT' AND status = 'DEAD')";
    char oldest[256];
    snprintf(oldest, sizeof oldest,
             "SELECT id, %s FROM samsa_outbox WHERE status = 'INIT' ORDER BY id LIMIT 1",
             db->pg ? PG_MS("created_at") : "created_at");
    static const char never[] =
        "SELECT count(*), min(id) FROM samsa_outbox WHERE status = 'INIT' AND id <= 0";
    memset(st, 0, sizeof *st);
    st->oldest_init_age_ms = -1;
    st->oldest_init_id = -1;
    odb_res r;
    int rc = q_run(db, counts, NULL, 0, &r, "counting rows");
    if (rc)
        return rc;
    if (q_next(&r)) {
        st->init = q_i64(&r, 0, 0);
        st->published = q_i64(&r, 1, 0);
        st->complete = q_i64(&r, 2, 0);
        st->dead = q_i64(&r, 3, 0);
    }
    bool failed = r.failed;
    q_done(&r);
    if (failed)
        return db_fail(db, "counting rows");
    rc = q_run(db, oldest, NULL, 0, &r, "finding the oldest INIT row");
    if (rc)
        return rc;
    if (q_next(&r)) {
        st->have_oldest = true;
        st->oldest_init_id = q_i64(&r, 0, -1);
        int64_t created = q_i64(&r, 1, -1);
        if (created >= 0) {
            int64_t age = sm_wall_ms() - created;
            st->oldest_init_age_ms = age < 0 ? 0 : age;
        }
    }
    failed = r.failed;
    q_done(&r);
    if (failed)
        return db_fail(db, "finding the oldest INIT row");
    rc = q_run(db, never, NULL, 0, &r, "finding INIT rows the relay never claims");
    if (rc)
        return rc;
    if (q_next(&r)) {
        st->unclaimable = q_i64(&r, 0, 0);
        st->unclaimable_first_id = q_i64(&r, 1, 0);
    }
    failed = r.failed;
    q_done(&r);
    return failed ? db_fail(db, "finding INIT rows the relay never claims") : SM_EXIT_OK;
}

const char *sm_odb_unclaimable_why(const sm_odb_row *r)
{
    if (r->id <= 0 && r->status && !strcmp(r->status, "INIT"))
        return SM_ODB_UNCLAIMABLE_WHY;
    return NULL;
}

int sm_odb_topic_counts_get(sm_odb *db, sm_odb_topic_counts **v, int *n)
{
    static const char sql[] =
        "SELECT topic, sum(CASE WHEN status = 'INIT' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 'PUBLISHED' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 'COMPLETE' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN status = 'DEAD' THEN 1 ELSE 0 END)"
        " FROM samsa_outbox GROUP BY topic ORDER BY topic";
    *v = NULL;
    *n = 0;
    odb_res r;
    int rc = q_run(db, sql, NULL, 0, &r, "counting rows per topic");
    if (rc)
        return rc;
    int cap = 0;
    while (q_next(&r)) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            sm_odb_topic_counts *nv = realloc(*v, (size_t)cap * sizeof *nv);
            if (!nv)
                break;
            *v = nv;
        }
        sm_odb_topic_counts *t = &(*v)[(*n)++];
        t->topic = q_str(&r, 0);
        t->init = q_i64(&r, 1, 0);
        t->published = q_i64(&r, 2, 0);
        t->complete = q_i64(&r, 3, 0);
        t->dead = q_i64(&r, 4, 0);
    }
    if (r.failed)
        rc = db_fail(db, "counting rows per topic");
    q_done(&r);
    return rc;
}

void sm_odb_topic_counts_free(sm_odb_topic_counts *v, int n)
{
    for (int i = 0; v && i < n; i++)
        free(v[i].topic);
    free(v);
}
