/* test_proto_core.c: codecs of the hot-path APIs (Produce, Fetch, Metadata,
 * ApiVersions) and the request header: every field decoded, every
 * truncation refused, trailing bytes and lying counts refused, and the
 * responses decoded back field by field. */
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "check.h"
#include "proto/api_versions.h"
#include "proto/fetch.h"
#include "proto/header.h"
#include "proto/kafka.h"
#include "proto/metadata.h"
#include "proto/produce.h"

typedef int (*decode_fn)(sm_rd *r, int16_t v, sm_arena *a, void *out);

/* Every strict prefix of a valid body must fail, and so must one extra byte. */
static void check_truncations(const char *what, const sm_wbuf *w, int16_t v, decode_fn fn)
{
    int bad = 0;
    for (size_t cut = 0; cut < w->len; cut++) {
        sm_arena a;
        sm_arena_init(&a);
        sm_rd r;
        sm_rd_init(&r, w->p, cut);
        char out[512];
        if (fn(&r, v, &a, out) != SM_ECORRUPT)
            bad++;
        sm_arena_release(&a);
    }
    uint8_t *longer = malloc(w->len + 1);
    memcpy(longer, w->p, w->len);
    longer[w->len] = 0x5a;
    sm_arena a;
    sm_arena_init(&a);
    sm_rd r;
    sm_rd_init(&r, longer, w->len + 1);
    char out[512];
    if (fn(&r, v, &a, out) != SM_ECORRUPT)
        bad++;
    sm_arena_release(&a);
    free(longer);
    if (bad)
        fprintf(stderr, "%s v%d: %d truncations/extensions accepted\n", what, v, bad);
    CHECK(bad == 0);
}

static int dec_produce(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_produce_req_decode(r, v, a, out);
}
static int dec_fetch(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_fetch_req_decode(r, v, a, out);
}
static int dec_metadata(sm_rd *r, int16_t v, sm_arena *a, void *out)
{
    return sm_metadata_req_decode(r, v, a, out);
}

static void test_header(void)
{
    TEST_SECTION("request header v1");
    sm_wbuf w;
    sm_wbuf_init(&w, 0);
    sm_wbuf_i16(&w, 3);
    sm_wbuf_i16(&w, 5);
    sm_wbuf_i32(&w, 77);
    sm_wbuf_cstr(&w, "rdkafka");
    sm_rd r;
    sm_rd_init(&r, w.p, w.len);
    sm_req_hdr h;
    CHECK(sm_req_hdr_decode(&r, &h) == SM_OK);
    CHECK(h.api_key == 3 && h.api_version == 5 && h.correlation_id == 77);
    CHECK(sm_str_eqc(h.client_id, "rdkafka"));
    for (size_t cut = 0; cut < w.len; cut++) {
        sm_rd_init(&r, w.p, cut);
        CHECK(sm_req_hdr_decode(&r, &h) == SM_ECORRUPT);
    }
    sm_wbuf_release(&w);
}

static void test_header_flexible(void)
{
    TEST_SECTION("request header v2, response headers v0/v1 (KIP-482)");
    /* the first flexible version of each API we answer, per Kafka's JSON */
    CHECK(sm_api_first_flexible(SM_API_PRODUCE) == 9 && sm_api_first_flexible(SM_API_FETCH) == 12);
    CHECK(sm_api_first_flexible(SM_API_METADATA) == 9);
    CHECK(sm_api_first_flexible(SM_API_API_VERSIONS) == 3);
    CHECK(sm_api_first_flexible(SM_API_OFFSET_DELETE) == -1);
    CHECK(sm_api_first_flexible(-1) == -1 && sm_api_first_flexible(30000) == -1);
    CHECK(!sm_api_flexible(SM_API_METADATA, 8) && sm_api_flexible(SM_API_METADATA, 9));

    /* Metadata v9: ClientId keeps its int16 length, then tags (one unknown) */
    const uint8_t v2[] = {0, 3, 0, 9, 0, 0, 0, 42, 0, 2, 'c', 'l', 1, 5, 2, 'z', 'z', 0xee};
    sm_rd r;
    sm_req_hdr h;
    sm_rd_init(&r, v2, sizeof v2);
    CHECK(sm_req_hdr_decode(&r, &h) == SM_OK);
    CHECK(h.api_key == 3 && h.api_version == 9 && h.correlation_id == 42 && h.header_version == 2);
    CHECK(sm_str_eqc(h.client_id, "cl"));
    CHECK(sm_rd_left(&r) == 1 && sm_rd_i8(&r) == (int8_t)0xee); /* the body starts after the tags */
    for (size_t cut = 0; cut + 1 < sizeof v2; cut++) {
        sm_rd_init(&r, v2, cut);
        CHECK(sm_req_hdr_decode(&r, &h) == SM_ECORRUPT);
    }
    /* a null ClientId in v2 */
    const uint8_t nul[] = {0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0};
    sm_rd_init(&r, nul, sizeof nul);
    CHECK(sm_req_hdr_decode(&r, &h) == SM_OK && sm_str_is_null(h.client_id));
    CHECK(h.header_version == 2 && sm_rd_left(&r) == 0);
    /* the same bytes as Metadata v8 are header v1: the tag byte is body */
    const uint8_t v1[] = {0, 3, 0, 8, 0, 0, 0, 42, 0, 2, 'c', 'l', 0};
    sm_rd_init(&r, v1, sizeof v1);
    CHECK(sm_req_hdr_decode(&r, &h) == SM_OK && h.header_version == 1 && sm_rd_left(&r) == 1);
    /* a tag Size past the end of the frame */
    const uint8_t bad[] = {0, 3, 0, 9, 0, 0, 0, 42, 0xff, 0xff, 1, 0, 9, 1};
    sm_rd_init(&r, bad, sizeof bad);
    CHECK(sm_req_hdr_decode(&r, &h) == SM_ECORRUPT);

    /* responses: v1 adds an empty tag section; ApiVersions stays v0 */
    sm_wbuf w;
    sm_wbuf_init(&w, 0);
    sm_req_hdr q = {.api_key = SM_API_METADATA, .api_version = 9, .correlation_id = 7};
    CHECK(sm_resp_hdr_version(q.api_key, q.api_version) == 1);
    sm_resp_hdr_encode(&w, &q);
    CHECK(w.len == 5 && w.p[3] == 7 && w.p[4] == 0);
    w.len = 0;
    q.api_version = 8;
    CHECK(sm_resp_hdr_version(q.api_key, q.api_version) == 0);
    sm_resp_hdr_encode(&w, &q);
    CHECK(w.len == 4 && w.p[3] == 7);
    w.len = 0;
    q = (sm_req_hdr){.api_key = SM_API_API_VERSIONS, .api_version = 3, .correlation_id = 7};
    CHECK(sm_resp_hdr_version(q.api_key, q.api_version) == 0);
    sm_resp_hdr_encode(&w, &q);
    CHECK(w.len == 4 && w.p[3] == 7);
    sm_wbuf_release(&w);
}

