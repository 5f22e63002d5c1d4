/* test_groups.c: consumer groups of samsa-broker through librdkafka.
 *
 * Run through with_broker.py, which starts the broker and exports
 * SAMSA_BOOTSTRAP; the arguments are the KEY=VALUE broker properties it was
 * started with, printed beside the measured times.
 *
 * Three consumers (three rd_kafka_t handles polled in turn by this one
 * thread) join one group on a 6-partition topic, once per assignor: range,
 * roundrobin and cooperative-sticky. Each must end with 2 partitions, the
 * union covering the 6 exactly once; what each consumer's rebalance
 * callback reports must match what DescribeConsumerGroups says the broker
 * handed that member id (so the broker routed every member its own
 * assignment), and for range and roundrobin the layout must be the one the
 * assignor computes from the sorted member ids. Then messages produced to
 * every partition are consumed by the owner of that partition only,
 * exactly once; commits are visible to the other members; one member
 * leaves and the two others take over its partitions from its committed
 * offsets. Also: two groups on one topic each receive every message and
 * keep their own committed offsets; a static member (group.instance.id)
 * that closes and comes back takes its partitions back without a
 * rebalance; the time a 3-member group takes from
 * the first JoinGroup on the wire to all three members holding their
 * assignment.
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

#define NPART 6
#define NMEMB 3
#define TIMEOUT_MS 30000
#define SESSION_TIMEOUT_MS "6000"
#define HEARTBEAT_MS "250"

static const char *bootstrap;
static int n_checks, n_failed_checks;
static char props[1024];
static int64_t initial_delay_ms; /* the broker's group.initial.rebalance.delay.ms, from the arguments */

static int check_at(int ok, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int check_at(int ok, int line, const char *fmt, ...) {
    va_list ap;
    n_checks++;
    printf(ok ? "  ok: " : "  FAIL (line %d): ", line);
    if (!ok)
        n_failed_checks++;
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

static void unique_name(char *buf, size_t len, const char *what) {
    static int seq;
    snprintf(buf, len, "grp-%s-%d-%d", what, (int)getpid(), ++seq);
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    fprintf(stderr, "rdkafka %" PRId64 " %s %d %s: %s\n", mono_ms(), rd_kafka_name(rk), level, fac, buf);
}

static void conf_set(rd_kafka_conf_t *conf, const char *k, const char *v) {
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "conf %s=%s: %s\n", k, v, err);
        exit(2);
    }
}

static rd_kafka_conf_t *base_conf(const char *client_id) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", bootstrap);
    conf_set(conf, "client.id", client_id);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (getenv("SAMSA_RDKAFKA_DEBUG")) /* e.g. cgrp,protocol: librdkafka's debug log on stderr */
        conf_set(conf, "debug", getenv("SAMSA_RDKAFKA_DEBUG"));
    return conf;
}

/* -- requests on the wire, seen by an interceptor ---------------------------- */

/* Written by librdkafka's broker threads, read by the test thread. */
static int64_t first_join_ms;
static int n_join_requests, n_sync_requests;

