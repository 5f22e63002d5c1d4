/* describe_client_quotas.h: DescribeClientQuotas (key 48), versions 0-1.
 *
 * A filter of entity components (user, client-id, ip; each matched exactly,
 * as the default, or any specified one) and Strict; v1 is the first
 * flexible version. samsa-broker keeps no client quotas, so a response here
 * carries no entries: an empty list, or null with an error. Conventions:
 * see header.h. */
#ifndef SM_PROTO_DESCRIBE_CLIENT_QUOTAS_H
#define SM_PROTO_DESCRIBE_CLIENT_QUOTAS_H

#include <stdbool.h>

#include "proto/header.h"

#define SM_QUOTA_MATCH_EXACT 0
#define SM_QUOTA_MATCH_DEFAULT 1
#define SM_QUOTA_MATCH_SPECIFIED 2

typedef struct sm_dcq_component {
    sm_str entity_type;
    int8_t match_type;
    sm_str match; /* nullable */
} sm_dcq_component;

typedef struct sm_dcq_req {
    int32_t component_count;
    sm_dcq_component *components;
    bool strict;
} sm_dcq_req;

int sm_dcq_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_dcq_req *out);

typedef struct sm_dcq_resp {
    int32_t throttle_time_ms;
    int16_t error_code;
    sm_str error_message; /* nullable */
    bool entries_null;    /* null Entries (with an error); else an empty list */
} sm_dcq_resp;

void sm_dcq_resp_encode(sm_wbuf *w, int16_t version, const sm_dcq_resp *resp);

#endif
