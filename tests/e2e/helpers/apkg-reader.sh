#!/bin/sh
# apkg-reader.sh FILE STOPFILE REPORT - what a sync client or Anki does to
# an output while `mdeck watch` rewrites it: copy it every few milliseconds
# and check the copy is a complete zip.  Appends "ok" or "FAIL ..." lines to
# REPORT until STOPFILE exists (or 120 s have passed).
f=$1 stop=$2 report=$3
copy=$report.copy
end=$(( $(date +%s) + 120 ))
while [ ! -e "$stop" ] && [ "$(date +%s)" -lt "$end" ]; do
    if cp "$f" "$copy" 2>/dev/null; then
        if unzip -tq "$copy" >/dev/null 2>&1; then
            echo ok >>"$report"
        else
            echo "FAIL $(date +%T.%N): $(unzip -tq "$copy" 2>&1 | head -2 | tr '\n' ' ')" >>"$report"
            cp "$copy" "$report.bad.$(date +%s%N)"
        fi
    else
        echo "FAIL: cannot copy $f" >>"$report"
    fi
    sleep 0.005
done
rm -f "$copy"
