/* test_relay_record.c: what makes a row unpublishable (NULL payload,
 * invalid topic names, invalid headers JSON, non-string header values) and
 * the Kafka headers of a row, in order; the backoff bounds and the error
 * classes of the retry policy. */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "check.h"
#include "relay/record.h"
#include "relay/retry.h"

static sm_row row(const char *topic, const char *payload, const char *headers)
{
    sm_row r;
    memset(&r, 0, sizeof r);
    r.id = 7;
    r.event_id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    r.topic = (char *)topic;
    r.key = "k";
    r.key_len = 1;
    r.payload = (uint8_t *)payload;
    r.payload_len = payload ? (int32_t)strlen(payload) : -1;
    r.headers_json = (char *)headers;
    r.created_at_ms = 1700000000123;
    return r;
}

static bool header_is(const rd_kafka_headers_t *h, size_t idx, const char *name, const char *val)
{
    const char *n;
    const void *v;
    size_t len;
    if (rd_kafka_header_get_all(h, idx, &n, &v, &len))
        return false;
    return !strcmp(n, name) && len == strlen(val) && !memcmp(v, val, len);
}

static void test_topics(void)
{
    TEST_SECTION("topic names: Kafka's rule");
    char why[256];
    CHECK(sm_relay_topic_valid("orders", why, sizeof why));
    CHECK(sm_relay_topic_valid("a.b_c-D9", why, sizeof why));
    CHECK(!sm_relay_topic_valid("", why, sizeof why));
    CHECK(!sm_relay_topic_valid(".", why, sizeof why));
    CHECK(!sm_relay_topic_valid("..", why, sizeof why));
    CHECK(!sm_relay_topic_valid("bad topic", why, sizeof why) && strstr(why, "' '"));
    CHECK(!sm_relay_topic_valid("caf\xc3\xa9", why, sizeof why) && strstr(why, "0xc3"));
    char longname[251];
    memset(longname, 'a', 250);
    longname[250] = 0;
    CHECK(!sm_relay_topic_valid(longname, why, sizeof why));
    longname[249] = 0;
    CHECK(sm_relay_topic_valid(longname, why, sizeof why));
}

static void test_checks(void)
{
    TEST_SECTION("row checks: permanent errors with a clear reason");
    char err[256];
    sm_row r = row("orders", "{}", NULL);
    CHECK(sm_relay_row_check(&r, err, sizeof err) == SM_OK);
    r = row("orders", "", NULL);
    CHECK(sm_relay_row_check(&r, err, sizeof err) == SM_OK); /* empty value is a value */
    r = row("orders", NULL, NULL);
    CHECK(sm_relay_row_check(&r, err, sizeof err) == SM_EINVAL && strstr(err, "NULL payload"));
    r = row("no such/topic", "x", NULL);
    CHECK(sm_relay_row_check(&r, err, sizeof err) == SM_EINVAL &&
          strstr(err, "invalid topic name"));
    r = row("orders", "x", "{\"a\":");
    CHECK(sm_relay_row_check(&r, err, sizeof err) == SM_EINVAL &&
          strstr(err, "invalid headers JSON"));
    r = row("orders", "x", "[\"a\"]");
    CHECK(sm_relay_row_check(&r, err, sizeof err) == SM_EINVAL && strstr(err, "JSON object"));
    r = row("orders", "x", "{\"a\":\"1\",\"n\":2}");
    CHECK(sm_relay_row_check(&r, err, sizeof err) == SM_EINVAL &&
          strstr(err, "value of 'n' is not a string"));
    r = row("orders", "x", "null");
    CHECK(sm_relay_row_check(&r, err, sizeof err) == SM_OK);
    /* the relay's own header names are reserved */
    r = row("orders", "x", "{\"trace\":\"t\",\"samsa.event_id\":\"spoofed\"}");
    CHECK(sm_relay_row_check(&r, err, sizeof err) == SM_EINVAL &&
          strstr(err, "'samsa.event_id'") && strstr(err, "reserved"));
    r = row("orders", "x", "{\"samsa.anything\":\"v\"}");
    CHECK(sm_relay_row_check(&r, err, sizeof err) == SM_EINVAL);
    r = row("orders", "x", "{\"samsa\":\"v\",\"Samsa-x\":\"v\"}");
    CHECK(sm_relay_row_check(&r, err, sizeof err) == SM_OK); /* only the "samsa." prefix */
}

