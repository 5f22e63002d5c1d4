/* open.c: opening a partition directory: finding its segments, a clean
 * start's quick resume, and an unclean start's recovery.
 *
 * The one idea: after a crash, what was written after the last sync may be
 * torn or lost anywhere (a crash can lose any page that was not synced),
 * but what was fsynced is good and the log was written in order. The
 * recovery point (segment and position, recorded after every sync) says
 * where the unsynced part begins; as Kafka does, only that part is
 * recovered: every batch from there on is checked in full (length, magic,
 * CRC-32C, contiguous offsets), and at the first bad batch the segment is
 * cut there and every later segment is removed, since it could not follow.
 * With no recovery point everything is recovered that way. What lies below
 * the point is never cut: it was acknowledged as durable. Its segments'
 * tails (every batch after the last sound index entry) are still checked
 * in full, and damage found there, or segments that do not add up, open
 * the log offline with nothing changed. Indexes are cut back to their sane
 * prefix and their state is rebuilt from the last moment both described
 * together. A clean start trusts the files and reads only the active
 * segment's last index entries and the few batch headers after them; if
 * even that does not add up, the log is recovered as after a crash. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/crc32c.h"
#include "base/err.h"
#include "base/log.h"
#include "storage/log_int.h"

#define RECOVERY_WINDOW (1 << 20)

typedef struct bases {
    int64_t *v;
    int n, cap;
} bases;

static int bases_add(bases *b, int64_t v)
{
    if (b->n == b->cap) {
        int cap = b->cap ? b->cap * 2 : 16;
        int64_t *p = realloc(b->v, (size_t)cap * sizeof *p);
        if (!p)
            return SM_ENOMEM;
        b->v = p;
        b->cap = cap;
    }
    b->v[b->n++] = v;
    return SM_OK;
}

static bool bases_has(const bases *b, int64_t v)
{
    for (int i = 0; i < b->n; i++)
        if (b->v[i] == v)
            return true;
    return false;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Kafka's segment file names: exactly 20 decimal digits, then the extension. */
