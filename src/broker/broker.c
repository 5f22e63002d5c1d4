/* broker.c: start-up, the accept loop, signals, housekeeping and clean
 * shutdown.
 *
 * Start-up order: lock each log dir, learn whether the last shutdown was
 * clean (a marker file written last at shutdown and removed at start),
 * load topics (recovering logs after a crash), then listen. Shutdown is the
 * reverse: stop accepting, stop reading, answer what is in flight, fsync
 * every log, write the marker. */
#include "broker/broker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsync.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "broker/conn.h"
#include "broker/group.h"
#include "broker/partition.h"
#include "broker/topics.h"

#define CLEAN_MARKER ".samsa_cleanshutdown"
#define LOCK_FILE ".lock"
#define SHUTDOWN_DRAIN_MS 5000

/* ---- log directories ---------------------------------------------------------- */

/* mkdir, and when that made the directory, fsync its parent: a log dir
 * created at start-up must itself survive a power cut, not only what the
 * broker later writes and syncs inside it. buf is a writable path. */
static int mkdir_synced(char *buf)
{
    if (mkdir(buf, 0755))
        return errno == EEXIST ? 0 : -1;
    char *slash = strrchr(buf, '/');
    if (!slash)
        return sm_fsync_dir(".");
    if (slash == buf)
        return sm_fsync_dir("/");
    *slash = 0;
    int rc = sm_fsync_dir(buf);
    *slash = '/';
    return rc;
}

static int mkdirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir_synced(buf))
                return -1;
            *p = '/';
        }
    }
    return mkdir_synced(buf);
}

static int prepare_log_dirs(sm_broker *b, char *err, size_t errlen)
{
    b->clean_start = true;
    for (int i = 0; i < b->cfg.n_log_dirs; i++) {
        const char *dir = b->cfg.log_dirs[i];
        if (mkdirs(dir))
            return sm_fail(err, errlen, SM_EIO, "log dir %s: cannot create: %s", dir,
                           strerror(errno));
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, LOCK_FILE);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return sm_fail(err, errlen, SM_EIO, "log dir %s: cannot write: %s", dir,
                           strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB)) {
            close(fd);
            return sm_fail(err, errlen, SM_EIO,
                           "log dir %s is in use by another samsa-broker (lock held on %s)", dir,
                           path);
        }
        /* the descriptor stays open (and locked) for the broker's life */
        snprintf(path, sizeof path, "%s/%s", dir, CLEAN_MARKER);
        struct stat st;
        bool has_data = false;
        if (stat(path, &st) == 0) {
            unlink(path);
            sm_fsync_dir(dir);
        } else {
            /* a fresh directory is clean too: only one holding partitions counts */
            char meta[4200];
            snprintf(meta, sizeof meta, "%s/meta.properties", dir);
            has_data = stat(meta, &st) == 0;
        }
        if (has_data)
            b->clean_start = false;
    }
    return SM_OK;
}

/* meta.properties in the first log dir holds the cluster id, as Kafka's does. */
static int load_meta(sm_broker *b, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/meta.properties", b->cfg.log_dirs[0]);
    sm_props ps;
    sm_props_init(&ps);
    if (sm_props_load_file(&ps, path, NULL, 0) == SM_OK) {
        const char *cid = sm_props_get(&ps, "cluster.id");
        const char *nid = sm_props_get(&ps, "node.id");
        if (nid && atoi(nid) != b->cfg.node_id) {
            int rc = sm_fail(err, errlen, SM_EINVAL,
                             "%s says node.id=%s but the configuration says %d; refusing to "
                             "start on another broker's data",
                             path, nid, b->cfg.node_id);
            sm_props_release(&ps); /* after the message: nid points into ps */
            return rc;
        }
        if (cid && strlen(cid) < sizeof b->cluster_id) {
            snprintf(b->cluster_id, sizeof b->cluster_id, "%s", cid);
            sm_props_release(&ps);
            return SM_OK;
        }
    }
    sm_props_release(&ps);
    /* a new cluster id: 16 random bytes, URL-safe base64 without padding */
    uint8_t raw[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, raw, sizeof raw) != (ssize_t)sizeof raw) {
        if (fd >= 0)
            close(fd);
        return sm_fail(err, errlen, SM_EIO, "cannot read /dev/urandom");
    }
    close(fd);
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < sizeof raw; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 6) {
            b->cluster_id[o++] = b64[(acc >> (bits - 6)) & 63];
            bits -= 6;
        }
    }
    if (bits)
        b->cluster_id[o++] = b64[(acc << (6 - bits)) & 63];
    b->cluster_id[o] = 0;
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return sm_fail(err, errlen, SM_EIO, "cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "#samsa-broker\nversion=1\ncluster.id=%s\nnode.id=%d\n", b->cluster_id,
            b->cfg.node_id);
    if (fflush(f) || fsync(fileno(f)) || fclose(f) || rename(tmp, path))
        return sm_fail(err, errlen, SM_EIO, "cannot write %s: %s", path, strerror(errno));
    sm_fsync_dir(b->cfg.log_dirs[0]);
    return SM_OK;
}

