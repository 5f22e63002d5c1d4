/* group.c: group membership: JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * FindCoordinator, DescribeGroups, ListGroups, DeleteGroups, and the state
 * machine behind them (see group.h).
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
#include "proto/delete_groups.h"
#include "proto/describe_groups.h"
#include "proto/find_coordinator.h"
#include "proto/heartbeat.h"
#include "proto/join_group.h"
#include "proto/leave_group.h"
#include "proto/list_groups.h"
#include "proto/sync_group.h"

static void prepare_rebalance(sm_group *g, const char *why);
static void maybe_complete_join(sm_group *g);
static void arm_group_timer(sm_group *g);

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

static char *dup_str(sm_str s)
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

static bool str_is(const char *a, sm_str b)
{
    return a ? sm_str_eqc(b, a) : b.len < 0;
}

static void set_state(sm_group *g, sm_group_state s)
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
    if (!g || !(g->id = dup_str(id))) {
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

static void new_member_id(char *out, size_t outlen, sm_str client_id)
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

static sm_member *member_find(sm_group *g, sm_str id)
{
    for (sm_member *m = g->members; m; m = m->next)
        if (sm_str_eqc(id, m->id))
            return m;
    return NULL;
}

static sm_member *member_find_instance(sm_group *g, sm_str inst)
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
static bool set_protocols(sm_member *m, const sm_join_group_req *jr, bool *oom)
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
        mp->name = dup_str(p->name);
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

static const sm_member_protocol *member_protocol(const sm_member *m, const char *name)
{
    for (int i = 0; i < m->nprotocols; i++)
        if (!strcmp(m->protocols[i].name, name))
            return &m->protocols[i];
    return NULL;
}

static void session_expired(sm_timer *t);

/* The client id and host ("/1.2.3.4", as Kafka shows it) of the request's sender. */
static void set_client(sm_member *m, const sm_req *req)
{
    free(m->client_id);
    free(m->client_host);
    m->client_id = dup_str(req->hdr.client_id.len >= 0 ? req->hdr.client_id : SM_STR_LIT(""));
    char host[80];
    const char *peer = req->conn ? req->conn->peer : "";
    const char *colon = strrchr(peer, ':');
    snprintf(host, sizeof host, "/%.*s", colon ? (int)(colon - peer) : (int)strlen(peer), peer);
    m->client_host = strdup(host);
}

static void touch(sm_member *m)
{
    sm_timer_arm(m->g->b->loop, &m->session_timer, sm_mono_ms() + m->session_timeout_ms);
}

static sm_member *member_add(sm_group *g, const char *id, const sm_join_group_req *jr,
                             sm_req *req, bool pending)
{
    sm_member *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->g = g;
    m->id = strdup(id);
    m->instance_id = dup_str(jr->group_instance_id);
    set_client(m, req);
    m->session_timeout_ms = jr->session_timeout_ms;
    m->rebalance_timeout_ms = jr->rebalance_timeout_ms;
    m->pending = pending;
    bool oom = false;
    set_protocols(m, jr, &oom);
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
    touch(m);
    return m;
}

/* ---- answering parked requests --------------------------------------------------- */

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

static void send_join(sm_req *req, const sm_join_group_resp *resp)
{
    req->pending = NULL;
    req->cancel = NULL;
    sm_resp_begin(req);
    sm_join_group_resp_encode(&req->w, req->hdr.api_version, resp);
    sm_req_complete(req);
}

static void join_error(sm_req *req, int16_t err, const char *member_id)
{
    sm_join_group_resp resp = {0};
    resp.error_code = err;
    resp.generation_id = -1;
    resp.member_id = sm_str_c(member_id ? member_id : "");
    send_join(req, &resp);
}

