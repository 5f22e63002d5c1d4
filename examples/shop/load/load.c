/* load.c - shop-load: pushes orders, payments and reservations through the
 * shop's HTTP APIs (docs/shop.md), waits until every event has settled, and
 * checks the books.
 *
 * The traffic runs on a libcurl multi handle with --concurrency requests in
 * flight. An order is a job of two steps (POST /orders, then its payment);
 * a reservation is POST /reservations and, for some, an immediate DELETE
 * (a cancel while PENDING). After the first settle, more reservations are
 * cancelled (most CONFIRMED by then), and the shop settles again.
 *
 * Everything compared between the start and the end is a delta of the
 * services' /stats, so shop-load works against a main job that already ran
 * earlier loads; the rest are invariants of all history. */
#include "http.h"
#include "load.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *const sl_svc_name[SL_NSVC] = {"orders", "stock", "sink", "receiver", "reservations", "rooms"};
const char *const sl_req_name[SL_NREQ] = {
    "POST /orders", "POST /orders (invalid on purpose)", "POST /orders/{id}/payment",
    "POST /reservations", "DELETE /reservations/{id} (while new)", "DELETE /reservations/{id} (after settle)"};
static const int default_port[SL_NSVC] = {8081, 8082, 8083, 8089, 8084, 8085};

/* -- randomness: xorshift64*, seeded by --seed ----------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static long rnd_in(long lo, long hi) /* [lo, hi] */
{
    return lo + (long)(rnd() % (uint64_t)(hi - lo + 1));
}

double sl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* -- jobs -------------------------------------------------------------------- */

enum { JOB_ORDER, JOB_BAD_ORDER, JOB_RESERVE, JOB_LATE_CANCEL };

typedef struct job {
    int kind;
    int cancel;  /* reservation: cancel at once */
    long ref;    /* index into r->orders / r->resv */
    int qty[50]; /* order: quantity per item */
    int prod[50];
    int items;
} job;

typedef struct traffic {
    sl_run *r;
    double last_say; /* when progress was last printed */
    job *jobs;
    long njobs, next;
    char dates_base[16];
    int window;     /* nights in the reservation window */
    time_t base;    /* the window's first night, 00:00 UTC */
} traffic;

static void fmt_day(time_t base, int plus, char *out, size_t n)
{
    time_t t = base + (time_t)plus * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%d", &tm);
}

static void count(sl_run *r, int kind, const sl_slot *s)
{
    long st = s->status;
    if (st < 0 || st >= 600)
        st = 0;
    r->status_count[kind][st]++;
    r->requests++;
    if (st < 200 || st > 299) {
        if (st == 0)
            snprintf(r->last_error[kind], sizeof r->last_error[kind], "%s", s->error);
        else
            snprintf(r->last_error[kind], sizeof r->last_error[kind], "%ld %.200s", st, s->resp ? s->resp : "");
    }
}

static int start_step(sl_pool *p, sl_slot *s, traffic *t)
{
    sl_run *r = t->r;
    job *j = &t->jobs[s->job];
    char url[512], body[4096];
    const sl_opts *o = &r->o;
    if (j->kind == JOB_ORDER || j->kind == JOB_BAD_ORDER) {
        if (s->step == 0) {
            int n = snprintf(body, sizeof body, "{\"user\":\"u%ld\",\"items\":[", rnd_in(1, o->users));
            for (int i = 0; i < j->items; i++)
                n += snprintf(body + n, sizeof body - (size_t)n, "%s{\"product\":\"p%d\",\"quantity\":%d}",
                              i ? "," : "", j->prod[i], j->qty[i]);
            snprintf(body + n, sizeof body - (size_t)n, "]}");
            snprintf(url, sizeof url, "%s/orders", o->url[SL_ORDERS]);
            return sl_pool_start(p, s, "POST", url, body);
        }
        snprintf(url, sizeof url, "%s/orders/%s/payment", o->url[SL_ORDERS], r->orders[j->ref].id);
        return sl_pool_start(p, s, "POST", url, "{}");
    }
    if (j->kind == JOB_RESERVE && s->step == 0) {
        char in[16], out[16];
        int from = (int)rnd_in(0, t->window - 1);
        int nights = (int)rnd_in(1, 3);
        fmt_day(t->base, from, in, sizeof in);
        fmt_day(t->base, from + nights, out, sizeof out);
        snprintf(body, sizeof body, "{\"room\":\"r%ld\",\"check_in\":\"%s\",\"check_out\":\"%s\"}",
                 rnd_in(1, o->rooms), in, out);
        snprintf(url, sizeof url, "%s/reservations", o->url[SL_RESERVATIONS]);
        return sl_pool_start(p, s, "POST", url, body);
    }
    /* a cancel: right after the reservation, or a late one */
    snprintf(url, sizeof url, "%s/reservations/%s", o->url[SL_RESERVATIONS], r->resv[j->ref]);
    return sl_pool_start(p, s, "DELETE", url, NULL);
}

