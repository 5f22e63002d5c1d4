"""The reservation saga (docs/shop.md), end to end: a real samsa-broker, real
samsa-relays (one per outbox database: reservations.db, rooms.db), real
shop-reservations and shop-rooms, on free loopback ports in a temp dir.

  - contention: 60 concurrent requests for one room and overlapping dates
    (capacity 3): no night overbooked, every reservation CONFIRMED or
    REJECTED, every refusal names a night that is full, the two services'
    books agree; cancellations give the nights back (and a second DELETE is
    409); a cancel requested while PENDING resolves when the result comes
    (both ways: confirmed then given back, and rejected);
  - duplicates: a room.reserve / room.cancel delivered twice with the same
    samsa.event_id changes nothing the second time; a second cancel with
    another event id changes nothing either; malformed events are rejected
    and the consumers go on;
  - bad requests: the right 4xx and JSON error for each, nothing written,
    the servers still up;
  - the contention run again on PostgreSQL.
"""
# ctest-timeout: 600

import concurrent.futures
import json
import os
import random
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shop_harness  # noqa: E402
from shop_harness import Shop, check, check_eq, wait_for  # noqa: E402

SAGA = ("rooms", "reservations")
CAPACITY = 3


def saga_shop(pg=False):
    return Shop(services=SAGA, pg=pg)


def nights_of(check_in, check_out):
    """The nights of a stay, as YYYY-MM-DD strings."""
    import datetime
    d = datetime.date.fromisoformat(check_in)
    end = datetime.date.fromisoformat(check_out)
    out = []
    while d < end:
        out.append(d.isoformat())
        d += datetime.timedelta(days=1)
    return out


def books(shop):
    """(taken per room/night from shop-rooms, confirmed nights from
    shop-reservations, both stats) once everything has settled."""
    shop.wait_settled(timeout=90)
    # wait_settled's own stats are read before its lag checks, so they may
    # predate the last events it waited for: read them again, now settled
    st = shop.stats()
    return st["rooms"]["taken"], st["reservations"]["confirmed_nights"], st


def check_books(shop, what):
    taken, confirmed, st = books(shop)
    check_eq(taken, confirmed, "%s: shop-rooms' taken equals shop-reservations' confirmed_nights" % what)
    over = [(r, n, t) for r, nights in taken.items() for n, t in nights.items() if t > CAPACITY or t < 0]
    check(not over, "%s: no night above capacity %d" % (what, CAPACITY), over)
    for name in SAGA:
        check_eq(st[name]["outbox"].get("DEAD", 0), 0, "%s: no DEAD outbox row in %s" % (what, name))
    return taken, st


def reserve(svc, room, ci, co):
    st, body = svc.post("/reservations", {"room": room, "check_in": ci, "check_out": co})
    if st != 202:
        raise AssertionError("POST /reservations %s %s..%s: %s %s" % (room, ci, co, st, body))
    return body


def final(svc, rid, timeout=60):
    def done():
        st, body = svc.get("/reservations/" + rid)
        return body if st == 200 and body["status"] not in ("PENDING", "CANCEL_REQUESTED") else None
    return wait_for(done, timeout, "reservation %s to be decided" % rid, interval=0.05)


# -- contention, cancellations ---------------------------------------------------------

