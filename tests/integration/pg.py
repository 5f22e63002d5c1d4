"""A real PostgreSQL for tests: initdb in a temp dir, run as a non-root user.

    with Postgres() as pg:
        url = pg.url            # postgresql://samsa@/samsa?host=/tmp/samsa-pg-XXXX/sock
        ...

initdb refuses to run as root, so when the tests run as root the cluster is
created and run as the `postgres` system user (Debian's postgresql package
makes it), or SAMSA_PG_USER; otherwise as the current user. The server
listens on a Unix socket in its private temp dir and on no TCP port at all
(listen_addresses=''): no port is picked by a test, closed and handed over
to the server (another process could take it in between), and a restart
cannot find its address taken. libpq, psycopg2 and every samsa program take
the socket dir as the URL's host parameter (url_for()). It trusts local
connections and is stopped by its pid (SIGINT, fast shutdown, then SIGKILL)
whatever happens, like the brokers of harness.py.
stop() or kill9() (a crash: every server process SIGKILLed at once) and
restart() bring it back on the same data and socket dir, for tests of a
database outage.

No PostgreSQL server installed (no initdb in SAMSA_PG_BIN or
/usr/lib/postgresql/*/bin) or no user to run it as: start() raises
Unavailable, which the harnesses turn into a skip (exit 77), never a pass.

As a command: `pg.py run [--] cmd args...` starts a server, exports
SAMSA_PG_URL to cmd, runs it, stops the server, and returns cmd's exit code
(77, "skipped", when PostgreSQL is unavailable).
"""

import atexit
import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

_live = []


SKIP_CODE = 77
PORT = 5432     # names the socket file (.s.PGSQL.5432) in a dir of our own; no TCP port is opened


class Unavailable(RuntimeError):
    """No PostgreSQL server to run here: a reason to skip, not a pass."""


def _bindir():
    env = os.environ.get("SAMSA_PG_BIN")
    if env:
        if not os.access(os.path.join(env, "initdb"), os.X_OK):
            raise Unavailable("SAMSA_PG_BIN=%s has no initdb" % env)
        return env
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise Unavailable("no PostgreSQL server found (/usr/lib/postgresql/*/bin/initdb); "
                          "install the postgresql package (scripts/deps.sh test)")
    return os.path.dirname(found[-1])


def dbname_of(url):
    """The database a libpq URL names, in either form:
    postgresql://user@host:port/DB or postgresql://user@/DB?host=SOCKDIR."""
    return url.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]


