/* batch.c: record batch v2: header decoding, framing checks, the records
 * iterator (the one reader of the records section, compressed or not), the
 * checks Kafka makes on a producer's batch, and building uncompressed
 * batches. */
#include "proto/batch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crc32c.h"
#include "base/err.h"
#include "proto/compress.h"
#include "proto/kafka.h"

void sm_batch_hdr_decode(const uint8_t *p, sm_batch_hdr *h)
{
    h->base_offset = (int64_t)sm_be64(p + SM_BATCH_BASE_OFFSET_AT);
    h->batch_length = (int32_t)sm_be32(p + SM_BATCH_LENGTH_AT);
    h->partition_leader_epoch = (int32_t)sm_be32(p + SM_BATCH_LEADER_EPOCH_AT);
    h->magic = (int8_t)p[SM_BATCH_MAGIC_AT];
    h->crc = sm_be32(p + SM_BATCH_CRC_AT);
    h->attributes = (int16_t)sm_be16(p + SM_BATCH_ATTRIBUTES_AT);
    h->last_offset_delta = (int32_t)sm_be32(p + SM_BATCH_LAST_OFFSET_DELTA_AT);
    h->base_timestamp = (int64_t)sm_be64(p + SM_BATCH_BASE_TIMESTAMP_AT);
    h->max_timestamp = (int64_t)sm_be64(p + SM_BATCH_MAX_TIMESTAMP_AT);
    h->producer_id = (int64_t)sm_be64(p + SM_BATCH_PRODUCER_ID_AT);
    h->producer_epoch = (int16_t)sm_be16(p + SM_BATCH_PRODUCER_EPOCH_AT);
    h->base_sequence = (int32_t)sm_be32(p + SM_BATCH_BASE_SEQUENCE_AT);
    h->record_count = (int32_t)sm_be32(p + SM_BATCH_RECORD_COUNT_AT);
}

bool sm_batch_walk_next(sm_batch_walk *w, size_t *at, size_t *total)
{
    size_t left = w->len - w->pos;
    if (left < SM_BATCH_HEADER_LEN)
        return false;
    int64_t n = (int64_t)sm_batch_length(w->buf + w->pos) + SM_BATCH_LOG_OVERHEAD;
    if (n < SM_BATCH_HEADER_LEN || (uint64_t)n > left)
        return false;
    *at = w->pos;
    *total = (size_t)n;
    w->pos += (size_t)n;
    return true;
}

void sm_batch_stamp_log_append_time(uint8_t *p, sm_batch_hdr *h, int64_t now_ms)
{
    size_t total = (size_t)h->batch_length + SM_BATCH_LOG_OVERHEAD;
    h->attributes = (int16_t)(h->attributes | SM_ATTR_TIMESTAMP_LOG_APPEND);
    h->max_timestamp = now_ms;
    sm_put_be16(p + SM_BATCH_ATTRIBUTES_AT, (uint16_t)h->attributes);
    sm_put_be64(p + SM_BATCH_MAX_TIMESTAMP_AT, (uint64_t)now_ms);
    sm_put_be32(p + SM_BATCH_CRC_AT, sm_crc32c(0, p + SM_BATCH_CRC_START, total - SM_BATCH_CRC_START));
    h->crc = sm_be32(p + SM_BATCH_CRC_AT);
}

int64_t sm_batch_total_size(const uint8_t *p, size_t avail)
{
    if (avail < SM_BATCH_LOG_OVERHEAD)
        return -1;
    int32_t bl = sm_batch_length(p);
    if (bl < SM_BATCH_HEADER_LEN - SM_BATCH_LOG_OVERHEAD)
        return -1;
    return (int64_t)bl + SM_BATCH_LOG_OVERHEAD;
}

