/* list_groups.h: ListGroups (key 16), versions 0-2.
 *
 * The request has no fields in v0-2 (the body is empty). v1 adds
 * ThrottleTimeMs (first field of the response); v2 is the same as v1.
 * Conventions: see header.h. */
#ifndef SM_PROTO_LIST_GROUPS_H
#define SM_PROTO_LIST_GROUPS_H

#include "proto/header.h"

typedef struct sm_list_groups_req {
    int32_t unused; /* no fields before v4 (StatesFilter) */
} sm_list_groups_req;

int sm_list_groups_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_list_groups_req *out);

typedef struct sm_list_groups_group {
    sm_str group_id;
    sm_str protocol_type; /* "consumer"; "" for a group that only stores offsets */
} sm_list_groups_group;

typedef struct sm_list_groups_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
    int32_t group_count;
    sm_list_groups_group *groups;
} sm_list_groups_resp;

void sm_list_groups_resp_encode(sm_wbuf *w, int16_t version, const sm_list_groups_resp *resp);

#endif
