/* list_offsets.c: ListOffsets v0-3 (fields per Kafka's
 * ListOffsetsRequest.json / ListOffsetsResponse.json). */
#include "proto/list_offsets.h"

#include "proto/codec_int.h"

int sm_list_offsets_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_list_offsets_req *out)
{
    int oom = 0;
    out->replica_id = sm_rd_i32(r);
    out->isolation_level = version >= 2 ? sm_rd_i8(r) : 0;
    /* topic: Name (>= 2) + Partitions count (4); partition: PartitionIndex,
     * Timestamp, and MaxNumOffsets in v0 */
    out->topic_count = sm_rd_array(r, 6, false);
    out->topics = sm_codec_alloc(a, out->topic_count, sizeof *out->topics, &oom);
    size_t part_min = version == 0 ? 16 : 12;
    for (int32_t i = 0; i < out->topic_count && !r->err && !oom; i++) {
        sm_list_offsets_topic *t = &out->topics[i];
        t->name = sm_codec_rd_str(r);
        t->partition_count = sm_rd_array(r, part_min, false);
        t->partitions = sm_codec_alloc(a, t->partition_count, sizeof *t->partitions, &oom);
        for (int32_t j = 0; j < t->partition_count && !r->err && !oom; j++) {
            sm_list_offsets_partition *p = &t->partitions[j];
            p->partition_index = sm_rd_i32(r);
            p->timestamp = sm_rd_i64(r);
            p->max_num_offsets = version == 0 ? sm_rd_i32(r) : 1;
        }
    }
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_list_offsets_resp_encode(sm_wbuf *w, int16_t version, const sm_list_offsets_resp *resp)
{
    if (version >= 2)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_count(w, resp->topic_count);
    for (int32_t i = 0; i < resp->topic_count; i++) {
        const sm_list_offsets_topic_resp *t = &resp->topics[i];
        sm_codec_put_str(w, t->name);
        sm_codec_put_count(w, t->partition_count);
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
        }
    }
}
