/* list_offsets.h: ListOffsets (key 2), versions 0-10.
 *
 * v0 is the legacy shape: each partition asks for up to MaxNumOffsets
 * offsets "before" Timestamp and the answer is an array, OldStyleOffsets,
 * newest first (Kafka builds it from segment base offsets plus the log end
 * offset; see the v0 note below). v1+ asks for exactly one offset and gets
 * back Timestamp and Offset. v2 adds IsolationLevel to the request and
 * ThrottleTimeMs (first field) to the response; v3 is the same as v2; v4
 * adds CurrentLeaderEpoch to the request (fencing) and LeaderEpoch to the
 * answer; v5 allows OFFSET_NOT_AVAILABLE (never ours: one node is always
 * caught up); v6 is the first flexible version; v7 lists MAX_TIMESTAMP
 * (-3, KIP-734), v8 EARLIEST_LOCAL (-4, KIP-405), v9 LATEST_TIERED (-5,
 * KIP-1005); v10 adds TimeoutMs for reads from remote storage (KIP-1075;
 * samsa has none, nothing waits). Conventions: see header.h; the response's nullable strings are null when
 * their .p is NULL, so a zeroed struct encodes sensibly. */
#ifndef SM_PROTO_LIST_OFFSETS_H
#define SM_PROTO_LIST_OFFSETS_H

#include "proto/header.h"

/* Special values of Timestamp. */
#define SM_LIST_OFFSETS_LATEST_TIMESTAMP (-1)   /* the log end offset (high watermark) */
#define SM_LIST_OFFSETS_EARLIEST_TIMESTAMP (-2) /* the log start offset */
#define SM_LIST_OFFSETS_MAX_TIMESTAMP (-3)      /* the record with the largest timestamp */
#define SM_LIST_OFFSETS_EARLIEST_LOCAL (-4)     /* the local log start: no tiered storage, EARLIEST */
#define SM_LIST_OFFSETS_LATEST_TIERED (-5)      /* the last tiered offset: none, -1 */

#define SM_LIST_OFFSETS_FLEX 6 /* first flexible version */

typedef struct sm_list_offsets_partition {
    int32_t partition_index;
    int32_t current_leader_epoch; /* v4+; -1 before */
    int64_t timestamp;
    int32_t max_num_offsets; /* v0 only; 1 (Kafka's default) for v1+ */
} sm_list_offsets_partition;

typedef struct sm_list_offsets_topic {
    sm_str name;
    int32_t partition_count;
    sm_list_offsets_partition *partitions;
} sm_list_offsets_topic;

typedef struct sm_list_offsets_req {
    int32_t replica_id;     /* -1 for a consumer */
    int8_t isolation_level; /* v2+: 0 READ_UNCOMMITTED, 1 READ_COMMITTED; 0 before */
    int32_t topic_count;
    sm_list_offsets_topic *topics;
    int32_t timeout_ms; /* v10+; 0 before */
} sm_list_offsets_req;

int sm_list_offsets_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_list_offsets_req *out);

typedef struct sm_list_offsets_partition_resp {
    int32_t partition_index;
    int16_t error_code;
    /* v0: OldStyleOffsets, sent as given. A broker that keeps one answer per
     * partition points this at `offset` with a count of 1 (or 0 on error).
     * Kafka's v0 semantics: LATEST gives [log end offset, then segment base
     * offsets newest first], EARLIEST gives [log start offset], a time gives
     * the base offsets of segments last modified at or before it, newest
     * first; all cut to MaxNumOffsets. Clients ask for 1. */
    int32_t old_style_offset_count;
    int64_t *old_style_offsets;
    /* v1+ */
    int64_t timestamp; /* -1 when unknown (LATEST/EARLIEST answers) */
    int64_t offset;    /* -1 when no offset matches */
    int32_t leader_epoch; /* v4+: the epoch of the batch holding offset, -1 unknown */
} sm_list_offsets_partition_resp;

typedef struct sm_list_offsets_topic_resp {
    sm_str name;
    int32_t partition_count;
    sm_list_offsets_partition_resp *partitions;
} sm_list_offsets_topic_resp;

typedef struct sm_list_offsets_resp {
    int32_t throttle_time_ms; /* v2+ */
    int32_t topic_count;
    sm_list_offsets_topic_resp *topics;
} sm_list_offsets_resp;

void sm_list_offsets_resp_encode(sm_wbuf *w, int16_t version, const sm_list_offsets_resp *resp);

#endif