/* The JoinGroup answer of the current generation, for m. */
static void answer_join(sm_member *m)
{
    sm_req *req = m->join_req;
    if (!req)
        return;
    m->join_req = NULL;
    sm_group *g = m->g;
    sm_join_group_resp resp = {0};
    resp.generation_id = g->generation;
    resp.protocol_name = sm_str_c(g->protocol ? g->protocol : "");
    resp.leader = sm_str_c(g->leader ? g->leader : "");
    resp.member_id = sm_str_c(m->id);
    if (g->leader && !strcmp(g->leader, m->id)) {
        resp.members = sm_arena_calloc(&req->arena, (size_t)g->nmembers + 1, sizeof *resp.members);
        if (!resp.members) {
            join_error(req, SM_KERR_UNKNOWN_SERVER_ERROR, m->id);
            return;
        }
        for (sm_member *x = g->members; x; x = x->next) {
            if (x->pending)
                continue;
            const sm_member_protocol *p = member_protocol(x, g->protocol);
            sm_join_group_member *jm = &resp.members[resp.member_count++];
            jm->member_id = sm_str_c(x->id);
            jm->group_instance_id = x->instance_id ? sm_str_c(x->instance_id) : SM_STR_NULL;
            jm->metadata = p ? (sm_str){(const char *)p->metadata, p->metadata_len}
                             : SM_STR_LIT("");
        }
    }
    send_join(req, &resp);
}

static void send_sync(sm_req *req, int16_t err, const uint8_t *assignment, int32_t len)
{
    req->pending = NULL;
    req->cancel = NULL;
    sm_sync_group_resp resp = {0};
    resp.error_code = err;
    resp.assignment = assignment ? (sm_str){(const char *)assignment, len} : SM_STR_LIT("");
    sm_resp_begin(req);
    sm_sync_group_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}

static void answer_sync(sm_member *m, int16_t err)
{
    sm_req *req = m->sync_req;
    if (!req)
        return;
    m->sync_req = NULL;
    if (err == SM_KERR_NONE)
        send_sync(req, err, m->assignment, m->assignment_len);
    else
        send_sync(req, err, NULL, 0);
}

/* Answers m's parked requests with err and removes it from the group. */
static void member_remove(sm_group *g, sm_member *m, int16_t err, const char *why)
{
    if (m->join_req) {
        sm_req *r = m->join_req;
        m->join_req = NULL;
        join_error(r, err, m->id);
    }
    answer_sync(m, err);
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
static void after_departure(sm_group *g, const char *why)
{
    switch (g->state) {
    case SM_GROUP_STABLE:
    case SM_GROUP_COMPLETING_REBALANCE:
        prepare_rebalance(g, why);
        break;
    case SM_GROUP_PREPARING_REBALANCE:
        maybe_complete_join(g);
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
        touch(m);
        return;
    }
    char why[96];
    snprintf(why, sizeof why, "no heartbeat for session.timeout.ms=%d", m->session_timeout_ms);
    bool was_pending = m->pending;
    member_remove(g, m, SM_KERR_UNKNOWN_MEMBER_ID, why);
    if (!was_pending)
        after_departure(g, "a member's session expired");
}

/* ---- the rebalance ----------------------------------------------------------------- */

static void prepare_rebalance(sm_group *g, const char *why)
{
    sm_broker *b = g->b;
    if (g->state == SM_GROUP_COMPLETING_REBALANCE)
        for (sm_member *m = g->members; m; m = m->next)
            answer_sync(m, SM_KERR_REBALANCE_IN_PROGRESS);
    bool was_empty = g->state == SM_GROUP_EMPTY;
    if (g->state != SM_GROUP_PREPARING_REBALANCE)
        sm_info("group %s: rebalancing (generation %d): %s", g->id, g->generation, why);
    set_state(g, SM_GROUP_PREPARING_REBALANCE);
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
    arm_group_timer(g);
    /* Kafka's prepareRebalance: when the request that started it was the
     * last one missing (a group of one, say), the join completes now, not
     * at the rebalance timeout; the initial delay still holds */
    maybe_complete_join(g);
}

static void arm_group_timer(sm_group *g)
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
            if (!m->pending && !member_protocol(m, name))
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
        set_state(g, SM_GROUP_EMPTY);
        arm_group_timer(g);
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
                member_remove(g, m, SM_KERR_INCONSISTENT_GROUP_PROTOCOL, "no common protocol");
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
    set_state(g, SM_GROUP_COMPLETING_REBALANCE);
    arm_group_timer(g);
    sm_info("group %s: generation %d with %d member(s), protocol %s, leader %s", g->id,
            g->generation, g->nmembers, g->protocol, g->leader);
    for (sm_member *m = g->members; m; m = m->next) {
        if (m->pending)
            continue;
        answer_join(m);
        touch(m);
    }
}

