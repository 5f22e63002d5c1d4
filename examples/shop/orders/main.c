/* shop-orders: products with stock, users with balances, orders and their
 * payments (docs/shop.md "shop-orders"). Every write is one transaction with
 * its outbox event: order.created on shop.orders (key = order id),
 * payment.completed on shop.payments (key = user id). Concurrency is safe by
 * conditional updates (stock >= q, balance >= total, status = 'CREATED') whose
 * changed-row count decides, and stock rows are taken in product order so two
 * orders never deadlock. A refusal rolls the whole transaction back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "shop.h"

#define MAX_ITEMS 50
#define MAX_QUANTITY 1000
#define POOL_SIZE 4

static const char *const ddl[] = {
    "CREATE TABLE IF NOT EXISTS products (id TEXT PRIMARY KEY, price BIGINT NOT NULL, "
    "stock BIGINT NOT NULL CHECK (stock >= 0))",
    "CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, balance BIGINT NOT NULL "
    "CHECK (balance >= 0))",
    "CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, "
    "status TEXT NOT NULL, total BIGINT NOT NULL, created_at BIGINT NOT NULL, paid_at BIGINT)",
    "CREATE TABLE IF NOT EXISTS order_items (order_id TEXT NOT NULL, line BIGINT NOT NULL, "
    "product TEXT NOT NULL, quantity BIGINT NOT NULL, price BIGINT NOT NULL, "
    "PRIMARY KEY (order_id, line))",
    "CREATE INDEX IF NOT EXISTS orders_status ON orders (status)",
    NULL,
};

static int seed(shop_db *db, void *arg, char *err, size_t errlen)
{
    int rc = shop_seed_products(
        db, "INSERT INTO products (id, price, stock) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
        err, errlen);
    if (rc)
        return rc;
    return shop_seed_users(
        db, "INSERT INTO users (id, balance) VALUES (?, ?) ON CONFLICT (id) DO NOTHING", err,
        errlen);
}

typedef struct app {
    shop_pool *pool;
} app;

/* A refusal or an answer decided inside a transaction. */
typedef struct outcome {
    int status;
    char code[32];
    char msg[256];
    json_t *body;
} outcome;

static int refuse(outcome *o, int status, const char *code, const char *msg, const char *what)
{
    o->status = status;
    snprintf(o->code, sizeof o->code, "%s", code);
    snprintf(o->msg, sizeof o->msg, msg, what);
    return 1; /* > 0: shop_db_tx rolls back and returns it */
}

static void new_id(char *out, size_t n)
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        int64_t t = shop_mono_ms();
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)(rand() ^ (t >> (i % 8)));
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, n,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

/* ---- POST /orders ---- */

typedef struct line {
    const char *product;
    int64_t quantity;
    int64_t price;
} line;

typedef struct order_in {
    const char *user;
    line items[MAX_ITEMS];
    int n;
    outcome out;
} order_in;

static int cmp_product(const void *a, const void *b)
{
    const line *x = *(const line *const *)a, *y = *(const line *const *)b;
    return strcmp(x->product, y->product);
}