static rd_kafka_resp_err_t on_request_sent(rd_kafka_t *rk, int sockfd, const char *brokername,
                                           int32_t brokerid, int16_t ApiKey, int16_t ApiVersion,
                                           int32_t CorrId, size_t size, void *ic_opaque) {
    (void)rk, (void)sockfd, (void)brokername, (void)brokerid, (void)ApiVersion, (void)CorrId;
    (void)size, (void)ic_opaque;
    if (ApiKey == 11) {
        int64_t zero = 0;
        __atomic_compare_exchange_n(&first_join_ms, &zero, mono_ms(), 0, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST);
        __atomic_add_fetch(&n_join_requests, 1, __ATOMIC_SEQ_CST);
    } else if (ApiKey == 14) {
        __atomic_add_fetch(&n_sync_requests, 1, __ATOMIC_SEQ_CST);
    }
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static rd_kafka_resp_err_t on_new(rd_kafka_t *rk, const rd_kafka_conf_t *conf, void *ic_opaque,
                                  char *errstr, size_t errstr_size) {
    (void)conf, (void)ic_opaque, (void)errstr, (void)errstr_size;
    return rd_kafka_interceptor_add_on_request_sent(rk, "itest-wire", on_request_sent, NULL);
}

static void reset_wire_counts(void) {
    __atomic_store_n(&first_join_ms, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&n_join_requests, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&n_sync_requests, 0, __ATOMIC_SEQ_CST);
}

/* -- admin ----------------------------------------------------------------- */

static rd_kafka_t *admin;

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

static rd_kafka_resp_err_t create_topic(const char *name, int parts) {
    char err[256];
    rd_kafka_resp_err_t ret = RD_KAFKA_RESP_ERR__TIMED_OUT;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(name, parts, 1, err, sizeof err);
    if (!nt)
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    rd_kafka_queue_t *q = rd_kafka_queue_new(admin);
    rd_kafka_CreateTopics(admin, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
    if (ev) {
        size_t cnt;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        ret = rd_kafka_event_error(ev);
        if (!ret)
            ret = cnt == 1 ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    return ret;
}

/* A group as DescribeConsumerGroups reports it. */
struct described {
    rd_kafka_resp_err_t err;
    rd_kafka_consumer_group_state_t state;
    char assignor[64];
    int n_members;
    char member_id[NMEMB * 2][256];
    char client_id[NMEMB * 2][64];
    char host[NMEMB * 2][64];
    int owned[NMEMB * 2][NPART]; /* partitions of the test topic */
    int other_topic_partitions;
};

static void describe_group(const char *group, const char *topic, struct described *d) {
    memset(d, 0, sizeof *d);
    d->err = RD_KAFKA_RESP_ERR__TIMED_OUT;
    rd_kafka_queue_t *q = rd_kafka_queue_new(admin);
    rd_kafka_DescribeConsumerGroups(admin, &group, 1, NULL, q);
    rd_kafka_event_t *ev = admin_wait(q, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT);
    if (ev) {
        size_t cnt;
        const rd_kafka_ConsumerGroupDescription_t **gs = rd_kafka_DescribeConsumerGroups_result_groups(
            rd_kafka_event_DescribeConsumerGroups_result(ev), &cnt);
        d->err = rd_kafka_event_error(ev);
        if (!d->err && cnt != 1)
            d->err = RD_KAFKA_RESP_ERR__BAD_MSG;
        if (!d->err && rd_kafka_ConsumerGroupDescription_error(gs[0]))
            d->err = rd_kafka_error_code(rd_kafka_ConsumerGroupDescription_error(gs[0]));
        if (!d->err) {
            const rd_kafka_ConsumerGroupDescription_t *g = gs[0];
            const char *a = rd_kafka_ConsumerGroupDescription_partition_assignor(g);
            d->state = rd_kafka_ConsumerGroupDescription_state(g);
            snprintf(d->assignor, sizeof d->assignor, "%s", a ? a : "");
            size_t n = rd_kafka_ConsumerGroupDescription_member_count(g);
            for (size_t i = 0; i < n && d->n_members < NMEMB * 2; i++) {
                const rd_kafka_MemberDescription_t *md = rd_kafka_ConsumerGroupDescription_member(g, i);
                int k = d->n_members++;
                snprintf(d->member_id[k], sizeof d->member_id[k], "%s",
                         rd_kafka_MemberDescription_consumer_id(md));
                snprintf(d->client_id[k], sizeof d->client_id[k], "%s",
                         rd_kafka_MemberDescription_client_id(md));
                snprintf(d->host[k], sizeof d->host[k], "%s", rd_kafka_MemberDescription_host(md));
                const rd_kafka_topic_partition_list_t *pl =
                    rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(md));
                for (int j = 0; pl && j < pl->cnt; j++) {
                    if (!strcmp(pl->elems[j].topic, topic) && pl->elems[j].partition >= 0 &&
                        pl->elems[j].partition < NPART)
                        d->owned[k][pl->elems[j].partition] = 1;
                    else
                        d->other_topic_partitions++;
                }
            }
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
}

/* -- producing --------------------------------------------------------------- */

static void value_of(char *buf, size_t len, int partition, int64_t offset) {
    snprintf(buf, len, "partition %d message %" PRId64, partition, offset);
}

static int delivered, delivery_failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk, (void)opaque;
    if (m->err)
        delivery_failed++;
    else
        delivered++;
}

/* Produces per_part messages to each of nparts partitions; values name the
 * offset they will land at (from start[p]). Returns how many were delivered. */
static int produce_all(const char *topic, int nparts, int per_part, const int64_t *start) {
    char err[256], v[96];
    rd_kafka_conf_t *conf = base_conf("samsa-itest-groups-producer");
    conf_set(conf, "acks", "all");
    conf_set(conf, "linger.ms", "5");
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "producer: %s\n", err);
        exit(2);
    }
    delivered = delivery_failed = 0;
    for (int i = 0; i < per_part; i++) {
        for (int p = 0; p < nparts; p++) {
            value_of(v, sizeof v, p, start[p] + i);
            while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(p),
                                     RD_KAFKA_V_VALUE(v, strlen(v)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                     RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(rk, 50);
        }
    }
    rd_kafka_flush(rk, TIMEOUT_MS);
    rd_kafka_poll(rk, 0);
    rd_kafka_destroy(rk);
    return delivery_failed ? -delivery_failed : delivered;
}

/* -- group members ------------------------------------------------------------ */

struct member {
    rd_kafka_t *rk;
    char name[32];
    int owned[NPART];
    int n_owned;
    int had_some;       /* it has owned partitions at some point */
    int went_empty;     /* times its assignment dropped to nothing after that */
    int64_t t_assigned; /* mono ms of its last assignment change */
    int callback_errors;
    int callbacks;          /* rebalance callbacks served */
    char instance_id[64];   /* group.instance.id of a static member, or "" */
    int got[NPART];    /* messages consumed per partition */
    int64_t next[NPART]; /* offset expected next; -1: none yet */
    int64_t first[NPART];
    int bad; /* messages not owned, out of order, or with a wrong value */
};

static void recount(struct member *m) {
    m->n_owned = 0;
    for (int p = 0; p < NPART; p++)
        m->n_owned += m->owned[p];
    if (m->n_owned)
        m->had_some = 1;
    else if (m->had_some)
        m->went_empty++;
    m->t_assigned = mono_ms();
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
    struct member *m = opaque;
    int coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    rd_kafka_error_t *e = NULL;
    rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    m->callbacks++;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (coop)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            aerr = rd_kafka_assign(rk, parts);
        for (int i = 0; i < parts->cnt; i++)
            if (parts->elems[i].partition >= 0 && parts->elems[i].partition < NPART)
                m->owned[parts->elems[i].partition] = 1;
    } else {
        if (coop) {
            e = rd_kafka_incremental_unassign(rk, parts);
            for (int i = 0; i < parts->cnt; i++)
                if (parts->elems[i].partition >= 0 && parts->elems[i].partition < NPART)
                    m->owned[parts->elems[i].partition] = 0;
        } else {
            aerr = rd_kafka_assign(rk, NULL);
            memset(m->owned, 0, sizeof m->owned);
        }
    }
    if (e || aerr) {
        printf("  %s: rebalance callback (%s): %s\n", m->name, rd_kafka_err2name(err),
               e ? rd_kafka_error_string(e) : rd_kafka_err2str(aerr));
        m->callback_errors++;
        if (e)
            rd_kafka_error_destroy(e);
    }
    recount(m);
}

static void member_init(struct member *m, const char *name) {
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    for (int p = 0; p < NPART; p++)
        m->next[p] = m->first[p] = -1;
}

/* Creates m's consumer in group and subscribes it to topic. */
static int member_start(struct member *m, const char *group, const char *strategy, const char *topic) {
    char err[512], cid[64];
    snprintf(cid, sizeof cid, "itest-%s", m->name);
    rd_kafka_conf_t *conf = base_conf(cid);
    conf_set(conf, "group.id", group);
    conf_set(conf, "partition.assignment.strategy", strategy);
    conf_set(conf, "session.timeout.ms", SESSION_TIMEOUT_MS);
    conf_set(conf, "heartbeat.interval.ms", HEARTBEAT_MS);
    conf_set(conf, "enable.auto.commit", "false");
    conf_set(conf, "auto.offset.reset", "earliest");
    conf_set(conf, "fetch.wait.max.ms", "100");
    conf_set(conf, "check.crcs", "true");
    if (m->instance_id[0])
        conf_set(conf, "group.instance.id", m->instance_id);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, m);
    rd_kafka_conf_interceptor_add_on_new(conf, "itest-wire", on_new, NULL);
    m->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!m->rk) {
        fprintf(stderr, "consumer %s: %s\n", m->name, err);
        exit(2);
    }
    rd_kafka_poll_set_consumer(m->rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(m->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        printf("  %s: subscribe: %s\n", m->name, rd_kafka_err2str(e));
    return e ? -1 : 0;
}

static void member_close(struct member *m) {
    if (!m->rk)
        return;
    rd_kafka_consumer_close(m->rk);
    rd_kafka_destroy(m->rk);
    m->rk = NULL;
}

static void member_id(struct member *m, char *buf, size_t len) {
    char *id = rd_kafka_memberid(m->rk);
    snprintf(buf, len, "%s", id ? id : "");
    if (id)
        rd_kafka_mem_free(m->rk, id);
}

static void handle_message(struct member *m, rd_kafka_message_t *msg) {
    if (msg->err) {
        if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            printf("  %s: consumer error: %s\n", m->name, rd_kafka_message_errstr(msg));
            m->bad++;
        }
        return;
    }
    int p = msg->partition;
    char want[96];
    if (p < 0 || p >= NPART) {
        m->bad++;
        return;
    }
    value_of(want, sizeof want, p, msg->offset);
    int ok = m->owned[p] && (m->next[p] < 0 || msg->offset == m->next[p]) && msg->len == strlen(want) &&
             !memcmp(msg->payload, want, msg->len);
    if (!ok) {
        if (m->bad < 5)
            printf("  %s: unexpected message partition %d offset %" PRId64 " (owned %d, expected offset %" PRId64
                   ", value \"%.*s\")\n",
                   m->name, p, msg->offset, m->owned[p], m->next[p], (int)msg->len, (const char *)msg->payload);
        m->bad++;
    }
    if (m->first[p] < 0)
        m->first[p] = msg->offset;
    m->got[p]++;
    m->next[p] = msg->offset + 1;
}

