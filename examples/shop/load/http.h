/* http.h - shop-load's HTTP client: JSON requests over libcurl, one at a
 * time (sl_http_call) or many at once on a curl multi handle (sl_pool).
 *
 * A pool owns `size` slots, each a reused easy handle (keep-alive). The
 * caller starts a request on an idle slot; sl_pool_run() drives all
 * transfers and calls the slot's done callback, which may start the next
 * request on the same slot (a job's next step) or leave it idle. */
#ifndef SL_HTTP_H
#define SL_HTTP_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>

typedef struct sl_slot {
    CURL *h;
    struct curl_slist *hdrs;
    char *body;      /* request body we own (NULL: none) */
    char *resp;      /* response body, NUL-terminated */
    size_t resp_len, resp_cap;
    long status;     /* HTTP status; 0 on a transport error */
    char error[CURL_ERROR_SIZE];
    int busy;
    int job;         /* the caller's job index */
    int step;        /* the caller's step within the job */
} sl_slot;

typedef struct sl_pool sl_pool;
typedef void (*sl_done_fn)(sl_pool *p, sl_slot *s, void *ctx);

struct sl_pool {
    CURLM *multi;
    sl_slot *slots;
    int size;
    int active;
    long timeout_ms;
    sl_done_fn done;
    void *ctx;
};

int sl_pool_init(sl_pool *p, int size, long timeout_ms, sl_done_fn done, void *ctx);
void sl_pool_release(sl_pool *p);
/* An idle slot, or NULL when all are busy. */
sl_slot *sl_pool_idle(sl_pool *p);
/* Starts METHOD url with body (copied; NULL for none) on slot s. */
int sl_pool_start(sl_pool *p, sl_slot *s, const char *method, const char *url, const char *body);
/* Drives transfers until none is active or refill() returns 0 with nothing
 * active; refill(ctx) is called whenever slots may be idle to start more. */
void sl_pool_run(sl_pool *p, int (*refill)(sl_pool *p, void *ctx));

/* One synchronous request. Returns the HTTP status (0 on a transport error,
 * with the reason in err) and the parsed JSON body in *out (NULL when the
 * body is not JSON; the caller owns it). */
long sl_http_call(const char *method, const char *url, const char *body, long timeout_ms, json_t **out,
                  char *err, size_t errlen);

#endif
