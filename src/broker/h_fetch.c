/* h_fetch.c: Fetch, with long polling.
 *
 * A fetch is answered at once when it finds min_bytes (or max_wait_ms is
 * 0, or a partition has an error); otherwise it parks on every partition it
 * names and on a timer. Appends add their size to each parked fetch; when
 * a fetch has seen min_bytes arrive, or its timer fires, it is evaluated
 * again and answered. Record bytes are spliced from the segment files with
 * sendfile, never copied through the broker. Fetch sessions are not kept:
 * every answer has SessionId 0, so clients send full fetches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "broker/api.h"
#include "broker/broker.h"
#include "broker/conn.h"
#include "broker/partition.h"
#include "broker/topics.h"
#include "proto/batch.h"
#include "proto/fetch.h"
#include "proto/kafka.h"

typedef struct sm_fetch_wait sm_fetch_wait;

/* The node that parks a fetch on one partition. */
typedef struct fetch_link {
    sm_data_wait base;
    sm_fetch_wait *fw;
} fetch_link;

struct sm_fetch_wait {
    sm_req *req;
    sm_fetch_req fr;
    sm_timer timer;
    fetch_link *links;
    int nlinks;
    int64_t seen; /* bytes available when parked, plus bytes appended since */
    bool queued;  /* asked to be woken (sm_partition_appended) */
};

/* The bytes one partition would contribute, and its header fields. */
typedef struct part_eval {
    sm_fetch_part_resp hdr;
    sm_slice slice;
} part_eval;

/* The fetcher's epochs against SM_LEADER_EPOCH, as Kafka's Partition checks
 * them (the leader epoch cache of a log holds one epoch, 0, from its first
 * append on): CurrentLeaderEpoch (v9+) newer than ours is
 * UNKNOWN_LEADER_EPOCH. LastFetchedEpoch (v12+) that the log does not hold
 * is OFFSET_OUT_OF_RANGE, as is a fetch offset below the log start; epoch
 * 0 ending (at the log end) before the fetch offset is a DivergingEpoch
 * answer with no records. */
static int16_t check_epochs(const sm_fetch_part *fp, part_eval *e)
{
    if (fp->current_leader_epoch > SM_LEADER_EPOCH)
        return SM_KERR_UNKNOWN_LEADER_EPOCH;
    if (fp->last_fetched_epoch < 0)
        return SM_KERR_NONE;
    int64_t end = e->hdr.high_watermark;
    if (fp->last_fetched_epoch != SM_LEADER_EPOCH || end <= 0)
        return SM_KERR_OFFSET_OUT_OF_RANGE;
    if (fp->fetch_offset < e->hdr.log_start_offset)
        return SM_KERR_OFFSET_OUT_OF_RANGE;
    if (end < fp->fetch_offset) {
        e->hdr.diverging = true;
        e->hdr.diverging_epoch = SM_LEADER_EPOCH;
        e->hdr.diverging_end_offset = end;
    }
    return SM_KERR_NONE;
}

/* Evaluates every partition; returns total record bytes found. */
/* The topic a request topic names: by id from v13 (looked up again at each
 * evaluation, so a topic deleted and re-created while a fetch waits is not
 * served under the old id), by name before. */
static sm_topic *find_topic(sm_broker *b, int16_t v, const sm_fetch_topic *ft)
{
    return v >= SM_FETCH_TOPIC_IDS ? sm_topic_find_id(b, ft->topic_id) : sm_topic_find(b, ft->topic);
}