sm_batch_check sm_batch_validate(const uint8_t *p, size_t len, sm_batch_hdr *h)
{
    /* Magic sits at byte 16 in every message format: an old message set
     * (magic 0 or 1) is told apart before its shorter header misleads us */
    if (len > SM_BATCH_MAGIC_AT && p[SM_BATCH_MAGIC_AT] != 2)
        return SM_BATCH_BAD_MAGIC;
    if (len < SM_BATCH_HEADER_LEN)
        return SM_BATCH_TRUNCATED;
    int64_t total = sm_batch_total_size(p, len);
    if (total < 0)
        return SM_BATCH_BAD_LENGTH;
    if ((uint64_t)total > len)
        return SM_BATCH_TRUNCATED;
    sm_batch_hdr_decode(p, h);
    uint32_t crc = sm_crc32c(0, p + SM_BATCH_CRC_START, (size_t)total - SM_BATCH_CRC_START);
    if (crc != h->crc)
        return SM_BATCH_BAD_CRC;
    if (h->last_offset_delta < 0 || h->record_count < 0)
        return SM_BATCH_BAD_HEADER;
    /* an uncompressed record takes at least 7 bytes: a count beyond that is a
     * lie (compressed records can be far smaller than that on the wire) */
    if (!(h->attributes & SM_ATTR_COMPRESSION_MASK) &&
        h->record_count > (total - SM_BATCH_HEADER_LEN) / 7 + 1)
        return SM_BATCH_BAD_HEADER;
    return SM_BATCH_OK;
}

const char *sm_batch_check_str(sm_batch_check c)
{
    switch (c) {
    case SM_BATCH_OK: return "ok";
    case SM_BATCH_TRUNCATED: return "truncated batch";
    case SM_BATCH_BAD_LENGTH: return "BatchLength shorter than a batch header";
    case SM_BATCH_BAD_MAGIC: return "unsupported magic (only record batch v2 is accepted)";
    case SM_BATCH_BAD_CRC: return "CRC-32C mismatch";
    case SM_BATCH_BAD_HEADER: return "malformed batch header";
    case SM_BATCH_INVALID: return "invalid batch";
    case SM_BATCH_BAD_CODEC: return "unknown compression type";
    case SM_BATCH_UNDECOMPRESSABLE: return "records do not decompress";
    case SM_BATCH_BAD_TIMESTAMP: return "timestamp out of range";
    case SM_BATCH_TOO_LARGE_DECOMPRESSED: return "records decompress past the limit";
    case SM_BATCH_NO_MEMORY: return "out of memory";
    }
    return "?";
}

int16_t sm_batch_check_kerr(sm_batch_check c)
{
    switch (c) {
    case SM_BATCH_OK: return SM_KERR_NONE;
    /* Kafka: CorruptRecordException from the batch iterator and the CRC
     * check. A payload that does not decompress has its CRC right, so the
     * producer broke it before computing the CRC: Kafka's broker answered
     * CORRUPT_MESSAGE for that up to 0.10 (InvalidMessageException); since
     * then the codec's IOException escapes as UNKNOWN_SERVER_ERROR, which
     * tells the producer nothing, so samsa keeps CORRUPT_MESSAGE. */
    case SM_BATCH_TRUNCATED:
    case SM_BATCH_BAD_LENGTH:
    case SM_BATCH_BAD_CRC:
    case SM_BATCH_UNDECOMPRESSABLE: return SM_KERR_CORRUPT_MESSAGE;
    /* Kafka: InvalidRecordException (ProduceRequest.validateRecords,
     * LogValidator.validateBatch, the record readers) */
    case SM_BATCH_BAD_MAGIC:
    case SM_BATCH_BAD_HEADER:
    case SM_BATCH_INVALID: return SM_KERR_INVALID_RECORD;
    /* Kafka fails on an unknown codec id with an IllegalArgumentException
     * (UNKNOWN_SERVER_ERROR for the whole request); the error meant for
     * codecs the other side does not speak says it better */
    case SM_BATCH_BAD_CODEC: return SM_KERR_UNSUPPORTED_COMPRESSION_TYPE;
    case SM_BATCH_BAD_TIMESTAMP: return SM_KERR_INVALID_TIMESTAMP;
    /* so a Java producer splits the batch and retries, as for max.message.bytes */
    case SM_BATCH_TOO_LARGE_DECOMPRESSED: return SM_KERR_MESSAGE_TOO_LARGE;
    case SM_BATCH_NO_MEMORY: return SM_KERR_UNKNOWN_SERVER_ERROR;
    }
    return SM_KERR_UNKNOWN_SERVER_ERROR;
}

/* ---- reading records ------------------------------------------------------------------ */

#define REC_WINDOW (64 * 1024)

