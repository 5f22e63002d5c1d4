/* h_configs.c: DescribeConfigs and AlterConfigs, for topics (their
 * overrides and effective values, topics.c) and for the broker (its
 * properties, config.c: read-only here, as on a Kafka broker without
 * dynamic configs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "broker/api.h"
#include "broker/broker.h"
#include "broker/conn.h"
#include "broker/topics.h"
#include "proto/alter_configs.h"
#include "proto/describe_configs.h"
#include "proto/kafka.h"

#define MSG_MAX 512

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
    e->name = sm_req_str(c->req, name);
    e->value = sm_req_str(c->req, value);
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
                out->error_message = sm_req_str(req, "this is the only broker; its node.id is in "
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
        out->error_message = err == SM_KERR_NONE ? SM_STR_NULL : sm_req_str(req, msg);
    }
    sm_alter_configs_resp resp = {0, ar.resource_count, res};
    sm_resp_begin(req);
    sm_alter_configs_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}
