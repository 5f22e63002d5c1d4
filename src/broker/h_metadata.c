/* h_metadata.c: Metadata. One broker, which leads every partition and is
 * the controller. Topics named in the request that do not exist are
 * auto-created when both the broker and the request allow it; creation is
 * synchronous, so the first answer already carries the partitions. */
#include <string.h>

#include "base/err.h"
#include "broker/api.h"
#include "broker/broker.h"
#include "broker/conn.h"
#include "broker/topics.h"
#include "proto/kafka.h"
#include "proto/metadata.h"

/* v10-v11 name every topic (Kafka speaks ids from v12): a topic given by id
 * or with a null name fails the whole request, answered as Kafka's
 * MetadataRequest.getErrorResponse answers its InvalidRequestException:
 * every topic INVALID_REQUEST with its name ("" for null) and id, no
 * brokers, no cluster id, controller -1. */
static bool ids_refused(sm_req *req, const sm_metadata_req *mr)
{
    static const uint8_t zero[16];
    if (req->hdr.api_version < 10 || req->hdr.api_version >= 12 || mr->topic_count <= 0)
        return false;
    bool bad = false;
    for (int32_t i = 0; i < mr->topic_count; i++)
        bad = bad || mr->topics[i].len < 0 || memcmp(mr->topic_ids[i], zero, 16) != 0;
    if (!bad)
        return false;
    sm_metadata_topic *ts = sm_arena_calloc(&req->arena, (size_t)mr->topic_count, sizeof *ts);
    if (!ts) {
        sm_req_fail_connection(req, "out of memory");
        return true;
    }
    for (int32_t i = 0; i < mr->topic_count; i++) {
        ts[i].error_code = SM_KERR_INVALID_REQUEST;
        ts[i].name = mr->topics[i].len < 0 ? SM_STR_LIT("") : mr->topics[i];
        ts[i].topic_authorized_operations = SM_ACL_OPS_OMITTED;
        memcpy(ts[i].topic_id, mr->topic_ids[i], 16);
    }
    sm_metadata_resp resp = {.cluster_id = SM_STR_NULL,
                             .controller_id = -1,
                             .topic_count = mr->topic_count,
                             .topics = ts,
                             .cluster_authorized_operations = SM_ACL_OPS_OMITTED};
    sm_resp_begin(req);
    sm_metadata_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
    return true;
}

static bool fill_topic(sm_req *req, sm_metadata_topic *mt, sm_topic *t, bool ops)
{
    mt->error_code = SM_KERR_NONE;
    /* no authorizer: every operation a topic supports, as Kafka answers */
    mt->topic_authorized_operations = ops ? SM_ACL_OPS_TOPIC : SM_ACL_OPS_OMITTED;
    mt->name = sm_str_c(t->name);
    memcpy(mt->topic_id, t->id, sizeof mt->topic_id);
    mt->is_internal = false;
    mt->partition_count = t->npart;
    mt->partitions = sm_arena_calloc(&req->arena, (size_t)t->npart, sizeof *mt->partitions);
    if (!mt->partitions)
        return false;
    for (int32_t i = 0; i < t->npart; i++)
        mt->partitions[i] =
            (sm_metadata_part){SM_KERR_NONE, i, req->b->cfg.node_id, SM_LEADER_EPOCH};
    return true;
}

/* One topic asked for: the topic when it exists (t), else err with the name
 * as asked (the topic id stays as the caller set it: zero, or the unknown id
 * echoed). False when out of memory. */
static bool answer_topic(sm_req *req, sm_metadata_topic *mt, sm_topic *t, sm_str name,
                         int16_t err, bool ops)
{
    if (t)
        return fill_topic(req, mt, t, ops);
    mt->error_code = err;
    mt->topic_authorized_operations = SM_ACL_OPS_OMITTED;
    mt->name = name;
    return true;
}

