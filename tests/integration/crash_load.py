"""Load and checks shared by the crash tests: test_kill_loop.py (kill -9),
tests/powerloss/test_power_loss.py (kill -9 and a power cut on lossyfs) and
tests/soak/kill_loop.py (the long kill loop).

  Writer     one confluent-kafka producer thread sending numbered, self-
             checking records (acks=all; idempotent, or without retries so
             nothing is ever written twice), recording each acknowledged
             (partition, offset) -> sequence number
  Committer  one thread committing ever larger offsets for a consumer
             group (OffsetCommit of a simple consumer, synchronous),
             recording each acknowledged value
  Ledger     every acknowledgement of every cycle, and what a read-back
             found: verify() reads partitions back and checks that every
             acknowledged record is at its offset, offsets run without gaps,
             every body is intact, sequence numbers only go up (no
             duplicate, no reordering), no offset is acknowledged twice;
             verify_commits() that the committed offsets are the last
             acknowledged (or a later one a cut cut off)

  run_cycles the loop itself: topics, load, kill -9 at a random moment
             (and whatever `cut` does then: lossyfs's power cut), restart,
             checks; returns the totals

Counting, not only checking: a Ledger keeps the totals (acknowledged,
lost, duplicated, present) that the soak writes to its results file.
"""

import re
import sys
import threading
import traceback
import time
import zlib

from harness import check, check_eq, wait_for
import group_wire as gw

import confluent_kafka as ck
import confluent_kafka.admin  # noqa: F401 (ck.admin)

BODY_RE = re.compile(rb"^([a-z]+) seq=(\d{10}) p=(\d+) pad=([a-z]*) crc=([0-9a-f]{8})$")

# librdkafka before 2.4 (Debian 12 has 2.0.2) raises a fatal idempotence error
# when batches that failed with a "possibly persisted" error (a disconnection)
# were in fact not persisted: it had moved its next expected sequence past
# them ("rewound sequence number", or "sequence desynchronization" for one
# batch; librdkafka's changelog, #4438). A power cut makes exactly that
# happen: unacknowledged batches in flight are lost, as acks=all allows. It
# is the client's error, not the broker's: the cycle goes on, and every
# record acknowledged before it is still checked at its offset.
CLIENT_FATAL_RE = re.compile(r"(rewound sequence number|sequence desynchronization).*MsgPossiblyPersisted")


def body(tag, seq, partition):
    pad = chr(97 + seq % 26) * ((seq * 7919) % 300)
    head = b"%s seq=%010d p=%d pad=%s" % (tag.encode(), seq, partition, pad.encode())
    return head + b" crc=%08x" % zlib.crc32(head)


def parse(value):
    """(tag, seq, partition) of an intact body, or None."""
    m = BODY_RE.match(value or b"")
    if not m:
        return None
    head = value[:value.rindex(b" crc=")]
    if zlib.crc32(head) != int(m.group(5), 16):
        return None
    return m.group(1).decode(), int(m.group(2)), int(m.group(3))


