/* describe_producers.h: DescribeProducers (key 61), version 0 (flexible).
 *
 * Per partition, the producers the broker keeps state for (its idempotent
 * producers: id, epoch, last sequence, timestamp of the last batch).
 * CoordinatorEpoch and CurrentTxnStartOffset are -1 without transactions.
 * Conventions: see header.h. */
#ifndef SM_PROTO_DESCRIBE_PRODUCERS_H
#define SM_PROTO_DESCRIBE_PRODUCERS_H

#include "proto/header.h"

typedef struct sm_dp_topic_req {
    sm_str name;
    int32_t partition_count;
    int32_t *partition_indexes;
} sm_dp_topic_req;

typedef struct sm_dp_req {
    int32_t topic_count;
    sm_dp_topic_req *topics;
} sm_dp_req;

int sm_dp_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_dp_req *out);

typedef struct sm_dp_producer {
    int64_t producer_id;
    int32_t producer_epoch;
    int32_t last_sequence;
    int64_t last_timestamp;
    int32_t coordinator_epoch;
    int64_t current_txn_start_offset;
} sm_dp_producer;

typedef struct sm_dp_partition {
    int32_t partition_index;
    int16_t error_code;
    sm_str error_message; /* nullable */
    int32_t producer_count;
    sm_dp_producer *active_producers;
} sm_dp_partition;

typedef struct sm_dp_topic {
    sm_str name;
    int32_t partition_count;
    sm_dp_partition *partitions;
} sm_dp_topic;

typedef struct sm_dp_resp {
    int32_t throttle_time_ms;
    int32_t topic_count;
    sm_dp_topic *topics;
} sm_dp_resp;

void sm_dp_resp_encode(sm_wbuf *w, int16_t version, const sm_dp_resp *resp);

#endif
