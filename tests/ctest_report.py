#!/usr/bin/python3
"""The end of `make test`: what ctest skipped, and why, printed last.

    ctest_report.py JUNIT_XML [CTEST_EXIT_CODE]

Reads the JUnit file ctest wrote (--output-junit) and prints every test that
exited 77 (SKIP_RETURN_CODE: it could not check what it is for here) with
the reasons it printed ("SKIP: ...", "SKIPPED name: reason" lines), then
every failed test. A skipped test proved nothing, so it is never green in
CI: with SAMSA_TEST_STRICT=1 (.ci/run sets it) one skip fails the run.

Exit code: ctest's when it is not 0; else 1 when a test was skipped under
SAMSA_TEST_STRICT=1, when the file holds no test at all, or cannot be read;
else 0.
"""

import os
import re
import sys
import xml.etree.ElementTree as ET

SKIP_MESSAGE = "SKIP_RETURN_CODE=77"
SKIPPED_RE = re.compile(r"^SKIPPED [^ :]+: ")        # harness.run_tests' list: a test and its reason
SKIP_RE = re.compile(r"^([^ :]+: )?SKIP: ")          # harness.skip(), check.h's check_skip(), pg.py


def reasons(text):
    """The lines of a test's output that say what was skipped and why, each
    once: the runner's "SKIPPED test: reason" list, else the "SKIP: reason"
    lines (a file or program that skipped as a whole)."""
    lines = [l.strip() for l in (text or "").splitlines()]
    for rx in (SKIPPED_RE, SKIP_RE):
        out = []
        for l in lines:
            if rx.search(l) and l not in out:
                out.append(l)
        if out:
            return out
    return []


def main(argv):
    if len(argv) not in (2, 3):
        print("usage: ctest_report.py JUNIT_XML [CTEST_EXIT_CODE]", file=sys.stderr)
        return 2
    ctest_rc = int(argv[2]) if len(argv) == 3 else 0
    strict = os.environ.get("SAMSA_TEST_STRICT", "") not in ("", "0")
    try:
        root = ET.parse(argv[1]).getroot()
    except (OSError, ET.ParseError) as e:
        print("ctest_report: cannot read ctest's JUnit file %s: %s" % (argv[1], e))
        return ctest_rc or 1
    cases = root.iter("testcase")
    skipped, failed, passed = [], [], 0
    for c in cases:
        name = c.get("name")
        sk = c.find("skipped")
        if c.find("failure") is not None or c.find("error") is not None:
            failed.append(name)
        elif sk is not None and sk.get("message") == SKIP_MESSAGE:
            skipped.append((name, reasons(c.findtext("system-out"))))
        elif sk is not None or c.get("status") not in ("run", None):
            failed.append("%s (not run: %s)" % (name, sk.get("message") if sk is not None else c.get("status")))
        else:
            passed += 1
    total = passed + len(skipped) + len(failed)
    print()
    print("=== ctest_report: %d tests: %d passed, %d failed, %d skipped%s"
          % (total, passed, len(failed), len(skipped), " (SAMSA_TEST_STRICT=1)" if strict else ""))
    if skipped:
        print("=== SKIPPED (exit 77): these tests checked nothing of what they are for on this machine")
        for name, why in skipped:
            print("  %s" % name)
            for line in why or ["(it printed no reason)"]:
                print("      %s" % line)
    for name in failed:
        print("  FAILED %s" % name)
    if ctest_rc:
        return ctest_rc
    if total == 0:
        print("FAIL: ctest ran no test")
        return 1
    if skipped and strict:
        print("FAIL: SAMSA_TEST_STRICT=1: %d skipped tests; a skip is never a pass in CI "
              "(install what they name: scripts/deps.sh test)" % len(skipped))
        return 1
    if skipped:
        print("(skips are allowed here; SAMSA_TEST_STRICT=1, as in CI, makes them a failure)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
