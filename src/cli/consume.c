/* consume.c: samsa consume TOPIC: read records from the beginning, the end,
 * an offset, the last N, or a time; from one partition or all; as a member
 * of a consumer group (committing) or on its own (assign, no commits);
 * follow, stop after -n records, or stop at the end (-e). Formats: the value,
 * key and value, JSON lines, or a format string.
 *
 * Without a group, start offsets are resolved here (watermarks and
 * offsets_for_times) before assigning, so a bad offset is an error that
 * names the partition's range, never a silent reset; and -e knows exactly
 * how far to read: the high watermark of each partition when it started. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli/cli.h"

enum {
    O_PARTITION = 1,
    O_OFFSET,
    O_FROM_BEGINNING,
    O_GROUP,
    O_COUNT,
    O_EXIT,
    O_FORMAT,
    O_KEYSEP,
    O_NO_PROGRESS,
};

static const sm_opt consume_opts[] = {
    {O_PARTITION, 'p', "partition", "N", "only partition N (default: all)"},
    {O_OFFSET, 'o', "offset", "WHERE",
     "where to start: beginning, end (default), N, -N (the last N), @TIME"},
    {O_FROM_BEGINNING, 0, "from-beginning", NULL, "the same as -o beginning"},
    {O_GROUP, 'g', "group", "GROUP",
     "consume as a member of GROUP, committing offsets (-o: beginning or end only)"},
    {O_COUNT, 'n', "count", "N", "stop after N records"},
    {O_EXIT, 'e', "exit", NULL, "stop at the end of every partition instead of following"},
    {O_FORMAT, 'f', "format", "FORMAT",
     "plain (the value, default), kv (key SEP value), json, or a format string"},
    {O_KEYSEP, 'K', "key-separator", "SEP", "the separator of the kv format (default a tab)"},
    {O_NO_PROGRESS, 0, "no-progress", NULL, "no progress line, even on a terminal"},
    {0, 0, NULL, NULL, NULL},
};

const sm_cmd_help sm_help_consume = {
    "consume", "TOPIC [options]", "Read records from TOPIC and print them, one per line.",
    "Without -g the command reads on its own and commits nothing. With -g it joins the\n"
    "group, gets its share of partitions, resumes from the group's committed offsets\n"
    "(-o beginning or end applies only where the group has none) and commits what it\n"
    "printed. -e stops once every partition read is at its end; without -e (and -n)\n"
    "it follows until Ctrl-C.\n"
    "\n"
    "@TIME: milliseconds since the epoch, an ISO 8601 time (2024-05-01T12:00:00Z) or\n"
    "-DURATION before now (@-15m, @-2h, @-1d): the first record at or after it.\n"
    "\n"
    "A format string prints, per record: %t topic, %p partition, %o offset, %k key,\n"
    "%v value, %T timestamp (ms), %h headers (name=value,...), %K key length,\n"
    "%S value length, %% a percent sign; \\n, \\t and \\\\ are escapes. It adds no\n"
    "newline of its own. json prints one object per line: topic, partition, offset,\n"
    "timestamp, key, value (null when absent; key_base64/value_base64 when not UTF-8)\n"
    "and headers [{key, value}] (jq's from_entries reads them).",
    "samsa consume orders --from-beginning -e\n"
    "samsa consume orders -o -10 -e -f kv -K :\n"
    "samsa consume orders -p 0 -o 2 -n 1 -f json\n"
    "samsa consume orders -o @-1h -e -f '%p:%o %k=%v\\n'\n"
    "samsa consume orders -g billing --from-beginning -e",
    consume_opts, true};

typedef enum { F_PLAIN, F_KV, F_JSON, F_CUSTOM } fmt_kind;
typedef enum { W_BEGINNING, W_END, W_OFFSET, W_TAIL, W_TIME } where_kind;

typedef struct part_state {
    int64_t stop_at; /* -e: the high watermark when we started; -1 if following */
    bool done;
} part_state;

typedef struct consume_run {
    sm_cli *c;
    rd_kafka_t *rk;
    const char *topic;
    fmt_kind fmt;
    const char *fmtstr;
    const char *keysep;
    bool exit_at_end, group;
    int64_t count, printed, bytes;
    int nparts;
    part_state *parts;
    int ndone;
    bool write_failed;
} consume_run;

