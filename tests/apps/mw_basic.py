"""An app for the real-server tests of the request id, timing and logging middleware."""

from __future__ import annotations

from typing import Any

from bare import Bare, Request
from bare.middleware.logging import LoggingMiddleware
from bare.middleware.request_id import RequestIdMiddleware
from bare.middleware.timing import ServerTimingMiddleware

app = Bare()


@app.get("/")
async def home(request: Request) -> dict[str, Any]:
    request.timing("db", 12.5, "primary")
    return {"id": request.id}


app.add_middleware(LoggingMiddleware)
app.add_middleware(RequestIdMiddleware)
app.add_middleware(ServerTimingMiddleware)
