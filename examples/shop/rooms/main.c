/* shop-rooms (docs/shop.md): the rooms side of the reservation saga.
 *
 * Consumes shop.rooms (group shop-rooms). For each record, in ONE database
 * transaction: the inbox row, the effect, and (for room.reserve) the reply
 * reservation.result on shop.reservation-results through the outbox.
 *
 * The invariant, never overbook, is held by the database itself:
 * room_nights(room, night, capacity, taken) has CHECK (taken BETWEEN 0 AND
 * capacity), and a night is taken with one conditional upsert that changes
 * no row when the night is full. The nights of a stay are taken inside a
 * savepoint, so a stay takes all its nights or none. bookings records the
 * verdict per reservation: a redelivered or repeated room.reserve for a
 * known reservation changes nothing, and room.cancel gives nights back only
 * when it moves a booking from CONFIRMED to CANCELLED (exactly once). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shop.h"
#include "stay.h"

#define ROOMS_CONSUMER "shop-rooms"
#define ROOMS_TOPIC_IN "shop.rooms"
#define ROOMS_TOPIC_OUT "shop.reservation-results"
#define ROOMS_ID_MAX 100             /* longest reservation id accepted from an event */
#define ROOMS_AVAIL_MAX_DAYS 366     /* widest /availability window */

static const char *const rooms_ddl[] = {
    "CREATE TABLE IF NOT EXISTS rooms (id TEXT PRIMARY KEY, capacity BIGINT NOT NULL "
    "CHECK (capacity >= 0))",
    "CREATE TABLE IF NOT EXISTS room_nights (room TEXT NOT NULL, night TEXT NOT NULL, "
    "capacity BIGINT NOT NULL, taken BIGINT NOT NULL, PRIMARY KEY (room, night), "
    "CHECK (taken >= 0 AND taken <= capacity))",
    "CREATE TABLE IF NOT EXISTS bookings (reservation TEXT PRIMARY KEY, room TEXT NOT NULL, "
    "check_in TEXT NOT NULL, check_out TEXT NOT NULL, status TEXT NOT NULL "
    "CHECK (status IN ('CONFIRMED', 'REJECTED', 'CANCELLED')), reason TEXT, "
    "reserve_event TEXT NOT NULL, cancel_event TEXT, decided_at BIGINT NOT NULL, "
    "cancelled_at BIGINT)",
    "CREATE INDEX IF NOT EXISTS bookings_status ON bookings (status)",
    NULL,
};

typedef struct rooms_ctx {
    shop_pool *pool;
    shop_consumer *consumer; /* set before HTTP starts */
} rooms_ctx;

static int rooms_seed(shop_db *db, void *arg, char *err, size_t errlen)
{
    return shop_seed_rooms(db, "INSERT INTO rooms (id, capacity) VALUES (?, ?) ON CONFLICT DO NOTHING",
                           err, errlen);
}

/* ---- the consumer ----------------------------------------------------- */

/* A string member of an event, or NULL when absent or not a string. */
static const char *rooms_str(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int rooms_reply(shop_db *db, const char *reservation, const char *room, const char *result,
                       const char *reason, char *err, size_t errlen)
{
    json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "event", "reservation.result", "reservation",
                          reservation, "room", room ? room : "", "result", result, "reason", reason);
    char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    int rc;

    json_decref(p);
    if (text == NULL) {
        snprintf(err, errlen, "out of memory building reservation.result");
        return SHOP_ENOMEM;
    }
    samsa_event ev = {
        .topic = ROOMS_TOPIC_OUT,
        .key = reservation,
        .payload = text,
        .payload_len = strlen(text),
        .type = "reservation.result",
    };
    rc = shop_db_enqueue(db, &ev, NULL, err, errlen);
    free(text);
    return rc;
}

/* Takes every night of [in, out) of room, or none. Returns 0 with *full = -1
 * when all were taken, 0 with *full = the first full night otherwise
 * (nothing taken), or a database error. */
