/* db.c: one SQL text on SQLite or PostgreSQL (db.h). PostgreSQL gets the
 * text as it is, with text parameters (PQexecParams); SQLite prepares it
 * and binds parameter $N by that name, so a statement may use a parameter
 * twice or not at all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "outbox/db.h"
#include "outbox/outbox_int.h"

/* ---- errors ------------------------------------------------------------------ */

/* The first line of msg, without trailing blanks (libpq adds hint lines). */
static void first_line(const char *msg, char *out, size_t len)
{
    snprintf(out, len, "%s", msg && *msg ? msg : "unknown error");
    out[strcspn(out, "\n")] = 0;
    size_t n = strlen(out);
    while (n && out[n - 1] == ' ')
        out[--n] = 0;
}

/* The connection's last error, for op. */
static int db_fail(sm_db *db, const char *op, char *err, size_t errlen)
{
    if (db->pg)
        return sm_pg_fail(err, errlen, db->name, op, db->pg, NULL);
    return sm_sqlite_fail(err, errlen, db->name, op, db->sq);
}

/* ---- open ------------------------------------------------------------------ */

/* postgresql://user:secret@host/db -> postgresql://user@host/db, and a
 * password=... parameter masked; anything else as it is. */
static void name_of(const char *url, char *out, size_t len)
{
    const char *scheme = strstr(url, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (colon)
        snprintf(out, len, "%.*s%s", (int)(colon - url), url, at);
    else
        snprintf(out, len, "%s", url);
    char *pw = strstr(out, "password=");
    if (pw) {
        char *end = strchr(pw, '&');
        memmove(pw + 9, "***", 4);
        if (end)
            snprintf(pw + 12, len - (size_t)(pw + 12 - out), "%s", end);
    }
}

int sm_db_open(sm_db **out, const char *url, bool create, const char *app, char *err,
               size_t errlen)
{
    *out = NULL;
    bool is_sqlite = url && !strncmp(url, "sqlite:", 7);
    bool is_pg = url && (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11));
    if (!is_sqlite && !is_pg)
        return sm_fail(err, errlen, SM_EINVAL,
                       "'%s': expected sqlite:PATH or a postgresql:// URL", url ? url : "");
    if (is_sqlite && !url[7])
        return sm_fail(err, errlen, SM_EINVAL, "sqlite: needs a path (sqlite:PATH)");
    sm_db *db = calloc(1, sizeof *db);
    if (!db)
        return sm_fail(err, errlen, SM_ENOMEM, "out of memory");
    db->owned = true;
    name_of(url, db->name, sizeof db->name);
    int rc = SM_OK;
    if (is_sqlite) {
        const char *path = url + 7;
        struct stat sb;
        if (!create && stat(path, &sb)) {
            rc = sm_fail(err, errlen, SM_ENOENT, "%s: no such file", db->name);
            goto fail;
        }
        int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
        if (sqlite3_open_v2(path, &db->sq, flags, NULL) != SQLITE_OK) {
            rc = db->sq ? db_fail(db, "open", err, errlen)
                        : sm_fail(err, errlen, SM_ENOMEM, "out of memory");
            goto fail;
        }
        sqlite3_busy_timeout(db->sq, 5000);
    } else {
        const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
        const char *const vals[] = {"10", app ? app : "samsa", url, NULL};
        db->pg = PQconnectdbParams(keys, vals, 1);
        if (!db->pg) {
            rc = sm_fail(err, errlen, SM_ENOMEM, "out of memory");
            goto fail;
        }
        if (PQstatus(db->pg) != CONNECTION_OK) {
            char clean[512];
            first_line(PQerrorMessage(db->pg), clean, sizeof clean);
            rc = sm_fail(err, errlen, SM_EIO, "%s: connect: %s", db->name, clean);
            goto fail;
        }
    }
    *out = db;
    return SM_OK;
fail:
    sm_db_close(db);
    return rc;
}

void sm_db_close(sm_db *db)
{
    if (!db)
        return;
    if (db->owned) {
        if (db->sq)
            sqlite3_close(db->sq);
        if (db->pg)
            PQfinish(db->pg);
        free(db);
    }
}

void sm_db_wrap_sqlite(sm_db *db, sqlite3 *sq, const char *name)
{
    memset(db, 0, sizeof *db);
    db->sq = sq;
    snprintf(db->name, sizeof db->name, "%s", name);
}

void sm_db_wrap_pg(sm_db *db, PGconn *pg, const char *name)
{
    memset(db, 0, sizeof *db);
    db->pg = pg;
    snprintf(db->name, sizeof db->name, "%s", name);
}

bool sm_db_in_txn(const sm_db *db)
{
    if (db->pg)
        return PQtransactionStatus(db->pg) != PQTRANS_IDLE;
    return !sqlite3_get_autocommit(db->sq);
}

/* ---- statements ---------------------------------------------------------------- */

