/* batch.h: Kafka record batches, format v2 (magic 2).
 *
 * On the wire and on disk a batch is:
 *   BaseOffset int64 | BatchLength int32 | PartitionLeaderEpoch int32 | Magic int8 |
 *   CRC uint32 | Attributes int16 | LastOffsetDelta int32 | BaseTimestamp int64 |
 *   MaxTimestamp int64 | ProducerId int64 | ProducerEpoch int16 | BaseSequence int32 |
 *   RecordCount int32 | Records...
 * BatchLength counts the bytes after itself; the CRC-32C covers Attributes to
 * the end. The broker rewrites BaseOffset and PartitionLeaderEpoch, which
 * the CRC does not cover, so a stored batch is byte-for-byte what was sent. */
#ifndef SM_BATCH_H
#define SM_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define SM_BATCH_LOG_OVERHEAD 12 /* BaseOffset + BatchLength */
#define SM_BATCH_HEADER_LEN 61
#define SM_BATCH_CRC_START 21    /* offset of Attributes */
#define SM_BATCH_MAGIC_AT 16
#define SM_BATCH_CRC_AT 17

#define SM_ATTR_COMPRESSION_MASK 0x07
#define SM_ATTR_TIMESTAMP_LOG_APPEND 0x08
#define SM_ATTR_TRANSACTIONAL 0x10
#define SM_ATTR_CONTROL 0x20

enum sm_compression { SM_COMP_NONE = 0, SM_COMP_GZIP, SM_COMP_SNAPPY, SM_COMP_LZ4, SM_COMP_ZSTD };

typedef struct sm_batch_hdr {
    int64_t base_offset;
    int32_t batch_length;
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
} sm_batch_hdr;

/* Decodes the fixed 61-byte header; p must hold at least SM_BATCH_HEADER_LEN
 * bytes. Checks nothing. */
void sm_batch_hdr_decode(const uint8_t *p, sm_batch_hdr *h);

/* Total size of the batch starting at p (12 + BatchLength), or -1 if fewer
 * than 12 bytes are available or BatchLength is impossible. */
int64_t sm_batch_total_size(const uint8_t *p, size_t avail);

/* Outcome of checking one batch; values map onto Kafka error codes. */
typedef enum {
    SM_BATCH_OK = 0,
    SM_BATCH_TRUNCATED,     /* fewer bytes than BatchLength says */
    SM_BATCH_BAD_MAGIC,     /* not magic 2 */
    SM_BATCH_BAD_CRC,       /* CRC-32C mismatch */
    SM_BATCH_BAD_HEADER,    /* impossible lengths, counts or deltas */
} sm_batch_check;

/* Fully checks the batch at p (which must be exactly `len` bytes or more):
 * header sanity, magic, CRC. On success fills h and returns SM_BATCH_OK. */
sm_batch_check sm_batch_validate(const uint8_t *p, size_t len, sm_batch_hdr *h);
const char *sm_batch_check_str(sm_batch_check c);

/* Rewrites BaseOffset in place (outside the CRC). */
static inline void sm_batch_set_base_offset(uint8_t *p, int64_t off) { sm_put_be64(p, (uint64_t)off); }
/* Rewrites PartitionLeaderEpoch in place (outside the CRC). */
static inline void sm_batch_set_leader_epoch(uint8_t *p, int32_t e) { sm_put_be32(p + 12, (uint32_t)e); }

/* One record inside an uncompressed batch's records section. Key, value and
 * header bytes point into the batch. */
typedef struct sm_record {
    int8_t attributes;
    int64_t timestamp_delta;
    int32_t offset_delta;
    sm_str key;
    sm_str value;
    int32_t header_count;
    const uint8_t *headers; /* raw headers section */
    size_t headers_len;
} sm_record;

/* Reads the next record from r (positioned on a record's length varint).
 * Returns 0, or SM_ECORRUPT if the record is malformed or runs past r. */
int sm_record_next(sm_rd *r, sm_record *rec);

/* Building an uncompressed batch (for the broker's own internal logs):
 *   sm_batch_builder bb; sm_batch_begin(&bb, &w, now);
 *   sm_batch_add(&bb, key, value, now); ...   value.len < 0 is a tombstone
 *   sm_batch_finish(&bb);                      fills in the header and CRC
 * BaseOffset is 0 (the log assigns offsets); ProducerId -1. */
typedef struct sm_batch_builder {
    sm_wbuf *w;
    size_t start;
    int32_t count;
    int64_t base_ts;
    int64_t max_ts;
    sm_wbuf scratch;
} sm_batch_builder;

void sm_batch_begin(sm_batch_builder *bb, sm_wbuf *w, int64_t base_ts);
void sm_batch_add(sm_batch_builder *bb, sm_str key, sm_str value, int64_t ts);
void sm_batch_finish(sm_batch_builder *bb);

#endif
