"""Routes, mounts and the `Router` that matches requests against them.

Patterns are parsed and checked here (`bare._templates`), turned into a plain-data trie
(`bare._table`) and walked by the compiled matcher or its pure twin (`bare._speedups`).
See docs/routing.md for the syntax and the precedence rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import EllipsisType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypedDict, TypeVar, get_origin

from ._concurrency import is_async_callable
from ._endpoints import http_endpoint, websocket_endpoint
from ._errors import SERVER_EXCEPTION_KEY
from ._paths import route_path
from ._quoting import quote
from ._speedups import router_impl
from ._table import ANY_METHOD, RouteConflictError, Table, TableBuilder, TableEntry
from ._templates import PathTemplate, RouteError, parse_template
from .middleware import RESPONSE_HEADERS_KEY
from .requests import DEFAULT_MAX_BODY_SIZE
from .responses import Response
from .types import ASGIApp, Message, Receive, Scope, Send
from .websockets import WebSocketLimitArgs, WebSocketLimits

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from typing_extensions import Unpack

    from ._signature import HandlerPlan
    from .forms import FormLimits

__all__ = [
    "FOUND",
    "METHOD_NOT_ALLOWED",
    "NOT_FOUND",
    "REDIRECT",
    "Matcher",
    "Mount",
    "NoMatchFound",
    "RegistrationError",
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
# A route's plan and the callable built from it; (None, None) for a plain handler.
Compiled = tuple["HandlerPlan | None", "Callable[[Any], Awaitable[Any]] | None"]


class RegistrationError(TypeError):
    """A typed handler whose parameters cannot be served, refused at registration
    with a message naming the route, the handler, the parameter and the fix."""


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

    Typed handlers (docs/typed.md); any of these four makes the handler typed:

    - `status_code`: the status of a successful response (default 200).
    - `response_model`: the type the handler's result is encoded as (fields it lacks
      are never sent); left out (`...`), the return annotation when it is a model,
      `None` for none.
    - `response_class`: the `Response` class the result is sent in (default JSON).
    - `dependencies`: `Depends(...)` run before the handler, for their effects.

    For the OpenAPI document only (they never change how a request is served):
    `tags`, `summary`, `description`, `operation_id`, `deprecated`,
    `include_in_schema` (True) and `responses` (status -> {"description", "model",
    "content", ...}: responses the route may give besides its own).
    """

    __slots__ = (
        "dependencies",
        "deprecated",
        "description",
        "etag",
        "form_limits",
        "include_in_schema",
        "max_body_size",
        "name",
        "operation_id",
        "requires",
        "response_class",
        "response_model",
        "responses",
        "status_code",
        "summary",
        "tags",
    )

    def __init__(
        self,
        *,
        name: str | None = None,
        max_body_size: BodyLimit = ...,
        requires: str | Iterable[str] | None = None,
        etag: bool | EllipsisType = ...,
        form_limits: FormLimits | EllipsisType | None = ...,
        status_code: int | None = None,
        response_model: Any = ...,
        response_class: type[Response] | None = None,
        responses: Mapping[int | str, Mapping[str, Any]] | None = None,
        dependencies: Iterable[Any] = (),
        tags: Iterable[str] = (),
        summary: str | None = None,
        description: str | None = None,
        operation_id: str | None = None,
        deprecated: bool = False,
        include_in_schema: bool = True,
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
        self.status_code = _status_code(status_code)
        self.response_model = response_model
        self.response_class = _response_class(response_class)
        self.responses = _responses(responses)
        self.dependencies = _dependencies(dependencies)
        self.tags = _tags(tags)
        self.summary = _optional_text(summary, "summary")
        self.description = _optional_text(description, "description")
        self.operation_id = _optional_text(operation_id, "operation_id")
        self.deprecated = _flag(deprecated, "deprecated")
        self.include_in_schema = _flag(include_in_schema, "include_in_schema")

    @property
    def typed(self) -> bool:
        """Whether an option asks for a typed handler (see docs/typed.md)."""
        return (
            self.status_code is not None
            or self.response_model is not ...
            or self.response_class is not None
            or bool(self.dependencies)
        )

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
        # `responses` is a dict: the other options identify a route's options well enough.
        return hash(tuple(v for k, v in self.as_dict().items() if k != "responses"))

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
    status_code: int | None
    response_model: Any
    response_class: type[Response] | None
    responses: Mapping[int | str, Mapping[str, Any]] | None
    dependencies: Iterable[Any]
    tags: Iterable[str]
    summary: str | None
    description: str | None
    operation_id: str | None
    deprecated: bool
    include_in_schema: bool


def _status_code(value: Any) -> int | None:
    if value is not None and (type(value) is not int or not 100 <= value <= 599):
        raise ValueError(
            f"status_code must be an HTTP status (an int from 100 to 599), not {value!r}"
        )
    return value


def _response_class(value: Any) -> type[Response] | None:
    # get_origin: Python 3.10 takes `list[X]` for a class, and issubclass refuses it.
    if value is not None and not (
        isinstance(value, type) and get_origin(value) is None and issubclass(value, Response)
    ):
        raise TypeError(
            f"response_class must be a bare.responses.Response class (JSONResponse, "
            f"HTMLResponse...), not {value!r}"
        )
    return value


def _responses(value: Any) -> dict[int | str, dict[str, Any]] | None:
    """The documented responses, checked: status -> a dict of what documents it."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(
            f'responses must be a dict such as {{404: {{"description": "..."}}}}, not {value!r}'
        )
    checked: dict[int | str, dict[str, Any]] = {}
    for status, spec in value.items():
        if isinstance(status, str) and status.isascii() and status.isdigit():
            status = int(status)
        if isinstance(status, str):
            if status != "default" and not (
                len(status) == 3 and status[0] in "12345" and status[1:] == "XX"
            ):
                raise ValueError(
                    f'responses: {status!r} is not a status; use an int (404), "4XX" or "default"'
                )
        elif type(status) is not int or not 100 <= status <= 599:
            raise ValueError(f"responses: {status!r} is not a status (an int from 100 to 599)")
        if not isinstance(spec, Mapping):
            raise TypeError(
                f"responses[{status!r}] must be a dict such as "
                f'{{"description": "Not found"}}, not {spec!r}'
            )
        checked[status] = dict(spec)
    return checked


def _dependencies(value: Any) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"dependencies must be a list of Depends(...), not {value!r}")
    found = tuple(value)
    if found:
        from .params import Dependency  # here: only typed routes load it

        for item in found:
            if not isinstance(item, Dependency):
                hint = (
                    f": write Depends({getattr(item, '__name__', '...')})" if callable(item) else ""
                )
                raise TypeError(f"dependencies takes Depends(...) markers, not {item!r}{hint}")
    return found


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError(f"tags must be a list of strings, such as [{value!r}], not {value!r}")
    tags = tuple(value)
    for tag in tags:
        if not isinstance(tag, str) or not tag:
            raise TypeError(f"tags are non-empty strings, not {tag!r}")
    return tags


def _merged(outer: tuple[str, ...], own: tuple[str, ...]) -> tuple[str, ...]:
    """Tags: `outer` first, each once."""
    return tuple(dict.fromkeys((*outer, *own)))


def _optional_text(value: Any, what: str) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise TypeError(f"{what} must be a non-empty string or None, not {value!r}")
    return value


def _flag(value: Any, what: str) -> bool:
    if type(value) is not bool:
        raise TypeError(f"{what} must be True or False, not {value!r}")
    return value


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


# The options a handler's plan is built from: a copy that changes none reuses the plan.
_PLAN_OPTIONS = frozenset({"status_code", "response_model", "response_class", "dependencies"})


def _takes_the_connection(
    endpoint: Callable[..., Any], path_params: Iterable[str], http: bool
) -> bool:
    """Whether `endpoint` is a plain handler: exactly one positional parameter without a
    default, either unannotated (and not named as a path parameter) or annotated
    `Request` (`WebSocket` for WebSocket routes), `HTTPConnection` or `Any`. Plain
    handlers are called as they are; every other one is typed (docs/typed.md)."""
    import inspect  # loaded already (by asyncio): the name is kept local to registration

    try:
        parameters = list(inspect.signature(endpoint).parameters.values())
    except (TypeError, ValueError):  # a builtin, say: nothing to read, served as it is
        return True
    if len(parameters) != 1:
        return False
    (parameter,) = parameters
    if parameter.kind not in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
        return False
    if parameter.default is not parameter.empty:
        return False
    annotation = parameter.annotation
    if annotation is parameter.empty:
        return parameter.name not in path_params
    if isinstance(annotation, str):
        annotation = _resolved(endpoint, parameter.name, annotation, http)
    from .requests import HTTPConnection, Request
    from .websockets import WebSocket

    if annotation is Any or annotation is object or annotation is HTTPConnection:
        return True
    wanted = Request if http else WebSocket
    return (
        isinstance(annotation, type)
        and get_origin(annotation) is None  # Python 3.10 takes `list[X]` for a class
        and issubclass(annotation, wanted)
    )


def _resolved(endpoint: Callable[..., Any], name: str, annotation: str, http: bool) -> Any:
    """A string annotation (`from __future__ import annotations`), resolved; where the
    names it uses cannot be found, the usual spellings of the connection's type."""
    import inspect
    import typing

    target: Any = inspect.unwrap(endpoint)
    if not (inspect.isfunction(target) or inspect.ismethod(target)):
        target = type(target).__call__
    try:
        return typing.get_type_hints(target, include_extras=True).get(name, annotation)
    except Exception:
        from .requests import HTTPConnection, Request
        from .websockets import WebSocket

        known = {"Any": object, "HTTPConnection": HTTPConnection}
        for cls in (Request, WebSocket):
            known[cls.__name__] = known[f"bare.{cls.__name__}"] = cls
        return known.get(annotation, annotation)


def _first_parameter(endpoint: Callable[..., Any]) -> str | None:
    import inspect

    try:
        return next(iter(inspect.signature(endpoint).parameters), None)
    except (TypeError, ValueError):
        return None


def _compile_websocket(route: WebSocketRoute, handler: Callable[..., Any]) -> Compiled:
    plain = _takes_the_connection(handler, route.template.param_names, False)
    if plain and not route.dependencies:
        return None, None
    from ._injection import compile_websocket  # here: only apps with typed handlers load it

    # A plain handler made typed (by dependencies) is still given the connection.
    compiled = compile_websocket(route, handler, _first_parameter(handler) if plain else None)
    _check_hidden_requires(route.path, handler, compiled[0])
    return compiled


def _compile_http(route: Route, handler: Callable[..., Any]) -> Compiled:
    plain = _takes_the_connection(handler, route.template.param_names, True)
    if plain and not route.options.typed:
        return None, None
    from ._injection import compile_http  # here: only apps with typed handlers load it

    # A plain handler made typed (by a route option) is still given the request.
    compiled = compile_http(route, handler, _first_parameter(handler) if plain else None)
    _check_hidden_requires(route.path, handler, compiled[0])
    return compiled


def _check_hidden_requires(path: str, handler: Callable[..., Any], plan: Any) -> None:
    """Refuse a typed handler with `@requires(...)` under another decorator when it
    takes no request: that `requires` would find none to check, at every request."""
    if getattr(handler, "__bare_requires__", None) is None:
        return
    if any(what in ("request", "websocket", "connection") for _, what in plan.injected):
        return
    raise RegistrationError(
        f"route {path!r}, handler {_endpoint_name(handler)}: @requires(...) sits under "
        "another decorator, where the route cannot take it apart, and the handler takes "
        "no request for it to check; put @requires(...) right below the route's "
        "decorator, or give the route requires=[...]"
    )


def _guarded(
    endpoint: Callable[..., Any], requires: tuple[str, ...] | None
) -> tuple[Callable[..., Any], tuple[str, ...] | None, Any]:
    """A handler decorated with `bare.authentication.requires(...)`, taken apart: the
    handler under it, the scopes of `requires` (the route's, then the decorator's) and
    what the decorator asked (None for a handler that is not decorated). The route
    checks them itself, so typed handlers can be decorated too."""
    if getattr(endpoint, "__bare_requires__", None) is None:
        return endpoint, requires, None
    from .authentication import requirement_of  # loaded already: `requires` made it

    found = requirement_of(endpoint)
    if found is None:  # `requires` under another decorator: served as it is
        return endpoint, requires, None
    handler, requirement = found
    scopes = tuple(dict.fromkeys((*(requires or ()), *requirement.scopes)))
    return handler, scopes, requirement


def _checking(endpoint: Callable[..., Any], scopes: tuple[str, ...], requirement: Any) -> Any:
    """`endpoint`, checking the scopes first, as `requirement` (the decorator's, if
    the handler had one) says to refuse."""
    from .authentication import requires  # here: only apps that use it load it

    if requirement is None:
        return requires(*scopes)(endpoint)
    return requires(*scopes, status_code=requirement.status_code, redirect=requirement.redirect)(
        endpoint
    )


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
        _compiled: Compiled | None = None,
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
        # A handler under `@requires(...)`: its scopes join the route's `requires`.
        self._handler, requires, self._requirement = _guarded(endpoint, options.requires)
        if requires != options.requires:
            options = options.replace(requires=requires)
        self.options = options
        self.name = options.name if options.name is not None else _endpoint_name(endpoint)
        self._compile(_compiled)
        self.bind(DEFAULT_SETTINGS)

    def _compile(self, compiled: Compiled | None) -> None:
        """Decide, once, how the handler is called: as it is (a plain handler), or
        through the callable built from its plan (see docs/typed.md). `compiled`: what
        a copy of this route under a prefix without parameters reuses."""
        if compiled is None:
            compiled = _compile_http(self, self._handler)
        self.plan, self._typed_call = compiled

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
        endpoint = self._handler if self._typed_call is None else self._typed_call
        if options.requires is not None:
            endpoint = _checking(endpoint, options.requires, self._requirement)
        self.handle: ASGIApp = http_endpoint(endpoint, self.settings)

    @property
    def max_body_size(self) -> int | None:
        """The body limit this route is served with (its own, else the app's)."""
        return self.settings.max_body_size

    def with_prefix(self, prefix: str) -> Route:
        """This route under `prefix`, with the same handler, methods and options."""
        return self.with_options(prefix)

    def with_options(self, prefix: str = "", **changes: Any) -> Route:
        """This route under `prefix` with its options changed by `changes`. The
        handler's plan is reused unless the copy could read it differently (a prefix
        with parameters, other dependencies or response options)."""
        options = self.options.replace(**changes) if changes else self.options
        reuse = not parse_template(prefix).param_names if prefix else True
        if reuse and changes.keys() & _PLAN_OPTIONS:
            reuse = all(getattr(options, k) == getattr(self.options, k) for k in _PLAN_OPTIONS)
        compiled = (self.plan, self._typed_call) if reuse else None
        return Route(
            prefix + self.path,
            self.endpoint,
            methods=self.methods,
            options=options,
            _compiled=compiled,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handle(scope, receive, send)

    def __repr__(self) -> str:
        return f"Route({self.path!r}, methods={list(self.methods)}, name={self.name!r})"


class WebSocketRoute:
    """A WebSocket route: a pattern and the handler that takes the connection.

    A handler that declares more than the connection is typed, as HTTP handlers are
    (path, query, header and cookie parameters, dependencies: docs/typed.md);
    `dependencies` are `Depends(...)` run before it, for their effects.

    The limit options (`max_message_size`, `message_rate`, `message_burst`,
    `idle_timeout`: see `bare.websockets.WebSocketLimits`) bound what a client sends;
    `limits` gives them all at once, as a `WebSocketLimits`, and the options change
    some of those.
    """

    methods = (WEBSOCKET_METHOD,)

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        name: str | None = None,
        requires: str | Iterable[str] | None = None,
        dependencies: Iterable[Any] = (),
        limits: WebSocketLimits | None = None,
        _compiled: Compiled | None = None,
        **limit_args: Unpack[WebSocketLimitArgs],
    ) -> None:
        if not is_async_callable(endpoint):
            raise TypeError(f"WebSocket handler {_endpoint_name(endpoint)!r} must be async")
        if limits is not None and not isinstance(limits, WebSocketLimits):
            raise TypeError(f"limits is a bare.websockets.WebSocketLimits, not {limits!r}")
        self.limits = limits = WebSocketLimits.from_args(limit_args, limits)
        self.path = path
        self.template: PathTemplate = parse_template(path)
        self.endpoint = endpoint
        self.name = name if name is not None else _endpoint_name(endpoint)
        self.dependencies = _dependencies(dependencies)
        # As for HTTP routes: the scopes a connection needs, checked before the handler,
        # those of `requires=` and of a `@requires(...)` on the handler.
        handler, self.requires, requirement = _guarded(endpoint, _scopes(requires))
        if _compiled is None:
            _compiled = _compile_websocket(self, handler)
        self.plan, typed_call = _compiled
        self._compiled = _compiled
        endpoint = handler if typed_call is None else typed_call
        if self.requires is not None:
            endpoint = _checking(endpoint, self.requires, requirement)
        self.handle: ASGIApp = websocket_endpoint(endpoint, limits)

    def bind(self, defaults: RouteSettings) -> None:
        """Nothing to fill in: a WebSocket route takes no option from the app."""

    def with_prefix(self, prefix: str) -> WebSocketRoute:
        """This route under `prefix`, with the same handler, name, scopes and limits."""
        return self.with_dependencies(prefix, ())

    def with_dependencies(self, prefix: str, outer: tuple[Any, ...]) -> WebSocketRoute:
        """This route under `prefix`, with the dependencies `outer` run before its own."""
        reuse = not outer and not (prefix and parse_template(prefix).param_names)
        return WebSocketRoute(
            prefix + self.path,
            self.endpoint,
            name=self.name,
            requires=self.requires,
            dependencies=(*outer, *self.dependencies),
            limits=self.limits,
            _compiled=self._compiled if reuse else None,
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

    `dependencies` (`Depends(...)`) and `tags` go to every route added to the router,
    before the route's own (docs/typed.md).
    """

    def __init__(
        self,
        *,
        redirect_slashes: bool = True,
        max_body_size: BodyLimit = ...,
        etag: bool | EllipsisType = ...,
        form_limits: FormLimits | EllipsisType | None = ...,
        dependencies: Iterable[Any] = (),
        tags: Iterable[str] = (),
        matcher_class: Callable[[Table], Matcher[AnyRoute]] | None = None,
    ) -> None:
        _check_body_limit(max_body_size, "max_body_size")
        _check_etag(etag)
        _check_form_limits(form_limits)
        # Run before (and listed before) those of every route added to this router.
        self.dependencies = _dependencies(dependencies)
        self.tags = _tags(tags)
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
        # with a slash added could match ("/" alone cannot: such a path is longer).
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
        route = self.add(Route(path, endpoint, methods=methods, **options))
        assert isinstance(route, Route)
        return route

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
        """Register a WebSocket handler on `path` (`requires`, `dependencies`: see
        `RouteOptions`; the limits `max_message_size`, `message_rate`, `message_burst`
        and `idle_timeout`: see `bare.websockets.WebSocketLimits`)."""
        route = WebSocketRoute(
            path, endpoint, name=name, requires=requires, dependencies=dependencies, **limits
        )
        added = self.add(route)
        assert isinstance(added, WebSocketRoute)
        return added

    def mount(self, path: str, app: ASGIApp, *, name: str | None = None) -> Mount:
        """Serve the ASGI `app` under the prefix `path` (HTTP and WebSocket)."""
        mount = Mount(path, app, name=name)
        self.add(mount)
        return mount

    def include_router(
        self,
        router: Router,
        *,
        prefix: str = "",
        dependencies: Iterable[Any] = (),
        tags: Iterable[str] = (),
    ) -> None:
        """Copy `router`'s routes into this one, under `prefix`, options and all;
        `dependencies` and `tags` go before the routes' own.

        The routes are copied now: routes added to `router` later are not included.
        """
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise RouteError(f"router prefix {prefix!r} must start with '/' and not end with one")
        outer = _dependencies(dependencies)
        outer_tags = _tags(tags)
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
            copy: AnyRoute
            if isinstance(route, Route):
                changes: dict[str, Any] = {
                    name: value
                    for name, value in given.items()
                    if getattr(route.options, name) is ...
                }
                if outer:
                    changes["dependencies"] = (*outer, *route.options.dependencies)
                if outer_tags:
                    changes["tags"] = _merged(outer_tags, route.options.tags)
                copy = route.with_options(prefix, **changes)
            elif isinstance(route, WebSocketRoute):
                copy = route.with_dependencies(prefix, outer)
            else:
                copy = route.with_prefix(prefix)
            self.add(copy)

    def add(self, route: AnyRoute) -> AnyRoute:
        """Add a route, WebSocket route or mount built elsewhere, and bind it; what was
        added is returned (a copy of `route` when this router has dependencies or
        tags to give it)."""
        if isinstance(route, Route) and (self.dependencies or self.tags):
            route = route.with_options(
                dependencies=(*self.dependencies, *route.options.dependencies),
                tags=_merged(self.tags, route.options.tags),
            )
        elif isinstance(route, WebSocketRoute) and self.dependencies:
            route = route.with_dependencies("", self.dependencies)
        if not isinstance(route, WebSocketRoute):
            templates = route.templates if isinstance(route, Mount) else (route.template,)
            self._slash_endings = self._slash_endings or any(
                (t.template.endswith("/") and t.template != "/") or t.template.endswith(":path}")
                for t in templates
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
        return route

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
        self,
        path: str,
        *,
        name: str | None = None,
        requires: str | Iterable[str] | None = None,
        dependencies: Iterable[Any] = (),
        **limits: Unpack[WebSocketLimitArgs],
    ) -> Callable[[F], F]:
        """Decorator form of `add_websocket_route`."""
        # Checked now, so that a mistake fails at the decorator's line.
        _scopes(requires)
        dependencies = _dependencies(dependencies)
        checked = WebSocketLimits.from_args(limits)

        def decorator(endpoint: F) -> F:
            route = WebSocketRoute(
                path,
                endpoint,
                name=name,
                requires=requires,
                dependencies=dependencies,
                limits=checked,
            )
            self.add(route)
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
            return None  # no pattern could match with a slash added
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
