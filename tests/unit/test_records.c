/* test_records.c: the records iterator (proto/batch.c), the codecs behind it
 * (proto/compress.c) and the checks Produce makes on a producer's batch.
 *
 * Compressed batches are made here with the codec libraries themselves
 * (zlib, libsnappy, liblz4, libzstd) in Kafka's framings, then read back
 * record by record; then cut short at every length, inflated past the
 * limit, and broken one rule at a time. */
#include <lz4frame.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "base/buf.h"
#include "base/crc32c.h"
#include "batch_builder.h"
#include "check.h"
#include "proto/batch.h"
#include "proto/compress.h"
#include "proto/kafka.h"

#define NOW 1700000000000LL

/* ---- making compressed payloads with the libraries -------------------------------------- */

typedef struct blob {
    uint8_t *p;
    size_t len;
} blob;

static blob gzip_of(const uint8_t *in, size_t n)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    REQUIRE(deflateInit2(&s, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    blob b = {malloc(deflateBound(&s, n)), 0};
    s.next_in = (Bytef *)in;
    s.avail_in = (uInt)n;
    s.next_out = b.p;
    s.avail_out = (uInt)deflateBound(&s, n);
    REQUIRE(deflate(&s, Z_FINISH) == Z_STREAM_END);
    b.len = s.total_out;
    deflateEnd(&s);
    return b;
}

static blob snappy_raw_of(const uint8_t *in, size_t n)
{
    blob b = {malloc(snappy_max_compressed_length(n)), snappy_max_compressed_length(n)};
    REQUIRE(snappy_compress((const char *)in, n, (char *)b.p, &b.len) == SNAPPY_OK);
    return b;
}

/* snappy-java's framing: magic, version 1, compatible 1, (length, block)... */
static blob snappy_xerial_of(const uint8_t *in, size_t n, size_t block)
{
    sm_wbuf w;
    sm_wbuf_init(&w, 0);
    sm_wbuf_raw(&w, "\x82SNAPPY\0", 8);
    sm_wbuf_i32(&w, 1);
    sm_wbuf_i32(&w, 1);
    for (size_t at = 0; at < n; at += block) {
        size_t k = n - at < block ? n - at : block;
        blob c = snappy_raw_of(in + at, k);
        sm_wbuf_i32(&w, (int32_t)c.len);
        sm_wbuf_raw(&w, c.p, c.len);
        free(c.p);
    }
    return (blob){w.p, w.len};
}

static blob lz4_of(const uint8_t *in, size_t n, bool linked)
{
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = linked ? LZ4F_blockLinked : LZ4F_blockIndependent;
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    size_t cap = LZ4F_compressFrameBound(n, &prefs);
    blob b = {malloc(cap), 0};
    b.len = LZ4F_compressFrame(b.p, cap, in, n, &prefs);
    REQUIRE(!LZ4F_isError(b.len));
    return b;
}

static blob zstd_of(const uint8_t *in, size_t n)
{
    blob b = {malloc(ZSTD_compressBound(n)), 0};
    b.len = ZSTD_compress(b.p, ZSTD_compressBound(n), in, n, 3);
    REQUIRE(!ZSTD_isError(b.len));
    return b;
}

enum { V_GZIP, V_SNAPPY_XERIAL, V_SNAPPY_RAW, V_LZ4, V_ZSTD, V_N };
static const char *const vnames[V_N] = {"gzip", "snappy (xerial)", "snappy (raw)", "lz4", "zstd"};
static const int vcodec[V_N] = {SM_COMP_GZIP, SM_COMP_SNAPPY, SM_COMP_SNAPPY, SM_COMP_LZ4,
                                SM_COMP_ZSTD};

static blob pack(int v, const uint8_t *in, size_t n)
{
    switch (v) {
    case V_GZIP: return gzip_of(in, n);
    case V_SNAPPY_XERIAL: return snappy_xerial_of(in, n, 32 * 1024);
    case V_SNAPPY_RAW: return snappy_raw_of(in, n);
    case V_LZ4: return lz4_of(in, n, false);
    default: return zstd_of(in, n);
    }
}

/* ---- batches ------------------------------------------------------------------------------ */

/* n records "key-<i>" / value of vsize bytes, as an uncompressed batch in w
 * (from bb_simple); returns where its records section starts. */
static size_t plain_batch(sm_wbuf *w, int32_t n, int32_t vsize)
{
    w->len = 0;
    REQUIRE(bb_simple(w, n, NOW, 1, vsize) > 0);
    return SM_BATCH_HEADER_LEN;
}

/* A batch with the given header fields whose records section is payload. */
static void batch_of(sm_wbuf *w, int codec, int32_t count, int32_t last_delta,
                     const uint8_t *payload, size_t len)
{
    bb_opts o = bb_default_opts;
    o.attributes = (int16_t)codec;
    w->len = 0;
    size_t at = bb_header_begin(w, &o, last_delta, NOW, NOW + count - 1, count);
    sm_wbuf_raw(w, payload, len);
    REQUIRE(!w->oom);
    bb_finish(w, at);
}

/* The records of an uncompressed batch of n records, compressed by variant v
 * into a batch in w. */
static void packed_batch(sm_wbuf *w, int v, int32_t n, int32_t vsize)
{
    sm_wbuf plain;
    sm_wbuf_init(&plain, 0);
    size_t at = plain_batch(&plain, n, vsize);
    blob c = pack(v, plain.p + at, plain.len - at);
    batch_of(w, vcodec[v], n, n - 1, c.p, c.len);
    free(c.p);
    sm_wbuf_release(&plain);
}

static sm_batch_hdr header_of(const sm_wbuf *w)
{
    sm_batch_hdr h;
    REQUIRE(sm_batch_validate(w->p, w->len, &h) == SM_BATCH_OK);
    return h;
}

/* Iterates the whole batch; returns the iterator's last result (0 at a
 * clean end) and the records read. */
static int read_all(const sm_wbuf *w, uint64_t limit, bool keep, int32_t *nread,
                    sm_recs_fail *fail, size_t *cap)
{
    sm_batch_hdr h = header_of(w);
    sm_rec_iter it;
    sm_rec_iter_init(&it, w->p, &h, limit, keep);
    sm_record rec;
    int rc;
    *nread = 0;
    while ((rc = sm_rec_iter_next(&it, &rec)) == 1)
        (*nread)++;
    *fail = it.fail;
    if (cap)
        *cap = it.cap;
    sm_rec_iter_release(&it);
    return rc;
}

static const sm_batch_rules default_rules = {NOW, INT64_MAX, 3600000, false, 64 << 20,
                                             NULL, 0, NULL};

static sm_batch_check produced(const sm_wbuf *w, const sm_batch_rules *r)
{
    sm_batch_hdr h;
    sm_batch_check c = sm_batch_validate(w->p, w->len, &h);
    if (c != SM_BATCH_OK)
        return c;
    char why[256];
    return sm_batch_check_produced(w->p, &h, r ? r : &default_rules, why, sizeof why);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_round_trip(void)
{
    TEST_SECTION("every codec: records read back exactly, with and without their bytes");
    sm_wbuf w;
    sm_wbuf_init(&w, 0);
    for (int v = 0; v < V_N; v++) {
        packed_batch(&w, v, 300, 100);
        sm_batch_hdr h = header_of(&w);
        sm_rec_iter it;
        sm_rec_iter_init(&it, w.p, &h, 64 << 20, true);
        sm_record rec;
        int32_t i = 0;
        bool same = true;
        while (sm_rec_iter_next(&it, &rec) == 1) {
            char key[24];
            int klen = snprintf(key, sizeof key, "key-%d", i);
            same = same && rec.offset_delta == i && rec.timestamp_delta == i && rec.key.len == klen &&
                   !memcmp(rec.key.p, key, (size_t)klen) && rec.value.len == 100;
            for (int k = 0; same && k < 100; k++)
                same = (uint8_t)rec.value.p[k] == (uint8_t)(i * 31 + k);
            i++;
        }
        CHECK(it.fail == SM_RECS_OK);
        CHECK_EQ_I64(i, 300);
        CHECK(same);
        printf("   %s: 300 records, keys, values, deltas as written\n", vnames[v]);
        sm_rec_iter_release(&it);

        sm_rec_iter_init(&it, w.p, &h, 64 << 20, false);
        i = 0;
        same = true;
        while (sm_rec_iter_next(&it, &rec) == 1) {
            same = same && rec.key.p == NULL && rec.value.p == NULL && rec.value.len == 100 &&
                   rec.offset_delta == i;
            i++;
        }
        CHECK(same && i == 300 && it.fail == SM_RECS_OK);
        sm_rec_iter_release(&it);
        CHECK(produced(&w, NULL) == SM_BATCH_OK);
    }
    /* uncompressed, in place: key and value point into the batch */
    size_t at = plain_batch(&w, 3, 10);
    sm_batch_hdr h = header_of(&w);
    sm_rec_iter it;
    sm_rec_iter_init(&it, w.p, &h, 0, true);
    sm_record rec;
    CHECK(sm_rec_iter_next(&it, &rec) == 1 && (const uint8_t *)rec.key.p > w.p + at &&
          (const uint8_t *)rec.key.p < w.p + w.len);
    CHECK(sm_rec_iter_next(&it, &rec) == 1 && sm_rec_iter_next(&it, &rec) == 1);
    CHECK(sm_rec_iter_next(&it, &rec) == 0 && sm_rec_iter_next(&it, &rec) == 0);
    sm_rec_iter_release(&it);
    CHECK(produced(&w, NULL) == SM_BATCH_OK);
    sm_wbuf_release(&w);
}

static void test_streaming(void)
{
    TEST_SECTION("compressed records stream through a 64 KiB window");
    sm_wbuf w;
    sm_wbuf_init(&w, 0);
    for (int v = 0; v < V_N; v++) {
        packed_batch(&w, v, 2000, 1000); /* 2 MB of records */
        int32_t n;
        sm_recs_fail f;
        size_t cap;
        CHECK(read_all(&w, 64 << 20, false, &n, &f, &cap) == 0 && n == 2000);
        CHECK_EQ_I64(cap, 64 * 1024);
        printf("   %s: 2000 records of 1000 bytes read with the window at %zu bytes\n", vnames[v],
               cap);
    }
    /* a record larger than the window: skipped through when its bytes are
     * not wanted, held whole when they are */
    for (int v = 0; v < V_N; v++) {
        packed_batch(&w, v, 2, 300000);
        int32_t n;
        sm_recs_fail f;
        size_t cap;
        CHECK(read_all(&w, 64 << 20, false, &n, &f, &cap) == 0 && n == 2 && cap == 64 * 1024);
        sm_batch_hdr h = header_of(&w);
        sm_rec_iter it;
        sm_rec_iter_init(&it, w.p, &h, 64 << 20, true);
        sm_record rec;
        bool same = sm_rec_iter_next(&it, &rec) == 1 && rec.value.len == 300000;
        for (int k = 0; same && k < 300000; k++)
            same = (uint8_t)rec.value.p[k] == (uint8_t)k;
        CHECK(same);
        CHECK(sm_rec_iter_next(&it, &rec) == 1 && sm_rec_iter_next(&it, &rec) == 0);
        CHECK(it.cap >= 300000 && it.cap <= 2 * 300000 + 64 * 1024);
        sm_rec_iter_release(&it);
    }
    sm_wbuf_release(&w);
}

static void test_truncated(void)
{
    TEST_SECTION("compressed records cut short at every length: refused, never read past");
    sm_wbuf plain, w;
    sm_wbuf_init(&plain, 0);
    sm_wbuf_init(&w, 0);
    size_t at = plain_batch(&plain, 40, 30);
    for (int v = 0; v < V_N; v++) {
        blob c = pack(v, plain.p + at, plain.len - at);
        int undecompressable = 0, malformed = 0, bad = 0;
        for (size_t cut = 0; cut < c.len; cut++) {
            /* an exact copy of the cut bytes, so ASan sees any read past them */
            uint8_t *copy = malloc(cut ? cut : 1);
            memcpy(copy, c.p, cut);
            batch_of(&w, vcodec[v], 40, 39, copy, cut);
            free(copy);
            int32_t n;
            sm_recs_fail f;
            int rc = read_all(&w, 64 << 20, false, &n, &f, NULL);
            if (rc < 0 && f == SM_RECS_UNDECOMPRESSABLE)
                undecompressable++;
            else if (rc < 0 && f == SM_RECS_MALFORMED)
                malformed++; /* cut at a snappy block boundary: fewer records */
            else
                bad++;
            CHECK(produced(&w, NULL) != SM_BATCH_OK);
        }
        CHECK_EQ_I64(bad, 0);
        printf("   %s: %zu cuts: %d do not decompress, %d end between records\n", vnames[v], c.len,
               undecompressable, malformed);
        free(c.p);
    }
    /* and uncompressed records cut short */
    int bad = 0;
    for (size_t cut = 0; cut < plain.len - at; cut++) {
        batch_of(&w, SM_COMP_NONE, 40, 39, plain.p + at, cut);
        int32_t n;
        sm_recs_fail f;
        sm_batch_hdr h;
        if (sm_batch_validate(w.p, w.len, &h) != SM_BATCH_OK)
            continue; /* too few bytes for 40 records: refused at the header */
        if (!(read_all(&w, 0, false, &n, &f, NULL) < 0 && f == SM_RECS_MALFORMED))
            bad++;
    }
    CHECK_EQ_I64(bad, 0);
    sm_wbuf_release(&plain);
    sm_wbuf_release(&w);
}

static void test_limit(void)
{
    TEST_SECTION("decompressed size limit: a bomb is refused, the limit itself is fine");
    sm_wbuf plain, w;
    sm_wbuf_init(&plain, 0);
    sm_wbuf_init(&w, 0);
    /* one record of 1 MiB of zeros */
    uint8_t *zeros = calloc(1, 1 << 20);
    bb_record r = {.key = "k", .key_len = 1, .value = zeros, .value_len = 1 << 20, .timestamp = NOW};
    REQUIRE(bb_batch(&plain, NULL, &r, 1) > 0);
    size_t size = plain.len - SM_BATCH_HEADER_LEN;
    for (int v = 0; v < V_N; v++) {
        blob c = pack(v, plain.p + SM_BATCH_HEADER_LEN, size);
        batch_of(&w, vcodec[v], 1, 0, c.p, c.len);
        int32_t n;
        sm_recs_fail f;
        CHECK(read_all(&w, 100000, false, &n, &f, NULL) < 0 && f == SM_RECS_TOO_LARGE);
        CHECK(read_all(&w, size - 1, false, &n, &f, NULL) < 0 && f == SM_RECS_TOO_LARGE);
        CHECK(read_all(&w, size, false, &n, &f, NULL) == 0 && n == 1);
        sm_batch_rules rules = default_rules;
        rules.max_decompressed = 100000;
        CHECK(produced(&w, &rules) == SM_BATCH_TOO_LARGE_DECOMPRESSED);
        printf("   %s: %zu bytes inflating to %zu: refused at limit %zu, read at limit %zu\n",
               vnames[v], c.len, size, size - 1, size);
        free(c.p);
    }
    CHECK(sm_batch_check_kerr(SM_BATCH_TOO_LARGE_DECOMPRESSED) == SM_KERR_MESSAGE_TOO_LARGE);
    /* a raw snappy block claiming 1 GiB is refused before anything is allocated */
    const uint8_t claim[] = {0x80, 0x80, 0x80, 0x80, 0x04, 0x00, 0x00};
    size_t k = sizeof claim;
    sm_unzip *z = sm_unzip_open(SM_COMP_SNAPPY, claim, k, 64 << 20);
    uint8_t out[16];
    CHECK(sm_unzip_read(z, out, sizeof out) == SM_ERANGE);
    sm_unzip_free(z);
    free(zeros);
    sm_wbuf_release(&plain);
    sm_wbuf_release(&w);
}

static void test_framings(void)
{
    TEST_SECTION("Kafka's framings: what is read and what is refused");
    sm_wbuf plain, w;
    sm_wbuf_init(&plain, 0);
    sm_wbuf_init(&w, 0);
    size_t at = plain_batch(&plain, 2000, 100); /* 200 KB: several lz4 and xerial blocks */
    const uint8_t *recs = plain.p + at;
    size_t n = plain.len - at;
    int32_t got;
    sm_recs_fail f;

    blob c = lz4_of(recs, n, true);
    batch_of(&w, SM_COMP_LZ4, 2000, 1999, c.p, c.len);
    CHECK(read_all(&w, 64 << 20, false, &got, &f, NULL) < 0 && f == SM_RECS_UNDECOMPRESSABLE);
    printf("   lz4 frame with linked blocks: refused (Kafka's reader refuses them)\n");
    free(c.p);

    /* two gzip members one after the other, as GZIPInputStream reads them */
    blob g1 = gzip_of(recs, n / 2), g2 = gzip_of(recs + n / 2, n - n / 2);
    sm_wbuf cat;
    sm_wbuf_init(&cat, 0);
    sm_wbuf_raw(&cat, g1.p, g1.len);
    sm_wbuf_raw(&cat, g2.p, g2.len);
    batch_of(&w, SM_COMP_GZIP, 2000, 1999, cat.p, cat.len);
    CHECK(read_all(&w, 64 << 20, false, &got, &f, NULL) == 0 && got == 2000);
    /* two zstd frames likewise */
    blob z1 = zstd_of(recs, n / 2), z2 = zstd_of(recs + n / 2, n - n / 2);
    cat.len = 0;
    sm_wbuf_raw(&cat, z1.p, z1.len);
    sm_wbuf_raw(&cat, z2.p, z2.len);
    batch_of(&w, SM_COMP_ZSTD, 2000, 1999, cat.p, cat.len);
    CHECK(read_all(&w, 64 << 20, false, &got, &f, NULL) == 0 && got == 2000);
    printf("   two gzip members, two zstd frames: read as one stream\n");

    /* junk after the end of the data */
    for (int v = 0; v < V_N; v++) {
        blob p = pack(v, recs, n);
        cat.len = 0;
        sm_wbuf_raw(&cat, p.p, p.len);
        sm_wbuf_raw(&cat, "JUNK", 4);
        batch_of(&w, vcodec[v], 2000, 1999, cat.p, cat.len);
        CHECK(read_all(&w, 64 << 20, false, &got, &f, NULL) < 0 && f == SM_RECS_UNDECOMPRESSABLE);
        free(p.p);
    }
    printf("   4 bytes of junk after the data: refused for every codec\n");

    /* xerial framing with version 0, which snappy-java refuses */
    blob x = snappy_xerial_of(recs, n, 32 * 1024);
    sm_put_be32(x.p + 8, 0);
    batch_of(&w, SM_COMP_SNAPPY, 2000, 1999, x.p, x.len);
    CHECK(read_all(&w, 64 << 20, false, &got, &f, NULL) < 0 && f == SM_RECS_UNDECOMPRESSABLE);
    free(x.p);

    /* a gzip payload with one bit of its deflate data flipped: the trailer's CRC-32 */
    blob gz = gzip_of(recs, n);
    gz.p[gz.len / 2] ^= 0x10;
    batch_of(&w, SM_COMP_GZIP, 2000, 1999, gz.p, gz.len);
    CHECK(read_all(&w, 64 << 20, false, &got, &f, NULL) < 0 &&
          (f == SM_RECS_UNDECOMPRESSABLE || f == SM_RECS_MALFORMED));
    free(gz.p);

    /* a compressed batch whose stream holds one record more than RecordCount */
    blob p = pack(V_ZSTD, recs, n);
    batch_of(&w, SM_COMP_ZSTD, 1999, 1998, p.p, p.len);
    CHECK(read_all(&w, 64 << 20, false, &got, &f, NULL) < 0 && f == SM_RECS_MALFORMED && got == 1999);
    free(p.p);
    CHECK(!strcmp(sm_compression_name(SM_COMP_LZ4), "lz4") && !strcmp(sm_compression_name(6), "?"));
    CHECK(sm_unzip_open(5, recs, n, 1) == NULL && sm_unzip_open(SM_COMP_NONE, recs, n, 1) == NULL);
    free(g1.p);
    free(g2.p);
    free(z1.p);
    free(z2.p);
    sm_wbuf_release(&cat);
    sm_wbuf_release(&plain);
    sm_wbuf_release(&w);
}

/* One uncompressed record from its parts; HeaderCount says header_count
 * but `written` headers follow. */
static void raw_record_n(sm_wbuf *recs, int64_t len_adjust, int32_t offset_delta, int64_t ts_delta,
                         int32_t key_len, int32_t header_count, int32_t written, int32_t hkey_len)
{
    sm_wbuf b;
    sm_wbuf_init(&b, 0);
    sm_wbuf_i8(&b, 0);
    sm_wbuf_varlong(&b, ts_delta);
    sm_wbuf_varint(&b, offset_delta);
    sm_wbuf_varint(&b, key_len);
    if (key_len > 0)
        sm_wbuf_raw(&b, "kkkkkkkkkkkkkkkk", (size_t)key_len);
    sm_wbuf_varint(&b, 1);
    sm_wbuf_raw(&b, "v", 1);
    sm_wbuf_varint(&b, header_count);
    for (int32_t i = 0; i < written; i++) {
        sm_wbuf_varint(&b, hkey_len);
        if (hkey_len > 0)
            sm_wbuf_raw(&b, "hhhh", (size_t)hkey_len);
        sm_wbuf_varint(&b, -1);
    }
    sm_wbuf_varint(recs, (int32_t)((int64_t)b.len + len_adjust));
    sm_wbuf_raw(recs, b.p, b.len);
    sm_wbuf_release(&b);
}

static void raw_record(sm_wbuf *recs, int64_t len_adjust, int32_t offset_delta, int64_t ts_delta,
                       int32_t key_len, int32_t header_count, int32_t hkey_len)
{
    raw_record_n(recs, len_adjust, offset_delta, ts_delta, key_len, header_count, header_count,
                 hkey_len);
}

static void test_record_structure(void)
{
    TEST_SECTION("malformed records: refused, with where in the message");
    sm_wbuf recs, w;
    sm_wbuf_init(&recs, 0);
    sm_wbuf_init(&w, 0);
    struct {
        const char *what;
        int64_t len_adjust;
        int32_t key_len, header_count, hkey_len;
        int codec;
    } cases[] = {
        {"key length -2", 0, -2, 0, 0, SM_COMP_NONE},
        {"header key null", 0, 1, 1, -1, SM_COMP_NONE},
        {"HeaderCount -1", 0, 1, -1, 0, SM_COMP_NONE},

        {"Length 2 too long", 2, 1, 0, 0, SM_COMP_NONE},
        {"Length 1 too short", -1, 1, 0, 0, SM_COMP_NONE},
        {"Length -1", -100, 1, 0, 0, SM_COMP_NONE},
        {"key length -2, gzip", 0, -2, 0, 0, SM_COMP_GZIP},
        {"Length 2 too long, zstd", 2, 1, 0, 0, SM_COMP_ZSTD},
        {"header key null, lz4", 0, 1, 1, -1, SM_COMP_LZ4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        recs.len = 0;
        raw_record(&recs, cases[i].len_adjust, 0, 0, cases[i].key_len, cases[i].header_count,
                   cases[i].hkey_len);
        raw_record(&recs, 0, 1, 0, 1, 0, 0);
        if (cases[i].codec == SM_COMP_NONE) {
            batch_of(&w, SM_COMP_NONE, 2, 1, recs.p, recs.len);
        } else {
            int v = cases[i].codec == SM_COMP_GZIP ? V_GZIP : cases[i].codec == SM_COMP_ZSTD ? V_ZSTD
                                                                                           : V_LZ4;
            blob c = pack(v, recs.p, recs.len);
            batch_of(&w, cases[i].codec, 2, 1, c.p, c.len);
            free(c.p);
        }
        sm_batch_hdr h = header_of(&w);
        char why[256];
        sm_batch_check c = sm_batch_check_produced(w.p, &h, &default_rules, why, sizeof why);
        CHECK(c == SM_BATCH_INVALID);
        CHECK(strstr(why, "record 0") != NULL);
        printf("   %s: %s\n", cases[i].what, why);
    }
    /* HeaderCount 1000 with one header there */
    recs.len = 0;
    raw_record_n(&recs, 0, 0, 0, 1, 1000, 1, 1);
    batch_of(&w, SM_COMP_NONE, 1, 0, recs.p, recs.len);
    CHECK(produced(&w, NULL) == SM_BATCH_INVALID);
    /* a varint of 6 bytes (Kafka: "Varint is too long") */
    recs.len = 0;
    sm_wbuf_varint(&recs, 9);
    sm_wbuf_raw(&recs, "\x00\x00\xff\xff\xff\xff\xff\x01", 8);
    batch_of(&w, SM_COMP_NONE, 1, 0, recs.p, recs.len);
    CHECK(produced(&w, NULL) == SM_BATCH_INVALID);
    /* null key, empty value, a null header value: all fine */
    recs.len = 0;
    raw_record(&recs, 0, 0, 0, -1, 2, 2);
    batch_of(&w, SM_COMP_NONE, 1, 0, recs.p, recs.len);
    CHECK(produced(&w, NULL) == SM_BATCH_OK);
    sm_wbuf_release(&recs);
    sm_wbuf_release(&w);
}

static void test_produce_rules(void)
{
    TEST_SECTION("what Kafka's broker demands of a producer's batch, rule by rule");
    sm_wbuf recs, w;
    sm_wbuf_init(&recs, 0);
    sm_wbuf_init(&w, 0);
    for (int i = 0; i < 3; i++)
        raw_record(&recs, 0, i, i, 1, 0, 0);
    char why[256];
    sm_batch_hdr h;
#define EXPECT(check_, kerr_)                                                                     \
    do {                                                                                          \
        sm_batch_check c_ = produced(&w, NULL);                                                   \
        CHECK(c_ == (check_));                                                                    \
        CHECK(sm_batch_check_kerr(c_) == (kerr_));                                                \
    } while (0)

    batch_of(&w, SM_COMP_NONE, 3, 2, recs.p, recs.len);
    EXPECT(SM_BATCH_OK, SM_KERR_NONE);
    batch_of(&w, SM_COMP_NONE, 4, 3, recs.p, recs.len);
    EXPECT(SM_BATCH_INVALID, SM_KERR_INVALID_RECORD); /* RecordCount 4, 3 records */
    batch_of(&w, SM_COMP_NONE, 2, 1, recs.p, recs.len);
    EXPECT(SM_BATCH_INVALID, SM_KERR_INVALID_RECORD); /* RecordCount 2, 3 records */
    batch_of(&w, SM_COMP_NONE, 3, 0, recs.p, recs.len);
    EXPECT(SM_BATCH_INVALID, SM_KERR_INVALID_RECORD); /* LastOffsetDelta 0 */
    batch_of(&w, SM_COMP_NONE, 3, INT32_MAX, recs.p, recs.len);
    EXPECT(SM_BATCH_INVALID, SM_KERR_INVALID_RECORD); /* LastOffsetDelta 2^31-1 */
    batch_of(&w, SM_COMP_NONE, 0, -1, (const uint8_t *)"", 0);
    EXPECT(SM_BATCH_BAD_HEADER, SM_KERR_INVALID_RECORD); /* RecordCount 0, LastOffsetDelta -1 */
    batch_of(&w, SM_COMP_NONE, 0, 0, (const uint8_t *)"", 0);
    EXPECT(SM_BATCH_INVALID, SM_KERR_INVALID_RECORD); /* RecordCount 0 */
    batch_of(&w, SM_COMP_NONE | SM_ATTR_CONTROL, 3, 2, recs.p, recs.len);
    EXPECT(SM_BATCH_INVALID, SM_KERR_INVALID_RECORD);
    batch_of(&w, 6, 3, 2, recs.p, recs.len);
    EXPECT(SM_BATCH_BAD_CODEC, SM_KERR_UNSUPPORTED_COMPRESSION_TYPE);
    batch_of(&w, SM_ATTR_TIMESTAMP_LOG_APPEND, 3, 2, recs.p, recs.len);
    EXPECT(SM_BATCH_BAD_TIMESTAMP, SM_KERR_INVALID_TIMESTAMP);
    /* an idempotent batch without a BaseSequence */
    bb_opts o = {0, 7, 0, -1};
    w.len = 0;
    size_t at = bb_header_begin(&w, &o, 2, NOW, NOW + 2, 3);
    sm_wbuf_raw(&w, recs.p, recs.len);
    bb_finish(&w, at);
    EXPECT(SM_BATCH_INVALID, SM_KERR_INVALID_RECORD);

    /* OffsetDeltas other than 0..n-1 */
    int32_t deltas[][3] = {{0, 0, 0}, {0, 2, 1}, {1, 2, 3}, {0, 1, 1}};
    for (size_t i = 0; i < 4; i++) {
        sm_wbuf r2;
        sm_wbuf_init(&r2, 0);
        for (int k = 0; k < 3; k++)
            raw_record(&r2, 0, deltas[i][k], 0, 1, 0, 0);
        batch_of(&w, SM_COMP_NONE, 3, 2, r2.p, r2.len);
        REQUIRE(sm_batch_validate(w.p, w.len, &h) == SM_BATCH_OK);
        CHECK(sm_batch_check_produced(w.p, &h, &default_rules, why, sizeof why) == SM_BATCH_INVALID);
        CHECK(strstr(why, "OffsetDelta") != NULL);
        sm_wbuf_release(&r2);
    }
    printf("   RecordCount, LastOffsetDelta, control, codec, LogAppendTime, sequence, offset deltas\n");

    /* timestamps: [now - before, now + after], the ends included; -1 is no timestamp */
    sm_batch_rules r = {NOW, 60000, 1000, false, 64 << 20, NULL, 0, NULL};
    struct {
        int64_t base, delta;
        sm_batch_check want;
    } ts[] = {
        {NOW, 0, SM_BATCH_OK},
        {NOW - 60000, 0, SM_BATCH_OK},
        {NOW - 60001, 0, SM_BATCH_BAD_TIMESTAMP},
        {NOW + 1000, 0, SM_BATCH_OK},
        {NOW + 1001, 0, SM_BATCH_BAD_TIMESTAMP},
        {NOW, 1001, SM_BATCH_BAD_TIMESTAMP},  /* the record's, not the batch's */
        {-1, 0, SM_BATCH_OK},                 /* no timestamp */
        {0, 0, SM_BATCH_BAD_TIMESTAMP},       /* 1970 */
        {INT64_MAX - 5, 10, SM_BATCH_BAD_TIMESTAMP}, /* overflows */
    };
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
        sm_wbuf r2;
        sm_wbuf_init(&r2, 0);
        raw_record(&r2, 0, 0, ts[i].delta, 1, 0, 0);
        w.len = 0;
        at = bb_header_begin(&w, NULL, 0, ts[i].base, ts[i].base, 1);
        sm_wbuf_raw(&w, r2.p, r2.len);
        bb_finish(&w, at);
        REQUIRE(sm_batch_validate(w.p, w.len, &h) == SM_BATCH_OK);
        CHECK(sm_batch_check_produced(w.p, &h, &r, why, sizeof why) == ts[i].want);
        /* a LogAppendTime topic does not bound them */
        sm_batch_rules lat = r;
        lat.log_append_time = true;
        CHECK(sm_batch_check_produced(w.p, &h, &lat, why, sizeof why) == SM_BATCH_OK);
        sm_wbuf_release(&r2);
    }
    /* every record out of bounds is listed (Produce v8+ RecordErrors), not only the first */
    {
        sm_wbuf r3;
        sm_wbuf_init(&r3, 0);
        raw_record(&r3, 0, 0, 0, 1, 0, 0);        /* NOW: fine */
        raw_record(&r3, 0, 1, 2000, 1, 0, 0);     /* NOW + 2000: after */
        raw_record(&r3, 0, 2, 0, 1, 0, 0);        /* fine */
        raw_record(&r3, 0, 3, -70000, 1, 0, 0);   /* NOW - 70000: before */
        w.len = 0;
        at = bb_header_begin(&w, NULL, 3, NOW, NOW + 2000, 4);
        sm_wbuf_raw(&w, r3.p, r3.len);
        bb_finish(&w, at);
        REQUIRE(sm_batch_validate(w.p, w.len, &h) == SM_BATCH_OK);
        sm_batch_ts_error errs[4];
        int32_t nerr = 0;
        sm_batch_rules lr = r;
        lr.ts_errors = errs;
        lr.ts_errors_cap = 4;
        lr.ts_errors_n = &nerr;
        CHECK(sm_batch_check_produced(w.p, &h, &lr, why, sizeof why) == SM_BATCH_BAD_TIMESTAMP);
        CHECK(nerr == 2 && errs[0].index == 1 && errs[0].timestamp == NOW + 2000);
        CHECK(errs[1].index == 3 && errs[1].timestamp == NOW - 70000);
        CHECK(strstr(why, "record 1 ") != NULL);
        nerr = 0;
        lr.ts_errors_cap = 1; /* capped */
        CHECK(sm_batch_check_produced(w.p, &h, &lr, why, sizeof why) == SM_BATCH_BAD_TIMESTAMP);
        CHECK(nerr == 1 && errs[0].index == 1);
        sm_wbuf_release(&r3);
    }
    /* a malformed record outweighs a bad timestamp, as in Kafka */
    sm_wbuf r2;
    sm_wbuf_init(&r2, 0);
    raw_record(&r2, 0, 0, 0, 1, 0, 0);
    raw_record(&r2, 0, 1, 0, -2, 0, 0);
    w.len = 0;
    at = bb_header_begin(&w, NULL, 1, 0, 0, 2);
    sm_wbuf_raw(&w, r2.p, r2.len);
    bb_finish(&w, at);
    CHECK(produced(&w, &r) == SM_BATCH_INVALID);
    sm_wbuf_release(&r2);
    printf("   timestamps: bounds inclusive, -1 exempt, overflow refused, LogAppendTime unbounded\n");

    /* sm_batch_validate: the CRC is checked before the header's counts */
    batch_of(&w, SM_COMP_NONE, -5, 2, recs.p, recs.len);
    CHECK(sm_batch_validate(w.p, w.len, &h) == SM_BATCH_BAD_HEADER);
    w.p[w.len - 1] ^= 1;
    CHECK(sm_batch_validate(w.p, w.len, &h) == SM_BATCH_BAD_CRC);
    sm_put_be32(w.p + 8, 10);
    CHECK(sm_batch_validate(w.p, w.len, &h) == SM_BATCH_BAD_LENGTH);
    CHECK(sm_batch_check_kerr(SM_BATCH_BAD_CRC) == SM_KERR_CORRUPT_MESSAGE);
    CHECK(sm_batch_check_kerr(SM_BATCH_UNDECOMPRESSABLE) == SM_KERR_CORRUPT_MESSAGE);
    CHECK(sm_batch_check_kerr(SM_BATCH_BAD_MAGIC) == SM_KERR_INVALID_RECORD);
#undef EXPECT
    sm_wbuf_release(&recs);
    sm_wbuf_release(&w);
}

/* Two streams of one codec open at once (a thread keeps one spare codec
 * state per codec: the second stream gets a state of its own, and closing
 * both keeps one and frees the other), read in turns; then a third stream
 * on the kept state. Each gives exactly its own bytes. */
static void test_streams_at_once(void)
{
    TEST_SECTION("two streams of one codec at once, read in turns; then the kept state reused");
    enum { N = 200000 };
    uint8_t *a = malloc(N), *b = malloc(N), *oa = malloc(N + 1), *ob = malloc(N + 1);
    for (size_t i = 0; i < N; i++) {
        a[i] = (uint8_t)(i % 251);
        b[i] = (uint8_t)((i * 7) % 13 + (i / 1000));
    }
    for (int v = 0; v < V_N; v++) {
        blob ca = pack(v, a, N), cb = pack(v, b, N);
        for (int round = 0; round < 2; round++) {
            sm_unzip *za = sm_unzip_open(vcodec[v], ca.p, ca.len, N);
            sm_unzip *zb = sm_unzip_open(vcodec[v], cb.p, cb.len, N);
            REQUIRE(za && zb && za != zb);
            size_t na = 0, nb = 0;
            int64_t ra = 1, rb = 1;
            while (ra > 0 || rb > 0) {
                if (ra > 0 && (ra = sm_unzip_read(za, oa + na, 1000)) > 0)
                    na += (size_t)ra;
                if (rb > 0 && (rb = sm_unzip_read(zb, ob + nb, 777)) > 0)
                    nb += (size_t)rb;
            }
            CHECK(ra == 0 && rb == 0);
            CHECK(na == N && !memcmp(oa, a, N));
            CHECK(nb == N && !memcmp(ob, b, N));
            /* closed in the other order the second round */
            sm_unzip_free(round ? za : zb);
            sm_unzip_free(round ? zb : za);
        }
        /* a stream on the kept state after an error on it starts clean */
        sm_unzip *z = sm_unzip_open(vcodec[v], cb.p, cb.len / 2, N);
        uint8_t tmp[4096];
        int64_t r;
        while ((r = sm_unzip_read(z, tmp, sizeof tmp)) > 0)
            ;
        CHECK(r == SM_ECORRUPT);
        CHECK(sm_unzip_error(z)[0] != 0);
        sm_unzip_free(z);
        z = sm_unzip_open(vcodec[v], ca.p, ca.len, N);
        size_t n = 0;
        while ((r = sm_unzip_read(z, oa + n, 4096)) > 0)
            n += (size_t)r;
        CHECK(r == 0 && n == N && !memcmp(oa, a, N));
        CHECK(sm_unzip_error(z)[0] == 0);
        sm_unzip_free(z);
        printf("   %s: two streams interleaved, then one after a failed one\n", vnames[v]);
        free(ca.p);
        free(cb.p);
    }
    free(a);
    free(b);
    free(oa);
    free(ob);
}

/* Each outcome of checking a batch: a message of its own for the log, and
 * the error Kafka's clients expect for it (batch.c says why for each). */
static void test_check_outcomes(void)
{
    TEST_SECTION("batch check outcomes: their text and their Kafka error");
    static const struct {
        sm_batch_check c;
        int16_t kerr;
    } m[] = {{SM_BATCH_OK, 0},
             {SM_BATCH_TRUNCATED, 2},
             {SM_BATCH_BAD_LENGTH, 2},
             {SM_BATCH_BAD_MAGIC, 87},
             {SM_BATCH_BAD_CRC, 2},
             {SM_BATCH_BAD_HEADER, 87},
             {SM_BATCH_INVALID, 87},
             {SM_BATCH_BAD_CODEC, 76},
             {SM_BATCH_UNDECOMPRESSABLE, 2},
             {SM_BATCH_BAD_TIMESTAMP, 32},
             {SM_BATCH_TOO_LARGE_DECOMPRESSED, 10},
             {SM_BATCH_NO_MEMORY, -1}};
    size_t n = sizeof m / sizeof m[0];
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ_I64(sm_batch_check_kerr(m[i].c), m[i].kerr);
        const char *s = sm_batch_check_str(m[i].c);
        CHECK(s && *s && strcmp(s, "?"));
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(s, sm_batch_check_str(m[j].c)));
    }
    CHECK(!strcmp(sm_batch_check_str((sm_batch_check)99), "?"));
    CHECK_EQ_I64(sm_batch_check_kerr((sm_batch_check)99), -1);
}

