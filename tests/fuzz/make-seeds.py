#!/usr/bin/env python3
"""make-seeds.py - seed corpora for the fuzz harnesses, made from the tests.

usage: make-seeds.py OUTDIR MDECK

Writes OUTDIR/<harness>/<name> for every harness of tests/fuzz/:
  index        docs/format.md "index" examples, the shipped index, fixtures
  render       every markdown input of tests/spec/*.txt, the shipped answers
  scan         the same markdown, and the bench's kind of answer file
  sanitize     the sanitize examples, the expected HTML of the render
               examples, the HTML fixture files
  frontmatter  the front-matter blocks of the index examples, answer files
  match        index examples and answer files joined as fuzz_match.c reads
               them (index NUL a.md NUL sub/b.md NUL c.html NUL mdeck.lock)
  apkg         a package MDECK builds from a small deck, raw (first byte 0)
               and taken apart (first byte 1: media map and collection)
Nothing large is committed: the seeds are made again on every `make fuzz`.
Python standard library only.
"""
import glob
import hashlib
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

FENCE = "`" * 32


def examples(path):
    """(kind, input, expected) of every example in a literate spec file."""
    out, state, kind, inp, exp = [], "prose", "", [], []
    with open(path, encoding="utf-8") as f:
        for line in f.read().split("\n"):
            if state == "prose" and line.startswith(FENCE + " example"):
                kind = line[len(FENCE) + 8:].strip() or "render"
                inp, exp, state = [], [], "input"
            elif state == "input" and line == ".":
                state = "expected"
            elif state == "input":
                inp.append(line.replace("\u2192", "\t"))
            elif state == "expected" and line == FENCE:
                out.append((kind, "\n".join(inp) + "\n", "\n".join(exp) + "\n"))
                state = "prose"
            elif state == "expected":
                exp.append(line.replace("\u2192", "\t"))
    return out


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    outdir, mdeck = sys.argv[1], sys.argv[2]
    top = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    seeds = {k: [] for k in ("index", "render", "scan", "sanitize", "frontmatter", "match", "apkg",
                             "images")}

    spec = []
    for p in sorted(glob.glob(os.path.join(top, "tests/spec/*.txt"))) + [os.path.join(top, "docs/format.md")]:
        spec += examples(p)
    answers = [read(p) for p in sorted(glob.glob(os.path.join(top, "decks/*/answers/*.md")))]
    htmls = [read(p) for p in sorted(glob.glob(os.path.join(top, "tests/fixtures/**/*.htm*"), recursive=True))]
    index_examples = [i.encode() for k, i, e in spec if k == "index"]

    seeds["index"] += index_examples
    seeds["index"] += [read(p) for p in sorted(glob.glob(os.path.join(top, "decks/*/index.md")))]
    seeds["render"] += [i.encode() for k, i, e in spec if k in ("render", "text")]
    seeds["render"] += answers
    seeds["scan"] += seeds["render"]
    seeds["scan"] += [b"# Answers\n\n## What is it?\n\nText `x` $y$.\n\n- a\n\n```python\n# code\n```\n\n"
                      b"| a | b |\n|---|---|\n\n## Why?\r\n\r\nBecause.\n"]
    # images: references to what fuzz_images.c's deck folder holds (an odd
    # first byte: relative to answers/).
    seeds["images"] += [b"![a](img/a.png) ![b](img/b%20c.png) ![l](img/link-in.png)\n",
                        b"![o](img/link-out.png) ![u](up/outside.png) ![p](pics/a.png)\n",
                        b"![](up/deck/img/a.png) ![d](img/dangling.png) ![r](img/loop.png)\n",
                        b"!['](../img/a.png) ![c](c.png) ![x](../pics/../img/b c.png)\n",
                        b"<img src=\"img/dir\"> ![e](img/empty.png) ![s](/img/a.png) ![h](%2e%2e/x)\n"]
    seeds["images"] += [i.encode() for k, i, e in spec if k == "render" and "![" in i]
    seeds["sanitize"] += [i.encode() for k, i, e in spec if k in ("sanitize", "html-text")]
    seeds["sanitize"] += [e.encode() for k, i, e in spec if k == "render"]
    seeds["sanitize"] += htmls
    seeds["frontmatter"] += [i for i in index_examples if i.startswith(b"---")]
    seeds["frontmatter"] += [a for a in answers if a.startswith(b"---")]
    seeds["frontmatter"] += [b"---\nname: x\ntags: [a, b c]\nprefixes:\n  - p\n  - q: t\nformats: [apkg, csv]\n"
                             b"reversed: yes\nsanitize: off\nid: deck-1\n---\nbody\n"]

    # match: each index example with one answer file; the shipped deck in
    # small slices; a lock file and an HTML answer.
    lock = b'{"version": 1, "notes": [{"id": "q1", "question": "one", "sources": ["https://a.com/1"]}]}'
    small_answers = [a for a in answers if len(a) < 8000] or answers[:1]
    for n, idx in enumerate(index_examples):
        a = small_answers[n % len(small_answers)] if small_answers else b""
        seeds["match"].append(idx + b"\0" + a)
    seeds["match"].append(b"- [one](https://a.com/1)\n- [two](answers/a.md#two)\n- three\n\n  inline\n"
                          b"\0## one\n\nbody ![x](../img/dot.png) ![y](../img/out.png)\n## two\n\ntext\n"
                          b"\0---\nsource: https://a.com/1\n---\nby url\n"
                          b"\0<html><body><article><p>saved page</p></article></body></html>"
                          b"\0" + lock)
    for h in htmls[:3]:
        seeds["match"].append(b"- [saved](answers/c.html)\n\0\0\0" + h)

    # apkg: build a small deck with images, then feed the package both ways.
    if mdeck and os.access(mdeck, os.X_OK):
        tmp = tempfile.mkdtemp(prefix="mdeck-seeds-")
        try:
            deck = os.path.join(tmp, "seed")
            os.makedirs(os.path.join(deck, "answers"))
            with open(os.path.join(deck, "index.md"), "w") as f:
                f.write("---\nreversed: true\n---\n# Seed\n\n- [What is attention?](https://a.com/1)\n"
                        "- The {{c1::KV cache}} keeps {{c2::keys}}\n\n## Sub\n\n- Unanswered [tag]\n")
            with open(os.path.join(deck, "answers", "a.md"), "w") as f:
                f.write("## What is attention?\n\nA *weighted* sum: $QK^T$ ![dot](dot.png)\n")
            shutil.copy(os.path.join(top, "tests/fixtures/render/deck/img/dot.png"),
                        os.path.join(deck, "answers", "dot.png"))
            env = dict(os.environ, MDECK_NOW="1790000000")
            subprocess.run([mdeck, "build", "-q", "-f", "apkg", "-o", os.path.join(tmp, "out"), deck],
                           check=True, env=env)
            pkg = read(os.path.join(tmp, "out", "seed.apkg"))
            seeds["apkg"].append(b"\0" + pkg)
            z = zipfile.ZipFile(io.BytesIO(pkg))
            coll, media = z.read("collection.anki2"), z.read("media")
            seeds["apkg"].append(b"\1" + struct.pack("<H", len(media)) + media + coll)
            seeds["apkg"].append(b"\3" + struct.pack("<H", 2) + b"{}" + coll)
        finally:
            shutil.rmtree(tmp)
    seeds["apkg"].append(b"\0PK\5\6" + b"\0" * 18)
    seeds["apkg"].append(b"\1\2\0{}SQLite format 3\0")

    for name, items in seeds.items():
        d = os.path.join(outdir, name)
        os.makedirs(d, exist_ok=True)
        for data in items:
            with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
                f.write(data)
        print("%s: %d seeds" % (name, len(items)))


if __name__ == "__main__":
    main()
