#!/usr/bin/python3
"""The shop on PostgreSQL with least privilege (issue 18, item 4): every
service and relay runs as a role that may only read and write the tables,
not create anything (PostgreSQL 15: no CREATE on schema public for PUBLIC).

The shop starts on PostgreSQL as the owner (samsa), which creates the
services' tables and the outbox schema; then CREATE on schema public is
revoked from PUBLIC and role shop_user gets SELECT, INSERT, UPDATE, DELETE
on every table and USAGE on every sequence of each service's database, and
nothing else. Every service and relay is restarted as shop_user (before the
fix they died at start: the outbox migration ran CREATE TABLE IF NOT EXISTS
samsa_schema_version, and the services ran their own CREATE ... IF NOT
EXISTS). Then shop-load runs 120 orders and 30 reservations: its verdict
(`books balanced: yes`), the independent books, every outbox row published
or complete, and no "permission denied" in any log.
"""
# ctest-timeout: 240

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shop_harness as sh  # noqa: E402
import pg  # noqa: E402
from shop_harness import check, check_eq  # noqa: E402


def as_role(url, role):
    head, rest = url.split("://", 1)
    return "%s://%s@%s" % (head, role, rest.split("@", 1)[1])


def test_shop_least_privilege(shop):
    shop.pg.psql("postgres", "CREATE ROLE shop_user LOGIN")
    for name, url in shop.dbs.items():
        db = pg.dbname_of(url)
        shop.pg.psql(db, "REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
                         " GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO shop_user;"
                         " GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO shop_user")
    for r in shop.relays.values():
        r.stop()
    for n, s in shop.services.items():
        s.stop()
        s.db = as_role(s.db, "shop_user")
        s.start()
        check(True, "shop-%s restarted as shop_user" % n)
    for n, r in shop.relays.items():
        r.props["outbox.db"] = as_role(r.props["outbox.db"], "shop_user")
        r.start()
        check(True, "relay-%s restarted as shop_user" % n)
    rc, out = sh.run_load(shop, "--orders", 120, "--reservations", 30, "--concurrency", 6, "--seed", 5,
                          "--timeout", 90)
    check_eq(sh.last_line(out), "books balanced: yes", "shop-load's last line")
    check_eq(rc, 0, "shop-load's exit code")
    sh.check_books(shop, "as shop_user")
    for db in ("orders", "reservations", "rooms"):
        rows = shop.pg.psql("shop_" + db, "SELECT status, count(*) FROM samsa_outbox GROUP BY status ORDER BY 1")
        counts = dict(l.split("|") for l in rows.split())
        check(counts and set(counts) <= {"PUBLISHED", "COMPLETE"},
              "the %s outbox: every row published (%s)" % (db, counts))
    denied = [label for label, p in shop.processes() if "permission denied" in p.log_text()]
    check(not denied, "no 'permission denied' in any log", denied)


if __name__ == "__main__":
    sys.exit(sh.run_shop_tests([test_shop_least_privilege], shop_factory=lambda: sh.Shop(pg=True)))
