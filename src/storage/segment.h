/* segment.h (internal to storage/): one segment of a partition log, its two
 * sparse indexes, and reading batch headers out of a segment file.
 *
 * A segment is `<base>.log` plus `<base>.index` (8-byte entries: int32
 * relative offset of a batch's LAST offset, int32 file position of that
 * batch) and `<base>.timeindex` (12-byte entries: int64 largest timestamp so
 * far, int32 relative last offset of the batch where it was first seen).
 * Both indexes are kept in memory in exactly their file form (big-endian
 * bytes), so new entries reach the file with one pwrite of the tail.
 *
 * Ownership and threads: a segment is reference-counted with C11 atomics.
 * The log holds one reference while the segment is in its list; sm_slice and
 * the flusher hold others; a slice also pins it (sm_seg_pin) while it uses
 * its `fd`. Everything except `refs`, `pins`, `synced_size` and `path`
 * belongs to the event-loop thread; the flusher thread only fsyncs the
 * files by path and raises `synced_size`. The last unref closes the files and frees the
 * memory, on whichever thread drops it.
 *
 * Descriptors: a segment's files are open only while it is used. Every
 * descriptor a segment holds is counted process-wide, and the segments
 * holding any are kept in least-recently-used order; sm_seg_fds_trim closes
 * the coldest unpinned ones until the count is within the budget the broker
 * sets (sm_plog_fds_set_budget). So thousands of partitions fit a small
 * open-file limit: a cold partition holds no descriptor at all. sm_seg_fd
 * (re)opens the .log on demand. Trims happen only between storage calls
 * (at the start of the public sm_plog_* calls that open files), so a
 * descriptor taken within one call stays valid to its end. */
#ifndef SM_STORAGE_SEGMENT_H
#define SM_STORAGE_SEGMENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "proto/batch.h"

#define SM_OI_ENTRY 8  /* offset index entry: int32 relative offset, int32 position */
#define SM_TI_ENTRY 12 /* time index entry: int64 timestamp, int32 relative offset */
#define SM_NO_TIMESTAMP (-1)

/* ---- index.c: an index held in memory in its file form --------------------- */

typedef struct sm_index {
    uint8_t *p;       /* entries [lead, lead + n) of the file, big-endian as there */
    uint32_t lead;    /* leading entries left in the file, not in memory: the active
                         segment of a cleanly opened log until its first lookup */
    uint8_t lead_last[SM_TI_ENTRY]; /* the last of those, when lead > 0 */
    uint32_t n;
    uint32_t cap;     /* entries of room at p */
    uint32_t written; /* of the n in memory, [0, written) are known to be in the file */
} sm_index;

/* Accessors index the entries in memory; lookups need lead == 0. */
static inline int32_t sm_oi_rel(const sm_index *ix, uint32_t i)
{
    return (int32_t)sm_be32(ix->p + (size_t)i * SM_OI_ENTRY);
}
static inline int32_t sm_oi_pos(const sm_index *ix, uint32_t i)
{
    return (int32_t)sm_be32(ix->p + (size_t)i * SM_OI_ENTRY + 4);
}
static inline int64_t sm_ti_ts(const sm_index *ix, uint32_t i)
{
    return (int64_t)sm_be64(ix->p + (size_t)i * SM_TI_ENTRY);
}
static inline int32_t sm_ti_rel(const sm_index *ix, uint32_t i)
{
    return (int32_t)sm_be32(ix->p + (size_t)i * SM_TI_ENTRY + 8);
}
/* The last entry, in memory or the last lead one; NULL if the index is empty. */
static inline const uint8_t *sm_index_last(const sm_index *ix, size_t esz)
{
    return ix->n ? ix->p + (size_t)(ix->n - 1) * esz : ix->lead ? ix->lead_last : NULL;
}

