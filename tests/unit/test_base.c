/* test_base.c: the byte reader/writer, varints, CRC-32C, properties parser
 * and arena, including truncated and lying input for every reader. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/crc32c.h"
#include "base/err.h"
#include "base/log.h"
#include "base/map.h"
#include "base/props.h"
#include "check.h"

static void test_crc(void)
{
    TEST_SECTION("crc32c known vectors and chunking");
    CHECK(sm_crc32c(0, "123456789", 9) == 0xe3069283u);
    CHECK(sm_crc32c(0, "", 0) == 0);
    uint8_t zeros[32] = {0};
    CHECK(sm_crc32c(0, zeros, 32) == 0x8a9136aau);
    /* CRC computed in pieces, at odd alignments, equals the one-shot CRC */
    uint8_t big[100003];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 131 + 7);
    uint32_t whole = sm_crc32c(0, big, sizeof big);
    uint32_t parts = sm_crc32c(0, big, 3);
    parts = sm_crc32c(parts, big + 3, 50000);
    parts = sm_crc32c(parts, big + 50003, sizeof big - 50003);
    CHECK(whole == parts);
    CHECK(sm_crc32c(0, big + 1, 77) != sm_crc32c(0, big, 77));
}

/* Both paths (the SSE4.2 instruction and portable slice-by-8) against the
 * vectors of RFC 3720 (B.4) and against each other at every length and
 * alignment that exercises their head, 8-byte body and tail loops. */
static void test_crc_paths(void)
{
    TEST_SECTION("crc32c: hardware and portable paths, RFC 3720 vectors");
    printf("  sm_crc32c uses the %s path on this CPU\n", sm_crc32c_hw() ? "SSE4.2" : "portable");
    uint8_t v[48];
    struct {
        const char *what;
        size_t len;
        uint32_t crc;
    } vec[] = {{"32 zeros", 32, 0x8a9136aau},
               {"32 x 0xff", 32, 0x62a8ab43u},
               {"0..31", 32, 0x46dd794eu},
               {"31..0", 32, 0x113fdb5cu},
               {"iSCSI read PDU", 48, 0xd9963a56u},
               {"123456789", 9, 0xe3069283u}};
    for (size_t k = 0; k < sizeof vec / sizeof vec[0]; k++) {
        memset(v, 0, sizeof v);
        for (size_t i = 0; i < 32; i++) {
            if (k == 1)
                v[i] = 0xff;
            else if (k == 2)
                v[i] = (uint8_t)i;
            else if (k == 3)
                v[i] = (uint8_t)(31 - i);
        }
        if (k == 4) {
            const uint8_t pdu[48] = {0x01, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                     0x14, 0, 0, 0, 0, 0, 0x04, 0, 0, 0, 0, 0x14, 0, 0, 0, 0x18,
                                     0x28, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0};
            memcpy(v, pdu, sizeof pdu);
        } else if (k == 5) {
            memcpy(v, "123456789", 9);
        }
        uint32_t hw = sm_crc32c(0, v, vec[k].len), sw = sm_crc32c_portable(0, v, vec[k].len);
        if (hw != vec[k].crc || sw != vec[k].crc)
            printf("  %s: sm_crc32c %08x, portable %08x, want %08x\n", vec[k].what, hw, sw, vec[k].crc);
        CHECK(hw == vec[k].crc);
        CHECK(sw == vec[k].crc);
    }
    CHECK(sm_crc32c_portable(0, "", 0) == 0);
    /* every length up to 70 at every alignment 0..7, whole and in two pieces */
    static uint8_t buf[80];
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
    int differ = 0, split_differ = 0;
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len <= 70; len++) {
            uint32_t a = sm_crc32c(0, buf + off, len), b = sm_crc32c_portable(0, buf + off, len);
            differ += a != b;
            size_t cut = len / 3;
            uint32_t c = sm_crc32c_portable(sm_crc32c_portable(0, buf + off, cut), buf + off + cut,
                                            len - cut);
            split_differ += c != b;
        }
    CHECK_EQ_I64(differ, 0);
    CHECK_EQ_I64(split_differ, 0);
    /* a flipped bit changes the portable CRC too */
    uint32_t before = sm_crc32c_portable(0, buf, 64);
    buf[40] ^= 0x10;
    CHECK(sm_crc32c_portable(0, buf, 64) != before);
}

