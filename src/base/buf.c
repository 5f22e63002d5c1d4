/* buf.c: the out-of-line parts of the reader and writer (varints, strings,
 * arrays, growth). */
#include "base/buf.h"

#include <stdlib.h>

uint32_t sm_rd_uvarint(sm_rd *r)
{
    uint32_t v = 0;
    for (int shift = 0;; shift += 7) { /* ends by the fifth byte: see the check */
        const uint8_t *q = sm_rd_take(r, 1);
        if (!q)
            return 0;
        /* the fifth byte may carry only the top 4 bits */
        if (shift == 28 && (q[0] & 0xf0)) {
            sm_rd_fail(r);
            return 0;
        }
        v |= (uint32_t)(q[0] & 0x7f) << shift;
        if (!(q[0] & 0x80))
            return v;
    }
}

int32_t sm_rd_varint(sm_rd *r)
{
    uint32_t u = sm_rd_uvarint(r);
    return (int32_t)((u >> 1) ^ (~(u & 1) + 1));
}

int64_t sm_rd_varlong(sm_rd *r)
{
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) { /* ends by the tenth byte: see the check */
        const uint8_t *q = sm_rd_take(r, 1);
        if (!q)
            return 0;
        if (shift == 63 && (q[0] & 0xfe)) {
            sm_rd_fail(r);
            return 0;
        }
        v |= (uint64_t)(q[0] & 0x7f) << shift;
        if (!(q[0] & 0x80))
            return (int64_t)((v >> 1) ^ (~(v & 1) + 1));
    }
}

sm_str sm_rd_str(sm_rd *r)
{
    int16_t len = sm_rd_i16(r);
    if (r->err || len < 0) {
        if (len < -1)
            sm_rd_fail(r);
        return SM_STR_NULL;
    }
    const uint8_t *q = sm_rd_take(r, (size_t)len);
    return q ? (sm_str){(const char *)q, len} : SM_STR_NULL;
}

sm_str sm_rd_bytes(sm_rd *r)
{
    int32_t len = sm_rd_i32(r);
    if (r->err || len < 0) {
        if (len < -1)
            sm_rd_fail(r);
        return SM_STR_NULL;
    }
    const uint8_t *q = sm_rd_take(r, (size_t)len);
    return q ? (sm_str){(const char *)q, len} : SM_STR_NULL;
}

int32_t sm_rd_array(sm_rd *r, size_t min_elem, bool nullable)
{
    int32_t n = sm_rd_i32(r);
    if (r->err)
        return 0;
    if (n == -1 && nullable)
        return -1;
    if (n < 0) {
        sm_rd_fail(r);
        return 0;
    }
    if (min_elem == 0)
        min_elem = 1;
    if ((size_t)n > sm_rd_left(r) / min_elem) {
        sm_rd_fail(r);
        return 0;
    }
    return n;
}

sm_str sm_rd_compact_str(sm_rd *r)
{
    uint32_t u = sm_rd_uvarint(r);
    if (r->err || u == 0)
        return SM_STR_NULL;
    if (u - 1 > 0x7fff) {
        sm_rd_fail(r);
        return SM_STR_NULL;
    }
    const uint8_t *q = sm_rd_take(r, u - 1);
    return q ? (sm_str){(const char *)q, (int32_t)(u - 1)} : SM_STR_NULL;
}

sm_str sm_rd_compact_bytes(sm_rd *r)
{
    uint32_t u = sm_rd_uvarint(r);
    if (r->err || u == 0)
        return SM_STR_NULL;
    const uint8_t *q = sm_rd_take(r, u - 1); /* more than the frame holds fails here */
    return q ? (sm_str){(const char *)q, (int32_t)(u - 1)} : SM_STR_NULL;
}

int32_t sm_rd_compact_array(sm_rd *r, size_t min_elem, bool nullable)
{
    uint32_t u = sm_rd_uvarint(r);
    if (r->err)
        return 0;
    if (u == 0) {
        if (nullable)
            return -1;
        sm_rd_fail(r);
        return 0;
    }
    if (min_elem == 0)
        min_elem = 1;
    if ((size_t)(u - 1) > sm_rd_left(r) / min_elem) {
        sm_rd_fail(r);
        return 0;
    }
    return (int32_t)(u - 1);
}

