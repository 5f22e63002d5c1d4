"""Shop harness: runs the whole reference shop (docs/shop.md) for a test.

    shop = Shop().start()          # broker, 4 topics, 6 services, 3 relays
    try:
        st, body = post(shop.url("orders") + "/orders", {"user": "u1", "items": [...]})
        ...
    finally:
        shop.cleanup()             # stops every process by pid, removes the temp dir

Pieces, each usable alone:
  - harness.Broker (tests/integration/harness.py) for samsa-broker,
  - relay_harness.Relay (tests/integration/relay_harness.py) for samsa-relay,
  - pg.Postgres (tests/integration/pg.py) when a test asks for PostgreSQL,
  - Service: one shop service binary from $SAMSA_SHOP_BIN_DIR, started with
    `--listen 127.0.0.1:0 --db sqlite:DIR/NAME.db --brokers ...`; start()
    waits for its ready line `shop-NAME listening on http://HOST:PORT` and
    learns its URL; a restart reuses the same port and database.

Every process is stopped by its pid whatever happens: stop()/kill9() in the
test, an atexit hook, SIGTERM/SIGINT/SIGHUP turned into SystemExit by
harness.py, and PR_SET_PDEATHSIG(SIGKILL) in each child. A failing test
prints the log tails of every process (Shop.logs()).

HTTP: http(method, url, body) -> (status, parsed JSON or text), never raises
on 4xx/5xx; get/post/delete wrap it. run_load() runs the real shop-load.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
import relay_harness  # noqa: E402
from harness import check, check_eq, skip, verdict, wait_for  # noqa: E402,F401

READY_RE = re.compile(r"(shop-[a-z]+) listening on http://([0-9.]+):([0-9]+)")

# docs/shop.md: the services, the topics, who consumes what
SERVICES = ("receiver", "orders", "stock", "sink", "rooms", "reservations")
TOPICS = ("shop.orders", "shop.payments", "shop.rooms", "shop.reservation-results")
PARTITIONS = 4
# relay name -> (outbox database of that service, [(group, topic)] it tracks)
RELAYS = {
    "orders": ("orders", [("shop-stock", "shop.orders"), ("shop-sink", "shop.payments")]),
    "reservations": ("reservations", [("shop-rooms", "shop.rooms")]),
    "rooms": ("rooms", [("shop-reservations", "shop.reservation-results")]),
}
GROUPS = {"shop-stock": "shop.orders", "shop-sink": "shop.payments",
          "shop-rooms": "shop.rooms", "shop-reservations": "shop.reservation-results"}

# -- binaries ------------------------------------------------------------------

def _env_bin(var):
    b = os.environ.get(var)
    if not b:
        sys.exit("shop_harness: %s is not set (tests/shop/CMakeLists.txt sets it under ctest)" % var)
    return b


def shop_bin_dir():
    return _env_bin("SAMSA_SHOP_BIN_DIR")


def shop_binary(name):
    """The binary of shop-NAME (or of NAME when it already starts with
    shop- or samsa-): $SAMSA_SHOP_BIN_DIR/BIN, else .../<part>/BIN."""
    base = name if name.startswith(("shop-", "samsa-")) else "shop-" + name
    d = shop_bin_dir()
    part = base.split("-", 1)[1]
    for p in (os.path.join(d, base), os.path.join(d, part, base)):
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    raise FileNotFoundError("no %s in %s (built yet?)" % (base, d))


def have_service(name):
    try:
        shop_binary(name)
        return True
    except (FileNotFoundError, SystemExit):
        return False


def cli_binary():
    return _env_bin("SAMSA_CLI_BIN")


def track_groups_value(pairs):
    """track.groups for [(group, topic)]: `group:topic,...` when the relay
    knows per-topic tracking (its --help says so), else plain group names
    (then a row of one topic waits for groups that never read it, and
    COMPLETE lags; the books do not depend on COMPLETE)."""
    if _relay_per_topic():
        return ",".join("%s:%s" % gt for gt in pairs)
    return ",".join(g for g, _ in pairs)


_per_topic = []


def _relay_per_topic():
    if not _per_topic:
        try:
            out = subprocess.run([relay_harness.relay_binary([]), "--help"], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, timeout=30).stdout.decode("utf-8", "replace")
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        _per_topic.append(bool(re.search(r"group:topic|GROUP:TOPIC|group\[:topic", out)))
    return _per_topic[0]


# -- HTTP ------------------------------------------------------------------------

def http(method, url, body=None, timeout=30.0, headers=None, raw=None):
    """One request; returns (status, JSON body or text). body: a JSON-able
    value; raw: bytes sent as they are (for bad-input tests)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    h = {"Content-Type": "application/json"} if data is not None else {}
    h.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, text = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read()
    text = text.decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def get(url, **kw):
    return http("GET", url, **kw)


