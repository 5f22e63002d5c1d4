/* load.h - shop-load's shared state: options, what the traffic got back,
 * and the services' /stats snapshots the books are checked from. */
#ifndef SL_LOAD_H
#define SL_LOAD_H

#include <jansson.h>
#include <stdint.h>

enum { SL_ORDERS, SL_STOCK, SL_SINK, SL_RECEIVER, SL_RESERVATIONS, SL_ROOMS, SL_NSVC };
extern const char *const sl_svc_name[SL_NSVC];

/* request kinds, for the outcome table */
enum { SL_R_ORDER, SL_R_BAD_ORDER, SL_R_PAY, SL_R_RESERVE, SL_R_CANCEL, SL_R_LATE_CANCEL, SL_NREQ };
extern const char *const sl_req_name[SL_NREQ];

typedef struct sl_opts {
    long orders, reservations;
    int concurrency;
    int users, products, rooms;
    int cancel_percent, bad_percent;
    long long initial_balances; /* the seed's total of user balances, cents */
    int capacity;               /* rooms per night (docs/shop.md: 3) */
    const char *url[SL_NSVC];
    const char *brokers;
    double timeout_s;
    uint64_t seed;
    int check_only;
} sl_opts;

/* An order that got 201, and what its payment got. */
typedef struct sl_order {
    char id[64];
    long long total;
    int paid;
} sl_order;

typedef struct sl_run {
    sl_opts o;
    long status_count[SL_NREQ][600]; /* [kind][HTTP status]; 0: transport error */
    char last_error[SL_NREQ][256];
    sl_order *orders;       /* one per order request, id[0]==0 when not created */
    long long qty_created[256]; /* quantities of created orders, by product number */
    long long paid_total;   /* sum of totals of payments answered 200 */
    long paid_count;
    char (*resv)[64];       /* reservation ids that got 202 */
    long resv_created;
    double t_traffic;       /* seconds of traffic */
    double t_settle;        /* seconds from the traffic's end until settled */
    long requests;
} sl_run;

/* The six services' /stats, at one moment. */
typedef struct sl_snap {
    json_t *stats[SL_NSVC];
} sl_snap;

int sl_snap_take(const sl_opts *o, sl_snap *s, char *err, size_t errlen);
void sl_snap_release(sl_snap *s);

/* Waits (bounded by o->timeout_s from now) until settled: no INIT outbox
 * rows, no PENDING or CANCEL_REQUESTED reservation, every group's lag 0.
 * Returns 1 when settled, 0 on timeout with what is missing in why. */
int sl_settle(const sl_opts *o, double timeout_s, char *why, size_t whylen);

/* Prints the summary and checks the books; returns 1 if they balance.
 * before: the snapshot taken at start (NULL with --check-only). */
int sl_books(const sl_run *r, const sl_snap *before, const sl_snap *after, int settled, const char *why);

/* json helpers: a.b.c paths into objects; missing or not a number: 0 */
long long sl_jint(json_t *j, const char *path);
json_t *sl_jget(json_t *j, const char *path);
double sl_now(void);

#endif
