/* db.c: one database connection by URL, SQLite or PostgreSQL, behind one
 * small API. The idea: services write one SQL text with "?" placeholders and
 * text/integer parameters; PostgreSQL gets it as $1..$n. Transactions retry
 * on the errors that mean "try again" (SQLite BUSY/LOCKED, PostgreSQL
 * 40001 serialization failure, 40P01 deadlock). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "shop.h"

struct shop_db {
    int kind;
    int in_tx; /* inside run_tx: never reconnect under a transaction */
    sqlite3 *lite;
    PGconn *pg;
    char url[1024];
};

struct shop_res {
    int rows, cols;
    int64_t changes;
    char **cell; /* rows * cols, NULL for SQL NULL */
};

#define SHOP_MAX_PARAMS 32

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    /* one line */
    for (char *p = err; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

static int mkdirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

static int lite_exec_plain(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, "sqlite: %s: %s", sql, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return rc == SQLITE_BUSY || rc == SQLITE_LOCKED ? SHOP_EBUSY : SHOP_ERR;
    }
    return SHOP_OK;
}

static int db_connect(shop_db *db, char *err, size_t errlen)
{
    if (db->kind == SHOP_DB_SQLITE) {
        const char *path = db->url + strlen("sqlite:");
        if (!*path) {
            set_err(err, errlen, "--db sqlite: needs a path (sqlite:PATH)");
            return SHOP_EINVAL;
        }
        if (mkdirs(path) != 0) {
            set_err(err, errlen, "cannot create the folder of %s: %s", path, strerror(errno));
            return SHOP_ERR;
        }
        int rc = sqlite3_open_v2(path, &db->lite,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                                 NULL);
        if (rc != SQLITE_OK) {
            set_err(err, errlen, "cannot open %s: %s", path,
                    db->lite ? sqlite3_errmsg(db->lite) : sqlite3_errstr(rc));
            sqlite3_close(db->lite);
            db->lite = NULL;
            return SHOP_ERR;
        }
        sqlite3_busy_timeout(db->lite, 5000);
        /* WAL: readers never block the writer. synchronous=NORMAL in WAL mode
         * survives a process crash (kill -9) losing nothing committed; only a
         * power cut may lose the last commits, never consistency. */
        if ((rc = lite_exec_plain(db->lite, "PRAGMA journal_mode=WAL", err, errlen)) ||
            (rc = lite_exec_plain(db->lite, "PRAGMA synchronous=NORMAL", err, errlen)) ||
            (rc = lite_exec_plain(db->lite, "PRAGMA foreign_keys=ON", err, errlen))) {
            sqlite3_close(db->lite);
            db->lite = NULL;
            return rc;
        }
        return SHOP_OK;
    }
    /* the URL, plus application_name = the service (pg_stat_activity shows who) */
    const char *keys[] = {"dbname", "application_name", NULL};
    const char *vals[] = {db->url, shop_service_name(), NULL};
    db->pg = PQconnectdbParams(keys, vals, 1);
    if (!db->pg || PQstatus(db->pg) != CONNECTION_OK) {
        set_err(err, errlen, "cannot connect to PostgreSQL: %s",
                db->pg ? PQerrorMessage(db->pg) : "out of memory");
        PQfinish(db->pg);
        db->pg = NULL;
        return SHOP_EIO;
    }
    PQclear(PQexec(db->pg, "SET client_min_messages = warning"));
    return SHOP_OK;
}

int shop_db_open(shop_db **out, const char *url, char *err, size_t errlen)
{
    *out = NULL;
    int kind;
    if (strncmp(url, "sqlite:", 7) == 0)
        kind = SHOP_DB_SQLITE;
    else if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0)
        kind = SHOP_DB_PG;
    else {
        set_err(err, errlen, "--db %s: expected sqlite:PATH or postgresql://...", url);
        return SHOP_EINVAL;
    }
    if (strlen(url) >= sizeof((shop_db *)0)->url) {
        set_err(err, errlen, "--db: URL too long");
        return SHOP_EINVAL;
    }
    shop_db *db = calloc(1, sizeof *db);
    if (!db)
        return SHOP_ENOMEM;
    db->kind = kind;
    snprintf(db->url, sizeof db->url, "%s", url);
    int rc = db_connect(db, err, errlen);
    if (rc) {
        free(db);
        return rc;
    }
    *out = db;
    return SHOP_OK;
}

