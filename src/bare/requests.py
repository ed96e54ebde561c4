"""The request object handed to HTTP handlers: a thin, lazy wrapper over the scope."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import suppress
from types import EllipsisType
from typing import TYPE_CHECKING, Any

from ._concurrency import within
from ._json import JSONDecodeError, loads
from ._lazy import Lazy
from ._paths import full_path
from ._query import TooManyItems, parse_query
from ._quoting import quote
from .datastructures import URL, Address, QueryParams, State
from .exceptions import ClientDisconnect, HTTPException
from .headers import Headers, parse_cookie

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from typing import ParamSpec

    from typing_extensions import Unpack

    from ._server_timing import ServerTimer
    from .background import BackgroundTasks
    from .forms import FormData, FormLimitArgs, FormLimits
    from .sessions import Session
    from .types import Message, Receive, Scope

    _P = ParamSpec("_P")

__all__ = [
    "AUTH_KEY",
    "DEFAULT_MAX_BODY_SIZE",
    "REQUEST_ID_KEY",
    "SERVER_TIMING_KEY",
    "SESSION_KEY",
    "USER_KEY",
    "HTTPConnection",
    "Request",
]

DEFAULT_MAX_BODY_SIZE = 1024 * 1024
MAX_QUERY_ITEMS = 1000
MAX_COOKIE_HEADER = 8 * 1024
MAX_COOKIES = 200
_PATH_SAFE = "/!$&'()*+,;=:@~"

# Scope keys that middleware fill and requests read (see the properties below).
SESSION_KEY = "session"
USER_KEY = "user"
AUTH_KEY = "auth"
REQUEST_ID_KEY = "bare.request_id"
SERVER_TIMING_KEY = "bare.server_timing"

# RFC 3986 section 3.2.2: a host is a reg-name (IPv4 addresses are spelled as one), or an
# IP literal in brackets; RFC 9110 section 7.2 adds an optional port and nothing else, and
# section 4.2.1 forbids an empty host in an http(s) URI.
_SUB_DELIMS = "!$&'()*+,;="
_REG_NAME = rf"(?:[A-Za-z0-9\-._~{_SUB_DELIMS}]|%[0-9A-Fa-f]{{2}})+"
_IPV6 = r"\[(?P<ipv6>[0-9A-Fa-f:.]+)\]"
_IPV_FUTURE = rf"\[[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~{_SUB_DELIMS}:]+\]"
_HOST = re.compile(rf"(?:{_IPV6}|{_IPV_FUTURE}|{_REG_NAME})(?::[0-9]*)?")


def _quote(path: str) -> str:
    return quote(path, safe=_PATH_SAFE, errors="surrogatepass")


def is_json_content_type(content_type: str) -> bool:
    """`application/json` or any `*/*+json`, parameters (charset) allowed."""
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def is_valid_host(host: str) -> bool:
    """Whether `host` is a valid Host header: a host and an optional port, nothing else.

    A reg-name (`example.com`, `127.0.0.1`), `[IPv6]` or `[vX.future]`, then `:port` if
    any (RFC 9110 section 7.2, RFC 3986 section 3.2). No userinfo, path, query or
    fragment, no whitespace, controls or non-ASCII characters.
    """
    match = _HOST.fullmatch(host)
    if match is None:
        return False
    address = match["ipv6"]
    if address is not None:
        import ipaddress  # here: IPv6 literals in Host are rare, the import is not cheap

        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            return False
    return True


class HTTPConnection:
    """What HTTP requests and WebSocket connections share: the scope, read lazily.

    Nothing is parsed until it is asked for, and then only once.
    """

    # PERF: caches start as these class defaults; a request sets only what it reads.
    _headers: Headers | None = None
    _query: QueryParams | None = None
    _cookies: dict[str, str] | None = None

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    @property
    def path(self) -> str:
        path: str = self.scope["path"]
        return path

    @property
    def query_string(self) -> str:
        raw: bytes = self.scope.get("query_string", b"")
        return raw.decode("latin-1")

    @property
    def query_params(self) -> QueryParams:
        """Every query parameter: name -> list of values. More than 1000 items is a 400."""
        if self._query is None:
            try:
                self._query = parse_query(self.query_string, MAX_QUERY_ITEMS)
            except TooManyItems:
                raise HTTPException(
                    400, f"Too many query parameters (limit {MAX_QUERY_ITEMS})"
                ) from None
        return self._query

    def query(self, name: str, default: str = "") -> str:
        """The first value of query parameter `name`, or `default`."""
        values = self.query_params.get(name)
        return values[0] if values else default

    @property
    def path_params(self) -> dict[str, Any]:
        params: dict[str, Any] = self.scope.get("path_params", {})
        return params

    @property
    def url(self) -> URL:
        """The full URL, percent-encoded as the client sent it.

        Built from the Host header: show it, never decide on it. A Host header that is
        not a host and an optional port (see `is_valid_host`) is a 400; without one,
        the server's address stands in.
        """
        raw_path: bytes | None = self.scope.get("raw_path")
        # Servers that leave raw_path out: quote the decoded path again.
        path = raw_path.decode("latin-1") if raw_path is not None else _quote(full_path(self.scope))
        query = self.query_string
        return URL(self._origin() + path + (f"?{query}" if query else ""))

    @property
    def base_url(self) -> URL:
        """The URL of the app's root: origin plus `root_path`, with a trailing slash.

        Built from the Host header, as `url` is (an invalid one is a 400).
        """
        return URL(self._origin() + self._root_path() + "/")

    def url_for(self, name: str, /, **params: Any) -> URL:
        """The absolute URL of the route called `name` (see `Bare.url_path_for`)."""
        path = self.app.url_path_for(name, **params)
        return URL(self._origin() + self._root_path() + path)

    def _root_path(self) -> str:
        root_path: str = self.scope.get("root_path", "")
        return _quote(root_path) if root_path else ""

    def _origin(self) -> str:
        """`scheme://host[:port]` from the Host header, else from the server's address.

        A Host header that is not a valid authority is the client's error: with a `/`,
        `?` or `@` in it, it would otherwise change the URL's path or host.
        """
        scheme = self.scope.get("scheme", "http")
        host = self.headers.get("host")
        if host:
            if not is_valid_host(host):
                raise self._bad_host()
            return f"{scheme}://{host}"
        server = self.scope.get("server")
        if not server or not server[0]:
            return f"{scheme}://localhost"
        host_name, port = server
        host = f"[{host_name}]" if ":" in host_name else host_name  # IPv6 in brackets
        if not is_valid_host(host):  # a Unix socket path, say
            return f"{scheme}://localhost"
        default = 443 if scheme in ("https", "wss") else 80
        if port not in (None, default):
            host = f"{host}:{port}"
        return f"{scheme}://{host}"

    def _bad_host(self) -> Exception:
        """What a Host header that is not a valid authority raises: a 400 for HTTP."""
        return HTTPException(400, "Invalid Host header")

    @property
    def headers(self) -> Headers:
        """Case-insensitive, multi-valued view of the request headers."""
        if self._headers is None:
            self._headers = Headers(self.scope.get("headers", ()))
        return self._headers

    def header(self, name: str, default: str = "") -> str:
        """The first value of header `name` (any case), or `default`."""
        value = self.headers.get(name)
        return default if value is None else value

    @property
    def content_type(self) -> str:
        return self.header("content-type")

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies sent by the client (at most 200, from the first 8 KiB of the header)."""
        if self._cookies is None:
            header = ";".join(self.headers.getlist("cookie"))
            if len(header) > MAX_COOKIE_HEADER:
                header = header[: header.rfind(";", 0, MAX_COOKIE_HEADER + 1) + 1]
            self._cookies = parse_cookie(header, MAX_COOKIES)
        return self._cookies

    @property
    def client(self) -> Address | None:
        client = self.scope.get("client")
        return Address(*client) if client else None

    @property
    def state(self) -> State:
        """Per-request state (starts from the lifespan state the server hands over)."""
        state = self.scope.get("state")
        if not isinstance(state, State):
            state = self.scope["state"] = State(state or {})
        return state

    @property
    def app(self) -> Any:
        """The app serving this request: the `Bare` app for bare's routes.

        Typed `Any` on purpose: the HTTP layer knows nothing of the application module.
        """
        return self.scope["app"]

    # -- what middleware put in the scope ---------------------------------------------
    # The keys are plain strings, not imports: the HTTP layer knows no middleware, and
    # `session`, `user` and `auth` are the keys other ASGI middleware use too.

    @property
    def session(self) -> Session:
        """The session, a dict: set by `bare.middleware.sessions.SessionMiddleware`.

        Asking for it counts as reading it (the response gets `Vary: Cookie`): a
        handler may hand the dict to a serializer that reads it without its methods.
        """
        session = self._from_middleware(SESSION_KEY, "SessionMiddleware", "sessions")
        with suppress(AttributeError):  # a plain dict, from another session middleware
            session.accessed = True
        return session  # type: ignore[no-any-return]

    @property
    def user(self) -> Any:
        """Who made the request: set by `AuthenticationMiddleware` (see `bare.authentication`)."""
        return self._from_middleware(USER_KEY, "AuthenticationMiddleware", "authentication")

    @property
    def auth(self) -> Any:
        """The credentials' scopes (`AuthCredentials`): set by `AuthenticationMiddleware`."""
        return self._from_middleware(AUTH_KEY, "AuthenticationMiddleware", "authentication")

    @property
    def id(self) -> str | None:
        """This request's id, set by `RequestIdMiddleware`; None without it."""
        request_id: str | None = self.scope.get(REQUEST_ID_KEY)
        return request_id

    def timing(
        self, name: str, duration: float | None = None, description: str | None = None
    ) -> ServerTimer:
        """Add a metric to this response's `Server-Timing` header (`ServerTimingMiddleware`).

        `request.timing("db", 12.3, "primary")` adds one measured elsewhere (in
        milliseconds); `with request.timing("db"):` times the block. Names and
        descriptions are checked either way (`ValueError`); without the middleware
        the metric is dropped, so handlers need not know whether it is there.
        """
        timer = _SERVER_TIMER.value or _SERVER_TIMER.load()
        return timer(self.scope.get(SERVER_TIMING_KEY), name, duration, description)

    def _from_middleware(self, key: str, middleware: str, module: str) -> Any:
        try:
            return self.scope[key]
        except KeyError:
            raise RuntimeError(
                f"request.{key} needs {middleware}: "
                f"app.add_middleware(bare.middleware.{module}.{middleware}, ...)"
            ) from None


