/* delete_groups.h: DeleteGroups (key 42), versions 0-1.
 *
 * v0 and v1 have the same fields; ThrottleTimeMs is the response's first
 * field in both. A group with members is answered NON_EMPTY_GROUP (68), an
 * unknown one GROUP_ID_NOT_FOUND (69). Conventions: see header.h. */
#ifndef SM_PROTO_DELETE_GROUPS_H
#define SM_PROTO_DELETE_GROUPS_H

#include "proto/header.h"

#define SM_DELETE_GROUPS_FLEX 2 /* first flexible version */

typedef struct sm_delete_groups_req {
    int32_t groups_name_count;
    sm_str *groups_names; /* Kafka's field is "GroupsNames" */
} sm_delete_groups_req;

int sm_delete_groups_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_delete_groups_req *out);

typedef struct sm_delete_groups_result {
    sm_str group_id;
    int16_t error_code;
} sm_delete_groups_result;

typedef struct sm_delete_groups_resp {
    int32_t throttle_time_ms;
    int32_t result_count;
    sm_delete_groups_result *results;
} sm_delete_groups_resp;

void sm_delete_groups_resp_encode(sm_wbuf *w, int16_t version, const sm_delete_groups_resp *resp);

#endif
