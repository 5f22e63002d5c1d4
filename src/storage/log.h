/* log.h: a partition's durable log: the contract between storage and broker.
 *
 * A partition lives in one directory, `<topic>-<partition>/`, as Kafka lays
 * it out: segments `<20-digit base offset>.log` holding record batches v2
 * exactly as Kafka stores them, a sparse offset index `.index` (8-byte
 * entries: int32 relative offset, int32 file position; the offset is the
 * batch's last offset, as Kafka's), and a time index `.timeindex` (12-byte
 * entries: int64 max timestamp so far, int32 relative offset of the last
 * offset of the batch where it was reached). Beside them, two small files:
 * `log-start-offset-checkpoint` (LogStartOffset after DeleteRecords) and
 * `recovery-point-checkpoint` (how far the log is known to be on disk:
 * "0\n<20-digit segment base offset> <20-digit file position> <CRC-32C of
 * the bytes before it, 8 hex digits>\n", everything below it was fsynced).
 *
 * Threading: every sm_plog function is called from the broker's event-loop
 * thread only. The one exception is the flusher (flush.h), which fsyncs
 * segment files from its own thread; segments are reference-counted with
 * atomics so a segment can be retired (rolled, deleted by retention, the
 * topic dropped) while the flusher or a pending sendfile still holds it.
 *
 * Errors: functions return SM_OK or a negative code from base/err.h and fill
 * `err` with a message naming the file and the problem. */
#ifndef SM_STORAGE_LOG_H
#define SM_STORAGE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct sm_log_config {
    int64_t segment_bytes;        /* log.segment.bytes: roll before a segment exceeds this */
    int64_t segment_ms;           /* log.roll.ms: roll when the segment's first batch is older */
    int64_t retention_ms;         /* log.retention.ms: -1 keeps forever */
    int64_t retention_bytes;      /* log.retention.bytes: -1 keeps any size */
    int32_t index_interval_bytes; /* log.index.interval.bytes: one index entry per this many bytes */
} sm_log_config;

/* Defaults as Kafka's: 1 GiB segments, 7 days, no size limit, 4096. */
void sm_log_config_default(sm_log_config *cfg);

typedef struct sm_plog sm_plog;
typedef struct sm_segment sm_segment;

/* Descriptors: segment files are opened when used and closed when cold,
 * least recently used first, keeping the descriptors they hold (all logs
 * together) within `n` (default: no limit); a partition that is not used
 * holds none. A segment still being sent (an sm_slice) or synced stays open
 * and may take the count past `n` for a while. Set it before opening logs. */
void sm_plog_fds_set_budget(int n);
/* Descriptors segment files hold now. */
int sm_plog_fds_open(void);
/* Closes the coldest while over the budget (the sm_plog_* calls that open
 * files do it first themselves). */
void sm_plog_fds_trim(void);

/* Opens (creating if missing) the partition directory `dir`. Existing
 * segments are loaded; a missing or damaged index or time index is
 * rebuilt, and leftover `*.deleted`, `*.cleaned` and checkpoint temporary
 * files and index files without their .log are removed (`*.swap` files are
 * left alone). The config is copied. What was done is logged.
 *
 * When `clean` is false (the broker did not shut down cleanly) the log is
 * recovered from its recovery point, as Kafka recovers it: the
 * `recovery-point-checkpoint` names the segment and file position below
 * which everything was fsynced (written after the flushes). Every batch
 * after it is validated (length, magic, CRC-32C, contiguous offsets); at
 * the first torn or corrupt one the log is truncated, and later segments,
 * which could not follow, are removed. Without a readable recovery point
 * nothing is known to be synced and every batch is validated that way.
 *
 * Below the recovery point nothing is ever truncated or removed. Each
 * synced segment's tail (the batches after its last index entry) is still
 * checked in full; damage there, a segment that does not follow the one
 * before it, or a segment the recovery point names that is missing or
 * shorter than it says, opens the log offline (SM_OK; sm_plog_offline
 * says why, and it is logged as an error) with nothing at or below the
 * recovery point changed (a torn tail after it may have been cut). To
 * accept losing the damaged data, an operator removes the partition's
 * `recovery-point-checkpoint` and restarts: the log is then recovered as
 * one that never synced.
 *
 * A clean open reads only the active segment's last index entries and the
 * batch headers after them; if even that does not add up, the log is
 * recovered as after a crash (with a warning). With no segment the log
 * starts at the persisted log start offset, else 0. Durability: after a
 * clean open the durable offset is the end offset; after an unclean one it
 * is the start offset, and the first flush syncs every segment once. */
int sm_plog_open(sm_plog **out, const char *dir, const sm_log_config *cfg, bool clean, char *err,
                 size_t errlen);

