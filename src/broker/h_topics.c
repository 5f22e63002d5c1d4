/* h_topics.c: the topic admin APIs: CreateTopics, DeleteTopics,
 * CreatePartitions, DeleteRecords. All are answered at once: topic creation
 * and deletion are synchronous here (topics.c), so a client that waits for
 * the metadata to settle finds it settled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "broker/api.h"
#include "broker/broker.h"
#include "broker/conn.h"
#include "broker/partition.h"
#include "broker/topics.h"
#include "proto/create_partitions.h"
#include "proto/create_topics.h"
#include "proto/delete_records.h"
#include "proto/delete_topics.h"
#include "proto/kafka.h"

#define MSG_MAX 512

static const char *client_of(sm_req *req)
{
    return req->conn ? req->conn->peer : "-";
}

/* True if names[i] appeared earlier in the list. */
static bool duplicate_before(const sm_str *names, size_t stride, int32_t i)
{
    const char *base = (const char *)names;
    sm_str mine = *(const sm_str *)(base + (size_t)i * stride);
    for (int32_t j = 0; j < i; j++)
        if (sm_str_eq(*(const sm_str *)(base + (size_t)j * stride), mine))
            return true;
    return false;
}

/* ---- CreateTopics ------------------------------------------------------------------ */

void sm_handle_create_topics(sm_req *req)
{
    sm_create_topics_req cr;
    if (sm_create_topics_req_decode(&req->body, req->hdr.api_version, &req->arena, &cr) != SM_OK) {
        sm_req_fail_connection(req, "malformed CreateTopics request");
        return;
    }
    sm_create_topics_topic_resp *res =
        sm_arena_calloc(&req->arena, (size_t)cr.topic_count + 1, sizeof *res);
    if (!res) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < cr.topic_count; i++) {
        sm_create_topics_topic *ct = &cr.topics[i];
        char msg[MSG_MAX] = "";
        int16_t err = SM_KERR_NONE;
        res[i].name = ct->name.len < 0 ? SM_STR_LIT("") : ct->name;
        sm_props configs;
        sm_props_init(&configs);
        if (duplicate_before(&cr.topics[0].name, sizeof cr.topics[0], i)) {
            err = SM_KERR_INVALID_REQUEST;
            snprintf(msg, sizeof msg, "topic '%.*s' is named more than once in the request",
                     (int)ct->name.len, ct->name.p);
        } else if (ct->assignment_count > 0) {
            err = SM_KERR_INVALID_REPLICA_ASSIGNMENT;
            snprintf(msg, sizeof msg, "manual replica assignment is not supported: samsa-broker "
                     "is a single node; give a partition count instead");
        }
        for (int32_t j = 0; j < ct->config_count && err == SM_KERR_NONE; j++) {
            sm_create_topics_config *kv = &ct->configs[j];
            if (kv->name.len <= 0 || kv->value.len < 0) {
                err = SM_KERR_INVALID_CONFIG;
                snprintf(msg, sizeof msg, "config '%.*s' has no value",
                         kv->name.len > 0 ? (int)kv->name.len : 0, kv->name.p ? kv->name.p : "");
                break;
            }
            char *k = sm_arena_strndup(&req->arena, kv->name.p, (size_t)kv->name.len);
            char *v = sm_arena_strndup(&req->arena, kv->value.p, (size_t)kv->value.len);
            if (!k || !v || sm_props_set(&configs, k, v, "CreateTopics") != SM_OK) {
                err = SM_KERR_UNKNOWN_SERVER_ERROR;
                snprintf(msg, sizeof msg, "out of memory");
            }
        }
        if (err == SM_KERR_NONE)
            err = sm_topic_create(req->b, ct->name, ct->num_partitions, ct->replication_factor,
                                  &configs, cr.validate_only, msg, sizeof msg, NULL);
        sm_props_release(&configs);
        res[i].error_code = err;
        res[i].error_message = err == SM_KERR_NONE ? SM_STR_NULL : sm_req_str(req, msg);
        if (err != SM_KERR_NONE && err != SM_KERR_TOPIC_ALREADY_EXISTS)
            sm_log_limited(SM_LOG_INFO, "CreateTopics from %s: %s: %s", client_of(req),
                           sm_kerr_name(err), msg);
    }
    sm_create_topics_resp resp = {0, cr.topic_count, res};
    sm_resp_begin(req);
    sm_create_topics_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}

/* ---- DeleteTopics ------------------------------------------------------------------ */

void sm_handle_delete_topics(sm_req *req)
{
    sm_delete_topics_req dr;
    if (sm_delete_topics_req_decode(&req->body, req->hdr.api_version, &req->arena, &dr) != SM_OK) {
        sm_req_fail_connection(req, "malformed DeleteTopics request");
        return;
    }
    sm_delete_topics_topic_resp *res =
        sm_arena_calloc(&req->arena, (size_t)dr.topic_name_count + 1, sizeof *res);
    if (!res) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < dr.topic_name_count; i++) {
        sm_str name = dr.topic_names[i];
        res[i].name = name.len < 0 ? SM_STR_LIT("") : name;
        sm_topic *t = sm_topic_find(req->b, name);
        if (!req->b->cfg.delete_topic_enable) /* TOPIC_DELETION_DISABLED is known from v3 */
            res[i].error_code = req->hdr.api_version >= 3 ? SM_KERR_TOPIC_DELETION_DISABLED
                                                          : SM_KERR_INVALID_REQUEST;
        else if (!t)
            res[i].error_code = SM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        else
            res[i].error_code = sm_topic_delete(req->b, t);
    }
    sm_delete_topics_resp resp = {0, dr.topic_name_count, res};
    sm_resp_begin(req);
    sm_delete_topics_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}

