/* h_group.c: the group membership APIs: FindCoordinator, JoinGroup,
 * SyncGroup, Heartbeat, LeaveGroup, DescribeGroups, ListGroups, DeleteGroups.
 * Each decodes,
 * checks the request against the group as Kafka's GroupCoordinator does, and
 * drives the state machine of group.c; a JoinGroup or SyncGroup that must
 * wait is parked on its member and answered by group.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "broker/api.h"
#include "broker/broker.h"
#include "broker/conn.h"
#include "broker/group.h"
#include "proto/delete_groups.h"
#include "proto/describe_groups.h"
#include "proto/find_coordinator.h"
#include "proto/heartbeat.h"
#include "proto/join_group.h"
#include "proto/kafka.h"
#include "proto/leave_group.h"
#include "proto/list_groups.h"
#include "proto/metadata.h"
#include "proto/sync_group.h"

/* ---- FindCoordinator --------------------------------------------------------------- */

void sm_handle_find_coordinator(sm_req *req)
{
    sm_broker *b = req->b;
    sm_find_coordinator_req fr;
    if (sm_find_coordinator_req_decode(&req->body, req->hdr.api_version, &req->arena, &fr) != SM_OK) {
        sm_req_fail_connection(req, "malformed FindCoordinator request");
        return;
    }
    sm_find_coordinator_resp resp = {0};
    resp.coordinator_count = fr.key_count;
    resp.coordinators =
        sm_arena_calloc(&req->arena, (size_t)fr.key_count + 1, sizeof *resp.coordinators);
    if (!resp.coordinators) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < fr.key_count; i++) {
        sm_find_coordinator_one *c = &resp.coordinators[i];
        c->key = fr.keys[i];
        if (fr.key_type != 0) {
            /* No transactions: a fatal answer the client reports at once (Kafka's
             * TRANSACTIONAL_ID_AUTHORIZATION_FAILED, as InitProducerId answers).
             * COORDINATOR_NOT_AVAILABLE is retriable: the Java producer's
             * initTransactions() retried it until max.block.ms and timed out. */
            c->error_code = SM_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
            c->error_message = SM_STR_LIT("transactions are not supported by samsa-broker");
            c->node_id = -1;
            c->host = SM_STR_LIT("");
            c->port = -1;
        } else {
            c->node_id = b->cfg.node_id;
            c->host = sm_str_c(b->adv_host);
            c->port = b->adv_port;
        }
    }
    sm_resp_begin(req);
    sm_find_coordinator_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}

/* ---- JoinGroup ------------------------------------------------------------------------ */

/* A parked JoinGroup or SyncGroup whose connection closed forgets itself;
 * the member stays until its session times out. */
static void join_cancel(sm_req *req)
{
    sm_member *m = req->pending;
    if (m && m->join_req == req)
        m->join_req = NULL;
    sm_req_free(req);
}

static void sync_cancel(sm_req *req)
{
    sm_member *m = req->pending;
    if (m && m->sync_req == req)
        m->sync_req = NULL;
    sm_req_free(req);
}

static bool supports_common_protocol(sm_group *g, const sm_join_group_req *jr, sm_member *self)
{
    for (int32_t i = 0; i < jr->protocol_count; i++) {
        bool all = true;
        char name[256];
        int n = jr->protocols[i].name.len;
        if (n < 0 || n >= (int)sizeof name)
            continue;
        memcpy(name, jr->protocols[i].name.p, (size_t)n);
        name[n] = 0;
        for (sm_member *m = g->members; m && all; m = m->next)
            if (m != self && !m->pending && !sm_member_protocol_find(m, name))
                all = false;
        if (all)
            return true;
    }
    return false;
}

static void park_join(sm_member *m, sm_req *req)
{
    if (m->join_req && m->join_req != req) {
        sm_req *old = m->join_req;
        m->join_req = NULL;
        sm_join_error(old, SM_KERR_REBALANCE_IN_PROGRESS, m->id);
    }
    m->join_req = req;
    req->pending = m;
    req->cancel = join_cancel;
    sm_member_touch(m);
}

