#!/usr/bin/env bash
# tests/soak/kill_loop.sh: the long crash loop, not part of `make test`.
#
#   tests/soak/kill_loop.sh [kill|power]
#
# kill  (default) tests/integration/test_kill_loop.py: samsa-broker SIGKILLed
#       SAMSA_SOAK_CYCLES times under acks=all producers (idempotent and not)
#       and offset commits, restarted each time, everything checked
#       (crash_load.py: every acknowledged record at its offset, no gap, no
#       duplicate, order kept, no offset reused, commits kept).
# power tests/powerloss/test_power_loss.py: the same with log.dirs on lossyfs
#       and a power cut (everything not fsynced discarded) at every kill.
#
# Builds a RelWithDebInfo tree (no sanitizers: this is about the disk), runs
# the loop with a paced load (SAMSA_SOAK_RATE records/s per producer, so a
# long run stays a few hundred MB) and a failed cycle counted instead of
# ending the run, and writes bench/results/<stamp>-<mode>-loop.md: the
# totals (cycles, acknowledged, lost, duplicated, offsets reused), the seed,
# every cycle's line, and the provenance (bench/provenance.sh). Commit the
# script first: a results file measured on a dirty tree cannot be cited.
# Exits 1 when a cycle failed or anything acknowledged was lost.
#
# Environment (defaults in brackets):
#   SAMSA_SOAK_CYCLES [150 kill, 100 power]   cycles
#   SAMSA_SOAK_RATE [4000]                    records/s per producer
#   SAMSA_TEST_SEED                           replay a seed
#   SAMSA_SOAK_BUILD [build-soak]             the build directory
set -euo pipefail

mode=${1:-kill}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${SAMSA_SOAK_BUILD:-$root/build-soak}
rate=${SAMSA_SOAK_RATE:-4000}
case "$mode" in
    kill) cycles=${SAMSA_SOAK_CYCLES:-150} ;;
    power) cycles=${SAMSA_SOAK_CYCLES:-100} ;;
    *) echo "usage: tests/soak/kill_loop.sh [kill|power]" >&2; exit 2 ;;
esac
. "$root/bench/provenance.sh"
provenance_start

echo "== building $build (RelWithDebInfo)" >&2
log=$(mktemp)
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
       cmake --build "$build" -j"$(nproc)"; } >"$log" 2>&1; then
    tail -40 "$log" >&2; rm -f "$log"; exit 1
fi
rm -f "$log"

seed=${SAMSA_TEST_SEED:-$(( $(date +%s%N) % 1000000007 ))}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$root/bench/results"
out=$root/bench/results/$stamp-$mode-loop.md
raw=$root/bench/results/$stamp-$mode-loop.log      # the whole output (not committed)
args=(--broker "$build/src/samsa-broker" --cycles "$cycles" --rate "$rate" --keep-going)
if [ "$mode" = kill ]; then
    prog=tests/integration/test_kill_loop.py
else
    prog=tests/powerloss/test_power_loss.py
    args+=(--lossyfs "$build/tests/powerloss/lossyfs")
fi
echo "== $prog ${args[*]} (seed $seed); output in $raw" >&2
t0=$(date +%s)
set +e
SAMSA_TEST_SEED=$seed /usr/bin/python3 "$root/$prog" "${args[@]}" >"$raw" 2>&1
rc=$?
set -e
secs=$(( $(date +%s) - t0 ))

totals=$(grep -m1 '^TOTALS ' "$raw" || true)
if [ -z "$totals" ]; then
    tail -60 "$raw" >&2
    echo "soak: no TOTALS line: the run ended early (exit $rc); see $raw" >&2
    exit 1
fi
field() { printf '%s\n' "$totals" | sed -n "s/.* $1 \([0-9.]*\).*/\1/p"; }
verdict=$( [ $rc -eq 0 ] && echo "passed" || echo "FAILED (exit $rc)" )
what=$( [ "$mode" = kill ] && echo "kill -9" || echo "kill -9 + power cut (lossyfs)" )
{
    printf '# %s loop: %s cycles\n\n' "$what" "$(field cycles)"
    printf 'Command: `SAMSA_TEST_SEED=%s SAMSA_SOAK_CYCLES=%s SAMSA_SOAK_RATE=%s tests/soak/kill_loop.sh %s` (%s, %s s in all)\n\n' \
        "$seed" "$cycles" "$rate" "$mode" "$verdict" "$secs"
    printf 'Each cycle: two confluent-kafka producers, acks=all, one idempotent and one without retries, '
    printf 'at most %s records/s each, and a committer (OffsetCommit, raw frames); at a random moment ' "$rate"
    printf 'samsa-broker gets SIGKILL%s and restarts on what is left; then every acknowledged record ' \
        "$( [ "$mode" = power ] && echo ' and lossyfs discards everything not fsynced' )"
    printf 'is looked for at its offset, sequence numbers must strictly increase per partition, no offset may be '
    printf 'acknowledged twice, and each committed offset must be the last acknowledged or a later attempt.\n\n'
    printf '| mode | cycles | failed cycles | acknowledged | lost | duplicated | offsets reused | commits acknowledged |\n'
    printf '|---|---|---|---|---|---|---|---|\n'
    printf '| %s | %s | %s | %s (%s plain, %s idempotent) | %s | %s | %s | %s |\n' "$mode" \
        "$(field cycles)" "$(field failed_cycles)" "$(field acked)" "$(field acked_plain)" "$(field acked_idempotent)" \
        "$(field lost)" "$(field duplicated)" "$(field offsets_reused)" "$(field commits_acked)"
    printf '\n'
    provenance_lines
    printf '\nThe totals line and every cycle'"'"'s lines, verbatim:\n\n```\n'
    grep -E '^TOTALS |^  cycle [0-9]+: |^CYCLE FAILED|^seed ' "$raw" | grep -v '  ok: '
    printf '```\n'
} >"$out"
echo "soak: wrote $out" >&2
cat "$out" | sed -n '1,12p' >&2
[ $rc -eq 0 ] && [ "$(field failed_cycles)" = 0 ] && [ "$(field lost)" = 0 ]
