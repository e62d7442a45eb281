#!/usr/bin/env bash
# Runs a command as root inside a QEMU VM that boots a stock Debian kernel and
# the host's own root file system (read-only 9p + tmpfs overlay) with systemd.
# The host kernel refuses BPF LSM programs; this kernel runs them.
#
#   run-vm.sh --kernel-pkg PKG --cache DIR --out DIR [--timeout SECS]
#             [--mem MB] [--cpus N] [--lsm LIST] [--forward HOST_PORT:GUEST_PORT]
#             [--firmware bios|uefi] -- COMMAND [ARGS...]
#
# In the guest COMMAND runs in the caller's working directory with
# LOCKC_VM_OUT=<OUT> and LOCKC_VM_KERNEL=<kernel version>; OUT is mounted
# writable at the same path as on the host. Results: OUT/guest.log (COMMAND's
# output), OUT/exit-status, OUT/console.log (serial console).
# Exit status: 0 only if COMMAND ran and exited 0.
# --forward gives the guest a network card on a private QEMU user network
# (restrict=on: no way out) and forwards 127.0.0.1:HOST_PORT on the host to
# GUEST_PORT in the guest, whose address there is 10.0.2.15
# (tests/vm/guest/network-up.sh configures it): for a browser on the host.
# --lsm LIST is the kernel's lsm= (default lockdown,capability,landlock,yama,bpf:
# lockc's programs need bpf; bench/run.sh adds apparmor to compare with it).
# --firmware uefi boots through OVMF (Debian's ovmf) instead of SeaBIOS: the
# kernel then has the firmware's runtime services, and with them the
# devices that reach them (/dev/efi_capsule_loader); a few seconds more
# under TCG.
# Environment: LOCKC_VM_ACCEL=kvm|tcg forces the accelerator (default: TCG,
# or KVM when a cached one-time probe shows that KVM guests boot here);
# LOCKC_VM_ICOUNT=OPTIONS adds "-icount OPTIONS" under TCG (benchmarks:
# with shift=0 the guest's clock counts instructions, 1 ns each, so its
# timings no longer depend on how busy the host is).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)

die() { echo "run-vm: $*" >&2; exit 2; }
log() { echo "run-vm: $*" >&2; }
usage() {
  echo "usage: $0 --kernel-pkg PKG --cache DIR --out DIR [--timeout SECS] [--mem MB] [--cpus N] [--lsm LIST] [--forward HOST_PORT:GUEST_PORT] [--firmware bios|uefi] -- COMMAND [ARGS...]" >&2
  exit 2
}

kernel_pkg='' cache='' out='' timeout_s=1500 mem=4096 cpus=2 forward='' firmware=bios
lsm=lockdown,capability,landlock,yama,bpf
while (($#)); do
  case $1 in
  --kernel-pkg) kernel_pkg=${2-}; shift 2 || usage ;;
  --cache) cache=${2-}; shift 2 || usage ;;
  --out) out=${2-}; shift 2 || usage ;;
  --timeout) timeout_s=${2-}; shift 2 || usage ;;
  --mem) mem=${2-}; shift 2 || usage ;;
  --cpus) cpus=${2-}; shift 2 || usage ;;
  --lsm) lsm=${2-}; shift 2 || usage ;;
  --forward) forward=${2-}; shift 2 || usage ;;
  --firmware) firmware=${2-}; shift 2 || usage ;;
  --) shift; break ;;
  -h | --help) usage ;;
  *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ -n $kernel_pkg && -n $cache && -n $out ]] || usage
(($# > 0)) || die "no COMMAND after --"
[[ $timeout_s =~ ^[0-9]+$ && $mem =~ ^[0-9]+$ && $cpus =~ ^[1-9][0-9]*$ ]] ||
  die "--timeout, --mem and --cpus take numbers"
[[ $lsm =~ ^[a-z]+(,[a-z]+)*$ ]] || die "--lsm takes a comma-separated list of LSM names"
[[ -z $forward || $forward =~ ^[0-9]{1,5}:[0-9]{1,5}$ ]] || die "--forward takes HOST_PORT:GUEST_PORT"
ovmf=/usr/share/ovmf/OVMF.fd
case $firmware in
bios) ;;
uefi) [[ -r $ovmf ]] || die "--firmware uefi needs $ovmf: apt-get install ovmf" ;;
*) die "--firmware takes bios or uefi, not '$firmware'" ;;
esac
((EUID == 0)) || die "must run as root (QEMU exports / as root, 9p writes as root)"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing: apt-get install qemu-system-x86"
if [[ ! -x /bin/busybox ]] || ldd /bin/busybox >/dev/null 2>&1; then
  die "/bin/busybox must be the static one: apt-get install busybox-static"