def post(url, body=None, **kw):
    return http("POST", url, body, **kw)


def delete(url, **kw):
    return http("DELETE", url, **kw)


def get_json(url, timeout=30.0):
    """GET that must answer 200; returns the JSON."""
    st, body = get(url, timeout=timeout)
    if st != 200:
        raise AssertionError("GET %s: %s %s" % (url, st, body))
    return body


# -- one shop service ---------------------------------------------------------------

class ServiceError(Exception):
    pass


class Service(harness.ChildProcess):
    """One shop service process. args: extra command-line arguments (a list),
    added after --listen/--db/--brokers. start/stop/kill9 come from
    harness.ChildProcess."""

    LOG_TAG = "shop_harness"
    ERROR = ServiceError

    def __init__(self, name, workdir, brokers, db=None, args=None, binary=None):
        self.name = name
        self.binary = binary or shop_binary(name)
        self.dir = workdir
        self.brokers = brokers
        self.db = db or "sqlite:" + os.path.join(workdir, name + ".db")
        self.args = list(args or [])
        self.log_path = os.path.join(workdir, "shop-%s.log" % name)
        self.proc = None
        self.host = "127.0.0.1"
        self.port = 0
        self.starts = 0
        self.last_exit = None

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def command(self):
        return [self.binary, "--listen", "127.0.0.1:%d" % self.port, "--db", self.db,
                "--brokers", self.brokers() if callable(self.brokers) else self.brokers] + self.args

    def start(self, timeout=60.0):
        if self.alive():
            raise ServiceError("shop-%s already running (pid %d)" % (self.name, self.proc.pid))
        m = self.spawn_on_port(self.port, self.command(), READY_RE, timeout, "shop-%s" % self.name)
        port = int(m.group(3))
        if self.port and port != self.port:
            raise ServiceError("restarted shop-%s listens on %d, asked for %d" % (self.name, port, self.port))
        self.host, self.port = m.group(2), port
        return self

    def restart(self, timeout=60.0):
        return super().restart(timeout)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=40):
        tail = self.log_text().splitlines()[-lines:]
        return "\n".join("  | " + l for l in tail) or "  | (empty log)"

    # HTTP against this service
    def get(self, path, **kw):
        return get(self.url + path, **kw)

    def post(self, path, body=None, **kw):
        return post(self.url + path, body, **kw)

    def delete(self, path, **kw):
        return delete(self.url + path, **kw)

    def stats(self):
        return get_json(self.url + "/stats")


# -- the whole shop ----------------------------------------------------------------

