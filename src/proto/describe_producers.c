/* describe_producers.c: DescribeProducers v0 (fields per Kafka's
 * DescribeProducersRequest.json / DescribeProducersResponse.json;
 * flexible). */
#include "proto/describe_producers.h"

#include "proto/codec_int.h"

int sm_dp_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_dp_req *out)
{
    (void)version;
    int oom = 0;
    /* topic: Name 1 + PartitionIndexes 1 + tags 1 */
    out->topic_count = sm_codec_rd_array_fx(r, 3, false, true);
    out->topics = sm_codec_alloc(a, out->topic_count, sizeof *out->topics, &oom);
    for (int32_t i = 0; i < out->topic_count && !r->err && !oom; i++) {
        sm_dp_topic_req *t = &out->topics[i];
        t->name = sm_codec_rd_str_fx(r, true);
        t->partition_count = sm_codec_rd_array_fx(r, 4, false, true);
        t->partition_indexes = sm_codec_alloc(a, t->partition_count, sizeof *t->partition_indexes,
                                              &oom);
        for (int32_t j = 0; j < t->partition_count && !r->err && !oom; j++)
            t->partition_indexes[j] = sm_rd_i32(r);
        sm_codec_rd_tags(r, true);
    }
    sm_codec_rd_tags(r, true);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_dp_resp_encode(sm_wbuf *w, int16_t version, const sm_dp_resp *resp)
{
    (void)version;
    sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_count_fx(w, resp->topic_count, true);
    for (int32_t i = 0; i < resp->topic_count; i++) {
        const sm_dp_topic *t = &resp->topics[i];
        sm_codec_put_str_fx(w, t->name, true);
        sm_codec_put_count_fx(w, t->partition_count, true);
        for (int32_t j = 0; j < t->partition_count; j++) {
            const sm_dp_partition *p = &t->partitions[j];
            sm_wbuf_i32(w, p->partition_index);
            sm_wbuf_i16(w, p->error_code);
            sm_codec_put_nstr_fx(w, p->error_message, true);
            sm_codec_put_count_fx(w, p->producer_count, true);
            for (int32_t k = 0; k < p->producer_count; k++) {
                const sm_dp_producer *pr = &p->active_producers[k];
                sm_wbuf_i64(w, pr->producer_id);
                sm_wbuf_i32(w, pr->producer_epoch);
                sm_wbuf_i32(w, pr->last_sequence);
                sm_wbuf_i64(w, pr->last_timestamp);
                sm_wbuf_i32(w, pr->coordinator_epoch);
                sm_wbuf_i64(w, pr->current_txn_start_offset);
                sm_codec_put_tags(w, true);
            }
            sm_codec_put_tags(w, true);
        }
        sm_codec_put_tags(w, true);
    }
    sm_codec_put_tags(w, true);
}
