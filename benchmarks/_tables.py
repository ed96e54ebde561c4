"""What the benchmark reports share: running a benchmark module for its results, and
writing Markdown tables.

    results = run_module(HERE / "test_bench_static.py", pytest_args)
    print("\\n".join(table(["case", "µs"], [["small", "12.3"]])))
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run_module(
    module: Path, pytest_args: Sequence[str], env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run the benchmarks of `module` with the current interpreter (`--benchmark-only`,
    plus `pytest_args`); their `--benchmark-json` results. pytest's own output goes to
    stderr, leaving stdout to the tables."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.json"
        command = [sys.executable, "-m", "pytest", str(module), "--benchmark-only", "-q"]
        command += [f"--benchmark-json={out}", *pytest_args]
        subprocess.run(command, cwd=HERE.parent, env=env, check=True, stdout=sys.stderr)
        results: dict[str, Any] = json.loads(out.read_text())
        return results


def load_or_run(module: Path, args: Sequence[str]) -> dict[str, Any]:
    """The results of a report's command line: a `--benchmark-json` file given as the
    first argument, or else those of running `module` with `args` passed to pytest."""
    if args and args[0].endswith(".json"):
        results: dict[str, Any] = json.loads(Path(args[0]).read_text())
        return results
    return run_module(module, args)


def seconds_per_call(bench: dict[str, Any]) -> float:
    """The median seconds of one call of a benchmark whose rounds make
    `extra_info["calls"]` calls."""
    median: float = bench["stats"]["median"]
    calls: int = bench["extra_info"]["calls"]
    return median / calls


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """The lines of a Markdown table: the first column left-aligned (labels), the
    others right-aligned (figures)."""
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines
