#!/usr/bin/env bash
# bench/outbox.sh: the outbox from PostgreSQL commits to a consumer of
# samsa-broker, samsa-relay side by side with a naive relay that polls once
# a second, in one run.
#
# Builds a Release tree, starts a throwaway PostgreSQL (tests/integration/
# pg.py: initdb in a temp dir, fsync and synchronous_commit on, as
# PostgreSQL ships) and a samsa-broker on a temp data dir, then for each
# phase and each relay a fresh database:
#   samsa  samsa-relay (Release, defaults but metrics on a free port)
#   naive  outbox-bench --naive: every 1 s `SELECT ... WHERE id > last
#          ORDER BY id`, produce (acks=all, idempotent), flush, mark PUBLISHED
# and runs bench/outbox-bench.c: W writer threads commit events into
# samsa_outbox (what a transaction is: see --mode in outbox-bench.c), a
# consumer reads the topic; each event's latency is commit-returned ->
# record consumed. Phases:
#   max    writers flat out: events/s delivered end to end (first commit to
#          last record consumed) and the writers' own commit rate
#   paced  writers paced at a fixed rate well below saturation: latency
# Latency is split at the record's CreateTime (when the relay produced it):
# commit -> produced is the relay's capture, produced -> consumed the
# producer, the broker and the consumer.
# Each relay and phase runs SAMSA_OB_REPEAT times (relays interleaved, their
# order alternating per round); the table shows medians with min-max.
# Prints a table with figures and ratios (samsa/naive) and writes it, with
# its provenance (bench/provenance.sh) and every raw line, to
# bench/results/<timestamp>-outbox.md; commit the results files that docs
# cite. A benchmark, not a test: it fails only when something could not run.
#
# Environment (defaults in brackets):
#   SAMSA_OB_EVENTS [200000]   events in the max phase
#   SAMSA_OB_WRITERS [4]       writer threads (one PostgreSQL connection each)
#   SAMSA_OB_BATCH [100]       events per transaction
#   SAMSA_OB_MODE [batch]      batch: one INSERT ... unnest of BATCH rows per transaction;
#                              api: a business-row UPDATE + BATCH samsa_outbox_enqueue_pg calls
#   SAMSA_OB_KEYS [1000]       distinct keys
#   SAMSA_OB_SIZE [100]        payload bytes
#   SAMSA_OB_PARTITIONS [4]
#   SAMSA_OB_RATE [5000]       events/s of the paced phase (10 s of it)
#   SAMSA_OB_PACED_BATCH [10]  events per transaction in the paced phase
#   SAMSA_OB_PHASES ["max paced"]
#   SAMSA_OB_REPEAT [3]        rounds; the table shows medians (min-max)
#   SAMSA_OB_RELAYS ["samsa naive"]  add "before" to run, in the same run, a samsa-relay
#                              built from git revision SAMSA_OB_BEFORE (before/after figures)
#   SAMSA_OB_BEFORE []         a git revision (e.g. a commit before a change) for "before"
#   SAMSA_OB_RELAY_ARGS []     more samsa-relay --override KEY=VALUE arguments
#   SAMSA_OB_PERF []           1: perf record samsa-relay (and the broker, PostgreSQL) in the
#                              max phase; reports in bench/results/<timestamp>-outbox-perf-*.txt
#   SAMSA_BENCH_BUILD [build-bench]  the Release build directory
#   SAMSA_BENCH_KEEP []        1: keep the temporary directory
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${SAMSA_BENCH_BUILD:-$root/build-bench}
say() { printf '%s\n' "$*" >&2; }

