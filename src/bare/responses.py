"""Responses. Each one is an ASGI app: `await response(scope, receive, send)`."""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, Iterable, Mapping
from stat import S_ISREG
from types import EllipsisType
from typing import TYPE_CHECKING, Any

from ._concurrency import (
    DONE,
    SyncIterator,
    run_in_stream_thread,
    set_stream_threads,
    stream_threads,
)
from ._cookies import cookie_header
from ._json import dumps
from ._lazy import Lazy
from ._quoting import quote
from .headers import MutableHeaders, append_header, encode_header, encode_headers, set_header
from .middleware import RESPONSE_HEADERS_KEY
from .types import Message, Receive, Scope, Send

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .background import BackgroundTask

__all__ = [
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
    "safe_redirect",
    "set_stream_threads",
    "stream_threads",
]

HeadersArg = Mapping[str, str] | Iterable[tuple[str, str]] | None

# Statuses that never carry a body (RFC 9110 6.4.1): no content-type or content-length either.
_NO_BODY = frozenset({204, 205, 304})


def has_body(status: int) -> bool:
    """False for 1xx, 204, 205 and 304 responses."""
    return status >= 200 and status not in _NO_BODY


def _check_status(status: Any) -> int:
    """`status` as a plain int, if it is an HTTP status (an int from 100 to 599)."""
    if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
        return int(status)  # an IntEnum such as HTTPStatus.CREATED, or a default marker
    raise ValueError(f"an HTTP status is an int from 100 to 599, not {status!r}")


class _DefaultStatus(int):
    """The default of a `status` parameter: equal to the status it stands for, and told
    apart by identity from the same status given explicitly (`status=200, status_code=201`
    is a mistake, `status_code=201` alone is not)."""

    __slots__ = ()


_OK = _DefaultStatus(200)
_FOUND = _DefaultStatus(302)


