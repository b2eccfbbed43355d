#!/usr/bin/env bats
# Limits: very large or deeply nested decks either build with memory
# bounded by the deck's size, or fail with a clear message; never a crash,
# never a hang (every build runs under timeout).  The inputs are generated
# on the fly (helpers/gen-hostile.py).  Each test prints its time and peak
# RSS (bats --show-output-of-passing-tests shows them); docs/security.md
# records the measurements.
#
# The bound asserted is generous, twice what was measured or more (the
# closest, the 200 MB index's first build, has 2.2 times):
#     peak RSS <= K x (bytes in the deck folder) + 16 KB x files + 64 MB
# with K = 20 (text is held about 5-10 times over at the peak: the parsed
# deck, the identity records, the SQLite collection and its serialised
# copy, the zip, the CSV and Quizlet texts; it was 15-25 times, and K 40),
# plus 8 KB per subdeck where a test makes many.
#
# Skipped for the AddressSanitizer pass of make test-asan: its shadow
# memory and quarantine make RSS meaningless, and the sanitizers see the
# same code paths in test_index (10 MB index, 10 MB line, 10,000-deep
# nesting), test_render (10,000-deep markdown and HTML) and the fuzz
# regressions.

load helpers
load helpers/hostile

GEN="$MDECK_TOP/tests/e2e/helpers/gen-hostile.py"
K=20

setup() {
    if mdeck_is_sanitized; then
        skip "memory limits are measured on the optimised build (ASan's memory is not the program's)"
    fi
    [ -x /usr/bin/time ] || skip "/usr/bin/time is not installed: run packaging/install-deps.sh"
    make_scratch
    export MDECK_NOW=1790000000
}

teardown() {
    drop_scratch || true # nothing to drop when setup skipped
}

# build_within NAME DECK [LIMIT_SECONDS]: builds DECK into $SCRATCH/out under
# timeout and /usr/bin/time; asserts success and the memory bound (plus
# EXTRA_KB, for costs counted per item rather than per byte).
build_within() {
    local name=$1 deck=$2
    local bytes files
    bytes=$(du -sb "$deck" | cut -f1)
    files=$(find "$deck" -type f | wc -l)
    LIMIT_SECONDS=${3:-300} run_measured "$MDECK" build -q -o "$SCRATCH/out" "$deck"
    [ "$status" -eq 0 ] || { echo "$output" | tail -20; echo "status $status (124/137: timed out)"; false; }
    local secs rss_kb bound_kb
    secs=$(head -n 1 "$SCRATCH/time.out")
    rss_kb=$(peak_rss_kb "$SCRATCH/time.out")
    bound_kb=$(( (K * bytes + 16384 * files) / 1024 + 65536 + ${EXTRA_KB:-0} ))
    printf '# %s: %s bytes in %s files, %s, peak RSS %s MB (%s x input), bound %s MB\n' \
        "$name" "$bytes" "$files" "$secs" $((rss_kb / 1024)) \
        "$(awk -v r="$rss_kb" -v b="$bytes" 'BEGIN { printf "%.1f", r * 1024 / b }')" \
        $((bound_kb / 1024)) >&3
    [ "$rss_kb" -le "$bound_kb" ]
}

@test "limits: a 200 MB index of 500,000 questions, built and rebuilt" {
    python3 "$GEN" big-index "$SCRATCH/big" 500000 200000000
    build_within "200 MB index, 500,000 questions, first build" "$SCRATCH/big"
    [ "$(grep -c '^@@@$' "$SCRATCH/out/big.quizlet.txt")" -eq 499999 ]
    # Again, with mdeck.lock (230 MB of identities) and the previous package
    # to compare with: every note matched, nothing changed.
    build_within "200 MB index, 500,000 questions, rebuild" "$SCRATCH/big"
    "$MDECK" inspect "$SCRATCH/out/big.apkg" | grep -q "Notes (500000, 500000 cards)"
}

@test "limits: a single 10 MB line, in the index and in an answer" {
    python3 "$GEN" long-line "$SCRATCH/line" 10485760
    mkdir -p "$SCRATCH/line/answers"
    { printf '## a short question\n\n'; head -c 10485760 /dev/zero | tr '\0' 'a'; printf '\n'; } \
        >"$SCRATCH/line/answers/long.md"
    build_within "10 MB line in index.md and in an answer" "$SCRATCH/line" 120
    [ "$(stat -c %s "$SCRATCH/out/line.csv")" -gt 20000000 ]
}

@test "limits: lists and block quotes nested 10,000 deep, in the index and in answers" {
    python3 "$GEN" nested "$SCRATCH/nested" 10000
    build_within "lists and quotes nested 10,000 deep" "$SCRATCH/nested" 120
    # The innermost text is kept (nesting past 100 levels is flattened).
    grep -q "deep" "$SCRATCH/out/nested.csv"
    grep -q "quoted" "$SCRATCH/out/nested.csv"
    grep -q "deep quote" "$SCRATCH/out/nested.csv"
}

