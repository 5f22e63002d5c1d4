/* segment.c: a segment's files, its reference count, and scans of its
 * batch headers.
 *
 * The one idea: a segment file is read only through a cursor that checks
 * every header it hands out (length inside the file, magic 2, offsets
 * contiguous), so a damaged file or a wrong index entry turns into an error
 * or a rebuild, never into a read outside the data. Index entries are made
 * by sm_seg_note_batch only, on append and on rebuild alike, so a rebuilt
 * index is byte for byte the one the appends would have written.
 *
 * Descriptors (see segment.h): every open of a segment's .log, .index or
 * .timeindex goes through seg_open_fd, which counts it and makes the segment
 * the most recently used; every close through seg_close_fd. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "storage/log.h"
#include "storage/segment.h"

#define SCAN_WINDOW 8192

/* ---- descriptors: open while used, closed when cold ------------------------------ */

static pthread_mutex_t fds_mu = PTHREAD_MUTEX_INITIALIZER;
static sm_segment *lru_head, *lru_tail; /* segments holding descriptors, most recent first */
static atomic_int fds_open;             /* descriptors segments hold */
static atomic_int fds_budget = INT_MAX;

/* fds_mu held */
static void lru_unlink(sm_segment *s)
{
    if (!s->in_lru)
        return;
    if (s->lru_prev)
        s->lru_prev->lru_next = s->lru_next;
    else
        lru_head = s->lru_next;
    if (s->lru_next)
        s->lru_next->lru_prev = s->lru_prev;
    else
        lru_tail = s->lru_prev;
    s->lru_prev = s->lru_next = NULL;
    s->in_lru = false;
}

static void lru_touch(sm_segment *s)
{
    pthread_mutex_lock(&fds_mu);
    if (lru_head != s) {
        lru_unlink(s);
        s->lru_next = lru_head;
        if (lru_head)
            lru_head->lru_prev = s;
        lru_head = s;
        if (!lru_tail)
            lru_tail = s;
        s->in_lru = true;
    }
    pthread_mutex_unlock(&fds_mu);
}

static void seg_close_fd(int *fd)
{
    if (*fd < 0)
        return;
    close(*fd);
    *fd = -1;
    atomic_fetch_sub(&fds_open, 1);
}

/* fds_mu held: closes what s holds; the caller makes sure nothing uses it */
static void seg_close_all(sm_segment *s)
{
    seg_close_fd(&s->fd);
    seg_close_fd(&s->idx_fd);
    seg_close_fd(&s->tidx_fd);
    lru_unlink(s);
}

/* Closes the least recently used unpinned segments' descriptors until at
 * most `target` are open (or none is left to close). */
static void trim_to(int target)
{
    pthread_mutex_lock(&fds_mu);
    for (sm_segment *s = lru_tail, *prev; s && atomic_load(&fds_open) > target; s = prev) {
        prev = s->lru_prev;
        if (atomic_load(&s->pins) == 0)
            seg_close_all(s);
    }
    pthread_mutex_unlock(&fds_mu);
}

void sm_seg_fds_trim(void)
{
    int budget = atomic_load(&fds_budget);
    if (atomic_load(&fds_open) > budget)
        trim_to(budget);
}

void sm_plog_fds_set_budget(int n) { atomic_store(&fds_budget, n > 0 ? n : 1); }
int sm_plog_fds_open(void) { return atomic_load(&fds_open); }
void sm_plog_fds_trim(void) { sm_seg_fds_trim(); }

/* Opens one of s's files into *fd (counted, s made most recent). When the
 * process is out of descriptors the coldest segments are closed down to the
 * budget and the open is tried once more. */
static int seg_open_fd(sm_segment *s, int *fd, const char *ext, int flags)
{
    char f[PATH_MAX];
    snprintf(f, sizeof f, "%s%s", s->path, ext);
    int r = open(f, flags, 0644);
    if (r < 0 && (errno == EMFILE || errno == ENFILE)) {
        int budget = atomic_load(&fds_budget), open_now = atomic_load(&fds_open);
        trim_to(open_now > budget ? budget : open_now - 8);
        r = open(f, flags, 0644);
        if (r < 0 && (errno == EMFILE || errno == ENFILE))
            sm_log_limited(SM_LOG_ERROR, "%s: %s (%d descriptors held by segment files, budget %d)",
                           f, strerror(errno), atomic_load(&fds_open), budget);
    }
    if (r < 0)
        return -1;
    *fd = r;
    atomic_fetch_add(&fds_open, 1);
    lru_touch(s);
    return r;
}

int sm_seg_fd(sm_segment *s)
{
    if (s->fd >= 0) {
        lru_touch(s);
        return s->fd;
    }
    return seg_open_fd(s, &s->fd, ".log", O_RDWR | O_CLOEXEC);
}

int sm_seg_pin(sm_segment *s)
{
    if (sm_seg_fd(s) < 0)
        return SM_EIO;
    atomic_fetch_add(&s->pins, 1);
    sm_seg_ref(s);
    return SM_OK;
}

