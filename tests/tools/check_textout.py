#!/usr/bin/env python3
"""Checks mdeck's CSV and Quizlet outputs from outside, with Python's own
csv module, against `mdeck check --json` of the same deck.

usage: check_textout.py CHECK.json DECK.csv DECK.quizlet.txt
Exits non-zero with a message on the first difference."""
import csv
import io
import json
import re
import sys

HEADER_KEYS = {"separator", "html", "tags", "columns", "notetype", "deck",
               "notetype column", "deck column", "tags column", "guid column",
               "match scope", "if matches"}


def fail(msg):
    print("check_textout: " + msg, file=sys.stderr)
    sys.exit(1)


def strip_controls(s):
    return "".join(c for c in s if c in "\n\t" or ord(c) >= 0x20)


def safe_url(u):
    """No scheme, or http(s)/ftp/mailto/tel, and no script scheme anywhere
    (as a browser reads it): else mdeck writes the URL as text."""
    s = "".join(c for c in u if ord(c) > 0x20 and ord(c) != 0x7F).lower()
    if "javascript:" in s or "vbscript:" in s:
        return False
    m = re.match(r"[^:/?#]*", s)
    return not s[m.end():].startswith(":") or m.group(0) in ("http", "https", "ftp", "mailto", "tel")


def source_html(urls):
    esc = lambda u: u.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return "<br>".join(('<a href="%s">%s</a>' % (esc(u), esc(u))) if safe_url(u) else esc(u) for u in urls)


def main():
    check = json.load(open(sys.argv[1], encoding="utf-8"))
    deck = check["decks"][0]
    raw = open(sys.argv[2], "rb").read()
    if raw.startswith(b"\xef\xbb\xbf"):
        fail("CSV starts with a BOM")
    text = raw.decode("utf-8")

    # Header lines: "#key:value", no spaces around ':', separator first.
    lines = text.split("\n")
    headers = {}
    i = 0
    while lines[i].startswith("#"):
        m = re.fullmatch(r"#([a-z ]+):(.*)", lines[i])
        if not m or m.group(1) not in HEADER_KEYS:
            fail("bad header line %r" % lines[i])
        if i == 0 and m.group(1) != "separator":
            fail("#separator must come first")
        headers[m.group(1)] = m.group(2)
        i += 1
    if headers.get("separator") != "Comma" or headers.get("html") != "true":
        fail("separator/html headers: %r" % headers)
    cols = headers["columns"].split(",")
    if cols[:5] != ["Question", "Answer", "Source", "Tags", "GUID"]:
        fail("columns %r" % cols)
    if int(headers["tags column"]) != 4 or int(headers["guid column"]) != 5:
        fail("tags/guid column headers")
    body = "\n".join(lines[i:])
    rows = list(csv.reader(io.StringIO(body, newline="")))
    rows = [r for r in rows if r]
    notes = deck["notes"]
    if len(rows) != len(notes):
        fail("%d CSV rows for %d notes" % (len(rows), len(notes)))
    deck_tags = deck.get("tags", [])
    for row, n in zip(rows, notes):
        if len(row) != len(cols):
            fail("row with %d fields, expected %d: %r" % (len(row), len(cols), row[:2]))
        front = n["cloze_html"] if n["cloze"] else n["front_html"]
        answer = n["answer"]["html"] if n["answer"] else ""
        if n["cloze"]:
            answer = None  # the Extra field: checked for presence only
        if row[0] != strip_controls(front):
            fail("front differs for %r: %r" % (n["question"], row[0]))
        if answer is not None and row[1] != strip_controls(answer):
            fail("answer differs for %r" % n["question"])
        if row[2] != source_html(n["sources"]):
            fail("source differs for %r: %r" % (n["question"], row[2]))
        tags = sorted(set(t.replace(" ", "_") for t in n["tags"] + deck_tags))
        if row[3].split() != tags:
            fail("tags differ for %r: %r vs %r" % (n["question"], row[3], tags))
        if row[4] != n["guid"]:
            fail("guid differs for %r" % n["question"])
        if "deck column" in headers and row[int(headers["deck column"]) - 1] != n["deck"]:
            fail("deck differs for %r" % n["question"])
    # A record starting with '#' would be a comment: every such field is quoted.
    for line in body.split("\n"):
        if line.startswith("#"):
            fail("a data line starts with '#': %r" % line[:40])

    # Quizlet: cards separated by a line "@@@", term TAB definition.
    q = open(sys.argv[3], encoding="utf-8").read()
    cards = q.split("\n@@@\n")
    cards[-1] = cards[-1].rstrip("\n")
    if len(cards) != len(notes):
        fail("%d Quizlet cards for %d notes" % (len(cards), len(notes)))
    for card, n in zip(cards, notes):
        if card.count("\t") != 1:
            fail("Quizlet card without exactly one tab: %r" % card[:60])
        term, definition = card.split("\t")
        want_term = n["question"].replace("\t", " ").strip()
        want_def = (n["answer"]["text"] if n["answer"] else "").replace("\t", " ").strip()
        want_def = want_def.replace("@@@", "@ @@")
        if term != want_term:
            fail("Quizlet term %r != %r" % (term, want_term))
        if definition != want_def:
            fail("Quizlet definition differs for %r:\n%r\n%r" % (term, definition[:200], want_def[:200]))
    print("check_textout: %d notes agree across check --json, CSV and Quizlet" % len(notes))


main()
