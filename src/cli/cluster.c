/* cluster.c: samsa cluster info: the cluster id, the controller, every
 * broker, and the version range of each API every broker supports (asked
 * with apiversions.c's own request: librdkafka shows them only in debug
 * logs). That needs PLAINTEXT; with another security.protocol the table is
 * left out and the command says so. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"

/* ---- info ------------------------------------------------------------------ */

enum { O_NO_APIS = 1 };

static const sm_opt info_opts[] = {
    {O_NO_APIS, 0, "no-api-versions", NULL, "leave out the API version table"},
    {0, 0, NULL, NULL, NULL},
};

const sm_cmd_help sm_help_cluster_info = {
    "cluster info", "[options]",
    "Show the cluster id, the controller, the brokers and each broker's API versions.",
    "The API versions are what each broker advertises in ApiVersions (asked over a\n"
    "plain connection, so only with security.protocol plaintext).",
    "samsa cluster info\n"
    "samsa cluster info --no-api-versions\n"
    "samsa cluster info --output json",
    info_opts, true};

static int cmp_broker(const void *a, const void *b)
{
    const rd_kafka_metadata_broker_t *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static int cmp_range(const void *a, const void *b)
{
    const sm_api_range *x = a, *y = b;
    return (x->key > y->key) - (x->key < y->key);
}

static int cluster_info(sm_cli *c, int argc, char **argv)
{
    sm_args a;
    sm_args_init(&a, c, &sm_help_cluster_info, argc, argv);
    const char *val;
    int id, rc;
    bool apis = true;
    while ((id = sm_args_next(&a, &val)) != SM_OPT_END) {
        if (id == O_NO_APIS)
            apis = false;
        else if (id == SM_OPT_HELP)
            return SM_EXIT_OK;
        else if (id == SM_OPT_POS)
            return sm_cli_fail(c, SM_EXIT_USAGE, "unexpected argument '%s'", val);
        else
            return SM_EXIT_USAGE;
    }
    const char *proto = sm_props_get(&c->xprops, "security.protocol");
    bool plain = !proto || !strcasecmp(proto, "plaintext");
    const rd_kafka_metadata_t *md;
    rd_kafka_t *rk = sm_kafka_admin_open(c, &md, &rc);
    if (!rk)
        return rc;
    int32_t controller = rd_kafka_controllerid(rk, c->timeout_ms);
    char *cluster_id = rd_kafka_clusterid(rk, c->timeout_ms);
    int partitions = 0;
    for (int i = 0; i < md->topic_cnt; i++)
        partitions += md->topics[i].partition_cnt;
    rd_kafka_metadata_broker_t *brokers = calloc((size_t)md->broker_cnt + 1, sizeof *brokers);
    memcpy(brokers, md->brokers, (size_t)md->broker_cnt * sizeof *brokers);
    qsort(brokers, (size_t)md->broker_cnt, sizeof *brokers, cmp_broker);

    json_t *j = json_pack("{s:s?,s:o,s:i,s:i}", "cluster_id", cluster_id, "controller_id",
                          controller >= 0 ? json_integer(controller) : json_null(), "topics",
                          md->topic_cnt, "partitions", partitions);
    json_t *jb = json_array();
    static const char *const bhead[] = {"BROKER", "HOST", "PORT", "CONTROLLER"};
    sm_table bt;
    sm_table_init(&bt, 4, bhead, 1u | 4u);
    for (int i = 0; i < md->broker_cnt; i++) {
        sm_table_cell(&bt, "%d", (int)brokers[i].id);
        sm_table_cell(&bt, "%s", brokers[i].host);
        sm_table_cell(&bt, "%d", brokers[i].port);
        sm_table_cell(&bt, "%s", brokers[i].id == controller ? "yes" : "");
    }
    if (c->output == SM_OUT_TABLE) {
        printf("Cluster: %s  controller: %d  brokers: %d  topics: %d  partitions: %d\n\n",
               cluster_id ? cluster_id : "-", (int)controller, md->broker_cnt, md->topic_cnt,
               partitions);
        sm_table_print(&bt, stdout);
    }
    sm_table_release(&bt);
    for (int i = 0; i < md->broker_cnt; i++) {
        const rd_kafka_metadata_broker_t *b = &brokers[i];
        json_t *e = json_pack("{s:i,s:s,s:i,s:b}", "id", (int)b->id, "host", b->host, "port",
                              b->port, "controller", b->id == controller);
        if (apis && plain) {
            sm_api_range *v;
            int n;
            char err[256];
            if (sm_api_versions(b->host, b->port, c->timeout_ms, &v, &n, err, sizeof err)) {
                rc = sm_cli_fail(c, SM_EXIT_FAIL, "ApiVersions from broker %d (%s:%d): %s",
                                 (int)b->id, b->host, b->port, err);
                json_object_set_new(e, "api_versions_error", json_string(err));
            } else {
                qsort(v, (size_t)n, sizeof *v, cmp_range);
                json_t *ja = json_array();
                static const char *const ahead[] = {"KEY", "API", "MIN", "MAX"};
                sm_table at;
                sm_table_init(&at, 4, ahead, 1u | 4u | 8u);
                for (int k = 0; k < n; k++) {
                    sm_table_cell(&at, "%d", v[k].key);
                    sm_table_cell(&at, "%s", sm_api_name(v[k].key));
                    sm_table_cell(&at, "%d", v[k].min);
                    sm_table_cell(&at, "%d", v[k].max);
                    json_array_append_new(ja, json_pack("{s:i,s:s,s:i,s:i}", "key", v[k].key,
                                                        "name", sm_api_name(v[k].key), "min",
                                                        v[k].min, "max", v[k].max));
                }
                json_object_set_new(e, "api_versions", ja);
                if (c->output == SM_OUT_TABLE) {
                    printf("\nAPI versions of broker %d (%s:%d):\n", (int)b->id, b->host,
                           b->port);
                    sm_table_print(&at, stdout);
                }
                sm_table_release(&at);
                free(v);
            }
        }
        json_array_append_new(jb, e);
    }
    if (apis && !plain && c->output == SM_OUT_TABLE)
        printf("\nAPI versions: asked only over plaintext (security.protocol is %s)\n", proto);
    json_object_set_new(j, "brokers", jb);
    if (c->output == SM_OUT_JSON)
        sm_json_print(j);
    else
        json_decref(j);
    free(brokers);
    if (cluster_id)
        rd_kafka_mem_free(rk, cluster_id);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}

static const sm_subcmd subs[] = {
    {"info", cluster_info, &sm_help_cluster_info},
    {NULL, NULL, NULL},
};

int sm_cmd_cluster(sm_cli *c, int argc, char **argv)
{
    return sm_subcmd_dispatch(c, "cluster", "The cluster: brokers, controller, API versions.", subs,
                              "samsa cluster info", argc, argv);
}
