/* segment.c: a segment's files, its reference count, and scans of its
 * batch headers.
 *
 * The one idea: a segment file is read only through a cursor that checks
 * every header it hands out (length inside the file, magic 2, offsets
 * contiguous), so a damaged file or a wrong index entry turns into an error
 * or a rebuild, never into a read outside the data. Index entries are made
 * by sm_seg_note_batch only, on append and on rebuild alike, so a rebuilt
 * index is byte for byte the one the appends would have written. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "storage/segment.h"

#define SCAN_WINDOW 8192

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
    s->fd = open(f, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (s->fd < 0 || fstat(s->fd, &st) != 0) {
        int e = errno;
        sm_seg_unref(s);
        return sm_fail(err, errlen, SM_EIO, "%s: %s", f, strerror(e));
    }
    s->size = st.st_size;
    *out = s;
    return SM_OK;
}

static int create_file(const char *f, bool exclusive)
{
    int fd = open(f, O_RDWR | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC), 0644);
    if (fd < 0 && exclusive && errno == EEXIST) {
        sm_warn("%s: a stray file is in the way of a new segment: replacing it", f);
        fd = open(f, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    }
    return fd;
}

int sm_seg_create(sm_segment **out, const char *dir, int64_t base, int64_t now_ms, char *err,
                  size_t errlen)
{
    sm_segment *s = seg_alloc(dir, base, now_ms);
    if (!s)
        return sm_fail(err, errlen, SM_ENOMEM, "out of memory");
    char f[PATH_MAX];
    seg_path(s, ".log", f, sizeof f);
    s->fd = create_file(f, true);
    if (s->fd < 0)
        goto fail;
    seg_path(s, ".index", f, sizeof f);
    s->idx_fd = create_file(f, false);
    if (s->idx_fd < 0)
        goto fail;
    seg_path(s, ".timeindex", f, sizeof f);
    s->tidx_fd = create_file(f, false);
    if (s->tidx_fd < 0)
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
    if (s->fd >= 0)
        close(s->fd);
    if (s->idx_fd >= 0)
        close(s->idx_fd);
    if (s->tidx_fd >= 0)
        close(s->tidx_fd);
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

/* Does the file hold exactly the entries in memory? (Then only new ones need writing.) */
static bool file_matches(int fd, const sm_index *ix, size_t esz)
{
    struct stat st;
    return fstat(fd, &st) == 0 &&
           (uint64_t)st.st_size == ((uint64_t)ix->lead + ix->written) * esz &&
           ix->written == ix->n;
}

int sm_seg_activate(sm_segment *s, char *err, size_t errlen)
{
    if (s->active)
        return SM_OK;
    if (s->idx_fd < 0)
        s->idx_fd = open_index_file(s, ".index");
    if (s->tidx_fd < 0)
        s->tidx_fd = open_index_file(s, ".timeindex");
    if (s->idx_fd < 0 || s->tidx_fd < 0) {
        int e = errno;
        if (s->idx_fd >= 0)
            close(s->idx_fd);
        if (s->tidx_fd >= 0)
            close(s->tidx_fd);
        s->idx_fd = s->tidx_fd = -1;
        return sm_fail(err, errlen, SM_EIO, "%s.index: %s", s->path, strerror(e));
    }
    if (!file_matches(s->idx_fd, &s->oi, SM_OI_ENTRY) ||
        !file_matches(s->tidx_fd, &s->ti, SM_TI_ENTRY))
        s->index_stale = true;
    s->active = true;
    sm_seg_write_index(s);
    return SM_OK;
}

void sm_seg_write_index(sm_segment *s)
{
    if (!s->active)
        return;
    int rc;
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
    close(s->idx_fd);
    close(s->tidx_fd);
    s->idx_fd = s->tidx_fd = -1;
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
    int64_t base = (int64_t)sm_be64(p);
    int32_t blen = (int32_t)sm_be32(p + 8);
    int8_t magic = (int8_t)p[SM_BATCH_MAGIC_AT];
    int32_t lod = (int32_t)sm_be32(p + 23);
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
    b->max_ts = (int64_t)sm_be64(p + 35);
    b->attributes = (int16_t)sm_be16(p + 21);
    return SM_OK;
}

int sm_seg_find(sm_segment *s, int64_t from, int64_t first_base, int64_t first_last,
                int64_t offset, sm_bref *b, uint8_t *buf, size_t cap)
{
    sm_cursor c;
    sm_cursor_init(&c, s->fd, s->size, buf, cap);
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
    sm_cursor_init(&c, s->fd, s->size, buf, cap);
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
    char f[PATH_MAX];
    seg_path(s, ".index", f, sizeof f);
    s->idx_fd = open(f, O_RDWR | O_CLOEXEC);
    seg_path(s, ".timeindex", f, sizeof f);
    s->tidx_fd = open(f, O_RDWR | O_CLOEXEC);
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
    sm_cursor_init(&c, s->fd, s->size, buf, sizeof buf);
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
    sm_cursor_init(&c, s->fd, s->size, buf, sizeof buf);
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
    if (fstat(s->fd, &st) != 0)
        return SM_NO_TIMESTAMP;
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}
