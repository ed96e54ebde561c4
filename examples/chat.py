"""The book's chat, grown up: rooms, nicknames, join and leave notices, and a history of
the last messages of each room, served with a page and a small script (no build step).

Run it in one process (the rooms live in memory)::

    bare run examples.chat:app                  # then open http://127.0.0.1:8000

or on several workers, or several hosts, through Redis (`pip install redis`, or
`pip install '.[redis]'` in a checkout of bare; the page needs jinja2)::

    BARE_BROADCAST_URL=redis://127.0.0.1:6379 uvicorn examples.chat:app --workers 2

The protocol, JSON text both ways, each message with a `type`:

- The client connects to `/ws/{room}?nick=NAME`. A room name is 1 to 32 of `a-z`,
  `0-9` and `-` (not first); a nickname 1 to 24 letters, digits, `_`, `-` or `.`.
  The server decides: a name it refuses closes the connection with 1008 and a reason
  saying which rule was broken.
- It first receives `{"type": "welcome", "nick", "room", "history": [...]}`: the last
  `HISTORY` messages of the room, oldest first (in Redis, a list per room trimmed
  with LPUSH + LTRIM, so every worker sees the same; with memory://, a deque).
- Then everyone in the room, it too, receives `{"type": "join", "nick", "room",
  "time"}`, each `{"type": "message", "nick", "room", "text", "time"}`, and
  `{"type": "leave", ...}` when someone goes.
- It sends `{"type": "message", "text": "..."}`. A message that is not that (binary, not
  JSON, another shape, empty, over `MAX_TEXT` characters, with control characters) is
  answered `{"type": "error", "error": "..."}` to that client alone, which stays
  connected; so is a message that could not be delivered (Redis unavailable).
- The route's limits: frames over `MAX_FRAME` bytes close with 1009, more than
  `RATE` messages a second (bursts of `BURST`) with 1008, `IDLE` seconds of silence
  with 1001. On Ctrl+C or SIGTERM every connection is closed with 1001 at once.

Nicknames are not unique (there is no presence across workers), and a message sent while
a client is between reading the history and joining its room is in neither for it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bare import Bare, HTTPException, Request, Response, WebSocket
from bare.broadcast import Broadcast, BroadcastUnavailable, Room, Rooms
from bare.shutdown import close_on_signals, restore_signals
from bare.staticfiles import StaticFiles
from bare.templating import Jinja2Templates, TemplateResponse

HERE = Path(__file__).resolve().parent
logger = logging.getLogger("examples.chat")

HISTORY = 50  # messages kept per room
MAX_TEXT = 500  # characters in a message
MAX_NICK = 24
MAX_ROOM = 32
MAX_FRAME = 8 * 1024  # bytes in one WebSocket message: a full text, JSON-escaped, fits
RATE, BURST = 5, 10  # messages a second a client may send, and at once
IDLE = 30 * 60.0  # seconds without a message from the client
MEMORY_ROOMS = 1000  # rooms whose history one process keeps with memory://
HISTORY_TTL = 7 * 24 * 3600  # seconds a quiet room's history stays in Redis

# The page: scripts from /static only, and WebSockets to this origin.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class HistoryUnavailable(ConnectionError):
    """The history store did not answer."""


class MemoryHistory:
    """The last `size` messages of each room, in this process (for memory://)."""

    def __init__(self, size: int, max_rooms: int = MEMORY_ROOMS) -> None:
        self.size = size
        self.max_rooms = max_rooms
        self._rooms: OrderedDict[str, deque[dict[str, Any]]] = OrderedDict()

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        self._rooms.clear()

    async def add(self, room: str, message: dict[str, Any]) -> None:
        kept = self._rooms.get(room)
        if kept is None:
            kept = self._rooms[room] = deque(maxlen=self.size)
            while len(self._rooms) > self.max_rooms:  # room names come from clients
                self._rooms.popitem(last=False)
        else:
            self._rooms.move_to_end(room)
        kept.append(message)

    async def recent(self, room: str) -> list[dict[str, Any]]:
        return list(self._rooms.get(room, ()))


class RedisHistory:
    """The last `size` messages of each room in a Redis list (newest first: LPUSH, then
    LTRIM to `size`), shared by every worker; a quiet room's list expires."""

    def __init__(self, url: str, size: int, prefix: str = "chat:history:") -> None:
        self.url = url
        self.size = size
        self.prefix = prefix
        self._client: Any = None

    async def open(self) -> None:
        from redis.asyncio import Redis

        self._client = Redis.from_url(
            self.url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5
        )

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def add(self, room: str, message: dict[str, Any]) -> None:
        from redis.exceptions import RedisError

        key = self.prefix + room
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.lpush(key, json.dumps(message))
                pipe.ltrim(key, 0, self.size - 1)
                pipe.expire(key, HISTORY_TTL)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise HistoryUnavailable(str(exc)) from exc

    async def recent(self, room: str) -> list[dict[str, Any]]:
        from redis.exceptions import RedisError

        try:
            kept = await self._client.lrange(self.prefix + room, 0, self.size - 1)
        except (RedisError, OSError) as exc:
            raise HistoryUnavailable(str(exc)) from exc
        return [json.loads(item) for item in reversed(kept)]


# -- validation: the server decides, whatever the page checked ------------------------


def nick_problem(nick: str) -> str | None:
    """What is wrong with a nickname (None: nothing)."""
    if not 0 < len(nick) <= MAX_NICK:
        return f"a nickname is 1 to {MAX_NICK} characters"
    if not all(c.isalnum() or c in "_-." for c in nick):
        return "a nickname holds letters, digits, '_', '-' and '.' only"
    return None


def room_problem(room: str) -> str | None:
    """What is wrong with a room name (None: nothing)."""
    if not 0 < len(room) <= MAX_ROOM:
        return f"a room name is 1 to {MAX_ROOM} characters"
    if not all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in room) or room[0] == "-":
        return "a room name holds a-z, 0-9 and '-' (not first) only"
    return None


