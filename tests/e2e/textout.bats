#!/usr/bin/env bats
# The CSV and Quizlet outputs, read back with real parsers.

load helpers

setup() { make_scratch; }
teardown() { drop_scratch; }

hostile_deck() {
    local d=$1
    mkdir -p "$d/answers"
    cat >"$d/index.md" <<'MD'
---
tags: [deck-tag]
---
# Hostile "fields"

- [Quotes "inside", commas, and; semicolons](https://example.com/a?x=1&y=2)
- #hash at the start
- 中文问题：什么是注意力？😀

## Sub deck

- Tabs	and CR/LF
MD
    printf '## Quotes "inside", commas, and; semicolons\n\nAnswer with "quotes", commas, a\ttab and @@@ the card separator.\n\n- list item\n- second\n\n## #hash at the start\n\n# not a heading here\n\n## 中文问题：什么是注意力？😀\n\n注意力是加权求和：$\\sum_i a_i v_i$，emoji 🎉。\n\n## Tabs and CR/LF\n\nline one\r\nline two\r\n\n```\ncode\twith tab\n```\n' >"$d/answers/a.md"
}

@test "CSV and Quizlet files agree with check --json, field by field" {
    hostile_deck "$SCRATCH/d"
    run "$MDECK" build -o "$SCRATCH/out" "$SCRATCH/d"
    [ "$status" -eq 0 ]
    "$MDECK" check --json "$SCRATCH/d" >"$SCRATCH/check.json" 2>/dev/null
    run python3 "$MDECK_TOP/tests/tools/check_textout.py" "$SCRATCH/check.json" "$SCRATCH/out/d.csv" "$SCRATCH/out/d.quizlet.txt"
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "the CSV header follows Anki's text-import syntax" {
    hostile_deck "$SCRATCH/d"
    "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/d"
    run head -n 8 "$SCRATCH/out/d.csv"
    [ "${lines[0]}" = "#separator:Comma" ]
    [ "${lines[1]}" = "#html:true" ]
    [ "${lines[2]}" = "#notetype:mdeck Basic" ]
    [ "${lines[3]}" = "#tags column:4" ]
    [ "${lines[4]}" = "#guid column:5" ]
    [ "${lines[5]}" = "#deck column:6" ]
    [ "${lines[6]}" = "#columns:Question,Answer,Source,Tags,GUID,Deck" ]
    # the field starting with '#' is quoted
    grep -q '^"#hash at the start",' "$SCRATCH/out/d.csv"
    # no BOM
    [ "$(head -c 3 "$SCRATCH/out/d.csv" | od -An -tx1 | tr -d ' ')" != "efbbbf" ]
}

@test "the shipped deck's CSV and Quizlet files agree with check --json" {
    run "$MDECK" build -q -o "$SCRATCH/out" "$MDECK_TOP/decks/aigc-100"
    [ "$status" -eq 0 ]
    "$MDECK" check --json "$MDECK_TOP/decks/aigc-100" >"$SCRATCH/check.json" 2>/dev/null
    run python3 "$MDECK_TOP/tests/tools/check_textout.py" "$SCRATCH/check.json" "$SCRATCH/out/aigc-100.csv" "$SCRATCH/out/aigc-100.quizlet.txt"
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "the CSV uses the package's guids" {
    hostile_deck "$SCRATCH/d"
    "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/d"
    python3 - "$SCRATCH/out/d.apkg" "$SCRATCH/out/d.csv" <<'PY'
import csv, io, sqlite3, sys, tempfile, zipfile
z = zipfile.ZipFile(sys.argv[1])
tmp = tempfile.NamedTemporaryFile(suffix=".anki2")
tmp.write(z.read("collection.anki2")); tmp.flush()
guids = {r[0] for r in sqlite3.connect(tmp.name).execute("select guid from notes")}
text = open(sys.argv[2], encoding="utf-8").read()
body = "\n".join(l for l in text.split("\n") if not l.startswith("#") or l.startswith('"#'))
rows = [r for r in csv.reader(io.StringIO(body, newline="")) if r]
csv_guids = {r[4] for r in rows}
assert csv_guids == guids, (csv_guids, guids)
PY
}

@test "long Quizlet cards are reported, not cut" {
    mkdir -p "$SCRATCH/d"
    python3 -c "print('- long one\n\n  ' + 'word ' * 600)" >"$SCRATCH/d/index.md"
    run "$MDECK" build -o "$SCRATCH/out" --format quizlet "$SCRATCH/d"
    [ "$status" -eq 0 ]
    [[ "$output" == *"warning: Quizlet card 'long one' has a definition of 2999 characters"* ]]
    [ "$(wc -w <"$SCRATCH/out/d.quizlet.txt")" -eq 602 ]
}
