"""Raw ASGI for the tests, no framework at all: pieces of bare-minimum apps for the
middleware tests, and a scope and a client to drive one HTTP request by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from bare.types import ASGIApp, Message, Receive, Scope, Send


async def serve_other_scopes(scope: Scope, receive: Receive, send: Send) -> None:
    """What a raw test app does with a scope that is not HTTP: complete the lifespan's
    startup and shutdown, or accept a WebSocket, send "ws ok" and close it."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].rpartition(".")[2]
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "ws ok"})
        await send({"type": "websocket.close", "code": 1000})


# -- one HTTP request, driven by hand ------------------------------------------------------

PATHSEND = {"http.response.pathsend": {}}  # `extensions=` of a server that sends files by path


def http_scope(
    path: str = "/",
    method: str = "GET",
    *,
    headers: Iterable[tuple[bytes, bytes]] = ((b"host", b"testserver"),),
    spec_version: str | None = None,
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The scope of an HTTP/1.1 request from 127.0.0.1 to testserver:80, as a server
    makes it. `spec_version` goes in `asgi` when given (the ASGI spec says 2.0 when
    absent); `extensions` are what the server offers (see PATHSEND)."""
    asgi = (
        {"version": "3.0"}
        if spec_version is None
        else {"version": "3.0", "spec_version": spec_version}
    )
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": asgi,
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": list(headers),
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    if extensions is not None:
        scope["extensions"] = extensions
    return scope


def is_last(message: Message) -> bool:
    """Whether `message` completes a response: its last body message, or a file the
    server sends by path."""
    kind = message["type"]
    if kind == "http.response.body":
        return not message.get("more_body", False)
    return kind == "http.response.pathsend"


class RawClient:
    """The client of one request, as a server shows it to the app.

    `receive()` hands out the body, `chunks` as `http.request` messages (the last with
    `more_body=False`; none at all for `chunks=()`), then waits until the client leaves
    and says `http.disconnect`. The client leaves when `leave` is set: by the test, or,
    with `leave_when_done`, as soon as the response is complete (see `is_last`).
    `send()` records every message in `sent`.
    """

    def __init__(self, chunks: Iterable[bytes] = (b"",), *, leave_when_done: bool = False) -> None:
        items = list(chunks)
        self.incoming: list[Message] = [
            {"type": "http.request", "body": chunk, "more_body": i < len(items) - 1}
            for i, chunk in enumerate(items)
        ]
        self.sent: list[Message] = []
        self.leave = asyncio.Event()
        self.leave_when_done = leave_when_done

    async def receive(self) -> Message:
        if self.incoming:
            return self.incoming.pop(0)
        await self.leave.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        if self.leave_when_done and is_last(message):
            self.leave.set()

    def run(self, app: ASGIApp, scope: Scope) -> None:
        """Serve the request: `app(scope, self.receive, self.send)` in a new event loop."""
        asyncio.run(app(scope, self.receive, self.send))

    def start(self) -> Message:
        """The response's `http.response.start` message."""
        return next(m for m in self.sent if m["type"] == "http.response.start")

    def bodies(self) -> list[bytes]:
        """The `body` of each body message sent, in order (empty ones included)."""
        return [m.get("body", b"") for m in self.sent if m["type"] == "http.response.body"]

    def types(self) -> list[str]:
        """The type of each message sent, in order."""
        return [m["type"] for m in self.sent]