__attribute__((format(printf, 3, 4))) static int it_fail(sm_rec_iter *it, sm_recs_fail f,
                                                         const char *fmt, ...)
{
    if (it->fail) /* the first failure is the one to report */
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->why, sizeof it->why, fmt, ap);
    va_end(ap);
    it->fail = f;
    return -1;
}

void sm_rec_iter_init(sm_rec_iter *it, const uint8_t *p, const sm_batch_hdr *h, uint64_t limit,
                      bool keep)
{
    it->count = h->record_count;
    it->index = 0;
    it->keep = keep;
    it->eof = it->done = false;
    it->z = NULL;
    it->buf = NULL;
    it->cap = 0;
    it->fail = SM_RECS_OK;
    it->why[0] = 0;
    const uint8_t *recs = p + SM_BATCH_HEADER_LEN;
    int codec = h->attributes & SM_ATTR_COMPRESSION_MASK;
    it->p = it->end = recs;
    if (h->batch_length < SM_BATCH_HEADER_LEN - SM_BATCH_LOG_OVERHEAD) {
        it_fail(it, SM_RECS_MALFORMED, "BatchLength %d is shorter than a batch header",
                h->batch_length);
        return;
    }
    size_t n = (size_t)h->batch_length + SM_BATCH_LOG_OVERHEAD - SM_BATCH_HEADER_LEN;
    if (codec == SM_COMP_NONE) {
        it->p = recs;
        it->end = recs + n;
        it->eof = true;
        return;
    }
    if (codec > SM_COMP_ZSTD) {
        it_fail(it, SM_RECS_MALFORMED, "compression type %d does not exist", codec);
        return;
    }
    it->z = sm_unzip_open(codec, recs, n, limit);
    it->buf = malloc(REC_WINDOW);
    if (!it->z || !it->buf) {
        it_fail(it, SM_RECS_NO_MEMORY, "out of memory for %s decompression",
                sm_compression_name(codec));
        return;
    }
    it->cap = REC_WINDOW;
    it->p = it->end = it->buf;
}

void sm_rec_iter_release(sm_rec_iter *it)
{
    sm_unzip_free(it->z);
    free(it->buf);
    it->z = NULL;
    it->buf = NULL;
}

/* Makes at least n bytes contiguous at it->p, or as many as are left; returns
 * how many there are. For a compressed batch the window slides (the bytes at
 * hand move to its start) and grows only when n is more than it holds, as
 * the data arrives. */
static size_t it_fill(sm_rec_iter *it, size_t n)
{
    size_t have = (size_t)(it->end - it->p);
    if (have >= n || it->eof || it->fail)
        return have;
    if (it->p != it->buf) {
        memmove(it->buf, it->p, have);
        it->p = it->buf;
        it->end = it->buf + have;
    }
    while (have < n) {
        if (have == it->cap) {
            uint8_t *b = realloc(it->buf, it->cap * 2);
            if (!b) {
                it_fail(it, SM_RECS_NO_MEMORY, "out of memory for a record of %zu bytes", n);
                break;
            }
            it->buf = b;
            it->p = b;
            it->end = b + have;
            it->cap *= 2;
        }
        int64_t got = sm_unzip_read(it->z, it->buf + have, it->cap - have);
        if (got <= 0) {
            if (got == 0)
                it->eof = true;
            else
                it_fail(it, got == SM_ERANGE   ? SM_RECS_TOO_LARGE
                            : got == SM_ENOMEM ? SM_RECS_NO_MEMORY
                                               : SM_RECS_UNDECOMPRESSABLE,
                        "%s", sm_unzip_error(it->z));
            break;
        }
        have += (size_t)got;
        it->end = it->buf + have;
    }
    return have;
}

/* Steps over n bytes; false if the data ends first. */
static bool it_skip(sm_rec_iter *it, size_t n)
{
    for (;;) {
        size_t have = (size_t)(it->end - it->p);
        if (have >= n) {
            it->p += n;
            return true;
        }
        n -= have;
        it->p = it->end;
        if (it_fill(it, 1) == 0)
            return false;
    }
}