class Writer:
    """One producer thread on one topic; acked[(partition, offset)] = seq.
    Sequence numbers go round the partitions (seq % partitions), so per
    partition they only go up."""

    def __init__(self, bootstrap, topic, partitions, first_seq, idempotent, acks="all", rate=None):
        self.rate = rate            # records/s to send at most (None: flat out)
        self.topic = topic
        self.partitions = partitions
        self.tag = "idem" if idempotent else "plain"
        self.seq = first_seq
        self.acked = {}
        self.failed = 0
        self.errors = {}
        self.fatal = None           # a fatal client error's text
        self.stop = threading.Event()
        self.lock = threading.Lock()
        conf = {
            "bootstrap.servers": bootstrap,
            "acks": acks,
            "linger.ms": 2,
            "queue.buffering.max.messages": 5000,
            "message.timeout.ms": 60000,
            "reconnect.backoff.ms": 20,
            "reconnect.backoff.max.ms": 200,
            "log.connection.close": False,      # the kills close connections by the hundred
        }
        if idempotent:
            conf["enable.idempotence"] = True     # retries kept: the broker drops the duplicates
        else:
            conf["enable.idempotence"] = False
            conf["message.send.max.retries"] = 0  # a retry could write a message twice
        self.producer = ck.Producer(conf)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _report(self, err, msg):
        with self.lock:
            if err is None:
                self.acked[(msg.partition(), msg.offset())] = parse(msg.value())[1]
            else:
                self.failed += 1
                self.errors[err.name()] = self.errors.get(err.name(), 0) + 1

    def _run(self):
        t0, n0 = time.monotonic(), self.seq
        while not self.stop.is_set():
            if self.rate and (self.seq - n0) % 50 == 0:
                ahead = (self.seq - n0) / self.rate - (time.monotonic() - t0)
                if ahead > 0:
                    self.stop.wait(ahead)   # pacing the load, not waiting for an event
            p = self.seq % self.partitions
            try:
                self.producer.produce(self.topic, key=b"k%d" % (self.seq % 16), value=body(self.tag, self.seq, p),
                                      partition=p, on_delivery=self._report)
                self.seq += 1
                self.producer.poll(0)
            except BufferError:
                self.producer.poll(0.02)
            except ck.KafkaException as e:
                if not e.args[0].fatal():
                    raise
                self.fatal = str(e.args[0])
                return

    def start(self):
        self.thread.start()
        return self

    def n_acked(self):
        with self.lock:
            return len(self.acked)

    def halt(self):
        """Stop producing (what is queued stays queued)."""
        self.stop.set()
        self.thread.join(30)
        check(not self.thread.is_alive(), "%s producer thread stopped" % self.tag)

    def finish(self, timeout=90):
        """Delivery reports for everything sent (call after halt()).
        Returns the number of messages still without one. A fatal client
        error ends it early: self.fatal says which."""
        try:
            left = self.producer.flush(timeout)
        except ck.KafkaException as e:
            if not e.args[0].fatal():
                raise
            self.fatal = str(e.args[0])
        if self.fatal:
            # what the dead producer still holds fails, and is reported
            try:
                self.producer.purge()
                left = self.producer.flush(timeout)
            except ck.KafkaException:
                left = len(self.producer)
        return left


class Committer:
    """Commits offsets 1, 2, 3, ... for every partition of a topic in one
    OffsetCommit v2 each, as a simple consumer of `group` (generation -1,
    no member), over its own connection with raw frames (group_wire.py),
    one at a time. No client library in between, so a commit whose answer
    a kill cut off is never sent again to the restarted broker, and none is
    sent after stop is set: what the broker stores after a restart is then
    exactly what it made durable. acked = the last value acknowledged;
    attempted = every value sent."""

    def __init__(self, port, group, topic, partitions, first=1):
        self.port = port
        self.group = group
        self.topic = topic
        self.partitions = partitions
        self.value = first
        self.acked = None
        self.n_acked = 0
        self.attempted = set()
        self.failed = 0
        self.errors = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        conn = None
        while not self.stop.is_set():
            v = self.value
            self.value += 1
            try:
                if conn is None:
                    conn = gw.Conn(self.port, client_id="crash-committer")
                self.attempted.add(v)
                body = gw.offset_commit_body(2, self.group, -1, "",
                                             {(self.topic, p): (v, None) for p in range(self.partitions)})
                errs = gw.parse_offset_commit(conn.call(gw.OFFSET_COMMIT, 2, body, timeout=60), 2)
                codes = sorted(set(errs.values()))
                if codes == [0] and len(errs) == self.partitions:
                    self.acked = v
                    self.n_acked += 1
                else:
                    self.failed += 1
                    self.errors[str(codes)] = self.errors.get(str(codes), 0) + 1
            except (AssertionError, OSError) as e:
                self.failed += 1
                self.errors[type(e).__name__] = self.errors.get(type(e).__name__, 0) + 1
                if conn is not None:
                    conn.close()
                    conn = None
                self.stop.wait(0.05)    # a backoff while the broker is down, not a wait for an event
        if conn is not None:
            conn.close()

    def start(self):
        self.thread.start()
        return self

    def halt(self, timeout=90):
        """Stop; the commit in flight is answered or fails with the broker."""
        self.stop.set()
        self.thread.join(timeout)
        check(not self.thread.is_alive(), "committer thread stopped")


