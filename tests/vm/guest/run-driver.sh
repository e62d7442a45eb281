#!/usr/bin/env bash
# Runs in the guest: each driver in turn, with its gtest XML written to OUT
# as results-<name>.xml. Exits 0 once the drivers have run (their verdicts
# are in the XML); if one failed, the guest's journal is kept in OUT too.
# Usage: run-driver.sh OUT DRIVER[=GTEST_FILTER]...
# (a driver without a filter runs whole)
set -u
out=$1
shift
failed=0
for spec in "$@"; do
  driver=$spec filter='*'
  if [[ $spec == *=* ]]; then
    driver=${spec%=*} filter=${spec##*=}
  fi
  name=$(basename "$driver")
  echo "==== $name ($filter)"
  "$driver" --gtest_filter="$filter" --gtest_output="xml:$out/results-$name.xml" --gtest_color=no
  status=$?
  echo "$status" >"$out/driver-status-$name"
  ((status == 0)) || failed=1
done
if ((failed)); then
  timeout 60 journalctl -b --no-pager -o short-monotonic >"$out/journal.log" 2>&1 || true
fi
exit 0