/* Polls every member once (serving callbacks and messages). */
static void poll_members(struct member *ms, int n, int timeout_ms) {
    for (int i = 0; i < n; i++) {
        if (!ms[i].rk)
            continue;
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(ms[i].rk, timeout_ms);
        if (msg) {
            handle_message(&ms[i], msg);
            rd_kafka_message_destroy(msg);
        }
    }
}

/* True when the live members' assignments are disjoint and cover all
 * nparts partitions, each member holding per_member of them. */
static int balanced(struct member *ms, int n, int nparts, int per_member) {
    int cover[NPART] = {0};
    for (int i = 0; i < n; i++) {
        if (!ms[i].rk)
            continue;
        if (ms[i].n_owned != per_member)
            return 0;
        for (int p = 0; p < NPART; p++)
            cover[p] += ms[i].owned[p];
    }
    for (int p = 0; p < nparts; p++)
        if (cover[p] != 1)
            return 0;
    return 1;
}

static int wait_balanced(struct member *ms, int n, int nparts, int per_member, int64_t timeout_ms) {
    int64_t deadline = mono_ms() + timeout_ms;
    while (mono_ms() < deadline) {
        if (balanced(ms, n, nparts, per_member))
            return 1;
        poll_members(ms, n, 20);
    }
    return balanced(ms, n, nparts, per_member);
}

