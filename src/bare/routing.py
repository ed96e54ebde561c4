"""Routes, mounts and the `Router` that matches requests against them.

Patterns are parsed and checked here (`bare._templates`), turned into a plain-data trie
(`bare._table`) and walked by the compiled matcher or its pure twin (`bare._speedups`).
See docs/routing.md for the syntax and the precedence rules.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from types import EllipsisType
from typing import Any, TypeVar
from urllib.parse import quote

from ._concurrency import is_async_callable
from ._endpoints import serve_http, serve_websocket
from ._errors import SERVER_EXCEPTION_KEY
from ._speedups import router_impl
from ._table import ANY_METHOD, RouteConflictError, TableBuilder, TableEntry
from ._templates import PathTemplate, RouteError, parse_template
from .middleware import NOT_HONOURED, RESPONSE_HEADERS_KEY
from .types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "FOUND",
    "METHOD_NOT_ALLOWED",
    "NOT_FOUND",
    "REDIRECT",
    "Mount",
    "NoMatchFound",
    "Route",
    "RouteConflictError",
    "RouteError",
    "Router",
    "WebSocketRoute",
    "location_for",
    "route_path",
]

FOUND = router_impl.FOUND
METHOD_NOT_ALLOWED = router_impl.METHOD_NOT_ALLOWED
NOT_FOUND = router_impl.NOT_FOUND
REDIRECT = 3

WEBSOCKET_METHOD = "WEBSOCKET"  # the one method of the WebSocket table
MOUNT_REST = "bare_mount_rest"  # the `path` parameter every mount ends with

# Characters kept as they are when a decoded path goes back into a Location header.
_LOCATION_SAFE = "/!$&'()*+,;=:@~"
_QUERY_SAFE = _LOCATION_SAFE + "?%"

F = TypeVar("F", bound=Callable[..., Any])


class NoMatchFound(LookupError):
    """`url_path_for` found no route of that name taking those parameters."""


def _endpoint_name(endpoint: Any) -> str:
    return getattr(endpoint, "__name__", type(endpoint).__name__)


class Route:
    """An HTTP route: a pattern, the methods it answers and the handler that answers.

    `max_body_size` overrides the app's request body limit for this route (None: no
    limit); left out, the app's limit applies. A route is itself an ASGI app.
    """

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Iterable[str] | None = None,
        name: str | None = None,
        max_body_size: int | EllipsisType | None = ...,
    ) -> None:
        if isinstance(methods, str):
            raise TypeError(f"methods must be a list of strings, not the string {methods!r}")
        self.path = path
        self.template: PathTemplate = parse_template(path)
        self.endpoint = endpoint
        self.methods: tuple[str, ...] = tuple(
            dict.fromkeys(m.upper() for m in (methods or ["GET"]))
        )
        if not self.methods:
            raise RouteError(f"route {path!r} answers no method")
        self.name = name if name is not None else _endpoint_name(endpoint)
        self.is_async = is_async_callable(endpoint)
        self.max_body_size = max_body_size

    def handle(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """Answer the request with the handler (path params already in the scope)."""
        # PERF: hand back serve_http's coroutine rather than awaiting it in another.
        return serve_http(self, scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await serve_http(self, scope, receive, send)

    def __repr__(self) -> str:
        return f"Route({self.path!r}, methods={list(self.methods)}, name={self.name!r})"


class WebSocketRoute:
    """A WebSocket route: a pattern and the handler that takes the connection."""

    methods = (WEBSOCKET_METHOD,)

    def __init__(self, path: str, endpoint: Callable[..., Any], *, name: str | None = None) -> None:
        if not is_async_callable(endpoint):
            raise TypeError(f"WebSocket handler {_endpoint_name(endpoint)!r} must be async")
        self.path = path
        self.template: PathTemplate = parse_template(path)
        self.endpoint = endpoint
        self.name = name if name is not None else _endpoint_name(endpoint)

    def handle(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """Hand the connection to the handler as a `WebSocket`."""
        return serve_websocket(self, scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await serve_websocket(self, scope, receive, send)

    def __repr__(self) -> str:
        return f"WebSocketRoute({self.path!r}, name={self.name!r})"


class Mount:
    """An ASGI app served under a path prefix, for HTTP and WebSocket alike.

    The app sees the request with `root_path` extended by the matched prefix and `path`
    unchanged, so a mounted `Bare` app routes on the rest of the path.
    """

    def __init__(self, path: str, app: ASGIApp, *, name: str | None = None) -> None:
        prefix = path.rstrip("/")
        if path and not path.startswith("/"):
            raise RouteError(f"mount prefix {path!r} must start with '/'")
        self.path = prefix
        self.app = app
        self.name = name
        # `/prefix` itself and `/prefix/anything`; the root mount only needs the latter.
        self.templates = tuple(
            parse_template(t)
            for t in ((prefix,) if prefix else ()) + (f"{prefix}/{{{MOUNT_REST}:path}}",)
        )
        self.template = self.templates[0]
        # Whether the app adds the headers middleware leave in the scope (bare apps do).
        self._honours_headers = bool(getattr(app, "honours_response_headers", False))

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Call the mounted app with the prefix moved from `path` into `root_path`."""
        params = dict(scope.get("path_params") or {})
        rest = params.pop(MOUNT_REST, None)
        path = route_path(scope)
        consumed = path if rest is None else path[: len(path) - len(rest) - 1]
        child = dict(scope)
        child["root_path"] = scope.get("root_path", "") + consumed
        child["path_params"] = params
        extra = child.pop(RESPONSE_HEADERS_KEY, None)
        if extra:
            # Headers a middleware asked bare to add: the mounted app may not know how.
            send = _adding_headers(send, extra)
        if not self._honours_headers:
            # A middleware inside this app must not count on bare to add its headers.
            child[RESPONSE_HEADERS_KEY] = NOT_HONOURED
        try:
            await self.app(child, receive, send)
        finally:
            if SERVER_EXCEPTION_KEY in child:
                scope[SERVER_EXCEPTION_KEY] = child[SERVER_EXCEPTION_KEY]

    def __repr__(self) -> str:
        return f"Mount({self.path!r}, name={self.name!r})"


