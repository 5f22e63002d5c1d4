/* store_sqlite.c: the relay's store on a SQLite outbox (one relay per file).
 *
 * SQLite serializes writers, so there is no slot sharing: this store owns
 * every slot and computes a row's slot in C only to fill sm_row.slot. The
 * connection runs in WAL mode (readers and the application's writers do not
 * block each other) with a busy timeout, and synchronous=NORMAL: a mark lost
 * to a power cut only re-publishes a row (a duplicate the inbox drops), it
 * never loses one. There is no NOTIFY: sm_store_wait polls PRAGMA
 * data_version, which changes when another connection commits. Statements
 * are prepared once (lazily: the tables may not exist before migrate).
 *
 * Acknowledgements journal: the PUBLISHED marks need the file's one write
 * lock, which the application's writers hold for the length of each of
 * their transactions; a relay killed while its marks waited published those
 * rows again after its restart (9.4% of rows under kill -9s in issue 18).
 * So each batch of acknowledgements is first committed to a small SQLite
 * file of the relay's own, PATH-samsa-acks, whose lock nobody else takes
 * (milliseconds, never behind a writer); a thread of the store's own, on
 * connections of its own, then applies the journal to the outbox, waiting
 * for the write lock as long as it takes, and empties it. Until then the
 * rows are pending (in memory, under a mutex): claims skip them. After a
 * crash the journal is read back before the first claim. The journal
 * records the outbox it belongs to (inode and schema creation time), so a
 * new outbox at the same path never receives old marks. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/stat.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "outbox/db.h"
#include "outbox/outbox_int.h"

enum {
    Q_CLAIM,
    Q_MARK_PUB,
    Q_RETRY,
    Q_DEAD,
    Q_COMPLETE,
    Q_COMPLETE_ANY,
    Q_PARTS,
    Q_NEW_INC,
    Q_CUR_INC,
    Q_REQUEUE_INC,
    Q_REQUEUE,
    Q_CLEAN_ARCH_DONE,
    Q_CLEAN_ARCH_PUB,
    Q_CLEAN_DEL_DONE,
    Q_CLEAN_DEL_PUB,
    Q_DATA_VERSION,
    Q_N
};

/* The rows one cleanup batch selects, through samsa_outbox_done or
 * samsa_outbox_published; the same text in the archive and delete
 * statements, which run in one write transaction and so see the same rows. */
#define CLEAN_DONE_SQL                                                                            \
    "SELECT id FROM samsa_outbox WHERE status IN ('COMPLETE', 'DEAD') AND status = 'COMPLETE'"    \
    " AND published_at < ?1 LIMIT ?2"
#define CLEAN_PUB_SQL                                                                             \
    "SELECT id FROM samsa_outbox WHERE status = 'PUBLISHED' AND published_at < ?1 LIMIT ?2"
#define ROW_COLS                                                                                  \
    "id, event_id, topic, key, type, payload, headers, created_at, status, attempts,"             \
    " next_attempt_at, last_error, kafka_partition, kafka_offset, published_at, kafka_incarnation"
/* the current incarnation of topic ?1 (no row: 0) */
#define CUR_INC "coalesce((SELECT i.incarnation FROM samsa_topic_incarnation i WHERE i.topic = ?1), 0)"
/* a pair's lowest or highest PUBLISHED row of the current incarnation */
#define END_ROW(dir)                                                                              \
    "(SELECT o.id FROM samsa_outbox o WHERE o.status = 'PUBLISHED' AND o.topic = c.topic"         \
    " AND o.kafka_partition = c.p AND o.kafka_incarnation = c.inc"                                 \
    " ORDER BY o.kafka_offset " dir ", o.id " dir " LIMIT 1)"
/* rows of a pair in another incarnation than the current (one index range each) */
#define OTHER_INC(op)                                                                             \
    "EXISTS (SELECT 1 FROM samsa_outbox o WHERE o.status = 'PUBLISHED' AND o.topic = c.topic"     \
    " AND o.kafka_partition = c.p AND o.kafka_incarnation " op ")"
#define SAME_OFFSET(e)                                                                            \
    "(SELECT count(*) FROM samsa_outbox o WHERE o.status = 'PUBLISHED' AND o.topic = c.topic"     \
    " AND o.kafka_partition = c.p AND o.kafka_incarnation = c.inc"                                 \
    " AND o.kafka_offset = " e ".kafka_offset)"

