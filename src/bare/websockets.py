"""The WebSocket object handed to WebSocket handlers, the limits a route puts on what
clients send (`WebSocketLimits`), and `close_all()`, which ends every open WebSocket of
the process when the server stops."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypedDict

from ._concurrency import within
from ._json import dumps, loads
from .exceptions import WebSocketException
from .headers import encode_headers
from .requests import HTTPConnection

if TYPE_CHECKING:
    from .responses import Response
    from .types import Message, Receive, Scope, Send

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_MESSAGE_RATE",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketLimitArgs",
    "WebSocketLimits",
    "WebSocketState",
    "close_all",
]

logger = logging.getLogger("bare.error")

# RFC 6455 section 4.1: a subprotocol is an RFC 2616 token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class WebSocketDisconnect(Exception):
    """The connection is over: the client went away (or a receive was attempted after
    it had), or the handler was sent a message of a kind it cannot take and bare
    closed the connection with 1003.

    Escaping a handler, it ends the connection quietly: nothing is logged.
    """

    def __init__(self, code: int = 1000, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class WebSocketState(enum.Enum):
    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2


class WebSocket(HTTPConnection):
    """One WebSocket connection: accept it, exchange messages, close it.

    As in the book, `receive_text()`, `receive_bytes()` and `receive_json()` return
    None once the client has gone; `async for message in ws` stops there. A message of
    the other kind (bytes to `receive_text()`, text to `receive_bytes()`) closes the
    connection with 1003 (unsupported data) and raises `WebSocketDisconnect`, which
    ends the handler as quietly as a client that leaves.

    Before `accept()`, `close(code)` refuses the handshake (the server answers 403)
    and `deny(response)` sends a full HTTP response instead, where the server
    supports it.
    """

    # Class defaults: a connection sets them only when it uses them.
    # What `close_all()` closed this connection with, once it has.
    _going_away: tuple[int, str] | None = None
    # What runs when the handler ends (rooms left, timers stopped), last added first.
    _cleanups: list[Callable[[], Awaitable[None]]] | None = None

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        super().__init__(scope)
        self._receive = receive
        self._send = send
        self.client_state = WebSocketState.CONNECTING
        self.application_state = WebSocketState.CONNECTING
        self.close_code: int | None = None

    # -- the handshake --------------------------------------------------------------------

    async def accept(
        self,
        subprotocol: str | None = None,
        headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
    ) -> None:
        """Accept the connection, optionally choosing one of the client's subprotocols
        and adding headers to the handshake response.

        `subprotocol` must be a token and `headers` must pass the checks of HTTP
        response headers (no CR, LF or other controls, latin-1 values): anything else
        raises `ValueError` (or `TypeError` for a non-str) before anything is sent.
        """
        if subprotocol is not None:
            if not isinstance(subprotocol, str):
                raise TypeError(f"subprotocol must be str, not {type(subprotocol).__name__}")
            if not _TOKEN.fullmatch(subprotocol):
                raise ValueError(
                    f"invalid subprotocol {subprotocol!r:.60}: it must be a token (RFC 6455)"
                )
        raw = encode_headers(headers)
        if self.client_state is WebSocketState.CONNECTING:
            message = await self._receive()
            if message["type"] == "websocket.disconnect":
                self._client_gone(message)
                raise WebSocketDisconnect(self.close_code or 1006)
            if message["type"] != "websocket.connect":
                raise RuntimeError(f"expected websocket.connect, got {message['type']!r}")
            self.client_state = WebSocketState.CONNECTED
        if self.application_state is not WebSocketState.CONNECTING:
            self._raise_if_going_away()
            raise RuntimeError("accept() after the connection was accepted or closed")
        await self._send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": raw})
        self.application_state = WebSocketState.CONNECTED

    async def deny(self, response: Response) -> None:
        """Refuse the handshake with an HTTP response (403 page, redirect...).

        Servers without the `websocket.http.response` extension cannot send one: the
        connection is then refused with a plain 403.
        """
        if self.application_state is not WebSocketState.CONNECTING:
            self._raise_if_going_away()
            raise RuntimeError("deny() after the connection was accepted or closed")
        self.application_state = WebSocketState.DISCONNECTED
        if "websocket.http.response" not in self.scope.get("extensions", {}):
            await self._send({"type": "websocket.close", "code": 1008, "reason": ""})
            return

        async def send_as_denial(message: Message) -> None:
            await self._send({**message, "type": "websocket." + message["type"]})

        await response(self.scope, self._receive, send_as_denial)

    def _raise_if_going_away(self) -> None:
        """`close_all()` refused this handshake while the handler was deciding: end the
        handler quietly rather than report a misuse."""
        if self._going_away is not None:
            raise WebSocketDisconnect(*self._going_away)

    # -- receiving ------------------------------------------------------------------------

    def _client_gone(self, message: Message) -> None:
        self.client_state = WebSocketState.DISCONNECTED
        self.application_state = WebSocketState.DISCONNECTED
        self.close_code = message.get("code", 1005)

    async def receive(self) -> Message | None:
        """The next raw `websocket.receive` message, or None once the client has gone."""
        if self.application_state is WebSocketState.CONNECTING:
            raise RuntimeError("accept() the connection before receiving")
        if self.client_state is WebSocketState.DISCONNECTED:
            return None
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            self._client_gone(message)
            return None
        return message

    async def receive_text(self) -> str | None:
        """The next text message, or None once the client has gone.

        A binary message closes the connection with 1003 and raises `WebSocketDisconnect`.
        """
        message = await self.receive()
        if message is None:
            return None
        text = message.get("text")
        if text is None:
            await self._unsupported("text")
        return str(text)

    async def receive_bytes(self) -> bytes | None:
        """The next binary message, or None once the client has gone.

        A text message closes the connection with 1003 and raises `WebSocketDisconnect`.
        """
        message = await self.receive()
        if message is None:
            return None
        data = message.get("bytes")
        if data is None:
            await self._unsupported("binary")
        return bytes(data)

    async def receive_json(self) -> Any:
        """The next text message parsed as JSON, or None once the client has gone.

        Malformed JSON raises `ValueError`; the handler decides what to do with it. A
        binary message closes the connection with 1003, as in `receive_text()`.
        """
        text = await self.receive_text()
        return loads(text.encode("utf-8", "surrogatepass")) if text is not None else None

    async def _unsupported(self, expected: str) -> NoReturn:
        # RFC 6455 section 7.4.1: 1003 is for "a type of data it cannot accept".
        reason = f"expected a {expected} message"
        await self.close(1003, reason)
        raise WebSocketDisconnect(1003, reason)

    def _bad_host(self) -> Exception:
        """An invalid Host header refuses the handshake (or closes with 1008), quietly."""
        return WebSocketException(1008, "Invalid Host header")

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str | bytes]:
        while True:
            message = await self.receive()
            if message is None:
                return
            text = message.get("text")
            yield text if text is not None else bytes(message.get("bytes") or b"")

    # -- sending --------------------------------------------------------------------------

    async def send(self, message: Message) -> None:
        """Send a raw ASGI WebSocket message.

        Raises `WebSocketDisconnect` if the client has gone (servers raise `OSError`).
        """
        if self.application_state is WebSocketState.DISCONNECTED:
            raise WebSocketDisconnect(self.close_code or 1006)
        try:
            await self._send(message)
        except OSError:
            self._client_gone({"code": 1006})
            raise WebSocketDisconnect(1006) from None

    async def send_text(self, text: str) -> None:
        await self.send({"type": "websocket.send", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        await self.send({"type": "websocket.send", "bytes": data})

    async def send_json(self, data: Any) -> None:
        """Send `data` as a compact JSON text message."""
        await self.send({"type": "websocket.send", "text": dumps(data).decode("utf-8")})

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (once; later calls do nothing).

        Before `accept()` this refuses the handshake.
        """
        if self.application_state is WebSocketState.DISCONNECTED:
            return
        self.application_state = WebSocketState.DISCONNECTED
        self.close_code = code
        with contextlib.suppress(OSError):  # the client left first: nothing to close
            await self._send({"type": "websocket.close", "code": code, "reason": reason})

    # -- the end of the handler ------------------------------------------------------------

    def _on_end(self, cleanup: Callable[[], Awaitable[None]]) -> None:
        """Have `cleanup()` awaited when the handler ends, however it ends (bare's
        WebSocket routes do it; `bare.broadcast.Rooms` and the limits use it)."""
        if self._cleanups is None:
            self._cleanups = []
        self._cleanups.append(cleanup)

    def _off_end(self, cleanup: Callable[[], Awaitable[None]]) -> None:
        """Forget `cleanup` (done already), so that connections that join and leave
        rooms for hours do not pile them up."""
        cleanups = self._cleanups
        if cleanups is not None and cleanup in cleanups:
            cleanups.remove(cleanup)

    async def _end(self) -> None:
        """Await the cleanups, last added first; one that fails is logged and the
        others still run."""
        cleanups = self._cleanups
        while cleanups:
            cleanup = cleanups.pop()
            try:
                await cleanup()
            except Exception:
                logger.exception("cleanup of websocket %s failed", self.scope.get("path"))

    # -- the book's context manager -------------------------------------------------------

    async def __aenter__(self) -> WebSocket:
        await self.accept()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            await self.close(1000)
        elif isinstance(exc, WebSocketException):
            await self.close(exc.code, exc.reason)
        elif not isinstance(exc, WebSocketDisconnect):
            await self.close(1011)