fi
command -v cpio >/dev/null || die "cpio missing: apt-get install cpio"

mkdir -p "$cache" "$out"
cache=$(cd "$cache" && pwd -P)
out=$(cd "$out" && pwd -P)
cwd=$(pwd -P)

# ---- Kernel ----
kinfo=$("$here/fetch-kernel.sh" "$kernel_pkg" "$cache") || die "could not fetch kernel $kernel_pkg"
kernel=$(sed -n 's/^KERNEL=//p' <<<"$kinfo")
modules=$(sed -n 's/^MODULES=//p' <<<"$kinfo")
kver=$(sed -n 's/^KVER=//p' <<<"$kinfo")
[[ -f $kernel && -d $modules/$kver ]] || die "fetch-kernel.sh gave no usable kernel"

# ---- Initramfs (cached; rebuilt when the kernel or the guest scripts change) ----
exec 8>"$cache/.run-vm.lock"
flock 8 # one initramfs build at a time per cache

# The modules needed to reach the 9p root, with dependencies, in load order.
# (modprobe --show-depends takes one module per call.)
modlist=$(for m in 9pnet_virtio virtio_pci 9p overlay; do
  modprobe -d "${modules%/lib/modules}" -S "$kver" --show-depends "$m" ||
    die "modprobe --show-depends $m failed for $kver"
done)
mapfile -t kos < <(awk '$1 == "insmod" && !seen[$2]++ { print $2 }' <<<"$modlist")
((${#kos[@]})) || die "no modules to load for $kver"
payload=("$here/guest/run-test.sh" "$here/guest/finish.sh" "$here/guest/lockc-vm-test.service")
inputs_hash=$({
  echo "$kver"
  printf '%s\n' "${kos[@]}"
  cat /bin/busybox "$here/guest/init.sh" "${payload[@]}"
} | sha256sum | cut -c1-16)
initrd="$cache/initramfs/$kver-$inputs_hash.cpio.gz"
if [[ ! -s $initrd ]]; then
  log "building initramfs for $kver"
  mkdir -p "$cache/initramfs"
  stage=$(mktemp -d "$cache/initramfs/.stage.XXXXXX")
  mkdir -p "$stage"/{bin,dev,proc,sys,tmp,mnt,modules,payload}
  cp /bin/busybox "$stage/bin/busybox"
  cp "$here/guest/init.sh" "$stage/init"
  chmod 0755 "$stage/init"
  cp "${payload[@]}" "$stage/payload/"
  for ko in "${kos[@]}"; do
    name=$(basename "$ko")
    name=${name%%.ko*}
    # busybox insmod wants plain ELF; newer kernels ship .ko.xz / .ko.zst.
    case $ko in
    *.ko) cp "$ko" "$stage/modules/$name.ko" ;;
    *.ko.xz) xz -dc "$ko" >"$stage/modules/$name.ko" ;;
    *.ko.zst) zstd -qdc "$ko" >"$stage/modules/$name.ko" ;;
    *.ko.gz) gzip -dc "$ko" >"$stage/modules/$name.ko" ;;
    *) die "unknown module format: $ko" ;;
    esac
    echo "$name" >>"$stage/modules/order"
  done
  (cd "$stage" && find . -print0 | LC_ALL=C sort -z |
    cpio --quiet -o -0 -H newc -R 0:0 | gzip -1) >"$initrd.tmp"
  rm -rf "$stage"
  mv "$initrd.tmp" "$initrd"
  # Old images go, but not at once: a run that started before may still be
  # about to hand its image to QEMU.
  find "$cache/initramfs" -maxdepth 1 -name '*.cpio.gz' -mmin +60 -delete
fi

