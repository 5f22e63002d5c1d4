/* topic.c: samsa topic create|list|describe|delete|alter-config|add-partitions,
 * through librdkafka's admin API (CreateTopics, DeleteTopics,
 * CreatePartitions, DescribeConfigs, AlterConfigs) and metadata.
 *
 * alter-config changes only what it is told to: AlterConfigs replaces a
 * topic's whole set of overrides (Kafka's non-incremental API, the one
 * librdkafka 2.0 has), so the current overrides are read first, the change
 * is applied to them, and the merged set is sent back. */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

enum {
    O_PARTITIONS = 1,
    O_REPLICAS,
    O_CONFIG,
    O_IF_NOT_EXISTS,
    O_IF_EXISTS,
    O_VALIDATE,
    O_ALL_CONFIGS,
    O_DELETE_CONFIG,
};

#define MAX_CONFIGS 128

/* ---- shared ------------------------------------------------------------------ */

static const char *source_name(rd_kafka_ConfigSource_t s)
{
    switch (s) {
    case RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG:
        return "topic";
    case RD_KAFKA_CONFIG_SOURCE_DYNAMIC_BROKER_CONFIG:
    case RD_KAFKA_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG:
        return "broker (dynamic)";
    case RD_KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG:
        return "broker";
    case RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG:
        return "default";
    default:
        return "unknown";
    }
}

/* DescribeConfigs of one topic: the result event (the caller destroys it)
 * and the topic's entries. */
static int describe_configs(sm_cli *c, rd_kafka_t *rk, const char *topic, rd_kafka_event_t **evp,
                            const rd_kafka_ConfigEntry_t ***entries, size_t *n)
{
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = sm_kafka_admin_options(c, rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_DescribeConfigs(rk, &res, 1, o, q);
    int rc;
    rd_kafka_event_t *ev = sm_kafka_admin_wait(c, rk, q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, &rc);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_queue_destroy(q);
    if (!ev)
        return rc;
    size_t cnt;
    const rd_kafka_ConfigResource_t **rs =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &cnt);
    if (cnt != 1) {
        rd_kafka_event_destroy(ev);
        return sm_cli_fail(c, SM_EXIT_FAIL, "configs of '%s': %zu resources in the answer", topic,
                           cnt);
    }
    rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(rs[0]);
    if (err) {
        const char *es = rd_kafka_ConfigResource_error_string(rs[0]);
        rc = err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
                 ? sm_cli_fail(c, SM_EXIT_NOTFOUND, "topic '%s' does not exist", topic)
                 : sm_cli_fail(c, sm_cli_exit_of(err), "configs of '%s': %s", topic,
                               es && *es ? es : rd_kafka_err2str(err));
        rd_kafka_event_destroy(ev);
        return rc;
    }
    *entries = rd_kafka_ConfigResource_configs(rs[0], n);
    *evp = ev;
    return SM_EXIT_OK;
}

static int worse(int a, int b) { return a ? a : b; }

/* ---- create ------------------------------------------------------------------ */

static const sm_opt create_opts[] = {
    {O_PARTITIONS, 'p', "partitions", "N", "partitions (default: the broker's num.partitions)"},
    {O_REPLICAS, 'r', "replicas", "N",
     "replication factor (default: the broker's default.replication.factor)"},
    {O_CONFIG, 'c', "config", "KEY=VALUE", "a topic config, repeatable (retention.ms=86400000)"},
    {O_IF_NOT_EXISTS, 0, "if-not-exists", NULL, "a topic that exists already is not an error"},
    {O_VALIDATE, 0, "validate-only", NULL, "ask the broker to check the request, create nothing"},
    {0, 0, NULL, NULL, NULL},
};

const sm_cmd_help sm_help_topic_create = {
    "topic create", "TOPIC... [options]", "Create topics.",
    "Topic names are 1..249 characters of [a-zA-Z0-9._-]. Every topic gets the same\n"
    "partitions, replication factor and configs.",
    "samsa topic create orders -p 3\n"
    "samsa topic create payments -p 6 -c retention.ms=604800000 -c max.message.bytes=2097152\n"
    "samsa topic create orders --if-not-exists",
    create_opts, true};

/* create in four steps: parse the command line, plan (a NewTopic per
 * topic, each with every -c), execute (CreateTopics, then the partition
 * counts the broker chose), print. */
typedef struct create_req {
    const char *topics[64];
    int n;
    int32_t partitions, replicas; /* -1: the broker's default */
    bool if_not_exists, validate;
    const char *cfg[MAX_CONFIGS]; /* KEY=VALUE */
    int ncfg;
} create_req;

/* SM_EXIT_OK with *help set: --help was printed, nothing more to do. */
static int create_parse(sm_cli *c, int argc, char **argv, create_req *q, bool *help)
{
    sm_args a;
    sm_args_init(&a, c, &sm_help_topic_create, argc, argv);
    const char *val;
    int id;
    memset(q, 0, sizeof *q);
    q->partitions = q->replicas = -1;
    *help = false;
    while ((id = sm_args_next(&a, &val)) != SM_OPT_END) {
        switch (id) {
        case SM_OPT_POS:
            if (q->n == 64)
                return sm_cli_fail(c, SM_EXIT_USAGE, "at most 64 topics at once");
            q->topics[q->n++] = val;
            break;
        case O_PARTITIONS:
            if (sm_cli_parse_i32(c, "-p/--partitions", val, 1, 1000000, &q->partitions))
                return SM_EXIT_USAGE;
            break;
        case O_REPLICAS:
            if (sm_cli_parse_i32(c, "-r/--replicas", val, 1, 32767, &q->replicas))
                return SM_EXIT_USAGE;
            break;
        case O_CONFIG:
            if (!strchr(val, '=') || val[0] == '=')
                return sm_cli_fail(c, SM_EXIT_USAGE, "-c '%s': expected KEY=VALUE", val);
            if (q->ncfg == MAX_CONFIGS)
                return sm_cli_fail(c, SM_EXIT_USAGE, "too many -c");
            q->cfg[q->ncfg++] = val;
            break;
        case O_IF_NOT_EXISTS:
            q->if_not_exists = true;
            break;
        case O_VALIDATE:
            q->validate = true;
            break;
        case SM_OPT_HELP:
            *help = true;
            return SM_EXIT_OK;
        default:
            return SM_EXIT_USAGE;
        }
    }
    if (!q->n)
        return sm_cli_fail(c, SM_EXIT_USAGE, "which topic? (samsa topic create TOPIC)");
    return SM_EXIT_OK;
}

