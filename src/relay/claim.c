/* claim.c: claiming rows from the store and admitting them (keys.c decides
 * whether a row may go out now) onto a lane. */
#include "relay/relay_int.h"

/* ------------------------------------------------------------------ */
/* claiming                                                            */

/* Rows the relay has are skipped and may be passed by the claim cursor
 * (they come back through a rewind if they are not published); rows of held
 * keys are skipped and pinned: the next claim looks at them again. */
static bool skip_cb(int64_t id, const char *key, const char *topic, void *arg)
{
    sm_relay *r = arg;
    if (sm_keys_tracked(&r->keys, id))
        return true;
    if (sm_keys_skip(&r->keys, id, key)) {
        sm_store_rewind(r->store, id);
        return true;
    }
    /* a topic whose rows fail, at its cap: looked at again (a rewind) when
     * one of its rows lands */
    return sm_topics_skip(&r->topics, topic, id);
}

/* A claimed row the relay did not take on: the next claim looks again. */
static void not_taken(sm_relay *r, int64_t id)
{
    if (!sm_keys_tracked(&r->keys, id))
        sm_store_rewind(r->store, id);
}

/* A row that can never be published, or has used its attempts: straight
 * to the dead-letter topic, holding its key meanwhile. */
static void dead_from_row(sm_relay *r, const sm_row *row, int32_t attempts, const char *why)
{
    lane *l = sm_relay_lane_get_(r, true);
    if (!sm_keys_admit(&r->keys, row->id, row->key, row->slot, l->id, true, row->topic)) {
        not_taken(r, row->id);
        return;
    }
    sm_keys_failed(&r->keys, row->id, row->key, SM_KEYS_NEVER);
    rd_kafka_headers_t *h = NULL;
    char ignore[256];
    if (sm_relay_headers_build(row, &h, ignore, sizeof ignore) != SM_OK)
        h = sm_relay_headers_base(row);
    view v = {row->key,   row->key ? (size_t)row->key_len : 0,
              row->payload, row->payload && row->payload_len > 0 ? (size_t)row->payload_len : 0,
              h,          row->topic,
              false,      NULL};
    if (!row->payload || row->payload_len < 0)
        v.val = NULL;
    sm_relay_dlt_send_(r, row->id, row->key, &v, attempts, why, false);
    if (h)
        rd_kafka_headers_destroy(h);
}

static void dispatch(sm_relay *r, const sm_row *row)
{
    const sm_relay_config *cfg = r->cfg;
    char why[512];
    if (row->attempts >= cfg->max_attempts) {
        snprintf(why, sizeof why, "gave up after %d attempts (max.attempts=%d)",
                 (int)row->attempts, (int)cfg->max_attempts);
        dead_from_row(r, row, row->attempts, why);
        return;
    }
    if (sm_relay_row_check(row, why, sizeof why) != SM_OK) {
        dead_from_row(r, row, row->attempts + 1, why);
        return;
    }
    bool alone = row->attempts > 0 || sm_idset_has(&r->isolate, row->id);
    lane *l = sm_relay_lane_get_(r, alone);
    if (!sm_topics_admit(&r->topics, row->topic, sm_wall_ms())) {
        sm_topics_skip(&r->topics, row->topic, row->id); /* rewound when there is room */
        return;
    }
    if (!sm_keys_admit(&r->keys, row->id, row->key, row->slot, l->id, l->serial, row->topic)) {
        sm_topics_landed(&r->topics, row->topic, false, false, sm_wall_ms());
        not_taken(r, row->id);
        return;
    }
    if (alone)
        sm_idset_del(&r->isolate, row->id);
    size_t klen = row->key ? (size_t)row->key_len : 0;
    msg *m = sm_relay_msg_new_(row->id, row->key, klen, row->created_at_ms, row->attempts);
    if (m)
        m->incarnation = row->incarnation;
    rd_kafka_headers_t *h = NULL;
    if (!m || sm_relay_headers_build(row, &h, why, sizeof why) != SM_OK) {
        sm_relay_msg_free_(m);
        sm_topics_landed(&r->topics, row->topic, false, false, sm_wall_ms());
        sm_keys_failed(&r->keys, row->id, row->key, sm_wall_ms());
        sm_keys_settled(&r->keys, row->id);
        sm_store_rewind(r->store, row->id);
        return;
    }
    rd_kafka_resp_err_t err =
        sm_relay_produce_(l, row->topic, row->key, klen, row->payload, (size_t)row->payload_len, h,
                          m);
    if (err) {
        view v = {row->key, klen, row->payload, (size_t)row->payload_len, h, row->topic, true, l};
        sm_relay_row_failed_(r, m, err, &v);
        rd_kafka_headers_destroy(h);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            /* librdkafka's own queue is full (queue.buffering.max.*):
             * wait for deliveries before claiming more */
            r->room_blocked = true;
            r->queue_full_until = sm_mono_ms() + 10;
        }
    }
}

/* The store drops its slots when its connection is lost: follow it. */
static void owned_refresh(sm_relay *r)
{
    uint64_t owned = sm_store_owned(r->store);
    if (owned == r->owned)
        return;
    sm_relay_log_slots_(r->owned, owned);
    r->owned = owned;
    atomic_store(&r->metrics.owned_slots, __builtin_popcountll(owned));
}

/* Room in the in-flight budget: rows waiting for a retry, retried alone or
 * going to the dead-letter topic do not count (keys.h), so failing rows
 * never take the room of healthy keys; they have an allowance of another
 * max.inflight for themselves (memory stays bounded). */
int64_t sm_relay_room_of_(const sm_relay *r)
{
    int64_t max = r->cfg->max_inflight;
    int64_t room = max - (int64_t)r->keys.budget;
    int64_t all = 2 * max - (int64_t)r->keys.ids.n;
    return room < all ? room : all;
}

/* A topic at its probe cap has room again: its skipped rows, which the
 * claim cursor passed, are looked at again. Applied before every claim: a
 * row landing in the poll at the top of a turn must not let that turn's
 * claim start past them, or it takes later rows of their keys first. */
bool sm_relay_topics_rewind_(sm_relay *r)
{
    int64_t id = sm_topics_take_rewind(&r->topics);
    if (id)
        sm_store_rewind(r->store, id);
    return id != 0;
}

void sm_relay_claim_(sm_relay *r)
{
    (void)sm_relay_topics_rewind_(r);
    int64_t room = sm_relay_room_of_(r);
    r->last_full = false;
    if (room <= 0 || r->room_blocked) {
        r->room_blocked = true;
        return;
    }
    int max = room < r->cfg->batch_size ? (int)room : r->cfg->batch_size;
    sm_row *rows = NULL;
    int n = 0;
    char err[512];
    owned_refresh(r);
    if (!r->owned)
        return;
    atomic_fetch_add(&r->metrics.claims_total, 1);
    int64_t t0 = sm_mono_us();
    if (sm_store_claim(r->store, r->owned, max, skip_cb, r, &rows, &n, err, sizeof err) !=
        SM_OK) {
        sm_relay_db_fail_(r, "claiming rows", err);
        return;
    }
    int64_t t1 = sm_mono_us();
    int i = 0;
    for (; i < n && !r->room_blocked; i++)
        dispatch(r, &rows[i]);
    for (; i < n; i++) /* left for later: the producer's queue is full */
        not_taken(r, rows[i].id);
    if (n)
        sm_debug("claimed %d rows in %.1f ms, produced them in %.1f ms", n,
                 (double)(t1 - t0) / 1000, (double)(sm_mono_us() - t1) / 1000);
    sm_rows_free(rows, n);
    r->last_full = n == max && !r->room_blocked;
}
