"""Driving an ASGI app in process as a server would, for the benchmarks.

`Client` runs an app's lifespan once, then sends it requests one after the other on one
event loop (uvloop when installed): each request gets a fresh scope (a shallow copy of a
template with six realistic headers), a `receive` that gives the empty body once and
`http.disconnect` after that, and a `send` that records the messages, and each answer is
checked against the expected status and body as it arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["SCOPE", "ASGIApp", "Call", "Client", "Message", "new_loop", "outcome"]

Message = dict[str, Any]
ASGIApp = Callable[[Message, Any, Any], Awaitable[None]]

SCOPE: Message = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.4"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/",
    "raw_path": b"/",
    "query_string": b"",
    "root_path": "",
    "headers": [
        (b"host", b"localhost:8000"),
        (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
        (b"accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        (b"accept-encoding", b"gzip, deflate, br, zstd"),
        (b"accept-language", b"en-US,en;q=0.5"),
        (b"connection", b"keep-alive"),
    ],
    "client": ("127.0.0.1", 51234),
    "server": ("127.0.0.1", 8000),
}

# One request: path, raw_path, expected status, expected body (None: not checked).
Call = tuple[str, bytes, int, "bytes | None"]


def outcome(events: list[Message]) -> tuple[int, bytes, dict[str, str]]:
    """Status, whole body and headers of a recorded response; AssertionError if malformed."""
    assert events, "no response"
    start, *bodies = events
    assert start["type"] == "http.response.start", start
    assert bodies and all(m["type"] == "http.response.body" for m in bodies), events
    assert not bodies[-1].get("more_body", False), "the response never ended"
    headers = {
        bytes(n).decode("latin-1").lower(): bytes(v).decode("latin-1") for n, v in start["headers"]
    }
    return start["status"], b"".join(m.get("body", b"") for m in bodies), headers


class Client:
    """Drives one ASGI app on `loop` as a server would (see the module doc)."""

    def __init__(
        self, app: ASGIApp, loop: asyncio.AbstractEventLoop, template: Message | None = None
    ) -> None:
        self.app = app
        self.loop = loop
        self.template = SCOPE if template is None else template
        self.received = False
        self.events: list[Message] = []
        self._lifespan_in: asyncio.Queue[Message] | None = None
        self._lifespan_out: asyncio.Queue[Message] | None = None
        self._lifespan_task: asyncio.Future[None] | None = None

    async def receive(self) -> Message:
        if self.received:
            return {"type": "http.disconnect"}
        self.received = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def _run(self, requests: list[Call]) -> None:
        app = self.app
        template = self.template
        receive = self.receive
        events = self.events
        append = events.append

        async def send(message: Message) -> None:
            append(message)

        for path, raw_path, status, body in requests:
            scope = template.copy()
            scope["path"] = path
            scope["raw_path"] = raw_path
            self.received = False
            events.clear()
            await app(scope, receive, send)
            if (
                len(events) != 2
                or events[0]["status"] != status
                or (body is not None and events[1]["body"] != body)
            ):
                actual = outcome(events)[:2]
                assert actual[0] == status, (path, actual)
                assert body is None or actual[1] == body, (path, actual)

    def run(self, requests: list[Call]) -> None:
        """Send `requests` one after the other, checking each answer."""
        self.loop.run_until_complete(self._run(requests))

    def probe(self, request: Call) -> tuple[int, bytes, dict[str, str]]:
        """Send one request; its status, body and headers."""
        path, raw_path = request[:2]
        scope = {**self.template, "path": path, "raw_path": raw_path}
        events: list[Message] = []

        async def send(message: Message) -> None:
            events.append(message)

        self.received = False
        self.loop.run_until_complete(self.app(scope, self.receive, send))
        return outcome(events)

    # -- lifespan -----------------------------------------------------------------

    def start(self) -> None:
        """Run the app's lifespan startup, as a server does before the first request."""
        self.loop.run_until_complete(self._start())

    async def _start(self) -> None:
        self._lifespan_in = asyncio.Queue()
        self._lifespan_out = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.4"}, "state": {}}
        self._lifespan_task = asyncio.ensure_future(
            self.app(scope, self._lifespan_in.get, self._lifespan_out.put)
        )
        await self._lifespan_in.put({"type": "lifespan.startup"})
        message = await self._lifespan_out.get()
        assert message["type"] == "lifespan.startup.complete", message

    def stop(self) -> None:
        """Run the lifespan shutdown and wait for the lifespan call to return."""
        self.loop.run_until_complete(self._stop())

    async def _stop(self) -> None:
        assert self._lifespan_in and self._lifespan_out and self._lifespan_task
        await self._lifespan_in.put({"type": "lifespan.shutdown"})
        message = await self._lifespan_out.get()
        assert message["type"] == "lifespan.shutdown.complete", message
        await self._lifespan_task


def new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is in the bench extra where it builds
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
