/* dead.c: dead letters: a row that goes DEAD is published to its
 * dead-letter topic (dead.letter.topic) before its DEAD mark is written. */
#include "relay/relay_int.h"

/* ------------------------------------------------------------------ */
/* dead letters                                                        */

/* Publishes the dead letter of row id (the row's key, value and headers
 * plus samsa.error, samsa.attempts, samsa.original_topic) on the retry
 * lane. When it cannot be sent, the row is marked DEAD with the reason. */
void sm_relay_dlt_send_(sm_relay *r, int64_t id, const char *keyz, const view *v, int32_t attempts,
                        const char *why, bool nopayload)
{
    char *name = sm_relay_dlt_name(r->cfg, v->topic);
    char reason[1024], vwhy[256];
    if (!name) {
        sm_relay_queue_dead_(r, id, keyz, attempts, why);
        return;
    }
    if (!sm_relay_topic_valid(name, vwhy, sizeof vwhy)) {
        snprintf(reason, sizeof reason, "%s; no dead letter: '%s': %s", why, name, vwhy);
        sm_warn("row %" PRId64 " DEAD (topic %s, key %s, %d attempts): %s", id, v->topic,
                sm_relay_keystr_(keyz), attempts, reason);
        sm_relay_queue_dead_(r, id, keyz, attempts, reason);
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
        msg *m = sm_relay_msg_new_(id, keyz, keyz ? strlen(keyz) : 0, 0, attempts);
        if (m) {
            m->dlt = true;
            m->dlt_nopayload = nopayload;
            m->topic = strdup(v->topic);
            m->error = strdup(why);
        }
        if (!m || !m->topic || !m->error) {
            rd_kafka_headers_destroy(h);
            sm_relay_msg_free_(m);
            sm_relay_queue_dead_(r, id, keyz, attempts, why);
            break;
        }
        rd_kafka_resp_err_t err = sm_relay_produce_(sm_relay_lane_get_(r, true), name, v->key,
                                                    v->klen,
                                                    nopayload ? NULL : v->val,
                                                    nopayload ? 0 : v->vlen, h, m);
        if (!err) {
            r->dlt_inflight++;
            break;
        }
        rd_kafka_headers_destroy(h);
        sm_relay_msg_free_(m);
        if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && !nopayload) {
            nopayload = true;
            continue;
        }
        if (sm_relay_classify(err) == SM_ERRC_NOT_MINE) {
            /* record the attempts; the next claim sends the dead letter */
            int64_t due = sm_wall_ms() + r->cfg->retry_backoff_ms;
            sm_relay_queue_retry_(r, id, attempts, due, why);
            sm_keys_reschedule(&r->keys, id, keyz, due);
            sm_relay_timer_push_(r, due, id);
            break;
        }
        snprintf(reason, sizeof reason, "%s; dead letter to %s not published: %s: %s", why, name,
                 rd_kafka_err2name(err), rd_kafka_err2str(err));
        sm_warn("row %" PRId64 " DEAD (topic %s, key %s, %d attempts): %s", id, v->topic,
                sm_relay_keystr_(keyz), attempts, reason);
        sm_relay_queue_dead_(r, id, keyz, attempts, reason);
        break;
    }
    free(name);
}

/* The delivery report of a dead letter. */
void sm_relay_dlt_delivered_(sm_relay *r, msg *m, const rd_kafka_message_t *km)
{
    char reason[1024];
    const char *dlt = rd_kafka_topic_name(km->rkt);
    if (!km->err) {
        snprintf(reason, sizeof reason, "%s (dead letter: %s [%d] @ %" PRId64 ")", m->error, dlt,
                 (int)km->partition, (int64_t)km->offset);
        sm_warn("row %" PRId64 " DEAD (topic %s, key %s, %d attempts): %s; dead letter at %s "
                "[%d] @ %" PRId64,
                m->id, m->topic, sm_relay_keystr_(m->key), m->attempts, m->error, dlt,
                (int)km->partition,
                (int64_t)km->offset);
        sm_relay_queue_dead_(r, m->id, m->key, m->attempts, reason);
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
        sm_relay_dlt_send_(r, m->id, m->key, &v, m->attempts, m->error, true);
        if (base)
            rd_kafka_headers_destroy(base);
    } else if (sm_relay_classify(km->err) == SM_ERRC_NOT_MINE) {
        int64_t due = sm_wall_ms() + r->cfg->retry_backoff_ms;
        sm_relay_queue_retry_(r, m->id, m->attempts, due, m->error);
        sm_keys_reschedule(&r->keys, m->id, m->key, due);
        sm_relay_timer_push_(r, due, m->id);
    } else {
        snprintf(reason, sizeof reason, "%s; dead letter to %s not published: %s: %s", m->error,
                 dlt, rd_kafka_err2name(km->err), rd_kafka_err2str(km->err));
        sm_warn("row %" PRId64 " DEAD (topic %s, key %s, %d attempts): %s", m->id, m->topic,
                sm_relay_keystr_(m->key), m->attempts, reason);
        sm_relay_queue_dead_(r, m->id, m->key, m->attempts, reason);
    }
    sm_relay_msg_free_(m);
}