static int create_tx(shop_db *db, void *arg, char *err, size_t errlen)
{
    order_in *in = arg;
    outcome *o = &in->out;
    json_decref(o->body);
    o->body = NULL;
    shop_res *r;
    int rc = shop_db_exec(db, &r, err, errlen, "SELECT 1 FROM users WHERE id = ?", "s", in->user);
    if (rc)
        return rc;
    int found = shop_res_rows(r);
    shop_res_free(r);
    if (!found)
        return refuse(o, 404, "not_found", "user %s not found", in->user);

    /* take stock in product order: two orders never wait on each other in a cycle */
    line *sorted[MAX_ITEMS];
    for (int i = 0; i < in->n; i++)
        sorted[i] = &in->items[i];
    qsort(sorted, (size_t)in->n, sizeof sorted[0], cmp_product);
    int64_t total = 0;
    for (int i = 0; i < in->n; i++) {
        line *l = sorted[i];
        if ((rc = shop_db_exec(db, &r, err, errlen, "SELECT price FROM products WHERE id = ?", "s",
                               l->product)))
            return rc;
        found = shop_res_rows(r);
        l->price = shop_res_int(r, 0, 0);
        shop_res_free(r);
        if (!found)
            return refuse(o, 404, "not_found", "product %s not found", l->product);
        if ((rc = shop_db_exec(db, &r, err, errlen,
                               "UPDATE products SET stock = stock - ? WHERE id = ? AND stock >= ?",
                               "isi", l->quantity, l->product, l->quantity)))
            return rc;
        int64_t changed = shop_res_changes(r);
        shop_res_free(r);
        if (changed != 1)
            return refuse(o, 409, "out_of_stock", "not enough stock of %s", l->product);
        total += l->price * l->quantity;
    }

    char id[SAMSA_EVENT_ID_SIZE];
    new_id(id, sizeof id);
    int64_t now = shop_now_ms();
    if ((rc = shop_db_exec(db, NULL, err, errlen,
                           "INSERT INTO orders (id, user_id, status, total, created_at) "
                           "VALUES (?, ?, 'CREATED', ?, ?)",
                           "ssii", id, in->user, total, now)))
        return rc;
    json_t *items = json_array();
    for (int i = 0; i < in->n; i++) {
        line *l = &in->items[i];
        if ((rc = shop_db_exec(db, NULL, err, errlen,
                               "INSERT INTO order_items (order_id, line, product, quantity, price) "
                               "VALUES (?, ?, ?, ?, ?)",
                               "sisii", id, (int64_t)i, l->product, l->quantity, l->price))) {
            json_decref(items);
            return rc;
        }
        json_array_append_new(items, json_pack("{sssIsI}", "product", l->product, "quantity",
                                               (json_int_t)l->quantity, "price",
                                               (json_int_t)l->price));
    }
    json_t *order = json_pack("{sssssssIsosI}", "id", id, "user", in->user, "status", "CREATED",
                              "total", (json_int_t)total, "items", items, "created_at",
                              (json_int_t)now);
    json_t *ev = json_deep_copy(order);
    json_object_set_new(ev, "event", json_string("order.created"));
    char *payload = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    samsa_event e = {.topic = "shop.orders", .key = id, .payload = payload,
                     .payload_len = payload ? strlen(payload) : 0, .type = "order.created"};
    rc = payload ? shop_db_enqueue(db, &e, NULL, err, errlen) : SHOP_ENOMEM;
    free(payload);
    if (rc) {
        json_decref(order);
        return rc;
    }
    o->status = 201;
    o->body = order;
    return SHOP_OK;
}

/* Validates the request; 0 and fills in, or fills resp with a 400. */
static int parse_order(json_t *j, order_in *in, shop_resp *resp)
{
    if (!json_is_object(j)) {
        shop_resp_error(resp, 400, "invalid", "body: expected a JSON object {\"user\":..,\"items\":[..]}");
        return -1;
    }
    json_t *u = json_object_get(j, "user");
    if (!json_is_string(u) || !json_string_length(u) || json_string_length(u) > 100) {
        shop_resp_error(resp, 400, "invalid", "user: required, a user id string (1..100 chars)");
        return -1;
    }
    in->user = json_string_value(u);
    json_t *items = json_object_get(j, "items");
    if (!json_is_array(items)) {
        shop_resp_error(resp, 400, "invalid", "items: required, an array of {\"product\",\"quantity\"}");
        return -1;
    }
    size_t n = json_array_size(items);
    if (n == 0 || n > MAX_ITEMS) {
        shop_resp_error(resp, 400, "invalid", "items: between 1 and %d items (got %zu)", MAX_ITEMS, n);
        return -1;
    }
    in->n = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(items, i);
        if (!json_is_object(it)) {
            shop_resp_error(resp, 400, "invalid", "items[%zu]: expected an object", i);
            return -1;
        }
        json_t *p = json_object_get(it, "product"), *q = json_object_get(it, "quantity");
        if (!json_is_string(p) || !json_string_length(p) || json_string_length(p) > 100) {
            shop_resp_error(resp, 400, "invalid", "items[%zu].product: required, a product id string", i);
            return -1;
        }
        if (!json_is_integer(q) || json_integer_value(q) < 1 ||
            json_integer_value(q) > MAX_QUANTITY) {
            shop_resp_error(resp, 400, "invalid",
                            "items[%zu].quantity: required, an integer from 1 to %d", i,
                            MAX_QUANTITY);
            return -1;
        }
        /* the same product twice: one line with the sum */
        int k;
        for (k = 0; k < in->n; k++)
            if (!strcmp(in->items[k].product, json_string_value(p)))
                break;
        if (k == in->n) {
            in->items[k].product = json_string_value(p);
            in->items[k].quantity = 0;
            in->n++;
        }
        in->items[k].quantity += json_integer_value(q);
        if (in->items[k].quantity > MAX_QUANTITY) {
            shop_resp_error(resp, 400, "invalid",
                            "items[%zu].quantity: at most %d of %s in one order", i,
                            MAX_QUANTITY, in->items[k].product);
            return -1;
        }
    }
    return 0;
}