/* The JoinGroup answer of a static member back in a Stable group: the
 * current generation, no member list, leader as given. From v9 (KIP-814),
 * as Kafka answers: the leader is named as it is now, and a returning
 * leader gets the members with SkipAssignment set. */
static void answer_static_rejoin(sm_member *m, sm_req *req, const char *leader)
{
    sm_group *g = m->g;
    sm_join_group_resp resp = {0};
    resp.generation_id = g->generation;
    resp.protocol_type = g->protocol_type ? sm_str_c(g->protocol_type) : SM_STR_NULL;
    resp.protocol_name = sm_str_c(g->protocol ? g->protocol : "");
    resp.leader = sm_str_c(leader ? leader : "");
    resp.member_id = sm_str_c(m->id);
    if (req->hdr.api_version >= 9) {
        bool is_leader = g->leader && !strcmp(g->leader, m->id);
        resp.leader = sm_str_c(g->leader ? g->leader : "");
        if (is_leader && !sm_join_members(g, req, &resp)) {
            sm_join_error(req, SM_KERR_UNKNOWN_SERVER_ERROR, m->id);
            return;
        }
        resp.skip_assignment = is_leader;
    }
    sm_join_send(req, &resp);
}

/* A member counted in the group now (new, or back with the id it was
 * given): it waits in the rebalance this starts, or stretches the initial
 * delay of one already under way. */
static void member_joined(sm_group *g, sm_member *m, sm_req *req)
{
    sm_broker *b = g->b;
    sm_info("group %s: member %s (%s) joins", g->id, m->id, m->client_id);
    park_join(m, req);
    if (g->state != SM_GROUP_PREPARING_REBALANCE)
        sm_group_prepare_rebalance(g, "a new member joined");
    else if (g->delay_until_ms && g->delay_until_ms < g->delay_limit_ms) {
        /* the initial delay stretches while members keep arriving */
        int64_t until = sm_mono_ms() + b->cfg.group_initial_rebalance_delay_ms;
        g->delay_until_ms = until < g->delay_limit_ms ? until : g->delay_limit_ms;
        sm_group_arm_timer(g);
    }
    sm_group_maybe_complete_join(g);
}

/* A static member (group.instance.id) back with a new incarnation under the
 * new id `id`: the old incarnation is fenced, the member keeps its place. */
static void join_static_rejoin(sm_group *g, sm_member *self, const char *id, sm_req *req,
                               const sm_join_group_req *jr)
{
    sm_info("group %s: static member %s rejoins as %s", g->id, self->instance_id, id);
    if (self->join_req) {
        sm_req *old = self->join_req;
        self->join_req = NULL;
        sm_join_error(old, SM_KERR_FENCED_INSTANCE_ID, self->id);
    }
    sm_sync_answer(self, SM_KERR_FENCED_INSTANCE_ID);
    bool was_leader = g->leader && !strcmp(g->leader, self->id);
    char *nid = strdup(id);
    if (!nid) {
        sm_join_error(req, SM_KERR_UNKNOWN_SERVER_ERROR, "");
        return;
    }
    char *old_id = self->id;
    self->id = nid;
    if (was_leader) {
        free(g->leader);
        g->leader = strdup(id);
    }
    self->session_timeout_ms = jr->session_timeout_ms;
    self->rebalance_timeout_ms = jr->rebalance_timeout_ms;
    sm_member_set_client(self, req);
    bool oom = false;
    sm_member_set_protocols(self, jr, &oom);
    if (oom || !self->client_id || !self->client_host) {
        free(old_id);
        sm_member_remove(g, self, SM_KERR_UNKNOWN_SERVER_ERROR, "out of memory");
        sm_join_error(req, SM_KERR_UNKNOWN_SERVER_ERROR, "");
        return;
    }
    if (g->state == SM_GROUP_STABLE && sm_group_protocol_unchanged(g)) {
        /* Kafka (updateStaticMemberThenRebalanceOrCompleteJoin): a
         * static member back in a Stable group whose protocol would
         * stay the same takes its old assignment without a
         * rebalance, even as the leader or with another
         * subscription; the answer names the leader as it was
         * before (the old member id when it led), so the returning
         * member does not assign, and its SyncGroup gets what it had */
        answer_static_rejoin(self, req, was_leader ? old_id : g->leader);
        free(old_id);
        sm_member_touch(self);
        sm_group_persist(g);
        return;
    }
    free(old_id);
    park_join(self, req);
    if (g->state != SM_GROUP_PREPARING_REBALANCE)
        sm_group_prepare_rebalance(g, "a static member rejoined");
    sm_group_maybe_complete_join(g);
}

