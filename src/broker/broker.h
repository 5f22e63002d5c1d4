/* broker.h: samsa-broker's internals, shared by the broker's modules.
 *
 * One event-loop thread owns every socket, topic and partition. Requests
 * on a connection are decoded and handled in arrival order; a handler may
 * finish at once or later (a Produce with acks=all waits for the flusher, a
 * Fetch waits for data or max_wait_ms), and later requests on the same
 * connection are still handled meanwhile, but responses always leave in
 * request order, as Kafka clients require. */
#ifndef SM_BROKER_H
#define SM_BROKER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/map.h"
#include "broker/config.h"
#include "broker/loop.h"
#include "proto/header.h"
#include "proto/kafka.h"
#include "storage/flush.h"
#include "storage/log.h"

typedef struct sm_broker sm_broker;
typedef struct sm_conn sm_conn;
typedef struct sm_req sm_req;
typedef struct sm_topic sm_topic;
typedef struct sm_partition sm_partition;
typedef struct sm_offsets sm_offsets;

#include "broker/partition.h"

/* ---- output ---------------------------------------------------------------- */

/* A piece of a response on a connection's output queue: bytes in memory, or
 * a range of a segment file sent with sendfile(2). */
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

/* ---- topics and partitions ------------------------------------------------ */

typedef struct sm_topic_cfg {
    sm_log_config log;
    int32_t max_message_bytes;
    bool log_append_time;
    int64_t ts_before_max_ms; /* message.timestamp.before.max.ms */
    int64_t ts_after_max_ms;  /* message.timestamp.after.max.ms */
} sm_topic_cfg;

struct sm_topic {
    char *name;
    int32_t npart;
    sm_partition **parts;
    sm_props overrides; /* topic-level configs set by CreateTopics/AlterConfigs */
    sm_topic_cfg cfg;   /* effective values */
};

sm_topic *sm_topic_find(sm_broker *b, sm_str name);
/* Creates a topic (validate_only: checks only). configs: name/value pairs.
 * Returns a Kafka error code; *msg gets a human message for errors. */
int16_t sm_topic_create(sm_broker *b, sm_str name, int32_t partitions, int16_t replication,
                        const sm_props *configs, bool validate_only, char *msg, size_t msglen,
                        sm_topic **out);
int16_t sm_topic_delete(sm_broker *b, sm_topic *t);
int16_t sm_topic_add_partitions(sm_broker *b, sm_topic *t, int32_t total, bool validate_only,
                                char *msg, size_t msglen);
/* Validates and applies topic configs (AlterConfigs replaces the whole set). */
int16_t sm_topic_set_configs(sm_broker *b, sm_topic *t, const sm_props *configs,
                             bool validate_only, char *msg, size_t msglen);
/* What one request may still auto-create: a Metadata or Produce request
 * creates topics until it has created samsa.auto.create.max.partitions.per.request
 * partitions (the first topic always); the other new topics it names are
 * answered UNKNOWN_TOPIC_OR_PARTITION, as Kafka answers a topic whose
 * creation it has passed to the controller, and the client's retry creates
 * them. One creation is a directory and files per partition: bounding it
 * keeps one request from stalling the broker or filling the disk at once. */
typedef struct sm_autocreate {
    int32_t partitions_left;
    int32_t topics_created;
    int32_t topics_held; /* answered UNKNOWN_TOPIC_OR_PARTITION for want of room */
} sm_autocreate;

void sm_autocreate_init(sm_broker *b, sm_autocreate *ac);
/* Logs (once per request, rate-limited) that some new topics were held. */
void sm_autocreate_report(sm_req *req, const sm_autocreate *ac);

/* Auto-creation on Metadata/Produce: returns the topic, or NULL with *err set
 * to the Kafka error to report (UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC_EXCEPTION).
 * ac: the request's allowance (it is charged for what is created). */
sm_topic *sm_topic_get_or_autocreate(sm_broker *b, sm_str name, bool allow, sm_autocreate *ac,
                                     int16_t *err);
/* Topic configs with effective values for DescribeConfigs; source is
 * Kafka's ConfigSource (1 topic override, 5 default, 4 static broker). */
typedef void (*sm_topic_config_fn)(const char *name, const char *value, int source,
                                   bool read_only, void *arg);
void sm_topic_config_visit(sm_broker *b, sm_topic *t, sm_topic_config_fn fn, void *arg);
int sm_topics_load(sm_broker *b, char *err, size_t errlen);
/* Start-up, once the offsets store is open: the committed offsets of the
 * topics whose deletion a crash cut short (finished by sm_topics_load) are
 * dropped durably, then those deletions' records are cleared. */
int sm_topics_finish_deletes(sm_broker *b, char *err, size_t errlen);
/* fsyncs and closes every log; returns SM_OK if every sync succeeded. */
int sm_topics_close_all(sm_broker *b);

/* ---- the broker ------------------------------------------------------------ */

/* Descriptors. A partition holds none while it is cold: storage opens
 * segment files on demand within a budget. The open-file limit is split:
 * SM_FD_RESERVE for the broker's own files and files opened for a moment
 * (listener, epoll, signalfd, eventfd, a directory to fsync, a recovery
 * point, a config or checkpoint file), then half of the rest at most for
 * connections (max.connections, if lower), the remainder for segment
 * files. A hot partition (appended to, fetched from) uses
 * SM_FDS_PER_PARTITION: its active segment's .log, .index and .timeindex. */
#define SM_FD_RESERVE 64
#define SM_FDS_PER_PARTITION 3

