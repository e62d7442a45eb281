#!/usr/bin/env python3
"""Turns the raw figures of bench/run.sh (an output directory) into the
Markdown summary that docs/benchmarks.md quotes.

Every cost is a ratio against a baseline measured in the same boot: for each
round the configuration's figure is divided by the baseline's figure of the
same round (they ran back to back), and the summary gives the median of
those ratios with their min and max.

  summarise.py OUT_DIR            print the summary
  summarise.py --check OUT_DIR    also fail (exit 1) when a benchmark left
                                  no figures or a structural property does
                                  not hold (CI's smoke run); never timings
"""
import statistics
import sys
from collections import defaultdict
from pathlib import Path

HOOK_CONFIGS = ["off", "host", "baseline", "denied"]
HOOK_LOOPS = ["open", "stat", "exec", "mount", "connect"]
# (configuration, baseline configuration, target ratio, what it means)
HOOK_RATIOS = [
    ("host", "off", 1.02, "host process, lockc on / off"),
    ("baseline", "off", 1.05, "baseline container, allowed / lockc off"),
    ("denied", "baseline", 1.5, "denied with event / allowed in a container"),
]
DENIABLE = {"open", "mount", "connect"}


def rows(path):
    if not path.exists():
        return []
    return [line.split("\t") for line in path.read_text().splitlines() if line.strip()]


def spread(values, fmt="{:.3f}"):
    if not values:
        return "–"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} [{fmt.format(min(values))}–{fmt.format(max(values))}]"


def verdict(values, target):
    if not values:
        return "–"
    med = statistics.median(values)
    if med <= target:
        return f"met (≤ {target:g})"
    return f"**missed** by {100 * (med / target - 1):.1f}%"


def environment(out):
    env = dict((r[0], r[1]) for r in rows(out / "environment.tsv") if len(r) >= 2)
    lines = ["## Environment", ""]
    for key in ["kernel", "lsm", "accelerator", "cpu", "cpus", "memory", "bpf_jit", "mode"]:
        if key in env:
            lines.append(f"- {key}: `{env[key]}`")
    return lines, env


def hook_section(out, problems):
    table = defaultdict(dict)  # (config, loop) -> round -> ns
    for r in rows(out / "hooks.tsv"):
        rnd, config, loop, _ops, ns = r
        table[(config, loop)][int(rnd)] = float(ns)
    for config in HOOK_CONFIGS:
        for loop in HOOK_LOOPS:
            if not table.get((config, loop)):
                problems.append(f"hooks: no figures for {loop} in configuration {config}")
    if not table:
        return []
    rounds = sorted({rnd for v in table.values() for rnd in v})
    lines = [
        "## Hook cost",
        "",
        f"Nanoseconds per operation, median [min–max] of {len(rounds)} rounds "
        "(the four configurations back to back for each loop in each round; "
        "off: lockc's programs detached from their hooks).",
        "",
        "| loop | " + " | ".join(HOOK_CONFIGS) + " |",
        "| --- |" + " ---: |" * len(HOOK_CONFIGS),
    ]
    for loop in HOOK_LOOPS:
        cells = [spread(list(table[(c, loop)].values()), "{:.0f}") for c in HOOK_CONFIGS]
        lines.append(f"| {loop} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Ratios, each round against the same round's baseline: median [min–max].",
        "",
        "| loop | " + " | ".join(f"{c} / {b}" for c, b, _, _ in HOOK_RATIOS) + " |",
        "| --- |" + " ---: |" * len(HOOK_RATIOS),
    ]
    misses = []
    for loop in HOOK_LOOPS:
        cells = []
        for config, base, target, meaning in HOOK_RATIOS:
            if config == "denied" and loop not in DENIABLE:
                cells.append("(nothing denies it)")
                continue
            a, b = table[(config, loop)], table[(base, loop)]
            ratios = [a[r] / b[r] for r in rounds if r in a and r in b and b[r] > 0]
            v = verdict(ratios, target)
            if "missed" in v:
                misses.append(f"- {loop}, {meaning}: {v}")
            cells.append(f"{spread(ratios)} {v}")
        lines.append(f"| {loop} | " + " | ".join(cells) + " |")
    if misses:
        lines += ["", "Targets missed:", ""] + misses
    return lines


