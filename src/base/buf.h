/* buf.h: bounds-checked big-endian reading of untrusted bytes, and a growable
 * writer for building responses.
 *
 * The reader is fail-closed with a sticky error: the first read that would
 * pass `end` sets r->err, and every later read returns zero without moving.
 * A decoder therefore reads straight through and checks r->err once at the
 * end; it can never read past the frame. Strings and bytes returned by the
 * reader point into the input buffer (zero-copy): they live as long as it. */
#ifndef SM_BUF_H
#define SM_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/err.h"

/* A length-delimited string or byte run that does not own its memory.
 * len < 0 means null (Kafka's nullable string / bytes). */
typedef struct sm_str {
    const char *p;
    int32_t len;
} sm_str;

#define SM_STR_NULL ((sm_str){NULL, -1})
#define SM_STR_LIT(s) ((sm_str){(s), (int32_t)(sizeof(s) - 1)})

static inline sm_str sm_str_c(const char *s)
{
    return s ? (sm_str){s, (int32_t)strlen(s)} : SM_STR_NULL;
}
static inline bool sm_str_is_null(sm_str s) { return s.len < 0; }
static inline bool sm_str_eq(sm_str a, sm_str b)
{
    return a.len == b.len && (a.len <= 0 || memcmp(a.p, b.p, (size_t)a.len) == 0);
}
static inline bool sm_str_eqc(sm_str a, const char *c)
{
    return a.len >= 0 && strlen(c) == (size_t)a.len && memcmp(a.p, c, (size_t)a.len) == 0;
}

/* ---- reader ---------------------------------------------------------------- */

typedef struct sm_rd {
    const uint8_t *p;
    const uint8_t *end;
    int err; /* 0, or SM_ECORRUPT after the first short read */
} sm_rd;

static inline void sm_rd_init(sm_rd *r, const void *p, size_t len)
{
    r->p = (const uint8_t *)p;
    r->end = r->p + len;
    r->err = 0;
}

static inline size_t sm_rd_left(const sm_rd *r) { return (size_t)(r->end - r->p); }

/* Marks the reader failed; returns NULL for convenience. */
static inline const uint8_t *sm_rd_fail(sm_rd *r)
{
    r->err = SM_ECORRUPT;
    r->p = r->end;
    return NULL;
}

/* Consumes n bytes and returns where they start, or NULL (and fails) if short. */
static inline const uint8_t *sm_rd_take(sm_rd *r, size_t n)
{
    if (r->err || (size_t)(r->end - r->p) < n)
        return sm_rd_fail(r);
    const uint8_t *q = r->p;
    r->p += n;
    return q;
}

static inline uint16_t sm_be16(const uint8_t *q) { return (uint16_t)((q[0] << 8) | q[1]); }
static inline uint32_t sm_be32(const uint8_t *q)
{
    return ((uint32_t)q[0] << 24) | ((uint32_t)q[1] << 16) | ((uint32_t)q[2] << 8) | q[3];
}
static inline uint64_t sm_be64(const uint8_t *q)
{
    return ((uint64_t)sm_be32(q) << 32) | sm_be32(q + 4);
}
static inline void sm_put_be16(uint8_t *q, uint16_t v) { q[0] = (uint8_t)(v >> 8); q[1] = (uint8_t)v; }
static inline void sm_put_be32(uint8_t *q, uint32_t v)
{
    q[0] = (uint8_t)(v >> 24); q[1] = (uint8_t)(v >> 16); q[2] = (uint8_t)(v >> 8); q[3] = (uint8_t)v;
}
static inline void sm_put_be64(uint8_t *q, uint64_t v)
{
    sm_put_be32(q, (uint32_t)(v >> 32));
    sm_put_be32(q + 4, (uint32_t)v);
}

static inline int8_t sm_rd_i8(sm_rd *r)
{
    const uint8_t *q = sm_rd_take(r, 1);
    return q ? (int8_t)q[0] : 0;
}
static inline int16_t sm_rd_i16(sm_rd *r)
{
    const uint8_t *q = sm_rd_take(r, 2);
    return q ? (int16_t)sm_be16(q) : 0;
}
static inline int32_t sm_rd_i32(sm_rd *r)
{
    const uint8_t *q = sm_rd_take(r, 4);
    return q ? (int32_t)sm_be32(q) : 0;
}
static inline int64_t sm_rd_i64(sm_rd *r)
{
    const uint8_t *q = sm_rd_take(r, 8);
    return q ? (int64_t)sm_be64(q) : 0;
}
static inline bool sm_rd_bool(sm_rd *r) { return sm_rd_i8(r) != 0; }

/* Unsigned LEB128 varint of at most 5 bytes (Kafka's unsigned varint). */
uint32_t sm_rd_uvarint(sm_rd *r);
/* Zig-zag varint (int32) and varlong (int64), as used inside record batches. */
int32_t sm_rd_varint(sm_rd *r);
int64_t sm_rd_varlong(sm_rd *r);

/* Kafka STRING / NULLABLE_STRING: int16 length then bytes; length -1 is null. */
sm_str sm_rd_str(sm_rd *r);
/* Kafka BYTES / NULLABLE_BYTES / RECORDS: int32 length then bytes; -1 is null. */
sm_str sm_rd_bytes(sm_rd *r);

/* Array length (int32). -1 (null) is returned as -1 only if nullable, else fails.
 * Any count that could not fit in the bytes left, given each element takes at
 * least min_elem bytes, fails the reader: a lying count never drives an
 * allocation bigger than the frame itself. */
int32_t sm_rd_array(sm_rd *r, size_t min_elem, bool nullable);

