/* proto_check.h: the harness shared by the per-API codec tests
 * (test_proto_admin.c, test_proto_group.c).
 *
 * A test builds a request body field by field with a `pb` builder, which
 * remembers where every array count, STRING and BYTES length sits. For
 * every supported version, run_decoder() then checks:
 *   - the body decodes, and every field is what was written (the API's
 *     check function);
 *   - every strict prefix fails with SM_ECORRUPT, and so does one extra byte;
 *   - every array count patched to 0x7fffffff, to -2 (and to -1 where the
 *     array is not nullable) fails, with no allocation beyond a few KiB;
 *   - every non-nullable STRING or BYTES patched to null (-1) fails, both
 *     with its contents left behind and with them cut out (so that the
 *     body is otherwise well formed);
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

enum pb_mark_kind { PB_COUNT, PB_NCOUNT, PB_STR, PB_BYTES };

typedef struct pb {
    sm_wbuf w;
    int nmarks;
    struct {
        size_t at;
        enum pb_mark_kind kind;
    } marks[PB_MAX_MARKS];
} pb;

static inline void pb_init(pb *b)
{
    sm_wbuf_init(&b->w, 64);
    b->nmarks = 0;
}
static inline void pb_release(pb *b) { sm_wbuf_release(&b->w); }

static inline void pb_mark(pb *b, enum pb_mark_kind kind)
{
    REQUIRE(b->nmarks < PB_MAX_MARKS);
    b->marks[b->nmarks].at = b->w.len;
    b->marks[b->nmarks].kind = kind;
    b->nmarks++;
}

static inline void pb_i8(pb *b, int8_t v) { sm_wbuf_i8(&b->w, v); }
static inline void pb_i16(pb *b, int16_t v) { sm_wbuf_i16(&b->w, v); }
static inline void pb_i32(pb *b, int32_t v) { sm_wbuf_i32(&b->w, v); }
static inline void pb_i64(pb *b, int64_t v) { sm_wbuf_i64(&b->w, v); }
static inline void pb_bool(pb *b, bool v) { sm_wbuf_bool(&b->w, v); }
/* array count (non-nullable / nullable array) */
static inline void pb_count(pb *b, int32_t n)
{
    pb_mark(b, PB_COUNT);
    sm_wbuf_i32(&b->w, n);
}
static inline void pb_ncount(pb *b, int32_t n)
{
    pb_mark(b, PB_NCOUNT);
    sm_wbuf_i32(&b->w, n);
}
/* STRING (non-nullable) */
static inline void pb_str(pb *b, const char *s)
{
    pb_mark(b, PB_STR);
    sm_wbuf_cstr(&b->w, s);
}
/* NULLABLE_STRING: NULL writes null */
static inline void pb_nstr(pb *b, const char *s) { sm_wbuf_cstr(&b->w, s); }
/* BYTES (non-nullable) */
static inline void pb_bytes(pb *b, const void *p, int32_t n)
{
    pb_mark(b, PB_BYTES);
    sm_wbuf_bytes(&b->w, (sm_str){(const char *)p, n});
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
        if (run_one(c, v, longer, b.w.len + 1, NULL, false) != SM_ECORRUPT) {
            fprintf(stderr, "%s v%d: a trailing byte accepted\n", c->name, v);
            bad++;
        }
        free(longer);

        /* lying counts and nulls where the schema forbids them. A count equal
         * to the bytes left must be refused too: every element of every
         * array we decode takes at least 2 bytes. No refusal may take more
         * from the arena than the valid body did. */
        for (int i = 0; i < b.nmarks; i++) {
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

static inline bool str_is(sm_str s, const char *c) { return c ? sm_str_eqc(s, c) : s.len == -1; }

#endif
