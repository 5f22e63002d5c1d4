/* codec_int.h: small helpers shared by the per-API codecs in src/proto
 * (internal: handlers include the API headers, never this one).
 *
 * Reading follows Kafka's generated readers: a null (-1) where the schema
 * says STRING or BYTES (non-nullable) fails the request, as a Kafka broker
 * would. Writing is forgiving of a zeroed struct, so that a handler only sets
 * what it knows: a nullable string or bytes whose .p is NULL (or whose .len
 * is negative) goes out as null; a non-nullable one goes out as empty. */
#ifndef SM_PROTO_CODEC_INT_H
#define SM_PROTO_CODEC_INT_H

#include <string.h>
#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"

/* The end of every request decoder: short input and trailing bytes alike are
 * SM_ECORRUPT. */
static inline int sm_codec_finish(sm_rd *r)
{
    if (!r->err && sm_rd_left(r) != 0)
        sm_rd_fail(r);
    return r->err ? SM_ECORRUPT : SM_OK;
}

/* STRING: a null fails the reader. */
static inline sm_str sm_codec_rd_str(sm_rd *r)
{
    sm_str s = sm_rd_str(r);
    if (s.len < 0 && !r->err)
        sm_rd_fail(r);
    return s;
}

/* BYTES: a null fails the reader. */
static inline sm_str sm_codec_rd_bytes(sm_rd *r)
{
    sm_str s = sm_rd_bytes(r);
    if (s.len < 0 && !r->err)
        sm_rd_fail(r);
    return s;
}

/* Room for n (>= 0) elements of size sz from the request arena; NULL for
 * none. Sets *oom when the arena is exhausted. n was already capped by the
 * bytes left in the frame (sm_rd_array), so a lying count cannot get here. */
static inline void *sm_codec_alloc(sm_arena *a, int32_t n, size_t sz, int *oom)
{
    if (n <= 0)
        return NULL;
    void *p = sm_arena_calloc(a, (size_t)n, sz);
    if (!p)
        *oom = 1;
    return p;
}

/* An array of int32 (e.g. BrokerIds, PartitionIndexes), copied out in host
 * order. Returns the count (0 on failure); *out is NULL for none. */
static inline int32_t sm_codec_rd_i32_array(sm_rd *r, sm_arena *a, int32_t **out, int *oom)
{
    int32_t n = sm_rd_array(r, 4, false);
    int32_t *v = sm_codec_alloc(a, n, sizeof *v, oom);
    *out = v;
    if (!v)
        return 0;
    for (int32_t i = 0; i < n; i++)
        v[i] = sm_rd_i32(r);
    return n;
}

static inline bool sm_codec_str_set(sm_str s) { return s.p != NULL && s.len >= 0; }

/* STRING: never null on the wire. */
static inline void sm_codec_put_str(sm_wbuf *w, sm_str s)
{
    sm_wbuf_str(w, sm_codec_str_set(s) ? s : (sm_str){"", 0});
}

/* NULLABLE_STRING: null unless set. */
static inline void sm_codec_put_nstr(sm_wbuf *w, sm_str s)
{
    sm_wbuf_str(w, sm_codec_str_set(s) ? s : SM_STR_NULL);
}

/* BYTES: never null on the wire. */
static inline void sm_codec_put_bytes(sm_wbuf *w, sm_str b)
{
    sm_wbuf_bytes(w, sm_codec_str_set(b) ? b : (sm_str){"", 0});
}

/* An array count: a negative count (a handler's mistake) is sent as empty. */
static inline void sm_codec_put_count(sm_wbuf *w, int32_t n) { sm_wbuf_i32(w, n < 0 ? 0 : n); }

/* ---- either encoding: fx is "this version is flexible" (KIP-482) ----------
 * A codec computes fx = version >= <first flexible version of the API> once
 * and reads/writes every string, bytes and array through these; the compact
 * forms apply when fx, the classic ones otherwise. Every struct (the body,
 * each array element) ends with a tagged-field section when fx:
 * sm_codec_rd_tags / sm_codec_put_tags. */

