/* test_relay_metrics.c: the relay's Prometheus text (names, labels, a
 * cumulative latency histogram from 1 ms to 60 s) and the HTTP endpoint on
 * port 0: GET /metrics, /healthz, 404 and 405. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/err.h"
#include "check.h"
#include "relay/metrics.h"

static void test_render(void)
{
    TEST_SECTION("text format");
    static sm_metrics m;
    sm_metrics_init(&m);
    char buf[16384];
    sm_metrics_render(&m, buf, sizeof buf);
    CHECK(!strstr(buf, "samsa_outbox_rows")); /* no stats read yet */
    atomic_store(&m.rows_init, 3);
    atomic_store(&m.rows_published, 4);
    atomic_store(&m.rows_complete, 5);
    atomic_store(&m.rows_dead, 6);
    atomic_store(&m.oldest_init_age_ms, 2500);
    atomic_store(&m.stats_valid, 1);
    atomic_store(&m.published_total, 42);
    atomic_store(&m.owned_slots, 64);
    sm_metrics_observe_latency(&m, 500);       /* 0.5 ms */
    sm_metrics_observe_latency(&m, 1000);      /* exactly 1 ms: le="0.001" */
    sm_metrics_observe_latency(&m, 7000);      /* 7 ms */
    sm_metrics_observe_latency(&m, 120000000); /* 2 min: +Inf only */
    size_t n = sm_metrics_render(&m, buf, sizeof buf);
    CHECK(n < sizeof buf && n == strlen(buf));
    CHECK(strstr(buf, "samsa_outbox_rows{status=\"INIT\"} 3\n"));
    CHECK(strstr(buf, "samsa_outbox_rows{status=\"PUBLISHED\"} 4\n"));
    CHECK(strstr(buf, "samsa_outbox_rows{status=\"COMPLETE\"} 5\n"));
    CHECK(strstr(buf, "samsa_outbox_rows{status=\"DEAD\"} 6\n"));
    CHECK(strstr(buf, "samsa_outbox_oldest_unpublished_age_seconds 2.5\n"));
    CHECK(strstr(buf, "# TYPE samsa_relay_publish_latency_seconds histogram\n"));
    CHECK(strstr(buf, "samsa_relay_publish_latency_seconds_bucket{le=\"0.001\"} 2\n"));
    CHECK(strstr(buf, "samsa_relay_publish_latency_seconds_bucket{le=\"0.005\"} 2\n"));
    CHECK(strstr(buf, "samsa_relay_publish_latency_seconds_bucket{le=\"0.01\"} 3\n"));
    CHECK(strstr(buf, "samsa_relay_publish_latency_seconds_bucket{le=\"60\"} 3\n"));
    CHECK(strstr(buf, "samsa_relay_publish_latency_seconds_bucket{le=\"+Inf\"} 4\n"));
    CHECK(strstr(buf, "samsa_relay_publish_latency_seconds_count 4\n"));
    CHECK(strstr(buf, "samsa_relay_publish_latency_seconds_sum 120.0085"));
    CHECK(strstr(buf, "samsa_relay_published_total 42\n"));
    CHECK(strstr(buf, "samsa_relay_retries_total 0\n"));
    CHECK(strstr(buf, "samsa_relay_dead_letters_total 0\n"));
    CHECK(strstr(buf, "samsa_relay_owned_slots 64\n"));
    CHECK(strstr(buf, "samsa_relay_inflight 0\n"));
    /* a short buffer: snprintf semantics */
    char small[64];
    CHECK(sm_metrics_render(&m, small, sizeof small) == n && strlen(small) == sizeof small - 1);
}

static int http_get(int port, const char *req, char *out, size_t outlen)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t r;
    while (got + 1 < outlen && (r = read(fd, out + got, outlen - got - 1)) > 0)
        got += (size_t)r;
    out[got] = 0;
    close(fd);
    return 0;
}

static void test_http(void)
{
    TEST_SECTION("HTTP: /metrics, /healthz, 404, 405; port 0");
    static sm_metrics m;
    sm_metrics_init(&m);
    atomic_store(&m.published_total, 7);
    int port = 0;
    char err[256];
    REQUIRE(sm_metrics_start(&m, "127.0.0.1", 0, &port, err, sizeof err) == SM_OK);
    CHECK(port > 0);
    char buf[32768];
    REQUIRE(http_get(port, "GET /metrics HTTP/1.0\r\n\r\n", buf, sizeof buf) == 0);
    CHECK(strstr(buf, "HTTP/1.0 200") || strstr(buf, "HTTP/1.1 200"));
    CHECK(strstr(buf, "text/plain; version=0.0.4"));
    CHECK(strstr(buf, "samsa_relay_published_total 7\n"));
    REQUIRE(http_get(port, "GET /healthz HTTP/1.0\r\n\r\n", buf, sizeof buf) == 0);
    CHECK(strstr(buf, " 200 ") && strstr(buf, "ok\n"));
    REQUIRE(http_get(port, "GET /nope HTTP/1.0\r\n\r\n", buf, sizeof buf) == 0);
    CHECK(strstr(buf, " 404 "));
    REQUIRE(http_get(port, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n", buf,
                     sizeof buf) == 0);
    CHECK(strstr(buf, " 405 "));
    /* a second endpoint on the same port fails with the address in the message */
    static sm_metrics m2;
    sm_metrics_init(&m2);
    int port2;
    CHECK(sm_metrics_start(&m2, "127.0.0.1", port, &port2, err, sizeof err) != SM_OK &&
          strstr(err, "127.0.0.1"));
    sm_metrics_stop(&m);
    /* the port is free again */
    CHECK(sm_metrics_start(&m2, "127.0.0.1", port, &port2, err, sizeof err) == SM_OK &&
          port2 == port);
    sm_metrics_stop(&m2);
}

int main(void)
{
    test_render();
    test_http();
    return check_report("test_relay_metrics");
}
