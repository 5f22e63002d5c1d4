/* list_partition_reassignments.h: ListPartitionReassignments (key 46),
 * version 0 (flexible).
 *
 * A single node never reassigns, so the broker answers every request with
 * no ongoing reassignment; the decoder still reads the whole request.
 * Conventions: see header.h. */
#ifndef SM_PROTO_LIST_PARTITION_REASSIGNMENTS_H
#define SM_PROTO_LIST_PARTITION_REASSIGNMENTS_H

#include "proto/header.h"

typedef struct sm_lpr_topic_req {
    sm_str name;
    int32_t partition_count;
    int32_t *partition_indexes;
} sm_lpr_topic_req;

typedef struct sm_lpr_req {
    int32_t timeout_ms;
    int32_t topic_count; /* -1: null, every reassignment */
    sm_lpr_topic_req *topics;
} sm_lpr_req;

int sm_lpr_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_lpr_req *out);

typedef struct sm_lpr_partition {
    int32_t partition_index;
    int32_t replica_count;
    int32_t *replicas;
    int32_t adding_count;
    int32_t *adding_replicas;
    int32_t removing_count;
    int32_t *removing_replicas;
} sm_lpr_partition;

typedef struct sm_lpr_topic {
    sm_str name;
    int32_t partition_count;
    sm_lpr_partition *partitions;
} sm_lpr_topic;

typedef struct sm_lpr_resp {
    int32_t throttle_time_ms;
    int16_t error_code;
    sm_str error_message; /* nullable */
    int32_t topic_count;
    sm_lpr_topic *topics;
} sm_lpr_resp;

void sm_lpr_resp_encode(sm_wbuf *w, int16_t version, const sm_lpr_resp *resp);

#endif
