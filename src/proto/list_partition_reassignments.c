/* list_partition_reassignments.c: ListPartitionReassignments v0 (fields per
 * Kafka's ListPartitionReassignmentsRequest.json / ...Response.json;
 * flexible). */
#include "proto/list_partition_reassignments.h"

#include "proto/codec_int.h"

int sm_lpr_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_lpr_req *out)
{
    (void)version;
    int oom = 0;
    out->timeout_ms = sm_rd_i32(r);
    /* topic: Name 1 + PartitionIndexes 1 + tags 1 */
    out->topic_count = sm_codec_rd_array_fx(r, 3, true, true);
    out->topics = sm_codec_alloc(a, out->topic_count, sizeof *out->topics, &oom);
    for (int32_t i = 0; i < out->topic_count && !r->err && !oom; i++) {
        sm_lpr_topic_req *t = &out->topics[i];
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

static void put_i32s(sm_wbuf *w, int32_t n, const int32_t *v)
{
    sm_codec_put_count_fx(w, n, true);
    for (int32_t i = 0; i < n; i++)
        sm_wbuf_i32(w, v[i]);
}

void sm_lpr_resp_encode(sm_wbuf *w, int16_t version, const sm_lpr_resp *resp)
{
    (void)version;
    sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_wbuf_i16(w, resp->error_code);
    sm_codec_put_nstr_fx(w, resp->error_message, true);
    sm_codec_put_count_fx(w, resp->topic_count, true);
    for (int32_t i = 0; i < resp->topic_count; i++) {
        const sm_lpr_topic *t = &resp->topics[i];
        sm_codec_put_str_fx(w, t->name, true);
        sm_codec_put_count_fx(w, t->partition_count, true);
        for (int32_t j = 0; j < t->partition_count; j++) {
            const sm_lpr_partition *p = &t->partitions[j];
            sm_wbuf_i32(w, p->partition_index);
            put_i32s(w, p->replica_count, p->replicas);
            put_i32s(w, p->adding_count, p->adding_replicas);
            put_i32s(w, p->removing_count, p->removing_replicas);
            sm_codec_put_tags(w, true);
        }
        sm_codec_put_tags(w, true);
    }
    sm_codec_put_tags(w, true);
}
