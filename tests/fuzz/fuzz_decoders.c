/* fuzz_decoders.c: the key -> decoder table for fuzzing.
 *
 * A Produce request goes further than its decoder: each partition's records
 * then take the broker's batch checks (framing, then
 * sm_batch_check_produced, which drives the records iterator and every
 * decompressor), and the iterator once more holding each record's bytes,
 * as the offsets store reads them. The batch's CRC-32C is recomputed on a
 * copy first, so mutated records get past it to the code under test. */
#include "fuzz_decoders.h"

#include <stdlib.h>
#include <string.h>

#include "base/crc32c.h"
#include "proto/batch.h"

#include "proto/acls.h"
#include "proto/alter_configs.h"
#include "proto/api_versions.h"
#include "proto/create_partitions.h"
#include "proto/create_topics.h"
#include "proto/delete_records.h"
#include "proto/delete_topics.h"
#include "proto/delete_groups.h"
#include "proto/describe_configs.h"
#include "proto/describe_groups.h"
#include "proto/find_coordinator.h"
#include "proto/heartbeat.h"
#include "proto/init_producer_id.h"
#include "proto/join_group.h"
#include "proto/leave_group.h"
#include "proto/describe_client_quotas.h"
#include "proto/describe_cluster.h"
#include "proto/describe_log_dirs.h"
#include "proto/describe_producers.h"
#include "proto/incremental_alter_configs.h"
#include "proto/list_groups.h"
#include "proto/list_partition_reassignments.h"
#include "proto/offset_for_leader_epoch.h"
#include "proto/transactions.h"
#include "proto/offset_commit.h"
#include "proto/offset_delete.h"
#include "proto/offset_fetch.h"
#include "proto/sync_group.h"
#include "proto/list_offsets.h"
#include "proto/fetch.h"
#include "proto/header.h"
#include "proto/kafka.h"
#include "proto/metadata.h"
#include "proto/produce.h"

static const sm_fuzz_api apis[] = {
    {SM_FUZZ_KEY_HEADER_V2, 0, 0},
    {SM_FUZZ_KEY_COMPACT, 0, 0},
    {SM_API_PRODUCE, 0, 11},
    {SM_API_FETCH, 4, 16},
    {SM_API_METADATA, 0, 12},
    {SM_API_API_VERSIONS, 0, 4},
    {SM_API_LIST_OFFSETS, 0, 10},
    {SM_API_CREATE_TOPICS, 0, 4},
    {SM_API_DELETE_TOPICS, 0, 4},
    {SM_API_DELETE_RECORDS, 0, 2},
    {SM_API_DESCRIBE_CONFIGS, 0, 2},
    {SM_API_ALTER_CONFIGS, 0, 2},
    {SM_API_CREATE_PARTITIONS, 0, 3},
    {SM_API_OFFSET_COMMIT, 0, 8},
    {SM_API_OFFSET_FETCH, 0, 7},
    {SM_API_FIND_COORDINATOR, 0, 5},
    {SM_API_JOIN_GROUP, 0, 9},
    {SM_API_HEARTBEAT, 0, 4},
    {SM_API_LEAVE_GROUP, 0, 5},
    {SM_API_SYNC_GROUP, 0, 5},
    {SM_API_DESCRIBE_GROUPS, 0, 6},
    {SM_API_LIST_GROUPS, 0, 5},
    {SM_API_DELETE_GROUPS, 0, 2},
    {SM_API_OFFSET_DELETE, 0, 0},
    {SM_API_INIT_PRODUCER_ID, 0, 2},
    {SM_API_DESCRIBE_ACLS, 0, 3},
    {SM_API_CREATE_ACLS, 0, 3},
    {SM_API_DELETE_ACLS, 0, 3},
    {SM_API_DESCRIBE_LOG_DIRS, 0, 4},
    {SM_API_INCREMENTAL_ALTER_CONFIGS, 0, 1},
    {SM_API_LIST_PARTITION_REASSIGNMENTS, 0, 0},
    {SM_API_DESCRIBE_CLUSTER, 0, 2},
    {SM_API_DESCRIBE_PRODUCERS, 0, 0},
    {SM_API_OFFSET_FOR_LEADER_EPOCH, 0, 4},
    {SM_API_DESCRIBE_CLIENT_QUOTAS, 0, 1},
    {SM_API_LIST_TRANSACTIONS, 0, 1},
    {SM_API_DESCRIBE_TRANSACTIONS, 0, 0},
};

