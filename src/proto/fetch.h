/* fetch.h: Fetch (key 1), versions 4-16.
 *
 * The response is encoded in pieces so the broker can splice record bytes
 * in from segment files with sendfile(2): it writes each partition's
 * header with sm_fetch_part_encode, which ends with the RecordSet length,
 * and then queues `records_len` bytes straight from the file, then
 * sm_fetch_part_end (the partition's tagged fields); sm_fetch_topic_end
 * after a topic's partitions, sm_fetch_resp_end at the end.
 *
 * v12 is the first flexible version and adds LastFetchedEpoch to each
 * partition of the request (checked against the leader epoch, KIP-595),
 * and the tagged DivergingEpoch (tag 0) to the answer when the fetcher's
 * last epoch ends before its fetch offset. The other tagged fields
 * (ClusterId in the request; CurrentLeader, SnapshotId in the answer) are
 * for KRaft and leader changes: skipped, never sent. v13 names topics by
 * id (KIP-516) instead of by name, in the request's topics and forgotten
 * topics and in the response's topics. v14 adds only an error for tiered
 * storage (OFFSET_MOVED_TO_TIERED_STORAGE, never sent here); v15 drops
 * ReplicaId for the tagged ReplicaState (tag 1, a follower's; skipped); v16
 * adds the tagged NodeEndpoints (tag 0 of the response), which Kafka fills
 * only with NOT_LEADER_OR_FOLLOWER and FENCED_LEADER_EPOCH answers: the one
 * broker, leader of every partition at epoch 0, answers neither. */
#ifndef SM_PROTO_FETCH_H
#define SM_PROTO_FETCH_H

#include <stdbool.h>

#include "proto/header.h"

#define SM_FETCH_FLEX 12 /* first flexible version */
#define SM_FETCH_TOPIC_IDS 13 /* first version naming topics by id */

typedef struct sm_fetch_part {
    int32_t partition;
    int32_t current_leader_epoch; /* v9+ */
    int64_t fetch_offset;
    int32_t last_fetched_epoch; /* v12+; -1 before (none) */
    int64_t log_start_offset; /* v5+, from followers only */
    int32_t partition_max_bytes;
} sm_fetch_part;

typedef struct sm_fetch_topic {
    sm_str topic;        /* v4-v12 (null from v13 until the broker resolves topic_id) */
    uint8_t topic_id[16]; /* v13+ */
    int32_t partition_count;
    sm_fetch_part *partitions;
} sm_fetch_topic;

typedef struct sm_fetch_req {
    int32_t replica_id; /* v4-v14; -1 from v15 */
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
/* Topic name (v4-v12) or id (v13+), and partition count. */
void sm_fetch_topic_encode(sm_wbuf *w, int16_t version, sm_str topic, const uint8_t topic_id[16],
                           int32_t partition_count);
/* After a topic's partitions: its tagged fields (v12+). */
void sm_fetch_topic_end(sm_wbuf *w, int16_t version);
/* The end of the response: its tagged fields (v12+). */
void sm_fetch_resp_end(sm_wbuf *w, int16_t version);

typedef struct sm_fetch_part_resp {
    int32_t partition;
    int16_t error_code;
    int64_t high_watermark;
    int64_t last_stable_offset;
    int64_t log_start_offset;
    int32_t records_len; /* -1 for null records */
    bool diverging;      /* v12+: DivergingEpoch (tag 0) is sent */
    int32_t diverging_epoch;
    int64_t diverging_end_offset;
} sm_fetch_part_resp;

/* Everything of one partition up to and including the RecordSet length;
 * the caller appends records_len bytes of records after it, then calls
 * sm_fetch_part_end. */
void sm_fetch_part_encode(sm_wbuf *w, int16_t version, const sm_fetch_part_resp *p);
/* The partition's tagged fields (v12+): DivergingEpoch when set. */
void sm_fetch_part_end(sm_wbuf *w, int16_t version, const sm_fetch_part_resp *p);

#endif
