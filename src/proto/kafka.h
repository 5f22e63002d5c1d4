/* kafka.h: Kafka protocol constants: API keys and error codes, named as Kafka
 * names them (see apache/kafka clients/src/main/resources/common/message and
 * org.apache.kafka.common.protocol.Errors). */
#ifndef SM_KAFKA_H
#define SM_KAFKA_H

#include <stdbool.h>
#include <stdint.h>

enum sm_api_key {
    SM_API_PRODUCE = 0,
    SM_API_FETCH = 1,
    SM_API_LIST_OFFSETS = 2,
    SM_API_METADATA = 3,
    SM_API_OFFSET_COMMIT = 8,
    SM_API_OFFSET_FETCH = 9,
    SM_API_FIND_COORDINATOR = 10,
    SM_API_JOIN_GROUP = 11,
    SM_API_HEARTBEAT = 12,
    SM_API_LEAVE_GROUP = 13,
    SM_API_SYNC_GROUP = 14,
    SM_API_DESCRIBE_GROUPS = 15,
    SM_API_LIST_GROUPS = 16,
    SM_API_SASL_HANDSHAKE = 17,
    SM_API_API_VERSIONS = 18,
    SM_API_CREATE_TOPICS = 19,
    SM_API_DELETE_TOPICS = 20,
    SM_API_DELETE_RECORDS = 21,
    SM_API_INIT_PRODUCER_ID = 22,
    SM_API_ADD_PARTITIONS_TO_TXN = 24,
    SM_API_ADD_OFFSETS_TO_TXN = 25,
    SM_API_END_TXN = 26,
    SM_API_TXN_OFFSET_COMMIT = 28,
    SM_API_DESCRIBE_CONFIGS = 32,
    SM_API_ALTER_CONFIGS = 33,
    SM_API_CREATE_PARTITIONS = 37,
    SM_API_DELETE_GROUPS = 42,
    SM_API_OFFSET_DELETE = 47,
    SM_API_KEY_MAX = 80, /* one past the largest key we keep a table slot for */
};

