"""Turn handlers into ASGI apps: `handler(request) -> value` and `handler(websocket)`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._concurrency import is_async_callable, run_in_threadpool
from .requests import Request
from .responses import JSONResponse, PlainTextResponse, Response
from .types import ASGIApp, Receive, Scope, Send
from .websockets import WebSocket

__all__ = ["request_response", "to_response", "websocket_session"]


def to_response(value: Any) -> Response:
    """What a handler returned, as a response.

    A `Response` is sent as it is, `None` is an empty 200, `str` is plain text, and
    anything else (dict, list, number, ...) is JSON.
    """
    if isinstance(value, Response):
        return value
    if value is None:
        return Response()
    if isinstance(value, str):
        return PlainTextResponse(value)
    return JSONResponse(value)


def request_response(handler: Callable[..., Any]) -> ASGIApp:
    """An ASGI app that calls `handler(request)` and sends what it returns.

    A sync handler runs in the thread pool, so it cannot block the event loop.
    """
    if is_async_callable(handler):

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            response = to_response(await handler(Request(scope, receive)))
            await response(scope, receive, send)

    else:

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            result = await run_in_threadpool(handler, Request(scope, receive))
            await to_response(result)(scope, receive, send)

    return app


def websocket_session(handler: Callable[..., Any]) -> ASGIApp:
    """An ASGI app that calls `await handler(websocket)`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await handler(WebSocket(scope, receive, send))

    return app
