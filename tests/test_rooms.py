"""bare.broadcast.Rooms: WebSocket rooms over both backends, in process and on real
uvicorn servers (one on memory://, two processes sharing a real Redis).

Nothing sleeps to decide an outcome: a test waits for the messages it expects (with
`NET` as a net) and proves that nothing else arrived by sending a marker last (order
per member is kept, so the marker comes next or something slipped in). Conditions no
event reports (a member count on a server) are polled, bounded by the same net.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
import redis.asyncio
import websockets

from bare import Bare, Request, WebSocket
from bare.broadcast import Broadcast, BroadcastUnavailable, Room, Rooms
from bare.testing import AsyncTestClient, AsyncWebSocketSession, TestClient
from bare.websockets import WebSocketDisconnect
from redis_server import RedisServer
from servers import free_port, running, uvicorn_command

NET = 10.0
MARK = "-- marker --"


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async def guarded() -> None:
        await asyncio.wait_for(scenario(), 4 * NET)

    asyncio.run(guarded())


async def until(condition: Callable[[], bool]) -> None:
    """Wait for a condition no event reports (bounded by `run`'s net)."""
    while not condition():
        await asyncio.sleep(0.005)


@pytest.fixture(params=["memory", "redis"])
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


def chat_app(url: str, **options: Any) -> tuple[Bare, Broadcast, Rooms]:
    """The common handler: join the room of the path, say so, send what comes."""
    broadcast = Broadcast(url, **options)
    rooms = Rooms(broadcast)
    app = Bare(lifespan=broadcast.lifespan, openapi_url=None, docs_url=None)

    @app.websocket("/chat/{room}")
    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        async with rooms.join(websocket.path_params["room"], websocket) as room:
            await websocket.send_json({"joined": room.name})
            async for message in websocket:
                await room.send(message)

    return app, broadcast, rooms


async def joined(client: AsyncTestClient, room: str) -> AsyncWebSocketSession:
    session = client.websocket_connect(f"/chat/{room}", timeout=NET)
    await session.connect()
    assert await session.receive_json() == {"joined": room}
    return session


# -- in process, both backends --------------------------------------------------------


def test_every_member_gets_every_message_of_its_room_in_order(url: str) -> None:
    app, _, rooms = chat_app(url)

    async def scenario() -> None:
        async with AsyncTestClient(app) as client:
            lobby = [await joined(client, "lobby") for _ in range(3)]
            garden = [await joined(client, "garden") for _ in range(2)]
            assert len(rooms.members("lobby")) == 3 and len(rooms.members("garden")) == 2
            sent: dict[str, list[str]] = {"lobby": [], "garden": []}
            for n in range(5):  # interleaved senders, in both rooms
                for i, session in enumerate(lobby):
                    text = f"lobby {i} {n}"
                    sent["lobby"].append(text)
                    await session.send_text(text)
                text = f"garden {n % 2} {n}"
                sent["garden"].append(text)
                await garden[n % 2].send_text(text)
            for name, members in (("lobby", lobby), ("garden", garden)):
                seen = []
                for member in members:  # (no nested await comprehension: Python 3.10)
                    seen.append([await member.receive_text() for _ in sent[name]])
                assert all(got == seen[0] for got in seen)  # one order for the whole room
                assert sorted(seen[0]) == sorted(sent[name])  # all of it, none of the other
                for sender in {text.rsplit(" ", 1)[0] for text in sent[name]}:
                    mine = [t for t in seen[0] if t.rsplit(" ", 1)[0] == sender]
                    assert mine == [t for t in sent[name] if t.rsplit(" ", 1)[0] == sender]
            for members in (lobby, garden):
                await members[0].send_text(MARK)
                for member in members:
                    assert await member.receive_text() == MARK
            for session in lobby + garden:
                await session.close()
            assert rooms.names() == []

    run(scenario)


def test_text_bytes_and_json_arrive_as_sent(url: str) -> None:
    broadcast = Broadcast(url)
    rooms = Rooms(broadcast)
    app = Bare(lifespan=broadcast.lifespan)

    @app.websocket("/r")
    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        async with rooms.join("r", websocket) as room:
            await websocket.send_text("in")
            async for _ in websocket:
                await room.send("text")
                await room.send(b"\x00\xffbytes")
                await room.send(bytearray(b"array"))
                await room.send({"a": [1, "é"]})
                await room.send_text("plain")
                await room.send_bytes(memoryview(b"view"))
                await room.send_json("quoted")
                await room.send_json([1, 2])
                await rooms.send("r", ("tuple", 1))
                await rooms.send_text("r", "from rooms")
                await rooms.send_bytes("r", b"rb")
                await rooms.send_json("r", None)

    async def scenario() -> None:
        async with AsyncTestClient(app) as client, client.websocket_connect("/r") as ws:
            assert await ws.receive_text() == "in"
            await ws.send_text("go")
            got = [await ws.receive() for _ in range(12)]
            kinds = [("text", m["text"]) if "text" in m else ("bytes", m["bytes"]) for m in got]
            assert kinds == [
                ("text", "text"),
                ("bytes", b"\x00\xffbytes"),
                ("bytes", b"array"),
                ("text", '{"a":[1,"é"]}'),
                ("text", "plain"),
                ("bytes", b"view"),
                ("text", '"quoted"'),
                ("text", "[1,2]"),
                ("text", '["tuple",1]'),
                ("text", "from rooms"),
                ("bytes", b"rb"),
                ("text", "null"),
            ]

    run(scenario)


def test_leaving_by_disconnect_by_error_and_by_returning(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    broadcast = Broadcast(url)
    rooms = Rooms(broadcast)
    app = Bare(lifespan=broadcast.lifespan)

    @app.websocket("/join/{how}")
    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        how = websocket.path_params["how"]
        room = await rooms.join("r", websocket)  # no block: left when the handler ends
        assert room.joined and room.members == rooms.members("r")
        await websocket.send_text(str(len(room.members)))
        message = await websocket.receive_text()
        if how == "raise":
            raise RuntimeError("boom")
        if how == "return":
            return
        assert message is None  # the client left

    async def scenario() -> None:
        async with AsyncTestClient(app) as client:
            keeper = client.websocket_connect("/join/stay")
            await keeper.connect()
            assert await keeper.receive_text() == "1"
            for how, code in (("stay", 1000), ("raise", 1011), ("return", 1000)):
                ws = client.websocket_connect(f"/join/{how}")
                await ws.connect()
                assert await ws.receive_text() == "2"
                assert len(rooms.members("r")) == 2
                if how == "stay":
                    await ws.close()  # returns once the handler has ended
                else:
                    await ws.send_text("now")
                    assert (await ws.receive())["code"] == code
                    await ws.close()
                assert len(rooms.members("r")) == 1, how
            await keeper.close()
            assert rooms.members("r") == frozenset() and rooms.names() == []

    with caplog.at_level(logging.ERROR, logger="bare.error"):
        run(scenario)
    assert [r.getMessage() for r in caplog.records] == ["unhandled error in websocket /join/raise"]


def test_joining_and_leaving_many_rooms_on_one_connection(url: str) -> None:
    broadcast = Broadcast(url)
    rooms = Rooms(broadcast, max_rooms=3)
    app = Bare(lifespan=broadcast.lifespan)
    connections: list[WebSocket] = []

    @app.websocket("/commands")
    async def commands(websocket: WebSocket) -> None:
        """Commands: "join NAME", "leave NAME", "say NAME TEXT", "count"."""
        connections.append(websocket)
        await websocket.accept()
        async for command in websocket:
            verb, _, rest = str(command).partition(" ")
            if verb == "join":
                await rooms.join(rest, websocket)
            elif verb == "leave":
                await rooms.leave(rest, websocket)
            elif verb == "say":
                name, _, text = rest.partition(" ")
                await rooms.send(name, text)
                continue
            await websocket.send_text(f"{verb} ok {sorted(rooms.names())}")

    async def scenario() -> None:
        async with AsyncTestClient(app) as client, client.websocket_connect("/commands") as ws:
            for n in range(30):  # the cleanups of rooms left do not pile up
                await ws.send_text(f"join r{n % 2}")
                assert await ws.receive_text() == f"join ok ['r{n % 2}']"
                await ws.send_text(f"leave r{n % 2}")
                assert await ws.receive_text() == "leave ok []"
            assert len(connections[0]._cleanups or []) <= 1
            for name in ("a", "b"):
                await ws.send_text(f"join {name}")
                await ws.receive_text()
            await ws.send_text("say a to a")
            await ws.send_text("say b to b")
            await ws.send_text("say c nobody")
            assert [await ws.receive_text() for _ in range(2)] == ["to a", "to b"]
            await ws.send_text("leave nothing")  # not a member: nothing happens
            assert await ws.receive_text() == "leave ok ['a', 'b']"
            await ws.send_text("join c")
            assert await ws.receive_text() == "join ok ['a', 'b', 'c']"
            await ws.send_text("join d")  # one room too many
            closed = await ws.receive()
            assert (closed["code"], closed["reason"]) == (1008, "too many rooms (limit 3)")
        assert rooms.names() == []

    run(scenario)


def test_a_slow_member_is_closed_with_1013_and_the_others_go_on(url: str) -> None:
    """A member whose sends are stuck (a client that stopped reading) while the room
    goes on: its queue overflows, it is cancelled out of the stuck send and closed with
    1013; the others receive every message, in order."""
    broadcast = Broadcast(url, max_queue=4)
    rooms = Rooms(broadcast)
    app = Bare()

    @app.websocket("/room")
    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        async with rooms.join("r", websocket):
            await websocket.send_text("joined")
            async for _ in websocket:
                pass

    async def scenario() -> None:
        running = asyncio.all_tasks()
        async with broadcast:
            slow, fast = Connection(app, "/room"), [Connection(app, "/room") for _ in range(2)]
            for connection in (slow, *fast):
                await connection.open()
                assert await connection.next() == "joined"
            slow.stuck = asyncio.Event()  # from now on its sends wait
            sent = 0
            while len(rooms.members("r")) == 3:
                assert sent < 100, "the slow member never overflowed"
                await rooms.send("r", f"m{sent}")
                for connection in fast:
                    assert await connection.next() == f"m{sent}"
                sent += 1
            assert sent == 1 + 4 + 1  # one stuck in its send, 4 queued, one too many
            assert slow.sent == ["joined"]  # the stuck send of m0 was abandoned
            slow.stuck.set()  # the client reads again: the close goes out
            assert await slow.closed() == (1013, "too slow: fell 4 messages behind the room")
            await rooms.send("r", MARK)
            for connection in fast:
                assert await connection.next() == MARK
            assert len(rooms.members("r")) == 2
            for connection in fast:
                await connection.leave()
            await slow.done()
            assert rooms.names() == []
        # Nothing left running: every forwarding task ended with its membership.
        await asyncio.sleep(0)
        assert asyncio.all_tasks() == running

    run(scenario)


def test_drop_oldest_keeps_a_slow_member_with_a_gap(url: str) -> None:
    broadcast = Broadcast(url, max_queue=2, on_full="drop_oldest")
    rooms = Rooms(broadcast)
    app = Bare()
    room_of: list[Room] = []

    @app.websocket("/room")
    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        async with rooms.join("r", websocket) as room:
            room_of.append(room)
            await websocket.send_text("joined")
            async for _ in websocket:
                pass

    async def scenario() -> None:
        async with broadcast:
            slow = Connection(app, "/room")
            await slow.open()
            assert await slow.next() == "joined"
            slow.stuck = asyncio.Event()
            await rooms.send("r", "m0")
            await asyncio.wait_for(slow.blocked.wait(), NET)  # m0 is in its send
            for n in range(1, 6):
                await rooms.send("r", f"m{n}")
            await until(lambda: room_of[0].dropped == 3)
            slow.stuck.set()
            # m0 was in its send when the rest came: of m1..m5 the two newest wait.
            assert [await slow.next() for _ in range(3)] == ["m0", "m4", "m5"]
            assert room_of[0].dropped == 3 and room_of[0].joined
            await slow.leave()

    run(scenario)


def test_lifespan_shutdown_closes_the_members_with_1001(url: str) -> None:
    app, _, rooms = chat_app(url)

    async def scenario() -> None:
        client = AsyncTestClient(app)
        async with client:
            ws = await joined(client, "lobby")
        # The client's lifespan ended: the broadcast disconnected, the member was closed.
        assert await ws.receive() == {
            "type": "websocket.close",
            "code": 1001,
            "reason": "server shutting down",
        }
        await ws.close()
        assert rooms.names() == []

    run(scenario)


def test_misuse_and_hostile_names(url: str, caplog: pytest.LogCaptureFixture) -> None:
    broadcast = Broadcast(url, max_channel_length=20)
    rooms = Rooms(broadcast)  # names of at most 20 - len("room:") = 15 characters
    assert rooms.max_name_length == 15
    app = Bare(lifespan=broadcast.lifespan)
    outcomes: list[str] = []

    @app.websocket("/early")
    async def early(websocket: WebSocket) -> None:
        try:
            await rooms.join("r", websocket)
        except RuntimeError as exc:
            outcomes.append(str(exc))
        await websocket.accept()
        async with rooms.join("r", websocket):
            try:
                await rooms.join("r", websocket)
            except RuntimeError as exc:
                outcomes.append(str(exc))
            try:
                await rooms.join(b"r", websocket)  # type: ignore[arg-type]
            except TypeError as exc:
                outcomes.append(str(exc))
            await websocket.close()
        try:
            await rooms.join("r", websocket)
        except WebSocketDisconnect as exc:
            outcomes.append(f"disconnect {exc.code}")

    @app.websocket("/named")
    async def named(websocket: WebSocket) -> None:
        await websocket.accept()
        await rooms.join(websocket.query_params["name"][0], websocket)
        await websocket.send_text("in")

    with caplog.at_level(logging.ERROR), TestClient(app) as client:
        with client.websocket_connect("/early") as ws:
            assert ws.receive()["code"] == 1000
        assert outcomes == [
            "accept() the connection before joining a room",
            "this WebSocket is in room 'r' already",
            "a room name is a str, not bytes",
            "disconnect 1000",
        ]
        for name, why in [
            ("", "a room name cannot be empty"),
            ("x" * 16, "a room name is at most 15 characters"),
            ("a\0b", "a room name cannot hold NUL"),
        ]:
            with client.websocket_connect("/named", params={"name": name}) as ws:
                assert ws.receive() == {
                    "type": "websocket.close",
                    "code": 1008,
                    "reason": f"invalid room name: {why}",
                }
        for name in ("x" * 15, "room:*", "é ☃ 𝄞", "..", "\r\n"):  # names like any other
            with client.websocket_connect("/named", params={"name": name}) as ws:
                assert ws.receive_text() == "in"
        assert rooms.names() == []
    assert caplog.records == []  # client mistakes close quietly
    with pytest.raises(ValueError, match="lone surrogate"):
        rooms.channel("\udc80")
    with pytest.raises(ValueError, match="at most 15"):
        run(lambda: rooms.send("y" * 16, "x"))
    assert rooms.channel("lobby") == "room:lobby"


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"prefix": b"room:"}, TypeError, "prefix is a str"),
        ({"prefix": "a\0"}, ValueError, "no NUL"),
        ({"prefix": "p" * 256}, ValueError, "shorter than the broadcast's max_channel_length"),
        ({"max_rooms": 0}, ValueError, "max_rooms must be positive"),
        ({"max_rooms": 1.5}, TypeError, "max_rooms is an int"),
        ({"close_timeout": -1}, ValueError, "close_timeout must be positive"),
        ({"close_timeout": float("inf")}, ValueError, "close_timeout must be positive"),
    ],
    ids=[
        "prefix_bytes",
        "prefix_nul",
        "prefix_long",
        "rooms_zero",
        "rooms_float",
        "timeout_neg",
        "timeout_inf",
    ],
)
def test_bad_options_are_refused_at_construction(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        Rooms(Broadcast(), **options)


def test_rooms_take_a_broadcast() -> None:
    with pytest.raises(TypeError, match=r"takes a bare\.broadcast\.Broadcast"):
        Rooms("memory://")  # type: ignore[arg-type]


def test_messages_that_cannot_be_sent_are_refused(url: str) -> None:
    broadcast = Broadcast(url, max_message_size=8)
    rooms = Rooms(broadcast)

    async def scenario() -> None:
        async with broadcast:
            with pytest.raises(TypeError, match="a str, bytes or a JSON-able value, not object"):
                await rooms.send("r", object())
            with pytest.raises(TypeError, match="send_text\\(\\) takes a str"):
                await rooms.send_text("r", b"x")  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="send_bytes\\(\\) takes bytes"):
                await rooms.send_bytes("r", "x")  # type: ignore[arg-type]
            cycle: list[Any] = []
            cycle.append(cycle)
            with pytest.raises(ValueError, match="cannot be written as JSON"):
                await rooms.send_json("r", cycle)
            with pytest.raises(ValueError, match="max_message_size"):
                await rooms.send("r", "123456789")

    run(scenario)


