#!/usr/bin/env python3
"""apkg-fields.py FILE.apkg - prints each note's fields, one note a line
(fields joined by " | "), sorted: what the watch tests compare.

Reads the package with the standard library only (zipfile, sqlite3), so it
does not depend on `mdeck inspect`.  Exits 1 when the file is not a
complete package."""
import os
import sqlite3
import sys
import tempfile
import zipfile


def main(path):
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(path) as z:
            if z.testzip() is not None:
                print(f"{path}: corrupt member", file=sys.stderr)
                return 1
            z.extract("collection.anki2", tmp)
        db = sqlite3.connect(os.path.join(tmp, "collection.anki2"))
        rows = [r[0].replace("\x1f", " | ") for r in db.execute("SELECT flds FROM notes")]
        db.close()
    for r in sorted(rows):
        print(r.replace("\n", " "))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
