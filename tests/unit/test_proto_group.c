/* test_proto_group.c: codecs of the group and offset APIs: FindCoordinator,
 * JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
 * DescribeGroups, ListGroups, DeleteGroups, OffsetDelete, InitProducerId.
 *
 * Each request is built field by field from Kafka's JSON schema for every
 * version we advertise, decoded and checked field by field, then put
 * through the harness in proto_check.h (truncations, trailing bytes, lying
 * counts, forbidden nulls, seeded mutations). Each response is encoded for
 * every version and read back field by field, to the exact byte. */
#include <string.h>

#include "check.h"
#include "proto/delete_groups.h"
#include "proto/describe_groups.h"
#include "proto/find_coordinator.h"
#include "proto/heartbeat.h"
#include "proto/init_producer_id.h"
#include "proto/join_group.h"
#include "proto/kafka.h"
#include "proto/leave_group.h"
#include "proto/list_groups.h"
#include "proto/offset_commit.h"
#include "proto/offset_delete.h"
#include "proto/offset_fetch.h"
#include "proto/sync_group.h"
#include "proto_check.h"

#define N(a) ((int32_t)(sizeof(a) / sizeof((a)[0])))
#define S(lit) SM_STR_LIT(lit)
#define BYTES(arr) ((sm_str){(const char *)(arr), (int32_t)sizeof(arr)})

/* A consumer protocol Subscription v0: Version 0, Topics ["orders"],
 * UserData null; what a consumer puts in JoinGroup's Metadata. */
static const uint8_t subscription[] = {0, 0, 0, 0, 0, 1, 0, 6, 'o', 'r', 'd', 'e', 'r',
                                       's', 0xff, 0xff, 0xff, 0xff};
/* A consumer protocol Assignment v0: Version 0, [ "orders" [0, 1] ],
 * UserData null; what the leader puts in SyncGroup's Assignment. */
static const uint8_t assignment[] = {0, 0, 0, 0, 0, 1, 0, 6, 'o', 'r', 'd', 'e', 'r', 's', 0,
                                     0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff};

static bool bytes_are(sm_str s, const uint8_t *p, size_t n)
{
    return s.len == (int32_t)n && (n == 0 || memcmp(s.p, p, n) == 0);
}

/* Reads the response's array count and checks it. */
#define CHECK_COUNT(r, n) CHECK_EQ_I64(sm_rd_i32(r), (n))

/* ======================================================================== */
/* FindCoordinator                                                           */
/* ======================================================================== */

static void build_find_coordinator(pb *b, int16_t v)
{
    pb_flex(b, v >= SM_FIND_COORDINATOR_FLEX);
    if (v <= 3)
        pb_str(b, v == 2 ? "shop-tx-1" : "shop-payments"); /* Key */
    if (v >= 1)
        pb_i8(b, v == 2 ? SM_COORDINATOR_KEY_TRANSACTION : SM_COORDINATOR_KEY_GROUP);
    if (v >= 4) { /* CoordinatorKeys */
        pb_count1(b, 2);
        pb_str(b, "shop-payments");
        pb_str(b, "shop-orders");
    }
    pb_tags(b);
}

static void verify_find_coordinator(const void *o, int16_t v)
{
    const sm_find_coordinator_req *q = o;
    CHECK_EQ_I64(q->key_type, v == 2 ? SM_COORDINATOR_KEY_TRANSACTION : SM_COORDINATOR_KEY_GROUP);
    if (v <= 3) {
        CHECK(sm_str_eqc(q->key, v == 2 ? "shop-tx-1" : "shop-payments"));
        REQUIRE(q->key_count == 1);
        CHECK(sm_str_eqc(q->keys[0], v == 2 ? "shop-tx-1" : "shop-payments"));
    } else {
        REQUIRE(q->key_count == 2);
        CHECK(sm_str_eqc(q->keys[0], "shop-payments") && sm_str_eqc(q->keys[1], "shop-orders"));
    }
}

static void walk_find_coordinator(const void *o, int16_t v)
{
    (void)v;
    const sm_find_coordinator_req *q = o;
    walk_str(q->key);
    walk_array(q->keys, q->key_count, sizeof *q->keys);
    for (int32_t i = 0; i < q->key_count; i++)
        walk_str(q->keys[i]);
}

static int dec_find_coordinator(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_find_coordinator_req_decode(r, v, a, out);
}

static void test_find_coordinator_resp(void)
{
    sm_find_coordinator_one ok1 = {S("g1"), 1, S("broker.local"), 9092, SM_KERR_NONE, SM_STR_NULL};
    sm_find_coordinator_one err1 = {S("tx"), -1, {NULL, 0}, -1, SM_KERR_COORDINATOR_NOT_AVAILABLE,
                                    S("The coordinator is not available.")};
    sm_find_coordinator_one both[2] = {ok1, err1};
    sm_find_coordinator_resp ok = {12, 1, &ok1};
    sm_find_coordinator_resp err = {0, 1, &err1};
    sm_find_coordinator_resp two = {12, 2, both};
    for (int16_t v = 0; v <= 5; v++) {
        bool fx = v >= SM_FIND_COORDINATOR_FLEX;
        for (int k = 0; k < 2; k++) {
            const sm_find_coordinator_resp *resp = v >= 4 ? &two : k == 0 ? &ok : &err;
            sm_wbuf w;
            sm_wbuf_init(&w, 0);
            sm_find_coordinator_resp_encode(&w, v, resp);
            REQUIRE(!w.oom);
            sm_rd r;
            sm_rd_init(&r, w.p, w.len);
            if (v >= 1)
                CHECK_EQ_I64(sm_rd_i32(&r), resp->throttle_time_ms);
            if (v >= 4) {
                CHECK_EQ_I64(rd_count_fx(&r, fx), 2);
                for (int i = 0; i < 2; i++) {
                    CHECK(sm_str_eqc(rd_str_fx(&r, fx), i == 0 ? "g1" : "tx"));
                    CHECK_EQ_I64(sm_rd_i32(&r), both[i].node_id);
                    CHECK(sm_str_eqc(rd_str_fx(&r, fx), i == 0 ? "broker.local" : ""));
                    CHECK_EQ_I64(sm_rd_i32(&r), both[i].port);
                    CHECK_EQ_I64(sm_rd_i16(&r), both[i].error_code);
                    CHECK(str_is(rd_str_fx(&r, fx), i == 0 ? NULL : "The coordinator is not available."));
                    CHECK_TAGS0(&r, fx);
                }
            } else {
                const sm_find_coordinator_one *c = resp->coordinators;
                CHECK_EQ_I64(sm_rd_i16(&r), c->error_code);
                if (v >= 1)
                    CHECK(str_is(rd_str_fx(&r, fx), k == 0 ? NULL : "The coordinator is not available."));
                CHECK_EQ_I64(sm_rd_i32(&r), c->node_id);
                CHECK(sm_str_eqc(rd_str_fx(&r, fx), k == 0 ? "broker.local" : "")); /* never null */
                CHECK_EQ_I64(sm_rd_i32(&r), c->port);
            }
            CHECK_TAGS0(&r, fx);
            CHECK_RESP_END(&r);
            sm_wbuf_release(&w);
        }
    }
    printf("   FindCoordinator response v0-5 read back (v1+ throttle first and ErrorMessage, v3+ "
           "flexible, v4+ one Coordinator per key)\n");
}