def _children(pid):
    """The pids whose parent is pid (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        if int(st[st.rindex(")") + 2:].split()[1]) == pid:
            out.append(int(d))
    return out


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        return st[st.rindex(")") + 2] != "Z"
    except OSError:
        return False


def _pdeathsig():
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass
    os.setpgid(0, 0)


class Postgres:
    def __init__(self, dbname="samsa", user="samsa"):
        self.bindir = _bindir()
        self.dbname = dbname
        self.user = user
        self.dir = tempfile.mkdtemp(prefix="samsa-pg-")
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        self.log_path = os.path.join(self.dir, "postgres.log")
        os.makedirs(self.sock)
        self.run_as = None
        if os.geteuid() == 0:
            self.run_as = os.environ.get("SAMSA_PG_USER", "postgres")
            try:
                pw = pwd.getpwnam(self.run_as)
            except KeyError:
                shutil.rmtree(self.dir, ignore_errors=True)
                raise Unavailable("no user %r to run PostgreSQL as (initdb refuses root; set SAMSA_PG_USER)"
                                  % self.run_as)
            os.chmod(self.dir, 0o755)
            for d in (self.dir, self.sock):
                os.chown(d, pw.pw_uid, pw.pw_gid)
        self.port = PORT
        self.proc = None

    def _cmd(self, args):
        if self.run_as:
            return ["runuser", "-u", self.run_as, "--"] + args
        return args

    def start(self, timeout=60):
        r = subprocess.run(self._cmd([os.path.join(self.bindir, "initdb"), "-D", self.data,
                                      "-U", self.user, "--auth=trust", "-E", "UTF8",
                                      "--no-sync"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode:
            raise RuntimeError("initdb failed (as %s): %s" % (self.run_as or "me", r.stderr))
        self._launch(timeout, "")
        self.psql("postgres", "CREATE DATABASE %s" % self.dbname)
        return self

    @property
    def url(self):
        return self.url_for(self.dbname)

    def url_for(self, dbname):
        """The URL of database dbname on this server: its socket dir as the
        host parameter (libpq's URI syntax), e.g.
        postgresql://samsa@/shop_orders?host=/tmp/samsa-pg-XXXX/sock"""
        return "postgresql://%s@/%s?host=%s" % (self.user, dbname, self.sock)

    def psql(self, db, sql):
        """Runs SQL with psql; returns stdout (unaligned, tuples only)."""
        r = subprocess.run([os.path.join(self.bindir, "psql"), "-X", "-q", "-A", "-t",
                            "-v", "ON_ERROR_STOP=1", "-h", self.sock, "-p", str(self.port),
                            "-U", self.user, "-d", db, "-c", sql],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode:
            raise RuntimeError("psql failed: %s\n%s" % (sql, r.stderr))
        return r.stdout

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join("  | " + l for l in lines[-n:])
        except OSError:
            return "  | (no log)"

    def stop(self, timeout=30):
        p = self.proc
        if p is not None and p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGINT) if not self.run_as else self._signal_postmaster(signal.SIGINT)
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_postmaster(signal.SIGKILL)
                p.kill()
                p.wait()
        self.proc = None
        if self in _live:
            _live.remove(self)

    def _signal_postmaster(self, sig):
        # under runuser, the postmaster is runuser's child: signal it by its pid file
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                os.kill(int(f.readline()), sig)
        except (OSError, ValueError):
            if self.proc:
                self.proc.send_signal(sig)

    def kill9(self):
        """A crash: SIGKILL to the postmaster and to every process it
        started, at once (its children are in sessions of their own, so
        killing its process group would leave them to exit by themselves).
        No shutdown checkpoint: restart() runs crash recovery from the WAL."""
        p = self.proc
        if p is None or p.poll() is not None:
            return
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                pm = int(f.readline())
        except (OSError, ValueError):
            pm = None
        kids = _children(pm) if pm else []
        for pid in ([pm] if pm else []) + kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        p.kill()
        p.wait()
        # gone, not even a zombie: a postmaster.pid naming a live pid (kill(pid,
        # 0) succeeds on a zombie) stops the next postmaster
        deadline = time.monotonic() + 30
        while (any(_alive(pid) for pid in kids) or (pm and os.path.exists("/proc/%d" % pm))) \
                and time.monotonic() < deadline:
            time.sleep(0.02)
        self.proc = None
        if self in _live:
            _live.remove(self)

    def restart(self, timeout=60):
        """Starts the server again on the same data dir and socket dir
        (after stop() or kill9()): clients reconnect to the same URL."""
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        return self._launch(timeout, " on restart")

    def _launch(self, timeout, what):
        """Starts the postmaster on the data dir, socket only, and waits
        until it accepts connections."""
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self._cmd([os.path.join(self.bindir, "postgres"), "-D", self.data,
                       "-p", str(self.port), "-c", "listen_addresses=", "-k", self.sock,
                       "-c", "max_connections=200", "-c", "shared_buffers=128MB"]),
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
            preexec_fn=_pdeathsig)
        logf.close()
        _live.append(self)
        deadline = time.monotonic() + timeout
        while True:
            r = subprocess.run([os.path.join(self.bindir, "pg_isready"), "-h", self.sock,
                                "-p", str(self.port), "-U", self.user, "-d", "postgres"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("postgres exited%s (%s):\n%s" % (what, self.proc.returncode, self.log_tail()))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("postgres not ready after %ds%s:\n%s" % (timeout, what, self.log_tail()))
            time.sleep(0.05)

    def cleanup(self):
        self.stop()
        if os.environ.get("SAMSA_KEEP_TMP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


def _stop_all():
    for pg in list(_live):
        pg.cleanup()


atexit.register(_stop_all)
for _s in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_s, lambda *a: sys.exit(128 + 15))


def main(argv):
    if len(argv) < 2 or argv[1] != "run":
        print("usage: pg.py run [--] cmd args...", file=sys.stderr)
        return 2
    cmd = argv[2:]
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    try:
        pg = Postgres().start()
    except Unavailable as e:
        print("SKIP: PostgreSQL unavailable: %s" % e, flush=True)
        return SKIP_CODE
    try:
        env = dict(os.environ, SAMSA_PG_URL=pg.url)
        print("pg.py: postgres on %s (data %s)" % (pg.url, pg.data), flush=True)
        return subprocess.call(cmd, env=env)
    finally:
        pg.cleanup()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
