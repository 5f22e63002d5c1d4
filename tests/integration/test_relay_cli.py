#!/usr/bin/python3
"""samsa-relay's command line: --help and --version; usage errors (exit 2,
the exact line); configuration errors naming the property (exit 1);
--init-schema creating the schema (and once more, a no-op) and failing on a
database it cannot open (exit 1); a relay that cannot start (its database
cannot be opened, its metrics port is taken) exits 1 saying why, and
leaves nothing behind. No broker is needed: each case ends before one is
used.

Usage: test_relay_cli.py --relay BIN [--broker BIN --tool BIN]
"""

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check, check_eq, run_tests  # noqa: E402


def arg(name, env):
    for i, a in enumerate(sys.argv):
        if a == name and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
    return os.environ.get(env)


RELAY = arg("--relay", "SAMSA_RELAY_BIN")
if not RELAY:
    sys.exit("test_relay_cli: pass --relay BIN (or SAMSA_RELAY_BIN)")
tmp = tempfile.mkdtemp(prefix="samsa-itest-relay-cli-")


def relay(*args, timeout=30):
    """(exit code, stdout, stderr) of samsa-relay ARGS, which must end by itself."""
    r = subprocess.run([RELAY] + list(args), capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    check(not harness.SANITIZER_RE.search(err), "no sanitizer report from samsa-relay %s" % " ".join(args[:3]))
    return r.returncode, out, err


def test_help_version():
    rc, out, err = relay("--version")
    check_eq((rc, out.split(" ")[0], err), (0, "samsa-relay", ""), "--version: exit 0, 'samsa-relay <version>'")
    rc, out, _ = relay("--help")
    check(rc == 0 and "--init-schema" in out and "outbox.db" in out and "bootstrap.servers" in out,
          "--help: exit 0, the options and the properties", out[:200])


def test_usage_errors():
    for args, line in [(["--override"], "samsa-relay: --override needs KEY=VALUE"),
                       (["--bogus"], "samsa-relay: unknown option '--bogus' (see --help)"),
                       (["a.properties", "b.properties"],
                        "samsa-relay: more than one properties file ('a.properties', 'b.properties')")]:
        rc, out, err = relay(*args)
        check_eq((rc, err.rstrip("\n"), out), (2, line, ""), "samsa-relay %s: exit 2, '%s'" % (" ".join(args), line))


def test_config_errors():
    db = "sqlite:" + os.path.join(tmp, "never.db")
    cases = [
        (["--override=no.such=1"], "unknown property 'no.such' (--override)"),
        (["--override", "outbox.db=" + db], "bootstrap.servers is required"),
        (["--override", "outbox.db=" + db, "--override", "bootstrap.servers=x:1", "--override",
          "metrics.listen=example.com:1"], "metrics.listen (--override): 'example.com' is not a numeric IPv4 address"),
        ([os.path.join(tmp, "missing.properties")], "missing.properties"),
    ]
    for args, text in cases:
        rc, out, err = relay(*args)
        check(rc == 1 and err.startswith("samsa-relay: configuration error: ") and text in err,
              "samsa-relay %s: exit 1, a configuration error naming '%s'" % (" ".join(args)[-60:], text), err)
    check(not os.path.exists(os.path.join(tmp, "never.db")), "none of them created the database")


def test_init_schema():
    path = os.path.join(tmp, "outbox.db")
    said = []
    for n in (1, 2):
        rc, out, err = relay("--init-schema", "--override", "outbox.db=sqlite:" + path)
        check_eq(rc, 0, "--init-schema #%d: exit 0 (no bootstrap.servers needed)" % n)
        said.append(err)
    with sqlite3.connect(path) as c:
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    check("samsa_outbox" in tables, "the outbox table exists (%s)" % sorted(tables))
    check("outbox schema migrated from v0 to v" in said[0], "the first run migrates from v0", said[0][-300:])
    check("the newest (sqlite:%s)" % path in said[1] and "migrated" not in said[1],
          "the second changes nothing and says the schema is the newest", said[1][-300:])
    rc, out, err = relay("--init-schema", "--override", "outbox.db=sqlite:/nonexistent/dir/x.db")
    check(rc == 1 and "samsa-relay --init-schema failed: " in err and "/nonexistent/dir/x.db" in err
          and "unable to open database file" in err, "--init-schema on a database it cannot open: exit 1, why", err)


def test_start_failures():
    rc, out, err = relay("--override", "outbox.db=sqlite:/nonexistent/dir/x.db", "--override",
                         "bootstrap.servers=127.0.0.1:1")
    check(rc == 1 and "samsa-relay failed to start: " in err and "unable to open database file" in err,
          "a database that cannot be opened: exit 1, why", err[-400:])
    path = os.path.join(tmp, "outbox.db")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        rc, out, err = relay("--override", "outbox.db=sqlite:" + path, "--override", "bootstrap.servers=127.0.0.1:1",
                             "--override", "metrics.listen=127.0.0.1:%d" % port)
    finally:
        s.close()
    check(rc == 1 and ("samsa-relay failed to start: metrics.listen 127.0.0.1:%d: Address already in use" % port)
          in err, "the metrics port taken by another socket: exit 1, naming the address", err[-400:])


def main():
    try:
        return run_tests([test_help_version, test_usage_errors, test_config_errors, test_init_schema,
                          test_start_failures])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