/* Either encoding by hand, for the layouts of flexible versions (KIP-482):
 * compact lengths are unsigned varints of length + 1, 0 for null. */
static void w_str(sm_wbuf *w, sm_str s, bool fx)
{
    if (fx)
        sm_wbuf_compact_str(w, s);
    else
        sm_wbuf_str(w, s);
}
static void w_bytes(sm_wbuf *w, sm_str s, bool fx)
{
    if (fx)
        sm_wbuf_compact_bytes(w, s);
    else
        sm_wbuf_bytes(w, s);
}
static void w_count(sm_wbuf *w, int32_t n, bool fx)
{
    if (fx)
        sm_wbuf_uvarint(w, (uint32_t)(n + 1));
    else
        sm_wbuf_i32(w, n);
}
/* one unknown tag (to be skipped), flexible only */
static void w_tags(sm_wbuf *w, bool fx)
{
    if (fx) {
        sm_wbuf_uvarint(w, 1);
        sm_wbuf_tag(w, 77, "\x01", 1);
    }
}
static sm_str r_str(sm_rd *r, bool fx) { return fx ? sm_rd_compact_str(r) : sm_rd_str(r); }
static int32_t r_count(sm_rd *r, bool fx)
{
    return fx ? (int32_t)sm_rd_uvarint(r) - 1 : sm_rd_i32(r);
}
/* an empty tag section, flexible only */
static bool r_tags0(sm_rd *r, bool fx) { return !fx || sm_rd_uvarint(r) == 0; }

static void test_produce(void)
{
    TEST_SECTION("Produce v0-v11 request, response");
    for (int16_t v = 0; v <= 11; v++) {
        bool fx = v >= 9;
        sm_wbuf w;
        sm_wbuf_init(&w, 0);
        if (v >= 3)
            w_str(&w, SM_STR_NULL, fx); /* TransactionalId */
        sm_wbuf_i16(&w, -1);
        sm_wbuf_i32(&w, 30000);
        w_count(&w, 1, fx);
        w_str(&w, SM_STR_LIT("orders"), fx);
        w_count(&w, 2, fx);
        sm_wbuf_i32(&w, 0);
        w_bytes(&w, SM_STR_LIT("batch-bytes-0"), fx);
        w_tags(&w, fx);
        sm_wbuf_i32(&w, 1);
        w_bytes(&w, SM_STR_NULL, fx);
        w_tags(&w, fx);
        w_tags(&w, fx); /* topic */
        w_tags(&w, fx); /* body */
        sm_arena a;
        sm_arena_init(&a);
        sm_rd r;
        sm_rd_init(&r, w.p, w.len);
        sm_produce_req pr;
        CHECK(sm_produce_req_decode(&r, v, &a, &pr) == SM_OK);
        CHECK(sm_str_is_null(pr.transactional_id) && pr.acks == -1 && pr.timeout_ms == 30000);
        CHECK(pr.topic_count == 1 && sm_str_eqc(pr.topics[0].name, "orders"));
        CHECK(pr.topics[0].partition_count == 2);
        CHECK(pr.topics[0].partitions[0].index == 0);
        CHECK(sm_str_eqc(pr.topics[0].partitions[0].records, "batch-bytes-0"));
        CHECK(pr.topics[0].partitions[1].index == 1);
        CHECK(sm_str_is_null(pr.topics[0].partitions[1].records));
        sm_arena_release(&a);
        check_truncations("Produce", &w, v, dec_produce);

        /* response: one partition answered, one refused with two record errors */
        sm_produce_record_error rerr[2] = {{1, SM_STR_LIT("ts")}, {3, SM_STR_NULL}};
        sm_produce_part_resp parts[2] = {
            {4, SM_KERR_NONE, 1234, -1, 10, 0, NULL, SM_STR_NULL},
            {5, SM_KERR_INVALID_TIMESTAMP, -1, -1, -1, 2, rerr, SM_STR_LIT("why")}};
        sm_produce_topic_resp topics[1] = {{SM_STR_LIT("orders"), 2, parts}};
        sm_produce_resp resp = {1, topics, 0};
        sm_wbuf o;
        sm_wbuf_init(&o, 0);
        sm_produce_resp_encode(&o, v, &resp);
        sm_rd_init(&r, o.p, o.len);
        CHECK(r_count(&r, fx) == 1);
        CHECK(sm_str_eqc(r_str(&r, fx), "orders"));
        CHECK(r_count(&r, fx) == 2);
        for (int k = 0; k < 2; k++) {
            CHECK(sm_rd_i32(&r) == 4 + k);
            CHECK(sm_rd_i16(&r) == (k ? SM_KERR_INVALID_TIMESTAMP : 0));
            CHECK(sm_rd_i64(&r) == (k ? -1 : 1234));
            if (v >= 2)
                CHECK(sm_rd_i64(&r) == -1);
            if (v >= 5)
                CHECK(sm_rd_i64(&r) == (k ? -1 : 10));
            if (v >= 8) {
                int32_t n = r_count(&r, fx);
                CHECK(n == (k ? 2 : 0));
                for (int32_t e = 0; e < n; e++) {
                    CHECK(sm_rd_i32(&r) == (e ? 3 : 1));
                    sm_str m = r_str(&r, fx);
                    CHECK(e ? sm_str_is_null(m) : sm_str_eqc(m, "ts"));
                    CHECK(r_tags0(&r, fx));
                }
                sm_str em = r_str(&r, fx);
                CHECK(k ? sm_str_eqc(em, "why") : sm_str_is_null(em));
            }
            CHECK(r_tags0(&r, fx));
        }
        CHECK(r_tags0(&r, fx));
        if (v >= 1)
            CHECK(sm_rd_i32(&r) == 0);
        CHECK(r_tags0(&r, fx));
        CHECK(r.err == 0 && sm_rd_left(&r) == 0);
        sm_wbuf_release(&o);
        sm_wbuf_release(&w);
    }
    {
        /* v9 byte layout: TransactionalId null, Acks 1, TimeoutMs 5, one topic "t" with
         * partition 0 and 1 byte of records, no tags */
        const uint8_t v9[] = {0x00, 0, 1, 0, 0, 0, 5, 0x02, 0x02, 't', 0x02, 0, 0, 0, 0,
                              0x02, 0xaa, 0x00, 0x00, 0x00};
        sm_arena a;
        sm_arena_init(&a);
        sm_rd r;
        sm_rd_init(&r, v9, sizeof v9);
        sm_produce_req pr;
        CHECK(sm_produce_req_decode(&r, 9, &a, &pr) == SM_OK);
        CHECK(pr.acks == 1 && pr.topic_count == 1 && pr.topics[0].partitions[0].records.len == 1);
        sm_rd_init(&r, v9, sizeof v9);
        CHECK(sm_produce_req_decode(&r, 8, &a, &pr) == SM_ECORRUPT); /* not v8's layout */
        sm_arena_release(&a);
    }
    /* a lying topic count */
    sm_wbuf w;
    sm_wbuf_init(&w, 0);
    sm_wbuf_str(&w, SM_STR_NULL);
    sm_wbuf_i16(&w, 1);
    sm_wbuf_i32(&w, 1000);
    sm_wbuf_i32(&w, 0x7fffffff);
    sm_arena a;
    sm_arena_init(&a);
    sm_rd r;
    sm_rd_init(&r, w.p, w.len);
    sm_produce_req pr;
    CHECK(sm_produce_req_decode(&r, 7, &a, &pr) == SM_ECORRUPT);
    CHECK(a.used < 4096);
    sm_arena_release(&a);
    sm_wbuf_release(&w);

    /* a null topic name (STRING, not nullable) fails the request, as in
     * Kafka's generated readers (codec_int.h) */
    sm_wbuf_init(&w, 0);
    sm_wbuf_str(&w, SM_STR_NULL); /* TransactionalId */
    sm_wbuf_i16(&w, 1);
    sm_wbuf_i32(&w, 1000);
    sm_wbuf_i32(&w, 1);
    sm_wbuf_str(&w, SM_STR_NULL); /* Name */
    sm_wbuf_i32(&w, 0);
    sm_arena_init(&a);
    sm_rd_init(&r, w.p, w.len);
    CHECK(sm_produce_req_decode(&r, 7, &a, &pr) == SM_ECORRUPT);
    sm_arena_release(&a);
    sm_wbuf_release(&w);
}

