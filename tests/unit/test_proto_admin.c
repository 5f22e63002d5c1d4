/* test_proto_admin.c: codecs of ListOffsets, CreateTopics, DeleteTopics,
 * CreatePartitions, DeleteRecords, DescribeConfigs and AlterConfigs.
 *
 * Each request is built field by field from Kafka's JSON schema for every
 * version we advertise, decoded and checked field by field, then put
 * through the harness in proto_check.h (truncations, trailing bytes, lying
 * counts, forbidden nulls, seeded mutations). Each response is encoded for
 * every version and read back field by field, to the exact byte. */
#include <string.h>

#include "check.h"
#include "proto/alter_configs.h"
#include "proto/create_partitions.h"
#include "proto/create_topics.h"
#include "proto/delete_records.h"
#include "proto/delete_topics.h"
#include "proto/metadata.h"
#include "proto/describe_configs.h"
#include "proto/kafka.h"
#include "proto/list_offsets.h"
#include "proto_check.h"

#define N(a) ((int32_t)(sizeof(a) / sizeof((a)[0])))
#define S(lit) SM_STR_LIT(lit)

/* ======================================================================== */
/* ListOffsets                                                               */
/* ======================================================================== */

/* topic 0 ("orders") gets partitions 0-2, topic 1 ("payments") partition 3 */
static const struct {
    int32_t partition;
    int64_t timestamp;
    int32_t max_num_offsets;
} lo_parts[] = {
    {0, SM_LIST_OFFSETS_LATEST_TIMESTAMP, 1},
    {1, SM_LIST_OFFSETS_EARLIEST_TIMESTAMP, 1},
    {2, 1700000000123LL, 5},
    {7, SM_LIST_OFFSETS_LATEST_TIMESTAMP, 1},
};

static void build_list_offsets(pb *b, int16_t v)
{
    pb_flex(b, v >= SM_LIST_OFFSETS_FLEX);
    pb_i32(b, -1); /* ReplicaId */
    if (v >= 2)
        pb_i8(b, 1); /* IsolationLevel READ_COMMITTED */
    pb_count(b, 2);
    for (int t = 0; t < 2; t++) {
        pb_str(b, t == 0 ? "orders" : "payments");
        int first = t == 0 ? 0 : 3, n = t == 0 ? 3 : 1;
        pb_count(b, n);
        for (int i = first; i < first + n; i++) {
            pb_i32(b, lo_parts[i].partition);
            if (v >= 4)
                pb_i32(b, i); /* CurrentLeaderEpoch */
            pb_i64(b, lo_parts[i].timestamp);
            if (v == 0)
                pb_i32(b, lo_parts[i].max_num_offsets);
            pb_tags(b);
        }
        pb_tags(b);
    }
    if (v >= 10)
        pb_i32(b, 2500); /* TimeoutMs */
    pb_tags(b);
}

static void verify_list_offsets(const void *o, int16_t v)
{
    const sm_list_offsets_req *q = o;
    CHECK_EQ_I64(q->replica_id, -1);
    CHECK_EQ_I64(q->isolation_level, v >= 2 ? 1 : 0);
    REQUIRE(q->topic_count == 2);
    for (int t = 0; t < 2; t++) {
        const sm_list_offsets_topic *tp = &q->topics[t];
        CHECK(sm_str_eqc(tp->name, t == 0 ? "orders" : "payments"));
        int first = t == 0 ? 0 : 3, n = t == 0 ? 3 : 1;
        REQUIRE(tp->partition_count == n);
        for (int i = 0; i < n; i++) {
            const sm_list_offsets_partition *p = &tp->partitions[i];
            CHECK_EQ_I64(p->partition_index, lo_parts[first + i].partition);
            CHECK_EQ_I64(p->timestamp, lo_parts[first + i].timestamp);
            CHECK_EQ_I64(p->max_num_offsets, v == 0 ? lo_parts[first + i].max_num_offsets : 1);
            CHECK_EQ_I64(p->current_leader_epoch, v >= 4 ? first + i : -1);
        }
    }
    CHECK_EQ_I64(q->timeout_ms, v >= 10 ? 2500 : 0);
}

static void walk_list_offsets(const void *o, int16_t v)
{
    (void)v;
    const sm_list_offsets_req *q = o;
    walk_array(q->topics, q->topic_count, sizeof *q->topics);
    for (int32_t i = 0; i < q->topic_count; i++) {
        walk_str(q->topics[i].name);
        walk_array(q->topics[i].partitions, q->topics[i].partition_count,
                   sizeof *q->topics[i].partitions);
    }
}

static int dec_list_offsets(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_list_offsets_req_decode(r, v, a, out);
}

