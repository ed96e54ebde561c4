"""An app for the real-server tests: streaming, uploads and disconnects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from bare import Bare, Request
from bare.exceptions import ClientDisconnect
from bare.responses import StreamingResponse

app = Bare(max_body_size=64 * 1024)
events: list[str] = []


@app.get("/stream")
async def stream(request: Request) -> StreamingResponse:
    async def numbers() -> AsyncIterator[str]:
        for i in range(5):
            yield f"line {i}\n"
            await asyncio.sleep(0.01)

    return StreamingResponse(numbers())


@app.post("/upload")
async def upload(request: Request) -> Any:
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
    except ClientDisconnect:
        events.append("disconnected")
        raise
    return {"received": size}


@app.get("/events")
async def seen(request: Request) -> list[str]:
    return events


@app.get("/boom")
async def boom(request: Request) -> Any:
    raise RuntimeError("internal detail that must not leak")
