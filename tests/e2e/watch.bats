#!/usr/bin/env bats
# `mdeck watch` end to end: the real binary, real folders (outside /tmp:
# vim saves by renaming only elsewhere), real tools (vim, sed, git, mv).
# Every wait polls with a bound (wait_for); a fixed sleep is used only to
# show that something did NOT happen.
#
# $MDECK is the binary, $MDECK_TOP the repository (tests/run-tests.sh sets
# both).

load helpers
bats_require_minimum_version 1.5.0

H="$BATS_TEST_DIRNAME/helpers"

setup() {
    make_scratch
    D=$SCRATCH/deck
    OUT=$SCRATCH/out
    LOG=$SCRATCH/watch.log
    WPID=
    RPID=
    make_deck "$D"
}

teardown() {
    if [ -n "$RPID" ]; then
        touch "$SCRATCH/reader.stop"
        wait "$RPID" 2>/dev/null || true
    fi
    if [ -n "$WPID" ] && kill -0 "$WPID" 2>/dev/null; then
        kill -KILL "$WPID" 2>/dev/null || true
        wait "$WPID" 2>/dev/null || true
    fi
    if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -f "$LOG" ]; then
        echo "--- watcher log:"
        cat "$LOG"
    fi
    [ -n "${NOTIFY_SOCK:-}" ] && rm -f "$NOTIFY_SOCK"
    drop_scratch
}

# --- helpers ----------------------------------------------------------------

