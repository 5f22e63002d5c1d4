#!/usr/bin/env bash
# Mutation tests: each tests/mutants/<name>.patch breaks one promise on
# purpose; the tests it names must fail against the broken build. A mutant
# whose tests still pass has "survived": the suite does not guard that
# promise, and this script exits 1.
#
#   tests/mutants/run.sh                 every mutant
#   tests/mutants/run.sh --ci            the mutants marked "ci: yes"
#   tests/mutants/run.sh NAME...         those mutants (file names without .patch)
#   tests/mutants/run.sh --list          what there is, without running anything
#   tests/mutants/run.sh --check BUILD   without building: every patch applies to the
#                                        checkout and every test it names exists in the
#                                        build tree BUILD (ctest mutants.apply runs it)
#
# How: the working tree (tracked and untracked files, not ignored ones) is
# copied to a scratch directory and built there like build-test (Debug,
# ASan + UBSan). The tests every selected mutant names are run once on that
# unmutated build (they must pass, or no kill means anything); then for each
# mutant: apply the patch, build incrementally, run its tests with ctest
# (stop at the first failure), record killed/survived, revert the patch.
# The checkout itself is never modified.
#
# A mutant file is a header, then a unified diff (git diff format, applied
# with `git apply`, so a mutant whose context no longer matches the code is
# reported as stale instead of silently applying somewhere else):
#
#   mutant: acks=all answered before the fsync
#   tests: integration.durable_order integration.idempotence   (ctest names)
#   ci: yes                                                    (optional)
#   <blank line, free text if wanted>
#   diff --git a/src/... b/src/...
#
# Environment: SAMSA_MUTANT_DIR (scratch directory; default a new temp dir,
# removed at the end unless SAMSA_KEEP_TMP=1), JOBS.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
jobs=${JOBS:-$(nproc)}

ci=0
list=0
check=""
names=()
want_build=0
for a in "$@"; do
    if [ $want_build -eq 1 ]; then
        check=$a
        want_build=0
        continue
    fi
    case "$a" in
        --ci) ci=1 ;;
        --list) list=1 ;;
        --check) want_build=1 ;;
        -h|--help) sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "mutants: unknown option $a" >&2; exit 2 ;;
        *) names+=("${a%.patch}") ;;
    esac
done

field() {   # field FILE NAME: the value of a "NAME: value" header line
    sed -n "/^diff --git /q; s/^$2:[[:space:]]*//p" "$1" | head -n 1
}

