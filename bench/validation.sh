#!/usr/bin/env bash
# bench/validation.sh: what validating produced batches costs samsa-broker
# (issue 10, item 1): server CPU seconds per 1M messages for uncompressed,
# lz4 and zstd batches, before and after batch validation, side by side in
# one run.
#
# Three samsa-brokers, all Release builds: "before", built from the commit
# just before the batch-validation merge on main (the first parent of "Merge
# branch 'batch-validation'"); "merge", built from that merge commit (before
# and merge differ by the batch validation alone); "after", this tree (the
# validation and everything merged since). All three run at once, each on a
# temp data dir, and the same load generator (samsa-bench, from this tree)
# produces to each in turn, acks=1 (so no fsync waits are in the figure), the
# order rotating per round and the codecs interleaved, so all see the same
# machine noise. The table gives medians (min-max) of SAMSA_VAL_REPEAT rounds
# and the medians of the per-round ratios merge/before and after/before. Writes bench/results/<timestamp>-validation.md
# with the provenance (bench/provenance.sh) and every raw line. A benchmark,
# not a test: it fails only when something could not run.
#
# Environment (defaults in brackets):
#   SAMSA_VAL_COUNT [1000000]    messages per phase
#   SAMSA_VAL_SIZE [100]         value bytes per message
#   SAMSA_VAL_PARTITIONS [4]
#   SAMSA_VAL_REPEAT [5]         rounds
#   SAMSA_VAL_CODECS ["none lz4 zstd"]
#   SAMSA_VAL_BEFORE []          a git revision for "before"; default: the first parent of
#                                the newest "Merge branch 'batch-validation'" commit
#   SAMSA_VAL_BEFORE_DIR [build-bench-before]  where the "before" and "merge" sources
#                                (detached git worktrees) and their Release builds are kept
#                                between runs: DIR/src, DIR/build, DIR/merge-src, DIR/merge-build
#   SAMSA_BENCH_BUILD [build-bench]  the Release build directory of this tree
#   SAMSA_BENCH_KEEP []          1: keep the temporary directory (data, logs)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
count=${SAMSA_VAL_COUNT:-1000000}
size=${SAMSA_VAL_SIZE:-100}
parts=${SAMSA_VAL_PARTITIONS:-4}
repeat=${SAMSA_VAL_REPEAT:-5}
codecs=${SAMSA_VAL_CODECS:-none lz4 zstd}
build=${SAMSA_BENCH_BUILD:-$root/build-bench}
before_dir=${SAMSA_VAL_BEFORE_DIR:-$root/build-bench-before}
say() { printf '%s\n' "$*" >&2; }

if [[ -n ${SAMSA_VAL_BEFORE:-} ]]; then
    before=$(git -C "$root" rev-parse --verify "$SAMSA_VAL_BEFORE^{commit}")
else
    merge=$(git -C "$root" log --merges --format='%H %s' | awk '/Merge branch .batch-validation./ { print $1; exit }')
    [[ -n $merge ]] || { say "validation.sh: no \"Merge branch 'batch-validation'\" in the history; set SAMSA_VAL_BEFORE"; exit 1; }
    before=$(git -C "$root" rev-parse "$merge^1")
fi
# the merge: the first child of BEFORE on the first-parent line that merged batch-validation
mergerev=${merge:-$(git -C "$root" rev-list --first-parent --reverse --ancestry-path "$before..HEAD" | head -1)}

. "$root/bench/provenance.sh"
provenance_start
stamp=$(date -u +%Y%m%dT%H%M%SZ)
work=$(mktemp -d "${TMPDIR:-/tmp}/samsa-val.XXXXXX")
pids=()
cleanup() {
    local p i
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    [[ -n "${SAMSA_BENCH_KEEP:-}" ]] && say "validation.sh: kept $work" || rm -rf "$work"
}
trap cleanup EXIT
trap 'say "validation.sh: interrupted"; exit 130' INT TERM