static void test_list_offsets_resp(void)
{
    int64_t olds0[] = {42};
    int64_t olds2[] = {300, 200, 0};
    sm_list_offsets_partition_resp parts[] = {
        {0, SM_KERR_NONE, 1, olds0, -1, 42, 0},
        {1, SM_KERR_UNKNOWN_TOPIC_OR_PARTITION, 0, NULL, -1, -1, -1},
        {2, SM_KERR_NONE, 3, olds2, 1700000000123LL, 77, 5},
    };
    sm_list_offsets_topic_resp topics[] = {{S("orders"), 3, parts}, {S("payments"), 0, NULL}};
    sm_list_offsets_resp resp = {17, 2, topics};
    for (int16_t v = 0; v <= 10; v++) {
        bool fx = v >= SM_LIST_OFFSETS_FLEX;
        sm_wbuf w;
        sm_wbuf_init(&w, 0);
        sm_list_offsets_resp_encode(&w, v, &resp);
        REQUIRE(!w.oom);
        sm_rd r;
        sm_rd_init(&r, w.p, w.len);
        if (v >= 2)
            CHECK_EQ_I64(sm_rd_i32(&r), 17); /* ThrottleTimeMs */
        CHECK_EQ_I64(rd_count_fx(&r, fx), 2);
        CHECK(sm_str_eqc(rd_str_fx(&r, fx), "orders"));
        CHECK_EQ_I64(rd_count_fx(&r, fx), 3);
        for (int i = 0; i < 3; i++) {
            CHECK_EQ_I64(sm_rd_i32(&r), parts[i].partition_index);
            CHECK_EQ_I64(sm_rd_i16(&r), parts[i].error_code);
            if (v == 0) {
                CHECK_EQ_I64(sm_rd_i32(&r), parts[i].old_style_offset_count);
                for (int k = 0; k < parts[i].old_style_offset_count; k++)
                    CHECK_EQ_I64(sm_rd_i64(&r), parts[i].old_style_offsets[k]);
            } else {
                CHECK_EQ_I64(sm_rd_i64(&r), parts[i].timestamp);
                CHECK_EQ_I64(sm_rd_i64(&r), parts[i].offset);
            }
            if (v >= 4)
                CHECK_EQ_I64(sm_rd_i32(&r), parts[i].leader_epoch);
            CHECK_TAGS0(&r, fx);
        }
        CHECK_TAGS0(&r, fx);
        CHECK(sm_str_eqc(rd_str_fx(&r, fx), "payments"));
        CHECK_EQ_I64(rd_count_fx(&r, fx), 0);
        CHECK_TAGS0(&r, fx);
        CHECK_TAGS0(&r, fx);
        CHECK_RESP_END(&r);
        sm_wbuf_release(&w);
    }
    printf("   ListOffsets response v0-10 read back (v0 OldStyleOffsets, v1+ Timestamp/Offset, "
           "v2+ throttle first)\n");
}

/* ======================================================================== */
/* CreateTopics                                                              */
/* ======================================================================== */

static void build_create_topics(pb *b, int16_t v)
{
    pb_count(b, 2);
    /* "orders": 3 partitions, replication 1, two configs (one null value) */
    pb_str(b, "orders");
    pb_i32(b, 3);
    pb_i16(b, 1);
    pb_count(b, 0); /* Assignments */
    pb_count(b, 2); /* Configs */
    pb_str(b, "cleanup.policy");
    pb_nstr(b, "compact");
    pb_str(b, "retention.ms");
    pb_nstr(b, NULL);
    /* "payments": a manual assignment of 2 partitions */
    pb_str(b, "payments");
    pb_i32(b, -1);
    pb_i16(b, -1);
    pb_count(b, 2);
    pb_i32(b, 0);
    pb_count(b, 1);
    pb_i32(b, 1);
    pb_i32(b, 1);
    pb_count(b, 2);
    pb_i32(b, 1);
    pb_i32(b, 2);
    pb_count(b, 0); /* Configs */
    pb_i32(b, 30000); /* timeoutMs */
    if (v >= 1)
        pb_bool(b, true); /* validateOnly */
}

static void verify_create_topics(const void *o, int16_t v)
{
    const sm_create_topics_req *q = o;
    REQUIRE(q->topic_count == 2);
    const sm_create_topics_topic *t = &q->topics[0];
    CHECK(sm_str_eqc(t->name, "orders"));
    CHECK_EQ_I64(t->num_partitions, 3);
    CHECK_EQ_I64(t->replication_factor, 1);
    CHECK_EQ_I64(t->assignment_count, 0);
    REQUIRE(t->config_count == 2);
    CHECK(sm_str_eqc(t->configs[0].name, "cleanup.policy"));
    CHECK(sm_str_eqc(t->configs[0].value, "compact"));
    CHECK(sm_str_eqc(t->configs[1].name, "retention.ms"));
    CHECK(sm_str_is_null(t->configs[1].value));
    t = &q->topics[1];
    CHECK(sm_str_eqc(t->name, "payments"));
    CHECK_EQ_I64(t->num_partitions, -1);
    CHECK_EQ_I64(t->replication_factor, -1);
    REQUIRE(t->assignment_count == 2);
    CHECK_EQ_I64(t->assignments[0].partition_index, 0);
    REQUIRE(t->assignments[0].broker_id_count == 1);
    CHECK_EQ_I64(t->assignments[0].broker_ids[0], 1);
    CHECK_EQ_I64(t->assignments[1].partition_index, 1);
    REQUIRE(t->assignments[1].broker_id_count == 2);
    CHECK_EQ_I64(t->assignments[1].broker_ids[0], 1);
    CHECK_EQ_I64(t->assignments[1].broker_ids[1], 2);
    CHECK_EQ_I64(t->config_count, 0);
    CHECK_EQ_I64(q->timeout_ms, 30000);
    CHECK(q->validate_only == (v >= 1));
}