/* JoinGroup without a member id (Kafka's doUnknownJoinGroup): a static
 * member's new incarnation, or a new member (which, from v4 without an
 * instance id, must first come back with the id it is given: KIP-394). */
static void join_unknown_member(sm_group *g, sm_member *self, sm_req *req,
                                const sm_join_group_req *jr)
{
    sm_broker *b = g->b;
    char id[256];
    sm_member_new_id(id, sizeof id, req->hdr.client_id);
    if (jr->group_instance_id.len >= 0 && self) {
        join_static_rejoin(g, self, id, req, jr);
        return;
    }
    if (b->cfg.group_max_size > 0 && g->nmembers >= b->cfg.group_max_size) {
        sm_join_error(req, SM_KERR_GROUP_MAX_SIZE_REACHED, "");
        return;
    }
    bool need_id_first = req->hdr.api_version >= 4 && jr->group_instance_id.len < 0;
    sm_member *m = sm_member_add(g, id, jr, req, need_id_first);
    if (!m) {
        sm_join_error(req, SM_KERR_UNKNOWN_SERVER_ERROR, "");
        return;
    }
    if (need_id_first) {
        /* KIP-394: the client must come back with this id */
        sm_join_error(req, SM_KERR_MEMBER_ID_REQUIRED, m->id);
        return;
    }
    member_joined(g, m, req);
}

/* JoinGroup with a member id (Kafka's doCurrentMemberJoinGroup): a member
 * coming back with the id MEMBER_ID_REQUIRED gave it, or a known member
 * rejoining, which rebalances unless nothing changed. */
static void join_known_member(sm_group *g, sm_member *self, const char *mid, sm_req *req,
                              const sm_join_group_req *jr)
{
    sm_broker *b = g->b;
    if (!self) {
        bool fenced = sm_member_find_instance(g, jr->group_instance_id) != NULL;
        sm_join_error(req, fenced ? SM_KERR_FENCED_INSTANCE_ID : SM_KERR_UNKNOWN_MEMBER_ID, mid);
        return;
    }
    if (!sm_group_str_is(self->instance_id, jr->group_instance_id)) {
        sm_join_error(req, SM_KERR_FENCED_INSTANCE_ID, mid);
        return;
    }
    self->session_timeout_ms = jr->session_timeout_ms;
    self->rebalance_timeout_ms = jr->rebalance_timeout_ms;
    bool oom = false;
    bool changed = sm_member_set_protocols(self, jr, &oom);
    if (oom) {
        sm_member_remove(g, self, SM_KERR_UNKNOWN_SERVER_ERROR, "out of memory");
        sm_join_error(req, SM_KERR_UNKNOWN_SERVER_ERROR, mid);
        return;
    }
    if (self->pending) {
        if (b->cfg.group_max_size > 0 && g->nmembers >= b->cfg.group_max_size) {
            /* the id was handed out while there was room; there is none now */
            sm_member_remove(g, self, SM_KERR_GROUP_MAX_SIZE_REACHED, "group.max.size reached");
            sm_join_error(req, SM_KERR_GROUP_MAX_SIZE_REACHED, mid);
            return;
        }
        self->pending = false;
        g->nmembers++;
        member_joined(g, self, req);
        return;
    }
    bool is_leader = g->leader && !strcmp(g->leader, self->id);
    switch (g->state) {
    case SM_GROUP_PREPARING_REBALANCE:
        park_join(self, req);
        sm_group_maybe_complete_join(g);
        return;
    case SM_GROUP_COMPLETING_REBALANCE:
        if (!changed) {
            /* the same member asking again: the same answer */
            self->join_req = req;
            sm_join_answer(self);
            sm_member_touch(self);
            return;
        }
        park_join(self, req);
        sm_group_prepare_rebalance(g, "a member changed its subscription");
        return;
    case SM_GROUP_STABLE:
        if (!changed && !is_leader) {
            self->join_req = req;
            sm_join_answer(self);
            sm_member_touch(self);
            return;
        }
        park_join(self, req);
        sm_group_prepare_rebalance(g, is_leader ? "the leader rejoined"
                                                : "a member changed its subscription");
        return;
    default:
        park_join(self, req);
        sm_group_prepare_rebalance(g, "a member rejoined");
        return;
    }
}

