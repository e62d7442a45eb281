#!/bin/busybox sh
# shellcheck shell=dash
# /init of the lockc test VM's initramfs (busybox-static, built by run-vm.sh).
#
# Boots the host's own root file system: the host exports / read-only over 9p
# (tag hostroot); this script puts a tmpfs overlay on top, mounts the kernel's
# modules (tag modules) at /lib/modules and the run's OUT directory (tag out)
# at the same absolute path it has on the host, prepares systemd to run the
# test unit and nothing it does not need, and switch_roots to systemd.
# Per-run data comes from OUT/.lockc-vm/ (written by run-vm.sh), so this
# initramfs only changes when the kernel or these scripts do.

/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

say() { echo "lockc-vm-init: $*" >/dev/console; }

# Marker for the host's one-time KVM probe: reaching here proves the
# accelerator runs a kernel; nothing else is needed.
case " $(cat /proc/cmdline) " in
*" lockc.probe=1 "*)
  echo "LOCKC_VM_PROBE_OK" >/dev/console
  poweroff -f
  ;;
esac

outpath=
fail() {
  say "FATAL: $*"
  # Tell the host why the boot stopped, if the OUT share is up.
  if [ -d /mnt/out/.lockc-vm ]; then
    echo "initramfs: $*" >/mnt/out/.lockc-vm/boot-failed
  fi
  sync
  poweroff -f
  sleep 10
  exit 1 # PID 1 exiting panics; panic=-1 plus -no-reboot stops QEMU
}

# Modules, in the order `modprobe --show-depends` gave on the host. Retry in
# passes: a module whose dependency failed to load may load on a later pass.
pending=$(cat /modules/order)
pass=0
while [ -n "$pending" ] && [ "$pass" -lt 5 ]; do
  pass=$((pass + 1))
  left=
  for m in $pending; do
    grep -q "^$m " /proc/modules && continue
    insmod "/modules/$m.ko" 2>/tmp/insmod.err || left="$left $m"
  done
  pending=$left
done
[ -z "$pending" ] || fail "could not load modules:$pending ($(cat /tmp/insmod.err))"

# msize: larger 9p messages make file access over virtio much faster.
p9=trans=virtio,version=9p2000.L,msize=262144
mkdir -p /mnt/lower /mnt/rw /mnt/out /newroot

mount -t 9p -o "$p9,rw" out /mnt/out || fail "cannot mount the OUT share"
[ -r /mnt/out/.lockc-vm/out-path ] || fail "no .lockc-vm/out-path in the OUT share"
outpath=$(cat /mnt/out/.lockc-vm/out-path)
case $outpath in /*) ;; *) fail "OUT path is not absolute: $outpath" ;; esac

# The host root is only read by the guest: cache=loose lets the guest keep
# pages and metadata instead of asking the host on every access (files the
# host changes while the VM runs may look stale in the guest).
mount -t 9p -o "$p9,ro,cache=loose" hostroot /mnt/lower || fail "cannot mount the host root"
mount -t tmpfs -o mode=0755 overlay-rw /mnt/rw
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay -o lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work \
  overlay /newroot || fail "cannot mount the overlay root"
[ -x /newroot/lib/systemd/systemd ] || fail "no /lib/systemd/systemd on the host root"

# Mount points are made in the overlay, never on the host (the host has no
# /lib/modules). On a merged-/usr host /newroot/lib is a relative symlink,
# so this resolves inside the new root.
mkdir -p /newroot/lib/modules
mount -t 9p -o "$p9,ro" modules /newroot/lib/modules || fail "cannot mount the modules share"

mkdir -p "/newroot$outpath"
mount -o move /mnt/out "/newroot$outpath" || fail "cannot move the OUT share to $outpath"
out="/newroot$outpath/.lockc-vm"

# Docker cannot put overlay2 on the overlay root: give it tmpfs.
for d in /newroot/var/lib/docker /newroot/var/lib/containerd; do
  mkdir -p "$d"
  mount -t tmpfs -o mode=0711 tmpfs "$d"
done

# ---- Guest configuration, all in the tmpfs upper layer. ----
etc=/newroot/etc
sys=$etc/systemd/system
mkdir -p "$sys" "$etc/docker" "$etc/tmpfiles.d" /newroot/usr/lib/lockc-vm

# Units the host admin enabled (docker, containerd, databases, timers,
# time sync, gettys, ...) are not started: the guest boots only what systemd
# itself needs plus D-Bus, logind and polkit; tests start the rest.
for w in "$sys"/*.wants/*; do
  [ -e "$w" ] || [ -L "$w" ] || continue
  case ${w##*/} in
  dbus*.service | dbus.socket | polkit*.service | systemd-logind.service | \
    systemd-journald*) ;;
  *) rm -f "$w" ;;
  esac
