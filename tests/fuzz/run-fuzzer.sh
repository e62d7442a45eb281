#!/usr/bin/env bash
# Fuzzes one target for a while, starting from its committed corpus (copied:
# what libFuzzer adds stays out of the source tree). Fails on a crash, a
# sanitizer report, a leak, an input that takes over 10 s or 2 GiB; the
# input that did it is saved under FINDINGS (libFuzzer prints its path).
#   run-fuzzer.sh FUZZER CORPUS_DIR SECONDS FINDINGS_DIR
set -euo pipefail
fuzzer=$1 corpus=$2 seconds=$3 findings=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$corpus"/. "$work/"
mkdir -p "$findings"
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$findings/" "$work"
