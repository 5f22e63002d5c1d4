/* leave_group.c: LeaveGroup v0-5 (fields per Kafka's LeaveGroupRequest.json
 * / LeaveGroupResponse.json). */
#include "proto/leave_group.h"

#include "proto/codec_int.h"

int sm_leave_group_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_leave_group_req *out)
{
    int oom = 0;
    bool fx = version >= SM_LEAVE_GROUP_FLEX;
    out->group_id = sm_codec_rd_str_fx(r, fx);
    if (version <= 2) {
        out->member_id = sm_codec_rd_str(r);
        if (r->err)
            return SM_ECORRUPT;
        out->member_count = 1;
        out->members = sm_codec_alloc(a, 1, sizeof *out->members, &oom);
        if (oom)
            return SM_ENOMEM;
        out->members[0] = (sm_leave_group_member){out->member_id, SM_STR_NULL, SM_STR_NULL};
        return sm_codec_finish(r);
    }
    out->member_id = (sm_str){"", 0};
    /* member: MemberId 2 + GroupInstanceId 2 (flexible: 1 + 1 + tags 1) */
    out->member_count = sm_codec_rd_array_fx(r, fx ? 3 : 4, false, fx);
    out->members = sm_codec_alloc(a, out->member_count, sizeof *out->members, &oom);
    for (int32_t i = 0; i < out->member_count && !r->err && !oom; i++) {
        out->members[i].member_id = sm_codec_rd_str_fx(r, fx);
        out->members[i].group_instance_id = sm_codec_rd_nstr_fx(r, fx);
        out->members[i].reason = version >= 5 ? sm_codec_rd_nstr_fx(r, fx) : SM_STR_NULL;
        sm_codec_rd_tags(r, fx);
    }
    sm_codec_rd_tags(r, fx);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_leave_group_resp_encode(sm_wbuf *w, int16_t version, const sm_leave_group_resp *resp)
{
    bool fx = version >= SM_LEAVE_GROUP_FLEX;
    if (version >= 1)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_wbuf_i16(w, resp->error_code);
    if (version >= 3) {
        sm_codec_put_count_fx(w, resp->member_count, fx);
        for (int32_t i = 0; i < resp->member_count; i++) {
            const sm_leave_group_member_resp *m = &resp->members[i];
            sm_codec_put_str_fx(w, m->member_id, fx);
            sm_codec_put_nstr_fx(w, m->group_instance_id, fx);
            sm_wbuf_i16(w, m->error_code);
            sm_codec_put_tags(w, fx);
        }
    }
    sm_codec_put_tags(w, fx);
}