static void on_done(sl_pool *p, sl_slot *s, void *ctx)
{
    traffic *t = ctx;
    sl_run *r = t->r;
    job *j = &t->jobs[s->job];
    json_t *body = s->resp_len ? json_loadb(s->resp, s->resp_len, 0, NULL) : NULL;
    int next = 0;
    switch (j->kind) {
    case JOB_BAD_ORDER:
        count(r, SL_R_BAD_ORDER, s);
        break;
    case JOB_ORDER:
        if (s->step == 0) {
            count(r, SL_R_ORDER, s);
            const char *id = json_string_value(json_object_get(body, "id"));
            if (s->status == 201 && id && strlen(id) < sizeof r->orders[0].id) {
                sl_order *ord = &r->orders[j->ref];
                snprintf(ord->id, sizeof ord->id, "%s", id);
                ord->total = (long long)json_integer_value(json_object_get(body, "total"));
                for (int i = 0; i < j->items; i++)
                    r->qty_created[j->prod[i]] += j->qty[i];
                next = 1;
            }
        } else {
            count(r, SL_R_PAY, s);
            if (s->status == 200) {
                sl_order *ord = &r->orders[j->ref];
                ord->paid = 1;
                r->paid_total += ord->total;
                r->paid_count++;
            }
        }
        break;
    case JOB_RESERVE:
        if (s->step == 0) {
            count(r, SL_R_RESERVE, s);
            const char *id = json_string_value(json_object_get(body, "id"));
            if (s->status == 202 && id && strlen(id) < 64) {
                j->ref = r->resv_created++;
                snprintf(r->resv[j->ref], 64, "%s", id);
                next = j->cancel;
            }
        } else {
            count(r, SL_R_CANCEL, s);
        }
        break;
    case JOB_LATE_CANCEL:
        count(r, SL_R_LATE_CANCEL, s);
        break;
    }
    json_decref(body);
    double now = sl_now();
    if (now - t->last_say >= 5) { /* progress, for long runs */
        printf("  ... %ld of %ld jobs started, %ld requests answered\n", t->next, t->njobs, r->requests);
        t->last_say = now;
    }
    if (next) {
        s->step++;
        if (start_step(p, s, t) != 0)
            fprintf(stderr, "shop-load: cannot start a request (out of memory?)\n");
    }
}

static int refill(sl_pool *p, void *ctx)
{
    traffic *t = ctx;
    sl_slot *s;
    while (t->next < t->njobs && (s = sl_pool_idle(p))) {
        s->job = (int)t->next++;
        s->step = 0;
        if (start_step(p, s, t) != 0) {
            fprintf(stderr, "shop-load: cannot start a request (out of memory?)\n");
            return 0;
        }
    }
    return t->next < t->njobs;
}

static int run_jobs(sl_run *r, traffic *t)
{
    sl_pool pool;
    if (sl_pool_init(&pool, r->o.concurrency, 30000, on_done, t) != 0)
        return -1;
    sl_pool_run(&pool, refill);
    sl_pool_release(&pool);
    return 0;
}

/* Phase 1: orders (a few invalid on purpose), payments, reservations and
 * early cancels, shuffled together. */
