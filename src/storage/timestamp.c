/* timestamp.c: ListOffsets by time: the earliest offset at or after a
 * timestamp, and the offset of the largest timestamp.
 *
 * The one idea: a time index entry (T, O) says every record up to the
 * batch ending at O has a timestamp <= T (T is the largest timestamp so far
 * when the entry was made). So for a target ts, the last entry with T < ts
 * proves that the answer lies after O, and the scan starts there: batches
 * whose MaxTimestamp is below ts are skipped by their header alone, and only
 * the one batch that can hold the answer is read and its records parsed
 * (uncompressed) to find the exact record. A compressed batch is not
 * decompressed: its first offset is the answer, which is safe for a
 * consumer that seeks there. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "storage/log_int.h"

#define TIME_WINDOW 8192

/* The first record of batch b (read whole through c) at or after min_offset
 * with a timestamp >= ts. SM_ENOENT if none (MaxTimestamp overstated it). */
static int search_batch(sm_segment *s, sm_cursor *c, const sm_bref *b, int64_t ts,
                        int64_t min_offset, int64_t *offset, int64_t *timestamp)
{
    int rc = SM_OK;
    const uint8_t *p = sm_cursor_get(c, b->pos, (size_t)b->size, &rc);
    if (!p)
        return rc;
    sm_batch_hdr h;
    sm_batch_hdr_decode(p, &h);
    sm_rec_iter it;
    sm_rec_iter_init(&it, p, &h, 0, false);
    sm_record rec;
    int got;
    while ((got = sm_rec_iter_next(&it, &rec)) == 1) {
        /* stored deltas are the producer's: add without overflowing */
        int64_t off = b->base_offset + rec.offset_delta,
                rts = (int64_t)((uint64_t)h.base_timestamp + (uint64_t)rec.timestamp_delta);
        if (off >= min_offset && rts >= ts) {
            *offset = off;
            *timestamp = rts;
            break;
        }
    }
    if (got < 0)
        sm_log_limited(SM_LOG_ERROR, "%s.log: the batch at position %lld: %s", s->path,
                       (long long)b->pos, it.why);
    sm_rec_iter_release(&it);
    return got == 1 ? SM_OK : got == 0 ? SM_ENOENT : SM_ECORRUPT;
}

/* The first record of segment i at or after min_offset whose timestamp is >= ts. */
static int seg_search(sm_plog *l, int i, int64_t ts, int64_t min_offset, int64_t *offset,
                      int64_t *timestamp)
{
    sm_segment *s = l->segs[i];
    if (sm_plog_seg_index_(l, s) == SM_OK && s->index_loaded) {
        int64_t k = sm_ti_below(&s->ti, ts);
        if (k >= 0) {
            int64_t o = s->base_offset + sm_ti_rel(&s->ti, (uint32_t)k);
            if (o + 1 > min_offset)
                min_offset = o + 1;
        }
    }
    sm_bref b;
    int rc = sm_plog_find_batch_(l, i, min_offset, &b);
    if (rc != SM_OK)
        return rc;
    uint8_t buf[TIME_WINDOW];
    sm_cursor c;
    sm_cursor_init(&c, s->fd, s->size, buf, sizeof buf);
    int64_t pos = b.pos, expect = b.base_offset;
    while (pos < s->size) {
        char why[160];
        if ((rc = sm_cursor_batch(&c, pos, expect, &b, why, sizeof why)) != SM_OK) {
            sm_log_limited(SM_LOG_ERROR, "%s.log: damaged batch at position %lld: %s", s->path,
                           (long long)pos, why);
            break;
        }
        rc = SM_ENOENT;
        if (b.last_offset >= min_offset && b.max_ts >= ts) {
            if ((b.attributes & (SM_ATTR_COMPRESSION_MASK | SM_ATTR_TIMESTAMP_LOG_APPEND)) != 0) {
                /* every record of a LogAppendTime batch has MaxTimestamp; a
                 * compressed batch is answered by its first offset */
                *offset = b.base_offset > min_offset ? b.base_offset : min_offset;
                *timestamp = b.max_ts;
                rc = SM_OK;
                break;
            }
            rc = search_batch(s, &c, &b, ts, min_offset, offset, timestamp);
            if (rc != SM_ENOENT)
                break;
        }
        expect = b.last_offset + 1;
        pos += b.size;
    }
    sm_cursor_release(&c);
    return rc;
}