static void fmt_owned(const int *owned, char *buf, size_t len) {
    size_t o = 0;
    buf[0] = 0;
    for (int p = 0; p < NPART && o + 4 < len; p++)
        if (owned[p])
            o += (size_t)snprintf(buf + o, len - o, "%s%d", o ? "," : "", p);
}

/* Polls until every live member consumed want[p] messages of each of its
 * partitions p. */
static int wait_consumed(struct member *ms, int n, const int *want, int64_t timeout_ms) {
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        int total[NPART] = {0}, done = 1;
        for (int i = 0; i < n; i++)
            for (int p = 0; p < NPART; p++)
                total[p] += ms[i].got[p];
        for (int p = 0; p < NPART; p++)
            if (total[p] < want[p])
                done = 0;
        if (done)
            return 1;
        if (mono_ms() >= deadline)
            return 0;
        poll_members(ms, n, 20);
    }
}

static void reset_counts(struct member *ms, int n) {
    for (int i = 0; i < n; i++)
        for (int p = 0; p < NPART; p++) {
            ms[i].got[p] = 0;
            ms[i].first[p] = -1;
        }
}

/* The committed offsets of m's group for partitions [0, nparts) of topic,
 * read through m (OffsetFetch). Returns the error. */
static rd_kafka_resp_err_t committed(rd_kafka_t *rk, const char *topic, int nparts, int64_t *out) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p);
    rd_kafka_resp_err_t err = rd_kafka_committed(rk, l, 10000);
    for (int p = 0; p < nparts; p++) {
        out[p] = l->elems[p].offset;
        if (!err && l->elems[p].err)
            err = l->elems[p].err;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return err;
}

/* -- tests ----------------------------------------------------------------- */

/* Three members, one assignor: 2 partitions each, routed right, consumed
 * by their owner only; commits visible; a member leaves and the others
 * take over from its commits. */