static int traffic_main(sl_run *r, traffic *t)
{
    const sl_opts *o = &r->o;
    long n = o->orders + o->reservations;
    t->jobs = calloc((size_t)(n ? n : 1), sizeof *t->jobs);
    if (!t->jobs)
        return -1;
    long oi = 0;
    for (long i = 0; i < o->orders; i++) {
        job *j = &t->jobs[i];
        j->kind = (o->bad_percent && rnd_in(1, 100) <= o->bad_percent) ? JOB_BAD_ORDER : JOB_ORDER;
        j->ref = oi++;
        j->items = (int)rnd_in(1, 3);
        for (int k = 0; k < j->items; k++) {
            /* distinct products per order */
            int pn;
            int dup;
            do {
                pn = (int)rnd_in(1, o->products);
                dup = 0;
                for (int q = 0; q < k; q++)
                    dup |= j->prod[q] == pn;
            } while (dup && j->items <= o->products);
            j->prod[k] = pn;
            j->qty[k] = (int)rnd_in(1, 3);
        }
        if (j->kind == JOB_BAD_ORDER)
            j->qty[0] = 0; /* docs/shop.md: 400 invalid, nothing changes */
    }
    for (long i = 0; i < o->reservations; i++) {
        job *j = &t->jobs[o->orders + i];
        j->kind = JOB_RESERVE;
        j->cancel = o->cancel_percent && rnd_in(1, 200) <= o->cancel_percent; /* half of them now */
    }
    for (long i = n - 1; i > 0; i--) { /* Fisher-Yates */
        long k = rnd_in(0, i);
        job tmp = t->jobs[i];
        t->jobs[i] = t->jobs[k];
        t->jobs[k] = tmp;
    }
    t->njobs = n;
    t->next = 0;
    t->last_say = sl_now();
    return run_jobs(r, t);
}

/* Phase 2: cancel more reservations, after the first results arrived. */
static int traffic_late_cancels(sl_run *r, traffic *t)
{
    long n = 0;
    for (long i = 0; i < r->resv_created; i++)
        if (r->o.cancel_percent && rnd_in(1, 200) <= r->o.cancel_percent)
            t->jobs[n++] = (job){.kind = JOB_LATE_CANCEL, .ref = i};
    t->njobs = n;
    t->next = 0;
    t->last_say = sl_now();
    return run_jobs(r, t);
}

