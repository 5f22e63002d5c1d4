/* describe_groups.c: DescribeGroups v0-5 (fields per Kafka's
 * DescribeGroupsRequest.json / DescribeGroupsResponse.json). */
#include "proto/describe_groups.h"

#include "proto/codec_int.h"

int sm_describe_groups_req_decode(sm_rd *r, int16_t version, sm_arena *a,
                                  sm_describe_groups_req *out)
{
    int oom = 0;
    bool fx = version >= SM_DESCRIBE_GROUPS_FLEX;
    out->group_count = sm_codec_rd_array_fx(r, fx ? 1 : 2, false, fx);
    out->groups = sm_codec_alloc(a, out->group_count, sizeof *out->groups, &oom);
    for (int32_t i = 0; i < out->group_count && !r->err && !oom; i++)
        out->groups[i] = sm_codec_rd_str_fx(r, fx);
    out->include_authorized_operations = version >= 3 ? sm_rd_bool(r) : false;
    sm_codec_rd_tags(r, fx);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_describe_groups_resp_encode(sm_wbuf *w, int16_t version,
                                    const sm_describe_groups_resp *resp)
{
    bool fx = version >= SM_DESCRIBE_GROUPS_FLEX;
    if (version >= 1)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_count_fx(w, resp->group_count, fx);
    for (int32_t i = 0; i < resp->group_count; i++) {
        const sm_describe_groups_group *g = &resp->groups[i];
        sm_wbuf_i16(w, g->error_code);
        if (version >= SM_DESCRIBE_GROUPS_NOT_FOUND)
            sm_codec_put_nstr_fx(w, g->error_message, fx);
        sm_codec_put_str_fx(w, g->group_id, fx);
        sm_codec_put_str_fx(w, g->group_state, fx);
        sm_codec_put_str_fx(w, g->protocol_type, fx);
        sm_codec_put_str_fx(w, g->protocol_data, fx);
        sm_codec_put_count_fx(w, g->member_count, fx);
        for (int32_t j = 0; j < g->member_count; j++) {
            const sm_describe_groups_member *m = &g->members[j];
            sm_codec_put_str_fx(w, m->member_id, fx);
            if (version >= 4)
                sm_codec_put_nstr_fx(w, m->group_instance_id, fx);
            sm_codec_put_str_fx(w, m->client_id, fx);
            sm_codec_put_str_fx(w, m->client_host, fx);
            sm_codec_put_bytes_fx(w, m->member_metadata, fx);
            sm_codec_put_bytes_fx(w, m->member_assignment, fx);
            sm_codec_put_tags(w, fx);
        }
        if (version >= 3)
            sm_wbuf_i32(w, g->authorized_operations);
        sm_codec_put_tags(w, fx);
    }
    sm_codec_put_tags(w, fx);
}
