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
#include "relay/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/map.h"
#include "outbox/samsa.h"
#include "outbox/store.h"
#include "relay/keys.h"
#include "relay/metrics.h"
#include "relay/record.h"
#include "relay/retry.h"
#include "relay/track.h"

#define MAX_RETIRING 8
#define SAFETY_CLAIM_MS 1000   /* claim this often even when nothing says so */
#define DB_RETRY_MS 1000       /* after a failed database call */
#define RETIRE_TIMEOUT_MS 30000 /* a retired producer's rows in flight, at most */
#define MARK_CHUNK 5000         /* rows per mark_published statement */
#define SLOW_WRITES 200         /* retries or DEAD marks (one statement each) per loop round */

typedef struct lane {
    rd_kafka_t *rk;
    int id;
    bool serial;
    bool fatal;
    bool fatal_logged;
    int64_t retired_ms;
    int64_t batch_bytes; /* its batch.size */
    int too_large;       /* rows of batches the broker refused as too large */
    bool shrunk;         /* those made the next main lanes' batches smaller */
    sm_map topics; /* name -> rd_kafka_topic_t */
    /* "partition:topic" -> lane_off: the last offset this producer had
     * acknowledged there. One producer's acknowledgements of a partition
     * come in offset order, so an offset at or below the last one of the
     * same incarnation means the log started again: the topic was deleted
     * and created again (or its log was cut back). */
    sm_map offs;
} lane;

typedef struct lane_off {
    int32_t inc;
    int64_t last;
} lane_off;

/* The opaque of every produced message. */
typedef struct msg {
    int64_t id;
    char *key;   /* NULL: no key */
    char *topic; /* dead letters: the row's own topic */
    char *error; /* dead letters: why the row died */
    int64_t created_at_ms;
    int32_t attempts; /* rows: failed attempts before this one; dead letters: the final count */
    int32_t incarnation; /* rows: their topic's incarnation when claimed (sm_row) */
    bool serial;      /* sent on a one-message-per-batch lane */
    bool dlt;
    bool dlt_nopayload;
} msg;

/* A failed message, seen from a delivery report or a refused produce. */
typedef struct view {
    const void *key;
    size_t klen;
    const void *val;
    size_t vlen;
    const rd_kafka_headers_t *headers;
    const char *topic;
    bool local; /* refused by the producer itself, not by the broker */
    struct lane *lane; /* that sent it (delivery reports) */
} view;

typedef struct pend_retry {
    int64_t id;
    int32_t attempts;
    int64_t due_ms;
    char *error;
} pend_retry;

typedef struct timer {
    int64_t due; /* wall ms */
    int64_t id;
} timer;

typedef struct pend_dead {
    int64_t id;
    int32_t attempts;
    char *error;
    char *key;
} pend_dead;

/* A topic found deleted and created again by a delivery report, for the
 * loop to record (callbacks never write to the database). */
typedef struct pend_recreated {
    char *topic;
    int32_t inc;
    char *why;
} pend_recreated;

struct sm_relay {
    sm_relay_config *cfg;
    sm_store *store;
    bool pg;
    char db_name[512]; /* outbox.db without password */
    int schema_version;
    lane *main, *retry;
    lane *retiring[MAX_RETIRING];
    int nretiring;
    int next_lane_id;
    sm_keys keys;
    sm_acks acks; /* what consumers see: order_violations_total */
    sm_topics topics; /* topics whose rows fail get `probe` rows in flight */
    sm_idset isolate; /* rows whose next attempt goes alone, on the retry lane */
    int64_t main_batch_bytes; /* batch.size of new main lanes */
    sm_metrics metrics;
    sm_track track;
    int pipe[2]; /* librdkafka queues and signals wake the loop */
    volatile sig_atomic_t stop;
    bool closing; /* shutting down: no new dead letters */
    uint64_t owned;
    uint64_t rnd;
    int metrics_port;
    /* writes waiting for the database */
    sm_published *pub;
    size_t npub, cappub;
    pend_retry *retries;
    size_t nretries, capretries;
    pend_dead *deads;
    size_t ndeads, capdeads;
    pend_recreated *recreated;
    size_t nrecreated, caprecreated;
    int64_t db_retry_at; /* mono */
    /* due times (wall ms) of scheduled retries: a min-heap */
    timer *timers;
    size_t ntimers, captimers;
    /* schedule (mono ms) */
    int64_t next_balance, next_stats, next_complete, next_stale, next_cleanup, next_claim;
    int64_t next_db_check; /* SQLite: data_version */
    bool want_claim, last_full, room_blocked;
    bool keys_released; /* a held key was released and its outcome written */
    int64_t queue_full_until; /* mono */
    bool broker_down;
    int64_t broker_down_since;
    uint64_t released_at_close;
    size_t dlt_inflight; /* dead letters produced, no delivery report yet */
};

/* ------------------------------------------------------------------ */
/* small helpers                                                       */

static bool grow(void **v, size_t *cap, size_t n, size_t size)
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

static void errtext(char *buf, size_t len, rd_kafka_resp_err_t err, const char *topic,
                    bool local)
{
    snprintf(buf, len, "%s%s: %s (topic %s)", local ? "refused by the producer: " : "",
             rd_kafka_err2name(err), rd_kafka_err2str(err), topic ? topic : "?");
}

static const char *keystr(const char *key)
{
    return key ? key : "(null)";
}

