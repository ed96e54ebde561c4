"""`Broadcast`: publish to channels, subscribe to them, through memory or Redis."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import SplitResult, parse_qsl, urlsplit

from . import _wire

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "Broadcast",
    "BroadcastError",
    "BroadcastUnavailable",
    "Event",
    "OnFull",
    "Subscriber",
    "SubscriberOverflow",
]

OnFull = Literal["drop_oldest", "disconnect"]
_POLICIES = ("drop_oldest", "disconnect")

_ACCEPTED = (
    "memory://, redis://[[user]:password@]host[:port][/db], "
    "rediss://[[user]:password@]host[:port][/db] or unix:///path/to/redis.sock[?db=N]"
)


class BroadcastError(Exception):
    """Base class of the errors of `bare.broadcast`."""


class BroadcastUnavailable(BroadcastError, ConnectionError):
    """The broker (Redis) could not be reached or did not answer in time: the broadcast
    could not connect, or a message may not have been published."""


class SubscriberOverflow(BroadcastError):
    """Raised by a subscriber's iteration under the "disconnect" policy: its queue was
    full, so it was dropped rather than given a gap. A WebSocket layer closes the
    connection with 1013 (try again later)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One message as a subscriber receives it: the channel and what was published.

    Every local subscriber of the channel gets the same `Event` (and the same message
    object): treat a dict or list message as read-only.
    """

    channel: str
    message: Any


class _Backend(Protocol):
    """How messages travel: in this process, or through a broker."""

    @property
    def available(self) -> bool: ...

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    async def publish(self, channel: str, message: Any) -> None: ...

    async def join(self, channel: str) -> None:
        """A local subscriber of `channel` arrived (it is counted already)."""

    async def leave(self, channel: str) -> None:
        """A local subscriber of `channel` left (it is no longer counted)."""


class _Memory:
    """One process: a publish is handed to the local subscribers at once."""

    available = True

    def __init__(self, deliver: Callable[[str, Any], None], max_message_size: int) -> None:
        self._deliver = deliver
        self._limit = max_message_size

    async def connect(self) -> None:
        pass

    async def disconnect(self) -> None:
        pass

    async def publish(self, channel: str, message: Any) -> None:
        self._deliver(channel, _wire.prepare(message, self._limit))

    async def join(self, channel: str) -> None:
        pass

    async def leave(self, channel: str) -> None:
        pass


def _parse_url(url: str) -> SplitResult:
    """The URL split, once it is one this module serves; `ValueError` otherwise. The
    messages never repeat the URL: it may hold a password."""
    if not isinstance(url, str):
        raise TypeError(f"a broadcast URL is a str, not {type(url).__name__}")
    try:
        parts = urlsplit(url)
        port = parts.port  # a port that is not a number in 0..65535 raises
    except ValueError:
        raise ValueError(f"a malformed broadcast URL: use {_ACCEPTED}") from None
    scheme = parts.scheme
    if scheme == "memory":
        if parts.netloc or parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("the memory backend takes no host, path or options: use memory://")
        return parts
    if scheme in ("redis", "rediss"):
        if not parts.hostname:
            raise ValueError(f"a {scheme}:// URL names a host: use {_ACCEPTED}")
        if port == 0:
            raise ValueError(f"a {scheme}:// URL's port is in 1..65535")
        db = parts.path[1:]
        if parts.path not in ("", "/") and not (db.isdigit() and db.isascii() and len(db) < 6):
            raise ValueError(
                f"the path of a {scheme}:// URL is the database number (/0), nothing else"
            )
        if parts.query or parts.fragment:
            raise ValueError(f"a {scheme}:// URL takes no ?options or #fragment: use {_ACCEPTED}")
        return parts
    if scheme == "unix":
        if parts.netloc or not parts.path:
            raise ValueError("a unix:// URL is unix:///path/to/redis.sock (three slashes)")
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name != "db" or not (value.isdigit() and value.isascii() and len(value) < 6):
                raise ValueError("a unix:// URL takes one option, ?db=N (the database number)")
        if parts.fragment:
            raise ValueError("a unix:// URL takes no #fragment")
        return parts
    what = f"{scheme}://" if scheme else "a URL without a scheme"
    raise ValueError(f"bare.broadcast does not serve {what}: use {_ACCEPTED}")


def _where(parts: SplitResult) -> str:
    """The URL without its credentials, for messages and repr."""
    if parts.scheme == "memory":
        return "memory://"
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _positive(value: Any, name: str, *, integer: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        kind = "an int" if integer else "a number of seconds"
        raise TypeError(f"{name} is {kind}, not {type(value).__name__}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be positive and finite, not {value!r}")


def _check_channel(channel: Any, limit: int) -> None:
    if not isinstance(channel, str):
        raise TypeError(f"a channel name is a str, not {type(channel).__name__}")
    if not channel:
        raise ValueError("a channel name cannot be empty")
    if len(channel) > limit:
        raise ValueError(
            f"a channel name is at most {limit} characters (max_channel_length), not {len(channel)}"
        )
    if "\0" in channel:
        raise ValueError("a channel name cannot hold NUL")
    if not channel.isascii():
        try:
            channel.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a channel name cannot hold a lone surrogate") from None


class Broadcast:
    """Publish messages to named channels; every subscriber of a channel receives them.

    ::

        broadcast = Broadcast("redis://127.0.0.1:6379/0")    # or "memory://", the default
        app = Bare(lifespan=broadcast.lifespan)               # connect at startup

        await broadcast.publish("room:lobby", {"from": "ann", "text": "hi"})

        async with broadcast.subscribe("room:lobby") as subscriber:
            async for event in subscriber:                    # event.channel, event.message
                ...

    The URL chooses the backend: `memory://` (one process) or Redis pub/sub through
    redis-py's asyncio client (`redis://host:port/db`, `rediss://` for TLS,
    `unix:///path/to/redis.sock`), which reaches every process subscribed to the same
    Redis server. A message is a `str`, `bytes` or a JSON-able value; subscribers get
    back a `str`, `bytes` or the parsed JSON (see `bare.broadcast._wire`).

    - `max_queue`: the messages a subscriber may have waiting (1000). A publish never
      waits for a slow subscriber: when its queue is full, `on_full` decides.
    - `on_full`: "disconnect" (the default) ends that subscriber's iteration with
      `SubscriberOverflow`; "drop_oldest" drops its oldest waiting message and counts
      it in `subscriber.dropped`. Either way the others are not affected, and what a
      subscriber does receive is in the order it was published.
    - `max_message_size`: the largest message in bytes (1 MiB: the UTF-8 of a str, the
      JSON of a value); a larger one is a `ValueError` at `publish`.
    - `max_channel_length`: the longest channel name, in characters (256).
    - Redis only: `timeout` bounds each exchange with Redis in seconds (5): a publish
      that cannot complete in time raises `BroadcastUnavailable`. When the subscription
      connection is lost, it is made again after `reconnect_delay` seconds (0.1),
      doubling up to `max_reconnect_delay` (5), and every channel is subscribed again.
      A silent connection is pinged after `ping_interval` seconds (5) and dropped if
      the answer does not come within `timeout`.
    """

    def __init__(
        self,
        url: str = "memory://",
        *,
        max_queue: int = 1000,
        on_full: OnFull = "disconnect",
        max_message_size: int = 1024 * 1024,
        max_channel_length: int = 256,
        timeout: float = 5.0,
        ping_interval: float = 5.0,
        reconnect_delay: float = 0.1,
        max_reconnect_delay: float = 5.0,
    ) -> None:
        self._parts = _parse_url(url)
        for value, name in (
            (max_queue, "max_queue"),
            (max_message_size, "max_message_size"),
            (max_channel_length, "max_channel_length"),
        ):
            _positive(value, name, integer=True)
        for number, name in (
            (timeout, "timeout"),
            (ping_interval, "ping_interval"),
            (reconnect_delay, "reconnect_delay"),
            (max_reconnect_delay, "max_reconnect_delay"),
        ):
            _positive(number, name, integer=False)
        if on_full not in _POLICIES:
            raise ValueError(f"on_full is 'drop_oldest' or 'disconnect', not {on_full!r}")
        if reconnect_delay > max_reconnect_delay:
            raise ValueError("reconnect_delay cannot be more than max_reconnect_delay")
        self.max_queue = max_queue
        self.on_full: OnFull = on_full
        self.max_message_size = max_message_size
        self.max_channel_length = max_channel_length
        self._url = url
        self._make_backend: Callable[[], _Backend]
        if self._parts.scheme == "memory":
            self._make_backend = lambda: _Memory(self._deliver, max_message_size)
        else:
            try:
                from ._redis import RedisBackend
            except ImportError as exc:
                if (exc.name or "").partition(".")[0] != "redis":
                    raise
                raise ImportError(
                    "Broadcast with a Redis URL needs redis-py: pip install redis "
                    "(or, in a checkout of bare, pip install '.[redis]')"
                ) from exc
            where = _where(self._parts)

            def make_redis() -> _Backend:
                return RedisBackend(
                    url,
                    where,
                    counts=self._counts,
                    deliver=self._deliver,
                    max_message_size=max_message_size,
                    timeout=timeout,
                    ping_interval=ping_interval,
                    reconnect_delay=reconnect_delay,
                    max_reconnect_delay=max_reconnect_delay,
                )

            self._make_backend = make_redis
        self._backend: _Backend | None = None
        self._connecting = False
        # The subscribers each publish goes to, by channel; a subscriber that overflowed
        # under "disconnect" leaves this at once, and `_counts` when its block ends.
        self._channels: dict[str, set[Subscriber]] = {}
        # Open subscribers by channel: a broker subscribes to the channels counted here.
        self._counts: dict[str, int] = {}
        self._open: set[Subscriber] = set()

    def __repr__(self) -> str:
        state = "connected" if self._backend is not None else "disconnected"
        return f"<Broadcast {_where(self._parts)} {state}>"

    @property
    def backend(self) -> str:
        """The backend's name: "memory" or "redis"."""
        return "memory" if self._parts.scheme == "memory" else "redis"

    @property
    def connected(self) -> bool:
        """Whether `connect()` has run (and `disconnect()` not since)."""
        return self._backend is not None

    @property
    def available(self) -> bool:
        """Whether messages flow now: connected and, with Redis, the subscription
        connection is up with every channel subscribed (False while it reconnects)."""
        return self._backend is not None and self._backend.available

    # -- life -------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect to the broker (with Redis: open the subscription connection and
        start its reader). `BroadcastUnavailable` if Redis cannot be reached within
        `timeout`; `RuntimeError` if connected already. After `disconnect()` it may be
        connected again."""
        if self._backend is not None or self._connecting:
            raise RuntimeError("this Broadcast is connected already")
        self._connecting = True
        try:
            backend = self._make_backend()
            await backend.connect()
        finally:
            self._connecting = False
        self._backend = backend

    async def disconnect(self) -> None:
        """End every subscriber's iteration (at once: what they had waiting is dropped),
        stop the reader and close the connections. Doing it twice is harmless."""
        backend, self._backend = self._backend, None
        subscribers = list(self._open)
        self._open.clear()
        self._channels.clear()
        self._counts.clear()
        for subscriber in subscribers:
            subscriber._end(None)
        if backend is not None:
            await backend.disconnect()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.disconnect()

    def lifespan(self, app: object = None) -> contextlib.AbstractAsyncContextManager[None]:
        """A lifespan for `Bare(lifespan=broadcast.lifespan)`: connects at startup,
        disconnects at shutdown. With a lifespan of your own, use `async with
        broadcast:` inside it; or pass `on_startup=[broadcast.connect]` and
        `on_shutdown=[broadcast.disconnect]`, which combine with anything."""
        return self._lifespan()

    @contextlib.asynccontextmanager
    async def _lifespan(self) -> AsyncIterator[None]:
        await self.connect()
        try:
            yield
        finally:
            await self.disconnect()

    # -- messages ---------------------------------------------------------------------

    def _connected(self) -> _Backend:
        backend = self._backend
        if backend is None:
            raise RuntimeError(
                "the Broadcast is not connected: await broadcast.connect() first, or "
                "wire it into the app (Bare(lifespan=broadcast.lifespan))"
            )
        return backend

    async def publish(self, channel: str, message: Any) -> None:
        """Send `message` (a `str`, `bytes` or JSON-able value) to every subscriber of
        `channel`, in this process and, with Redis, in every other one.

        Never waits for subscribers. `TypeError` for a message JSON cannot write,
        `ValueError` for one over `max_message_size` or a bad channel name,
        `BroadcastUnavailable` when Redis does not take it within `timeout`: then it
        was most likely not published (if Redis was only slow, it may still be), so
        retry or report it.
        """
        _check_channel(channel, self.max_channel_length)
        await self._connected().publish(channel, message)

    def subscribe(self, channel: str) -> Subscriber:
        """A subscriber of `channel`, to use as `async with broadcast.subscribe(channel)
        as subscriber: async for event in subscriber: ...`. It receives what is
        published once the block is entered, until it is left."""
        _check_channel(channel, self.max_channel_length)
        return Subscriber(self, channel)

    def _deliver(self, channel: str, message: Any) -> None:
        """Hand a message to the local subscribers of `channel` (never waits)."""
        subscribers = self._channels.get(channel)
        if not subscribers:
            return
        event = Event(channel, message)
        overflowed = [subscriber for subscriber in subscribers if not subscriber._put(event)]
        if overflowed:
            subscribers.difference_update(overflowed)
            if not subscribers:
                del self._channels[channel]

    def _attach(self, subscriber: Subscriber) -> None:
        channel = subscriber.channel
        self._channels.setdefault(channel, set()).add(subscriber)
        self._counts[channel] = self._counts.get(channel, 0) + 1
        self._open.add(subscriber)

    def _detach(self, subscriber: Subscriber) -> bool:
        """Forget `subscriber`; whether it was the last of its channel."""
        if subscriber not in self._open:
            return False  # the broadcast was disconnected in between
        self._open.discard(subscriber)
        channel = subscriber.channel
        receivers = self._channels.get(channel)
        if receivers is not None:
            receivers.discard(subscriber)
            if not receivers:
                del self._channels[channel]
        count = self._counts[channel] - 1
        if count:
            self._counts[channel] = count
            return False
        del self._counts[channel]
        return True


_NEW, _OPEN, _ENDED = 0, 1, 2


class Subscriber:
    """One subscription to one channel, made by `Broadcast.subscribe(channel)`.

    Enter it with `async with` (it receives from then on), iterate it for `Event`s.
    The iteration ends when the block is left or the broadcast disconnects; it raises
    `SubscriberOverflow` if the queue filled up under the "disconnect" policy.
    `dropped` counts the messages dropped under "drop_oldest".
    """

    __slots__ = (
        "_backend",
        "_broadcast",
        "_error",
        "_items",
        "_limit",
        "_state",
        "_waiter",
        "channel",
        "dropped",
    )

    def __init__(self, broadcast: Broadcast, channel: str) -> None:
        self.channel = channel
        self.dropped = 0
        self._broadcast = broadcast
        self._backend: _Backend | None = None
        limit = broadcast.max_queue
        # NOTE: for "drop_oldest" the deque's maxlen drops the oldest item itself; for
        # "disconnect" it is never reached (`_put` checks first).
        self._limit = limit
        self._items: deque[Event] = deque(
            maxlen=limit if broadcast.on_full == "drop_oldest" else limit + 1
        )
        self._waiter: asyncio.Future[None] | None = None
        self._state = _NEW
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        state = ("new", "open", "ended")[self._state]
        return f"<Subscriber {self.channel!r} {state}, {len(self._items)} waiting>"

    async def __aenter__(self) -> Self:
        if self._state != _NEW:
            raise RuntimeError("a subscriber is entered once: call broadcast.subscribe() again")
        broadcast = self._broadcast
        backend = broadcast._connected()
        self._backend = backend
        self._state = _OPEN
        broadcast._attach(self)
        try:
            await backend.join(self.channel)
        except BaseException:
            await self._leave()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._leave()

    async def _leave(self) -> None:
        self._end(None)
        broadcast, backend = self._broadcast, self._backend
        if broadcast._detach(self) and backend is not None and broadcast._backend is backend:
            await backend.leave(self.channel)

    def _put(self, event: Event) -> bool:
        """Queue `event`; False if this subscriber overflowed ("disconnect")."""
        items = self._items
        if len(items) >= self._limit:
            if items.maxlen == self._limit:  # "drop_oldest": append drops the oldest
                self.dropped += 1
            else:
                self._end(
                    SubscriberOverflow(
                        f"the subscriber of {self.channel!r} fell {self._limit} messages "
                        "behind (max_queue) and was disconnected"
                    )
                )
                return False
        items.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return True

    def _end(self, error: BaseException | None) -> None:
        """End the iteration now: with `error`, or plainly (None)."""
        if self._state == _ENDED:
            return
        self._state = _ENDED
        self._error = error
        self._items.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def next_ready(self) -> Event | None:
        """The next event if one is already queued, else None: never waits, never
        raises (the iteration tells how the subscription ended)."""
        items = self._items
        return items.popleft() if items else None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        items = self._items
        while not items:
            if self._state != _OPEN:
                if self._state == _NEW:
                    raise RuntimeError(
                        "enter the subscriber first: async with broadcast.subscribe(channel)"
                    )
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None
        return items.popleft()
