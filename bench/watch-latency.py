#!/usr/bin/env python3
"""watch-latency.py - how long `mdeck watch` takes to put a new package in
place after one answer is edited.

usage: watch-latency.py [--edits N] [--debounce MS] MDECK DECK OUTDIR

Starts `MDECK watch -o OUTDIR --debounce MS DECK`, waits for its first
build, then N times: appends a sentence to one answer (a different answer
file each time, as an editor's save would: write a temporary file, rename it
over the answer), and polls OUTDIR/<deck>.apkg until a new file is in place.
Prints one line per edit and the medians: the time from the save to the new
package, the same minus the debounce, and the build time the watcher logged.
DECK is edited: give it a scratch copy.  Standard library only.
"""

import argparse
import glob
import os
import re
import statistics
import subprocess
import sys
import time


def stamp(path):
    try:
        st = os.stat(path)
        return (st.st_ino, st.st_mtime_ns, st.st_size)
    except FileNotFoundError:
        return None


def wait_for(pred, timeout, step=0.002):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--edits", type=int, default=5)
    ap.add_argument("--debounce", type=int, default=200)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("mdeck")
    ap.add_argument("deck")
    ap.add_argument("outdir")
    a = ap.parse_args()
    slug = os.path.basename(os.path.normpath(a.deck))
    pkg = os.path.join(a.outdir, slug + ".apkg")
    log_path = os.path.join(a.outdir + ".watch.log")
    os.makedirs(a.outdir, exist_ok=True)
    answers = sorted(glob.glob(os.path.join(a.deck, "answers", "*.md")))
    if not answers:
        sys.exit("watch-latency: no answers/*.md in %s" % a.deck)
    log = open(log_path, "w+")
    proc = subprocess.Popen([a.mdeck, "watch", "-o", a.outdir, "--debounce", str(a.debounce),
                             a.deck], stderr=log, stdout=subprocess.DEVNULL)
    builds = lambda: len(re.findall(r": (?:rebuilt|built|unchanged)\b.*", open(log_path).read()))
    rows = []
    try:
        if not wait_for(lambda: builds() >= 1 and stamp(pkg), a.timeout, 0.05):
            sys.exit("watch-latency: no first build within %d s (see %s)" % (a.timeout, log_path))
        time.sleep(0.5)
        for i in range(a.edits):
            before, nbuilds = stamp(pkg), builds()
            path = answers[(i * 7) % len(answers)]
            with open(path, encoding="utf-8") as f:
                text = f.read()
            tmp = os.path.join(os.path.dirname(path), ".edit.tmp")
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text.rstrip("\n") + " Edited %d.\n" % i)
            t0 = time.monotonic()
            os.rename(tmp, path)
            if not wait_for(lambda: stamp(pkg) != before, a.timeout):
                sys.exit("watch-latency: no new package within %d s (see %s)" % (a.timeout, log_path))
            t1 = time.monotonic()
            wait_for(lambda: builds() > nbuilds, 5, 0.01)
            lines = re.findall(r", (\d+) ms, ", open(log_path).read())
            build_ms = int(lines[-1]) if lines else float("nan")
            ms = (t1 - t0) * 1000
            rows.append((ms, ms - a.debounce, build_ms))
            print("edit %d: new package %.0f ms after the save (%.0f ms after the debounce; "
                  "the watcher logged a %d ms build)" % (i + 1, ms, ms - a.debounce, build_ms))
            time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(10)
    med = [statistics.median(c) for c in zip(*rows)]
    print("median: %.0f ms after the save, %.0f ms after the debounce, build %.0f ms"
          % tuple(med))


if __name__ == "__main__":
    main()
