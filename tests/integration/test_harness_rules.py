#!/usr/bin/python3
"""The rules every test runner here keeps, tested: a skip is never a pass.

    test_harness_rules.py --build DIR --check-rules BIN --groups BIN --rdkafka BIN
                          --broker BIN [--samsa BIN]

- harness.run_tests (small test files written here and run as processes):
  a passing test with checks exits 0; a skip() in a test exits 77 and
  prints its reason; a skip() in the file's setup (before run_tests) exits
  77 through the finally blocks and atexit hooks; a test that makes no
  check fails (1); SAMSA_TEST_ONLY naming no test fails (1); a failure
  and a skip together fail (1); a file with two run_tests calls ends with
  verdict(): one selection across both passes, a skip in one and a failure
  in the other fails.
- check.h: a program that makes no check exits 1, check_skip exits 77.
- test_groups, test_rdkafka (C) and test_kafkajs.js: SAMSA_TEST_ONLY naming
  none of their tests fails.
- pg.py: no PostgreSQL server (SAMSA_PG_BIN without initdb): `pg.py run`
  exits 77 and says why; test_samsa_cli.py's PostgreSQL test then reports
  itself SKIPPED and the file exits 77 (when --samsa is given).
- harness.Broker: a restart on its old port, taken meanwhile by another
  process, is tried again until the port is free; held throughout, it fails
  after a few tries naming the port and its holder.
- ctest: every registered test has SKIP_RETURN_CODE 77.
- tests/ctest_report.py: lists a skipped test with its reason; exits 0
  without SAMSA_TEST_STRICT, 1 with SAMSA_TEST_STRICT=1; passes a failing
  ctest's exit code on; fails when no test ran.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402
from harness import check, check_eq, run_tests  # noqa: E402

PY = harness.PYTHON
ap = argparse.ArgumentParser()
ap.add_argument("--build", required=True)
ap.add_argument("--check-rules", required=True)
ap.add_argument("--groups", required=True)
ap.add_argument("--rdkafka", required=True)
ap.add_argument("--samsa")
ap.add_argument("--broker", required=True)
opts = ap.parse_args()
tmp = tempfile.mkdtemp(prefix="samsa-rules-")


def run(cmd, env=None, timeout=120, cwd=None):
    """(exit code, stdout+stderr) of cmd, SAMSA_TEST_ONLY and
    SAMSA_TEST_STRICT removed from the environment unless env sets them."""
    e = {k: v for k, v in os.environ.items() if k not in ("SAMSA_TEST_ONLY", "SAMSA_TEST_STRICT")}
    e.update(env or {})
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=e, timeout=timeout, cwd=cwd,
                       preexec_fn=harness._die_with_parent)
    return r.returncode, r.stdout.decode("utf-8", "replace")


def script(name, body):
    """A test file using harness.py, written to the temp dir; its path."""
    path = os.path.join(tmp, name + ".py")
    with open(path, "w") as f:
        f.write("import os, sys\nsys.path.insert(0, %r)\nimport harness\n"
                "from harness import check, run_tests, skip, verdict\n" % HERE)
        f.write(textwrap.dedent(body))
    return path


def expect(path, code, texts, what, env=None):
    rc, out = run([PY, path], env=env)
    check(rc == code and all(t in out for t in texts), "%s: exit %d, printing %s" % (what, code, texts),
          "exit %d:\n%s" % (rc, out))
    return out


def test_python_runner():
    two = """
        def t_a():
            check(True, "a")
        def t_b():
            check(True, "b")
        sys.exit(run_tests([t_a, t_b]))
    """
    p = script("two", two)
    expect(p, 0, ["2 passed, 0 failed, 0 skipped"], "two tests with checks")
    expect(p, 1, ["0 passed, 0 failed, 0 skipped", "no test selected here (SAMSA_TEST_ONLY=t_typo) of: t_a, t_b"],
           "SAMSA_TEST_ONLY naming no test (a typo)", env={"SAMSA_TEST_ONLY": "t_typo"})
    expect(p, 0, ["1 passed, 0 failed, 0 skipped"], "SAMSA_TEST_ONLY naming one", env={"SAMSA_TEST_ONLY": "t_b"})
    expect(script("empty", "sys.exit(run_tests([]))\n"), 1, ["no test selected here of: (an empty list)"],
           "an empty list of tests")
    p = script("skips", """
        def t_ok():
            check(True, "fine")
        def t_skip():
            check(True, "a first check")
            skip("no frobnicator on this machine")
        sys.exit(run_tests([t_ok, t_skip]))
    """)
    expect(p, 77, ["SKIP: no frobnicator on this machine", "1 passed, 0 failed, 1 skipped",
                   "SKIPPED t_skip: no frobnicator on this machine"], "a test that skips")
    p = script("nocheck", """
        def t_nothing():
            print("did something, checked nothing")
        def t_ok():
            check(True, "fine")
        sys.exit(run_tests([t_nothing, t_ok]))
    """)
    expect(p, 1, ["FAIL t_nothing", "without making a single check", "1 passed, 1 failed, 0 skipped"],
           "a test that makes no check")
    p = script("skipfail", """
        def t_skip():
            skip("cannot")
        def t_fail():
            check(False, "broken")
        sys.exit(run_tests([t_skip, t_fail]))
    """)
    expect(p, 1, ["0 passed, 1 failed, 1 skipped"], "a skip and a failure: the failure wins")
    p = script("catchall", """
        def t_skip():
            try:
                skip("inside a try")
            except Exception:
                check(True, "swallowed by except Exception: must not happen")
        sys.exit(run_tests([t_skip]))
    """)
    expect(p, 77, ["0 passed, 0 failed, 1 skipped"], "except Exception does not swallow a skip")
    marker = os.path.join(tmp, "cleaned")
    p = script("setup", """
        import atexit
        atexit.register(lambda: open(%r, "w").write("atexit ran"))
        try:
            skip("the whole file: no server")
        finally:
            print("finally ran", flush=True)
        sys.exit(run_tests([]))
    """ % marker)
    expect(p, 77, ["SKIP: the whole file: no server", "finally ran"], "a skip in a file's setup")
    check(os.path.exists(marker), "and its atexit hooks ran (where the harness stops every child)")


def test_python_runner_two_runs():
    p = script("tworuns", """
        def t_a():
            check(True, "a")
        def t_b():
            if os.environ.get("B") == "skip":
                skip("b cannot")
            check(os.environ.get("B") != "fail", "b")
        run_tests([t_a])
        run_tests([t_b])
        sys.exit(verdict())
    """)
    expect(p, 0, ["all 2 runs: 2 passed, 0 failed, 0 skipped"], "two runs that pass")
    expect(p, 0, ["no test selected here (SAMSA_TEST_ONLY=t_b) of: t_a", "all 2 runs: 1 passed"],
           "SAMSA_TEST_ONLY naming a test of the second run", env={"SAMSA_TEST_ONLY": "t_b"})
    expect(p, 1, ["FAIL: no test ran: SAMSA_TEST_ONLY=t_c names none of t_a, t_b"],
           "SAMSA_TEST_ONLY naming no test of either run", env={"SAMSA_TEST_ONLY": "t_c"})
    expect(p, 77, ["all 2 runs: 1 passed, 0 failed, 1 skipped", "SKIPPED t_b: b cannot"], "a skip in the second run",
           env={"B": "skip"})
    expect(p, 1, ["all 2 runs: 1 passed, 1 failed, 0 skipped"], "a failure in the second run", env={"B": "fail"})


def test_check_h():
    for mode, code, text in (("one", 0, "check_rules: 1 checks, 0 failed"),
                             ("fail", 1, "check_rules: 1 checks, 1 failed"),
                             ("none", 1, "check_rules: FAIL: not a single check was made"),
                             ("skip", 77, "check_rules: SKIP: asked to skip")):
        rc, out = run([opts.check_rules, mode])
        check(rc == code and text in out, "check.h, %s: exit %d, '%s'" % (mode, code, text), (rc, out))


def test_c_and_js_selection():
    env = {"SAMSA_BOOTSTRAP": "127.0.0.1:1", "SAMSA_TEST_ONLY": "no_such_test"}
    for prog in (opts.groups, opts.rdkafka):
        rc, out = run([prog], env=env)
        check(rc == 1 and "FAIL: no test ran (SAMSA_TEST_ONLY=no_such_test names none of:" in out,
              "%s with SAMSA_TEST_ONLY naming no test: exit 1, saying so" % os.path.basename(prog), (rc, out))
    rc, out = run(["node", os.path.join(HERE, "js", "test_kafkajs.js")], env=env)
    check(rc == 1 and "FAIL: no test ran (SAMSA_TEST_ONLY=no_such_test names none of: testAdmin" in out,
          "test_kafkajs.js with SAMSA_TEST_ONLY naming no test: exit 1, saying so", (rc, out))


def test_postgres_unavailable():
    nopg = os.path.join(tmp, "no-postgres-here")
    os.makedirs(nopg, exist_ok=True)
    rc, out = run([PY, os.path.join(HERE, "pg.py"), "run", "--", "true"], env={"SAMSA_PG_BIN": nopg})
    check(rc == 77 and "SKIP: PostgreSQL unavailable: SAMSA_PG_BIN=%s has no initdb" % nopg in out,
          "pg.py run without a PostgreSQL server: exit 77, saying why", (rc, out))
    if not opts.samsa:
        harness.skip("no --samsa (samsa-cli not built): test_samsa_cli.py not tried")
    rc, out = run([PY, os.path.join(HERE, "test_samsa_cli.py"), "--broker", opts.broker, "--samsa", opts.samsa],
                  env={"SAMSA_PG_BIN": nopg, "SAMSA_TEST_ONLY": "test_outbox_postgres"}, timeout=240)
    check(rc == 77 and "SKIPPED test_outbox_postgres: PostgreSQL unavailable" in out
          and "0 passed, 0 failed, 1 skipped" in out,
          "test_samsa_cli.py's PostgreSQL test without a server: SKIPPED, exit 77 (it used to print "
          "'skipped' and pass)", (rc, out[-3000:]))


def test_restart_on_a_taken_port():
    b = harness.Broker(binary=opts.broker, name="rules")
    try:
        b.start()
        port = b.port
        b.stop()
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
        threading.Timer(1.0, s.close).start()     # another process holds the port for a second
        b.start()
        check(b.alive() and b.port == port, "Broker.start() again on port %d, taken meanwhile for a second: "
              "it runs there once the port is free" % port)
        check("port %d taken by another process: try 2 of" % port in b.log_text(),
              "after a try that found the port taken (the log says so)")
        b.stop()
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
        b.PORT_RETRY_PAUSES = (0.1, 0.2)
        try:
            b.start()
            err = None
        except harness.BrokerError as e:
            err = str(e)
        finally:
            s.close()
        check(err and "broker: port %d stayed taken by another process over 3 tries" % port in err
              and "its holder:" in err, "a port held throughout: BrokerError after 3 tries, naming the port and "
              "its holder", err)
    finally:
        b.cleanup()


def test_every_ctest_test_has_skip_code():
    rc, out = run(["ctest", "--show-only=json-v1"], cwd=opts.build)
    check_eq(rc, 0, "ctest --show-only=json-v1 in %s" % opts.build)
    tests = json.loads(out[out.index("{"):])["tests"]
    missing = []
    for t in tests:
        props = {p["name"]: p["value"] for p in t.get("properties", [])}
        if props.get("SKIP_RETURN_CODE") != 77:
            missing.append(t["name"])
    check(len(tests) > 30 and not missing, "all %d ctest tests have SKIP_RETURN_CODE 77" % len(tests), missing)


JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="x" tests="3" failures="0" disabled="0" skipped="1">
  <testcase name="unit.a" classname="unit.a" time="0.1" status="run"><system-out>ok</system-out></testcase>
  <testcase name="integration.b" classname="integration.b" time="0.2" status="notrun">
    <skipped message="SKIP_RETURN_CODE=77"/>
    <system-out>--- t_x
SKIP: no frobnicator
SKIPPED t_x (0.01s, 0 checks before it): no frobnicator
0 passed, 0 failed, 1 skipped
SKIPPED t_x: no frobnicator
</system-out>
  </testcase>
  %s
</testsuite>
"""


