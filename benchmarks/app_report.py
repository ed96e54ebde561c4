"""Print the request-cycle benchmarks as Markdown: median time per request, ratio to the floor.

    python benchmarks/app_report.py                         # run both passes, then report
    python benchmarks/app_report.py default.json pure.json  # report --benchmark-json files

Running means two pytest runs of benchmarks/test_bench_app.py, since bare picks its header
codecs when it is imported:

    python -m pytest benchmarks/test_bench_app.py --benchmark-only
    BARE_NO_EXTENSIONS=1 python -m pytest benchmarks/test_bench_app.py --benchmark-only \\
        --no-extensions -k "floor or bare"

The first gives the floor, bare(c) and the peers (and bare with the pure matcher but the
compiled header codecs); the second, all pure, gives bare(py). Every ratio is to the
floor measured in the same run as the figure. Other arguments are passed to both pytest
runs, e.g. `--benchmark-max-time=0.2`.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from _tables import HERE, run_module, seconds_per_call, table

MODULE = HERE / "test_bench_app.py"
PEERS = ("starlette", "blacksheep", "fastapi", "falcon", "litestar")
COLUMNS = ("bare(c)", "bare(py)", *PEERS)
MIXED = "bare(py matcher, c headers)"

Seconds = dict[str, dict[str, tuple[float, float]]]  # scenario -> column -> (time, floor)


def run_pytest(pure: bool, pytest_args: list[str]) -> dict[str, Any]:
    """Run the module with the current interpreter, all pure if `pure`; its JSON results."""
    env = dict(os.environ)
    if pure:
        pytest_args = [*pytest_args, "--no-extensions", "-k", "floor or bare"]
        env["BARE_NO_EXTENSIONS"] = "1"
    else:
        env.pop("BARE_NO_EXTENSIONS", None)
    return run_module(MODULE, pytest_args, env)


def column(info: dict[str, Any]) -> str | None:
    """The report column of one benchmark, from its extra_info."""
    app = info["app"]
    if app != "bare":
        return str(app)
    impl, headers = info.get("impl"), info.get("headers")
    if impl == headers:
        return f"bare({impl})"
    return MIXED if impl == "py" else None


def per_request(runs: list[dict[str, Any]]) -> Seconds:
    """Median seconds per request by scenario and column, with the same run's floor.

    A column measured in several runs keeps its first run's figure (bare(py) comes from
    the all-pure run only, where bare's matcher and headers agree).
    """
    times: Seconds = {}
    for results in runs:
        run: dict[str, dict[str, float]] = {}
        for bench in results["benchmarks"]:
            info = bench["extra_info"]
            name = column(info)
            if name is not None:
                seconds = seconds_per_call(bench)
                run.setdefault(info["scenario"], {})[name] = seconds
        for scenario, by_column in run.items():
            floor = by_column.get("floor")
            if floor is None:
                continue
            for name, seconds in by_column.items():
                times.setdefault(scenario, {}).setdefault(name, (seconds, floor))
    return times


def duration(seconds: float) -> str:
    return f"{seconds * 1e6:.2f} us"


def cell(measured: tuple[float, float] | None) -> str:
    """`time (ratio to the floor)`, or "-" if not measured."""
    if measured is None:
        return "-"
    seconds, floor = measured
    return f"{duration(seconds)} ({seconds / floor:.1f}x)"


def setting(runs: list[dict[str, Any]]) -> str:
    """How the requests were sent, from the first benchmark's extra_info."""
    info = runs[0]["benchmarks"][0]["extra_info"]
    return f"{info['calls']} requests per round, one after the other, on {info['loop']}"


def report(times: Seconds, how: str = "") -> str:
    """The table of every scenario, then bare(c) against the best peer and bare's variants."""
    rows = []
    for scenario, by_column in times.items():
        floor = by_column["floor"][0]
        cells = [duration(floor), *(cell(by_column.get(name)) for name in COLUMNS)]
        peers = [(by_column[p][0], p) for p in PEERS if p in by_column]
        bare = by_column.get("bare(c)")
        if peers and bare is not None:
            best, name = min(peers)
            cells.append(f"{bare[0] / best:.2f}x ({name})")
        else:
            cells.append("-")
        rows.append([scenario, *cells])
    lines = [
        "Median time per request (ratio to the floor of the same run)"
        + (f"; {how}." if how else "."),
        "",
        *table(["scenario", "floor", *COLUMNS, "bare(c) / best peer"], rows),
    ]
    variants = ("bare(c)", MIXED, "bare(py)")
    if any(MIXED in by_column for by_column in times.values()):
        rows = []
        for scenario, by_column in times.items():
            compiled = by_column.get("bare(c)")
            cells = []
            for name in variants:
                measured = by_column.get(name)
                if measured is None:
                    cells.append("-")
                elif compiled is None:
                    cells.append(duration(measured[0]))
                else:
                    cells.append(f"{duration(measured[0])} ({measured[0] / compiled[0]:.2f}x)")
            rows.append([scenario, *cells])
        lines += [
            "",
            "bare's implementations, time per request (ratio to bare(c)):",
            "",
            *table(["scenario", *variants], rows),
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="*", type=Path, help="--benchmark-json files")
    args, pytest_args = parser.parse_known_args()
    if args.results:
        runs = [json.loads(path.read_text()) for path in args.results]
    else:
        runs = [run_pytest(pure, pytest_args) for pure in (False, True)]
    print(report(per_request(runs), setting(runs)))


if __name__ == "__main__":
    main()
