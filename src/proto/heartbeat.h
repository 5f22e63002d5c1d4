/* heartbeat.h: Heartbeat (key 12), versions 0-4.
 *
 * v1 adds ThrottleTimeMs (first field of the response); v2 is the same as
 * v1; v3 adds GroupInstanceId to the request; v4 is the first flexible
 * version. REBALANCE_IN_PROGRESS (27)
 * tells a member to rejoin. Conventions: see header.h. */
#ifndef SM_PROTO_HEARTBEAT_H
#define SM_PROTO_HEARTBEAT_H

#include "proto/header.h"

#define SM_HEARTBEAT_FLEX 4 /* first flexible version */

typedef struct sm_heartbeat_req {
    sm_str group_id;
    int32_t generation_id;
    sm_str member_id;
    sm_str group_instance_id; /* v3+, nullable; null before */
} sm_heartbeat_req;

int sm_heartbeat_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_heartbeat_req *out);

typedef struct sm_heartbeat_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
} sm_heartbeat_resp;

void sm_heartbeat_resp_encode(sm_wbuf *w, int16_t version, const sm_heartbeat_resp *resp);

#endif
