/* broker.h: the broker-wide state (struct sm_broker) and the broker's life:
 * start-up, the loop, shutdown (broker.c).
 *
 * The rest of the broker's internals live in the header of their concern:
 * connections and the request lifecycle (conn.h), the API table and the
 * handlers (api.h), topics (topics.h), a partition and what waits on it
 * (partition.h), idempotent producers (idempotence.h), groups and offsets
 * (group.h), properties (config.h), the event loop (loop.h).
 *
 * Threads: one event-loop thread owns the broker and everything it holds:
 * sockets, topics, partitions, groups. The only other threads are
 * storage's flusher (storage/flush.h), reached through b->flusher and
 * b->flush_io, and nothing else touches sm_broker.
 *
 * Ownership: the caller provides a zeroed struct with cfg loaded
 * (config.h); sm_broker_init fills the rest, and everything the struct
 * points to is the broker's, freed by sm_broker_release (also after a
 * failed init).
 *
 * Errors: sm_broker_init returns SM_OK or a negative code from base/err.h
 * with `err` filled. sm_broker_run returns SM_OK once stopped. A log that
 * cannot be synced at release is logged, and the log dirs are then not
 * marked clean, so the next start recovers them. */
#ifndef SM_BROKER_H
#define SM_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/map.h"
#include "broker/config.h"
#include "broker/loop.h"
#include "storage/flush.h"

typedef struct sm_broker sm_broker;
typedef struct sm_conn sm_conn;
typedef struct sm_offsets sm_offsets;

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

#endif