static void test_fetch(void)
{
    TEST_SECTION("Fetch v4-v16 request, response pieces (v13+: topic ids; v15+: no ReplicaId)");
    static const uint8_t tid[16] = {0x7a, 1, 2, 3, 4, 5, 0x46, 7, 0x88, 9, 10, 11, 12, 13, 14, 0xff};
    static const uint8_t old_id[16] = {0x33, [15] = 0x44};
    for (int16_t v = 4; v <= 16; v++) {
        bool fx = v >= 12;
        sm_wbuf w;
        sm_wbuf_init(&w, 0);
        if (v <= 14)
            sm_wbuf_i32(&w, -1); /* ReplicaId: v0-v14 */
        sm_wbuf_i32(&w, 500);
        sm_wbuf_i32(&w, 1);
        sm_wbuf_i32(&w, 52428800);
        sm_wbuf_i8(&w, 0);
        if (v >= 7) {
            sm_wbuf_i32(&w, 0);
            sm_wbuf_i32(&w, -1);
        }
        w_count(&w, 1, fx);
        if (v >= 13)
            sm_wbuf_raw(&w, tid, 16); /* TopicId instead of Topic */
        else
            w_str(&w, SM_STR_LIT("t"), fx);
        w_count(&w, 1, fx);
        sm_wbuf_i32(&w, 2);
        if (v >= 9)
            sm_wbuf_i32(&w, 5);
        sm_wbuf_i64(&w, 99);
        if (v >= 12)
            sm_wbuf_i32(&w, 4); /* LastFetchedEpoch */
        if (v >= 5)
            sm_wbuf_i64(&w, -1);
        sm_wbuf_i32(&w, 1048576);
        w_tags(&w, fx);
        w_tags(&w, fx);
        if (v >= 7) {
            w_count(&w, 1, fx); /* ForgottenTopicsData */
            if (v >= 13)
                sm_wbuf_raw(&w, old_id, 16);
            else
                w_str(&w, SM_STR_LIT("old"), fx);
            w_count(&w, 1, fx);
            sm_wbuf_i32(&w, 3);
            w_tags(&w, fx);
        }
        if (v >= 11)
            w_str(&w, SM_STR_LIT("rack-a"), fx);
        if (fx && v < 15) { /* ClusterId (tag 0): skipped */
            sm_wbuf_uvarint(&w, 1);
            sm_wbuf_tag(&w, 0, "\x02x", 2);
        } else if (fx) { /* and v15+'s ReplicaState (tag 1: ReplicaId 7, ReplicaEpoch 9, tags) */
            sm_wbuf_uvarint(&w, 2);
            sm_wbuf_tag(&w, 0, "\x02x", 2);
            sm_wbuf_tag(&w, 1, "\0\0\0\x07\0\0\0\0\0\0\0\x09\0", 13);
        }
        sm_arena a;
        sm_arena_init(&a);
        sm_rd r;
        sm_rd_init(&r, w.p, w.len);
        sm_fetch_req fr;
        CHECK(sm_fetch_req_decode(&r, v, &a, &fr) == SM_OK);
        CHECK(fr.replica_id == -1 && fr.max_wait_ms == 500 && fr.min_bytes == 1);
        CHECK(fr.max_bytes == 52428800 && fr.isolation_level == 0);
        if (v >= 13)
            CHECK(fr.topic_count == 1 && sm_str_is_null(fr.topics[0].topic) &&
                  memcmp(fr.topics[0].topic_id, tid, 16) == 0);
        else
            CHECK(fr.topic_count == 1 && sm_str_eqc(fr.topics[0].topic, "t"));
        CHECK(fr.topics[0].partition_count == 1);
        sm_fetch_part *p = &fr.topics[0].partitions[0];
        CHECK(p->partition == 2 && p->fetch_offset == 99 && p->partition_max_bytes == 1048576);
        CHECK(p->current_leader_epoch == (v >= 9 ? 5 : -1));
        CHECK(p->last_fetched_epoch == (v >= 12 ? 4 : -1));
        if (v >= 7)
            CHECK(fr.forgotten_count == 1);
        if (v >= 11)
            CHECK(sm_str_eqc(fr.rack_id, "rack-a"));
        sm_arena_release(&a);
        check_truncations("Fetch", &w, v, dec_fetch);
        sm_wbuf_release(&w);

        sm_wbuf o;
        sm_wbuf_init(&o, 0);
        sm_fetch_resp_begin(&o, v, 0, 0, 1);
        sm_fetch_topic_encode(&o, v, SM_STR_LIT("t"), tid, 2);
        sm_fetch_part_resp pr = {2, 0, 100, 100, 7, 3, false, 0, 0};
        sm_fetch_part_encode(&o, v, &pr);
        sm_wbuf_raw(&o, "abc", 3);
        sm_fetch_part_end(&o, v, &pr);
        sm_fetch_part_resp dv = {3, 0, 100, 100, 7, 0, true, 0, 100};
        sm_fetch_part_encode(&o, v, &dv);
        sm_fetch_part_end(&o, v, &dv);
        sm_fetch_topic_end(&o, v);
        sm_fetch_resp_end(&o, v);
        sm_rd_init(&r, o.p, o.len);
        CHECK(sm_rd_i32(&r) == 0); /* throttle */
        if (v >= 7) {
            CHECK(sm_rd_i16(&r) == 0);
            CHECK(sm_rd_i32(&r) == 0);
        }
        CHECK(r_count(&r, fx) == 1);
        if (v >= 13) {
            const uint8_t *q = sm_rd_take(&r, 16); /* TopicId, no name */
            CHECK(q && memcmp(q, tid, 16) == 0);
        } else {
            CHECK(sm_str_eqc(r_str(&r, fx), "t"));
        }
        CHECK(r_count(&r, fx) == 2);
        for (int k = 0; k < 2; k++) {
            CHECK(sm_rd_i32(&r) == 2 + k);
            CHECK(sm_rd_i16(&r) == 0);
            CHECK(sm_rd_i64(&r) == 100);
            CHECK(sm_rd_i64(&r) == 100);
            if (v >= 5)
                CHECK(sm_rd_i64(&r) == 7);
            CHECK(r_count(&r, fx) == 0); /* aborted transactions: empty */
            if (v >= 11)
                CHECK(sm_rd_i32(&r) == -1);
            sm_str recs = fx ? sm_rd_compact_bytes(&r) : sm_rd_bytes(&r);
            CHECK(k ? recs.len == 0 : sm_str_eqc(recs, "abc"));
            if (fx && k == 1) {
                /* DivergingEpoch: one tag 0 of 13 bytes: Epoch 0, EndOffset 100, no tags */
                const uint8_t want[] = {1, 0, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0};
                const uint8_t *q = sm_rd_take(&r, sizeof want);
                CHECK(q && memcmp(q, want, sizeof want) == 0);
            } else {
                CHECK(r_tags0(&r, fx));
            }
        }
        CHECK(r_tags0(&r, fx));
        CHECK(r_tags0(&r, fx));
        CHECK(r.err == 0 && sm_rd_left(&r) == 0);
        sm_wbuf_release(&o);
    }
}

