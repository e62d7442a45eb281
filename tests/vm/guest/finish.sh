#!/bin/bash
# Powers the test VM off, whatever happened before.
#   finish.sh done            ExecStopPost of lockc-vm-test.service
#   finish.sh boot-failed U   replaces emergency/rescue mode (unit U)
set -uo pipefail

out=$(cat /usr/lib/lockc-vm/out-path 2>/dev/null) || out=
case ${1:-} in
done)
  # The runner was killed before it recorded a status: record systemd's view.
  if [[ -n $out && ! -e $out/exit-status ]]; then
    echo "lockc-vm: test runner ended without a status (${SERVICE_RESULT:-?} ${EXIT_CODE:-?} ${EXIT_STATUS:-?})" >/dev/console
    echo "runner ${SERVICE_RESULT:-unknown}: ${EXIT_CODE:-?} ${EXIT_STATUS:-?}" >"$out/.lockc-vm/runner-failed"
    echo 255 >"$out/exit-status"
  fi
  # On failure keep the guest's journal: it goes away with the VM.
  if [[ -n $out && $(cat "$out/exit-status" 2>/dev/null) != 0 ]]; then
    timeout 60 journalctl -b --no-pager -o short-monotonic >"$out/journal.log" 2>&1 || true
  fi
  ;;
boot-failed)
  echo "lockc-vm: systemd entered ${2:-emergency mode}: boot failed" >/dev/console
  systemctl --no-pager --failed >/dev/console 2>&1 || true
  if [[ -n $out ]]; then
    {
      echo "systemd entered ${2:-emergency mode}; failed units:"
      systemctl --no-pager --failed 2>&1
    } >"$out/.lockc-vm/boot-failed"
    timeout 60 journalctl -b --no-pager -o short-monotonic >"$out/journal.log" 2>&1 || true
  fi
  ;;
esac
sync
systemctl poweroff -ff
# Should not be reached; the kernel's own call as a last resort.
echo o >/proc/sysrq-trigger
