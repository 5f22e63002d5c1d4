/* shop.h: what every shop service shares (docs/shop.md), prefix shop_.
 *
 *   options    shop_opts_parse: --listen, --db, --brokers, -X, --help, --version
 *   log        shop_log: one timestamped line on stderr per thing worth reading
 *   database   shop_db: one connection (SQLite in WAL mode, or PostgreSQL by URL),
 *              the same SQL on both ("?" placeholders), transactions with retry
 *   HTTP       shop_http: libmicrohttpd, a route table, JSON in and out, the
 *              error body {"error":code,"message":...}, /healthz, 64 KiB cap
 *   consumer   shop_consumer: the librdkafka consume -> inbox + effect -> commit loop
 *   latency    shop_lat: a ring of the last 100,000 latency samples for /stats
 *   seed       the shared catalogue (products, users, rooms)
 *   signals    shop_signals_block / shop_signals_wait for a clean SIGTERM
 *
 * A typical main():
 *
 *     shop_opts o;
 *     shop_opts_parse(&o, "stock", 8082, NULL, argc, argv);   // exits 2 on bad args
 *     shop_signals_block();                                    // before any thread
 *     shop_db *db = shop_db_open_or_exit(o.db_url);
 *     shop_db_setup_or_exit(db, my_ddl, my_seed, NULL);        // samsa schema + own tables
 *     shop_pool *pool = shop_pool_open_or_exit(o.db_url, 4);   // the handlers' connections
 *     ... shop_consumer_start(...) ...
 *     int rc = shop_serve(&o, routes, ctx);   // HTTP, the ready line, until SIGTERM
 *     ... stop in reverse order, free; rc != SHOP_OK: exit 1 ...
 *
 * Errors: functions return SHOP_OK (0) or a negative SHOP_E* code and, where
 * they take `char *err, size_t errlen`, write a one-line reason there.
 * Threads: a shop_db connection is used by one thread at a time; use a
 * shop_pool to share connections among HTTP threads. */
#ifndef SHOP_H
#define SHOP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "outbox/samsa.h"

#define SHOP_VERSION SAMSA_VERSION

enum {
    SHOP_OK = 0,
    SHOP_ERR = -1,     /* the database or library failed; see err */
    SHOP_EBUSY = -2,   /* retryable: SQLite BUSY/LOCKED, PG serialization failure or deadlock */
    SHOP_ENOMEM = -3,
    SHOP_EIO = -4,     /* the database connection is lost */
    SHOP_EINVAL = -8,  /* bad argument */
    SHOP_ESTOP = -9,   /* stop requested (SIGTERM) */
    SHOP_REJECT = -10, /* consumer handler: this record can never apply (malformed) */
};

/* ---- options ---------------------------------------------------------- */

#define SHOP_MAX_X 64

/* A service-specific flag taking one value, e.g. {"--sink-url", "URL", "where to POST", &url}. */
typedef struct shop_flag {
    const char *name;   /* "--sink-url" */
    const char *arg;    /* "URL" in the usage */
    const char *help;   /* one line */
    const char **value; /* receives a pointer into argv; keep the default in it */
} shop_flag;

typedef struct shop_opts {
    char name[32];       /* "orders": the service is "shop-orders" */
    char host[256];      /* --listen host, default 127.0.0.1 */
    int port;            /* --listen port, 0 = any free port */
    char db_url[1024];   /* --db, default sqlite:data/shop/<name>.db */
    char brokers[1024];  /* --brokers, default 127.0.0.1:9092 */
    int nx;              /* -X key=value pairs, in order */
    const char *x_key[SHOP_MAX_X];
    const char *x_val[SHOP_MAX_X];
    char x_buf[SHOP_MAX_X][512];
} shop_opts;

/* Parses argv. --help prints the usage with examples and exits 0; --version
 * prints "shop-<name> <version>" and exits 0; a bad argument prints
 * "shop-<name>: <reason>" and the usage hint to stderr and exits 2.
 * extra: NULL or an array ending with {NULL}. Also sets the log name. */
void shop_opts_parse(shop_opts *o, const char *name, int default_port, const shop_flag *extra,
                     int argc, char **argv);

/* A librdkafka configuration with bootstrap.servers and every -X applied.
 * NULL (and err) when librdkafka refuses a property. The caller owns it. */
rd_kafka_conf_t *shop_kafka_conf(const shop_opts *o, char *err, size_t errlen);

/* ---- log -------------------------------------------------------------- */

