/* join_group.h: JoinGroup (key 11), versions 0-5.
 *
 * Versions: v1 adds RebalanceTimeoutMs (v0 uses SessionTimeoutMs for both;
 * the decoder copies it so the handler reads rebalance_timeout_ms always);
 * v2 adds ThrottleTimeMs (first field of the response); v3 is the same as
 * v2; v4 is the two-step join (KIP-394): a member that joins with an empty
 * MemberId is answered MEMBER_ID_REQUIRED (79) with its new id in MemberId
 * (GenerationId -1, empty ProtocolName, Leader and Members) and joins again
 * with that id; v5 adds GroupInstanceId (static membership) to the request
 * and to each member of the response.
 *
 * Members is filled only in the leader's response (the leader runs the
 * assignment); everyone else gets an empty list. Metadata is the
 * protocol's opaque bytes (for "consumer", the subscription), passed
 * through untouched.
 *
 * Conventions: see header.h. Metadata points into the request frame
 * (zero-copy). The response's nullable strings are null when their .p is
 * NULL, so a zeroed struct encodes sensibly. */
#ifndef SM_PROTO_JOIN_GROUP_H
#define SM_PROTO_JOIN_GROUP_H

#include <stdbool.h>

#include "proto/header.h"

/* v6 is the first flexible version; v7 (KIP-559) adds ProtocolType to the
 * answer and makes ProtocolName nullable (both null on an error); v8 adds
 * the request's Reason (KIP-800, logged); v9 adds SkipAssignment (a static
 * leader back in a Stable group gets the members and is told not to
 * assign, KIP-814). */
#define SM_JOIN_GROUP_FLEX 6

typedef struct sm_join_group_protocol {
    sm_str name;     /* e.g. "range", "roundrobin", "cooperative-sticky" */
    sm_str metadata; /* BYTES, zero-copy */
} sm_join_group_protocol;

typedef struct sm_join_group_req {
    sm_str group_id;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms; /* v1+; = session_timeout_ms for v0 */
    sm_str member_id;             /* "" on a first join */
    sm_str group_instance_id;     /* v5+, nullable; null before */
    sm_str protocol_type;         /* e.g. "consumer" */
    int32_t protocol_count;
    sm_join_group_protocol *protocols;
    sm_str reason; /* v8+, nullable; null before */
} sm_join_group_req;

int sm_join_group_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_join_group_req *out);

typedef struct sm_join_group_member {
    sm_str member_id;
    sm_str group_instance_id; /* v5+, nullable */
    sm_str metadata;          /* BYTES */
} sm_join_group_member;

typedef struct sm_join_group_resp {
    int32_t throttle_time_ms; /* v2+ */
    int16_t error_code;
    int32_t generation_id;
    sm_str protocol_type; /* v7+, nullable: the group's on success, null on an error */
    sm_str protocol_name; /* the chosen protocol; a STRING up to v6 ("" for null), nullable v7+ */
    sm_str leader;
    bool skip_assignment; /* v9+ */
    sm_str member_id;
    int32_t member_count;
    sm_join_group_member *members;
} sm_join_group_resp;

void sm_join_group_resp_encode(sm_wbuf *w, int16_t version, const sm_join_group_resp *resp);

#endif
