"""Memory over real HTTP: does a served bare app keep its size?

bare's compare app (compiled, and pure with `BARE_NO_EXTENSIONS=1`) runs under uvicorn
(uvloop, httptools, one worker, no reload) on 127.0.0.1, pinned to one core; wrk, pinned
to another, sends a mix of every scenario of `scenarios.py` in turn (a Lua script
rotates through their requests) and stops itself after a given count of responses. At
each checkpoint (1k requests, the baseline taken once every route has been through its
first requests, then 10k, 50k and 100k), once the connections have closed, the server's
resident size (`VmRSS`), open file descriptors and threads are read from `/proc/<pid>`.

The target: the resident size after 100k requests at most 5% above its size after 1k,
on both paths. Exits 1 when a path misses it (it is a check, not only a report). The
request counts are wrk's own ("N requests in ...").

    .venv/bin/python benchmarks/compare/memory.py                 # both paths, 100k
    .venv/bin/python benchmarks/compare/memory.py --requests 20000 --path compiled

Writes a Markdown report to stdout and `benchmarks/results/memory.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = ROOT / "benchmarks" / "results"
for _path in (ROOT, ROOT / "tests", ROOT / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from benchmarks.compare.http_bench import (  # noqa: E402
    INSTALL_WRK,
    WrkResult,
    _cpus,
    _lua_string,
    parse_wrk,
    serve,
    upload_directory,
)
from benchmarks.compare.scenarios import (  # noqa: E402
    Contestant,
    check_over_http,
    contestant,
    probes,
)

from _tables import table  # noqa: E402  (benchmarks/_tables.py)

TARGET = 0.05  # growth allowed from 1k to 100k requests
BASELINE = 1_000
CHECKPOINTS = (BASELINE, 10_000, 50_000, 100_000)
CONNECTIONS = 32
# A net for one wrk run: at the slowest rate seen here (pure path, ~5k requests/s)
# 100k requests take 20 s.
WRK_LIMIT = 300
# The two paths, by the name of the contestant of `scenarios.py` that serves each.
PATHS = {"compiled": "bare(c)", "pure": "bare(py)"}


# -- what the kernel says of a process ----------------------------------------------


@dataclass(frozen=True)
class Usage:
    """A process's resident size (KiB), open file descriptors and threads."""

    rss_kib: int
    fds: int
    threads: int


def usage(pid: int) -> Usage:
    """Read `pid`'s usage from `/proc/<pid>/status` (VmRSS, Threads) and `/proc/<pid>/fd`.

    When `pid` is this process, the descriptor of the listing itself is not counted.
    """
    fields: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    rss_kib = int(fields["VmRSS"].split()[0])  # "12345 kB"
    fds = len(os.listdir(f"/proc/{pid}/fd")) - (pid == os.getpid())
    return Usage(rss_kib, fds, int(fields["Threads"]))


def settled(pid: int, *, polls: int = 4, interval: float = 0.05, limit: float = 5.0) -> Usage:
    """`pid`'s usage once its descriptor count has not changed for `polls` reads in a row
    (the connections of the last load have closed), or after `limit` seconds."""
    deadline = time.monotonic() + limit
    last = usage(pid)
    same = 1
    while same < polls and time.monotonic() < deadline:
        time.sleep(interval)
        now = usage(pid)
        same = same + 1 if now.fds == last.fds else 1
        last = now
    return last


def growth(before: int, after: int) -> float:
    """How much `after` is above `before`, as a fraction of `before` (negative if below)."""
    if before <= 0:
        raise ValueError(f"the size before must be positive, not {before}")
    return (after - before) / before


# -- wrk ------------------------------------------------------------------------------


def raw_request(
    method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes, host: str
) -> bytes:
    """An HTTP/1.1 request as wrk sends it: the scenario's headers, a Host, and a
    Content-Length when there is a body (or the method usually has one)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    names = {name.lower() for name, _ in headers}
    lines += [f"{name}: {value}" for name, value in headers if name.lower() != "host"]
    if "content-length" not in names and (body or method in ("POST", "PUT", "PATCH")):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


LUA = """\
-- Written by benchmarks/compare/memory.py: rotate through the scenarios' requests,
-- count the responses by status, stop after `limit` responses (0: at the duration).
-- Meant for one wrk thread (-t1), so that the count is of every connection.
local requests = {{
{requests}
}}
local limit = {limit}
local index = 0
count = 0
statuses = {{}}

