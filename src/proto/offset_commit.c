/* offset_commit.c: OffsetCommit v0-8 (fields per Kafka's
 * OffsetCommitRequest.json / OffsetCommitResponse.json). */
#include "proto/offset_commit.h"

#include "proto/codec_int.h"

int sm_offset_commit_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_offset_commit_req *out)
{
    int oom = 0;
    bool fx = version >= SM_OFFSET_COMMIT_FLEX;
    out->group_id = sm_codec_rd_str_fx(r, fx);
    out->generation_id = version >= 1 ? sm_rd_i32(r) : -1;
    out->member_id = version >= 1 ? sm_codec_rd_str_fx(r, fx) : (sm_str){"", 0};
    out->group_instance_id = version >= 7 ? sm_codec_rd_nstr_fx(r, fx) : SM_STR_NULL;
    out->retention_time_ms = version >= 2 && version <= 4 ? sm_rd_i64(r) : -1;
    /* partition: PartitionIndex 4 + CommittedOffset 8 + CommittedMetadata 2,
     * plus CommitTimestamp 8 in v1 and CommittedLeaderEpoch 4 from v6
     * (flexible: metadata 1, tags 1) */
    size_t part_min = 14 + (version == 1 ? 8 : 0) + (version >= 6 ? 4 : 0);
    out->topic_count = sm_codec_rd_array_fx(r, fx ? 3 : 6, false, fx);
    out->topics = sm_codec_alloc(a, out->topic_count, sizeof *out->topics, &oom);
    for (int32_t i = 0; i < out->topic_count && !r->err && !oom; i++) {
        sm_offset_commit_topic *t = &out->topics[i];
        t->name = sm_codec_rd_str_fx(r, fx);
        t->partition_count = sm_codec_rd_array_fx(r, part_min, false, fx);
        t->partitions = sm_codec_alloc(a, t->partition_count, sizeof *t->partitions, &oom);
        for (int32_t j = 0; j < t->partition_count && !r->err && !oom; j++) {
            sm_offset_commit_partition *p = &t->partitions[j];
            p->partition_index = sm_rd_i32(r);
            p->committed_offset = sm_rd_i64(r);
            p->committed_leader_epoch = version >= 6 ? sm_rd_i32(r) : -1;
            p->commit_timestamp = version == 1 ? sm_rd_i64(r) : -1;
            p->committed_metadata = sm_codec_rd_nstr_fx(r, fx);
            sm_codec_rd_tags(r, fx);
        }
        sm_codec_rd_tags(r, fx);
    }
    sm_codec_rd_tags(r, fx);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_offset_commit_resp_encode(sm_wbuf *w, int16_t version, const sm_offset_commit_resp *resp)
{
    bool fx = version >= SM_OFFSET_COMMIT_FLEX;
    if (version >= 3)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_count_fx(w, resp->topic_count, fx);
    for (int32_t i = 0; i < resp->topic_count; i++) {
        const sm_offset_commit_topic_resp *t = &resp->topics[i];
        sm_codec_put_str_fx(w, t->name, fx);
        sm_codec_put_count_fx(w, t->partition_count, fx);
        for (int32_t j = 0; j < t->partition_count; j++) {
            sm_wbuf_i32(w, t->partitions[j].partition_index);
            sm_wbuf_i16(w, t->partitions[j].error_code);
            sm_codec_put_tags(w, fx);
        }
        sm_codec_put_tags(w, fx);
    }
    sm_codec_put_tags(w, fx);
}
