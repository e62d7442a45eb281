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

The hook benchmark's "apparmor" configuration exists only when the guest's
kernel ran AppArmor (environment.tsv's lsm lists it); --check then requires
its figures too. Its "floor" configuration (an empty BPF LSM program on
each of lockc's hooks) is in every run since it was added, and so is
"off-cgroup" (lockc off, the caller in the baseline container's cgroup,
which the container's ratios are measured against); older output
directories lack them, and their summary leaves them out. The same holds
for the ioctl and fcntl loops, run since 2026-12-03.
"""
import statistics
import sys
from collections import defaultdict
from pathlib import Path

HOOK_CONFIGS = ["off", "off-cgroup", "floor", "apparmor", "host", "baseline", "denied"]
HOOK_LOOPS = ["open", "stat", "exec", "mount", "connect", "ioctl", "fcntl"]
# (configuration, baseline configuration, target ratio or None, what it means)
# A container's operations are measured against the same cgroup with lockc
# off ("off-cgroup"): a process in a cgroup of its own costs some loops a
# few percent without any LSM (memory and accounting are per cgroup), which
# is not lockc's. Where an output directory has no off-cgroup (older runs),
# "off" stands in; the summary says which.
HOOK_RATIOS = [
    ("off-cgroup", "off", None, "in a cgroup of its own / in the root's, lockc off"),
    ("floor", "off", None, "empty BPF LSM programs on lockc's hooks / off"),
    ("apparmor", "off-cgroup", None, "AppArmor docker-default-like profile / off"),
    ("host", "off", 1.02, "host process, lockc on / off"),
    ("baseline", "off-cgroup", 1.05, "baseline container, allowed / lockc off"),
    ("denied", "baseline", 1.5, "denied with event / allowed in a container"),
    ("baseline", "off", None, "baseline container / lockc off, caller in the root cgroup"),
    ("host", "floor", None, "host process, lockc / empty programs"),
    ("baseline", "floor", None, "baseline container, lockc / empty programs"),
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


def apparmor_active(env):
    return "apparmor" in env.get("lsm", "").split(",")


def round_ratios(table, config, base, loop, rounds):
    a, b = table[(config, loop)], table[(base, loop)]
    return [a[r] / b[r] for r in rounds if r in a and r in b and b[r] > 0]


def hook_section(out, problems, env):
    table = defaultdict(dict)  # (config, loop) -> round -> ns
    reader = defaultdict(dict)  # the same, the event reader's CPU ns per op
    for r in rows(out / "hooks.tsv"):
        rnd, config, loop, _ops, ns = r[:5]
        table[(config, loop)][int(rnd)] = float(ns)
        if len(r) > 5 and r[5]:
            reader[(config, loop)][int(rnd)] = float(r[5])
    # With the reader's time recorded (runs since 2026-12-02), the denial
    # target applies to the caller's own time (see reader_share()).
    own_denied = bool(reader.get(("denied", "open")))
    # Without AppArmor in the kernel there is no apparmor configuration.
    with_apparmor = apparmor_active(env) or any(c == "apparmor" for c, _ in table)
    present = {c for c, _ in table}
    configs = [c for c in HOOK_CONFIGS
               if (c != "apparmor" or with_apparmor) and (c not in ("floor", "off-cgroup") or c in present)]
    ratio_specs = [(c, b if b in configs else "off", t, m) for c, b, t, m in HOOK_RATIOS
                   if c in configs]
    if own_denied:
        ratio_specs = [(c, b, None if c == "denied" else t,
                        m + ", wall time with the event reader" if c == "denied" else m)
                       for c, b, t, m in ratio_specs]
    # Without off-cgroup the same pair could come twice: the first (with its
    # target) stays.
    seen = set()
    ratio_specs = [x for x in ratio_specs
                   if x[1] in configs and (x[0], x[1]) not in seen and not seen.add((x[0], x[1]))]
    # The loops run (LOCKC_BENCH_HOOK_LOOPS may pick some; older runs lack
    # ioctl and fcntl); each must have figures in every configuration.
    loops = [loop for loop in HOOK_LOOPS if any(table.get((c, loop)) for c in configs)]
    for config in configs:
        for loop in loops:
            if not table.get((config, loop)):
                problems.append(f"hooks: no figures for {loop} in configuration {config}")
    if not table:
        return []
    rounds = sorted({rnd for v in table.values() for rnd in v})
    lines = [
        "## Hook cost",
        "",
        f"Nanoseconds per operation, median [min–max] of {len(rounds)} rounds "
        f"(the {len(configs)} configurations back to back for each loop in each round; "
        "off: lockc's programs detached from their hooks; off-cgroup: off, the caller in "
        "the baseline container's cgroup; floor: lockc's off and an "
        "empty program on each of its hooks).",
        "",
        "| loop | " + " | ".join(configs) + " |",
        "| --- |" + " ---: |" * len(configs),
    ]
    for loop in loops:
        cells = [spread(list(table[(c, loop)].values()), "{:.0f}") for c in configs]
        lines.append(f"| {loop} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Ratios, each round against the same round's baseline: median [min–max].",
        "",
        "| loop | " + " | ".join(f"{c} / {b}" for c, b, _, _ in ratio_specs) + " |",
        "| --- |" + " ---: |" * len(ratio_specs),
    ]
    misses = []
    for loop in loops:
        cells = []
        for config, base, target, meaning in ratio_specs:
            if config == "denied" and loop not in DENIABLE:
                cells.append("(nothing denies it)")
                continue
            ratios = round_ratios(table, config, base, loop, rounds)
            if target is None:
                cells.append(spread(ratios))
                continue
            v = verdict(ratios, target)
            if "missed" in v:
                misses.append(f"- {loop}, {meaning}: {v}")
            cells.append(f"{spread(ratios)} {v}")
        lines.append(f"| {loop} | " + " | ".join(cells) + " |")
    if own_denied:
        lines += reader_share(table, reader, rounds, misses)
    if with_apparmor:
        lines += apparmor_comparison(table, loops, rounds, misses,
                                     "off-cgroup" if "off-cgroup" in configs else "off")
    if misses:
        lines += ["", "Targets missed:", ""] + misses
    return lines


def reader_share(table, reader, rounds, misses):
    """The denied loops without the event reader's time. The benchmark runs
    on one CPU, so the reader draining the denials' events (lockc-enforcer
    events --follow, as lockcd would) runs between the caller's operations
    and its CPU time is in the loop's wall time. What a denial costs the
    caller, the hook and its event included, is the wall time less that
    (the reader's own cost per event is benchmark 3's subject). Target:
    denied / allowed <= 1.5 on that own time, both with any reader time
    taken out, round by round."""
    def own(config, loop):
        return {r: ns - reader.get((config, loop), {}).get(r, 0.0)
                for r, ns in table[(config, loop)].items()}
    lines = [
        "",
        "The denied loops without the event reader: the reader's CPU time per "
        "operation (it runs on the benchmark's one CPU), and denied / allowed on "
        "the caller's own time (wall time less the reader's, in both). "
        "Target: ≤ 1.5.",
        "",
        "| loop | denied, ns | reader, ns | denied less reader / baseline less reader |",
        "| --- | ---: | ---: | ---: |",
    ]
    for loop in HOOK_LOOPS:
        if loop not in DENIABLE:
            continue
        denied_own, base_own = own("denied", loop), own("baseline", loop)
        ratios = [denied_own[r] / base_own[r] for r in rounds
                  if r in denied_own and r in base_own and base_own[r] > 0]
        v = verdict(ratios, 1.5)
        if "missed" in v:
            misses.append(f"- {loop}, denied with event / allowed, the caller's own time: {v}")
        lines.append(f"| {loop} | {spread(list(table[('denied', loop)].values()), '{:.0f}')} | "
                     f"{spread(list(reader[('denied', loop)].values()), '{:.0f}')} | "
                     f"{spread(ratios)} {v} |")
    return lines


def apparmor_comparison(table, loops, rounds, misses, off):
    """lockc's baseline container against a process confined by the
    docker-default-like AppArmor profile, both with lockc's programs' and
    AppArmor's cost over the same round's `off` (both callers are in a
    cgroup of their own). Target: lockc's overhead at or below AppArmor's
    on every loop, i.e. baseline / apparmor <= 1 (the same round's off
    cancels out)."""
    lines = [
        "",
        "lockc against AppArmor (the same boot, the same rounds): each one's "
        f"ratio over {off}, then lockc's baseline over AppArmor, round by round. "
        "Target: lockc at or below AppArmor (baseline / apparmor ≤ 1).",
        "",
        f"| loop | lockc baseline / {off} | AppArmor / {off} | baseline / apparmor |",
        "| --- | ---: | ---: | ---: |",
    ]
    for loop in loops:
        lockc = round_ratios(table, "baseline", off, loop, rounds)
        aa = round_ratios(table, "apparmor", off, loop, rounds)
        both = round_ratios(table, "baseline", "apparmor", loop, rounds)
        v = verdict(both, 1.0)
        if "missed" in v:
            misses.append(f"- {loop}, lockc baseline at or below AppArmor: {v}")
        lines.append(f"| {loop} | {spread(lockc)} | {spread(aa)} | {spread(both)} {v} |")
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


EVENT_COLUMNS = ["rate", "mode", "round", "decisions", "drops", "read", "suppressed", "received",
                 "achieved", "age_p50", "age_p99", "age_max", "rss_max_kib"]


def events_section(out, problems):
    """Decision events to D-Bus (lockc-events-bench's events.tsv)."""
    table = [dict(zip(EVENT_COLUMNS, r)) for r in rows(out / "events.tsv")]
    if not table:
        problems.append("events: no figures")
        return []
    steps = list(dict.fromkeys((r["rate"], r["mode"]) for r in table))
    lines = [
        "## Decision events to D-Bus",
        "",
        "Per requested rate (denials/s, `max`: back to back) and delivery mode (`single`: "
        "a `Denied` signal per denial; `batched`: `DeniedBatch` signals; `coalesced`: "
        "`DeniedCoalesced` signals, repeats counted, every 100 ms; received counts each "
        "entry's repeats, age is that of its first denial), over the rounds: "
        "denials made per second, the share delivered to one subscriber, what was lost and "
        "where (summed over the rounds: ring buffer drops, signals suppressed by lockcd), "
        "whether every decision is accounted for (drops + suppressed + received = "
        "decisions), the denials' age at receipt (kernel timestamp to the subscriber's "
        "clock), and lockcd's largest VmRSS sample.",
        "",
        "| rate | mode | made /s | delivered % | drops | suppressed | exact | age p50 µs | "
        "age p99 µs | VmRSS max MiB |",
        "| --- | --- | ---: | ---: | ---: | ---: | :---: | ---: | ---: | ---: |",
    ]
    zero_loss = defaultdict(list)
    for rate, mode in steps:
        rs = [r for r in table if r["rate"] == rate and r["mode"] == mode]
        num = lambda key: [float(r[key]) for r in rs]  # noqa: E731
        exact = all(int(r["drops"]) + int(r["suppressed"]) + int(r["received"]) ==
                    int(r["decisions"]) for r in rs)
        delivered = [100.0 * int(r["received"]) / int(r["decisions"]) if int(r["decisions"])
                     else 0.0 for r in rs]
        if not exact:
            problems.append(f"events: at rate {rate} ({mode}) not every decision is accounted for")
        if any(int(r["decisions"]) == 0 for r in rs):
            problems.append(f"events: a round at rate {rate} ({mode}) made no decision")
        if all(int(r["received"]) == int(r["decisions"]) for r in rs):
            # The rate asked for (a paced run's first and last calls make the
            # achieved rate a hair lower); what the generator made for max.
            zero_loss[mode].append(statistics.median(num("achieved")) if rate == "max"
                                   else float(rate))
        lines.append(
            f"| {rate} | {mode} | {spread(num('achieved'), '{:.0f}')} | "
            f"{spread(delivered, '{:.2f}')} | "
            f"{sum(int(r['drops']) for r in rs)} | {sum(int(r['suppressed']) for r in rs)} | "
            f"{'yes' if exact else '**no**'} | {spread(num('age_p50'), '{:.0f}')} | "
            f"{spread(num('age_p99'), '{:.0f}')} | "
            f"{spread([v / 1024 for v in num('rss_max_kib')], '{:.1f}')} |")
    peak_rss = max(float(r["rss_max_kib"]) for r in table) / 1024
    lines.append("")
    for mode in dict.fromkeys(m for _r, m in steps):
        best = max(zero_loss[mode]) if zero_loss[mode] else 0
        lines.append(f"Highest rate delivered with zero loss in every round, {mode}: "
                     f"{best:.0f}/s (target ≥ 20,000/s: "
                     f"{'met' if best >= 20000 else '**missed**'}).")
    lines += [
        "",
        f"lockcd's largest VmRSS sample: {peak_rss:.1f} MiB "
        f"(target < 50 MiB: {'met' if peak_rss < 50 else '**missed**'}).",
    ]
    return lines


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
    for section in (hook_section(out, problems, env), program_section(out),
                    map_section(out, problems), start_section(out, problems),
                    events_section(out, problems), passthrough(out, "dbus-summary.md")):
        if section:
            lines += [""] + section
    print("\n".join(lines))
    if problems:
        print("\n".join(f"summarise: {p}" for p in problems), file=sys.stderr)
    return 1 if check and problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