/* ---- listening, signals, flusher events ------------------------------------- */

static void on_accept(sm_io *io, uint32_t events)
{
    sm_broker *b = (sm_broker *)((char *)io - offsetof(sm_broker, listen_io));
    (void)events;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(io->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* out of descriptors: stop watching the socket for a while, or the
                 * level-triggered listen socket would spin the loop */
                sm_log_limited(SM_LOG_WARN, "accept: %s; not accepting for 100 ms",
                               strerror(errno));
                sm_loop_mod(b->loop, io, 0);
                sm_timer_arm(b->loop, &b->accept_timer, sm_mono_ms() + 100);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                sm_log_limited(SM_LOG_WARN, "accept: %s", strerror(errno));
            }
            return;
        }
        char host[INET6_ADDRSTRLEN] = "?", peer[64];
        int port = 0;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *sa = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &sa->sin_addr, host, sizeof host);
            port = ntohs(sa->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;
            if (IN6_IS_ADDR_V4MAPPED(&sa->sin6_addr)) /* counted as the IPv4 address it is */
                inet_ntop(AF_INET, &sa->sin6_addr.s6_addr[12], host, sizeof host);
            else
                inet_ntop(AF_INET6, &sa->sin6_addr, host, sizeof host);
            port = ntohs(sa->sin6_port);
        }
        snprintf(peer, sizeof peer, "%s:%d", host, port);
        sm_conn_accept(b, fd, host, peer);
    }
}

static void accept_resume(sm_timer *t)
{
    sm_broker *b = (sm_broker *)((char *)t - offsetof(sm_broker, accept_timer));
    if (b->listen_io.fd >= 0 && !b->stopping)
        sm_loop_mod(b->loop, &b->listen_io, EPOLLIN);
}

/* Raises the open-file limit to its hard maximum, and splits it between
 * connections and segment files (broker.h). */
static void raise_fd_limit(sm_broker *b)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (1u << 20) ? (1u << 20)
                                                                               : rl.rlim_max;
        if (want > rl.rlim_cur) {
            rl.rlim_cur = want;
            setrlimit(RLIMIT_NOFILE, &rl);
            getrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    b->fd_limit = rl.rlim_cur == RLIM_INFINITY ? 0 : (int64_t)rl.rlim_cur;
    /* the split (broker.h): reserve, connections, segment files */
    int64_t avail = b->fd_limit > 0 ? b->fd_limit - SM_FD_RESERVE : (int64_t)1 << 30;
    if (avail < 32)
        avail = 32; /* a tiny limit: best effort; accept() backs off on EMFILE */
    int64_t conns = b->cfg.max_connections < avail / 2 ? b->cfg.max_connections : avail / 2;
    b->conn_fd_limit = (int32_t)conns;
    b->seg_fd_budget = (int32_t)(avail - conns > INT32_MAX ? INT32_MAX : avail - conns);
    sm_plog_fds_set_budget(b->seg_fd_budget);
    if (conns < b->cfg.max_connections)
        sm_info("the open-file limit (%lld) leaves room for %lld connections, fewer than "
                "max.connections (%d); raise it with ulimit -n (segment files get %d descriptors)",
                (long long)b->fd_limit, (long long)conns, b->cfg.max_connections,
                b->seg_fd_budget);
    else
        sm_info("open-file limit %lld: up to %d connections, %d descriptors for segment files "
                "(cold ones are closed and reopened on demand)",
                (long long)b->fd_limit, b->cfg.max_connections, b->seg_fd_budget);
}

