#!/usr/bin/env bash
# Shows lockc's main job: builds it, boots the test VM (a stock Debian
# kernel with lsm=...,bpf), installs lockc there (lockcd started through
# D-Bus by systemd), and runs real Docker containers: ordinary ones work,
# the classic escapes are denied, and a container made privileged with
# lockcctl may do what the others may not.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${LOCKC_BUILD_DIR:-$top/build}
kernel=${LOCKC_KERNEL_PKG:-linux-image-amd64}
"$top/scripts/build.sh"
out=$build/vm-out/demo
mkdir -p "$out"
status=0
"$top/tests/vm/run-vm.sh" --kernel-pkg "$kernel" --cache "$build/vm-cache" --out "$out" -- \
  "$top/tests/vm/guest/demo.sh" "$build" || status=$?
cat "$out/guest.log"
exit "$status"
