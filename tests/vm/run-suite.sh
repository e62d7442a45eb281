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
rm -f "$out"/results-*.xml "$out"/driver-status-*
# The three drivers whole under TCG, next to clang-tidy in CI: about 30
# minutes; the limit leaves room for a slower machine.
"$here/run-vm.sh" --kernel-pkg "$pkg" --cache "$cache" --out "$out" --timeout 2700 -- \
  "$here/guest/run-driver.sh" "$out" "$@"
status=0
for spec in "$@"; do
  driver=${spec%=*} # without its filter, if it has one
  name=$(basename "$driver")
  xml=$out/results-$name.xml
  if [[ ! -s $xml ]]; then
    echo "$name left no results; see $out/guest.log and $out/console.log" >&2
    status=1
    continue
  fi
  python3 - "$xml" "$name" <<'PY'
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
print(f"VM results of {sys.argv[2]}: {r.get('tests')} checks, {r.get('failures')} failed")
PY
done
if ((status != 0)); then
  tail -n 50 "$out/guest.log" >&2 || true
fi
exit "$status"
