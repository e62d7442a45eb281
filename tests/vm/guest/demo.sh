#!/usr/bin/env bash
# Runs in the test VM for scripts/demo.sh: real Docker with and without
# lockc. Usage: demo.sh PATH-TO-lockc-enforcer
set -uo pipefail
enforcer=$1
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

say "Loading lockc (default level: baseline, enforce)"
"$enforcer" load || exit 1
"$enforcer" events --follow > /tmp/lockc-events.log 2>&1 &
follower=$!

say "An ordinary container still works"
try docker run --rm $img sh -c 'echo hello from a confined container; id'
mkdir -p /home/demo
try docker run --rm -v /home/demo:/data $img sh -c 'echo saved > /data/file && cat /data/file'

say "With lockc: the same escapes are denied"
escapes

sleep 1
kill "$follower" 2>/dev/null
wait "$follower" 2>/dev/null
say "What lockc reported"
cat /tmp/lockc-events.log
say "Counters"
"$enforcer" status
"$enforcer" uninstall