function request()
  index = index % #requests + 1
  return requests[index]
end

function response(status, headers, body)
  count = count + 1
  statuses[status] = (statuses[status] or 0) + 1
  if count == limit then
    -- wrk sleeps out its duration whatever its threads do: say so, to be interrupted
    io.write("limit reached\\n")
    io.flush()
    wrk.thread:stop()
  end
end

local threads = {{}}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      io.write(string.format("status %d %d\\n", status, n))
    end
  end
end
"""


def lua_script(requests: Sequence[bytes], limit: int = 0) -> str:
    """A wrk script that sends `requests` in turn, stops after `limit` responses when it
    is above 0, and prints `status <code> <count>` lines when done."""
    if not requests:
        raise ValueError("the script needs at least one request")
    body = ",\n".join("  " + _lua_string(request) for request in requests)
    return LUA.format(requests=body, limit=int(limit))


@dataclass(frozen=True)
class Load:
    """One wrk run of a mix: wrk's report, and the responses counted by status."""

    wrk: WrkResult
    statuses: dict[int, int]


def statuses(output: str) -> dict[int, int]:
    """The `status <code> <count>` lines that `lua_script`'s `done` prints."""
    found: dict[int, int] = {}
    for code, count in re.findall(r"^status (\d+) (\d+)$", output, re.MULTILINE):
        found[int(code)] = found.get(int(code), 0) + int(count)
    return found


def run_wrk(
    address: str,
    requests: Sequence[bytes],
    *,
    limit: int = 0,
    seconds: float = WRK_LIMIT,
    connections: int = CONNECTIONS,
    cpu: str | None = None,
) -> Load:
    """Load `address` from one wrk thread (pinned to `cpu`) with `requests` in turn, until
    `limit` responses when it is above 0, for at most `seconds`.

    A wrk thread that stops leaves wrk asleep until its duration is over: once the script
    says the limit is reached, wrk is interrupted (SIGINT), which makes it report at once.
    """
    with tempfile.TemporaryDirectory(prefix="bare-memory-wrk-") as tmp:
        script = Path(tmp) / "mix.lua"
        script.write_text(lua_script(requests, limit))
        command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
        command += ["--timeout", "10s", "-s", str(script), f"http://{address}/"]
        if cpu is not None:
            command = ["taskset", "-c", cpu, *command]
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            assert process.stdout is not None
            lines = []
            for line in process.stdout:  # ends when wrk exits, at the latest after `seconds`
                lines.append(line)
                if line == "limit reached\n":
                    process.send_signal(signal.SIGINT)
            _, errors = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    output = "".join(lines)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output}{errors}")
    load = Load(parse_wrk(output), statuses(output))
    # wrk reports a script that fails (to load, or in a callback) on stderr, then carries
    # on without it, exit status 0: then the counts by status do not add up.
    if sum(load.statuses.values()) != load.wrk.requests:
        raise RuntimeError(f"wrk's script did not count every response:\n{output}{errors}")
    return load


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit(INSTALL_WRK)


# -- bare's compare app -------------------------------------------------------------


@dataclass(frozen=True)
class Mix:
    """The requests of the probes, as wrk sends them, and the statuses they expect."""

    names: tuple[str, ...]
    requests: tuple[bytes, ...]
    statuses: frozenset[int]


def mix(who: Contestant, host: str) -> Mix:
    """The requests of every probe of `who` (its scenarios, and api's 401 without
    credentials), in the order of `SCENARIOS`."""
    found = probes(who)
    return Mix(
        tuple(probe.name for probe in found),
        tuple(
            raw_request(probe.method, probe.target, probe.headers, probe.body, host)
            for probe in found
        ),
        frozenset(probe.expected_status for probe in found),
    )


# -- the check ------------------------------------------------------------------------


@dataclass
class Checkpoint:
    """The server's usage once wrk has completed `requests` requests in all."""

    requests: int
    usage: Usage


@dataclass
class PathResult:
    """One path's run: its usage idle and at each checkpoint, and what wrk saw."""

    path: str
    contestant: str
    probes: list[str]
    expected: frozenset[int]
    idle: Usage
    checkpoints: list[Checkpoint] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    socket_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def growth(self) -> float:
        """RSS growth from the first checkpoint (the baseline) to the last."""
        first, last = self.checkpoints[0], self.checkpoints[-1]
        return growth(first.usage.rss_kib, last.usage.rss_kib)

    def problems(self, target: float = TARGET) -> list[str]:
        """Why this path fails the check (nothing when it passes)."""
        found = []
        if self.growth() > target:
            found.append(f"RSS grew {self.growth():.1%} (target at most {target:.0%})")
        unexpected = {code: n for code, n in self.statuses.items() if code not in self.expected}
        if unexpected:
            found.append(f"unexpected statuses {unexpected}")
        found += [f"socket errors: {errors}" for errors in self.socket_errors]
        return found