static void test_varints(void)
{
    TEST_SECTION("varint round trips and malformed varints");
    int64_t vals[] = {0, 1, -1, 63, -64, 64, 300, -300, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
    sm_wbuf w;
    sm_wbuf_init(&w, 0);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        sm_wbuf_varlong(&w, vals[i]);
        if (vals[i] >= INT32_MIN && vals[i] <= INT32_MAX)
            sm_wbuf_varint(&w, (int32_t)vals[i]);
    }
    sm_rd r;
    sm_rd_init(&r, w.p, w.len);
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        CHECK_EQ_I64(sm_rd_varlong(&r), vals[i]);
        if (vals[i] >= INT32_MIN && vals[i] <= INT32_MAX)
            CHECK_EQ_I64(sm_rd_varint(&r), vals[i]);
    }
    CHECK(r.err == 0 && sm_rd_left(&r) == 0);
    /* every truncation of the encoded stream fails cleanly, never over-reads */
    for (size_t cut = 0; cut < w.len; cut++) {
        sm_rd t;
        sm_rd_init(&t, w.p, cut);
        for (int k = 0; k < 40; k++)
            (void)sm_rd_varlong(&t);
        CHECK(t.err == SM_ECORRUPT);
    }
    sm_wbuf_release(&w);
    /* an over-long varint (6 continuation bytes) is refused */
    uint8_t bad[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    sm_rd_init(&r, bad, sizeof bad);
    (void)sm_rd_varint(&r);
    CHECK(r.err == SM_ECORRUPT);
    uint8_t bad64[11];
    memset(bad64, 0xff, sizeof bad64);
    sm_rd_init(&r, bad64, sizeof bad64);
    (void)sm_rd_varlong(&r);
    CHECK(r.err == SM_ECORRUPT);
}