# ---- build, then run again under a throwaway PostgreSQL -------------------
if [[ -z ${SAMSA_OB_INNER:-} ]]; then
    . "$root/bench/provenance.sh"
    provenance_start
    export PROV_COMMIT PROV_DIRTY PROV_LOAD_BEFORE
    say "== building a Release tree in $build"
    log=$(mktemp)
    if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release &&
           cmake --build "$build" -j"$(nproc)" --target samsa-broker samsa-relay outbox-bench; } >"$log" 2>&1; then
        tail -40 "$log" >&2; rm -f "$log"; exit 1
    fi
    rm -f "$log"
    if [[ -n ${SAMSA_OB_BEFORE:-} ]]; then
        # the relay of another revision, built the same way, for "before"
        bsrc=$build-before-src
        say "== building samsa-relay of $SAMSA_OB_BEFORE in $build-before"
        rm -rf "$bsrc" && mkdir -p "$bsrc"
        log=$(mktemp)
        if ! { git -C "$root" archive "$SAMSA_OB_BEFORE" | tar -x -C "$bsrc" &&
               cmake -S "$bsrc" -B "$build-before" -DCMAKE_BUILD_TYPE=Release &&
               cmake --build "$build-before" -j"$(nproc)" --target samsa-relay; } >"$log" 2>&1; then
            tail -40 "$log" >&2; rm -f "$log"; exit 1
        fi
        rm -f "$log"
        export SAMSA_OB_BEFORE_REV=$(git -C "$root" rev-parse --short "$SAMSA_OB_BEFORE")
    fi
    export SAMSA_OB_INNER=1 SAMSA_BENCH_BUILD=$build
    exec /usr/bin/python3 "$root/tests/integration/pg.py" run -- "$0" "$@"
fi

