#!/usr/bin/env python3
"""bench.py - `make bench`: mdeck against synthetic decks, and the peers.

usage: bench.py [--sizes 1000,10000,100000] [--runs N] [--no-peers] [--no-watch]
                [--mdeck PATH] [--out FILE]

For each size, bench/gen-deck.py makes a deck (seed 1; kept in bench/cache/
and made again only when the generator or the seed changes), and mdeck
builds it (.apkg + CSV + Quizlet) several times in each scenario:

  fresh      no previous outputs (the lock file exists, as in a checkout)
  unchanged  previous outputs present, nothing changed: nothing is written
  one edit   previous outputs present, one answer changed: all rewritten
  first      no lock and no outputs: the first build of a deck (one run)

Every run's CPU time (user + sys) and peak memory (maximum resident set
size) are its resource usage as wait4() returns it, its wall time is
measured around it alone; the table shows medians (and the fastest
wall time) of 21 runs at 1,000 questions or fewer, 9 up to 10,000 and 5
above (--runs sets one count for all).  The results begin with how much
of the machine other processes and the hypervisor (steal) took during the
run: this machine's speed moves by ±15% over an hour.  Peers, fed the same
notes:

  sqlite3 + zip     the sqlite3 shell loads the rows of mdeck's collection
                    from an SQL file (same schema and pragmas, one
                    transaction, indexes last) and `zip -1` packs it: the
                    floor for the package alone, with no markdown at all
  anki-apkg-export  the npm package (installed into bench/cache/), fed the
                    rendered notes of `mdeck check --json`; stopped after
                    --peer-cap seconds

and `mdeck watch` latency (bench/watch-latency.py) on the largest deck and
on the shipped deck.  Results are printed as markdown tables and saved to
bench/cache/results.md.  Benchmarks are not tests: nothing here fails on a
slow number.
"""

import argparse
import hashlib
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(TOP, "bench")
CACHE = os.environ.get("BENCH_CACHE") or os.path.join(BENCH, "cache")
SEED = 1


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def ensure_tools():
    """The sqlite3 shell, zip and unzip for the floor peer:
    installed with apt-get when missing."""
    need = [pkg for pkg, ok in (("sqlite3", shutil.which("sqlite3")),
                                ("zip", shutil.which("zip")),
                                ("unzip", shutil.which("unzip"))) if not ok]
    if not need:
        return
    log("bench: installing %s" % " ".join(need))
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run(sudo + ["apt-get", "install", "-y", "-q"] + need, check=True,
                   stdout=subprocess.DEVNULL)


RUNSTAT = None  # set by main(): bench/runstat.c, built


def timed(cmd, env=None, timeout=None):
    """Runs cmd under runstat (bench/runstat.c): (wall s, cpu s, peak KB,
    exit code, stderr tail).  The wall time is the command's alone, to the
    microsecond; CPU time (user + sys) and peak memory (maximum resident
    set size) are its resource usage from wait4(), with the processes it
    waited for, as GNU time gives them."""
    with tempfile.NamedTemporaryFile("r", suffix=".stat") as sf, \
            tempfile.TemporaryFile("w+") as err:
        # a group of its own: a peer stopped at the timeout goes with
        # everything it started
        p = subprocess.Popen([RUNSTAT, "-o", sf.name] + cmd, env=env, stdout=subprocess.DEVNULL,
                             stderr=err, start_new_session=True)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            return (float(timeout), float("nan"), 0, 124, "stopped after %d s" % timeout)
        err.seek(0)
        lines = [l.strip() for l in err.read().splitlines() if l.strip()]
        # the line that says why, when it failed
        why = [l for l in lines if any(w in l for w in ("Cannot", "Error", "error:", "failed"))]
        tail = (why or lines[-1:] or [""])[0][:200]
        fields = sf.read().split()
        if len(fields) < 3:
            return (float("nan"), float("nan"), 0, rc, tail)
        return (float(fields[0]), float(fields[1]), int(fields[2]), rc, tail)


def med(rows, i):
    return statistics.median(r[i] for r in rows)


def tree_bytes(path, skip=("mdeck.lock",)):
    total = 0
    for dirpath, dirnames, files in os.walk(path):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for f in files:
            if not f.startswith(".") and f not in skip:
                total += os.path.getsize(os.path.join(dirpath, f))
    return total


def mb(n):
    return "%.1f MB" % (n / 1e6)


def secs(s):
    if s != s:  # nan
        return "-"
    if s < 0.1:  # a tenth of a millisecond: the 1k target is 30 ms
        return "%.1f ms" % (s * 1000)
    return "%.0f ms" % (s * 1000) if s < 1 else "%.2f s" % s