static void finish(shop_resp *resp, int rc, outcome *o, const char *err)
{
    if (rc == SHOP_OK) {
        shop_resp_json(resp, o->status, o->body);
        o->body = NULL;
    } else if (rc > 0) {
        shop_resp_error(resp, o->status, o->code, "%s", o->msg);
    } else {
        shop_resp_db_error(resp, rc, err);
    }
    json_decref(o->body);
}

static void post_orders(shop_req *req, shop_resp *resp, void *ctx)
{
    app *a = ctx;
    order_in in = {0};
    if (parse_order(req->json, &in, resp))
        return;
    char err[512];
    shop_db *db = shop_pool_get(a->pool);
    int rc = shop_db_tx(db, create_tx, &in, err, sizeof err);
    shop_pool_put(a->pool, db);
    finish(resp, rc, &in.out, err);
}

/* ---- POST /orders/{id}/payment ---- */

typedef struct pay_in {
    const char *id;
    outcome out;
} pay_in;

static int pay_tx(shop_db *db, void *arg, char *err, size_t errlen)
{
    pay_in *in = arg;
    outcome *o = &in->out;
    json_decref(o->body);
    o->body = NULL;
    shop_res *r;
    int rc = shop_db_exec(db, &r, err, errlen,
                          "SELECT user_id, status, total FROM orders WHERE id = ?", "s", in->id);
    if (rc)
        return rc;
    if (!shop_res_rows(r)) {
        shop_res_free(r);
        return refuse(o, 404, "not_found", "order %s not found", in->id);
    }
    char user[128], status[32];
    snprintf(user, sizeof user, "%s", shop_res_text(r, 0, 0));
    snprintf(status, sizeof status, "%s", shop_res_text(r, 0, 1));
    int64_t total = shop_res_int(r, 0, 2);
    shop_res_free(r);
    if (strcmp(status, "CREATED") != 0)
        return refuse(o, 409, "conflict", "order %s is already paid", in->id);
    if ((rc = shop_db_exec(db, &r, err, errlen,
                           "UPDATE users SET balance = balance - ? WHERE id = ? AND balance >= ?",
                           "isi", total, user, total)))
        return rc;
    int64_t changed = shop_res_changes(r);
    shop_res_free(r);
    if (changed != 1)
        return refuse(o, 402, "insufficient_funds", "the balance of %s is too low for this order",
                      user);
    int64_t now = shop_now_ms();
    if ((rc = shop_db_exec(db, &r, err, errlen,
                           "UPDATE orders SET status = 'PAID', paid_at = ? "
                           "WHERE id = ? AND status = 'CREATED'",
                           "is", now, in->id)))
        return rc;
    changed = shop_res_changes(r);
    shop_res_free(r);
    if (changed != 1) /* paid by a concurrent request since our read */
        return refuse(o, 409, "conflict", "order %s is already paid", in->id);
    json_t *ev = json_pack("{sssssssIsI}", "event", "payment.completed", "order", in->id, "user",
                           user, "amount", (json_int_t)total, "paid_at", (json_int_t)now);
    char *payload = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    samsa_event e = {.topic = "shop.payments", .key = user, .payload = payload,
                     .payload_len = payload ? strlen(payload) : 0, .type = "payment.completed"};
    rc = payload ? shop_db_enqueue(db, &e, NULL, err, errlen) : SHOP_ENOMEM;
    free(payload);
    if (rc)
        return rc;
    o->status = 200;
    o->body = json_pack("{sssssIsssI}", "id", in->id, "status", "PAID", "total",
                        (json_int_t)total, "user", user, "paid_at", (json_int_t)now);
    return SHOP_OK;
}

