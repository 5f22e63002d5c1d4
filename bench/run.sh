#!/usr/bin/env bash
# bench/run.sh: samsa-broker side by side with Apache Kafka and librdkafka's mock
# cluster, in one run.
#
# Builds a Release tree, then for each target (samsa-broker on a temp data dir,
# and the mock cluster in a process of its own, `samsa-bench serve-mock`):
#   start-up time (exec to first accepted TCP connect, median of several runs)
#   idle RSS, then produce acks=1, produce acks=-1 and consume, interleaved
#   phase by phase so that both targets see the same machine noise,
#   then RSS after the run.
# Prints a table of figures and ratios (samsa/mock) and writes it to
# bench/results/<timestamp>.md, with its provenance (bench/provenance.sh);
# commit the results files that docs cite. A benchmark, not a test:
# it fails only when something could not run.
#
# Environment (defaults in brackets):
#   SAMSA_BENCH_COUNT [1000000]  messages per phase
#   SAMSA_BENCH_SIZE [100]       value bytes per message
#   SAMSA_BENCH_PARTITIONS [4]   partitions of each benchmark topic
#   SAMSA_BENCH_REPEAT [3]       runs of each phase; the table shows the median
#   SAMSA_BENCH_STARTUP_RUNS [10]
#   SAMSA_BENCH_CONSUMERS ["1 2"] consume phases to run, by number of consumer instances (threads)
#   SAMSA_BENCH_PHASE_TIMEOUT [300] seconds before a hung phase is killed and counted as failed
#   SAMSA_BENCH_LATENCY_RATE [50000]  also produce 2 s worth at this fixed rate (msgs/s), acks=1
#                                and acks=-1, for latency below saturation; 0 = skip
#   SAMSA_BENCH_ARGS []          more samsa-bench options for every phase, e.g. "-k" or "-z lz4"
#   SAMSA_BENCH_BUILD [build-bench]  the Release build directory
#   SAMSA_BENCH_TARGETS ["samsa mock kafka kafka-flush"]
#                                kafka: Apache Kafka, 1 node, its own defaults (scripts/kafka.sh;
#                                heap and GC options of kafka-server-start.sh); kafka-flush: the same
#                                with log.flush.interval.messages=1 (an fsync per append, as
#                                samsa-broker fsyncs before an acks=-1 answer). Need Java 17 + Maven.
#   SAMSA_BENCH_BROKER_ARGS []   more samsa-broker arguments, e.g. "--override log.segment.bytes=..."
#   SAMSA_BENCH_PERF []          1: after the measured rounds, one more round against samsa-broker
#                                under `perf record`; profiles in bench/results/<timestamp>-perf-*.txt
#   SAMSA_BENCH_KEEP []          1: keep the temporary directory (data, logs)
#   SAMSA_BENCH_BASE []          a git revision: also build samsa-broker at that revision (a
#                                detached worktree in the temp dir, Release) and run it as the
#                                target samsa-base beside samsa, interleaved, with samsa/samsa-base
#                                ratios: a before/after comparison in one run (e.g. a refactor)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
count=${SAMSA_BENCH_COUNT:-1000000}
size=${SAMSA_BENCH_SIZE:-100}
parts=${SAMSA_BENCH_PARTITIONS:-4}
repeat=${SAMSA_BENCH_REPEAT:-3}
startup_runs=${SAMSA_BENCH_STARTUP_RUNS:-10}
lat_rate=${SAMSA_BENCH_LATENCY_RATE:-50000}
consumers=${SAMSA_BENCH_CONSUMERS:-1 2}
phase_timeout=${SAMSA_BENCH_PHASE_TIMEOUT:-300}
extra=${SAMSA_BENCH_ARGS:-}
build=${SAMSA_BENCH_BUILD:-$root/build-bench}
targets=${SAMSA_BENCH_TARGETS:-samsa mock kafka kafka-flush}
# Kafka's own start script's JVM settings (kafka-server-start.sh, kafka-run-class.sh)
export SAMSA_KAFKA_HEAP=${SAMSA_KAFKA_HEAP:--Xmx1G -Xms1G}
export SAMSA_KAFKA_JVM_OPTS=${SAMSA_KAFKA_JVM_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}
kafka_py=$root/tests/compat/kafka_cluster.py
kafka_props() { [[ $1 == kafka-flush ]] && echo "--prop log.flush.interval.messages=1"; true; }
broker_args=${SAMSA_BENCH_BROKER_ARGS:-}
base_rev=${SAMSA_BENCH_BASE:-}