/* ---- printing ------------------------------------------------------------------ */

static void put_bytes(const void *p, size_t len)
{
    if (len)
        fwrite(p, 1, len, stdout);
}

static void print_headers_text(const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) || !h)
        return;
    const char *name;
    const void *v;
    size_t vlen;
    for (size_t i = 0; !rd_kafka_header_get_all(h, i, &name, &v, &vlen); i++) {
        printf("%s%s=", i ? "," : "", name);
        put_bytes(v, v ? vlen : 0);
    }
}

static void print_custom(const consume_run *r, const rd_kafka_message_t *m)
{
    for (const char *f = r->fmtstr; *f; f++) {
        if (*f == '\\' && f[1]) {
            f++;
            putchar(*f == 'n' ? '\n' : *f == 't' ? '\t' : *f == 'r' ? '\r' : *f);
            continue;
        }
        if (*f != '%' || !f[1]) {
            putchar(*f);
            continue;
        }
        f++;
        rd_kafka_timestamp_type_t tt;
        switch (*f) {
        case 't':
            fputs(r->topic, stdout);
            break;
        case 'p':
            printf("%d", (int)m->partition);
            break;
        case 'o':
            printf("%lld", (long long)m->offset);
            break;
        case 'k':
            put_bytes(m->key, m->key ? m->key_len : 0);
            break;
        case 'v':
            put_bytes(m->payload, m->payload ? m->len : 0);
            break;
        case 'K':
            printf("%lld", m->key ? (long long)m->key_len : -1LL);
            break;
        case 'S':
            printf("%lld", m->payload ? (long long)m->len : -1LL);
            break;
        case 'T':
            printf("%lld", (long long)rd_kafka_message_timestamp(m, &tt));
            break;
        case 'h':
            print_headers_text(m);
            break;
        case '%':
            putchar('%');
            break;
        default:
            putchar('%');
            putchar(*f);
        }
    }
}

static void json_set_bytes(json_t *o, const char *name, const void *p, size_t len, bool present)
{
    if (!present) {
        json_object_set_new(o, name, json_null());
        return;
    }
    json_t *s = sm_json_bytes(p, (ssize_t)len);
    if (s) {
        json_object_set_new(o, name, s);
        return;
    }
    char b64[32];
    snprintf(b64, sizeof b64, "%s_base64", name);
    json_object_set_new(o, name, json_null());
    json_object_set_new(o, b64, sm_json_base64(p, len));
}

static void print_json(const consume_run *r, const rd_kafka_message_t *m)
{
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    json_t *o = json_pack("{s:s,s:i,s:I,s:I}", "topic", r->topic, "partition", (int)m->partition,
                          "offset", (json_int_t)m->offset, "timestamp", (json_int_t)ts);
    json_set_bytes(o, "key", m->key, m->key_len, m->key != NULL);
    json_set_bytes(o, "value", m->payload, m->len, m->payload != NULL);
    json_t *hs = json_array();
    rd_kafka_headers_t *h = NULL;
    if (!rd_kafka_message_headers(m, &h) && h) {
        const char *name;
        const void *v;
        size_t vlen;
        for (size_t i = 0; !rd_kafka_header_get_all(h, i, &name, &v, &vlen); i++) {
            json_t *e = json_pack("{s:s}", "key", name);
            json_set_bytes(e, "value", v, vlen, v != NULL);
            json_array_append_new(hs, e);
        }
    }
    json_object_set_new(o, "headers", hs);
    json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
    putchar('\n');
    json_decref(o);
}

static void print_message(consume_run *r, const rd_kafka_message_t *m)
{
    switch (r->fmt) {
    case F_PLAIN:
        put_bytes(m->payload, m->payload ? m->len : 0);
        putchar('\n');
        break;
    case F_KV:
        put_bytes(m->key, m->key ? m->key_len : 0);
        fputs(r->keysep, stdout);
        put_bytes(m->payload, m->payload ? m->len : 0);
        putchar('\n');
        break;
    case F_JSON:
        print_json(r, m);
        break;
    case F_CUSTOM:
        print_custom(r, m);
        break;
    }
    r->printed++;
    r->bytes += (int64_t)m->len;
    /* a pipe closed by the reader (| head): stop quietly */
    if (ferror(stdout))
        r->write_failed = true;
}

