"""The comparison over real HTTP: every contestant's app under uvicorn, loaded by wrk.

    .venv/bin/python -m benchmarks.compare.http_bench               # the full run
    .venv/bin/python -m benchmarks.compare.http_bench --quick       # one short round
    .venv/bin/python -m benchmarks.compare.http_bench --scenarios hello api --rounds 2
    .venv/bin/python -m benchmarks.compare.http_bench --contestants "bare(c)" starlette

Each app runs under `uvicorn --loop uvloop --http httptools --workers 1 --no-access-log`
on 127.0.0.1 at a free port, pinned to one core while wrk (Debian's wrk 4.1, a fixed
number of connections, one Lua script per scenario for its method, headers and body)
runs on another. Every round starts a fresh server for each contestant and checks each
of its scenarios over HTTP before anything is timed; then, scenario by scenario, the
contestants take turns (their order rotates from round to round): a warm-up, then the
timed run. A run whose answers wrk saw were not all of the expected kind (any non-2xx
where a 2xx is expected, anything but non-2xx on the 404) is refused, not reported.

Reported per scenario and contestant, as medians over the rounds: requests per second,
p50 and p99 latency, the server process's CPU time per request (its utime + stime from
/proc around the timed run, divided by the requests wrk counted), and the ratio of its
requests per second to the floor's (the raw ASGI app) in the same round.

Output: a Markdown table on stdout, and `benchmarks/results/http.json` and `http.md`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = ROOT / "benchmarks" / "results"
for _path in (ROOT, ROOT / "tests", ROOT / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from benchmarks.compare.scenarios import (  # noqa: E402
    CONTESTANTS,
    SCENARIOS,
    Contestant,
    Scenario,
    check_over_http,
)

from _machine import machine as described_machine  # noqa: E402
from _machine import versions as package_versions  # noqa: E402
from _tables import table  # noqa: E402
from servers import Server, free_port, uvicorn_command  # noqa: E402

__all__ = [
    "FLOOR",
    "INSTALL_WRK",
    "TARGETS",
    "Settings",
    "WrkResult",
    "lua_script",
    "machine",
    "main",
    "markdown",
    "measure",
    "parse_wrk",
    "serve",
    "summarize",
    "target_lines",
    "upload_directory",
    "versions",
    "write",
]

# The raw ASGI callable every contestant is compared with.
FLOOR = next(c.name for c in CONTESTANTS if c.floor)
# bare compiled, plain and typed: the contestants the targets are about.
BARE = ("bare(c)", "bare typed(c)")
INSTALL_WRK = (
    "wrk is not installed: `bash scripts/install-system-packages wrk:wrk` installs it "
    "(Debian's package; `make bench-compare` does that itself)"
)
# The targets over HTTP: bare compiled's share of the floor's requests/s.
TARGETS = {"hello": 0.95, "html": 0.95, "api": 0.85, "upload": 0.90}
# A server that takes longer than this to check, or a wrk run this much longer than
# asked, is a failure rather than a long wait.
CHECK_LIMIT = 60.0
WRK_SLACK = 30.0


@dataclass(frozen=True)
class Settings:
    """How the run is made; recorded with its results."""

    rounds: int = 3
    duration: int = 5  # seconds of each timed wrk run
    warmup: int = 1  # seconds of the untimed wrk run before it
    connections: int = 64
    threads: int = 1


QUICK = Settings(rounds=1, duration=2, warmup=1)


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run printed (`--latency`), latencies in milliseconds."""

    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int  # wrk's "Non-2xx or 3xx responses"
    socket_errors: dict[str, int]  # connect, read, write, timeout


_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_PERCENTILE = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)\s*$", re.MULTILINE)
_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses: (\d+)\s*$", re.MULTILINE)
_SOCKET_ERRORS = re.compile(
    r"^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)\s*$", re.MULTILINE
)


def parse_wrk(output: str) -> WrkResult:
    """The figures of wrk 4.1's report (run with `--latency`); ValueError when it lacks one."""
    percentiles = {
        int(p): float(value) * _TIME_UNITS[unit] for p, value, unit in _PERCENTILE.findall(output)
    }
    total = _TOTAL.search(output)
    rate = _RATE.search(output)
    missing = [f"{p}%" for p in (50, 75, 90, 99) if p not in percentiles]
    missing += [
        name for name, found in (("requests in", total), ("Requests/sec", rate)) if not found
    ]
    if missing or total is None or rate is None:
        raise ValueError(f"wrk's output lacks {', '.join(missing)} (run with --latency):\n{output}")
    non_2xx = _NON_2XX.search(output)
    errors = _SOCKET_ERRORS.search(output)
    counts = [int(n) for n in errors.groups()] if errors else [0, 0, 0, 0]
    return WrkResult(
        requests=int(total[1]),
        seconds=float(total[2]) * _TIME_UNITS[total[3]] / 1e3,
        requests_per_second=float(rate[1]),
        p50_ms=percentiles[50],
        p75_ms=percentiles[75],
        p90_ms=percentiles[90],
        p99_ms=percentiles[99],
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=dict(zip(("connect", "read", "write", "timeout"), counts)),
    )


def _lua_string(data: bytes) -> str:
    """`data` as a Lua string literal: printable ASCII as is, every other byte as `\\ddd`."""
    return (
        '"'
        + "".join(chr(b) if 32 <= b < 127 and b not in b'"\\' else f"\\{b:03d}" for b in data)
        + '"'
    )


def lua_script(scenario: Scenario) -> str:
    """The wrk script that sends `scenario`'s request (wrk adds Content-Length itself)."""
    lines = [
        f"wrk.method = {_lua_string(scenario.method.encode('ascii'))}",
        f"wrk.path = {_lua_string(scenario.target.encode('ascii'))}",
    ]
    for name, value in scenario.headers:
        if name.lower() != "content-length":
            lines.append(
                f"wrk.headers[{_lua_string(name.encode('latin-1'))}] = "
                f"{_lua_string(value.encode('latin-1'))}"
            )
    if scenario.body:
        lines.append(f"wrk.body = {_lua_string(scenario.body)}")
    return "\n".join(lines) + "\n"


def _cpus() -> tuple[str | None, str | None]:
    """The cores of the server and of wrk: the second and first this process may use, or
    no pinning where there are not two (or no taskset)."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(allowed) < 2 or shutil.which("taskset") is None:
        return None, None
    return str(allowed[1]), str(allowed[0])


def _pinned(cpu: str | None, command: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *command] if cpu is not None else command


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (every thread), in seconds, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # after the command name: state is field 3, utime 14 and stime 15 (1-based)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _upload_parent() -> str | None:
    """tmpfs, so the disk does not decide the upload's figures."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


@contextlib.contextmanager
def upload_directory() -> Iterator[str]:
    """A fresh BENCH_UPLOAD_DIR on tmpfs, set in this process's environment (the servers
    inherit it, and the upload check reads the written files from it); removed on exit."""
    previous = os.environ.get("BENCH_UPLOAD_DIR")
    path = tempfile.mkdtemp(prefix="bare-bench-upload-", dir=_upload_parent())
    os.environ["BENCH_UPLOAD_DIR"] = path
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop("BENCH_UPLOAD_DIR", None)
        else:
            os.environ["BENCH_UPLOAD_DIR"] = previous
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def serve(contestant: Contestant, cpu: str | None = None) -> Iterator[Server]:
    """`contestant`'s app under uvicorn (pinned to `cpu`) with its environment over this
    process's; stopped by its pid on exit."""
    # BARE_NO_EXTENSIONS reaches the server only when the contestant sets it.
    prefix = ["env", "-u", "BARE_NO_EXTENSIONS", *(f"{k}={v}" for k, v in contestant.env.items())]
    port = free_port()
    command = uvicorn_command(contestant.app, port, "--workers", "1", "--no-access-log")
    server = Server(_pinned(cpu, [*prefix, *command]), port, (ROOT, ROOT / "tests"))
    try:
        server.wait_until_listening()
        yield server
    finally:
        server.stop()


def _wrk(
    address: str, script: Path, seconds: int, settings: Settings, cpu: str | None
) -> WrkResult:
    command = [
        "wrk",
        f"-t{settings.threads}",
        f"-c{settings.connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
        f"http://{address}/",
    ]
    done = subprocess.run(
        _pinned(cpu, command),
        capture_output=True,
        text=True,
        timeout=seconds + WRK_SLACK,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}{done.stdout}")
    return parse_wrk(done.stdout)


