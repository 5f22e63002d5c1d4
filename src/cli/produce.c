/* produce.c: samsa produce TOPIC: one record per input line, from stdin or a
 * file, with an optional key (split off at a separator, or fixed), headers,
 * a partition, acks and compression.
 *
 * Every record is handed to librdkafka as soon as its line is read; the
 * delivery reports count what the broker acknowledged, so the summary (and
 * the exit code) say exactly how many records made it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/clock.h"
#include "cli/cli.h"

enum {
    O_FILE = 1,
    O_KEYSEP,
    O_KEY,
    O_HEADER,
    O_PARTITION,
    O_ACKS,
    O_COMPRESSION,
    O_QUIET,
    O_NO_PROGRESS,
};

static const sm_opt produce_opts[] = {
    {O_FILE, 'f', "file", "PATH", "read records from PATH instead of stdin"},
    {O_KEYSEP, 'K', "key-separator", "SEP",
     "each line is KEY SEP VALUE, split at the first SEP (e.g. -K :)"},
    {O_KEY, 'k', "key", "KEY", "the key of every record"},
    {O_HEADER, 'H', "header", "NAME=VALUE", "a header on every record, repeatable"},
    {O_PARTITION, 'p', "partition", "N", "write to partition N (default: by key, or spread)"},
    {O_ACKS, 'a', "acks", "0|1|all", "acknowledgements to wait for (default all)"},
    {O_COMPRESSION, 'z', "compression", "CODEC", "none, gzip, snappy, lz4 or zstd (default none)"},
    {O_QUIET, 'q', "quiet", NULL, "no summary at the end"},
    {O_NO_PROGRESS, 0, "no-progress", NULL, "no progress line, even on a terminal"},
    {0, 0, NULL, NULL, NULL},
};

const sm_cmd_help sm_help_produce = {
    "produce", "TOPIC [options]",
    "Write records to TOPIC, one per line of stdin or a file.",
    "A line is the record's value, without its newline. With -K SEP the line is split\n"
    "at the first SEP into key and value; a line without SEP is an error. A topic that\n"
    "does not exist is created when the broker auto-creates topics. At the end the\n"
    "summary says how many records the broker acknowledged, and where they went.\n"
    "Ctrl-C stops reading; what was read is still delivered (exit code 130).",
    "printf 'hello\\nworld\\n' | samsa produce greetings\n"
    "printf 'order-1:created\\norder-1:paid\\n' | samsa produce orders -K :\n"
    "samsa produce orders -f orders.txt -K : -H source=import -z zstd\n"
    "echo '{\"id\":1}' | samsa produce orders -k order-1 -p 0 --acks 1",
    produce_opts, true};

#define MAX_PARTS 4096

typedef struct produce_state {
    sm_cli *c;
    int64_t delivered, failed, bytes;
    rd_kafka_resp_err_t first_err;
    char first_errstr[256];
    int32_t nparts;
    int64_t first_off[MAX_PARTS], last_off[MAX_PARTS], count[MAX_PARTS];
} produce_state;

/* Delivery report: from rd_kafka_poll/flush, on our thread. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;               /* the run context; the state is the message's opaque */
    produce_state *st = m->_private;
    if (m->err) {
        if (!st->failed) {
            st->first_err = m->err;
            snprintf(st->first_errstr, sizeof st->first_errstr, "%s", rd_kafka_err2str(m->err));
        }
        st->failed++;
        return;
    }
    st->delivered++;
    int32_t p = m->partition;
    if (p >= 0 && p < MAX_PARTS) {
        if (!st->count[p]++)
            st->first_off[p] = m->offset;
        st->last_off[p] = m->offset;
        if (p + 1 > st->nparts)
            st->nparts = p + 1;
    }
}

