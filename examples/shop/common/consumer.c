/* consumer.c: the consume loop every shop consumer runs (docs/shop.md,
 * "Every consumer"). One record at a time, held until it is done:
 *
 *   poll -> [deliver, outside any transaction, for the sink]
 *        -> one transaction: inbox row (new?) + the handler's effect -> commit
 *        -> commit the Kafka offset: after the database commit, never before;
 *           sent asynchronously at most every SHOP_COMMIT_MS and whenever
 *           the consumer is idle, synchronously when it stops. A commit
 *           that is lost (crash, rebalance) only redelivers records whose
 *           inbox rows are committed, and the inbox drops them.
 *
 * A database error rolls the transaction back and the same record is tried
 * again after a backoff: the loop never polls past a record it has not
 * finished, so nothing is skipped. A record the handler rejects is recorded
 * (inbox row + shop_rejected) so it never blocks the partition. Stopping
 * finishes the record in hand or leaves it uncommitted (it comes again),
 * then closes the consumer so the group rebalances at once. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shop.h"

#define SHOP_COMMIT_MS 100
#define SHOP_PENDING_MAX 256

/* the next offset to commit per partition processed since the last commit */
typedef struct pending {
    char topic[256];
    int32_t partition;
    int64_t next;
} pending;

struct shop_consumer {
    shop_consumer_cfg cfg;
    pending pend[SHOP_PENDING_MAX];
    int npend;
    int64_t last_commit_ms;
    rd_kafka_t *rk;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_llong applied, duplicates, rejected;
    unsigned seed;
};

int shop_consumer_stopping(shop_consumer *c) { return atomic_load(&c->stop); }

static void commit_pending(shop_consumer *c, int async);

int shop_consumer_sleep(shop_consumer *c, int64_t ms)
{
    commit_pending(c, 1); /* what is done before a long wait is committed now */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    while (!atomic_load(&c->stop)) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) != 0)
            break;
    }
    pthread_mutex_unlock(&c->mu);
    return atomic_load(&c->stop) ? SHOP_ESTOP : SHOP_OK;
}

void shop_consumer_counts(shop_consumer *c, int64_t *applied, int64_t *duplicates,
                          int64_t *rejected)
{
    if (applied)
        *applied = atomic_load(&c->applied);
    if (duplicates)
        *duplicates = atomic_load(&c->duplicates);
    if (rejected)
        *rejected = atomic_load(&c->rejected);
}

/* ---- one record ---- */

enum { TX_REJECT = 1 }; /* > 0: shop_db_tx rolls back and returns it */

typedef struct rec_tx {
    shop_consumer *c;
    const shop_record *rec;
    int duplicate;
    char reason[512];
} rec_tx;

static int apply_tx(shop_db *db, void *arg, char *err, size_t errlen)
{
    rec_tx *t = arg;
    int rc;
    if (t->c->cfg.async_db_commit && shop_db_kind(db) == SHOP_DB_PG &&
        (rc = shop_db_exec(db, NULL, err, errlen, "SET LOCAL synchronous_commit = off", NULL)))
        return rc;
    rc = shop_db_inbox(db, t->c->cfg.group, t->rec->event_id, err, errlen);
    if (rc < 0)
        return rc;
    t->duplicate = rc == 0;
    if (t->duplicate || !t->c->cfg.apply)
        return SHOP_OK;
    t->reason[0] = 0;
    rc = t->c->cfg.apply(db, t->rec, t->c->cfg.ctx, t->reason, sizeof t->reason);
    if (rc == SHOP_REJECT)
        return TX_REJECT;
    if (rc < 0)
        snprintf(err, errlen, "%s", t->reason);
    return rc;
}

static int reject_tx(shop_db *db, void *arg, char *err, size_t errlen)
{
    rec_tx *t = arg;
    int rc = shop_db_inbox(db, t->c->cfg.group, t->rec->event_id, err, errlen);
    if (rc < 0)
        return rc;
    t->duplicate = rc == 0;
    if (t->duplicate)
        return SHOP_OK;
    return shop_db_exec(db, NULL, err, errlen,
                        "INSERT INTO shop_rejected (consumer, event_id, topic, kafka_partition, "
                        "kafka_offset, reason, rejected_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        "sssiisi", t->c->cfg.group, t->rec->event_id, t->rec->topic,
                        (int64_t)t->rec->partition, t->rec->offset,
                        t->reason[0] ? t->reason : "rejected", shop_now_ms());
}

static int seen_before(shop_consumer *c, const shop_record *rec, char *err, size_t errlen)
{
    shop_res *r;
    int rc = shop_db_exec(c->cfg.db, &r, err, errlen,
                          "SELECT 1 FROM samsa_inbox WHERE consumer = ? AND event_id = ?", "ss",
                          c->cfg.group, rec->event_id);
    if (rc)
        return rc;
    rc = shop_res_rows(r) > 0;
    shop_res_free(r);
    return rc;
}

