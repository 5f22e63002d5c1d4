/* proto_check.h: the harness shared by the per-API codec tests
 * (test_proto_admin.c, test_proto_group.c).
 *
 * A test builds a request body field by field with a `pb` builder, which
 * remembers where every array count, STRING and BYTES length sits. For
 * every supported version, run_decoder() then checks:
 *   - the body decodes, and every field is what was written (the API's
 *     check function);
 *   - every strict prefix fails with SM_ECORRUPT, and so does one extra byte
 *     (unless the case's name says "(trailing bytes ignored)": then it decodes);
 *   - every array count patched to 0x7fffffff, to -2 (and to -1 where the
 *     array is not nullable) fails, with no allocation beyond a few KiB;
 *   - every non-nullable STRING or BYTES patched to null (-1) fails, both
 *     with its contents left behind and with them cut out (so that the
 *     body is otherwise well formed);
 *   - in a flexible version (the builder calls pb_flex), the same with the
 *     compact forms: every count and length re-encoded as null (0), as
 *     0x7fffffff, as the bytes left, as an over-long varint; every
 *     tagged-field section (each holds one unknown tag, which must be
 *     skipped) given a lying count and a Size past the end;
 *   - thousands of seeded random mutations decode to SM_OK or SM_ECORRUPT
 *     without a crash (ASan/UBSan watch), and whatever decodes is walked
 *     end to end: every string lies inside the input, every array is
 *     readable. */
#ifndef SM_TEST_PROTO_CHECK_H
#define SM_TEST_PROTO_CHECK_H

#include <stdbool.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "check.h"

/* ---- request builder with marks ------------------------------------------ */

#define PB_MAX_MARKS 128

enum pb_mark_kind { PB_COUNT, PB_NCOUNT, PB_STR, PB_BYTES, PB_TAGS };

typedef struct pb {
    sm_wbuf w;
    bool fx; /* flexible version: compact forms, tagged fields */
    int nmarks;
    struct {
        size_t at;
        size_t width; /* bytes of the count or length prefix */
        enum pb_mark_kind kind;
        bool min1;    /* an array whose elements may take 1 byte (compact strings) */
    } marks[PB_MAX_MARKS];
} pb;

static inline void pb_init(pb *b)
{
    sm_wbuf_init(&b->w, 64);
    b->fx = false;
    b->nmarks = 0;
}
/* Called by a builder first: whether this version is flexible. */
static inline void pb_flex(pb *b, bool fx) { b->fx = fx; }
static inline void pb_release(pb *b) { sm_wbuf_release(&b->w); }

static inline void pb_mark(pb *b, enum pb_mark_kind kind)
{
    REQUIRE(b->nmarks < PB_MAX_MARKS);
    b->marks[b->nmarks].at = b->w.len;
    b->marks[b->nmarks].kind = kind;
    b->marks[b->nmarks].width = 0;
    b->marks[b->nmarks].min1 = false;
    b->nmarks++;
}
/* Ends the last mark's prefix here (compact forms: the varint's width). */
static inline void pb_mark_end(pb *b, size_t prefix_end)
{
    b->marks[b->nmarks - 1].width = prefix_end - b->marks[b->nmarks - 1].at;
}

static inline void pb_i8(pb *b, int8_t v) { sm_wbuf_i8(&b->w, v); }
static inline void pb_i16(pb *b, int16_t v) { sm_wbuf_i16(&b->w, v); }
static inline void pb_i32(pb *b, int32_t v) { sm_wbuf_i32(&b->w, v); }
static inline void pb_i64(pb *b, int64_t v) { sm_wbuf_i64(&b->w, v); }
static inline void pb_bool(pb *b, bool v) { sm_wbuf_bool(&b->w, v); }
/* array count (non-nullable / nullable array; -1 null) */
static inline void pb_count_(pb *b, int32_t n, enum pb_mark_kind kind)
{
    pb_mark(b, kind);
    if (b->fx)
        sm_wbuf_compact_count(&b->w, n);
    else
        sm_wbuf_i32(&b->w, n);
    pb_mark_end(b, b->w.len);
}
static inline void pb_count(pb *b, int32_t n) { pb_count_(b, n, PB_COUNT); }
/* An array of compact strings (flexible []string): an element may be one
 * byte, so a count equal to the bytes left passes the cap and is refused
 * only when its elements run out; the arena then holds that many. */
