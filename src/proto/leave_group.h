/* leave_group.h: LeaveGroup (key 13), versions 0-5.
 *
 * v0-2 name one member (MemberId); v1 adds ThrottleTimeMs (first field of
 * the response); v3 is the batch form (KIP-345): the request names Members
 * by MemberId and/or GroupInstanceId, and the response gives an ErrorCode
 * per member besides the top-level one. For the handler's sake the decoder
 * always fills `members`: for v0-2 it is the one member named by
 * member_id, with a null group_instance_id. Conventions: see header.h; the
 * response's nullable strings are null when their .p is NULL. */
#ifndef SM_PROTO_LEAVE_GROUP_H
#define SM_PROTO_LEAVE_GROUP_H

#include "proto/header.h"

/* v4 is the first flexible version; v5 adds a Reason per member (KIP-800),
 * which the broker logs. */
#define SM_LEAVE_GROUP_FLEX 4

typedef struct sm_leave_group_member {
    sm_str member_id;
    sm_str group_instance_id; /* nullable */
    sm_str reason;            /* v5+, nullable; null before */
} sm_leave_group_member;

typedef struct sm_leave_group_req {
    sm_str group_id;
    sm_str member_id; /* v0-2; empty for v3+ */
    int32_t member_count;
    sm_leave_group_member *members; /* v3+ as sent; v0-2 the one member above */
} sm_leave_group_req;

int sm_leave_group_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_leave_group_req *out);

typedef struct sm_leave_group_member_resp {
    sm_str member_id;
    sm_str group_instance_id; /* nullable */
    int16_t error_code;
} sm_leave_group_member_resp;

typedef struct sm_leave_group_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
    int32_t member_count; /* v3+ */
    sm_leave_group_member_resp *members;
} sm_leave_group_resp;

void sm_leave_group_resp_encode(sm_wbuf *w, int16_t version, const sm_leave_group_resp *resp);

#endif