static void fuzz_records(sm_str records)
{
    if (records.len < SM_BATCH_HEADER_LEN)
        return;
    size_t len = (size_t)records.len;
    uint8_t *p = malloc(len); /* exactly the bytes, so ASan sees a read past them */
    if (!p)
        return;
    memcpy(p, records.p, len);
    int64_t total = sm_batch_total_size(p, len);
    if (total >= SM_BATCH_CRC_START && (uint64_t)total <= len)
        sm_put_be32(p + SM_BATCH_CRC_AT,
                    sm_crc32c(0, p + SM_BATCH_CRC_START, (size_t)total - SM_BATCH_CRC_START));
    sm_batch_hdr h;
    if (sm_batch_validate(p, len, &h) == SM_BATCH_OK) {
        sm_batch_ts_error ts_errors[64];
        int32_t ts_errors_n = 0;
        const sm_batch_rules rules = {1700000000000LL, INT64_MAX, 3600000, false, 1 << 20,
                                      ts_errors, 64, &ts_errors_n};
        char why[256];
        (void)sm_batch_check_produced(p, &h, &rules, why, sizeof why);
        sm_rec_iter it;
        sm_rec_iter_init(&it, p, &h, 1 << 20, true);
        sm_record rec;
        unsigned sum = 0;
        while (sm_rec_iter_next(&it, &rec) == 1) {
            for (int32_t i = 0; i < rec.key.len; i++)
                sum += (uint8_t)rec.key.p[i];
            for (int32_t i = 0; i < rec.value.len; i++)
                sum += (uint8_t)rec.value.p[i];
            for (size_t i = 0; i < rec.headers_len; i++)
                sum += rec.headers[i];
        }
        sm_rec_iter_release(&it);
        volatile unsigned sink = sum;
        (void)sink;
    }
    free(p);
}

/* Request header v2: Metadata v12 (flexible) in front of the body. */
static int fuzz_header_v2(sm_rd *r)
{
    size_t len = sm_rd_left(r);
    uint8_t *p = malloc(len + 4);
    if (!p)
        return -1;
    const uint8_t head[4] = {0, SM_API_METADATA, 0, 12};
    memcpy(p, head, 4);
    if (len)
        memcpy(p + 4, r->p, len);
    sm_rd h;
    sm_rd_init(&h, p, len + 4);
    sm_req_hdr hdr;
    int rc = sm_req_hdr_decode(&h, &hdr);
    free(p);
    return rc;
}

static bool fuzz_tag(sm_rd *f, uint32_t tag, void *ctx)
{
    (void)ctx;
    if (tag != 0)
        return false;
    (void)sm_rd_compact_str(f);
    return true;
}

/* Compact primitives and tagged fields until the input ends or fails. */
static int fuzz_compact(sm_rd *r)
{
    unsigned sum = 0;
    while (!r->err && sm_rd_left(r)) {
        sm_str s = sm_rd_compact_str(r);
        sm_str b = sm_rd_compact_bytes(r);
        for (int32_t i = 0; i < s.len; i++)
            sum += (uint8_t)s.p[i];
        for (int32_t i = 0; i < b.len; i++)
            sum += (uint8_t)b.p[i];
        int32_t n = sm_rd_compact_array(r, 1, true);
        for (int32_t i = 0; i < n; i++)
            sum += (uint8_t)sm_rd_i8(r);
        sm_rd_tags(r, fuzz_tag, NULL);
    }
    volatile unsigned sink = sum;
    (void)sink;
    return r->err ? -1 : 0;
}

const sm_fuzz_api *sm_fuzz_apis(int *n)
{
    *n = (int)(sizeof apis / sizeof apis[0]);
    return apis;
}