# make_deck DIR [WORD]: three questions, the first two answered in
# answers/a.md ("One WORD.", "Two WORD."), the third not.
make_deck() {
    local d=$1 word=${2:-first}
    mkdir -p "$d/answers"
    cat >"$d/index.md" <<'MD'
# Watch test

- [What is one?](https://example.com/1)
- [What is two?](https://example.com/2)
- [What is three?](https://example.com/3)
MD
    printf '## What is one?\n\nOne %s.\n\n## What is two?\n\nTwo %s.\n' "$word" "$word" \
        >"$d/answers/a.md"
}

# big_deck DIR N: N questions answered in N/100 files (a slow build).
big_deck() {
    rm -rf "$1"
    mkdir -p "$1/answers"
    python3 - "$1" "$2" <<'PY'
import sys
d, n = sys.argv[1], int(sys.argv[2])
with open(d + "/index.md", "w") as f:
    f.write("# Big\n\n")
    for i in range(n):
        f.write(f"- [Question number {i}?](https://example.com/{i})\n")
for k in range(n // 100):
    with open(f"{d}/answers/part{k}.md", "w") as f:
        for i in range(k * 100, (k + 1) * 100):
            f.write(f"## Question number {i}?\n\nAnswer **{i}**, with `code`:\n\n- one\n- two\n\n")
PY
}

# start_watch ARGS...: `mdeck watch ARGS` in the background, log in $LOG,
# then waits for the first build (or failed build).
start_watch() {
    "$MDECK" watch "$@" >"$SCRATCH/watch.out" 2>"$LOG" </dev/null 3>&- &
    WPID=$!
    wait_for grep -qE ': (rebuilt|build failed)' "$LOG"
}

# wait_for CMD...: runs CMD every 50 ms until it succeeds; gives up after
# 20 s (WAIT_S) and fails (teardown then prints the watcher's log).
wait_for() {
    local i=0 max=$(( ${WAIT_S:-20} * 20 ))
    while ! "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        if [ "$i" -ge "$max" ]; then
            echo "timed out waiting for: $*"
            return 1
        fi
        sleep 0.05
    done
}

# count PATTERN: lines of the log matching the extended regex.
count() { grep -cE -- "$1" "$LOG" || true; }
builds() { count ': rebuilt: '; }
builds_at_least() { [ "$(builds)" -ge "$1" ]; }
log_has() { grep -qE -- "$1" "$LOG"; }

# stop_watch [SIGNAL]: signals the watcher and waits (at most 10 s) for it
# to end; its exit status lands in WSTATUS.
stop_watch() {
    kill -"${1:-TERM}" "$WPID"
    local i=0
    while kill -0 "$WPID" 2>/dev/null && [ "$i" -lt 200 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    kill -0 "$WPID" 2>/dev/null && kill -KILL "$WPID" # hung: fail below
    WSTATUS=0
    wait "$WPID" || WSTATUS=$?
    WPID=
}

# fields: the package's notes, one a line (tests/e2e/helpers/apkg-fields.py).
fields() { python3 "$H/apkg-fields.py" "$OUT/deck.apkg"; }
apkg_has() { fields | grep -F -- "$1" >/dev/null; } # reads all: no EPIPE
csv_has() { grep -qF -- "$1" "$OUT/deck.csv"; }
csv_has_in() { grep -qF -- "$2" "$1"; }
# notes_say WORD N: N notes of the package answer "WORD <number>".
notes_say() { [ "$(fields 2>/dev/null | grep -c ">$1 [0-9]")" -eq "$2" ]; }
# lines_at_least FILE PATTERN N
lines_at_least() { [ "$(grep -c -- "$2" "$1")" -ge "$3" ]; }

# settle: waits until the log has not grown for 0.6 s (six quiet periods);
# fails after 30 s.
settle() {
    local a b i=0
    while [ "$i" -lt 50 ]; do
        a=$(wc -c <"$LOG")
        sleep 0.6
        b=$(wc -c <"$LOG")
        [ "$a" = "$b" ] && return 0
        i=$((i + 1))
    done
    echo "the log never settled"
    return 1
}

start_reader() {
    "$H/apkg-reader.sh" "$OUT/deck.apkg" "$SCRATCH/reader.stop" "$SCRATCH/reader.log" 3>&- &
    RPID=$!
}

# stop_reader: no copy of the package may ever have been incomplete.
stop_reader() {
    touch "$SCRATCH/reader.stop"
    wait "$RPID"
    RPID=
    local ok fail
    ok=$(grep -c '^ok' "$SCRATCH/reader.log" || true)
    fail=$(grep -c '^FAIL' "$SCRATCH/reader.log" || true)
    echo "reader: $ok good copies, $fail bad"
    grep '^FAIL' "$SCRATCH/reader.log" | head -5 || true
    [ "$fail" -eq 0 ]
    [ "$ok" -gt 10 ]
}

no_temporaries() {
    ! find "$SCRATCH" -name '*.mdeck-tmp-*' | grep -q .
}

# --- startup --------------------------------------------------------------

@test "watch: first build, log format, lock file" {
    start_watch -o "$OUT" "$D" --debounce 100
    [ -f "$OUT/deck.apkg" ]
    [ -f "$OUT/deck.csv" ]
    [ -f "$OUT/deck.quizlet.txt" ]
    unzip -tqq "$OUT/deck.apkg"
    python3 "$MDECK_TOP/tests/tools/apkg_check.py" -q "$OUT/deck.apkg"
    [ "$(fields | wc -l)" -eq 3 ]
    apkg_has 'One first.'
    # One line per build, with an HH:MM:SS.mmm timestamp (no journald here).
    grep -E '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} mdeck: .*/deck: rebuilt: 3 notes \(3 added, 0 changed, 0 removed\), 1 unanswered, [0-9]+ ms, wrote apkg csv quizlet$' "$LOG"
    [ -f "$OUT/.mdeck-watch.lock" ]
    grep -qx "$WPID" "$OUT/.mdeck-watch.lock"
    stop_watch TERM
    [ "$WSTATUS" -eq 0 ]
    log_has 'SIGTERM: stopping'
}

@test "watch: usage errors exit 2" {
    run "$MDECK" watch -o "$OUT" "$SCRATCH/no-such-deck"
    [ "$status" -eq 2 ]
    [[ "$output" == *"not a deck folder"* ]]
    run "$MDECK" watch --debounce soon "$D"
    [ "$status" -eq 2 ]
    run "$MDECK" watch --debounce -5 "$D"
    [ "$status" -eq 2 ]
    for bad in 0 0.5 3601 often; do
        run "$MDECK" watch --poll "$bad" "$D"
        [ "$status" -eq 2 ]
        [[ "$output" == *"--poll takes seconds from 1 to 3600"* ]]
    done
    run "$MDECK" watch --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"--debounce MS"* ]]
    [[ "$output" == *"--poll SECONDS"* ]]
}

@test "watch: a second watcher on the same output folder exits 3" {
    start_watch -o "$OUT" "$D" --debounce 100
    run "$MDECK" watch -o "$OUT" "$D"
    [ "$status" -eq 3 ]
    [[ "$output" == *"another mdeck watch (pid $WPID) is already writing to $OUT"* ]]
    # Another output folder is fine.
    "$MDECK" watch -o "$SCRATCH/out2" "$D" 2>"$SCRATCH/second.log" 3>&- &
    local p2=$!
    wait_for grep -q 'rebuilt' "$SCRATCH/second.log"
    kill -TERM "$p2"
    wait "$p2"
}

@test "watch: out of file descriptors at startup exits 3 with a clear message" {
    # fds 0-2 open, the signalfd takes 3, inotify finds no room.
    run sh -c 'exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; ulimit -n 4; exec "$0" watch -o "$1" "$2"' \
        "$MDECK" "$OUT" "$D"
    [ "$status" -eq 3 ]
    [[ "$output" == *"cannot start watching: too many open files"* ]]
}

@test "watch: startup removes stale temporaries of a killed run" {
    mkdir -p "$OUT"
    echo partial >"$OUT/.deck.apkg.mdeck-tmp-AbC123"
    start_watch -o "$OUT" "$D" --debounce 100
    [ ! -e "$OUT/.deck.apkg.mdeck-tmp-AbC123" ]
}

# --- editors and tools --------------------------------------------------------

@test "watch: vim-style save (swap file, rename to backup, new file)" {
    start_watch -o "$OUT" "$D" --debounce 100
    local a=$D/answers/a.md
    # What vim does, step by step: swap file, 4913 probe, rename the
    # original away, write a new file, drop the backup.
    echo swap >"$D/answers/.a.md.swp"
    : >"$D/answers/4913" && rm "$D/answers/4913"
    mv "$a" "$a~"
    printf '## What is one?\n\nOne by hand-vim.\n\n## What is two?\n\nTwo first.\n' >"$a"
    rm "$a~" "$D/answers/.a.md.swp"
    wait_for csv_has 'One by hand-vim.'
    apkg_has 'One by hand-vim.'
    [ "$(count 'build failed')" -eq 0 ]
}

@test "watch: a real vim edit (rename-save) is rebuilt" {
    command -v vim >/dev/null || skip "vim is not installed"
    start_watch -o "$OUT" "$D" --debounce 100
    local a=$D/answers/a.md ino
    ino=$(stat -c %i "$a")
    # This test is about the rename-save: vim writes in place when the file
    # matches 'backupskip' (by default anything under /tmp, where a CI clone
    # may live) or when "auto" picks a copy.
    vim -Nu NONE -n -es -c 'set backupcopy=no backupskip=' -c '%s/One first\./One by vim./' -c 'wq' "$a"
    wait_for csv_has 'One by vim.'
    apkg_has 'One by vim.'
    # vim really replaced the file (else this test proves nothing new).
    [ "$(stat -c %i "$a")" != "$ino" ]
    [ "$(count 'build failed')" -eq 0 ]
}

@test "watch: write to a temporary, then rename over the answer" {
    start_watch -o "$OUT" "$D" --debounce 100
    printf '## What is one?\n\nOne renamed.\n\n## What is two?\n\nTwo first.\n' \
        >"$D/answers/.a.md.tmp.1234"
    mv "$D/answers/.a.md.tmp.1234" "$D/answers/a.md"
    wait_for csv_has 'One renamed.'
    apkg_has 'One renamed.'
}

@test "watch: sed -i" {
    start_watch -o "$OUT" "$D" --debounce 100
    sed -i 's/Two first\./Two by sed./' "$D/answers/a.md"
    wait_for csv_has 'Two by sed.'
    apkg_has 'Two by sed.'
}

@test "watch: mkdir -p and a file written at once inside; the new folders are watched" {
    start_watch -o "$OUT" "$D" --debounce 100
    mkdir -p "$D/answers/x/y/z" && printf '## What is three?\n\nThree deep.\n' >"$D/answers/x/y/z/c.md"
    wait_for csv_has 'Three deep.'
    wait_for log_has 'rebuilt: 3 notes .* 0 unanswered'
    # The innermost folder is watched now: an edit there is seen.
    printf '## What is three?\n\nThree deeper.\n' >"$D/answers/x/y/z/c.md"
    wait_for csv_has 'Three deeper.'
    apkg_has 'Three deeper.'
}

@test "watch: a folder moved in from outside, edited, moved out again" {
    start_watch -o "$OUT" "$D" --debounce 100
    mkdir -p "$SCRATCH/elsewhere/more/deeper"
    printf '## What is three?\n\nThree moved in.\n' >"$SCRATCH/elsewhere/more/deeper/m.md"
    mv "$SCRATCH/elsewhere/more" "$D/answers/more"
    wait_for csv_has 'Three moved in.'
    # Its sub-folders got watches when it arrived.
    printf '## What is three?\n\nThree edited.\n' >"$D/answers/more/deeper/m.md"
    wait_for csv_has 'Three edited.'
    local n
    settle # the package is published just before the build's log line
    n=$(builds)
    mv "$D/answers/more" "$SCRATCH/elsewhere/more"
    wait_for builds_at_least $((n + 1))
    [ "$(grep ': rebuilt: ' "$LOG" | tail -1 | grep -c '1 unanswered')" -eq 1 ]
    run ! csv_has 'Three edited.'
    settle
    # Edits made out there are not ours any more: no rebuild.
    n=$(builds)
    printf '## What is three?\n\nThree outside.\n' >"$SCRATCH/elsewhere/more/deeper/m.md"
    sleep 0.6
    [ "$(builds)" -eq "$n" ]
}

@test "watch: git checkout of 200 files: 1-3 builds, the package follows the branch" {
    rm -rf "$D"
    mkdir -p "$D/answers"
    {
        echo "# Two hundred"
        echo
        for i in $(seq 200); do echo "- [Question $i?](https://example.com/$i)"; done
    } >"$D/index.md"
    for i in $(seq 200); do printf '## Question %s?\n\nmain %s\n' "$i" "$i" >"$D/answers/q$i.md"; done
    g() { git -C "$D" -c user.name=t -c user.email=t@example.com "$@"; }
    g init -q -b main
    g add -A
    g commit -qm main
    g checkout -q -b other
    for i in $(seq 200); do printf '## Question %s?\n\nother %s\n' "$i" "$i" >"$D/answers/q$i.md"; done
    g commit -qam other
    g checkout -q main
    start_watch -o "$OUT" "$D" --debounce 100
    notes_say main 200
    start_reader
    local n
    for branch in other main other; do
        n=$(builds)
        g checkout -q "$branch"
        wait_for notes_say "$branch" 200
        settle
        echo "checkout $branch: $(( $(builds) - n )) build(s)"
        [ $(( $(builds) - n )) -ge 1 ]
        [ $(( $(builds) - n )) -le 3 ]
    done
    stop_reader
    [ "$(count 'build failed')" -eq 0 ]
    # Two builds within one second date the changed notes a second ahead
    # (apkg.c: mod = previous + 1, so that Anki sees the update); the
    # checker's clock must allow for that.
    MDECK_NOW=$(( $(date +%s) + 5 )) python3 "$MDECK_TOP/tests/tools/apkg_check.py" -q "$OUT/deck.apkg"
}

@test "watch: 1000 quick writes: a bounded number of builds, the cap, the last content" {
    start_watch -o "$OUT" "$D" --debounce 100
    start_reader
    local n0 x0 i during total
    n0=$(builds)
    x0=$(count 'not published')
    for i in $(seq 1000); do
        # Not atomic on purpose: truncate, then write (shell '>', nano, VS Code).
        printf '## What is one?\n\nOne write %s.\n\n## What is two?\n\nTwo.\n' "$i" >"$D/answers/a.md"
        # Pauses shorter than the quiet period: one burst of about 5 s.
        if [ $((i % 10)) -eq 0 ]; then sleep 0.05; fi
    done
    during=$(( $(builds) - n0 + $(count 'not published') - x0 ))
    wait_for csv_has 'One write 1000.'
    settle
    total=$(( $(builds) - n0 + $(count 'not published') - x0 ))
    echo "$during builds during the burst, $total in all ($(( $(count 'not published') - x0 )) not published)"
    # The 3 s cap: a burst that never pauses long enough still gets built.
    [ "$during" -ge 1 ]
    [ "$total" -le 20 ]
    apkg_has 'One write 1000.'
    stop_reader
}

@test "watch: an edited answer is rendered again alone; other edits make full builds" {
    big_deck "$D" 3000
    # A file changed less than a second before a build reads it is read
    # again by the next build, and an index read so is a full build then
    # (src/build.c, struct sig): a deck freshly made waits that second.
    sleep 1.1
    start_watch -o "$OUT" "$D" --debounce 100 -v
    # vim's way: a new file renamed over the old one
    sed 's/Answer \*\*5\*\*/Answer **five**/' "$D/answers/part0.md" >"$D/answers/part0.md.new"
    mv "$D/answers/part0.md.new" "$D/answers/part0.md"
    wait_for csv_has 'Answer <strong>five</strong>'
    settle
    log_has 'rebuilt: 3000 notes \(0 added, 1 changed, 0 removed\), 0 unanswered, [0-9]+ ms, changed answers only, wrote apkg csv quizlet$'
    apkg_has 'Answer <strong>five</strong>'
    # the same outputs as a full build of the same sources
    "$MDECK" build -q -o "$SCRATCH/full" "$D"
    cmp "$OUT/deck.csv" "$SCRATCH/full/deck.csv"
    cmp "$OUT/deck.quizlet.txt" "$SCRATCH/full/deck.quizlet.txt"
    # a heading renamed: the matching may change, a full build
    local n0
    n0=$(count 'changed answers only')
    sed -i 's/^## Question number 7?/## Question number seven?/' "$D/answers/part0.md"
    wait_for log_has 'answer .Question number seven\?. matches no question'
    settle
    [ "$(count 'changed answers only')" -eq "$n0" ]
    csv_has 'Question number 7?'
    # answers edited below that orphan (its message keeps its line), and in
    # another file: in place again
    sed -i 's/Answer \*\*9\*\*/Answer **nine**/' "$D/answers/part0.md"
    wait_for csv_has 'Answer <strong>nine</strong>'
    settle
    [ "$(count 'changed answers only')" -eq $((n0 + 1)) ]
    sed -i 's/Answer \*\*105\*\*/Answer **one-o-five**/' "$D/answers/part1.md"
    wait_for csv_has 'Answer <strong>one-o-five</strong>'
    settle
    [ "$(count 'changed answers only')" -eq $((n0 + 2)) ]
    "$MDECK" build -q -o "$SCRATCH/full" "$D"
    cmp "$OUT/deck.csv" "$SCRATCH/full/deck.csv"
}

@test "watch: a change during a build: that build is not published, exactly one more follows" {
    big_deck "$D" 6000
    start_watch -o "$OUT" "$D" --debounce 100 -v
    # An edit of the index: a full build (an answer's edit alone is only
    # rendered again, too fast to be caught in the middle).
    sed -i 's/Question number 1?/Question number one?/' "$D/index.md"
    wait_for lines_at_least "$LOG" ': building' 2
    # The build reads, renders and packs 6000 notes (well over 200 ms): this
    # edit lands before it publishes.
    sed -i 's/Answer \*\*2\*\*/Answer **two**/' "$D/answers/part0.md"
    wait_for apkg_has 'Answer <strong>two</strong>'
    settle
    echo "$(count ': building') builds, $(count 'not published') not published"
    [ "$(count 'sources changed during the build .*; not published, building again')" -eq 1 ]
    [ "$(count ': building')" -eq 3 ]
    [ "$(builds)" -eq 2 ]
    apkg_has 'Question number one?'
}

@test "watch: a build that failed because its sources changed is not reported; the next one decides" {
    # A large deck reads its answer files twice; 1.5 s between the reads
    # (MDECK_TEST_RELOAD_DELAY_MS) lets the edit below land between them,
    # which fails that build.  Its sources changed while it ran: its error
    # is not reported, and the build that follows publishes the edit.
    export MDECK_SPILL_MIN=0 MDECK_TEST_RELOAD_DELAY_MS=1500
    start_watch -o "$OUT" "$D" --debounce 100 -v
    local n0
    n0=$(count ': building')
    printf '\n- What is four?\n' >>"$D/index.md"
    wait_for lines_at_least "$LOG" ': building' $((n0 + 1))
    sleep 0.5
    printf '## What is one?\n\nOne edited.\n\n## What is two?\n\nTwo first.\n' >"$D/answers/a.md"
    wait_for log_has 'sources changed during a build that failed; its errors are not reported, building again'
    wait_for csv_has 'One edited.'
    settle
    ! log_has 'changed while mdeck was reading it' || false
    ! log_has 'build failed' || false
    csv_has 'What is four?'
}

# --- failures ---------------------------------------------------------------

@test "watch: invalid UTF-8 keeps the last good package until fixed" {
    start_watch -o "$OUT" "$D" --debounce 100
    cp "$OUT/deck.apkg" "$SCRATCH/good.apkg"
    printf '## What is one?\n\nbad \377\376 bytes\n' >"$D/answers/a.md"
    wait_for log_has 'build failed \(1 error\); the previous outputs are kept'
    log_has 'answers/a.md:[0-9]+:[0-9]+: error: invalid UTF-8'
    cmp "$OUT/deck.apkg" "$SCRATCH/good.apkg"
    # The same error again is reported in one line, not repeated in full.
    printf '## What is one?\n\nbad \377\376 bytes\n\n' >"$D/answers/a.md"
    wait_for log_has 'build still failing with the same 1 error'
    [ "$(count 'error: invalid UTF-8')" -eq 1 ]
    cmp "$OUT/deck.apkg" "$SCRATCH/good.apkg"
    printf '## What is one?\n\nOne fixed.\n' >"$D/answers/a.md"
    wait_for csv_has 'One fixed.'
    wait_for log_has 'the errors are fixed' # logged after the publish
    apkg_has 'One fixed.'
    kill -0 "$WPID"
}

@test "watch: an answer file removed: error, outputs kept; restored: rebuilt" {
    printf -- '- [What is four?](answers/four.md)\n' >>"$D/index.md"
    printf 'Four.\n' >"$D/answers/four.md"
    start_watch -o "$OUT" "$D" --debounce 100
    cp "$OUT/deck.apkg" "$SCRATCH/good.apkg"
    mv "$D/answers/four.md" "$SCRATCH/four.md"
    wait_for log_has 'build failed'
    cmp "$OUT/deck.apkg" "$SCRATCH/good.apkg"
    sed 's/Four/Four again/' "$SCRATCH/four.md" >"$D/answers/four.md"
    wait_for csv_has 'Four again.'
}

@test "watch: deck folder deleted, then created again" {
    start_watch -o "$OUT" "$D" --debounce 100
    cp "$OUT/deck.apkg" "$SCRATCH/good.apkg"
    rm -rf "$D"
    wait_for log_has 'the deck folder was deleted; its outputs are kept'
    sleep 0.3
    cmp "$OUT/deck.apkg" "$SCRATCH/good.apkg"
    make_deck "$D" second
    wait_for csv_has 'One second.'
    log_has 'the deck folder is back'
    apkg_has 'Two second.'
    # Watched again, to the bottom.
    mkdir "$D/answers/sub"
    printf '## What is three?\n\nThree again.\n' >"$D/answers/sub/t.md"
    wait_for csv_has 'Three again.'
}

@test "watch: deck folder moved away and back" {
    start_watch -o "$OUT" "$D" --debounce 100
    mv "$D" "$SCRATCH/away"
    wait_for log_has 'the deck folder was moved away'
    # Edits in the moved folder are not ours.
    sed -i 's/One first/One away/' "$SCRATCH/away/answers/a.md"
    sleep 0.3
    run ! csv_has 'One away'
    mv "$SCRATCH/away" "$D"
    wait_for csv_has 'One away.'
    sed -i 's/Two first/Two back/' "$D/answers/a.md"
    wait_for csv_has 'Two back.'
}

@test "watch: SIGTERM during a build: exit 0, no temporaries, package intact" {
    # A deck big enough that a build takes a good fraction of a second.
    big_deck "$D" 3000
    start_watch -o "$OUT" "$D" --debounce 100 -v
    unzip -tqq "$OUT/deck.apkg"
    sed -i 's/Answer \*\*1\*\*/Answer **one**/' "$D/answers/part0.md"
    # -v logs the start of each build; the build takes several hundred ms.
    wait_for lines_at_least "$LOG" ': building' 2
    local t0=$SECONDS
    stop_watch TERM
    [ "$WSTATUS" -eq 0 ]
    [ $((SECONDS - t0)) -le 3 ]
    no_temporaries
    unzip -tqq "$OUT/deck.apkg"
    [ "$(fields | wc -l)" -eq 3000 ]
    apkg_has 'Answer <strong>one</strong>'
    log_has 'SIGTERM: stopping'
    # The build under way was finished, not cut off.
    [ "$(builds)" -eq 2 ]
}

@test "watch: SIGINT stops cleanly too" {
    start_watch -o "$OUT" "$D" --debounce 100
    stop_watch INT
    [ "$WSTATUS" -eq 0 ]
    log_has 'SIGINT: stopping'
}

@test "watch: SIGHUP rescans and rebuilds every deck" {
    start_watch -o "$OUT" "$D" --debounce 100
    [ "$(builds)" -eq 1 ]
    kill -HUP "$WPID"
    wait_for builds_at_least 2
    log_has 'SIGHUP: reading the deck list again'
    log_has 'rebuilt: .*, unchanged$'
    kill -0 "$WPID"
}

@test "watch: SIGHUP picks up a new deck under ./decks" {
    mkdir -p "$SCRATCH/proj/decks"
    mv "$D" "$SCRATCH/proj/decks/one"
    cd "$SCRATCH/proj"
    start_watch -o out --debounce 100
    [ -f out/one.apkg ]
    make_deck decks/two
    kill -HUP "$WPID"
    wait_for test -f out/two.apkg
    printf '## What is three?\n\nThree in two.\n' >decks/two/answers/t.md
    wait_for grep -qF 'Three in two.' out/two.csv
}

# --- what must not trigger ------------------------------------------------------

@test "watch: junk, hidden folders, the lock file and outputs in the deck never trigger" {
    start_watch -o "$D/out" "$D" --debounce 100 -v
    settle
    [ "$(builds)" -eq 1 ]  # its own outputs did not wake it
    local n
    n=$(builds)
    cd "$D/answers"
    echo x >.a.md.swp
    echo x >'#a.md#'
    echo x >a.md~
    echo x >./4913
    ln -s nowhere .#a.md
    echo x >.syncthing.a.md.tmp
    echo x >a.sync-conflict-20240101-120000-ABCDEFG.md
    mkdir -p .hidden/deeper && echo x >.hidden/deeper/x.md
    mkdir -p .trash && echo x >.trash/old.md
    echo x >"$D/.mdeck-watch.lock"
    touch "$D/mdeck.lock"
    echo x >"$D/out/stray.apkg"
    sleep 0.6
    [ "$(builds)" -eq "$n" ]
    [ "$(count 'changed:')" -eq 0 ]
    # ... while a real change still does.
    sed -i 's/One first/One real/' a.md
    wait_for csv_has_in "$D/out/deck.csv" 'One real.'
    log_has 'changed: .*answers/a.md moved in'
}

@test "watch: the output folder may be the deck folder itself" {
    start_watch -o "$D" "$D" --debounce 100
    settle
    [ "$(builds)" -eq 1 ]
    [ -f "$D/deck.apkg" ]
    sed -i 's/One first/One here/' "$D/answers/a.md"
    wait_for csv_has_in "$D/deck.csv" 'One here.'
    settle
    [ "$(builds)" -eq 2 ]
}

@test "watch: symlinks are not followed (no loops)" {
    ln -s .. "$D/answers/up"
    ln -s / "$D/root"
    mkdir -p "$SCRATCH/linked"
    ln -s "$SCRATCH/linked" "$D/linked"
    start_watch -o "$OUT" "$D" --debounce 100
    # deck and deck/answers: two folders.
    log_has 'watching 1 deck \(2 folders\)'
    kill -0 "$WPID"
}

# --- limits -----------------------------------------------------------------

@test "watch: inotify queue overflow: full rescan and rebuild, logged once" {
    mkdir -p "$D/answers/many"
    start_watch -o "$OUT" "$D" --debounce 100
    local n
    n=$(builds)
    kill -STOP "$WPID"
    # ~3 events a file (create, attrib, close): well past 16384 queued events.
    (cd "$D/answers/many" && seq 1 8000 | sed 's/^/f/' | xargs touch)
    printf '## What is three?\n\nThree during overflow.\n' >"$D/answers/many/t.md"
    kill -CONT "$WPID"
    wait_for csv_has 'Three during overflow.'
    [ "$(count 'queue overflowed')" -eq 1 ]
    log_has 'max_queued_events'
    settle
    [ $(( $(builds) - n )) -le 3 ]
}

@test "watch: watch limit reached: clear message, keeps going, rescans" {
    mkdir -p "$D/answers/b/c"
    export MDECK_TEST_MAX_WATCHES=2 MDECK_TEST_RESCAN_MS=500
    start_watch -o "$OUT" "$D" --debounce 100
    log_has 'inotify watch limit is reached \(sysctl fs.inotify.max_user_watches = [0-9]+'
    # A watched folder still works at once.
    sed -i 's/One first/One watched/' "$D/answers/a.md"
    wait_for csv_has 'One watched.'
    # An unwatched one is found by the rescan.
    printf '## What is three?\n\nThree unwatched.\n' >"$D/answers/b/c/t.md"
    wait_for csv_has 'Three unwatched.'
    [ "$(count 'watch limit is reached')" -eq 1 ]
    kill -0 "$WPID"
}

@test "watch: --poll sees changes that send no events (network file systems)" {
    # MDECK_TEST_NO_EVENTS drops every inotify event, as NFS, CIFS or sshfs
    # do for changes made on the other side.  Without --poll nothing is
    # seen; with it, the change is built within a poll or two.
    export MDECK_TEST_NO_EVENTS=1
    start_watch -o "$OUT" "$D" --debounce 100
    sed -i 's/One first/One unseen/' "$D/answers/a.md"
    sleep 2.5
    ! csv_has 'One unseen.' || false
    [ "$(builds)" -eq 1 ]
    stop_watch
    [ "$WSTATUS" -eq 0 ]
    start_watch -o "$OUT" "$D" --debounce 100 --poll 1
    log_has 'also looking at every deck every 1 s \(--poll\)'
    csv_has 'One unseen.' # the first build reads everything
    sed -i 's/One unseen/One polled/' "$D/answers/a.md"
    wait_for csv_has 'One polled.'
    printf '## What is three?\n\nThree polled.\n' >"$D/answers/new.md"
    wait_for csv_has 'Three polled.'
    # nothing changed: polling builds nothing
    settle
    local n
    n=$(builds)
    sleep 2.5
    [ "$(builds)" -eq "$n" ]
    stop_watch
    [ "$WSTATUS" -eq 0 ]
}

# --- systemd ----------------------------------------------------------------

@test "watch: sd_notify READY=1 after the first build, STATUS, STOPPING=1" {
    # A short path: sun_path holds 108 bytes.
    local sock
    sock=$(mktemp -u /tmp/mdeck-notify.XXXXXX)
    NOTIFY_SOCK=$sock
    python3 "$H/notify-listen.py" "$sock" "$SCRATCH/notify.log" 3>&- &
    local lp=$!
    wait_for grep -q listening "$SCRATCH/notify.log"
    NOTIFY_SOCKET=$sock start_watch -o "$OUT" "$D" --debounce 100
    wait_for grep -q 'READY=1' "$SCRATCH/notify.log"
    grep -q 'STATUS=.*rebuilt: 3 notes' "$SCRATCH/notify.log"
    # READY came after the first build's STATUS.
    [ "$(grep -n 'rebuilt' "$SCRATCH/notify.log" | head -1 | cut -d: -f1)" -lt \
      "$(grep -n 'READY=1' "$SCRATCH/notify.log" | head -1 | cut -d: -f1)" ]
    kill -HUP "$WPID"
    wait_for grep -q 'RELOADING=1;MONOTONIC_USEC=' "$SCRATCH/notify.log"
    wait_for lines_at_least "$SCRATCH/notify.log" 'READY=1' 2
    stop_watch TERM
    [ "$WSTATUS" -eq 0 ]
    wait "$lp"
    grep -qx 'STOPPING=1' "$SCRATCH/notify.log"
}

@test "watch: sd_notify to an abstract socket; no timestamps under journald" {
    local name="@mdeck-test-$$-$RANDOM"
    python3 "$H/notify-listen.py" "$name" "$SCRATCH/notify.log" 3>&- &
    local lp=$!
    wait_for grep -q listening "$SCRATCH/notify.log"
    # JOURNAL_STREAM must name the stream stderr really is: take the log's.
    : >"$LOG"
    local js
    js=$(stat -c '%d:%i' "$LOG")
    NOTIFY_SOCKET=$name JOURNAL_STREAM=$js "$MDECK" watch -o "$OUT" "$D" --debounce 100 \
        >/dev/null 2>>"$LOG" </dev/null 3>&- &
    WPID=$!
    wait_for grep -q 'READY=1' "$SCRATCH/notify.log"
    stop_watch TERM
    wait "$lp"
    grep -qx 'STOPPING=1' "$SCRATCH/notify.log"
    grep -qE '^<6>mdeck: .*/deck: rebuilt: ' "$LOG"
    run ! grep -qE '^[0-9]{2}:[0-9]{2}' "$LOG"
}
