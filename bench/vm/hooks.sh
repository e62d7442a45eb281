#!/bin/bash
# Runs in the test VM: the hook benchmark (lockc-hookbench) in six
# configurations, seven when the kernel runs AppArmor, interleaved loop by
# loop: for each round and each loop,
#
#   off       lockc's LSM programs off their hooks (lockc-bench-switch off):
#             no lockc code runs on any hook, as if it were not loaded
#   off-cgroup  lockc still off; the caller in the baseline container's
#             cgroup: what a process in a cgroup of its own pays without
#             lockc (cgroup-aware accounting costs some loops a few
#             percent), the fair "no lockc" for a container's operations
#   floor     lockc still off; an empty program (floor.bpf.c) on each of
#             lockc's hooks instead: what any BPF LSM pays on these hooks
#             before its program does anything (the trampoline); lockc's
#             own cost is what host and baseline add on top
#   apparmor  (only when AppArmor is among the kernel's LSMs) lockc still
#             off; the caller is in a cgroup of its own, confined by
#             lockc-bench-docker-default.apparmor (modelled on Docker's
#             docker-default), doing what baseline does: what a container
#             pays for AppArmor instead of lockc. docker-default refuses
#             every mount; the profile allows the loop's one bind mount,
#             so that the mount loop times the same allowed operation here
#             as in baseline (see the profile)
#   host      on; the caller is a host process
#   baseline  on; the caller is in a cgroup with a baseline entry, doing
#             operations baseline allows
#   denied    on; the caller is in a cgroup with a restricted entry, doing
#             operations it denies (open, mount, connect), each denial an
#             event that a reader drains (stat, exec, ioctl and fcntl: no
#             rule denies them, so they run allowed there too)
#
# back to back, ROUNDS times. The programs are loaded once: a load verifies
# every program, half a minute under software emulation, while switching
# them off and on takes a fraction of a second, so the configurations can
# alternate every few seconds and slow drifts of the emulator cancel out.
#
# The "container" is a cgroup with a policy entry, not a Docker container:
# that entry is all lockc's programs look at, and a plain cgroup keeps the
# file system, namespaces and binary the same in every configuration, so
# the ratios show lockc's cost alone.
#
# Then one more pass of baseline and denied with kernel.bpf_stats_enabled,
# for the time each program spends per call (not timed: stats cost time).
#
#   hooks.sh BUILD_DIR OUT_DIR ROUNDS SECONDS_PER_LOOP
# The floor is loaded once too and switched the same way.
# Writes OUT_DIR/hooks.tsv (round config loop ops ns_per_op reader_ns_per_op:
# the CPU time the event reader ran during the loop, per operation; on the
# benchmark's one CPU a part of ns_per_op the caller did not spend) and
# OUT_DIR/hooks-progs.tsv (config program run_cnt run_time_ns).
set -euo pipefail
build=$1 out=$2 rounds=$3 seconds=$4

enforcer=$build/tools/lockc-enforcer
bench=$build/bench/hooks/lockc-hookbench
exit0=$build/bench/hooks/lockc-bench-exit0
switch=$build/bench/hooks/lockc-bench-switch
pins=/sys/fs/bpf/lockc
stash=/sys/fs/bpf/lockc-bench-stash
floor_obj=$build/bench/hooks/floor.bpf.o
floor_pins=/sys/fs/bpf/lockc-bench-floor
floor_stash=/sys/fs/bpf/lockc-bench-floor-stash
cg_root=/sys/fs/cgroup/lockc-bench
scratch=/run/lockc-bench
aa_profile=lockc-bench-docker-default
aa_file=$(cd "$(dirname "$0")" && pwd)/$aa_profile.apparmor
# restricted denies reads of service-account tokens; baseline does not: the
# same file on the same tmpfs serves the allowed and the denied open.
token_dir=/run/secrets/kubernetes.io/lockc-bench
token=$token_dir/token
allowed_sock=$scratch/allowed.sock
denied_sock=/run/docker/lockc-bench.sock # an engine socket

log() { echo "hooks: $*" >&2; }
die() { echo "hooks: ERROR: $*" >&2; exit 1; }

