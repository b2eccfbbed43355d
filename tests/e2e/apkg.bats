#!/usr/bin/env bats
# The Anki package end to end: a deck folder built by the real binary,
# checked by the independent reader (tests/tools/apkg_check.py), listed by
# `mdeck inspect`, rebuilt byte-identically, kept intact by failed builds.
#
# $MDECK is the binary, $MDECK_TOP the repository (tests/run-tests.sh sets
# both).

setup() {
    : "${MDECK:?set MDECK to the mdeck binary}"
    : "${MDECK_TOP:?set MDECK_TOP to the repository}"
    T=$(mktemp -d "${TMPDIR:-/tmp}/mdeck-e2e-apkg.XXXXXX")
    CHECK="$MDECK_TOP/tests/tools/apkg_check.py"
    export MDECK_NOW=1790000000
    mkdir -p "$T/mydeck"
    cat >"$T/mydeck/index.md" <<'EOF'
# My Deck

A small deck about attention.

- [What is attention?](https://example.com/attention)
- [Why divide by sqrt(d)?](https://example.com/sqrt)
- [What does softmax do?](https://example.com/softmax)

## Sub

- [What is a transformer?](https://example.com/transformer)
EOF
}

teardown() {
    rm -rf "$T"
}

build() {
    run "$MDECK" build -q -o "$T/out" "$T/mydeck"
}

# inspect_json EXPR: evaluates the Python expression EXPR over the output of
# `mdeck inspect --json` (bound to j) and prints the result.
inspect_json() {
    "$MDECK" inspect --json "$T/out/mydeck.apkg" |
        python3 -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

@test "apkg: a built deck passes the independent checker" {
    build
    [ "$status" -eq 0 ]
    [ -f "$T/out/mydeck.apkg" ]
    run python3 "$CHECK" "$T/out/mydeck.apkg"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"4 notes, 4 cards, 3 decks"* ]]
}

@test "apkg: inspect lists every question, the decks and the note type" {
    build
    [ "$status" -eq 0 ]
    run "$MDECK" inspect "$T/out/mydeck.apkg"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"What is attention?"* ]]
    [[ "$output" == *"Why divide by sqrt(d)?"* ]]
    [[ "$output" == *"What does softmax do?"* ]]
    [[ "$output" == *"What is a transformer?"* ]]
    [[ "$output" == *"My Deck::Sub"* ]]
    [[ "$output" == *"mdeck Basic"* ]]
    [[ "$output" == *"Default"* ]]
}

@test "apkg: inspect --json gives the same content as JSON" {
    build
    [ "$status" -eq 0 ]
    [ "$(inspect_json 'len(j["notes"])')" = 4 ]
    [ "$(inspect_json 'sorted(d["name"] for d in j["decks"])')" = \
      "['Default', 'My Deck', 'My Deck::Sub']" ]
    [ "$(inspect_json '[n["deck"] for n in j["notes"] if "transformer" in n["first_field"]]')" = \
      "['My Deck::Sub']" ]
    [ "$(inspect_json 'j["note_types"][0]["fields"]')" = "['Question', 'Answer', 'Source']" ]
    # study order = index order
    [ "$(inspect_json 'j["notes"][0]["first_field"]')" = "What is attention?" ]
    # options may come after the file too
    run "$MDECK" inspect "$T/out/mydeck.apkg" --json
    [ "$status" -eq 0 ]
    [[ "$output" == "{"* ]]
}

@test "apkg: a rebuild of unchanged sources gives identical bytes, even later" {
    build
    [ "$status" -eq 0 ]
    cp "$T/out/mydeck.apkg" "$T/first.apkg"
    export MDECK_NOW=1790086400
    build
    [ "$status" -eq 0 ]
    cmp "$T/first.apkg" "$T/out/mydeck.apkg"
}

@test "apkg: an added question is new; the others keep their modification time" {
    build
    [ "$status" -eq 0 ]
    export MDECK_NOW=1790001000
    printf -- '- [What is a residual connection?](https://example.com/res)\n' >>"$T/mydeck/index.md"
    build
    [ "$status" -eq 0 ]
    python3 "$CHECK" -q "$T/out/mydeck.apkg"
    [ "$(inspect_json 'len(j["notes"])')" = 5 ]
    [ "$(inspect_json 'sorted(n["mod"] for n in j["notes"])')" = \
      "[1790000000, 1790000000, 1790000000, 1790000000, 1790001000]" ]
    [ "$(inspect_json '[n["mod"] for n in j["notes"] if "residual" in n["first_field"]]')" = \
      "[1790001000]" ]
}

@test "apkg: a deleted question stays, tagged mdeck::removed, then goes" {
    build
    [ "$status" -eq 0 ]
    export MDECK_NOW=1790001000
    grep -v softmax "$T/mydeck/index.md" >"$T/index.new"
    mv "$T/index.new" "$T/mydeck/index.md"
    build
    [ "$status" -eq 0 ]
    python3 "$CHECK" -q "$T/out/mydeck.apkg"
    [ "$(inspect_json '[n["tags"] for n in j["notes"] if "softmax" in n["first_field"]]')" = \
      "[['mdeck::removed']]" ]
    [ "$(inspect_json 'sum("mdeck::removed" in n["tags"] for n in j["notes"])')" = 1 ]
    # 31 days later it is dropped from the package
    export MDECK_NOW=$((1790001000 + 31 * 86400))
    build
    [ "$status" -eq 0 ]
    [ "$(inspect_json 'len(j["notes"])')" = 3 ]
    run "$MDECK" inspect "$T/out/mydeck.apkg"
    [[ "$output" != *softmax* ]]
}

@test "apkg: a failed build (invalid UTF-8 in the index) keeps the previous package" {
    build
    [ "$status" -eq 0 ]
    cp "$T/out/mydeck.apkg" "$T/first.apkg"
    printf -- '- [Broken \377\376 question](https://example.com/x)\n' >>"$T/mydeck/index.md"
    build
    echo "$output"
    [ "$status" -ne 0 ]
    cmp "$T/first.apkg" "$T/out/mydeck.apkg"
    python3 "$CHECK" -q "$T/out/mydeck.apkg"
}

@test "apkg: an unwritable output folder fails and changes nothing" {
    build
    [ "$status" -eq 0 ]
    cp "$T/out/mydeck.apkg" "$T/first.apkg"
    printf -- '- [A new question?](https://example.com/new)\n' >>"$T/mydeck/index.md"
    # A file where the output folder should be: nothing can be written there
    # (chmod does not stop root).
    printf 'not a folder\n' >"$T/blocked"
    run "$MDECK" build -q -o "$T/blocked" "$T/mydeck"
    echo "$output"
    [ "$status" -ne 0 ]
    [ "$(cat "$T/blocked")" = "not a folder" ]
    cmp "$T/first.apkg" "$T/out/mydeck.apkg"
    # and under it, as a sub-path
    run "$MDECK" build -q -o "$T/blocked/out" "$T/mydeck"
    [ "$status" -ne 0 ]
    cmp "$T/first.apkg" "$T/out/mydeck.apkg"
}

@test "apkg: inspect usage errors exit 2, unreadable packages exit 1" {
    run "$MDECK" inspect
    [ "$status" -eq 2 ]
    run "$MDECK" inspect a.apkg b.apkg
    [ "$status" -eq 2 ]
    run "$MDECK" inspect --bogus a.apkg
    [ "$status" -eq 2 ]
    run "$MDECK" inspect "$T/missing.apkg"
    [ "$status" -eq 1 ]
    [[ "$output" == *"missing.apkg"* ]]
    printf 'not a zip' >"$T/bad.apkg"
    run "$MDECK" inspect "$T/bad.apkg"
    [ "$status" -eq 1 ]
    [[ "$output" == *"bad.apkg"* ]]
    run "$MDECK" inspect --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"usage: mdeck inspect"* ]]
}
