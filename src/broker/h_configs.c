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
#include "proto/incremental_alter_configs.h"
#include "proto/kafka.h"

#define MSG_MAX 512

/* ---- DescribeConfigs ------------------------------------------------------------------ */

typedef struct collect {
    sm_req *req;
    const sm_describe_configs_resource *filter;
    sm_describe_configs_config *v;
    int32_t n, cap;
    bool oom;
    bool synonyms; /* the request's include_synonyms */
    bool topic;    /* a TOPIC resource (else BROKER) */
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
    if (!c->synonyms)
        return;
    /* Kafka's order of precedence, the entry's own source first: a topic's
     * own value, then what the topic falls back to (the broker property that
     * gives the default, or the default itself); a broker config is its own
     * only synonym (they are all static). Consoles show the fallback as the
     * config's default value. */
    sm_describe_configs_synonym *syn = sm_arena_calloc(&c->req->arena, 2, sizeof *syn);
    if (!syn) {
        c->oom = true;
        return;
    }
    int n = 0;
    if (!c->topic || source == SM_CONFIG_SOURCE_TOPIC_CONFIG)
        syn[n++] = (sm_describe_configs_synonym){e->name, e->value, (int8_t)source};
    char buf[64];
    const char *dv, *from;
    int ds;
    if (c->topic && (ds = sm_topic_config_default(c->req->b, name, buf, sizeof buf, &dv, &from)) > 0)
        syn[n++] = (sm_describe_configs_synonym){sm_req_str(c->req, from), sm_req_str(c->req, dv),
                                                 (int8_t)ds};
    e->synonym_count = n;
    e->synonyms = syn;
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
        collect c = {req, rr, NULL, 0, 0, false, dr.include_synonyms,
                     rr->resource_type == SM_RESOURCE_TOPIC};
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

/* ---- IncrementalAlterConfigs -------------------------------------------------------------- */

/* Kafka's topic configs of type LIST, the only ones APPEND and SUBTRACT
 * apply to (TopicConfig / LogConfig). */
static bool list_config(sm_str name)
{
    return sm_str_eqc(name, "cleanup.policy") ||
           sm_str_eqc(name, "leader.replication.throttled.replicas") ||
           sm_str_eqc(name, "follower.replication.throttled.replicas");
}

typedef struct kv {
    sm_str key;
    sm_str value; /* .len < 0: deleted */
} kv;

typedef struct work {
    sm_req *req;
    kv *v;
    int32_t n;
    const char *want; /* find_effective: the name looked for */
    sm_str found;
} work;

static kv *work_put(work *w, sm_str key)
{
    for (int32_t i = 0; i < w->n; i++)
        if (sm_str_eq(key, w->v[i].key))
            return &w->v[i];
    kv *e = &w->v[w->n++]; /* sized for every override and every config of the request */
    e->key = key;
    e->value = SM_STR_NULL;
    return e;
}

static void find_effective(const char *name, const char *value, int source, bool read_only,
                           void *arg)
{
    (void)source;
    (void)read_only;
    work *w = arg;
    if (w->found.len < 0 && !strcmp(name, w->want))
        w->found = sm_req_str(w->req, value);
}

/* Whether the comma-separated list l (len bytes) holds item. */
static bool list_holds(const char *l, size_t len, sm_str item)
{
    size_t at = 0;
    while (at <= len && len > 0) {
        const char *e = memchr(l + at, ',', len - at);
        size_t n = e ? (size_t)(e - (l + at)) : len - at;
        if (n == (size_t)item.len && !memcmp(l + at, item.p, n))
            return true;
        if (!e)
            break;
        at += n + 1;
    }
    return false;
}

/* cur with the comma-separated items appended (each one not already there)
 * or subtracted (every copy), as Kafka's ConfigurationControlManager
 * applies APPEND and SUBTRACT. */
static sm_str list_apply(sm_arena *a, sm_str cur, sm_str items, bool subtract)
{
    size_t cap = (size_t)(cur.len > 0 ? cur.len : 0) + (size_t)items.len + 2;
    char *out = sm_arena_calloc(a, cap, 1);
    if (!out)
        return SM_STR_NULL;
    size_t len = 0;
    /* the items of cur, less those subtracted */
    for (int32_t at = 0; cur.len > 0 && at <= cur.len;) {
        const char *e = memchr(cur.p + at, ',', (size_t)(cur.len - at));
        int32_t n = e ? (int32_t)(e - (cur.p + at)) : cur.len - at;
        sm_str it = {cur.p + at, n};
        if (!subtract || !list_holds(items.p, (size_t)items.len, it)) {
            if (len)
                out[len++] = ',';
            memcpy(out + len, it.p, (size_t)n);
            len += (size_t)n;
        }
        at += n + 1;
        if (!e)
            break;
    }
    for (int32_t at = 0; !subtract && at <= items.len;) {
        const char *e = memchr(items.p + at, ',', (size_t)(items.len - at));
        int32_t n = e ? (int32_t)(e - (items.p + at)) : items.len - at;
        sm_str it = {items.p + at, n};
        if (!list_holds(out, len, it)) {
            if (len)
                out[len++] = ',';
            memcpy(out + len, it.p, (size_t)n);
            len += (size_t)n;
        }
        at += n + 1;
        if (!e)
            break;
    }
    return (sm_str){out, (int32_t)len};
}

/* A topic's configs after the operations of rr, applied to its overrides
 * and checked as a whole by sm_topic_set_configs. */
static int16_t iac_topic(sm_req *req, const sm_iac_resource *rr, bool validate_only, char *msg,
                         size_t msglen)
{
    sm_topic *t = sm_topic_find(req->b, rr->resource_name);
    if (!t) {
        snprintf(msg, msglen, "no such topic");
        return SM_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    work w = {req, NULL, 0, NULL, SM_STR_NULL};
    w.v = sm_arena_calloc(&req->arena, t->overrides.n + (size_t)rr->config_count + 1, sizeof *w.v);
    if (!w.v) {
        snprintf(msg, msglen, "out of memory");
        return SM_KERR_UNKNOWN_SERVER_ERROR;
    }
    for (size_t i = 0; i < t->overrides.n; i++) {
        const sm_prop *p = &t->overrides.v[i];
        work_put(&w, sm_str_c(p->key))->value = sm_str_c(p->value);
    }
    for (int32_t j = 0; j < rr->config_count; j++) {
        const sm_iac_config *c = &rr->configs[j];
        if (c->name.len <= 0) {
            snprintf(msg, msglen, "a config with an empty name");
            return SM_KERR_INVALID_CONFIG;
        }
        kv *e = work_put(&w, c->name);
        switch (c->config_operation) {
        case SM_CONFIG_OP_SET:
            e->value = c->value;
            break;
        case SM_CONFIG_OP_DELETE:
            e->value = SM_STR_NULL;
            break;
        case SM_CONFIG_OP_APPEND:
        case SM_CONFIG_OP_SUBTRACT: {
            if (!list_config(c->name)) {
                snprintf(msg, msglen, "Can't %s to key %.*s because its type is not LIST.",
                         c->config_operation == SM_CONFIG_OP_APPEND ? "APPEND" : "SUBTRACT",
                         (int)c->name.len, c->name.p);
                return SM_KERR_INVALID_CONFIG;
            }
            sm_str cur = e->value;
            if (cur.len < 0) { /* not overridden: the effective value */
                char name[64];
                snprintf(name, sizeof name, "%.*s", (int)c->name.len, c->name.p);
                w.want = name;
                w.found = SM_STR_NULL;
                sm_topic_config_visit(req->b, t, find_effective, &w);
                cur = w.found;
            }
            e->value = list_apply(&req->arena, cur, c->value,
                                  c->config_operation == SM_CONFIG_OP_SUBTRACT);
            if (e->value.len < 0) {
                snprintf(msg, msglen, "out of memory");
                return SM_KERR_UNKNOWN_SERVER_ERROR;
            }
            break;
        }
        default:
            snprintf(msg, msglen, "Unknown operation type %d", c->config_operation);
            return SM_KERR_INVALID_REQUEST;
        }
    }
    sm_props configs;
    sm_props_init(&configs);
    int16_t err = SM_KERR_NONE;
    for (int32_t i = 0; i < w.n && err == SM_KERR_NONE; i++) {
        if (w.v[i].value.len < 0)
            continue;
        char *k = sm_arena_strndup(&req->arena, w.v[i].key.p, (size_t)w.v[i].key.len);
        char *v = sm_arena_strndup(&req->arena, w.v[i].value.p, (size_t)w.v[i].value.len);
        if (!k || !v || sm_props_set(&configs, k, v, "IncrementalAlterConfigs") != SM_OK) {
            err = SM_KERR_UNKNOWN_SERVER_ERROR;
            snprintf(msg, msglen, "out of memory");
        }
    }
    if (err == SM_KERR_NONE)
        err = sm_topic_set_configs(req->b, t, &configs, validate_only, msg, msglen);
    sm_props_release(&configs);
    return err;
}

/* The broker's configs are static (server.properties, --override): there is
 * nothing dynamic to delete, and anything else is refused as Kafka refuses
 * a config it cannot update dynamically. */
static int16_t iac_broker(sm_req *req, const sm_iac_resource *rr, char *msg, size_t msglen)
{
    char node[16];
    snprintf(node, sizeof node, "%d", req->b->cfg.node_id);
    if (rr->resource_name.len > 0 && !sm_str_eqc(rr->resource_name, node)) {
        snprintf(msg, msglen, "Unexpected broker id, expected %d, but received %.*s",
                 req->b->cfg.node_id, (int)rr->resource_name.len, rr->resource_name.p);
        return SM_KERR_INVALID_REQUEST;
    }
    size_t len = (size_t)snprintf(msg, msglen, "Cannot update these configs dynamically: Set(");
    int n = 0;
    for (int32_t j = 0; j < rr->config_count; j++) {
        const sm_iac_config *c = &rr->configs[j];
        if (c->config_operation < SM_CONFIG_OP_SET || c->config_operation > SM_CONFIG_OP_SUBTRACT) {
            snprintf(msg, msglen, "Unknown operations type %d", c->config_operation);
            return SM_KERR_INVALID_REQUEST;
        }
        if (c->config_operation == SM_CONFIG_OP_DELETE || len >= msglen)
            continue;
        len += (size_t)snprintf(msg + len, msglen - len, "%s%.*s", n++ ? ", " : "",
                                (int)c->name.len, c->name.p);
    }
    if (!n)
        return SM_KERR_NONE;
    if (len < msglen)
        snprintf(msg + len, msglen - len, ")");
    return SM_KERR_INVALID_REQUEST;
}

static bool same_resource(const sm_iac_resource *a, const sm_iac_resource *b)
{
    return a->resource_type == b->resource_type && sm_str_eq(a->resource_name, b->resource_name);
}

/* The checks of Kafka's ConfigAdminManager.preprocess that come before the
 * resource's own: a config named twice, a null value for anything but
 * DELETE. */
static int16_t iac_precheck(const sm_iac_resource *rr, char *msg, size_t msglen)
{
    for (int32_t j = 0; j < rr->config_count; j++)
        for (int32_t k = 0; k < j; k++)
            if (sm_str_eq(rr->configs[j].name, rr->configs[k].name)) {
                snprintf(msg, msglen, "Error due to duplicate config keys");
                return SM_KERR_INVALID_REQUEST;
            }
    size_t len = 0;
    for (int32_t j = 0; j < rr->config_count; j++) {
        const sm_iac_config *c = &rr->configs[j];
        if (c->config_operation == SM_CONFIG_OP_DELETE || c->value.len >= 0 || len >= msglen)
            continue;
        len += (size_t)snprintf(msg + len, msglen - len, "%s%.*s",
                                len ? ", " : "Null value not supported for : ",
                                c->name.len > 0 ? (int)c->name.len : 0,
                                c->name.len > 0 ? c->name.p : "");
    }
    return len ? SM_KERR_INVALID_REQUEST : SM_KERR_NONE;
}

void sm_handle_incremental_alter_configs(sm_req *req)
{
    sm_iac_req ir;
    if (sm_iac_req_decode(&req->body, req->hdr.api_version, &req->arena, &ir) != SM_OK) {
        sm_req_fail_connection(req, "malformed IncrementalAlterConfigs request");
        return;
    }
    sm_iac_resource_resp *res =
        sm_arena_calloc(&req->arena, (size_t)ir.resource_count + 1, sizeof *res);
    if (!res) {
        sm_req_fail_connection(req, "out of memory");
        return;
    }
    for (int32_t i = 0; i < ir.resource_count; i++) {
        const sm_iac_resource *rr = &ir.resources[i];
        sm_iac_resource_resp *out = &res[i];
        out->resource_type = rr->resource_type;
        out->resource_name = rr->resource_name;
        char msg[MSG_MAX] = "";
        int16_t err = SM_KERR_NONE;
        for (int32_t k = 0; k < ir.resource_count && err == SM_KERR_NONE; k++)
            if (k != i && same_resource(rr, &ir.resources[k])) {
                err = SM_KERR_INVALID_REQUEST;
                snprintf(msg, sizeof msg, "Each resource must appear at most once.");
            }
        if (err == SM_KERR_NONE)
            err = iac_precheck(rr, msg, sizeof msg);
        if (err == SM_KERR_NONE) {
            if (rr->resource_type == SM_RESOURCE_TOPIC)
                err = iac_topic(req, rr, ir.validate_only, msg, sizeof msg);
            else if (rr->resource_type == SM_RESOURCE_BROKER)
                err = iac_broker(req, rr, msg, sizeof msg);
            else if (rr->resource_type == SM_RESOURCE_BROKER_LOGGER) {
                err = SM_KERR_INVALID_REQUEST;
                snprintf(msg, sizeof msg, "BROKER_LOGGER (8) resources are not supported by "
                                          "samsa-broker; set samsa.log.level");
            } else {
                err = SM_KERR_INVALID_REQUEST;
                snprintf(msg, sizeof msg, "Unknown resource type %d", rr->resource_type);
            }
        }
        out->error_code = err;
        out->error_message = err == SM_KERR_NONE ? SM_STR_NULL : sm_req_str(req, msg);
    }
    sm_iac_resp resp = {0, ir.resource_count, res};
    sm_resp_begin(req);
    sm_iac_resp_encode(&req->w, req->hdr.api_version, &resp);
    sm_req_complete(req);
}
