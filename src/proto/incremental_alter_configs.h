/* incremental_alter_configs.h: IncrementalAlterConfigs (key 44), versions
 * 0-1.
 *
 * Each config names an operation (SET 0, DELETE 1, APPEND 2, SUBTRACT 3)
 * applied to the resource's current configs; what a request leaves out is
 * left alone (unlike AlterConfigs, which replaces the whole set). v1 is the
 * first flexible version, with the same fields. Resource types: see
 * describe_configs.h. Conventions: see header.h. */
#ifndef SM_PROTO_INCREMENTAL_ALTER_CONFIGS_H
#define SM_PROTO_INCREMENTAL_ALTER_CONFIGS_H

#include <stdbool.h>

#include "proto/header.h"

#define SM_CONFIG_OP_SET 0
#define SM_CONFIG_OP_DELETE 1
#define SM_CONFIG_OP_APPEND 2
#define SM_CONFIG_OP_SUBTRACT 3

typedef struct sm_iac_config {
    sm_str name;
    int8_t config_operation;
    sm_str value; /* nullable */
} sm_iac_config;

typedef struct sm_iac_resource {
    int8_t resource_type;
    sm_str resource_name;
    int32_t config_count;
    sm_iac_config *configs;
} sm_iac_resource;

typedef struct sm_iac_req {
    int32_t resource_count;
    sm_iac_resource *resources;
    bool validate_only;
} sm_iac_req;

int sm_iac_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_iac_req *out);

typedef struct sm_iac_resource_resp {
    int16_t error_code;
    sm_str error_message; /* nullable */
    int8_t resource_type;
    sm_str resource_name;
} sm_iac_resource_resp;

typedef struct sm_iac_resp {
    int32_t throttle_time_ms;
    int32_t response_count;
    sm_iac_resource_resp *responses;
} sm_iac_resp;

void sm_iac_resp_encode(sm_wbuf *w, int16_t version, const sm_iac_resp *resp);

#endif
