/* produce.c: Produce request/response codec, versions 0-11 (fields per
 * Kafka's ProduceRequest.json / ProduceResponse.json). */
#include "proto/produce.h"

#include "base/err.h"
#include "proto/codec_int.h"

int sm_produce_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_produce_req *out)
{
    bool fx = version >= SM_PRODUCE_FLEX;
    out->transactional_id = version >= 3 ? sm_codec_rd_nstr_fx(r, fx) : SM_STR_NULL;
    out->acks = sm_rd_i16(r);
    out->timeout_ms = sm_rd_i32(r);
    out->topic_count = sm_codec_rd_array_fx(r, fx ? 3 : 6, false, fx);
    out->topics = sm_arena_calloc(a, (size_t)out->topic_count, sizeof *out->topics);
    if (out->topic_count && !out->topics)
        return SM_ENOMEM;
    for (int32_t i = 0; i < out->topic_count && !r->err; i++) {
        sm_produce_topic *t = &out->topics[i];
        t->name = sm_codec_rd_str_fx(r, fx); /* STRING: a null fails the request */
        t->partition_count = sm_codec_rd_array_fx(r, fx ? 6 : 8, false, fx);
        t->partitions = sm_arena_calloc(a, (size_t)t->partition_count, sizeof *t->partitions);
        if (t->partition_count && !t->partitions)
            return SM_ENOMEM;
        for (int32_t j = 0; j < t->partition_count && !r->err; j++) {
            t->partitions[j].index = sm_rd_i32(r);
            t->partitions[j].records = sm_codec_rd_nbytes_fx(r, fx);
            sm_codec_rd_tags(r, fx);
        }
        sm_codec_rd_tags(r, fx);
    }
    sm_codec_rd_tags(r, fx);
    return sm_codec_finish(r);
}

void sm_produce_resp_encode(sm_wbuf *w, int16_t version, const sm_produce_resp *resp)
{
    bool fx = version >= SM_PRODUCE_FLEX;
    sm_codec_put_count_fx(w, resp->topic_count, fx);
    for (int32_t i = 0; i < resp->topic_count; i++) {
        const sm_produce_topic_resp *t = &resp->topics[i];
        sm_codec_put_str_fx(w, t->name, fx);
        sm_codec_put_count_fx(w, t->partition_count, fx);
        for (int32_t j = 0; j < t->partition_count; j++) {
            const sm_produce_part_resp *p = &t->partitions[j];
            sm_wbuf_i32(w, p->index);
            sm_wbuf_i16(w, p->error_code);
            sm_wbuf_i64(w, p->base_offset);
            if (version >= 2)
                sm_wbuf_i64(w, p->log_append_time_ms);
            if (version >= 5)
                sm_wbuf_i64(w, p->log_start_offset);
            if (version >= 8) {
                sm_codec_put_count_fx(w, p->record_error_count, fx);
                for (int32_t k = 0; k < p->record_error_count; k++) {
                    sm_wbuf_i32(w, p->record_errors[k].batch_index);
                    sm_codec_put_nstr_fx(w, p->record_errors[k].message, fx);
                    sm_codec_put_tags(w, fx);
                }
                sm_codec_put_nstr_fx(w, p->error_message, fx);
            }
            sm_codec_put_tags(w, fx);
        }
        sm_codec_put_tags(w, fx);
    }
    if (version >= 1)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_tags(w, fx);
}
