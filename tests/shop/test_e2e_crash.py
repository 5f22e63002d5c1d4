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
"""
# ctest-timeout: 240

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shop_harness as sh  # noqa: E402  (puts tests/integration on the path)
import harness  # noqa: E402
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
    print("duplicates dropped by the inboxes: stock %d, sink %d"
          % (st["stock"]["duplicates"], st["sink"]["duplicates"]), flush=True)
    sh.check_books(shop, "after the crashes")


if __name__ == "__main__":
    sys.exit(sh.run_shop_tests([test_kill9_broker_and_relays]))