def program_section(out):
    stats = rows(out / "hooks-progs.tsv")
    if not stats:
        return []
    lines = [
        "## Time per program call (kernel.bpf_stats_enabled, one pass)",
        "",
        "| configuration | program | calls | ns per call |",
        "| --- | --- | ---: | ---: |",
    ]
    for config, prog, cnt, ns in stats:
        cnt, ns = int(cnt), int(ns)
        if cnt:
            lines.append(f"| {config} | `{prog}` | {cnt} | {ns / cnt:.0f} |")
    return lines


def map_section(out, problems):
    cases = rows(out / "maps.tsv")
    if not cases:
        problems.append("maps: no figures")
        return []
    lines = [
        "## BPF map memory",
        "",
        "| case | policy entries | bytes_memlock of lockc's maps |",
        "| --- | ---: | ---: |",
    ]
    for case, entries, total in cases:
        lines.append(f"| {case} | {entries} | {int(total):,} |")
    by_case = {c: int(t) for c, _, t in cases}
    pid_cases = [c for c in by_case if c.startswith("pid_max=")]
    if len(pid_cases) == 2:
        a, b = (by_case[c] for c in pid_cases)
        same = "the same" if a == b else f"**different** ({a} vs {b})"
        lines += ["", f"Map memory with {pid_cases[0]} and {pid_cases[1]}: {same}."]
        if a != b:
            problems.append(f"maps: memory depends on pid_max ({a} vs {b})")
    else:
        problems.append("maps: no pid_max comparison")
    detail = [r for r in rows(out / "maps-detail.tsv") if r[0] == pid_cases[-1]] if pid_cases else []
    if detail:
        lines += ["", "| map | bytes_memlock | max_entries |", "| --- | ---: | ---: |"]
        for _case, name, mem, entries in sorted(detail, key=lambda r: -int(r[2])):
            lines.append(f"| `{name}` | {int(mem):,} | {entries} |")
    return lines


def start_section(out, problems):
    runs = defaultdict(lambda: defaultdict(list))  # round -> config -> seconds
    for rnd, config, _i, secs in rows(out / "container-start.tsv"):
        runs[int(rnd)][config].append(float(secs))
    if not runs:
        problems.append("container start: no figures")
        return []
    per_round = {c: [statistics.median(runs[r][c]) for r in sorted(runs) if runs[r][c]]
                 for c in ("without", "with")}
    ratios = [statistics.median(runs[r]["with"]) / statistics.median(runs[r]["without"])
              for r in sorted(runs) if runs[r]["with"] and runs[r]["without"]]
    if not ratios:
        problems.append("container start: no round with both configurations")
    n = sum(len(v) for r in runs.values() for v in r.values())
    return [
        "## Container start (`docker run --rm IMAGE true`)",
        "",
        f"{n} containers in {len(runs)} rounds; per round the median seconds of each "
        "configuration, then the ratio.",
        "",
        "| without lockc (s) | with lockc (s) | with / without |",
        "| ---: | ---: | ---: |",
        f"| {spread(per_round['without'])} | {spread(per_round['with'])} | "
        f"{spread(ratios)} {verdict(ratios, 1.05)} |",
    ]


def passthrough(out, name):
    path = out / name
    return path.read_text().rstrip().splitlines() if path.exists() else []


def main(argv):
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(args[0])
    problems = []
    lines, env = environment(out)
    if env.get("mode") == "smoke":
        lines += ["", "(smoke run: tiny counts, the figures mean nothing)"]
    for section in (hook_section(out, problems), program_section(out),
                    map_section(out, problems), start_section(out, problems),
                    passthrough(out, "dbus-summary.md")):
        if section:
            lines += [""] + section
    print("\n".join(lines))
    if problems:
        print("\n".join(f"summarise: {p}" for p in problems), file=sys.stderr)
    return 1 if check and problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