static void maybe_complete_join(sm_group *g)
{
    if (g->state != SM_GROUP_PREPARING_REBALANCE)
        return;
    if (g->delay_until_ms && sm_mono_ms() < g->delay_until_ms)
        return;
    if (all_joined(g))
        complete_join(g);
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
                member_remove(g, m, SM_KERR_UNKNOWN_MEMBER_ID,
                              "did not rejoin within the rebalance timeout");
            m = next;
        }
        complete_join(g);
        return;
    }
    maybe_complete_join(g);
    if (g->state == SM_GROUP_PREPARING_REBALANCE)
        arm_group_timer(g);
}

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
    if (fr.key_type != 0) {
        resp.error_code = SM_KERR_COORDINATOR_NOT_AVAILABLE;
        resp.error_message = SM_STR_LIT("transactions are not supported by samsa-broker");
        resp.node_id = -1;
        resp.host = SM_STR_LIT("");
        resp.port = -1;
    } else {
        resp.node_id = b->cfg.node_id;
        resp.host = sm_str_c(b->adv_host);
        resp.port = b->adv_port;
    }
    sm_resp_begin(req);
    sm_find_coordinator_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}

/* ---- JoinGroup ------------------------------------------------------------------------ */

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
            if (m != self && !m->pending && !member_protocol(m, name))
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
        join_error(old, SM_KERR_REBALANCE_IN_PROGRESS, m->id);
    }
    m->join_req = req;
    req->pending = m;
    req->cancel = join_cancel;
    touch(m);
}

/* Whether the protocol the group would choose now is the one it has. */
static bool next_protocol_unchanged(sm_group *g)
{
    if (!g->protocol || !g->leader)
        return false;
    sm_member *leader = member_find(g, sm_str_c(g->leader));
    const char *proto = leader ? select_protocol(g, leader) : NULL;
    return proto && !strcmp(proto, g->protocol);
}

/* The JoinGroup answer of a static member back in a Stable group: the
 * current generation, no member list, leader as given. */
