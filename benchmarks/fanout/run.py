"""WebSocket fan-out over real connections: one publisher, many subscribers, bare against
Starlette + the `broadcaster` package, each on the memory backend (one uvicorn worker)
and on Redis (two uvicorn processes on two ports sharing one redis-server).

    .venv/bin/python benchmarks/fanout/run.py [--subscribers 1000] [--messages 200]
        [--bursts 3] [--paced 25] [--rate 5] [--size 160] [--placement split|free]

A fifth setup, the floor, is bare's design written by hand in raw ASGI (floor_app.py):
what uvicorn costs per delivery, plus the least a queue per subscriber costs.

For each setup: start the server(s), connect every subscriber (spread over the workers)
and wait for each one's "ready" frame, publish warm-up messages until every subscriber
has had one, then the measured phases through one publisher connection on the first
worker:

- bursts: `--bursts` times, `--messages` messages sent as fast as the publisher's
  connection takes them. Delivered msgs/s = deliveries / (last receipt - first
  publish), of the best burst (the one least slowed down by the rest of the machine);
  and the servers' CPU time per delivery (/proc/<pid>/stat, redis-server included),
  the median of the bursts.
- paced: `--paced` messages at `--rate` a second, a load well under the bursts' rates;
  p50 and p99 of receipt - publish over every delivery.

Every message is JSON (`--size` bytes) with its phase, sequence number and publish time
(`time.monotonic_ns()`: CLOCK_MONOTONIC, one clock for every process of the machine).
Each subscriber checks that it receives every message of a phase, in order; anything
missing or out of order is counted and reported, never averaged away. The run prints a
Markdown table and writes JSON (`--output`, benchmarks/results/fanout.json by default).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# Appended, not prepended: tests/ has an `apps` package, as benchmarks/ has.
for _path in (str(ROOT / "benchmarks"), str(ROOT / "tests")):
    if _path not in sys.path:
        sys.path.append(_path)

from _driver import new_loop  # noqa: E402
from _machine import machine as described_machine  # noqa: E402
from redis_server import RedisServer  # noqa: E402
from servers import Server, free_port, uvicorn_command  # noqa: E402

APPS = {"bare": "bare_app:app", "starlette": "starlette_app:app", "floor": "floor_app:app"}
LABELS = {"bare": "bare", "starlette": "Starlette + broadcaster", "floor": "floor (raw ASGI)"}
OUTPUT = ROOT / "benchmarks" / "results" / "fanout.json"
# Nets against a hang only: a healthy run ends every wait on a message.
CONNECT_LIMIT = 60.0
STALL_LIMIT = 10.0  # a phase with no delivery for this long is over: what is missing is lost
SERVER_CPU, CLIENT_CPU = 0, 1


@dataclass(frozen=True)
class Setup:
    framework: str  # "bare", "starlette" or "floor"
    backend: str  # "memory" or "redis"
    workers: int

    @property
    def name(self) -> str:
        return f"{self.framework}-{self.backend}"


SETUPS = (
    Setup("bare", "memory", 1),
    Setup("starlette", "memory", 1),
    Setup("bare", "redis", 2),
    Setup("starlette", "redis", 2),
    Setup("floor", "memory", 1),  # a reference: the same design with no framework
)


def message(phase: str, seq: int, size: int) -> str:
    """One published message, `size` bytes (at least its head), stamped now."""
    head = f'{{"phase":"{phase}","seq":{seq},"t":{time.monotonic_ns()},"pad":"'
    return head + "x" * max(0, size - len(head) - 2) + '"}'


@dataclass
class Phase:
    """What the subscribers received of one phase."""

    expected: int  # messages published in the phase
    subscribers: int
    received: int = 0
    out_of_order: int = 0
    first_publish: int = 0  # ns
    last_receipt: int = 0  # ns
    latencies: list[int] = field(default_factory=list)  # ns, one per delivery
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def got(self, now: int, sent: int) -> None:
        self.received += 1
        self.latencies.append(now - sent)
        if now > self.last_receipt:
            self.last_receipt = now
        if self.received == self.expected * self.subscribers:
            self.done.set()

    async def wait(self) -> None:
        """Until every subscriber has every message, or nothing came for STALL_LIMIT."""
        while not self.done.is_set():
            before = self.received
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.done.wait(), STALL_LIMIT)
            if self.received == before:
                return

    def summary(self) -> dict[str, Any]:
        deliveries = self.expected * self.subscribers
        span = (self.last_receipt - self.first_publish) / 1e9
        ordered = sorted(self.latencies)
        return {
            "published": self.expected,
            "deliveries_expected": deliveries,
            "delivered": self.received,
            "lost": deliveries - self.received,
            "out_of_order": self.out_of_order,
            "seconds": round(span, 4),
            "delivered_per_second": round(self.received / span) if span > 0 else 0,
            "p50_ms": round(percentile(ordered, 50) / 1e6, 3),
            "p99_ms": round(percentile(ordered, 99) / 1e6, 3),
            "max_ms": round(ordered[-1] / 1e6, 3) if ordered else 0.0,
        }


def percentile(ordered: list[int], p: float) -> float:
    """The p-th percentile of sorted values (nearest rank); 0 for none."""
    if not ordered:
        return 0.0
    rank = max(1, -(-len(ordered) * p // 100))  # ceil
    return float(ordered[int(rank) - 1])


class Subscriber:
    """One client connection: checks order per phase and feeds the phases' figures."""

    def __init__(self, ws: ClientConnection, phases: dict[str, Phase], warm: Phase) -> None:
        self.ws = ws
        self.phases = phases
        self.warm = warm
        self.warmed = False
        self.next: dict[str, int] = {}
        self.leaving = False  # the client is closing the connection itself
        self.closed: str | None = None  # the code, if the server ended the connection

    async def run(self) -> None:
        phases, following = self.phases, self.next
        try:
            async for text in self.ws:
                now = time.monotonic_ns()
                event = json.loads(text)
                name = event["phase"]
                if name == "w":
                    if not self.warmed:
                        self.warmed = True
                        self.warm.got(now, event["t"])
                    continue
                phase = phases.get(name)
                if phase is None:
                    continue
                seq = event["seq"]
                if seq != following.get(name, 0):
                    phase.out_of_order += 1
                following[name] = seq + 1
                phase.got(now, event["t"])
        except websockets.ConnectionClosed:
            pass
        if not self.leaving:
            self.closed = str(self.ws.close_code)


