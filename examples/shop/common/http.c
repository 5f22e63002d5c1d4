/* http.c: the services' HTTP server on libmicrohttpd. One thread per
 * connection (handlers may block on the database); a route table matched by
 * method and path segments; bodies collected up to SHOP_BODY_MAX (more is a
 * 413, read and dropped), parsed as JSON before the handler (else a 400);
 * every answer JSON, errors as {"error":code,"message":...}. */
#include <netdb.h>
#include <stdatomic.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "shop.h"

#if MHD_VERSION < 0x00097002
typedef int MHD_Result_t;
#else
typedef enum MHD_Result MHD_Result_t;
#endif

struct shop_http {
    struct MHD_Daemon *d;
    atomic_int in_flight; /* requests begun and not yet answered */
    const shop_route *routes;
    void *ctx;
    int port;
};

typedef struct req_state {
    char *body;
    size_t len;
    int too_large;
} req_state;

const char *shop_req_header(const shop_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *shop_req_query(const shop_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

void shop_resp_json(shop_resp *resp, int status, json_t *body)
{
    if (resp->json)
        json_decref(resp->json);
    resp->status = status;
    resp->json = body;
}

void shop_resp_error(shop_resp *resp, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    shop_resp_json(resp, status, json_pack("{ssss}", "error", code, "message", msg));
}

void shop_resp_db_error(shop_resp *resp, int rc, const char *err)
{
    shop_log("database: %s", err);
    if (rc == SHOP_EIO || rc == SHOP_EBUSY)
        shop_resp_error(resp, 503, "unavailable", "database unavailable, retry later");
    else
        shop_resp_error(resp, 500, "internal", "database error");
}

void shop_resp_read(shop_resp *resp, shop_pool *pool, shop_tx_fn fn, void *arg, json_t **out,
                    const char *what, const char *id)
{
    shop_db *db = shop_pool_get(pool);
    char err[512];
    int rc = shop_db_read(db, fn, arg, err, sizeof err);

    shop_pool_put(pool, db);
    if (rc != SHOP_OK) {
        json_decref(*out);
        *out = NULL;
        shop_resp_db_error(resp, rc, err);
    } else if (*out == NULL) {
        shop_resp_error(resp, 404, "not_found", "%s %.100s does not exist", what, id);
    } else {
        shop_resp_json(resp, 200, *out);
        *out = NULL;
    }
}

static MHD_Result_t send_json(struct MHD_Connection *conn, int status, json_t *j, const char *allow)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (!text)
        text = strdup("{\"error\":\"internal\",\"message\":\"no response\"}");
    if (!text)
        return MHD_NO; /* out of memory: MHD closes the connection */
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (allow)
        MHD_add_response_header(r, "Allow", allow);
    MHD_Result_t ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Splits path at '/' into segs (pointers into buf). Returns the count, -1 if too many. */
static int split(char *buf, char **segs, int max)
{
    int n = 0;
    char *p = buf;
    if (*p == '/')
        p++;
    if (!*p)
        return 0;
    for (;;) {
        if (n == max)
            return -1;
        segs[n++] = p;
        char *s = strchr(p, '/');
        if (!s)
            break;
        *s = 0;
        p = s + 1;
    }
    return n;
}

#define MAX_SEGS 16

static int match(const char *pattern, char **segs, int nsegs, shop_req *req)
{
    char pbuf[256];
    snprintf(pbuf, sizeof pbuf, "%s", pattern);
    char *ps[MAX_SEGS];
    int np = split(pbuf, ps, MAX_SEGS);
    if (np != nsegs)
        return 0;
    int nargs = 0;
    for (int i = 0; i < np; i++) {
        if (strcmp(ps[i], "{}") == 0) {
            if (!*segs[i] || nargs == SHOP_PATH_ARGS)
                return 0;
            req->arg[nargs++] = segs[i];
        } else if (strcmp(ps[i], segs[i]) != 0) {
            return 0;
        }
    }
    req->nargs = nargs;
    return 1;
}

static void healthz(shop_req *req, shop_resp *resp, void *ctx)
{
    shop_resp_json(resp, 200, json_pack("{sb}", "ok", 1));
}

static MHD_Result_t on_request(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    shop_http *h = cls;
    req_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        *con_cls = st;
        atomic_fetch_add(&h->in_flight, 1);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > SHOP_BODY_MAX)
            st->too_large = 1;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st->too_large || st->len + n > SHOP_BODY_MAX) {
            st->too_large = 1;
            return MHD_YES;
        }
        char *b = realloc(st->body, st->len + n + 1);
        if (!b)
            return MHD_NO;
        memcpy(b + st->len, upload_data, n);
        st->body = b;
        st->len += n;
        st->body[st->len] = 0;
        return MHD_YES;
    }

    /* the whole request is here */
    shop_resp resp = {200, NULL};
    if (st->too_large) {
        shop_resp_error(&resp, 413, "too_large", "request body over %d bytes", SHOP_BODY_MAX);
        MHD_Result_t r = send_json(conn, resp.status, resp.json, NULL);
        json_decref(resp.json);
        return r;
    }
    char pathbuf[2048];
    if (strlen(url) >= sizeof pathbuf) {
        shop_resp_error(&resp, 404, "not_found", "path too long");
        MHD_Result_t r = send_json(conn, resp.status, resp.json, NULL);
        json_decref(resp.json);
        return r;
    }
    snprintf(pathbuf, sizeof pathbuf, "%s", url);
    char *segs[MAX_SEGS];
    int nsegs = split(pathbuf, segs, MAX_SEGS);
    shop_req req = {0};
    req.method = method;
    req.path = url;
    req.body = st->body ? st->body : "";
    req.body_len = st->len;
    req.conn = conn;

    static const shop_route builtin[] = {{"GET", "/healthz", healthz}, {NULL, NULL, NULL}};
    const shop_route *found = NULL;
    char allow[128] = "";
    for (int pass = 0; pass < 2 && !found && nsegs >= 0; pass++) {
        const shop_route *rt = pass == 0 ? h->routes : builtin;
        for (; rt && rt->method && !found; rt++) {
            shop_req probe = req;
            if (!match(rt->pattern, segs, nsegs, &probe))
                continue;
            if (strcmp(rt->method, method) == 0) {
                found = rt;
                req = probe;
            } else if (strlen(allow) + strlen(rt->method) + 3 < sizeof allow &&
                       !strstr(allow, rt->method)) {
                if (*allow)
                    strcat(allow, ", ");
                strcat(allow, rt->method);
            }
        }
    }
    if (!found && *allow) {
        shop_resp_error(&resp, 405, "method_not_allowed", "%s is not allowed on %s (allowed: %s)",
                        method, url, allow);
    } else if (!found) {
        shop_resp_error(&resp, 404, "not_found", "no such resource: %s %s", method, url);
    } else {
        json_t *body = NULL;
        if (st->len) {
            json_error_t je;
            body = json_loadb(st->body, st->len, JSON_DECODE_ANY, &je);
            if (!body)
                shop_resp_error(&resp, 400, "bad_json", "malformed JSON body: %s (line %d, column %d)",
                                je.text, je.line, je.column);
        }
        if (body || !st->len) {
            req.json = body;
            found->fn(&req, &resp, h->ctx);
            json_decref(body);
        }
    }
    if (!resp.json)
        resp.json = json_object();
    MHD_Result_t r = send_json(conn, resp.status, resp.json, resp.status == 405 ? allow : NULL);
    json_decref(resp.json);
    return r;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    shop_http *h = cls;
    req_state *st = *con_cls;
    if (st) {
        free(st->body);
        free(st);
        *con_cls = NULL;
        atomic_fetch_sub(&h->in_flight, 1);
    }
}

