/* shop-receiver: the "data platform" the sink delivers to (docs/shop.md
 * "shop-receiver"). POST /events stores an event once per Idempotency-Key
 * (a primary key decides, so concurrent duplicates are safe); POST
 * /admin/fail makes /events answer 503 for a while, which is how the demo
 * and the tests show the sink's retries. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "shop.h"

#define MAX_KEY 200
#define MAX_FAIL_MS (3600 * 1000)

static const char *const ddl[] = {
    "CREATE TABLE IF NOT EXISTS events (idempotency_key TEXT PRIMARY KEY, order_id TEXT, "
    "amount BIGINT NOT NULL, body TEXT NOT NULL, stored_at BIGINT NOT NULL)",
    NULL,
};

typedef struct app {
    shop_pool *pool;
    atomic_llong fail_until; /* shop_mono_ms() before which /events answers 503 */
    atomic_llong duplicates, refused;
} app;

static void post_events(shop_req *req, shop_resp *resp, void *ctx)
{
    app *a = ctx;
    if (shop_mono_ms() < atomic_load(&a->fail_until)) {
        atomic_fetch_add(&a->refused, 1);
        shop_resp_error(resp, 503, "unavailable", "failing on purpose (POST /admin/fail)");
        return;
    }
    const char *key = shop_req_header(req, "Idempotency-Key");
    if (!key || !*key || strlen(key) > MAX_KEY) {
        shop_resp_error(resp, 400, "invalid",
                        "Idempotency-Key: required header, 1..%d characters", MAX_KEY);
        return;
    }
    if (!json_is_object(req->json)) {
        shop_resp_error(resp, 400, "invalid", "body: expected a JSON object (the event)");
        return;
    }
    json_t *amount = json_object_get(req->json, "amount");
    json_t *order = json_object_get(req->json, "order");
    if (amount && !json_is_integer(amount)) {
        shop_resp_error(resp, 400, "invalid", "amount: expected an integer (cents)");
        return;
    }
    if (order && !json_is_string(order)) {
        shop_resp_error(resp, 400, "invalid", "order: expected a string");
        return;
    }
    char err[512];
    shop_res *r;
    shop_db *db = shop_pool_get(a->pool);
    int rc = shop_db_exec(db, &r, err, sizeof err,
                          "INSERT INTO events (idempotency_key, order_id, amount, body, stored_at) "
                          "VALUES (?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
                          "ssisi", key, json_string_value(order),
                          (int64_t)(amount ? json_integer_value(amount) : 0), req->body,
                          shop_now_ms());
    shop_pool_put(a->pool, db);
    if (rc) {
        shop_resp_db_error(resp, rc, err);
        return;
    }
    int stored = shop_res_changes(r) == 1;
    shop_res_free(r);
    if (stored) {
        shop_resp_json(resp, 200, json_pack("{sb}", "stored", 1));
    } else {
        atomic_fetch_add(&a->duplicates, 1);
        shop_resp_json(resp, 200, json_pack("{sbsb}", "stored", 0, "duplicate", 1));
    }
}

static void post_fail(shop_req *req, shop_resp *resp, void *ctx)
{
    app *a = ctx;
    json_t *ms = json_object_get(req->json, "for_ms");
    if (!json_is_object(req->json) || !json_is_integer(ms) || json_integer_value(ms) < 0 ||
        json_integer_value(ms) > MAX_FAIL_MS) {
        shop_resp_error(resp, 400, "invalid", "for_ms: required, an integer from 0 to %d",
                        MAX_FAIL_MS);
        return;
    }
    int64_t n = json_integer_value(ms);
    atomic_store(&a->fail_until, n ? shop_mono_ms() + n : 0);
    shop_log("POST /events answers 503 for %lld ms", (long long)n);
    shop_resp_json(resp, 200, json_pack("{sI}", "failing_for_ms", (json_int_t)n));
}

static void get_stats(shop_req *req, shop_resp *resp, void *ctx)
{
    app *a = ctx;
    char err[512];
    shop_res *r = NULL, *ro = NULL;
    shop_db *db = shop_pool_get(a->pool);
    int rc = shop_db_exec(db, &r, err, sizeof err,
                          "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM events", NULL);
    if (!rc)
        rc = shop_db_exec(db, &ro, err, sizeof err,
                          "SELECT order_id FROM events WHERE order_id IS NOT NULL "
                          "ORDER BY stored_at, idempotency_key",
                          NULL);
    shop_pool_put(a->pool, db);
    if (rc) {
        shop_res_free(r);
        shop_resp_db_error(resp, rc, err);
        return;
    }
    json_t *orders = json_array();
    for (int i = 0; i < shop_res_rows(ro); i++)
        json_array_append_new(orders, json_string(shop_res_text(ro, i, 0)));
    int64_t left = atomic_load(&a->fail_until) - shop_mono_ms();
    shop_resp_json(resp, 200,
                   json_pack("{sIsIsIsIsosI}", "stored", (json_int_t)shop_res_int(r, 0, 0),
                             "duplicates", (json_int_t)atomic_load(&a->duplicates), "refused",
                             (json_int_t)atomic_load(&a->refused), "amount_total",
                             (json_int_t)shop_res_int(r, 0, 1), "orders", orders,
                             "failing_for_ms", (json_int_t)(left > 0 ? left : 0)));
    shop_res_free(r);
    shop_res_free(ro);
}

static const shop_route routes[] = {
    {"POST", "/events", post_events},
    {"POST", "/admin/fail", post_fail},
    {"GET", "/stats", get_stats},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    shop_opts o;
    shop_opts_parse(&o, "receiver", 8089, NULL, argc, argv);
    shop_signals_block();
    shop_db *db = shop_db_open_or_exit(o.db_url);
    shop_db_setup_or_exit(db, ddl, NULL, NULL);
    shop_db_free(db);

    static app a; /* atomics zeroed */
    a.pool = shop_pool_open_or_exit(o.db_url, 4);
    int rc = shop_serve(&o, routes, &a);
    shop_pool_free(a.pool);
    if (rc != SHOP_OK)
        return 1;
    shop_log("stopped");
    return 0;
}