void shop_db_free(shop_db *db)
{
    if (!db)
        return;
    if (db->lite)
        sqlite3_close_v2(db->lite);
    if (db->pg)
        PQfinish(db->pg);
    free(db);
}

int shop_db_kind(const shop_db *db) { return db->kind; }
sqlite3 *shop_db_sqlite(shop_db *db) { return db->lite; }
PGconn *shop_db_pg(shop_db *db) { return db->pg; }

/* ---- results ---- */

static shop_res *res_new(void)
{
    return calloc(1, sizeof(shop_res));
}

void shop_res_free(shop_res *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->rows * r->cols; i++)
        free(r->cell[i]);
    free(r->cell);
    free(r);
}

int shop_res_rows(const shop_res *r) { return r ? r->rows : 0; }
int shop_res_cols(const shop_res *r) { return r ? r->cols : 0; }
int64_t shop_res_changes(const shop_res *r) { return r ? r->changes : 0; }

const char *shop_res_text(const shop_res *r, int row, int col)
{
    if (!r || row < 0 || row >= r->rows || col < 0 || col >= r->cols)
        return NULL;
    return r->cell[row * r->cols + col];
}

int64_t shop_res_int(const shop_res *r, int row, int col)
{
    const char *s = shop_res_text(r, row, col);
    return s ? strtoll(s, NULL, 10) : 0;
}

static int res_add_row(shop_res *r, int cols)
{
    if (r->cols == 0)
        r->cols = cols;
    char **cell = realloc(r->cell, sizeof(char *) * (size_t)(r->rows + 1) * (size_t)r->cols);
    if (!cell)
        return SHOP_ENOMEM;
    r->cell = cell;
    memset(&r->cell[r->rows * r->cols], 0, sizeof(char *) * (size_t)r->cols);
    r->rows++;
    return SHOP_OK;
}

static int db_reconnect(shop_db *db);

/* ---- exec ---- */

typedef struct param {
    char type;
    const char *s;
    int64_t i;
    char ibuf[24];
} param;

static int exec_sqlite(shop_db *db, shop_res **res, char *err, size_t errlen, const char *sql,
                       const param *p, int np)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->lite, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, "sqlite prepare: %s (%s)", sqlite3_errmsg(db->lite), sql);
        return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED ? SHOP_EBUSY : SHOP_ERR;
    }
    for (int i = 0; i < np; i++) {
        if (p[i].type == 'i')
            sqlite3_bind_int64(st, i + 1, p[i].i);
        else if (p[i].s)
            sqlite3_bind_text(st, i + 1, p[i].s, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, i + 1);
    }
    shop_res *r = res ? res_new() : NULL;
    if (res && !r) {
        sqlite3_finalize(st);
        return SHOP_ENOMEM;
    }
    int out = SHOP_OK;
    for (;;) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            if (!r)
                continue;
            int cols = sqlite3_column_count(st);
            if (res_add_row(r, cols)) {
                out = SHOP_ENOMEM;
                break;
            }
            for (int c = 0; c < cols; c++) {
                const unsigned char *t = sqlite3_column_text(st, c);
                if (t && !(r->cell[(r->rows - 1) * cols + c] = strdup((const char *)t))) {
                    out = SHOP_ENOMEM;
                    break;
                }
            }
            if (out)
                break;
            continue;
        }
        if (rc == SQLITE_DONE)
            break;
        set_err(err, errlen, "sqlite: %s (%s)", sqlite3_errmsg(db->lite), sql);
        int base = sqlite3_extended_errcode(db->lite) & 0xff;
        out = base == SQLITE_BUSY || base == SQLITE_LOCKED ? SHOP_EBUSY : SHOP_ERR;
        break;
    }
    if (r)
        r->changes = sqlite3_changes(db->lite);
    sqlite3_finalize(st);
    if (out) {
        shop_res_free(r);
        return out;
    }
    if (res)
        *res = r;
    return SHOP_OK;
}

