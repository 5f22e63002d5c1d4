/* sync_group.c: SyncGroup v0-3 (fields per Kafka's SyncGroupRequest.json /
 * SyncGroupResponse.json). */
#include "proto/sync_group.h"

#include "proto/codec_int.h"

int sm_sync_group_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_sync_group_req *out)
{
    int oom = 0;
    out->group_id = sm_codec_rd_str(r);
    out->generation_id = sm_rd_i32(r);
    out->member_id = sm_codec_rd_str(r);
    out->group_instance_id = version >= 3 ? sm_rd_str(r) : SM_STR_NULL;
    /* assignment: MemberId 2 + Assignment length 4 */
    out->assignment_count = sm_rd_array(r, 6, false);
    out->assignments = sm_codec_alloc(a, out->assignment_count, sizeof *out->assignments, &oom);
    for (int32_t i = 0; i < out->assignment_count && !r->err && !oom; i++) {
        out->assignments[i].member_id = sm_codec_rd_str(r);
        out->assignments[i].assignment = sm_codec_rd_bytes(r);
    }
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_sync_group_resp_encode(sm_wbuf *w, int16_t version, const sm_sync_group_resp *resp)
{
    if (version >= 1)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_wbuf_i16(w, resp->error_code);
    sm_codec_put_bytes(w, resp->assignment);
}