static int rooms_take(shop_db *db, const char *room, int64_t capacity, int32_t in, int32_t out,
                      int32_t *full, char *err, size_t errlen)
{
    int rc = shop_db_exec(db, NULL, err, errlen, "SAVEPOINT rooms_take", "");

    *full = -1;
    for (int32_t n = in; rc == SHOP_OK && n < out; n++) {
        char night[STAY_DATE_SIZE];
        shop_res *r = NULL;

        stay_date_format(n, night);
        rc = shop_db_exec(db, &r, err, errlen,
                          "INSERT INTO room_nights (room, night, capacity, taken) VALUES (?, ?, ?, 1) "
                          "ON CONFLICT (room, night) DO UPDATE SET taken = room_nights.taken + 1 "
                          "WHERE room_nights.taken < room_nights.capacity",
                          "ssi", room, night, capacity);
        if (rc == SHOP_OK && shop_res_changes(r) != 1)
            *full = n;
        shop_res_free(r);
        if (*full >= 0)
            break;
    }
    if (rc != SHOP_OK)
        return rc; /* the whole transaction rolls back */
    if (*full >= 0)
        rc = shop_db_exec(db, NULL, err, errlen, "ROLLBACK TO SAVEPOINT rooms_take", "");
    if (rc == SHOP_OK)
        rc = shop_db_exec(db, NULL, err, errlen, "RELEASE SAVEPOINT rooms_take", "");
    return rc;
}

static int rooms_reserve(shop_db *db, const shop_record *rec, const char *reservation, char *err,
                         size_t errlen)
{
    const char *room = rooms_str(rec->json, "room");
    const char *ci = rooms_str(rec->json, "check_in");
    const char *co = rooms_str(rec->json, "check_out");
    char reason[256] = "";
    int32_t in = 0, out = 0, full = -1;
    int64_t capacity = 0;
    shop_res *r = NULL;
    int rc;

    rc = shop_db_exec(db, &r, err, errlen, "SELECT status FROM bookings WHERE reservation = ?", "s",
                      reservation);
    if (rc != SHOP_OK)
        goto done;
    if (shop_res_rows(r) > 0) {
        /* A second room.reserve for a reservation already decided (another
         * event id): the first verdict stands, nothing changes. */
        shop_log("room.reserve %s: reservation %s already %s; nothing changed", rec->event_id,
                 reservation, shop_res_text(r, 0, 0));
        goto done;
    }
    shop_res_free(r);
    r = NULL;

    /* The reservations service validated all of this; an event that is
     * still wrong gets a REJECTED verdict, so its reservation never waits. */
    if (room == NULL || !stay_room_known(room)) {
        snprintf(reason, sizeof reason, "unknown room %.40s", room ? room : "(none)");
    } else if (stay_parse(ci, co, &in, &out, reason, sizeof reason) < 0) {
        /* reason says which date is wrong */
    } else {
        rc = shop_db_exec(db, &r, err, errlen, "SELECT capacity FROM rooms WHERE id = ?", "s", room);
        if (rc != SHOP_OK)
            goto done;
        if (shop_res_rows(r) == 0)
            snprintf(reason, sizeof reason, "unknown room %s", room);
        else
            capacity = shop_res_int(r, 0, 0);
        shop_res_free(r);
        r = NULL;
    }
    if (reason[0] == '\0') {
        rc = rooms_take(db, room, capacity, in, out, &full, err, errlen);
        if (rc != SHOP_OK)
            goto done;
        if (full >= 0) {
            char night[STAY_DATE_SIZE];
            stay_date_format(full, night);
            snprintf(reason, sizeof reason, "sold out on %s", night);
        }
    }
    const char *verdict = reason[0] ? "REJECTED" : "CONFIRMED";
    rc = shop_db_exec(db, NULL, err, errlen,
                      "INSERT INTO bookings (reservation, room, check_in, check_out, status, reason, "
                      "reserve_event, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      "sssssssi", reservation, room ? room : "", ci ? ci : "", co ? co : "", verdict,
                      reason[0] ? reason : NULL, rec->event_id, shop_now_ms());
    if (rc == SHOP_OK)
        rc = rooms_reply(db, reservation, room, verdict, reason[0] ? reason : NULL, err, errlen);
done:
    shop_res_free(r);
    return rc;
}