static void test_metadata(void)
{
    TEST_SECTION("Metadata v0-v8 request, response");
    for (int16_t v = 0; v <= 8; v++) {
        sm_wbuf w;
        sm_wbuf_init(&w, 0);
        sm_wbuf_i32(&w, 2);
        sm_wbuf_cstr(&w, "a");
        sm_wbuf_cstr(&w, "bb");
        if (v >= 4)
            sm_wbuf_bool(&w, false);
        if (v >= 8) {
            sm_wbuf_bool(&w, true);  /* IncludeClusterAuthorizedOperations */
            sm_wbuf_bool(&w, false); /* IncludeTopicAuthorizedOperations */
        }
        sm_arena a;
        sm_arena_init(&a);
        sm_rd r;
        sm_rd_init(&r, w.p, w.len);
        sm_metadata_req mr;
        CHECK(sm_metadata_req_decode(&r, v, &a, &mr) == SM_OK);
        CHECK(mr.topic_count == 2 && sm_str_eqc(mr.topics[1], "bb"));
        CHECK(mr.allow_auto_topic_creation == (v < 4));
        CHECK(mr.include_cluster_authorized_operations == (v >= 8));
        CHECK(!mr.include_topic_authorized_operations);
        sm_arena_release(&a);
        check_truncations("Metadata", &w, v, dec_metadata);
        sm_wbuf_release(&w);

        /* all topics: v0 empty array, v1+ null */
        sm_wbuf_init(&w, 0);
        sm_wbuf_i32(&w, v == 0 ? 0 : -1);
        if (v >= 4)
            sm_wbuf_bool(&w, true);
        if (v >= 8) {
            sm_wbuf_bool(&w, false);
            sm_wbuf_bool(&w, true);
        }
        sm_arena_init(&a);
        sm_rd_init(&r, w.p, w.len);
        CHECK(sm_metadata_req_decode(&r, v, &a, &mr) == SM_OK && mr.topic_count == -1);
        sm_arena_release(&a);
        sm_wbuf_release(&w);

        /* a null topic name fails the request (the array may be null, a name not) */
        sm_wbuf_init(&w, 0);
        sm_wbuf_i32(&w, 1);
        sm_wbuf_str(&w, SM_STR_NULL);
        if (v >= 4)
            sm_wbuf_bool(&w, true);
        if (v >= 8) {
            sm_wbuf_bool(&w, false);
            sm_wbuf_bool(&w, false);
        }
        sm_arena_init(&a);
        sm_rd_init(&r, w.p, w.len);
        CHECK(sm_metadata_req_decode(&r, v, &a, &mr) == SM_ECORRUPT);
        sm_arena_release(&a);
        sm_wbuf_release(&w);

        sm_metadata_broker br = {0, SM_STR_LIT("127.0.0.1"), 9092, SM_STR_NULL};
        sm_metadata_part parts[2] = {{0, 0, 0, 0}, {0, 1, 0, 0}};
        sm_metadata_topic tp = {0, SM_STR_LIT("a"), false, 2, parts, SM_ACL_OPS_TOPIC, {0}};
        sm_metadata_resp resp = {1, &br, SM_STR_LIT("cid"), 0, 1, &tp, SM_ACL_OPS_OMITTED};
        sm_wbuf o;
        sm_wbuf_init(&o, 0);
        sm_metadata_resp_encode(&o, v, &resp);
        sm_rd_init(&r, o.p, o.len);
        if (v >= 3)
            CHECK(sm_rd_i32(&r) == 0);
        CHECK(sm_rd_i32(&r) == 1);
        CHECK(sm_rd_i32(&r) == 0);
        CHECK(sm_str_eqc(sm_rd_str(&r), "127.0.0.1"));
        CHECK(sm_rd_i32(&r) == 9092);
        if (v >= 1)
            CHECK(sm_str_is_null(sm_rd_str(&r)));
        if (v >= 2)
            CHECK(sm_str_eqc(sm_rd_str(&r), "cid"));
        if (v >= 1)
            CHECK(sm_rd_i32(&r) == 0);
        CHECK(sm_rd_i32(&r) == 1);
        CHECK(sm_rd_i16(&r) == 0);
        CHECK(sm_str_eqc(sm_rd_str(&r), "a"));
        if (v >= 1)
            CHECK(sm_rd_i8(&r) == 0);
        CHECK(sm_rd_i32(&r) == 2);
        for (int i = 0; i < 2; i++) {
            CHECK(sm_rd_i16(&r) == 0);
            CHECK(sm_rd_i32(&r) == i);
            CHECK(sm_rd_i32(&r) == 0);
            if (v >= 7)
                CHECK(sm_rd_i32(&r) == 0); /* LeaderEpoch */
            CHECK(sm_rd_i32(&r) == 1 && sm_rd_i32(&r) == 0); /* replicas */
            CHECK(sm_rd_i32(&r) == 1 && sm_rd_i32(&r) == 0); /* isr */
            if (v >= 5)
                CHECK(sm_rd_i32(&r) == 0);
        }
        if (v >= 8) {
            CHECK(sm_rd_i32(&r) == 0xdf8);     /* TopicAuthorizedOperations */
            CHECK(sm_rd_i32(&r) == INT32_MIN); /* ClusterAuthorizedOperations: not asked */
        }
        CHECK(r.err == 0 && sm_rd_left(&r) == 0);
        sm_wbuf_release(&o);
    }
}

