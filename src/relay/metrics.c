/* metrics.c: the metrics registry, its text rendering, and the HTTP
 * endpoint. The listening socket is bound here and handed to
 * libmicrohttpd, so port 0 works and the real port is known. */
#include "relay/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"

const double sm_metrics_buckets[SM_METRICS_NBUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, -1 /* +Inf */};

#define LD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void sm_metrics_init(sm_metrics *m)
{
    memset(m, 0, sizeof *m);
    atomic_store(&m->oldest_init_age_ms, -1);
    atomic_store(&m->loop_tick_ms, sm_mono_ms());
}

void sm_metrics_observe_latency(sm_metrics *m, int64_t us)
{
    if (us < 0)
        us = 0;
    int i = 0;
    while (i < SM_METRICS_NBUCKETS - 1 && (double)us > sm_metrics_buckets[i] * 1e6)
        i++;
    atomic_fetch_add_explicit(&m->lat_bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->lat_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->lat_sum_us, (uint64_t)us, memory_order_relaxed);
}

typedef struct out {
    char *buf;
    size_t len, pos;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->pos < o->len ? o->len - o->pos : 0;
    int n = vsnprintf(room ? o->buf + o->pos : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->pos += (size_t)n;
}

static void counter(out *o, const char *name, const char *help, uint64_t v)
{
    put(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
        (unsigned long long)v);
}

static void gauge(out *o, const char *name, const char *help, double v)
{
    put(o, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, v);
}

size_t sm_metrics_render(sm_metrics *m, char *buf, size_t len)
{
    out o = {buf, len, 0};
    if (len)
        buf[0] = 0;
    if (LD(m->stats_valid)) {
        put(&o, "# HELP samsa_outbox_rows Outbox rows by status.\n"
                "# TYPE samsa_outbox_rows gauge\n");
        put(&o, "samsa_outbox_rows{status=\"INIT\"} %lld\n", (long long)LD(m->rows_init));
        put(&o, "samsa_outbox_rows{status=\"PUBLISHED\"} %lld\n",
            (long long)LD(m->rows_published));
        put(&o, "samsa_outbox_rows{status=\"COMPLETE\"} %lld\n", (long long)LD(m->rows_complete));
        put(&o, "samsa_outbox_rows{status=\"DEAD\"} %lld\n", (long long)LD(m->rows_dead));
        int64_t age = LD(m->oldest_init_age_ms);
        gauge(&o, "samsa_outbox_oldest_unpublished_age_seconds",
              "Age of the oldest INIT row (0 when there is none).",
              age < 0 ? 0.0 : (double)age / 1000.0);
    }
    put(&o, "# HELP samsa_relay_publish_latency_seconds From the row's created_at to the "
            "broker's acknowledgement.\n# TYPE samsa_relay_publish_latency_seconds histogram\n");
    uint64_t cum = 0;
    for (int i = 0; i < SM_METRICS_NBUCKETS; i++) {
        cum += LD(m->lat_bucket[i]);
        if (sm_metrics_buckets[i] < 0)
            put(&o, "samsa_relay_publish_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
                (unsigned long long)cum);
        else
            put(&o, "samsa_relay_publish_latency_seconds_bucket{le=\"%g\"} %llu\n",
                sm_metrics_buckets[i], (unsigned long long)cum);
    }
    put(&o, "samsa_relay_publish_latency_seconds_sum %.6f\n", (double)LD(m->lat_sum_us) / 1e6);
    put(&o, "samsa_relay_publish_latency_seconds_count %llu\n",
        (unsigned long long)LD(m->lat_count));
    counter(&o, "samsa_relay_published_total", "Rows the broker acknowledged.",
            LD(m->published_total));
    counter(&o, "samsa_relay_retries_total", "Failed attempts scheduled for a retry.",
            LD(m->retries_total));
    counter(&o, "samsa_relay_dead_letters_total", "Rows marked DEAD.", LD(m->dead_letters_total));
    counter(&o, "samsa_relay_order_violations_total",
            "Rows acknowledged while an earlier row of their key was failing.",
            LD(m->order_violations_total));
    counter(&o, "samsa_relay_producer_restarts_total",
            "Producers replaced after a fatal error (gap-less guarantee).",
            LD(m->producer_restarts_total));
    counter(&o, "samsa_relay_completed_total", "Rows marked COMPLETE.", LD(m->completed_total));
    counter(&o, "samsa_relay_complete_rounds_total",
            "Completion tracking rounds applied (every tracked group's commits read).",
            LD(m->complete_rounds_total));
    counter(&o, "samsa_relay_requeued_stale_total",
            "PUBLISHED rows re-queued by republish.stale.after.ms.",
            LD(m->requeued_stale_total));
    counter(&o, "samsa_relay_cleaned_total", "Rows deleted or archived by cleanup.",
            LD(m->cleaned_total));
    counter(&o, "samsa_relay_topic_incarnations_total",
            "New topic incarnations this relay began: a tracked topic found deleted and created "
            "again.",
            LD(m->topic_incarnations_total));
    counter(&o, "samsa_relay_requeued_recreated_total",
            "PUBLISHED rows of an earlier topic incarnation re-queued (on.topic.recreated=republish).",
            LD(m->requeued_recreated_total));
    counter(&o, "samsa_relay_complete_unverified_total",
            "Completion rounds in which a partition's committed offsets completed nothing because "
            "its rows' records could not be checked.",
            LD(m->complete_unverified_total));
    counter(&o, "samsa_relay_claims_total", "Claim queries run.", LD(m->claims_total));
    counter(&o, "samsa_relay_db_errors_total", "Failed outbox database calls.",
            LD(m->db_errors_total));
    gauge(&o, "samsa_relay_owned_slots", "Key slots this relay owns (of 64).",
          (double)LD(m->owned_slots));
    gauge(&o, "samsa_relay_inflight", "Rows produced and not yet acknowledged.",
          (double)LD(m->inflight));
    gauge(&o, "samsa_relay_broker_up", "1 unless the producer reported every broker down.",
          (double)LD(m->broker_up));
    return o.pos;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *ctype,
                             char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req)
{
    sm_metrics *m = cls;
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        char *b = strdup("method not allowed\n");
        return b ? reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", b, strlen(b)) : MHD_NO;
    }
    if (!strcmp(url, "/metrics")) {
        size_t need = sm_metrics_render(m, NULL, 0) + 256;
        char *b = malloc(need);
        if (!b)
            return MHD_NO;
        size_t n = sm_metrics_render(m, b, need);
        if (n >= need)
            n = need - 1;
        return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4", b, n);
    }
    if (!strcmp(url, "/healthz")) {
        int64_t age = sm_mono_ms() - LD(m->loop_tick_ms);
        char *b = malloc(128);
        if (!b)
            return MHD_NO;
        bool ok = age < 30000;
        int n = snprintf(b, 128, ok ? "ok\n" : "stuck: main loop silent for %lld ms\n",
                         (long long)age);
        return reply(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", b,
                     (size_t)n);
    }
    char *b = strdup("not found: try /metrics or /healthz\n");
    return b ? reply(c, MHD_HTTP_NOT_FOUND, "text/plain", b, strlen(b)) : MHD_NO;
}

int sm_metrics_start(sm_metrics *m, const char *host, int port, int *bound_port, char *err,
                     size_t errlen)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return sm_fail(err, errlen, SM_EINVAL, "metrics.listen: bad address %s", host);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return sm_fail(err, errlen, SM_EIO, "metrics: socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 64) != 0) {
        int e = errno;
        close(fd);
        return sm_fail(err, errlen, SM_EIO, "metrics.listen %s:%d: %s", host, port, strerror(e));
    }
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *bound_port = ntohs(sa.sin_port);
    m->httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
                                handle, m, MHD_OPTION_LISTEN_SOCKET, fd,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
    if (!m->httpd) {
        close(fd);
        return sm_fail(err, errlen, SM_EIO, "metrics: libmicrohttpd failed to start");
    }
    return SM_OK;
}

void sm_metrics_stop(sm_metrics *m)
{
    if (m->httpd) {
        /* MHD closes the listen socket it was given */
        MHD_stop_daemon(m->httpd);
        m->httpd = NULL;
    }
}
