#!/usr/bin/python3
"""End to end: samsa-broker and a samsa-relay killed with kill -9 in the
middle of a run; the books still balance.

The whole shop on free ports in a temp dir; the real shop-load pushes 600
orders with payments and 150 reservations in the background. While it runs:
  1. once 100 orders exist, samsa-broker gets SIGKILL and is started again
     on the same port and data (the relays and consumers reconnect; the
     services keep taking HTTP requests: their outbox does not need the
     broker);
  2. once 300 orders exist, the orders relay gets SIGKILL and is started
     again (rows it had published but not yet marked are published again:
     the consumers' inboxes drop the duplicates);
  3. the rooms relay gets SIGKILL too and is started again.
Checked: shop-load's verdict (exit 0, `books balanced: yes`), each kill
really happened mid-run (orders still to come), and independently of
shop-load: stock equals the catalogue, balances add up, the receiver stored
each paid order once, rooms taken = confirmed nights.

The inboxes' duplicate path, asserted: every extra copy of an event on
shop.orders and shop.payments (the relays' republished rows after the kill)
was dropped by shop-stock's and shop-sink's inbox (their duplicates
counters cover them). Then, so that the path runs whatever the kills hit,
20 published rows of each topic are put back to INIT in shop-orders'
outbox (what republish.stale.after.ms or an operator's re-queue does): the
relay publishes them again, and shop-stock and shop-sink each drop exactly
20 more duplicates, apply and deliver nothing new, the receiver stores
nothing new, and the books still balance.
"""
# ctest-timeout: 240

import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shop_harness as sh  # noqa: E402  (puts tests/integration on the path)
import harness  # noqa: E402
import relay_harness  # noqa: E402
from shop_harness import check, check_eq, wait_for  # noqa: E402

ORDERS = 600


def created(shop):
    return shop.svc("orders").stats()["orders"]["created"]


def test_kill9_broker_and_relays(shop):
    cmd = [sh.shop_binary("load")] + sh.load_args(shop) + [
        "--orders", str(ORDERS), "--reservations", "150", "--concurrency", "4", "--seed", "5", "--timeout", "120"]
    print("running in the background: %s" % " ".join(cmd), flush=True)
    out_path = os.path.join(shop.dir, "shop-load.out")
    with open(out_path, "wb") as outf:
        load = subprocess.Popen(cmd, stdout=outf, stderr=subprocess.STDOUT, preexec_fn=harness._die_with_parent)
    try:
        wait_for(lambda: created(shop) >= 100 or load.poll() is not None, 60, "100 orders")
        n = created(shop)
        check(load.poll() is None and n < ORDERS, "shop-load still running at the broker's kill (%d orders)" % n)
        t0 = time.monotonic()
        shop.broker.kill9()
        shop.broker.start()
        print("broker killed with SIGKILL and back in %.2fs (pid %d)" % (time.monotonic() - t0, shop.broker.pid),
              flush=True)

        wait_for(lambda: created(shop) >= 300 or load.poll() is not None, 90, "300 orders")
        n = created(shop)
        check(load.poll() is None and n < ORDERS, "shop-load still running at the relays' kill (%d orders)" % n)
        shop.relays["orders"].kill9()
        shop.relays["orders"].start()
        shop.relays["rooms"].kill9()
        shop.relays["rooms"].start()
        check(True, "the orders and rooms relays killed with SIGKILL and started again")

        load.wait(200)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
    with open(out_path, "rb") as f:
        out = f.read().decode("utf-8", "replace")
    print("shop-load exit %d:\n%s" % (load.returncode, "\n".join("  > " + l for l in out.splitlines())), flush=True)
    check_eq(sh.last_line(out), "books balanced: yes", "shop-load's last line")
    check_eq(load.returncode, 0, "shop-load's exit code")
    st = shop.stats()
    check_eq(st["orders"]["orders"]["created"], st["stock"]["applied"], "shop-stock applied each order once")
    sh.check_books(shop, "after the crashes")
    check_inbox_duplicates(shop)


def extra_copies(shop, topic):
    recs = relay_harness.consume_all(shop.bootstrap, topic)
    return len(recs) - len({r["headers"]["samsa.event_id"] for r in recs}), len(recs)


def check_inbox_duplicates(shop):
    st = shop.wait_settled()
    for topic, svc in (("shop.orders", "stock"), ("shop.payments", "sink")):
        extra, total = extra_copies(shop, topic)
        check(st[svc]["duplicates"] >= extra,
              "shop-%s's inbox dropped every extra copy on %s: %d duplicates counted, %d extra copies of %d records"
              % (svc, topic, st[svc]["duplicates"], extra, total))
    k = 20
    path = shop.dbs["orders"][len("sqlite:"):]
    con = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        con.execute("PRAGMA busy_timeout = 30000")
        for topic in ("shop.orders", "shop.payments"):
            n = con.execute("UPDATE samsa_outbox SET status = 'INIT', next_attempt_at = ?"
                            " WHERE id IN (SELECT id FROM samsa_outbox WHERE topic = ?"
                            " AND status IN ('PUBLISHED', 'COMPLETE') ORDER BY id LIMIT ?)",
                            (int(time.time() * 1000), topic, k)).rowcount
            check_eq(n, k, "%d published rows of %s put back to INIT in shop-orders' outbox" % (k, topic))
    finally:
        con.close()
    wait_for(lambda: (lambda s: s["stock"]["duplicates"] >= st["stock"]["duplicates"] + k
                      and s["sink"]["duplicates"] >= st["sink"]["duplicates"] + k)(shop.stats()),
             60, "the re-published rows consumed")
    after = shop.wait_settled()
    for svc, applied in (("stock", "applied"), ("sink", "delivered")):
        check_eq(after[svc]["duplicates"] - st[svc]["duplicates"], k,
                 "shop-%s's inbox dropped the %d re-published events" % (svc, k))
        check_eq(after[svc][applied], st[svc][applied], "shop-%s %s nothing new" % (svc, applied))
    check_eq((after["receiver"]["stored"], after["receiver"]["duplicates"]),
             (st["receiver"]["stored"], st["receiver"]["duplicates"]),
             "the receiver got nothing new (the sink never sent a duplicate)")
    sh.check_books(shop, "after the re-published duplicates")


if __name__ == "__main__":
    sys.exit(sh.run_shop_tests([test_kill9_broker_and_relays]))
