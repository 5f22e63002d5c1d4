/* outbox-bench.c: load generator and measurement for the outbox, from
 * PostgreSQL commits to records a consumer reads from the broker.
 *
 *   outbox-bench --db URL --bootstrap HOST:PORT --topic T [options]
 *
 * Application writers (threads, one libpq connection each) commit events
 * into samsa_outbox; a consumer thread (librdkafka, assign() from offset 0
 * of every partition) reads the topic. Each payload names its writer and
 * sequence number; the writer notes the time its COMMIT returned, the
 * consumer the time the record arrived, so every event's commit-to-consume
 * latency is known, and so are lost and duplicated events.
 *
 * Who moves rows from the table to the broker: a samsa-relay started by the
 * caller (bench/outbox.sh), or with --naive the naive relay below, in this
 * process: every second `SELECT ... WHERE id > last ORDER BY id`, produce
 * each row (acks=all), flush, mark the rows PUBLISHED, last = highest id.
 * (It loses rows whose transaction commits after a row with a higher id
 * was read; the report counts them as lost.)
 *
 * Writer modes (what one transaction is):
 *   batch  one INSERT of --batch rows from arrays (unnest), then COMMIT:
 *          the cheapest way to write many events
 *   api    UPDATE of a business row (bench_account) and --batch calls of
 *          samsa_outbox_enqueue_pg (libsamsa), then COMMIT: a service
 *          doing its business change plus its events
 * --rate R paces the writers to R events/s in total (0: flat out).
 *
 * Output: one line of key=value pairs (see report()), and "#" lines for
 * people on stderr. Exit 0 when the run completed (even with losses: they
 * are a measured figure), 1 when something could not run. */
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "outbox/samsa.h"

typedef struct opts {
    const char *db, *bootstrap, *topic, *label, *mode;
    int writers, batch, keys, size, partitions;
    long events;    /* total */
    double rate;    /* events/s, 0: flat out */
    int timeout_s;  /* after the last commit, wait this long for stragglers */
    bool naive;
    int naive_interval_ms;
} opts;

static opts o = {.label = "run", .mode = "batch", .writers = 4, .batch = 100, .keys = 1000,
                 .size = 100, .partitions = 4, .events = 200000, .timeout_s = 60,
                 .naive_interval_ms = 1000};

/* per writer: commit time of each event (us, monotonic), arrival time */
typedef struct wstate {
    int id;
    long n;                 /* events this writer writes */
    _Atomic int64_t *commit_us;
    _Atomic int64_t *arrive_us;
    int64_t *produced_ms; /* the record's CreateTime: when the relay produced it */
    long committed;
    double busy_s;
    pthread_t th;
    char err[512];
} wstate;