def message_text(raw: str | bytes) -> str:
    """The text of a client's message; `ValueError` saying what is wrong with it."""
    if not isinstance(raw, str):
        raise ValueError("send JSON text, not binary messages")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ValueError('not JSON: send {"type": "message", "text": "..."}') from None
    if not isinstance(data, dict) or data.get("type") != "message":
        raise ValueError('unknown message: send {"type": "message", "text": "..."}')
    text = data.get("text")
    if not isinstance(text, str):
        raise ValueError("a message's text is a string")
    text = text.strip()
    if not text:
        raise ValueError("a message cannot be empty")
    if len(text) > MAX_TEXT:
        raise ValueError(f"message too long (limit {MAX_TEXT} characters)")
    if any((c < " " and c not in "\n\t") or "\x7f" <= c <= "\x9f" for c in text):
        raise ValueError("a message cannot hold control characters")
    return text


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# -- the app ---------------------------------------------------------------------------


def make_app(url: str | None = None, *, history: int = HISTORY) -> Bare:
    """The chat on the broadcast at `url` (default: `BARE_BROADCAST_URL`, or memory://)."""
    url = url or os.environ.get("BARE_BROADCAST_URL") or "memory://"
    broadcast = Broadcast(url)
    rooms = Rooms(broadcast, max_rooms=1)  # one room per connection: the one in its URL
    store: MemoryHistory | RedisHistory
    if url.startswith(("redis://", "rediss://")):
        store = RedisHistory(url, history)
    else:
        store = MemoryHistory(history)

    @contextlib.asynccontextmanager
    async def lifespan(app: Bare) -> AsyncIterator[None]:
        async with broadcast:
            await store.open()
            try:
                yield
            finally:
                await store.close()

    app = Bare(lifespan=lifespan, on_startup=[close_on_signals], on_shutdown=[restore_signals])
    app.state.broadcast = broadcast
    app.state.rooms = rooms
    app.state.history = store
    app.mount(
        "/static", StaticFiles(directory=HERE / "static", cache_control="no-cache"), name="static"
    )
    templates = Jinja2Templates(directory=HERE / "templates", trim_blocks=True, lstrip_blocks=True)

    @app.get("/")
    async def index(request: Request) -> TemplateResponse:
        limits = {"max_text": MAX_TEXT, "max_nick": MAX_NICK, "max_room": MAX_ROOM}
        return templates.TemplateResponse(
            request, "chat.html", limits, headers={"content-security-policy": CSP}
        )

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon(request: Request) -> Response:
        return Response(status=204)  # no icon, and no 404 in the browser's console

    async def say(room: Room, event: dict[str, Any]) -> None:
        """Send `event` to the room; a notice lost to a Redis outage is logged only."""
        try:
            await room.send_json(event)
        except BroadcastUnavailable as exc:
            logger.warning("a %s notice was not delivered: %s", event["type"], exc)

    @app.websocket(
        "/ws/{room}",
        max_message_size=MAX_FRAME,
        message_rate=RATE,
        message_burst=BURST,
        idle_timeout=IDLE,
    )
    async def chat_socket(ws: WebSocket) -> None:
        # Accepted first, so that a browser is told why it is refused (a refused
        # handshake reaches its script as 1006, with no reason).
        await ws.accept()
        name: str = ws.path_params["room"]
        try:
            nick = ws.query("nick")
        except HTTPException as exc:  # over the query's limits
            await ws.close(1008, str(exc.detail))
            return
        problem = room_problem(name) or nick_problem(nick)
        if problem is not None:
            await ws.close(1008, problem)
            return
        try:
            past = await store.recent(name)
        except HistoryUnavailable:
            past = []
            await ws.send_json({"type": "error", "error": "the history is unavailable"})
        await ws.send_json({"type": "welcome", "nick": nick, "room": name, "history": past})
        async with rooms.join(name, ws) as room:
            await say(room, {"type": "join", "nick": nick, "room": name, "time": now()})
            try:
                async for raw in ws:
                    try:
                        text = message_text(raw)
                    except ValueError as exc:
                        await ws.send_json({"type": "error", "error": str(exc)})
                        continue
                    event = {"type": "message", "nick": nick, "room": name}
                    event |= {"text": text, "time": now()}
                    try:
                        await store.add(name, event)
                        await room.send_json(event)
                    except (HistoryUnavailable, BroadcastUnavailable):
                        await ws.send_json(
                            {"type": "error", "error": "not delivered: try again later"}
                        )
            finally:
                with contextlib.suppress(Exception):
                    await say(room, {"type": "leave", "nick": nick, "room": name, "time": now()})

    return app


app = make_app()

if __name__ == "__main__":
    app.run()