def test_sending_to_a_room_from_an_http_handler(url: str) -> None:
    app, _, rooms = chat_app(url)

    @app.post("/announce/{room}")
    async def announce(request: Request) -> dict[str, int]:
        await rooms.send_json(request.path_params["room"], await request.json())
        return {"here": len(rooms.members(request.path_params["room"]))}

    with TestClient(app) as client, client.websocket_connect("/chat/news") as ws:
        assert ws.receive_json() == {"joined": "news"}
        assert client.post("/announce/news", json={"title": "hi"}).json() == {"here": 1}
        assert ws.receive_json() == {"title": "hi"}


# -- Redis only -----------------------------------------------------------------------


def test_json_published_by_another_program_reaches_members_as_text(
    redis_server: RedisServer,
) -> None:
    app, _, _ = chat_app(redis_server.url)

    async def scenario() -> None:
        async with AsyncTestClient(app) as client:
            ws = await joined(client, "ext")
            other = redis.asyncio.Redis.from_url(redis_server.url)
            try:
                await other.publish("room:ext", b'j{"from": "cron", "n": [1, 2]}')
                await other.publish("room:ext", b"shello")
            finally:
                await other.aclose()
            assert await ws.receive_text() == '{"from":"cron","n":[1,2]}'
            assert await ws.receive_text() == "hello"
            await ws.close()

    run(scenario)