/* nt[0..q->n): one NewTopic per topic with every config (the caller
 * destroys them); on an invalid name or config, none is left. */
static int create_make_plan(sm_cli *c, const create_req *q, rd_kafka_NewTopic_t **nt)
{
    char errstr[512];
    for (int i = 0; i < q->n; i++) {
        nt[i] = rd_kafka_NewTopic_new(q->topics[i], q->partitions, q->replicas, errstr,
                                      sizeof errstr);
        if (!nt[i]) {
            int rc = sm_cli_fail(c, SM_EXIT_USAGE, "topic '%s': %s", q->topics[i], errstr);
            rd_kafka_NewTopic_destroy_array(nt, (size_t)i);
            return rc;
        }
        for (int k = 0; k < q->ncfg; k++) {
            char key[256];
            const char *v;
            if (sm_split_kv(q->cfg[k], key, sizeof key, &v) ||
                rd_kafka_NewTopic_set_config(nt[i], key, v)) {
                int rc = sm_cli_fail(c, SM_EXIT_USAGE, "-c '%s': expected KEY=VALUE", q->cfg[k]);
                rd_kafka_NewTopic_destroy_array(nt, (size_t)i + 1);
                return rc;
            }
        }
    }
    return SM_EXIT_OK;
}

/* CreateTopics with the plan: *evp, the result event (NULL when the
 * request failed: the return says why); *after, the metadata once they
 * are created, for the partition counts the broker chose (NULL with
 * --validate-only or when it could not be read). The caller destroys both. */
static int create_execute(sm_cli *c, rd_kafka_t *rk, const create_req *q,
                          rd_kafka_NewTopic_t **nt, rd_kafka_event_t **evp,
                          const rd_kafka_metadata_t **after)
{
    int rc;
    char errstr[512];
    *after = NULL;
    rd_kafka_queue_t *qu = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = sm_kafka_admin_options(c, rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    if (q->validate)
        rd_kafka_AdminOptions_set_validate_only(o, 1, errstr, sizeof errstr);
    rd_kafka_CreateTopics(rk, nt, (size_t)q->n, o, qu);
    *evp = sm_kafka_admin_wait(c, rk, qu, RD_KAFKA_EVENT_CREATETOPICS_RESULT, &rc);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(qu);
    if (*evp && !q->validate)
        rd_kafka_metadata(rk, 1, NULL, after, c->timeout_ms);
    return *evp ? SM_EXIT_OK : rc;
}

/* A line (or a JSON entry) per topic; a topic the broker refused fails the
 * command (one that exists already not with --if-not-exists). */
static int create_print(sm_cli *c, const create_req *q, rd_kafka_event_t *ev,
                        const rd_kafka_metadata_t *after)
{
    size_t cnt;
    const rd_kafka_topic_result_t **tr =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
    json_t *arr = json_array();
    int rc = SM_EXIT_OK;
    for (size_t i = 0; i < cnt; i++) {
        const char *name = rd_kafka_topic_result_name(tr[i]);
        rd_kafka_resp_err_t err = rd_kafka_topic_result_error(tr[i]);
        const char *es = rd_kafka_topic_result_error_string(tr[i]);
        const rd_kafka_metadata_topic_t *mt = after ? sm_md_topic(after, name) : NULL;
        int parts = mt ? mt->partition_cnt : q->partitions;
        json_t *j = json_pack("{s:s}", "topic", name);
        if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS && q->if_not_exists) {
            json_object_set_new(j, "created", json_false());
            json_object_set_new(j, "exists", json_true());
            if (c->output == SM_OUT_TABLE)
                printf("topic %s exists already\n", name);
        } else if (err) {
            json_object_set_new(j, "created", json_false());
            json_object_set_new(j, "error", json_string(es && *es ? es : rd_kafka_err2str(err)));
            if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                rc = worse(rc, sm_cli_fail(c, SM_EXIT_FAIL, "topic '%s' already exists", name));
            else
                rc = worse(rc, sm_cli_fail(c, sm_cli_exit_of(err), "topic '%s': %s", name,
                                           es && *es ? es : rd_kafka_err2str(err)));
        } else {
            json_object_set_new(j, "created", json_boolean(!q->validate));
            if (parts > 0)
                json_object_set_new(j, "partitions", json_integer(parts));
            if (c->output == SM_OUT_TABLE) {
                if (q->validate)
                    printf("topic %s: valid (nothing created)\n", name);
                else if (parts > 0)
                    printf("created topic %s with %d partition%s\n", name, parts,
                           parts == 1 ? "" : "s");
                else
                    printf("created topic %s\n", name);
            }
        }
        json_array_append_new(arr, j);
    }
    if (c->output == SM_OUT_JSON)
        sm_json_print(arr);
    else
        json_decref(arr);
    return rc;
}

