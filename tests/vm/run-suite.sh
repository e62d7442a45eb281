#!/usr/bin/env bash
# Boots the test VM with one kernel and runs the in-guest driver there.
# Succeeds when the VM ran the driver to the end and left its results;
# whether each check passed is up to the per-check tests.
# Usage: run-suite.sh KERNEL_PKG CACHE_DIR OUT_DIR DRIVER
set -euo pipefail
pkg=$1 cache=$2 out=$3 driver=$4
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
rm -f "$out/results.xml" "$out/driver-status"
"$here/run-vm.sh" --kernel-pkg "$pkg" --cache "$cache" --out "$out" -- \
  "$here/guest/run-driver.sh" "$driver" "$out"
if [[ ! -s $out/results.xml ]]; then
  echo "the driver left no results; see $out/guest.log and $out/console.log" >&2
  tail -n 50 "$out/guest.log" >&2 || true
  exit 1
fi
python3 - "$out/results.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
print(f"VM results: {r.get('tests')} checks, {r.get('failures')} failed")
PY
