/* group.c: samsa group list|describe|delete|reset-offsets, through
 * librdkafka's admin API (ListConsumerGroups, DescribeConsumerGroups,
 * ListConsumerGroupOffsets, DeleteGroups, AlterConsumerGroupOffsets) and
 * watermarks for the lag.
 *
 * Lag of a partition = its high watermark - the group's committed offset.
 * reset-offsets shows its plan first and changes nothing without --execute;
 * it refuses to execute while the group has members, as Kafka's broker
 * would refuse their commits' generation anyway. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

enum {
    O_TOPIC = 1,
    O_ALL_TOPICS,
    O_TO_EARLIEST,
    O_TO_LATEST,
    O_TO_OFFSET,
    O_TO_TIME,
    O_SHIFT_BY,
    O_EXECUTE,
    O_DRY_RUN,
};

/* ---- shared ------------------------------------------------------------------ */

static const char *state_name(rd_kafka_consumer_group_state_t s)
{
    return rd_kafka_consumer_group_state_name(s);
}

/* DescribeConsumerGroups of one group: the event (caller destroys) and the
 * description in it. A group the broker does not know is SM_EXIT_NOTFOUND
 * when missing_ok is false; else *desc is NULL. */
static int describe_group(sm_cli *c, rd_kafka_t *rk, const char *group, bool missing_ok,
                          rd_kafka_event_t **evp, const rd_kafka_ConsumerGroupDescription_t **desc)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o =
        sm_kafka_admin_options(c, rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    rd_kafka_DescribeConsumerGroups(rk, &group, 1, o, q);
    int rc;
    rd_kafka_event_t *ev =
        sm_kafka_admin_wait(c, rk, q, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT, &rc);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    *desc = NULL;
    *evp = NULL;
    if (!ev)
        return rc;
    size_t cnt;
    const rd_kafka_ConsumerGroupDescription_t **d = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev), &cnt);
    if (cnt != 1) {
        rd_kafka_event_destroy(ev);
        return sm_cli_fail(c, SM_EXIT_FAIL, "group '%s': %zu groups in the answer", group, cnt);
    }
    const rd_kafka_error_t *e = rd_kafka_ConsumerGroupDescription_error(d[0]);
    if (e) {
        rd_kafka_resp_err_t err = rd_kafka_error_code(e);
        if (err == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND && missing_ok) {
            *evp = ev;
            return SM_EXIT_OK;
        }
        rc = err == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND
                 ? sm_cli_fail(c, SM_EXIT_NOTFOUND, "group '%s' does not exist", group)
                 : sm_cli_fail(c, sm_cli_exit_of(err), "group '%s': %s", group,
                               rd_kafka_error_string(e));
        rd_kafka_event_destroy(ev);
        return rc;
    }
    *evp = ev;
    *desc = d[0];
    return SM_EXIT_OK;
}

/* The group's committed offsets (every partition it has one for). The list
 * is the caller's (rd_kafka_topic_partition_list_destroy).
 *
 * Every partition of every topic is asked for by name: librdkafka 2.0's
 * ListConsumerGroupOffsets with no partition list sends an empty topic
 * array instead of a null one to brokers with non-flexible OffsetFetch
 * (v0-5), and gets nothing back (fixed in librdkafka 2.3.0). */
static int committed_offsets(sm_cli *c, rd_kafka_t *rk, const char *group,
                             rd_kafka_topic_partition_list_t **out)
{
    *out = NULL;
    const rd_kafka_metadata_t *md;
    int rc = sm_kafka_metadata(c, rk, &md);
    if (rc)
        return rc;
    rd_kafka_topic_partition_list_t *ask = rd_kafka_topic_partition_list_new(64);
    for (int i = 0; i < md->topic_cnt; i++)
        for (int p = 0; p < md->topics[i].partition_cnt; p++)
            rd_kafka_topic_partition_list_add(ask, md->topics[i].topic,
                                              md->topics[i].partitions[p].id);
    rd_kafka_metadata_destroy(md);
    if (!ask->cnt) {
        *out = ask;
        return SM_EXIT_OK;
    }
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, ask);
    rd_kafka_topic_partition_list_destroy(ask);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o =
        sm_kafka_admin_options(c, rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, o, q);
    rd_kafka_event_t *ev =
        sm_kafka_admin_wait(c, rk, q, RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT, &rc);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_queue_destroy(q);
    if (!ev)
        return rc;
    size_t cnt;
    const rd_kafka_group_result_t **gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(ev), &cnt);
    if (cnt != 1) {
        rd_kafka_event_destroy(ev);
        return sm_cli_fail(c, SM_EXIT_FAIL, "offsets of '%s': %zu groups in the answer", group,
                           cnt);
    }
    const rd_kafka_error_t *e = rd_kafka_group_result_error(gr[0]);
    if (e) {
        rc = sm_cli_fail(c, sm_cli_exit_of(rd_kafka_error_code(e)), "offsets of group '%s': %s",
                         group, rd_kafka_error_string(e));
        rd_kafka_event_destroy(ev);
        return rc;
    }
    /* only the partitions that have an offset */
    const rd_kafka_topic_partition_list_t *parts = rd_kafka_group_result_partitions(gr[0]);
    *out = rd_kafka_topic_partition_list_new(parts ? parts->cnt : 0);
    for (int i = 0; parts && i < parts->cnt; i++)
        if (parts->elems[i].offset >= 0 && !parts->elems[i].err)
            rd_kafka_topic_partition_list_add(*out, parts->elems[i].topic,
                                              parts->elems[i].partition)
                ->offset = parts->elems[i].offset;
    rd_kafka_event_destroy(ev);
    return SM_EXIT_OK;
}

static int cmp_tp(const void *a, const void *b, void *opaque)
{
    (void)opaque;
    const rd_kafka_topic_partition_t *x = a, *y = b;
    int r = strcmp(x->topic, y->topic);
    return r ? r : (x->partition > y->partition) - (x->partition < y->partition);
}

/* ---- list ------------------------------------------------------------------ */

