"""Print what a static file costs, as Markdown: the median time per request of every app
of `test_bench_static.py` on every case, and bare's ratio to Starlette in the same run.

    python benchmarks/static_report.py                 # run the module, then report
    python benchmarks/static_report.py results.json    # report a --benchmark-json file

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
MODULE = HERE / "test_bench_static.py"
APPS = ["bare-c", "bare-py", "starlette"]
CASES = {
    "small": "GET 1 KiB (200)",
    "large": "GET 1 MiB (200)",
    "small-304": "GET 1 KiB, If-None-Match (304)",
    "large-304": "GET 1 MiB, If-None-Match (304)",
    "large-range": "GET 1 MiB, Range bytes=0-1023 (206)",
}


def run(out: Path, pytest_args: list[str]) -> dict[str, Any]:
    command = [sys.executable, "-m", "pytest", str(MODULE), "--benchmark-only", "-q"]
    command += [f"--benchmark-json={out}", *pytest_args]
    subprocess.run(command, cwd=HERE.parent, check=True, stdout=sys.stderr)
    results: dict[str, Any] = json.loads(out.read_text())
    return results


def report(results: dict[str, Any]) -> str:
    times: dict[tuple[str, str], float] = {}
    for bench in results["benchmarks"]:
        info = bench["extra_info"]
        times[info["case"], info["app"]] = bench["stats"]["median"] / info["calls"]
    apps = [app for app in APPS if any(key[1] == app for key in times)]
    rivals = [app for app in apps if app != "starlette"] if "starlette" in apps else []
    columns = [f"{app}, µs" for app in apps] + [f"{app} / starlette" for app in rivals]
    lines = ["| case | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for case, label in CASES.items():
        row = [f"{times[case, app] * 1e6:.1f}" if (case, app) in times else "" for app in apps]
        starlette = times.get((case, "starlette"))
        for app in rivals:
            mine = times.get((case, app))
            row.append(f"{mine / starlette:.2f}" if mine and starlette else "")
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> None:
    args = sys.argv[1:]
    if args and args[0].endswith(".json"):
        results = json.loads(Path(args[0]).read_text())
    else:
        with tempfile.TemporaryDirectory() as tmp:
            results = run(Path(tmp) / "static.json", args)
    print(report(results))


if __name__ == "__main__":
    main()
