#!/usr/bin/env python3
"""apkg_check.py - checks a legacy Anki package (.apkg) from the outside.

An independent reader (Python standard library only: zipfile, sqlite3, json)
of what mdeck writes, so that a mistake shared by mdeck's writer and reader
cannot hide.  Every rule comes from the exporter reference
(shared/docs/anki-apkg.md; "L" = the legacy Python importer, "R" = the Rust
importer) and is listed in docs/anki.md.

usage: apkg_check.py [-q] FILE.apkg...

Exits 0 when every package passes; otherwise prints one line per problem
to stderr and exits 1 (2 on a usage error).  The clock is the later of the
real time and MDECK_NOW, like mdeck's own.
"""

import hashlib
import json
import os
import re
import sqlite3
import sys
import tempfile
import time
import unicodedata
import zipfile
from html.entities import name2codepoint

MAX_ID = 2 ** 53
BUILTIN_MODEL_NAMES = {
    "Basic", "Basic (and reversed card)", "Basic (optional reversed card)",
    "Basic (type in the answer)", "Cloze", "Image Occlusion",
}

SCHEMA = {
    "col": [("id", "integer"), ("crt", "integer"), ("mod", "integer"),
            ("scm", "integer"), ("ver", "integer"), ("dty", "integer"),
            ("usn", "integer"), ("ls", "integer"), ("conf", "text"),
            ("models", "text"), ("decks", "text"), ("dconf", "text"),
            ("tags", "text")],
    "notes": [("id", "integer"), ("guid", "text"), ("mid", "integer"),
              ("mod", "integer"), ("usn", "integer"), ("tags", "text"),
              ("flds", "text"), ("sfld", "integer"), ("csum", "integer"),
              ("flags", "integer"), ("data", "text")],
    "cards": [(c, "integer") for c in (
        "id", "nid", "did", "ord", "mod", "usn", "type", "queue", "due", "ivl",
        "factor", "reps", "lapses", "left", "odue", "odid", "flags")]
             + [("data", "text")],
    "revlog": [(c, "integer") for c in (
        "id", "cid", "usn", "ease", "ivl", "lastIvl", "factor", "time", "type")],
    "graves": [("usn", "integer"), ("oid", "integer"), ("type", "integer")],
}
INDEXES = {
    "ix_notes_usn": ("notes", ["usn"]),
    "ix_cards_usn": ("cards", ["usn"]),
    "ix_revlog_usn": ("revlog", ["usn"]),
    "ix_cards_nid": ("cards", ["nid"]),
    "ix_cards_sched": ("cards", ["did", "queue", "due"]),
    "ix_revlog_cid": ("revlog", ["cid"]),
    "ix_notes_csum": ("notes", ["csum"]),
}

# Keys an importer fails without (reference section 3).
CONF_KEYS = ["curDeck", "activeDecks", "curModel"]
DCONF_KEYS = ["id", "mod", "name", "usn", "maxTaken", "autoplay", "timer",
              "new", "rev", "lapse"]
DECK_KEYS = ["id", "name", "desc", "usn", "dyn", "conf", "collapsed",
             "newToday", "revToday", "lrnToday", "timeToday", "mod"]
MODEL_KEYS = ["id", "name", "type", "mod", "usn", "sortf", "did", "tmpls",
              "flds", "css", "req", "latexPre", "latexPost"]
FIELD_KEYS = ["name", "ord", "sticky", "rtl", "font", "size"]
TEMPLATE_KEYS = ["name", "ord", "qfmt", "afmt", "did"]

# --- Anki's field rules, written independently of mdeck's C ---------------

IMG = re.compile(r"(?i)<img[^>]+src=[\"']?([^\"'>]+)[\"']?[^>]*>")
COMMENT = re.compile(r"(?s)<!--.*?-->")
STYLE = re.compile(r"(?si)<style.*?>.*?</style>")
SCRIPT = re.compile(r"(?si)<script.*?>.*?</script>")
TAG = re.compile(r"(?s)<.*?>")
ENTITY = re.compile(r"&(#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z0-9]+);")
ENTITIES = dict(name2codepoint, apos=39)
CLOZE = re.compile(r"(?s){{c(\d+)::.+?}}")