void sm_rd_tags(sm_rd *r, sm_rd_tag_fn fn, void *ctx)
{
    uint32_t n = sm_rd_uvarint(r);
    if (r->err)
        return;
    if ((size_t)n > sm_rd_left(r) / 2) { /* a field takes at least Tag and Size */
        sm_rd_fail(r);
        return;
    }
    for (uint32_t i = 0; i < n && !r->err; i++) {
        uint32_t tag = sm_rd_uvarint(r);
        uint32_t size = sm_rd_uvarint(r);
        const uint8_t *q = sm_rd_take(r, size);
        if (!q)
            return;
        sm_rd field;
        sm_rd_init(&field, q, size);
        if (fn && fn(&field, tag, ctx) && (field.err || sm_rd_left(&field) != 0))
            sm_rd_fail(r);
    }
}

void sm_wbuf_init(sm_wbuf *w, size_t cap)
{
    w->p = cap ? malloc(cap) : NULL;
    w->len = 0;
    w->cap = w->p ? cap : 0;
    w->oom = cap && !w->p;
}

void sm_wbuf_release(sm_wbuf *w)
{
    free(w->p);
    w->p = NULL;
    w->len = w->cap = 0;
    w->oom = false;
}

uint8_t *sm_wbuf_grow(sm_wbuf *w, size_t n)
{
    if (w->oom)
        return NULL;
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len < n) {
            if (cap > SIZE_MAX / 2) {
                w->oom = true;
                return NULL;
            }
            cap *= 2;
        }
        uint8_t *p = realloc(w->p, cap);
        if (!p) {
            w->oom = true;
            return NULL;
        }
        w->p = p;
        w->cap = cap;
    }
    uint8_t *q = w->p + w->len;
    w->len += n;
    return q;
}

uint8_t *sm_wbuf_detach(sm_wbuf *w, size_t *len)
{
    uint8_t *p = w->p;
    if (len)
        *len = w->len;
    w->p = NULL;
    w->len = w->cap = 0;
    return p;
}

void sm_wbuf_str(sm_wbuf *w, sm_str s)
{
    if (s.len < 0) {
        sm_wbuf_i16(w, -1);
        return;
    }
    int16_t len = s.len > INT16_MAX ? INT16_MAX : (int16_t)s.len;
    sm_wbuf_i16(w, len);
    sm_wbuf_raw(w, s.p, (size_t)len);
}

void sm_wbuf_cstr(sm_wbuf *w, const char *s) { sm_wbuf_str(w, sm_str_c(s)); }

void sm_wbuf_bytes(sm_wbuf *w, sm_str b)
{
    if (b.len < 0) {
        sm_wbuf_i32(w, -1);
        return;
    }
    sm_wbuf_i32(w, b.len);
    sm_wbuf_raw(w, b.p, (size_t)b.len);
}

void sm_wbuf_uvarint(sm_wbuf *w, uint32_t v)
{
    uint8_t tmp[5];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    sm_wbuf_raw(w, tmp, n);
}

void sm_wbuf_compact_str(sm_wbuf *w, sm_str s)
{
    if (!s.p || s.len < 0) {
        sm_wbuf_uvarint(w, 0);
        return;
    }
    sm_wbuf_uvarint(w, (uint32_t)s.len + 1u);
    sm_wbuf_raw(w, s.p, (size_t)s.len);
}

void sm_wbuf_compact_bytes(sm_wbuf *w, sm_str b) { sm_wbuf_compact_str(w, b); }

void sm_wbuf_tag(sm_wbuf *w, uint32_t tag, const void *p, size_t n)
{
    sm_wbuf_uvarint(w, tag);
    sm_wbuf_uvarint(w, (uint32_t)n);
    sm_wbuf_raw(w, p, n);
}

void sm_wbuf_varint(sm_wbuf *w, int32_t v)
{
    sm_wbuf_uvarint(w, ((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}

void sm_wbuf_varlong(sm_wbuf *w, int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    uint8_t tmp[10];
    size_t n = 0;
    while (u >= 0x80) {
        tmp[n++] = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    tmp[n++] = (uint8_t)u;
    sm_wbuf_raw(w, tmp, n);
}

void sm_wbuf_vbytes(sm_wbuf *w, sm_str b)
{
    if (b.len < 0) {
        sm_wbuf_varint(w, -1);
        return;
    }
    sm_wbuf_varint(w, b.len);
    sm_wbuf_raw(w, b.p, (size_t)b.len);
}