static void test_reader(void)
{
    TEST_SECTION("reader: strings, bytes, arrays, lying lengths");
    sm_wbuf w;
    sm_wbuf_init(&w, 16);
    sm_wbuf_i16(&w, 7);
    sm_wbuf_i32(&w, -2);
    sm_wbuf_i64(&w, 1234567890123LL);
    sm_wbuf_cstr(&w, "topic");
    sm_wbuf_str(&w, SM_STR_NULL);
    sm_wbuf_bytes(&w, SM_STR_LIT("xyz"));
    sm_wbuf_i32(&w, 2); /* array of 2 int32 */
    sm_wbuf_i32(&w, 10);
    sm_wbuf_i32(&w, 20);
    CHECK(!w.oom);
    sm_rd r;
    sm_rd_init(&r, w.p, w.len);
    CHECK_EQ_I64(sm_rd_i16(&r), 7);
    CHECK_EQ_I64(sm_rd_i32(&r), -2);
    CHECK_EQ_I64(sm_rd_i64(&r), 1234567890123LL);
    CHECK(sm_str_eqc(sm_rd_str(&r), "topic"));
    CHECK(sm_str_is_null(sm_rd_str(&r)));
    CHECK(sm_str_eqc(sm_rd_bytes(&r), "xyz"));
    int32_t n = sm_rd_array(&r, 4, false);
    CHECK_EQ_I64(n, 2);
    CHECK_EQ_I64(sm_rd_i32(&r), 10);
    CHECK_EQ_I64(sm_rd_i32(&r), 20);
    CHECK(r.err == 0 && sm_rd_left(&r) == 0);
    /* reading past the end fails and stays failed */
    CHECK_EQ_I64(sm_rd_i32(&r), 0);
    CHECK(r.err == SM_ECORRUPT);
    /* every truncation point fails somewhere, never crashes */
    for (size_t cut = 0; cut < w.len; cut++) {
        sm_rd t;
        sm_rd_init(&t, w.p, cut);
        (void)sm_rd_i16(&t); (void)sm_rd_i32(&t); (void)sm_rd_i64(&t);
        (void)sm_rd_str(&t); (void)sm_rd_str(&t); (void)sm_rd_bytes(&t);
        int32_t m = sm_rd_array(&t, 4, false);
        for (int32_t i = 0; i < m; i++) (void)sm_rd_i32(&t);
        CHECK(t.err == SM_ECORRUPT);
    }
    sm_wbuf_release(&w);
    /* a string length longer than the frame */
    uint8_t lie[] = {0x00, 0x10, 'a', 'b'};
    sm_rd_init(&r, lie, sizeof lie);
    CHECK(sm_str_is_null(sm_rd_str(&r)) && r.err == SM_ECORRUPT);
    /* a negative length other than -1 */
    uint8_t neg[] = {0xff, 0xfe};
    sm_rd_init(&r, neg, sizeof neg);
    (void)sm_rd_str(&r);
    CHECK(r.err == SM_ECORRUPT);
    /* an array count of 1e9 with 8 bytes left */
    uint8_t arr[] = {0x3b, 0x9a, 0xca, 0x00, 1, 2, 3, 4, 5, 6, 7, 8};
    sm_rd_init(&r, arr, sizeof arr);
    CHECK_EQ_I64(sm_rd_array(&r, 4, false), 0);
    CHECK(r.err == SM_ECORRUPT);
    uint8_t nul[] = {0xff, 0xff, 0xff, 0xff};
    sm_rd_init(&r, nul, sizeof nul);
    CHECK_EQ_I64(sm_rd_array(&r, 4, true), -1);
    CHECK(r.err == 0);
    sm_rd_init(&r, nul, sizeof nul);
    (void)sm_rd_array(&r, 4, false);
    CHECK(r.err == SM_ECORRUPT);
}

/* A known tag (7) holds an int32 in these tests. */
static bool tag7(sm_rd *f, uint32_t tag, void *ctx)
{
    if (tag != 7)
        return false;
    *(int32_t *)ctx = sm_rd_i32(f);
    return true;
}