/* ---- the end of partitions (-e) ------------------------------------------------ */

static void part_done(consume_run *r, int32_t p)
{
    if (p < 0 || p >= r->nparts || r->parts[p].done)
        return;
    r->parts[p].done = true;
    r->ndone++;
}

static bool all_done(const consume_run *r, int assigned)
{
    return r->exit_at_end && assigned > 0 && r->ndone >= assigned;
}

/* ---- group rebalances ------------------------------------------------------------ */

/* The run the rebalance callback updates (one consume per process). */
static consume_run *g_run;
static int g_assigned; /* partitions the group gave us, for -e */
static bool g_got_assignment; /* the group has answered with an assignment (maybe empty) */

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    (void)opaque;
    bool coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        g_got_assignment = true;
        if (coop) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
            if (e)
                rd_kafka_error_destroy(e);
            g_assigned += parts->cnt;
        } else {
            rd_kafka_assign(rk, parts);
            g_assigned = parts->cnt;
        }
    } else {
        if (coop) {
            rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
            if (e)
                rd_kafka_error_destroy(e);
            g_assigned -= parts->cnt;
        } else {
            rd_kafka_assign(rk, NULL);
            g_assigned = 0;
        }
    }
    /* -e starts over: every partition we hold now must reach its end */
    if (g_run) {
        for (int p = 0; p < g_run->nparts; p++)
            g_run->parts[p].done = false;
        g_run->ndone = 0;
    }
}

/* ---- start offsets (without a group) ------------------------------------------ */

static int resolve_starts(consume_run *r, where_kind where, int64_t arg, int32_t only,
                          rd_kafka_topic_partition_list_t *tl, int64_t *total)
{
    sm_cli *c = r->c;
    *total = 0;
    int rc;
    for (int p = 0; p < r->nparts; p++) {
        if (only >= 0 && p != only)
            continue;
        int64_t lo, hi;
        rc = sm_kafka_watermarks(c, r->rk, r->topic, p, &lo, &hi);
        if (rc)
            return rc;
        int64_t start = hi;
        switch (where) {
        case W_BEGINNING:
            start = lo;
            break;
        case W_END:
            start = hi;
            break;
        case W_OFFSET:
            if (arg < lo || arg > hi) {
                if (lo == hi)
                    return sm_cli_fail(c, SM_EXIT_NOTFOUND,
                                       "offset %lld is out of range for %s [%d]: the partition"
                                       " is empty (next offset %lld)",
                                       (long long)arg, r->topic, p, (long long)hi);
                return sm_cli_fail(c, SM_EXIT_NOTFOUND,
                                   "offset %lld is out of range for %s [%d]: it holds offsets"
                                   " %lld..%lld",
                                   (long long)arg, r->topic, p, (long long)lo,
                                   (long long)hi - 1);
            }
            start = arg;
            break;
        case W_TAIL:
            start = hi - arg < lo ? lo : hi - arg;
            break;
        case W_TIME:
            start = -1; /* filled below */
            break;
        }
        rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_add(tl, r->topic, p);
        tp->offset = where == W_TIME ? arg : start;
        r->parts[p].stop_at = hi;
        if (where != W_TIME)
            *total += hi - start;
    }
    if (where == W_TIME) {
        rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(r->rk, tl, c->timeout_ms);
        if (err)
            return sm_cli_fail(c, sm_cli_exit_of(err), "offsets for the time: %s",
                               rd_kafka_err2str(err));
        for (int i = 0; i < tl->cnt; i++) {
            rd_kafka_topic_partition_t *tp = &tl->elems[i];
            if (tp->err)
                return sm_cli_fail(c, sm_cli_exit_of(tp->err), "offsets for the time on %s [%d]: %s",
                                   r->topic, (int)tp->partition, rd_kafka_err2str(tp->err));
            int64_t hi = r->parts[tp->partition].stop_at;
            if (tp->offset < 0) /* no record at or after the time */
                tp->offset = hi;
            *total += hi - tp->offset;
        }
    }
    /* -e: partitions with nothing to read are done already */
    for (int i = 0; i < tl->cnt; i++)
        if (tl->elems[i].offset >= r->parts[tl->elems[i].partition].stop_at)
            part_done(r, tl->elems[i].partition);
    return SM_EXIT_OK;
}

