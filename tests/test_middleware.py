"""Middleware that add response headers through the scope instead of wrapping send."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from bare import Bare, Request
from bare.middleware import add_response_headers
from bare.responses import FileResponse, PlainTextResponse, StreamingResponse

Call = Callable[..., Any]


class RequestId:
    """Adds `x-request-id`: through bare when it can, by wrapping send otherwise."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.counter = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.counter += 1
        header = (b"x-request-id", str(self.counter).encode())
        if add_response_headers(scope, [header]):
            await self.app(scope, receive, send)
            return

        async def wrapped(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], header]}
            await send(message)

        await self.app(scope, receive, wrapped)


class Timing:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        add_response_headers(scope, [(b"x-started", str(int(time.time())).encode())])
        await self.app(scope, receive, send)


def make_app(tmp_path: Path) -> Bare:
    app = Bare()
    (tmp_path / "f.txt").write_text("file")

    @app.get("/text")
    async def text(request: Request) -> str:
        return "t"

    @app.get("/stream")
    async def stream(request: Request) -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            yield b"s"

        return StreamingResponse(parts())

    @app.get("/file")
    async def file(request: Request) -> FileResponse:
        return FileResponse(tmp_path / "f.txt")

    async def raw(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("raw")({"type": "http"}, receive, send)  # knows nothing of bare

    app.mount("/raw", raw)
    app.add_middleware(RequestId)
    app.add_middleware(Timing)
    return app


def test_headers_reach_every_kind_of_response(asgi_call: Call, tmp_path: Path) -> None:
    app = make_app(tmp_path)
    for number, path in enumerate(["/text", "/stream", "/file", "/raw/x", "/missing", "/text/"], 1):
        reply = asgi_call(app, "GET", path)
        assert reply.header_list("x-request-id") == [str(number)], path
        assert len(reply.header_list("x-started")) == 1, path


def test_other_apps_get_a_wrapped_send(asgi_call: Call) -> None:
    async def not_bare(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("plain")(scope, receive, send)

    reply = asgi_call(RequestId(not_bare), "GET", "/")
    assert reply.header_list("x-request-id") == ["1"]
    assert "bare.response_headers" not in reply.messages[0]


def test_middleware_inside_a_mounted_app_wraps_send(asgi_call: Call) -> None:
    async def raw(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("raw")({"type": "http"}, receive, send)

    app = Bare()
    app.mount("/raw", RequestId(raw))  # the middleware sits inside the mount
    reply = asgi_call(app, "GET", "/raw/x")
    assert reply.body == b"raw"
    assert reply.header_list("x-request-id") == ["1"]


def test_headers_handed_over_after_a_mount_started_still_reach_its_response(
    asgi_call: Call,
) -> None:
    # A middleware of the outer app keeps its scope; the mounted app's handler hands a
    # header over through it while the mount is already running (as csrf_token() does).
    outer_scopes: list[Any] = []

    class KeepScope:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            outer_scopes.append(scope)
            await self.app(scope, receive, send)

    inner = Bare()

    @inner.get("/page")
    async def page(request: Request) -> str:
        assert add_response_headers(outer_scopes[-1], [(b"vary", b"Cookie")])
        return "page"

    app = Bare()
    app.add_middleware(KeepScope)
    app.mount("/inner", inner)
    reply = asgi_call(app, "GET", "/inner/page")
    assert (reply.status, reply.body) == (200, b"page")
    assert reply.header_list("vary") == ["Cookie"]