/* Due times of scheduled retries, with their rows: a min-heap by due. */
static void timer_push(sm_relay *r, int64_t due, int64_t id)
{
    if (!grow((void **)&r->timers, &r->captimers, r->ntimers, sizeof *r->timers))
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

static void msg_free(msg *m)
{
    if (!m)
        return;
    free(m->key);
    free(m->topic);
    free(m->error);
    free(m);
}

static msg *msg_new(int64_t id, const char *key, size_t klen, int64_t created_at_ms,
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

static void db_fail(sm_relay *r, const char *what, const char *err)
{
    atomic_fetch_add(&r->metrics.db_errors_total, 1);
    sm_log_limited(SM_LOG_ERROR, "outbox database %s: %s failed: %s; trying again in %d ms",
                   r->db_name, what, err, DB_RETRY_MS);
    r->db_retry_at = sm_mono_ms() + DB_RETRY_MS;
}

/* ------------------------------------------------------------------ */
/* queued database writes                                              */

static void queue_retry(sm_relay *r, int64_t id, int32_t attempts, int64_t due_ms,
                        const char *error)
{
    char *e = strdup(error);
    if (!e || !grow((void **)&r->retries, &r->capretries, r->nretries, sizeof *r->retries)) {
        free(e);
        sm_error("out of memory recording a retry of row %" PRId64, id);
        return;
    }
    r->retries[r->nretries++] = (pend_retry){id, attempts, due_ms, e};
}

static void queue_dead(sm_relay *r, int64_t id, const char *key, int32_t attempts,
                       const char *error)
{
    char *e = strdup(error), *k = key ? strdup(key) : NULL;
    if (!e || (key && !k) ||
        !grow((void **)&r->deads, &r->capdeads, r->ndeads, sizeof *r->deads)) {
        free(e);
        free(k);
        sm_error("out of memory recording DEAD row %" PRId64, id);
        return;
    }
    r->deads[r->ndeads++] = (pend_dead){id, attempts, e, k};
}

static void queue_published(sm_relay *r, int64_t id, int32_t partition, int64_t offset,
                            int64_t at_ms, int32_t inc)
{
    if (!grow((void **)&r->pub, &r->cappub, r->npub, sizeof *r->pub)) {
        sm_error("out of memory recording PUBLISHED row %" PRId64
                 "; it will be published again after a restart",
                 id);
        return;
    }
    r->pub[r->npub++] = (sm_published){id, partition, offset, at_ms, inc};
}

static bool writes_pending(const sm_relay *r)
{
    return r->npub || r->nretries || r->ndeads;
}

/* Writes what is queued: PUBLISHED marks in a few statements, then the
 * (rare) retries and dead rows one by one. A failure keeps the rest for
 * later; the rows stay tracked meanwhile, so nothing is claimed twice. */
static void flush_writes(sm_relay *r, bool force)
{
    if (!writes_pending(r) || (!force && sm_mono_ms() < r->db_retry_at))
        return;
    int64_t tf = sm_mono_us();
    char err[512];
    size_t done = 0;
    while (done < r->npub) {
        int n = (int)(r->npub - done > MARK_CHUNK ? MARK_CHUNK : r->npub - done);
        if (sm_store_mark_published(r->store, r->pub + done, n, err, sizeof err) != SM_OK) {
            db_fail(r, "marking rows PUBLISHED", err);
            break;
        }
        for (int i = 0; i < n; i++)
            sm_keys_settled(&r->keys, r->pub[done + (size_t)i].id);
        done += (size_t)n;
    }
    if (done && done < r->npub)
        memmove(r->pub, r->pub + done, (r->npub - done) * sizeof *r->pub);
    r->npub -= done;
    if (done)
        sm_debug("marked %zu rows PUBLISHED in %.1f ms", done, (double)(sm_mono_us() - tf) / 1000);
    if (r->npub)
        return;

    /* one statement per row: a bounded number per round, so thousands of
     * failing rows do not hold up the loop (claims, marks of healthy rows) */
    size_t slow = force ? SIZE_MAX : SLOW_WRITES;
    done = 0;
    for (; done < r->nretries && done < slow; done++) {
        pend_retry *p = &r->retries[done];
        if (sm_store_mark_retry(r->store, p->id, p->attempts, p->due_ms, p->error, err,
                                sizeof err) != SM_OK) {
            db_fail(r, "recording a retry", err);
            break;
        }
        sm_keys_settled(&r->keys, p->id);
        free(p->error);
    }
    if (done && done < r->nretries)
        memmove(r->retries, r->retries + done, (r->nretries - done) * sizeof *r->retries);
    r->nretries -= done;
    if (r->nretries)
        return;

    done = 0;
    for (; done < r->ndeads && done < slow; done++) {
        pend_dead *p = &r->deads[done];
        if (sm_store_mark_dead(r->store, p->id, p->attempts, p->error, err, sizeof err) !=
            SM_OK) {
            db_fail(r, "marking a row DEAD", err);
            break;
        }
        sm_keys_dead(&r->keys, p->id, p->key);
        sm_keys_settled(&r->keys, p->id);
        atomic_fetch_add(&r->metrics.dead_letters_total, 1);
        free(p->error);
        free(p->key);
    }
    if (done && done < r->ndeads)
        memmove(r->deads, r->deads + done, (r->ndeads - done) * sizeof *r->deads);
    r->ndeads -= done;
}

/* ------------------------------------------------------------------ */
/* lanes (producers)                                                   */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *km, void *opaque);
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque);

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const char *name = rd_kafka_name(rk);
    if (!strcmp(fac, "FATAL"))
        sm_debug("librdkafka %s: %s", name, buf); /* error_cb reports it */
    else if (level <= 2)
        sm_error("librdkafka %s: %s: %s", name, fac, buf);
    else if (!strcmp(fac, "CONFWARN") && !strstr(buf, "gapless"))
        sm_warn("librdkafka %s: %s", name, buf); /* gap-less is experimental: we know */
    else
        sm_debug("librdkafka %s: %s: %s", name, fac, buf);
}

static lane *lane_new(sm_relay *r, bool serial, char *err, size_t errlen)
{
    const sm_relay_config *cfg = r->cfg;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char why[512];
    for (size_t i = 0; i < cfg->kafka.n; i++) {
        const sm_prop *p = &cfg->kafka.v[i];
        if (rd_kafka_conf_set(conf, p->key, p->value, why, sizeof why) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            sm_fail(err, errlen, SM_EINVAL, "%s (%s): %s", p->key, p->origin, why);
            return NULL;
        }
    }
    char cid[256], bsize[32];
    snprintf(cid, sizeof cid, "samsa-relay-%s%s", cfg->relay_id, serial ? "-retry" : "");
    snprintf(bsize, sizeof bsize, "%" PRId64, r->main_batch_bytes);
    const char *forced[][2] = {
        {"bootstrap.servers", cfg->bootstrap_servers},
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"enable.gapless.guarantee", serial ? NULL : "true"},
        {"client.id", sm_props_find(&cfg->kafka, "client.id") ? NULL : cid},
        {"batch.num.messages", serial ? "1" : NULL},
        {"linger.ms", serial ? "0" : NULL},
        {"batch.size", serial ? NULL : bsize},
    };
    for (size_t i = 0; i < sizeof forced / sizeof forced[0]; i++) {
        if (!forced[i][1])
            continue;
        if (rd_kafka_conf_set(conf, forced[i][0], forced[i][1], why, sizeof why) !=
            RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            sm_fail(err, errlen, SM_EINVAL, "%s: %s", forced[i][0], why);
            return NULL;
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_opaque(conf, r);
    lane *l = calloc(1, sizeof *l);
    if (!l) {
        rd_kafka_conf_destroy(conf);
        sm_fail(err, errlen, SM_ENOMEM, "out of memory");
        return NULL;
    }
    if (!(l->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why))) {
        rd_kafka_conf_destroy(conf);
        free(l);
        sm_fail(err, errlen, SM_EINVAL, "producer: %s", why);
        return NULL;
    }
    static const char one = 1;
    rd_kafka_queue_t *q = rd_kafka_queue_get_main(l->rk);
    rd_kafka_queue_io_event_enable(q, r->pipe[1], &one, 1);
    rd_kafka_queue_destroy(q);
    l->serial = serial;
    l->id = ++r->next_lane_id;
    l->batch_bytes = r->main_batch_bytes;
    sm_map_init(&l->topics);
    sm_map_init(&l->offs);
    return l;
}

