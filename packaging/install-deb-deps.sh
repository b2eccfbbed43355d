#!/bin/sh
# Installs the Debian packages `make deb` and tests/e2e/packaging.bats need
# (building and checking the .deb), and only the missing ones.  Kept apart
# from the default list of install-deps.sh so that `make run` stays small;
# packaging.bats calls this script itself.
set -eu
exec sh "$(dirname "$0")/install-deps.sh" dpkg-dev debhelper lintian fakeroot
