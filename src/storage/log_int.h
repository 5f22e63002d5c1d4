/* log_int.h (internal to storage/): the partition log object shared by
 * log.c (append, read, roll, sync), open.c (loading and recovery),
 * retention.c, timestamp.c and flush.c.
 *
 * Invariants (event-loop thread):
 *   segs[0..nseg) are sorted by base offset; segs[nseg-1] is the active
 *   segment and is the only one with `active` set; nseg >= 1 while open.
 *   start_offset <= end_offset == segs[nseg-1]->next_offset.
 *   size == the sum of the segments' sizes.
 * Fields marked "flusher mutex" are shared with the flusher thread and are
 * read and written only with sm_flusher's mutex held. */
#ifndef SM_STORAGE_LOG_INT_H
#define SM_STORAGE_LOG_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/flush.h"
#include "storage/log.h"
#include "storage/segment.h"

#define SM_READ_HINTS 4 /* remembered batch boundaries for sequential readers */
#define SM_INDEX_CACHE 4 /* inactive segments whose indexes stay in memory */
#define SM_START_CHECKPOINT "log-start-offset-checkpoint"
#define SM_RECOVERY_POINT "recovery-point-checkpoint"

/* A batch boundary seen by an earlier read: the batch at `pos` of `seg`
 * has BaseOffset `offset` (or pos is the end of the segment's data). */
typedef struct sm_read_hint {
    sm_segment *seg; /* no reference: hints are dropped when a segment goes */
    int64_t offset;
    int64_t pos;
} sm_read_hint;

typedef struct sm_flush_item {
    sm_segment *seg; /* a reference, dropped by the flusher after the sync */
    int64_t size;    /* bytes of the file that the sync covers */
    bool indexes;    /* the segment was rolled: fsync its final index files too */
} sm_flush_item;

/* What one flush of one log must do. */
typedef struct sm_flush_set {
    sm_flush_item *v;
    int n, cap;
    int64_t target;  /* end offset that is durable once this set is synced */
    int64_t dir_gen; /* fsync the partition directory (0: no need) */
    bool parent;     /* fsync the parent directory too (the partition dir is new) */
} sm_flush_set;

struct sm_plog {
    char *dir;
    char *parent;  /* the directory holding dir (fsynced once when dir was created) */
    int dirfd;     /* open only while the log is being opened (sm_plog_opened_) */
    int rp_fd;     /* SM_RECOVERY_POINT, likewise; then opened for each write */
    _Atomic int64_t rp_synced_base; /* the segment the fsynced recovery point names (-1: none yet) */
    sm_log_config cfg;
    void *user;

    sm_segment **segs;
    int nseg, segcap;
    int64_t start_offset; /* LogStartOffset */
    int64_t end_offset;   /* LogEndOffset */
    int64_t size;
    int64_t durable_offset;
    bool failed;          /* offline (sm_plog_offline): every operation but close refuses */
    char failed_why[600];
    atomic_bool io_failed; /* set by the flusher thread the moment an fsync fails */
    atomic_bool rp_off;    /* an index fsync failed: the recovery point stays put */

    sm_read_hint hints[SM_READ_HINTS];
    unsigned hint_next;
    sm_segment *index_cache[SM_INDEX_CACHE]; /* inactive segments with loaded indexes */

    /* directory durability: a new segment's name must reach the disk too */
    int64_t dir_gen;                 /* bumped when a segment file is created */
    int64_t dir_sched_gen;           /* handed to a flush */
    _Atomic int64_t dir_synced_gen;  /* fsynced (either thread) */
    bool new_dir, parent_sched;
    atomic_bool parent_synced;

    /* flusher bookkeeping, event-loop thread only */
    sm_flusher *flusher;
    sm_plog *att_prev, *att_next; /* every log that ever asked this flusher */

    /* flusher mutex */
    sm_flush_set pending; /* requested, not yet taken by the thread */
    bool queued, busy, in_done, closed;
    sm_plog *q_next, *done_next;
    int64_t done_target;  /* the largest target synced and not failed */
    int done_rc;          /* SM_EIO if a round failed since the last collect */
    /* the flusher thread's own while busy */
    sm_flush_set running;
    sm_plog *round_next;
    int round_rc;
};

/* log.c */
/* open.c is done with the log: the directory and recovery-point
 * descriptors it used are closed (each later use opens its own), and the
 * segments' are left to the descriptor budget. */
void sm_plog_opened_(sm_plog *l);
/* The log is offline (see sm_plog_offline); failed_why says why. */
bool sm_plog_offline_(sm_plog *l);
/* Takes the log offline because its files are damaged (the first reason
 * stays); logs it once as an error. Nothing on disk is changed. */
void sm_plog_set_offline_(sm_plog *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sm_plog_free_(sm_plog *l); /* frees what close left behind (flush.c) */
int sm_plog_roll_(sm_plog *l, int64_t now_ms, char *err, size_t errlen);
/* Housekeeping's time-based roll check for the active segment. */
bool sm_plog_roll_due_(const sm_plog *l, int64_t now_ms);
void sm_plog_forget_segment_(sm_plog *l, sm_segment *s); /* hints and index cache */
/* Loads the indexes of an inactive segment, keeping at most SM_INDEX_CACHE loaded. */
int sm_plog_seg_index_(sm_plog *l, sm_segment *s);
/* The index of the segment holding `offset`: the last with base <= offset (0 if none). */
int sm_plog_seg_for_(const sm_plog *l, int64_t offset);
/* Finds the batch holding `offset` (or the first after it) in segment i. */
int sm_plog_find_batch_(sm_plog *l, int i, int64_t offset, sm_bref *b);
/* Deletes segs[0..n) (never the active one): files now, memory at the last unref. */
void sm_plog_delete_front_(sm_plog *l, int n, const char *reason);
/* fsyncs the log's directory (any thread); one that no longer exists is SM_OK. */
int sm_plog_fsync_dir_(const sm_plog *l);

/* Records that segment `base` is durable below file position `pos`, and
 * every older segment whole, its index files included. Safe from either
 * thread. The record is fsynced whenever it names a segment other than the
 * one the last fsynced record named (and once per open), so on disk it
 * never lags behind by more than the active segment: a stale record only
 * makes a recovery check (and possibly truncate) more, and it never claims
 * more than was synced, since it is written after the sync it reports.
 * `sync`: fsync it in any case. */
void sm_plog_write_recovery_point_(sm_plog *l, int64_t base, int64_t pos, bool sync);

/* retention.c */
int sm_plog_read_start_(const char *dir, int64_t *start);
int sm_plog_write_start_(sm_plog *l, int64_t start, char *err, size_t errlen);

/* flush.c: called by sm_plog_close; true if the flusher now owns freeing l */
bool sm_flusher_detach_(sm_plog *l);

#endif
