/* index.c: the offset index and the time index, held in memory in their
 * file form.
 *
 * The one idea: an index is a cache of positions in the log, so nothing
 * read back from an index file is trusted until checked. Loading reads whole
 * entries only; the valid-prefix functions say how many leading entries obey
 * the invariants a lookup's binary search relies on (strictly increasing
 * offsets, positions and timestamps, positions inside the log). Keeping the
 * memory in file form (big-endian) means the active segment's new entries
 * reach the file with a single pwrite of the tail per append. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "storage/segment.h"

int sm_index_reserve(sm_index *ix, size_t esz, uint32_t more)
{
    if (ix->cap - ix->n >= more)
        return SM_OK;
    if (more > UINT32_MAX / 2 - ix->n)
        return SM_ENOMEM;
    uint32_t cap = ix->cap ? ix->cap : 64;
    while (cap - ix->n < more)
        cap *= 2;
    uint8_t *p = realloc(ix->p, (size_t)cap * esz);
    if (!p)
        return SM_ENOMEM;
    ix->p = p;
    ix->cap = cap;
    return SM_OK;
}

void sm_index_release(sm_index *ix)
{
    free(ix->p);
    memset(ix, 0, sizeof *ix);
}

void sm_index_clear(sm_index *ix)
{
    ix->lead = ix->n = ix->written = 0;
}

void sm_index_truncate(sm_index *ix, uint32_t n)
{
    if (n < ix->n)
        ix->n = n;
    if (ix->written > ix->n)
        ix->written = ix->n;
}

void sm_oi_push(sm_index *ix, int32_t rel, int32_t pos)
{
    uint8_t *q = ix->p + (size_t)ix->n * SM_OI_ENTRY;
    sm_put_be32(q, (uint32_t)rel);
    sm_put_be32(q + 4, (uint32_t)pos);
    ix->n++;
}

void sm_ti_push(sm_index *ix, int64_t ts, int32_t rel)
{
    uint8_t *q = ix->p + (size_t)ix->n * SM_TI_ENTRY;
    sm_put_be64(q, (uint64_t)ts);
    sm_put_be32(q + 8, (uint32_t)rel);
    ix->n++;
}

int64_t sm_oi_floor(const sm_index *ix, int32_t rel)
{
    /* invariant: entries [0, lo) have rel <= target, entries [hi, n) have rel > target */
    uint32_t lo = 0, hi = ix->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (sm_oi_rel(ix, mid) <= rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (int64_t)lo - 1;
}

int64_t sm_ti_below(const sm_index *ix, int64_t ts)
{
    uint32_t lo = 0, hi = ix->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (sm_ti_ts(ix, mid) < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (int64_t)lo - 1;
}

int sm_index_load(sm_index *ix, const char *path, size_t esz, uint32_t max_entries, bool *torn,
                  char *err, size_t errlen)
{
    sm_index_clear(ix);
    *torn = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return sm_fail(err, errlen, SM_ENOENT, "%s: missing", path);
        return sm_fail(err, errlen, SM_EIO, "%s: %s", path, strerror(errno));
    }
    int rc = SM_OK;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = sm_fail(err, errlen, SM_EIO, "%s: %s", path, strerror(errno));
        goto out;
    }
    uint64_t n = (uint64_t)st.st_size / esz;
    *torn = (uint64_t)st.st_size % esz != 0;
    if (n > max_entries) {
        rc = sm_fail(err, errlen, SM_ECORRUPT,
                     "%s: %llu entries, more than the log has batches (%u)", path,
                     (unsigned long long)n, max_entries);
        goto out;
    }
    if ((rc = sm_index_reserve(ix, esz, (uint32_t)n)) != SM_OK) {
        sm_fail(err, errlen, rc, "%s: out of memory for %llu entries", path, (unsigned long long)n);
        goto out;
    }
    size_t want = (size_t)n * esz, got = 0;
    while (got < want) {
        ssize_t r = pread(fd, ix->p + got, want - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = sm_fail(err, errlen, SM_EIO, "%s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break; /* shrank under us: keep the whole entries we have */
        got += (size_t)r;
    }
    ix->n = ix->written = (uint32_t)(got / esz);
out:
    close(fd);
    return rc;
}

uint32_t sm_oi_valid_prefix(const sm_index *ix, int64_t log_size, const char **why)
{
    int64_t prev_rel = -1, prev_pos = 0; /* the first batch (position 0) never has an entry */
    for (uint32_t i = 0; i < ix->n; i++) {
        int64_t rel = sm_oi_rel(ix, i), pos = sm_oi_pos(ix, i);
        if (rel <= prev_rel) {
            *why = "relative offsets not increasing";
            return i;
        }
        if (pos <= prev_pos) {
            *why = "positions not increasing";
            return i;
        }
        if (pos >= log_size) {
            *why = "position past the end of the log";
            return i;
        }
        prev_rel = rel;
        prev_pos = pos;
    }
    *why = NULL;
    return ix->n;
}

uint32_t sm_ti_valid_prefix(const sm_index *ix, const char **why)
{
    int64_t prev_ts = SM_NO_TIMESTAMP, prev_rel = 0;
    for (uint32_t i = 0; i < ix->n; i++) {
        int64_t ts = sm_ti_ts(ix, i), rel = sm_ti_rel(ix, i);
        if (ts <= prev_ts) {
            *why = "timestamps not increasing";
            return i;
        }
        if (rel < prev_rel) {
            *why = "relative offsets decreasing";
            return i;
        }
        prev_ts = ts;
        prev_rel = rel;
    }
    *why = NULL;
    return ix->n;
}

static int pwrite_all(int fd, const uint8_t *p, size_t len, int64_t at)
{
    while (len) {
        ssize_t w = pwrite(fd, p, len, (off_t)at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return SM_EIO;
        p += w;
        len -= (size_t)w;
        at += w;
    }
    return SM_OK;
}

int sm_index_write_tail(sm_index *ix, int fd, size_t esz)
{
    if (ix->written >= ix->n)
        return SM_OK;
    int rc = pwrite_all(fd, ix->p + (size_t)ix->written * esz, (size_t)(ix->n - ix->written) * esz,
                        ((int64_t)ix->lead + ix->written) * (int64_t)esz);
    if (rc == SM_OK)
        ix->written = ix->n;
    return rc;
}

int sm_index_write_all(sm_index *ix, int fd, size_t esz)
{
    ix->written = 0;
    int64_t at = (int64_t)ix->lead * (int64_t)esz;
    if (pwrite_all(fd, ix->p, (size_t)ix->n * esz, at) != SM_OK)
        return SM_EIO;
    if (ftruncate(fd, (off_t)(at + (int64_t)ix->n * (int64_t)esz)) != 0)
        return SM_EIO;
    ix->written = ix->n;
    return SM_OK;
}