/* NULL while the log is online, else why it is offline: an fsync failed
 * (what it covered may not be on disk), or files are damaged in data that
 * had been synced (found by recovery or by a read). An offline log changes
 * nothing on disk: appends, reads, time lookups, DeleteRecords, flushes
 * and syncs fail with SM_EIO and housekeeping does nothing, until it is
 * reopened. Answer KAFKA_STORAGE_ERROR for it, as Kafka does for an
 * offline partition. The string belongs to the log. */
const char *sm_plog_offline(sm_plog *l);

/* Closes files and frees the log. Data already appended stays in the page
 * cache; call sm_plog_sync first for durability. If a flush is still in
 * flight the memory is released when it completes (the flusher handles it;
 * no callback is made for a closed log). Slices taken from the log stay
 * valid after close: they hold their segment. */
void sm_plog_close(sm_plog *l);

/* Closes the log and removes its directory and every file in it (open
 * slices keep their segment's data readable until released). */
int sm_plog_delete(sm_plog *l, char *err, size_t errlen);

/* Replaces the config (topic config changed); takes effect at the next append/roll. */
void sm_plog_set_config(sm_plog *l, const sm_log_config *cfg);

/* An opaque pointer the broker keeps with the log (its partition state). */
void sm_plog_set_user(sm_plog *l, void *user);
void *sm_plog_user(const sm_plog *l);

const char *sm_plog_dir(const sm_plog *l);
int64_t sm_plog_start_offset(const sm_plog *l); /* LogStartOffset */
int64_t sm_plog_end_offset(const sm_plog *l);   /* LogEndOffset: the next offset to assign */
int64_t sm_plog_size(const sm_plog *l);         /* bytes in all segments */
int sm_plog_segment_count(const sm_plog *l);
/* The first offset of the active segment (never below the start offset). */
int64_t sm_plog_active_base_offset(const sm_plog *l);

/* Appends one or more record batches (already validated by the caller:
 * complete, magic 2, CRC checked) held in buf[0..len). Assigns offsets:
 * rewrites each batch's BaseOffset (and PartitionLeaderEpoch to 0) in place,
 * then writes the bytes with one write(2). Rolls first if the active
 * segment would pass segment_bytes or is older than segment_ms. On a failed
 * or short write the segment is truncated back, nothing is appended, and
 * SM_EIO is returned. *base_offset gets the first assigned offset.
 *
 * Details: offsets advance by LastOffsetDelta + 1 per batch. The segment's
 * age is measured Kafka's way, from its first batch's MaxTimestamp to the
 * largest MaxTimestamp being appended (the creation time and now_ms when a
 * timestamp is absent, or the first one is more than segment_ms ahead of
 * now_ms). A segment never passes 2 GiB, whatever segment_bytes says (index
 * positions are int32), but a batch larger than segment_bytes still goes
 * into a segment of its own. SM_EINVAL (nothing written) if the bytes are
 * not whole batches. If an fsync failed, or a failed write could not be
 * undone, the log goes offline: appends and flushes return SM_EIO until it
 * is reopened. A segment rolled by an append is flushed in the background
 * (as Kafka does) once the log has made a flusher request: the completion
 * reaches the flusher's callback like any other. */
int sm_plog_append(sm_plog *l, uint8_t *buf, size_t len, int64_t now_ms, int64_t *base_offset,
                   char *err, size_t errlen);

/* A byte range of one segment file, sent to a socket with sm_slice_send
 * (zero-copy) or copied with sm_slice_read. Holds a reference on the
 * segment (seg is NULL, fd -1, when len is 0): release it with
 * sm_slice_release, which is safe on an empty slice, twice, and from any
 * thread. seg and fd are storage's: outside storage/ a slice is its len,
 * sent or read through the functions below. */
typedef struct sm_slice {
    sm_segment *seg;
    int fd;       /* the segment's .log file, valid while the reference is held */
    int64_t pos;  /* file position of the first byte */
    int64_t len;  /* bytes; 0 when there is nothing at `offset` yet */
} sm_slice;

/* Finds the bytes to serve a fetch at `offset`: starting at the batch that
 * contains `offset`, at most max_bytes, but never less than the whole first
 * batch (Kafka's KIP-74 rule, so a batch larger than max_bytes still makes
 * progress). The range stays within one segment and may end inside a batch,
 * as Kafka's does; clients drop the partial batch. Returns SM_OK (len may be
 * 0 at the log end), or SM_ERANGE if offset is below the start or above the
 * end offset. An offset in a gap between segments is served from the next
 * segment's first batch. SM_ECORRUPT or SM_EIO if the segment file is
 * damaged or unreadable (logged; a damaged file takes the log offline),
 * SM_EIO if the log is offline: answer KAFKA_STORAGE_ERROR. */
