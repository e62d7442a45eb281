#!/usr/bin/env bash
# Shows lockc's main job: builds it, boots the test VM (a stock Debian
# kernel with lsm=...,bpf), loads lockc there, and runs real Docker
# containers: ordinary ones work, the classic escapes are denied.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${LOCKC_BUILD_DIR:-$top/build}
kernel=${LOCKC_KERNEL_PKG:-linux-image-amd64}
"$top/scripts/build.sh"
out=$build/vm-out/demo
mkdir -p "$out"
status=0
"$top/tests/vm/run-vm.sh" --kernel-pkg "$kernel" --cache "$build/vm-cache" --out "$out" -- \
  "$top/tests/vm/guest/demo.sh" "$build/tools/lockc-enforcer" || status=$?
cat "$out/guest.log"
exit "$status"