class Shop:
    """broker + topics + the six services + three relays in one temp dir.

    services: which services to start (default all six that docs/shop.md
    names); relays: which relays (default those whose service runs).
    pg=True: one PostgreSQL, and every service and relay on a database of
    its own there (postgresql:// URLs). service_args: {name: [extra args]}.
    relay_props: properties added to every relay. kafka: a running Kafka
    cluster (tests/compat/kafka_cluster.KafkaCluster, or anything with a
    .bootstrap) to use instead of starting a samsa-broker; the caller owns
    it. partitions and topic_args: how `samsa topic create` makes the four
    topics (topic_args: e.g. ["-r", "3", "-c", "min.insync.replicas=2"])."""

    def __init__(self, services=SERVICES, relays=None, pg=False, service_args=None,
                 relay_props=None, broker_overrides=None, name="shop", kafka=None,
                 partitions=PARTITIONS, topic_args=()):
        self.dir = tempfile.mkdtemp(prefix="samsa-shop-")
        self.name = name
        self.kafka = kafka
        self.partitions = partitions
        self.topic_args = [str(a) for a in topic_args]
        self.want = list(services)
        self.want_relays = list(relays) if relays is not None else [r for r in RELAYS if RELAYS[r][0] in self.want]
        self.want_pg = pg
        self.service_args = dict(service_args or {})
        self.relay_props = dict(relay_props or {})
        overrides = {"auto.create.topics.enable": "true", "num.partitions": PARTITIONS,
                     "group.initial.rebalance.delay.ms": 0}
        overrides.update(broker_overrides or {})
        self.broker = None if kafka is not None else harness.Broker(
            overrides=overrides, name="broker", data_dir=os.path.join(self.dir, "broker"))
        self.pg = None
        self.services = {}
        self.relays = {}
        self.dbs = {}

    # lifecycle
    def start(self):
        t0 = time.monotonic()
        try:
            if self.want_pg:
                import pg as pgmod
                try:
                    self.pg = pgmod.Postgres().start()
                except pgmod.Unavailable as e:
                    harness.skip("PostgreSQL unavailable: %s" % e)
            if self.broker is not None:
                self.broker.start()
            self.create_topics()
            for n in SERVICES:
                if n in self.want:
                    self.dbs[n] = self._db(n)
            for n in SERVICES:
                if n in self.want:
                    self.start_service(n)
            for r in self.want_relays:
                self.start_relay(r)
        except harness.Skip:
            self.cleanup()
            raise
        except BaseException:
            print(self.logs(), flush=True)
            self.cleanup()
            raise
        print("shop up in %.1fs in %s: broker %s; %s; relays %s" % (
            time.monotonic() - t0, self.dir, self.bootstrap,
            ", ".join("%s %s" % (n, s.url) for n, s in self.services.items()),
            ", ".join("%s pid %d" % (n, r.pid) for n, r in self.relays.items())), flush=True)
        return self

    def _db(self, name):
        if self.pg is None:
            return "sqlite:" + os.path.join(self.dir, name + ".db")
        db = "shop_%s" % name
        self.pg.psql("postgres", "CREATE DATABASE %s" % db)
        return self.pg.url_for(db)

    @property
    def bootstrap(self):
        return self.kafka.bootstrap if self.kafka is not None else self.broker.bootstrap

    def create_topics(self):
        """The four topics, self.partitions partitions each, with the samsa CLI."""
        r = subprocess.run([cli_binary(), "-b", self.bootstrap, "topic", "create", "--if-not-exists",
                            "-p", str(self.partitions)] + self.topic_args + list(TOPICS),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
                           preexec_fn=harness._die_with_parent)
        if r.returncode:
            raise AssertionError("samsa topic create: exit %d: %s" % (r.returncode, r.stdout.decode()))

    def start_service(self, name):
        args = list(self.service_args.get(name, []))
        if name == "sink" and "receiver" in self.services and not any(a.startswith("--sink-url") for a in args):
            args += ["--sink-url", self.services["receiver"].url + "/events"]
        s = Service(name, self.dir, lambda: self.bootstrap, db=self.dbs.get(name), args=args)
        self.services[name] = s
        return s.start()

    def start_relay(self, name):
        svc, pairs = RELAYS[name]
        props = {"outbox.db": self.dbs.get(svc) or "sqlite:" + os.path.join(self.dir, svc + ".db"),
                 "bootstrap.servers": self.bootstrap, "log.level": "info",
                 "track.groups": track_groups_value(pairs), "poll.interval.ms": 10,
                 "complete.interval.ms": 200, "stats.interval.ms": 200, "balance.interval.ms": 500,
                 "shutdown.timeout.ms": 5000, "retry.backoff.ms": 100, "retry.backoff.max.ms": 2000}
        props.update(self.relay_props)
        r = relay_harness.Relay(props, name="relay-" + name, workdir=self.dir)
        self.relays[name] = r
        return r.start()

    def url(self, name):
        return self.services[name].url

    def svc(self, name):
        return self.services[name]

    def processes(self):
        """(label, object with alive/pid/log_tail/sanitizer_reports) of every process."""
        out = [("broker", self.broker)] if self.broker is not None else []
        out += [("shop-" + n, s) for n, s in self.services.items()]
        out += [("relay-" + n, r) for n, r in self.relays.items()]
        return out

    def logs(self, lines=40):
        parts = []
        for label, p in self.processes():
            parts.append("%s (pid %s, alive %s) log tail:\n%s" % (label, p.pid, p.alive(), p.log_tail(lines)))
        if self.pg:
            parts.append("postgres log tail:\n%s" % self.pg.log_tail())
        return "\n".join(parts)

    def stop(self):
        """Stops everything in reverse order (relays, services, broker);
        returns problems: a non-zero exit after SIGTERM, a sanitizer report,
        a process that was dead before the stop."""
        bad = []
        items = [("relay-" + n, r) for n, r in reversed(list(self.relays.items()))]
        items += [("shop-" + n, s) for n, s in reversed(list(self.services.items()))]
        items += [("broker", self.broker)] if self.broker is not None else []
        for label, p in items:
            running = p.alive()
            code = p.stop() if running else None
            rep = p.sanitizer_reports()
            if running and code != 0:
                bad.append("%s: exit code %s after SIGTERM\n%s" % (label, code, p.log_tail()))
            if rep:
                bad.append("%s: sanitizer reports:\n%s" % (label, "\n".join(rep[:10])))
        return bad

    def cleanup(self):
        for _, p in self.processes():
            p.kill9()
        if self.pg:
            self.pg.cleanup()
        if os.environ.get("SAMSA_KEEP_TMP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print("SAMSA_KEEP_TMP=1: kept %s" % self.dir, flush=True)

    # state
    def stats(self):
        return {n: s.stats() for n, s in self.services.items()}

    def group_lag(self, group, topic=None, timeout=10.0):
        """Total lag of group on its topic (end offsets minus committed;
        a partition never committed counts its whole end offset)."""
        import confluent_kafka as ck
        topic = topic or GROUPS[group]
        c = ck.Consumer({"bootstrap.servers": self.bootstrap, "group.id": group,
                         "enable.auto.commit": False})
        try:
            tps = [ck.TopicPartition(topic, p) for p in range(self.partitions)]
            committed = c.committed(tps, timeout=timeout)
            lag = 0
            for tp in committed:
                lo, hi = c.get_watermark_offsets(ck.TopicPartition(topic, tp.partition), timeout=timeout)
                lag += hi - (tp.offset if tp.offset >= 0 else lo)
            return lag
        finally:
            c.close()

    def wait_settled(self, timeout=90.0):
        """Every outbox without INIT rows, every group at lag 0 (for the
        services running), nothing PENDING or CANCEL_REQUESTED."""
        def settled():
            st = self.stats()
            for n in ("orders", "reservations", "rooms"):
                if n in st and st[n].get("outbox", {}).get("INIT", 0):
                    return False
            r = st.get("reservations", {}).get("reservations", {})
            if r.get("PENDING", 0) or r.get("CANCEL_REQUESTED", 0):
                return False
            for g, t in GROUPS.items():
                if g.split("-", 1)[1] in self.services and self.group_lag(g, t):
                    return False
            # read again: a consumer commits its offset after its database commit, so
            # stats read now cover every record the lag check counted as consumed
            return self.stats()
        return wait_for(settled, timeout, "the shop to settle", interval=0.2)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if exc[0] is not None:
            print(self.logs(), flush=True)
        self.cleanup()
        return False


# -- shop-load -------------------------------------------------------------------------

def load_args(shop):
    """shop-load's URL flags for shop's services."""
    a = []
    for n, s in shop.services.items():
        a += ["--%s-url" % n, s.url]
    a += ["--brokers", shop.bootstrap]
    return a


def run_load(shop, *args, timeout=300):
    """Runs the real shop-load against shop; returns (exit code, stdout)."""
    cmd = [shop_binary("load")] + load_args(shop) + [str(a) for a in args]
    print("running: %s" % " ".join(cmd), flush=True)
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                       preexec_fn=harness._die_with_parent)
    out = r.stdout.decode("utf-8", "replace")
    print("shop-load exit %d after %.1fs:\n%s" % (r.returncode, time.monotonic() - t0,
                                                  "\n".join("  > " + l for l in out.splitlines())), flush=True)
    return r.returncode, out


