"""The test client's streamed responses: read a body as the app sends it.

`AsyncStreamResponse` runs one HTTP exchange in a task and hands the body out chunk by
chunk; `StreamResponse` is its sync face, driven through the client's portal. Closing
either one (leaving its `with` block) disconnects the client: `receive()` says
`http.disconnect` and `send()` raises `OSError`, as an ASGI 2.4 server does.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import re
import zlib
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from ._errors import SERVER_EXCEPTION_KEY
from ._testing_http import Body, ClientHeaders, ClientRequest, raw_headers
from ._testing_server import Portal
from .types import ASGIApp, Message, Scope

__all__ = ["AsyncStreamResponse", "ParsedEvent", "StreamResponse"]

# Body messages the client holds before the app's `send` waits for the test to read:
# a test that stops reading stalls the app, as a slow client does.
BUFFERED_CHUNKS = 16
# How long the app has to return after the client left, before its task is cancelled.
CLOSE_GRACE = 1.0
_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class ParsedEvent:
    """One event as an EventSource client reads it (HTML standard, 9.2.6).

    `event` is None when the stream named no type (a browser says "message"); `id`
    and `retry` are None when this event did not set them.
    """

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None


class AsyncStreamResponse:
    """A response whose body is read as it comes: `aiter_bytes()`, `aiter_lines()`,
    `aiter_events()`. Open it with `async with client.stream(...)`."""

    def __init__(
        self,
        app: ASGIApp,
        scope: Scope,
        body: Body,
        request: ClientRequest,
        raise_server_exceptions: bool,
    ) -> None:
        self.request = request
        self.status_code = 0
        self.headers = ClientHeaders()
        self._app = app
        self._scope = scope
        self._raise = raise_server_exceptions
        chunks = body if isinstance(body, list) else [body]
        self._incoming: deque[Message] = deque(
            {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
            for i, chunk in enumerate(chunks or [b""])
        )
        self._changed = asyncio.Condition()
        self._chunks: deque[bytes] = deque()
        self._start: Message | None = None
        self._complete = False  # the app sent its last body message
        self._finished = False  # the app returned (or raised)
        self._disconnected = False
        self._error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None
        self._decoder: Any = None

    @property
    def url(self) -> str:
        """The URL that was requested."""
        return self.request.url

    @property
    def is_closed(self) -> bool:
        """True once the client has left (the stream was closed)."""
        return self._disconnected

    async def __aenter__(self) -> AsyncStreamResponse:
        self._task = asyncio.ensure_future(self._run())
        async with self._changed:
            await self._changed.wait_for(lambda: self._start is not None or self._finished)
        if self._start is None:
            await self.aclose()
            error = self._error
            if error is not None and self._raise:
                raise error
            if error is None:
                raise RuntimeError("the app returned without starting its response")
            self.status_code = 500
            self.headers = ClientHeaders([(b"content-type", b"text/plain; charset=utf-8")])
            self._chunks.append(b"Internal Server Error")
            return self
        self.status_code = self._start["status"]
        self.headers = ClientHeaders(raw_headers(self._start.get("headers")))
        self._decoder = _decoder(self.headers.get("content-encoding") or "")
        if self._scope.get("method") == "HEAD":
            self._chunks.clear()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        await self.aclose(check=exc_type is None)

    async def aclose(self, check: bool = False) -> None:
        """Disconnect: the app sees `http.disconnect`; wait until it returns (cancel it
        if it has not within a second). With `check`, raise what the app raised."""
        async with self._changed:
            self._disconnected = True
            self._changed.notify_all()
        task = self._task
        if task is None:
            return
        if not task.done():
            await asyncio.wait({task}, timeout=CLOSE_GRACE)
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if check and self._raise and self._error is not None:
            raise self._error

    async def next_chunk(self) -> bytes | None:
        """The next body chunk as the app sent it (after content decoding), or None at
        the end of the body."""
        while True:
            async with self._changed:
                await self._changed.wait_for(
                    lambda: bool(self._chunks) or self._finished or self._complete
                )
                if self._chunks:
                    chunk = self._chunks.popleft()
                    self._changed.notify_all()
                else:
                    chunk = None
            if chunk is None:
                if self._decoder is not None:
                    rest: bytes = self._decoder.flush()
                    self._decoder = None
                    if rest:
                        return rest
                if self._raise and self._finished and self._error is not None:
                    raise self._error
                return None
            if self._decoder is not None:
                chunk = self._decoder.decompress(chunk)
            if chunk:
                return chunk

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body, chunk by chunk, as the app sends it."""
        while (chunk := await self.next_chunk()) is not None:
            yield chunk

    async def aread(self) -> bytes:
        """The rest of the body (waits for the app to complete it)."""
        return b"".join([chunk async for chunk in self.aiter_bytes()])

    async def aiter_lines(self) -> AsyncIterator[str]:
        """The body as lines of text, without their ends (CR, LF or CRLF)."""
        lines = _Lines(self._charset())
        async for chunk in self.aiter_bytes():
            for line in lines.feed(chunk):
                yield line
        for line in lines.end():
            yield line

    async def aiter_events(self) -> AsyncIterator[ParsedEvent]:
        """The body parsed as server-sent events; comments (pings) are skipped."""
        events = _Events()
        async for line in self.aiter_lines():
            event = events.feed(line)
            if event is not None:
                yield event

    def _charset(self) -> str:
        content_type = self.headers.get("content-type") or ""
        for param in content_type.split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset":
                with contextlib.suppress(LookupError):
                    return codecs.lookup(value.strip().strip('"')).name
        return "utf-8"

    # -- the server side ------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._app(self._scope, self._receive, self._send)
            kept = self._scope.get(SERVER_EXCEPTION_KEY)
            if kept is not None:
                self._error = kept
            elif not self._complete and not self._disconnected:
                self._error = RuntimeError("the app returned without completing its response")
        except OSError as error:
            if not self._disconnected:  # raised by our send() once the client left
                self._error = error
        except Exception as error:
            self._error = error
        finally:
            async with self._changed:
                self._finished = True
                self._changed.notify_all()

    async def _receive(self) -> Message:
        if self._incoming:
            return self._incoming.popleft()
        async with self._changed:
            await self._changed.wait_for(lambda: self._disconnected or self._complete)
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        async with self._changed:
            if self._disconnected:
                raise OSError("the client disconnected")
            if self._complete:
                raise RuntimeError(f"the app sent {kind!r} after the response was complete")
            if kind == "http.response.start" and self._start is None:
                self._start = message
                self._changed.notify_all()
                return
            if kind != "http.response.body" or self._start is None:
                started = "after" if self._start is not None else "before"
                raise RuntimeError(
                    f"unexpected ASGI message {kind!r} {started} http.response.start"
                )
            chunk = message.get("body", b"")
            if not isinstance(chunk, bytes):
                raise TypeError(f"http.response.body needs bytes, not {type(chunk).__name__}")
            await self._changed.wait_for(
                lambda: len(self._chunks) < BUFFERED_CHUNKS or self._disconnected
            )
            if self._disconnected:
                raise OSError("the client disconnected")
            if chunk:
                self._chunks.append(chunk)
            if not message.get("more_body", False):
                self._complete = True
            self._changed.notify_all()


