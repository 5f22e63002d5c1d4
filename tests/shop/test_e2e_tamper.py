#!/usr/bin/python3
"""shop-load says `books balanced: no` and exits non-zero when the books
really disagree.

The whole shop on free ports; shop-load runs 150 orders and 60 reservations
(balanced, exit 0). Then the books are broken behind the services' backs,
each time with the service stopped, its SQLite file changed directly, and
the service started again; `shop-load --check-only` must then exit 1 with a
last line `books balanced: no: ...` naming what disagrees:
  1. shop-stock's quantity of p3 lowered by 5: names p3;
  2. (stock repaired) one room-night taken more (or fewer) in shop-rooms
     than shop-reservations confirmed: names the room and the night;
  3. (rooms repaired) the receiver's stored event of one order deleted: the
     receiver's count against the paid orders.
After each repair --check-only is balanced again (exit 0), so each verdict
came from that one change.
"""
# ctest-timeout: 240

import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shop_harness as sh  # noqa: E402
from shop_harness import check, check_eq  # noqa: E402


def sql(shop, name, statement, args=()):
    """Stops shop-NAME, runs statement on its SQLite file, starts it again."""
    svc = shop.svc(name)
    check_eq(svc.stop(), 0, "shop-%s stopped (exit 0)" % name)
    db = sqlite3.connect(svc.db[len("sqlite:"):], timeout=10)
    try:
        cur = db.execute(statement, args)
        db.commit()
        n = cur.rowcount
    finally:
        db.close()
    svc.start()
    return n


def check_only(shop):
    return sh.run_load(shop, "--check-only", "--timeout", 20)


def test_tampered_books_are_caught(shop):
    rc, out = sh.run_load(shop, "--orders", 150, "--reservations", 60, "--seed", 3, "--timeout", 60)
    check_eq((rc, sh.last_line(out)), (0, "books balanced: yes"), "the run itself balances")
    rc, out = check_only(shop)
    check_eq((rc, sh.last_line(out)), (0, "books balanced: yes"), "--check-only agrees")

    # 1. stock
    check_eq(sql(shop, "stock", "UPDATE stock SET quantity = quantity - 5 WHERE product = 'p3'"), 1,
             "tampered: shop-stock's p3 lowered by 5")
    rc, out = check_only(shop)
    last = sh.last_line(out)
    check_eq(rc, 1, "--check-only exits 1")
    check(last.startswith("books balanced: no") and "p3" in last, "the last line says no and names p3", last)
    sql(shop, "stock", "UPDATE stock SET quantity = quantity + 5 WHERE product = 'p3'")
    rc, out = check_only(shop)
    check_eq((rc, sh.last_line(out)), (0, "books balanced: yes"), "repaired: balanced again")

    # 2. rooms: one more night taken than confirmed
    db = sqlite3.connect(shop.svc("rooms").db[len("sqlite:"):])
    room, night, taken, cap = db.execute("SELECT room, night, taken, capacity FROM room_nights"
                                         " ORDER BY taken < capacity DESC, room, night LIMIT 1").fetchone()
    db.close()
    step = 1 if taken < cap else -1   # one more taken, or (all full) one fewer
    check_eq(sql(shop, "rooms", "UPDATE room_nights SET taken = taken + ? WHERE room = ? AND night = ?",
                 (step, room, night)), 1, "tampered: shop-rooms has %+d taken for %s on %s" % (step, room, night))
    rc, out = check_only(shop)
    last = sh.last_line(out)
    check_eq(rc, 1, "--check-only exits 1")
    check(last.startswith("books balanced: no") and room in last and night in last,
          "the last line says no and names %s on %s" % (room, night), last)
    sql(shop, "rooms", "UPDATE room_nights SET taken = taken - ? WHERE room = ? AND night = ?", (step, room, night))
    rc, out = check_only(shop)
    check_eq((rc, sh.last_line(out)), (0, "books balanced: yes"), "repaired: balanced again")

    # 3. the receiver loses an event
    check_eq(sql(shop, "receiver", "DELETE FROM events WHERE rowid = (SELECT min(rowid) FROM events)"), 1,
             "tampered: one stored event deleted from the receiver")
    rc, out = check_only(shop)
    last = sh.last_line(out)
    check_eq(rc, 1, "--check-only exits 1")
    check(last.startswith("books balanced: no") and "receiver" in last, "the last line says no and names the receiver",
          last)


if __name__ == "__main__":
    sys.exit(sh.run_shop_tests([test_tampered_books_are_caught]))
