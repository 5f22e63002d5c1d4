/* shop-sink: delivers every payment.completed from shop.payments (group
 * shop-sink) to an HTTP endpoint (docs/shop.md "shop-sink").
 *
 * Per record: if the inbox already has it, skip (it was delivered); else
 * POST it with Idempotency-Key = event id until a 2xx, waiting 100 ms
 * doubling to 5 s (with jitter) between tries, forever; then the inbox row,
 * then the offset. A crash between the 2xx and the inbox commit sends the
 * event again after a restart, and the receiver drops it by its key: exactly
 * once in effect. SIGTERM during a wait exits at once without committing. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "shop.h"

#define GROUP "shop-sink"

typedef struct app {
    shop_pool *pool;
    shop_consumer *consumer;
    shop_lat *lat;
    const char *url;
    CURL *curl; /* the consumer thread's */
    atomic_llong attempts, failures;
    unsigned seed;
} app;

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* One POST; returns the HTTP status, or 0 with err on a transport error. */
static long post_once(app *a, const shop_record *rec, char *err, size_t errlen)
{
    char key[256];
    snprintf(key, sizeof key, "Idempotency-Key: %s", rec->event_id);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, key);
    h = curl_slist_append(h, "Expect:");
    CURL *c = a->curl;
    curl_easy_setopt(c, CURLOPT_URL, a->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, rec->value);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)rec->value_len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(h);
    return status;
}

static int deliver(shop_consumer *c, const shop_record *rec, void *ctx)
{
    app *a = ctx;
    const char *event = json_string_value(json_object_get(rec->json, "event"));
    if (!event || strcmp(event, "payment.completed") != 0)
        return SHOP_REJECT; /* not a payment: never sent, recorded as rejected */
    int64_t wait = 100;
    for (int attempt = 1;; attempt++) {
        char err[CURL_ERROR_SIZE + 64] = "";
        atomic_fetch_add(&a->attempts, 1);
        long status = post_once(a, rec, err, sizeof err);
        if (status >= 200 && status < 300) {
            if (rec->created_at_ms > 0)
                shop_lat_add(a->lat, shop_now_ms() - rec->created_at_ms);
            if (attempt > 1)
                shop_log("delivered event %s after %d attempts", rec->event_id, attempt);
            return SHOP_OK;
        }
        atomic_fetch_add(&a->failures, 1);
        if (attempt == 1 || attempt % 10 == 0) {
            if (status)
                snprintf(err, sizeof err, "HTTP %ld", status);
            shop_log("POST %s for event %s, attempt %d: %s; retrying in about %lld ms", a->url,
                     rec->event_id, attempt, err, (long long)wait);
        }
        /* jitter: between half and the whole of the wait */
        int64_t ms = wait / 2 + (int64_t)(rand_r(&a->seed) % (unsigned)(wait / 2 + 1));
        if (shop_consumer_sleep(c, ms))
            return SHOP_ESTOP;
        if (wait < 5000)
            wait = wait * 2 > 5000 ? 5000 : wait * 2;
    }
}

static void get_stats(shop_req *req, shop_resp *resp, void *ctx)
{
    app *a = ctx;
    int64_t delivered, dups, rejected;
    shop_consumer_counts(a->consumer, &delivered, &dups, &rejected);
    shop_resp_json(resp, 200,
                   json_pack("{sIsIsIsIsIso}", "delivered", (json_int_t)delivered, "duplicates",
                             (json_int_t)dups, "rejected", (json_int_t)rejected, "attempts",
                             (json_int_t)atomic_load(&a->attempts), "failures",
                             (json_int_t)atomic_load(&a->failures), "latency_ms",
                             shop_lat_json(a->lat)));
}

static const shop_route routes[] = {
    {"GET", "/stats", get_stats},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    static app a;
    a.url = "http://127.0.0.1:8089/events";
    shop_flag extra[] = {
        {"--sink-url", "URL", "where each payment.completed is POSTed", &a.url},
        {NULL, NULL, NULL, NULL},
    };
    shop_opts o;
    shop_opts_parse(&o, "sink", 8083, extra, argc, argv);
    if (strncmp(a.url, "http://", 7) != 0 && strncmp(a.url, "https://", 8) != 0) {
        fprintf(stderr, "shop-sink: --sink-url %s: expected an http:// or https:// URL\n", a.url);
        return 2;
    }
    shop_signals_block();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(a.curl = curl_easy_init())) {
        shop_log("libcurl: cannot initialise");
        return 1;
    }
    a.seed = (unsigned)shop_mono_ms();
    shop_db *cdb = shop_db_open_or_exit(o.db_url);
    shop_db_setup_or_exit(cdb, NULL, NULL, NULL);
    char err[512];
    a.lat = shop_lat_new();
    if (!a.lat) {
        shop_log("out of memory");
        return 1;
    }
    static const char *const topics[] = {"shop.payments", NULL};
    shop_consumer_cfg cc = {.opts = &o, .group = GROUP, .topics = topics, .db = cdb,
                            .deliver = deliver, .ctx = &a, .async_db_commit = 1};
    if (shop_consumer_start(&a.consumer, &cc, err, sizeof err)) {
        shop_log("consumer: %s", err);
        return 1;
    }
    shop_log("delivering shop.payments to %s", a.url);
    if (shop_serve(&o, routes, &a) != SHOP_OK) {
        shop_consumer_stop(a.consumer);
        return 1;
    }
    shop_consumer_stop(a.consumer);
    shop_db_free(cdb);
    curl_easy_cleanup(a.curl);
    curl_global_cleanup();
    shop_lat_free(a.lat);
    shop_log("stopped");
    return 0;
}