def test_a_room_send_raises_broadcast_unavailable_when_redis_is_gone() -> None:
    server = RedisServer()
    server.start()
    try:
        broadcast = Broadcast(server.url, timeout=2)
        rooms = Rooms(broadcast)
        app = Bare(lifespan=broadcast.lifespan)

        @app.websocket("/r")
        async def handler(websocket: WebSocket) -> None:
            await websocket.accept()
            async with rooms.join("r", websocket) as room:
                await websocket.send_text("in")
                async for message in websocket:
                    try:
                        await room.send(message)
                    except BroadcastUnavailable:  # as docs/websockets.md suggests
                        await websocket.send_json({"error": "not delivered, try again"})

        async def scenario() -> None:
            async with AsyncTestClient(app) as client, client.websocket_connect("/r") as ws:
                assert await ws.receive_text() == "in"
                await ws.send_text("one")
                assert await ws.receive_text() == "one"
                server.kill()
                await ws.send_text("two")
                assert await ws.receive_json() == {"error": "not delivered, try again"}

        run(scenario)
    finally:
        server.close()


# -- a raw connection, for members whose sends get stuck -------------------------------


class Connection:
    """One WebSocket connection driven by hand: `stuck` (an Event) makes the app's sends
    wait until it is set, as a client that stopped reading would."""

    def __init__(self, app: Any, path: str) -> None:
        self.app = app
        self.scope = {
            "type": "websocket",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [(b"host", b"testserver")],
            "subprotocols": [],
        }
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[str | bytes] = []
        self.stuck: asyncio.Event | None = None
        self.blocked = asyncio.Event()  # a send is waiting for `stuck`
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.incoming.put_nowait({"type": "websocket.connect"})
        self.task = asyncio.create_task(self.app(self.scope, self.incoming.get, self._send))
        assert (await self._next())["type"] == "websocket.accept"

    async def _send(self, message: dict[str, Any]) -> None:
        if self.stuck is not None and not self.stuck.is_set():
            self.blocked.set()
            await self.stuck.wait()
        if message["type"] == "websocket.send":
            self.sent.append(message["text"] if "text" in message else message["bytes"])
        if message["type"] == "websocket.close":  # as servers do: the app's receive ends
            self.incoming.put_nowait({"type": "websocket.disconnect", "code": message["code"]})
        self.outgoing.put_nowait(message)

    async def _next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.outgoing.get(), NET)

    async def next(self) -> str:
        message = await self._next()
        assert message["type"] == "websocket.send", message
        return str(message.get("text"))

    async def closed(self) -> tuple[int, str]:
        message = await self._next()
        assert message["type"] == "websocket.close", message
        return message["code"], message.get("reason", "")

    async def leave(self) -> None:
        self.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await self.done()

    async def done(self) -> None:
        assert self.task is not None
        await asyncio.wait_for(self.task, NET)


