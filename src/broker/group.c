/* group.c: the group coordinator's state: groups, members, the rebalance
 * state machine and its timers, and the answers to parked JoinGroup and
 * SyncGroup requests (see group.h). The group APIs that drive it are
 * h_group.c; committed offsets are offsets.c.
 *
 * Invariants: a member has at most one parked JoinGroup and one parked
 * SyncGroup; every path that removes a member or changes the generation
 * answers what it had parked first, so no request outlives its member. A
 * parked request whose connection closes only forgets itself: the member
 * stays until its session times out, as in Kafka. */
#include "broker/group.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "broker/broker.h"
#include "broker/conn.h"
#include "proto/join_group.h"
#include "proto/kafka.h"
#include "proto/sync_group.h"


const char *sm_group_state_name(sm_group_state s)
{
    switch (s) {
    case SM_GROUP_EMPTY: return "Empty";
    case SM_GROUP_PREPARING_REBALANCE: return "PreparingRebalance";
    case SM_GROUP_COMPLETING_REBALANCE: return "CompletingRebalance";
    case SM_GROUP_STABLE: return "Stable";
    case SM_GROUP_DEAD: return "Dead";
    }
    return "Unknown";
}

char *sm_group_strdup(sm_str s)
{
    if (s.len < 0)
        return NULL;
    char *p = malloc((size_t)s.len + 1);
    if (p) {
        if (s.len)
            memcpy(p, s.p, (size_t)s.len);
        p[s.len] = 0;
    }
    return p;
}

bool sm_group_str_is(const char *a, sm_str b)
{
    return a ? sm_str_eqc(b, a) : b.len < 0;
}

void sm_group_set_state(sm_group *g, sm_group_state s)
{
    if (g->state != s)
        sm_debug("group %s: %s -> %s (generation %d)", g->id, sm_group_state_name(g->state),
                 sm_group_state_name(s), g->generation);
    g->state = s;
    g->state_ts = sm_wall_ms();
}

/* ---- groups ------------------------------------------------------------------------ */

static void group_timer_fired(sm_timer *t);

sm_group *sm_group_find(sm_broker *b, sm_str id)
{
    if (id.len <= 0)
        return NULL;
    return sm_map_get(&b->groups, id.p, (size_t)id.len);
}

sm_group *sm_group_get(sm_broker *b, sm_str id)
{
    sm_group *g = sm_group_find(b, id);
    if (g || id.len <= 0)
        return g;
    g = calloc(1, sizeof *g);
    if (!g || !(g->id = sm_group_strdup(id))) {
        free(g);
        return NULL;
    }
    g->b = b;
    g->state = SM_GROUP_EMPTY;
    g->state_ts = sm_wall_ms();
    sm_map_init(&g->offsets);
    sm_timer_init(&g->timer, group_timer_fired);
    if (sm_map_put(&b->groups, g->id, strlen(g->id), g) != SM_OK) {
        free(g->id);
        free(g);
        return NULL;
    }
    return g;
}

static void member_free(sm_member *m);

void sm_group_free(sm_group *g)
{
    sm_timer_cancel(g->b->loop, &g->timer);
    while (g->members) {
        sm_member *m = g->members;
        g->members = m->next;
        member_free(m);
    }
    const char *k;
    void *v;
    for (size_t it = 0; sm_map_next(&g->offsets, &it, &k, &v);) {
        sm_committed *c = v;
        free(c->metadata);
        free(c);
    }
    sm_map_release(&g->offsets);
    free(g->protocol_type);
    free(g->protocol);
    free(g->leader);
    free(g->id);
    free(g);
}

/* ---- members ----------------------------------------------------------------------- */

static uint64_t rng_state;

void sm_member_new_id(char *out, size_t outlen, sm_str client_id)
{
    if (!rng_state) {
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, &rng_state, sizeof rng_state) != (ssize_t)sizeof rng_state)
            rng_state = (uint64_t)sm_mono_us() * 0x9e3779b97f4a7c15ull;
        if (fd >= 0)
            close(fd);
        rng_state |= 1;
    }
    uint64_t r[2];
    for (int i = 0; i < 2; i++) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        r[i] = rng_state;
    }
    int n = client_id.len > 0 ? (client_id.len > 128 ? 128 : client_id.len) : 0;
    snprintf(out, outlen, "%.*s%s%08x-%04x-%04x-%04x-%012llx", n, n ? client_id.p : "",
             n ? "-" : "", (unsigned)(r[0] >> 32), (unsigned)(r[0] >> 16) & 0xffff,
             (unsigned)r[0] & 0xffff, (unsigned)(r[1] >> 48),
             (unsigned long long)(r[1] & 0xffffffffffffull));
}

