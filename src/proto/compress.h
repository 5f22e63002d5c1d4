/* compress.h: decompressing the records section of a compressed record batch.
 *
 * The one place that knows the codecs (zlib, libsnappy, liblz4, libzstd);
 * everything else reads records through sm_rec_iter (batch.h). The framings
 * are Kafka's, exactly as its Java clients and librdkafka write and read them:
 *   gzip    RFC 1952 members (java.util.zip.GZIPOutputStream); concatenated
 *           members are read in turn, anything else after a member is an error.
 *   snappy  either snappy-java's "xerial" framing (Java clients, kafka-python):
 *             "\x82SNAPPY\0" | int32 version (>= 1) | int32 compatible version |
 *             (int32 length | raw snappy block)...
 *           or one raw snappy block (librdkafka's producer); both are read by
 *           every consumer, which tell them apart by that magic.
 *   lz4     one LZ4 frame (KafkaLZ4BlockOutputStream), independent blocks only:
 *           Kafka's reader refuses linked blocks, so a batch with them is one
 *           that Java consumers cannot read. Nothing may follow the frame.
 *   zstd    zstd frames with a window of at most 2^27 bytes (libzstd's default
 *           limit, which Kafka's zstd-jni and librdkafka also keep).
 *
 * Output is streamed into the caller's buffer in pieces; nothing holds the
 * whole decompressed batch, except for snappy, whose blocks are the format's
 * unit (a raw snappy batch is one block): a block's size is read from its
 * header and checked against the limit before it is allocated. */
#ifndef SM_COMPRESS_H
#define SM_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct sm_unzip sm_unzip;

/* Kafka's name of a codec id (Attributes bits 0-2): "none", "gzip", ... "?". */
const char *sm_compression_name(int codec);

/* Opens a decompression stream over in[0, len) (which must outlive it) for
 * codec SM_COMP_GZIP..SM_COMP_ZSTD. It refuses to produce more than limit
 * bytes in total. NULL if codec is not one of those or memory is short. */
sm_unzip *sm_unzip_open(int codec, const uint8_t *in, size_t len, uint64_t limit);

/* Decompresses up to cap (> 0) bytes into out. Returns how many (> 0); 0 at
 * the clean end of the data (every frame complete, its checksums right,
 * nothing after it); or a negative code: SM_ECORRUPT (the data does not
 * decompress), SM_ERANGE (it decompresses to more than limit), SM_ENOMEM.
 * The error sticks; sm_unzip_error() says what happened. */
int64_t sm_unzip_read(sm_unzip *z, uint8_t *out, size_t cap);
const char *sm_unzip_error(const sm_unzip *z);
/* Closes the stream. Its codec state (a zstd or lz4 context, an inflate
 * state) is kept for the calling thread's next stream of that codec unless
 * it grew past 8 MiB, so a batch does not pay for creating one. */
void sm_unzip_free(sm_unzip *z);

#endif
