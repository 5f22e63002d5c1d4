/* join_group.c: JoinGroup v0-9 (fields per Kafka's JoinGroupRequest.json /
 * JoinGroupResponse.json). */
#include "proto/join_group.h"

#include "proto/codec_int.h"

int sm_join_group_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_join_group_req *out)
{
    int oom = 0;
    bool fx = version >= SM_JOIN_GROUP_FLEX;
    out->group_id = sm_codec_rd_str_fx(r, fx);
    out->session_timeout_ms = sm_rd_i32(r);
    /* the JSON: "if RebalanceTimeoutMs is not present, SessionTimeoutMs
     * should be used instead" */
    out->rebalance_timeout_ms = version >= 1 ? sm_rd_i32(r) : out->session_timeout_ms;
    out->member_id = sm_codec_rd_str_fx(r, fx);
    out->group_instance_id = version >= 5 ? sm_codec_rd_nstr_fx(r, fx) : SM_STR_NULL;
    out->protocol_type = sm_codec_rd_str_fx(r, fx);
    /* protocol: Name 2 + Metadata length 4 (flexible: 1 + 1 + tags 1) */
    out->protocol_count = sm_codec_rd_array_fx(r, fx ? 3 : 6, false, fx);
    out->protocols = sm_codec_alloc(a, out->protocol_count, sizeof *out->protocols, &oom);
    for (int32_t i = 0; i < out->protocol_count && !r->err && !oom; i++) {
        out->protocols[i].name = sm_codec_rd_str_fx(r, fx);
        out->protocols[i].metadata = sm_codec_rd_bytes_fx(r, fx);
        sm_codec_rd_tags(r, fx);
    }
    out->reason = version >= 8 ? sm_codec_rd_nstr_fx(r, fx) : SM_STR_NULL;
    sm_codec_rd_tags(r, fx);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_join_group_resp_encode(sm_wbuf *w, int16_t version, const sm_join_group_resp *resp)
{
    bool fx = version >= SM_JOIN_GROUP_FLEX;
    if (version >= 2)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_wbuf_i16(w, resp->error_code);
    sm_wbuf_i32(w, resp->generation_id);
    if (version >= 7) {
        sm_codec_put_nstr_fx(w, resp->protocol_type, fx);
        sm_codec_put_nstr_fx(w, resp->protocol_name, fx);
    } else {
        sm_codec_put_str_fx(w, resp->protocol_name, fx);
    }
    sm_codec_put_str_fx(w, resp->leader, fx);
    if (version >= 9)
        sm_wbuf_bool(w, resp->skip_assignment);
    sm_codec_put_str_fx(w, resp->member_id, fx);
    sm_codec_put_count_fx(w, resp->member_count, fx);
    for (int32_t i = 0; i < resp->member_count; i++) {
        const sm_join_group_member *m = &resp->members[i];
        sm_codec_put_str_fx(w, m->member_id, fx);
        if (version >= 5)
            sm_codec_put_nstr_fx(w, m->group_instance_id, fx);
        sm_codec_put_bytes_fx(w, m->metadata, fx);
        sm_codec_put_tags(w, fx);
    }
    sm_codec_put_tags(w, fx);
}
