/* shop-reservations (docs/shop.md): the reservations side of the saga.
 *
 * POST /reservations writes a PENDING reservation and room.reserve (topic
 * shop.rooms, key = room id) in one transaction; the reply,
 * reservation.result from shop-rooms, arrives on shop.reservation-results
 * (group shop-reservations) and moves it on, in one transaction with the
 * inbox row:
 *
 *     PENDING ---- CONFIRMED ----> CONFIRMED --DELETE--> CANCELLED + room.cancel
 *        |   \---- REJECTED  ----> REJECTED
 *      DELETE
 *        v
 *     CANCEL_REQUESTED -- CONFIRMED --> CANCELLED + room.cancel
 *                      \- REJECTED  --> CANCELLED
 *
 * Every transition is one UPDATE guarded by the state it leaves (WHERE id =
 * ? AND status = ?), so an HTTP DELETE racing the consumer, or a repeated
 * result, can move a reservation at most once and room.cancel is enqueued
 * at most once per reservation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "shop.h"
#include "stay.h"

#define RESV_CONSUMER "shop-reservations"
#define RESV_TOPIC_IN "shop.reservation-results"
#define RESV_TOPIC_OUT "shop.rooms"
#define RESV_ID_MAX 100     /* longest reservation id accepted from an event */
#define RESV_LIST_MAX 100000 /* longest answer of GET /reservations */

static const char *const resv_ddl[] = {
    "CREATE TABLE IF NOT EXISTS reservations (id TEXT PRIMARY KEY, room TEXT NOT NULL, "
    "check_in TEXT NOT NULL, check_out TEXT NOT NULL, nights BIGINT NOT NULL, "
    "status TEXT NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'REJECTED', "
    "'CANCEL_REQUESTED', 'CANCELLED')), result TEXT, reason TEXT, "
    "created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS reservations_status ON reservations (status, created_at)",
    NULL,
};

static const char *const resv_states[] = {"PENDING", "CONFIRMED", "REJECTED", "CANCEL_REQUESTED",
                                          "CANCELLED", NULL};

#define RESV_COLS "id, room, check_in, check_out, nights, status, result, reason, created_at, updated_at"

typedef struct resv_ctx {
    shop_pool *pool;
    shop_lat *lat;
    shop_consumer *consumer; /* set before HTTP starts */
} resv_ctx;

/* A reservation id: a random UUID v4 in canonical text. */
static int resv_new_id(char *out)
{
    unsigned char b[16];
    static const char hex[] = "0123456789abcdef";
    size_t got = 0;

    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n < 0)
            return -1;
        got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    for (int i = 0, o = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
        out[o] = '\0';
    }
    return 0;
}

/* One row of SELECT RESV_COLS as the API's JSON. */
static json_t *resv_json(const shop_res *r, int i)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I}", "id", shop_res_text(r, i, 0),
                          "room", shop_res_text(r, i, 1), "check_in", shop_res_text(r, i, 2),
                          "check_out", shop_res_text(r, i, 3), "nights",
                          (json_int_t)shop_res_int(r, i, 4), "status", shop_res_text(r, i, 5),
                          "created_at", (json_int_t)shop_res_int(r, i, 8), "updated_at",
                          (json_int_t)shop_res_int(r, i, 9));
    const char *result = shop_res_text(r, i, 6), *reason = shop_res_text(r, i, 7);

    if (o && result)
        json_object_set_new(o, "result", json_string(result));
    if (o && reason)
        json_object_set_new(o, "reason", json_string(reason));
    return o;
}

/* Enqueues room.reserve or room.cancel for a reservation (inside the caller's transaction). */
static int resv_enqueue(shop_db *db, const char *event, const char *id, const char *room,
                        const char *ci, const char *co, char *err, size_t errlen)
{
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s}", "event", event, "reservation", id, "room",
                          room, "check_in", ci, "check_out", co);
    char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    int rc;

    json_decref(p);
    if (text == NULL) {
        snprintf(err, errlen, "out of memory building %s", event);
        return SHOP_ENOMEM;
    }
    samsa_event ev = {
        .topic = RESV_TOPIC_OUT,
        .key = room,
        .payload = text,
        .payload_len = strlen(text),
        .type = event,
    };
    rc = shop_db_enqueue(db, &ev, NULL, err, errlen);
    free(text);
    return rc;
}