typedef struct sm_api_def {
    int16_t key;
    int16_t min_version;
    int16_t max_version;
    void (*handle)(sm_req *req);
} sm_api_def;

struct sm_broker {
    sm_broker_config cfg;
    sm_loop *loop;
    sm_io listen_io;
    sm_io signal_io;
    sm_io flush_io;
    sm_flusher *flusher;
    sm_map topics;
    sm_map groups;       /* group id -> sm_group (group.h) */
    sm_offsets *offsets; /* the committed-offsets store (offsets.c) */
    sm_conn *conns;
    int nconns;
    sm_map conns_per_ip; /* address -> its connection count, as (void *)(intptr_t) */
    int64_t queued_bytes;             /* request bytes held: frames in flight and reserved */
    sm_conn *mem_head, *mem_tail;     /* connections waiting for room, oldest first */
    int32_t npartitions; /* open partition logs */
    int64_t fd_limit;    /* RLIMIT_NOFILE, raised to the hard limit at start (0: none) */
    int32_t conn_fd_limit; /* connections the descriptors leave room for */
    int32_t seg_fd_budget; /* descriptors for segment files (sm_plog_fds_set_budget) */
    int64_t next_pid, pid_block_end; /* producer ids reserved on disk */
    sm_conn *ready;     /* connections with output to write or input to parse */
    sm_conn *graveyard; /* closed this iteration, freed after it */
    uint64_t next_conn_id;
    char cluster_id[32];
    char adv_host[256];
    int adv_port;
    int bound_port;
    bool stopping;
    bool clean_start; /* the last shutdown was clean */
    bool topic_change_unfinished; /* a topic change's record could not be cleared: no new
                                     changes until a restart finishes it (topics.c) */
    char **deletes_pending; /* records of deletions finished at start-up whose committed
                               offsets are dropped once the offsets store is open */
    int ndeletes_pending;
    bool started;     /* init finished: shutdown may mark the log dirs clean */
    sm_timer housekeep_timer;
    sm_timer accept_timer; /* re-enables accepting after EMFILE */
    int64_t last_retention_ms; /* monotonic */
    int64_t last_offsets_check_ms;
    int64_t start_us;
};

int sm_broker_init(sm_broker *b, char *err, size_t errlen);
/* Runs until SIGTERM/SIGINT; then stops accepting, answers in-flight
 * requests, flushes every log and returns. */
int sm_broker_run(sm_broker *b);
void sm_broker_release(sm_broker *b);

/* The API table (api.c): the entry for key, or NULL; every entry, *n of them. */
#define SM_API_MAX_DEFS 64 /* api.c asserts the table fits */
const sm_api_def *sm_api_find(int16_t key);
/* An API Kafka defines that the broker does not implement but answers with
 * its error response (never advertised), or NULL. */
const sm_api_def *sm_api_find_unimplemented(int16_t key);
const sm_api_def *sm_api_list(int *n);

/* Handlers, one per API (h_*.c). */
void sm_handle_api_versions(sm_req *req);
void sm_handle_metadata(sm_req *req);
void sm_handle_produce(sm_req *req);
void sm_handle_fetch(sm_req *req);
void sm_handle_list_offsets(sm_req *req);
void sm_handle_create_topics(sm_req *req);
void sm_handle_delete_topics(sm_req *req);
void sm_handle_create_partitions(sm_req *req);
void sm_handle_delete_records(sm_req *req);
void sm_handle_describe_configs(sm_req *req);
void sm_handle_alter_configs(sm_req *req);
void sm_handle_incremental_alter_configs(sm_req *req);
void sm_handle_describe_acls(sm_req *req);
void sm_handle_create_acls(sm_req *req);
void sm_handle_delete_acls(sm_req *req);
void sm_handle_describe_cluster(sm_req *req);
void sm_handle_describe_log_dirs(sm_req *req);
void sm_handle_list_partition_reassignments(sm_req *req);
void sm_handle_describe_producers(sm_req *req);
void sm_handle_unimplemented(sm_req *req);

/* Idempotent producers (idempotence.c). sm_idem_check answers NONE (append),
 * DUPLICATE_SEQUENCE_NUMBER (already appended at *dup_base with MaxTimestamp
 * *dup_ts: answer success with that offset, and that time as the
 * log_append_time, as Kafka does) or the Kafka error to return. */
struct sm_batch_hdr;
int16_t sm_idem_check(sm_partition *p, const struct sm_batch_hdr *h, int64_t *dup_base,
                      int64_t *dup_ts);
/* Records the batch with header h just appended at base_offset (if idempotent). */
void sm_idem_appended(sm_partition *p, const struct sm_batch_hdr *h, int64_t base_offset);
void sm_idem_free(sm_partition *p);
/* Calls fn for every producer p keeps state for (rebuilding it from the log
 * first if no idempotent batch has come since start-up): its id, epoch, last
 * sequence and the MaxTimestamp of its last batch (-1 if none is kept).
 * SM_ENOMEM if the state cannot be made. */
typedef void (*sm_idem_visit_fn)(int64_t producer_id, int16_t epoch, int32_t last_seq,
                                 int64_t last_timestamp, void *arg);
int sm_idem_visit(sm_partition *p, sm_idem_visit_fn fn, void *arg);
/* The next producer id, from a block reserved durably on disk first (a
 * restart never hands one out twice); SM_EIO (errno set) when the block
 * cannot be written. */
int sm_producer_id_next(sm_broker *b, int64_t *pid);
void sm_handle_init_producer_id(sm_req *req);

#endif
