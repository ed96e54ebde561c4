"""The chat example on real servers: two uvicorn processes on two loopback ports (as two
workers or two hosts would be) sharing a real Redis, clients of the `websockets` library
spread over both."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from redis_server import RedisServer
from servers import Server, free_port, uvicorn_command

# A net against a hang only: every wait below ends on a message or a close.
WAIT = 15.0


@pytest.fixture
def servers(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Server]]:
    monkeypatch.setenv("BARE_BROADCAST_URL", redis_server.url)
    started: list[Server] = []
    try:
        for _ in range(2):
            port = free_port()
            server = Server(
                uvicorn_command("examples.chat:app", port, "--no-access-log"),
                port,
                (),
            )
            started.append(server)
            server.wait_until_listening()
        yield started
    finally:
        for server in started:
            server.stop()  # SIGTERM by its pid, then wait for it


async def enter(address: str, room: str, nick: str) -> ClientConnection:
    """Connect, and return once the server has subscribed this client to its room (its
    own join notice came back through Redis)."""
    ws = await websockets.connect(f"ws://{address}/ws/{room}?nick={nick}")
    first = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
    assert first["type"] == "welcome" and first["room"] == room
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if event["type"] == "join" and event["nick"] == nick:
            return ws


async def messages(ws: ClientConnection, count: int) -> list[tuple[str, str, str]]:
    """The next `count` chat messages this client receives: (room, nick, text)."""
    got: list[tuple[str, str, str]] = []
    while len(got) < count:
        event: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if event["type"] == "message":
            got.append((event["room"], event["nick"], event["text"]))
    return got


def test_every_client_gets_its_rooms_messages_in_order(servers: list[Server]) -> None:
    one, two = (server.address for server in servers)
    per_client = 8  # within the route's burst: no client is slowed down

    async def scenario() -> None:
        layout = {
            "north": [(one, "ann"), (two, "bob"), (one, "cid"), (two, "dan")],
            "south": [(two, "eve"), (one, "fay")],
        }
        clients = {
            nick: await enter(address, room, nick)
            for room, members in layout.items()
            for address, nick in members
        }
        try:
            for number in range(per_client):  # everyone talks at once, in both rooms
                await asyncio.gather(
                    *(
                        ws.send(json.dumps({"type": "message", "text": f"{nick} {number}"}))
                        for nick, ws in clients.items()
                    )
                )
            for room, members in layout.items():
                expected = len(members) * per_client
                seen = await asyncio.gather(
                    *(messages(clients[nick], expected) for _, nick in members)
                )
                first = seen[0]
                for got in seen:
                    assert got == first  # every member: the same messages, in the same order
                assert {r for r, _, _ in first} == {room}  # nothing of the other room
                for _, nick in members:  # each sender's messages, all, in the order sent
                    said = [text for _, who, text in first if who == nick]
                    assert said == [f"{nick} {number}" for number in range(per_client)]
            # Stopping a server closes its clients with 1001 at once (close_on_signals).
            servers[0].stop()
            # It stopped by itself (uvicorn ends with the signal it got), not killed.
            assert servers[0].process.returncode in (0, -signal.SIGTERM)
            assert "Application shutdown complete" in servers[0].output()
            for members in layout.values():
                for address, nick in members:
                    if address == one:
                        with pytest.raises(websockets.ConnectionClosed) as closed:
                            while True:
                                await asyncio.wait_for(clients[nick].recv(), WAIT)
                        assert closed.value.rcvd is not None
                        assert closed.value.rcvd.code == 1001
        finally:
            for ws in clients.values():
                await ws.close()

    asyncio.run(scenario())
