#!/bin/sh
# Builds the libFuzzer harnesses of tests/fuzz/ with clang
# (-fsanitize=fuzzer,address,undefined) and runs each for FUZZ_SECONDS.
#
#   sh tests/fuzz/run.sh [HARNESS...]     (make fuzz [FUZZ_SECONDS=N])
#
#   FUZZ_SECONDS  seconds per harness (default 60)
#   FUZZ_NICE     nice level of the fuzzing processes (default 19)
#   FUZZ_JOBS     parallel fuzzing processes per harness (default 1)
#
# The corpus of each harness grows in build/fuzz/corpus/NAME across runs;
# seeds are made from the tests by make-seeds.py, and the saved crash
# inputs of tests/fuzz/regressions/NAME are always part of it.  A crash,
# leak, UB or hang (an input slower than 10 s) is saved as
# build/fuzz/artifacts/NAME-crash-… (or -leak-, -timeout-, -oom-); the
# script then exits 1.  To keep one as a regression case, copy it into
# tests/fuzz/regressions/NAME/ (test_fuzz_regress replays them in `make test`)
# and add a unit test or spec example for the bug.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
SECONDS_EACH=${FUZZ_SECONDS:-60}
NICE=${FUZZ_NICE:-19}
JOBS=${FUZZ_JOBS:-1}
B=build/fuzz
ALL="index render scan match sanitize frontmatter apkg images"
targets=${*:-$ALL}

# clang and its libFuzzer runtime: installed here, only for fuzzing.
probe() {
    printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' \
        >"$B/probe.c" && clang -fsanitize=fuzzer,address,undefined -o "$B/probe" "$B/probe.c" 2>/dev/null
}
mkdir -p "$B"
if ! command -v clang >/dev/null 2>&1 || ! probe; then
    echo "fuzz: installing clang and libclang-rt-14-dev (libFuzzer)"
    SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            clang libclang-rt-14-dev >/dev/null
    probe || { echo "fuzz: clang cannot build libFuzzer harnesses" >&2; exit 2; }
fi

SAN='-fsanitize=address,undefined -fno-sanitize-recover=undefined'
make --no-print-directory -s B=$B CC=clang CFLAGS='-O1 -g -fno-omit-frame-pointer' \
    EXTRA_CFLAGS="-fsanitize=fuzzer-no-link $SAN" $B/libmdeck.a || exit 2
# the libraries the Makefile links (one list, so they cannot drift apart)
PKGS=$(sed -n "s/^PKGS *:= *//p" Makefile)
# libxml2 is opened when first needed (src/xmllib.c), not linked
LINKED=$(printf '%s\n' $PKGS | grep -vx 'libxml-2.0' | tr '\n' ' ')
for t in $targets; do
    src=tests/fuzz/fuzz_$t.c
    [ -f "$src" ] || { echo "fuzz: no harness $src" >&2; exit 2; }
    if [ ! -x "$B/fuzz_$t" ] || [ -n "$(find "$src" tests/fuzz/fuzz.h $B/libmdeck.a -newer "$B/fuzz_$t")" ]; then
        # shellcheck disable=SC2046
        clang -std=c17 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer $SAN -D_GNU_SOURCE \
            -Iinclude -Itests/fuzz $(pkg-config --cflags $PKGS) -o "$B/fuzz_$t" "$src" \
            $B/libmdeck.a $(pkg-config --libs $LINKED) -lm || exit 2
    fi
done

rm -rf "$B/seeds"
# The apkg seeds are packages that a normal mdeck builds.
seedbin=$top/build/mdeck
[ -x "$seedbin" ] || make --no-print-directory -s build/mdeck >/dev/null || exit 2
python3 tests/fuzz/make-seeds.py "$B/seeds" "$seedbin" >/dev/null || exit 2

status=0
mkdir -p "$B/artifacts"
for t in $targets; do
    corpus=$B/corpus/$t
    mkdir -p "$corpus" "tests/fuzz/regressions/$t"
    case $t in apkg) maxlen=200000 ;; match) maxlen=65536 ;; *) maxlen=32768 ;; esac
    dict=; [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
    jobs=; [ "$JOBS" -gt 1 ] && jobs="-jobs=$JOBS -workers=$JOBS"
    before=$(ls "$B/artifacts" | wc -l)
    log=$B/fuzz-$t.log
    # shellcheck disable=SC2086
    nice -n "$NICE" "$B/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=10 \
        -rss_limit_mb=2048 -max_len=$maxlen -print_final_stats=1 $dict \
        $jobs \
        -artifact_prefix="$B/artifacts/$t-" "$corpus" "$B/seeds/$t" \
        "tests/fuzz/regressions/$t" >"$log" 2>&1
    rc=$?
    [ "$JOBS" -gt 1 ] && cat fuzz-*.log >>"$log" 2>/dev/null && rm -f fuzz-*.log
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | awk '{s+=$1} END {print s+0}')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    found=$(( $(ls "$B/artifacts" | wc -l) - before ))
    printf 'fuzz %-12s %9s execs in %ss, %s, corpus %s, %s new finding(s)\n' \
        "$t" "$execs" "$SECONDS_EACH" "${cov:-cov: ?}" "$(ls "$corpus" | wc -l)" "$found"
    if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
        status=1
        grep -E 'ERROR|SUMMARY|fuzz property|Test unit written' "$log" | head -20
    fi
done
exit $status
