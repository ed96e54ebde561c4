"""Test clients: call an ASGI (or WSGI) app in process, playing both server and HTTP client.

`TestClient` has a plain sync API; it runs the app on an event loop in a background
thread. `AsyncTestClient` has the same API with `await`, on the caller's loop::

    client = TestClient(app)
    assert client.get("/tasks").json() == []

    with TestClient(app) as client:  # runs the app's lifespan (startup, then shutdown)
        with client.websocket_connect("/ws") as ws:
            ws.send_text("hi")
            assert ws.receive_text() == "hi"

Only the standard library is used. The scopes are built as a real server builds them
(ASGI 3.0, HTTP spec 2.4), and the client side behaves like a browser-ish HTTP client:
a cookie jar, default headers, optional redirect following.
"""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import Callable, Coroutine, Iterator, Mapping, MutableMapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypedDict, TypeVar, cast

from ._concurrency import is_async_callable
from ._testing_cookies import CookieJar
from ._testing_http import (
    URL,
    ClientHeaders,
    ClientRequest,
    ClientResponse,
    Content,
    Files,
    FormData,
    HeaderInput,
    HTTPStatusError,
    PreparedRequest,
    QueryParams,
    decode_content,
    encode_body,
    merge_headers,
    quote_path,
)
from ._testing_server import Lifespan, LifespanError, Portal, run_http
from ._testing_stream import AsyncStreamResponse, ParsedEvent, StreamResponse
from ._testing_ws import (
    AsyncWebSocketSession,
    ClientDisconnected,
    WebSocketDenied,
    WebSocketSession,
)
from ._testing_wsgi import WSGIAdapter, WSGIApp
from .types import ASGIApp, Scope
from .websockets import WebSocketDisconnect

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "AsyncStreamResponse",
    "AsyncTestClient",
    "AsyncWebSocketSession",
    "ClientDisconnected",
    "ClientHeaders",
    "ClientRequest",
    "ClientResponse",
    "CookieJar",
    "HTTPStatusError",
    "LifespanError",
    "ParsedEvent",
    "Portal",
    "StreamResponse",
    "TestClient",
    "WebSocketDenied",
    "WebSocketDisconnect",
    "WebSocketSession",
]

P = ParamSpec("P")
T = TypeVar("T")

ASGI_VERSION = {"version": "3.0", "spec_version": "2.4"}
DEFAULT_HEADERS = (
    ("user-agent", "testclient"),
    ("accept", "*/*"),
    ("accept-encoding", "gzip, deflate"),
    ("connection", "keep-alive"),
)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})  # RFC 9110 §8.6: always send a length


class RequestOptions(TypedDict, total=False):
    """The keyword arguments of `request()`, shared by `get()`, `post()` and the rest."""

    params: QueryParams | None
    headers: HeaderInput | None
    cookies: Mapping[str, str] | None
    content: Content | None
    data: FormData | str | bytes | None
    json: Any
    files: Files | None
    follow_redirects: bool | None


class StreamOptions(TypedDict, total=False):
    """The keyword arguments of `stream()`."""

    params: QueryParams | None
    headers: HeaderInput | None
    cookies: Mapping[str, str] | None
    content: Content | None
    data: FormData | str | bytes | None
    json: Any
    files: Files | None


