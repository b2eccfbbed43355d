#!/usr/bin/env bats
# The command line: help, version, exit codes, check and build on real
# folders.

load helpers

setup() { make_scratch; }
teardown() { drop_scratch; }

@test "--help and --version" {
    run "$MDECK" --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"usage: mdeck"* ]]
    run "$MDECK" --version
    [ "$status" -eq 0 ]
    [ "$output" = "mdeck $(cat "$MDECK_TOP/VERSION")" ]
    for c in build check inspect watch; do
        run "$MDECK" help "$c"
        [ "$status" -eq 0 ]
        [[ "$output" == *"usage: mdeck $c"* ]]
        run "$MDECK" "$c" --help
        [ "$status" -eq 0 ]
    done
}

@test "usage errors exit 2 with a message" {
    run "$MDECK"
    [ "$status" -eq 2 ]
    run "$MDECK" frobnicate
    [ "$status" -eq 2 ]
    [[ "$output" == *"no such command"* ]]
    run "$MDECK" build --bogus
    [ "$status" -eq 2 ]
    run "$MDECK" build --format pdf "$SCRATCH"
    [ "$status" -eq 2 ]
    [[ "$output" == *"pdf"* ]]
    run "$MDECK" help nosuch
    [ "$status" -eq 2 ]
}

@test "a missing deck folder or index is a source error naming the path" {
    run "$MDECK" check "$SCRATCH/nope"
    [ "$status" -eq 1 ]
    [[ "$output" == *"$SCRATCH/nope"*"error"* ]]
    mkdir "$SCRATCH/empty"
    run "$MDECK" check "$SCRATCH/empty"
    [ "$status" -eq 1 ]
    [[ "$output" == *"$SCRATCH/empty/index.md: error: cannot read the index"* ]]
}

@test "check reports duplicates, stray lines and unanswered questions with path:line:col" {
    small_deck "$SCRATCH/d"
    printf -- '- [What is attention?](https://example.com/other)\n\nstray\n' >>"$SCRATCH/d/index.md"
    run "$MDECK" check "$SCRATCH/d"
    [ "$status" -eq 0 ]
    [[ "$output" == *"$SCRATCH/d/index.md:12:4: warning: same question as line 5"* ]]
    [[ "$output" == *"$SCRATCH/d/index.md:14:1: warning: paragraph outside the question list"* ]]
    [[ "$output" == *"$SCRATCH/d/index.md:11:3: note: question has no answer yet"* ]]
    [[ "$output" == *"4 questions, 1 unanswered, 0 errors"* ]]
}

@test "check --json is the parsed deck" {
    small_deck "$SCRATCH/d"
    run sh -c "'$MDECK' check --json '$SCRATCH/d' 2>/dev/null"
    [ "$status" -eq 0 ]
    echo "$output" | python3 -c '
import json, sys
j = json.load(sys.stdin)
d = j["decks"][0]
assert d["name"] == "Small deck", d["name"]
assert d["subdecks"] == ["Small deck::Inference"], d["subdecks"]
n = {x["question"]: x for x in d["notes"]}
assert set(n) == {"What is attention?", "Why divide by sqrt(d)?", "What is the KV cache?", "A question without an answer"}, set(n)
assert n["Why divide by sqrt(d)?"]["tags"] == ["math"]
assert n["What is attention?"]["sources"] == ["https://example.com/attention"]
assert n["What is attention?"]["answer"]["how"] == "heading"
assert n["What is attention?"]["answer"]["path"] == "answers/a.md"
assert n["What is attention?"]["answer"]["line"] == 3
assert "\\(\\mathrm{softmax}" in n["What is attention?"]["answer"]["html"]
assert n["What is the KV cache?"]["deck"] == "Small deck::Inference"
assert "language-python" in n["What is the KV cache?"]["answer"]["html"]
assert n["A question without an answer"]["answer"] is None
ids = [x["id"] for x in d["notes"]]
assert len(set(ids)) == 4
'
}

@test "check writes nothing" {
    small_deck "$SCRATCH/d"
    run "$MDECK" check "$SCRATCH/d"
    [ "$status" -eq 0 ]
    [ ! -e "$SCRATCH/d/mdeck.lock" ]
}

@test "build writes the three outputs, then leaves them alone when nothing changed" {
    small_deck "$SCRATCH/d"
    run "$MDECK" build -o "$SCRATCH/out" "$SCRATCH/d"
    [ "$status" -eq 0 ]
    [ -s "$SCRATCH/out/d.apkg" ] && [ -s "$SCRATCH/out/d.csv" ] && [ -s "$SCRATCH/out/d.quizlet.txt" ]
    [ -s "$SCRATCH/d/mdeck.lock" ]
    [[ "$output" == *"apkg written csv written quizlet written"* ]]
    [[ "$output" == *"'Between cards': Custom: @@@"* ]]
    cp "$SCRATCH/out/d.apkg" "$SCRATCH/first.apkg"
    ino=$(stat -c %i "$SCRATCH/out/d.apkg")
    run "$MDECK" build -o "$SCRATCH/out" "$SCRATCH/d"
    [ "$status" -eq 0 ]
    [[ "$output" == *"apkg unchanged csv unchanged quizlet unchanged"* ]]
    cmp "$SCRATCH/first.apkg" "$SCRATCH/out/d.apkg"
    [ "$(stat -c %i "$SCRATCH/out/d.apkg")" = "$ino" ]
}

