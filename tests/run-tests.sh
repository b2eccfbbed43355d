#!/bin/sh
# Runs every test: the cmocka unit tests (build/tests/test_*), then the bats
# end-to-end tests (tests/e2e/*.bats) against the real binary.  Ends with the
# line "N passed, N failed".
#
#   MDECK_BUILD  build folder holding tests/ (default: build)
#   MDECK        binary the end-to-end tests drive (default: ./mdeck)
#   TESTS        optional filter: only unit tests / bats files matching it
#   MDECK_TEST_TOTALS  a file the counts of earlier passes are added from
#                and the sums written to (make test's sanitizer pass)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
B=${MDECK_BUILD:-build}
export MDECK="${MDECK:-$top/mdeck}"
export MDECK_TOP="$top"
filter=${TESTS:-}
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for t in "$B"/tests/test_*; do
    [ -x "$t" ] || continue
    case "$t" in *"$filter"*) ;; *) continue ;; esac
    printf '== %s\n' "$(basename "$t")"
    (cd "$top" && "$t") >"$log" 2>&1
    rc=$?
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1   # crashed before cmocka could count
    fi
    if [ "$f" -ne 0 ]; then cat "$log"; else grep -E '^\[ +(FAILED|ERROR) ' "$log"; fi
    printf '   %s passed, %s failed\n' "$p" "$f"
    passed=$((passed + p))
    failed=$((failed + f))
done

if command -v bats >/dev/null 2>&1; then
    for f in tests/e2e/*.bats; do
        [ -f "$f" ] || continue
        case "$f" in *"$filter"*) ;; *) continue ;; esac
        printf '== %s\n' "$(basename "$f")"
        bats --tap "$f" >"$log" 2>&1
        p=$(grep -c '^ok ' "$log")
        n=$(grep -c '^not ok ' "$log")
        if [ "$n" -ne 0 ]; then cat "$log"; fi
        if ! grep -q '^1\.\.' "$log"; then cat "$log"; n=$((n + 1)); fi
        printf '   %s passed, %s failed\n' "$p" "$n"
        passed=$((passed + p))
        failed=$((failed + n))
    done
else
    echo "bats is not installed: run packaging/install-deps.sh" >&2
    failed=$((failed + 1))
fi

# Several passes (make test with the sanitizer pass) add up in one file:
# the last line then counts every pass so far.
if [ -n "${MDECK_TEST_TOTALS:-}" ]; then
    if [ -s "$MDECK_TEST_TOTALS" ]; then
        read -r p0 f0 <"$MDECK_TEST_TOTALS"
        echo "this pass ($B): $passed passed, $failed failed; with the earlier passes:"
        passed=$((passed + p0))
        failed=$((failed + f0))
    fi
    echo "$passed $failed" >"$MDECK_TEST_TOTALS"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
