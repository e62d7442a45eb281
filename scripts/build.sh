#!/usr/bin/env bash
# Configures and builds lockc into build/ (or $LOCKC_BUILD_DIR).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${LOCKC_BUILD_DIR:-$top/build}
# Installed like a distribution package (/usr, /etc): `cmake --install`
# puts every file where Debian's dbus, polkit and systemd look.
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build "$build" -j2