/* ---- options ------------------------------------------------------------------ */

static int parse_where(sm_cli *c, const char *s, where_kind *w, int64_t *arg)
{
    if (!strcmp(s, "beginning") || !strcmp(s, "earliest") || !strcmp(s, "start")) {
        *w = W_BEGINNING;
        return SM_EXIT_OK;
    }
    if (!strcmp(s, "end") || !strcmp(s, "latest")) {
        *w = W_END;
        return SM_EXIT_OK;
    }
    if (s[0] == '@') {
        *w = W_TIME;
        return sm_cli_parse_time(c, "-o @TIME", s + 1, arg);
    }
    if (s[0] == '-' && s[1] >= '0' && s[1] <= '9') {
        *w = W_TAIL;
        return sm_cli_parse_i64(c, "-o -N", s + 1, 1, INT64_MAX / 2, arg);
    }
    if (s[0] >= '0' && s[0] <= '9') {
        *w = W_OFFSET;
        return sm_cli_parse_i64(c, "-o/--offset", s, 0, INT64_MAX / 2, arg);
    }
    return sm_cli_fail(c, SM_EXIT_USAGE,
                       "-o '%s': expected beginning, end, an offset, -N or @TIME", s);
}

static int set(sm_cli *c, rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char errstr[256];
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        return sm_cli_fail(c, SM_EXIT_USAGE, "%s=%s: %s", k, v, errstr);
    return SM_EXIT_OK;
}

/* consume in steps: parse the command line, set up (the consumer, the
 * topic's partitions), start (subscribe with -g, else assign from where -o
 * says), read until done. */
typedef struct consume_req {
    const char *group, *format;
    where_kind where;
    int64_t where_arg;
    bool where_given, progress;
    int32_t only; /* -p; -1: every partition */
} consume_req;

/* Fills q and r's options; SM_EXIT_OK with *help set: --help was printed. */
static int consume_parse(sm_cli *c, int argc, char **argv, consume_req *q, consume_run *r,
                         bool *help)
{
    sm_args a;
    sm_args_init(&a, c, &sm_help_consume, argc, argv);
    const char *val, *group = NULL, *format = NULL;
    where_kind where = W_END;
    int64_t where_arg = 0;
    bool where_given = false, progress = true;
    int32_t only = -1;
    int id;
    memset(q, 0, sizeof *q);
    *help = false;
    while ((id = sm_args_next(&a, &val)) != SM_OPT_END) {
        switch (id) {
        case SM_OPT_POS:
            if (r->topic)
                return sm_cli_fail(c, SM_EXIT_USAGE, "one topic at a time ('%s' and '%s')",
                                   r->topic, val);
            r->topic = val;
            break;
        case O_PARTITION:
            if (sm_cli_parse_i32(c, "-p/--partition", val, 0, 1000000, &only))
                return SM_EXIT_USAGE;
            break;
        case O_OFFSET:
            if (parse_where(c, val, &where, &where_arg))
                return SM_EXIT_USAGE;
            where_given = true;
            break;
        case O_FROM_BEGINNING:
            where = W_BEGINNING;
            where_given = true;
            break;
        case O_GROUP:
            if (!*val)
                return sm_cli_fail(c, SM_EXIT_USAGE, "-g: the group id is empty");
            group = val;
            break;
        case O_COUNT:
            if (sm_cli_parse_i64(c, "-n/--count", val, 1, INT64_MAX, &r->count))
                return SM_EXIT_USAGE;
            break;
        case O_EXIT:
            r->exit_at_end = true;
            break;
        case O_FORMAT:
            format = val;
            break;
        case O_KEYSEP:
            r->keysep = val;
            break;
        case O_NO_PROGRESS:
            progress = false;
            break;
        case SM_OPT_HELP:
            *help = true;
            return SM_EXIT_OK;
        default:
            return SM_EXIT_USAGE;
        }
    }
    if (!r->topic)
        return sm_cli_fail(c, SM_EXIT_USAGE, "which topic? (samsa consume TOPIC)");
    if (!format)
        format = c->output == SM_OUT_JSON ? "json" : "plain";
    if (!strcmp(format, "plain") || !strcmp(format, "value"))
        r->fmt = F_PLAIN;
    else if (!strcmp(format, "kv"))
        r->fmt = F_KV;
    else if (!strcmp(format, "json"))
        r->fmt = F_JSON;
    else if (strchr(format, '%'))
        r->fmt = F_CUSTOM, r->fmtstr = format;
    else
        return sm_cli_fail(c, SM_EXIT_USAGE,
                           "-f '%s': expected plain, kv, json or a format string with %%v, %%k...",
                           format);
    if (group && where_given && where != W_BEGINNING && where != W_END)
        return sm_cli_fail(c, SM_EXIT_USAGE,
                           "with -g, -o can only be beginning or end (it applies where the group"
                           " has no committed offset); move a group with"
                           " 'samsa group reset-offsets'");
    if (group && only >= 0)
        return sm_cli_fail(c, SM_EXIT_USAGE,
                           "-p and -g exclude each other: the group assigns the partitions");
    r->group = group != NULL;
    q->group = group;
    q->format = format;
    q->where = where;
    q->where_arg = where_arg;
    q->where_given = where_given;
    q->progress = progress;
    q->only = only;
    return SM_EXIT_OK;
}

