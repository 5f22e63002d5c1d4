/* conn.c: client connections: framing, the ordered in-flight list, and the
 * output queue.
 *
 * Input: small frames are read in bulk into a per-connection buffer and
 * copied out one by one; a frame larger than that buffer (a big Produce) is
 * read straight into its own allocation. The Size field and API key are
 * checked before anything is allocated for a frame.
 *
 * Output: memory chunks go out with writev, file ranges with storage's
 * sm_slice_send (sendfile: zero-copy), in request order. Small file ranges
 * are copied into the response instead, so a typical fetch answer leaves
 * in one writev.
 *
 * Re-entrancy: finishing a request never writes or reads anything itself.
 * It only moves finished responses to the output queue and marks the
 * connection ready; the broker services ready connections once per loop
 * iteration (sm_conns_service): write, then parse frames already buffered.
 * So a handler never runs inside another handler, and writes are batched.
 * A closed connection is unlinked at once and freed after the iteration.
 *
 * Back-pressure: a connection stops being read while it has too many
 * requests in flight, too many request bytes held, or too much output the
 * client has not read; the broker's memory per connection is bounded.
 *
 * Request memory, broker-wide (queued.max.request.bytes): every request's
 * frame counts until the request is freed. A frame too large for the
 * connection's buffer reserves its whole size before anything is allocated
 * for it; when that would pass the limit the connection waits, unread, in a
 * queue that is served oldest first as memory frees, so a frame once begun
 * can always finish (reserving as bytes arrive could deadlock half-read
 * frames). Small frames are always read: each connection holds at most
 * MAX_INFLIGHT of them, and they keep Metadata, heartbeats and small
 * produces flowing while large ones wait. A frame of FRAME_MAP_MIN or more
 * is an anonymous mapping, so memory is taken as its bytes arrive, not at
 * its first byte, and given back at once when it is freed. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "broker/api.h"
#include "broker/broker.h"
#include "broker/conn.h"
#include "proto/kafka.h"

#define IBUF_SIZE (64 * 1024)
#define MAX_INFLIGHT 64
#define MAX_INFLIGHT_BYTES (16LL << 20) /* request bytes held; one bigger frame still passes */
#define OUT_HIGH (4LL << 20)            /* stop reading above this much unsent output */
#define OUT_LOW (1LL << 20)             /* and resume below this */
#define INLINE_SLICE_MAX (32 * 1024)    /* file ranges up to this are copied, not sendfile'd */
#define REQ_HDR_MIN 10 /* ApiKey, ApiVersion, CorrelationId, ClientId length */
#define FRAME_MAP_MIN (1 << 20)         /* frames this large are mmap'd, backed as they arrive */

static void conn_on_event(sm_io *io, uint32_t events);
static void conn_process_input(sm_conn *c);
static void conn_write(sm_conn *c);

/* ---- requests and responses ------------------------------------------------ */

void sm_resp_begin(sm_req *req)
{
    sm_wbuf_init(&req->w, 256);
    sm_wbuf_i32(&req->w, 0); /* Size, filled in by sm_req_complete */
    sm_resp_hdr_encode(&req->w, &req->hdr); /* v0, or v1 when flexible */
}

static void req_push_chunk(sm_req *req, sm_chunk *ch)
{
    if (req->out_tail)
        req->out_tail->next = ch;
    else
        req->out_head = ch;
    req->out_tail = ch;
    req->out_len += (int64_t)(ch->is_file ? (size_t)ch->slice.len : ch->len);
}

/* Moves the bytes written so far into a memory chunk. */
static int req_cut(sm_req *req)
{
    if (req->w.oom)
        return SM_ENOMEM;
    if (req->w.len == 0)
        return SM_OK;
    sm_chunk *ch = calloc(1, sizeof *ch);
    if (!ch)
        return SM_ENOMEM;
    ch->mem = sm_wbuf_detach(&req->w, &ch->len);
    req_push_chunk(req, ch);
    return SM_OK;
}

