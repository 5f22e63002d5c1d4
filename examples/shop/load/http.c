/* http.c - libcurl requests for shop-load: a pool of keep-alive slots on a
 * multi handle for the traffic, and a synchronous call for /stats. */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    sl_slot *s = user;
    size_t len = size * n;
    if (s->resp_len + len + 1 > s->resp_cap) {
        size_t cap = s->resp_cap ? s->resp_cap : 4096;
        while (cap < s->resp_len + len + 1)
            cap *= 2;
        char *r = realloc(s->resp, cap);
        if (!r)
            return 0; /* curl reports a write error */
        s->resp = r;
        s->resp_cap = cap;
    }
    memcpy(s->resp + s->resp_len, data, len);
    s->resp_len += len;
    s->resp[s->resp_len] = 0;
    return len;
}

static int slot_prepare(sl_slot *s, const char *method, const char *url, const char *body, long timeout_ms)
{
    free(s->body);
    s->body = NULL;
    if (body && !(s->body = strdup(body)))
        return -1;
    s->resp_len = 0;
    if (s->resp)
        s->resp[0] = 0;
    s->status = 0;
    s->error[0] = 0;
    if (!s->h && !(s->h = curl_easy_init()))
        return -1;
    if (!s->hdrs) {
        s->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
        /* no "Expect: 100-continue" round trip for small bodies */
        s->hdrs = curl_slist_append(s->hdrs, "Expect:");
        if (!s->hdrs)
            return -1;
    }
    CURL *h = s->h;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->error);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PRIVATE, s);
    if (s->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, s->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(s->body));
    } else if (!strcmp(method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") && strcmp(method, "POST") ? method : NULL);
    return 0;
}

static void slot_release(sl_slot *s)
{
    if (s->h)
        curl_easy_cleanup(s->h);
    curl_slist_free_all(s->hdrs);
    free(s->body);
    free(s->resp);
    memset(s, 0, sizeof *s);
}

int sl_pool_init(sl_pool *p, int size, long timeout_ms, sl_done_fn done, void *ctx)
{
    memset(p, 0, sizeof *p);
    if (!(p->multi = curl_multi_init()))
        return -1;
    if (!(p->slots = calloc((size_t)size, sizeof *p->slots))) {
        curl_multi_cleanup(p->multi);
        return -1;
    }
    p->size = size;
    p->timeout_ms = timeout_ms;
    p->done = done;
    p->ctx = ctx;
    curl_multi_setopt(p->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)size);
    return 0;
}

void sl_pool_release(sl_pool *p)
{
    for (int i = 0; i < p->size; i++) {
        if (p->slots[i].busy)
            curl_multi_remove_handle(p->multi, p->slots[i].h);
        slot_release(&p->slots[i]);
    }
    free(p->slots);
    if (p->multi)
        curl_multi_cleanup(p->multi);
    memset(p, 0, sizeof *p);
}

sl_slot *sl_pool_idle(sl_pool *p)
{
    for (int i = 0; i < p->size; i++)
        if (!p->slots[i].busy)
            return &p->slots[i];
    return NULL;
}

int sl_pool_start(sl_pool *p, sl_slot *s, const char *method, const char *url, const char *body)
{
    if (slot_prepare(s, method, url, body, p->timeout_ms) != 0)
        return -1;
    if (curl_multi_add_handle(p->multi, s->h) != CURLM_OK)
        return -1;
    s->busy = 1;
    p->active++;
    return 0;
}

void sl_pool_run(sl_pool *p, int (*refill)(sl_pool *p, void *ctx))
{
    refill(p, p->ctx);
    while (p->active > 0) {
        int running = 0;
        curl_multi_perform(p->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(p->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            sl_slot *s = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            CURLcode res = m->data.result;
            curl_multi_remove_handle(p->multi, s->h);
            s->busy = 0;
            p->active--;
            if (res == CURLE_OK)
                curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
            else if (!s->error[0])
                snprintf(s->error, sizeof s->error, "%s", curl_easy_strerror(res));
            p->done(p, s, p->ctx);
        }
        refill(p, p->ctx);
        if (p->active > 0)
            curl_multi_poll(p->multi, NULL, 0, 100, NULL);
    }
}

long sl_http_call(const char *method, const char *url, const char *body, long timeout_ms, json_t **out,
                  char *err, size_t errlen)
{
    sl_slot s;
    memset(&s, 0, sizeof s);
    *out = NULL;
    if (slot_prepare(&s, method, url, body, timeout_ms) != 0) {
        snprintf(err, errlen, "%s %s: out of memory", method, url);
        slot_release(&s);
        return 0;
    }
    CURLcode res = curl_easy_perform(s.h);
    long status = 0;
    if (res != CURLE_OK) {
        snprintf(err, errlen, "%s %s: %s", method, url, s.error[0] ? s.error : curl_easy_strerror(res));
    } else {
        curl_easy_getinfo(s.h, CURLINFO_RESPONSE_CODE, &status);
        if (s.resp_len)
            *out = json_loadb(s.resp, s.resp_len, 0, NULL);
        if (status < 200 || status > 299)
            snprintf(err, errlen, "%s %s: HTTP %ld %.200s", method, url, status, s.resp ? s.resp : "");
    }
    slot_release(&s);
    return status;
}
