"""An app for the real-server tests: streaming, uploads and disconnects.

The tests run in another process, so they cannot wait on this app's events directly:
`GET /wait/{name}` answers once the app has noted `name` (at once if it already has),
and `GET /mark/{name}` notes one. The HTTP client's own timeout bounds every wait.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from bare import Bare, Request
from bare.exceptions import ClientDisconnect
from bare.responses import StreamingResponse

app = Bare(max_body_size=64 * 1024)
events: list[str] = []
_noted: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)


def note(name: str) -> None:
    events.append(name)
    _noted[name].set()


@app.get("/stream")
async def stream(request: Request) -> StreamingResponse:
    async def numbers() -> AsyncIterator[str]:
        for i in range(5):
            yield f"line {i}\n"

    return StreamingResponse(numbers())


@app.get("/stepped")
async def stepped(request: Request) -> StreamingResponse:
    """Line i+1 waits for `/mark/next {i+1}`: the client must have read line i first."""

    async def lines() -> AsyncIterator[str]:
        yield "line 0\n"
        for i in range(1, 3):
            await _noted[f"next {i}"].wait()
            yield f"line {i}\n"

    return StreamingResponse(lines())


@app.post("/upload")
async def upload(request: Request) -> Any:
    """Count the body; `?tag=t` notes "receiving t" at the first chunk, and
    "disconnected t" if the client leaves before the end."""
    tag = request.query("tag")
    size = 0
    try:
        async for chunk in request.stream():
            if size == 0 and tag:
                note(f"receiving {tag}")
            size += len(chunk)
    except ClientDisconnect:
        note(f"disconnected {tag}")
        raise
    return {"received": size}


@app.get("/events")
async def seen(request: Request) -> list[str]:
    return events


@app.get("/wait/{name}")
async def wait(request: Request) -> list[str]:
    await _noted[request.path_params["name"]].wait()
    return events


@app.get("/mark/{name}")
async def mark(request: Request) -> list[str]:
    note(request.path_params["name"])
    return events


@app.get("/url")
async def url(request: Request) -> list[str]:
    return [str(request.url), request.url.path]


@app.get("/boom")
async def boom(request: Request) -> Any:
    raise RuntimeError("internal detail that must not leak")
