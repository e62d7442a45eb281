#!/usr/bin/env bash
# Boots the test VM with one kernel and runs the in-guest drivers there, in
# order. Succeeds when the VM ran every driver to the end and each left its
# results; whether each check passed is up to the per-check tests.
# Usage: run-suite.sh KERNEL_PKG CACHE_DIR OUT_DIR DRIVER[=GTEST_FILTER]...
set -euo pipefail
pkg=$1 cache=$2 out=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
rm -rf "$out"/results-*.xml "$out"/driver-status-* "$out"/verdicts-*
# The longest boot (the first kernel's: both drivers whole) takes about 20
# minutes under TCG next to clang-tidy in CI; the limit leaves room for a
# slower machine.
status=0
# Through UEFI firmware, as most hosts boot now: the kernel then has the
# firmware's runtime services, and the devices that reach them
# (/dev/efi_capsule_loader) are there to be denied.
# A boot that failed part way still gives the verdicts of what ran.
"$here/run-vm.sh" --kernel-pkg "$pkg" --cache "$cache" --out "$out" --timeout 2700 \
  --firmware uefi -- \
  "$here/guest/run-driver.sh" "$out" "$@" || status=$?
for spec in "$@"; do
  driver=${spec%=*} # without its filter, if it has one
  name=$(basename "$driver")
  xml=$out/results-$name.xml
  if [[ ! -s $xml ]]; then
    echo "$name left no results; see $out/guest.log and $out/console.log" >&2
    status=1
    continue
  fi
  "$here/write-verdicts.py" "$xml" "$out/verdicts-$name" "$name" || status=1
done
if ((status != 0)); then
  tail -n 50 "$out/guest.log" >&2 || true
fi
exit "$status"
