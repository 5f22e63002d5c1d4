/* create_partitions.c: CreatePartitions v0-3 (fields per Kafka's
 * CreatePartitionsRequest.json / CreatePartitionsResponse.json). */
#include "proto/create_partitions.h"

#include "proto/codec_int.h"

int sm_create_partitions_req_decode(sm_rd *r, int16_t version, sm_arena *a,
                                    sm_create_partitions_req *out)
{
    bool fx = version >= SM_CREATE_PARTITIONS_FLEX; /* v0 and v1 are the same; v3 is v2 */
    int oom = 0;
    /* topic: Name 2 + Count 4 + Assignments count 4 (flexible: 1 + 4 + 1 + tags 1) */
    out->topic_count = sm_codec_rd_array_fx(r, fx ? 7 : 10, false, fx);
    out->topics = sm_codec_alloc(a, out->topic_count, sizeof *out->topics, &oom);
    for (int32_t i = 0; i < out->topic_count && !r->err && !oom; i++) {
        sm_create_partitions_topic *t = &out->topics[i];
        t->name = sm_codec_rd_str_fx(r, fx);
        t->count = sm_rd_i32(r);
        /* Assignments is a nullable array; each one a BrokerIds count 4 (flexible: 1 + tags 1) */
        t->assignment_count = sm_codec_rd_array_fx(r, fx ? 2 : 4, true, fx);
        t->assignments = sm_codec_alloc(a, t->assignment_count, sizeof *t->assignments, &oom);
        for (int32_t j = 0; j < t->assignment_count && !r->err && !oom; j++) {
            sm_create_partitions_assignment *as = &t->assignments[j];
            as->broker_id_count = sm_codec_rd_i32_array_fx(r, a, &as->broker_ids, &oom, fx);
            sm_codec_rd_tags(r, fx);
        }
        sm_codec_rd_tags(r, fx);
    }
    out->timeout_ms = sm_rd_i32(r);
    out->validate_only = sm_rd_bool(r);
    sm_codec_rd_tags(r, fx);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_create_partitions_resp_encode(sm_wbuf *w, int16_t version,
                                      const sm_create_partitions_resp *resp)
{
    bool fx = version >= SM_CREATE_PARTITIONS_FLEX;
    sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_count_fx(w, resp->result_count, fx);
    for (int32_t i = 0; i < resp->result_count; i++) {
        const sm_create_partitions_topic_resp *t = &resp->results[i];
        sm_codec_put_str_fx(w, t->name, fx);
        sm_wbuf_i16(w, t->error_code);
        sm_codec_put_nstr_fx(w, t->error_message, fx);
        sm_codec_put_tags(w, fx);
    }
    sm_codec_put_tags(w, fx);
}