static void test_compact(void)
{
    TEST_SECTION("compact strings, bytes, arrays (KIP-482): layouts, nulls, lying lengths");
    sm_wbuf w;
    sm_wbuf_init(&w, 0);
    sm_wbuf_uvarint(&w, 300);                       /* ac 02 */
    sm_wbuf_compact_str(&w, SM_STR_LIT("abc"));     /* 04 'a' 'b' 'c' */
    sm_wbuf_compact_str(&w, SM_STR_NULL);           /* 00 */
    sm_wbuf_compact_str(&w, SM_STR_LIT(""));        /* 01 */
    sm_wbuf_compact_bytes(&w, SM_STR_LIT("\x01\x02")); /* 03 01 02 */
    sm_wbuf_compact_count(&w, 2);                   /* 03 */
    sm_wbuf_compact_count(&w, -1);                  /* 00 */
    const uint8_t want[] = {0xac, 0x02, 0x04, 'a', 'b', 'c', 0x00, 0x01, 0x03, 1, 2, 0x03, 0x00};
    CHECK(w.len == sizeof want && memcmp(w.p, want, sizeof want) == 0);
    /* a count and a tag of 128+ take two varint bytes */
    sm_wbuf_compact_count(&w, 127);
    CHECK(w.len == sizeof want + 2 && w.p[sizeof want] == 0x80 && w.p[sizeof want + 1] == 0x01);
    w.len = sizeof want;

    sm_rd r;
    sm_rd_init(&r, w.p, w.len);
    CHECK_EQ_I64(sm_rd_uvarint(&r), 300);
    CHECK(sm_str_eqc(sm_rd_compact_str(&r), "abc"));
    CHECK(sm_str_is_null(sm_rd_compact_str(&r)));
    sm_str e = sm_rd_compact_str(&r);
    CHECK(e.len == 0 && !sm_str_is_null(e));
    sm_str b = sm_rd_compact_bytes(&r);
    CHECK(b.len == 2 && b.p[0] == 1 && b.p[1] == 2);
    /* the array of 2 has nothing behind it: two elements of >= 1 byte cannot fit */
    sm_rd t = r;
    CHECK_EQ_I64(sm_rd_compact_array(&t, 1, false), 0);
    CHECK(t.err == SM_ECORRUPT);
    (void)sm_rd_uvarint(&r);
    CHECK_EQ_I64(sm_rd_compact_array(&r, 1, true), -1);
    CHECK(r.err == 0 && sm_rd_left(&r) == 0);
    /* null where the array is not nullable */
    uint8_t zero[] = {0x00};
    sm_rd_init(&r, zero, 1);
    (void)sm_rd_compact_array(&r, 4, false);
    CHECK(r.err == SM_ECORRUPT);
    /* a count of 2 with 8 bytes left is fine at 4 bytes each, not at 5 */
    uint8_t two[] = {0x03, 0, 0, 0, 1, 0, 0, 0, 2};
    sm_rd_init(&r, two, sizeof two);
    CHECK_EQ_I64(sm_rd_compact_array(&r, 4, false), 2);
    sm_rd_init(&r, two, sizeof two);
    (void)sm_rd_compact_array(&r, 5, false);
    CHECK(r.err == SM_ECORRUPT);
    /* a count of 2^32-2 (length+1 = ff ff ff ff 0f) never drives an allocation */
    uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3};
    sm_rd_init(&r, huge, sizeof huge);
    CHECK_EQ_I64(sm_rd_compact_array(&r, 1, true), 0);
    CHECK(r.err == SM_ECORRUPT);
    sm_rd_init(&r, huge, sizeof huge);
    CHECK(sm_str_is_null(sm_rd_compact_bytes(&r)) && r.err == SM_ECORRUPT);
    /* a string length past the frame, and one over 32767 (Kafka's limit) */
    uint8_t lie[] = {0x05, 'a', 'b'};
    sm_rd_init(&r, lie, sizeof lie);
    CHECK(sm_str_is_null(sm_rd_compact_str(&r)) && r.err == SM_ECORRUPT);
    sm_wbuf big;
    sm_wbuf_init(&big, 0);
    sm_wbuf_uvarint(&big, 32769); /* length 32768 */
    for (int i = 0; i < 32768; i++)
        sm_wbuf_i8(&big, 'x');
    sm_rd_init(&r, big.p, big.len);
    (void)sm_rd_compact_str(&r);
    CHECK(r.err == SM_ECORRUPT);
    sm_rd_init(&r, big.p, big.len);
    CHECK(sm_rd_compact_bytes(&r).len == 32768 && r.err == 0); /* bytes have no such limit */
    big.len = 0;
    sm_wbuf_uvarint(&big, 32768); /* length 32767: the longest string */
    for (int i = 0; i < 32767; i++)
        sm_wbuf_i8(&big, 'x');
    sm_rd_init(&r, big.p, big.len);
    CHECK(sm_rd_compact_str(&r).len == 32767 && r.err == 0);
    sm_wbuf_release(&big);
    /* an over-long length varint */
    uint8_t over[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    sm_rd_init(&r, over, sizeof over);
    (void)sm_rd_compact_str(&r);
    CHECK(r.err == SM_ECORRUPT);
    /* every truncation fails cleanly */
    for (size_t cut = 0; cut < sizeof want; cut++) {
        sm_rd_init(&t, want, cut);
        (void)sm_rd_uvarint(&t);
        (void)sm_rd_compact_str(&t); (void)sm_rd_compact_str(&t); (void)sm_rd_compact_str(&t);
        (void)sm_rd_compact_bytes(&t);
        (void)sm_rd_uvarint(&t); (void)sm_rd_uvarint(&t);
        CHECK(t.err == SM_ECORRUPT);
    }
    sm_wbuf_release(&w);
}

