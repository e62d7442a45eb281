#!/usr/bin/env bash
# Runs every benchmark and prints the summary (docs/benchmarks.md shows one):
# the D-Bus ones on the host, on a private bus; the kernel ones in the test
# VM (one boot). Raw figures and the summary stay in the output directory.
#
#   bench/run.sh [--kernel-pkg PKG] [--out DIR] [--cache DIR] [--lsm LIST] [--smoke]
#
# The VM boots with lsm=LIST (default: lockc's test boot's list plus
# apparmor, so that the hook benchmark can compare lockc with AppArmor; off
# then includes unconfined AppArmor's hooks, see docs/benchmarks.md).
# --cache is run-vm.sh's kernel cache (default BUILD_DIR/vm-cache).
# LOCKC_BENCH_* variables change the counts and LOCKC_BENCH_PARTS picks the
# kernel benchmarks to run (see bench/vm/guest.sh).
# --smoke runs everything once with tiny counts (what CI does); its figures
# mean nothing.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${LOCKC_BUILD_DIR:-$top/build}
kernel=linux-image-6.12-amd64 out='' mode=full cache=''
lsm=lockdown,capability,landlock,yama,apparmor,bpf
while (($#)); do
  case $1 in
  --kernel-pkg) kernel=$2; shift 2 ;;
  --out) out=$2; shift 2 ;;
  --cache) cache=$2; shift 2 ;;
  --lsm) lsm=$2; shift 2 ;;
  --smoke) mode=smoke; shift ;;
  *) echo "usage: $0 [--kernel-pkg PKG] [--out DIR] [--cache DIR] [--lsm LIST] [--smoke]" >&2; exit 2 ;;
  esac
done
out=${out:-$build/bench-out/$kernel}
cache=${cache:-$build/vm-cache}
"$top/scripts/build.sh"
mkdir -p "$out"

echo "=== D-Bus API and lockcd memory (host, private bus)"
smoke=()
[[ $mode == smoke ]] && smoke=(--smoke)
LOCKC_BUILD_DIR=$build "$top/bench/dbus/run-host.sh" "${smoke[@]}" | tee "$out/dbus.txt"
# The human-readable part, for summarise.py.
{
  echo "D-Bus API and lockcd's memory (host, private bus, lockcd not enforcing):"
  echo
  echo '```'
  sed -n '/^lockc-dbus-bench/,/^# machine-readable/p' "$out/dbus.txt" | sed '$d'
  echo '```'
} >"$out/dbus-summary.md"

echo "=== kernel benchmarks (test VM, $kernel)"
# LOCKC_BENCH_HOOK_ROUNDS, _HOOK_SECONDS, _MAP_CONTAINERS, _START_ROUNDS and
# _START_RUNS change bench/vm/guest.sh's counts; _HOOK_LOOPS picks hook
# loops (bench/vm/hooks.sh).
mapfile -t overrides < <(env | grep '^LOCKC_BENCH_' || true)
status=0
# Under TCG the guest's clock counts instructions (icount, 1 ns each): the
# figures then depend on what the guest executes, not on how busy the host
# is, and repeat to within a fraction of a percent. One virtual CPU: with
# two, one waiting on the other under icount adds arbitrary delays.
# (Under KVM, if it works here, icount does not apply: real time.)
LOCKC_VM_ICOUNT=${LOCKC_VM_ICOUNT-shift=0,sleep=off} \
  "$top/tests/vm/run-vm.sh" --kernel-pkg "$kernel" --cache "$cache" --out "$out" \
  --cpus 1 --lsm "$lsm" --timeout 5400 -- env "${overrides[@]}" "$top/bench/vm/guest.sh" "$build" "$out" "$mode" \
  2> >(tee "$out/run-vm.log" >&2) || status=$?
if ((status != 0)); then
  tail -n 40 "$out/guest.log" >&2 || true
  exit "$status"
fi
# run-vm.sh says which accelerator it used ("booting <kver> (tcg, ...").
sed -n 's/^run-vm: booting [^ ]* (\([^)]*\)).*/accelerator\t\1/p' "$out/run-vm.log" \
  >>"$out/environment.tsv"
python3 "$top/bench/summarise.py" "$out" | tee "$out/summary.md"