/* ======================================================================== */
/* JoinGroup                                                                 */
/* ======================================================================== */

static void build_join_group(pb *b, int16_t v)
{
    pb_flex(b, v >= SM_JOIN_GROUP_FLEX);
    pb_str(b, "shop-payments");
    pb_i32(b, 45000); /* SessionTimeoutMs */
    if (v >= 1)
        pb_i32(b, 300000); /* RebalanceTimeoutMs */
    pb_str(b, v % 2 ? "rdkafka-7f3c" : ""); /* MemberId: first join or rejoin */
    if (v >= 5)
        pb_nstr(b, "pay-1"); /* GroupInstanceId */
    pb_str(b, "consumer");
    pb_count(b, 2);
    pb_str(b, "range");
    pb_bytes(b, subscription, (int32_t)sizeof subscription);
    pb_tags(b);
    pb_str(b, "roundrobin");
    pb_bytes(b, subscription, 0);
    pb_tags(b);
    if (v >= 8)
        pb_nstr(b, v == 8 ? "rebalance failed" : NULL); /* Reason */
    pb_tags(b);
}

static void verify_join_group(const void *o, int16_t v)
{
    const sm_join_group_req *q = o;
    CHECK(sm_str_eqc(q->group_id, "shop-payments"));
    CHECK_EQ_I64(q->session_timeout_ms, 45000);
    CHECK_EQ_I64(q->rebalance_timeout_ms, v >= 1 ? 300000 : 45000);
    CHECK(sm_str_eqc(q->member_id, v % 2 ? "rdkafka-7f3c" : ""));
    if (v >= 5)
        CHECK(sm_str_eqc(q->group_instance_id, "pay-1"));
    else
        CHECK(sm_str_is_null(q->group_instance_id));
    CHECK(sm_str_eqc(q->protocol_type, "consumer"));
    REQUIRE(q->protocol_count == 2);
    CHECK(sm_str_eqc(q->protocols[0].name, "range"));
    CHECK(bytes_are(q->protocols[0].metadata, subscription, sizeof subscription));
    CHECK(sm_str_eqc(q->protocols[1].name, "roundrobin"));
    CHECK_EQ_I64(q->protocols[1].metadata.len, 0);
    CHECK(str_is(q->reason, v == 8 ? "rebalance failed" : NULL));
}

static void walk_join_group(const void *o, int16_t v)
{
    (void)v;
    const sm_join_group_req *q = o;
    walk_str(q->group_id);
    walk_str(q->member_id);
    walk_str(q->group_instance_id);
    walk_str(q->protocol_type);
    walk_array(q->protocols, q->protocol_count, sizeof *q->protocols);
    for (int32_t i = 0; i < q->protocol_count; i++) {
        walk_str(q->protocols[i].name);
        walk_str(q->protocols[i].metadata);
    }
    walk_str(q->reason);
}

static int dec_join_group(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_join_group_req_decode(r, v, a, out);
}

static void test_join_group_resp(void)
{
    sm_join_group_member members[] = {
        {S("m-1"), S("pay-1"), BYTES(subscription)},
        {S("m-2"), SM_STR_NULL, {NULL, 0}}, /* unset metadata goes out as empty BYTES */
    };
    sm_join_group_resp leader = {0,      SM_KERR_NONE, 3, S("consumer"), S("range"),
                                 S("m-1"), true,         S("m-1"), 2,    members};
    /* v4+: the first join of a member without an id; unset strings go out "" (null v7+) */
    sm_join_group_resp required = {0, SM_KERR_MEMBER_ID_REQUIRED, -1, SM_STR_NULL, {NULL, 0},
                                   {NULL, 0}, false, S("m-new"), 0, NULL};
    for (int16_t v = 0; v <= 9; v++) {
        bool fx = v >= SM_JOIN_GROUP_FLEX;
        for (int k = 0; k < 2; k++) {
            const sm_join_group_resp *resp = k == 0 ? &leader : &required;
            sm_wbuf w;
            sm_wbuf_init(&w, 0);
            sm_join_group_resp_encode(&w, v, resp);
            REQUIRE(!w.oom);
            sm_rd r;
            sm_rd_init(&r, w.p, w.len);
            if (v >= 2)
                CHECK_EQ_I64(sm_rd_i32(&r), resp->throttle_time_ms);
            CHECK_EQ_I64(sm_rd_i16(&r), resp->error_code);
            CHECK_EQ_I64(sm_rd_i32(&r), resp->generation_id);
            if (v >= 7) {
                CHECK(str_is(rd_str_fx(&r, fx), k == 0 ? "consumer" : NULL)); /* ProtocolType */
                CHECK(str_is(rd_str_fx(&r, fx), k == 0 ? "range" : NULL));    /* ProtocolName */
            } else {
                CHECK(sm_str_eqc(rd_str_fx(&r, fx), k == 0 ? "range" : "")); /* ProtocolName */
            }
            CHECK(sm_str_eqc(rd_str_fx(&r, fx), k == 0 ? "m-1" : "")); /* Leader */
            if (v >= 9)
                CHECK_EQ_I64(sm_rd_i8(&r), k == 0 ? 1 : 0); /* SkipAssignment */
            CHECK(sm_str_eqc(rd_str_fx(&r, fx), k == 0 ? "m-1" : "m-new"));
            CHECK_EQ_I64(rd_count_fx(&r, fx), resp->member_count);
            for (int i = 0; i < resp->member_count; i++) {
                CHECK(sm_str_eq(rd_str_fx(&r, fx), members[i].member_id));
                if (v >= 5)
                    CHECK(str_is(rd_str_fx(&r, fx), i == 0 ? "pay-1" : NULL));
                sm_str md = rd_bytes_fx(&r, fx);
                if (i == 0)
                    CHECK(bytes_are(md, subscription, sizeof subscription));
                else
                    CHECK(md.len == 0);
                CHECK_TAGS0(&r, fx);
            }
            CHECK_TAGS0(&r, fx);
            CHECK_RESP_END(&r);
            sm_wbuf_release(&w);
        }
    }
    printf("   JoinGroup response v0-9 read back (leader with members, MEMBER_ID_REQUIRED shape, "
           "v2+ throttle, v5+ GroupInstanceId, v6+ flexible, v7+ ProtocolType, v9 SkipAssignment)\n");
}

/* ======================================================================== */
/* SyncGroup                                                                 */
/* ======================================================================== */

static void build_sync_group(pb *b, int16_t v)
{
    pb_flex(b, v >= SM_SYNC_GROUP_FLEX);
    pb_str(b, "shop-payments");
    pb_i32(b, 3); /* GenerationId */
    pb_str(b, "m-1");
    if (v >= 3)
        pb_nstr(b, NULL); /* GroupInstanceId: null (dynamic member) */
    if (v >= 5) {
        pb_nstr(b, "consumer"); /* ProtocolType */
        pb_nstr(b, NULL);       /* ProtocolName */
    }
    pb_count(b, 2);
    pb_str(b, "m-1");
    pb_bytes(b, assignment, (int32_t)sizeof assignment);
    pb_tags(b);
    pb_str(b, "m-2");
    pb_bytes(b, assignment, 0);
    pb_tags(b);
    pb_tags(b);
}

