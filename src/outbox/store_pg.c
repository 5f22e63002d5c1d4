/* store_pg.c: the relay's store on a PostgreSQL outbox, shareable by several
 * relays.
 *
 * Speed: every statement is prepared once per session and speaks binary
 * (arrays of ids, offsets and slots as parameters, bytea payloads as raw
 * bytes), so a batch is one round trip: claim is two (ids, then rows),
 * mark_published one UPDATE ... FROM unnest(arrays).
 *
 * Claim: by status, never by "id above the last seen": committed INIT rows,
 * due, of owned slots, in id order. A first query reads only (id, key) a page
 * at a time and asks skip() about each; the second fetches the full rows of
 * the chosen ids. Rows the relay holds or has in flight cost a few bytes each,
 * and eligible rows behind them are still found. No row locks are taken: the
 * slot locks already make this relay the only one claiming these keys, and a
 * FOR UPDATE would end with the claim's own transaction anyway.
 *
 * Slots: samsa_outbox.slot is a stored generated column,
 * hashtext(key) & 63 (0 for NULL keys). A relay owns a slot while it holds
 * the session advisory lock (SM_PG_LOCK_CLASS, slot). sm_store_balance
 * writes a heartbeat row (relay_id, backend pid, now()), counts the live
 * relays (seen within the TTL and whose backend still exists, so a dead
 * relay stops counting at once), and moves towards ceil(64 / live) slots:
 * extras are released (after they drain, with sm_store_balance_busy), free
 * slots are taken with pg_try_advisory_lock. A lost connection loses every
 * lock with its session: the call that sees it returns SM_EIO and says so,
 * the store owns nothing, and the next call reconnects.
 *
 * Wake-up: the statement connection LISTENs on samsa_outbox (it is idle
 * whenever the relay sleeps, and PostgreSQL delivers notifications only to
 * idle sessions); its socket is sm_store_wait_fd. The insert trigger
 * notifies only while some relay holds, or waits for, the wake lock
 * (SM_PG_LOCK_WAKE) exclusively: NOTIFY serializes the commits of all
 * notifying transactions, so a busy relay must not make every commit pay
 * for it. sm_store_wait "arms" on a second connection that does nothing
 * else: pg_try_advisory_lock; when that fails (a transaction that did not
 * notify is still open: it holds the lock shared until it ends; or another
 * relay is armed), it sends pg_advisory_lock asynchronously, followed in the
 * same statement by a pg_notify of its own. While that request is queued,
 * every new committer already notifies (a shared try fails behind a queued
 * exclusive request); when it is granted, every transaction that did not
 * notify has ended, and its own notification wakes the socket. Either way,
 * wait returns SM_OK right after arming, so the caller claims once more and
 * sees those rows. A claim that returns rows disarms (unlock, or cancel the
 * queued request): the relay is busy and commits stop notifying. No row is
 * ever left waiting for a timer. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "outbox/outbox_int.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define LOCK_CLASS STR(SM_PG_LOCK_CLASS)
#define MS " * interval '1 millisecond'"

enum {
    P_CLAIM_IDS,
    P_CLAIM_ROWS,
    P_MARK_PUB,
    P_RETRY,
    P_DEAD,
    P_COMPLETE,
    P_COMPLETE_ANY,
    P_PARTS,
    P_NEW_INC,
    P_REQUEUE_INC,
    P_REQUEUE,
    P_CLEAN_DEL_DONE,
    P_CLEAN_DEL_PUB,
    P_CLEAN_ARCH_DONE,
    P_CLEAN_ARCH_PUB,
    P_STATS,
    P_HEARTBEAT,
    P_LOCK,
    P_UNLOCK,
    P_BYE,
    P_TAKEOVER,
    P_N
};

typedef struct pg_def {
    const char *sql;
    int nparams;
    Oid types[5];
} pg_def;

#define ARCH_COLS                                                                                 \
    "id, event_id, topic, key, type, payload, headers, created_at, status, attempts,"             \
    " next_attempt_at, last_error, kafka_partition, kafka_offset, published_at, kafka_incarnation"
/* the current incarnation of topic $1 (no row: 0) */
#define CUR_INC "coalesce((SELECT i.incarnation FROM samsa_topic_incarnation i WHERE i.topic = $1), 0)"
/* a pair's lowest or highest PUBLISHED row of its topic's current incarnation */
#define END_ROW(dir)                                                                              \
    " LEFT JOIN LATERAL (SELECT o.kafka_offset, o.event_id::text AS event_id, o.created_at,"     \
    "  (SELECT count(*) FROM samsa_outbox d WHERE d.status = 'PUBLISHED' AND d.topic = c.topic"  \
    "   AND d.kafka_partition = c.p AND d.kafka_incarnation = c.inc"                              \
    "   AND d.kafka_offset = o.kafka_offset)::int4 AS same"                                        \
    "  FROM samsa_outbox o WHERE o.status = 'PUBLISHED' AND o.topic = c.topic"                    \
    "  AND o.kafka_partition = c.p AND o.kafka_incarnation = c.inc"                               \
    "  ORDER BY o.kafka_offset " dir ", o.id " dir " LIMIT 1)"
/* rows of a pair in another incarnation than the current (one index range each) */
#define OTHER_INC(op)                                                                             \
    "EXISTS (SELECT 1 FROM samsa_outbox o WHERE o.status = 'PUBLISHED' AND o.topic = c.topic"     \
    " AND o.kafka_partition = c.p AND o.kafka_incarnation " op ")"
/* one cleanup batch, through samsa_outbox_done or samsa_outbox_published */
#define CLEAN_DONE_SQL                                                                            \
    "SELECT id FROM samsa_outbox WHERE status IN ('COMPLETE', 'DEAD') AND status = 'COMPLETE'"    \
    " AND published_at < now() - $1" MS " LIMIT $2"
#define CLEAN_PUB_SQL                                                                             \
    "SELECT id FROM samsa_outbox WHERE status = 'PUBLISHED'"                                      \
    " AND published_at < now() - $1" MS " LIMIT $2"
#define CLEAN_DEL(sel) "WITH gone AS (DELETE FROM samsa_outbox WHERE id IN (" sel ") RETURNING 1)" \
    " SELECT count(*) FROM gone"
#define CLEAN_ARCH(sel)                                                                           \
    "WITH moved AS (DELETE FROM samsa_outbox WHERE id IN (" sel ") RETURNING " ARCH_COLS "),"     \
    " kept AS (INSERT INTO samsa_outbox_archive (" ARCH_COLS ")"                                  \
    "  SELECT " ARCH_COLS " FROM moved ON CONFLICT (id) DO NOTHING)"                              \
    " SELECT count(*) FROM moved"