static int rooms_cancel(shop_db *db, const shop_record *rec, const char *reservation, char *err,
                        size_t errlen)
{
    shop_res *r = NULL;
    int32_t in, out;
    char why[256];
    int rc;

    /* The state change is the guard: only one room.cancel ever moves a
     * booking out of CONFIRMED, so the nights come back once. */
    rc = shop_db_exec(db, &r, err, errlen,
                      "UPDATE bookings SET status = 'CANCELLED', cancel_event = ?, cancelled_at = ? "
                      "WHERE reservation = ? AND status = 'CONFIRMED'",
                      "sis", rec->event_id, shop_now_ms(), reservation);
    if (rc != SHOP_OK)
        goto done;
    if (shop_res_changes(r) != 1) {
        shop_log("room.cancel %s: reservation %s is not a confirmed booking; nothing changed",
                 rec->event_id, reservation);
        goto done;
    }
    shop_res_free(r);
    r = NULL;
    rc = shop_db_exec(db, &r, err, errlen,
                      "SELECT room, check_in, check_out FROM bookings WHERE reservation = ?", "s",
                      reservation);
    if (rc != SHOP_OK)
        goto done;
    if (shop_res_rows(r) != 1 ||
        stay_parse(shop_res_text(r, 0, 1), shop_res_text(r, 0, 2), &in, &out, why, sizeof why) < 0) {
        snprintf(err, errlen, "booking %s has no valid stay", reservation);
        rc = SHOP_REJECT; /* as above: never written so */
        goto done;
    }
    for (int32_t n = in; rc == SHOP_OK && n < out; n++) {
        char night[STAY_DATE_SIZE];
        shop_res *u = NULL;

        stay_date_format(n, night);
        rc = shop_db_exec(db, &u, err, errlen,
                          "UPDATE room_nights SET taken = taken - 1 WHERE room = ? AND night = ? "
                          "AND taken > 0",
                          "ss", shop_res_text(r, 0, 0), night);
        if (rc == SHOP_OK && shop_res_changes(u) != 1) {
            /* Unreachable unless the tables were edited by hand: roll back,
             * keep the books as they were, and record the event as
             * rejected rather than block the partition with retries. */
            snprintf(err, errlen, "booking %s: night %s of %s was not taken; nothing given back",
                     reservation, night, shop_res_text(r, 0, 0));
            rc = SHOP_REJECT;
        }
        shop_res_free(u);
    }
done:
    shop_res_free(r);
    return rc;
}

static int rooms_apply(shop_db *db, const shop_record *rec, void *ctx, char *err, size_t errlen)
{
    const char *event = rooms_str(rec->json, "event");
    const char *reservation = rooms_str(rec->json, "reservation");

    if (rec->json == NULL) {
        snprintf(err, errlen, "payload is not a JSON object");
        return SHOP_REJECT;
    }
    if (event == NULL) {
        snprintf(err, errlen, "payload has no \"event\" string");
        return SHOP_REJECT;
    }
    if (reservation == NULL || reservation[0] == '\0' || strlen(reservation) > ROOMS_ID_MAX) {
        snprintf(err, errlen, "%s: \"reservation\" must be a string of 1..%d characters", event,
                 ROOMS_ID_MAX);
        return SHOP_REJECT;
    }
    if (strcmp(event, "room.reserve") == 0)
        return rooms_reserve(db, rec, reservation, err, errlen);
    if (strcmp(event, "room.cancel") == 0)
        return rooms_cancel(db, rec, reservation, err, errlen);
    snprintf(err, errlen, "unknown event \"%.60s\"", event);
    return SHOP_REJECT;
}

/* ---- HTTP --------------------------------------------------------------- */

/* Every GET reads in one snapshot (shop_db_read): the parts of an answer
 * agree with each other, a read never takes SQLite's write lock, and a lost
 * PostgreSQL connection is reconnected for the next request. The read
 * functions may run more than once (retries), so each starts afresh. */