static void verify_sync_group(const void *o, int16_t v)
{
    const sm_sync_group_req *q = o;
    CHECK(sm_str_eqc(q->group_id, "shop-payments"));
    CHECK_EQ_I64(q->generation_id, 3);
    CHECK(sm_str_eqc(q->member_id, "m-1"));
    CHECK(sm_str_is_null(q->group_instance_id));
    CHECK(str_is(q->protocol_type, v >= 5 ? "consumer" : NULL));
    CHECK(sm_str_is_null(q->protocol_name));
    REQUIRE(q->assignment_count == 2);
    CHECK(sm_str_eqc(q->assignments[0].member_id, "m-1"));
    CHECK(bytes_are(q->assignments[0].assignment, assignment, sizeof assignment));
    CHECK(sm_str_eqc(q->assignments[1].member_id, "m-2"));
    CHECK(q->assignments[1].assignment.len == 0);
}

static void walk_sync_group(const void *o, int16_t v)
{
    (void)v;
    const sm_sync_group_req *q = o;
    walk_str(q->group_id);
    walk_str(q->member_id);
    walk_str(q->group_instance_id);
    walk_array(q->assignments, q->assignment_count, sizeof *q->assignments);
    for (int32_t i = 0; i < q->assignment_count; i++) {
        walk_str(q->assignments[i].member_id);
        walk_str(q->assignments[i].assignment);
    }
}

static int dec_sync_group(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_sync_group_req_decode(r, v, a, out);
}

static void test_sync_group_resp(void)
{
    sm_sync_group_resp ok = {4, SM_KERR_NONE, S("consumer"), S("range"), BYTES(assignment)};
    sm_sync_group_resp err = {0, SM_KERR_REBALANCE_IN_PROGRESS, SM_STR_NULL, SM_STR_NULL,
                              {NULL, 0}};
    for (int16_t v = 0; v <= 5; v++) {
        bool fx = v >= SM_SYNC_GROUP_FLEX;
        for (int k = 0; k < 2; k++) {
            const sm_sync_group_resp *resp = k == 0 ? &ok : &err;
            sm_wbuf w;
            sm_wbuf_init(&w, 0);
            sm_sync_group_resp_encode(&w, v, resp);
            REQUIRE(!w.oom);
            sm_rd r;
            sm_rd_init(&r, w.p, w.len);
            if (v >= 1)
                CHECK_EQ_I64(sm_rd_i32(&r), resp->throttle_time_ms);
            CHECK_EQ_I64(sm_rd_i16(&r), resp->error_code);
            if (v >= 5) {
                CHECK(str_is(rd_str_fx(&r, fx), k == 0 ? "consumer" : NULL));
                CHECK(str_is(rd_str_fx(&r, fx), k == 0 ? "range" : NULL));
            }
            sm_str as = rd_bytes_fx(&r, fx);
            if (k == 0)
                CHECK(bytes_are(as, assignment, sizeof assignment));
            else
                CHECK(as.len == 0); /* empty, never null */
            CHECK_TAGS0(&r, fx);
            CHECK_RESP_END(&r);
            sm_wbuf_release(&w);
        }
    }
    printf("   SyncGroup response v0-5 read back (v1+ throttle first, Assignment never null, v4+ "
           "flexible, v5+ ProtocolType/ProtocolName)\n");
}

/* ======================================================================== */
/* Heartbeat                                                                 */
/* ======================================================================== */

static void build_heartbeat(pb *b, int16_t v)
{
    pb_flex(b, v >= SM_HEARTBEAT_FLEX);
    pb_str(b, "shop-payments");
    pb_i32(b, 3);
    pb_str(b, "m-1");
    if (v >= 3)
        pb_nstr(b, "pay-1");
    pb_tags(b);
}

static void verify_heartbeat(const void *o, int16_t v)
{
    const sm_heartbeat_req *q = o;
    CHECK(sm_str_eqc(q->group_id, "shop-payments"));
    CHECK_EQ_I64(q->generation_id, 3);
    CHECK(sm_str_eqc(q->member_id, "m-1"));
    CHECK(str_is(q->group_instance_id, v >= 3 ? "pay-1" : NULL));
}

static void walk_heartbeat(const void *o, int16_t v)
{
    (void)v;
    const sm_heartbeat_req *q = o;
    walk_str(q->group_id);
    walk_str(q->member_id);
    walk_str(q->group_instance_id);
}

static int dec_heartbeat(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_heartbeat_req_decode(r, v, a, out);
}

static void test_heartbeat_resp(void)
{
    sm_heartbeat_resp resp = {6, SM_KERR_REBALANCE_IN_PROGRESS};
    for (int16_t v = 0; v <= 4; v++) {
        sm_wbuf w;
        sm_wbuf_init(&w, 0);
        sm_heartbeat_resp_encode(&w, v, &resp);
        REQUIRE(!w.oom);
        sm_rd r;
        sm_rd_init(&r, w.p, w.len);
        if (v >= 1)
            CHECK_EQ_I64(sm_rd_i32(&r), 6);
        CHECK_EQ_I64(sm_rd_i16(&r), SM_KERR_REBALANCE_IN_PROGRESS);
        CHECK_TAGS0(&r, v >= SM_HEARTBEAT_FLEX);
        CHECK_RESP_END(&r);
        sm_wbuf_release(&w);
    }
    printf("   Heartbeat response v0-4 read back (v1+ throttle first, v4 flexible)\n");
}

/* ======================================================================== */
/* LeaveGroup                                                                */
/* ======================================================================== */

static void build_leave_group(pb *b, int16_t v)
{
    pb_flex(b, v >= SM_LEAVE_GROUP_FLEX);
    pb_str(b, "shop-payments");
    if (v <= 2) {
        pb_str(b, "m-1");
        return;
    }
    pb_count(b, 2);
    pb_str(b, "m-1");
    pb_nstr(b, NULL);
    if (v >= 5)
        pb_nstr(b, "the consumer is being closed"); /* Reason */
    pb_tags(b);
    pb_str(b, "");
    pb_nstr(b, "pay-2");
    if (v >= 5)
        pb_nstr(b, NULL);
    pb_tags(b);
    pb_tags(b);
}

static void verify_leave_group(const void *o, int16_t v)
{
    const sm_leave_group_req *q = o;
    CHECK(sm_str_eqc(q->group_id, "shop-payments"));
    if (v <= 2) {
        CHECK(sm_str_eqc(q->member_id, "m-1"));
        REQUIRE(q->member_count == 1);
        CHECK(sm_str_eqc(q->members[0].member_id, "m-1"));
        CHECK(sm_str_is_null(q->members[0].group_instance_id));
        return;
    }
    CHECK(sm_str_eqc(q->member_id, ""));
    REQUIRE(q->member_count == 2);
    CHECK(sm_str_eqc(q->members[0].member_id, "m-1"));
    CHECK(sm_str_is_null(q->members[0].group_instance_id));
    CHECK(sm_str_eqc(q->members[1].member_id, ""));
    CHECK(sm_str_eqc(q->members[1].group_instance_id, "pay-2"));
    CHECK(str_is(q->members[0].reason, v >= 5 ? "the consumer is being closed" : NULL));
    CHECK(sm_str_is_null(q->members[1].reason));
}