selected=()
if [ ${#names[@]} -gt 0 ]; then
    for n in "${names[@]}"; do
        [ -f "$here/$n.patch" ] || { echo "mutants: no mutant $n ($here/$n.patch)" >&2; exit 2; }
        selected+=("$here/$n.patch")
    done
else
    for f in "$here"/*.patch; do
        [ -e "$f" ] || continue
        if [ $ci -eq 1 ] && [ "$(field "$f" ci)" != yes ]; then
            continue
        fi
        selected+=("$f")
    done
fi
if [ ${#selected[@]} -eq 0 ]; then
    echo "mutants: no mutant selected" >&2
    exit 2
fi

for f in "${selected[@]}"; do
    for k in mutant tests; do
        if [ -z "$(field "$f" $k)" ]; then
            echo "mutants: $(basename "$f") has no \"$k:\" line" >&2
            exit 2
        fi
    done
done

if [ $want_build -eq 1 ]; then
    echo "mutants: --check needs the build tree whose tests the mutants name" >&2
    exit 2
fi
if [ -n "$check" ]; then
    # a stale patch or a renamed test would only show in a full `make mutants`
    bad=0
    for f in "${selected[@]}"; do
        if ! (cd "$root" && git apply --check "$f" 2>/dev/null); then
            echo "STALE  $(basename "$f" .patch): the patch does not apply to the checkout: refresh it"
            bad=1
        fi
        for t in $(field "$f" tests); do
            r="^$(printf '%s' "$t" | sed 's/[.[\*^$()+?{|]/\\&/g')\$"
            if [ "$(cd "$check" && ctest -N -FA ".*" -R "$r" | sed -n 's/^Total Tests: //p')" != 1 ]; then
                echo "NOTEST $(basename "$f" .patch): no ctest test named $t"
                bad=1
            fi
        done
    done
    echo "mutants: ${#selected[@]} patches checked, $([ $bad -eq 0 ] && echo 'all apply and name tests that exist' || echo 'some do not')"
    exit $bad
fi

if [ $list -eq 1 ]; then
    for f in "${selected[@]}"; do
        printf '%-32s %-4s %s\n    tests: %s\n' "$(basename "$f" .patch)" \
            "$( [ "$(field "$f" ci)" = yes ] && echo ci || echo '')" "$(field "$f" mutant)" "$(field "$f" tests)"
    done
    exit 0
fi

scratch=${SAMSA_MUTANT_DIR:-}
own_scratch=0
if [ -z "$scratch" ]; then
    scratch=$(mktemp -d /tmp/samsa-mutants.XXXXXX)
    own_scratch=1
fi
src="$scratch/src"
build="$scratch/build"
applied=""
cleanup() {
    if [ -n "$applied" ]; then
        (cd "$src" && git apply -R "$applied") || true
    fi
    if [ $own_scratch -eq 1 ] && [ "${SAMSA_KEEP_TMP:-}" != 1 ]; then
        rm -rf "$scratch"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# the working tree as it is, uncommitted changes included
echo "mutants: copying the tree to $src" >&2
mkdir -p "$src"
(cd "$root" && git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' p; do [ -e "$p" ] && printf '%s\0' "$p"; done \
    | tar --null -T - -cf -) | tar -xf - -C "$src"
# the pinned npm packages, when the checkout has them (else the fixture installs them)
if [ -d "$root/tests/integration/js/node_modules" ]; then
    ln -s "$root/tests/integration/js/node_modules" "$src/tests/integration/js/node_modules"
fi

echo "mutants: building in $build" >&2
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DSAMSA_SANITIZE=ON >"$scratch/cmake.log" 2>&1 \
    || { tail -n 30 "$scratch/cmake.log"; echo "mutants: cmake failed" >&2; exit 1; }
cmake --build "$build" -j"$jobs" >"$scratch/build.log" 2>&1 \
    || { tail -n 30 "$scratch/build.log"; echo "mutants: the unmutated tree does not build" >&2; exit 1; }

regex_of() {   # the ctest -R regex matching exactly the names given
    local r=""
    for t in "$@"; do
        r="$r|$(printf '%s' "$t" | sed 's/[.[\*^$()+?{|]/\\&/g')"
    done
    printf '^(%s)$' "${r#|}"
}

count_tests() {   # how many ctest tests match the regex (not counting the fixtures they pull in)
    (cd "$build" && ctest -N -FA '.*' -R "$1" | sed -n 's/^Total Tests: //p')
}

# every test named must exist: a typo would run nothing and "kill" nothing
all_tests=()
for f in "${selected[@]}"; do
    for t in $(field "$f" tests); do
        if [ "$(count_tests "$(regex_of "$t")")" != 1 ]; then
            echo "mutants: $(basename "$f"): no ctest test named $t" >&2
            exit 2
        fi
        case " ${all_tests[*]:-} " in *" $t "*) ;; *) all_tests+=("$t") ;; esac
    done
done

echo "mutants: the tests on the unmutated build: ${all_tests[*]}" >&2
if ! (cd "$build" && ctest -R "$(regex_of "${all_tests[@]}")" --output-on-failure -j"$jobs" \
        >"$scratch/baseline.log" 2>&1); then
    tail -n 60 "$scratch/baseline.log"
    echo "mutants: the tests fail without any mutant; fix that first ($scratch/baseline.log)" >&2
    exit 1
fi
if grep -q "Not Run\|\*\*\*Skipped" "$scratch/baseline.log"; then
    grep "Not Run\|\*\*\*Skipped" "$scratch/baseline.log"
    echo "mutants: a test was skipped on the unmutated build: it could not kill anything" >&2
    exit 1
fi

results=()
bad=0
t_all=$(date +%s)
for f in "${selected[@]}"; do
    name=$(basename "$f" .patch)
    tests=$(field "$f" tests)
    log="$scratch/$name.log"
    t0=$(date +%s)
    # git apply outside a repository works on paths relative to the cwd
    if ! (cd "$src" && git apply --check "$f" 2>"$log"); then
        results+=("$(printf '%-32s STALE     the patch does not apply: refresh it' "$name")")
        bad=1
        continue
    fi
    (cd "$src" && git apply "$f")
    applied="$f"
    if ! cmake --build "$build" -j"$jobs" >>"$log" 2>&1; then
        verdict="BROKEN    the mutant does not build (see $log)"
        bad=1
    elif (cd "$build" && ctest -R "$(regex_of $tests)" --output-on-failure --stop-on-failure >>"$log" 2>&1); then
        if grep -q "\*\*\*Skipped\|Not Run" "$log"; then
            verdict="SURVIVED  a test skipped: $tests"
        else
            verdict="SURVIVED  passed: $tests"
        fi
        bad=1
    else
        failed=$(sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) (.*/\1/p' "$log" | tr '\n' ' ')
        verdict="killed    by ${failed:-$tests}"
    fi
    (cd "$src" && git apply -R "$f")
    applied=""
    results+=("$(printf '%-32s %s (%ds)' "$name" "$verdict" $(( $(date +%s) - t0 )))")
    echo "mutants: ${results[-1]}" >&2
done
# leave the scratch build unmutated (a kept SAMSA_MUTANT_DIR is reused)
cmake --build "$build" -j"$jobs" >/dev/null 2>&1 || true

echo
echo "mutant                           verdict"
printf '%s\n' "${results[@]}"
echo "$(printf '%s\n' "${results[@]}" | grep -c ' killed ') of ${#results[@]} killed in $(( $(date +%s) - t_all )) s"
exit $bad