sm_member *sm_member_find(sm_group *g, sm_str id)
{
    for (sm_member *m = g->members; m; m = m->next)
        if (sm_str_eqc(id, m->id))
            return m;
    return NULL;
}

sm_member *sm_member_find_instance(sm_group *g, sm_str inst)
{
    if (inst.len < 0)
        return NULL;
    for (sm_member *m = g->members; m; m = m->next)
        if (m->instance_id && sm_str_eqc(inst, m->instance_id))
            return m;
    return NULL;
}

static void free_protocols(sm_member *m)
{
    for (int i = 0; i < m->nprotocols; i++) {
        free(m->protocols[i].name);
        free(m->protocols[i].metadata);
    }
    free(m->protocols);
    m->protocols = NULL;
    m->nprotocols = 0;
}

static void member_free(sm_member *m)
{
    sm_timer_cancel(m->g->b->loop, &m->session_timer);
    free_protocols(m);
    free(m->assignment);
    free(m->id);
    free(m->instance_id);
    free(m->client_id);
    free(m->client_host);
    free(m);
}

/* Copies the JoinGroup's protocols into m; returns true if they changed. */
bool sm_member_set_protocols(sm_member *m, const sm_join_group_req *jr, bool *oom)
{
    bool same = m->nprotocols == jr->protocol_count;
    for (int i = 0; same && i < m->nprotocols; i++) {
        const sm_join_group_protocol *p = &jr->protocols[i];
        same = sm_str_eqc(p->name, m->protocols[i].name) &&
               p->metadata.len == m->protocols[i].metadata_len &&
               (p->metadata.len <= 0 ||
                !memcmp(p->metadata.p, m->protocols[i].metadata, (size_t)p->metadata.len));
    }
    if (same)
        return false;
    free_protocols(m);
    m->protocols = calloc((size_t)jr->protocol_count + 1, sizeof *m->protocols);
    if (!m->protocols) {
        *oom = true;
        return true;
    }
    for (int32_t i = 0; i < jr->protocol_count; i++) {
        const sm_join_group_protocol *p = &jr->protocols[i];
        sm_member_protocol *mp = &m->protocols[i];
        mp->name = sm_group_strdup(p->name);
        mp->metadata_len = p->metadata.len > 0 ? p->metadata.len : 0;
        mp->metadata = malloc((size_t)mp->metadata_len + 1);
        if (!mp->name || !mp->metadata) {
            *oom = true;
            free(mp->name);
            free(mp->metadata);
            break;
        }
        if (mp->metadata_len)
            memcpy(mp->metadata, p->metadata.p, (size_t)mp->metadata_len);
        m->nprotocols = i + 1;
    }
    return true;
}

const sm_member_protocol *sm_member_protocol_find(const sm_member *m, const char *name)
{
    for (int i = 0; i < m->nprotocols; i++)
        if (!strcmp(m->protocols[i].name, name))
            return &m->protocols[i];
    return NULL;
}

static void session_expired(sm_timer *t);

/* The client id and host ("/1.2.3.4", as Kafka shows it) of the request's sender. */
void sm_member_set_client(sm_member *m, const sm_req *req)
{
    free(m->client_id);
    free(m->client_host);
    m->client_id = sm_group_strdup(req->hdr.client_id.len >= 0 ? req->hdr.client_id : SM_STR_LIT(""));
    char host[80];
    const char *peer = req->conn ? req->conn->peer : "";
    const char *colon = strrchr(peer, ':');
    snprintf(host, sizeof host, "/%.*s", colon ? (int)(colon - peer) : (int)strlen(peer), peer);
    m->client_host = strdup(host);
}

void sm_member_touch(sm_member *m)
{
    sm_timer_arm(m->g->b->loop, &m->session_timer, sm_mono_ms() + m->session_timeout_ms);
}

