#!/usr/bin/env bash
# bench/java_startup.sh: @EmbeddedSamsa against @EmbeddedKafka, in one run.
#
# What a Spring/JUnit team waits for: a test class that needs a broker, from
# the moment JUnit starts executing it to the first record it has produced
# and consumed back; and what the test JVM (and, for samsa, the broker
# process beside it) holds in memory at that moment. The two variants
# (bench/java-startup: SamsaStartupTest on clients/java/samsa-test,
# KafkaStartupTest on spring-kafka-test's @EmbeddedKafka, Apache Kafka KRaft in
# the JVM) alternate run by run, each run a fresh JVM (Surefire fork), so both
# see the same machine noise. Writes bench/results/<timestamp>-java-startup.md
# with its provenance (bench/provenance.sh). A benchmark, not a test.
#
# Environment (defaults in brackets):
#   SAMSA_BENCH_RUNS [5]            runs of each variant; the table shows the median
#   SAMSA_BENCH_BUILD [build-bench] the Release build directory (samsa-broker)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${SAMSA_BENCH_RUNS:-5}
build=${SAMSA_BENCH_BUILD:-$root/build-bench}
work=$(mktemp -d "${TMPDIR:-/tmp}/samsa-java-startup.XXXXXX")
trap 'rm -rf "$work"' EXIT
say() { printf '%s\n' "$*" >&2; }
command -v mvn >/dev/null || { say "java_startup.sh: no Maven (mvn)"; exit 1; }

. "$root/bench/provenance.sh"
provenance_start
say "== building samsa-broker (Release) in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$work/cmake.log" 2>&1 &&
    cmake --build "$build" -j"$(nproc)" --target samsa-broker >>"$work/cmake.log" 2>&1 ||
    { tail -40 "$work/cmake.log" >&2; exit 1; }
broker=$build/src/samsa-broker

mvn_q() { mvn -B -q -Dsamsa.build.dir="$work/$1" "${@:2}"; }
say "== installing clients/java/samsa-test, compiling bench/java-startup"
mvn_q samsa-test -f "$root/clients/java/samsa-test/pom.xml" -DskipTests install >"$work/mvn.log" 2>&1 ||
    { tail -40 "$work/mvn.log" >&2; exit 1; }
mvn_q bench -f "$root/bench/java-startup/pom.xml" test-compile >>"$work/mvn.log" 2>&1 ||
    { tail -40 "$work/mvn.log" >&2; exit 1; }

results=$work/results.jsonl
: >"$results"
run_one() { # test class
    say "   $1"
    if ! mvn_q bench -o -f "$root/bench/java-startup/pom.xml" surefire:test -Dtest="$1" \
            -Dsamsa.broker="$broker" -Dbench.out="$results" >"$work/run.log" 2>&1; then
        say "java_startup.sh: $1 failed:"; tail -30 "$work/run.log" >&2
        exit 1
    fi
}
for i in $(seq "$runs"); do
    say "== round $i of $runs"
    if (( i % 2 )); then run_one SamsaStartupTest; run_one KafkaStartupTest
    else run_one KafkaStartupTest; run_one SamsaStartupTest; fi
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$root/bench/results"
out=$root/bench/results/$stamp-java-startup.md
java_v=$(java -version 2>&1 | head -1)
R_PROV=$(provenance_lines) R_STAMP=$stamp R_RUNS=$runs R_JAVA=$java_v python3 - "$results" "$out" <<'PY'
import json, os, statistics, sys
E = os.environ
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
T = ("embedded-samsa", "embedded-kafka")
def vals(t, k): return [r[k] for r in rows if r["target"] == t]
def med(t, k):
    v = vals(t, k)
    return statistics.median(v) if v else None
L = ["# @EmbeddedSamsa against @EmbeddedKafka, " + E["R_STAMP"], "",
     "- command: `SAMSA_BENCH_RUNS=%s bench/java_startup.sh`" % E["R_RUNS"]]
L += E["R_PROV"].splitlines()
L += ["- %s; each run a fresh test JVM (Surefire fork), the two variants alternating; median of %s runs (min-max in brackets)" % (E["R_JAVA"], E["R_RUNS"]),
      "- the step timed: one record produced (acks=all, idempotent) and consumed back from the start of partition 0, from JUnit's test-plan start (before any class extension or condition runs)",
      "- @EmbeddedSamsa: clients/java/samsa-test runs the samsa-broker binary (Release) as a process of its own; @EmbeddedKafka: spring-kafka-test, Apache Kafka in KRaft mode inside the test JVM", "",
      "| figure | @EmbeddedSamsa | @EmbeddedKafka | samsa/kafka |", "|---|---:|---:|---:|"]
def row(label, k, f):
    cells = []
    for t in T:
        v = vals(t, k)
        cells.append("n/a" if not v else "%s (%s-%s)" % (f(med(t, k)), f(min(v)), f(max(v))) if len(v) > 1 else f(v[0]))
    a, b = med(T[0], k), med(T[1], k)
    L.append("| %s | %s | %s | %s |" % (label, cells[0], cells[1], "%.2f" % (a / b) if a and b else "n/a"))
f0 = lambda v: "{:,.0f}".format(v)
f1 = lambda v: "%.1f" % v
row("test-plan start to first record consumed (ms)", "plan_to_first_record_ms", f0)
row("JVM start to first record consumed (ms)", "jvm_to_first_record_ms", f0)
row("test JVM heap used at that moment (MB)", "heap_used_mb", f1)
row("test JVM RSS (MB)", "jvm_rss_mb", f1)
row("test JVM RSS peak (VmHWM, MB)", "jvm_hwm_mb", f1)
row("broker process RSS (MB; @EmbeddedKafka's broker is in the JVM)", "broker_rss_mb", f1)
for t in T:
    tot = [r["jvm_rss_mb"] + r["broker_rss_mb"] for r in rows if r["target"] == t]
    for r, s in zip([r for r in rows if r["target"] == t], tot):
        r["total_rss_mb"] = round(s, 1)
row("memory in all (test JVM RSS + broker RSS, MB)", "total_rss_mb", f1)
L += ["", "Every run's JSON line:", "", "```"] + [json.dumps(r, separators=(",", ":")) for r in rows] + ["```"]
open(sys.argv[2], "w").write("\n".join(L) + "\n")
print("\n".join(l for l in L if l.startswith("|") or l.startswith("- ")))
PY
say "== written to ${out#$root/}"