static void walk_create_topics(const void *o, int16_t v)
{
    (void)v;
    const sm_create_topics_req *q = o;
    walk_array(q->topics, q->topic_count, sizeof *q->topics);
    for (int32_t i = 0; i < q->topic_count; i++) {
        const sm_create_topics_topic *t = &q->topics[i];
        walk_str(t->name);
        walk_array(t->assignments, t->assignment_count, sizeof *t->assignments);
        for (int32_t j = 0; j < t->assignment_count; j++)
            walk_array(t->assignments[j].broker_ids, t->assignments[j].broker_id_count,
                       sizeof *t->assignments[j].broker_ids);
        walk_array(t->configs, t->config_count, sizeof *t->configs);
        for (int32_t j = 0; j < t->config_count; j++) {
            walk_str(t->configs[j].name);
            walk_str(t->configs[j].value);
        }
    }
}

static int dec_create_topics(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_create_topics_req_decode(r, v, a, out);
}

static void test_create_topics_resp(void)
{
    sm_create_topics_topic_resp topics[] = {
        {S("orders"), SM_KERR_NONE, SM_STR_NULL},
        {S("payments"), SM_KERR_TOPIC_ALREADY_EXISTS, S("Topic 'payments' already exists.")},
        {S("zeroed"), SM_KERR_INVALID_PARTITIONS, {NULL, 0}}, /* unset: goes out null */
        {S("empty"), SM_KERR_INVALID_CONFIG, S("")},          /* set but empty: "" */
    };
    sm_create_topics_resp resp = {250, N(topics), topics};
    for (int16_t v = 0; v <= 4; v++) {
        sm_wbuf w;
        sm_wbuf_init(&w, 0);
        sm_create_topics_resp_encode(&w, v, &resp);
        REQUIRE(!w.oom);
        sm_rd r;
        sm_rd_init(&r, w.p, w.len);
        if (v >= 2)
            CHECK_EQ_I64(sm_rd_i32(&r), 250);
        CHECK_EQ_I64(sm_rd_i32(&r), N(topics));
        static const char *msgs[] = {NULL, "Topic 'payments' already exists.", NULL, ""};
        for (int i = 0; i < N(topics); i++) {
            CHECK(sm_str_eq(sm_rd_str(&r), topics[i].name));
            CHECK_EQ_I64(sm_rd_i16(&r), topics[i].error_code);
            if (v >= 1)
                CHECK(str_is(sm_rd_str(&r), msgs[i]));
        }
        CHECK_RESP_END(&r);
        sm_wbuf_release(&w);
    }
    printf("   CreateTopics response v0-4 read back (v1+ nullable ErrorMessage, unset -> null, "
           "v2+ throttle first)\n");
}

/* ======================================================================== */
/* DeleteTopics                                                              */
/* ======================================================================== */

/* Metadata v10-v12 (MetadataRequest.json): each topic is TopicId (uuid),
 * Name (compact nullable string), tags; then AllowAutoTopicCreation,
 * IncludeClusterAuthorizedOperations (v8-v10 only), IncludeTopicAuthorizedOperations. */
static const uint8_t md_id[16] = {0x5e, 1, 2, 3, 4, 5, 0x46, 7, 0x88, 9, 10, 11, 12, 13, 14, 15};

static void build_metadata_ids(pb *b, int16_t v)
{
    static const uint8_t zero[16];
    pb_flex(b, true);
    pb_ncount(b, 3);
    sm_wbuf_raw(&b->w, zero, 16);
    pb_nstr(b, "orders");
    pb_tags(b);
    sm_wbuf_raw(&b->w, md_id, 16);
    pb_nstr(b, NULL);
    pb_tags(b);
    sm_wbuf_raw(&b->w, zero, 16);
    pb_nstr(b, "x");
    pb_tags(b);
    pb_bool(b, false);
    if (v <= 10)
        pb_bool(b, true);
    pb_bool(b, true);
    pb_tags(b);
}

static void verify_metadata_ids(const void *o, int16_t v)
{
    static const uint8_t zero[16];
    const sm_metadata_req *q = o;
    REQUIRE(q->topic_count == 3);
    CHECK(sm_str_eqc(q->topics[0], "orders") && !memcmp(q->topic_ids[0], zero, 16));
    CHECK(sm_str_is_null(q->topics[1]) && !memcmp(q->topic_ids[1], md_id, 16));
    CHECK(sm_str_eqc(q->topics[2], "x") && !memcmp(q->topic_ids[2], zero, 16));
    CHECK(!q->allow_auto_topic_creation);
    CHECK(q->include_cluster_authorized_operations == (v <= 10));
    CHECK(q->include_topic_authorized_operations);
}

static void walk_metadata_ids(const void *o, int16_t v)
{
    (void)v;
    const sm_metadata_req *q = o;
    if (q->topic_count <= 0)
        return;
    walk_array(q->topics, q->topic_count, sizeof *q->topics);
    walk_array(q->topic_ids, q->topic_count, sizeof *q->topic_ids);
    for (int32_t i = 0; i < q->topic_count; i++)
        walk_str(q->topics[i]);
}

static int dec_metadata_ids(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_metadata_req_decode(r, v, a, out);
}

static void build_delete_topics(pb *b, int16_t v)
{
    pb_flex(b, v >= SM_DELETE_TOPICS_FLEX);
    pb_count1(b, 3);
    pb_str(b, "orders");
    pb_str(b, "payments");
    pb_str(b, "x");
    pb_i32(b, 15000);
    pb_tags(b);
}