static const char *const sql_of[Q_N] = {
    /* due INIT rows in id order, but not behind an earlier failed row of
     * their key that is not due yet (or DEAD, when ?2: on.dead=block) */
    [Q_CLAIM] = "SELECT id, key, event_id, topic, type, payload, headers, created_at, attempts,"
                " coalesce((SELECT i.incarnation FROM samsa_topic_incarnation i"
                "  WHERE i.topic = o.topic), 0)"
                " FROM samsa_outbox o WHERE status = 'INIT' AND next_attempt_at <= ?1"
                " AND id > ?3"
                " AND NOT EXISTS (SELECT 1 FROM samsa_outbox e WHERE e.key = o.key"
                "  AND e.id < o.id AND (e.status = 'DEAD' OR (e.status = 'INIT' AND e.attempts > 0))"
                "  AND ((e.status = 'INIT' AND e.next_attempt_at > ?1) OR (e.status = 'DEAD' AND ?2)))"
                " ORDER BY id",
    [Q_MARK_PUB] = "UPDATE samsa_outbox SET status = 'PUBLISHED', kafka_partition = ?2,"
                   " kafka_offset = ?3, published_at = ?4, last_error = NULL,"
                   " kafka_incarnation = ?5"
                   " WHERE id = ?1 AND status IN ('INIT', 'PUBLISHED')",
    [Q_RETRY] = "UPDATE samsa_outbox SET attempts = ?2, next_attempt_at = ?3,"
                " last_error = ?4 WHERE id = ?1 AND status = 'INIT'",
    [Q_DEAD] = "UPDATE samsa_outbox SET status = 'DEAD', attempts = ?2,"
               " last_error = ?3 WHERE id = ?1 AND status = 'INIT'",
    /* rows of one incarnation, and only while it is the current one */
    [Q_COMPLETE] = "UPDATE samsa_outbox SET status = 'COMPLETE' WHERE status = 'PUBLISHED'"
                   " AND topic = ?1 AND kafka_partition = ?2 AND kafka_incarnation = ?3"
                   " AND kafka_offset >= ?4 AND kafka_offset < ?5 AND ?3 = " CUR_INC,
    [Q_COMPLETE_ANY] = "UPDATE samsa_outbox SET status = 'COMPLETE' WHERE status = 'PUBLISHED'"
                       " AND topic = ?1 AND kafka_partition = ?2 AND kafka_offset < ?3",
    /* distinct (topic, partition) by hopping through the index, not reading
     * every PUBLISHED row */
    [Q_PARTS] = "WITH RECURSIVE tp(topic, p) AS ("
                " SELECT * FROM (SELECT topic, kafka_partition FROM samsa_outbox"
                "  WHERE status = 'PUBLISHED' ORDER BY topic, kafka_partition LIMIT 1)"
                " UNION ALL"
                " SELECT (SELECT o.topic FROM samsa_outbox o WHERE o.status = 'PUBLISHED'"
                "   AND (o.topic, o.kafka_partition) > (tp.topic, tp.p)"
                "   ORDER BY o.topic, o.kafka_partition LIMIT 1),"
                "  (SELECT o.kafka_partition FROM samsa_outbox o WHERE o.status = 'PUBLISHED'"
                "   AND (o.topic, o.kafka_partition) > (tp.topic, tp.p)"
                "   ORDER BY o.topic, o.kafka_partition LIMIT 1)"
                " FROM tp WHERE tp.topic IS NOT NULL),"
                /* each pair's current incarnation, its two ends, other ones */
                " c(topic, p, inc) AS (SELECT topic, p, coalesce((SELECT i.incarnation"
                "  FROM samsa_topic_incarnation i WHERE i.topic = tp.topic), 0)"
                "  FROM tp WHERE topic IS NOT NULL)"
                " SELECT c.topic, c.p, c.inc,"
                "  lo.kafka_offset, lo.event_id, lo.created_at, " SAME_OFFSET("lo") ","
                "  hi.kafka_offset, hi.event_id, hi.created_at, " SAME_OFFSET("hi") ","
                "  " OTHER_INC("< c.inc") " OR " OTHER_INC("> c.inc") " OR "
                "  " OTHER_INC("IS NULL")
                " FROM c LEFT JOIN samsa_outbox lo ON lo.id = " END_ROW("ASC")
                " LEFT JOIN samsa_outbox hi ON hi.id = " END_ROW("DESC"),
    /* a new incarnation, if ?2 is still the current one */
    [Q_NEW_INC] = "INSERT INTO samsa_topic_incarnation (topic, incarnation, detected_at, reason)"
                  " SELECT ?1, ?2 + 1, ?4, ?3 WHERE " CUR_INC " = ?2"
                  " ON CONFLICT (topic) DO UPDATE SET incarnation = excluded.incarnation,"
                  " detected_at = excluded.detected_at, reason = excluded.reason"
                  " WHERE incarnation = ?2",
    [Q_CUR_INC] = "SELECT " CUR_INC,
    [Q_REQUEUE_INC] = "UPDATE samsa_outbox SET status = 'INIT', next_attempt_at = ?3,"
                      " last_error = ?2 WHERE status = 'PUBLISHED' AND topic = ?1"
                      " AND (kafka_incarnation IS NULL OR kafka_incarnation <> " CUR_INC ")",
    [Q_REQUEUE] = "UPDATE samsa_outbox SET status = 'INIT', next_attempt_at = ?2"
                  " WHERE status = 'PUBLISHED' AND published_at < ?1",
    [Q_CLEAN_ARCH_DONE] = "INSERT OR IGNORE INTO samsa_outbox_archive (" ROW_COLS ")"
                          " SELECT " ROW_COLS " FROM samsa_outbox WHERE id IN (" CLEAN_DONE_SQL ")",
    [Q_CLEAN_ARCH_PUB] = "INSERT OR IGNORE INTO samsa_outbox_archive (" ROW_COLS ")"
                         " SELECT " ROW_COLS " FROM samsa_outbox WHERE id IN (" CLEAN_PUB_SQL ")",
    [Q_CLEAN_DEL_DONE] = "DELETE FROM samsa_outbox WHERE id IN (" CLEAN_DONE_SQL ")",
    [Q_CLEAN_DEL_PUB] = "DELETE FROM samsa_outbox WHERE id IN (" CLEAN_PUB_SQL ")",
    /* each count through the partial index that holds its status */
    [Q_DATA_VERSION] = "PRAGMA data_version",
};

typedef struct sq_store {
    sm_store base;
    sqlite3 *db;
    /* the acknowledgements journal (see above) */
    char *aj_path;
    sqlite3 *aj;
    bool aj_ready;       /* checked against this outbox, pending rows loaded */
    sm_published *pend;  /* acknowledged, not yet marked in the outbox; by id */
    size_t npend, cappend;
    /* the applier thread: pend is shared with it under mu */
    pthread_t th;
    bool th_running, th_stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sqlite3 *adb, *aaj; /* its connections to the outbox and the journal */
    sqlite3_stmt *st[Q_N];
    int64_t seen_version; /* data_version when rows were last looked at */
    bool have_version;
    /* The claim cursor (sm_store_set_claim_cursor). One writer at a time
     * (the file's write lock, held from a transaction's first write to its
     * commit) and AUTOINCREMENT ids: rows become visible in id order, so
     * every id a claim has looked at is final and the floor is simply the
     * last one; no horizon is needed as on PostgreSQL. */
    bool cursor_on;
    bool full;         /* the next claim starts from the lowest INIT row */
    int64_t floor;     /* claims start above it */
    int64_t rewind_to; /* lowest (id - 1) asked for by sm_store_rewind */
    int64_t next_full; /* mono ms: a claim from the lowest INIT row */
} sq_store;

#define SQ(s) ((sq_store *)(s))
#define SQ_CLAIM_FULL_MS 2000
#define SQ_BUSY_MS 5000 /* the outbox connection's busy timeout */

static void sq_set_claim_cursor(sm_store *base, bool on)
{
    SQ(base)->cursor_on = on;
}

static void sq_rewind(sm_store *base, int64_t id)
{
    sq_store *s = SQ(base);
    if (id - 1 < s->rewind_to)
        s->rewind_to = id - 1;
}
#define CLEAN_BATCH 10000

static int fail(sq_store *s, const char *op, char *err, size_t errlen)
{
    return sm_sqlite_fail(err, errlen, s->base.name, op, s->db);
}

/* The statement, prepared once, reset and unbound. */
static sqlite3_stmt *stmt(sq_store *s, int q, const char *op, char *err, size_t errlen)
{
    if (!s->st[q]) {
        if (sqlite3_prepare_v3(s->db, sql_of[q], -1, SQLITE_PREPARE_PERSISTENT, &s->st[q],
                               NULL) != SQLITE_OK) {
            fail(s, op, err, errlen);
            return NULL;
        }
    } else {
        sqlite3_reset(s->st[q]);
        sqlite3_clear_bindings(s->st[q]);
    }
    return s->st[q];
}

