#!/usr/bin/env bats
# Faults while building: the output disk full, the output folder read-only
# or removed, a source removed mid-build, the process killed with SIGKILL
# mid-write.  In every case the previous outputs stay byte-identical (or,
# after a kill, are the complete new ones), no partial file is ever
# visible under an output's name, and the next run succeeds and removes
# the temporaries a killed run left (docs/security.md, "Faults").
#
# Mounts (tmpfs, read-only bind) need root; where mount fails the test is
# skipped with the reason.

load helpers
load helpers/hostile

GEN="$MDECK_TOP/tests/e2e/helpers/gen-hostile.py"

setup() {
    make_scratch
    export MDECK_NOW=1790000000
    export TMPDIR="$SCRATCH/tmp"
    mkdir -p "$TMPDIR"
    MOUNTS=()
}

teardown() {
    for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
    drop_scratch
}

# try_mount DIR ARGS...: mounts, remembers it for teardown; 1 when mount fails.
try_mount() {
    local dir=$1
    shift
    mkdir -p "$dir"
    mount "$@" "$dir" 2>"$SCRATCH/mount.err" || return 1
    MOUNTS=("$dir" "${MOUNTS[@]}")
}

# outputs_sum DIR: the outputs (not the hidden temporaries) byte for byte.
outputs_sum() {
    (cd "$1" && find . -maxdepth 1 -type f ! -name '.*' -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

no_temporaries() {
    ! find "$@" -name '.*.mdeck-tmp-*' | grep .
}

# full_disk SIZE: a tmpfs of SIZE at $SCRATCH/full (or the test is
# skipped), a small deck built into $SCRATCH/full/out, and those outputs'
# sums in $before.
full_disk() {
    try_mount "$SCRATCH/full" -t tmpfs -o size="$1" tmpfs || skip "cannot mount a tmpfs: $(cat "$SCRATCH/mount.err")"
    small_deck "$SCRATCH/deck"
    run "$MDECK" build -q -o "$SCRATCH/full/out" "$SCRATCH/deck"
    [ "$status" -eq 0 ]
    before=$(outputs_sum "$SCRATCH/full/out")
}

# failed_kept: the last run failed, said so, and left the outputs of
# full_disk as they were, without temporaries.
failed_kept() {
    [ "$status" -eq 1 ]
    [[ "$output" == *"build failed; previous outputs in $SCRATCH/full/out kept"* ]]
    [ "$(outputs_sum "$SCRATCH/full/out")" = "$before" ]
    no_temporaries "$SCRATCH/full"
}

@test "faults: output disk full: previous outputs kept, next run succeeds" {
    full_disk 1m
    # An incompressible 1.5 MB image: the new package cannot fit.
    head -c 1500000 /dev/urandom >"$SCRATCH/deck/answers/big.png"
    printf '\n![big](big.png)\n' >>"$SCRATCH/deck/answers/a.md"
    run "$MDECK" build -q -o "$SCRATCH/full/out" "$SCRATCH/deck"
    echo "$output"
    failed_kept
    [[ "$output" == *"No space left on device"*"previous file is kept"* ]]
    # Space again: the same build now succeeds.
    mount -o remount,size=16m "$SCRATCH/full"
    run "$MDECK" build -q -o "$SCRATCH/full/out" "$SCRATCH/deck"
    [ "$status" -eq 0 ]
    run "$MDECK" inspect "$SCRATCH/full/out/deck.apkg"
    [ "$status" -eq 0 ]
    [[ "$output" == *"mdeck-"*".png"* ]]
}

@test "faults: disk full while the collection is written: previous outputs kept" {
    # The collection is written beside the outputs, in 64 KiB pieces
    # gathered by mdeck's SQLite VFS (src/apkg-vfs.c), so the write that
    # fails may be one SQLite made earlier; the build must still fail
    # cleanly, keep the previous outputs and leave no temporaries.
    full_disk 2m
    # 3,000 questions: a ~4 MB collection, which cannot fit
    python3 "$MDECK_TOP/bench/gen-deck.py" --seed 3 3000 "$SCRATCH/big" >/dev/null
    rm -rf "$SCRATCH/deck"
    mv "$SCRATCH/big" "$SCRATCH/deck"
    run "$MDECK" build -q -o "$SCRATCH/full/out" "$SCRATCH/deck"
    echo "$output"
    failed_kept
    [[ "$output" == *"deck.apkg: error: cannot build the Anki collection: database or disk is full (the previous file is kept)"* ]]
    [ -z "$(find "$SCRATCH/full" -name '*collection*')" ] || false
    # Space again: the same build now succeeds, and the package holds
    # every note.
    mount -o remount,size=32m "$SCRATCH/full"
    run "$MDECK" build -q -o "$SCRATCH/full/out" "$SCRATCH/deck"
    [ "$status" -eq 0 ]
    python3 "$MDECK_TOP/tests/tools/apkg_check.py" -q "$SCRATCH/full/out/deck.apkg"
    # the same text files as the deck built where there is room, and its
    # notes in the package (with the small deck's, kept as removed notes)
    "$MDECK" build -q -o "$SCRATCH/roomy" "$SCRATCH/deck"
    cmp "$SCRATCH/full/out/deck.csv" "$SCRATCH/roomy/deck.csv"
    cmp "$SCRATCH/full/out/deck.quizlet.txt" "$SCRATCH/roomy/deck.quizlet.txt"
    count() {
        "$MDECK" inspect --json "$1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["notes"]))'
    }
    n=$(count "$SCRATCH/full/out/deck.apkg")
    [ "$n" -gt 2900 ]
    [ "$n" -ge "$(count "$SCRATCH/roomy/deck.apkg")" ]
}

@test "faults: output folder read-only: previous outputs kept, next run succeeds" {
    small_deck "$SCRATCH/deck"
    run "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck"
    [ "$status" -eq 0 ]
    before=$(outputs_sum "$SCRATCH/out")
    try_mount "$SCRATCH/out" --bind "$SCRATCH/out" || skip "cannot bind-mount: $(cat "$SCRATCH/mount.err")"
    mount -o remount,ro,bind "$SCRATCH/out" || skip "cannot remount read-only"
    # Unchanged outputs need no write: the build succeeds.
    run "$MDECK" build -o "$SCRATCH/out" "$SCRATCH/deck"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"apkg unchanged csv unchanged quizlet unchanged"* ]]
    # Changed ones cannot be written: an error, and nothing replaced.
    printf -- '- A new question\n' >>"$SCRATCH/deck/index.md"
    run "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ "$output" == *"Read-only file system"*"previous file is kept"* ]]
    [ "$(outputs_sum "$SCRATCH/out")" = "$before" ]
    mount -o remount,rw,bind "$SCRATCH/out"
    run "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck"
    [ "$status" -eq 0 ]
    grep -q "A new question" "$SCRATCH/out/deck.csv"
}