void sm_seg_unpin(sm_segment *s)
{
    atomic_fetch_sub(&s->pins, 1);
    sm_seg_unref(s);
}

/* ---- lifecycle ------------------------------------------------------------------- */

static sm_segment *seg_alloc(const char *dir, int64_t base, int64_t now_ms)
{
    sm_segment *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    size_t n = strlen(dir) + 32;
    s->path = malloc(n);
    if (!s->path) {
        free(s);
        return NULL;
    }
    snprintf(s->path, n, "%s/%020lld", dir, (long long)base);
    atomic_init(&s->refs, 1);
    atomic_init(&s->pins, 0);
    atomic_init(&s->synced_size, 0);
    s->fd = s->idx_fd = s->tidx_fd = -1;
    s->base_offset = base;
    s->next_offset = base;
    s->max_ts = s->first_ts = SM_NO_TIMESTAMP;
    s->max_ts_offset = -1;
    s->created_ms = now_ms;
    return s;
}

static void seg_path(const sm_segment *s, const char *ext, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s%s", s->path, ext);
}

int sm_seg_open(sm_segment **out, const char *dir, int64_t base, int64_t now_ms, char *err,
                size_t errlen)
{
    sm_segment *s = seg_alloc(dir, base, now_ms);
    if (!s)
        return sm_fail(err, errlen, SM_ENOMEM, "out of memory");
    char f[PATH_MAX];
    seg_path(s, ".log", f, sizeof f);
    struct stat st;
    if (sm_seg_fd(s) < 0 || fstat(s->fd, &st) != 0) {
        int e = errno;
        sm_seg_unref(s);
        return sm_fail(err, errlen, SM_EIO, "%s: %s", f, strerror(e));
    }
    s->size = st.st_size;
    *out = s;
    return SM_OK;
}

static int create_file(sm_segment *s, int *fd, const char *ext, bool exclusive)
{
    if (seg_open_fd(s, fd, ext, O_RDWR | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC)) <
            0 &&
        exclusive && errno == EEXIST) {
        sm_warn("%s%s: a stray file is in the way of a new segment: replacing it", s->path, ext);
        seg_open_fd(s, fd, ext, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC);
    }
    return *fd;
}

int sm_seg_create(sm_segment **out, const char *dir, int64_t base, int64_t now_ms, char *err,
                  size_t errlen)
{
    sm_segment *s = seg_alloc(dir, base, now_ms);
    if (!s)
        return sm_fail(err, errlen, SM_ENOMEM, "out of memory");
    char f[PATH_MAX];
    seg_path(s, ".log", f, sizeof f);
    if (create_file(s, &s->fd, ".log", true) < 0)
        goto fail;
    seg_path(s, ".index", f, sizeof f);
    if (create_file(s, &s->idx_fd, ".index", false) < 0)
        goto fail;
    seg_path(s, ".timeindex", f, sizeof f);
    if (create_file(s, &s->tidx_fd, ".timeindex", false) < 0)
        goto fail;
    s->active = s->index_loaded = s->meta_ok = true;
    *out = s;
    return SM_OK;
fail:;
    int e = errno;
    if (s->fd >= 0)
        sm_seg_unlink(s);
    sm_seg_unref(s);
    return sm_fail(err, errlen, SM_EIO, "cannot create %s: %s", f, strerror(e));
}

void sm_seg_unref(sm_segment *s)
{
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    pthread_mutex_lock(&fds_mu);
    seg_close_all(s);
    pthread_mutex_unlock(&fds_mu);
    sm_index_release(&s->oi);
    sm_index_release(&s->ti);
    free(s->path);
    free(s);
}

void sm_seg_unlink(sm_segment *s)
{
    static const char *const ext[] = {".log", ".index", ".timeindex"};
    for (size_t i = 0; i < 3; i++) {
        char f[PATH_MAX];
        seg_path(s, ext[i], f, sizeof f);
        if (unlink(f) != 0 && errno != ENOENT)
            sm_warn("cannot remove %s: %s", f, strerror(errno));
    }
}

void sm_seg_drop_index(sm_segment *s)
{
    if (s->active)
        return;
    sm_index_release(&s->oi);
    sm_index_release(&s->ti);
    s->index_loaded = false;
}

/* ---- index files ---------------------------------------------------------------- */

