/* find_coordinator.c: FindCoordinator v0-5 (fields per Kafka's
 * FindCoordinatorRequest.json / FindCoordinatorResponse.json). */
#include "proto/find_coordinator.h"

#include "proto/codec_int.h"

int sm_find_coordinator_req_decode(sm_rd *r, int16_t version, sm_arena *a,
                                   sm_find_coordinator_req *out)
{
    bool fx = version >= SM_FIND_COORDINATOR_FLEX;
    int oom = 0;
    out->key = version <= 3 ? sm_codec_rd_str_fx(r, fx) : SM_STR_NULL;
    out->key_type = version >= 1 ? sm_rd_i8(r) : SM_COORDINATOR_KEY_GROUP;
    if (version >= 4) {
        out->key_count = sm_codec_rd_array_fx(r, 1, false, fx);
        out->keys = sm_codec_alloc(a, out->key_count, sizeof *out->keys, &oom);
        for (int32_t i = 0; i < out->key_count && !r->err && !oom; i++)
            out->keys[i] = sm_codec_rd_str_fx(r, fx);
    } else {
        out->key_count = 1;
        out->keys = sm_codec_alloc(a, 1, sizeof *out->keys, &oom);
        if (out->keys)
            out->keys[0] = out->key;
    }
    sm_codec_rd_tags(r, fx);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_find_coordinator_resp_encode(sm_wbuf *w, int16_t version,
                                     const sm_find_coordinator_resp *resp)
{
    bool fx = version >= SM_FIND_COORDINATOR_FLEX;
    if (version >= 1)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    if (version >= 4) {
        sm_codec_put_count_fx(w, resp->coordinator_count, fx);
        for (int32_t i = 0; i < resp->coordinator_count; i++) {
            const sm_find_coordinator_one *c = &resp->coordinators[i];
            sm_codec_put_str_fx(w, c->key, fx);
            sm_wbuf_i32(w, c->node_id);
            sm_codec_put_str_fx(w, c->host, fx);
            sm_wbuf_i32(w, c->port);
            sm_wbuf_i16(w, c->error_code);
            sm_codec_put_nstr_fx(w, c->error_message, fx);
            sm_codec_put_tags(w, fx);
        }
    } else {
        const sm_find_coordinator_one *c = &resp->coordinators[0];
        sm_wbuf_i16(w, c->error_code);
        if (version >= 1)
            sm_codec_put_nstr_fx(w, c->error_message, fx);
        sm_wbuf_i32(w, c->node_id);
        sm_codec_put_str_fx(w, c->host, fx);
        sm_wbuf_i32(w, c->port);
    }
    sm_codec_put_tags(w, fx);
}
