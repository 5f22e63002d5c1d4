/* alter_configs.h: AlterConfigs (key 33), versions 0-1.
 *
 * v0 and v1 have the same fields. This is the legacy, non-incremental API:
 * the configs given REPLACE every dynamic config of the resource (a config
 * left out goes back to its default), and a null Value means "delete".
 * ThrottleTimeMs is the response's first field. Resource types: see
 * describe_configs.h. Conventions: see header.h; the response's nullable
 * strings are null when their .p is NULL, so a zeroed struct encodes
 * sensibly. */
#ifndef SM_PROTO_ALTER_CONFIGS_H
#define SM_PROTO_ALTER_CONFIGS_H

#include <stdbool.h>

#include "proto/header.h"

#define SM_ALTER_CONFIGS_FLEX 2

typedef struct sm_alter_configs_config {
    sm_str name;
    sm_str value; /* nullable */
} sm_alter_configs_config;

typedef struct sm_alter_configs_resource {
    int8_t resource_type;
    sm_str resource_name;
    int32_t config_count;
    sm_alter_configs_config *configs;
} sm_alter_configs_resource;

typedef struct sm_alter_configs_req {
    int32_t resource_count;
    sm_alter_configs_resource *resources;
    bool validate_only;
} sm_alter_configs_req;

int sm_alter_configs_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_alter_configs_req *out);

typedef struct sm_alter_configs_resource_resp {
    int16_t error_code;
    sm_str error_message; /* nullable */
    int8_t resource_type;
    sm_str resource_name;
} sm_alter_configs_resource_resp;

typedef struct sm_alter_configs_resp {
    int32_t throttle_time_ms;
    int32_t response_count;
    sm_alter_configs_resource_resp *responses;
} sm_alter_configs_resp;

void sm_alter_configs_resp_encode(sm_wbuf *w, int16_t version, const sm_alter_configs_resp *resp);

#endif