enum sm_kerr {
    SM_KERR_UNKNOWN_SERVER_ERROR = -1,
    SM_KERR_NONE = 0,
    SM_KERR_OFFSET_OUT_OF_RANGE = 1,
    SM_KERR_CORRUPT_MESSAGE = 2,
    SM_KERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
    SM_KERR_INVALID_FETCH_SIZE = 4,
    SM_KERR_LEADER_NOT_AVAILABLE = 5,
    SM_KERR_NOT_LEADER_OR_FOLLOWER = 6,
    SM_KERR_REQUEST_TIMED_OUT = 7,
    SM_KERR_MESSAGE_TOO_LARGE = 10,
    SM_KERR_OFFSET_METADATA_TOO_LARGE = 12,
    SM_KERR_NETWORK_EXCEPTION = 13,
    SM_KERR_COORDINATOR_LOAD_IN_PROGRESS = 14,
    SM_KERR_COORDINATOR_NOT_AVAILABLE = 15,
    SM_KERR_NOT_COORDINATOR = 16,
    SM_KERR_INVALID_TOPIC_EXCEPTION = 17,
    SM_KERR_RECORD_LIST_TOO_LARGE = 18,
    SM_KERR_NOT_ENOUGH_REPLICAS = 19,
    SM_KERR_INVALID_REQUIRED_ACKS = 21,
    SM_KERR_ILLEGAL_GENERATION = 22,
    SM_KERR_INCONSISTENT_GROUP_PROTOCOL = 23,
    SM_KERR_INVALID_GROUP_ID = 24,
    SM_KERR_UNKNOWN_MEMBER_ID = 25,
    SM_KERR_INVALID_SESSION_TIMEOUT = 26,
    SM_KERR_REBALANCE_IN_PROGRESS = 27,
    SM_KERR_INVALID_COMMIT_OFFSET_SIZE = 28,
    SM_KERR_TOPIC_AUTHORIZATION_FAILED = 29,
    SM_KERR_CLUSTER_AUTHORIZATION_FAILED = 31,
    SM_KERR_INVALID_TIMESTAMP = 32,
    SM_KERR_UNSUPPORTED_SASL_MECHANISM = 33,
    SM_KERR_ILLEGAL_SASL_STATE = 34,
    SM_KERR_UNSUPPORTED_VERSION = 35,
    SM_KERR_TOPIC_ALREADY_EXISTS = 36,
    SM_KERR_INVALID_PARTITIONS = 37,
    SM_KERR_INVALID_REPLICATION_FACTOR = 38,
    SM_KERR_INVALID_REPLICA_ASSIGNMENT = 39,
    SM_KERR_INVALID_CONFIG = 40,
    SM_KERR_NOT_CONTROLLER = 41,
    SM_KERR_INVALID_REQUEST = 42,
    SM_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43,
    SM_KERR_POLICY_VIOLATION = 44,
    SM_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
    SM_KERR_DUPLICATE_SEQUENCE_NUMBER = 46,
    SM_KERR_INVALID_PRODUCER_EPOCH = 47,
    SM_KERR_INVALID_TXN_STATE = 48,
    SM_KERR_INVALID_PRODUCER_ID_MAPPING = 49,
    SM_KERR_INVALID_TRANSACTION_TIMEOUT = 50,
    SM_KERR_CONCURRENT_TRANSACTIONS = 51,
    SM_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53,
    SM_KERR_KAFKA_STORAGE_ERROR = 56,
    SM_KERR_LOG_DIR_NOT_FOUND = 57,
    SM_KERR_UNKNOWN_PRODUCER_ID = 59,
    SM_KERR_REASSIGNMENT_IN_PROGRESS = 60,
    SM_KERR_NON_EMPTY_GROUP = 68,
    SM_KERR_TOPIC_DELETION_DISABLED = 73,
    SM_KERR_GROUP_ID_NOT_FOUND = 69,
    SM_KERR_FETCH_SESSION_ID_NOT_FOUND = 70,
    SM_KERR_INVALID_FETCH_SESSION_EPOCH = 71,
    SM_KERR_FENCED_LEADER_EPOCH = 74,
    SM_KERR_UNKNOWN_LEADER_EPOCH = 75,
    SM_KERR_UNSUPPORTED_COMPRESSION_TYPE = 76,
    SM_KERR_MEMBER_ID_REQUIRED = 79,
    SM_KERR_GROUP_MAX_SIZE_REACHED = 81,
    SM_KERR_FENCED_INSTANCE_ID = 82,
    SM_KERR_INVALID_RECORD = 87,
    SM_KERR_GROUP_SUBSCRIBED_TO_TOPIC = 86,
    SM_KERR_UNSTABLE_OFFSET_COMMIT = 88,
    SM_KERR_THROTTLING_QUOTA_EXCEEDED = 89,
};

/* Kafka's name for an error code ("UNKNOWN_TOPIC_OR_PARTITION"), for logs. */
const char *sm_kerr_name(int16_t code);
/* Kafka's name for an API key ("Produce"), or "Unknown". */
const char *sm_api_name(int16_t key);

/* The first flexible version (KIP-482: compact strings and arrays, tagged
 * fields, request header v2, response header v1) of an API key, as Kafka's
 * message definitions give it; -1 for an API with none, or a key past
 * Kafka's table. sm_api_flexible: whether (key, version) is flexible. */
int16_t sm_api_first_flexible(int16_t key);
bool sm_api_flexible(int16_t key, int16_t version);

/* samsa-broker's leader epoch for every partition: one node leads every
 * partition from its creation, so the epoch never moves from Kafka's first,
 * 0. Appends stamp it into each batch's PartitionLeaderEpoch (storage);
 * Metadata v7+ reports it, Fetch v9+ checks CurrentLeaderEpoch and v12+
 * LastFetchedEpoch against it. */
#define SM_LEADER_EPOCH 0

/* Kafka's legal topic names: 1..249 chars of [a-zA-Z0-9._-], not "." or "..". */
#define SM_TOPIC_NAME_MAX 249
int sm_topic_name_valid(const char *p, int32_t len);

#endif
