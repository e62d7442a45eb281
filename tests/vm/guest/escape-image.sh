#!/bin/bash
# Run inside the test VM after docker-setup.sh: makes lockc-test/escape:latest,
# the busybox image with lockc-escape-probe (static) as /bin/lockc-escape-probe,
# for the escape catalogue and lockc's self-protection checks.
#
#   escape-image.sh PROBE
set -euo pipefail

probe=${1:?usage: escape-image.sh PROBE}
image=lockc-test/escape:latest

[[ -x $probe ]] || { echo "escape-image: no probe at $probe" >&2; exit 1; }
docker rmi -f "$image" >/dev/null 2>&1 || true
c=$(docker create lockc-test/busybox:latest true)
trap 'docker rm "$c" >/dev/null' EXIT
docker cp "$probe" "$c":/bin/lockc-escape-probe
docker commit "$c" "$image" >/dev/null
