/* create_partitions.h: CreatePartitions (key 37), versions 0-1.
 *
 * v0 and v1 have the same fields (v1 only changes when a throttled broker
 * answers). ThrottleTimeMs is the response's first field in both. Count is
 * the new total number of partitions, not the number to add. Conventions:
 * see header.h; the response's nullable strings are null when their .p is
 * NULL, so a zeroed struct encodes sensibly. */
#ifndef SM_PROTO_CREATE_PARTITIONS_H
#define SM_PROTO_CREATE_PARTITIONS_H

#include <stdbool.h>

#include "proto/header.h"

/* v2 is the first flexible version; v3 may answer THROTTLING_QUOTA_EXCEEDED
 * (KIP-599: samsa has no quotas, so never). */
#define SM_CREATE_PARTITIONS_FLEX 2

/* The replicas of one new partition, in the order the new partitions are added. */
typedef struct sm_create_partitions_assignment {
    int32_t broker_id_count;
    int32_t *broker_ids;
} sm_create_partitions_assignment;

typedef struct sm_create_partitions_topic {
    sm_str name;
    int32_t count;
    int32_t assignment_count; /* -1: null (automatic assignment) */
    sm_create_partitions_assignment *assignments;
} sm_create_partitions_topic;

typedef struct sm_create_partitions_req {
    int32_t topic_count;
    sm_create_partitions_topic *topics;
    int32_t timeout_ms;
    bool validate_only;
} sm_create_partitions_req;

int sm_create_partitions_req_decode(sm_rd *r, int16_t version, sm_arena *a,
                                    sm_create_partitions_req *out);

typedef struct sm_create_partitions_topic_resp {
    sm_str name;
    int16_t error_code;
    sm_str error_message; /* nullable */
} sm_create_partitions_topic_resp;

typedef struct sm_create_partitions_resp {
    int32_t throttle_time_ms;
    int32_t result_count;
    sm_create_partitions_topic_resp *results;
} sm_create_partitions_resp;

void sm_create_partitions_resp_encode(sm_wbuf *w, int16_t version,
                                      const sm_create_partitions_resp *resp);

#endif
