/* track.c: committed offsets of the tracked groups (see track.h). */
#include "relay/track.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"

/* How long one group's commits may take to read before the round fails,
 * and the slices rd_kafka_committed() is called with meanwhile, so that a
 * stop is noticed within one slice. */
#define ROUND_TIMEOUT_MS 10000
#define SLICE_MS 1000

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 2)
        sm_error("librdkafka (completion tracking): %s: %s", fac, buf);
    else
        sm_debug("librdkafka (completion tracking): %s: %s", fac, buf);
}

static bool group_tracks(const sm_track_group *g, const char *topic)
{
    if (g->all)
        return true;
    for (int i = 0; i < g->ntopics; i++)
        if (!strcmp(g->topics[i], topic))
            return true;
    return false;
}

bool sm_track_topic_tracked(const sm_track *t, const char *topic)
{
    for (int i = 0; i < t->ngroups; i++)
        if (group_tracks(&t->groups[i], topic))
            return true;
    return false;
}

/* The config's entries (group, topic or NULL) folded into one entry per
 * group id. */
static int groups_build(sm_track *t, const sm_relay_config *cfg, char *err, size_t errlen)
{
    int n = cfg->n_track_groups;
    t->groups = calloc((size_t)n, sizeof *t->groups);
    if (!t->groups)
        return sm_fail(err, errlen, SM_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        sm_track_group *g = NULL;
        for (int j = 0; j < t->ngroups && !g; j++)
            if (!strcmp(t->groups[j].id, cfg->track_groups[i]))
                g = &t->groups[j];
        if (!g) {
            g = &t->groups[t->ngroups++];
            g->id = cfg->track_groups[i];
        }
        const char *topic = cfg->track_topics ? cfg->track_topics[i] : NULL;
        if (!topic) {
            g->all = true;
            continue;
        }
        const char **v = realloc(g->topics, (size_t)(g->ntopics + 1) * sizeof *v);
        if (!v)
            return sm_fail(err, errlen, SM_ENOMEM, "out of memory");
        g->topics = v;
        v[g->ntopics++] = topic;
    }
    return SM_OK;
}

/* A consumer for group g: the relay's properties, then what makes it a
 * reader of commits only. */
static rd_kafka_t *group_consumer(const sm_relay_config *cfg, const char *group, char *err,
                                  size_t errlen)
{
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
    char cid[256];
    snprintf(cid, sizeof cid, "samsa-relay-%s-track", cfg->relay_id);
    const char *set[][2] = {
        {"bootstrap.servers", cfg->bootstrap_servers},
        {"client.id", cid},
        {"group.id", group},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
    };
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
        if (rd_kafka_conf_set(conf, set[i][0], set[i][1], why, sizeof why) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            sm_fail(err, errlen, SM_EINVAL, "completion tracking client: %s: %s", set[i][0], why);
            return NULL;
        }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        sm_fail(err, errlen, SM_EINVAL, "completion tracking client for group %s: %s", group, why);
    }
    return rk;
}

/* Reads g's committed offsets into g->ask, in slices until ROUND_TIMEOUT_MS
 * has passed or the worker is asked to stop. */
static rd_kafka_resp_err_t read_group(sm_track *t, sm_track_group *g)
{
    int64_t until = sm_mono_ms() + ROUND_TIMEOUT_MS;
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_committed(g->rk, g->ask, SLICE_MS);
        if (e != RD_KAFKA_RESP_ERR__TIMED_OUT || atomic_load(&t->stop) || sm_mono_ms() >= until)
            return e;
    }
}

