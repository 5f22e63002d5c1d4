/* api.c: the API table: every API key the broker answers, the versions it
 * speaks and its handler. conn.c dispatches through it (a key not here
 * closes the connection); ApiVersions advertises exactly these ranges. A new
 * API is one line here and one h_*.c file. */
#include "broker/api.h"
#include "proto/kafka.h"

static const sm_api_def api_table[] = {
    /* v0-2 are listed for clients that key gzip/snappy support on Produce v0
     * (librdkafka < 2.11); their old message sets are refused (INVALID_RECORD) */
    {SM_API_PRODUCE, 0, 11, sm_handle_produce},
    {SM_API_FETCH, 4, 12, sm_handle_fetch},
    {SM_API_LIST_OFFSETS, 0, 10, sm_handle_list_offsets},
    {SM_API_METADATA, 0, 9, sm_handle_metadata},
    {SM_API_OFFSET_COMMIT, 0, 8, sm_handle_offset_commit},
    {SM_API_OFFSET_FETCH, 0, 7, sm_handle_offset_fetch},
    {SM_API_FIND_COORDINATOR, 0, 5, sm_handle_find_coordinator},
    {SM_API_JOIN_GROUP, 0, 9, sm_handle_join_group},
    {SM_API_HEARTBEAT, 0, 4, sm_handle_heartbeat},
    {SM_API_LEAVE_GROUP, 0, 5, sm_handle_leave_group},
    {SM_API_SYNC_GROUP, 0, 5, sm_handle_sync_group},
    {SM_API_DESCRIBE_GROUPS, 0, 5, sm_handle_describe_groups},
    {SM_API_LIST_GROUPS, 0, 2, sm_handle_list_groups},
    {SM_API_API_VERSIONS, 0, 4, sm_handle_api_versions},
    {SM_API_CREATE_TOPICS, 0, 4, sm_handle_create_topics},
    {SM_API_DELETE_TOPICS, 0, 4, sm_handle_delete_topics},
    {SM_API_DELETE_RECORDS, 0, 2, sm_handle_delete_records},
    {SM_API_INIT_PRODUCER_ID, 0, 2, sm_handle_init_producer_id},
    {SM_API_DESCRIBE_CONFIGS, 0, 2, sm_handle_describe_configs},
    {SM_API_ALTER_CONFIGS, 0, 2, sm_handle_alter_configs},
    {SM_API_CREATE_PARTITIONS, 0, 3, sm_handle_create_partitions},
    {SM_API_DELETE_GROUPS, 0, 2, sm_handle_delete_groups},
    {SM_API_OFFSET_DELETE, 0, 0, sm_handle_offset_delete},
};

_Static_assert(sizeof api_table / sizeof api_table[0] <= SM_API_MAX_DEFS,
               "raise SM_API_MAX_DEFS");

const sm_api_def *sm_api_find(int16_t key)
{
    for (size_t i = 0; i < sizeof api_table / sizeof api_table[0]; i++)
        if (api_table[i].key == key)
            return &api_table[i];
    return NULL;
}

const sm_api_def *sm_api_list(int *n)
{
    *n = (int)(sizeof api_table / sizeof api_table[0]);
    return api_table;
}