/* Metadata v9, the first flexible version, byte by byte from Kafka's JSON. */
static void test_metadata_flexible(void)
{
    TEST_SECTION("Metadata v9 (flexible) request and response layouts");
    /* Topics: compact [ {Name "ab", tags: one unknown} ], AllowAutoTopicCreation,
     * IncludeClusterAuthorizedOperations, IncludeTopicAuthorizedOperations, tags */
    const uint8_t req[] = {0x02, 0x03, 'a', 'b', 0x01, 0x63, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00};
    sm_arena a;
    sm_arena_init(&a);
    sm_rd r;
    sm_metadata_req mr;
    sm_rd_init(&r, req, sizeof req);
    CHECK(sm_metadata_req_decode(&r, 9, &a, &mr) == SM_OK);
    CHECK(mr.topic_count == 1 && sm_str_eqc(mr.topics[0], "ab"));
    CHECK(mr.allow_auto_topic_creation && !mr.include_cluster_authorized_operations);
    CHECK(mr.include_topic_authorized_operations);
    check_truncations("Metadata", &(sm_wbuf){(uint8_t *)req, sizeof req, sizeof req, false}, 9,
                      dec_metadata);
    /* all topics: a null compact array (0) */
    const uint8_t all[] = {0x00, 0x00, 0x00, 0x00, 0x00};
    sm_rd_init(&r, all, sizeof all);
    CHECK(sm_metadata_req_decode(&r, 9, &a, &mr) == SM_OK && mr.topic_count == -1);
    /* a null name */
    const uint8_t nul[] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    sm_rd_init(&r, nul, sizeof nul);
    CHECK(sm_metadata_req_decode(&r, 9, &a, &mr) == SM_ECORRUPT);
    sm_arena_release(&a);

    sm_metadata_broker br = {1, SM_STR_LIT("h"), 9092, SM_STR_NULL};
    sm_metadata_part part = {0, 0, 1, 7};
    sm_metadata_topic tp = {0, SM_STR_LIT("t"), false, 1, &part, SM_ACL_OPS_OMITTED, {0}};
    sm_metadata_resp resp = {1, &br, SM_STR_LIT("c"), 1, 1, &tp, SM_ACL_OPS_CLUSTER};
    sm_wbuf o;
    sm_wbuf_init(&o, 0);
    sm_metadata_resp_encode(&o, 9, &resp);
    const uint8_t want[] = {
        0, 0, 0, 0,                         /* ThrottleTimeMs */
        0x02,                               /* Brokers: 1 */
        0, 0, 0, 1, 0x02, 'h', 0, 0, 0x23, 0x84, 0x00, 0x00, /* NodeId, Host, Port, Rack null, tags */
        0x02, 'c',                          /* ClusterId */
        0, 0, 0, 1,                         /* ControllerId */
        0x02,                               /* Topics: 1 */
        0, 0, 0x02, 't', 0x00,              /* ErrorCode, Name, IsInternal */
        0x02,                               /* Partitions: 1 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 1,       /* ErrorCode, PartitionIndex, LeaderId */
        0, 0, 0, 7,                         /* LeaderEpoch */
        0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 1, /* ReplicaNodes, IsrNodes */
        0x01, 0x00,                         /* OfflineReplicas: empty, partition tags */
        0x80, 0, 0, 0, 0x00,                /* TopicAuthorizedOperations: not asked; topic tags */
        0x00,                               /* tags (ClusterAuthorizedOperations is v8-v10 but */
    };
    /* ... v9 still has it: insert it before the final tags */
    uint8_t full[sizeof want + 4];
    memcpy(full, want, sizeof want - 1);
    sm_put_be32(full + sizeof want - 1, SM_ACL_OPS_CLUSTER);
    full[sizeof want + 3] = 0x00;
    CHECK(o.len == sizeof full && memcmp(o.p, full, sizeof full) == 0);
    sm_wbuf_release(&o);
}