int sm_plog_read(sm_plog *l, int64_t offset, int64_t max_bytes, sm_slice *out);
void sm_slice_release(sm_slice *s);
/* Copies bytes [at, at + len) of the slice (clipped to its end) into buf, for
 * a reader that wants them in memory rather than sent: returns the bytes
 * copied (fewer only if the file is shorter than the slice), or -1 with
 * errno set. With sm_slice_send, the only reads of segment bytes outside
 * storage/. */
ssize_t sm_slice_read(const sm_slice *s, int64_t at, void *buf, size_t len);
/* Sends bytes from `at` to the end of the slice to the socket `sock` with
 * sendfile(2), never through memory, as much as one call takes (at most
 * 1 GiB): returns the bytes sent, which may be fewer (a non-blocking socket
 * that filled up: call again from at + n once it is writable); 0 if the file
 * ends before the slice does (the segment is shorter than it was: the
 * caller's frame cannot be completed); -1 with errno set (EAGAIN or
 * EWOULDBLOCK: the socket is full, nothing was sent; EINTR: try again).
 * Call it with at < len, on the thread that holds the slice. */
ssize_t sm_slice_send(const sm_slice *s, int64_t at, int sock);
/* The size of the slice's first batch (BaseOffset and BatchLength included),
 * or -1 if it cannot be read or its BatchLength is impossible. */
int64_t sm_slice_first_batch_size(const sm_slice *s);

/* ListOffsets by time: the earliest offset at or above the log start
 * offset whose record timestamp is >= ts (exact for uncompressed batches;
 * for compressed batches, the first offset of the first batch whose
 * MaxTimestamp >= ts, with *timestamp = that MaxTimestamp; every record of a
 * LogAppendTime batch has its MaxTimestamp). Returns SM_OK with *offset and
 * *timestamp set, or SM_ENOENT when no record is that recent; SM_ECORRUPT or
 * SM_EIO on a damaged segment (which takes the log offline), SM_EIO if the
 * log is offline. */
int sm_plog_offset_for_time(sm_plog *l, int64_t ts, int64_t *offset, int64_t *timestamp);

/* The largest timestamp among the records at or above the log start offset
 * and the first offset that has it (ListOffsets with timestamp -3,
 * MAX_TIMESTAMP; in a compressed batch, the batch's first offset), or
 * SM_ENOENT if no such record carries a timestamp (empty log, or all -1);
 * errors as sm_plog_offset_for_time. */
int sm_plog_max_timestamp(sm_plog *l, int64_t *offset, int64_t *timestamp);

/* Time-based roll check and retention, called periodically (about every
 * second). Deletes whole segments, oldest first, while the log is over
 * retention_bytes or the segment's newest record is older than retention_ms;
 * never deletes the active segment unless it is empty of live data (the
 * active segment is rolled first when it alone is past retention, as Kafka
 * does). Returns the number of segments deleted.
 *
 * Details, as Kafka: by time, a segment goes when now_ms minus its largest
 * timestamp (the file's mtime if no batch has one) exceeds retention_ms; by
 * size, segments go oldest first while size - segment size >=
 * retention_bytes. Segments wholly below the log start offset go too. The
 * start offset moves to the first remaining segment (this is not written to
 * the checkpoint: the segments are gone). The time-based roll here uses the
 * wall clock: the non-empty active segment is rolled once it has existed
 * segment_ms (since creation, or since open after a restart) and its first
 * batch's MaxTimestamp is older than segment_ms. An offline log is left
 * alone (0). */
int sm_plog_housekeep(sm_plog *l, int64_t now_ms);

/* DeleteRecords: moves LogStartOffset up to `offset` (<= end offset),
 * persisting it so it survives restarts, and deletes segments wholly below.
 * Returns SM_ERANGE if offset > end offset (or < 0); an offset at or below
 * the start is a no-op. The checkpoint (`log-start-offset-checkpoint` in the
 * partition directory) is written and fsynced, with its directory, before
 * the start moves; SM_EIO if that fails (then nothing changed) or the log
 * is offline. */
int sm_plog_delete_records(sm_plog *l, int64_t offset, char *err, size_t errlen);

/* fsyncs everything appended so far on the calling thread (used at
 * shutdown and in tests): every segment with unsynced data, the directory
 * if a segment was created, then sets the durable offset to the end and
 * writes and fsyncs the recovery point. SM_EIO if an fsync fails or the
 * log is offline. */
int sm_plog_sync(sm_plog *l, char *err, size_t errlen);

/* The end of the durable prefix: offsets below it have been fsynced. It
 * moves in sm_flusher_collect and sm_plog_sync only, never backwards. */
int64_t sm_plog_durable_offset(const sm_plog *l);

#endif