/* Stops a producer: whatever it still holds is purged (the rows come back
 * as not delivered and stay INIT), then it is destroyed. */
static void lane_free(lane *l)
{
    if (!l)
        return;
    rd_kafka_purge(l->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    /* purged messages report at once; requests to a broker that is down
     * may stay counted, so wait only a little */
    int64_t until = sm_mono_ms() + 500;
    while (rd_kafka_outq_len(l->rk) > 0 && sm_mono_ms() < until)
        rd_kafka_poll(l->rk, 10);
    rd_kafka_poll(l->rk, 0);
    const char *name;
    void *v;
    for (size_t it = 0; sm_map_next(&l->topics, &it, &name, &v);)
        rd_kafka_topic_destroy(v);
    sm_map_release(&l->topics);
    for (size_t it = 0; sm_map_next(&l->offs, &it, &name, &v);)
        free(v);
    sm_map_release(&l->offs);
    rd_kafka_queue_t *q = rd_kafka_queue_get_main(l->rk);
    rd_kafka_queue_io_event_enable(q, -1, NULL, 0);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(l->rk);
    free(l);
}

static rd_kafka_topic_t *lane_topic(lane *l, const char *name)
{
    size_t n = strlen(name);
    rd_kafka_topic_t *t = sm_map_get(&l->topics, name, n);
    if (t)
        return t;
    if (!(t = rd_kafka_topic_new(l->rk, name, NULL)))
        return NULL;
    if (sm_map_put(&l->topics, name, n, t) != SM_OK) {
        rd_kafka_topic_destroy(t);
        return NULL;
    }
    return t;
}

/* When the broker refuses a batch of several rows as too large, its limit
 * (message.max.bytes) is below our batches: new main lanes get a quarter
 * of the batch.size, and a main lane still using a larger one retires
 * (gracefully: its rows in flight complete). */
static void shrink_for(sm_relay *r, lane *l)
{
    if (l->serial || l->shrunk || l->too_large < 2)
        return;
    l->shrunk = true;
    int64_t next = l->batch_bytes / 4 > 0 ? l->batch_bytes / 4 : 1;
    if (next >= r->main_batch_bytes)
        return;
    sm_warn("the broker refused a batch of %d rows as too large (its message.max.bytes is "
            "below the producer's batch.size): batch.size of the main producer lowered "
            "from %" PRId64 " to %" PRId64 " bytes; set producer.batch.size below the "
            "broker's limit to avoid this",
            l->too_large, l->batch_bytes, next);
    r->main_batch_bytes = next;
    if (r->main->batch_bytes > next && !r->main->fatal) {
        r->main->fatal = true; /* retire it; not an error */
        r->main->fatal_logged = true;
    }
}

/* Replaces lanes that hit a fatal error; destroys retired lanes once their
 * rows in flight have come back. */
static void lanes_check(sm_relay *r)
{
    lane **lanes[2] = {&r->main, &r->retry};
    shrink_for(r, r->main);
    for (int i = 0; i < 2; i++) {
        lane *l = *lanes[i];
        if (!l->fatal)
            continue;
        if (!l->fatal_logged) {
            char why[512];
            rd_kafka_fatal_error(l->rk, why, sizeof why);
            l->fatal_logged = true;
            sm_warn("%s producer stopped by a fatal error: %s; replacing it (its rows in flight "
                    "are produced again, in order)",
                    l->serial ? "retry" : "main", why);
        }
        char why[512];
        lane *n = lane_new(r, l->serial, why, sizeof why);
        if (!n) {
            sm_log_limited(SM_LOG_ERROR, "cannot start a new producer: %s", why);
            continue;
        }
        if (r->nretiring == MAX_RETIRING) {
            lane_free(r->retiring[0]);
            memmove(r->retiring, r->retiring + 1, (MAX_RETIRING - 1) * sizeof r->retiring[0]);
            r->nretiring--;
        }
        l->retired_ms = sm_mono_ms();
        r->retiring[r->nretiring++] = l;
        *lanes[i] = n;
        atomic_fetch_add(&r->metrics.producer_restarts_total, 1);
        if (n->serial)
            sm_info("new retry producer started");
        else
            sm_info("new main producer started (batch.size %" PRId64 " bytes)", n->batch_bytes);
    }
    for (int i = 0; i < r->nretiring;) {
        lane *l = r->retiring[i];
        rd_kafka_poll(l->rk, 0);
        shrink_for(r, l);
        if (rd_kafka_outq_len(l->rk) == 0 || sm_mono_ms() - l->retired_ms > RETIRE_TIMEOUT_MS) {
            lane_free(l);
            memmove(&r->retiring[i], &r->retiring[i + 1],
                    (size_t)(r->nretiring - i - 1) * sizeof r->retiring[0]);
            r->nretiring--;
        } else {
            i++;
        }
    }
}

static void lanes_poll(sm_relay *r)
{
    rd_kafka_poll(r->main->rk, 0);
    rd_kafka_poll(r->retry->rk, 0);
    for (int i = 0; i < r->nretiring; i++)
        rd_kafka_poll(r->retiring[i]->rk, 0);
}

static lane *lane_of(sm_relay *r, const rd_kafka_t *rk)
{
    if (r->main && r->main->rk == rk)
        return r->main;
    if (r->retry && r->retry->rk == rk)
        return r->retry;
    for (int i = 0; i < r->nretiring; i++)
        if (r->retiring[i]->rk == rk)
            return r->retiring[i];
    return NULL;
}

/* A lane usable now (a fatal one is replaced first). */
static lane *lane_get(sm_relay *r, bool serial)
{
    if ((serial ? r->retry : r->main)->fatal)
        lanes_check(r);
    return serial ? r->retry : r->main;
}

static rd_kafka_resp_err_t produce(lane *l, const char *topic, const void *key, size_t klen,
                                   const void *val, size_t vlen, rd_kafka_headers_t *h, msg *m)
{
    rd_kafka_topic_t *rkt = lane_topic(l, topic);
    if (!rkt)
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    m->serial = l->serial;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        l->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
        RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE((void *)val, vlen), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_OPAQUE(m), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR__FATAL)
        l->fatal = true;
    return err;
}

/* ------------------------------------------------------------------ */
/* dead letters                                                        */

/* Publishes the dead letter of row id (the row's key, value and headers
 * plus samsa.error, samsa.attempts, samsa.original_topic) on the retry
 * lane. When it cannot be sent, the row is marked DEAD with the reason. */