static void post_payment(shop_req *req, shop_resp *resp, void *ctx)
{
    app *a = ctx;
    if (req->json && !(json_is_object(req->json) && json_object_size(req->json) == 0)) {
        shop_resp_error(resp, 400, "invalid", "body: expected no body or {}");
        return;
    }
    pay_in in = {.id = req->arg[0]};
    char err[512];
    shop_db *db = shop_pool_get(a->pool);
    int rc = shop_db_tx(db, pay_tx, &in, err, sizeof err);
    shop_pool_put(a->pool, db);
    finish(resp, rc, &in.out, err);
}

/* ---- reads ---- */

static json_t *order_json(shop_db *db, const char *id, int *rc, char *err, size_t errlen)
{
    shop_res *r;
    *rc = shop_db_exec(db, &r, err, errlen,
                       "SELECT user_id, status, total, created_at, paid_at FROM orders WHERE id = ?",
                       "s", id);
    if (*rc || !shop_res_rows(r)) {
        shop_res_free(r);
        return NULL;
    }
    json_t *o = json_pack("{sssssssIsI}", "id", id, "user", shop_res_text(r, 0, 0), "status",
                          shop_res_text(r, 0, 1), "total", (json_int_t)shop_res_int(r, 0, 2),
                          "created_at", (json_int_t)shop_res_int(r, 0, 3));
    if (shop_res_text(r, 0, 4))
        json_object_set_new(o, "paid_at", json_integer(shop_res_int(r, 0, 4)));
    shop_res_free(r);
    *rc = shop_db_exec(db, &r, err, errlen,
                       "SELECT product, quantity, price FROM order_items WHERE order_id = ? "
                       "ORDER BY line",
                       "s", id);
    if (*rc) {
        json_decref(o);
        return NULL;
    }
    json_t *items = json_array();
    for (int i = 0; i < shop_res_rows(r); i++)
        json_array_append_new(items, json_pack("{sssIsI}", "product", shop_res_text(r, i, 0),
                                               "quantity", (json_int_t)shop_res_int(r, i, 1),
                                               "price", (json_int_t)shop_res_int(r, i, 2)));
    shop_res_free(r);
    json_object_set_new(o, "items", items);
    return o;
}

static void get_order(shop_req *req, shop_resp *resp, void *ctx)
{
    app *a = ctx;
    char err[512];
    int rc;
    shop_db *db = shop_pool_get(a->pool);
    json_t *o = order_json(db, req->arg[0], &rc, err, sizeof err);
    shop_pool_put(a->pool, db);
    if (rc)
        shop_resp_db_error(resp, rc, err);
    else if (!o)
        shop_resp_error(resp, 404, "not_found", "order %s not found", req->arg[0]);
    else
        shop_resp_json(resp, 200, o);
}

static void get_products(shop_req *req, shop_resp *resp, void *ctx)
{
    app *a = ctx;
    char err[512];
    shop_res *r;
    shop_db *db = shop_pool_get(a->pool);
    int rc = shop_db_exec(db, &r, err, sizeof err,
                          "SELECT id, price, stock FROM products ORDER BY length(id), id", NULL);
    shop_pool_put(a->pool, db);
    if (rc) {
        shop_resp_db_error(resp, rc, err);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < shop_res_rows(r); i++)
        json_array_append_new(arr, json_pack("{sssIsI}", "id", shop_res_text(r, i, 0), "price",
                                             (json_int_t)shop_res_int(r, i, 1), "stock",
                                             (json_int_t)shop_res_int(r, i, 2)));
    shop_res_free(r);
    shop_resp_json(resp, 200, arr);
}

