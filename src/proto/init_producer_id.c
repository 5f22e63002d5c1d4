/* init_producer_id.c: InitProducerId v0-2 (fields per Kafka's
 * InitProducerIdRequest.json / InitProducerIdResponse.json). */
#include "proto/init_producer_id.h"

#include "proto/codec_int.h"

int sm_init_producer_id_req_decode(sm_rd *r, int16_t version, sm_arena *a,
                                   sm_init_producer_id_req *out)
{
    bool fx = version >= SM_INIT_PRODUCER_ID_FLEX; /* v0 and v1 are the same */
    (void)a;
    out->transactional_id = sm_codec_rd_nstr_fx(r, fx);
    out->transaction_timeout_ms = sm_rd_i32(r);
    sm_codec_rd_tags(r, fx);
    return sm_codec_finish(r);
}

void sm_init_producer_id_resp_encode(sm_wbuf *w, int16_t version,
                                     const sm_init_producer_id_resp *resp)
{
    sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_wbuf_i16(w, resp->error_code);
    sm_wbuf_i64(w, resp->producer_id);
    sm_wbuf_i16(w, resp->producer_epoch);
    sm_codec_put_tags(w, version >= SM_INIT_PRODUCER_ID_FLEX);
}
