/* offset_for_leader_epoch.h: OffsetForLeaderEpoch (key 23), versions 0-4.
 *
 * For each partition, the end offset of a leader epoch (and the epoch that
 * ends there), as a consumer asks to validate its position after a leader
 * change. v1 adds LeaderEpoch to the response; v2 CurrentLeaderEpoch to the
 * request and ThrottleTimeMs to the response; v3 ReplicaId; v4 is the first
 * flexible version. Conventions: see header.h. */
#ifndef SM_PROTO_OFFSET_FOR_LEADER_EPOCH_H
#define SM_PROTO_OFFSET_FOR_LEADER_EPOCH_H

#include "proto/header.h"

typedef struct sm_ofle_partition {
    int32_t partition;
    int32_t current_leader_epoch; /* v2+; -1 (none) before */
    int32_t leader_epoch;
} sm_ofle_partition;

typedef struct sm_ofle_topic {
    sm_str topic;
    int32_t partition_count;
    sm_ofle_partition *partitions;
} sm_ofle_topic;

typedef struct sm_ofle_req {
    int32_t replica_id; /* v3+; -2 (a debug consumer) before */
    int32_t topic_count;
    sm_ofle_topic *topics;
} sm_ofle_req;

int sm_ofle_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_ofle_req *out);

typedef struct sm_ofle_partition_resp {
    int16_t error_code;
    int32_t partition;
    int32_t leader_epoch; /* v1+ */
    int64_t end_offset;
} sm_ofle_partition_resp;

typedef struct sm_ofle_topic_resp {
    sm_str topic;
    int32_t partition_count;
    sm_ofle_partition_resp *partitions;
} sm_ofle_topic_resp;

typedef struct sm_ofle_resp {
    int32_t throttle_time_ms; /* v2+ */
    int32_t topic_count;
    sm_ofle_topic_resp *topics;
} sm_ofle_resp;

void sm_ofle_resp_encode(sm_wbuf *w, int16_t version, const sm_ofle_resp *resp);

#endif
