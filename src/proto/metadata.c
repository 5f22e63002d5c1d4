/* metadata.c: Metadata request/response codec, versions 0-6. */
#include "proto/metadata.h"

#include "base/err.h"
#include "proto/codec_int.h"

int sm_metadata_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_metadata_req *out)
{
    out->topic_count = sm_rd_array(r, 2, version >= 1);
    out->topics = NULL;
    if (out->topic_count > 0) {
        out->topics = sm_arena_calloc(a, (size_t)out->topic_count, sizeof *out->topics);
        if (!out->topics)
            return SM_ENOMEM;
        for (int32_t i = 0; i < out->topic_count && !r->err; i++)
            out->topics[i] = sm_codec_rd_str(r);
    }
    if (version == 0 && out->topic_count == 0)
        out->topic_count = -1; /* v0: an empty list means every topic */
    out->allow_auto_topic_creation = version >= 4 ? sm_rd_bool(r) : true;
    return sm_codec_finish(r);
}

void sm_metadata_resp_encode(sm_wbuf *w, int16_t version, const sm_metadata_resp *resp)
{
    if (version >= 3)
        sm_wbuf_i32(w, 0); /* ThrottleTimeMs */
    sm_wbuf_i32(w, resp->broker_count);
    for (int32_t i = 0; i < resp->broker_count; i++) {
        const sm_metadata_broker *b = &resp->brokers[i];
        sm_wbuf_i32(w, b->node_id);
        sm_codec_put_str(w, b->host);
        sm_wbuf_i32(w, b->port);
        if (version >= 1)
            sm_codec_put_nstr(w, b->rack);
    }
    if (version >= 2)
        sm_codec_put_nstr(w, resp->cluster_id);
    if (version >= 1)
        sm_wbuf_i32(w, resp->controller_id);
    sm_wbuf_i32(w, resp->topic_count);
    for (int32_t i = 0; i < resp->topic_count; i++) {
        const sm_metadata_topic *t = &resp->topics[i];
        sm_wbuf_i16(w, t->error_code);
        sm_codec_put_str(w, t->name);
        if (version >= 1)
            sm_wbuf_bool(w, t->is_internal);
        sm_wbuf_i32(w, t->partition_count);
        for (int32_t j = 0; j < t->partition_count; j++) {
            const sm_metadata_part *p = &t->partitions[j];
            sm_wbuf_i16(w, p->error_code);
            sm_wbuf_i32(w, p->partition_index);
            sm_wbuf_i32(w, p->leader_id);
            int n = p->leader_id >= 0 ? 1 : 0;
            sm_wbuf_i32(w, n); /* ReplicaNodes */
            if (n)
                sm_wbuf_i32(w, p->leader_id);
            sm_wbuf_i32(w, n); /* IsrNodes */
            if (n)
                sm_wbuf_i32(w, p->leader_id);
            if (version >= 5)
                sm_wbuf_i32(w, 0); /* OfflineReplicas */
        }
    }
}
