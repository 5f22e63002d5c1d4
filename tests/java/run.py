#!/usr/bin/python3
"""The Java client suite (tests/java): Maven runs the JUnit 5 tests against
the samsa-broker binary given. ctest registers two steps:

  run.py setup --build DIR           compile the tests and fetch everything Maven needs
                                     (kafka-clients, JUnit, Surefire's JUnit provider) from
                                     Maven Central into ~/.m2; the fixture java.clients_setup
  run.py test --build DIR --broker BIN [--exclude TAG,...]
                                     run them offline (-o): every class starts its own
                                     samsa-broker; Surefire's reports in DIR/surefire-reports

Exit 77 (skipped, the reason printed) only when java or mvn is missing
(scripts/deps.sh test installs both). After the tests it prints each test and
the totals from Surefire's reports; no test run, or a test Surefire reports
skipped, is a failure.
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def mvn_run(cmd):
    """Runs Maven, its output printed without colour codes; returns its exit code."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for line in p.stdout:
        text = ANSI.sub("", line.decode("utf-8", "replace"))
        if text.strip():
            sys.stdout.write(text)
    sys.stdout.flush()
    return p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=["setup", "test"])
    ap.add_argument("--build", required=True, help="Maven's build directory")
    ap.add_argument("--broker", help="the samsa-broker binary (test)")
    ap.add_argument("--exclude", default="", help="JUnit tags left out, comma-separated")
    ap.add_argument("--only", help="Surefire's -Dtest filter, e.g. AdminTest or ProducerTest#headers*")
    args = ap.parse_args()

    for tool in ("java", "mvn"):
        if not shutil.which(tool):
            print("SKIPPED %s: no %s on the PATH (scripts/deps.sh test installs "
                  "openjdk-17-jdk-headless and maven)" % ("java.clients_setup" if args.step == "setup" else "java.clients",
                                                          tool), flush=True)
            return 77

    mvn = ["mvn", "-B", "-q", "-Dstyle.color=never", "-f", os.path.join(HERE, "pom.xml"), "-Djava.build=" + os.path.abspath(args.build)]
    if args.step == "setup":
        # test-compile, then Surefire with the one class that needs no broker: running a
        # test is what makes Surefire fetch its JUnit provider
        return mvn_run(mvn + ["test", "-Dtest=ClientVersionTest"])

    if not args.broker or not os.access(args.broker, os.X_OK):
        print("run.py: no samsa-broker binary at %r" % args.broker, flush=True)
        return 2
    reports = os.path.join(args.build, "surefire-reports")
    shutil.rmtree(reports, ignore_errors=True)
    cmd = mvn + ["-o", "test", "-Dsamsa.broker=" + os.path.abspath(args.broker)]
    if args.only:
        cmd.append("-Dtest=" + args.only)
    if args.exclude:
        cmd.append("-Dsamsa.excluded=" + args.exclude)
        print("java.clients: tests tagged %s are left out (see tests/java/CMakeLists.txt)" % args.exclude)
    rc = mvn_run(cmd)

    if rc != 0 and not glob.glob(os.path.join(reports, "TEST-*.xml")):
        # no test ran: show the compiler's warnings too (-q hides them, -Werror fails on them)
        out = subprocess.run(mvn[:2] + mvn[3:] + ["-o", "test-compile"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT).stdout.decode("utf-8", "replace")
        print("\n".join(l for l in out.splitlines() if l.startswith(("[WARNING]", "[ERROR]")) and ".java" in l))
    tests = failures = skipped = 0
    for f in sorted(glob.glob(os.path.join(reports, "TEST-*.xml"))):
        root = ET.parse(f).getroot()
        tests += int(root.get("tests", 0))
        failures += int(root.get("failures", 0)) + int(root.get("errors", 0))
        skipped += int(root.get("skipped", 0))
        for case in root.iter("testcase"):
            t = case.get("time")
            bad = case.find("failure") is not None or case.find("error") is not None
            print("  %-6s %s.%s (%s s)" % ("FAIL" if bad else "ok", root.get("name").rsplit(".", 1)[-1],
                                           case.get("name"), t))
    print("java.clients: %d passed, %d failed, %d skipped (Surefire reports: %s)"
          % (tests - failures - skipped, failures, skipped, reports), flush=True)
    if rc == 0 and (tests == 0 or failures or skipped):
        # no test ran, or one was skipped (nothing here may skip: tags leave tests out)
        return 1
    if rc != 0 and failures:
        print("each test's client log: %s/*-output.txt" % reports)
    return rc


if __name__ == "__main__":
    sys.exit(main())
