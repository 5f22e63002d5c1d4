/* batch.c: record batch v2 header decoding, validation, record reading, and
 * building uncompressed batches. */
#include "proto/batch.h"

#include <string.h>

#include "base/crc32c.h"
#include "base/err.h"

void sm_batch_hdr_decode(const uint8_t *p, sm_batch_hdr *h)
{
    h->base_offset = (int64_t)sm_be64(p);
    h->batch_length = (int32_t)sm_be32(p + 8);
    h->partition_leader_epoch = (int32_t)sm_be32(p + 12);
    h->magic = (int8_t)p[16];
    h->crc = sm_be32(p + 17);
    h->attributes = (int16_t)sm_be16(p + 21);
    h->last_offset_delta = (int32_t)sm_be32(p + 23);
    h->base_timestamp = (int64_t)sm_be64(p + 27);
    h->max_timestamp = (int64_t)sm_be64(p + 35);
    h->producer_id = (int64_t)sm_be64(p + 43);
    h->producer_epoch = (int16_t)sm_be16(p + 51);
    h->base_sequence = (int32_t)sm_be32(p + 53);
    h->record_count = (int32_t)sm_be32(p + 57);
}

int64_t sm_batch_total_size(const uint8_t *p, size_t avail)
{
    if (avail < SM_BATCH_LOG_OVERHEAD)
        return -1;
    int32_t bl = (int32_t)sm_be32(p + 8);
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
        return SM_BATCH_BAD_HEADER;
    if ((uint64_t)total > len)
        return SM_BATCH_TRUNCATED;
    sm_batch_hdr_decode(p, h);
    if (h->magic != 2)
        return SM_BATCH_BAD_MAGIC;
    if (h->last_offset_delta < 0 || h->record_count < 0)
        return SM_BATCH_BAD_HEADER;
    /* an uncompressed record takes at least 7 bytes: a count beyond that is a
     * lie (compressed records can be far smaller than that on the wire) */
    if (!(h->attributes & SM_ATTR_COMPRESSION_MASK) &&
        h->record_count > (total - SM_BATCH_HEADER_LEN) / 7 + 1)
        return SM_BATCH_BAD_HEADER;
    uint32_t crc = sm_crc32c(0, p + SM_BATCH_CRC_START, (size_t)total - SM_BATCH_CRC_START);
    if (crc != h->crc)
        return SM_BATCH_BAD_CRC;
    return SM_BATCH_OK;
}

const char *sm_batch_check_str(sm_batch_check c)
{
    switch (c) {
    case SM_BATCH_OK: return "ok";
    case SM_BATCH_TRUNCATED: return "truncated batch";
    case SM_BATCH_BAD_MAGIC: return "unsupported magic (only record batch v2 is accepted)";
    case SM_BATCH_BAD_CRC: return "CRC-32C mismatch";
    case SM_BATCH_BAD_HEADER: return "malformed batch header";
    }
    return "?";
}

int sm_record_next(sm_rd *r, sm_record *rec)
{
    int32_t len = sm_rd_varint(r);
    if (r->err || len < 0 || (size_t)len > sm_rd_left(r))
        return SM_ECORRUPT;
    sm_rd body;
    sm_rd_init(&body, r->p, (size_t)len);
    r->p += len;
    rec->attributes = sm_rd_i8(&body);
    rec->timestamp_delta = sm_rd_varlong(&body);
    rec->offset_delta = sm_rd_varint(&body);
    rec->key = sm_rd_vbytes(&body);
    rec->value = sm_rd_vbytes(&body);
    rec->header_count = sm_rd_varint(&body);
    if (body.err || rec->header_count < 0)
        return SM_ECORRUPT;
    rec->headers = body.p;
    for (int32_t i = 0; i < rec->header_count; i++) {
        sm_str hk = sm_rd_vbytes(&body);
        (void)sm_rd_vbytes(&body);
        if (body.err || hk.len < 0)
            return SM_ECORRUPT;
    }
    rec->headers_len = (size_t)(body.p - rec->headers);
    if (sm_rd_left(&body) != 0)
        return SM_ECORRUPT;
    return SM_OK;
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
    sm_put_be64(h, 0);                                             /* BaseOffset */
    sm_put_be32(h + 8, (uint32_t)(total - SM_BATCH_LOG_OVERHEAD));  /* BatchLength */
    sm_put_be32(h + 12, 0);                                        /* PartitionLeaderEpoch */
    h[16] = 2;                                                     /* Magic */
    sm_put_be16(h + 21, 0);                                        /* Attributes */
    sm_put_be32(h + 23, (uint32_t)(bb->count > 0 ? bb->count - 1 : 0)); /* LastOffsetDelta */
    sm_put_be64(h + 27, (uint64_t)bb->base_ts);
    sm_put_be64(h + 35, (uint64_t)bb->max_ts);
    sm_put_be64(h + 43, (uint64_t)-1);                              /* ProducerId */
    sm_put_be16(h + 51, (uint16_t)-1);                              /* ProducerEpoch */
    sm_put_be32(h + 53, (uint32_t)-1);                              /* BaseSequence */
    sm_put_be32(h + 57, (uint32_t)bb->count);
    sm_put_be32(h + SM_BATCH_CRC_AT, sm_crc32c(0, h + SM_BATCH_CRC_START, total - SM_BATCH_CRC_START));
}
