/* describe_log_dirs.c: DescribeLogDirs v0-4 (fields per Kafka's
 * DescribeLogDirsRequest.json / DescribeLogDirsResponse.json; flexible from
 * v2). */
#include "proto/describe_log_dirs.h"

#include "proto/codec_int.h"

#define DLD_FIRST_FLEX 2

int sm_dld_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_dld_req *out)
{
    bool flex = version >= DLD_FIRST_FLEX;
    int oom = 0;
    /* topic: Topic 2 + Partitions count 4 (compact: 1 + 1 + tags 1) */
    out->topic_count = sm_codec_rd_array_fx(r, flex ? 3 : 6, true, flex);
    out->topics = sm_codec_alloc(a, out->topic_count, sizeof *out->topics, &oom);
    for (int32_t i = 0; i < out->topic_count && !r->err && !oom; i++) {
        sm_dld_topic_req *t = &out->topics[i];
        t->topic = sm_codec_rd_str_fx(r, flex);
        t->partition_count = sm_codec_rd_array_fx(r, 4, false, flex);
        t->partitions = sm_codec_alloc(a, t->partition_count, sizeof *t->partitions, &oom);
        for (int32_t j = 0; j < t->partition_count && !r->err && !oom; j++)
            t->partitions[j] = sm_rd_i32(r);
        sm_codec_rd_tags(r, flex);
    }
    sm_codec_rd_tags(r, flex);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_dld_resp_encode(sm_wbuf *w, int16_t version, const sm_dld_resp *resp)
{
    bool flex = version >= DLD_FIRST_FLEX;
    sm_wbuf_i32(w, resp->throttle_time_ms);
    if (version >= 3)
        sm_wbuf_i16(w, resp->error_code);
    sm_codec_put_count_fx(w, resp->result_count, flex);
    for (int32_t i = 0; i < resp->result_count; i++) {
        const sm_dld_result *res = &resp->results[i];
        sm_wbuf_i16(w, res->error_code);
        sm_codec_put_str_fx(w, res->log_dir, flex);
        sm_codec_put_count_fx(w, res->topic_count, flex);
        for (int32_t j = 0; j < res->topic_count; j++) {
            const sm_dld_topic *t = &res->topics[j];
            sm_codec_put_str_fx(w, t->name, flex);
            sm_codec_put_count_fx(w, t->partition_count, flex);
            for (int32_t k = 0; k < t->partition_count; k++) {
                const sm_dld_partition *p = &t->partitions[k];
                sm_wbuf_i32(w, p->partition_index);
                sm_wbuf_i64(w, p->partition_size);
                sm_wbuf_i64(w, p->offset_lag);
                sm_wbuf_bool(w, p->is_future_key);
                sm_codec_put_tags(w, flex);
            }
            sm_codec_put_tags(w, flex);
        }
        if (version >= 4) {
            sm_wbuf_i64(w, res->total_bytes);
            sm_wbuf_i64(w, res->usable_bytes);
        }
        sm_codec_put_tags(w, flex);
    }
    sm_codec_put_tags(w, flex);
}
