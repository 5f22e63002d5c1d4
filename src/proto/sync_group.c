/* sync_group.c: SyncGroup v0-5 (fields per Kafka's SyncGroupRequest.json /
 * SyncGroupResponse.json). */
#include "proto/sync_group.h"

#include "proto/codec_int.h"

int sm_sync_group_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_sync_group_req *out)
{
    int oom = 0;
    bool fx = version >= SM_SYNC_GROUP_FLEX;
    out->group_id = sm_codec_rd_str_fx(r, fx);
    out->generation_id = sm_rd_i32(r);
    out->member_id = sm_codec_rd_str_fx(r, fx);
    out->group_instance_id = version >= 3 ? sm_codec_rd_nstr_fx(r, fx) : SM_STR_NULL;
    out->protocol_type = version >= 5 ? sm_codec_rd_nstr_fx(r, fx) : SM_STR_NULL;
    out->protocol_name = version >= 5 ? sm_codec_rd_nstr_fx(r, fx) : SM_STR_NULL;
    /* assignment: MemberId 2 + Assignment length 4 (flexible: 1 + 1 + tags 1) */
    out->assignment_count = sm_codec_rd_array_fx(r, fx ? 3 : 6, false, fx);
    out->assignments = sm_codec_alloc(a, out->assignment_count, sizeof *out->assignments, &oom);
    for (int32_t i = 0; i < out->assignment_count && !r->err && !oom; i++) {
        out->assignments[i].member_id = sm_codec_rd_str_fx(r, fx);
        out->assignments[i].assignment = sm_codec_rd_bytes_fx(r, fx);
        sm_codec_rd_tags(r, fx);
    }
    sm_codec_rd_tags(r, fx);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_sync_group_resp_encode(sm_wbuf *w, int16_t version, const sm_sync_group_resp *resp)
{
    bool fx = version >= SM_SYNC_GROUP_FLEX;
    if (version >= 1)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_wbuf_i16(w, resp->error_code);
    if (version >= 5) {
        sm_codec_put_nstr_fx(w, resp->protocol_type, fx);
        sm_codec_put_nstr_fx(w, resp->protocol_name, fx);
    }
    sm_codec_put_bytes_fx(w, resp->assignment, fx);
    sm_codec_put_tags(w, fx);
}
