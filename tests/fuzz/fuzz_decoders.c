/* fuzz_decoders.c: the key -> decoder table for fuzzing. */
#include "fuzz_decoders.h"

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
#include "proto/list_groups.h"
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
    {SM_API_PRODUCE, 0, 7},
    {SM_API_FETCH, 4, 11},
    {SM_API_METADATA, 0, 6},
    {SM_API_API_VERSIONS, 0, 2},
    {SM_API_LIST_OFFSETS, 0, 3},
    {SM_API_CREATE_TOPICS, 0, 4},
    {SM_API_DELETE_TOPICS, 0, 3},
    {SM_API_DELETE_RECORDS, 0, 1},
    {SM_API_DESCRIBE_CONFIGS, 0, 2},
    {SM_API_ALTER_CONFIGS, 0, 1},
    {SM_API_CREATE_PARTITIONS, 0, 1},
    {SM_API_OFFSET_COMMIT, 0, 7},
    {SM_API_OFFSET_FETCH, 0, 5},
    {SM_API_FIND_COORDINATOR, 0, 2},
    {SM_API_JOIN_GROUP, 0, 5},
    {SM_API_HEARTBEAT, 0, 3},
    {SM_API_LEAVE_GROUP, 0, 3},
    {SM_API_SYNC_GROUP, 0, 3},
    {SM_API_DESCRIBE_GROUPS, 0, 4},
    {SM_API_LIST_GROUPS, 0, 2},
    {SM_API_DELETE_GROUPS, 0, 1},
    {SM_API_OFFSET_DELETE, 0, 0},
    {SM_API_INIT_PRODUCER_ID, 0, 1},
};

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
    case SM_API_PRODUCE: {
        sm_produce_req q;
        return sm_produce_req_decode(r, version, a, &q);
    }
    case SM_API_FETCH: {
        sm_fetch_req q;
        return sm_fetch_req_decode(r, version, a, &q);
    }
    case SM_API_METADATA: {
        sm_metadata_req q;
        return sm_metadata_req_decode(r, version, a, &q);
    }
    case SM_API_API_VERSIONS:
        return sm_api_versions_req_decode(r, version, a);
#define DECODE(name)                                                                              \
    do {                                                                                          \
        sm_##name##_req q;                                                                        \
        return sm_##name##_req_decode(r, version, a, &q);                                         \
    } while (0)
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
#undef DECODE
    default:
        return -1;
    }
}