static void *worker(void *arg)
{
    sm_track *t = arg;
    pthread_mutex_lock(&t->lock);
    for (;;) {
        while (!t->pending && !atomic_load(&t->stop))
            pthread_cond_wait(&t->cond, &t->lock);
        if (atomic_load(&t->stop))
            break;
        t->pending = false;
        pthread_mutex_unlock(&t->lock);
        /* the relay's thread leaves the groups' ask lists alone until done */
        for (int i = 0; i < t->ngroups; i++) {
            sm_track_group *g = &t->groups[i];
            if (g->ask)
                g->err = atomic_load(&t->stop) ? RD_KAFKA_RESP_ERR__DESTROY : read_group(t, g);
        }
        pthread_mutex_lock(&t->lock);
        t->done = true;
        static const char one = 1;
        ssize_t w = write(t->wake_fd, &one, 1);
        (void)w; /* a full pipe wakes the loop as well */
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int sm_track_init(sm_track *t, const sm_relay_config *cfg, int wake_fd, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    atomic_init(&t->stop, false);
    if (cfg->n_track_groups == 0)
        return SM_OK;
    int rc = groups_build(t, cfg, err, errlen);
    if (rc != SM_OK)
        return rc;
    for (int i = 0; i < t->ngroups; i++)
        if (!(t->groups[i].rk = group_consumer(cfg, t->groups[i].id, err, errlen)))
            return SM_EINVAL;
    t->wake_fd = wake_fd;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    int e = pthread_create(&t->thread, NULL, worker, t);
    if (e) {
        pthread_cond_destroy(&t->cond);
        pthread_mutex_destroy(&t->lock);
        return sm_fail(err, errlen, SM_EIO, "completion tracking: cannot start a thread: %s",
                       strerror(e));
    }
    t->thread_started = true;
    t->on = true;
    return SM_OK;
}

static void round_end(sm_track *t)
{
    if (t->want)
        rd_kafka_topic_partition_list_destroy(t->want);
    t->want = NULL;
    for (int i = 0; i < t->ngroups; i++) {
        if (t->groups[i].ask)
            rd_kafka_topic_partition_list_destroy(t->groups[i].ask);
        t->groups[i].ask = NULL;
        t->groups[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    t->busy = false;
    t->failed = false;
}

void sm_track_release(sm_track *t)
{
    if (t->thread_started) {
        pthread_mutex_lock(&t->lock);
        atomic_store(&t->stop, true);
        pthread_cond_signal(&t->cond);
        pthread_mutex_unlock(&t->lock);
        pthread_join(t->thread, NULL);
        pthread_cond_destroy(&t->cond);
        pthread_mutex_destroy(&t->lock);
    }
    round_end(t);
    for (int i = 0; i < t->ngroups; i++) {
        /* it never joined the group: there is nothing to leave */
        if (t->groups[i].rk)
            rd_kafka_destroy_flags(t->groups[i].rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
        free(t->groups[i].topics);
    }
    free(t->groups);
    memset(t, 0, sizeof *t);
}

void sm_track_start(sm_track *t, const sm_tp *tps, int n, int64_t now_ms)
{
    if (!t->on || t->busy || n <= 0)
        return;
    t->want = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(t->want, tps[i].topic, tps[i].partition)->offset =
            INT64_MAX;
    int asked = 0;
    for (int g = 0; g < t->ngroups; g++) {
        /* only the pairs of the topics it tracks */
        rd_kafka_topic_partition_list_t *mine = rd_kafka_topic_partition_list_new(n);
        for (int i = 0; i < n; i++)
            if (group_tracks(&t->groups[g], tps[i].topic))
                rd_kafka_topic_partition_list_add(mine, tps[i].topic, tps[i].partition);
        if (mine->cnt > 0) {
            t->groups[g].ask = mine;
            asked++;
        } else {
            rd_kafka_topic_partition_list_destroy(mine);
        }
    }
    (void)now_ms;
    t->busy = true;
    t->failed = false;
    pthread_mutex_lock(&t->lock);
    t->done = false;
    t->pending = asked > 0;
    if (!asked)
        t->done = true; /* no group tracks these topics: complete at once */
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

/* Folds group g's answer into the round: the minimum per pair; a pair the
 * group has no committed offset for can not complete. */
static void fold(sm_track *t, const sm_track_group *g)
{
    if (g->err) {
        sm_log_limited(SM_LOG_WARN,
                       "completion tracking: group %s: committed offsets not read: %s; the "
                       "next round asks again",
                       g->id, rd_kafka_err2str(g->err));
        t->failed = true;
        return;
    }
    for (int i = 0; i < t->want->cnt; i++) {
        rd_kafka_topic_partition_t *w = &t->want->elems[i];
        if (!group_tracks(g, w->topic))
            continue;
        const rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(g->ask, w->topic, w->partition);
        int64_t off = (p && !p->err && p->offset >= 0) ? p->offset : -1;
        if (off < 0)
            w->offset = -1; /* this group has not consumed it */
        else if (w->offset != -1 && off < w->offset)
            w->offset = off;
    }
}

void sm_track_poll(sm_track *t, int64_t now_ms, sm_track_apply_fn apply, void *arg)
{
    (void)now_ms;
    if (!t->on || !t->busy)
        return;
    pthread_mutex_lock(&t->lock);
    bool done = t->done;
    pthread_mutex_unlock(&t->lock);
    if (!done)
        return;
    for (int i = 0; i < t->ngroups; i++)
        if (t->groups[i].ask)
            fold(t, &t->groups[i]);
    /* INT64_MAX: no group tracks the pair's topic, every row of it is
     * complete; -1: some tracking group has not consumed it */
    if (!t->failed) {
        for (int i = 0; i < t->want->cnt; i++) {
            const rd_kafka_topic_partition_t *w = &t->want->elems[i];
            if (w->offset > 0)
                apply(w->topic, w->partition, w->offset, arg);
        }
        t->rounds_applied++;
    }
    round_end(t);
}
