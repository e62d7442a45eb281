#!/usr/bin/env python3
"""Writes one verdict file per check of an in-guest driver, from its gtest
XML results: DIR/<Suite.Name>.passed (one line) or DIR/<Suite.Name>.failed
(the failure text, or why it did not count: skipped, not run). Each check's
ctest then only reads its file (vm_checks.cmake.in): one parse per boot,
not one python3 start and parse per check. Prints the boot's summary line.
Exit status 1 if the XML cannot be read (no verdicts are written)."""
import pathlib
import sys
import xml.etree.ElementTree as ET


def verdict(case: ET.Element, check: str) -> tuple[bool, str]:
    failures = case.findall("failure")
    if failures:
        return False, "\n".join(f.get("message") or f.text or "" for f in failures)
    if case.get("result") == "skipped" or case.get("status") != "run":
        return False, f"{check} did not run in the VM"
    return True, f"{check} passed in the VM ({case.get('time')} s)"


def main() -> int:
    xml_path, out_dir, driver = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
    try:
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError) as err:
        print(f"no results from the VM ({xml_path}): {err}", file=sys.stderr)
        return 1
    out_dir.mkdir(parents=True, exist_ok=True)
    for case in root.iter("testcase"):
        check = f"{case.get('classname')}.{case.get('name')}"
        passed, text = verdict(case, check)
        # Parameterised checks have slashes in their names
        # (Hooks/HookMatrix.Case/param): the path has directories too.
        verdict_file = out_dir / f"{check}.{'passed' if passed else 'failed'}"
        verdict_file.parent.mkdir(parents=True, exist_ok=True)
        verdict_file.write_text(text + "\n")
    print(f"VM results of {driver}: {root.get('tests')} checks, {root.get('failures')} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