typedef struct rooms_read {
    const char *room;
    int32_t from, to;
    json_t *out; /* the answer; NULL: room not found */
} rooms_read;

static void rooms_read_reset(rooms_read *q)
{
    json_decref(q->out);
    q->out = NULL;
}

/* Runs fn in a read snapshot on a pooled connection and answers with q->out,
 * or 404 naming the room, or the database error. */
static void rooms_answer(rooms_ctx *ctx, shop_resp *resp, shop_tx_fn fn, rooms_read *q)
{
    shop_resp_read(resp, ctx->pool, fn, q, &q->out, "room", q->room);
}

static int rooms_list_read(shop_db *db, void *arg, char *err, size_t errlen)
{
    rooms_read *q = arg;
    shop_res *r = NULL;
    int rc = shop_db_exec(db, &r, err, errlen, "SELECT id, capacity FROM rooms ORDER BY length(id), id",
                          "");

    rooms_read_reset(q);
    if (rc == SHOP_OK) {
        q->out = json_array();
        for (int i = 0; i < shop_res_rows(r); i++)
            json_array_append_new(q->out, json_pack("{s:s, s:I}", "id", shop_res_text(r, i, 0),
                                                    "capacity", (json_int_t)shop_res_int(r, i, 1)));
    }
    shop_res_free(r);
    return rc;
}

static void rooms_list(shop_req *req, shop_resp *resp, void *arg)
{
    rooms_read q = {0};
    rooms_answer(arg, resp, rooms_list_read, &q);
}

static int rooms_availability_read(shop_db *db, void *arg, char *err, size_t errlen)
{
    rooms_read *q = arg;
    char f[STAY_DATE_SIZE], t[STAY_DATE_SIZE];
    shop_res *cap = NULL, *r = NULL;
    int rc;

    rooms_read_reset(q);
    stay_date_format(q->from, f);
    stay_date_format(q->to, t);
    rc = shop_db_exec(db, &cap, err, errlen, "SELECT capacity FROM rooms WHERE id = ?", "s", q->room);
    if (rc == SHOP_OK && shop_res_rows(cap) == 1)
        rc = shop_db_exec(db, &r, err, errlen,
                          "SELECT night, taken FROM room_nights WHERE room = ? AND night >= ? "
                          "AND night < ? ORDER BY night",
                          "sss", q->room, f, t);
    if (rc == SHOP_OK && shop_res_rows(cap) == 1) {
        int64_t capacity = shop_res_int(cap, 0, 0);
        int row = 0;
        q->out = json_object();
        for (int32_t n = q->from; n < q->to; n++) {
            char night[STAY_DATE_SIZE];
            int64_t taken = 0;
            stay_date_format(n, night);
            if (row < shop_res_rows(r) && strcmp(shop_res_text(r, row, 0), night) == 0)
                taken = shop_res_int(r, row++, 1);
            json_object_set_new(q->out, night, json_integer(capacity - taken));
        }
    }
    shop_res_free(cap);
    shop_res_free(r);
    return rc;
}

/* GET /rooms/{id}/availability?from=D&to=D: free rooms for the nights from
 * D up to the day before to (like check_in and check_out). */
static void rooms_availability(shop_req *req, shop_resp *resp, void *arg)
{
    rooms_read q = {.room = req->arg[0]};
    char err[512];

    if (stay_date_parse("from", shop_req_query(req, "from"), &q.from, err, sizeof err) ||
        stay_date_parse("to", shop_req_query(req, "to"), &q.to, err, sizeof err)) {
        shop_resp_error(resp, 400, "invalid", "%s", err);
        return;
    }
    if (q.to <= q.from) {
        shop_resp_error(resp, 400, "invalid", "to must be after from (to is exclusive)");
        return;
    }
    if (q.to - q.from > ROOMS_AVAIL_MAX_DAYS) {
        shop_resp_error(resp, 400, "invalid", "from..to: at most %d nights", ROOMS_AVAIL_MAX_DAYS);
        return;
    }
    rooms_answer(arg, resp, rooms_availability_read, &q);
}