static void dlt_send(sm_relay *r, int64_t id, const char *keyz, const view *v, int32_t attempts,
                     const char *why, bool nopayload)
{
    char *name = sm_relay_dlt_name(r->cfg, v->topic);
    char reason[1024], vwhy[256];
    if (!name) {
        queue_dead(r, id, keyz, attempts, why);
        return;
    }
    if (!sm_relay_topic_valid(name, vwhy, sizeof vwhy)) {
        snprintf(reason, sizeof reason, "%s; no dead letter: '%s': %s", why, name, vwhy);
        sm_warn("row %" PRId64 " DEAD (topic %s, key %s, %d attempts): %s", id, v->topic,
                keystr(keyz), attempts, reason);
        queue_dead(r, id, keyz, attempts, reason);
        free(name);
        return;
    }
    for (;;) {
        rd_kafka_headers_t *h =
            v->headers ? rd_kafka_headers_copy(v->headers) : rd_kafka_headers_new(4);
        char num[32];
        rd_kafka_header_add(h, "samsa.error", -1, why, -1);
        snprintf(num, sizeof num, "%d", (int)attempts);
        rd_kafka_header_add(h, "samsa.attempts", -1, num, -1);
        rd_kafka_header_add(h, "samsa.original_topic", -1, v->topic, -1);
        if (nopayload) {
            snprintf(num, sizeof num, "%zu", v->vlen);
            rd_kafka_header_add(h, "samsa.payload_omitted", -1, num, -1);
        }
        msg *m = msg_new(id, keyz, keyz ? strlen(keyz) : 0, 0, attempts);
        if (m) {
            m->dlt = true;
            m->dlt_nopayload = nopayload;
            m->topic = strdup(v->topic);
            m->error = strdup(why);
        }
        if (!m || !m->topic || !m->error) {
            rd_kafka_headers_destroy(h);
            msg_free(m);
            queue_dead(r, id, keyz, attempts, why);
            break;
        }
        rd_kafka_resp_err_t err = produce(lane_get(r, true), name, v->key, v->klen,
                                          nopayload ? NULL : v->val, nopayload ? 0 : v->vlen, h, m);
        if (!err) {
            r->dlt_inflight++;
            break;
        }
        rd_kafka_headers_destroy(h);
        msg_free(m);
        if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && !nopayload) {
            nopayload = true;
            continue;
        }
        if (sm_relay_classify(err) == SM_ERRC_NOT_MINE) {
            /* record the attempts; the next claim sends the dead letter */
            int64_t due = sm_wall_ms() + r->cfg->retry_backoff_ms;
            queue_retry(r, id, attempts, due, why);
            sm_keys_reschedule(&r->keys, id, keyz, due);
            timer_push(r, due, id);
            break;
        }
        snprintf(reason, sizeof reason, "%s; dead letter to %s not published: %s: %s", why, name,
                 rd_kafka_err2name(err), rd_kafka_err2str(err));
        sm_warn("row %" PRId64 " DEAD (topic %s, key %s, %d attempts): %s", id, v->topic,
                keystr(keyz), attempts, reason);
        queue_dead(r, id, keyz, attempts, reason);
        break;
    }
    free(name);
}

/* The delivery report of a dead letter. */
static void dlt_delivered(sm_relay *r, msg *m, const rd_kafka_message_t *km)
{
    char reason[1024];
    const char *dlt = rd_kafka_topic_name(km->rkt);
    if (!km->err) {
        snprintf(reason, sizeof reason, "%s (dead letter: %s [%d] @ %" PRId64 ")", m->error, dlt,
                 (int)km->partition, (int64_t)km->offset);
        sm_warn("row %" PRId64 " DEAD (topic %s, key %s, %d attempts): %s; dead letter at %s "
                "[%d] @ %" PRId64,
                m->id, m->topic, keystr(m->key), m->attempts, m->error, dlt, (int)km->partition,
                (int64_t)km->offset);
        queue_dead(r, m->id, m->key, m->attempts, reason);
    } else if (km->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && !m->dlt_nopayload &&
               !r->closing) {
        rd_kafka_headers_t *h = NULL;
        rd_kafka_message_headers(km, &h);
        /* the headers already carry samsa.error and friends: strip them
         * by re-sending from a copy without them */
        rd_kafka_headers_t *base = h ? rd_kafka_headers_copy(h) : NULL;
        if (base) {
            rd_kafka_header_remove(base, "samsa.error");
            rd_kafka_header_remove(base, "samsa.attempts");
            rd_kafka_header_remove(base, "samsa.original_topic");
        }
        view v = {km->key, km->key_len, km->payload, km->len, base, m->topic, false, NULL};
        dlt_send(r, m->id, m->key, &v, m->attempts, m->error, true);
        if (base)
            rd_kafka_headers_destroy(base);
    } else if (sm_relay_classify(km->err) == SM_ERRC_NOT_MINE) {
        int64_t due = sm_wall_ms() + r->cfg->retry_backoff_ms;
        queue_retry(r, m->id, m->attempts, due, m->error);
        sm_keys_reschedule(&r->keys, m->id, m->key, due);
        timer_push(r, due, m->id);
    } else {
        snprintf(reason, sizeof reason, "%s; dead letter to %s not published: %s: %s", m->error,
                 dlt, rd_kafka_err2name(km->err), rd_kafka_err2str(km->err));
        sm_warn("row %" PRId64 " DEAD (topic %s, key %s, %d attempts): %s", m->id, m->topic,
                keystr(m->key), m->attempts, reason);
        queue_dead(r, m->id, m->key, m->attempts, reason);
    }
    msg_free(m);
}

/* ------------------------------------------------------------------ */
/* outcomes                                                            */

