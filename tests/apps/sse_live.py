"""An app for the real-server SSE tests: events released one at a time by the test.

`GET /events` streams an event each time `GET /release` is called, so the test can
show that event N arrives before the app produces N+1. `GET /closes` says how many
streams' `finally:` blocks have run, and `GET /closed/{count}` answers once `count`
have (the HTTP client's timeout bounds the wait). `GET /shutdown` calls
`close_streams()`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from bare import Bare, Request
from bare.responses import PlainTextResponse
from bare.sse import EventSourceResponse, ServerSentEvent, close_streams, last_event_id

app = Bare()
_release: asyncio.Queue[int] = asyncio.Queue()
_closes = 0  # how many streams' finally blocks have run
_closed = asyncio.Condition()


@app.get("/events")
async def events(request: Request) -> EventSourceResponse:
    given = last_event_id(request) or ""
    start = int(given) if given.isascii() and given.isdigit() else 0

    async def stream() -> AsyncIterator[ServerSentEvent]:
        try:
            n = start
            while True:
                await _release.get()
                n += 1
                yield ServerSentEvent({"n": n}, event="tick", id=str(n))
        finally:
            global _closes
            async with _closed:
                _closes += 1
                _closed.notify_all()

    return EventSourceResponse(stream(), ping=None)


@app.get("/release")
async def release(request: Request) -> PlainTextResponse:
    _release.put_nowait(1)
    return PlainTextResponse("ok")


@app.get("/closed/{count:int}")
async def closed(request: Request) -> PlainTextResponse:
    async with _closed:
        await _closed.wait_for(lambda: _closes >= request.path_params["count"])
    return PlainTextResponse("closed")


@app.get("/closes")
async def closes(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(_closes))


@app.get("/shutdown")
async def shutdown(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(close_streams()))
