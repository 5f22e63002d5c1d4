/* outcome.c: the outcome of each produced row (delivery reports and
 * refused produces): PUBLISHED, a retry with backoff, or DEAD; a topic seen
 * deleted and created again; the broker seen down or up. */
#include "relay/relay_int.h"

/* ------------------------------------------------------------------ */
/* outcomes                                                            */

/* A row's publish failed (delivery report or refused produce). */
void sm_relay_row_failed_(sm_relay *r, msg *m, rd_kafka_resp_err_t err, const view *v)
{
    char why[512];
    sm_relay_errtext_(why, sizeof why, err, v->topic, v->local);
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
                 sm_relay_keystr_(m->key), why);
        sm_keys_failed(&r->keys, m->id, m->key, sm_wall_ms());
        sm_keys_settled(&r->keys, m->id);
        sm_store_rewind(r->store, m->id); /* the claim cursor may be past it */
        r->want_claim = true;
        if (r->closing)
            r->released_at_close++;
        sm_relay_msg_free_(m);
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
            sm_relay_queue_retry_(r, m->id, attempts, sm_wall_ms(), why);
        else
            sm_relay_dlt_send_(r, m->id, m->key, v, attempts, why,
                               err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    } else {
        int64_t delay = sm_relay_backoff_ms(attempts, r->cfg->retry_backoff_ms,
                                            r->cfg->retry_backoff_max_ms, sm_relay_rand(&r->rnd));
        int64_t due = sm_wall_ms() + delay;
        sm_keys_failed(&r->keys, m->id, m->key, due);
        sm_relay_queue_retry_(r, m->id, attempts, due, why);
        sm_relay_timer_push_(r, due, m->id);
        atomic_fetch_add(&r->metrics.retries_total, 1);
        sm_log_limited(SM_LOG_WARN,
                       "row %" PRId64 " (key %s) failed, attempt %d of %d: %s; retrying in %" PRId64
                       " ms, later rows of its key wait",
                       m->id, sm_relay_keystr_(m->key), (int)attempts, (int)r->cfg->max_attempts,
                       why, delay);
    }
    sm_relay_msg_free_(m);
}

static void queue_recreated(sm_relay *r, const char *topic, int32_t inc, const char *why)
{
    for (size_t i = 0; i < r->nrecreated; i++)
        if (r->recreated[i].inc == inc && !strcmp(r->recreated[i].topic, topic))
            return;
    char *t = strdup(topic), *w = strdup(why);
    if (!t || !w ||
        !sm_relay_grow_((void **)&r->recreated, &r->caprecreated, r->nrecreated,
                        sizeof *r->recreated)) {
        free(t);
        free(w);
        return; /* the completion round's record check finds it too */
    }
    r->recreated[r->nrecreated++] = (pend_recreated){t, inc, w};
}

/* An acknowledged row of a tracked topic: offsets of one producer and
 * partition only go up within an incarnation (see lane.offs). */
void sm_relay_offsets_note_(sm_relay *r, lane *l, const char *topic, int32_t partition, int32_t inc,
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

void sm_relay_dr_cb_(rd_kafka_t *rk, const rd_kafka_message_t *km, void *opaque)
{
    sm_relay *r = opaque;
    msg *m = km->_private;
    if (!m)
        return;
    if (m->dlt) {
        r->dlt_inflight--;
        if (!km->err)
            broker_seen_up(r);
        sm_relay_dlt_delivered_(r, m, km);
        return;
    }
    if (!km->err) {
        int64_t now = sm_wall_ms();
        sm_relay_queue_published_(r, m->id, km->partition, km->offset, now, m->incarnation);
        sm_relay_offsets_note_(r, sm_relay_lane_of_(r, rk), rd_kafka_topic_name(km->rkt),
                               km->partition,
                               m->incarnation, km->offset);
        sm_topics_landed(&r->topics, rd_kafka_topic_name(km->rkt), true, false, now);
        bool overtook = sm_keys_acked(&r->keys, m->id, m->key);
        bool behind = sm_acks_note(&r->acks, rd_kafka_topic_name(km->rkt), m->key, m->id);
        if (overtook || behind) {
            atomic_fetch_add(&r->metrics.order_violations_total, 1);
            sm_log_limited(SM_LOG_WARN,
                           "order: row %" PRId64 " of key %s was acknowledged %s", m->id,
                           sm_relay_keystr_(m->key),
                           behind ? "after a later row of its key: consumers see them out of order"
                                  : "while an earlier row of its key is still failing");
        }
        atomic_fetch_add(&r->metrics.published_total, 1);
        sm_metrics_observe_latency(&r->metrics, (now - m->created_at_ms) * 1000);
        broker_seen_up(r);
        sm_relay_msg_free_(m);
        return;
    }
    rd_kafka_headers_t *h = NULL;
    rd_kafka_message_headers(km, &h);
    view v = {km->key, km->key_len, km->payload, km->len, h, rd_kafka_topic_name(km->rkt), false,
              sm_relay_lane_of_(r, rk)};
    sm_relay_row_failed_(r, m, km->err, &v);
}

void sm_relay_error_cb_(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    sm_relay *r = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        lane *l = sm_relay_lane_of_(r, rk);
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
