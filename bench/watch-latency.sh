#!/bin/sh
# watch-latency.sh [MDECK] [EDITS] [DEBOUNCE_MS] - how long from saving an
# answer to a new package on disk under `mdeck watch`.
#
# Copies decks/aigc-100 (or makes a small deck when it is missing) to
# bench/cache/watch-latency/, starts the watcher with the given debounce
# (default: the watcher's own, 200 ms), then makes EDITS (default 10)
# rename-saves 1.5 s apart and times each one until the CSV shows it.
# Prints one line per edit and a min / median / max summary.  Expect about
# the debounce plus one build.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mdeck=${1:-$top/mdeck}
edits=${2:-10}
debounce=${3:-}
work=$top/bench/cache/watch-latency
rm -rf "$work"
mkdir -p "$work"
if [ -d "$top/decks/aigc-100" ]; then
    cp -r "$top/decks/aigc-100" "$work/deck"
    chmod -R u+w "$work/deck"
else
    mkdir -p "$work/deck/answers"
    printf '# Bench\n\n- [What is one?](https://example.com/1)\n' >"$work/deck/index.md"
    printf '## What is one?\n\nOne.\n' >"$work/deck/answers/a.md"
fi
target=$(find "$work/deck/answers" -name '*.md' | sort | head -1)
set -- watch -o "$work/out" "$work/deck"
[ -n "$debounce" ] && set -- "$@" --debounce "$debounce"
"$mdeck" "$@" 2>"$work/log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
i=0
while ! grep -q 'rebuilt' "$work/log"; do
    i=$((i + 1)); [ $i -lt 600 ] || { cat "$work/log"; exit 1; }
    sleep 0.05
done
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
: >"$work/times"
n=1
while [ $n -le "$edits" ]; do
    sleep 1.5
    mark="benchmark-edit-$n-$$"
    t0=$(now_ms)
    # A rename-save, as editors do it.
    { cat "$target"; printf '\n%s\n' "$mark"; } >"$target.tmp~"
    mv "$target.tmp~" "$target"
    while ! grep -q "$mark" "$work/out/deck.csv" 2>/dev/null; do sleep 0.005; done
    t=$(( $(now_ms) - t0 ))
    echo "edit $n: $t ms"
    echo "$t" >>"$work/times"
    n=$((n + 1))
done
sort -n "$work/times" | awk '{v[NR]=$1} END {printf "min %d ms, median %d ms, max %d ms over %d edits\n", v[1], v[int((NR+1)/2)], v[NR], NR}'
