/* samsa-bench.c: the load generator behind bench/run.sh.
 *
 * Produces and consumes with librdkafka against any Kafka-protocol broker
 * (-b host:port), or against librdkafka's in-memory mock cluster: --mock
 * starts one inside this process, `serve-mock` runs one in a process of its
 * own so that run.sh can measure it (CPU, RSS) exactly as it measures
 * samsa-broker.
 *
 * Options are read left to right and every phase word runs with the options
 * given before it, so one invocation can run several phases:
 *
 *   samsa-bench --mock -n 1000000 -a 1 -t t1 produce -a -1 -t t2 produce -t t1 consume
 *
 * Each phase prints one JSON line (starts with '{') and one human line
 * (starts with '#') to stdout. Produce latency is the time from
 * rd_kafka_produce() to the delivery report, kept in a log-linear histogram
 * (exact below 128 us, then 128 buckets per power of two: under 1% error).
 * With --server-pid, the server's CPU time (utime+stime from /proc/PID/stat)
 * and RSS are sampled around each phase; with --mock the mock cluster's
 * thread ("rdk:mock") is sampled instead, and its CPU is taken out of the
 * client's. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define BENCH_MAX_PROPS 64
#define BENCH_POOL_BYTES (1u << 20)

/* ---- options --------------------------------------------------------------- */

typedef struct bench_opts {
    const char *brokers;     /* -b */
    const char *label;       /* --label: the target's name in the output */
    const char *topic;       /* -t */
    const char *compression; /* -z */
    int64_t count;           /* -n */
    size_t size;             /* -s */
    int partitions;          /* -p */
    int acks;                /* -a */
    bool keyed;              /* -k: a distinct key per message */
    bool create;             /* create the topic before producing */
    bool verify;             /* consume: check value sizes and offset gaps */
    bool wrap;               /* consume: at a partition's end, read it again */
    int linger_ms;
    int batch_msgs;
    int batch_bytes;
    int enqueue_batch;       /* messages per rd_kafka_produce_batch() call */
    int consumers;           /* consumer instances, each in its own thread */
    int64_t rate;            /* msgs/s, 0 = as fast as possible */
    int timeout_s;           /* a phase that makes no progress this long fails */
    pid_t server_pid;        /* --server-pid */
    int n_props;
    const char *props[BENCH_MAX_PROPS]; /* -X key=value, applied last */
} bench_opts;

static void bench_opts_init(bench_opts *o)
{
    memset(o, 0, sizeof *o);
    o->label = "broker";
    o->topic = "samsa-bench";
    o->compression = "none";
    o->count = 1000000;
    o->size = 100;
    o->partitions = 4;
    o->acks = 1;
    o->create = true;
    o->verify = true;
    o->linger_ms = 5;
    o->batch_msgs = 10000;
    o->batch_bytes = 1000000;
    o->enqueue_batch = 1000;
    o->consumers = 1;
    o->timeout_s = 30;
}

/* ---- time, CPU and memory ---------------------------------------------------- */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double wall_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* utime and stime, in seconds, from a /proc/.../stat file. */
static bool read_stat_cpu(const char *path, double *user, double *sys)
{
    char buf[1024];
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* comm may hold spaces and parentheses: fields start after the last ')' */
    const char *p = strrchr(buf, ')');
    unsigned long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return false;
    double tck = (double)sysconf(_SC_CLK_TCK);
    *user = (double)ut / tck;
    *sys = (double)st / tck;
    return true;
}

/* VmRSS and VmHWM in kB, from /proc/PID/status. */
static bool read_status_rss(pid_t pid, long *rss_kb, long *hwm_kb)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    *rss_kb = *hwm_kb = -1;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "VmRSS:", 6))
            *rss_kb = strtol(line + 6, NULL, 10);
        else if (!strncmp(line, "VmHWM:", 6))
            *hwm_kb = strtol(line + 6, NULL, 10);
    }
    fclose(f);
    return *rss_kb >= 0;
}

/* The CPU time of this process's threads named `comm` (the mock cluster). */
static bool read_threads_cpu(const char *comm, double *user, double *sys)
{
    DIR *d = opendir("/proc/self/task");
    bool found = false;
    *user = *sys = 0;
    if (!d)
        return false;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], name[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(name, sizeof name, f))
            name[strcspn(name, "\n")] = '\0';
        fclose(f);
        if (strcmp(name, comm))
            continue;
        double u, s;
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        if (read_stat_cpu(path, &u, &s)) {
            *user += u;
            *sys += s;
            found = true;
        }
    }
    closedir(d);
    return found;
}

/* What a phase costs: this process, and the server (or the in-process mock). */
typedef struct bench_cost {
    double self_user, self_sys;
    bool server_ok;
    double server_user, server_sys; /* clock ticks: 10 ms resolution */
    double server_cpu;              /* the process CPU clock, ns resolution; -1 if none */
    long server_rss_kb, server_hwm_kb;
} bench_cost;

static bool g_in_process_mock;

static void bench_cost_sample(bench_cost *c, pid_t server_pid)
{
    struct rusage ru;
    memset(c, 0, sizeof *c);
    getrusage(RUSAGE_SELF, &ru);
    c->self_user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    c->self_sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    c->server_rss_kb = c->server_hwm_kb = -1;
    c->server_cpu = -1;
    if (server_pid > 0) {
        char path[64];
        clockid_t cid;
        struct timespec ts;
        if (clock_getcpuclockid(server_pid, &cid) == 0 && clock_gettime(cid, &ts) == 0)
            c->server_cpu = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
        snprintf(path, sizeof path, "/proc/%d/stat", (int)server_pid);
        c->server_ok = read_stat_cpu(path, &c->server_user, &c->server_sys);
        read_status_rss(server_pid, &c->server_rss_kb, &c->server_hwm_kb);
    } else if (g_in_process_mock) {
        c->server_ok = read_threads_cpu("rdk:mock", &c->server_user, &c->server_sys);
    }
}

/* ---- latency histogram --------------------------------------------------------- */

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_N ((size_t)HIST_SUB * 58) /* covers every uint64_t */

typedef struct bench_hist {
    uint64_t n, max, sum;
    uint64_t b[HIST_N];
} bench_hist;

