"""Fan-out in process: one message published to 1,000 subscribers of one channel on the
memory backend, timed until every subscriber task has received it.

Next to bare: the `broadcaster` package's memory backend (when installed; skipped
otherwise) and a floor, the same fan-out written by hand with one `asyncio.Queue` per
subscriber. Each round publishes one message; a round's time is the time per publish,
fanned out and delivered.

    .venv/bin/python -m pytest benchmarks/test_bench_broadcast.py --benchmark-only \
        --benchmark-columns=min,median,ops,rounds
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from bare.broadcast import Broadcast

SUBSCRIBERS = 1000
GROUP = "broadcast-fan-out-1000"

Publish = Callable[[str, Any], Awaitable[None]]


class FanOut:
    """`SUBSCRIBERS` tasks that count what they receive; `round()` publishes one message
    and returns once every task has it."""

    def __init__(self, publish: Publish, streams: list[AsyncIterator[Any]]) -> None:
        self.publish = publish
        self.received = 0
        self.target = 0
        self.done = asyncio.Event()
        self.tasks = [asyncio.ensure_future(self._consume(stream)) for stream in streams]

    async def _consume(self, stream: AsyncIterator[Any]) -> None:
        async for _ in stream:
            self.received += 1
            if self.received == self.target:
                self.done.set()

    async def round(self) -> None:
        self.done.clear()
        self.target += len(self.tasks)
        await self.publish("bench", {"text": "hello", "n": 1})
        await self.done.wait()

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def _bare() -> tuple[FanOut, Callable[[], Awaitable[None]]]:
    broadcast = Broadcast("memory://")
    await broadcast.connect()
    subscribers = [broadcast.subscribe("bench") for _ in range(SUBSCRIBERS)]
    for subscriber in subscribers:
        await subscriber.__aenter__()
    return FanOut(broadcast.publish, list(subscribers)), broadcast.disconnect


async def _broadcaster() -> tuple[FanOut, Callable[[], Awaitable[None]]]:
    import broadcaster

    broadcast = broadcaster.Broadcast("memory://")
    await broadcast.connect()
    contexts: list[AbstractAsyncContextManager[Any]] = [
        broadcast.subscribe("bench") for _ in range(SUBSCRIBERS)
    ]
    streams = [await context.__aenter__() for context in contexts]

    async def stop() -> None:
        for context in contexts:
            await context.__aexit__(None, None, None)
        await broadcast.disconnect()

    return FanOut(broadcast.publish, streams), stop


async def _floor() -> tuple[FanOut, Callable[[], Awaitable[None]]]:
    queues: list[asyncio.Queue[Any]] = [asyncio.Queue() for _ in range(SUBSCRIBERS)]

    async def publish(channel: str, message: Any) -> None:
        for queue in queues:
            queue.put_nowait(message)

    async def stream(queue: asyncio.Queue[Any]) -> AsyncIterator[Any]:
        while True:
            yield await queue.get()

    async def stop() -> None:
        pass

    return FanOut(publish, [stream(queue) for queue in queues]), stop


MAKERS = {"bare": _bare, "broadcaster": _broadcaster, "floor_asyncio_queues": _floor}


@pytest.fixture(params=list(MAKERS))
def fan_out(request: pytest.FixtureRequest, loop: asyncio.AbstractEventLoop) -> Iterator[FanOut]:
    if request.param == "broadcaster":
        pytest.importorskip("broadcaster", reason="the broadcaster package is not installed")
    fan, stop = loop.run_until_complete(MAKERS[request.param]())
    try:
        yield fan
    finally:
        loop.run_until_complete(fan.stop())
        loop.run_until_complete(stop())


@pytest.mark.benchmark(group=GROUP)
def test_publish_to_1000_subscribers(
    benchmark: Any, fan_out: FanOut, loop: asyncio.AbstractEventLoop
) -> None:
    loop.run_until_complete(fan_out.round())
    assert fan_out.received == SUBSCRIBERS
    benchmark.extra_info.update(subscribers=SUBSCRIBERS)
    benchmark(lambda: loop.run_until_complete(fan_out.round()))
    assert fan_out.received == fan_out.target  # every round reached every subscriber
