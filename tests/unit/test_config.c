/* test_config.c: the broker's configuration: Kafka names and defaults,
 * file + overrides precedence, time-unit precedence, and a clear error that
 * names every kind of bad property. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "broker/config.h"
#include "check.h"

static int load(sm_broker_config *cfg, const char *file, char **ov, int n, char *err, size_t len)
{
    return sm_broker_config_load(cfg, file, ov, n, err, len);
}

/* Loads with a single override and expects failure mentioning `needle`. */
static void expect_error(const char *override, const char *needle)
{
    sm_broker_config cfg;
    char err[512] = "";
    char *ov[1] = {(char *)override};
    int rc = load(&cfg, NULL, ov, 1, err, sizeof err);
    CHECK(rc != SM_OK);
    if (!strstr(err, needle))
        fprintf(stderr, "override %s: error '%s' does not mention '%s'\n", override, err, needle);
    CHECK(strstr(err, needle) != NULL);
    sm_broker_config_release(&cfg);
}

static void test_defaults(void)
{
    TEST_SECTION("defaults are Kafka's");
    sm_broker_config cfg;
    char err[512];
    REQUIRE(load(&cfg, NULL, NULL, 0, err, sizeof err) == SM_OK);
    CHECK(cfg.node_id == 0);
    CHECK(!strcmp(cfg.listener.name, "PLAINTEXT") && !strcmp(cfg.listener.host, "127.0.0.1"));
    CHECK(cfg.listener.port == 9092);
    CHECK(cfg.num_partitions == 1 && cfg.auto_create_topics && cfg.delete_topic_enable);
    CHECK(cfg.log.segment_bytes == 1073741824);
    CHECK(cfg.log.retention_ms == 168LL * 3600 * 1000 && cfg.log.retention_bytes == -1);
    CHECK(cfg.log.segment_ms == 168LL * 3600 * 1000);
    CHECK(cfg.message_max_bytes == 1048588 && cfg.socket_request_max_bytes == 104857600);
    CHECK(cfg.n_log_dirs == 1 && !strcmp(cfg.log_dirs[0], "/tmp/samsa-logs"));
    /* Kafka 4's timestamp bounds: none into the past, an hour into the future */
    CHECK(cfg.ts_before_max_ms == INT64_MAX && cfg.ts_after_max_ms == 3600000);
    sm_broker_config_release(&cfg);
}

static void test_timestamp_bounds(void)
{
    TEST_SECTION("timestamp bounds: before/after, and difference.max.ms where they are not set");
    sm_broker_config cfg;
    char err[512];
    char *diff[] = {"log.message.timestamp.difference.max.ms=5000"};
    REQUIRE(load(&cfg, NULL, diff, 1, err, sizeof err) == SM_OK);
    CHECK(cfg.ts_before_max_ms == 5000 && cfg.ts_after_max_ms == 5000);
    sm_broker_config_release(&cfg);
    char *both[] = {"log.message.timestamp.difference.max.ms=5000",
                    "log.message.timestamp.before.max.ms=7000"};
    REQUIRE(load(&cfg, NULL, both, 2, err, sizeof err) == SM_OK);
    CHECK(cfg.ts_before_max_ms == 7000 && cfg.ts_after_max_ms == 5000);
    sm_broker_config_release(&cfg);
    char *after[] = {"log.message.timestamp.after.max.ms=0"};
    REQUIRE(load(&cfg, NULL, after, 1, err, sizeof err) == SM_OK);
    CHECK(cfg.ts_before_max_ms == INT64_MAX && cfg.ts_after_max_ms == 0);
    sm_broker_config_release(&cfg);
}