def _refuse_wrong(result: WrkResult, scenario: Scenario, contestant: Contestant) -> None:
    """A timed run counts only if every answer was of the expected kind."""
    wrong = result.non_2xx if scenario.expected_status < 300 else result.requests - result.non_2xx
    if wrong or result.requests == 0:
        raise RuntimeError(
            f"{contestant.name} on {scenario.name}: {wrong} of {result.requests} answers under "
            f"load were not of the expected status {scenario.expected_status}; not reported"
        )


def _select(
    available: Iterable[Any], wanted: Sequence[str] | None, what: str, keep: str | None = None
) -> list[Any]:
    items = list(available)
    if wanted is None:
        return items
    names = list(dict.fromkeys(wanted))
    known = {item.name: item for item in items}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"unknown {what} {unknown}; there are {sorted(known)}")
    if keep is not None and keep not in names:
        names.insert(0, keep)  # the floor is measured in the same run, always
    return [known[name] for name in names]


def _rotate(items: Sequence[Any], by: int) -> list[Any]:
    by %= max(len(items), 1)
    return [*items[by:], *items[:by]]


def measure(
    contestants: Sequence[Contestant],
    scenarios: Sequence[Scenario],
    settings: Settings,
    log: Any = sys.stderr,
) -> list[dict[str, Any]]:
    """Every timed run of every round, as plain records."""
    server_cpu, wrk_cpu = _cpus()
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bare-bench-wrk-") as tmp, upload_directory():
        scripts = {}
        for scenario in scenarios:
            scripts[scenario.name] = Path(tmp) / f"{scenario.name}.lua"
            scripts[scenario.name].write_text(lua_script(scenario))
        for round_ in range(settings.rounds):
            started = time.monotonic()
            with contextlib.ExitStack() as stack:
                servers = {}
                for contestant in contestants:
                    servers[contestant.name] = stack.enter_context(serve(contestant, server_cpu))
                    check_over_http(f"http://{servers[contestant.name].address}", contestant)
                for scenario in scenarios:
                    runners = [c for c in contestants if scenario.name in c.scenarios]
                    for contestant in _rotate(runners, round_):
                        server = servers[contestant.name]
                        script = scripts[scenario.name]
                        _wrk(server.address, script, settings.warmup, settings, wrk_cpu)
                        before = _cpu_seconds(server.process.pid)
                        result = _wrk(server.address, script, settings.duration, settings, wrk_cpu)
                        cpu = _cpu_seconds(server.process.pid) - before
                        _refuse_wrong(result, scenario, contestant)
                        if any(result.socket_errors.values()):
                            print(
                                f"{contestant.name} on {scenario.name}: wrk saw socket errors "
                                f"{result.socket_errors}",
                                file=log,
                            )
                        records.append(
                            {
                                "round": round_ + 1,
                                "scenario": scenario.name,
                                "contestant": contestant.name,
                                **asdict(result),
                                "cpu_us_per_request": cpu / result.requests * 1e6,
                            }
                        )
                        print(
                            f"round {round_ + 1} {scenario.name:8} {contestant.name:14} "
                            f"{result.requests_per_second:10.0f} req/s  p50 {result.p50_ms:6.2f} ms"
                            f"  p99 {result.p99_ms:6.2f} ms",
                            file=log,
                            flush=True,
                        )
            print(
                f"round {round_ + 1} of {settings.rounds}: {time.monotonic() - started:.0f} s",
                file=log,
            )
    return records


