/* periodic.c: the relay's periodic work: slot balance, row counts for the
 * metrics, completion tracking (track.c) and topics created again,
 * re-publishing stale rows, cleanup. */
#include "relay/relay_int.h"

/* ------------------------------------------------------------------ */
/* periodic work                                                       */

void sm_relay_log_slots_(uint64_t before, uint64_t after)
{
    int gained = __builtin_popcountll(after & ~before),
    lost = __builtin_popcountll(before & ~after);
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
        sm_relay_db_fail_(r, "balancing slots", err);
        owned = 0;
    }
    if (owned != r->owned)
        sm_relay_log_slots_(r->owned, owned);
    r->owned = owned;
    atomic_store(&r->metrics.owned_slots, __builtin_popcountll(owned));
}

static void stats(sm_relay *r)
{
    sm_store_stats st;
    char err[512];
    if (sm_store_stats_get(r->store, &st, err, sizeof err) != SM_OK) {
        sm_relay_db_fail_(r, "reading row counts", err);
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
        sm_relay_db_fail_(r, "marking rows COMPLETE", err);
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
        sm_relay_db_fail_(r, "re-queueing rows of a topic created again", err);
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
        sm_relay_db_fail_(r, "recording a topic created again", err);
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

const sm_track_cbs sm_relay_complete_cbs_ = {complete_apply, complete_recreated,
                                             complete_unverified};

/* Topics found created again by delivery reports (offsets_note). */
void sm_relay_recreated_flush_(sm_relay *r)
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
        sm_relay_db_fail_(r, "listing published partitions", err);
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
        sm_relay_db_fail_(r, "re-queueing stale rows", err);
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
        sm_relay_db_fail_(r, "cleaning up old rows", err);
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

void sm_relay_periodic_(sm_relay *r, int64_t now)
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