def committed(port, group, topic, partitions):
    """{partition: committed offset} as OffsetFetch v5 answers it now."""
    got, err = gw.offset_fetch(port, group, {topic: list(range(partitions))})
    check_eq(err, 0, "OffsetFetch of group %s answered without error" % group)
    return {p: off for (t, p), (off, _meta, _e) in got.items()}


def read_from(bootstrap, topic, start):
    """{partition: [(offset, value)]} from start[partition] up to the end,
    and {partition: end offset}: explicit offsets and the fetch responses'
    high watermarks (partition EOF) only."""
    parts = sorted(start)
    md = ck.admin.AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=30)
    t = md.topics.get(topic)
    check(t is not None and t.error is None and len(t.partitions) == len(parts),
          "%s: the topic is there with its %d partitions" % (topic, len(parts)),
          "metadata says %s" % (t.error if t else "nothing"))
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "crash-load-reader",
                     "enable.auto.commit": False, "auto.offset.reset": "error", "check.crcs": True,
                     "enable.partition.eof": True, "fetch.wait.max.ms": 50})
    try:
        c.assign([ck.TopicPartition(topic, p, start[p]) for p in parts])
        got = {p: [] for p in parts}
        eof = {}
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if len(eof) == len(parts) and all(
                    eof[p] == (got[p][-1][0] + 1 if got[p] else start[p]) for p in parts):
                break
            for m in c.consume(1000, 0.2):
                if m.error():
                    if m.error().code() == ck.KafkaError._PARTITION_EOF:
                        eof[m.partition()] = m.offset()
                        continue
                    raise AssertionError("consumer error on %s [%s] at %s: %s"
                                         % (m.topic(), m.partition(), m.offset(), m.error()))
                got[m.partition()].append((m.offset(), m.value()))
        check(len(eof) == len(parts), "%s: read every partition to its end %s" % (topic, eof))
        return got, eof
    finally:
        c.close()


class Ledger:
    """Everything acknowledged on one topic over all cycles, and what the
    read-backs found. verify() reads from where the last verify ended (or
    from 0 with full=True), so a long loop does not re-read everything each
    cycle; the last seq per partition carries over."""

    def __init__(self, topic, partitions, tag):
        self.topic = topic
        self.partitions = partitions
        self.tag = tag
        self.acked = {}             # (partition, offset) -> seq
        self.verified_end = {p: 0 for p in range(partitions)}
        self.last_seq = {p: -1 for p in range(partitions)}
        self.lost = 0               # acknowledged, not at its offset
        self.duplicated = 0         # a seq read twice (or going back)
        self.reused = 0             # an offset acknowledged in two cycles
        self.present = 0
        self.failed = 0

    def add(self, writer, label):
        """Take a finished Writer's acknowledgements."""
        with writer.lock:
            twice = [k for k in writer.acked if k in self.acked]
            self.reused += len(twice)
            check_eq(twice[:3], [], "%s: %s: no (partition, offset) acknowledged in an earlier cycle again"
                     % (label, self.topic))
            self.acked.update(writer.acked)
            self.failed += writer.failed

    def verify(self, bootstrap, label, full=False):
        start = {p: 0 for p in range(self.partitions)} if full else dict(self.verified_end)
        got, hw = read_from(bootstrap, self.topic, start)
        for p in range(self.partitions):
            msgs = got[p]
            check(hw[p] >= self.verified_end[p],
                  "%s: %s[%d]: the end (%d) not below what an earlier read found (%d)"
                  % (label, self.tag, p, hw[p], self.verified_end[p]))
            check_eq([o for o, _ in msgs], list(range(start[p], hw[p])),
                     "%s: %s[%d]: offsets %d..%d without gaps" % (label, self.tag, p, start[p], hw[p] - 1))
            bad = [(o, v[:60]) for o, v in msgs if parse(v) is None or parse(v)[2] != p]
            check_eq(bad[:3], [], "%s: %s[%d]: %d bodies intact (CRC-32 inside each)" % (label, self.tag, p, len(msgs)))
            seqs = [parse(v)[1] for _, v in msgs]
            prev = -1 if full else self.last_seq[p]
            back = []
            for (o, _), s in zip(msgs, seqs):
                if s <= prev:
                    back.append((o, prev, s))
                prev = s
            if not full:
                self.duplicated += len(back)
            check_eq(back[:3], [], "%s: %s[%d]: sequence numbers strictly increase (no duplicate, no reordering)"
                     % (label, self.tag, p))
            by_off = dict(zip([o for o, _ in msgs], seqs))
            mine = [(o, s) for (p2, o), s in self.acked.items() if p2 == p and o >= start[p]]
            missing = [(o, s, by_off.get(o)) for o, s in mine if by_off.get(o) != s]
            if not full:
                self.lost += len(missing)
            check_eq(missing[:3], [], "%s: %s[%d]: each of %d acknowledged records at its offset"
                     % (label, self.tag, p, len(mine)))
            self.verified_end[p] = hw[p]
            if seqs:
                self.last_seq[p] = seqs[-1]
        self.present = sum(self.verified_end.values())
        return self.present


