/* check.c: the record checker (see check.h).
 *
 * A job: Metadata for each topic (GONE without a fetch when the topic or
 * the partition does not exist), then passes of assign() with explicit
 * offsets, one offset per partition per pass, each read until every
 * partition has answered with its first message, its end, or an error, or
 * until the job's deadline. A partition that answered is paused, so the
 * consumer fetches one batch per question (max.partition.fetch.bytes=1:
 * the broker still returns the first batch whole). Out of range is told
 * apart with the watermarks: at or past the high watermark the log ends
 * before the row (BEYOND), below the log start offset the record was
 * removed by retention (UNKNOWN). */
#include "relay/check.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"

#define JOB_MS 25000      /* a whole job, at most */
#define METADATA_MS 3000  /* one topic's Metadata request */
#define WATERMARK_MS 3000 /* one partition's watermarks */

struct sm_check {
    rd_kafka_t *rk;
    int wake_fd;
    pthread_t th;
    bool th_running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    /* the job: submitted (running until done), then taken */
    sm_check_item *items;
    int n;
    uint64_t tag;
    bool running, done;
};

const char *sm_check_verdict_name(sm_check_verdict v)
{
    switch (v) {
    case SM_CHECK_MATCH:
        return "match";
    case SM_CHECK_OTHER:
        return "other record";
    case SM_CHECK_BEYOND:
        return "beyond the log end";
    case SM_CHECK_GONE:
        return "gone";
    case SM_CHECK_UNKNOWN:
        return "unknown";
    }
    return "?";
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    /* a partition of a deleted topic is an answer here, not an error */
    sm_debug("librdkafka (record check): %s: %s (level %d)", fac, buf, level);
}

void sm_check_items_free(sm_check_item *items, int n)
{
    if (!items)
        return;
    for (int i = 0; i < n; i++) {
        free(items[i].topic);
        free(items[i].event_id);
    }
    free(items);
}

static void verdict(sm_check_item *it, sm_check_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void verdict(sm_check_item *it, sm_check_verdict v, const char *fmt, ...)
{
    it->verdict = v;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->why, sizeof it->why, fmt, ap);
    va_end(ap);
}

static bool decided(const sm_check_item *it)
{
    return it->why[0] != 0;
}

/* Metadata of it's topic, decides the items of that topic it can (GONE, or
 * UNKNOWN when the broker does not answer). */