@test "faults: output folder removed before and during builds: next run succeeds" {
    python3 "$GEN" kill-deck "$SCRATCH/deck" 2000 2
    rm -rf "$SCRATCH/out"
    run "$MDECK" build -q -o "$SCRATCH/out/sub" "$SCRATCH/deck"
    [ "$status" -eq 0 ] # created, with its parents
    for i in 1 2 3 4 5 6 7 8; do
        "$MDECK" build -q -o "$SCRATCH/out/sub" "$SCRATCH/deck" 2>"$SCRATCH/err" &
        pid=$!
        sleep "0.0$((i * 7 % 10))$i"
        # rm itself may fail while the build creates the folder again.
        rm -rf "$SCRATCH/out" 2>/dev/null || true
        rc=0
        wait "$pid" || rc=$?
        cat "$SCRATCH/err"
        [ "$rc" -le 1 ] # a source/output error at worst, never a crash
        if [ "$rc" -eq 1 ]; then grep -q "previous" "$SCRATCH/err"; fi
    done
    run "$MDECK" build -q -o "$SCRATCH/out/sub" "$SCRATCH/deck"
    [ "$status" -eq 0 ]
    run "$MDECK" inspect "$SCRATCH/out/sub/deck.apkg"
    [ "$status" -eq 0 ]
    no_temporaries "$SCRATCH"
}

