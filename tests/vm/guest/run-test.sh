#!/bin/bash
# Runs in the test VM as lockc-vm-test.service: executes the command that
# run-vm.sh wrote to OUT/.lockc-vm/command.sh, with its output in
# OUT/guest.log and its exit status in OUT/exit-status.
set -uo pipefail

out=$(cat /usr/lib/lockc-vm/out-path)
uptime() { cut -d' ' -f1 /proc/uptime; }

export LOCKC_VM_OUT=$out
LOCKC_VM_KERNEL=$(uname -r)
export LOCKC_VM_KERNEL
export HOME=/root LANG=C.UTF-8

uptime >"$out/.lockc-vm/command-start"
echo "lockc-vm: boot done after $(uptime) s, running the test command"

status=0
bash "$out/.lockc-vm/command.sh" >"$out/guest.log" 2>&1 </dev/null || status=$?

uptime >"$out/.lockc-vm/command-end"
echo "$status" >"$out/exit-status"
echo "lockc-vm: test command exited with status $status at $(uptime) s"
sync
exit 0