static size_t hist_index(uint64_t v)
{
    if (v < HIST_SUB)
        return (size_t)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - (int)HIST_SUB_BITS;
    return (size_t)(shift + 1) * HIST_SUB + (size_t)((v >> shift) - HIST_SUB);
}

/* The middle of bucket i. */
static uint64_t hist_value(size_t i)
{
    if (i < HIST_SUB)
        return i;
    unsigned shift = (unsigned)(i / HIST_SUB) - 1;
    uint64_t sub = (uint64_t)(i % HIST_SUB) + HIST_SUB;
    return (sub << shift) + ((1ull << shift) >> 1);
}

static void hist_add(bench_hist *h, uint64_t v)
{
    h->b[hist_index(v)]++;
    h->n++;
    h->sum += v;
    if (v > h->max)
        h->max = v;
}

static uint64_t hist_pct(const bench_hist *h, double p)
{
    if (!h->n)
        return 0;
    uint64_t rank = (uint64_t)(p * (double)h->n);
    if ((double)rank < p * (double)h->n)
        rank++;
    if (rank < 1)
        rank = 1;
    uint64_t c = 0;
    for (size_t i = 0; i < HIST_N; i++) {
        c += h->b[i];
        if (c >= rank) {
            uint64_t v = hist_value(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

/* ---- common librdkafka set-up ----------------------------------------------------- */

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[512];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "samsa-bench: %s=%s: %s\n", k, v, err);
        return -1;
    }
    return 0;
}

static int conf_set_int(rd_kafka_conf_t *conf, const char *k, int64_t v)
{
    char s[32];
    snprintf(s, sizeof s, "%" PRId64, v);
    return conf_set(conf, k, s);
}

static int conf_apply_props(rd_kafka_conf_t *conf, const bench_opts *o)
{
    for (int i = 0; i < o->n_props; i++) {
        char k[256];
        const char *eq = strchr(o->props[i], '=');
        if (!eq || (size_t)(eq - o->props[i]) >= sizeof k) {
            fprintf(stderr, "samsa-bench: -X wants key=value, got '%s'\n", o->props[i]);
            return -1;
        }
        memcpy(k, o->props[i], (size_t)(eq - o->props[i]));
        k[eq - o->props[i]] = '\0';
        if (conf_set(conf, k, eq + 1))
            return -1;
    }
    return 0;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    fprintf(stderr, "samsa-bench: rdkafka %d %s: %s\n", level, fac, buf);
}

static rd_kafka_conf_t *conf_base(const bench_opts *o)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (conf_set(conf, "bootstrap.servers", o->brokers) ||
        conf_set(conf, "client.id", "samsa-bench")) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

/* The partition count of o->topic once every partition has a leader, or -1. */
static int wait_topic(rd_kafka_t *rk, const bench_opts *o)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    int64_t deadline = now_us() + (int64_t)o->timeout_s * 1000000;
    int cnt = -1;
    const char *why = "no answer";
    while (now_us() < deadline) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
        if (err) {
            why = rd_kafka_err2str(err);
        } else if (md->topic_cnt != 1 || md->topics[0].err) {
            why = md->topic_cnt ? rd_kafka_err2str(md->topics[0].err) : "topic missing";
        } else {
            const struct rd_kafka_metadata_topic *t = &md->topics[0];
            bool led = t->partition_cnt > 0;
            for (int i = 0; i < t->partition_cnt; i++)
                if (t->partitions[i].err || t->partitions[i].leader < 0)
                    led = false;
            if (led)
                cnt = t->partition_cnt;
            else
                why = "partitions without a leader";
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        if (cnt > 0)
            break;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    rd_kafka_topic_destroy(rkt);
    if (cnt < 0)
        fprintf(stderr, "samsa-bench: topic '%s' not ready: %s\n", o->topic, why);
    return cnt;
}

/* Creates o->topic with the admin API; an existing topic is fine. A broker
 * without CreateTopics is not fatal: auto-creation may still make it. */
static void create_topic(rd_kafka_t *rk, const bench_opts *o)
{
    char err[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(o->topic, o->partitions, 1, err, sizeof err);
    if (!nt) {
        fprintf(stderr, "samsa-bench: NewTopic: %s\n", err);
        return;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(ao, 10000, err, sizeof err);
    rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, (o->timeout_s + 5) * 1000);
    if (!ev) {
        fprintf(stderr, "samsa-bench: CreateTopics '%s': no answer\n", o->topic);
    } else if (rd_kafka_event_error(ev)) {
        fprintf(stderr, "samsa-bench: CreateTopics '%s': %s (relying on auto-creation)\n",
                o->topic, rd_kafka_event_error_string(ev));
    } else {
        size_t n = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        for (size_t i = 0; i < n; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
            if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                fprintf(stderr, "samsa-bench: CreateTopics '%s': %s (relying on auto-creation)\n",
                        o->topic, rd_kafka_err2str(e));
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
}

/* ---- results ----------------------------------------------------------------------- */

typedef struct bench_result {
    const char *phase;
    int partitions;
    int64_t msgs, bytes, errors, gaps, wraps;
    double elapsed_s;
    bool has_latency;
    uint64_t p50, p99, p999, lmax;
    double lmean;
    bench_cost c0, c1;
} bench_result;

static void print_result(const bench_opts *o, const bench_result *r)
{
    double mps = r->elapsed_s > 0 ? (double)r->msgs / r->elapsed_s : 0;
    double mbps = r->elapsed_s > 0 ? (double)r->bytes / r->elapsed_s / 1e6 : 0;
    double cu = r->c1.self_user - r->c0.self_user, cs = r->c1.self_sys - r->c0.self_sys;
    double su = -1, ss = -1, st = -1;
    bool srv = r->c0.server_ok && r->c1.server_ok;
    if (srv) {
        su = r->c1.server_user - r->c0.server_user;
        ss = r->c1.server_sys - r->c0.server_sys;
        st = r->c0.server_cpu >= 0 && r->c1.server_cpu >= 0 ? r->c1.server_cpu - r->c0.server_cpu
                                                              : su + ss;
        if (g_in_process_mock) { /* the mock's thread is part of this process */
            cu -= su;
            cs -= ss;
        }
    }
    printf("{\"phase\":\"%s\",\"target\":\"%s\",\"time\":%.3f,\"msgs\":%" PRId64
           ",\"value_bytes\":%zu,\"bytes\":%" PRId64 ",\"partitions\":%d,\"acks\":%d"
           ",\"keyed\":%s,\"compression\":\"%s\",\"consumers\":%d,\"elapsed_s\":%.6f"
           ",\"msgs_per_s\":%.0f"
           ",\"mb_per_s\":%.2f,\"errors\":%" PRId64,
           r->phase, o->label, wall_clock(), r->msgs, o->size, r->bytes, r->partitions,
           o->acks, o->keyed ? "true" : "false", o->compression, o->consumers, r->elapsed_s, mps,
           mbps,
           r->errors);
    if (r->has_latency)
        printf(",\"lat_p50_us\":%" PRIu64 ",\"lat_p99_us\":%" PRIu64 ",\"lat_p999_us\":%" PRIu64
               ",\"lat_max_us\":%" PRIu64 ",\"lat_mean_us\":%.0f",
               r->p50, r->p99, r->p999, r->lmax, r->lmean);
    else
        printf(",\"gaps\":%" PRId64 ",\"wraps\":%" PRId64, r->gaps, r->wraps);
    printf(",\"client_cpu_user_s\":%.3f,\"client_cpu_sys_s\":%.3f", cu, cs);
    if (srv)
        printf(",\"server_cpu_s\":%.4f,\"server_cpu_user_s\":%.2f,\"server_cpu_sys_s\":%.2f"
               ",\"server_cpu_s_per_million\":%.4f",
               st, su, ss, r->msgs ? st * 1e6 / (double)r->msgs : 0.0);
    if (r->c1.server_rss_kb >= 0)
        printf(",\"server_rss_kb\":%ld,\"server_hwm_kb\":%ld", r->c1.server_rss_kb,
               r->c1.server_hwm_kb);
    printf("}\n");

    printf("# %-7s %-8s %9" PRId64 " msgs x %zu B in %.3f s: %10.0f msgs/s %8.2f MB/s", o->label,
           r->phase, r->msgs, o->size, r->elapsed_s, mps, mbps);
    if (r->has_latency)
        printf("  acks=%d latency p50 %.2f ms p99 %.2f ms max %.2f ms", o->acks,
               (double)r->p50 / 1e3, (double)r->p99 / 1e3, (double)r->lmax / 1e3);
    printf("  client cpu %.2f s", cu + cs);
    if (srv)
        printf("  server cpu %.3f s (%.2f user %.2f sys)", st, su, ss);
    if (r->errors || r->gaps)
        printf("  ERRORS %" PRId64 " GAPS %" PRId64, r->errors, r->gaps);
    printf("\n");
    fflush(stdout);
}

/* ---- produce ------------------------------------------------------------------------- */

typedef struct produce_state {
    bench_hist hist;
    int64_t delivered, errors;
    int64_t last_dr_us;
    rd_kafka_resp_err_t first_err;
} produce_state;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    produce_state *st = opaque;
    if (m->err) {
        if (!st->errors)
            st->first_err = m->err;
        st->errors++;
    } else {
        int64_t lat = rd_kafka_message_latency(m);
        hist_add(&st->hist, lat < 0 ? 0 : (uint64_t)lat);
    }
    st->delivered++;
    st->last_dr_us = now_us();
}

/* Random capital letters, as Kafka's own perf tool sends; each message
 * points at its own place in the pool, so batches are not all alike. */
static char *make_pool(size_t size)
{
    size_t len = BENCH_POOL_BYTES + size;
    char *p = malloc(len);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    if (!p)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (char)('A' + (x % 26));
    }
    return p;
}

static int phase_produce(const bench_opts *o)
{
    char err[512];
    int rc = 1;
    produce_state *st = calloc(1, sizeof *st);
    char *pool = make_pool(o->size);
    rd_kafka_conf_t *conf = conf_base(o);
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_t *rkt = NULL;
    rd_kafka_message_t *batch = calloc((size_t)o->enqueue_batch, sizeof *batch);
    char *keys = calloc((size_t)o->enqueue_batch, 24);
    uint64_t chunk = 0;
    if (!st || !pool || !conf || !batch || !keys)
        goto done;
    rd_kafka_conf_set_opaque(conf, st);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    /* Throughput settings: big batches, a queue deep enough never to starve
     * the broker connection, and one request in flight per partition is
     * never the limit (librdkafka pipelines up to max.in.flight). */
    if (conf_set_int(conf, "acks", o->acks) ||
        conf_set(conf, "compression.codec", o->compression) ||
        conf_set_int(conf, "linger.ms", o->linger_ms) ||
        conf_set_int(conf, "batch.num.messages", o->batch_msgs) ||
        conf_set_int(conf, "batch.size", o->batch_bytes) ||
        conf_set_int(conf, "queue.buffering.max.messages", 100000) ||
        conf_set_int(conf, "queue.buffering.max.kbytes", 1048576) ||
        conf_set_int(conf, "message.timeout.ms", (int64_t)o->timeout_s * 1000 * 4) ||
        conf_apply_props(conf, o))
        goto done;
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "samsa-bench: producer: %s\n", err);
        goto done;
    }
    conf = NULL;
    if (o->create)
        create_topic(rk, o);
    int parts = wait_topic(rk, o);
    if (parts < 0)
        goto done;
    if (parts != o->partitions)
        fprintf(stderr, "samsa-bench: topic '%s' has %d partitions, not %d\n", o->topic, parts,
                o->partitions);
    rkt = rd_kafka_topic_new(rk, o->topic, NULL);

    bench_result r = {.phase = "produce", .partitions = parts, .has_latency = true};
    bench_cost_sample(&r.c0, o->server_pid);
    int64_t t0 = now_us();
    int64_t last_progress = t0;
    /* Messages go in with rd_kafka_produce_batch, o->enqueue_batch at a time:
     * without keys, each chunk to one partition in turn (what a sticky
     * partitioner does, at a fraction of the client's CPU); with keys, the
     * partitioner places every message by its key. No copy: the pool and the
     * key buffer outlive the call (librdkafka copies keys). */
    int eb = o->enqueue_batch;
    if (o->rate > 0 && o->rate / 1000 < eb) /* paced: 1 ms worth of messages at a time */
        eb = o->rate / 1000 > 0 ? (int)(o->rate / 1000) : 1;
    for (int64_t i = 0; i < o->count;) {
        int n = (int)(o->count - i < eb ? o->count - i : eb);
        if (o->rate > 0) {
            int64_t due = t0 + i * 1000000 / o->rate, left;
            while ((left = due - now_us()) > 0) {
                rd_kafka_poll(rk, 0);
                struct timespec ts = {0, (long)(left < 1000 ? left : 1000) * 1000};
                nanosleep(&ts, NULL);
            }
        }
        for (int j = 0; j < n; j++) {
            uint64_t seq = (uint64_t)(i + j);
            rd_kafka_message_t *m = &batch[j];
            memset(m, 0, sizeof *m);
            m->payload = pool + (size_t)(seq * 7919u % BENCH_POOL_BYTES);
            m->len = o->size;
            if (o->keyed) {
                m->key = keys + (size_t)j * 24;
                m->key_len = (size_t)snprintf(m->key, 24, "k%016" PRIx64, seq);
            }
        }
        int32_t part = o->keyed ? RD_KAFKA_PARTITION_UA : (int32_t)(chunk++ % (uint64_t)parts);
        int ok = rd_kafka_produce_batch(rkt, part, 0, batch, n);
        /* A full queue refuses the rest of a chunk: wait for deliveries and
         * enqueue what was refused, one by one, in order. */
        for (int j = ok < n ? 0 : n; j < n; j++) {
            if (!batch[j].err)
                continue;
            while (rd_kafka_produce(rkt, part, 0, batch[j].payload, batch[j].len, batch[j].key,
                                    batch[j].key_len, NULL) == -1) {
                rd_kafka_resp_err_t e = rd_kafka_last_error();
                if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                    fprintf(stderr, "samsa-bench: produce: %s\n", rd_kafka_err2str(e));
                    goto done;
                }
                int64_t before = st->delivered;
                rd_kafka_poll(rk, 1);
                if (st->delivered != before)
                    last_progress = now_us();
                else if (now_us() - last_progress > (int64_t)o->timeout_s * 1000000) {
                    fprintf(stderr, "samsa-bench: produce: no delivery for %d s\n", o->timeout_s);
                    goto done;
                }
            }
        }
        i += n;
        rd_kafka_poll(rk, 0);
    }
    while (st->delivered < o->count) {
        int64_t before = st->delivered;
        rd_kafka_flush(rk, 1000);
        if (st->delivered != before)
            last_progress = now_us();
        else if (now_us() - last_progress > (int64_t)o->timeout_s * 1000000) {
            fprintf(stderr, "samsa-bench: produce: %" PRId64 " of %" PRId64
                    " delivered, none for %d s\n", st->delivered, o->count, o->timeout_s);
            goto done;
        }
    }
    bench_cost_sample(&r.c1, o->server_pid);
    r.elapsed_s = (double)(st->last_dr_us - t0) / 1e6;
    r.msgs = o->count - st->errors;
    r.bytes = r.msgs * (int64_t)o->size;
    r.errors = st->errors;
    r.p50 = hist_pct(&st->hist, 0.50);
    r.p99 = hist_pct(&st->hist, 0.99);
    r.p999 = hist_pct(&st->hist, 0.999);
    r.lmax = st->hist.max;
    r.lmean = st->hist.n ? (double)st->hist.sum / (double)st->hist.n : 0;
    if (st->errors)
        fprintf(stderr, "samsa-bench: %" PRId64 " messages failed, the first with: %s\n",
                st->errors, rd_kafka_err2str(st->first_err));
    print_result(o, &r);
    rc = st->errors ? 1 : 0;
