/* log.c: a partition log's hot paths: append, read, roll, sync, close.
 *
 * The one idea: an append is exactly one pwrite at the end of the active
 * segment, prepared entirely in memory first (offsets assigned in the
 * caller's buffer, index entries noted), so a failed write is undone by
 * truncating the file and restoring a handful of fields: the log is then
 * exactly as before. A read never copies data: it locates the batch that
 * holds the offset (index floor, then a scan of batch headers through an
 * 8 KiB window) and hands back a file range holding a segment reference.
 * Sequential readers skip most of the scan: each read remembers the batch
 * boundary where it started and, when it reached the end of the data, the
 * end itself, which is where the next fetch of a caught-up consumer begins. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "base/fsync.h"
#include "base/crc32c.h"
#include "base/err.h"
#include "base/log.h"
#include "proto/kafka.h"
#include "storage/log_int.h"

#define READ_WINDOW 8192

static void atomic_max64(_Atomic int64_t *x, int64_t v)
{
    int64_t cur = atomic_load_explicit(x, memory_order_relaxed);
    while (cur < v && !atomic_compare_exchange_weak(x, &cur, v)) {
    }
}

const char *sm_plog_offline(sm_plog *l) { return sm_plog_offline_(l) ? l->failed_why : NULL; }

void sm_plog_set_offline_(sm_plog *l, const char *fmt, ...)
{
    if (l->failed)
        return; /* the first reason stays */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->failed_why, sizeof l->failed_why, fmt, ap);
    va_end(ap);
    l->failed = true;
    sm_error("%s: the partition is offline (KAFKA_STORAGE_ERROR) until it is repaired and the "
             "broker restarted; its segment files are left as they are: %s", l->dir,
             l->failed_why);
}

int sm_plog_fsync_dir_(const sm_plog *l)
{
    /* opened for each fsync: a partition holds no descriptor. A directory
     * that is gone (the partition was deleted meanwhile) has nothing left
     * to make durable, as fsync on a descriptor of it would have said. */
    if (sm_fsync_dir(l->dir) == SM_OK || errno == ENOENT)
        return SM_OK;
    return SM_EIO;
}

bool sm_plog_offline_(sm_plog *l)
{
    if (!l->failed && atomic_load(&l->io_failed)) {
        /* the flusher failed an fsync; its report may not be collected yet */
        l->failed = true;
        snprintf(l->failed_why, sizeof l->failed_why,
                 "an fsync failed; what it covered may not be on disk (restart to recover)");
    }
    return l->failed;
}

/* ---- accessors ---------------------------------------------------------------- */

void sm_plog_set_config(sm_plog *l, const sm_log_config *cfg) { l->cfg = *cfg; }
void sm_plog_set_user(sm_plog *l, void *user) { l->user = user; }
void *sm_plog_user(const sm_plog *l) { return l->user; }
const char *sm_plog_dir(const sm_plog *l) { return l->dir; }
int64_t sm_plog_start_offset(const sm_plog *l) { return l->start_offset; }
int64_t sm_plog_end_offset(const sm_plog *l) { return l->end_offset; }
int64_t sm_plog_size(const sm_plog *l) { return l->size; }
int sm_plog_segment_count(const sm_plog *l) { return l->nseg; }
int64_t sm_plog_active_base_offset(const sm_plog *l)
{
    int64_t base = l->segs[l->nseg - 1]->base_offset;
    return base > l->start_offset ? base : l->start_offset;
}
int64_t sm_plog_durable_offset(const sm_plog *l) { return l->durable_offset; }

static sm_segment *active(const sm_plog *l) { return l->segs[l->nseg - 1]; }

/* ---- segments ----------------------------------------------------------------- */