/* Decodes and checks what every JoinGroup must satisfy (group id, session
 * timeout bounds, a protocol in common with the group), then goes to the
 * case: unknown member (new, or a static member's new incarnation) or
 * known member. */
void sm_handle_join_group(sm_req *req)
{
    sm_broker *b = req->b;
    sm_join_group_req jr;
    if (sm_join_group_req_decode(&req->body, req->hdr.api_version, &req->arena, &jr) != SM_OK) {
        sm_req_fail_connection(req, "malformed JoinGroup request");
        return;
    }
    char mid[256];
    int mlen = jr.member_id.len > 0 ? (jr.member_id.len > 200 ? 200 : jr.member_id.len) : 0;
    snprintf(mid, sizeof mid, "%.*s", mlen, mlen ? jr.member_id.p : "");
    if (jr.group_id.len <= 0) {
        sm_join_error(req, SM_KERR_INVALID_GROUP_ID, mid);
        return;
    }
    if (jr.reason.len > 0) /* v8+ (KIP-800) */
        sm_info("group %.*s: JoinGroup from %s (member '%s'): %.*s", (int)jr.group_id.len,
                jr.group_id.p, req->conn ? req->conn->peer : "-", mid, (int)jr.reason.len,
                jr.reason.p);
    if (jr.session_timeout_ms < b->cfg.group_min_session_timeout_ms ||
        jr.session_timeout_ms > b->cfg.group_max_session_timeout_ms) {
        sm_log_limited(SM_LOG_INFO, "JoinGroup %.*s from %s: session.timeout.ms %d outside "
                       "[group.min.session.timeout.ms %d, group.max.session.timeout.ms %d]",
                       (int)jr.group_id.len, jr.group_id.p, req->conn ? req->conn->peer : "-",
                       jr.session_timeout_ms, b->cfg.group_min_session_timeout_ms,
                       b->cfg.group_max_session_timeout_ms);
        sm_join_error(req, SM_KERR_INVALID_SESSION_TIMEOUT, mid);
        return;
    }
    if (jr.protocol_type.len <= 0 || jr.protocol_count <= 0) {
        sm_join_error(req, SM_KERR_INCONSISTENT_GROUP_PROTOCOL, mid);
        return;
    }
    if (jr.rebalance_timeout_ms <= 0)
        jr.rebalance_timeout_ms = jr.session_timeout_ms;
    sm_group *g = mlen ? sm_group_find(b, jr.group_id) : sm_group_get(b, jr.group_id);
    if (!g) {
        sm_join_error(req, mlen ? SM_KERR_UNKNOWN_MEMBER_ID : SM_KERR_UNKNOWN_SERVER_ERROR, mid);
        return;
    }
    sm_member *self = mlen ? sm_member_find(g, jr.member_id)
                           : sm_member_find_instance(g, jr.group_instance_id);
    if (g->nmembers > 0 && g->protocol_type && !sm_group_str_is(g->protocol_type, jr.protocol_type)) {
        sm_join_error(req, SM_KERR_INCONSISTENT_GROUP_PROTOCOL, mid);
        return;
    }
    if (!supports_common_protocol(g, &jr, self)) {
        sm_join_error(req, SM_KERR_INCONSISTENT_GROUP_PROTOCOL, mid);
        return;
    }
    if (!g->protocol_type || g->nmembers == 0) {
        free(g->protocol_type);
        g->protocol_type = sm_group_strdup(jr.protocol_type);
    }
    if (mlen == 0)
        join_unknown_member(g, self, req, &jr);
    else
        join_known_member(g, self, mid, req, &jr);
}

/* ---- SyncGroup ------------------------------------------------------------------------- */

