#!/usr/bin/env bash
# bench/notify.sh: what waking the relay costs the writers on PostgreSQL.
#
# NOTIFY serializes the commits of all notifying transactions, so the outbox
# trigger (samsa_outbox_wake, src/outbox/schema.c) notifies only while a
# relay waits. This measures single-row insert transactions into
# samsa_outbox with pgbench (SAMSA_NOTIFY_CLIENTS clients, SAMSA_NOTIFY_SECONDS
# each) under four triggers, interleaved, SAMSA_NOTIFY_REPEAT rounds:
#   none      no trigger at all
#   plain     a trigger that notifies on every insert statement
#   samsa     samsa's trigger, no relay waiting (the shared try succeeds)
#   waiting   samsa's trigger while a relay waits (the wake lock held
#             exclusively by another session, so every insert notifies)
# on a throwaway PostgreSQL (tests/integration/pg.py: fsync and
# synchronous_commit on, as PostgreSQL ships), the schema applied by
# `samsa-relay --init-schema`. Writes bench/results/<timestamp>-notify.md with
# the provenance (bench/provenance.sh) and every pgbench result line.
#
# Environment (defaults in brackets):
#   SAMSA_NOTIFY_CLIENTS [16]  SAMSA_NOTIFY_SECONDS [10]  SAMSA_NOTIFY_REPEAT [3]
#   SAMSA_BENCH_BUILD [build-bench]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${SAMSA_BENCH_BUILD:-$root/build-bench}

if [[ -z ${SAMSA_NOTIFY_INNER:-} ]]; then
    . "$root/bench/provenance.sh"
    provenance_start
    export PROV_COMMIT PROV_DIRTY PROV_LOAD_BEFORE
    echo "== building samsa-relay (Release) in $build" >&2
    log=$(mktemp)
    if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release &&
           cmake --build "$build" -j"$(nproc)" --target samsa-relay; } >"$log" 2>&1; then
        tail -40 "$log" >&2; rm -f "$log"; exit 1
    fi
    rm -f "$log"
    export SAMSA_NOTIFY_INNER=1 SAMSA_BENCH_BUILD=$build
    exec /usr/bin/python3 "$root/tests/integration/pg.py" run -- "$0" "$@"
fi

clients=${SAMSA_NOTIFY_CLIENTS:-16}
seconds=${SAMSA_NOTIFY_SECONDS:-10}
repeat=${SAMSA_NOTIFY_REPEAT:-3}
url=${SAMSA_PG_URL:?pg.py sets SAMSA_PG_URL}
bindir=$(dirname "$(ls /usr/lib/postgresql/*/bin/pgbench | tail -1)")
psql() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -d "$url" "$@"; }
work=$(mktemp -d "${TMPDIR:-/tmp}/samsa-notify.XXXXXX")
holder=
cleanup() {
    [[ -n $holder ]] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

"$build/src/samsa-relay" --override outbox.db="$url" --override bootstrap.servers=127.0.0.1:1 \
    --init-schema >"$work/init.log" 2>&1 || { cat "$work/init.log" >&2; exit 1; }
# the wake lock's key, as the schema's trigger names it
lockargs=$(psql -A -t -c "SELECT substring(prosrc from 'pg_try_advisory_xact_lock_shared\(([0-9]+, *[0-9]+)\)')
                          FROM pg_proc WHERE proname = 'samsa_outbox_wake'")
[[ -n $lockargs ]] || { echo "notify.sh: cannot find the wake lock in samsa_outbox_wake()" >&2; exit 1; }
samsa_fn=$(psql -A -t -c "SELECT pg_get_functiondef('samsa_outbox_wake'::regproc)")
printf 'INSERT INTO samsa_outbox (topic, key, payload) VALUES (%s, %s, %s);\n' \
    "'bench'" "'k' || (random() * 1000)::int" "'\\x00'::bytea" >"$work/insert.sql"

set_trigger() {
    psql -c "DROP TRIGGER IF EXISTS samsa_outbox_wake ON samsa_outbox" >/dev/null
    case $1 in
        none) ;;
        plain)
            psql -c "CREATE OR REPLACE FUNCTION bench_plain_notify() RETURNS trigger LANGUAGE plpgsql AS
                     \$f\$ BEGIN PERFORM pg_notify('samsa_outbox', ''); RETURN NULL; END \$f\$;
                     CREATE TRIGGER samsa_outbox_wake AFTER INSERT ON samsa_outbox
                     FOR EACH STATEMENT EXECUTE FUNCTION bench_plain_notify()" >/dev/null ;;
        samsa|waiting)
            psql -c "$samsa_fn" >/dev/null
            psql -c "CREATE TRIGGER samsa_outbox_wake AFTER INSERT ON samsa_outbox
                     FOR EACH STATEMENT EXECUTE FUNCTION samsa_outbox_wake()" >/dev/null ;;
    esac
}

