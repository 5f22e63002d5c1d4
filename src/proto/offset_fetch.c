/* offset_fetch.c: OffsetFetch v0-7 (fields per Kafka's
 * OffsetFetchRequest.json / OffsetFetchResponse.json). */
#include "proto/offset_fetch.h"

#include "proto/codec_int.h"

int sm_offset_fetch_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_offset_fetch_req *out)
{
    int oom = 0;
    bool fx = version >= SM_OFFSET_FETCH_FLEX;
    out->group_id = sm_codec_rd_str_fx(r, fx);
    /* Topics: "nullableVersions": "2-7" */
    out->topic_count = sm_codec_rd_array_fx(r, fx ? 3 : 6, version >= 2, fx);
    out->topics = sm_codec_alloc(a, out->topic_count, sizeof *out->topics, &oom);
    for (int32_t i = 0; i < out->topic_count && !r->err && !oom; i++) {
        sm_offset_fetch_topic *t = &out->topics[i];
        t->name = sm_codec_rd_str_fx(r, fx);
        t->partition_index_count = sm_codec_rd_i32_array_fx(r, a, &t->partition_indexes, &oom, fx);
        sm_codec_rd_tags(r, fx);
    }
    out->require_stable = version >= 7 ? sm_rd_bool(r) : false;
    sm_codec_rd_tags(r, fx);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_offset_fetch_resp_encode(sm_wbuf *w, int16_t version, const sm_offset_fetch_resp *resp)
{
    bool fx = version >= SM_OFFSET_FETCH_FLEX;
    if (version >= 3)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_count_fx(w, resp->topic_count, fx);
    for (int32_t i = 0; i < resp->topic_count; i++) {
        const sm_offset_fetch_topic_resp *t = &resp->topics[i];
        sm_codec_put_str_fx(w, t->name, fx);
        sm_codec_put_count_fx(w, t->partition_count, fx);
        for (int32_t j = 0; j < t->partition_count; j++) {
            const sm_offset_fetch_partition_resp *p = &t->partitions[j];
            sm_wbuf_i32(w, p->partition_index);
            sm_wbuf_i64(w, p->committed_offset);
            if (version >= 5)
                sm_wbuf_i32(w, p->committed_leader_epoch);
            sm_codec_put_nstr_fx(w, p->metadata, fx);
            sm_wbuf_i16(w, p->error_code);
            sm_codec_put_tags(w, fx);
        }
        sm_codec_put_tags(w, fx);
    }
    if (version >= 2)
        sm_wbuf_i16(w, resp->error_code);
    sm_codec_put_tags(w, fx);
}
