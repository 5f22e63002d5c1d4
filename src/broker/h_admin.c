/* h_admin.c: the admin APIs: CreateTopics, DeleteTopics,
 * CreatePartitions, DeleteRecords, DescribeConfigs, AlterConfigs. All are
 * answered at once: topic creation and deletion are synchronous here, so a
 * client that waits for the metadata to settle finds it settled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "broker/broker.h"
#include "proto/alter_configs.h"
#include "proto/create_partitions.h"
#include "proto/create_topics.h"
#include "proto/delete_records.h"
#include "proto/delete_topics.h"
#include "proto/describe_configs.h"

#define MSG_MAX 512

static sm_str arena_msg(sm_req *req, const char *msg)
{
    size_t n = strlen(msg);
    char *p = sm_arena_strndup(&req->arena, msg, n);
    return p ? (sm_str){p, (int32_t)n} : SM_STR_NULL;
}

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
        res[i].error_message = err == SM_KERR_NONE ? SM_STR_NULL : arena_msg(req, msg);
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
        res[i].error_message = err == SM_KERR_NONE ? SM_STR_NULL : arena_msg(req, msg);
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

/* ---- DescribeConfigs ------------------------------------------------------------------ */

typedef struct collect {
    sm_req *req;
    const sm_describe_configs_resource *filter;
    sm_describe_configs_config *v;
    int32_t n, cap;
    bool oom;
} collect;

static bool wanted(const sm_describe_configs_resource *f, const char *name)
{
    if (f->configuration_key_count < 0)
        return true;
    for (int32_t i = 0; i < f->configuration_key_count; i++)
        if (sm_str_eqc(f->configuration_keys[i], name))
            return true;
    return false;
}

static void add_entry(collect *c, const char *name, const char *value, int source, bool read_only)
{
    if (c->oom || !wanted(c->filter, name))
        return;
    if (c->n == c->cap) {
        int32_t cap = c->cap ? c->cap * 2 : 64;
        sm_describe_configs_config *nv = sm_arena_calloc(&c->req->arena, (size_t)cap, sizeof *nv);
        if (!nv) {
            c->oom = true;
            return;
        }
        if (c->n)
            memcpy(nv, c->v, (size_t)c->n * sizeof *nv);
        c->v = nv;
        c->cap = cap;
    }
    sm_describe_configs_config *e = &c->v[c->n++];
    e->name = arena_msg(c->req, name);
    e->value = arena_msg(c->req, value);
    e->read_only = read_only;
    e->config_source = (int8_t)source;
    e->is_sensitive = false;
}

static void topic_entry(const char *name, const char *value, int source, bool read_only,
                        void *arg)
{
    add_entry(arg, name, value, source, read_only);
}

static void broker_entry(const char *name, const char *value, bool is_default, bool read_only,
                         void *arg)
{
    add_entry(arg, name, value,
              is_default ? SM_CONFIG_SOURCE_DEFAULT_CONFIG : SM_CONFIG_SOURCE_STATIC_BROKER_CONFIG,
              read_only);
}