static void test_tags(void)
{
    TEST_SECTION("tagged fields: unknown skipped, known read, malformed refused");
    sm_wbuf w;
    sm_wbuf_init(&w, 0);
    sm_wbuf_tags_none(&w);
    CHECK(w.len == 1 && w.p[0] == 0);
    w.len = 0;
    uint8_t v7[4];
    sm_put_be32(v7, 0x01020304);
    sm_wbuf_uvarint(&w, 3);
    sm_wbuf_tag(&w, 1, "xyz", 3);
    sm_wbuf_tag(&w, 7, v7, 4);
    sm_wbuf_tag(&w, 200, "", 0);
    sm_wbuf_i8(&w, 0x42); /* the field after the section */
    const uint8_t want[] = {3, 1, 3, 'x', 'y', 'z', 7, 4, 1, 2, 3, 4, 0xc8, 0x01, 0, 0x42};
    CHECK(w.len == sizeof want && memcmp(w.p, want, sizeof want) == 0);
    sm_rd r;
    /* skipping all */
    sm_rd_init(&r, w.p, w.len);
    sm_rd_tags_skip(&r);
    CHECK(r.err == 0 && sm_rd_i8(&r) == 0x42 && sm_rd_left(&r) == 0);
    /* reading tag 7, skipping the others */
    int32_t got = 0;
    sm_rd_init(&r, w.p, w.len);
    sm_rd_tags(&r, tag7, &got);
    CHECK(r.err == 0 && got == 0x01020304 && sm_rd_i8(&r) == 0x42);
    /* a known field longer than what its reader takes is refused */
    uint8_t longer[] = {1, 7, 5, 1, 2, 3, 4, 5};
    sm_rd_init(&r, longer, sizeof longer);
    sm_rd_tags(&r, tag7, &got);
    CHECK(r.err == SM_ECORRUPT);
    sm_rd_init(&r, longer, sizeof longer);
    sm_rd_tags_skip(&r); /* but fine to skip */
    CHECK(r.err == 0 && sm_rd_left(&r) == 0);
    /* and shorter */
    uint8_t shorter[] = {1, 7, 2, 1, 2};
    sm_rd_init(&r, shorter, sizeof shorter);
    sm_rd_tags(&r, tag7, &got);
    CHECK(r.err == SM_ECORRUPT);
    /* a Size past the end */
    uint8_t past[] = {1, 9, 9, 1, 2};
    sm_rd_init(&r, past, sizeof past);
    sm_rd_tags_skip(&r);
    CHECK(r.err == SM_ECORRUPT);
    /* a count that cannot fit in the bytes left */
    uint8_t many[] = {0xff, 0xff, 0x03, 0, 0};
    sm_rd_init(&r, many, sizeof many);
    sm_rd_tags_skip(&r);
    CHECK(r.err == SM_ECORRUPT);
    /* an over-long tag varint */
    uint8_t over[] = {1, 0xff, 0xff, 0xff, 0xff, 0x7f, 0};
    sm_rd_init(&r, over, sizeof over);
    sm_rd_tags_skip(&r);
    CHECK(r.err == SM_ECORRUPT);
    /* every truncation fails */
    for (size_t cut = 0; cut + 1 < sizeof want; cut++) {
        sm_rd_init(&r, want, cut);
        sm_rd_tags_skip(&r);
        CHECK(r.err == SM_ECORRUPT);
    }
    sm_wbuf_release(&w);
}