static int pg_error_code(PGconn *conn, PGresult *pr)
{
    if (PQstatus(conn) != CONNECTION_OK)
        return SHOP_EIO;
    const char *state = pr ? PQresultErrorField(pr, PG_DIAG_SQLSTATE) : NULL;
    if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
                  strcmp(state, "55P03") == 0))
        return SHOP_EBUSY;
    if (state && strncmp(state, "08", 2) == 0)
        return SHOP_EIO;
    return SHOP_ERR;
}

static int exec_pg(shop_db *db, shop_res **res, char *err, size_t errlen, const char *sql,
                   const param *p, int np)
{
    /* "?" -> "$n", outside quoted text */
    size_t len = strlen(sql);
    char *q = malloc(len * 4 + 1);
    if (!q)
        return SHOP_ENOMEM;
    size_t o = 0;
    int n = 0, quote = 0;
    for (size_t i = 0; i < len; i++) {
        char c = sql[i];
        if (c == '\'')
            quote = !quote;
        if (c == '?' && !quote)
            o += (size_t)sprintf(q + o, "$%d", ++n);
        else
            q[o++] = c;
    }
    q[o] = 0;
    const char *values[SHOP_MAX_PARAMS];
    for (int i = 0; i < np; i++)
        values[i] = p[i].type == 'i' ? p[i].ibuf : p[i].s;
    PGresult *pr = PQexecParams(db->pg, q, np, NULL, values, NULL, NULL, 0);
    ExecStatusType st = pr ? PQresultStatus(pr) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        int rc = pg_error_code(db->pg, pr);
        set_err(err, errlen, "postgresql: %s (%s)",
                pr ? PQresultErrorMessage(pr) : PQerrorMessage(db->pg), q);
        PQclear(pr);
        free(q);
        return rc;
    }
    free(q);
    int out = SHOP_OK;
    if (res) {
        shop_res *r = res_new();
        if (!r) {
            PQclear(pr);
            return SHOP_ENOMEM;
        }
        const char *ct = PQcmdTuples(pr);
        r->changes = ct && *ct ? strtoll(ct, NULL, 10) : 0;
        int rows = PQntuples(pr), cols = PQnfields(pr);
        for (int i = 0; i < rows && !out; i++) {
            if (res_add_row(r, cols)) {
                out = SHOP_ENOMEM;
                break;
            }
            for (int c = 0; c < cols; c++) {
                if (PQgetisnull(pr, i, c))
                    continue;
                if (!(r->cell[i * cols + c] = strdup(PQgetvalue(pr, i, c)))) {
                    out = SHOP_ENOMEM;
                    break;
                }
            }
        }
        if (out)
            shop_res_free(r);
        else
            *res = r;
    }
    PQclear(pr);
    return out;
}

int shop_db_exec(shop_db *db, shop_res **res, char *err, size_t errlen, const char *sql,
                 const char *types, ...)
{
    if (res)
        *res = NULL;
    param p[SHOP_MAX_PARAMS];
    int np = types ? (int)strlen(types) : 0;
    if (np > SHOP_MAX_PARAMS) {
        set_err(err, errlen, "too many parameters (%d)", np);
        return SHOP_EINVAL;
    }
    va_list ap;
    va_start(ap, types);
    for (int i = 0; i < np; i++) {
        p[i].type = types[i];
        if (types[i] == 'i') {
            p[i].i = va_arg(ap, int64_t);
            snprintf(p[i].ibuf, sizeof p[i].ibuf, "%lld", (long long)p[i].i);
        } else if (types[i] == 's') {
            p[i].s = va_arg(ap, const char *);
        } else {
            va_end(ap);
            set_err(err, errlen, "bad parameter type '%c'", types[i]);
            return SHOP_EINVAL;
        }
    }
    va_end(ap);
    if (db->kind == SHOP_DB_SQLITE)
        return exec_sqlite(db, res, err, errlen, sql, p, np);
    if (!db->pg || PQstatus(db->pg) != CONNECTION_OK) {
        /* lost earlier: outside a transaction, a new connection is as good */
        if (db->in_tx || !db_reconnect(db)) {
            set_err(err, errlen, "postgresql: connection lost");
            return SHOP_EIO;
        }
    }
    int rc = exec_pg(db, res, err, errlen, sql, p, np);
    /* a read outside a transaction on a connection the server dropped: safe
     * to send again on a new one (a write might have happened: not retried) */
    if (rc == SHOP_EIO && !db->in_tx && strncmp(sql, "SELECT", 6) == 0 && db_reconnect(db))
        rc = exec_pg(db, res, err, errlen, sql, p, np);
    return rc;
}