done:
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    if (rk)
        rd_kafka_destroy(rk);
    if (conf)
        rd_kafka_conf_destroy(conf);
    free(pool);
    free(st);
    free(batch);
    free(keys);
    return rc;
}

/* ---- consume ------------------------------------------------------------------------- */

/* One consumer instance: its own rd_kafka_t, so its own connection and
 * librdkafka broker thread (where fetch responses are parsed), reading the
 * partitions p with p % n == idx. Several of them use both cores. */
typedef struct consume_worker {
    const bench_opts *o;
    int idx, n, parts;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    rd_kafka_queue_t *q;
    _Atomic int64_t *total; /* messages taken by all workers together */
    _Atomic bool *failed;
    int64_t msgs, bytes, errors, gaps, wraps;
    int64_t t_end; /* when this worker's batch took the total to o->count */
} consume_worker;

static void *consume_run(void *arg)
{
    enum { BATCH = 8192 };
    consume_worker *w = arg;
    const bench_opts *o = w->o;
    rd_kafka_message_t **msgs = malloc(BATCH * sizeof *msgs);
    int64_t *next = malloc((size_t)w->parts * sizeof *next);
    int started = 0;
    if (!msgs || !next) {
        atomic_store(w->failed, true);
        goto done;
    }
    /* The per-partition API needs no group.id and no coordinator. */
    for (int p = w->idx; p < w->parts; p += w->n) {
        next[p] = -1;
        if (rd_kafka_consume_start_queue(w->rkt, p, RD_KAFKA_OFFSET_BEGINNING, w->q) == -1) {
            fprintf(stderr, "samsa-bench: consume_start %d: %s\n", p,
                    rd_kafka_err2str(rd_kafka_last_error()));
            atomic_store(w->failed, true);
            goto done;
        }
        started = p + 1;
    }
    int64_t last_progress = now_us();
    while (atomic_load(w->total) < o->count && !atomic_load(w->failed)) {
        ssize_t n = rd_kafka_consume_batch_queue(w->q, 100, msgs, BATCH);
        if (n < 0) {
            fprintf(stderr, "samsa-bench: consume: %s\n",
                    rd_kafka_err2str(rd_kafka_last_error()));
            atomic_store(w->failed, true);
            break;
        }
        int64_t ok = 0;
        for (ssize_t i = 0; i < n; i++)
            ok += !msgs[i]->err;
        /* Take messages from the shared count; past o->count they are not counted. */
        int64_t prev = ok ? atomic_fetch_add(w->total, ok) : 0;
        int64_t take = prev >= o->count ? 0 : (o->count - prev < ok ? o->count - prev : ok);
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = msgs[i];
            bool mine = m->partition >= 0 && m->partition < w->parts;
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                /* --wrap: the mock cluster keeps only the last 5 MB of each
                 * partition, so read what it has again */
                if (mine) {
                    next[m->partition] = -1;
                    rd_kafka_seek(w->rkt, m->partition, RD_KAFKA_OFFSET_BEGINNING, 0);
                    w->wraps++;
                }
            } else if (m->err) {
                if (!w->errors)
                    fprintf(stderr, "samsa-bench: consume [%d]: %s\n", m->partition,
                            rd_kafka_message_errstr(m));
                w->errors++;
            } else if (take > 0) {
                take--;
                w->msgs++;
                w->bytes += (int64_t)m->len;
                if (o->verify) {
                    if (m->len != o->size)
                        w->errors++;
                    if (mine) {
                        if (next[m->partition] >= 0 && m->offset != next[m->partition])
                            w->gaps++;
                        next[m->partition] = m->offset + 1;
                    }
                }
            }
            rd_kafka_message_destroy(m);
        }
        int64_t t = now_us();
        if (ok) {
            last_progress = t;
            if (prev < o->count && prev + ok >= o->count)
                w->t_end = t;
        } else if (t - last_progress > (int64_t)o->timeout_s * 1000000) {
            fprintf(stderr, "samsa-bench: consume: %" PRId64 " of %" PRId64
                    " messages, none for %d s\n", atomic_load(w->total), o->count, o->timeout_s);
            atomic_store(w->failed, true);
        }
    }
