"""The in-process measurement: what one request costs each contestant, server left out.

    .venv/bin/python -m benchmarks.compare.inprocess [--rounds 3] [--quick]
        [--contestants raw bare(c) ...] [--scenarios hello api ...]

Each contestant is measured in a fresh subprocess (so `BARE_NO_EXTENSIONS=1` takes
effect for the pure path, and no framework's imports weigh on another), pinned to CPU 1
with `taskset -c 1` when there is one, and the contestants take turns over `--rounds`
rounds, in a different order each round, so a slow minute of the machine falls on all of
them. In its subprocess a contestant's app is started (lifespan), checked on every
scenario it serves (`scenarios.check_in_process`, the 401 probe included), then, on one
uvloop loop, each scenario is sent `n` times in a row inside one coroutine, `n` chosen
so that one batch takes about `--batch-ms`; a batch is timed as a whole, after a
warm-up batch, `--repeats` times. Each request gets a fresh scope (a shallow copy of a
template with six browser headers and the scenario's own), a `receive` that gives the
body once and `http.disconnect` after, and a `send` that records the messages; the
first answer of each batch is checked in full (`Scenario.check`: the uploaded file
compared byte for byte) and every other one against it (status and body, a tuple
compare). A round's figure is the median of its batches; the result is the median of the
rounds, in nanoseconds per request, and its ratio to the floor (`raw`).

The clock is the process's CPU time (`time.process_time_ns`), the wall clock alongside
(`--clock wall` compares that instead): nothing in a batch waits (the upload's write to
tmpfs is system time, counted), so on an idle machine both agree, while on a shared one
the wall clock also counts the time other processes held the CPU.

Output: a Markdown table on stdout, the issue's targets judged under it, and JSON in
`benchmarks/results/inprocess.json` (`--json` to change it).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

from benchmarks._machine import machine, versions
from benchmarks.compare.scenarios import (
    CONTESTANTS,
    SCENARIOS,
    Contestant,
    Scenario,
    check_in_process,
    contestant,
    scope_for,
)

__all__ = ["Timing", "main", "measure", "run_worker"]

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "inprocess.json"
FLOOR = next(c for c in CONTESTANTS if c.floor)
PEERS = ("starlette", "fastapi", "blacksheep", "falcon", "litestar")
VERSIONS = (
    *("bare", "starlette", "fastapi", "pydantic", "blacksheep", "falcon", "litestar"),
    *("msgspec", "orjson", "python-multipart", "multipart", "uvloop"),
)
WORKER_LIMIT = 600  # seconds: a worker that takes longer is stopped and the run fails

Message = dict[str, Any]


class Timing:
    """Sends one scenario to a started app in batches, each answer checked (module doc)."""

    def __init__(self, app: Any, probe: Scenario, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.probe = probe
        self.loop = loop
        self.template = scope_for(probe)
        self.header_count = len(self.template["headers"])
        self.status = probe.expected_status

    async def _batch(self, n: int) -> None:
        from benchmarks._driver import outcome

        app = self.app
        template = self.template
        copy = template.copy
        request_body = self.probe.body
        events: list[Message] = []
        append = events.append
        clear = events.clear
        pending = [False]
        disconnect = {"type": "http.disconnect"}

        async def receive() -> Message:
            if pending[0]:
                pending[0] = False
                return {"type": "http.request", "body": request_body, "more_body": False}
            return disconnect

        async def send(message: Message) -> None:
            append(message)

        status = self.status
        # The first answer of the batch is checked in full, the others against it.
        pending[0] = True
        await app(copy(), receive, send)
        got_status, expected, headers = outcome(events)
        self.probe.check(got_status, headers, expected)
        clear()
        for _ in range(n - 1):
            pending[0] = True
            await app(copy(), receive, send)
            if (
                len(events) != 2
                or events[0].get("status") != status
                or events[1].get("body") != expected
            ):
                got_status, got_body, _ = outcome(events)
                assert (got_status, got_body) == (status, expected), (
                    f"{self.probe.name}: answered {got_status} {got_body[:200]!r} after "
                    f"{status} {expected[:200]!r}"
                )
            clear()
        assert len(template["headers"]) == self.header_count, "the app changed the scope"

    def batch(self, n: int) -> tuple[int, int]:
        """Send `n` requests; the nanoseconds they took, of CPU and of the wall clock."""
        gc.collect()
        wall = time.perf_counter_ns()
        cpu = time.process_time_ns()
        self.loop.run_until_complete(self._batch(n))
        return time.process_time_ns() - cpu, time.perf_counter_ns() - wall

    def size(self, batch_ns: int) -> int:
        """How many requests make a batch of about `batch_ns` of CPU."""
        n = 20
        while True:
            took = self.batch(n)[0]
            if took * 4 >= batch_ns or n >= 1_000_000:
                return max(20, min(1_000_000, round(n * batch_ns / max(took, 1))))
            n *= 4


def measure(
    app: Any, probe: Scenario, loop: asyncio.AbstractEventLoop, repeats: int, batch_ns: int
) -> dict[str, Any]:
    """`n`, and the CPU and wall ns per request of each batch, for `probe` on a started app."""
    timing = Timing(app, probe, loop)
    n = timing.size(batch_ns)
    timing.batch(n)  # warm-up
    batches = [timing.batch(n) for _ in range(repeats)]
    return {
        "n": n,
        "cpu": [cpu / n for cpu, _ in batches],
        "wall": [wall / n for _, wall in batches],
    }


def _implementation(who: Contestant) -> dict[str, Any]:
    """Which of bare's modules are live; refuses a bare contestant on the wrong path."""
    if "BARE_NO_EXTENSIONS" not in who.env:
        return {}
    import bare
    from bare._speedups import implementations

    wanted = who.env["BARE_NO_EXTENSIONS"] != "1"
    if wanted != bare.COMPILED:
        raise SystemExit(
            f"{who.name}: bare.COMPILED is {bare.COMPILED}, the contestant wants "
            f"{'compiled' if wanted else 'pure'} modules (build them: make install)"
        )
    return {"compiled": bare.COMPILED, **implementations()}


