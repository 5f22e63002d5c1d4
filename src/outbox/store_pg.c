/* store_pg.c: the relay's store on a PostgreSQL outbox, shareable by several
 * relays: its statements, sessions, lifecycle, marking and ops table. The
 * slots are in store_pg_slots.c, capture and waiting in store_pg_claim.c.
 *
 * Speed: every statement is prepared once per session and speaks binary
 * (arrays of ids, offsets and slots as parameters, bytea payloads as raw
 * bytes), so a batch is one round trip: claim is two (ids, then rows),
 * mark_published one UPDATE ... FROM unnest(arrays). */
#include "outbox/db.h"
#include "outbox/store_pg_int.h"

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

static void conn_lost(pg_store *s)
{
    if (s->held)
        sm_warn("%s: connection lost: its %d slot locks are released; other relays may take"
                " them", s->base.name, __builtin_popcountll(s->held));
    s->held = 0;
    s->draining = 0;
    s->cur.full = true; /* slots come back, maybe with rows another relay left */
}

int sm_store_pg_fail_(pg_store *s, const char *op, const PGresult *r, char *err, size_t errlen)
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
    int rc = sm_pg_ok(r, PGRES_COMMAND_OK) ? SM_OK : sm_store_pg_fail_(s, "listen", r, err, errlen);
    PQclear(r);
    return rc;
}

/* Reconnects a lost session (its locks and prepared statements are gone). */
int sm_store_pg_ensure_(pg_store *s, const char *op, char *err, size_t errlen)
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
PGresult *sm_store_pg_run_(pg_store *s, int q, const char *const *vals, const int *lens,
                           const char *op,
                           ExecStatusType want, int *rc, char *err, size_t errlen)
{
    static const int fmts[5] = {1, 1, 1, 1, 1};
    char name[32];
    *rc = sm_store_pg_ensure_(s, op, err, errlen);
    if (*rc)
        return NULL;
    snprintf(name, sizeof name, "sm_store_%d", q);
    if (!s->prepared[q]) {
        PGresult *p = PQprepare(s->c, name, defs[q].sql, defs[q].nparams, defs[q].types);
        if (!sm_pg_ok(p, PGRES_COMMAND_OK)) {
            *rc = sm_store_pg_fail_(s, op, p, err, errlen);
            PQclear(p);
            return NULL;
        }
        PQclear(p);
        s->prepared[q] = true;
    }
    PGresult *r = PQexecPrepared(s->c, name, defs[q].nparams, vals, lens, fmts, 1);
    if (!sm_pg_ok(r, want)) {
        *rc = sm_store_pg_fail_(s, op, r, err, errlen);
        PQclear(r);
        return NULL;
    }
    *rc = SM_OK;
    return r;
}

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
        PGresult *r = sm_store_pg_run_(s, P_BYE, vals, lens, "close", PGRES_COMMAND_OK, &rc, err,
                                       sizeof err);
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
        sm_store_pg_wake_disarm_(s);
    PQfinish(s->w);
    PQfinish(s->c);
    if (s->epfd >= 0)
        close(s->epfd);
    free(s->relay_id);
    free(s);
}

static int pg_db_begin(sm_store *base, const char *op, sm_db *db, char *err, size_t errlen)
{
    int rc = sm_store_pg_ensure_(PG(base), op, err, errlen);
    if (!rc)
        sm_db_wrap_pg(db, PG(base)->c, base->name);
    return rc;
}

static void pg_db_end(sm_store *base, int rc)
{
    if (rc == SM_EIO)
        conn_lost(PG(base)); /* as sm_store_pg_fail_: its slots are gone */
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
    PGresult *r = sm_store_pg_run_(s, P_MARK_PUB, vals, lens, "mark published", PGRES_COMMAND_OK,
                                   &rc, err,
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
    PGresult *r = sm_store_pg_run_(PG(base), P_RETRY, vals, lens, "mark retry", PGRES_COMMAND_OK,
                                   &rc, err,
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
    PGresult *r = sm_store_pg_run_(PG(base), P_DEAD, vals, lens, "mark dead", PGRES_COMMAND_OK,
                                   &rc, err,
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
    PGresult *r = sm_store_pg_run_(PG(base), inc < 0 ? P_COMPLETE_ANY : P_COMPLETE, vals, lens,
                                   "complete",
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
    PGresult *r = sm_store_pg_run_(PG(base), P_PARTS, NULL, NULL, "published partitions",
                                   PGRES_TUPLES_OK,
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
    PGresult *r = sm_store_pg_run_(PG(base), P_NEW_INC, vals, lens, "new incarnation",
                                   PGRES_TUPLES_OK, &rc,
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
    PGresult *r = sm_store_pg_run_(PG(base), P_REQUEUE_INC, vals, lens,
                                   "requeue other incarnations",
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
    PGresult *r = sm_store_pg_run_(PG(base), P_REQUEUE, vals, lens, "requeue stale",
                                   PGRES_COMMAND_OK, &rc,
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
            PGresult *r = sm_store_pg_run_(PG(base), q, vals, lens,
                                           archive ? "cleanup: archive" : "cleanup: delete",
                                           PGRES_TUPLES_OK,
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

static const sm_store_ops pg_ops = {
    .close = pg_close,
    .db_begin = pg_db_begin,
    .db_end = pg_db_end,
    .balance = sm_store_pg_balance_,
    .claim = sm_store_pg_claim_,
    .mark_published = pg_mark_published,
    .mark_retry = pg_mark_retry,
    .mark_dead = pg_mark_dead,
    .complete = pg_complete,
    .published_partitions = pg_published_partitions,
    .new_incarnation = pg_new_incarnation,
    .requeue_incarnations = pg_requeue_incarnations,
    .requeue_stale = pg_requeue_stale,
    .cleanup = pg_cleanup,
    .wait = sm_store_pg_wait_,
    .wait_fd = sm_store_pg_wait_fd_,
    .owned = sm_store_pg_owned_,
    .set_claim_cursor = sm_store_pg_set_claim_cursor_,
    .rewind = sm_store_pg_rewind_,
    .set_lease_ms = sm_store_pg_set_lease_ms_,
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
            goto sm_store_pg_fail_;
        }
        if (PQstatus(c) != CONNECTION_OK) {
            rc = sm_pg_fail(err, errlen, s->base.name, "connect", c, NULL);
            goto sm_store_pg_fail_;
        }
        PQsetNoticeProcessor(c, notice, s);
    }
    sm_pg_name_conn(s->c, s->base.name, sizeof s->base.name);
    rc = after_connect(s, err, errlen);
    if (!rc)
        rc = sm_store_pg_wake_session_(s, err, errlen);
    if (rc)
        goto sm_store_pg_fail_;
    *out = &s->base;
    return SM_OK;
sm_store_pg_fail_:
    PQfinish(s->w);
    PQfinish(s->c);
    if (s->epfd >= 0)
        close(s->epfd);
    free(s);
    return rc;
}
