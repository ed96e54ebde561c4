"""The fan-out benchmark's Starlette app, written as the `broadcaster` package's README
writes its chat: a task group in which one task reads the client until it leaves and
the other forwards the subscription to it.

- `/subscribe`: subscribes to the channel "feed", says "ready", then forwards every event.
- `/publish`: publishes every message it receives to "feed".

Environment: `FANOUT_BROADCAST_URL` (memory:// by default, or redis://host:port/db);
`FANOUT_PROFILE=path` as for bare_app.py. broadcaster's queues are unbounded: there is no
queue size to set.

Two workarounds for broadcaster 0.3.1 with redis-py 8, which the benchmark needs to get any
message through Redis at all (both are harmless with memory://):

- Its Redis listener task wakes up when the first channel is being subscribed, finds
  redis-py's PubSub not subscribed yet (redis-py records the channel after SUBSCRIBE is
  sent) and stops listening for good. A subscription held for the app's life on another
  channel, made first, means that "feed" is subscribed with a channel already recorded,
  and the listener stays.
- Subscribers arriving while a worker's first subscription to "feed" waits on Redis each
  replace broadcaster's set of queues for it, and all but the last receive nothing. The
  benchmark's client connects one subscriber to each worker first, then the others.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

import anyio
from _profile import profiled
from broadcaster import Broadcast
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

broadcast = Broadcast(os.environ.get("FANOUT_BROADCAST_URL", "memory://"))


async def subscribe(websocket: WebSocket) -> None:
    await websocket.accept()
    async with anyio.create_task_group() as task_group:

        async def receive() -> None:
            async for _ in websocket.iter_text():  # until the client leaves
                pass
            task_group.cancel_scope.cancel()

        task_group.start_soon(receive)
        async with broadcast.subscribe(channel="feed") as subscriber:
            await websocket.send_text("ready")
            async for event in subscriber:
                await websocket.send_text(event.message)


async def publish(websocket: WebSocket) -> None:
    await websocket.accept()
    async for message in websocket.iter_text():
        await broadcast.publish(channel="feed", message=message)


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    with profiled():
        await broadcast.connect()
        try:
            async with broadcast.subscribe(channel="keep-listening"):
                yield
        finally:
            await broadcast.disconnect()


app = Starlette(
    routes=[WebSocketRoute("/subscribe", subscribe), WebSocketRoute("/publish", publish)],
    lifespan=lifespan,
)
