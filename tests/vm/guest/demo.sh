#!/usr/bin/env bash
# Runs in the test VM for scripts/demo.sh: real Docker with and without
# lockc, installed with cmake --install and driven through lockcd's D-Bus
# API with lockcctl. Usage: demo.sh BUILD-DIR
set -uo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
img=lockc-test/busybox:latest

say() { printf '\n=== %s\n' "$*"; }
try() { # runs a command, says whether it worked
  printf '$ %s\n' "$*"
  if "$@"; then echo "-> succeeded"; else echo "-> FAILED (exit $?)"; fi
}
escapes() {
  try docker run --rm $img cat /sys/kernel/uevent_seqnum
  try docker run --rm -v /:/rootfs $img chroot /rootfs /bin/sh -c 'echo I own the host: $(hostname)'
  try docker run --rm --privileged $img sh -c 'mkdir /d && mount -t debugfs none /d && ls /d | head -3'
}

"$here/docker-setup.sh" >/dev/null || exit 1
say "Kernel $(uname -r), LSMs: $(cat /sys/kernel/security/lsm)"

say "Without lockc: the escapes work"
escapes

say "Installing lockc (cmake --install); the first call starts lockcd through D-Bus"
"$here/install-lockc.sh" "$build" || exit 1
lockcctl --no-pager status || exit 1
lockcctl monitor > /tmp/lockc-denials.log 2>&1 &
monitor=$!
sleep 1

say "An ordinary container still works"
try docker run --rm $img sh -c 'echo hello from a confined container; id'
mkdir -p /home/demo
try docker run --rm -v /home/demo:/data $img sh -c 'echo saved > /data/file && cat /data/file'

say "With lockc: the same escapes are denied"
escapes

say "Levels are per container, from its label, before its first instruction"
try docker run --rm --privileged --label org.lockc.level=privileged $img \
  sh -c 'mkdir /d && mount -t debugfs none /d && ls /d | head -3'
try docker run --rm --label org.lockc.level=privileged -v /:/rootfs $img test -d /rootfs/etc/docker

say "... and can change while it runs (lockcctl set-level)"
docker run -d --name demo-live $img sleep 300 >/dev/null
id=$(docker inspect -f '{{.Id}}' demo-live)
lockcctl --no-pager list
try docker exec demo-live cat /sys/kernel/uevent_seqnum
try lockcctl set-level "$id" privileged
try docker exec demo-live cat /sys/kernel/uevent_seqnum
docker rm -f demo-live >/dev/null

say "lockcctl run confines a command no container runtime started"
try lockcctl run --level baseline -- sh -c 'mkdir -p /run/d && mount -t debugfs none /run/d'
try sh -c 'mkdir -p /run/d && mount -t debugfs none /run/d && umount /run/d'

sleep 1
kill -INT "$monitor" 2>/dev/null
wait "$monitor" 2>/dev/null
say "What lockc reported (lockcctl monitor)"
cat /tmp/lockc-denials.log
say "lockcctl status"
lockcctl --no-pager status
