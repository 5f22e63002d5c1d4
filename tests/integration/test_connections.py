#!/usr/bin/python3
"""Connection limits and closes that docs/broker.md promises, over raw
sockets (kafka_wire):

test_max_connections: with max.connections=3, three connections are
  served; a fourth is closed by the broker at once (logged), while the
  three go on working; when one closes its slot frees: a new connection
  is served, and the one after it is refused again.
test_max_connections_per_ip: max.connections.per.ip=2 with
  max.connections.per.ip.overrides=127.0.0.2:4,localhost:3 (clients bind
  127.0.0.1, .2 and .3 as their source): each address gets exactly its
  limit (3 by the hostname, 4, the default 2), the next connection from it
  is closed at once and logged, the others go on; a slot frees when one of
  its connections closes.
test_idle_connections: with connections.max.idle.ms=2000, a connection
  that sends nothing is closed, no sooner than 2 s after its last
  request; a connection that sends a request every 200 ms through the
  same time and 3 s beyond stays open and answered.
test_idle_drip: idle means no request completed: a connection that,
  after one answered request, starts a frame and then drips one byte of
  it every 200 ms is closed all the same, no sooner than 2 s after its
  last answer.
test_acks0_error_closes: an acks=0 produce gets no answer; a good one
  leaves the connection open (a request after it is answered) and is
  written; one that fails (unknown partition, bad CRC) closes the
  connection, so the producer notices, and writes nothing.

Usage: test_connections.py [--broker BIN]   (or SAMSA_BROKER_BIN)
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, check, check_eq, run_tests, unique, wait_for  # noqa: E402
import kafka_wire as wire  # noqa: E402

MAX_CONN = 3
IDLE_MS = 2000
PER_IP = {"127.0.0.1": 3, "127.0.0.2": 4, "127.0.0.3": 2}   # localhost:3, 127.0.0.2:4, the default 2

limited = Broker(overrides={"max.connections": MAX_CONN}, name="max-connections")
per_ip = Broker(overrides={"max.connections.per.ip": 2,
                           "max.connections.per.ip.overrides": "127.0.0.2:4,localhost:3"}, name="per-ip")
idle = Broker(overrides={"connections.max.idle.ms": IDLE_MS}, name="idle")
plain = Broker(overrides={"auto.create.topics.enable": "false"}, name="acks0")
_corr = [4000]


def next_corr():
    _corr[0] += 1
    return _corr[0]


def api_versions(s, timeout=10):
    """An ApiVersions v0 round trip on s: True when answered, False when
    the broker closed the connection instead."""
    corr = next_corr()
    if not wire.send(s, wire.frame(18, 0, corr, b"")):
        return False
    try:
        resp = wire.read_response(s, timeout)
    except (ConnectionResetError, BrokenPipeError):
        return False
    if resp is None:
        return False
    if wire.Reader(resp).i32() != corr:
        raise AssertionError("ApiVersions: wrong correlation id")
    return True


def test_max_connections():
    conns = [wire.connect(limited.port) for _ in range(MAX_CONN)]
    extra = []
    try:
        check(all(api_versions(s) for s in conns), "%d connections (max.connections=%d) each answered"
              % (MAX_CONN, MAX_CONN))
        over = wire.connect(limited.port)
        extra.append(over)
        check(wire.wait_closed(over, 10), "a connection over the limit is closed by the broker")
        check("max.connections (%d) reached" % MAX_CONN in limited.log_text(),
              "the broker logged the refusal, naming max.connections")
        check(all(api_versions(s) for s in conns), "the %d connections go on working" % MAX_CONN)
        conns.pop(0).close()

        # the broker frees the slot when it sees the close: await a new
        # connection that is served
        def served():
            s = wire.connect(limited.port)
            if api_versions(s):
                return s
            s.close()
            return None
        fresh = wait_for(served, 20, "a new connection to be served after one closed", interval=0.05)
        conns.append(fresh)
        check(True, "one closed: a new connection is served in its slot")
        again = wire.connect(limited.port)
        extra.append(again)
        check(wire.wait_closed(again, 10), "and the next one over the limit is closed again")
        check(all(api_versions(s) for s in conns), "the %d connections still work" % MAX_CONN)
    finally:
        for s in conns + extra:
            s.close()


def connect_from(port, source):
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def test_max_connections_per_ip():
    conns = {ip: [] for ip in PER_IP}
    extra = []
    try:
        for ip, limit in PER_IP.items():
            for _ in range(limit):
                conns[ip].append(connect_from(per_ip.port, ip))
            check(all(api_versions(s) for s in conns[ip]), "%d connections from %s answered" % (limit, ip))
        for ip, limit in PER_IP.items():
            over = connect_from(per_ip.port, ip)
            extra.append(over)
            check(wire.wait_closed(over, 10), "connection %d from %s is closed by the broker (its limit: %d)"
                  % (limit + 1, ip, limit))
        log = per_ip.log_text()
        for ip, limit in PER_IP.items():
            check("max.connections.per.ip (%d) reached for %s" % (limit, ip) in log,
                  "the refusal of %s is logged, naming max.connections.per.ip and its limit %d" % (ip, limit))
        check(all(api_versions(s) for ss in conns.values() for s in ss),
              "all %d connections within their limits go on working" % sum(PER_IP.values()))
        conns["127.0.0.3"].pop(0).close()

        def served():
            s = connect_from(per_ip.port, "127.0.0.3")
            if api_versions(s):
                return s
            s.close()
            return None
        conns["127.0.0.3"].append(wait_for(served, 20, "a new connection from 127.0.0.3 after one closed",
                                           interval=0.05))
        check(True, "one of 127.0.0.3's closed: a new one from it is served")
        again = connect_from(per_ip.port, "127.0.0.3")
        extra.append(again)
        check(wire.wait_closed(again, 10), "and the next one from 127.0.0.3 is closed again")
        check(all(api_versions(s) for ss in conns.values() for s in ss), "the others still work")
    finally:
        for s in [s for ss in conns.values() for s in ss] + extra:
            s.close()


def test_idle_connections():
    quiet = wire.connect(idle.port)
    busy = wire.connect(idle.port)
    try:
        check(api_versions(quiet) and api_versions(busy), "two connections answered")
        t_last = time.monotonic()          # the quiet one's last request was sent before this
        answered = 0
        closed_at = None
        # the busy one sends a request every 200 ms until the quiet one is closed and 1.5 x idle beyond
        deadline_quiet = t_last + 30
        while True:
            now = time.monotonic()
            if closed_at is None:
                quiet.settimeout(0.2)
                try:
                    data = quiet.recv(1)
                    if not data:
                        closed_at = time.monotonic()
                    else:
                        raise AssertionError("the quiet connection got bytes it did not ask for")
                except socket.timeout:
                    pass
                except ConnectionResetError:
                    closed_at = time.monotonic()
                if closed_at is None and now > deadline_quiet:
                    raise AssertionError("the quiet connection is still open 30 s after its last request "
                                         "(connections.max.idle.ms=%d)" % IDLE_MS)
            else:
                time.sleep(0.2)
            if not api_versions(busy):
                raise AssertionError("the busy connection was closed after %d answers, %.1f s in"
                                     % (answered, time.monotonic() - t_last))
            answered += 1
            if closed_at is not None and time.monotonic() - closed_at >= 1.5 * IDLE_MS / 1000.0:
                break
        idle_s = closed_at - t_last
        check(idle_s >= IDLE_MS / 1000.0, "the quiet connection was closed %.2f s after its last request "
              "(connections.max.idle.ms=%d: not sooner)" % (idle_s, IDLE_MS))
        check(True, "the busy connection, a request every 200 ms, stayed open: %d answers over %.1f s"
              % (answered, time.monotonic() - t_last))
    finally:
        quiet.close()
        busy.close()


def test_idle_drip():
    s = wire.connect(idle.port)
    try:
        check(api_versions(s), "a connection's ApiVersions is answered")
        t_last = time.monotonic()
        # a 1000-byte ApiVersions frame, one byte every 200 ms
        frame = wire.frame(18, 0, next_corr(), b"\0" * 990)
        closed_at = None
        sent = 0
        while closed_at is None:
            if not wire.send(s, frame[sent:sent + 1]):
                closed_at = time.monotonic()
                break
            sent += 1
            s.settimeout(0.2)
            try:
                data = s.recv(1)
                if data:
                    raise AssertionError("the dripping connection got bytes it did not ask for")
                closed_at = time.monotonic()
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed_at = time.monotonic()
            if closed_at is None and time.monotonic() - t_last > 30:
                raise AssertionError("a connection dripping a byte every 200 ms is still open 30 s after its "
                                     "last answer (%d bytes sent; connections.max.idle.ms=%d)" % (sent, IDLE_MS))
        idle_s = closed_at - t_last
        check(sent < len(frame), "the frame was never completed (%d of %d bytes)" % (sent, len(frame)))
        check(idle_s >= IDLE_MS / 1000.0, "the dripping connection was closed %.2f s after its last answer "
              "(%d bytes dripped; connections.max.idle.ms=%d: not sooner)" % (idle_s, sent, IDLE_MS))
    finally:
        s.close()


def produce0(s, topic, partition, batch):
    return wire.send(s, wire.produce_request(next_corr(), {(topic, partition): batch}, acks=0))


def high_watermark(topic):
    corr = next_corr()
    r = wire.parse_fetch_v4(wire.roundtrip(plain.port, wire.fetch_v4(corr, [(topic, 0, 0, 1 << 20)])), corr)
    return r[(topic, 0)]["hw"]


def test_acks0_error_closes():
    topic = unique("acks0")
    check_eq(wire.create_topics(plain.port, [(topic, 1, {})], corr=next_corr()), {topic: (0, None)},
             "created %s (1 partition)" % topic)
    s = wire.connect(plain.port)
    try:
        check(produce0(s, topic, 0, wire.record_batch([(b"k", b"acks zero")])), "acks=0 produce sent")
        check(api_versions(s), "no answer to it: the next answer on the connection is the ApiVersions after it")
        check_eq(high_watermark(topic), 1, "and it was written (high watermark 1)")
    finally:
        s.close()

    s = wire.connect(plain.port)
    try:
        produce0(s, topic, 5, wire.record_batch([(b"k", b"nowhere")]))
        check(wire.wait_closed(s, 10), "acks=0 produce to partition 5 of a 1-partition topic: the connection is closed")
    finally:
        s.close()

    bad = bytearray(wire.record_batch([(b"k", b"bad crc")]))
    bad[-1] ^= 0xFF
    s = wire.connect(plain.port)
    try:
        produce0(s, topic, 0, bytes(bad))
        check(wire.wait_closed(s, 10), "acks=0 produce of a batch with a bad CRC-32C: the connection is closed")
    finally:
        s.close()
    check_eq(high_watermark(topic), 1, "neither was written (high watermark still 1)")
    check("acks=0 produce failed" in plain.log_text(), "the broker logged why it closed them")


def main():
    brokers = [limited, per_ip, idle, plain]
    try:
        for b in brokers:
            b.start()
            print("broker %s pid %d on %s" % (b.name, b.pid, b.bootstrap), flush=True)
        rc = run_tests([test_max_connections, test_max_connections_per_ip, test_idle_connections, test_idle_drip,
                        test_acks0_error_closes], brokers)
        for b in brokers:
            rc = b.finish(rc)
        return rc
    finally:
        for b in brokers:
            b.cleanup()


if __name__ == "__main__":
    sys.exit(main())