int shop_http_start(shop_http **out, const char *host, int port, const shop_route *routes,
                    void *ctx, char *err, size_t errlen)
{
    *out = NULL;
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int gr = getaddrinfo(host, ps, &hints, &ai);
    if (gr != 0 || !ai) {
        snprintf(err, errlen, "--listen %s:%d: %s", host, port, gai_strerror(gr));
        return SHOP_EINVAL;
    }
    shop_http *h = calloc(1, sizeof *h);
    if (!h) {
        freeaddrinfo(ai);
        return SHOP_ENOMEM;
    }
    h->routes = routes;
    h->ctx = ctx;
    /* ITC: MHD_quiesce_daemon needs it in this threading mode */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_ITC;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, h,
                            MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_NOTIFY_COMPLETED, on_done, h,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)512,
                            MHD_OPTION_END); /* SO_REUSEADDR (MHD's default), never SO_REUSEPORT:
                                                a second instance on a taken port must fail */
    freeaddrinfo(ai);
    if (!h->d) {
        snprintf(err, errlen, "cannot listen on %s:%d (address in use or not local?)", host, port);
        free(h);
        return SHOP_ERR;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : port;
    *out = h;
    return SHOP_OK;
}

int shop_http_port(const shop_http *h) { return h->port; }

void shop_http_stop(shop_http *h)
{
    if (!h)
        return;
    /* stop accepting, let the requests in hand finish and be answered (at
     * most 10 s), then close what is left (idle keep-alive connections) */
    MHD_socket ls = MHD_quiesce_daemon(h->d);
    if (ls != MHD_INVALID_SOCKET)
        close(ls); /* ours now: nobody can connect any more */
    int64_t until = shop_mono_ms() + 10000;
    while (atomic_load(&h->in_flight) > 0 && shop_mono_ms() < until) {
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(h->d);
    free(h);
}

void shop_ready(const shop_opts *o, const shop_http *h)
{
    int v6 = strchr(o->host, ':') != NULL;
    printf("shop-%s listening on http://%s%s%s:%d\n", o->name, v6 ? "[" : "", o->host,
           v6 ? "]" : "", shop_http_port(h));
    fflush(stdout);
    /* a PostgreSQL URL may hold a password: name only the kind */
    shop_log("ready: http://%s%s%s:%d, database %s", v6 ? "[" : "", o->host, v6 ? "]" : "",
             shop_http_port(h), strncmp(o->db_url, "sqlite:", 7) == 0 ? o->db_url : "postgresql");
}

int shop_serve(const shop_opts *o, const shop_route *routes, void *ctx)
{
    shop_http *http;
    char err[512];

    if (shop_http_start(&http, o->host, o->port, routes, ctx, err, sizeof err) != SHOP_OK) {
        shop_log("%s", err);
        return SHOP_ERR;
    }
    shop_ready(o, http);
    shop_signals_wait();
    shop_http_stop(http);
    return SHOP_OK;
}
