#!/usr/bin/env bash
# tests/fuzz/run_libfuzzer.sh: the fuzz targets under libFuzzer for a bounded
# time each (ctest: fuzz.libfuzzer). The suite's main build is gcc, and
# libFuzzer needs clang, so this configures a build of its own (clang,
# -DSAMSA_FUZZ=ON, ASan + UBSan), builds only the fuzz targets, and runs each
# on its committed corpus (read only) for SECONDS:
#   fuzz_request   every request decoder      tests/fuzz/corpus
#   fuzz_recovery  opening a crashed log      tests/fuzz/corpus-recovery
#
#   run_libfuzzer.sh SRC_DIR BUILD_DIR SECONDS
#
# New inputs that grow coverage go to BUILD_DIR/new-corpus/<target>/ (copy
# them into tests/fuzz/corpus to keep them). A crash, a leak, a sanitizer
# report or a timeout fails the run: libFuzzer writes the input to
# BUILD_DIR/artifacts/<target>/, this script prints its path and bytes
# (reproduce: BUILD_DIR/tests/fuzz/<target> THAT_FILE). Without clang or its
# libFuzzer runtime (scripts/deps.sh test installs clang-14 and
# libclang-rt-14-dev) it exits 77: skipped, never passed.
set -uo pipefail

src=${1:?usage: run_libfuzzer.sh SRC_DIR BUILD_DIR SECONDS}
build=${2:?usage: run_libfuzzer.sh SRC_DIR BUILD_DIR SECONDS}
seconds=${3:?usage: run_libfuzzer.sh SRC_DIR BUILD_DIR SECONDS}
targets=(fuzz_request fuzz_recovery)
corpus_of() { case "$1" in fuzz_request) echo "$src/tests/fuzz/corpus" ;; *) echo "$src/tests/fuzz/corpus-${1#fuzz_}" ;; esac; }

cc=${SAMSA_FUZZ_CC:-}
if [ -z "$cc" ]; then
    for c in clang-14 clang; do
        if command -v "$c" >/dev/null 2>&1; then cc=$(command -v "$c"); break; fi
    done
fi
if [ -z "$cc" ]; then
    echo "SKIP: no clang (libFuzzer needs it; scripts/deps.sh test installs clang-14 and libclang-rt-14-dev)"
    exit 77
fi
mkdir -p "$build"
probe=$build/probe
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >"$probe.c"
if ! "$cc" -fsanitize=fuzzer,address "$probe.c" -o "$probe" >"$probe.log" 2>&1; then
    echo "SKIP: $cc cannot link a libFuzzer target (is libclang-rt-14-dev installed? scripts/deps.sh test installs it):"
    sed 's/^/  | /' "$probe.log"
    exit 77
fi
for t in "${targets[@]}"; do
    c=$(corpus_of "$t")
    [ -d "$c" ] && [ -n "$(ls -A "$c")" ] || { echo "FAIL: no committed corpus for $t in $c"; exit 1; }
done

echo "== configuring $build with $cc (SAMSA_FUZZ=ON, ASan + UBSan)"
if ! cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DSAMSA_FUZZ=ON -DSAMSA_SANITIZE=ON >"$build/cmake.log" 2>&1; then
    tail -n 30 "$build/cmake.log"; echo "FAIL: cmake of the fuzz build failed"; exit 1
fi
echo "== building ${targets[*]}"
if ! cmake --build "$build" --target "${targets[@]}" -j"${JOBS:-$(nproc)}" >"$build/build.log" 2>&1; then
    tail -n 40 "$build/build.log"; echo "FAIL: the fuzz targets do not build"; exit 1
fi

# fuzz_recovery writes its segments under $TMPDIR: a directory of this run's
# own, in memory when /dev/shm is there, removed at the end (a timed
# libFuzzer run may end without the target's atexit handlers)
fuzz_tmp=$(mktemp -d /dev/shm/samsa-fuzz.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$fuzz_tmp"' EXIT
export TMPDIR=$fuzz_tmp
export ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-}${UBSAN_OPTIONS:+:}print_stacktrace=1:halt_on_error=1
rc=0
summary=""
for t in "${targets[@]}"; do
    bin=$build/tests/fuzz/$t
    corpus=$(corpus_of "$t")
    new=$build/new-corpus/$t
    art=$build/artifacts/$t
    mkdir -p "$new" "$art"
    rm -f "$art"/*
    n_in=$(ls "$corpus" | wc -l)
    echo "== $t: ${seconds}s on $n_in committed inputs (new ones to $new)"
    # the first corpus dir gets the new inputs; the committed one is only read
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$art/" "$new" "$corpus" >"$build/$t.log" 2>&1
    trc=$?
    grep -E '^(INFO: seed|#[0-9]+ +(INITED|DONE)|stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb)' \
        "$build/$t.log" | sed "s/^/  $t: /"
    found=$(ls "$art" 2>/dev/null)
    if [ $trc -ne 0 ] || [ -n "$found" ]; then
        rc=1
        summary="${summary}FAIL: $t"$'\n'
        echo "FAIL: $t exited $trc; the end of its log ($build/$t.log):"
        tail -n 60 "$build/$t.log" | sed 's/^/  | /'
        for f in $found; do
            echo "  crashing input kept: $art/$f ($(stat -c %s "$art/$f") bytes; reproduce: $bin $art/$f)"
            od -A d -t x1 "$art/$f" | head -n 16 | sed 's/^/    /'
        done
    else
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/$t.log")
        echo "  ok: $t ran ${execs:-?} inputs in ${seconds}s without a crash, leak, sanitizer report or timeout"
    fi
done
failed=$(grep -c '^FAIL: ' <<<"$summary" || true)
echo "$(( ${#targets[@]} - failed )) passed, $failed failed"

exit $rc