static void verify_delete_topics(const void *o, int16_t v)
{
    (void)v;
    const sm_delete_topics_req *q = o;
    REQUIRE(q->topic_name_count == 3);
    CHECK(sm_str_eqc(q->topic_names[0], "orders"));
    CHECK(sm_str_eqc(q->topic_names[1], "payments"));
    CHECK(sm_str_eqc(q->topic_names[2], "x"));
    CHECK_EQ_I64(q->timeout_ms, 15000);
}

static void walk_delete_topics(const void *o, int16_t v)
{
    (void)v;
    const sm_delete_topics_req *q = o;
    walk_array(q->topic_names, q->topic_name_count, sizeof *q->topic_names);
    for (int32_t i = 0; i < q->topic_name_count; i++)
        walk_str(q->topic_names[i]);
}

static int dec_delete_topics(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_delete_topics_req_decode(r, v, a, out);
}

static void test_delete_topics_resp(void)
{
    sm_delete_topics_topic_resp res[] = {
        {S("orders"), SM_KERR_NONE},
        {S("ghost"), SM_KERR_UNKNOWN_TOPIC_OR_PARTITION},
        {S("locked"), SM_KERR_TOPIC_DELETION_DISABLED},
    };
    sm_delete_topics_resp resp = {5, N(res), res};
    for (int16_t v = 0; v <= 4; v++) {
        bool fx = v >= SM_DELETE_TOPICS_FLEX;
        sm_wbuf w;
        sm_wbuf_init(&w, 0);
        sm_delete_topics_resp_encode(&w, v, &resp);
        REQUIRE(!w.oom);
        sm_rd r;
        sm_rd_init(&r, w.p, w.len);
        if (v >= 1)
            CHECK_EQ_I64(sm_rd_i32(&r), 5);
        CHECK_EQ_I64(rd_count_fx(&r, fx), N(res));
        for (int i = 0; i < N(res); i++) {
            CHECK(sm_str_eq(rd_str_fx(&r, fx), res[i].name));
            CHECK_EQ_I64(sm_rd_i16(&r), res[i].error_code);
            CHECK_TAGS0(&r, fx);
        }
        CHECK_TAGS0(&r, fx);
        CHECK_RESP_END(&r);
        sm_wbuf_release(&w);
    }
    printf("   DeleteTopics response v0-4 read back (v1+ throttle first, v4 flexible)\n");
}

/* ======================================================================== */
/* CreatePartitions                                                          */
/* ======================================================================== */

static void build_create_partitions(pb *b, int16_t v)
{
    pb_flex(b, v >= SM_CREATE_PARTITIONS_FLEX);
    pb_count(b, 2);
    pb_str(b, "orders");
    pb_i32(b, 6);
    pb_ncount(b, -1); /* Assignments: null */
    pb_tags(b);
    pb_str(b, "payments");
    pb_i32(b, 4);
    pb_ncount(b, 2); /* two new partitions, one replica each */
    pb_count(b, 1);
    pb_i32(b, 1);
    pb_tags(b);
    pb_count(b, 1);
    pb_i32(b, 1);
    pb_tags(b);
    pb_tags(b);
    pb_i32(b, 10000); /* TimeoutMs */
    pb_bool(b, false);
    pb_tags(b);
}

static void verify_create_partitions(const void *o, int16_t v)
{
    (void)v;
    const sm_create_partitions_req *q = o;
    REQUIRE(q->topic_count == 2);
    CHECK(sm_str_eqc(q->topics[0].name, "orders"));
    CHECK_EQ_I64(q->topics[0].count, 6);
    CHECK_EQ_I64(q->topics[0].assignment_count, -1);
    CHECK(q->topics[0].assignments == NULL);
    CHECK(sm_str_eqc(q->topics[1].name, "payments"));
    CHECK_EQ_I64(q->topics[1].count, 4);
    REQUIRE(q->topics[1].assignment_count == 2);
    for (int i = 0; i < 2; i++) {
        REQUIRE(q->topics[1].assignments[i].broker_id_count == 1);
        CHECK_EQ_I64(q->topics[1].assignments[i].broker_ids[0], 1);
    }
    CHECK_EQ_I64(q->timeout_ms, 10000);
    CHECK(!q->validate_only);
}

static void walk_create_partitions(const void *o, int16_t v)
{
    (void)v;
    const sm_create_partitions_req *q = o;
    walk_array(q->topics, q->topic_count, sizeof *q->topics);
    for (int32_t i = 0; i < q->topic_count; i++) {
        const sm_create_partitions_topic *t = &q->topics[i];
        walk_str(t->name);
        walk_array(t->assignments, t->assignment_count, sizeof *t->assignments);
        for (int32_t j = 0; j < t->assignment_count; j++)
            walk_array(t->assignments[j].broker_ids, t->assignments[j].broker_id_count,
                       sizeof *t->assignments[j].broker_ids);
    }
}

static int dec_create_partitions(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_create_partitions_req_decode(r, v, a, out);
}