def _entity(m):
    body = m.group(1)
    if body[0] == "#":
        cp = int(body[2:], 16) if body[1] in "xX" else int(body[1:])
        if cp == 0 or cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
            return m.group(0)
        return chr(cp)
    cp = ENTITIES.get(body)
    return chr(cp) if cp is not None else m.group(0)


def strip_html_media(s):
    """sfld/csum stripping: images become ' name ', markup goes, entities
    are decoded, U+00A0 becomes a space, nothing is trimmed."""
    s = IMG.sub(r" \1 ", s)
    s = COMMENT.sub("", s)
    s = STYLE.sub("", s)
    s = SCRIPT.sub("", s)
    s = TAG.sub("", s)
    s = ENTITY.sub(_entity, s)
    return s.replace("\xa0", " ")


def field_checksum(first_field):
    digest = hashlib.sha1(strip_html_media(first_field).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big")


def cloze_ords(text):
    ords = {int(n) - 1 for n in CLOZE.findall(text) if 1 <= int(n) <= 500}
    return ords or {0}


class Package:
    def __init__(self, path, now):
        self.path = path
        self.now = now
        self.problems = []
        self.summary = ""

    def bad(self, msg):
        self.problems.append(msg)

    # --- zip ------------------------------------------------------------

    def check(self):
        base = os.path.basename(self.path)
        if base == "collection.apkg" or (base.startswith("backup-") and base.endswith(".apkg")):
            self.bad("file name %r makes Anki offer to replace the whole collection" % base)
        try:
            zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as e:
            self.bad("not a zip archive: %s" % e)
            return
        with zf:
            self.check_zip(zf)

    def check_zip(self, zf):
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            self.bad("duplicate zip entries")
        broken = zf.testzip()
        if broken:
            self.bad("zip entry %r is corrupt (CRC)" % broken)
        for i in infos:
            if i.is_dir():
                self.bad("zip holds a directory entry %r" % i.filename)
            if i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                self.bad("zip entry %r uses compression %d (only stored or deflate)"
                         % (i.filename, i.compress_type))
            if i.flag_bits & 1:
                self.bad("zip entry %r is encrypted" % i.filename)
        for forbidden in ("collection.anki21", "collection.anki21b", "meta"):
            if forbidden in names:
                self.bad("zip holds %r: importers would prefer it over collection.anki2"
                         % forbidden)
        if "collection.anki2" not in names:
            self.bad("zip has no collection.anki2")
            return
        if "media" not in names:
            self.bad("zip has no media map (the legacy importer fails without it)")
            media_keys = set()
        else:
            media_keys = self.check_media(zf, set(names))
        for n in names:
            if n not in ("collection.anki2", "media") and n not in media_keys:
                self.bad("zip entry %r is not in the media map" % n)
        with tempfile.TemporaryDirectory(prefix="apkg-check-") as tmp:
            dbpath = os.path.join(tmp, "collection.anki2")
            with open(dbpath, "wb") as out:
                out.write(zf.read("collection.anki2"))
            self.check_collection(dbpath)
        self.summary += ", %d media file%s" % (len(media_keys), "" if len(media_keys) == 1 else "s")

    def check_media(self, zf, names):
        try:
            m = json.loads(zf.read("media").decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            self.bad("media map is not JSON: %s" % e)
            return set()
        if not isinstance(m, dict):
            self.bad("media map is not a JSON object")
            return set()
        if set(m) != {str(i) for i in range(len(m))}:
            self.bad("media map keys are not 0..%d: %s" % (len(m) - 1, sorted(m)))
        values = list(m.values())
        if len(set(values)) != len(values):
            self.bad("media map names a file twice")
        for k, v in m.items():
            if not isinstance(v, str):
                self.bad("media map value of %r is not a string" % k)
                continue
            if (not v or "/" in v or "\\" in v or v in (".", "..") or ".." in v.split("/")
                    or len(v.encode("utf-8")) > 120 or any(ord(c) < 32 for c in v)):
                self.bad("media name %r is unsafe: importers abort the whole import" % v)
            if k not in names:
                self.bad("media map key %r has no zip entry" % k)
            elif zf.getinfo(k).file_size == 0:
                self.bad("media file %r (%s) is empty" % (k, v))
        return set(m)

    # --- collection -----------------------------------------------------

    def check_collection(self, dbpath):
        with open(dbpath, "rb") as f:
            header = f.read(100)
        if header[:16] != b"SQLite format 3\0":
            self.bad("collection.anki2 is not an SQLite database")
            return
        if header[18] != 1 or header[19] != 1:
            self.bad("collection.anki2 is in WAL mode (header bytes 18/19 = %d/%d)"
                     % (header[18], header[19]))
        page = int.from_bytes(header[16:18], "big")
        if page != 4096:
            self.bad("page size is %d, Anki uses 4096" % page)
        db = sqlite3.connect("file:%s?mode=ro" % dbpath, uri=True)
        db.text_factory = bytes
        try:
            self.check_db(db)
        except sqlite3.DatabaseError as e:
            self.bad("collection.anki2: %s" % e)
        finally:
            db.close()

    def text(self, raw, what):
        if isinstance(raw, bytes):
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                self.bad("%s is not UTF-8" % what)
                return raw.decode("utf-8", "replace")
        return raw

    def check_db(self, db):
        ok = db.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != b"ok":
            self.bad("integrity_check: %r" % ok)
        objs = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
        tables = {o[1].decode(): (o[3] or b"").decode() for o in objs if o[0] == b"table"}
        if set(tables) != set(SCHEMA):
            self.bad("tables are %s, want %s" % (sorted(tables), sorted(SCHEMA)))
        for t, cols in SCHEMA.items():
            if t not in tables:
                continue
            if re.search(r"(?i)without\s+rowid|\)\s*strict", tables[t]):
                self.bad("table %s is STRICT or WITHOUT ROWID" % t)
            got = [(r[1].decode(), r[2].decode().lower(), r[3], r[5])
                   for r in db.execute("PRAGMA table_info(%s)" % t)]
            want = [(c, ty, 1, 1 if c == "id" and t != "graves" else 0) for c, ty in cols]
            if got != want:
                self.bad("table %s has columns %s, want %s" % (t, got, want))
        indexes = {o[1].decode(): o[2].decode() for o in objs if o[0] == b"index"
                   and not o[1].startswith(b"sqlite_autoindex")}
        for name, (table, cols) in INDEXES.items():
            if indexes.get(name) != table:
                self.bad("index %s on %s is missing" % (name, table))
                continue
            got = [r[2].decode() for r in db.execute("PRAGMA index_info(%s)" % name)]
            if got != cols:
                self.bad("index %s covers %s, want %s" % (name, got, cols))
        if set(tables) != set(SCHEMA):
            return
        for t in ("revlog", "graves"):
            if db.execute("SELECT count(*) FROM %s" % t).fetchone()[0]:
                self.bad("%s has rows: a shared deck carries no history" % t)
        models, decks = self.check_col(db)
        if models is None:
            return
        notes = self.check_notes(db, models)
        ncards = self.check_cards(db, models, decks, notes)
        self.summary = "%d notes, %d cards, %d decks" % (len(notes), ncards, len(decks))

    def json_col(self, row, i, name):
        raw = self.text(row[i], "col." + name)
        if raw == "":
            self.bad("col.%s is an empty string" % name)
            return None
        try:
            v = json.loads(raw)
        except ValueError as e:
            self.bad("col.%s is not JSON: %s" % (name, e))
            return None
        if not isinstance(v, dict):
            self.bad("col.%s is not a JSON object" % name)
            return None
        return v

    def check_col(self, db):
        rows = db.execute("SELECT id, crt, mod, scm, ver, dty, usn, ls, conf, models, "
                          "decks, dconf, tags FROM col").fetchall()
        if len(rows) != 1:
            self.bad("col has %d rows, want 1" % len(rows))
            return None, None
        r = rows[0]
        if r[0] != 1:
            self.bad("col.id is %r, want 1" % r[0])
        if r[4] != 11:
            self.bad("col.ver is %r, want 11" % r[4])
        if (r[5], r[6], r[7]) != (0, 0, 0):
            self.bad("col dty/usn/ls are %r, want 0" % ((r[5], r[6], r[7]),))
        if not isinstance(r[1], int) or r[1] <= 0 or r[1] > self.now:
            self.bad("col.crt %r is not a time in seconds" % r[1])
        for i, name in ((2, "mod"), (3, "scm")):
            if not isinstance(r[i], int) or r[i] <= 0 or r[i] > self.now * 1000:
                self.bad("col.%s %r is not a past time in ms" % (name, r[i]))
        conf = self.json_col(r, 8, "conf")
        models = self.json_col(r, 9, "models")
        decks = self.json_col(r, 10, "decks")
        dconf = self.json_col(r, 11, "dconf")
        self.json_col(r, 12, "tags")
        if conf is not None:
            for k in CONF_KEYS:
                if k not in conf:
                    self.bad("col.conf lacks %r" % k)
        if dconf is not None:
            one = dconf.get("1")
            if not isinstance(one, dict):
                self.bad("col.dconf has no options group 1")
            else:
                for k in DCONF_KEYS:
                    if k not in one:
                        self.bad("dconf 1 lacks %r" % k)
                for k in ("new", "rev"):
                    if not isinstance(one.get(k), dict) or "perDay" not in one[k]:
                        self.bad("dconf 1 lacks %s.perDay" % k)
        if decks is None or models is None:
            return None, None
        self.check_decks(decks)
        self.check_models(models, conf)
        return models, decks

    def check_decks(self, decks):
        names = {}
        for key, d in decks.items():
            if not isinstance(d, dict):
                self.bad("deck %s is not an object" % key)
                continue
            for k in DECK_KEYS:
                if k not in d:
                    self.bad("deck %s lacks %r" % (key, k))
            if str(d.get("id")) != key:
                self.bad("deck key %s has inner id %r" % (key, d.get("id")))
            if not isinstance(d.get("collapsed"), bool):
                self.bad("deck %s: collapsed must be a JSON boolean" % key)
            if "browserCollapsed" in d and not isinstance(d["browserCollapsed"], bool):
                self.bad("deck %s: browserCollapsed must be a JSON boolean" % key)
            for k in ("newToday", "revToday", "lrnToday", "timeToday"):
                if not (isinstance(d.get(k), list) and len(d[k]) == 2):
                    self.bad("deck %s: %s must be a 2-element array" % (key, k))
            if not isinstance(d.get("desc"), str):
                self.bad("deck %s: desc must be a string" % key)
            name = d.get("name")
            if not isinstance(name, str):
                self.bad("deck %s has no name" % key)
                continue
            for part in name.split("::"):
                if not part or part != part.strip() or '"' in part or any(
                        ord(c) < 32 for c in part):
                    self.bad("deck name %r has an empty, padded or invalid component" % name)
            if name.lower() in names:
                self.bad("deck name %r appears twice (names are case-insensitive)" % name)
            names[name.lower()] = key
            if key != "1" and not (isinstance(d.get("id"), int) and 1 < d["id"] < MAX_ID):
                self.bad("deck %s id out of range" % key)
        if decks.get("1", {}).get("name") != "Default":
            self.bad('decks has no "1" named Default')
        for lname in list(names):
            parts = lname.split("::")
            for i in range(1, len(parts)):
                if "::".join(parts[:i]) not in names:
                    self.bad("deck %r has no ancestor deck %r" % (lname, "::".join(parts[:i])))

    def check_models(self, models, conf):
        ids = []
        for key, m in models.items():
            if not isinstance(m, dict):
                self.bad("model %s is not an object" % key)
                continue
            for k in MODEL_KEYS:
                if k not in m:
                    self.bad("model %s lacks %r" % (key, k))
            if str(m.get("id")) != key:
                self.bad("model key %s has inner id %r" % (key, m.get("id")))
            if isinstance(m.get("id"), int):
                ids.append(m["id"])
                if not 0 < m["id"] < MAX_ID:
                    self.bad("model %s id out of range" % key)
            if m.get("name") in BUILTIN_MODEL_NAMES:
                self.bad("model name %r collides with an Anki built-in" % m.get("name"))
            if m.get("type") not in (0, 1):
                self.bad("model %s type %r" % (key, m.get("type")))
            if not isinstance(m.get("mod"), int) or m["mod"] > self.now:
                self.bad("model %s mod %r is not a past time in seconds" % (key, m.get("mod")))
            flds = m.get("flds") if isinstance(m.get("flds"), list) else []
            tmpls = m.get("tmpls") if isinstance(m.get("tmpls"), list) else []
            fnames = []
            for i, f in enumerate(flds):
                for k in FIELD_KEYS:
                    if k not in f:
                        self.bad("model %s field %d lacks %r" % (key, i, k))
                if f.get("ord") != i:
                    self.bad("model %s field %d has ord %r" % (key, i, f.get("ord")))
                n = f.get("name", "")
                if (not n or any(c in n for c in ':{}"') or n[0] in "#/^"):
                    self.bad("model %s field name %r is invalid" % (key, n))
                fnames.append(n)
            if len(set(fnames)) != len(fnames):
                self.bad("model %s has duplicate field names" % key)
            if not tmpls:
                self.bad("model %s has no templates" % key)
            for i, t in enumerate(tmpls):
                for k in TEMPLATE_KEYS:
                    if k not in t:
                        self.bad("model %s template %d lacks %r" % (key, i, k))
                if t.get("ord") != i:
                    self.bad("model %s template %d has ord %r" % (key, i, t.get("ord")))
            if not (isinstance(m.get("sortf"), int) and 0 <= m["sortf"] < max(len(flds), 1)):
                self.bad("model %s sortf %r" % (key, m.get("sortf")))
            req = m.get("req")
            if m.get("type") == 1:
                if len(tmpls) != 1 or "{{cloze:" not in tmpls[0].get("qfmt", ""):
                    self.bad("cloze model %s needs one template with {{cloze:...}}" % key)
            elif not (isinstance(req, list) and len(req) == len(tmpls)):
                self.bad("model %s req has %s entries for %d templates"
                         % (key, len(req) if isinstance(req, list) else "no", len(tmpls)))
            else:
                for i, r in enumerate(req):
                    if not (isinstance(r, list) and len(r) == 3 and r[0] == i
                            and r[1] in ("all", "any", "none") and isinstance(r[2], list)
                            and all(isinstance(x, int) and 0 <= x < len(flds) for x in r[2])):
                        self.bad("model %s req[%d] = %r is malformed" % (key, i, r))
        ids.sort()
        for a, b in zip(ids, ids[1:]):
            if b == a + 1:
                self.bad("model ids %d and %d are consecutive (L tries id+1 on clashes)" % (a, b))
        if conf is not None and str(conf.get("curModel")) not in models:
            self.bad("conf.curModel %r is not a model of the package" % conf.get("curModel"))

    # --- notes and cards --------------------------------------------------

    def check_notes(self, db, models):
        notes = {}
        guids = set()
        for row in db.execute("SELECT id, guid, mid, mod, usn, tags, flds, sfld, csum, "
                              "flags, data FROM notes"):
            nid, guid, mid, mod, usn, tags, flds, sfld, csum, flags, data = row
            guid = self.text(guid, "note guid")
            what = "note %s" % guid
            if not (isinstance(nid, int) and 0 < nid < MAX_ID and nid <= self.now * 1000):
                self.bad("%s: id %r must be positive, < 2^53 and not in the future" % (what, nid))
            if not guid or guid in guids:
                self.bad("%s: guid empty or not unique" % what)
            guids.add(guid)
            m = models.get(str(mid))
            if m is None:
                self.bad("%s: note type %r is not in col.models" % (what, mid))
                continue
            # A note edited twice within one second gets prev_mod + 1, which
            # may run a second or two ahead of the clock: harmless for both
            # importers (they only compare mods); a minute is a real error.
            if not (isinstance(mod, int) and 0 < mod <= self.now + 60):
                self.bad("%s: mod %r must be a past time in seconds" % (what, mod))
            if (usn, flags) != (-1, 0) or data != b"":
                self.bad("%s: usn/flags/data are %r" % (what, (usn, flags, data)))
            tags = self.text(tags, what + " tags")
            if tags:
                words = tags[1:-1].split(" ")
                if (tags[0] != " " or tags[-1] != " " or "" in words or words != sorted(set(words))
                        or any('"' in w for w in words)):
                    self.bad("%s: tags %r are not ' a b ' sorted and unique" % (what, tags))
            flds = self.text(flds, what + " flds")
            fields = flds.split("\x1f")
            if len(fields) != len(m.get("flds", [])):
                self.bad("%s: %d fields for a note type with %d" % (what, len(fields),
                                                                    len(m.get("flds", []))))
                continue
            for f in fields:
                if any((ord(c) < 32 and c not in "\n\t") or ord(c) == 127 for c in f):
                    self.bad("%s: a field holds a control character" % what)
                if not unicodedata.is_normalized("NFC", f):
                    self.bad("%s: a field is not NFC" % what)
            want = strip_html_media(fields[m.get("sortf", 0)])
            if isinstance(sfld, (int, float)):
                try:
                    same = float(want) == sfld
                except ValueError:
                    same = False
            else:
                same = self.text(sfld, what + " sfld") == want
            if not same:
                self.bad("%s: sfld %r, want %r" % (what, sfld, want))
            if csum != field_checksum(fields[0]):
                self.bad("%s: csum %r, want %r" % (what, csum, field_checksum(fields[0])))
            notes[nid] = (guid, m, fields)
        return notes

    def expected_ords(self, m, fields):
        if m.get("type") == 1:
            return cloze_ords(fields[0])
        ords = set()
        for r in m.get("req", []):
            ord_, kind, need = r
            filled = [fields[i] != "" for i in need]
            if ((kind == "all" and all(filled)) or (kind == "any" and any(filled))
                    or kind == "none"):
                ords.add(ord_)
        return ords

    def check_cards(self, db, models, decks, notes):
        seen_ids = set()
        by_note = {}
        n = 0
        for row in db.execute("SELECT id, nid, did, ord, mod, usn, type, queue, due, ivl, "
                              "factor, reps, lapses, left, odue, odid, flags, data FROM cards"):
            n += 1
            cid, nid, did, ord_, mod, usn = row[:6]
            what = "card %r" % cid
            if not (isinstance(cid, int) and 0 < cid < MAX_ID and cid <= self.now * 1000):
                self.bad("%s: id must be positive, < 2^53 and not in the future" % what)
            if cid in seen_ids:
                self.bad("%s: id repeated" % what)
            seen_ids.add(cid)
            if nid not in notes:
                self.bad("%s: note %r does not exist" % (what, nid))
                continue
            if str(did) not in decks or did == 1:
                self.bad("%s: deck %r is missing or the Default deck" % (what, did))
            if usn != -1 or not (isinstance(mod, int) and 0 < mod <= self.now):
                self.bad("%s: usn %r / mod %r" % (what, usn, mod))
            if row[6:8] != (0, 0):
                self.bad("%s: type/queue %r: only new cards may be shipped" % (what, row[6:8]))
            if row[9:17] != (0,) * 8 or row[17] != b"":
                self.bad("%s: scheduling fields are not those of a new card" % what)
            if not (isinstance(row[8], int) and row[8] >= 0):
                self.bad("%s: due %r" % (what, row[8]))
            by_note.setdefault(nid, []).append((ord_, row[8]))
        for nid, (guid, m, fields) in notes.items():
            cards = by_note.get(nid, [])
            ords = [c[0] for c in cards]
            if not cards:
                self.bad("note %s has no cards" % guid)
                continue
            if len(set(ords)) != len(ords):
                self.bad("note %s has two cards with one ord" % guid)
            want = self.expected_ords(m, fields)
            if set(ords) != want:
                self.bad("note %s has card ords %s, want %s" % (guid, sorted(ords), sorted(want)))
            if len({c[1] for c in cards}) != 1:
                self.bad("note %s: its cards have different new positions" % guid)
        return n


def main(argv):
    args = [a for a in argv[1:] if a not in ("-q", "--quiet")]
    quiet = len(args) != len(argv) - 1
    if not args or any(a.startswith("-") for a in args):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    now = int(time.time())
    env = os.environ.get("MDECK_NOW", "")
    if env.strip().lstrip("-").isdigit():
        now = max(now, int(env))
    failed = 0
    for path in args:
        p = Package(path, now)
        p.check()
        if p.problems:
            failed = 1
            for msg in p.problems:
                print("apkg_check: %s: %s" % (path, msg), file=sys.stderr)
        elif not quiet:
            print("apkg_check: %s: OK (%s)" % (path, p.summary))
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv))