/* ---- POST /reservations ------------------------------------------------- */

typedef struct resv_new {
    char id[SAMSA_EVENT_ID_SIZE];
    const char *room, *check_in, *check_out;
    int nights;
    int64_t now;
} resv_new;

static int resv_create_tx(shop_db *db, void *arg, char *err, size_t errlen)
{
    resv_new *n = arg;
    int rc = shop_db_exec(db, NULL, err, errlen,
                          "INSERT INTO reservations (id, room, check_in, check_out, nights, status, "
                          "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'PENDING', ?, ?)",
                          "ssssiii", n->id, n->room, n->check_in, n->check_out, (int64_t)n->nights,
                          n->now, n->now);
    if (rc == SHOP_OK)
        rc = resv_enqueue(db, "room.reserve", n->id, n->room, n->check_in, n->check_out, err, errlen);
    return rc;
}

/* A required string member of the body, or an error naming it. */
static const char *resv_field(shop_req *req, shop_resp *resp, const char *name)
{
    json_t *v = json_object_get(req->json, name);

    if (v == NULL) {
        shop_resp_error(resp, 400, "invalid", "%s is required", name);
        return NULL;
    }
    if (!json_is_string(v)) {
        shop_resp_error(resp, 400, "invalid", "%s must be a string", name);
        return NULL;
    }
    return json_string_value(v);
}

static void resv_create(shop_req *req, shop_resp *resp, void *arg)
{
    resv_ctx *ctx = arg;
    resv_new n = {0};
    int32_t in, out;
    char err[512];

    if (!json_is_object(req->json)) {
        shop_resp_error(resp, 400, "invalid",
                        "the body must be a JSON object {\"room\",\"check_in\",\"check_out\"}");
        return;
    }
    if ((n.room = resv_field(req, resp, "room")) == NULL ||
        (n.check_in = resv_field(req, resp, "check_in")) == NULL ||
        (n.check_out = resv_field(req, resp, "check_out")) == NULL)
        return;
    if ((n.nights = stay_parse(n.check_in, n.check_out, &in, &out, err, sizeof err)) < 0) {
        shop_resp_error(resp, 400, "invalid", "%s", err);
        return;
    }
    if (!stay_room_known(n.room)) {
        shop_resp_error(resp, 404, "not_found", "room \"%.40s\" does not exist (rooms are r1..r%d)",
                        n.room, STAY_ROOMS);
        return;
    }
    if (resv_new_id(n.id) != 0) {
        shop_resp_error(resp, 500, "internal", "no random bytes for an id");
        return;
    }
    n.now = shop_now_ms();

    shop_db *db = shop_pool_get(ctx->pool);
    int rc = shop_db_tx(db, resv_create_tx, &n, err, sizeof err);
    shop_pool_put(ctx->pool, db);
    if (rc != SHOP_OK) {
        shop_resp_db_error(resp, rc, err);
        return;
    }
    shop_resp_json(resp, 202,
                   json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:I, s:I}", "id", n.id, "room", n.room,
                             "check_in", n.check_in, "check_out", n.check_out, "nights", n.nights,
                             "status", "PENDING", "created_at", (json_int_t)n.now, "updated_at",
                             (json_int_t)n.now));
}

/* ---- GET /reservations/{id}, GET /reservations?status=S ----------------- */

/* Every GET reads in one snapshot (shop_db_read): the parts of an answer
 * agree, a read never takes SQLite's write lock, and a lost PostgreSQL
 * connection is reconnected for the next request. A read function may run
 * more than once (retries), so each starts afresh. */
