"""The reservation saga survives crashes and redelivery without overbooking
(docs/shop.md): a real samsa-broker, real samsa-relays, real shop-rooms and
shop-reservations on free loopback ports.

  - crash: bursts of concurrent reservations over three rooms while
    shop-rooms, shop-reservations and both relays are killed with SIGKILL
    in the middle of the traffic and started again: at the end every
    reservation that got a 202 is CONFIRMED or REJECTED, no night is above
    capacity, and the two services' books agree;
  - the same on PostgreSQL, and PostgreSQL terminating every connection of
    both databases three times during traffic;
  - replay: both consumer groups rewound to offset 0 and every event of
    shop.rooms and shop.reservation-results delivered again: all are
    inbox duplicates, nothing is applied, the books do not move.
"""
# ctest-label: slow
# ctest-timeout: 300

import concurrent.futures
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shop_harness  # noqa: E402
from shop_harness import Shop, check, check_eq, wait_for  # noqa: E402

SAGA = ("rooms", "reservations")
CAPACITY = 3
# a killed member must leave its group fast: the broker allows short sessions
FAST_GROUP = ["-X", "session.timeout.ms=2000", "-X", "heartbeat.interval.ms=300"]


def crash_shop(pg=False):
    return Shop(services=SAGA, pg=pg, broker_overrides={"group.min.session.timeout.ms": 1000},
                service_args={"rooms": FAST_GROUP, "reservations": FAST_GROUP})


