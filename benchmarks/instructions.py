"""Instructions per request, counted by callgrind: a figure that stays put on a busy machine.

    python benchmarks/instructions.py                 # floor, bare(c) and bare(py): a table
    python benchmarks/instructions.py --json out.json # and the figures as JSON

Wall-clock medians (`app_report.py`) swing with whatever else the machine runs;
instruction counts do not. Each app and scenario of `test_bench_app.py` runs twice under
`valgrind --tool=callgrind`, once with FEW and once with MANY requests (the same driver,
loop and checks as the benchmarks); the difference, divided by MANY - FEW, is the cost
of one request with start-up, imports and app building cancelled out. bare(py) runs with
BARE_NO_EXTENSIONS=1, all pure. Run it from a checkout whose bare is importable; to
compare two versions of bare, run it twice with PYTHONPATH pointing at each `src/`.

Instructions are not time (a cache miss costs more than an add), so they complement the
medians, they do not replace them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCENARIOS = ("plaintext", "json", "one-param", "two-param", "404")
APPS = ("floor", "bare(c)", "bare(py)")
FEW, MANY = 100, 1100
_COLLECTED = re.compile(rb"Collected : (\d+)")


def child(app_name: str, scenario_name: str, count: int) -> None:
    """Serve `count` requests of a scenario to an app, as the benchmarks do."""
    sys.path.insert(0, str(HERE))
    import test_bench_app as bench
    from _driver import Client, new_loop
    from apps import bare_app, raw

    scenario = next(s for s in bench._scenarios() if s.name == scenario_name)
    if app_name == "floor":
        app = raw.make_app()
    else:
        from bare._speedups import router_impl

        app = bare_app.make_app(router_impl.Matcher)
    client = Client(app, new_loop())
    client.start()
    requests = [call for round_ in scenario.rounds(True) for call in round_][:count]
    client.run(requests)
    client.stop()


def count_instructions(app_name: str, scenario: str, requests: int) -> int:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"  # the same dict and set layouts in every run
    env.pop("BARE_NO_EXTENSIONS", None)
    if app_name == "bare(py)":
        env["BARE_NO_EXTENSIONS"] = "1"
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        app_name,
        scenario,
        str(requests),
    ]
    result = subprocess.run(command, env=env, capture_output=True, check=True)
    match = _COLLECTED.search(result.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{result.stderr!r}")
    return int(match.group(1))


def per_request(app_name: str, scenario: str) -> float:
    few = count_instructions(app_name, scenario, FEW)
    many = count_instructions(app_name, scenario, MANY)
    return (many - few) / (MANY - FEW)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--apps", nargs="+", choices=APPS, default=list(APPS), help="measure only these"
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    apps = ["floor", *(a for a in args.apps if a != "floor")]
    figures = {s: {a: per_request(a, s) for a in apps} for s in SCENARIOS}
    print("Instructions per request (callgrind), and the ratio to the floor:\n")
    print("| scenario | " + " | ".join(apps) + " |")
    print("| --- |" + " ---: |" * len(apps))
    for scenario, row in figures.items():
        floor = row["floor"]
        cells = [f"{row[a]:,.0f} ({row[a] / floor:.2f}x)" for a in apps]
        print(f"| {scenario} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