def last_line(text):
    lines = [l for l in text.splitlines() if l.strip()]
    return lines[-1] if lines else ""


# -- a runner ----------------------------------------------------------------------

def run_shop_tests(tests, shop_factory=None):
    """Runs each test(shop) on a fresh Shop (shop_factory() or Shop());
    a failure prints every log tail; at the end of each test every process
    must exit 0 on SIGTERM with no sanitizer report."""
    wrapped = []
    for t in tests:
        def w(t=t):
            shop = (shop_factory or Shop)()
            shop.start()
            ok = skipped = False
            try:
                t(shop)
                ok = True
            except harness.Skip:
                skipped = True
                raise
            finally:
                if not ok and not skipped:
                    print(shop.logs(), flush=True)
                bad = shop.stop()
                shop.cleanup()
                if bad:
                    msg = "\n".join(bad)
                    if ok or skipped:
                        raise AssertionError(msg)
                    print(msg, flush=True)
        w.__name__ = t.__name__
        wrapped.append(w)
    return harness.run_tests(wrapped)


# -- the books, checked independently of shop-load --------------------------------

INITIAL_BALANCES = 90 * 10000000   # docs/shop.md: u1..u90 10,000,000 cents, u91..u100 0


def check_books(shop, what="books"):
    """The books of docs/shop.md from the services' own APIs (not /stats
    where another API says it): GET /products vs GET /stock, the users'
    balances one by one, the receiver against the paid orders, rooms'
    availability against confirmed reservations. Needs a settled shop."""
    st = shop.stats()
    if "orders" in shop.services and "stock" in shop.services:
        products = {p["id"]: p["stock"] for p in get_json(shop.url("orders") + "/products")}
        stock = get_json(shop.url("stock") + "/stock")
        check_eq(stock, products, "%s: GET /stock equals GET /products' stock (%d products)" % (what, len(products)))
    if "orders" in shop.services:
        total = 0
        for n in range(1, 101):
            total += get_json(shop.url("orders") + "/users/u%d" % n)["balance"]
        revenue = st["orders"]["revenue"]
        check_eq(total, INITIAL_BALANCES - revenue,
                 "%s: the 100 users' balances add up to the initial %d minus revenue %d" % (what, INITIAL_BALANCES, revenue))
        check_eq(st["orders"]["balances_total"], total, "%s: balances_total is the users' sum" % what)
    if "receiver" in shop.services and "orders" in shop.services:
        rorders = st["receiver"]["orders"]
        check_eq(len(rorders), len(set(rorders)), "%s: the receiver stored no order twice" % what)
        check_eq(len(rorders), st["orders"]["orders"]["paid"],
                 "%s: the receiver stored one event per paid order (%d)" % (what, len(rorders)))
        check_eq(st["receiver"]["amount_total"], st["orders"]["revenue"], "%s: receiver amount_total = revenue" % what)
        # every order the receiver stored, one by one (no sample): PAID in
        # shop-orders, its total the sum of its lines at their prices, and
        # those totals add up to the revenue
        unpaid, wrong_total, sum_total = [], [], 0
        for o in rorders:
            order = get_json(shop.url("orders") + "/orders/" + o)
            if order.get("status") != "PAID":
                unpaid.append((o, order.get("status")))
            lines = sum(i["quantity"] * i["price"] for i in order.get("items", []))
            if order.get("total") != lines or not order.get("items"):
                wrong_total.append((o, order.get("total"), lines))
            sum_total += order.get("total") or 0
        check(not unpaid, "%s: every order the receiver stored (%d) is PAID in shop-orders" % (what, len(rorders)),
              unpaid[:5])
        check(not wrong_total, "%s: each of those orders' total is the sum of its lines (quantity x price)" % what,
              wrong_total[:5])
        check_eq(sum_total, st["orders"]["revenue"], "%s: the paid orders' totals add up to the revenue" % what)
    for n in ("orders", "reservations", "rooms"):
        if n in st:
            check_eq(st[n]["outbox"].get("DEAD", 0), 0, "%s: no DEAD row in %s's outbox" % (what, n))
            check_eq(st[n]["outbox"].get("INIT", 0), 0, "%s: no INIT row in %s's outbox" % (what, n))
    if "rooms" in shop.services and "reservations" in shop.services:
        res = st["reservations"]["reservations"]
        check_eq((res.get("PENDING", 0), res.get("CANCEL_REQUESTED", 0)), (0, 0),
                 "%s: no reservation PENDING or CANCEL_REQUESTED" % what)
        taken = st["rooms"]["taken"]
        conf = st["reservations"]["confirmed_nights"]
        norm = lambda m: {(r, n): v for r, ns in m.items() for n, v in ns.items() if v}  # noqa: E731
        check_eq(norm(taken), norm(conf), "%s: rooms taken = confirmed nights (%d room-nights)" % (what, len(norm(taken))))
        over = {k: v for k, v in norm(taken).items() if v > 3}
        check(not over, "%s: no room-night above capacity 3" % what, over)
        # availability, as a guest sees it, for every room over the nights in use
        nights = sorted({n for ns in taken.values() for n in ns} | {n for ns in conf.values() for n in ns})
        if nights:
            import datetime
            day = lambda t: datetime.date(*map(int, t.split("-")))  # noqa: E731
            first, last = day(nights[0]), day(nights[-1])
            wrong = []
            while first <= last:  # in stretches of at most 28 nights
                to = min(first + datetime.timedelta(days=28), last + datetime.timedelta(days=1))
                for r in range(1, 11):
                    room = "r%d" % r
                    av = get_json("%s/rooms/%s/availability?from=%s&to=%s"
                                  % (shop.url("rooms"), room, first.isoformat(), to.isoformat()))
                    for night, free in av.items():
                        want = 3 - conf.get(room, {}).get(night, 0)
                        if free != want:
                            wrong.append((room, night, free, want))
                first = to
            check(not wrong, "%s: GET /rooms/{id}/availability = capacity - confirmed, every room and night" % what,
                  wrong[:5])
    return st