reader='' apparmor=''
stop_reader() {
  if [[ -n $reader ]]; then
    kill "$reader" 2>/dev/null || true
    wait "$reader" 2>/dev/null || true
    reader=''
  fi
}
cleanup() {
  stop_reader
  "$enforcer" uninstall >/dev/null 2>&1 || true
  rm -rf "$stash" "$floor_pins" "$floor_stash"
  rmdir "$cg_root"/baseline "$cg_root"/restricted "$cg_root"/apparmor "$cg_root" 2>/dev/null || true
  if [[ -n $apparmor ]]; then
    apparmor_parser -R -K "$aa_file" >/dev/null 2>&1 || true
  fi
  rm -rf "$scratch" "$token_dir" "$denied_sock"
}
trap cleanup EXIT

load() {
  "$enforcer" uninstall >/dev/null
  "$enforcer" load >/dev/null
  "$enforcer" set lockc-bench/baseline baseline enforce >/dev/null
  "$enforcer" set lockc-bench/restricted restricted enforce >/dev/null
  rm -rf "$floor_pins" "$floor_stash"
  floor_programs=$("$switch" load "$floor_obj" "$floor_stash")
  floor_programs=${floor_programs%% programs*}
  # Denials are events: drain them as lockcd would, or the ring buffer
  # fills and the denied loop would time the drop path instead. The reader
  # holds the maps only, not the links.
  "$enforcer" events --follow >/dev/null &
  reader=$!
  settle
}

# lockc-bench-switch says how many programs it moved: all of lockc's LSM
# programs each time, or the comparison would be with a half-on lockc.
lsm_programs=''
switch() { # off|on
  local said
  said=$("$switch" "$1" "$pins" "$stash")
  set -- "$1" "${said%% programs*}"
  [[ -n $lsm_programs ]] || lsm_programs=$2
  ((lsm_programs > 0 && $2 == lsm_programs)) ||
    die "switching $1 moved $2 programs, not $lsm_programs"
}

# The floor's programs on their hooks or off them: exactly as many as
# lockc has, or the floor would not be the floor of what lockc does.
floor() { # on|off
  local said
  said=$("$switch" "$1" "$floor_pins" "$floor_stash")
  said=${said%% programs*}
  ((said == floor_programs && said == lsm_programs)) ||
    die "the floor has $floor_programs programs and switching $1 moved $said; lockc has $lsm_programs"
}

# Under software emulation a process that is still starting (the reader
# above) or a daemon's burst of work shows in the next loop's figures:
# let the guest go quiet first.
settle() { sleep 1; }

# The benchmark and its children run on one CPU: under TCG a wakeup across
# virtual CPUs (the listener, a child) costs a variable delay that would
# drown the hooks' cost.
bench_cpu=$(($(nproc) - 1))

