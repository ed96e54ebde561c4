"""Middleware: plain ASGI classes, `Middleware(app, **options)`, one module per middleware.

Adding response headers without wrapping `send`
-----------------------------------------------
A middleware that only adds headers to responses (request ids, timing, security
headers) does not need to wrap `send`, which costs a closure and a call per message.
Under a bare app it can hand the headers over in the scope instead:

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and add_response_headers(scope, [(b"x-id", b"42")]):
            await self.app(scope, receive, send)  # bare's responses add them
        else:
            ...  # any other app: wrap send as usual

It stays a plain ASGI class: under an app that does not know the convention,
`add_response_headers` returns False and the middleware wraps `send` itself.

Files sent by path
------------------
Where the server offers the `http.response.pathsend` extension, a response may end
with `{"type": "http.response.pathsend", "path": ...}` instead of body messages (bare's
`FileResponse` does): the server sends the file itself. A middleware that counts or
changes the body has to read such a file (`read_path`) or let it pass.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from typing import BinaryIO

from ..types import Message, Scope

__all__ = [
    "ACCEPTS_RESPONSE_HEADERS",
    "PATHSEND",
    "RESPONSE_HEADERS_KEY",
    "add_response_headers",
    "content_length",
    "read_path",
]

#: The message (and extension) that hands the server a file to send by its path.
PATHSEND = "http.response.pathsend"
_CHUNK = 256 * 1024  # per read: one stream-thread hop each

# The scope key of the hand-over. A bare app with middleware puts ACCEPTS_RESPONSE_HEADERS
# there before its middleware run, and the headers handed over replace it; bare's
# responses add what they find there. A mount removes it from the scope it passes on.
RESPONSE_HEADERS_KEY = "bare.response_headers"


class _Accepts(tuple):  # type: ignore[type-arg]
    """The mark of a scope whose app adds handed-over headers: empty, so falsy."""

    __slots__ = ()


ACCEPTS_RESPONSE_HEADERS = _Accepts()


def add_response_headers(scope: Scope, headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Have bare add `headers` (lower-case ASGI byte pairs) to this request's response.

    Returns False, doing nothing, when the app under `scope` does not take headers
    this way (it is not a bare app, or not the one this scope was given to); the
    caller then has to wrap `send`. The headers are not checked here: build them from
    trusted values or with `bare.headers.encode_header`.
    """
    pending = scope.get(RESPONSE_HEADERS_KEY)
    if pending is None:
        return False
    if pending is ACCEPTS_RESPONSE_HEADERS:
        scope[RESPONSE_HEADERS_KEY] = list(headers)
    else:
        pending.extend(headers)
    return True


def content_length(start: Message) -> int | None:
    """The `Content-Length` of an `http.response.start` message; None if it has none,
    or none that is a plain decimal number of up to 18 digits."""
    for name, value in start.get("headers") or ():
        if name.lower() == b"content-length":
            return int(value) if value.isdigit() and len(value) <= 18 else None
    return None


async def read_path(path: str, length: int | None = None) -> AsyncGenerator[bytes, None]:
    """The content of the file a `pathsend` message names, in chunks read in bare's
    stream threads (the event loop never waits for the disk): at most `length` bytes
    when the response announced them (a file may grow meanwhile), else all of it.
    Empty chunks are never yielded."""
    from .._concurrency import run_in_stream_thread  # here: only file bodies need it

    left = length if length is not None else -1
    file = await run_in_stream_thread(_open, path)
    with file:
        while left:
            chunk = await run_in_stream_thread(file.read, _CHUNK if left < 0 else min(_CHUNK, left))
            if not chunk:
                return
            if left > 0:
                left -= len(chunk)
            yield chunk


def _open(path: str) -> BinaryIO:
    return open(path, "rb")
