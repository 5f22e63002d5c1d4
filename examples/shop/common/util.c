/* util.c: the command line, logging, clocks, latency samples, the seed
 * catalogue and signals, shared by every shop service. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shop.h"

/* ---- log and clocks ---- */

static char log_name[64] = "shop";

void shop_log_name(const char *service)
{
    snprintf(log_name, sizeof log_name, "%s", service);
}

const char *shop_service_name(void) { return log_name; }

void shop_log(const char *fmt, ...)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char line[2048];
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000L, log_name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = strlen(line);
    for (size_t i = (size_t)n; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len++] = '\n';
    fwrite(line, 1, len, stderr); /* one write per line: lines of threads do not mix */
    fflush(stderr);
}

int64_t shop_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t shop_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- options ---- */

static void usage(FILE *f, const shop_opts *o, int default_port, const shop_flag *extra)
{
    fprintf(f,
            "usage: shop-%s [--listen HOST:PORT] [--db URL] [--brokers LIST] [-X key=value]...",
            o->name);
    for (const shop_flag *x = extra; x && x->name; x++)
        fprintf(f, " [%s %s]", x->name, x->arg);
    fprintf(f,
            "\n\nThe %s service of the samsa reference shop (docs/shop.md).\n\n"
            "  --listen HOST:PORT  HTTP address (default 127.0.0.1:%d; port 0 picks a free port)\n"
            "  --db URL            sqlite:PATH or postgresql://... (default sqlite:data/shop/%s.db)\n"
            "  --brokers LIST      Kafka bootstrap servers (default 127.0.0.1:9092)\n"
            "  -X key=value        librdkafka property, repeatable\n",
            o->name, default_port, o->name);
    for (const shop_flag *x = extra; x && x->name; x++) {
        char left[64];
        snprintf(left, sizeof left, "%s %s", x->name, x->arg);
        fprintf(f, "  %-19s %s (default %s)\n", left, x->help,
                x->value && *x->value ? *x->value : "none");
    }
    fprintf(f,
            "  --help, --version\n\n"
            "examples:\n"
            "  shop-%s\n"
            "  shop-%s --listen 127.0.0.1:0 --db sqlite:/tmp/%s.db --brokers 127.0.0.1:9092\n"
            "  shop-%s --db postgresql://shop@127.0.0.1:5432/%s -X client.id=%s-1\n",
            o->name, o->name, o->name, o->name, o->name, o->name);
}

static void bad_arg(const shop_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad_arg(const shop_opts *o, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "shop-%s: %s\nTry 'shop-%s --help'.\n", o->name, msg, o->name);
    exit(2);
}

static int parse_listen(shop_opts *o, const char *v)
{
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v)
        return -1;
    const char *h = v;
    size_t hl = (size_t)(colon - v);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof o->host)
        return -1;
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
        return -1;
    memcpy(o->host, h, hl);
    o->host[hl] = 0;
    o->port = (int)port;
    return 0;
}

void shop_opts_parse(shop_opts *o, const char *name, int default_port, const shop_flag *extra,
                     int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    snprintf(o->name, sizeof o->name, "%s", name);
    char svc[64];
    snprintf(svc, sizeof svc, "shop-%s", name);
    shop_log_name(svc);
    snprintf(o->host, sizeof o->host, "127.0.0.1");
    o->port = default_port;
    snprintf(o->db_url, sizeof o->db_url, "sqlite:data/shop/%s.db", name);
    snprintf(o->brokers, sizeof o->brokers, "127.0.0.1:9092");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout, o, default_port, extra);
            exit(0);
        }
        if (strcmp(a, "--version") == 0) {
            printf("shop-%s %s\n", o->name, SHOP_VERSION);
            exit(0);
        }
        /* every other option takes a value: "--opt value" or "--opt=value" */
        const char *val = NULL;
        char opt[64];
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        if (eq) {
            size_t l = (size_t)(eq - a);
            if (l >= sizeof opt)
                bad_arg(o, "unknown option '%s'", a);
            memcpy(opt, a, l);
            opt[l] = 0;
            val = eq + 1;
        } else if (strncmp(a, "-X", 2) == 0 && a[2]) {
            snprintf(opt, sizeof opt, "-X");
            val = a + 2;
        } else {
            snprintf(opt, sizeof opt, "%s", a);
        }
        int known = !strcmp(opt, "--listen") || !strcmp(opt, "--db") ||
                    !strcmp(opt, "--brokers") || !strcmp(opt, "-X");
        const shop_flag *fx = NULL;
        for (const shop_flag *x = extra; !known && x && x->name; x++)
            if (!strcmp(opt, x->name))
                fx = x;
        if (!known && !fx)
            bad_arg(o, "unknown option '%s'", a);
        if (!val) {
            if (i + 1 >= argc)
                bad_arg(o, "%s needs a value", opt);
            val = argv[++i];
        }
        if (fx) {
            if (!*val)
                bad_arg(o, "%s: empty value", opt);
            *fx->value = val;
        } else if (!strcmp(opt, "--listen")) {
            if (parse_listen(o, val))
                bad_arg(o, "--listen %s: expected HOST:PORT with a port 0..65535", val);
        } else if (!strcmp(opt, "--db")) {
            if (strncmp(val, "sqlite:", 7) && strncmp(val, "postgresql://", 13) &&
                strncmp(val, "postgres://", 11))
                bad_arg(o, "--db %s: expected sqlite:PATH or postgresql://...", val);
            if (!strncmp(val, "sqlite:", 7) && !val[7])
                bad_arg(o, "--db %s: sqlite: needs a path", val);
            if (strlen(val) >= sizeof o->db_url)
                bad_arg(o, "--db: URL too long");
            snprintf(o->db_url, sizeof o->db_url, "%s", val);
        } else if (!strcmp(opt, "--brokers")) {
            if (!*val || strlen(val) >= sizeof o->brokers)
                bad_arg(o, "--brokers: expected HOST:PORT[,HOST:PORT...]");
            snprintf(o->brokers, sizeof o->brokers, "%s", val);
        } else {
            const char *e = strchr(val, '=');
            if (!e || e == val)
                bad_arg(o, "-X %s: expected key=value", val);
            if (o->nx >= SHOP_MAX_X)
                bad_arg(o, "-X: at most %d properties", SHOP_MAX_X);
            if (strlen(val) >= sizeof o->x_buf[0])
                bad_arg(o, "-X %s: too long", val);
            char *b = o->x_buf[o->nx];
            snprintf(b, sizeof o->x_buf[0], "%s", val);
            b[e - val] = 0;
            o->x_key[o->nx] = b;
            o->x_val[o->nx] = b + (e - val) + 1;
            o->nx++;
        }
    }
    /* check -X against librdkafka now, so a typo is a usage error */
    char err[512];
    rd_kafka_conf_t *c = shop_kafka_conf(o, err, sizeof err);
    if (!c)
        bad_arg(o, "%s", err);
    rd_kafka_conf_destroy(c);
}

