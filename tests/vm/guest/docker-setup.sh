#!/bin/bash
# Run inside the test VM (see run-vm.sh) by tests that need Docker: starts
# containerd and Docker (the VM does not start them at boot) and makes the
# local images lockc-test/busybox:latest from the host's static busybox and
# lockc-test/dockercli:latest (busybox plus the docker client, for the
# socket escape), since the VM has no network to pull images. Idempotent.
#
#   docker-setup.sh            (env LOCKC_DOCKER_TIMEOUT: seconds, default 300)
set -euo pipefail

image=lockc-test/busybox:latest
limit=${LOCKC_DOCKER_TIMEOUT:-300}

log() { echo "docker-setup: $*"; }
die() { echo "docker-setup: ERROR: $*" >&2; exit 1; }

((EUID == 0)) || die "must run as root"
command -v docker >/dev/null || die "no docker client (apt-get install docker.io on the host)"
if [[ ! -x /bin/busybox ]] || ldd /bin/busybox >/dev/null 2>&1; then
  die "/bin/busybox must be the static one (apt-get install busybox-static on the host)"
fi

# ---- Daemons ----
start=$SECONDS
if docker info >/dev/null 2>&1; then
  log "docker already answers"
else
  log "starting containerd and docker (bounded by ${limit} s)"
  # docker.service is Type=notify: systemctl returns once dockerd is ready.
  timeout "$limit" systemctl start containerd.service docker.service ||
    {
      systemctl --no-pager status containerd.service docker.service >&2 || true
      journalctl --no-pager -n 50 -u containerd.service -u docker.service >&2 || true
      die "could not start containerd/docker"
    }
  until docker info >/dev/null 2>&1; do
    if ((SECONDS - start >= limit)); then
      journalctl --no-pager -n 50 -u docker.service >&2 || true
      die "docker info did not answer within ${limit} s"
    fi
    sleep 1
  done
  log "docker answers after $((SECONDS - start)) s"
fi
log "docker $(docker version --format 'client {{.Client.Version}}, server {{.Server.Version}}' 2>/dev/null || echo '(version unknown)')"
log "storage driver: $(docker info --format '{{.Driver}}')"
log "cgroup: $(docker info --format 'driver {{.CgroupDriver}}, version {{.CgroupVersion}}' 2>/dev/null || echo '?')"

# ---- Images ----
cli_image=lockc-test/dockercli:latest
if docker image inspect "$cli_image" >/dev/null 2>&1; then
  log "image $cli_image already present"
else
  log "building $cli_image from /bin/busybox and /usr/bin/docker"
  d=$(mktemp -d /var/tmp/cli.XXXXXX)
  mkdir -p "$d"/usr/bin "$d"/bin "$d"/tmp
  cp /bin/busybox "$d"/bin/busybox
  for a in sh test true; do ln -sf busybox "$d/bin/$a"; done
  cp /usr/bin/docker "$d"/usr/bin/docker
  for l in $(ldd /usr/bin/docker | grep -o '/[^ ]*'); do
    mkdir -p "$d$(dirname "$l")"
    cp -L "$l" "$d$l"
  done
  tar -C "$d" -c . | docker import - "$cli_image" >/dev/null
  rm -rf "$d"
fi
if docker image inspect "$image" >/dev/null 2>&1; then
  log "image $image already present"
  exit 0
fi
log "building $image from /bin/busybox"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,proc,sys,dev,run,var/tmp}
install -d -m 1777 "$root/tmp"
cp -L /bin/busybox "$root/bin/busybox"
# One symlink per applet, where busybox itself would install it (bin/sh too).
while read -r applet; do
  [[ -e $root/$applet ]] || ln -s /bin/busybox "$root/$applet"
done < <(/bin/busybox --list-full)
[[ -L $root/bin/sh ]] || ln -s busybox "$root/bin/sh"
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
echo "hosts: files" >"$root/etc/nsswitch.conf"
tar -C "$root" --numeric-owner --owner=0 --group=0 -cf - . |
  docker import --change 'CMD ["/bin/sh"]' - "$image" >/dev/null
log "image $image created ($(docker image inspect --format '{{.Size}}' "$image") bytes)"
