#!/usr/bin/env bash
# Checks that test-bus.sh gives what lockcd's tests rely on: polkitd on the
# private bus with lockc's actions and rules and the test users, and
# lockc's bus policy in dbus-daemon. Run it inside the harness:
#   tests/dbus/test-bus.sh -- tests/dbus/harness-selftest.sh
# Prints one "ok"/"not ok" line per check; exits 1 if any failed.
set -euo pipefail

for v in DBUS_SYSTEM_BUS_ADDRESS LOCKC_TEST_POLKITD_PID LOCKC_TEST_MEMBER_UID \
    LOCKC_TEST_MEMBER_GID LOCKC_TEST_OUTSIDER_UID LOCKC_TEST_OUTSIDER_GID LOCKC_TEST_LOCKC_GID; do
    if [[ -z ${!v:-} ]]; then
        echo "harness-selftest.sh: $v is not set; run me under tests/dbus/test-bus.sh" >&2
        exit 2
    fi
done

actions=(
    org.lockc.manager.register-container
    org.lockc.manager.set-container-policy
    org.lockc.manager.set-defaults
    org.lockc.manager.reload
    org.lockc.manager.subscribe-denials
    org.lockc.manager.run-confined
)
member=(--reuid="$LOCKC_TEST_MEMBER_UID" --regid="$LOCKC_TEST_MEMBER_GID" --clear-groups)
outsider=(--reuid="$LOCKC_TEST_OUTSIDER_UID" --regid="$LOCKC_TEST_OUTSIDER_GID" --clear-groups)
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

ok() { echo "ok - $*"; }
not_ok() {
    echo "not ok - $*"
    sed 's/^/#   /' "$out"
    failed=1
}

# pkcheck_as SETPRIV_ARGS... -- ACTION: pkcheck for its own process (a
# caller may only ask about other users' processes if it is root), as the
# user the setpriv arguments give (none: root). Output in $out; returns
# pkcheck's status: 0 authorized, 1 not authorized, 2 authentication
# needed (and no agent), 3 dismissed, 127 error.
pkcheck_as() {
    local args=()
    while [[ $1 != -- ]]; do args+=("$1"); shift; done
    shift
    # shellcheck disable=SC2016 # $$ is the inner sh's pid, which pkcheck inherits
    local cmd=(sh -c 'exec pkcheck --action-id "$1" --process $$' sh "$1")
    if ((${#args[@]})); then cmd=(setpriv "${args[@]}" -- "${cmd[@]}"); fi
    "${cmd[@]}" >"$out" 2>&1
}

expect_pkcheck() { # expect_pkcheck WANT DESCRIPTION SETPRIV_ARGS... -- ACTION
    local want=$1 what=$2 rc=0
    shift 2
    pkcheck_as "$@" || rc=$?
    if ((rc == want)); then ok "$what"; else not_ok "$what (pkcheck exited $rc, want $want)"; fi
}

# --- polkit ---------------------------------------------------------------------

# Every action is known to polkitd, from lockc, with the documented defaults.
for a in "${actions[@]}"; do
    if pkaction --verbose --action-id "$a" >"$out" 2>&1 &&
        grep -Eq '^ *vendor: +lockc$' "$out" &&
        grep -Eq '^ *implicit any: +auth_admin$' "$out" &&
        grep -Eq '^ *implicit inactive: +auth_admin$' "$out" &&
        grep -Eq '^ *implicit active: +auth_admin_keep$' "$out"; then
        ok "polkitd knows $a"
    else
        not_ok "polkitd knows $a"
    fi
done

for a in "${actions[@]}"; do
    # root: polkit authorizes uid 0 without asking.
    expect_pkcheck 0 "root is authorized for $a" -- "$a"
    # A group member: the rules file says YES. Its process has no
    # supplementary groups (--clear-groups): polkitd finds the membership
    # in its own /etc/group.
    expect_pkcheck 0 "lockc-member is authorized for $a (50-lockc.rules)" "${member[@]}" -- "$a"
    # Anyone else: auth_admin (no logind session, so allow_any applies) and
    # no authentication agent: "authentication needed", not authorized.
    expect_pkcheck 2 "lockc-outsider is not authorized for $a" "${outsider[@]}" -- "$a"
done
# The rule is only about lockc's actions.
expect_pkcheck 2 "lockc-member is not authorized for org.freedesktop.policykit.exec" \
    "${member[@]}" -- org.freedesktop.policykit.exec

# --- the bus policy (dbus/org.lockc.Manager.conf) -------------------------------

request_name() { # request_name SETPRIV_ARGS... -- NAME: RequestName; output in $out
    local args=()
    while [[ $1 != -- ]]; do args+=("$1"); shift; done
    shift
    local cmd=(dbus-send --bus="$DBUS_SYSTEM_BUS_ADDRESS" --print-reply=literal
        --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.RequestName
        "string:$1" uint32:0)
    if ((${#args[@]})); then cmd=(setpriv "${args[@]}" -- "${cmd[@]}"); fi
    "${cmd[@]}" >"$out" 2>&1
}

# The name is released when dbus-send disconnects. 1: primary owner.
if request_name -- org.lockc.Manager && grep -q 'uint32 1' "$out"; then
    ok "root may own org.lockc.Manager"
else
    not_ok "root may own org.lockc.Manager"
fi
for who in member outsider; do
    declare -n ids=$who
    if ! request_name "${ids[@]}" -- org.lockc.Manager && grep -q 'AccessDenied' "$out"; then
        ok "lockc-$who may not own org.lockc.Manager"
    else
        not_ok "lockc-$who may not own org.lockc.Manager"
    fi
    unset -n ids
done

# --- stopping polkitd --------------------------------------------------------------

# Tests stop polkitd to see privileged calls denied; nothing may restart it.
kill "$LOCKC_TEST_POLKITD_PID"
for ((i = 0; i < 50; i++)); do
    dbus-send --bus="$DBUS_SYSTEM_BUS_ADDRESS" --print-reply=literal --dest=org.freedesktop.DBus \
        /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner \
        string:org.freedesktop.PolicyKit1 | grep -q 'boolean false' && break
    sleep 0.1
done
rc=0
pkcheck_as -- org.lockc.manager.reload || rc=$?
if ((rc != 0)) && grep -q 'ServiceUnknown' "$out"; then
    ok "without polkitd nobody is authorized, not even root (pkcheck exited $rc)"
else
    not_ok "without polkitd nobody is authorized (pkcheck exited $rc)"
fi

exit "$failed"
