#!/usr/bin/env bash
# run-host.sh [BENCH-OPTIONS...]
#
# Runs lockc-dbus-bench on the host: the real lockcd (built in the build
# directory) on a private system bus with a real polkitd, set up by
# tests/dbus/test-bus.sh. Options go to lockc-dbus-bench (see --help);
# without any, it measures everything with the default counts.
#
# lockcd runs as the host tests run it: --allow-unenforced (this kernel has
# no BPF LSM), with its own configuration, --state-dir and --pin-dir in a
# temporary directory under /var/tmp (on disk, like /var/lib/lockc: the
# registry is fsynced on every change, so the filesystem matters). Before
# each memory round lockcd is restarted, so that every round's idle figure
# is a fresh lockcd's.
#
# Environment:
#   LOCKC_BUILD_DIR       the build directory (default: <repo>/build)
#   LOCKC_BENCH_TMPDIR    where the temporary directory goes (default /var/tmp)
#   LOCKC_BENCH_KEEP=1    keep the temporary directory (lockcd's log)
# Needs root (test-bus.sh does).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")
build=${LOCKC_BUILD_DIR:-$repo/build}
bench=$build/bench/dbus/lockc-dbus-bench
lockcd=$build/daemon/lockcd/lockcd

die() {
    echo "run-host.sh: $*" >&2
    exit 1
}

# --- lockcd, in $LOCKC_BENCH_DIR -------------------------------------------------

has_name() {
    dbus-send --system --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.lockc.Manager 2>/dev/null |
        grep -q true
}

start_lockcd() {
    local dir=$LOCKC_BENCH_DIR pid
    # Not a child of anything that waits for it: a restart command exits
    # while this lockcd runs on; stdin and stdout are not the caller's.
    "$lockcd" --allow-unenforced --config "$dir/lockc.toml" --state-dir "$dir/state" \
        --pin-dir "$dir/no-pins" </dev/null >>"$dir/lockcd.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/lockcd.pid"
    for _ in $(seq 500); do
        if has_name; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$dir/lockcd.log" >&2
            die "lockcd exited during start-up"
        fi
        sleep 0.01
    done
    tail -n 20 "$dir/lockcd.log" >&2
    die "lockcd did not take org.lockc.Manager within 5 s"
}

stop_lockcd() {
    local dir=$LOCKC_BENCH_DIR pid
    [[ -f $dir/lockcd.pid ]] || return 0
    pid=$(<"$dir/lockcd.pid")
    rm -f "$dir/lockcd.pid"
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1000); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.01
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "run-host.sh: lockcd $pid did not stop within 10 s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    # The bus drops the name when it sees the connection close.
    for _ in $(seq 500); do
        has_name || return 0
        sleep 0.01
    done
}

# --- on the private bus -------------------------------------------------------

# shellcheck disable=SC2317 # called by the trap
cleanup() {
    stop_lockcd
    if [[ ${LOCKC_BENCH_KEEP:-0} == 1 ]]; then
        echo "run-host.sh: kept $LOCKC_BENCH_DIR" >&2
    else
        rm -rf "$LOCKC_BENCH_DIR"
    fi
}

inside() {
    local dir
    dir=$(mktemp -d "${LOCKC_BENCH_TMPDIR:-/var/tmp}/lockc-bench.XXXXXX")
    export LOCKC_BENCH_DIR=$dir
    trap cleanup EXIT
    mkdir "$dir/state"
    # The built-in configuration, but no runtime execs held: the host's own
    # runc/crun (if any) must not wait for this lockcd.
    printf '[runtimes]\nbinaries = []\n' >"$dir/lockc.toml"

    echo "lockcd on the host: $lockcd --allow-unenforced (private bus: $DBUS_SYSTEM_BUS_ADDRESS)"
    echo "  kernel $(uname -r), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "  state dir $dir/state on $(findmnt -n -o FSTYPE,SOURCE -T "$dir" | head -n 1 | tr -s ' ')"
    echo "  BPF LSM active: $(grep -qw bpf /sys/kernel/security/lsm 2>/dev/null && echo yes || echo no)" \
        "($(cat /sys/kernel/security/lsm 2>/dev/null || echo 'no /sys/kernel/security/lsm'))"
    echo
    start_lockcd
    local status=0
    "$bench" --restart-command "$(printf %q "$self") --restart-lockcd" "$@" || status=$?
    if ((status != 0)); then
        echo "run-host.sh: lockc-dbus-bench failed ($status); lockcd's log ends:" >&2
        tail -n 20 "$dir/lockcd.log" >&2
    fi
    return "$status"
}

case ${1-} in
    --help | -h)
        sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'
        [[ -x $bench ]] && "$bench" --help
        exit 0
        ;;
    --inside)
        shift
        inside "$@"
        ;;
    --restart-lockcd)
        [[ -n ${LOCKC_BENCH_DIR-} ]] || die "--restart-lockcd is for the benchmark's own use"
        stop_lockcd
        start_lockcd
        ;;
    *)
        ((EUID == 0)) || die "must run as root"
        [[ -x $bench && -x $lockcd ]] ||
            die "build first: $repo/scripts/build.sh (or cmake --build $build" \
                "--target lockc-dbus-bench lockcd)"
        exec "$repo/tests/dbus/test-bus.sh" -- "$self" --inside "$@"
        ;;
esac