static void test_create_partitions_resp(void)
{
    sm_create_partitions_topic_resp res[] = {
        {S("orders"), SM_KERR_NONE, SM_STR_NULL},
        {S("payments"), SM_KERR_INVALID_PARTITIONS, S("Topic currently has 4 partitions")},
    };
    sm_create_partitions_resp resp = {0, N(res), res};
    static const char *msgs[] = {NULL, "Topic currently has 4 partitions"};
    for (int16_t v = 0; v <= 3; v++) {
        bool fx = v >= SM_CREATE_PARTITIONS_FLEX;
        sm_wbuf w;
        sm_wbuf_init(&w, 0);
        sm_create_partitions_resp_encode(&w, v, &resp);
        REQUIRE(!w.oom);
        sm_rd r;
        sm_rd_init(&r, w.p, w.len);
        CHECK_EQ_I64(sm_rd_i32(&r), 0);
        CHECK_EQ_I64(rd_count_fx(&r, fx), N(res));
        for (int i = 0; i < N(res); i++) {
            CHECK(sm_str_eq(rd_str_fx(&r, fx), res[i].name));
            CHECK_EQ_I64(sm_rd_i16(&r), res[i].error_code);
            CHECK(str_is(rd_str_fx(&r, fx), msgs[i]));
            CHECK_TAGS0(&r, fx);
        }
        CHECK_TAGS0(&r, fx);
        CHECK_RESP_END(&r);
        sm_wbuf_release(&w);
    }
    printf("   CreatePartitions response v0-3 read back (throttle first, nullable ErrorMessage, v2+ flexible)\n");
}

/* ======================================================================== */
/* DeleteRecords                                                             */
/* ======================================================================== */

static void build_delete_records(pb *b, int16_t v)
{
    pb_flex(b, v >= SM_DELETE_RECORDS_FLEX);
    pb_count(b, 2);
    pb_str(b, "orders");
    pb_count(b, 2);
    pb_i32(b, 0);
    pb_i64(b, 100);
    pb_tags(b);
    pb_i32(b, 1);
    pb_i64(b, SM_DELETE_RECORDS_HIGH_WATERMARK);
    pb_tags(b);
    pb_tags(b);
    pb_str(b, "payments");
    pb_count(b, 1);
    pb_i32(b, 5);
    pb_i64(b, 1LL << 40);
    pb_tags(b);
    pb_tags(b);
    pb_i32(b, 5000);
    pb_tags(b);
}

static void verify_delete_records(const void *o, int16_t v)
{
    (void)v;
    const sm_delete_records_req *q = o;
    REQUIRE(q->topic_count == 2);
    CHECK(sm_str_eqc(q->topics[0].name, "orders"));
    REQUIRE(q->topics[0].partition_count == 2);
    CHECK_EQ_I64(q->topics[0].partitions[0].partition_index, 0);
    CHECK_EQ_I64(q->topics[0].partitions[0].offset, 100);
    CHECK_EQ_I64(q->topics[0].partitions[1].partition_index, 1);
    CHECK_EQ_I64(q->topics[0].partitions[1].offset, -1);
    CHECK(sm_str_eqc(q->topics[1].name, "payments"));
    REQUIRE(q->topics[1].partition_count == 1);
    CHECK_EQ_I64(q->topics[1].partitions[0].partition_index, 5);
    CHECK_EQ_I64(q->topics[1].partitions[0].offset, 1LL << 40);
    CHECK_EQ_I64(q->timeout_ms, 5000);
}

static void walk_delete_records(const void *o, int16_t v)
{
    (void)v;
    const sm_delete_records_req *q = o;
    walk_array(q->topics, q->topic_count, sizeof *q->topics);
    for (int32_t i = 0; i < q->topic_count; i++) {
        walk_str(q->topics[i].name);
        walk_array(q->topics[i].partitions, q->topics[i].partition_count,
                   sizeof *q->topics[i].partitions);
    }
}

static int dec_delete_records(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_delete_records_req_decode(r, v, a, out);
}

static void test_delete_records_resp(void)
{
    sm_delete_records_partition_resp p0[] = {{0, 100, SM_KERR_NONE}, {1, 250, SM_KERR_NONE}};
    sm_delete_records_partition_resp p1[] = {{0, -1, SM_KERR_UNKNOWN_TOPIC_OR_PARTITION}};
    sm_delete_records_topic_resp topics[] = {{S("orders"), 2, p0}, {S("ghost"), 1, p1}};
    sm_delete_records_resp resp = {9, 2, topics};
    for (int16_t v = 0; v <= 2; v++) {
        bool fx = v >= SM_DELETE_RECORDS_FLEX;
        sm_wbuf w;
        sm_wbuf_init(&w, 0);
        sm_delete_records_resp_encode(&w, v, &resp);
        REQUIRE(!w.oom);
        sm_rd r;
        sm_rd_init(&r, w.p, w.len);
        CHECK_EQ_I64(sm_rd_i32(&r), 9);
        CHECK_EQ_I64(rd_count_fx(&r, fx), 2);
        for (int t = 0; t < 2; t++) {
            CHECK(sm_str_eq(rd_str_fx(&r, fx), topics[t].name));
            CHECK_EQ_I64(rd_count_fx(&r, fx), topics[t].partition_count);
            for (int i = 0; i < topics[t].partition_count; i++) {
                CHECK_EQ_I64(sm_rd_i32(&r), topics[t].partitions[i].partition_index);
                CHECK_EQ_I64(sm_rd_i64(&r), topics[t].partitions[i].low_watermark);
                CHECK_EQ_I64(sm_rd_i16(&r), topics[t].partitions[i].error_code);
                CHECK_TAGS0(&r, fx);
            }
            CHECK_TAGS0(&r, fx);
        }
        CHECK_TAGS0(&r, fx);
        CHECK_RESP_END(&r);
        sm_wbuf_release(&w);
    }
    printf("   DeleteRecords response v0-2 read back (v2 flexible)\n");
}

