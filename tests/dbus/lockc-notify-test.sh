#!/bin/bash
# Run by test-bus.sh (a private system bus with the real polkitd and lockc's
# polkit rules): lockc-notify against a real lockcd (not enforcing: the host
# kernel has no BPF LSM, so there are no denials here; those are checked in
# the VM by tests/vm/desktop/notify-test.sh). Checks:
#   - a user polkit does not authorise (nobody) gets the not-authorised line
#     once and lockc-notify stays running, idle;
#   - root subscribes, follows a restart of lockcd and subscribes again;
#   - a second lockc-notify in the same session exits 0 at once.
#
#   lockc-notify-test.sh LOCKC_NOTIFY LOCKCD
set -euo pipefail
notify_bin=$1
lockcd_bin=$2
: "${DBUS_SYSTEM_BUS_ADDRESS:?run me under tests/dbus/test-bus.sh}"

fail() { echo "FAIL: $*" >&2; for f in "$work"/*.log; do echo "--- $f"; cat "$f"; done >&2; exit 1; }
pass() { echo "PASS: $*"; }

work=$(mktemp -d /tmp/lockc-notify-host.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
install -m 0755 "$notify_bin" "$work/lockc-notify"

start_lockcd() {
  "$lockcd_bin" --allow-unenforced --state-dir "$work/state" --pin-dir "$work/no-pins" \
    >>"$work/lockcd.log" 2>&1 &
  lockcd_pid=$!
  pids+=("$lockcd_pid")
  wait_for "lockcd on the bus" busctl --address="$DBUS_SYSTEM_BUS_ADDRESS" status org.lockc.Manager
}
wait_for() { # DESCRIPTION COMMAND...
  local what=$1 t
  shift
  for ((t = 0; t < 300; t++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "$what: not within 30 s"
}
session_bus() { # UID: starts a session bus as UID, prints its address
  local out
  out=$(setpriv --reuid="$1" --regid="$1" --clear-groups env HOME="$work" \
    dbus-daemon --session --fork --print-address=1 --print-pid=1)
  pids+=("$(sed -n 2p <<<"$out")")
  sed -n 1p <<<"$out"
}
log_has() { grep -qF -- "$2" "$work/$1.log"; }

start_lockcd

# nobody: not in group lockc, so polkit says no (auth_admin, non-interactive).
nobody_bus=$(session_bus 65534)
setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$work" \
  DBUS_SESSION_BUS_ADDRESS="$nobody_bus" DBUS_SYSTEM_BUS_ADDRESS="$DBUS_SYSTEM_BUS_ADDRESS" \
  "$work/lockc-notify" >"$work/nobody.log" 2>&1 &
nobody_pid=$!
pids+=("$nobody_pid")
line="lockc-notify: not authorised to see lockc's denials (polkit action org.lockc.manager.subscribe-denials); no notifications"
wait_for "the not-authorised line" log_has nobody "$line"
pass "a user not in group lockc: $line"

# root, on its own session bus.
root_bus=$(session_bus 0)
DBUS_SESSION_BUS_ADDRESS=$root_bus "$work/lockc-notify" >"$work/root.log" 2>&1 &
root_pid=$!
pids+=("$root_pid")
wait_for "root's lockc-notify subscribing" log_has root "receiving lockc's denials"
pass "root subscribes"

set +e
DBUS_SESSION_BUS_ADDRESS=$root_bus timeout 30 "$work/lockc-notify" >"$work/second.log" 2>&1
status=$?
set -e
if [[ $status != 0 ]] || ! log_has second "already running in this session"; then
  fail "a second lockc-notify in the session: exit $status"
fi
pass "a second lockc-notify in the same session exits 0: $(cat "$work/second.log")"

kill "$lockcd_pid"
wait "$lockcd_pid" || true
wait_for "root's lockc-notify noticing lockcd stopped" log_has root "lockcd stopped; waiting"
start_lockcd
wait_for "root's lockc-notify subscribing again" \
  bash -c "[[ \$(grep -cF \"receiving lockc's denials\" '$work/root.log') == 2 ]]"
pass "root's lockc-notify follows a restart of lockcd"

# The restart made nobody's lockc-notify try again; it is still idle and
# has said it once (the line is logged when the answer changes only).
sleep 1
kill -0 "$nobody_pid" 2>/dev/null || fail "nobody's lockc-notify exited"
[[ $(grep -cF "$line" "$work/nobody.log") == 1 ]] || fail "the not-authorised line more than once"
kill -0 "$root_pid" 2>/dev/null || fail "root's lockc-notify exited"
pass "both stay running; the not-authorised line was logged once"