static bool parse_segment_name(const char *name, int64_t *base, const char **ext)
{
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (!isdigit((unsigned char)name[i]))
            return false;
        int d = name[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (name[20] != '.')
        return false;
    *base = v;
    *ext = name + 20;
    return true;
}

/* Lists the directory: segment base offsets (sorted), and cleans what an
 * interrupted operation left behind. */
static int scan_dir(sm_plog *l, bases *logs, char *err, size_t errlen)
{
    bases idx = {0};
    DIR *d = opendir(l->dir);
    if (!d)
        return sm_fail(err, errlen, SM_EIO, "%s: %s", l->dir, strerror(errno));
    int rc = SM_OK;
    struct dirent *de;
    while (rc == SM_OK && (de = readdir(d))) {
        const char *name = de->d_name, *ext;
        int64_t base;
        char f[PATH_MAX];
        snprintf(f, sizeof f, "%s/%s", l->dir, name);
        if (ends_with(name, ".deleted") || ends_with(name, ".cleaned") ||
            !strcmp(name, SM_START_CHECKPOINT ".tmp")) {
            /* a deletion or a checkpoint write that was cut short */
            sm_info("%s: removing the leftover file", f);
            if (unlink(f) != 0)
                sm_warn("cannot remove %s: %s", f, strerror(errno));
        } else if (ends_with(name, ".swap")) {
            sm_warn("%s: a log cleaner swap file: samsa does not compact; ignoring it", f);
        } else if (parse_segment_name(name, &base, &ext)) {
            if (!strcmp(ext, ".log"))
                rc = bases_add(logs, base);
            else if (!strcmp(ext, ".index") || !strcmp(ext, ".timeindex"))
                rc = bases_add(&idx, base);
        }
    }
    closedir(d);
    if (rc != SM_OK) {
        free(idx.v);
        return sm_fail(err, errlen, rc, "%s: out of memory", l->dir);
    }
    if (logs->n > 1)
        qsort(logs->v, (size_t)logs->n, sizeof logs->v[0], cmp_i64);
    for (int i = 0; i < idx.n; i++) {
        if (bases_has(logs, idx.v[i]))
            continue;
        /* an index without its log: what remains of a deletion */
        static const char *const ext[] = {".index", ".timeindex"};
        for (int k = 0; k < 2; k++) {
            char f[PATH_MAX];
            snprintf(f, sizeof f, "%s/%020lld%s", l->dir, (long long)idx.v[i], ext[k]);
            if (unlink(f) == 0)
                sm_info("%s: removed: its segment's .log file is gone", f);
        }
    }
    free(idx.v);
    return SM_OK;
}

/* Removes segs[from..nseg) (files and memory) during open. */
static void drop_tail(sm_plog *l, int from, const char *why)
{
    for (int i = l->nseg - 1; i >= from; i--) {
        sm_segment *s = l->segs[i];
        sm_warn("recovery: %s.log: deleted (base offset %lld, %lld bytes): %s", s->path,
                (long long)s->base_offset, (long long)s->size, why);
        sm_seg_unlink(s);
        sm_seg_unref(s);
    }
    l->nseg = from;
}

/* ---- recovery ----------------------------------------------------------------- */

/* Loads an index for recovery; *damaged tells if it was missing or torn
 * (logged unless quiet). */
static int load_index_for_recovery(sm_segment *s, sm_index *ix, const char *ext, size_t esz,
                                   bool quiet, bool *damaged, char *err, size_t errlen)
{
    char f[PATH_MAX], msg[300];
    snprintf(f, sizeof f, "%s%s", s->path, ext);
    bool torn = false;
    uint32_t max_entries = (uint32_t)(s->size / SM_BATCH_HEADER_LEN + 1);
    int rc = sm_index_load(ix, f, esz, max_entries, &torn, msg, sizeof msg);
    if (rc == SM_EIO || rc == SM_ENOMEM)
        return sm_fail(err, errlen, rc, "%s", msg);
    if (rc != SM_OK) {
        if (rc != SM_ENOENT || s->size > 0) { /* an empty segment may lack its indexes */
            *damaged = true;
            if (!quiet)
                sm_warn("recovery: %s: rebuilding it from the log", msg);
        }
        sm_index_clear(ix);
    } else if (torn) {
        *damaged = true;
        if (!quiet)
            sm_warn("recovery: %s: size is not a multiple of %zu bytes: the partial entry is "
                    "dropped", f, esz);
    }
    return SM_OK;
}

/* Reads and fully checks (CRC included) the batch at pos; its last offset must be `last`. */
static int check_batch_at(sm_segment *s, int64_t pos, int64_t last, sm_bref *b, char *why,
                          size_t whylen)
{
    uint8_t *buf = malloc(RECOVERY_WINDOW);
    if (!buf)
        return sm_fail(why, whylen, SM_ENOMEM, "out of memory");
    sm_cursor c;
    sm_cursor_init(&c, s->fd, s->size, buf, RECOVERY_WINDOW);
    int rc = sm_cursor_batch(&c, pos, -1, b, why, whylen);
    if (rc == SM_OK && b->last_offset != last)
        rc = sm_fail(why, whylen, SM_ECORRUPT, "the batch there ends at offset %lld",
                     (long long)b->last_offset);
    if (rc == SM_OK) {
        const uint8_t *p = sm_cursor_get(&c, pos, (size_t)b->size, &rc);
        sm_batch_hdr h;
        sm_batch_check chk;
        if (!p)
            sm_fail(why, whylen, rc, "cannot read the batch");
        else if ((chk = sm_batch_validate(p, (size_t)b->size, &h)) != SM_BATCH_OK)
            rc = sm_fail(why, whylen, SM_ECORRUPT, "%s", sm_batch_check_str(chk));
    }
    sm_cursor_release(&c);
    free(buf);
    return rc;
}

/* How far a recovery pass may trust a segment's time index. */
typedef enum {
    TRUST_NOTHING, /* rebuild the index state from the last time entry */
    TRUST_FINAL,   /* a rolled segment whose time index ends with its final entry */
    TRUST_SYNCED,  /* older than the recovery point: its index files were fsynced */
} trust_level;

/* One recovery pass over a segment. A trusting pass keeps the time index
 * of a rolled segment as it is: it is whole if its index files were
 * fsynced after the roll (TRUST_SYNCED), and very likely whole if it still
 * ends with its final entry, made at roll after every other entry of both
 * files (TRUST_FINAL). A trusting pass returns SM_AGAIN, having changed
 * nothing on disk and logged nothing, at the first sign of damage or if the
 * log contradicts the time index; the caller then runs the careful pass.
 * The file is never cut below `floor` (the synced part): a bad batch there
 * returns SM_ECORRUPT (err says where) with nothing changed on disk. */
static int recover_pass(sm_plog *l, sm_segment *s, trust_level trust, int64_t floor, bool *cut,
                        char *err, size_t errlen)
{
    bool trust_final = trust != TRUST_NOTHING;
    int32_t interval = l->cfg.index_interval_bytes;
    const char *why;
    char msg[300];
    bool damaged = false;
    *cut = false;
    int rc = load_index_for_recovery(s, &s->oi, ".index", SM_OI_ENTRY, trust_final, &damaged, err,
                                     errlen);
    if (rc == SM_OK)
        rc = load_index_for_recovery(s, &s->ti, ".timeindex", SM_TI_ENTRY, trust_final, &damaged,
                                     err, errlen);
    if (rc != SM_OK)
        return rc;
    if (trust_final && damaged)
        return SM_AGAIN;

    uint32_t k = sm_oi_valid_prefix(&s->oi, s->size, &why);
    if (k < s->oi.n) {
        if (trust_final)
            return SM_AGAIN;
        sm_warn("recovery: %s.index: entries %u..%u dropped: %s", s->path, k, s->oi.n - 1, why);
        sm_index_truncate(&s->oi, k);
    }
    k = sm_ti_valid_prefix(&s->ti, &why);
    if (k < s->ti.n) {
        if (trust_final)
            return SM_AGAIN;
        sm_warn("recovery: %s.timeindex: entries %u..%u dropped: %s", s->path, k, s->ti.n - 1,
                why);
        sm_index_truncate(&s->ti, k);
    }
    /* Every batch from the last index entry on is checked in full. The last
     * entry must point at a sound batch that ends at its offset; if not, it
     * goes and the one before is tried. */
    int64_t check_from = 0, check_expect = s->base_offset;
    for (int attempt = 0; s->oi.n > 0; attempt++) {
        int64_t pos = sm_oi_pos(&s->oi, s->oi.n - 1);
        int64_t last = s->base_offset + sm_oi_rel(&s->oi, s->oi.n - 1);
        sm_bref b;
        rc = check_batch_at(s, pos, last, &b, msg, sizeof msg);
        if (rc == SM_EIO || rc == SM_ENOMEM)
            return sm_fail(err, errlen, rc, "%s.log: %s", s->path, msg);
        if (rc == SM_OK) {
            check_from = pos;
            check_expect = b.base_offset;
            break;
        }
        if (trust_final)
            return SM_AGAIN;
        sm_warn("recovery: %s.index: the entry for offset %lld at position %lld does not match "
                "the log (%s)%s", s->path, (long long)last, (long long)pos, msg,
                attempt < 8 ? ": trying the entry before" : ": rebuilding the index");
        sm_index_truncate(&s->oi, attempt < 8 ? s->oi.n - 1 : 0);
    }
    s->max_ts = s->first_ts = SM_NO_TIMESTAMP;
    s->max_ts_offset = -1;
    s->bytes_since_index = 0;
    {
        uint8_t buf[SM_BATCH_HEADER_LEN];
        sm_cursor c;
        sm_bref b;
        sm_cursor_init(&c, s->fd, s->size, buf, sizeof buf);
        if (sm_cursor_batch(&c, 0, s->base_offset, &b, msg, sizeof msg) == SM_OK)
            s->first_ts = b.max_ts;
        sm_cursor_release(&c);
    }
    int32_t orel = s->oi.n ? sm_oi_rel(&s->oi, s->oi.n - 1) : -1;
    int64_t from = 0, expect = s->base_offset, final_ts = SM_NO_TIMESTAMP, final_off = -1;
    if (trust == TRUST_FINAL && !(s->ti.n && sm_ti_rel(&s->ti, s->ti.n - 1) > orel))
        return SM_AGAIN;
    if (trust_final) {
        /* the largest timestamp of the whole segment: nothing is appended to
         * a rolled segment, so it stands for the state at the last entry */
        if (s->ti.n) {
            final_ts = sm_ti_ts(&s->ti, s->ti.n - 1);
            final_off = s->base_offset + sm_ti_rel(&s->ti, s->ti.n - 1);
        }
        s->max_ts = final_ts;
        s->max_ts_offset = final_off;
        from = check_from;
        expect = check_expect;
    } else {
        /* The index state (largest timestamp so far, entries) is rebuilt from
         * the moment both indexes last described together: the first offset
         * entry at or after the last time entry's batch. A time entry is made
         * whenever the largest timestamp grows, at an offset entry (or at
         * close or roll, covering the batches after the last offset entry),
         * so there the largest timestamp so far is that time entry's. From
         * that entry to the checked tail only batch headers are read, which
         * is how time entries that the crash lost are made again, identical;
         * without any time entry this starts at the beginning. */
        k = s->ti.n;
        while (k > 0 && sm_ti_rel(&s->ti, k - 1) > orel)
            k--;
        sm_index_truncate(&s->ti, k);
        if (k == 0) {
            sm_index_truncate(&s->oi, 0);
        } else {
            sm_index_truncate(&s->oi,
                              (uint32_t)(sm_oi_floor(&s->oi, sm_ti_rel(&s->ti, k - 1) - 1) + 2));
            from = sm_oi_pos(&s->oi, s->oi.n - 1);
            uint8_t buf[SM_BATCH_HEADER_LEN];
            sm_cursor c;
            sm_bref b;
            sm_cursor_init(&c, s->fd, s->size, buf, sizeof buf);
            rc = sm_cursor_batch(&c, from, -1, &b, msg, sizeof msg);
            sm_cursor_release(&c);
            if (rc == SM_EIO)
                return sm_fail(err, errlen, rc, "%s.log: %s", s->path, msg);
            if (rc == SM_OK) {
                expect = b.base_offset;
                s->max_ts = sm_ti_ts(&s->ti, k - 1);
                s->max_ts_offset = s->base_offset + sm_ti_rel(&s->ti, k - 1);
            } else { /* not even a header there: start over */
                sm_index_truncate(&s->oi, 0);
                sm_index_truncate(&s->ti, 0);
                from = 0;
            }
        }
    }
    s->next_offset = expect;
    int64_t end = from;
    rc = SM_OK;
    if (from < check_from) {
        rc = sm_seg_scan(s, from, check_from, expect, interval, false, &end, msg, sizeof msg);
        if (rc == SM_OK && end != check_from) {
            /* the entries do not describe this log: check all of it */
            sm_warn("recovery: %s.index: its entries do not match the batches: rebuilding it",
                    s->path);
            sm_index_clear(&s->oi);
            sm_index_clear(&s->ti);
            s->max_ts = SM_NO_TIMESTAMP;
            s->max_ts_offset = -1;
            s->bytes_since_index = 0;
            s->next_offset = s->base_offset;
            check_from = 0;
        }
    }
    if (rc == SM_OK)
        rc = sm_seg_scan(s, check_from, s->size, s->next_offset, interval, true, &end, msg,
                         sizeof msg);
    if (rc == SM_EIO || rc == SM_ENOMEM)
        return sm_fail(err, errlen, rc, "%s.log: position %lld: %s", s->path, (long long)end, msg);
    if (trust_final) {
        /* the last time entry must still be the truth: not exceeded by the
         * tail, inside the log, naming a batch with that MaxTimestamp */
        sm_bref b;
        uint8_t buf[8192];
        bool ok = rc == SM_OK && s->max_ts == final_ts;
        if (ok && final_off >= 0) {
            int64_t fk = sm_oi_floor(&s->oi, sm_rel_clamp(final_off, s->base_offset));
            int64_t at = fk >= 0 ? sm_oi_pos(&s->oi, (uint32_t)fk) : 0;
            int64_t first_last = fk >= 0 ? s->base_offset + sm_oi_rel(&s->oi, (uint32_t)fk) : -1;
            ok = final_off < s->next_offset &&
                 sm_seg_find(s, at, fk >= 0 ? -1 : s->base_offset, first_last, final_off, &b, buf,
                             sizeof buf) == SM_OK &&
                 b.last_offset == final_off && b.max_ts == final_ts;
        }
        if (!ok)
            return SM_AGAIN;
    }
    if (rc != SM_OK) {
        if (end < floor)
            return sm_fail(err, errlen, SM_ECORRUPT,
                           "%s.log: damaged batch at position %lld (offset %lld) in data that was "
                           "synced (below the recovery point): %s", s->path, (long long)end,
                           (long long)s->next_offset, msg);
        sm_warn("recovery: %s.log: truncated at position %lld (offset %lld), after the recovery "
                "point: %s; %lld byte(s) discarded", s->path, (long long)end,
                (long long)s->next_offset, msg, (long long)(s->size - end));
        if (ftruncate(s->fd, (off_t)end) != 0 || fdatasync(s->fd) != 0)
            return sm_fail(err, errlen, SM_EIO, "%s.log: cannot truncate to %lld bytes: %s",
                           s->path, (long long)end, strerror(errno));
        s->size = end;
        *cut = true;
    }
    s->meta_ok = s->index_loaded = true;
    return SM_OK;
}

/* Checks every batch (CRC included) from file position `from`, a batch
 * boundary at or after the recovery point, to the end, and cuts the
 * segment at the first bad one. */
static int verify_from(sm_segment *s, int64_t from, bool *cut, char *err, size_t errlen)
{
    uint8_t *buf = malloc(RECOVERY_WINDOW);
    if (!buf)
        return sm_fail(err, errlen, SM_ENOMEM, "out of memory");
    sm_cursor c;
    sm_cursor_init(&c, s->fd, s->size, buf, RECOVERY_WINDOW);
    int64_t pos = from, expect = from == 0 ? s->base_offset : -1;
    int rc = SM_OK;
    char why[200];
    while (pos < s->size) {
        sm_bref b;
        if ((rc = sm_cursor_batch(&c, pos, expect, &b, why, sizeof why)) != SM_OK)
            break;
        const uint8_t *p = sm_cursor_get(&c, pos, (size_t)b.size, &rc);
        sm_batch_hdr h;
        sm_batch_check chk;
        if (!p) {
            sm_fail(why, sizeof why, rc, "cannot read the batch");
            break;
        }
        if ((chk = sm_batch_validate(p, (size_t)b.size, &h)) != SM_BATCH_OK) {
            rc = sm_fail(why, sizeof why, SM_ECORRUPT, "%s", sm_batch_check_str(chk));
            break;
        }
        expect = b.last_offset + 1;
        pos += b.size;
    }
    sm_cursor_release(&c);
    free(buf);
    if (rc == SM_EIO || rc == SM_ENOMEM)
        return sm_fail(err, errlen, rc, "%s.log: position %lld: %s", s->path, (long long)pos, why);
    if (rc != SM_OK) {
        char off[48] = "";
        if (expect >= 0)
            snprintf(off, sizeof off, " (offset %lld)", (long long)expect);
        sm_warn("recovery: %s.log: truncated at position %lld%s, in data written after the "
                "recovery point (not known to be synced): %s; %lld byte(s) discarded", s->path,
                (long long)pos, off, why, (long long)(s->size - pos));
        if (ftruncate(s->fd, (off_t)pos) != 0 || fdatasync(s->fd) != 0)
            return sm_fail(err, errlen, SM_EIO, "%s.log: cannot truncate to %lld bytes: %s",
                           s->path, (long long)pos, strerror(errno));
        s->size = pos;
        *cut = true;
    }
    return SM_OK;
}

/* Recovers one segment whose file positions below `floor` were synced
 * (INT64_MAX: all of it, `synced` then tells its index files were too).
 * Every batch from the floor on is checked in full first: a crash can lose
 * any page that was not synced, not only the last. Then its indexes are
 * cut to their sane prefix and every batch from the last sound index entry
 * on is checked in full. The segment is truncated at the first bad batch
 * at or above the floor (*cut); one below it returns SM_ECORRUPT. A rolled
 * segment whose time index ends with its final entry is checked at its
 * tail only; any other is also read, headers only, from its last time
 * entry on. */
static int recover_segment(sm_plog *l, sm_segment *s, bool last, bool synced, int64_t floor,
                           bool *cut, char *err, size_t errlen)
{
    bool cut1 = false, cut2 = false;
    int rc = SM_OK;
    if (floor < s->size)
        rc = verify_from(s, floor, &cut1, err, errlen);
    trust_level trust = last || cut1 ? TRUST_NOTHING : synced ? TRUST_SYNCED : TRUST_FINAL;
    if (rc == SM_OK)
        rc = recover_pass(l, s, trust, floor, &cut2, err, errlen);
    if (rc == SM_AGAIN)
        rc = recover_pass(l, s, TRUST_NOTHING, floor, &cut2, err, errlen);
    *cut = cut1 || cut2;
    return rc;
}

/* The recovery point (see sm_plog_write_recovery_point_). */
static bool read_recovery_point(sm_plog *l, int64_t *base, int64_t *pos)
{
    char buf[64], crc[16];
    ssize_t n = l->rp_fd >= 0 ? pread(l->rp_fd, buf, sizeof buf - 1, 0) : -1;
    if (n == 0)
        return false; /* never synced */
    if (n != 53) {
        sm_warn("recovery: %s/%s: unreadable (%zd bytes): every batch of the log is checked",
                l->dir, SM_RECOVERY_POINT, n);
        return false;
    }
    buf[n] = 0;
    snprintf(crc, sizeof crc, "%08x\n", sm_crc32c(0, buf, 44));
    if (buf[0] != '0' || buf[1] != '\n' || buf[22] != ' ' || buf[43] != ' ' ||
        strcmp(buf + 44, crc) != 0) {
        sm_warn("recovery: %s/%s: damaged: every batch of the log is checked", l->dir,
                SM_RECOVERY_POINT);
        return false;
    }
    int64_t v[2] = {0, 0};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 20; i++) {
            char ch = buf[2 + 21 * k + i];
            if (ch < '0' || ch > '9' || v[k] > (INT64_MAX - 9) / 10)
                return false;
            v[k] = v[k] * 10 + (ch - '0');
        }
    *base = v[0];
    *pos = v[1];
    return true;
}

