/* delete_groups.c: DeleteGroups v0-2 (fields per Kafka's
 * DeleteGroupsRequest.json / DeleteGroupsResponse.json). */
#include "proto/delete_groups.h"

#include "proto/codec_int.h"

int sm_delete_groups_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_delete_groups_req *out)
{
    bool fx = version >= SM_DELETE_GROUPS_FLEX; /* v0 and v1 are the same */
    int oom = 0;
    out->groups_name_count = sm_codec_rd_array_fx(r, fx ? 1 : 2, false, fx);
    out->groups_names = sm_codec_alloc(a, out->groups_name_count, sizeof *out->groups_names, &oom);
    for (int32_t i = 0; i < out->groups_name_count && !r->err && !oom; i++)
        out->groups_names[i] = sm_codec_rd_str_fx(r, fx);
    sm_codec_rd_tags(r, fx);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_delete_groups_resp_encode(sm_wbuf *w, int16_t version, const sm_delete_groups_resp *resp)
{
    bool fx = version >= SM_DELETE_GROUPS_FLEX;
    sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_count_fx(w, resp->result_count, fx);
    for (int32_t i = 0; i < resp->result_count; i++) {
        sm_codec_put_str_fx(w, resp->results[i].group_id, fx);
        sm_wbuf_i16(w, resp->results[i].error_code);
        sm_codec_put_tags(w, fx);
    }
    sm_codec_put_tags(w, fx);
}