static int assignor_run(const char *strategy) {
    char topic[128], group[128], buf[64];
    struct member ms[NMEMB];
    struct described d;
    int rc = -1;

    printf(" [partition.assignment.strategy=%s]\n", strategy);
    unique_name(topic, sizeof topic, "t");
    unique_name(group, sizeof group, strategy);
    for (int i = 0; i < NMEMB; i++) {
        char name[32];
        snprintf(name, sizeof name, "%.12s-%d", strategy, i);
        member_init(&ms[i], name);
    }
    rd_kafka_resp_err_t err = create_topic(topic, NPART);
    REQUIRE(!err, "create topic %s with %d partitions (%s)", topic, NPART, rd_kafka_err2name(err));

    /* one after the other, each one joining a group already Stable */
    for (int i = 0; i < NMEMB; i++) {
        REQUIRE(member_start(&ms[i], group, strategy, topic) == 0, "%s subscribes", ms[i].name);
        int per = NPART / (i + 1);
        REQUIRE(wait_balanced(ms, i + 1, NPART, per, TIMEOUT_MS),
                "with %d member(s): %d partitions each, all %d covered once", i + 1, per, NPART);
    }
    for (int i = 0; i < NMEMB; i++) {
        fmt_owned(ms[i].owned, buf, sizeof buf);
        char id[256];
        member_id(&ms[i], id, sizeof id);
        printf("  %s (member %s) owns partitions %s\n", ms[i].name, id, buf);
        CHECK(ms[i].callback_errors == 0, "%s: assign/unassign in its rebalance callback succeeded", ms[i].name);
    }
    CHECK(!strcmp(rd_kafka_rebalance_protocol(ms[0].rk), strcmp(strategy, "cooperative-sticky") ? "EAGER" : "COOPERATIVE"),
          "librdkafka runs the %s rebalance protocol (%s)", strategy, rd_kafka_rebalance_protocol(ms[0].rk));

    /* the broker's view: Stable, the assignor as protocol, each member id
     * handed the partitions its consumer reports */
    describe_group(group, topic, &d);
    REQUIRE(!d.err, "DescribeConsumerGroups %s (%s)", group, rd_kafka_err2name(d.err));
    CHECK(d.state == RD_KAFKA_CONSUMER_GROUP_STATE_STABLE, "group state Stable (got %s)",
          rd_kafka_consumer_group_state_name(d.state));
    CHECK(!strcmp(d.assignor, strategy), "the group's protocol is %s (got \"%s\")", strategy, d.assignor);
    CHECK(d.n_members == NMEMB && d.other_topic_partitions == 0, "%d members described (got %d)", NMEMB, d.n_members);
    char ids[NMEMB][256];
    for (int i = 0; i < NMEMB; i++) {
        member_id(&ms[i], ids[i], sizeof ids[i]);
        int k = -1;
        for (int j = 0; j < d.n_members; j++)
            if (!strcmp(d.member_id[j], ids[i]))
                k = j;
        char want[64], got[64], cid[64];
        fmt_owned(ms[i].owned, want, sizeof want);
        if (k >= 0)
            fmt_owned(d.owned[k], got, sizeof got);
        snprintf(cid, sizeof cid, "itest-%s", ms[i].name);
        CHECK(k >= 0 && !strcmp(want, got) && !strcmp(d.client_id[k], cid),
              "the broker describes %s's member id with client id %s and partitions %s (got %s, %s)", ms[i].name,
              cid, want, k >= 0 ? d.client_id[k] : "(member missing)", k >= 0 ? got : "-");
    }

    /* range and roundrobin are deterministic over the sorted member ids */
    if (strcmp(strategy, "cooperative-sticky")) {
        int order[NMEMB] = {0, 1, 2};
        for (int i = 0; i < NMEMB; i++)
            for (int j = i + 1; j < NMEMB; j++)
                if (strcmp(ids[order[j]], ids[order[i]]) < 0) {
                    int t = order[i];
                    order[i] = order[j];
                    order[j] = t;
                }
        int layout_ok = 1;
        for (int r = 0; r < NMEMB; r++) {
            struct member *m = &ms[order[r]];
            int a = !strcmp(strategy, "range") ? 2 * r : r, b = !strcmp(strategy, "range") ? 2 * r + 1 : r + NMEMB;
            if (!m->owned[a] || !m->owned[b])
                layout_ok = 0;
        }
        CHECK(layout_ok, "the %s layout over the member ids in sorted order (partitions %s)", strategy,
              !strcmp(strategy, "range") ? "0,1 / 2,3 / 4,5" : "0,3 / 1,4 / 2,5");
    } else {
        CHECK(ms[0].went_empty == 0 && ms[1].went_empty == 0,
              "cooperative: the first two members never lost all their partitions while others joined (%d, %d)",
              ms[0].went_empty, ms[1].went_empty);
    }

    /* consumption after the rebalance: each partition by its owner only */
    int64_t zero[NPART] = {0};
    int n = produce_all(topic, NPART, 10, zero);
    REQUIRE(n == NPART * 10, "%d messages produced, 10 per partition (delivered %d)", NPART * 10, n);
    int want[NPART];
    for (int p = 0; p < NPART; p++)
        want[p] = 10;
    CHECK(wait_consumed(ms, NMEMB, want, TIMEOUT_MS), "all %d messages consumed", NPART * 10);
    for (int i = 0; i < NMEMB; i++) {
        int exact = ms[i].bad == 0;
        for (int p = 0; p < NPART; p++)
            exact = exact && ms[i].got[p] == (ms[i].owned[p] ? 10 : 0);
        CHECK(exact, "%s consumed offsets 0..9 of each of its partitions in order, with their values, and nothing else (%d bad)",
              ms[i].name, ms[i].bad);
    }

    /* commits, read back by another member */
    for (int i = 0; i < NMEMB; i++) {
        err = rd_kafka_commit(ms[i].rk, NULL, 0);
        CHECK(!err, "%s commits its positions (%s)", ms[i].name, rd_kafka_err2name(err));
    }
    int64_t c[NPART];
    err = committed(ms[NMEMB - 1].rk, topic, NPART, c);
    int all10 = !err;
    for (int p = 0; p < NPART; p++)
        all10 = all10 && c[p] == 10;
    CHECK(all10, "%s reads committed offset 10 for all %d partitions, its own and the others' (%s; p0 %" PRId64 ")",
          ms[NMEMB - 1].name, NPART, rd_kafka_err2name(err), c[0]);

    /* a member leaves: the others take over its partitions from its commits */
    int gone[NPART];
    memcpy(gone, ms[1].owned, sizeof gone);
    member_close(&ms[1]);
    ms[1].n_owned = 0;
    memset(ms[1].owned, 0, sizeof ms[1].owned);
    REQUIRE(wait_balanced(ms, NMEMB, NPART, NPART / 2, TIMEOUT_MS),
            "after %s leaves: the two others hold 3 partitions each, all %d covered once", ms[1].name, NPART);
    reset_counts(ms, NMEMB);
    for (int i = 0; i < NMEMB; i++)
        for (int p = 0; p < NPART; p++)
            ms[i].next[p] = -1;
    int64_t ten[NPART];
    for (int p = 0; p < NPART; p++) {
        ten[p] = 10;
        want[p] = 5;
    }
    n = produce_all(topic, NPART, 5, ten);
    REQUIRE(n == NPART * 5, "5 more messages per partition produced (delivered %d)", n);
    CHECK(wait_consumed(ms, NMEMB, want, TIMEOUT_MS), "all %d new messages consumed", NPART * 5);
    int resumed = 1;
    for (int i = 0; i < NMEMB; i += 2) {
        for (int p = 0; p < NPART; p++)
            if (ms[i].owned[p] && (ms[i].first[p] != 10 || ms[i].got[p] != 5))
                resumed = 0;
        resumed = resumed && ms[i].bad == 0;
    }
    fmt_owned(gone, buf, sizeof buf);
    CHECK(resumed, "every partition, %s's former ones (%s) too, resumed at its committed offset 10: offsets 10..14 once each",
          ms[1].name, buf);
    rc = 0;
out:
    for (int i = 0; i < NMEMB; i++)
        member_close(&ms[i]);
    return rc;
}