/* Resolves (group, member id, instance id) as SyncGroup/Heartbeat/OffsetCommit
 * do; returns the error or NONE with *out set. */
static int16_t resolve_member(sm_group *g, sm_str member_id, sm_str instance_id, sm_member **out)
{
    *out = NULL;
    if (!g || g->state == SM_GROUP_DEAD)
        return SM_KERR_UNKNOWN_MEMBER_ID;
    sm_member *m = sm_member_find(g, member_id);
    if (!m || m->pending) {
        if (sm_member_find_instance(g, instance_id))
            return SM_KERR_FENCED_INSTANCE_ID;
        return SM_KERR_UNKNOWN_MEMBER_ID;
    }
    if (!sm_group_str_is(m->instance_id, instance_id) && instance_id.len >= 0)
        return SM_KERR_FENCED_INSTANCE_ID;
    *out = m;
    return SM_KERR_NONE;
}

void sm_handle_sync_group(sm_req *req)
{
    sm_sync_group_req sr;
    if (sm_sync_group_req_decode(&req->body, req->hdr.api_version, &req->arena, &sr) != SM_OK) {
        sm_req_fail_connection(req, "malformed SyncGroup request");
        return;
    }
    sm_group *g = sm_group_find(req->b, sr.group_id);
    sm_member *m;
    int16_t err = resolve_member(g, sr.member_id, sr.group_instance_id, &m);
    if (err == SM_KERR_NONE && sr.generation_id != g->generation)
        err = SM_KERR_ILLEGAL_GENERATION;
    /* v5 (KIP-559): a type or protocol named must be the group's */
    if (err == SM_KERR_NONE && sr.protocol_type.len >= 0 &&
        !(g->protocol_type && sm_group_str_is(g->protocol_type, sr.protocol_type)))
        err = SM_KERR_INCONSISTENT_GROUP_PROTOCOL;
    if (err == SM_KERR_NONE && sr.protocol_name.len >= 0 &&
        !(g->protocol && sm_group_str_is(g->protocol, sr.protocol_name)))
        err = SM_KERR_INCONSISTENT_GROUP_PROTOCOL;
    if (err == SM_KERR_NONE && g->state == SM_GROUP_PREPARING_REBALANCE)
        err = SM_KERR_REBALANCE_IN_PROGRESS;
    if (err == SM_KERR_NONE && g->state == SM_GROUP_EMPTY)
        err = SM_KERR_UNKNOWN_MEMBER_ID;
    if (err != SM_KERR_NONE) {
        sm_sync_send(req, err, NULL, NULL, 0);
        return;
    }
    sm_member_touch(m);
    if (g->state == SM_GROUP_STABLE) {
        sm_sync_send(req, SM_KERR_NONE, g, m->assignment, m->assignment_len);
        return;
    }
    /* CompletingRebalance: wait for the leader's assignment */
    if (m->sync_req) {
        sm_req *old = m->sync_req;
        m->sync_req = NULL;
        sm_sync_send(old, SM_KERR_REBALANCE_IN_PROGRESS, NULL, NULL, 0);
    }
    m->sync_req = req;
    req->pending = m;
    req->cancel = sync_cancel;
    if (!g->leader || strcmp(g->leader, m->id))
        return;
    for (int32_t i = 0; i < sr.assignment_count; i++) {
        sm_member *x = sm_member_find(g, sr.assignments[i].member_id);
        if (!x || x->pending)
            continue;
        sm_str a = sr.assignments[i].assignment;
        uint8_t *copy = malloc((size_t)(a.len > 0 ? a.len : 0) + 1);
        if (!copy)
            continue;
        if (a.len > 0)
            memcpy(copy, a.p, (size_t)a.len);
        free(x->assignment);
        x->assignment = copy;
        x->assignment_len = a.len > 0 ? a.len : 0;
    }
    sm_group_set_state(g, SM_GROUP_STABLE);
    sm_group_persist(g);
    for (sm_member *x = g->members; x; x = x->next)
        sm_sync_answer(x, SM_KERR_NONE);
}

/* ---- Heartbeat ------------------------------------------------------------------------ */

