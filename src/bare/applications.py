"""`Bare`, the application: a route table, a middleware stack and the lifespan, as one ASGI app."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ._concurrency import is_async_callable, run_in_threadpool
from .exceptions import HTTPException
from .responses import JSONResponse, Response
from .routing import (
    FOUND,
    METHOD_NOT_ALLOWED,
    REDIRECT,
    Mount,
    Route,
    Router,
    WebSocketRoute,
    location_for,
    route_path,
)
from .types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Bare", "State"]

logger = logging.getLogger("bare")

F = TypeVar("F", bound=Callable[..., Any])


class State(dict[str, Any]):
    """App state: a dict (as in the book) whose keys also read as attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None


class Bare:
    """A bare application.

    Register handlers with the decorators (`@app.get("/tasks/{task_id}")`), wrap it in
    middleware with `add_middleware`, and serve it with any ASGI 3 server. The app is
    itself the ASGI callable: `await app(scope, receive, send)`.

    `redirect_slashes` (on by default) answers `/users/` with a 308 to `/users` when only
    the latter exists, and the other way round.
    """

    def __init__(self, *, debug: bool = False, redirect_slashes: bool = True) -> None:
        self.debug = debug
        self.router = Router(redirect_slashes=redirect_slashes)
        self.state = State()
        self._startup_handlers: list[Callable[[], Any]] = []
        self._shutdown_handlers: list[Callable[[], Any]] = []
        self._middleware: list[tuple[Callable[..., ASGIApp], dict[str, Any]]] = []
        self._stack: ASGIApp | None = None

    # -- routes -------------------------------------------------------------------

    def route(
        self, path: str, methods: Iterable[str] | None = None, *, name: str | None = None
    ) -> Callable[[F], F]:
        """Register the decorated handler for `methods` (default `["GET"]`) on `path`."""
        return self.router.route(path, methods, name=name)

    def get(self, path: str, *, name: str | None = None) -> Callable[[F], F]:
        return self.router.route(path, ["GET"], name=name)

    def post(self, path: str, *, name: str | None = None) -> Callable[[F], F]:
        return self.router.route(path, ["POST"], name=name)

    def put(self, path: str, *, name: str | None = None) -> Callable[[F], F]:
        return self.router.route(path, ["PUT"], name=name)

    def patch(self, path: str, *, name: str | None = None) -> Callable[[F], F]:
        return self.router.route(path, ["PATCH"], name=name)

    def delete(self, path: str, *, name: str | None = None) -> Callable[[F], F]:
        return self.router.route(path, ["DELETE"], name=name)

    def websocket(self, path: str, *, name: str | None = None) -> Callable[[F], F]:
        """Register the decorated WebSocket handler on `path`."""
        return self.router.websocket(path, name=name)

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: Iterable[str] | None = None,
        *,
        name: str | None = None,
    ) -> Route:
        return self.router.add_route(path, endpoint, methods, name=name)

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

    # -- lifespan and middleware ---------------------------------------------------

    def on_startup(self, func: F) -> F:
        """Run `func` (sync or async) when the server starts."""
        self._startup_handlers.append(func)
        return func

    def on_shutdown(self, func: F) -> F:
        """Run `func` (sync or async) when the server stops."""
        self._shutdown_handlers.append(func)
        return func

    def add_middleware(self, middleware_class: Callable[..., ASGIApp], **options: Any) -> None:
        """Wrap the app in `middleware_class(app, **options)`; the last added is outermost."""
        if self._stack is not None:
            raise RuntimeError("cannot add middleware after the application has started")
        self._middleware.append((middleware_class, options))

    def build_middleware_stack(self) -> ASGIApp:
        app: ASGIApp = self._dispatch
        for middleware_class, options in reversed(self._middleware):
            app = middleware_class(app, **options)
        return app

    # -- ASGI ---------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        if self._stack is None:
            self._stack = self.build_middleware_stack()
        await self._stack(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._handle_http(scope, receive, send)
        elif kind == "websocket":
            await self._handle_websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._handle_lifespan(receive, send)

    async def _handle_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        path = route_path(scope) if scope.get("root_path") else scope["path"]
        code, target, params = self.router.resolve(method, path)
        if code == FOUND:
            outer = scope.get("path_params")
            scope["path_params"] = {**outer, **params} if outer else params  # under a mount
            started = False

            async def tracking_send(message: Message) -> None:
                nonlocal started
                started = True
                await send(message)

            try:
                await target.handle(scope, receive, tracking_send)
            except HTTPException as exc:
                if started:
                    raise
                await _error_response(exc.status, exc.detail, exc.headers)(scope, receive, send)
            except Exception:
                logger.exception("unhandled error in %s %s", method, path)
                if started:
                    raise
                await _error_response(500, "Internal Server Error")(scope, receive, send)
        elif code == METHOD_NOT_ALLOWED:
            allow = {"allow": ", ".join(target)}
            if method == "OPTIONS":
                await Response(status=204, headers=allow, content_type=None)(scope, receive, send)
            else:
                await _error_response(405, "Method Not Allowed", allow)(scope, receive, send)
        elif code == REDIRECT:
            response = Response(status=308, headers={"location": location_for(scope, target)})
            await response(scope, receive, send)
        else:
            await _error_response(404, "Not Found")(scope, receive, send)

    async def _handle_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = route_path(scope) if scope.get("root_path") else scope["path"]
        code, target, params = self.router.resolve_websocket(path)
        if code != FOUND:
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.close", "code": 4404, "reason": "Not Found"})
            return
        scope["path_params"] = params
        try:
            await target.handle(scope, receive, send)
        except Exception:
            logger.exception("unhandled error in websocket %s", path)
            await send({"type": "websocket.close", "code": 1011, "reason": ""})

    async def _handle_lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for handler in self._startup_handlers:
                        await _call(handler)
                except Exception as exc:
                    logger.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for handler in self._shutdown_handlers:
                    try:
                        await _call(handler)
                    except Exception:
                        logger.exception("shutdown handler %r failed", handler)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def run(self, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
        """Serve the app with uvicorn (uvloop and httptools when installed)."""
        from ._server import run

        run(self, host=host, port=port, **options)


async def _call(handler: Callable[[], Any]) -> None:
    if is_async_callable(handler):
        await handler()
    else:
        await run_in_threadpool(handler)


def _error_response(status: int, detail: Any, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"detail": detail}, status=status, headers=headers)
