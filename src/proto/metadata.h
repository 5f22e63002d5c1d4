/* metadata.h: Metadata (key 3), versions 0-6. */
#ifndef SM_PROTO_METADATA_H
#define SM_PROTO_METADATA_H

#include <stdbool.h>

#include "proto/header.h"

typedef struct sm_metadata_req {
    int32_t topic_count; /* -1: all topics (v1+ null array; v0 sends an empty array for all) */
    sm_str *topics;
    bool allow_auto_topic_creation; /* v4+; true before v4 */
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
    /* single node: replicas and ISR are both [leader_id] */
} sm_metadata_part;

typedef struct sm_metadata_topic {
    int16_t error_code;
    sm_str name;
    bool is_internal;
    int32_t partition_count;
    sm_metadata_part *partitions;
} sm_metadata_topic;

typedef struct sm_metadata_resp {
    int32_t broker_count;
    sm_metadata_broker *brokers;
    sm_str cluster_id;
    int32_t controller_id;
    int32_t topic_count;
    sm_metadata_topic *topics;
} sm_metadata_resp;

void sm_metadata_resp_encode(sm_wbuf *w, int16_t version, const sm_metadata_resp *resp);

#endif
