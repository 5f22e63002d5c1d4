"""Kafka wire protocol by hand, for tests that need exact frames.

Request header v1 (v2 when flexible), the primitive types, record batch v2
with a CRC-32C computed here in pure Python (idempotent producer fields
too), Produce v3-v7, Fetch v4, CreateTopics v2, InitProducerId v1, a
bounds-checked Reader for responses, and blocking socket helpers with
deadlines.  Written from the Kafka protocol guide; used by
test_bad_input.py, test_fetch.py and the broker tests that need exact
frames (test_durable_order.py, test_idempotence.py, ...).
"""

import socket
import struct
import time

# -- CRC-32C (Castagnoli), table driven, reflected polynomial 0x82F63B78 ------

_CRC_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283   # the standard check value

# -- encoding ------------------------------------------------------------------


def i8(v):
    return struct.pack(">b", v)


def i16(v):
    return struct.pack(">h", v)


def i32(v):
    return struct.pack(">i", v)


def i64(v):
    return struct.pack(">q", v)


def string(s):
    b = s.encode() if isinstance(s, str) else s
    return i16(len(b)) + b


def nullable_string(s):
    return i16(-1) if s is None else string(s)


def array(items):
    return i32(len(items)) + b"".join(items)


def uvarint(v):
    out = b""
    while True:
        if v < 0x80:
            return out + bytes([v])
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7


def varint(v):
    return uvarint((v << 1) ^ (v >> 63))     # zigzag


def compact_string(s):
    b = s.encode()
    return uvarint(len(b) + 1) + b


def frame(api_key, version, corr, body, client_id="itest-raw", flexible=False):
    header = i16(api_key) + i16(version) + i32(corr) + nullable_string(client_id)
    if flexible:
        header += uvarint(0)     # header v2: no tagged fields
    payload = header + body
    return i32(len(payload)) + payload


def record(offset_delta, key, value):
    body = (i8(0) + varint(0) + varint(offset_delta)
            + varint(len(key)) + key + varint(len(value)) + value + varint(0))
    return varint(len(body)) + body


def record_batch(records, ts=None, magic=2, producer_id=-1, producer_epoch=-1, base_sequence=-1):
    """A record batch v2 (uncompressed) with a correct CRC-32C; an
    idempotent producer's batch when producer_id >= 0."""
    ts = int(time.time() * 1000) if ts is None else ts
    recs = b"".join(record(i, k, v) for i, (k, v) in enumerate(records))
    after_crc = (i16(0) + i32(len(records) - 1) + i64(ts) + i64(ts)
                 + i64(producer_id) + i16(producer_epoch) + i32(base_sequence) + i32(len(records)) + recs)
    crc = crc32c(after_crc)
    batch_length = 4 + 1 + 4 + len(after_crc)
    return i64(0) + i32(batch_length) + i32(-1) + i8(magic) + struct.pack(">I", crc) + after_crc


def produce_v3(corr, topic, partition, batch, acks=-1):
    body = (nullable_string(None) + i16(acks) + i32(10000)
            + array([string(topic) + array([i32(partition) + i32(len(batch)) + batch])]))
    return frame(0, 3, corr, body)


def produce_request(corr, parts, acks=-1, version=3, timeout_ms=10000):
    """Produce v3-v7 (one layout) of {(topic, partition): records bytes}."""
    by_topic = {}
    for (t, p), recs in parts.items():
        by_topic.setdefault(t, []).append(i32(p) + i32(len(recs)) + recs)
    body = (nullable_string(None) + i16(acks) + i32(timeout_ms)
            + array([string(t) + array(ps) for t, ps in by_topic.items()]))
    return frame(0, version, corr, body)


def parse_produce(resp, corr, version=3):
    """{(topic, partition): (error_code, base_offset, log_append_time_ms)}
    of a Produce v3-v7 response (v5+ also carries log_start_offset, skipped)."""
    r = Reader(resp)
    if r.i32() != corr:
        raise AssertionError("Produce v%d: wrong correlation id" % version)
    out = {}
    for t, ps in r.array(lambda x: (x.string(), x.array(lambda y: (
            y.i32(), y.i16(), y.i64(), y.i64(), y.i64() if version >= 5 else None)))):
        for p, err, base, lat, _lso in ps:
            out[(t, p)] = (err, base, lat)
    r.i32()   # throttle_time_ms
    if not r.at_end():
        raise AssertionError("Produce v%d response: %d bytes left over" % (version, len(r.d) - r.p))
    return out


def fetch_v4(corr, wants, max_wait=0, min_bytes=0, max_bytes=1 << 20):
    """Fetch v4 of [(topic, partition, offset, partition_max_bytes)]."""
    by_topic = {}
    for t, p, off, pmax in wants:
        by_topic.setdefault(t, []).append(i32(p) + i64(off) + i32(pmax))
    body = (i32(-1) + i32(max_wait) + i32(min_bytes) + i32(max_bytes) + i8(0)
            + array([string(t) + array(ps) for t, ps in by_topic.items()]))
    return frame(1, 4, corr, body)


def parse_fetch_v4(resp, corr):
    """{(topic, partition): {"err", "hw", "records"}} of a Fetch v4 response."""
    r = Reader(resp)
    if r.i32() != corr:
        raise AssertionError("Fetch v4: wrong correlation id")
    r.i32()   # throttle
    out = {}
    for topic, parts in r.array(lambda x: (x.string(), x.array(lambda y: (
            y.i32(), y.i16(), y.i64(), y.i64(), y.array(lambda z: (z.i64(), z.i64())), y.bytes())))):
        for p, err, hw, _lso, _aborted, records in parts:
            out[(topic, p)] = {"err": err, "hw": hw, "records": records or b""}
    if not r.at_end():
        raise AssertionError("Fetch v4 response: %d bytes left over" % (len(r.d) - r.p))
    return out