void sm_handle_heartbeat(sm_req *req)
{
    sm_heartbeat_req hr;
    if (sm_heartbeat_req_decode(&req->body, req->hdr.api_version, &req->arena, &hr) != SM_OK) {
        sm_req_fail_connection(req, "malformed Heartbeat request");
        return;
    }
    sm_group *g = sm_group_find(req->b, hr.group_id);
    sm_member *m;
    int16_t err = resolve_member(g, hr.member_id, hr.group_instance_id, &m);
    if (err == SM_KERR_NONE) {
        sm_member_touch(m);
        if (g->state == SM_GROUP_EMPTY)
            err = SM_KERR_UNKNOWN_MEMBER_ID;
        else if (hr.generation_id != g->generation)
            err = SM_KERR_ILLEGAL_GENERATION;
        else if (g->state == SM_GROUP_PREPARING_REBALANCE)
            err = SM_KERR_REBALANCE_IN_PROGRESS;
    }
    sm_heartbeat_resp resp = {0, err};
    sm_resp_begin(req);
    sm_heartbeat_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}

/* ---- LeaveGroup ------------------------------------------------------------------------ */

void sm_handle_leave_group(sm_req *req)
{
    sm_leave_group_req lr;
    if (sm_leave_group_req_decode(&req->body, req->hdr.api_version, &req->arena, &lr) != SM_OK) {
        sm_req_fail_connection(req, "malformed LeaveGroup request");
        return;
    }
    sm_group *g = sm_group_find(req->b, lr.group_id);
    sm_leave_group_resp resp = {0};
    resp.members = sm_arena_calloc(&req->arena, (size_t)lr.member_count + 1, sizeof *resp.members);
    if (!resp.members) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    resp.member_count = lr.member_count;
    int left = 0;
    for (int32_t i = 0; i < lr.member_count; i++) {
        sm_leave_group_member *lm = &lr.members[i];
        sm_leave_group_member_resp *out = &resp.members[i];
        out->member_id = lm->member_id;
        out->group_instance_id = lm->group_instance_id;
        sm_member *m = NULL;
        int16_t err = SM_KERR_UNKNOWN_MEMBER_ID;
        if (g && lm->member_id.len <= 0 && lm->group_instance_id.len >= 0) {
            m = sm_member_find_instance(g, lm->group_instance_id); /* by instance id alone */
            err = m ? SM_KERR_NONE : SM_KERR_UNKNOWN_MEMBER_ID;
        } else if (g) {
            err = resolve_member(g, lm->member_id, lm->group_instance_id, &m);
        }
        out->error_code = err;
        if (m && lm->reason.len > 0)
            sm_info("group %s: member %s leaves: %.*s", g->id, m->id, (int)lm->reason.len,
                    lm->reason.p);
        if (m) {
            sm_member_remove(g, m, SM_KERR_UNKNOWN_MEMBER_ID, "LeaveGroup");
            left++;
        }
    }
    if (req->hdr.api_version < 3)
        resp.error_code = lr.member_count > 0 ? resp.members[0].error_code : SM_KERR_NONE;
    else if (!g)
        resp.error_code = SM_KERR_UNKNOWN_MEMBER_ID;
    if (left)
        sm_group_after_departure(g, "a member left the group");
    sm_resp_begin(req);
    sm_leave_group_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}

/* ---- DescribeGroups / ListGroups / DeleteGroups -------------------------------------------- */

