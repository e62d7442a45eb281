#!/bin/bash
# Runs in the test VM, with lockc installed (cmake --install) and Docker set
# up (tests/vm/guest/docker-setup.sh): `docker run --rm IMAGE true`, timed
# one by one, without and with lockc, interleaved: each round runs RUNS
# containers without lockc (lockcd stopped, programs unloaded), then RUNS
# with lockc (lockcd started by systemd: programs loaded, the exec gate
# holding every runc until it has read the bundle).
#
#   container-start.sh BUILD_DIR OUT_DIR ROUNDS RUNS
# Writes OUT_DIR/container-start.tsv: round config run seconds.
set -euo pipefail
build=$1 out=$2 rounds=$3 runs=$4
image=lockc-test/busybox:latest

log() { echo "container-start: $*" >&2; }
die() { echo "container-start: ERROR: $*" >&2; exit 1; }

lockc_programs() { bpftool -j prog show | python3 -c '
import json, sys
print(sum(1 for p in json.load(sys.stdin) if p.get("name", "").startswith("lockc_")))'; }

without_lockc() {
  systemctl stop lockcd.service
  "$build/tools/lockc-enforcer" uninstall >/dev/null
  local n
  for _ in $(seq 50); do
    n=$(lockc_programs)
    ((n == 0)) && return 0
    sleep 0.1
  done
  die "$n lockc programs still loaded without lockc"
}

with_lockc() {
  systemctl start lockcd.service
  lockcctl --no-pager status >/dev/null || die "lockcd does not answer"
  (($(lockc_programs) > 0)) || die "lockcd runs but no lockc program is loaded"
}

mkdir -p "$out"
tsv=$out/container-start.tsv
: >"$tsv"
docker image inspect "$image" >/dev/null || die "no image $image (run docker-setup.sh first)"
docker run --rm "$image" true # warm: image layers, runc, the page cache
for ((r = 1; r <= rounds; r++)); do
  for config in without with; do
    "${config}_lockc"
    for ((i = 1; i <= runs; i++)); do
      start=$(date +%s.%N)
      docker run --rm "$image" true || die "docker run failed ($config lockc, round $r)"
      end=$(date +%s.%N)
      awk -v r="$r" -v c="$config" -v i="$i" -v s="$start" -v e="$end" \
        'BEGIN { printf "%s\t%s\t%s\t%.4f\n", r, c, i, e - s }' >>"$tsv"
    done
  done
  log "round $r of $rounds done"
done