def contention(shop, n=60, seed=5):
    res = shop.svc("reservations")
    rooms = shop.svc("rooms")
    rnd = random.Random(seed)
    # overlapping stays of 1..4 nights inside 2027-03-01 .. 2027-03-10, room r1
    stays = []
    for _ in range(n):
        start = rnd.randrange(1, 8)
        stays.append(("2027-03-%02d" % start, "2027-03-%02d" % (start + rnd.randrange(1, 5))))
    barrier = threading.Barrier(min(n, 20))

    def one(stay):
        try:
            barrier.wait(timeout=10)
        except threading.BrokenBarrierError:
            pass
        return reserve(res, "r1", stay[0], stay[1])

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as ex:
        made = list(ex.map(one, stays))
    check_eq(len(made), n, "%d concurrent POST /reservations answered 202" % n)
    check(all(m["status"] == "PENDING" for m in made), "every new reservation starts PENDING")
    check_eq(len({m["id"] for m in made}), n, "every reservation has its own id")

    decided = [final(res, m["id"]) for m in made]
    took = time.monotonic() - t0
    statuses = [d["status"] for d in decided]
    check(set(statuses) <= {"CONFIRMED", "REJECTED"}, "every reservation ends CONFIRMED or REJECTED",
          statuses)
    confirmed = [d for d in decided if d["status"] == "CONFIRMED"]
    rejected = [d for d in decided if d["status"] == "REJECTED"]
    print("  %d reservations decided in %.2fs: %d confirmed, %d rejected"
          % (n, took, len(confirmed), len(rejected)), flush=True)
    check(confirmed and rejected, "contention: some confirmed, some rejected")

    taken, st = check_books(shop, "after contention")
    # by hand: the confirmed stays, night by night, never above capacity
    mine = {}
    for d in confirmed:
        for night in nights_of(d["check_in"], d["check_out"]):
            mine[night] = mine.get(night, 0) + 1
    check_eq(taken.get("r1", {}), mine, "r1's taken nights are the confirmed stays' nights")
    # a refusal names a night of its stay that is full (nothing was
    # cancelled yet, so a full night stays full)
    wrong = []
    for d in rejected:
        reason = d.get("reason", "")
        night = reason[len("sold out on "):]
        if (not reason.startswith("sold out on ") or night not in nights_of(d["check_in"], d["check_out"])
                or mine.get(night) != CAPACITY):
            wrong.append((d["id"], d["check_in"], d["check_out"], reason, mine.get(night)))
    check(not wrong, "every refusal says \"sold out on <a full night of its own stay>\"", wrong)
    av = rooms.get("/rooms/r1/availability?from=2027-03-01&to=2027-03-12")
    check_eq(av[0], 200, "GET /rooms/r1/availability")
    check_eq(av[1], {night: CAPACITY - mine.get(night, 0) for night in nights_of("2027-03-01", "2027-03-12")},
             "availability is capacity minus the confirmed nights")
    check_eq(st["rooms"]["confirmed"], len(confirmed), "shop-rooms counts the confirmed bookings")
    check_eq(st["rooms"]["rejected"], len(rejected), "shop-rooms counts the rejected bookings")
    check_eq(st["reservations"]["reservations"]["CONFIRMED"], len(confirmed), "reservations: CONFIRMED count")
    check(len(st["reservations"]["latency_ms"]) >= n, "a latency sample per decided reservation")
    return confirmed, rejected, mine


def cancellations(shop, confirmed, rejected, mine):
    res = shop.svc("reservations")
    rooms = shop.svc("rooms")
    gone = confirmed[::2]
    for d in gone:
        st, body = res.delete("/reservations/" + d["id"])
        check_eq((st, body.get("status")), (200, "CANCELLED"), "DELETE a CONFIRMED reservation: 200 CANCELLED")
        for night in nights_of(d["check_in"], d["check_out"]):
            mine[night] -= 1
    mine = {k: v for k, v in mine.items() if v}
    st, body = res.delete("/reservations/" + gone[0]["id"])
    check_eq((st, body.get("error")), (409, "conflict"), "DELETE it again: 409 conflict")
    st, body = res.delete("/reservations/" + rejected[0]["id"])
    check_eq((st, body.get("error")), (409, "conflict"), "DELETE a REJECTED reservation: 409 conflict")
    taken, stats = check_books(shop, "after cancellations")
    check_eq(taken.get("r1", {}), mine, "cancelled nights are free again in shop-rooms")
    check_eq(stats["rooms"]["cancelled"], len(gone), "shop-rooms counts the cancelled bookings")
    st, av = rooms.get("/rooms/r1/availability?from=2027-03-01&to=2027-03-12")
    check_eq(av, {night: CAPACITY - mine.get(night, 0) for night in nights_of("2027-03-01", "2027-03-12")},
             "availability shows the cancelled nights free again")
    # the freed capacity can be booked again, night by night, up to full
    free_night = next(n for n in nights_of("2027-03-01", "2027-03-12") if av[n] > 0)
    d = final(res, reserve(res, "r1", free_night, nights_of(free_night, "2027-03-20")[1])["id"])
    check_eq(d["status"], "CONFIRMED", "a freed night (%s) can be booked again" % free_night)
    check_books(shop, "after re-booking")