/* Metadata v10-v12, byte by byte from MetadataRequest.json / MetadataResponse.json. */
static void test_metadata_topic_ids(void)
{
    TEST_SECTION("Metadata v10-v12: TopicId per topic, by id, nullable names, v11 drops cluster ops");
    /* v12 request: Topics [ {TopicId 0x11*16, Name null, tags} ], AllowAutoTopicCreation 1,
     * IncludeTopicAuthorizedOperations 0, tags */
    uint8_t req[2 + 16 + 2 + 3];
    size_t k = 0;
    req[k++] = 0x02;
    memset(req + k, 0x11, 16);
    k += 16;
    req[k++] = 0x00; /* Name: null */
    req[k++] = 0x00; /* topic tags */
    req[k++] = 0x01;
    req[k++] = 0x00;
    req[k++] = 0x00;
    sm_arena a;
    sm_arena_init(&a);
    sm_rd r;
    sm_metadata_req mr;
    sm_rd_init(&r, req, k);
    CHECK(sm_metadata_req_decode(&r, 12, &a, &mr) == SM_OK);
    CHECK(mr.topic_count == 1 && sm_str_is_null(mr.topics[0]) && mr.topic_ids[0][0] == 0x11 &&
          mr.topic_ids[0][15] == 0x11);
    CHECK(mr.allow_auto_topic_creation && !mr.include_topic_authorized_operations);
    /* v10 still reads IncludeClusterAuthorizedOperations: the same bytes are one short */
    sm_rd_init(&r, req, k);
    CHECK(sm_metadata_req_decode(&r, 10, &a, &mr) == SM_ECORRUPT);
    /* librdkafka 2.16's all-topics v12 request (3 bytes past the definition, which Kafka ignores) */
    const uint8_t rdk[] = {0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00};
    sm_rd_init(&r, rdk, sizeof rdk);
    CHECK(sm_metadata_req_decode(&r, 12, &a, &mr) == SM_OK && mr.topic_count == -1);
    CHECK(!mr.allow_auto_topic_creation);
    /* v9 has no TopicId: these bytes do not read as v9 */
    sm_rd_init(&r, req, k);
    CHECK(sm_metadata_req_decode(&r, 9, &a, &mr) == SM_ECORRUPT);
    sm_arena_release(&a);

    sm_metadata_broker br = {1, SM_STR_LIT("h"), 9092, SM_STR_NULL};
    sm_metadata_part part = {0, 0, 1, 7};
    sm_metadata_topic tp[2] = {
        {0, SM_STR_LIT("t"), false, 1, &part, SM_ACL_OPS_OMITTED, {0}},
        {SM_KERR_UNKNOWN_TOPIC_ID, SM_STR_NULL, false, 0, NULL, SM_ACL_OPS_OMITTED, {0}},
    };
    for (int i = 0; i < 16; i++) {
        tp[0].topic_id[i] = (uint8_t)(0xa0 + i);
        tp[1].topic_id[i] = 0x11;
    }
    sm_metadata_resp resp = {1, &br, SM_STR_LIT("c"), 1, 2, tp, SM_ACL_OPS_CLUSTER};
    for (int16_t v = 10; v <= 12; v++) {
        sm_wbuf o;
        sm_wbuf_init(&o, 0);
        sm_metadata_resp_encode(&o, v, &resp);
        uint8_t want[200];
        size_t n = 0;
        const uint8_t head[] = {
            0, 0, 0, 0,                                          /* ThrottleTimeMs */
            0x02, 0, 0, 0, 1, 0x02, 'h', 0, 0, 0x23, 0x84, 0x00, 0x00, /* Brokers */
            0x02, 'c',                                           /* ClusterId */
            0, 0, 0, 1,                                          /* ControllerId */
            0x03,                                                /* Topics: 2 */
            0, 0, 0x02, 't',                                     /* ErrorCode, Name */
        };
        memcpy(want + n, head, sizeof head);
        n += sizeof head;
        for (int i = 0; i < 16; i++)
            want[n++] = (uint8_t)(0xa0 + i); /* TopicId */
        const uint8_t t0[] = {
            0x00,                               /* IsInternal */
            0x02,                               /* Partitions: 1 */
            0, 0, 0, 0, 0, 0, 0, 0, 0, 1,       /* ErrorCode, PartitionIndex, LeaderId */
            0, 0, 0, 7,                         /* LeaderEpoch */
            0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 1, /* ReplicaNodes, IsrNodes */
            0x01, 0x00,                         /* OfflineReplicas, partition tags */
            0x80, 0, 0, 0, 0x00,                /* TopicAuthorizedOperations, topic tags */
            0, 100,                             /* topic 2: ErrorCode UNKNOWN_TOPIC_ID */
        };
        memcpy(want + n, t0, sizeof t0);
        n += sizeof t0;
        want[n++] = v >= 12 ? 0x00 : 0x01; /* Name: null from v12, "" before */
        memset(want + n, 0x11, 16);
        n += 16;
        const uint8_t t1[] = {0x00, 0x01, 0x80, 0, 0, 0, 0x00};
        memcpy(want + n, t1, sizeof t1);
        n += sizeof t1;
        if (v == 10) {
            sm_put_be32(want + n, SM_ACL_OPS_CLUSTER); /* ClusterAuthorizedOperations: v8-v10 */
            n += 4;
        }
        want[n++] = 0x00; /* tags */
        CHECK(o.len == n && memcmp(o.p, want, n) == 0);
        sm_wbuf_release(&o);
    }
}