/* A varint (wide: varlong) of the current record, of which *left bytes remain. */
static bool rec_varint(sm_rec_iter *it, size_t *left, bool wide, int64_t *v)
{
    size_t want = wide ? 10 : 5;
    if (want > *left)
        want = *left;
    size_t have = it_fill(it, want);
    if (have > want)
        have = want;
    sm_rd r;
    sm_rd_init(&r, it->p, have);
    *v = wide ? sm_rd_varlong(&r) : sm_rd_varint(&r);
    if (r.err)
        return false;
    size_t used = (size_t)(r.p - it->p);
    it->p += used;
    *left -= used;
    return true;
}

/* Length-prefixed bytes of the current record (key, value, header key or
 * value): a length of -1 is null, anything below is malformed (Kafka reads
 * it as null, consumers such as librdkafka fail on it). */
static int rec_bytes(sm_rec_iter *it, size_t *left, int32_t min_len, const char *what,
                     sm_str *out)
{
    int64_t n;
    if (!rec_varint(it, left, false, &n))
        return it_fail(it, SM_RECS_MALFORMED, "record %d: unreadable %s length", it->index, what);
    if (n < min_len)
        return it_fail(it, SM_RECS_MALFORMED, "record %d: %s length %lld", it->index, what,
                       (long long)n);
    *out = (sm_str){NULL, (int32_t)n};
    if (n <= 0)
        return 0;
    if ((size_t)n > *left)
        return it_fail(it, SM_RECS_MALFORMED, "record %d: %s of %lld bytes runs past the record",
                       it->index, what, (long long)n);
    if (it->keep) {
        out->p = (const char *)it->p; /* the whole record is at hand */
        it->p += n;
    } else if (!it_skip(it, (size_t)n)) {
        return it_fail(it, SM_RECS_MALFORMED, "record %d: the records end inside its %s",
                       it->index, what);
    }
    *left -= (size_t)n;
    return 0;
}

/* Record: Length varint | Attributes int8 | TimestampDelta varlong |
 * OffsetDelta varint | Key | Value | HeaderCount varint |
 * (HeaderKey (not null) | HeaderValue)... , all inside Length. */
static int rec_parse(sm_rec_iter *it, sm_record *rec)
{
    int32_t i = it->index;
    if (it_fill(it, 1) == 0)
        return it_fail(it, SM_RECS_MALFORMED,
                       "RecordCount is %d but the records end after %d of them", it->count, i);
    size_t left = 5;
    int64_t v;
    if (!rec_varint(it, &left, false, &v) || v < 0)
        return it_fail(it, SM_RECS_MALFORMED, "record %d: bad Length", i);
    size_t len = (size_t)v;
    left = len;
    /* in place, or with the bytes wanted, the whole record must be at hand */
    if ((!it->z || it->keep) && it_fill(it, len) < len)
        return it_fail(it, SM_RECS_MALFORMED, "record %d: Length %zu runs past the records", i,
                       len);
    if (left < 1 || it_fill(it, 1) < 1)
        return it_fail(it, SM_RECS_MALFORMED, "record %d: the records end inside it", i);
    rec->attributes = (int8_t)*it->p++;
    left--;
    if (!rec_varint(it, &left, true, &rec->timestamp_delta))
        return it_fail(it, SM_RECS_MALFORMED, "record %d: unreadable TimestampDelta", i);
    if (!rec_varint(it, &left, false, &v))
        return it_fail(it, SM_RECS_MALFORMED, "record %d: unreadable OffsetDelta", i);
    rec->offset_delta = (int32_t)v;
    if (rec_bytes(it, &left, -1, "key", &rec->key) < 0 ||
        rec_bytes(it, &left, -1, "value", &rec->value) < 0)
        return -1;
    if (!rec_varint(it, &left, false, &v) || v < 0)
        return it_fail(it, SM_RECS_MALFORMED, "record %d: bad HeaderCount", i);
    rec->header_count = (int32_t)v;
    rec->headers = it->keep ? it->p : NULL;
    size_t before = left;
    for (int32_t k = 0; k < rec->header_count; k++) {
        sm_str hk, hv;
        if (rec_bytes(it, &left, 0, "header key", &hk) < 0 ||
            rec_bytes(it, &left, -1, "header value", &hv) < 0)
            return -1;
    }
    rec->headers_len = it->keep ? before - left : 0;
    if (left != 0)
        return it_fail(it, SM_RECS_MALFORMED, "record %d: %zu bytes left inside its Length", i,
                       left);
    return 0;
}

