"""Summarise the last mutation run (`make mutation`) as a Markdown table per module.

Usage: .venv/bin/python scripts/mutation_report.py [--survivors]

Reads `mutmut results --all true` from the mutants/ directory that `mutmut run` left.
The score counts killed and timed-out mutants over all of them; a mutant that no test
reaches ("no tests") counts against it. `--survivors` lists the surviving mutants too,
to triage with `mutmut show NAME`.
"""

from __future__ import annotations

import collections
import re
import subprocess
import sys
from pathlib import Path

MUTMUT = Path(sys.executable).with_name("mutmut")


def results() -> list[tuple[str, str, str]]:
    """(module, mutant name, status) for every mutant of the last run."""
    output = subprocess.run(
        [str(MUTMUT), "results", "--all", "true"], capture_output=True, text=True, check=True
    ).stdout
    rows = []
    for line in output.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            # bare.routing.xǁRouterǁadd__mutmut_3 or bare._paths.x_route_path__mutmut_1
            rows.append((re.split(r"\.x(?:ǁ|_)", name)[0], name, status))
    return rows


def main() -> None:
    rows = results()
    if not rows:
        sys.exit("mutation_report: no results: run `make mutation` first")
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for module, _, status in rows:
        counts[module][status] += 1
    print("| module | mutants | killed | timeout | survived | no tests | score |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    total: collections.Counter[str] = collections.Counter()
    for module in sorted(counts):
        total.update(counts[module])
        print(_row(module, counts[module]))
    print(_row("**all**", total))
    if "--survivors" in sys.argv[1:]:
        print()
        for _, name, status in rows:
            if status in ("survived", "no tests"):
                print(f"{status}: {name}")


def _row(label: str, count: collections.Counter[str]) -> str:
    n = sum(count.values())
    score = 100 * (count["killed"] + count["timeout"]) / n
    return (
        f"| {label} | {n} | {count['killed']} | {count['timeout']} | {count['survived']} "
        f"| {count['no tests']} | {score:.1f}% |"
    )


if __name__ == "__main__":
    main()