# -- real servers ----------------------------------------------------------------------


@contextlib.contextmanager
def rooms_server(broadcast_url: str, *options: str, max_queue: int = 64) -> Iterator[str]:
    """tests/apps/rooms_live.py on uvicorn, with its broadcast at `broadcast_url`."""
    port = free_port()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BARE_BROADCAST_URL", broadcast_url)
        patch.setenv("ROOMS_MAX_QUEUE", str(max_queue))
        servers = running(uvicorn_command("apps.rooms_live:app", port, *options), port)
        server = next(servers)
    try:
        yield server.address
    finally:
        servers.close()  # type: ignore[attr-defined]  # a generator: stops the server


@pytest.fixture(scope="module")
def memory_server() -> Iterator[str]:
    with rooms_server("memory://", "--no-access-log") as address:
        yield address


class Client:
    """A `websockets` client in a room, reading all the time into `messages`."""

    def __init__(self, address: str, room: str) -> None:
        self.address = address
        self.room = room
        self.messages: list[str] = []
        self.arrived = asyncio.Event()
        self.pid = 0

    async def __aenter__(self) -> Client:
        self.ws = await websockets.connect(f"ws://{self.address}/chat/{self.room}")
        hello = json.loads(await self.ws.recv())
        assert hello["joined"] == self.room
        self.pid = hello["pid"]
        self.reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        async for message in self.ws:
            self.messages.append(str(message))
            self.arrived.set()

    async def wait_for(self, count: int) -> list[str]:
        while len(self.messages) < count:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), NET)
        return self.messages[:count]

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()
        await self.reader