/* ======================================================================== */
/* DescribeConfigs                                                           */
/* ======================================================================== */

static void build_describe_configs(pb *b, int16_t v)
{
    pb_count(b, 2);
    pb_i8(b, SM_RESOURCE_TOPIC);
    pb_str(b, "orders");
    pb_ncount(b, -1); /* ConfigurationKeys: null = all */
    pb_i8(b, SM_RESOURCE_BROKER);
    pb_str(b, "1");
    pb_ncount(b, 2);
    pb_str(b, "log.retention.ms");
    pb_str(b, "num.partitions");
    if (v >= 1)
        pb_bool(b, true); /* IncludeSynonyms */
}

static void verify_describe_configs(const void *o, int16_t v)
{
    const sm_describe_configs_req *q = o;
    REQUIRE(q->resource_count == 2);
    CHECK_EQ_I64(q->resources[0].resource_type, SM_RESOURCE_TOPIC);
    CHECK(sm_str_eqc(q->resources[0].resource_name, "orders"));
    CHECK_EQ_I64(q->resources[0].configuration_key_count, -1);
    CHECK(q->resources[0].configuration_keys == NULL);
    CHECK_EQ_I64(q->resources[1].resource_type, SM_RESOURCE_BROKER);
    CHECK(sm_str_eqc(q->resources[1].resource_name, "1"));
    REQUIRE(q->resources[1].configuration_key_count == 2);
    CHECK(sm_str_eqc(q->resources[1].configuration_keys[0], "log.retention.ms"));
    CHECK(sm_str_eqc(q->resources[1].configuration_keys[1], "num.partitions"));
    CHECK(q->include_synonyms == (v >= 1));
}

static void walk_describe_configs(const void *o, int16_t v)
{
    (void)v;
    const sm_describe_configs_req *q = o;
    walk_array(q->resources, q->resource_count, sizeof *q->resources);
    for (int32_t i = 0; i < q->resource_count; i++) {
        const sm_describe_configs_resource *res = &q->resources[i];
        walk_str(res->resource_name);
        walk_array(res->configuration_keys, res->configuration_key_count,
                   sizeof *res->configuration_keys);
        for (int32_t j = 0; j < res->configuration_key_count; j++)
            walk_str(res->configuration_keys[j]);
    }
}

static int dec_describe_configs(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_describe_configs_req_decode(r, v, a, out);
}

static void test_describe_configs_resp(void)
{
    sm_describe_configs_synonym syn_cleanup[] = {
        {S("log.cleanup.policy"), S("delete"), SM_CONFIG_SOURCE_DEFAULT_CONFIG}};
    sm_describe_configs_synonym syn_retention[] = {
        {S("retention.ms"), S("86400000"), SM_CONFIG_SOURCE_TOPIC_CONFIG},
        {S("log.retention.ms"), SM_STR_NULL, SM_CONFIG_SOURCE_STATIC_BROKER_CONFIG},
    };
    sm_describe_configs_config configs[] = {
        {S("cleanup.policy"), S("delete"), false, SM_CONFIG_SOURCE_DEFAULT_CONFIG, false, 1,
         syn_cleanup},
        {S("retention.ms"), S("86400000"), false, SM_CONFIG_SOURCE_TOPIC_CONFIG, false, 2,
         syn_retention},
        {S("sasl.jaas.config"), SM_STR_NULL, true, SM_CONFIG_SOURCE_STATIC_BROKER_CONFIG, true, 0,
         NULL},
    };
    sm_describe_configs_result results[] = {
        {SM_KERR_NONE, SM_STR_NULL, SM_RESOURCE_TOPIC, S("orders"), N(configs), configs},
        {SM_KERR_UNKNOWN_TOPIC_OR_PARTITION, S("Topic ghost not found"), SM_RESOURCE_TOPIC,
         S("ghost"), 0, NULL},
    };
    sm_describe_configs_resp resp = {3, N(results), results};
    for (int16_t v = 0; v <= 2; v++) {
        sm_wbuf w;
        sm_wbuf_init(&w, 0);
        sm_describe_configs_resp_encode(&w, v, &resp);
        REQUIRE(!w.oom);
        sm_rd r;
        sm_rd_init(&r, w.p, w.len);
        CHECK_EQ_I64(sm_rd_i32(&r), 3);
        CHECK_EQ_I64(sm_rd_i32(&r), 2);
        for (int i = 0; i < 2; i++) {
            const sm_describe_configs_result *res = &results[i];
            CHECK_EQ_I64(sm_rd_i16(&r), res->error_code);
            CHECK(str_is(sm_rd_str(&r), i == 0 ? NULL : "Topic ghost not found"));
            CHECK_EQ_I64(sm_rd_i8(&r), res->resource_type);
            CHECK(sm_str_eq(sm_rd_str(&r), res->resource_name));
            CHECK_EQ_I64(sm_rd_i32(&r), res->config_count);
            for (int j = 0; j < res->config_count; j++) {
                const sm_describe_configs_config *c = &res->configs[j];
                CHECK(sm_str_eq(sm_rd_str(&r), c->name));
                CHECK(sm_str_eq(sm_rd_str(&r), c->value)); /* null stays null */
                CHECK(sm_rd_bool(&r) == c->read_only);
                if (v == 0)
                    CHECK(sm_rd_bool(&r) == (c->config_source == SM_CONFIG_SOURCE_DEFAULT_CONFIG));
                else
                    CHECK_EQ_I64(sm_rd_i8(&r), c->config_source);
                CHECK(sm_rd_bool(&r) == c->is_sensitive);
                if (v >= 1) {
                    CHECK_EQ_I64(sm_rd_i32(&r), c->synonym_count);
                    for (int k = 0; k < c->synonym_count; k++) {
                        CHECK(sm_str_eq(sm_rd_str(&r), c->synonyms[k].name));
                        CHECK(sm_str_eq(sm_rd_str(&r), c->synonyms[k].value));
                        CHECK_EQ_I64(sm_rd_i8(&r), c->synonyms[k].source);
                    }
                }
            }
        }
        CHECK_RESP_END(&r);
        sm_wbuf_release(&w);
    }
    printf("   DescribeConfigs response v0-2 read back (v0 IsDefault from ConfigSource, v1+ "
           "ConfigSource and Synonyms)\n");
}

