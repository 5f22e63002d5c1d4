/* lanes.c: the relay's lanes, each one librdkafka producer: "main" (first
 * attempts, batched, gap-less) and "retry" (one message per batch); a lane
 * that hits a fatal error retires and a new one takes its place. */
#include "relay/relay_int.h"

/* ------------------------------------------------------------------ */
/* lanes (producers)                                                   */

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

lane *sm_relay_lane_new_(sm_relay *r, bool serial, char *err, size_t errlen)
{
    const sm_relay_config *cfg = r->cfg;
    rd_kafka_conf_t *conf = sm_relay_kafka_conf(cfg, err, errlen);
    if (!conf)
        return NULL;
    char why[512];
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
    rd_kafka_conf_set_dr_msg_cb(conf, sm_relay_dr_cb_);
    rd_kafka_conf_set_error_cb(conf, sm_relay_error_cb_);
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
void sm_relay_lane_free_(lane *l)
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
void sm_relay_lanes_check_(sm_relay *r)
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
        lane *n = sm_relay_lane_new_(r, l->serial, why, sizeof why);
        if (!n) {
            sm_log_limited(SM_LOG_ERROR, "cannot start a new producer: %s", why);
            continue;
        }
        if (r->nretiring == MAX_RETIRING) {
            sm_relay_lane_free_(r->retiring[0]);
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
            sm_relay_lane_free_(l);
            memmove(&r->retiring[i], &r->retiring[i + 1],
                    (size_t)(r->nretiring - i - 1) * sizeof r->retiring[0]);
            r->nretiring--;
        } else {
            i++;
        }
    }
}

void sm_relay_lanes_poll_(sm_relay *r)
{
    rd_kafka_poll(r->main->rk, 0);
    rd_kafka_poll(r->retry->rk, 0);
    for (int i = 0; i < r->nretiring; i++)
        rd_kafka_poll(r->retiring[i]->rk, 0);
}

lane *sm_relay_lane_of_(sm_relay *r, const rd_kafka_t *rk)
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
lane *sm_relay_lane_get_(sm_relay *r, bool serial)
{
    if ((serial ? r->retry : r->main)->fatal)
        sm_relay_lanes_check_(r);
    return serial ? r->retry : r->main;
}

rd_kafka_resp_err_t sm_relay_produce_(lane *l, const char *topic, const void *key, size_t klen,
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
