#!/usr/bin/python3
"""Writes the bad-batch cases of integration.bad_batches into the fuzz corpus.

Each case becomes one corpus file in fuzz_request's input format: ApiKey
int16 (0, Produce) | ApiVersion int16 (3, or 7 for zstd) | the Produce
request body (no TransactionalId, acks -1, one topic, one partition, the
batch). Files are named by the SHA-1 of their content, as libFuzzer names
them, so running this again changes nothing. fuzz_decoders.c takes a
Produce past its decoder into the broker's batch checks, so `ctest -R
fuzz.replay` replays every case through the records iterator and the
decompressors, and a fuzzer starts from them.

Usage: tests/fuzz/make_batch_corpus.py [CORPUS_DIR]   (needs python3-snappy,
python3-lz4 and python3-zstandard, as the integration test does)
"""

import hashlib
import os
import random
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "integration"))
import batch_wire as bw  # noqa: E402
from kafka_wire import array, i16, i32, nullable_string, string  # noqa: E402

TS = 1700000000000
HOUR = 3600 * 1000


def cases():
    rng = random.Random(7)

    def junk(n):
        return bytes(rng.randrange(256) for _ in range(n))

    three = bw.records(3, b"c")
    for name, codec, opts in (("gzip", bw.GZIP, {}), ("xerial", bw.SNAPPY, {}),
                              ("rawsnappy", bw.SNAPPY, {"snappy_framing": "raw"}),
                              ("lz4", bw.LZ4, {}), ("zstd", bw.ZSTD, {})):
        packed = bw.compress(codec, three, **opts)
        yield name + " good", bw.batch(three, 3, base_ts=TS, codec=codec, **opts)
        yield name + " junk payload", bw.batch(three, 3, base_ts=TS, codec=codec, payload=junk(len(packed)))
        yield name + " cut short", bw.batch(three, 3, base_ts=TS, codec=codec, payload=packed[:-5])
        yield name + " junk after", bw.batch(three, 3, base_ts=TS, codec=codec, payload=packed + b"garbage")
        yield name + " garbage records", bw.batch(b"", 3, base_ts=TS, codec=codec,
                                                  payload=bw.compress(codec, junk(60), **opts))
        yield name + " count 4", bw.batch(three, 4, base_ts=TS, codec=codec, **opts)
        yield name + " deltas 0 0 0", bw.batch(b"".join(bw.record(0, b"k%d" % i) for i in range(3)), 3,
                                               base_ts=TS, codec=codec, **opts)
    yield "lz4 linked", bw.batch(bw.records(30), 30, base_ts=TS, codec=bw.LZ4, lz4_linked=True)
    bomb = bw.record(0, b"k", bytes(4 << 20))
    for codec in (bw.GZIP, bw.LZ4, bw.ZSTD):
        yield "bomb %d" % codec, bw.batch(bomb, 1, base_ts=TS, codec=codec)
    yield "junk records", bw.batch(junk(60), 3, base_ts=TS)
    yield "key length -5", bw.batch(bw.record(0, key=-5), 1, base_ts=TS)
    yield "value past record", bw.batch(bw.record(0, value=40) + b"v", 1, base_ts=TS)
    yield "length +3", bw.batch(bw.record(0, length_adjust=3), 1, base_ts=TS)
    yield "length -2", bw.batch(bw.record(0, length_adjust=-2) + bw.record(1), 2, base_ts=TS)
    yield "header count -1", bw.batch(bw.record(0, header_count=-1), 1, base_ts=TS)
    yield "null header key", bw.batch(bw.record(0, headers=[(None, b"v")]), 1, base_ts=TS)
    yield "headers", bw.batch(bw.record(0, key=None, value=b"", headers=[(b"h", b"1"), (b"n", None)]), 1,
                              base_ts=TS)
    yield "count 2 of 3", bw.batch(three, 2, base_ts=TS)
    yield "last delta 0", bw.batch(three, 3, last_offset_delta=0, base_ts=TS)
    yield "last delta 2^31-1", bw.batch(three, 3, last_offset_delta=2 ** 31 - 1, base_ts=TS)
    yield "count 0", bw.batch(b"", 0, base_ts=TS)
    yield "count 2^31-1", bw.batch(three, 2 ** 31 - 1, base_ts=TS)
    yield "deltas 0 2 1", bw.batch(bw.record(0) + bw.record(2) + bw.record(1), 3, base_ts=TS)
    yield "2h ahead", bw.good(2, TS + 2 * HOUR)
    yield "ts overflow", bw.batch(bw.record(0, ts_delta=100), 1, base_ts=2 ** 63 - 10)
    yield "log append time", bw.good(2, TS, attributes=bw.LOG_APPEND_TIME)
    yield "control", bw.good(1, TS, attributes=bw.CONTROL)
    yield "sequence -1", bw.good(2, TS, producer_id=5, producer_epoch=0, base_sequence=-1)
    yield "codec 5", bw.batch(three, 3, base_ts=TS, codec=5, payload=three)
    yield "two batches", bw.good(1, TS) + bw.good(1, TS)


def request(batch, codec_is_zstd):
    version = 7 if codec_is_zstd else 3
    body = (nullable_string(None) + i16(-1) + i32(10000)
            + array([string("fuzz") + array([i32(0) + i32(len(batch)) + batch])]))
    return i16(0) + i16(version) + body


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus")
    written = 0
    for name, batch in cases():
        data = request(batch, (batch[22] & 7) == bw.ZSTD)
        path = os.path.join(out, hashlib.sha1(data).hexdigest())
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
            written += 1
        print("%s  %6d bytes  %s" % (os.path.basename(path), len(data), name))
    print("%d new file(s) in %s" % (written, out))


if __name__ == "__main__":
    main()
