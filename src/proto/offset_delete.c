/* offset_delete.c: OffsetDelete v0 (fields per Kafka's
 * OffsetDeleteRequest.json / OffsetDeleteResponse.json). */
#include "proto/offset_delete.h"

#include "proto/codec_int.h"

int sm_offset_delete_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_offset_delete_req *out)
{
    (void)version; /* v0 only */
    int oom = 0;
    out->group_id = sm_codec_rd_str(r);
    out->topic_count = sm_rd_array(r, 6, false);
    out->topics = sm_codec_alloc(a, out->topic_count, sizeof *out->topics, &oom);
    for (int32_t i = 0; i < out->topic_count && !r->err && !oom; i++) {
        sm_offset_delete_topic *t = &out->topics[i];
        t->name = sm_codec_rd_str(r);
        t->partition_count = sm_rd_array(r, 4, false);
        t->partitions = sm_codec_alloc(a, t->partition_count, sizeof *t->partitions, &oom);
        for (int32_t j = 0; j < t->partition_count && !r->err && !oom; j++)
            t->partitions[j].partition_index = sm_rd_i32(r);
    }
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_offset_delete_resp_encode(sm_wbuf *w, int16_t version, const sm_offset_delete_resp *resp)
{
    (void)version; /* v0 only */
    sm_wbuf_i16(w, resp->error_code);
    sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_count(w, resp->topic_count);
    for (int32_t i = 0; i < resp->topic_count; i++) {
        const sm_offset_delete_topic_resp *t = &resp->topics[i];
        sm_codec_put_str(w, t->name);
        sm_codec_put_count(w, t->partition_count);
        for (int32_t j = 0; j < t->partition_count; j++) {
            sm_wbuf_i32(w, t->partitions[j].partition_index);
            sm_wbuf_i16(w, t->partitions[j].error_code);
        }
    }
}
