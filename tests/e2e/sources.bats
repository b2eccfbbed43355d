#!/usr/bin/env bats
# Hostile deck folders: symbolic link loops, FIFOs and devices named like
# answers, files without read permission, names that are not UTF-8.  Each
# is reported with its path and never hangs (every build runs under
# `timeout`); a failed build keeps the previous outputs byte for byte
# (docs/security.md, "Sources").

load helpers
load helpers/hostile

setup() {
    make_scratch
    export MDECK_NOW=1790000000
    small_deck "$SCRATCH/deck"
}

teardown() {
    drop_scratch
}

# build_ok: builds $SCRATCH/deck into $SCRATCH/out and remembers the outputs.
build_ok() {
    run timeout 20 "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck"
    [ "$status" -eq 0 ]
    BEFORE=$(tree_sum "$SCRATCH/out")
}

# build_fails_keeping_outputs: the build fails (1), quickly, outputs kept.
build_fails_keeping_outputs() {
    run timeout 20 "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"build failed; previous outputs in $SCRATCH/out kept"* ]]
    [ "$(tree_sum "$SCRATCH/out")" = "$BEFORE" ]
}

@test "sources: an answer file changed between a large deck's two reads fails the build, naming it" {
    build_ok
    # Every deck large (answer files dropped after the scan, read again for
    # the render), and 2 s between the scan and that second read
    # (MDECK_TEST_RELOAD_DELAY_MS, docs/watch.md): the edit lands in it.
    MDECK_SPILL_MIN=0 MDECK_TEST_RELOAD_DELAY_MS=2000 \
        timeout 20 "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck" >"$SCRATCH/log" 2>&1 &
    local pid=$!
    sleep 0.8
    sed -i 's/A weighted sum of values/A weighted mean of values/' "$SCRATCH/deck/answers/a.md"
    local status=0
    wait "$pid" || status=$?
    cat "$SCRATCH/log"
    [ "$status" -eq 1 ]
    grep -q "answers/a.md: error: answer file changed while mdeck was reading it; run the build again" "$SCRATCH/log"
    [ "$(tree_sum "$SCRATCH/out")" = "$BEFORE" ]
    # the same build again reads the file as it now is
    MDECK_SPILL_MIN=0 run timeout 20 "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck"
    [ "$status" -eq 0 ]
    grep -q "A weighted mean of values" "$SCRATCH/out/deck.csv"
}

@test "sources: directory symlink loops are never followed" {
    mkdir -p "$SCRATCH/deck/answers/sub"
    ln -s .. "$SCRATCH/deck/answers/loop"
    ln -s ../.. "$SCRATCH/deck/up"
    ln -s . "$SCRATCH/deck/answers/sub/self"
    ln -s ../sub "$SCRATCH/deck/answers/sub/back"
    ln -s "$SCRATCH/deck" "$SCRATCH/deck/answers/sub/abs"
    timeout 20 "$MDECK" check --json "$SCRATCH/deck" >"$SCRATCH/j.json" 2>"$SCRATCH/err"
    cat "$SCRATCH/err"
    # Each answer is found once, in its one real place.
    ! grep -q "answers; using" "$SCRATCH/err" || false
    python3 -c 'import json,sys; j=json.load(sys.stdin); a=[n["answer"]["path"] for n in j["decks"][0]["notes"] if n["answer"]]; print(a); assert a == ["answers/a.md"]*3' <"$SCRATCH/j.json"
    run timeout 20 "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck"
    [ "$status" -eq 0 ]
}

@test "sources: answer symlinks that loop or lead nowhere are errors naming them" {
    build_ok
    ln -s self.md "$SCRATCH/deck/answers/self.md"
    ln -s missing.md "$SCRATCH/deck/answers/gone.md"
    build_fails_keeping_outputs
    [[ "$output" == *"answers/self.md: error: symbolic link leads nowhere: Too many levels of symbolic links"* ]]
    [[ "$output" == *"answers/gone.md: error: symbolic link leads nowhere: No such file or directory"* ]]
}

@test "sources: a FIFO or a device named like a source is refused at once, never read" {
    build_ok
    mkfifo "$SCRATCH/deck/answers/fifo.md"
    build_fails_keeping_outputs
    [[ "$output" == *"answers/fifo.md: error: cannot read answer file: not a regular file (a FIFO, device or socket)"* ]]
    rm "$SCRATCH/deck/answers/fifo.md"
    if mknod "$SCRATCH/deck/answers/zero.md" c 1 5 2>/dev/null; then
        build_fails_keeping_outputs # /dev/zero would never end
        [[ "$output" == *"answers/zero.md: error: cannot read answer file: not a regular file"* ]]
        rm "$SCRATCH/deck/answers/zero.md"
    else
        echo "# mknod not permitted here: device case not run" >&3
    fi
    # The identity lock and the index themselves.
    mv "$SCRATCH/deck/mdeck.lock" "$SCRATCH/lock"
    mkfifo "$SCRATCH/deck/mdeck.lock"
    build_fails_keeping_outputs
    [[ "$output" == *"mdeck.lock: error: cannot read: not a regular file"* ]]
    rm "$SCRATCH/deck/mdeck.lock"
    mv "$SCRATCH/lock" "$SCRATCH/deck/mdeck.lock"
    mv "$SCRATCH/deck/index.md" "$SCRATCH/index.md"
    mkfifo "$SCRATCH/deck/index.md"
    build_fails_keeping_outputs
    [[ "$output" == *"index.md: error: cannot read the index: not a regular file"* ]]
    rm "$SCRATCH/deck/index.md"
    mv "$SCRATCH/index.md" "$SCRATCH/deck/index.md"
    # An image that is a FIFO: a warning, the image left out of the package.
    mkfifo "$SCRATCH/deck/answers/pipe.png"
    printf '\n![pipe](pipe.png)\n' >>"$SCRATCH/deck/answers/a.md"
    run timeout 20 "$MDECK" build -o "$SCRATCH/out" "$SCRATCH/deck"
    [ "$status" -eq 0 ]
    [[ "$output" == *"warning: image is not a file: 'pipe.png'"* ]]
}

