/* test_relay_config.c: samsa-relay's properties: defaults, file and
 * overrides, librdkafka pass-through (and its errors, which name the
 * property), the settings the relay forces, and a clear error for every
 * kind of bad value. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "check.h"
#include "relay/config.h"

static int load(sm_relay_config *cfg, const char *file, char **ov, int n, char *err, size_t len)
{
    return sm_relay_config_load(cfg, file, ov, n, true, err, len);
}

#define BASE "outbox.db=sqlite:/tmp/x.db", "bootstrap.servers=127.0.0.1:9092"

/* Loads the base properties plus one and expects an error mentioning each
 * needle. */
static void expect_error(const char *extra, const char *needle1, const char *needle2)
{
    sm_relay_config cfg;
    char err[512] = "";
    char *ov[3] = {BASE, (char *)extra};
    int rc = load(&cfg, NULL, ov, 3, err, sizeof err);
    CHECK(rc != SM_OK);
    bool ok = strstr(err, needle1) && (!needle2 || strstr(err, needle2));
    if (!ok)
        fprintf(stderr, "%s: error '%s' lacks '%s' / '%s'\n", extra, err, needle1,
                needle2 ? needle2 : "");
    CHECK(ok);
    sm_relay_config_release(&cfg);
}

static void test_defaults(void)
{
    TEST_SECTION("defaults");
    sm_relay_config cfg;
    char err[512];
    char *ov[2] = {BASE};
    REQUIRE(load(&cfg, NULL, ov, 2, err, sizeof err) == SM_OK);
    CHECK(!strcmp(cfg.outbox_db, "sqlite:/tmp/x.db"));
    CHECK(!strcmp(cfg.bootstrap_servers, "127.0.0.1:9092"));
    char want[300], host[256];
    gethostname(host, sizeof host);
    snprintf(want, sizeof want, "%s-%d", host, (int)getpid());
    CHECK(!strcmp(cfg.relay_id, want));
    CHECK(cfg.batch_size == 1000 && cfg.poll_interval_ms == 50 && cfg.max_attempts == 10);
    CHECK(cfg.retry_backoff_ms == 500 && cfg.retry_backoff_max_ms == 60000);
    CHECK(!strcmp(cfg.dead_letter_topic, "${topic}.DLT"));
    CHECK(cfg.on_dead == SM_ON_DEAD_CONTINUE);
    CHECK(cfg.on_topic_recreated == SM_ON_RECREATED_REPUBLISH);
    CHECK(cfg.n_track_groups == 0);
    CHECK(cfg.complete_interval_ms == 1000 && cfg.republish_stale_after_ms == 0);
    CHECK(cfg.cleanup_after_ms == 7LL * 24 * 3600 * 1000);
    CHECK(!cfg.cleanup_include_published && !cfg.cleanup_archive);
    CHECK(!strcmp(cfg.metrics_host, "127.0.0.1") && cfg.metrics_port == 9464);
    CHECK(cfg.log_level == 1);
    /* librdkafka defaults the relay chooses */
    CHECK(sm_props_get(&cfg.kafka, "linger.ms") && !strcmp(sm_props_get(&cfg.kafka, "linger.ms"), "1"));
    CHECK(!strcmp(sm_props_get(&cfg.kafka, "message.timeout.ms"), "0"));
    char *dlt = sm_relay_dlt_name(&cfg, "orders");
    CHECK(!strcmp(dlt, "orders.DLT"));
    free(dlt);
    sm_relay_config_release(&cfg);

    TEST_SECTION("required properties");
    char *none[1] = {"bootstrap.servers=x:1"};
    CHECK(load(&cfg, NULL, none, 1, err, sizeof err) != SM_OK && strstr(err, "outbox.db is required"));
    sm_relay_config_release(&cfg);
    char *nob[1] = {"outbox.db=sqlite:/tmp/y"};
    CHECK(load(&cfg, NULL, nob, 1, err, sizeof err) != SM_OK && strstr(err, "bootstrap.servers is required"));
    sm_relay_config_release(&cfg);
    /* --init-schema needs only the database */
    CHECK(sm_relay_config_load(&cfg, NULL, nob, 1, false, err, sizeof err) == SM_OK);
    sm_relay_config_release(&cfg);
}