/* Makes room for `more` entries of esz bytes; SM_OK or SM_ENOMEM. */
int sm_index_reserve(sm_index *ix, size_t esz, uint32_t more);
void sm_index_release(sm_index *ix);
/* Empties the index, keeping its memory. */
void sm_index_clear(sm_index *ix);
/* Keeps the first n entries (n <= ix->n). */
void sm_index_truncate(sm_index *ix, uint32_t n);
/* Appends one entry; room must have been reserved. */
void sm_oi_push(sm_index *ix, int32_t rel, int32_t pos);
void sm_ti_push(sm_index *ix, int64_t ts, int32_t rel);
/* The last entry with relative offset <= rel, or -1. */
int64_t sm_oi_floor(const sm_index *ix, int32_t rel);
/* An offset relative to base for sm_oi_floor, clamped to int32's range. */
static inline int32_t sm_rel_clamp(int64_t offset, int64_t base)
{
    int64_t d = offset - base;
    return d > INT32_MAX ? INT32_MAX : d < 0 ? -1 : (int32_t)d;
}
/* The last time entry with timestamp < ts, or -1. */
int64_t sm_ti_below(const sm_index *ix, int64_t ts);

/* Reads the whole file at path into ix (whole entries only; *torn tells if
 * the size was not a multiple of esz). A file of more than max_entries
 * entries is refused as damaged (SM_ECORRUPT) without reading it.
 * SM_ENOENT if missing, SM_EIO on a read error. */
int sm_index_load(sm_index *ix, const char *path, size_t esz, uint32_t max_entries, bool *torn,
                  char *err, size_t errlen);
/* Leading entries that are sane: relative offsets >= 0 and strictly
 * increasing, positions strictly increasing and < log_size. *why names the
 * first bad entry's problem when fewer than ix->n are returned. */
uint32_t sm_oi_valid_prefix(const sm_index *ix, int64_t log_size, const char **why);
/* Same for the time index: timestamps >= 0 and strictly increasing,
 * relative offsets >= 0 and non-decreasing. */
uint32_t sm_ti_valid_prefix(const sm_index *ix, const char **why);
/* Writes entries [written, n) at their place in fd, one pwrite. */
int sm_index_write_tail(sm_index *ix, int fd, size_t esz);
/* Writes every entry in memory at its place (after the lead ones) and cuts
 * the file to its exact size. */
int sm_index_write_all(sm_index *ix, int fd, size_t esz);

/* ---- segment.c ------------------------------------------------------------------- */

typedef struct sm_segment sm_segment;

struct sm_segment {
    atomic_int refs;
    atomic_int pins;             /* slices and flushes using fd: not closed while > 0 */
    _Atomic int64_t synced_size; /* file bytes known to be on disk (fdatasync done) */
    int fd;                      /* the .log file, O_RDWR; -1 while cold (sm_seg_fd) */
    int64_t base_offset;         /* from the file name: the first offset it may hold */
    char *path;                  /* "<dir>/<20-digit base offset>", no extension */

    /* event-loop thread only */
    int64_t size;               /* bytes of whole batches in the file */
    int64_t next_offset;        /* last offset in the segment + 1 (base_offset when empty) */
    int64_t scheduled_size;     /* bytes a queued or running flush will cover */
    int64_t max_ts;             /* largest MaxTimestamp so far, SM_NO_TIMESTAMP if none */
    int64_t max_ts_offset;      /* last offset of the batch where max_ts was first seen */
    int64_t first_ts;           /* MaxTimestamp of the first batch (time-based roll) */
    int64_t created_ms;         /* wall clock at creation, or at open (as Kafka) */
    int64_t bytes_since_index;  /* bytes appended since the last offset index entry */
    bool meta_ok;               /* next_offset and max_ts are known */
    bool index_loaded;          /* oi and ti hold the whole indexes */
    bool index_stale;           /* a write of the index files failed: rewrite them */
    bool index_rebuilt;         /* rebuilt after a lookup went wrong: do not again */
    bool active;                /* appends go here; idx_fd and tidx_fd are opened on demand */
    bool index_unsynced;        /* inactive, index files final but not yet fsynced */
    int idx_fd, tidx_fd;        /* the active segment's index files, -1 while cold */
    sm_index oi, ti;
    /* the descriptor LRU (segment.c's mutex) */
    sm_segment *lru_prev, *lru_next;
    bool in_lru;
};