def cancel_while_pending(shop):
    """DELETE while PENDING: stop the reservations relay so room.reserve
    stays in the outbox and the reservation stays PENDING for sure."""
    res = shop.svc("reservations")
    relay = shop.relays["reservations"]
    # r3: free, so the reserve is CONFIRMED, then given back by room.cancel
    # r4: 2027-06-01 filled first, so the reserve is REJECTED, nothing to give back
    for ci, co in (("2027-06-01", "2027-06-02"),) * CAPACITY:
        check_eq(final(res, reserve(res, "r4", ci, co)["id"])["status"], "CONFIRMED", "r4 2027-06-01 filled")
    relay.stop()
    a = reserve(res, "r3", "2027-06-01", "2027-06-04")
    b = reserve(res, "r4", "2027-06-01", "2027-06-03")
    for x in (a, b):
        st, body = res.delete("/reservations/" + x["id"])
        check_eq((st, body.get("status")), (202, "CANCEL_REQUESTED"), "DELETE a PENDING reservation: 202")
        st, body = res.get("/reservations/" + x["id"])
        check_eq(body["status"], "CANCEL_REQUESTED", "it is CANCEL_REQUESTED")
    st, body = res.delete("/reservations/" + a["id"])
    check_eq((st, body.get("error")), (409, "conflict"), "DELETE a CANCEL_REQUESTED reservation again: 409")
    lst = res.get("/reservations?status=CANCEL_REQUESTED")
    check_eq(sorted(x["id"] for x in lst[1]), sorted([a["id"], b["id"]]), "GET /reservations?status=CANCEL_REQUESTED")
    relay.start()
    da, db = final(res, a["id"]), final(res, b["id"])
    check_eq((da["status"], da.get("result")), ("CANCELLED", "CONFIRMED"),
             "a cancel requested while PENDING: confirmed by rooms, then CANCELLED")
    check_eq((db["status"], db.get("result")), ("CANCELLED", "REJECTED"),
             "a cancel requested while PENDING: rejected by rooms, then CANCELLED")
    taken, st = check_books(shop, "after cancels while pending")
    check("r3" not in taken, "r3's nights were given back (room.cancel after the confirmation)", taken.get("r3"))
    check_eq(taken.get("r4"), {"2027-06-01": CAPACITY}, "r4 holds only its 3 confirmed guests")
    check_eq(st["reservations"]["reservations"]["CANCEL_REQUESTED"], 0, "nothing left CANCEL_REQUESTED")


