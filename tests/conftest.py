"""Test helpers: drive an ASGI app in process, as a server would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest

from redis_server import RedisServer


@dataclass
class Reply:
    """What an app sent back for one request."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    messages: list[dict[str, Any]] = field(default_factory=list)
    receives: int = 0

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.decode("latin-1").lower() == name:
                return value.decode("latin-1")
        return None

    def header_list(self, name: str) -> list[str]:
        return [v.decode("latin-1") for k, v in self.headers if k.decode("latin-1") == name]


def call(
    app: Any,
    method: str,
    path: str,
    *,
    query: bytes = b"",
    body: bytes = b"",
    chunks: list[bytes] | None = None,
    disconnect: bool = False,
    headers: list[tuple[bytes, bytes]] | None = None,
    root_path: str = "",
    server: tuple[str, int] = ("testserver", 80),
) -> Reply:
    """Send one HTTP request to `app` in process and collect the response.

    `chunks` sends the body in several `http.request` messages; `disconnect` makes the
    client go away after them instead of waiting. `Reply.receives` counts the calls
    the app made to `receive`.

    Once the body is consumed, `receive()` behaves as a server's: after the response
    has started it waits for the response to end and then says `http.disconnect`.
    Before that, a client would wait for the response forever, so the call fails the
    test instead of hanging it.
    """
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": root_path + path,
        "raw_path": quote(root_path + path, safe="/", errors="surrogatepass").encode("ascii"),
        "root_path": root_path,
        "query_string": query,
        "headers": headers or [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": server,
    }
    if chunks is None:
        pending = [{"type": "http.request", "body": body, "more_body": False}]
    else:
        pending = [
            {"type": "http.request", "body": chunk, "more_body": disconnect or i < len(chunks) - 1}
            for i, chunk in enumerate(chunks)
        ]
    if disconnect:
        pending.append({"type": "http.disconnect"})
    sent: list[dict[str, Any]] = []
    receives = 0
    problems: list[str] = []
    complete = asyncio.Event()  # the response has been sent in full

    async def receive() -> dict[str, Any]:
        nonlocal receives
        receives += 1
        if pending:
            return pending.pop(0)
        if not sent:
            # NOTE: kept aside too: bare would turn the AssertionError into a plain 500.
            problems.append(
                "the app called receive() again after the body was consumed, before "
                "starting its response: a client would wait for that response forever "
                "(pass disconnect=True to make the client go away)"
            )
            raise AssertionError(problems[-1])
        await complete.wait()  # a streaming response's watcher: told when it is over
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            complete.set()

    asyncio.run(app(scope, receive, send))
    if problems:
        raise AssertionError(problems[0])
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    if start is None:
        return Reply(0, [], b"", sent, receives)
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Reply(start["status"], list(start.get("headers", [])), content, sent, receives)


@pytest.fixture
def asgi_call() -> Callable[..., Reply]:
    return call


def websocket_session(
    app: Any,
    path: str,
    incoming: list[dict[str, Any]],
    *,
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    extensions: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Drive a WebSocket handler in process: `websocket.connect`, then `incoming`, then
    a disconnect (1000); returns every message the app sent.

    A `receive()` after the disconnect breaks the ASGI protocol: it fails the test.
    """
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": headers or [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "subprotocols": [],
        "extensions": extensions or {},
    }
    pending = [
        {"type": "websocket.connect"},
        *incoming,
        {"type": "websocket.disconnect", "code": 1000},
    ]
    sent: list[dict[str, Any]] = []
    problems: list[str] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        # NOTE: kept aside too: bare would log it and close with 1011.
        problems.append("the app called receive() after websocket.disconnect")
        raise AssertionError(problems[-1])

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    if problems:
        raise AssertionError(problems[0])
    return sent


@pytest.fixture
def ws_session() -> Callable[..., list[dict[str, Any]]]:
    return websocket_session


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A real `redis-server` for this test module (see tests/redis_server.py)."""
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def handlers() -> Iterator[list[int]]:
    """Fake server handlers on SIGINT and SIGTERM, recording the signals; after the test,
    bare's chained handlers are taken off (`bare.shutdown.restore_signals`) and the
    original ones put back."""
    import signal

    from bare.shutdown import restore_signals

    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    received: list[int] = []
    try:
        for number in saved:
            signal.signal(number, lambda signum, frame: received.append(signum))
        yield received
    finally:
        asyncio.run(restore_signals())
        for number, handler in saved.items():
            signal.signal(number, handler)