static const pg_def defs[P_N] = {
    /* The claim (ids, a page at a time), after one row (id 0) with the
     * snapshot's xmin and an upper bound of every xid assigned before the
     * snapshot was taken: the claim's own xid (pg_current_xact_id() assigns
     * one; xids are assigned in order). Not pg_snapshot_xmax: since
     * PostgreSQL 14 that is latestCompletedXid + 1, and a transaction that
     * got a higher xid and is still running is neither below it nor in xip.
     * An xid costs a commit record without a flush (nothing else is written).
     * Due is "next_attempt_at <= clock_timestamp()", not now(): now() is
     * when the claim's statement began, before its snapshot was taken, and a
     * transaction that began in between and committed before the snapshot
     * has next_attempt_at (its own now()) after the claim's now(). With
     * now() such a row is visible but "not due", the claim cursor passes it,
     * and a later row of its key could overtake it. */
    /* $1: the owned slots as a bitmap (a test per row, not an array search).
     * A row behind an earlier failed row of its key that is not due yet (or
     * DEAD, when $4: on.dead=block) is held: the probe goes to
     * samsa_outbox_held, which holds failed rows only. */
    [P_CLAIM_IDS] = {"SELECT 0::int8, NULL::text,"
                     " pg_snapshot_xmin(pg_current_snapshot())::text::int8,"
                     " pg_current_xact_id()::text::int8, NULL::text"
                     " UNION ALL (SELECT o.id, o.key, NULL, NULL, o.topic FROM samsa_outbox o"
                     " WHERE o.status = 'INIT'"
                     " AND o.next_attempt_at <= clock_timestamp() AND (($1 >> o.slot) & 1) = 1"
                     " AND o.id > $2"
                     " AND NOT EXISTS (SELECT 1 FROM samsa_outbox e WHERE e.key = o.key"
                     "  AND e.id < o.id"
                     "  AND (e.status = 'DEAD' OR (e.status = 'INIT' AND e.attempts > 0))"
                     "  AND ((e.status = 'INIT' AND e.next_attempt_at > clock_timestamp())"
                     "   OR (e.status = 'DEAD' AND $4)))"
                     " ORDER BY o.id LIMIT $3)",
                     4, {SM_OID_INT8, SM_OID_INT8, SM_OID_INT4, SM_OID_BOOL}},
    [P_CLAIM_ROWS] = {"SELECT id, event_id::text, topic, key, type, payload, headers::text,"
                      " created_at, attempts, slot, coalesce((SELECT i.incarnation"
                      "  FROM samsa_topic_incarnation i WHERE i.topic = o.topic), 0)"
                      " FROM samsa_outbox o WHERE id = ANY($1) AND status = 'INIT' ORDER BY id",
                      1, {SM_OID_INT8ARR}},
    /* a row published after failures keeps no stale last_error */
    [P_MARK_PUB] = {"UPDATE samsa_outbox o SET status = 'PUBLISHED', kafka_partition = u.p,"
                    " kafka_offset = u.off, published_at = 'epoch'::timestamptz + u.t" MS ","
                    " last_error = NULL, kafka_incarnation = u.inc"
                    " FROM unnest($1::int8[], $2::int4[], $3::int8[], $4::int8[], $5::int4[])"
                    " AS u(id, p, off, t, inc)"
                    " WHERE o.id = u.id AND o.status IN ('INIT', 'PUBLISHED')",
                    5, {SM_OID_INT8ARR, SM_OID_INT4ARR, SM_OID_INT8ARR, SM_OID_INT8ARR,
                        SM_OID_INT4ARR}},
    [P_RETRY] = {"UPDATE samsa_outbox SET attempts = $2,"
                 " next_attempt_at = 'epoch'::timestamptz + $3" MS ", last_error = $4"
                 " WHERE id = $1 AND status = 'INIT'",
                 4, {SM_OID_INT8, SM_OID_INT4, SM_OID_INT8, SM_OID_TEXT}},
    [P_DEAD] = {"UPDATE samsa_outbox SET status = 'DEAD', attempts = $2,"
                " last_error = $3 WHERE id = $1 AND status = 'INIT'",
                3, {SM_OID_INT8, SM_OID_INT4, SM_OID_TEXT}},
    /* rows of one incarnation, and only while it is the current one */
    [P_COMPLETE] = {"UPDATE samsa_outbox SET status = 'COMPLETE' WHERE status = 'PUBLISHED'"
                    " AND topic = $1 AND kafka_partition = $2 AND kafka_incarnation = $3"
                    " AND kafka_offset >= $4 AND kafka_offset < $5 AND $3 = " CUR_INC,
                    5, {SM_OID_TEXT, SM_OID_INT4, SM_OID_INT4, SM_OID_INT8, SM_OID_INT8}},
    [P_COMPLETE_ANY] = {"UPDATE samsa_outbox SET status = 'COMPLETE' WHERE status = 'PUBLISHED'"
                        " AND topic = $1 AND kafka_partition = $2 AND kafka_offset < $3",
                        3, {SM_OID_TEXT, SM_OID_INT4, SM_OID_INT8}},
    /* distinct (topic, partition) by hopping through samsa_outbox_published */
    [P_PARTS] = {"WITH RECURSIVE tp AS ("
                 " (SELECT topic, kafka_partition FROM samsa_outbox WHERE status = 'PUBLISHED'"
                 "  ORDER BY topic, kafka_partition LIMIT 1)"
                 " UNION ALL"
                 " SELECT n.topic, n.kafka_partition FROM tp CROSS JOIN LATERAL"
                 "  (SELECT o.topic, o.kafka_partition FROM samsa_outbox o"
                 "   WHERE o.status = 'PUBLISHED'"
                 "   AND (o.topic, o.kafka_partition) > (tp.topic, tp.kafka_partition)"
                 "   ORDER BY o.topic, o.kafka_partition LIMIT 1) n),"
                 /* each pair's current incarnation, its two ends, other ones */
                 " c AS (SELECT tp.topic, tp.kafka_partition AS p, coalesce((SELECT i.incarnation"
                 "  FROM samsa_topic_incarnation i WHERE i.topic = tp.topic), 0) AS inc FROM tp)"
                 " SELECT c.topic, c.p, c.inc,"
                 "  lo.kafka_offset, lo.event_id, lo.created_at, lo.same,"
                 "  hi.kafka_offset, hi.event_id, hi.created_at, hi.same,"
                 "  " OTHER_INC("< c.inc") " OR " OTHER_INC("> c.inc") " OR "
                 "  " OTHER_INC("IS NULL")
                 " FROM c" END_ROW("ASC") " lo ON true" END_ROW("DESC") " hi ON true",
                 0, {0}},
    /* a new incarnation, if $2 is still the current one; several relays
     * may race here: one inserts or updates, the others find it changed */
    [P_NEW_INC] = {"WITH ins AS (INSERT INTO samsa_topic_incarnation AS t (topic, incarnation, reason)"
                   "  SELECT $1, $2 + 1, $3 WHERE " CUR_INC " = $2"
                   "  ON CONFLICT (topic) DO UPDATE SET incarnation = excluded.incarnation,"
                   "  detected_at = now(), reason = excluded.reason WHERE t.incarnation = $2"
                   "  RETURNING t.incarnation)"
                   " SELECT (SELECT count(*) FROM ins)::int4,"
                   "  coalesce((SELECT incarnation FROM ins), " CUR_INC ")",
                   3, {SM_OID_TEXT, SM_OID_INT4, SM_OID_TEXT}},
    [P_REQUEUE_INC] = {"UPDATE samsa_outbox SET status = 'INIT', next_attempt_at = now(),"
                       " last_error = $2 WHERE status = 'PUBLISHED' AND topic = $1"
                       " AND kafka_incarnation IS DISTINCT FROM " CUR_INC,
                       2, {SM_OID_TEXT, SM_OID_TEXT}},
    [P_REQUEUE] = {"UPDATE samsa_outbox SET status = 'INIT', next_attempt_at = now()"
                   " WHERE status = 'PUBLISHED' AND published_at < now() - $1" MS,
                   1, {SM_OID_INT8}},
    [P_CLEAN_DEL_DONE] = {CLEAN_DEL(CLEAN_DONE_SQL), 2, {SM_OID_INT8, SM_OID_INT4}},
    [P_CLEAN_DEL_PUB] = {CLEAN_DEL(CLEAN_PUB_SQL), 2, {SM_OID_INT8, SM_OID_INT4}},
    [P_CLEAN_ARCH_DONE] = {CLEAN_ARCH(CLEAN_DONE_SQL), 2, {SM_OID_INT8, SM_OID_INT4}},
    [P_CLEAN_ARCH_PUB] = {CLEAN_ARCH(CLEAN_PUB_SQL), 2, {SM_OID_INT8, SM_OID_INT4}},
    /* each count through the partial index that holds its status */
    [P_STATS] = {"SELECT (SELECT count(*) FROM samsa_outbox WHERE status = 'INIT'),"
                 " (SELECT count(*) FROM samsa_outbox WHERE status = 'PUBLISHED'),"
                 " (SELECT count(*) FROM samsa_outbox WHERE status IN ('COMPLETE', 'DEAD')"
                 "  AND status = 'COMPLETE'),"
                 " (SELECT count(*) FROM samsa_outbox WHERE status IN ('COMPLETE', 'DEAD')"
                 "  AND status = 'DEAD'),"
                 " (SELECT (extract(epoch FROM now() - created_at) * 1000)::int8"
                 "  FROM samsa_outbox WHERE status = 'INIT' ORDER BY id LIMIT 1)",
                 0, {0}},
    /* $1 relay id, $2 owned bitmap, $3 TTL ms. Returns the other live relays
     * and the bitmap of slots other sessions hold. */
    [P_HEARTBEAT] = {"WITH hb AS (INSERT INTO samsa_relay_heartbeat (relay_id, pid, last_seen, owned)"
                     "  VALUES ($1, pg_backend_pid(), now(), $2) ON CONFLICT (relay_id) DO UPDATE"
                     "  SET pid = excluded.pid, last_seen = excluded.last_seen,"
                     "  owned = excluded.owned),"
                     " gone AS (DELETE FROM samsa_relay_heartbeat WHERE relay_id <> $1"
                     "  AND (last_seen < now() - 10 * $3" MS " OR (last_seen < now() - $3" MS
                     "  AND pid NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL))))"
                     " SELECT (SELECT count(*) FROM samsa_relay_heartbeat h WHERE h.relay_id <> $1"
                     "  AND h.last_seen > now() - $3" MS
                     "  AND h.pid IN (SELECT pid FROM pg_stat_activity))::int4,"
                     " (SELECT coalesce(bit_or(int8 '1' << l.objid::int8::int4), 0) FROM pg_locks l"
                     "  WHERE l.locktype = 'advisory' AND l.classid = " LOCK_CLASS
                     "  AND l.objsubid = 2 AND l.objid::int8 < 64 AND l.granted"
                     "  AND l.pid <> pg_backend_pid() AND l.database ="
                     "  (SELECT oid FROM pg_database WHERE datname = current_database()))",
                     3, {SM_OID_TEXT, SM_OID_INT8, SM_OID_INT8}},
    [P_LOCK] = {"SELECT s FROM unnest($1::int2[]) AS s WHERE pg_try_advisory_lock(" LOCK_CLASS
                ", s)",
                1, {SM_OID_INT2ARR}},
    [P_UNLOCK] = {"SELECT pg_advisory_unlock(" LOCK_CLASS ", s) FROM unnest($1::int2[]) AS s",
                  1, {SM_OID_INT2ARR}},
    [P_BYE] = {"DELETE FROM samsa_relay_heartbeat WHERE relay_id = $1", 1, {SM_OID_TEXT}},
    /* $1 relay id, $2 lease ms. A relay that holds slot locks but has not
     * written its heartbeat for the lease is hung (its loop stopped: a
     * blocking call, SIGSTOP, a debugger): its session is ended, which
     * releases its locks. A pid that a live relay's fresh row also names is
     * that relay's (the pid was reused): never touched. */
    [P_TAKEOVER] = {"SELECT h.relay_id, h.pid,"
                    " (extract(epoch FROM now() - h.last_seen) * 1000)::int8,"
                    " pg_terminate_backend(h.pid, 1000)"
                    " FROM samsa_relay_heartbeat h WHERE h.relay_id <> $1"
                    " AND h.last_seen < now() - $2" MS " AND h.pid <> pg_backend_pid()"
                    " AND NOT EXISTS (SELECT 1 FROM samsa_relay_heartbeat f WHERE f.pid = h.pid"
                    "  AND f.last_seen >= now() - $2" MS ")"
                    " AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = h.pid"
                    "  AND l.locktype = 'advisory' AND l.classid = " LOCK_CLASS
                    "  AND l.objsubid = 2 AND l.objid::int8 < 64 AND l.granted AND l.database ="
                    "  (SELECT oid FROM pg_database WHERE datname = current_database()))",
                    2, {SM_OID_TEXT, SM_OID_INT8}},
};

