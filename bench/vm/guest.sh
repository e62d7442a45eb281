#!/bin/bash
# Runs in the test VM: every benchmark that needs lockc's kernel side, in one
# boot, writing its raw figures to OUT_DIR (bench/summarise.py reads them).
#
#   guest.sh BUILD_DIR OUT_DIR full|smoke
#
# smoke: every benchmark once with tiny counts, so that CI sees each one
# run and check its outcomes (allowed or denied as intended); the figures
# mean nothing. full: the counts docs/benchmarks.md reports.
set -euo pipefail
build=$1 out=$2 mode=$3
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

case $mode in
full) hook_rounds=5 hook_seconds=0.2 map_containers=10000 start_rounds=5 start_runs=10
  events_args=(--rounds 5 --seconds 2) ;;
smoke) hook_rounds=1 hook_seconds=0.05 map_containers=100 start_rounds=1 start_runs=2
  events_args=(--smoke) ;;
*) echo "usage: $0 BUILD_DIR OUT_DIR full|smoke" >&2; exit 2 ;;
esac
# Overrides, e.g. fewer containers when time is short (bench/run.sh passes
# the caller's LOCKC_BENCH_* variables on to the guest).
hook_rounds=${LOCKC_BENCH_HOOK_ROUNDS:-$hook_rounds}
hook_seconds=${LOCKC_BENCH_HOOK_SECONDS:-$hook_seconds}
map_containers=${LOCKC_BENCH_MAP_CONTAINERS:-$map_containers}
start_rounds=${LOCKC_BENCH_START_ROUNDS:-$start_rounds}
start_runs=${LOCKC_BENCH_START_RUNS:-$start_runs}
if [[ -n ${LOCKC_BENCH_EVENT_ARGS:-} ]]; then
  read -r -a events_args <<<"$LOCKC_BENCH_EVENT_ARGS"
fi

mkdir -p "$out"
{
  echo "mode	$mode"
  echo "kernel	$(uname -r)"
  echo "lsm	$(cat /sys/kernel/security/lsm)"
  echo "cpu	$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
  echo "cpus	$(nproc)"
  echo "memory	$(awk '/^MemTotal/ { print $2 " kB" }' /proc/meminfo)"
  echo "bpf_jit	$(sysctl -n net.core.bpf_jit_enable 2>/dev/null || echo '?')"
} >"$out/environment.tsv"

# The kernel-side benchmarks load and unload the programs themselves: no
# lockcd may hold them meanwhile.
systemctl stop lockcd.service 2>/dev/null || true
"$build/tools/lockc-enforcer" uninstall >/dev/null

# LOCKC_BENCH_PARTS picks some of them (e.g. "hooks events"), in this order.
parts=" ${LOCKC_BENCH_PARTS:-hooks maps start events} "
want() { [[ $parts == *" $1 "* ]]; }

if want hooks; then
  echo "=== hook cost"
  "$here/hooks.sh" "$build" "$out" "$hook_rounds" "$hook_seconds"
fi
if want maps; then
  echo "=== BPF map memory"
  "$here/maps.sh" "$build" "$out" "$map_containers"
fi
if want start || want events; then
  "$top/tests/vm/guest/install-lockc.sh" "$build"
fi
if want start; then
  echo "=== container start (real Docker, lockc installed with cmake --install)"
  "$top/tests/vm/guest/docker-setup.sh" >/dev/null
  "$here/container-start.sh" "$build" "$out" "$start_rounds" "$start_runs"
fi
if want events; then
  echo "=== decision events to D-Bus (the installed lockcd, one subscriber)"
  systemctl start lockcd.service
  "$build/bench/dbus/lockc-events-bench" "${events_args[@]}" --tsv "$out/events.tsv" |
    tee "$out/events.txt"
fi
echo "=== done"