/* ---- transactions ---- */

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static unsigned jitter_seed(void)
{
    return (unsigned)(shop_mono_ms() ^ (int64_t)(uintptr_t)pthread_self());
}

/* Returns 1 when the connection works again. */
static int db_reconnect(shop_db *db)
{
    if (db->kind != SHOP_DB_PG || !db->pg)
        return 0;
    PQreset(db->pg);
    if (PQstatus(db->pg) != CONNECTION_OK)
        return 0;
    PQclear(PQexec(db->pg, "SET client_min_messages = warning"));
    return 1;
}

static int run_tx(shop_db *db, const char *begin, shop_tx_fn fn, void *arg, char *err,
                  size_t errlen)
{
    unsigned seed = jitter_seed();
    int64_t deadline = shop_mono_ms() + 30000;
    int64_t backoff = 2;
    int reconnects = 0;
    for (;;) {
        int at_commit = 0;
        int rc = shop_db_exec(db, NULL, err, errlen, begin, NULL);
        db->in_tx = rc == SHOP_OK;
        if (rc == SHOP_OK) {
            rc = fn(db, arg, err, errlen);
            if (rc == SHOP_OK) {
                at_commit = 1;
                rc = shop_db_exec(db, NULL, err, errlen, "COMMIT", NULL);
                if (rc == SHOP_OK) {
                    db->in_tx = 0;
                    return SHOP_OK;
                }
            }
            char ignore[256];
            shop_db_exec(db, NULL, ignore, sizeof ignore, "ROLLBACK", NULL);
            db->in_tx = 0;
            if (rc > 0)
                return rc;
        }
        if (rc == SHOP_EIO) {
            /* A connection lost before COMMIT lost the transaction with it:
             * reconnect and run it again, once. Lost during COMMIT, nobody
             * knows whether it committed: the caller must be told. */
            int ok = db_reconnect(db);
            if (!ok || at_commit || reconnects++ > 0)
                return rc;
            shop_log("database connection lost (%s); reconnected, running the transaction again",
                     err);
            continue;
        }
        if (rc != SHOP_EBUSY || shop_mono_ms() >= deadline)
            return rc;
        sleep_ms(1 + (int64_t)(rand_r(&seed) % (unsigned)backoff));
        if (backoff < 200)
            backoff *= 2;
    }
}

int shop_db_tx(shop_db *db, shop_tx_fn fn, void *arg, char *err, size_t errlen)
{
    /* SQLite: take the write lock at BEGIN, so a transaction never fails
     * half-way on a lock upgrade (the busy timeout waits for it instead) */
    return run_tx(db, db->kind == SHOP_DB_SQLITE ? "BEGIN IMMEDIATE" : "BEGIN", fn, arg, err,
                  errlen);
}

int shop_db_read(shop_db *db, shop_tx_fn fn, void *arg, char *err, size_t errlen)
{
    return run_tx(db,
                  db->kind == SHOP_DB_SQLITE ? "BEGIN"
                                             : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                  fn, arg, err, errlen);
}

/* ---- libsamsa ---- */