static int64_t evaluate(sm_broker *b, int16_t v, const sm_fetch_req *fr, part_eval *ev,
                        bool *any_error)
{
    int64_t total = 0;
    int k = 0;
    *any_error = false;
    int64_t max_bytes = fr->max_bytes > 0 ? fr->max_bytes : 0;
    for (int32_t i = 0; i < fr->topic_count; i++) {
        const sm_fetch_topic *ft = &fr->topics[i];
        sm_topic *t = find_topic(b, v, ft);
        for (int32_t j = 0; j < ft->partition_count; j++, k++) {
            const sm_fetch_part *fp = &ft->partitions[j];
            part_eval *e = &ev[k];
            memset(e, 0, sizeof *e);
            e->hdr.partition = fp->partition;
            e->hdr.high_watermark = e->hdr.last_stable_offset = e->hdr.log_start_offset = -1;
            if (!t && v >= SM_FETCH_TOPIC_IDS) {
                /* as KafkaApis.handleFetchRequest answers an unknown topic id */
                e->hdr.error_code = SM_KERR_UNKNOWN_TOPIC_ID;
                *any_error = true;
                continue;
            }
            if (!t || fp->partition < 0 || fp->partition >= t->npart) {
                e->hdr.error_code = SM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                *any_error = true;
                continue;
            }
            sm_plog *log = t->parts[fp->partition]->log;
            if (sm_plog_offline(log)) { /* as Kafka answers for an offline partition */
                e->hdr.error_code = SM_KERR_KAFKA_STORAGE_ERROR;
                *any_error = true;
                continue;
            }
            e->hdr.high_watermark = e->hdr.last_stable_offset = sm_plog_end_offset(log);
            e->hdr.log_start_offset = sm_plog_start_offset(log);
            int16_t eerr = check_epochs(fp, e);
            if (eerr != SM_KERR_NONE || e->hdr.diverging) {
                e->hdr.error_code = eerr;
                *any_error = true; /* answered at once, as Kafka does */
                continue;
            }
            int64_t room = max_bytes - total;
            if (room <= 0 && total > 0)
                continue; /* the response is full; this partition comes next time */
            int64_t limit = fp->partition_max_bytes < room ? fp->partition_max_bytes : room;
            if (limit <= 0)
                limit = 1; /* the first batch comes whole even so (KIP-74) */
            int rc = sm_plog_read(log, fp->fetch_offset, limit, &e->slice);
            if (rc == SM_ERANGE) {
                sm_debug("fetch %s-%d at %lld: out of range [%lld, %lld]", t->name, fp->partition,
                         (long long)fp->fetch_offset, (long long)e->hdr.log_start_offset,
                         (long long)e->hdr.high_watermark);
                e->hdr.error_code = SM_KERR_OFFSET_OUT_OF_RANGE;
                *any_error = true;
                continue;
            }
            if (rc != SM_OK) {
                e->hdr.error_code = SM_KERR_KAFKA_STORAGE_ERROR;
                *any_error = true;
                continue;
            }
            /* only the first partition with data may exceed the limits; a later
             * one whose first batch does not fit sends nothing (a partial
             * batch alone is an error to clients) */
            if (total > 0 && e->slice.len > room) {
                int64_t first = sm_slice_first_batch_size(&e->slice);
                if (first < 0 || first > room)
                    sm_slice_release(&e->slice);
                else
                    e->slice.len = room;
            }
            total += e->slice.len;
        }
    }
    return total;
}

static int count_parts(const sm_fetch_req *fr)
{
    int n = 0;
    for (int32_t i = 0; i < fr->topic_count; i++)
        n += fr->topics[i].partition_count;
    return n;
}

static void release_eval(part_eval *ev, int n)
{
    for (int i = 0; i < n; i++)
        if (ev[i].slice.seg)
            sm_slice_release(&ev[i].slice);
}

static void respond(sm_req *req, const sm_fetch_req *fr, part_eval *ev)
{
    int16_t v = req->hdr.api_version;
    sm_resp_begin(req);
    sm_fetch_resp_begin(&req->w, v, SM_KERR_NONE, 0, fr->topic_count);
    int k = 0;
    for (int32_t i = 0; i < fr->topic_count; i++) {
        const sm_fetch_topic *ft = &fr->topics[i];
        sm_fetch_topic_encode(&req->w, v, ft->topic.len < 0 ? SM_STR_LIT("") : ft->topic, ft->topic_id,
                              ft->partition_count);
        for (int32_t j = 0; j < ft->partition_count; j++, k++) {
            part_eval *e = &ev[k];
            e->hdr.records_len = (int32_t)e->slice.len;
            sm_fetch_part_encode(&req->w, v, &e->hdr);
            if (e->slice.len > 0)
                sm_resp_add_slice(req, &e->slice); /* takes the reference */
            else if (e->slice.seg)
                sm_slice_release(&e->slice);
            sm_fetch_part_end(&req->w, v, &e->hdr);
        }
        sm_fetch_topic_end(&req->w, v);
    }
    sm_fetch_resp_end(&req->w, v);
    sm_req_complete(req);
}

/* Evaluates and answers, whatever is there. */
static void answer_now(sm_req *req, const sm_fetch_req *fr)
{
    int n = count_parts(fr);
    part_eval *ev = sm_arena_calloc(&req->arena, (size_t)n + 1, sizeof *ev);
    if (!ev) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    bool any_error;
    evaluate(req->b, req->hdr.api_version, fr, ev, &any_error);
    respond(req, fr, ev);
}

static void unpark(sm_fetch_wait *fw)
{
    for (int i = 0; i < fw->nlinks; i++)
        sm_data_wait_unlink(&fw->links[i].base);
    sm_timer_cancel(fw->req->b->loop, &fw->timer);
    fw->req->pending = NULL;
    fw->req->cancel = NULL;
}

static void wake(sm_fetch_wait *fw)
{
    unpark(fw);
    answer_now(fw->req, &fw->fr);
}

