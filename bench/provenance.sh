# bench/provenance.sh: sourced by the bench scripts. A results file must say
# where its figures come from: the exact commit, whether the tree had
# uncommitted changes (then the figures are not citeable:
# tests/docs/check_figures.py refuses a dirty results file), the machine and
# the load average around the run.
#   provenance_start     before building: records commit, tree state, load
#   provenance_lines     at the end: prints them as markdown list items
provenance_start() {
    local root
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    PROV_COMMIT=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
    # changed tracked files, and untracked files outside bench/results/ (a new script not yet
    # committed is part of what ran); results files written by an earlier bench do not count
    PROV_DIRTY=$(git -C "$root" status --porcelain --untracked-files=all -- . ':!bench/results' 2>/dev/null | wc -l)
    PROV_LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
}

provenance_lines() {
    local cpu
    cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
    printf -- '- commit: %s\n' "$PROV_COMMIT"
    if [ "$PROV_DIRTY" -eq 0 ]; then
        printf -- '- tree: clean\n'
    else
        printf -- '- tree: dirty (%d changed files; figures not citeable)\n' "$PROV_DIRTY"
    fi
    printf -- '- machine: %s cores, %s, %s GB, Linux %s\n' "$(nproc)" "$cpu" \
        "$(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo)" "$(uname -r)"
    printf -- '- load average (1/5/15 min) before / after: %s / %s\n' "$PROV_LOAD_BEFORE" \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
}