/* The topic's partition count; creates it when the broker auto-creates. */
static int ensure_topic(sm_cli *c, rd_kafka_t *rk, const char *topic, int *partitions)
{
    const rd_kafka_metadata_t *md;
    int rc = sm_kafka_metadata(c, rk, &md);
    if (rc)
        return rc;
    const rd_kafka_metadata_topic_t *mt = sm_md_topic(md, topic);
    if (mt && !mt->err) {
        *partitions = mt->partition_cnt;
        rd_kafka_metadata_destroy(md);
        return SM_EXIT_OK;
    }
    rd_kafka_metadata_destroy(md);
    /* a request for this one topic lets the broker create it */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    int64_t deadline = sm_mono_ms() + c->timeout_ms;
    rd_kafka_resp_err_t err;
    for (;;) {
        err = rd_kafka_metadata(rk, 0, rkt, &md, c->timeout_ms);
        if (err)
            break;
        err = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        if (!err && md->topics[0].partition_cnt > 0) {
            *partitions = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
            rd_kafka_topic_destroy(rkt);
            return SM_EXIT_OK;
        }
        rd_kafka_metadata_destroy(md);
        /* LEADER_NOT_AVAILABLE: just created, not ready yet */
        if (err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE && err != RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (sm_mono_ms() >= deadline) {
            err = RD_KAFKA_RESP_ERR__TIMED_OUT;
            break;
        }
        rd_kafka_poll(rk, 100);
    }
    rd_kafka_topic_destroy(rkt);
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        return sm_cli_fail(c, SM_EXIT_NOTFOUND,
                           "topic '%s' does not exist (and the broker did not create it)", topic);
    if (err == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION)
        return sm_cli_fail(c, SM_EXIT_USAGE, "topic '%s': invalid topic name", topic);
    return sm_cli_fail(c, sm_cli_exit_of(err), "topic '%s': %s", topic, rd_kafka_err2str(err));
}

/* librdkafka before 2.11.1 compresses with gzip, snappy or lz4 only when the
 * broker lists Produce v0 in ApiVersions; brokers that start at v3
 * (samsa-broker, Kafka 4) get those batches uncompressed, without a word.
 * Say so rather than let -z quietly mean nothing. */
static void warn_uncompressed(sm_cli *c, rd_kafka_t *rk, const char *codec)
{
    if (!codec || rd_kafka_version() >= 0x020b0100 ||
        (strcmp(codec, "gzip") && strcmp(codec, "snappy") && strcmp(codec, "lz4")))
        return;
    const char *proto = sm_props_get(&c->xprops, "security.protocol");
    const rd_kafka_metadata_t *md;
    if ((proto && strcasecmp(proto, "plaintext")) ||
        rd_kafka_metadata(rk, 0, NULL, &md, c->timeout_ms))
        return;
    for (int i = 0; i < md->broker_cnt; i++) {
        sm_api_range *v;
        int n;
        char err[256];
        if (sm_api_versions(md->brokers[i].host, md->brokers[i].port, c->timeout_ms, &v, &n, err,
                            sizeof err))
            continue;
        for (int k = 0; k < n; k++)
            if (v[k].key == 0 && v[k].min > 0) {
                sm_cli_warn(c,
                            "-z %s has no effect: librdkafka %s compresses %s only for brokers"
                            " that accept Produce v0, and broker %d accepts Produce %d..%d;"
                            " records are sent uncompressed (zstd works)",
                            codec, rd_kafka_version_str(), codec, (int)md->brokers[i].id,
                            v[k].min, v[k].max);
                free(v);
                rd_kafka_metadata_destroy(md);
                return;
            }
        free(v);
    }
    rd_kafka_metadata_destroy(md);
}

static int set(sm_cli *c, rd_kafka_conf_t *conf, const char *opt, const char *k, const char *v)
{
    char errstr[256];
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        return sm_cli_fail(c, SM_EXIT_USAGE, "%s '%s': %s", opt, v, errstr);
    return SM_EXIT_OK;
}

/* produce in four steps: parse the command line, set up (the producer, the
 * topic and partition checked, the headers), send every line, print what
 * was delivered. */
typedef struct produce_req {
    const char *topic, *file, *keysep, *key;
    const char *acks, *codec;
    const char *headers[64];
    int nh;
    int32_t partition;
    bool quiet, progress;
} produce_req;

/* SM_EXIT_OK with *help set: --help was printed, nothing more to do. */
static int produce_parse(sm_cli *c, int argc, char **argv, produce_req *q, bool *help)
{
    sm_args a;
    sm_args_init(&a, c, &sm_help_produce, argc, argv);
    const char *val;
    int id;
    memset(q, 0, sizeof *q);
    q->acks = "all";
    q->partition = RD_KAFKA_PARTITION_UA;
    q->progress = true;
    *help = false;
    while ((id = sm_args_next(&a, &val)) != SM_OPT_END) {
        switch (id) {
        case SM_OPT_POS:
            if (q->topic)
                return sm_cli_fail(c, SM_EXIT_USAGE, "one topic at a time ('%s' and '%s')",
                                   q->topic, val);
            q->topic = val;
            break;
        case O_FILE:
            q->file = val;
            break;
        case O_KEYSEP:
            if (!*val)
                return sm_cli_fail(c, SM_EXIT_USAGE, "-K: the key separator is empty");
            q->keysep = val;
            break;
        case O_KEY:
            q->key = val;
            break;
        case O_HEADER:
            if (!strchr(val, '=') || val[0] == '=')
                return sm_cli_fail(c, SM_EXIT_USAGE, "-H '%s': expected NAME=VALUE", val);
            if (q->nh == 64)
                return sm_cli_fail(c, SM_EXIT_USAGE, "at most 64 headers");
            q->headers[q->nh++] = val;
            break;
        case O_PARTITION:
            if (sm_cli_parse_i32(c, "-p/--partition", val, 0, 1000000, &q->partition))
                return SM_EXIT_USAGE;
            break;
        case O_ACKS:
            if (strcmp(val, "0") && strcmp(val, "1") && strcmp(val, "all") && strcmp(val, "-1"))
                return sm_cli_fail(c, SM_EXIT_USAGE, "--acks '%s': expected 0, 1 or all", val);
            q->acks = val;
            break;
        case O_COMPRESSION:
            q->codec = val;
            break;
        case O_QUIET:
            q->quiet = true;
            break;
        case O_NO_PROGRESS:
            q->progress = false;
            break;
        case SM_OPT_HELP:
            *help = true;
            return SM_EXIT_OK;
        default:
            return SM_EXIT_USAGE;
        }
    }
    if (!q->topic)
        return sm_cli_fail(c, SM_EXIT_USAGE, "which topic? (samsa produce TOPIC)");
    if (q->key && q->keysep)
        return sm_cli_fail(c, SM_EXIT_USAGE, "-k and -K exclude each other");
    return SM_EXIT_OK;
}

/* The producer (options given here win over -X), the topic made sure of and
 * the partition checked, the headers every record carries (*hdrs, NULL for
 * none). *rk is NULL when the producer could not be made. */
static int produce_setup(sm_cli *c, const produce_req *q, rd_kafka_t **rk,
                         rd_kafka_headers_t **hdrs)
{
    int rc;
    *rk = NULL;
    *hdrs = NULL;
    rd_kafka_conf_t *conf = sm_kafka_conf(c, &rc);
    if (!conf)
        return rc;
    /* -X was applied by sm_kafka_conf; options given here win over it */
    rc = set(c, conf, "--acks", "acks", q->acks);
    if (!rc && q->codec)
        rc = set(c, conf, "--compression", "compression.codec", q->codec);
    if (!rc && !sm_props_get(&c->xprops, "linger.ms"))
        rc = set(c, conf, "linger.ms", "linger.ms", "5");
    if (!rc && !sm_props_get(&c->xprops, "message.timeout.ms")) {
        char ms[32];
        snprintf(ms, sizeof ms, "%d", c->timeout_ms < 30000 ? 30000 : c->timeout_ms);
        rc = set(c, conf, "--timeout", "message.timeout.ms", ms);
    }
    if (rc) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, c);
    *rk = sm_kafka_new(c, RD_KAFKA_PRODUCER, conf, &rc);
    if (!*rk)
        return rc;
    int partitions = 0;
    rc = ensure_topic(c, *rk, q->topic, &partitions);
    if (rc)
        return rc;
    warn_uncompressed(c, *rk, q->codec);
    if (q->partition != RD_KAFKA_PARTITION_UA && q->partition >= partitions)
        return sm_cli_fail(c, SM_EXIT_NOTFOUND, "topic '%s' has no partition %d (it has %d)",
                           q->topic, (int)q->partition, partitions);
    if (q->nh) {
        *hdrs = rd_kafka_headers_new((size_t)q->nh);
        for (int i = 0; i < q->nh; i++) {
            const char *eq = strchr(q->headers[i], '=');
            rd_kafka_header_add(*hdrs, q->headers[i], eq - q->headers[i], eq + 1, -1);
        }
    }
    return SM_EXIT_OK;
}