void sm_handle_metadata(sm_req *req)
{
    sm_broker *b = req->b;
    sm_metadata_req mr;
    if (sm_metadata_req_decode(&req->body, req->hdr.api_version, &req->arena, &mr) != SM_OK) {
        sm_req_fail_connection(req, "malformed Metadata request");
        return;
    }
    if (ids_refused(req, &mr))
        return;
    sm_metadata_broker self = {b->cfg.node_id, sm_str_c(b->adv_host), b->adv_port, SM_STR_NULL};
    sm_metadata_resp resp = {.broker_count = 1,
                             .brokers = &self,
                             .cluster_id = sm_str_c(b->cluster_id),
                             .controller_id = b->cfg.node_id,
                             .cluster_authorized_operations =
                                 mr.include_cluster_authorized_operations ? SM_ACL_OPS_CLUSTER
                                                                          : SM_ACL_OPS_OMITTED};
    if (mr.topic_count < 0) {
        resp.topic_count = (int32_t)b->topics.len;
        resp.topics = sm_arena_calloc(&req->arena, b->topics.len + 1, sizeof *resp.topics);
        if (!resp.topics) {
            sm_req_fail_connection(req, "out of memory");
            return;
        }
        const char *name;
        void *v;
        int32_t k = 0;
        for (size_t it = 0; sm_map_next(&b->topics, &it, &name, &v);) {
            if (!fill_topic(req, &resp.topics[k++], v, mr.include_topic_authorized_operations)) {
                sm_req_fail_connection(req, "out of memory");
                return;
            }
        }
    } else {
        resp.topic_count = mr.topic_count;
        resp.topics = sm_arena_calloc(&req->arena, (size_t)mr.topic_count + 1, sizeof *resp.topics);
        if (!resp.topics) {
            sm_req_fail_connection(req, "out of memory");
            return;
        }
        /* a topic named twice is answered once, as Kafka does */
        sm_map seen;
        sm_map_init(&seen);
        sm_autocreate ac;
        sm_autocreate_init(b, &ac);
        resp.topic_count = 0;
        static const uint8_t zero[16];
        for (int32_t i = 0; i < mr.topic_count; i++) {
            sm_str name = mr.topics[i];
            const uint8_t *id = mr.topic_ids[i];
            if (memcmp(id, zero, 16) != 0 || name.len < 0) {
                /* by id (v12; refused before, ids_refused): never
                 * auto-created; an unknown id is UNKNOWN_TOPIC_ID with a
                 * null name and the id asked for, as KafkaApis answers */
                sm_metadata_topic *mt = &resp.topics[resp.topic_count++];
                sm_topic *t = NULL;
                int16_t err = SM_KERR_INVALID_REQUEST; /* neither a name nor an id */
                if (memcmp(id, zero, 16) != 0 && !(t = sm_topic_find_id(b, id))) {
                    err = SM_KERR_UNKNOWN_TOPIC_ID;
                    memcpy(mt->topic_id, id, 16);
                }
                if (!answer_topic(req, mt, t, name, err, mr.include_topic_authorized_operations)) {
                    sm_map_release(&seen);
                    sm_req_fail_connection(req, "out of memory");
                    return;
                }
                continue;
            }
            size_t nl = name.len > 0 ? (size_t)name.len : 0;
            if (sm_map_get(&seen, nl ? name.p : "", nl))
                continue;
            if (sm_map_put(&seen, nl ? name.p : "", nl, &seen) != SM_OK) {
                sm_map_release(&seen);
                sm_req_fail_connection(req, "out of memory");
                return;
            }
            sm_metadata_topic *mt = &resp.topics[resp.topic_count++];
            int16_t err = SM_KERR_NONE;
            sm_topic *t = sm_topic_get_or_autocreate(b, name, mr.allow_auto_topic_creation, &ac,
                                                     &err);
            if (!answer_topic(req, mt, t, name, err, mr.include_topic_authorized_operations)) {
                sm_map_release(&seen);
                sm_req_fail_connection(req, "out of memory");
                return;
            }
        }
        sm_map_release(&seen);
        sm_autocreate_report(req, &ac);
    }
    sm_resp_begin(req);
    sm_metadata_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}
