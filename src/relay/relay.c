/* relay.c: the daemon's loop (see relay.h).
 *
 * Rows flow: claim (sm_store_claim, skipping rows the relay has and held
 * keys) -> admit (keys.c decides whether the row may go out now) ->
 * produce on a lane -> delivery report -> a pending write (PUBLISHED in
 * batches, retry, DEAD) -> the write commits -> the row is settled and
 * forgotten. A row stays "tracked" from admission until its write commits,
 * so no claim ever returns a row the relay is still handling.
 *
 * Lanes are producers: "main" (first attempts, batched, idempotent with
 * the gap-less guarantee, so one failed batch fails every later batch of
 * its partition instead of letting them overtake it) and "retry" (rows
 * with a failure history and dead letters: one message per batch, so a
 * poison row fails alone, and one row per key at a time). A lane that hits
 * a fatal error retires (its rows in flight come back as "not mine") and a
 * new one takes its place.
 *
 * Database writes happen only between polls, never inside a librdkafka
 * callback: callbacks change memory and queue writes. */
#include "relay/relay_int.h"

/* ------------------------------------------------------------------ */
/* small helpers                                                       */

bool sm_relay_grow_(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    size_t c = *cap ? *cap * 2 : 64;
    void *p = realloc(*v, c * size);
    if (!p)
        return false;
    *v = p;
    *cap = c;
    return true;
}

void sm_relay_errtext_(char *buf, size_t len, rd_kafka_resp_err_t err, const char *topic,
                       bool local)
{
    snprintf(buf, len, "%s%s: %s (topic %s)", local ? "refused by the producer: " : "",
             rd_kafka_err2name(err), rd_kafka_err2str(err), topic ? topic : "?");
}

const char *sm_relay_keystr_(const char *key)
{
    return key ? key : "(null)";
}

/* Due times of scheduled retries, with their rows: a min-heap by due. */
void sm_relay_timer_push_(sm_relay *r, int64_t due, int64_t id)
{
    if (!sm_relay_grow_((void **)&r->timers, &r->captimers, r->ntimers, sizeof *r->timers))
        return;
    size_t i = r->ntimers++;
    while (i > 0 && r->timers[(i - 1) / 2].due > due) {
        r->timers[i] = r->timers[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    r->timers[i] = (timer){due, id};
}

static void timer_pop(sm_relay *r)
{
    timer last = r->timers[--r->ntimers];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= r->ntimers)
            break;
        if (c + 1 < r->ntimers && r->timers[c + 1].due < r->timers[c].due)
            c++;
        if (r->timers[c].due >= last.due)
            break;
        r->timers[i] = r->timers[c];
        i = c;
    }
    if (r->ntimers)
        r->timers[i] = last;
}

/* Pops every due timer; true if any was due. The claim cursor may have
 * passed a due row: the store looks from it again. */
static bool timers_due(sm_relay *r, int64_t wall)
{
    bool due = false;
    while (r->ntimers && r->timers[0].due <= wall) {
        sm_store_rewind(r->store, r->timers[0].id);
        timer_pop(r);
        due = true;
    }
    return due;
}

void sm_relay_msg_free_(msg *m)
{
    if (!m)
        return;
    free(m->key);
    free(m->topic);
    free(m->error);
    free(m);
}

msg *sm_relay_msg_new_(int64_t id, const char *key, size_t klen, int64_t created_at_ms,
                       int32_t attempts)
{
    msg *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->id = id;
    m->created_at_ms = created_at_ms;
    m->attempts = attempts;
    if (key && !(m->key = strndup(key, klen))) {
        free(m);
        return NULL;
    }
    return m;
}

void sm_relay_db_fail_(sm_relay *r, const char *what, const char *err)
{
    atomic_fetch_add(&r->metrics.db_errors_total, 1);
    sm_log_limited(SM_LOG_ERROR, "outbox database %s: %s failed: %s; trying again in %d ms",
                   r->db_name, what, err, DB_RETRY_MS);
    r->db_retry_at = sm_mono_ms() + DB_RETRY_MS;
}