const sm_cmd_help sm_help_group_list = {
    "group list", "", "List consumer groups with their state.",
    "TYPE is consumer for groups whose members subscribe, simple for groups that only\n"
    "commit offsets (e.g. consumers that assign partitions themselves).",
    "samsa group list\n"
    "samsa group list --output json",
    NULL, true};

static int cmp_listing(const void *a, const void *b)
{
    const rd_kafka_ConsumerGroupListing_t *x = *(const rd_kafka_ConsumerGroupListing_t *const *)a;
    const rd_kafka_ConsumerGroupListing_t *y = *(const rd_kafka_ConsumerGroupListing_t *const *)b;
    return strcmp(rd_kafka_ConsumerGroupListing_group_id(x),
                  rd_kafka_ConsumerGroupListing_group_id(y));
}

static int group_list(sm_cli *c, int argc, char **argv)
{
    sm_args a;
    sm_args_init(&a, c, &sm_help_group_list, argc, argv);
    const char *val;
    int id, rc;
    while ((id = sm_args_next(&a, &val)) != SM_OPT_END) {
        if (id == SM_OPT_HELP)
            return SM_EXIT_OK;
        if (id == SM_OPT_POS)
            return sm_cli_fail(c, SM_EXIT_USAGE, "unexpected argument '%s'", val);
        return SM_EXIT_USAGE;
    }
    rd_kafka_t *rk = sm_kafka_admin_open(c, NULL, &rc);
    if (!rk)
        return rc;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o =
        sm_kafka_admin_options(c, rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS);
    rd_kafka_ListConsumerGroups(rk, o, q);
    rd_kafka_event_t *ev =
        sm_kafka_admin_wait(c, rk, q, RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT, &rc);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    if (ev) {
        const rd_kafka_ListConsumerGroups_result_t *res =
            rd_kafka_event_ListConsumerGroups_result(ev);
        size_t n, nerr;
        const rd_kafka_ConsumerGroupListing_t **v = rd_kafka_ListConsumerGroups_result_valid(res, &n);
        const rd_kafka_error_t **errs = rd_kafka_ListConsumerGroups_result_errors(res, &nerr);
        for (size_t i = 0; i < nerr; i++) {
            rc = sm_cli_fail(c, sm_cli_exit_of(rd_kafka_error_code(errs[i])), "%s",
                             rd_kafka_error_string(errs[i]));
        }
        /* brokers with ListGroups below v4 send no state: ask DescribeGroups */
        const char **ids = calloc(n + 1, sizeof *ids);
        bool need_states = false;
        for (size_t i = 0; i < n; i++) {
            ids[i] = rd_kafka_ConsumerGroupListing_group_id(v[i]);
            if (rd_kafka_ConsumerGroupListing_state(v[i]) == RD_KAFKA_CONSUMER_GROUP_STATE_UNKNOWN)
                need_states = true;
        }
        rd_kafka_event_t *dev = NULL;
        const rd_kafka_ConsumerGroupDescription_t **descs = NULL;
        size_t ndesc = 0;
        if (need_states) {
            rd_kafka_queue_t *dq = rd_kafka_queue_new(rk);
            rd_kafka_AdminOptions_t *dopt =
                sm_kafka_admin_options(c, rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
            rd_kafka_DescribeConsumerGroups(rk, ids, n, dopt, dq);
            int drc;
            dev = sm_kafka_admin_wait(c, rk, dq, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT,
                                      &drc);
            rd_kafka_AdminOptions_destroy(dopt);
            rd_kafka_queue_destroy(dq);
            if (dev)
                descs = rd_kafka_DescribeConsumerGroups_result_groups(
                    rd_kafka_event_DescribeConsumerGroups_result(dev), &ndesc);
            else
                rc = drc;
        }
        free(ids);
        const rd_kafka_ConsumerGroupListing_t **sorted = calloc(n + 1, sizeof *sorted);
        if (n)
            memcpy(sorted, v, n * sizeof *v);
        qsort(sorted, n, sizeof *sorted, cmp_listing);
        static const char *const head[] = {"GROUP", "STATE", "TYPE"};
        sm_table t;
        sm_table_init(&t, 3, head, 0);
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            const char *gid = rd_kafka_ConsumerGroupListing_group_id(sorted[i]);
            rd_kafka_consumer_group_state_t state = rd_kafka_ConsumerGroupListing_state(sorted[i]);
            for (size_t k = 0; state == RD_KAFKA_CONSUMER_GROUP_STATE_UNKNOWN && k < ndesc; k++)
                if (!strcmp(rd_kafka_ConsumerGroupDescription_group_id(descs[k]), gid) &&
                    !rd_kafka_ConsumerGroupDescription_error(descs[k]))
                    state = rd_kafka_ConsumerGroupDescription_state(descs[k]);
            const char *st = state_name(state);
            const char *type =
                rd_kafka_ConsumerGroupListing_is_simple_consumer_group(sorted[i]) ? "simple"
                                                                                   : "consumer";
            sm_table_cell(&t, "%s", gid);
            sm_table_cell(&t, "%s", st);
            sm_table_cell(&t, "%s", type);
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "group", gid, "state", st,
                                                 "type", type));
        }
        if (c->output == SM_OUT_JSON) {
            sm_json_print(arr);
        } else {
            json_decref(arr);
            sm_table_print(&t, stdout);
        }
        sm_table_release(&t);
        free(sorted);
        if (dev)
            rd_kafka_event_destroy(dev);
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- describe ------------------------------------------------------------------ */

const sm_cmd_help sm_help_group_describe = {
    "group describe", "GROUP... [options]",
    "Show a group's state, members and their partitions, and per partition the committed"
    "\noffset, the end offset and the lag.",
    "END is the partition's high watermark and LAG = END - COMMITTED: records written\n"
    "that the group has not consumed yet. A partition assigned to a member but with no\n"
    "committed offset shows '-'.",
    "samsa group describe billing\n"
    "samsa group describe billing --output json",
    NULL, true};

