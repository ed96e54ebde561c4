"""Print the router benchmarks as a Markdown table of median times per `match` call.

    python benchmarks/report.py                 # run the benchmarks, then report
    python benchmarks/report.py results.json    # report a --benchmark-json file

Other arguments are passed to pytest, e.g. `--benchmark-max-time=0.2`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from _tables import HERE, run_module, seconds_per_call, table

IMPLS = ("c", "py", "HandTrie", "LinearRegexRouter")

Medians = dict[str, dict[str, float]]  # scenario -> impl -> seconds per call


def per_call(results: dict[str, Any]) -> tuple[Medians, dict[str, str]]:
    """Median seconds per call by scenario and implementation; each scenario's group."""
    medians: Medians = {}
    groups: dict[str, str] = {}
    for bench in results["benchmarks"]:
        info = bench["extra_info"]
        medians.setdefault(info["scenario"], {})[info["impl"]] = seconds_per_call(bench)
        groups[info["scenario"]] = bench["group"]
    return medians, groups


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    ns = seconds * 1e9
    return f"{ns:.0f} ns" if ns < 1000 else f"{ns / 1000:.2f} us"


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{a / b:.2f}x"


def report(medians: Medians, groups: dict[str, str]) -> str:
    """The Markdown table, then the table-size and linear-scan ratios."""
    rows = []
    for scenario, times in medians.items():
        c, py, trie, linear = (times.get(impl) for impl in IMPLS)
        cells = [duration(t) for t in (c, py, trie, linear)]
        cells += [ratio(py, trie), ratio(py, c), ratio(c, trie)]
        rows.append([scenario, *cells])
    header = ["scenario", "c", "py", "HandTrie", "linear", "py/HandTrie", "py/c", "c/HandTrie"]
    lines = table(header, rows)
    sizes = sorted(s for s in medians if s.startswith("size-"))
    if len(sizes) == 2:
        small, large = sorted(sizes, key=lambda s: int(s.removeprefix("size-")))
        lines += ["", f"{groups[small]}, time on {large} / time on {small}:", ""]
        for impl in IMPLS:
            lines.append(f"- {impl}: {ratio(medians[large].get(impl), medians[small].get(impl))}")
    if "last-route" in medians:
        last = medians["last-route"]
        lines += ["", f"{groups['last-route']}, linear scan / bare:", ""]
        for impl in IMPLS[:2]:
            lines.append(f"- linear/{impl}: {ratio(last.get(IMPLS[3]), last.get(impl))}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, help="a --benchmark-json file")
    args, pytest_args = parser.parse_known_args()
    if args.results is not None:
        results = json.loads(args.results.read_text())
    else:
        results = run_module(HERE / "test_bench_router.py", pytest_args)
    print(report(*per_call(results)))


if __name__ == "__main__":
    main()
