/* transactions.c: ListTransactions v0-1 and DescribeTransactions v0 (fields
 * per Kafka's ListTransactions*.json and DescribeTransactions*.json; every
 * version flexible). */
#include "proto/transactions.h"

#include "proto/codec_int.h"

static int32_t rd_strings(sm_rd *r, sm_arena *a, sm_str **out, int *oom)
{
    int32_t n = sm_codec_rd_array_fx(r, 1, false, true);
    sm_str *v = sm_codec_alloc(a, n, sizeof *v, oom);
    *out = v;
    if (!v)
        return 0;
    for (int32_t i = 0; i < n && !r->err; i++)
        v[i] = sm_codec_rd_str_fx(r, true);
    return n;
}

int sm_list_txns_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_list_txns_req *out)
{
    int oom = 0;
    out->state_filter_count = rd_strings(r, a, &out->state_filters, &oom);
    out->producer_id_filter_count = sm_codec_rd_array_fx(r, 8, false, true);
    out->producer_id_filters =
        sm_codec_alloc(a, out->producer_id_filter_count, sizeof *out->producer_id_filters, &oom);
    for (int32_t i = 0; i < out->producer_id_filter_count && !r->err && !oom; i++)
        out->producer_id_filters[i] = sm_rd_i64(r);
    out->duration_filter = version >= 1 ? sm_rd_i64(r) : -1;
    sm_codec_rd_tags(r, true);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_list_txns_resp_encode(sm_wbuf *w, int16_t version, const sm_list_txns_resp *resp)
{
    (void)version;
    sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_wbuf_i16(w, resp->error_code);
    sm_codec_put_count_fx(w, resp->unknown_state_filter_count, true);
    for (int32_t i = 0; i < resp->unknown_state_filter_count; i++)
        sm_codec_put_str_fx(w, resp->unknown_state_filters[i], true);
    sm_codec_put_count_fx(w, 0, true); /* TransactionStates */
    sm_codec_put_tags(w, true);
}

int sm_describe_txns_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_describe_txns_req *out)
{
    (void)version;
    int oom = 0;
    out->transactional_id_count = rd_strings(r, a, &out->transactional_ids, &oom);
    sm_codec_rd_tags(r, true);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_describe_txns_resp_encode(sm_wbuf *w, int16_t version, const sm_describe_txns_resp *resp)
{
    (void)version;
    sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_count_fx(w, resp->state_count, true);
    for (int32_t i = 0; i < resp->state_count; i++) {
        sm_wbuf_i16(w, resp->states[i].error_code);
        sm_codec_put_str_fx(w, resp->states[i].transactional_id, true);
        sm_codec_put_str_fx(w, SM_STR_LIT(""), true); /* TransactionState */
        sm_wbuf_i32(w, 0);                            /* TransactionTimeoutMs */
        sm_wbuf_i64(w, 0);                            /* TransactionStartTimeMs */
        sm_wbuf_i64(w, 0);                            /* ProducerId */
        sm_wbuf_i16(w, 0);                            /* ProducerEpoch */
        sm_codec_put_count_fx(w, 0, true);            /* Topics */
        sm_codec_put_tags(w, true);
    }
    sm_codec_put_tags(w, true);
}