static void check_metadata(sm_check *c, sm_check_item *items, int n, int first, int64_t deadline)
{
    const char *topic = items[first].topic;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(c->rk, topic, NULL);
    const rd_kafka_metadata_t *md = NULL;
    int64_t left = deadline - sm_mono_ms();
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
    if (rkt && left > 0)
        err = rd_kafka_metadata(c->rk, 0, rkt, &md, (int)(left < METADATA_MS ? left : METADATA_MS));
    const rd_kafka_metadata_topic_t *t =
        !err && md && md->topic_cnt == 1 && !strcmp(md->topics[0].topic, topic) ? &md->topics[0]
                                                                                   : NULL;
    for (int i = first; i < n; i++) {
        sm_check_item *it = &items[i];
        if (decided(it) || strcmp(it->topic, topic))
            continue;
        if (!t)
            verdict(it, SM_CHECK_UNKNOWN, "no metadata for topic %s: %s", topic,
                    err ? rd_kafka_err2str(err) : "not in the answer");
        else if (t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            verdict(it, SM_CHECK_GONE, "topic %s does not exist (deleted)", topic);
        else if (t->err)
            verdict(it, SM_CHECK_UNKNOWN, "metadata for topic %s: %s", topic,
                    rd_kafka_err2str(t->err));
        else if (it->partition >= t->partition_cnt)
            verdict(it, SM_CHECK_GONE, "topic %s has %d partitions: partition %d does not exist",
                    topic, t->partition_cnt, (int)it->partition);
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
}

static bool header_is(const rd_kafka_message_t *m, const char *name, const char *want,
                      size_t wlen)
{
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t vlen = 0;
    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get(h, 0, name, &v, &vlen) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    return v && vlen == wlen && !memcmp(v, want, wlen);
}

/* The first message of a partition, for the item asking about it. */
static void judge_message(sm_check_item *it, const rd_kafka_message_t *m)
{
    if (m->offset > it->offset) {
        verdict(it, SM_CHECK_UNKNOWN,
                "%s [%d]: no record at offset %" PRId64 " (the next is at %" PRId64
                "; removed by compaction?)",
                it->topic, (int)it->partition, it->offset, (int64_t)m->offset);
        return;
    }
    char ts[32];
    int tn = snprintf(ts, sizeof ts, "%" PRId64, it->created_at_ms);
    if (header_is(m, "samsa.event_id", it->event_id, strlen(it->event_id)) &&
        header_is(m, "samsa.created_at", ts, (size_t)tn))
        verdict(it, SM_CHECK_MATCH, "%s [%d] @ %" PRId64 " is event %s", it->topic,
                (int)it->partition, it->offset, it->event_id);
    else
        verdict(it, SM_CHECK_OTHER,
                "%s [%d] @ %" PRId64 " holds another record than event %s published there",
                it->topic, (int)it->partition, it->offset, it->event_id);
}

/* Out of range: past the end, or before the start? */
static void judge_range(sm_check *c, sm_check_item *it)
{
    int64_t lo = -1, hi = -1;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(c->rk, it->topic, it->partition, &lo, &hi, WATERMARK_MS);
    if (err)
        verdict(it, SM_CHECK_UNKNOWN, "%s [%d]: offset %" PRId64 " out of range; watermarks: %s",
                it->topic, (int)it->partition, it->offset, rd_kafka_err2str(err));
    else if (it->offset >= hi)
        verdict(it, SM_CHECK_BEYOND,
                "the log of %s [%d] ends at offset %" PRId64 ", before the row at %" PRId64,
                it->topic, (int)it->partition, hi, it->offset);
    else if (it->offset < lo)
        verdict(it, SM_CHECK_UNKNOWN,
                "%s [%d]: offset %" PRId64 " is below the log start %" PRId64
                " (removed by retention)",
                it->topic, (int)it->partition, it->offset, lo);
    else
        verdict(it, SM_CHECK_UNKNOWN, "%s [%d]: offset %" PRId64 " out of range in [%" PRId64
                                      ", %" PRId64 ")",
                it->topic, (int)it->partition, it->offset, lo, hi);
}

static sm_check_item *pass_find(sm_check_item **pass, int np, const char *topic, int32_t p)
{
    for (int i = 0; i < np; i++)
        if (pass[i]->partition == p && !strcmp(pass[i]->topic, topic))
            return pass[i];
    return NULL;
}

static void pause_one(rd_kafka_t *rk, const char *topic, int32_t p)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, p);
    rd_kafka_pause_partitions(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

/* One pass: the items of pass (one per partition) read at once. */
static void check_pass(sm_check *c, sm_check_item **pass, int np, int64_t deadline)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
    for (int i = 0; i < np; i++)
        rd_kafka_topic_partition_list_add(l, pass[i]->topic, pass[i]->partition)->offset =
            pass[i]->offset;
    rd_kafka_resp_err_t aerr = rd_kafka_assign(c->rk, l);
    /* a partition paused in an earlier pass stays paused when assigned again */
    if (!aerr)
        rd_kafka_resume_partitions(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (aerr) {
        for (int i = 0; i < np; i++)
            verdict(pass[i], SM_CHECK_UNKNOWN, "assign: %s", rd_kafka_err2str(aerr));
        return;
    }
    int left = np;
    char last[200] = "";
    while (left > 0 && sm_mono_ms() < deadline) {
        pthread_mutex_lock(&c->mu);
        bool stop = c->stop;
        pthread_mutex_unlock(&c->mu);
        if (stop)
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 100);
        if (!m)
            continue;
        sm_check_item *it =
            m->rkt ? pass_find(pass, np, rd_kafka_topic_name(m->rkt), m->partition) : NULL;
        if (!it || decided(it)) {
            if (m->err)
                snprintf(last, sizeof last, "%s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        if (!m->err && m->offset < it->offset) {
            rd_kafka_message_destroy(m); /* from an earlier assignment */
            continue;
        }
        if (!m->err) {
            judge_message(it, m);
        } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            verdict(it, SM_CHECK_BEYOND,
                    "the log of %s [%d] ends at offset %" PRId64 ", before the row at %" PRId64,
                    it->topic, (int)it->partition, (int64_t)m->offset, it->offset);
        } else if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
                   m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
            judge_range(c, it);
        } else {
            /* transient (leader moves, transport): librdkafka retries */
            snprintf(last, sizeof last, "%s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        if (decided(it)) {
            pause_one(c->rk, it->topic, it->partition);
            left--;
        }
        rd_kafka_message_destroy(m);
    }
    for (int i = 0; i < np; i++)
        if (!decided(pass[i]))
            verdict(pass[i], SM_CHECK_UNKNOWN, "%s [%d] @ %" PRId64 ": no answer in time%s%s",
                    pass[i]->topic, (int)pass[i]->partition, pass[i]->offset, last[0] ? ": " : "",
                    last);
    rd_kafka_assign(c->rk, NULL);
}

static void run_job(sm_check *c, sm_check_item *items, int n)
{
    int64_t deadline = sm_mono_ms() + JOB_MS;
    for (int i = 0; i < n; i++)
        items[i].why[0] = 0;
    for (int i = 0; i < n; i++) {
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = !strcmp(items[j].topic, items[i].topic);
        if (!seen)
            check_metadata(c, items, n, i, deadline);
    }

    sm_check_item **pass = malloc((size_t)(n ? n : 1) * sizeof *pass);
    bool *taken = calloc((size_t)(n ? n : 1), sizeof *taken);
    if (!pass || !taken) {
        for (int i = 0; i < n; i++)
            if (!decided(&items[i]))
                verdict(&items[i], SM_CHECK_UNKNOWN, "out of memory");
        free(pass);
        free(taken);
        return;
    }
    for (;;) {
        /* the next undecided item of each partition */
        int np = 0;
        for (int i = 0; i < n; i++) {
            if (decided(&items[i]) || taken[i] ||
                pass_find(pass, np, items[i].topic, items[i].partition))
                continue;
            taken[i] = true;
            pass[np++] = &items[i];
        }
        if (!np)
            break;
        check_pass(c, pass, np, deadline);
    }
    free(pass);
    free(taken);
}

static void *run(void *arg)
{
    sm_check *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        if (!c->running || c->done) {
            pthread_cond_wait(&c->cv, &c->mu);
            continue;
        }
        sm_check_item *items = c->items;
        int n = c->n;
        pthread_mutex_unlock(&c->mu);
        int64_t t0 = sm_mono_ms();
        run_job(c, items, n);
        for (int i = 0; i < n; i++)
            sm_debug("record check: %s: %s (job of %d in %" PRId64 " ms)",
                     sm_check_verdict_name(items[i].verdict), items[i].why, n, sm_mono_ms() - t0);
        pthread_mutex_lock(&c->mu);
        c->done = true;
        static const char one = 1;
        if (write(c->wake_fd, &one, 1) < 0) {
            /* the pipe is full: the loop wakes anyway */
        }
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int sm_check_init(sm_check **out, const sm_relay_config *cfg, int wake_fd, char *err,
                  size_t errlen)
{
    *out = NULL;
    sm_check *c = calloc(1, sizeof *c);
    if (!c)
        return sm_fail(err, errlen, SM_ENOMEM, "out of memory");
    c->wake_fd = wake_fd;
    rd_kafka_conf_t *conf = sm_relay_kafka_conf(cfg, err, errlen);
    if (!conf) {
        free(c);
        return SM_EINVAL;
    }
    char why[512];
    char cid[256];
    snprintf(cid, sizeof cid, "samsa-relay-%s-check", cfg->relay_id);
    const char *forced[][2] = {
        {"bootstrap.servers", cfg->bootstrap_servers},
        {"client.id", cid},
        {"group.id", cid}, /* assign() needs one; never joined, nothing committed */
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", "error"},
        /* to the high watermark: a transaction another producer left open
         * must not look like the end of the log */
        {"isolation.level", "read_uncommitted"},
        {"allow.auto.create.topics", "false"},
        {"max.partition.fetch.bytes", "1"},
        {"queued.min.messages", "1"},
        {"fetch.wait.max.ms", "100"},
    };
    for (size_t i = 0; i < sizeof forced / sizeof forced[0]; i++)
        if (rd_kafka_conf_set(conf, forced[i][0], forced[i][1], why, sizeof why) !=
            RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            free(c);
            return sm_fail(err, errlen, SM_EINVAL, "record checker: %s: %s", forced[i][0], why);
        }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (!(c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why))) {
        rd_kafka_conf_destroy(conf);
        free(c);
        return sm_fail(err, errlen, SM_EINVAL, "record checker: %s", why);
    }
    rd_kafka_poll_set_consumer(c->rk);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (pthread_create(&c->th, NULL, run, c) != 0) {
        sm_check_free(c);
        return sm_fail(err, errlen, SM_ERR, "record checker: cannot start a thread");
    }
    c->th_running = true;
    *out = c;
    return SM_OK;
}

void sm_check_free(sm_check *c)
{
    if (!c)
        return;
    if (c->th_running) {
        pthread_mutex_lock(&c->mu);
        c->stop = true;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->th, NULL);
    }
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    sm_check_items_free(c->items, c->n);
    /* nothing to leave or commit: no consumer close, which could wait for
     * an unreachable coordinator */
    if (c->rk)
        rd_kafka_destroy_flags(c->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    free(c);
}

bool sm_check_submit(sm_check *c, uint64_t tag, sm_check_item *items, int n)
{
    pthread_mutex_lock(&c->mu);
    bool ok = !c->running;
    if (ok) {
        c->items = items;
        c->n = n;
        c->tag = tag;
        c->running = true;
        c->done = false;
        pthread_cond_signal(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    return ok;
}

sm_check_item *sm_check_take(sm_check *c, uint64_t *tag, int *n)
{
    sm_check_item *items = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->running && c->done) {
        items = c->items;
        *n = c->n;
        *tag = c->tag;
        c->items = NULL;
        c->n = 0;
        c->running = false;
        c->done = false;
    }
    pthread_mutex_unlock(&c->mu);
    return items;
}