static void walk_leave_group(const void *o, int16_t v)
{
    (void)v;
    const sm_leave_group_req *q = o;
    walk_str(q->group_id);
    walk_str(q->member_id);
    walk_array(q->members, q->member_count, sizeof *q->members);
    for (int32_t i = 0; i < q->member_count; i++) {
        walk_str(q->members[i].member_id);
        walk_str(q->members[i].group_instance_id);
        walk_str(q->members[i].reason);
    }
}

static int dec_leave_group(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_leave_group_req_decode(r, v, a, out);
}

static void test_leave_group_resp(void)
{
    sm_leave_group_member_resp members[] = {
        {S("m-1"), SM_STR_NULL, SM_KERR_NONE},
        {S(""), S("pay-2"), SM_KERR_UNKNOWN_MEMBER_ID},
    };
    sm_leave_group_resp resp = {2, SM_KERR_NONE, 2, members};
    for (int16_t v = 0; v <= 5; v++) {
        bool fx = v >= SM_LEAVE_GROUP_FLEX;
        sm_wbuf w;
        sm_wbuf_init(&w, 0);
        sm_leave_group_resp_encode(&w, v, &resp);
        REQUIRE(!w.oom);
        sm_rd r;
        sm_rd_init(&r, w.p, w.len);
        if (v >= 1)
            CHECK_EQ_I64(sm_rd_i32(&r), 2);
        CHECK_EQ_I64(sm_rd_i16(&r), SM_KERR_NONE);
        if (v >= 3) {
            CHECK_EQ_I64(rd_count_fx(&r, fx), 2);
            CHECK(sm_str_eqc(rd_str_fx(&r, fx), "m-1"));
            CHECK(sm_str_is_null(rd_str_fx(&r, fx)));
            CHECK_EQ_I64(sm_rd_i16(&r), SM_KERR_NONE);
            CHECK_TAGS0(&r, fx);
            CHECK(sm_str_eqc(rd_str_fx(&r, fx), ""));
            CHECK(sm_str_eqc(rd_str_fx(&r, fx), "pay-2"));
            CHECK_EQ_I64(sm_rd_i16(&r), SM_KERR_UNKNOWN_MEMBER_ID);
            CHECK_TAGS0(&r, fx);
        }
        CHECK_TAGS0(&r, fx);
        CHECK_RESP_END(&r);
        sm_wbuf_release(&w);
    }
    printf("   LeaveGroup response v0-5 read back (v1+ throttle first, v3+ per-member errors, v4+ "
           "flexible)\n");
}

/* ======================================================================== */
/* OffsetCommit                                                              */
/* ======================================================================== */

static const struct {
    int topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    int64_t commit_timestamp;
    const char *metadata;
} oc_parts[] = {
    {0, 0, 1234, 5, 1700000000000LL, "host-a"},
    {0, 1, 99, -1, -1, NULL},
    {1, 3, 0, 0, 1700000000001LL, ""},
};

static void build_offset_commit(pb *b, int16_t v)
{
    pb_flex(b, v >= SM_OFFSET_COMMIT_FLEX);
    pb_str(b, "shop-payments");
    if (v >= 1) {
        pb_i32(b, 3); /* GenerationIdOrMemberEpoch */
        pb_str(b, "m-1");
    }
    if (v >= 7)
        pb_nstr(b, "pay-1");
    if (v >= 2 && v <= 4)
        pb_i64(b, 604800000); /* RetentionTimeMs */
    pb_count(b, 2);
    for (int t = 0; t < 2; t++) {
        pb_str(b, t == 0 ? "orders" : "payments");
        pb_count(b, t == 0 ? 2 : 1);
        for (int i = 0; i < N(oc_parts); i++) {
            if (oc_parts[i].topic != t)
                continue;
            pb_i32(b, oc_parts[i].partition);
            pb_i64(b, oc_parts[i].offset);
            if (v >= 6)
                pb_i32(b, oc_parts[i].leader_epoch);
            if (v == 1)
                pb_i64(b, oc_parts[i].commit_timestamp);
            pb_nstr(b, oc_parts[i].metadata);
            pb_tags(b);
        }
        pb_tags(b);
    }
    pb_tags(b);
}

static void verify_offset_commit(const void *o, int16_t v)
{
    const sm_offset_commit_req *q = o;
    CHECK(sm_str_eqc(q->group_id, "shop-payments"));
    CHECK_EQ_I64(q->generation_id, v >= 1 ? 3 : -1);
    CHECK(sm_str_eqc(q->member_id, v >= 1 ? "m-1" : ""));
    CHECK(str_is(q->group_instance_id, v >= 7 ? "pay-1" : NULL));
    CHECK_EQ_I64(q->retention_time_ms, v >= 2 && v <= 4 ? 604800000 : -1);
    REQUIRE(q->topic_count == 2);
    CHECK(sm_str_eqc(q->topics[0].name, "orders"));
    CHECK(sm_str_eqc(q->topics[1].name, "payments"));
    REQUIRE(q->topics[0].partition_count == 2 && q->topics[1].partition_count == 1);
    int seen[2] = {0, 0};
    for (int i = 0; i < N(oc_parts); i++) {
        const sm_offset_commit_partition *p = &q->topics[oc_parts[i].topic].partitions
                                                   [seen[oc_parts[i].topic]++];
        CHECK_EQ_I64(p->partition_index, oc_parts[i].partition);
        CHECK_EQ_I64(p->committed_offset, oc_parts[i].offset);
        CHECK_EQ_I64(p->committed_leader_epoch, v >= 6 ? oc_parts[i].leader_epoch : -1);
        CHECK_EQ_I64(p->commit_timestamp, v == 1 ? oc_parts[i].commit_timestamp : -1);
        CHECK(str_is(p->committed_metadata, oc_parts[i].metadata));
    }
}

static void walk_offset_commit(const void *o, int16_t v)
{
    (void)v;
    const sm_offset_commit_req *q = o;
    walk_str(q->group_id);
    walk_str(q->member_id);
    walk_str(q->group_instance_id);
    walk_array(q->topics, q->topic_count, sizeof *q->topics);
    for (int32_t i = 0; i < q->topic_count; i++) {
        const sm_offset_commit_topic *t = &q->topics[i];
        walk_str(t->name);
        walk_array(t->partitions, t->partition_count, sizeof *t->partitions);
        for (int32_t j = 0; j < t->partition_count; j++)
            walk_str(t->partitions[j].committed_metadata);
    }
}

static int dec_offset_commit(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_offset_commit_req_decode(r, v, a, out);
}