def cpu_model():
    """The processor as the kernel reports it, name then family and model:
    results taken on two machines of the same size can differ by half, so a
    run names its own."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, val = line.partition(":")
                key = key.strip()
                if not key:
                    break  # the first processor is enough
                info.setdefault(key, " ".join(val.split()))
    except OSError:
        pass
    name = info.get("model name") or "unknown CPU"
    if "cpu family" in info and "model" in info:
        name += ", family %s model %s" % (info["cpu family"], info["model"])
    return name


def gen_deck(n):
    """The deck of n questions, made once per generator version."""
    with open(os.path.join(BENCH, "gen-deck.py"), "rb") as f:
        stamp = "%s seed=%d n=%d" % (hashlib.sha256(f.read()).hexdigest()[:16], SEED, n)
    deck = os.path.join(CACHE, "decks", "q%d" % n)
    stamp_file = os.path.join(deck, ".bench-stamp")
    if os.path.exists(stamp_file) and open(stamp_file).read() == stamp:
        return deck
    log("bench: generating %d questions into %s" % (n, deck))
    shutil.rmtree(deck, ignore_errors=True)
    subprocess.run([sys.executable, os.path.join(BENCH, "gen-deck.py"), "--seed", str(SEED),
                    str(n), deck], check=True)
    with open(stamp_file, "w") as f:
        f.write(stamp)
    return deck


def edit_answer(deck, i, saved):
    """Changes one answer (a different one each time), as a save would;
    saved receives the original text, for restore_answers()."""
    answers = sorted(os.listdir(os.path.join(deck, "answers")))
    path = os.path.join(deck, "answers", answers[(i * 7) % len(answers)])
    with open(path, encoding="utf-8") as f:
        text = f.read()
    saved.setdefault(path, text)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.rstrip("\n") + " Bench edit %d.\n" % i)


def restore_answers(saved):
    for path, text in saved.items():
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def bench_size(a, n, results):
    deck = gen_deck(n)
    out = os.path.join(CACHE, "out", "q%d" % n)
    mdeck = [a.mdeck, "build", "-q", "-o", out, deck]
    # small decks take milliseconds and the machine's noise is of that
    # order: more runs for them
    runs = a.runs or (21 if n <= 1000 else 9 if n <= 10000 else 5)
    env = dict(os.environ)
    # Warm-up (not counted): makes the lock file and fills the page cache.
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run(mdeck, check=True, stderr=subprocess.DEVNULL)
    # What earlier work left to write back (a previous size's outputs, a
    # test run) is written now, not during the timed runs.
    os.sync()
    rows = {}
    log("bench: %d questions: fresh" % n)
    rows["fresh"] = []
    for _ in range(runs):
        shutil.rmtree(out, ignore_errors=True)
        rows["fresh"].append(timed(mdeck, env))
    log("bench: %d questions: unchanged" % n)
    rows["unchanged"] = [timed(mdeck, env) for _ in range(runs)]
    log("bench: %d questions: one edit" % n)
    rows["one edit"] = []
    saved = {}
    try:
        for i in range(runs):
            edit_answer(deck, i, saved)
            rows["one edit"].append(timed(mdeck, env))
    finally:
        restore_answers(saved)
    log("bench: %d questions: first build" % n)
    lock = os.path.join(deck, "mdeck.lock")
    shutil.move(lock, lock + ".bench")
    shutil.rmtree(out, ignore_errors=True)
    rows["first"] = [timed(mdeck, env)]
    shutil.move(lock + ".bench", lock)
    for k, v in rows.items():
        bad = [r for r in v if r[3] != 0]
        if bad:
            log("bench: %d questions, %s: mdeck failed: %s" % (n, k, bad[0][4]))
    outputs = {ext: os.path.getsize(os.path.join(out, "q%d%s" % (n, ext)))
               for ext in (".apkg", ".csv", ".quizlet.txt")}
    results["sizes"][n] = {"rows": rows, "sources": tree_bytes(deck), "outputs": outputs,
                           "runs": runs}

    if a.no_peers:
        return
    # sqlite3 + zip of the same rows
    work = os.path.join(CACHE, "floor", "q%d" % n)
    subprocess.run(["sh", os.path.join(BENCH, "peer-sqlite-zip.sh"), "prepare",
                    os.path.join(out, "q%d.apkg" % n), work], check=True)
    log("bench: %d questions: sqlite3 + zip" % n)
    floor = [timed(["sh", os.path.join(BENCH, "peer-sqlite-zip.sh"), "run", work,
                    os.path.join(work, "floor.apkg")]) for _ in range(runs)]
    results["sizes"][n]["floor"] = floor
    # anki-apkg-export, fed mdeck's rendered notes
    node = peer_node(a)
    if node:
        js = os.path.join(CACHE, "json", "q%d.json" % n)
        os.makedirs(os.path.dirname(js), exist_ok=True)
        with open(js, "w") as f:
            subprocess.run([a.mdeck, "check", "--json", deck], stdout=f,
                           stderr=subprocess.DEVNULL)
        log("bench: %d questions: anki-apkg-export (cap %d s)" % (n, a.peer_cap))
        results["sizes"][n]["npm"] = [timed(node + [js, os.path.join(CACHE, "npm-q%d.apkg" % n)],
                                            node_env(), timeout=a.peer_cap)]


def node_env():
    env = dict(os.environ)
    env["NODE_PATH"] = os.path.join(CACHE, "node_modules")
    return env


_node = []


def peer_node(a):
    """The command that runs the npm peer, installing it on first use; None
    when node or npm are missing or the install fails."""
    if _node:
        return _node[0]
    cmd = None
    if shutil.which("node") and shutil.which("npm"):
        mod = os.path.join(CACHE, "node_modules", "anki-apkg-export")
        if not os.path.isdir(mod):
            log("bench: npm install --prefix bench/cache anki-apkg-export")
            subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", CACHE,
                            "anki-apkg-export"], stdout=subprocess.DEVNULL)
        if os.path.isdir(mod):
            cmd = ["node", os.path.join(BENCH, "peer-anki-apkg-export.js")]
    if not cmd:
        log("bench: node/npm or anki-apkg-export unavailable: that peer is skipped")
    _node.append(cmd)
    return cmd


def npm_small(a, results):
    """The npm peer on a small cut of the smallest deck, where it works."""
    node = peer_node(a)
    if not node:
        return
    src = os.path.join(CACHE, "json", "q%d.json" % min(results["sizes"]))
    if not os.path.exists(src):
        return
    root = json.load(open(src))
    root["decks"][0]["notes"] = root["decks"][0]["notes"][:300]
    cut = os.path.join(CACHE, "json", "cut300.json")
    json.dump(root, open(cut, "w"))
    results["npm300"] = [timed(node + [cut, os.path.join(CACHE, "npm-cut300.apkg")], node_env(),
                               timeout=a.peer_cap) for _ in range(3)]


def watch_latency(a, results):
    largest = max(results["sizes"])
    for name, src in (("q%d" % largest, gen_deck(largest)),
                      ("aigc-100 (shipped)", os.path.join(TOP, "decks", "aigc-100"))):
        if not os.path.isdir(src):
            continue
        scratch = os.path.join(CACHE, "watch", os.path.basename(src))
        shutil.rmtree(os.path.dirname(scratch), ignore_errors=True)
        shutil.copytree(src, scratch, ignore=shutil.ignore_patterns(".*"))
        outdir = scratch + "-out"
        log("bench: watch latency on %s" % name)
        p = subprocess.run([sys.executable, os.path.join(BENCH, "watch-latency.py"), "--edits",
                            "5", a.mdeck, scratch, outdir], capture_output=True, text=True)
        lines = [l for l in p.stdout.splitlines() if l.startswith("median:")]
        results["watch"].append((name, lines[0] if lines else "failed: " + p.stderr.strip()[-200:]))


def report(results):
    L = []
    sizes = sorted(results["sizes"])
    L.append("| questions | scenario | wall (median) | wall (fastest) | CPU (median) | peak memory (median) | runs |")
    L.append("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for n in sizes:
        s = results["sizes"][n]
        for k in ("fresh", "unchanged", "one edit", "first"):
            r = s["rows"][k]
            L.append("| %d | %s | %s | %s | %s | %s | %d |" % (
                n, k, secs(med(r, 0)), secs(min(x[0] for x in r)), secs(med(r, 1)),
                mb(med(r, 2) * 1024), len(r)))
    L.append("")
    L.append("| questions | sources | .apkg | .csv | .quizlet.txt | memory target (1.5 x sources + 32 MB) |")
    L.append("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in sizes:
        s = results["sizes"][n]
        o = s["outputs"]
        L.append("| %d | %s | %s | %s | %s | %s |" % (n, mb(s["sources"]), mb(o[".apkg"]),
                                                     mb(o[".csv"]), mb(o[".quizlet.txt"]),
                                                     mb(1.5 * s["sources"] + 32e6)))
    if 10000 in results["sizes"] and 100000 in results["sizes"]:
        L.append("")
        for k in ("fresh", "one edit"):
            r10 = med(results["sizes"][10000]["rows"][k], 0)
            r100 = med(results["sizes"][100000]["rows"][k], 0)
            L.append("100k/10k wall ratio (%s): %.1f" % (k, r100 / r10))
    peers = [n for n in sizes if "floor" in results["sizes"][n]]
    if peers:
        L.append("")
        L.append("| questions | mdeck fresh (all three files) | sqlite3 + zip -1 (package only) | anki-apkg-export |")
        L.append("| ---: | ---: | ---: | --- |")
        for n in peers:
            s = results["sizes"][n]
            npm = "not run"
            if "npm" in s:
                w, c, m, rc, tail = s["npm"][0]
                npm = secs(w) if rc == 0 else ("failed after %s: %s" % (secs(w), tail[:90]))
            L.append("| %d | %s | %s | %s |" % (n, secs(med(s["rows"]["fresh"], 0)),
                                                secs(med(s["floor"], 0)), npm))
        if results.get("npm300"):
            r = results["npm300"]
            ok = [x for x in r if x[3] == 0]
            L.append("")
            L.append("anki-apkg-export on the first 300 notes: %s (median of %d)"
                     % (secs(med(ok, 0)) if ok else "failed: " + r[0][4][:90], len(r)))
    if results["watch"]:
        L.append("")
        L.append("| mdeck watch, one answer edited | result (5 edits, default 200 ms debounce) |")
        L.append("| --- | --- |")
        for name, line in results["watch"]:
            L.append("| %s | %s |" % (name, line))
    return "\n".join(L) + "\n"


def cpu_ticks():
    """/proc/stat's first line: (busy, steal) in clock ticks, all CPUs."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    return v[0] + v[1] + v[2] + v[5] + v[6], v[7] if len(v) > 7 else 0