done:
    for (int p = w->idx; p < started; p += w->n)
        rd_kafka_consume_stop(w->rkt, p);
    free(next);
    free(msgs);
    return NULL;
}

static rd_kafka_t *consumer_new(const bench_opts *o)
{
    char err[512];
    rd_kafka_conf_t *conf = conf_base(o);
    if (!conf)
        return NULL;
    /* Throughput settings: large fetches, a deep prefetch queue, and a
     * short max wait so the tail of the run is not spent in long polls. */
    if (conf_set(conf, "fetch.wait.max.ms", "100") ||
        conf_set(conf, "fetch.min.bytes", "1") ||
        conf_set(conf, "fetch.max.bytes", "52428800") ||
        conf_set(conf, "max.partition.fetch.bytes", "4194304") ||
        conf_set(conf, "fetch.message.max.bytes", "4194304") ||
        conf_set(conf, "queued.min.messages", "1000000") ||
        conf_set(conf, "queued.max.messages.kbytes", "1048576") ||
        conf_set(conf, "enable.partition.eof", o->wrap ? "true" : "false") ||
        conf_set(conf, "check.crcs", "false") ||
        conf_apply_props(conf, o)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "samsa-bench: consumer: %s\n", err);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

static int phase_consume(const bench_opts *o)
{
    int rc = 1, nw = o->consumers, made = 0;
    _Atomic int64_t total = 0;
    _Atomic bool failed = false;
    consume_worker *w = calloc((size_t)nw, sizeof *w);
    pthread_t *th = calloc((size_t)nw, sizeof *th);
    int parts = -1, running = 0;
    if (!w || !th)
        goto done;
    /* Everything up to a known leader for every partition happens before the clock starts. */
    for (; made < nw; made++) {
        consume_worker *c = &w[made];
        c->o = o;
        c->idx = made;
        c->n = nw;
        c->total = &total;
        c->failed = &failed;
        if (!(c->rk = consumer_new(o)))
            goto done;
        c->parts = wait_topic(c->rk, o);
        if (c->parts < 0)
            goto done;
        if (parts >= 0 && c->parts != parts) {
            fprintf(stderr, "samsa-bench: the partition count changed under us\n");
            goto done;
        }
        parts = c->parts;
        c->rkt = rd_kafka_topic_new(c->rk, o->topic, NULL);
        c->q = rd_kafka_queue_new(c->rk);
    }

    bench_result r = {.phase = "consume", .partitions = parts};
    bench_cost_sample(&r.c0, o->server_pid);
    int64_t t0 = now_us(), t_end = 0;
    for (; running < nw; running++)
        if (pthread_create(&th[running], NULL, consume_run, &w[running])) {
            atomic_store(&failed, true);
            break;
        }
    for (int i = 0; i < running; i++)
        pthread_join(th[i], NULL);
    bench_cost_sample(&r.c1, o->server_pid);
    for (int i = 0; i < running; i++) {
        r.msgs += w[i].msgs;
        r.bytes += w[i].bytes;
        r.errors += w[i].errors;
        r.gaps += w[i].gaps;
        r.wraps += w[i].wraps;
        if (w[i].t_end > t_end)
            t_end = w[i].t_end;
    }
    if (atomic_load(&failed) || r.msgs < o->count)
        goto done;
    r.elapsed_s = (double)(t_end - t0) / 1e6;
    print_result(o, &r);
    rc = (r.errors || r.gaps) ? 1 : 0;
done:
    for (int i = 0; w && i < nw; i++) {
        if (w[i].q)
            rd_kafka_queue_destroy(w[i].q);
        if (w[i].rkt)
            rd_kafka_topic_destroy(w[i].rkt);
        if (w[i].rk)
            rd_kafka_destroy(w[i].rk);
    }
    free(w);
    free(th);
    return rc;
}

/* ---- mock cluster ---------------------------------------------------------------------- */

/* A mock cluster of one broker, owned by a producer handle that never
 * produces. Topics are created on the mock directly. */
static rd_kafka_mock_cluster_t *mock_start(rd_kafka_t **rkp)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    conf_set(conf, "log_level", "4"); /* not the notice about no bootstrap.servers */
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "samsa-bench: mock handle: %s\n", err);
        return NULL;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
    if (!mc) {
        fprintf(stderr, "samsa-bench: rd_kafka_mock_cluster_new failed\n");
        rd_kafka_destroy(rk);
        return NULL;
    }
    *rkp = rk;
    return mc;
}