sm_member *sm_member_add(sm_group *g, const char *id, const sm_join_group_req *jr,
                         sm_req *req, bool pending)
{
    sm_member *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->g = g;
    m->id = strdup(id);
    m->instance_id = sm_group_strdup(jr->group_instance_id);
    sm_member_set_client(m, req);
    m->session_timeout_ms = jr->session_timeout_ms;
    m->rebalance_timeout_ms = jr->rebalance_timeout_ms;
    m->pending = pending;
    bool oom = false;
    sm_member_set_protocols(m, jr, &oom);
    sm_timer_init(&m->session_timer, session_expired);
    if (oom || !m->id || !m->client_id || !m->client_host ||
        (jr->group_instance_id.len >= 0 && !m->instance_id)) {
        member_free(m);
        return NULL;
    }
    m->next = g->members;
    g->members = m;
    if (!pending)
        g->nmembers++;
    sm_member_touch(m);
    return m;
}

/* ---- answering parked requests --------------------------------------------------- */

void sm_join_send(sm_req *req, const sm_join_group_resp *resp)
{
    req->pending = NULL;
    req->cancel = NULL;
    sm_resp_begin(req);
    sm_join_group_resp_encode(&req->w, req->hdr.api_version, resp);
    sm_req_complete(req);
}

void sm_join_error(sm_req *req, int16_t err, const char *member_id)
{
    sm_join_group_resp resp = {0};
    resp.error_code = err;
    resp.generation_id = -1;
    resp.member_id = sm_str_c(member_id ? member_id : "");
    sm_join_send(req, &resp);
}

bool sm_join_members(sm_group *g, sm_req *req, sm_join_group_resp *resp)
{
    resp->members = sm_arena_calloc(&req->arena, (size_t)g->nmembers + 1, sizeof *resp->members);
    if (!resp->members)
        return false;
    resp->member_count = 0;
    for (sm_member *x = g->members; x; x = x->next) {
        if (x->pending)
            continue;
        const sm_member_protocol *p = sm_member_protocol_find(x, g->protocol);
        sm_join_group_member *jm = &resp->members[resp->member_count++];
        jm->member_id = sm_str_c(x->id);
        jm->group_instance_id = x->instance_id ? sm_str_c(x->instance_id) : SM_STR_NULL;
        jm->metadata = p ? (sm_str){(const char *)p->metadata, p->metadata_len} : SM_STR_LIT("");
    }
    return true;
}

/* The JoinGroup answer of the current generation, for m. */
void sm_join_answer(sm_member *m)
{
    sm_req *req = m->join_req;
    if (!req)
        return;
    m->join_req = NULL;
    sm_group *g = m->g;
    sm_join_group_resp resp = {0};
    resp.generation_id = g->generation;
    resp.protocol_type = g->protocol_type ? sm_str_c(g->protocol_type) : SM_STR_NULL;
    resp.protocol_name = sm_str_c(g->protocol ? g->protocol : "");
    resp.leader = sm_str_c(g->leader ? g->leader : "");
    resp.member_id = sm_str_c(m->id);
    if (g->leader && !strcmp(g->leader, m->id) && !sm_join_members(g, req, &resp)) {
        sm_join_error(req, SM_KERR_UNKNOWN_SERVER_ERROR, m->id);
        return;
    }
    sm_join_send(req, &resp);
}

void sm_sync_send(sm_req *req, int16_t err, const sm_group *g, const uint8_t *assignment,
                  int32_t len)
{
    req->pending = NULL;
    req->cancel = NULL;
    sm_sync_group_resp resp = {0};
    resp.error_code = err;
    resp.protocol_type = resp.protocol_name = SM_STR_NULL; /* v5+: the group's on success */
    if (err == SM_KERR_NONE && g) {
        resp.protocol_type = g->protocol_type ? sm_str_c(g->protocol_type) : SM_STR_NULL;
        resp.protocol_name = g->protocol ? sm_str_c(g->protocol) : SM_STR_NULL;
    }
    resp.assignment = assignment ? (sm_str){(const char *)assignment, len} : SM_STR_LIT("");
    sm_resp_begin(req);
    sm_sync_group_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}

void sm_sync_answer(sm_member *m, int16_t err)
{
    sm_req *req = m->sync_req;
    if (!req)
        return;
    m->sync_req = NULL;
    if (err == SM_KERR_NONE)
        sm_sync_send(req, err, m->g, m->assignment, m->assignment_len);
    else
        sm_sync_send(req, err, NULL, NULL, 0);
}