static void test_api_versions(void)
{
    TEST_SECTION("ApiVersions v0-v4, and the v0-shaped refusal");
    sm_api_range apis[2] = {{0, 3, 7}, {18, 0, 4}};
    for (int16_t v = 0; v <= 4; v++) {
        bool fx = v >= 3;
        sm_arena a;
        sm_arena_init(&a);
        sm_rd r;
        sm_api_versions_req q;
        /* v3+: ClientSoftwareName, ClientSoftwareVersion (compact), tags */
        const uint8_t body3[] = {0x0b, 'l', 'i', 'b', 'r', 'd', 'k', 'a', 'f', 'k', 'a',
                                 0x06, '2', '.', '1', '0', '0', 0x00};
        if (fx) {
            sm_rd_init(&r, body3, sizeof body3);
            CHECK(sm_api_versions_req_decode(&r, v, &a, &q) == SM_OK);
            CHECK(sm_str_eqc(q.client_software_name, "librdkafka"));
            CHECK(sm_str_eqc(q.client_software_version, "2.100"));
            CHECK(sm_api_versions_req_valid(v, &q));
            for (size_t cut = 0; cut < sizeof body3; cut++) {
                sm_rd_init(&r, body3, cut);
                CHECK(sm_api_versions_req_decode(&r, v, &a, &q) == SM_ECORRUPT);
            }
            /* an unknown tag is skipped */
            const uint8_t tagged[] = {0x02, 'j', 0x02, '1', 0x01, 0x09, 0x02, 'h', 'i'};
            sm_rd_init(&r, tagged, sizeof tagged);
            CHECK(sm_api_versions_req_decode(&r, v, &a, &q) == SM_OK);
            CHECK(sm_str_eqc(q.client_software_name, "j"));
            /* a null name (non-nullable) fails; empty or odd names are invalid, not corrupt */
            const uint8_t nul[] = {0x00, 0x02, '1', 0x00};
            sm_rd_init(&r, nul, sizeof nul);
            CHECK(sm_api_versions_req_decode(&r, v, &a, &q) == SM_ECORRUPT);
            const char *bad[] = {"", "-x", "x-", "a b", "x_y", "."};
            for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                q.client_software_name = sm_str_c(bad[i]);
                q.client_software_version = sm_str_c("1.0");
                CHECK(!sm_api_versions_req_valid(v, &q));
            }
            q.client_software_name = sm_str_c("apache-kafka-java");
            q.client_software_version = sm_str_c("4.1.1");
            CHECK(sm_api_versions_req_valid(v, &q));
            q.client_software_version = sm_str_c("4.1.1-SNAPSHOT");
            CHECK(sm_api_versions_req_valid(v, &q));
            q.client_software_version = sm_str_c("4.1.1+x");
            CHECK(!sm_api_versions_req_valid(v, &q));
        } else {
            sm_rd_init(&r, "", 0);
            CHECK(sm_api_versions_req_decode(&r, v, &a, &q) == SM_OK);
            CHECK(sm_api_versions_req_valid(v, &q));
        }
        sm_rd_init(&r, "x", 1);
        CHECK(sm_api_versions_req_decode(&r, v, &a, &q) == SM_ECORRUPT);
        sm_arena_release(&a);
        sm_wbuf o;
        sm_wbuf_init(&o, 0);
        sm_api_versions_resp_encode(&o, v, 0, apis, 2);
        if (fx) {
            const uint8_t want[] = {0, 0, 0x03, 0, 0, 0, 3, 0, 7, 0, 0, 18, 0, 0, 0, 4, 0,
                                    0, 0, 0, 0, 0};
            CHECK(o.len == sizeof want && memcmp(o.p, want, sizeof want) == 0);
        } else {
            sm_rd_init(&r, o.p, o.len);
            CHECK(sm_rd_i16(&r) == 0);
            CHECK(sm_rd_i32(&r) == 2);
            CHECK(sm_rd_i16(&r) == 0 && sm_rd_i16(&r) == 3 && sm_rd_i16(&r) == 7);
            CHECK(sm_rd_i16(&r) == 18 && sm_rd_i16(&r) == 0 && sm_rd_i16(&r) == 4);
            if (v >= 1)
                CHECK(sm_rd_i32(&r) == 0);
            CHECK(r.err == 0 && sm_rd_left(&r) == 0);
        }
        sm_wbuf_release(&o);
    }
}

/* Error codes and API keys by their numbers in Kafka's protocol (Errors.java,
 * ApiKeys.java): the enum in kafka.h must agree with them, and the logs name
 * each by Kafka's own name. */