class _NoBody:
    """The default of the `body` parameter: no body, as None is, but told apart from a
    body given as None when `content=` is given too."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "None"


_UNSET_BODY: Any = _NoBody()


# What only some responses need, imported on first use (see bare._lazy).
_CHECK_BACKGROUND: Lazy[Callable[[Any], Any]] = Lazy("bare.background", "check_background")
_RUN_TASKS: Lazy[Callable[[Any, Scope], Awaitable[None]]] = Lazy("bare.background", "run_tasks")
_GUESS_TYPE: Lazy[Callable[[str], tuple[str | None, str | None]]]
_GUESS_TYPE = Lazy("mimetypes", "guess_type")
_EVALUATE: Lazy[Callable[[Scope, bytes, float], int | None]]
_EVALUATE = Lazy("bare._conditional", "evaluate")


def _background(background: Any) -> Any:
    return (_CHECK_BACKGROUND.value or _CHECK_BACKGROUND.load())(background)


async def run_background_tasks(background: Any, scope: Scope) -> None:
    """Run `background` (a task or tasks), as `bare.background.run_tasks` does."""
    await (_RUN_TASKS.value or _RUN_TASKS.load())(background, scope)


def _both(original: str, alias: str) -> TypeError:
    return TypeError(f"give the {original} once: {original} or {alias}, not both")


def _resolve(status: int, default: _DefaultStatus, status_code: int | None) -> int:
    """The status of a response from its `status` and `status_code` arguments."""
    if status_code is not None:
        if status is not default:
            raise _both("status", "status_code")
        status = status_code
    if type(status) is int and 100 <= status <= 599:
        return status
    return _check_status(status)


# PERF: responses of a kind share their content-type header; encode each value once.
_content_types: dict[str, tuple[bytes, bytes]] = {}


def _content_type_header(value: str) -> tuple[bytes, bytes]:
    pair = _content_types.get(value)
    if pair is None:
        pair = encode_header("content-type", value)
        if len(_content_types) < 1024:
            _content_types[value] = pair
    return pair


# PERF: content-length headers of small bodies, ready to send (checked against the
# computed ones by tests/test_one_path.py::test_the_ready_length_headers_are_the_computed_ones).
_LENGTH_HEADERS = [(b"content-length", str(n).encode("ascii")) for n in range(2048)]


def _length_header(size: int) -> tuple[bytes, bytes]:
    if size < 2048:
        return _LENGTH_HEADERS[size]
    return (b"content-length", str(size).encode("ascii"))


def _start_message(scope: Scope, status: int, headers: list[tuple[bytes, bytes]]) -> Message:
    """An `http.response.start` message, with the headers middleware asked for
    (`bare.middleware.add_response_headers`)."""
    extra = scope.get(RESPONSE_HEADERS_KEY)
    if extra:
        headers = headers + extra
    return {"type": "http.response.start", "status": status, "headers": headers}


def messages(
    scope: Scope, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> tuple[Message, Message]:
    """The two messages of a response sent in one piece: no body for HEAD or for a
    status that has none."""
    if status < 200 or status in _NO_BODY or scope.get("method") == "HEAD":
        body = b""
    return _start_message(scope, status, headers), {"type": "http.response.body", "body": body}


_TEXT_TYPE = encode_header("content-type", "text/plain; charset=utf-8")
_JSON_TYPE = encode_header("content-type", "application/json")


def text_messages(scope: Scope, text: str) -> tuple[Message, Message]:
    """The messages of `PlainTextResponse(text)`, without building one."""
    return _ok_messages(scope, _TEXT_TYPE, text.encode())


def json_messages(scope: Scope, value: Any) -> tuple[Message, Message]:
    """The messages of `JSONResponse(value)`, without building one."""
    return _ok_messages(scope, _JSON_TYPE, dumps(value))


def _ok_messages(
    scope: Scope, content_type: tuple[bytes, bytes], body: bytes
) -> tuple[Message, Message]:
    # PERF: `messages()` and `_start_message()` for a 200, inlined; held to them by
    # tests/test_one_path.py::test_inlined_messages_match_the_responses.
    size = len(body)
    headers = [content_type, _LENGTH_HEADERS[size] if size < 2048 else _length_header(size)]
    extra = scope.get(RESPONSE_HEADERS_KEY)
    if extra:
        headers += extra
    return (
        {"type": "http.response.start", "status": 200, "headers": headers},
        {"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body},
    )


class Response:
    """An HTTP response whose body is known in advance.

    `body` may be bytes, str (sent as UTF-8) or None. `status` is an int from 100 to
    599, checked when set (`ValueError` otherwise). Headers are kept in `raw_headers`,
    a list of ASGI byte pairs, so a name may repeat (several `Set-Cookie`);
    `response.headers` is a live, case-insensitive view of that list to read and change
    them (see `bare.headers.MutableHeaders`), and `set_header`/`add_header` do the same.
    Each header is checked as it is set, so a bad value raises `ValueError` in the
    handler, never half-way through sending. `content-type` and `content-length` are set
    from the start (a `content-type` in `headers` replaces the default one), except for
    statuses that have no body (1xx, 204, 205, 304), which get neither body nor those
    headers.

    As Starlette and FastAPI spell them, `content=`, `status_code=` and `media_type=`
    are accepted for `body`, `status` and `content_type`; giving both spellings of one
    is a `TypeError`.

    `background`: a `bare.background.BackgroundTask` (or `BackgroundTasks`) to run
    once the response has been sent in full (see docs/background-tasks.md).
    """

    content_type: str | None = "text/plain; charset=utf-8"
    started = False  # True once the start message is being sent: never send another
    sized = True  # the body is known up front: send its content-length
    background: BackgroundTask | None = None  # run by bare once the response is sent
    background_ran = False  # True once a `__call__` ran `background` itself

    def __init__(
        self,
        body: Any = _UNSET_BODY,
        status: int = _OK,
        headers: HeadersArg = None,
        content_type: str | EllipsisType | None = ...,
        # PERF: pass these by keyword; they are not keyword-only because filling in
        # keyword-only defaults costs a dict lookup each, on every response built.
        content: Any = _UNSET_BODY,
        status_code: int | None = None,
        media_type: str | EllipsisType | None = ...,
        background: BackgroundTask | None = None,
    ) -> None:
        if body is _UNSET_BODY:
            body = None if content is _UNSET_BODY else content
        elif content is not _UNSET_BODY:
            raise _both("body", "content")
        if media_type is not ...:
            if content_type is not ...:
                raise _both("content_type", "media_type")
            content_type = media_type
        # PERF: _resolve, inlined for the usual cases; held to it by
        # tests/test_one_path.py::test_the_inlined_status_check_agrees_with_resolve.
        if status is _OK and status_code is None:
            self._status = status = 200
        elif status_code is None and type(status) is int and 100 <= status <= 599:
            self._status = status
        else:
            self._status = status = _resolve(status, _OK, status_code)
        self._body = body = self.render(body)
        if content_type is ...:
            content_type = self.content_type
        if status < 200 or status in _NO_BODY:
            self.raw_headers = []
        elif content_type is None:
            self.raw_headers = [_length_header(len(body))] if self.sized else []
        else:
            type_header = _content_types.get(content_type) or _content_type_header(content_type)
            size = len(body)
            if not self.sized:
                self.raw_headers = [type_header]
            elif size < 2048:  # PERF: _length_header, inlined
                self.raw_headers = [type_header, _LENGTH_HEADERS[size]]
            else:
                self.raw_headers = [type_header, _length_header(size)]
        if headers:
            raw = self.raw_headers
            for pair in encode_headers(headers):
                append_header(raw, pair)
        if background is not None:
            self.background = _background(background)

    @property
    def body(self) -> bytes:
        """The body, as bytes; setting it replaces it and its content-length follows."""
        return self._body

    @body.setter
    def body(self, value: bytes) -> None:
        self._body = value
        raw = self.raw_headers  # changed in place: a `headers` view stays live
        for index, (name, _) in enumerate(raw):
            if name == b"content-length":
                raw[index] = _length_header(len(value))

    def render(self, body: Any) -> bytes:
        """Turn the `body` argument into bytes."""
        kind = type(body)
        if kind is str:
            return body.encode()  # type: ignore[no-any-return]
        if kind is bytes:
            return body  # type: ignore[no-any-return]
        if body is None:
            return b""
        if isinstance(body, str):
            return body.encode("utf-8")
        if isinstance(body, bytes):
            return bytes(body)
        if isinstance(body, (bytearray, memoryview)):
            return bytes(body)
        return str(body).encode("utf-8")

    # -- headers ----------------------------------------------------------------------

    @property
    def status(self) -> int:
        """The status code: an int from 100 to 599 (`ValueError` when set otherwise)."""
        return self._status

    @status.setter
    def status(self, value: int) -> None:
        self._status = _check_status(value)

    status_code = status  # Starlette's name

    @property
    def headers(self) -> MutableHeaders:
        """A live, case-insensitive view of `raw_headers`, to read and change the headers:
        `headers["x-frame-options"] = "DENY"`, `headers.append("vary", "Cookie")`,
        `del headers["etag"]`, `headers.getlist("set-cookie")`. A lookup gives the last
        value of a name. Each value is checked as it is set (`ValueError`)."""
        return MutableHeaders(self.raw_headers)

    def set_header(self, name: str, value: str) -> Response:
        """Set `name` to `value`, replacing any earlier value of that name."""
        set_header(self.raw_headers, encode_header(name, value))
        return self

    def add_header(self, name: str, value: str) -> Response:
        """Add a `name: value` header, keeping earlier ones of the same name (except
        `content-length` and `content-type`, which are only ever sent once)."""
        append_header(self.raw_headers, encode_header(name, value))
        return self

    def get_header(self, name: str, default: str | None = None) -> str | None:
        """The last value set for `name`, or `default`."""
        return MutableHeaders(self.raw_headers).get(name, default)

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: int | None = None,
        expires: Any = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = True,
        samesite: str | None = "lax",
    ) -> Response:
        """Add a `Set-Cookie` header. Every call adds one; the defaults are the safe ones
        (`HttpOnly`, `SameSite=Lax`, `Path=/`). Raises `ValueError` for a name or value a
        browser would misread (quote or encode such values yourself)."""
        return self.add_header(
            "set-cookie",
            cookie_header(key, value, max_age, expires, path, domain, secure, httponly, samesite),
        )

    def delete_cookie(
        self,
        key: str,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = True,
        samesite: str | None = "lax",
    ) -> Response:
        """Tell the browser to drop cookie `key` (same `path` and `domain` as when set)."""
        return self.set_cookie(key, "", 0, 0, path, domain, secure, httponly, samesite)

    # -- sending ----------------------------------------------------------------------

    def _headers_to_send(self) -> list[tuple[bytes, bytes]]:
        headers = self.raw_headers
        status = self._status
        if status < 200 or status in _NO_BODY:  # set to a bodiless status after creation
            return [h for h in headers if h[0] not in (b"content-length", b"content-type")]
        # A copy: whoever receives the message may change its list, and a response may be
        # sent more than once (bare's own 404 is, and so is a response kept in a module).
        return headers[:]

    def start_message(self, scope: Scope) -> Message:
        """The `http.response.start` message, with the headers middleware asked for."""
        return _start_message(scope, self._status, self._headers_to_send())

    def messages(self, scope: Scope) -> tuple[Message, Message]:
        """The start and body messages of this response."""
        return messages(scope, self._status, self._headers_to_send(), self._body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # NOTE: http_endpoint sends `messages()` itself for responses that keep this
        # __call__, and runs `background` after; override `messages` or `__call__` to
        # change what is sent (an overriding `__call__` runs `background` itself).
        start, body = self.messages(scope)
        # Set before sending: a start that raised may have gone out; never send another.
        self.started = True
        await send(start)
        await send(body)
        if self.background is not None:
            await self.run_background(scope)

    async def run_background(self, scope: Scope) -> None:
        """Run `background`, now that the response went out in full. A `__call__` of
        your own calls it at its end (bare runs it otherwise, after the `__call__`
        returns, if the last message went out)."""
        self.background_ran = True
        if self.background is not None:
            await run_background_tasks(self.background, scope)

    async def send(self, send: Send) -> None:
        """Send this response through `send` (the book's API; prefer calling the response)."""
        await self({"type": "http"}, _no_receive, send)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._status}>"


