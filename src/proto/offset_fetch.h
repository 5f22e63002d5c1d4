/* offset_fetch.h: OffsetFetch (key 9), versions 0-5.
 *
 * Versions: v1 is v0 served from Kafka's offsets topic instead of
 * ZooKeeper (same fields; we answer both alike); v2 allows a null Topics
 * array meaning "every topic the group has offsets for", and adds a
 * top-level ErrorCode to the response, sent LAST (after Topics); v3 adds
 * ThrottleTimeMs, sent FIRST; v4 is the same as v3; v5 adds
 * CommittedLeaderEpoch per partition.
 *
 * v0-1 have no top-level ErrorCode: a group-level error (e.g.
 * NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS) goes in every partition's
 * ErrorCode. A partition without a committed offset is answered with
 * CommittedOffset -1, empty or null Metadata and ErrorCode 0 (not an error).
 *
 * Conventions: see header.h; the response's nullable strings are null when
 * their .p is NULL, so a zeroed struct encodes sensibly. */
#ifndef SM_PROTO_OFFSET_FETCH_H
#define SM_PROTO_OFFSET_FETCH_H

#include <stdbool.h>

#include "proto/header.h"

/* v6 is the first flexible version; v7 adds RequireStable (wait out
 * pending transactional offsets with UNSTABLE_OFFSET_COMMIT: samsa keeps no
 * transactions, so every offset is stable). v8 batches groups: not spoken. */
#define SM_OFFSET_FETCH_FLEX 6

typedef struct sm_offset_fetch_topic {
    sm_str name;
    int32_t partition_index_count;
    int32_t *partition_indexes;
} sm_offset_fetch_topic;

typedef struct sm_offset_fetch_req {
    sm_str group_id;
    int32_t topic_count; /* -1: null, every topic (v2+ only) */
    sm_offset_fetch_topic *topics;
    bool require_stable; /* v7+ */
} sm_offset_fetch_req;

int sm_offset_fetch_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_offset_fetch_req *out);

typedef struct sm_offset_fetch_partition_resp {
    int32_t partition_index;
    int64_t committed_offset;       /* -1: none committed */
    int32_t committed_leader_epoch; /* v5+; -1 when unknown */
    sm_str metadata;                /* nullable */
    int16_t error_code;
} sm_offset_fetch_partition_resp;

typedef struct sm_offset_fetch_topic_resp {
    sm_str name;
    int32_t partition_count;
    sm_offset_fetch_partition_resp *partitions;
} sm_offset_fetch_topic_resp;

typedef struct sm_offset_fetch_resp {
    int32_t throttle_time_ms; /* v3+ */
    int32_t topic_count;
    sm_offset_fetch_topic_resp *topics;
    int16_t error_code; /* v2+, written after topics */
} sm_offset_fetch_resp;

void sm_offset_fetch_resp_encode(sm_wbuf *w, int16_t version, const sm_offset_fetch_resp *resp);

#endif