static int test_assignors(void) {
    int rc = 0;
    rc |= assignor_run("range");
    rc |= assignor_run("roundrobin");
    rc |= assignor_run("cooperative-sticky");
    return rc;
}

/* Two groups on one topic: each receives every message; their committed
 * offsets are their own. */
static int test_two_groups(void) {
    char topic[128], ga[128], gb[128];
    struct member a[2], b[1];
    int rc = -1;
    const int nparts = 3, per = 30;

    unique_name(topic, sizeof topic, "two");
    unique_name(ga, sizeof ga, "group-a");
    unique_name(gb, sizeof gb, "group-b");
    member_init(&a[0], "a0");
    member_init(&a[1], "a1");
    member_init(&b[0], "b0");
    rd_kafka_resp_err_t err = create_topic(topic, nparts);
    REQUIRE(!err, "create topic %s with %d partitions (%s)", topic, nparts, rd_kafka_err2name(err));
    REQUIRE(!member_start(&a[0], ga, "roundrobin", topic) && !member_start(&a[1], ga, "roundrobin", topic) &&
                !member_start(&b[0], gb, "range", topic),
            "two consumers in group %s, one in group %s", ga, gb);
    int64_t deadline = mono_ms() + TIMEOUT_MS;
    int ready = 0;
    while (!ready && mono_ms() < deadline) {
        poll_members(a, 2, 20);
        poll_members(b, 1, 20);
        ready = b[0].n_owned == nparts && a[0].n_owned && a[1].n_owned && a[0].n_owned + a[1].n_owned == nparts;
        for (int p = 0; ready && p < nparts; p++)
            ready = a[0].owned[p] + a[1].owned[p] == 1;
    }
    REQUIRE(ready, "group A splits the %d partitions between its two members (%d + %d), group B's member holds all %d",
            nparts, a[0].n_owned, a[1].n_owned, b[0].n_owned);

    int64_t zero[NPART] = {0};
    int n = produce_all(topic, nparts, per, zero);
    REQUIRE(n == nparts * per, "%d messages produced (delivered %d)", nparts * per, n);
    int got_a = 0, got_b = 0;
    deadline = mono_ms() + TIMEOUT_MS;
    while (mono_ms() < deadline && !(got_a && got_b)) {
        poll_members(a, 2, 20);
        poll_members(b, 1, 20);
        got_a = got_b = 1;
        for (int p = 0; p < nparts; p++) {
            got_a = got_a && a[0].got[p] + a[1].got[p] >= per;
            got_b = got_b && b[0].got[p] >= per;
        }
    }
    int exact_a = a[0].bad == 0 && a[1].bad == 0, exact_b = b[0].bad == 0;
    for (int p = 0; p < nparts; p++) {
        exact_a = exact_a && a[0].got[p] + a[1].got[p] == per;
        exact_b = exact_b && b[0].got[p] == per;
    }
    CHECK(got_a && exact_a, "group %s received every one of the %d messages exactly once, in order", ga, nparts * per);
    CHECK(got_b && exact_b, "group %s received every one of the %d messages exactly once, in order", gb, nparts * per);

    /* A commits the end, B commits 20: each group keeps its own */
    err = rd_kafka_commit(a[0].rk, NULL, 0);
    rd_kafka_resp_err_t err1 = rd_kafka_commit(a[1].rk, NULL, 0);
    CHECK(!err && !err1, "group A's members commit their positions (%s, %s)", rd_kafka_err2name(err),
          rd_kafka_err2name(err1));
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = 20;
    err = rd_kafka_commit(b[0].rk, l, 0);
    rd_kafka_topic_partition_list_destroy(l);
    CHECK(!err, "group B commits offset 20 on every partition (%s)", rd_kafka_err2name(err));
    int64_t ca[NPART], cb[NPART];
    err = committed(a[0].rk, topic, nparts, ca);
    err1 = committed(b[0].rk, topic, nparts, cb);
    int sep = !err && !err1;
    for (int p = 0; p < nparts; p++)
        sep = sep && ca[p] == per && cb[p] == 20;
    CHECK(sep, "committed offsets: group A %d on each partition, group B 20 (A p0 %" PRId64 ", B p0 %" PRId64 ")", per,
          ca[0], cb[0]);
    rc = 0;
out:
    member_close(&a[0]);
    member_close(&a[1]);
    member_close(&b[0]);
    return rc;
}

