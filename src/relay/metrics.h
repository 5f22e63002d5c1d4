/* metrics.h: the relay's Prometheus metrics and the HTTP endpoint that
 * serves them (libmicrohttpd, on its own thread).
 *
 * The relay's thread writes, the HTTP thread reads: every value is an
 * atomic, so no lock is held on the publish path. A scrape sees each value
 * whole, not all of them at one instant, which Prometheus accepts. */
#ifndef SM_RELAY_METRICS_H
#define SM_RELAY_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SM_METRICS_NBUCKETS 16

typedef struct sm_metrics {
    /* from sm_store_stats_get, every stats.interval.ms */
    _Atomic int64_t rows_init, rows_published, rows_complete, rows_dead;
    _Atomic int64_t oldest_init_age_ms; /* -1: none */
    _Atomic int stats_valid;
    /* the relay's own */
    _Atomic uint64_t published_total, retries_total, dead_letters_total;
    _Atomic uint64_t order_violations_total, producer_restarts_total, completed_total;
    _Atomic uint64_t requeued_stale_total, cleaned_total, claims_total, db_errors_total;
    _Atomic uint64_t complete_rounds_total;
    /* topics deleted and created again (issue 18): incarnations this relay
     * began, rows re-queued for it, pairs whose records could not be checked */
    _Atomic uint64_t topic_incarnations_total, requeued_recreated_total, complete_unverified_total;
    _Atomic int64_t owned_slots, inflight;
    _Atomic int broker_up;
    /* created_at -> delivery report, in microseconds */
    _Atomic uint64_t lat_bucket[SM_METRICS_NBUCKETS];
    _Atomic uint64_t lat_count, lat_sum_us;
    _Atomic int64_t loop_tick_ms; /* monotonic; /healthz fails when stale */
    struct MHD_Daemon *httpd;
} sm_metrics;

/* Upper bounds of the latency buckets, in seconds (the last is +Inf). */
extern const double sm_metrics_buckets[SM_METRICS_NBUCKETS];

void sm_metrics_init(sm_metrics *m);
void sm_metrics_observe_latency(sm_metrics *m, int64_t us);

/* Renders the Prometheus text format into buf; returns the length it
 * needs (like snprintf). */
size_t sm_metrics_render(sm_metrics *m, char *buf, size_t len);

/* Listens on host:port (numeric IPv4; port 0: any free port) and serves
 * GET /metrics and /healthz. *bound_port gets the real port. */
int sm_metrics_start(sm_metrics *m, const char *host, int port, int *bound_port, char *err,
                     size_t errlen);
void sm_metrics_stop(sm_metrics *m);

#endif