static int rooms_stats_read(shop_db *db, void *arg, char *err, size_t errlen)
{
    rooms_read *q = arg;
    shop_res *s = NULL, *t = NULL;
    json_t *taken = NULL, *outbox = NULL;
    int rc;

    rooms_read_reset(q);
    rc = shop_db_exec(db, &s, err, errlen, "SELECT status, COUNT(*) FROM bookings GROUP BY status", "");
    if (rc == SHOP_OK)
        rc = shop_db_exec(db, &t, err, errlen,
                          "SELECT room, night, taken FROM room_nights WHERE taken > 0 "
                          "ORDER BY room, night",
                          "");
    if (rc == SHOP_OK && (outbox = shop_outbox_counts(db, err, errlen)) == NULL)
        rc = SHOP_ERR;
    if (rc != SHOP_OK)
        goto done;
    q->out = json_pack("{s:i, s:i, s:i}", "confirmed", 0, "rejected", 0, "cancelled", 0);
    for (int i = 0; i < shop_res_rows(s); i++) {
        char key[32];
        snprintf(key, sizeof key, "%s", shop_res_text(s, i, 0));
        for (char *p = key; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        json_object_set_new(q->out, key, json_integer(shop_res_int(s, i, 1)));
    }
    taken = json_object();
    for (int i = 0; i < shop_res_rows(t); i++) {
        const char *room = shop_res_text(t, i, 0);
        json_t *nights = json_object_get(taken, room);
        if (nights == NULL) {
            nights = json_object();
            json_object_set_new(taken, room, nights);
        }
        json_object_set_new(nights, shop_res_text(t, i, 1), json_integer(shop_res_int(t, i, 2)));
    }
    json_object_set_new(q->out, "taken", taken);
    json_object_set_new(q->out, "outbox", outbox);
done:
    shop_res_free(s);
    shop_res_free(t);
    return rc;
}

static void rooms_stats(shop_req *req, shop_resp *resp, void *arg)
{
    rooms_ctx *ctx = arg;
    rooms_read q = {.room = "(none)"};
    int64_t applied, duplicates, rejected;

    rooms_answer(ctx, resp, rooms_stats_read, &q);
    if (resp->status == 200 && resp->json && ctx->consumer) {
        shop_consumer_counts(ctx->consumer, &applied, &duplicates, &rejected);
        json_object_set_new(resp->json, "events",
                            json_pack("{s:I, s:I, s:I}", "applied", (json_int_t)applied, "duplicates",
                                      (json_int_t)duplicates, "rejected", (json_int_t)rejected));
    }
}

static const shop_route rooms_routes[] = {
    {"GET", "/rooms", rooms_list},
    {"GET", "/rooms/{}/availability", rooms_availability},
    {"GET", "/stats", rooms_stats},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    static const char *const topics[] = {ROOMS_TOPIC_IN, NULL};
    shop_opts o;
    rooms_ctx ctx = {0};
    shop_consumer *consumer = NULL;
    shop_db *db;
    char err[512];

    shop_opts_parse(&o, "rooms", 8085, NULL, argc, argv);
    shop_signals_block();
    db = shop_db_open_or_exit(o.db_url);
    shop_db_setup_or_exit(db, rooms_ddl, rooms_seed, NULL);

    ctx.pool = shop_pool_open_or_exit(o.db_url, 4);
    shop_consumer_cfg cfg = {
        .opts = &o,
        .group = ROOMS_CONSUMER,
        .topics = topics,
        .db = db,
        .apply = rooms_apply,
        .ctx = &ctx,
    };
    if (shop_consumer_start(&consumer, &cfg, err, sizeof err) != SHOP_OK) {
        shop_log("%s", err);
        shop_pool_free(ctx.pool);
        shop_db_free(db);
        return 1;
    }
    ctx.consumer = consumer;
    int rc = shop_serve(&o, rooms_routes, &ctx);
    shop_consumer_stop(consumer);
    shop_pool_free(ctx.pool);
    shop_db_free(db);
    if (rc != SHOP_OK)
        return 1;
    shop_log("stopped");
    return 0;
}
