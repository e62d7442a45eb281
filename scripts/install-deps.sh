#!/usr/bin/env bash
# Installs everything lockc needs to build and test, from Debian's packages.
# Idempotent: apt-get skips what is already there.
set -euo pipefail

packages=(
  # build
  cmake make g++ pkg-config clang llvm libbpf-dev bpftool
  libsdbus-c++-dev libsdbus-c++-bin libsystemd-dev libtomlplusplus-dev
  libgtest-dev nlohmann-json3-dev libyaml-cpp-dev libcurl4-openssl-dev
  clang-format clang-tidy
  # fuzzing (tests/fuzz/): libFuzzer and the sanitizers' runtimes for clang
  libclang-rt-14-dev
  # host D-Bus tests: a private system bus with a real dbus-daemon and
  # polkitd (tests/dbus/test-bus.sh); xmllint for the bus and polkit XML.
  dbus polkitd libxml2-utils
  # VM tests: QEMU, a static busybox for the initramfs, kmod for depmod,
  # and the real container stack that the guest runs from the host's root.
  qemu-system-x86 busybox-static kmod cpio docker.io runc crun podman python3
  # UEFI firmware for the test suite's boots (tests/vm/run-suite.sh)
  ovmf
  # the escape catalogue's "host disk" and its TPM, a software one
  # (tests/vm/driver/escape_test.cpp)
  e2fsprogs swtpm
  # benchmarks against AppArmor (bench/vm/hooks.sh, in the VM booted with
  # apparmor in lsm=): apparmor_parser loads the profile. Its service is
  # skipped on a host whose kernel runs no AppArmor, and the test VM does
  # not start it.
  apparmor
  # shell completions of lockcctl (tests/completions/) and the manual pages
  # (scdoc builds them; man --warnings in man/check-page.sh).
  bash-completion zsh fish scdoc man-db groff-base
  # the Cockpit page (cockpit/) and its browser test (tests/vm/desktop/):
  # Cockpit serves the page in the guest, sudo gives its test user
  # administrative access, Chromium on the host is the browser.
  cockpit-ws cockpit-bridge cockpit-system sudo chromium
  # lockc-notify's VM test (tests/vm/desktop/): a real notification server
  # (dunst, dunstctl) on an X server without a screen, a session bus, and
  # setpriv to run it as test users.
  dunst xvfb dbus-daemon util-linux
)
# npm fetches PatternFly's CSS for the page and Playwright for its test.
# Debian's npm, unless the machine has Node.js with npm already.
command -v npm >/dev/null || packages+=(npm)

export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The host must not run Docker itself: the guest starts it from the shared root.
if systemctl is-active --quiet docker 2>/dev/null; then systemctl stop docker docker.socket || true; fi