# ---- Accelerator ----
# QEMU option values (key=value lists) double their commas.
qemu_escape() { printf '%s' "${1//,/,,}"; }
accel=${LOCKC_VM_ACCEL:-}
if [[ -z $accel ]]; then
  accel=tcg
  if [[ -r /dev/kvm && -w /dev/kvm ]]; then
    # KVM guests hang on some of these machines: boot once with a marker and
    # keep the verdict (per host kernel and QEMU version).
    qver=$(qemu-system-x86_64 --version | head -n1)
    key=$(printf '%s\n' "$(uname -r)" "$qver" | sha256sum | cut -c1-16)
    verdict="$cache/kvm-probe-$key"
    if [[ ! -s $verdict ]]; then
      log "probing whether KVM guests boot here (once, up to 15 s)"
      probe_log=$(mktemp "$cache/.kvm-probe.XXXXXX")
      # In a subshell that waits (|| true), so that bash's note about a QEMU
      # killed by a signal (e.g. an assertion on KVM MSRs) goes to /dev/null.
      (timeout -k 5 15 qemu-system-x86_64 -accel kvm -cpu host -smp 1 -m 256 \
        -nodefaults -display none -no-reboot -no-user-config \
        -chardev "file,id=con,path=$(qemu_escape "$probe_log")" -serial chardev:con \
        -kernel "$kernel" -initrd "$initrd" \
        -append "console=ttyS0 panic=-1 lockc.probe=1" </dev/null || true) >/dev/null 2>&1
      if grep -q LOCKC_VM_PROBE_OK "$probe_log"; then echo kvm >"$verdict"; else echo tcg >"$verdict"; fi
      rm -f "$probe_log"
    fi
    accel=$(cat "$verdict")
  fi
fi
case $accel in
kvm) accel_args=(-accel kvm -cpu host) ;;
# One TCG thread for both vCPUs: QEMU 7.2's multi-threaded TCG races when
# one vCPU patches kernel text (static keys, text_poke_bp) that another is
# translating; the guest then dies on a stale int3 (seen on 6.12 in
# perf_event_open -> __schedule). QEMU 8.1 fixed it ("accel/tcg: Always
# lock pages before translation"); Debian 12 ships 7.2. Two vCPUs still
# interleave, so per-CPU maps and cross-CPU wakeups stay exercised.
tcg)
  # shellcheck disable=SC2054 # "tcg,thread=single" is one QEMU argument
  accel_args=(-accel tcg,thread=single -cpu max)
  [[ -z ${LOCKC_VM_ICOUNT:-} ]] || accel_args+=(-icount "$LOCKC_VM_ICOUNT")
  ;;
*) die "LOCKC_VM_ACCEL must be kvm or tcg, not '$accel'" ;;
esac
flock -u 8

# ---- Per-run data, read by the guest from the OUT share ----
rm -rf "$out/.lockc-vm"
rm -f "$out/guest.log" "$out/exit-status" "$out/console.log" "$out/journal.log"
mkdir -p "$out/.lockc-vm"
printf '%s\n' "$out" >"$out/.lockc-vm/out-path"
{
  echo "#!/bin/bash"
  echo "# Written by run-vm.sh: the test command, run in the caller's directory."
  printf 'cd -- %q || { echo "lockc-vm: cannot cd to %q in the guest" >&2; exit 125; }\n' "$cwd" "$cwd"
  printf 'exec'
  printf ' %q' "$@"
  printf '\n'
} >"$out/.lockc-vm/command.sh"

# ---- Boot ----
cmdline="console=ttyS0 lsm=$lsm panic=-1"
# Kernel warnings and errors stay on the console; systemd shows its progress,
# which tells where a boot that never reaches the test got stuck.
cmdline+=" loglevel=4 systemd.show_status=true systemd.log_color=0"
cmdline+=" systemd.journald.forward_to_console=0 random.trust_cpu=on"

# An empty 8 MiB NVMe drive: the escape catalogue's passthrough techniques
# (nvme-admin, nvme-generic) need a real NVMe controller and namespace.
truncate -s 8M "$out/.lockc-vm/nvme.img"