static int open_index_file(const sm_segment *s, const char *ext)
{
    char f[PATH_MAX];
    seg_path(s, ext, f, sizeof f);
    return open(f, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
}

static void close_index_fds(sm_segment *s)
{
    pthread_mutex_lock(&fds_mu);
    seg_close_fd(&s->idx_fd);
    seg_close_fd(&s->tidx_fd);
    pthread_mutex_unlock(&fds_mu);
}

/* Does the file hold exactly the entries in memory? (Then only new ones need writing.) */
static bool file_matches(int fd, const sm_index *ix, size_t esz)
{
    struct stat st;
    return fstat(fd, &st) == 0 &&
           (uint64_t)st.st_size == ((uint64_t)ix->lead + ix->written) * esz &&
           ix->written == ix->n;
}

/* Does the file hold exactly the entries written so far? (A cold active
 * segment's files, reopened: then the new entries are appended.) */
static bool file_holds_written(int fd, const sm_index *ix, size_t esz)
{
    struct stat st;
    return fstat(fd, &st) == 0 && (uint64_t)st.st_size == ((uint64_t)ix->lead + ix->written) * esz;
}

/* Opens the active segment's index files (at activation, or when they were
 * closed while cold); files that do not hold what memory says they do are
 * rewritten whole at the next write. */
static int open_index_fds(sm_segment *s, bool reopen)
{
    if ((s->idx_fd < 0 && seg_open_fd(s, &s->idx_fd, ".index", O_RDWR | O_CREAT | O_CLOEXEC) < 0) ||
        (s->tidx_fd < 0 &&
         seg_open_fd(s, &s->tidx_fd, ".timeindex", O_RDWR | O_CREAT | O_CLOEXEC) < 0)) {
        int e = errno;
        close_index_fds(s);
        errno = e;
        return SM_EIO;
    }
    if (reopen ? !file_holds_written(s->idx_fd, &s->oi, SM_OI_ENTRY) ||
                     !file_holds_written(s->tidx_fd, &s->ti, SM_TI_ENTRY)
               : !file_matches(s->idx_fd, &s->oi, SM_OI_ENTRY) ||
                     !file_matches(s->tidx_fd, &s->ti, SM_TI_ENTRY))
        s->index_stale = true;
    return SM_OK;
}

int sm_seg_activate(sm_segment *s, char *err, size_t errlen)
{
    if (s->active)
        return SM_OK;
    if (open_index_fds(s, false) != SM_OK)
        return sm_fail(err, errlen, SM_EIO, "%s.index: %s", s->path, strerror(errno));
    s->active = true;
    sm_seg_write_index(s);
    return SM_OK;
}

void sm_seg_write_index(sm_segment *s)
{
    if (!s->active)
        return;
    int rc;
    if (s->idx_fd < 0 || s->tidx_fd < 0) {
        if (s->oi.written == s->oi.n && s->ti.written == s->ti.n && !s->index_stale)
            return; /* nothing new: leave a cold segment's files closed */
        if (open_index_fds(s, true) != SM_OK) {
            sm_log_limited(SM_LOG_WARN, "%s.index: cannot open (%s); the index is rewritten later",
                           s->path, strerror(errno));
            s->index_stale = true;
            return;
        }
    } else {
        lru_touch(s);
    }
    if (s->index_stale) {
        rc = sm_index_write_all(&s->oi, s->idx_fd, SM_OI_ENTRY);
        if (rc == SM_OK)
            rc = sm_index_write_all(&s->ti, s->tidx_fd, SM_TI_ENTRY);
    } else {
        rc = sm_index_write_tail(&s->oi, s->idx_fd, SM_OI_ENTRY);
        if (rc == SM_OK)
            rc = sm_index_write_tail(&s->ti, s->tidx_fd, SM_TI_ENTRY);
    }
    if (rc == SM_OK) {
        s->index_stale = false;
        return;
    }
    /* the log itself is fine; the files are rewritten whole at the next try */
    if (!s->index_stale)
        sm_log_limited(SM_LOG_WARN, "%s.index: write failed (%s); the index is rewritten later",
                       s->path, strerror(errno));
    s->index_stale = true;
}

/* Kafka's onBecomeInactiveSegment: the time index ends with the segment's
 * largest timestamp, so retention and lookups find it without a scan. */
static int64_t last_ts(const sm_segment *s)
{
    const uint8_t *e = sm_index_last(&s->ti, SM_TI_ENTRY);
    return e ? (int64_t)sm_be64(e) : SM_NO_TIMESTAMP;
}

static void add_final_time_entry(sm_segment *s)
{
    int64_t last = last_ts(s);
    if (s->max_ts > last && s->max_ts_offset >= s->base_offset &&
        sm_index_reserve(&s->ti, SM_TI_ENTRY, 1) == SM_OK)
        sm_ti_push(&s->ti, s->max_ts, (int32_t)(s->max_ts_offset - s->base_offset));
}

void sm_seg_deactivate(sm_segment *s)
{
    if (!s->active)
        return;
    add_final_time_entry(s);
    sm_seg_write_index(s);
    if (s->index_stale) {
        /* a missing index is rebuilt at the next open; a stale one could be trusted */
        sm_warn("%s.index: cannot be brought up to date: removing it so it is rebuilt", s->path);
        char f[PATH_MAX];
        seg_path(s, ".index", f, sizeof f);
        unlink(f);
        seg_path(s, ".timeindex", f, sizeof f);
        unlink(f);
    }
    close_index_fds(s);
    s->active = false;
    s->index_unsynced = true;
}

int sm_seg_sync_index(const sm_segment *s)
{
    static const char *const ext[] = {".index", ".timeindex"};
    for (int i = 0; i < 2; i++) {
        char f[PATH_MAX];
        seg_path(s, ext[i], f, sizeof f);
        int fd = open(f, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
            continue; /* removed on purpose: rebuilt at the next open */
        if (fd < 0 || fdatasync(fd) != 0) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            errno = e;
            return SM_EIO;
        }
        close(fd);
    }
    return SM_OK;
}

int sm_seg_sync_log(const sm_segment *s)
{
    char f[PATH_MAX];
    seg_path(s, ".log", f, sizeof f);
    int fd = open(f, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? SM_OK : SM_EIO;
    int rc = fdatasync(fd) == 0 ? SM_OK : SM_EIO;
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* Writes both index files of an inactive segment from memory. */
static void write_index_files(sm_segment *s)
{
    int fd1 = open_index_file(s, ".index"), fd2 = open_index_file(s, ".timeindex");
    /* synced at once: a recovery point may already vouch for this segment */
    if (fd1 < 0 || fd2 < 0 || sm_index_write_all(&s->oi, fd1, SM_OI_ENTRY) != SM_OK ||
        sm_index_write_all(&s->ti, fd2, SM_TI_ENTRY) != SM_OK || fdatasync(fd1) != 0 ||
        fdatasync(fd2) != 0)
        sm_warn("%s.index: cannot write the rebuilt index (%s); it is kept in memory only",
                s->path, strerror(errno));
    if (fd1 >= 0)
        close(fd1);
    if (fd2 >= 0)
        close(fd2);
}

void sm_seg_note_batch(sm_segment *s, int64_t pos, int64_t last_offset, int64_t max_ts,
                       int64_t size, int32_t interval)
{
    if (max_ts > s->max_ts) {
        s->max_ts = max_ts;
        s->max_ts_offset = last_offset;
    }
    if (s->bytes_since_index > interval) {
        /* both or neither: recovery relies on time entries being made at offset entries */
        if (sm_index_reserve(&s->oi, SM_OI_ENTRY, 1) == SM_OK &&
            sm_index_reserve(&s->ti, SM_TI_ENTRY, 1) == SM_OK) {
            sm_oi_push(&s->oi, (int32_t)(last_offset - s->base_offset), (int32_t)pos);
            if (s->max_ts > last_ts(s))
                sm_ti_push(&s->ti, s->max_ts, (int32_t)(s->max_ts_offset - s->base_offset));
        }
        s->bytes_since_index = 0;
    }
    s->bytes_since_index += size;
}

/* ---- cursor ----------------------------------------------------------------------- */

void sm_cursor_init(sm_cursor *c, int fd, int64_t end, uint8_t *buf, size_t cap)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->end = end;
    c->buf = buf;
    c->cap = cap;
    c->ra = cap;
}

void sm_cursor_readahead(sm_cursor *c, size_t ra)
{
    c->ra = ra < c->cap ? ra : c->cap;
}

void sm_cursor_release(sm_cursor *c)
{
    free(c->big);
    c->big = NULL;
    c->big_cap = 0;
}

/* pread until n bytes or end of file; returns bytes read or -1. */
static ssize_t pread_full(int fd, uint8_t *p, size_t n, int64_t at)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, p + got, n - got, (off_t)(at + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

const uint8_t *sm_cursor_get(sm_cursor *c, int64_t pos, size_t n, int *rc)
{
    if (pos < 0 || pos > c->end || (uint64_t)n > (uint64_t)(c->end - pos)) {
        *rc = SM_ECORRUPT;
        return NULL;
    }
    if (pos >= c->at && (uint64_t)(pos - c->at) + n <= c->len) {
        c->hits++;
        return c->buf + (pos - c->at);
    }
    uint8_t *dst;
    size_t want;
    if (n <= c->cap) {
        if (c->hits >= 8 && c->ra < c->cap / 2)
            c->ra *= 2;
        else if (c->hits <= 1 && c->ra > SCAN_WINDOW)
            c->ra /= 2;
        c->hits = 0;
        dst = c->buf;
        want = c->ra > n ? c->ra : n;
        if ((uint64_t)(c->end - pos) < want)
            want = (size_t)(c->end - pos);
    } else {
        if (c->big_cap < n) {
            uint8_t *p = realloc(c->big, n);
            if (!p) {
                *rc = SM_ENOMEM;
                return NULL;
            }
            c->big = p;
            c->big_cap = n;
        }
        dst = c->big;
        want = n;
    }
    ssize_t got = pread_full(c->fd, dst, want, pos);
    if (got < 0) {
        *rc = SM_EIO;
        return NULL;
    }
    if (dst == c->buf) {
        c->at = pos;
        c->len = (size_t)got;
    }
    if ((size_t)got < n) {
        *rc = SM_ECORRUPT; /* the file is shorter than we were told */
        return NULL;
    }
    return dst;
}

int sm_cursor_batch(sm_cursor *c, int64_t pos, int64_t expect, sm_bref *b, char *why,
                    size_t whylen)
{
    memset(b, 0, sizeof *b);
    if (pos > INT32_MAX)
        return sm_fail(why, whylen, SM_ECORRUPT,
                       "position %lld is beyond what an index can address (2 GiB)", (long long)pos);
    if (c->end - pos < SM_BATCH_HEADER_LEN)
        return sm_fail(why, whylen, SM_ECORRUPT,
                       "%lld byte(s) left, less than a batch header (torn write)",
                       (long long)(c->end - pos));
    int rc = SM_OK;
    const uint8_t *p = sm_cursor_get(c, pos, SM_BATCH_HEADER_LEN, &rc);
    if (!p)
        return sm_fail(why, whylen, rc, "cannot read the batch header: %s",
                       rc == SM_EIO ? strerror(errno) : "file shorter than expected");
    int64_t base = sm_batch_base_offset(p);
    int32_t blen = sm_batch_length(p);
    int8_t magic = sm_batch_magic(p);
    int32_t lod = sm_batch_last_offset_delta(p);
    if (blen < SM_BATCH_HEADER_LEN - SM_BATCH_LOG_OVERHEAD)
        return sm_fail(why, whylen, SM_ECORRUPT, "BatchLength %d is smaller than a batch header",
                       blen);
    if ((int64_t)blen + SM_BATCH_LOG_OVERHEAD > c->end - pos)
        return sm_fail(why, whylen, SM_ECORRUPT,
                       "BatchLength %d runs %lld byte(s) past the end of the file "
                       "(a torn write, or garbage)",
                       blen, (long long)((int64_t)blen + SM_BATCH_LOG_OVERHEAD - (c->end - pos)));
    if (magic != 2)
        return sm_fail(why, whylen, SM_ECORRUPT, "magic %d, not a record batch v2", magic);
    if (lod < 0)
        return sm_fail(why, whylen, SM_ECORRUPT, "LastOffsetDelta %d is negative", lod);
    if (base < 0 || base > INT64_MAX - 1 - lod)
        return sm_fail(why, whylen, SM_ECORRUPT, "BaseOffset %lld is out of range",
                       (long long)base);
    if (expect >= 0 && base != expect)
        return sm_fail(why, whylen, SM_ECORRUPT, "BaseOffset %lld where %lld was expected",
                       (long long)base, (long long)expect);
    b->pos = pos;
    b->size = (int64_t)blen + SM_BATCH_LOG_OVERHEAD;
    b->base_offset = base;
    b->last_offset = base + lod;
    b->max_ts = sm_batch_max_timestamp(p);
    b->attributes = sm_batch_attributes(p);
    return SM_OK;
}

int sm_seg_find(sm_segment *s, int64_t from, int64_t first_base, int64_t first_last,
                int64_t offset, sm_bref *b, uint8_t *buf, size_t cap)
{
    sm_cursor c;
    sm_cursor_init(&c, sm_seg_fd(s), s->size, buf, cap);
    int64_t pos = from, expect = first_base;
    int rc = SM_ENOENT;
    while (pos < s->size) {
        char why[160];
        rc = sm_cursor_batch(&c, pos, expect, b, why, sizeof why);
        if (rc == SM_OK && pos == from && first_last >= 0 && b->last_offset != first_last)
            rc = sm_fail(why, sizeof why, SM_ECORRUPT,
                         "the batch there ends at offset %lld, not %lld",
                         (long long)b->last_offset, (long long)first_last);
        if (rc != SM_OK) {
            sm_log_limited(SM_LOG_ERROR, "%s.log: damaged batch at position %lld: %s", s->path,
                           (long long)pos, why);
            break;
        }
        if (b->last_offset >= offset)
            break;
        expect = b->last_offset + 1;
        pos += b->size;
        rc = SM_ENOENT;
    }
    sm_cursor_release(&c);
    return rc;
}

/* ---- scans that build the indexes ---------------------------------------------------- */

int sm_seg_scan(sm_segment *s, int64_t pos, int64_t until, int64_t expect, int32_t interval,
                bool crc, int64_t *end, char *why, size_t whylen)
{
    size_t cap = (size_t)1 << 20;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return sm_fail(why, whylen, SM_ENOMEM, "out of memory");
    sm_cursor c;
    sm_cursor_init(&c, sm_seg_fd(s), s->size, buf, cap);
    if (!crc)
        sm_cursor_readahead(&c, SCAN_WINDOW); /* headers only: grows if batches are small */
    int rc = SM_OK;
    if (until > s->size)
        until = s->size;
    while (pos < until) {
        sm_bref b;
        if ((rc = sm_cursor_batch(&c, pos, expect, &b, why, whylen)) != SM_OK)
            break;
        if (crc) {
            const uint8_t *p = sm_cursor_get(&c, pos, (size_t)b.size, &rc);
            if (!p) {
                sm_fail(why, whylen, rc, "cannot read the batch: %s",
                        rc == SM_EIO       ? strerror(errno)
                        : rc == SM_ENOMEM ? "out of memory"
                                          : "the file is shorter than expected");
                break;
            }
            sm_batch_hdr h;
            sm_batch_check chk = sm_batch_validate(p, (size_t)b.size, &h);
            if (chk != SM_BATCH_OK) {
                rc = sm_fail(why, whylen, SM_ECORRUPT, "%s", sm_batch_check_str(chk));
                break;
            }
        }
        if (pos == 0)
            s->first_ts = b.max_ts;
        sm_seg_note_batch(s, pos, b.last_offset, b.max_ts, b.size, interval);
        s->next_offset = b.last_offset + 1;
        expect = s->next_offset;
        pos += b.size;
    }
    sm_cursor_release(&c);
    free(buf);
    *end = pos;
    return rc;
}

/* ---- lazily loaded indexes ----------------------------------------------------------- */

int sm_seg_rebuild_index(sm_segment *s, int32_t interval, char *err, size_t errlen)
{
    int64_t next = s->next_offset;
    bool had_meta = s->meta_ok;
    sm_index_clear(&s->oi);
    sm_index_clear(&s->ti);
    s->max_ts = s->first_ts = SM_NO_TIMESTAMP;
    s->max_ts_offset = -1;
    s->bytes_since_index = 0;
    s->next_offset = s->base_offset;
    int64_t end;
    char why[200];
    int rc = sm_seg_scan(s, 0, s->size, s->base_offset, interval, false, &end, why, sizeof why);
    if (rc != SM_OK) {
        sm_fail(err, errlen, rc, "%s.log: damaged batch at position %lld (offset %lld): %s",
                s->path, (long long)end, (long long)s->next_offset, why);
        /* the entries made index the sane prefix; reads past it report the damage */
        if (had_meta)
            s->next_offset = next;
    }
    s->index_loaded = s->meta_ok = true;
    if (s->active) {
        s->index_stale = true;
        sm_seg_write_index(s);
    } else {
        add_final_time_entry(s);
        write_index_files(s);
    }
    return rc;
}

/* Reads one index file for a lookup. For the active segment of a cleanly
 * opened log only the `lead` entries left in the file are taken from it,
 * and the entries appended since open follow them. */
static int load_one(sm_segment *s, sm_index *ix, const char *ext, size_t esz, bool *torn,
                    char *err, size_t errlen)
{
    char f[PATH_MAX];
    seg_path(s, ext, f, sizeof f);
    uint32_t max_entries = (uint32_t)(s->size / SM_BATCH_HEADER_LEN + 1);
    if (!s->active)
        return sm_index_load(ix, f, esz, max_entries, torn, err, errlen);
    sm_index file = {0};
    int rc = sm_index_load(&file, f, esz, max_entries, torn, err, errlen);
    if (rc == SM_OK && file.n < ix->lead)
        rc = sm_fail(err, errlen, SM_ECORRUPT, "%s: shorter than when it was opened", f);
    if (rc == SM_OK && (rc = sm_index_reserve(&file, esz, ix->n)) == SM_OK) {
        file.n = ix->lead;
        if (ix->n)
            memcpy(file.p + (size_t)file.n * esz, ix->p, (size_t)ix->n * esz);
        file.written = ix->lead + ix->written;
        file.n += ix->n;
        sm_index_release(ix);
        *ix = file;
        return SM_OK;
    }
    sm_index_release(&file);
    return rc == SM_ENOMEM ? sm_fail(err, errlen, rc, "%s: out of memory", f) : rc;
}

int sm_seg_load_index(sm_segment *s, int32_t interval)
{
    if (s->index_loaded)
        return SM_OK;
    char err[256];
    const char *why = NULL;
    bool torn = false, torn2 = false;
    int rc = load_one(s, &s->oi, ".index", SM_OI_ENTRY, &torn, err, sizeof err);
    if (rc == SM_OK)
        rc = load_one(s, &s->ti, ".timeindex", SM_TI_ENTRY, &torn2, err, sizeof err);
    if (rc == SM_EIO || rc == SM_ENOMEM) {
        sm_log_limited(SM_LOG_ERROR, "%s", err);
        return rc;
    }
    if (rc != SM_OK) {
        why = err;
    } else if (torn || torn2) {
        why = "size is not a multiple of the entry size";
    } else if (sm_oi_valid_prefix(&s->oi, s->size, &why) < s->oi.n ||
               sm_ti_valid_prefix(&s->ti, &why) < s->ti.n) {
        /* why set */
    } else if (s->meta_ok && s->oi.n &&
               sm_oi_rel(&s->oi, s->oi.n - 1) > s->next_offset - 1 - s->base_offset) {
        why = "offsets past the end of the segment";
    } else if (s->meta_ok && s->ti.n &&
               sm_ti_rel(&s->ti, s->ti.n - 1) > s->next_offset - 1 - s->base_offset) {
        why = "time index offsets past the end of the segment";
    }
    if (!why) {
        s->index_loaded = true;
        return SM_OK;
    }
    sm_warn("%s.index: %s: rebuilding the indexes from the log", s->path, why);
    rc = sm_seg_rebuild_index(s, interval, err, sizeof err);
    if (rc != SM_OK)
        sm_log_limited(SM_LOG_ERROR, "%s", err);
    return rc;
}

/* The number of whole entries of an index file and the last one. Returns
 * false if the file is missing or unreadable; *torn if its size is not a
 * multiple of the entry size. */
static bool fd_last(int fd, size_t esz, uint32_t *count, uint8_t *last, bool *torn)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return false;
    uint64_t n = (uint64_t)st.st_size / esz;
    *torn = (uint64_t)st.st_size % esz != 0;
    *count = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    return n == 0 || pread_full(fd, last, esz, (int64_t)(n - 1) * (int64_t)esz) == (ssize_t)esz;
}

static bool file_last(const sm_segment *s, const char *ext, size_t esz, uint32_t *count,
                      uint8_t *last, bool *torn)
{
    char f[PATH_MAX];
    seg_path(s, ext, f, sizeof f);
    int fd = open(f, O_RDONLY | O_CLOEXEC);
    bool ok = fd_last(fd, esz, count, last, torn);
    if (fd >= 0)
        close(fd);
    return ok;
}

int sm_seg_resume(sm_segment *s, int32_t interval, char *why, size_t whylen)
{
    uint32_t no = 0, nt = 0;
    uint8_t eo[SM_OI_ENTRY], et[SM_TI_ENTRY];
    bool torn_o = false, torn_t = false;
    const char *bad = NULL;
    if (s->size == 0) {
        /* nothing to index (a roll cut short may not even have made the files) */
        sm_index_clear(&s->oi);
        sm_index_clear(&s->ti);
        s->index_loaded = s->meta_ok = true;
        s->next_offset = s->base_offset;
        return SM_OK;
    }
    /* opened here without O_CREAT (a missing index must be told from an
     * empty one) and kept for appending */
    if (s->idx_fd < 0)
        seg_open_fd(s, &s->idx_fd, ".index", O_RDWR | O_CLOEXEC);
    if (s->tidx_fd < 0)
        seg_open_fd(s, &s->tidx_fd, ".timeindex", O_RDWR | O_CLOEXEC);
    if (!fd_last(s->idx_fd, SM_OI_ENTRY, &no, eo, &torn_o))
        bad = "the offset index is missing or unreadable";
    else if (!fd_last(s->tidx_fd, SM_TI_ENTRY, &nt, et, &torn_t))
        bad = "the time index is missing or unreadable";
    else if (torn_o || torn_t)
        bad = "size is not a multiple of the entry size";
    else if (no > s->size / SM_BATCH_HEADER_LEN || nt > s->size / SM_BATCH_HEADER_LEN)
        bad = "more entries than the log has batches";
    int32_t orel = no ? (int32_t)sm_be32(eo) : -1, opos = no ? (int32_t)sm_be32(eo + 4) : 0;
    int64_t tts = nt ? (int64_t)sm_be64(et) : SM_NO_TIMESTAMP;
    int32_t trel = nt ? (int32_t)sm_be32(et + 8) : -1;
    if (!bad && no && (orel < 0 || opos <= 0 || opos >= s->size))
        bad = "the last offset index entry points outside the log";
    if (!bad && nt && (tts < 0 || trel < 0))
        bad = "the last time index entry is impossible";

    uint8_t buf[SCAN_WINDOW];
    sm_cursor c;
    sm_cursor_init(&c, sm_seg_fd(s), s->size, buf, sizeof buf);
    sm_bref b;
    int64_t from = 0, expect = s->base_offset;
    if (!bad && no) {
        int rc = sm_cursor_batch(&c, opos, -1, &b, why, whylen);
        if (rc != SM_OK) {
            sm_cursor_release(&c); /* not something a clean shutdown leaves */
            return rc;
        }
        if (b.last_offset != s->base_offset + orel)
            bad = "the last offset index entry does not point at its batch";
        else
            expect = b.base_offset, from = opos;
    }
    s->first_ts = SM_NO_TIMESTAMP;
    if (s->size > 0) {
        int rc = sm_cursor_batch(&c, 0, s->base_offset, &b, why, whylen);
        if (rc != SM_OK) {
            sm_cursor_release(&c);
            return rc;
        }
        s->first_ts = b.max_ts;
    }
    sm_cursor_release(&c);

    s->max_ts = SM_NO_TIMESTAMP;
    s->max_ts_offset = -1;
    s->bytes_since_index = 0;
    sm_index_clear(&s->oi);
    sm_index_clear(&s->ti);
    if (bad) {
        sm_warn("%s.index: %s: rebuilding the indexes from the log", s->path, bad);
        from = 0;
        expect = s->base_offset;
    } else {
        s->oi.lead = no;
        memcpy(s->oi.lead_last, eo, sizeof eo);
        s->ti.lead = nt;
        memcpy(s->ti.lead_last, et, sizeof et);
        /* the largest timestamp so far: the last time entry's, made either
         * when the last offset entry was (one is made whenever it grew) or
         * at close, covering the batches after it (Kafka does the same) */
        if (nt) {
            s->max_ts = tts;
            s->max_ts_offset = s->base_offset + trel;
        }
    }
    s->index_loaded = s->oi.lead == 0 && s->ti.lead == 0;
    s->next_offset = expect;
    int64_t end;
    int rc = sm_seg_scan(s, from, s->size, expect, interval, false, &end, why, whylen);
    if (rc == SM_OK && nt && !bad && s->base_offset + trel >= s->next_offset)
        rc = sm_fail(why, whylen, SM_ECORRUPT,
                     "the time index names offset %lld, past the end of the log",
                     (long long)(s->base_offset + trel));
    s->meta_ok = true;
    return rc;
}

int sm_seg_load_meta(sm_segment *s, int32_t interval)
{
    if (s->meta_ok)
        return SM_OK;
    int64_t from = 0, expect_last = -1;
    int64_t max_ts = SM_NO_TIMESTAMP, max_ts_offset = -1;
    uint8_t e[SM_TI_ENTRY];
    if (s->index_loaded) {
        const uint8_t *o = sm_index_last(&s->oi, SM_OI_ENTRY);
        const uint8_t *t = sm_index_last(&s->ti, SM_TI_ENTRY);
        if (o) {
            from = (int32_t)sm_be32(o + 4);
            expect_last = s->base_offset + (int32_t)sm_be32(o);
        }
        if (t) {
            max_ts = (int64_t)sm_be64(t);
            max_ts_offset = s->base_offset + (int32_t)sm_be32(t + 8);
        }
    } else {
        uint32_t cnt = 0;
        bool torn = false;
        if (file_last(s, ".index", SM_OI_ENTRY, &cnt, e, &torn) && cnt) {
            int32_t rel = (int32_t)sm_be32(e), pos = (int32_t)sm_be32(e + 4);
            if (rel > 0 && pos > 0 && pos < s->size) {
                from = pos;
                expect_last = s->base_offset + rel;
            }
        }
        if (file_last(s, ".timeindex", SM_TI_ENTRY, &cnt, e, &torn) && cnt &&
            (int64_t)sm_be64(e) >= 0 &&
            (int32_t)sm_be32(e + 8) >= 0) {
            max_ts = (int64_t)sm_be64(e);
            max_ts_offset = s->base_offset + (int32_t)sm_be32(e + 8);
        }
    }
    uint8_t buf[SCAN_WINDOW];
    sm_cursor c;
    sm_cursor_init(&c, sm_seg_fd(s), s->size, buf, sizeof buf);
    int64_t pos = from, next = from ? -1 : s->base_offset;
    int rc = SM_OK;
    char why[160] = "";
    while (pos < s->size) {
        sm_bref b;
        if ((rc = sm_cursor_batch(&c, pos, next, &b, why, sizeof why)) != SM_OK)
            break;
        if (pos == from && expect_last >= 0 && b.last_offset != expect_last) {
            rc = sm_fail(why, sizeof why, SM_ECORRUPT,
                         "the last index entry names offset %lld but the batch there ends at %lld",
                         (long long)expect_last, (long long)b.last_offset);
            break;
        }
        if (b.max_ts > max_ts) {
            max_ts = b.max_ts;
            max_ts_offset = b.last_offset;
        }
        next = b.last_offset + 1;
        pos += b.size;
    }
    sm_cursor_release(&c);
    if (rc == SM_OK) {
        s->next_offset = next < 0 ? s->base_offset : next;
        s->max_ts = max_ts;
        s->max_ts_offset = max_ts_offset;
        s->meta_ok = true;
        return SM_OK;
    }
    sm_warn("%s.log: the tail after the last index entry does not scan (%s): rebuilding the "
            "index", s->path, why);
    char err[256];
    rc = sm_seg_rebuild_index(s, interval, err, sizeof err);
    if (rc != SM_OK)
        sm_log_limited(SM_LOG_ERROR, "%s", err);
    return rc;
}

int64_t sm_seg_largest_ts(sm_segment *s, int32_t interval)
{
    if (sm_seg_load_meta(s, interval) == SM_OK && s->max_ts >= 0)
        return s->max_ts;
    struct stat st;
    if (sm_seg_fd(s) < 0 || fstat(s->fd, &st) != 0)
        return SM_NO_TIMESTAMP;
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}
