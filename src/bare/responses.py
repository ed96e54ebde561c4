"""Responses. Each one is an ASGI app: `await response(scope, receive, send)`."""

from __future__ import annotations

import asyncio
import mimetypes
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from email.utils import formatdate, parsedate_to_datetime
from stat import S_ISREG
from types import EllipsisType
from typing import Any
from urllib.parse import quote

from ._concurrency import run_in_threadpool
from ._cookies import cookie_header
from ._json import dumps
from .headers import encode_header
from .middleware import RESPONSE_HEADERS_KEY
from .types import Message, Receive, Scope, Send

__all__ = [
    "FileResponse",
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
    "safe_redirect",
]

HeadersArg = Mapping[str, str] | Iterable[tuple[str, str]] | None

# Statuses that never carry a body (RFC 9110 6.4.1): no content-type or content-length either.
_NO_BODY = frozenset({204, 205, 304})


def has_body(status: int) -> bool:
    """False for 1xx, 204, 205 and 304 responses."""
    return status >= 200 and status not in _NO_BODY


# Headers a response carries once: a second value replaces the first.
_SINGLE = frozenset({b"content-length", b"content-type"})

# PERF: responses of a kind share their content-type header; encode each value once.
_content_types: dict[str, tuple[bytes, bytes]] = {}


def _content_type_header(value: str) -> tuple[bytes, bytes]:
    pair = _content_types.get(value)
    if pair is None:
        pair = encode_header("content-type", value)
        if len(_content_types) < 1024:
            _content_types[value] = pair
    return pair