def load_line(t0, ticks0, self0):
    """What else used the machine while the bench ran: the CPU time of
    every process minus the bench's own (its children's), and the time the
    hypervisor gave to other guests (steal), as shares of all CPUs."""
    hz = os.sysconf("SC_CLK_TCK")
    busy1, steal1 = cpu_ticks()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    ours = ru.ru_utime + ru.ru_stime - self0
    span = (time.monotonic() - t0) * (os.cpu_count() or 1)
    other = max(0.0, (busy1 - ticks0[0]) / hz - ours)
    return ("Machine load during the run: other processes %.0f%% of the CPUs, "
            "steal (time the host gave elsewhere) %.0f%%.\n\n"
            % (100 * other / span, 100 * (steal1 - ticks0[1]) / hz / span))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "1000,10000,100000"))
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "0")))
    ap.add_argument("--peer-cap", type=int, default=120)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--no-watch", action="store_true")
    ap.add_argument("--mdeck", default=os.environ.get("MDECK", os.path.join(TOP, "build", "mdeck")))
    ap.add_argument("--out", default=os.path.join(CACHE, "results.md"))
    ap.add_argument("--runstat", default=os.environ.get("RUNSTAT", os.path.join(TOP, "build", "runstat")))
    a = ap.parse_args()
    a.mdeck = os.path.abspath(a.mdeck)
    global RUNSTAT
    RUNSTAT = os.path.abspath(a.runstat)
    if not os.access(RUNSTAT, os.X_OK):
        RUNSTAT = os.path.join(CACHE, "runstat")
        os.makedirs(CACHE, exist_ok=True)
        subprocess.run(["cc", "-std=c17", "-O2", "-o", RUNSTAT, os.path.join(BENCH, "runstat.c")],
                       check=True)
    ensure_tools()
    os.makedirs(CACHE, exist_ok=True)
    results = {"sizes": {}, "watch": []}
    t0, ticks0 = time.monotonic(), cpu_ticks()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    self0 = ru.ru_utime + ru.ru_stime
    for n in [int(x) for x in a.sizes.replace(",", " ").split()]:
        bench_size(a, n, results)
    if not a.no_peers:
        npm_small(a, results)
    if not a.no_watch:
        watch_latency(a, results)
    text = report(results)
    head = "%s, %s, %d CPUs (%s), Linux %s\n\n" % (
        subprocess.run([a.mdeck, "--version"], capture_output=True, text=True).stdout.strip(),
        time.strftime("%Y-%m-%d %H:%M"), os.cpu_count(), cpu_model(), os.uname().release) + \
        load_line(t0, ticks0, self0)
    with open(a.out, "w") as f:
        f.write(head + text)
    print(head + text)


if __name__ == "__main__":
    main()