def verify_commits(port, committer, label):
    """After the committer stopped (at the kill) and the broker restarted:
    each partition's committed offset is the last acknowledged commit or
    a later attempt (the one in flight at the kill, whose answer it cut
    off), never an older one."""
    now = committed(port, committer.group, committer.topic, committer.partitions)
    if committer.acked is None:
        ok = all(v < 0 or v in committer.attempted for v in now.values())
        check(ok, "%s: no commit acknowledged; what is stored (%s) was attempted" % (label, now))
        return now
    later = {v for v in committer.attempted if v >= committer.acked}
    bad = {p: v for p, v in now.items() if v not in later}
    check_eq(bad, {}, "%s: every partition's committed offset is the last acknowledged (%d) or a later attempt "
                      "(up to %d)" % (label, committer.acked, max(committer.attempted)))
    return now


def wait_acked(writers, committer, n, timeout, label):
    wait_for(lambda: all(w.n_acked() >= n for w in writers) and (committer is None or committer.n_acked >= 5),
             timeout, "%s: %d acknowledged records per producer and 5 acknowledged commits" % (label, n))


def create_topics(bootstrap, names, partitions):
    admin = ck.admin.AdminClient({"bootstrap.servers": bootstrap})
    futs = admin.create_topics([ck.admin.NewTopic(n, partitions, 1) for n in names], operation_timeout=30)
    for f in futs.values():
        f.result(60)
    check(True, "topics %s created with %d partitions" % (", ".join(names), partitions))


