"""A bare app behind CompressionMiddleware, for the real-server tests.

The tests run in another process and cannot wait on this app's events directly:
`GET /mark/{name}` notes `name`, and `GET /wait/{name}` answers once it has been noted.
`/stepped/{tag}` sends line i+1 only after `/mark/{tag} {i+1}`, so a client that reads
line i before marking proves that line i reached it on its own.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from bare import Bare, Request
from bare.middleware.compression import CompressionMiddleware
from bare.responses import JSONResponse, StreamingResponse

app = Bare()
app.add_middleware(CompressionMiddleware)
_noted: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)

STEPS = 4
ITEMS = [{"id": i, "name": f"item {i}", "tags": ["a", "b", "c"]} for i in range(2000)]


def line(tag: str, i: int) -> str:
    """Line i of `/stepped/{tag}`: short, as an event of a long poll would be."""
    return f'{{"tag": "{tag}", "step": {i}}}\n'


@app.get("/stepped/{tag}")
async def stepped(request: Request) -> StreamingResponse:
    tag = request.path_params["tag"]

    async def lines() -> AsyncIterator[str]:
        try:
            yield line(tag, 0)
            for i in range(1, STEPS):
                await _noted[f"{tag} {i}"].wait()
                yield line(tag, i)
        finally:
            _noted[f"closed {tag}"].set()

    return StreamingResponse(lines(), content_type="application/x-ndjson")


@app.get("/items")
async def items(request: Request) -> JSONResponse:
    return JSONResponse(ITEMS)


@app.get("/wait/{name}")
async def wait(request: Request) -> dict[str, Any]:
    await _noted[request.path_params["name"]].wait()
    return {"noted": request.path_params["name"]}


@app.get("/mark/{name}")
async def mark(request: Request) -> dict[str, Any]:
    _noted[request.path_params["name"]].set()
    return {"noted": request.path_params["name"]}