async def members(http: httpx.AsyncClient, address: str, room: str) -> int:
    return int((await http.get(f"http://{address}/members/{room}")).text)


async def exchange(clients: dict[str, list[Client]], rounds: int) -> None:
    """Every client sends `rounds` messages to its room; each room's members then have
    the same list, with every message of the room (each sender's in order) and,
    proved by a marker sent last, nothing else."""
    sent: dict[str, list[str]] = {room: [] for room in clients}
    for n in range(rounds):
        for room, members_ in clients.items():
            for i, client in enumerate(members_):
                text = f"{room}/{i}/{n}"
                sent[room].append(text)
                await client.ws.send(text)
    for room, members_ in clients.items():
        lists = [await client.wait_for(len(sent[room])) for client in members_]
        assert all(got == lists[0] for got in lists), room
        assert sorted(lists[0]) == sorted(sent[room])
        for i in range(len(members_)):
            mine = [text for text in lists[0] if text.startswith(f"{room}/{i}/")]
            assert mine == [f"{room}/{i}/{n}" for n in range(rounds)]
        await members_[0].ws.send(MARK)
        for client in members_:
            assert (await client.wait_for(len(sent[room]) + 1))[-1] == MARK


def test_real_server_clients_in_two_rooms(memory_server: str) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient(timeout=NET) as http, contextlib.AsyncExitStack() as stack:
            lobby = [
                await stack.enter_async_context(Client(memory_server, "lobby")) for _ in range(3)
            ]
            garden = [
                await stack.enter_async_context(Client(memory_server, "garden")) for _ in range(2)
            ]
            assert await members(http, memory_server, "lobby") == 3
            await exchange({"lobby": lobby, "garden": garden}, rounds=20)
            # A client that leaves leaves the room.
            await lobby[0].__aexit__()
            while await members(http, memory_server, "lobby") != 2:
                await asyncio.sleep(0.01)

    run(scenario)


