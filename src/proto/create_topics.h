/* create_topics.h: CreateTopics (key 19), versions 0-4.
 *
 * v1 adds ValidateOnly to the request and ErrorMessage to each result; v2
 * adds ThrottleTimeMs (first field) to the response; v3 is the same as v2;
 * v4 lets NumPartitions and ReplicationFactor be -1 ("broker default")
 * without a manual assignment (KIP-464; before v4, -1 is legal only with
 * Assignments). Conventions: see header.h; the response's nullable strings
 * are null when their .p is NULL, so a zeroed struct encodes sensibly. */
#ifndef SM_PROTO_CREATE_TOPICS_H
#define SM_PROTO_CREATE_TOPICS_H

#include <stdbool.h>

#include "proto/header.h"

typedef struct sm_create_topics_assignment {
    int32_t partition_index;
    int32_t broker_id_count;
    int32_t *broker_ids;
} sm_create_topics_assignment;

typedef struct sm_create_topics_config {
    sm_str name;
    sm_str value; /* nullable */
} sm_create_topics_config;

typedef struct sm_create_topics_topic {
    sm_str name;
    int32_t num_partitions;     /* -1: default (v4+), or given by assignments */
    int16_t replication_factor; /* -1: default (v4+), or given by assignments */
    int32_t assignment_count;   /* 0: automatic assignment */
    sm_create_topics_assignment *assignments;
    int32_t config_count;
    sm_create_topics_config *configs;
} sm_create_topics_topic;

typedef struct sm_create_topics_req {
    int32_t topic_count;
    sm_create_topics_topic *topics;
    int32_t timeout_ms;
    bool validate_only; /* v1+; false before */
} sm_create_topics_req;

int sm_create_topics_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_create_topics_req *out);

typedef struct sm_create_topics_topic_resp {
    sm_str name;
    int16_t error_code;
    sm_str error_message; /* v1+, nullable */
} sm_create_topics_topic_resp;

typedef struct sm_create_topics_resp {
    int32_t throttle_time_ms; /* v2+ */
    int32_t topic_count;
    sm_create_topics_topic_resp *topics;
} sm_create_topics_resp;

void sm_create_topics_resp_encode(sm_wbuf *w, int16_t version, const sm_create_topics_resp *resp);

#endif