typedef struct resv_read {
    const char *id;     /* GET /reservations/{id} */
    const char *status; /* GET /reservations?status=S, NULL: all */
    json_t *out;        /* the answer; NULL: not found */
} resv_read;

static void resv_read_reset(resv_read *q)
{
    json_decref(q->out);
    q->out = NULL;
}

/* Runs fn in a read snapshot on a pooled connection and answers with q->out,
 * or 404 naming the reservation, or the database error. */
static void resv_answer(resv_ctx *ctx, shop_resp *resp, shop_tx_fn fn, resv_read *q)
{
    shop_resp_read(resp, ctx->pool, fn, q, &q->out, "reservation", q->id);
}

static int resv_get_read(shop_db *db, void *arg, char *err, size_t errlen)
{
    resv_read *q = arg;
    shop_res *r = NULL;
    int rc = shop_db_exec(db, &r, err, errlen, "SELECT " RESV_COLS " FROM reservations WHERE id = ?",
                          "s", q->id);

    resv_read_reset(q);
    if (rc == SHOP_OK && shop_res_rows(r) == 1)
        q->out = resv_json(r, 0);
    shop_res_free(r);
    return rc;
}

static void resv_get(shop_req *req, shop_resp *resp, void *arg)
{
    resv_read q = {.id = req->arg[0]};
    resv_answer(arg, resp, resv_get_read, &q);
}

static int resv_list_read(shop_db *db, void *arg, char *err, size_t errlen)
{
    resv_read *q = arg;
    shop_res *r = NULL;
    int rc;

    resv_read_reset(q);
    if (q->status)
        rc = shop_db_exec(db, &r, err, errlen,
                          "SELECT " RESV_COLS " FROM reservations WHERE status = ? "
                          "ORDER BY created_at, id LIMIT ?",
                          "si", q->status, (int64_t)RESV_LIST_MAX);
    else
        rc = shop_db_exec(db, &r, err, errlen,
                          "SELECT " RESV_COLS " FROM reservations ORDER BY created_at, id LIMIT ?", "i",
                          (int64_t)RESV_LIST_MAX);
    if (rc == SHOP_OK) {
        q->out = json_array();
        for (int i = 0; i < shop_res_rows(r); i++)
            json_array_append_new(q->out, resv_json(r, i));
    }
    shop_res_free(r);
    return rc;
}

static void resv_list(shop_req *req, shop_resp *resp, void *arg)
{
    resv_read q = {.status = shop_req_query(req, "status")};
    int known = 0;

    for (int i = 0; q.status && resv_states[i]; i++)
        known |= strcmp(q.status, resv_states[i]) == 0;
    if (q.status && !known) {
        shop_resp_error(resp, 400, "invalid",
                        "status: \"%.40s\" is not one of PENDING, CONFIRMED, REJECTED, "
                        "CANCEL_REQUESTED, CANCELLED",
                        q.status);
        return;
    }
    resv_answer(arg, resp, resv_list_read, &q);
}

/* ---- DELETE /reservations/{id} ------------------------------------------ */

/* > 0: shop_db_tx rolls back and returns it */
enum { RESV_NOT_FOUND = 1, RESV_CONFLICT };

typedef struct resv_del {
    const char *id;
    int64_t now;
    int answer;      /* committed: 200 (CANCELLED) or 202 (CANCEL_REQUESTED) */
    char status[32]; /* the state found, for a 409 */
} resv_del;

