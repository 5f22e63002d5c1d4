/* produce.c: Produce request/response codec, versions 0-7. */
#include "proto/produce.h"

#include "base/err.h"
#include "proto/codec_int.h"

int sm_produce_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_produce_req *out)
{
    out->transactional_id = version >= 3 ? sm_rd_str(r) : SM_STR_NULL;
    out->acks = sm_rd_i16(r);
    out->timeout_ms = sm_rd_i32(r);
    out->topic_count = sm_rd_array(r, 6, false);
    out->topics = sm_arena_calloc(a, (size_t)out->topic_count, sizeof *out->topics);
    if (out->topic_count && !out->topics)
        return SM_ENOMEM;
    for (int32_t i = 0; i < out->topic_count && !r->err; i++) {
        sm_produce_topic *t = &out->topics[i];
        t->name = sm_codec_rd_str(r); /* STRING: a null fails the request */
        t->partition_count = sm_rd_array(r, 8, false);
        t->partitions = sm_arena_calloc(a, (size_t)t->partition_count, sizeof *t->partitions);
        if (t->partition_count && !t->partitions)
            return SM_ENOMEM;
        for (int32_t j = 0; j < t->partition_count && !r->err; j++) {
            t->partitions[j].index = sm_rd_i32(r);
            t->partitions[j].records = sm_rd_bytes(r);
        }
    }
    return sm_codec_finish(r);
}

void sm_produce_resp_encode(sm_wbuf *w, int16_t version, const sm_produce_resp *resp)
{
    sm_wbuf_i32(w, resp->topic_count);
    for (int32_t i = 0; i < resp->topic_count; i++) {
        const sm_produce_topic_resp *t = &resp->topics[i];
        sm_codec_put_str(w, t->name);
        sm_wbuf_i32(w, t->partition_count);
        for (int32_t j = 0; j < t->partition_count; j++) {
            const sm_produce_part_resp *p = &t->partitions[j];
            sm_wbuf_i32(w, p->index);
            sm_wbuf_i16(w, p->error_code);
            sm_wbuf_i64(w, p->base_offset);
            if (version >= 2)
                sm_wbuf_i64(w, p->log_append_time_ms);
            if (version >= 5)
                sm_wbuf_i64(w, p->log_start_offset);
        }
    }
    if (version >= 1)
        sm_wbuf_i32(w, resp->throttle_time_ms);
}
