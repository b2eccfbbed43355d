# Shared by the hostile-input tests (limits, faults, sources, valgrind).

# 0 when $MDECK is built with AddressSanitizer (make test-asan): memory
# bounds and valgrind do not apply to it.
mdeck_is_sanitized() {
    grep -q -a -m1 __asan_init "$MDECK" 2>/dev/null
}

# peak_rss_kb FILE: the peak RSS /usr/bin/time -f %M wrote as its last line.
peak_rss_kb() {
    tail -n 1 "$1"
}

# Runs "$@" under /usr/bin/time (peak RSS to $SCRATCH/time.out) and a
# timeout of LIMIT_SECONDS (default 300): status, stdout and stderr in
# $status, $output as bats' run gives them.
run_measured() {
    run timeout -s KILL "${LIMIT_SECONDS:-300}" /usr/bin/time -o "$SCRATCH/time.out" \
        -f '%e s
%M' "$@"
}

# tree_sum DIR: one line per file (name, size, sha256), sorted: compares
# output folders byte for byte.
tree_sum() {
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}