# as_nobody CMD...: runs CMD as the unprivileged user nobody (permissions
# do not stop root).
as_nobody() {
    if command -v setpriv >/dev/null; then
        setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
    else
        runuser -u nobody -- "$@"
    fi
}

@test "sources: unreadable files and folders are errors (as an unprivileged user)" {
    if [ "$(id -u)" -ne 0 ]; then
        PRIV=()
    elif as_nobody true 2>/dev/null; then
        PRIV=(as_nobody)
    else
        skip "cannot run as the user nobody (no setpriv or runuser): permissions do not apply to root"
    fi
    chmod 755 "$SCRATCH"
    mkdir -p "$SCRATCH/out"
    [ "${#PRIV[@]}" -eq 0 ] || chown -R nobody "$SCRATCH/deck" "$SCRATCH/out"
    run "${PRIV[@]}" timeout 20 "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck"
    [ "$status" -eq 0 ]
    BEFORE=$(tree_sum "$SCRATCH/out")
    chmod 000 "$SCRATCH/deck/answers/a.md"
    run "${PRIV[@]}" timeout 20 "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"answers/a.md: error: cannot read answer file: Permission denied"* ]]
    [ "$(tree_sum "$SCRATCH/out")" = "$BEFORE" ]
    chmod 644 "$SCRATCH/deck/answers/a.md"
    mkdir "$SCRATCH/deck/answers/private"
    printf '## What is the KV cache?\n\nsecret\n' >"$SCRATCH/deck/answers/private/b.md"
    chmod 000 "$SCRATCH/deck/answers/private"
    run "${PRIV[@]}" timeout 20 "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"answers/private: error: cannot read the folder: Permission denied"* ]]
    [ "$(tree_sum "$SCRATCH/out")" = "$BEFORE" ]
    chmod 755 "$SCRATCH/deck/answers/private"
    rm -r "$SCRATCH/deck/answers/private"
    chmod 000 "$SCRATCH/deck/index.md"
    run "${PRIV[@]}" timeout 20 "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck"
    [ "$status" -eq 1 ]
    [[ "$output" == *"index.md: error: cannot read the index: Permission denied"* ]]
    [ "$(tree_sum "$SCRATCH/out")" = "$BEFORE" ]
}

@test "sources: names that are not UTF-8 are reported and skipped; check --json stays valid JSON" {
    bad=$(printf 'bad-\377\376')
    printf '## A question without an answer\n\nfrom a badly named file\n' >"$SCRATCH/deck/answers/$bad.md"
    mkdir "$SCRATCH/deck/answers/$bad"
    printf '## A question without an answer\n\nfrom a badly named folder\n' >"$SCRATCH/deck/answers/$bad/c.md"
    run timeout 20 "$MDECK" build -o "$SCRATCH/out" "$SCRATCH/deck"
    [ "$status" -eq 0 ]
    [[ "$output" == *"answers/$bad.md: warning: name is not valid UTF-8; skipped"* ]]
    [[ "$output" == *"answers/$bad: warning: name is not valid UTF-8; skipped"* ]]
    ! grep -q "badly named" "$SCRATCH/out/deck.csv" || false
    timeout 20 "$MDECK" check --json "$SCRATCH/deck" >"$SCRATCH/j.json" 2>/dev/null
    python3 - "$SCRATCH/j.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1], encoding="utf-8"))  # strict: valid UTF-8 JSON
d = [g for g in j["diagnostics"] if "not valid UTF-8" in g["message"]]
assert len(d) == 2 and all("bad-\ufffd\ufffd" in g["path"] for g in d), d
assert len(j["decks"][0]["notes"]) == 4
PY
    # A deck folder whose own name is not UTF-8: the deck gets a name that
    # is (the package's deck list must hold it), and JSON stays valid.
    mkdir "$SCRATCH/$bad"
    printf -- '- a question\n' >"$SCRATCH/$bad/index.md"
    run timeout 20 "$MDECK" build -q -o "$SCRATCH/out2" "$SCRATCH/$bad"
    [ "$status" -eq 0 ]
    run "$MDECK" inspect --json "$SCRATCH/out2/bad-"*.apkg
    [ "$status" -eq 0 ]
    python3 -c 'import json,sys; j=json.loads(sys.stdin.read()); n=[d["name"] for d in j["decks"]]; assert "bad-\ufffd\ufffd" in n, n; assert j["notes"][0]["deck"] == "bad-\ufffd\ufffd"' <<<"$output"
    timeout 20 "$MDECK" check --json "$SCRATCH/$bad" | python3 -c 'import json,sys; json.load(sys.stdin)'
}

