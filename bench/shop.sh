#!/usr/bin/env bash
# bench/shop.sh: the main job under load, measured. Builds a Release tree,
# then SAMSA_SHOP_REPEAT times: starts samsa-shop --free-ports on a fresh temp
# data dir (the whole main job: broker, six services, three relays, SQLite),
# runs shop-load against it, stops it by pid. Writes the medians (min-max) of
# shop-load's figures, its verbatim output of every round and the provenance
# (bench/provenance.sh) to bench/results/<timestamp>-shop.md. A benchmark,
# not a test: it fails only when something could not run or the books did
# not balance.
#
# Environment (defaults in brackets):
#   SAMSA_SHOP_ORDERS [10000]        shop-load --orders
#   SAMSA_SHOP_RESERVATIONS [1000]   shop-load --reservations
#   SAMSA_SHOP_CONCURRENCY [16]      shop-load --concurrency
#   SAMSA_SHOP_REPEAT [3]            rounds, each on a fresh main job
#   SAMSA_BENCH_BUILD [build-bench]  the Release build directory
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${SAMSA_BENCH_BUILD:-$root/build-bench}
. "$root/bench/provenance.sh"
provenance_start

echo "== building a Release tree in $build" >&2
log=$(mktemp)
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release &&
       cmake --build "$build" -j"$(nproc)"; } >"$log" 2>&1; then
    tail -40 "$log" >&2; rm -f "$log"; exit 1
fi
rm -f "$log"

stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$root/bench/results"
out=$root/bench/results/$stamp-shop.md
cmdline=""
for v in $(env | grep -o '^SAMSA_SHOP_[A-Z_]*' | sort); do
    cmdline="$cmdline$v=${!v} "
done
export PROV_COMMIT PROV_DIRTY PROV_LOAD_BEFORE SHOP_ROOT=$root
export SHOP_BIN_DIR=$build/examples/shop SHOP_OUT=$out SHOP_STAMP=$stamp \
    SHOP_CMD="${cmdline}bench/shop.sh"
/usr/bin/python3 - <<'PY'
import os, re, shutil, signal, statistics, subprocess, sys, tempfile, time

E = os.environ
orders = int(E.get("SAMSA_SHOP_ORDERS", "10000"))
reservations = int(E.get("SAMSA_SHOP_RESERVATIONS", "1000"))
concurrency = int(E.get("SAMSA_SHOP_CONCURRENCY", "16"))
repeat = int(E.get("SAMSA_SHOP_REPEAT", "3"))
bindir = E["SHOP_BIN_DIR"]
ROW = re.compile(r"^  (samsa-broker|shop-[a-z]+)\s+(\S+)\s+([0-9]+)\s")


def pdeath():
    import ctypes
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM, 0, 0, 0)
    os.setpgid(0, 0)


def one_round(n):
    d = tempfile.mkdtemp(prefix="samsa-shop-bench-")
    outp = os.path.join(d, "samsa-shop.out")
    with open(outp, "wb") as f:
        job = subprocess.Popen([os.path.join(bindir, "samsa-shop"), "--data", os.path.join(d, "data"),
                                "--free-ports"], stdout=f, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, preexec_fn=pdeath)
    try:
        deadline = time.monotonic() + 120
        text = ""
        while "Ctrl-C stops everything" not in text:
            if job.poll() is not None or time.monotonic() > deadline:
                sys.exit("shop.sh: samsa-shop did not come up:\n" + text)
            time.sleep(0.1)
            text = open(outp, encoding="utf-8", errors="replace").read()
        rows = {m.group(1): m.group(2) for m in map(ROW.match, text.splitlines()) if m}
        args = [os.path.join(bindir, "shop-load"), "--orders", str(orders), "--reservations",
                str(reservations), "--concurrency", str(concurrency), "--brokers", rows["samsa-broker"]]
        for svc in ("orders", "stock", "sink", "receiver", "reservations", "rooms"):
            args += ["--%s-url" % svc, rows["shop-" + svc]]
        print("== round %d of %d: shop-load --orders %d --reservations %d" % (n, repeat, orders, reservations),
              file=sys.stderr, flush=True)
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        sys.stderr.write(r.stdout)
        if r.returncode != 0:
            sys.exit("shop.sh: shop-load exited %d (books not balanced or a service down)" % r.returncode)
        return r.stdout
    finally:
        job.send_signal(signal.SIGTERM)
        try:
            job.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
        shutil.rmtree(d, ignore_errors=True)


FIGS = [
    ("HTTP requests/s during the traffic", r"throughput: (\d+) HTTP requests/s", "%d"),
    ("events end to end (events/s, published to consumed)", r"\((\d+) events/s end to end\)", "%d"),
    ("orders -> shop-stock p50 (ms)", r"orders -> shop-stock\s+p50 (\d+) ms", "%d"),
    ("orders -> shop-stock p99 (ms)", r"orders -> shop-stock\s+p50 \d+ ms, p99 (\d+) ms", "%d"),
    ("payments -> shop-sink -> receiver p50 (ms)", r"payments -> shop-sink -> receiver\s+p50 (\d+) ms", "%d"),
    ("payments -> shop-sink -> receiver p99 (ms)", r"payments -> shop-sink -> receiver\s+p50 \d+ ms, p99 (\d+) ms", "%d"),
    ("reservation -> rooms -> result p50 (ms)", r"reservation -> rooms -> result\s+p50 (\d+) ms", "%d"),
    ("reservation -> rooms -> result p99 (ms)", r"reservation -> rooms -> result\s+p50 \d+ ms, p99 (\d+) ms", "%d"),
    ("settled after the traffic (s)", r"settled ([0-9.]+) s after", "%.1f"),
]
outs = [one_round(n) for n in range(1, repeat + 1)]
lines = ["# main job benchmark %s" % E["SHOP_STAMP"], "", "- command: `%s`" % E["SHOP_CMD"]]
prov = subprocess.run(["bash", "-c", '. "$SHOP_ROOT/bench/provenance.sh" && provenance_lines'],
                      stdout=subprocess.PIPE, text=True, check=True).stdout
lines += prov.splitlines()
lines += ["- the Release main job (samsa-shop --free-ports, SQLite, samsa-broker) started fresh for each of "
          "%d rounds; shop-load --orders %d --reservations %d --concurrency %d; median (min-max)"
          % (repeat, orders, reservations, concurrency), "",
          "| figure | median (min-max) |", "|---|---|"]
for label, rx, f in FIGS:
    xs = []
    for o in outs:
        m = re.search(rx, o)
        if m:
            xs.append(float(m.group(1)))
    if xs:
        cell = f % statistics.median(xs) + (" (%s-%s)" % (f % min(xs), f % max(xs)) if len(xs) > 1 else "")
    else:
        cell = "n/a"
    lines.append("| %s | %s |" % (label, cell))
balanced = sum(1 for o in outs if "books balanced: yes" in o)
lines.append("| books balanced | %d of %d rounds |" % (balanced, len(outs)))
for i, o in enumerate(outs, 1):
    lines += ["", "shop-load's output, round %d:" % i, "", "```"] + o.rstrip("\n").splitlines() + ["```"]
open(E["SHOP_OUT"], "w").write("\n".join(lines) + "\n")
print("\n".join(l for l in lines if l.startswith("|") or l.startswith("- ")))
PY
echo "results: bench/results/$stamp-shop.md" >&2