@test "faults: sources removed mid-build: outputs old or complete, next run succeeds" {
    python3 "$GEN" kill-deck "$SCRATCH/pristine" 2000 2
    cp -R "$SCRATCH/pristine" "$SCRATCH/deck"
    run "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck"
    [ "$status" -eq 0 ]
    for i in 1 2 3 4 5 6 7 8 9; do
        before=$(outputs_sum "$SCRATCH/out")
        printf -- '- Extra question %d\n' "$i" >>"$SCRATCH/deck/index.md"
        "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck" 2>"$SCRATCH/err" &
        pid=$!
        sleep "0.$((i * 37 % 100))"
        case $((i % 3)) in
        0) rm -rf "$SCRATCH/deck/answers" ;;
        1) rm -f "$SCRATCH/deck/img/"*.png ;;
        2) rm -f "$SCRATCH/deck/index.md" ;;
        esac
        rc=0
        wait "$pid" || rc=$?
        cat "$SCRATCH/err"
        [ "$rc" -le 1 ]
        if [ "$rc" -eq 1 ]; then
            [ "$(outputs_sum "$SCRATCH/out")" = "$before" ]
        else
            unzip -tq "$SCRATCH/out/deck.apkg" >/dev/null
            "$MDECK" inspect "$SCRATCH/out/deck.apkg" >/dev/null
        fi
        # The sources come back (as after a checkout): the build succeeds.
        rm -rf "$SCRATCH/deck"
        cp -R "$SCRATCH/pristine" "$SCRATCH/deck"
        run "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck"
        [ "$status" -eq 0 ]
    done
    no_temporaries "$SCRATCH"
}

@test "faults: SIGKILL at any moment: outputs are the old or the complete new ones; next run cleans up" {
    python3 "$GEN" kill-deck "$SCRATCH/deck" 3000 4
    run "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck"
    [ "$status" -eq 0 ]
    # How long a build takes here: the kills are spread over it.
    t0=$(date +%s%N)
    sed -i 's/^Answer 1:/Answer one:/' "$SCRATCH/deck/answers/a.md"
    "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck"
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    echo "one build: $ms ms"
    n=16
    for i in $(seq 1 $n); do
        rm -rf "$SCRATCH/old" "$SCRATCH/new"
        cp -a "$SCRATCH/out" "$SCRATCH/old"
        cp "$SCRATCH/deck/mdeck.lock" "$SCRATCH/old.lock"
        # Change answers, a question (the lock changes) and an image.
        sed -i "s/^Answer 2:.*/Answer 2: version $i/" "$SCRATCH/deck/answers/a.md"
        sed -i "s/^- \[Kill question 5\]/- [Kill question 5 v$i]/; s/^- \[Kill question 5 v[0-9]* v/- [Kill question 5 v/" "$SCRATCH/deck/index.md"
        printf '%s' "$i" >>"$SCRATCH/deck/img/3.png"
        # The complete new outputs, for comparison: the same build, unkilled,
        # on a copy.
        cp -a "$SCRATCH/out" "$SCRATCH/new"
        rm -rf "$SCRATCH/ref" && mkdir "$SCRATCH/ref"
        cp -a "$SCRATCH/deck" "$SCRATCH/ref/deck"
        "$MDECK" build -q -o "$SCRATCH/new" "$SCRATCH/ref/deck"
        cp "$SCRATCH/ref/deck/mdeck.lock" "$SCRATCH/new.lock"
        "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck" 2>/dev/null &
        pid=$!
        if [ $((i % 2)) -eq 1 ]; then
            # Odd kills: as soon as the package's temporary exists, i.e. while
            # it is being written.
            when="mid-write"
            for _ in $(seq 1 3000); do
                compgen -G "$SCRATCH/out/.deck.apkg.mdeck-tmp-*" >/dev/null && break
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.001
            done
        else
            # Even kills: at times spread from the start to past the end.
            delay=$(( ms * i * 2 / n + RANDOM % 20 ))
            when="after $delay ms"
            sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
        fi
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        state=
        for f in deck.apkg deck.csv deck.quizlet.txt; do
            if cmp -s "$SCRATCH/out/$f" "$SCRATCH/old/$f"; then
                state="$state $f:old"
            elif cmp -s "$SCRATCH/out/$f" "$SCRATCH/new/$f"; then
                state="$state $f:new"
            else
                echo "kill $i ($when): $f is neither the old nor the new one"
                false
            fi
        done
        cmp -s "$SCRATCH/deck/mdeck.lock" "$SCRATCH/old.lock" || cmp -s "$SCRATCH/deck/mdeck.lock" "$SCRATCH/new.lock"
        # Nothing but the outputs and hidden temporaries.
        [ -z "$(ls "$SCRATCH/out" | grep -v -x -e deck.apkg -e deck.csv -e deck.quizlet.txt)" ]
        left=$(find "$SCRATCH/out" "$SCRATCH/deck" -name '.*.mdeck-tmp-*' | wc -l)
        echo "kill $i ($when):$state, $left temporaries left"
        # The next run succeeds, makes the new outputs and removes the temporaries.
        run "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck"
        [ "$status" -eq 0 ]
        [ "$(outputs_sum "$SCRATCH/out")" = "$(outputs_sum "$SCRATCH/new")" ]
        no_temporaries "$SCRATCH/out" "$SCRATCH/deck"
    done
}

