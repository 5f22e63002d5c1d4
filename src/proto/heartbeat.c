/* heartbeat.c: Heartbeat v0-4 (fields per Kafka's HeartbeatRequest.json /
 * HeartbeatResponse.json). */
#include "proto/heartbeat.h"

#include "proto/codec_int.h"

int sm_heartbeat_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_heartbeat_req *out)
{
    (void)a;
    bool fx = version >= SM_HEARTBEAT_FLEX;
    out->group_id = sm_codec_rd_str_fx(r, fx);
    out->generation_id = sm_rd_i32(r);
    out->member_id = sm_codec_rd_str_fx(r, fx);
    out->group_instance_id = version >= 3 ? sm_codec_rd_nstr_fx(r, fx) : SM_STR_NULL;
    sm_codec_rd_tags(r, fx);
    return sm_codec_finish(r);
}

void sm_heartbeat_resp_encode(sm_wbuf *w, int16_t version, const sm_heartbeat_resp *resp)
{
    if (version >= 1)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_wbuf_i16(w, resp->error_code);
    sm_codec_put_tags(w, version >= SM_HEARTBEAT_FLEX);
}
