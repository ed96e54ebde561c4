"""The server's clock as server-sent events, shown live by the tasks app's index page.

`GET /clock` sends a `tick` event every `INTERVAL` seconds, numbered from 1, or on from
the `Last-Event-ID` a reconnecting browser sends; its data is the time (UTC, ISO 8601)
and how many clocks this process is streaming. `examples/static/clock.js` reads it with
`EventSource`.

A stream ends when the client leaves (uvicorn tells the app, and the generator's
`finally:` runs) and when the server is stopped: see `end_streams_on_signals`.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import threading
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from types import FrameType
from typing import Any

from bare import Request, Router
from bare.sse import EventSourceResponse, ServerSentEvent, close_streams, last_event_id

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


# -- ending the streams when the server stops -----------------------------------------
#
# uvicorn waits for every open response before it stops, and tells the app (lifespan
# shutdown) only after that: an open clock would hold Ctrl+C up for as long as its tab
# stays open. So while the app runs, SIGINT and SIGTERM first end every event stream
# (`close_streams()`, safe in a signal handler), then go on to the server's own handler.

Handler = Callable[[int, FrameType | None], Any]
_chained: dict[int, tuple[Handler, Handler]] = {}  # signal: (the server's, ours)


def end_streams_on_signals() -> None:
    """Put `close_streams()` in front of the server's SIGINT and SIGTERM handlers.

    Called at startup, when the server has set its handlers. Does nothing off the main
    thread (only it may set handlers; `TestClient` runs the app in another), and for a
    signal that is ignored or has its default action, which ends the process anyway.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for number in (signal.SIGINT, signal.SIGTERM):
        servers = signal.getsignal(number)
        if not callable(servers) or number in _chained:
            continue

        def ours(signum: int, frame: FrameType | None, servers: Handler = servers) -> None:
            close_streams()
            servers(signum, frame)

        signal.signal(number, ours)
        _chained[number] = (servers, ours)


def restore_signal_handlers() -> None:
    """Give the server its own handlers back (at shutdown)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for number, (servers, ours) in list(_chained.items()):
        if signal.getsignal(number) is ours:  # else someone replaced ours: leave theirs
            signal.signal(number, servers)
        del _chained[number]
