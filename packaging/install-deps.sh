#!/bin/sh
# Installs the Debian packages mdeck needs to build and test, and only the
# missing ones.  Used by both `make run` and `make test`.  With arguments it
# installs those packages instead (install-deb-deps.sh uses that).
set -eu
need="build-essential pkg-config libsqlite3-dev libzip-dev libxml2-dev \
libmd4c-dev libjansson-dev libyaml-dev nettle-dev zlib1g-dev libisal-dev libcmocka-dev bats sqlite3 \
python3 unzip mandoc man-db valgrind time"
[ $# -gt 0 ] && need="$*"
missing=""
for p in $need; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
        echo "install-deps: missing packages:$missing; run as root or install sudo" >&2
        exit 1
    }
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