typedef enum { WAKE_IDLE, WAKE_PENDING, WAKE_ARMED, WAKE_CANCEL } wake_state;

/* The claim cursor (see "capture" below). A checkpoint says: the claims up
 * to now have looked at every id <= c; a row <= c that they could not see
 * belongs to a transaction whose xid is below x (or that had none yet); x is
 * an xid assigned after that claim's snapshot was taken. */
#define CLAIM_CHECKPOINTS 64
#define CLAIM_FULL_MS 2000 /* a claim from the lowest INIT row this often */
typedef struct claim_cp {
    int64_t c, x;
    int gen; /* 0: waiting for the horizon; 1: once more (see below) */
} claim_cp;
typedef struct sm_claim_cursor {
    int64_t floor;     /* claims start above it */
    int64_t rewind_to; /* lowest (id - 1) asked for by sm_store_rewind */
    int64_t cursor;    /* the highest id a claim has looked at */
    int64_t final_to;  /* ids <= it are final: every committed row is visible */
    int64_t next_full; /* mono ms */
    bool full;         /* the next claim starts from the lowest INIT row */
    bool on;           /* sm_store_set_claim_cursor */
    claim_cp cp[CLAIM_CHECKPOINTS];
    int ncp;
    /* figures, for tests and the debug log */
    int64_t claims, full_claims, rows_read;
} sm_claim_cursor;

typedef struct pg_store {
    sm_store base;
    PGconn *c;         /* every statement, and LISTEN */
    PGconn *w;         /* the wake lock only */
    bool prepared[P_N];
    uint64_t held;     /* slot locks this session holds */
    uint64_t draining; /* held, given up, released once no longer busy */
    wake_state wake;   /* see "the wake connection" */
    int epfd;          /* sm_store_wait_fd: both sockets */
    int64_t lease_ms;  /* a relay whose heartbeat is older loses its slots */
    sm_claim_cursor cur; /* where claims start (see "capture") */
    char *relay_id;
} pg_store;

#define PG(s) ((pg_store *)(s))
#define CLEAN_BATCH 10000
#define CLAIM_PAGE_MIN 256
#define CLAIM_PAGE_MAX 10000

static void conn_lost(pg_store *s)
{
    if (s->held)
        sm_warn("%s: connection lost: its %d slot locks are released; other relays may take"
                " them", s->base.name, __builtin_popcountll(s->held));
    s->held = 0;
    s->draining = 0;
    s->cur.full = true; /* slots come back, maybe with rows another relay left */
}

static int fail(pg_store *s, const char *op, const PGresult *r, char *err, size_t errlen)
{
    int rc = sm_pg_fail(err, errlen, s->base.name, op, s->c, r);
    if (rc == SM_EIO) {
        conn_lost(s);
        if (err && errlen) {
            size_t n = strlen(err);
            snprintf(err + n, errlen - n, "; all slots released, reconnecting at the next call");
        }
    }
    return rc;
}

static void notice(void *arg, const char *msg)
{
    pg_store *s = arg;
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    sm_warn("%s: %.*s", s->base.name, (int)n, msg);
}

/* Session settings: the relay's statements are many and short, so no
 * parallel workers (starting them costs more than a claim) and no JIT. None
 * may block the loop for long: a row lock held by somebody else's open
 * transaction (an operator's UPDATE) fails a mark after lock_timeout (it is
 * written again a second later), and no statement runs past
 * statement_timeout. Every statement of the relay reads few rows through an
 * index; with statistics that lag a fast-growing outbox (a fresh table, or
 * between autovacuum's analyzes), the planner took the claim for a bitmap
 * scan of every INIT row above the floor plus a sort (20-30 ms for 1,000 rows
 * of a 30,000-row backlog, against 1-3 ms for the ordered index scan with its
 * LIMIT): so no bitmap scans and no sequential scans in this session. */
#define SESSION_SQL                                                                               \
    "SET max_parallel_workers_per_gather = 0; SET jit = off; SET lock_timeout = 10000;"           \
    " SET statement_timeout = 120000; SET enable_bitmapscan = off; SET enable_seqscan = off"

static int after_connect(pg_store *s, char *err, size_t errlen)
{
    memset(s->prepared, 0, sizeof s->prepared);
    PGresult *r = PQexec(s->c, SESSION_SQL "; LISTEN " SM_PG_CHANNEL);
    int rc = sm_pg_ok(r, PGRES_COMMAND_OK) ? SM_OK : fail(s, "listen", r, err, errlen);
    PQclear(r);
    return rc;
}

/* Reconnects a lost session (its locks and prepared statements are gone). */
static int ensure(pg_store *s, const char *op, char *err, size_t errlen)
{
    if (PQstatus(s->c) == CONNECTION_OK)
        return SM_OK;
    conn_lost(s);
    PQreset(s->c);
    if (PQstatus(s->c) != CONNECTION_OK)
        return sm_fail(err, errlen, SM_EIO, "%s: %s: reconnect failed: %s", s->base.name, op,
                       PQerrorMessage(s->c));
    sm_warn("%s: reconnected; slots are taken again at the next balance", s->base.name);
    return after_connect(s, err, errlen);
}

/* Executes prepared statement q (preparing it first in this session) with
 * binary parameters and results. Returns the result or NULL (err filled). */
static PGresult *run(pg_store *s, int q, const char *const *vals, const int *lens, const char *op,
                     ExecStatusType want, int *rc, char *err, size_t errlen)
{
    static const int fmts[5] = {1, 1, 1, 1, 1};
    char name[32];
    *rc = ensure(s, op, err, errlen);
    if (*rc)
        return NULL;
    snprintf(name, sizeof name, "sm_store_%d", q);
    if (!s->prepared[q]) {
        PGresult *p = PQprepare(s->c, name, defs[q].sql, defs[q].nparams, defs[q].types);
        if (!sm_pg_ok(p, PGRES_COMMAND_OK)) {
            *rc = fail(s, op, p, err, errlen);
            PQclear(p);
            return NULL;
        }
        PQclear(p);
        s->prepared[q] = true;
    }
    PGresult *r = PQexecPrepared(s->c, name, defs[q].nparams, vals, lens, fmts, 1);
    if (!sm_pg_ok(r, want)) {
        *rc = fail(s, op, r, err, errlen);
        PQclear(r);
        return NULL;
    }
    *rc = SM_OK;
    return r;
}