int sm_plog_seg_for_(const sm_plog *l, int64_t offset)
{
    int lo = 0, hi = l->nseg; /* [0, lo) have base <= offset */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (l->segs[mid]->base_offset <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 ? lo - 1 : 0;
}

static void cache_remove(sm_plog *l, sm_segment *s)
{
    for (int i = 0; i < SM_INDEX_CACHE; i++) {
        if (l->index_cache[i] != s)
            continue;
        memmove(&l->index_cache[i], &l->index_cache[i + 1],
                (size_t)(SM_INDEX_CACHE - 1 - i) * sizeof l->index_cache[0]);
        l->index_cache[SM_INDEX_CACHE - 1] = NULL;
        return;
    }
}

void sm_plog_forget_segment_(sm_plog *l, sm_segment *s)
{
    for (int i = 0; i < SM_READ_HINTS; i++)
        if (l->hints[i].seg == s)
            l->hints[i].seg = NULL;
    cache_remove(l, s);
}

/* Makes s (inactive, indexes loaded) the most recently used entry of the
 * index cache; the least recently used one's indexes leave memory when the
 * cache is full, so a catching-up consumer does not pin every index. */
static void cache_use(sm_plog *l, sm_segment *s)
{
    cache_remove(l, s);
    if (l->index_cache[SM_INDEX_CACHE - 1]) {
        sm_segment *victim = l->index_cache[0];
        cache_remove(l, victim);
        sm_seg_drop_index(victim);
    }
    for (int i = 0; i < SM_INDEX_CACHE; i++)
        if (!l->index_cache[i]) {
            l->index_cache[i] = s;
            return;
        }
}

int sm_plog_seg_index_(sm_plog *l, sm_segment *s)
{
    int rc = sm_seg_load_index(s, l->cfg.index_interval_bytes);
    if (s->index_loaded && !s->active)
        cache_use(l, s);
    return rc;
}

/* Where a scan for `offset` in s may start: the closest batch boundary at
 * or before it known from the index or a read hint, with what the batch
 * there must look like. */
static void scan_start(sm_plog *l, sm_segment *s, int64_t offset, int64_t *from,
                       int64_t *first_base, int64_t *first_last)
{
    *from = 0;
    *first_base = s->base_offset;
    *first_last = -1;
    if (offset <= s->base_offset)
        return;
    /* an unloadable index only costs a longer scan */
    if (sm_plog_seg_index_(l, s) == SM_OK && s->index_loaded) {
        int64_t k = sm_oi_floor(&s->oi, sm_rel_clamp(offset, s->base_offset));
        if (k >= 0) {
            *from = sm_oi_pos(&s->oi, (uint32_t)k);
            *first_base = -1;
            *first_last = s->base_offset + sm_oi_rel(&s->oi, (uint32_t)k);
        }
    }
    for (int h = 0; h < SM_READ_HINTS; h++) {
        const sm_read_hint *rh = &l->hints[h];
        if (rh->seg == s && rh->offset <= offset && rh->pos > *from && rh->pos < s->size) {
            *from = rh->pos;
            *first_base = rh->offset;
            *first_last = -1;
        }
    }
}

int sm_plog_find_batch_(sm_plog *l, int i, int64_t offset, sm_bref *b)
{
    sm_segment *s = l->segs[i];
    if (offset >= s->next_offset || s->size == 0)
        return SM_ENOENT;
    int64_t from, first_base, first_last;
    scan_start(l, s, offset, &from, &first_base, &first_last);
    uint8_t buf[READ_WINDOW];
    int rc = sm_seg_find(s, from, first_base, first_last, offset, b, buf, sizeof buf);
    if (rc == SM_ECORRUPT && from > 0 && !s->index_rebuilt) {
        /* the index (or a hint) led astray, or the log is damaged there: an
         * index rebuilt from the log itself tells which, once */
        char err[256];
        sm_warn("%s.index: the lookup of offset %lld failed: rebuilding the index from the log",
                s->path, (long long)offset);
        for (int h = 0; h < SM_READ_HINTS; h++)
            if (l->hints[h].seg == s)
                l->hints[h].seg = NULL;
        s->index_rebuilt = true;
        if (sm_seg_rebuild_index(s, l->cfg.index_interval_bytes, err, sizeof err) != SM_OK)
            sm_log_limited(SM_LOG_ERROR, "%s", err);
        if (!s->active)
            cache_use(l, s);
        scan_start(l, s, offset, &from, &first_base, &first_last);
        rc = sm_seg_find(s, from, first_base, first_last, offset, b, buf, sizeof buf);
    }
    return rc;
}

static void remember(sm_plog *l, sm_segment *s, int64_t offset, int64_t pos)
{
    for (int h = 0; h < SM_READ_HINTS; h++)
        if (l->hints[h].seg == s && l->hints[h].offset == offset)
            return;
    l->hints[l->hint_next % SM_READ_HINTS] = (sm_read_hint){s, offset, pos};
    l->hint_next++;
}

void sm_plog_delete_front_(sm_plog *l, int n, const char *reason)
{
    if (n > l->nseg - 1)
        n = l->nseg - 1; /* the active segment stays: roll first */
    for (int i = 0; i < n; i++) {
        sm_segment *s = l->segs[i];
        sm_info("%s.log: deleting segment (offsets %lld..%lld, %lld bytes): %s", s->path,
                (long long)s->base_offset, (long long)(l->segs[i + 1]->base_offset - 1),
                (long long)s->size, reason);
        sm_plog_forget_segment_(l, s);
        sm_seg_unlink(s);
        l->size -= s->size;
        sm_seg_unref(s); /* a slice or the flusher may keep the file open a little longer */
    }
    if (n > 0) {
        memmove(&l->segs[0], &l->segs[n], (size_t)(l->nseg - n) * sizeof l->segs[0]);
        l->nseg -= n;
    }
    if (l->start_offset < l->segs[0]->base_offset)
        l->start_offset = l->segs[0]->base_offset;
}

/* ---- roll --------------------------------------------------------------------- */

int sm_plog_roll_(sm_plog *l, int64_t now_ms, char *err, size_t errlen)
{
    if (l->nseg == l->segcap) {
        int cap = l->segcap * 2;
        sm_segment **v = realloc(l->segs, (size_t)cap * sizeof *v);
        if (!v)
            return sm_fail(err, errlen, SM_ENOMEM, "%s: out of memory", l->dir);
        l->segs = v;
        l->segcap = cap;
    }
    sm_segment *old = active(l), *s;
    int rc = sm_seg_create(&s, l->dir, l->end_offset, now_ms, err, errlen);
    if (rc != SM_OK)
        return rc;
    sm_seg_deactivate(old);
    if (old->index_loaded)
        cache_use(l, old);
    else
        sm_seg_drop_index(old);
    l->segs[l->nseg++] = s;
    l->dir_gen++; /* the new name must be made durable with the next flush */
    sm_info("%s.log: rolled new segment at offset %lld (previous segment: %lld bytes)", s->path,
            (long long)s->base_offset, (long long)old->size);
    /* as Kafka flushes a rolled segment in the background: an unclean start
     * then checks little more than the active segment */
    if (l->flusher && !sm_plog_offline_(l))
        sm_flusher_request(l->flusher, l);
    return SM_OK;
}

/* How long the segment has been filling, Kafka's way (timeWaitedForRoll):
 * from its first batch's MaxTimestamp to `ts`, so a restart does not reset
 * a segment's age and replayed old data does not roll at every append. A
 * first timestamp that is absent or absurd (ahead of the wall clock by more
 * than log.roll.ms: it would hold the roll off) gives way to the segment's
 * creation time (its open time after a restart, as Kafka) and the clock. */
static int64_t seg_age(const sm_plog *l, const sm_segment *s, int64_t ts, int64_t now_ms)
{
    int64_t first = s->first_ts;
    if (first >= 0 && ts >= 0 && first - now_ms <= l->cfg.segment_ms)
        return ts - first;
    return now_ms - s->created_ms;
}

static bool should_roll(const sm_plog *l, const sm_segment *s, size_t len, int64_t count,
                        int64_t max_ts, int64_t now_ms)
{
    if (s->size == 0)
        return false;
    /* positions in the index are int32: no segment passes 2 GiB */
    int64_t limit = l->cfg.segment_bytes > 0 && l->cfg.segment_bytes < INT32_MAX
                        ? l->cfg.segment_bytes
                        : INT32_MAX;
    if (s->size > limit - (int64_t)len)
        return true;
    if (l->end_offset + count - 1 - s->base_offset > INT32_MAX)
        return true; /* relative offsets are int32 too */
    return l->cfg.segment_ms > 0 && seg_age(l, s, max_ts, now_ms) > l->cfg.segment_ms;
}

bool sm_plog_roll_due_(const sm_plog *l, int64_t now_ms)
{
    /* housekeeping: no incoming batch, so the wall clock; and not before the
     * segment has existed log.roll.ms, so old timestamps do not roll it each tick */
    const sm_segment *s = active(l);
    return s->size > 0 && l->cfg.segment_ms > 0 && now_ms - s->created_ms > l->cfg.segment_ms &&
           seg_age(l, s, now_ms, now_ms) > l->cfg.segment_ms;
}

/* ---- append ------------------------------------------------------------------- */

static int write_all(int fd, const uint8_t *p, size_t len, int64_t at)
{
    while (len) {
        ssize_t w = pwrite(fd, p, len, (off_t)at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return SM_EIO;
        if (w == 0) {
            errno = ENOSPC;
            return SM_EIO;
        }
        p += w;
        len -= (size_t)w;
        at += w;
    }
    return SM_OK;
}

int sm_plog_append(sm_plog *l, uint8_t *buf, size_t len, int64_t now_ms, int64_t *base_offset,
                   char *err, size_t errlen)
{
    sm_seg_fds_trim();
    if (sm_plog_offline_(l))
        return sm_fail(err, errlen, SM_EIO, "%s: the log is offline: %s", l->dir, l->failed_why);
    if (len == 0 || len > INT32_MAX)
        return sm_fail(err, errlen, SM_EINVAL, "%s: cannot append %zu bytes", l->dir, len);

    /* walk the headers: the caller validated them; check what offsets rely on */
    int64_t count = 0, max_ts = SM_NO_TIMESTAMP, first_ts = SM_NO_TIMESTAMP;
    sm_batch_walk w;
    sm_batch_walk_init(&w, buf, len);
    size_t pos, total;
    while (sm_batch_walk_next(&w, &pos, &total)) {
        const uint8_t *p = buf + pos;
        int32_t lod = sm_batch_last_offset_delta(p);
        if (sm_batch_magic(p) != 2 || lod < 0)
            return sm_fail(err, errlen, SM_EINVAL, "%s: malformed batch at byte %zu", l->dir, pos);
        int64_t ts = sm_batch_max_timestamp(p);
        if (pos == 0)
            first_ts = ts;
        if (ts > max_ts)
            max_ts = ts;
        count += (int64_t)lod + 1;
    }
    if (w.pos < len) {
        if (len - w.pos < SM_BATCH_HEADER_LEN)
            return sm_fail(err, errlen, SM_EINVAL, "%s: truncated batch at byte %zu", l->dir, w.pos);
        return sm_fail(err, errlen, SM_EINVAL, "%s: malformed batch at byte %zu", l->dir, w.pos);
    }

    sm_segment *s = active(l);
    if (should_roll(l, s, len, count, max_ts, now_ms)) {
        int rc = sm_plog_roll_(l, now_ms, err, errlen);
        if (rc != SM_OK)
            return rc;
        s = active(l);
    }

    /* assign offsets in place and note index entries; saved state undoes it */
    uint32_t oi_n = s->oi.n, ti_n = s->ti.n;
    int64_t s_max_ts = s->max_ts, s_max_ts_offset = s->max_ts_offset;
    int64_t s_since = s->bytes_since_index;
    int64_t next = l->end_offset;
    sm_batch_walk_init(&w, buf, len); /* the same walk: every batch is whole */
    while (sm_batch_walk_next(&w, &pos, &total)) {
        uint8_t *p = buf + pos;
        int32_t lod = sm_batch_last_offset_delta(p);
        sm_batch_set_base_offset(p, next);
        sm_batch_set_leader_epoch(p, SM_LEADER_EPOCH);
        sm_seg_note_batch(s, s->size + (int64_t)pos, next + lod, sm_batch_max_timestamp(p),
                          (int64_t)total, l->cfg.index_interval_bytes);
        next += (int64_t)lod + 1;
    }

    int fd = sm_seg_fd(s);
    if (fd < 0) {
        int e = errno;
        sm_index_truncate(&s->oi, oi_n);
        sm_index_truncate(&s->ti, ti_n);
        s->max_ts = s_max_ts;
        s->max_ts_offset = s_max_ts_offset;
        s->bytes_since_index = s_since;
        return sm_fail(err, errlen, SM_EIO, "%s.log: cannot open: %s", s->path, strerror(e));
    }
    if (write_all(fd, buf, len, s->size) != SM_OK) {
        int e = errno;
        sm_index_truncate(&s->oi, oi_n);
        sm_index_truncate(&s->ti, ti_n);
        s->max_ts = s_max_ts;
        s->max_ts_offset = s_max_ts_offset;
        s->bytes_since_index = s_since;
        if (ftruncate(s->fd, (off_t)s->size) != 0) {
            /* the file may now hold a partial append we cannot take back */
            l->failed = true;
            snprintf(l->failed_why, sizeof l->failed_why,
                     "%s.log: cannot truncate back to %lld bytes after a failed write: %s",
                     s->path, (long long)s->size, strerror(errno));
            sm_error("%s", l->failed_why);
        }
        return sm_fail(err, errlen, SM_EIO, "%s.log: write of %zu bytes at position %lld: %s",
                       s->path, len, (long long)s->size, strerror(e));
    }
    if (s->size == 0)
        s->first_ts = first_ts;
    *base_offset = l->end_offset;
    s->size += (int64_t)len;
    s->next_offset = next;
    l->end_offset = next;
    l->size += (int64_t)len;
    sm_seg_write_index(s);
    return SM_OK;
}

/* ---- read --------------------------------------------------------------------- */

int sm_plog_read(sm_plog *l, int64_t offset, int64_t max_bytes, sm_slice *out)
{
    out->seg = NULL;
    out->fd = -1;
    out->pos = out->len = 0;
    if (sm_plog_offline_(l))
        return SM_EIO;
    sm_seg_fds_trim();
    if (offset < l->start_offset || offset > l->end_offset)
        return SM_ERANGE;
    if (offset == l->end_offset)
        return SM_OK;
    sm_bref b;
    int i = sm_plog_seg_for_(l, offset), rc;
    /* a segment that ends before offset (a gap) passes the read to the next one */
    while ((rc = sm_plog_find_batch_(l, i, offset, &b)) == SM_ENOENT && i + 1 < l->nseg)
        i++;
    if (rc == SM_ENOENT)
        return SM_OK;
    if (rc == SM_ECORRUPT)
        sm_plog_set_offline_(l, "%s.log: a read at offset %lld found a damaged batch",
                             l->segs[i]->path, (long long)offset);
    if (rc != SM_OK)
        return rc;
    sm_segment *s = l->segs[i];
    int64_t len = s->size - b.pos;
    int64_t want = max_bytes > b.size ? max_bytes : b.size; /* KIP-74: one whole batch */
    if (len > want)
        len = want;
    if (sm_seg_pin(s) != SM_OK) /* the descriptor stays open while the slice is sent */
        return SM_EIO;
    out->seg = s;
    out->fd = s->fd;
    out->pos = b.pos;
    out->len = len;
    remember(l, s, b.base_offset, b.pos);
    if (b.pos + len == s->size && s->active)
        remember(l, s, s->next_offset, s->size); /* where a caught-up consumer fetches next */
    return SM_OK;
}

void sm_slice_release(sm_slice *s)
{
    if (s->seg)
        sm_seg_unpin(s->seg);
    s->seg = NULL;
    s->fd = -1;
    s->pos = s->len = 0;
}

ssize_t sm_slice_read(const sm_slice *s, int64_t at, void *buf, size_t len)
{
    if (at < 0 || at >= s->len || s->fd < 0)
        return 0;
    if ((uint64_t)len > (uint64_t)(s->len - at))
        len = (size_t)(s->len - at);
    return pread(s->fd, buf, len, s->pos + at);
}

ssize_t sm_slice_send(const sm_slice *s, int64_t at, int sock)
{
    off_t pos = (off_t)(s->pos + at);
    size_t want = (size_t)(s->len - at);
    if (want > (1u << 30))
        want = 1u << 30;
    return sendfile(sock, s->fd, &pos, want);
}

int64_t sm_slice_first_batch_size(const sm_slice *s)
{
    uint8_t h[SM_BATCH_LOG_OVERHEAD];
    if (s->fd < 0 || pread(s->fd, h, sizeof h, s->pos) != (ssize_t)sizeof h)
        return -1;
    return sm_batch_total_size(h, sizeof h);
}

/* ---- durability --------------------------------------------------------------- */

int sm_plog_sync(sm_plog *l, char *err, size_t errlen)
{
    if (sm_plog_offline_(l))
        return sm_fail(err, errlen, SM_EIO, "%s: the log is offline: %s", l->dir, l->failed_why);
    bool indexes_ok = true;
    for (int i = l->nseg - 1; i >= 0; i--) {
        sm_segment *s = l->segs[i];
        int64_t size = s->size;
        if (s->index_unsynced) {
            if (sm_seg_sync_index(s) == SM_OK)
                s->index_unsynced = false;
            else
                indexes_ok = false;
        }
        if (size <= atomic_load(&s->synced_size)) {
            if (size > 0 && !s->index_unsynced)
                break; /* older segments were synced before this one was */
            continue;
        }
        sm_seg_fds_trim();
        if (sm_seg_fd(s) < 0 || fdatasync(s->fd) != 0) {
            l->failed = true;
            snprintf(l->failed_why, sizeof l->failed_why, "fdatasync of %s.log failed: %s",
                     s->path, strerror(errno));
            sm_error("%s", l->failed_why);
            return sm_fail(err, errlen, SM_EIO, "%s", l->failed_why);
        }
        atomic_max64(&s->synced_size, size);
        if (s->scheduled_size < size)
            s->scheduled_size = size;
    }
    if (l->dir_gen > atomic_load(&l->dir_synced_gen)) {
        int64_t gen = l->dir_gen;
        if (sm_plog_fsync_dir_(l) != SM_OK)
            return sm_fail(err, errlen, SM_EIO, "fsync of directory %s: %s", l->dir,
                           strerror(errno));
        atomic_max64(&l->dir_synced_gen, gen);
    }
    if (l->new_dir && !atomic_load(&l->parent_synced)) {
        if (sm_fsync_dir(l->parent) != SM_OK)
            return sm_fail(err, errlen, SM_EIO, "fsync of directory %s: %s", l->parent,
                           strerror(errno));
        atomic_store(&l->parent_synced, true);
    }
    l->durable_offset = l->end_offset;
    if (!indexes_ok) {
        sm_warn("%s: an index fsync failed: the recovery point stays where it is", l->dir);
        atomic_store(&l->rp_off, true);
    }
    sm_plog_write_recovery_point_(l, active(l)->base_offset, active(l)->size, true);
    return SM_OK;
}

void sm_plog_write_recovery_point_(sm_plog *l, int64_t base, int64_t pos, bool sync)
{
    /* "0\n<20-digit base> <20-digit position> <CRC-32C of what precedes>\n":
     * fixed width, one small pwrite, no rename or fsync needed, since a torn
     * record fails its CRC and a lost or stale one only makes recovery check
     * more */
    char buf[64];
    int n = snprintf(buf, sizeof buf, "0\n%020lld %020lld ", (long long)base, (long long)pos);
    n += snprintf(buf + n, sizeof buf - (size_t)n, "%08x\n", sm_crc32c(0, buf, (size_t)n));
    if (atomic_load(&l->io_failed) || atomic_load(&l->rp_off))
        return; /* never vouch for what a failed fsync covered */
    /* opened for each write (either thread): a partition holds no descriptor */
    int fd = l->rp_fd;
    if (fd < 0) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", l->dir, SM_RECOVERY_POINT);
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    }
    if (fd < 0 && errno == ENOENT)
        return; /* the partition was deleted meanwhile */
    if (fd < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        if (!atomic_exchange(&l->rp_off, true))
            sm_warn("%s/%s: %s: the recovery point stays where it is", l->dir, SM_RECOVERY_POINT,
                    strerror(errno));
    } else if (sync || atomic_load(&l->rp_synced_base) != base) {
        /* within one segment the record may lag on disk after a power loss
         * (recovery then checks more of that segment); a new segment's name
         * is fsynced at once, so the durable record never lags by more */
        if (fdatasync(fd) == 0)
            atomic_store(&l->rp_synced_base, base);
        else
            sm_warn("%s/%s: fdatasync: %s", l->dir, SM_RECOVERY_POINT, strerror(errno));
    }
    if (fd >= 0 && fd != l->rp_fd)
        close(fd);
}

void sm_plog_opened_(sm_plog *l)
{
    if (l->dirfd >= 0)
        close(l->dirfd);
    if (l->rp_fd >= 0)
        close(l->rp_fd);
    l->dirfd = l->rp_fd = -1;
}

/* ---- close -------------------------------------------------------------------- */

void sm_plog_free_(sm_plog *l)
{
    if (l->dirfd >= 0)
        close(l->dirfd);
    if (l->rp_fd >= 0)
        close(l->rp_fd);
    free(l->pending.v);
    free(l->running.v);
    free(l->segs);
    free(l->dir);
    free(l->parent);
    free(l);
}

void sm_plog_close(sm_plog *l)
{
    if (!l)
        return;
    if (l->nseg > 0)
        sm_seg_deactivate(active(l));
    for (int i = 0; i < l->nseg; i++)
        sm_seg_unref(l->segs[i]);
    l->nseg = 0;
    memset(l->hints, 0, sizeof l->hints);
    memset(l->index_cache, 0, sizeof l->index_cache);
    if (sm_flusher_detach_(l))
        return; /* a flush still uses l; sm_flusher_collect frees it */
    sm_plog_free_(l);
}

int sm_plog_delete(sm_plog *l, char *err, size_t errlen)
{
    char *dir = strdup(l->dir);
    if (!dir)
        return sm_fail(err, errlen, SM_ENOMEM, "out of memory");
    for (int i = 0; i < l->nseg; i++)
        sm_seg_unlink(l->segs[i]);
    sm_plog_close(l);
    int rc = SM_OK;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char f[PATH_MAX];
            snprintf(f, sizeof f, "%s/%s", dir, de->d_name);
            if (unlink(f) != 0 && errno != ENOENT)
                rc = sm_fail(err, errlen, SM_EIO, "cannot remove %s: %s", f, strerror(errno));
        }
        closedir(d);
    }
    if (rc == SM_OK && rmdir(dir) != 0 && errno != ENOENT)
        rc = sm_fail(err, errlen, SM_EIO, "cannot remove %s: %s", dir, strerror(errno));
    if (rc == SM_OK)
        sm_info("%s: partition log deleted", dir);
    free(dir);
    return rc;
}
