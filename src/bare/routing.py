"""Routes, mounts and the `Router` that matches requests against them.

Patterns are parsed and checked here (`bare._templates`), turned into a plain-data trie
(`bare._table`) and walked by the compiled matcher or its pure twin (`bare._speedups`).
See docs/routing.md for the syntax and the precedence rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import EllipsisType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypedDict, TypeVar

from ._concurrency import is_async_callable
from ._endpoints import http_endpoint, websocket_endpoint
from ._errors import SERVER_EXCEPTION_KEY
from ._paths import route_path
from ._speedups import router_impl
from ._table import ANY_METHOD, RouteConflictError, Table, TableBuilder, TableEntry
from ._templates import PathTemplate, RouteError, parse_template
from .middleware import RESPONSE_HEADERS_KEY
from .requests import DEFAULT_MAX_BODY_SIZE
from .types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .forms import FormLimits

__all__ = [
    "FOUND",
    "METHOD_NOT_ALLOWED",
    "NOT_FOUND",
    "REDIRECT",
    "Matcher",
    "Mount",
    "NoMatchFound",
    "Resolution",
    "Route",
    "RouteConflictError",
    "RouteError",
    "RouteOptions",
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
T_co = TypeVar("T_co", covariant=True)
BodyLimit = int | None | EllipsisType  # `...`: the app's limit


class NoMatchFound(LookupError):
    """`url_path_for` found no route of that name taking those parameters."""


def _endpoint_name(endpoint: Any) -> str:
    return getattr(endpoint, "__name__", type(endpoint).__name__)


class RouteOptions:
    """Everything a route can be given besides its path, methods and handler.

    One value that travels with the route: from the decorator (`@app.get(path,
    name=..., max_body_size=...)`) into the `Route`, and into its copies under a mount
    prefix or an included router. Unknown options are refused with a `TypeError`
    naming the known ones.

    - `name`: the name `url_path_for` knows the route by (default: the handler's name).
    - `max_body_size`: this route's request body limit in bytes, `None` for none;
      left out (`...`), the app's limit applies.
    - `requires`: the scopes a request must be authenticated with (a string or a list
      of strings), as `bare.authentication.requires(...)` applied to the handler;
      `None` (the default) checks nothing. `[]` asks for an authenticated user only.
    - `etag`: give this route's responses an ETag and answer conditional requests
      (see docs/conditional-responses.md); left out (`...`), the app's setting applies.
    - `form_limits`: the `bare.forms.FormLimits` of `request.form()` on this route;
      left out (`...`), the app's apply.
    """

    __slots__ = ("etag", "form_limits", "max_body_size", "name", "requires")

    def __init__(
        self,
        *,
        name: str | None = None,
        max_body_size: BodyLimit = ...,
        requires: str | Iterable[str] | None = None,
        etag: bool | EllipsisType = ...,
        form_limits: FormLimits | EllipsisType | None = ...,
    ) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"route name must be a string, not {name!r}")
        _check_body_limit(max_body_size, "max_body_size")
        _check_etag(etag)
        _check_form_limits(form_limits)
        self.name = name
        self.max_body_size = max_body_size
        self.requires = _scopes(requires)
        self.etag = etag
        self.form_limits = form_limits

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> RouteOptions:
        """`RouteOptions(**args)`, with a clear message for a misspelt option."""
        unknown = sorted(set(args) - set(cls.__slots__))
        if unknown:
            known = ", ".join(sorted(cls.__slots__))
            raise TypeError(f"unknown route option {unknown[0]!r}; route options are: {known}")
        return cls(**args)

    def replace(self, **changes: Any) -> RouteOptions:
        """A copy with `changes` applied."""
        return RouteOptions.from_args({**self.as_dict(), **changes})

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RouteOptions) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash(tuple(self.as_dict().items()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items())
        return f"RouteOptions({fields})"


class RouteOptionArgs(TypedDict, total=False):
    """The keyword form of `RouteOptions`, for type checkers (keep the two in step:
    tests/test_one_path.py::test_route_option_keywords_and_the_record_stay_in_step
    compares them)."""

    name: str | None
    max_body_size: BodyLimit
    requires: str | Iterable[str] | None
    etag: bool | EllipsisType
    form_limits: FormLimits | EllipsisType | None


def _scopes(requires: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if requires is None:
        return None
    scopes = (requires,) if isinstance(requires, str) else tuple(requires)
    for scope in scopes:
        if not isinstance(scope, str) or not scope:
            raise TypeError(f"requires= takes scope names (non-empty strings), not {scope!r}")
    return scopes


def _check_body_limit(value: Any, what: str) -> None:
    if value is ... or value is None:
        return
    if type(value) is not int or value < 0:
        raise ValueError(f"{what} must be a number of bytes >= 0 or None, not {value!r}")


def _check_etag(value: Any) -> None:
    if value is not ... and type(value) is not bool:
        raise TypeError(f"etag must be True or False, not {value!r}")


def _check_form_limits(value: Any) -> None:
    if value is ... or value is None:
        return
    from .forms import FormLimits  # here: only apps that set form limits load the module

    if not isinstance(value, FormLimits):
        raise TypeError(
            f"form_limits must be a bare.forms.FormLimits (or None for the defaults), not {value!r}"
        )


class RouteSettings(NamedTuple):
    """The settings a route is served with: its own options where it sets them, else
    those of the app (or router) it is bound to. `form_limits` None: the defaults."""

    max_body_size: int | None = DEFAULT_MAX_BODY_SIZE
    etag: bool = False
    form_limits: FormLimits | None = None


DEFAULT_SETTINGS = RouteSettings()


class Route:
    """An HTTP route: a pattern, the methods it answers and the handler that answers.

    `handle` is the ASGI callable that serves the route, built once with the route's
    options when the route is added to a router (`bind`); the app calls it for every
    request the route matches. A route is itself an ASGI app.
    """

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Iterable[str] | None = None,
        options: RouteOptions | None = None,
        **option_args: Unpack[RouteOptionArgs],
    ) -> None:
        if isinstance(methods, str):
            raise TypeError(f"methods must be a list of strings, not the string {methods!r}")
        if options is None:
            options = RouteOptions.from_args(dict(option_args))
        elif option_args:
            options = options.replace(**option_args)
        self.path = path
        self.template: PathTemplate = parse_template(path)
        self.endpoint = endpoint
        self.methods: tuple[str, ...] = tuple(
            dict.fromkeys(m.upper() for m in (["GET"] if methods is None else methods))
        )
        if not self.methods:
            raise RouteError(f"route {path!r} answers no method")
        self.options = options
        self.name = options.name if options.name is not None else _endpoint_name(endpoint)
        self.bind(DEFAULT_SETTINGS)

    def bind(self, defaults: RouteSettings) -> None:
        """Build `handle`, the callable that serves this route, filling the options the
        route leaves to the app (body limit, etag, form limits) from `defaults`, the
        app's settings."""
        options = self.options
        self.settings = RouteSettings(
            defaults.max_body_size if options.max_body_size is ... else options.max_body_size,
            defaults.etag if options.etag is ... else options.etag,
            defaults.form_limits if options.form_limits is ... else options.form_limits,
        )
        endpoint = self.endpoint
        if options.requires is not None:
            from .authentication import requires  # here: only apps that use it load it

            endpoint = requires(*options.requires)(endpoint)
        self.handle: ASGIApp = http_endpoint(endpoint, self.settings)

    @property
    def max_body_size(self) -> int | None:
        """The body limit this route is served with (its own, else the app's)."""
        return self.settings.max_body_size

    def with_prefix(self, prefix: str) -> Route:
        """This route under `prefix`, with the same handler, methods and options."""
        return Route(prefix + self.path, self.endpoint, methods=self.methods, options=self.options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handle(scope, receive, send)

    def __repr__(self) -> str:
        return f"Route({self.path!r}, methods={list(self.methods)}, name={self.name!r})"


class WebSocketRoute:
    """A WebSocket route: a pattern and the handler that takes the connection."""

    methods = (WEBSOCKET_METHOD,)

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        name: str | None = None,
        requires: str | Iterable[str] | None = None,
    ) -> None:
        if not is_async_callable(endpoint):
            raise TypeError(f"WebSocket handler {_endpoint_name(endpoint)!r} must be async")
        self.path = path
        self.template: PathTemplate = parse_template(path)
        self.endpoint = endpoint
        self.name = name if name is not None else _endpoint_name(endpoint)
        # As for HTTP routes: the scopes a connection needs, checked before the handler.
        self.requires = _scopes(requires)
        if self.requires is not None:
            from .authentication import requires as requiring  # only apps that use it load it

            endpoint = requiring(*self.requires)(endpoint)
        self.handle: ASGIApp = websocket_endpoint(endpoint)

    def bind(self, defaults: RouteSettings) -> None:
        """Nothing to fill in: a WebSocket route takes no option from the app."""

    def with_prefix(self, prefix: str) -> WebSocketRoute:
        """This route under `prefix`, with the same handler, name and scopes."""
        return WebSocketRoute(
            prefix + self.path, self.endpoint, name=self.name, requires=self.requires
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handle(scope, receive, send)

    def __repr__(self) -> str:
        return f"WebSocketRoute({self.path!r}, name={self.name!r})"


class Mount:
    """An ASGI app served under a path prefix, for HTTP and WebSocket alike.

    The app sees the request with `root_path` extended by the matched prefix and `path`
    unchanged, so a mounted `Bare` app routes on the rest of the path. A mounted `Bare`
    app's lifespan runs with its parent's (see docs/lifespan.md).
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

    def bind(self, defaults: RouteSettings) -> None:
        """Nothing to fill in: the mounted app has its own settings."""

    def with_prefix(self, prefix: str) -> Mount:
        """This mount under `prefix`, with the same app and name."""
        return Mount(prefix + self.path, self.app, name=self.name)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Call the mounted app with the prefix moved from `path` into `root_path`."""
        params = dict(scope.get("path_params") or {})
        rest = params.pop(MOUNT_REST, None)
        path = route_path(scope)
        consumed = path if rest is None else path[: len(path) - len(rest) - 1]
        child = dict(scope)
        child["root_path"] = scope.get("root_path", "") + consumed
        child["path_params"] = params
        # Headers a middleware left for this app's responses: the mounted app adds
        # those of its own middleware only, so these are added on the way out, as they
        # stand when the response starts (a handler may still add some, as csrf_token()
        # does).
        if child.pop(RESPONSE_HEADERS_KEY, None) is not None:
            send = _adding_headers(send, scope)
        try:
            await self.app(child, receive, send)
        finally:
            if SERVER_EXCEPTION_KEY in child:
                scope[SERVER_EXCEPTION_KEY] = child[SERVER_EXCEPTION_KEY]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handle(scope, receive, send)

    def __repr__(self) -> str:
        return f"Mount({self.path!r}, name={self.name!r})"


AnyRoute = Route | WebSocketRoute | Mount


def _adding_headers(send: Send, scope: Scope) -> Send:
    """`send`, adding the headers handed over in `scope` to the response's start."""

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            extra = scope.get(RESPONSE_HEADERS_KEY)
            if extra:
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await send(message)

    return send_with_headers


class Matcher(Protocol[T_co]):
    """What `_router.Matcher` and `_router_py.Matcher` are: built from a `Table`, they
    answer `match(method, path)` with one of

        (FOUND, target, params)           params: {name: converted value}
        (METHOD_NOT_ALLOWED, allow, None) allow: sorted tuple of the allowed methods
        (NOT_FOUND, None, None)

    Plain tuples, not `Resolution`s: building a named tuple in the walk costs.
    """

    def match(
        self, method: str, path: str
    ) -> tuple[int, T_co | tuple[str, ...] | None, dict[str, Any] | None]: ...


class Resolution(NamedTuple):
    """What `Router.resolve` decided: `code` is FOUND, METHOD_NOT_ALLOWED, REDIRECT or
    NOT_FOUND; `target` is the route, the allowed methods, the path to redirect to, or
    None; `params` the path parameters of a FOUND."""

    code: int
    target: AnyRoute | tuple[str, ...] | str | None
    params: dict[str, Any] | None


class MethodShortcuts:
    """`get`, `post`, `put`, `patch` and `delete`: `route(path, [METHOD], ...)` decorators."""

    route: Callable[..., Callable[[F], F]]  # the class using this mixin has it

    def get(self, path: str, **options: Unpack[RouteOptionArgs]) -> Callable[[F], F]:
        """Register the decorated handler for GET (it answers HEAD too)."""
        return self.route(path, ["GET"], **options)

    def post(self, path: str, **options: Unpack[RouteOptionArgs]) -> Callable[[F], F]:
        """Register the decorated handler for POST."""
        return self.route(path, ["POST"], **options)

    def put(self, path: str, **options: Unpack[RouteOptionArgs]) -> Callable[[F], F]:
        """Register the decorated handler for PUT."""
        return self.route(path, ["PUT"], **options)

    def patch(self, path: str, **options: Unpack[RouteOptionArgs]) -> Callable[[F], F]:
        """Register the decorated handler for PATCH."""
        return self.route(path, ["PATCH"], **options)

    def delete(self, path: str, **options: Unpack[RouteOptionArgs]) -> Callable[[F], F]:
        """Register the decorated handler for DELETE."""
        return self.route(path, ["DELETE"], **options)


class Router(MethodShortcuts):
    """The route table of an app: registration, matching and reverse routing.

    Matching is a walk over a segment trie (see `bare._router_py`), so its cost does not
    grow with the number of routes. A path that matches no route but would match with
    its trailing slash toggled is redirected (308) when `redirect_slashes` is on.

    `max_body_size` (the body limit, 1 MiB; `None` for none), `etag` (False) and
    `form_limits` (a `bare.forms.FormLimits`; `None` for the defaults) apply to the
    routes that do not set their own. A `Bare` app's router takes the app's; a router
    included in another passes its own on only when it was given them.
    """

    def __init__(
        self,
        *,
        redirect_slashes: bool = True,
        max_body_size: BodyLimit = ...,
        etag: bool | EllipsisType = ...,
        form_limits: FormLimits | EllipsisType | None = ...,
        matcher_class: Callable[[Table], Matcher[AnyRoute]] | None = None,
    ) -> None:
        _check_body_limit(max_body_size, "max_body_size")
        _check_etag(etag)
        _check_form_limits(form_limits)
        self.redirect_slashes = redirect_slashes
        # `...` until set: the routes use the default, and an including router's.
        self._max_body_size: BodyLimit = max_body_size
        self._etag: bool | EllipsisType = etag
        self._form_limits: FormLimits | EllipsisType | None = form_limits
        # `matcher_class` lets the tests drive both implementations; normally the selected one.
        self._matcher_class = matcher_class or router_impl.Matcher
        self.routes: list[AnyRoute] = []
        self._http = TableBuilder()
        self._websocket = TableBuilder()
        self._http_matcher: Matcher[AnyRoute] | None = None
        self._websocket_matcher: Matcher[AnyRoute] | None = None
        # Whether any HTTP pattern ends with "/" or a `path` parameter, which a path
        # with a slash added could match.
        self._slash_endings = False

    @property
    def settings(self) -> RouteSettings:
        """The settings routes that set none of their own are served with."""
        return RouteSettings(
            DEFAULT_MAX_BODY_SIZE if self._max_body_size is ... else self._max_body_size,
            False if self._etag is ... else self._etag,
            None if self._form_limits is ... else self._form_limits,
        )

    @property
    def max_body_size(self) -> int | None:
        """The body limit of routes that set none; setting it rebinds them."""
        return self.settings.max_body_size

    @max_body_size.setter
    def max_body_size(self, value: int | None) -> None:
        _check_body_limit(value, "max_body_size")
        self._max_body_size = value
        self._rebind()

    @property
    def etag(self) -> bool:
        """Whether routes that set none answer conditional requests; setting it rebinds them."""
        return self.settings.etag

    @etag.setter
    def etag(self, value: bool) -> None:
        _check_etag(value)
        self._etag = value
        self._rebind()

    @property
    def form_limits(self) -> FormLimits | None:
        """The form limits of routes that set none (None: the defaults); setting it
        rebinds them."""
        return self.settings.form_limits

    @form_limits.setter
    def form_limits(self, value: FormLimits | None) -> None:
        _check_form_limits(value)
        self._form_limits = value
        self._rebind()

    def _rebind(self) -> None:
        settings = self.settings
        for route in self.routes:
            route.bind(settings)

    # -- registration -------------------------------------------------------------

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: Iterable[str] | None = None,
        **options: Unpack[RouteOptionArgs],
    ) -> Route:
        """Register `endpoint` for `methods` (default `["GET"]`) on `path`; `options`
        are those of `RouteOptions`."""
        route = Route(path, endpoint, methods=methods, **options)
        self.add(route)
        return route

    def add_websocket_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        name: str | None = None,
        requires: str | Iterable[str] | None = None,
    ) -> WebSocketRoute:
        """Register a WebSocket handler on `path` (`requires`: see `RouteOptions`)."""
        route = WebSocketRoute(path, endpoint, name=name, requires=requires)
        self.add(route)
        return route

    def mount(self, path: str, app: ASGIApp, *, name: str | None = None) -> Mount:
        """Serve the ASGI `app` under the prefix `path` (HTTP and WebSocket)."""
        mount = Mount(path, app, name=name)
        self.add(mount)
        return mount

    def include_router(self, router: Router, *, prefix: str = "") -> None:
        """Copy `router`'s routes into this one, under `prefix`, options and all.

        The routes are copied now: routes added to `router` later are not included.
        """
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise RouteError(f"router prefix {prefix!r} must start with '/' and not end with one")
        # What `router` was given explicitly passes on to its routes that set none.
        given = {
            name: value
            for name, value in (
                ("max_body_size", router._max_body_size),
                ("etag", router._etag),
                ("form_limits", router._form_limits),
            )
            if value is not ...
        }
        for route in router.routes:
            copy = route.with_prefix(prefix)
            if isinstance(copy, Route):
                inherited = {
                    name: value
                    for name, value in given.items()
                    if getattr(copy.options, name) is ...
                }
                if inherited:
                    copy = Route(
                        copy.path,
                        copy.endpoint,
                        methods=copy.methods,
                        options=copy.options.replace(**inherited),
                    )
            self.add(copy)

    def add(self, route: AnyRoute) -> None:
        """Add a route, WebSocket route or mount built elsewhere, and bind it."""
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
        route.bind(self.settings)
        self.routes.append(route)
        self._http_matcher = self._websocket_matcher = None

    def route(
        self,
        path: str,
        methods: Iterable[str] | None = None,
        **options: Unpack[RouteOptionArgs],
    ) -> Callable[[F], F]:
        """Decorator form of `add_route`."""
        # Checked now, so that a misspelt option fails at the decorator's line.
        route_options = RouteOptions.from_args(dict(options))

        def decorator(endpoint: F) -> F:
            self.add(Route(path, endpoint, methods=methods, options=route_options))
            return endpoint

        return decorator

    def websocket(
        self, path: str, *, name: str | None = None, requires: str | Iterable[str] | None = None
    ) -> Callable[[F], F]:
        """Decorator form of `add_websocket_route`."""
        _scopes(requires)  # checked now, so that a mistake fails at the decorator's line

        def decorator(endpoint: F) -> F:
            self.add_websocket_route(path, endpoint, name=name, requires=requires)
            return endpoint

        return decorator

    # -- matching -----------------------------------------------------------------

    def http_matcher(self) -> Matcher[AnyRoute]:
        """The compiled-or-pure matcher of the HTTP table, built on first use."""
        if self._http_matcher is None:
            self._http_matcher = self._matcher_class(self._http.table())
        return self._http_matcher

    def websocket_matcher(self) -> Matcher[AnyRoute]:
        """The matcher of the WebSocket table, built on first use."""
        if self._websocket_matcher is None:
            self._websocket_matcher = self._matcher_class(self._websocket.table())
        return self._websocket_matcher

    def resolve(self, method: str, path: str) -> Resolution:
        """Match an HTTP request.

        Returns `(FOUND, route, params)`, `(METHOD_NOT_ALLOWED, allow, None)`,
        `(REDIRECT, other_path, None)` or `(NOT_FOUND, None, None)`.
        """
        matcher = self._http_matcher or self.http_matcher()
        code, target, params = matcher.match(method, path)
        if code == NOT_FOUND and self.redirect_slashes:
            other = self.slash_redirect(matcher, method, path)
            if other is not None:
                return Resolution(REDIRECT, other, None)
        return Resolution(code, target, params)

    def slash_redirect(self, matcher: Matcher[AnyRoute], method: str, path: str) -> str | None:
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

    def resolve_websocket(self, path: str) -> Resolution:
        """Match a WebSocket connection: `(FOUND, route, params)` or `(NOT_FOUND, None, None)`."""
        matcher = self._websocket_matcher or self.websocket_matcher()
        code, target, params = matcher.match(WEBSOCKET_METHOD, path)
        return Resolution(code, target, params)

    def mounted_apps(self) -> list[ASGIApp]:
        """The apps mounted in this router, in the order they were mounted."""
        return [route.app for route in self.routes if isinstance(route, Mount)]

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
            # The template quotes the prefix as route literals are quoted.
            prefix = mount.template.build(prefix_params) if mount.path else ""
            if child_name is None:
                from urllib.parse import quote

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
    from urllib.parse import quote  # here, not at import: see tests/test_import_cost.py

    root_path = scope.get("root_path", "")
    location = quote(root_path + path, safe=_LOCATION_SAFE, errors="surrogatepass")
    query: bytes = scope.get("query_string", b"")
    if query:
        location += "?" + quote(query.decode("latin-1"), safe=_QUERY_SAFE)
    return location