static void wake_disarm(pg_store *s);

/* ---- lifecycle and schema ---------------------------------------------------- */

static void pg_close(sm_store *base)
{
    pg_store *s = PG(base);
    if (s->relay_id && PQstatus(s->c) == CONNECTION_OK) {
        /* leave at once, so the others count one relay less now */
        const char *vals[1] = {s->relay_id};
        int lens[1] = {(int)strlen(s->relay_id)};
        int rc;
        char err[256];
        PGresult *r = run(s, P_BYE, vals, lens, "close", PGRES_COMMAND_OK, &rc, err, sizeof err);
        if (!r)
            sm_warn("%s", err);
        PQclear(r);
    }
    /* release the locks now, not when the backends get around to exiting,
     * so the others can take the slots at their very next balance */
    if (PQstatus(s->c) == CONNECTION_OK) {
        PGresult *r = PQexec(s->c, "SELECT pg_advisory_unlock_all()");
        PQclear(r);
    }
    if (s->wake != WAKE_IDLE && PQstatus(s->w) == CONNECTION_OK)
        wake_disarm(s);
    PQfinish(s->w);
    PQfinish(s->c);
    if (s->epfd >= 0)
        close(s->epfd);
    free(s->relay_id);
    free(s);
}

static int pg_migrate(sm_store *base, char *err, size_t errlen)
{
    pg_store *s = PG(base);
    int rc = ensure(s, "migrate", err, errlen);
    if (rc)
        return rc;
    rc = sm_schema_apply_pg(s->c, base->name, err, errlen);
    if (rc == SM_EIO)
        conn_lost(s);
    return rc;
}

static int pg_schema_version(sm_store *base, int *version, char *err, size_t errlen)
{
    pg_store *s = PG(base);
    int rc = ensure(s, "schema version", err, errlen);
    if (rc)
        return rc;
    rc = sm_schema_version_pg(s->c, base->name, version, err, errlen);
    if (rc == SM_EIO)
        conn_lost(s);
    return rc;
}

/* ---- slots ------------------------------------------------------------------- */

static int slot_array(sm_wbuf *w, uint64_t bits)
{
    int16_t v[SM_STORE_SLOTS];
    int n = 0;
    for (int i = 0; i < SM_STORE_SLOTS; i++)
        if (bits & ((uint64_t)1 << i))
            v[n++] = (int16_t)i;
    sm_pg_arr_int2(w, v, n);
    return n;
}

static uint64_t pg_owned(const sm_store *base)
{
    const pg_store *s = (const pg_store *)base;
    return s->held & ~s->draining;
}

/* Runs P_LOCK or P_UNLOCK for the slots in bits; P_LOCK returns the slots it
 * got in *got. */
static int lock_slots(pg_store *s, int q, uint64_t bits, uint64_t *got, char *err, size_t errlen)
{
    sm_wbuf w;
    sm_wbuf_init(&w, 64 * 6 + 20);
    slot_array(&w, bits);
    if (w.oom) {
        sm_wbuf_release(&w);
        return sm_fail(err, errlen, SM_ENOMEM, "%s: balance: out of memory", s->base.name);
    }
    const char *vals[1] = {(const char *)w.p};
    int lens[1] = {(int)w.len}, rc;
    PGresult *r = run(s, q, vals, lens, q == P_LOCK ? "balance: lock slots" : "balance: release",
                      PGRES_TUPLES_OK, &rc, err, errlen);
    sm_wbuf_release(&w);
    if (!r)
        return rc;
    if (got) {
        *got = 0;
        for (int i = 0; i < PQntuples(r); i++) {
            int slot = sm_pg_get_i16(r, i, 0);
            if (slot >= 0 && slot < SM_STORE_SLOTS)
                *got |= (uint64_t)1 << slot;
        }
    }
    PQclear(r);
    return SM_OK;
}

/* Lease expiry: ends the sessions of relays that hold slots and have not
 * written their heartbeat for lease_ms (see P_TAKEOVER), so their slots can
 * be taken in this very balance. A failure (e.g. a role without the right
 * to end other sessions: grant it pg_signal_backend) is logged, not fatal. */
static void takeover(pg_store *s, const char *relay_id)
{
    if (s->lease_ms <= 0)
        return;
    uint8_t lease_be[8];
    sm_put_be64(lease_be, (uint64_t)s->lease_ms);
    const char *vals[2] = {relay_id, (const char *)lease_be};
    int lens[2] = {(int)strlen(relay_id), 8}, rc;
    char err[512];
    PGresult *r = run(s, P_TAKEOVER, vals, lens, "balance: lease expiry", PGRES_TUPLES_OK, &rc,
                      err, sizeof err);
    if (!r) {
        sm_log_limited(SM_LOG_WARN, "%s", err);
        return;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        bool ok = true;
        char *id = sm_pg_get_dup(r, i, 0, NULL, &ok);
        sm_warn("%s: relay %s (backend pid %d) holds slots but has not written its heartbeat"
                " for %.1f s (lease %.1f s): it looks hung; its database session %s, so its"
                " slots can be taken (it reconnects when it wakes up)",
                s->base.name, id ? id : "?", (int)sm_pg_get_i32(r, i, 1),
                (double)sm_pg_get_i64(r, i, 2) / 1000.0, (double)s->lease_ms / 1000.0,
                sm_pg_get_bool(r, i, 3) ? "was ended" : "is being ended");
        free(id);
    }
    PQclear(r);
}

static void pg_set_lease_ms(sm_store *base, int64_t ms)
{
    PG(base)->lease_ms = ms;
}

static int pg_balance(sm_store *base, const char *relay_id, uint64_t busy, uint64_t *owned,
                      char *err, size_t errlen)
{
    pg_store *s = PG(base);
    int rc;
    *owned = pg_owned(base);
    if (!s->relay_id || strcmp(s->relay_id, relay_id)) {
        char *id = strdup(relay_id);
        if (!id)
            return sm_fail(err, errlen, SM_ENOMEM, "%s: balance: out of memory", base->name);
        free(s->relay_id);
        s->relay_id = id;
    }
    takeover(s, relay_id);
    uint8_t mine_be[8], ttl_be[8];
    uint64_t mine = s->held & ~s->draining;
    sm_put_be64(mine_be, mine);
    sm_put_be64(ttl_be, (uint64_t)base->heartbeat_ttl_ms);
    const char *vals[3] = {relay_id, (const char *)mine_be, (const char *)ttl_be};
    int lens[3] = {(int)strlen(relay_id), 8, 8};
    PGresult *r = run(s, P_HEARTBEAT, vals, lens, "balance: heartbeat", PGRES_TUPLES_OK, &rc, err,
                      errlen);
    if (!r)
        return rc;
    int live = 1 + sm_pg_get_i32(r, 0, 0);
    uint64_t others = (uint64_t)sm_pg_get_i64(r, 0, 1);
    PQclear(r);
    mine = s->held & ~s->draining; /* a reconnect inside run() may have cleared it */
    int target = (SM_STORE_SLOTS + live - 1) / live;
    int n = __builtin_popcountll(mine);

    if (n < target) {
        /* take back slots still draining before asking for new ones */
        for (int i = 0; i < SM_STORE_SLOTS && n < target; i++) {
            uint64_t bit = (uint64_t)1 << i;
            if (s->draining & bit) {
                s->draining &= ~bit;
                s->cur.full = true; /* not claimed meanwhile: start low once */
                n++;
            }
        }
    } else if (n > target) {
        /* give up extras: idle slots first, from the top */
        int extra = n - target;
        for (int pass = 0; pass < 2 && extra; pass++)
            for (int i = SM_STORE_SLOTS - 1; i >= 0 && extra; i--) {
                uint64_t bit = (uint64_t)1 << i;
                bool is_busy = (busy & bit) != 0;
                if ((mine & bit) && is_busy == (pass == 1)) {
                    s->draining |= bit;
                    extra--;
                }
            }
    }
    uint64_t release = s->draining & ~busy;
    if (release) {
        rc = lock_slots(s, P_UNLOCK, release, NULL, err, errlen);
        if (rc)
            return rc;
        s->held &= ~release;
        s->draining &= ~release;
    }
    mine = s->held & ~s->draining;
    n = __builtin_popcountll(mine);
    if (n < target) {
        /* free slots, tried from a point that depends on the relay id so
         * that relays starting together do not all race for slot 0 */
        uint64_t avail = ~s->held & ~others, want = 0;
        int start = sm_slot_of(relay_id, strlen(relay_id));
        for (int k = 0; k < SM_STORE_SLOTS && n < target; k++) {
            uint64_t bit = (uint64_t)1 << ((start + k) % SM_STORE_SLOTS);
            if (avail & bit) {
                want |= bit;
                n++;
            }
        }
        if (want) {
            uint64_t got;
            rc = lock_slots(s, P_LOCK, want, &got, err, errlen);
            if (rc)
                return rc;
            s->held |= got;
            if (got)
                s->cur.full = true; /* rows its last owner left are below the floor */
        }
    }
    *owned = pg_owned(base);
    return SM_OK;
}