/* ======================================================================== */
/* AlterConfigs                                                              */
/* ======================================================================== */

static void build_alter_configs(pb *b, int16_t v)
{
    pb_flex(b, v >= SM_ALTER_CONFIGS_FLEX);
    pb_count(b, 2);
    pb_i8(b, SM_RESOURCE_TOPIC);
    pb_str(b, "orders");
    pb_count(b, 2);
    pb_str(b, "retention.ms");
    pb_nstr(b, "3600000");
    pb_tags(b);
    pb_str(b, "cleanup.policy");
    pb_nstr(b, NULL);
    pb_tags(b);
    pb_tags(b);
    pb_i8(b, SM_RESOURCE_BROKER);
    pb_str(b, "");
    pb_count(b, 0);
    pb_tags(b);
    pb_bool(b, true); /* ValidateOnly */
    pb_tags(b);
}

static void verify_alter_configs(const void *o, int16_t v)
{
    (void)v;
    const sm_alter_configs_req *q = o;
    REQUIRE(q->resource_count == 2);
    const sm_alter_configs_resource *res = &q->resources[0];
    CHECK_EQ_I64(res->resource_type, SM_RESOURCE_TOPIC);
    CHECK(sm_str_eqc(res->resource_name, "orders"));
    REQUIRE(res->config_count == 2);
    CHECK(sm_str_eqc(res->configs[0].name, "retention.ms"));
    CHECK(sm_str_eqc(res->configs[0].value, "3600000"));
    CHECK(sm_str_eqc(res->configs[1].name, "cleanup.policy"));
    CHECK(sm_str_is_null(res->configs[1].value));
    res = &q->resources[1];
    CHECK_EQ_I64(res->resource_type, SM_RESOURCE_BROKER);
    CHECK(sm_str_eqc(res->resource_name, ""));
    CHECK_EQ_I64(res->config_count, 0);
    CHECK(q->validate_only);
}

static void walk_alter_configs(const void *o, int16_t v)
{
    (void)v;
    const sm_alter_configs_req *q = o;
    walk_array(q->resources, q->resource_count, sizeof *q->resources);
    for (int32_t i = 0; i < q->resource_count; i++) {
        const sm_alter_configs_resource *res = &q->resources[i];
        walk_str(res->resource_name);
        walk_array(res->configs, res->config_count, sizeof *res->configs);
        for (int32_t j = 0; j < res->config_count; j++) {
            walk_str(res->configs[j].name);
            walk_str(res->configs[j].value);
        }
    }
}

static int dec_alter_configs(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_alter_configs_req_decode(r, v, a, out);
}

static void test_alter_configs_resp(void)
{
    sm_alter_configs_resource_resp res[] = {
        {SM_KERR_NONE, {NULL, 0}, SM_RESOURCE_TOPIC, S("orders")},
        {SM_KERR_INVALID_CONFIG, S("Unknown config x"), SM_RESOURCE_BROKER, S("1")},
    };
    sm_alter_configs_resp resp = {0, N(res), res};
    for (int16_t v = 0; v <= 2; v++) {
        bool fx = v >= SM_ALTER_CONFIGS_FLEX;
        sm_wbuf w;
        sm_wbuf_init(&w, 0);
        sm_alter_configs_resp_encode(&w, v, &resp);
        REQUIRE(!w.oom);
        sm_rd r;
        sm_rd_init(&r, w.p, w.len);
        CHECK_EQ_I64(sm_rd_i32(&r), 0);
        CHECK_EQ_I64(rd_count_fx(&r, fx), 2);
        CHECK_EQ_I64(sm_rd_i16(&r), SM_KERR_NONE);
        CHECK(sm_str_is_null(rd_str_fx(&r, fx)));
        CHECK_EQ_I64(sm_rd_i8(&r), SM_RESOURCE_TOPIC);
        CHECK(sm_str_eqc(rd_str_fx(&r, fx), "orders"));
        CHECK_TAGS0(&r, fx);
        CHECK_EQ_I64(sm_rd_i16(&r), SM_KERR_INVALID_CONFIG);
        CHECK(sm_str_eqc(rd_str_fx(&r, fx), "Unknown config x"));
        CHECK_EQ_I64(sm_rd_i8(&r), SM_RESOURCE_BROKER);
        CHECK(sm_str_eqc(rd_str_fx(&r, fx), "1"));
        CHECK_TAGS0(&r, fx);
        CHECK_TAGS0(&r, fx);
        CHECK_RESP_END(&r);
        sm_wbuf_release(&w);
    }
    printf("   AlterConfigs response v0-2 read back (v2 flexible)\n");
}

