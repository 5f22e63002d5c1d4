/* store_pg_claim.c: capture from a PostgreSQL outbox: the claim (with its
 * cursor) and the wake connection, and waiting for rows.
 *
 * Claim: by status, never by "id above the last seen": committed INIT rows,
 * due, of owned slots, in id order. A first query reads only (id, key) a page
 * at a time and asks skip() about each; the second fetches the full rows of
 * the chosen ids. Rows the relay holds or has in flight cost a few bytes each,
 * and eligible rows behind them are still found. No row locks are taken: the
 * slot locks already make this relay the only one claiming these keys, and a
 * FOR UPDATE would end with the claim's own transaction anyway.
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
#include "outbox/store_pg_int.h"

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

int sm_store_pg_wake_session_(pg_store *s, char *err, size_t errlen)
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
    return sm_store_pg_wake_session_(s, err, errlen);
}

/* Reads what the statement connection has: notifications (*woke). */
static int listen_drain(pg_store *s, bool *woke, char *err, size_t errlen)
{
    if (!PQconsumeInput(s->c))
        return sm_store_pg_fail_(s, "wait", NULL, err, errlen);
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
void sm_store_pg_wake_disarm_(pg_store *s)
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
        return ok ? sm_store_pg_fail_(s, "claim: end", NULL, err, errlen) : SM_EIO;
    PGresult *r = PQexec(s->c, ok ? "COMMIT" : "ROLLBACK");
    int rc = SM_OK;
    if (!sm_pg_ok(r, PGRES_COMMAND_OK))
        rc = ok ? sm_store_pg_fail_(s, "claim: commit", r, err, errlen) : SM_EIO;
    PQclear(r);
    return rc;
}

void sm_store_pg_set_claim_cursor_(sm_store *base, bool on)
{
    PG(base)->cur.on = on;
}

void sm_store_pg_rewind_(sm_store *base, int64_t id)
{
    sm_claim_cursor *u = &PG(base)->cur;
    if (id - 1 < u->rewind_to)
        u->rewind_to = id - 1;
}

int sm_store_pg_claim_(sm_store *base, uint64_t owned, int max, sm_row_skip_fn skip, void *arg,
                       sm_row **out, int *nout, char *err, size_t errlen)
{
    pg_store *s = PG(base);
    sm_claim_cursor *u = &s->cur;

    int rc = sm_store_pg_ensure_(s, "claim", err, errlen);
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
        rc = sm_store_pg_fail_(s, "claim: begin", b, err, errlen);
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
        PGresult *r = sm_store_pg_run_(s, P_CLAIM_IDS, vals, lens, "claim", PGRES_TUPLES_OK, &rc,
                                       err, errlen);
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
    PGresult *r = sm_store_pg_run_(s, P_CLAIM_ROWS, vals, lens, "claim: rows", PGRES_TUPLES_OK,
                                   &rc, err,
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
        sm_store_pg_wake_disarm_(s);
    return rc;
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

int sm_store_pg_wait_(sm_store *base, int timeout_ms, char *err, size_t errlen)
{
    pg_store *s = PG(base);
    int64_t deadline = sm_mono_ms() + timeout_ms;
    int rc = sm_store_pg_ensure_(s, "wait", err, errlen);
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
            return sm_store_pg_fail_(s, "wait", NULL, err, errlen);
        poll(pfd, 2, (int)left);
    }
}

int sm_store_pg_wait_fd_(sm_store *base) { return wait_fd_refresh(PG(base)); }
