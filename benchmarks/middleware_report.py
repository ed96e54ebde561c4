"""Print what middleware cost, as Markdown: median time per request of each app of
`test_bench_middleware.py`, and what each middleware adds to bare, as a share of the raw
ASGI floor measured in the same run.

    python benchmarks/middleware_report.py                 # run the module, then report
    python benchmarks/middleware_report.py results.json    # report a --benchmark-json file

Other arguments are passed to pytest, e.g. `--benchmark-max-time=0.5`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MODULE = HERE / "test_bench_middleware.py"


def run(out: Path, pytest_args: list[str]) -> dict[str, Any]:
    command = [sys.executable, "-m", "pytest", str(MODULE), "--benchmark-only", "-q"]
    command += [f"--benchmark-json={out}", *pytest_args]
    subprocess.run(command, cwd=HERE.parent, check=True, stdout=sys.stderr)
    results: dict[str, Any] = json.loads(out.read_text())
    return results


def report(results: dict[str, Any]) -> str:
    times = {
        bench["extra_info"]["app"]: bench["stats"]["median"] / bench["extra_info"]["calls"]
        for bench in results["benchmarks"]
        if not bench["extra_info"]["app"].startswith("compression-")
    }
    floor, bare = times["floor"], times["bare"]
    lines = [
        "| app | µs per request | x floor | added (to bare, or to the floor), µs "
        "| added, share of the floor |",
        "|---|---:|---:|---:|---:|",
    ]
    for app, seconds in times.items():
        added = ""
        if app.startswith(("bare+", "floor+")):
            extra = seconds - (bare if app.startswith("bare+") else floor)
            added = f"{extra * 1e6:+.2f} | {extra / floor:+.0%}"
        elif app == "starlette+stack":
            extra = seconds - times.get("starlette", seconds)
            added = f"{extra * 1e6:+.2f} (to starlette) | {extra / floor:+.0%}"
        else:
            added = " | "
        lines.append(f"| {app} | {seconds * 1e6:.2f} | {seconds / floor:.2f} | {added} |")
    if "starlette+stack" in times:
        ratio = times["bare+stack"] / times["starlette+stack"]
        lines.append("")
        lines.append(f"bare's realistic stack costs {ratio:.2f} x Starlette's equivalent stack.")
    lines += ["", "| 100 KB JSON | ms per response | MB/s |", "|---|---:|---:|"]
    for bench in results["benchmarks"]:
        info = bench["extra_info"]
        if info["app"].startswith("compression-"):
            seconds = bench["stats"]["median"] / info["calls"]
            megabytes = info["size"] / 1e6
            lines.append(f"| {info['app']} | {seconds * 1e3:.3f} | {megabytes / seconds:.0f} |")
    return "\n".join(lines)


def main() -> None:
    args = sys.argv[1:]
    if args and args[0].endswith(".json"):
        results = json.loads(Path(args[0]).read_text())
    else:
        with tempfile.TemporaryDirectory() as tmp:
            results = run(Path(tmp) / "middleware.json", args)
    print(report(results))


if __name__ == "__main__":
    main()
