#!/usr/bin/env python3
"""Reports one check of the in-guest driver from its gtest XML results:
exit 0 if it passed, 1 (with the failure text) if it failed, was skipped
or did not run at all."""
import sys
import xml.etree.ElementTree as ET


def main() -> int:
    xml_path, check = sys.argv[1], sys.argv[2]
    suite, _, name = check.rpartition(".")
    try:
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError) as err:
        print(f"no results from the VM ({xml_path}): {err}")
        return 1
    for case in root.iter("testcase"):
        if case.get("classname") != suite or case.get("name") != name:
            continue
        failures = case.findall("failure")
        if failures:
            for f in failures:
                print(f.get("message") or f.text)
            return 1
        if case.get("result") == "skipped" or case.get("status") != "run":
            print(f"{check} did not run in the VM")
            return 1
        print(f"{check} passed in the VM ({case.get('time')} s)")
        return 0
    print(f"{check} is missing from {xml_path}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
