#!/usr/bin/env bash
# test-bus.sh [--keep] -- COMMAND [ARGS...]
#
# Runs COMMAND against a private system bus: a real dbus-daemon configured
# like Debian's system bus (with lockc's bus policy) and a real polkitd on
# it (with lockc's actions and rules, and two test users). The host's own
# system bus and polkit are not touched.
#
# COMMAND gets, in its environment:
#   DBUS_SYSTEM_BUS_ADDRESS      unix:path=<tmp>/system_bus_socket
#   LOCKC_TEST_POLKITD_PID       polkitd (kill it to see privileged calls fail)
#   LOCKC_TEST_DBUS_DAEMON_PID   the private dbus-daemon
#   LOCKC_TEST_MEMBER_UID/GID    user lockc-member (in group lockc)
#   LOCKC_TEST_OUTSIDER_UID/GID  user lockc-outsider (in no extra group)
#   LOCKC_TEST_LOCKC_GID         group lockc
#   LOCKC_TEST_BUS_DIR           the temporary directory (logs, config)
# The users and the group exist only in the daemons' view (/etc/passwd and
# /etc/group bind-mounted in their private mount namespaces); run clients as
# them with e.g. `setpriv --reuid=$LOCKC_TEST_OUTSIDER_UID
# --regid=$LOCKC_TEST_OUTSIDER_GID --clear-groups ...`.
#
# Exits with COMMAND's status, or 125 if the bus or polkitd cannot be set up.
# --keep leaves the temporary directory (config, daemon logs) behind.
# Needs root: dbus-daemon stays root, the daemons need bind mounts.
# LOCKC_TEST_POLKITD overrides the polkitd binary (/usr/lib/polkit-1/polkitd).
set -euo pipefail