/* A row's publish failed (delivery report or refused produce). */
static void row_failed(sm_relay *r, msg *m, rd_kafka_resp_err_t err, const view *v)
{
    char why[512];
    errtext(why, sizeof why, err, v->topic, v->local);
    sm_errclass c = sm_relay_classify(err);
    if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && !v->local && !m->serial) {
        /* the broker refused a whole batch: any of its rows may be the
         * one too large. None is charged an attempt; each goes once more
         * alone, where the verdict is its own. */
        sm_idset_add(&r->isolate, m->id, 0);
        if (v->lane)
            v->lane->too_large++;
        c = SM_ERRC_NOT_MINE;
    }
    int64_t wall = sm_wall_ms();
    sm_topics_landed(&r->topics, v->topic, false, c != SM_ERRC_NOT_MINE, wall);
    if (c == SM_ERRC_NOT_MINE) {
        /* nothing written: the row is still INIT and due; it goes again
         * once its key has nothing in flight */
        sm_debug("row %" PRId64 " (key %s) not delivered: %s; producing it again", m->id,
                 keystr(m->key), why);
        sm_keys_failed(&r->keys, m->id, m->key, sm_wall_ms());
        sm_keys_settled(&r->keys, m->id);
        sm_store_rewind(r->store, m->id); /* the claim cursor may be past it */
        r->want_claim = true;
        if (r->closing)
            r->released_at_close++;
        msg_free(m);
        return;
    }
    int32_t attempts = m->attempts + 1;
    int64_t missing_ms = 0;
    if (err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        missing_ms = sm_topics_failing_ms(&r->topics, v->topic, wall);
        if (missing_ms >= r->cfg->unknown_topic_dead_ms) {
            size_t n = strlen(why);
            snprintf(why + n, sizeof why - n,
                     "; the topic has been unknown for %" PRId64 " ms (unknown.topic.dead.ms=%"
                     PRId64 ")", missing_ms, r->cfg->unknown_topic_dead_ms);
            c = SM_ERRC_PERMANENT;
        }
    }
    if (c == SM_ERRC_PERMANENT || attempts >= r->cfg->max_attempts) {
        sm_keys_failed(&r->keys, m->id, m->key, SM_KEYS_NEVER);
        if (r->closing)
            queue_retry(r, m->id, attempts, sm_wall_ms(), why);
        else
            dlt_send(r, m->id, m->key, v, attempts, why, err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    } else {
        int64_t delay = sm_relay_backoff_ms(attempts, r->cfg->retry_backoff_ms,
                                            r->cfg->retry_backoff_max_ms, sm_relay_rand(&r->rnd));
        int64_t due = sm_wall_ms() + delay;
        sm_keys_failed(&r->keys, m->id, m->key, due);
        queue_retry(r, m->id, attempts, due, why);
        timer_push(r, due, m->id);
        atomic_fetch_add(&r->metrics.retries_total, 1);
        sm_log_limited(SM_LOG_WARN,
                       "row %" PRId64 " (key %s) failed, attempt %d of %d: %s; retrying in %" PRId64
                       " ms, later rows of its key wait",
                       m->id, keystr(m->key), (int)attempts, (int)r->cfg->max_attempts, why, delay);
    }
    msg_free(m);
}

static void queue_recreated(sm_relay *r, const char *topic, int32_t inc, const char *why)
{
    for (size_t i = 0; i < r->nrecreated; i++)
        if (r->recreated[i].inc == inc && !strcmp(r->recreated[i].topic, topic))
            return;
    char *t = strdup(topic), *w = strdup(why);
    if (!t || !w ||
        !grow((void **)&r->recreated, &r->caprecreated, r->nrecreated, sizeof *r->recreated)) {
        free(t);
        free(w);
        return; /* the completion round's record check finds it too */
    }
    r->recreated[r->nrecreated++] = (pend_recreated){t, inc, w};
}

/* An acknowledged row of a tracked topic: offsets of one producer and
 * partition only go up within an incarnation (see lane.offs). */
static void offsets_note(sm_relay *r, lane *l, const char *topic, int32_t partition, int32_t inc,
                         int64_t offset)
{
    if (!l || !sm_track_topic_tracked(&r->track, topic))
        return;
    char k[300];
    int kn = snprintf(k, sizeof k, "%d:%s", (int)partition, topic);
    size_t kl = kn < 0 ? 0 : (size_t)kn < sizeof k ? (size_t)kn : sizeof k - 1;
    lane_off *o = sm_map_get(&l->offs, k, kl);
    if (!o) {
        if (!(o = malloc(sizeof *o)))
            return;
        if (sm_map_put(&l->offs, k, kl, o) != SM_OK) {
            free(o);
            return;
        }
    } else if (inc < o->inc) {
        return; /* a row of an earlier incarnation: never completed, re-queued */
    } else if (inc == o->inc && offset <= o->last) {
        char why[512];
        snprintf(why, sizeof why,
                 "a producer's acknowledgements went backwards: %s [%d] @ %" PRId64
                 " after @ %" PRId64,
                 topic, (int)partition, offset, o->last);
        queue_recreated(r, topic, inc, why);
    }
    o->inc = inc;
    o->last = offset;
}

static void broker_seen_up(sm_relay *r)
{
    if (!r->broker_down)
        return;
    r->broker_down = false;
    atomic_store(&r->metrics.broker_up, 1);
    sm_info("broker up: deliveries resumed after %.1f s",
            (double)(sm_mono_ms() - r->broker_down_since) / 1000.0);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *km, void *opaque)
{
    sm_relay *r = opaque;
    msg *m = km->_private;
    if (!m)
        return;
    if (m->dlt) {
        r->dlt_inflight--;
        if (!km->err)
            broker_seen_up(r);
        dlt_delivered(r, m, km);
        return;
    }
    if (!km->err) {
        int64_t now = sm_wall_ms();
        queue_published(r, m->id, km->partition, km->offset, now, m->incarnation);
        offsets_note(r, lane_of(r, rk), rd_kafka_topic_name(km->rkt), km->partition,
                     m->incarnation, km->offset);
        sm_topics_landed(&r->topics, rd_kafka_topic_name(km->rkt), true, false, now);
        bool overtook = sm_keys_acked(&r->keys, m->id, m->key);
        bool behind = sm_acks_note(&r->acks, rd_kafka_topic_name(km->rkt), m->key, m->id);
        if (overtook || behind) {
            atomic_fetch_add(&r->metrics.order_violations_total, 1);
            sm_log_limited(SM_LOG_WARN,
                           "order: row %" PRId64 " of key %s was acknowledged %s", m->id,
                           keystr(m->key),
                           behind ? "after a later row of its key: consumers see them out of order"
                                  : "while an earlier row of its key is still failing");
        }
        atomic_fetch_add(&r->metrics.published_total, 1);
        sm_metrics_observe_latency(&r->metrics, (now - m->created_at_ms) * 1000);
        broker_seen_up(r);
        msg_free(m);
        return;
    }
    rd_kafka_headers_t *h = NULL;
    rd_kafka_message_headers(km, &h);
    view v = {km->key, km->key_len, km->payload, km->len, h, rd_kafka_topic_name(km->rkt), false,
              lane_of(r, rk)};
    row_failed(r, m, km->err, &v);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    sm_relay *r = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        lane *l = lane_of(r, rk);
        char buf[512];
        rd_kafka_fatal_error(rk, buf, sizeof buf);
        if (l && !l->fatal_logged) {
            l->fatal = true;
            l->fatal_logged = true;
            sm_warn("%s producer stopped by a fatal error: %s; replacing it (its rows in flight "
                    "are produced again, in order)",
                    l->serial ? "retry" : "main", buf);
        }
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        if (!r->broker_down) {
            r->broker_down = true;
            r->broker_down_since = sm_mono_ms();
            atomic_store(&r->metrics.broker_up, 0);
            sm_warn("broker down: %s; rows wait in the producer until it is back", reason);
        }
        return;
    }
    if (r->broker_down)
        sm_debug("kafka: %s: %s", rd_kafka_err2name(err), reason);
    else
        sm_log_limited(SM_LOG_WARN, "kafka: %s: %s", rd_kafka_err2name(err), reason);
}

