/* kafka.c: names for codes, each API's first flexible version, and topic-name
 * validation. */
#include "proto/kafka.h"

#include <stdbool.h>
#include <stddef.h>

const char *sm_kerr_name(int16_t code)
{
    switch (code) {
#define E(x) case SM_KERR_##x: return #x;
    E(UNKNOWN_SERVER_ERROR) E(NONE) E(OFFSET_OUT_OF_RANGE) E(CORRUPT_MESSAGE)
    E(UNKNOWN_TOPIC_OR_PARTITION) E(INVALID_FETCH_SIZE) E(LEADER_NOT_AVAILABLE)
    E(NOT_LEADER_OR_FOLLOWER) E(REQUEST_TIMED_OUT) E(MESSAGE_TOO_LARGE)
    E(OFFSET_METADATA_TOO_LARGE) E(NETWORK_EXCEPTION) E(COORDINATOR_LOAD_IN_PROGRESS)
    E(COORDINATOR_NOT_AVAILABLE) E(NOT_COORDINATOR) E(INVALID_TOPIC_EXCEPTION)
    E(RECORD_LIST_TOO_LARGE) E(NOT_ENOUGH_REPLICAS) E(INVALID_REQUIRED_ACKS)
    E(ILLEGAL_GENERATION) E(INCONSISTENT_GROUP_PROTOCOL) E(INVALID_GROUP_ID)
    E(UNKNOWN_MEMBER_ID) E(INVALID_SESSION_TIMEOUT) E(REBALANCE_IN_PROGRESS)
    E(INVALID_COMMIT_OFFSET_SIZE) E(TOPIC_AUTHORIZATION_FAILED) E(CLUSTER_AUTHORIZATION_FAILED)
    E(INVALID_TIMESTAMP) E(UNSUPPORTED_SASL_MECHANISM) E(ILLEGAL_SASL_STATE)
    E(UNSUPPORTED_VERSION) E(TOPIC_ALREADY_EXISTS) E(INVALID_PARTITIONS)
    E(INVALID_REPLICATION_FACTOR) E(INVALID_REPLICA_ASSIGNMENT) E(INVALID_CONFIG)
    E(NOT_CONTROLLER) E(INVALID_REQUEST) E(UNSUPPORTED_FOR_MESSAGE_FORMAT)
    E(POLICY_VIOLATION) E(OUT_OF_ORDER_SEQUENCE_NUMBER) E(DUPLICATE_SEQUENCE_NUMBER)
    E(INVALID_PRODUCER_EPOCH) E(INVALID_TXN_STATE) E(INVALID_PRODUCER_ID_MAPPING)
    E(INVALID_TRANSACTION_TIMEOUT) E(CONCURRENT_TRANSACTIONS) E(TRANSACTIONAL_ID_AUTHORIZATION_FAILED) E(SECURITY_DISABLED) E(KAFKA_STORAGE_ERROR)
    E(LOG_DIR_NOT_FOUND) E(UNKNOWN_PRODUCER_ID) E(REASSIGNMENT_IN_PROGRESS)
    E(NON_EMPTY_GROUP) E(TOPIC_DELETION_DISABLED) E(GROUP_ID_NOT_FOUND) E(FETCH_SESSION_ID_NOT_FOUND)
    E(INVALID_FETCH_SESSION_EPOCH) E(FENCED_LEADER_EPOCH) E(UNKNOWN_LEADER_EPOCH) E(UNSUPPORTED_COMPRESSION_TYPE)
    E(MEMBER_ID_REQUIRED) E(GROUP_MAX_SIZE_REACHED) E(FENCED_INSTANCE_ID) E(INVALID_RECORD)
    E(GROUP_SUBSCRIBED_TO_TOPIC) E(UNSTABLE_OFFSET_COMMIT) E(THROTTLING_QUOTA_EXCEEDED)
    E(UNKNOWN_TOPIC_ID)
#undef E
    default: return "UNKNOWN_CODE";
    }
}

