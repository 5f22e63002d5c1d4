#!/usr/bin/python3
"""End to end on PostgreSQL: the whole shop with every service and relay on
a postgresql:// URL (one database each on one real PostgreSQL server), as in
the production shape (docs/production.md), against samsa-broker.

The real shop-load pushes 300 orders with payments and 80 reservations, with
the receiver failing for the first 2 s; checked: its verdict (exit 0, `books
balanced: yes`), the independent books (shop_harness.check_books), and that
the data really is in PostgreSQL (the outboxes' rows, read with psql, are
all published or complete).
"""
# ctest-timeout: 240

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shop_harness as sh  # noqa: E402
from shop_harness import check, check_eq  # noqa: E402


def test_shop_on_postgres(shop):
    for n, s in shop.services.items():
        check(s.db.startswith("postgresql://"), "shop-%s on %s" % (n, s.db))
    check_eq(shop.svc("receiver").post("/admin/fail", {"for_ms": 2000})[0], 200, "the receiver fails for 2 s")
    rc, out = sh.run_load(shop, "--orders", 300, "--reservations", 80, "--concurrency", 8, "--seed", 21,
                          "--timeout", 90)
    check_eq(sh.last_line(out), "books balanced: yes", "shop-load's last line")
    check_eq(rc, 0, "shop-load's exit code")
    sh.check_books(shop, "on PostgreSQL")
    for db in ("orders", "reservations", "rooms"):
        rows = shop.pg.psql("shop_" + db, "SELECT status, count(*) FROM samsa_outbox GROUP BY status ORDER BY 1")
        counts = dict(l.split("|") for l in rows.split())
        check(counts and set(counts) <= {"PUBLISHED", "COMPLETE"},
              "the %s outbox in PostgreSQL: every row published (%s)" % (db, counts))
    paid = int(shop.pg.psql("shop_orders", "SELECT count(*) FROM orders WHERE status = 'PAID'").strip())
    check_eq(paid, shop.svc("orders").stats()["orders"]["paid"], "paid orders in PostgreSQL = /stats")


if __name__ == "__main__":
    sys.exit(sh.run_shop_tests([test_shop_on_postgres], shop_factory=lambda: sh.Shop(pg=True)))
