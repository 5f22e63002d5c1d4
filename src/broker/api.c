/* api.c: the API table: every API key the broker answers, the versions it
 * speaks and its handler. conn.c dispatches through it; ApiVersions
 * advertises exactly these ranges. A new API is one line here and one h_*.c
 * file.
 *
 * A second table lists APIs Kafka defines that samsa-broker does not
 * implement, with the versions whose response layout h_unimplemented.c
 * knows: such a request is answered with that API's error response (as a
 * client that skipped ApiVersions can read it) and the connection stays
 * open. A key in neither table, or a version outside the ranges, closes the
 * connection, as Kafka does for a request it cannot parse. */
#include "broker/api.h"
#include "proto/kafka.h"
#include "proto/metadata.h"

static const sm_api_def api_table[] = {
    /* v0-2 are listed for clients that key gzip/snappy support on Produce v0
     * (librdkafka < 2.11); their old message sets are refused (INVALID_RECORD) */
    {SM_API_PRODUCE, 0, 11, sm_handle_produce},
    {SM_API_FETCH, 4, 16, sm_handle_fetch},
    {SM_API_LIST_OFFSETS, 0, 10, sm_handle_list_offsets},
    {SM_API_METADATA, 0, SM_METADATA_MAX, sm_handle_metadata},
    {SM_API_OFFSET_COMMIT, 0, 8, sm_handle_offset_commit},
    {SM_API_OFFSET_FETCH, 0, 7, sm_handle_offset_fetch},
    {SM_API_FIND_COORDINATOR, 0, 5, sm_handle_find_coordinator},
    {SM_API_JOIN_GROUP, 0, 9, sm_handle_join_group},
    {SM_API_HEARTBEAT, 0, 4, sm_handle_heartbeat},
    {SM_API_LEAVE_GROUP, 0, 5, sm_handle_leave_group},
    {SM_API_SYNC_GROUP, 0, 5, sm_handle_sync_group},
    {SM_API_DESCRIBE_GROUPS, 0, 6, sm_handle_describe_groups},
    {SM_API_LIST_GROUPS, 0, 5, sm_handle_list_groups},
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
    {SM_API_DESCRIBE_ACLS, 0, 3, sm_handle_describe_acls},
    {SM_API_CREATE_ACLS, 0, 3, sm_handle_create_acls},
    {SM_API_DELETE_ACLS, 0, 3, sm_handle_delete_acls},
    {SM_API_DESCRIBE_LOG_DIRS, 0, 4, sm_handle_describe_log_dirs},
    {SM_API_INCREMENTAL_ALTER_CONFIGS, 0, 1, sm_handle_incremental_alter_configs},
    {SM_API_LIST_PARTITION_REASSIGNMENTS, 0, 0, sm_handle_list_partition_reassignments},
    {SM_API_DESCRIBE_CLUSTER, 0, 2, sm_handle_describe_cluster},
    {SM_API_DESCRIBE_PRODUCERS, 0, 0, sm_handle_describe_producers},
    {SM_API_OFFSET_FOR_LEADER_EPOCH, 0, 4, sm_handle_offset_for_leader_epoch},
    {SM_API_DESCRIBE_CLIENT_QUOTAS, 0, 1, sm_handle_describe_client_quotas},
    {SM_API_LIST_TRANSACTIONS, 0, 1, sm_handle_list_transactions},
    {SM_API_DESCRIBE_TRANSACTIONS, 0, 0, sm_handle_describe_transactions},
};

/* Not implemented; answered with the API's error (h_unimplemented.c). */
static const sm_api_def unimplemented_table[] = {
    {SM_API_SASL_HANDSHAKE, 0, 1, sm_handle_unimplemented},
    {SM_API_ADD_OFFSETS_TO_TXN, 0, 4, sm_handle_unimplemented},
    {SM_API_END_TXN, 0, 4, sm_handle_unimplemented},
    {SM_API_SASL_AUTHENTICATE, 0, 2, sm_handle_unimplemented},
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

const sm_api_def *sm_api_find_unimplemented(int16_t key)
{
    for (size_t i = 0; i < sizeof unimplemented_table / sizeof unimplemented_table[0]; i++)
        if (unimplemented_table[i].key == key)
            return &unimplemented_table[i];
    return NULL;
}

const sm_api_def *sm_api_list(int *n)
{
    *n = (int)(sizeof api_table / sizeof api_table[0]);
    return api_table;
}
