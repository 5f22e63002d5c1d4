/* test_rdkafka.c: librdkafka against a running samsa-broker.
 *
 * Run through with_broker.py, which starts the broker and exports
 * SAMSA_BOOTSTRAP.  Arguments are KEY=VALUE broker properties the broker was
 * started with (--override); the DescribeConfigs test checks the broker
 * reports them, and that topics inherit them.
 *
 * Covers: keyed produce across partitions for every acks mode and every
 * compression codec with delivery reports, then assign + consume of every
 * partition checked message by message; offsets for times; CreateTopics
 * (plain, validate-only, already exists, invalid name, bad replication
 * factor), CreatePartitions, DeleteTopics, DescribeConfigs (topic, broker),
 * DeleteRecords.  The broker must run with auto.create.topics.enable=false so
 * that topics exist only when this program creates them.
 *
 * Every check prints one line; the program ends with "N passed, N failed"
 * over its tests and exits non-zero when any check failed.
 */
#include <librdkafka/rdkafka.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PARTITIONS 4
#define MSGS_PER_RUN 300
#define TIMEOUT_MS 30000

static const char *bootstrap;
static int n_checks, n_failed_checks;
static char prop_keys[32][128], prop_vals[32][256];
static int n_props;

static int check_at(int ok, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int check_at(int ok, int line, const char *fmt, ...) {
    va_list ap;
    n_checks++;
    printf(ok ? "  ok: " : "  FAIL (line %d): ", line);
    if (!ok) {
        n_failed_checks++;
    }
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    return ok;
}

/* CHECK reports and goes on; REQUIRE reports and jumps to the test's out:
 * label, for checks that later steps depend on. */
#define CHECK(cond, ...) check_at(!!(cond), __LINE__, __VA_ARGS__)
#define REQUIRE(cond, ...)                                                     \
    do {                                                                       \
        if (!check_at(!!(cond), __LINE__, __VA_ARGS__))                        \
            goto out;                                                          \
    } while (0)

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void topic_name(char *buf, size_t len, const char *what) {
    static int seq;
    snprintf(buf, len, "rdk-%s-%d-%d", what, (int)getpid(), ++seq);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    fprintf(stderr, "rdkafka %d %s: %s\n", level, fac, buf);
}

static void conf_set(rd_kafka_conf_t *conf, const char *k, const char *v) {
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "conf %s=%s: %s\n", k, v, err);
        exit(2);
    }
}

static rd_kafka_conf_t *base_conf(void) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", bootstrap);
    conf_set(conf, "client.id", "samsa-itest-rdkafka");
    rd_kafka_conf_set_log_cb(conf, log_cb);
    return conf;
}

/* -- producing ------------------------------------------------------------- */

struct msgrec {
    int idx;
    char key[32];
    char value[160];
    int32_t partition;
    int64_t offset;
    rd_kafka_resp_err_t err;
    int done;
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    struct msgrec *r = m->_private;
    (void)rk;
    (void)opaque;
    r->partition = m->partition;
    r->offset = m->offset;
    r->err = m->err;
    r->done++;
}

static rd_kafka_t *new_producer(const char *acks, const char *codec) {
    char err[512];
    rd_kafka_conf_t *conf = base_conf();
    conf_set(conf, "acks", acks);
    conf_set(conf, "compression.codec", codec);
    conf_set(conf, "linger.ms", "5");
    conf_set(conf, "message.timeout.ms", "30000");
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "producer: %s\n", err);
        exit(2);
    }
    return rk;
}

/* Produces one message; partition may be RD_KAFKA_PARTITION_UA (partitioner)
 * and ts 0 (now). Returns the producev error. */
static rd_kafka_resp_err_t produce_one(rd_kafka_t *rk, const char *topic, int32_t partition,
                                       struct msgrec *r, int64_t ts) {
    char seq[16];
    rd_kafka_resp_err_t err;
    snprintf(seq, sizeof seq, "%d", r->idx);
    r->done = 0;
    r->partition = -1;
    r->offset = -1;
    for (;;) {
        err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_KEY(r->key, strlen(r->key)),
                                RD_KAFKA_V_VALUE(r->value, strlen(r->value)),
                                RD_KAFKA_V_HEADER("seq", seq, (ssize_t)strlen(seq)),
                                RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_OPAQUE(r), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return err;
        rd_kafka_poll(rk, 50);
    }
}

/* Flushes and serves delivery reports; returns how many of recs[0..n) got one. */
static int flush_reports(rd_kafka_t *rk, struct msgrec *recs, int n) {
    int got = 0;
    rd_kafka_flush(rk, TIMEOUT_MS);
    rd_kafka_poll(rk, 0);
    for (int i = 0; i < n; i++)
        got += recs[i].done == 1;
    return got;
}

/* -- consuming ------------------------------------------------------------- */

struct gotmsg {
    int32_t partition;
    int64_t offset;
    char key[64];
    char value[200];
    char seq[16];
    int64_t ts;
};

struct consumed {
    struct gotmsg *msgs;
    int n, cap;
    int partition_errors;
};

static rd_kafka_t *new_consumer(void) {
    char err[512];
    rd_kafka_conf_t *conf = base_conf();
    /* librdkafka's assign() needs a group.id; no group is ever joined and no
     * offset is committed: every partition is assigned at an explicit offset. */
    conf_set(conf, "group.id", "samsa-itest-rdkafka-assign");
    conf_set(conf, "enable.auto.commit", "false");
    conf_set(conf, "enable.auto.offset.store", "false");
    conf_set(conf, "enable.partition.eof", "true");
    conf_set(conf, "auto.offset.reset", "error");
    conf_set(conf, "fetch.wait.max.ms", "100");
    conf_set(conf, "check.crcs", "true");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "consumer: %s\n", err);
        exit(2);
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* Assigns partitions [0, nparts) of topic at start[p] and consumes until
 * want[p] messages came from each partition and each is at its end, or the
 * deadline passes. Messages land in *c in arrival order. */
