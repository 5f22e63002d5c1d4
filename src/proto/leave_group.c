/* leave_group.c: LeaveGroup v0-3 (fields per Kafka's LeaveGroupRequest.json
 * / LeaveGroupResponse.json). */
#include "proto/leave_group.h"

#include "proto/codec_int.h"

int sm_leave_group_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_leave_group_req *out)
{
    int oom = 0;
    out->group_id = sm_codec_rd_str(r);
    if (version <= 2) {
        out->member_id = sm_codec_rd_str(r);
        if (r->err)
            return SM_ECORRUPT;
        out->member_count = 1;
        out->members = sm_codec_alloc(a, 1, sizeof *out->members, &oom);
        if (oom)
            return SM_ENOMEM;
        out->members[0] = (sm_leave_group_member){out->member_id, SM_STR_NULL};
        return sm_codec_finish(r);
    }
    out->member_id = (sm_str){"", 0};
    /* member: MemberId 2 + GroupInstanceId 2 */
    out->member_count = sm_rd_array(r, 4, false);
    out->members = sm_codec_alloc(a, out->member_count, sizeof *out->members, &oom);
    for (int32_t i = 0; i < out->member_count && !r->err && !oom; i++) {
        out->members[i].member_id = sm_codec_rd_str(r);
        out->members[i].group_instance_id = sm_rd_str(r);
    }
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_leave_group_resp_encode(sm_wbuf *w, int16_t version, const sm_leave_group_resp *resp)
{
    if (version >= 1)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_wbuf_i16(w, resp->error_code);
    if (version >= 3) {
        sm_codec_put_count(w, resp->member_count);
        for (int32_t i = 0; i < resp->member_count; i++) {
            const sm_leave_group_member_resp *m = &resp->members[i];
            sm_codec_put_str(w, m->member_id);
            sm_codec_put_nstr(w, m->group_instance_id);
            sm_wbuf_i16(w, m->error_code);
        }
    }
}