rd_kafka_conf_t *shop_kafka_conf(const shop_opts *o, char *err, size_t errlen)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char e[512];
    if (rd_kafka_conf_set(c, "bootstrap.servers", o->brokers, e, sizeof e) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "--brokers: %s", e);
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    for (int i = 0; i < o->nx; i++) {
        if (rd_kafka_conf_set(c, o->x_key[i], o->x_val[i], e, sizeof e) != RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "-X %s=%s: %s", o->x_key[i], o->x_val[i], e);
            rd_kafka_conf_destroy(c);
            return NULL;
        }
    }
    return c;
}

/* ---- latency ring ---- */

struct shop_lat {
    pthread_mutex_t mu;
    int64_t n; /* total added */
    int32_t v[SHOP_LAT_MAX];
};

shop_lat *shop_lat_new(void)
{
    shop_lat *l = calloc(1, sizeof *l);
    if (l)
        pthread_mutex_init(&l->mu, NULL);
    return l;
}

void shop_lat_free(shop_lat *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l);
}

void shop_lat_add(shop_lat *l, int64_t ms)
{
    if (!l)
        return;
    if (ms < 0)
        ms = 0; /* clocks of two processes on one machine: never negative */
    if (ms > INT32_MAX)
        ms = INT32_MAX;
    pthread_mutex_lock(&l->mu);
    l->v[l->n % SHOP_LAT_MAX] = (int32_t)ms;
    l->n++;
    pthread_mutex_unlock(&l->mu);
}

json_t *shop_lat_json(shop_lat *l)
{
    json_t *a = json_array();
    if (!l || !a)
        return a;
    pthread_mutex_lock(&l->mu);
    int64_t count = l->n < SHOP_LAT_MAX ? l->n : SHOP_LAT_MAX;
    for (int64_t i = l->n - count; i < l->n; i++)
        json_array_append_new(a, json_integer(l->v[i % SHOP_LAT_MAX]));
    pthread_mutex_unlock(&l->mu);
    return a;
}

/* ---- seed ---- */

int64_t shop_product_price(int n) { return 100 * (int64_t)n; }
int64_t shop_user_balance(int n) { return n > 90 ? 0 : 10000000; }

int shop_seed_products(shop_db *db, const char *sql, char *err, size_t errlen)
{
    for (int n = 1; n <= SHOP_PRODUCTS; n++) {
        char id[16];
        snprintf(id, sizeof id, "p%d", n);
        int rc = shop_db_exec(db, NULL, err, errlen, sql, "sii", id, shop_product_price(n),
                              (int64_t)SHOP_INITIAL_STOCK);
        if (rc)
            return rc;
    }
    return SHOP_OK;
}

int shop_seed_users(shop_db *db, const char *sql, char *err, size_t errlen)
{
    for (int n = 1; n <= SHOP_USERS; n++) {
        char id[16];
        snprintf(id, sizeof id, "u%d", n);
        int rc = shop_db_exec(db, NULL, err, errlen, sql, "si", id, shop_user_balance(n));
        if (rc)
            return rc;
    }
    return SHOP_OK;
}

int shop_seed_rooms(shop_db *db, const char *sql, char *err, size_t errlen)
{
    for (int n = 1; n <= SHOP_ROOMS; n++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", n);
        int rc = shop_db_exec(db, NULL, err, errlen, sql, "si", id, (int64_t)SHOP_ROOM_CAPACITY);
        if (rc)
            return rc;
    }
    return SHOP_OK;
}

/* ---- signals ---- */

void shop_signals_block(void)
{
    signal(SIGPIPE, SIG_IGN);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGINT);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
}

int shop_signals_wait(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGINT);
    int sig = 0;
    while (sigwait(&s, &sig) != 0) {
    }
    shop_log("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    return sig;
}