def test_two_processes_share_rooms_through_redis(redis_server: RedisServer) -> None:
    """Two uvicorn processes on one Redis, as two workers or two hosts would be, with
    members of both rooms on each: every message reaches every member, in order."""

    async def scenario(first: str, second: str) -> None:
        async with contextlib.AsyncExitStack() as stack:

            async def client(address: str, room: str) -> Client:
                return await stack.enter_async_context(Client(address, room))

            lobby = [await client(first, "lobby"), await client(second, "lobby")]
            lobby.append(await client(first, "lobby"))
            garden = [await client(second, "garden"), await client(first, "garden")]
            garden.append(await client(second, "garden"))
            pids = {client.address: client.pid for client in lobby + garden}
            assert len(set(pids.values())) == 2  # the clients landed on both processes
            await exchange({"lobby": lobby, "garden": garden}, rounds=15)

    with (
        rooms_server(redis_server.url, "--no-access-log") as first,
        rooms_server(redis_server.url, "--no-access-log") as second,
    ):
        run(lambda: scenario(first, second))


class StoppedReader:
    """A WebSocket client on a plain socket with a small receive buffer, which reads
    nothing until told to: the kernel does not grow its buffer, so the server's sends
    to it soon wait, as they do for a client that stopped reading."""

    def __init__(self, address: str, path: str) -> None:
        host, port = address.rsplit(":", 1)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        self.sock.settimeout(NET)
        self.sock.connect((host, int(port)))
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode("ascii")
        )
        self.buffer = b""
        head = self._until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head

    def _read(self, count: int) -> bytes:
        while len(self.buffer) < count:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError("the server closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _until(self, end: bytes) -> bytes:
        while end not in self.buffer:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError("the server closed the connection")
            self.buffer += chunk
        data, _, self.buffer = self.buffer.partition(end)
        return data

    def frame(self) -> tuple[int, bytes]:
        """The next frame from the server (unmasked, unfragmented): opcode, payload."""
        first, second = self._read(2)
        size = second & 0x7F
        if size == 126:
            size = int.from_bytes(self._read(2), "big")
        elif size == 127:
            size = int.from_bytes(self._read(8), "big")
        return first & 0x0F, self._read(size)

    def until_closed(self) -> tuple[list[bytes], int, str]:
        """Every message up to the close frame, and the close's code and reason."""
        messages: list[bytes] = []
        while True:
            opcode, payload = self.frame()
            if opcode == 8:
                return messages, int.from_bytes(payload[:2], "big"), payload[2:].decode()
            messages.append(payload)

    def close(self) -> None:
        self.sock.close()


def test_real_server_closes_a_client_that_stops_reading_with_1013() -> None:
    size = 256 * 1024

    async def scenario(address: str) -> None:
        async with httpx.AsyncClient(timeout=NET) as http, contextlib.AsyncExitStack() as stack:
            fast = [await stack.enter_async_context(Client(address, "lobby")) for _ in range(2)]
            slow = StoppedReader(address, "/chat/lobby")
            stack.callback(slow.close)
            assert json.loads(slow.frame()[1])["joined"] == "lobby"
            # The slow client reads nothing now; the room goes on in step with the fast
            # ones until the server drops the slow one (it leaves the member count).
            sent = 0
            while await members(http, address, "lobby") == 3:
                assert sent < 200, "the slow client was never dropped"
                await http.post(f"http://{address}/send/lobby/{sent}/{size}")
                for client in fast:
                    assert (await client.wait_for(sent + 1))[-1][:6] == f"{sent:06d}"
                sent += 1
            received, code, reason = await asyncio.to_thread(slow.until_closed)
            assert (code, reason) == (1013, "too slow: fell 8 messages behind the room")
            numbers = [message[:6].decode() for message in received]
            assert numbers == [f"{n:06d}" for n in range(len(numbers))]  # a prefix, in order
            assert len(numbers) < sent
            await http.post(f"http://{address}/send/lobby/{sent}/8")
            for client in fast:  # the others go on
                assert (await client.wait_for(sent + 1))[-1] == f"{sent:06d}.."
            assert await members(http, address, "lobby") == 2

    with rooms_server("memory://", "--ws-ping-interval", "600", max_queue=8) as address:
        run(lambda: scenario(address))