class Request(HTTPConnection):
    """An HTTP request.

    The body is limited to `max_body_size` bytes (1 MiB unless the app or the route
    says otherwise; None for no limit): a larger declared `Content-Length` is refused
    with 413 before anything is read, and a body that grows past it while streaming is
    cut off with 413 too.
    """

    _body: bytes | None = None
    _limit: int | EllipsisType | None = ...  # the route's own body limit, if it has one
    _form_limits: FormLimits | None = None  # the route's form limits, if not the defaults
    _form: FormData | None = None  # what form() read, kept
    _stream_consumed = False
    _received = 0  # bytes of body read so far (counted only under a limit)
    _disconnected = False
    _pending: list[Message] | None = None  # messages read ahead by is_disconnected()
    _tasks: BackgroundTasks | None = None  # add_background_task's, run after the response
    # Typed handlers' generator dependencies to finish once the request is over (the
    # code after their `yield`), in the order they were entered.
    _exits: list[Callable[[], Awaitable[None]]] | None = None
    # Whether the request left work for after its response (tasks, form files to close,
    # dependencies to finish).
    _deferred = False

    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        max_body_size: int | EllipsisType | None = ...,
        form_limits: FormLimits | None = None,
    ) -> None:
        self.scope = scope
        self._receive = receive
        if max_body_size is not ...:
            # PERF: set only when a route has its own limit; the app's is read if needed.
            self._limit = max_body_size
        if form_limits is not None:
            self._form_limits = form_limits

    @property
    def max_body_size(self) -> int | None:
        """The body limit in bytes: the route's, else the app's, else 1 MiB; None: none."""
        limit = self._limit
        if limit is ...:
            app_limit: int | None = getattr(
                self.scope.get("app"), "max_body_size", DEFAULT_MAX_BODY_SIZE
            )
            return app_limit
        return limit

    @max_body_size.setter
    def max_body_size(self, value: int | None) -> None:
        self._limit = value

    @property
    def method(self) -> str:
        method: str = self.scope["method"]
        return method

    # -- the body ---------------------------------------------------------------------

    def _check_declared_length(self) -> None:
        declared = self.headers.get("content-length")
        limit = self.max_body_size
        if declared is None or limit is None:
            return
        if not (declared.isascii() and declared.isdigit()):
            raise HTTPException(400, "Invalid Content-Length header")
        if len(declared) > 18 or int(declared) > limit:
            raise _too_large(limit)

    async def stream(self) -> AsyncIterator[bytes]:
        """The body, chunk by chunk, without keeping it in memory.

        Raises `ClientDisconnect` if the client goes away before the end, and
        `HTTPException(413)` past the size limit.
        """
        if self._body is not None:
            if self._body:
                yield self._body
            return
        limit = self._start_reading()
        more = True
        while more:
            chunk, more = await self._next_chunk(limit)
            if chunk:
                yield chunk

    async def body(self) -> bytes:
        """The whole body, read once and kept."""
        if self._body is None:
            # The chunks of `stream()`, read without an async generator: most bodies
            # come in one message.
            limit = self._start_reading()
            chunk, more = await self._next_chunk(limit)
            if more:
                chunks = [chunk]
                while more:
                    chunk, more = await self._next_chunk(limit)
                    chunks.append(chunk)
                chunk = b"".join(chunks)
            self._body = chunk if type(chunk) is bytes else bytes(chunk)
        return self._body

    def _start_reading(self) -> int | None:
        """Claim the body for one reader and check its declared length; the limit."""
        if self._stream_consumed:
            raise RuntimeError("the request body has already been consumed")
        self._stream_consumed = True
        self._check_declared_length()
        return self.max_body_size

    async def _next_chunk(self, limit: int | None) -> tuple[bytes, bool]:
        """The next piece of the body and whether more follows; a 413 once the pieces
        pass `limit`, `ClientDisconnect` if the client has gone."""
        while True:
            pending = self._pending
            message = pending.pop(0) if pending else await self._receive()
            kind = message["type"]
            if kind == "http.request":
                chunk: bytes = message.get("body", b"")
                if limit is not None:
                    self._received += len(chunk)
                    if self._received > limit:
                        raise _too_large(limit)
                return chunk, message.get("more_body", False)
            if kind == "http.disconnect":
                self._disconnected = True
                raise ClientDisconnect()

    async def text(self) -> str:
        """The body decoded as UTF-8 (invalid UTF-8 is a 400)."""
        try:
            return (await self.body()).decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(400, "Request body is not valid UTF-8") from None

    async def json(self, *, strict_content_type: bool = True) -> Any:
        """The body parsed as JSON.

        A `Content-Type` other than `application/json` or `*/*+json` is a 415, so a
        cross-site form post cannot reach a JSON handler; pass
        `strict_content_type=False` to accept any. Malformed JSON is a 400.
        """
        if strict_content_type and not is_json_content_type(self.content_type):
            raise HTTPException(415, "Content-Type must be application/json")
        try:
            return loads(await self.body())
        except JSONDecodeError:
            # NOTE: a fixed message; the parser's own words stay on the server.
            raise HTTPException(400, "Request body is not valid JSON") from None

    async def form(self, **limits: Unpack[FormLimitArgs]) -> FormData:
        """The body read as a form, `application/x-www-form-urlencoded` or
        `multipart/form-data` (see docs/forms.md); read once and kept.

        Another Content-Type is a 415; a malformed body is a 400; a body past one of the
        form limits is a 413 naming it. The limits are the route's (`form_limits=`),
        else the app's, else `bare.forms.FormLimits()`; keywords such as
        `max_files=10` change them for this call (and are ignored once the form is
        read). Multipart bodies are parsed as they arrive, with the `multipart`
        package; files are closed when the request ends (or by `await request.close()`).
        """
        if self._form is None:
            read_form = _READ_FORM.value or _READ_FORM.load()
            self._form = await read_form(self, self._form_limits, limits)
            self._deferred = True
        return self._form

    async def close(self) -> None:
        """Close the files of the form, if one was read (bare calls it when the request
        ends, after the response and its background tasks)."""
        form = self._form
        if form is not None:
            await form.close()

    async def is_disconnected(self) -> bool:
        """Whether the client has gone away (checked without waiting)."""
        if self._disconnected:
            return True
        try:
            message = await within(0.001, self._receive())
        except asyncio.TimeoutError:
            return False
        if message["type"] == "http.disconnect":
            self._disconnected = True
        else:
            self._pending = [*(self._pending or ()), message]  # body not read yet
        return self._disconnected

    def add_background_task(
        self, func: Callable[_P, Any], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> None:
        """Run `func(*args, **kwargs)` once the response has been sent, whatever the
        handler returns, after the response's own `background` tasks (see
        docs/background-tasks.md). They do not run if the handler raises or the
        response cannot be sent."""
        tasks = self._tasks
        if tasks is None:
            tasks = self._tasks = (_BACKGROUND_TASKS.value or _BACKGROUND_TASKS.load())()
            self._deferred = True
        tasks.add_task(func, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"


# What only some handlers use, imported on first use (see bare._lazy).
_READ_FORM: Lazy[Callable[[Request, FormLimits | None, FormLimitArgs], Awaitable[FormData]]]
_READ_FORM = Lazy("bare.forms", "read_form")
_BACKGROUND_TASKS: Lazy[type[BackgroundTasks]] = Lazy("bare.background", "BackgroundTasks")
_SERVER_TIMER: Lazy[type[ServerTimer]] = Lazy("bare._server_timing", "ServerTimer")


def _too_large(limit: int) -> HTTPException:
    return HTTPException(
        413, f"Request body too large (limit {limit} bytes)", headers={"connection": "close"}
    )