/* Which member holds topic [partition], or NULL. */
static const rd_kafka_MemberDescription_t *
owner_of(const rd_kafka_ConsumerGroupDescription_t *d, const char *topic, int32_t partition)
{
    size_t n = d ? rd_kafka_ConsumerGroupDescription_member_count(d) : 0;
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(d, i);
        const rd_kafka_topic_partition_list_t *pl =
            rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
        if (pl && rd_kafka_topic_partition_list_find(pl, topic, partition))
            return m;
    }
    return NULL;
}

/* describe, per group, in steps: plan (the description, and every
 * partition the group has committed or assigned), measure (each
 * partition's end and lag), print. */
typedef struct group_part {
    int64_t end; /* high watermark (when werr is 0) */
    rd_kafka_resp_err_t werr;
    int64_t lag; /* end - committed; -1: unknown (nothing committed, or no end) */
    const rd_kafka_MemberDescription_t *owner; /* NULL: none */
} group_part;

typedef struct group_view {
    rd_kafka_event_t *ev;                         /* owns d */
    const rd_kafka_ConsumerGroupDescription_t *d; /* NULL: the broker does not know the group */
    rd_kafka_consumer_group_state_t state;
    size_t nmembers;
    /* committed or assigned, sorted; offset RD_KAFKA_OFFSET_INVALID: none committed */
    rd_kafka_topic_partition_list_t *all;
    group_part *parts; /* parts[i]: all->elems[i] measured */
    int64_t total_lag;
} group_view;

static void group_view_release(group_view *v)
{
    free(v->parts);
    if (v->all)
        rd_kafka_topic_partition_list_destroy(v->all);
    if (v->ev)
        rd_kafka_event_destroy(v->ev);
}

/* The group's description and partitions. A group the broker knows nothing
 * of is SM_EXIT_NOTFOUND (Kafka answers an unknown group as Dead with no
 * members and no offsets). v is the caller's to release whatever this
 * returns. */
static int describe_make_plan(sm_cli *c, rd_kafka_t *rk, const char *group, group_view *v)
{
    memset(v, 0, sizeof *v);
    int rc = describe_group(c, rk, group, true, &v->ev, &v->d);
    if (rc)
        return rc;
    rd_kafka_topic_partition_list_t *offs = NULL;
    rc = committed_offsets(c, rk, group, &offs);
    if (rc)
        return rc;
    const rd_kafka_ConsumerGroupDescription_t *d = v->d;
    v->state = d ? rd_kafka_ConsumerGroupDescription_state(d) : RD_KAFKA_CONSUMER_GROUP_STATE_DEAD;
    v->nmembers = d ? rd_kafka_ConsumerGroupDescription_member_count(d) : 0;
    if ((v->state == RD_KAFKA_CONSUMER_GROUP_STATE_DEAD ||
         v->state == RD_KAFKA_CONSUMER_GROUP_STATE_UNKNOWN) &&
        !v->nmembers && offs->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(offs);
        return sm_cli_fail(c, SM_EXIT_NOTFOUND, "group '%s' does not exist", group);
    }
    /* every partition either committed or assigned */
    v->all = rd_kafka_topic_partition_list_copy(offs);
    rd_kafka_topic_partition_list_destroy(offs);
    for (size_t i = 0; i < v->nmembers; i++) {
        const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(d, i);
        const rd_kafka_topic_partition_list_t *pl =
            rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
        for (int k = 0; pl && k < pl->cnt; k++)
            if (!rd_kafka_topic_partition_list_find(v->all, pl->elems[k].topic,
                                                    pl->elems[k].partition))
                rd_kafka_topic_partition_list_add(v->all, pl->elems[k].topic,
                                                  pl->elems[k].partition)
                    ->offset = RD_KAFKA_OFFSET_INVALID;
    }
    rd_kafka_topic_partition_list_sort(v->all, cmp_tp, NULL);
    return SM_EXIT_OK;
}

/* Each partition's high watermark (an unreadable one is reported, not
 * fatal), lag and owner; the group's lag. */
static int describe_measure(sm_cli *c, rd_kafka_t *rk, group_view *v)
{
    v->parts = calloc((size_t)v->all->cnt + 1, sizeof *v->parts);
    if (!v->parts)
        return sm_cli_fail(c, SM_EXIT_FAIL, "out of memory");
    for (int i = 0; i < v->all->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &v->all->elems[i];
        group_part *gp = &v->parts[i];
        int64_t lo = -1, hi = -1;
        gp->werr = rd_kafka_query_watermark_offsets(rk, tp->topic, tp->partition, &lo, &hi,
                                                    c->timeout_ms);
        gp->end = hi;
        bool have = tp->offset >= 0;
        gp->lag = have && !gp->werr ? (hi > tp->offset ? hi - tp->offset : 0) : -1;
        if (gp->lag > 0)
            v->total_lag += gp->lag;
        gp->owner = owner_of(v->d, tp->topic, tp->partition);
    }
    return SM_EXIT_OK;
}

/* The members: the table's rows in mt, and their JSON array. */
static json_t *describe_members(const group_view *v, sm_table *mt)
{
    json_t *jm = json_array();
    for (size_t i = 0; i < v->nmembers; i++) {
        const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(v->d, i);
        const rd_kafka_topic_partition_list_t *pl =
            rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
        char parts[512] = "";
        size_t o = 0;
        json_t *ja = json_array();
        for (int k = 0; pl && k < pl->cnt; k++) {
            if (o < sizeof parts)
                o += (size_t)snprintf(parts + o, sizeof parts - o, "%s%s[%d]", k ? " " : "",
                                      pl->elems[k].topic, (int)pl->elems[k].partition);
            json_array_append_new(ja, json_pack("{s:s,s:i}", "topic", pl->elems[k].topic,
                                                "partition", (int)pl->elems[k].partition));
        }
        sm_table_cell(mt, "%s", rd_kafka_MemberDescription_consumer_id(m));
        sm_table_cell(mt, "%s", rd_kafka_MemberDescription_client_id(m));
        sm_table_cell(mt, "%s", rd_kafka_MemberDescription_host(m));
        sm_table_cell(mt, "%s", parts[0] ? parts : "-");
        const char *inst = rd_kafka_MemberDescription_group_instance_id(m);
        json_array_append_new(
            jm, json_pack("{s:s,s:s?,s:s,s:s,s:o}", "member_id",
                          rd_kafka_MemberDescription_consumer_id(m), "group_instance_id",
                          inst, "client_id", rd_kafka_MemberDescription_client_id(m), "host",
                          rd_kafka_MemberDescription_host(m), "assignment", ja));
    }
    return jm;
}