static void test_walk_and_stamp(void)
{
    TEST_SECTION("sm_batch_walk: whole batches, then a stop at one cut short; LogAppendTime stamp");
    sm_wbuf w;
    sm_wbuf_init(&w, 0);
    sm_batch_builder bb;
    for (int b = 0; b < 2; b++) {
        sm_batch_begin(&bb, &w, 1000);
        sm_batch_add(&bb, SM_STR_LIT("k"), SM_STR_LIT("v"), 1000 + b);
        sm_batch_finish(&bb);
    }
    size_t whole = w.len;
    sm_batch_walk wk;
    size_t at, total, n = 0, seen = 0;
    sm_batch_walk_init(&wk, w.p, whole - 1); /* the second batch lacks its last byte */
    while (sm_batch_walk_next(&wk, &at, &total)) {
        CHECK_EQ_I64(at, seen);
        CHECK_EQ_I64(total, (int64_t)sm_batch_length(w.p + at) + SM_BATCH_LOG_OVERHEAD);
        seen += total;
        n++;
    }
    CHECK_EQ_I64(n, 1);
    CHECK(wk.pos == seen && wk.pos < whole - 1);
    sm_batch_walk_init(&wk, w.p, whole);
    for (n = 0; sm_batch_walk_next(&wk, &at, &total);)
        n++;
    CHECK_EQ_I64(n, 2);
    CHECK(wk.pos == whole);
    printf("   2 whole batches walked; cut one byte short, the walk stops after the first\n");

    sm_batch_hdr h;
    CHECK(sm_batch_validate(w.p, seen, &h) == SM_BATCH_OK);
    CHECK(!(h.attributes & SM_ATTR_TIMESTAMP_LOG_APPEND));
    sm_batch_stamp_log_append_time(w.p, &h, 123456789);
    sm_batch_hdr again;
    CHECK(sm_batch_validate(w.p, seen, &again) == SM_BATCH_OK); /* the CRC was redone */
    CHECK(again.attributes & SM_ATTR_TIMESTAMP_LOG_APPEND);
    CHECK_EQ_I64(again.max_timestamp, 123456789);
    CHECK_EQ_I64(sm_batch_max_timestamp(w.p), 123456789);
    CHECK(h.attributes == again.attributes && h.max_timestamp == again.max_timestamp &&
          h.crc == again.crc);
    printf("   stamped: LogAppendTime set, MaxTimestamp the broker's, CRC valid, header in step\n");
    sm_wbuf_release(&w);
}

int main(void)
{
    test_walk_and_stamp();
    test_streams_at_once();
    test_check_outcomes();
    test_round_trip();
    test_streaming();
    test_truncated();
    test_limit();
    test_framings();
    test_record_structure();
    test_produce_rules();
    return check_report("test_records");
}