static int resv_delete_tx(shop_db *db, void *arg, char *err, size_t errlen)
{
    resv_del *d = arg;
    shop_res *r = NULL;
    int rc;

    d->answer = 0; /* the transaction may be tried again */
    d->status[0] = '\0';
    rc = shop_db_exec(db, &r, err, errlen,
                      "UPDATE reservations SET status = 'CANCELLED', updated_at = ? "
                      "WHERE id = ? AND status = 'CONFIRMED'",
                      "is", d->now, d->id);
    if (rc == SHOP_OK && shop_res_changes(r) == 1) {
        shop_res_free(r);
        r = NULL;
        rc = shop_db_exec(db, &r, err, errlen,
                          "SELECT room, check_in, check_out FROM reservations WHERE id = ?", "s", d->id);
        if (rc == SHOP_OK)
            rc = resv_enqueue(db, "room.cancel", d->id, shop_res_text(r, 0, 0), shop_res_text(r, 0, 1),
                              shop_res_text(r, 0, 2), err, errlen);
        shop_res_free(r);
        d->answer = 200;
        return rc;
    }
    shop_res_free(r);
    r = NULL;
    if (rc != SHOP_OK)
        return rc;
    rc = shop_db_exec(db, &r, err, errlen,
                      "UPDATE reservations SET status = 'CANCEL_REQUESTED', updated_at = ? "
                      "WHERE id = ? AND status = 'PENDING'",
                      "is", d->now, d->id);
    if (rc == SHOP_OK && shop_res_changes(r) == 1) {
        shop_res_free(r);
        d->answer = 202;
        return SHOP_OK;
    }
    shop_res_free(r);
    r = NULL;
    if (rc != SHOP_OK)
        return rc;
    rc = shop_db_exec(db, &r, err, errlen, "SELECT status FROM reservations WHERE id = ?", "s", d->id);
    if (rc == SHOP_OK && shop_res_rows(r) == 0) {
        rc = RESV_NOT_FOUND;
    } else if (rc == SHOP_OK) {
        const char *now = shop_res_text(r, 0, 0);
        if (strcmp(now, "PENDING") == 0 || strcmp(now, "CONFIRMED") == 0) {
            /* PostgreSQL, READ COMMITTED: the consumer moved it between
             * our two UPDATEs (PENDING -> CONFIRMED). Cancellable still:
             * try the whole transaction again. */
            snprintf(err, errlen, "reservation %s changed concurrently (now %s)", d->id, now);
            rc = SHOP_EBUSY;
        } else {
            rc = RESV_CONFLICT;
            snprintf(d->status, sizeof d->status, "%s", now);
        }
    }
    shop_res_free(r);
    return rc;
}

static void resv_delete(shop_req *req, shop_resp *resp, void *arg)
{
    resv_ctx *ctx = arg;
    resv_del d = {.id = req->arg[0], .now = shop_now_ms()};
    char err[512];

    shop_db *db = shop_pool_get(ctx->pool);
    int rc = shop_db_tx(db, resv_delete_tx, &d, err, sizeof err);
    shop_pool_put(ctx->pool, db);

    if (rc == SHOP_OK && d.answer == 200)
        shop_resp_json(resp, 200, json_pack("{s:s, s:s}", "id", d.id, "status", "CANCELLED"));
    else if (rc == SHOP_OK)
        shop_resp_json(resp, 202, json_pack("{s:s, s:s}", "id", d.id, "status", "CANCEL_REQUESTED"));
    else if (rc == RESV_NOT_FOUND)
        shop_resp_error(resp, 404, "not_found", "reservation %.100s does not exist", d.id);
    else if (rc == RESV_CONFLICT)
        shop_resp_error(resp, 409, "conflict", "reservation %.100s is %s: it cannot be cancelled",
                        d.id, d.status);
    else
        shop_resp_db_error(resp, rc, err);
}

/* ---- GET /stats ---------------------------------------------------------- */