static void test_offset_commit_resp(void)
{
    sm_offset_commit_partition_resp p0[] = {{0, SM_KERR_NONE}, {1, SM_KERR_ILLEGAL_GENERATION}};
    sm_offset_commit_partition_resp p1[] = {{3, SM_KERR_OFFSET_METADATA_TOO_LARGE}};
    sm_offset_commit_topic_resp topics[] = {{S("orders"), 2, p0}, {S("payments"), 1, p1}};
    sm_offset_commit_resp resp = {8, 2, topics};
    for (int16_t v = 0; v <= 8; v++) {
        bool fx = v >= SM_OFFSET_COMMIT_FLEX;
        sm_wbuf w;
        sm_wbuf_init(&w, 0);
        sm_offset_commit_resp_encode(&w, v, &resp);
        REQUIRE(!w.oom);
        sm_rd r;
        sm_rd_init(&r, w.p, w.len);
        if (v >= 3)
            CHECK_EQ_I64(sm_rd_i32(&r), 8);
        CHECK_EQ_I64(rd_count_fx(&r, fx), 2);
        for (int t = 0; t < 2; t++) {
            CHECK(sm_str_eq(rd_str_fx(&r, fx), topics[t].name));
            CHECK_EQ_I64(rd_count_fx(&r, fx), topics[t].partition_count);
            for (int i = 0; i < topics[t].partition_count; i++) {
                CHECK_EQ_I64(sm_rd_i32(&r), topics[t].partitions[i].partition_index);
                CHECK_EQ_I64(sm_rd_i16(&r), topics[t].partitions[i].error_code);
                CHECK_TAGS0(&r, fx);
            }
            CHECK_TAGS0(&r, fx);
        }
        CHECK_TAGS0(&r, fx);
        CHECK_RESP_END(&r);
        sm_wbuf_release(&w);
    }
    printf("   OffsetCommit response v0-8 read back (v3+ throttle first, v8 flexible)\n");
}

/* ======================================================================== */
/* OffsetFetch                                                               */
/* ======================================================================== */

/* v2 and v4 ask for every topic (null Topics); the others name partitions */
static bool of_all_topics(int16_t v) { return v == 2 || v == 4; }

static void build_offset_fetch(pb *b, int16_t v)
{
    pb_flex(b, v >= SM_OFFSET_FETCH_FLEX);
    pb_str(b, "shop-payments");
    if (of_all_topics(v)) {
        pb_ncount(b, -1);
    } else {
        if (v >= 2)
            pb_ncount(b, 2);
        else
            pb_count(b, 2);
        pb_str(b, "orders");
        pb_count(b, 3);
        pb_i32(b, 0);
        pb_i32(b, 1);
        pb_i32(b, 2);
        pb_tags(b);
        pb_str(b, "payments");
        pb_count(b, 1);
        pb_i32(b, 3);
        pb_tags(b);
    }
    if (v >= 7)
        pb_bool(b, true); /* RequireStable */
    pb_tags(b);
}