run() { # config round, then lockc-hookbench arguments
  local config=$1 round=$2
  shift 2
  timeout -k 5 600 taskset -c "$bench_cpu" "$bench" --dir "$scratch" --open-target "$token" \
    --exec-target "$exit0" --seconds "$seconds" --reader "$reader" "$@" |
    while read -r name ops ns _ reader_ns; do
      # loop=open ops=N ns_per_op=X outcome=allowed reader_ns_per_op=Y
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$config" "${name#loop=}" "${ops#ops=}" \
        "${ns#ns_per_op=}" "${reader_ns#reader_ns_per_op=}"
    done
  ((PIPESTATUS[0] == 0)) || die "lockc-hookbench failed in configuration $config"
}

# After a switch the kernel has patched its hook call sites, and under TCG
# the first runs through them are translated anew: a short unrecorded run
# first, so that no configuration pays for that.
warm() { # lockc-hookbench arguments
  seconds=0.2 run warm 0 "$@" >/dev/null
}

[[ -x $bench && -x $exit0 && -x $switch && -x $enforcer && -f $floor_obj ]] ||
  die "build $build first (lockc-hookbench, lockc-bench-switch, floor.bpf.o, lockc-enforcer)"
mkdir -p "$scratch" "$token_dir" "$(dirname "$denied_sock")" "$cg_root"/baseline "$cg_root"/restricted \
  "$cg_root"/apparmor
echo "not a real token" >"$token"
# The exec loop's binary on tmpfs: read from the 9p share, each exec would
# wait for the host's I/O, which neither lockc nor the guest controls.
install -m 0755 "$build/bench/hooks/lockc-bench-exit0" "$scratch/exit0"
exit0=$scratch/exit0

# AppArmor: when the kernel runs it (lsm= lists it, as with bench/run.sh),
# its configuration is required; otherwise (CI's boots) it is skipped.
configs=(off off-cgroup floor host baseline denied)
if grep -qw apparmor /sys/kernel/security/lsm && [[ -d /sys/kernel/security/apparmor ]]; then
  command -v apparmor_parser >/dev/null ||
    die "AppArmor is active but apparmor_parser is missing: install Debian's apparmor"
  # -K: no cache; the guest's /etc and /var are the host's, read-only below
  # a tmpfs, and a compiled profile is not worth keeping.
  apparmor_parser -r -K "$aa_file" || die "apparmor_parser could not load $aa_file"
  apparmor=$aa_profile
  configs=(off off-cgroup floor apparmor host baseline denied)
else
  log "AppArmor is not among the kernel's LSMs: no apparmor configuration"
fi

# LOCKC_BENCH_HOOK_LOOPS runs some loops only, to look into one. The
# summary then lacks the others and its --check fails; a figure quoted from
# such a run names the loops in its command.
read -r -a loops <<<"${LOCKC_BENCH_HOOK_LOOPS:-open stat exec mount connect ioctl fcntl}"

mkdir -p "$out"
tsv=$out/hooks.tsv
: >"$tsv"
log "kernel $(uname -r), LSMs $(cat /sys/kernel/security/lsm), $rounds rounds of ${seconds} s per loop, configurations ${configs[*]}"
load
for ((r = 1; r <= rounds; r++)); do
  for loop in "${loops[@]}"; do
    switch off
    settle
    warm --loops "$loop" --connect-target "$allowed_sock"
    run off "$r" --loops "$loop" --connect-target "$allowed_sock"
    run off-cgroup "$r" --loops "$loop" --connect-target "$allowed_sock" \
      --cgroup "$cg_root/baseline"
    floor on
    settle
    warm --loops "$loop" --connect-target "$allowed_sock"
    run floor "$r" --loops "$loop" --connect-target "$allowed_sock"
    floor off
    if [[ -n $apparmor ]]; then
      # The confined paths through AppArmor's hooks are translated anew too.
      warm --loops "$loop" --connect-target "$allowed_sock" --cgroup "$cg_root/apparmor" \
        --apparmor "$apparmor"
      run apparmor "$r" --loops "$loop" --connect-target "$allowed_sock" \
        --cgroup "$cg_root/apparmor" --apparmor "$apparmor"
    fi
    switch on
    settle
    warm --loops "$loop" --connect-target "$allowed_sock"
    run host "$r" --loops "$loop" --connect-target "$allowed_sock"
    run baseline "$r" --loops "$loop" --connect-target "$allowed_sock" \
      --cgroup "$cg_root/baseline"
    run denied "$r" --loops "$loop" --connect-target "$denied_sock" \
      --cgroup "$cg_root/restricted" --expect denied
  done >>"$tsv"
  log "round $r of $rounds done"
done

# Where the time goes: each lockc program's calls and time while one pass of
# the container configurations runs.
progs=$out/hooks-progs.tsv
: >"$progs"
prog_stats() { bpftool -j prog show | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("name", "").startswith("lockc_"):
        print("%s\t%d\t%d" % (p["name"], p.get("run_cnt", 0), p.get("run_time_ns", 0)))'; }
sysctl -q kernel.bpf_stats_enabled=1
for config in baseline denied; do
  before=$(prog_stats)
  if [[ $config == baseline ]]; then
    run "$config" stats --connect-target "$allowed_sock" --cgroup "$cg_root/baseline" >/dev/null
  else
    run "$config" stats --connect-target "$denied_sock" --cgroup "$cg_root/restricted" \
      --expect denied >/dev/null
  fi
  # The difference of two snapshots: this pass only.
  join -t $'\t' <(sort <<<"$before") <(prog_stats | sort) |
    awk -F'\t' -v c="$config" '$4 > $2 { printf "%s\t%s\t%d\t%d\n", c, $1, $4 - $2, $5 - $3 }' >>"$progs"
done
sysctl -q kernel.bpf_stats_enabled=0
log "done: $tsv, $progs"