static int map_samsa(shop_db *db, int rc)
{
    if (rc >= 0)
        return rc;
    if (rc == SAMSA_ENOMEM)
        return SHOP_ENOMEM;
    if (rc == SAMSA_EINVAL)
        return SHOP_EINVAL;
    if (db->kind == SHOP_DB_SQLITE) {
        int base = sqlite3_extended_errcode(db->lite) & 0xff;
        if (base == SQLITE_BUSY || base == SQLITE_LOCKED)
            return SHOP_EBUSY;
        return SHOP_ERR;
    }
    if (rc == SAMSA_EIO || PQstatus(db->pg) != CONNECTION_OK)
        return SHOP_EIO;
    return SHOP_ERR;
}

int shop_db_enqueue(shop_db *db, const samsa_event *ev, char *event_id_out, char *err,
                    size_t errlen)
{
    int rc = db->kind == SHOP_DB_SQLITE
                 ? samsa_outbox_enqueue_sqlite(db->lite, ev, event_id_out, err, errlen)
                 : samsa_outbox_enqueue_pg(db->pg, ev, event_id_out, err, errlen);
    return map_samsa(db, rc);
}

int shop_db_inbox(shop_db *db, const char *consumer, const char *event_id, char *err,
                  size_t errlen)
{
    int rc = db->kind == SHOP_DB_SQLITE
                 ? samsa_inbox_begin_sqlite(db->lite, consumer, event_id, err, errlen)
                 : samsa_inbox_begin_pg(db->pg, consumer, event_id, err, errlen);
    return map_samsa(db, rc);
}

/* ---- schema ---- */

static const char *const shop_common_ddl[] = {
    "CREATE TABLE IF NOT EXISTS shop_rejected (consumer TEXT NOT NULL, event_id TEXT NOT NULL, "
    "topic TEXT NOT NULL, kafka_partition BIGINT NOT NULL, kafka_offset BIGINT NOT NULL, "
    "reason TEXT NOT NULL, rejected_at BIGINT NOT NULL, PRIMARY KEY (consumer, event_id))",
    NULL,
};

/* PostgreSQL: "CREATE ... IF NOT EXISTS name ..." whose object exists is
 * skipped, not run: PostgreSQL 15 checks CREATE on the schema before it
 * looks for the name, and a service may run as a role with only the
 * privileges on its tables (docs/outbox.md "Privileges"), the owner having
 * created them. */
static int ddl_needed(shop_db *db, const char *ddl, bool *needed, char *err, size_t errlen)
{
    *needed = true;
    const char *p = strstr(ddl, "IF NOT EXISTS ");
    if (db->kind != SHOP_DB_PG || !p)
        return SHOP_OK;
    p += strlen("IF NOT EXISTS ");
    size_t n = strcspn(p, " (");
    char name[128];
    if (n == 0 || n >= sizeof name)
        return SHOP_OK;
    memcpy(name, p, n);
    name[n] = 0;
    shop_res *r = NULL;
    int rc = shop_db_exec(db, &r, err, errlen, "SELECT to_regclass($1) IS NOT NULL", "s", name);
    if (rc)
        return rc;
    const char *v = shop_res_text(r, 0, 0);
    *needed = !(v && v[0] == 't');
    shop_res_free(r);
    return SHOP_OK;
}

typedef struct setup_arg {
    const char *const *ddl;
    shop_tx_fn seed;
    void *seed_arg;
} setup_arg;

static int setup_tx(shop_db *db, void *arg, char *err, size_t errlen)
{
    setup_arg *a = arg;
    int rc;
    if (db->kind == SHOP_DB_PG &&
        (rc = shop_db_exec(db, NULL, err, errlen, "SELECT pg_advisory_xact_lock(7260005)", NULL)))
        return rc;
    bool needed;
    for (int i = 0; shop_common_ddl[i]; i++)
        if ((rc = ddl_needed(db, shop_common_ddl[i], &needed, err, errlen)) ||
            (needed && (rc = shop_db_exec(db, NULL, err, errlen, shop_common_ddl[i], NULL))))
            return rc;
    for (int i = 0; a->ddl && a->ddl[i]; i++)
        if ((rc = ddl_needed(db, a->ddl[i], &needed, err, errlen)) ||
            (needed && (rc = shop_db_exec(db, NULL, err, errlen, a->ddl[i], NULL))))
            return rc;
    if (a->seed && (rc = a->seed(db, a->seed_arg, err, errlen)))
        return rc;
    return SHOP_OK;
}