int sm_db_query(sm_db *db, const char *op, const char *sql, const sm_db_param *p, int np,
                sm_db_res *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->db = db;
    r->op = op;
    r->row = -1;
    if (np > SM_DB_MAX_PARAMS)
        return sm_fail(err, errlen, SM_EINVAL, "%s: %s: %d parameters, at most %d", db->name,
                       op, np, SM_DB_MAX_PARAMS);
    if (db->pg) {
        const char *vals[SM_DB_MAX_PARAMS] = {NULL};
        char nums[SM_DB_MAX_PARAMS][24];
        for (int i = 0; i < np; i++) {
            if (p[i].s) {
                vals[i] = p[i].s;
            } else {
                snprintf(nums[i], sizeof nums[i], "%lld", (long long)p[i].i);
                vals[i] = nums[i];
            }
        }
        r->pg = PQexecParams(db->pg, sql, np, NULL, vals, NULL, NULL, 0);
        if (!sm_pg_ok(r->pg, PGRES_TUPLES_OK) && !sm_pg_ok(r->pg, PGRES_COMMAND_OK)) {
            int rc = sm_pg_fail(err, errlen, db->name, op, db->pg, r->pg);
            PQclear(r->pg);
            r->pg = NULL;
            return rc;
        }
        r->nrows = PQntuples(r->pg);
        r->changed = sm_pg_cmd_rows(r->pg);
        return SM_OK;
    }
    if (sqlite3_prepare_v2(db->sq, sql, -1, &r->st, NULL) != SQLITE_OK)
        return db_fail(db, op, err, errlen);
    for (int i = 0; i < np; i++) {
        char name[16];
        snprintf(name, sizeof name, "$%d", i + 1);
        int at = sqlite3_bind_parameter_index(r->st, name);
        if (!at)
            continue;
        int b = p[i].s ? sqlite3_bind_text(r->st, at, p[i].s, -1, SQLITE_TRANSIENT)
                       : sqlite3_bind_int64(r->st, at, p[i].i);
        if (b != SQLITE_OK) {
            int rc = db_fail(db, op, err, errlen);
            sqlite3_finalize(r->st);
            r->st = NULL;
            return rc;
        }
    }
    return SM_OK;
}

bool sm_db_next(sm_db_res *r)
{
    if (r->pg)
        return ++r->row < r->nrows;
    if (!r->st)
        return false;
    int s = sqlite3_step(r->st);
    if (s == SQLITE_ROW)
        return true;
    if (s != SQLITE_DONE)
        r->failed = true;
    else
        r->changed = sqlite3_changes(r->db->sq);
    return false;
}

int sm_db_done(sm_db_res *r, char *err, size_t errlen)
{
    int rc = r->failed ? db_fail(r->db, r->op, err, errlen) : SM_OK;
    if (r->st)
        sqlite3_finalize(r->st);
    PQclear(r->pg);
    r->st = NULL;
    r->pg = NULL;
    return rc;
}

int sm_db_exec(sm_db *db, const char *op, const char *sql, const sm_db_param *p, int np,
               int64_t *changed, char *err, size_t errlen)
{
    sm_db_res r;
    int rc = sm_db_query(db, op, sql, p, np, &r, err, errlen);
    if (rc)
        return rc;
    while (sm_db_next(&r))
        ;
    if (changed)
        *changed = r.changed;
    return sm_db_done(&r, err, errlen);
}

int sm_db_script(sm_db *db, const char *op, const char *sql, char *err, size_t errlen)
{
    if (db->pg) {
        PGresult *r = PQexec(db->pg, sql);
        int rc = SM_OK;
        if (!sm_pg_ok(r, PGRES_COMMAND_OK) && !sm_pg_ok(r, PGRES_TUPLES_OK))
            rc = sm_pg_fail(err, errlen, db->name, op, db->pg, r);
        PQclear(r);
        return rc;
    }
    char *msg = NULL;
    if (sqlite3_exec(db->sq, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = sm_fail(err, errlen, SM_ERR, "%s: %s: %s", db->name, op,
                         msg ? msg : sqlite3_errmsg(db->sq));
        sqlite3_free(msg);
        return rc;
    }
    return SM_OK;
}

/* ---- columns ------------------------------------------------------------------ */

bool sm_db_null(const sm_db_res *r, int col)
{
    return r->pg ? PQgetisnull(r->pg, r->row, col)
                 : sqlite3_column_type(r->st, col) == SQLITE_NULL;
}

int64_t sm_db_i64(const sm_db_res *r, int col, int64_t if_null)
{
    if (sm_db_null(r, col))
        return if_null;
    return r->pg ? strtoll(PQgetvalue(r->pg, r->row, col), NULL, 10)
                 : sqlite3_column_int64(r->st, col);
}

const char *sm_db_text(const sm_db_res *r, int col)
{
    if (sm_db_null(r, col))
        return NULL;
    const char *s = r->pg ? PQgetvalue(r->pg, r->row, col)
                          : (const char *)sqlite3_column_text(r->st, col);
    return s ? s : "";
}

char *sm_db_str(const sm_db_res *r, int col)
{
    const char *s = sm_db_text(r, col);
    return s ? strdup(s) : NULL;
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

uint8_t *sm_db_blob(const sm_db_res *r, int col, int64_t *len)
{
    *len = -1;
    if (sm_db_null(r, col))
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