static void answer_static_rejoin(sm_member *m, sm_req *req, const char *leader)
{
    sm_group *g = m->g;
    sm_join_group_resp resp = {0};
    resp.generation_id = g->generation;
    resp.protocol_name = sm_str_c(g->protocol ? g->protocol : "");
    resp.leader = sm_str_c(leader ? leader : "");
    resp.member_id = sm_str_c(m->id);
    send_join(req, &resp);
}

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
        join_error(req, SM_KERR_INVALID_GROUP_ID, mid);
        return;
    }
    if (jr.session_timeout_ms < b->cfg.group_min_session_timeout_ms ||
        jr.session_timeout_ms > b->cfg.group_max_session_timeout_ms) {
        sm_log_limited(SM_LOG_INFO, "JoinGroup %.*s from %s: session.timeout.ms %d outside "
                       "[group.min.session.timeout.ms %d, group.max.session.timeout.ms %d]",
                       (int)jr.group_id.len, jr.group_id.p, req->conn ? req->conn->peer : "-",
                       jr.session_timeout_ms, b->cfg.group_min_session_timeout_ms,
                       b->cfg.group_max_session_timeout_ms);
        join_error(req, SM_KERR_INVALID_SESSION_TIMEOUT, mid);
        return;
    }
    if (jr.protocol_type.len <= 0 || jr.protocol_count <= 0) {
        join_error(req, SM_KERR_INCONSISTENT_GROUP_PROTOCOL, mid);
        return;
    }
    if (jr.rebalance_timeout_ms <= 0)
        jr.rebalance_timeout_ms = jr.session_timeout_ms;
    sm_group *g = mlen ? sm_group_find(b, jr.group_id) : sm_group_get(b, jr.group_id);
    if (!g) {
        join_error(req, mlen ? SM_KERR_UNKNOWN_MEMBER_ID : SM_KERR_UNKNOWN_SERVER_ERROR, mid);
        return;
    }
    sm_member *self = mlen ? member_find(g, jr.member_id) : member_find_instance(g, jr.group_instance_id);
    if (g->nmembers > 0 && g->protocol_type && !str_is(g->protocol_type, jr.protocol_type)) {
        join_error(req, SM_KERR_INCONSISTENT_GROUP_PROTOCOL, mid);
        return;
    }
    if (!supports_common_protocol(g, &jr, self)) {
        join_error(req, SM_KERR_INCONSISTENT_GROUP_PROTOCOL, mid);
        return;
    }
    if (!g->protocol_type || g->nmembers == 0) {
        free(g->protocol_type);
        g->protocol_type = dup_str(jr.protocol_type);
    }
    bool oom = false;

    if (mlen == 0) {
        char id[256];
        new_member_id(id, sizeof id, req->hdr.client_id);
        if (jr.group_instance_id.len >= 0 && self) {
            /* a static member back with a new incarnation: the old one is fenced */
            sm_info("group %s: static member %s rejoins as %s", g->id, self->instance_id, id);
            if (self->join_req) {
                sm_req *old = self->join_req;
                self->join_req = NULL;
                join_error(old, SM_KERR_FENCED_INSTANCE_ID, self->id);
            }
            answer_sync(self, SM_KERR_FENCED_INSTANCE_ID);
            bool was_leader = g->leader && !strcmp(g->leader, self->id);
            char *nid = strdup(id);
            if (!nid) {
                join_error(req, SM_KERR_UNKNOWN_SERVER_ERROR, "");
                return;
            }
            char *old_id = self->id;
            self->id = nid;
            if (was_leader) {
                free(g->leader);
                g->leader = strdup(id);
            }
            self->session_timeout_ms = jr.session_timeout_ms;
            self->rebalance_timeout_ms = jr.rebalance_timeout_ms;
            set_client(self, req);
            set_protocols(self, &jr, &oom);
            if (oom || !self->client_id || !self->client_host) {
                free(old_id);
                member_remove(g, self, SM_KERR_UNKNOWN_SERVER_ERROR, "out of memory");
                join_error(req, SM_KERR_UNKNOWN_SERVER_ERROR, "");
                return;
            }
            if (g->state == SM_GROUP_STABLE && next_protocol_unchanged(g)) {
                /* Kafka (updateStaticMemberThenRebalanceOrCompleteJoin): a
                 * static member back in a Stable group whose protocol would
                 * stay the same takes its old assignment without a
                 * rebalance, even as the leader or with another
                 * subscription; the answer names the leader as it was
                 * before (the old member id when it led), so the returning
                 * member does not assign, and its SyncGroup gets what it had */
                answer_static_rejoin(self, req, was_leader ? old_id : g->leader);
                free(old_id);
                touch(self);
                sm_group_persist(g);
                return;
            }
            free(old_id);
            park_join(self, req);
            if (g->state != SM_GROUP_PREPARING_REBALANCE)
                prepare_rebalance(g, "a static member rejoined");
            maybe_complete_join(g);
            return;
        }
        if (b->cfg.group_max_size > 0 && g->nmembers >= b->cfg.group_max_size) {
            join_error(req, SM_KERR_GROUP_MAX_SIZE_REACHED, "");
            return;
        }
        bool need_id_first = req->hdr.api_version >= 4 && jr.group_instance_id.len < 0;
        sm_member *m = member_add(g, id, &jr, req, need_id_first);
        if (!m) {
            join_error(req, SM_KERR_UNKNOWN_SERVER_ERROR, "");
            return;
        }
        if (need_id_first) {
            /* KIP-394: the client must come back with this id */
            join_error(req, SM_KERR_MEMBER_ID_REQUIRED, m->id);
            return;
        }
        sm_info("group %s: member %s (%s) joins", g->id, m->id, m->client_id);
        park_join(m, req);
        if (g->state != SM_GROUP_PREPARING_REBALANCE)
            prepare_rebalance(g, "a new member joined");
        else if (g->delay_until_ms && g->delay_until_ms < g->delay_limit_ms) {
            /* the initial delay stretches while members keep arriving */
            int64_t until = sm_mono_ms() + b->cfg.group_initial_rebalance_delay_ms;
            g->delay_until_ms = until < g->delay_limit_ms ? until : g->delay_limit_ms;
            arm_group_timer(g);
        }
        maybe_complete_join(g);
        return;
    }

    /* a member id was given */
    if (!self) {
        bool fenced = member_find_instance(g, jr.group_instance_id) != NULL;
        join_error(req, fenced ? SM_KERR_FENCED_INSTANCE_ID : SM_KERR_UNKNOWN_MEMBER_ID, mid);
        return;
    }
    if (!str_is(self->instance_id, jr.group_instance_id)) {
        join_error(req, SM_KERR_FENCED_INSTANCE_ID, mid);
        return;
    }
    self->session_timeout_ms = jr.session_timeout_ms;
    self->rebalance_timeout_ms = jr.rebalance_timeout_ms;
    bool changed = set_protocols(self, &jr, &oom);
    if (oom) {
        member_remove(g, self, SM_KERR_UNKNOWN_SERVER_ERROR, "out of memory");
        join_error(req, SM_KERR_UNKNOWN_SERVER_ERROR, mid);
        return;
    }
    if (self->pending) {
        if (b->cfg.group_max_size > 0 && g->nmembers >= b->cfg.group_max_size) {
            /* the id was handed out while there was room; there is none now */
            member_remove(g, self, SM_KERR_GROUP_MAX_SIZE_REACHED, "group.max.size reached");
            join_error(req, SM_KERR_GROUP_MAX_SIZE_REACHED, mid);
            return;
        }
        self->pending = false;
        g->nmembers++;
        sm_info("group %s: member %s (%s) joins", g->id, self->id, self->client_id);
        park_join(self, req);
        if (g->state != SM_GROUP_PREPARING_REBALANCE)
            prepare_rebalance(g, "a new member joined");
        else if (g->delay_until_ms && g->delay_until_ms < g->delay_limit_ms) {
            int64_t until = sm_mono_ms() + b->cfg.group_initial_rebalance_delay_ms;
            g->delay_until_ms = until < g->delay_limit_ms ? until : g->delay_limit_ms;
            arm_group_timer(g);
        }
        maybe_complete_join(g);
        return;
    }
    bool is_leader = g->leader && !strcmp(g->leader, self->id);
    switch (g->state) {
    case SM_GROUP_PREPARING_REBALANCE:
        park_join(self, req);
        maybe_complete_join(g);
        return;
    case SM_GROUP_COMPLETING_REBALANCE:
        if (!changed) {
            /* the same member asking again: the same answer */
            self->join_req = req;
            answer_join(self);
            touch(self);
            return;
        }
        park_join(self, req);
        prepare_rebalance(g, "a member changed its subscription");
        return;
    case SM_GROUP_STABLE:
        if (!changed && !is_leader) {
            self->join_req = req;
            answer_join(self);
            touch(self);
            return;
        }
        park_join(self, req);
        prepare_rebalance(g, is_leader ? "the leader rejoined" : "a member changed its subscription");
        return;
    default:
        park_join(self, req);
        prepare_rebalance(g, "a member rejoined");
        return;
    }
}