int sm_rec_iter_next(sm_rec_iter *it, sm_record *rec)
{
    if (it->fail)
        return -1;
    if (it->index < it->count) {
        if (rec_parse(it, rec) < 0)
            return -1;
        it->index++;
        return 1;
    }
    if (it->done)
        return 0;
    /* Kafka: "Incorrect declared batch size, records still remaining" */
    if (it_fill(it, 1) > 0)
        return it_fail(it, SM_RECS_MALFORMED, "more data after the %d records RecordCount gives",
                       it->count);
    if (it->fail)
        return -1;
    it->done = true;
    return 0;
}

/* ---- what Kafka's broker demands of a producer's batch ---------------------------------- */

sm_batch_check sm_batch_check_produced(const uint8_t *p, const sm_batch_hdr *h,
                                       const sm_batch_rules *r, char *why, size_t whylen)
{
    /* LogValidator.validateBatch */
    if (h->record_count <= 0) {
        sm_fail(why, whylen, 0, "RecordCount is %d: a batch holds at least one record",
                h->record_count);
        return SM_BATCH_INVALID;
    }
    if (h->last_offset_delta != h->record_count - 1) {
        sm_fail(why, whylen, 0, "LastOffsetDelta %d does not match RecordCount %d (it must be "
                "RecordCount - 1)", h->last_offset_delta, h->record_count);
        return SM_BATCH_INVALID;
    }
    if (h->attributes & SM_ATTR_CONTROL) {
        sm_fail(why, whylen, 0, "a control batch: only the broker writes those");
        return SM_BATCH_INVALID;
    }
    if (h->producer_id >= 0 && h->base_sequence < 0) {
        sm_fail(why, whylen, 0, "BaseSequence %d in a batch of ProducerId %lld", h->base_sequence,
                (long long)h->producer_id);
        return SM_BATCH_INVALID;
    }
    int codec = h->attributes & SM_ATTR_COMPRESSION_MASK;
    if (codec > SM_COMP_ZSTD) {
        sm_fail(why, whylen, 0, "compression type %d does not exist", codec);
        return SM_BATCH_BAD_CODEC;
    }
    /* LogValidator.validateTimestamp: a producer never sets LogAppendTime
     * (Kafka refuses it on a LogAppendTime topic and rewrites it away on a
     * CreateTime one; samsa stores batches as sent, so it refuses both) */
    if (h->attributes & SM_ATTR_TIMESTAMP_LOG_APPEND) {
        sm_fail(why, whylen, 0, "the batch claims LogAppendTime: only the broker sets that");
        return SM_BATCH_BAD_TIMESTAMP;
    }
    int64_t lo, hi;
    if (__builtin_sub_overflow(r->now_ms, r->ts_before_max_ms, &lo))
        lo = INT64_MIN;
    if (__builtin_add_overflow(r->now_ms, r->ts_after_max_ms, &hi))
        hi = INT64_MAX;

    sm_rec_iter it;
    sm_rec_iter_init(&it, p, h, r->max_decompressed, false);
    sm_record rec;
    int rc;
    int32_t bad_ts_at = -1;
    int64_t bad_ts = 0;
    sm_batch_check out = SM_BATCH_OK;
    while ((rc = sm_rec_iter_next(&it, &rec)) == 1) {
        if (rec.offset_delta != it.index - 1) {
            sm_fail(why, whylen, 0, "record %d has OffsetDelta %d: the records of a batch are "
                    "numbered 0..%d", it.index - 1, rec.offset_delta, h->record_count - 1);
            out = SM_BATCH_INVALID;
            break;
        }
        int64_t ts;
        if (!r->log_append_time &&
            (__builtin_add_overflow(h->base_timestamp, rec.timestamp_delta, &ts) ||
             (ts != -1 && (ts < lo || ts > hi)))) {
            int64_t t = (int64_t)((uint64_t)h->base_timestamp + (uint64_t)rec.timestamp_delta);
            if (bad_ts_at < 0) {
                bad_ts_at = it.index - 1;
                bad_ts = t;
            }
            if (r->ts_errors && r->ts_errors_n && *r->ts_errors_n < r->ts_errors_cap)
                r->ts_errors[(*r->ts_errors_n)++] = (sm_batch_ts_error){it.index - 1, t};
        }
    }
    if (out == SM_BATCH_OK && rc < 0) {
        sm_fail(why, whylen, 0, "%s", it.why);
        out = it.fail == SM_RECS_UNDECOMPRESSABLE ? SM_BATCH_UNDECOMPRESSABLE
              : it.fail == SM_RECS_TOO_LARGE      ? SM_BATCH_TOO_LARGE_DECOMPRESSED
              : it.fail == SM_RECS_NO_MEMORY      ? SM_BATCH_NO_MEMORY
                                                  : SM_BATCH_INVALID;
    }
    sm_rec_iter_release(&it);
    /* like Kafka, a malformed record outweighs a bad timestamp */
    if (out == SM_BATCH_OK && bad_ts_at >= 0) {
        sm_fail(why, whylen, 0, "record %d has timestamp %lld, outside [%lld, %lld] (now %lld, "
                "message.timestamp.before.max.ms %lld, message.timestamp.after.max.ms %lld)",
                bad_ts_at, (long long)bad_ts, (long long)lo, (long long)hi, (long long)r->now_ms,
                (long long)r->ts_before_max_ms, (long long)r->ts_after_max_ms);
        out = SM_BATCH_BAD_TIMESTAMP;
    }
    return out;
}