/* Waits after a failed try: 100 ms doubling to 5 s, with jitter. */
static int backoff(shop_consumer *c, int attempt)
{
    int64_t ms = 100;
    for (int i = 1; i < attempt && ms < 5000; i++)
        ms *= 2;
    if (ms > 5000)
        ms = 5000;
    ms = ms / 2 + (int64_t)(rand_r(&c->seed) % (unsigned)(ms / 2 + 1));
    return shop_consumer_sleep(c, ms);
}

static void log_retry(const shop_record *rec, int attempt, const char *what, const char *err)
{
    /* the first failure, then every 10th: enough to see, not a flood */
    if (attempt == 1 || attempt % 10 == 0)
        shop_log("%s %s [%d] offset %lld (event %s), attempt %d: %s; retrying", what, rec->topic,
                 rec->partition, (long long)rec->offset, rec->event_id, attempt, err);
}

/* Returns SHOP_OK when the record is done (commit its offset), SHOP_ESTOP. */
static int process(shop_consumer *c, const shop_record *rec)
{
    char err[512];
    rec_tx t = {.c = c, .rec = rec};
    int attempt = 0;
    if (c->cfg.deliver) {
        for (;;) {
            int rc = seen_before(c, rec, err, sizeof err);
            if (rc == 1) {
                atomic_fetch_add(&c->duplicates, 1);
                return SHOP_OK;
            }
            if (rc == 0)
                break;
            log_retry(rec, ++attempt, "inbox check", err);
            if (backoff(c, attempt))
                return SHOP_ESTOP;
        }
        int rc = c->cfg.deliver(c, rec, c->cfg.ctx);
        if (rc == SHOP_ESTOP)
            return SHOP_ESTOP;
        if (rc == SHOP_REJECT)
            snprintf(t.reason, sizeof t.reason, "rejected by the delivery");
        else
            rc = SHOP_OK;
        if (rc == SHOP_REJECT)
            goto reject;
    }
    attempt = 0;
    for (;;) {
        int rc = shop_db_tx(c->cfg.db, apply_tx, &t, err, sizeof err);
        if (rc == SHOP_OK) {
            if (t.duplicate) {
                atomic_fetch_add(&c->duplicates, 1);
            } else {
                atomic_fetch_add(&c->applied, 1);
                if (c->cfg.lat && rec->created_at_ms > 0)
                    shop_lat_add(c->cfg.lat, shop_now_ms() - rec->created_at_ms);
            }
            return SHOP_OK;
        }
        if (rc == TX_REJECT)
            break;
        log_retry(rec, ++attempt, "apply", err);
        if (backoff(c, attempt))
            return SHOP_ESTOP;
    }
reject:
    attempt = 0;
    for (;;) {
        int rc = shop_db_tx(c->cfg.db, reject_tx, &t, err, sizeof err);
        if (rc == SHOP_OK) {
            if (t.duplicate) {
                atomic_fetch_add(&c->duplicates, 1);
            } else {
                atomic_fetch_add(&c->rejected, 1);
                shop_log("rejected %s [%d] offset %lld (event %s): %s", rec->topic,
                         rec->partition, (long long)rec->offset, rec->event_id, t.reason);
            }
            return SHOP_OK;
        }
        log_retry(rec, ++attempt, "record rejection of", err);
        if (backoff(c, attempt))
            return SHOP_ESTOP;
    }
}

/* ---- the loop ---- */