static void consume_all(const char *topic, int nparts, const int64_t *start, const int *want,
                        struct consumed *c) {
    rd_kafka_t *rk = new_consumer();
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
    int count[64] = {0};
    int64_t next[64], eof_at[64];
    for (int p = 0; p < nparts; p++) {
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = start[p];
        next[p] = -1;
        eof_at[p] = -2;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        printf("  assign: %s\n", rd_kafka_err2str(err));
        c->partition_errors++;
        goto out;
    }
    int64_t deadline = mono_ms() + TIMEOUT_MS;
    while (mono_ms() < deadline) {
        int done = 1;
        for (int p = 0; p < nparts; p++)
            if (count[p] < want[p] || eof_at[p] != next[p] || next[p] < 0)
                done = 0;
        if (done)
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eof_at[m->partition] = m->offset;
            if (next[m->partition] < 0)
                next[m->partition] = m->offset; /* empty from the start */
        } else if (m->err) {
            printf("  consumer error%s%s [%d]: %s\n", m->rkt ? " on " : "",
                   m->rkt ? rd_kafka_topic_name(m->rkt) : "", (int)m->partition,
                   rd_kafka_message_errstr(m));
            if (m->rkt)
                c->partition_errors++;
        } else {
            if (c->n == c->cap) {
                c->cap = c->cap ? c->cap * 2 : 256;
                c->msgs = realloc(c->msgs, (size_t)c->cap * sizeof *c->msgs);
            }
            struct gotmsg *g = &c->msgs[c->n++];
            memset(g, 0, sizeof *g);
            g->partition = m->partition;
            g->offset = m->offset;
            g->ts = rd_kafka_message_timestamp(m, NULL);
            snprintf(g->key, sizeof g->key, "%.*s", (int)m->key_len, m->key ? (char *)m->key : "");
            snprintf(g->value, sizeof g->value, "%.*s", (int)m->len,
                     m->payload ? (char *)m->payload : "");
            rd_kafka_headers_t *hdrs = NULL;
            const void *hv;
            size_t hl;
            if (!rd_kafka_message_headers(m, &hdrs) &&
                !rd_kafka_header_get_last(hdrs, "seq", &hv, &hl))
                snprintf(g->seq, sizeof g->seq, "%.*s", (int)hl, (const char *)hv);
            count[m->partition]++;
            next[m->partition] = m->offset + 1;
        }
        rd_kafka_message_destroy(m);
    }
out:
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

/* -- admin ----------------------------------------------------------------- */

static rd_kafka_event_t *admin_wait(rd_kafka_queue_t *q, rd_kafka_event_type_t type) {
    int64_t deadline = mono_ms() + TIMEOUT_MS;
    while (mono_ms() < deadline) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 500);
        if (!ev)
            continue;
        if (rd_kafka_event_type(ev) == type)
            return ev;
        rd_kafka_event_destroy(ev);
    }
    return NULL;
}

static rd_kafka_AdminOptions_t *admin_opts(rd_kafka_t *rk, rd_kafka_admin_op_t op, int validate) {
    char err[256];
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
    rd_kafka_AdminOptions_set_request_timeout(o, TIMEOUT_MS, err, sizeof err);
    if (validate)
        rd_kafka_AdminOptions_set_validate_only(o, 1, err, sizeof err);
    return o;
}

/* CreateTopics for one topic; configs is NULL or "k", "v", ..., NULL.
 * Returns the topic's error (or the request's, or _TIMED_OUT). */