class AsyncTestClient:
    """An HTTP and WebSocket client that calls `app` directly, on the running event loop.

    `app` is an ASGI app, or a WSGI app (anything that is not an async callable).
    Relative URLs are resolved against `base_url`. `headers` and `cookies` are sent
    with every request (`client.headers` and `client.cookies` can be changed later).
    Redirects are not followed unless `follow_redirects=True` (here or per request).

    If an exception escapes the app it is re-raised in the test; with
    `raise_server_exceptions=False` the client returns a 500 response instead, as a
    server would. `async with AsyncTestClient(app) as client:` runs the app's lifespan.
    """

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(
        self,
        app: ASGIApp | WSGIApp,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        root_path: str = "",
        cookies: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        client: tuple[str, int] = ("testclient", 50000),
        follow_redirects: bool = False,
        max_redirects: int = 20,
    ) -> None:
        self.app = app
        self.base_url = URL.parse(base_url)
        self.raise_server_exceptions = raise_server_exceptions
        self.root_path = root_path.rstrip("/")
        self.headers: dict[str, str] = dict(headers or {})
        self.client = client
        self.follow_redirects = follow_redirects
        self.max_redirects = max_redirects
        # Anything that is not an async callable is taken for a WSGI app.
        self._asgi = (
            cast(ASGIApp, app) if is_async_callable(app) else WSGIAdapter(cast(WSGIApp, app))
        )
        self._cookies = CookieJar(cookies)
        self._lifespan: Lifespan | None = None

    @property
    def cookies(self) -> CookieJar:
        """The cookie jar: a mutable mapping of name to value, filled by `Set-Cookie`."""
        return self._cookies

    @cookies.setter
    def cookies(self, cookies: Mapping[str, str]) -> None:
        self._cookies = cookies if isinstance(cookies, CookieJar) else CookieJar(cookies)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: QueryParams | None = None,
        headers: HeaderInput | None = None,
        cookies: Mapping[str, str] | None = None,
        content: Content | None = None,
        data: FormData | str | bytes | None = None,
        json: Any = None,
        files: Files | None = None,
        follow_redirects: bool | None = None,
    ) -> ClientResponse:
        """Send one request and return the app's response.

        `params` (a mapping, whose list values repeat the name, or a list of pairs) is
        added to any query already in `url`. The body is one of `content` (bytes, str,
        or an iterable of bytes sent in chunks), `json` (compact UTF-8 JSON), `data`
        (a mapping, form-encoded; or raw str/bytes) and `files` (a multipart form, with
        the `data` fields first). `files` maps a field name to bytes, a file object or
        a `(filename, content[, content_type[, headers]])` tuple. `cookies` are sent
        with this request only. Redirects are followed if `follow_redirects` (default:
        the client's setting, itself False by default).
        """
        prepared = self._prepare(
            method,
            url,
            params,
            headers,
            cookies,
            content=content,
            data=data,
            json=json,
            files=files,
        )
        follow = self.follow_redirects if follow_redirects is None else follow_redirects
        history: list[ClientResponse] = []
        response = await self._send(prepared)
        while follow and response.is_redirect:
            if len(history) >= self.max_redirects:
                raise RuntimeError(f"more than {self.max_redirects} redirects from {url!r}")
            history.append(response)
            prepared = self._redirect(prepared, response)
            response = await self._send(prepared)
        response.history = history
        return response

    async def get(self, url: str, **options: Unpack[RequestOptions]) -> ClientResponse:
        """Send a GET request (see `request` for the options)."""
        return await self.request("GET", url, **options)

    async def head(self, url: str, **options: Unpack[RequestOptions]) -> ClientResponse:
        """Send a HEAD request (see `request` for the options)."""
        return await self.request("HEAD", url, **options)

    async def options(self, url: str, **options: Unpack[RequestOptions]) -> ClientResponse:
        """Send a OPTIONS request (see `request` for the options)."""
        return await self.request("OPTIONS", url, **options)

    async def post(self, url: str, **options: Unpack[RequestOptions]) -> ClientResponse:
        """Send a POST request (see `request` for the options)."""
        return await self.request("POST", url, **options)

    async def put(self, url: str, **options: Unpack[RequestOptions]) -> ClientResponse:
        """Send a PUT request (see `request` for the options)."""
        return await self.request("PUT", url, **options)

    async def patch(self, url: str, **options: Unpack[RequestOptions]) -> ClientResponse:
        """Send a PATCH request (see `request` for the options)."""
        return await self.request("PATCH", url, **options)

    async def delete(self, url: str, **options: Unpack[RequestOptions]) -> ClientResponse:
        """Send a DELETE request (see `request` for the options)."""
        return await self.request("DELETE", url, **options)

    def stream(
        self,
        method: str,
        url: str,
        *,
        params: QueryParams | None = None,
        headers: HeaderInput | None = None,
        cookies: Mapping[str, str] | None = None,
        content: Content | None = None,
        data: FormData | str | bytes | None = None,
        json: Any = None,
        files: Files | None = None,
    ) -> AsyncStreamResponse:
        """A request whose response body is read as the app sends it; open it with
        `async with`, which waits for the response to start. Read it with
        `aiter_bytes()`, `aiter_lines()` or `aiter_events()` (server-sent events).
        Leaving the block disconnects the client: the app sees `http.disconnect` and
        its `send` raises `OSError`. The options are those of `request`; redirects are
        not followed and the cookie jar is not updated.
        """
        prepared = self._prepare(
            method,
            url,
            params,
            headers,
            cookies,
            content=content,
            data=data,
            json=json,
            files=files,
        )
        scope, request = self._scope("http", prepared)
        return AsyncStreamResponse(
            self._asgi, scope, prepared.body, request, self.raise_server_exceptions
        )

    def _prepare(
        self,
        method: str,
        url: str,
        params: QueryParams | None,
        headers: HeaderInput | None,
        cookies: Mapping[str, str] | None,
        **body: Any,
    ) -> PreparedRequest:
        """The request `request` and `stream` send: body encoded, headers merged."""
        encoded, content_type = encode_body(**body)
        request_headers = merge_headers(DEFAULT_HEADERS, self.headers, headers)
        if content_type and not any(name == "content-type" for name, _ in request_headers):
            request_headers.append(("content-type", content_type))
        return PreparedRequest(
            method.upper(),
            self.base_url.join(url, params),
            request_headers,
            encoded,
            dict(cookies or {}),
        )

    def websocket_connect(
        self,
        url: str,
        subprotocols: Sequence[str] | None = None,
        headers: HeaderInput | None = None,
        *,
        params: QueryParams | None = None,
        cookies: Mapping[str, str] | None = None,
        timeout: float = 5.0,
    ) -> AsyncWebSocketSession:
        """A WebSocket session with the app; open it with `async with`.

        Receives give up after `timeout` seconds with `TimeoutError`.
        """
        target = self.base_url.join(url, params)
        if target.scheme in ("http", "https"):
            target = target.with_scheme("ws" if target.scheme == "http" else "wss")
        extra = [
            ("connection", "upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-key", base64.b64encode(os.urandom(16)).decode("ascii")),
            ("sec-websocket-version", "13"),
        ]
        if subprotocols:
            extra.append(("sec-websocket-protocol", ", ".join(subprotocols)))
        request_headers = merge_headers(DEFAULT_HEADERS[:1], extra, self.headers, headers)
        prepared = PreparedRequest("GET", target, request_headers, b"", dict(cookies or {}))
        scope, request = self._scope("websocket", prepared)
        scope["subprotocols"] = list(subprotocols or ())
        scope["extensions"] = {"websocket.http.response": {}}
        return AsyncWebSocketSession(
            self._asgi,
            scope,
            request,
            raise_server_exceptions=self.raise_server_exceptions,
            timeout=timeout,
        )

    async def __aenter__(self) -> AsyncTestClient:
        if self._lifespan is not None:
            raise RuntimeError("this client's lifespan is already running")
        lifespan = Lifespan(self._asgi, self.raise_server_exceptions)
        if await lifespan.startup():
            self._lifespan = lifespan
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        lifespan, self._lifespan = self._lifespan, None
        if lifespan is not None:
            await lifespan.shutdown()

    # -- internals ------------------------------------------------------------------

    def _scope(self, kind: str, prepared: PreparedRequest) -> tuple[Scope, ClientRequest]:
        """The connection scope for `prepared`, and the request as the app will see it."""
        url = prepared.url
        headers = [(n, v) for n, v in prepared.headers if n != "cookie"]
        if not any(name == "host" for name, _ in headers):
            headers.insert(0, ("host", url.netloc))
        full_path = self.root_path + url.decoded_path
        cookie = self._cookie_header(prepared, full_path)
        if cookie is not None:
            headers.append(("cookie", cookie))
        body = prepared.body
        if kind == "http" and not any(
            n in ("content-length", "transfer-encoding") for n, _ in headers
        ):
            if isinstance(body, list):
                headers.append(("transfer-encoding", "chunked"))
            elif body or prepared.method in _BODY_METHODS:
                headers.append(("content-length", str(len(body))))
        raw = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers]
        scope: Scope = {
            "type": kind,
            "asgi": dict(ASGI_VERSION),
            "http_version": "1.1",
            "scheme": url.scheme,
            "path": full_path,
            "raw_path": (quote_path(self.root_path) + url.path).encode("ascii"),
            "root_path": self.root_path,
            "query_string": url.query.encode("ascii"),
            "headers": raw,
            "client": self.client,
            "server": (url.host, url.port),
        }
        if kind == "http":
            scope["method"] = prepared.method
        if self._lifespan is not None:
            scope["state"] = dict(self._lifespan.state)  # a shallow copy, per the spec
        content = b"".join(body) if isinstance(body, list) else body
        request = ClientRequest(prepared.method, str(url), ClientHeaders(raw), content)
        return scope, request

    def _cookie_header(self, prepared: PreparedRequest, path: str) -> str | None:
        """The jar's cookies for this URL, overridden by the request's own `cookies=`.

        A `Cookie` header given by hand is sent as it is, without the jar.
        """
        for name, value in prepared.headers:
            if name == "cookie":
                return value
        url = prepared.url
        pairs = self._cookies.pairs_for(url.host, path, url.secure)
        pairs = [(n, v) for n, v in pairs if n not in prepared.cookies]
        pairs += prepared.cookies.items()
        return "; ".join(f"{n}={v}" for n, v in pairs) or None

    async def _send(self, prepared: PreparedRequest) -> ClientResponse:
        scope, request = self._scope("http", prepared)
        status, headers, body = await run_http(
            self._asgi, scope, prepared.body, self.raise_server_exceptions
        )
        response = ClientResponse(
            status, headers, decode_content(ClientHeaders(headers), body), request
        )
        self._cookies.extract(
            response.headers.getlist("set-cookie"), prepared.url.host, scope["path"]
        )
        return response

    def _redirect(self, prepared: PreparedRequest, response: ClientResponse) -> PreparedRequest:
        """The request to make next for a 3xx response (RFC 9110 §15.4)."""
        url = prepared.url.follow(response.headers["location"])
        if self.root_path and url.path.startswith(self.root_path + "/"):
            url = url.with_path(url.path[len(self.root_path) :])  # the proxy strips the prefix
        method, body, headers = prepared.method, prepared.body, prepared.headers
        status = response.status_code
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            method, body = "GET", b""
            dropped = ("content-type", "content-length", "transfer-encoding")
            headers = [(n, v) for n, v in headers if n not in dropped]
        if url.host != prepared.url.host:
            headers = [(n, v) for n, v in headers if n not in ("authorization", "host")]
        return PreparedRequest(method, url, headers, body, prepared.cookies)


