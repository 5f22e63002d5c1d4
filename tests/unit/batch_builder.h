/* batch_builder.h: builds valid Kafka record batches v2 for tests.
 *
 * Header-only (static functions), so any test program can include it. A
 * batch is appended to an sm_wbuf exactly as a producer sends it: every
 * length computed, the CRC-32C over Attributes..end filled in, BaseOffset
 * 0 (the broker assigns offsets), PartitionLeaderEpoch -1.
 *
 *   sm_wbuf w;
 *   sm_wbuf_init(&w, 0);
 *   bb_record recs[2] = {{.key = "k", .key_len = 1, .value = "v1", .value_len = 2,
 *                         .timestamp = 1000},
 *                        {.value = "v2", .value_len = 2, .key_len = -1, .timestamp = 1001}};
 *   bb_batch(&w, NULL, recs, 2);           // one batch, two records
 *   bb_simple(&w, 100, 5000, 1, 64);       // 100 records, ts 5000.., 64-byte values
 *   bb_fake_compressed(&w, 10, 7000, 7009, 200, SM_COMP_ZSTD);
 *
 * Record fields follow Kafka's names: a record's Timestamp is stored as a
 * TimestampDelta from the batch's BaseTimestamp (the first record's), and
 * MaxTimestamp is the largest; OffsetDelta is the record's index. */
#ifndef SM_TEST_BATCH_BUILDER_H
#define SM_TEST_BATCH_BUILDER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/crc32c.h"
#include "proto/batch.h"

typedef struct bb_header {
    const char *key; /* NUL-terminated; header keys are never null */
    const void *value;
    int32_t value_len; /* -1: null value */
} bb_header;

typedef struct bb_record {
    const void *key;
    int32_t key_len;   /* -1: null key. A zero-initialised record has an empty key */
    const void *value;
    int32_t value_len; /* -1: null value */
    int64_t timestamp;
    const bb_header *headers;
    int32_t header_count;
} bb_record;

/* Batch-level fields; NULL means a plain non-idempotent producer's batch. */
typedef struct bb_opts {
    int16_t attributes;   /* compression bits, timestamp type, transactional, control */
    int64_t producer_id;  /* -1 if none */
    int16_t producer_epoch;
    int32_t base_sequence;
} bb_opts;

static const bb_opts bb_default_opts = {0, -1, -1, -1};

/* Patches the lengths and CRC of the batch that starts at w->p + at. */
static inline void bb_finish(sm_wbuf *w, size_t at)
{
    uint8_t *b = w->p + at;
    size_t total = w->len - at;
    sm_put_be32(b + 8, (uint32_t)(total - SM_BATCH_LOG_OVERHEAD));
    sm_put_be32(b + SM_BATCH_CRC_AT,
                sm_crc32c(0, b + SM_BATCH_CRC_START, total - SM_BATCH_CRC_START));
}

/* Writes the 61-byte header with placeholders for BatchLength and CRC. */
static inline size_t bb_header_begin(sm_wbuf *w, const bb_opts *o, int32_t last_offset_delta,
                                     int64_t base_ts, int64_t max_ts, int32_t count)
{
    if (!o)
        o = &bb_default_opts;
    size_t at = w->len;
    sm_wbuf_i64(w, 0);  /* BaseOffset: assigned by the broker */
    sm_wbuf_i32(w, 0);  /* BatchLength: patched */
    sm_wbuf_i32(w, -1); /* PartitionLeaderEpoch */
    sm_wbuf_i8(w, 2);   /* Magic */
    sm_wbuf_i32(w, 0);  /* CRC: patched */
    sm_wbuf_i16(w, o->attributes);
    sm_wbuf_i32(w, last_offset_delta);
    sm_wbuf_i64(w, base_ts);
    sm_wbuf_i64(w, max_ts);
    sm_wbuf_i64(w, o->producer_id);
    sm_wbuf_i16(w, o->producer_epoch);
    sm_wbuf_i32(w, o->base_sequence);
    sm_wbuf_i32(w, count);
    return at;
}