static int resv_stats_read(shop_db *db, void *arg, char *err, size_t errlen)
{
    resv_read *q = arg;
    shop_res *s = NULL, *c = NULL;
    json_t *counts, *nights, *outbox = NULL;
    int rc;

    resv_read_reset(q);
    rc = shop_db_exec(db, &s, err, errlen, "SELECT status, COUNT(*) FROM reservations GROUP BY status",
                      "");
    if (rc == SHOP_OK)
        rc = shop_db_exec(db, &c, err, errlen,
                          "SELECT room, check_in, check_out FROM reservations WHERE status = 'CONFIRMED'",
                          "");
    if (rc == SHOP_OK && (outbox = shop_outbox_counts(db, err, errlen)) == NULL)
        rc = SHOP_ERR;
    if (rc != SHOP_OK)
        goto done;
    counts = json_object();
    for (int i = 0; resv_states[i]; i++)
        json_object_set_new(counts, resv_states[i], json_integer(0));
    for (int i = 0; i < shop_res_rows(s); i++)
        json_object_set_new(counts, shop_res_text(s, i, 0), json_integer(shop_res_int(s, i, 1)));
    nights = json_object();
    for (int i = 0; i < shop_res_rows(c); i++) {
        const char *room = shop_res_text(c, i, 0);
        json_t *per_room = json_object_get(nights, room);
        int32_t in, out;
        char why[256];

        if (stay_parse(shop_res_text(c, i, 1), shop_res_text(c, i, 2), &in, &out, why, sizeof why) < 0)
            continue; /* never written: POST validates */
        if (per_room == NULL) {
            per_room = json_object();
            json_object_set_new(nights, room, per_room);
        }
        for (int32_t n = in; n < out; n++) {
            char night[STAY_DATE_SIZE];
            stay_date_format(n, night);
            json_object_set_new(per_room, night,
                                json_integer(json_integer_value(json_object_get(per_room, night)) + 1));
        }
    }
    q->out = json_pack("{s:o, s:o, s:o}", "reservations", counts, "confirmed_nights", nights, "outbox",
                       outbox);
done:
    shop_res_free(s);
    shop_res_free(c);
    return rc;
}

static void resv_stats(shop_req *req, shop_resp *resp, void *arg)
{
    resv_ctx *ctx = arg;
    resv_read q = {.id = "(none)"};
    int64_t applied, duplicates, rejected;

    resv_answer(ctx, resp, resv_stats_read, &q);
    if (resp->status != 200 || resp->json == NULL)
        return;
    json_object_set_new(resp->json, "latency_ms", shop_lat_json(ctx->lat));
    if (ctx->consumer) {
        shop_consumer_counts(ctx->consumer, &applied, &duplicates, &rejected);
        json_object_set_new(resp->json, "events",
                            json_pack("{s:I, s:I, s:I}", "applied", (json_int_t)applied, "duplicates",
                                      (json_int_t)duplicates, "rejected", (json_int_t)rejected));
    }
}

/* ---- the consumer: reservation.result ------------------------------------ */