static int topic_create(sm_cli *c, int argc, char **argv)
{
    create_req q;
    bool help;
    int rc = create_parse(c, argc, argv, &q, &help);
    if (rc || help)
        return rc;
    rd_kafka_t *rk = sm_kafka_admin_open(c, NULL, &rc);
    if (!rk)
        return rc;
    rd_kafka_NewTopic_t *nt[64];
    rc = create_make_plan(c, &q, nt);
    if (!rc) {
        rd_kafka_event_t *ev = NULL;
        const rd_kafka_metadata_t *after = NULL;
        rc = create_execute(c, rk, &q, nt, &ev, &after);
        rd_kafka_NewTopic_destroy_array(nt, (size_t)q.n);
        if (ev)
            rc = create_print(c, &q, ev, after);
        if (after)
            rd_kafka_metadata_destroy(after);
        if (ev)
            rd_kafka_event_destroy(ev);
    }
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- list ------------------------------------------------------------------ */

const sm_cmd_help sm_help_topic_list = {
    "topic list", "[PATTERN]", "List topics with their partition counts.",
    "PATTERN is a shell glob ('orders*'); without it every topic is listed.",
    "samsa topic list\n"
    "samsa topic list 'ord*'\n"
    "samsa topic list --output json",
    NULL, true};

static int cmp_topic(const void *a, const void *b)
{
    const rd_kafka_metadata_topic_t *x = *(const rd_kafka_metadata_topic_t *const *)a;
    const rd_kafka_metadata_topic_t *y = *(const rd_kafka_metadata_topic_t *const *)b;
    return strcmp(x->topic, y->topic);
}

static int topic_list(sm_cli *c, int argc, char **argv)
{
    sm_args a;
    sm_args_init(&a, c, &sm_help_topic_list, argc, argv);
    const char *val, *pattern = NULL;
    int id, rc;
    while ((id = sm_args_next(&a, &val)) != SM_OPT_END) {
        if (id == SM_OPT_POS && !pattern)
            pattern = val;
        else if (id == SM_OPT_HELP)
            return SM_EXIT_OK;
        else if (id == SM_OPT_POS)
            return sm_cli_fail(c, SM_EXIT_USAGE, "one pattern at most, got '%s' too", val);
        else
            return SM_EXIT_USAGE;
    }
    const rd_kafka_metadata_t *md;
    rd_kafka_t *rk = sm_kafka_admin_open(c, &md, &rc);
    if (!rk)
        return rc;
    const rd_kafka_metadata_topic_t **v = calloc((size_t)md->topic_cnt + 1, sizeof *v);
    int n = 0;
    for (int i = 0; i < md->topic_cnt; i++)
        if (!pattern || !fnmatch(pattern, md->topics[i].topic, 0))
            v[n++] = &md->topics[i];
    qsort(v, (size_t)n, sizeof *v, cmp_topic);
    static const char *const head[] = {"TOPIC", "PARTITIONS", "REPLICAS"};
    sm_table t;
    sm_table_init(&t, 3, head, 6);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        int rf = v[i]->partition_cnt ? v[i]->partitions[0].replica_cnt : 0;
        sm_table_cell(&t, "%s", v[i]->topic);
        sm_table_cell(&t, "%d", v[i]->partition_cnt);
        sm_table_cell(&t, "%d", rf);
        json_array_append_new(arr, json_pack("{s:s,s:i,s:i}", "topic", v[i]->topic, "partitions",
                                             v[i]->partition_cnt, "replication_factor", rf));
    }
    if (c->output == SM_OUT_JSON) {
        sm_json_print(arr);
    } else {
        json_decref(arr);
        sm_table_print(&t, stdout);
    }
    sm_table_release(&t);
    free(v);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return SM_EXIT_OK;
}

/* ---- describe ------------------------------------------------------------------ */

static const sm_opt describe_opts[] = {
    {O_ALL_CONFIGS, 'a', "all-configs", NULL,
     "list every config, not only those set on the topic"},
    {0, 0, NULL, NULL, NULL},
};

const sm_cmd_help sm_help_topic_describe = {
    "topic describe", "TOPIC... [options]",
    "Show a topic's partitions (leader, replicas, in-sync replicas, offsets) and configs.",
    "LOW and HIGH are each partition's log start offset and high watermark; MESSAGES\n"
    "is HIGH - LOW. Configs set on the topic are listed; --all-configs lists the\n"
    "defaults too, with where each value comes from.",
    "samsa topic describe orders\n"
    "samsa topic describe orders --all-configs\n"
    "samsa topic describe orders --output json",
    describe_opts, true};

static void ints(char *buf, size_t len, const int32_t *v, int n)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < n && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%d", i ? "," : "", (int)v[i]);
}