static void test_props(void)
{
    TEST_SECTION("properties files and overrides");
    const char *text = "# comment\n"
                       "! also a comment\n"
                       "listeners=PLAINTEXT://127.0.0.1:9092\n"
                       "  num.partitions : 3  \n"
                       "log.dirs /tmp/a,\\\n"
                       "    /tmp/b\n"
                       "key\\=with\\=equals=v\n"
                       "empty=\n"
                       "num.partitions=4\r\n";
    sm_props ps;
    sm_props_init(&ps);
    char err[256];
    CHECK(sm_props_parse(&ps, text, strlen(text), "t.properties", err, sizeof err) == SM_OK);
    CHECK(!strcmp(sm_props_get(&ps, "listeners"), "PLAINTEXT://127.0.0.1:9092"));
    CHECK(!strcmp(sm_props_get(&ps, "num.partitions"), "4"));
    CHECK(!strcmp(sm_props_find(&ps, "num.partitions")->origin, "t.properties:9"));
    CHECK(!strcmp(sm_props_get(&ps, "log.dirs"), "/tmp/a,/tmp/b"));
    CHECK(!strcmp(sm_props_get(&ps, "key=with=equals"), "v"));
    CHECK(!strcmp(sm_props_get(&ps, "empty"), ""));
    CHECK(sm_props_get(&ps, "missing") == NULL);
    CHECK(sm_props_add_override(&ps, "num.partitions=9", err, sizeof err) == SM_OK);
    CHECK(!strcmp(sm_props_get(&ps, "num.partitions"), "9"));
    CHECK(!strcmp(sm_props_find(&ps, "num.partitions")->origin, "--override"));
    CHECK(sm_props_add_override(&ps, "novalue", err, sizeof err) == SM_EINVAL);
    CHECK(strstr(err, "novalue") != NULL);
    CHECK(sm_props_add_override(&ps, "=x", err, sizeof err) == SM_EINVAL);
    CHECK(sm_props_load_file(&ps, "/nonexistent/x.properties", err, sizeof err) == SM_EIO);
    CHECK(strstr(err, "/nonexistent/x.properties") != NULL);
    /* a directory opens but does not read */
    CHECK(sm_props_load_file(&ps, "/", err, sizeof err) == SM_EIO);
    CHECK(strstr(err, "cannot read /") != NULL);
    /* Java's escapes in values: \t \n \r \f, any other escaped character itself */
    const char *esc = "k1=a\\tb\\nc\\rd\\fe\\\\f\\:g\n";
    CHECK(sm_props_parse(&ps, esc, strlen(esc), "e.properties", err, sizeof err) == SM_OK);
    CHECK(!strcmp(sm_props_get(&ps, "k1"), "a\tb\nc\rd\fe\\f:g"));
    char longkey[400];
    memset(longkey, 'k', 300);
    strcpy(longkey + 300, "=v");
    CHECK(sm_props_add_override(&ps, longkey, err, sizeof err) == SM_EINVAL);
    CHECK(strstr(err, "key too long") != NULL);
    sm_props_release(&ps);
}