static inline void pb_count1(pb *b, int32_t n)
{
    pb_count_(b, n, PB_COUNT);
    b->marks[b->nmarks - 1].min1 = true;
}
static inline void pb_ncount(pb *b, int32_t n) { pb_count_(b, n, PB_NCOUNT); }
/* STRING (non-nullable) */
static inline void pb_str(pb *b, const char *s)
{
    pb_mark(b, PB_STR);
    size_t n = strlen(s);
    if (b->fx) {
        sm_wbuf_uvarint(&b->w, (uint32_t)n + 1);
        pb_mark_end(b, b->w.len);
        sm_wbuf_raw(&b->w, s, n);
    } else {
        pb_mark_end(b, b->w.len + 2);
        sm_wbuf_cstr(&b->w, s);
    }
}
/* NULLABLE_STRING: NULL writes null */
static inline void pb_nstr(pb *b, const char *s)
{
    if (b->fx)
        sm_wbuf_compact_str(&b->w, sm_str_c(s));
    else
        sm_wbuf_cstr(&b->w, s);
}
/* BYTES (non-nullable) */
static inline void pb_bytes(pb *b, const void *p, int32_t n)
{
    pb_mark(b, PB_BYTES);
    if (b->fx) {
        sm_wbuf_uvarint(&b->w, (uint32_t)n + 1);
        pb_mark_end(b, b->w.len);
        sm_wbuf_raw(&b->w, p, (size_t)n);
    } else {
        pb_mark_end(b, b->w.len + 4);
        sm_wbuf_bytes(&b->w, (sm_str){(const char *)p, n});
    }
}
/* NULLABLE_BYTES / RECORDS: NULL writes null */
static inline void pb_nbytes(pb *b, const void *p, int32_t n)
{
    sm_str s = p ? (sm_str){(const char *)p, n} : SM_STR_NULL;
    if (b->fx)
        sm_wbuf_compact_bytes(&b->w, s);
    else
        sm_wbuf_bytes(&b->w, s);
}
/* The tagged fields ending a struct (flexible versions only): one unknown
 * tag (a decoder must skip it) with 2 bytes. */
static inline void pb_tags(pb *b)
{
    if (!b->fx)
        return;
    pb_mark(b, PB_TAGS);
    sm_wbuf_uvarint(&b->w, 1);
    pb_mark_end(b, b->w.len);
    sm_wbuf_tag(&b->w, 1000, "\x5a\x5a", 2);
}

/* ---- deterministic PRNG (xorshift64*) --------------------------------------- */

static uint64_t prng_state = 0x9e3779b97f4a7c15ull;
static inline uint64_t prng(void)
{
    prng_state ^= prng_state >> 12;
    prng_state ^= prng_state << 25;
    prng_state ^= prng_state >> 27;
    return prng_state * 0x2545f4914f6cdd1dull;
}
static inline size_t prng_below(size_t n) { return n ? (size_t)(prng() % n) : 0; }

/* ---- walking decoded output --------------------------------------------------- */

/* The input buffer of the decode being walked: every decoded string must lie
 * inside it. */
static const uint8_t *walk_lo, *walk_hi;
static unsigned walk_sum;

static inline void walk_str(sm_str s)
{
    if (s.len < 0) {
        CHECK(s.len == -1);
        return;
    }
    if (s.len == 0)
        return;
    const uint8_t *p = (const uint8_t *)s.p;
    CHECK(p >= walk_lo && p + s.len <= walk_hi);
    for (int32_t i = 0; i < s.len; i++)
        walk_sum += p[i];
}

/* A decoded array: a count and its elements. Reads every byte of the
 * elements so ASan sees an array shorter than its count. */