/* ------------------------------------------------------------------ */
/* claiming                                                            */

static void log_slots(uint64_t before, uint64_t after);

/* Rows the relay has are skipped and may be passed by the claim cursor
 * (they come back through a rewind if they are not published); rows of held
 * keys are skipped and pinned: the next claim looks at them again. */
static bool skip_cb(int64_t id, const char *key, const char *topic, void *arg)
{
    sm_relay *r = arg;
    if (sm_keys_tracked(&r->keys, id))
        return true;
    if (sm_keys_skip(&r->keys, id, key)) {
        sm_store_rewind(r->store, id);
        return true;
    }
    /* a topic whose rows fail, at its cap: looked at again (a rewind) when
     * one of its rows lands */
    return sm_topics_skip(&r->topics, topic, id);
}

/* A claimed row the relay did not take on: the next claim looks again. */
static void not_taken(sm_relay *r, int64_t id)
{
    if (!sm_keys_tracked(&r->keys, id))
        sm_store_rewind(r->store, id);
}

/* A row that can never be published, or has used its attempts: straight
 * to the dead-letter topic, holding its key meanwhile. */
static void dead_from_row(sm_relay *r, const sm_row *row, int32_t attempts, const char *why)
{
    lane *l = lane_get(r, true);
    if (!sm_keys_admit(&r->keys, row->id, row->key, row->slot, l->id, true, row->topic)) {
        not_taken(r, row->id);
        return;
    }
    sm_keys_failed(&r->keys, row->id, row->key, SM_KEYS_NEVER);
    rd_kafka_headers_t *h = NULL;
    char ignore[256];
    if (sm_relay_headers_build(row, &h, ignore, sizeof ignore) != SM_OK)
        h = sm_relay_headers_base(row);
    view v = {row->key,   row->key ? (size_t)row->key_len : 0,
              row->payload, row->payload && row->payload_len > 0 ? (size_t)row->payload_len : 0,
              h,          row->topic,
              false,      NULL};
    if (!row->payload || row->payload_len < 0)
        v.val = NULL;
    dlt_send(r, row->id, row->key, &v, attempts, why, false);
    if (h)
        rd_kafka_headers_destroy(h);
}

static void dispatch(sm_relay *r, const sm_row *row)
{
    const sm_relay_config *cfg = r->cfg;
    char why[512];
    if (row->attempts >= cfg->max_attempts) {
        snprintf(why, sizeof why, "gave up after %d attempts (max.attempts=%d)",
                 (int)row->attempts, (int)cfg->max_attempts);
        dead_from_row(r, row, row->attempts, why);
        return;
    }
    if (sm_relay_row_check(row, why, sizeof why) != SM_OK) {
        dead_from_row(r, row, row->attempts + 1, why);
        return;
    }
    bool alone = row->attempts > 0 || sm_idset_has(&r->isolate, row->id);
    lane *l = lane_get(r, alone);
    if (!sm_topics_admit(&r->topics, row->topic, sm_wall_ms())) {
        sm_topics_skip(&r->topics, row->topic, row->id); /* rewound when there is room */
        return;
    }
    if (!sm_keys_admit(&r->keys, row->id, row->key, row->slot, l->id, l->serial, row->topic)) {
        sm_topics_landed(&r->topics, row->topic, false, false, sm_wall_ms());
        not_taken(r, row->id);
        return;
    }
    if (alone)
        sm_idset_del(&r->isolate, row->id);
    size_t klen = row->key ? (size_t)row->key_len : 0;
    msg *m = msg_new(row->id, row->key, klen, row->created_at_ms, row->attempts);
    if (m)
        m->incarnation = row->incarnation;
    rd_kafka_headers_t *h = NULL;
    if (!m || sm_relay_headers_build(row, &h, why, sizeof why) != SM_OK) {
        msg_free(m);
        sm_topics_landed(&r->topics, row->topic, false, false, sm_wall_ms());
        sm_keys_failed(&r->keys, row->id, row->key, sm_wall_ms());
        sm_keys_settled(&r->keys, row->id);
        sm_store_rewind(r->store, row->id);
        return;
    }
    rd_kafka_resp_err_t err =
        produce(l, row->topic, row->key, klen, row->payload, (size_t)row->payload_len, h, m);
    if (err) {
        view v = {row->key, klen, row->payload, (size_t)row->payload_len, h, row->topic, true, l};
        row_failed(r, m, err, &v);
        rd_kafka_headers_destroy(h);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            /* librdkafka's own queue is full (queue.buffering.max.*):
             * wait for deliveries before claiming more */
            r->room_blocked = true;
            r->queue_full_until = sm_mono_ms() + 10;
        }
    }
}

/* The store drops its slots when its connection is lost: follow it. */
static void owned_refresh(sm_relay *r)
{
    uint64_t owned = sm_store_owned(r->store);
    if (owned == r->owned)
        return;
    log_slots(r->owned, owned);
    r->owned = owned;
    atomic_store(&r->metrics.owned_slots, __builtin_popcountll(owned));
}

/* Room in the in-flight budget: rows waiting for a retry, retried alone or
 * going to the dead-letter topic do not count (keys.h), so failing rows
 * never take the room of healthy keys; they have an allowance of another
 * max.inflight for themselves (memory stays bounded). */
static int64_t room_of(const sm_relay *r)
{
    int64_t max = r->cfg->max_inflight;
    int64_t room = max - (int64_t)r->keys.budget;
    int64_t all = 2 * max - (int64_t)r->keys.ids.n;
    return room < all ? room : all;
}

/* A topic at its probe cap has room again: its skipped rows, which the
 * claim cursor passed, are looked at again. Applied before every claim: a
 * row landing in the poll at the top of a turn must not let that turn's
 * claim start past them, or it takes later rows of their keys first. */
static bool topics_rewind(sm_relay *r)
{
    int64_t id = sm_topics_take_rewind(&r->topics);
    if (id)
        sm_store_rewind(r->store, id);
    return id != 0;
}