void sm_handle_describe_groups(sm_req *req)
{
    sm_describe_groups_req dr;
    if (sm_describe_groups_req_decode(&req->body, req->hdr.api_version, &req->arena, &dr) != SM_OK) {
        sm_req_fail_connection(req, "malformed DescribeGroups request");
        return;
    }
    sm_describe_groups_resp resp = {0};
    resp.group_count = dr.group_count;
    resp.groups = sm_arena_calloc(&req->arena, (size_t)dr.group_count + 1, sizeof *resp.groups);
    if (!resp.groups) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < dr.group_count; i++) {
        sm_describe_groups_group *out = &resp.groups[i];
        out->group_id = dr.groups[i];
        out->authorized_operations = SM_AUTHORIZED_OPERATIONS_OMITTED; /* see below */
        out->protocol_type = out->protocol_data = SM_STR_LIT("");
        sm_group *g = sm_group_find(req->b, dr.groups[i]);
        if (dr.groups[i].len <= 0) {
            out->error_code = SM_KERR_INVALID_GROUP_ID;
            out->group_state = SM_STR_LIT("");
            continue;
        }
        if (!g && req->hdr.api_version >= SM_DESCRIBE_GROUPS_NOT_FOUND) {
            /* KIP-1043: a group that does not exist is an error, with Kafka's message */
            out->error_code = SM_KERR_GROUP_ID_NOT_FOUND;
            out->group_state = SM_STR_LIT("");
            size_t n = (size_t)dr.groups[i].len + sizeof "Group  not found.";
            char *msg = sm_arena_alloc(&req->arena, n);
            if (!msg) {
                sm_req_fail_connection(req, "out of memory");
                return;
            }
            snprintf(msg, n, "Group %.*s not found.", (int)dr.groups[i].len, dr.groups[i].p);
            out->error_message = sm_str_c(msg);
            continue;
        }
        if (!g) {
            out->group_state = sm_str_c(sm_group_state_name(SM_GROUP_DEAD));
            continue;
        }
        out->group_state = sm_str_c(sm_group_state_name(g->state));
        out->protocol_type = sm_str_c(g->protocol_type ? g->protocol_type : "");
        bool stable = g->state == SM_GROUP_STABLE;
        out->protocol_data = sm_str_c(stable && g->protocol ? g->protocol : "");
        out->members = sm_arena_calloc(&req->arena, (size_t)g->nmembers + 1, sizeof *out->members);
        if (!out->members) {
            sm_req_fail_connection(req, "out of memory");
            return;
        }
        for (sm_member *m = g->members; m; m = m->next) {
            if (m->pending)
                continue;
            sm_describe_groups_member *dm = &out->members[out->member_count++];
            dm->member_id = sm_str_c(m->id);
            dm->group_instance_id = m->instance_id ? sm_str_c(m->instance_id) : SM_STR_NULL;
            dm->client_id = sm_str_c(m->client_id);
            dm->client_host = sm_str_c(m->client_host);
            const sm_member_protocol *p = stable && g->protocol ? sm_member_protocol_find(m, g->protocol) : NULL;
            dm->member_metadata = p ? (sm_str){(const char *)p->metadata, p->metadata_len}
                                    : SM_STR_LIT("");
            dm->member_assignment = stable && m->assignment
                                        ? (sm_str){(const char *)m->assignment, m->assignment_len}
                                        : SM_STR_LIT("");
        }
    }
    sm_resp_begin(req);
    /* asked for (v3+): no authorizer, so every operation a group supports,
     * for each group answered without an error, as Kafka answers */
    for (int32_t i = 0; i < resp.group_count && dr.include_authorized_operations; i++)
        if (resp.groups[i].error_code == SM_KERR_NONE)
            resp.groups[i].authorized_operations = SM_ACL_OPS_GROUP;
    sm_describe_groups_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}

/* Whether s equals the C string c but for case, once s is trimmed of
 * blanks (Kafka compares filters so). */
static bool eq_trim_nocase(sm_str s, const char *c)
{
    int32_t lo = 0, hi = s.len;
    while (lo < hi && (s.p[lo] == ' ' || s.p[lo] == '\t'))
        lo++;
    while (hi > lo && (s.p[hi - 1] == ' ' || s.p[hi - 1] == '\t'))
        hi--;
    return (size_t)(hi - lo) == strlen(c) && strncasecmp(s.p + lo, c, (size_t)(hi - lo)) == 0;
}

/* ListGroups' filters (v4+ states, v5+ types), as Kafka's
 * GroupMetadataManager.listGroups applies them: a state matches whatever
 * its case; every group here is a classic one. */
static bool list_groups_wanted(const sm_list_groups_req *lr, const char *state)
{
    bool ok = lr->states_filter_count == 0;
    for (int32_t i = 0; i < lr->states_filter_count && !ok; i++)
        ok = eq_trim_nocase(lr->states_filter[i], state);
    if (!ok)
        return false;
    ok = lr->types_filter_count == 0;
    for (int32_t i = 0; i < lr->types_filter_count && !ok; i++)
        ok = eq_trim_nocase(lr->types_filter[i], "classic");
    return ok;
}

