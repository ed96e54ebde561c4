"""A soak of bare's compare app: minutes of mixed load, with flat memory, descriptors,
threads and tasks.

The app (`apps/soak_app.py`: bare's compare app mounted as it is, plus a stats route, a
server-sent events route and a WebSocket echo) runs under uvicorn (uvloop, httptools,
one worker) pinned to one core. The load comes in bursts of about `--interval` seconds:

- wrk, pinned to another core, rotates through every scenario's request (and api's 401,
  and a hello that asks the server to close the connection), with a connection count
  that changes from burst to burst (8, 64, 256: each burst opens and closes its own);
- next to it, a churn of short-lived connections: event streams read for three events
  then dropped, WebSocket connections that echo three messages then close, and uploads
  abandoned halfway through their body.

Between two bursts, once the server's connections have closed (a quiescent point: no
request in flight), a sample is taken: from outside, the server's resident size, file
descriptors and threads (`/proc/<pid>`); from inside (`GET /_soak/stats`), the number of
asyncio tasks, and the same three as the process sees them.

Flat, the criterion: the first cycle of connection counts (90 s: 8, 64, then 256
connections) is the warm-up: first requests through each route, and the server's
buffers and free lists growing to what 256 connections need, which they first do in the
third burst. Against the sample after it (the warm sample), the last sample's resident
size may be at most 5% above it, and every later sample's descriptors, threads and
tasks may differ from it by at most 2. Why these
bounds: at a quiescent point a server holds no connection, so descriptors, threads and
tasks are its own (listening socket, loop, executor), which do not change with the
number of requests: any count that grows with the load is a leak, and 2 only leaves room
for a connection whose close is still being processed. Memory is allowed 5% (about
2 MiB here): the allocator's arenas settle unevenly, but a leak of one small object per
request (a few dozen bytes) over the millions of requests of a 10-minute soak is tens
of MiB, many times the allowance.

    make soak                                            # 10 minutes, compiled
    .venv/bin/python benchmarks/compare/soak.py --minutes 3 --path pure

Writes a Markdown report to stdout and `benchmarks/results/soak.json`; exits 1 when a
series is not flat (or wrong answers or socket errors were seen).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
for _path in (ROOT, ROOT / "tests", ROOT / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from benchmarks.compare.http_bench import _cpus, serve, upload_directory  # noqa: E402
from benchmarks.compare.memory import (  # noqa: E402
    PATHS,
    RESULTS,
    mib,
    mix,
    python,
    raw_request,
    require_wrk,
    run_wrk,
    settled,
)
from benchmarks.compare.scenarios import (  # noqa: E402
    UPLOAD_BODY,
    check_over_http,
    contestant,
    scenario,
)

from _tables import table  # noqa: E402  (benchmarks/_tables.py)

SOAK_APP = "benchmarks.compare.apps.soak_app:app"
MINUTES = 10.0
INTERVAL = 30.0  # seconds from one sample to the next
WARMUP = 90.0  # seconds of load whose samples are not judged: one cycle of CONNECTIONS
CONNECTIONS = (8, 64, 256)  # wrk's connections, burst after burst
RSS_GROWTH = 0.05  # the last sample's RSS at most this much above the warm sample's
COUNT_SLACK = 2  # descriptors, threads, tasks: at most this far from the warm sample's
# Pause of the churn between two of its connections, so that it stays a churn beside
# wrk's load rather than a second load.
CHURN_PAUSE = 0.02


# -- the criterion ----------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """The server's state at a quiescent point, after the load's burst that ends at
    `seconds` (bursts are numbered in intervals: 30, 60, ...; `elapsed` is the clock's)."""

    seconds: float
    requests: int  # wrk's completed requests so far
    churned: int  # streams, WebSockets and abandoned uploads so far
    rss_kib: int  # from /proc/<pid>, outside
    fds: int
    threads: int
    tasks: int  # from inside: asyncio.all_tasks(), the stats request's own included
    inside_rss_kib: int
    inside_fds: int  # the stats request's connection included
    # the tasks counted by the coroutine they run, most frequent first
    running: tuple[tuple[str, int], ...] = ()
    elapsed: float = 0.0


@dataclass(frozen=True)
class Rule:
    """How far a series may move from its warm sample: `ratio` of it upward at the last
    sample (memory), or `slack` either way at every sample (counts)."""

    name: str
    ratio: float | None = None
    slack: int | None = None


RULES = (
    Rule("rss_kib", ratio=RSS_GROWTH),
    Rule("fds", slack=COUNT_SLACK),
    Rule("threads", slack=COUNT_SLACK),
    Rule("tasks", slack=COUNT_SLACK),
)


def warm_index(times: Sequence[float], warmup: float) -> int:
    """The index of the warm sample: the first taken after `warmup` seconds. ValueError
    when there is none, or none after it (nothing to judge)."""
    for index, seconds in enumerate(times):
        if seconds >= warmup:
            if index == len(times) - 1:
                break
            return index
    raise ValueError(
        f"no two samples after the {warmup:.0f} s warm-up: soak for longer (--minutes)"
        " or sample more often (--interval)"
    )


def unflat(series: Sequence[float], warm: int, rule: Rule) -> str | None:
    """Why `series` is not flat from its sample `warm` on, by `rule`; None when it is."""
    base = series[warm]
    if rule.ratio is not None:
        last = series[-1]
        if last > base * (1 + rule.ratio):
            return (
                f"{rule.name} went from {base:g} to {last:g} (+{(last - base) / base:.1%},"
                f" at most +{rule.ratio:.0%} allowed)"
            )
    if rule.slack is not None:
        for index in range(warm + 1, len(series)):
            if abs(series[index] - base) > rule.slack:
                return (
                    f"{rule.name} went from {base:g} to {series[index]:g} at sample {index}"
                    f" (at most {rule.slack} either way allowed)"
                )
    return None


def verdict(samples: Sequence[Sample], warmup: float, rules: Sequence[Rule] = RULES) -> list[str]:
    """What is not flat in `samples` after `warmup` seconds (nothing when all is)."""
    warm = warm_index([s.seconds for s in samples], warmup)
    found = []
    for rule in rules:
        reason = unflat([getattr(s, rule.name) for s in samples], warm, rule)
        if reason is not None:
            found.append(reason)
    return found


# -- the churn ----------------------------------------------------------------------


def sse_once(address: str) -> None:
    """Open the event stream, read three events, drop the connection."""
    import httpx

    seen = 0
    with httpx.stream("GET", f"http://{address}/_soak/events", timeout=10) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            seen += line.startswith("data:")
            if seen == 3:
                break


def websocket_once(address: str) -> None:
    """Open a WebSocket, have three messages echoed, close it."""
    from websockets.sync.client import connect

    with connect(f"ws://{address}/_soak/ws", open_timeout=10, close_timeout=10) as ws:
        for n in range(3):
            ws.send(f"message {n}")
            echoed = ws.recv(timeout=10)
            if echoed != f"message {n}":
                raise AssertionError(f"the WebSocket echoed {echoed!r}")


def abandoned_upload_once(address: str) -> None:
    """Send the upload's headers and half its body, then close the connection."""
    probe = scenario("upload")
    request = raw_request(probe.method, probe.target, probe.headers, probe.body, address)
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request[: len(request) - len(UPLOAD_BODY) // 2])


CHURN: tuple[Callable[[str], None], ...] = (sse_once, websocket_once, abandoned_upload_once)


class Churn:
    """A thread that opens and drops connections of each kind in turn until stopped."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.count = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            once = CHURN[self.count % len(CHURN)]
            try:
                once(self.address)
            except Exception as exc:  # reported with the results, not raised in a thread
                self.errors.append(f"{once.__name__}: {type(exc).__name__}: {exc}")
            self.count += 1
            self._stop.wait(CHURN_PAUSE)


# -- the soak -------------------------------------------------------------------------


def stats(address: str) -> dict[str, Any]:
    """What the soak app says of its own process (`GET /_soak/stats`)."""
    import httpx

    with httpx.Client(timeout=10) as client:
        response = client.get(f"http://{address}/_soak/stats")
        response.raise_for_status()
        found: dict[str, Any] = response.json()
        return found


@dataclass
class Soak:
    """One soak's samples and what its load saw."""

    path: str
    minutes: float
    interval: float
    warmup: float
    samples: list[Sample] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    expected: frozenset[int] = frozenset()
    socket_errors: list[str] = field(default_factory=list)
    churn_errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        found = verdict(self.samples, self.warmup)
        unexpected = {code: n for code, n in self.statuses.items() if code not in self.expected}
        if unexpected:
            found.append(f"unexpected statuses {unexpected}")
        found += [f"socket errors: {errors}" for errors in self.socket_errors]
        found += [f"churn: {error}" for error in self.churn_errors[:5]]
        return found


def soak(path: str, minutes: float, interval: float, warmup: float) -> Soak:
    """Run the soak of bare's compare app on `path`; its samples."""
    who = dataclasses.replace(contestant(PATHS[path]), app=SOAK_APP)
    server_cpu, load_cpu = _cpus()
    result = Soak(path, minutes, interval, warmup)
    with upload_directory(), serve(who, server_cpu) as server:
        address, pid = server.address, server.process.pid
        check_over_http(f"http://{address}", who)
        requests = mix(who, address)
        close = raw_request("GET", "/", (("Connection", "close"),), b"", address)
        result.expected = requests.statuses
        load = (*requests.requests, close)
        churn = Churn(address)
        done = 0
        started = time.monotonic()
        result.samples.append(sample(0.0, 0.0, 0, 0, pid, address))
        # A second of each interval is left for the sample.
        seconds = max(1, round(interval) - 1)
        for burst in range(max(1, round(minutes * 60 / interval))):
            churn.start()
            try:
                run = run_wrk(
                    address,
                    load,
                    seconds=seconds,
                    connections=CONNECTIONS[burst % len(CONNECTIONS)],
                    cpu=load_cpu,
                )
            finally:
                churn.stop()
            done += run.wrk.requests
            for code, n in run.statuses.items():
                result.statuses[code] = result.statuses.get(code, 0) + n
            errors = {kind: n for kind, n in run.wrk.socket_errors.items() if n}
            if errors:
                result.socket_errors.append(str(errors))
            now = time.monotonic() - started
            nominal = (burst + 1) * interval
            result.samples.append(sample(nominal, now, done, churn.count, pid, address))
            print(line(result.samples[-1]), file=sys.stderr, flush=True)
        result.churn_errors = churn.errors
    return result


def sample(
    seconds: float, elapsed: float, requests: int, churned: int, pid: int, address: str
) -> Sample:
    outside = settled(pid)
    inside = stats(address)
    return Sample(
        round(seconds, 1),
        requests,
        churned,
        outside.rss_kib,
        outside.fds,
        outside.threads,
        inside["tasks"],
        inside["rss_kib"],
        inside["fds"],
        tuple(inside["running"].items()),
        round(elapsed, 1),
    )


def line(s: Sample) -> str:
    return (
        f"{s.seconds:6.0f} s {s.requests:>10,} requests {s.churned:>6,} churned"
        f"  RSS {mib(s.rss_kib)}  fds {s.fds}  threads {s.threads}  tasks {s.tasks}"
    )


def report(result: Soak) -> str:
    header = ["seconds", "requests", "churned", "RSS", "fds", "threads", "tasks"]
    rows = [
        [
            f"{s.seconds:.0f}",
            f"{s.requests:,}",
            f"{s.churned:,}",
            mib(s.rss_kib),
            str(s.fds),
            str(s.threads),
            str(s.tasks),
        ]
        for s in result.samples
    ]
    problems = result.problems()
    last = result.samples[-1]
    lines = [
        f"## Soak: {result.path}, {result.minutes:g} minutes",
        "",
        *table(header, rows),
        "",
        f"{last.requests:,} requests from wrk and {last.churned:,} churned connections in"
        f" {last.elapsed:.0f} s; warm-up {result.warmup:.0f} s.",
        "",
        "Flat: " + ("yes" if not problems else "no: " + "; ".join(problems)),
        "",
        "Tasks at the last sample, by what they run: "
        + ", ".join(f"{name} {n}" for name, n in last.running),
    ]
    return "\n".join(lines)


def to_json(result: Soak, argv: Sequence[str]) -> dict[str, Any]:
    return {
        "command": " ".join([python(), "benchmarks/compare/soak.py", *argv]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "path": result.path,
        "minutes": result.minutes,
        "interval": result.interval,
        "warmup": result.warmup,
        "criterion": {"rss_growth": RSS_GROWTH, "count_slack": COUNT_SLACK},
        "connections": list(CONNECTIONS),
        "samples": [asdict(s) for s in result.samples],
        "statuses": {str(code): n for code, n in sorted(result.statuses.items())},
        "socket_errors": result.socket_errors,
        "churn_errors": result.churn_errors,
        "problems": result.problems(),
        "flat": not result.problems(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=MINUTES)
    parser.add_argument("--path", choices=sorted(PATHS), default="compiled")
    parser.add_argument("--interval", type=float, default=INTERVAL, help="seconds per sample")
    parser.add_argument("--warmup", type=float, default=WARMUP, help="seconds not judged")
    parser.add_argument("--out", type=Path, default=RESULTS / "soak.json")
    args = parser.parse_args(argv)
    if args.interval < 2:
        parser.error("--interval must be at least 2 seconds")
    if args.minutes * 60 < args.warmup + 2 * args.interval:
        parser.error("--minutes must leave two samples after the warm-up")
    require_wrk()
    result = soak(args.path, args.minutes, args.interval, args.warmup)
    print(report(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    given = list(sys.argv[1:] if argv is None else argv)
    args.out.write_text(json.dumps(to_json(result, given), indent=2) + "\n")
    return 1 if result.problems() else 0


if __name__ == "__main__":
    sys.exit(main())
