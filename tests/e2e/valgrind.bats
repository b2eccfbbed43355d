#!/usr/bin/env bats
# The shipped deck built under valgrind: no memory error, no definite leak
# (docs/security.md).  The deck is copied first: a build may rewrite its
# mdeck.lock, and the repository's copy must stay as it is.

load helpers
load helpers/hostile

VG=(valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite)

setup() {
    if mdeck_is_sanitized; then
        skip "valgrind cannot run an AddressSanitizer build (make test covers it in the first pass)"
    fi
    command -v valgrind >/dev/null || skip "valgrind is not installed: run packaging/install-deps.sh"
    make_scratch
    cp -R "$MDECK_TOP/decks/aigc-100" "$SCRATCH/aigc-100"
    export MDECK_NOW=1790000000
}

teardown() {
    drop_scratch || true # nothing to drop when setup skipped
}

@test "valgrind: building the shipped deck: no errors, no definite leaks" {
    run "${VG[@]}" "$MDECK" build -o "$SCRATCH/out" "$SCRATCH/aigc-100"
    echo "$output"
    [ "$status" -eq 0 ]
    [ -s "$SCRATCH/out/aigc-100.apkg" ] && [ -s "$SCRATCH/out/aigc-100.csv" ]
    # A second build reads the first package back (the previous-package
    # comparison) and finds every output unchanged.
    run "${VG[@]}" "$MDECK" build -o "$SCRATCH/out" "$SCRATCH/aigc-100"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"apkg unchanged"* ]]
}

@test "valgrind: check --json and inspect of the shipped deck: no errors, no definite leaks" {
    run "${VG[@]}" "$MDECK" check --json "$SCRATCH/aigc-100"
    [ "$status" -eq 0 ] || { echo "$output" | tail -40; false; }
    "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/aigc-100"
    run "${VG[@]}" "$MDECK" inspect --json "$SCRATCH/out/aigc-100.apkg"
    [ "$status" -eq 0 ] || { echo "$output" | tail -40; false; }
}
