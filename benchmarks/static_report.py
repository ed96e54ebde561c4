"""Print what a static file costs, as Markdown: the median time per request of every app
of `test_bench_static.py` on every case, bare's ratio to Starlette in the same run, and
the thread calls each app makes per request.

    python benchmarks/static_report.py                 # run the module, then report
    python benchmarks/static_report.py results.json    # report a --benchmark-json file

Other arguments are passed to pytest, e.g. `--benchmark-max-time=0.5`.
"""

from __future__ import annotations

import sys
from typing import Any

from _tables import HERE, load_or_run, seconds_per_call, table

MODULE = HERE / "test_bench_static.py"
APPS = ["bare-c", "bare-py", "starlette"]
CASES = {
    "small": "GET 1 KiB (200)",
    "large": "GET 1 MiB (200)",
    "small-304": "GET 1 KiB, If-None-Match (304)",
    "large-304": "GET 1 MiB, If-None-Match (304)",
    "large-range": "GET 1 MiB, Range bytes=0-1023 (206)",
}


def report(results: dict[str, Any]) -> str:
    times: dict[tuple[str, str], float] = {}
    threads: dict[tuple[str, str], int] = {}
    for bench in results["benchmarks"]:
        info = bench["extra_info"]
        times[info["case"], info["app"]] = seconds_per_call(bench)
        if "thread_calls" in info:
            threads[info["case"], info["app"]] = info["thread_calls"]
    apps = [app for app in APPS if any(key[1] == app for key in times)]
    rivals = [app for app in apps if app != "starlette"] if "starlette" in apps else []
    header = ["case", *(f"{app}, µs" for app in apps), *(f"{app} / starlette" for app in rivals)]
    rows = []
    for case, label in CASES.items():
        row = [label]
        row += [f"{times[case, app] * 1e6:.1f}" if (case, app) in times else "" for app in apps]
        starlette = times.get((case, "starlette"))
        for app in rivals:
            mine = times.get((case, app))
            row.append(f"{mine / starlette:.2f}" if mine and starlette else "")
        rows.append(row)
    lines = table(header, rows)
    if threads:
        lines += ["", "Thread calls per request:", ""]
        rows = [
            [label, *(str(threads.get((case, app), "")) for app in apps)]
            for case, label in CASES.items()
        ]
        lines += table(["case", *apps], rows)
    return "\n".join(lines)


def main() -> None:
    print(report(load_or_run(MODULE, sys.argv[1:])))


if __name__ == "__main__":
    main()