static int exec(sq_store *s, const char *op, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = sm_fail(err, errlen, SM_ERR, "%s: %s: %s", s->base.name, op,
                         msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return rc;
    }
    return SM_OK;
}

static void rollback(sq_store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Runs a statement that returns no rows; *changed gets the rows changed. */
static int step_done(sq_store *s, sqlite3_stmt *st, const char *op, int64_t *changed, char *err,
                     size_t errlen)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        int r = fail(s, op, err, errlen);
        sqlite3_reset(st);
        return r;
    }
    if (changed)
        *changed = sqlite3_changes64(s->db);
    sqlite3_reset(st);
    return SM_OK;
}

static int apply_marks(sq_store *s, sqlite3 *db, const sm_published *v, size_t n, char *err,
                       size_t errlen);
static void journal_forget(sq_store *s, sqlite3 *aj, const sm_published *v, size_t n);
static int applier_start(sq_store *s, char *err, size_t errlen);
static void sleep_ms(int64_t ms);

static void sq_close(sm_store *base)
{
    sq_store *s = SQ(base);
    if (s->th_running) {
        pthread_mutex_lock(&s->mu);
        s->th_stop = true;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->th, NULL);
        sqlite3_close_v2(s->adb);
        sqlite3_close_v2(s->aaj);
    }
    if (s->npend) { /* what the applier had not done: once more, here */
        char err[256];
        if (apply_marks(s, s->db, s->pend, s->npend, err, sizeof err) == SM_OK)
            journal_forget(s, s->aj, s->pend, s->npend);
        else
            sm_warn("%s; %zu acknowledged rows stay in %s: they are marked PUBLISHED at the"
                    " next start", err, s->npend, s->aj_path);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    sqlite3_close_v2(s->aj);
    free(s->aj_path);
    free(s->pend);
    for (int i = 0; i < Q_N; i++)
        sqlite3_finalize(s->st[i]);
    if (sqlite3_close(s->db) != SQLITE_OK)
        sqlite3_close_v2(s->db);
    free(s);
}

static int sq_db_begin(sm_store *base, const char *op, sm_db *db, char *err, size_t errlen)
{
    (void)op;
    (void)err;
    (void)errlen;
    sm_db_wrap_sqlite(db, SQ(base)->db, base->name);
    return SM_OK;
}

static void sq_db_end(sm_store *base, int rc)
{
    (void)base;
    (void)rc;
}

static int sq_balance(sm_store *base, const char *relay_id, uint64_t busy, uint64_t *owned,
                      char *err, size_t errlen)
{
    (void)base, (void)relay_id, (void)busy, (void)err, (void)errlen;
    *owned = SM_STORE_ALL_SLOTS; /* one relay per SQLite file */
    return SM_OK;
}

static uint64_t sq_owned(const sm_store *base)
{
    (void)base;
    return SM_STORE_ALL_SLOTS;
}

static int data_version(sq_store *s, int64_t *v, char *err, size_t errlen)
{
    sqlite3_stmt *st = stmt(s, Q_DATA_VERSION, "data version", err, errlen);
    if (!st)
        return SM_ERR;
    if (sqlite3_step(st) != SQLITE_ROW) {
        int rc = fail(s, "data version", err, errlen);
        sqlite3_reset(st);
        return rc;
    }
    *v = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return SM_OK;
}

/* A malloc'd copy of a column (NUL-terminated), NULL for SQL NULL. */
static char *col_dup(sqlite3_stmt *st, int col, int32_t *len, bool *ok)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL) {
        if (len)
            *len = -1;
        return NULL;
    }
    /* blob first, then bytes: the documented order for a stable pointer */
    const void *p = sqlite3_column_blob(st, col);
    int n = sqlite3_column_bytes(st, col);
    char *c = malloc((size_t)n + 1);
    if (!c) {
        *ok = false;
        return NULL;
    }
    if (n)
        memcpy(c, p, (size_t)n);
    c[n] = 0;
    if (len)
        *len = n;
    return c;
}


/* ---- the acknowledgements journal ------------------------------------------- */


static int aj_exec(sq_store *s, const char *op, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(s->aj, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = sm_fail(err, errlen, SM_ERR, "%s: %s: %s", s->aj_path, op,
                         msg ? msg : sqlite3_errmsg(s->aj));
        sqlite3_free(msg);
        return rc;
    }
    return SM_OK;
}

static int cmp_pub(const void *a, const void *b)
{
    int64_t x = ((const sm_published *)a)->id, y = ((const sm_published *)b)->id;
    return x < y ? -1 : x > y;
}

/* The pending mark of row id among the first n (sorted by id), or NULL. */
static sm_published *aj_find(const sq_store *s, size_t n, int64_t id)
{
    sm_published key = {.id = id};
    return n ? bsearch(&key, s->pend, n, sizeof *s->pend, cmp_pub) : NULL;
}

/* The outbox's identity: its file's inode and when schema v1 was applied.
 * SM_AGAIN: no schema yet. */