/* -- options ----------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shop-load [--orders N] [--reservations M] [options]\n"
            "\n"
            "Pushes N orders (and their payments) and M reservations (some cancelled) through\n"
            "the reference shop's HTTP APIs, waits until every event has settled, prints a\n"
            "summary and checks the books (docs/shop.md). The last line is 'books balanced: yes',\n"
            "or 'books balanced: no: WHAT DISAGREES' with exit code 1.\n"
            "\n"
            "  --orders N            orders to create, each followed by its payment [1000]\n"
            "  --reservations M      reservations to request [200]\n"
            "  --concurrency C       requests in flight at once [16]\n"
            "  --users N             users u1..uN to order as [100] (u91..u100 cannot pay)\n"
            "  --products N          products p1..pN to order [20]\n"
            "  --rooms N             rooms r1..rN to reserve [10]\n"
            "  --cancel-percent P    reservations to cancel, half at once, half after settling [10]\n"
            "  --bad-percent P       orders sent invalid on purpose (quantity 0: expect 400) [1]\n"
            "  --initial-balances C  the seed's total balance, cents [900000000]\n"
            "  --capacity N          rooms of each id per night [3]\n"
            "  --orders-url URL      shop-orders [http://127.0.0.1:8081]\n"
            "  --stock-url URL       shop-stock [http://127.0.0.1:8082]\n"
            "  --sink-url URL        shop-sink [http://127.0.0.1:8083]\n"
            "  --receiver-url URL    shop-receiver [http://127.0.0.1:8089]\n"
            "  --reservations-url URL shop-reservations [http://127.0.0.1:8084]\n"
            "  --rooms-url URL       shop-rooms [http://127.0.0.1:8085]\n"
            "  --brokers LIST        Kafka bootstrap servers, for the consumer groups' lag [127.0.0.1:9092]\n"
            "  --timeout S           how long to wait for the events to settle [120]\n"
            "  --seed S              random seed [time and pid]\n"
            "  --check-only          send nothing: wait until settled and check the books of all history\n"
            "  --help, --version\n"
            "\n"
            "Exit codes: 0 books balanced, 1 books not balanced (or not settled in time), 2 bad\n"
            "command line, 3 a service is unreachable.\n");
}

static int parse_long(const char *name, const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "shop-load: --%s: '%s' is not a whole number in [%ld, %ld]\n", name, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_opts(int argc, char **argv, sl_opts *o)
{
    static char urls[SL_NSVC][64];
    enum { O_ORDERS = 256, O_RES, O_CONC, O_USERS, O_PRODUCTS, O_ROOMS, O_CANCEL, O_BAD, O_INIT, O_CAP,
           O_URL0, O_BROKERS = O_URL0 + SL_NSVC, O_TIMEOUT, O_SEED, O_CHECK, O_HELP, O_VERSION };
    static const struct option lo[] = {
        {"orders", 1, 0, O_ORDERS}, {"reservations", 1, 0, O_RES}, {"concurrency", 1, 0, O_CONC},
        {"users", 1, 0, O_USERS}, {"products", 1, 0, O_PRODUCTS}, {"rooms", 1, 0, O_ROOMS},
        {"cancel-percent", 1, 0, O_CANCEL}, {"bad-percent", 1, 0, O_BAD},
        {"initial-balances", 1, 0, O_INIT}, {"capacity", 1, 0, O_CAP},
        {"orders-url", 1, 0, O_URL0 + SL_ORDERS}, {"stock-url", 1, 0, O_URL0 + SL_STOCK},
        {"sink-url", 1, 0, O_URL0 + SL_SINK}, {"receiver-url", 1, 0, O_URL0 + SL_RECEIVER},
        {"reservations-url", 1, 0, O_URL0 + SL_RESERVATIONS}, {"rooms-url", 1, 0, O_URL0 + SL_ROOMS},
        {"brokers", 1, 0, O_BROKERS}, {"timeout", 1, 0, O_TIMEOUT}, {"seed", 1, 0, O_SEED},
        {"check-only", 0, 0, O_CHECK}, {"help", 0, 0, O_HELP}, {"version", 0, 0, O_VERSION}, {0, 0, 0, 0}};
    *o = (sl_opts){.orders = 1000, .reservations = 200, .concurrency = 16, .users = 100, .products = 20,
                   .rooms = 10, .cancel_percent = 10, .bad_percent = 1, .initial_balances = 900000000LL,
                   .capacity = 3, .brokers = "127.0.0.1:9092", .timeout_s = 120,
                   .seed = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid()};
    for (int i = 0; i < SL_NSVC; i++) {
        snprintf(urls[i], sizeof urls[i], "http://127.0.0.1:%d", default_port[i]);
        o->url[i] = urls[i];
    }
    int c;
    long v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case O_ORDERS: if (parse_long("orders", optarg, 0, 10000000, &o->orders)) return 2; break;
        case O_RES: if (parse_long("reservations", optarg, 0, 10000000, &o->reservations)) return 2; break;
        case O_CONC: if (parse_long("concurrency", optarg, 1, 1024, &v)) return 2; o->concurrency = (int)v; break;
        case O_USERS: if (parse_long("users", optarg, 1, 1000000, &v)) return 2; o->users = (int)v; break;
        case O_PRODUCTS: if (parse_long("products", optarg, 1, 255, &v)) return 2; o->products = (int)v; break;
        case O_ROOMS: if (parse_long("rooms", optarg, 1, 1000000, &v)) return 2; o->rooms = (int)v; break;
        case O_CANCEL: if (parse_long("cancel-percent", optarg, 0, 100, &v)) return 2; o->cancel_percent = (int)v; break;
        case O_BAD: if (parse_long("bad-percent", optarg, 0, 100, &v)) return 2; o->bad_percent = (int)v; break;
        case O_INIT: if (parse_long("initial-balances", optarg, 0, 4000000000000000000L, &v)) return 2;
            o->initial_balances = v; break;
        case O_CAP: if (parse_long("capacity", optarg, 1, 1000000, &v)) return 2; o->capacity = (int)v; break;
        case O_BROKERS: o->brokers = optarg; break;
        case O_TIMEOUT: if (parse_long("timeout", optarg, 1, 86400, &v)) return 2; o->timeout_s = (double)v; break;
        case O_SEED: if (parse_long("seed", optarg, 0, 0x7fffffffffffffffL, &v)) return 2; o->seed = (uint64_t)v; break;
        case O_CHECK: o->check_only = 1; break;
        case O_HELP: usage(stdout); exit(0);
        case O_VERSION: printf("shop-load %s\n", SAMSA_VERSION); exit(0);
        default:
            if (c >= O_URL0 && c < O_URL0 + SL_NSVC) {
                size_t n = strlen(optarg);
                while (n && optarg[n - 1] == '/')
                    optarg[--n] = 0;
                if (strncmp(optarg, "http://", 7) && strncmp(optarg, "https://", 8)) {
                    fprintf(stderr, "shop-load: --%s-url: '%s' is not an http:// URL\n", sl_svc_name[c - O_URL0], optarg);
                    return 2;
                }
                o->url[c - O_URL0] = optarg;
                break;
            }
            fprintf(stderr, "shop-load: unknown or incomplete option '%s' (see --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "shop-load: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    sl_run *r = calloc(1, sizeof *r);
    if (!r)
        return 1;
    int rc = parse_opts(argc, argv, &r->o);
    if (rc) {
        free(r);
        return rc;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rng_state = r->o.seed ? r->o.seed : 88172645463325252ULL;
    const sl_opts *o = &r->o;

    char err[512];
    sl_snap before = {0}, after = {0};
    traffic t = {.r = r};
    rc = 1;
    if (sl_snap_take(o, &before, err, sizeof err) != 0) {
        fprintf(stderr, "shop-load: %s\n", err);
        printf("books balanced: no: a service is unreachable: %s\n", err);
        rc = 3;
        goto out;
    }
    if (!o->check_only) {
        printf("shop-load: %ld orders, %ld reservations, concurrency %d, seed %llu\n", o->orders, o->reservations,
               o->concurrency, (unsigned long long)o->seed);
        r->orders = calloc((size_t)(o->orders ? o->orders : 1), sizeof *r->orders);
        r->resv = calloc((size_t)(o->reservations ? o->reservations : 1), sizeof *r->resv);
        if (!r->orders || !r->resv)
            goto oom;
        /* the reservation window: about one room-night of capacity per
         * request, so roughly half of the stays (2 nights on average) find
         * a night sold out; it starts at a day drawn from the seed, in 2027+ */
        long cap_per_night = (long)o->rooms * o->capacity;
        t.window = (int)(o->reservations / (cap_per_night ? cap_per_night : 1));
        if (t.window < 2)
            t.window = 2;
        struct tm base = {.tm_year = 127, .tm_mon = 0, .tm_mday = 1 + (int)(rnd() % 3000)};
        t.base = timegm(&base);
        double t0 = sl_now();
        if (traffic_main(r, &t) != 0)
            goto oom;
        r->t_traffic = sl_now() - t0;
    } else {
        printf("shop-load: --check-only: no traffic; the books of all history\n");
    }
    double t1 = sl_now();
    char why[1024] = "";
    int settled = sl_settle(o, o->timeout_s, why, sizeof why);
    if (settled && !o->check_only && r->resv_created && o->cancel_percent) {
        double t2 = sl_now();
        if (traffic_late_cancels(r, &t) != 0)
            goto oom;
        r->t_traffic += sl_now() - t2;
        settled = sl_settle(o, o->timeout_s - (sl_now() - t1), why, sizeof why);
    }
    r->t_settle = sl_now() - t1;
    if (sl_snap_take(o, &after, err, sizeof err) != 0) {
        printf("books balanced: no: a service is unreachable at the end: %s\n", err);
        rc = 3;
        goto out;
    }
    rc = sl_books(r, o->check_only ? NULL : &before, &after, settled, why) ? 0 : 1;
    goto out;
oom:
    fprintf(stderr, "shop-load: out of memory\n");
    printf("books balanced: no: shop-load ran out of memory\n");
out:
    free(t.jobs);
    sl_snap_release(&before);
    sl_snap_release(&after);
    free(r->orders);
    free(r->resv);
    free(r);
    curl_global_cleanup();
    return rc;
}
