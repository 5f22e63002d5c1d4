/* track.c: committed offsets of the tracked groups (see track.h). */
#include "relay/track.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"

#define ROUND_TIMEOUT_MS 30000

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

int sm_track_init(sm_track *t, const sm_relay_config *cfg, int wake_fd, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    if (cfg->n_track_groups == 0)
        return SM_OK;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char why[512];
    /* connection and security properties apply; producer tuning is
     * harmless on a client that never produces */
    for (size_t i = 0; i < cfg->kafka.n; i++) {
        const sm_prop *p = &cfg->kafka.v[i];
        if (rd_kafka_conf_set(conf, p->key, p->value, why, sizeof why) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return sm_fail(err, errlen, SM_EINVAL, "%s (%s): %s", p->key, p->origin, why);
        }
    }
    char cid[256];
    snprintf(cid, sizeof cid, "samsa-relay-%s-track", cfg->relay_id);
    if (rd_kafka_conf_set(conf, "bootstrap.servers", cfg->bootstrap_servers, why, sizeof why) ||
        rd_kafka_conf_set(conf, "client.id", cid, why, sizeof why)) {
        rd_kafka_conf_destroy(conf);
        return sm_fail(err, errlen, SM_EINVAL, "completion tracking client: %s", why);
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    t->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);
    if (!t->rk) {
        rd_kafka_conf_destroy(conf);
        return sm_fail(err, errlen, SM_EINVAL, "completion tracking client: %s", why);
    }
    t->q = rd_kafka_queue_new(t->rk);
    static const char one = 1;
    rd_kafka_queue_io_event_enable(t->q, wake_fd, &one, 1);
    return groups_build(t, cfg, err, errlen);
}

static void round_end(sm_track *t)
{
    if (t->busy && t->answered >= t->asked && !t->failed)
        t->rounds_applied++; /* sm_track_poll applied it */
    if (t->want)
        rd_kafka_topic_partition_list_destroy(t->want);
    t->want = NULL;
    t->busy = false;
    t->answered = 0;
    t->failed = false;
}

void sm_track_release(sm_track *t)
{
    round_end(t);
    if (t->q) {
        rd_kafka_queue_io_event_enable(t->q, -1, NULL, 0);
        rd_kafka_queue_destroy(t->q);
    }
    if (t->rk)
        rd_kafka_destroy(t->rk);
    for (int i = 0; i < t->ngroups; i++)
        free(t->groups[i].topics);
    free(t->groups);
    memset(t, 0, sizeof *t);
}

void sm_track_start(sm_track *t, const sm_tp *tps, int n, int64_t now_ms)
{
    if (!t->rk || t->busy || n <= 0)
        return;
    t->want = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(t->want, tps[i].topic, tps[i].partition)->offset =
            INT64_MAX;
    t->busy = true;
    t->started_ms = now_ms;
    t->answered = 0;
    t->failed = false;
    rd_kafka_AdminOptions_t *opt =
        rd_kafka_AdminOptions_new(t->rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    char why[256];
    rd_kafka_AdminOptions_set_request_timeout(opt, 10000, why, sizeof why);
    rd_kafka_AdminOptions_set_opaque(opt, (void *)(uintptr_t)++t->round);
    t->asked = 0;
    for (int g = 0; g < t->ngroups; g++) {
        /* only the pairs of the topics it tracks (an empty list would mean
         * "every partition" to the broker) */
        rd_kafka_topic_partition_list_t *mine = rd_kafka_topic_partition_list_new(n);
        for (int i = 0; i < n; i++)
            if (group_tracks(&t->groups[g], tps[i].topic))
                rd_kafka_topic_partition_list_add(mine, tps[i].topic, tps[i].partition);
        if (mine->cnt > 0) {
            rd_kafka_ListConsumerGroupOffsets_t *req =
                rd_kafka_ListConsumerGroupOffsets_new(t->groups[g].id, mine);
            rd_kafka_ListConsumerGroupOffsets(t->rk, &req, 1, opt, t->q);
            rd_kafka_ListConsumerGroupOffsets_destroy(req);
            t->asked++;
        }
        rd_kafka_topic_partition_list_destroy(mine);
    }
    rd_kafka_AdminOptions_destroy(opt);
}

/* Folds one group's answer into the round: the minimum per pair; a pair the
 * group has no committed offset for can not complete. */
static void fold(sm_track *t, const rd_kafka_group_result_t *gr)
{
    const rd_kafka_error_t *e = rd_kafka_group_result_error(gr);
    if (e) {
        sm_log_limited(SM_LOG_WARN, "completion tracking: group %s: %s",
                       rd_kafka_group_result_name(gr), rd_kafka_error_string(e));
        t->failed = true;
        return;
    }
    const char *name = rd_kafka_group_result_name(gr);
    const sm_track_group *g = NULL;
    for (int j = 0; j < t->ngroups && !g; j++)
        if (!strcmp(t->groups[j].id, name))
            g = &t->groups[j];
    if (!g)
        return;
    const rd_kafka_topic_partition_list_t *got = rd_kafka_group_result_partitions(gr);
    for (int i = 0; i < t->want->cnt; i++) {
        rd_kafka_topic_partition_t *w = &t->want->elems[i];
        if (!group_tracks(g, w->topic))
            continue;
        const rd_kafka_topic_partition_t *p =
            got ? rd_kafka_topic_partition_list_find(got, w->topic, w->partition) : NULL;
        int64_t off = (p && !p->err && p->offset >= 0) ? p->offset : -1;
        if (off < 0)
            w->offset = -1; /* this group has not consumed it */
        else if (w->offset != -1 && off < w->offset)
            w->offset = off;
    }
}

void sm_track_poll(sm_track *t, int64_t now_ms, sm_track_apply_fn apply, void *arg)
{
    if (!t->rk)
        return;
    rd_kafka_event_t *ev;
    while ((ev = rd_kafka_queue_poll(t->q, 0))) {
        if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT && t->busy &&
            (uintptr_t)rd_kafka_event_opaque(ev) == t->round) {
            if (rd_kafka_event_error(ev)) {
                sm_log_limited(SM_LOG_WARN, "completion tracking: %s",
                               rd_kafka_event_error_string(ev));
                t->failed = true;
            } else {
                size_t n;
                const rd_kafka_group_result_t **grs = rd_kafka_ListConsumerGroupOffsets_result_groups(
                    rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
                for (size_t i = 0; i < n; i++)
                    fold(t, grs[i]);
            }
            t->answered++;
        }
        rd_kafka_event_destroy(ev);
    }
    if (t->busy && t->answered >= t->asked) {
        /* INT64_MAX: no group tracks the pair's topic, every row of it is
         * complete; -1: some tracking group has not consumed it */
        if (!t->failed)
            for (int i = 0; i < t->want->cnt; i++) {
                const rd_kafka_topic_partition_t *w = &t->want->elems[i];
                if (w->offset > 0)
                    apply(w->topic, w->partition, w->offset, arg);
            }
        round_end(t);
    } else if (t->busy && now_ms - t->started_ms > ROUND_TIMEOUT_MS) {
        /* late answers carry this round's number and are ignored */
        sm_log_limited(SM_LOG_WARN, "completion tracking: no answer from the group "
                                    "coordinators in %d s; trying again",
                       ROUND_TIMEOUT_MS / 1000);
        round_end(t);
    }
}