static void test_file_and_overrides(void)
{
    TEST_SECTION("file, overrides and librdkafka pass-through");
    char path[] = "/tmp/samsa-test-relay-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    const char *text = "# relay.properties\n"
                       "outbox.db=postgresql://app:secret@db.example:5432/shop\n"
                       "bootstrap.servers=k1:9092,k2:9092\n"
                       "relay.id=relay-a\n"
                       "batch.size=500\n"
                       "producer.batch.size=65536\n"
                       "compression.type=lz4\n"
                       "queue.buffering.max.ms=7\n"
                       "track.groups= billing , shipping,billing,,\n"
                       "dead.letter.topic=dead.${topic}.${topic}\n"
                       "on.dead=block\n"
                       "on.topic.recreated=KEEP\n"
                       "metrics.listen=0.0.0.0:0\n"
                       "log.level=debug\n"
                       "cleanup.after.ms=0\n"
                       "max.attempts=3\n";
    REQUIRE(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    sm_relay_config cfg;
    char err[512];
    char *ov[2] = {"max.attempts=4", "retry.backoff.ms=20"};
    int rc = load(&cfg, path, ov, 2, err, sizeof err);
    if (rc != SM_OK)
        fprintf(stderr, "%s\n", err);
    REQUIRE(rc == SM_OK);
    CHECK(!strcmp(cfg.relay_id, "relay-a") && cfg.batch_size == 500);
    CHECK(!strcmp(sm_props_get(&cfg.kafka, "batch.size"), "65536"));
    CHECK(!strcmp(sm_props_get(&cfg.kafka, "compression.type"), "lz4"));
    /* an alias of linger.ms is set: the relay's linger default stays out */
    CHECK(!sm_props_get(&cfg.kafka, "linger.ms"));
    CHECK(cfg.n_track_groups == 2 && !strcmp(cfg.track_groups[0], "billing") &&
          !strcmp(cfg.track_groups[1], "shipping"));
    char *dlt = sm_relay_dlt_name(&cfg, "t1");
    CHECK(!strcmp(dlt, "dead.t1.t1"));
    free(dlt);
    CHECK(cfg.on_dead == SM_ON_DEAD_BLOCK);
    CHECK(cfg.on_topic_recreated == SM_ON_RECREATED_KEEP);
    CHECK(!strcmp(cfg.metrics_host, "0.0.0.0") && cfg.metrics_port == 0);
    CHECK(cfg.log_level == 0 && cfg.cleanup_after_ms == 0);
    CHECK(cfg.max_attempts == 4 && cfg.retry_backoff_ms == 20); /* overrides win */
    CHECK(strstr(sm_props_find(&cfg.all, "max.attempts")->origin, "override") != NULL);
    char red[256];
    sm_relay_redact_url(cfg.outbox_db, red, sizeof red);
    CHECK(!strcmp(red, "postgresql://app:***@db.example:5432/shop"));
    sm_relay_redact_url("postgresql://app@h/db", red, sizeof red);
    CHECK(!strcmp(red, "postgresql://app@h/db"));
    sm_relay_config_release(&cfg);
    unlink(path);
}

/* metrics.listen's short forms, relay.id and outbox.db edge cases */
static void test_edges(void)
{
    TEST_SECTION("metrics.listen short forms; relay.id, outbox.db and bootstrap.servers edges");
    sm_relay_config cfg;
    char err[512];
    char *any[3] = {BASE, "metrics.listen=:9500"};
    REQUIRE(load(&cfg, NULL, any, 3, err, sizeof err) == SM_OK);
    CHECK(!strcmp(cfg.metrics_host, "0.0.0.0") && cfg.metrics_port == 9500);
    sm_relay_config_release(&cfg);
    char *lh[3] = {BASE, "metrics.listen=localhost:0"};
    REQUIRE(load(&cfg, NULL, lh, 3, err, sizeof err) == SM_OK);
    CHECK(!strcmp(cfg.metrics_host, "127.0.0.1") && cfg.metrics_port == 0);
    sm_relay_config_release(&cfg);
    char longaddr[128];
    snprintf(longaddr, sizeof longaddr, "metrics.listen=%080d:1", 1);
    expect_error(longaddr, "metrics.listen", "address too long");
    char longid[260] = "relay.id=";
    memset(longid + 9, 'r', 201);
    longid[210] = 0;
    expect_error(longid, "relay.id", "1..200 characters");
    expect_error("relay.id=", "relay.id", "1..200 characters");
    expect_error("bootstrap.servers=", "bootstrap.servers", "empty value");
    expect_error("outbox.db=sqlite:", "outbox.db", "needs a path");
}

static void test_errors(void)
{
    TEST_SECTION("errors name the property");
    expect_error("no.such.property=1", "unknown property 'no.such.property'", "--override");
    expect_error("batch.size=many", "batch.size", "'many'");
    expect_error("batch.size=0", "batch.size", "[1,");
    expect_error("max.attempts=-1", "max.attempts", NULL);
    expect_error("poll.interval.ms=", "poll.interval.ms", NULL);
    expect_error("cleanup.archive=yes", "cleanup.archive", "true or false");
    expect_error("on.dead=skip", "on.dead", "continue or block");
    expect_error("on.topic.recreated=drop", "on.topic.recreated", "republish or keep");
    expect_error("metrics.listen=9464", "metrics.listen", "address:port");
    expect_error("metrics.listen=somehost:1", "metrics.listen", "IPv4");
    expect_error("metrics.listen=127.0.0.1:70000", "metrics.listen", "0..65535");
    expect_error("log.level=loud", "log.level", NULL);
    expect_error("dead.letter.topic=bad name ${topic}", "dead.letter.topic", "invalid topic");
    expect_error("relay.id=a b", "relay.id", NULL);
    expect_error("retry.backoff.max.ms=100", "retry.backoff.max.ms", "below");
    expect_error("outbox.db=mysql://x", "outbox.db", "neither");
    /* librdkafka's own errors, with the property's name */
    expect_error("linger.ms=soon", "linger.ms", "librdkafka");
    expect_error("compression.type=brotli", "compression.type", NULL);
    expect_error("producer.no.such=1", "unknown property 'producer.no.such'", NULL);
    /* what the relay needs */
    expect_error("acks=1", "acks", "acks=all");
    expect_error("enable.idempotence=false", "enable.idempotence", NULL);
    expect_error("transactional.id=x", "transactional.id", NULL);
    expect_error("enable.gapless.guarantee=true", "enable.gapless.guarantee", "per producer");

    sm_relay_config cfg;
    char err[512];
    char *ov[4] = {BASE, "acks=-1", "enable.idempotence=true"};
    CHECK(load(&cfg, NULL, ov, 4, err, sizeof err) == SM_OK);
    sm_relay_config_release(&cfg);
    char *bad[1] = {"noequals"};
    CHECK(load(&cfg, NULL, bad, 1, err, sizeof err) != SM_OK);
    sm_relay_config_release(&cfg);
    CHECK(load(&cfg, "/nonexistent/relay.properties", NULL, 0, err, sizeof err) != SM_OK &&
          strstr(err, "/nonexistent/relay.properties"));
    sm_relay_config_release(&cfg);
}

static void test_track_groups(void)
{
    TEST_SECTION("track.groups: group (every topic) or group:topic; slot.lease.ms");
    sm_relay_config cfg;
    char err[512];
    char *ov[3] = {BASE, ("track.groups=shop-stock:shop.orders, shop-sink:shop.payments,audit,"
                          "shop-stock:shop.orders,ns:team:*,shop-stock:shop.rooms")};
    int rc = load(&cfg, NULL, ov, 3, err, sizeof err);
    if (rc != SM_OK)
        fprintf(stderr, "%s\n", err);
    REQUIRE(rc == SM_OK);
    CHECK(cfg.n_track_groups == 5); /* the repeated pair once */
    CHECK(!strcmp(cfg.track_groups[0], "shop-stock") && !strcmp(cfg.track_topics[0], "shop.orders"));
    CHECK(!strcmp(cfg.track_groups[1], "shop-sink") && !strcmp(cfg.track_topics[1], "shop.payments"));
    CHECK(!strcmp(cfg.track_groups[2], "audit") && cfg.track_topics[2] == NULL);
    CHECK(!strcmp(cfg.track_groups[3], "ns:team") && cfg.track_topics[3] == NULL); /* group:* */
    CHECK(!strcmp(cfg.track_groups[4], "shop-stock") && !strcmp(cfg.track_topics[4], "shop.rooms"));
    CHECK(cfg.slot_lease_ms == 30000);
    sm_relay_config_release(&cfg);
    expect_error("track.groups=g:bad topic", "track.groups", "group:topic");
    expect_error("track.groups=:orders", "track.groups", "empty group");
    expect_error("slot.lease.ms=1000", "slot.lease.ms", "twice balance.interval.ms");
    char *ok[4] = {BASE, "slot.lease.ms=0", "balance.interval.ms=100"};
    CHECK(load(&cfg, NULL, ok, 4, err, sizeof err) == SM_OK && cfg.slot_lease_ms == 0);
    sm_relay_config_release(&cfg);
}

int main(void)
{
    test_defaults();
    test_file_and_overrides();
    test_errors();
    test_edges();
    test_track_groups();
    return check_report("test_relay_config");
}
