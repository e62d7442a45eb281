#!/bin/bash
# Runs in the test VM: the kernel memory of lockc's BPF maps (bytes_memlock
# of every map pinned under /sys/fs/bpf/lockc/maps, as bpftool reports it)
#   - with kernel.pid_max at 32768 and at 4194304 (each a fresh load): no
#     map is sized by, or keyed on, process ids;
#   - with 0 containers and with N container cgroups (docker-<n>.scope,
#     which the kernel gives a policy entry at creation).
#
#   maps.sh BUILD_DIR OUT_DIR CONTAINERS
# Writes OUT_DIR/maps.tsv: case entries bytes_memlock (one row per case)
# and OUT_DIR/maps-detail.tsv: case map bytes_memlock max_entries.
set -euo pipefail
build=$1 out=$2 containers=$3

enforcer=$build/tools/lockc-enforcer
maps=/sys/fs/bpf/lockc/maps
cg_root=/sys/fs/cgroup/lockc-bench-maps

log() { echo "maps: $*" >&2; }
die() { echo "maps: ERROR: $*" >&2; exit 1; }

old_pid_max=$(sysctl -n kernel.pid_max)
cleanup() {
  if [[ -d $cg_root ]]; then
    find "$cg_root" -mindepth 1 -maxdepth 1 -type d -exec rmdir {} + 2>/dev/null || true
    rmdir "$cg_root" 2>/dev/null || true
  fi
  "$enforcer" uninstall >/dev/null 2>&1 || true
  sysctl -q kernel.pid_max="$old_pid_max" || true
}
trap cleanup EXIT

entries() { "$enforcer" status | grep -c '^cgroup ' || true; }

measure() { # case name
  local name=$1 n total=0
  n=$(entries)
  for pin in "$maps"/*; do
    bpftool -j map show pinned "$pin" | python3 -c '
import json, sys
m = json.load(sys.stdin)
print("%s\t%s\t%d\t%d" % (sys.argv[1], m["name"], m.get("bytes_memlock", 0), m["max_entries"]))' "$name"
  done >>"$out/maps-detail.tsv"
  total=$(awk -F'\t' -v c="$name" '$1 == c { s += $3 } END { print s + 0 }' "$out/maps-detail.tsv")
  printf '%s\t%s\t%s\n' "$name" "$n" "$total" >>"$out/maps.tsv"
  log "$name: $n entries, $total bytes"
}

mkdir -p "$out"
: >"$out/maps.tsv"
: >"$out/maps-detail.tsv"
for pid_max in 32768 4194304; do
  "$enforcer" uninstall >/dev/null
  sysctl -q kernel.pid_max="$pid_max"
  "$enforcer" load >/dev/null
  measure "pid_max=$pid_max"
done

# Containers: cgroups whose names match docker-*.scope get their entry from
# the cgroup_mkdir program, as Docker's would.
mkdir -p "$cg_root"
before=$(entries)
# One printf and a few mkdirs for all of them: a fork per cgroup took
# longer than 13 minutes for 10,000 under emulation.
if ((containers > 0)); then
  seq 0 $((containers - 1)) | xargs printf "$cg_root/docker-%064x.scope\\n" | xargs mkdir
fi
after=$(entries)
((after - before == containers)) || die "expected $containers new entries, got $((after - before))"
measure "containers=$containers"
