"""Server-sent events (the `text/event-stream` format of the HTML standard).

`EventSourceResponse(events)` streams events from an async or plain iterator; each item
is a `ServerSentEvent`, a dict with the same keys, or a plain string (the data)::

    @app.get("/events")
    async def events(request: Request) -> EventSourceResponse:
        async def stream() -> AsyncIterator[ServerSentEvent]:
            for n in range(3):
                yield ServerSentEvent({"n": n}, event="tick", id=str(n))

        return EventSourceResponse(stream())

Not imported by `import bare`: import `bare.sse` to use it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._concurrency import DONE, SyncIterator, within
from ._json import dumps
from .headers import encode_header
from .responses import _OK, HeadersArg, StreamingResponse, _close, has_body
from .types import Message, Receive, Scope, Send

if TYPE_CHECKING:
    from .background import BackgroundTask

__all__ = [
    "EventSourceResponse",
    "ServerSentEvent",
    "close_streams",
    "encode_event",
    "last_event_id",
]

# The line ends of the format: CRLF, LF and CR alone all end a line.
_LINE_END = re.compile(r"\r\n|\r|\n")
_FIELDS = frozenset({"data", "event", "id", "retry", "comment"})
_PING = b": ping\n\n"
_END: Message = {"type": "http.response.body", "body": b""}

Deliver = Callable[[Message], Awaitable[None]]


def _check_line(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"the {name} of an event is a str, not {type(value).__name__}")
    if "\r" in value or "\n" in value or "\0" in value:
        raise ValueError(f"the {name} of an event cannot hold CR, LF or NUL: {value!r}")
    return value


@dataclass(frozen=True)
class ServerSentEvent:
    """One event. Every field is optional.

    `data` that is a str is sent as one `data:` line per line (CR, LF and CRLF all end
    a line); any other value but None is sent as compact JSON. `event` and `id` are
    single-line strings (CR, LF and NUL are refused with `ValueError`), `retry` a
    non-negative int of milliseconds, and `comment` text sent as `:` lines, which
    clients ignore.
    """

    data: Any = None
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    comment: str | None = None

    def __post_init__(self) -> None:
        if self.event is not None:
            _check_line("event", self.event)
        if self.id is not None:
            _check_line("id", self.id)
        retry = self.retry
        if retry is not None and (type(retry) is not int or retry < 0):
            raise ValueError(f"retry is a non-negative int of milliseconds, not {retry!r}")
        if self.comment is not None and not isinstance(self.comment, str):
            raise TypeError(f"a comment is a str, not {type(self.comment).__name__}")

    def encode(self) -> bytes:
        """The event as it goes on the wire, blank line included."""
        lines: list[str] = []
        if self.comment is not None:
            lines += [f": {line}" if line else ":" for line in _LINE_END.split(self.comment)]
        if self.event is not None:
            lines.append(f"event: {self.event}")
        if self.id is not None:
            lines.append(f"id: {self.id}")
        if self.retry is not None:
            lines.append(f"retry: {self.retry}")
        data = self.data
        if data is not None:
            text = data if isinstance(data, str) else dumps(data).decode("utf-8")
            lines += [f"data: {line}" for line in _LINE_END.split(text)]
        lines.append("\n")
        return "\n".join(lines).encode("utf-8")


def encode_event(item: Any) -> bytes:
    """The wire form of one item of an event stream: a `ServerSentEvent`, a dict of its
    fields, or a str (the data)."""
    if isinstance(item, ServerSentEvent):
        return item.encode()
    if isinstance(item, str):
        return ServerSentEvent(item).encode()
    if isinstance(item, Mapping):
        unknown = set(item) - _FIELDS
        if unknown:
            names = ", ".join(sorted(map(repr, unknown)))
            raise ValueError(f"an event has data, event, id, retry and comment, not {names}")
        return ServerSentEvent(**item).encode()
    raise TypeError(
        f"an event stream yields ServerSentEvent, dict or str, not {type(item).__name__}"
    )


# Open streams, as (loop, shutdown event) pairs: `close_streams()` sets their events.
_open: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()


def close_streams() -> int:
    """End every open event stream, in every thread, and return how many there were.

    Each stream stops its iterator (its `finally:` blocks run) and completes its
    response, so the server can close the connection. Safe to call from any thread and
    from a signal handler. Streams opened afterwards are not affected.
    """
    pairs = list(_open)
    for loop, event in pairs:
        if not loop.is_closed():
            loop.call_soon_threadsafe(event.set)
    return len(pairs)


def last_event_id(request: Any) -> str | None:
    """The `Last-Event-ID` header of a reconnecting client, or None.

    `request` is a request (or any connection) or an ASGI scope. An empty value or one
    holding NUL (which no conforming client sends) counts as none. The value comes from
    the client: treat it as untrusted input.
    """
    scope = request if isinstance(request, Mapping) else request.scope
    for name, value in scope.get("headers", ()):
        if name == b"last-event-id":
            text = value.decode("utf-8", "replace")
            return text if text and "\0" not in text else None
    return None


_DEFAULT_HEADERS = (
    ("cache-control", "no-store"),
    ("x-accel-buffering", "no"),
)


class EventSourceResponse(StreamingResponse):
    """A stream of server-sent events, from an async or plain iterator.

    Items are turned into events by `ServerSentEvent` (see `encode_event`). Every `ping`
    seconds (None: never) a comment line is sent, so proxies keep the connection open
    and a dead client is found out. A send that does not complete within `send_timeout`
    seconds (None: no limit) drops the client: one that stopped reading cannot hold the
    stream forever. The stream stops when the iterator ends, when the client leaves or
    the network drops, and when `close_streams()` is called; the iterator is closed
    each time, so its `finally:` blocks run. Sent as `text/event-stream;
    charset=utf-8`, with `cache-control: no-store` and `x-accel-buffering: no` unless
    `headers` sets them.
    """

    content_type = "text/event-stream; charset=utf-8"  # type: ignore[assignment]
    _head_sent = False  # the start message went out

    def __init__(
        self,
        content: Iterable[Any] | AsyncIterable[Any],
        status: int = _OK,
        headers: HeadersArg = None,
        *,
        ping: float | None = 15,
        send_timeout: float | None = 30,
        status_code: int | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        for option, seconds in (("ping", ping), ("send_timeout", send_timeout)):
            if seconds is not None and (
                isinstance(seconds, bool)
                or not isinstance(seconds, (int, float))
                or not seconds > 0
            ):
                raise ValueError(
                    f"{option} is a number of seconds above 0, or None; not {seconds!r}"
                )
        super().__init__(content, status, headers, status_code=status_code, background=background)
        present = {name for name, _ in self.raw_headers}
        for name, value in _DEFAULT_HEADERS:
            if name.encode("ascii") not in present:
                self.raw_headers.append(encode_header(name, value))
        self.ping = ping
        self.send_timeout = send_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        content = self.content
        source = content if isinstance(content, AsyncIterable) else SyncIterator(content)
        if scope.get("method") == "HEAD" or not has_body(self._status):
            self.started = True
            await send(self.start_message(scope))
            await send(_END)
            await _close(source)
            return
        lock = asyncio.Lock()  # one send at a time: events and pings never interleave
        timeout = self.send_timeout

        async def deliver(message: Message) -> None:
            async with lock:
                if timeout is None:
                    await send(message)
                else:
                    await within(timeout, send(message))

        shutdown = asyncio.Event()
        entry = (asyncio.get_running_loop(), shutdown)
        _open.add(entry)
        tasks: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(self._produce(scope, deliver, source))
        ]
        tasks.append(asyncio.ensure_future(_wait_for_disconnect(receive)))
        tasks.append(asyncio.ensure_future(shutdown.wait()))
        if self.ping is not None:
            tasks.append(asyncio.ensure_future(_pings(self.ping, deliver)))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            _open.discard(entry)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await _close(source)
        produce = tasks[0]
        for task in (produce, *tasks[3:]):
            error = None if task.cancelled() else task.exception()
            if error is not None and not isinstance(error, (OSError, asyncio.TimeoutError)):
                raise error
        if shutdown.is_set() and not (produce.done() and not produce.cancelled()):
            # Complete the response, so the server ends the connection cleanly.
            try:
                if not self._head_sent:
                    await deliver(self.start_message(scope))
                await deliver(_END)
            except (OSError, asyncio.TimeoutError):
                pass

    async def _produce(
        self,
        scope: Scope,
        deliver: Deliver,
        source: SyncIterator | AsyncIterable[Any],
    ) -> None:
        self.started = True
        await deliver(self.start_message(scope))
        self._head_sent = True
        if isinstance(source, SyncIterator):
            while (item := await source.next()) is not DONE:
                await deliver(_body(encode_event(item)))
        else:
            async for item in source:
                await deliver(_body(encode_event(item)))
        await deliver(_END)


def _body(chunk: bytes) -> Message:
    return {"type": "http.response.body", "body": chunk, "more_body": True}


async def _pings(interval: float, deliver: Deliver) -> None:
    message = _body(_PING)
    while True:
        await asyncio.sleep(interval)
        await deliver(message)


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