static void on_signal(sm_io *io, uint32_t events)
{
    sm_broker *b = (sm_broker *)((char *)io - offsetof(sm_broker, signal_io));
    (void)events;
    struct signalfd_siginfo si;
    while (read(io->fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (!b->stopping)
            sm_info("received %s: shutting down", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        b->stopping = true;
    }
}

static void flush_done(sm_plog *l, int64_t durable, int rc, void *arg)
{
    sm_broker *b = arg;
    sm_partition *p = sm_plog_user(l);
    if (p)
        sm_partition_flushed(b, p, durable, rc);
}

static void on_flush(sm_io *io, uint32_t events)
{
    sm_broker *b = (sm_broker *)((char *)io - offsetof(sm_broker, flush_io));
    (void)events;
    sm_flusher_collect(b->flusher, flush_done, b);
}

/* There is no authentication yet: say so when the listener is reachable
 * from beyond this machine. */
static void warn_exposed(const sm_endpoint *ep, const struct sockaddr_storage *ss, int port)
{
    bool any = false, loopback = false;
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) {
        const struct in_addr *a = &((const struct sockaddr_in *)ss)->sin_addr;
        any = a->s_addr == htonl(INADDR_ANY);
        loopback = (ntohl(a->s_addr) >> 24) == 127;
        inet_ntop(AF_INET, a, host, sizeof host);
    } else if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        any = IN6_IS_ADDR_UNSPECIFIED(a);
        loopback = IN6_IS_ADDR_LOOPBACK(a) ||
                   (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
        inet_ntop(AF_INET6, a, host, sizeof host);
    }
    if (loopback)
        return;
    if (any)
        sm_warn("listener %s://%s:%d accepts connections on every interface with no "
                "authentication or encryption (samsa-broker has neither yet): anyone who can reach "
                "port %d can read, write and delete every topic; bind a loopback or private "
                "address, or firewall the port",
                ep->name, ep->host, port, port);
    else
        sm_warn("listener %s://%s:%d (%s) is not on loopback and has no authentication or "
                "encryption (samsa-broker has neither yet): anyone who can reach it can read, "
                "write and delete every topic",
                ep->name, ep->host, port, host);
}

static int open_listener(sm_broker *b, char *err, size_t errlen)
{
    const sm_endpoint *ep = &b->cfg.listener;
    char port[16];
    snprintf(port, sizeof port, "%d", ep->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(ep->host[0] ? ep->host : NULL, port, &hints, &res);
    if (gai)
        return sm_fail(err, errlen, SM_EINVAL, "listeners: cannot resolve '%s': %s", ep->host,
                       gai_strerror(gai));
    int fd = -1, last = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
            break;
        last = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return sm_fail(err, errlen, SM_EIO, "listeners: cannot listen on %s:%d: %s",
                       ep->host[0] ? ep->host : "*", ep->port, strerror(last));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    b->bound_port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                             : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    warn_exposed(ep, &ss, b->bound_port);
    b->listen_io.fd = fd;
    b->listen_io.on_event = on_accept;
    /* what clients are told to connect to */
    const sm_endpoint *adv = b->cfg.advertised.host[0] ? &b->cfg.advertised : ep;
    if (adv->host[0] && strcmp(adv->host, "0.0.0.0") && strcmp(adv->host, "::"))
        snprintf(b->adv_host, sizeof b->adv_host, "%s", adv->host);
    else if (gethostname(b->adv_host, sizeof b->adv_host))
        snprintf(b->adv_host, sizeof b->adv_host, "localhost");
    b->adv_port = adv == ep || adv->port == 0 ? b->bound_port : adv->port;
    return sm_loop_add(b->loop, &b->listen_io, EPOLLIN);
}

/* ---- housekeeping ----------------------------------------------------------------- */

/* Every second: idle connections; every log.retention.check.interval.ms:
 * retention (and the time-based roll of idle segments) on every log. */
static void housekeep(sm_timer *t)
{
    sm_broker *b = (sm_broker *)((char *)t - offsetof(sm_broker, housekeep_timer));
    int64_t mono = sm_mono_ms();
    if (mono - b->last_retention_ms >= b->cfg.retention_check_interval_ms) {
        b->last_retention_ms = mono;
        int64_t now = sm_wall_ms();
        const char *name;
        void *v;
        for (size_t it = 0; sm_map_next(&b->topics, &it, &name, &v);) {
            sm_topic *tp = v;
            for (int32_t i = 0; i < tp->npart; i++) {
                sm_plog_fds_trim(); /* housekeeping may open old segments of every log */
                int n = sm_plog_housekeep(tp->parts[i]->log, now);
                if (n > 0)
                    sm_info("retention: deleted %d segment(s) of %s-%d; log start offset now %lld",
                            n, tp->name, i, (long long)sm_plog_start_offset(tp->parts[i]->log));
            }
        }
    }
    if (mono - b->last_offsets_check_ms >= b->cfg.offsets_retention_check_interval_ms) {
        b->last_offsets_check_ms = mono;
        sm_offsets_housekeep(b);
    }
    /* idle: no request in flight and none completed for connections.max.idle.ms
     * (bytes of an unfinished frame do not count, nor does unread output) */
    for (sm_conn *c = b->conns, *next; c; c = next) {
        next = c->next;
        if (!c->rq_head && mono - c->last_active_ms > b->cfg.connections_max_idle_ms)
            sm_conn_close(c, "idle (connections.max.idle.ms)");
    }
    int64_t period = b->cfg.retention_check_interval_ms < 1000 ? b->cfg.retention_check_interval_ms
                                                                : 1000;
    sm_timer_arm(b->loop, t, mono + period);
}

/* ---- lifecycle ------------------------------------------------------------------ */

int sm_broker_init(sm_broker *b, char *err, size_t errlen)
{
    int rc;
    b->start_us = sm_mono_us();
    b->listen_io.fd = b->signal_io.fd = b->flush_io.fd = -1;
    sm_map_init(&b->topics);
    sm_map_init(&b->groups);
    sm_map_init(&b->conns_per_ip);
    sm_log_set_level((sm_log_level)b->cfg.log_level);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit(b);
    sm_timer_init(&b->accept_timer, accept_resume);

    if ((rc = sm_loop_new(&b->loop)) != SM_OK)
        return sm_fail(err, errlen, rc, "cannot create the event loop");
    if ((rc = prepare_log_dirs(b, err, errlen)) != SM_OK)
        return rc;
    if ((rc = load_meta(b, err, errlen)) != SM_OK)
        return rc;
    if ((rc = sm_flusher_new(&b->flusher, err, errlen)) != SM_OK)
        return rc;
    b->flush_io.fd = sm_flusher_fd(b->flusher);
    b->flush_io.on_event = on_flush;
    if (sm_loop_add(b->loop, &b->flush_io, EPOLLIN) != SM_OK)
        return sm_fail(err, errlen, SM_EIO, "epoll: %s", strerror(errno));
    if (!b->clean_start)
        sm_warn("the last shutdown was not clean: recovering partition logs");
    if ((rc = sm_topics_load(b, err, errlen)) != SM_OK)
        return rc;
    if ((rc = sm_offsets_open(b, err, errlen)) != SM_OK)
        return rc;
    if ((rc = sm_topics_finish_deletes(b, err, errlen)) != SM_OK)
        return rc;

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    b->signal_io.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    b->signal_io.on_event = on_signal;
    if (b->signal_io.fd < 0 || sm_loop_add(b->loop, &b->signal_io, EPOLLIN) != SM_OK)
        return sm_fail(err, errlen, SM_EIO, "signalfd: %s", strerror(errno));

    if ((rc = open_listener(b, err, errlen)) != SM_OK)
        return rc;
    b->last_retention_ms = b->last_offsets_check_ms = sm_mono_ms();
    sm_timer_init(&b->housekeep_timer, housekeep);
    sm_timer_arm(b->loop, &b->housekeep_timer, sm_mono_ms() + 1000);

    b->started = true;
    double ms = (double)(sm_mono_us() - b->start_us) / 1000.0;
    char dirs[1024] = "";
    for (int i = 0; i < b->cfg.n_log_dirs; i++)
        snprintf(dirs + strlen(dirs), sizeof dirs - strlen(dirs), "%s%s", i ? "," : "",
                 b->cfg.log_dirs[i]);
    sm_info("samsa-broker %s started in %.1f ms: listening on %s:%d (advertised as %s:%d), "
            "node.id %d, cluster.id %s, %zu topic(s), log.dirs %s",
            SAMSA_VERSION, ms, b->cfg.listener.host[0] ? b->cfg.listener.host : "0.0.0.0",
            b->bound_port, b->adv_host, b->adv_port, b->cfg.node_id, b->cluster_id,
            b->topics.len, dirs);
    return SM_OK;
}

static bool drained(sm_broker *b)
{
    for (sm_conn *c = b->conns; c; c = c->next)
        if (c->rq_head || c->oq_head)
            return false;
    return true;
}

int sm_broker_run(sm_broker *b)
{
    while (!b->stopping) {
        if (sm_loop_run_once(b->loop, 1000) < 0) {
            sm_error("epoll_wait: %s", strerror(errno));
            break;
        }
        sm_conns_service(b);
        sm_conns_reap(b);
    }
    /* stop accepting and reading; answer what is in flight */
    if (b->listen_io.fd >= 0) {
        sm_loop_del(b->loop, &b->listen_io);
        close(b->listen_io.fd);
        b->listen_io.fd = -1;
    }
    sm_conns_stop_reading(b);
    sm_groups_shutdown(b);
    const char *name;
    void *v;
    for (size_t it = 0; sm_map_next(&b->topics, &it, &name, &v);) {
        sm_topic *tp = v;
        for (int32_t i = 0; i < tp->npart; i++)
            sm_partition_detach_waiters(b, tp->parts[i], false);
    }
    if (b->offsets)
        sm_offsets_drain(b);
    int64_t deadline = sm_mono_ms() + SHUTDOWN_DRAIN_MS;
    sm_conns_service(b);
    while (!drained(b) && sm_mono_ms() < deadline) {
        sm_loop_run_once(b->loop, 100);
        sm_conns_service(b);
        sm_conns_reap(b);
    }
    while (b->conns)
        sm_conn_close(b->conns, "shutdown");
    b->ready = NULL; /* only closed connections can be left on it */
    sm_conns_reap(b);
    return SM_OK;
}

void sm_broker_release(sm_broker *b)
{
    if (b->loop) {
        sm_timer_cancel(b->loop, &b->housekeep_timer);
        sm_timer_cancel(b->loop, &b->accept_timer);
    }
    sm_offsets_close(b);
    for (int i = 0; i < b->ndeletes_pending; i++)
        free(b->deletes_pending[i]);
    free(b->deletes_pending);
    b->deletes_pending = NULL;
    b->ndeletes_pending = 0;
    bool synced = sm_topics_close_all(b) == SM_OK; /* fsyncs every log */
    if (b->flusher)
        sm_flusher_free(b->flusher);
    if (b->signal_io.fd >= 0)
        close(b->signal_io.fd);
    if (b->listen_io.fd >= 0)
        close(b->listen_io.fd);
    sm_loop_free(b->loop);
    sm_map_release(&b->topics);
    sm_map_release(&b->conns_per_ip);
    if (synced && b->started) {
        for (int i = 0; i < b->cfg.n_log_dirs; i++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s", b->cfg.log_dirs[i], CLEAN_MARKER);
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd >= 0) {
                fsync(fd);
                close(fd);
                sm_fsync_dir(b->cfg.log_dirs[i]);
            }
        }
    }
    sm_broker_config_release(&b->cfg);
}