# PERF: content-length headers of small bodies, ready to send.
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
    # PERF: `messages()` and `_start_message()` for a 200, inlined.
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

    `body` may be bytes, str (sent as UTF-8) or None. Headers are kept in
    `raw_headers`, a list of ASGI byte pairs, so a name may repeat (several
    `Set-Cookie`); change them with `set_header`/`add_header`, which check each one
    as it is set, so a bad value raises `ValueError` in the handler, never half-way
    through sending. `content-type` and `content-length` are set from the start,
    except for statuses that have no body (1xx, 204, 205, 304), which get neither
    body nor those headers.
    """

    content_type: str | None = "text/plain; charset=utf-8"
    started = False  # True once the start message has gone out
    sized = True  # the body is known up front: send its content-length

    def __init__(
        self,
        body: Any = None,
        status: int = 200,
        headers: HeadersArg = None,
        content_type: str | EllipsisType | None = ...,
    ) -> None:
        self.status = status
        self._body = body = self.render(body)
        if content_type is ...:
            content_type = self.content_type
        if status < 200 or status in _NO_BODY:
            self.raw_headers = []
        elif content_type is None:
            self.raw_headers = [_length_header(len(body))] if self.sized else []
        else:
            content = _content_types.get(content_type) or _content_type_header(content_type)
            size = len(body)
            if not self.sized:
                self.raw_headers = [content]
            elif size < 2048:  # PERF: _length_header, inlined
                self.raw_headers = [content, _LENGTH_HEADERS[size]]
            else:
                self.raw_headers = [content, _length_header(size)]
        if headers:
            pairs = headers.items() if isinstance(headers, Mapping) else headers
            for name, value in pairs:
                self.add_header(name, value)

    @property
    def body(self) -> bytes:
        return self._body

    @body.setter
    def body(self, value: bytes) -> None:
        """Replace the body; its content-length follows."""
        self._body = value
        self.raw_headers = [
            _length_header(len(value)) if name == b"content-length" else (name, data)
            for name, data in self.raw_headers
        ]

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
    def status_code(self) -> int:
        return self.status

    @property
    def headers(self) -> dict[str, str]:
        """The headers as a dict of lower-case names to their last value (a copy)."""
        return {n.decode("latin-1"): v.decode("latin-1") for n, v in self.raw_headers}

    def set_header(self, name: str, value: str) -> Response:
        """Set `name` to `value`, replacing any earlier value of that name."""
        pair = encode_header(name, value)
        self.raw_headers = [h for h in self.raw_headers if h[0] != pair[0]]
        self.raw_headers.append(pair)
        return self

    def add_header(self, name: str, value: str) -> Response:
        """Add a `name: value` header, keeping earlier ones of the same name (except
        `content-length` and `content-type`, which are only ever sent once)."""
        pair = encode_header(name, value)
        if pair[0] in _SINGLE:
            return self.set_header(name, value)
        self.raw_headers.append(pair)
        return self

    def get_header(self, name: str, default: str | None = None) -> str | None:
        """The last value set for `name`, or `default`."""
        key = name.lower().encode("latin-1")
        for header, value in reversed(self.raw_headers):
            if header == key:
                return value.decode("latin-1")
        return default

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
        status = self.status
        if status < 200 or status in _NO_BODY:  # set to a bodiless status after creation
            headers = [h for h in headers if h[0] not in (b"content-length", b"content-type")]
        return headers

    def start_message(self, scope: Scope) -> Message:
        """The `http.response.start` message, with the headers middleware asked for."""
        return _start_message(scope, self.status, self._headers_to_send())

    def messages(self, scope: Scope) -> tuple[Message, Message]:
        """The start and body messages of this response."""
        return messages(scope, self.status, self._headers_to_send(), self._body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # NOTE: serve_http sends `messages()` itself for responses that keep this
        # __call__; override `messages` or `__call__` to change what is sent.
        start, body = self.messages(scope)
        await send(start)
        self.started = True
        await send(body)

    async def send(self, send: Send) -> None:
        """Send this response through `send` (the book's API; prefer calling the response)."""
        await self({"type": "http"}, _no_receive, send)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status}>"


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

    def __init__(self, location: str, status: int = 302, headers: HeadersArg = None) -> None:
        if status not in _REDIRECT_STATUSES:
            raise ValueError(
                f"redirect status must be one of 301, 302, 303, 307, 308, not {status}"
            )
        super().__init__(b"", status, headers, content_type=None)
        self.add_header("location", quote(location, safe=_URL_SAFE))


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

    Async iterators are consumed on the loop; plain iterators run in the thread pool
    (one `next()` at a time) so a blocking generator cannot stall the server. The
    stream stops when the client disconnects. No `content-length` is added (the server
    uses chunked encoding) unless you set one, and no `content-type` unless you give one.
    """

    content_type = None
    sized = False

    def __init__(
        self,
        content: Iterable[Any] | AsyncIterable[Any],
        status: int = 200,
        headers: HeadersArg = None,
        content_type: str | None = None,
    ) -> None:
        super().__init__(None, status, headers, content_type)
        self.content = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") == "HEAD" or not has_body(self.status):
            await send(self.start_message(scope))
            self.started = True
            await send({"type": "http.response.body", "body": b""})
            await _close_iterator(self.content)
            return
        if _spec_version(scope) >= (2, 4):
            # Servers of ASGI 2.4 raise OSError from send once the client is gone.
            try:
                await self._stream(scope, send)
            except OSError:
                pass
            finally:
                await _close_iterator(self.content)
            return
        stream = asyncio.ensure_future(self._stream(scope, send))
        watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
        try:
            await asyncio.wait((stream, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stream, watcher):
                if not task.done():
                    task.cancel()
            await asyncio.gather(stream, watcher, return_exceptions=True)
        await _close_iterator(self.content)
        if not stream.cancelled() and stream.exception() is not None:
            raise stream.exception()  # type: ignore[misc]

    async def _stream(self, scope: Scope, send: Send) -> None:
        await send(self.start_message(scope))
        self.started = True
        async for chunk in _aiterate(self.content):
            if isinstance(chunk, str):
                data = chunk.encode("utf-8")
            elif isinstance(chunk, (bytes, bytearray, memoryview)):
                data = bytes(chunk)
            else:
                raise TypeError(f"a stream must yield bytes or str, not {type(chunk).__name__}")
            await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


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


async def _aiterate(content: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
    if isinstance(content, AsyncIterable):
        async for item in content:
            yield item
        return
    iterator = iter(content)
    done = object()
    while True:
        item = await run_in_threadpool(next, iterator, done)
        if item is done:
            return
        yield item


async def _close_iterator(content: Any) -> None:
    # A generator left half-way holds its resources until it is closed.
    close = getattr(content, "aclose", None)
    if close is not None:
        await close()
        return
    close = getattr(content, "close", None)
    if close is not None:
        await run_in_threadpool(close)


class FileResponse(Response):
    """A file from disk, read in chunks off the event loop.

    Sets `content-type` (guessed from the name unless given), `content-length`,
    `last-modified` and an `etag`; answers `If-None-Match` / `If-Modified-Since` with
    304 and HEAD without reading the file. With `filename`, the browser is told to
    download it under that name (`content-disposition: attachment`).
    """

    chunk_size = 64 * 1024
    sized = False  # the length comes from the file, when it is sent

    def __init__(
        self,
        path: str | os.PathLike[str],
        status: int = 200,
        headers: HeadersArg = None,
        content_type: str | None = None,
        filename: str | None = None,
    ) -> None:
        self.path = os.fspath(path)
        if content_type is None:
            content_type = _guess_type(filename or self.path)
        super().__init__(None, status, headers, content_type)
        if filename is not None:
            self.add_header("content-disposition", _disposition(filename))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stat = await run_in_threadpool(os.stat, self.path)
        if not S_ISREG(stat.st_mode):
            raise IsADirectoryError(f"{self.path} is not a regular file")
        etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
        modified = formatdate(stat.st_mtime, usegmt=True)
        validators = [(b"etag", etag.encode("ascii")), (b"last-modified", modified.encode("ascii"))]
        if self.status == 200 and _not_modified(scope, etag, stat.st_mtime):
            await send(_start_message(scope, 304, validators))
            self.started = True
            await send({"type": "http.response.body", "body": b""})
            return
        length = _length_header(stat.st_size)
        await send(_start_message(scope, self.status, [*self.raw_headers, length, *validators]))
        self.started = True
        if scope.get("method") == "HEAD" or not has_body(self.status):
            await send({"type": "http.response.body", "body": b""})
            return
        with await run_in_threadpool(open, self.path, "rb") as file:
            remaining = stat.st_size
            while True:
                chunk = await run_in_threadpool(file.read, self.chunk_size)
                remaining -= len(chunk)
                more = bool(chunk) and remaining > 0
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
                if not more:
                    return


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
    guessed, encoding = mimetypes.guess_type(name)
    if encoding is not None:
        return _ENCODED_TYPES.get(encoding, "application/octet-stream")
    if guessed is None:
        return "application/octet-stream"
    return guessed + "; charset=utf-8" if guessed.startswith("text/") else guessed


def _disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode("ascii")
    ascii_name = "".join(c if c.isprintable() and c not in '"\\' else "_" for c in ascii_name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _not_modified(scope: Scope, etag: str, mtime: float) -> bool:
    if_none_match = if_modified_since = None
    for name, value in scope.get("headers", ()):
        if name == b"if-none-match":
            if_none_match = value.decode("latin-1")
        elif name == b"if-modified-since":
            if_modified_since = value.decode("latin-1")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return etag in tags or "*" in tags
    if if_modified_since is not None:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        return since is not None and int(mtime) <= since.timestamp()
    return False