@test "limits: an answer file of 100 MB (100,000 sections, each with an image)" {
    python3 "$GEN" big-answer "$SCRATCH/bigans" 104857600 100000
    build_within "100 MB answer file, 100,000 sections" "$SCRATCH/bigans"
    [ "$(grep -c '^@@@$' "$SCRATCH/out/bigans.quizlet.txt")" -eq 99999 ]
    ! grep -q "no answer" "$SCRATCH/out/bigans.csv" || false
    "$MDECK" inspect "$SCRATCH/out/bigans.apkg" | grep -q "Media (1)"
}

@test "limits: 100,000 images" {
    python3 "$GEN" images "$SCRATCH/images" 100000
    build_within "100,000 images" "$SCRATCH/images"
    "$MDECK" inspect "$SCRATCH/out/images.apkg" | grep -q "Media (100000"
}

@test "limits: one 1 MB image shown 100,000 times is read once" {
    # It was read and hashed at every use: 10,000 uses took 13 s.
    mkdir -p "$SCRATCH/one/answers" "$SCRATCH/one/img"
    python3 -c '
import random, sys
sys.stdout.buffer.write(random.Random(1).randbytes(1 << 20))' >"$SCRATCH/one/img/big.png"
    python3 -c '
print("# One image\n")
for i in range(1000): print("- Image question %d" % i)' >"$SCRATCH/one/index.md"
    python3 -c '
for i in range(1000): print("## Image question %d\n\n%s\n" % (i, " ".join(["![x](../img/big.png)"] * 100)))' \
        >"$SCRATCH/one/answers/a.md"
    build_within "one 1 MB image shown 100,000 times" "$SCRATCH/one" 60
    "$MDECK" inspect "$SCRATCH/out/one.apkg" | grep -q "Media (1)"
}

@test "limits: 2,000 reworded questions find their identities in seconds" {
    mkdir -p "$SCRATCH/rw"
    for i in $(seq 0 1999); do echo "- What is the role of component number $i in the system"; done >"$SCRATCH/rw/index.md"
    run timeout 60 "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/rw"
    [ "$status" -eq 0 ]
    cp "$SCRATCH/rw/mdeck.lock" "$SCRATCH/lock1"
    sed -i 's/ in the system$/ in the whole system/' "$SCRATCH/rw/index.md"
    # Matching by similarity was cubic: 300 such questions took 40 s.
    build_within "2,000 reworded questions" "$SCRATCH/rw" 60
    python3 - "$SCRATCH/lock1" "$SCRATCH/rw/mdeck.lock" <<'PY'
import json, sys
old = {n["id"]: n["question"] for n in json.load(open(sys.argv[1]))["notes"]}
new = json.load(open(sys.argv[2]))["notes"]
kept = sum(1 for n in new if n["id"] in old and
           old[n["id"]].replace(" in the system", "") == n["question"].replace(" in the whole system", ""))
print("identities kept:", kept)
assert kept >= 1990, kept
PY
}

@test "limits: check of 20,000 numbered questions: one note per question at most, in seconds" {
    python3 "$GEN" big-index "$SCRATCH/many" 20000 1200000
    # Every pair of "Question N" is similar: a note per pair was 200 million.
    LIMIT_SECONDS=120 run_measured "$MDECK" check "$SCRATCH/many"
    [ "$status" -eq 0 ]
    printf '# check, 20,000 similar questions: %s, peak RSS %s MB\n' \
        "$(head -n 1 "$SCRATCH/time.out")" $(($(peak_rss_kb "$SCRATCH/time.out") / 1024)) >&3
    n=$(grep -c "possible duplicate" <<<"$output")
    [ "$n" -gt 0 ] && [ "$n" -lt 20000 ]
}

@test "limits: one question on 100,000 lines, 20,000 tags on one question, 30,000 subdecks" {
    # Each was quadratic: the first took 20 GB and 76 s, the second 3 GB.
    mkdir -p "$SCRATCH/dup" "$SCRATCH/tags" "$SCRATCH/subs"
    python3 -c '
for i in range(100000): print("- [the same question](https://example.com/%d)" % i)' >"$SCRATCH/dup/index.md"
    build_within "one question on 100,000 lines" "$SCRATCH/dup" 60
    [ "$(grep -c '^@@@$' "$SCRATCH/out/dup.quizlet.txt")" -eq 0 ]
    python3 -c 'print("- a question " + "".join("[t%d]" % i for i in range(20000)))' >"$SCRATCH/tags/index.md"
    build_within "20,000 bracket tags on one question" "$SCRATCH/tags" 60
    python3 -c '
for i in range(30000): print("## Sub %d\n\n- question %d\n" % (i, i))' >"$SCRATCH/subs/index.md"
    # A subdeck costs about 5 KB (its deck object in the package).
    EXTRA_KB=$((8 * 30000)) build_within "30,000 subdecks" "$SCRATCH/subs" 60
    "$MDECK" inspect "$SCRATCH/out/subs.apkg" | grep -q "Decks (30002)"
}
