"""`Rooms`: WebSocket connections grouped by name, fed through a `Broadcast`.

Each membership (a `Room`) is one subscriber of the room's channel and one task that
forwards what the channel carries to the connection, in order. A send to the room is a
publish, so it reaches the members in every process subscribed to the same broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Generator
from types import TracebackType
from typing import Any

from .._concurrency import within
from .._json import dumps
from ..exceptions import WebSocketException
from ..websockets import WebSocket, WebSocketDisconnect, WebSocketState, _uncancel
from ._broadcast import Broadcast, Event, Subscriber, SubscriberOverflow, _positive

__all__ = ["Room", "Rooms"]

logger = logging.getLogger("bare.broadcast")

_BINARY = (bytes, bytearray, memoryview)


def _json_text(value: Any) -> str:
    """`value` as JSON text, written once for every member."""
    try:
        return dumps(value).decode("utf-8")
    except TypeError as exc:
        raise TypeError(
            f"a room message is a str, bytes or a JSON-able value, not "
            f"{type(value).__name__} ({exc})"
        ) from None
    except (ValueError, RecursionError) as exc:  # an int too long, a cycle, deep nesting
        raise ValueError(f"a room message cannot be written as JSON: {exc}") from None


def _outgoing(message: Any) -> str | bytes | bytearray | memoryview:
    """What is published for `message`: text and bytes as they are, anything else as
    JSON text, so members receive a text message either way."""
    if isinstance(message, (str, *_BINARY)):
        return message
    return _json_text(message)


class Rooms:
    """WebSocket rooms on top of a `Broadcast`: join, leave, send to everyone in a room.

    ::

        rooms = Rooms(broadcast)

        @app.websocket("/chat/{room}")
        async def chat(websocket: WebSocket) -> None:
            await websocket.accept()
            async with rooms.join(websocket.path_params["room"], websocket) as room:
                async for message in websocket:      # until the client leaves
                    await room.send(message)         # to every member, the sender too

    Each member receives what is sent to the room from the moment it joined, in the
    order it was sent, as a text message (str, and anything sent as JSON) or a binary
    one (bytes). A room is the broadcast channel `prefix + name`, so with a Redis URL
    the members on every process and host connected to that Redis are in the same
    room. A member's messages wait in its subscriber's queue (the broadcast's
    `max_queue`); one that falls that far behind is closed with 1013 (try again later)
    under the broadcast's "disconnect" policy, and the others are not slowed down.

    - `prefix`: what room names are prefixed with to make channel names ("room:").
    - `max_rooms`: how many rooms one connection may be in at once (100); one more
      closes it with 1008.
    - `close_timeout`: how long closing a member (1013, or 1001 when the broadcast
      disconnects) may take before it is given up, in seconds (5): a client that
      stopped reading cannot take the close.
    """

    def __init__(
        self,
        broadcast: Broadcast,
        *,
        prefix: str = "room:",
        max_rooms: int = 100,
        close_timeout: float = 5.0,
    ) -> None:
        if not isinstance(broadcast, Broadcast):
            raise TypeError(f"Rooms takes a bare.broadcast.Broadcast, not {broadcast!r}")
        if not isinstance(prefix, str):
            raise TypeError(f"prefix is a str, not {type(prefix).__name__}")
        if "\0" in prefix or len(prefix) >= broadcast.max_channel_length:
            raise ValueError(
                f"prefix must hold no NUL and be shorter than the broadcast's "
                f"max_channel_length ({broadcast.max_channel_length})"
            )
        _positive(max_rooms, "max_rooms", integer=True)
        _positive(close_timeout, "close_timeout", integer=False)
        self.broadcast = broadcast
        self.prefix = prefix
        self.max_rooms = max_rooms
        self.close_timeout = close_timeout
        # Room names are checked here: the channel must stay within the broadcast's limit.
        self.max_name_length = broadcast.max_channel_length - len(prefix)
        self._members: dict[str, dict[WebSocket, Room]] = {}  # room name: its local members
        self._joined: dict[WebSocket, dict[str, Room]] = {}  # connection: its rooms

    def __repr__(self) -> str:
        return f"<Rooms {self.prefix!r} on {self.broadcast!r}, {len(self._members)} rooms here>"

    # -- names ------------------------------------------------------------------------

    def _problem(self, name: Any) -> str | None:
        """What is wrong with a room name (None: nothing). Names often come from
        clients (a path parameter): nothing here echoes them."""
        if not isinstance(name, str):
            raise TypeError(f"a room name is a str, not {type(name).__name__}")
        if not name:
            return "a room name cannot be empty"
        if len(name) > self.max_name_length:
            return f"a room name is at most {self.max_name_length} characters"
        if "\0" in name:
            return "a room name cannot hold NUL"
        if not name.isascii():
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                return "a room name cannot hold a lone surrogate"
        return None

    def channel(self, name: str) -> str:
        """The broadcast channel of room `name` (`ValueError` for a name that cannot
        be one: empty, too long, with NUL or a lone surrogate)."""
        problem = self._problem(name)
        if problem is not None:
            raise ValueError(problem)
        return self.prefix + name

    # -- membership -------------------------------------------------------------------

    def join(self, name: str, websocket: WebSocket) -> _Joining:
        """Make the accepted `websocket` a member of room `name`, to use as `async
        with rooms.join(name, websocket) as room:` (it leaves when the block ends) or
        `room = await rooms.join(name, websocket)` (it leaves when `room.leave()` is
        awaited, or at the latest when the handler ends).

        Either way the connection also leaves when a send to it finds the client gone,
        and when it falls too far behind (it is closed with 1013). Once `join`
        returns, everything sent to the room reaches it.

        An invalid name (empty, longer than `max_name_length`, with NUL or a lone
        surrogate) and a connection already in `max_rooms` rooms raise
        `WebSocketException(1008)`, which closes the connection with that code and a
        reason saying why; a connection not yet accepted is a `RuntimeError`, one
        already closed a `WebSocketDisconnect`, and joining a room twice a
        `RuntimeError`.
        """
        return _Joining(self, name, websocket)

    async def leave(self, name: str, websocket: WebSocket) -> None:
        """Make `websocket` leave room `name`, if it is a member."""
        room = self._joined.get(websocket, {}).get(name)
        if room is not None:
            await room.leave()

    def members(self, name: str) -> frozenset[WebSocket]:
        """The connections in room `name` in this process (members elsewhere are not
        known here)."""
        return frozenset(self._members.get(name, ()))

    def names(self) -> list[str]:
        """The rooms that have members in this process."""
        return list(self._members)

    async def _join(self, name: str, websocket: WebSocket) -> Room:
        problem = self._problem(name)
        if problem is not None:
            raise WebSocketException(1008, f"invalid room name: {problem}")
        state = websocket.application_state
        if state is not WebSocketState.CONNECTED:
            if state is WebSocketState.CONNECTING:
                raise RuntimeError("accept() the connection before joining a room")
            raise WebSocketDisconnect(websocket.close_code or 1000)
        joined = self._joined.setdefault(websocket, {})
        if name in joined:
            raise RuntimeError(f"this WebSocket is in room {name!r} already")
        if len(joined) >= self.max_rooms:
            raise WebSocketException(1008, f"too many rooms (limit {self.max_rooms})")
        room = Room(self, name, websocket)
        joined[name] = room  # taken now: a second join meanwhile finds it
        try:
            await room._subscriber.__aenter__()
        except BaseException:
            self._forget(room)
            raise
        room._start()
        self._members.setdefault(name, {})[websocket] = room
        return room

    def _forget(self, room: Room) -> None:
        name, websocket = room.name, room.websocket
        members = self._members.get(name)
        if members is not None and members.get(websocket) is room:
            del members[websocket]
            if not members:
                del self._members[name]
        joined = self._joined.get(websocket)
        if joined is not None and joined.get(name) is room:
            del joined[name]
            if not joined:
                del self._joined[websocket]

    # -- sending ----------------------------------------------------------------------

    async def send(self, name: str, message: Any) -> None:
        """Send `message` to every member of room `name`, here and in every process
        on the same broker: a `str` as text, `bytes` as binary, anything else as JSON
        text. Raises what `Broadcast.publish` raises: `BroadcastUnavailable` when
        Redis does not take it, `ValueError` for a message over `max_message_size`
        or an invalid name, `TypeError` for one JSON cannot write."""
        await self.broadcast.publish(self.channel(name), _outgoing(message))

    async def send_text(self, name: str, text: str) -> None:
        """Send `text` to room `name` as a text message."""
        await self.broadcast.publish(self.channel(name), _text(text))

    async def send_bytes(self, name: str, data: bytes | bytearray | memoryview) -> None:
        """Send `data` to room `name` as a binary message."""
        await self.broadcast.publish(self.channel(name), _bytes(data))

    async def send_json(self, name: str, value: Any) -> None:
        """Send `value` to room `name` as JSON text (a str too: `"hi"` with quotes)."""
        await self.broadcast.publish(self.channel(name), _json_text(value))


def _text(text: Any) -> str:
    if not isinstance(text, str):
        raise TypeError(f"send_text() takes a str, not {type(text).__name__}")
    return text


def _bytes(data: Any) -> bytes | bytearray | memoryview:
    if not isinstance(data, _BINARY):
        raise TypeError(f"send_bytes() takes bytes, not {type(data).__name__}")
    return data


class _Joining:
    """What `Rooms.join` returns: awaitable, and an async context manager."""

    __slots__ = ("_name", "_room", "_rooms", "_websocket")

    def __init__(self, rooms: Rooms, name: str, websocket: WebSocket) -> None:
        self._rooms = rooms
        self._name = name
        self._websocket = websocket
        self._room: Room | None = None

    def __await__(self) -> Generator[Any, None, Room]:
        return self._rooms._join(self._name, self._websocket).__await__()

    async def __aenter__(self) -> Room:
        self._room = await self._rooms._join(self._name, self._websocket)
        return self._room

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        room, self._room = self._room, None
        if room is not None:
            await room.leave()


class _Delivery(Subscriber):
    """A member's subscriber: it tells the member when it overflows."""

    __slots__ = ("_room",)

    def __init__(self, broadcast: Broadcast, channel: str, room: Room) -> None:
        super().__init__(broadcast, channel)
        self._room = room

    def _end(self, error: BaseException | None) -> None:
        super()._end(error)
        if error is not None:  # only SubscriberOverflow ends one with an error
            self._room._overflowed()