/* Compact forms of flexible versions (KIP-482): an unsigned varint holding
 * length + 1, so 0 is null. COMPACT_STRING / COMPACT_NULLABLE_STRING: a
 * length over 32767 fails (as Kafka's readers do); a null comes back as
 * SM_STR_NULL for the codec to refuse where the schema is not nullable. */
sm_str sm_rd_compact_str(sm_rd *r);
/* COMPACT_BYTES / COMPACT_NULLABLE_BYTES / COMPACT_RECORDS. */
sm_str sm_rd_compact_bytes(sm_rd *r);
/* COMPACT_ARRAY count: as sm_rd_array (capped by the bytes left at
 * min_elem bytes each; null is -1 only if nullable, else fails). */
int32_t sm_rd_compact_array(sm_rd *r, size_t min_elem, bool nullable);

/* A tagged-field section: count, then per field Tag, Size (unsigned
 * varints) and Size bytes. fn (may be NULL) is called for each field with a
 * reader over exactly its bytes; it returns true when it knows the tag and
 * has read the field, which must then be consumed exactly, and false to skip
 * an unknown tag. A count that cannot fit in the bytes left, a Size past
 * the end, an over-long varint, or a known field read short or long fails
 * the reader. */
typedef bool (*sm_rd_tag_fn)(sm_rd *field, uint32_t tag, void *ctx);
void sm_rd_tags(sm_rd *r, sm_rd_tag_fn fn, void *ctx);
static inline void sm_rd_tags_skip(sm_rd *r) { sm_rd_tags(r, NULL, NULL); }

/* ---- writer ---------------------------------------------------------------- */

typedef struct sm_wbuf {
    uint8_t *p;
    size_t len;
    size_t cap;
    bool oom; /* sticky: an allocation failed; contents are incomplete */
} sm_wbuf;

void sm_wbuf_init(sm_wbuf *w, size_t cap);
void sm_wbuf_release(sm_wbuf *w);
/* Ensures room for n more bytes; returns a pointer to them or NULL (sets oom). */
uint8_t *sm_wbuf_grow(sm_wbuf *w, size_t n);
/* Hands the buffer's memory to the caller (free() it) and resets w. */
uint8_t *sm_wbuf_detach(sm_wbuf *w, size_t *len);

static inline uint8_t *sm_wbuf_room(sm_wbuf *w, size_t n)
{
    if (w->cap - w->len >= n) {
        uint8_t *q = w->p + w->len;
        w->len += n;
        return q;
    }
    return sm_wbuf_grow(w, n);
}
static inline void sm_wbuf_i8(sm_wbuf *w, int8_t v)
{
    uint8_t *q = sm_wbuf_room(w, 1);
    if (q) q[0] = (uint8_t)v;
}
static inline void sm_wbuf_i16(sm_wbuf *w, int16_t v)
{
    uint8_t *q = sm_wbuf_room(w, 2);
    if (q) sm_put_be16(q, (uint16_t)v);
}
static inline void sm_wbuf_i32(sm_wbuf *w, int32_t v)
{
    uint8_t *q = sm_wbuf_room(w, 4);
    if (q) sm_put_be32(q, (uint32_t)v);
}
static inline void sm_wbuf_i64(sm_wbuf *w, int64_t v)
{
    uint8_t *q = sm_wbuf_room(w, 8);
    if (q) sm_put_be64(q, (uint64_t)v);
}
static inline void sm_wbuf_bool(sm_wbuf *w, bool v) { sm_wbuf_i8(w, v ? 1 : 0); }
static inline void sm_wbuf_raw(sm_wbuf *w, const void *src, size_t n)
{
    uint8_t *q = sm_wbuf_room(w, n);
    if (q && n) memcpy(q, src, n);
}
/* Reserves a big-endian int32 to fill in later with sm_wbuf_patch_i32. */
static inline size_t sm_wbuf_mark_i32(sm_wbuf *w)
{
    size_t at = w->len;
    sm_wbuf_i32(w, 0);
    return at;
}
static inline void sm_wbuf_patch_i32(sm_wbuf *w, size_t at, int32_t v)
{
    if (!w->oom && at + 4 <= w->len) sm_put_be32(w->p + at, (uint32_t)v);
}

/* Kafka STRING/NULLABLE_STRING (int16 length) and BYTES (int32 length). */
void sm_wbuf_str(sm_wbuf *w, sm_str s);
void sm_wbuf_cstr(sm_wbuf *w, const char *s);
void sm_wbuf_bytes(sm_wbuf *w, sm_str b);
void sm_wbuf_uvarint(sm_wbuf *w, uint32_t v);
void sm_wbuf_varint(sm_wbuf *w, int32_t v);
void sm_wbuf_varlong(sm_wbuf *w, int64_t v);
void sm_wbuf_vbytes(sm_wbuf *w, sm_str b);

/* Compact forms (flexible versions): a string or bytes with len < 0 (or
 * p == NULL) goes out as null; a count n < 0 as a null array. */
void sm_wbuf_compact_str(sm_wbuf *w, sm_str s);
void sm_wbuf_compact_bytes(sm_wbuf *w, sm_str b);
static inline void sm_wbuf_compact_count(sm_wbuf *w, int32_t n)
{
    sm_wbuf_uvarint(w, n < 0 ? 0u : (uint32_t)n + 1u);
}
/* An empty tagged-field section. A section with fields is its count
 * (sm_wbuf_uvarint) then sm_wbuf_tag per field, tags in increasing order. */
static inline void sm_wbuf_tags_none(sm_wbuf *w) { sm_wbuf_uvarint(w, 0); }
void sm_wbuf_tag(sm_wbuf *w, uint32_t tag, const void *p, size_t n);

#endif
