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

/* Where each header field sits, in bytes from BaseOffset: the only place
 * the layout is written down. Read the fields with sm_batch_hdr_decode or
 * the accessors below, never by hand. */
#define SM_BATCH_BASE_OFFSET_AT 0
#define SM_BATCH_LENGTH_AT 8
#define SM_BATCH_LEADER_EPOCH_AT 12
#define SM_BATCH_MAGIC_AT 16
#define SM_BATCH_CRC_AT 17
#define SM_BATCH_ATTRIBUTES_AT 21
#define SM_BATCH_LAST_OFFSET_DELTA_AT 23
#define SM_BATCH_BASE_TIMESTAMP_AT 27
#define SM_BATCH_MAX_TIMESTAMP_AT 35
#define SM_BATCH_PRODUCER_ID_AT 43
#define SM_BATCH_PRODUCER_EPOCH_AT 51
#define SM_BATCH_BASE_SEQUENCE_AT 53
#define SM_BATCH_RECORD_COUNT_AT 57
#define SM_BATCH_CRC_START SM_BATCH_ATTRIBUTES_AT /* the CRC covers Attributes to the end */

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

/* Single fields of the header at p (which holds at least the field). */
static inline int64_t sm_batch_base_offset(const uint8_t *p)
{
    return (int64_t)sm_be64(p + SM_BATCH_BASE_OFFSET_AT);
}
static inline int32_t sm_batch_length(const uint8_t *p)
{
    return (int32_t)sm_be32(p + SM_BATCH_LENGTH_AT);
}
static inline int8_t sm_batch_magic(const uint8_t *p) { return (int8_t)p[SM_BATCH_MAGIC_AT]; }
static inline int16_t sm_batch_attributes(const uint8_t *p)
{
    return (int16_t)sm_be16(p + SM_BATCH_ATTRIBUTES_AT);
}
static inline int32_t sm_batch_last_offset_delta(const uint8_t *p)
{
    return (int32_t)sm_be32(p + SM_BATCH_LAST_OFFSET_DELTA_AT);
}
static inline int64_t sm_batch_max_timestamp(const uint8_t *p)
{
    return (int64_t)sm_be64(p + SM_BATCH_MAX_TIMESTAMP_AT);
}

/* Total size of the batch starting at p (12 + BatchLength), or -1 if fewer
 * than 12 bytes are available or BatchLength is impossible. */
int64_t sm_batch_total_size(const uint8_t *p, size_t avail);

/* Outcome of checking one batch; sm_batch_check_kerr() gives the Kafka error
 * a Produce answers for each. */
typedef enum {
    SM_BATCH_OK = 0,
    SM_BATCH_TRUNCATED,     /* fewer bytes than BatchLength says */
    SM_BATCH_BAD_LENGTH,    /* BatchLength shorter than a batch header */
    SM_BATCH_BAD_MAGIC,     /* not magic 2 */
    SM_BATCH_BAD_CRC,       /* CRC-32C mismatch */
    SM_BATCH_BAD_HEADER,    /* negative RecordCount or LastOffsetDelta, or more records than fit */
    /* only from sm_batch_check_produced: */
    SM_BATCH_INVALID,       /* header fields or records Kafka refuses from a producer */
    SM_BATCH_BAD_CODEC,     /* compression type 5-7: there is no such codec */
    SM_BATCH_UNDECOMPRESSABLE, /* the compressed records do not decompress */
    SM_BATCH_BAD_TIMESTAMP, /* a timestamp outside the topic's bounds, or LogAppendTime set */
    SM_BATCH_TOO_LARGE_DECOMPRESSED, /* the records decompress past the limit */
    SM_BATCH_NO_MEMORY,
} sm_batch_check;

/* Checks the framing of the batch at p (which must be exactly `len` bytes or
 * more): magic, length, CRC, then header sanity (so SM_BATCH_BAD_HEADER means
 * the CRC is right). On success fills h and returns SM_BATCH_OK. The records
 * are not looked at: see sm_batch_check_produced. */
sm_batch_check sm_batch_validate(const uint8_t *p, size_t len, sm_batch_hdr *h);
const char *sm_batch_check_str(sm_batch_check c);
/* The Kafka error code a Produce answers for c (NONE for SM_BATCH_OK). */
int16_t sm_batch_check_kerr(sm_batch_check c);

/* A record whose timestamp is outside the topic's bounds (Produce v8+
 * RecordErrors): its index in the batch and its timestamp. */
typedef struct sm_batch_ts_error {
    int32_t index;
    int64_t timestamp;
} sm_batch_ts_error;

/* What the broker demands of a producer's batch beyond its framing, as Kafka's
 * LogValidator does. */
typedef struct sm_batch_rules {
    int64_t now_ms;           /* the broker's clock */
    int64_t ts_before_max_ms; /* message.timestamp.before.max.ms */
    int64_t ts_after_max_ms;  /* message.timestamp.after.max.ms */
    bool log_append_time;     /* the topic stamps LogAppendTime: record timestamps are not bounded */
    uint64_t max_decompressed; /* most bytes the records of a compressed batch may take */
    /* optional (NULL): filled with every record whose timestamp is out of
     * bounds, up to ts_errors_cap of them; *ts_errors_n is how many */
    sm_batch_ts_error *ts_errors;
    int32_t ts_errors_cap;
    int32_t *ts_errors_n;
} sm_batch_rules;

