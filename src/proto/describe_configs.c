/* describe_configs.c: DescribeConfigs v0-2 (fields per Kafka's
 * DescribeConfigsRequest.json / DescribeConfigsResponse.json). */
#include "proto/describe_configs.h"

#include "proto/codec_int.h"

int sm_describe_configs_req_decode(sm_rd *r, int16_t version, sm_arena *a,
                                   sm_describe_configs_req *out)
{
    int oom = 0;
    /* resource: ResourceType 1 + ResourceName 2 + ConfigurationKeys count 4 */
    out->resource_count = sm_rd_array(r, 7, false);
    out->resources = sm_codec_alloc(a, out->resource_count, sizeof *out->resources, &oom);
    for (int32_t i = 0; i < out->resource_count && !r->err && !oom; i++) {
        sm_describe_configs_resource *res = &out->resources[i];
        res->resource_type = sm_rd_i8(r);
        res->resource_name = sm_codec_rd_str(r);
        res->configuration_key_count = sm_rd_array(r, 2, true);
        res->configuration_keys =
            sm_codec_alloc(a, res->configuration_key_count, sizeof *res->configuration_keys, &oom);
        for (int32_t j = 0; j < res->configuration_key_count && !r->err && !oom; j++)
            res->configuration_keys[j] = sm_codec_rd_str(r);
    }
    out->include_synonyms = version >= 1 ? sm_rd_bool(r) : false;
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

static void put_config(sm_wbuf *w, int16_t version, const sm_describe_configs_config *c)
{
    sm_codec_put_str(w, c->name);
    sm_codec_put_nstr(w, c->value);
    sm_wbuf_bool(w, c->read_only);
    if (version == 0)
        sm_wbuf_bool(w, c->config_source == SM_CONFIG_SOURCE_DEFAULT_CONFIG); /* IsDefault */
    else
        sm_wbuf_i8(w, c->config_source);
    sm_wbuf_bool(w, c->is_sensitive);
    if (version >= 1) {
        sm_codec_put_count(w, c->synonym_count);
        for (int32_t k = 0; k < c->synonym_count; k++) {
            const sm_describe_configs_synonym *s = &c->synonyms[k];
            sm_codec_put_str(w, s->name);
            /* Value: "versions": "1+", "nullableVersions": "0+" in the
             * JSON, i.e. nullable wherever it is present */
            sm_codec_put_nstr(w, s->value);
            sm_wbuf_i8(w, s->source);
        }
    }
}

void sm_describe_configs_resp_encode(sm_wbuf *w, int16_t version,
                                     const sm_describe_configs_resp *resp)
{
    sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_count(w, resp->result_count);
    for (int32_t i = 0; i < resp->result_count; i++) {
        const sm_describe_configs_result *res = &resp->results[i];
        sm_wbuf_i16(w, res->error_code);
        sm_codec_put_nstr(w, res->error_message);
        sm_wbuf_i8(w, res->resource_type);
        sm_codec_put_str(w, res->resource_name);
        sm_codec_put_count(w, res->config_count);
        for (int32_t j = 0; j < res->config_count; j++)
            put_config(w, version, &res->configs[j]);
    }
}
