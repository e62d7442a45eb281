#!/usr/bin/env bash
# The front ends against the real thing: boots the test VM with a port of
# the host forwarded to Cockpit in the guest (tests/vm/desktop/guest.sh sets
# up lockcd, Docker, Cockpit and its users), runs the browser test
# (cockpit.test.mjs, Debian's Chromium driven by Playwright) on the host
# against it, then checks what lockcd says after the test.
#
#   run.sh [--unenforced] BUILD_DIR KERNEL_PKG CACHE_DIR OUT_DIR
#
# --unenforced boots without bpf in lsm= and checks only that the page says
# lockc is not enforcing, and why (cockpit-unenforced.png).
# Results in OUT_DIR: cockpit-test.log, cockpit-lockc.png (the page, after
# the test), guest.log and console.log (the VM), desktop-state.json.
set -euo pipefail
mode=()
lsm=()
if [[ ${1-} == --unenforced ]]; then
  mode=(--unenforced)
  lsm=(--lsm "lockdown,capability,landlock,yama")
  shift
fi
build=$1 pkg=$2 cache=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
modules=$build/tests/vm/desktop-npm/node_modules

die() { echo "desktop: $*" >&2; exit 1; }

[[ -d $modules/playwright-core ]] || die "$modules has no playwright-core: build the target lockc-desktop-test-deps"
[[ -x /usr/bin/chromium ]] || die "no /usr/bin/chromium (scripts/install-deps.sh installs it)"
command -v node >/dev/null || die "no node"

rm -rf "$out"
mkdir -p "$out"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

"$here/../run-vm.sh" --kernel-pkg "$pkg" --cache "$cache" --out "$out" --timeout 2400 \
  --forward "$port:9090" "${lsm[@]}" -- "$here/guest.sh" "${mode[@]}" "$build" &
vm=$!
# However this script ends, the guest stops waiting for the browser.
trap 'touch "$out/desktop-done"' EXIT

until [[ -e $out/desktop-ready ]]; do
  if ! kill -0 "$vm" 2>/dev/null; then
    wait "$vm" || true
    tail -n 30 "$out/guest.log" >&2 || true
    die "the VM ended before the guest was ready; see $out/guest.log and $out/console.log"
  fi
  sleep 2
done
value() { sed -n "s/^$1=//p" "$out/desktop-ready"; }
container=$(value container)
echo "desktop: guest ready (container $container), browser test against 127.0.0.1:$port"

test_status=0
LOCKC_COCKPIT_URL=http://127.0.0.1:$port LOCKC_CONTAINER=$container \
  LOCKC_UNENFORCED=$((${#mode[@]} > 0)) \
  LOCKC_PASSWORD=$(value password) LOCKC_NODE_MODULES=$modules LOCKC_SHOTS=$out \
  node "$here/cockpit.test.mjs" 2>&1 | tee "$out/cockpit-test.log" || test_status=$?
touch "$out/desktop-done"

vm_status=0
wait "$vm" || vm_status=$?
((test_status == 0)) || die "the browser test failed (status $test_status); see $out/cockpit-test.log"
((vm_status == 0)) || { tail -n 30 "$out/guest.log" >&2; die "the guest failed; see $out/guest.log"; }

if ((${#mode[@]})); then
  echo "desktop: all checks passed"
  exit 0
fi

# What the page changed reached lockcd: its own list says so.
python3 - "$out" "$container" <<'PY'
import json, sys
out, container = sys.argv[1], sys.argv[2]
rows = {row["id"]: row for row in json.load(open(f"{out}/desktop-state.json"))}
assert container in rows, f"{container} is not in lockcctl list"
row = rows[container]
assert (row["level"], row["mode"]) == ("restricted", "audit"), f"lockcd has {container} at {row}"
print("ok - lockcctl list (in the guest, after the test) has the container at restricted, audit")
status = json.load(open(f"{out}/desktop-status.json"))
assert status["default_level"] == "restricted", f"lockcd's default level is {status['default_level']}"
print("ok - lockcctl status has the default level restricted")
PY
# lockc-notify's checks ran in the guest (notify-test.sh, after the browser).
grep -E '^notify-test: (PASS|SKIP)' "$out/guest.log" || true
echo "desktop: all checks passed"
