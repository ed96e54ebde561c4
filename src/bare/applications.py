"""`Bare`, the application: a route table, a middleware stack and the lifespan, as one ASGI app."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, TypeVar

from ._concurrency import is_async_callable, run_in_threadpool
from ._endpoints import handle_exception
from ._errors import error_response
from ._paths import route_path
from .datastructures import State
from .exceptions import ClientDisconnect, HTTPException
from .headers import framing_problem
from .middleware import ACCEPTS_RESPONSE_HEADERS, RESPONSE_HEADERS_KEY
from .requests import DEFAULT_MAX_BODY_SIZE, Request
from .responses import Response
from .routing import (
    FOUND,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    AnyRoute,
    MethodShortcuts,
    Mount,
    Route,
    RouteOptionArgs,
    Router,
    WebSocketRoute,
    location_for,
)
from .types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .forms import FormLimits
    from .websockets import WebSocketLimitArgs

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
    - `etag`: give responses an ETag and answer conditional requests (304, 412) on
      routes that do not set their own `etag` option (False; see
      docs/conditional-responses.md).
    - `form_limits`: the `bare.forms.FormLimits` of `request.form()` on routes that set
      none (None: the defaults).
    - `max_headers`: the most request headers accepted (100); more is a 431.
    - `lifespan`: `lifespan(app)` returns an async context manager entered at startup
      and left at shutdown; a mapping it yields becomes the lifespan state that the
      server hands to every request (`request.state`).
    - `on_startup` / `on_shutdown`: functions (sync or async) to run then; the
      decorators of the same names add more.
    - `title`, `version`, `description`, `servers`: what the OpenAPI document says of
      the API (`servers`: a list of URLs or of `{"url": ..., "description": ...}`).
    - `openapi_url`: where the OpenAPI document is served ("/openapi.json"), and
      `docs_url` the documentation page ("/docs"); None turns either off (see
      docs/openapi.md).
    - `dependencies`: `Depends(...)` run before every route's own, for their effects,
      on every HTTP and WebSocket route of this app (not on mounted apps' routes, nor
      on the OpenAPI document and /docs); see docs/typed.md.
    """

    def __init__(
        self,
        *,
        debug: bool = False,
        redirect_slashes: bool = True,
        max_body_size: int | None = DEFAULT_MAX_BODY_SIZE,
        etag: bool = False,
        form_limits: FormLimits | None = None,
        max_headers: int = 100,
        lifespan: Lifespan | None = None,
        on_startup: Iterable[Callable[[], Any]] = (),
        on_shutdown: Iterable[Callable[[], Any]] = (),
        exception_handlers: Mapping[type[Exception] | int, ExceptionHandler] | None = None,
        title: str = "bare",
        version: str = "0.1.0",
        description: str | None = None,
        servers: Sequence[str | Mapping[str, Any]] | None = None,
        openapi_url: str | None = "/openapi.json",
        docs_url: str | None = "/docs",
        dependencies: Iterable[Any] = (),
    ) -> None:
        self.debug = debug
        self.max_headers = max_headers
        # The app's dependencies are its router's: given to every route added to the
        # app, its own, those of included routers, WebSocket routes alike (not to
        # mounted apps, nor to the OpenAPI document's routes).
        self.router = Router(
            redirect_slashes=redirect_slashes,
            max_body_size=max_body_size,
            etag=etag,
            form_limits=form_limits,
            dependencies=dependencies,
        )
        self.state = State()
        # Typed handlers' dependencies replaced, for tests: {original: replacement},
        # looked up when a request runs them (docs/typed.md).
        self.dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        self.lifespan = lifespan
        self.exception_handlers: dict[type[Exception] | int, ExceptionHandler] = dict(
            exception_handlers or {}
        )
        self._startup_handlers = list(on_startup)
        self._shutdown_handlers = list(on_shutdown)
        self._middleware: list[tuple[Callable[..., ASGIApp], dict[str, Any]]] = []
        self._stack: ASGIApp | None = None
        self._guarded = False  # whether __call__ guards a middleware stack (set with it)
        # What `_startup` started, for `_shutdown` to stop.
        self._running_context: AbstractAsyncContextManager[Any] | None = None
        self._running_children: list[Bare] = []
        # The OpenAPI document (docs/openapi.md): what it says of the API, where it and
        # the documentation page are served, and the document once built.
        for value, what in ((title, "title"), (version, "version")):
            if not isinstance(value, str) or not value:
                raise TypeError(f"{what} must be a non-empty string, not {value!r}")
        if description is not None and not isinstance(description, str):
            raise TypeError(f"description must be a string or None, not {description!r}")
        self.title = title
        self.version = version
        self.description = description
        self._openapi: tuple[Any, dict[str, Any]] | None = None
        self._openapi_json: tuple[dict[str, Any], bytes] | None = None
        # Their routes are added when the stack is built, after the app's own.
        self._docs_routes_added = False
        if openapi_url is not None or docs_url is not None or servers is not None:
            from . import _docs_ui  # here: only apps that serve the document load it

            self.servers = _docs_ui.check_servers(servers)
            self.openapi_url = _docs_ui.check_url(openapi_url, "openapi_url")
            self.docs_url = _docs_ui.check_url(docs_url, "docs_url")
            _docs_ui.check_urls(self.openapi_url, self.docs_url)
        else:
            self.servers = None
            self.openapi_url = self.docs_url = None

    def openapi(self) -> dict[str, Any]:
        """The app's OpenAPI 3.1 document, built from its routes (`bare.openapi`).

        Built on first use and kept until routes, exception handlers or the settings
        it depends on change. Override it in a subclass to amend the document.
        """
        from .openapi import build_openapi, fingerprint  # here: loaded when first asked for

        key = fingerprint(self)
        cached = self._openapi
        if cached is None or cached[0] != key:
            cached = self._openapi = (key, build_openapi(self))
        return cached[1]

    def openapi_json(self) -> bytes:
        """`openapi()` encoded as JSON: what `openapi_url` serves."""
        document = self.openapi()
        cached = self._openapi_json
        if cached is None or cached[0] is not document:
            from ._json import dumps

            cached = self._openapi_json = (document, dumps(document))
        return cached[1]

    @property
    def max_body_size(self) -> int | None:
        """The request body limit of routes that set none; setting it applies to them."""
        return self.router.max_body_size

    @max_body_size.setter
    def max_body_size(self, value: int | None) -> None:
        self.router.max_body_size = value

    @property
    def etag(self) -> bool:
        """Whether routes that set none answer conditional requests; setting it applies
        to them."""
        return self.router.etag

    @etag.setter
    def etag(self, value: bool) -> None:
        self.router.etag = value

    @property
    def form_limits(self) -> FormLimits | None:
        """The form limits of routes that set none (None: the defaults); setting them
        applies to those routes."""
        return self.router.form_limits

    @form_limits.setter
    def form_limits(self, value: FormLimits | None) -> None:
        self.router.form_limits = value

    # -- routes -----------------------------------------------------------------------

    def route(
        self,
        path: str,
        methods: Iterable[str] | None = None,
        **options: Unpack[RouteOptionArgs],
    ) -> Callable[[F], F]:
        """Register the decorated handler for `methods` (default `["GET"]`) on `path`.

        `options` are those of `bare.routing.RouteOptions`: `name`, `max_body_size`,
        `requires`, `etag`, `form_limits`.
        """
        return self.router.route(path, methods, **options)

    def websocket(
        self,
        path: str,
        *,
        name: str | None = None,
        requires: str | Iterable[str] | None = None,
        dependencies: Iterable[Any] = (),
        **limits: Unpack[WebSocketLimitArgs],
    ) -> Callable[[F], F]:
        """Register the decorated WebSocket handler on `path` (`requires`: the scopes a
        connection needs, as for HTTP routes; `dependencies`: `Depends(...)` run first;
        the limits `max_message_size`, `message_rate`, `message_burst`, `idle_timeout`:
        see `bare.websockets.WebSocketLimits`)."""
        return self.router.websocket(
            path, name=name, requires=requires, dependencies=dependencies, **limits
        )

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: Iterable[str] | None = None,
        **options: Unpack[RouteOptionArgs],
    ) -> Route:
        """Register `endpoint` for `methods` (default `["GET"]`) on `path`."""
        return self.router.add_route(path, endpoint, methods, **options)

    def add_websocket_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        name: str | None = None,
        requires: str | Iterable[str] | None = None,
        dependencies: Iterable[Any] = (),
        **limits: Unpack[WebSocketLimitArgs],
    ) -> WebSocketRoute:
        """Register a WebSocket handler on `path` (options as for `websocket`)."""
        return self.router.add_websocket_route(
            path, endpoint, name=name, requires=requires, dependencies=dependencies, **limits
        )

    def mount(self, path: str, app: ASGIApp, *, name: str | None = None) -> Mount:
        """Serve another ASGI app (a `Bare` app, static files, ...) under `path`."""
        return self.router.mount(path, app, name=name)

    def include_router(
        self,
        router: Router,
        *,
        prefix: str = "",
        dependencies: Iterable[Any] = (),
        tags: Iterable[str] = (),
    ) -> None:
        """Copy the routes of `router` into this app under `prefix`; `dependencies`
        (`Depends(...)`) and `tags` go before the routes' own."""
        self.router.include_router(router, prefix=prefix, dependencies=dependencies, tags=tags)

    def url_path_for(self, name: str, /, **params: Any) -> str:
        """The path of the route called `name`, built from `params` (see `Router.url_path_for`)."""
        return self.router.url_path_for(name, **params)

    @property
    def routes(self) -> list[AnyRoute]:
        """The routes, WebSocket routes and mounts, in the order they were added."""
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

    def middleware(self, kind: str) -> Callable[[F], F]:
        """Add a function middleware: `async def mw(request, call_next) -> response`.

        As FastAPI users write them: `call_next(request)` runs the rest of the app and
        returns its response, still streaming; return it (headers changed, say) or
        another response. Only `"http"` middleware exist; it takes its place in the
        stack as `add_middleware` would (see `bare.middleware.function`).
        """
        from .middleware.function import FunctionMiddleware, check_dispatch

        if kind != "http":
            raise ValueError(f'app.middleware({kind!r}): the only kind is "http"')

        def decorator(func: F) -> F:
            check_dispatch(func)
            self.add_middleware(FunctionMiddleware, dispatch=func)
            return func

        return decorator

    def build_middleware_stack(self) -> ASGIApp:
        """The middleware, outermost first, around the dispatch: what `__call__` runs.

        With middleware, `__call__` puts an error door around them all: an exception a
        middleware raises before the response starts reaches the app's exception
        handlers too.
        """
        if not self._docs_routes_added and self.openapi_url is not None:
            from . import _docs_ui  # loaded by the constructor already

            # The OpenAPI document and /docs, after the app's routes and, as in FastAPI,
            # without the app's dependencies.
            router = self.router
            dependencies, router.dependencies = router.dependencies, ()
            try:
                _docs_ui.add_routes(self)
            finally:
                router.dependencies = dependencies
        self._docs_routes_added = True
        app: ASGIApp = self._dispatch
        for middleware_class, options in reversed(self._middleware):
            app = middleware_class(app, **options)
        self._guarded = bool(self._middleware)
        return app

    # -- ASGI -------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        stack = self._stack
        if stack is None:
            stack = self._stack = self.build_middleware_stack()
        if not self._guarded or scope["type"] != "http":
            await stack(scope, receive, send)
            return
        # The error door, here rather than in a wrapper of its own (one coroutine less
        # per request). Middleware may leave headers for bare's responses in the scope.
        scope[RESPONSE_HEADERS_KEY] = ACCEPTS_RESPONSE_HEADERS
        send_and_track, started = _tracking(send)
        try:
            await stack(scope, receive, send_and_track)
        except Exception as exc:
            if started[0]:
                raise  # too late for an error page: the server drops the connection
            await self._answer_error(exc, scope, receive, send)

    def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """The innermost app: HTTP here, WebSocket and lifespan in their own methods.

        Every HTTP request is served by the `handle` callable of the route it matches;
        a 404, 405, redirect or automatic OPTIONS is answered here.
        """
        # PERF: a plain function handing back the route's coroutine: no frame of its own.
        kind = scope["type"]
        if kind != "http":
            if kind == "websocket":
                return self._handle_websocket(scope, receive, send)
            if kind == "lifespan":
                return self._handle_lifespan(scope, receive, send)
            raise RuntimeError(f"bare does not handle ASGI scope type {kind!r}")
        try:
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
            # PERF: Router.resolve, inlined; tests/test_one_path.py::test_app_agrees_with_resolve
            # fails when the two decide differently.
            matcher = router._http_matcher or router.http_matcher()
            code, target, params = matcher.match(method, path)
            if code == FOUND:
                outer = scope.get("path_params")
                if outer:  # under a mount: the prefix's parameters too
                    params = {**outer, **params}  # type: ignore[dict-item]
                scope["path_params"] = params
                return target.handle(scope, receive, send)  # type: ignore[union-attr]
            if code == NOT_FOUND and router.redirect_slashes:
                other = router.slash_redirect(matcher, method, path)
                if other is not None:
                    location = {"location": location_for(scope, other)}
                    return Response(status=308, headers=location)(scope, receive, send)
            if code == METHOD_NOT_ALLOWED:
                allow = {"allow": ", ".join(target)}  # type: ignore[arg-type]
                if method == "OPTIONS":
                    response = Response(status=204, headers=allow, content_type=None)
                    return response(scope, receive, send)
                return self._answer_error(HTTPException(405, headers=allow), scope, receive, send)
            if self.exception_handlers:
                return self._answer_error(HTTPException(404), scope, receive, send)
            return _NOT_FOUND(scope, receive, send)
        except Exception as exc:  # a converter or the matcher failed: one door for errors
            return self._answer_error(exc, scope, receive, send)

    async def _answer_error(
        self, exc: Exception, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Answer `exc` through the app's exception handlers, or the default response."""
        if isinstance(exc, ClientDisconnect):
            return
        request = Request(scope, receive, self.max_body_size, self.form_limits)
        response = await handle_exception(self, exc, request)
        await response(scope, receive, send)

    async def _handle_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = scope.get("headers", ())
        if len(headers) > self.max_headers:
            await _refuse_handshake(receive, send, "Too many request headers")
            return
        problem = framing_problem(headers)
        if problem is not None:  # two Host headers, say: as ambiguous as for HTTP
            await _refuse_handshake(receive, send, problem)
            return
        path = route_path(scope) if scope.get("root_path") else scope["path"]
        code, target, params = self.router.resolve_websocket(path)
        if code != FOUND:
            await _refuse_handshake(receive, send, "Not Found")
            return
        outer = scope.get("path_params")
        if outer:
            params = {**outer, **params}  # type: ignore[dict-item]
        scope["path_params"] = params
        await target.handle(scope, receive, send)  # type: ignore[union-attr]

    # -- lifespan ---------------------------------------------------------------------

    async def _handle_lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "lifespan.startup":  # pragma: no cover - protocol violation
            return
        try:
            await self._startup(scope.get("state"))
        except BaseException as exc:
            logger.exception("application startup failed")
            await send(
                {"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"}
            )
            if not isinstance(exc, Exception):
                raise
            return
        await send({"type": "lifespan.startup.complete"})

        await receive()  # lifespan.shutdown
        failures = await self._shutdown()
        if failures:
            await send({"type": "lifespan.shutdown.failed", "message": "; ".join(failures)})
        else:
            await send({"type": "lifespan.shutdown.complete"})

    async def _startup(self, state: dict[str, Any] | None) -> None:
        """Start this app: its startup handlers, its lifespan context, then the bare
        apps mounted in it, in the order they were mounted. If any of it fails, what
        had started is shut down again (without this app's shutdown handlers)."""
        if self._stack is None:
            self._stack = self.build_middleware_stack()
        for handler in self._startup_handlers:
            await _call(handler)
        try:
            if self.lifespan is not None:
                context = self.lifespan(self)
                value = await context.__aenter__()
                self._running_context = context
                if value:
                    if state is None:
                        raise RuntimeError("the server does not support lifespan state")
                    state.update(value)
            for child in _mounted_bare_apps(self):
                await child._startup(state)
                self._running_children.append(child)
        except BaseException:
            await self._shutdown(run_handlers=False)
            raise

    async def _shutdown(self, *, run_handlers: bool = True) -> list[str]:
        """Stop this app in the reverse order of `_startup`: mounted apps, the lifespan
        context, the shutdown handlers. Every step runs; the failures are returned."""
        failures: list[str] = []
        while self._running_children:
            failures.extend(await self._running_children.pop()._shutdown())
        context, self._running_context = self._running_context, None
        if context is not None:
            try:
                await context.__aexit__(None, None, None)
            except Exception as exc:
                logger.exception("lifespan shutdown failed")
                failures.append(f"{type(exc).__name__}: {exc}")
        if run_handlers:
            for handler in self._shutdown_handlers:
                try:
                    await _call(handler)
                except Exception as exc:
                    logger.exception("shutdown handler %r failed", handler)
                    failures.append(f"{type(exc).__name__}: {exc}")
        return failures

    def run(self, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
        """Serve the app with uvicorn (uvloop and httptools when installed)."""
        from ._server import run

        run(self, host=host, port=port, **options)


def _tracking(send: Send) -> tuple[Send, list[bool]]:
    """`send`, and a list whose one item turns true once `http.response.start` went out.

    PERF: a function of its own, so that `Bare.__call__` holds no closure: a closure's
    cells would cost every request, also those of apps without middleware.
    """
    started = [False]

    # A plain function handing back send's awaitable: cheaper than a coroutine of its own.
    def send_and_track(message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            started[0] = True
        return send(message)

    return send_and_track, started


async def _refuse_handshake(receive: Receive, send: Send, reason: str) -> None:
    """Refuse a WebSocket handshake; the server answers it with 403."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": 1008, "reason": reason})


def _mounted_bare_apps(app: Bare) -> list[Bare]:
    """The bare apps mounted in `app`, directly or inside middleware that keep the app
    they wrap as `.app` (the usual convention), each once, in mount order."""
    found: list[Bare] = []
    for mounted in app.router.mounted_apps():
        for _ in range(32):  # a wrapper chain longer than this is not one
            if isinstance(mounted, Bare):
                if mounted is not app and all(mounted is not seen for seen in found):
                    found.append(mounted)
                break
            inner = getattr(mounted, "app", None)
            if inner is None or inner is mounted:
                break
            mounted = inner
    return found


async def _call(handler: Callable[[], Any]) -> None:
    if is_async_callable(handler):
        await handler()
    else:
        await run_in_threadpool(handler)