/* Checks a batch that passed sm_batch_validate the way Kafka's broker checks
 * a producer's batch before appending it, in one pass over its records
 * (decompressed as a stream, never held whole):
 *   - RecordCount >= 1 and LastOffsetDelta == RecordCount - 1; not a control
 *     batch; an idempotent batch (ProducerId >= 0) has BaseSequence >= 0;
 *   - the compression type exists, and the compressed records decompress,
 *     to at most max_decompressed bytes;
 *   - exactly RecordCount well-formed records and nothing after them; record
 *     i has OffsetDelta i (Kafka rewrites a compressed batch whose offsets are
 *     not 0..n-1 and stores an uncompressed one as it is, so consumers see an
 *     offset twice; samsa stores batches as sent, so it refuses them);
 *   - no LogAppendTime from a producer; on a CreateTime topic each record's
 *     timestamp (unless -1) lies within [now - before.max, now + after.max].
 * Returns SM_BATCH_OK, or the failure with why filled for a person. */
sm_batch_check sm_batch_check_produced(const uint8_t *p, const sm_batch_hdr *h,
                                       const sm_batch_rules *r, char *why, size_t whylen);

/* Rewrites BaseOffset in place (outside the CRC). */
static inline void sm_batch_set_base_offset(uint8_t *p, int64_t off)
{
    sm_put_be64(p + SM_BATCH_BASE_OFFSET_AT, (uint64_t)off);
}
/* Rewrites PartitionLeaderEpoch in place (outside the CRC). */
static inline void sm_batch_set_leader_epoch(uint8_t *p, int32_t e)
{
    sm_put_be32(p + SM_BATCH_LEADER_EPOCH_AT, (uint32_t)e);
}
/* LogAppendTime: sets the timestamp type and MaxTimestamp of the whole
 * batch at p, whose header h is (sm_batch_validate's), and its CRC again;
 * h follows. */
void sm_batch_stamp_log_append_time(uint8_t *p, sm_batch_hdr *h, int64_t now_ms);

/* Walks a run of whole batches, as a log append or a segment read holds them:
 *
 *   sm_batch_walk w;
 *   sm_batch_walk_init(&w, buf, len);
 *   size_t at, total;
 *   while (sm_batch_walk_next(&w, &at, &total))
 *       use(buf + at, total);
 *   w.pos < len: the walk stopped at a batch cut short (fewer than
 *   SM_BATCH_HEADER_LEN bytes left, or BatchLength impossible or running past
 *   the end); nothing in it is checked beyond that. */
typedef struct sm_batch_walk {
    const uint8_t *buf;
    size_t len, pos;
} sm_batch_walk;

static inline void sm_batch_walk_init(sm_batch_walk *w, const uint8_t *buf, size_t len)
{
    w->buf = buf;
    w->len = len;
    w->pos = 0;
}
bool sm_batch_walk_next(sm_batch_walk *w, size_t *at, size_t *total);

/* One record of a batch. With key/value wanted (sm_rec_iter_init's keep),
 * key, value and the raw headers point into the batch (or, for a compressed
 * batch, into the iterator's buffer, valid until its next call); without,
 * their p is NULL and only the lengths are set. */
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

/* Why a records iteration stopped early. */
typedef enum {
    SM_RECS_OK = 0,
    SM_RECS_MALFORMED,        /* a record is malformed, or there are more or fewer than RecordCount */
    SM_RECS_UNDECOMPRESSABLE, /* the compressed records do not decompress */
    SM_RECS_TOO_LARGE,        /* they decompress past the limit */
    SM_RECS_NO_MEMORY,
} sm_recs_fail;

struct sm_unzip;

/* Reads the records of one batch, compressed or not: the only reader of the
 * records section, for Produce validation, the offsets store and ListOffsets.
 *
 *   sm_rec_iter it;
 *   sm_rec_iter_init(&it, batch, &hdr, limit, keep);
 *   sm_record rec;
 *   while ((rc = sm_rec_iter_next(&it, &rec)) == 1)
 *       use(&rec);
 *   rc == 0: all RecordCount records read, nothing after them;
 *   rc < 0:  it.fail and it.why say what is wrong
 *   sm_rec_iter_release(&it);
 *
 * An uncompressed batch is read in place. A compressed one is decompressed
 * through a 64 KiB window as the records are read (grown only to hold one
 * whole record when keep asks for its bytes), so its records are never all
 * in memory at once. */
typedef struct sm_rec_iter {
    int32_t count, index;     /* RecordCount, records read */
    bool keep, eof, done;
    const uint8_t *p, *end;   /* the bytes at hand */
    struct sm_unzip *z;       /* compressed: the stream, its window */
    uint8_t *buf;
    size_t cap;
    sm_recs_fail fail;
    char why[200];
} sm_rec_iter;

/* Starts reading the batch at p, whose header h came from sm_batch_validate
 * (the batch is whole). limit: the most bytes a compressed records section
 * may decompress to. keep: whether key, value and headers bytes are wanted. */
void sm_rec_iter_init(sm_rec_iter *it, const uint8_t *p, const sm_batch_hdr *h, uint64_t limit,
                      bool keep);
/* 1: *rec is the next record; 0: the end; -1: failed (it sticks). */
int sm_rec_iter_next(sm_rec_iter *it, sm_record *rec);
void sm_rec_iter_release(sm_rec_iter *it);

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
