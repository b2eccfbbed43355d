#!/usr/bin/env bats
# The large-deck path and the benchmark generator (bench/gen-deck.py): a
# generated deck of 10,000 questions builds, the package passes the
# independent checker with every note in it, and a second build gives the
# same bytes, whether the work ran on one thread or on all, and whether the
# answers were kept on the heap or in a temporary file; and bench.py
# itself runs end to end on a small deck.  No timing is asserted here:
# speed is `make bench`'s business (docs/performance.md).

load helpers

setup() {
    make_scratch
    export MDECK_NOW=1790000000
    python3 "$MDECK_TOP/bench/gen-deck.py" --seed 7 10000 "$SCRATCH/big"
}

teardown() {
    drop_scratch
}

@test "bench: the generator is deterministic for a seed" {
    python3 "$MDECK_TOP/bench/gen-deck.py" --seed 7 10000 "$SCRATCH/again"
    run diff -r "$SCRATCH/big" "$SCRATCH/again"
    [ "$status" -eq 0 ]
    [ "$(ls "$SCRATCH/big/answers" | wc -l)" -eq 100 ]
    ls "$SCRATCH/big/images/"*.png >/dev/null
}

@test "bench: a 10,000-question deck builds, checks and rebuilds byte-identically" {
    run "$MDECK" build -q -o "$SCRATCH/out1" "$SCRATCH/big"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    python3 "$MDECK_TOP/tests/tools/apkg_check.py" -q "$SCRATCH/out1/big.apkg"
    n=$("$MDECK" inspect --json "$SCRATCH/out1/big.apkg" |
        python3 -c 'import json,sys; j=json.load(sys.stdin); print(len(j["notes"]), len(j["media"]) > 0)')
    [ "$n" = "10000 True" ]
    [ "$(grep -c '' "$SCRATCH/out1/big.csv")" -gt 10000 ]
    [ "$(grep -c '^@@@$' "$SCRATCH/out1/big.quizlet.txt")" -eq 9999 ]

    # Again from the lock the first build wrote, once on a single thread:
    # the same bytes.
    MDECK_THREADS=1 run "$MDECK" build -q -o "$SCRATCH/out2" "$SCRATCH/big"
    [ "$status" -eq 0 ]
    run "$MDECK" build -q -o "$SCRATCH/out3" "$SCRATCH/big"
    [ "$status" -eq 0 ]
    # The deck's 7.6 MB of answer files make it large: files read twice,
    # answers spilled to a temporary file.  With that threshold out of
    # reach everything stays on the heap, and the bytes are the same.
    MDECK_SPILL_MIN=99999999999 run "$MDECK" build -q -o "$SCRATCH/out4" "$SCRATCH/big"
    [ "$status" -eq 0 ]
    for f in big.apkg big.csv big.quizlet.txt; do
        cmp "$SCRATCH/out1/$f" "$SCRATCH/out2/$f"
        cmp "$SCRATCH/out1/$f" "$SCRATCH/out3/$f"
        cmp "$SCRATCH/out1/$f" "$SCRATCH/out4/$f"
    done

    # In place: nothing changed, nothing is rewritten.
    before=$(stat -c %i:%Y "$SCRATCH/out1/big.apkg")
    run "$MDECK" build -o "$SCRATCH/out1" "$SCRATCH/big"
    [ "$status" -eq 0 ]
    [[ "$output" == *"apkg unchanged csv unchanged quizlet unchanged"* ]]
    [ "$(stat -c %i:%Y "$SCRATCH/out1/big.apkg")" = "$before" ]
}

@test "bench: bench.py runs end to end and prints its tables (no timing checked)" {
    BENCH_CACHE="$SCRATCH/cache" RUNSTAT="$SCRATCH/none" run python3 "$MDECK_TOP/bench/bench.py" \
        --sizes 200 --runs 2 --no-peers --no-watch --mdeck "$MDECK" --out "$SCRATCH/r.md"
    echo "$output"
    [ "$status" -eq 0 ]
    # runstat was compiled into the cache, every scenario has a row with a
    # wall time, a CPU time and a peak memory, and the load line is there
    [ -x "$SCRATCH/cache/runstat" ]
    for k in fresh unchanged "one edit" first; do
        grep -E "^\| 200 \| $k \| [0-9.]+ m?s \| [0-9.]+ m?s \| [0-9.]+ m?s \| [1-9][0-9.]* MB \| [12] \|$" "$SCRATCH/r.md"
    done
    grep -q "^Machine load during the run: other processes [0-9]*% of the CPUs" "$SCRATCH/r.md"
    [ -d "$SCRATCH/cache/decks/q200" ]
    [ ! -e "$MDECK_TOP/bench/cache/decks/q200" ]
}
