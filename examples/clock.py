"""The server's clock as server-sent events, shown live by the tasks app's index page.

`GET /clock` sends a `tick` event every `INTERVAL` seconds, numbered from 1, or on from
the `Last-Event-ID` a reconnecting browser sends; its data is the time (UTC, ISO 8601)
and how many clocks this process is streaming. `examples/static/clock.js` reads it with
`EventSource`.

A stream ends when the client leaves (uvicorn tells the app, and the generator's
`finally:` runs) and when the server is stopped: the tasks app chains
`bare.shutdown.close_on_signals` in front of the server's SIGINT and SIGTERM handlers, since
uvicorn waits for every open response before it stops, and an open clock would otherwise
hold Ctrl+C up for as long as its tab stays open.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import datetime, timezone

from bare import Request, Router
from bare.sse import EventSourceResponse, ServerSentEvent, last_event_id

INTERVAL = 1.0  # seconds between two ticks (the tests make it shorter)
PING = 15.0  # seconds between keep-alive comments, for proxies that drop quiet connections
MAX_ID_DIGITS = 18  # a longer Last-Event-ID is not one of ours: start again from 1

router = Router()
watching = 0  # clocks streaming in this process


@router.get("/clock")
async def clock(request: Request) -> EventSourceResponse:
    """A tick a second, until the client leaves or the server stops."""
    return EventSourceResponse(ticks(resumed_from(request)), ping=PING)


def resumed_from(request: Request) -> int:
    """The id of the last tick a reconnecting browser saw, or 0."""
    seen = last_event_id(request)
    # Client input: ASCII digits only (str.isdigit also takes "²", which int() refuses),
    # and few of them, so int() stays cheap and never hits Python's digit limit.
    if seen is None or not (seen.isascii() and seen.isdigit() and len(seen) <= MAX_ID_DIGITS):
        return 0
    return int(seen)


async def ticks(after: int) -> AsyncIterator[ServerSentEvent]:
    global watching
    watching += 1
    try:
        for number in itertools.count(after + 1):
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            data = {"time": now, "watching": watching}
            yield ServerSentEvent(data, event="tick", id=str(number))
            await asyncio.sleep(INTERVAL)
    finally:  # the client left, or the server is stopping
        watching -= 1