# ---- builds -------------------------------------------------------------------
say "== building this tree (Release) in $build"
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release &&
       cmake --build "$build" -j"$(nproc)" --target samsa-broker samsa-bench; } >"$work/build.log" 2>&1; then
    tail -40 "$work/build.log" >&2; exit 1
fi
# builds samsa-broker at REV in DIR/SRC (a detached worktree), DIR/BUILD
build_rev() { # rev src build
    local rev=$1 src=$2 out=$3
    say "== building samsa-broker at $rev (Release) in $out"
    if [[ -d $src ]] && [[ $(git -C "$src" rev-parse HEAD 2>/dev/null) != "$rev" ]]; then
        git -C "$root" worktree remove --force "$src"
    fi
    if [[ ! -d $src ]]; then
        mkdir -p "$(dirname "$src")"
        git -C "$root" worktree add --detach "$src" "$rev" >"$work/worktree.log" 2>&1 ||
            { cat "$work/worktree.log" >&2; exit 1; }
    fi
    if ! { cmake -S "$src" -B "$out" -DCMAKE_BUILD_TYPE=Release &&
           cmake --build "$out" -j"$(nproc)" --target samsa-broker; } >"$work/build-rev.log" 2>&1; then
        tail -40 "$work/build-rev.log" >&2; exit 1
    fi
}
build_rev "$before" "$before_dir/src" "$before_dir/build"
build_rev "$mergerev" "$before_dir/merge-src" "$before_dir/merge-build"
bench=$build/bench/samsa-bench
declare -A bin=([before]=$before_dir/build/src/samsa-broker [merge]=$before_dir/merge-build/src/samsa-broker
                [after]=$build/src/samsa-broker)
targets="before merge after"

# ---- the two brokers ------------------------------------------------------------
declare -A spid saddr
for t in $targets; do
    mkdir -p "$work/data-$t"
    "${bin[$t]}" --override listeners=PLAINTEXT://127.0.0.1:0 --override log.dirs="$work/data-$t" \
        --override num.partitions="$parts" 2>"$work/$t.log" >&2 &
    spid[$t]=$!
    pids+=("${spid[$t]}")
    for i in $(seq 200); do
        line=$(grep -Eo 'listening on [0-9.]+:[0-9]+' "$work/$t.log" | head -1 || true)
        [[ -n $line ]] && break
        kill -0 "${spid[$t]}" 2>/dev/null || break
        sleep 0.05
    done
    [[ -n $line ]] || { say "validation.sh: $t did not start:"; cat "$work/$t.log" >&2; exit 1; }
    saddr[$t]=${line##* }
    say "== $t: pid ${spid[$t]} on ${saddr[$t]}"
done

# ---- load -----------------------------------------------------------------------
results=$work/results.jsonl
: >"$results"
for r in $(seq "$repeat"); do
    say "== round $r of $repeat"
    case $(( r % 3 )) in
        1) order="before merge after" ;;
        2) order="after before merge" ;;
        0) order="merge after before" ;;
    esac
    for c in $codecs; do
        for t in $order; do
            if ! timeout 300 "$bench" -b "${saddr[$t]}" --server-pid "${spid[$t]}" --label "$t" \
                    -n "$count" -s "$size" -p "$parts" -a 1 -z "$c" -t "val-$c" produce \
                    >"$work/phase.out" 2>"$work/phase.err"; then
                say "validation.sh: $t $c failed:"; tail -5 "$work/phase.err" >&2
                printf '{"round":%d,"target":"%s","compression":"%s","failed":true}\n' "$r" "$t" "$c" >>"$results"
                continue
            fi
            grep '^{' "$work/phase.out" | sed "s/^{/{\"round\":$r,/" >>"$results"
            grep '^#' "$work/phase.out" >&2 || true
        done
    done
done
for t in $targets; do
    kill -0 "${spid[$t]}" 2>/dev/null || { say "validation.sh: $t died during the run:"; tail -20 "$work/$t.log" >&2; exit 1; }
done

