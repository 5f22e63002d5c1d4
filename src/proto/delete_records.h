/* delete_records.h: DeleteRecords (key 21), versions 0-1.
 *
 * v0 and v1 have the same fields. Offset -1 means "up to the high
 * watermark"; records before Offset become unreadable and LowWatermark
 * (the new log start offset) is returned. ThrottleTimeMs is the
 * response's first field in both versions. Conventions: see header.h. */
#ifndef SM_PROTO_DELETE_RECORDS_H
#define SM_PROTO_DELETE_RECORDS_H

#include "proto/header.h"

#define SM_DELETE_RECORDS_FLEX 2

#define SM_DELETE_RECORDS_HIGH_WATERMARK (-1)

typedef struct sm_delete_records_partition {
    int32_t partition_index;
    int64_t offset;
} sm_delete_records_partition;

typedef struct sm_delete_records_topic {
    sm_str name;
    int32_t partition_count;
    sm_delete_records_partition *partitions;
} sm_delete_records_topic;

typedef struct sm_delete_records_req {
    int32_t topic_count;
    sm_delete_records_topic *topics;
    int32_t timeout_ms;
} sm_delete_records_req;

int sm_delete_records_req_decode(sm_rd *r, int16_t version, sm_arena *a,
                                 sm_delete_records_req *out);

typedef struct sm_delete_records_partition_resp {
    int32_t partition_index;
    int64_t low_watermark;
    int16_t error_code;
} sm_delete_records_partition_resp;

typedef struct sm_delete_records_topic_resp {
    sm_str name;
    int32_t partition_count;
    sm_delete_records_partition_resp *partitions;
} sm_delete_records_topic_resp;

typedef struct sm_delete_records_resp {
    int32_t throttle_time_ms;
    int32_t topic_count;
    sm_delete_records_topic_resp *topics;
} sm_delete_records_resp;

void sm_delete_records_resp_encode(sm_wbuf *w, int16_t version, const sm_delete_records_resp *resp);

#endif
