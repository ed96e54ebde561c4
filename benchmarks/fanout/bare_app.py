"""The fan-out benchmark's bare app: what a bare user writes for a live feed.

- `/subscribe`: joins the room "feed" (`bare.broadcast.Rooms`), says "ready" once it is
  in, then forwards everything sent to the room; the client says nothing back.
- `/publish`: sends every message it receives to the room. It is the one client allowed
  to talk fast, so its route has no rate limit (`message_rate=None`).

Environment: `FANOUT_BROADCAST_URL` (memory:// by default, or redis://host:port/db) and
`FANOUT_MAX_QUEUE`, each subscriber's queue (bare's default, 1000, when unset): the
benchmark sizes it for its burst so that no subscriber is dropped. `FANOUT_PROFILE=path`
runs the worker under cProfile and writes the stats to `path.<pid>` at shutdown.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

from _profile import profiled

from bare import Bare, WebSocket
from bare.broadcast import Broadcast, Rooms

broadcast = Broadcast(
    os.environ.get("FANOUT_BROADCAST_URL", "memory://"),
    max_queue=int(os.environ.get("FANOUT_MAX_QUEUE", "1000")),
)
rooms = Rooms(broadcast)


@contextlib.asynccontextmanager
async def lifespan(app: Bare) -> AsyncIterator[None]:
    with profiled():
        async with broadcast:
            yield


app = Bare(lifespan=lifespan)


@app.websocket("/subscribe")
async def subscribe(websocket: WebSocket) -> None:
    await websocket.accept()
    async with rooms.join("feed", websocket):
        await websocket.send_text("ready")
        async for _ in websocket:  # until the client leaves
            pass


@app.websocket("/publish", message_rate=None)
async def publish(websocket: WebSocket) -> None:
    await websocket.accept()
    async for message in websocket:
        await rooms.send("feed", message)
