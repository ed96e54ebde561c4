"""The fan-out benchmark's floor: bare's design written by hand as a raw ASGI app, with
nothing else. Each subscriber has a deque and a future to wake it; a publish appends to
every deque and wakes whoever waits; each subscriber's handler sends what its deque holds.

No limits, no checks, no framework: what is left is what uvicorn and the websockets
library cost per delivery, plus the least a queue per subscriber costs. memory:// only,
one worker.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from _profile import profiled

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


class Member:
    __slots__ = ("gone", "items", "waiter")

    def __init__(self) -> None:
        self.items: deque[str] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.gone = False

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


members: set[Member] = set()


async def subscribe(receive: Receive, send: Send) -> None:
    member = Member()
    members.add(member)

    async def watch() -> None:
        while (await receive())["type"] != "websocket.disconnect":
            pass
        member.gone = True
        member.wake()

    watcher = asyncio.ensure_future(watch())
    loop = asyncio.get_running_loop()
    items = member.items
    try:
        await send({"type": "websocket.send", "text": "ready"})
        while not member.gone:
            if items:
                await send({"type": "websocket.send", "text": items.popleft()})
            else:
                member.waiter = loop.create_future()
                await member.waiter
    finally:
        members.discard(member)
        watcher.cancel()


async def publish(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message["text"]
        for member in members:
            member.items.append(text)
            member.wake()


async def lifespan(receive: Receive, send: Send) -> None:
    with profiled():
        await receive()  # lifespan.startup
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
    await send({"type": "lifespan.shutdown.complete"})


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
    elif scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        if scope["path"] == "/subscribe":
            await subscribe(receive, send)
        else:
            await publish(receive)
