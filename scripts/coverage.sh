#!/usr/bin/env bash
# scripts/coverage.sh (make coverage): line and function coverage of src/ by
# the whole suite (unit, integration, fuzz replay, shop).
#
# Builds build-cov/ with gcov instrumentation (-O0, no sanitizers), zeroes the
# counters, runs every ctest test there (a test's processes that exit normally,
# SIGTERM included, write their counts; so do those the harness kills with
# kill -9: SIGUSR2 first, see tests/coverage/dump_on_signal.c),
# then lcov collects src/ only. Prints the total and the 15 least-covered
# files; writes build-cov/coverage.txt (every file) and an HTML report in
# build-cov/coverage-html/. Exits with ctest's status: coverage from a failing
# suite is reported but not trusted.
#
# Also writes bench/results/<UTC time>-coverage.md (bench/provenance.sh's
# commit, tree state, machine and load; ctest's verdict; the total; the 15
# least-covered files as markdown rows): docs/testing.md quotes that file.
#
# Environment: SAMSA_COV_BUILD [build-cov], JOBS [nproc], SAMSA_COV_CTEST_ARGS
# (more ctest arguments, e.g. "-L unit" for a quick look).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${SAMSA_COV_BUILD:-$root/build-cov}
jobs=${JOBS:-$(nproc)}

command -v lcov >/dev/null || { echo "coverage: lcov is missing (scripts/deps.sh test installs it)" >&2; exit 1; }
. "$root/bench/provenance.sh"
provenance_start
started=$(date -u +%Y%m%dT%H%M%SZ)

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DSAMSA_COVERAGE=ON >/dev/null
cmake --build "$build" -j"$jobs" >/dev/null
lcov --quiet --zerocounters --directory "$build"
if [ -d "$root/tests/integration/js" ] && [ ! -d "$root/tests/integration/js/node_modules" ]; then
    (cd "$root/tests/integration/js" && npm ci --no-audit --no-fund --loglevel=error)
fi

rc=0
# shellcheck disable=SC2086
# SAMSA_COVERAGE_KILL: the harness's kill -9 lets a process write its counts
# first (tests/coverage/dump_on_signal.c), so a crash test's coverage counts
(cd "$build" && SAMSA_COVERAGE_KILL=1 ctest -j"$jobs" --timeout 900 --output-on-failure ${SAMSA_COV_CTEST_ARGS:-} >"$build/coverage-ctest.log" 2>&1) || rc=$?
tail -n 4 "$build/coverage-ctest.log" | sed 's/^/ctest: /'

lcov --quiet --capture --directory "$build" --output-file "$build/all.info" --rc lcov_branch_coverage=0 2>/dev/null
lcov --quiet --extract "$build/all.info" "$root/src/*" --output-file "$build/src.info"
genhtml --quiet "$build/src.info" --output-directory "$build/coverage-html" >/dev/null 2>&1 || true

# per file: lines hit / lines found, from the tracefile
python3 - "$build/src.info" "$root" >"$build/coverage.txt" <<'PY'
import os, sys
root = sys.argv[2].rstrip("/") + "/"
files, cur = [], None
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("SF:"):
        cur = {"file": line[3:].replace(root, ""), "lf": 0, "lh": 0, "fnf": 0, "fnh": 0}
    elif line.startswith(("LF:", "LH:", "FNF:", "FNH:")) and cur is not None:
        k, v = line.split(":", 1)
        cur[k.lower()] = int(v)
    elif line == "end_of_record" and cur is not None:
        files.append(cur)
        cur = None
lf = sum(f["lf"] for f in files); lh = sum(f["lh"] for f in files)
fnf = sum(f["fnf"] for f in files); fnh = sum(f["fnh"] for f in files)
print("src/ total: lines %.1f%% (%d of %d), functions %.1f%% (%d of %d), %d files"
      % (100.0 * lh / max(lf, 1), lh, lf, 100.0 * fnh / max(fnf, 1), fnh, fnf, len(files)))
print()
print("%-40s %8s %8s %8s" % ("file (least covered first)", "lines %", "missed", "lines"))
for f in sorted(files, key=lambda f: (f["lh"] / max(f["lf"], 1), -f["lf"])):
    print("%-40s %7.1f%% %8d %8d" % (f["file"], 100.0 * f["lh"] / max(f["lf"], 1), f["lf"] - f["lh"], f["lf"]))
PY
head -n 18 "$build/coverage.txt"

results="$root/bench/results/$started-coverage.md"
mkdir -p "$root/bench/results"
{
    printf '# make coverage (scripts/coverage.sh)\n\n'
    provenance_lines
    printf -- '- ctest: %s (exit %d)%s\n' "$(grep -m1 'tests passed' "$build/coverage-ctest.log" || echo 'no summary')" \
        "$rc" "${SAMSA_COV_CTEST_ARGS:+, ctest arguments: $SAMSA_COV_CTEST_ARGS}"
    printf '\n%s\n\nThe 15 least-covered files:\n\n' "$(head -n 1 "$build/coverage.txt")"
    printf '| file | lines | missed of |\n|---|---:|---:|\n'
    sed -n '4,18p' "$build/coverage.txt" | awk '{printf "| `%s` | %s | %d of %d |\n", $1, $2, $3, $4}'
} >"$results"
echo "coverage: results in ${results#$root/}"
echo "coverage: every file in ${build#$root/}/coverage.txt, HTML in ${build#$root/}/coverage-html/index.html"
exit $rc