def measure(path: str, checkpoints: Sequence[int], connections: int) -> PathResult:
    """Serve bare's compare app on `path` and read its usage at each checkpoint."""
    who = contestant(PATHS[path])
    server_cpu, load_cpu = _cpus()
    with upload_directory(), serve(who, server_cpu) as server:
        pid = server.process.pid
        idle = settled(pid)
        check_over_http(f"http://{server.address}", who)
        requests = mix(who, server.address)
        result = PathResult(path, who.name, list(requests.names), requests.statuses, idle)
        done = 0
        started = time.monotonic()
        for checkpoint in checkpoints:
            if checkpoint <= done:
                continue
            load = run_wrk(
                server.address,
                requests.requests,
                limit=checkpoint - done,
                connections=connections,
                cpu=load_cpu,
            )
            done += load.wrk.requests
            for code, n in load.statuses.items():
                result.statuses[code] = result.statuses.get(code, 0) + n
            errors = {kind: n for kind, n in load.wrk.socket_errors.items() if n}
            if errors:
                result.socket_errors.append(str(errors))
            result.checkpoints.append(Checkpoint(done, settled(pid)))
        result.seconds = time.monotonic() - started
    return result


def python() -> str:
    """This interpreter, relative to the repository when it is inside (`.venv/bin/python`)."""
    path = Path(sys.executable)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def report(results: Sequence[PathResult], target: float = TARGET) -> str:
    """The Markdown table of every checkpoint, then each path's verdict."""
    header = ["path", "requests", "RSS", "vs first", "fds", "threads"]
    rows = []
    for result in results:
        idle = result.idle
        rows.append([result.path, "idle", mib(idle.rss_kib), "", str(idle.fds), str(idle.threads)])
        base = result.checkpoints[0].usage.rss_kib
        for point in result.checkpoints:
            rss = point.usage.rss_kib
            cells = [f"{point.requests:,}", mib(rss), f"{growth(base, rss):+.1%}"]
            rows.append([result.path, *cells, str(point.usage.fds), str(point.usage.threads)])
    lines = table(header, rows)
    lines.append("")
    for result in results:
        first, last = result.checkpoints[0], result.checkpoints[-1]
        verdict = "; ".join(result.problems(target)) or "passes"
        lines.append(
            f"- {result.path} ({result.contestant}): RSS {result.growth():+.2%} from"
            f" {first.requests:,} to {last.requests:,} requests (target at most"
            f" +{target:.0%}): {verdict}"
        )
    return "\n".join(lines)


def to_json(results: Sequence[PathResult], args: argparse.Namespace) -> dict[str, Any]:
    return {
        "target": TARGET,
        "command": " ".join([python(), "benchmarks/compare/memory.py", *sys.argv[1:]]),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "connections": args.connections,
        "cpus": dict(zip(("server", "wrk"), _cpus())),
        "paths": [
            {
                "path": result.path,
                "contestant": result.contestant,
                "probes": result.probes,
                "idle": asdict(result.idle),
                "checkpoints": [asdict(point) for point in result.checkpoints],
                "statuses": {str(code): n for code, n in sorted(result.statuses.items())},
                "socket_errors": result.socket_errors,
                "seconds": round(result.seconds, 2),
                "growth": round(result.growth(), 5),
                "passes": not result.problems(),
            }
            for result in results
        ],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--path", choices=sorted(PATHS), action="append", help="default: both")
    parser.add_argument("--requests", type=int, default=CHECKPOINTS[-1], help="the last checkpoint")
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--out", type=Path, default=RESULTS / "memory.json")
    args = parser.parse_args(argv)
    if args.requests <= BASELINE:
        parser.error(f"--requests must be above the baseline of {BASELINE}")
    require_wrk()
    checkpoints = sorted({*(c for c in CHECKPOINTS if c < args.requests), args.requests})
    results = [measure(path, checkpoints, args.connections) for path in args.path or PATHS]
    print(report(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(to_json(results, args), indent=2) + "\n")
    return 1 if any(result.problems() for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