static int mock_topic(rd_kafka_mock_cluster_t *mc, const char *topic, int partitions)
{
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, topic, partitions, 1);
    if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        fprintf(stderr, "samsa-bench: mock topic '%s': %s\n", topic, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

/* serve-mock: a mock cluster in this process until SIGTERM or SIGINT. */
static int serve_mock(const bench_opts *o, const char *topics)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* librdkafka's threads inherit it */
    int64_t t0 = now_us();
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *mc = mock_start(&rk);
    if (!mc)
        return 1;
    char *list = strdup(topics ? topics : o->topic);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (mock_topic(mc, t, o->partitions)) {
            free(list);
            rd_kafka_mock_cluster_destroy(mc);
            rd_kafka_destroy(rk);
            return 1;
        }
    free(list);
    printf("mock cluster started in %.1f ms: listening on %s\n",
           (double)(now_us() - t0) / 1e3, rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}

/* ---- startup ---------------------------------------------------------------------------- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static bool try_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    if (n <= 0)
        return -1;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* startup: runs argv (with "{port}" replaced by a free port) `runs` times
 * and reports the median time from fork+exec to the first TCP connect the
 * kernel accepts on that port, the median start-up time the process itself
 * logs ("started in X ms"), and its RSS once ready. Without "{port}" in the
 * command, readiness is the log line saying "listening on HOST:PORT". */
static int phase_startup(const bench_opts *o, int runs, char **argv)
{
    double *conn_ms = calloc((size_t)runs, sizeof(double));
    double *line_ms = calloc((size_t)runs, sizeof(double));
    double *self_ms = calloc((size_t)runs, sizeof(double));
    double *rss = calloc((size_t)runs, sizeof(double));
    int n_conn = 0, n_line = 0, n_self = 0, n_rss = 0, rc = 1;
    int argc = 0;
    while (argv[argc])
        argc++;
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!conn_ms || !line_ms || !self_ms || !rss || !args || argc == 0)
        goto done;
    for (int run = 0; run < runs; run++) {
        int port = free_port();
        bool probe = false;
        for (int i = 0; i < argc; i++) {
            const char *ph = strstr(argv[i], "{port}");
            free(args[i]);
            if (ph) {
                probe = true;
                size_t need = strlen(argv[i]) + 8;
                args[i] = malloc(need);
                if (!args[i])
                    goto done;
                snprintf(args[i], need, "%.*s%d%s", (int)(ph - argv[i]), argv[i], port, ph + 6);
            } else {
                args[i] = strdup(argv[i]);
            }
        }
        int pfd[2];
        if (pipe(pfd))
            goto done;
        int64_t t0 = now_us();
        pid_t pid = fork();
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            dup2(pfd[1], 1);
            dup2(pfd[1], 2);
            close(pfd[0]);
            close(pfd[1]);
            execvp(args[0], args);
            _exit(127);
        }
        close(pfd[1]);
        if (pid < 0) {
            close(pfd[0]);
            goto done;
        }
        /* Probe the port every 50 us while watching the output for the
         * ready line; both, until both are seen or 10 s pass. */
        char out[8192];
        size_t used = 0;
        int64_t t_conn = -1, t_line = -1;
        double self = -1;
        bool eof = false;
        while (now_us() - t0 < 10000000 && (t_line < 0 || (probe && t_conn < 0)) && !eof) {
            if (probe && t_conn < 0 && try_connect(port))
                t_conn = now_us();
            struct pollfd pf = {.fd = pfd[0], .events = POLLIN};
            while (poll(&pf, 1, 0) > 0 && t_line < 0) {
                ssize_t n = read(pfd[0], out + used, sizeof out - 1 - used);
                if (n <= 0) {
                    eof = true;
                    break;
                }
                used += (size_t)n;
                out[used] = '\0';
                const char *l = strstr(out, "listening on ");
                if (l && strchr(l, '\n')) {
                    t_line = now_us();
                    const char *s = strstr(out, "started in ");
                    if (s)
                        self = strtod(s + 11, NULL);
                    if (!probe) {
                        char host[64];
                        int p2;
                        if (sscanf(l + 13, "%63[0-9.]:%d", host, &p2) == 2 && try_connect(p2))
                            t_conn = now_us();
                    }
                }
                if (used >= sizeof out - 1)
                    used = 0; /* a chatty process: keep looking in fresh text */
            }
            struct timespec ts = {0, 50 * 1000};
            nanosleep(&ts, NULL);
        }
        long rss_kb = -1, hwm_kb = -1;
        if (t_line >= 0) {
            struct timespec ts = {0, 200 * 1000 * 1000}; /* let it settle */
            nanosleep(&ts, NULL);
            read_status_rss(pid, &rss_kb, &hwm_kb);
        }
        kill(pid, SIGTERM);
        int status;
        for (int w = 0; w < 500 && waitpid(pid, &status, WNOHANG) == 0; w++) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
            if (w == 499) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
            }
        }
        close(pfd[0]);
        if (t_conn >= 0)
            conn_ms[n_conn++] = (double)(t_conn - t0) / 1e3;
        if (t_line >= 0)
            line_ms[n_line++] = (double)(t_line - t0) / 1e3;
        if (self >= 0)
            self_ms[n_self++] = self;
        if (rss_kb >= 0)
            rss[n_rss++] = (double)rss_kb;
        if (t_line < 0 && t_conn < 0) {
            fprintf(stderr, "samsa-bench: startup run %d: not ready in 10 s; output:\n%s\n", run,
                    out);
        }
    }
    double mc = median(conn_ms, n_conn), ml = median(line_ms, n_line);
    double ms = median(self_ms, n_self), mr = median(rss, n_rss);
    printf("{\"phase\":\"startup\",\"target\":\"%s\",\"time\":%.3f,\"runs\":%d"
           ",\"connect_ms_median\":%.2f,\"connect_ms_min\":%.2f,\"connect_ms_max\":%.2f"
           ",\"ready_line_ms_median\":%.2f,\"self_reported_ms_median\":%.2f"
           ",\"idle_rss_kb_median\":%.0f}\n",
           o->label, wall_clock(), runs, mc, n_conn ? conn_ms[0] : -1.0,
           n_conn ? conn_ms[n_conn - 1] : -1.0, ml, ms, mr);
    printf("# %-7s startup  %d runs: first connect accepted after %.2f ms (median; min %.2f, "
           "max %.2f), ready line after %.2f ms, self-reported %.2f ms, idle RSS %.0f kB\n",
           o->label, runs, mc, n_conn ? conn_ms[0] : -1.0, n_conn ? conn_ms[n_conn - 1] : -1.0,
           ml, ms, mr);
    fflush(stdout);
    rc = n_conn == runs ? 0 : 1;