/* ---- CreatePartitions ------------------------------------------------------------------ */

void sm_handle_create_partitions(sm_req *req)
{
    sm_create_partitions_req cr;
    if (sm_create_partitions_req_decode(&req->body, req->hdr.api_version, &req->arena, &cr) !=
        SM_OK) {
        sm_req_fail_connection(req, "malformed CreatePartitions request");
        return;
    }
    sm_create_partitions_topic_resp *res =
        sm_arena_calloc(&req->arena, (size_t)cr.topic_count + 1, sizeof *res);
    if (!res) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < cr.topic_count; i++) {
        sm_create_partitions_topic *ct = &cr.topics[i];
        char msg[MSG_MAX] = "";
        int16_t err;
        res[i].name = ct->name.len < 0 ? SM_STR_LIT("") : ct->name;
        sm_topic *t = sm_topic_find(req->b, ct->name);
        if (duplicate_before(&cr.topics[0].name, sizeof cr.topics[0], i)) {
            err = SM_KERR_INVALID_REQUEST;
            snprintf(msg, sizeof msg, "topic named more than once in the request");
        } else if (!t) {
            err = SM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            snprintf(msg, sizeof msg, "topic '%.*s' does not exist",
                     ct->name.len > 0 ? (int)ct->name.len : 0, ct->name.p ? ct->name.p : "");
        } else if (ct->assignment_count > 0) {
            err = SM_KERR_INVALID_REPLICA_ASSIGNMENT;
            snprintf(msg, sizeof msg, "manual replica assignment is not supported on a single node");
        } else {
            err = sm_topic_add_partitions(req->b, t, ct->count, cr.validate_only, msg, sizeof msg);
        }
        res[i].error_code = err;
        res[i].error_message = err == SM_KERR_NONE ? SM_STR_NULL : sm_req_str(req, msg);
    }
    sm_create_partitions_resp resp = {0, cr.topic_count, res};
    sm_resp_begin(req);
    sm_create_partitions_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}

/* ---- DeleteRecords ------------------------------------------------------------------ */

void sm_handle_delete_records(sm_req *req)
{
    sm_delete_records_req dr;
    if (sm_delete_records_req_decode(&req->body, req->hdr.api_version, &req->arena, &dr) != SM_OK) {
        sm_req_fail_connection(req, "malformed DeleteRecords request");
        return;
    }
    sm_delete_records_resp resp = {0, dr.topic_count, NULL};
    resp.topics = sm_arena_calloc(&req->arena, (size_t)dr.topic_count + 1, sizeof *resp.topics);
    if (!resp.topics) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < dr.topic_count; i++) {
        sm_delete_records_topic *dt = &dr.topics[i];
        sm_delete_records_topic_resp *rt = &resp.topics[i];
        rt->name = dt->name;
        rt->partition_count = dt->partition_count;
        rt->partitions =
            sm_arena_calloc(&req->arena, (size_t)dt->partition_count + 1, sizeof *rt->partitions);
        if (!rt->partitions) {
            sm_req_fail_connection(req, "out of memory");
            return;
        }
        sm_topic *t = sm_topic_find(req->b, dt->name);
        for (int32_t j = 0; j < dt->partition_count; j++) {
            const sm_delete_records_partition *p = &dt->partitions[j];
            sm_delete_records_partition_resp *rp = &rt->partitions[j];
            rp->partition_index = p->partition_index;
            rp->low_watermark = -1;
            if (!t || p->partition_index < 0 || p->partition_index >= t->npart) {
                rp->error_code = SM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            sm_plog *log = t->parts[p->partition_index]->log;
            int64_t to =
                p->offset == SM_DELETE_RECORDS_HIGH_WATERMARK ? sm_plog_end_offset(log) : p->offset;
            char err[256];
            int rc = to < 0 ? SM_ERANGE : sm_plog_delete_records(log, to, err, sizeof err);
            if (rc == SM_ERANGE) {
                rp->error_code = SM_KERR_OFFSET_OUT_OF_RANGE;
            } else if (rc != SM_OK) {
                sm_log_limited(SM_LOG_ERROR, "DeleteRecords on %s-%d: %s", t->name,
                               p->partition_index, err);
                rp->error_code = SM_KERR_KAFKA_STORAGE_ERROR;
            } else {
                rp->low_watermark = sm_plog_start_offset(log);
                sm_info("DeleteRecords: %s-%d now starts at offset %lld", t->name,
                        p->partition_index, (long long)rp->low_watermark);
            }
        }
    }
    sm_resp_begin(req);
    sm_delete_records_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}
