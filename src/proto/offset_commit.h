/* offset_commit.h: OffsetCommit (key 8), versions 0-7.
 *
 * Request fields by version: v0 GroupId and per partition CommittedOffset
 * and CommittedMetadata; v1 adds GenerationId and MemberId, and a per
 * partition CommitTimestamp (v1 only); v2-4 drop CommitTimestamp and add
 * RetentionTimeMs (-1: the broker's default retention); v5 drops
 * RetentionTimeMs; v6 adds CommittedLeaderEpoch per partition; v7 adds
 * GroupInstanceId. The response gains ThrottleTimeMs (first field) in v3.
 *
 * GenerationId -1 with an empty MemberId is a "simple" commit from a
 * consumer that uses no group membership (assign(), not subscribe()): the
 * broker stores it if the group is empty, as Kafka does. v0 has no
 * generation at all (decoded as -1 and "").
 *
 * CommittedMetadata is a NULLABLE_STRING (not bytes) and points into the
 * request frame (zero-copy): a broker that keeps it copies it.
 * Conventions: see header.h. */
#ifndef SM_PROTO_OFFSET_COMMIT_H
#define SM_PROTO_OFFSET_COMMIT_H

#include "proto/header.h"

/* v8 is the first flexible version. v9 carries KIP-848 member epochs
 * (GROUP_ID_NOT_FOUND, STALE_MEMBER_EPOCH for consumer groups): not spoken;
 * samsa has classic groups only. */
#define SM_OFFSET_COMMIT_FLEX 8

typedef struct sm_offset_commit_partition {
    int32_t partition_index;
    int64_t committed_offset;
    int32_t committed_leader_epoch; /* v6+; -1 before */
    int64_t commit_timestamp;       /* v1 only; -1 otherwise */
    sm_str committed_metadata;      /* nullable, zero-copy */
} sm_offset_commit_partition;

typedef struct sm_offset_commit_topic {
    sm_str name;
    int32_t partition_count;
    sm_offset_commit_partition *partitions;
} sm_offset_commit_topic;

typedef struct sm_offset_commit_req {
    sm_str group_id;
    /* v1+; -1 before. GenerationIdOrMemberEpoch in the current JSON (named
     * GenerationId before KIP-848, which we do not speak) */
    int32_t generation_id;
    sm_str member_id;          /* v1+; "" before */
    sm_str group_instance_id;  /* v7+, nullable; null before */
    int64_t retention_time_ms; /* v2-4; -1 otherwise */
    int32_t topic_count;
    sm_offset_commit_topic *topics;
} sm_offset_commit_req;

int sm_offset_commit_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_offset_commit_req *out);

typedef struct sm_offset_commit_partition_resp {
    int32_t partition_index;
    int16_t error_code;
} sm_offset_commit_partition_resp;

typedef struct sm_offset_commit_topic_resp {
    sm_str name;
    int32_t partition_count;
    sm_offset_commit_partition_resp *partitions;
} sm_offset_commit_topic_resp;

typedef struct sm_offset_commit_resp {
    int32_t throttle_time_ms; /* v3+ */
    int32_t topic_count;
    sm_offset_commit_topic_resp *topics;
} sm_offset_commit_resp;

void sm_offset_commit_resp_encode(sm_wbuf *w, int16_t version, const sm_offset_commit_resp *resp);

#endif
