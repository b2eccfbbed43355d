#!/usr/bin/env python3
"""gen-hostile.py - deck folders for the limit and fault tests, made on the
fly (nothing big is committed).  Python standard library only; the same
arguments give the same bytes.

usage: gen-hostile.py KIND DIR [ARGS]

  big-index DIR N BYTES     index.md: N questions (each with a source URL),
                            padded to about BYTES in all
  long-line DIR BYTES       index.md: one question on a single line of BYTES
  nested DIR DEPTH          index.md and answers/a.md: lists and block
                            quotes nested DEPTH deep
  big-answer DIR BYTES N    answers/big.md: N "## question" sections, about
                            BYTES in all; index.md lists the N questions
  images DIR N              N distinct small PNG images, each shown by one
                            answer (answers/img-K.md, 1000 sections a file)
  kill-deck DIR N IMG_MB    N answered questions, 10 images of IMG_MB MB of
                            incompressible bytes each (a slow-to-write
                            package for the SIGKILL test)
"""
import os
import random
import struct
import sys
import zlib


def w(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def png(seed):
    """A real 1x1 PNG whose colour (and so bytes) depends on seed."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    raw = b"\0" + struct.pack(">I", seed & 0xFFFFFFFF)[1:]
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"tEXt", b"seed\0" + str(seed).encode())
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def big_index(d, n, size):
    pad = max(0, size // n - 60)
    filler = ("lorem ipsum dolor sit amet " * (pad // 27 + 1))[:pad]
    with open(os.path.join(d, "index.md"), "w") as f:
        f.write("# Big index\n\n")
        for i in range(n):
            f.write("- [Question %d %s](https://example.com/q/%d)\n" % (i, filler, i))


def long_line(d, size):
    os.makedirs(d, exist_ok=True)
    word = "long question text "
    with open(os.path.join(d, "index.md"), "w") as f:
        f.write("# One long line\n\n- ")
        f.write(word * (size // len(word)))
        f.write("\n- a short question\n")


def nested(d, depth):
    # "- - - x" nests lists on one line; ">>>> x" nests quotes.
    idx = "# Nested\n\n- the first question\n" + "  " + "- " * depth + "deep list\n"
    idx += "- the second question\n\n  " + ">" * depth + " deep quote\n"
    idx += "- the third question\n" + "".join("  " * min(k, 100) + "  - x\n" for k in range(depth))
    w(os.path.join(d, "index.md"), idx)
    ans = "## the first question\n\n" + "- " * depth + "deep\n\n" + ">" * depth + " quoted\n"
    ans += "\n## the third question\n\n" + "".join("> " * k + "- " + "\n" for k in range(0, depth, 97))
    w(os.path.join(d, "answers", "a.md"), ans)


def big_answer(d, size, n):
    body = max(0, size // n - 40)
    para = ("Answer text with `code` and *emphasis*, about transformers. " * (body // 60 + 1))[:body]
    with open(mk(d, "index.md"), "w") as f:
        f.write("# Big answer\n\n")
        for i in range(n):
            f.write("- Question number %d\n" % i)
    # Every section also shows one image: the renderer finds each image's
    # line for its messages, which once counted lines from the file's start
    # for every section (quadratic: hours for this file).
    w(os.path.join(d, "answers", "fig.png"), png(1))
    with open(mk(d, "answers/big.md"), "w") as f:
        for i in range(n):
            f.write("## Question number %d\n\n%s\n\n![figure](fig.png)\n\n" % (i, para))


def mk(d, rel):
    p = os.path.join(d, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def images(d, n):
    with open(mk(d, "index.md"), "w") as f:
        f.write("# Images\n\n")
        for i in range(n):
            f.write("- Image question %d\n" % i)
    per = 1000
    for k in range(0, n, per):
        with open(mk(d, "answers/img-%03d.md" % (k // per)), "w") as f:
            for i in range(k, min(n, k + per)):
                f.write("## Image question %d\n\n![figure %d](../img/%03d/%d.png)\n\n" % (i, i, i // 1000, i))
    for i in range(n):
        w(os.path.join(d, "img", "%03d" % (i // 1000), "%d.png" % i), png(i))


def kill_deck(d, n, img_mb):
    rnd = random.Random(7)
    with open(mk(d, "index.md"), "w") as f:
        f.write("# Kill\n\n")
        for i in range(n):
            f.write("- [Kill question %d](https://example.com/k/%d)\n" % (i, i))
    with open(mk(d, "answers/a.md"), "w") as f:
        for i in range(n):
            img = " ![](../img/%d.png)" % (i % 10) if i < 10 else ""
            f.write("## Kill question %d\n\nAnswer %d: %s%s\n\n" % (i, i, "words " * 40, img))
    for i in range(10):
        w(os.path.join(d, "img", "%d.png" % i), png(i) + rnd.randbytes(img_mb << 20))


def main():
    kind, d = sys.argv[1], sys.argv[2]
    a = [int(x) for x in sys.argv[3:]]
    os.makedirs(d, exist_ok=True)
    {"big-index": lambda: big_index(d, a[0], a[1]), "long-line": lambda: long_line(d, a[0]),
     "nested": lambda: nested(d, a[0]), "big-answer": lambda: big_answer(d, a[0], a[1]),
     "images": lambda: images(d, a[0]), "kill-deck": lambda: kill_deck(d, a[0], a[1])}[kind]()


if __name__ == "__main__":
    main()
