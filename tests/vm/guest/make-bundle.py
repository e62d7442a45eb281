#!/usr/bin/env python3
"""Writes an OCI bundle's config.json for the in-guest container tests.

  make-bundle.py DIR --rootfs ROOTFS [--annotation K=V ...]
                 [--cgroups-path PATH] [--bind-host-root] -- ARGS...

Starts from `runc spec` (runc's own defaults), then sets the process
arguments, the annotations, linux.cgroupsPath, and optionally a read-only
bind mount of the host's / at /rootfs (what a confined level forbids).
"""
import argparse
import json
import os
import subprocess
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--rootfs", required=True)
    parser.add_argument("--annotation", action="append", default=[])
    parser.add_argument("--cgroups-path", default="")
    parser.add_argument("--bind-host-root", action="store_true")
    parser.add_argument("args", nargs="+")
    opts = parser.parse_args()

    os.makedirs(opts.dir, exist_ok=True)
    spec_file = os.path.join(opts.dir, "config.json")
    if os.path.exists(spec_file):
        os.remove(spec_file)
    subprocess.run(["runc", "spec", "--bundle", opts.dir], check=True)
    with open(spec_file) as f:
        spec = json.load(f)
    spec["root"] = {"path": os.path.abspath(opts.rootfs), "readonly": True}
    spec["process"]["terminal"] = False
    spec["process"]["args"] = opts.args
    spec["annotations"] = dict(a.split("=", 1) for a in opts.annotation)
    if opts.cgroups_path:
        spec["linux"]["cgroupsPath"] = opts.cgroups_path
    if opts.bind_host_root:
        spec["mounts"].append({"destination": "/rootfs", "type": "bind", "source": "/",
                               "options": ["rbind", "ro"]})
    with open(spec_file, "w") as f:
        json.dump(spec, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
