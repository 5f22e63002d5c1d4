/* produce.h: Produce (key 0), versions 0-11. Versions 0-2 are decoded, but
 * the message sets they carry (magic 0 and 1) are refused per partition:
 * only record batches v2 are stored. They are advertised because clients
 * such as librdkafka < 2.11 enable gzip and snappy only for a broker that
 * lists Produce v0.
 *
 * v8 adds RecordErrors (the index and message of each record that made the
 * batch be dropped) and ErrorMessage to each partition's answer (KIP-467);
 * v9 is the first flexible version. v10 adds the tagged CurrentLeader and
 * NodeEndpoints (KIP-951), sent only with NOT_LEADER_OR_FOLLOWER, which the
 * one node that leads every partition never answers; v11 lets a broker
 * answer TRANSACTION_ABORTABLE (KIP-890), which samsa without transactions
 * never does: both are v9 on the wire here. Conventions: see header.h. */
#ifndef SM_PROTO_PRODUCE_H
#define SM_PROTO_PRODUCE_H

#include "proto/header.h"

#define SM_PRODUCE_FLEX 9 /* first flexible version */

typedef struct sm_produce_part {
    int32_t index;
    sm_str records; /* points into the frame; the broker rewrites offsets in place */
} sm_produce_part;

typedef struct sm_produce_topic {
    sm_str name;
    int32_t partition_count;
    sm_produce_part *partitions;
} sm_produce_topic;

typedef struct sm_produce_req {
    sm_str transactional_id; /* v3+ */
    int16_t acks;
    int32_t timeout_ms;
    int32_t topic_count;
    sm_produce_topic *topics;
} sm_produce_req;

int sm_produce_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_produce_req *out);

typedef struct sm_produce_record_error {
    int32_t batch_index;
    sm_str message; /* nullable */
} sm_produce_record_error;

typedef struct sm_produce_part_resp {
    int32_t index;
    int16_t error_code;
    int64_t base_offset;
    int64_t log_append_time_ms; /* -1 unless the topic uses LogAppendTime */
    int64_t log_start_offset;
    int32_t record_error_count; /* v8+ */
    sm_produce_record_error *record_errors;
    sm_str error_message; /* v8+, nullable */
} sm_produce_part_resp;

typedef struct sm_produce_topic_resp {
    sm_str name;
    int32_t partition_count;
    sm_produce_part_resp *partitions;
} sm_produce_topic_resp;

typedef struct sm_produce_resp {
    int32_t topic_count;
    sm_produce_topic_resp *topics;
    int32_t throttle_time_ms;
} sm_produce_resp;

void sm_produce_resp_encode(sm_wbuf *w, int16_t version, const sm_produce_resp *resp);

#endif