/* The partitions: the table's rows in ot, and their JSON array. */
static json_t *describe_partitions(const group_view *v, sm_table *ot)
{
    json_t *jo = json_array();
    for (int i = 0; i < v->all->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &v->all->elems[i];
        const group_part *gp = &v->parts[i];
        const rd_kafka_MemberDescription_t *m = gp->owner;
        bool have = tp->offset >= 0;
        sm_table_cell(ot, "%s", tp->topic);
        sm_table_cell(ot, "%d", (int)tp->partition);
        if (have)
            sm_table_cell(ot, "%lld", (long long)tp->offset);
        else
            sm_table_cell(ot, "-");
        if (gp->werr)
            sm_table_cell(ot, "?");
        else
            sm_table_cell(ot, "%lld", (long long)gp->end);
        if (gp->lag >= 0)
            sm_table_cell(ot, "%lld", (long long)gp->lag);
        else
            sm_table_cell(ot, "-");
        sm_table_cell(ot, "%s", m ? rd_kafka_MemberDescription_consumer_id(m) : "-");
        sm_table_cell(ot, "%s", m ? rd_kafka_MemberDescription_client_id(m) : "-");
        json_t *jp = json_pack("{s:s,s:i}", "topic", tp->topic, "partition", (int)tp->partition);
        json_object_set_new(jp, "committed", have ? json_integer(tp->offset) : json_null());
        json_object_set_new(jp, "end", gp->werr ? json_null() : json_integer(gp->end));
        json_object_set_new(jp, "lag", gp->lag >= 0 ? json_integer(gp->lag) : json_null());
        json_object_set_new(jp, "member_id",
                            m ? json_string(rd_kafka_MemberDescription_consumer_id(m))
                              : json_null());
        if (gp->werr)
            json_object_set_new(jp, "error", json_string(rd_kafka_err2str(gp->werr)));
        json_array_append_new(jo, jp);
    }
    return jo;
}

/* The group's members and partitions: two tables on stdout, or an entry
 * appended to out for JSON. */
static void describe_print(sm_cli *c, const char *group, const group_view *v, json_t *out,
                           bool first)
{
    const rd_kafka_ConsumerGroupDescription_t *d = v->d;
    const char *assignor = d ? rd_kafka_ConsumerGroupDescription_partition_assignor(d) : NULL;
    const rd_kafka_Node_t *coord = d ? rd_kafka_ConsumerGroupDescription_coordinator(d) : NULL;
    json_t *j = json_pack("{s:s,s:s,s:s?,s:i}", "group", group, "state", state_name(v->state),
                          "assignor", assignor && *assignor ? assignor : NULL, "member_count",
                          (int)v->nmembers);
    if (coord)
        json_object_set_new(j, "coordinator",
                            json_pack("{s:i,s:s,s:i}", "id", rd_kafka_Node_id(coord), "host",
                                      rd_kafka_Node_host(coord), "port",
                                      (int)rd_kafka_Node_port(coord)));
    static const char *const mhead[] = {"MEMBER", "CLIENT", "HOST", "PARTITIONS"};
    sm_table mt;
    sm_table_init(&mt, 4, mhead, 0);
    json_object_set_new(j, "members", describe_members(v, &mt));
    static const char *const ohead[] = {"TOPIC", "PARTITION", "COMMITTED", "END",
                                        "LAG",   "MEMBER",    "CLIENT"};
    sm_table ot;
    sm_table_init(&ot, 7, ohead, 2u | 4u | 8u | 16u);
    json_object_set_new(j, "offsets", describe_partitions(v, &ot));
    json_object_set_new(j, "lag", json_integer(v->total_lag));
    if (c->output == SM_OUT_JSON) {
        json_array_append_new(out, j);
    } else {
        printf("%sGroup: %s  state: %s  assignor: %s  members: %zu  lag: %lld", first ? "" : "\n",
               group, state_name(v->state), assignor && *assignor ? assignor : "-", v->nmembers,
               (long long)v->total_lag);
        if (coord)
            printf("  coordinator: %d (%s:%d)", rd_kafka_Node_id(coord), rd_kafka_Node_host(coord),
                   (int)rd_kafka_Node_port(coord));
        printf("\n");
        if (v->nmembers) {
            printf("\n");
            sm_table_print(&mt, stdout);
        }
        printf("\n");
        if (v->all->cnt)
            sm_table_print(&ot, stdout);
        else
            printf("No committed offsets and no assigned partitions.\n");
        json_decref(j);
    }
    sm_table_release(&mt);
    sm_table_release(&ot);
}

static int describe_one(sm_cli *c, rd_kafka_t *rk, const char *group, json_t *out, bool first)
{
    group_view v;
    int rc = describe_make_plan(c, rk, group, &v);
    if (!rc)
        rc = describe_measure(c, rk, &v);
    if (!rc)
        describe_print(c, group, &v, out, first);
    group_view_release(&v);
    return rc;
}

