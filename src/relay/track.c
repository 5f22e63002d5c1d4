/* track.c: committed offsets of the tracked groups, and the record check
 * that ties them to one incarnation of a topic (see track.h).
 *
 * A round: list the pairs (relay.c), hand them to the worker, which asks
 * every group (a consumer handle per group, rd_kafka_committed()), then
 * check the records of the pairs that need it (check.c, a thread), then
 * report. t->verified remembers, per pair, the incarnation and end offsets
 * whose records last passed: a pair whose ends changed since (rows marked
 * or completed) is checked again even when no bound would complete
 * anything, so a topic created again is seen within a round of its new
 * records landing among the old rows. */
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
#define GROUP_TIMEOUT_MS 10000
#define SLICE_MS 1000
/* How long the record checks of one round may take */
#define CHECK_TIMEOUT_MS 60000

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
    rd_kafka_conf_t *conf = sm_relay_kafka_conf(cfg, err, errlen);
    if (!conf)
        return NULL;
    char why[512];
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

/* Reads g's committed offsets into g->ask, in slices until GROUP_TIMEOUT_MS
 * has passed or the worker is asked to stop. */
static rd_kafka_resp_err_t read_group(sm_track *t, sm_track_group *g)
{
    int64_t until = sm_mono_ms() + GROUP_TIMEOUT_MS;
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
    sm_map_init(&t->verified);
    if (cfg->n_track_groups == 0)
        return SM_OK;
    int rc = groups_build(t, cfg, err, errlen);
    if (rc != SM_OK)
        return rc;
    for (int i = 0; i < t->ngroups; i++)
        if (!(t->groups[i].rk = group_consumer(cfg, t->groups[i].id, err, errlen)))
            return SM_EINVAL;
    if ((rc = sm_check_init(&t->check, cfg, wake_fd, err, errlen)) != SM_OK)
        return rc;
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

static void pairs_free(sm_track_pair *v, int n)
{
    if (!v)
        return;
    for (int i = 0; i < n; i++) {
        free(v[i].topic);
        free(v[i].low.event_id);
        free(v[i].high.event_id);
    }
    free(v);
}

/* Ends the round in progress; never while the worker reads its groups
 * (their ask lists are the worker's until it says done). */
static void round_end(sm_track *t)
{
    pairs_free(t->pairs, t->npairs);
    t->pairs = NULL;
    t->npairs = 0;
    sm_check_items_free(t->items, t->nitems);
    t->items = NULL;
    t->nitems = 0;
    for (int i = 0; i < t->ngroups; i++) {
        if (t->groups[i].ask)
            rd_kafka_topic_partition_list_destroy(t->groups[i].ask);
        t->groups[i].ask = NULL;
        t->groups[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    t->busy = false;
    t->answered = false;
    t->checking = false;
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
    sm_check_free(t->check);
    for (int i = 0; i < t->ngroups; i++) {
        /* it never joined the group: there is nothing to leave */
        if (t->groups[i].rk)
            rd_kafka_destroy_flags(t->groups[i].rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
        free(t->groups[i].topics);
    }
    free(t->groups);
    const char *k;
    void *v;
    for (size_t it = 0; sm_map_next(&t->verified, &it, &k, &v);)
        free(v);
    sm_map_release(&t->verified);
    memset(t, 0, sizeof *t);
}

static bool row_copy(sm_tp_row *to, const sm_tp_row *from)
{
    *to = *from;
    to->event_id = NULL;
    return !from->event_id || (to->event_id = strdup(from->event_id));
}

void sm_track_start(sm_track *t, const sm_tp *tps, int n, int64_t now_ms)
{
    if (!t->on || t->busy || n <= 0)
        return;
    if (!(t->pairs = calloc((size_t)n, sizeof *t->pairs)))
        return;
    t->npairs = n;
    for (int i = 0; i < n; i++) {
        sm_track_pair *p = &t->pairs[i];
        p->topic = strdup(tps[i].topic);
        p->partition = tps[i].partition;
        p->inc = tps[i].incarnation;
        p->tracked = sm_track_topic_tracked(t, tps[i].topic);
        p->bound = INT64_MAX;
        p->ilow = p->ihigh = -1;
        if (!p->topic || !row_copy(&p->low, &tps[i].low) || !row_copy(&p->high, &tps[i].high)) {
            round_end(t);
            return;
        }
    }
    int asked = 0;
    for (int g = 0; g < t->ngroups; g++) {
        /* only the pairs of the topics it tracks that have rows of the
         * current incarnation */
        rd_kafka_topic_partition_list_t *mine = rd_kafka_topic_partition_list_new(n);
        for (int i = 0; i < n; i++)
            if (t->pairs[i].low.offset >= 0 && group_tracks(&t->groups[g], t->pairs[i].topic))
                rd_kafka_topic_partition_list_add(mine, t->pairs[i].topic, t->pairs[i].partition);
        if (mine->cnt > 0) {
            t->groups[g].ask = mine;
            asked++;
        } else {
            rd_kafka_topic_partition_list_destroy(mine);
        }
    }
    t->busy = true;
    t->started_ms = now_ms;
    t->round++;
    t->answered = false;
    t->checking = false;
    t->failed = false;
    pthread_mutex_lock(&t->lock);
    t->done = !asked; /* no group has pairs of this round: nothing to read */
    t->pending = asked > 0;
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
    for (int i = 0; i < t->npairs; i++) {
        sm_track_pair *w = &t->pairs[i];
        if (w->low.offset < 0 || !group_tracks(g, w->topic))
            continue;
        const rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(g->ask, w->topic, w->partition);
        int64_t off = (p && !p->err && p->offset >= 0) ? p->offset : -1;
        if (off < 0)
            w->bound = -1; /* this group has not consumed it */
        else if (w->bound != -1 && off < w->bound)
            w->bound = off;
    }
}

/* ---- the ends that last passed ------------------------------------------------ */

typedef struct ends {
    int32_t inc;
    int64_t low, high;
    uint64_t round; /* the last round whose pairs had it */
} ends;

static size_t pair_key(char *buf, size_t len, const char *topic, int32_t partition)
{
    int n = snprintf(buf, len, "%d:%s", (int)partition, topic);
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

static ends *ends_get(sm_track *t, const sm_track_pair *p)
{
    char k[300];
    size_t kl = pair_key(k, sizeof k, p->topic, p->partition);
    return sm_map_get(&t->verified, k, kl);
}

static void ends_put(sm_track *t, const sm_track_pair *p)
{
    ends *e = ends_get(t, p);
    if (!e) {
        char k[300];
        size_t kl = pair_key(k, sizeof k, p->topic, p->partition);
        if (!(e = calloc(1, sizeof *e)))
            return;
        if (sm_map_put(&t->verified, k, kl, e) != SM_OK) {
            free(e);
            return;
        }
    }
    *e = (ends){p->inc, p->low.offset, p->high.offset, t->round};
}

/* Forgets the pairs this round no longer has. */
static void ends_prune(sm_track *t)
{
    const char *k;
    void *v;
    for (size_t it = 0; sm_map_next(&t->verified, &it, &k, &v);)
        if (((ends *)v)->round != t->round)
            free(sm_map_del(&t->verified, k, strlen(k)));
}

/* ---- the check phase ----------------------------------------------------------- */

/* One check for row of pair p (items has room for two per pair). */
static bool item_add(sm_track *t, const sm_track_pair *p, const sm_tp_row *row, int *idx)
{
    sm_check_item *it = &t->items[t->nitems];
    memset(it, 0, sizeof *it);
    if (!(it->topic = strdup(p->topic)) ||
        !(it->event_id = strdup(row->event_id ? row->event_id : ""))) {
        free(it->topic);
        it->topic = NULL;
        return false;
    }
    it->partition = p->partition;
    it->offset = row->offset;
    it->created_at_ms = row->created_at_ms;
    *idx = t->nitems++;
    return true;
}

static bool reported(const sm_track *t, int upto, const char *topic)
{
    for (int i = 0; i < upto; i++)
        if (t->pairs[i].ilow == -2 && !strcmp(t->pairs[i].topic, topic))
            return true;
    return false;
}

/* The offsets are in: completes what needs no check (topics nobody
 * tracks), reports pairs that cannot be one incarnation, and plans the
 * record checks. Returns the number of checks. */
static int plan(sm_track *t, const sm_track_cbs *cbs, void *arg)
{
    if (!(t->items = calloc((size_t)(2 * t->npairs), sizeof *t->items)))
        return 0;
    for (int i = 0; i < t->npairs; i++) {
        sm_track_pair *p = &t->pairs[i];
        ends *e = ends_get(t, p);
        if (e)
            e->round = t->round;
        if (!p->tracked) {
            /* INT64_MAX: no group tracks the pair's topic, every row of
             * it is complete, whatever its incarnation */
            cbs->complete(p->topic, p->partition, -1, 0, INT64_MAX, arg);
            continue;
        }
        if (p->low.offset < 0)
            continue;
        bool consumed = p->bound > p->low.offset;
        bool same = e && e->inc == p->inc && e->low == p->low.offset && e->high == p->high.offset;
        if (!consumed && same)
            continue;
        if (p->low.same_offset > 1 || p->high.same_offset > 1) {
            if (!reported(t, i, p->topic)) {
                char why[400];
                snprintf(why, sizeof why, "two PUBLISHED rows of %s [%d] claim offset %" PRId64,
                         p->topic, (int)p->partition,
                         p->low.same_offset > 1 ? p->low.offset : p->high.offset);
                cbs->recreated(p->topic, p->inc, why, arg);
            }
            p->ilow = -2; /* reported */
            continue;
        }
        if (!item_add(t, p, &p->low, &p->ilow))
            continue;
        if (p->high.offset != p->low.offset && !item_add(t, p, &p->high, &p->ihigh))
            p->ilow = -1;
    }
    return t->nitems;
}

/* The checks are in: reports each pair. */
static void judge(sm_track *t, const sm_check_item *items, int n, const sm_track_cbs *cbs,
                  void *arg)
{
    for (int i = 0; i < t->npairs; i++) {
        sm_track_pair *p = &t->pairs[i];
        if (p->ilow < 0 || p->ilow >= n || p->ihigh >= n)
            continue;
        const sm_check_item *lo = &items[p->ilow], *hi = p->ihigh >= 0 ? &items[p->ihigh] : lo;
        const sm_check_item *bad = lo->verdict == SM_CHECK_OTHER || lo->verdict == SM_CHECK_BEYOND ||
                                           lo->verdict == SM_CHECK_GONE
                                       ? lo
                                   : hi->verdict == SM_CHECK_OTHER ||
                                           hi->verdict == SM_CHECK_BEYOND ||
                                           hi->verdict == SM_CHECK_GONE
                                       ? hi
                                       : NULL;
        bool consumed = p->bound > p->low.offset;
        if (bad) {
            if (!reported(t, i, p->topic))
                cbs->recreated(p->topic, p->inc, bad->why, arg);
            p->ilow = -2;
        } else if (lo->verdict != SM_CHECK_MATCH || hi->verdict != SM_CHECK_MATCH) {
            const char *why = lo->verdict != SM_CHECK_MATCH ? lo->why : hi->why;
            if (consumed)
                cbs->unverified(p->topic, p->partition, why, arg);
            else
                sm_debug("completion tracking: %s", why);
        } else {
            ends_put(t, p);
            if (consumed) {
                int64_t below = p->bound < p->high.offset + 1 ? p->bound : p->high.offset + 1;
                cbs->complete(p->topic, p->partition, p->inc, p->low.offset, below, arg);
            }
        }
    }
}

static void round_done(sm_track *t)
{
    t->rounds_applied++;
    ends_prune(t);
    round_end(t);
}

void sm_track_poll(sm_track *t, int64_t now_ms, const sm_track_cbs *cbs, void *arg)
{
    if (!t->on)
        return;
    if (t->busy && !t->answered) {
        pthread_mutex_lock(&t->lock);
        bool done = t->done;
        pthread_mutex_unlock(&t->lock);
        if (done) {
            /* the worker is idle again: the ask lists are ours */
            for (int i = 0; i < t->ngroups; i++)
                if (t->groups[i].ask)
                    fold(t, &t->groups[i]);
            t->answered = true;
        }
    }
    /* the checker's results: this round's, or a late job's (dropped) */
    uint64_t tag = 0;
    int n = 0;
    sm_check_item *done = sm_check_take(t->check, &tag, &n);
    if (done && t->busy && t->checking && !t->items && tag == t->round) {
        judge(t, done, n, cbs, arg);
        sm_check_items_free(done, n);
        round_done(t);
        return;
    }
    sm_check_items_free(done, n);
    if (t->busy && t->answered && !t->checking) {
        if (t->failed) {
            round_end(t);
            return;
        }
        t->checking = true;
        t->started_ms = now_ms;
        if (plan(t, cbs, arg) == 0) {
            round_done(t);
            return;
        }
    }
    if (t->busy && t->checking && t->items) {
        /* submitted once the checker is free (a late job may still run) */
        if (sm_check_submit(t->check, t->round, t->items, t->nitems)) {
            t->items = NULL;
            t->nitems = 0;
        }
    }
    /* the worker ends its reads by itself (GROUP_TIMEOUT_MS a group); the
     * record checks are given up on here */
    if (t->busy && t->checking && now_ms - t->started_ms > CHECK_TIMEOUT_MS) {
        /* late verdicts carry this round's number and are ignored */
        sm_log_limited(SM_LOG_WARN,
                       "completion tracking: no verdict from the record checks in %d s; trying "
                       "again",
                       CHECK_TIMEOUT_MS / 1000);
        round_end(t);
    }
}
