/* h_offsets.c: the committed-offsets APIs: OffsetCommit, OffsetFetch,
 * OffsetDelete. A commit is checked against its group as Kafka does
 * (generation, member), written to the offsets store (offsets.c) and
 * answered only once the store is fsynced past it; the offsets change in
 * memory at that moment too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "broker/api.h"
#include "broker/broker.h"
#include "broker/conn.h"
#include "broker/group.h"
#include "broker/topics.h"
#include "proto/kafka.h"
#include "proto/offset_commit.h"
#include "proto/offset_delete.h"
#include "proto/offset_fetch.h"

/* ---- OffsetCommit ------------------------------------------------------------------------- */

static void commit_respond(sm_offsets_write_wait *pw)
{
    sm_req *req = pw->req;
    sm_resp_begin(req);
    sm_offset_commit_resp_encode(&req->w, req->hdr.api_version, pw->resp);
    sm_req_complete(req);
}

/* The group-level verdict on a commit (Kafka's rules). */
static int16_t commit_allowed(sm_broker *b, const sm_offset_commit_req *cr, sm_group **gout)
{
    *gout = NULL;
    if (cr->group_id.len <= 0)
        return SM_KERR_INVALID_GROUP_ID;
    sm_group *g = sm_group_find(b, cr->group_id);
    bool simple = cr->generation_id < 0 && cr->member_id.len <= 0;
    if (simple) {
        /* a commit outside group management: only while no member is in the group */
        if (!g)
            g = sm_group_get(b, cr->group_id);
        if (!g)
            return SM_KERR_UNKNOWN_SERVER_ERROR;
        if (g->state != SM_GROUP_EMPTY)
            return SM_KERR_UNKNOWN_MEMBER_ID;
        *gout = g;
        return SM_KERR_NONE;
    }
    if (!g || g->state == SM_GROUP_EMPTY || g->state == SM_GROUP_DEAD)
        return SM_KERR_UNKNOWN_MEMBER_ID;
    sm_member *m = NULL;
    for (sm_member *x = g->members; x; x = x->next)
        if (!x->pending && sm_str_eqc(cr->member_id, x->id))
            m = x;
    if (!m) {
        if (cr->group_instance_id.len >= 0)
            for (sm_member *x = g->members; x; x = x->next)
                if (x->instance_id && sm_str_eqc(cr->group_instance_id, x->instance_id))
                    return SM_KERR_FENCED_INSTANCE_ID;
        return SM_KERR_UNKNOWN_MEMBER_ID;
    }
    if (cr->group_instance_id.len >= 0 &&
        (!m->instance_id || !sm_str_eqc(cr->group_instance_id, m->instance_id)))
        return SM_KERR_FENCED_INSTANCE_ID;
    if (cr->generation_id != g->generation)
        return SM_KERR_ILLEGAL_GENERATION;
    if (g->state == SM_GROUP_COMPLETING_REBALANCE)
        return SM_KERR_REBALANCE_IN_PROGRESS;
    /* a commit is a sign of life, as a heartbeat is */
    sm_timer_arm(b->loop, &m->session_timer, sm_mono_ms() + m->session_timeout_ms);
    *gout = g;
    return SM_KERR_NONE;
}