stamp=$(date -u +%Y%m%dT%H%M%SZ)
perf_on=${SAMSA_BENCH_PERF:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/samsa-bench.XXXXXX")
pids=()

# Stops every process this script started, by pid: TERM, then KILL after 5 s.
cleanup() {
    local p i
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    pids=()
    local d
    for d in "$work"/kafka-*/; do
        [[ -d $d ]] && /usr/bin/python3 "$kafka_py" stop --dir "$d" >/dev/null 2>&1
    done
    [[ -d $work/base-src ]] && git -C "$root" worktree remove --force "$work/base-src" >/dev/null 2>&1
    [[ -n "${SAMSA_BENCH_KEEP:-}" ]] && say "run.sh: kept $work" || rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

say() { printf '%s\n' "$*" >&2; }

# ---- build ------------------------------------------------------------------
. "$root/bench/provenance.sh"
provenance_start
say "== building a Release tree in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$work/cmake.log" 2>&1 ||
    { cat "$work/cmake.log" >&2; exit 1; }
cmake --build "$build" -j"$(nproc)" --target samsa-bench >>"$work/cmake.log" 2>&1 ||
    { tail -40 "$work/cmake.log" >&2; exit 1; }
bench=$build/bench/samsa-bench
broker=$build/src/samsa-broker
if [[ " $targets " == *" samsa "* ]]; then
    if ! cmake --build "$build" -j"$(nproc)" --target samsa-broker >"$work/broker-build.log" 2>&1; then
        say "run.sh: samsa-broker does not build; running the mock only. The build said:"
        grep -E 'error|Error' "$work/broker-build.log" | head -20 >&2 || true
        targets=$(echo " $targets " | sed "s/ samsa / /")
    fi
fi
base_broker=
if [[ -n $base_rev ]]; then
    base_sha=$(git -C "$root" rev-parse --verify "$base_rev^{commit}") ||
        { say "run.sh: SAMSA_BENCH_BASE=$base_rev is not a commit"; exit 1; }
    say "== building samsa-broker at $base_rev (${base_sha:0:12}) in $work/base-build"
    git -C "$root" worktree add --detach "$work/base-src" "$base_sha" >"$work/base-build.log" 2>&1 &&
    cmake -S "$work/base-src" -B "$work/base-build" -DCMAKE_BUILD_TYPE=Release >>"$work/base-build.log" 2>&1 &&
    cmake --build "$work/base-build" -j"$(nproc)" --target samsa-broker >>"$work/base-build.log" 2>&1 ||
        { tail -40 "$work/base-build.log" >&2; exit 1; }
    base_broker=$work/base-build/src/samsa-broker
    targets="$targets samsa-base"
fi
if [[ " $targets " == *" kafka"* ]]; then
    if ! /usr/bin/python3 "$kafka_py" libs >"$work/kafka-libs.log" 2>&1; then
        say "run.sh: Apache Kafka cannot run here (Java 17 and Maven needed); running without it:"
        tail -3 "$work/kafka-libs.log" >&2
        targets=$(echo " $targets " | sed 's/ kafka-flush / /; s/ kafka / /')
    fi
fi
[[ -n "${targets// /}" ]] || { say "run.sh: nothing to run"; exit 1; }
all_targets=$targets

# ---- helpers ----------------------------------------------------------------
rss_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo -1; }

# Starts a server in the background; sets srv_pid and srv_addr (host:port).
start_server() {
    local t=$1 log=$work/$1.log i line
    if [[ $t == kafka* ]]; then
        # shellcheck disable=SC2046
        if ! /usr/bin/python3 "$kafka_py" start --dir "$work/$t" --prop num.partitions="$parts" \
                $(kafka_props "$t") >"$log" 2>&1; then
            say "run.sh: $t did not start; its log:"; cat "$log" >&2
            return 1
        fi
        srv_pid=$(sed -n 's/^node 1: pid \([0-9]*\),.*/\1/p' "$log")
        srv_addr=$(sed -n 's/^bootstrap.servers=//p' "$log")
        pids+=("$srv_pid")
        return 0
    fi
    if [[ $t == samsa || $t == samsa-base ]]; then
        local bin=$broker; [[ $t == samsa-base ]] && bin=$base_broker
        mkdir -p "$work/data-$t"
        # shellcheck disable=SC2086
        "$bin" --override listeners=PLAINTEXT://127.0.0.1:0 --override log.dirs="$work/data-$t" \
            --override num.partitions="$parts" $broker_args 2>"$log" >&2 &
    else
        "$bench" serve-mock -p "$parts" --topics bench-acks1,bench-acksall,bench-rate >"$log" 2>&1 &
    fi
    srv_pid=$!
    pids+=("$srv_pid")
    srv_addr=
    for i in $(seq 200); do
        line=$(grep -Eo 'started in [0-9.]+ ms: listening on [0-9.]+:[0-9]+' "$log" | head -1 || true)
        if [[ -n $line ]]; then srv_addr=${line##* }; return 0; fi
        kill -0 "$srv_pid" 2>/dev/null || break
        sleep 0.05
    done
    say "run.sh: $t did not start; its log:"; cat "$log" >&2
    return 1
}

declare -A server_pid server_addr
results=$work/results.jsonl
: >"$results"


# ---- the disk ----------------------------------------------------------------
"$bench" fsync-probe "$work" >"$work/fsync.out" 2>&1 || true
grep '^{' "$work/fsync.out" >>"$results" || true
grep '^#' "$work/fsync.out" >&2 || true

# ---- start-up ---------------------------------------------------------------
startup_of() { # target, runs
    local t=$1 n=$2 bin
    if [[ $t == samsa || $t == samsa-base ]]; then
        bin=$broker; [[ $t == samsa-base ]] && bin=$base_broker
        mkdir -p "$work/startup-data-$t"
        # shellcheck disable=SC2086
        "$bench" startup --label "$t" --runs "$n" -- "$bin" \
            --override "listeners=PLAINTEXT://127.0.0.1:{port}" \
            --override log.dirs="$work/startup-data-$t" $broker_args >"$work/startup.out" 2>"$work/startup-$t.err" ||
            { say "run.sh: $t start-up measurement failed:"; cat "$work/startup-$t.err" >&2; }
    elif [[ $t == kafka* ]]; then
        # a JVM start takes seconds: at most 5 runs
        # shellcheck disable=SC2046
        /usr/bin/python3 "$root/bench/kafka_target.py" startup --label "$t" \
            --runs $(( n < 5 ? n : 5 )) $(kafka_props "$t") \
            >"$work/startup.out" 2>"$work/startup-$t.err" ||
            { say "run.sh: $t start-up measurement failed:"; tail -5 "$work/startup-$t.err" >&2; }
    else
        "$bench" startup --label mock --runs "$n" -- "$bench" serve-mock \
            >"$work/startup.out" 2>"$work/startup-$t.err" || true
    fi
    grep '^{' "$work/startup.out" >>"$results" || true
}
for t in $targets; do
    # samsa and samsa-base alternate run by run below, so both see the same noise
    [[ -n $base_broker && ($t == samsa || $t == samsa-base) ]] && continue
    say "== $t: start-up, $startup_runs runs"
    startup_of "$t" "$startup_runs"
    grep '^#' "$work/startup.out" >&2 || true
done
if [[ -n $base_broker && " $targets " == *" samsa "* ]]; then
    say "== samsa and samsa-base: start-up, $startup_runs runs each, alternating"
    for i in $(seq "$startup_runs"); do
        if (( i % 2 )); then startup_of samsa 1; startup_of samsa-base 1
        else startup_of samsa-base 1; startup_of samsa 1; fi
    done
fi

# ---- servers, idle RSS ------------------------------------------------------
for t in $targets; do
    start_server "$t" || { targets=${targets//$t/}; continue; }
    server_pid[$t]=$srv_pid
    server_addr[$t]=$srv_addr
    say "== $t: pid $srv_pid listening on $srv_addr"
done
sleep 1
for t in $targets; do
    p=${server_pid[$t]}
    printf '{"phase":"idle","target":"%s","rss_kb":%s,"hwm_kb":%s}\n' "$t" \
        "$(rss_kb "$p" VmRSS)" "$(rss_kb "$p" VmHWM)" >>"$results"
done

# ---- load -------------------------------------------------------------------
run_phase() { # target, phase name, samsa-bench arguments...
    local t=$1 name=$2; shift 2
    local more=() n=$count
    [[ $t == mock ]] && more=(--no-create)
    if ! kill -0 "${server_pid[$t]}" 2>/dev/null; then
        say "   $t $name: skipped, $t is not running"
        printf '{"phase":"%s","target":"%s","failed":true}\n' "$name" "$t" >>"$results"
        return 0
    fi
    [[ $name == *-rate ]] && n=$((lat_rate * 2))
    say "   $t $name"
    local perf_pid=
    if [[ -n ${profile:-} ]]; then
        perf record -e cpu-clock -F 1999 -g -p "${server_pid[$t]}" -o "$work/perf-$name.data" \
            >"$work/perf-$name.log" 2>&1 &
        perf_pid=$!
        pids+=("$perf_pid")
        sleep 0.5
    fi
    # shellcheck disable=SC2086
    if ! timeout "$phase_timeout" "$bench" -b "${server_addr[$t]}" --server-pid "${server_pid[$t]}" --label "$t" \
        -n "$n" -s "$size" -p "$parts" $extra "${more[@]}" "$@" \
        >"$work/phase.out" 2>"$work/phase.err"; then
        say "run.sh: $t $name failed:"; tail -5 "$work/phase.err" >&2
        printf '{"phase":"%s","target":"%s","failed":true%s}\n' "$name" "$t" \
            "${profile:+,\"profile\":true}" >>"$results"
        if ! kill -0 "${server_pid[$t]}" 2>/dev/null; then
            wait "${server_pid[$t]}" 2>/dev/null; local rc=$?
            say "run.sh: $t (pid ${server_pid[$t]}) has died, exit status $rc; its log ends:"
            tail -20 "$work/$t.log" >&2
        fi
    fi
    if [[ -n $perf_pid ]]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
        mkdir -p "$root/bench/results"
        perf report -i "$work/perf-$name.data" --stdio --no-children -g none --percent-limit 0.5 \
            --sort dso,symbol 2>/dev/null | grep -v "^$" | head -80 \
            >"$root/bench/results/$stamp-perf-$name.txt" || true
        grep '^#' "$work/phase.out" >&2 || true
        say "   profile: bench/results/$stamp-perf-$name.txt"
        return 0
    fi
    grep '^{' "$work/phase.out" | sed "s/^{/{\"name\":\"$name\",/" >>"$results" || true
    grep '^#' "$work/phase.out" >&2 || true
}

for r in $(seq "$repeat"); do
    say "== round $r of $repeat"
    order=$targets
    (( r % 2 == 0 )) && order=$(echo "$targets" | tr ' ' '\n' | tac | tr '\n' ' ')
    for t in $order; do run_phase "$t" produce-acks1 -a 1 -t bench-acks1 produce; done
    for t in $order; do run_phase "$t" produce-acksall -a -1 -t bench-acksall produce; done
    for c in $consumers; do
        for t in $order; do
            more=(); [[ $t == mock ]] && more=(--wrap)
            run_phase "$t" "consume-c$c" -t bench-acks1 --consumers "$c" "${more[@]}" consume
        done
    done
    if (( lat_rate > 0 )); then
        for t in $order; do
            run_phase "$t" produce-acks1-rate -a 1 -t bench-rate --rate "$lat_rate" produce
        done
        for t in $order; do
            run_phase "$t" produce-acksall-rate -a -1 -t bench-rate --rate "$lat_rate" produce
        done
    fi
done

if [[ $perf_on == 1 && " $targets " == *" samsa "* ]] && command -v perf >/dev/null; then
    say "== profiling round (samsa-broker under perf; not in the figures)"
    profile=1
    run_phase samsa produce-acks1 -a 1 -t bench-acks1 produce
    run_phase samsa produce-acksall -a -1 -t bench-acksall produce
    run_phase samsa consume-c1 -t bench-acks1 consume
    profile=
fi

for t in $targets; do
    p=${server_pid[$t]}
    printf '{"phase":"after","target":"%s","rss_kb":%s,"hwm_kb":%s}\n' "$t" \
        "$(rss_kb "$p" VmRSS)" "$(rss_kb "$p" VmHWM)" >>"$results"
done
du_kb=$(du -sk "$work/data-samsa" 2>/dev/null | cut -f1 || echo 0)
mkdir -p "$root/bench/results"
for t in $all_targets; do
    [[ -f $work/$t.log ]] && cp "$work/$t.log" "$root/bench/results/$stamp-$t.log"
    [[ -f $work/$t/node-1/kafka.log ]] && cp "$work/$t/node-1/kafka.log" "$root/bench/results/$stamp-$t-server.log"
done


# ---- report -----------------------------------------------------------------
mkdir -p "$root/bench/results"
out=$root/bench/results/$stamp.md
prov=$(provenance_lines)
fs=$(df -T "$work" 2>/dev/null | awk 'NR == 2 { print $2 }')
cmdline="SAMSA_BENCH_COUNT=$count SAMSA_BENCH_SIZE=$size SAMSA_BENCH_PARTITIONS=$parts SAMSA_BENCH_REPEAT=$repeat${extra:+ SAMSA_BENCH_ARGS=\"$extra\"}${base_rev:+ SAMSA_BENCH_BASE=$base_rev} SAMSA_BENCH_TARGETS=\"${SAMSA_BENCH_TARGETS:-samsa mock kafka kafka-flush}\" bench/run.sh"
R_TARGETS=$targets R_ALL_TARGETS=$all_targets R_REPEAT=$repeat R_STAMP=$stamp R_CMDLINE=$cmdline \
R_PROV=$prov R_FS=$fs R_COUNT=$count R_SIZE=$size R_PARTS=$parts R_LAT_RATE=$lat_rate \
R_CONSUMERS=$consumers R_DU_KB=$du_kb R_BASE=${base_rev:+$base_rev (${base_sha:0:12})} python3 - "$results" "$out" <<'EOF'
import json, os, statistics, sys
E = os.environ
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
targets = E["R_TARGETS"].split()
all_targets = E["R_ALL_TARGETS"].split()
rows = [r for r in rows if not r.get("profile")]
for r in rows:
    for who in ("client", "server"):
        if who + "_cpu_user_s" in r:
            r.setdefault(who + "_cpu_s", r[who + "_cpu_user_s"] + r[who + "_cpu_sys_s"])
            if r.get("elapsed_s"):
                r[who + "_busy_pct"] = 100 * r[who + "_cpu_s"] / r["elapsed_s"]
def vals(target, name, key):
    return [r[key] for r in rows if r.get("target") == target and r.get("name", r.get("phase")) == name
            and key in r and not r.get("failed")]
def med(target, name, key):
    v = vals(target, name, key)
    return statistics.median(v) if v else None
def failed(target, name):
    return sum(1 for r in rows if r.get("target") == target and r.get("phase") == name and r.get("failed"))
def runs_of(name):
    return 1 if name in ("startup", "idle", "after") else int(E["R_REPEAT"])
def fmt(v, f):
    return "n/a" if v is None else f(v)
lines = []
lines.append("# samsa-broker benchmark, " + E["R_STAMP"])
lines.append("")
lines.append("- command: `%s`" % E["R_CMDLINE"])
lines.extend(E["R_PROV"].splitlines())
lines.append("- data dir on %s; anything else running on the machine skews the figures" % E["R_FS"])
lines.append("- each phase: %s messages x %s B values, %s partitions; median of %s runs (min-max in brackets), the targets interleaved" % (E["R_COUNT"], E["R_SIZE"], E["R_PARTS"], E["R_REPEAT"]))
lines.append("- mock: librdkafka's mock cluster (1 broker) in its own process; it keeps the last 5 MB per partition, so its consume re-reads that")
lines.append("- Apache Kafka: 1 KRaft node (scripts/kafka.sh), its defaults and kafka-server-start.sh's JVM options; with replication factor 1 it answers acks=-1 without an fsync. Kafka, flush each append: the same with log.flush.interval.messages=1, an fsync after every append, like samsa-broker before an acks=-1 answer")
for r in rows:
    if r.get("phase") == "fsync-probe":
        lines.append("- disk under the data dir: write 128 KiB + fdatasync, fdatasync p50 %.2f ms, p99 %.2f ms; %.0f MB/s"
                     % (r["fdatasync_p50_us"] / 1e3, r["fdatasync_p99_us"] / 1e3, r["mb_per_s"]))
lines.append("")
NAMES = {"samsa": "samsa-broker", "mock": "mock cluster", "kafka": "Apache Kafka",
         "kafka-flush": "Kafka, flush each append", "samsa-base": "samsa-broker at " + E.get("R_BASE", "")}
if E.get("R_BASE"):
    lines.insert(-1, "- samsa-base: samsa-broker built from %s (Release), the same options, interleaved with samsa" % E["R_BASE"])
cols = [t for t in ("samsa", "samsa-base", "mock", "kafka", "kafka-flush") if t in all_targets]
others = [t for t in cols if t != "samsa"] if "samsa" in cols else []
lines.append("| figure | " + " | ".join(NAMES[t] for t in cols) + "".join(" | samsa/%s" % t for t in others)
             + " | aim (samsa) |")
lines.append("|---|" + "---:|" * (len(cols) + len(others)) + "---|")
def row(label, name, key, f, aim=None, scale=1.0, better="high"):
    m = {}
    for t in cols:
        v = med(t, name, key)
        m[t] = None if v is None else v * scale
    s = m.get("samsa")
    ratios = ["n/a" if s is None or m[t] is None or m[t] == 0 else "%.2f" % (s / m[t]) for t in others]
    a = ""
    if aim is not None:
        ok = s is not None and (s >= aim[0] if better == "high" else s <= aim[0])
        a = "%s %s" % (aim[1], "met" if ok else ("not met" if s is not None else ""))
    def cell(t, v):
        txt = fmt(v, f)
        xs = [x * scale for x in vals(t, name, key)]
        if len(xs) > 1:
            txt += " (%s-%s)" % (f(min(xs)), f(max(xs)))
        if failed(t, name):
            txt += " (%d of %d runs FAILED)" % (failed(t, name), runs_of(name))
        return txt
    lines.append("| %s | %s | %s |" % (label, " | ".join([cell(t, m[t]) for t in cols] + ratios), a))
n0 = lambda v: "{:,.0f}".format(v)
f1 = lambda v: "%.1f" % v
f2 = lambda v: "%.2f" % v
f3 = lambda v: "%.3f" % v
for name, title, aim in (("produce-acks1", "produce acks=1", (1e6, ">= 1,000,000")),
                         ("produce-acksall", "produce acks=-1", (5e5, ">= 500,000"))):
    row(title + ": msgs/s", name, "msgs_per_s", n0, aim)
    row(title + ": MB/s (values)", name, "mb_per_s", f1)
    row(title + ": latency p50 (ms)", name, "lat_p50_us", f2, scale=1e-3, better="low")
    row(title + ": latency p99 (ms)", name, "lat_p99_us", f2, scale=1e-3, better="low")
    row(title + ": server CPU s per 1M msgs", name, "server_cpu_s_per_million", f3, better="low")
    row(title + ": server CPU busy (% of one core)", name, "server_busy_pct", n0)
    row(title + ": client CPU busy (% of one core)", name, "client_busy_pct", n0)
lat_rate = int(E["R_LAT_RATE"])
if lat_rate > 0:
    for name, title in (("produce-acks1-rate", "produce acks=1"), ("produce-acksall-rate", "produce acks=-1")):
        row(title + " at %d msgs/s: latency p50 (ms)" % lat_rate, name, "lat_p50_us", f2, scale=1e-3, better="low")
        row(title + " at %d msgs/s: latency p99 (ms)" % lat_rate, name, "lat_p99_us", f2, scale=1e-3, better="low")
        row(title + " at %d msgs/s: server CPU s per 1M msgs" % lat_rate, name, "server_cpu_s_per_million", f3, better="low")
for c in E["R_CONSUMERS"].split():
    name, title = "consume-c" + c, "consume, %s consumer%s" % (c, "" if c == "1" else "s")
    row(title + ": msgs/s", name, "msgs_per_s", n0, (2e6, ">= 2,000,000"))
    row(title + ": MB/s (values)", name, "mb_per_s", f1)
    row(title + ": server CPU s per 1M msgs", name, "server_cpu_s_per_million", f3, better="low")
    row(title + ": server CPU busy (% of one core)", name, "server_busy_pct", n0)
    row(title + ": client CPU busy (% of one core)", name, "client_busy_pct", n0)
row("start-up: exec to first accepted connect (ms, median)", "startup", "connect_ms_median", f2, (50, "< 50 ms"), better="low")
row("start-up: self-reported (ms, median)", "startup", "self_reported_ms_median", f2)
row("RSS idle (MB)", "idle", "rss_kb", f1, (16, "< 16 MB"), scale=1/1024, better="low")
row("RSS after the run (MB)", "after", "rss_kb", f1, scale=1/1024)
row("RSS peak (VmHWM, MB)", "after", "hwm_kb", f1, scale=1/1024)
lines.append("")
lines.append("samsa-broker data dir after the run: %.0f MB" % (int(E["R_DU_KB"] or 0) / 1024))
lines.append("")
lines.append("Every phase's JSON line, with user and sys CPU split for client and server, follows.")
lines.append("")
lines.append("```")
lines.extend(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()},
                        separators=(",", ":")) for r in rows)
lines.append("```")
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
print("\n".join(l for l in lines if l.startswith("|") or l.startswith("- ") or l.startswith("#")))
EOF
say "== written to ${out#$root/}"
