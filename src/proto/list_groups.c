/* list_groups.c: ListGroups v0-5 (fields per Kafka's ListGroupsRequest.json
 * / ListGroupsResponse.json; flexible from v3). */
#include "proto/list_groups.h"

#include "proto/codec_int.h"

#define LG_FIRST_FLEX 3

static int32_t rd_strings(sm_rd *r, sm_arena *a, sm_str **out, int *oom)
{
    int32_t n = sm_codec_rd_array_fx(r, 1, false, true);
    sm_str *v = sm_codec_alloc(a, n, sizeof *v, oom);
    *out = v;
    if (!v)
        return 0;
    for (int32_t i = 0; i < n && !r->err; i++)
        v[i] = sm_codec_rd_str_fx(r, true);
    return n;
}

int sm_list_groups_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_list_groups_req *out)
{
    bool flex = version >= LG_FIRST_FLEX;
    int oom = 0;
    out->states_filter_count = out->types_filter_count = 0;
    out->states_filter = out->types_filter = NULL;
    if (version >= 4)
        out->states_filter_count = rd_strings(r, a, &out->states_filter, &oom);
    if (version >= 5)
        out->types_filter_count = rd_strings(r, a, &out->types_filter, &oom);
    sm_codec_rd_tags(r, flex);
    /* librdkafka (2.0.2, Debian 12's) ends its ListGroups v3+ with two
     * empty tag sections (rd_kafka_ListGroupsRequest writes one and
     * rd_kafka_buf_finalize another); Kafka's parser never looks past the
     * body, so it answers, and so must we: one extra empty section is
     * allowed here, nothing else */
    if (flex && !r->err && sm_rd_left(r) == 1 && r->p[0] == 0)
        sm_rd_take(r, 1);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r); /* before v3 any byte at all is trailing */
}

void sm_list_groups_resp_encode(sm_wbuf *w, int16_t version, const sm_list_groups_resp *resp)
{
    bool flex = version >= LG_FIRST_FLEX;
    if (version >= 1)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_wbuf_i16(w, resp->error_code);
    sm_codec_put_count_fx(w, resp->group_count, flex);
    for (int32_t i = 0; i < resp->group_count; i++) {
        const sm_list_groups_group *g = &resp->groups[i];
        sm_codec_put_str_fx(w, g->group_id, flex);
        sm_codec_put_str_fx(w, g->protocol_type, flex);
        if (version >= 4)
            sm_codec_put_str_fx(w, g->group_state, flex);
        if (version >= 5)
            sm_codec_put_str_fx(w, g->group_type, flex);
        sm_codec_put_tags(w, flex);
    }
    sm_codec_put_tags(w, flex);
}