void sm_handle_list_groups(sm_req *req)
{
    sm_list_groups_req lr;
    if (sm_list_groups_req_decode(&req->body, req->hdr.api_version, &req->arena, &lr) != SM_OK) {
        sm_req_fail_connection(req, "malformed ListGroups request");
        return;
    }
    sm_broker *b = req->b;
    sm_list_groups_resp resp = {0};
    resp.groups = sm_arena_calloc(&req->arena, b->groups.len + 1, sizeof *resp.groups);
    if (!resp.groups) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    const char *k;
    void *v;
    for (size_t it = 0; sm_map_next(&b->groups, &it, &k, &v);) {
        sm_group *g = v;
        const char *state = sm_group_state_name(g->state);
        if (!list_groups_wanted(&lr, state))
            continue;
        sm_list_groups_group *lg = &resp.groups[resp.group_count++];
        lg->group_id = sm_str_c(g->id);
        lg->protocol_type = sm_str_c(g->protocol_type ? g->protocol_type : "");
        lg->group_state = sm_str_c(state);
        lg->group_type = SM_STR_LIT("classic");
    }
    sm_resp_begin(req);
    sm_list_groups_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}

static void delete_groups_respond(sm_offsets_write_wait *pw)
{
    sm_req *req = pw->req;
    sm_resp_begin(req);
    sm_delete_groups_resp_encode(&req->w, req->hdr.api_version, pw->resp);
    sm_req_complete(req);
}

void sm_handle_delete_groups(sm_req *req)
{
    sm_broker *b = req->b;
    sm_delete_groups_req dr;
    if (sm_delete_groups_req_decode(&req->body, req->hdr.api_version, &req->arena, &dr) != SM_OK) {
        sm_req_fail_connection(req, "malformed DeleteGroups request");
        return;
    }
    sm_delete_groups_resp *resp = sm_arena_alloc(&req->arena, sizeof *resp);
    sm_offsets_write_wait *pw = sm_arena_alloc(&req->arena, sizeof *pw);
    if (resp)
        resp->results =
            sm_arena_calloc(&req->arena, (size_t)dr.groups_name_count + 1, sizeof *resp->results);
    if (!resp || !pw || !resp->results) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    pw->req = req;
    pw->resp = resp;
    pw->respond = delete_groups_respond;
    resp->result_count = dr.groups_name_count;
    sm_offsets_batch rb;
    sm_offsets_batch_begin(&rb);
    for (int32_t i = 0; i < dr.groups_name_count; i++) {
        sm_delete_groups_result *r = &resp->results[i];
        r->group_id = dr.groups_names[i];
        sm_group *g = sm_group_find(b, dr.groups_names[i]);
        if (dr.groups_names[i].len <= 0) {
            r->error_code = SM_KERR_INVALID_GROUP_ID;
        } else if (!g) {
            r->error_code = SM_KERR_GROUP_ID_NOT_FOUND;
        } else if (g->state != SM_GROUP_EMPTY || g->members) {
            r->error_code = SM_KERR_NON_EMPTY_GROUP;
        } else {
            const char *ok;
            void *ov;
            for (size_t jt = 0; sm_map_next(&g->offsets, &jt, &ok, &ov);) {
                const char *colon = strrchr(ok, ':');
                char topic[SM_TOPIC_NAME_MAX + 1];
                snprintf(topic, sizeof topic, "%.*s", (int)(colon - ok), ok);
                sm_offsets_batch_delete_offset(&rb, g->id, topic, atoi(colon + 1));
            }
            sm_offsets_batch_delete_group(&rb, g->id);
            sm_info("group %s deleted (%zu committed offset(s))", g->id, g->offsets.len);
            sm_group_remove(b, g);
        }
    }
    if (rb.n == 0) {
        sm_offsets_batch_release(&rb);
        delete_groups_respond(pw);
        return;
    }
    sm_offsets_write(req, &rb, pw);
    sm_offsets_batch_release(&rb);
}
