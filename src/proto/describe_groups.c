/* describe_groups.c: DescribeGroups v0-4 (fields per Kafka's
 * DescribeGroupsRequest.json / DescribeGroupsResponse.json). */
#include "proto/describe_groups.h"

#include "proto/codec_int.h"

int sm_describe_groups_req_decode(sm_rd *r, int16_t version, sm_arena *a,
                                  sm_describe_groups_req *out)
{
    int oom = 0;
    out->group_count = sm_rd_array(r, 2, false);
    out->groups = sm_codec_alloc(a, out->group_count, sizeof *out->groups, &oom);
    for (int32_t i = 0; i < out->group_count && !r->err && !oom; i++)
        out->groups[i] = sm_codec_rd_str(r);
    out->include_authorized_operations = version >= 3 ? sm_rd_bool(r) : false;
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_describe_groups_resp_encode(sm_wbuf *w, int16_t version,
                                    const sm_describe_groups_resp *resp)
{
    if (version >= 1)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_count(w, resp->group_count);
    for (int32_t i = 0; i < resp->group_count; i++) {
        const sm_describe_groups_group *g = &resp->groups[i];
        sm_wbuf_i16(w, g->error_code);
        sm_codec_put_str(w, g->group_id);
        sm_codec_put_str(w, g->group_state);
        sm_codec_put_str(w, g->protocol_type);
        sm_codec_put_str(w, g->protocol_data);
        sm_codec_put_count(w, g->member_count);
        for (int32_t j = 0; j < g->member_count; j++) {
            const sm_describe_groups_member *m = &g->members[j];
            sm_codec_put_str(w, m->member_id);
            if (version >= 4)
                sm_codec_put_nstr(w, m->group_instance_id);
            sm_codec_put_str(w, m->client_id);
            sm_codec_put_str(w, m->client_host);
            sm_codec_put_bytes(w, m->member_metadata);
            sm_codec_put_bytes(w, m->member_assignment);
        }
        if (version >= 3)
            sm_wbuf_i32(w, g->authorized_operations);
    }
}
