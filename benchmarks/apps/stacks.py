"""Middleware stacks for `test_bench_middleware.py`: bare's, and Starlette's equivalent.

Both apps answer `GET /plaintext` with "Hello, World!" (reading the session first when a
session middleware is there, so that an unchanged session is really loaded) and
`GET /login`, which puts a user in the session, to make the cookie the benchmark sends.

The realistic stack is, outermost first: request id, access log (to a logger with a
`NullHandler`, so records are made and dropped), Server-Timing, CORS for a simple
request from an allowed origin, a signed-cookie session left unchanged, and compression
of a body below its minimum size. Starlette ships CORS, sessions and gzip; for the
three it lacks, `RequestId`, `AccessLog` and `Timing` below are the least code that does
the same work as plain ASGI middleware, as a Starlette user would write them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from . import PLAINTEXT

__all__ = ["BARE_MIDDLEWARE", "ORIGIN", "SECRET", "STACK", "make_bare", "make_starlette"]

ORIGIN = "https://app.example"
SECRET = "benchmark-secret-key-of-32-bytes!"
STACK = ("request_id", "logging", "timing", "cors", "sessions", "compression")

Message = dict[str, Any]
ASGIApp = Callable[..., Any]


def _null_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers[:] = [logging.NullHandler()]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


class PassThrough:
    """A middleware that does nothing: what any middleware costs before doing its job."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def _bare_middleware() -> dict[str, tuple[Any, dict[str, Any]]]:
    from bare.middleware.compression import CompressionMiddleware
    from bare.middleware.cors import CORSMiddleware
    from bare.middleware.logging import LoggingMiddleware
    from bare.middleware.request_id import RequestIdMiddleware
    from bare.middleware.security import SecurityHeadersMiddleware
    from bare.middleware.sessions import SessionMiddleware
    from bare.middleware.timing import ServerTimingMiddleware

    return {
        "pass_through": (PassThrough, {}),
        "request_id": (RequestIdMiddleware, {}),
        "logging": (LoggingMiddleware, {"logger": _null_logger("bench.bare.access")}),
        "timing": (ServerTimingMiddleware, {}),
        "cors": (CORSMiddleware, {"allow_origins": [ORIGIN]}),
        "sessions": (SessionMiddleware, {"secret_key": SECRET}),
        "compression": (CompressionMiddleware, {"minimum_size": 500}),
        "security": (SecurityHeadersMiddleware, {}),
    }


BARE_MIDDLEWARE = (
    "pass_through",
    "request_id",
    "logging",
    "timing",
    "cors",
    "sessions",
    "compression",
    "security",
)


def make_bare(names: tuple[str, ...]) -> Any:
    """A bare app with the named middleware, the first outermost."""
    from bare import Bare, Request

    app = Bare()

    @app.get("/plaintext")
    async def plaintext(request: Request) -> str:
        if "session" in request.scope:
            request.session.get("user")
        return PLAINTEXT

    @app.get("/login")
    async def login(request: Request) -> str:
        request.session["user"] = "alice"
        return "in"

    available = _bare_middleware()
    for name in names:
        cls, options = available[name]
        app.add_middleware(cls, **options)
    return app


# -- Starlette, with the same stack --------------------------------------------------------


class RequestId:
    """An id per request, from the client's `x-request-id` or new, echoed on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = (b"x-request-id", os.urandom(16).hex().encode("ascii"))
        scope["request_id"] = header[1]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, send_with_id)


class AccessLog:
    """One log record per request: method, path, status, bytes, duration, client."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.logger = _null_logger("bench.starlette.access")

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        size = 0

        async def send_counting(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            else:
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_counting)
        finally:
            millis = (time.perf_counter() - started) * 1000
            client = scope.get("client")
            self.logger.info(
                '%s - "%s %s" %d %d %.1fms',
                f"{client[0]}:{client[1]}" if client else "-",
                scope["method"],
                scope["path"],
                status,
                size,
                millis,
                extra={"request_id": scope.get("request_id")},
            )


class Timing:
    """`Server-Timing: app;dur=...` with the time until the response started."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_with_timing(message: Message) -> None:
            if message["type"] == "http.response.start":
                millis = (time.perf_counter() - started) * 1000
                value = b"app;dur=%.3f" % millis
                message["headers"] = [*message.get("headers", ()), (b"server-timing", value)]
            await send(message)

        await self.app(scope, receive, send_with_timing)


def make_starlette(names: tuple[str, ...]) -> Any:
    """A Starlette app with the named middleware (the first outermost)."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.middleware.sessions import SessionMiddleware
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    async def plaintext(request: Request) -> Response:
        if "session" in request.scope:
            request.session.get("user")
        return PlainTextResponse(PLAINTEXT)

    async def login(request: Request) -> Response:
        request.session["user"] = "alice"
        return PlainTextResponse("in")

    available = {
        "request_id": Middleware(RequestId),
        "logging": Middleware(AccessLog),
        "timing": Middleware(Timing),
        "cors": Middleware(CORSMiddleware, allow_origins=[ORIGIN]),
        "sessions": Middleware(SessionMiddleware, secret_key=SECRET),
        "compression": Middleware(GZipMiddleware, minimum_size=500),
    }
    routes = [Route("/plaintext", plaintext), Route("/login", login)]
    return Starlette(routes=routes, middleware=[available[name] for name in names])