/* "2026-11-23T11:09:12.345Z shop-orders: <message>\n" on stderr. */
void shop_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void shop_log_name(const char *service); /* "shop-orders"; shop_opts_parse sets it */
const char *shop_service_name(void);     /* that name; also PostgreSQL's application_name */

int64_t shop_now_ms(void); /* wall clock, ms since the Unix epoch */
int64_t shop_mono_ms(void); /* monotonic clock */

/* ---- database --------------------------------------------------------- */

typedef struct shop_db shop_db;
typedef struct shop_res shop_res;

enum { SHOP_DB_SQLITE = 1, SHOP_DB_PG = 2 };

/* Opens "sqlite:PATH" (creates the folder of PATH, WAL mode, busy timeout
 * 5 s, foreign keys on) or "postgresql://..." / "postgres://...". */
int shop_db_open(shop_db **out, const char *url, char *err, size_t errlen);
void shop_db_free(shop_db *db);
int shop_db_kind(const shop_db *db);
sqlite3 *shop_db_sqlite(shop_db *db); /* NULL unless SQLite */
PGconn *shop_db_pg(shop_db *db);      /* NULL unless PostgreSQL */

/* Runs one statement. sql uses "?" placeholders (rewritten to $1.. for
 * PostgreSQL); types has one letter per parameter: 's' const char * (NULL:
 * SQL NULL), 'i' int64_t (exactly: cast an int or a literal, the
 * arguments are read with va_arg and a wrong type is undefined). res: NULL to discard rows, else receives a result
 * to read with shop_res_* and free with shop_res_free (also on success
 * without rows). Returns SHOP_OK, SHOP_EBUSY (retry the transaction),
 * SHOP_EIO or SHOP_ERR. Example:
 *     shop_db_exec(db, &r, err, sizeof err,
 *                  "UPDATE products SET stock = stock - ? WHERE id = ? AND stock >= ?",
 *                  "isi", q, id, q);
 *     if (shop_res_changes(r) != 1) ... */
int shop_db_exec(shop_db *db, shop_res **res, char *err, size_t errlen, const char *sql,
                 const char *types, ...);

int shop_res_rows(const shop_res *r);
int shop_res_cols(const shop_res *r);
const char *shop_res_text(const shop_res *r, int row, int col); /* NULL for SQL NULL or out of range */
int64_t shop_res_int(const shop_res *r, int row, int col);      /* 0 for NULL */
int64_t shop_res_changes(const shop_res *r);                    /* rows changed by INSERT/UPDATE/DELETE */
void shop_res_free(shop_res *r);

/* One transaction around fn: BEGIN (SQLite: BEGIN IMMEDIATE), fn, COMMIT.
 * fn returns 0 to commit; > 0 to roll back and have shop_db_tx return that
 * value (a business refusal: nothing written); < 0 to roll back with an
 * error. SHOP_EBUSY from fn or from COMMIT retries the whole transaction with
 * a jittered backoff (up to ~30 s). A PostgreSQL connection lost before
 * COMMIT is reconnected and the transaction run again, once; lost during
 * COMMIT it returns SHOP_EIO (the outcome is unknown). Returns fn's result,
 * or a negative error. Outside a transaction, shop_db_exec reconnects a
 * connection found lost. */
typedef int (*shop_tx_fn)(shop_db *db, void *arg, char *err, size_t errlen);
int shop_db_tx(shop_db *db, shop_tx_fn fn, void *arg, char *err, size_t errlen);
/* The same for reads that must agree with each other (a /stats): one
 * snapshot and no write lock (SQLite: a deferred BEGIN, WAL keeps the
 * snapshot; PostgreSQL: REPEATABLE READ READ ONLY). fn must not write. */
int shop_db_read(shop_db *db, shop_tx_fn fn, void *arg, char *err, size_t errlen);

/* libsamsa on whichever kind db is; failures are mapped to SHOP_E* codes
 * (SQLite busy -> SHOP_EBUSY). shop_db_inbox returns 1 new, 0 duplicate. */
int shop_db_enqueue(shop_db *db, const samsa_event *ev, char *event_id_out, char *err,
                    size_t errlen);
int shop_db_inbox(shop_db *db, const char *consumer, const char *event_id, char *err,
                  size_t errlen);

/* Applies the samsa schema, then in one transaction the service's own DDL
 * (ddl: array of statements ending with NULL; write "CREATE TABLE IF NOT
 * EXISTS", portable types: TEXT, BIGINT) and the seed function (run every
 * start: use INSERT ... ON CONFLICT DO NOTHING so it seeds only once). Also
 * creates shop_rejected (consumer records that could never apply). */
