/* sync_group.h: SyncGroup (key 14), versions 0-5.
 *
 * v1 adds ThrottleTimeMs (first field of the response); v2 is the same as
 * v1; v3 adds GroupInstanceId to the request. Only the leader sends
 * Assignments (one per member); followers send an empty list and wait for
 * the leader's. Assignment is the protocol's opaque bytes.
 *
 * Conventions: see header.h. Assignment points into the request frame
 * (zero-copy); a broker that keeps it past the request copies it. */
#ifndef SM_PROTO_SYNC_GROUP_H
#define SM_PROTO_SYNC_GROUP_H

#include "proto/header.h"

/* v4 is the first flexible version. v5 (KIP-559) adds ProtocolType and
 * ProtocolName to both sides: a request that names another type or
 * protocol than the group's is INCONSISTENT_GROUP_PROTOCOL, and a
 * successful answer names the group's. */
#define SM_SYNC_GROUP_FLEX 4

typedef struct sm_sync_group_assignment {
    sm_str member_id;
    sm_str assignment; /* BYTES, zero-copy */
} sm_sync_group_assignment;

typedef struct sm_sync_group_req {
    sm_str group_id;
    int32_t generation_id;
    sm_str member_id;
    sm_str group_instance_id; /* v3+, nullable; null before */
    sm_str protocol_type;     /* v5+, nullable; null before (not checked) */
    sm_str protocol_name;     /* v5+, nullable; null before (not checked) */
    int32_t assignment_count;
    sm_sync_group_assignment *assignments;
} sm_sync_group_req;

int sm_sync_group_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_sync_group_req *out);

typedef struct sm_sync_group_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
    sm_str protocol_type; /* v5+, nullable: the group's on success, null on error */
    sm_str protocol_name; /* v5+, nullable */
    sm_str assignment; /* BYTES: this member's assignment, empty on error */
} sm_sync_group_resp;

void sm_sync_group_resp_encode(sm_wbuf *w, int16_t version, const sm_sync_group_resp *resp);

#endif
