"""Print what middleware cost, as Markdown: median time per request of each app of
`test_bench_middleware.py`, and what each middleware adds to bare, as a share of the raw
ASGI floor measured in the same run.

    python benchmarks/middleware_report.py                 # run the module, then report
    python benchmarks/middleware_report.py results.json    # report a --benchmark-json file

Other arguments are passed to pytest, e.g. `--benchmark-max-time=0.5`.
"""

from __future__ import annotations

import sys
from typing import Any

from _tables import HERE, load_or_run, seconds_per_call, table

MODULE = HERE / "test_bench_middleware.py"


def report(results: dict[str, Any]) -> str:
    times = {
        bench["extra_info"]["app"]: seconds_per_call(bench)
        for bench in results["benchmarks"]
        if not bench["extra_info"]["app"].startswith("compression-")
    }
    floor, bare = times["floor"], times["bare"]
    rows = []
    for app, seconds in times.items():
        if app.startswith(("bare+", "floor+")):
            extra = seconds - (bare if app.startswith("bare+") else floor)
            added = [f"{extra * 1e6:+.2f}", f"{extra / floor:+.0%}"]
        elif app == "starlette+stack":
            extra = seconds - times.get("starlette", seconds)
            added = [f"{extra * 1e6:+.2f} (to starlette)", f"{extra / floor:+.0%}"]
        else:
            added = ["", ""]
        rows.append([app, f"{seconds * 1e6:.2f}", f"{seconds / floor:.2f}", *added])
    header = [
        "app",
        "µs per request",
        "x floor",
        "added (to bare, or to the floor), µs",
        "added, share of the floor",
    ]
    lines = table(header, rows)
    if "starlette+stack" in times:
        ratio = times["bare+stack"] / times["starlette+stack"]
        lines.append("")
        lines.append(f"bare's realistic stack costs {ratio:.2f} x Starlette's equivalent stack.")
    rows = []
    for bench in results["benchmarks"]:
        info = bench["extra_info"]
        if info["app"].startswith("compression-"):
            seconds = seconds_per_call(bench)
            megabytes = info["size"] / 1e6
            rows.append([info["app"], f"{seconds * 1e3:.3f}", f"{megabytes / seconds:.0f}"])
    lines += ["", *table(["100 KB JSON", "ms per response", "MB/s"], rows)]
    return "\n".join(lines)


def main() -> None:
    print(report(load_or_run(MODULE, sys.argv[1:])))


if __name__ == "__main__":
    main()