/* ---- capture ----------------------------------------------------------------- */

/* ---- the wake connection ------------------------------------------------------ */

/* The loop thread never waits on w for a lock. States:
 *   IDLE     nothing held, nothing in flight;
 *   PENDING  pg_advisory_lock in flight (queued behind the holders), wanted;
 *   ARMED    the lock is held;
 *   CANCEL   pg_advisory_lock in flight, no longer wanted: a cancel was sent,
 *            and the reply (an error, or the lock after all: then it is
 *            released at once) is read whenever it comes.
 * A cancel can be lost (it reaches the backend before the query does); the
 * request then stays queued until granted, or until w's lock_timeout ends
 * it, so a stale request costs commits a NOTIFY for at most that long and
 * never stalls the loop. (A blocking wait for that reply was the hang of a
 * relay whose cancel was lost while another relay held the lock.) */
#define WAKE_KEY LOCK_CLASS ", " STR(SM_PG_LOCK_WAKE)
/* w's session: a queued lock request ends after this long (the relay queues
 * a new one if it still wants to wait); never waits on anything else */
#define WAKE_SESSION_SQL "SET lock_timeout = 5000; SET statement_timeout = 0"

static int wake_fail(pg_store *s, const char *op, const PGresult *r, char *err, size_t errlen)
{
    int rc = sm_pg_fail(err, errlen, s->base.name, op, s->w, r);
    if (PQstatus(s->w) == CONNECTION_BAD)
        s->wake = WAKE_IDLE; /* the lock went with the session */
    return rc;
}

static int wake_session(pg_store *s, char *err, size_t errlen)
{
    PGresult *r = PQexec(s->w, WAKE_SESSION_SQL);
    int rc = sm_pg_ok(r, PGRES_COMMAND_OK) ? SM_OK : wake_fail(s, "wait: session", r, err, errlen);
    PQclear(r);
    return rc;
}

static int wake_ensure(pg_store *s, char *err, size_t errlen)
{
    if (PQstatus(s->w) == CONNECTION_OK)
        return SM_OK;
    s->wake = WAKE_IDLE;
    PQreset(s->w);
    if (PQstatus(s->w) != CONNECTION_OK)
        return sm_fail(err, errlen, SM_EIO, "%s: wait: reconnect failed: %s", s->base.name,
                       PQerrorMessage(s->w));
    return wake_session(s, err, errlen);
}

/* Reads what the statement connection has: notifications (*woke). */
static int listen_drain(pg_store *s, bool *woke, char *err, size_t errlen)
{
    if (!PQconsumeInput(s->c))
        return fail(s, "wait", NULL, err, errlen);
    PGnotify *nt;
    while ((nt = PQnotifies(s->c)) != NULL) {
        *woke = true;
        PQfreemem(nt);
    }
    return SM_OK;
}

static void wake_unlock(pg_store *s)
{
    PGresult *r = PQexec(s->w, "SELECT pg_advisory_unlock(" WAKE_KEY ")");
    if (!sm_pg_ok(r, PGRES_TUPLES_OK)) {
        char err[512];
        wake_fail(s, "disarm", r, err, sizeof err);
        sm_warn("%s", err);
    }
    PQclear(r);
    s->wake = WAKE_IDLE;
}

/* Reads the reply to a lock request in flight, if it came, without
 * blocking. PENDING: granted is ARMED (*armed_now), an error (lock_timeout,
 * a late cancel) is IDLE; CANCEL: granted is released at once. */
static int wake_drain(pg_store *s, bool *armed_now, char *err, size_t errlen)
{
    /* whatever the state: a readable socket is read (a session ended by
     * the server shows here) */
    if (!PQconsumeInput(s->w) || PQstatus(s->w) == CONNECTION_BAD)
        return wake_fail(s, "wait", NULL, err, errlen);
    if (s->wake != WAKE_PENDING && s->wake != WAKE_CANCEL)
        return SM_OK;
    if (PQisBusy(s->w))
        return SM_OK;
    PGresult *r;
    bool got = false, failed = false;
    while ((r = PQgetResult(s->w)) != NULL) {
        if (sm_pg_ok(r, PGRES_TUPLES_OK))
            got = true;
        else
            failed = true;
        PQclear(r);
    }
    if (PQstatus(s->w) == CONNECTION_BAD)
        return wake_fail(s, "wait: arm", NULL, err, errlen);
    (void)failed; /* lock_timeout or a cancel: not an error, just not armed */
    if (s->wake == WAKE_CANCEL) {
        if (got)
            wake_unlock(s);
        s->wake = WAKE_IDLE;
        return SM_OK;
    }
    s->wake = got ? WAKE_ARMED : WAKE_IDLE;
    *armed_now = got;
    return SM_OK;
}

/* Arms: the wake lock at once if free, else a queued request. */
static int wake_arm(pg_store *s, bool *armed_now, char *err, size_t errlen)
{
    PGresult *r = PQexec(s->w, "SELECT pg_try_advisory_lock(" WAKE_KEY ")");
    if (!sm_pg_ok(r, PGRES_TUPLES_OK) || PQntuples(r) != 1) {
        int rc = wake_fail(s, "wait: arm", r, err, errlen);
        PQclear(r);
        return rc;
    }
    bool got = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (got) {
        s->wake = WAKE_ARMED;
        *armed_now = true;
        return SM_OK;
    }
    /* granted means: every transaction that did not notify has ended; the
     * notification then wakes the statement connection's socket */
    if (!PQsendQuery(s->w, "SELECT pg_advisory_lock(" WAKE_KEY "),"
                           " pg_notify('" SM_PG_CHANNEL "', '')"))
        return wake_fail(s, "wait: arm", NULL, err, errlen);
    s->wake = WAKE_PENDING;
    return SM_OK;
}

/* The relay is busy: commits need not notify any more. Never waits for
 * the lock: a queued request is cancelled and its reply read later. */
static void wake_disarm(pg_store *s)
{
    if (s->wake == WAKE_ARMED) {
        wake_unlock(s);
    } else if (s->wake == WAKE_PENDING) {
        char buf[256];
        PGcancel *cn = PQgetCancel(s->w);
        if (cn) {
            if (!PQcancel(cn, buf, sizeof buf))
                sm_warn("%s: disarm: cancel: %s", s->base.name, buf);
            PQfreeCancel(cn);
        }
        s->wake = WAKE_CANCEL;
    }
}

/* The fd the relay polls: an epoll set of both connections' sockets (the
 * statement connection for NOTIFY, the wake connection for the reply to a
 * queued lock request). Sockets are (re-)added at every call: a reconnect
 * may have changed them, and a closed socket leaves the set by itself. */
static int wait_fd_refresh(pg_store *s)
{
    if (s->epfd < 0)
        return PQsocket(s->c);
    PGconn *conns[2] = {s->c, s->w};
    for (int i = 0; i < 2; i++) {
        int fd = PQsocket(conns[i]);
        if (fd < 0)
            continue;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0 && errno != EEXIST)
            sm_debug("%s: epoll_ctl: %s", s->base.name, strerror(errno));
    }
    return s->epfd;
}

static int decode_rows(pg_store *s, PGresult *r, sm_row **out, int *nout, char *err,
                       size_t errlen)
{
    int nt = PQntuples(r);
    *out = NULL;
    *nout = 0;
    if (!nt)
        return SM_OK;
    sm_row *rows = calloc((size_t)nt, sizeof *rows);
    if (!rows)
        return sm_fail(err, errlen, SM_ENOMEM, "%s: claim: out of memory", s->base.name);
    bool ok = true;
    for (int i = 0; i < nt; i++) {
        sm_row *w = &rows[i];
        w->id = sm_pg_get_i64(r, i, 0);
        w->event_id = sm_pg_get_dup(r, i, 1, NULL, &ok);
        w->topic = sm_pg_get_dup(r, i, 2, NULL, &ok);
        w->key = sm_pg_get_dup(r, i, 3, &w->key_len, &ok);
        w->type = sm_pg_get_dup(r, i, 4, NULL, &ok);
        w->payload = (uint8_t *)sm_pg_get_dup(r, i, 5, &w->payload_len, &ok);
        w->headers_json = sm_pg_get_dup(r, i, 6, NULL, &ok);
        w->created_at_ms = sm_pg_get_ts_ms(r, i, 7);
        w->attempts = sm_pg_get_i32(r, i, 8);
        w->slot = sm_pg_get_i16(r, i, 9);
        w->incarnation = sm_pg_get_i32(r, i, 10);
    }
    if (!ok) {
        sm_rows_free(rows, nt);
        return sm_fail(err, errlen, SM_ENOMEM, "%s: claim: out of memory", s->base.name);
    }
    *out = rows;
    *nout = nt;
    return SM_OK;
}