results=$work/results.txt
: >"$results"
for round in $(seq "$repeat"); do
    order="none plain samsa waiting"
    (( round % 2 == 0 )) && order="waiting samsa plain none"
    for v in $order; do
        set_trigger "$v"
        if [[ $v == waiting ]]; then
            # a relay waiting: the wake lock held exclusively by another session
            PGAPPNAME=samsa-notify-holder "$bindir/psql" -X -q -d "$url" \
                -c "SELECT pg_advisory_lock($lockargs), pg_sleep(3600)" >/dev/null 2>&1 &
            holder=$!
            for i in $(seq 100); do
                n=$(psql -A -t -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
                                   AND mode = 'ExclusiveLock'")
                [[ $n == 1 ]] && break
                sleep 0.05
            done
            [[ $n == 1 ]] || { echo "notify.sh: the wake lock was not taken" >&2; exit 1; }
        fi
        psql -c "TRUNCATE samsa_outbox" >/dev/null
        tps=$("$bindir/pgbench" -n -c "$clients" -j 2 -T "$seconds" -f "$work/insert.sql" "$url" 2>"$work/pgbench.err" |
              sed -n 's/^tps = \([0-9.]*\).*/\1/p')
        [[ -n $tps ]] || { cat "$work/pgbench.err" >&2; exit 1; }
        if [[ -n $holder ]]; then
            # killing psql does not end its backend (pg_sleep never looks at the socket): the
            # lock would stay held, and every later "samsa" round would measure a relay waiting
            psql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE application_name = 'samsa-notify-holder'" >/dev/null
            kill "$holder" 2>/dev/null || true  # it may have ended with its backend already
            wait "$holder" 2>/dev/null || true; holder=
            for i in $(seq 100); do
                n=$(psql -A -t -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
                [[ $n == 0 ]] && break
                sleep 0.05
            done
            [[ $n == 0 ]] || { echo "notify.sh: the wake lock is still held after its holder was ended" >&2; exit 1; }
        fi
        echo "round=$round trigger=$v clients=$clients seconds=$seconds tps=$tps" | tee -a "$results" >&2
    done
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$root/bench/results"
out=$root/bench/results/$stamp-notify.md
. "$root/bench/provenance.sh"
cmdline=""
for v in $(env | grep -o '^SAMSA_NOTIFY_[A-Z_]*' | grep -v '^SAMSA_NOTIFY_INNER$' | sort); do
    cmdline="$cmdline$v=${!v} "
done
PROV=$(provenance_lines) CMD="${cmdline}bench/notify.sh" STAMP=$stamp RESULTS=$results \
    /usr/bin/python3 - >"$out" <<'PY'
import os, statistics
E = os.environ
rows = [dict(kv.split("=", 1) for kv in l.split()) for l in open(E["RESULTS"]) if l.strip()]
print("# outbox wake-up trigger benchmark %s" % E["STAMP"])
print()
print("- command: `%s`" % E["CMD"])
print(E["PROV"])
print("- pgbench: %s clients, %s s per run, one INSERT into samsa_outbox per transaction; median (min-max) of %d rounds"
      % (rows[0]["clients"], rows[0]["seconds"], max(int(r["round"]) for r in rows)))
print()
print("| trigger | transactions/s | vs no trigger |")
print("|---|---|---|")
med = {}
for v in ("none", "plain", "samsa", "waiting"):
    xs = [float(r["tps"]) for r in rows if r["trigger"] == v]
    med[v] = statistics.median(xs)
for v, what in (("none", "no trigger"), ("plain", "notify on every insert"),
                ("samsa", "samsa_outbox_wake, no relay waiting"), ("waiting", "samsa_outbox_wake, a relay waiting")):
    xs = [float(r["tps"]) for r in rows if r["trigger"] == v]
    print("| %s | %.0f (%.0f-%.0f) | %.2f |" % (what, med[v], min(xs), max(xs), med[v] / med["none"]))
print()
print("```")
for r in rows:
    print(" ".join("%s=%s" % kv for kv in r.items()))
print("```")
PY
cat "$out"
echo "results: bench/results/$stamp-notify.md" >&2
