/* books.c - shop-load's end: wait until the shop has settled, print the
 * summary and check the books (docs/shop.md "The books").
 *
 * Settled means: no outbox row INIT, no reservation PENDING or
 * CANCEL_REQUESTED, and every consumer group's committed offsets at the
 * partitions' high watermarks (read with librdkafka: OffsetFetch through a
 * consumer handle that never joins the group, and ListOffsets). */
#include "http.h"
#include "load.h"

#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct {
    const char *group, *topic;
} groups[] = {{"shop-stock", "shop.orders"},
              {"shop-sink", "shop.payments"},
              {"shop-rooms", "shop.rooms"},
              {"shop-reservations", "shop.reservation-results"}};
#define NGROUPS (int)(sizeof groups / sizeof groups[0])

/* -- json ------------------------------------------------------------------ */

json_t *sl_jget(json_t *j, const char *path)
{
    char key[128];
    while (j && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = 0;
        j = json_object_get(j, key);
        path += n + (dot ? 1 : 0);
    }
    return j;
}

long long sl_jint(json_t *j, const char *path)
{
    json_t *v = sl_jget(j, path);
    return json_is_number(v) ? (long long)json_number_value(v) : 0;
}

/* -- snapshots --------------------------------------------------------------- */

int sl_snap_take(const sl_opts *o, sl_snap *s, char *err, size_t errlen)
{
    for (int i = 0; i < SL_NSVC; i++) {
        char url[512];
        snprintf(url, sizeof url, "%s/stats", o->url[i]);
        json_t *j = NULL;
        long st = sl_http_call("GET", url, NULL, 30000, &j, err, errlen);
        if (st != 200 || !json_is_object(j)) {
            if (st == 200)
                snprintf(err, errlen, "GET %s: not a JSON object", url);
            json_decref(j);
            sl_snap_release(s);
            return -1;
        }
        s->stats[i] = j;
    }
    return 0;
}

void sl_snap_release(sl_snap *s)
{
    for (int i = 0; i < SL_NSVC; i++) {
        json_decref(s->stats[i]);
        s->stats[i] = NULL;
    }
}

/* -- lag ----------------------------------------------------------------------- */

