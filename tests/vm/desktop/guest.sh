#!/bin/bash
# Runs in the test VM for tests/vm/desktop/run.sh: sets up what a user of
# lockc's front ends meets (lockcd installed with cmake --install, real
# Docker with a container that keeps being denied, Cockpit serving lockc's
# page, users to log in as), tells the host it is ready, waits for the
# host's browser test, then records lockcd's view for the host to check and
# runs lockc-notify's test (notify-test.sh) in the guest.
#
#   guest.sh [--unenforced] BUILD_DIR       (OUT: $LOCKC_VM_OUT)
#
# --unenforced: the VM was booted without bpf in lsm=; lockcd runs with
# --allow-unenforced, and there is no Docker and no lockc-notify test: the
# host only checks what the page says about enforcement.
#
# Files in OUT: desktop-ready (key=value: container=<id>), written when the
# page can be used; desktop-request-start/-stop and desktop-second (see
# below); desktop-done, written by the host when the browser test
# has finished; desktop-state.json and desktop-status.json (lockcctl --json
# list and status) afterwards.
set -euo pipefail
unenforced=0
if [[ ${1-} == --unenforced ]]; then
  unenforced=1
  shift
fi
build=$1
out=${LOCKC_VM_OUT:?run in the test VM}
here=$(cd "$(dirname "$0")" && pwd)
guest=$here/../guest
img=lockc-test/busybox:latest
# The test users' passwords; the VM lives for this test only.
password=lockc-test-password

log() { echo "desktop-guest: $*"; }
die() { echo "desktop-guest: ERROR: $*" >&2; exit 1; }

"$guest/network-up.sh"
"$guest/install-lockc.sh" "$build"
if ((unenforced)); then
  grep -qw bpf /sys/kernel/security/lsm && die "--unenforced, but the kernel runs the BPF LSM"
  # What an administrator does to run lockcd on such a kernel anyway.
  mkdir -p /run/systemd/system/lockcd.service.d
  printf '[Service]\nExecStart=\nExecStart=%s --allow-unenforced\n' "$(command -v lockcd)" \
    >/run/systemd/system/lockcd.service.d/unenforced.conf
  systemctl daemon-reload
else
  "$guest/docker-setup.sh" >/dev/null
fi
systemctl start lockcd.service
lockcctl --no-pager status | head -n 3

# Cockpit over plain HTTP: the browser comes through QEMU's forward, not
# from the guest's localhost, and TLS would only slow the emulated guest.
mkdir -p /etc/cockpit
printf '[WebService]\nAllowUnencrypted = true\n' >/etc/cockpit/cockpit.conf
systemctl restart cockpit.socket
[[ -f /usr/share/cockpit/lockc/manifest.json ]] || die "cmake --install put no page in /usr/share/cockpit/lockc"

# lockc-admin may turn on administrative access (sudo) and is not in group
# lockc: in limited access polkit refuses it, as it would any user.
id lockc-admin >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --groups sudo lockc-admin
echo "lockc-admin:$password" | chpasswd

# Tells the host the guest is ready for its browser test (container= is
# the demo container's id, empty when not enforcing).
announce_ready() {
  printf 'container=%s\npassword=%s\n' "$1" "$password" >"$out/desktop-ready.tmp"
  mv "$out/desktop-ready.tmp" "$out/desktop-ready"
  log "ready${1:+ (container $1)}; waiting for the host's browser test"
}

# Waits for the host's browser test to finish (desktop-done), serving its
# requests meanwhile: it asks for a second container while the page is open
# (rows must come and go live): desktop-request-start makes it and answers
# with its id in desktop-second, desktop-request-stop removes it.
serve_browser_test() {
  local second=lockc-ui-second i
  for ((i = 0; i < 1200; i++)); do
    [[ -e $out/desktop-done ]] && return 0
    if [[ -e $out/desktop-request-start ]]; then
      rm -f "$out/desktop-request-start"
      docker run -d --name "$second" "$img" sleep 600 >/dev/null
      docker inspect -f '{{.Id}}' "$second" >"$out/desktop-second.tmp"
      mv "$out/desktop-second.tmp" "$out/desktop-second"
    fi
    if [[ -e $out/desktop-request-stop ]]; then
      rm -f "$out/desktop-request-stop"
      docker rm -f "$second" >/dev/null
    fi
    sleep 1
  done
  die "the host's browser test did not finish within 20 minutes"
}

if ((unenforced)); then
  announce_ready ""
  serve_browser_test
  exit 0
fi

# A container at the default level (baseline) that keeps trying to read
# host data from /sys: every try is a denial for the page's feed.
docker rm -f lockc-ui-demo >/dev/null 2>&1 || true
docker run -d --name lockc-ui-demo "$img" \
  sh -c 'while :; do cat /sys/kernel/uevent_seqnum 2>/dev/null; sleep 2; done' >/dev/null
id=$(docker inspect -f '{{.Id}}' lockc-ui-demo)
for ((i = 0; i < 60; i++)); do
  lockcctl -q show "$id" >/dev/null 2>&1 && break
  sleep 1
done
lockcctl -q show "$id" >/dev/null || die "lockcd did not register the container $id"
log "container $id is registered: $(lockcctl --no-pager list | grep -c .) line(s) in lockcctl list"

# Warm Cockpit up once so the browser's first login does not time out.
curl -fsS -o /dev/null --max-time 120 http://127.0.0.1:9090/ || die "cockpit does not answer on 9090"

announce_ready "$id"
serve_browser_test

lockcctl --json list >"$out/desktop-state.json"
lockcctl --json status >"$out/desktop-status.json"
log "lockcd's view recorded"
docker rm -f lockc-ui-demo >/dev/null

# The desktop's part, in the same boot once the browser is done:
# lockc-notify and a real notification server (notify-test.sh).
"$here/notify-test.sh" --build-dir "$build"