def cancel_racing_results(shop, n=40, seed=1):
    """POST then DELETE at once, n times in parallel, on free rooms: each
    DELETE lands before, during or after the result; every one is 200 or
    202 (never 409: the reservation is cancellable all along), all end
    CANCELLED, and every night comes back."""
    res = shop.svc("reservations")
    rnd = random.Random(seed)

    def one(i):
        room = "r%d" % (5 + i % 6)
        day = 1 + 2 * (i // 6)
        made = reserve(res, room, "2027-10-%02d" % day, "2027-10-%02d" % (day + 2))
        time.sleep(rnd.random() * 0.25)  # spread the DELETEs over the result's arrival
        st, body = res.delete("/reservations/" + made["id"])
        return made["id"], st, body

    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as ex:
        out = list(ex.map(one, range(n)))
    codes = sorted(st for _, st, _ in out)
    check(set(codes) <= {200, 202}, "%d DELETEs racing their results: 200 or 202 (%d x 200, %d x 202)"
          % (n, codes.count(200), codes.count(202)), [(i, st, b) for i, st, b in out if st not in (200, 202)])
    ends = [final(res, i) for i, _, _ in out]
    check(all(e["status"] == "CANCELLED" and e.get("result") == "CONFIRMED" for e in ends),
          "all end CANCELLED after a CONFIRMED verdict", [e for e in ends if e["status"] != "CANCELLED"])
    taken, _ = check_books(shop, "after cancels racing results")
    left = {r: t for r, t in taken.items() if r in ["r%d" % k for k in range(5, 11)]}
    check(not left, "every night of r5..r10 came back", left)


def test_contention_and_cancellations(shop):
    confirmed, rejected, mine = contention(shop)
    cancellations(shop, confirmed, rejected, mine)
    cancel_while_pending(shop)
    cancel_racing_results(shop)


def test_contention_postgres(shop):
    confirmed, rejected, mine = contention(shop, n=60, seed=11)
    cancellations(shop, confirmed, rejected, mine)
    cancel_while_pending(shop)
    cancel_racing_results(shop, seed=2)


# -- duplicates and malformed events ---------------------------------------------------------

def producer(shop):
    import confluent_kafka as ck
    return ck.Producer({"bootstrap.servers": shop.bootstrap, "enable.idempotence": True})


def send(p, topic, key, payload, event_id=None):
    headers = [("samsa.created_at", str(int(time.time() * 1000)).encode())]
    if event_id is not None:
        headers.append(("samsa.event_id", event_id.encode()))
    value = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    p.produce(topic, key=key.encode() if key else None, value=value, headers=headers)
    left = p.flush(30)
    if left:
        raise AssertionError("%d records not delivered to %s" % (left, topic))


def read_topic(shop, topic):
    """Every record of topic, as (key, {header: value}, JSON payload), read
    with assign() from offset 0 up to the end offsets of now."""
    import confluent_kafka as ck
    c = ck.Consumer({"bootstrap.servers": shop.bootstrap, "group.id": "saga-reader",
                     "enable.auto.commit": False})
    try:
        ends = {p: c.get_watermark_offsets(ck.TopicPartition(topic, p), timeout=10)[1]
                for p in range(shop_harness.PARTITIONS)}
        want = {p: e for p, e in ends.items() if e > 0}
        c.assign([ck.TopicPartition(topic, p, 0) for p in want])
        out, deadline = [], time.monotonic() + 30
        pos = {p: 0 for p in want}
        while any(pos[p] < want[p] for p in want):
            if time.monotonic() > deadline:
                raise AssertionError("reading %s: got %s of %s" % (topic, pos, want))
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            pos[m.partition()] = m.offset() + 1
            hdrs = {k: v.decode() for k, v in (m.headers() or [])}
            out.append((m.key().decode() if m.key() else None, hdrs, json.loads(m.value())))
        return out
    finally:
        c.close()


def events_of(svc):
    return svc.stats()["events"]


def test_duplicate_and_malformed_events(shop):
    rooms = shop.svc("rooms")
    res = shop.svc("reservations")
    p = producer(shop)
    before = events_of(rooms)

    def seen(n):
        return lambda: (lambda e: e if e["applied"] + e["duplicates"] + e["rejected"]
                        >= before["applied"] + before["duplicates"] + before["rejected"] + n else None)(events_of(rooms))

    rid = "dup-" + uuid.uuid4().hex[:8]
    reserve_ev = {"event": "room.reserve", "reservation": rid, "room": "r5",
                  "check_in": "2027-08-01", "check_out": "2027-08-03"}
    eid = str(uuid.uuid4())
    send(p, "shop.rooms", "r5", reserve_ev, eid)
    send(p, "shop.rooms", "r5", reserve_ev, eid)
    e = wait_for(seen(2), 30, "shop-rooms to consume both copies of room.reserve")
    check_eq(e["applied"] - before["applied"], 1, "room.reserve applied once")
    check_eq(e["duplicates"] - before["duplicates"], 1, "the second copy (same samsa.event_id) is a duplicate")
    st = rooms.stats()
    check_eq(st["taken"].get("r5"), {"2027-08-01": 1, "2027-08-02": 1}, "the nights were taken once")

    # the same reservation again under another event id: the verdict stands
    send(p, "shop.rooms", "r5", reserve_ev, str(uuid.uuid4()))
    wait_for(seen(3), 30, "shop-rooms to consume the repeated room.reserve")
    check_eq(rooms.stats()["taken"].get("r5"), {"2027-08-01": 1, "2027-08-02": 1},
             "room.reserve for an already decided reservation changes nothing")

    cancel_ev = dict(reserve_ev, event="room.cancel")
    cid = str(uuid.uuid4())
    send(p, "shop.rooms", "r5", cancel_ev, cid)
    send(p, "shop.rooms", "r5", cancel_ev, cid)
    e = wait_for(seen(5), 30, "shop-rooms to consume both copies of room.cancel")
    check_eq(e["duplicates"] - before["duplicates"], 2, "the second room.cancel (same event id) is a duplicate")
    check("r5" not in rooms.stats()["taken"], "room.cancel gave the nights back once", rooms.stats()["taken"])
    send(p, "shop.rooms", "r5", cancel_ev, str(uuid.uuid4()))
    send(p, "shop.rooms", "r5", dict(cancel_ev, reservation="never-seen"), str(uuid.uuid4()))
    wait_for(seen(7), 30, "shop-rooms to consume two more room.cancel")
    st = rooms.stats()
    check("r5" not in st["taken"], "a cancel of a cancelled or unknown reservation changes nothing", st["taken"])
    check_eq(st["cancelled"], 1, "one booking cancelled")

    # malformed events: rejected, logged, and the partition goes on
    bad = [b"not json", b"[1,2]", {"event": "room.reserve"}, {"event": "room.explode", "reservation": "x"},
           {"reservation": "x"}, {"event": "room.reserve", "reservation": 42}]
    for b in bad:
        send(p, "shop.rooms", "r6", b, str(uuid.uuid4()))
    send(p, "shop.rooms", "r6", {"event": "room.reserve", "reservation": "no-header", "room": "r6",
                                 "check_in": "2027-08-01", "check_out": "2027-08-02"}, None)
    ok_ev = {"event": "room.reserve", "reservation": "after-bad", "room": "r6",
             "check_in": "2027-08-05", "check_out": "2027-08-06"}
    send(p, "shop.rooms", "r6", ok_ev, str(uuid.uuid4()))
    e = wait_for(seen(7 + len(bad) + 2), 30, "shop-rooms to get past the malformed events")
    check_eq(e["rejected"] - before["rejected"], len(bad), "each malformed room event is rejected")
    check_eq(rooms.stats()["taken"].get("r6"), {"2027-08-01": 1, "2027-08-05": 1},
             "events after the malformed ones are applied (a record without samsa.event_id too)")
    # a room.reserve with bad fields but a reservation id: REJECTED with a reason, not stuck
    send(p, "shop.rooms", "r7", {"event": "room.reserve", "reservation": "bad-dates", "room": "r7",
                                 "check_in": "2027-02-30", "check_out": "2027-03-02"}, str(uuid.uuid4()))
    wait_for(seen(7 + len(bad) + 3), 30, "shop-rooms to decide the bad-dates reservation")
    check("r7" not in rooms.stats()["taken"], "a reserve with an impossible date takes nothing")

    # shop-reservations: malformed results are rejected, a result for an
    # unknown reservation changes nothing, and real traffic still flows
    rb = events_of(res)
    for b in (b"{", {"reservation": "x", "result": "MAYBE"}, {"result": "CONFIRMED"}):
        send(p, "shop.reservation-results", "x", b, str(uuid.uuid4()))
    d = final(res, reserve(res, "r8", "2027-09-01", "2027-09-02")["id"])
    check_eq(d["status"], "CONFIRMED", "a real reservation after malformed results is confirmed")
    e = wait_for(lambda: (lambda x: x if x["rejected"] - rb["rejected"] >= 3 else None)(events_of(res)), 30,
                 "shop-reservations to reject the malformed results")
    check_eq(e["rejected"] - rb["rejected"], 3, "each malformed result is rejected")
    # the earlier hand-made room.reserve events got results for reservations
    # shop-reservations never made: counted as applied, nothing created
    st = res.stats()
    check_eq(sum(st["reservations"].values()), 1, "results for unknown reservations create nothing")
    for svc in (rooms, res):
        check_eq(svc.get("/healthz")[0], 200, "shop-%s still healthy" % svc.name)


# -- bad requests --------------------------------------------------------------------------

def test_bad_requests(shop):
    res = shop.svc("reservations")
    rooms = shop.svc("rooms")
    good = {"room": "r1", "check_in": "2027-01-10", "check_out": "2027-01-12"}
    cases = [
        ("malformed JSON", None, b'{"room": "r1",', 400, "bad_json", None),
        ("a JSON array", None, b'[1]', 400, "invalid", "object"),
        ("no body", None, b"", 400, None, None),
        ("missing room", {k: v for k, v in good.items() if k != "room"}, None, 400, "invalid", "room"),
        ("missing check_in", {k: v for k, v in good.items() if k != "check_in"}, None, 400, "invalid", "check_in"),
        ("missing check_out", {k: v for k, v in good.items() if k != "check_out"}, None, 400, "invalid", "check_out"),
        ("room a number", dict(good, room=1), None, 400, "invalid", "room"),
        ("check_in a number", dict(good, check_in=20270110), None, 400, "invalid", "check_in"),
        ("check_out null", dict(good, check_out=None), None, 400, "invalid", "check_out"),
        ("check_in not YYYY-MM-DD", dict(good, check_in="10/01/2027"), None, 400, "invalid", "check_in"),
        ("check_in 2027-1-10", dict(good, check_in="2027-1-10"), None, 400, "invalid", "check_in"),
        ("check_out 2027-02-30", dict(good, check_in="2027-02-27", check_out="2027-02-30"), None, 400, "invalid", "check_out"),
        ("check_in 2026-02-29", dict(good, check_in="2026-02-29", check_out="2026-03-02"), None, 400, "invalid", "check_in"),
        ("check_out == check_in", dict(good, check_out="2027-01-10"), None, 400, "invalid", "check_out"),
        ("check_out before check_in", dict(good, check_out="2027-01-09"), None, 400, "invalid", "check_out"),
        ("31 nights", dict(good, check_in="2027-01-01", check_out="2027-02-01"), None, 400, "invalid", "31 nights"),
        ("unknown room", dict(good, room="r11"), None, 404, "not_found", "r11"),
        ("unknown room r0", dict(good, room="r0"), None, 404, "not_found", "r0"),
        ("body over 64 KiB", None, json.dumps(dict(good, pad="x" * 70000)).encode(), 413, "too_large", None),
    ]
    for what, body, raw, want_st, want_code, names in cases:
        st, b = shop_harness.http("POST", res.url + "/reservations", body=body, raw=raw)
        check(st == want_st and isinstance(b, dict) and (want_code is None or b.get("error") == want_code)
              and "message" in b and (names is None or names in b["message"]),
              "POST /reservations with %s: %d %s%s" % (what, want_st, want_code or "",
                                                         " naming %s" % names if names else ""), (st, b))
    # random damage to a good body: never a 5xx, never a crash
    rnd = random.Random(3)
    junk = [None, True, 0, -1, 2 ** 70, 1.5, "", "r1", "2027-01-10", "\u00e9\u0000x", [], {}, ["r1"],
            {"a": {"b": [1, {"c": None}]}}, "2027-01-10T00:00:00", "x" * 5000]
    created = 0
    for i in range(150):
        body = dict(good)
        for _ in range(rnd.randrange(1, 4)):
            field = rnd.choice(["room", "check_in", "check_out", "extra"])
            if rnd.random() < 0.2:
                body.pop(field, None)
            else:
                body[field] = rnd.choice(junk)
        raw = json.dumps(body).encode()
        if i % 10 == 0:
            raw = raw[:rnd.randrange(1, len(raw))]  # truncated JSON
        st, b = shop_harness.http("POST", res.url + "/reservations", raw=raw)
        if st == 202:
            created += 1
            continue
        if st not in (400, 404) or not isinstance(b, dict) or not b.get("error") or not b.get("message"):
            raise AssertionError("damaged body %r: %s %r" % (raw[:200], st, b))
    check(True, "150 damaged bodies: each a 4xx with a JSON error (or 202 when still valid: %d)" % created)

    # 30 nights is fine (the limit is inclusive); leap day 2028-02-29 is a date
    ok = reserve(res, "r2", "2028-02-01", "2028-03-02")
    check_eq(ok["nights"], 30, "30 nights over a leap day are accepted")
    check_eq(final(res, ok["id"])["status"], "CONFIRMED", "and confirmed")

    others = [
        ("GET", res.url + "/reservations/nope", 404, "not_found"),
        ("DELETE", res.url + "/reservations/nope", 404, "not_found"),
        ("PUT", res.url + "/reservations", 405, "method_not_allowed"),
        ("PATCH", res.url + "/reservations/" + ok["id"], 405, "method_not_allowed"),
        ("GET", res.url + "/reservations?status=BOGUS", 400, "invalid"),
        ("GET", res.url + "/nothing-here", 404, "not_found"),
        ("GET", rooms.url + "/rooms/r11/availability?from=2027-01-01&to=2027-01-02", 404, "not_found"),
        ("GET", rooms.url + "/rooms/r1/availability?from=2027-01-01", 400, "invalid"),
        ("GET", rooms.url + "/rooms/r1/availability?from=2027-02-29&to=2027-03-02", 400, "invalid"),
        ("GET", rooms.url + "/rooms/r1/availability?from=2027-03-02&to=2027-03-01", 400, "invalid"),
        ("GET", rooms.url + "/rooms/r1/availability?from=2027-01-01&to=2029-01-01", 400, "invalid"),
        ("POST", rooms.url + "/rooms", 405, "method_not_allowed"),
    ]
    for method, url, want_st, want_code in others:
        st, b = shop_harness.http(method, url, raw=b"{}" if method in ("PUT", "PATCH", "POST") else None)
        check(st == want_st and isinstance(b, dict) and b.get("error") == want_code and b.get("message"),
              "%s %s: %d %s" % (method, url.split("127.0.0.1")[1], want_st, want_code), (st, b))

    # the events on the wire: topics, keys, types and payloads of docs/shop.md
    recs = {t: read_topic(shop, t) for t in ("shop.rooms", "shop.reservation-results")}
    mine = [r for r in recs["shop.rooms"] if r[2].get("reservation") == ok["id"]]
    check_eq(len(mine), 1, "one room.reserve on shop.rooms for the 30-night reservation")
    key, hdrs, body = mine[0]
    check_eq((key, hdrs.get("samsa.type")), ("r2", "room.reserve"), "room.reserve: key = room id, type header")
    check_eq(body, {"event": "room.reserve", "reservation": ok["id"], "room": "r2",
                    "check_in": "2028-02-01", "check_out": "2028-03-02"}, "room.reserve payload")
    answer = [r for r in recs["shop.reservation-results"] if r[2].get("reservation") == ok["id"]]
    check_eq(len(answer), 1, "one reservation.result on shop.reservation-results")
    key, hdrs, body = answer[0]
    check_eq((key, hdrs.get("samsa.type"), body.get("result"), body.get("event")),
             (ok["id"], "reservation.result", "CONFIRMED", "reservation.result"),
             "reservation.result: key = reservation id, type header, CONFIRMED")

    st, lst = res.get("/reservations")
    check_eq(len(lst), created + 1, "only the valid requests made reservations")
    check(ok["id"] in [x["id"] for x in lst], "the 30-night reservation is listed")
    stats = check_books(shop, "after bad requests")[1]
    check_eq(sum(stats["reservations"]["outbox"].values()), created + 1,
             "only the valid requests wrote outbox rows")
    st, rl = rooms.get("/rooms")
    check_eq(rl, [{"id": "r%d" % i, "capacity": CAPACITY} for i in range(1, 11)], "GET /rooms: r1..r10, capacity 3")
    for svc in (rooms, res):
        check_eq(svc.get("/healthz")[0], 200, "shop-%s still healthy after the bad requests" % svc.name)


def main():
    tests = [test_bad_requests, test_duplicate_and_malformed_events, test_contention_and_cancellations]
    shop_harness.run_shop_tests(tests, lambda: saga_shop())
    shop_harness.run_shop_tests([test_contention_postgres], lambda: saga_shop(pg=True))
    return shop_harness.verdict()  # of both runs


if __name__ == "__main__":
    sys.exit(main())