const char *sm_api_name(int16_t key)
{
    switch (key) {
    case SM_API_PRODUCE: return "Produce";
    case SM_API_FETCH: return "Fetch";
    case SM_API_LIST_OFFSETS: return "ListOffsets";
    case SM_API_METADATA: return "Metadata";
    case SM_API_OFFSET_COMMIT: return "OffsetCommit";
    case SM_API_OFFSET_FETCH: return "OffsetFetch";
    case SM_API_FIND_COORDINATOR: return "FindCoordinator";
    case SM_API_JOIN_GROUP: return "JoinGroup";
    case SM_API_HEARTBEAT: return "Heartbeat";
    case SM_API_LEAVE_GROUP: return "LeaveGroup";
    case SM_API_SYNC_GROUP: return "SyncGroup";
    case SM_API_DESCRIBE_GROUPS: return "DescribeGroups";
    case SM_API_LIST_GROUPS: return "ListGroups";
    case SM_API_SASL_HANDSHAKE: return "SaslHandshake";
    case SM_API_API_VERSIONS: return "ApiVersions";
    case SM_API_CREATE_TOPICS: return "CreateTopics";
    case SM_API_DELETE_TOPICS: return "DeleteTopics";
    case SM_API_DELETE_RECORDS: return "DeleteRecords";
    case SM_API_INIT_PRODUCER_ID: return "InitProducerId";
    case SM_API_OFFSET_FOR_LEADER_EPOCH: return "OffsetForLeaderEpoch";
    case SM_API_ADD_PARTITIONS_TO_TXN: return "AddPartitionsToTxn";
    case SM_API_ADD_OFFSETS_TO_TXN: return "AddOffsetsToTxn";
    case SM_API_END_TXN: return "EndTxn";
    case SM_API_TXN_OFFSET_COMMIT: return "TxnOffsetCommit";
    case SM_API_DESCRIBE_ACLS: return "DescribeAcls";
    case SM_API_CREATE_ACLS: return "CreateAcls";
    case SM_API_DELETE_ACLS: return "DeleteAcls";
    case SM_API_DESCRIBE_LOG_DIRS: return "DescribeLogDirs";
    case SM_API_SASL_AUTHENTICATE: return "SaslAuthenticate";
    case SM_API_INCREMENTAL_ALTER_CONFIGS: return "IncrementalAlterConfigs";
    case SM_API_LIST_PARTITION_REASSIGNMENTS: return "ListPartitionReassignments";
    case SM_API_DESCRIBE_CLIENT_QUOTAS: return "DescribeClientQuotas";
    case SM_API_DESCRIBE_CLUSTER: return "DescribeCluster";
    case SM_API_DESCRIBE_PRODUCERS: return "DescribeProducers";
    case SM_API_DESCRIBE_TRANSACTIONS: return "DescribeTransactions";
    case SM_API_LIST_TRANSACTIONS: return "ListTransactions";
    case SM_API_DESCRIBE_CONFIGS: return "DescribeConfigs";
    case SM_API_ALTER_CONFIGS: return "AlterConfigs";
    case SM_API_CREATE_PARTITIONS: return "CreatePartitions";
    case SM_API_DELETE_GROUPS: return "DeleteGroups";
    case SM_API_OFFSET_DELETE: return "OffsetDelete";
    default: return "Unknown";
    }
}

int sm_topic_name_valid(const char *p, int32_t len)
{
    if (!p || len <= 0 || len > SM_TOPIC_NAME_MAX)
        return 0;
    if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
        return 0;
    for (int32_t i = 0; i < len; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* flexibleVersions of each <Name>Request.json in apache/kafka
 * (clients/src/main/resources/common/message), keys 0-87; -1 is "none"
 * (SaslHandshake, OffsetDelete). */
static const int8_t first_flexible[] = {
    9, 12, 6, 9, 4, 2, 6, 3, 8, 6, 3, 6,
    4, 4, 4, 5, 3, -1, 3, 5, 4, 2, 2, 4,
    3, 3, 3, 1, 3, 2, 2, 2, 4, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 1, 0, 0, -1,
    1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0,
};

int16_t sm_api_first_flexible(int16_t key)
{
    if (key < 0 || (size_t)key >= sizeof first_flexible / sizeof first_flexible[0])
        return -1;
    return first_flexible[key];
}

bool sm_api_flexible(int16_t key, int16_t version)
{
    int16_t first = sm_api_first_flexible(key);
    return first >= 0 && version >= first;
}