def _adding_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await send(message)

    return send_with_headers


def route_path(scope: Scope) -> str:
    """The part of `scope["path"]` the app routes on: the path less `root_path`.

    Servers put the full path in `path`; an app mounted under a prefix routes on what
    follows it. An empty remainder is the root, `/`.
    """
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        rest = path[len(root_path) :]
        if not rest:
            return "/"
        if rest[0] == "/":
            return rest
    return path


class MethodShortcuts:
    """`get`, `post`, `put`, `patch` and `delete`: `route(path, [METHOD], ...)` decorators."""

    route: Callable[..., Callable[[F], F]]  # the class using this mixin has it

    def get(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register the decorated handler for GET (it answers HEAD too)."""
        return self.route(path, ["GET"], **options)

    def post(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register the decorated handler for POST."""
        return self.route(path, ["POST"], **options)

    def put(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register the decorated handler for PUT."""
        return self.route(path, ["PUT"], **options)

    def patch(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register the decorated handler for PATCH."""
        return self.route(path, ["PATCH"], **options)

    def delete(self, path: str, **options: Any) -> Callable[[F], F]:
        """Register the decorated handler for DELETE."""
        return self.route(path, ["DELETE"], **options)


class Router(MethodShortcuts):
    """The route table of an app: registration, matching and reverse routing.

    Matching is a walk over a segment trie (see `bare._router_py`), so its cost does not
    grow with the number of routes. A path that matches no route but would match with
    its trailing slash toggled is redirected (308) when `redirect_slashes` is on.
    """

    def __init__(self, *, redirect_slashes: bool = True, matcher_class: Any = None) -> None:
        self.redirect_slashes = redirect_slashes
        # `matcher_class` lets the tests drive both implementations; normally the selected one.
        self._matcher_class = matcher_class or router_impl.Matcher
        self.routes: list[Route | WebSocketRoute | Mount] = []
        self._http = TableBuilder()
        self._websocket = TableBuilder()
        self._http_matcher: Any = None
        self._websocket_matcher: Any = None
        # Whether any HTTP pattern ends with "/" or a `path` parameter, which a path
        # with a slash added could match.
        self._slash_endings = False

    # -- registration -------------------------------------------------------------

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: Iterable[str] | None = None,
        *,
        name: str | None = None,
        max_body_size: int | EllipsisType | None = ...,
    ) -> Route:
        """Register `endpoint` for `methods` (default `["GET"]`) on `path`."""
        route = Route(path, endpoint, methods=methods, name=name, max_body_size=max_body_size)
        self._add(route)
        return route

    def add_websocket_route(
        self, path: str, endpoint: Callable[..., Any], *, name: str | None = None
    ) -> WebSocketRoute:
        """Register a WebSocket handler on `path`."""
        route = WebSocketRoute(path, endpoint, name=name)
        self._add(route)
        return route

    def mount(self, path: str, app: ASGIApp, *, name: str | None = None) -> Mount:
        """Serve the ASGI `app` under the prefix `path` (HTTP and WebSocket)."""
        mount = Mount(path, app, name=name)
        self._add(mount)
        return mount

    def include_router(self, router: Router, *, prefix: str = "") -> None:
        """Copy `router`'s routes into this one, under `prefix`.

        The routes are copied now: routes added to `router` later are not included.
        """
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise RouteError(f"router prefix {prefix!r} must start with '/' and not end with one")
        for route in router.routes:
            copy: Route | WebSocketRoute | Mount
            if isinstance(route, Route):
                copy = Route(
                    prefix + route.path,
                    route.endpoint,
                    methods=route.methods,
                    name=route.name,
                    max_body_size=route.max_body_size,
                )
            elif isinstance(route, WebSocketRoute):
                copy = WebSocketRoute(prefix + route.path, route.endpoint, name=route.name)
            else:
                copy = Mount(prefix + route.path, route.app, name=route.name)
            self._add(copy)

    def _add(self, route: Route | WebSocketRoute | Mount) -> None:
        if not isinstance(route, WebSocketRoute):
            templates = route.templates if isinstance(route, Mount) else (route.template,)
            self._slash_endings = self._slash_endings or any(
                t.template.endswith("/") or t.template.endswith(":path}") for t in templates
            )
        if isinstance(route, Mount):
            for template in route.templates:
                label = f"mount {route.path or '/'!r}"
                self._http.add(TableEntry(template, (ANY_METHOD,), route, label))
                self._websocket.add(TableEntry(template, (ANY_METHOD,), route, label))
        else:
            builder = self._websocket if isinstance(route, WebSocketRoute) else self._http
            label = f"route {route.path!r} ({route.name})"
            builder.add(TableEntry(route.template, route.methods, route, label))
        self.routes.append(route)
        self._http_matcher = self._websocket_matcher = None

    def route(
        self,
        path: str,
        methods: Iterable[str] | None = None,
        *,
        name: str | None = None,
        max_body_size: int | EllipsisType | None = ...,
    ) -> Callable[[F], F]:
        """Decorator form of `add_route`."""

        def decorator(endpoint: F) -> F:
            self.add_route(path, endpoint, methods, name=name, max_body_size=max_body_size)
            return endpoint

        return decorator

    def websocket(self, path: str, *, name: str | None = None) -> Callable[[F], F]:
        """Decorator form of `add_websocket_route`."""

        def decorator(endpoint: F) -> F:
            self.add_websocket_route(path, endpoint, name=name)
            return endpoint

        return decorator

    # -- matching -----------------------------------------------------------------

    def http_matcher(self) -> Any:
        """The compiled-or-pure matcher of the HTTP table, built on first use."""
        if self._http_matcher is None:
            self._http_matcher = self._matcher_class(self._http.table())
        return self._http_matcher

    def websocket_matcher(self) -> Any:
        """The matcher of the WebSocket table, built on first use."""
        if self._websocket_matcher is None:
            self._websocket_matcher = self._matcher_class(self._websocket.table())
        return self._websocket_matcher

    def resolve(self, method: str, path: str) -> tuple[int, Any, Any]:
        """Match an HTTP request.

        Returns `(FOUND, route, params)`, `(METHOD_NOT_ALLOWED, allow, None)`,
        `(REDIRECT, other_path, None)` or `(NOT_FOUND, None, None)`.
        """
        matcher = self._http_matcher or self.http_matcher()
        result: tuple[int, Any, Any] = matcher.match(method, path)
        if result[0] == NOT_FOUND and self.redirect_slashes:
            other = self.slash_redirect(matcher, method, path)
            if other is not None:
                return (REDIRECT, other, None)
        return result

    def slash_redirect(self, matcher: Any, method: str, path: str) -> str | None:
        """The path with its trailing slash toggled, if that one would match."""
        if len(path) < 2 or path[0] != "/":
            return None
        if path[-1] != "/" and not self._slash_endings:
            return None  # PERF: no pattern could match with a slash added
        other = path[:-1] if path[-1] == "/" else path + "/"
        # `//host` and `/\host` in a Location header would leave the site.
        if other.startswith(("//", "/\\")):
            return None
        if matcher.match(method, other)[0] == NOT_FOUND:
            return None
        return other

    def resolve_websocket(self, path: str) -> tuple[int, Any, Any]:
        """Match a WebSocket connection: `(FOUND, route, params)` or `(NOT_FOUND, None, None)`."""
        matcher = self._websocket_matcher or self.websocket_matcher()
        result: tuple[int, Any, Any] = matcher.match(WEBSOCKET_METHOD, path)
        return result

    # -- reverse routing ----------------------------------------------------------

    def url_path_for(self, name: str, /, **params: Any) -> str:
        """Build the path of the route called `name` from its parameters.

        `mount_name:route_name` reaches into a named mount; routes of unnamed mounts are
        found by their own name. Raises `NoMatchFound` saying what did not fit.
        """
        problems: list[str] = []
        for route in self.routes:
            if isinstance(route, Mount):
                path = self._mount_path_for(route, name, params, problems)
                if path is not None:
                    return path
            elif route.name == name:
                try:
                    return route.template.build(params)
                except ValueError as exc:
                    problems.append(str(exc))
        if problems:
            raise NoMatchFound(f"no route {name!r} takes these parameters: {'; '.join(problems)}")
        raise NoMatchFound(f"no route named {name!r}")

    def _mount_path_for(
        self, mount: Mount, name: str, params: dict[str, Any], problems: list[str]
    ) -> str | None:
        prefix_names = set(mount.template.param_names)
        prefix_params = {k: v for k, v in params.items() if k in prefix_names}
        child_params = {k: v for k, v in params.items() if k not in prefix_names}
        if mount.name is not None:
            if name == mount.name:
                rest = child_params.pop("path", None)
                if rest is None or child_params:
                    problems.append(f"mount {mount.name!r} takes its prefix parameters and path=")
                    return None
                child_name = None
            elif name.startswith(mount.name + ":"):
                child_name = name[len(mount.name) + 1 :]
            else:
                return None
        else:
            child_name = name
        child_url_path_for = getattr(mount.app, "url_path_for", None)
        try:
            prefix = mount.template.build(prefix_params) if prefix_names else mount.path
            if child_name is None:
                return prefix + "/" + quote(str(rest).lstrip("/"), safe=_LOCATION_SAFE)
            if child_url_path_for is None:
                return None
            child_path: str = child_url_path_for(child_name, **child_params)
        except NoMatchFound as exc:
            if mount.name is not None:
                problems.append(str(exc))
            return None
        except ValueError as exc:
            problems.append(str(exc))
            return None
        return prefix + child_path if child_path != "/" or not prefix else prefix + "/"


def location_for(scope: Scope, path: str) -> str:
    """A relative Location for `path` in this app: root_path + quoted path + query."""
    root_path = scope.get("root_path", "")
    location = quote(root_path + path, safe=_LOCATION_SAFE, errors="surrogatepass")
    query: bytes = scope.get("query_string", b"")
    if query:
        location += "?" + quote(query.decode("latin-1"), safe=_QUERY_SAFE)
    return location
