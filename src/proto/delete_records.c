/* delete_records.c: DeleteRecords v0-1 (fields per Kafka's
 * DeleteRecordsRequest.json / DeleteRecordsResponse.json). */
#include "proto/delete_records.h"

#include "proto/codec_int.h"

int sm_delete_records_req_decode(sm_rd *r, int16_t version, sm_arena *a,
                                 sm_delete_records_req *out)
{
    bool fx = version >= SM_DELETE_RECORDS_FLEX; /* v0 and v1 are the same */
    int oom = 0;
    out->topic_count = sm_codec_rd_array_fx(r, fx ? 3 : 6, false, fx);
    out->topics = sm_codec_alloc(a, out->topic_count, sizeof *out->topics, &oom);
    for (int32_t i = 0; i < out->topic_count && !r->err && !oom; i++) {
        sm_delete_records_topic *t = &out->topics[i];
        t->name = sm_codec_rd_str_fx(r, fx);
        t->partition_count = sm_codec_rd_array_fx(r, fx ? 13 : 12, false, fx);
        t->partitions = sm_codec_alloc(a, t->partition_count, sizeof *t->partitions, &oom);
        for (int32_t j = 0; j < t->partition_count && !r->err && !oom; j++) {
            t->partitions[j].partition_index = sm_rd_i32(r);
            t->partitions[j].offset = sm_rd_i64(r);
            sm_codec_rd_tags(r, fx);
        }
        sm_codec_rd_tags(r, fx);
    }
    out->timeout_ms = sm_rd_i32(r);
    sm_codec_rd_tags(r, fx);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_delete_records_resp_encode(sm_wbuf *w, int16_t version, const sm_delete_records_resp *resp)
{
    bool fx = version >= SM_DELETE_RECORDS_FLEX;
    sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_count_fx(w, resp->topic_count, fx);
    for (int32_t i = 0; i < resp->topic_count; i++) {
        const sm_delete_records_topic_resp *t = &resp->topics[i];
        sm_codec_put_str_fx(w, t->name, fx);
        sm_codec_put_count_fx(w, t->partition_count, fx);
        for (int32_t j = 0; j < t->partition_count; j++) {
            sm_wbuf_i32(w, t->partitions[j].partition_index);
            sm_wbuf_i64(w, t->partitions[j].low_watermark);
            sm_wbuf_i16(w, t->partitions[j].error_code);
            sm_codec_put_tags(w, fx);
        }
        sm_codec_put_tags(w, fx);
    }
    sm_codec_put_tags(w, fx);
}
