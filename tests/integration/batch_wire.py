"""Record batches v2 built field by field, for tests that need bad ones.

Every field of the batch header and of each record can be set to anything
(a RecordCount that lies, OffsetDeltas that repeat, a key length of -5),
and the records can be compressed with each of Kafka's codecs in Kafka's
framing (gzip; snappy raw or in snappy-java's "xerial" framing; an LZ4
frame; zstd), or replaced by arbitrary bytes. The CRC-32C is always
computed over what is finally there (kafka_wire.crc32c), so the broker gets
past the CRC to the checks under test. Written from the Kafka protocol
guide (record batch v2); used by test_bad_batches.py and by
tests/fuzz/make_batch_corpus.py.
"""

import gzip
import struct

from kafka_wire import crc32c, i8, i16, i32, i64, varint

NONE, GZIP, SNAPPY, LZ4, ZSTD = 0, 1, 2, 3, 4
CODECS = {"gzip": GZIP, "snappy": SNAPPY, "lz4": LZ4, "zstd": ZSTD}
LOG_APPEND_TIME = 0x08
TRANSACTIONAL = 0x10
CONTROL = 0x20


def vbytes(b):
    """Varint length then bytes; None is null (-1); an int is a bare length
    with no bytes after it (to write lengths that lie)."""
    if b is None:
        return varint(-1)
    if isinstance(b, int):
        return varint(b)
    return varint(len(b)) + b


def record(offset_delta, key=b"k", value=b"v", ts_delta=0, headers=(), attributes=0,
           length_adjust=0, header_count=None):
    """One record; headers are (key, value) pairs. length_adjust adds to the
    Length field (a record that claims more or fewer bytes than it has)."""
    body = (i8(attributes) + varint(ts_delta) + varint(offset_delta) + vbytes(key) + vbytes(value)
            + varint(len(headers) if header_count is None else header_count)
            + b"".join(vbytes(k) + vbytes(v) for k, v in headers))
    return varint(len(body) + length_adjust) + body


def records(n, prefix=b"r", ts_step=1):
    """n well-formed records: offset deltas 0..n-1, keys/values from prefix."""
    return b"".join(record(i, b"%s-k%d" % (prefix, i), b"%s-v%d" % (prefix, i), ts_delta=i * ts_step)
                    for i in range(n))


def xerial(data, block=32 * 1024):
    """snappy-java's framing, as Java clients and kafka-python write it."""
    import snappy
    out = b"\x82SNAPPY\x00" + i32(1) + i32(1)
    for at in range(0, max(len(data), 1), block):
        c = snappy.compress(data[at:at + block])
        out += i32(len(c)) + c
    return out


def compress(codec, data, snappy_framing="xerial", lz4_linked=False):
    if codec == NONE:
        return data
    if codec == GZIP:
        return gzip.compress(data, mtime=0)   # no time in the header: the same bytes every run
    if codec == SNAPPY:
        if snappy_framing == "xerial":
            return xerial(data)
        import snappy
        return snappy.compress(data)
    if codec == LZ4:
        import lz4.frame
        if lz4_linked:
            # lz4.frame.compress() switches a one-block frame to independent
            # blocks; the streaming compressor keeps the flag as asked
            c = lz4.frame.LZ4FrameCompressor(block_linked=True)
            return c.begin() + c.compress(data) + c.flush()
        return lz4.frame.compress(data, block_linked=False)
    if codec == ZSTD:
        import zstandard
        return zstandard.ZstdCompressor().compress(data)
    raise ValueError("codec %r" % codec)


def batch(recs, count, last_offset_delta=None, base_ts=0, max_ts=None, codec=NONE, attributes=0,
          producer_id=-1, producer_epoch=-1, base_sequence=-1, payload=None, **compress_opts):
    """A batch holding recs (record bytes, compressed with codec unless
    payload gives the records section's bytes as they are). count is
    RecordCount; LastOffsetDelta defaults to count - 1. attributes are OR-ed
    with the codec bits."""
    if last_offset_delta is None:
        last_offset_delta = count - 1
    if max_ts is None:
        max_ts = base_ts
    body = payload if payload is not None else compress(codec, recs, **compress_opts)
    after_crc = (i16(attributes | codec) + i32(last_offset_delta) + i64(base_ts) + i64(max_ts)
                 + i64(producer_id) + i16(producer_epoch) + i32(base_sequence) + i32(count) + body)
    length = 4 + 1 + 4 + len(after_crc)
    return i64(0) + i32(length) + i32(-1) + i8(2) + struct.pack(">I", crc32c(after_crc)) + after_crc


def good(n, ts, codec=NONE, prefix=b"good", **opts):
    """A correct batch of n records stamped ts, ts+1, ..."""
    return batch(records(n, prefix), n, base_ts=ts, max_ts=ts + n - 1, codec=codec, **opts)


def produce_request(corr, topic, partition, records_bytes, version=3, acks=-1):
    """Produce v3-v7 (the same request layout), one topic and partition."""
    from kafka_wire import array, frame, nullable_string, string
    body = (nullable_string(None) + i16(acks) + i32(10000)
            + array([string(topic) + array([i32(partition) + i32(len(records_bytes)) + records_bytes])]))
    return frame(0, version, corr, body)


def parse_produce_response(resp, version):
    """[(topic, [(partition, error, base_offset)])], from a v3-v7 response."""
    from kafka_wire import Reader
    r = Reader(resp)
    r.i32()   # correlation id, checked by the caller
    topics = []
    for _ in range(r.i32()):
        name = r.string()
        parts = []
        for _ in range(r.i32()):
            index, err, base = r.i32(), r.i16(), r.i64()
            r.i64()               # LogAppendTime (v2+)
            if version >= 5:
                r.i64()           # LogStartOffset
            parts.append((index, err, base))
        topics.append((name, parts))
    r.i32()   # throttle
    if not r.at_end():
        raise AssertionError("Produce v%d response: %d bytes left over" % (version, len(r.d) - r.p))
    return topics