/* The consumer (r->rk; NULL on failure) and the topic's partitions. */
static int consume_setup(sm_cli *c, const consume_req *q, consume_run *r)
{
    const char *group = q->group;
    where_kind where = q->where;
    int32_t only = q->only;
    int rc;
    rd_kafka_conf_t *conf = sm_kafka_conf(c, &rc);
    if (!conf)
        return rc;
    rc = set(c, conf, "enable.partition.eof", "true");
    if (!rc && group) {
        rc = set(c, conf, "group.id", group);
        if (!rc && !sm_props_get(&c->xprops, "auto.offset.reset"))
            rc = set(c, conf, "auto.offset.reset", where == W_BEGINNING ? "earliest" : "latest");
        if (!rc)
            rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    } else if (!rc) {
        /* offsets are ours: nothing stored, nothing committed. librdkafka's
         * assign() still wants a group id; it never joins or commits it. */
        rc = sm_props_get(&c->xprops, "group.id") ? SM_EXIT_OK
                                                  : set(c, conf, "group.id", "samsa-cli");
        if (!rc)
            rc = set(c, conf, "enable.auto.commit", "false");
        if (!rc)
            rc = set(c, conf, "enable.auto.offset.store", "false");
        if (!rc && !sm_props_get(&c->xprops, "auto.offset.reset"))
            rc = set(c, conf, "auto.offset.reset", "earliest");
    }
    if (rc) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    r->rk = sm_kafka_new(c, RD_KAFKA_CONSUMER, conf, &rc);
    if (!r->rk)
        return rc;
    const rd_kafka_metadata_t *md;
    const rd_kafka_metadata_topic_t *mt;
    rc = sm_kafka_topic(c, r->rk, r->topic, &md, &mt);
    if (rc) {
        rd_kafka_destroy(r->rk);
        r->rk = NULL;
        return rc;
    }
    r->nparts = mt->partition_cnt;
    rd_kafka_metadata_destroy(md);
    if (only >= r->nparts) {
        rc = sm_cli_fail(c, SM_EXIT_NOTFOUND, "topic '%s' has no partition %d (it has %d)",
                         r->topic, (int)only, r->nparts);
        rd_kafka_destroy(r->rk);
        r->rk = NULL;
        return rc;
    }
    r->parts = calloc((size_t)r->nparts, sizeof *r->parts);
    for (int p = 0; p < r->nparts; p++)
        r->parts[p].stop_at = -1;
    rd_kafka_poll_set_consumer(r->rk);
    return SM_EXIT_OK;
}

/* Subscribes (-g) or assigns each partition its start; *total: records up
 * to the ends (-1: unknown), *assigned: partitions assigned now. */