done

# Shipped units that only cost time, wait for hardware or a network this VM
# has not got, or print a login prompt onto the serial console.
for u in serial-getty@ttyS0.service getty@tty1.service getty-static.service \
  console-getty.service getty.target systemd-timesyncd.service \
  systemd-networkd-wait-online.service NetworkManager-wait-online.service \
  apt-daily.timer apt-daily-upgrade.timer man-db.timer dpkg-db-backup.timer \
  e2scrub_all.timer e2scrub_reap.service fstrim.timer logrotate.timer \
  systemd-tmpfiles-clean.timer systemd-pstore.service systemd-firstboot.service \
  systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
  systemd-random-seed.service systemd-update-utmp.service \
  systemd-update-utmp-runlevel.service systemd-hwdb-update.service \
  ldconfig.service systemd-journal-catalog-update.service \
  systemd-machine-id-commit.service cron.service anacron.timer \
  postgresql.service ssh.service; do
  ln -sfn /dev/null "$sys/$u"
done
ln -sfn /lib/systemd/system/multi-user.target "$sys/default.target"

# The host itself may run in a container: systemd would see its marker files
# through the overlay, believe it runs in a container too, and then skip
# udev, securityfs, the bpf file system and more.
rm -f /newroot/.dockerenv /newroot/run/.containerenv /newroot/run/systemd/container

# The host's fstab describes the host's disks, not this VM's.
echo "# lockc test VM: the initramfs mounts everything" >"$etc/fstab"
echo lockc-vm >"$etc/hostname"

# Debian's tmp.conf has "D /tmp": at boot systemd-tmpfiles would empty /tmp,
# which here is the host's /tmp seen through the overlay, and could reach into
# an OUT directory mounted below it. Keep /tmp as it is.
printf 'd /tmp 1777 root root -\n' >"$etc/tmpfiles.d/tmp.conf"

# Docker inside the VM: no iptables or bridge (no network in the VM).
cat >"$etc/docker/daemon.json" <<'EOF'
{
  "iptables": false,
  "bridge": "none"
}
EOF

# The test unit and its helpers.
cp /payload/* /newroot/usr/lib/lockc-vm/
chmod 0755 /newroot/usr/lib/lockc-vm/*.sh
printf '%s\n' "$outpath" >/newroot/usr/lib/lockc-vm/out-path
mv /newroot/usr/lib/lockc-vm/lockc-vm-test.service "$sys/"
mkdir -p "$sys/multi-user.target.wants"
ln -sfn ../lockc-vm-test.service "$sys/multi-user.target.wants/lockc-vm-test.service"

# If the boot goes wrong systemd falls into emergency or rescue mode and the
# test never runs: power off at once instead, so the host does not wait for
# its timeout.
for u in emergency.service rescue.service; do
  mkdir -p "$sys/$u.d"
  cat >"$sys/$u.d/lockc-vm.conf" <<EOF
[Service]
ExecStart=
ExecStart=/usr/lib/lockc-vm/finish.sh boot-failed $u
EOF
done

cut -d' ' -f1 /proc/uptime >"$out/initramfs-done"
say "switching to systemd (modules loaded in $pass pass(es))"

# systemd finds /proc, /sys and /dev already mounted.
mount -o move /proc /newroot/proc
mount -o move /sys /newroot/sys
mount -o move /dev /newroot/dev
exec switch_root /newroot /lib/systemd/systemd