/* Sends every line of in (KEY<sep>VALUE with -K), then waits for the
 * delivery of what was sent, whatever stopped the reading; *sent: records
 * handed to the producer. */
static int produce_send(sm_cli *c, const produce_req *q, FILE *in, int64_t in_size,
                        rd_kafka_t *rk, const rd_kafka_headers_t *hdrs, produce_state *st,
                        int64_t *sent_out)
{
    int rc = SM_EXIT_OK;
    const char *key = q->key, *keysep = q->keysep, *topic = q->topic;
    int32_t partition = q->partition;
    sm_cli_catch_signals();
    sm_progress pr;
    sm_progress_init(&pr, q->progress, in_size, in_size > 0, "records");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t lineno = 0, sent = 0, read_bytes = 0;
    while (!sm_cli_stop && (len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        read_bytes += len;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = 0;
        const char *k = key;
        char *v = line;
        size_t klen = key ? strlen(key) : 0, vlen = (size_t)len;
        if (keysep) {
            char *sep = strstr(line, keysep);
            if (!sep) {
                rc = sm_cli_fail(c, SM_EXIT_USAGE,
                                 "line %lld: no key separator '%s' (records before it are sent)",
                                 (long long)lineno, keysep);
                break;
            }
            k = line;
            klen = (size_t)(sep - line);
            v = sep + strlen(keysep);
            vlen = (size_t)len - klen - strlen(keysep);
        }
        for (;;) {
            rd_kafka_headers_t *h = hdrs ? rd_kafka_headers_copy(hdrs) : NULL;
            rd_kafka_resp_err_t err = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(k, k ? klen : 0),
                RD_KAFKA_V_VALUE(v, vlen), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(st),
                RD_KAFKA_V_END);
            if (!err)
                break;
            if (h)
                rd_kafka_headers_destroy(h);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !sm_cli_stop) {
                rd_kafka_poll(rk, 50);
                continue;
            }
            rc = sm_cli_fail(c, sm_cli_exit_of(err), "line %lld: %s", (long long)lineno,
                             rd_kafka_err2str(err));
            break;
        }
        if (rc)
            break;
        sent++;
        st->bytes += (int64_t)(klen + vlen);
        rd_kafka_poll(rk, 0);
        sm_progress_update(&pr, sent, in_size > 0 ? read_bytes : st->bytes);
    }
    free(line);
    if (!rc && ferror(in) && !sm_cli_stop) /* Ctrl-C interrupts a read: not an error */
        rc = sm_cli_fail(c, SM_EXIT_FAIL, "reading %s: %s", q->file ? q->file : "stdin",
                         strerror(errno));
    /* deliver what was read, whatever stopped the loop */
    while (rd_kafka_outq_len(rk) > 0 && st->delivered + st->failed < sent) {
        rd_kafka_flush(rk, 100);
        sm_progress_update(&pr, st->delivered, in_size > 0 ? read_bytes : st->bytes);
    }
    rd_kafka_poll(rk, 0);
    sm_progress_end(&pr);
    *sent_out = sent;
    return rc;
}