static int resv_apply(shop_db *db, const shop_record *rec, void *arg, char *err, size_t errlen)
{
    resv_ctx *ctx = arg;
    json_t *j = rec->json;
    json_t *jid = json_object_get(j, "reservation"), *jres = json_object_get(j, "result");
    json_t *jreason = json_object_get(j, "reason");
    const char *id, *result, *reason;
    int64_t now = shop_now_ms();
    shop_res *r = NULL;
    int rc;

    if (j == NULL) {
        snprintf(err, errlen, "payload is not a JSON object");
        return SHOP_REJECT;
    }
    if (!json_is_string(jid) || json_string_length(jid) == 0 || json_string_length(jid) > RESV_ID_MAX) {
        snprintf(err, errlen, "\"reservation\" must be a string of 1..%d characters", RESV_ID_MAX);
        return SHOP_REJECT;
    }
    result = json_is_string(jres) ? json_string_value(jres) : "";
    if (strcmp(result, "CONFIRMED") != 0 && strcmp(result, "REJECTED") != 0) {
        snprintf(err, errlen, "\"result\" must be \"CONFIRMED\" or \"REJECTED\"");
        return SHOP_REJECT;
    }
    if (jreason != NULL && !json_is_null(jreason) && !json_is_string(jreason)) {
        snprintf(err, errlen, "\"reason\" must be a string or null");
        return SHOP_REJECT;
    }
    id = json_string_value(jid);
    reason = json_is_string(jreason) ? json_string_value(jreason) : NULL;

    rc = shop_db_exec(db, &r, err, errlen,
                      "SELECT status, created_at, room, check_in, check_out FROM reservations "
                      "WHERE id = ?",
                      "s", id);
    if (rc != SHOP_OK)
        goto done;
    if (shop_res_rows(r) == 0) {
        shop_log("reservation.result %s: unknown reservation %s; nothing changed", rec->event_id, id);
        goto done;
    }
    const char *status = shop_res_text(r, 0, 0);
    shop_res *u = NULL;
    if (strcmp(status, "PENDING") == 0) {
        rc = shop_db_exec(db, &u, err, errlen,
                          "UPDATE reservations SET status = ?, result = ?, reason = ?, updated_at = ? "
                          "WHERE id = ? AND status = 'PENDING'",
                          "sssis", result, result, reason, now, id);
    } else if (strcmp(status, "CANCEL_REQUESTED") == 0) {
        rc = shop_db_exec(db, &u, err, errlen,
                          "UPDATE reservations SET status = 'CANCELLED', result = ?, reason = ?, "
                          "updated_at = ? WHERE id = ? AND status = 'CANCEL_REQUESTED'",
                          "ssis", result, reason, now, id);
        /* the rooms were taken for a guest who has left: give them back */
        if (rc == SHOP_OK && shop_res_changes(u) == 1 && strcmp(result, "CONFIRMED") == 0)
            rc = resv_enqueue(db, "room.cancel", id, shop_res_text(r, 0, 2), shop_res_text(r, 0, 3),
                              shop_res_text(r, 0, 4), err, errlen);
    } else {
        shop_log("reservation.result %s: reservation %s is already %s; nothing changed",
                 rec->event_id, id, status);
        goto done;
    }
    if (rc == SHOP_OK && shop_res_changes(u) != 1) {
        /* the row moved between our read and write: only another writer
         * could do that, and the transaction is retried */
        snprintf(err, errlen, "reservation %s changed concurrently", id);
        rc = SHOP_EBUSY;
    }
    shop_res_free(u);
    if (rc == SHOP_OK)
        shop_lat_add(ctx->lat, now - shop_res_int(r, 0, 1));
done:
    shop_res_free(r);
    return rc;
}

static const shop_route resv_routes[] = {
    {"POST", "/reservations", resv_create},
    {"GET", "/reservations", resv_list},
    {"GET", "/reservations/{}", resv_get},
    {"DELETE", "/reservations/{}", resv_delete},
    {"GET", "/stats", resv_stats},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    static const char *const topics[] = {RESV_TOPIC_IN, NULL};
    shop_opts o;
    resv_ctx ctx = {0};
    shop_consumer *consumer = NULL;
    shop_db *db;
    char err[512];

    shop_opts_parse(&o, "reservations", 8084, NULL, argc, argv);
    shop_signals_block();
    db = shop_db_open_or_exit(o.db_url);
    shop_db_setup_or_exit(db, resv_ddl, NULL, NULL);

    ctx.lat = shop_lat_new();
    if (ctx.lat == NULL) {
        shop_log("out of memory");
        return 1;
    }
    ctx.pool = shop_pool_open_or_exit(o.db_url, 4);
    shop_consumer_cfg cfg = {
        .opts = &o,
        .group = RESV_CONSUMER,
        .topics = topics,
        .db = db,
        .apply = resv_apply,
        .ctx = &ctx,
    };
    if (shop_consumer_start(&consumer, &cfg, err, sizeof err) != SHOP_OK) {
        shop_log("%s", err);
        shop_pool_free(ctx.pool);
        shop_lat_free(ctx.lat);
        shop_db_free(db);
        return 1;
    }
    ctx.consumer = consumer;
    int rc = shop_serve(&o, resv_routes, &ctx);
    shop_consumer_stop(consumer);
    shop_pool_free(ctx.pool);
    shop_lat_free(ctx.lat);
    shop_db_free(db);
    if (rc != SHOP_OK)
        return 1;
    shop_log("stopped");
    return 0;
}