async def connect(address: str) -> ClientConnection:
    ws = await websockets.connect(
        f"ws://{address}/subscribe",
        compression=None,  # no permessage-deflate: see docs/performance.md
        ping_interval=None,
        open_timeout=CONNECT_LIMIT,
    )
    ready = await asyncio.wait_for(ws.recv(), CONNECT_LIMIT)
    if ready != "ready":
        raise RuntimeError(f"expected 'ready', got {ready!r}")
    return ws


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) used so far by these processes (Linux /proc)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy so far (all CPUs, /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


async def measure(
    addresses: list[str],
    pids: list[int],
    subscribers: int,
    messages: int,
    paced: int,
    rate: float,
    size: int,
    rounds: int,
) -> dict[str, Any]:
    """Connect the subscribers, run the phases, close; the figures of each phase."""
    gate = asyncio.Semaphore(64)  # handshakes in flight at once

    async def one(index: int) -> ClientConnection:
        async with gate:
            return await connect(addresses[index % len(addresses)])

    started = time.monotonic()
    # One subscriber per worker alone first: broadcaster loses subscribers that arrive
    # while a worker's first one is being subscribed in Redis (see starlette_app.py).
    first = [await one(i) for i in range(min(len(addresses), subscribers))]
    rest = await asyncio.gather(*(one(i) for i in range(len(first), subscribers)))
    connections = [*first, *rest]
    connect_seconds = time.monotonic() - started
    warm = Phase(1, subscribers)
    bursts = [Phase(messages, subscribers) for _ in range(rounds)]
    bursts_busy: list[dict[str, float]] = []
    steady = Phase(paced, subscribers)
    phases = {f"b{index}": burst for index, burst in enumerate(bursts)}
    phases["p"] = steady
    clients = [Subscriber(ws, phases, warm) for ws in connections]
    readers = [asyncio.ensure_future(client.run()) for client in clients]
    publisher = await websockets.connect(
        f"ws://{addresses[0]}/publish", compression=None, ping_interval=None
    )
    try:
        # Warm-up: every subscriber is subscribed end to end (through Redis too).
        warmups = 0
        deadline = time.monotonic() + CONNECT_LIMIT
        warmed = asyncio.ensure_future(warm.done.wait())
        while not warmed.done():
            if time.monotonic() > deadline:
                warmed.cancel()
                raise RuntimeError(f"only {warm.received} of {subscribers} subscribers warmed up")
            await publisher.send(message("w", warmups, size))
            warmups += 1
            await asyncio.wait({warmed}, timeout=0.05)
        await asyncio.sleep(0.5)  # the warm-ups in flight drain

        for index, burst in enumerate(bursts):
            servers_before, client_before = cpu_seconds(pids), time.process_time()
            machine_before = machine_busy()
            burst.first_publish = time.monotonic_ns()
            for seq in range(messages):
                await publisher.send(message(f"b{index}", seq, size))
            await burst.wait()
            span = (burst.last_receipt - burst.first_publish) / 1e9 or 1e-9
            servers = cpu_seconds(pids) - servers_before
            client_cpu = time.process_time() - client_before
            others = machine_busy() - machine_before - servers - client_cpu
            # How busy each side was during the burst (1.0: one CPU all the time), and
            # the CPU time each delivery cost the servers: a figure that other load on
            # the machine changes much less than msgs/s.
            bursts_busy.append(
                {
                    "servers_cpu": round(servers / span, 2),
                    "client_cpu": round(client_cpu / span, 2),
                    "other_processes_cpu": round(max(0.0, others) / span, 2),
                    "servers_us_per_delivery": round(servers / max(1, burst.received) * 1e6, 2),
                    "client_us_per_delivery": round(client_cpu / max(1, burst.received) * 1e6, 2),
                }
            )
            await asyncio.sleep(0.2)

        interval = 1 / rate
        start = time.monotonic()
        steady.first_publish = time.monotonic_ns()
        for seq in range(paced):
            delay = start + seq * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await publisher.send(message("p", seq, size))
        await steady.wait()
    finally:
        await publisher.close()
        for client in clients:
            client.leaving = True
        await asyncio.gather(*(ws.close() for ws in connections), return_exceptions=True)
        await asyncio.gather(*readers, return_exceptions=True)
    closed = [client.closed for client in clients if client.closed is not None]
    each = [{**b.summary(), **busy} for b, busy in zip(bursts, bursts_busy)]
    best = max(each, key=lambda figures: figures["delivered_per_second"])
    paced_figures = {**steady.summary(), "rate": rate}
    return {
        "connect_seconds": round(connect_seconds, 2),
        "warmup_messages": warmups,
        "burst": best,  # the burst least slowed down by the rest of the machine
        "bursts": each,
        "servers_us_per_delivery": statistics.median(
            figures["servers_us_per_delivery"] for figures in each
        ),
        "lost": sum(figures["lost"] for figures in [*each, paced_figures]),
        "out_of_order": sum(figures["out_of_order"] for figures in [*each, paced_figures]),
        "paced": paced_figures,
        "closed_by_server": len(closed),
    }


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class PinnedRedis(RedisServer):
    """tests/redis_server.py's server, on the servers' CPU."""

    def __init__(self, prefix: list[str]) -> None:
        super().__init__()
        self.prefix = prefix

    def command(self) -> list[str]:
        return [*self.prefix, *super().command()]


@contextlib.contextmanager
def servers(
    setup: Setup, prefix: list[str], max_queue: int, redis_url: str
) -> Iterator[list[Server]]:
    """The setup's uvicorn processes, listening; stopped by pid after."""
    url = redis_url if setup.backend == "redis" else "memory://"
    started: list[Server] = []
    with environment(FANOUT_BROADCAST_URL=url, FANOUT_MAX_QUEUE=str(max_queue)):
        try:
            for _ in range(setup.workers):
                port = free_port()
                command = uvicorn_command(APPS[setup.framework], port, "--no-access-log")
                server = Server([*prefix, *command], port, (HERE,))
                started.append(server)
                server.wait_until_listening()
            yield started
        except BaseException:
            for server in started:
                print(f"--- {server.address}:\n{server.output()[-3000:]}", file=sys.stderr)
            raise
        finally:
            for server in started:
                server.stop()


def run(
    subscribers: int,
    messages: int,
    paced: int,
    rate: float,
    size: int,
    placement: str,
    rounds: int = 1,
    setups: tuple[Setup, ...] = SETUPS,
) -> dict[str, Any]:
    """Every setup, one after the other; the results as written to the JSON file."""
    split = placement == "split" and (os.cpu_count() or 1) >= 2
    prefix = ["taskset", "-c", str(SERVER_CPU)] if split else []
    if split:
        os.sched_setaffinity(0, {CLIENT_CPU})
    # Room for the whole burst and the paced phase in each subscriber's queue.
    max_queue = max(1000, 2 * (messages + paced))
    results = []
    redis = PinnedRedis(prefix) if any(s.backend == "redis" for s in setups) else None
    try:
        if redis is not None:
            redis.start()
        for setup in setups:
            with servers(setup, prefix, max_queue, redis.url if redis else "") as started:
                addresses = [server.address for server in started]
                pids = [server.process.pid for server in started]
                if redis is not None and redis.server is not None and setup.backend == "redis":
                    pids.append(redis.server.process.pid)
                loop = new_loop()  # uvloop, as the servers run
                try:
                    figures = loop.run_until_complete(
                        measure(addresses, pids, subscribers, messages, paced, rate, size, rounds)
                    )
                finally:
                    loop.close()
            load = Path("/proc/loadavg").read_text().split()[0]
            results.append(
                {**asdict(setup), "subscribers": subscribers, "load_before": load, **figures}
            )
            print(f"  {setup.name}: {summary_line(results[-1])}", file=sys.stderr, flush=True)
    finally:
        if redis is not None:
            redis.close()
    return {
        "command": " ".join([".venv/bin/python", "benchmarks/fanout/run.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": machine(),
        "placement": (
            f"servers and redis-server on CPU {SERVER_CPU}, clients on CPU {CLIENT_CPU}"
            if split
            else "no pinning"
        ),
        "parameters": {
            "subscribers": subscribers,
            "burst_messages": messages,
            "bursts": rounds,
            "paced_messages": paced,
            "paced_rate": rate,
            "message_bytes": size,
            "bare_max_queue": max_queue,
        },
        "results": results,
        "ratios": ratios(results),
    }


def summary_line(result: dict[str, Any]) -> str:
    steady = result["paced"]
    rates = "/".join(str(b["delivered_per_second"]) for b in result["bursts"])
    others = "/".join(str(b["other_processes_cpu"]) for b in result["bursts"])
    return (
        f"{rates} msgs/s, p50 {steady['p50_ms']} ms, p99 {steady['p99_ms']} ms, "
        f"{result['servers_us_per_delivery']} us/delivery, other processes' CPU {others}, "
        f"lost {result['lost']}, out of order {result['out_of_order']}"
    )


def ratios(results: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per backend, bare's delivered msgs/s over Starlette+broadcaster's, and
    Starlette+broadcaster's server CPU per delivery over bare's (higher: bare better)."""
    by = {(r["framework"], r["backend"]): r for r in results}
    out: dict[str, dict[str, float]] = {"msgs_per_second": {}, "cpu_per_delivery": {}}
    for backend in ("memory", "redis"):
        bare, other = by.get(("bare", backend)), by.get(("starlette", backend))
        if bare is None or other is None:
            continue
        rate = other["burst"]["delivered_per_second"]
        if rate:
            out["msgs_per_second"][backend] = round(bare["burst"]["delivered_per_second"] / rate, 2)
        if bare["servers_us_per_delivery"]:
            out["cpu_per_delivery"][backend] = round(
                other["servers_us_per_delivery"] / bare["servers_us_per_delivery"], 2
            )
    return out


def machine() -> dict[str, Any]:
    return described_machine(
        ("uvicorn", "websockets", "uvloop", "starlette", "broadcaster", "redis")
    )


def table(report: dict[str, Any]) -> str:
    rows = [
        "| setup | workers | subscribers | delivered msgs/s | p50 ms | p99 ms "
        "| server µs/delivery | lost | out of order |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        burst, steady = r["burst"], r["paced"]  # the best burst
        rows.append(
            f"| {LABELS[r['framework']]}, {r['backend']} | {r['workers']} | {r['subscribers']} "
            f"| {burst['delivered_per_second']:,} "
            f"| {steady['p50_ms']:.1f} | {steady['p99_ms']:.1f} "
            f"| {r['servers_us_per_delivery']:.1f} | {r['lost']} | {r['out_of_order']} |"
        )
    rows.append("")
    for backend, ratio in report["ratios"]["msgs_per_second"].items():
        rows.append(f"- delivered msgs/s, bare / Starlette+broadcaster, {backend}: {ratio}x")
    for backend, ratio in report["ratios"]["cpu_per_delivery"].items():
        rows.append(f"- server CPU per delivery, Starlette+broadcaster / bare, {backend}: {ratio}x")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=200, help="messages per burst")
    parser.add_argument("--bursts", type=int, default=3, help="bursts (the best one counts)")
    parser.add_argument("--paced", type=int, default=25, help="paced messages")
    parser.add_argument("--rate", type=float, default=5.0, help="paced messages a second")
    parser.add_argument("--size", type=int, default=160, help="bytes per message")
    parser.add_argument("--placement", choices=("split", "free"), default="split")
    parser.add_argument("--only", choices=[s.name for s in SETUPS], action="append")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    setups = tuple(s for s in SETUPS if not args.only or s.name in args.only)
    report = run(
        args.subscribers,
        args.messages,
        args.paced,
        args.rate,
        args.size,
        args.placement,
        args.bursts,
        setups,
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