/* ---- SyncGroup ------------------------------------------------------------------------- */

/* Resolves (group, member id, instance id) as SyncGroup/Heartbeat/OffsetCommit
 * do; returns the error or NONE with *out set. */
static int16_t resolve_member(sm_group *g, sm_str member_id, sm_str instance_id, sm_member **out)
{
    *out = NULL;
    if (!g || g->state == SM_GROUP_DEAD)
        return SM_KERR_UNKNOWN_MEMBER_ID;
    sm_member *m = member_find(g, member_id);
    if (!m || m->pending) {
        if (member_find_instance(g, instance_id))
            return SM_KERR_FENCED_INSTANCE_ID;
        return SM_KERR_UNKNOWN_MEMBER_ID;
    }
    if (!str_is(m->instance_id, instance_id) && instance_id.len >= 0)
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
    if (err == SM_KERR_NONE && g->state == SM_GROUP_PREPARING_REBALANCE)
        err = SM_KERR_REBALANCE_IN_PROGRESS;
    if (err == SM_KERR_NONE && g->state == SM_GROUP_EMPTY)
        err = SM_KERR_UNKNOWN_MEMBER_ID;
    if (err != SM_KERR_NONE) {
        send_sync(req, err, NULL, 0);
        return;
    }
    touch(m);
    if (g->state == SM_GROUP_STABLE) {
        send_sync(req, SM_KERR_NONE, m->assignment, m->assignment_len);
        return;
    }
    /* CompletingRebalance: wait for the leader's assignment */
    if (m->sync_req) {
        sm_req *old = m->sync_req;
        m->sync_req = NULL;
        send_sync(old, SM_KERR_REBALANCE_IN_PROGRESS, NULL, 0);
    }
    m->sync_req = req;
    req->pending = m;
    req->cancel = sync_cancel;
    if (!g->leader || strcmp(g->leader, m->id))
        return;
    for (int32_t i = 0; i < sr.assignment_count; i++) {
        sm_member *x = member_find(g, sr.assignments[i].member_id);
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
    set_state(g, SM_GROUP_STABLE);
    sm_group_persist(g);
    for (sm_member *x = g->members; x; x = x->next)
        answer_sync(x, SM_KERR_NONE);
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
        touch(m);
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
            m = member_find_instance(g, lm->group_instance_id); /* by instance id alone */
            err = m ? SM_KERR_NONE : SM_KERR_UNKNOWN_MEMBER_ID;
        } else if (g) {
            err = resolve_member(g, lm->member_id, lm->group_instance_id, &m);
        }
        out->error_code = err;
        if (m) {
            member_remove(g, m, SM_KERR_UNKNOWN_MEMBER_ID, "LeaveGroup");
            left++;
        }
    }
    if (req->hdr.api_version < 3)
        resp.error_code = lr.member_count > 0 ? resp.members[0].error_code : SM_KERR_NONE;
    else if (!g)
        resp.error_code = SM_KERR_UNKNOWN_MEMBER_ID;
    if (left)
        after_departure(g, "a member left the group");
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
        out->authorized_operations = SM_AUTHORIZED_OPERATIONS_OMITTED;
        out->protocol_type = out->protocol_data = SM_STR_LIT("");
        sm_group *g = sm_group_find(req->b, dr.groups[i]);
        if (dr.groups[i].len <= 0) {
            out->error_code = SM_KERR_INVALID_GROUP_ID;
            out->group_state = SM_STR_LIT("");
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
            const sm_member_protocol *p = stable && g->protocol ? member_protocol(m, g->protocol) : NULL;
            dm->member_metadata = p ? (sm_str){(const char *)p->metadata, p->metadata_len}
                                    : SM_STR_LIT("");
            dm->member_assignment = stable && m->assignment
                                        ? (sm_str){(const char *)m->assignment, m->assignment_len}
                                        : SM_STR_LIT("");
        }
    }
    sm_resp_begin(req);
    sm_describe_groups_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
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
        sm_list_groups_group *lg = &resp.groups[resp.group_count++];
        lg->group_id = sm_str_c(g->id);
        lg->protocol_type = sm_str_c(g->protocol_type ? g->protocol_type : "");
    }
    sm_resp_begin(req);
    sm_list_groups_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
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
                join_error(r, SM_KERR_COORDINATOR_NOT_AVAILABLE, m->id);
            }
            answer_sync(m, SM_KERR_COORDINATOR_NOT_AVAILABLE);
        }
    }
}