/* Static membership (KIP-345) with librdkafka: a static member that goes
 * away without leaving and comes back with the same group.instance.id
 * before its session ends takes its partitions back without a rebalance. */
static int test_static_member(void) {
    char topic[128], group[128], a[64], b[64];
    struct member ms[2];
    struct described d;
    int rc = -1;

    unique_name(topic, sizeof topic, "static");
    unique_name(group, sizeof group, "static");
    member_init(&ms[0], "dynamic");
    member_init(&ms[1], "static");
    snprintf(ms[1].instance_id, sizeof ms[1].instance_id, "itest-instance-%d", (int)getpid());
    rd_kafka_resp_err_t err = create_topic(topic, NPART);
    REQUIRE(!err, "create topic %s with %d partitions (%s)", topic, NPART, rd_kafka_err2name(err));
    /* the dynamic member first, so that it leads: a leader coming back
     * makes Kafka rebalance anyway, to compute the assignment again */
    REQUIRE(!member_start(&ms[0], group, "roundrobin", topic), "a dynamic member subscribes");
    REQUIRE(wait_balanced(ms, 1, NPART, NPART, TIMEOUT_MS), "it holds all %d partitions", NPART);
    REQUIRE(!member_start(&ms[1], group, "roundrobin", topic), "a static member (group.instance.id %s) subscribes",
            ms[1].instance_id);
    REQUIRE(wait_balanced(ms, 2, NPART, NPART / 2, TIMEOUT_MS), "they hold 3 partitions each");
    fmt_owned(ms[1].owned, a, sizeof a);
    describe_group(group, topic, &d);
    int found = 0;
    for (int k = 0; k < d.n_members; k++)
        found += !strncmp(d.client_id[k], "itest-static", 12);
    CHECK(!d.err && d.n_members == 2 && found == 1, "DescribeConsumerGroups lists the 2 members (%s)",
          rd_kafka_err2name(d.err));
    int before = ms[0].callbacks;

    /* librdkafka does not send LeaveGroup for a static member */
    int64_t t_close = mono_ms();
    member_close(&ms[1]);
    memset(ms[1].owned, 0, sizeof ms[1].owned);
    ms[1].n_owned = 0;
    ms[1].had_some = 0;
    describe_group(group, topic, &d);
    CHECK(!d.err && d.state == RD_KAFKA_CONSUMER_GROUP_STATE_STABLE && d.n_members == 2,
          "the static member closed without leaving: still 2 members, Stable (%s, %d members)",
          rd_kafka_consumer_group_state_name(d.state), d.n_members);
    REQUIRE(!member_start(&ms[1], group, "roundrobin", topic), "a new incarnation with the same group.instance.id");
    int64_t deadline = mono_ms() + TIMEOUT_MS;
    while (ms[1].n_owned == 0 && mono_ms() < deadline)
        poll_members(ms, 2, 20);
    fmt_owned(ms[1].owned, b, sizeof b);
    printf("  the new incarnation holds %s %" PRId64 " ms after the old one closed\n", b, mono_ms() - t_close);
    CHECK(!strcmp(a, b), "it gets the same partitions back (%s, before %s)", b, a);
    CHECK(ms[0].callbacks == before && ms[0].n_owned == NPART / 2,
          "the dynamic member saw no rebalance: no revoke or assign, still 3 partitions (%d callbacks)",
          ms[0].callbacks - before);
    rc = 0;
out:
    member_close(&ms[0]);
    member_close(&ms[1]);
    return rc;
}