void sm_handle_describe_configs(sm_req *req)
{
    sm_broker *b = req->b;
    sm_describe_configs_req dr;
    if (sm_describe_configs_req_decode(&req->body, req->hdr.api_version, &req->arena, &dr) !=
        SM_OK) {
        sm_req_fail_connection(req, "malformed DescribeConfigs request");
        return;
    }
    sm_describe_configs_result *res =
        sm_arena_calloc(&req->arena, (size_t)dr.resource_count + 1, sizeof *res);
    if (!res) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    char node[16];
    snprintf(node, sizeof node, "%d", b->cfg.node_id);
    sm_map seen; /* a resource named twice is an error, as in Kafka */
    sm_map_init(&seen);
    for (int32_t i = 0; i < dr.resource_count; i++) {
        const sm_describe_configs_resource *rr = &dr.resources[i];
        sm_describe_configs_result *out = &res[i];
        out->resource_type = rr->resource_type;
        out->resource_name = rr->resource_name.len < 0 ? SM_STR_LIT("") : rr->resource_name;
        out->error_message = SM_STR_NULL;
        collect c = {req, rr, NULL, 0, 0, false};
        char key[300];
        int nl = rr->resource_name.len > 250 ? 250 : (rr->resource_name.len > 0 ? rr->resource_name.len : 0);
        int kl = snprintf(key, sizeof key, "%d/%.*s", rr->resource_type, nl,
                          nl ? rr->resource_name.p : "");
        if (sm_map_get(&seen, key, (size_t)kl)) {
            out->error_code = SM_KERR_INVALID_REQUEST;
            out->error_message = SM_STR_LIT("resource named more than once in the request");
            continue;
        }
        if (sm_map_put(&seen, key, (size_t)kl, &seen) != SM_OK) {
            sm_map_release(&seen);
            sm_req_fail_connection(req, "out of memory");
            return;
        }
        if (rr->resource_type == SM_RESOURCE_TOPIC) {
            sm_topic *t = sm_topic_find(b, rr->resource_name);
            if (!sm_topic_name_valid(rr->resource_name.p, rr->resource_name.len)) {
                out->error_code = SM_KERR_INVALID_TOPIC_EXCEPTION;
                out->error_message = SM_STR_LIT("invalid topic name");
            } else if (!t) {
                out->error_code = SM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                out->error_message = SM_STR_LIT("no such topic");
            } else {
                sm_topic_config_visit(b, t, topic_entry, &c);
            }
        } else if (rr->resource_type == SM_RESOURCE_BROKER) {
            if (rr->resource_name.len > 0 && !sm_str_eqc(rr->resource_name, node)) {
                out->error_code = SM_KERR_INVALID_REQUEST;
                out->error_message = arena_msg(req, "this is the only broker; its node.id is in "
                                                    "the metadata");
            } else {
                sm_broker_config_visit(&b->cfg, broker_entry, &c);
            }
        } else {
            out->error_code = SM_KERR_INVALID_REQUEST;
            out->error_message = SM_STR_LIT("only TOPIC (2) and BROKER (4) resources are supported");
        }
        if (c.oom) {
            sm_map_release(&seen);
            sm_req_fail_connection(req, "out of memory");
            return;
        }
        out->configs = c.v;
        out->config_count = c.n;
    }
    sm_map_release(&seen);
    sm_describe_configs_resp resp = {0, dr.resource_count, res};
    sm_resp_begin(req);
    sm_describe_configs_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}

/* ---- AlterConfigs ------------------------------------------------------------------ */

void sm_handle_alter_configs(sm_req *req)
{
    sm_alter_configs_req ar;
    if (sm_alter_configs_req_decode(&req->body, req->hdr.api_version, &req->arena, &ar) != SM_OK) {
        sm_req_fail_connection(req, "malformed AlterConfigs request");
        return;
    }
    sm_alter_configs_resource_resp *res =
        sm_arena_calloc(&req->arena, (size_t)ar.resource_count + 1, sizeof *res);
    if (!res) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < ar.resource_count; i++) {
        const sm_alter_configs_resource *rr = &ar.resources[i];
        sm_alter_configs_resource_resp *out = &res[i];
        out->resource_type = rr->resource_type;
        out->resource_name = rr->resource_name.len < 0 ? SM_STR_LIT("") : rr->resource_name;
        char msg[MSG_MAX] = "";
        if (rr->resource_type != SM_RESOURCE_TOPIC) {
            out->error_code = SM_KERR_INVALID_REQUEST;
            out->error_message = SM_STR_LIT("broker configs are static: set them in "
                                            "server.properties or with --override");
            continue;
        }
        sm_topic *t = sm_topic_find(req->b, rr->resource_name);
        if (!t) {
            out->error_code = SM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            out->error_message = SM_STR_LIT("no such topic");
            continue;
        }
        sm_props configs;
        sm_props_init(&configs);
        int16_t err = SM_KERR_NONE;
        for (int32_t j = 0; j < rr->config_count && err == SM_KERR_NONE; j++) {
            const sm_alter_configs_config *kv = &rr->configs[j];
            if (kv->name.len <= 0) {
                err = SM_KERR_INVALID_CONFIG;
                snprintf(msg, sizeof msg, "a config with an empty name");
                break;
            }
            if (kv->value.len < 0)
                continue; /* null: back to the default, i.e. not set */
            char *k = sm_arena_strndup(&req->arena, kv->name.p, (size_t)kv->name.len);
            char *v = sm_arena_strndup(&req->arena, kv->value.p, (size_t)kv->value.len);
            if (!k || !v || sm_props_set(&configs, k, v, "AlterConfigs") != SM_OK) {
                err = SM_KERR_UNKNOWN_SERVER_ERROR;
                snprintf(msg, sizeof msg, "out of memory");
            }
        }
        if (err == SM_KERR_NONE)
            err = sm_topic_set_configs(req->b, t, &configs, ar.validate_only, msg, sizeof msg);
        sm_props_release(&configs);
        out->error_code = err;
        out->error_message = err == SM_KERR_NONE ? SM_STR_NULL : arena_msg(req, msg);
    }
    sm_alter_configs_resp resp = {0, ar.resource_count, res};
    sm_resp_begin(req);
    sm_alter_configs_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}