/* What was delivered, per partition (table line or JSON); records not
 * delivered fail the command (unless rc already says why). */
static int produce_print(sm_cli *c, const produce_req *q, const produce_state *st, int64_t sent,
                         double secs, int rc)
{
    const char *topic = q->topic;
    if (st->failed) {
        int frc = sm_cli_fail(c, sm_cli_exit_of(st->first_err) == SM_EXIT_NOTFOUND
                                     ? SM_EXIT_NOTFOUND
                                     : SM_EXIT_FAIL,
                              "%lld of %lld records were not delivered: %s",
                              (long long)st->failed, (long long)sent, st->first_errstr);
        if (!rc)
            rc = frc;
    }
    if (!rc && sm_cli_stop)
        rc = SM_EXIT_INTR;
    if (c->output == SM_OUT_JSON) {
        json_t *parts = json_array();
        for (int32_t p = 0; p < st->nparts; p++)
            if (st->count[p])
                json_array_append_new(
                    parts, json_pack("{s:i,s:I,s:o,s:o}", "partition", p, "records",
                                     (json_int_t)st->count[p], "first_offset",
                                     /* acks=0: the broker tells no offsets */
                                     st->first_off[p] >= 0 ? json_integer(st->first_off[p])
                                                           : json_null(),
                                     "last_offset",
                                     st->last_off[p] >= 0 ? json_integer(st->last_off[p])
                                                          : json_null()));
        sm_json_print(json_pack("{s:s,s:I,s:I,s:I,s:o}", "topic", topic, "records",
                                (json_int_t)st->delivered, "failed", (json_int_t)st->failed,
                                "bytes", (json_int_t)st->bytes, "partitions", parts));
    } else if (!q->quiet) {
        printf("produced %lld record%s (%lld bytes) to %s in %.2f s", (long long)st->delivered,
               st->delivered == 1 ? "" : "s", (long long)st->bytes, topic, secs);
        const char *sep = ": ";
        for (int32_t p = 0; p < st->nparts; p++)
            if (st->count[p]) {
                if (st->first_off[p] >= 0)
                    printf("%spartition %d offsets %lld..%lld", sep, (int)p,
                           (long long)st->first_off[p], (long long)st->last_off[p]);
                else
                    printf("%spartition %d: %lld record%s (no offsets with acks=0)", sep, (int)p,
                           (long long)st->count[p], st->count[p] == 1 ? "" : "s");
                sep = ", ";
            }
        printf("\n");
    }
    return rc;
}