void sm_handle_offset_commit(sm_req *req)
{
    sm_broker *b = req->b;
    sm_offset_commit_req cr;
    if (sm_offset_commit_req_decode(&req->body, req->hdr.api_version, &req->arena, &cr) != SM_OK) {
        sm_req_fail_connection(req, "malformed OffsetCommit request");
        return;
    }
    sm_offset_commit_resp *resp = sm_arena_alloc(&req->arena, sizeof *resp);
    sm_offsets_write_wait *pw = sm_arena_alloc(&req->arena, sizeof *pw);
    int total = 0;
    for (int32_t i = 0; i < cr.topic_count; i++)
        total += cr.topics[i].partition_count;
    sm_offset_update *ups = sm_arena_calloc(&req->arena, (size_t)total + 1, sizeof *ups);
    if (resp)
        resp->topics = sm_arena_calloc(&req->arena, (size_t)cr.topic_count + 1, sizeof *resp->topics);
    if (!resp || !pw || !ups || !resp->topics) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    sm_group *g;
    int16_t gerr = commit_allowed(b, &cr, &g);
    char *gid = sm_arena_strndup(&req->arena, cr.group_id.p ? cr.group_id.p : "",
                                 cr.group_id.len > 0 ? (size_t)cr.group_id.len : 0);
    sm_offsets_batch rb;
    sm_offsets_batch_begin(&rb);
    int64_t now = sm_wall_ms();
    resp->topic_count = cr.topic_count;
    for (int32_t i = 0; i < cr.topic_count; i++) {
        sm_offset_commit_topic *ct = &cr.topics[i];
        sm_offset_commit_topic_resp *rt = &resp->topics[i];
        rt->name = ct->name;
        rt->partition_count = ct->partition_count;
        rt->partitions = sm_arena_calloc(&req->arena, (size_t)ct->partition_count + 1,
                                         sizeof *rt->partitions);
        if (!rt->partitions) {
            sm_offsets_batch_release(&rb);
            sm_req_fail_connection(req, "out of memory");
            return;
        }
        sm_topic *t = sm_topic_find(b, ct->name);
        char *tname = ct->name.len > 0 ? sm_arena_strndup(&req->arena, ct->name.p, (size_t)ct->name.len)
                                       : NULL;
        for (int32_t j = 0; j < ct->partition_count; j++) {
            sm_offset_commit_partition *cp = &ct->partitions[j];
            sm_offset_commit_partition_resp *rp = &rt->partitions[j];
            rp->partition_index = cp->partition_index;
            if (gerr != SM_KERR_NONE) {
                rp->error_code = gerr;
                continue;
            }
            if (!t || !tname || cp->partition_index < 0 || cp->partition_index >= t->npart) {
                rp->error_code = SM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            if (cp->committed_metadata.len > b->cfg.offset_metadata_max_bytes) {
                rp->error_code = SM_KERR_OFFSET_METADATA_TOO_LARGE;
                continue;
            }
            sm_offset_update *u = &ups[pw->nupdates++];
            u->topic = tname;
            u->partition = cp->partition_index;
            u->c.offset = cp->committed_offset;
            u->c.leader_epoch = cp->committed_leader_epoch;
            u->c.commit_ts = now;
            u->c.metadata = cp->committed_metadata.len >= 0
                                ? sm_arena_strndup(&req->arena, cp->committed_metadata.p,
                                                   (size_t)cp->committed_metadata.len)
                                : NULL;
            u->error_code = &rp->error_code;
            sm_offsets_batch_commit(&rb, gid, tname, cp->partition_index, &u->c);
        }
    }
    pw->group_id = gid;
    pw->updates = ups;
    pw->resp = resp;
    pw->respond = commit_respond;
    pw->req = req;
    if (gerr != SM_KERR_NONE && gerr != SM_KERR_UNKNOWN_TOPIC_OR_PARTITION)
        sm_log_limited(SM_LOG_INFO, "OffsetCommit for group %s from %s refused: %s", gid,
                       req->conn ? req->conn->peer : "-", sm_kerr_name(gerr));
    if (rb.n == 0) {
        sm_offsets_batch_release(&rb);
        commit_respond(pw);
        return;
    }
    sm_offsets_write(req, &rb, pw);
    sm_offsets_batch_release(&rb);
}

/* ---- OffsetFetch --------------------------------------------------------------------------- */

static int cmp_keys(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    const char *cx = strrchr(x, ':'), *cy = strrchr(y, ':');
    size_t lx = (size_t)(cx - x), ly = (size_t)(cy - y);
    int c = strncmp(x, y, lx < ly ? lx : ly);
    if (c || lx != ly)
        return c ? c : (lx < ly ? -1 : 1);
    return atoi(cx + 1) - atoi(cy + 1);
}

void sm_handle_offset_fetch(sm_req *req)
{
    sm_offset_fetch_req fr;
    if (sm_offset_fetch_req_decode(&req->body, req->hdr.api_version, &req->arena, &fr) != SM_OK) {
        sm_req_fail_connection(req, "malformed OffsetFetch request");
        return;
    }
    sm_group *g = sm_group_find(req->b, fr.group_id);
    sm_offset_fetch_resp resp = {0};
    if (fr.group_id.len <= 0)
        resp.error_code = SM_KERR_INVALID_GROUP_ID;
    if (fr.topic_count >= 0) {
        resp.topic_count = fr.topic_count;
        resp.topics = sm_arena_calloc(&req->arena, (size_t)fr.topic_count + 1, sizeof *resp.topics);
        if (!resp.topics) {
            sm_req_fail_connection(req, "out of memory");
            return;
        }
        for (int32_t i = 0; i < fr.topic_count; i++) {
            sm_offset_fetch_topic *ft = &fr.topics[i];
            sm_offset_fetch_topic_resp *rt = &resp.topics[i];
            rt->name = ft->name;
            rt->partition_count = ft->partition_index_count;
            rt->partitions = sm_arena_calloc(&req->arena, (size_t)ft->partition_index_count + 1,
                                             sizeof *rt->partitions);
            if (!rt->partitions) {
                sm_req_fail_connection(req, "out of memory");
                return;
            }
            for (int32_t j = 0; j < ft->partition_index_count; j++) {
                sm_offset_fetch_partition_resp *rp = &rt->partitions[j];
                rp->partition_index = ft->partition_indexes[j];
                rp->committed_offset = -1;
                rp->committed_leader_epoch = -1;
                rp->metadata = SM_STR_LIT("");
                char key[SM_TOPIC_NAME_MAX + 16];
                int n = ft->name.len > 0 && ft->name.len <= SM_TOPIC_NAME_MAX
                            ? snprintf(key, sizeof key, "%.*s:%d", (int)ft->name.len, ft->name.p,
                                       rp->partition_index)
                            : 0;
                sm_committed *c = g && n ? sm_map_get(&g->offsets, key, (size_t)n) : NULL;
                if (c) {
                    rp->committed_offset = c->offset;
                    rp->committed_leader_epoch = c->leader_epoch;
                    rp->metadata = c->metadata ? sm_str_c(c->metadata) : SM_STR_NULL;
                }
            }
        }
    } else if (g && g->offsets.len) {
        /* every committed offset of the group, by topic */
        const char **keys = sm_arena_calloc(&req->arena, g->offsets.len, sizeof *keys);
        resp.topics = sm_arena_calloc(&req->arena, g->offsets.len, sizeof *resp.topics);
        sm_offset_fetch_partition_resp *parts =
            sm_arena_calloc(&req->arena, g->offsets.len, sizeof *parts);
        if (!keys || !resp.topics || !parts) {
            sm_req_fail_connection(req, "out of memory");
            return;
        }
        size_t n = 0;
        const char *k;
        for (size_t it = 0; sm_map_next(&g->offsets, &it, &k, NULL);)
            keys[n++] = k;
        qsort(keys, n, sizeof *keys, cmp_keys);
        for (size_t i = 0; i < n; i++) {
            const char *colon = strrchr(keys[i], ':');
            sm_str tname = {keys[i], (int32_t)(colon - keys[i])};
            sm_offset_fetch_topic_resp *rt =
                resp.topic_count ? &resp.topics[resp.topic_count - 1] : NULL;
            if (!rt || !sm_str_eq(rt->name, tname)) {
                rt = &resp.topics[resp.topic_count++];
                rt->name = tname;
                rt->partitions = &parts[i];
            }
            sm_committed *c = sm_map_get(&g->offsets, keys[i], strlen(keys[i]));
            sm_offset_fetch_partition_resp *rp = &rt->partitions[rt->partition_count++];
            rp->partition_index = atoi(colon + 1);
            rp->committed_offset = c->offset;
            rp->committed_leader_epoch = c->leader_epoch;
            rp->metadata = c->metadata ? sm_str_c(c->metadata) : SM_STR_NULL;
        }
    }
    sm_resp_begin(req);
    sm_offset_fetch_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}

/* ---- OffsetDelete --------------------------------------------------------------------------- */

/* Whether a member of g subscribes to topic, read from the consumer
 * protocol's subscription (Version int16, Topics [STRING], ...). */
static bool subscribed(sm_group *g, sm_str topic)
{
    if (!g->protocol_type || strcmp(g->protocol_type, "consumer") || !g->protocol)
        return false;
    for (sm_member *m = g->members; m; m = m->next) {
        for (int i = 0; i < m->nprotocols; i++) {
            if (strcmp(m->protocols[i].name, g->protocol))
                continue;
            sm_rd r;
            sm_rd_init(&r, m->protocols[i].metadata, (size_t)m->protocols[i].metadata_len);
            (void)sm_rd_i16(&r);
            int32_t n = sm_rd_array(&r, 2, false);
            for (int32_t j = 0; j < n && !r.err; j++)
                if (sm_str_eq(sm_rd_str(&r), topic))
                    return true;
        }
    }
    return false;
}

typedef struct delete_state {
    sm_offset_delete_resp resp;
} delete_state;

static void offset_delete_respond(sm_offsets_write_wait *pw)
{
    sm_req *req = pw->req;
    sm_resp_begin(req);
    sm_offset_delete_resp_encode(&req->w, req->hdr.api_version, pw->resp);
    sm_req_complete(req);
}

void sm_handle_offset_delete(sm_req *req)
{
    sm_broker *b = req->b;
    sm_offset_delete_req dr;
    if (sm_offset_delete_req_decode(&req->body, req->hdr.api_version, &req->arena, &dr) != SM_OK) {
        sm_req_fail_connection(req, "malformed OffsetDelete request");
        return;
    }
    sm_offset_delete_resp *resp = sm_arena_alloc(&req->arena, sizeof *resp);
    sm_offsets_write_wait *pw = sm_arena_alloc(&req->arena, sizeof *pw);
    if (!resp || !pw) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    pw->req = req;
    pw->resp = resp;
    pw->respond = offset_delete_respond;
    sm_group *g = sm_group_find(b, dr.group_id);
    if (dr.group_id.len <= 0)
        resp->error_code = SM_KERR_INVALID_GROUP_ID;
    else if (!g)
        resp->error_code = SM_KERR_GROUP_ID_NOT_FOUND;
    if (resp->error_code != SM_KERR_NONE) {
        offset_delete_respond(pw);
        return;
    }
    resp->topics = sm_arena_calloc(&req->arena, (size_t)dr.topic_count + 1, sizeof *resp->topics);
    if (!resp->topics) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    resp->topic_count = dr.topic_count;
    sm_offsets_batch rb;
    sm_offsets_batch_begin(&rb);
    for (int32_t i = 0; i < dr.topic_count; i++) {
        sm_offset_delete_topic *dt = &dr.topics[i];
        sm_offset_delete_topic_resp *rt = &resp->topics[i];
        rt->name = dt->name;
        rt->partition_count = dt->partition_count;
        rt->partitions =
            sm_arena_calloc(&req->arena, (size_t)dt->partition_count + 1, sizeof *rt->partitions);
        if (!rt->partitions) {
            sm_offsets_batch_release(&rb);
            sm_req_fail_connection(req, "out of memory");
            return;
        }
        bool busy = subscribed(g, dt->name);
        char tname[SM_TOPIC_NAME_MAX + 1];
        bool named = dt->name.len > 0 && dt->name.len <= SM_TOPIC_NAME_MAX;
        if (named) {
            memcpy(tname, dt->name.p, (size_t)dt->name.len);
            tname[dt->name.len] = 0;
        }
        for (int32_t j = 0; j < dt->partition_count; j++) {
            sm_offset_delete_partition_resp *rp = &rt->partitions[j];
            rp->partition_index = dt->partitions[j].partition_index;
            if (!named || !sm_topic_find(b, dt->name)) {
                rp->error_code = SM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            } else if (busy) {
                rp->error_code = SM_KERR_GROUP_SUBSCRIBED_TO_TOPIC;
            } else {
                sm_offsets_batch_delete_offset(&rb, g->id, tname, rp->partition_index);
                sm_group_offset_set(g, tname, rp->partition_index, NULL);
            }
        }
    }
    if (rb.n == 0) {
        sm_offsets_batch_release(&rb);
        offset_delete_respond(pw);
        return;
    }
    sm_offsets_write(req, &rb, pw);
    sm_offsets_batch_release(&rb);
}