static int consume_start(sm_cli *c, const consume_req *q, consume_run *r,
                         rd_kafka_topic_partition_list_t **tlp, int64_t *total, int *assigned)
{
    int rc;
    rd_kafka_topic_partition_list_t *tl;
    if (q->group) {
        *tlp = tl = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(tl, r->topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t err = rd_kafka_subscribe(r->rk, tl);
        if (err)
            return sm_cli_fail(c, sm_cli_exit_of(err), "subscribe to '%s': %s", r->topic,
                               rd_kafka_err2str(err));
    } else {
        *tlp = tl = rd_kafka_topic_partition_list_new(r->nparts);
        rc = resolve_starts(r, q->where, q->where_arg, q->only, tl, total);
        if (rc)
            return rc;
        rd_kafka_resp_err_t err = rd_kafka_assign(r->rk, tl);
        if (err)
            return sm_cli_fail(c, sm_cli_exit_of(err), "assign: %s", rd_kafka_err2str(err));
        *assigned = tl->cnt;
    }
    return SM_EXIT_OK;
}

/* Reads and prints until -n, -e (every partition at its end), a signal, an
 * error or a failed write. */
static int consume_loop(sm_cli *c, const consume_req *q, consume_run *r, int64_t expect,
                        int assigned)
{
    int rc = SM_EXIT_OK;
    const char *group = q->group;
    sm_cli_catch_signals();
    sm_progress pr;
    sm_progress_init(&pr, q->progress && !isatty(STDOUT_FILENO), expect, false, "records");
    while (!sm_cli_stop && !r->write_failed) {
        if (r->count >= 0 && r->printed >= r->count)
            break;
        if (group)
            assigned = g_assigned;
        if (all_done(r, assigned))
            break;
        if (group && r->exit_at_end && g_got_assignment && assigned == 0) {
            /* -e as one of more members than partitions: nothing is ours to read */
            if (c->verbose || isatty(STDERR_FILENO))
                fprintf(stderr, "samsa consume: the group assigned no partition to this member\n");
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 0);
        if (!m) {
            /* idle: what was printed reaches a pipe now, not at exit */
            if (fflush(stdout))
                r->write_failed = true;
            m = rd_kafka_consumer_poll(r->rk, 100);
        }
        sm_progress_update(&pr, r->printed, r->bytes);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            part_done(r, m->partition);
        } else if (m->err) {
            rd_kafka_resp_err_t err = m->err;
            char msg[512];
            snprintf(msg, sizeof msg, "%s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            if (err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
                /* librdkafka reconnects; a follow keeps going */
                if (c->verbose)
                    sm_cli_warn(c, "%s", msg);
                continue;
            }
            rc = sm_cli_fail(c, sm_cli_exit_of(err), "%s", msg);
            break;
        } else if (m->partition >= 0 && m->partition < r->nparts) {
            part_state *ps = &r->parts[m->partition];
            /* without a group, -e reads each partition up to where it ended
             * when we started; records arriving later are not printed */
            if (!(r->exit_at_end && !group && ps->done))
                print_message(r, m);
            if (r->exit_at_end && ps->stop_at >= 0 && m->offset + 1 >= ps->stop_at)
                part_done(r, m->partition);
        }
        rd_kafka_message_destroy(m);
    }
    sm_progress_end(&pr);
    if (fflush(stdout) && errno != EPIPE)
        rc = sm_cli_fail(c, SM_EXIT_FAIL, "writing the output: %s", strerror(errno));
    return rc;
}

int sm_cmd_consume(sm_cli *c, int argc, char **argv)
{
    consume_req q;
    consume_run r;
    memset(&r, 0, sizeof r);
    r.c = c;
    r.keysep = "\t";
    r.count = -1;
    bool help;
    int rc = consume_parse(c, argc, argv, &q, &r, &help);
    if (rc || help)
        return rc;
    if ((rc = consume_setup(c, &q, &r)))
        return rc;
    g_run = &r;

    rd_kafka_topic_partition_list_t *tl = NULL;
    int64_t total = -1;
    int assigned = 0;
    rc = consume_start(c, &q, &r, &tl, &total, &assigned);
    if (!rc) {
        /* what the progress line counts towards, when known */
        int64_t expect = !q.group && r.exit_at_end ? total : -1;
        if (r.count >= 0 && (expect < 0 || r.count < expect))
            expect = r.count;
        rc = consume_loop(c, &q, &r, expect, assigned);
    }
    if (tl)
        rd_kafka_topic_partition_list_destroy(tl);
    if (q.group)
        rd_kafka_consumer_close(r.rk); /* commits what was printed */
    rd_kafka_destroy(r.rk);
    g_run = NULL;
    free(r.parts);
    return rc;
}