static wstate *ws;
static atomic_long delivered, dups, foreign;
static atomic_int writers_done;
static atomic_bool stop_all;
static bool trace; /* OUTBOX_BENCH_TRACE=1: print records slower than 50 ms from produce to consume */
static int64_t t_first_commit_us = -1;
static pthread_mutex_t first_mu = PTHREAD_MUTEX_INITIALIZER;

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "outbox-bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* Wall clock: commit and arrival times are compared with the records'
 * CreateTime (set by the relay's producer when it produces the row). */
static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static PGconn *pg_open(void)
{
    PGconn *c = PQconnectdb(o.db);
    if (PQstatus(c) != CONNECTION_OK)
        die("connect %s: %s", o.db, PQerrorMessage(c));
    return c;
}

static void pg_ok(PGconn *c, PGresult *r, const char *what)
{
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        die("%s: %s", what, PQerrorMessage(c));
    PQclear(r);
}

/* ---- writers ---------------------------------------------------------------- */

/* The payload: "w=W s=S " then padding up to o.size bytes. */
static int make_payload(char *buf, int cap, int w, long s)
{
    int n = snprintf(buf, (size_t)cap, "w=%d s=%ld ", w, s);
    while (n < o.size && n < cap - 1)
        buf[n++] = 'x';
    buf[n] = 0;
    return n;
}

static void note_commit(wstate *w, long from, long to)
{
    int64_t t = now_us();
    for (long s = from; s < to; s++)
        atomic_store_explicit(&w->commit_us[s], t, memory_order_relaxed);
    pthread_mutex_lock(&first_mu);
    if (t_first_commit_us < 0 || t < t_first_commit_us)
        t_first_commit_us = t;
    pthread_mutex_unlock(&first_mu);
}

static uint64_t xs(uint64_t *st)
{
    uint64_t x = *st;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *st = x;
}

static void *writer_main(void *arg)
{
    wstate *w = arg;
    PGconn *c = pg_open();
    uint64_t rnd = 0x9e3779b97f4a7c15ULL * (uint64_t)(w->id + 1);
    bool api = !strcmp(o.mode, "api");
    int b = o.batch;
    /* batch mode: arrays as text literals for one INSERT ... unnest */
    size_t cap = (size_t)b * ((size_t)o.size + 64) + 1024;
    char *keys_arr = malloc(cap), *pay_arr = malloc(cap), *pay = malloc((size_t)o.size + 64);
    if (!keys_arr || !pay_arr || !pay)
        die("out of memory");
    if (!api)
        pg_ok(c, PQprepare(c, "ins",
                           "INSERT INTO samsa_outbox (topic, key, payload)"
                           " SELECT $1, k, convert_to(p, 'UTF8') FROM unnest($2::text[], $3::text[]) AS u(k, p)",
                           3, NULL),
              "prepare");
    else
        pg_ok(c, PQprepare(c, "acct", "UPDATE bench_account SET balance = balance + 1 WHERE id = $1", 1, NULL),
              "prepare");
    double per_writer_rate = o.rate > 0 ? o.rate / o.writers : 0;
    int64_t start = now_us();
    long s = 0;
    char err[512];
    while (s < w->n && !atomic_load(&stop_all)) {
        long n = w->n - s < b ? w->n - s : b;
        if (per_writer_rate > 0) {
            int64_t due = start + (int64_t)((double)s * 1e6 / per_writer_rate);
            int64_t d = due - now_us();
            if (d > 0)
                usleep((useconds_t)d);
        }
        int64_t t0 = now_us();
        pg_ok(c, PQexec(c, "BEGIN"), "begin");
        if (!api) {
            size_t kp = 0, pp = 0;
            keys_arr[kp++] = '{';
            pay_arr[pp++] = '{';
            for (long i = 0; i < n; i++) {
                int pl = make_payload(pay, o.size + 64, w->id, s + i);
                kp += (size_t)snprintf(keys_arr + kp, cap - kp, "%s\"k%d\"", i ? "," : "",
                                       (int)(xs(&rnd) % (uint64_t)o.keys));
                pp += (size_t)snprintf(pay_arr + pp, cap - pp, "%s\"%.*s\"", i ? "," : "", pl, pay);
            }
            keys_arr[kp++] = '}';
            keys_arr[kp] = 0;
            pay_arr[pp++] = '}';
            pay_arr[pp] = 0;
            const char *vals[3] = {o.topic, keys_arr, pay_arr};
            pg_ok(c, PQexecPrepared(c, "ins", 3, vals, NULL, NULL, 0), "insert");
        } else {
            char acct[32];
            snprintf(acct, sizeof acct, "%d", (int)(xs(&rnd) % 1000));
            const char *v1[1] = {acct};
            pg_ok(c, PQexecPrepared(c, "acct", 1, v1, NULL, NULL, 0), "business update");
            for (long i = 0; i < n; i++) {
                char key[32];
                snprintf(key, sizeof key, "k%d", (int)(xs(&rnd) % (uint64_t)o.keys));
                int pl = make_payload(pay, o.size + 64, w->id, s + i);
                samsa_event ev = {.topic = o.topic, .key = key, .payload = pay, .payload_len = (size_t)pl};
                if (samsa_outbox_enqueue_pg(c, &ev, NULL, err, sizeof err) != SAMSA_OK)
                    die("enqueue: %s", err);
            }
        }
        pg_ok(c, PQexec(c, "COMMIT"), "commit");
        note_commit(w, s, s + n);
        w->busy_s += (double)(now_us() - t0) / 1e6;
        s += n;
        w->committed = s;
    }
    free(keys_arr);
    free(pay_arr);
    free(pay);
    PQfinish(c);
    atomic_fetch_add(&writers_done, 1);
    return NULL;
}

/* ---- consumer --------------------------------------------------------------- */

static rd_kafka_t *consumer_new(void)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *kv[][2] = {{"bootstrap.servers", o.bootstrap}, {"group.id", "outbox-bench"},
                           {"enable.auto.commit", "false"}, {"fetch.wait.max.ms", "5"},
                           {"fetch.min.bytes", "1"}, {"enable.partition.eof", "false"},
                           {"queued.min.messages", "200000"}, {"fetch.error.backoff.ms", "10"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err) != RD_KAFKA_CONF_OK)
            die("consumer %s: %s", kv[i][0], err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk)
        die("consumer: %s", err);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(o.partitions);
    for (int p = 0; p < o.partitions; p++)
        rd_kafka_topic_partition_list_add(l, o.topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    if (rd_kafka_assign(rk, l))
        die("assign");
    rd_kafka_topic_partition_list_destroy(l);
    return rk;
}

static void on_record(const rd_kafka_message_t *m)
{
    int64_t t = now_us();
    const char *p = m->payload;
    int w;
    long s;
    char buf[48];
    size_t n = m->len < sizeof buf - 1 ? m->len : sizeof buf - 1;
    memcpy(buf, p, n);
    buf[n] = 0;
    if (sscanf(buf, "w=%d s=%ld", &w, &s) != 2 || w < 0 || w >= o.writers || s < 0 || s >= ws[w].n) {
        atomic_fetch_add(&foreign, 1);
        return;
    }
    int64_t zero = 0;
    if (atomic_compare_exchange_strong(&ws[w].arrive_us[s], &zero, t)) {
        rd_kafka_timestamp_type_t tt;
        ws[w].produced_ms[s] = rd_kafka_message_timestamp(m, &tt);
        if (trace && t / 1000 - ws[w].produced_ms[s] > 50)
            fprintf(stderr, "# slow: p%d @%" PRId64 " produced %" PRId64 " consumed %" PRId64 " (+%" PRId64 " ms)\n",
                    (int)m->partition, (int64_t)m->offset, ws[w].produced_ms[s], t / 1000,
                    t / 1000 - ws[w].produced_ms[s]);
        atomic_fetch_add(&delivered, 1);
    }
    else
        atomic_fetch_add(&dups, 1);
}

static void *consumer_main(void *arg)
{
    rd_kafka_t *rk = arg;
    while (!atomic_load(&stop_all)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
        if (!m)
            continue;
        if (!m->err)
            on_record(m);
        else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            fprintf(stderr, "# consumer: %s\n", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

/* ---- the naive relay ---------------------------------------------------------- */

static void naive_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err)
        fprintf(stderr, "# naive relay: delivery failed: %s\n", rd_kafka_err2str(m->err));
}

static void *naive_main(void *arg)
{
    (void)arg;
    PGconn *c = pg_open();
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *kv[][2] = {{"bootstrap.servers", o.bootstrap}, {"acks", "all"},
                           {"enable.idempotence", "true"}, {"linger.ms", "5"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], err, sizeof err) != RD_KAFKA_CONF_OK)
            die("naive %s: %s", kv[i][0], err);
    rd_kafka_conf_set_dr_msg_cb(conf, naive_dr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk)
        die("naive producer: %s", err);
    pg_ok(c, PQprepare(c, "poll", "SELECT id, key, payload FROM samsa_outbox WHERE id > $1 ORDER BY id", 1, NULL),
          "prepare");
    pg_ok(c, PQprepare(c, "mark", "UPDATE samsa_outbox SET status = 'PUBLISHED', published_at = now()"
                                  " WHERE id = ANY($1::int8[])", 1, NULL),
          "prepare");
    long long last = 0;
    size_t idcap = 1 << 20;
    char *ids = malloc(idcap);
    int64_t next = now_us();
    while (!atomic_load(&stop_all)) {
        int64_t d = next - now_us();
        if (d > 0) {
            usleep((useconds_t)(d > 50000 ? 50000 : d));
            continue;
        }
        next += (int64_t)o.naive_interval_ms * 1000;
        char lastbuf[32];
        snprintf(lastbuf, sizeof lastbuf, "%lld", last);
        const char *v[1] = {lastbuf};
        static const int fmts[1] = {0};
        /* binary results: payload bytes as they are */
        PGresult *r = PQexecPrepared(c, "poll", 1, v, NULL, fmts, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            die("naive poll: %s", PQerrorMessage(c));
        int n = PQntuples(r);
        if (!n) {
            PQclear(r);
            continue;
        }
        size_t ip = 0;
        for (int i = 0; i < n; i++) {
            int64_t id = 0;
            memcpy(&id, PQgetvalue(r, i, 0), 8);
            id = (int64_t)__builtin_bswap64((uint64_t)id);
            const char *key = PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1);
            size_t klen = key ? (size_t)PQgetlength(r, i, 1) : 0;
            for (;;) {
                rd_kafka_resp_err_t e = rd_kafka_producev(
                    rk, RD_KAFKA_V_TOPIC(o.topic), RD_KAFKA_V_KEY(key, klen),
                    RD_KAFKA_V_VALUE(PQgetvalue(r, i, 2), (size_t)PQgetlength(r, i, 2)),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
                if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                    rd_kafka_poll(rk, 10);
                    continue;
                }
                if (e)
                    die("naive produce: %s", rd_kafka_err2str(e));
                break;
            }
            if (ip + 32 > idcap && !(ids = realloc(ids, idcap *= 2)))
                die("out of memory");
            ip += (size_t)snprintf(ids + ip, idcap - ip, "%s%" PRId64, i ? "," : "{", id);
            if (id > last)
                last = id;
        }
        PQclear(r);
        ids[ip++] = '}';
        ids[ip] = 0;
        while (rd_kafka_flush(rk, 1000) == RD_KAFKA_RESP_ERR__TIMED_OUT && !atomic_load(&stop_all))
            ;
        const char *mv[1] = {ids};
        pg_ok(c, PQexecPrepared(c, "mark", 1, mv, NULL, NULL, 0), "naive mark");
    }
    free(ids);
    rd_kafka_flush(rk, 5000);
    rd_kafka_destroy(rk);
    PQfinish(c);
    return NULL;
}

/* ---- report ------------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const int64_t *v, size_t n, double p)
{
    if (!n)
        return -1;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)v[i] / 1000.0;
}

static void setup(void)
{
    PGconn *c = pg_open();
    char err[512];
    if (samsa_schema_apply_pg(c, err, sizeof err) != SAMSA_OK)
        die("schema: %s", err);
    pg_ok(c, PQexec(c, "CREATE TABLE IF NOT EXISTS bench_account (id int PRIMARY KEY, balance bigint NOT NULL)"),
          "bench_account");
    pg_ok(c, PQexec(c, "INSERT INTO bench_account SELECT i, 0 FROM generate_series(0, 999) i ON CONFLICT DO NOTHING"),
          "bench_account rows");
    PQfinish(c);

    /* the topic, with the partitions the consumer assigns */
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", o.bootstrap, err, sizeof err) != RD_KAFKA_CONF_OK)
        die("%s", err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk)
        die("admin: %s", err);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(o.topic, o.partitions, 1, err, sizeof err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    if (!ev)
        die("CreateTopics: no answer");
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t nres = 0;
    const rd_kafka_topic_result_t **tr = res ? rd_kafka_CreateTopics_result_topics(res, &nres) : NULL;
    if (!tr || nres != 1 || (rd_kafka_topic_result_error(tr[0]) &&
                             rd_kafka_topic_result_error(tr[0]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS))
        die("CreateTopics %s: %s", o.topic, tr && nres ? rd_kafka_topic_result_error_string(tr[0]) : "?");
    rd_kafka_event_destroy(ev);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: outbox-bench --db URL --bootstrap HOST:PORT --topic T [--label L]\n"
            "         [--writers N] [--events N] [--batch N] [--mode batch|api] [--keys N]\n"
            "         [--size BYTES] [--partitions N] [--rate EVENTS_PER_S] [--timeout S]\n"
            "         [--naive [--naive-interval-ms N]]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (!strcmp(a, name) && v && (i++, 1))
        if (OPT("--db"))
            o.db = v;
        else if (OPT("--bootstrap"))
            o.bootstrap = v;
        else if (OPT("--topic"))
            o.topic = v;
        else if (OPT("--label"))
            o.label = v;
        else if (OPT("--mode"))
            o.mode = v;
        else if (OPT("--writers"))
            o.writers = atoi(v);
        else if (OPT("--events"))
            o.events = atol(v);
        else if (OPT("--batch"))
            o.batch = atoi(v);
        else if (OPT("--keys"))
            o.keys = atoi(v);
        else if (OPT("--size"))
            o.size = atoi(v);
        else if (OPT("--partitions"))
            o.partitions = atoi(v);
        else if (OPT("--rate"))
            o.rate = atof(v);
        else if (OPT("--timeout"))
            o.timeout_s = atoi(v);
        else if (OPT("--naive-interval-ms"))
            o.naive_interval_ms = atoi(v);
        else if (!strcmp(a, "--naive"))
            o.naive = true;
        else
            usage();
#undef OPT
    }
    if (!o.db || !o.bootstrap || !o.topic || o.writers < 1 || o.batch < 1 || o.events < 1 ||
        o.keys < 1 || o.size < 24 || o.size > 100000 || o.partitions < 1 ||
        (strcmp(o.mode, "batch") && strcmp(o.mode, "api")))
        usage();

    trace = getenv("OUTBOX_BENCH_TRACE") != NULL;
    setup();
    ws = calloc((size_t)o.writers, sizeof *ws);
    for (int w = 0; w < o.writers; w++) {
        ws[w].id = w;
        ws[w].n = o.events / o.writers + (w < o.events % o.writers);
        ws[w].commit_us = calloc((size_t)ws[w].n + 1, sizeof(int64_t));
        ws[w].arrive_us = calloc((size_t)ws[w].n + 1, sizeof(int64_t));
        ws[w].produced_ms = calloc((size_t)ws[w].n + 1, sizeof(int64_t));
        if (!ws[w].commit_us || !ws[w].arrive_us || !ws[w].produced_ms)
            die("out of memory");
    }
    rd_kafka_t *crk = consumer_new();
    pthread_t cth, nth;
    pthread_create(&cth, NULL, consumer_main, crk);
    if (o.naive)
        pthread_create(&nth, NULL, naive_main, NULL);
    /* warm the consumer up: a first fetch of each partition takes a few
     * hundred ms (leader and offset look-ups), which would land on the
     * first events' latency; so one marker record per partition, produced
     * here, must arrive before the writers start */
    {
        char err[512];
        rd_kafka_conf_t *pc = rd_kafka_conf_new();
        if (rd_kafka_conf_set(pc, "bootstrap.servers", o.bootstrap, err, sizeof err) != RD_KAFKA_CONF_OK)
            die("%s", err);
        rd_kafka_t *prk = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
        if (!prk)
            die("warm-up producer: %s", err);
        for (int p = 0; p < o.partitions; p++)
            if (rd_kafka_producev(prk, RD_KAFKA_V_TOPIC(o.topic), RD_KAFKA_V_PARTITION(p),
                                  RD_KAFKA_V_VALUE("warm-up", 7), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_END))
                die("warm-up produce");
        rd_kafka_flush(prk, 10000);
        rd_kafka_destroy(prk);
        int64_t until = now_us() + 15000000;
        while (atomic_load(&foreign) < o.partitions && now_us() < until)
            usleep(1000);
        if (atomic_load(&foreign) < o.partitions)
            die("warm-up: the consumer saw %ld of %d marker records", atomic_load(&foreign), o.partitions);
        atomic_fetch_sub(&foreign, o.partitions);
    }
    int64_t t0 = now_us();
    for (int w = 0; w < o.writers; w++)
        pthread_create(&ws[w].th, NULL, writer_main, &ws[w]);
    for (int w = 0; w < o.writers; w++)
        pthread_join(ws[w].th, NULL);
    int64_t t_commits_done = now_us();
    /* wait for everything to arrive (or stop arriving) */
    long last_seen = -1;
    int64_t last_change = now_us();
    while (atomic_load(&delivered) < o.events) {
        long d = atomic_load(&delivered);
        if (d != last_seen) {
            last_seen = d;
            last_change = now_us();
        }
        if (now_us() - last_change > (int64_t)o.timeout_s * 1000000)
            break;
        usleep(2000);
    }
    atomic_store(&stop_all, true);
    pthread_join(cth, NULL);
    if (o.naive)
        pthread_join(nth, NULL);
    rd_kafka_consumer_close(crk);
    rd_kafka_destroy(crk);

    /* latencies, lost, last arrival */
    int64_t *lat = malloc((size_t)o.events * sizeof *lat);
    int64_t *cap_lat = malloc((size_t)o.events * sizeof *cap_lat); /* commit -> produced */
    int64_t *del_lat = malloc((size_t)o.events * sizeof *del_lat); /* produced -> consumed */
    size_t nl = 0;
    long lost = 0;
    int64_t t_last = 0;
    double sum = 0;
    double busy = 0;
    for (int w = 0; w < o.writers; w++) {
        busy += ws[w].busy_s;
        for (long s = 0; s < ws[w].n; s++) {
            int64_t c = ws[w].commit_us[s], a = ws[w].arrive_us[s];
            if (!a) {
                lost++;
                continue;
            }
            if (a > t_last)
                t_last = a;
            int64_t pr = ws[w].produced_ms[s] * 1000;
            cap_lat[nl] = pr - c;
            del_lat[nl] = a - pr;
            lat[nl++] = a - c;
            sum += (double)(a - c);
        }
    }
    qsort(lat, nl, sizeof *lat, cmp_i64);
    qsort(cap_lat, nl, sizeof *cap_lat, cmp_i64);
    qsort(del_lat, nl, sizeof *del_lat, cmp_i64);
    double commit_s = (double)(t_commits_done - t0) / 1e6;
    double e2e_s = (double)(t_last - t_first_commit_us) / 1e6;
    printf("label=%s mode=%s writers=%d batch=%d events=%ld size=%d rate_target=%.0f "
           "commit_s=%.3f commit_rate=%.0f e2e_s=%.3f e2e_rate=%.0f delivered=%ld lost=%ld dups=%ld "
           "foreign=%ld p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f p999_ms=%.2f max_ms=%.2f avg_ms=%.2f "
           "writer_busy=%.2f capture_p50_ms=%.1f capture_p99_ms=%.1f deliver_p50_ms=%.1f "
           "deliver_p99_ms=%.1f\n",
           o.label, o.mode, o.writers, o.batch, o.events, o.size, o.rate, commit_s,
           (double)o.events / commit_s, e2e_s, nl ? (double)nl / e2e_s : 0.0, (long)nl, lost,
           atomic_load(&dups), atomic_load(&foreign), pct(lat, nl, 0.50), pct(lat, nl, 0.90),
           pct(lat, nl, 0.99), pct(lat, nl, 0.999), nl ? (double)lat[nl - 1] / 1000.0 : -1.0,
           nl ? sum / (double)nl / 1000.0 : -1.0, busy / commit_s / o.writers, pct(cap_lat, nl, 0.5),
           pct(cap_lat, nl, 0.99), pct(del_lat, nl, 0.5), pct(del_lat, nl, 0.99));
    fprintf(stderr, "# %s: %ld events committed in %.2f s (%.0f/s), %zu delivered in %.2f s (%.0f/s), "
                    "lost %ld, dups %ld; commit->consume p50 %.2f ms p99 %.2f ms max %.2f ms; "
                    "commit->produced p50 %.1f p99 %.1f ms, produced->consumed p50 %.1f p99 %.1f ms\n",
            o.label, o.events, commit_s, (double)o.events / commit_s, nl, e2e_s,
            nl ? (double)nl / e2e_s : 0.0, lost, atomic_load(&dups), pct(lat, nl, 0.5),
            pct(lat, nl, 0.99), nl ? (double)lat[nl - 1] / 1000.0 : -1.0, pct(cap_lat, nl, 0.5),
            pct(cap_lat, nl, 0.99), pct(del_lat, nl, 0.5), pct(del_lat, nl, 0.99));
    free(lat);
    free(cap_lat);
    free(del_lat);
    for (int w = 0; w < o.writers; w++) {
        free((void *)ws[w].commit_us);
        free((void *)ws[w].arrive_us);
        free(ws[w].produced_ms);
    }
    free(ws);
    return 0;
}
