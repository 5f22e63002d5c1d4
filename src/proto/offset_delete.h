/* offset_delete.h: OffsetDelete (key 47), version 0 (KIP-496).
 *
 * Deletes a group's committed offsets for the partitions given; refused
 * per partition with GROUP_SUBSCRIBED_TO_TOPIC (86) while the group is
 * consuming the topic. Beware the response order: ErrorCode comes FIRST
 * and ThrottleTimeMs second, unlike every other API. Conventions: see
 * header.h. */
#ifndef SM_PROTO_OFFSET_DELETE_H
#define SM_PROTO_OFFSET_DELETE_H

#include "proto/header.h"

typedef struct sm_offset_delete_partition {
    int32_t partition_index;
} sm_offset_delete_partition;

typedef struct sm_offset_delete_topic {
    sm_str name;
    int32_t partition_count;
    sm_offset_delete_partition *partitions;
} sm_offset_delete_topic;

typedef struct sm_offset_delete_req {
    sm_str group_id;
    int32_t topic_count;
    sm_offset_delete_topic *topics;
} sm_offset_delete_req;

int sm_offset_delete_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_offset_delete_req *out);

typedef struct sm_offset_delete_partition_resp {
    int32_t partition_index;
    int16_t error_code;
} sm_offset_delete_partition_resp;

typedef struct sm_offset_delete_topic_resp {
    sm_str name;
    int32_t partition_count;
    sm_offset_delete_partition_resp *partitions;
} sm_offset_delete_topic_resp;

typedef struct sm_offset_delete_resp {
    int16_t error_code; /* first on the wire */
    int32_t throttle_time_ms;
    int32_t topic_count;
    sm_offset_delete_topic_resp *topics;
} sm_offset_delete_resp;

void sm_offset_delete_resp_encode(sm_wbuf *w, int16_t version, const sm_offset_delete_resp *resp);

#endif