p9="security_model=none,multidevs=remap"
qemu=(qemu-system-x86_64 "${accel_args[@]}" -smp "$cpus" -m "$mem"
  -name lockc-vm -nodefaults -no-user-config -display none -no-reboot
  -chardev "file,id=con,path=$(qemu_escape "$out/console.log")" -serial chardev:con
  -kernel "$kernel" -initrd "$initrd" -append "$cmdline"
  -virtfs "local,path=/,mount_tag=hostroot,$p9,readonly=on"
  -virtfs "local,path=$(qemu_escape "$modules"),mount_tag=modules,$p9,readonly=on"
  -virtfs "local,path=$(qemu_escape "$out"),mount_tag=out,$p9"
  -drive "file=$(qemu_escape "$out/.lockc-vm/nvme.img"),if=none,format=raw,id=nvme0"
  -device nvme,serial=lockc-vm,drive=nvme0,logical_block_size=512,physical_block_size=512
  # A USB controller (UHCI; its root hub is a USB device): the escape
  # catalogue's usbfs and usbmon techniques need one.
  -usb)
[[ $firmware == bios ]] || qemu+=(-bios "$ovmf")
if [[ -n $forward ]]; then
  qemu+=(-netdev "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:${forward%%:*}-10.0.2.15:${forward##*:}"
    -device virtio-net-pci,netdev=net0)
fi

log "booting $kver ($accel${LOCKC_VM_ICOUNT:+, icount $LOCKC_VM_ICOUNT}, $firmware, $cpus CPUs, ${mem} MB, lsm=$lsm, timeout ${timeout_s} s); console: $out/console.log"
start=$(date +%s.%N)
qemu_status=0
# timeout(1) runs QEMU in its own process group, which a Ctrl-C or a test
# runner's kill does not reach: forward those to it.
timeout -k 10 "$timeout_s" "${qemu[@]}" </dev/null >"$out/.lockc-vm/qemu.log" 2>&1 &
qemu_pid=$!
trap 'kill -TERM "$qemu_pid" 2>/dev/null; wait "$qemu_pid"; log "interrupted"; exit 130' INT TERM HUP
wait "$qemu_pid" || qemu_status=$?
trap - INT TERM HUP
wall=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

# ---- Verdict ----
read_time() { if [[ -s $1 ]]; then cat "$1"; else echo "?"; fi; }
t_init=$(read_time "$out/.lockc-vm/initramfs-done")
t_start=$(read_time "$out/.lockc-vm/command-start")
t_end=$(read_time "$out/.lockc-vm/command-end")
t_cmd="?"
[[ $t_start == "?" || $t_end == "?" ]] || t_cmd=$(awk -v s="$t_start" -v e="$t_end" 'BEGIN { printf "%.1f", e - s }')
log "wall time ${wall} s; guest uptime: initramfs done ${t_init} s, command started ${t_start} s, command took ${t_cmd} s"

reason=
status=
if [[ -s $out/exit-status ]]; then status=$(tr -d '[:space:]' <"$out/exit-status"); fi
if ((qemu_status == 124 || qemu_status == 137)); then
  reason="timed out after ${timeout_s} s (QEMU killed)"
elif [[ -s $out/.lockc-vm/boot-failed ]]; then
  reason="boot failed: $(cat "$out/.lockc-vm/boot-failed")"
elif ((qemu_status != 0)); then
  reason="QEMU exited with status $qemu_status: $(tail -n 5 "$out/.lockc-vm/qemu.log")"
elif [[ -z $status ]]; then
  reason="the VM stopped without an exit status (boot failure or crash; see the console)"
elif [[ -s $out/.lockc-vm/runner-failed ]]; then
  reason="the test runner was killed: $(cat "$out/.lockc-vm/runner-failed")"
elif [[ $status != 0 ]]; then
  reason="the command exited with status $status"
fi

if [[ -z $reason ]]; then
  log "command succeeded in the VM (exit status 0)"
  exit 0
fi
{
  echo "run-vm: FAILED: $reason"
  echo "run-vm: ---- last 80 lines of $out/console.log ----"
  tail -n 80 "$out/console.log" 2>/dev/null || echo "(no console log)"
  echo "run-vm: ---- last 80 lines of $out/guest.log ----"
  tail -n 80 "$out/guest.log" 2>/dev/null || echo "(no guest log)"
  if [[ -s $out/journal.log ]]; then echo "run-vm: the guest's journal is in $out/journal.log"; fi
  echo "run-vm: ---- end ----"
} >&2
if [[ $status =~ ^[0-9]+$ ]] && ((status != 0 && status < 256)); then exit "$status"; fi
exit 1