static void commit_pending(shop_consumer *c, int async)
{
    if (!c->npend)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(c->npend);
    for (int i = 0; i < c->npend; i++)
        rd_kafka_topic_partition_list_add(l, c->pend[i].topic, c->pend[i].partition)->offset =
            c->pend[i].next;
    rd_kafka_resp_err_t e = rd_kafka_commit(c->rk, l, async);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        shop_log("offset commit of %d partition(s): %s (records after the last commit may "
                 "come again; the inbox drops them)",
                 c->npend, rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
    c->npend = 0;
    c->last_commit_ms = shop_mono_ms();
}

static void pending_set(shop_consumer *c, const char *topic, int32_t partition, int64_t next)
{
    int i;
    for (i = 0; i < c->npend; i++)
        if (c->pend[i].partition == partition && !strcmp(c->pend[i].topic, topic))
            break;
    if (i == c->npend) {
        if (c->npend == SHOP_PENDING_MAX) {
            commit_pending(c, 1);
            i = 0;
        }
        snprintf(c->pend[i].topic, sizeof c->pend[i].topic, "%s", topic);
        c->pend[i].partition = partition;
        c->npend = i + 1;
    }
    c->pend[i].next = next;
    if (shop_mono_ms() - c->last_commit_ms >= SHOP_COMMIT_MS)
        commit_pending(c, 1);
}

static char *header_dup(rd_kafka_headers_t *hdrs, const char *name)
{
    const void *v;
    size_t len;
    if (!hdrs || rd_kafka_header_get_last(hdrs, name, &v, &len) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        !v)
        return NULL;
    char *s = malloc(len + 1);
    if (s) {
        memcpy(s, v, len);
        s[len] = 0;
    }
    return s;
}

static void handle_message(shop_consumer *c, rd_kafka_message_t *m)
{
    shop_record rec = {0};
    rec.topic = rd_kafka_topic_name(m->rkt);
    rec.partition = m->partition;
    rec.offset = m->offset;
    char *key = NULL, *value = NULL, *eid = NULL, *type = NULL, *created = NULL;
    char synth[512];
    if (m->key) {
        key = malloc(m->key_len + 1);
        if (key) {
            memcpy(key, m->key, m->key_len);
            key[m->key_len] = 0;
        }
    }
    value = malloc(m->len + 1);
    if (value) {
        if (m->len)
            memcpy(value, m->payload, m->len);
        value[m->len] = 0;
    }
    rd_kafka_headers_t *hdrs = NULL;
    rd_kafka_message_headers(m, &hdrs);
    eid = header_dup(hdrs, SAMSA_HEADER_EVENT_ID);
    type = header_dup(hdrs, SAMSA_HEADER_TYPE);
    created = header_dup(hdrs, SAMSA_HEADER_CREATED_AT);
    if (!value) {
        shop_log("out of memory for a record of %s", rec.topic);
        goto out; /* not committed: comes again after a restart */
    }
    rec.key = key;
    rec.value = value;
    rec.value_len = m->len;
    rec.type = type;
    rec.created_at_ms = created ? strtoll(created, NULL, 10) : 0;
    if (eid && *eid && strlen(eid) <= 200) {
        rec.event_id = eid;
    } else {
        /* no usable event id: the record's position is its identity */
        snprintf(synth, sizeof synth, "nohdr:%s:%d:%lld", rec.topic, rec.partition,
                 (long long)rec.offset);
        rec.event_id = synth;
    }
    json_t *j = json_loadb(value, m->len, 0, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    rec.json = j;
    int rc = process(c, &rec);
    json_decref(j);
    if (rc == SHOP_OK)
        pending_set(c, rec.topic, rec.partition, rec.offset + 1);
out:
    free(key);
    free(value);
    free(eid);
    free(type);
    free(created);
}

static void *run(void *arg)
{
    shop_consumer *c = arg;
    rd_kafka_resp_err_t last_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    while (!atomic_load(&c->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, c->npend ? 20 : 200);
        if (!m) {
            commit_pending(c, 1); /* idle: nothing waits behind the commit */
            continue;
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && m->err != last_err)
                shop_log("consumer: %s", rd_kafka_message_errstr(m));
            last_err = m->err;
            rd_kafka_message_destroy(m);
            continue;
        }
        last_err = RD_KAFKA_RESP_ERR_NO_ERROR;
        handle_message(c, m);
        rd_kafka_message_destroy(m);
    }
    commit_pending(c, 0); /* stopping: what is done is committed before the close */
    return NULL;
}

int shop_consumer_start(shop_consumer **out, const shop_consumer_cfg *cfg, char *err,
                        size_t errlen)
{
    *out = NULL;
    shop_consumer *c = calloc(1, sizeof *c);
    if (!c)
        return SHOP_ENOMEM;
    c->cfg = *cfg;
    c->seed = (unsigned)shop_mono_ms();
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    rd_kafka_conf_t *conf = shop_kafka_conf(cfg->opts, err, errlen);
    if (!conf)
        goto fail;
    char e[512];
    const char *props[][2] = {
        {"group.id", cfg->group},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        /* the sink may hold one record for long while its endpoint is down */
        {"max.poll.interval.ms", "3600000"},
        /* a killed service's partitions wait for its session to time out:
         * 10 s instead of librdkafka's 45 s, so a restart resumes soon */
        {"session.timeout.ms", "10000"},
        {"heartbeat.interval.ms", "1000"},
    };
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++) {
        /* -X given by the operator wins over our defaults except the group */
        int set_by_user = 0;
        for (int k = 0; k < cfg->opts->nx; k++)
            if (!strcmp(cfg->opts->x_key[k], props[i][0]) && strcmp(props[i][0], "group.id"))
                set_by_user = 1;
        if (set_by_user)
            continue;
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], e, sizeof e) != RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "%s: %s", props[i][0], e);
            rd_kafka_conf_destroy(conf);
            goto fail;
        }
    }
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!c->rk) {
        snprintf(err, errlen, "consumer: %s", e);
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_poll_set_consumer(c->rk);
    int n = 0;
    while (cfg->topics[n])
        n++;
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(tl, cfg->topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t se = rd_kafka_subscribe(c->rk, tl);
    rd_kafka_topic_partition_list_destroy(tl);
    if (se) {
        snprintf(err, errlen, "subscribe: %s", rd_kafka_err2str(se));
        goto fail;
    }
    if (pthread_create(&c->thread, NULL, run, c) != 0) {
        snprintf(err, errlen, "cannot start the consumer thread");
        goto fail;
    }
    *out = c;
    return SHOP_OK;
fail:
    if (c->rk)
        rd_kafka_destroy(c->rk);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
    return SHOP_ERR;
}

void shop_consumer_stop(shop_consumer *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->stop, 1);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    rd_kafka_resp_err_t e = rd_kafka_consumer_close(c->rk);
    if (e)
        shop_log("consumer close: %s", rd_kafka_err2str(e));
    rd_kafka_destroy(c->rk);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}