/* ------------------------------------------------------------------ */
/* the loop                                                            */

static void drain_pipe(sm_relay *r)
{
    char buf[256];
    while (read(r->pipe[0], buf, sizeof buf) > 0)
        ;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Sleeps until something may need doing, at most max_ms. PostgreSQL:
 * only after sm_store_wait said "nothing new" just now. Any statement on
 * the connection may have read a notification off its socket (libpq keeps
 * it), and a claim with rows disarms the wake-up; asking again drains the
 * one and re-arms the other, so a sleep never misses a commit. */
static void sleep_until_work(sm_relay *r, int64_t max_ms, bool listen)
{
    if (max_ms > 0 && listen) {
        char err[512];
        int rc = sm_store_wait(r->store, 0, err, sizeof err);
        if (rc == SM_OK) {
            r->want_claim = true;
            return;
        }
        if (rc != SM_AGAIN) {
            sm_relay_db_fail_(r, "waiting for NOTIFY", err);
            return;
        }
    }
    struct pollfd fds[2] = {{.fd = r->pipe[0], .events = POLLIN}, {.fd = -1}};
    int nfds = 1;
    /* the database only while the relay could claim: otherwise nobody reads
     * what arrives there, and a readable socket would spin the loop */
    int sfd = listen ? sm_store_wait_fd(r->store) : -1;
    if (sfd >= 0) {
        fds[1] = (struct pollfd){.fd = sfd, .events = POLLIN};
        nfds = 2;
    }
    if (max_ms < 0)
        max_ms = 0;
    /* a readable database socket is read by sm_store_wait next round */
    poll(fds, (nfds_t)nfds, (int)max_ms);
}

static void iterate(sm_relay *r)
{
    const sm_relay_config *cfg = r->cfg;
    int64_t now = sm_mono_ms();
    atomic_store(&r->metrics.loop_tick_ms, now);
    drain_pipe(r);
    sm_relay_lanes_poll_(r);
    sm_relay_lanes_check_(r);
    sm_track_poll(&r->track, now, &sm_relay_complete_cbs_, r);
    atomic_store(&r->metrics.complete_rounds_total, r->track.rounds_applied);
    sm_relay_periodic_(r, now);

    /* should we claim? */
    char err[512];
    bool wanted = r->want_claim || r->last_full || now >= r->next_claim;
    /* New commits? While claims come back full the relay just claims on;
     * otherwise PostgreSQL says (NOTIFY, armed by sm_store_wait only while
     * the relay is idle, so busy periods cost the writers nothing) and
     * SQLite is asked every poll.interval.ms (data_version). */
    if (!r->last_full && !r->room_blocked && r->owned && now >= r->db_retry_at &&
        (r->pg || now >= r->next_db_check)) {
        r->next_db_check = now + cfg->poll_interval_ms;
        int rc = sm_store_wait(r->store, 0, err, sizeof err);
        if (rc == SM_OK)
            wanted = true;
        else if (rc != SM_AGAIN)
            sm_relay_db_fail_(r, r->pg ? "waiting for NOTIFY" : "looking for commits", err);
    }
    if (r->keys_released) {
        r->keys_released = false;
        wanted = true;
    }
    if (timers_due(r, sm_wall_ms()))
        wanted = true;
    int64_t room = sm_relay_room_of_(r);
    int64_t enough = cfg->batch_size < cfg->max_inflight / 2 ? cfg->batch_size : cfg->max_inflight / 2;
    if (r->room_blocked && room > 0 && room >= enough && now >= r->queue_full_until) {
        r->room_blocked = false;
        wanted = true;
    }
    bool can = r->owned && now >= r->db_retry_at && !r->room_blocked && !r->stop;
    if (wanted && can) {
        r->want_claim = false;
        r->next_claim = now + SAFETY_CLAIM_MS;
        sm_relay_claim_(r);
    } else if (wanted) {
        r->want_claim = true; /* remembered until claiming is possible */
    }
    /* marks last: the broker works on what was just produced meanwhile */
    sm_relay_lanes_poll_(r);
    sm_relay_flush_writes_(r, false);
    if (r->nrecreated && now >= r->db_retry_at)
        sm_relay_recreated_flush_(r);
    /* a key released by an outcome is claimed again once that outcome is
     * written (the store may hold rows behind an unwritten one) */
    if (!sm_relay_writes_pending_(r) && sm_keys_take_wake(&r->keys))
        r->keys_released = true;
    if (sm_relay_topics_rewind_(r)) /* a limited topic has room again: look at its rows */
        r->want_claim = true;
    atomic_store(&r->metrics.inflight, (int64_t)r->keys.inflight);

    /* sleep until the next thing to do (or a wake-up on the pipe or the
     * database socket) */
    now = sm_mono_ms();
    int64_t wall = sm_wall_ms();
    int64_t wait = 1000; /* /healthz sees the loop tick at least this often */
    can = r->owned && now >= r->db_retry_at && !r->room_blocked;
    if (can && (r->last_full || r->want_claim || r->keys_released))
        wait = 0;
    if (can) {
        wait = min64(wait, r->next_claim - now);
        if (!r->pg)
            wait = min64(wait, r->next_db_check - now);
        if (r->ntimers)
            wait = min64(wait, r->timers[0].due - wall);
    }
    if (r->room_blocked && r->queue_full_until > now)
        wait = min64(wait, r->queue_full_until - now);
    if (sm_relay_writes_pending_(r) || r->db_retry_at > now)
        wait = min64(wait, r->db_retry_at > now ? r->db_retry_at - now : 0);
    if (r->pg)
        wait = min64(wait, r->next_balance - now);
    wait = min64(wait, r->next_stats - now);
    if (r->track.on)
        wait = min64(wait, r->track.busy ? 100 : r->next_complete - now);
    if (r->stop)
        wait = 0;
    sleep_until_work(r, wait, r->pg && can && !r->stop);
}

static void shutdown_flush(sm_relay *r)
{
    int64_t start = sm_mono_ms(), deadline = start + r->cfg->shutdown_timeout_ms;
    sm_info("stopping: %zu rows in flight; waiting up to %" PRId64 " ms for their delivery",
            r->keys.inflight, r->cfg->shutdown_timeout_ms);
    while ((r->keys.inflight || r->dlt_inflight || sm_relay_writes_pending_(r)) && sm_mono_ms() < deadline) {
        drain_pipe(r);
        sm_relay_lanes_poll_(r);
        sm_relay_lanes_check_(r);
        sm_relay_flush_writes_(r, false);
        struct pollfd p = {.fd = r->pipe[0], .events = POLLIN};
        poll(&p, 1, 10);
    }
    r->closing = true;
    /* whatever is left is purged: those rows stay INIT, published again
     * at the next start */
    lane *all[2 + MAX_RETIRING];
    int n = 0;
    all[n++] = r->main;
    all[n++] = r->retry;
    for (int i = 0; i < r->nretiring; i++)
        all[n++] = r->retiring[i];
    for (int i = 0; i < n; i++)
        rd_kafka_purge(all[i]->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    int64_t until = sm_mono_ms() + 2000;
    while ((r->keys.inflight || r->dlt_inflight) && sm_mono_ms() < until) {
        sm_relay_lanes_poll_(r);
        struct pollfd p = {.fd = r->pipe[0], .events = POLLIN};
        poll(&p, 1, 10);
        drain_pipe(r);
    }
    sm_relay_lanes_poll_(r);
    sm_relay_flush_writes_(r, true);
    if (sm_relay_writes_pending_(r))
        sm_warn("stopping: %zu marks could not be written; those rows stay INIT and are "
                "published again at the next start",
                r->npub + r->nretries + r->ndeads);
}

int sm_relay_run(sm_relay *r)
{
    while (!r->stop)
        iterate(r);
    shutdown_flush(r);
    sm_info("samsa-relay stopped: %" PRIu64 " rows published, %" PRIu64 " retries, %" PRIu64
            " dead letters since start%s",
            atomic_load(&r->metrics.published_total), atomic_load(&r->metrics.retries_total),
            atomic_load(&r->metrics.dead_letters_total),
            r->released_at_close ? "; rows in flight at the end stay INIT" : "");
    return SM_OK;
}

void sm_relay_stop(sm_relay *r)
{
    r->stop = 1;
    static const char one = 1;
    ssize_t w = write(r->pipe[1], &one, 1);
    (void)w;
}

/* ------------------------------------------------------------------ */
/* start and stop                                                      */

static int open_store(const sm_relay_config *cfg, sm_store **s, int *before, int *after,
                      char *err, size_t errlen)
{
    char why[512], name[512];
    sm_relay_redact_url(cfg->outbox_db, name, sizeof name);
    if (sm_store_open(s, cfg->outbox_db, why, sizeof why) != SM_OK)
        return sm_fail(err, errlen, SM_EIO, "outbox.db %s: %s", name, why);
    if (sm_store_schema_version(*s, before, why, sizeof why) != SM_OK)
        *before = 0;
    /* at the current version this runs no DDL (least privilege: see
     * docs/outbox.md "Privileges"); otherwise it migrates if the role may */
    if (sm_store_migrate(*s, why, sizeof why) != SM_OK ||
        sm_store_schema_version(*s, after, why, sizeof why) != SM_OK) {
        sm_store_close(*s);
        *s = NULL;
        if (*before < SAMSA_SCHEMA_VERSION)
            return sm_fail(err, errlen, SM_EIO,
                           "outbox.db %s: the outbox schema is at version %d, this relay needs %d,"
                           " and migrating failed: %s (run samsa-relay --init-schema as a role"
                           " that may create tables, e.g. the tables' owner)",
                           name, *before, SAMSA_SCHEMA_VERSION, why);
        return sm_fail(err, errlen, SM_EIO, "outbox.db %s: schema migration failed: %s", name,
                       why);
    }
    if (*after != *before)
        sm_info("outbox schema migrated from v%d to v%d (%s)", *before, *after, name);
    return SM_OK;
}

int sm_relay_init_schema(const sm_relay_config *cfg, char *err, size_t errlen)
{
    sm_store *s = NULL;
    int before = 0, after = 0;
    int rc = open_store(cfg, &s, &before, &after, err, errlen);
    if (rc != SM_OK)
        return rc;
    char name[512];
    sm_relay_redact_url(cfg->outbox_db, name, sizeof name);
    if (after == before)
        sm_info("outbox schema is at v%d, the newest (%s)", after, name);
    sm_store_close(s);
    return SM_OK;
}

int sm_relay_new(sm_relay **out, sm_relay_config *cfg, char *err, size_t errlen)
{
    *out = NULL;
    sm_relay *r = calloc(1, sizeof *r);
    if (!r)
        return sm_fail(err, errlen, SM_ENOMEM, "out of memory");
    r->cfg = cfg;
    r->pipe[0] = r->pipe[1] = -1;
    sm_keys_init(&r->keys, cfg->on_dead == SM_ON_DEAD_BLOCK);
    sm_metrics_init(&r->metrics);
    atomic_store(&r->metrics.broker_up, 1);
    r->rnd = (uint64_t)sm_wall_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)sm_mono_us();
    sm_relay_redact_url(cfg->outbox_db, r->db_name, sizeof r->db_name);
    int rc;
    int32_t probe = cfg->max_inflight / 4 < cfg->batch_size ? cfg->max_inflight / 4 : cfg->batch_size;
    sm_topics_init(&r->topics, probe);
    if (!sm_acks_init(&r->acks)) {
        rc = sm_fail(err, errlen, SM_ENOMEM, "out of memory");
        goto fail;
    }
    if (pipe2(r->pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        rc = sm_fail(err, errlen, SM_EIO, "pipe: %s", strerror(errno));
        goto fail;
    }
    int before = 0;
    if ((rc = open_store(cfg, &r->store, &before, &r->schema_version, err, errlen)) != SM_OK)
        goto fail;
    r->pg = sm_store_is_pg(r->store);
    /* the claim repeats the holds in the database, so that a restart or a
     * slot's move keeps them: on.dead=block makes DEAD rows hold too */
    sm_store_set_dead_holds_key(r->store, cfg->on_dead == SM_ON_DEAD_BLOCK);
    sm_store_set_lease_ms(r->store, cfg->slot_lease_ms);
    sm_store_set_claim_cursor(r->store, cfg->claim_cursor);
    char why[512];
    if (sm_store_balance(r->store, cfg->relay_id, &r->owned, why, sizeof why) != SM_OK) {
        rc = sm_fail(err, errlen, SM_EIO, "outbox.db %s: %s", r->db_name, why);
        goto fail;
    }
    atomic_store(&r->metrics.owned_slots, __builtin_popcountll(r->owned));
    const char *bs = sm_props_get(&cfg->kafka, "batch.size");
    r->main_batch_bytes = bs ? atoll(bs) : 1000000; /* librdkafka's default */
    if (!(r->main = sm_relay_lane_new_(r, false, err,
                                       errlen)) || !(r->retry = sm_relay_lane_new_(r, true, err,
                                                                                   errlen))) {
        rc = SM_EINVAL;
        goto fail;
    }
    if ((rc = sm_track_init(&r->track, cfg, r->pipe[1], err, errlen)) != SM_OK)
        goto fail;
    if ((rc = sm_metrics_start(&r->metrics, cfg->metrics_host, cfg->metrics_port,
                               &r->metrics_port, err, errlen)) != SM_OK)
        goto fail;
    int64_t now = sm_mono_ms();
    r->next_balance = now + cfg->balance_interval_ms;
    r->next_stats = now;
    r->next_complete = now + cfg->complete_interval_ms;
    r->next_stale = now;
    r->next_cleanup = now;
    r->want_claim = true;
    sm_info("samsa-relay %s started: relay.id=%s, outbox %s (%s, schema v%d, %d of %d slots), "
            "bootstrap.servers=%s, %d tracked group%s, metrics on http://%s:%d/metrics",
            SAMSA_VERSION, cfg->relay_id, r->db_name, r->pg ? "PostgreSQL" : "SQLite",
            r->schema_version, __builtin_popcountll(r->owned), SM_STORE_SLOTS,
            cfg->bootstrap_servers, cfg->n_track_groups, cfg->n_track_groups == 1 ? "" : "s",
            cfg->metrics_host, r->metrics_port);
    *out = r;
    return SM_OK;
fail:
    sm_relay_free(r);
    return rc;
}

void sm_relay_free(sm_relay *r)
{
    if (!r)
        return;
    r->closing = true;
    sm_metrics_stop(&r->metrics);
    /* lanes first: their last delivery reports still queue writes */
    sm_relay_lane_free_(r->main);
    sm_relay_lane_free_(r->retry);
    for (int i = 0; i < r->nretiring; i++)
        sm_relay_lane_free_(r->retiring[i]);
    r->main = r->retry = NULL;
    r->nretiring = 0;
    if (r->store && sm_relay_writes_pending_(r))
        sm_relay_flush_writes_(r, true);
    sm_track_release(&r->track);
    if (r->store)
        sm_store_close(r->store);
    for (size_t i = 0; i < r->nretries; i++)
        free(r->retries[i].error);
    for (size_t i = 0; i < r->ndeads; i++) {
        free(r->deads[i].error);
        free(r->deads[i].key);
    }
    free(r->retries);
    free(r->deads);
    for (size_t i = 0; i < r->nrecreated; i++) {
        free(r->recreated[i].topic);
        free(r->recreated[i].why);
    }
    free(r->recreated);
    free(r->pub);
    free(r->timers);
    sm_keys_release(&r->keys);
    sm_acks_release(&r->acks);
    sm_topics_release(&r->topics);
    sm_idset_release(&r->isolate);
    if (r->pipe[0] >= 0)
        close(r->pipe[0]);
    if (r->pipe[1] >= 0)
        close(r->pipe[1]);
    free(r);
}