static inline void walk_array(const void *p, int32_t n, size_t sz)
{
    CHECK(n >= -1);
    if (n <= 0)
        return;
    CHECK(p != NULL);
    const unsigned char *q = p;
    for (size_t i = 0; i < (size_t)n * sz; i++)
        walk_sum += q[i];
}

/* ---- the generic decoder checks ------------------------------------------------- */

typedef int (*decode_fn)(sm_rd *r, int16_t v, sm_arena *a, void *out);
typedef void (*build_fn)(pb *b, int16_t v);
typedef void (*verify_fn)(const void *out, int16_t v);
typedef void (*walk_fn)(const void *out, int16_t v);

typedef struct decoder_case {
    const char *name;
    int16_t min_version, max_version;
    build_fn build;   /* a realistic request of that version */
    decode_fn decode; /* the decoder under test */
    verify_fn verify; /* checks every field against what build wrote */
    walk_fn walk;     /* touches everything a decoded request holds */
    size_t out_size;  /* sizeof the request struct */
} decoder_case;

#define OUT_MAX 512

static int run_one(const decoder_case *c, int16_t v, const uint8_t *p, size_t len, size_t *used,
                   bool walk)
{
    sm_arena a;
    sm_arena_init(&a);
    sm_rd r;
    sm_rd_init(&r, p, len);
    _Alignas(16) unsigned char out[OUT_MAX];
    memset(out, 0xa5, sizeof out);
    int rc = c->decode(&r, v, &a, out);
    if (rc == SM_OK && walk) {
        walk_lo = p;
        walk_hi = p + len;
        c->walk(out, v);
    }
    if (used)
        *used = a.used;
    sm_arena_release(&a);
    return rc;
}

/* Copies the body into an exactly sized heap block so that ASan catches a
 * read one byte past the end. */
static uint8_t *dup_exact(const uint8_t *p, size_t len)
{
    uint8_t *q = malloc(len ? len : 1);
    REQUIRE(q);
    if (len)
        memcpy(q, p, len);
    return q;
}

/* Patches one length or count and expects SM_ECORRUPT, with no more taken
 * from the arena than the valid body took (max_used). */
static void check_patch(const decoder_case *c, int16_t v, const pb *b, size_t at, size_t width,
                        int32_t val, const char *what, size_t max_used, int *bad, int *count)
{
    (*count)++;
    uint8_t *q = dup_exact(b->w.p, b->w.len);
    if (width == 4)
        sm_put_be32(q + at, (uint32_t)val);
    else
        sm_put_be16(q + at, (uint16_t)val);
    size_t used = 0;
    int rc = run_one(c, v, q, b->w.len, &used, true);
    if (rc != SM_ECORRUPT || used > max_used) {
        fprintf(stderr, "%s v%d: %s %d at offset %zu: rc %d, arena %zu\n", c->name, v, what,
                val, at, rc, used);
        (*bad)++;
    }
    free(q);
}

/* Replaces the whole STRING (width 2) or BYTES (width 4) at `at`, length and
 * contents, by a null, so that the rest of the body stays well formed: a
 * decoder must refuse the null itself. */
static void check_spliced_null(const decoder_case *c, int16_t v, const pb *b, size_t at,
                               size_t width, size_t max_used, int *bad, int *count)
{
    (*count)++;
    size_t n = width == 2 ? sm_be16(b->w.p + at) : sm_be32(b->w.p + at);
    size_t tail = at + width + n;
    REQUIRE(tail <= b->w.len);
    size_t len = at + width + (b->w.len - tail);
    uint8_t *q = malloc(len);
    REQUIRE(q);
    memcpy(q, b->w.p, at);
    memset(q + at, 0xff, width);
    memcpy(q + at + width, b->w.p + tail, b->w.len - tail);
    size_t used = 0;
    int rc = run_one(c, v, q, len, &used, true);
    if (rc != SM_ECORRUPT || used > max_used) {
        fprintf(stderr, "%s v%d: null %s at offset %zu accepted: rc %d\n", c->name, v,
                width == 2 ? "STRING" : "BYTES", at, rc);
        (*bad)++;
    }
    free(q);
}