/* Opens an existing `<dir>/<base>.log`. Nothing is read but its size. */
int sm_seg_open(sm_segment **out, const char *dir, int64_t base, int64_t now_ms, char *err,
                size_t errlen);
/* Creates an empty segment (with empty .index and .timeindex) and makes it
 * active. A stray file of the same name is replaced, with a warning. */
int sm_seg_create(sm_segment **out, const char *dir, int64_t base, int64_t now_ms, char *err,
                  size_t errlen);

static inline void sm_seg_ref(sm_segment *s) { atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed); }
/* Drops a reference; the last one closes the file and frees the segment. */
void sm_seg_unref(sm_segment *s);

/* The .log descriptor, reopened if the segment was cold; -1 with errno set
 * if it cannot be opened. Event-loop thread. Valid until the next trim. */
int sm_seg_fd(sm_segment *s);
/* A reference that also keeps fd open (slices being sent): SM_OK, or SM_EIO
 * when the file cannot be opened (then no reference is taken). Loop thread. */
int sm_seg_pin(sm_segment *s);
/* Drops a pin and its reference; any thread. */
void sm_seg_unpin(sm_segment *s);
/* Closes the descriptors of the least recently used unpinned segments while
 * more are open than the budget. Event-loop thread, between storage calls. */
void sm_seg_fds_trim(void);
/* Removes the three files now; open descriptors keep the data readable. */
void sm_seg_unlink(sm_segment *s);
/* Frees the in-memory indexes of an inactive segment (reloaded on demand). */
void sm_seg_drop_index(sm_segment *s);

/* Opens the index files for appending; the indexes must be loaded. */
int sm_seg_activate(sm_segment *s, char *err, size_t errlen);
/* The segment stops taking appends: the final time index entry is added
 * (Kafka's onBecomeInactiveSegment), the index files are brought up to date
 * and closed. Failures are logged: the index is a cache. */
void sm_seg_deactivate(sm_segment *s);
/* Brings the active segment's index files up to date with memory. */
void sm_seg_write_index(sm_segment *s);
/* fdatasyncs the index files of an inactive segment (any thread: it uses
 * only the path). SM_OK or SM_EIO. */
int sm_seg_sync_index(const sm_segment *s);
/* fdatasyncs the .log through a descriptor of its own, opened by path (any
 * thread; the flusher's), so a segment needs no descriptor kept open to be
 * synced. fsync acts on the file, not the descriptor: the dirty pages any
 * descriptor wrote are written, and a writeback error no one has seen yet
 * is reported to it (Linux 4.16+). A file already removed (the segment was
 * deleted meanwhile) is SM_OK. SM_OK or SM_EIO. */
int sm_seg_sync_log(const sm_segment *s);

/* Accounts one batch appended (or found by a scan) at pos, as Kafka's
 * LogSegment.append: an offset index entry for the batch's last offset
 * when more than `interval` bytes were appended since the previous entry,
 * with a time index entry when the largest timestamp grew. */
void sm_seg_note_batch(sm_segment *s, int64_t pos, int64_t last_offset, int64_t max_ts,
                       int64_t size, int32_t interval);

/* ---- reading batch headers out of a file ---------------------------------------- */

/* A window over a file, refilled with pread: scans read many headers per
 * system call. */
typedef struct sm_cursor {
    int fd;
    int64_t end;     /* only bytes below this exist for the scan */
    uint8_t *buf;    /* the window: file bytes [at, at + len) */
    size_t cap;
    int64_t at;
    size_t len;
    size_t ra;       /* bytes to read at a refill, adapted to the batch sizes seen */
    unsigned hits;   /* reads served by the current window */
    uint8_t *big;    /* whole batches larger than the window (recovery, time lookups) */
    size_t big_cap;
} sm_cursor;

/* The window starts at `ra` bytes (at most cap) and grows while it serves
 * many reads (small batches) or shrinks while it serves one (large ones). */
