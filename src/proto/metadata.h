/* metadata.h: Metadata (key 3), versions 0-12.
 *
 * v1 makes the topic array nullable (null: all topics) and adds Rack,
 * ControllerId, IsInternal; v2 ClusterId; v3 ThrottleTimeMs; v4
 * AllowAutoTopicCreation; v5 OfflineReplicas; v7 LeaderEpoch per partition
 * (SM_LEADER_EPOCH, kafka.h); v8
 * IncludeClusterAuthorizedOperations / IncludeTopicAuthorizedOperations and
 * the bit fields they ask for (INT32_MIN when not asked); v9 is the first
 * flexible version; v10 adds a TopicId (KIP-516) to each request topic
 * (whose Name becomes nullable: look the topic up by id) and to each
 * response topic; v11 drops IncludeClusterAuthorizedOperations and
 * ClusterAuthorizedOperations; v12 makes the response topic Name nullable.
 * From v10, bytes after the request's end are ignored, as Kafka ignores
 * them (librdkafka 2.16 sends 3 more). Conventions: see header.h. */
#ifndef SM_PROTO_METADATA_H
#define SM_PROTO_METADATA_H

#include <stdbool.h>

#include "proto/header.h"

#define SM_METADATA_FLEX 9 /* first flexible version */
#define SM_METADATA_MAX 12

/* AclOperation bits (Kafka's AclOperation codes, Utils.to32BitField) of
 * what a broker without an authorizer allows on a resource: every operation
 * the resource type supports (AclEntry.supportedOperations). TOPIC: READ 3,
 * WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8, DESCRIBE_CONFIGS 10,
 * ALTER_CONFIGS 11; CLUSTER: CREATE 5, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9,
 * DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12; GROUP: READ 3,
 * DELETE 6, DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11. */
#define SM_ACL_OPS_TOPIC 0x0df8
#define SM_ACL_OPS_CLUSTER 0x1fa0
#define SM_ACL_OPS_GROUP 0x0d48
#define SM_ACL_OPS_OMITTED INT32_MIN /* not asked for */

typedef struct sm_metadata_req {
    int32_t topic_count; /* -1: all topics (v1+ null array; v0 sends an empty array for all) */
    sm_str *topics;     /* v10+: null when the topic is named by id */
    uint8_t (*topic_ids)[16]; /* v10+ (zero: named by name); all zero before */
    bool allow_auto_topic_creation; /* v4+; true before v4 */
    bool include_cluster_authorized_operations; /* v8+ (read v8-v10 by Kafka); false before */
    bool include_topic_authorized_operations;   /* v8+; false before */
} sm_metadata_req;

int sm_metadata_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_metadata_req *out);

typedef struct sm_metadata_broker {
    int32_t node_id;
    sm_str host;
    int32_t port;
    sm_str rack; /* v1+ */
} sm_metadata_broker;

typedef struct sm_metadata_part {
    int16_t error_code;
    int32_t partition_index;
    int32_t leader_id;
    int32_t leader_epoch; /* v7+ */
    /* single node: replicas and ISR are both [leader_id] */
} sm_metadata_part;

typedef struct sm_metadata_topic {
    int16_t error_code;
    sm_str name;
    bool is_internal;
    int32_t partition_count;
    sm_metadata_part *partitions;
    int32_t topic_authorized_operations; /* v8+: SM_ACL_OPS_TOPIC or SM_ACL_OPS_OMITTED */
    uint8_t topic_id[16]; /* v10+; zero with an error, as Kafka answers */
} sm_metadata_topic;

typedef struct sm_metadata_resp {
    int32_t broker_count;
    sm_metadata_broker *brokers;
    sm_str cluster_id;
    int32_t controller_id;
    int32_t topic_count;
    sm_metadata_topic *topics;
    int32_t cluster_authorized_operations; /* v8-v10: SM_ACL_OPS_CLUSTER or SM_ACL_OPS_OMITTED */
} sm_metadata_resp;

void sm_metadata_resp_encode(sm_wbuf *w, int16_t version, const sm_metadata_resp *resp);

#endif
