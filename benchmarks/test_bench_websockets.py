"""WebSocket routes in process: what the limits cost per message and per connection.

One connection receives `MESSAGES` text messages (`async for message in ws`), or
`CONNECTIONS` connections are opened, accepted and left by the client, through the app's
ASGI callable with a `receive` that hands out prepared messages and a `send` that keeps
nothing. A round's time divided by its count is the cost of one message (one
connection), with the server's own work left out: on a real server each message costs
microseconds more, so these are the largest share the limits can take.

Routes: limits off (the code path of every route before the limits existed), the
message size limit alone, size and rate (what the defaults check, with a rate too high
to be reached by the burst of the benchmark), and every limit on (idle timeout too).

    .venv/bin/python -m pytest benchmarks/test_bench_websockets.py --benchmark-only \
        --benchmark-columns=min,median,ops,rounds --benchmark-group-by=group
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import pytest

from bare import Bare, WebSocket

MESSAGES = 1000
CONNECTIONS = 1000

ROUTES: dict[str, dict[str, Any]] = {
    "off": {"max_message_size": None, "message_rate": None},
    "size": {"message_rate": None},
    "size_rate": {"message_rate": 1e9},
    "all": {"message_rate": 1e9, "idle_timeout": 3600.0},
}

SCOPE: dict[str, Any] = {
    "type": "websocket",
    "asgi": {"version": "3.0", "spec_version": "2.4"},
    "http_version": "1.1",
    "scheme": "ws",
    "path": "/",
    "raw_path": b"/",
    "query_string": b"",
    "root_path": "",
    "headers": [(b"host", b"localhost:8000"), (b"sec-websocket-version", b"13")],
    "client": ("127.0.0.1", 51234),
    "server": ("127.0.0.1", 8000),
    "subprotocols": [],
}
CONNECT = {"type": "websocket.connect"}
TEXT = {"type": "websocket.receive", "text": "hello, room"}
LEAVE = {"type": "websocket.disconnect", "code": 1000}


def make_app(kind: str) -> Bare:
    app = Bare(openapi_url=None, docs_url=None)
    received = [0]

    async def drain(ws: WebSocket) -> None:
        await ws.accept()
        async for _ in ws:
            received[0] += 1

    app.add_websocket_route("/", drain, **ROUTES[kind])
    app.state.received = received
    return app


async def session(app: Bare, messages: int) -> None:
    pending: list[MutableMapping[str, Any]] = [LEAVE, *([TEXT] * messages), CONNECT]
    pop = pending.pop

    async def receive() -> MutableMapping[str, Any]:
        return pop()

    async def send(message: MutableMapping[str, Any]) -> None:
        pass

    await app(dict(SCOPE), receive, send)


async def many_messages(app: Bare) -> None:
    await session(app, MESSAGES)


async def many_connections(app: Bare) -> None:
    for _ in range(CONNECTIONS):
        await session(app, 0)


@pytest.mark.parametrize("kind", list(ROUTES))
@pytest.mark.benchmark(group=f"websocket-{MESSAGES}-messages")
def test_messages(benchmark: Any, kind: str, loop: asyncio.AbstractEventLoop) -> None:
    app = make_app(kind)
    loop.run_until_complete(many_messages(app))
    assert app.state.received[0] == MESSAGES
    benchmark.extra_info.update(messages=MESSAGES)
    benchmark(lambda: loop.run_until_complete(many_messages(app)))
    assert app.state.received[0] % MESSAGES == 0


@pytest.mark.parametrize("kind", list(ROUTES))
@pytest.mark.benchmark(group=f"websocket-{CONNECTIONS}-connections")
def test_connections(benchmark: Any, kind: str, loop: asyncio.AbstractEventLoop) -> None:
    app = make_app(kind)
    loop.run_until_complete(many_connections(app))
    benchmark.extra_info.update(connections=CONNECTIONS)
    benchmark(lambda: loop.run_until_complete(many_connections(app)))