void sm_batch_begin(sm_batch_builder *bb, sm_wbuf *w, int64_t base_ts)
{
    bb->w = w;
    bb->start = w->len;
    bb->count = 0;
    bb->base_ts = bb->max_ts = base_ts;
    sm_wbuf_init(&bb->scratch, 256);
    uint8_t *h = sm_wbuf_room(w, SM_BATCH_HEADER_LEN);
    if (h)
        memset(h, 0, SM_BATCH_HEADER_LEN);
}

void sm_batch_add(sm_batch_builder *bb, sm_str key, sm_str value, int64_t ts)
{
    sm_wbuf *s = &bb->scratch;
    s->len = 0;
    sm_wbuf_i8(s, 0); /* attributes */
    sm_wbuf_varlong(s, ts - bb->base_ts);
    sm_wbuf_varint(s, bb->count);
    sm_wbuf_vbytes(s, key);
    sm_wbuf_vbytes(s, value);
    sm_wbuf_varint(s, 0); /* headers */
    if (s->oom) {
        bb->w->oom = true;
        return;
    }
    sm_wbuf_varint(bb->w, (int32_t)s->len);
    sm_wbuf_raw(bb->w, s->p, s->len);
    bb->count++;
    if (ts > bb->max_ts)
        bb->max_ts = ts;
}

void sm_batch_finish(sm_batch_builder *bb)
{
    sm_wbuf_release(&bb->scratch);
    sm_wbuf *w = bb->w;
    if (w->oom)
        return;
    uint8_t *h = w->p + bb->start;
    size_t total = w->len - bb->start;
    sm_put_be64(h + SM_BATCH_BASE_OFFSET_AT, 0);
    sm_put_be32(h + SM_BATCH_LENGTH_AT, (uint32_t)(total - SM_BATCH_LOG_OVERHEAD));
    sm_put_be32(h + SM_BATCH_LEADER_EPOCH_AT, 0);
    h[SM_BATCH_MAGIC_AT] = 2;
    sm_put_be16(h + SM_BATCH_ATTRIBUTES_AT, 0);
    sm_put_be32(h + SM_BATCH_LAST_OFFSET_DELTA_AT, (uint32_t)(bb->count > 0 ? bb->count - 1 : 0));
    sm_put_be64(h + SM_BATCH_BASE_TIMESTAMP_AT, (uint64_t)bb->base_ts);
    sm_put_be64(h + SM_BATCH_MAX_TIMESTAMP_AT, (uint64_t)bb->max_ts);
    sm_put_be64(h + SM_BATCH_PRODUCER_ID_AT, (uint64_t)-1);
    sm_put_be16(h + SM_BATCH_PRODUCER_EPOCH_AT, (uint16_t)-1);
    sm_put_be32(h + SM_BATCH_BASE_SEQUENCE_AT, (uint32_t)-1);
    sm_put_be32(h + SM_BATCH_RECORD_COUNT_AT, (uint32_t)bb->count);
    sm_put_be32(h + SM_BATCH_CRC_AT, sm_crc32c(0, h + SM_BATCH_CRC_START, total - SM_BATCH_CRC_START));
}
