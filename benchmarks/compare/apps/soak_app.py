"""bare's compare app with a view from inside, for `benchmarks/compare/soak.py`.

The compare app (`bare_app`) is mounted at the root, as it is; next to it:

- `GET /_soak/stats`: JSON `{"tasks", "rss_kib", "fds", "threads", "running"}`, the
  number of asyncio tasks of the server's loop (this request's own included), the
  process's usage as `/proc/self` tells it, and the tasks counted by what they run
  (their coroutine's qualified name);
- `GET /_soak/events`: server-sent events, one every few milliseconds until the client
  leaves (the churn of streams the soak opens and drops);
- WebSocket `/_soak/ws`: echoes text messages until the client closes.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from benchmarks.compare.apps.bare_app import app as compare_app
from benchmarks.compare.memory import usage

from bare import Bare, Request, WebSocket
from bare.sse import EventSourceResponse

__all__ = ["app"]

EVENT_EVERY = 0.005  # seconds between two events of a stream

app = Bare()


@app.get("/_soak/stats")
async def stats(request: Request) -> dict[str, Any]:
    now = usage(os.getpid())
    tasks = asyncio.all_tasks()
    # What the tasks run, so that a count that grows says where from.
    running = Counter(getattr(task.get_coro(), "__qualname__", "?") for task in tasks)
    return {
        "tasks": len(tasks),
        "rss_kib": now.rss_kib,
        "fds": now.fds,
        "threads": now.threads,
        "running": dict(running.most_common()),
    }


@app.get("/_soak/events")
async def events(request: Request) -> EventSourceResponse:
    async def ticks() -> AsyncIterator[str]:
        n = 0
        while True:
            n += 1
            yield str(n)
            await asyncio.sleep(EVENT_EVERY)

    return EventSourceResponse(ticks(), ping=None)


@app.websocket("/_soak/ws")
async def echo(ws: WebSocket) -> None:
    async with ws:
        async for message in ws:
            if isinstance(message, str):
                await ws.send_text(message)


app.mount("", compare_app)