static void claim(sm_relay *r)
{
    (void)topics_rewind(r);
    int64_t room = room_of(r);
    r->last_full = false;
    if (room <= 0 || r->room_blocked) {
        r->room_blocked = true;
        return;
    }
    int max = room < r->cfg->batch_size ? (int)room : r->cfg->batch_size;
    sm_row *rows = NULL;
    int n = 0;
    char err[512];
    owned_refresh(r);
    if (!r->owned)
        return;
    atomic_fetch_add(&r->metrics.claims_total, 1);
    int64_t t0 = sm_mono_us();
    if (sm_store_claim(r->store, r->owned, max, skip_cb, r, &rows, &n, err, sizeof err) !=
        SM_OK) {
        db_fail(r, "claiming rows", err);
        return;
    }
    int64_t t1 = sm_mono_us();
    int i = 0;
    for (; i < n && !r->room_blocked; i++)
        dispatch(r, &rows[i]);
    for (; i < n; i++) /* left for later: the producer's queue is full */
        not_taken(r, rows[i].id);
    if (n)
        sm_debug("claimed %d rows in %.1f ms, produced them in %.1f ms", n,
                 (double)(t1 - t0) / 1000, (double)(sm_mono_us() - t1) / 1000);
    sm_rows_free(rows, n);
    r->last_full = n == max && !r->room_blocked;
}

/* ------------------------------------------------------------------ */
/* periodic work                                                       */

static void log_slots(uint64_t before, uint64_t after)
{
    int gained = __builtin_popcountll(after & ~before), lost = __builtin_popcountll(before & ~after);
    if (lost)
        sm_warn("slots: lost %d, gained %d, now own %d of %d (rows of lost slots still in flight "
                "are marked when acknowledged; the new owner may publish them again)",
                lost, gained, __builtin_popcountll(after), SM_STORE_SLOTS);
    else
        sm_info("slots: gained %d, now own %d of %d", gained, __builtin_popcountll(after),
                SM_STORE_SLOTS);
}

static void balance(sm_relay *r)
{
    uint64_t owned = 0;
    char err[512];
    /* slots with rows still tracked here are handed over only once those
     * rows are marked, so the next owner never publishes them again */
    if (sm_store_balance_busy(r->store, r->cfg->relay_id, sm_keys_busy(&r->keys), &owned, err,
                              sizeof err) != SM_OK) {
        /* the advisory locks may be gone with the connection: claim
         * nothing until the next balance proves what we own */
        db_fail(r, "balancing slots", err);
        owned = 0;
    }
    if (owned != r->owned)
        log_slots(r->owned, owned);
    r->owned = owned;
    atomic_store(&r->metrics.owned_slots, __builtin_popcountll(owned));
}

static void stats(sm_relay *r)
{
    sm_store_stats st;
    char err[512];
    if (sm_store_stats_get(r->store, &st, err, sizeof err) != SM_OK) {
        db_fail(r, "reading row counts", err);
        return;
    }
    atomic_store(&r->metrics.rows_init, st.init);
    atomic_store(&r->metrics.rows_published, st.published);
    atomic_store(&r->metrics.rows_complete, st.complete);
    atomic_store(&r->metrics.rows_dead, st.dead);
    atomic_store(&r->metrics.oldest_init_age_ms, st.oldest_init_age_ms);
    atomic_store(&r->metrics.stats_valid, 1);
}

static void complete_apply(const char *topic, int32_t partition, int32_t inc, int64_t from,
                           int64_t below, void *arg)
{
    sm_relay *r = arg;
    int64_t changed = 0;
    char err[512];
    if (sm_store_complete(r->store, topic, partition, inc, from, below, &changed, err,
                          sizeof err) != SM_OK) {
        db_fail(r, "marking rows COMPLETE", err);
        return;
    }
    if (changed) {
        atomic_fetch_add(&r->metrics.completed_total, (uint64_t)changed);
        sm_debug("%" PRId64 " rows of %s [%d] (incarnation %d) in offsets [%" PRId64 ", %" PRId64
                 ") COMPLETE",
                 changed, topic, (int)partition, (int)inc, from, below);
    }
}

/* PUBLISHED rows of topic's earlier incarnations go back to INIT, to be
 * published again to the current one (on.topic.recreated=republish). */
static void requeue_recreated(sm_relay *r, const char *topic, int32_t current)
{
    if (r->cfg->on_topic_recreated != SM_ON_RECREATED_REPUBLISH)
        return;
    char reason[512], err[512];
    snprintf(reason, sizeof reason,
             "topic %s was deleted and created again before every tracked group consumed this "
             "row: published again, to incarnation %d (on.topic.recreated=republish)",
             topic, (int)current);
    int64_t changed = 0;
    if (sm_store_requeue_incarnations(r->store, topic, reason, &changed, err, sizeof err) !=
        SM_OK) {
        db_fail(r, "re-queueing rows of a topic created again", err);
        return;
    }
    if (changed) {
        atomic_fetch_add(&r->metrics.requeued_recreated_total, (uint64_t)changed);
        sm_warn("on.topic.recreated=republish: %" PRId64 " PUBLISHED rows of an earlier "
                "incarnation of topic %s re-queued; they will be published again, to its "
                "incarnation %d (a consumer that had them drops them by samsa.event_id)",
                changed, topic, (int)current);
        r->want_claim = true;
        sm_acks_clear(&r->acks); /* re-published on purpose: not inversions */
    }
}

/* The topic is not the incarnation inc its rows were published to. */
static void topic_recreated(sm_relay *r, const char *topic, int32_t inc, const char *why)
{
    int32_t current = inc;
    bool started = false;
    char err[512];
    if (sm_store_new_incarnation(r->store, topic, inc, why, &current, &started, err,
                                 sizeof err) != SM_OK) {
        db_fail(r, "recording a topic created again", err);
        return;
    }
    if (started) {
        atomic_fetch_add(&r->metrics.topic_incarnations_total, 1);
        sm_warn("topic %s was deleted and created again (%s): incarnation %d begins; rows "
                "PUBLISHED to incarnation %d are never completed by the new topic's offsets%s",
                topic, why, (int)current, (int)inc,
                r->cfg->on_topic_recreated == SM_ON_RECREATED_REPUBLISH
                    ? " and are published again (on.topic.recreated=republish)"
                    : "; they stay PUBLISHED (on.topic.recreated=keep)");
    }
    if (current != inc)
        requeue_recreated(r, topic, current);
}

static void complete_recreated(const char *topic, int32_t inc, const char *why, void *arg)
{
    topic_recreated(arg, topic, inc, why);
}

static void complete_unverified(const char *topic, int32_t partition, const char *why, void *arg)
{
    sm_relay *r = arg;
    atomic_fetch_add(&r->metrics.complete_unverified_total, 1);
    sm_log_limited(SM_LOG_WARN,
                   "completion tracking: %s [%d]: its rows' records could not be checked (%s); "
                   "nothing of it completed this round",
                   topic, (int)partition, why);
}

static const sm_track_cbs complete_cbs = {complete_apply, complete_recreated,
                                          complete_unverified};

