/* incremental_alter_configs.c: IncrementalAlterConfigs v0-1 (fields per
 * Kafka's IncrementalAlterConfigsRequest.json / ...Response.json; flexible
 * from v1). */
#include "proto/incremental_alter_configs.h"

#include "proto/codec_int.h"

#define IAC_FIRST_FLEX 1

int sm_iac_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_iac_req *out)
{
    bool flex = version >= IAC_FIRST_FLEX;
    int oom = 0;
    /* resource: ResourceType 1 + ResourceName 2 + Configs count 4 (compact: 1 + 1 + 1 + tags 1) */
    out->resource_count = sm_codec_rd_array_fx(r, flex ? 4 : 7, false, flex);
    out->resources = sm_codec_alloc(a, out->resource_count, sizeof *out->resources, &oom);
    for (int32_t i = 0; i < out->resource_count && !r->err && !oom; i++) {
        sm_iac_resource *res = &out->resources[i];
        res->resource_type = sm_rd_i8(r);
        res->resource_name = sm_codec_rd_str_fx(r, flex);
        /* config: Name 2 + ConfigOperation 1 + Value 2 (compact: 1 + 1 + 1 + tags 1) */
        res->config_count = sm_codec_rd_array_fx(r, flex ? 4 : 5, false, flex);
        res->configs = sm_codec_alloc(a, res->config_count, sizeof *res->configs, &oom);
        for (int32_t j = 0; j < res->config_count && !r->err && !oom; j++) {
            sm_iac_config *c = &res->configs[j];
            c->name = sm_codec_rd_str_fx(r, flex);
            c->config_operation = sm_rd_i8(r);
            c->value = sm_codec_rd_nstr_fx(r, flex);
            sm_codec_rd_tags(r, flex);
        }
        sm_codec_rd_tags(r, flex);
    }
    out->validate_only = sm_rd_bool(r);
    sm_codec_rd_tags(r, flex);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_iac_resp_encode(sm_wbuf *w, int16_t version, const sm_iac_resp *resp)
{
    bool flex = version >= IAC_FIRST_FLEX;
    sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_count_fx(w, resp->response_count, flex);
    for (int32_t i = 0; i < resp->response_count; i++) {
        const sm_iac_resource_resp *res = &resp->responses[i];
        sm_wbuf_i16(w, res->error_code);
        sm_codec_put_nstr_fx(w, res->error_message, flex);
        sm_wbuf_i8(w, res->resource_type);
        sm_codec_put_str_fx(w, res->resource_name, flex);
        sm_codec_put_tags(w, flex);
    }
    sm_codec_put_tags(w, flex);
}