static int time_lookup(sm_plog *l, int64_t ts, int64_t *offset, int64_t *timestamp)
{
    for (int i = sm_plog_seg_for_(l, l->start_offset); i < l->nseg; i++) {
        sm_segment *s = l->segs[i];
        if (s->size == 0 || s->next_offset <= l->start_offset)
            continue;
        if (sm_seg_load_meta(s, l->cfg.index_interval_bytes) == SM_OK && s->max_ts < ts)
            continue; /* nothing that recent here */
        int rc = seg_search(l, i, ts, l->start_offset, offset, timestamp);
        if (rc != SM_ENOENT)
            return rc;
    }
    return SM_ENOENT;
}

/* The largest MaxTimestamp of the batches of segment i that hold offsets
 * at or above `from` (the first segment after DeleteRecords). */
static int live_max(sm_plog *l, int i, int64_t from, int64_t *max_ts)
{
    sm_segment *s = l->segs[i];
    sm_bref b;
    int rc = sm_plog_find_batch_(l, i, from, &b);
    *max_ts = SM_NO_TIMESTAMP;
    if (rc == SM_ENOENT)
        return SM_OK;
    if (rc != SM_OK)
        return rc;
    uint8_t buf[TIME_WINDOW];
    sm_cursor c;
    sm_cursor_init(&c, s->fd, s->size, buf, sizeof buf);
    int64_t pos = b.pos, expect = b.base_offset;
    while (pos < s->size) {
        char why[160];
        if ((rc = sm_cursor_batch(&c, pos, expect, &b, why, sizeof why)) != SM_OK)
            break;
        if (b.max_ts > *max_ts)
            *max_ts = b.max_ts;
        expect = b.last_offset + 1;
        pos += b.size;
    }
    sm_cursor_release(&c);
    return rc;
}

static int max_lookup(sm_plog *l, int64_t *offset, int64_t *timestamp)
{
    int64_t best = SM_NO_TIMESTAMP;
    int best_i = -1;
    for (int i = sm_plog_seg_for_(l, l->start_offset); i < l->nseg; i++) {
        sm_segment *s = l->segs[i];
        if (s->size == 0 || s->next_offset <= l->start_offset)
            continue;
        int rc = sm_seg_load_meta(s, l->cfg.index_interval_bytes);
        if (rc != SM_OK)
            return rc;
        int64_t m = s->max_ts;
        if (s->base_offset < l->start_offset && m > best &&
            (rc = live_max(l, i, l->start_offset, &m)) != SM_OK)
            return rc;
        if (m > best) {
            best = m;
            best_i = i;
        }
    }
    if (best_i < 0)
        return SM_ENOENT;
    /* no record before segment best_i reaches best: the first that does is the answer */
    return seg_search(l, best_i, best, l->start_offset, offset, timestamp);
}

/* A damaged segment found by a lookup takes the log offline, as a read does. */
static int checked(sm_plog *l, int rc, const char *what)
{
    if (rc == SM_ECORRUPT)
        sm_plog_set_offline_(l, "%s found a damaged batch", what);
    return rc;
}

int sm_plog_offset_for_time(sm_plog *l, int64_t ts, int64_t *offset, int64_t *timestamp)
{
    if (sm_plog_offline_(l))
        return SM_EIO;
    return checked(l, time_lookup(l, ts, offset, timestamp), "a lookup by time");
}

int sm_plog_max_timestamp(sm_plog *l, int64_t *offset, int64_t *timestamp)
{
    if (sm_plog_offline_(l))
        return SM_EIO;
    return checked(l, max_lookup(l, offset, timestamp), "the largest-timestamp lookup");
}