/* Answers m's parked requests with err and removes it from the group. */
void sm_member_remove(sm_group *g, sm_member *m, int16_t err, const char *why)
{
    if (m->join_req) {
        sm_req *r = m->join_req;
        m->join_req = NULL;
        sm_join_error(r, err, m->id);
    }
    sm_sync_answer(m, err);
    for (sm_member **pp = &g->members; *pp; pp = &(*pp)->next) {
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    }
    if (!m->pending) {
        g->nmembers--;
        sm_info("group %s: member %s (%s) left: %s; %d member(s) remain", g->id, m->id,
                m->client_id, why, g->nmembers);
    }
    if (g->leader && !strcmp(g->leader, m->id)) {
        free(g->leader);
        g->leader = NULL;
    }
    member_free(m);
}

/* After members left: rebalance the rest, or settle as Empty. */
void sm_group_after_departure(sm_group *g, const char *why)
{
    switch (g->state) {
    case SM_GROUP_STABLE:
    case SM_GROUP_COMPLETING_REBALANCE:
        sm_group_prepare_rebalance(g, why);
        break;
    case SM_GROUP_PREPARING_REBALANCE:
        sm_group_maybe_complete_join(g);
        break;
    default:
        break;
    }
}

static void session_expired(sm_timer *t)
{
    sm_member *m = (sm_member *)((char *)t - offsetof(sm_member, session_timer));
    sm_group *g = m->g;
    /* a member blocked in JoinGroup or SyncGroup cannot heartbeat: keep it */
    if (m->join_req || m->sync_req) {
        sm_member_touch(m);
        return;
    }
    char why[96];
    snprintf(why, sizeof why, "no heartbeat for session.timeout.ms=%d", m->session_timeout_ms);
    bool was_pending = m->pending;
    sm_member_remove(g, m, SM_KERR_UNKNOWN_MEMBER_ID, why);
    if (!was_pending)
        sm_group_after_departure(g, "a member's session expired");
}

/* ---- the rebalance ----------------------------------------------------------------- */

void sm_group_prepare_rebalance(sm_group *g, const char *why)
{
    sm_broker *b = g->b;
    if (g->state == SM_GROUP_COMPLETING_REBALANCE)
        for (sm_member *m = g->members; m; m = m->next)
            sm_sync_answer(m, SM_KERR_REBALANCE_IN_PROGRESS);
    bool was_empty = g->state == SM_GROUP_EMPTY;
    if (g->state != SM_GROUP_PREPARING_REBALANCE)
        sm_info("group %s: rebalancing (generation %d): %s", g->id, g->generation, why);
    sm_group_set_state(g, SM_GROUP_PREPARING_REBALANCE);
    int32_t rt = 0;
    for (sm_member *m = g->members; m; m = m->next)
        if (!m->pending && m->rebalance_timeout_ms > rt)
            rt = m->rebalance_timeout_ms;
    int64_t now = sm_mono_ms();
    g->join_deadline_ms = now + rt;
    g->delay_until_ms = g->delay_limit_ms = 0;
    if (was_empty && b->cfg.group_initial_rebalance_delay_ms > 0) {
        /* Kafka's initial delay: let a group's first members arrive together */
        g->delay_until_ms = now + b->cfg.group_initial_rebalance_delay_ms;
        g->delay_limit_ms = now + rt;
    }
    sm_group_arm_timer(g);
    /* Kafka's prepareRebalance: when the request that started it was the
     * last one missing (a group of one, say), the join completes now, not
     * at the rebalance timeout; the initial delay still holds */
    sm_group_maybe_complete_join(g);
}

void sm_group_arm_timer(sm_group *g)
{
    sm_loop *loop = g->b->loop;
    if (g->state != SM_GROUP_PREPARING_REBALANCE) {
        sm_timer_cancel(loop, &g->timer);
        return;
    }
    int64_t at = g->join_deadline_ms;
    if (g->delay_until_ms && g->delay_until_ms < at)
        at = g->delay_until_ms;
    sm_timer_arm(loop, &g->timer, at);
}

static bool all_joined(sm_group *g)
{
    for (sm_member *m = g->members; m; m = m->next)
        if (!m->pending && !m->join_req)
            return false;
    return true;
}

/* The protocol every member supports, first in the leader's order. */
static const char *select_protocol(sm_group *g, sm_member *leader)
{
    for (int i = 0; i < leader->nprotocols; i++) {
        const char *name = leader->protocols[i].name;
        bool all = true;
        for (sm_member *m = g->members; m && all; m = m->next)
            if (!m->pending && !sm_member_protocol_find(m, name))
                all = false;
        if (all)
            return name;
    }
    return NULL;
}