done:
    for (int i = 0; args && i < argc; i++)
        free(args[i]);
    free(args);
    free(conn_ms);
    free(line_ms);
    free(self_ms);
    free(rss);
    return rc;
}

/* ---- fsync probe ---------------------------------------------------------------------- */

/* fsync-probe: what the disk under DIR charges for durability, the floor
 * under acks=-1 latency: 200 appends of 128 KiB, each followed by fdatasync. */
static int phase_fsync_probe(const char *dir)
{
    enum { ROUNDS = 200, CHUNK = 128 * 1024 };
    char path[4096];
    snprintf(path, sizeof path, "%s/samsa-bench-fsync-probe.%d", dir, (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char *buf = calloc(1, CHUNK);
    bench_hist *h = calloc(1, sizeof *h);
    int rc = 1;
    if (fd < 0 || !buf || !h) {
        fprintf(stderr, "samsa-bench: fsync-probe %s: %s\n", path, strerror(errno));
        goto done;
    }
    memset(buf, 'x', CHUNK);
    int64_t t0 = now_us();
    for (int i = 0; i < ROUNDS; i++) {
        if (write(fd, buf, CHUNK) != CHUNK) {
            fprintf(stderr, "samsa-bench: fsync-probe write: %s\n", strerror(errno));
            goto done;
        }
        int64_t t = now_us();
        if (fdatasync(fd)) {
            fprintf(stderr, "samsa-bench: fsync-probe fdatasync: %s\n", strerror(errno));
            goto done;
        }
        hist_add(h, (uint64_t)(now_us() - t));
    }
    double secs = (double)(now_us() - t0) / 1e6;
    printf("{\"phase\":\"fsync-probe\",\"time\":%.3f,\"rounds\":%d,\"chunk_bytes\":%d"
           ",\"fdatasync_p50_us\":%" PRIu64 ",\"fdatasync_p99_us\":%" PRIu64
           ",\"fdatasync_max_us\":%" PRIu64 ",\"mb_per_s\":%.1f}\n",
           wall_clock(), ROUNDS, CHUNK, hist_pct(h, 0.5), hist_pct(h, 0.99), h->max,
           (double)ROUNDS * CHUNK / secs / 1e6);
    printf("# fsync-probe: %d x (write 128 KiB + fdatasync): fdatasync p50 %.2f ms p99 %.2f ms "
           "max %.2f ms, %.1f MB/s\n",
           ROUNDS, (double)hist_pct(h, 0.5) / 1e3, (double)hist_pct(h, 0.99) / 1e3,
           (double)h->max / 1e3, (double)ROUNDS * CHUNK / secs / 1e6);
    rc = 0;
done:
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    free(buf);
    free(h);
    return rc;
}

/* ---- command line ------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: samsa-bench (-b HOST:PORT | --mock) [OPTION]... PHASE [[OPTION]... PHASE]...\n"
        "       samsa-bench serve-mock [-p N] [--topics A,B,...]\n"
        "       samsa-bench startup [--label NAME] [--runs N] -- COMMAND [ARG]...\n"
        "       samsa-bench fsync-probe DIR\n"
        "\n"
        "Phases run in order, each with the options given before it:\n"
        "  produce   produce -n messages and wait for every delivery report\n"
        "  consume   read -n messages of -t from the beginning of every partition\n"
        "\n"
        "Options:\n"
        "  -b, --brokers HOST:PORT   bootstrap servers of a Kafka-protocol broker\n"
        "  --mock                    start librdkafka's mock cluster (1 broker) in-process\n"
        "  -t, --topic NAME          topic (default samsa-bench); created if missing\n"
        "  -n, --count N             messages per phase (default 1000000)\n"
        "  -s, --size BYTES          value size (default 100)\n"
        "  -p, --partitions N        partitions when creating the topic (default 4)\n"
        "  -a, --acks N              0, 1 or -1 (default 1)\n"
        "  -k, --keyed / --no-key    a distinct key per message / null keys (default)\n"
        "  -z, --compression CODEC   none, gzip, snappy, lz4, zstd (default none)\n"
        "  --linger-ms N             linger.ms (default 5)\n"
        "  --batch-msgs N            batch.num.messages (default 10000)\n"
        "  --batch-bytes N           batch.size (default 1000000)\n"
        "  --enqueue-batch N         messages per rd_kafka_produce_batch() call (default\n"
        "                            1000; 1 = one at a time, like most applications)\n"
        "  --consumers N             consume with N instances (threads, connections),\n"
        "                            partitions split between them (default 1)\n"
        "  --rate N                  produce at most N msgs/s (default: no limit)\n"
        "  --no-create               do not create the topic with the admin API\n"
        "  --no-verify               consume: skip the size and offset-gap checks\n"
        "  --wrap                    consume: read a partition again from its beginning\n"
        "                            at its end (for the mock, which keeps 5 MB each)\n"
        "  --timeout S               fail a phase after S s without progress (default 30)\n"
        "  --server-pid PID          sample PID's CPU time and RSS around each phase\n"
        "  --label NAME              the target's name in the output (default broker/mock)\n"
        "  -X KEY=VALUE              any librdkafka property, applied last\n"
        "\n"
        "Each phase prints a JSON line and a human line (starting with '#') to stdout.\n"
        "serve-mock prints 'mock cluster started in X ms: listening on HOST:PORT' and runs\n"
        "until SIGTERM. startup replaces {port} in COMMAND with a free port.\n");
}

static bool parse_i64(const char *s, int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 0);
    if (errno || end == s || *end)
        return false;
    *v = x;
    return true;
}

int main(int argc, char **argv)
{
    bench_opts o;
    bench_opts_init(&o);
    bool mock = false, label_set = false;
    int phases = 0, failed = 0;
    rd_kafka_t *mock_rk = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;

    if (argc == 3 && !strcmp(argv[1], "fsync-probe"))
        return phase_fsync_probe(argv[2]);
    if (argc > 1 && (!strcmp(argv[1], "serve-mock") || !strcmp(argv[1], "startup"))) {
        bool serve = !strcmp(argv[1], "serve-mock");
        const char *topics = NULL;
        int64_t runs = 10;
        int i = 2;
        o.label = serve ? "mock" : "broker";
        for (; i < argc; i++) {
            int64_t v;
            if (!strcmp(argv[i], "--")) {
                i++;
                break;
            } else if (!strcmp(argv[i], "--topics") && i + 1 < argc) {
                topics = argv[++i];
            } else if ((!strcmp(argv[i], "-p") || !strcmp(argv[i], "--partitions")) &&
                       i + 1 < argc && parse_i64(argv[i + 1], &v) && v > 0) {
                o.partitions = (int)v;
                i++;
            } else if (!strcmp(argv[i], "--runs") && i + 1 < argc &&
                       parse_i64(argv[i + 1], &runs) && runs > 0) {
                i++;
            } else if (!strcmp(argv[i], "--label") && i + 1 < argc) {
                o.label = argv[++i];
            } else {
                usage(stderr);
                return 2;
            }
        }
        if (serve)
            return serve_mock(&o, topics);
        if (i >= argc) {
            usage(stderr);
            return 2;
        }
        return phase_startup(&o, (int)runs, argv + i);
    }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t n = 0;
#define OPT(s, l) (!strcmp(a, s) || !strcmp(a, l))
#define NEED_INT(lo)                                                                           \
    do {                                                                                       \
        if (!v || !parse_i64(v, &n) || n < (lo)) {                                             \
            fprintf(stderr, "samsa-bench: %s needs a number >= %d\n", a, (int)(lo));           \
            return 2;                                                                          \
        }                                                                                      \
        i++;                                                                                   \
    } while (0)
#define NEED_STR()                                                                             \
    do {                                                                                       \
        if (!v) {                                                                              \
            fprintf(stderr, "samsa-bench: %s needs a value\n", a);                             \
            return 2;                                                                          \
        }                                                                                      \
        i++;                                                                                   \
    } while (0)
        if (OPT("-h", "--help")) {
            usage(stdout);
            return 0;
        } else if (OPT("-b", "--brokers")) {
            NEED_STR();
            o.brokers = v;
        } else if (!strcmp(a, "--mock")) {
            mock = true;
        } else if (OPT("-t", "--topic")) {
            NEED_STR();
            o.topic = v;
        } else if (OPT("-n", "--count")) {
            NEED_INT(1);
            o.count = n;
        } else if (OPT("-s", "--size")) {
            NEED_INT(0);
            o.size = (size_t)n;
        } else if (OPT("-p", "--partitions")) {
            NEED_INT(1);
            o.partitions = (int)n;
        } else if (OPT("-a", "--acks")) {
            NEED_INT(-1);
            o.acks = (int)n;
        } else if (OPT("-k", "--keyed")) {
            o.keyed = true;
        } else if (!strcmp(a, "--no-key")) {
            o.keyed = false;
        } else if (OPT("-z", "--compression")) {
            NEED_STR();
            o.compression = v;
        } else if (!strcmp(a, "--linger-ms")) {
            NEED_INT(0);
            o.linger_ms = (int)n;
        } else if (!strcmp(a, "--batch-msgs")) {
            NEED_INT(1);
            o.batch_msgs = (int)n;
        } else if (!strcmp(a, "--batch-bytes")) {
            NEED_INT(1);
            o.batch_bytes = (int)n;
        } else if (!strcmp(a, "--enqueue-batch")) {
            NEED_INT(1);
            o.enqueue_batch = (int)n;
        } else if (!strcmp(a, "--consumers")) {
            NEED_INT(1);
            o.consumers = (int)n;
        } else if (!strcmp(a, "--rate")) {
            NEED_INT(0);
            o.rate = n;
        } else if (!strcmp(a, "--no-create")) {
            o.create = false;
        } else if (!strcmp(a, "--no-verify")) {
            o.verify = false;
        } else if (!strcmp(a, "--wrap")) {
            o.wrap = true;
        } else if (!strcmp(a, "--timeout")) {
            NEED_INT(1);
            o.timeout_s = (int)n;
        } else if (!strcmp(a, "--server-pid")) {
            NEED_INT(1);
            o.server_pid = (pid_t)n;
        } else if (!strcmp(a, "--label")) {
            NEED_STR();
            o.label = v;
            label_set = true;
        } else if (!strcmp(a, "-X")) {
            NEED_STR();
            if (o.n_props == BENCH_MAX_PROPS) {
                fprintf(stderr, "samsa-bench: too many -X\n");
                return 2;
            }
            o.props[o.n_props++] = v;
        } else if (!strcmp(a, "produce") || !strcmp(a, "consume")) {
            if (mock && !mc) {
                mc = mock_start(&mock_rk);
                if (!mc)
                    return 1;
                g_in_process_mock = true;
                o.brokers = rd_kafka_mock_cluster_bootstraps(mc);
                if (!label_set)
                    o.label = "mock";
            }
            if (!o.brokers) {
                fprintf(stderr, "samsa-bench: give -b HOST:PORT or --mock\n");
                return 2;
            }
            bench_opts po = o;
            if (mc) {
                if (mock_topic(mc, o.topic, o.partitions))
                    return 1;
                po.create = false; /* the mock has no CreateTopics */
                po.wrap = true;
            }
            phases++;
            if (!strcmp(a, "produce") ? phase_produce(&po) : phase_consume(&po))
                failed++;
        } else {
            fprintf(stderr, "samsa-bench: unknown argument '%s' (see --help)\n", a);
            return 2;
        }
#undef OPT
#undef NEED_INT
#undef NEED_STR
    }
    if (mc) {
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(mock_rk);
    }
    if (!phases) {
        usage(stderr);
        return 2;
    }
    return failed ? 1 : 0;
}
