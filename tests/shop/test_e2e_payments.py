#!/usr/bin/python3
"""End to end: orders and payments through HTTP while the data platform
(shop-receiver) refuses every event for a while.

The whole shop (samsa-broker, 3 samsa-relays, 6 services) on free ports in a
temp dir. The receiver is told to answer 503 for 3 s (POST /admin/fail),
then the real shop-load pushes 400 orders with their payments (users
u91..u100 cannot pay) plus 40 reservations. Checked:
  - shop-load's verdict: exit code 0 and the last line `books balanced: yes`;
  - the failure really happened: the receiver refused events and the sink
    counted failed attempts, and still every payment reached the receiver
    exactly once in effect (one stored event per paid order, no order twice,
    amount_total = revenue);
  - independently of shop-load (shop_harness.check_books): GET /stock equals
    GET /products, the users' balances add up to the initial total minus the
    revenue, rooms taken = confirmed nights;
  - bad requests on the way (malformed JSON, unknown product, a quantity of
    0, a payment of an unknown order) get their 4xx and change nothing;
  - at the end every process exits 0 on SIGTERM with no sanitizer report.
"""
# ctest-timeout: 240

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shop_harness as sh  # noqa: E402
from shop_harness import check, check_eq  # noqa: E402


def test_payments_with_failing_receiver(shop):
    orders = shop.svc("orders")
    before = orders.stats()

    # bad input first: each gets its 4xx and a JSON error, nothing changes
    st, body = sh.post(orders.url + "/orders", raw=b'{"user": "u1", "items": [')
    check_eq((st, body.get("error") if isinstance(body, dict) else body), (400, "bad_json"), "malformed JSON: 400 bad_json")
    st, body = orders.post("/orders", {"user": "u1", "items": [{"product": "p999", "quantity": 1}]})
    check_eq((st, body.get("error")), (404, "not_found"), "unknown product: 404 not_found")
    st, body = orders.post("/orders", {"user": "u1", "items": [{"product": "p1", "quantity": 0}]})
    check_eq((st, body.get("error")), (400, "invalid"), "quantity 0: 400 invalid")
    st, body = orders.post("/orders/no-such-order/payment", {})
    check_eq(st, 404, "payment of an unknown order: 404")
    check_eq(orders.stats()["orders"], before["orders"], "the bad requests created and paid nothing")

    st, body = shop.svc("receiver").post("/admin/fail", {"for_ms": 3000})
    check_eq(st, 200, "the receiver fails every POST /events for 3 s")
    rc, out = sh.run_load(shop, "--orders", 400, "--reservations", 40, "--concurrency", 8, "--seed", 7,
                          "--timeout", 90)
    check_eq(sh.last_line(out), "books balanced: yes", "shop-load's last line")
    check_eq(rc, 0, "shop-load's exit code")
    check("POST /orders/{id}/payment" in out and " 402: " in out,
          "some payments were refused (u91..u100 cannot pay): shop-load saw 402s")

    st = shop.stats()
    check(st["receiver"]["refused"] > 0, "the receiver refused events while failing (%d)" % st["receiver"]["refused"])
    check(st["sink"]["failures"] > 0, "the sink counted failed deliveries and retried (%d)" % st["sink"]["failures"])
    paid = st["orders"]["orders"]["paid"]
    check(paid > 200, "most of the 400 orders were paid (%d)" % paid)
    check_eq(st["sink"]["delivered"], paid, "the sink delivered each payment once")
    check_eq(st["receiver"]["stored"], paid, "the receiver stored each payment once")
    check_eq(st["stock"]["applied"], st["orders"]["orders"]["created"], "shop-stock applied every order.created once")
    sh.check_books(shop, "after the run")

    # shop-load --check-only on the same history agrees
    rc, out = sh.run_load(shop, "--check-only", "--timeout", 30)
    check_eq((rc, sh.last_line(out)), (0, "books balanced: yes"), "shop-load --check-only: balanced, exit 0")


if __name__ == "__main__":
    sys.exit(sh.run_shop_tests([test_payments_with_failing_receiver]))