int sm_resp_add_slice(sm_req *req, sm_slice *slice)
{
    if (slice->len <= INLINE_SLICE_MAX) {
        /* small: copy it in, one writev beats a sendfile per partition */
        ssize_t want = (ssize_t)slice->len;
        uint8_t *dst = want ? sm_wbuf_room(&req->w, (size_t)want) : NULL;
        ssize_t got = dst ? sm_slice_read(slice, 0, dst, (size_t)want) : 0;
        sm_slice_release(slice);
        if ((want && !dst) || got != want) {
            req->w.oom = true; /* the frame cannot be completed: close the connection */
            return SM_EIO;
        }
        return SM_OK;
    }
    sm_chunk *ch = NULL;
    if (req_cut(req) != SM_OK || !(ch = calloc(1, sizeof *ch))) {
        sm_slice_release(slice);
        req->w.oom = true;
        return SM_ENOMEM;
    }
    ch->is_file = true;
    ch->slice = *slice;
    slice->seg = NULL;
    req_push_chunk(req, ch);
    return SM_OK;
}

static void chunk_free(sm_chunk *ch)
{
    if (ch->is_file)
        sm_slice_release(&ch->slice);
    free(ch->mem);
    free(ch);
}

static void chunks_free(sm_chunk *ch)
{
    while (ch) {
        sm_chunk *next = ch->next;
        chunk_free(ch);
        ch = next;
    }
}

/* ---- request memory (queued.max.request.bytes) ---------------------------- */

static uint8_t *frame_alloc(size_t len, bool *mapped)
{
    *mapped = false;
    if (len < FRAME_MAP_MIN)
        return malloc(len);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    *mapped = true;
    return p;
}

static void frame_free(uint8_t *p, size_t len, bool mapped)
{
    if (mapped)
        munmap(p, len);
    else
        free(p);
}

static void conn_mark_ready(sm_conn *c)
{
    if (!c->ready) {
        c->ready = true;
        c->ready_next = c->b->ready;
        c->b->ready = c;
    }
}

static void mem_wait_unlink(sm_conn *c)
{
    sm_broker *b = c->b;
    if (c->mem_prev)
        c->mem_prev->mem_next = c->mem_next;
    else
        b->mem_head = c->mem_next;
    if (c->mem_next)
        c->mem_next->mem_prev = c->mem_prev;
    else
        b->mem_tail = c->mem_prev;
    c->mem_prev = c->mem_next = NULL;
    c->mem_wait = false;
}

/* Reserves room for a large frame of len bytes. False: c now waits in the
 * queue, unread, until mem_release grants it (then big_reserved == len). */
static bool mem_reserve(sm_conn *c, int64_t len)
{
    sm_broker *b = c->b;
    int64_t limit = b->cfg.queued_max_request_bytes;
    if (c->big_reserved == len)
        return true; /* granted while it waited */
    if (limit <= 0 || (!b->mem_head && b->queued_bytes + len <= limit)) {
        b->queued_bytes += len;
        c->big_reserved = len;
        return true;
    }
    sm_log_limited(SM_LOG_WARN,
                   "queued.max.request.bytes (%lld) reached with %lld bytes of requests held: not "
                   "reading %s's %lld-byte request until memory frees",
                   (long long)limit, (long long)b->queued_bytes, c->peer, (long long)len);
    c->mem_wait = true;
    c->mem_want = len;
    c->mem_next = NULL;
    c->mem_prev = b->mem_tail;
    if (b->mem_tail)
        b->mem_tail->mem_next = c;
    else
        b->mem_head = c;
    b->mem_tail = c;
    return false;
}

/* Request bytes were released: grant waiting connections their frames, oldest
 * first (a large one is not passed by smaller ones behind it). Only marks
 * them ready; sm_conns_service reads them. */
static void mem_release(sm_broker *b, int64_t len)
{
    b->queued_bytes -= len;
    while (b->mem_head && b->queued_bytes + b->mem_head->mem_want <= b->cfg.queued_max_request_bytes) {
        sm_conn *c = b->mem_head;
        mem_wait_unlink(c);
        b->queued_bytes += c->mem_want;
        c->big_reserved = c->mem_want;
        conn_mark_ready(c);
    }
}

void sm_req_free(sm_req *req)
{
    chunks_free(req->out_head);
    sm_wbuf_release(&req->w);
    sm_arena_release(&req->arena);
    if (req->frame)
        frame_free(req->frame, req->frame_len, req->frame_mapped);
    if (req->b)
        mem_release(req->b, (int64_t)req->frame_len);
    free(req);
}

static void req_finish(sm_req *req)
{
    req->done = true;
    if (!req->conn) {
        sm_req_free(req);
        return;
    }
    sm_conn_pump(req->conn);
}

