/* retention.c: what leaves the log: retention by time and size, the
 * time-based roll, DeleteRecords, and the persisted log start offset.
 *
 * The one idea: only whole segments are deleted, oldest first, and always
 * by Kafka's rules, so an operator's log.retention.* settings mean here
 * what they mean in Kafka: a segment goes when its newest record is older
 * than retention.ms, or while the log would still be at least
 * retention.bytes without it. The active segment is never deleted in
 * place: when it alone is past retention it is rolled first. DeleteRecords
 * moves LogStartOffset inside a segment; that offset is written to
 * `log-start-offset-checkpoint` (tmp + fsync + rename + fsync of the
 * directory) before anyone is told, so a restart cannot bring the records
 * back. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "storage/log_int.h"

#define CHECKPOINT_VERSION 0

/* ---- log-start-offset-checkpoint -------------------------------------------------- */

/* Format, in the style of Kafka's checkpoint files: the version line "0",
 * then the offset, each ending in '\n'. */
int sm_plog_read_start_(const char *dir, int64_t *start)
{
    char f[PATH_MAX], buf[64];
    snprintf(f, sizeof f, "%s/%s", dir, SM_START_CHECKPOINT);
    int fd = open(f, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? SM_ENOENT : SM_ECORRUPT;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0)
        return SM_ECORRUPT;
    buf[n] = 0;
    if (buf[0] != '0' + CHECKPOINT_VERSION || buf[1] != '\n')
        return SM_ECORRUPT;
    int64_t v = 0;
    const char *p = buf + 2;
    if (*p < '0' || *p > '9')
        return SM_ECORRUPT;
    for (; *p >= '0' && *p <= '9'; p++) {
        int d = *p - '0';
        if (v > (INT64_MAX - d) / 10)
            return SM_ECORRUPT;
        v = v * 10 + d;
    }
    if (p[0] != '\n' || p[1] != 0)
        return SM_ECORRUPT;
    *start = v;
    return SM_OK;
}

int sm_plog_write_start_(sm_plog *l, int64_t start, char *err, size_t errlen)
{
    char tmp[PATH_MAX], f[PATH_MAX], buf[64];
    snprintf(f, sizeof f, "%s/%s", l->dir, SM_START_CHECKPOINT);
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", l->dir, SM_START_CHECKPOINT);
    int n = snprintf(buf, sizeof buf, "%d\n%lld\n", CHECKPOINT_VERSION, (long long)start);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return sm_fail(err, errlen, SM_EIO, "%s: %s", tmp, strerror(errno));
    bool ok = write(fd, buf, (size_t)n) == n && fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        return sm_fail(err, errlen, SM_EIO, "%s: %s", tmp, strerror(e));
    }
    if (rename(tmp, f) != 0) {
        e = errno;
        unlink(tmp);
        return sm_fail(err, errlen, SM_EIO, "rename %s: %s", tmp, strerror(e));
    }
    if (sm_plog_fsync_dir_(l) != SM_OK)
        return sm_fail(err, errlen, SM_EIO, "fsync of %s: %s", l->dir, strerror(errno));
    return SM_OK;
}

/* ---- deletion ----------------------------------------------------------------- */

/* Deletes the n oldest segments; if that is all of them, the active one is
 * rolled first so the log keeps an (empty) active segment, as Kafka. */
static int delete_oldest(sm_plog *l, int n, int64_t now_ms, const char *reason)
{
    if (n <= 0)
        return 0;
    if (n == l->nseg) {
        char err[256];
        if (sm_plog_roll_(l, now_ms, err, sizeof err) != SM_OK) {
            sm_warn("%s: cannot roll the active segment to delete it: %s", l->dir, err);
            n--;
        }
    }
    sm_plog_delete_front_(l, n, reason);
    return n;
}

/* Leading segments whose next segment starts at or below LogStartOffset. */
static int below_start(const sm_plog *l)
{
    int n = 0;
    while (n + 1 < l->nseg && l->segs[n + 1]->base_offset <= l->start_offset)
        n++;
    return n;
}

int sm_plog_housekeep(sm_plog *l, int64_t now_ms)
{
    int deleted = 0;
    char reason[160];
    if (sm_plog_offline_(l))
        return 0; /* its files stay exactly as they are */
    if (sm_plog_roll_due_(l, now_ms)) {
        char err[256];
        if (sm_plog_roll_(l, now_ms, err, sizeof err) != SM_OK)
            sm_warn("%s: time-based roll (log.roll.ms) failed: %s", l->dir, err);
    }

    if (l->cfg.retention_ms >= 0) {
        int n = 0;
        while (n < l->nseg) {
            sm_segment *s = l->segs[n];
            if (n == l->nseg - 1 && s->size == 0)
                break;
            if (now_ms - sm_seg_largest_ts(s, l->cfg.index_interval_bytes) <= l->cfg.retention_ms)
                break;
            n++;
        }
        snprintf(reason, sizeof reason, "its newest record is older than log.retention.ms (%lld)",
                 (long long)l->cfg.retention_ms);
        deleted += delete_oldest(l, n, now_ms, reason);
    }

    if (l->cfg.retention_bytes >= 0) {
        int64_t excess = l->size - l->cfg.retention_bytes;
        int n = 0;
        while (n < l->nseg) {
            sm_segment *s = l->segs[n];
            if ((n == l->nseg - 1 && s->size == 0) || excess - s->size < 0)
                break;
            excess -= s->size;
            n++;
        }
        snprintf(reason, sizeof reason, "the log is over log.retention.bytes (%lld)",
                 (long long)l->cfg.retention_bytes);
        deleted += delete_oldest(l, n, now_ms, reason);
    }

    int n = below_start(l);
    if (n) {
        snprintf(reason, sizeof reason, "below the log start offset %lld",
                 (long long)l->start_offset);
        sm_plog_delete_front_(l, n, reason);
        deleted += n;
    }
    return deleted;
}

int sm_plog_delete_records(sm_plog *l, int64_t offset, char *err, size_t errlen)
{
    if (sm_plog_offline_(l))
        return sm_fail(err, errlen, SM_EIO, "%s: the log is offline: %s", l->dir, l->failed_why);
    if (offset < 0 || offset > l->end_offset)
        return sm_fail(err, errlen, SM_ERANGE,
                       "%s: cannot delete records below %lld: the log ends at %lld", l->dir,
                       (long long)offset, (long long)l->end_offset);
    if (offset <= l->start_offset)
        return SM_OK;
    int rc = sm_plog_write_start_(l, offset, err, errlen);
    if (rc != SM_OK)
        return rc;
    l->start_offset = offset;
    sm_info("%s: log start offset moved to %lld (DeleteRecords)", l->dir, (long long)offset);
    int n = below_start(l);
    if (n) {
        char reason[96];
        snprintf(reason, sizeof reason, "below the log start offset %lld (DeleteRecords)",
                 (long long)offset);
        sm_plog_delete_front_(l, n, reason);
    }
    return SM_OK;
}
