/* flush.h: the flusher thread: group commit for acks=all.
 *
 * The event loop asks for a partition to be made durable up to its current
 * end; the flusher thread fsyncs (fdatasync) the segment files involved
 * (every segment with unsynced data, the final index files of segments
 * rolled since, the partition directory if a segment was created) and
 * reports back. Requests that arrive while an fsync is running are served
 * together by the next round, so many producers share one fsync per file.
 *
 * Completion is reported through an eventfd the loop polls: when it is
 * readable the loop calls sm_flusher_collect, which advances each log's
 * durable offset and calls `cb` once per log that advanced (or failed). */
#ifndef SM_STORAGE_FLUSH_H
#define SM_STORAGE_FLUSH_H

#include <stdint.h>

#include "storage/log.h"

typedef struct sm_flusher sm_flusher;

/* Counters since sm_flusher_new, for tests, metrics and benchmarks. */
typedef struct sm_flusher_stats {
    uint64_t requests; /* sm_flusher_request calls */
    uint64_t rounds;   /* times the thread took the queue */
    uint64_t syncs;    /* fdatasync/fsync calls made by the thread */
} sm_flusher_stats;

int sm_flusher_new(sm_flusher **out, char *err, size_t errlen);
/* Stops the thread after it finishes the requests it already has. Results
 * not collected are dropped; logs closed while in flight are freed; logs
 * still open forget this flusher (sm_plog_sync still works). */
void sm_flusher_free(sm_flusher *f);
/* The eventfd to watch for readability. */
int sm_flusher_fd(const sm_flusher *f);
void sm_flusher_stats_get(sm_flusher *f, sm_flusher_stats *out);

/* Loop thread: make everything appended to l so far durable. Cheap when a
 * request for l is already pending (it is widened). A log already durable
 * to its end, or offline, is answered at the next collect without an fsync.
 * A log uses one flusher for its whole life. */
void sm_flusher_request(sm_flusher *f, sm_plog *l);

/* Loop thread: `rc` is SM_OK, or SM_EIO when fsync failed (then the waiting
 * acks=all requests must fail with KAFKA_STORAGE_ERROR). durable_offset is
 * sm_plog_durable_offset(l) after the update (unchanged on failure, and the
 * log is offline from then on: after a failed fsync the kernel may have
 * dropped the dirty pages, so no later fsync could vouch for them). A log
 * may be reported more than once per request and never once closed. The
 * callback may request flushes and close logs, this one included. */
typedef void (*sm_flush_done_cb)(sm_plog *l, int64_t durable_offset, int rc, void *arg);
void sm_flusher_collect(sm_flusher *f, sm_flush_done_cb cb, void *arg);

#endif
