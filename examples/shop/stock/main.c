/* shop-stock: consumes order.created from shop.orders (group shop-stock) and
 * decreases its own product quantities, in one transaction with the inbox
 * row, so a redelivered order changes nothing (docs/shop.md "shop-stock").
 * A payload that is not an order (bad JSON, no items, a quantity that is not
 * a positive integer) is rejected once and recorded, never retried. */
#include <stdio.h>
#include <string.h>

#include "shop.h"

#define GROUP "shop-stock"

static const char *const ddl[] = {
    "CREATE TABLE IF NOT EXISTS stock (product TEXT PRIMARY KEY, price BIGINT NOT NULL, "
    "quantity BIGINT NOT NULL)",
    NULL,
};

static int seed(shop_db *db, void *arg, char *err, size_t errlen)
{
    return shop_seed_products(db,
                              "INSERT INTO stock (product, price, quantity) VALUES (?, ?, ?) "
                              "ON CONFLICT (product) DO NOTHING",
                              err, errlen);
}

typedef struct app {
    shop_pool *pool;
    shop_consumer *consumer;
    shop_lat *lat;
} app;

static int apply(shop_db *db, const shop_record *rec, void *ctx, char *err, size_t errlen)
{
    json_t *j = rec->json;
    const char *event = json_string_value(json_object_get(j, "event"));
    if (!j || !event) {
        snprintf(err, errlen, "not an event: a JSON object with \"event\" expected");
        return SHOP_REJECT;
    }
    if (strcmp(event, "order.created") != 0)
        return SHOP_OK; /* not ours to apply; the inbox row marks it seen */
    json_t *items = json_object_get(j, "items");
    if (!json_is_array(items) || json_array_size(items) == 0) {
        snprintf(err, errlen, "order.created without items");
        return SHOP_REJECT;
    }
    /* check everything before changing anything */
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        json_t *q = json_object_get(it, "quantity");
        if (!json_is_string(json_object_get(it, "product")) || !json_is_integer(q) ||
            json_integer_value(q) < 1) {
            snprintf(err, errlen, "items[%zu]: product string and positive integer quantity expected", i);
            return SHOP_REJECT;
        }
    }
    json_array_foreach(items, i, it) {
        const char *p = json_string_value(json_object_get(it, "product"));
        int64_t q = json_integer_value(json_object_get(it, "quantity"));
        shop_res *r;
        int rc = shop_db_exec(db, &r, err, errlen,
                              "UPDATE stock SET quantity = quantity - ? WHERE product = ?", "is",
                              q, p);
        if (rc)
            return rc;
        int64_t changed = shop_res_changes(r);
        shop_res_free(r);
        if (changed != 1) {
            snprintf(err, errlen, "items[%zu]: unknown product %s", i, p);
            return SHOP_REJECT; /* the whole order is rolled back and recorded */
        }
    }
    return SHOP_OK;
}

static json_t *stock_json(shop_db *db, int *rc, char *err, size_t errlen)
{
    shop_res *r;
    *rc = shop_db_exec(db, &r, err, errlen,
                       "SELECT product, quantity FROM stock ORDER BY length(product), product",
                       NULL);
    if (*rc)
        return NULL;
    json_t *o = json_object();
    for (int i = 0; i < shop_res_rows(r); i++)
        json_object_set_new(o, shop_res_text(r, i, 0), json_integer(shop_res_int(r, i, 1)));
    shop_res_free(r);
    return o;
}

static void get_stock(shop_req *req, shop_resp *resp, void *ctx)
{
    app *a = ctx;
    char err[512];
    int rc;
    shop_db *db = shop_pool_get(a->pool);
    json_t *o = stock_json(db, &rc, err, sizeof err);
    shop_pool_put(a->pool, db);
    if (rc)
        shop_resp_db_error(resp, rc, err);
    else
        shop_resp_json(resp, 200, o);
}

static void get_stats(shop_req *req, shop_resp *resp, void *ctx)
{
    app *a = ctx;
    char err[512];
    int rc;
    int64_t applied, dups, rejected;
    shop_consumer_counts(a->consumer, &applied, &dups, &rejected);
    shop_db *db = shop_pool_get(a->pool);
    json_t *o = stock_json(db, &rc, err, sizeof err);
    shop_pool_put(a->pool, db);
    if (rc) {
        shop_resp_db_error(resp, rc, err);
        return;
    }
    shop_resp_json(resp, 200,
                   json_pack("{sIsIsIsoso}", "applied", (json_int_t)applied, "duplicates",
                             (json_int_t)dups, "rejected", (json_int_t)rejected, "stock", o,
                             "latency_ms", shop_lat_json(a->lat)));
}

static const shop_route routes[] = {
    {"GET", "/stock", get_stock},
    {"GET", "/stats", get_stats},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    shop_opts o;
    shop_opts_parse(&o, "stock", 8082, NULL, argc, argv);
    shop_signals_block();
    shop_db *cdb = shop_db_open_or_exit(o.db_url); /* the consumer's connection */
    shop_db_setup_or_exit(cdb, ddl, seed, NULL);

    app a = {0};
    char err[512];
    a.lat = shop_lat_new();
    if (!a.lat) {
        shop_log("out of memory");
        return 1;
    }
    a.pool = shop_pool_open_or_exit(o.db_url, 2);
    static const char *const topics[] = {"shop.orders", NULL};
    shop_consumer_cfg cc = {.opts = &o, .group = GROUP, .topics = topics, .db = cdb,
                            .apply = apply, .ctx = &a, .lat = a.lat};
    if (shop_consumer_start(&a.consumer, &cc, err, sizeof err)) {
        shop_log("consumer: %s", err);
        return 1;
    }
    if (shop_serve(&o, routes, &a) != SHOP_OK) {
        shop_consumer_stop(a.consumer);
        return 1;
    }
    shop_consumer_stop(a.consumer);
    shop_pool_free(a.pool);
    shop_db_free(cdb);
    shop_lat_free(a.lat);
    shop_log("stopped");
    return 0;
}
