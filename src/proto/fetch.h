/* fetch.h: Fetch (key 1), versions 4-11.
 *
 * The response is encoded in pieces so the broker can splice record bytes
 * in from segment files with sendfile(2): it writes each partition's
 * header with sm_fetch_part_encode, which ends with the RecordSet length,
 * and then queues `records_len` bytes straight from the file. */
#ifndef SM_PROTO_FETCH_H
#define SM_PROTO_FETCH_H

#include "proto/header.h"

typedef struct sm_fetch_part {
    int32_t partition;
    int32_t current_leader_epoch; /* v9+ */
    int64_t fetch_offset;
    int64_t log_start_offset; /* v5+, from followers only */
    int32_t partition_max_bytes;
} sm_fetch_part;

typedef struct sm_fetch_topic {
    sm_str topic;
    int32_t partition_count;
    sm_fetch_part *partitions;
} sm_fetch_topic;

typedef struct sm_fetch_req {
    int32_t replica_id;
    int32_t max_wait_ms;
    int32_t min_bytes;
    int32_t max_bytes;
    int8_t isolation_level;
    int32_t session_id;    /* v7+ */
    int32_t session_epoch; /* v7+ */
    int32_t topic_count;
    sm_fetch_topic *topics;
    int32_t forgotten_count; /* v7+: topics removed from a session; we hold no sessions */
    sm_str rack_id;          /* v11+ */
} sm_fetch_req;

int sm_fetch_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_fetch_req *out);

/* ThrottleTimeMs, then (v7+) ErrorCode and SessionId, then the topic count. */
void sm_fetch_resp_begin(sm_wbuf *w, int16_t version, int16_t error_code, int32_t session_id,
                         int32_t topic_count);
/* Topic name and partition count. */
void sm_fetch_topic_encode(sm_wbuf *w, sm_str topic, int32_t partition_count);

typedef struct sm_fetch_part_resp {
    int32_t partition;
    int16_t error_code;
    int64_t high_watermark;
    int64_t last_stable_offset;
    int64_t log_start_offset;
    int32_t records_len; /* -1 for null records */
} sm_fetch_part_resp;

/* Everything of one partition up to and including the RecordSet length;
 * the caller appends records_len bytes of records after it. */
void sm_fetch_part_encode(sm_wbuf *w, int16_t version, const sm_fetch_part_resp *p);

#endif
