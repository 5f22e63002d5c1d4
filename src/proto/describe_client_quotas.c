/* describe_client_quotas.c: DescribeClientQuotas v0-1 (fields per Kafka's
 * DescribeClientQuotasRequest.json / ...Response.json; flexible from v1). */
#include "proto/describe_client_quotas.h"

#include "proto/codec_int.h"

#define DCQ_FIRST_FLEX 1

int sm_dcq_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_dcq_req *out)
{
    bool fx = version >= DCQ_FIRST_FLEX;
    int oom = 0;
    /* component: EntityType 2 + MatchType 1 + Match 2 (compact: 1 + 1 + 1 + tags 1) */
    out->component_count = sm_codec_rd_array_fx(r, fx ? 4 : 5, false, fx);
    out->components = sm_codec_alloc(a, out->component_count, sizeof *out->components, &oom);
    for (int32_t i = 0; i < out->component_count && !r->err && !oom; i++) {
        sm_dcq_component *c = &out->components[i];
        c->entity_type = sm_codec_rd_str_fx(r, fx);
        c->match_type = sm_rd_i8(r);
        c->match = sm_codec_rd_nstr_fx(r, fx);
        sm_codec_rd_tags(r, fx);
    }
    out->strict = sm_rd_bool(r);
    sm_codec_rd_tags(r, fx);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_dcq_resp_encode(sm_wbuf *w, int16_t version, const sm_dcq_resp *resp)
{
    bool fx = version >= DCQ_FIRST_FLEX;
    sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_wbuf_i16(w, resp->error_code);
    sm_codec_put_nstr_fx(w, resp->error_message, fx);
    sm_codec_put_ncount_fx(w, resp->entries_null ? -1 : 0, fx); /* no quotas: no entries */
    sm_codec_put_tags(w, fx);
}