def run_worker(
    names: Sequence[str], scenario_names: Sequence[str], repeats: int, batch_ms: float, check: bool
) -> dict[str, Any]:
    """In this process: check (and unless `check`, time) each named contestant."""
    from benchmarks._driver import Client, new_loop

    loop = new_loop()
    asyncio.set_event_loop(loop)
    out: dict[str, Any] = {}
    try:
        for name in names:
            who = contestant(name)
            info = _implementation(who)
            app = import_module(who.module).app
            client = Client(app, loop)
            client.start()
            check_in_process(app, who, loop)
            results: dict[str, Any] = {}
            if not check:
                for probe in SCENARIOS:
                    if probe.name in who.scenarios and probe.name in scenario_names:
                        batch_ns = int(batch_ms * 1e6)
                        results[probe.name] = measure(app, probe, loop, repeats, batch_ns)
            client.stop()
            out[name] = {"implementation": info, "loop": type(loop).__module__, "results": results}
    finally:
        loop.close()
    return out


# -- the parent: subprocesses, rounds, the table ---------------------------------------


def _pin() -> list[str]:
    """`taskset -c 1` when taskset exists and CPU 1 is ours; else nothing."""
    affinity = getattr(os, "sched_getaffinity", None)
    if (
        shutil.which("taskset")
        and affinity is not None
        and 1 in affinity(0)
        and len(affinity(0)) > 1
    ):
        return ["taskset", "-c", "1"]
    return []


def _spawn(who: Contestant, args: argparse.Namespace, uploads: str) -> dict[str, Any]:
    """Run `who` in a worker process (uploads written under `uploads`); its answer."""
    command = [
        *_pin(),
        sys.executable,
        "-m",
        "benchmarks.compare.inprocess",
        "--worker",
        who.name,
        "--repeats",
        str(args.repeats),
        "--batch-ms",
        str(args.batch_ms),
        "--scenarios",
        *args.scenarios,
    ]
    env = {**os.environ, **who.env, "PYTHONPATH": str(ROOT), "BENCH_UPLOAD_DIR": uploads}
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=WORKER_LIMIT
    )
    if done.returncode != 0:
        raise SystemExit(f"{who.name}: the worker failed ({done.returncode}):\n{done.stderr}")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer[who.name]  # type: ignore[no-any-return]


def _ratio_cell(ns: float, floor: float | None) -> str:
    if floor is None:
        return f"{ns:,.0f}"
    return f"{ns:,.0f} ({ns / floor:.2f}x)"