/* After a claim: the horizon moves checkpoints on, and the floor rises to
 * what is final and was looked at by this claim (which started at or below
 * the floor). xmin: the first page's snapshot; xnext: the last page's own xid. */
static void cursor_after_claim(sm_claim_cursor *u, int64_t start, int64_t looked_to, bool at_end,
                               int64_t xmin, int64_t xnext)
{
    int k = 0;
    for (int i = 0; i < u->ncp; i++) {
        claim_cp *cp = &u->cp[i];
        if (cp->x <= xmin && cp->gen == 0) {
            /* every transaction with an xid when c was passed has ended. One
             * that had called nextval() but had no xid yet (the instant
             * between the two inside its INSERT) got a later xid: wait once
             * more, for the transactions running now */
            cp->gen = 1;
            cp->x = xnext;
        } else if (cp->x <= xmin) {
            if (cp->c > u->final_to)
                u->final_to = cp->c;
            continue;
        }
        u->cp[k++] = *cp;
    }
    u->ncp = k;
    if (start <= u->floor) {
        /* at the end, nothing visible lies between looked_to and final_to */
        int64_t seen = at_end ? INT64_MAX : looked_to;
        int64_t f = u->final_to < seen ? u->final_to : seen;
        if (f > u->floor)
            u->floor = f;
    }
    if (looked_to > u->cursor) {
        u->cursor = looked_to;
        if (u->ncp == CLAIM_CHECKPOINTS) {
            /* merge into the newest: waits for the later horizon (safe) */
            claim_cp *last = &u->cp[u->ncp - 1];
            last->c = u->cursor;
            last->x = xnext > last->x ? xnext : last->x;
            last->gen = 0;
        } else {
            u->cp[u->ncp++] = (claim_cp){u->cursor, xnext, 0};
        }
    }
}

/* Ends the claim's transaction (read only in effect: COMMIT and ROLLBACK
 * do the same; a failed statement needs the ROLLBACK). */
static int claim_end(pg_store *s, bool ok, char *err, size_t errlen)
{
    if (PQstatus(s->c) != CONNECTION_OK)
        return ok ? fail(s, "claim: end", NULL, err, errlen) : SM_EIO;
    PGresult *r = PQexec(s->c, ok ? "COMMIT" : "ROLLBACK");
    int rc = SM_OK;
    if (!sm_pg_ok(r, PGRES_COMMAND_OK))
        rc = ok ? fail(s, "claim: commit", r, err, errlen) : SM_EIO;
    PQclear(r);
    return rc;
}

static void pg_set_claim_cursor(sm_store *base, bool on)
{
    PG(base)->cur.on = on;
}

static void pg_rewind(sm_store *base, int64_t id)
{
    sm_claim_cursor *u = &PG(base)->cur;
    if (id - 1 < u->rewind_to)
        u->rewind_to = id - 1;
}

static int pg_claim(sm_store *base, uint64_t owned, int max, sm_row_skip_fn skip, void *arg,
                    sm_row **out, int *nout, char *err, size_t errlen)
{
    pg_store *s = PG(base);
    sm_claim_cursor *u = &s->cur;

    int rc = ensure(s, "claim", err, errlen);
    if (rc)
        return rc;
    owned &= s->held & ~s->draining; /* never claim a slot without its lock */
    if (s->wake == WAKE_PENDING || s->wake == WAKE_CANCEL) {
        /* the reply to a lock request may be in: read it without waiting (a
         * cancelled request granted after all is released here) */
        bool armed_now = false;
        char werr[256];
        if (wake_drain(s, &armed_now, werr, sizeof werr) != SM_OK)
            sm_debug("%s", werr);
    }
    if (!owned)
        return SM_OK;
    if (u->rewind_to < u->floor)
        u->floor = u->rewind_to;
    u->rewind_to = INT64_MAX;
    int64_t now = sm_mono_ms();
    if (!u->on) {
        u->floor = 0; /* the plain claim: from the lowest INIT row, every time */
    } else if (u->full || now >= u->next_full) {
        /* from the lowest INIT row again; the floor climbs back as the
         * claims look at the rows in id order */
        u->floor = 0;
        u->full = false;
        u->next_full = now + CLAIM_FULL_MS;
        u->full_claims++;
    }
    int64_t start = u->floor;
    u->claims++;
    /* Every page and the rows query read one snapshot: with a snapshot per
     * page, a transaction that committed between two pages had its ids
     * above the boundary claimed first and those below in a later claim,
     * publishing its later events of a key before its earlier ones. */
    PGresult *b = PQexec(s->c, "BEGIN ISOLATION LEVEL REPEATABLE READ");
    if (!sm_pg_ok(b, PGRES_COMMAND_OK)) {
        rc = fail(s, "claim: begin", b, err, errlen);
        PQclear(b);
        return rc;
    }
    PQclear(b);
    /* the first page is what is wanted; when skip() turns rows down, the
     * next pages grow, so a long run of held rows costs few round trips */
    int page = max < CLAIM_PAGE_MIN ? CLAIM_PAGE_MIN : max;
    int64_t *ids = malloc((size_t)max * sizeof *ids);
    if (!ids) {
        claim_end(s, false, err, errlen);
        return sm_fail(err, errlen, SM_ENOMEM, "%s: claim: out of memory", base->name);
    }
    int k = 0;
    int64_t after = start, looked_to = start, xmin = -1, xnext = 0;
    bool at_end = false;
    uint8_t slots_be[8], after_be[8], page_be[4];
    sm_put_be64(slots_be, owned);
    for (;;) {
        sm_put_be64(after_be, (uint64_t)after);
        sm_put_be32(page_be, (uint32_t)page);
        const char dead = base->dead_holds_key ? 1 : 0;
        const char *vals[4] = {(const char *)slots_be, (const char *)after_be,
                               (const char *)page_be, &dead};
        int lens[4] = {8, 8, 4, 1};
        PGresult *r = run(s, P_CLAIM_IDS, vals, lens, "claim", PGRES_TUPLES_OK, &rc, err, errlen);
        if (!r)
            goto out;
        if (PQtransactionStatus(s->c) != PQTRANS_INTRANS) {
            /* run() reconnected: the locks and the snapshot are gone */
            PQclear(r);
            rc = sm_fail(err, errlen, SM_EIO, "%s: claim: the connection was reset", base->name);
            goto out;
        }
        int nt = PQntuples(r), got = 0;
        for (int i = 0; i < nt && k < max; i++) {
            int64_t id = sm_pg_get_i64(r, i, 0);
            if (id == 0) { /* the snapshot row */
                if (xmin < 0)
                    xmin = sm_pg_get_i64(r, i, 2);
                xnext = sm_pg_get_i64(r, i, 3);
                continue;
            }
            got++;
            looked_to = after = id;
            const char *key = PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1);
            if (!skip || !skip(id, key, PQgetvalue(r, i, 4), arg))
                ids[k++] = id;
        }
        u->rows_read += got;
        PQclear(r);
        if (nt - 1 < page) {
            at_end = k < max || got == nt - 1;
            break;
        }
        if (k == max)
            break;
        if (page < CLAIM_PAGE_MAX)
            page = page * 2 > CLAIM_PAGE_MAX ? CLAIM_PAGE_MAX : page * 2;
    }
    /* at the end of the rows: every visible INIT row above start was seen;
     * rows not visible yet are above the cursor or covered by a checkpoint */
    if (xmin >= 0)
        cursor_after_claim(u, start, looked_to, at_end, xmin, xnext);
    sm_debug("%s: claim from id %" PRId64 " to %" PRId64 "%s: %d taken; floor %" PRId64
             ", final %" PRId64 ", cursor %" PRId64 ", %d checkpoints", base->name, start,
             looked_to, at_end ? " (the end)" : "", k, u->floor, u->final_to, u->cursor, u->ncp);
    if (k == 0) {
        rc = SM_OK;
        goto out;
    }
    sm_wbuf arr;
    sm_wbuf_init(&arr, (size_t)k * 12 + 20);
    sm_pg_arr_int8(&arr, ids, k);
    if (arr.oom) {
        sm_wbuf_release(&arr);
        rc = sm_fail(err, errlen, SM_ENOMEM, "%s: claim: out of memory", base->name);
        goto out;
    }
    const char *vals[1] = {(const char *)arr.p};
    int lens[1] = {(int)arr.len};
    PGresult *r = run(s, P_CLAIM_ROWS, vals, lens, "claim: rows", PGRES_TUPLES_OK, &rc, err,
                      errlen);
    sm_wbuf_release(&arr);
    if (!r)
        goto out;
    rc = decode_rows(s, r, out, nout, err, errlen);
    PQclear(r);