static void verify_offset_fetch(const void *o, int16_t v)
{
    const sm_offset_fetch_req *q = o;
    CHECK(sm_str_eqc(q->group_id, "shop-payments"));
    CHECK(q->require_stable == (v >= 7));
    if (of_all_topics(v)) {
        CHECK_EQ_I64(q->topic_count, -1);
        CHECK(q->topics == NULL);
        return;
    }
    REQUIRE(q->topic_count == 2);
    CHECK(sm_str_eqc(q->topics[0].name, "orders"));
    REQUIRE(q->topics[0].partition_index_count == 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ_I64(q->topics[0].partition_indexes[i], i);
    CHECK(sm_str_eqc(q->topics[1].name, "payments"));
    REQUIRE(q->topics[1].partition_index_count == 1);
    CHECK_EQ_I64(q->topics[1].partition_indexes[0], 3);
}

static void walk_offset_fetch(const void *o, int16_t v)
{
    (void)v;
    const sm_offset_fetch_req *q = o;
    walk_str(q->group_id);
    walk_array(q->topics, q->topic_count, sizeof *q->topics);
    for (int32_t i = 0; i < q->topic_count; i++) {
        walk_str(q->topics[i].name);
        walk_array(q->topics[i].partition_indexes, q->topics[i].partition_index_count,
                   sizeof *q->topics[i].partition_indexes);
    }
}

static int dec_offset_fetch(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_offset_fetch_req_decode(r, v, a, out);
}

static void test_offset_fetch_resp(void)
{
    sm_offset_fetch_partition_resp p0[] = {
        {0, 1234, 5, S("host-a"), SM_KERR_NONE},
        {1, -1, -1, {NULL, 0}, SM_KERR_NONE}, /* nothing committed; unset metadata: null */
    };
    sm_offset_fetch_partition_resp p1[] = {{0, -1, -1, S(""), SM_KERR_UNKNOWN_TOPIC_OR_PARTITION}};
    sm_offset_fetch_topic_resp topics[] = {{S("orders"), 2, p0}, {S("ghost"), 1, p1}};
    sm_offset_fetch_resp resp = {11, 2, topics, SM_KERR_COORDINATOR_LOAD_IN_PROGRESS};
    static const char *meta[2][2] = {{"host-a", NULL}, {"", NULL}};
    for (int16_t v = 0; v <= 7; v++) {
        bool fx = v >= SM_OFFSET_FETCH_FLEX;
        sm_wbuf w;
        sm_wbuf_init(&w, 0);
        sm_offset_fetch_resp_encode(&w, v, &resp);
        REQUIRE(!w.oom);
        sm_rd r;
        sm_rd_init(&r, w.p, w.len);
        if (v >= 3)
            CHECK_EQ_I64(sm_rd_i32(&r), 11);
        CHECK_EQ_I64(rd_count_fx(&r, fx), 2);
        for (int t = 0; t < 2; t++) {
            CHECK(sm_str_eq(rd_str_fx(&r, fx), topics[t].name));
            CHECK_EQ_I64(rd_count_fx(&r, fx), topics[t].partition_count);
            for (int i = 0; i < topics[t].partition_count; i++) {
                const sm_offset_fetch_partition_resp *p = &topics[t].partitions[i];
                CHECK_EQ_I64(sm_rd_i32(&r), p->partition_index);
                CHECK_EQ_I64(sm_rd_i64(&r), p->committed_offset);
                if (v >= 5)
                    CHECK_EQ_I64(sm_rd_i32(&r), p->committed_leader_epoch);
                CHECK(str_is(rd_str_fx(&r, fx), meta[t][i]));
                CHECK_EQ_I64(sm_rd_i16(&r), p->error_code);
                CHECK_TAGS0(&r, fx);
            }
            CHECK_TAGS0(&r, fx);
        }
        if (v >= 2) /* the top-level ErrorCode comes last */
            CHECK_EQ_I64(sm_rd_i16(&r), SM_KERR_COORDINATOR_LOAD_IN_PROGRESS);
        CHECK_TAGS0(&r, fx);
        CHECK_RESP_END(&r);
        sm_wbuf_release(&w);
    }
    printf("   OffsetFetch response v0-7 read back (v2+ ErrorCode last, v3+ throttle first, v5+ "
           "CommittedLeaderEpoch, v6+ flexible)\n");
}

/* ======================================================================== */
/* DescribeGroups                                                            */
/* ======================================================================== */

static void build_describe_groups(pb *b, int16_t v)
{
    pb_flex(b, v >= SM_DESCRIBE_GROUPS_FLEX);
    pb_count1(b, 2);
    pb_str(b, "shop-payments");
    pb_str(b, "shop-stock");
    if (v >= 3)
        pb_bool(b, true); /* IncludeAuthorizedOperations */
    pb_tags(b);
}

static void verify_describe_groups(const void *o, int16_t v)
{
    const sm_describe_groups_req *q = o;
    REQUIRE(q->group_count == 2);
    CHECK(sm_str_eqc(q->groups[0], "shop-payments"));
    CHECK(sm_str_eqc(q->groups[1], "shop-stock"));
    CHECK(q->include_authorized_operations == (v >= 3));
}

static void walk_describe_groups(const void *o, int16_t v)
{
    (void)v;
    const sm_describe_groups_req *q = o;
    walk_array(q->groups, q->group_count, sizeof *q->groups);
    for (int32_t i = 0; i < q->group_count; i++)
        walk_str(q->groups[i]);
}

static int dec_describe_groups(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_describe_groups_req_decode(r, v, a, out);
}

static void test_describe_groups_resp(void)
{
    sm_describe_groups_member members[] = {
        {S("m-1"), S("pay-1"), S("rdkafka"), S("/10.0.0.5"), BYTES(subscription),
         BYTES(assignment)},
        {S("m-2"), SM_STR_NULL, S("kafka-python-2.0.2"), S("/10.0.0.6"), {NULL, 0}, {NULL, 0}},
    };
    sm_describe_groups_group groups[] = {
        {SM_KERR_NONE, SM_STR_NULL, S("shop-payments"), S("Stable"), S("consumer"), S("range"), 2,
         members, 0x1f8},
        /* v6 (KIP-1043): a group that does not exist, with Kafka's message */
        {SM_KERR_GROUP_ID_NOT_FOUND, S("Group ghost not found."), S("ghost"), S(""), {NULL, 0},
         {NULL, 0}, 0, NULL, SM_AUTHORIZED_OPERATIONS_OMITTED},
    };
    sm_describe_groups_resp resp = {1, 2, groups};
    for (int16_t v = 0; v <= 6; v++) {
        bool fx = v >= SM_DESCRIBE_GROUPS_FLEX;
        sm_wbuf w;
        sm_wbuf_init(&w, 0);
        sm_describe_groups_resp_encode(&w, v, &resp);
        REQUIRE(!w.oom);
        sm_rd r;
        sm_rd_init(&r, w.p, w.len);
        if (v >= 1)
            CHECK_EQ_I64(sm_rd_i32(&r), 1);
        CHECK_EQ_I64(rd_count_fx(&r, fx), 2);
        for (int g = 0; g < 2; g++) {
            CHECK_EQ_I64(sm_rd_i16(&r), groups[g].error_code);
            if (v >= 6)
                CHECK(str_is(rd_str_fx(&r, fx), g == 0 ? NULL : "Group ghost not found."));
            CHECK(sm_str_eq(rd_str_fx(&r, fx), groups[g].group_id));
            CHECK(sm_str_eq(rd_str_fx(&r, fx), groups[g].group_state));
            CHECK(sm_str_eqc(rd_str_fx(&r, fx), g == 0 ? "consumer" : ""));
            CHECK(sm_str_eqc(rd_str_fx(&r, fx), g == 0 ? "range" : ""));
            CHECK_EQ_I64(rd_count_fx(&r, fx), groups[g].member_count);
            for (int i = 0; i < groups[g].member_count; i++) {
                const sm_describe_groups_member *m = &members[i];
                CHECK(sm_str_eq(rd_str_fx(&r, fx), m->member_id));
                if (v >= 4)
                    CHECK(str_is(rd_str_fx(&r, fx), i == 0 ? "pay-1" : NULL));
                CHECK(sm_str_eq(rd_str_fx(&r, fx), m->client_id));
                CHECK(sm_str_eq(rd_str_fx(&r, fx), m->client_host));
                sm_str md = rd_bytes_fx(&r, fx), as = rd_bytes_fx(&r, fx);
                if (i == 0) {
                    CHECK(bytes_are(md, subscription, sizeof subscription));
                    CHECK(bytes_are(as, assignment, sizeof assignment));
                } else {
                    CHECK(md.len == 0 && as.len == 0);
                }
                CHECK_TAGS0(&r, fx);
            }
            if (v >= 3)
                CHECK_EQ_I64(sm_rd_i32(&r), groups[g].authorized_operations);
            CHECK_TAGS0(&r, fx);
        }
        CHECK_TAGS0(&r, fx);
        CHECK_RESP_END(&r);
        sm_wbuf_release(&w);
    }
    printf("   DescribeGroups response v0-6 read back (v1+ throttle, v3+ AuthorizedOperations, "
           "v4+ GroupInstanceId, v5 flexible, v6 ErrorMessage)\n");
}

/* ======================================================================== */
/* ListGroups                                                                */
/* ======================================================================== */

static void build_list_groups(pb *b, int16_t v)
{
    (void)b;
    (void)v; /* no fields in v0-2 */
}

static void verify_list_groups(const void *o, int16_t v)
{
    (void)o;
    (void)v;
}

static void walk_list_groups(const void *o, int16_t v)
{
    (void)o;
    (void)v;
}

static int dec_list_groups(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_list_groups_req_decode(r, v, a, out);
}

static void test_list_groups_resp(void)
{
    sm_list_groups_group groups[] = {{S("shop-payments"), S("consumer"), S("Stable"), S("classic")},
                                     {S("offsets-only"), {NULL, 0}, S("Empty"), S("classic")}};
    sm_list_groups_resp resp = {3, SM_KERR_NONE, 2, groups};
    for (int16_t v = 0; v <= 2; v++) {
        sm_wbuf w;
        sm_wbuf_init(&w, 0);
        sm_list_groups_resp_encode(&w, v, &resp);
        REQUIRE(!w.oom);
        sm_rd r;
        sm_rd_init(&r, w.p, w.len);
        if (v >= 1)
            CHECK_EQ_I64(sm_rd_i32(&r), 3);
        CHECK_EQ_I64(sm_rd_i16(&r), SM_KERR_NONE);
        CHECK_COUNT(&r, 2);
        CHECK(sm_str_eqc(sm_rd_str(&r), "shop-payments"));
        CHECK(sm_str_eqc(sm_rd_str(&r), "consumer"));
        CHECK(sm_str_eqc(sm_rd_str(&r), "offsets-only"));
        CHECK(sm_str_eqc(sm_rd_str(&r), ""));
        CHECK_RESP_END(&r);
        sm_wbuf_release(&w);
    }
    printf("   ListGroups response v0-2 read back (v1+ throttle first)\n");
}

/* ======================================================================== */
/* DeleteGroups                                                              */
/* ======================================================================== */

static void build_delete_groups(pb *b, int16_t v)
{
    pb_flex(b, v >= SM_DELETE_GROUPS_FLEX);
    pb_count1(b, 2);
    pb_str(b, "shop-old");
    pb_str(b, "shop-busy");
    pb_tags(b);
}

static void verify_delete_groups(const void *o, int16_t v)
{
    (void)v;
    const sm_delete_groups_req *q = o;
    REQUIRE(q->groups_name_count == 2);
    CHECK(sm_str_eqc(q->groups_names[0], "shop-old"));
    CHECK(sm_str_eqc(q->groups_names[1], "shop-busy"));
}

static void walk_delete_groups(const void *o, int16_t v)
{
    (void)v;
    const sm_delete_groups_req *q = o;
    walk_array(q->groups_names, q->groups_name_count, sizeof *q->groups_names);
    for (int32_t i = 0; i < q->groups_name_count; i++)
        walk_str(q->groups_names[i]);
}

static int dec_delete_groups(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_delete_groups_req_decode(r, v, a, out);
}

static void test_delete_groups_resp(void)
{
    sm_delete_groups_result res[] = {{S("shop-old"), SM_KERR_NONE},
                                     {S("shop-busy"), SM_KERR_NON_EMPTY_GROUP},
                                     {S("ghost"), SM_KERR_GROUP_ID_NOT_FOUND}};
    sm_delete_groups_resp resp = {0, N(res), res};
    for (int16_t v = 0; v <= 2; v++) {
        bool fx = v >= SM_DELETE_GROUPS_FLEX;
        sm_wbuf w;
        sm_wbuf_init(&w, 0);
        sm_delete_groups_resp_encode(&w, v, &resp);
        REQUIRE(!w.oom);
        sm_rd r;
        sm_rd_init(&r, w.p, w.len);
        CHECK_EQ_I64(sm_rd_i32(&r), 0);
        CHECK_EQ_I64(rd_count_fx(&r, fx), N(res));
        for (int i = 0; i < N(res); i++) {
            CHECK(sm_str_eq(rd_str_fx(&r, fx), res[i].group_id));
            CHECK_EQ_I64(sm_rd_i16(&r), res[i].error_code);
            CHECK_TAGS0(&r, fx);
        }
        CHECK_TAGS0(&r, fx);
        CHECK_RESP_END(&r);
        sm_wbuf_release(&w);
    }
    printf("   DeleteGroups response v0-2 read back (v2 flexible)\n");
}

/* ======================================================================== */
/* OffsetDelete                                                              */
/* ======================================================================== */

static void build_offset_delete(pb *b, int16_t v)
{
    (void)v;
    pb_str(b, "shop-payments");
    pb_count(b, 2);
    pb_str(b, "orders");
    pb_count(b, 2);
    pb_i32(b, 0);
    pb_i32(b, 1);
    pb_str(b, "payments");
    pb_count(b, 0);
}

static void verify_offset_delete(const void *o, int16_t v)
{
    (void)v;
    const sm_offset_delete_req *q = o;
    CHECK(sm_str_eqc(q->group_id, "shop-payments"));
    REQUIRE(q->topic_count == 2);
    CHECK(sm_str_eqc(q->topics[0].name, "orders"));
    REQUIRE(q->topics[0].partition_count == 2);
    CHECK_EQ_I64(q->topics[0].partitions[0].partition_index, 0);
    CHECK_EQ_I64(q->topics[0].partitions[1].partition_index, 1);
    CHECK(sm_str_eqc(q->topics[1].name, "payments"));
    CHECK_EQ_I64(q->topics[1].partition_count, 0);
}

static void walk_offset_delete(const void *o, int16_t v)
{
    (void)v;
    const sm_offset_delete_req *q = o;
    walk_str(q->group_id);
    walk_array(q->topics, q->topic_count, sizeof *q->topics);
    for (int32_t i = 0; i < q->topic_count; i++) {
        walk_str(q->topics[i].name);
        walk_array(q->topics[i].partitions, q->topics[i].partition_count,
                   sizeof *q->topics[i].partitions);
    }
}

static int dec_offset_delete(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_offset_delete_req_decode(r, v, a, out);
}

static void test_offset_delete_resp(void)
{
    sm_offset_delete_partition_resp parts[] = {{0, SM_KERR_NONE},
                                               {1, SM_KERR_GROUP_SUBSCRIBED_TO_TOPIC}};
    sm_offset_delete_topic_resp topics[] = {{S("orders"), 2, parts}};
    sm_offset_delete_resp resp = {SM_KERR_NONE, 7, 1, topics};
    sm_wbuf w;
    sm_wbuf_init(&w, 0);
    sm_offset_delete_resp_encode(&w, 0, &resp);
    REQUIRE(!w.oom);
    sm_rd r;
    sm_rd_init(&r, w.p, w.len);
    CHECK_EQ_I64(sm_rd_i16(&r), SM_KERR_NONE); /* ErrorCode first */
    CHECK_EQ_I64(sm_rd_i32(&r), 7);            /* then ThrottleTimeMs */
    CHECK_COUNT(&r, 1);
    CHECK(sm_str_eqc(sm_rd_str(&r), "orders"));
    CHECK_COUNT(&r, 2);
    CHECK_EQ_I64(sm_rd_i32(&r), 0);
    CHECK_EQ_I64(sm_rd_i16(&r), SM_KERR_NONE);
    CHECK_EQ_I64(sm_rd_i32(&r), 1);
    CHECK_EQ_I64(sm_rd_i16(&r), SM_KERR_GROUP_SUBSCRIBED_TO_TOPIC);
    CHECK_RESP_END(&r);
    sm_wbuf_release(&w);
    printf("   OffsetDelete response v0 read back (ErrorCode before ThrottleTimeMs)\n");
}

/* ======================================================================== */
/* InitProducerId                                                            */
/* ======================================================================== */

static void build_init_producer_id(pb *b, int16_t v)
{
    pb_flex(b, v >= SM_INIT_PRODUCER_ID_FLEX);
    pb_nstr(b, v == 0 ? NULL : "shop-tx-1"); /* TransactionalId */
    pb_i32(b, 60000);
    pb_tags(b);
}

static void verify_init_producer_id(const void *o, int16_t v)
{
    const sm_init_producer_id_req *q = o;
    CHECK(str_is(q->transactional_id, v == 0 ? NULL : "shop-tx-1"));
    CHECK_EQ_I64(q->transaction_timeout_ms, 60000);
}

static void walk_init_producer_id(const void *o, int16_t v)
{
    (void)v;
    walk_str(((const sm_init_producer_id_req *)o)->transactional_id);
}

static int dec_init_producer_id(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_init_producer_id_req_decode(r, v, a, out);
}

static void test_init_producer_id_resp(void)
{
    sm_init_producer_id_resp resp = {0, SM_KERR_NONE, 4000, 0};
    for (int16_t v = 0; v <= 2; v++) {
        sm_wbuf w;
        sm_wbuf_init(&w, 0);
        sm_init_producer_id_resp_encode(&w, v, &resp);
        REQUIRE(!w.oom);
        sm_rd r;
        sm_rd_init(&r, w.p, w.len);
        CHECK_EQ_I64(sm_rd_i32(&r), 0);
        CHECK_EQ_I64(sm_rd_i16(&r), SM_KERR_NONE);
        CHECK_EQ_I64(sm_rd_i64(&r), 4000);
        CHECK_EQ_I64(sm_rd_i16(&r), 0);
        CHECK_TAGS0(&r, v >= SM_INIT_PRODUCER_ID_FLEX);
        CHECK_RESP_END(&r);
        CHECK_EQ_I64(w.len, v >= 2 ? 17 : 16);
        sm_wbuf_release(&w);
    }
    printf("   InitProducerId response v0-2 read back (v2 flexible)\n");
}

/* ======================================================================== */

/* Known bytes written out by hand from the schema, so that the builders
 * above are not the only witness of the layout. */
static void test_golden(void)
{
    /* OffsetFetch v2 request: GroupId "g", Topics null (all) */
    static const uint8_t of_v2[] = {0, 1, 'g', 0xff, 0xff, 0xff, 0xff};
    sm_arena a;
    sm_arena_init(&a);
    sm_rd r;
    sm_offset_fetch_req q;
    sm_rd_init(&r, of_v2, sizeof of_v2);
    CHECK_EQ_I64(sm_offset_fetch_req_decode(&r, 2, &a, &q), SM_OK);
    CHECK(sm_str_eqc(q.group_id, "g") && q.topic_count == -1);
    /* the same bytes as v1, where Topics is not nullable */
    sm_rd_init(&r, of_v2, sizeof of_v2);
    CHECK_EQ_I64(sm_offset_fetch_req_decode(&r, 1, &a, &q), SM_ECORRUPT);

    /* JoinGroup v0 request: no RebalanceTimeoutMs */
    static const uint8_t jg_v0[] = {0, 1, 'g', 0, 0, 0x27, 0x10, 0, 0, 0, 8, 'c', 'o', 'n', 's',
                                    'u', 'm', 'e', 'r', 0, 0, 0, 1, 0, 5, 'r', 'a', 'n', 'g',
                                    'e', 0, 0, 0, 0};
    sm_join_group_req jq;
    sm_rd_init(&r, jg_v0, sizeof jg_v0);
    CHECK_EQ_I64(sm_join_group_req_decode(&r, 0, &a, &jq), SM_OK);
    CHECK(jq.session_timeout_ms == 10000 && jq.rebalance_timeout_ms == 10000);
    CHECK(jq.member_id.len == 0 && sm_str_eqc(jq.protocol_type, "consumer"));
    CHECK(jq.protocol_count == 1 && jq.protocols[0].metadata.len == 0);
    sm_arena_release(&a);

    /* FindCoordinator v0 response: error 0, node 1, host "h", port 9092 */
    sm_find_coordinator_one one = {S("g"), 1, S("h"), 9092, 0, S("ignored in v0")};
    sm_find_coordinator_resp resp = {99, 1, &one};
    sm_wbuf w;
    sm_wbuf_init(&w, 0);
    sm_find_coordinator_resp_encode(&w, 0, &resp);
    static const uint8_t fc_v0[] = {0, 0, 0, 0, 0, 1, 0, 1, 'h', 0, 0, 0x23, 0x84};
    CHECK(w.len == sizeof fc_v0 && memcmp(w.p, fc_v0, w.len) == 0);
    /* v4 (flexible): throttle 99, Coordinators [ Key "g", NodeId 1, Host "h", Port 9092,
     * ErrorCode 0, ErrorMessage "ignored in v0", tags ], tags */
    w.len = 0;
    sm_find_coordinator_resp_encode(&w, 4, &resp);
    static const uint8_t fc_v4[] = {0, 0, 0, 99, 0x02, 0x02, 'g', 0, 0, 0, 1, 0x02, 'h', 0, 0, 0x23,
                                    0x84, 0, 0, 0x0e, 'i', 'g', 'n', 'o', 'r', 'e', 'd', ' ', 'i',
                                    'n', ' ', 'v', '0', 0, 0};
    CHECK(w.len == sizeof fc_v4 && memcmp(w.p, fc_v4, w.len) == 0);
    sm_wbuf_release(&w);
    /* FindCoordinator v4 request: KeyType 0, CoordinatorKeys ["a", "bc"], tags */
    static const uint8_t fcq_v4[] = {0, 0x03, 0x02, 'a', 0x03, 'b', 'c', 0};
    sm_arena_init(&a);
    sm_find_coordinator_req fq;
    sm_rd_init(&r, fcq_v4, sizeof fcq_v4);
    CHECK(sm_find_coordinator_req_decode(&r, 4, &a, &fq) == SM_OK);
    CHECK(fq.key_count == 2 && sm_str_eqc(fq.keys[1], "bc") && fq.key_type == 0);
    sm_arena_release(&a);
    printf("   hand-written bytes: OffsetFetch v2/v1 null Topics, JoinGroup v0 request, "
           "FindCoordinator v0 and v4 response, v4 request\n");
}

static const decoder_case cases[] = {
    {"FindCoordinator", 0, 5, build_find_coordinator, dec_find_coordinator,
     verify_find_coordinator, walk_find_coordinator, sizeof(sm_find_coordinator_req)},
    {"JoinGroup", 0, 9, build_join_group, dec_join_group, verify_join_group, walk_join_group,
     sizeof(sm_join_group_req)},
    {"SyncGroup", 0, 5, build_sync_group, dec_sync_group, verify_sync_group, walk_sync_group,
     sizeof(sm_sync_group_req)},
    {"Heartbeat", 0, 4, build_heartbeat, dec_heartbeat, verify_heartbeat, walk_heartbeat,
     sizeof(sm_heartbeat_req)},
    {"LeaveGroup", 0, 5, build_leave_group, dec_leave_group, verify_leave_group,
     walk_leave_group, sizeof(sm_leave_group_req)},
    {"OffsetCommit", 0, 8, build_offset_commit, dec_offset_commit, verify_offset_commit,
     walk_offset_commit, sizeof(sm_offset_commit_req)},
    {"OffsetFetch", 0, 7, build_offset_fetch, dec_offset_fetch, verify_offset_fetch,
     walk_offset_fetch, sizeof(sm_offset_fetch_req)},
    {"DescribeGroups", 0, 6, build_describe_groups, dec_describe_groups, verify_describe_groups,
     walk_describe_groups, sizeof(sm_describe_groups_req)},
    {"ListGroups", 0, 2, build_list_groups, dec_list_groups, verify_list_groups,
     walk_list_groups, sizeof(sm_list_groups_req)},
    {"DeleteGroups", 0, 2, build_delete_groups, dec_delete_groups, verify_delete_groups,
     walk_delete_groups, sizeof(sm_delete_groups_req)},
    {"OffsetDelete", 0, 0, build_offset_delete, dec_offset_delete, verify_offset_delete,
     walk_offset_delete, sizeof(sm_offset_delete_req)},
    {"InitProducerId", 0, 2, build_init_producer_id, dec_init_producer_id,
     verify_init_producer_id, walk_init_producer_id, sizeof(sm_init_producer_id_req)},
};

int main(void)
{
    TEST_SECTION("group request decoders: every field, every version; truncations, trailing "
                 "bytes, lying counts, forbidden nulls, seeded mutations");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_decoder(&cases[i]);
    TEST_SECTION("group response encoders read back field by field, every version");
    test_find_coordinator_resp();
    test_join_group_resp();
    test_sync_group_resp();
    test_heartbeat_resp();
    test_leave_group_resp();
    test_offset_commit_resp();
    test_offset_fetch_resp();
    test_describe_groups_resp();
    test_list_groups_resp();
    test_delete_groups_resp();
    test_offset_delete_resp();
    test_init_producer_id_resp();
    TEST_SECTION("hand-written bytes");
    test_golden();
    return check_report("test_proto_group");
}