readonly SETUP_FAILED=125
polkitd_bin=${LOCKC_TEST_POLKITD:-/usr/lib/polkit-1/polkitd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

usage() {
    echo "usage: $0 [--keep] -- COMMAND [ARGS...]"
}

die() {
    echo "test-bus.sh: $*" >&2
    exit "$SETUP_FAILED"
}

keep=0
while (($#)); do
    case $1 in
        --keep) keep=1; shift ;;
        --) shift; break ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit "$SETUP_FAILED" ;;
    esac
done
(($#)) || { usage >&2; exit "$SETUP_FAILED"; }

((EUID == 0)) || die "must run as root (polkitd needs a private mount namespace with bind mounts)"
for tool in dbus-daemon dbus-send unshare mount setpriv; do
    command -v "$tool" >/dev/null || die "$tool not found (Debian: dbus, dbus-bin, util-linux, mount)"
done
[[ -x $polkitd_bin ]] || die "$polkitd_bin not found (Debian: polkitd)"

lockc_policy=$repo/polkit/org.lockc.Manager.policy
lockc_rules=$repo/polkit/50-lockc.rules
lockc_busconf=$repo/dbus/org.lockc.Manager.conf
for f in "$lockc_policy" "$lockc_rules" "$lockc_busconf"; do
    [[ -f $f ]] || die "$f missing"
done
polkit_busconf=
for f in /usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf \
    /etc/dbus-1/system.d/org.freedesktop.PolicyKit1.conf; do
    if [[ -f $f ]]; then polkit_busconf=$f; break; fi
done
[[ -n $polkit_busconf ]] || die "polkit's bus policy (org.freedesktop.PolicyKit1.conf) not found"

# --- cleanup ------------------------------------------------------------------

tmp=
dbus_pid=
polkitd_pid=
command_pid=

alive() { # alive PID: running (a zombie child waiting to be reaped is not)
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# shellcheck disable=SC2317 # called from the EXIT trap
stop() { # stop PID: TERM, then KILL after 5 s; reaps it
    local pid=$1 i
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        alive "$pid" || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop "$command_pid"
    stop "$polkitd_pid"
    stop "$dbus_pid"
    if [[ -n $tmp ]]; then
        if ((keep)); then
            echo "test-bus.sh: kept $tmp" >&2
        else
            rm -rf "$tmp"
        fi
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

show_log() { # show_log FILE: the daemon's output, indented, to stderr
    if [[ -s $1 ]]; then sed 's/^/    /' "$1" >&2; else echo "    (no output)" >&2; fi
}

tmp=$(mktemp -d /tmp/lockc-test-bus.XXXXXX)
# polkitd (as user polkitd) and clients run as the test users must reach the
# socket in here; nothing in it is secret.
chmod 0755 "$tmp"

# --- test users: free ids, only in the daemons' /etc/passwd and /etc/group ----

id_taken() { # id_taken ID: used as a uid or a gid on the host?
    awk -F: -v id="$1" '$3 == id { found = 1 } END { exit !found }' /etc/passwd /etc/group
}
base=64100
while id_taken "$base" || id_taken $((base + 1)) || id_taken $((base + 2)); do
    base=$((base + 10))
    ((base < 65000)) || die "no free uid/gid range for the test users"
done
lockc_gid=$base
member_uid=$((base + 1))
outsider_uid=$((base + 2))

mkdir "$tmp/etc"
grep -vE '^(lockc|lockc-member|lockc-outsider):' /etc/passwd >"$tmp/etc/passwd" || true
grep -vE '^(lockc|lockc-member|lockc-outsider):' /etc/group >"$tmp/etc/group" || true
cat >>"$tmp/etc/passwd" <<EOF
lockc-member:x:$member_uid:$member_uid:lockc test member:/nonexistent:/usr/sbin/nologin
lockc-outsider:x:$outsider_uid:$outsider_uid:lockc test outsider:/nonexistent:/usr/sbin/nologin
EOF
cat >>"$tmp/etc/group" <<EOF
lockc:x:$lockc_gid:lockc-member
lockc-member:x:$member_uid:
lockc-outsider:x:$outsider_uid:
EOF
chmod 0644 "$tmp/etc/passwd" "$tmp/etc/group"

# --- polkit: the real actions and vendor rules, plus lockc's -------------------

cp -a /usr/share/polkit-1/actions "$tmp/actions"
cp "$lockc_policy" "$tmp/actions/"
cp -a /usr/share/polkit-1/rules.d "$tmp/rules.d"
cp "$lockc_rules" "$tmp/rules.d/"
chown --reference=/usr/share/polkit-1/rules.d "$tmp/rules.d/$(basename "$lockc_rules")"
chmod 0644 "$tmp/actions/$(basename "$lockc_policy")" "$tmp/rules.d/$(basename "$lockc_rules")"
# The host administrator's rules (/etc/polkit-1/rules.d) stay out: the tests
# must not depend on local policy.
mkdir "$tmp/empty-rules.d"
if [[ -d /etc/polkit-1/rules.d ]]; then
    chown --reference=/etc/polkit-1/rules.d "$tmp/empty-rules.d"
    chmod --reference=/etc/polkit-1/rules.d "$tmp/empty-rules.d"
fi

# --- the daemons' view of the system -----------------------------------------

# Both daemons run in private mount namespaces (one each) that show them the
# test users and lockc's polkit files. dbus-daemon needs the users too: it
# refuses connections from uids it cannot resolve.
in_test_ns() { # in_test_ns PROGRAM ARGS... &: PROGRAM in such a namespace
    # Only ever run in the background: exec makes the subshell's pid ($!)
    # PROGRAM's.
    # shellcheck disable=SC2016 # expanded by the inner sh
    exec unshare --mount --propagation private -- /bin/sh -c '
set -e
mount --bind "$1" /usr/share/polkit-1/actions
mount --bind "$2" /usr/share/polkit-1/rules.d
if [ -d /etc/polkit-1/rules.d ]; then mount --bind "$3" /etc/polkit-1/rules.d; fi
mount --bind "$4" /etc/passwd
mount --bind "$5" /etc/group
# A name service cache would answer from the host files.
if [ -d /run/nscd ]; then mount -t tmpfs tmpfs /run/nscd; fi
shift 5
exec "$@"
' test-ns "$tmp/actions" "$tmp/rules.d" "$tmp/empty-rules.d" \
        "$tmp/etc/passwd" "$tmp/etc/group" "$@"
}

# --- dbus-daemon -------------------------------------------------------------------

socket=$tmp/system_bus_socket
# The default policy mirrors Debian's /usr/share/dbus-1/system.conf; there is
# no <user> (it stays root), no <servicedir> (nothing is activated), no
# <syslog/>, and only the two service policies the tests need.
cat >"$tmp/system.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path=$socket</listen>

  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Containers1"/>
    <deny send_destination="org.freedesktop.DBus"
          send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
    <deny send_destination="org.freedesktop.DBus"
          send_interface="org.freedesktop.DBus.Debug.Stats"/>
    <deny send_destination="org.freedesktop.DBus"
          send_interface="org.freedesktop.systemd1.Activator"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.systemd1.Activator"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Monitoring"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Debug.Stats"/>
  </policy>

  <include>$polkit_busconf</include>
  <include>$lockc_busconf</include>
</busconfig>
EOF

# --pdeathsig: if this script is killed without running its trap (SIGKILL,
# e.g. a test timeout), the bus goes with it, and polkitd, which exits when
# it loses its bus, follows.
in_test_ns setpriv --pdeathsig KILL -- dbus-daemon --config-file="$tmp/system.conf" --nofork --nopidfile \
    --print-address=3 3>"$tmp/bus.address" >"$tmp/dbus-daemon.log" 2>&1 </dev/null &
dbus_pid=$!
# dbus-daemon prints its address once it listens.
for ((i = 0; ; i++)); do
    [[ -s $tmp/bus.address ]] && break
    if ! alive "$dbus_pid"; then
        wait "$dbus_pid" && rc=0 || rc=$?
        dbus_pid=
        echo "test-bus.sh: dbus-daemon exited ($rc) before it was ready:" >&2
        show_log "$tmp/dbus-daemon.log"
        exit "$SETUP_FAILED"
    fi
    if ((i >= 100)); then
        echo "test-bus.sh: dbus-daemon not ready after 10 s:" >&2
        show_log "$tmp/dbus-daemon.log"
        exit "$SETUP_FAILED"
    fi
    sleep 0.1
done
address=unix:path=$socket

# --- polkitd, in a mount namespace of its own --------------------------------------

DBUS_SYSTEM_BUS_ADDRESS=$address in_test_ns "$polkitd_bin" --no-debug \
    >"$tmp/polkitd.log" 2>&1 </dev/null &
polkitd_pid=$!

has_polkit() {
    dbus-send --bus="$address" --print-reply=literal --dest=org.freedesktop.DBus \
        /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner \
        string:org.freedesktop.PolicyKit1 2>/dev/null | grep -q 'boolean true'
}
for ((i = 0; ; i++)); do
    has_polkit && break
    if ! alive "$polkitd_pid"; then
        wait "$polkitd_pid" && rc=0 || rc=$?
        polkitd_pid=
        echo "test-bus.sh: polkitd exited ($rc) before it owned org.freedesktop.PolicyKit1:" >&2
        show_log "$tmp/polkitd.log"
        exit "$SETUP_FAILED"
    fi
    if ((i >= 200)); then
        echo "test-bus.sh: polkitd did not own org.freedesktop.PolicyKit1 within 20 s:" >&2
        show_log "$tmp/polkitd.log"
        exit "$SETUP_FAILED"
    fi
    sleep 0.1
done

echo "test-bus.sh: private system bus $address (dbus-daemon $dbus_pid, polkitd $polkitd_pid)" >&2

# --- COMMAND ----------------------------------------------------------------------

export DBUS_SYSTEM_BUS_ADDRESS=$address
export LOCKC_TEST_BUS_DIR=$tmp
export LOCKC_TEST_POLKITD_PID=$polkitd_pid
export LOCKC_TEST_DBUS_DAEMON_PID=$dbus_pid
export LOCKC_TEST_LOCKC_GID=$lockc_gid
export LOCKC_TEST_MEMBER_UID=$member_uid LOCKC_TEST_MEMBER_GID=$member_uid
export LOCKC_TEST_OUTSIDER_UID=$outsider_uid LOCKC_TEST_OUTSIDER_GID=$outsider_uid

# In the background, so that a TERM or INT to this script is handled at once
# (the trap stops COMMAND, then the daemons) instead of after COMMAND exits.
# <&0 keeps stdin, which a background command would otherwise lose.
status=0
"$@" <&0 &
command_pid=$!
wait "$command_pid" || status=$?
command_pid=
exit "$status"
