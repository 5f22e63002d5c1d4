/* list_offsets.c: ListOffsets v0-10 (fields per Kafka's
 * ListOffsetsRequest.json / ListOffsetsResponse.json). */
#include "proto/list_offsets.h"

#include "proto/codec_int.h"

int sm_list_offsets_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_list_offsets_req *out)
{
    int oom = 0;
    bool fx = version >= SM_LIST_OFFSETS_FLEX;
    out->replica_id = sm_rd_i32(r);
    out->isolation_level = version >= 2 ? sm_rd_i8(r) : 0;
    /* topic: Name (>= 2) + Partitions count (4) (flexible: 1 + 1 + tags 1);
     * partition: PartitionIndex, Timestamp, MaxNumOffsets in v0,
     * CurrentLeaderEpoch in v4+, tags */
    out->topic_count = sm_codec_rd_array_fx(r, fx ? 3 : 6, false, fx);
    out->topics = sm_codec_alloc(a, out->topic_count, sizeof *out->topics, &oom);
    size_t part_min = (version == 0 ? 16 : 12) + (version >= 4 ? 4 : 0) + (fx ? 1 : 0);
    for (int32_t i = 0; i < out->topic_count && !r->err && !oom; i++) {
        sm_list_offsets_topic *t = &out->topics[i];
        t->name = sm_codec_rd_str_fx(r, fx);
        t->partition_count = sm_codec_rd_array_fx(r, part_min, false, fx);
        t->partitions = sm_codec_alloc(a, t->partition_count, sizeof *t->partitions, &oom);
        for (int32_t j = 0; j < t->partition_count && !r->err && !oom; j++) {
            sm_list_offsets_partition *p = &t->partitions[j];
            p->partition_index = sm_rd_i32(r);
            p->current_leader_epoch = version >= 4 ? sm_rd_i32(r) : -1;
            p->timestamp = sm_rd_i64(r);
            p->max_num_offsets = version == 0 ? sm_rd_i32(r) : 1;
            sm_codec_rd_tags(r, fx);
        }
        sm_codec_rd_tags(r, fx);
    }
    out->timeout_ms = version >= 10 ? sm_rd_i32(r) : 0;
    sm_codec_rd_tags(r, fx);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_list_offsets_resp_encode(sm_wbuf *w, int16_t version, const sm_list_offsets_resp *resp)
{
    bool fx = version >= SM_LIST_OFFSETS_FLEX;
    if (version >= 2)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_count_fx(w, resp->topic_count, fx);
    for (int32_t i = 0; i < resp->topic_count; i++) {
        const sm_list_offsets_topic_resp *t = &resp->topics[i];
        sm_codec_put_str_fx(w, t->name, fx);
        sm_codec_put_count_fx(w, t->partition_count, fx);
        for (int32_t j = 0; j < t->partition_count; j++) {
            const sm_list_offsets_partition_resp *p = &t->partitions[j];
            sm_wbuf_i32(w, p->partition_index);
            sm_wbuf_i16(w, p->error_code);
            if (version == 0) {
                sm_codec_put_count(w, p->old_style_offset_count);
                for (int32_t k = 0; k < p->old_style_offset_count; k++)
                    sm_wbuf_i64(w, p->old_style_offsets[k]);
            } else {
                sm_wbuf_i64(w, p->timestamp);
                sm_wbuf_i64(w, p->offset);
            }
            if (version >= 4)
                sm_wbuf_i32(w, p->leader_epoch);
            sm_codec_put_tags(w, fx);
        }
        sm_codec_put_tags(w, fx);
    }
    sm_codec_put_tags(w, fx);
}