def test_ctest_report():
    report = os.path.join(HERE, "..", "ctest_report.py")
    path = os.path.join(tmp, "junit.xml")
    with open(path, "w") as f:
        f.write(JUNIT % "")
    rc, out = run([PY, report, path, "0"])
    check(rc == 0 and "1 passed, 0 failed, 1 skipped" in out and "  integration.b\n      SKIPPED t_x: no frobnicator"
          in out, "ctest_report.py lists the skipped test and its reason; exit 0 without SAMSA_TEST_STRICT", out)
    rc, out = run([PY, report, path, "0"], env={"SAMSA_TEST_STRICT": "1"})
    check(rc == 1 and "FAIL: SAMSA_TEST_STRICT=1: 1 skipped tests" in out,
          "with SAMSA_TEST_STRICT=1 the skip fails the run", out)
    rc, out = run([PY, report, path, "8"])
    check_eq(rc, 8, "a failing ctest's exit code is passed on")
    with open(path, "w") as f:
        f.write(JUNIT % '<testcase name="shop.c" classname="shop.c" time="1" status="fail">'
                        '<failure message="Failed"/></testcase>')
    rc, out = run([PY, report, path, "8"])
    check(rc == 8 and "FAILED shop.c" in out, "and the failed test is named", out)
    with open(path, "w") as f:
        f.write('<?xml version="1.0"?><testsuite name="x" tests="0"></testsuite>')
    rc, out = run([PY, report, path, "0"])
    check(rc == 1 and "FAIL: ctest ran no test" in out, "a run of no test at all fails", out)


def main():
    try:
        return run_tests([test_python_runner, test_python_runner_two_runs, test_check_h, test_c_and_js_selection,
                          test_postgres_unavailable, test_restart_on_a_taken_port,
                          test_every_ctest_test_has_skip_code, test_ctest_report])
    finally:
        if os.environ.get("SAMSA_KEEP_TMP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
