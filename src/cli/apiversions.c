/* apiversions.c: an ApiVersions v0 request of our own on a plain socket:
 * the smallest request in the Kafka protocol (a header and no body), which
 * every broker since Kafka 0.10 answers. librdkafka negotiates versions
 * itself but exposes the ranges only in debug logs; cluster info shows
 * them, and produce uses them to warn when librdkafka will not compress.
 * The response is untrusted bytes: read with base/buf.h's fail-closed
 * reader, its size and its count capped. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "cli/cli.h"

static const char *const api_names[] = {
    "Produce", "Fetch", "ListOffsets", "Metadata", "LeaderAndIsr", "StopReplica",
    "UpdateMetadata", "ControlledShutdown", "OffsetCommit", "OffsetFetch", "FindCoordinator",
    "JoinGroup", "Heartbeat", "LeaveGroup", "SyncGroup", "DescribeGroups", "ListGroups",
    "SaslHandshake", "ApiVersions", "CreateTopics", "DeleteTopics", "DeleteRecords",
    "InitProducerId", "OffsetForLeaderEpoch", "AddPartitionsToTxn", "AddOffsetsToTxn", "EndTxn",
    "WriteTxnMarkers", "TxnOffsetCommit", "DescribeAcls", "CreateAcls", "DeleteAcls",
    "DescribeConfigs", "AlterConfigs", "AlterReplicaLogDirs", "DescribeLogDirs",
    "SaslAuthenticate", "CreatePartitions", "CreateDelegationToken", "RenewDelegationToken",
    "ExpireDelegationToken", "DescribeDelegationToken", "DeleteGroups", "ElectLeaders",
    "IncrementalAlterConfigs", "AlterPartitionReassignments", "ListPartitionReassignments",
    "OffsetDelete", "DescribeClientQuotas", "AlterClientQuotas", "DescribeUserScramCredentials",
    "AlterUserScramCredentials", "Vote", "BeginQuorumEpoch", "EndQuorumEpoch", "DescribeQuorum",
    "AlterPartition", "UpdateFeatures", "Envelope", "FetchSnapshot", "DescribeCluster",
    "DescribeProducers", "BrokerRegistration", "BrokerHeartbeat", "UnregisterBroker",
    "DescribeTransactions", "ListTransactions", "AllocateProducerIds", "ConsumerGroupHeartbeat",
    "ConsumerGroupDescribe", "ControllerRegistration", "GetTelemetrySubscriptions",
    "PushTelemetry", "AssignReplicasToDirs", "ListClientMetricsResources",
    "DescribeTopicPartitions",
};
#define N_API_NAMES ((int)(sizeof api_names / sizeof api_names[0]))

#define API_VERSIONS_KEY 18
#define MAX_APIS 1000        /* a cap on the count off the wire */
#define MAX_RESPONSE (1 << 20)

const char *sm_api_name(int key)
{
    return key >= 0 && key < N_API_NAMES ? api_names[key] : "?";
}

/* ---- a tiny blocking client with a deadline ---------------------------------- */

static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - sm_mono_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p = {fd, events, 0};
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

static int dial(const char *host, int port, int64_t deadline, char *err, size_t errlen)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(host, ps, &hints, &ai);
    if (g) {
        snprintf(err, errlen, "resolving %s: %s", host, gai_strerror(g));
        return -1;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) && errno != EINPROGRESS) {
            e = errno;
            close(fd);
            fd = -1;
            continue;
        }
        int w = wait_fd(fd, POLLOUT, deadline);
        socklen_t sl = sizeof e;
        if (w || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) || e) {
            e = w ? -w : e;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0)
        snprintf(err, errlen, "connecting to %s:%d: %s", host, port, strerror(e ? e : EIO));
    return fd;
}

static int io_all(int fd, uint8_t *p, size_t n, bool wr, int64_t deadline, char *err,
                  size_t errlen)
{
    while (n) {
        ssize_t k = wr ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
            continue;
        }
        if (k == 0) {
            snprintf(err, errlen, "the broker closed the connection");
            return -1;
        }
        if (errno != EAGAIN && errno != EINTR) {
            snprintf(err, errlen, "%s: %s", wr ? "send" : "recv", strerror(errno));
            return -1;
        }
        int w = wait_fd(fd, wr ? POLLOUT : POLLIN, deadline);
        if (w) {
            snprintf(err, errlen, "%s", w == -ETIMEDOUT ? "no answer in time" : strerror(-w));
            return -1;
        }
    }
    return 0;
}

int sm_api_versions(const char *host, int port, int timeout_ms, sm_api_range **out, int *n,
                    char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    int64_t deadline = sm_mono_ms() + timeout_ms;
    int fd = dial(host, port, deadline, err, errlen);
    if (fd < 0)
        return -1;
    const int32_t corr = 0x53414d53; /* "SAMS" */
    sm_wbuf w;
    sm_wbuf_init(&w, 64);
    size_t size_at = sm_wbuf_mark_i32(&w);
    sm_wbuf_i16(&w, API_VERSIONS_KEY); /* RequestApiKey */
    sm_wbuf_i16(&w, 0);                /* RequestApiVersion */
    sm_wbuf_i32(&w, corr);             /* CorrelationId */
    sm_wbuf_cstr(&w, "samsa-cli");     /* ClientId */
    sm_wbuf_patch_i32(&w, size_at, (int32_t)(w.len - 4));
    int rc = -1;
    uint8_t hdr[4], *body = NULL;
    if (w.oom) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (io_all(fd, w.p, w.len, true, deadline, err, errlen) ||
        io_all(fd, hdr, 4, false, deadline, err, errlen))
        goto done;
    uint32_t size = sm_be32(hdr);
    if (size < 10 || size > MAX_RESPONSE) {
        snprintf(err, errlen, "a response of %u bytes is not an ApiVersions answer", size);
        goto done;
    }
    body = malloc(size);
    if (!body || io_all(fd, body, size, false, deadline, err, errlen))
        goto done;
    sm_rd r;
    sm_rd_init(&r, body, size);
    int32_t got_corr = sm_rd_i32(&r);
    int16_t ec = sm_rd_i16(&r);
    int32_t cnt = sm_rd_array(&r, 6, false);
    if (r.err || got_corr != corr) {
        snprintf(err, errlen, "a malformed ApiVersions response");
        goto done;
    }
    if (ec) {
        snprintf(err, errlen, "ApiVersions answered error %d", ec);
        goto done;
    }
    if (cnt > MAX_APIS)
        cnt = MAX_APIS;
    *out = calloc((size_t)cnt + 1, sizeof **out);
    if (!*out)
        goto done;
    for (int32_t i = 0; i < cnt; i++) {
        (*out)[i].key = sm_rd_i16(&r);
        (*out)[i].min = sm_rd_i16(&r);
        (*out)[i].max = sm_rd_i16(&r);
    }
    if (r.err) {
        free(*out);
        *out = NULL;
        snprintf(err, errlen, "a truncated ApiVersions response");
        goto done;
    }
    *n = cnt;
    rc = 0;
done:
    free(body);
    sm_wbuf_release(&w);
    close(fd);
    return rc;
}