/* Topics found created again by delivery reports (offsets_note). */
static void recreated_flush(sm_relay *r)
{
    for (size_t i = 0; i < r->nrecreated; i++) {
        topic_recreated(r, r->recreated[i].topic, r->recreated[i].inc, r->recreated[i].why);
        free(r->recreated[i].topic);
        free(r->recreated[i].why);
    }
    r->nrecreated = 0;
}

static void complete_start(sm_relay *r, int64_t now)
{
    if (!r->track.on || r->track.busy)
        return;
    sm_tp *tps = NULL;
    int n = 0;
    char err[512];
    if (sm_store_published_partitions(r->store, &tps, &n, err, sizeof err) != SM_OK) {
        db_fail(r, "listing published partitions", err);
        return;
    }
    /* rows of an earlier incarnation still PUBLISHED (marked after the new
     * one began, or left by a relay that stopped before re-queueing them) */
    for (int i = 0; i < n; i++) {
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = tps[j].others && !strcmp(tps[j].topic, tps[i].topic);
        if (tps[i].others && !seen && sm_track_topic_tracked(&r->track, tps[i].topic))
            requeue_recreated(r, tps[i].topic, tps[i].incarnation);
    }
    sm_track_start(&r->track, tps, n, now);
    sm_tps_free(tps, n);
}

static void requeue_stale(sm_relay *r)
{
    int64_t changed = 0;
    char err[512];
    if (sm_store_requeue_stale(r->store, r->cfg->republish_stale_after_ms, &changed, err,
                               sizeof err) != SM_OK) {
        db_fail(r, "re-queueing stale rows", err);
        return;
    }
    if (changed) {
        atomic_fetch_add(&r->metrics.requeued_stale_total, (uint64_t)changed);
        sm_warn("republish.stale.after.ms: %" PRId64 " PUBLISHED rows not COMPLETE after %" PRId64
                " ms re-queued; they will be published again (duplicates: consumers drop them "
                "by samsa.event_id)",
                changed, r->cfg->republish_stale_after_ms);
        r->want_claim = true;
        sm_acks_clear(&r->acks); /* re-published on purpose: not inversions */
    }
}

static void cleanup(sm_relay *r)
{
    int64_t removed = 0;
    char err[512];
    const sm_relay_config *cfg = r->cfg;
    if (sm_store_cleanup(r->store, cfg->cleanup_after_ms, cfg->cleanup_include_published,
                         cfg->cleanup_archive, &removed, err, sizeof err) != SM_OK) {
        db_fail(r, "cleaning up old rows", err);
        return;
    }
    if (removed) {
        atomic_fetch_add(&r->metrics.cleaned_total, (uint64_t)removed);
        sm_info("cleanup: %s %" PRId64 " %s rows older than %" PRId64 " ms",
                cfg->cleanup_archive ? "archived" : "deleted", removed,
                cfg->cleanup_include_published ? "COMPLETE/PUBLISHED" : "COMPLETE",
                cfg->cleanup_after_ms);
    }
}

static void periodic(sm_relay *r, int64_t now)
{
    const sm_relay_config *cfg = r->cfg;
    if (now < r->db_retry_at)
        return;
    if (r->pg && now >= r->next_balance) {
        r->next_balance = now + cfg->balance_interval_ms;
        balance(r);
    }
    if (now >= r->next_stats) {
        r->next_stats = now + cfg->stats_interval_ms;
        stats(r);
    }
    if (r->track.on && now >= r->next_complete) {
        r->next_complete = now + cfg->complete_interval_ms;
        complete_start(r, now);
    }
    if (cfg->republish_stale_after_ms > 0 && now >= r->next_stale) {
        int64_t every = cfg->republish_stale_after_ms / 4;
        r->next_stale = now + (every < 1000 ? 1000 : every > 60000 ? 60000 : every);
        requeue_stale(r);
    }
    if (cfg->cleanup_after_ms > 0 && now >= r->next_cleanup) {
        r->next_cleanup = now + cfg->cleanup_interval_ms;
        cleanup(r);
    }
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
            db_fail(r, "waiting for NOTIFY", err);
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
    lanes_poll(r);
    lanes_check(r);
    sm_track_poll(&r->track, now, &complete_cbs, r);
    atomic_store(&r->metrics.complete_rounds_total, r->track.rounds_applied);
    periodic(r, now);

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
            db_fail(r, r->pg ? "waiting for NOTIFY" : "looking for commits", err);
    }
    if (r->keys_released) {
        r->keys_released = false;
        wanted = true;
    }
    if (timers_due(r, sm_wall_ms()))
        wanted = true;
    int64_t room = room_of(r);
    int64_t enough = cfg->batch_size < cfg->max_inflight / 2 ? cfg->batch_size : cfg->max_inflight / 2;
    if (r->room_blocked && room > 0 && room >= enough && now >= r->queue_full_until) {
        r->room_blocked = false;
        wanted = true;
    }
    bool can = r->owned && now >= r->db_retry_at && !r->room_blocked && !r->stop;
    if (wanted && can) {
        r->want_claim = false;
        r->next_claim = now + SAFETY_CLAIM_MS;
        claim(r);
    } else if (wanted) {
        r->want_claim = true; /* remembered until claiming is possible */
    }
    /* marks last: the broker works on what was just produced meanwhile */
    lanes_poll(r);
    flush_writes(r, false);
    if (r->nrecreated && now >= r->db_retry_at)
        recreated_flush(r);
    /* a key released by an outcome is claimed again once that outcome is
     * written (the store may hold rows behind an unwritten one) */
    if (!writes_pending(r) && sm_keys_take_wake(&r->keys))
        r->keys_released = true;
    if (topics_rewind(r)) /* a limited topic has room again: look at its rows */
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
    if (writes_pending(r) || r->db_retry_at > now)
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
    while ((r->keys.inflight || r->dlt_inflight || writes_pending(r)) && sm_mono_ms() < deadline) {
        drain_pipe(r);
        lanes_poll(r);
        lanes_check(r);
        flush_writes(r, false);
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
        lanes_poll(r);
        struct pollfd p = {.fd = r->pipe[0], .events = POLLIN};
        poll(&p, 1, 10);
        drain_pipe(r);
    }
    lanes_poll(r);
    flush_writes(r, true);
    if (writes_pending(r))
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
    if (!(r->main = lane_new(r, false, err, errlen)) || !(r->retry = lane_new(r, true, err, errlen))) {
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
    lane_free(r->main);
    lane_free(r->retry);
    for (int i = 0; i < r->nretiring; i++)
        lane_free(r->retiring[i]);
    r->main = r->retry = NULL;
    r->nretiring = 0;
    if (r->store && writes_pending(r))
        flush_writes(r, true);
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
