/* list_groups.h: ListGroups (key 16), versions 0-5.
 *
 * The request has no fields in v0-3 (the body is empty, but for v3's
 * tagged fields). v1 adds ThrottleTimeMs (first field of the response); v2
 * is the same as v1; v3 is the first flexible version; v4 adds
 * StatesFilter to the request and GroupState to each group (KIP-518); v5
 * adds TypesFilter and GroupType (KIP-848). Conventions: see header.h. */
#ifndef SM_PROTO_LIST_GROUPS_H
#define SM_PROTO_LIST_GROUPS_H

#include "proto/header.h"

typedef struct sm_list_groups_req {
    int32_t states_filter_count; /* v4+; 0 (no filter) before */
    sm_str *states_filter;
    int32_t types_filter_count; /* v5+; 0 (no filter) before */
    sm_str *types_filter;
} sm_list_groups_req;

int sm_list_groups_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_list_groups_req *out);

typedef struct sm_list_groups_group {
    sm_str group_id;
    sm_str protocol_type; /* "consumer"; "" for a group that only stores offsets */
    sm_str group_state;   /* v4+: "Stable", "Empty", ... */
    sm_str group_type;    /* v5+: "classic" */
} sm_list_groups_group;

typedef struct sm_list_groups_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
    int32_t group_count;
    sm_list_groups_group *groups;
} sm_list_groups_resp;

void sm_list_groups_resp_encode(sm_wbuf *w, int16_t version, const sm_list_groups_resp *resp);

#endif