static void get_user(shop_req *req, shop_resp *resp, void *ctx)
{
    app *a = ctx;
    char err[512];
    shop_res *r;
    shop_db *db = shop_pool_get(a->pool);
    int rc = shop_db_exec(db, &r, err, sizeof err, "SELECT balance FROM users WHERE id = ?", "s",
                          req->arg[0]);
    shop_pool_put(a->pool, db);
    if (rc) {
        shop_resp_db_error(resp, rc, err);
        return;
    }
    if (!shop_res_rows(r))
        shop_resp_error(resp, 404, "not_found", "user %s not found", req->arg[0]);
    else
        shop_resp_json(resp, 200, json_pack("{sssI}", "id", req->arg[0], "balance",
                                            (json_int_t)shop_res_int(r, 0, 0)));
    shop_res_free(r);
}

/* The numbers of /stats, read in one transaction so they agree with each other. */
typedef struct stats_out {
    json_t *body;
} stats_out;

static int stats_tx(shop_db *db, void *arg, char *err, size_t errlen)
{
    stats_out *s = arg;
    json_decref(s->body);
    s->body = NULL;
    shop_res *r;
    int rc = shop_db_exec(db, &r, err, errlen,
                          "SELECT COUNT(*), "
                          "COALESCE(SUM(CASE WHEN status = 'PAID' THEN 1 ELSE 0 END), 0), "
                          "COALESCE(SUM(CASE WHEN status = 'PAID' THEN total ELSE 0 END), 0) "
                          "FROM orders",
                          NULL);
    if (rc)
        return rc;
    json_t *b = json_pack("{s{sIsI}sI}", "orders", "created", (json_int_t)shop_res_int(r, 0, 0),
                          "paid", (json_int_t)shop_res_int(r, 0, 1), "revenue",
                          (json_int_t)shop_res_int(r, 0, 2));
    shop_res_free(r);
    if ((rc = shop_db_exec(db, &r, err, errlen,
                           "SELECT id, stock FROM products ORDER BY length(id), id", NULL))) {
        json_decref(b);
        return rc;
    }
    json_t *p = json_object();
    for (int i = 0; i < shop_res_rows(r); i++)
        json_object_set_new(p, shop_res_text(r, i, 0), json_integer(shop_res_int(r, i, 1)));
    shop_res_free(r);
    json_object_set_new(b, "products", p);
    if ((rc = shop_db_exec(db, &r, err, errlen, "SELECT COALESCE(SUM(balance), 0) FROM users",
                           NULL))) {
        json_decref(b);
        return rc;
    }
    json_object_set_new(b, "balances_total", json_integer(shop_res_int(r, 0, 0)));
    shop_res_free(r);
    json_t *ob = shop_outbox_counts(db, err, errlen);
    if (!ob) {
        json_decref(b);
        return SHOP_ERR;
    }
    json_object_set_new(b, "outbox", ob);
    s->body = b;
    return SHOP_OK;
}

static void get_stats(shop_req *req, shop_resp *resp, void *ctx)
{
    app *a = ctx;
    stats_out s = {0};
    /* one snapshot: revenue, balances and stock agree with each other */
    shop_resp_read(resp, a->pool, stats_tx, &s, &s.body, "stats", "");
}

static const shop_route routes[] = {
    {"POST", "/orders", post_orders},
    {"GET", "/orders/{}", get_order},
    {"POST", "/orders/{}/payment", post_payment},
    {"GET", "/products", get_products},
    {"GET", "/users/{}", get_user},
    {"GET", "/stats", get_stats},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    shop_opts o;
    shop_opts_parse(&o, "orders", 8081, NULL, argc, argv);
    shop_signals_block();
    shop_db *db = shop_db_open_or_exit(o.db_url);
    shop_db_setup_or_exit(db, ddl, seed, NULL);
    shop_db_free(db);

    app a = {0};
    a.pool = shop_pool_open_or_exit(o.db_url, POOL_SIZE);
    int rc = shop_serve(&o, routes, &a);
    shop_pool_free(a.pool);
    if (rc != SHOP_OK)
        return 1;
    shop_log("stopped");
    return 0;
}