def burst(shop, n, rnd):
    """n concurrent POST /reservations over r1..r3 and 2027-04-01..2027-04-12;
    returns the ids answered 202."""
    res = shop.svc("reservations")
    stays = []
    for _ in range(n):
        start = rnd.randrange(1, 10)
        stays.append(("r%d" % rnd.randrange(1, 4), "2027-04-%02d" % start,
                      "2027-04-%02d" % (start + rnd.randrange(1, 4))))

    def one(s):
        st, body = res.post("/reservations", {"room": s[0], "check_in": s[1], "check_out": s[2]})
        if st != 202:
            raise AssertionError("POST /reservations %s: %s %s" % (s, st, body))
        return body["id"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as ex:
        return list(ex.map(one, stays))


def events(svc):
    """The consumer's counters; a 503 (a pooled connection lost, reconnected
    for the next request) is asked again."""
    def get():
        st, body = svc.get("/stats")
        if st == 503:
            return None
        if st != 200:
            raise AssertionError("GET /stats of shop-%s: %s %s" % (svc.name, st, body))
        return body["events"]
    return wait_for(get, 30, "shop-%s's /stats" % svc.name, interval=0.05)


def wait_applied(svc, n, what):
    return wait_for(lambda: events(svc)["applied"] >= n, 60, what, interval=0.01)


def check_books(shop, what):
    shop.wait_settled(timeout=120)
    st = shop.stats()  # read again: settled now
    taken, confirmed = st["rooms"]["taken"], st["reservations"]["confirmed_nights"]
    check_eq(taken, confirmed, "%s: shop-rooms' taken equals shop-reservations' confirmed_nights" % what)
    over = [(r, n, t) for r, nights in taken.items() for n, t in nights.items() if not 0 < t <= CAPACITY]
    check(not over, "%s: every night within capacity %d" % (what, CAPACITY), over)
    for name in SAGA:
        check_eq(st[name]["outbox"].get("DEAD", 0), 0, "%s: no DEAD outbox row in %s" % (what, name))
    return st


def test_crash_mid_traffic(shop):
    rnd = random.Random(7)
    rooms, res = shop.svc("rooms"), shop.svc("reservations")
    ids = burst(shop, 120, rnd)
    # shop-rooms dies while it works through the burst
    wait_applied(rooms, 20, "shop-rooms to apply 20 room.reserve")
    rooms.kill9()
    shop.relays["reservations"].kill9()
    check(True, "killed shop-rooms and relay-reservations (SIGKILL) mid-burst")
    rooms.start()
    shop.relays["reservations"].start()
    # shop-reservations dies while it applies results
    wait_applied(res, 10, "shop-reservations to apply 10 results")
    res.kill9()
    check(True, "killed shop-reservations (SIGKILL) while it applies results")
    res.start()
    ids += burst(shop, 80, rnd)
    shop.relays["rooms"].kill9()
    check(True, "killed relay-rooms (SIGKILL) mid-burst")
    shop.relays["rooms"].start()
    rooms.kill9()
    rooms.start()
    check(True, "killed shop-rooms (SIGKILL) again, restarted")

    st = check_books(shop, "after the crashes")
    counts = st["reservations"]["reservations"]
    check_eq(counts["PENDING"] + counts["CANCEL_REQUESTED"], 0, "nothing PENDING or CANCEL_REQUESTED")
    check_eq(counts["CONFIRMED"] + counts["REJECTED"], len(ids),
             "all %d accepted reservations are CONFIRMED or REJECTED" % len(ids))
    got = shop_harness.get_json(res.url + "/reservations")
    check_eq(sorted(r["id"] for r in got), sorted(ids), "exactly the reservations answered 202 exist")
    check_eq(st["rooms"]["confirmed"], counts["CONFIRMED"], "shop-rooms confirmed as many as shop-reservations")
    check_eq(st["rooms"]["rejected"], counts["REJECTED"], "shop-rooms rejected as many as shop-reservations")
    print("  %d reservations through 4 kills: %d confirmed, %d rejected"
          % (len(ids), counts["CONFIRMED"], counts["REJECTED"]), flush=True)

    # cancel a third of the confirmed ones while new requests arrive
    confirmed = [r["id"] for r in got if r["status"] == "CONFIRMED"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
        more = ex.submit(burst, shop, 40, random.Random(8))
        codes = list(ex.map(lambda i: res.delete("/reservations/" + i)[0], confirmed[::3]))
        more.result()
    check_eq(set(codes), {200}, "DELETE of confirmed reservations during new traffic: 200")
    st = check_books(shop, "after cancellations under traffic")
    check_eq(st["rooms"]["cancelled"], len(codes), "shop-rooms gave back every cancelled booking once")
    replay(shop, st)


def replay(shop, before):
    """Rewind both groups to 0: every event comes again, none applies."""
    import confluent_kafka as ck
    rooms, res = shop.svc("rooms"), shop.svc("reservations")
    check_eq(rooms.stop(), 0, "shop-rooms stops on SIGTERM with exit 0")
    check_eq(res.stop(), 0, "shop-reservations stops on SIGTERM with exit 0")
    total = {}
    for group, topic in (("shop-rooms", "shop.rooms"), ("shop-reservations", "shop.reservation-results")):
        c = ck.Consumer({"bootstrap.servers": shop.bootstrap, "group.id": group, "enable.auto.commit": False})
        try:
            tps = [ck.TopicPartition(topic, p, 0) for p in range(shop_harness.PARTITIONS)]
            c.commit(offsets=tps, asynchronous=False)
            total[group] = sum(c.get_watermark_offsets(ck.TopicPartition(topic, p), timeout=10)[1]
                               for p in range(shop_harness.PARTITIONS))
        finally:
            c.close()
    check(all(total.values()), "rewound shop-rooms and shop-reservations to offset 0", total)
    rooms.start()
    res.start()
    for svc, group in ((rooms, "shop-rooms"), (res, "shop-reservations")):
        e = wait_for(lambda: (lambda x: x if x["duplicates"] + x["applied"] + x["rejected"] >= total[group] else None)(events(svc)),
                     60, "shop-%s to consume its topic again" % svc.name)
        check_eq((e["applied"], e["rejected"], e["duplicates"]), (0, 0, total[group]),
                 "shop-%s: all %d redelivered events are inbox duplicates" % (svc.name, total[group]))
    st = check_books(shop, "after the replay")
    check_eq(st["rooms"]["taken"], before["rooms"]["taken"], "the replay moved no night")
    check_eq(st["reservations"]["reservations"], before["reservations"]["reservations"],
             "the replay moved no reservation")


def stats_ok(svc):
    """Rounds of 6 concurrent GET /stats until one round is all 200: each
    pooled connection whose backend was killed answers 503 once and is
    reconnected; concurrent requests reach every pooled connection."""
    def round_ok():
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as ex:
            codes = list(ex.map(lambda _: svc.get("/stats")[0], range(6)))
        if set(codes) - {200, 503}:
            raise AssertionError("GET /stats of shop-%s: %s" % (svc.name, codes))
        return codes == [200] * 6
    return wait_for(round_ok, 30, "shop-%s's /stats to answer 200 again" % svc.name, interval=0.05)


def test_db_connections_killed_postgres(shop):
    """PostgreSQL terminates every connection of the rooms and reservations
    databases (services and relays) three times during traffic: requests
    answer 202 or 503 `unavailable`, nothing crashes, and the saga settles
    with the books agreeing."""
    rooms, res = shop.svc("rooms"), shop.svc("reservations")
    rnd = random.Random(9)
    codes = []

    def one(i):
        start = rnd.randrange(1, 10)
        st, body = res.post("/reservations", {"room": "r%d" % (1 + i % 3), "check_in": "2027-05-%02d" % start,
                                              "check_out": "2027-05-%02d" % (start + 2)})
        if st not in (202, 503) or not isinstance(body, dict) or (st == 503 and body.get("error") != "unavailable"):
            raise AssertionError("POST /reservations during connection kills: %s %s" % (st, body))
        return st

    kill = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname IN ('shop_rooms', 'shop_reservations') AND pid <> pg_backend_pid()")
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
        futs = [ex.submit(one, i) for i in range(150)]
        killed = 0
        for k in range(3):
            seen = events(rooms)["applied"] if k else 0
            wait_for(lambda: futs[min(149, 40 * (k + 1))].done() or events(rooms)["applied"] > seen + 10, 60,
                     "traffic before kill %d" % (k + 1))
            killed += int(shop.pg.psql("postgres", kill).strip() or 0)
        codes = [f.result() for f in futs]
    check(killed >= 6, "terminated %d database connections in 3 rounds" % killed)
    n202, n503 = codes.count(202), codes.count(503)
    print("  150 POSTs during the kills: %d x 202, %d x 503" % (n202, n503), flush=True)
    for svc in (rooms, res):
        check(svc.alive(), "shop-%s survived its connections being killed" % svc.name)
        stats_ok(svc)
    st = check_books(shop, "after the connection kills")
    counts = st["reservations"]["reservations"]
    made = sum(counts.values())
    check(n202 <= made <= n202 + n503, "reservations made: every 202, and at most the 503s besides (%d)" % made)
    check_eq(counts["CONFIRMED"] + counts["REJECTED"], made, "every reservation CONFIRMED or REJECTED")


def test_crash_mid_traffic_postgres(shop):
    test_crash_mid_traffic(shop)


def main():
    shop_harness.run_shop_tests([test_crash_mid_traffic], crash_shop)
    shop_harness.run_shop_tests([test_crash_mid_traffic_postgres, test_db_connections_killed_postgres],
                                lambda: crash_shop(pg=True))
    return shop_harness.verdict()  # of both runs


if __name__ == "__main__":
    sys.exit(main())