def table(results: dict[str, dict[str, float]], scenario_names: Sequence[str]) -> str:
    """Markdown: a row per contestant, a column per scenario, ns per request (x floor)."""
    floor = results.get(FLOOR.name, {})
    lines = [
        "| contestant | " + " | ".join(scenario_names) + " |",
        "|---|" + "---:|" * len(scenario_names),
    ]
    for name, figures in results.items():
        cells = [
            _ratio_cell(figures[s], floor.get(s)) if s in figures else "-" for s in scenario_names
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(results: dict[str, dict[str, float]]) -> list[tuple[str, bool, str]]:
    """The in-process targets of issue 11, each `(what, met, figures)`, where measurable."""
    judged: list[tuple[str, bool, str]] = []
    floor = results.get(FLOOR.name, {})
    bare_c = results.get("bare(c)", {})
    bare_py = results.get("bare(py)", {})

    def ratio(figures: dict[str, float], s: str) -> float | None:
        return figures[s] / floor[s] if s in figures and s in floor else None

    for s, limit in (("hello", 2.0), ("routes", 1.3), ("404", 1.3)):
        r = ratio(bare_c, s)
        if r is not None:
            judged.append((f"bare(c) {s} within {limit}x the floor", r <= limit, f"{r:.2f}x"))
    for name, figures in (("bare(c)", bare_c), ("bare typed(c)", results.get("bare typed(c)", {}))):
        for s, ns in figures.items():
            peers = {p: results[p][s] for p in PEERS if s in results.get(p, {})}
            if peers:
                best = min(peers, key=peers.__getitem__)
                gain = peers[best] / ns
                what = f"{name} {s} 1.5x cheaper than the fastest peer"
                judged.append((what, gain >= 1.5, f"{gain:.2f}x vs {best}"))
    for s, ns in bare_py.items():
        other = results.get("starlette", {}).get(s)
        if other is not None:
            judged.append(
                (f"bare(py) {s} ahead of starlette", ns < other, f"{other / ns:.2f}x cheaper")
            )
    return judged


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every contestant")
    parser.add_argument("--repeats", type=int, default=7, help="timed batches per round")
    parser.add_argument("--batch-ms", type=float, default=25.0, help="about this long a batch")
    parser.add_argument("--quick", action="store_true", help="1 round, 3 batches of ~10 ms")
    parser.add_argument("--contestants", nargs="+", default=[c.name for c in CONTESTANTS])
    parser.add_argument("--scenarios", nargs="+", default=[s.name for s in SCENARIOS])
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="what is compared: the process's CPU time (default) or the wall clock",
    )
    parser.add_argument("--json", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--check-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in args.contestants:
        contestant(name)  # KeyError naming the known ones
    known = {s.name for s in SCENARIOS}
    unknown = set(args.scenarios) - known
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; known: {sorted(known)}")
    if args.quick:
        args.rounds, args.repeats, args.batch_ms = 1, 3, 10.0
    if min(args.rounds, args.repeats) < 1 or args.batch_ms <= 0:
        parser.error("--rounds and --repeats take 1 or more, --batch-ms more than 0")

    if args.worker:
        answer = run_worker(
            args.worker, args.scenarios, args.repeats, args.batch_ms, args.check_only
        )
        print(json.dumps(answer))
        return 0

    chosen = [contestant(name) for name in args.contestants]
    with tempfile.TemporaryDirectory(
        prefix="bare-compare-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None
    ) as uploads:
        rounds: dict[str, dict[str, list[float]]] = {c.name: {} for c in chosen}
        walls: dict[str, dict[str, list[float]]] = {c.name: {} for c in chosen}
        details: dict[str, Any] = {}
        started = time.monotonic()
        for index in range(args.rounds):
            shift = index % len(chosen)
            order = chosen[shift:] + chosen[:shift]
            if index % 2:
                order.reverse()
            for who in order:
                answer = _spawn(who, args, uploads)
                details[who.name] = {k: v for k, v in answer.items() if k != "results"}
                for s, figures in answer["results"].items():
                    median = statistics.median(figures[args.clock])
                    rounds[who.name].setdefault(s, []).append(median)
                    walls[who.name].setdefault(s, []).append(statistics.median(figures["wall"]))
                    details[who.name].setdefault("n", {})[s] = figures["n"]
            print(f"round {index + 1}/{args.rounds} done", file=sys.stderr)
        elapsed = time.monotonic() - started

    scenario_names = [s for s in args.scenarios if any(s in r for r in rounds.values())]
    results = {
        name: {s: statistics.median(r) for s, r in per.items()} for name, per in rounds.items()
    }
    floor = results.get(FLOOR.name, {})
    print(table(results, scenario_names))
    judged = targets(results)
    if judged:
        print()
        for what, met, figures in judged:
            print(f"- {'met' if met else 'MISSED'}: {what} ({figures})")
    report = {
        "command": " ".join(["python -m benchmarks.compare.inprocess", *(argv or sys.argv[1:])]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "versions": versions(VERSIONS),
        "pinned": " ".join(_pin()) or None,
        "rounds": args.rounds,
        "repeats": args.repeats,
        "batch_ms": args.batch_ms,
        "seconds": round(elapsed, 1),
        "clock": args.clock,
        "unit": f"ns of {args.clock} time per request (median of the rounds' medians)",
        "results": {
            name: {
                s: {
                    "ns": round(ns, 1),
                    "ratio": round(ns / floor[s], 3) if s in floor else None,
                    "rounds": [round(x, 1) for x in rounds[name][s]],
                    "wall_rounds": [round(x, 1) for x in walls[name][s]],
                }
                for s, ns in per.items()
            }
            for name, per in results.items()
        },
        "contestants": details,
        "targets": [{"target": w, "met": m, "figures": f} for w, m, f in judged],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nJSON: {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