_JOINING, _IN, _LEFT = 0, 1, 2


class Room:
    """One connection's membership of one room, made by `Rooms.join`.

    `send`, `send_text`, `send_bytes` and `send_json` send to the whole room (this
    member too); `members` are the room's connections in this process; `leave()`
    ends the membership (once; it also ends on its own, see `Rooms.join`).
    """

    __slots__ = (
        "_overflow",
        "_rooms",
        "_started",
        "_state",
        "_subscriber",
        "_task",
        "channel",
        "name",
        "websocket",
    )

    def __init__(self, rooms: Rooms, name: str, websocket: WebSocket) -> None:
        self.name = name
        self.websocket = websocket
        self.channel = rooms.prefix + name
        self._rooms = rooms
        self._subscriber = _Delivery(rooms.broadcast, self.channel, self)
        self._task: asyncio.Task[None] | None = None
        self._state = _JOINING
        self._started = False  # the forwarding task has begun
        self._overflow = False  # the queue overflowed: close with 1013

    def __repr__(self) -> str:
        state = ("joining", "in", "left")[self._state]
        return f"<Room {self.name!r} {state}>"

    @property
    def members(self) -> frozenset[WebSocket]:
        """The connections in this room in this process."""
        return self._rooms.members(self.name)

    @property
    def joined(self) -> bool:
        """Whether this connection is still in the room."""
        return self._state == _IN

    @property
    def dropped(self) -> int:
        """Messages dropped for this member under the broadcast's "drop_oldest" policy."""
        return self._subscriber.dropped

    # -- sending ----------------------------------------------------------------------

    async def send(self, message: Any) -> None:
        """Send `message` to the room (see `Rooms.send`)."""
        await self._rooms.broadcast.publish(self.channel, _outgoing(message))

    async def send_text(self, text: str) -> None:
        """Send `text` to the room as a text message."""
        await self._rooms.broadcast.publish(self.channel, _text(text))

    async def send_bytes(self, data: bytes | bytearray | memoryview) -> None:
        """Send `data` to the room as a binary message."""
        await self._rooms.broadcast.publish(self.channel, _bytes(data))

    async def send_json(self, value: Any) -> None:
        """Send `value` to the room as JSON text."""
        await self._rooms.broadcast.publish(self.channel, _json_text(value))

    # -- life -------------------------------------------------------------------------

    def _start(self) -> None:
        self._state = _IN
        self._task = asyncio.get_running_loop().create_task(self._forward())
        self.websocket._on_end(self.leave)

    async def leave(self) -> None:
        """Leave the room: stop forwarding its messages and unsubscribe. Doing it
        twice is harmless."""
        # Out already when the forwarding task ended the membership itself (the client
        # went, it overflowed): then wait for it to finish closing, do not cancel it.
        stop = self._state != _LEFT
        if stop:
            self._state = _LEFT
            self._rooms._forget(self)
            self.websocket._off_end(self.leave)
        task = self._task
        try:
            if task is not None and task is not asyncio.current_task() and not task.done():
                if stop:
                    task.cancel()
                # Waits for the task without taking its outcome as ours: a cancellation
                # of the caller still reaches the caller.
                await asyncio.wait({task})
            if task is not None and task.done() and not task.cancelled():
                task.exception()  # retrieved: _forward logs its own failures
        finally:
            await self._subscriber.__aexit__(None, None, None)

    def _overflowed(self) -> None:
        """The member's queue overflowed (called within the publish that did it)."""
        self._overflow = True
        task = self._task
        # A task blocked in a send to a client that stopped reading would never see the
        # overflow: stop it there. One that has not begun sees it at its first step.
        if self._started and task is not None and not task.done():
            task.cancel()

    async def _forward(self) -> None:
        """Send what the room carries to the connection, in order, until the member
        leaves, the client goes, the queue overflows or the broadcast disconnects."""
        self._started = True
        send = self.websocket.send
        subscriber = self._subscriber
        next_ready = subscriber.next_ready
        try:
            async for first in subscriber:
                # What queued up meanwhile goes out in the same pass, without waiting.
                event: Event | None = first
                while event is not None:
                    message = event.message
                    kind = type(message)
                    if kind is str:
                        await send({"type": "websocket.send", "text": message})
                    elif kind is bytes:
                        await send({"type": "websocket.send", "bytes": message})
                    else:  # JSON another program published in the wire format
                        await send({"type": "websocket.send", "text": _json_text(message)})
                    event = next_ready()
            ended = "stopped"
        except SubscriberOverflow:
            ended = "overflow"
        except asyncio.CancelledError:
            if not self._overflow:
                raise
            _uncancel()
            ended = "overflow"
        except WebSocketDisconnect:
            ended = "gone"
        except Exception:
            logger.exception("forwarding room %r to a websocket failed", self.name)
            ended = "failed"
        if self._state == _LEFT:
            return  # leave() was called: it does the rest
        # Out of the room at once: the members no longer count it, and the handler's
        # leave() waits for the close below instead of cancelling it.
        self._state = _LEFT
        self._rooms._forget(self)
        if ended == "overflow":
            behind = self._rooms.broadcast.max_queue
            await self._close(1013, f"too slow: fell {behind} messages behind the room")
        elif ended == "stopped":  # the broadcast disconnected: the app is stopping
            await self._close(1001, "server shutting down")
        elif ended == "failed":
            await self._close(1011, "")
        await self._subscriber.__aexit__(None, None, None)

    async def _close(self, code: int, reason: str) -> None:
        # A client that stopped reading cannot take the close: give up after the timeout.
        with contextlib.suppress(Exception):
            await within(self._rooms.close_timeout, self.websocket.close(code, reason))