# ---- report -----------------------------------------------------------------------
mkdir -p "$root/bench/results"
out=$root/bench/results/$stamp-validation.md
R_PROV=$(provenance_lines) R_STAMP=$stamp R_BEFORE=$before R_MERGE=$mergerev R_REPEAT=$repeat R_COUNT=$count \
R_SIZE=$size R_PARTS=$parts R_CODECS=$codecs \
R_CMD="SAMSA_VAL_COUNT=$count SAMSA_VAL_SIZE=$size SAMSA_VAL_PARTITIONS=$parts SAMSA_VAL_REPEAT=$repeat bench/validation.sh" \
python3 - "$results" "$out" <<'EOF'
import json, os, statistics, sys
E = os.environ
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = [r for r in rows if not r.get("failed")]
def vals(t, c, k):
    return [r[k] for r in ok if r["target"] == t and r["compression"] == c and k in r]
def cell(xs, f):
    if not xs:
        return "n/a"
    s = f(statistics.median(xs))
    return s + (" (%s-%s)" % (f(min(xs)), f(max(xs))) if len(xs) > 1 else "")
def ratios(c, k, t="after"):
    out = []
    for rnd in sorted({r["round"] for r in ok}):
        b = [r[k] for r in ok if r["round"] == rnd and r["target"] == "before" and r["compression"] == c and k in r]
        a = [r[k] for r in ok if r["round"] == rnd and r["target"] == t and r["compression"] == c and k in r]
        if a and b and b[0]:
            out.append(a[0] / b[0])
    return out
f3 = lambda v: "%.3f" % v
f2 = lambda v: "%.2f" % v
n0 = lambda v: "{:,.0f}".format(v)
L = ["# batch validation: samsa-broker before and after, " + E["R_STAMP"], ""]
L.append("- command: `%s`" % E["R_CMD"])
L.extend(E["R_PROV"].splitlines())
L.append("- before: samsa-broker built from %s (the first parent of the batch-validation merge); merge: built from %s (the merge: before + batch validation); after: this commit's samsa-broker (the validation and everything merged since); all Release, all three running through the whole run" % (E["R_BEFORE"], E["R_MERGE"]))
L.append("- each phase: produce acks=1, %s messages x %s B values, %s partitions, librdkafka's default batching (samsa-bench); median of %s rounds (min-max in brackets), the order of the three rotating per round, the codecs interleaved; ratios: medians of the per-round ratios"
         % (E["R_COUNT"], E["R_SIZE"], E["R_PARTS"], E["R_REPEAT"]))
L.append("- server CPU: utime+stime of the broker process over the phase (/proc/PID/stat), per 1M messages")
L.append("")
L.append("| batches | server CPU s per 1M msgs: before | merge | after | merge/before | after/before |")
L.append("|---|---:|---:|---:|---:|---:|")
k = "server_cpu_s_per_million"
for c in E["R_CODECS"].split():
    name = "uncompressed" if c == "none" else c
    L.append("| %s | %s | %s | %s | %s | %s |" % (name, cell(vals("before", c, k), f3), cell(vals("merge", c, k), f3),
             cell(vals("after", c, k), f3), cell(ratios(c, k, "merge"), f2), cell(ratios(c, k, "after"), f2)))
L.append("")
L.append("| batches | msgs/s: before | merge | after |")
L.append("|---|---:|---:|---:|")
for c in E["R_CODECS"].split():
    name = "uncompressed" if c == "none" else c
    L.append("| %s | %s | %s | %s |" % (name, cell(vals("before", c, "msgs_per_s"), n0),
             cell(vals("merge", c, "msgs_per_s"), n0), cell(vals("after", c, "msgs_per_s"), n0)))
failed = [r for r in rows if r.get("failed")]
if failed:
    L.append("")
    L.append("%d phases FAILED (listed in the raw lines)" % len(failed))
L.append("")
L.append("Every phase's JSON line:")
L.append("")
L.append("```")
L.extend(json.dumps(r, separators=(",", ":")) for r in rows)
L.append("```")
open(sys.argv[2], "w").write("\n".join(L) + "\n")
print("\n".join(l for l in L if l.startswith(("|", "- ", "#"))))
EOF
say "== written to ${out#$root/}"
