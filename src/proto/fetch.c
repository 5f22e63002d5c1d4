/* fetch.c: Fetch request decoding and response pieces, versions 4-16
 * (fields per Kafka's FetchRequest.json / FetchResponse.json). */
#include "proto/fetch.h"

#include "base/err.h"
#include "proto/codec_int.h"

int sm_fetch_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_fetch_req *out)
{
    bool fx = version >= SM_FETCH_FLEX;
    /* v15+: ReplicaId moved into the tagged ReplicaState (tag 1, sent by
     * followers only), skipped with the other tags: a consumer's -1 */
    out->replica_id = version <= 14 ? sm_rd_i32(r) : -1;
    out->max_wait_ms = sm_rd_i32(r);
    out->min_bytes = sm_rd_i32(r);
    out->max_bytes = sm_rd_i32(r);
    out->isolation_level = sm_rd_i8(r);
    out->session_id = version >= 7 ? sm_rd_i32(r) : 0;
    out->session_epoch = version >= 7 ? sm_rd_i32(r) : -1;
    bool ids = version >= SM_FETCH_TOPIC_IDS;
    size_t topic_min = ids ? 18 : fx ? 3 : 6; /* name or id, partition count (, tags) */
    out->topic_count = sm_codec_rd_array_fx(r, topic_min, false, fx);
    out->topics = sm_arena_calloc(a, (size_t)out->topic_count, sizeof *out->topics);
    if (out->topic_count && !out->topics)
        return SM_ENOMEM;
    size_t part_min = 16 + (version >= 5 ? 8 : 0) + (version >= 9 ? 4 : 0) + (fx ? 5 : 0);
    for (int32_t i = 0; i < out->topic_count && !r->err; i++) {
        sm_fetch_topic *t = &out->topics[i];
        if (ids) {
            sm_codec_rd_uuid(r, t->topic_id);
            t->topic = SM_STR_NULL;
        } else {
            t->topic = sm_codec_rd_str_fx(r, fx);
        }
        t->partition_count = sm_codec_rd_array_fx(r, part_min, false, fx);
        t->partitions = sm_arena_calloc(a, (size_t)t->partition_count, sizeof *t->partitions);
        if (t->partition_count && !t->partitions)
            return SM_ENOMEM;
        for (int32_t j = 0; j < t->partition_count && !r->err; j++) {
            sm_fetch_part *p = &t->partitions[j];
            p->partition = sm_rd_i32(r);
            p->current_leader_epoch = version >= 9 ? sm_rd_i32(r) : -1;
            p->fetch_offset = sm_rd_i64(r);
            p->last_fetched_epoch = version >= 12 ? sm_rd_i32(r) : -1;
            p->log_start_offset = version >= 5 ? sm_rd_i64(r) : -1;
            p->partition_max_bytes = sm_rd_i32(r);
            sm_codec_rd_tags(r, fx);
        }
        sm_codec_rd_tags(r, fx);
    }
    out->forgotten_count = 0;
    if (version >= 7) {
        int32_t n = sm_codec_rd_array_fx(r, topic_min, false, fx);
        for (int32_t i = 0; i < n && !r->err; i++) {
            if (ids) {
                uint8_t id[16];
                sm_codec_rd_uuid(r, id);
            } else {
                (void)sm_codec_rd_str_fx(r, fx);
            }
            int32_t np = sm_codec_rd_array_fx(r, 4, false, fx);
            (void)sm_rd_take(r, (size_t)np * 4);
            sm_codec_rd_tags(r, fx);
        }
        out->forgotten_count = n;
    }
    out->rack_id = version >= 11 ? sm_codec_rd_str_fx(r, fx) : SM_STR_NULL;
    sm_codec_rd_tags(r, fx); /* ClusterId (tag 0) is for KRaft fetchers */
    return sm_codec_finish(r);
}

void sm_fetch_resp_begin(sm_wbuf *w, int16_t version, int16_t error_code, int32_t session_id,
                         int32_t topic_count)
{
    sm_wbuf_i32(w, 0); /* ThrottleTimeMs */
    if (version >= 7) {
        sm_wbuf_i16(w, error_code);
        sm_wbuf_i32(w, session_id);
    }
    sm_codec_put_count_fx(w, topic_count, version >= SM_FETCH_FLEX);
}

void sm_fetch_topic_encode(sm_wbuf *w, int16_t version, sm_str topic, const uint8_t topic_id[16],
                           int32_t partition_count)
{
    bool fx = version >= SM_FETCH_FLEX;
    if (version >= SM_FETCH_TOPIC_IDS)
        sm_codec_put_uuid(w, topic_id);
    else
        sm_codec_put_str_fx(w, topic, fx);
    sm_codec_put_count_fx(w, partition_count, fx);
}

void sm_fetch_topic_end(sm_wbuf *w, int16_t version)
{
    sm_codec_put_tags(w, version >= SM_FETCH_FLEX);
}

void sm_fetch_resp_end(sm_wbuf *w, int16_t version)
{
    sm_codec_put_tags(w, version >= SM_FETCH_FLEX);
}

void sm_fetch_part_encode(sm_wbuf *w, int16_t version, const sm_fetch_part_resp *p)
{
    bool fx = version >= SM_FETCH_FLEX;
    sm_wbuf_i32(w, p->partition);
    sm_wbuf_i16(w, p->error_code);
    sm_wbuf_i64(w, p->high_watermark);
    sm_wbuf_i64(w, p->last_stable_offset);
    if (version >= 5)
        sm_wbuf_i64(w, p->log_start_offset);
    sm_codec_put_count_fx(w, 0, fx); /* AbortedTransactions: none (we hold no transactions) */
    if (version >= 11)
        sm_wbuf_i32(w, -1); /* PreferredReadReplica: none */
    if (fx)
        sm_wbuf_compact_count(w, p->records_len); /* COMPACT_RECORDS: length + 1, 0 null */
    else
        sm_wbuf_i32(w, p->records_len);
}

void sm_fetch_part_end(sm_wbuf *w, int16_t version, const sm_fetch_part_resp *p)
{
    if (version < SM_FETCH_FLEX)
        return;
    if (!p->diverging) {
        sm_wbuf_tags_none(w);
        return;
    }
    uint8_t tag[13]; /* EpochEndOffset: Epoch int32, EndOffset int64, its own empty tags */
    sm_put_be32(tag, (uint32_t)p->diverging_epoch);
    sm_put_be64(tag + 4, (uint64_t)p->diverging_end_offset);
    tag[12] = 0;
    sm_wbuf_uvarint(w, 1);
    sm_wbuf_tag(w, 0, tag, sizeof tag);
}
