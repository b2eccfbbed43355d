#!/bin/sh
# peer-sqlite-zip.sh - the stock-tools floor: the sqlite3 shell inserts the
# same rows mdeck wrote, and zip -1 packs them.
#
#   sh bench/peer-sqlite-zip.sh prepare PACKAGE.apkg WORKDIR   (not timed)
#   sh bench/peer-sqlite-zip.sh run WORKDIR OUT.apkg           (timed)
#
# prepare dumps mdeck's collection as SQL (schema-11 tables, one INSERT per
# row, in one transaction, indexes after the rows, as sqlite3's .dump writes
# them) behind the pragmas mdeck uses (journal_mode=OFF, synchronous=OFF,
# page_size=4096), and keeps the media files.  run loads that file with the
# sqlite3 shell into a fresh database and zips it with the media map and
# media files at deflate level 1 (media stored, as mdeck does).  No markdown
# is read or rendered: this is the floor for the package alone.
set -eu
case "${1:-}" in
prepare)
    pkg=$2 work=$3
    rm -rf "$work"
    mkdir -p "$work/media"
    (cd "$work/media" && unzip -q -o "$pkg")
    {
        echo "PRAGMA page_size=4096; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
        sqlite3 "$work/media/collection.anki2" .dump
    } >"$work/rows.sql"
    rm "$work/media/collection.anki2"
    ;;
run)
    work=$2 out=$3
    rm -f "$work/collection.anki2" "$out"
    sqlite3 "$work/collection.anki2" <"$work/rows.sql" >/dev/null
    (cd "$work" && zip -q -1 "$out" collection.anki2)
    (cd "$work/media" && zip -q -0 "$out" media && ls | grep -v '^media$' | xargs -r zip -q -0 "$out")
    ;;
*)
    echo "usage: peer-sqlite-zip.sh prepare PACKAGE.apkg WORKDIR | run WORKDIR OUT.apkg" >&2
    exit 2
    ;;
esac