/* ======================================================================== */

/* Known bytes for one request, written out by hand from the schema, so that
 * the builder above is not the only witness of the layout. */
static void test_golden(void)
{
    /* ListOffsets v1: ReplicaId -1, [ "t" : [ partition 0, timestamp -2 ] ] */
    static const uint8_t lo_v1[] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1,
                                    0,    0,    0,    0,    0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xfe};
    sm_arena a;
    sm_arena_init(&a);
    sm_rd r;
    sm_rd_init(&r, lo_v1, sizeof lo_v1);
    sm_list_offsets_req q;
    CHECK_EQ_I64(sm_list_offsets_req_decode(&r, 1, &a, &q), SM_OK);
    CHECK(q.topic_count == 1 && sm_str_eqc(q.topics[0].name, "t"));
    CHECK(q.topics[0].partition_count == 1 && q.topics[0].partitions[0].timestamp == -2);
    /* the same bytes are one byte short as v2 (IsolationLevel) */
    sm_rd_init(&r, lo_v1, sizeof lo_v1);
    CHECK_EQ_I64(sm_list_offsets_req_decode(&r, 2, &a, &q), SM_ECORRUPT);
    /* ListOffsets v7 (flexible): ReplicaId -1, IsolationLevel 0, [ "t" : [ partition 0,
     * CurrentLeaderEpoch -1, timestamp -3 (MAX_TIMESTAMP), tags ], tags ], tags */
    static const uint8_t lo_v7[] = {0xff, 0xff, 0xff, 0xff, 0, 0x02, 0x02, 't', 0x02, 0, 0, 0, 0,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xfd, 0, 0, 0};
    sm_rd_init(&r, lo_v7, sizeof lo_v7);
    CHECK_EQ_I64(sm_list_offsets_req_decode(&r, 7, &a, &q), SM_OK);
    CHECK(q.topic_count == 1 && sm_str_eqc(q.topics[0].name, "t"));
    CHECK(q.topics[0].partitions[0].timestamp == SM_LIST_OFFSETS_MAX_TIMESTAMP);
    CHECK(q.topics[0].partitions[0].current_leader_epoch == -1);
    sm_arena_release(&a);

    /* DeleteTopics v1 response: throttle 0, [ "t" error 3 ] */
    sm_delete_topics_topic_resp one = {S("t"), 3};
    sm_delete_topics_resp resp = {0, 1, &one};
    sm_wbuf w;
    sm_wbuf_init(&w, 0);
    sm_delete_topics_resp_encode(&w, 1, &resp);
    static const uint8_t dt_v1[] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 3};
    CHECK(w.len == sizeof dt_v1 && memcmp(w.p, dt_v1, w.len) == 0);
    sm_wbuf_release(&w);
    printf("   hand-written bytes: ListOffsets v1 request, DeleteTopics v1 response\n");
}

static const decoder_case cases[] = {
    {"Metadata v10+ (trailing bytes ignored)", 10, 12, build_metadata_ids, dec_metadata_ids, verify_metadata_ids,
     walk_metadata_ids, sizeof(sm_metadata_req)},
    {"ListOffsets", 0, 10, build_list_offsets, dec_list_offsets, verify_list_offsets,
     walk_list_offsets, sizeof(sm_list_offsets_req)},
    {"CreateTopics", 0, 4, build_create_topics, dec_create_topics, verify_create_topics,
     walk_create_topics, sizeof(sm_create_topics_req)},
    {"DeleteTopics", 0, 4, build_delete_topics, dec_delete_topics, verify_delete_topics,
     walk_delete_topics, sizeof(sm_delete_topics_req)},
    {"CreatePartitions", 0, 3, build_create_partitions, dec_create_partitions,
     verify_create_partitions, walk_create_partitions, sizeof(sm_create_partitions_req)},
    {"DeleteRecords", 0, 2, build_delete_records, dec_delete_records, verify_delete_records,
     walk_delete_records, sizeof(sm_delete_records_req)},
    {"DescribeConfigs", 0, 2, build_describe_configs, dec_describe_configs,
     verify_describe_configs, walk_describe_configs, sizeof(sm_describe_configs_req)},
    {"AlterConfigs", 0, 2, build_alter_configs, dec_alter_configs, verify_alter_configs,
     walk_alter_configs, sizeof(sm_alter_configs_req)},
};

int main(void)
{
    TEST_SECTION("admin request decoders: every field, every version; truncations, trailing "
                 "bytes, lying counts, forbidden nulls, seeded mutations");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_decoder(&cases[i]);
    TEST_SECTION("admin response encoders read back field by field, every version");
    test_list_offsets_resp();
    test_create_topics_resp();
    test_delete_topics_resp();
    test_create_partitions_resp();
    test_delete_records_resp();
    test_describe_configs_resp();
    test_alter_configs_resp();
    TEST_SECTION("hand-written bytes");
    test_golden();
    return check_report("test_proto_admin");
}