async def _no_receive() -> dict[str, Any]:  # pragma: no cover - a response never reads
    raise RuntimeError("a response does not receive")


class PlainTextResponse(Response):
    """Text, sent as `text/plain; charset=utf-8`."""

    content_type = "text/plain; charset=utf-8"


class HTMLResponse(Response):
    """HTML, sent as `text/html; charset=utf-8`."""

    content_type = "text/html; charset=utf-8"


class JSONResponse(Response):
    """A JSON body: compact, UTF-8, no ASCII escaping.

    Uses orjson when it is installed, the standard library otherwise (see `bare._json`).
    """

    content_type = "application/json"

    def render(self, body: Any) -> bytes:
        return dumps(body)


_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Keep what may stand in a URL as it is; percent-encode the rest (spaces, non-ASCII).
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"


class RedirectResponse(Response):
    """A redirect to `location`: 302 by default; 301, 303, 307 or 308 as `status`.

    Non-ASCII text and spaces in `location` are percent-encoded. bare does not check
    where it points: for a target taken from the request, pass it through
    `bare.safe_redirect` first.
    """

    def __init__(
        self,
        location: str,
        status: int = _FOUND,
        headers: HeadersArg = None,
        *,
        status_code: int | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        status = _resolve(status, _FOUND, status_code)
        if status not in _REDIRECT_STATUSES:
            raise ValueError(
                f"redirect status must be one of 301, 302, 303, 307, 308, not {status}"
            )
        super().__init__(b"", status, headers, content_type=None, background=background)
        self.set_header("location", quote(location, safe=_URL_SAFE))


def safe_redirect(target: str | None, fallback: str = "/") -> str:
    """`target` if it is a path on this site, else `fallback`.

    For redirects to a place taken from the request (`?next=/account`): only `/path`
    is accepted, never `//host`, `/\\host`, a scheme, a host or a control character,
    so the redirect cannot send the user to another site.
    """
    if (
        not target
        or not target.startswith("/")
        or target.startswith(("//", "/\\"))
        or any(ord(char) < 0x20 or ord(char) == 0x7F or char == "\\" for char in target)
    ):
        return fallback
    return target


class StreamingResponse(Response):
    """A body produced piece by piece by an iterator of bytes or str.

    Async iterators are consumed on the loop. Plain iterators run in bare's stream
    threads (`set_stream_threads`), one `next()` at a time, so a blocking generator
    neither stalls the server nor takes a thread from the handlers. The stream stops
    when the client disconnects, and the iterator is closed, so its `finally:` blocks
    run (for a plain iterator whose `next()` is running at that moment, in its thread
    as soon as that `next()` returns). No `content-length` is added (the server uses
    chunked encoding) unless you set one, and no `content-type` unless you give one.
    """

    content_type = None
    sized = False

    def __init__(
        self,
        content: Iterable[Any] | AsyncIterable[Any],
        status: int = _OK,
        headers: HeadersArg = None,
        content_type: str | EllipsisType | None = ...,
        *,
        status_code: int | None = None,
        media_type: str | EllipsisType | None = ...,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(
            None,
            _resolve(status, _OK, status_code),
            headers,
            content_type,
            media_type=media_type,
            background=background,
        )
        self.content = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        content = self.content
        source = content if isinstance(content, AsyncIterable) else SyncIterator(content)
        if scope.get("method") == "HEAD" or not has_body(self._status):
            self.started = True
            try:
                await send(self.start_message(scope))
                await send({"type": "http.response.body", "body": b""})
            finally:
                await _close(source)
        elif _spec_version(scope) >= (2, 4):
            # Servers of ASGI 2.4 raise OSError from send once the client is gone.
            try:
                await self._stream(scope, send, source)
            except OSError:
                return  # not sent in full: no background tasks
            finally:
                await _close(source)
        elif not await self._stream_until_disconnect(scope, receive, send, source):
            return
        if self.background is not None:
            await self.run_background(scope)

    async def _stream_until_disconnect(
        self, scope: Scope, receive: Receive, send: Send, source: SyncIterator | AsyncIterable[Any]
    ) -> bool:
        """Stream while watching for the client to leave; True if the stream ended."""
        import asyncio  # NOTE: here, not at the top: `import bare` stays cheap

        stream = asyncio.ensure_future(self._stream(scope, send, source))
        watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
        try:
            await asyncio.wait((stream, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stream, watcher):
                if not task.done():
                    task.cancel()
            await asyncio.gather(stream, watcher, return_exceptions=True)
        await _close(source)
        if stream.cancelled():
            return False
        if stream.exception() is not None:
            raise stream.exception()  # type: ignore[misc]
        return True

    async def _stream(
        self, scope: Scope, send: Send, source: SyncIterator | AsyncIterable[Any]
    ) -> None:
        self.started = True
        await send(self.start_message(scope))
        if isinstance(source, SyncIterator):
            while (chunk := await source.next()) is not DONE:
                await send({"type": "http.response.body", "body": _chunk(chunk), "more_body": True})
        else:
            async for chunk in source:
                await send({"type": "http.response.body", "body": _chunk(chunk), "more_body": True})
        await send({"type": "http.response.body", "body": b""})


def _chunk(chunk: Any) -> bytes:
    if isinstance(chunk, str):
        return chunk.encode("utf-8")
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(f"a stream must yield bytes or str, not {type(chunk).__name__}")


def _spec_version(scope: Scope) -> tuple[int, ...]:
    text = scope.get("asgi", {}).get("spec_version", "2.0")
    try:
        return tuple(int(part) for part in text.split("."))
    except (AttributeError, ValueError):
        return (2, 0)


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def _close(source: SyncIterator | AsyncIterable[Any]) -> None:
    # An iterator left half-way holds its resources until it is closed.
    if isinstance(source, SyncIterator):
        await source.aclose()
        return
    close = getattr(source, "aclose", None)
    if close is not None:
        await close()
        return
    close = getattr(source, "close", None)
    if close is not None:
        await run_in_stream_thread(close)


# Statuses a FileResponse decides itself, from the request's preconditions (RFC 9110 13).
_NOT_MODIFIED = 304
_PRECONDITION_FAILED = 412


class FileResponse(Response):
    """A file from disk, read in chunks in bare's stream threads.

    Sets `content-type` (guessed from the name unless given), `content-length`,
    `last-modified` and an `etag`. For a 200, it answers the request's preconditions
    (RFC 9110 13): a GET or HEAD whose `If-None-Match` matches the ETag, or whose
    `If-Modified-Since` is not older than the file, gets 304 with the validator and
    caching headers and none of the content ones; any other method whose
    `If-None-Match` matches gets 412. HEAD, 304, 204 and 1xx are answered without
    reading the file, and the last three without `content-length`. With `filename`, the
    browser is told to download it under that name (`content-disposition: attachment`).
    `stat_result`: the file's `os.stat()`, when the caller has it already (it is not
    asked again). When the server offers the ASGI `http.response.pathsend` extension,
    a whole file is handed to it by path instead of being read here.

    Everything up to the first byte (the `stat`, the preconditions, opening the file
    and reading up to 64 KiB of it) is one call into a stream thread; each further chunk
    of up to `chunk_size` bytes is one more, and the file is closed by the read that
    reaches its end. A response holds at most one chunk in memory at a time.
    """

    chunk_size = 256 * 1024
    sized = False  # the length comes from the file, when it is sent

    def __init__(
        self,
        path: str | os.PathLike[str],
        status: int = _OK,
        headers: HeadersArg = None,
        content_type: str | EllipsisType | None = ...,
        filename: str | None = None,
        *,
        status_code: int | None = None,
        media_type: str | EllipsisType | None = ...,
        background: BackgroundTask | None = None,
        stat_result: os.stat_result | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.stat_result = stat_result
        if media_type is not ...:
            if content_type is not ...:
                raise _both("content_type", "media_type")
            content_type = media_type
        if content_type is ... or content_type is None:
            content_type = _guess_type(filename or self.path)
        super().__init__(
            None,
            _resolve(status, _OK, status_code),
            headers,
            content_type,
            background=background,
        )
        if filename is not None:
            self.add_header("content-disposition", _disposition(filename))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stat = self.stat_result
        if stat is None:
            opened = await run_in_stream_thread(self._open, scope, None)
        else:
            opened = self._plan(scope, stat)
            if opened.reads:
                await run_in_stream_thread(opened.read_first, self.path, self.chunk_size)
        if await self._send_opened(scope, send, opened) and self.background is not None:
            await self.run_background(scope)

    def _open(self, scope: Scope, stat: os.stat_result | None) -> _OpenedFile:
        """All the file system work up to the first byte, for a stream thread: the stat
        (unless given), the answer to the preconditions and, when the body is read here,
        opening the file and reading its first chunk. `StaticFiles` calls it right after
        its look-up, in the same thread call."""
        if stat is None:
            stat = os.stat(self.path)
        opened = self._plan(scope, stat)
        if opened.reads:
            opened.read_first(self.path, self.chunk_size)
        return opened

    def _plan(self, scope: Scope, stat: os.stat_result) -> _OpenedFile:
        """What to answer the request in `scope` with, from the file's stat (no I/O)."""
        if not S_ISREG(stat.st_mode):
            raise IsADirectoryError(f"{self.path} is not a regular file")
        etag = file_etag(stat)
        status = self._status
        if status == 200:
            status = _precondition(scope, etag, stat.st_mtime) or 200
        opened = _OpenedFile(stat, etag, status)
        if status != _PRECONDITION_FAILED and has_body(status) and scope.get("method") != "HEAD":
            if _PATHSEND in (scope.get("extensions") or ()):
                opened.by_path = True
            else:
                opened.reads = True
        return opened

    async def _send_opened(self, scope: Scope, send: Send, opened: _OpenedFile) -> bool:
        """Send the file, or the answer to the request's preconditions; False for a 412."""
        status = opened.status
        if status == _PRECONDITION_FAILED:
            start, body = JSONResponse({"detail": "Precondition Failed"}, 412).messages(scope)
            self.started = True
            await send(start)
            await send(body)
            return False
        stat = opened.stat
        if status == _NOT_MODIFIED:
            # RFC 9110 15.4.5: what a 200 would carry, less the content's own headers.
            headers = [h for h in self.raw_headers if not _describes_content(h[0])]
        elif has_body(status):
            headers = [*self.raw_headers, _length_header(stat.st_size)]
        else:
            headers = self._headers_to_send()
        validators = [(b"etag", opened.etag.encode("ascii")), (b"last-modified", _http_date(stat))]
        start = _start_message(scope, status, [*headers, *validators])
        file = opened.file
        if file is None:
            self.started = True
            await send(start)
            if opened.by_path:  # the server sends the file itself (sendfile, say)
                await send({"type": _PATHSEND, "path": self.path})
            else:  # HEAD, a status without a body, a 304
                await send({"type": "http.response.body", "body": b""})
            return True
        # Opened and first read before the start goes out: a file gone since its stat is
        # still an error the caller can answer (StaticFiles: a 404).
        try:
            self.started = True
            await send(start)
            chunk, size = opened.chunk, stat.st_size
            if await _send_chunks(send, file, chunk, size, self.chunk_size, False, True):
                # Shrunk since its stat: end short of the length announced (the server
                # then closes the connection); never more than announced if it grew.
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            file.close()
        return True


_PATHSEND = "http.response.pathsend"

if TYPE_CHECKING:
    from io import BufferedReader


class _OpenedFile:
    """How a `FileResponse` answers one request, decided before its start goes out:
    the body is read here (`reads`: its file is opened and first read in a stream
    thread), sent by the server from its path (`by_path`), or none at all."""

    __slots__ = ("by_path", "chunk", "etag", "file", "reads", "stat", "status")

    def __init__(self, stat: os.stat_result, etag: str, status: int) -> None:
        self.stat = stat
        self.etag = etag
        self.status = status
        self.reads = False
        self.by_path = False
        self.file: BufferedReader | None = None
        self.chunk = b""

    def read_first(self, path: str, chunk_size: int) -> None:
        """In a stream thread: open the file and read its first chunk (closed already
        if that is the whole file)."""
        size = self.stat.st_size
        self.file, self.chunk = _open_and_read(path, 0, size, chunk_size, True)


# The first read of a file goes with the look-up, before the start: kept short, so
# that a large file's headers are not held back by a large read.
_FIRST_CHUNK = 64 * 1024


def _open_and_read(
    path: str, offset: int, length: int, chunk_size: int, close: bool
) -> tuple[BufferedReader, bytes]:
    """In a stream thread: open `path` and read the first chunk of the `length` bytes
    to send from `offset` (at most 64 KiB, and `chunk_size`). With `close`, the file
    is closed when that is all of them."""
    file = open(path, "rb")  # noqa: SIM115 - closed by _read_chunk or by the sender
    try:
        if offset:
            file.seek(offset)
        size = min(_FIRST_CHUNK, chunk_size, length)
        return file, _read_chunk(file, size, close and size == length)
    except BaseException:
        file.close()
        raise


def _read_chunk(file: BufferedReader, size: int, last: bool) -> bytes:
    """In a stream thread: up to `size` bytes of `file`. If this is its `last` read
    and it came back whole, the file is closed here, saving the sender a call (a
    short read means the file shrank: the next read gives b"" and the sender stops)."""
    chunk = file.read(size)
    if last and len(chunk) == size:
        file.close()
    return chunk


async def _send_chunks(
    send: Send,
    file: BufferedReader,
    chunk: bytes,
    length: int,
    chunk_size: int,
    more_after: bool,
    close: bool,
) -> int:
    """Send `length` bytes of `file`: `chunk`, read already, then the rest, one
    stream-thread call per `chunk_size` bytes. The last body message ends the response
    unless `more_after`; with `close`, the file is closed by the read of its last part.
    Gives how many bytes could not be read (the file shrank): 0 when all went out; the
    missing part is never sent."""
    remaining = length
    while True:
        remaining -= len(chunk)
        if remaining <= 0:
            await send({"type": "http.response.body", "body": chunk, "more_body": more_after})
            return 0
        if not chunk:  # the file shrank
            return remaining
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        # Never more than the length announced: the file may grow meanwhile.
        size = min(chunk_size, remaining)
        chunk = await run_in_stream_thread(_read_chunk, file, size, close and size == remaining)


def _describes_content(name: bytes) -> bool:
    # Content-Type, -Length, -Encoding, -Language, -Disposition, -Range...; but
    # Content-Location names the resource, and a 304 keeps it.
    return name.startswith(b"content-") and name != b"content-location"


# A file's Last-Modified, formatted once per modification time (bounded).
_http_dates: dict[float, bytes] = {}


def _http_date(stat: os.stat_result) -> bytes:
    mtime = stat.st_mtime
    date = _http_dates.get(mtime)
    if date is None:
        from email.utils import formatdate  # NOTE: lazy, as `import bare` stays cheap

        date = formatdate(mtime, usegmt=True).encode("ascii")
        if len(_http_dates) >= 1024:
            _http_dates.clear()
        _http_dates[mtime] = date
    return date


# A compressed file is sent as what it is (`x.tar.gz` is a gzip file), never with a
# content-encoding that would make the browser unpack it.
_ENCODED_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "br": "application/x-brotli",
    "compress": "application/x-compress",
}


def _guess_type(name: str) -> str:
    guessed, encoding = (_GUESS_TYPE.value or _GUESS_TYPE.load())(name)
    if encoding is not None:
        return _ENCODED_TYPES.get(encoding, "application/octet-stream")
    if guessed is None:
        return "application/octet-stream"
    return guessed + "; charset=utf-8" if guessed.startswith("text/") else guessed


def _disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode("ascii")
    ascii_name = "".join(c if c.isprintable() and c not in '"\\' else "_" for c in ascii_name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def file_etag(stat: os.stat_result) -> str:
    """The strong ETag of a file: its modification time and size (quoted, hex)."""
    return f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'


def _precondition(scope: Scope, etag: str, mtime: float) -> int | None:
    """304 or 412 if the request's preconditions ask for it (RFC 9110 13.2.2), else
    None: see `bare._conditional.evaluate`, which every conditional answer goes through."""
    return (_EVALUATE.value or _EVALUATE.load())(scope, etag.encode("ascii"), mtime)
