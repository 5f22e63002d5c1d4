/* fetch.c: Fetch request decoding and response pieces, versions 4-11. */
#include "proto/fetch.h"

#include "base/err.h"
#include "proto/codec_int.h"

int sm_fetch_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_fetch_req *out)
{
    out->replica_id = sm_rd_i32(r);
    out->max_wait_ms = sm_rd_i32(r);
    out->min_bytes = sm_rd_i32(r);
    out->max_bytes = sm_rd_i32(r);
    out->isolation_level = sm_rd_i8(r);
    out->session_id = version >= 7 ? sm_rd_i32(r) : 0;
    out->session_epoch = version >= 7 ? sm_rd_i32(r) : -1;
    out->topic_count = sm_rd_array(r, 6, false);
    out->topics = sm_arena_calloc(a, (size_t)out->topic_count, sizeof *out->topics);
    if (out->topic_count && !out->topics)
        return SM_ENOMEM;
    size_t part_min = 16 + (version >= 5 ? 8 : 0) + (version >= 9 ? 4 : 0);
    for (int32_t i = 0; i < out->topic_count && !r->err; i++) {
        sm_fetch_topic *t = &out->topics[i];
        t->topic = sm_codec_rd_str(r);
        t->partition_count = sm_rd_array(r, part_min, false);
        t->partitions = sm_arena_calloc(a, (size_t)t->partition_count, sizeof *t->partitions);
        if (t->partition_count && !t->partitions)
            return SM_ENOMEM;
        for (int32_t j = 0; j < t->partition_count && !r->err; j++) {
            sm_fetch_part *p = &t->partitions[j];
            p->partition = sm_rd_i32(r);
            p->current_leader_epoch = version >= 9 ? sm_rd_i32(r) : -1;
            p->fetch_offset = sm_rd_i64(r);
            p->log_start_offset = version >= 5 ? sm_rd_i64(r) : -1;
            p->partition_max_bytes = sm_rd_i32(r);
        }
    }
    out->forgotten_count = 0;
    if (version >= 7) {
        int32_t n = sm_rd_array(r, 6, false);
        for (int32_t i = 0; i < n && !r->err; i++) {
            (void)sm_codec_rd_str(r);
            int32_t np = sm_rd_array(r, 4, false);
            (void)sm_rd_take(r, (size_t)np * 4);
        }
        out->forgotten_count = n;
    }
    out->rack_id = version >= 11 ? sm_codec_rd_str(r) : SM_STR_NULL;
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
    sm_wbuf_i32(w, topic_count);
}

void sm_fetch_topic_encode(sm_wbuf *w, sm_str topic, int32_t partition_count)
{
    sm_codec_put_str(w, topic);
    sm_wbuf_i32(w, partition_count);
}

void sm_fetch_part_encode(sm_wbuf *w, int16_t version, const sm_fetch_part_resp *p)
{
    sm_wbuf_i32(w, p->partition);
    sm_wbuf_i16(w, p->error_code);
    sm_wbuf_i64(w, p->high_watermark);
    sm_wbuf_i64(w, p->last_stable_offset);
    if (version >= 5)
        sm_wbuf_i64(w, p->log_start_offset);
    sm_wbuf_i32(w, 0); /* AbortedTransactions: none (we hold no transactions) */
    if (version >= 11)
        sm_wbuf_i32(w, -1); /* PreferredReadReplica: none */
    sm_wbuf_i32(w, p->records_len);
}