static rd_kafka_resp_err_t create_topic(rd_kafka_t *rk, const char *name, int parts, int rf,
                                        int validate, const char **configs, char *msg,
                                        size_t msglen) {
    char err[256];
    rd_kafka_resp_err_t ret = RD_KAFKA_RESP_ERR__TIMED_OUT;
    snprintf(msg, msglen, "(none)");
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(name, parts, rf, err, sizeof err);
    if (!nt) {
        snprintf(msg, msglen, "NewTopic: %s", err);
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    }
    for (int i = 0; configs && configs[i]; i += 2)
        rd_kafka_NewTopic_set_config(nt, configs[i], configs[i + 1]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = admin_opts(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, validate);
    rd_kafka_CreateTopics(rk, &nt, 1, o, q);
    rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
    if (ev) {
        size_t cnt;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        ret = rd_kafka_event_error(ev);
        if (ret)
            snprintf(msg, msglen, "%s", rd_kafka_event_error_string(ev));
        else if (cnt != 1)
            ret = RD_KAFKA_RESP_ERR__BAD_MSG;
        else {
            ret = rd_kafka_topic_result_error(tr[0]);
            if (rd_kafka_topic_result_error_string(tr[0]))
                snprintf(msg, msglen, "%s", rd_kafka_topic_result_error_string(tr[0]));
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    return ret;
}

static rd_kafka_resp_err_t delete_topic(rd_kafka_t *rk, const char *name) {
    rd_kafka_resp_err_t ret = RD_KAFKA_RESP_ERR__TIMED_OUT;
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = admin_opts(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS, 0);
    rd_kafka_DeleteTopics(rk, &dt, 1, o, q);
    rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT);
    if (ev) {
        size_t cnt;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &cnt);
        ret = rd_kafka_event_error(ev);
        if (!ret)
            ret = cnt == 1 ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_DeleteTopic_destroy(dt);
    rd_kafka_queue_destroy(q);
    return ret;
}

static rd_kafka_resp_err_t create_partitions(rd_kafka_t *rk, const char *name, int total,
                                             char *msg, size_t msglen) {
    char err[256];
    rd_kafka_resp_err_t ret = RD_KAFKA_RESP_ERR__TIMED_OUT;
    snprintf(msg, msglen, "(none)");
    rd_kafka_NewPartitions_t *np = rd_kafka_NewPartitions_new(name, (size_t)total, err, sizeof err);
    if (!np) {
        snprintf(msg, msglen, "NewPartitions: %s", err);
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = admin_opts(rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, 0);
    rd_kafka_CreatePartitions(rk, &np, 1, o, q);
    rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT);
    if (ev) {
        size_t cnt;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreatePartitions_result_topics(
            rd_kafka_event_CreatePartitions_result(ev), &cnt);
        ret = rd_kafka_event_error(ev);
        if (!ret && cnt == 1) {
            ret = rd_kafka_topic_result_error(tr[0]);
            if (rd_kafka_topic_result_error_string(tr[0]))
                snprintf(msg, msglen, "%s", rd_kafka_topic_result_error_string(tr[0]));
        } else if (!ret) {
            ret = RD_KAFKA_RESP_ERR__BAD_MSG;
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_NewPartitions_destroy(np);
    rd_kafka_queue_destroy(q);
    return ret;
}

/* Partition count of topic from a fresh all-topics Metadata request;
 * 0 when the topic is not listed, -1 on a request error. */
static int topic_partitions(rd_kafka_t *rk, const char *name, int32_t *broker_id) {
    const struct rd_kafka_metadata *md;
    int n = 0;
    if (rd_kafka_metadata(rk, 1, NULL, &md, 10000))
        return -1;
    if (broker_id && md->broker_cnt == 1)
        *broker_id = md->brokers[0].id;
    for (int i = 0; i < md->topic_cnt; i++)
        if (!strcmp(md->topics[i].topic, name) && !md->topics[i].err)
            n = md->topics[i].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return n;
}

struct cfg {
    char name[128];
    char value[256];
    int is_default, is_null, source;
};

/* DescribeConfigs for one resource into out[] (up to max); returns the
 * resource's error; *n gets the entry count. */
static rd_kafka_resp_err_t describe_configs(rd_kafka_t *rk, rd_kafka_ResourceType_t type,
                                            const char *name, struct cfg *out, int max, int *n) {
    rd_kafka_resp_err_t ret = RD_KAFKA_RESP_ERR__TIMED_OUT;
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(type, name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = admin_opts(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, 0);
    *n = 0;
    rd_kafka_DescribeConfigs(rk, &res, 1, o, q);
    rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT);
    if (ev) {
        size_t cnt, ecnt;
        const rd_kafka_ConfigResource_t **rs = rd_kafka_DescribeConfigs_result_resources(
            rd_kafka_event_DescribeConfigs_result(ev), &cnt);
        ret = rd_kafka_event_error(ev);
        if (!ret && cnt != 1)
            ret = RD_KAFKA_RESP_ERR__BAD_MSG;
        if (!ret)
            ret = rd_kafka_ConfigResource_error(rs[0]);
        if (!ret) {
            const rd_kafka_ConfigEntry_t **es = rd_kafka_ConfigResource_configs(rs[0], &ecnt);
            for (size_t i = 0; i < ecnt && *n < max; i++) {
                struct cfg *c = &out[(*n)++];
                const char *v = rd_kafka_ConfigEntry_value(es[i]);
                snprintf(c->name, sizeof c->name, "%s", rd_kafka_ConfigEntry_name(es[i]));
                snprintf(c->value, sizeof c->value, "%s", v ? v : "");
                c->is_null = v == NULL;
                c->is_default = rd_kafka_ConfigEntry_is_default(es[i]);
                c->source = (int)rd_kafka_ConfigEntry_source(es[i]);
            }
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_queue_destroy(q);
    return ret;
}

static const struct cfg *find_cfg(const struct cfg *c, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(c[i].name, name))
            return &c[i];
    return NULL;
}

static const char *prop(const char *key) {
    for (int i = 0; i < n_props; i++)
        if (!strcmp(prop_keys[i], key))
            return prop_vals[i];
    return NULL;
}

/* -- tests ----------------------------------------------------------------- */

/* Keyed produce with one acks mode and one codec, then consume back. */
static int produce_consume_run(rd_kafka_t *admin, const char *acks, const char *codec) {
    char topic[128], msg[512];
    int rc = -1;
    struct msgrec *recs = calloc(MSGS_PER_RUN, sizeof *recs);
    struct consumed c = {0};
    rd_kafka_t *rk = NULL;

    printf(" [acks=%s compression=%s]\n", acks, codec);
    topic_name(topic, sizeof topic, "keys");
    rd_kafka_resp_err_t err = create_topic(admin, topic, PARTITIONS, 1, 0, NULL, msg, sizeof msg);
    REQUIRE(!err, "create topic %s with %d partitions: %s %s", topic, PARTITIONS,
            rd_kafka_err2name(err), msg);

    rk = new_producer(acks, codec);
    for (int i = 0; i < MSGS_PER_RUN && !err; i++) {
        struct msgrec *r = &recs[i];
        r->idx = i;
        snprintf(r->key, sizeof r->key, "key-%d", (i * 7) % 23);
        snprintf(r->value, sizeof r->value,
                 "acks=%s codec=%s message %04d: the quick brown fox jumps over the lazy dog %d", acks,
                 codec, i, i * i);
        err = produce_one(rk, topic, RD_KAFKA_PARTITION_UA, r, 0);
        if (i % 50 == 49)
            rd_kafka_poll(rk, 0);
    }
    REQUIRE(!err, "producev accepted %d keyed messages (%s)", MSGS_PER_RUN, rd_kafka_err2str(err));
    int reports = flush_reports(rk, recs, MSGS_PER_RUN);
    REQUIRE(reports == MSGS_PER_RUN, "one delivery report for each of %d messages (got %d)",
            MSGS_PER_RUN, reports);
    int failed = 0, first_bad = -1;
    for (int i = 0; i < MSGS_PER_RUN; i++)
        if (recs[i].err) {
            failed++;
            if (first_bad < 0)
                first_bad = i;
        }
    REQUIRE(failed == 0, "every delivery report succeeded (%d failed%s%s)", failed,
            failed ? ", first: " : "", failed ? rd_kafka_err2str(recs[first_bad].err) : "");

    /* expected order per partition = produce order of the messages the
     * partitioner sent there */
    int want[PARTITIONS] = {0};
    int key_part[23];
    int key_consistent = 1;
    for (int k = 0; k < 23; k++)
        key_part[k] = -1;
    for (int i = 0; i < MSGS_PER_RUN; i++) {
        int k = (i * 7) % 23;
        if (key_part[k] >= 0 && key_part[k] != recs[i].partition)
            key_consistent = 0;
        key_part[k] = recs[i].partition;
        if (recs[i].partition >= 0 && recs[i].partition < PARTITIONS)
            want[recs[i].partition]++;
    }
    CHECK(key_consistent, "delivery reports: each key always went to one partition");
    int used = 0;
    for (int p = 0; p < PARTITIONS; p++)
        used += want[p] > 0;
    CHECK(used >= 2, "messages spread over %d of %d partitions", used, PARTITIONS);

    if (strcmp(acks, "0") != 0) {
        int64_t expect_off[PARTITIONS] = {0};
        int offsets_ok = 1;
        for (int i = 0; i < MSGS_PER_RUN; i++) {
            if (recs[i].offset != expect_off[recs[i].partition]) {
                if (offsets_ok)
                    printf("  message %d in partition %d: offset %" PRId64 ", expected %" PRId64 "\n", i,
                           (int)recs[i].partition, recs[i].offset, expect_off[recs[i].partition]);
                offsets_ok = 0;
            }
            expect_off[recs[i].partition]++;
        }
        CHECK(offsets_ok, "delivery reports carry offsets 0,1,2,... per partition in produce order");
    } else {
        int unknown = 0;
        for (int i = 0; i < MSGS_PER_RUN; i++)
            unknown += recs[i].offset < 0;
        CHECK(unknown == MSGS_PER_RUN, "acks=0: no offsets reported (%d of %d unknown)", unknown,
              MSGS_PER_RUN);
    }

    int64_t start[PARTITIONS];
    for (int p = 0; p < PARTITIONS; p++)
        start[p] = RD_KAFKA_OFFSET_BEGINNING;
    consume_all(topic, PARTITIONS, start, want, &c);
    CHECK(c.partition_errors == 0, "consumer saw no partition errors");
    REQUIRE(c.n == MSGS_PER_RUN, "consumed %d messages back (expected %d)", c.n, MSGS_PER_RUN);
    for (int p = 0; p < PARTITIONS; p++) {
        int j = 0, ok = 1;
        int64_t expect_off = 0;
        for (int i = 0; i < MSGS_PER_RUN && ok; i++) {
            if (recs[i].partition != p)
                continue;
            /* j-th message consumed from p */
            const struct gotmsg *g = NULL;
            for (int x = 0, seen = 0; x < c.n; x++)
                if (c.msgs[x].partition == p && seen++ == j) {
                    g = &c.msgs[x];
                    break;
                }
            char seq[16];
            snprintf(seq, sizeof seq, "%d", i);
            if (!g || strcmp(g->key, recs[i].key) || strcmp(g->value, recs[i].value) ||
                strcmp(g->seq, seq) || g->offset != expect_off) {
                printf("  partition %d position %d: expected key %s offset %" PRId64
                       " value \"%s\" header seq=%s, got %s\n",
                       p, j, recs[i].key, expect_off, recs[i].value, seq,
                       g ? g->value : "(nothing)");
                ok = 0;
            }
            j++;
            expect_off++;
        }
        CHECK(ok, "partition %d: %d messages consumed with exact keys, values, headers, offsets, in order",
              p, want[p]);
    }
    int key_ok = 1;
    for (int x = 0; x < c.n; x++) {
        int k = atoi(c.msgs[x].key + 4);
        if (k < 0 || k >= 23 || key_part[k] != c.msgs[x].partition)
            key_ok = 0;
    }
    CHECK(key_ok, "consumed: every key sits in exactly one partition");
    err = delete_topic(admin, topic);
    CHECK(!err, "delete topic %s: %s", topic, rd_kafka_err2name(err));
    rc = 0;
out:
    if (rk)
        rd_kafka_destroy(rk);
    free(c.msgs);
    free(recs);
    return rc;
}

static int test_produce_matrix(rd_kafka_t *admin) {
    static const char *acks[] = {"0", "1", "all"};
    static const char *codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    int rc = 0;
    for (size_t a = 0; a < sizeof acks / sizeof *acks; a++)
        for (size_t z = 0; z < sizeof codecs / sizeof *codecs; z++)
            if (produce_consume_run(admin, acks[a], codecs[z]))
                rc = -1;
    return rc;
}

static int64_t offset_for_time(rd_kafka_t *rk, const char *topic, int32_t p, int64_t ts,
                               rd_kafka_resp_err_t *err) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, p)->offset = ts;
    *err = rd_kafka_offsets_for_times(rk, l, 10000);
    if (!*err)
        *err = l->elems[0].err;
    int64_t off = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    return off;
}

static int test_offsets_for_times(rd_kafka_t *admin) {
    char topic[128], msg[512];
    int rc = -1;
    struct msgrec recs[12];
    rd_kafka_t *rk = NULL;
    rd_kafka_resp_err_t err;
    /* ten minutes ago, a second apart: well inside any retention */
    int64_t base = (wall_ms() / 1000) * 1000 - 600000;

    topic_name(topic, sizeof topic, "times");
    err = create_topic(admin, topic, 2, 1, 0, NULL, msg, sizeof msg);
    REQUIRE(!err, "create topic %s: %s %s", topic, rd_kafka_err2name(err), msg);
    rk = new_producer("all", "none");
    /* messages 0..5 one batch each, 6..11 together in one batch */
    memset(recs, 0, sizeof recs);
    for (int i = 0; i < 12 && !err; i++) {
        recs[i].idx = i;
        snprintf(recs[i].key, sizeof recs[i].key, "t%d", i);
        snprintf(recs[i].value, sizeof recs[i].value, "at base+%ds", i);
        err = produce_one(rk, topic, 0, &recs[i], base + i * 1000);
        if (i < 6)
            rd_kafka_flush(rk, TIMEOUT_MS);
    }
    REQUIRE(!err, "producev accepted 12 messages with explicit timestamps (%s)", rd_kafka_err2str(err));
    int got = flush_reports(rk, recs, 12);
    int ok = got == 12;
    for (int i = 0; i < 12; i++)
        ok = ok && !recs[i].err && recs[i].offset == i;
    REQUIRE(ok, "12 messages with explicit timestamps delivered at offsets 0..11");

    struct {
        int64_t ts;
        int64_t want;
        const char *what;
    } cases[] = {
        {0, 0, "timestamp 0"},
        {base - 1, 0, "just before the first message"},
        {base, 0, "exactly the first message"},
        {base + 3500, 4, "between messages 3 and 4 (separate batches)"},
        {base + 5000, 5, "exactly message 5"},
        {base + 6000, 6, "the first message of the shared batch"},
        {base + 8500, 9, "inside the shared batch (between 8 and 9)"},
        {base + 11000, 11, "exactly the last message"},
        {base + 11001, RD_KAFKA_OFFSET_END, "after the last message (-1)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t off = offset_for_time(rk, topic, 0, cases[i].ts, &err);
        CHECK(!err && off == cases[i].want, "offsets_for_times %s: offset %" PRId64 " (expected %" PRId64 ", %s)",
              cases[i].what, off, cases[i].want, rd_kafka_err2name(err));
    }
    int64_t off = offset_for_time(rk, topic, 1, base, &err);
    CHECK(!err && off == RD_KAFKA_OFFSET_END, "offsets_for_times on the empty partition 1: %" PRId64 " (%s)",
          off, rd_kafka_err2name(err));
    int64_t lo = -5, hi = -5;
    err = rd_kafka_query_watermark_offsets(rk, topic, 0, &lo, &hi, 10000);
    CHECK(!err && lo == 0 && hi == 12, "watermarks of partition 0: low %" PRId64 " high %" PRId64 " (expected 0, 12)",
          lo, hi);

    /* consumed timestamps are the ones produced */
    int64_t start[1] = {RD_KAFKA_OFFSET_BEGINNING};
    int want[1] = {12};
    struct consumed c = {0};
    consume_all(topic, 1, start, want, &c);
    int ts_ok = c.n == 12;
    for (int i = 0; ts_ok && i < 12; i++)
        ts_ok = c.msgs[i].ts == base + i * 1000;
    free(c.msgs);
    CHECK(ts_ok, "the consumed messages carry the produced CreateTime timestamps");
    rc = 0;
out:
    if (rk)
        rd_kafka_destroy(rk);
    return rc;
}

static int test_admin_topics(rd_kafka_t *admin) {
    char topic[128], other[128], msg[512], longname[300];
    int32_t node = -1;
    int rc = -1;
    rd_kafka_resp_err_t err;
    static const char *cfgs[] = {"retention.ms", "123456789", NULL};

    topic_name(topic, sizeof topic, "admin");
    err = create_topic(admin, topic, 3, 1, 0, cfgs, msg, sizeof msg);
    REQUIRE(!err, "CreateTopics %s (3 partitions, retention.ms=123456789): %s %s", topic,
            rd_kafka_err2name(err), msg);
    int n = topic_partitions(admin, topic, &node);
    CHECK(n == 3, "metadata lists %s with 3 partitions (got %d)", topic, n);

    err = create_topic(admin, topic, 3, 1, 0, NULL, msg, sizeof msg);
    CHECK(err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS,
          "CreateTopics on an existing topic: TOPIC_ALREADY_EXISTS (got %s: %s)", rd_kafka_err2name(err),
          msg);

    topic_name(other, sizeof other, "validate");
    err = create_topic(admin, other, 2, 1, 1, NULL, msg, sizeof msg);
    CHECK(!err, "CreateTopics validate-only %s: no error (got %s: %s)", other, rd_kafka_err2name(err), msg);
    n = topic_partitions(admin, other, NULL);
    CHECK(n == 0, "the validate-only topic does not exist afterwards (partitions %d)", n);

    err = create_topic(admin, "bad topic name!", 1, 1, 0, NULL, msg, sizeof msg);
    CHECK(err == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION,
          "CreateTopics \"bad topic name!\": INVALID_TOPIC_EXCEPTION (got %s: %s)", rd_kafka_err2name(err),
          msg);
    err = create_topic(admin, "..", 1, 1, 0, NULL, msg, sizeof msg);
    CHECK(err == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION, "CreateTopics \"..\": INVALID_TOPIC_EXCEPTION (got %s: %s)",
          rd_kafka_err2name(err), msg);
    memset(longname, 'x', 250);
    longname[250] = 0;
    err = create_topic(admin, longname, 1, 1, 0, NULL, msg, sizeof msg);
    CHECK(err == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION,
          "CreateTopics with a 250-character name: INVALID_TOPIC_EXCEPTION (got %s: %s)",
          rd_kafka_err2name(err), msg);
    topic_name(other, sizeof other, "rf3");
    err = create_topic(admin, other, 1, 3, 0, NULL, msg, sizeof msg);
    CHECK(err == RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR,
          "CreateTopics with replication factor 3 on one broker: INVALID_REPLICATION_FACTOR (got %s: %s)",
          rd_kafka_err2name(err), msg);
    CHECK(topic_partitions(admin, other, NULL) == 0, "the rejected topic does not exist");

    /* DescribeConfigs: topic */
    struct cfg cf[256];
    int ncf;
    err = describe_configs(admin, RD_KAFKA_RESOURCE_TOPIC, topic, cf, 256, &ncf);
    REQUIRE(!err && ncf > 0, "DescribeConfigs topic %s: %d entries (%s)", topic, ncf, rd_kafka_err2name(err));
    const struct cfg *e = find_cfg(cf, ncf, "retention.ms");
    CHECK(e && !strcmp(e->value, "123456789"), "topic retention.ms is the create-time 123456789 (got %s)",
          e ? e->value : "(absent)");
    CHECK(e && !e->is_default && e->source == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG,
          "topic retention.ms: not a default, source DYNAMIC_TOPIC_CONFIG (got is_default %d, source %s)",
          e ? e->is_default : -1, e ? rd_kafka_ConfigSource_name((rd_kafka_ConfigSource_t)e->source) : "-");
    const char *seg = prop("log.segment.bytes");
    e = find_cfg(cf, ncf, "segment.bytes");
    CHECK(e && seg && !strcmp(e->value, seg), "topic segment.bytes inherits the broker's log.segment.bytes %s (got %s)",
          seg ? seg : "(not given)", e ? e->value : "(absent)");
    /* Kafka reports an inherited value with the source it comes from: the
     * broker's static config here (so not is_default, which means "Kafka's
     * built-in default"), never DYNAMIC_TOPIC_CONFIG */
    CHECK(e && e->source == RD_KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG,
          "topic segment.bytes (set by --override on the broker): source STATIC_BROKER_CONFIG (got %s)",
          e ? rd_kafka_ConfigSource_name((rd_kafka_ConfigSource_t)e->source) : "-");
    const char *rb = prop("log.retention.bytes");
    e = find_cfg(cf, ncf, "retention.bytes");
    CHECK(e && rb && !strcmp(e->value, rb), "topic retention.bytes inherits log.retention.bytes %s (got %s)",
          rb ? rb : "(not given)", e ? e->value : "(absent)");
    const char *mmb = prop("message.max.bytes");
    e = find_cfg(cf, ncf, "max.message.bytes");
    CHECK(e && mmb && !strcmp(e->value, mmb), "topic max.message.bytes inherits message.max.bytes %s (got %s)",
          mmb ? mmb : "(not given)", e ? e->value : "(absent)");

    err = describe_configs(admin, RD_KAFKA_RESOURCE_TOPIC, "no-such-topic-rdk", cf, 256, &ncf);
    CHECK(err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
          "DescribeConfigs of an unknown topic: UNKNOWN_TOPIC_OR_PARTITION (got %s)", rd_kafka_err2name(err));

    /* DescribeConfigs: broker */
    char node_s[16];
    snprintf(node_s, sizeof node_s, "%d", (int)node);
    REQUIRE(node >= 0, "metadata names the broker (node %d)", (int)node);
    err = describe_configs(admin, RD_KAFKA_RESOURCE_BROKER, node_s, cf, 256, &ncf);
    REQUIRE(!err && ncf > 0, "DescribeConfigs broker %s: %d entries (%s)", node_s, ncf, rd_kafka_err2name(err));
    for (int i = 0; i < n_props; i++) {
        e = find_cfg(cf, ncf, prop_keys[i]);
        CHECK(e && !strcmp(e->value, prop_vals[i]), "broker config %s = %s (got %s)", prop_keys[i], prop_vals[i],
              e ? e->value : "(absent)");
    }
    e = find_cfg(cf, ncf, "node.id");
    if (!e)
        e = find_cfg(cf, ncf, "broker.id");
    CHECK(e && atoi(e->value) == node, "broker config node.id/broker.id is the metadata node id %d (got %s)",
          (int)node, e ? e->value : "(absent)");

    /* CreatePartitions */
    err = create_partitions(admin, topic, 5, msg, sizeof msg);
    CHECK(!err, "CreatePartitions %s 3 -> 5: %s %s", topic, rd_kafka_err2name(err), msg);
    n = topic_partitions(admin, topic, NULL);
    CHECK(n == 5, "metadata now shows 5 partitions (got %d)", n);
    err = create_partitions(admin, topic, 4, msg, sizeof msg);
    CHECK(err == RD_KAFKA_RESP_ERR_INVALID_PARTITIONS,
          "CreatePartitions down to 4: INVALID_PARTITIONS (got %s: %s)", rd_kafka_err2name(err), msg);
    err = create_partitions(admin, "no-such-topic-rdk", 4, msg, sizeof msg);
    CHECK(err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
          "CreatePartitions on an unknown topic: UNKNOWN_TOPIC_OR_PARTITION (got %s: %s)",
          rd_kafka_err2name(err), msg);
    {
        rd_kafka_t *p = new_producer("all", "none");
        struct msgrec r = {.idx = 0, .key = "new", .value = "in partition 4"};
        err = produce_one(p, topic, 4, &r, 0);
        int got = flush_reports(p, &r, 1);
        CHECK(!err && got == 1 && !r.err && r.partition == 4 && r.offset == 0,
              "produce to the new partition 4: delivered at offset %" PRId64 " (%s)", r.offset,
              rd_kafka_err2name(err ? err : r.err));
        rd_kafka_destroy(p);
        int64_t start[5] = {RD_KAFKA_OFFSET_BEGINNING, RD_KAFKA_OFFSET_BEGINNING, RD_KAFKA_OFFSET_BEGINNING,
                            RD_KAFKA_OFFSET_BEGINNING, RD_KAFKA_OFFSET_BEGINNING};
        int want[5] = {0, 0, 0, 0, 1};
        struct consumed c = {0};
        consume_all(topic, 5, start, want, &c);
        CHECK(c.n == 1 && c.msgs[0].partition == 4 && !strcmp(c.msgs[0].value, "in partition 4"),
              "consuming all 5 partitions yields just that message, from partition 4 (got %d)", c.n);
        free(c.msgs);
    }

    /* DeleteTopics */
    err = delete_topic(admin, topic);
    CHECK(!err, "DeleteTopics %s: %s", topic, rd_kafka_err2name(err));
    n = topic_partitions(admin, topic, NULL);
    CHECK(n == 0, "the deleted topic is gone from metadata (partitions %d)", n);
    err = delete_topic(admin, topic);
    CHECK(err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
          "DeleteTopics again: UNKNOWN_TOPIC_OR_PARTITION (got %s)", rd_kafka_err2name(err));
    err = create_topic(admin, topic, 1, 1, 0, NULL, msg, sizeof msg);
    CHECK(!err, "a topic of the same name can be created again (%s %s)", rd_kafka_err2name(err), msg);
    {
        int64_t lo = -5, hi = -5;
        err = rd_kafka_query_watermark_offsets(admin, topic, 0, &lo, &hi, 10000);
        CHECK(!err && lo == 0 && hi == 0, "and it starts empty: low %" PRId64 " high %" PRId64 " (%s)", lo, hi,
              rd_kafka_err2name(err));
    }
    delete_topic(admin, topic);
    rc = 0;
out:
    return rc;
}

static rd_kafka_resp_err_t delete_records(rd_kafka_t *rk, const char *topic, int32_t p, int64_t before,
                                          int64_t *low) {
    rd_kafka_resp_err_t ret = RD_KAFKA_RESP_ERR__TIMED_OUT;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, p)->offset = before;
    rd_kafka_DeleteRecords_t *dr = rd_kafka_DeleteRecords_new(l);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = admin_opts(rk, RD_KAFKA_ADMIN_OP_DELETERECORDS, 0);
    rd_kafka_DeleteRecords(rk, &dr, 1, o, q);
    rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_DELETERECORDS_RESULT);
    *low = -5;
    if (ev) {
        const rd_kafka_topic_partition_list_t *res =
            rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
        ret = rd_kafka_event_error(ev);
        if (res && res->cnt == 1) {
            if (!ret)
                ret = res->elems[0].err;
            *low = res->elems[0].offset;
        } else if (!ret) {
            ret = RD_KAFKA_RESP_ERR__BAD_MSG;
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_DeleteRecords_destroy(dr);
    rd_kafka_queue_destroy(q);
    return ret;
}

static int test_delete_records(rd_kafka_t *admin) {
    char topic[128], msg[512];
    struct msgrec recs[20];
    int rc = -1;
    rd_kafka_t *rk = NULL;
    rd_kafka_resp_err_t err;
    int64_t low, lo, hi;

    topic_name(topic, sizeof topic, "delrec");
    err = create_topic(admin, topic, 1, 1, 0, NULL, msg, sizeof msg);
    REQUIRE(!err, "create topic %s: %s %s", topic, rd_kafka_err2name(err), msg);
    rk = new_producer("all", "none");
    memset(recs, 0, sizeof recs);
    for (int i = 0; i < 20; i++) {
        recs[i].idx = i;
        snprintf(recs[i].key, sizeof recs[i].key, "d%d", i);
        snprintf(recs[i].value, sizeof recs[i].value, "record %d", i);
        produce_one(rk, topic, 0, &recs[i], 0);
        if (i % 5 == 4)
            rd_kafka_flush(rk, TIMEOUT_MS); /* four batches */
    }
    int ok = flush_reports(rk, recs, 20) == 20;
    for (int i = 0; i < 20; i++)
        ok = ok && !recs[i].err && recs[i].offset == i;
    REQUIRE(ok, "20 records delivered at offsets 0..19");

    err = delete_records(admin, topic, 0, 12, &low);
    CHECK(!err && low == 12, "DeleteRecords before 12: low watermark %" PRId64 " (%s)", low, rd_kafka_err2name(err));
    err = rd_kafka_query_watermark_offsets(rk, topic, 0, &lo, &hi, 10000);
    CHECK(!err && lo == 12 && hi == 20, "ListOffsets: low %" PRId64 " high %" PRId64 " (expected 12, 20)", lo, hi);
    {
        int64_t start[1] = {RD_KAFKA_OFFSET_BEGINNING};
        int want[1] = {8};
        struct consumed c = {0};
        consume_all(topic, 1, start, want, &c);
        int cok = c.n == 8;
        for (int i = 0; cok && i < 8; i++)
            cok = c.msgs[i].offset == 12 + i && !strcmp(c.msgs[i].value, recs[12 + i].value);
        CHECK(cok, "consuming from the beginning starts at offset 12 and yields records 12..19 (got %d)", c.n);
        free(c.msgs);
    }
    {
        /* offset 5 is below the new low watermark now */
        int64_t start[1] = {5};
        int want[1] = {0};
        struct consumed c = {0};
        rd_kafka_t *cons = new_consumer();
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, topic, 0)->offset = start[0];
        rd_kafka_assign(cons, l);
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_resp_err_t seen = RD_KAFKA_RESP_ERR_NO_ERROR;
        int64_t deadline = mono_ms() + 10000;
        while (!seen && mono_ms() < deadline) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 200);
            if (m) {
                if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    seen = m->err;
                else if (!m->err)
                    c.n++;
                rd_kafka_message_destroy(m);
            }
        }
        CHECK(c.n == 0 && (seen == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || seen == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE),
              "fetching from deleted offset 5 is OFFSET_OUT_OF_RANGE (consumer error %s, %d messages)",
              rd_kafka_err2name(seen), c.n);
        rd_kafka_consumer_close(cons);
        rd_kafka_destroy(cons);
        (void)want;
    }
    err = delete_records(admin, topic, 0, 25, &low);
    CHECK(err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE,
          "DeleteRecords beyond the high watermark: OFFSET_OUT_OF_RANGE (got %s)", rd_kafka_err2name(err));
    err = delete_records(admin, topic, 0, 8, &low);
    CHECK(!err && low == 12, "DeleteRecords below the low watermark changes nothing: low %" PRId64 " (%s)", low,
          rd_kafka_err2name(err));
    err = delete_records(admin, topic, 0, RD_KAFKA_OFFSET_END, &low);
    CHECK(!err && low == 20, "DeleteRecords up to the high watermark (-1): low %" PRId64 " (%s)", low,
          rd_kafka_err2name(err));
    err = rd_kafka_query_watermark_offsets(rk, topic, 0, &lo, &hi, 10000);
    CHECK(!err && lo == 20 && hi == 20, "ListOffsets: low %" PRId64 " high %" PRId64 " (expected 20, 20)", lo, hi);
    delete_topic(admin, topic);
    rc = 0;
out:
    if (rk)
        rd_kafka_destroy(rk);
    return rc;
}

int main(int argc, char **argv) {
    struct {
        const char *name;
        int (*fn)(rd_kafka_t *);
    } tests[] = {
        {"produce_matrix", test_produce_matrix},
        {"offsets_for_times", test_offsets_for_times},
        {"admin_topics", test_admin_topics},
        {"delete_records", test_delete_records},
    };
    char err[512];
    int passed = 0, failed = 0;
    const char *only = getenv("SAMSA_TEST_ONLY");

    setvbuf(stdout, NULL, _IOLBF, 0);
    bootstrap = getenv("SAMSA_BOOTSTRAP");
    if (!bootstrap) {
        fprintf(stderr, "usage: SAMSA_BOOTSTRAP=host:port %s [broker.prop=value]...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc && n_props < 32; i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq)
            continue;
        snprintf(prop_keys[n_props], sizeof prop_keys[0], "%.*s", (int)(eq - argv[i]), argv[i]);
        snprintf(prop_vals[n_props], sizeof prop_vals[0], "%s", eq + 1);
        n_props++;
    }
    printf("librdkafka %s against %s\n", rd_kafka_version_str(), bootstrap);

    rd_kafka_conf_t *conf = base_conf();
    rd_kafka_t *admin = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!admin) {
        fprintf(stderr, "admin client: %s\n", err);
        return 2;
    }
    int64_t t_all = mono_ms();
    for (size_t i = 0; i < sizeof tests / sizeof *tests; i++) {
        if (only && strcmp(only, tests[i].name))
            continue;
        int before = n_failed_checks, checks_before = n_checks;
        int64_t t0 = mono_ms();
        printf("--- %s\n", tests[i].name);
        int rc = tests[i].fn(admin);
        /* a test that made no check proved nothing: a failure */
        int ok = rc == 0 && n_failed_checks == before && n_checks > checks_before;
        printf("%s %s (%.2fs)%s\n", ok ? "PASS" : "FAIL", tests[i].name, (double)(mono_ms() - t0) / 1000.0,
               n_checks == checks_before ? ": not a single check was made" : "");
        ok ? passed++ : failed++;
    }
    rd_kafka_destroy(admin);
    rd_kafka_wait_destroyed(10000);
    printf("%d checks (%d failed) in %.1fs\n", n_checks, n_failed_checks, (double)(mono_ms() - t_all) / 1000.0);
    printf("%d passed, %d failed\n", passed, failed);
    if (passed + failed == 0) { /* SAMSA_TEST_ONLY named none of them: nothing was tested */
        printf("FAIL: no test ran (SAMSA_TEST_ONLY=%s names none of:", only ? only : "");
        for (size_t i = 0; i < sizeof tests / sizeof *tests; i++)
            printf(" %s", tests[i].name);
        printf(")\n");
        return 1;
    }
    return failed ? 1 : 0;
}