int sm_cmd_produce(sm_cli *c, int argc, char **argv)
{
    produce_req q;
    bool help;
    int rc = produce_parse(c, argc, argv, &q, &help);
    if (rc || help)
        return rc;

    FILE *in = stdin;
    int64_t in_size = -1;
    if (q.file && strcmp(q.file, "-")) {
        in = fopen(q.file, "rb");
        if (!in)
            return sm_cli_fail(c, SM_EXIT_USAGE, "%s: %s", q.file, strerror(errno));
        struct stat sb;
        if (!fstat(fileno(in), &sb) && S_ISREG(sb.st_mode))
            in_size = sb.st_size;
    }

    static produce_state st; /* large; one produce per process */
    memset(&st, 0, sizeof st);
    st.c = c;
    rd_kafka_t *rk = NULL;
    rd_kafka_headers_t *hdrs = NULL;
    rc = produce_setup(c, &q, &rk, &hdrs);
    if (!rc) {
        int64_t sent = 0, t0 = sm_mono_ms();
        rc = produce_send(c, &q, in, in_size, rk, hdrs, &st, &sent);
        rc = produce_print(c, &q, &st, sent, (double)(sm_mono_ms() - t0) / 1000.0, rc);
    }
    if (hdrs)
        rd_kafka_headers_destroy(hdrs);
    if (rk)
        rd_kafka_destroy(rk);
    if (in != stdin)
        fclose(in);
    return rc;
}