class StreamResponse:
    """The sync face of `AsyncStreamResponse`: `iter_bytes()`, `iter_lines()`,
    `iter_events()`, `read()`. Open it with `with client.stream(...)`; leaving the
    block disconnects the client."""

    def __init__(self, stream: AsyncStreamResponse, portal: Portal) -> None:
        self._stream = stream
        self._portal = portal

    @property
    def status_code(self) -> int:
        """The status the app answered."""
        return self._stream.status_code

    @property
    def headers(self) -> ClientHeaders:
        """The response headers."""
        return self._stream.headers

    @property
    def request(self) -> ClientRequest:
        """The request as the app received it."""
        return self._stream.request

    @property
    def url(self) -> str:
        """The URL that was requested."""
        return self._stream.url

    @property
    def is_closed(self) -> bool:
        """True once the client has left."""
        return self._stream.is_closed

    def iter_bytes(self) -> Iterator[bytes]:
        """The body, chunk by chunk, as the app sends it."""
        while (chunk := self._portal.call(self._stream.next_chunk)) is not None:
            yield chunk

    def read(self) -> bytes:
        """The rest of the body (waits for the app to complete it)."""
        return b"".join(self.iter_bytes())

    def iter_lines(self) -> Iterator[str]:
        """The body as lines of text, without their ends (CR, LF or CRLF)."""
        lines = _Lines(self._stream._charset())
        for chunk in self.iter_bytes():
            yield from lines.feed(chunk)
        yield from lines.end()

    def iter_events(self) -> Iterator[ParsedEvent]:
        """The body parsed as server-sent events; comments (pings) are skipped."""
        events = _Events()
        for line in self.iter_lines():
            event = events.feed(line)
            if event is not None:
                yield event

    def close(self) -> None:
        """Disconnect now (leaving the `with` block does it too)."""
        self._portal.call(self._stream.aclose)


class _Lines:
    """Split text into lines as it arrives; a CR at the end of a chunk may be half of a
    CRLF, so it is held until the next chunk. Linear: a long line is kept in parts."""

    def __init__(self, charset: str) -> None:
        self._decoder = codecs.getincrementaldecoder(charset)(errors="replace")
        self._pending: list[str] = []
        self._cr = False  # the last chunk ended with a CR

    def feed(self, chunk: bytes) -> list[str]:
        text = self._decoder.decode(chunk)
        if not text:
            return []
        if self._cr and text.startswith("\n"):
            text = text[1:]
        self._cr = text.endswith("\r")
        parts = _LINE_END.split(text)
        if len(parts) == 1:
            self._pending.append(parts[0])
            return []
        lines = ["".join([*self._pending, parts[0]]), *parts[1:-1]]
        self._pending = [parts[-1]] if parts[-1] else []
        return lines

    def end(self) -> list[str]:
        rest = "".join([*self._pending, self._decoder.decode(b"", final=True)])
        self._pending = []
        return [rest] if rest else []


class _Events:
    """The event stream interpretation of the HTML standard, line by line."""

    def __init__(self) -> None:
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, line: str) -> ParsedEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> ParsedEvent | None:
        data, event, id_, retry = self._data, self._event, self._id, self._retry
        self._data, self._event, self._id, self._retry = [], None, None, None
        if not data:
            return None
        return ParsedEvent("\n".join(data), event or None, id_, retry)


def _decoder(coding: str) -> Any:
    coding = coding.strip().lower()
    if coding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return zlib.decompressobj()
    return None