out:
    free(ids);
    int erc = claim_end(s, rc == SM_OK, err, errlen);
    if (erc != SM_OK && rc == SM_OK) {
        sm_rows_free(*out, *nout);
        *out = NULL;
        *nout = 0;
        return erc;
    }
    if (rc == SM_OK && *nout > 0 && s->wake != WAKE_IDLE)
        wake_disarm(s);
    return rc;
}

/* ---- marking ----------------------------------------------------------------- */

static int pg_mark_published(sm_store *base, const sm_published *v, int n, char *err,
                             size_t errlen)
{
    pg_store *s = PG(base);
    int64_t *i64 = malloc((size_t)n * 3 * sizeof *i64);
    int32_t *i32 = malloc((size_t)n * 2 * sizeof *i32);
    sm_wbuf a[5];
    for (int j = 0; j < 5; j++)
        sm_wbuf_init(&a[j], (size_t)n * 12 + 20);
    int rc = SM_OK;
    if (!i64 || !i32)
        goto oom;
    int64_t *ids = i64, *offs = i64 + n, *ts = i64 + 2 * n;
    int32_t *parts = i32, *incs = i32 + n;
    for (int j = 0; j < n; j++) {
        ids[j] = v[j].id;
        parts[j] = v[j].partition;
        offs[j] = v[j].offset;
        ts[j] = v[j].published_at_ms;
        incs[j] = v[j].incarnation;
    }
    sm_pg_arr_int8(&a[0], ids, n);
    sm_pg_arr_int4(&a[1], parts, n);
    sm_pg_arr_int8(&a[2], offs, n);
    sm_pg_arr_int8(&a[3], ts, n);
    sm_pg_arr_int4(&a[4], incs, n);
    const char *vals[5];
    int lens[5];
    for (int j = 0; j < 5; j++) {
        if (a[j].oom)
            goto oom;
        vals[j] = (const char *)a[j].p;
        lens[j] = (int)a[j].len;
    }
    PGresult *r = run(s, P_MARK_PUB, vals, lens, "mark published", PGRES_COMMAND_OK, &rc, err,
                      errlen);
    PQclear(r);
    goto out;
oom:
    rc = sm_fail(err, errlen, SM_ENOMEM, "%s: mark published: out of memory", base->name);
out:
    for (int j = 0; j < 5; j++)
        sm_wbuf_release(&a[j]);
    free(i64);
    free(i32);
    return rc;
}

static int pg_mark_retry(sm_store *base, int64_t id, int32_t attempts, int64_t next_attempt_ms,
                         const char *error, char *err, size_t errlen)
{
    uint8_t id_be[8], att_be[4], next_be[8];
    sm_put_be64(id_be, (uint64_t)id);
    sm_put_be32(att_be, (uint32_t)attempts);
    sm_put_be64(next_be, (uint64_t)next_attempt_ms);
    const char *vals[4] = {(const char *)id_be, (const char *)att_be, (const char *)next_be,
                           error};
    int lens[4] = {8, 4, 8, error ? (int)strlen(error) : 0}, rc;
    PGresult *r = run(PG(base), P_RETRY, vals, lens, "mark retry", PGRES_COMMAND_OK, &rc, err,
                      errlen);
    PQclear(r);
    return rc;
}

static int pg_mark_dead(sm_store *base, int64_t id, int32_t attempts, const char *error,
                        char *err, size_t errlen)
{
    uint8_t id_be[8], att_be[4];
    sm_put_be64(id_be, (uint64_t)id);
    sm_put_be32(att_be, (uint32_t)attempts);
    const char *vals[3] = {(const char *)id_be, (const char *)att_be, error};
    int lens[3] = {8, 4, error ? (int)strlen(error) : 0}, rc;
    PGresult *r = run(PG(base), P_DEAD, vals, lens, "mark dead", PGRES_COMMAND_OK, &rc, err,
                      errlen);
    PQclear(r);
    return rc;
}

static int pg_complete(sm_store *base, const char *topic, int32_t partition, int32_t inc,
                       int64_t from, int64_t below, int64_t *changed, char *err, size_t errlen)
{
    uint8_t p_be[4], inc_be[4], from_be[8], below_be[8];
    sm_put_be32(p_be, (uint32_t)partition);
    sm_put_be32(inc_be, (uint32_t)inc);
    sm_put_be64(from_be, (uint64_t)from);
    sm_put_be64(below_be, (uint64_t)below);
    const char *vals[5] = {topic, (const char *)p_be, (const char *)inc_be, (const char *)from_be,
                           (const char *)below_be};
    int lens[5] = {(int)strlen(topic), 4, 4, 8, 8}, rc;
    if (inc < 0) { /* any incarnation: topic, partition, below */
        vals[2] = (const char *)below_be;
        lens[2] = 8;
    }
    *changed = 0;
    PGresult *r = run(PG(base), inc < 0 ? P_COMPLETE_ANY : P_COMPLETE, vals, lens, "complete",
                      PGRES_COMMAND_OK, &rc, err, errlen);
    if (r)
        *changed = sm_pg_cmd_rows(r);
    PQclear(r);
    return rc;
}

/* One end of a pair (columns col.. col+3), or offset -1. */
static void tp_row(const PGresult *r, int i, int col, sm_tp_row *out, bool *ok)
{
    memset(out, 0, sizeof *out);
    out->offset = -1;
    if (PQgetisnull(r, i, col))
        return;
    out->offset = sm_pg_get_i64(r, i, col);
    out->event_id = sm_pg_get_dup(r, i, col + 1, NULL, ok);
    out->created_at_ms = sm_pg_get_ts_ms(r, i, col + 2);
    out->same_offset = sm_pg_get_i32(r, i, col + 3);
}

static int pg_published_partitions(sm_store *base, sm_tp **out, int *nout, char *err,
                                   size_t errlen)
{
    int rc;
    PGresult *r = run(PG(base), P_PARTS, NULL, NULL, "published partitions", PGRES_TUPLES_OK,
                      &rc, err, errlen);
    if (!r)
        return rc;
    int nt = PQntuples(r);
    sm_tp *tps = nt ? calloc((size_t)nt, sizeof *tps) : NULL;
    bool ok = !nt || tps;
    for (int i = 0; ok && i < nt; i++) {
        tps[i].topic = sm_pg_get_dup(r, i, 0, NULL, &ok);
        tps[i].partition = sm_pg_get_i32(r, i, 1);
        tps[i].incarnation = sm_pg_get_i32(r, i, 2);
        tp_row(r, i, 3, &tps[i].low, &ok);
        tp_row(r, i, 7, &tps[i].high, &ok);
        tps[i].others = sm_pg_get_bool(r, i, 11);
    }
    PQclear(r);
    if (!ok) {
        sm_tps_free(tps, nt);
        return sm_fail(err, errlen, SM_ENOMEM, "%s: published partitions: out of memory",
                       base->name);
    }
    *out = tps;
    *nout = nt;
    return SM_OK;
}

static int pg_new_incarnation(sm_store *base, const char *topic, int32_t inc, const char *reason,
                              int32_t *current, bool *started, char *err, size_t errlen)
{
    uint8_t inc_be[4];
    sm_put_be32(inc_be, (uint32_t)inc);
    const char *vals[3] = {topic, (const char *)inc_be, reason};
    int lens[3] = {(int)strlen(topic), 4, (int)strlen(reason)}, rc;
    *started = false;
    PGresult *r = run(PG(base), P_NEW_INC, vals, lens, "new incarnation", PGRES_TUPLES_OK, &rc,
                      err, errlen);
    if (!r)
        return rc;
    if (PQntuples(r) == 1) {
        *started = sm_pg_get_i32(r, 0, 0) > 0;
        *current = sm_pg_get_i32(r, 0, 1);
    }
    PQclear(r);
    return SM_OK;
}

