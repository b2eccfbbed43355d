#!/bin/sh
# Installs the Debian packages `make deb` and tests/e2e/packaging.bats need
# (building and checking the .deb), and only the missing ones.  Kept apart
# from install-deps.sh so that `make run` stays small; packaging.bats calls
# this script itself.
set -eu
need="dpkg-dev debhelper lintian fakeroot"
missing=""
for p in $need; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deb-deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
        echo "install-deb-deps: missing packages:$missing; run as root or install sudo" >&2
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
