/* track.c: committed offsets of the tracked groups, and the record check
 * that ties them to one incarnation of a topic (see track.h).
 *
 * A round: list the pairs (relay.c), ask every group (the admin client's
 * queue), then check the records of the pairs that need it (check.c, a
 * thread), then report. t->verified remembers, per pair, the incarnation
 * and end offsets whose records last passed: a pair whose ends changed
 * since (rows marked or completed) is checked again even when no bound
 * would complete anything, so a topic created again is seen within a round
 * of its new records landing among the old rows. */
#include "relay/track.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"

#define ROUND_TIMEOUT_MS 60000 /* offsets and record checks of one round */

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
    sm_map_init(&t->verified);
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
    int rc = sm_check_init(&t->check, cfg, wake_fd, err, errlen);
    if (rc)
        return rc;
    return groups_build(t, cfg, err, errlen);
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

static void round_end(sm_track *t)
{
    pairs_free(t->pairs, t->npairs);
    t->pairs = NULL;
    t->npairs = 0;
    sm_check_items_free(t->items, t->nitems);
    t->items = NULL;
    t->nitems = 0;
    t->busy = false;
    t->checking = false;
    t->answered = 0;
    t->failed = false;
}

void sm_track_release(sm_track *t)
{
    round_end(t);
    sm_check_free(t->check);
    if (t->q) {
        rd_kafka_queue_io_event_enable(t->q, -1, NULL, 0);
        rd_kafka_queue_destroy(t->q);
    }
    if (t->rk)
        rd_kafka_destroy(t->rk);
    for (int i = 0; i < t->ngroups; i++)
        free(t->groups[i].topics);
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
    if (!t->rk || t->busy || n <= 0)
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
        /* only the pairs of the topics it tracks that have rows of the
         * current incarnation (an empty list would mean "every partition"
         * to the broker) */
        rd_kafka_topic_partition_list_t *mine = rd_kafka_topic_partition_list_new(n);
        for (int i = 0; i < n; i++)
            if (t->pairs[i].low.offset >= 0 && group_tracks(&t->groups[g], t->pairs[i].topic))
                rd_kafka_topic_partition_list_add(mine, t->pairs[i].topic, t->pairs[i].partition);
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
    for (int i = 0; i < t->npairs; i++) {
        sm_track_pair *w = &t->pairs[i];
        if (w->low.offset < 0 || !group_tracks(g, w->topic))
            continue;
        const rd_kafka_topic_partition_t *p =
            got ? rd_kafka_topic_partition_list_find(got, w->topic, w->partition) : NULL;
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
    if (!t->rk)
        return;
    rd_kafka_event_t *ev;
    while ((ev = rd_kafka_queue_poll(t->q, 0))) {
        if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT && t->busy &&
            !t->checking && (uintptr_t)rd_kafka_event_opaque(ev) == t->round) {
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
    if (t->busy && !t->checking && t->answered >= t->asked) {
        if (t->failed) {
            round_end(t);
            return;
        }
        t->checking = true;
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
    if (t->busy && now_ms - t->started_ms > ROUND_TIMEOUT_MS) {
        /* late answers carry this round's number and are ignored */
        sm_log_limited(SM_LOG_WARN, "completion tracking: no %s in %d s; trying again",
                       t->checking ? "verdict from the record checks"
                                   : "answer from the group coordinators",
                       ROUND_TIMEOUT_MS / 1000);
        round_end(t);
    }
}