static void complete_join(sm_group *g)
{
    g->delay_until_ms = 0;
    if (g->nmembers == 0) {
        g->generation++;
        free(g->protocol);
        g->protocol = NULL;
        free(g->leader);
        g->leader = NULL;
        sm_group_set_state(g, SM_GROUP_EMPTY);
        sm_group_arm_timer(g);
        sm_group_persist(g);
        sm_info("group %s is empty (generation %d)", g->id, g->generation);
        return;
    }
    sm_member *leader = NULL;
    for (sm_member *m = g->members; m; m = m->next)
        if (!m->pending && g->leader && !strcmp(m->id, g->leader))
            leader = m;
    if (!leader) {
        /* the earliest joiner still here: members are kept newest first */
        for (sm_member *m = g->members; m; m = m->next)
            if (!m->pending && m->join_req)
                leader = m;
    }
    const char *proto = leader ? select_protocol(g, leader) : NULL;
    if (!leader || !proto) {
        /* cannot happen: joins without a common protocol are refused */
        sm_error("group %s: no leader or common protocol at the end of a rebalance", g->id);
        for (sm_member *m = g->members; m;) {
            sm_member *next = m->next;
            if (!m->pending)
                sm_member_remove(g, m, SM_KERR_INCONSISTENT_GROUP_PROTOCOL, "no common protocol");
            m = next;
        }
        complete_join(g);
        return;
    }
    g->generation++;
    char *lid = strdup(leader->id), *pname = strdup(proto);
    free(g->leader);
    free(g->protocol);
    g->leader = lid;
    g->protocol = pname;
    for (sm_member *m = g->members; m; m = m->next) {
        free(m->assignment);
        m->assignment = NULL;
        m->assignment_len = 0;
    }
    sm_group_set_state(g, SM_GROUP_COMPLETING_REBALANCE);
    sm_group_arm_timer(g);
    sm_info("group %s: generation %d with %d member(s), protocol %s, leader %s", g->id,
            g->generation, g->nmembers, g->protocol, g->leader);
    for (sm_member *m = g->members; m; m = m->next) {
        if (m->pending)
            continue;
        sm_join_answer(m);
        sm_member_touch(m);
    }
}

void sm_group_maybe_complete_join(sm_group *g)
{
    if (g->state != SM_GROUP_PREPARING_REBALANCE)
        return;
    if (g->delay_until_ms && sm_mono_ms() < g->delay_until_ms)
        return;
    if (all_joined(g))
        complete_join(g);
}

/* Whether the protocol the group would choose now is the one it has. */
bool sm_group_protocol_unchanged(sm_group *g)
{
    if (!g->protocol || !g->leader)
        return false;
    sm_member *leader = sm_member_find(g, sm_str_c(g->leader));
    const char *proto = leader ? select_protocol(g, leader) : NULL;
    return proto && !strcmp(proto, g->protocol);
}

static void group_timer_fired(sm_timer *t)
{
    sm_group *g = (sm_group *)((char *)t - offsetof(sm_group, timer));
    if (g->state != SM_GROUP_PREPARING_REBALANCE)
        return;
    int64_t now = sm_mono_ms();
    if (g->delay_until_ms && now >= g->delay_until_ms)
        g->delay_until_ms = 0;
    if (now >= g->join_deadline_ms) {
        /* the rebalance timeout: whoever has not rejoined is out */
        for (sm_member *m = g->members; m;) {
            sm_member *next = m->next;
            if (!m->pending && !m->join_req)
                sm_member_remove(g, m, SM_KERR_UNKNOWN_MEMBER_ID,
                              "did not rejoin within the rebalance timeout");
            m = next;
        }
        complete_join(g);
        return;
    }
    sm_group_maybe_complete_join(g);
    if (g->state == SM_GROUP_PREPARING_REBALANCE)
        sm_group_arm_timer(g);
}

void sm_groups_shutdown(sm_broker *b)
{
    const char *k;
    void *v;
    for (size_t it = 0; sm_map_next(&b->groups, &it, &k, &v);) {
        sm_group *g = v;
        sm_timer_cancel(b->loop, &g->timer);
        for (sm_member *m = g->members; m; m = m->next) {
            if (m->join_req) {
                sm_req *r = m->join_req;
                m->join_req = NULL;
                sm_join_error(r, SM_KERR_COORDINATOR_NOT_AVAILABLE, m->id);
            }
            sm_sync_answer(m, SM_KERR_COORDINATOR_NOT_AVAILABLE);
        }
    }
}