# -- limits on what a client sends ----------------------------------------------------

DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024  # bytes: the UTF-8 of a text message
DEFAULT_MESSAGE_RATE = 100.0  # messages a second, sustained

# The clock of the rate limit and the idle timeout (the tests replace it).
_clock: Callable[[], float] = time.monotonic


class WebSocketLimitArgs(TypedDict, total=False):
    """The limit options of a WebSocket route (see `WebSocketLimits`)."""

    max_message_size: int | None
    message_rate: float | None
    message_burst: int | None
    idle_timeout: float | None


def _seconds(value: Any, name: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} is a number of seconds or None, not {value!r}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be above 0 and finite (or None for none), not {value!r}")


@dataclass(frozen=True)
class WebSocketLimits:
    """What a WebSocket route accepts from a client; a message over a limit closes
    the connection (the handler's receive raises `WebSocketDisconnect` with the code).

    - `max_message_size`: the largest message in bytes, the UTF-8 of a text message
      (1 MiB; None for none). Larger: close with 1009 (message too big).
    - `message_rate`: messages a second a client may send, sustained (100; None for
      no limit), and `message_burst` how many it may send at once above that (the
      rate rounded up, at least 1). Faster: close with 1008 (policy violation).
    - `idle_timeout`: seconds without a message from the client, counted from
      `accept()` and from each message the handler receives, after which the
      connection is closed with 1001 (going away) and the reason "idle timeout (N s)"
      (None, the default: no limit). Pings answered by the client do not count.

    Every limit None costs nothing: the route serves a plain `WebSocket`.
    """

    max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE
    message_rate: float | None = DEFAULT_MESSAGE_RATE
    message_burst: int | None = None
    idle_timeout: float | None = None

    def __post_init__(self) -> None:
        size = self.max_message_size
        if size is not None and (type(size) is not int or size < 1):
            raise ValueError(
                f"max_message_size is a number of bytes above 0, or None for no limit; not {size!r}"
            )
        rate, burst = self.message_rate, self.message_burst
        if rate is not None:
            if isinstance(rate, bool) or not isinstance(rate, (int, float)):
                raise TypeError(f"message_rate is a number of messages a second, not {rate!r}")
            if not (rate > 0 and math.isfinite(rate)):
                raise ValueError(
                    f"message_rate must be above 0 and finite (or None for no limit), not {rate!r}"
                )
        if burst is not None:
            if type(burst) is not int or burst < 1:
                raise ValueError(f"message_burst is a number of messages above 0, not {burst!r}")
            if rate is None:
                raise ValueError("message_burst needs a message_rate: set one, or drop the burst")
        _seconds(self.idle_timeout, "idle_timeout")

    @classmethod
    def from_args(
        cls, args: Mapping[str, Any], base: WebSocketLimits | None = None
    ) -> WebSocketLimits:
        """`base` (the defaults when None) with the limits given as route options
        changed; a misspelt option is a `TypeError` that names the options there are."""
        unknown = set(args) - _LIMIT_NAMES
        if unknown:
            names = ", ".join(sorted(unknown))
            raise TypeError(
                f"unknown WebSocket route option(s) {names}; the limits are "
                f"{', '.join(sorted(_LIMIT_NAMES))}"
            )
        if base is None:
            return cls(**args)
        return replace(base, **args) if args else base

    def replace(self, **changes: Any) -> WebSocketLimits:
        """These limits with some changed (checked again)."""
        return replace(self, **changes)

    @property
    def off(self) -> bool:
        """Whether no limit is set (the route serves a plain `WebSocket`)."""
        return self.max_message_size is self.message_rate is self.idle_timeout is None

    @property
    def burst(self) -> int | None:
        """The burst in effect: `message_burst`, or the rate rounded up."""
        if self.message_rate is None:
            return None
        return self.message_burst or max(1, math.ceil(self.message_rate))

    def websocket_class(self) -> type[WebSocket]:
        """The class a route with these limits makes its connections of: `WebSocket`
        when every limit is off, else a subclass that checks them (one per value of
        the limits, made once)."""
        if self.off:
            return WebSocket
        made = _LIMITED.get(self)
        if made is None:
            rate, burst = self.message_rate, self.burst
            size = self.max_message_size
            interval = None if rate is None else 1.0 / rate
            attributes: dict[str, Any] = {
                "_max_size": size,
                "_quarter": -1 if size is None else size // 4,
                "_interval": interval,
                # NOTE: a thousandth of an interval of slack, so that the rounding of
                # float sums never refuses the last message of a full burst.
                "_tolerance": (burst - 0.999) * interval if interval and burst else 0.0,
                "_idle": self.idle_timeout,
                "_too_big": _reason(f"message too big (limit {size} bytes)", "message too big"),
                "_too_many": _reason(
                    f"too many messages (limit {rate:g} a second, bursts of {burst})",
                    "too many messages",
                )
                if rate is not None
                else "",
                "_idle_reason": _reason(f"idle timeout ({self.idle_timeout:g} s)", "idle timeout")
                if self.idle_timeout is not None
                else "",
            }
            base = _LimitedWebSocket if self.idle_timeout is None else _IdleWebSocket
            made = _LIMITED[self] = type("LimitedWebSocket", (base,), attributes)
        return made