static json_t *json_ints(const int32_t *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

/* describe, per topic, in steps: plan (its metadata and configs), measure
 * (each partition's offsets), print. */
typedef struct topic_part {
    const rd_kafka_metadata_partition_t *mp;
    int64_t lo, hi; /* log start offset, high watermark */
} topic_part;

typedef struct topic_view {
    const rd_kafka_metadata_topic_t *mt; /* in the caller's metadata */
    rd_kafka_event_t *ev;                /* owns ce */
    const rd_kafka_ConfigEntry_t **ce;
    size_t nce;
    topic_part *parts; /* by partition id, those the metadata lists */
    int nparts;
    int64_t total; /* messages: the sum of hi - lo */
    int rf;        /* replication factor */
} topic_view;

static void topic_view_release(topic_view *v)
{
    free(v->parts);
    if (v->ev)
        rd_kafka_event_destroy(v->ev);
}

/* The topic's metadata and configs; a topic that does not exist is
 * SM_EXIT_NOTFOUND. v is the caller's to release whatever this returns. */
static int describe_make_plan(sm_cli *c, rd_kafka_t *rk, const rd_kafka_metadata_t *md,
                              const char *topic, topic_view *v)
{
    memset(v, 0, sizeof *v);
    v->mt = sm_md_topic(md, topic);
    if (!v->mt || v->mt->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        return sm_cli_fail(c, SM_EXIT_NOTFOUND, "topic '%s' does not exist", topic);
    return describe_configs(c, rk, topic, &v->ev, &v->ce, &v->nce);
}

/* Each partition's offsets, in partition order (metadata lists them in no
 * promised order). */
static int describe_measure(sm_cli *c, rd_kafka_t *rk, const char *topic, topic_view *v)
{
    const rd_kafka_metadata_topic_t *mt = v->mt;
    v->parts = calloc((size_t)mt->partition_cnt + 1, sizeof *v->parts);
    if (!v->parts)
        return sm_cli_fail(c, SM_EXIT_FAIL, "out of memory");
    for (int p = 0; p < mt->partition_cnt; p++) {
        const rd_kafka_metadata_partition_t *mp = NULL;
        for (int k = 0; k < mt->partition_cnt; k++)
            if (mt->partitions[k].id == p)
                mp = &mt->partitions[k];
        if (!mp)
            continue;
        topic_part *tp = &v->parts[v->nparts];
        tp->mp = mp;
        tp->lo = tp->hi = -1;
        int rc = sm_kafka_watermarks(c, rk, topic, p, &tp->lo, &tp->hi);
        if (rc)
            return rc;
        v->nparts++;
        v->rf = mp->replica_cnt;
        v->total += tp->hi - tp->lo;
    }
    return SM_EXIT_OK;
}

/* The partitions: the table's rows in pt, and their JSON array. */
static json_t *describe_partitions(const topic_view *v, sm_table *pt)
{
    json_t *jparts = json_array();
    for (int i = 0; i < v->nparts; i++) {
        const rd_kafka_metadata_partition_t *mp = v->parts[i].mp;
        int64_t lo = v->parts[i].lo, hi = v->parts[i].hi;
        char reps[128], isr[128];
        ints(reps, sizeof reps, mp->replicas, mp->replica_cnt);
        ints(isr, sizeof isr, mp->isrs, mp->isr_cnt);
        sm_table_cell(pt, "%d", (int)mp->id);
        sm_table_cell(pt, "%d", (int)mp->leader);
        sm_table_cell(pt, "%s", reps);
        sm_table_cell(pt, "%s", isr);
        sm_table_cell(pt, "%lld", (long long)lo);
        sm_table_cell(pt, "%lld", (long long)hi);
        sm_table_cell(pt, "%lld", (long long)(hi - lo));
        json_t *jp = json_pack("{s:i,s:i}", "partition", (int)mp->id, "leader", (int)mp->leader);
        json_object_set_new(jp, "replicas", json_ints(mp->replicas, mp->replica_cnt));
        json_object_set_new(jp, "isr", json_ints(mp->isrs, mp->isr_cnt));
        json_object_set_new(jp, "low", json_integer(lo));
        json_object_set_new(jp, "high", json_integer(hi));
        json_object_set_new(jp, "messages", json_integer(hi - lo));
        json_array_append_new(jparts, jp);
    }
    return jparts;
}

/* The configs: every one in the JSON object; in ct, those set on the topic
 * (all of them with all_configs); *shown, how many rows that is. */
static json_t *describe_config_rows(const topic_view *v, bool all_configs, sm_table *ct,
                                      int *shown)
{
    json_t *jcfg = json_object();
    *shown = 0;
    for (size_t i = 0; i < v->nce; i++) {
        const rd_kafka_ConfigEntry_t *e = v->ce[i];
        const char *name = rd_kafka_ConfigEntry_name(e);
        const char *value = rd_kafka_ConfigEntry_value(e);
        rd_kafka_ConfigSource_t src = rd_kafka_ConfigEntry_source(e);
        bool sensitive = rd_kafka_ConfigEntry_is_sensitive(e);
        const char *shownv = sensitive ? "(sensitive)" : value ? value : "(null)";
        json_object_set_new(jcfg, name,
                            json_pack("{s:o,s:s,s:b}", "value",
                                      sensitive || !value ? json_null() : json_string(value),
                                      "source", source_name(src), "read_only",
                                      rd_kafka_ConfigEntry_is_read_only(e)));
        if (!all_configs && src != RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG)
            continue;
        sm_table_cell(ct, "%s", name);
        sm_table_cell(ct, "%s", shownv);
        sm_table_cell(ct, "%s", source_name(src));
        (*shown)++;
    }
    return jcfg;
}

/* The partitions and the configs: two tables on stdout, or an entry
 * appended to out for JSON. */
static void describe_print(sm_cli *c, const char *topic, const topic_view *v, bool all_configs,
                           json_t *out, bool first)
{
    static const char *const phead[] = {"PARTITION", "LEADER", "REPLICAS", "ISR",
                                        "LOW",       "HIGH",   "MESSAGES"};
    sm_table pt;
    sm_table_init(&pt, 7, phead, 1u | 2u | 16u | 32u | 64u);
    json_t *jparts = describe_partitions(v, &pt);
    static const char *const chead[] = {"CONFIG", "VALUE", "SOURCE"};
    sm_table ct;
    sm_table_init(&ct, 3, chead, 0);
    int shown;
    json_t *jcfg = describe_config_rows(v, all_configs, &ct, &shown);
    if (c->output == SM_OUT_JSON) {
        json_t *j = json_pack("{s:s,s:i,s:i,s:I}", "topic", topic, "partition_count",
                              v->mt->partition_cnt, "replication_factor", v->rf, "messages",
                              (json_int_t)v->total);
        json_object_set_new(j, "partitions", jparts);
        json_object_set_new(j, "configs", jcfg);
        jparts = jcfg = NULL;
        json_array_append_new(out, j);
    } else {
        printf("%sTopic: %s  partitions: %d  replication factor: %d  messages: %lld\n\n",
               first ? "" : "\n", topic, v->mt->partition_cnt, v->rf, (long long)v->total);
        sm_table_print(&pt, stdout);
        if (shown) {
            printf("\n");
            sm_table_print(&ct, stdout);
        } else {
            printf("\nNo configs set on the topic (broker defaults apply;"
                   " --all-configs lists them).\n");
        }
    }
    json_decref(jparts);
    json_decref(jcfg);
    sm_table_release(&pt);
    sm_table_release(&ct);
}

static int describe_one(sm_cli *c, rd_kafka_t *rk, const rd_kafka_metadata_t *md,
                        const char *topic, bool all_configs, json_t *out, bool first)
{
    topic_view v;
    int rc = describe_make_plan(c, rk, md, topic, &v);
    if (!rc)
        rc = describe_measure(c, rk, topic, &v);
    if (!rc)
        describe_print(c, topic, &v, all_configs, out, first);
    topic_view_release(&v);
    return rc;
}

static int topic_describe(sm_cli *c, int argc, char **argv)
{
    sm_args a;
    sm_args_init(&a, c, &sm_help_topic_describe, argc, argv);
    const char *val, *topics[64];
    int n = 0, id, rc;
    bool all = false;
    while ((id = sm_args_next(&a, &val)) != SM_OPT_END) {
        if (id == SM_OPT_POS) {
            if (n == 64)
                return sm_cli_fail(c, SM_EXIT_USAGE, "at most 64 topics at once");
            topics[n++] = val;
        } else if (id == O_ALL_CONFIGS) {
            all = true;
        } else if (id == SM_OPT_HELP) {
            return SM_EXIT_OK;
        } else {
            return SM_EXIT_USAGE;
        }
    }
    if (!n)
        return sm_cli_fail(c, SM_EXIT_USAGE, "which topic? (samsa topic describe TOPIC)");
    const rd_kafka_metadata_t *md;
    rd_kafka_t *rk = sm_kafka_admin_open(c, &md, &rc);
    if (!rk)
        return rc;
    json_t *out = json_array();
    rc = SM_EXIT_OK;
    for (int i = 0; i < n; i++)
        rc = worse(rc, describe_one(c, rk, md, topics[i], all, out, i == 0));
    if (c->output == SM_OUT_JSON)
        sm_json_print(n == 1 && json_array_size(out) == 1 ? json_incref(json_array_get(out, 0))
                                                          : json_incref(out));
    json_decref(out);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- delete ------------------------------------------------------------------ */

static const sm_opt delete_opts[] = {
    {O_IF_EXISTS, 0, "if-exists", NULL, "a topic that does not exist is not an error"},
    {0, 0, NULL, NULL, NULL},
};

const sm_cmd_help sm_help_topic_delete = {
    "topic delete", "TOPIC... [options]", "Delete topics and all their records.",
    "There is no undo. The broker must allow it (delete.topic.enable=true).",
    "samsa topic delete scratch\n"
    "samsa topic delete scratch-1 scratch-2 --if-exists",
    delete_opts, true};

static int topic_delete(sm_cli *c, int argc, char **argv)
{
    sm_args a;
    sm_args_init(&a, c, &sm_help_topic_delete, argc, argv);
    const char *val, *topics[64];
    int n = 0, id, rc;
    bool if_exists = false;
    while ((id = sm_args_next(&a, &val)) != SM_OPT_END) {
        if (id == SM_OPT_POS) {
            if (n == 64)
                return sm_cli_fail(c, SM_EXIT_USAGE, "at most 64 topics at once");
            topics[n++] = val;
        } else if (id == O_IF_EXISTS) {
            if_exists = true;
        } else if (id == SM_OPT_HELP) {
            return SM_EXIT_OK;
        } else {
            return SM_EXIT_USAGE;
        }
    }
    if (!n)
        return sm_cli_fail(c, SM_EXIT_USAGE, "which topic? (samsa topic delete TOPIC)");
    const rd_kafka_metadata_t *md;
    rd_kafka_t *rk = sm_kafka_admin_open(c, &md, &rc);
    if (!rk)
        return rc;
    rd_kafka_DeleteTopic_t *dt[64];
    int nd = 0;
    json_t *arr = json_array();
    rc = SM_EXIT_OK;
    for (int i = 0; i < n; i++) {
        if (!sm_md_topic(md, topics[i])) {
            json_array_append_new(arr, json_pack("{s:s,s:b,s:b}", "topic", topics[i], "deleted",
                                                 0, "exists", 0));
            if (if_exists) {
                if (c->output == SM_OUT_TABLE)
                    printf("topic %s does not exist\n", topics[i]);
            } else {
                rc = worse(rc, sm_cli_fail(c, SM_EXIT_NOTFOUND, "topic '%s' does not exist",
                                           topics[i]));
            }
            continue;
        }
        dt[nd++] = rd_kafka_DeleteTopic_new(topics[i]);
    }
    rd_kafka_metadata_destroy(md);
    if (nd) {
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *o =
            sm_kafka_admin_options(c, rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
        rd_kafka_DeleteTopics(rk, dt, (size_t)nd, o, q);
        int wrc;
        rd_kafka_event_t *ev =
            sm_kafka_admin_wait(c, rk, q, RD_KAFKA_EVENT_DELETETOPICS_RESULT, &wrc);
        rd_kafka_AdminOptions_destroy(o);
        rd_kafka_DeleteTopic_destroy_array(dt, (size_t)nd);
        rd_kafka_queue_destroy(q);
        if (!ev) {
            rc = worse(rc, wrc);
        } else {
            size_t cnt;
            const rd_kafka_topic_result_t **tr =
                rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &cnt);
            for (size_t i = 0; i < cnt; i++) {
                const char *name = rd_kafka_topic_result_name(tr[i]);
                rd_kafka_resp_err_t err = rd_kafka_topic_result_error(tr[i]);
                const char *es = rd_kafka_topic_result_error_string(tr[i]);
                if (!err) {
                    json_array_append_new(arr, json_pack("{s:s,s:b}", "topic", name, "deleted", 1));
                    if (c->output == SM_OUT_TABLE)
                        printf("deleted topic %s\n", name);
                } else if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART && if_exists) {
                    json_array_append_new(arr, json_pack("{s:s,s:b,s:b}", "topic", name,
                                                         "deleted", 0, "exists", 0));
                } else {
                    json_array_append_new(arr,
                                          json_pack("{s:s,s:b,s:s}", "topic", name, "deleted", 0,
                                                    "error", es && *es ? es : rd_kafka_err2str(err)));
                    rc = worse(rc, err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
                                       ? sm_cli_fail(c, SM_EXIT_NOTFOUND,
                                                     "topic '%s' does not exist", name)
                                       : sm_cli_fail(c, sm_cli_exit_of(err), "topic '%s': %s",
                                                     name, es && *es ? es : rd_kafka_err2str(err)));
                }
            }
            rd_kafka_event_destroy(ev);
        }
    }
    if (c->output == SM_OUT_JSON)
        sm_json_print(arr);
    else
        json_decref(arr);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- alter-config ------------------------------------------------------------------ */

static const sm_opt alter_opts[] = {
    {O_CONFIG, 'c', "config", "KEY=VALUE", "set a topic config, repeatable"},
    {O_DELETE_CONFIG, 'd', "delete-config", "KEY",
     "remove a topic config (back to the broker's default), repeatable"},
    {O_VALIDATE, 0, "validate-only", NULL, "ask the broker to check the change, apply nothing"},
    {0, 0, NULL, NULL, NULL},
};

const sm_cmd_help sm_help_topic_alter_config = {
    "topic alter-config", "TOPIC (-c KEY=VALUE | -d KEY)... [options]",
    "Set or remove topic configs; other configs of the topic stay as they are.",
    "The topic's current configs are read, the changes applied, and the result sent\n"
    "with AlterConfigs (which replaces a topic's whole set of configs).",
    "samsa topic alter-config orders -c retention.ms=86400000\n"
    "samsa topic alter-config orders -d retention.ms",
    alter_opts, true};

/* alter-config in four steps: parse the command line, plan (the topic's
 * current overrides merged with the changes), execute (AlterConfigs with
 * the merged set), print. */
typedef struct alter_req {
    const char *topic;
    const char *sets[MAX_CONFIGS]; /* -c KEY=VALUE */
    const char *dels[MAX_CONFIGS]; /* -d KEY */
    int nset, ndel;
    bool validate;
} alter_req;

/* The plan: the whole set to send (an entry whose origin is "deleted" is
 * left out) and the changes, in order: {config, old, new}, null for a
 * default. */
typedef struct alter_plan {
    sm_props merged;
    json_t *changes;
} alter_plan;

/* SM_EXIT_OK with *help set: --help was printed, nothing more to do. */
static int alter_parse(sm_cli *c, int argc, char **argv, alter_req *q, bool *help)
{
    sm_args a;
    sm_args_init(&a, c, &sm_help_topic_alter_config, argc, argv);
    const char *val;
    int id;
    memset(q, 0, sizeof *q);
    *help = false;
    while ((id = sm_args_next(&a, &val)) != SM_OPT_END) {
        switch (id) {
        case SM_OPT_POS:
            if (q->topic)
                return sm_cli_fail(c, SM_EXIT_USAGE, "one topic at a time ('%s' and '%s')",
                                   q->topic, val);
            q->topic = val;
            break;
        case O_CONFIG:
            if (!strchr(val, '=') || val[0] == '=')
                return sm_cli_fail(c, SM_EXIT_USAGE, "-c '%s': expected KEY=VALUE", val);
            if (q->nset == MAX_CONFIGS)
                return sm_cli_fail(c, SM_EXIT_USAGE, "too many -c");
            q->sets[q->nset++] = val;
            break;
        case O_DELETE_CONFIG:
            if (!*val || strchr(val, '='))
                return sm_cli_fail(c, SM_EXIT_USAGE, "-d '%s': expected a config name", val);
            if (q->ndel == MAX_CONFIGS)
                return sm_cli_fail(c, SM_EXIT_USAGE, "too many -d");
            q->dels[q->ndel++] = val;
            break;
        case O_VALIDATE:
            q->validate = true;
            break;
        case SM_OPT_HELP:
            *help = true;
            return SM_EXIT_OK;
        default:
            return SM_EXIT_USAGE;
        }
    }
    if (!q->topic)
        return sm_cli_fail(c, SM_EXIT_USAGE, "which topic? (samsa topic alter-config TOPIC -c K=V)");
    if (!q->nset && !q->ndel)
        return sm_cli_fail(c, SM_EXIT_USAGE, "nothing to change: give -c KEY=VALUE or -d KEY");
    return SM_EXIT_OK;
}

/* The plan from the topic's configs: its current overrides, then -d
 * removes (a name the topic has no config of is an error; one not set, a
 * warning), then -c sets. p is the caller's to release (alter_plan_release)
 * whatever this returns. */
static int alter_make_plan(sm_cli *c, rd_kafka_t *rk, const alter_req *q, alter_plan *p)
{
    sm_props_init(&p->merged);
    p->changes = json_array();
    rd_kafka_event_t *dev = NULL;
    const rd_kafka_ConfigEntry_t **ce;
    size_t nce;
    int rc = describe_configs(c, rk, q->topic, &dev, &ce, &nce);
    if (rc)
        return rc;
    sm_props known;
    sm_props_init(&known);
    for (size_t i = 0; i < nce; i++) {
        const char *name = rd_kafka_ConfigEntry_name(ce[i]);
        const char *value = rd_kafka_ConfigEntry_value(ce[i]);
        sm_props_set(&known, name, value ? value : "", NULL);
        if (rd_kafka_ConfigEntry_source(ce[i]) == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG &&
            value)
            sm_props_set(&p->merged, name, value, "current");
    }
    for (int i = 0; i < q->ndel; i++) {
        const char *old = sm_props_get(&p->merged, q->dels[i]);
        if (!sm_props_find(&known, q->dels[i])) {
            rc = sm_cli_fail(c, SM_EXIT_USAGE, "-d %s: topic '%s' has no config of that name",
                             q->dels[i], q->topic);
            goto out;
        }
        if (!old) {
            sm_cli_warn(c, "%s is not set on topic '%s'; nothing to remove", q->dels[i], q->topic);
            continue;
        }
        json_array_append_new(p->changes, json_pack("{s:s,s:s,s:n}", "config", q->dels[i], "old",
                                                    old, "new"));
        sm_props_set(&p->merged, q->dels[i], "", "deleted");
    }
    for (int i = 0; i < q->nset; i++) {
        char key[256];
        const char *v;
        if (sm_split_kv(q->sets[i], key, sizeof key, &v)) {
            rc = sm_cli_fail(c, SM_EXIT_USAGE, "-c '%s': expected KEY=VALUE", q->sets[i]);
            goto out;
        }
        const sm_prop *cur = sm_props_find(&p->merged, key);
        const char *old = cur && strcmp(cur->origin, "deleted") ? cur->value : NULL;
        json_array_append_new(p->changes, json_pack("{s:s,s:s?,s:s}", "config", key, "old", old,
                                                    "new", v));
        sm_props_set(&p->merged, key, v, "set");
    }
out:
    sm_props_release(&known);
    rd_kafka_event_destroy(dev);
    return rc;
}

static void alter_plan_release(alter_plan *p)
{
    sm_props_release(&p->merged);
    json_decref(p->changes);
}

/* AlterConfigs with the merged set; a refusal fails the command. */
static int alter_execute(sm_cli *c, rd_kafka_t *rk, const alter_req *q, const alter_plan *p)
{
    int rc;
    rd_kafka_ConfigResource_t *res =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, q->topic);
    for (size_t i = 0; i < p->merged.n; i++)
        if (strcmp(p->merged.v[i].origin, "deleted"))
            rd_kafka_ConfigResource_set_config(res, p->merged.v[i].key, p->merged.v[i].value);
    rd_kafka_queue_t *qu = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = sm_kafka_admin_options(c, rk, RD_KAFKA_ADMIN_OP_ALTERCONFIGS);
    char errstr[256];
    if (q->validate)
        rd_kafka_AdminOptions_set_validate_only(o, 1, errstr, sizeof errstr);
    rd_kafka_AlterConfigs(rk, &res, 1, o, qu);
    rd_kafka_event_t *ev = sm_kafka_admin_wait(c, rk, qu, RD_KAFKA_EVENT_ALTERCONFIGS_RESULT, &rc);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_queue_destroy(qu);
    if (!ev)
        return rc;
    size_t cnt;
    const rd_kafka_ConfigResource_t **rs =
        rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &cnt);
    rd_kafka_resp_err_t err =
        cnt == 1 ? rd_kafka_ConfigResource_error(rs[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
    if (err) {
        const char *es = cnt == 1 ? rd_kafka_ConfigResource_error_string(rs[0]) : NULL;
        rc = sm_cli_fail(c, sm_cli_exit_of(err), "topic '%s': %s", q->topic,
                         es && *es ? es : rd_kafka_err2str(err));
    }
    rd_kafka_event_destroy(ev);
    return rc;
}

/* The changes: a table (OLD, NEW; "(default)" for none) or JSON. */
static void alter_print(sm_cli *c, const alter_req *q, const alter_plan *p)
{
    if (c->output == SM_OUT_JSON) {
        sm_json_print(json_pack("{s:s,s:b,s:O}", "topic", q->topic, "applied", !q->validate,
                                "changes", p->changes));
        return;
    }
    static const char *const head[] = {"CONFIG", "OLD", "NEW"};
    sm_table t;
    sm_table_init(&t, 3, head, 0);
    for (size_t i = 0; i < json_array_size(p->changes); i++) {
        json_t *ch = json_array_get(p->changes, i);
        const char *was = json_string_value(json_object_get(ch, "old"));
        const char *now = json_string_value(json_object_get(ch, "new"));
        sm_table_cell(&t, "%s", json_string_value(json_object_get(ch, "config")));
        sm_table_cell(&t, "%s", was ? was : "(default)");
        sm_table_cell(&t, "%s", now ? now : "(default)");
    }
    sm_table_print(&t, stdout);
    printf(q->validate ? "topic %s: valid (nothing changed)\n" : "topic %s updated\n", q->topic);
    sm_table_release(&t);
}

static int topic_alter_config(sm_cli *c, int argc, char **argv)
{
    alter_req q;
    bool help;
    int rc = alter_parse(c, argc, argv, &q, &help);
    if (rc || help)
        return rc;
    rd_kafka_t *rk = sm_kafka_admin_open(c, NULL, &rc);
    if (!rk)
        return rc;
    alter_plan p;
    rc = alter_make_plan(c, rk, &q, &p);
    if (!rc)
        rc = alter_execute(c, rk, &q, &p);
    if (!rc)
        alter_print(c, &q, &p);
    alter_plan_release(&p);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- add-partitions ------------------------------------------------------------------ */

static const sm_opt addp_opts[] = {
    {O_PARTITIONS, 'p', "partitions", "N", "the new total number of partitions (required)"},
    {O_VALIDATE, 0, "validate-only", NULL, "ask the broker to check the change, apply nothing"},
    {0, 0, NULL, NULL, NULL},
};

const sm_cmd_help sm_help_topic_add_partitions = {
    "topic add-partitions", "TOPIC -p TOTAL [options]",
    "Grow a topic to TOTAL partitions (Kafka cannot remove partitions).",
    "Records already written stay where they are: keys written before and after may\n"
    "map to different partitions, so per-key order across the change is not kept.",
    "samsa topic add-partitions orders -p 6", addp_opts, true};

static int topic_add_partitions(sm_cli *c, int argc, char **argv)
{
    sm_args a;
    sm_args_init(&a, c, &sm_help_topic_add_partitions, argc, argv);
    const char *val, *topic = NULL;
    int id, rc;
    int32_t total = 0;
    bool validate = false;
    while ((id = sm_args_next(&a, &val)) != SM_OPT_END) {
        if (id == SM_OPT_POS) {
            if (topic)
                return sm_cli_fail(c, SM_EXIT_USAGE, "one topic at a time ('%s' and '%s')",
                                   topic, val);
            topic = val;
        } else if (id == O_PARTITIONS) {
            if (sm_cli_parse_i32(c, "-p/--partitions", val, 1, 1000000, &total))
                return SM_EXIT_USAGE;
        } else if (id == O_VALIDATE) {
            validate = true;
        } else if (id == SM_OPT_HELP) {
            return SM_EXIT_OK;
        } else {
            return SM_EXIT_USAGE;
        }
    }
    if (!topic)
        return sm_cli_fail(c, SM_EXIT_USAGE, "which topic? (samsa topic add-partitions TOPIC -p N)");
    if (!total)
        return sm_cli_fail(c, SM_EXIT_USAGE, "-p TOTAL is required: the new partition count");
    rd_kafka_t *rk = sm_kafka_client(c, RD_KAFKA_PRODUCER, &rc);
    if (!rk)
        return rc;
    const rd_kafka_metadata_t *md;
    const rd_kafka_metadata_topic_t *mt;
    rc = sm_kafka_topic(c, rk, topic, &md, &mt);
    if (rc) {
        rd_kafka_destroy(rk);
        return rc;
    }
    int before = mt->partition_cnt;
    rd_kafka_metadata_destroy(md);
    if (total <= before) {
        rd_kafka_destroy(rk);
        return sm_cli_fail(c, SM_EXIT_USAGE,
                           "topic '%s' has %d partitions; -p must be more than that"
                           " (partitions cannot be removed)",
                           topic, before);
    }
    char errstr[256];
    rd_kafka_NewPartitions_t *np =
        rd_kafka_NewPartitions_new(topic, (size_t)total, errstr, sizeof errstr);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = sm_kafka_admin_options(c, rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS);
    if (validate)
        rd_kafka_AdminOptions_set_validate_only(o, 1, errstr, sizeof errstr);
    rd_kafka_CreatePartitions(rk, &np, 1, o, q);
    rd_kafka_event_t *ev =
        sm_kafka_admin_wait(c, rk, q, RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT, &rc);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_NewPartitions_destroy(np);
    rd_kafka_queue_destroy(q);
    if (ev) {
        size_t cnt;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreatePartitions_result_topics(
            rd_kafka_event_CreatePartitions_result(ev), &cnt);
        rd_kafka_resp_err_t err = cnt == 1 ? rd_kafka_topic_result_error(tr[0])
                                           : RD_KAFKA_RESP_ERR__BAD_MSG;
        if (err) {
            const char *es = cnt == 1 ? rd_kafka_topic_result_error_string(tr[0]) : NULL;
            rc = sm_cli_fail(c, sm_cli_exit_of(err), "topic '%s': %s", topic,
                             es && *es ? es : rd_kafka_err2str(err));
        } else if (c->output == SM_OUT_JSON) {
            sm_json_print(json_pack("{s:s,s:i,s:i,s:b}", "topic", topic, "partitions_before",
                                    before, "partitions", total, "applied", !validate));
        } else if (validate) {
            printf("topic %s: %d -> %d partitions is valid (nothing changed)\n", topic, before,
                   total);
        } else {
            printf("topic %s: %d -> %d partitions\n", topic, before, total);
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------ */

static const sm_subcmd subs[] = {
    {"create", topic_create, &sm_help_topic_create},
    {"list", topic_list, &sm_help_topic_list},
    {"describe", topic_describe, &sm_help_topic_describe},
    {"delete", topic_delete, &sm_help_topic_delete},
    {"alter-config", topic_alter_config, &sm_help_topic_alter_config},
    {"add-partitions", topic_add_partitions, &sm_help_topic_add_partitions},
    {NULL, NULL, NULL},
};

int sm_cmd_topic(sm_cli *c, int argc, char **argv)
{
    return sm_subcmd_dispatch(c, "topic", "Create, list, describe, delete and change topics.", subs,
                              "samsa topic create orders -p 3\n"
                              "samsa topic list\n"
                              "samsa topic describe orders",
                              argc, argv);
}