static inline void bb_vbytes(sm_wbuf *w, const void *p, int32_t len)
{
    sm_wbuf_varint(w, len < 0 ? -1 : len);
    if (len > 0)
        sm_wbuf_raw(w, p, (size_t)len);
}

/* Appends one uncompressed batch of n records (n >= 1). Returns the batch's
 * size in bytes, or 0 if the buffer ran out of memory. */
static inline size_t bb_batch(sm_wbuf *w, const bb_opts *o, const bb_record *recs, int32_t n)
{
    int64_t base_ts = recs[0].timestamp, max_ts = recs[0].timestamp;
    for (int32_t i = 1; i < n; i++)
        if (recs[i].timestamp > max_ts)
            max_ts = recs[i].timestamp;
    size_t at = bb_header_begin(w, o, n - 1, base_ts, max_ts, n);
    sm_wbuf body;
    sm_wbuf_init(&body, 256);
    for (int32_t i = 0; i < n; i++) {
        const bb_record *r = &recs[i];
        body.len = 0;
        sm_wbuf_i8(&body, 0); /* record Attributes: unused */
        sm_wbuf_varlong(&body, r->timestamp - base_ts);
        sm_wbuf_varint(&body, i);
        bb_vbytes(&body, r->key, r->key_len);
        bb_vbytes(&body, r->value, r->value_len);
        sm_wbuf_varint(&body, r->header_count);
        for (int32_t k = 0; k < r->header_count; k++) {
            bb_vbytes(&body, r->headers[k].key, (int32_t)strlen(r->headers[k].key));
            bb_vbytes(&body, r->headers[k].value, r->headers[k].value_len);
        }
        sm_wbuf_varint(w, (int32_t)body.len);
        sm_wbuf_raw(w, body.p, body.len);
    }
    bool oom = body.oom;
    sm_wbuf_release(&body);
    if (w->oom || oom)
        return 0;
    bb_finish(w, at);
    return w->len - at;
}

/* n records with keys "key-<i>", values of value_size bytes (a pattern
 * derived from i), timestamps ts0, ts0 + step, ... Returns the batch size. */
static inline size_t bb_simple(sm_wbuf *w, int32_t n, int64_t ts0, int64_t step, int32_t value_size)
{
    bb_record *recs = calloc((size_t)n, sizeof *recs);
    char (*keys)[24] = calloc((size_t)n, sizeof *keys);
    uint8_t *vals = malloc((size_t)n * (size_t)(value_size > 0 ? value_size : 1));
    size_t size = 0;
    if (recs && keys && vals) {
        for (int32_t i = 0; i < n; i++) {
            uint8_t *v = vals + (size_t)i * (size_t)value_size;
            for (int32_t k = 0; k < value_size; k++)
                v[k] = (uint8_t)(i * 31 + k);
            recs[i].key_len = snprintf(keys[i], sizeof keys[i], "key-%d", i);
            recs[i].key = keys[i];
            recs[i].value = v;
            recs[i].value_len = value_size;
            recs[i].timestamp = ts0 + step * i;
        }
        size = bb_batch(w, NULL, recs, n);
    }
    free(recs);
    free(keys);
    free(vals);
    return size;
}

/* A batch whose records section is opaque bytes, as a compressed batch
 * looks to a broker that never decompresses: `codec` goes into the
 * Attributes compression bits, RecordCount is n, LastOffsetDelta n - 1.
 * payload_len is padded up to 7 * n (the least real records could take).
 * Returns the batch size. */
static inline size_t bb_fake_compressed(sm_wbuf *w, int32_t n, int64_t base_ts, int64_t max_ts,
                                        int32_t payload_len, int codec)
{
    bb_opts o = bb_default_opts;
    o.attributes = (int16_t)(codec & SM_ATTR_COMPRESSION_MASK);
    if (payload_len < 7 * n)
        payload_len = 7 * n;
    size_t at = bb_header_begin(w, &o, n - 1, base_ts, max_ts, n);
    for (int32_t i = 0; i < payload_len; i++)
        sm_wbuf_i8(w, (int8_t)(i * 17 + 3));
    if (w->oom)
        return 0;
    bb_finish(w, at);
    return w->len - at;
}

#endif
