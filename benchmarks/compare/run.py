"""The whole comparison suite, as `make bench-compare` runs it: in process, over HTTP,
the charts, and a summary.

    .venv/bin/python -m benchmarks.compare.run             # the full run (about 20 min)
    .venv/bin/python -m benchmarks.compare.run --quick     # one short round of each

1. `inprocess`: ns per request of every contestant, `benchmarks/results/inprocess.json`;
2. `http_bench`: requests/s and latency under uvicorn and wrk, `benchmarks/results/http.*`;
3. `charts`: the PNG bar charts, under `benchmarks/results/` and `docs/assets/benchmarks/`;
4. `benchmarks/results/summary.md`: the tables, the charts, the machine, the versions of
   every framework and of the server stack, and the exact command.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.compare import charts, http_bench, inprocess  # noqa: E402
from benchmarks.compare.scenarios import SCENARIOS  # noqa: E402

__all__ = ["main", "summary"]

RESULTS = ROOT / "benchmarks" / "results"
SCENARIO_NAMES = [s.name for s in SCENARIOS]


def _step(name: str, command: list[str]) -> None:
    """Run one step with this interpreter from the repository root (its tables go to
    stdout, its progress to stderr); SystemExit when it fails."""
    print(f"== {name}: {shlex.join(command)}", file=sys.stderr, flush=True)
    done = subprocess.run(command, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed ({done.returncode}): {shlex.join(command)}")


def _machine_lines(machine: dict[str, Any]) -> list[str]:
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
    return [
        f"- CPU: {machine['cpu']}, {machine['cpus']} cores",
        f"- system: {machine['system']}, {machine['python']}",
        f"- versions: {versions}",
    ]


def _inprocess_lines(document: dict[str, Any]) -> list[str]:
    """inprocess.json as inprocess.py prints it: the table, then the targets judged."""
    results = {
        name: {s: figures["ns"] for s, figures in per.items()}
        for name, per in document["results"].items()
    }
    names = [s for s in SCENARIO_NAMES if any(s in per for per in results.values())]
    lines = [
        f"`{document['command']}` ({document['date']}), ns per request (multiple of the floor's):",
        "",
        inprocess.table(results, names),
    ]
    if document.get("targets"):
        lines.append("")
        lines += [
            f"- {'met' if t['met'] else 'MISSED'}: {t['target']} ({t['figures']})"
            for t in document["targets"]
        ]
    return lines


def summary(command: str, seconds: float | None, results: Path = RESULTS) -> str:
    """The Markdown summary of the results under `results` (each part says which command
    measured it, and when)."""
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if seconds is None:
        what = f"Written by `{command}` ({now}) from the results already there"
    else:
        what = f"Command: `{command}` ({now}, {seconds / 60:.1f} min)"
    lines = [
        "# The comparison suite: results",
        "",
        f"{what}; `make bench-compare` runs `python -m benchmarks.compare.run` after "
        "installing wrk. Each part below names the command that measured it.",
        "",
        "## Machine",
        "",
        *_machine_lines(http_bench.machine()),
    ]
    http = results / "http.json"
    if http.exists():
        document = json.loads(http.read_text())
        lines += [
            "",
            "## Over real HTTP",
            "",
            f"`{document['command']}` ({document['date']}).",
            "",
            (results / "http.md").read_text().split("\n\n", 1)[1].rstrip(),
        ]
        for name, text in (
            ("http-ratio.png", "requests/s over HTTP, share of the floor's"),
            ("http-cpu-ratio.png", "server CPU per request over HTTP, the floor's over each"),
        ):
            if (results / name).exists():
                lines += ["", f"![{text}]({name})"]
    measured = results / "inprocess.json"
    if measured.exists():
        lines += ["", "## In process", "", *_inprocess_lines(json.loads(measured.read_text()))]
        if (results / "inprocess-ratio.png").exists():
            lines += ["", "![time per request in process, multiple of the floor's]"]
            lines[-1] += "(inprocess-ratio.png)"
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="one short round of each")
    parser.add_argument("--rounds", type=int, help="rounds of each measurement")
    parser.add_argument("--duration", type=int, help="seconds per timed wrk run")
    parser.add_argument("--contestants", nargs="+", help="names (the floor is always in)")
    parser.add_argument("--scenarios", nargs="+", help="names")
    parser.add_argument("--skip-inprocess", action="store_true", help="over HTTP only")
    parser.add_argument("--skip-http", action="store_true", help="in process only")
    # with both: charts and summary of the results already there
    args = parser.parse_args(argv)
    common = ["--quick"] if args.quick else []
    if args.rounds:
        common += ["--rounds", str(args.rounds)]
    if args.scenarios:
        common += ["--scenarios", *args.scenarios]
    if args.contestants:
        floor = http_bench.FLOOR  # measured in the same run, always
        common += ["--contestants", floor, *(c for c in args.contestants if c != floor)]
    started = time.monotonic()
    if not args.skip_inprocess:
        _step("in process", [sys.executable, "-m", "benchmarks.compare.inprocess", *common])
    if not args.skip_http:
        http = [sys.executable, "-m", "benchmarks.compare.http_bench", *common]
        if args.duration:
            http += ["--duration", str(args.duration)]
        _step("over HTTP", http)
    for path in charts.write_charts():
        print(f"chart: {path.relative_to(ROOT)}", file=sys.stderr)
    command = shlex.join(["python", "-m", "benchmarks.compare.run", *(argv or sys.argv[1:])])
    measured = not (args.skip_inprocess and args.skip_http)
    text = summary(command, time.monotonic() - started if measured else None)
    (RESULTS / "summary.md").write_text(text)
    print(f"summary: {(RESULTS / 'summary.md').relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