static void test_file_and_overrides(void)
{
    TEST_SECTION("file, overrides, units, listeners");
    char path[] = "/tmp/samsa-test-config-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    const char *text = "# a Kafka server.properties\n"
                       "broker.id=3\n"
                       "listeners=PLAINTEXT://:9093,CONTROLLER://:9094\n"
                       "log.dirs=/tmp/a, /tmp/b\n"
                       "num.partitions=6\n"
                       "log.retention.hours=1\n"
                       "log.retention.minutes=30\n"
                       "num.network.threads=3\n"
                       "zookeeper.connect=localhost:2181\n";
    REQUIRE(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    char *ov[] = {"num.partitions=8", "advertised.listeners=PLAINTEXT://broker.example:19092"};
    sm_broker_config cfg;
    char err[512];
    int rc = load(&cfg, path, ov, 2, err, sizeof err);
    if (rc != SM_OK)
        fprintf(stderr, "load: %s\n", err);
    REQUIRE(rc == SM_OK);
    CHECK(cfg.node_id == 3);
    CHECK(cfg.listener.port == 9093 && cfg.listener.host[0] == 0);
    CHECK(!strcmp(cfg.advertised.host, "broker.example") && cfg.advertised.port == 19092);
    CHECK(cfg.n_log_dirs == 2 && !strcmp(cfg.log_dirs[1], "/tmp/b"));
    CHECK(cfg.num_partitions == 8); /* the override wins */
    CHECK(cfg.log.retention_ms == 30LL * 60000); /* minutes beat hours */
    sm_broker_config_release(&cfg);
    unlink(path);

    char *ov3[] = {"listeners=INTERNAL://:9092,CONTROLLER://:9093",
                   "listener.security.protocol.map=INTERNAL:PLAINTEXT",
                   "security.inter.broker.protocol=PLAINTEXT"};
    REQUIRE(load(&cfg, NULL, ov3, 3, err, sizeof err) == SM_OK);
    CHECK(!strcmp(cfg.listener.name, "INTERNAL") && cfg.listener.port == 9092);
    sm_broker_config_release(&cfg);

    char *ov4[] = {"max.connections.per.ip=0",
                   "max.connections.per.ip.overrides=127.0.0.2:5, [::1]:7,localhost:3"};
    REQUIRE(load(&cfg, NULL, ov4, 2, err, sizeof err) == SM_OK);
    CHECK(sm_broker_config_ip_limit(&cfg, "127.0.0.2") == 5);
    CHECK(sm_broker_config_ip_limit(&cfg, "127.0.0.1") == 3); /* localhost, a later entry */
    CHECK(sm_broker_config_ip_limit(&cfg, "::1") == 3 || sm_broker_config_ip_limit(&cfg, "::1") == 7);
    CHECK(sm_broker_config_ip_limit(&cfg, "10.0.0.1") == 0);
    sm_broker_config_release(&cfg);
    REQUIRE(load(&cfg, NULL, NULL, 0, err, sizeof err) == SM_OK);
    CHECK(sm_broker_config_ip_limit(&cfg, "10.0.0.1") == INT32_MAX); /* Kafka's default */
    sm_broker_config_release(&cfg);

    char *ov2[] = {"log.retention.ms=-1", "log.roll.ms=60000", "log.retention.hours=5"};
    REQUIRE(load(&cfg, NULL, ov2, 3, err, sizeof err) == SM_OK);
    CHECK(cfg.log.retention_ms == -1); /* ms beats hours */
    CHECK(cfg.log.segment_ms == 60000);
    sm_broker_config_release(&cfg);
}

static void test_errors(void)
{
    TEST_SECTION("bad properties are named");
    expect_error("no.such.property=1", "no.such.property");
    expect_error("num.partitions=abc", "num.partitions");
    expect_error("num.partitions=0", "num.partitions");
    expect_error("num.partitions=99999999999", "num.partitions");
    expect_error("log.segment.bytes=-5", "log.segment.bytes");
    expect_error("auto.create.topics.enable=maybe", "auto.create.topics.enable");
    expect_error("default.replication.factor=3", "default.replication.factor");
    expect_error("listeners=localhost:9092", "listeners");
    expect_error("listeners=PLAINTEXT://127.0.0.1:70000", "listeners");
    expect_error("listeners=SSL://127.0.0.1:9093", "SSL");
    /* security settings fail closed (no TLS, SASL or ACLs yet) */
    expect_error("listeners=SASL_SSL://127.0.0.1:9093", "does not support SASL_SSL");
    expect_error("listeners=INTERNAL://127.0.0.1:9093", "listener.security.protocol.map");
    expect_error("listener.security.protocol.map=PLAINTEXT:TLS", "listener.security.protocol.map");
    expect_error("ssl.keystore.location=/k.jks", "ssl.keystore.location");
    expect_error("sasl.enabled.mechanisms=PLAIN", "does not support SASL");
    expect_error("authorizer.class.name=x", "authorizer.class.name");
    expect_error("listener.name.internal.ssl.key.password=x", "listener.name.internal.ssl.key.password");
    expect_error("listener.name.x.plain.sasl.jaas.config=x", "does not support SASL");
    expect_error("security.inter.broker.protocol=SSL", "security.inter.broker.protocol");
    expect_error("max.connections.per.ip=0", "max.connections.per.ip");
    expect_error("max.connections.per.ip.overrides=1.2.3.4", "1.2.3.4");
    expect_error("max.connections.per.ip.overrides=1.2.3.4:-1", "1.2.3.4");
    expect_error("log.retention.hours=x", "log.retention.hours");
    expect_error("compression.type=gzip", "compression.type");
    expect_error("log.message.timestamp.type=Whenever", "log.message.timestamp.type");
    expect_error("samsa.log.level=loud", "samsa.log.level");
    expect_error("log.message.timestamp.after.max.ms=-1", "log.message.timestamp.after.max.ms");
    expect_error("log.message.timestamp.before.max.ms=soon", "log.message.timestamp.before.max.ms");
    expect_error("noequals", "noequals");
    /* the origin of a bad value is named */
    expect_error("num.partitions=-1", "--override");
    expect_error("listeners=PLAINTEXT://[::1:9092", "bad IPv6 address");
    expect_error("listeners=PLAINTEXT://[::1]9092", "bad IPv6 address");
    expect_error("listeners=PLAINTEXT://127.0.0.1", "has no port");
    expect_error("listeners=CONTROLLER://127.0.0.1:9093", "no client listener in 'CONTROLLER://127.0.0.1:9093'");
    expect_error("listeners=SASL_PLAINTEXT://127.0.0.1:9093", "does not support SASL_PLAINTEXT listeners yet");
    expect_error("log.dirs= , ,", "log.dirs (--override): no directory given");
    char toolong[400];
    snprintf(toolong, sizeof toolong, "listeners=PLAINTEXT://%0300d:1", 0);
    expect_error(toolong, "host too long");
    snprintf(toolong, sizeof toolong, "listeners=PLAINTEXT://[%0300d]:1", 0);
    expect_error(toolong, "host too long");
    sm_broker_config cfg;
    char err[512];
    CHECK(load(&cfg, "/nonexistent/server.properties", NULL, 0, err, sizeof err) != SM_OK);
    CHECK(strstr(err, "/nonexistent/server.properties") != NULL);
    sm_broker_config_release(&cfg);
}

static void test_listeners_and_dirs(void)
{
    TEST_SECTION("listeners (IPv6, several, controller), log.dirs lists, node.id and broker.id");
    sm_broker_config cfg;
    char err[512];
    char *v6[] = {"listeners=CONTROLLER://[::1]:9094, PLAINTEXT://[::1]:19092,PLAINTEXT://127.0.0.1:0",
                  "log.dirs=/tmp/x/ , ,/tmp/y", "node.id=4", "broker.id=4", "samsa.log.level=debug"};
    int rc = load(&cfg, NULL, v6, 5, err, sizeof err);
    if (rc != SM_OK)
        fprintf(stderr, "load: %s\n", err);
    REQUIRE(rc == SM_OK);
    /* the first client listener; the controller one is skipped, a second ignored (logged) */
    CHECK(!strcmp(cfg.listener.host, "::1") && cfg.listener.port == 19092);
    CHECK(!strcmp(cfg.listener.name, "PLAINTEXT"));
    CHECK(cfg.n_log_dirs == 2 && !strcmp(cfg.log_dirs[0], "/tmp/x/") && !strcmp(cfg.log_dirs[1], "/tmp/y"));
    CHECK(cfg.node_id == 4);
    CHECK(cfg.log_level == SM_LOG_DEBUG);
    sm_broker_config_release(&cfg);
    char *disagree[] = {"node.id=4", "broker.id=5"};
    CHECK(load(&cfg, NULL, disagree, 2, err, sizeof err) == SM_EINVAL);
    CHECK(strstr(err, "node.id (4) and broker.id (5) disagree") != NULL);
    sm_broker_config_release(&cfg);
    /* at most SM_MAX_LOG_DIRS directories */
    char dirs[4096] = "log.dirs=";
    for (int i = 0; i <= SM_MAX_LOG_DIRS; i++)
        snprintf(dirs + strlen(dirs), sizeof dirs - strlen(dirs), "%s/d%d", i ? "," : "", i);
    char *many[] = {dirs};
    CHECK(load(&cfg, NULL, many, 1, err, sizeof err) == SM_EINVAL);
    char want[64];
    snprintf(want, sizeof want, "at most %d directories", SM_MAX_LOG_DIRS);
    CHECK(strstr(err, want) != NULL);
    sm_broker_config_release(&cfg);
    /* log.dir (singular) when log.dirs is not set */
    char *one[] = {"log.dir=/tmp/only"};
    REQUIRE(load(&cfg, NULL, one, 1, err, sizeof err) == SM_OK);
    CHECK(cfg.n_log_dirs == 1 && !strcmp(cfg.log_dirs[0], "/tmp/only"));
    sm_broker_config_release(&cfg);
}

static void visit_count(const char *name, const char *value, bool is_default, bool read_only,
                        void *arg)
{
    int *counts = arg;
    counts[0]++;
    if (!strcmp(name, "num.partitions")) {
        counts[1] = atoi(value);
        counts[2] = is_default;
    }
    if (!strcmp(name, "log.retention.ms"))
        counts[3] = (int)(atoll(value) / 1000);
    (void)read_only;
}

static void test_visit(void)
{
    TEST_SECTION("broker configs as DescribeConfigs reports them");
    char *ov[] = {"num.partitions=4", "log.retention.minutes=2"};
    sm_broker_config cfg;
    char err[512];
    REQUIRE(load(&cfg, NULL, ov, 2, err, sizeof err) == SM_OK);
    int counts[4] = {0, 0, 1, 0};
    sm_broker_config_visit(&cfg, visit_count, counts);
    CHECK(counts[0] > 15);
    CHECK(counts[1] == 4 && counts[2] == 0);
    CHECK(counts[3] == 120); /* the effective value, from minutes */
    sm_broker_config_release(&cfg);
}

int main(void)
{
    test_defaults();
    test_timestamp_bounds();
    test_file_and_overrides();
    test_errors();
    test_listeners_and_dirs();
    test_visit();
    return check_report("test_config");
}
