/* alter_configs.c: AlterConfigs v0-2 (fields per Kafka's
 * AlterConfigsRequest.json / AlterConfigsResponse.json). */
#include "proto/alter_configs.h"

#include "proto/codec_int.h"

int sm_alter_configs_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_alter_configs_req *out)
{
    bool fx = version >= SM_ALTER_CONFIGS_FLEX; /* v0 and v1 are the same */
    int oom = 0;
    /* resource: ResourceType 1 + ResourceName 2 + Configs count 4 (flexible: 1 + 1 + 1 + tags 1) */
    out->resource_count = sm_codec_rd_array_fx(r, fx ? 4 : 7, false, fx);
    out->resources = sm_codec_alloc(a, out->resource_count, sizeof *out->resources, &oom);
    for (int32_t i = 0; i < out->resource_count && !r->err && !oom; i++) {
        sm_alter_configs_resource *res = &out->resources[i];
        res->resource_type = sm_rd_i8(r);
        res->resource_name = sm_codec_rd_str_fx(r, fx);
        /* config: Name 2 + Value 2 (flexible: 1 + 1 + tags 1) */
        res->config_count = sm_codec_rd_array_fx(r, fx ? 3 : 4, false, fx);
        res->configs = sm_codec_alloc(a, res->config_count, sizeof *res->configs, &oom);
        for (int32_t j = 0; j < res->config_count && !r->err && !oom; j++) {
            res->configs[j].name = sm_codec_rd_str_fx(r, fx);
            res->configs[j].value = sm_codec_rd_nstr_fx(r, fx);
            sm_codec_rd_tags(r, fx);
        }
        sm_codec_rd_tags(r, fx);
    }
    out->validate_only = sm_rd_bool(r);
    sm_codec_rd_tags(r, fx);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_alter_configs_resp_encode(sm_wbuf *w, int16_t version, const sm_alter_configs_resp *resp)
{
    bool fx = version >= SM_ALTER_CONFIGS_FLEX;
    sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_count_fx(w, resp->response_count, fx);
    for (int32_t i = 0; i < resp->response_count; i++) {
        const sm_alter_configs_resource_resp *res = &resp->responses[i];
        sm_wbuf_i16(w, res->error_code);
        sm_codec_put_nstr_fx(w, res->error_message, fx);
        sm_wbuf_i8(w, res->resource_type);
        sm_codec_put_str_fx(w, res->resource_name, fx);
        sm_codec_put_tags(w, fx);
    }
    sm_codec_put_tags(w, fx);
}
