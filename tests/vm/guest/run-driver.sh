#!/usr/bin/env bash
# Runs in the guest: the driver, with its gtest XML written to OUT.
# Exits 0 once the driver has run (its verdicts are in the XML).
set -u
driver=$1 out=$2
"$driver" --gtest_output="xml:$out/results.xml" --gtest_color=no
echo $? > "$out/driver-status"
exit 0