/* Recovers the log after a crash (see sm_plog_open). SM_ECORRUPT (err says
 * what) if data below the recovery point is damaged or missing: then
 * nothing at or below the point has been changed on disk. */
static int recover(sm_plog *l, char *err, size_t errlen)
{
    int64_t expect = -1;
    bool removed = false;
    /* Segments older than the recovery point's were synced whole (their
     * index files too); the one it names is synced below its position;
     * later ones not at all. Without a point, nothing is known synced. */
    int64_t rp_base = -1, rp_pos = 0;
    if (read_recovery_point(l, &rp_base, &rp_pos)) {
        int k = -1;
        for (int i = 0; i < l->nseg; i++)
            if (l->segs[i]->base_offset == rp_base)
                k = i;
        if (k < 0 && rp_base < l->segs[0]->base_offset) {
            rp_base = -1; /* retention took its segment: all that is left came later */
        } else if (k < 0) {
            return sm_fail(err, errlen, SM_ECORRUPT,
                           "%s/%020lld.log is missing, but the recovery point says it was synced",
                           l->dir, (long long)rp_base);
        } else if (l->segs[k]->size < rp_pos) {
            return sm_fail(err, errlen, SM_ECORRUPT,
                           "%s.log holds %lld bytes, but the recovery point says %lld were synced",
                           l->segs[k]->path, (long long)l->segs[k]->size, (long long)rp_pos);
        }
    } else if (l->nseg > 1 || l->segs[0]->size > 0) {
        sm_info("recovery: %s: no recovery point: every batch is checked", l->dir);
    }
    for (int i = 0; i < l->nseg; i++) {
        sm_segment *s = l->segs[i];
        bool synced = rp_base >= 0 && s->base_offset < rp_base;
        int64_t floor = rp_base < 0 || s->base_offset > rp_base ? 0 : synced ? INT64_MAX : rp_pos;
        if (expect >= 0 && s->base_offset != expect) {
            if (rp_base >= 0 && s->base_offset <= rp_base)
                return sm_fail(err, errlen, SM_ECORRUPT,
                               "%s.log: its base offset does not follow the end %lld of %s.log, "
                               "below the recovery point", s->path, (long long)expect,
                               l->segs[i - 1]->path);
            char why[PATH_MAX + 80];
            snprintf(why, sizeof why, "its base offset does not follow the end %lld of %s.log",
                     (long long)expect, l->segs[i - 1]->path);
            drop_tail(l, i, why);
            removed = true;
            break;
        }
        bool cut;
        int rc = recover_segment(l, s, i == l->nseg - 1, synced, floor, &cut, err, errlen);
        if (rc != SM_OK)
            return rc;
        expect = s->next_offset;
        if (cut && i + 1 < l->nseg) {
            char why[PATH_MAX + 64];
            snprintf(why, sizeof why, "it follows the truncation point in %s.log", s->path);
            drop_tail(l, i + 1, why);
            removed = true;
        }
    }
    if (removed && fsync(l->dirfd) != 0)
        return sm_fail(err, errlen, SM_EIO, "fsync of %s: %s", l->dir, strerror(errno));
    /* bring the index files of the older segments in line, then free their memory */
    for (int i = 0; i + 1 < l->nseg; i++) {
        sm_segment *s = l->segs[i];
        char msg[256];
        if (sm_seg_activate(s, msg, sizeof msg) == SM_OK)
            sm_seg_deactivate(s);
        else
            sm_warn("recovery: %s", msg);
        sm_seg_drop_index(s);
    }
    return SM_OK;
}

