/* offset_for_leader_epoch.c: OffsetForLeaderEpoch v0-4 (fields per Kafka's
 * OffsetForLeaderEpochRequest.json / ...Response.json; flexible from v4). */
#include "proto/offset_for_leader_epoch.h"

#include "proto/codec_int.h"

#define OFLE_FIRST_FLEX 4

int sm_ofle_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_ofle_req *out)
{
    bool fx = version >= OFLE_FIRST_FLEX;
    int oom = 0;
    out->replica_id = version >= 3 ? sm_rd_i32(r) : -2;
    /* topic: Topic 2 + Partitions count 4 (compact: 1 + 1 + tags 1) */
    out->topic_count = sm_codec_rd_array_fx(r, fx ? 3 : 6, false, fx);
    out->topics = sm_codec_alloc(a, out->topic_count, sizeof *out->topics, &oom);
    for (int32_t i = 0; i < out->topic_count && !r->err && !oom; i++) {
        sm_ofle_topic *t = &out->topics[i];
        t->topic = sm_codec_rd_str_fx(r, fx);
        /* partition: Partition 4 (+ CurrentLeaderEpoch 4) + LeaderEpoch 4 (+ tags 1) */
        size_t min = 8 + (version >= 2 ? 4 : 0) + (fx ? 1 : 0);
        t->partition_count = sm_codec_rd_array_fx(r, min, false, fx);
        t->partitions = sm_codec_alloc(a, t->partition_count, sizeof *t->partitions, &oom);
        for (int32_t j = 0; j < t->partition_count && !r->err && !oom; j++) {
            sm_ofle_partition *p = &t->partitions[j];
            p->partition = sm_rd_i32(r);
            p->current_leader_epoch = version >= 2 ? sm_rd_i32(r) : -1;
            p->leader_epoch = sm_rd_i32(r);
            sm_codec_rd_tags(r, fx);
        }
        sm_codec_rd_tags(r, fx);
    }
    sm_codec_rd_tags(r, fx);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_ofle_resp_encode(sm_wbuf *w, int16_t version, const sm_ofle_resp *resp)
{
    bool fx = version >= OFLE_FIRST_FLEX;
    if (version >= 2)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_count_fx(w, resp->topic_count, fx);
    for (int32_t i = 0; i < resp->topic_count; i++) {
        const sm_ofle_topic_resp *t = &resp->topics[i];
        sm_codec_put_str_fx(w, t->topic, fx);
        sm_codec_put_count_fx(w, t->partition_count, fx);
        for (int32_t j = 0; j < t->partition_count; j++) {
            const sm_ofle_partition_resp *p = &t->partitions[j];
            sm_wbuf_i16(w, p->error_code);
            sm_wbuf_i32(w, p->partition);
            if (version >= 1)
                sm_wbuf_i32(w, p->leader_epoch);
            sm_wbuf_i64(w, p->end_offset);
            sm_codec_put_tags(w, fx);
        }
        sm_codec_put_tags(w, fx);
    }
    sm_codec_put_tags(w, fx);
}