/* The group's total lag on its topic; -1 when it cannot be read (why). */
static long long group_lag(rd_kafka_t *rk, const char *topic, char *why, size_t whylen)
{
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, 5000);
    rd_kafka_topic_destroy(t);
    if (e || !md || md->topic_cnt != 1 || md->topics[0].err) {
        snprintf(why, whylen, "metadata of %s: %s", topic,
                 rd_kafka_err2str(e ? e : md && md->topic_cnt ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        if (md)
            rd_kafka_metadata_destroy(md);
        return -1;
    }
    int np = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
    for (int p = 0; p < np; p++)
        rd_kafka_topic_partition_list_add(l, topic, p);
    long long lag = 0;
    if ((e = rd_kafka_committed(rk, l, 5000))) {
        snprintf(why, whylen, "committed offsets on %s: %s", topic, rd_kafka_err2str(e));
        lag = -1;
        goto done;
    }
    for (int i = 0; i < l->cnt; i++) {
        int64_t lo = 0, hi = 0;
        if ((e = rd_kafka_query_watermark_offsets(rk, topic, l->elems[i].partition, &lo, &hi, 5000))) {
            snprintf(why, whylen, "offsets of %s [%d]: %s", topic, l->elems[i].partition, rd_kafka_err2str(e));
            lag = -1;
            goto done;
        }
        int64_t c = l->elems[i].offset >= 0 ? l->elems[i].offset : lo;
        if (hi > c)
            lag += hi - c;
    }
done:
    rd_kafka_topic_partition_list_destroy(l);
    return lag;
}

static rd_kafka_t *lag_client(const sl_opts *o, const char *group, char *why, size_t whylen)
{
    char e[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (rd_kafka_conf_set(c, "bootstrap.servers", o->brokers, e, sizeof e) ||
        rd_kafka_conf_set(c, "group.id", group, e, sizeof e) ||
        rd_kafka_conf_set(c, "enable.auto.commit", "false", e, sizeof e) ||
        rd_kafka_conf_set(c, "log_level", "3", e, sizeof e)) {
        snprintf(why, whylen, "librdkafka: %s", e);
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof e);
    if (!rk)
        snprintf(why, whylen, "librdkafka: %s", e);
    return rk;
}

/* -- settle -------------------------------------------------------------------- */

static int not_settled(const sl_opts *o, rd_kafka_t **rk, char *why, size_t whylen)
{
    char err[512];
    sl_snap s = {0};
    if (sl_snap_take(o, &s, err, sizeof err) != 0) {
        snprintf(why, whylen, "%s", err);
        return 1;
    }
    int busy = 1;
    static const int outboxes[] = {SL_ORDERS, SL_RESERVATIONS, SL_ROOMS};
    for (int i = 0; i < 3; i++) {
        long long init = sl_jint(s.stats[outboxes[i]], "outbox.INIT");
        if (init) {
            snprintf(why, whylen, "shop-%s's outbox has %lld INIT rows", sl_svc_name[outboxes[i]], init);
            goto out;
        }
    }
    long long pend = sl_jint(s.stats[SL_RESERVATIONS], "reservations.PENDING");
    long long creq = sl_jint(s.stats[SL_RESERVATIONS], "reservations.CANCEL_REQUESTED");
    if (pend || creq) {
        snprintf(why, whylen, "%lld reservations PENDING, %lld CANCEL_REQUESTED", pend, creq);
        goto out;
    }
    for (int g = 0; g < NGROUPS; g++) {
        if (!rk[g] && !(rk[g] = lag_client(o, groups[g].group, why, whylen)))
            goto out;
        long long lag = group_lag(rk[g], groups[g].topic, err, sizeof err);
        if (lag != 0) {
            if (lag < 0)
                snprintf(why, whylen, "group %s: %s", groups[g].group, err);
            else
                snprintf(why, whylen, "group %s lags %lld records behind on %s", groups[g].group, lag, groups[g].topic);
            goto out;
        }
    }
    busy = 0;
out:
    sl_snap_release(&s);
    return busy;
}

int sl_settle(const sl_opts *o, double timeout_s, char *why, size_t whylen)
{
    rd_kafka_t *rk[NGROUPS] = {0};
    double deadline = sl_now() + timeout_s, last_say = sl_now();
    int ok = 0;
    for (;;) {
        if (!not_settled(o, rk, why, whylen)) {
            ok = 1;
            break;
        }
        double now = sl_now();
        if (now >= deadline)
            break;
        if (now - last_say >= 5) {
            printf("waiting for the shop to settle: %s\n", why);
            last_say = now;
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    for (int g = 0; g < NGROUPS; g++)
        if (rk[g])
            rd_kafka_destroy(rk[g]);
    return ok;
}

/* -- the summary ------------------------------------------------------------------ */

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* p50/p99 of the last `tail` entries of the latency_ms array (all when tail < 0). */
static void latency_line(const char *what, json_t *arr, long long tail)
{
    size_t n = json_array_size(arr);
    size_t from = (tail >= 0 && (size_t)tail < n) ? n - (size_t)tail : 0;
    size_t k = n - from;
    if (!k) {
        printf("  %-34s no events\n", what);
        return;
    }
    long long *v = malloc(k * sizeof *v);
    if (!v)
        return;
    for (size_t i = 0; i < k; i++)
        v[i] = (long long)json_number_value(json_array_get(arr, from + i));
    qsort(v, k, sizeof *v, cmp_ll);
    printf("  %-34s p50 %lld ms, p99 %lld ms, max %lld ms (%zu events)\n", what, v[k / 2],
           v[(size_t)((double)(k - 1) * 0.99)], v[k - 1], k);
    free(v);
}

typedef struct problems {
    char text[16384];
    size_t len;
    int n;
} problems;

static void __attribute__((format(printf, 2, 3))) bad(problems *p, const char *fmt, ...)
{
    va_list ap;
    char line[1024];
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    printf("  DISAGREE: %s\n", line);
    if (p->len + strlen(line) + 3 < sizeof p->text)
        p->len += (size_t)snprintf(p->text + p->len, sizeof p->text - p->len, "%s%s", p->n ? "; " : "", line);
    p->n++;
}

static long long d(const sl_snap *b, const sl_snap *a, int svc, const char *path)
{
    return sl_jint(a->stats[svc], path) - (b ? sl_jint(b->stats[svc], path) : 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int sl_books(const sl_run *r, const sl_snap *b, const sl_snap *a, int settled, const char *why)
{
    const sl_opts *o = &r->o;
    problems P = {.len = 0};
    json_t *const *S = a->stats;

    /* requests */
    if (b) {
        printf("requests (%ld in %.1f s, %.0f/s):\n", r->requests, r->t_traffic,
               r->t_traffic > 0 ? (double)r->requests / r->t_traffic : 0.0);
        for (int k = 0; k < SL_NREQ; k++) {
            char line[512] = "";
            size_t n = 0;
            for (int st = 0; st < 600; st++) {
                if (!r->status_count[k][st] || n >= sizeof line - 32)
                    continue;
                if (st)
                    n += (size_t)snprintf(line + n, sizeof line - n, "  %d: %ld", st, r->status_count[k][st]);
                else
                    n += (size_t)snprintf(line + n, sizeof line - n, "  transport error: %ld", r->status_count[k][st]);
            }
            if (n)
                printf("  %-46s%s\n", sl_req_name[k], line);
            if (r->last_error[k][0] && (r->status_count[k][0] || k != SL_R_BAD_ORDER))
                printf("  %-46s  last non-2xx: %.160s\n", "", r->last_error[k]);
        }
        printf("  orders created %ld, paid %ld (%lld cents)\n", r->status_count[SL_R_ORDER][201], r->paid_count,
               r->paid_total);
    }

    /* events */
    printf("events published (outbox rows by status%s):\n", b ? ", this run" : ", all history");
    static const int outboxes[] = {SL_ORDERS, SL_RESERVATIONS, SL_ROOMS};
    long long published = 0;
    for (int i = 0; i < 3; i++) {
        int s = outboxes[i];
        long long init = sl_jint(S[s], "outbox.INIT"), pub = d(b, a, s, "outbox.PUBLISHED"),
                  com = d(b, a, s, "outbox.COMPLETE"), dead = sl_jint(S[s], "outbox.DEAD");
        published += pub + com;
        printf("  %-14s +%lld published or complete (now: INIT %lld, PUBLISHED %lld, COMPLETE %lld, DEAD %lld)\n",
               sl_svc_name[s], pub + com, init, sl_jint(S[s], "outbox.PUBLISHED"), sl_jint(S[s], "outbox.COMPLETE"),
               dead);
    }
    long long c_stock = d(b, a, SL_STOCK, "applied"), c_sink = d(b, a, SL_SINK, "delivered");
    long long c_rooms = d(b, a, SL_ROOMS, "confirmed") + d(b, a, SL_ROOMS, "rejected") + d(b, a, SL_ROOMS, "cancelled");
    long long c_res = d(b, a, SL_RESERVATIONS, "reservations.CONFIRMED") +
                      d(b, a, SL_RESERVATIONS, "reservations.REJECTED") +
                      d(b, a, SL_RESERVATIONS, "reservations.CANCELLED");
    printf("events consumed:\n");
    printf("  shop-stock        applied %lld, duplicates skipped %lld, rejected %lld\n", c_stock,
           d(b, a, SL_STOCK, "duplicates"), d(b, a, SL_STOCK, "rejected"));
    printf("  shop-sink         delivered %lld (HTTP attempts %lld, failures retried %lld, duplicates %lld)\n", c_sink,
           d(b, a, SL_SINK, "attempts"), d(b, a, SL_SINK, "failures"), d(b, a, SL_SINK, "duplicates"));
    printf("  shop-receiver     stored %lld, duplicates %lld, refused %lld\n", d(b, a, SL_RECEIVER, "stored"),
           d(b, a, SL_RECEIVER, "duplicates"), d(b, a, SL_RECEIVER, "refused"));
    printf("  shop-rooms        confirmed %lld, rejected %lld, cancelled %lld\n", d(b, a, SL_ROOMS, "confirmed"),
           d(b, a, SL_ROOMS, "rejected"), d(b, a, SL_ROOMS, "cancelled"));
    printf("  shop-reservations now CONFIRMED %lld, REJECTED %lld, CANCELLED %lld, PENDING %lld, CANCEL_REQUESTED %lld\n",
           sl_jint(S[SL_RESERVATIONS], "reservations.CONFIRMED"), sl_jint(S[SL_RESERVATIONS], "reservations.REJECTED"),
           sl_jint(S[SL_RESERVATIONS], "reservations.CANCELLED"), sl_jint(S[SL_RESERVATIONS], "reservations.PENDING"),
           sl_jint(S[SL_RESERVATIONS], "reservations.CANCEL_REQUESTED"));

    printf("end-to-end latency (event created to applied%s):\n", b ? ", this run" : ", the services' last events");
    latency_line("orders -> shop-stock", json_object_get(S[SL_STOCK], "latency_ms"), b ? c_stock : -1);
    latency_line("payments -> shop-sink -> receiver", json_object_get(S[SL_SINK], "latency_ms"), b ? c_sink : -1);
    latency_line("reservation -> rooms -> result", json_object_get(S[SL_RESERVATIONS], "latency_ms"),
                 b ? r->resv_created : -1);
    if (b) {
        double total = r->t_traffic + r->t_settle;
        printf("throughput: %.0f HTTP requests/s during the traffic; %lld events published and %lld consumed in "
               "%.1f s (%.0f events/s end to end); settled %.1f s after the traffic\n",
               r->t_traffic > 0 ? (double)r->requests / r->t_traffic : 0.0, published,
               c_stock + c_sink + c_rooms + c_res, total,
               total > 0 ? (double)(c_stock + c_sink + c_rooms + c_res) / total : 0.0, r->t_settle);
    }

    /* the books */
    printf("books:\n");
    if (!settled)
        bad(&P, "not settled after --timeout %.0f s: %s", o->timeout_s, why);

    /* stock: shop-stock's quantities equal shop-orders' catalogue */
    json_t *cat = json_object_get(S[SL_ORDERS], "products"), *stk = json_object_get(S[SL_STOCK], "stock");
    const char *pid;
    json_t *pv;
    int nprod = 0, stock_bad = 0;
    json_object_foreach(cat, pid, pv) {
        nprod++;
        json_t *sv = json_object_get(stk, pid);
        if (!json_is_number(sv) || json_number_value(sv) != json_number_value(pv)) {
            stock_bad++;
            if (json_is_number(sv))
                bad(&P, "stock of %s: shop-orders %lld, shop-stock %lld", pid, (long long)json_number_value(pv),
                    (long long)json_number_value(sv));
            else
                bad(&P, "stock of %s: shop-orders %lld, shop-stock has none", pid, (long long)json_number_value(pv));
        }
    }
    json_object_foreach(stk, pid, pv) {
        if (!json_object_get(cat, pid)) {
            stock_bad++;
            bad(&P, "stock of %s: in shop-stock, not in shop-orders", pid);
        }
    }
    if (!nprod)
        bad(&P, "shop-orders /stats has no products");
    if (!stock_bad && nprod)
        printf("  ok: shop-stock's quantities equal shop-orders' catalogue (%d products)\n", nprod);
    if (b) {
        int dq = 0;
        for (int k = 1; k <= o->products && k < 256; k++) {
            char path[64];
            snprintf(path, sizeof path, "products.p%d", k);
            long long got = -d(b, a, SL_ORDERS, path);
            if (got != r->qty_created[k]) {
                dq++;
                bad(&P, "p%d: catalogue went down by %lld, orders answered 201 for %lld", k, got, r->qty_created[k]);
            }
        }
        if (!dq)
            printf("  ok: the catalogue went down by exactly the quantities of the orders answered 201\n");
    }

    /* balances */
    long long revenue = sl_jint(S[SL_ORDERS], "revenue"), btot = sl_jint(S[SL_ORDERS], "balances_total");
    if (o->initial_balances - revenue != btot)
        bad(&P, "balances: initial %lld - revenue %lld = %lld, balances_total %lld", o->initial_balances, revenue,
            o->initial_balances - revenue, btot);
    else
        printf("  ok: initial balances %lld - revenue %lld = balances_total %lld\n", o->initial_balances, revenue, btot);
    if (b) {
        long long drev = d(b, a, SL_ORDERS, "revenue");
        if (drev != r->paid_total)
            bad(&P, "revenue went up by %lld, payments answered 200 total %lld", drev, r->paid_total);
        else
            printf("  ok: revenue went up by the %ld payments answered 200 (%lld cents)\n", r->paid_count, drev);
        long long dpaid = d(b, a, SL_ORDERS, "orders.paid");
        if (dpaid != r->paid_count)
            bad(&P, "orders.paid went up by %lld, payments answered 200: %ld", dpaid, r->paid_count);
    }

    /* the receiver: one event per paid order, amount = revenue */
    json_t *rorders = json_object_get(S[SL_RECEIVER], "orders");
    size_t nr = json_array_size(rorders);
    long long paid = sl_jint(S[SL_ORDERS], "orders.paid");
    const char **ids = malloc((nr ? nr : 1) * sizeof *ids);
    if (ids) {
        size_t k = 0;
        for (size_t i = 0; i < nr; i++) {
            const char *s = json_string_value(json_array_get(rorders, i));
            if (s)
                ids[k++] = s;
        }
        qsort(ids, k, sizeof *ids, cmp_str);
        size_t dups = 0;
        for (size_t i = 1; i < k; i++)
            if (!strcmp(ids[i], ids[i - 1])) {
                if (!dups)
                    bad(&P, "receiver stored order %s more than once", ids[i]);
                dups++;
            }
        if (dups > 1)
            bad(&P, "receiver: %zu orders stored more than once", dups);
        long long stored = sl_jint(S[SL_RECEIVER], "stored");
        if (stored != paid || (long long)k != paid)
            bad(&P, "receiver stored %lld events (%zu order ids), shop-orders has %lld paid orders", stored, k, paid);
        long long amount = sl_jint(S[SL_RECEIVER], "amount_total");
        if (amount != revenue)
            bad(&P, "receiver amount_total %lld, revenue %lld", amount, revenue);
        long missing = 0;
        if (b && r->orders) {
            for (long i = 0; i < o->orders; i++) {
                const char *key = r->orders[i].id;
                if (!r->orders[i].paid)
                    continue;
                if (!bsearch(&key, ids, k, sizeof *ids, cmp_str)) {
                    if (!missing)
                        bad(&P, "receiver never got paid order %s", key);
                    missing++;
                }
            }
            if (missing > 1)
                bad(&P, "receiver is missing %ld paid orders of this run", missing);
        }
        if (!dups && stored == paid && (long long)k == paid && amount == revenue && !missing)
            printf("  ok: the receiver stored exactly one event per paid order (%lld), amount_total = revenue%s\n",
                   paid, b ? ", every payment of this run among them" : "");
        free(ids);
    }

    /* rooms: taken == confirmed_nights, never above capacity */
    json_t *taken = json_object_get(S[SL_ROOMS], "taken"), *conf = json_object_get(S[SL_RESERVATIONS], "confirmed_nights");
    long nights = 0, rooms_bad = 0;
    const char *room, *night;
    json_t *rv, *nv;
    json_object_foreach(taken, room, rv) {
        json_object_foreach(rv, night, nv) {
            long long t = (long long)json_number_value(nv);
            long long c = (long long)json_number_value(json_object_get(json_object_get(conf, room), night));
            nights++;
            if (t != c) {
                rooms_bad++;
                bad(&P, "room %s on %s: shop-rooms has %lld taken, shop-reservations %lld confirmed", room, night, t, c);
            }
            if (t > o->capacity || t < 0) {
                rooms_bad++;
                bad(&P, "room %s on %s: %lld taken, capacity %d", room, night, t, o->capacity);
            }
        }
    }
    json_object_foreach(conf, room, rv) {
        json_object_foreach(rv, night, nv) {
            long long c = (long long)json_number_value(nv);
            json_t *t = json_object_get(json_object_get(taken, room), night);
            if (!t && c) {
                rooms_bad++;
                bad(&P, "room %s on %s: shop-reservations has %lld confirmed, shop-rooms nothing taken", room, night, c);
            }
        }
    }
    if (!rooms_bad)
        printf("  ok: rooms taken equal confirmed nights, none above capacity %d (%ld room-nights)\n", o->capacity,
               nights);
    long long pend = sl_jint(S[SL_RESERVATIONS], "reservations.PENDING"),
              creq = sl_jint(S[SL_RESERVATIONS], "reservations.CANCEL_REQUESTED");
    if (pend || creq)
        bad(&P, "%lld reservations still PENDING, %lld CANCEL_REQUESTED", pend, creq);
    else
        printf("  ok: no reservation PENDING or CANCEL_REQUESTED\n");
    if (b) {
        long long ended = d(b, a, SL_RESERVATIONS, "reservations.CONFIRMED") +
                          d(b, a, SL_RESERVATIONS, "reservations.REJECTED") +
                          d(b, a, SL_RESERVATIONS, "reservations.CANCELLED");
        if (ended != r->resv_created)
            bad(&P, "reservations answered 202: %ld, but CONFIRMED+REJECTED+CANCELLED went up by %lld",
                r->resv_created, ended);
        else
            printf("  ok: each of the %ld reservations ended CONFIRMED, REJECTED or CANCELLED\n", r->resv_created);
    }

    /* no DEAD outbox row */
    int dead_bad = 0;
    for (int i = 0; i < 3; i++) {
        long long dead = sl_jint(S[outboxes[i]], "outbox.DEAD");
        if (dead) {
            dead_bad++;
            bad(&P, "shop-%s's outbox has %lld DEAD rows", sl_svc_name[outboxes[i]], dead);
        }
    }
    if (!dead_bad)
        printf("  ok: no outbox row is DEAD\n");

    if (P.n)
        printf("books balanced: no: %s\n", P.text);
    else
        printf("books balanced: yes\n");
    return P.n == 0;
}
