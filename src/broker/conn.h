/* conn.h: client connections and the request lifecycle (conn.c).
 *
 * Requests on a connection are decoded and handled in arrival order; a
 * handler may finish at once or later (a Produce with acks=all waits for
 * the flusher, a Fetch waits for data or max_wait_ms), and later requests
 * on the same connection are still handled meanwhile, but responses always
 * leave in request order, as Kafka clients require.
 *
 * A handler's request: sm_resp_begin, encode into req->w (and
 * sm_resp_add_slice for record bytes), then exactly one of sm_req_complete,
 * sm_req_complete_silent or sm_req_fail_connection, now or later.
 *
 * Threads: everything here runs on the broker's event-loop thread.
 *
 * Ownership: the connection owns its requests (its in-flight list) until
 * they are complete and their responses moved to its output queue; then it
 * frees them. When the connection closes under a pending request, conn
 * becomes NULL and its cancel hook, if set, is called: it unparks the
 * request and frees it; without a hook the request is freed when it
 * completes. A request's frame, arena and response chunks are its own and
 * go with it.
 *
 * Errors: a response that cannot be built (out of memory, an unreadable
 * segment) or a client that breaks the protocol closes the connection;
 * nothing here returns an error to the handler except sm_resp_add_slice
 * (SM_ENOMEM, SM_EIO: the response is then failed at completion). */
#ifndef SM_BROKER_CONN_H
#define SM_BROKER_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "broker/loop.h"
#include "proto/header.h"
#include "storage/log.h"

typedef struct sm_broker sm_broker;
typedef struct sm_conn sm_conn;
typedef struct sm_req sm_req;

/* ---- output ---------------------------------------------------------------- */

/* A piece of a response on a connection's output queue: bytes in memory, or
 * a range of a segment file (sent with sm_slice_send, zero-copy). */
typedef struct sm_chunk {
    struct sm_chunk *next;
    bool is_file;
    uint8_t *mem; /* owned; freed with the chunk */
    size_t len;
    size_t off;   /* bytes already sent */
    sm_slice slice;
} sm_chunk;

/* ---- requests -------------------------------------------------------------- */

struct sm_req {
    sm_req *next;    /* the connection's in-flight list, in arrival order */
    sm_conn *conn;   /* NULL once the connection is gone: the result is dropped */
    sm_broker *b;
    sm_req_hdr hdr;
    uint8_t *frame;  /* owned: the request bytes after Size */
    size_t frame_len;   /* counted in the broker's queued_bytes until the request is freed */
    bool frame_mapped;  /* frame is an mmap (a large request), not malloc'd */
    sm_rd body;      /* positioned at the request body */
    sm_arena arena;  /* decoded request and response structs */
    bool done;       /* the response is complete (or there is none: acks=0) */
    /* response under construction: chunks cut so far, then the buffer */
    sm_chunk *out_head, *out_tail;
    sm_wbuf w;
    int64_t out_len; /* bytes in cut chunks */
    /* a handler that finishes later sets these */
    void *pending;
    void (*cancel)(sm_req *req); /* the connection closed while pending */
};

/* Starts the response: Size placeholder and CorrelationId. */
void sm_resp_begin(sm_req *req);
/* Appends a file range to the response (takes over the slice's reference). */
int sm_resp_add_slice(sm_req *req, sm_slice *slice);
/* A copy of the C string s in the request's arena, for a response field
 * (SM_STR_NULL if the arena is exhausted). */
static inline sm_str sm_req_str(sm_req *req, const char *s)
{
    size_t n = strlen(s);
    char *p = sm_arena_strndup(&req->arena, s, n);
    return p ? (sm_str){p, (int32_t)n} : SM_STR_NULL;
}
/* Finishes the response (fills in Size) and hands it to the connection. */
void sm_req_complete(sm_req *req);
/* Finishes a request that has no response (acks=0). */
void sm_req_complete_silent(sm_req *req);
/* The client broke the protocol: log once, drop the connection. Frees req:
 * the caller must not touch it afterwards. */
void sm_req_fail_connection(sm_req *req, const char *why);
void sm_req_free(sm_req *req);

/* ---- connections ----------------------------------------------------------- */

struct sm_conn {
    sm_io io;
    sm_broker *b;
    sm_conn *prev, *next; /* the broker's connections (or its graveyard) */
    sm_conn *ready_next;  /* the broker's ready list */
    bool ready;
    uint64_t id;
    char ip[46];   /* the client's address (max.connections.per.ip counts by it) */
    char peer[64]; /* ip:port, for log lines */
    /* the client's software, from ApiVersions v3+ (KIP-511): "" until then */
    char software_name[64];
    char software_version[64];
    /* input: a buffer for small frames; a large frame is read straight into
     * its own allocation, reserved against queued.max.request.bytes first */
    uint8_t *ibuf;
    size_t ilen, icap;
    uint8_t *big;
    size_t big_len, big_got;
    bool big_mapped;
    int64_t big_reserved; /* queued bytes reserved for the large frame being read (or granted) */
    /* waiting for queued.max.request.bytes to free room for mem_want bytes */
    bool mem_wait;
    int64_t mem_want;
    sm_conn *mem_prev, *mem_next;
    /* requests being handled, oldest first */
    sm_req *rq_head, *rq_tail;
    int inflight;
    int64_t inflight_bytes;
    /* output */
    sm_chunk *oq_head, *oq_tail;
    int64_t oq_bytes;
    bool read_paused;
    /* when a request last arrived whole or the output queue last emptied
     * (connections.max.idle.ms counts from it while nothing is in flight) */
    int64_t last_active_ms;
};

/* Takes over fd, a new connection from ip (peer: "ip:port"), or closes it
 * when max.connections or the address's max.connections.per.ip is reached. */
void sm_conn_accept(sm_broker *b, int fd, const char *ip, const char *peer);
/* Closes the socket and lets go of its requests: finished ones are freed,
 * pending ones detached (see Ownership). The struct is freed by
 * sm_conns_reap after the iteration, so c stays readable until then. */
void sm_conn_close(sm_conn *c, const char *why);
/* Moves finished responses at the head of the in-flight list to the output
 * queue and marks the connection ready; nothing is written here. */
void sm_conn_pump(sm_conn *c);
/* Once per loop iteration: writes ready connections' output and parses the
 * frames they have buffered. */
void sm_conns_service(sm_broker *b);
/* Frees the connections closed during the iteration. */
void sm_conns_reap(sm_broker *b);
/* Shutdown: stop reading every connection (b->stopping is set). */
void sm_conns_stop_reading(sm_broker *b);

#endif
