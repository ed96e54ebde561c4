"""`Bare`, the application: a route table, a middleware stack and the lifespan, as one ASGI app."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from types import EllipsisType
from typing import Any, TypeVar

from ._concurrency import is_async_callable, run_in_threadpool
from ._endpoints import handle_exception, serve_http
from ._errors import error_response
from .datastructures import State
from .exceptions import HTTPException
from .headers import framing_problem
from .requests import DEFAULT_MAX_BODY_SIZE, Request
from .responses import Response
from .routing import (
    FOUND,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    REDIRECT,
    MethodShortcuts,
    Mount,
    Route,
    Router,
    WebSocketRoute,
    location_for,
    route_path,
)
from .types import ASGIApp, Receive, Scope, Send

__all__ = ["Bare", "State"]

logger = logging.getLogger("bare")

F = TypeVar("F", bound=Callable[..., Any])
Lifespan = Callable[["Bare"], AbstractAsyncContextManager[Mapping[str, Any] | None]]
ExceptionHandler = Callable[[Request, Exception], Any]

_NOT_FOUND = error_response(404, "Not Found")


class Bare(MethodShortcuts):
    """A bare application.

    Register handlers with the decorators (`@app.get("/tasks/{task_id}")`), wrap the
    app in middleware with `add_middleware`, and serve it with any ASGI 3 server: the
    app is itself the ASGI callable, `await app(scope, receive, send)`.

    - `debug`: show tracebacks on 500 pages (only when the server listens on loopback).
    - `redirect_slashes`: answer `/users/` with a 308 to `/users` when only that exists,
      and the other way round.
    - `max_body_size`: the request body limit in bytes (1 MiB; None for none); a route
      can set its own.
    - `max_headers`: the most request headers accepted (100); more is a 431.
    - `lifespan`: `lifespan(app)` returns an async context manager entered at startup
      and left at shutdown; a mapping it yields becomes the lifespan state that the
      server hands to every request (`request.state`).
    - `on_startup` / `on_shutdown`: functions (sync or async) to run then; the
      decorators of the same names add more.
    """

    # Responses of this app add the headers middleware leave under RESPONSE_HEADERS_KEY.
    honours_response_headers = True

    def __init__(
        self,
        *,
        debug: bool = False,
        redirect_slashes: bool = True,
        max_body_size: int | None = DEFAULT_MAX_BODY_SIZE,
        max_headers: int = 100,
        lifespan: Lifespan | None = None,
        on_startup: Iterable[Callable[[], Any]] = (),
        on_shutdown: Iterable[Callable[[], Any]] = (),
        exception_handlers: Mapping[type[Exception] | int, ExceptionHandler] | None = None,
    ) -> None:
        self.debug = debug
        self.max_body_size = max_body_size
        self.max_headers = max_headers
        self.router = Router(redirect_slashes=redirect_slashes)
        self.state = State()
        self.lifespan = lifespan
        self.exception_handlers: dict[type[Exception] | int, ExceptionHandler] = dict(
            exception_handlers or {}
        )
        self._startup_handlers = list(on_startup)
        self._shutdown_handlers = list(on_shutdown)
        self._middleware: list[tuple[Callable[..., ASGIApp], dict[str, Any]]] = []
        self._stack: ASGIApp | None = None

    # -- routes -----------------------------------------------------------------------

    def route(
        self,
        path: str,
        methods: Iterable[str] | None = None,
        *,
        name: str | None = None,
        max_body_size: int | EllipsisType | None = ...,
    ) -> Callable[[F], F]:
        """Register the decorated handler for `methods` (default `["GET"]`) on `path`."""
        return self.router.route(path, methods, name=name, max_body_size=max_body_size)

    def websocket(self, path: str, *, name: str | None = None) -> Callable[[F], F]:
        """Register the decorated WebSocket handler on `path`."""
        return self.router.websocket(path, name=name)

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: Iterable[str] | None = None,
        **options: Any,
    ) -> Route:
        return self.router.add_route(path, endpoint, methods, **options)

    def add_websocket_route(
        self, path: str, endpoint: Callable[..., Any], *, name: str | None = None
    ) -> WebSocketRoute:
        return self.router.add_websocket_route(path, endpoint, name=name)

    def mount(self, path: str, app: ASGIApp, *, name: str | None = None) -> Mount:
        """Serve another ASGI app (a `Bare` app, static files, ...) under `path`."""
        return self.router.mount(path, app, name=name)

    def include_router(self, router: Router, *, prefix: str = "") -> None:
        """Copy the routes of `router` into this app under `prefix`."""
        self.router.include_router(router, prefix=prefix)

    def url_path_for(self, name: str, /, **params: Any) -> str:
        """The path of the route called `name`, built from `params` (see `Router.url_path_for`)."""
        return self.router.url_path_for(name, **params)

    @property
    def routes(self) -> list[Route | WebSocketRoute | Mount]:
        return self.router.routes

    # -- errors -----------------------------------------------------------------------

    def add_exception_handler(self, key: type[Exception] | int, handler: ExceptionHandler) -> None:
        """Answer exceptions of class `key` (and subclasses), or HTTP errors of status
        `key`, with `handler(request, exc)`, which returns a response or a value."""
        self.exception_handlers[key] = handler

    def exception_handler(self, key: type[Exception] | int) -> Callable[[F], F]:
        """Decorator form of `add_exception_handler`."""

        def decorator(handler: F) -> F:
            self.add_exception_handler(key, handler)
            return handler

        return decorator

    def exception_handler_for(self, exc: Exception) -> ExceptionHandler | None:
        """The registered handler for `exc`: by status for HTTP errors, then by class;
        a handler for 500 takes any other exception."""
        handlers = self.exception_handlers
        if not handlers:
            return None
        if isinstance(exc, HTTPException) and exc.status in handlers:
            return handlers[exc.status]
        for cls in type(exc).__mro__:
            if cls in handlers:
                return handlers[cls]
        return None if isinstance(exc, HTTPException) else handlers.get(500)

    # -- lifespan and middleware ------------------------------------------------------

    def on_startup(self, func: F) -> F:
        """Run `func` (sync or async) when the server starts."""
        self._startup_handlers.append(func)
        return func

    def on_shutdown(self, func: F) -> F:
        """Run `func` (sync or async) when the server stops."""
        self._shutdown_handlers.append(func)
        return func

    def add_middleware(self, middleware_class: Callable[..., ASGIApp], **options: Any) -> None:
        """Wrap the app in `middleware_class(app, **options)`.

        As in the book, the first middleware added is the outermost: it sees the
        request first and the response last.

        The stack is built once, when the app first runs; adding middleware after that
        raises `RuntimeError`.
        """
        if self._stack is not None:
            raise RuntimeError("cannot add middleware after the application has started")
        self._middleware.append((middleware_class, options))

    def build_middleware_stack(self) -> ASGIApp:
        app: ASGIApp = self._dispatch
        for middleware_class, options in reversed(self._middleware):
            app = middleware_class(app, **options)
        return app

    # -- ASGI -------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        stack = self._stack
        if stack is None:
            stack = self._stack = self.build_middleware_stack()
        await stack(scope, receive, send)

    def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """The innermost app: HTTP here, WebSocket and lifespan in their own methods."""
        # PERF: a plain function handing back the route's coroutine: no frame of its own.
        kind = scope["type"]
        if kind != "http":
            if kind == "websocket":
                return self._handle_websocket(scope, receive, send)
            if kind == "lifespan":
                return self._handle_lifespan(scope, receive, send)
            raise RuntimeError(f"bare does not handle ASGI scope type {kind!r}")
        headers = scope.get("headers", ())
        if len(headers) > self.max_headers:
            detail = f"Too many request headers (limit {self.max_headers})"
            return error_response(431, detail, {"connection": "close"})(scope, receive, send)
        problem = framing_problem(headers)
        if problem is not None:
            # Two parsers could read this request differently (smuggling): refuse it
            # and close the connection, whatever the server in front did.
            return error_response(400, problem, {"connection": "close"})(scope, receive, send)
        method = scope["method"]
        path = route_path(scope) if scope.get("root_path") else scope["path"]
        router = self.router
        # PERF: Router.resolve, inlined.
        matcher = router._http_matcher or router.http_matcher()
        code, target, params = matcher.match(method, path)
        if code == NOT_FOUND and router.redirect_slashes:
            other = router.slash_redirect(matcher, method, path)
            if other is not None:
                code, target = REDIRECT, other
        if code == FOUND:
            outer = scope.get("path_params")
            scope["path_params"] = {**outer, **params} if outer else params  # under a mount
            if type(target) is Route:  # PERF: serve_http without Route.handle in between
                return serve_http(target, scope, receive, send)
            return target.handle(scope, receive, send)  # type: ignore[no-any-return]
        if code == METHOD_NOT_ALLOWED:
            allow = {"allow": ", ".join(target)}
            if method == "OPTIONS":
                return Response(status=204, headers=allow, content_type=None)(scope, receive, send)
            return self._error(405, scope, receive, send, allow)
        if code == REDIRECT:
            response = Response(status=308, headers={"location": location_for(scope, target)})
            return response(scope, receive, send)
        if self.exception_handlers:
            return self._error(404, scope, receive, send)
        return _NOT_FOUND(scope, receive, send)

    async def _error(
        self,
        status: int,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[str, str] | None = None,
    ) -> None:
        """A 404/405 decided by the router, through the app's handler for it if any."""
        request = Request(scope, receive, self.max_body_size)
        response = await handle_exception(self, HTTPException(status, headers=headers), request)
        await response(scope, receive, send)

    async def _handle_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = route_path(scope) if scope.get("root_path") else scope["path"]
        code, target, params = self.router.resolve_websocket(path)
        if code != FOUND:
            # Refuse the handshake; the server answers it with 403.
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.close", "code": 1008, "reason": "Not Found"})
            return
        outer = scope.get("path_params")
        scope["path_params"] = {**outer, **params} if outer else params
        await target.handle(scope, receive, send)

    async def _handle_lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = None
        message = await receive()
        if message["type"] != "lifespan.startup":  # pragma: no cover - protocol violation
            return
        try:
            if self._stack is None:
                self._stack = self.build_middleware_stack()
            for handler in self._startup_handlers:
                await _call(handler)
            if self.lifespan is not None:
                context = self.lifespan(self)
                state = await context.__aenter__()
                if state:
                    if "state" not in scope:
                        problem = RuntimeError("the server does not support lifespan state")
                        await context.__aexit__(type(problem), problem, None)
                        raise problem
                    scope["state"].update(state)
        except BaseException as exc:
            logger.exception("application startup failed")
            await send(
                {"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"}
            )
            if not isinstance(exc, Exception):
                raise
            return
        await send({"type": "lifespan.startup.complete"})

        message = await receive()  # lifespan.shutdown
        failures = []
        if context is not None:
            try:
                await context.__aexit__(None, None, None)
            except Exception as exc:
                logger.exception("lifespan shutdown failed")
                failures.append(f"{type(exc).__name__}: {exc}")
        for handler in self._shutdown_handlers:
            try:
                await _call(handler)
            except Exception as exc:
                logger.exception("shutdown handler %r failed", handler)
                failures.append(f"{type(exc).__name__}: {exc}")
        if failures:
            await send({"type": "lifespan.shutdown.failed", "message": "; ".join(failures)})
        else:
            await send({"type": "lifespan.shutdown.complete"})

    def run(self, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
        """Serve the app with uvicorn (uvloop and httptools when installed)."""
        from ._server import run

        run(self, host=host, port=port, **options)


async def _call(handler: Callable[[], Any]) -> None:
    if is_async_callable(handler):
        await handler()
    else:
        await run_in_threadpool(handler)
