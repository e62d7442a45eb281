#!/usr/bin/env bash
# The whole test suite: unit tests on the host, then the checks that need a
# kernel with the BPF LSM, in the test VM (one boot per kernel).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${LOCKC_BUILD_DIR:-$top/build}
"$top/scripts/build.sh"
cd "$build"
ctest -j2 --output-on-failure --timeout 3000 "$@"