static void test_names(void)
{
    TEST_SECTION("Kafka error code and API key names, by Kafka's numbers");
    static const struct {
        int16_t code;
        const char *name;
    } errs[] = {{-1, "UNKNOWN_SERVER_ERROR"}, {0, "NONE"}, {1, "OFFSET_OUT_OF_RANGE"},
                {2, "CORRUPT_MESSAGE"}, {3, "UNKNOWN_TOPIC_OR_PARTITION"}, {4, "INVALID_FETCH_SIZE"},
                {5, "LEADER_NOT_AVAILABLE"}, {6, "NOT_LEADER_OR_FOLLOWER"}, {7, "REQUEST_TIMED_OUT"},
                {10, "MESSAGE_TOO_LARGE"}, {12, "OFFSET_METADATA_TOO_LARGE"},
                {13, "NETWORK_EXCEPTION"}, {14, "COORDINATOR_LOAD_IN_PROGRESS"},
                {15, "COORDINATOR_NOT_AVAILABLE"}, {16, "NOT_COORDINATOR"},
                {17, "INVALID_TOPIC_EXCEPTION"}, {18, "RECORD_LIST_TOO_LARGE"},
                {19, "NOT_ENOUGH_REPLICAS"}, {21, "INVALID_REQUIRED_ACKS"}, {22, "ILLEGAL_GENERATION"},
                {23, "INCONSISTENT_GROUP_PROTOCOL"}, {24, "INVALID_GROUP_ID"},
                {25, "UNKNOWN_MEMBER_ID"}, {26, "INVALID_SESSION_TIMEOUT"},
                {27, "REBALANCE_IN_PROGRESS"}, {28, "INVALID_COMMIT_OFFSET_SIZE"},
                {29, "TOPIC_AUTHORIZATION_FAILED"}, {31, "CLUSTER_AUTHORIZATION_FAILED"},
                {32, "INVALID_TIMESTAMP"}, {33, "UNSUPPORTED_SASL_MECHANISM"},
                {34, "ILLEGAL_SASL_STATE"}, {35, "UNSUPPORTED_VERSION"}, {36, "TOPIC_ALREADY_EXISTS"},
                {37, "INVALID_PARTITIONS"}, {38, "INVALID_REPLICATION_FACTOR"},
                {39, "INVALID_REPLICA_ASSIGNMENT"}, {40, "INVALID_CONFIG"}, {41, "NOT_CONTROLLER"},
                {42, "INVALID_REQUEST"}, {43, "UNSUPPORTED_FOR_MESSAGE_FORMAT"},
                {44, "POLICY_VIOLATION"}, {45, "OUT_OF_ORDER_SEQUENCE_NUMBER"},
                {46, "DUPLICATE_SEQUENCE_NUMBER"}, {47, "INVALID_PRODUCER_EPOCH"},
                {48, "INVALID_TXN_STATE"}, {49, "INVALID_PRODUCER_ID_MAPPING"},
                {50, "INVALID_TRANSACTION_TIMEOUT"}, {51, "CONCURRENT_TRANSACTIONS"},
                {53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"}, {56, "KAFKA_STORAGE_ERROR"},
                {57, "LOG_DIR_NOT_FOUND"}, {59, "UNKNOWN_PRODUCER_ID"},
                {60, "REASSIGNMENT_IN_PROGRESS"}, {68, "NON_EMPTY_GROUP"}, {69, "GROUP_ID_NOT_FOUND"},
                {70, "FETCH_SESSION_ID_NOT_FOUND"}, {71, "INVALID_FETCH_SESSION_EPOCH"},
                {73, "TOPIC_DELETION_DISABLED"}, {75, "UNKNOWN_LEADER_EPOCH"},
                {76, "UNSUPPORTED_COMPRESSION_TYPE"}, {79, "MEMBER_ID_REQUIRED"},
                {81, "GROUP_MAX_SIZE_REACHED"}, {82, "FENCED_INSTANCE_ID"},
                {86, "GROUP_SUBSCRIBED_TO_TOPIC"}, {87, "INVALID_RECORD"},
                {88, "UNSTABLE_OFFSET_COMMIT"}, {89, "THROTTLING_QUOTA_EXCEEDED"}};
    int wrong = 0;
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
        if (strcmp(sm_kerr_name(errs[i].code), errs[i].name)) {
            printf("  error %d: named %s, Kafka says %s\n", errs[i].code, sm_kerr_name(errs[i].code),
                   errs[i].name);
            wrong++;
        }
    CHECK_EQ_I64(wrong, 0);
    /* codes samsa never sends have no name of their own */
    CHECK(!strcmp(sm_kerr_name(8), "UNKNOWN_CODE"));
    CHECK(!strcmp(sm_kerr_name(1000), "UNKNOWN_CODE"));
    static const struct {
        int16_t key;
        const char *name;
    } apis[] = {{0, "Produce"}, {1, "Fetch"}, {2, "ListOffsets"}, {3, "Metadata"},
                {8, "OffsetCommit"}, {9, "OffsetFetch"}, {10, "FindCoordinator"},
                {11, "JoinGroup"}, {12, "Heartbeat"}, {13, "LeaveGroup"}, {14, "SyncGroup"},
                {15, "DescribeGroups"}, {16, "ListGroups"}, {17, "SaslHandshake"},
                {18, "ApiVersions"}, {19, "CreateTopics"}, {20, "DeleteTopics"},
                {21, "DeleteRecords"}, {22, "InitProducerId"}, {24, "AddPartitionsToTxn"},
                {25, "AddOffsetsToTxn"}, {26, "EndTxn"}, {28, "TxnOffsetCommit"},
                {32, "DescribeConfigs"}, {33, "AlterConfigs"}, {37, "CreatePartitions"},
                {42, "DeleteGroups"}, {47, "OffsetDelete"}};
    wrong = 0;
    for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++)
        if (strcmp(sm_api_name(apis[i].key), apis[i].name)) {
            printf("  API key %d: named %s, Kafka says %s\n", apis[i].key, sm_api_name(apis[i].key),
                   apis[i].name);
            wrong++;
        }
    CHECK_EQ_I64(wrong, 0);
    CHECK(!strcmp(sm_api_name(4), "Unknown")); /* LeaderAndIsr: inter-broker, not ours */
    CHECK(!strcmp(sm_api_name(-1), "Unknown"));
}

int main(void)
{
    test_names();
    test_header();
    test_header_flexible();
    test_produce();
    test_fetch();
    test_metadata();
    test_metadata_flexible();
    test_metadata_topic_ids();
    test_api_versions();
    return check_report("test_proto_core");
}
