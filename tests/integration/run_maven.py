"""Runs a Maven project's tests for ctest (java.samsa_test, java.spring_example).

    run_maven.py --pom DIR --build DIR [--out NAME] [--install DIR]... [-- MAVEN ARGS...]

Each --install DIR (a Maven project, e.g. clients/java/samsa-test) is first
built and installed into the local repository without its tests, then DIR
of --pom runs `mvn verify` with the MAVEN ARGS (the samsa binaries as
-Dsamsa.broker=..., -Dsamsa.relay=..., ...). Every project builds into
BUILD/<its directory name> (the property samsa.build.dir), never into the
source tree (BUILD/NAME for the --pom project with --out NAME). Maven fetches what the pinned POMs name from Maven Central
into ~/.m2 on first use (an empty ~/.m2 works).

Exit: Maven's code; 77 (skipped, with the reason) only when mvn or java is
missing (scripts/deps.sh test installs both).
"""

import os
import shutil
import subprocess
import sys

SKIP = 77


def main(argv):
    pom, build, name, installs, extra = None, None, None, [], []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            extra = argv[i + 1:]
            break
        if a in ("--pom", "--build", "--out", "--install") and i + 1 < len(argv):
            v = argv[i + 1]
            if a == "--pom":
                pom = v
            elif a == "--out":
                name = v
            elif a == "--build":
                build = v
            else:
                installs.append(v)
            i += 2
            continue
        print("usage: run_maven.py --pom DIR --build DIR [--out NAME] [--install DIR]... [-- MAVEN ARGS...]",
              file=sys.stderr)
        return 2
    if not pom or not build:
        print("run_maven.py: --pom and --build are required", file=sys.stderr)
        return 2
    for tool in ("mvn", "java"):
        if not shutil.which(tool):
            print("SKIP: no %s on PATH (scripts/deps.sh test installs maven and openjdk-17-jdk-headless)" % tool,
                  flush=True)
            return SKIP
    mvn = [shutil.which("mvn"), "-B", "-ntp"]
    for d in installs:
        out = os.path.join(build, os.path.basename(os.path.normpath(d)))
        cmd = mvn + ["-q", "-f", os.path.join(d, "pom.xml"), "-Dsamsa.build.dir=" + out, "-DskipTests", "install"]
        print("run_maven: " + " ".join(cmd), flush=True)
        rc = subprocess.call(cmd)
        if rc:
            print("FAIL: installing %s failed (exit %d)" % (d, rc), flush=True)
            return rc
    out = os.path.join(build, name or os.path.basename(os.path.normpath(pom)))
    cmd = mvn + ["-f", os.path.join(pom, "pom.xml"), "-Dsamsa.build.dir=" + out] + extra + ["verify"]
    print("run_maven: " + " ".join(cmd), flush=True)
    rc = subprocess.call(cmd)
    print("run_maven: mvn verify exit %d (reports in %s/surefire-reports)" % (rc, out), flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