events=${SAMSA_OB_EVENTS:-200000}
writers=${SAMSA_OB_WRITERS:-4}
batch=${SAMSA_OB_BATCH:-100}
mode=${SAMSA_OB_MODE:-batch}
keys=${SAMSA_OB_KEYS:-1000}
size=${SAMSA_OB_SIZE:-100}
parts=${SAMSA_OB_PARTITIONS:-4}
rate=${SAMSA_OB_RATE:-5000}
paced_batch=${SAMSA_OB_PACED_BATCH:-10}
phases=${SAMSA_OB_PHASES:-max paced}
repeat=${SAMSA_OB_REPEAT:-3}
relays=${SAMSA_OB_RELAYS:-samsa naive}
relay_args=${SAMSA_OB_RELAY_ARGS:-}
perf_on=${SAMSA_OB_PERF:-}
pg_url=${SAMSA_PG_URL:?pg.py sets SAMSA_PG_URL}
# postgresql://samsa@/samsa?host=SOCKDIR (pg.py: a Unix socket) or .../samsa over TCP:
# another database's URL is pg_base/DB + pg_query
pg_query=${pg_url#"${pg_url%%\?*}"}
pg_base=${pg_url%%\?*}
pg_base=${pg_base%/*}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
work=$(mktemp -d "${TMPDIR:-/tmp}/samsa-outbox-bench.XXXXXX")
chmod 755 "$work"
broker=$build/src/samsa-broker
relay=$build/src/samsa-relay
relay_before=$build-before/src/samsa-relay
bench=$build/bench/outbox-bench
psql=$(ls /usr/lib/postgresql/*/bin/psql | tail -1)
pids=()

cleanup() {
    local p i
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    pids=()
    [[ -n "${SAMSA_BENCH_KEEP:-}" ]] && say "outbox.sh: kept $work" || rm -rf "$work"
}
trap cleanup EXIT
trap 'say "outbox.sh: interrupted"; exit 130' INT TERM

# Waits for a regex in a log file; prints the first match. $3: pid that must stay alive.
wait_line() {
    local file=$1 re=$2 pid=$3 i m
    for i in $(seq 600); do
        m=$(grep -Eo "$re" "$file" 2>/dev/null | head -1 || true)
        [[ -n $m ]] && { printf '%s\n' "$m"; return 0; }
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    say "outbox.sh: no '$re' in $file; it says:"; tail -20 "$file" >&2
    return 1
}

stop_pid() { # pid: TERM, wait, KILL
    local p=$1 i
    kill -TERM "$p" 2>/dev/null || true
    for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    pids=("${pids[@]/$p}")
}

# System-wide, so PostgreSQL's backends (forked per connection) are seen too.
perf_start() {
    [[ -n $perf_on ]] || return 0
    perf record -a -e cpu-clock -F 499 -g -o "$work/perf.data" >"$work/perf.log" 2>&1 &
    perf_pid=$!
    pids+=("$perf_pid")
}

perf_stop() {
    [[ -n $perf_on && -n ${perf_pid:-} ]] || return 0
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    perf_pid=
    mkdir -p "$root/bench/results"
    local f=$root/bench/results/$stamp-outbox-perf.txt
    {
        echo "## CPU by process (system-wide cpu-clock samples during the max phase)"
        perf report -i "$work/perf.data" --stdio --no-children -g none --sort comm 2>/dev/null |
            grep -v '^#' | grep -v '^$' | head -15
        echo "## hottest symbols by process"
        perf report -i "$work/perf.data" --stdio --no-children -g none --percent-limit 0.6 \
            --sort comm,dso,symbol 2>/dev/null | grep -v '^#' | grep -v '^$' | head -60
    } >"$f" || true
    say "   profile: bench/results/$stamp-outbox-perf.txt"
}
perf_pid=

# Samples pg_stat_activity every 5 ms: what each connection of the database
# is doing (the relay's statements by their first words, the writers', idle).
sampler_start() { # url
    [[ -n $perf_on ]] || return 0
    URL=$1 OUT=$work/activity.txt /usr/bin/python3 - <<'PY' &
import os, signal, sys, time, collections
import psycopg2
c = psycopg2.connect(os.environ["URL"]); c.autocommit = True
cur = c.cursor()
me = cur.connection.get_backend_pid()
counts, n = collections.Counter(), 0
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
while not stop:
    cur.execute("SELECT application_name, state, coalesce(wait_event, '-'), left(regexp_replace(query, '\\s+', ' ', 'g'), 48)"
                " FROM pg_stat_activity WHERE datname = current_database() AND pid <> %s", (me,))
    for app, state, wait, query in cur.fetchall():
        app = "relay" if app == "samsa-relay" else "writer"
        counts[(app, state, wait if state == "active" else "-", query if state == "active" else "")] += 1
    n += 1
    time.sleep(0.005)
with open(os.environ["OUT"], "w") as f:
    f.write("## pg_stat_activity, %d samples every 5 ms: share of samples per (connection kind, state, wait event, query)\n" % n)
    for (app, state, wait, q), v in counts.most_common(25):
        f.write("%6.1f%%  %-6s %-20s %-14s %s\n" % (100.0 * v / n, app, state, wait, q))
PY
    sampler_pid=$!
    pids+=("$sampler_pid")
}

sampler_stop() {
    [[ -n $perf_on && -n ${sampler_pid:-} ]] || return 0
    kill -TERM "$sampler_pid" 2>/dev/null || true
    wait "$sampler_pid" 2>/dev/null || true
    sampler_pid=
    cat "$work/activity.txt" >>"$root/bench/results/$stamp-outbox-perf.txt" 2>/dev/null || true
}
sampler_pid=

# ---- the broker -----------------------------------------------------------------
mkdir -p "$work/data"
"$broker" --override listeners=PLAINTEXT://127.0.0.1:0 --override log.dirs="$work/data" \
    --override num.partitions="$parts" 2>"$work/broker.log" >&2 &
broker_pid=$!
pids+=("$broker_pid")
line=$(wait_line "$work/broker.log" 'listening on [0-9.]+:[0-9]+' "$broker_pid")
bootstrap=${line##* }
say "== broker pid $broker_pid on $bootstrap; postgres $pg_url"
say "== $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), $(uname -r)"

results=$work/results.txt
: >"$results"
n_db=0

run_one() { # relay phase
    local r=$1 phase=$2 db url topic ev b rt extra=() relay_pid=
    n_db=$((n_db + 1))
    db=ob_${r}_${phase}_$n_db
    "$psql" -X -q -d "$pg_url" -c "CREATE DATABASE $db" >/dev/null
    url=$pg_base/$db$pg_query
    topic=ob-$r-$phase-$n_db
    if [[ $phase == max ]]; then ev=$events b=$batch rt=0; else ev=$((rate * 10)) b=$paced_batch rt=$rate; fi
    if [[ $r == samsa || $r == before ]]; then
        local bin=$relay
        if [[ $r == before ]]; then
            bin=$relay_before
            [[ -x $bin ]] || { say "outbox.sh: relay 'before' needs SAMSA_OB_BEFORE=<git revision>"; exit 1; }
        fi
        # shellcheck disable=SC2086
        "$bin" --override outbox.db="$url" --override bootstrap.servers="$bootstrap" \
            --override metrics.listen=127.0.0.1:0 $relay_args 2>"$work/relay-$phase.log" >&2 &
        relay_pid=$!
        pids+=("$relay_pid")
        line=$(wait_line "$work/relay-$phase.log" 'metrics on http://[0-9.]+:[0-9]+/metrics' "$relay_pid")
        metrics=${line#metrics on }
        if [[ $phase == max ]]; then perf_start; sampler_start "$url"; fi
    else
        extra=(--naive)
    fi
    say "   $r $phase: $ev events, $writers writers, $b per transaction${rt:+, paced at $rt/s}"
    local cpu0 cpu1
    cpu0=$(awk '/^cpu / {print $2+$3+$4+$5+$6+$7+$8, $5+$6}' /proc/stat)
    if ! "$bench" --db "$url" --bootstrap "$bootstrap" --topic "$topic" --label "$r-$phase" \
        --writers "$writers" --events "$ev" --batch "$b" --mode "$mode" --keys "$keys" \
        --size "$size" --partitions "$parts" --rate "$rt" --timeout 30 "${extra[@]}" \
        >"$work/out" 2>"$work/err"; then
        say "outbox.sh: $r $phase failed:"; tail -5 "$work/err" >&2
    fi
    cpu1=$(awk '/^cpu / {print $2+$3+$4+$5+$6+$7+$8, $5+$6}' /proc/stat)
    # what the database did for it: rows read through samsa_outbox's indexes
    # (claims re-reading rows), updates, dead tuples, vacuums
    "$psql" -X -A -t -F ' ' -d "$url" -c "SELECT 'pg: ' || indexrelname || ' scans ' || idx_scan || ' tuples read ' || idx_tup_read
        FROM pg_stat_user_indexes WHERE relname = 'samsa_outbox' UNION ALL
        SELECT 'pg: samsa_outbox seq scans ' || seq_scan || ' updates ' || n_tup_upd || ' (hot ' || n_tup_hot_upd
        || ') dead ' || n_dead_tup || ' autovacuums ' || autovacuum_count FROM pg_stat_user_tables
        WHERE relname = 'samsa_outbox'" >"$work/pgstat-$r-$phase.txt" 2>&1 || true
    sed "s/^/   $r $phase /" "$work/pgstat-$r-$phase.txt" >&2
    grep '^#' "$work/err" >&2 || true
    local busy
    busy=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { split(a, x, " "); split(b, y, " ");
        t = y[1] - x[1]; i = y[2] - x[2]; printf "%.0f", (t > 0 ? 100 * (t - i) / t : 0) }')
    if [[ -n $relay_pid ]]; then
        if [[ $phase == max ]]; then perf_stop; sampler_stop; fi
        local m
        m=$(curl -s "$metrics" 2>/dev/null || wget -qO- "$metrics" 2>/dev/null || true)
        printf '%s\n' "$m" >"$work/metrics-$phase.txt"
        local rcpu
        rcpu=$(awk '{print $14 + $15}' "/proc/$relay_pid/stat" 2>/dev/null || echo 0)
        stop_pid "$relay_pid"
        printf '%s cpu_busy=%s relay_cpu_s=%.2f\n' "$(cat "$work/out")" "$busy" \
            "$(awk -v t="$rcpu" -v h="$(getconf CLK_TCK)" 'BEGIN {print t / h}')" >>"$results"
    else
        printf '%s cpu_busy=%s relay_cpu_s=-\n' "$(cat "$work/out")" "$busy" >>"$results"
    fi
}

for round in $(seq "$repeat"); do
    say "== round $round of $repeat"
    order=$relays
    (( round % 2 == 0 )) && order=$(echo "$relays" | tr ' ' '\n' | tac | tr '\n' ' ')
    for phase in $phases; do
        for r in $order; do
            run_one "$r" "$phase"
        done
    done
done

# ---- the table --------------------------------------------------------------------
mkdir -p "$root/bench/results"
out=$root/bench/results/$stamp-outbox.md
. "$root/bench/provenance.sh"
cmdline=""
for v in $(env | grep -o '^SAMSA_OB_[A-Z_]*' | grep -v '^SAMSA_OB_INNER$\|^SAMSA_OB_BEFORE_REV$' | sort); do
    cmdline="$cmdline$v=${!v} "
done
RESULTS=$results STAMP=$stamp CMD="${cmdline}bench/outbox.sh" MODE=$mode WRITERS=$writers \
    BEFORE=${SAMSA_OB_BEFORE_REV:-} REPEAT=$repeat PROV="$(provenance_lines)" \
    /usr/bin/python3 - >"$out" <<'PY'
import os, statistics
E = os.environ
rows = []
for line in open(E["RESULTS"]):
    rows.append(dict(kv.split("=", 1) for kv in line.split()))
labels = []
for r in rows:
    if r["label"] not in labels:
        labels.append(r["label"])
def runs(label):
    return [r for r in rows if r["label"] == label]
def num(v):
    try:
        return float(v)
    except ValueError:
        return None
def med(label, k):
    xs = [num(r.get(k, "-")) for r in runs(label)]
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
def cell(label, k, f):
    xs = [num(r.get(k, "-")) for r in runs(label)]
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    t = f(statistics.median(xs))
    if len(xs) > 1:
        t += " (%s-%s)" % (f(min(xs)), f(max(xs)))
    return t
n0 = lambda v: "{:,.0f}".format(v)
f1 = lambda v: "%.1f" % v
f2 = lambda v: "%.2f" % v
print("# outbox benchmark %s" % E["STAMP"])
print()
print("- command: `%s`" % E["CMD"])
print(E["PROV"])
print("- mode %s, %s writers%s; median of %s rounds (min-max in brackets), relays interleaved"
      % (E["MODE"], E["WRITERS"], ", before = samsa-relay at " + E["BEFORE"] if E.get("BEFORE") else "",
         E["REPEAT"]))
print()
print("| phase | relay | events | per txn | commit rate (ev/s) | delivered (ev/s, commit→consumed) "
      "| p50 ms | p99 ms | commit→produced p99 ms | produced→consumed p99 ms | lost | dups | CPU busy % | relay CPU s |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for label in labels:
    rel, ph = label.split("-", 1)
    r0 = runs(label)[0]
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        ph, rel, r0["events"], r0["batch"], cell(label, "commit_rate", n0), cell(label, "e2e_rate", n0),
        cell(label, "p50_ms", f1), cell(label, "p99_ms", f1), cell(label, "capture_p99_ms", f1),
        cell(label, "deliver_p99_ms", f1), cell(label, "lost", n0), cell(label, "dups", n0),
        cell(label, "cpu_busy", n0), cell(label, "relay_cpu_s", f2)))
print()
for ph in ("max", "paced"):
    for other in ("naive", "before"):
        s, n = "samsa-" + ph, other + "-" + ph
        if s not in labels or n not in labels:
            continue
        def ratio(k):
            a, b = med(s, k), med(n, k)
            return "%.2f" % (a / b) if a is not None and b else "-"
        print("%s: samsa/%s (medians): delivered ev/s x%s, p50 x%s, p99 x%s" % (
            ph, other, ratio("e2e_rate"), ratio("p50_ms"), ratio("p99_ms")))
print()
print("Every run's raw line:")
print()
print("```")
for r in rows:
    print(" ".join("%s=%s" % kv for kv in r.items()))
print("```")
PY
cat "$out"
for f in "$work"/metrics-*.txt; do
    [[ -f $f ]] || continue
    say "-- samsa-relay metrics after $(basename "$f" .txt | sed 's/metrics-//'):"
    grep -E '^samsa_relay_(published_total|retries_total|claims_total|producer_restarts_total|publish_latency_seconds_(sum|count))|^samsa_outbox_rows' "$f" >&2 || true
done
say "results: bench/results/$stamp-outbox.md"