void sm_req_complete(sm_req *req)
{
    if (req->w.oom || req_cut(req) != SM_OK) {
        sm_log_limited(SM_LOG_ERROR, "cannot build a %s response (out of memory or an unreadable "
                       "segment); closing %s",
                       sm_api_name(req->hdr.api_key), req->conn ? req->conn->peer : "-");
        req->done = true;
        if (req->conn)
            sm_conn_close(req->conn, "response failed"); /* frees req */
        else
            sm_req_free(req);
        return;
    }
    if (req->out_head)
        sm_put_be32(req->out_head->mem, (uint32_t)(req->out_len - 4));
    req_finish(req);
}

void sm_req_complete_silent(sm_req *req)
{
    chunks_free(req->out_head);
    req->out_head = req->out_tail = NULL;
    req->out_len = 0;
    sm_wbuf_release(&req->w);
    req_finish(req);
}

void sm_req_fail_connection(sm_req *req, const char *why)
{
    sm_conn *c = req->conn;
    req->done = true;
    if (!c) {
        sm_req_free(req);
        return;
    }
    sm_log_limited(SM_LOG_WARN,
                   "closing connection %s (client id '%.*s', software '%s' '%s'): %s (key %d) v%d: "
                   "%s",
                   c->peer, req->hdr.client_id.len > 0 ? (int)req->hdr.client_id.len : 0,
                   req->hdr.client_id.len > 0 ? req->hdr.client_id.p : "", c->software_name,
                   c->software_version, sm_api_name(req->hdr.api_key), req->hdr.api_key,
                   req->hdr.api_version, why);
    sm_conn_close(c, why); /* frees req, which is done and on c's list */
}

/* ---- connection lifecycle -------------------------------------------------- */

/* Connections from one address (max.connections.per.ip). */
static intptr_t conns_from(sm_broker *b, const char *ip)
{
    return (intptr_t)sm_map_get(&b->conns_per_ip, ip, strlen(ip));
}

static int conns_from_add(sm_broker *b, const char *ip, intptr_t delta)
{
    intptr_t n = conns_from(b, ip) + delta;
    if (n > 0)
        return sm_map_put(&b->conns_per_ip, ip, strlen(ip), (void *)n);
    sm_map_del(&b->conns_per_ip, ip, strlen(ip));
    return SM_OK;
}