void sm_cursor_init(sm_cursor *c, int fd, int64_t end, uint8_t *buf, size_t cap);
void sm_cursor_readahead(sm_cursor *c, size_t ra);
void sm_cursor_release(sm_cursor *c);
/* Bytes [pos, pos + n) of the file, valid until the next call; NULL with
 * *rc = SM_ECORRUPT if they pass `end` or the file is shorter, SM_EIO on a
 * read error, SM_ENOMEM. */
const uint8_t *sm_cursor_get(sm_cursor *c, int64_t pos, size_t n, int *rc);

/* One batch as a scan sees it. */
typedef struct sm_bref {
    int64_t pos;
    int64_t size;        /* 12 + BatchLength */
    int64_t base_offset;
    int64_t last_offset;
    int64_t max_ts;
    int16_t attributes;
} sm_bref;

/* Reads and sanity-checks the header at pos: complete header, BatchLength
 * at least a header and within `end`, magic 2, LastOffsetDelta >= 0, and
 * BaseOffset == expect unless expect < 0. Returns SM_OK, SM_ECORRUPT (why
 * filled), or SM_EIO. This is what every scan trusts; the CRC is separate. */
int sm_cursor_batch(sm_cursor *c, int64_t pos, int64_t expect, sm_bref *b, char *why,
                    size_t whylen);

/* Finds the batch of s containing `offset` (or the first batch after it),
 * scanning forward from file position `from`, which must start a batch
 * whose BaseOffset is first_base and whose last offset is first_last (each
 * unchecked if < 0): an index entry or a hint that does not hold is caught
 * here. SM_OK with *b set; SM_ENOENT if no batch at or after offset;
 * SM_ECORRUPT (logged) or SM_EIO if the file or the starting point is
 * wrong. buf/cap is the scan window. */
int sm_seg_find(sm_segment *s, int64_t from, int64_t first_base, int64_t first_last,
                int64_t offset, sm_bref *b, uint8_t *buf, size_t cap);

/* Clean open of the active segment: reads only the last entry of each
 * index file (checking that the offset entry points at its batch), then
 * scans the batch headers after it to find the end, as appends would have
 * indexed them. A damaged index is rebuilt by a scan of the whole segment.
 * SM_ECORRUPT (why filled) if the log itself does not scan: then the log
 * was not closed cleanly after all. The caller activates the segment. */
int sm_seg_resume(sm_segment *s, int32_t interval, char *why, size_t whylen);
/* Loads the whole indexes of a segment (lazily, on first lookup),
 * validating them; a damaged index is rebuilt from the log and rewritten.
 * For the active segment of a cleanly opened log this reads the entries
 * that were left in the files at open. */
int sm_seg_load_index(sm_segment *s, int32_t interval);
/* Scans the batches from file position pos (a batch boundary; the batch
 * there must have BaseOffset `expect`, unless expect < 0) up to `until`
 * (or the end of the segment), each noted with sm_seg_note_batch, offsets
 * contiguous; with `crc`, each batch is also fully checked with
 * sm_batch_validate. The caller sets up the index state the scan continues
 * from. Returns SM_OK with *end = the position reached (>= until), or the
 * error of the first bad batch with *end = its position and `why` filled
 * (SM_ECORRUPT for bad bytes). */
int sm_seg_scan(sm_segment *s, int64_t pos, int64_t until, int64_t expect, int32_t interval,
                bool crc, int64_t *end, char *why, size_t whylen);
/* Rebuilds both indexes by scanning every batch header of the segment and
 * rewrites the files. On a damaged batch the entries index the sane prefix
 * and the error is returned (reads past the damage report it). */
int sm_seg_rebuild_index(sm_segment *s, int32_t interval, char *err, size_t errlen);
/* Learns next_offset and max_ts of an inactive segment of a cleanly closed
 * log from the last index entries and a scan of the tail after them. */
int sm_seg_load_meta(sm_segment *s, int32_t interval);
/* The time to judge retention by: max_ts, or the file's mtime when no
 * batch carries a timestamp (as Kafka's largestTimestamp). */
int64_t sm_seg_largest_ts(sm_segment *s, int32_t interval);

#endif