int shop_db_setup(shop_db *db, const char *const *ddl, shop_tx_fn seed, void *seed_arg,
                  char *err, size_t errlen);

/* Logs and exits 1 on failure: for main(). */
shop_db *shop_db_open_or_exit(const char *url);
void shop_db_setup_or_exit(shop_db *db, const char *const *ddl, shop_tx_fn seed, void *arg);

/* {"INIT":n,"PUBLISHED":n,"COMPLETE":n,"DEAD":n} from samsa_outbox; NULL and err on error. */
json_t *shop_outbox_counts(shop_db *db, char *err, size_t errlen);

/* A fixed set of connections to one URL for threads (the HTTP handlers). */
typedef struct shop_pool shop_pool;
int shop_pool_open(shop_pool **out, const char *url, int n, char *err, size_t errlen);
shop_db *shop_pool_get(shop_pool *p); /* blocks until one is free */
void shop_pool_put(shop_pool *p, shop_db *db);
void shop_pool_free(shop_pool *p);
/* Logs and exits 1 on failure: for main(). */
shop_pool *shop_pool_open_or_exit(const char *url, int n);

/* ---- seed catalogue (docs/shop.md "Seed data") ------------------------ */

#define SHOP_PRODUCTS 20
#define SHOP_INITIAL_STOCK 1000000
#define SHOP_USERS 100
#define SHOP_ROOMS 10
#define SHOP_ROOM_CAPACITY 3

int64_t shop_product_price(int n);  /* pn: 100 * n cents */
int64_t shop_user_balance(int n);   /* un: 10,000,000 cents, u91..u100: 0 */
/* Runs sql once per item with its parameters: products ("sii": id, price,
 * quantity), users ("si": id, balance), rooms ("si": id, capacity). */
int shop_seed_products(shop_db *db, const char *sql, char *err, size_t errlen);
int shop_seed_users(shop_db *db, const char *sql, char *err, size_t errlen);
int shop_seed_rooms(shop_db *db, const char *sql, char *err, size_t errlen);

/* ---- latency samples ------------------------------------------------- */

#define SHOP_LAT_MAX 100000

typedef struct shop_lat shop_lat;
shop_lat *shop_lat_new(void);
void shop_lat_free(shop_lat *l);
void shop_lat_add(shop_lat *l, int64_t ms); /* thread-safe; keeps the last SHOP_LAT_MAX */
json_t *shop_lat_json(shop_lat *l);         /* a new array, oldest first */

/* ---- HTTP ------------------------------------------------------------- */

#define SHOP_BODY_MAX (64 * 1024)
#define SHOP_PATH_ARGS 4

typedef struct shop_req {
    const char *method;
    const char *path;
    const char *arg[SHOP_PATH_ARGS]; /* the path segments matched by "{}" in the route */
    int nargs;
    const char *body; /* NUL-terminated, body_len bytes ("" when none) */
    size_t body_len;
    json_t *json; /* the parsed body; NULL when the body is empty (a non-JSON body is a 400 before the handler) */
    void *conn;   /* struct MHD_Connection * */
} shop_req;

typedef struct shop_resp {
    int status;   /* default 200 */
    json_t *json; /* the body; the server takes it (json_decref after sending) */
} shop_resp;

/* Returns nothing: fills resp (shop_resp_json / shop_resp_error). */
typedef void (*shop_handler)(shop_req *req, shop_resp *resp, void *ctx);

/* pattern: "/orders", "/orders/{}", "/orders/{}/payment": "{}" matches one
 * non-empty segment (URL-decoded) and lands in req->arg. A path that matches a
 * pattern with another method is 405; no pattern at all is 404. GET
 * /healthz is built in. The table ends with {NULL}. */
typedef struct shop_route {
    const char *method;
    const char *pattern;
    shop_handler fn;
} shop_route;

typedef struct shop_http shop_http;

/* Starts listening on host:port (port 0: a free one) with a thread pool.
 * ctx is passed to every handler. */
int shop_http_start(shop_http **out, const char *host, int port, const shop_route *routes,
                    void *ctx, char *err, size_t errlen);
int shop_http_port(const shop_http *h); /* the bound port */
void shop_http_stop(shop_http *h);      /* finishes requests in hand, frees */

const char *shop_req_header(const shop_req *req, const char *name); /* NULL if absent */
const char *shop_req_query(const shop_req *req, const char *name);  /* NULL if absent */