def create_topics_v2(topics, timeout_ms=10000):
    """The body of CreateTopics v2 for [(name, partitions, {config: value})]."""
    return array([string(n) + i32(np) + i16(1) + array([])
                  + array([string(k) + nullable_string(v) for k, v in sorted(cfg.items())])
                  for n, np, cfg in topics]) + i32(timeout_ms) + i8(0)


def init_producer_id_v1(transactional_id=None, timeout_ms=60000):
    """The body of InitProducerId v0/v1."""
    return nullable_string(transactional_id) + i32(timeout_ms)


# -- decoding ------------------------------------------------------------------


class Reader:
    def __init__(self, data):
        self.d = data
        self.p = 0

    def take(self, n):
        if self.p + n > len(self.d):
            raise AssertionError("response truncated at byte %d (want %d more of %d)" % (self.p, n, len(self.d)))
        v = self.d[self.p:self.p + n]
        self.p += n
        return v

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def bytes(self):
        n = self.i32()
        return None if n < 0 else self.take(n)

    def array(self, fn):
        n = self.i32()
        if n < 0:
            return None
        return [fn(self) for _ in range(n)]

    def uvarint(self):
        v = shift = 0
        while True:
            b = self.i8() & 0xff
            v |= (b & 0x7f) << shift
            if not b & 0x80:
                return v
            shift += 7

    def compact_string(self):
        n = self.uvarint() - 1
        return None if n < 0 else self.take(n).decode()

    def compact_array(self, fn):
        n = self.uvarint() - 1
        return None if n < 0 else [fn(self) for _ in range(n)]

    def tags(self):
        """Skips a tagged-field section; returns {tag: bytes}."""
        out = {}
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            out[tag] = self.take(self.uvarint())
        return out

    def at_end(self):
        return self.p == len(self.d)


# -- sockets -------------------------------------------------------------------


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def send(s, data):
    """Send; False when the broker already closed the connection."""
    try:
        s.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False


def recv_exact(s, n, deadline):
    buf = b""
    while len(buf) < n:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = s.recv(n - len(buf))
        except socket.timeout:
            raise AssertionError("no answer and no close within the deadline (%d of %d bytes)" % (len(buf), n))
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        buf += chunk
    return buf


def read_response(s, timeout=10):
    """One response frame's payload, or None when the broker closes."""
    deadline = time.monotonic() + timeout
    size = recv_exact(s, 4, deadline)
    if size is None:
        return None
    n = struct.unpack(">i", size)[0]
    if n < 4 or n > 64 << 20:
        raise AssertionError("bad response frame size %d" % n)
    return recv_exact(s, n, deadline)


def wait_closed(s, timeout=10):
    """True when the broker closes s within timeout (any bytes before that
    are drained); raises when it stays open."""
    deadline = time.monotonic() + timeout
    while True:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            raise AssertionError("connection still open %.0fs later" % timeout)
        except ConnectionResetError:
            return True
        if not chunk:
            return True


def rpc(port, api_key, version, body, corr=7, flexible=False, timeout=10):
    """One request on a new connection; the response after its correlation
    id as a Reader. Raises AssertionError when the broker closes instead or
    answers another correlation id."""
    s = connect(port)
    try:
        send(s, frame(api_key, version, corr, body, flexible=flexible))
        resp = read_response(s, timeout)
    finally:
        s.close()
    if resp is None:
        raise AssertionError("api %d v%d: connection closed instead of an answer" % (api_key, version))
    r = Reader(resp)
    got = r.i32()
    if got != corr:
        raise AssertionError("api %d v%d: correlation id %d, sent %d" % (api_key, version, got, corr))
    return r


def roundtrip(port, request, timeout=10):
    """One request frame on a new connection; the response payload (its
    correlation id first). Raises AssertionError when the broker closes."""
    s = connect(port)
    try:
        send(s, request)
        resp = read_response(s, timeout)
    finally:
        s.close()
    if resp is None:
        raise AssertionError("connection closed instead of an answer")
    return resp


def create_topics(port, topics, corr=19):
    """CreateTopics v2 of [(name, partitions, {config: value})]: {name:
    (error_code, error_message)}."""
    r = rpc(port, 19, 2, create_topics_v2(topics), corr=corr)
    r.i32()   # throttle
    return {n: (e, m) for n, e, m in r.array(lambda x: (x.string(), x.i16(), x.string()))}


def init_producer_id(port, transactional_id=None, corr=22):
    """InitProducerId v1: (error_code, producer_id, producer_epoch)."""
    r = rpc(port, 22, 1, init_producer_id_v1(transactional_id), corr=corr)
    r.i32()   # throttle
    out = (r.i16(), r.i64(), r.i16())
    if not r.at_end():
        raise AssertionError("InitProducerId v1 response: bytes left over")
    return out


def batches(records):
    """Split a Fetch response's records bytes into (base_offset, last_offset,
    record_count, batch bytes, crc_ok); a trailing partial batch (allowed by
    Kafka when a size limit cuts it) is returned separately as bytes."""
    out = []
    p = 0
    records = records or b""
    while p + 12 <= len(records):
        base, length = struct.unpack_from(">qi", records, p)
        end = p + 12 + length
        if length < 49 or end > len(records):
            break
        b = records[p:end]
        last_delta = struct.unpack_from(">i", b, 23)[0]
        count = struct.unpack_from(">i", b, 57)[0]
        crc = struct.unpack_from(">I", b, 17)[0]
        out.append((base, base + last_delta, count, b, crc == crc32c(b[21:])))
        p = end
    return out, records[p:]