class TestClient:
    """The sync test client: `AsyncTestClient`'s features without `await`.

    The app runs on an event loop in a background thread. `with TestClient(app) as
    client:` keeps one loop for the whole block and runs the app's lifespan (startup
    on entry, shutdown on exit); without `with`, each call gets a fresh loop and no
    lifespan runs. Redirects are not followed unless `follow_redirects=True`.
    """

    __test__ = False

    def __init__(
        self,
        app: ASGIApp | WSGIApp,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        root_path: str = "",
        cookies: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        client: tuple[str, int] = ("testclient", 50000),
        follow_redirects: bool = False,
        max_redirects: int = 20,
    ) -> None:
        self._async = AsyncTestClient(
            app,
            base_url=base_url,
            raise_server_exceptions=raise_server_exceptions,
            root_path=root_path,
            cookies=cookies,
            headers=headers,
            client=client,
            follow_redirects=follow_redirects,
            max_redirects=max_redirects,
        )
        self._portal: Portal | None = None

    @property
    def app(self) -> ASGIApp | WSGIApp:
        """The app under test, as given."""
        return self._async.app

    @property
    def headers(self) -> MutableMapping[str, str]:
        """Headers sent with every request; change them at will."""
        return self._async.headers

    @property
    def cookies(self) -> CookieJar:
        """The cookie jar: a mutable mapping of name to value, filled by `Set-Cookie`."""
        return self._async.cookies

    @cookies.setter
    def cookies(self, cookies: Mapping[str, str]) -> None:
        self._async.cookies = cookies

    def request(self, method: str, url: str, **options: Unpack[RequestOptions]) -> ClientResponse:
        """Send one request; see `AsyncTestClient.request` for the options."""
        return self._call(self._async.request, method, url, **options)

    def get(self, url: str, **options: Unpack[RequestOptions]) -> ClientResponse:
        """Send a GET request (see `AsyncTestClient.request` for the options)."""
        return self.request("GET", url, **options)

    def head(self, url: str, **options: Unpack[RequestOptions]) -> ClientResponse:
        """Send a HEAD request (see `AsyncTestClient.request` for the options)."""
        return self.request("HEAD", url, **options)

    def options(self, url: str, **options: Unpack[RequestOptions]) -> ClientResponse:
        """Send a OPTIONS request (see `AsyncTestClient.request` for the options)."""
        return self.request("OPTIONS", url, **options)

    def post(self, url: str, **options: Unpack[RequestOptions]) -> ClientResponse:
        """Send a POST request (see `AsyncTestClient.request` for the options)."""
        return self.request("POST", url, **options)

    def put(self, url: str, **options: Unpack[RequestOptions]) -> ClientResponse:
        """Send a PUT request (see `AsyncTestClient.request` for the options)."""
        return self.request("PUT", url, **options)

    def patch(self, url: str, **options: Unpack[RequestOptions]) -> ClientResponse:
        """Send a PATCH request (see `AsyncTestClient.request` for the options)."""
        return self.request("PATCH", url, **options)

    def delete(self, url: str, **options: Unpack[RequestOptions]) -> ClientResponse:
        """Send a DELETE request (see `AsyncTestClient.request` for the options)."""
        return self.request("DELETE", url, **options)

    def websocket_connect(
        self,
        url: str,
        subprotocols: Sequence[str] | None = None,
        headers: HeaderInput | None = None,
        *,
        params: QueryParams | None = None,
        cookies: Mapping[str, str] | None = None,
        timeout: float = 5.0,
    ) -> WebSocketSession:
        """A WebSocket session with the app; open it with `with`.

        Raises `WebSocketDenied` on entry if the app refuses the handshake. Receives
        give up after `timeout` seconds (or their own `timeout=`) with `TimeoutError`.
        """
        session = self._async.websocket_connect(
            url, subprotocols, headers, params=params, cookies=cookies, timeout=timeout
        )
        return WebSocketSession(session, self._portal_scope)

    @contextlib.contextmanager
    def stream(
        self, method: str, url: str, **options: Unpack[StreamOptions]
    ) -> Iterator[StreamResponse]:
        """A request whose response body is read as the app sends it::

            with client.stream("GET", "/events") as response:
                for event in response.iter_events():
                    ...

        Also `iter_bytes()`, `iter_lines()` and `read()`. Leaving the block disconnects
        the client, so an endless stream is testable: the app sees `http.disconnect`,
        its `send` raises `OSError`, and the block waits until the app has returned (a
        second at most, then its task is cancelled), so the stream's `finally:` blocks
        have run. See `AsyncTestClient.stream` for the options.
        """
        with self._portal_scope() as portal:
            response = portal.call(self._open_stream, method, url, options)
            clean = False
            try:
                yield StreamResponse(response, portal)
                clean = True
            finally:
                portal.call(response.aclose, clean)

    async def _open_stream(
        self, method: str, url: str, options: StreamOptions
    ) -> AsyncStreamResponse:
        return await self._async.stream(method, url, **options).__aenter__()

    def __enter__(self) -> TestClient:
        if self._portal is not None:
            raise RuntimeError("this client is already open")
        with contextlib.ExitStack() as stack:
            portal = stack.enter_context(Portal())
            portal.call(self._async.__aenter__)
            stack.pop_all()
        self._portal = portal
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        portal, self._portal = self._portal, None
        if portal is not None:
            try:
                portal.call(self._async.__aexit__, exc_type, exc, traceback)
            finally:
                portal.__exit__(None, None, None)

    @contextlib.contextmanager
    def _portal_scope(self) -> Iterator[Portal]:
        if self._portal is not None:
            yield self._portal
        else:
            with Portal() as portal:
                yield portal

    def _call(
        self, func: Callable[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        with self._portal_scope() as portal:
            return portal.call(func, *args, **kwargs)