int sm_fuzz_decode(int16_t key, int16_t version, sm_rd *r, sm_arena *a)
{
    int n;
    const sm_fuzz_api *t = sm_fuzz_apis(&n);
    int found = 0;
    for (int i = 0; i < n; i++)
        if (t[i].key == key && version >= t[i].min && version <= t[i].max)
            found = 1;
    if (!found) {
        /* still exercise the header decoder */
        sm_req_hdr h;
        return sm_req_hdr_decode(r, &h);
    }
    switch (key) {
    case SM_FUZZ_KEY_HEADER_V2:
        return fuzz_header_v2(r);
    case SM_FUZZ_KEY_COMPACT:
        return fuzz_compact(r);
    case SM_API_PRODUCE: {
        sm_produce_req q;
        int rc = sm_produce_req_decode(r, version, a, &q);
        for (int32_t i = 0; rc == 0 && i < q.topic_count; i++)
            for (int32_t k = 0; k < q.topics[i].partition_count; k++)
                fuzz_records(q.topics[i].partitions[k].records);
        return rc;
    }
    case SM_API_FETCH: {
        sm_fetch_req q;
        return sm_fetch_req_decode(r, version, a, &q);
    }
    case SM_API_METADATA: {
        sm_metadata_req q;
        return sm_metadata_req_decode(r, version, a, &q);
    }
#define DECODE(name)                                                                              \
    do {                                                                                          \
        sm_##name##_req q;                                                                        \
        return sm_##name##_req_decode(r, version, a, &q);                                         \
    } while (0)
    case SM_API_API_VERSIONS: DECODE(api_versions);
    case SM_API_LIST_OFFSETS: DECODE(list_offsets);
    case SM_API_CREATE_TOPICS: DECODE(create_topics);
    case SM_API_DELETE_TOPICS: DECODE(delete_topics);
    case SM_API_DELETE_RECORDS: DECODE(delete_records);
    case SM_API_DESCRIBE_CONFIGS: DECODE(describe_configs);
    case SM_API_ALTER_CONFIGS: DECODE(alter_configs);
    case SM_API_CREATE_PARTITIONS: DECODE(create_partitions);
    case SM_API_OFFSET_COMMIT: DECODE(offset_commit);
    case SM_API_OFFSET_FETCH: DECODE(offset_fetch);
    case SM_API_FIND_COORDINATOR: DECODE(find_coordinator);
    case SM_API_JOIN_GROUP: DECODE(join_group);
    case SM_API_HEARTBEAT: DECODE(heartbeat);
    case SM_API_LEAVE_GROUP: DECODE(leave_group);
    case SM_API_SYNC_GROUP: DECODE(sync_group);
    case SM_API_DESCRIBE_GROUPS: DECODE(describe_groups);
    case SM_API_LIST_GROUPS: DECODE(list_groups);
    case SM_API_DELETE_GROUPS: DECODE(delete_groups);
    case SM_API_OFFSET_DELETE: DECODE(offset_delete);
    case SM_API_INIT_PRODUCER_ID: DECODE(init_producer_id);
    case SM_API_DESCRIBE_ACLS: DECODE(describe_acls);
    case SM_API_CREATE_ACLS: DECODE(create_acls);
    case SM_API_DELETE_ACLS: DECODE(delete_acls);
    case SM_API_DESCRIBE_LOG_DIRS: DECODE(dld);
    case SM_API_INCREMENTAL_ALTER_CONFIGS: DECODE(iac);
    case SM_API_LIST_PARTITION_REASSIGNMENTS: DECODE(lpr);
    case SM_API_DESCRIBE_CLUSTER: DECODE(describe_cluster);
    case SM_API_DESCRIBE_PRODUCERS: DECODE(dp);
    case SM_API_OFFSET_FOR_LEADER_EPOCH: DECODE(ofle);
    case SM_API_DESCRIBE_CLIENT_QUOTAS: DECODE(dcq);
    case SM_API_LIST_TRANSACTIONS: DECODE(list_txns);
    case SM_API_DESCRIBE_TRANSACTIONS: DECODE(describe_txns);
#undef DECODE
    default:
        return -1;
    }
}
