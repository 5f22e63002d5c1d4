/* db.h: one SQL text on SQLite or PostgreSQL, internal to libsamsa.
 *
 * Statements are written once with $1.. placeholders (PostgreSQL's; SQLite
 * reads "$1" as a named parameter and the layer binds by that name).
 * Parameters are text or 64-bit integers; rows come out as text, integers
 * and blobs, whichever database answered. What differs between the two
 * (timestamptz vs milliseconds, bytea vs blob) the caller writes in its
 * column list (admin.c's PG_COLS and SQ_COLS).
 *
 * The layer is for statements that are not on a hot path: migrations,
 * counts, the operator's listing and re-queueing. The relay's claim and
 * marks keep their prepared statements (store_sqlite.c, store_pg*.c).
 *
 * Threads: an sm_db is used by one thread at a time, as SQLite and libpq
 * require. Ownership: sm_db_open's connection is the sm_db's and goes with
 * sm_db_close; a wrapped one (sm_db_wrap_*) stays its owner's and must
 * outlive the sm_db. Strings handed out by sm_db_str are the caller's
 * (free); sm_db_text's live until the next sm_db_next or sm_db_done.
 *
 * Errors: functions return SM_OK or a negative code of base/err.h and fill
 * err with "<name>: <op>: <the database's message>": SM_EIO when the
 * PostgreSQL connection is lost, SM_ERR for what the database refused,
 * SM_EINVAL for a URL that is not sqlite:PATH or postgresql://, SM_ENOENT
 * for a sqlite: file that does not exist (unless create). */
#ifndef SM_OUTBOX_DB_H
#define SM_OUTBOX_DB_H

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sm_db {
    sqlite3 *sq; /* exactly one of sq and pg is set */
    PGconn *pg;
    bool owned; /* sm_db_close closes the connection */
    char name[256]; /* the database as messages name it; never a password */
} sm_db;

/* url: "sqlite:PATH" or a postgresql:// URL. A sqlite: file must exist
 * unless create. *out is NULL on failure. app names the PostgreSQL session
 * (application_name). */
int sm_db_open(sm_db **out, const char *url, bool create, const char *app, char *err,
               size_t errlen);
void sm_db_close(sm_db *db);
/* An sm_db over a connection someone else owns (a store's, an
 * application's); name: how messages name it. */
void sm_db_wrap_sqlite(sm_db *db, sqlite3 *sq, const char *name);
void sm_db_wrap_pg(sm_db *db, PGconn *pg, const char *name);

static inline bool sm_db_is_pg(const sm_db *db) { return db->pg != NULL; }
/* Whether a transaction is open on the connection (or PostgreSQL's is
 * busy, failed or lost): migrations refuse to start inside one. */
bool sm_db_in_txn(const sm_db *db);

/* A parameter: text (s) or, when s is NULL, the integer i. */
typedef struct sm_db_param {
    const char *s;
    int64_t i;
} sm_db_param;
#define SM_DB_TEXT(x) ((sm_db_param){(x), 0})
#define SM_DB_INT(x) ((sm_db_param){NULL, (x)})
#define SM_DB_MAX_PARAMS 16

/* A statement being read. */
typedef struct sm_db_res {
    sm_db *db;
    const char *op;
    sqlite3_stmt *st;
    PGresult *pg;
    int row, nrows;
    bool failed;
    int64_t changed;
} sm_db_res;

/* Runs sql with np parameters; op names it in messages. Rows are read with
 * sm_db_next; sm_db_done ends the statement (also after a failed query it
 * is harmless). Unused parameters are fine on SQLite; PostgreSQL refuses
 * them, so pass only those the text names. */
int sm_db_query(sm_db *db, const char *op, const char *sql, const sm_db_param *p, int np,
                sm_db_res *r, char *err, size_t errlen);
/* The next row: true while there is one. */
bool sm_db_next(sm_db_res *r);
/* Ends the statement: SM_OK, or the error of a step that failed. */
int sm_db_done(sm_db_res *r, char *err, size_t errlen);
/* Runs a statement to its end; *changed (if not NULL): rows it changed. */
int sm_db_exec(sm_db *db, const char *op, const char *sql, const sm_db_param *p, int np,
               int64_t *changed, char *err, size_t errlen);
/* Runs several ';'-separated statements without parameters (migrations). */
int sm_db_script(sm_db *db, const char *op, const char *sql, char *err, size_t errlen);

/* Columns of the current row, from 0. */
bool sm_db_null(const sm_db_res *r, int col);
int64_t sm_db_i64(const sm_db_res *r, int col, int64_t if_null);
/* Text, NULL for SQL NULL; valid until the next sm_db_next/sm_db_done. */
const char *sm_db_text(const sm_db_res *r, int col);
/* A malloc'd copy of the text (NULL for SQL NULL, or out of memory). */
char *sm_db_str(const sm_db_res *r, int col);
/* A blob: SQLite's bytes, or PostgreSQL's encode(x, 'hex') text decoded.
 * malloc'd; *len = -1 and NULL for SQL NULL. */
uint8_t *sm_db_blob(const sm_db_res *r, int col, int64_t *len);

#endif
