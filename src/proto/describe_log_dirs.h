/* describe_log_dirs.h: DescribeLogDirs (key 35), versions 0-4.
 *
 * The request names topics and partitions, or is null for every one. v1 is
 * the same as v0; v2 is the first flexible version; v3 adds the top-level
 * ErrorCode; v4 adds TotalBytes and UsableBytes per log dir.
 * Conventions: see header.h. */
#ifndef SM_PROTO_DESCRIBE_LOG_DIRS_H
#define SM_PROTO_DESCRIBE_LOG_DIRS_H

#include <stdbool.h>

#include "proto/header.h"

typedef struct sm_dld_topic_req {
    sm_str topic;
    int32_t partition_count;
    int32_t *partitions;
} sm_dld_topic_req;

typedef struct sm_dld_req {
    int32_t topic_count; /* -1: null, every topic */
    sm_dld_topic_req *topics;
} sm_dld_req;

int sm_dld_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_dld_req *out);

typedef struct sm_dld_partition {
    int32_t partition_index;
    int64_t partition_size;
    int64_t offset_lag;
    bool is_future_key;
} sm_dld_partition;

typedef struct sm_dld_topic {
    sm_str name;
    int32_t partition_count;
    sm_dld_partition *partitions;
} sm_dld_topic;

typedef struct sm_dld_result {
    int16_t error_code;
    sm_str log_dir;
    int32_t topic_count;
    sm_dld_topic *topics;
    int64_t total_bytes;  /* v4+ */
    int64_t usable_bytes; /* v4+ */
} sm_dld_result;

typedef struct sm_dld_resp {
    int32_t throttle_time_ms;
    int16_t error_code; /* v3+ */
    int32_t result_count;
    sm_dld_result *results;
} sm_dld_resp;

void sm_dld_resp_encode(sm_wbuf *w, int16_t version, const sm_dld_resp *resp);

#endif