/* A partition the fetch is parked on grew by bytes. */
static bool on_appended(sm_data_wait *w, int64_t bytes)
{
    sm_fetch_wait *fw = ((fetch_link *)w)->fw;
    fw->seen += bytes;
    if (fw->seen >= fw->fr.min_bytes && !fw->queued) {
        fw->queued = true;
        return true;
    }
    return false;
}

static void on_wake(sm_data_wait *w)
{
    wake(((fetch_link *)w)->fw);
}

static void on_timeout(sm_timer *t)
{
    sm_fetch_wait *fw = (sm_fetch_wait *)((char *)t - offsetof(sm_fetch_wait, timer));
    wake(fw);
}

static void on_cancel(sm_req *req)
{
    sm_fetch_wait *fw = req->pending;
    unpark(fw);
    sm_req_free(req);
}

/* A partition named twice is fetched once, as Kafka's request map does;
 * topics left with no partitions are dropped. */
static int dedupe(sm_fetch_req *fr, int16_t v)
{
    if (count_parts(fr) < 2)
        return SM_OK;
    sm_map seen;
    sm_map_init(&seen);
    int32_t tk = 0;
    for (int32_t i = 0; i < fr->topic_count; i++) {
        sm_fetch_topic t = fr->topics[i];
        int32_t pk = 0;
        for (int32_t j = 0; j < t.partition_count; j++) {
            char key[SM_TOPIC_NAME_MAX + 24];
            int kl;
            if (v >= SM_FETCH_TOPIC_IDS) {
                kl = 0;
                for (int q = 0; q < 16; q++)
                    kl += snprintf(key + kl, sizeof key - (size_t)kl, "%02x", t.topic_id[q]);
                kl += snprintf(key + kl, sizeof key - (size_t)kl, "\x01%d", t.partitions[j].partition);
            } else {
                int tl = t.topic.len > SM_TOPIC_NAME_MAX ? SM_TOPIC_NAME_MAX
                                                         : (t.topic.len > 0 ? t.topic.len : 0);
                kl = snprintf(key, sizeof key, "%.*s\x01%d", tl, tl ? t.topic.p : "",
                              t.partitions[j].partition);
            }
            if (sm_map_get(&seen, key, (size_t)kl))
                continue;
            if (sm_map_put(&seen, key, (size_t)kl, &seen) != SM_OK) {
                sm_map_release(&seen);
                return SM_ENOMEM;
            }
            t.partitions[pk++] = t.partitions[j];
        }
        t.partition_count = pk;
        if (pk)
            fr->topics[tk++] = t;
    }
    fr->topic_count = tk;
    sm_map_release(&seen);
    return SM_OK;
}

void sm_handle_fetch(sm_req *req)
{
    sm_broker *b = req->b;
    sm_fetch_wait *fw = sm_arena_alloc(&req->arena, sizeof *fw);
    if (!fw) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    if (sm_fetch_req_decode(&req->body, req->hdr.api_version, &req->arena, &fw->fr) != SM_OK) {
        sm_req_fail_connection(req, "malformed Fetch request");
        return;
    }
    if (dedupe(&fw->fr, req->hdr.api_version) != SM_OK) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    const sm_fetch_req *fr = &fw->fr;
    int n = count_parts(fr);
    part_eval *ev = sm_arena_calloc(&req->arena, (size_t)n + 1, sizeof *ev);
    if (!ev) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    bool any_error;
    int64_t total = evaluate(b, req->hdr.api_version, fr, ev, &any_error);
    if (total >= fr->min_bytes || fr->max_wait_ms <= 0 || any_error || n == 0 || b->stopping) {
        respond(req, fr, ev);
        return;
    }
    release_eval(ev, n);

    /* park on every partition named and on a timer */
    fw->req = req;
    fw->seen = total;
    fw->links = sm_arena_calloc(&req->arena, (size_t)n, sizeof *fw->links);
    if (!fw->links) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < fr->topic_count; i++) {
        sm_topic *t = find_topic(b, req->hdr.api_version, &fr->topics[i]);
        for (int32_t j = 0; j < fr->topics[i].partition_count; j++) {
            sm_partition *p = t->parts[fr->topics[i].partitions[j].partition];
            fetch_link *l = &fw->links[fw->nlinks++];
            l->fw = fw;
            l->base.appended = on_appended;
            l->base.wake = on_wake;
            sm_partition_wait_data(p, &l->base);
        }
    }
    sm_timer_init(&fw->timer, on_timeout);
    int32_t wait = fr->max_wait_ms > 600000 ? 600000 : fr->max_wait_ms;
    sm_timer_arm(b->loop, &fw->timer, sm_mono_ms() + wait);
    req->pending = fw;
    req->cancel = on_cancel;
}
