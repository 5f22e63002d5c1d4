#!/usr/bin/python3
"""End to end: the reservation saga under contention, through the whole shop.

The whole shop on free ports in a temp dir. First by hand, one room and one
stay: 12 concurrent requests for r1, 2027-03-01..03-03 (capacity 3 a night)
end with exactly 3 CONFIRMED and 9 REJECTED ("sold out"), availability 0;
cancelling a confirmed one gives its nights back (availability 1) and a new
request for the same stay is then CONFIRMED; cancelling it twice is 409.
Then the real shop-load pushes 300 reservations over a window that holds
about half of the nights asked for (more requests than rooms), 30% of them
cancelled (half while PENDING, half after the results), plus 100 orders.
Checked: shop-load's verdict (exit 0, `books balanced: yes`), requests were
really refused, and independently: no reservation PENDING or
CANCEL_REQUESTED, rooms taken = confirmed nights and never above 3, and
GET /rooms/{id}/availability = 3 - confirmed for every room and night.
"""
# ctest-timeout: 240

import concurrent.futures
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shop_harness as sh  # noqa: E402
from shop_harness import check, check_eq, wait_for  # noqa: E402

STAY = {"room": "r1", "check_in": "2027-03-01", "check_out": "2027-03-03"}


def status_of(res, rid):
    return res.get("/reservations/" + rid)[1].get("status")


def settled_status(res, rid):
    return wait_for(lambda: (lambda s: s if s in ("CONFIRMED", "REJECTED", "CANCELLED") else None)(status_of(res, rid)),
                    30, "reservation %s to be decided" % rid, 0.05)


def availability(shop):
    return sh.get_json(shop.url("rooms") + "/rooms/r1/availability?from=2027-03-01&to=2027-03-03")


def test_saga_under_contention(shop):
    res = shop.svc("reservations")
    with concurrent.futures.ThreadPoolExecutor(12) as ex:
        answers = list(ex.map(lambda _: res.post("/reservations", STAY), range(12)))
    check_eq(sorted(st for st, _ in answers), [202] * 12, "12 concurrent requests for one stay: 202 each")
    ids = [b["id"] for _, b in answers]
    final = {rid: settled_status(res, rid) for rid in ids}
    confirmed = [r for r, s in final.items() if s == "CONFIRMED"]
    check_eq(len(confirmed), 3, "exactly 3 CONFIRMED (capacity 3 a night)")
    check_eq(sum(1 for s in final.values() if s == "REJECTED"), 9, "the other 9 REJECTED")
    reasons = {res.get("/reservations/" + r)[1].get("reason") for r, s in final.items() if s == "REJECTED"}
    check(all(r and "sold out" in r for r in reasons), "each refusal says sold out", reasons)
    check_eq(availability(shop), {"2027-03-01": 0, "2027-03-02": 0}, "availability 0 on both nights")

    st, body = res.delete("/reservations/" + confirmed[0])
    check_eq((st, body.get("status")), (200, "CANCELLED"), "DELETE a CONFIRMED reservation: 200 CANCELLED")
    wait_for(lambda: availability(shop) == {"2027-03-01": 1, "2027-03-02": 1}, 30,
             "the cancelled nights to come back")
    check(True, "the cancellation gave both nights back (availability 1)")
    st, body = res.delete("/reservations/" + confirmed[0])
    check_eq(st, 409, "a second DELETE: 409")
    st, body = res.post("/reservations", STAY)
    check_eq(settled_status(res, body["id"]), "CONFIRMED", "a new request for the freed stay is CONFIRMED")
    check_eq(availability(shop), {"2027-03-01": 0, "2027-03-02": 0}, "availability 0 again")

    rc, out = sh.run_load(shop, "--orders", 100, "--reservations", 300, "--cancel-percent", 30,
                          "--concurrency", 12, "--seed", 11, "--timeout", 90)
    check_eq(sh.last_line(out), "books balanced: yes", "shop-load's last line")
    check_eq(rc, 0, "shop-load's exit code")
    st = shop.stats()
    rooms = st["rooms"]
    check(rooms["rejected"] >= 30, "contention: many requests refused (%d rejected, %d confirmed)"
          % (rooms["rejected"], rooms["confirmed"]))
    check(rooms["cancelled"] > 0, "cancellations reached shop-rooms (%d)" % rooms["cancelled"])
    check("409" in out or "200" in out, "shop-load cancelled reservations after their results")
    sh.check_books(shop, "after the saga")


if __name__ == "__main__":
    sys.exit(sh.run_shop_tests([test_saga_under_contention]))
