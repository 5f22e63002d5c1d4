/* metadata.c: Metadata request/response codec, versions 0-12 (fields per
 * Kafka's MetadataRequest.json / MetadataResponse.json; v9 is flexible). */
#include "proto/metadata.h"

#include "base/err.h"
#include "proto/codec_int.h"

int sm_metadata_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_metadata_req *out)
{
    bool fx = version >= SM_METADATA_FLEX;
    out->topic_count = sm_codec_rd_array_fx(r, version >= 10 ? 18 : 2, version >= 1, fx);
    out->topics = NULL;
    out->topic_ids = NULL;
    if (out->topic_count > 0) {
        out->topics = sm_arena_calloc(a, (size_t)out->topic_count, sizeof *out->topics);
        out->topic_ids = sm_arena_calloc(a, (size_t)out->topic_count, sizeof *out->topic_ids);
        if (!out->topics || !out->topic_ids)
            return SM_ENOMEM;
        for (int32_t i = 0; i < out->topic_count && !r->err; i++) {
            if (version >= 10)
                sm_codec_rd_uuid(r, out->topic_ids[i]);
            out->topics[i] = version >= 10 ? sm_codec_rd_nstr_fx(r, fx) : sm_codec_rd_str_fx(r, fx);
            sm_codec_rd_tags(r, fx);
        }
    }
    if (version == 0 && out->topic_count == 0)
        out->topic_count = -1; /* v0: an empty list means every topic */
    out->allow_auto_topic_creation = version >= 4 ? sm_rd_bool(r) : true;
    out->include_cluster_authorized_operations =
        version >= 8 && version <= 10 ? sm_rd_bool(r) : false;
    out->include_topic_authorized_operations = version >= 8 ? sm_rd_bool(r) : false;
    sm_codec_rd_tags(r, fx);
    /* v10+: bytes after the end are ignored, as Kafka ignores them (it never
     * checks that a request body was read to its end): librdkafka 2.16
     * sends Metadata v10-v12 requests with 3 bytes more than the
     * definition holds, and Kafka answers them */
    if (version >= 10 && !r->err)
        r->p = r->end;
    return sm_codec_finish(r);
}

static void put_nodes(sm_wbuf *w, int32_t leader_id, bool fx)
{
    int32_t n = leader_id >= 0 ? 1 : 0;
    sm_codec_put_count_fx(w, n, fx);
    if (n)
        sm_wbuf_i32(w, leader_id);
}

void sm_metadata_resp_encode(sm_wbuf *w, int16_t version, const sm_metadata_resp *resp)
{
    bool fx = version >= SM_METADATA_FLEX;
    if (version >= 3)
        sm_wbuf_i32(w, 0); /* ThrottleTimeMs */
    sm_codec_put_count_fx(w, resp->broker_count, fx);
    for (int32_t i = 0; i < resp->broker_count; i++) {
        const sm_metadata_broker *b = &resp->brokers[i];
        sm_wbuf_i32(w, b->node_id);
        sm_codec_put_str_fx(w, b->host, fx);
        sm_wbuf_i32(w, b->port);
        if (version >= 1)
            sm_codec_put_nstr_fx(w, b->rack, fx);
        sm_codec_put_tags(w, fx);
    }
    if (version >= 2)
        sm_codec_put_nstr_fx(w, resp->cluster_id, fx);
    if (version >= 1)
        sm_wbuf_i32(w, resp->controller_id);
    sm_codec_put_count_fx(w, resp->topic_count, fx);
    for (int32_t i = 0; i < resp->topic_count; i++) {
        const sm_metadata_topic *t = &resp->topics[i];
        sm_wbuf_i16(w, t->error_code);
        if (version >= 12)
            sm_codec_put_nstr_fx(w, t->name, fx);
        else
            sm_codec_put_str_fx(w, t->name.len < 0 ? SM_STR_LIT("") : t->name, fx);
        if (version >= 10)
            sm_codec_put_uuid(w, t->topic_id);
        if (version >= 1)
            sm_wbuf_bool(w, t->is_internal);
        sm_codec_put_count_fx(w, t->partition_count, fx);
        for (int32_t j = 0; j < t->partition_count; j++) {
            const sm_metadata_part *p = &t->partitions[j];
            sm_wbuf_i16(w, p->error_code);
            sm_wbuf_i32(w, p->partition_index);
            sm_wbuf_i32(w, p->leader_id);
            if (version >= 7)
                sm_wbuf_i32(w, p->leader_epoch);
            put_nodes(w, p->leader_id, fx); /* ReplicaNodes */
            put_nodes(w, p->leader_id, fx); /* IsrNodes */
            if (version >= 5)
                sm_codec_put_count_fx(w, 0, fx); /* OfflineReplicas */
            sm_codec_put_tags(w, fx);
        }
        if (version >= 8)
            sm_wbuf_i32(w, t->topic_authorized_operations);
        sm_codec_put_tags(w, fx);
    }
    if (version >= 8 && version <= 10)
        sm_wbuf_i32(w, resp->cluster_authorized_operations);
    sm_codec_put_tags(w, fx);
}