static void test_headers(void)
{
    TEST_SECTION("headers: samsa.event_id, samsa.type, samsa.created_at, then the row's");
    char err[256];
    rd_kafka_headers_t *h;
    sm_row r = row("orders", "x", "{\"trace\":\"abc\",\"tenant\":\"t1\",\"nul\":\"a\\u0000b\"}");
    r.type = "order.created";
    REQUIRE(sm_relay_headers_build(&r, &h, err, sizeof err) == SM_OK);
    CHECK(rd_kafka_header_cnt(h) == 6);
    CHECK(header_is(h, 0, "samsa.event_id", "0f8fad5b-d9cb-469f-a165-70867728950e"));
    CHECK(header_is(h, 1, "samsa.type", "order.created"));
    CHECK(header_is(h, 2, "samsa.created_at", "1700000000123"));
    CHECK(header_is(h, 3, "trace", "abc"));
    CHECK(header_is(h, 4, "tenant", "t1"));
    const char *n;
    const void *v;
    size_t len;
    CHECK(!rd_kafka_header_get_all(h, 5, &n, &v, &len) && len == 3 && !memcmp(v, "a\0b", 3));
    rd_kafka_headers_destroy(h);

    r = row("orders", "x", NULL); /* no type, no headers */
    REQUIRE(sm_relay_headers_build(&r, &h, err, sizeof err) == SM_OK);
    CHECK(rd_kafka_header_cnt(h) == 2);
    CHECK(header_is(h, 1, "samsa.created_at", "1700000000123"));
    rd_kafka_headers_destroy(h);

    r = row("orders", "x", "{\"a\":true}");
    CHECK(sm_relay_headers_build(&r, &h, err, sizeof err) == SM_EINVAL && h == NULL);
    h = sm_relay_headers_base(&r);
    CHECK(rd_kafka_header_cnt(h) == 2);
    rd_kafka_headers_destroy(h);
}

static void test_backoff(void)
{
    TEST_SECTION("backoff: full jitter within [1, min(max, initial * 2^(n-1))]");
    uint64_t st = 42;
    for (int a = 1; a <= 40; a++) {
        int64_t cap = 500;
        for (int i = 1; i < a && cap < 60000; i++)
            cap *= 2;
        if (cap > 60000)
            cap = 60000;
        int64_t lo = INT64_MAX, hi = 0;
        int out = 0;
        for (int i = 0; i < 20000; i++) {
            int64_t d = sm_relay_backoff_ms(a, 500, 60000, sm_relay_rand(&st));
            out += d < 1 || d > cap;
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        CHECK(out == 0);
        /* it really spreads over the range */
        CHECK(lo < cap / 20 + 2 && hi > cap - cap / 20 - 1);
    }
    CHECK(sm_relay_backoff_ms(0, 0, 0, 12345) == 1);
    CHECK(sm_relay_backoff_ms(1000, 1, INT64_MAX / 2, UINT64_MAX) >= 1);
    CHECK(sm_relay_backoff_ms(3, 100, 50, 99) <= 100); /* max below initial: initial wins */
}

static void test_classes(void)
{
    TEST_SECTION("error classes");
    CHECK(sm_relay_classify(RD_KAFKA_RESP_ERR__PURGE_QUEUE) == SM_ERRC_NOT_MINE);
    CHECK(sm_relay_classify(RD_KAFKA_RESP_ERR__FATAL) == SM_ERRC_NOT_MINE);
    CHECK(sm_relay_classify(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT) == SM_ERRC_NOT_MINE);
    CHECK(sm_relay_classify(RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER) == SM_ERRC_NOT_MINE);
    CHECK(sm_relay_classify(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) == SM_ERRC_RETRY);
    CHECK(sm_relay_classify(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) == SM_ERRC_RETRY);
    CHECK(sm_relay_classify(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) == SM_ERRC_RETRY);
    CHECK(sm_relay_classify(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) == SM_ERRC_RETRY);
    CHECK(sm_relay_classify(RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION) == SM_ERRC_PERMANENT);
}

int main(void)
{
    test_topics();
    test_checks();
    test_headers();
    test_backoff();
    test_classes();
    return check_report("test_relay_record");
}