void sm_conn_accept(sm_broker *b, int fd, const char *ip, const char *peer)
{
    if (b->nconns >= b->cfg.max_connections) {
        sm_log_limited(SM_LOG_WARN, "refusing connection from %s: max.connections (%d) reached",
                       peer, b->cfg.max_connections);
        close(fd);
        return;
    }
    if (b->nconns >= b->conn_fd_limit) {
        sm_log_limited(SM_LOG_WARN,
                       "refusing connection from %s: the open-file limit (%lld) leaves room for %d "
                       "connections (raise it with ulimit -n)",
                       peer, (long long)b->fd_limit, b->conn_fd_limit);
        close(fd);
        return;
    }
    int32_t per_ip = sm_broker_config_ip_limit(&b->cfg, ip);
    if (conns_from(b, ip) >= per_ip) {
        sm_log_limited(SM_LOG_WARN,
                       "refusing connection from %s: max.connections.per.ip (%d) reached for %s",
                       peer, per_ip, ip);
        close(fd);
        return;
    }
    sm_conn *c = calloc(1, sizeof *c);
    if (!c || conns_from_add(b, ip, 1) != SM_OK) {
        free(c);
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->io.fd = fd;
    c->io.on_event = conn_on_event;
    c->b = b;
    c->id = ++b->next_conn_id;
    snprintf(c->ip, sizeof c->ip, "%s", ip);
    snprintf(c->peer, sizeof c->peer, "%s", peer);
    c->last_active_ms = sm_mono_ms();
    if (sm_loop_add(b->loop, &c->io, EPOLLIN) != SM_OK) {
        conns_from_add(b, ip, -1);
        close(fd);
        free(c);
        return;
    }
    c->next = b->conns;
    if (b->conns)
        b->conns->prev = c;
    b->conns = c;
    b->nconns++;
    sm_debug("connection %llu from %s", (unsigned long long)c->id, peer);
}

static void conn_free(sm_conn *c)
{
    free(c->ibuf);
    if (c->big)
        frame_free(c->big, c->big_len, c->big_mapped);
    chunks_free(c->oq_head);
    free(c);
}

void sm_conn_close(sm_conn *c, const char *why)
{
    if (c->io.fd < 0)
        return;
    sm_debug("closing connection %llu (%s): %s", (unsigned long long)c->id, c->peer, why);
    sm_broker *b = c->b;
    sm_loop_del(b->loop, &c->io);
    close(c->io.fd);
    c->io.fd = -1;
    /* its frame being read (or the room granted for it) is released now,
     * the memory when it is freed after this iteration */
    if (c->mem_wait)
        mem_wait_unlink(c);
    if (c->big_reserved) {
        int64_t r = c->big_reserved;
        c->big_reserved = 0;
        mem_release(b, r);
    }
    /* detach in-flight requests: finished ones go now, pending ones are
     * told so that their owner (a wait list) drops them */
    sm_req *r = c->rq_head;
    c->rq_head = c->rq_tail = NULL;
    c->inflight = 0;
    c->inflight_bytes = 0;
    while (r) {
        sm_req *next = r->next;
        r->next = NULL;
        r->conn = NULL;
        if (r->done)
            sm_req_free(r);
        else if (r->cancel)
            r->cancel(r);
        r = next;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        b->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    b->nconns--;
    conns_from_add(b, c->ip, -1);
    c->prev = NULL;
    c->next = b->graveyard;
    b->graveyard = c;
}

void sm_conns_reap(sm_broker *b)
{
    while (b->graveyard) {
        sm_conn *c = b->graveyard;
        b->graveyard = c->next;
        conn_free(c);
    }
}

/* Whether c may read more now. */
static bool conn_can_read(const sm_conn *c)
{
    if (c->b->stopping || c->mem_wait || c->inflight >= MAX_INFLIGHT ||
        c->inflight_bytes >= MAX_INFLIGHT_BYTES)
        return false;
    /* hysteresis on unread output */
    return c->read_paused ? c->oq_bytes < OUT_LOW : c->oq_bytes < OUT_HIGH;
}

static void conn_update_events(sm_conn *c)
{
    if (c->io.fd < 0)
        return;
    c->read_paused = !conn_can_read(c);
    uint32_t ev = (c->read_paused ? 0 : EPOLLIN) | (c->oq_head ? EPOLLOUT : 0);
    sm_loop_mod(c->b->loop, &c->io, ev);
}

void sm_conns_stop_reading(sm_broker *b)
{
    for (sm_conn *c = b->conns; c; c = c->next)
        conn_update_events(c);
}

/* ---- input ----------------------------------------------------------------- */

static bool frame_size_ok(sm_conn *c, int32_t size)
{
    if (size < REQ_HDR_MIN || size > c->b->cfg.socket_request_max_bytes) {
        sm_log_limited(SM_LOG_WARN,
                       "closing connection %s: request size %d is outside [%d, %d] "
                       "(socket.request.max.bytes)",
                       c->peer, size, REQ_HDR_MIN, c->b->cfg.socket_request_max_bytes);
        sm_conn_close(c, "bad frame size");
        return false;
    }
    return true;
}

/* Checks ApiKey from the first bytes of a frame, before a large allocation
 * is made for it. */
static bool frame_head_ok(sm_conn *c, const uint8_t *p)
{
    int16_t key = (int16_t)sm_be16(p);
    if (!sm_api_find(key) && !sm_api_find_unimplemented(key)) {
        sm_log_limited(SM_LOG_WARN, "closing connection %s: unknown API key %d", c->peer, key);
        sm_conn_close(c, "unknown api key");
        return false;
    }
    return true;
}

/* reserved: the frame's bytes are already counted (a large frame's
 * reservation passes to the request); a small one is counted now. */
static void dispatch(sm_conn *c, uint8_t *frame, size_t len, bool mapped, bool reserved)
{
    sm_req *req = calloc(1, sizeof *req);
    if (!req) {
        frame_free(frame, len, mapped);
        if (reserved)
            mem_release(c->b, (int64_t)len);
        sm_conn_close(c, "out of memory");
        return;
    }
    if (!reserved)
        c->b->queued_bytes += (int64_t)len;
    /* a whole request arrived: the client is not idle (a frame trickling in
     * byte by byte does not count until it is whole) */
    c->last_active_ms = sm_mono_ms();
    req->frame = frame;
    req->frame_len = len;
    req->frame_mapped = mapped;
    req->conn = c;
    req->b = c->b;
    sm_arena_init(&req->arena);
    sm_rd_init(&req->body, frame, len);
    /* queue first, so that a handler that completes at once finds it */
    if (c->rq_tail)
        c->rq_tail->next = req;
    else
        c->rq_head = req;
    c->rq_tail = req;
    c->inflight++;
    c->inflight_bytes += (int64_t)len;

    if (sm_req_hdr_decode(&req->body, &req->hdr) != SM_OK) {
        sm_req_fail_connection(req, "truncated request header");
        return;
    }
    const sm_api_def *def = sm_api_find(req->hdr.api_key);
    if (!def)
        def = sm_api_find_unimplemented(req->hdr.api_key);
    if (!def) {
        sm_req_fail_connection(req, "unknown API key");
        return;
    }
    if (req->hdr.api_version < def->min_version || req->hdr.api_version > def->max_version) {
        if (req->hdr.api_key == SM_API_API_VERSIONS) {
            /* answered in the v0 shape so the client can read our range */
            sm_handle_api_versions(req);
            return;
        }
        char why[96];
        snprintf(why, sizeof why, "unsupported version (we speak v%d-v%d)", def->min_version,
                 def->max_version);
        sm_req_fail_connection(req, why);
        return;
    }
    def->handle(req);
}

/* Parses whole frames out of ibuf, and starts reading a large frame into
 * its own buffer if one begins. Never called re-entrantly. */
static void conn_process_input(sm_conn *c)
{
    size_t pos = 0;
    while (c->io.fd >= 0 && conn_can_read(c) && !c->big && c->ilen - pos >= 4) {
        int32_t size = (int32_t)sm_be32(c->ibuf + pos);
        if (!frame_size_ok(c, size))
            return;
        size_t avail = c->ilen - pos - 4;
        if (avail >= 2 && !frame_head_ok(c, c->ibuf + pos + 4))
            return;
        if (avail >= (size_t)size) {
            uint8_t *frame = malloc((size_t)size);
            if (!frame) {
                sm_conn_close(c, "out of memory");
                return;
            }
            memcpy(frame, c->ibuf + pos + 4, (size_t)size);
            pos += 4 + (size_t)size;
            dispatch(c, frame, (size_t)size, false, false);
            continue;
        }
        if ((size_t)size + 4 > c->icap) {
            if (avail < 2)
                break; /* wait until the API key can be checked */
            if (!mem_reserve(c, size))
                break; /* waits, unread, for room (queued.max.request.bytes) */
            c->big = frame_alloc((size_t)size, &c->big_mapped);
            if (!c->big) {
                sm_conn_close(c, "out of memory"); /* releases the reservation */
                return;
            }
            c->big_len = (size_t)size;
            c->big_got = avail;
            memcpy(c->big, c->ibuf + pos + 4, avail);
            pos = c->ilen;
        }
        break;
    }
    if (c->io.fd < 0)
        return;
    if (pos) {
        memmove(c->ibuf, c->ibuf + pos, c->ilen - pos);
        c->ilen -= pos;
    }
    conn_update_events(c);
}

static void conn_read(sm_conn *c)
{
    if (!c->ibuf) {
        c->ibuf = malloc(IBUF_SIZE);
        if (!c->ibuf) {
            sm_conn_close(c, "out of memory");
            return;
        }
        c->icap = IBUF_SIZE;
    }
    for (int rounds = 0; rounds < 16 && c->io.fd >= 0 && conn_can_read(c); rounds++) {
        ssize_t n;
        size_t want;
        if (c->big) {
            want = c->big_len - c->big_got;
            n = read(c->io.fd, c->big + c->big_got, want);
            if (n > 0) {
                c->big_got += (size_t)n;
                if (c->big_got == c->big_len) {
                    uint8_t *frame = c->big;
                    size_t len = c->big_len;
                    bool mapped = c->big_mapped;
                    c->big = NULL;
                    c->big_len = c->big_got = 0;
                    c->big_mapped = false;
                    c->big_reserved = 0; /* the request holds it now */
                    dispatch(c, frame, len, mapped, true);
                    if (c->io.fd >= 0)
                        conn_process_input(c);
                }
            }
        } else {
            want = c->icap - c->ilen;
            n = read(c->io.fd, c->ibuf + c->ilen, want);
            if (n > 0) {
                c->ilen += (size_t)n;
                conn_process_input(c);
            }
        }
        if (n == 0) {
            sm_conn_close(c, "peer closed");
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR)
                continue;
            sm_conn_close(c, strerror(errno));
            return;
        }
        if ((size_t)n < want)
            return; /* the socket is drained: skip the read that would say EAGAIN */
    }
}

/* ---- output ---------------------------------------------------------------- */

static void conn_write(sm_conn *c)
{
    while (c->io.fd >= 0 && c->oq_head) {
        sm_chunk *ch = c->oq_head;
        ssize_t n;
        if (!ch->is_file) {
            struct iovec iov[64];
            int cnt = 0;
            for (sm_chunk *x = ch; x && !x->is_file && cnt < 64; x = x->next) {
                iov[cnt].iov_base = x->mem + x->off;
                iov[cnt].iov_len = x->len - x->off;
                cnt++;
            }
            n = writev(c->io.fd, iov, cnt);
            if (n > 0) {
                c->oq_bytes -= n;
                size_t left = (size_t)n;
                while (left && c->oq_head) {
                    sm_chunk *x = c->oq_head;
                    size_t take = x->len - x->off < left ? x->len - x->off : left;
                    x->off += take;
                    left -= take;
                    if (x->off == x->len) {
                        c->oq_head = x->next;
                        chunk_free(x);
                    }
                }
                if (!c->oq_head) {
                    c->oq_tail = NULL;
                    c->last_active_ms = sm_mono_ms(); /* every response so far delivered */
                }
                continue;
            }
        } else {
            n = sm_slice_send(&ch->slice, (int64_t)ch->off, c->io.fd);
            if (n > 0) {
                c->oq_bytes -= n;
                ch->off += (size_t)n;
                if (ch->off == (size_t)ch->slice.len) {
                    c->oq_head = ch->next;
                    if (!c->oq_head) {
                        c->oq_tail = NULL;
                        c->last_active_ms = sm_mono_ms();
                    }
                    chunk_free(ch);
                }
                continue;
            }
            if (n == 0) {
                /* the file is shorter than promised: the frame cannot be completed */
                sm_log_limited(SM_LOG_ERROR, "segment shorter than expected while sending to %s",
                               c->peer);
                sm_conn_close(c, "short segment");
                return;
            }
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        if (errno == EINTR)
            continue;
        sm_conn_close(c, strerror(errno));
        return;
    }
    conn_update_events(c);
}

void sm_conn_pump(sm_conn *c)
{
    if (c->io.fd < 0)
        return;
    while (c->rq_head && c->rq_head->done) {
        sm_req *r = c->rq_head;
        c->rq_head = r->next;
        if (!c->rq_head)
            c->rq_tail = NULL;
        c->inflight--;
        c->inflight_bytes -= (int64_t)r->frame_len;
        if (r->out_head) {
            if (c->oq_tail)
                c->oq_tail->next = r->out_head;
            else
                c->oq_head = r->out_head;
            c->oq_tail = r->out_tail;
            c->oq_bytes += r->out_len;
            r->out_head = r->out_tail = NULL;
        }
        r->conn = NULL;
        sm_req_free(r);
    }
    conn_mark_ready(c);
}

void sm_conns_service(sm_broker *b)
{
    while (b->ready) {
        sm_conn *c = b->ready;
        b->ready = c->ready_next;
        c->ready = false;
        c->ready_next = NULL;
        if (c->io.fd < 0)
            continue;
        conn_write(c);
        /* frames left in the buffer while reading was paused */
        if (c->io.fd >= 0 && c->ilen && !c->big)
            conn_process_input(c);
    }
}

static void conn_on_event(sm_io *io, uint32_t events)
{
    sm_conn *c = (sm_conn *)io;
    if (events & EPOLLIN)
        conn_read(c);
    if (c->io.fd >= 0 && (events & (EPOLLHUP | EPOLLERR))) {
        /* reset, or both directions shut: nothing more can be delivered */
        sm_conn_close(c, (events & EPOLLERR) ? "socket error" : "hang-up");
        return;
    }
    if (c->io.fd >= 0 && (events & EPOLLOUT))
        conn_write(c);
}