static void test_map(void)
{
    TEST_SECTION("map: replace, delete, tombstones reused, growth");
    sm_map m;
    sm_map_init(&m);
    int vals[3000];
    char k[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof k, "key-%d", i);
        REQUIRE(sm_map_put(&m, k, strlen(k), &vals[i]) == SM_OK);
    }
    CHECK_EQ_I64(m.len, 3000);
    int other = 0;
    CHECK(sm_map_put(&m, "key-7", 5, &other) == SM_OK); /* replaces, no new entry */
    CHECK_EQ_I64(m.len, 3000);
    CHECK(sm_map_get(&m, "key-7", 5) == &other);
    CHECK(sm_map_del(&m, "key-7", 5) == &other);
    CHECK(sm_map_del(&m, "key-7", 5) == NULL);
    CHECK(sm_map_get(&m, "key-7", 5) == NULL);
    REQUIRE(sm_map_put(&m, "key-7", 5, &vals[7]) == SM_OK);
    int found = 0;
    for (int i = 0; i < 3000; i += 2) {
        snprintf(k, sizeof k, "key-%d", i);
        sm_map_del(&m, k, strlen(k));
    }
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof k, "key-%d", i);
        found += sm_map_get(&m, k, strlen(k)) == (i % 2 ? &vals[i] : NULL);
    }
    CHECK_EQ_I64(found, 3000);
    /* deleted slots are reused: putting them back leaves every key findable */
    for (int i = 0; i < 3000; i += 2) {
        snprintf(k, sizeof k, "key-%d", i);
        REQUIRE(sm_map_put(&m, k, strlen(k), &vals[i]) == SM_OK);
    }
    found = 0;
    const char *key;
    void *v;
    for (size_t it = 0; sm_map_next(&m, &it, &key, &v);)
        found += v == &vals[atoi(key + 4)];
    CHECK_EQ_I64(found, 3000);
    CHECK_EQ_I64(m.len, 3000);
    sm_map_release(&m);
}

/* Runs fn with stderr sent to a file; returns what it wrote (static). */
static const char *stderr_of(void (*fn)(void))
{
    static char out[8192];
    char path[] = "/tmp/test_base_log_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    unlink(path);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, out, sizeof out - 1, 0);
    close(fd);
    out[n > 0 ? n : 0] = 0;
    return out;
}

static void log_long(void)
{
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    sm_log(SM_LOG_ERROR, "%s", big);
    sm_log(SM_LOG_INFO, "next line");
}

static void log_levels(void)
{
    sm_log_set_level(SM_LOG_WARN);
    sm_info("not shown");
    sm_warn("shown %d", 1);
    sm_debug("not shown either");
    sm_log_set_level(SM_LOG_INFO);
}

static void test_log(void)
{
    TEST_SECTION("log: levels, a line longer than the buffer cut and still one line");
    CHECK_EQ_I64(sm_log_parse_level("warning"), SM_LOG_WARN);
    CHECK_EQ_I64(sm_log_parse_level("Debug"), SM_LOG_DEBUG);
    CHECK_EQ_I64(sm_log_parse_level("ERROR"), SM_LOG_ERROR);
    CHECK_EQ_I64(sm_log_parse_level("loud"), -1);
    const char *o = stderr_of(log_long);
    const char *nl = strchr(o, '\n');
    REQUIRE(nl != NULL);
    CHECK_EQ_I64(nl - o + 1, 2047); /* cut to the 2 KiB line, newline included */
    CHECK(strstr(o, " ERROR xxx") != NULL);
    CHECK(strstr(nl + 1, " INFO  next line\n") != NULL);
    o = stderr_of(log_levels);
    CHECK(strstr(o, "WARN  shown 1\n") != NULL);
    CHECK(strstr(o, "not shown") == NULL);
}

static void test_arena(void)
{
    TEST_SECTION("arena");
    sm_arena a;
    sm_arena_init(&a);
    char *s = sm_arena_strndup(&a, "hello world", 5);
    CHECK(!strcmp(s, "hello"));
    for (int i = 0; i < 1000; i++) {
        int64_t *x = sm_arena_alloc(&a, 24);
        REQUIRE(x && ((uintptr_t)x & 15) == 0 && x[0] == 0);
        x[0] = i;
    }
    void *big = sm_arena_alloc(&a, 1 << 20);
    CHECK(big != NULL);
    CHECK(sm_arena_calloc(&a, SIZE_MAX / 2, 4) == NULL);
    sm_arena_release(&a);
}

int main(void)
{
    test_crc();
    test_crc_paths();
    test_varints();
    test_reader();
    test_compact();
    test_tags();
    test_props();
    test_arena();
    test_map();
    test_log();
    return check_report("test_base");
}
