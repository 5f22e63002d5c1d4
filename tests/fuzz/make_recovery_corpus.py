#!/usr/bin/python3
"""Writes the seeds of fuzz_recovery's corpus (tests/fuzz/corpus-recovery).

Each seed is one input in fuzz_recovery.c's format: Flags uint8 |
IndexLength uint16 | CheckpointLength uint16 | .index | recovery-point-
checkpoint | .log. The cases are what a crash leaves: whole batches, with
and without an index and a checkpoint, clean and unclean opens, a torn last
batch, a batch with a bad CRC in the middle, an index pointing past the
end, a checkpoint with a bad CRC, a segment at base offset 100. Files are
named by the SHA-1 of their content, so running this again changes nothing.

Usage: tests/fuzz/make_recovery_corpus.py [CORPUS_DIR]
"""

import hashlib
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "integration"))
from kafka_wire import crc32c, record_batch  # noqa: E402

TS = 1700000000000


def batches(base, n, per=3):
    """n batches of `per` records each from offset base: (bytes, [(last offset, position)])."""
    out, idx, off = b"", [], base
    for i in range(n):
        b = bytearray(record_batch([(b"k%d" % j, b"v%d-%d" % (i, j) * 4) for j in range(per)], ts=TS + i * 1000))
        b[0:8] = struct.pack(">q", off)
        idx.append((off + per - 1, len(out)))
        out += bytes(b)
        off += per
    return out, idx


def index_bytes(idx, base):
    return b"".join(struct.pack(">ii", o - base, p) for o, p in idx)


def checkpoint(base, pos, good=True):
    head = b"0\n%020d %020d " % (base, pos)
    crc = crc32c(head) ^ (0 if good else 1)
    return head + b"%08x\n" % crc


def seed(flags, index, ckpt, log):
    return struct.pack(">BHH", flags, len(index), len(ckpt)) + index + ckpt + log


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus-recovery")
    os.makedirs(out, exist_ok=True)
    log, idx = batches(0, 5)
    log100, idx100 = batches(100, 4)
    torn = log + log[:len(log) // 7]
    bad = bytearray(log)
    bad[idx[2][1] + 30] ^= 0x55                 # inside the third batch, past its CRC field
    cases = [
        seed(0, b"", b"", log),                                   # unclean, no index
        seed(1, b"", b"", log),                                   # clean open
        seed(0, index_bytes(idx, 0), b"", log),                   # with its index
        seed(1, index_bytes(idx, 0), b"", log),
        seed(0, index_bytes(idx, 0), b"", torn),                  # a torn last batch
        seed(0, b"", b"", bytes(bad)),                            # a bad CRC in the middle
        seed(0, index_bytes(idx + [(40, 99999)], 0), b"", log),   # an index entry past the end
        seed(0, b"", checkpoint(0, len(log)), log),               # a recovery point at the end
        seed(0, b"", checkpoint(0, idx[3][1]), torn),             # a recovery point before a torn tail
        seed(0, b"", checkpoint(0, len(log), good=False), log),   # a checkpoint with a bad CRC
        seed(2, index_bytes(idx100, 100), b"", log100),           # base offset 100
        seed(3, b"", b"", log100[:-3]),                           # clean open, torn
        seed(0, b"", b"", b""),                                   # an empty segment
    ]
    n = 0
    for c in cases:
        name = hashlib.sha1(c).hexdigest()
        path = os.path.join(out, name)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(c)
            n += 1
    print("%d seeds (%d new) in %s" % (len(cases), n, out))


if __name__ == "__main__":
    main()