/* Replaces the varint prefix [at, at + width) by the unsigned varint val
 * (or, with overlong, by six continuation bytes); cut_content also removes
 * the n content bytes that followed it. Expects SM_ECORRUPT. */
static void check_varint(const decoder_case *c, int16_t v, const pb *b, size_t at, size_t width,
                         uint32_t val, bool overlong, size_t cut_content, const char *what,
                         size_t max_used, int *bad, int *count)
{
    (*count)++;
    uint8_t enc[8];
    size_t en = 0;
    if (overlong) {
        memset(enc, 0xff, 6);
        enc[5] = 0x7f;
        en = 6;
    } else {
        uint32_t x = val;
        while (x >= 0x80) {
            enc[en++] = (uint8_t)(x | 0x80);
            x >>= 7;
        }
        enc[en++] = (uint8_t)x;
    }
    size_t tail = at + width + cut_content;
    REQUIRE(tail <= b->w.len);
    size_t len = at + en + (b->w.len - tail);
    uint8_t *q = malloc(len);
    REQUIRE(q);
    memcpy(q, b->w.p, at);
    memcpy(q + at, enc, en);
    memcpy(q + at + en, b->w.p + tail, b->w.len - tail);
    size_t used = 0;
    int rc = run_one(c, v, q, len, &used, true);
    if (rc != SM_ECORRUPT || used > max_used) {
        fprintf(stderr, "%s v%d: %s at offset %zu: rc %d, arena %zu\n", c->name, v, what, at, rc,
                used);
        (*bad)++;
    }
    free(q);
}

/* A compact mark's value: the varint at its offset. */
static uint32_t mark_varint(const pb *b, size_t at)
{
    sm_rd r;
    sm_rd_init(&r, b->w.p + at, b->w.len - at);
    return sm_rd_uvarint(&r);
}

static void check_compact_marks(const decoder_case *c, int16_t v, const pb *b, size_t used,
                                int *bad, int *patches)
{
    for (int i = 0; i < b->nmarks; i++) {
        size_t at = b->marks[i].at, wd = b->marks[i].width;
        uint32_t left = (uint32_t)(b->w.len - at - wd);
        uint32_t val = mark_varint(b, at);
        switch (b->marks[i].kind) {
        case PB_COUNT:
        case PB_NCOUNT:
            if (b->marks[i].kind == PB_COUNT)
                check_varint(c, v, b, at, wd, 0, false, 0, "null non-nullable compact array",
                             used, bad, patches);
            check_varint(c, v, b, at, wd, 0x7fffffff, false, 0, "lying compact count", used,
                         bad, patches);
            if (left > 0)
                check_varint(c, v, b, at, wd, left + 1, false, 0, "compact count of the bytes left",
                             b->marks[i].min1 ? used + (size_t)left * 64 : used, bad, patches);
            check_varint(c, v, b, at, wd, 0, true, 0, "over-long compact count", used, bad,
                         patches);
            break;
        case PB_STR:
        case PB_BYTES:
            check_varint(c, v, b, at, wd, 0, false, 0, "null compact STRING/BYTES", used, bad,
                         patches);
            check_varint(c, v, b, at, wd, 0, false, val - 1, "null compact STRING/BYTES, spliced",
                         used, bad, patches);
            check_varint(c, v, b, at, wd, left + 2, false, 0, "compact length past the end", used,
                         bad, patches);
            check_varint(c, v, b, at, wd, 0, true, 0, "over-long compact length", used, bad,
                         patches);
            break;
        case PB_TAGS:
            check_varint(c, v, b, at, wd, 0x7fffffff, false, 0, "lying tag count", used, bad,
                         patches);
            /* the unknown tag's Size (after its Tag varint, two bytes for 1000) past the end */
            check_varint(c, v, b, at + wd + 2, 1, left + 1, false, 0, "tag Size past the end", used,
                         bad, patches);
            break;
        }
    }
}

static int fuzz_iterations = 3000;