@test "options may follow the deck folders, as with GNU tools; -- ends them" {
    small_deck "$SCRATCH/d"
    run "$MDECK" build "$SCRATCH/d" -q -o "$SCRATCH/out" --format csv
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    [ -s "$SCRATCH/out/d.csv" ] && [ ! -e "$SCRATCH/out/d.apkg" ]
    [ ! -e "$SCRATCH/d/out" ] && [ ! -e "./-o" ]
    run "$MDECK" check "$SCRATCH/d" --json
    [ "$status" -eq 0 ]
    [[ "$output" == *'"version": 1'* ]]
    run "$MDECK" build -o "$SCRATCH/out" -- "$SCRATCH/d" -q
    [ "$status" -eq 1 ]
    [[ "$output" == *"-q: error: not a deck folder"* ]]
    "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/d"
    run "$MDECK" inspect "$SCRATCH/out/d.apkg" --json
    [ "$status" -eq 0 ]
    [[ "$output" == *'"notes"'* ]]
    run "$MDECK" inspect -- --json
    [ "$status" -eq 1 ]
    [[ "$output" == "--json: error: "* ]]
}

@test "--format picks outputs; the front matter can too" {
    small_deck "$SCRATCH/d"
    run "$MDECK" build -o "$SCRATCH/out" --format csv "$SCRATCH/d"
    [ "$status" -eq 0 ]
    [ -s "$SCRATCH/out/d.csv" ] && [ ! -e "$SCRATCH/out/d.apkg" ] && [ ! -e "$SCRATCH/out/d.quizlet.txt" ]
    { printf -- '---\nformats: quizlet\n---\n'; cat "$SCRATCH/d/index.md"; } >"$SCRATCH/i" && mv "$SCRATCH/i" "$SCRATCH/d/index.md"
    run "$MDECK" build -o "$SCRATCH/out2" "$SCRATCH/d"
    [ "$status" -eq 0 ]
    [ -s "$SCRATCH/out2/d.quizlet.txt" ] && [ ! -e "$SCRATCH/out2/d.apkg" ]
}

@test "a broken source fails the build and keeps every previous output byte-identical" {
    small_deck "$SCRATCH/d"
    "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/d"
    cp -r "$SCRATCH/out" "$SCRATCH/before"
    printf -- '- bad \xff byte\n' >>"$SCRATCH/d/index.md"
    run "$MDECK" build -o "$SCRATCH/out" "$SCRATCH/d"
    [ "$status" -eq 1 ]
    [[ "$output" == *"$SCRATCH/d/index.md:12:7: error: invalid UTF-8"* ]]
    [[ "$output" == *"build failed; previous outputs"* ]]
    diff -r "$SCRATCH/before" "$SCRATCH/out"
    # an answer file that turns invalid also fails the build
    sed -i '$d' "$SCRATCH/d/index.md"
    printf '\xfe\n' >>"$SCRATCH/d/answers/a.md"
    run "$MDECK" build -o "$SCRATCH/out" "$SCRATCH/d"
    [ "$status" -eq 1 ]
    [[ "$output" == *"answers/a.md:"*"error"* ]]
    diff -r "$SCRATCH/before" "$SCRATCH/out"
}

@test "an output folder that cannot be written fails cleanly" {
    small_deck "$SCRATCH/d"
    printf 'not a folder' >"$SCRATCH/out"
    run "$MDECK" build -o "$SCRATCH/out" "$SCRATCH/d"
    [ "$status" -eq 1 ]
    [[ "$output" == *"not a folder"* ]]
    [ "$(cat "$SCRATCH/out")" = "not a folder" ]
}

@test "the shipped deck checks clean: every question, duplicates merged, clean fronts" {
    run sh -c "cd '$MDECK_TOP' && '$MDECK' check --json decks/aigc-100 2>'$SCRATCH/err'"
    [ "$status" -eq 0 ]
    grep -q "0 errors" "$SCRATCH/err"
    echo "$output" | python3 -c '
import json, re, sys
d = json.load(sys.stdin)["decks"][0]
notes = d["notes"]
assert len(notes) == 125, len(notes)          # 130 items, 5 exact duplicates
for n in notes:
    q = n["question"]
    assert not re.search(r"(——|—|】|\[|\])", q), q     # no prefixes or tag brackets
    assert not q.startswith(("阿里面试官", "【", "“", "\"")), q
    assert q.strip() == q and q, q
assert any(n["question"] == "大模型推理时，显存中有那几部分数据？" for n in notes)
assert not any("前馈层" == n["question"] for n in notes)
tags = {t for n in notes for t in n["tags"]}
assert {"RAG相关", "答案", "面试题", "阿里", "大模型算法工程师经典面试题"} <= tags, tags
assert d["description"].startswith("<blockquote>")
'
}
