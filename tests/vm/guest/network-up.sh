#!/bin/bash
# Runs in the test VM booted with run-vm.sh --forward: gives the guest's
# network card the address QEMU's user network forwards to (10.0.2.15/24).
# The network is QEMU's private one (restrict=on): nothing leaves it.
set -euo pipefail
limit=${1:-60}
# The guest runs no udev: load the card's driver by hand.
modprobe virtio_net
for ((i = 0; i < limit; i++)); do
  for dev in /sys/class/net/*; do
    name=${dev##*/}
    [[ $name == lo || ! -e $dev/device ]] && continue
    ip link set "$name" up
    ip addr replace 10.0.2.15/24 dev "$name"
    echo "network-up: $name is 10.0.2.15/24"
    exit 0
  done
  sleep 1
done
echo "network-up: no network card after ${limit} s (run-vm.sh without --forward?)" >&2
exit 1