static void fuzz_one(const decoder_case *c, int16_t v, const pb *b, int *bad)
{
    static const int32_t interesting[] = {0, 1, -1, -2, 2, 3, 0x7f, 0xff, 0x7fff, -0x8000,
                                          0xffff, 0x7fffffff, INT32_MIN, 16, 64, 255};
    size_t cap = b->w.len + 16;
    uint8_t *q = malloc(cap);
    REQUIRE(q);
    for (int it = 0; it < fuzz_iterations; it++) {
        memcpy(q, b->w.p, b->w.len);
        size_t len = b->w.len;
        int nmut = 1 + (int)prng_below(3);
        for (int m = 0; m < nmut; m++) {
            switch (prng_below(6)) {
            case 0: /* random byte */
                if (len)
                    q[prng_below(len)] = (uint8_t)prng();
                break;
            case 1: /* truncate */
                len = prng_below(len + 1);
                break;
            case 2: /* an interesting int32 over a marked count or anywhere */
            case 3: {
                size_t at;
                if (b->nmarks && prng_below(2))
                    at = b->marks[prng_below((size_t)b->nmarks)].at;
                else
                    at = prng_below(len + 1);
                int32_t val = interesting[prng_below(sizeof interesting / sizeof interesting[0])];
                if (at + 4 <= len)
                    sm_put_be32(q + at, (uint32_t)val);
                else if (at + 2 <= len)
                    sm_put_be16(q + at, (uint16_t)val);
                break;
            }
            case 4: /* insert a byte */
                if (len < cap) {
                    size_t at = prng_below(len + 1);
                    memmove(q + at + 1, q + at, len - at);
                    q[at] = (uint8_t)prng();
                    len++;
                }
                break;
            default: /* delete a byte */
                if (len) {
                    size_t at = prng_below(len);
                    memmove(q + at, q + at + 1, len - at - 1);
                    len--;
                }
                break;
            }
        }
        uint8_t *exact = dup_exact(q, len);
        int rc = run_one(c, v, exact, len, NULL, true);
        if (rc != SM_OK && rc != SM_ECORRUPT) {
            fprintf(stderr, "%s v%d: fuzz iteration %d: rc %d\n", c->name, v, it, rc);
            (*bad)++;
        }
        free(exact);
    }
    free(q);
}