def run_cycles(broker, cycles, rng, unique, partitions=3, cut=None, keep_going=False, what="kill -9", rate=None):
    """cycles times: two producers (acks=all, idempotent and not, a topic
    each) and a committer run; at a random moment (rng) the broker gets
    SIGKILL; cut() runs then if given (it returns a short text for the
    cycle's line); the broker restarts on the same dir and port; every
    check of Ledger.verify and verify_commits. keep_going: a failed cycle
    is counted and printed, and the loop goes on (the soak); else the
    first failure raises. rate: records/s per producer at most (None:
    flat out). Returns the totals."""
    plain = Ledger(unique("crash-plain"), partitions, "plain")
    idem = Ledger(unique("crash-idem"), partitions, "idem")
    group = unique("crash-group")
    create_topics(broker.bootstrap, [plain.topic, idem.topic], partitions)
    seq = {"plain": 0, "idem": 0}
    commit_from = 1
    commits_acked = 0
    bad_cycles = []
    client_fatal = []
    t_start = time.monotonic()
    for cycle in range(1, cycles + 1):
        label = "cycle %d" % cycle
        wp = Writer(broker.bootstrap, plain.topic, partitions, seq["plain"], idempotent=False, rate=rate).start()
        wi = Writer(broker.bootstrap, idem.topic, partitions, seq["idem"], idempotent=True, rate=rate).start()
        cm = Committer(broker.port, group, plain.topic, partitions, first=commit_from).start()
        try:
            wait_acked([wp, wi], cm, 100, 120, label)
            delay = rng.uniform(0.05, 1.5)
            time.sleep(delay)   # the random moment of the kill is the point: a sleep, not a wait
            before = (wp.n_acked(), wi.n_acked(), cm.acked)
            broker.kill9()
        finally:
            wp.stop.set()
            wi.stop.set()
            cm.stop.set()
        cm.halt()       # before the restart: no commit reaches the restarted broker
        extra = cut() if cut else None
        print("  %s: %s %.3fs after the 100th ack (acknowledged so far: plain %d, idempotent %d, commit %s)%s"
              % (label, what, delay, before[0], before[1], before[2], "; " + extra if extra else ""), flush=True)
        t0 = time.monotonic()
        broker.restart(timeout=60)
        print("  %s: broker restarted in %.2fs" % (label, time.monotonic() - t0), flush=True)
        try:
            wp.halt()
            wi.halt()
            for w in (wp, wi):
                left = w.finish()
                check_eq(left, 0, "%s: every %s record got a delivery report" % (label, w.tag))
                if w.fatal:
                    check(w.tag == "idem" and CLIENT_FATAL_RE.search(w.fatal),
                          "%s: the %s producer's fatal error is librdkafka's known one after lost unacknowledged "
                          "batches (#4438); every acknowledged record is still checked" % (label, w.tag), w.fatal)
                    client_fatal.append((cycle, w.fatal))
                    print("  %s: CLIENT FATAL (%s producer, librdkafka %s): %s"
                          % (label, w.tag, ck.libversion()[0], w.fatal), flush=True)
            plain.add(wp, label)
            idem.add(wi, label)
            seq = {"plain": wp.seq, "idem": wi.seq}
            commit_from = max(cm.attempted) + 1
            commits_acked += cm.n_acked
            for led in (plain, idem):
                led.verify(broker.bootstrap, label)
            stored = verify_commits(broker.port, cm, label)
        except AssertionError as e:
            if not keep_going:
                raise
            bad_cycles.append((cycle, str(e)))
            print("CYCLE FAILED %d: %s" % (cycle, e), flush=True)
            traceback.print_exc(file=sys.stdout)
            seq = {"plain": wp.seq, "idem": wi.seq}
            commit_from = max(cm.attempted | {commit_from}) + 1
            continue
        print("  %s: this cycle plain %d acked, %d failed %s, idempotent %d acked, %d failed %s, %d commits acked "
              "(last %s, stored %s); in all %d records acknowledged, %d present"
              % (label, len(wp.acked), wp.failed, wp.errors, len(wi.acked), wi.failed, wi.errors, cm.n_acked,
                 cm.acked, sorted(set(stored.values())), len(plain.acked) + len(idem.acked),
                 plain.present + idem.present), flush=True)
    totals = {
        "cycles": cycles,
        "failed_cycles": len(bad_cycles),
        "acked": len(plain.acked) + len(idem.acked),
        "acked_plain": len(plain.acked),
        "acked_idempotent": len(idem.acked),
        "lost": plain.lost + idem.lost,
        "duplicated": plain.duplicated + idem.duplicated,
        "reused": plain.reused + idem.reused,
        "present": plain.present + idem.present,
        "commits_acked": commits_acked,
        "seconds": round(time.monotonic() - t_start, 1),
        "ledgers": (plain, idem),
        "bad_cycles": bad_cycles,
        "client_fatal": len(client_fatal),
    }
    return totals


def summary_line(t):
    """The one line the soak parses (keep the words)."""
    return ("TOTALS cycles %d failed_cycles %d acked %d acked_plain %d acked_idempotent %d lost %d duplicated %d "
            "offsets_reused %d present %d commits_acked %d client_fatal %d seconds %s"
            % (t["cycles"], t["failed_cycles"], t["acked"], t["acked_plain"], t["acked_idempotent"], t["lost"],
               t["duplicated"], t["reused"], t["present"], t["commits_acked"], t["client_fatal"], t["seconds"]))