@test "sources: inspect --json of a package holding bytes that are not UTF-8 prints valid JSON" {
    build_ok
    python3 - "$SCRATCH/out/deck.apkg" "$SCRATCH/bad.apkg" <<'PY'
import sqlite3, sys, tempfile, zipfile
src, dst = sys.argv[1], sys.argv[2]
zin = zipfile.ZipFile(src)
with tempfile.NamedTemporaryFile(suffix=".db") as t:
    t.write(zin.read("collection.anki2"))
    t.flush()
    db = sqlite3.connect(t.name)
    db.execute("UPDATE notes SET guid = CAST(X'FF41FE' AS TEXT), tags = CAST(X'2074FF6720' AS TEXT), "
               "flds = CAST(X'51FF1F41' AS TEXT)")
    db.commit()
    db.close()
    with zipfile.ZipFile(dst, "w") as z:
        z.writestr("collection.anki2", open(t.name, "rb").read())
        z.writestr("media", zin.read("media"))
PY
    run "$MDECK" inspect --json "$SCRATCH/bad.apkg"
    [ "$status" -eq 0 ]
    python3 -c 'import json,sys; j=json.loads(sys.stdin.read()); n=j["notes"][0]; assert n["guid"]=="\ufffdA\ufffd", n; assert n["tags"]==["t\ufffdg"], n' <<<"$output"
}

@test "sources: a source URL with a script scheme is text in the Source field, never a link" {
    cat >"$SCRATCH/deck/index.md" <<'MD'
- [Click the source](javascript:alert(document.cookie))
- [Mixed case](JaVaScRiPt:alert(1))
- [Data](data:text/html,<b>x</b>)
- [Hidden in a query](https://example.com/?next=javascript:alert(1))
- [Fine](https://example.com/ok)
MD
    run "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck"
    [ "$status" -eq 0 ]
    ! grep -qi 'href="*javascript' "$SCRATCH/out/deck.csv" || false
    ! grep -q 'href="*data:' "$SCRATCH/out/deck.csv" || false
    grep -q '<a href=""https://example.com/ok"">' "$SCRATCH/out/deck.csv"
    grep -q '^Click the source,,javascript:alert(document.cookie),' "$SCRATCH/out/deck.csv"
    # The package's Source field, read back independently.
    python3 - "$SCRATCH/out/deck.apkg" <<'PY'
import sqlite3, sys, tempfile, zipfile
with tempfile.NamedTemporaryFile(suffix=".db") as t:
    t.write(zipfile.ZipFile(sys.argv[1]).read("collection.anki2"))
    t.flush()
    src = [r[0].split("\x1f")[2] for r in sqlite3.connect(t.name).execute("SELECT flds FROM notes")]
links = [s for s in src if "<a " in s]
assert links == ['<a href="https://example.com/ok">https://example.com/ok</a>'], src
PY
    "$MDECK" check --json "$SCRATCH/deck" >"$SCRATCH/check.json" 2>/dev/null
    python3 "$MDECK_TOP/tests/tools/check_textout.py" "$SCRATCH/check.json" "$SCRATCH/out/deck.csv" "$SCRATCH/out/deck.quizlet.txt"
}

@test "sources: index.md or mdeck.lock as links out of the deck: errors; nothing outside read or written" {
    build_ok
    printf -- '- secret line one\n- secret line two\n' >"$SCRATCH/secret.md"
    mv "$SCRATCH/deck/index.md" "$SCRATCH/index.md"
    ln -s ../secret.md "$SCRATCH/deck/index.md"
    build_fails_keeping_outputs
    [[ "$output" == *"index.md: error: index.md is a symbolic link leading out of the deck folder"* ]]
    rm "$SCRATCH/deck/index.md"
    mv "$SCRATCH/index.md" "$SCRATCH/deck/index.md"
    # A lock pointing at someone else's JSON file: never rewritten.
    printf '{"notes": []}\n' >"$SCRATCH/other.json"
    rm "$SCRATCH/deck/mdeck.lock"
    ln -s "$SCRATCH/other.json" "$SCRATCH/deck/mdeck.lock"
    build_fails_keeping_outputs
    [[ "$output" == *"mdeck.lock: error: mdeck.lock is a symbolic link leading out of the deck folder"* ]]
    [ "$(cat "$SCRATCH/other.json")" = '{"notes": []}' ]
    # Links that stay inside the deck are fine.
    rm "$SCRATCH/deck/mdeck.lock"
    mv "$SCRATCH/deck/index.md" "$SCRATCH/deck/real-index.md"
    ln -s real-index.md "$SCRATCH/deck/index.md"
    run timeout 20 "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck"
    [ "$status" -eq 0 ]
}