def _reason(text: str, short: str) -> str:
    """`text`, or `short` where the limit's figures make it longer than a close reason
    may be (123 bytes)."""
    return text if len(text) <= 123 else short


_LIMIT_NAMES = frozenset(field.name for field in fields(WebSocketLimits))
NO_LIMITS = WebSocketLimits(max_message_size=None, message_rate=None)
_LIMITED: dict[WebSocketLimits, type[WebSocket]] = {}


class _LimitedWebSocket(WebSocket):
    """A `WebSocket` that checks each message it receives against its route's limits
    (class attributes of the subclass `WebSocketLimits.websocket_class()` makes)."""

    _max_size: ClassVar[int | None]
    _quarter: ClassVar[int]
    _interval: ClassVar[float | None]
    _tolerance: ClassVar[float]
    _idle: ClassVar[float | None]
    _too_big: ClassVar[str]
    _too_many: ClassVar[str]
    _idle_reason: ClassVar[str]

    # The rate limit's "theoretical arrival time" (GCRA): when the next message would
    # be due if the client sent at the rate exactly; one further ahead than the burst
    # allows is refused.
    _due = 0.0
    _last = 0.0  # when the handler last received a message (only with an idle timeout)

    async def receive(self) -> Message | None:
        # PERF: guarded by tests/test_websocket_limits.py::test_limited_receive_acts_as_plain
        # WebSocket.receive with the limits checked in place, rather than around a call
        # to it (one coroutine less per message).
        if self.application_state is WebSocketState.CONNECTING:
            raise RuntimeError("accept() the connection before receiving")
        if self.client_state is WebSocketState.DISCONNECTED:
            return None
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            self._client_gone(message)
            return None
        limit = self._max_size
        if limit is not None:
            text = message.get("text")
            if text is not None:
                # A character is 1 to 4 bytes of UTF-8: encode only a long non-ASCII text.
                size = len(text)
                if size > self._quarter and (
                    size > limit
                    or (not text.isascii() and len(text.encode("utf-8", "surrogatepass")) > limit)
                ):
                    await self._refuse(1009, self._too_big)
            else:
                data = message.get("bytes")
                if data is not None and len(data) > limit:
                    await self._refuse(1009, self._too_big)
        interval = self._interval
        if interval is not None:
            now = _clock()
            due = self._due
            if due < now:
                due = now
            elif due - now > self._tolerance:
                await self._refuse(1008, self._too_many)
            self._due = due + interval
            if self._idle is not None:
                self._last = now
        elif self._idle is not None:
            self._last = _clock()
        return message

    async def _refuse(self, code: int, reason: str) -> NoReturn:
        await self.close(code, reason)
        raise WebSocketDisconnect(code, reason)