@test "faults: libxml2 is loaded only when an answer needs it; a broken one stops the build, outputs kept" {
    small_deck "$SCRATCH/deck"
    # The renderer's own HTML needs no parser: libxml2 is never opened.
    LD_DEBUG=files "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck" 2>"$SCRATCH/ld.log"
    ! grep -q 'libxml2' "$SCRATCH/ld.log" || false
    before=$(outputs_sum "$SCRATCH/out")
    # Raw HTML in an answer goes through the sanitizer: now it is.
    printf '\n<div class="x">raw <b>HTML</b></div>\n' >>"$SCRATCH/deck/answers/a.md"
    LD_DEBUG=files "$MDECK" build -q -o "$SCRATCH/out2" "$SCRATCH/deck" 2>"$SCRATCH/ld.log"
    grep -q 'file=libxml2.so.2 .*dynamically loaded' "$SCRATCH/ld.log"
    grep -q '<b>HTML</b>' "$SCRATCH/out2/deck.csv"
    # A libxml2.so.2 without libxml2's functions, found first: the build
    # stops with an error of the environment, and nothing is replaced.
    mkdir -p "$SCRATCH/lib"
    printf 'int not_libxml2;\n' >"$SCRATCH/lib/empty.c"
    cc -shared -fPIC -o "$SCRATCH/lib/libxml2.so.2" "$SCRATCH/lib/empty.c"
    LD_LIBRARY_PATH="$SCRATCH/lib" run "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck"
    echo "$output"
    [ "$status" -eq 3 ]
    [[ "$output" == *"mdeck: error: the libxml2.so.2 found has no htmlReadMemory"*"install the libxml2 package"* ]]
    [ "$(outputs_sum "$SCRATCH/out")" = "$before" ]
    # With the real one the same build succeeds and removes what the stopped one left.
    run "$MDECK" build -q -o "$SCRATCH/out" "$SCRATCH/deck"
    [ "$status" -eq 0 ]
    grep -q '<b>HTML</b>' "$SCRATCH/out/deck.csv"
    no_temporaries "$SCRATCH/out"
}
