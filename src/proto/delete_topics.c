/* delete_topics.c: DeleteTopics v0-4 (fields per Kafka's
 * DeleteTopicsRequest.json / DeleteTopicsResponse.json). */
#include "proto/delete_topics.h"

#include "proto/codec_int.h"

int sm_delete_topics_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_delete_topics_req *out)
{
    bool fx = version >= SM_DELETE_TOPICS_FLEX; /* v0-3 are the same */
    int oom = 0;
    out->topic_name_count = sm_codec_rd_array_fx(r, fx ? 1 : 2, false, fx);
    out->topic_names = sm_codec_alloc(a, out->topic_name_count, sizeof *out->topic_names, &oom);
    for (int32_t i = 0; i < out->topic_name_count && !r->err && !oom; i++)
        out->topic_names[i] = sm_codec_rd_str_fx(r, fx);
    out->timeout_ms = sm_rd_i32(r);
    sm_codec_rd_tags(r, fx);
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_delete_topics_resp_encode(sm_wbuf *w, int16_t version, const sm_delete_topics_resp *resp)
{
    bool fx = version >= SM_DELETE_TOPICS_FLEX;
    if (version >= 1)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_count_fx(w, resp->response_count, fx);
    for (int32_t i = 0; i < resp->response_count; i++) {
        sm_codec_put_str_fx(w, resp->responses[i].name, fx);
        sm_wbuf_i16(w, resp->responses[i].error_code);
        sm_codec_put_tags(w, fx);
    }
    sm_codec_put_tags(w, fx);
}
