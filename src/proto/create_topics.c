/* create_topics.c: CreateTopics v0-4 (fields per Kafka's
 * CreateTopicsRequest.json / CreateTopicsResponse.json). */
#include "proto/create_topics.h"

#include "proto/codec_int.h"

int sm_create_topics_req_decode(sm_rd *r, int16_t version, sm_arena *a, sm_create_topics_req *out)
{
    int oom = 0;
    /* topic: Name 2 + NumPartitions 4 + ReplicationFactor 2 + two counts 8 */
    out->topic_count = sm_rd_array(r, 16, false);
    out->topics = sm_codec_alloc(a, out->topic_count, sizeof *out->topics, &oom);
    for (int32_t i = 0; i < out->topic_count && !r->err && !oom; i++) {
        sm_create_topics_topic *t = &out->topics[i];
        t->name = sm_codec_rd_str(r);
        t->num_partitions = sm_rd_i32(r);
        t->replication_factor = sm_rd_i16(r);
        /* assignment: PartitionIndex 4 + BrokerIds count 4 */
        t->assignment_count = sm_rd_array(r, 8, false);
        t->assignments = sm_codec_alloc(a, t->assignment_count, sizeof *t->assignments, &oom);
        for (int32_t j = 0; j < t->assignment_count && !r->err && !oom; j++) {
            sm_create_topics_assignment *as = &t->assignments[j];
            as->partition_index = sm_rd_i32(r);
            as->broker_id_count = sm_codec_rd_i32_array(r, a, &as->broker_ids, &oom);
        }
        /* config: Name 2 + Value 2 */
        t->config_count = sm_rd_array(r, 4, false);
        t->configs = sm_codec_alloc(a, t->config_count, sizeof *t->configs, &oom);
        for (int32_t j = 0; j < t->config_count && !r->err && !oom; j++) {
            t->configs[j].name = sm_codec_rd_str(r);
            t->configs[j].value = sm_rd_str(r);
        }
    }
    out->timeout_ms = sm_rd_i32(r);
    out->validate_only = version >= 1 ? sm_rd_bool(r) : false;
    if (oom)
        return SM_ENOMEM;
    return sm_codec_finish(r);
}

void sm_create_topics_resp_encode(sm_wbuf *w, int16_t version, const sm_create_topics_resp *resp)
{
    if (version >= 2)
        sm_wbuf_i32(w, resp->throttle_time_ms);
    sm_codec_put_count(w, resp->topic_count);
    for (int32_t i = 0; i < resp->topic_count; i++) {
        const sm_create_topics_topic_resp *t = &resp->topics[i];
        sm_codec_put_str(w, t->name);
        sm_wbuf_i16(w, t->error_code);
        /* ErrorMessage: "versions": "1+", "nullableVersions": "0+" in the
         * JSON, i.e. nullable wherever it is present */
        if (version >= 1)
            sm_codec_put_nstr(w, t->error_message);
    }
}