/* ---- open --------------------------------------------------------------------- */

static int add_segment(sm_plog *l, sm_segment *s)
{
    if (l->nseg == l->segcap) {
        int cap = l->segcap ? l->segcap * 2 : 8;
        sm_segment **v = realloc(l->segs, (size_t)cap * sizeof *v);
        if (!v)
            return SM_ENOMEM;
        l->segs = v;
        l->segcap = cap;
    }
    l->segs[l->nseg++] = s;
    return SM_OK;
}

static int create_first(sm_plog *l, int64_t base, int64_t now, char *err, size_t errlen)
{
    sm_segment *s;
    int rc = sm_seg_create(&s, l->dir, base, now, err, errlen);
    if (rc != SM_OK)
        return rc;
    if (add_segment(l, s) != SM_OK) {
        sm_seg_unlink(s);
        sm_seg_unref(s);
        return sm_fail(err, errlen, SM_ENOMEM, "out of memory");
    }
    l->dir_gen++;
    return SM_OK;
}

static int open_log(sm_plog **out, const char *dir, const sm_log_config *cfg, bool clean,
                    char *err, size_t errlen)
{
    int64_t now = sm_wall_ms();
    int rc;
    bases logs = {0};
    sm_plog *l = calloc(1, sizeof *l);
    if (!l)
        return sm_fail(err, errlen, SM_ENOMEM, "out of memory");
    l->dirfd = l->rp_fd = -1;
    l->cfg = *cfg;
    atomic_init(&l->io_failed, false);
    atomic_init(&l->rp_off, false);
    atomic_init(&l->dir_synced_gen, 0);
    atomic_init(&l->parent_synced, false);
    atomic_init(&l->rp_synced_base, -1);
    l->dir = strdup(dir);
    l->parent = strdup(dir);
    if (!l->dir || !l->parent) {
        rc = sm_fail(err, errlen, SM_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t n = strlen(l->dir); n > 1 && l->dir[n - 1] == '/'; n--)
        l->dir[n - 1] = l->parent[n - 1] = 0;
    dir = l->dir;
    char *slash = strrchr(l->parent, '/');
    if (!slash)
        strcpy(l->parent, ".");
    else if (slash == l->parent)
        slash[1] = 0;
    else
        *slash = 0;

    if (mkdir(dir, 0755) == 0) {
        l->new_dir = true; /* its name in the parent must reach the disk too */
        l->dir_gen = 1;
    } else if (errno != EEXIST) {
        rc = sm_fail(err, errlen, SM_EIO, "cannot create %s: %s", dir, strerror(errno));
        goto fail;
    }
    l->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (l->dirfd < 0) {
        rc = sm_fail(err, errlen, SM_EIO, "%s: %s", dir, strerror(errno));
        goto fail;
    }
    char rp[PATH_MAX];
    snprintf(rp, sizeof rp, "%s/%s", dir, SM_RECOVERY_POINT);
    l->rp_fd = open(rp, O_RDWR | O_CLOEXEC);
    if (l->rp_fd < 0 && errno == ENOENT) {
        l->rp_fd = open(rp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        l->dir_gen++; /* its name must reach the disk with the first flush */
    }
    if (l->rp_fd < 0)
        sm_warn("%s: %s: an unclean start will check every batch", rp, strerror(errno));

    int64_t start = -1;
    rc = sm_plog_read_start_(dir, &start);
    if (rc == SM_ECORRUPT)
        sm_warn("%s/%s: unreadable: the log start offset is taken from the first segment", dir,
                SM_START_CHECKPOINT);
    if (rc != SM_OK)
        start = -1;

    if ((rc = scan_dir(l, &logs, err, errlen)) != SM_OK)
        goto fail;
    for (int i = 0; i < logs.n; i++) {
        sm_segment *s;
        if ((rc = sm_seg_open(&s, dir, logs.v[i], now, err, errlen)) != SM_OK)
            goto fail;
        if (add_segment(l, s) != SM_OK) {
            sm_seg_unref(s);
            rc = sm_fail(err, errlen, SM_ENOMEM, "out of memory");
            goto fail;
        }
    }
    if (l->nseg == 0 && (rc = create_first(l, start > 0 ? start : 0, now, err, errlen)) != SM_OK)
        goto fail;

    sm_segment *last = l->segs[l->nseg - 1];
    if (clean && !last->active) {
        for (int i = 0; i + 1 < l->nseg; i++)
            l->segs[i]->next_offset = l->segs[i + 1]->base_offset; /* details load lazily */
        char why[200];
        rc = sm_seg_resume(last, l->cfg.index_interval_bytes, why, sizeof why);
        if (rc != SM_OK) {
            rc = sm_fail(err, errlen, rc, "%s.log: %s", last->path, why);
            goto fail;
        }
    } else if (!clean) {
        rc = recover(l, err, errlen);
        if (rc == SM_ECORRUPT) {
            /* damage in synced data: nothing more is touched (no index
             * written, nothing deleted below the start); every operation
             * but close refuses */
            sm_plog_set_offline_(l, "%s", err);
            for (int i = 0; i < l->nseg; i++) {
                sm_segment *s = l->segs[i];
                if (i + 1 < l->nseg && !s->meta_ok)
                    s->next_offset = l->segs[i + 1]->base_offset;
                l->size += s->size;
            }
            l->end_offset = l->segs[l->nseg - 1]->next_offset;
            l->start_offset = start > l->segs[0]->base_offset ? start : l->segs[0]->base_offset;
            if (l->start_offset > l->end_offset)
                l->end_offset = l->start_offset;
            l->durable_offset = l->start_offset;
            free(logs.v);
            *out = l;
            return SM_OK;
        }
        if (rc != SM_OK)
            goto fail;
        last = l->segs[l->nseg - 1];
    }
    if ((rc = sm_seg_activate(last, err, errlen)) != SM_OK)
        goto fail;
    l->end_offset = last->next_offset;
    for (int i = 0; i < l->nseg; i++)
        l->size += l->segs[i]->size;

    /* LogStartOffset: the checkpoint, never below the first segment. One
     * beyond the end means records were lost after DeleteRecords: as Kafka,
     * start over empty at the checkpointed offset rather than reuse offsets
     * that consumers were told are gone. */
    if (start > l->end_offset) {
        sm_warn("%s: the log ends at %lld, below its start offset %lld: starting empty at %lld",
                dir, (long long)l->end_offset, (long long)start, (long long)start);
        sm_seg_deactivate(last);
        for (int i = l->nseg - 1; i >= 0; i--) {
            sm_seg_unlink(l->segs[i]);
            sm_seg_unref(l->segs[i]);
        }
        l->nseg = 0;
        l->size = 0;
        if ((rc = create_first(l, start, now, err, errlen)) != SM_OK)
            goto fail;
        l->end_offset = start;
    }
    l->start_offset = start > l->segs[0]->base_offset ? start : l->segs[0]->base_offset;
    int below = 0;
    while (below + 1 < l->nseg && l->segs[below + 1]->base_offset <= l->start_offset)
        below++;
    sm_plog_delete_front_(l, below, "below the log start offset");

    /* After a crash nothing is known to be on disk: the first flush syncs
     * every segment once. After a clean shutdown everything was synced. */
    for (int i = 0; i < l->nseg; i++) {
        sm_segment *s = l->segs[i];
        int64_t synced = clean ? s->size : 0;
        atomic_store(&s->synced_size, synced);
        s->scheduled_size = synced;
    }
    l->durable_offset = clean ? l->end_offset : l->start_offset;
    if (!clean)
        l->dir_gen++; /* the names of the segments found may not be durable either */
    free(logs.v);
    if (!clean)
        sm_info("%s: recovered: %d segment(s), offsets %lld..%lld, %lld bytes", dir, l->nseg,
                (long long)l->start_offset, (long long)l->end_offset, (long long)l->size);
    *out = l;
    return SM_OK;
fail:
    free(logs.v);
    for (int i = 0; i < l->nseg; i++)
        sm_seg_unref(l->segs[i]);
    l->nseg = 0;
    sm_plog_free_(l);
    return rc;
}

int sm_plog_open(sm_plog **out, const char *dir, const sm_log_config *cfg, bool clean, char *err,
                 size_t errlen)
{
    sm_seg_fds_trim();
    int rc = open_log(out, dir, cfg, clean, err, errlen);
    if (rc == SM_ECORRUPT && clean) {
        sm_warn("%s: %s: the log does not look cleanly closed: recovering it", dir, err);
        rc = open_log(out, dir, cfg, false, err, errlen);
    }
    if (rc == SM_OK)
        sm_plog_opened_(*out); /* a cold partition holds no descriptor */
    sm_seg_fds_trim();
    return rc;
}