/* The time a 3-member group takes to form: from the first JoinGroup any of
 * them sends to the last of the three holding its 2 partitions. */
static int test_rebalance_time(void) {
    char topic[128], group[128];
    struct member ms[NMEMB];
    int rc = -1;

    unique_name(topic, sizeof topic, "rt");
    unique_name(group, sizeof group, "rebalance-time");
    for (int i = 0; i < NMEMB; i++) {
        char name[32];
        snprintf(name, sizeof name, "rt-%d", i);
        member_init(&ms[i], name);
    }
    rd_kafka_resp_err_t err = create_topic(topic, NPART);
    REQUIRE(!err, "create topic %s with %d partitions (%s)", topic, NPART, rd_kafka_err2name(err));
    reset_wire_counts();
    int64_t t_sub = mono_ms();
    for (int i = 0; i < NMEMB; i++)
        REQUIRE(member_start(&ms[i], group, "roundrobin", topic) == 0, "%s subscribes", ms[i].name);
    int ok = wait_balanced(ms, NMEMB, NPART, 2, TIMEOUT_MS);
    int64_t t_done = 0;
    for (int i = 0; i < NMEMB; i++)
        if (ms[i].t_assigned > t_done)
            t_done = ms[i].t_assigned;
    int64_t t_join = __atomic_load_n(&first_join_ms, __ATOMIC_SEQ_CST);
    REQUIRE(ok && t_join > 0, "3 members subscribed at once end with 2 partitions each");
    printf("MEASURED rebalance: 3 librdkafka members (roundrobin, heartbeat.interval.ms=%s, session.timeout.ms=%s) "
           "formed a group in %" PRId64 " ms from the first JoinGroup sent to the last member assigned "
           "(%" PRId64 " ms from the first subscribe); %d JoinGroup and %d SyncGroup requests; broker %s\n",
           HEARTBEAT_MS, SESSION_TIMEOUT_MS, t_done - t_join, t_done - t_sub,
           __atomic_load_n(&n_join_requests, __ATOMIC_SEQ_CST), __atomic_load_n(&n_sync_requests, __ATOMIC_SEQ_CST),
           props);
    /* the time is MEASURED, not bounded (timing belongs in bench/):
     * wait_balanced's TIMEOUT_MS is the hang guard */
    if (initial_delay_ms >= 500) {
        /* three subscribes within milliseconds of each other all fall in
         * the initial delay: one generation, one SyncGroup each */
        int syncs = __atomic_load_n(&n_sync_requests, __ATOMIC_SEQ_CST);
        CHECK(syncs == NMEMB, "with group.initial.rebalance.delay.ms=%" PRId64 " the three joined one generation: "
              "%d SyncGroup requests (got %d)", initial_delay_ms, NMEMB, syncs);
    }
    rc = 0;
out:
    for (int i = 0; i < NMEMB; i++)
        member_close(&ms[i]);
    return rc;
}

int main(int argc, char **argv) {
    struct {
        const char *name;
        int (*fn)(void);
    } tests[] = {
        {"assignors", test_assignors},
        {"two_groups", test_two_groups},
        {"static_member", test_static_member},
        {"rebalance_time", test_rebalance_time},
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
    for (int i = 1; i < argc; i++) {
        const char *d = "group.initial.rebalance.delay.ms=";
        if (!strncmp(argv[i], d, strlen(d)))
            initial_delay_ms = atoll(argv[i] + strlen(d));
        size_t o = strlen(props);
        snprintf(props + o, sizeof props - o, "%s%s", o ? " " : "", argv[i]);
    }
    printf("librdkafka %s against %s (broker %s)\n", rd_kafka_version_str(), bootstrap, props);

    admin = rd_kafka_new(RD_KAFKA_PRODUCER, base_conf("samsa-itest-groups-admin"), err, sizeof err);
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
        int rc = tests[i].fn();
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