static int pg_requeue_incarnations(sm_store *base, const char *topic, const char *reason,
                                   int64_t *changed, char *err, size_t errlen)
{
    const char *vals[2] = {topic, reason};
    int lens[2] = {(int)strlen(topic), (int)strlen(reason)}, rc;
    *changed = 0;
    PGresult *r = run(PG(base), P_REQUEUE_INC, vals, lens, "requeue other incarnations",
                      PGRES_COMMAND_OK, &rc, err, errlen);
    if (r)
        *changed = sm_pg_cmd_rows(r);
    if (*changed)
        PG(base)->cur.full = true; /* INIT again, below the floor */
    PQclear(r);
    return rc;
}

static int pg_requeue_stale(sm_store *base, int64_t age_ms, int64_t *changed, char *err,
                            size_t errlen)
{
    uint8_t age_be[8];
    sm_put_be64(age_be, (uint64_t)age_ms);
    const char *vals[1] = {(const char *)age_be};
    int lens[1] = {8}, rc;
    *changed = 0;
    PGresult *r = run(PG(base), P_REQUEUE, vals, lens, "requeue stale", PGRES_COMMAND_OK, &rc,
                      err, errlen);
    if (r)
        *changed = sm_pg_cmd_rows(r);
    if (*changed)
        PG(base)->cur.full = true; /* INIT again, below the floor */
    PQclear(r);
    return rc;
}

/* Batches of CLEAN_BATCH rows, each its own short transaction, so a large
 * backlog never holds locks or bloats one transaction. */
static int pg_cleanup(sm_store *base, int64_t age_ms, bool include_published, bool archive,
                      int64_t *removed, char *err, size_t errlen)
{
    uint8_t age_be[8], lim_be[4];
    sm_put_be64(age_be, (uint64_t)age_ms);
    sm_put_be32(lim_be, CLEAN_BATCH);
    *removed = 0;
    for (int pub = 0; pub < (include_published ? 2 : 1); pub++) {
        int q = archive ? (pub ? P_CLEAN_ARCH_PUB : P_CLEAN_ARCH_DONE)
                        : (pub ? P_CLEAN_DEL_PUB : P_CLEAN_DEL_DONE);
        for (;;) {
            const char *vals[2] = {(const char *)age_be, (const char *)lim_be};
            int lens[2] = {8, 4}, rc;
            PGresult *r = run(PG(base), q, vals, lens,
                              archive ? "cleanup: archive" : "cleanup: delete", PGRES_TUPLES_OK,
                              &rc, err, errlen);
            if (!r)
                return rc;
            int64_t n = sm_pg_get_i64(r, 0, 0);
            PQclear(r);
            *removed += n;
            if (n < CLEAN_BATCH)
                break;
        }
    }
    return SM_OK;
}

static int pg_stats(sm_store *base, sm_store_stats *st, char *err, size_t errlen)
{
    int rc;
    PGresult *r = run(PG(base), P_STATS, NULL, NULL, "stats", PGRES_TUPLES_OK, &rc, err, errlen);
    if (!r)
        return rc;
    st->init = sm_pg_get_i64(r, 0, 0);
    st->published = sm_pg_get_i64(r, 0, 1);
    st->complete = sm_pg_get_i64(r, 0, 2);
    st->dead = sm_pg_get_i64(r, 0, 3);
    if (PQgetisnull(r, 0, 4)) {
        st->oldest_init_age_ms = -1;
    } else {
        int64_t age = sm_pg_get_i64(r, 0, 4);
        st->oldest_init_age_ms = age < 0 ? 0 : age;
    }
    PQclear(r);
    return SM_OK;
}

/* ---- waiting ----------------------------------------------------------------- */

/* One look: notifications, the reply to a queued lock request, and arming
 * when nothing is armed or queued. SM_OK: claim (a notification, or armed
 * just now: rows committed before did not notify); SM_AGAIN: nothing yet (a
 * queued request covers the rows committed before it: when it is granted,
 * its own notification comes). */
static int wait_step(pg_store *s, char *err, size_t errlen)
{
    bool woke = false, armed_now = false;
    int rc = listen_drain(s, &woke, err, errlen);
    if (!rc)
        rc = wake_ensure(s, err, errlen);
    if (!rc)
        rc = wake_drain(s, &armed_now, err, errlen);
    if (rc)
        return rc;
    /* waiting again while a cancelled request is still in flight: it serves
     * as the queued request (its reply is read as PENDING's) */
    if (s->wake == WAKE_CANCEL)
        s->wake = WAKE_PENDING;
    if (!woke && !armed_now && s->wake == WAKE_IDLE)
        rc = wake_arm(s, &armed_now, err, errlen);
    if (rc)
        return rc;
    return woke || armed_now ? SM_OK : SM_AGAIN;
}

static int pg_wait(sm_store *base, int timeout_ms, char *err, size_t errlen)
{
    pg_store *s = PG(base);
    int64_t deadline = sm_mono_ms() + timeout_ms;
    int rc = ensure(s, "wait", err, errlen);
    if (rc)
        return rc;
    for (;;) {
        rc = wait_step(s, err, errlen);
        if (rc != SM_AGAIN)
            return rc;
        int64_t left = deadline - sm_mono_ms();
        if (left <= 0)
            return SM_AGAIN;
        struct pollfd pfd[2] = {{.fd = PQsocket(s->c), .events = POLLIN},
                                {.fd = PQsocket(s->w), .events = POLLIN}};
        if (pfd[0].fd < 0)
            return fail(s, "wait", NULL, err, errlen);
        poll(pfd, 2, (int)left);
    }
}

static int pg_wait_fd(sm_store *base) { return wait_fd_refresh(PG(base)); }

static const sm_store_ops pg_ops = {
    .close = pg_close,
    .migrate = pg_migrate,
    .schema_version = pg_schema_version,
    .balance = pg_balance,
    .claim = pg_claim,
    .mark_published = pg_mark_published,
    .mark_retry = pg_mark_retry,
    .mark_dead = pg_mark_dead,
    .complete = pg_complete,
    .published_partitions = pg_published_partitions,
    .new_incarnation = pg_new_incarnation,
    .requeue_incarnations = pg_requeue_incarnations,
    .requeue_stale = pg_requeue_stale,
    .cleanup = pg_cleanup,
    .stats = pg_stats,
    .wait = pg_wait,
    .wait_fd = pg_wait_fd,
    .owned = pg_owned,
    .set_claim_cursor = pg_set_claim_cursor,
    .rewind = pg_rewind,
    .set_lease_ms = pg_set_lease_ms,
};

int sm_store_pg_open(sm_store **out, const char *url, char *err, size_t errlen)
{
    *out = NULL;
    pg_store *s = calloc(1, sizeof *s);
    if (!s)
        return sm_fail(err, errlen, SM_ENOMEM, "postgresql: open: out of memory");
    s->base.ops = &pg_ops;
    s->base.is_pg = true;
    s->base.poll_ms = SM_STORE_DEFAULT_POLL_MS;
    s->base.heartbeat_ttl_ms = SM_STORE_DEFAULT_TTL_MS;
    s->lease_ms = SM_STORE_DEFAULT_LEASE_MS;
    s->cur.rewind_to = INT64_MAX;
    s->cur.full = true;
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    sm_pg_name_url(url, s->base.name, sizeof s->base.name);
    /* ours first: settings in the URL override them. Keepalives and a TCP
     * user timeout: a database host that vanishes fails a call within about
     * half a minute instead of blocking the loop for the kernel's minutes */
    const char *const keys[] = {"connect_timeout", "application_name", "keepalives",
                                "keepalives_idle", "keepalives_interval", "keepalives_count",
                                "tcp_user_timeout", "dbname", NULL};
    const char *const vals[] = {"10", "samsa-relay", "1", "10", "5", "3", "30000", url, NULL};
    int rc;
    for (int i = 0; i < 2; i++) {
        PGconn *c = PQconnectdbParams(keys, vals, 1);
        if (i == 0)
            s->c = c;
        else
            s->w = c;
        if (!c) {
            rc = sm_fail(err, errlen, SM_ENOMEM, "%s: connect: out of memory", s->base.name);
            goto fail;
        }
        if (PQstatus(c) != CONNECTION_OK) {
            rc = sm_pg_fail(err, errlen, s->base.name, "connect", c, NULL);
            goto fail;
        }
        PQsetNoticeProcessor(c, notice, s);
    }
    sm_pg_name_conn(s->c, s->base.name, sizeof s->base.name);
    rc = after_connect(s, err, errlen);
    if (!rc)
        rc = wake_session(s, err, errlen);
    if (rc)
        goto fail;
    *out = &s->base;
    return SM_OK;
fail:
    PQfinish(s->w);
    PQfinish(s->c);
    if (s->epfd >= 0)
        close(s->epfd);
    free(s);
    return rc;
}