static int group_describe(sm_cli *c, int argc, char **argv)
{
    sm_args a;
    sm_args_init(&a, c, &sm_help_group_describe, argc, argv);
    const char *val, *groups[64];
    int n = 0, id, rc;
    while ((id = sm_args_next(&a, &val)) != SM_OPT_END) {
        if (id == SM_OPT_POS) {
            if (n == 64)
                return sm_cli_fail(c, SM_EXIT_USAGE, "at most 64 groups at once");
            groups[n++] = val;
        } else if (id == SM_OPT_HELP) {
            return SM_EXIT_OK;
        } else {
            return SM_EXIT_USAGE;
        }
    }
    if (!n)
        return sm_cli_fail(c, SM_EXIT_USAGE, "which group? (samsa group describe GROUP)");
    rd_kafka_t *rk = sm_kafka_admin_open(c, NULL, &rc);
    if (!rk)
        return rc;
    json_t *out = json_array();
    for (int i = 0; i < n; i++) {
        int r1 = describe_one(c, rk, groups[i], out, i == 0);
        if (!rc)
            rc = r1;
    }
    if (c->output == SM_OUT_JSON && json_array_size(out))
        sm_json_print(n == 1 ? json_incref(json_array_get(out, 0)) : json_incref(out));
    json_decref(out);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- delete ------------------------------------------------------------------ */

const sm_cmd_help sm_help_group_delete = {
    "group delete", "GROUP... [options]",
    "Delete consumer groups and their committed offsets.",
    "Only a group without members can be deleted: stop its consumers first.",
    "samsa group delete billing-test", NULL, true};

static int group_delete(sm_cli *c, int argc, char **argv)
{
    sm_args a;
    sm_args_init(&a, c, &sm_help_group_delete, argc, argv);
    const char *val, *groups[64];
    int n = 0, id, rc;
    while ((id = sm_args_next(&a, &val)) != SM_OPT_END) {
        if (id == SM_OPT_POS) {
            if (n == 64)
                return sm_cli_fail(c, SM_EXIT_USAGE, "at most 64 groups at once");
            groups[n++] = val;
        } else if (id == SM_OPT_HELP) {
            return SM_EXIT_OK;
        } else {
            return SM_EXIT_USAGE;
        }
    }
    if (!n)
        return sm_cli_fail(c, SM_EXIT_USAGE, "which group? (samsa group delete GROUP)");
    rd_kafka_t *rk = sm_kafka_admin_open(c, NULL, &rc);
    if (!rk)
        return rc;
    rd_kafka_DeleteGroup_t *dg[64];
    for (int i = 0; i < n; i++)
        dg[i] = rd_kafka_DeleteGroup_new(groups[i]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = sm_kafka_admin_options(c, rk, RD_KAFKA_ADMIN_OP_DELETEGROUPS);
    rd_kafka_DeleteGroups(rk, dg, (size_t)n, o, q);
    rd_kafka_event_t *ev = sm_kafka_admin_wait(c, rk, q, RD_KAFKA_EVENT_DELETEGROUPS_RESULT, &rc);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_DeleteGroup_destroy_array(dg, (size_t)n);
    rd_kafka_queue_destroy(q);
    if (ev) {
        size_t cnt;
        const rd_kafka_group_result_t **gr =
            rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &cnt);
        json_t *arr = json_array();
        for (size_t i = 0; i < cnt; i++) {
            const char *name = rd_kafka_group_result_name(gr[i]);
            const rd_kafka_error_t *e = rd_kafka_group_result_error(gr[i]);
            if (!e) {
                if (c->output == SM_OUT_TABLE)
                    printf("deleted group %s\n", name);
                json_array_append_new(arr, json_pack("{s:s,s:b}", "group", name, "deleted", 1));
                continue;
            }
            rd_kafka_resp_err_t err = rd_kafka_error_code(e);
            int r1;
            if (err == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND)
                r1 = sm_cli_fail(c, SM_EXIT_NOTFOUND, "group '%s' does not exist", name);
            else if (err == RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP)
                r1 = sm_cli_fail(c, SM_EXIT_FAIL, "group '%s' has active members; stop them first",
                                 name);
            else
                r1 = sm_cli_fail(c, sm_cli_exit_of(err), "group '%s': %s", name,
                                 rd_kafka_error_string(e));
            if (!rc)
                rc = r1;
            json_array_append_new(arr, json_pack("{s:s,s:b,s:s}", "group", name, "deleted", 0,
                                                 "error", rd_kafka_error_string(e)));
        }
        if (c->output == SM_OUT_JSON)
            sm_json_print(arr);
        else
            json_decref(arr);
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- reset-offsets ------------------------------------------------------------------ */

static const sm_opt reset_opts[] = {
    {O_TOPIC, 't', "topic", "TOPIC[:P,P...]",
     "the topic to reset (all its partitions, or those listed), repeatable"},
    {O_ALL_TOPICS, 0, "all-topics", NULL, "every topic the group has committed offsets for"},
    {O_TO_EARLIEST, 0, "to-earliest", NULL, "to the first record still in the log"},
    {O_TO_LATEST, 0, "to-latest", NULL, "to the end: skip everything not consumed yet"},
    {O_TO_OFFSET, 0, "to-offset", "N", "to offset N (it must be within the partition)"},
    {O_TO_TIME, 0, "to-datetime", "TIME",
     "to the first record at or after TIME (ms, ISO 8601, or -DURATION: -1h)"},
    {O_SHIFT_BY, 0, "shift-by", "N",
     "move the committed offset by N (negative: back), kept within the log"},
    {O_EXECUTE, 0, "execute", NULL, "apply the change (without it: a dry run that only shows it)"},
    {O_DRY_RUN, 0, "dry-run", NULL, "show the change only (the default)"},
    {0, 0, NULL, NULL, NULL},
};

const sm_cmd_help sm_help_group_reset_offsets = {
    "group reset-offsets", "GROUP (--topic T | --all-topics) --to-... [--execute]",
    "Move a group's committed offsets; shows the plan unless --execute is given.",
    "The group must have no active members to --execute (stop its consumers first):\n"
    "a running member would overwrite the new offsets with its next commit.",
    "samsa group reset-offsets billing --topic orders --to-earliest\n"
    "samsa group reset-offsets billing --topic orders --to-earliest --execute\n"
    "samsa group reset-offsets billing --topic orders:0 --to-offset 1 --execute\n"
    "samsa group reset-offsets billing --all-topics --to-datetime -1h --execute\n"
    "samsa group reset-offsets billing --topic orders --shift-by -2 --execute",
    reset_opts, true};

typedef enum { R_NONE, R_EARLIEST, R_LATEST, R_OFFSET, R_TIME, R_SHIFT } reset_kind;

/* Adds "TOPIC" (every partition) or "TOPIC:0,2" to l, checking they exist. */
static int add_topic_spec(sm_cli *c, const rd_kafka_metadata_t *md, const char *spec,
                          rd_kafka_topic_partition_list_t *l)
{
    char topic[256];
    const char *colon = strchr(spec, ':');
    size_t tl = colon ? (size_t)(colon - spec) : strlen(spec);
    if (!tl || tl >= sizeof topic)
        return sm_cli_fail(c, SM_EXIT_USAGE, "--topic '%s': expected TOPIC or TOPIC:P,P...", spec);
    memcpy(topic, spec, tl);
    topic[tl] = 0;
    const rd_kafka_metadata_topic_t *mt = sm_md_topic(md, topic);
    if (!mt)
        return sm_cli_fail(c, SM_EXIT_NOTFOUND, "topic '%s' does not exist", topic);
    if (!colon) {
        for (int p = 0; p < mt->partition_cnt; p++)
            if (!rd_kafka_topic_partition_list_find(l, topic, p))
                rd_kafka_topic_partition_list_add(l, topic, p);
        return SM_EXIT_OK;
    }
    const char *p = colon + 1;
    while (*p) {
        char num[32];
        size_t n = strcspn(p, ",");
        if (!n || n >= sizeof num)
            return sm_cli_fail(c, SM_EXIT_USAGE, "--topic '%s': expected TOPIC:P,P...", spec);
        memcpy(num, p, n);
        num[n] = 0;
        int32_t part;
        if (sm_cli_parse_i32(c, "--topic partition", num, 0, 1000000, &part))
            return SM_EXIT_USAGE;
        if (part >= mt->partition_cnt)
            return sm_cli_fail(c, SM_EXIT_NOTFOUND, "topic '%s' has no partition %d (it has %d)",
                               topic, (int)part, mt->partition_cnt);
        if (!rd_kafka_topic_partition_list_find(l, topic, part))
            rd_kafka_topic_partition_list_add(l, topic, part);
        p += n + (p[n] == ',');
    }
    return SM_EXIT_OK;
}

/* reset-offsets in four steps: parse the command line, plan (the partitions
 * and their new offsets), execute (only with --execute), print. */
typedef struct reset_req {
    const char *group;
    const char *specs[64];
    int nspec;
    bool all_topics, execute;
    reset_kind kind;
    int64_t arg; /* --to-offset, --to-datetime (ms) or --shift-by */
} reset_req;

/* The plan: each partition's offset in plan is the new one; cur[i] is
 * plan->elems[i]'s committed offset (-1: none). */
typedef struct reset_plan {
    rd_kafka_topic_partition_list_t *plan;
    int64_t *cur;
} reset_plan;

/* SM_EXIT_OK with *help set: --help was printed, nothing more to do. */
static int reset_parse(sm_cli *c, int argc, char **argv, reset_req *q, bool *help)
{
    sm_args a;
    sm_args_init(&a, c, &sm_help_group_reset_offsets, argc, argv);
    const char *val;
    int id;
    memset(q, 0, sizeof *q);
    q->kind = R_NONE;
    *help = false;
    while ((id = sm_args_next(&a, &val)) != SM_OPT_END) {
        reset_kind k = R_NONE;
        switch (id) {
        case SM_OPT_POS:
            if (q->group)
                return sm_cli_fail(c, SM_EXIT_USAGE, "one group at a time ('%s' and '%s')",
                                   q->group, val);
            q->group = val;
            break;
        case O_TOPIC:
            if (q->nspec == 64)
                return sm_cli_fail(c, SM_EXIT_USAGE, "at most 64 --topic");
            q->specs[q->nspec++] = val;
            break;
        case O_ALL_TOPICS:
            q->all_topics = true;
            break;
        case O_TO_EARLIEST:
            k = R_EARLIEST;
            break;
        case O_TO_LATEST:
            k = R_LATEST;
            break;
        case O_TO_OFFSET:
            k = R_OFFSET;
            if (sm_cli_parse_i64(c, "--to-offset", val, 0, INT64_MAX / 2, &q->arg))
                return SM_EXIT_USAGE;
            break;
        case O_TO_TIME:
            k = R_TIME;
            if (sm_cli_parse_time(c, "--to-datetime", val, &q->arg))
                return SM_EXIT_USAGE;
            break;
        case O_SHIFT_BY:
            k = R_SHIFT;
            if (sm_cli_parse_i64(c, "--shift-by", val, -(INT64_MAX / 2), INT64_MAX / 2, &q->arg))
                return SM_EXIT_USAGE;
            break;
        case O_EXECUTE:
            q->execute = true;
            break;
        case O_DRY_RUN:
            q->execute = false;
            break;
        case SM_OPT_HELP:
            *help = true;
            return SM_EXIT_OK;
        default:
            return SM_EXIT_USAGE;
        }
        if (k != R_NONE) {
            if (q->kind != R_NONE)
                return sm_cli_fail(c, SM_EXIT_USAGE,
                                   "give one of --to-earliest, --to-latest, --to-offset,"
                                   " --to-datetime, --shift-by");
            q->kind = k;
        }
    }
    if (!q->group)
        return sm_cli_fail(c, SM_EXIT_USAGE, "which group? (samsa group reset-offsets GROUP ...)");
    if (!q->nspec && !q->all_topics)
        return sm_cli_fail(c, SM_EXIT_USAGE, "which partitions? give --topic TOPIC or --all-topics");
    if (q->nspec && q->all_topics)
        return sm_cli_fail(c, SM_EXIT_USAGE, "--topic and --all-topics exclude each other");
    if (q->kind == R_NONE)
        return sm_cli_fail(c, SM_EXIT_USAGE,
                           "where to? give --to-earliest, --to-latest, --to-offset N,"
                           " --to-datetime TIME or --shift-by N");
    return SM_EXIT_OK;
}

/* The partitions: every one the group has committed offsets for, or those
 * the --topic specs name; sorted. */
static int reset_partitions(sm_cli *c, const reset_req *q, const rd_kafka_metadata_t *md,
                            const rd_kafka_topic_partition_list_t *offs,
                            rd_kafka_topic_partition_list_t *plan)
{
    int rc;
    if (q->all_topics) {
        for (int i = 0; i < offs->cnt; i++)
            rd_kafka_topic_partition_list_add(plan, offs->elems[i].topic, offs->elems[i].partition);
        if (!plan->cnt)
            return sm_cli_fail(c, SM_EXIT_NOTFOUND,
                               "group '%s' has no committed offsets; name the topic with --topic",
                               q->group);
    } else {
        for (int i = 0; i < q->nspec; i++)
            if ((rc = add_topic_spec(c, md, q->specs[i], plan)))
                return rc;
    }
    rd_kafka_topic_partition_list_sort(plan, cmp_tp, NULL);
    return SM_EXIT_OK;
}

/* New offsets: watermarks, then the kind's rule; --to-datetime through
 * offsets_for_times (nothing at or after the time: the end). */
static int reset_offsets(sm_cli *c, rd_kafka_t *rk, const reset_req *q,
                         const rd_kafka_topic_partition_list_t *offs, reset_plan *p)
{
    int rc = SM_EXIT_OK;
    rd_kafka_topic_partition_list_t *plan = p->plan;
    int64_t arg = q->arg;
    for (int i = 0; i < plan->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &plan->elems[i];
        rd_kafka_topic_partition_t *had =
            rd_kafka_topic_partition_list_find(offs, tp->topic, tp->partition);
        p->cur[i] = had && had->offset >= 0 ? had->offset : -1;
        int64_t lo, hi;
        if ((rc = sm_kafka_watermarks(c, rk, tp->topic, tp->partition, &lo, &hi)))
            break;
        switch (q->kind) {
        case R_EARLIEST:
            tp->offset = lo;
            break;
        case R_LATEST:
            tp->offset = hi;
            break;
        case R_OFFSET:
            if (arg < lo || arg > hi) {
                rc = sm_cli_fail(c, SM_EXIT_NOTFOUND,
                                 "offset %lld is out of range for %s [%d]: offsets %lld..%lld"
                                 " (%lld is the end)",
                                 (long long)arg, tp->topic, (int)tp->partition, (long long)lo,
                                 (long long)hi, (long long)hi);
                break;
            }
            tp->offset = arg;
            break;
        case R_SHIFT:
            if (p->cur[i] < 0) {
                rc = sm_cli_fail(c, SM_EXIT_NOTFOUND,
                                 "group '%s' has no committed offset on %s [%d] to shift",
                                 q->group, tp->topic, (int)tp->partition);
                break;
            }
            tp->offset = p->cur[i] + arg < lo   ? lo
                         : p->cur[i] + arg > hi ? hi
                                                : p->cur[i] + arg;
            break;
        case R_TIME:
            tp->offset = arg; /* resolved below */
            break;
        case R_NONE:
            break;
        }
        if (rc)
            break;
    }
    if (!rc && q->kind == R_TIME) {
        rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, plan, c->timeout_ms);
        if (err)
            rc = sm_cli_fail(c, sm_cli_exit_of(err), "offsets for the time: %s",
                             rd_kafka_err2str(err));
        for (int i = 0; !rc && i < plan->cnt; i++) {
            rd_kafka_topic_partition_t *tp = &plan->elems[i];
            if (tp->err) {
                rc = sm_cli_fail(c, sm_cli_exit_of(tp->err), "offsets for the time on %s [%d]: %s",
                                 tp->topic, (int)tp->partition, rd_kafka_err2str(tp->err));
            } else if (tp->offset < 0) { /* nothing at or after it: the end */
                int64_t lo, hi;
                rc = sm_kafka_watermarks(c, rk, tp->topic, tp->partition, &lo, &hi);
                tp->offset = hi;
            }
        }
    }
    return rc;
}

/* The plan: the group must be empty to --execute; its committed offsets,
 * the partitions, their new offsets. */
static int reset_make_plan(sm_cli *c, rd_kafka_t *rk, const reset_req *q, reset_plan *p)
{
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_event_t *dev = NULL;
    rd_kafka_topic_partition_list_t *offs = NULL;
    const rd_kafka_ConsumerGroupDescription_t *d;
    int rc = sm_kafka_metadata(c, rk, &md);
    if (rc)
        goto out;
    rc = describe_group(c, rk, q->group, true, &dev, &d);
    if (rc)
        goto out;
    size_t nmembers = d ? rd_kafka_ConsumerGroupDescription_member_count(d) : 0;
    if (q->execute && nmembers) {
        rc = sm_cli_fail(c, SM_EXIT_FAIL,
                         "group '%s' has %zu active member%s; stop %s before resetting offsets"
                         " (without --execute the plan is shown anyway)",
                         q->group, nmembers, nmembers == 1 ? "" : "s",
                         nmembers == 1 ? "it" : "them");
        goto out;
    }
    rc = committed_offsets(c, rk, q->group, &offs);
    if (rc)
        goto out;
    p->plan = rd_kafka_topic_partition_list_new(16);
    if ((rc = reset_partitions(c, q, md, offs, p->plan)))
        goto out;
    p->cur = calloc((size_t)p->plan->cnt, sizeof *p->cur);
    rc = reset_offsets(c, rk, q, offs, p);
out:
    if (offs)
        rd_kafka_topic_partition_list_destroy(offs);
    if (dev)
        rd_kafka_event_destroy(dev);
    if (md)
        rd_kafka_metadata_destroy(md);
    return rc;
}

/* AlterConsumerGroupOffsets with the plan; *applied: the partitions as the
 * broker answered them (NULL when the request failed). */
static int reset_execute(sm_cli *c, rd_kafka_t *rk, const reset_req *q,
                         const reset_plan *p, rd_kafka_topic_partition_list_t **applied)
{
    int rc = SM_EXIT_OK;
    *applied = NULL;
    rd_kafka_AlterConsumerGroupOffsets_t *req =
        rd_kafka_AlterConsumerGroupOffsets_new(q->group, p->plan);
    rd_kafka_queue_t *qu = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o =
        sm_kafka_admin_options(c, rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS);
    rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, o, qu);
    rd_kafka_event_t *ev =
        sm_kafka_admin_wait(c, rk, qu, RD_KAFKA_EVENT_ALTERCONSUMERGROUPOFFSETS_RESULT, &rc);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_AlterConsumerGroupOffsets_destroy(req);
    rd_kafka_queue_destroy(qu);
    if (ev) {
        size_t cnt;
        const rd_kafka_group_result_t **gr = rd_kafka_AlterConsumerGroupOffsets_result_groups(
            rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &cnt);
        const rd_kafka_error_t *e = cnt == 1 ? rd_kafka_group_result_error(gr[0]) : NULL;
        if (cnt != 1) {
            rc = sm_cli_fail(c, SM_EXIT_FAIL, "group '%s': %zu groups in the answer", q->group,
                             cnt);
        } else if (e) {
            rc = sm_cli_fail(c, sm_cli_exit_of(rd_kafka_error_code(e)), "group '%s': %s",
                             q->group, rd_kafka_error_string(e));
        } else {
            const rd_kafka_topic_partition_list_t *pl = rd_kafka_group_result_partitions(gr[0]);
            *applied = pl ? rd_kafka_topic_partition_list_copy(pl) : NULL;
        }
        rd_kafka_event_destroy(ev);
    }
    return rc;
}

/* The table (or JSON) of the plan, with each partition's result when
 * executed; a partition the broker refused fails the command (unless rc
 * already says why). Returns rc or that failure. */
static int reset_print(sm_cli *c, const reset_req *q, const reset_plan *p,
                       const rd_kafka_topic_partition_list_t *applied, int rc)
{
    const rd_kafka_topic_partition_list_t *plan = p->plan;
    bool execute = q->execute;
    static const char *const head[] = {"TOPIC", "PARTITION", "CURRENT", "NEW", "RESULT"};
    sm_table t;
    sm_table_init(&t, execute ? 5 : 4, head, 2u | 4u | 8u);
    json_t *jp = json_array();
    for (int i = 0; i < plan->cnt && (!execute || applied); i++) {
        const rd_kafka_topic_partition_t *tp = &plan->elems[i];
        rd_kafka_topic_partition_t *ap =
            applied ? rd_kafka_topic_partition_list_find(applied, tp->topic, tp->partition)
                    : NULL;
        rd_kafka_resp_err_t perr = ap ? ap->err : RD_KAFKA_RESP_ERR_NO_ERROR;
        sm_table_cell(&t, "%s", tp->topic);
        sm_table_cell(&t, "%d", (int)tp->partition);
        if (p->cur[i] >= 0)
            sm_table_cell(&t, "%lld", (long long)p->cur[i]);
        else
            sm_table_cell(&t, "-");
        sm_table_cell(&t, "%lld", (long long)tp->offset);
        if (execute)
            sm_table_cell(&t, "%s", perr ? rd_kafka_err2str(perr) : "ok");
        json_t *e = json_pack("{s:s,s:i,s:o,s:I}", "topic", tp->topic, "partition",
                              (int)tp->partition, "current",
                              p->cur[i] >= 0 ? json_integer(p->cur[i]) : json_null(), "new",
                              (json_int_t)tp->offset);
        if (perr) {
            json_object_set_new(e, "error", json_string(rd_kafka_err2str(perr)));
            if (!rc)
                rc = sm_cli_fail(c, sm_cli_exit_of(perr), "%s [%d]: %s", tp->topic,
                                 (int)tp->partition, rd_kafka_err2str(perr));
        }
        json_array_append_new(jp, e);
    }
    if (!execute || applied) {
        if (c->output == SM_OUT_JSON) {
            sm_json_print(json_pack("{s:s,s:b,s:o}", "group", q->group, "executed", execute,
                                    "partitions", jp));
            jp = NULL;
        } else {
            sm_table_print(&t, stdout);
            if (execute)
                printf("group %s: offsets reset\n", q->group);
            else
                printf("dry run: nothing changed; add --execute to apply\n");
        }
    }
    json_decref(jp);
    sm_table_release(&t);
    return rc;
}

static int group_reset_offsets(sm_cli *c, int argc, char **argv)
{
    reset_req q;
    bool help;
    int rc = reset_parse(c, argc, argv, &q, &help);
    if (rc || help)
        return rc;
    rd_kafka_t *rk = sm_kafka_client(c, RD_KAFKA_PRODUCER, &rc);
    if (!rk)
        return rc;
    reset_plan p = {NULL, NULL};
    rd_kafka_topic_partition_list_t *applied = NULL;
    rc = reset_make_plan(c, rk, &q, &p);
    if (!rc) {
        if (q.execute)
            rc = reset_execute(c, rk, &q, &p, &applied);
        rc = reset_print(c, &q, &p, applied, rc);
    }
    if (applied)
        rd_kafka_topic_partition_list_destroy(applied);
    free(p.cur);
    if (p.plan)
        rd_kafka_topic_partition_list_destroy(p.plan);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------ */

static const sm_subcmd subs[] = {
    {"list", group_list, &sm_help_group_list},
    {"describe", group_describe, &sm_help_group_describe},
    {"delete", group_delete, &sm_help_group_delete},
    {"reset-offsets", group_reset_offsets, &sm_help_group_reset_offsets},
    {NULL, NULL, NULL},
};

int sm_cmd_group(sm_cli *c, int argc, char **argv)
{
    return sm_subcmd_dispatch(c, "group", "Consumer groups: list, describe with lag, delete, reset.",
                              subs,
                              "samsa group list\n"
                              "samsa group describe billing\n"
                              "samsa group reset-offsets billing --topic orders --to-earliest",
                              argc, argv);
}
