/* find_coordinator.c: FindCoordinator v0-2 (fields per Kafka's
 * FindCoordinatorRequest.json / FindCoordinatorResponse.json). */
#include "proto/find_coordinator.h"

#include "proto/codec_int.h"

int sm_find_coordinator_req_decode(sm_rd *r, int16_t version, sm_arena *a,
                                   sm_find_coordinator_req *out)
{
    (void)a;
    out->key = sm_codec_rd_str(r);
    out->key_type = version >= 1 ? sm_rd_i8(r) : SM_COORDINATOR_KEY_GROUP;
    return sm_codec_finish(r);
}

void sm_find_coordinator_resp_encode(sm_wbuf *w, int16_t version,
                                     const sm_find_coordinator_resp *resp)
{
    if (version >= 1)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_wbuf_i16(w, resp->error_code);
    if (version >= 1)
        sm_codec_put_nstr(w, resp->error_message);
    sm_wbuf_i32(w, resp->node_id);
    sm_codec_put_str(w, resp->host);
    sm_wbuf_i32(w, resp->port);
}