/* Every check above for one decoder, every version it supports. */
static void run_decoder(const decoder_case *c)
{
    int truncations = 0, patches = 0;
    REQUIRE(c->out_size <= OUT_MAX);
    for (int16_t v = c->min_version; v <= c->max_version; v++) {
        pb b;
        pb_init(&b);
        c->build(&b, v);
        REQUIRE(!b.w.oom);
        int bad = 0;

        /* the whole body, every field */
        uint8_t *q = dup_exact(b.w.p, b.w.len);
        size_t used = 0;
        {
            sm_arena a;
            sm_arena_init(&a);
            sm_rd r;
            sm_rd_init(&r, q, b.w.len);
            _Alignas(16) unsigned char out[OUT_MAX];
            memset(out, 0xa5, sizeof out);
            int rc = c->decode(&r, v, &a, out);
            CHECK_EQ_I64(rc, SM_OK);
            if (rc != SM_OK)
                fprintf(stderr, "%s v%d: the valid body does not decode\n", c->name, v);
            if (rc == SM_OK) {
                c->verify(out, v);
                walk_lo = q;
                walk_hi = q + b.w.len;
                c->walk(out, v);
            }
            used = a.used;
            sm_arena_release(&a);
        }
        free(q);

        /* every strict prefix, then one trailing byte */
        for (size_t cut = 0; cut < b.w.len; cut++) {
            uint8_t *t = dup_exact(b.w.p, cut);
            if (run_one(c, v, t, cut, NULL, false) != SM_ECORRUPT) {
                fprintf(stderr, "%s v%d: prefix of %zu/%zu bytes accepted\n", c->name, v, cut,
                        b.w.len);
                bad++;
            }
            free(t);
            truncations++;
        }
        uint8_t *longer = malloc(b.w.len + 1);
        REQUIRE(longer);
        memcpy(longer, b.w.p, b.w.len);
        longer[b.w.len] = 0;
        /* a case named "... (trailing bytes ignored)" decodes one as Kafka does */
        bool lenient = strstr(c->name, "(trailing bytes ignored)") != NULL;
        if (run_one(c, v, longer, b.w.len + 1, NULL, false) != (lenient ? SM_OK : SM_ECORRUPT)) {
            fprintf(stderr, "%s v%d: a trailing byte %s\n", c->name, v,
                    lenient ? "refused" : "accepted");
            bad++;
        }
        free(longer);

        /* lying counts and nulls where the schema forbids them. A count equal
         * to the bytes left must be refused too: every element of every
         * array we decode takes at least 2 bytes. No refusal may take more
         * from the arena than the valid body did. */
        if (b.fx)
            check_compact_marks(c, v, &b, used, &bad, &patches);
        for (int i = 0; i < b.nmarks && !b.fx; i++) {
            size_t at = b.marks[i].at;
            int32_t left = (int32_t)(b.w.len - at - 4);
            switch (b.marks[i].kind) {
            case PB_COUNT:
            case PB_NCOUNT:
                if (b.marks[i].kind == PB_COUNT)
                    check_patch(c, v, &b, at, 4, -1, "null non-nullable array", used, &bad,
                                &patches);
                check_patch(c, v, &b, at, 4, 0x7fffffff, "lying count", used, &bad, &patches);
                if (left > 0)
                    check_patch(c, v, &b, at, 4, left, "count of the bytes left", used, &bad,
                                &patches);
                check_patch(c, v, &b, at, 4, -2, "negative count", used, &bad, &patches);
                check_patch(c, v, &b, at, 4, INT32_MIN, "negative count", used, &bad, &patches);
                break;
            case PB_STR:
                check_patch(c, v, &b, at, 2, -1, "null STRING", used, &bad, &patches);
                check_spliced_null(c, v, &b, at, 2, used, &bad, &patches);
                check_patch(c, v, &b, at, 2, 0x7fff, "long STRING", used, &bad, &patches);
                break;
            case PB_BYTES:
                check_patch(c, v, &b, at, 4, -1, "null BYTES", used, &bad, &patches);
                check_spliced_null(c, v, &b, at, 4, used, &bad, &patches);
                check_patch(c, v, &b, at, 4, 0x7fffffff, "long BYTES", used, &bad, &patches);
                break;
            case PB_TAGS: /* flexible versions only */
                break;
            }
        }

        fuzz_one(c, v, &b, &bad);
        CHECK(bad == 0);
        pb_release(&b);
    }
    printf("   %-18s v%d-%d: fields, %d truncations, %d patched counts/strings, %d fuzz "
           "mutations per version\n",
           c->name, c->min_version, c->max_version, truncations, patches, fuzz_iterations);
}

/* ---- reading responses back ------------------------------------------------------- */

/* Asserts the reader consumed exactly what the encoder wrote. */
#define CHECK_RESP_END(r)                                                                         \
    do {                                                                                          \
        CHECK((r)->err == 0);                                                                     \
        CHECK_EQ_I64(sm_rd_left(r), 0);                                                           \
    } while (0)

/* Reading a response back in either encoding (fx: a flexible version). */
static inline sm_str rd_str_fx(sm_rd *r, bool fx)
{
    return fx ? sm_rd_compact_str(r) : sm_rd_str(r);
}
static inline sm_str rd_bytes_fx(sm_rd *r, bool fx)
{
    return fx ? sm_rd_compact_bytes(r) : sm_rd_bytes(r);
}
static inline int32_t rd_count_fx(sm_rd *r, bool fx)
{
    return fx ? (int32_t)sm_rd_uvarint(r) - 1 : sm_rd_i32(r);
}
/* An empty tagged-field section (flexible versions only). */
#define CHECK_TAGS0(r, fx)                                                                        \
    do {                                                                                          \
        if (fx)                                                                                   \
            CHECK_EQ_I64(sm_rd_uvarint(r), 0);                                                    \
    } while (0)

static inline bool str_is(sm_str s, const char *c) { return c ? sm_str_eqc(s, c) : s.len == -1; }

#endif