int shop_db_setup(shop_db *db, const char *const *ddl, shop_tx_fn seed, void *seed_arg,
                  char *err, size_t errlen)
{
    int rc = db->kind == SHOP_DB_SQLITE ? samsa_schema_apply_sqlite(db->lite, err, errlen)
                                        : samsa_schema_apply_pg(db->pg, err, errlen);
    if (rc)
        return map_samsa(db, rc);
    setup_arg a = {ddl, seed, seed_arg};
    return shop_db_tx(db, setup_tx, &a, err, errlen);
}

shop_db *shop_db_open_or_exit(const char *url)
{
    char err[512];
    shop_db *db;
    if (shop_db_open(&db, url, err, sizeof err)) {
        shop_log("database: %s", err);
        exit(1);
    }
    return db;
}

shop_pool *shop_pool_open_or_exit(const char *url, int n)
{
    char err[512];
    shop_pool *p;
    if (shop_pool_open(&p, url, n, err, sizeof err)) {
        shop_log("database: %s", err);
        exit(1);
    }
    return p;
}

void shop_db_setup_or_exit(shop_db *db, const char *const *ddl, shop_tx_fn seed, void *arg)
{
    char err[512];
    if (shop_db_setup(db, ddl, seed, arg, err, sizeof err)) {
        shop_log("database setup: %s", err);
        exit(1);
    }
}

json_t *shop_outbox_counts(shop_db *db, char *err, size_t errlen)
{
    shop_res *r;
    if (shop_db_exec(db, &r, err, errlen,
                     "SELECT status, COUNT(*) FROM samsa_outbox GROUP BY status", NULL))
        return NULL;
    json_t *o = json_pack("{sIsIsIsI}", "INIT", (json_int_t)0, "PUBLISHED", (json_int_t)0,
                          "COMPLETE", (json_int_t)0, "DEAD", (json_int_t)0);
    for (int i = 0; o && i < shop_res_rows(r); i++) {
        const char *s = shop_res_text(r, i, 0);
        if (s)
            json_object_set_new(o, s, json_integer(shop_res_int(r, i, 1)));
    }
    shop_res_free(r);
    return o;
}

/* ---- pool ---- */

struct shop_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n, nfree;
    shop_db **all;
    shop_db **free;
};

int shop_pool_open(shop_pool **out, const char *url, int n, char *err, size_t errlen)
{
    *out = NULL;
    shop_pool *p = calloc(1, sizeof *p);
    if (!p)
        return SHOP_ENOMEM;
    p->all = calloc((size_t)n, sizeof(shop_db *));
    p->free = calloc((size_t)n, sizeof(shop_db *));
    if (!p->all || !p->free) {
        shop_pool_free(p);
        return SHOP_ENOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (int i = 0; i < n; i++) {
        int rc = shop_db_open(&p->all[i], url, err, errlen);
        if (rc) {
            p->n = i;
            shop_pool_free(p);
            return rc;
        }
        p->free[p->nfree++] = p->all[i];
    }
    p->n = n;
    *out = p;
    return SHOP_OK;
}

shop_db *shop_pool_get(shop_pool *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->nfree == 0)
        pthread_cond_wait(&p->cv, &p->mu);
    shop_db *db = p->free[--p->nfree];
    pthread_mutex_unlock(&p->mu);
    return db;
}

void shop_pool_put(shop_pool *p, shop_db *db)
{
    pthread_mutex_lock(&p->mu);
    p->free[p->nfree++] = db;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void shop_pool_free(shop_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n; i++)
        shop_db_free(p->all[i]);
    free(p->all);
    free(p->free);
    if (p->n) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
    }
    free(p);
}