static inline sm_str sm_codec_rd_str_fx(sm_rd *r, bool fx) /* STRING */
{
    if (!fx)
        return sm_codec_rd_str(r);
    sm_str s = sm_rd_compact_str(r);
    if (s.len < 0 && !r->err)
        sm_rd_fail(r);
    return s;
}
static inline sm_str sm_codec_rd_nstr_fx(sm_rd *r, bool fx) /* NULLABLE_STRING */
{
    return fx ? sm_rd_compact_str(r) : sm_rd_str(r);
}
static inline sm_str sm_codec_rd_bytes_fx(sm_rd *r, bool fx) /* BYTES */
{
    if (!fx)
        return sm_codec_rd_bytes(r);
    sm_str s = sm_rd_compact_bytes(r);
    if (s.len < 0 && !r->err)
        sm_rd_fail(r);
    return s;
}
static inline sm_str sm_codec_rd_nbytes_fx(sm_rd *r, bool fx) /* NULLABLE_BYTES, RECORDS */
{
    return fx ? sm_rd_compact_bytes(r) : sm_rd_bytes(r);
}
static inline int32_t sm_codec_rd_array_fx(sm_rd *r, size_t min_elem, bool nullable, bool fx)
{
    return fx ? sm_rd_compact_array(r, min_elem, nullable) : sm_rd_array(r, min_elem, nullable);
}
/* The tagged fields ending a struct: unknown tags are skipped. */
static inline void sm_codec_rd_tags(sm_rd *r, bool fx)
{
    if (fx)
        sm_rd_tags_skip(r);
}

static inline int32_t sm_codec_rd_i32_array_fx(sm_rd *r, sm_arena *a, int32_t **out, int *oom,
                                               bool fx)
{
    int32_t n = sm_codec_rd_array_fx(r, 4, false, fx);
    int32_t *v = sm_codec_alloc(a, n, sizeof *v, oom);
    *out = v;
    if (!v)
        return 0;
    for (int32_t i = 0; i < n; i++)
        v[i] = sm_rd_i32(r);
    return n;
}

static inline void sm_codec_put_str_fx(sm_wbuf *w, sm_str s, bool fx)
{
    if (fx)
        sm_wbuf_compact_str(w, sm_codec_str_set(s) ? s : (sm_str){"", 0});
    else
        sm_codec_put_str(w, s);
}
static inline void sm_codec_put_nstr_fx(sm_wbuf *w, sm_str s, bool fx)
{
    if (fx)
        sm_wbuf_compact_str(w, sm_codec_str_set(s) ? s : SM_STR_NULL);
    else
        sm_codec_put_nstr(w, s);
}
static inline void sm_codec_put_bytes_fx(sm_wbuf *w, sm_str b, bool fx)
{
    if (fx)
        sm_wbuf_compact_bytes(w, sm_codec_str_set(b) ? b : (sm_str){"", 0});
    else
        sm_codec_put_bytes(w, b);
}
static inline void sm_codec_put_nbytes_fx(sm_wbuf *w, sm_str b, bool fx)
{
    if (fx)
        sm_wbuf_compact_bytes(w, sm_codec_str_set(b) ? b : SM_STR_NULL);
    else
        sm_wbuf_bytes(w, sm_codec_str_set(b) ? b : SM_STR_NULL);
}
/* A non-nullable array count (negative is sent as empty). */
static inline void sm_codec_put_count_fx(sm_wbuf *w, int32_t n, bool fx)
{
    if (fx)
        sm_wbuf_compact_count(w, n < 0 ? 0 : n);
    else
        sm_codec_put_count(w, n);
}
/* A nullable array count: negative is null. */
static inline void sm_codec_put_ncount_fx(sm_wbuf *w, int32_t n, bool fx)
{
    if (fx)
        sm_wbuf_compact_count(w, n);
    else
        sm_wbuf_i32(w, n < 0 ? -1 : n);
}
/* UUID (KIP-516 topic ids): 16 bytes as they are, in flexible and older versions alike. */
static inline void sm_codec_rd_uuid(sm_rd *r, uint8_t out[16])
{
    const uint8_t *q = sm_rd_take(r, 16);
    if (q)
        memcpy(out, q, 16);
    else
        memset(out, 0, 16);
}
static inline void sm_codec_put_uuid(sm_wbuf *w, const uint8_t id[16]) { sm_wbuf_raw(w, id, 16); }
/* An empty tagged-field section ending a struct. */
static inline void sm_codec_put_tags(sm_wbuf *w, bool fx)
{
    if (fx)
        sm_wbuf_tags_none(w);
}

#endif