static int outbox_ident(sq_store *s, char *out, size_t outlen, char *err, size_t errlen)
{
    struct stat sb;
    const char *path = s->base.name + strlen("sqlite:");
    if (stat(path, &sb) != 0)
        return sm_fail(err, errlen, SM_EIO, "%s: stat: %s", s->base.name, strerror(errno));
    sqlite3_stmt *st = NULL;
    int rc = SM_AGAIN;
    if (sqlite3_prepare_v2(s->db, "SELECT applied_at FROM samsa_schema_version WHERE version = 1",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        snprintf(out, outlen, "%llu:%llu:%lld", (unsigned long long)sb.st_dev,
                 (unsigned long long)sb.st_ino, (long long)sqlite3_column_int64(st, 0));
        rc = SM_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Opens the journal and loads what it holds for this outbox (a journal of
 * another outbox at this path is emptied). SM_AGAIN: the outbox has no
 * schema yet. */
static int aj_open(sq_store *s, char *err, size_t errlen)
{
    if (s->aj_ready)
        return SM_OK;
    char ident[128];
    int rc = outbox_ident(s, ident, sizeof ident, err, errlen);
    if (rc)
        return rc;
    if (!s->aj) {
        if (sqlite3_open_v2(s->aj_path, &s->aj, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
            SQLITE_OK) {
            rc = sm_fail(err, errlen, SM_EIO, "%s: open: %s", s->aj_path,
                         s->aj ? sqlite3_errmsg(s->aj) : "out of memory");
            sqlite3_close(s->aj);
            s->aj = NULL;
            return rc;
        }
        sqlite3_busy_timeout(s->aj, 5000);
        if ((rc = aj_exec(s, "open", "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                                      "CREATE TABLE IF NOT EXISTS samsa_acks (id INTEGER PRIMARY KEY,"
                                      " kafka_partition INTEGER NOT NULL, kafka_offset INTEGER NOT NULL,"
                                      " published_at INTEGER NOT NULL,"
                                      " kafka_incarnation INTEGER NOT NULL DEFAULT 0);"
                                      "CREATE TABLE IF NOT EXISTS samsa_acks_outbox (ident TEXT NOT NULL)",
                          err, errlen)))
            return rc;
        /* a journal written before incarnations: its marks are of 0, the
         * incarnation every row had then */
        sqlite3_stmt *ck = NULL;
        bool has = false;
        if (sqlite3_prepare_v2(s->aj, "SELECT count(*) FROM pragma_table_info('samsa_acks')"
                                      " WHERE name = 'kafka_incarnation'", -1, &ck, NULL) == SQLITE_OK &&
            sqlite3_step(ck) == SQLITE_ROW)
            has = sqlite3_column_int(ck, 0) > 0;
        sqlite3_finalize(ck);
        if (!has && (rc = aj_exec(s, "open: upgrade",
                                  "ALTER TABLE samsa_acks ADD COLUMN"
                                  " kafka_incarnation INTEGER NOT NULL DEFAULT 0",
                                  err, errlen)))
            return rc;
    }
    sqlite3_stmt *st = NULL;
    bool same = false;
    if (sqlite3_prepare_v2(s->aj, "SELECT ident FROM samsa_acks_outbox", -1, &st, NULL) != SQLITE_OK)
        return sm_fail(err, errlen, SM_ERR, "%s: read: %s", s->aj_path, sqlite3_errmsg(s->aj));
    if (sqlite3_step(st) == SQLITE_ROW)
        same = !strcmp((const char *)sqlite3_column_text(st, 0), ident);
    sqlite3_finalize(st);
    if (!same) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "BEGIN; DELETE FROM samsa_acks; DELETE FROM samsa_acks_outbox;"
                 " INSERT INTO samsa_acks_outbox VALUES ('%s'); COMMIT",
                 ident); /* digits and colons only */
        if ((rc = aj_exec(s, "reset", sql, err, errlen))) {
            sqlite3_exec(s->aj, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
    }
    if (sqlite3_prepare_v2(s->aj, "SELECT id, kafka_partition, kafka_offset, published_at,"
                                  " kafka_incarnation FROM samsa_acks ORDER BY id", -1, &st,
                           NULL) != SQLITE_OK)
        return sm_fail(err, errlen, SM_ERR, "%s: read: %s", s->aj_path, sqlite3_errmsg(s->aj));
    pthread_mutex_lock(&s->mu);
    s->npend = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (s->npend == s->cappend) {
            size_t cap = s->cappend ? s->cappend * 2 : 1024;
            sm_published *p = realloc(s->pend, cap * sizeof *p);
            if (!p) {
                pthread_mutex_unlock(&s->mu);
                sqlite3_finalize(st);
                return sm_fail(err, errlen, SM_ENOMEM, "%s: out of memory", s->aj_path);
            }
            s->pend = p;
            s->cappend = cap;
        }
        s->pend[s->npend++] = (sm_published){sqlite3_column_int64(st, 0),
                                             sqlite3_column_int(st, 1),
                                             sqlite3_column_int64(st, 2),
                                             sqlite3_column_int64(st, 3),
                                             sqlite3_column_int(st, 4)};
    }
    sqlite3_finalize(st);
    size_t loaded = s->npend;
    pthread_mutex_unlock(&s->mu);
    if (!s->th_running && (rc = applier_start(s, err, errlen)))
        return rc;
    s->aj_ready = true;
    if (loaded)
        sm_info("%s: %zu rows acknowledged by the broker before the relay stopped are in %s:"
                " marking them PUBLISHED (not published again)",
                s->base.name, loaded, s->aj_path);
    return SM_OK;
}

/* The PUBLISHED marks, inside the caller's write transaction. */
static int mark_rows(sq_store *s, const sm_published *v, size_t n, char *err, size_t errlen)
{
    int rc = SM_OK;
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = stmt(s, Q_MARK_PUB, "mark published", err, errlen);
        if (!st) {
            rc = SM_ERR;
            goto fail;
        }
        if (sqlite3_bind_int64(st, 1, v[i].id) != SQLITE_OK ||
            sqlite3_bind_int(st, 2, v[i].partition) != SQLITE_OK ||
            sqlite3_bind_int64(st, 3, v[i].offset) != SQLITE_OK ||
            sqlite3_bind_int64(st, 4, v[i].published_at_ms) != SQLITE_OK ||
            sqlite3_bind_int(st, 5, v[i].incarnation) != SQLITE_OK) {
            rc = fail(s, "mark published: bind", err, errlen);
            goto fail;
        }
        rc = step_done(s, st, "mark published", NULL, err, errlen);
        if (rc)
            goto fail;
    }
fail:
    return rc;
}

/* Marks rows PUBLISHED in the outbox in one write transaction. */
static int mark_direct(sq_store *s, const sm_published *v, size_t n, char *err, size_t errlen)
{
    int rc = exec(s, "mark published: begin", "BEGIN IMMEDIATE", err, errlen);
    if (rc)
        return rc;
    if ((rc = mark_rows(s, v, n, err, errlen)) ||
        (rc = exec(s, "mark published: commit", "COMMIT", err, errlen)))
        rollback(s);
    return rc;
}

/* Applies every pending mark to the outbox through connection db (the
 * store's own at close, the applier's otherwise), waiting for its write
 * lock up to the busy timeout. */
static int apply_marks(sq_store *s, sqlite3 *db, const sm_published *v, size_t n, char *err,
                       size_t errlen)
{
    char *msg = NULL;
    sqlite3_stmt *st = NULL;
    int rc = SM_OK;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK) {
        rc = sm_fail(err, errlen, SM_ERR, "%s: mark published: begin: %s", s->base.name,
                     msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return rc;
    }
    if (sqlite3_prepare_v2(db, sql_of[Q_MARK_PUB], -1, &st, NULL) != SQLITE_OK)
        rc = sm_fail(err, errlen, SM_ERR, "%s: mark published: %s", s->base.name,
                     sqlite3_errmsg(db));
    for (size_t i = 0; !rc && i < n; i++) {
        sqlite3_reset(st);
        if (sqlite3_bind_int64(st, 1, v[i].id) != SQLITE_OK ||
            sqlite3_bind_int(st, 2, v[i].partition) != SQLITE_OK ||
            sqlite3_bind_int64(st, 3, v[i].offset) != SQLITE_OK ||
            sqlite3_bind_int64(st, 4, v[i].published_at_ms) != SQLITE_OK ||
            sqlite3_bind_int(st, 5, v[i].incarnation) != SQLITE_OK ||
            sqlite3_step(st) != SQLITE_DONE)
            rc = sm_fail(err, errlen, SM_ERR, "%s: mark published: %s", s->base.name,
                         sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    if (!rc && sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
        rc = sm_fail(err, errlen, SM_ERR, "%s: mark published: commit: %s", s->base.name,
                     msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
    }
    if (rc && !sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Removes from the journal (connection aj) the marks of v that are still
 * the newest of their rows. */
static void journal_forget(sq_store *s, sqlite3 *aj, const sm_published *v, size_t n)
{
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_exec(aj, "BEGIN", NULL, NULL, NULL) == SQLITE_OK &&
              sqlite3_prepare_v2(aj, "DELETE FROM samsa_acks WHERE id = ?1 AND kafka_partition = ?2"
                                     " AND kafka_offset = ?3", -1, &st, NULL) == SQLITE_OK;
    for (size_t i = 0; ok && i < n; i++) {
        sqlite3_reset(st);
        ok = sqlite3_bind_int64(st, 1, v[i].id) == SQLITE_OK &&
             sqlite3_bind_int(st, 2, v[i].partition) == SQLITE_OK &&
             sqlite3_bind_int64(st, 3, v[i].offset) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (ok)
        ok = sqlite3_exec(aj, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) {
        /* they stay in the journal: applied once more after a restart, harmless */
        sm_log_limited(SM_LOG_WARN, "%s: could not empty the journal: %s", s->aj_path,
                       sqlite3_errmsg(aj));
        if (!sqlite3_get_autocommit(aj))
            sqlite3_exec(aj, "ROLLBACK", NULL, NULL, NULL);
    }
}

/* The applier: waits for pending marks, applies a copy of them to the
 * outbox (blocking on its write lock, never the relay's loop), forgets
 * them from the journal, then drops from pend those that are unchanged. */
static void *applier(void *arg)
{
    sq_store *s = arg;
    sm_published *batch = NULL;
    size_t cap = 0;
    pthread_mutex_lock(&s->mu);
    while (!s->th_stop) {
        if (!s->npend) {
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        size_t n = s->npend;
        if (n > cap) {
            sm_published *b = realloc(batch, n * sizeof *b);
            if (!b) {
                n = cap;
            } else {
                batch = b;
                cap = n;
            }
        }
        if (!n) { /* out of memory: try again later */
            pthread_mutex_unlock(&s->mu);
            sleep_ms(100);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        memcpy(batch, s->pend, n * sizeof *batch);
        pthread_mutex_unlock(&s->mu);
        char err[512];
        int rc = apply_marks(s, s->adb, batch, n, err, sizeof err);
        if (rc == SM_OK)
            journal_forget(s, s->aaj, batch, n);
        else
            sm_log_limited(SM_LOG_WARN, "%s (the marks stay in %s; trying again)", err,
                           s->aj_path);
        pthread_mutex_lock(&s->mu);
        if (rc == SM_OK) {
            /* keep what is not in the batch, or was published again since */
            size_t k = 0, j = 0;
            for (size_t i = 0; i < s->npend; i++) {
                const sm_published *p = &s->pend[i];
                while (j < n && batch[j].id < p->id)
                    j++;
                bool done = j < n && batch[j].id == p->id && batch[j].offset == p->offset &&
                            batch[j].partition == p->partition;
                if (!done)
                    s->pend[k++] = *p;
            }
            s->npend = k;
        } else if (!s->th_stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        }
    }
    pthread_mutex_unlock(&s->mu);
    free(batch);
    return NULL;
}

/* Starts the applier with connections of its own. */
static int applier_start(sq_store *s, char *err, size_t errlen)
{
    const char *path = s->base.name + strlen("sqlite:");
    if (sqlite3_open_v2(path, &s->adb, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_open_v2(s->aj_path, &s->aaj, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_exec(s->adb, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = sm_fail(err, errlen, SM_EIO, "%s: the journal's applier: open: %s",
                         s->base.name, s->aaj ? sqlite3_errmsg(s->aaj) : "out of memory");
        sqlite3_close_v2(s->adb);
        sqlite3_close_v2(s->aaj);
        s->adb = s->aaj = NULL;
        return rc;
    }
    sqlite3_busy_timeout(s->adb, SQ_BUSY_MS);
    sqlite3_busy_timeout(s->aaj, SQ_BUSY_MS);
    if (pthread_create(&s->th, NULL, applier, s) != 0) {
        sqlite3_close_v2(s->adb);
        sqlite3_close_v2(s->aaj);
        s->adb = s->aaj = NULL;
        return sm_fail(err, errlen, SM_ERR, "%s: the journal's applier: cannot start a thread",
                       s->base.name);
    }
    s->th_running = true;
    return SM_OK;
}

static int sq_claim(sm_store *base, uint64_t owned, int max, sm_row_skip_fn skip, void *arg,
                    sm_row **out, int *nout, char *err, size_t errlen)
{
    sq_store *s = SQ(base);
    int64_t v = 0;
    int rc = data_version(s, &v, err, errlen);
    if (rc)
        return rc;
    s->seen_version = v;
    s->have_version = true;
    /* rows the journal holds from before a restart are never claimed */
    if (!s->aj_ready && aj_open(s, err, errlen) == SM_ERR)
        sm_log_limited(SM_LOG_WARN, "%s", err);
    sqlite3_stmt *st = stmt(s, Q_CLAIM, "claim", err, errlen);
    if (!st)
        return SM_ERR;
    sm_row *rows = NULL;
    int n = 0, cap = 0;
    bool ok = true;
    if (s->rewind_to < s->floor)
        s->floor = s->rewind_to;
    s->rewind_to = INT64_MAX;
    int64_t now = sm_mono_ms();
    if (!s->cursor_on || s->full || now >= s->next_full) {
        /* from the lowest INIT row: the plain claim, and every 2 s for rows
         * set back to INIT behind the floor (an operator's re-queue, a
         * retry scheduled before a restart) */
        s->floor = 0;
        s->full = false;
        s->next_full = now + SQ_CLAIM_FULL_MS;
    }
    int64_t looked_to = s->floor;
    if (sqlite3_bind_int64(st, 1, sm_wall_ms()) != SQLITE_OK ||
        sqlite3_bind_int(st, 2, base->dead_holds_key) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, s->floor) != SQLITE_OK) {
        rc = fail(s, "claim: bind", err, errlen);
        goto fail;
    }
    while (n < max) {
        int sr = sqlite3_step(st);
        if (sr == SQLITE_DONE)
            break;
        if (sr != SQLITE_ROW) {
            rc = fail(s, "claim", err, errlen);
            goto fail;
        }
        int64_t id = sqlite3_column_int64(st, 0);
        looked_to = id;
        const char *key = (const char *)sqlite3_column_text(st, 1);
        int klen = sqlite3_column_bytes(st, 1);
        int slot = sm_slot_of(key, key ? (size_t)klen : 0);
        if (!(owned & ((uint64_t)1 << slot)))
            continue;
        if (s->aj_ready) {
            pthread_mutex_lock(&s->mu);
            bool pending = aj_find(s, s->npend, id) != NULL;
            pthread_mutex_unlock(&s->mu);
            if (pending)
                continue; /* acknowledged: its mark waits in the journal */
        }
        if (skip && skip(id, key, (const char *)sqlite3_column_text(st, 3), arg))
            continue;
        if (n == cap) {
            int ncap = cap ? cap * 2 : (max < 64 ? max : 64);
            if (ncap > max)
                ncap = max;
            sm_row *nr = realloc(rows, (size_t)ncap * sizeof *nr);
            if (!nr) {
                rc = sm_fail(err, errlen, SM_ENOMEM, "%s: claim: out of memory", base->name);
                goto fail;
            }
            rows = nr;
            cap = ncap;
        }
        sm_row *r = &rows[n++];
        memset(r, 0, sizeof *r);
        r->id = id;
        r->slot = slot;
        r->key = col_dup(st, 1, &r->key_len, &ok);
        r->event_id = col_dup(st, 2, NULL, &ok);
        r->topic = col_dup(st, 3, NULL, &ok);
        r->type = col_dup(st, 4, NULL, &ok);
        r->payload = (uint8_t *)col_dup(st, 5, &r->payload_len, &ok);
        r->headers_json = col_dup(st, 6, NULL, &ok);
        r->created_at_ms = sqlite3_column_int64(st, 7);
        r->attempts = sqlite3_column_int(st, 8);
        r->incarnation = sqlite3_column_int(st, 9);
        if (!ok) {
            rc = sm_fail(err, errlen, SM_ENOMEM, "%s: claim: out of memory", base->name);
            goto fail;
        }
    }
    sqlite3_reset(st);
    if (s->cursor_on && looked_to > s->floor)
        s->floor = looked_to;
    *out = rows;
    *nout = n;
    return SM_OK;
fail:
    sqlite3_reset(st);
    sm_rows_free(rows, n);
    return rc;
}

static int sq_mark_published(sm_store *base, const sm_published *v, int n, char *err,
                             size_t errlen)
{
    sq_store *s = SQ(base);
    if (n <= 0)
        return SM_OK;
    if (aj_open(s, err, errlen) != SM_OK) {
        sm_log_limited(SM_LOG_WARN, "%s; marking rows directly (a relay killed while these"
                       " marks wait publishes the rows again)", err);
        return mark_direct(s, v, (size_t)n, err, errlen);
    }
    /* first into the journal: committed in milliseconds, behind nobody */
    sqlite3_stmt *st = NULL;
    int rc = aj_exec(s, "record acknowledgements: begin", "BEGIN", err, errlen);
    if (!rc && sqlite3_prepare_v2(s->aj, "INSERT OR REPLACE INTO samsa_acks (id, kafka_partition,"
                                  " kafka_offset, published_at, kafka_incarnation)"
                                  " VALUES (?1, ?2, ?3, ?4, ?5)", -1, &st, NULL) != SQLITE_OK)
        rc = sm_fail(err, errlen, SM_ERR, "%s: record: %s", s->aj_path, sqlite3_errmsg(s->aj));
    for (int i = 0; !rc && i < n; i++) {
        sqlite3_reset(st);
        if (sqlite3_bind_int64(st, 1, v[i].id) != SQLITE_OK ||
            sqlite3_bind_int(st, 2, v[i].partition) != SQLITE_OK ||
            sqlite3_bind_int64(st, 3, v[i].offset) != SQLITE_OK ||
            sqlite3_bind_int64(st, 4, v[i].published_at_ms) != SQLITE_OK ||
            sqlite3_bind_int(st, 5, v[i].incarnation) != SQLITE_OK ||
            sqlite3_step(st) != SQLITE_DONE)
            rc = sm_fail(err, errlen, SM_ERR, "%s: record: %s", s->aj_path, sqlite3_errmsg(s->aj));
    }
    sqlite3_finalize(st);
    if (!rc)
        rc = aj_exec(s, "record acknowledgements: commit", "COMMIT", err, errlen);
    if (rc) {
        sqlite3_exec(s->aj, "ROLLBACK", NULL, NULL, NULL);
        sm_log_limited(SM_LOG_WARN, "%s; marking rows directly", err);
        return mark_direct(s, v, (size_t)n, err, errlen);
    }
    pthread_mutex_lock(&s->mu);
    if (s->npend + (size_t)n > s->cappend) {
        size_t cap = s->cappend ? s->cappend : 1024;
        while (cap < s->npend + (size_t)n)
            cap *= 2;
        sm_published *p = realloc(s->pend, cap * sizeof *p);
        if (!p) { /* the journal has them: marked directly now, or at the next start */
            pthread_mutex_unlock(&s->mu);
            return mark_direct(s, v, (size_t)n, err, errlen);
        }
        s->pend = p;
        s->cappend = cap;
    }
    size_t sorted = s->npend;
    for (int i = 0; i < n; i++) {
        sm_published *old = aj_find(s, sorted, v[i].id);
        if (old)
            *old = v[i]; /* published again: the latest wins, as in the journal */
        else
            s->pend[s->npend++] = v[i];
    }
    if (s->npend > sorted)
        qsort(s->pend, s->npend, sizeof *s->pend, cmp_pub);
    /* then into the outbox, by the applier, whenever the write lock is free */
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return SM_OK;
}

static int sq_mark_retry(sm_store *base, int64_t id, int32_t attempts, int64_t next_attempt_ms,
                         const char *error, char *err, size_t errlen)
{
    sq_store *s = SQ(base);
    sqlite3_stmt *st = stmt(s, Q_RETRY, "mark retry", err, errlen);
    if (!st)
        return SM_ERR;
    if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK ||
        sqlite3_bind_int(st, 2, attempts) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, next_attempt_ms) != SQLITE_OK ||
        (error ? sqlite3_bind_text(st, 4, error, -1, SQLITE_STATIC)
               : sqlite3_bind_null(st, 4)) != SQLITE_OK)
        return fail(s, "mark retry: bind", err, errlen);
    return step_done(s, st, "mark retry", NULL, err, errlen);
}

static int sq_mark_dead(sm_store *base, int64_t id, int32_t attempts, const char *error,
                        char *err, size_t errlen)
{
    sq_store *s = SQ(base);
    sqlite3_stmt *st = stmt(s, Q_DEAD, "mark dead", err, errlen);
    if (!st)
        return SM_ERR;
    if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK ||
        sqlite3_bind_int(st, 2, attempts) != SQLITE_OK ||
        (error ? sqlite3_bind_text(st, 3, error, -1, SQLITE_STATIC)
               : sqlite3_bind_null(st, 3)) != SQLITE_OK)
        return fail(s, "mark dead: bind", err, errlen);
    return step_done(s, st, "mark dead", NULL, err, errlen);
}

static int sq_complete(sm_store *base, const char *topic, int32_t partition, int32_t inc,
                       int64_t from, int64_t below, int64_t *changed, char *err, size_t errlen)
{
    sq_store *s = SQ(base);
    *changed = 0;
    sqlite3_stmt *st = stmt(s, inc < 0 ? Q_COMPLETE_ANY : Q_COMPLETE, "complete", err, errlen);
    if (!st)
        return SM_ERR;
    int brc = sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC) |
              sqlite3_bind_int(st, 2, partition);
    if (inc < 0)
        brc |= sqlite3_bind_int64(st, 3, below);
    else
        brc |= sqlite3_bind_int(st, 3, inc) | sqlite3_bind_int64(st, 4, from) |
               sqlite3_bind_int64(st, 5, below);
    if (brc != SQLITE_OK)
        return fail(s, "complete: bind", err, errlen);
    return step_done(s, st, "complete", changed, err, errlen);
}

/* One end of a pair (columns col.. col+3), or offset -1. */
static bool tp_row(sqlite3_stmt *st, int col, sm_tp_row *out)
{
    memset(out, 0, sizeof *out);
    out->offset = -1;
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return true;
    out->offset = sqlite3_column_int64(st, col);
    const char *e = (const char *)sqlite3_column_text(st, col + 1);
    if (!(out->event_id = strdup(e ? e : "")))
        return false;
    out->created_at_ms = sqlite3_column_int64(st, col + 2);
    out->same_offset = sqlite3_column_int(st, col + 3);
    return true;
}

static int sq_published_partitions(sm_store *base, sm_tp **out, int *nout, char *err,
                                   size_t errlen)
{
    sq_store *s = SQ(base);
    sqlite3_stmt *st = stmt(s, Q_PARTS, "published partitions", err, errlen);
    if (!st)
        return SM_ERR;
    sm_tp *tps = NULL;
    int n = 0, cap = 0, rc;
    for (;;) {
        int sr = sqlite3_step(st);
        if (sr == SQLITE_DONE)
            break;
        if (sr != SQLITE_ROW) {
            rc = fail(s, "published partitions", err, errlen);
            goto fail;
        }
        if (n == cap) {
            int ncap = cap ? cap * 2 : 16;
            sm_tp *nt = realloc(tps, (size_t)ncap * sizeof *nt);
            if (!nt)
                goto oom;
            tps = nt;
            cap = ncap;
        }
        sm_tp *tp = &tps[n++];
        memset(tp, 0, sizeof *tp);
        const char *t = (const char *)sqlite3_column_text(st, 0);
        tp->partition = sqlite3_column_int(st, 1);
        tp->incarnation = sqlite3_column_int(st, 2);
        tp->others = sqlite3_column_int(st, 11) != 0;
        if (!(tp->topic = strdup(t ? t : "")) || !tp_row(st, 3, &tp->low) ||
            !tp_row(st, 7, &tp->high))
            goto oom;
    }
    sqlite3_reset(st);
    *out = tps;
    *nout = n;
    return SM_OK;
oom:
    rc = sm_fail(err, errlen, SM_ENOMEM, "%s: published partitions: out of memory", base->name);
fail:
    sqlite3_reset(st);
    sm_tps_free(tps, n);
    return rc;
}

static int sq_new_incarnation(sm_store *base, const char *topic, int32_t inc, const char *reason,
                              int32_t *current, bool *started, char *err, size_t errlen)
{
    sq_store *s = SQ(base);
    int64_t changed = 0;
    *started = false;
    sqlite3_stmt *st = stmt(s, Q_NEW_INC, "new incarnation", err, errlen);
    if (!st)
        return SM_ERR;
    if (sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int(st, 2, inc) != SQLITE_OK ||
        sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, sm_wall_ms()) != SQLITE_OK)
        return fail(s, "new incarnation: bind", err, errlen);
    int rc = step_done(s, st, "new incarnation", &changed, err, errlen);
    if (rc)
        return rc;
    *started = changed > 0;
    if (!(st = stmt(s, Q_CUR_INC, "new incarnation", err, errlen)))
        return SM_ERR;
    if (sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC) != SQLITE_OK)
        return fail(s, "new incarnation: bind", err, errlen);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = fail(s, "new incarnation", err, errlen);
        sqlite3_reset(st);
        return rc;
    }
    *current = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    return SM_OK;
}

static int sq_requeue_incarnations(sm_store *base, const char *topic, const char *reason,
                                   int64_t *changed, char *err, size_t errlen)
{
    sq_store *s = SQ(base);
    *changed = 0;
    sqlite3_stmt *st = stmt(s, Q_REQUEUE_INC, "requeue other incarnations", err, errlen);
    if (!st)
        return SM_ERR;
    if (sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, sm_wall_ms()) != SQLITE_OK)
        return fail(s, "requeue other incarnations: bind", err, errlen);
    int rc = step_done(s, st, "requeue other incarnations", changed, err, errlen);
    if (*changed)
        s->full = true; /* INIT again, below the floor */
    return rc;
}

static int sq_requeue_stale(sm_store *base, int64_t age_ms, int64_t *changed, char *err,
                            size_t errlen)
{
    sq_store *s = SQ(base);
    *changed = 0;
    sqlite3_stmt *st = stmt(s, Q_REQUEUE, "requeue stale", err, errlen);
    if (!st)
        return SM_ERR;
    int64_t now = sm_wall_ms();
    if (sqlite3_bind_int64(st, 1, now - age_ms) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, now) != SQLITE_OK)
        return fail(s, "requeue stale: bind", err, errlen);
    int rc = step_done(s, st, "requeue stale", changed, err, errlen);
    if (*changed)
        s->full = true; /* INIT again, below the floor */
    return rc;
}

static int bind_clean(sq_store *s, sqlite3_stmt *st, int64_t cut, char *err, size_t errlen)
{
    if (sqlite3_bind_int64(st, 1, cut) != SQLITE_OK ||
        sqlite3_bind_int(st, 2, CLEAN_BATCH) != SQLITE_OK)
        return fail(s, "cleanup: bind", err, errlen);
    return SM_OK;
}

/* One batch: archive (optionally) and delete, in one write transaction, so
 * the two statements see the same rows. pub: PUBLISHED rows, else COMPLETE. */
static int clean_batch(sq_store *s, bool pub, int64_t cut, bool archive, int64_t *removed,
                       char *err, size_t errlen)
{
    int rc = exec(s, "cleanup: begin", "BEGIN IMMEDIATE", err, errlen);
    if (rc)
        return rc;
    sqlite3_stmt *st;
    if (archive) {
        st = stmt(s, pub ? Q_CLEAN_ARCH_PUB : Q_CLEAN_ARCH_DONE, "cleanup: archive", err, errlen);
        if (!st) {
            rc = SM_ERR;
            goto fail;
        }
        rc = bind_clean(s, st, cut, err, errlen);
        if (!rc)
            rc = step_done(s, st, "cleanup: archive", NULL, err, errlen);
        if (rc)
            goto fail;
    }
    st = stmt(s, pub ? Q_CLEAN_DEL_PUB : Q_CLEAN_DEL_DONE, "cleanup: delete", err, errlen);
    if (!st) {
        rc = SM_ERR;
        goto fail;
    }
    rc = bind_clean(s, st, cut, err, errlen);
    if (!rc)
        rc = step_done(s, st, "cleanup: delete", removed, err, errlen);
    if (rc)
        goto fail;
    rc = exec(s, "cleanup: commit", "COMMIT", err, errlen);
    if (rc)
        goto fail;
    return SM_OK;
fail:
    rollback(s);
    return rc;
}

static int sq_cleanup(sm_store *base, int64_t age_ms, bool include_published, bool archive,
                      int64_t *removed, char *err, size_t errlen)
{
    sq_store *s = SQ(base);
    int64_t cut = sm_wall_ms() - age_ms;
    *removed = 0;
    for (int pub = 0; pub < (include_published ? 2 : 1); pub++) {
        for (;;) {
            int64_t n = 0;
            int rc = clean_batch(s, pub, cut, archive, &n, err, errlen);
            if (rc)
                return rc;
            *removed += n;
            if (n < CLEAN_BATCH)
                break;
        }
    }
    return SM_OK;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Returns SM_OK once another connection has committed since rows were last
 * claimed (checked every poll interval), SM_AGAIN at the timeout. */
static int sq_wait(sm_store *base, int timeout_ms, char *err, size_t errlen)
{
    sq_store *s = SQ(base);
    int64_t deadline = sm_mono_ms() + timeout_ms;
    for (;;) {
        int64_t v = 0;
        int rc = data_version(s, &v, err, errlen);
        if (rc)
            return rc;
        if (!s->have_version || v != s->seen_version) {
            s->seen_version = v;
            s->have_version = true;
            return SM_OK;
        }
        int64_t left = deadline - sm_mono_ms();
        if (left <= 0)
            return SM_AGAIN;
        sleep_ms(left < base->poll_ms ? left : base->poll_ms);
    }
}

static int sq_wait_fd(sm_store *base)
{
    (void)base;
    return -1;
}

static const sm_store_ops sq_ops = {
    .close = sq_close,
    .db_begin = sq_db_begin,
    .db_end = sq_db_end,
    .balance = sq_balance,
    .claim = sq_claim,
    .mark_published = sq_mark_published,
    .mark_retry = sq_mark_retry,
    .mark_dead = sq_mark_dead,
    .complete = sq_complete,
    .published_partitions = sq_published_partitions,
    .new_incarnation = sq_new_incarnation,
    .requeue_incarnations = sq_requeue_incarnations,
    .requeue_stale = sq_requeue_stale,
    .cleanup = sq_cleanup,
    .wait = sq_wait,
    .wait_fd = sq_wait_fd,
    .owned = sq_owned,
    .set_claim_cursor = sq_set_claim_cursor,
    .rewind = sq_rewind,
};

int sm_store_sqlite_open(sm_store **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    if (!*path)
        return sm_fail(err, errlen, SM_EINVAL, "sqlite: no path (expected sqlite:PATH)");
    sq_store *s = calloc(1, sizeof *s);
    if (!s)
        return sm_fail(err, errlen, SM_ENOMEM, "sqlite:%s: open: out of memory", path);
    s->base.ops = &sq_ops;
    s->base.poll_ms = SM_STORE_DEFAULT_POLL_MS;
    s->base.heartbeat_ttl_ms = SM_STORE_DEFAULT_TTL_MS;
    s->rewind_to = INT64_MAX;
    s->full = true;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    snprintf(s->base.name, sizeof s->base.name, "sqlite:%s", path);
    size_t plen = strlen(path);
    if (!(s->aj_path = malloc(plen + sizeof "-samsa-acks"))) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s);
        return sm_fail(err, errlen, SM_ENOMEM, "sqlite:%s: open: out of memory", path);
    }
    memcpy(s->aj_path, path, plen);
    memcpy(s->aj_path + plen, "-samsa-acks", sizeof "-samsa-acks");
    int rc;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        rc = s->db ? fail(s, "open", err, errlen)
                   : sm_fail(err, errlen, SM_ENOMEM, "%s: open: out of memory", s->base.name);
        goto fail;
    }
    /* busy_timeout first: switching to WAL may wait for the app's writers */
    sqlite3_busy_timeout(s->db, SQ_BUSY_MS);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = fail(s, "open: journal_mode=WAL", err, errlen);
        sqlite3_finalize(st);
        goto fail;
    }
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    bool wal = mode && (!strcmp(mode, "wal") || !strcmp(mode, "memory"));
    if (!wal) {
        rc = sm_fail(err, errlen, SM_ERR,
                     "%s: open: journal_mode stays %s; the relay needs WAL (is another"
                     " connection holding the database in rollback-journal mode?)",
                     s->base.name, mode ? mode : "unknown");
        sqlite3_finalize(st);
        goto fail;
    }
    sqlite3_finalize(st);
    rc = exec(s, "open: synchronous", "PRAGMA synchronous = NORMAL", err, errlen);
    if (rc)
        goto fail;
    *out = &s->base;
    return SM_OK;
fail:
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->aj_path);
    free(s);
    return rc;
}