void shop_resp_json(shop_resp *resp, int status, json_t *body); /* takes body */
/* {"error":code,"message":printf(...)} with status. */
void shop_resp_error(shop_resp *resp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Maps a database failure to 503 unavailable (SHOP_EIO, SHOP_EBUSY) or 500 internal, and logs it. */
void shop_resp_db_error(shop_resp *resp, int rc, const char *err);

/* A GET answered from one snapshot: takes a connection from pool, runs fn(arg)
 * with shop_db_read, gives the connection back and answers 200 with *out
 * (taken, *out set to NULL), or 404 not_found "<what> <id> does not exist"
 * when fn left *out NULL, or the database error (shop_resp_db_error; *out
 * freed). fn may run more than once (retries): it must set *out afresh. */
void shop_resp_read(shop_resp *resp, shop_pool *pool, shop_tx_fn fn, void *arg, json_t **out,
                    const char *what, const char *id);

/* Prints "shop-<name> listening on http://HOST:PORT" and flushes stdout. */
void shop_ready(const shop_opts *o, const shop_http *h);

/* The serving part of a main(): starts HTTP on o's address with routes and
 * ctx, prints the ready line (shop_ready), waits for SIGTERM or SIGINT, then
 * stops HTTP (the requests in hand are finished). Returns SHOP_OK after that
 * clean stop, or SHOP_ERR when HTTP could not start (logged); the caller then
 * stops what it started (consumer, pool) and frees it. */
int shop_serve(const shop_opts *o, const shop_route *routes, void *ctx);

/* ---- consumer loop -------------------------------------------------- */

typedef struct shop_record {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *key;        /* NUL-terminated copy, NULL when none */
    const char *value;      /* NUL-terminated copy of the payload */
    size_t value_len;
    const char *event_id;   /* samsa.event_id, or "nohdr:<topic>:<partition>:<offset>" */
    const char *type;       /* samsa.type, or NULL */
    int64_t created_at_ms;  /* samsa.created_at, or 0 */
    json_t *json;           /* the payload parsed as a JSON object, or NULL */
} shop_record;

typedef struct shop_consumer shop_consumer;

/* Inside the record's transaction, after the inbox said "new": apply the
 * effect. Return 0, SHOP_REJECT (with a reason in err: the record is
 * recorded as rejected and skipped) or another SHOP_E* code (rolled back
 * and retried with backoff). */
typedef int (*shop_apply_fn)(shop_db *db, const shop_record *rec, void *ctx, char *err,
                             size_t errlen);
/* Optional, outside any transaction, before it, for a record not yet in the
 * inbox (the sink's HTTP delivery): return 0 when done, SHOP_ESTOP when the
 * consumer is stopping (nothing is committed; the record comes again),
 * SHOP_REJECT to reject it. Use shop_consumer_sleep to wait. */
typedef int (*shop_deliver_fn)(shop_consumer *c, const shop_record *rec, void *ctx);

typedef struct shop_consumer_cfg {
    const shop_opts *opts;    /* brokers and -X */
    const char *group;        /* group.id, also the inbox consumer name */
    const char *const *topics; /* ends with NULL */
    shop_db *db;              /* the consumer thread's own connection */
    shop_apply_fn apply;      /* NULL: nothing but the inbox row */
    shop_deliver_fn deliver;  /* NULL: none */
    void *ctx;
    shop_lat *lat;            /* NULL, or receives now - created_at per applied record */
    int async_db_commit;      /* 1: the effect is made safe elsewhere (the sink: delivered
                                 before the transaction, deduplicated by the receiver), so
                                 PostgreSQL need not flush the inbox row before the offset
                                 commit (synchronous_commit = off for these transactions) */
} shop_consumer_cfg;

/* Starts the consumer thread. */
int shop_consumer_start(shop_consumer **out, const shop_consumer_cfg *cfg, char *err,
                        size_t errlen);
/* Finishes the record in hand, commits, closes the consumer (leaves the
 * group at once), joins the thread and frees. */
void shop_consumer_stop(shop_consumer *c);
/* Counters since start: applied (new and applied), duplicates (inbox said
 * already processed), rejected. */
void shop_consumer_counts(shop_consumer *c, int64_t *applied, int64_t *duplicates,
                          int64_t *rejected);
/* Sleeps up to ms; returns SHOP_ESTOP at once if the consumer is stopping, else 0. */
int shop_consumer_sleep(shop_consumer *c, int64_t ms);
int shop_consumer_stopping(shop_consumer *c);

/* ---- signals ---------------------------------------------------------- */

/* Blocks SIGTERM, SIGINT (and ignores SIGPIPE) in this thread and every thread
 * started after; call first in main. */
void shop_signals_block(void);
/* Waits for SIGTERM or SIGINT; returns the signal. */
int shop_signals_wait(void);

#endif
