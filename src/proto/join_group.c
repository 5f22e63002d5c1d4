/* join_group.c: JoinGroup v0-5 (fields per Kafka's JoinGroupRequest.json /
 * JoinGroupResponse.json). */
#include "proto/join_group.h"

#include "proto/codec_int.h"

int sm_join_group_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_join_group_req *out)
{
    int oom = 0;
    out->group_id = sm_codec_rd_str(r);
    out->session_timeout_ms = sm_rd_i32(r);
    /* the JSON: "if RebalanceTimeoutMs is not present, SessionTimeoutMs
     * should be used instead" */
    out->rebalance_timeout_ms = version >= 1 ? sm_rd_i32(r) : out->session_timeout_ms;
    out->member_id = sm_codec_rd_str(r);
    out->group_instance_id = version >= 5 ? sm_rd_str(r) : SM_STR_NULL;
    out->protocol_type = sm_codec_rd_str(r);
    /* protocol: Name 2 + Metadata length 4 */
    out->protocol_count = sm_rd_array(r, 6, false);
    out->protocols = sm_codec_alloc(a, out->protocol_count, sizeof *out->protocols, &oom);
    for (int32_t i = 0; i < out->protocol_count && !r->err && !oom; i++) {
        out->protocols[i].name = sm_codec_rd_str(r);
        out->protocols[i].metadata = sm_codec_rd_bytes(r);
    }
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_join_group_resp_encode(sm_wbuf *w, int16_t version, const sm_join_group_resp *resp)
{
    if (version >= 2)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_wbuf_i16(w, resp->error_code);
    sm_wbuf_i32(w, resp->generation_id);
    sm_codec_put_str(w, resp->protocol_name);
    sm_codec_put_str(w, resp->leader);
    sm_codec_put_str(w, resp->member_id);
    sm_codec_put_count(w, resp->member_count);
    for (int32_t i = 0; i < resp->member_count; i++) {
        const sm_join_group_member *m = &resp->members[i];
        sm_codec_put_str(w, m->member_id);
        if (version >= 5)
            sm_codec_put_nstr(w, m->group_instance_id);
        sm_codec_put_bytes(w, m->metadata);
    }
}