class _IdleWebSocket(_LimitedWebSocket):
    """A `_LimitedWebSocket` with an idle timeout: a timer started by `accept()`, which
    closes the connection once no message has come for `_idle` seconds. Each message
    only notes the time; the timer, when it fires early, waits for what is left."""

    _idle: ClassVar[float]
    _timer: asyncio.TimerHandle | None = None
    _idle_close: asyncio.Task[None] | None = None

    async def accept(
        self,
        subprotocol: str | None = None,
        headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
    ) -> None:
        await WebSocket.accept(self, subprotocol, headers)
        self._last = _clock()
        self._timer = asyncio.get_running_loop().call_later(self._idle, self._check_idle)
        self._on_end(self._stop_idle)

    def _check_idle(self) -> None:
        self._timer = None
        if self.application_state is WebSocketState.DISCONNECTED:
            return
        left = self._last + self._idle - _clock()
        loop = asyncio.get_running_loop()
        if left > 0:
            self._timer = loop.call_later(left, self._check_idle)
        else:
            self._idle_close = loop.create_task(self.close(1001, self._idle_reason))

    async def _stop_idle(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        closing = self._idle_close
        if closing is not None:
            await asyncio.wait({closing})


# -- closing every WebSocket at shutdown -----------------------------------------------
def _uncancel() -> None:
    """Forget a cancellation that was handled (Python 3.11+ counts them)."""
    task = asyncio.current_task()
    uncancel = getattr(task, "uncancel", None)
    if uncancel is not None:
        uncancel()


# The connections bare's WebSocket routes are serving, each with the task serving it.
_open: dict[WebSocket, asyncio.Task[Any] | None] = {}
# close_all()'s work in progress on each loop, kept until done.
_closing: set[asyncio.Task[None]] = set()


def _check_close(code: Any, reason: Any) -> None:
    # RFC 6455 section 7.4: 1004-1006 and 1015 must never be sent; 3000-4999 are for
    # libraries and applications.
    if type(code) is not int or not (
        1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999
    ):
        raise ValueError(
            f"a close code is 1000-1003, 1007-1014 or 3000-4999 (RFC 6455), not {code!r}"
        )
    if not isinstance(reason, str):
        raise TypeError(f"a close reason is a str, not {type(reason).__name__}")
    try:
        size = len(reason.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError("a close reason cannot hold a lone surrogate") from None
    if size > 123:
        raise ValueError(f"a close reason is at most 123 bytes of UTF-8 (RFC 6455), not {size}")


def close_all(
    code: int = 1001, reason: str = "server shutting down", *, timeout: float = 5.0
) -> int:
    """Close every open WebSocket of bare's routes in this process, in every thread,
    and return how many there were.

    Each connection is closed with `code` and `reason` (1001, going away: clients
    reconnect later); a handshake still being decided is refused. Each handler then
    has until `timeout` seconds after the call to end, as it does when its receive
    says the client has gone; one still running then is cancelled (quietly: its
    `finally:` blocks run and its rooms are left). A client that stops reading cannot
    hold its close up longer than that either. Connections opened after the call are
    not affected.

    Returns at once: the closing happens on each connection's event loop. Safe to
    call from any thread and from a signal handler (see `bare.shutdown`).
    """
    _check_close(code, reason)
    _seconds(timeout, "timeout")
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[WebSocket, asyncio.Task[Any]]]] = {}
    for websocket, task in list(_open.items()):
        if task is not None:  # None: not run in a task, which no server does
            by_loop.setdefault(task.get_loop(), []).append((websocket, task))
    count = 0
    for loop, connections in by_loop.items():
        try:
            loop.call_soon_threadsafe(_start_closing, connections, code, reason, timeout)
        except RuntimeError:  # its loop was closed: those connections are long gone
            for websocket, _ in connections:
                _open.pop(websocket, None)
        else:
            count += len(connections)
    return count


def _start_closing(
    connections: list[tuple[WebSocket, asyncio.Task[Any]]], code: int, reason: str, timeout: float
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for websocket, task in connections:
        websocket._going_away = (code, reason)
        closer = loop.create_task(_go_away(websocket, task, code, reason, deadline))
        _closing.add(closer)
        closer.add_done_callback(_closing.discard)


async def _go_away(
    websocket: WebSocket, task: asyncio.Task[Any], code: int, reason: str, deadline: float
) -> None:
    loop = asyncio.get_running_loop()
    # A client that left or does not read: its handler is waited for, then cancelled.
    with contextlib.suppress(Exception):
        await within(max(0.0, deadline - loop.time()), websocket.close(code, reason))
    if not task.done():
        await asyncio.wait({task}, timeout=max(0.0, deadline - loop.time()))
        if not task.done():
            task.cancel()