def summarize(records: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per scenario and contestant: medians over the rounds, and the medians of two
    round-by-round ratios to the floor: `ratio`, of requests/s (the issue's measure), and
    `cpu_ratio`, the floor's server CPU time per request over the contestant's (what the
    ratio would be with the server's core to itself: it moves less than requests/s when
    other work shares the machine)."""
    floor = {(r["round"], r["scenario"]): r for r in records if r["contestant"] == FLOOR}
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in records:
        grouped.setdefault((record["scenario"], record["contestant"]), []).append(record)
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for (scenario, contestant), runs in grouped.items():
        figures = {
            key: statistics.median(r[key] for r in runs)
            for key in ("requests_per_second", "p50_ms", "p99_ms", "cpu_us_per_request")
        }
        paired = [(r, floor[r["round"], scenario]) for r in runs if (r["round"], scenario) in floor]
        if paired:
            figures["ratio"] = statistics.median(
                r["requests_per_second"] / f["requests_per_second"] for r, f in paired
            )
            figures["cpu_ratio"] = statistics.median(
                f["cpu_us_per_request"] / r["cpu_us_per_request"]
                for r, f in paired
                if r["cpu_us_per_request"] > 0
            )
        summary.setdefault(scenario, {})[contestant] = figures
    return summary


def versions() -> dict[str, str]:
    """The versions of the server stack and of every framework measured, and wrk's."""
    found = package_versions(PACKAGES)
    wrk = shutil.which("wrk")
    if wrk is not None:
        banner = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
        found["wrk"] = (banner.stdout + banner.stderr).split("[")[0].removeprefix("wrk ").strip()
    return found


# The server stack and every framework measured.
PACKAGES = (
    "bare",
    "starlette",
    "fastapi",
    "pydantic",
    "blacksheep",
    "falcon",
    "litestar",
    "uvicorn",
    "uvloop",
    "httptools",
    "msgspec",
    "multipart",
    "python-multipart",
)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {**described_machine(), "versions": versions()}


def _label(contestant: str) -> str:
    return "floor (raw ASGI)" if contestant == FLOOR else contestant


def markdown(
    summary: Mapping[str, Mapping[str, Mapping[str, float]]],
    contestants: Sequence[str],
    settings: Settings,
) -> str:
    """The tables of a run: requests/s and ratio to the floor per scenario, then the
    details (latency, CPU per request)."""
    scenarios = list(summary)
    overview = []
    for name in contestants:
        row = [_label(name)]
        for scenario in scenarios:
            figures = summary[scenario].get(name)
            row.append(
                "-"
                if figures is None
                else f"{figures['requests_per_second']:,.0f} ({figures.get('ratio', 0):.2f})"
            )
        overview.append(row)
    details = []
    for scenario in scenarios:
        for name in contestants:
            figures = summary[scenario].get(name)
            if figures is not None:
                details.append(
                    [
                        f"{scenario}: {_label(name)}",
                        f"{figures['requests_per_second']:,.0f}",
                        f"{figures.get('ratio', 0):.2f}",
                        f"{figures['p50_ms']:.2f}",
                        f"{figures['p99_ms']:.2f}",
                        f"{figures['cpu_us_per_request']:.1f}",
                        f"{figures.get('cpu_ratio', 0):.2f}",
                    ]
                )
    server_cpu, wrk_cpu = _cpus()
    pinning = (
        f"server on CPU {server_cpu}, wrk on CPU {wrk_cpu}"
        if server_cpu is not None
        else "server and wrk not pinned (fewer than two cores, or no taskset)"
    )
    lines = [
        "Requests per second over HTTP (ratio to the floor): uvicorn --loop uvloop --http "
        f"httptools --workers 1; wrk -t{settings.threads} -c{settings.connections} "
        f"-d{settings.duration}s after a {settings.warmup} s warm-up; medians of "
        f"{settings.rounds} round(s), fresh servers each round; {pinning}.",
        "",
        *table(["contestant", *scenarios], overview),
        "",
        *table(
            [
                "scenario: contestant",
                "req/s",
                "ratio",
                "p50 ms",
                "p99 ms",
                "server CPU µs/req",
                "CPU ratio",
            ],
            details,
        ),
    ]
    lines += [
        "",
        "ratio: requests/s over the floor's in the same round; CPU ratio: the floor's server "
        "CPU time per request over the contestant's (utime + stime of the uvicorn process); "
        "both medians over the rounds.",
    ]
    targets = target_lines(summary)
    if targets:
        lines += [
            "",
            "Targets: bare compiled's share of the floor's requests/s; bare against the best "
            "peer, by the ratio of requests/s and by the CPU ratio (above 1: bare is ahead):",
            "",
            *targets,
        ]
    return "\n".join(lines) + "\n"


def target_lines(summary: Mapping[str, Mapping[str, Mapping[str, float]]]) -> list[str]:
    """The issue's targets against this run, as a Markdown table: bare compiled's share of
    the floor's requests/s, and bare (plain and typed) against the best peer, by requests/s
    and by server CPU per request. Both comparisons go through the ratios to the floor,
    each paired within its round, so a slow round of the machine does not decide them."""
    rows = []
    for scenario, figures in summary.items():
        bare = figures.get(BARE[0])
        if bare is None or "ratio" not in bare:
            continue
        target = TARGETS.get(scenario)
        row = [
            scenario,
            f"{bare['ratio']:.2f}",
            "-"
            if target is None
            else f"{target:.2f}: {'met' if bare['ratio'] >= target else 'missed'}",
        ]
        for key in ("ratio", "cpu_ratio"):
            peers = {
                name: f[key]
                for name, f in figures.items()
                if key in f and name != FLOOR and not name.startswith("bare")
            }
            if not peers:
                row += ["-", "-", "-"]
                continue
            best = max(peers, key=peers.__getitem__)
            row.append(f"{best} {peers[best]:.2f}")
            row += [
                f"{figures[name][key] / peers[best]:.2f}" if key in figures.get(name, {}) else "-"
                for name in BARE
            ]
        rows.append(row)
    if not rows:
        return []
    header = [
        "scenario",
        f"{BARE[0]} ratio",
        "target",
        "best peer's ratio",
        f"{BARE[0]} / it",
        f"{BARE[1]} / it",
        "best peer's CPU ratio",
        f"{BARE[0]} / it",
        f"{BARE[1]} / it",
    ]
    return table(header, rows)


def write(
    records: list[dict[str, Any]],
    contestants: Sequence[str],
    settings: Settings,
    command: str,
    results: Path = RESULTS,
    measured: Mapping[str, Any] | None = None,
) -> str:
    """Write http.json and http.md under `results`; the Markdown. `measured`: the date,
    cores and machine of runs measured earlier (by default, now and here)."""
    summary = summarize(records)
    text = markdown(summary, contestants, settings)
    results.mkdir(parents=True, exist_ok=True)
    document = {
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "settings": asdict(settings),
        "cpus": dict(zip(("server", "wrk"), _cpus())),
        "machine": machine(),
        **{k: v for k, v in (measured or {}).items() if k in ("date", "cpus", "machine")},
        "floor": FLOOR,
        "contestants": list(contestants),
        "summary": summary,
        "runs": records,
    }
    (results / "http.json").write_text(json.dumps(document, indent=1) + "\n")
    (results / "http.md").write_text(f"Command: `{command}`\n\n{text}")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare.http_bench", description=__doc__.split("\n\n")[0]
    )
    default = Settings()
    parser.add_argument("--rounds", type=int, default=None, help=f"default {default.rounds}")
    parser.add_argument(
        "--duration", type=int, default=None, help=f"seconds per timed run ({default.duration})"
    )
    parser.add_argument(
        "--warmup", type=int, default=None, help=f"seconds of warm-up ({default.warmup})"
    )
    parser.add_argument(
        "--connections", type=int, default=None, help=f"wrk's -c ({default.connections})"
    )
    parser.add_argument("--contestants", nargs="+", help="names (the floor is always in)")
    parser.add_argument("--scenarios", nargs="+", help="names")
    parser.add_argument("--quick", action="store_true", help="one round of 2 s runs")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write http.*")
    parser.add_argument(
        "--report", action="store_true", help="write http.md again from http.json, no measuring"
    )
    args = parser.parse_args(argv)
    if args.report:
        document = json.loads((args.results / "http.json").read_text())
        text = write(
            document["runs"],
            document["contestants"],
            Settings(**document["settings"]),
            document["command"],
            args.results,
            document,
        )
        print(text, end="")
        return 0
    base = QUICK if args.quick else default
    settings = Settings(
        rounds=args.rounds or base.rounds,
        duration=args.duration or base.duration,
        warmup=args.warmup or base.warmup,
        connections=args.connections or base.connections,
    )
    if min(settings.rounds, settings.duration, settings.warmup, settings.connections) < 1:
        raise SystemExit("--rounds, --duration, --warmup and --connections must be at least 1")
    if shutil.which("wrk") is None:
        raise SystemExit(INSTALL_WRK)
    contestants = _select(CONTESTANTS, args.contestants, "contestants", keep=FLOOR)
    scenarios = _select(SCENARIOS, args.scenarios, "scenarios")
    runs = sum(1 for s in scenarios for c in contestants if s.name in c.scenarios)
    estimate = settings.rounds * runs * (settings.duration + settings.warmup + 0.3)
    print(f"{runs} runs per round, about {estimate / 60:.0f} min in all", file=sys.stderr)
    records = measure(contestants, scenarios, settings)
    command = " ".join(["python -m benchmarks.compare.http_bench", *(argv or sys.argv[1:])])
    names = [c.name for c in contestants]
    print(write(records, names, settings, command, args.results), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
