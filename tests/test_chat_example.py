"""The chat example (examples/chat.py) in process, on memory:// and on a real Redis."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from examples import chat

from bare.testing import TestClient
from redis_server import RedisServer

EXAMPLES = Path(chat.__file__).resolve().parent


@pytest.fixture(params=["memory", "redis"])
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


@pytest.fixture
def client(url: str) -> Iterator[TestClient]:
    with TestClient(chat.make_app(url, history=3)) as client:
        yield client


def fresh_room() -> str:
    """A room no other test uses (the Redis server is shared by the module)."""
    return "r-" + uuid.uuid4().hex[:12]


def welcome(ws: Any) -> dict[str, Any]:
    """Read the welcome and the client's own join notice; return the welcome."""
    first = ws.receive_json()
    assert first["type"] == "welcome"
    notice = ws.receive_json()
    assert notice["type"] == "join" and notice["nick"] == first["nick"]
    return dict(first)


def say(ws: Any, text: str) -> None:
    ws.send_text(json.dumps({"type": "message", "text": text}))


def test_notices_and_messages_reach_the_room_only(client: TestClient) -> None:
    lobby, garden = fresh_room(), fresh_room()
    with client.websocket_connect(f"/ws/{lobby}?nick=ann") as ann:
        assert welcome(ann) == {"type": "welcome", "nick": "ann", "room": lobby, "history": []}
        with client.websocket_connect(f"/ws/{lobby}?nick=bob") as bob:
            welcome(bob)
            joined = ann.receive_json()
            assert (joined["type"], joined["nick"], joined["room"]) == ("join", "bob", lobby)
            with client.websocket_connect(f"/ws/{garden}?nick=eve") as eve:
                welcome(eve)
                say(ann, "hi bob")
                for ws in (ann, bob):  # the sender too
                    got = ws.receive_json()
                    assert (got["type"], got["nick"], got["text"]) == ("message", "ann", "hi bob")
                    assert got["room"] == lobby and got["time"].endswith("+00:00")
                say(eve, "alone")
                assert eve.receive_json()["text"] == "alone"  # nothing from the lobby came first
            say(bob, "second")
            assert ann.receive_json()["text"] == "second"
        left = ann.receive_json()
        assert (left["type"], left["nick"]) == ("leave", "bob")


def test_history_on_join_keeps_the_last_messages(client: TestClient, url: str) -> None:
    room = fresh_room()
    with client.websocket_connect(f"/ws/{room}?nick=ann") as ann:
        welcome(ann)
        for number in range(5):
            say(ann, f"m{number}")
            assert ann.receive_json()["text"] == f"m{number}"
    with client.websocket_connect(f"/ws/{room}?nick=bob") as bob:
        history = welcome(bob)["history"]
        assert [m["text"] for m in history] == ["m2", "m3", "m4"]  # history=3, oldest first
        assert {m["nick"] for m in history} == {"ann"}
    if url.startswith("redis://"):  # kept in Redis, as a list trimmed to 3, newest first
        with redis.Redis.from_url(url, decode_responses=True) as direct:
            kept = direct.lrange(f"chat:history:{room}", 0, -1)
            assert [json.loads(item)["text"] for item in kept] == ["m4", "m3", "m2"]
            assert 0 < direct.ttl(f"chat:history:{room}") <= chat.HISTORY_TTL


def test_history_in_redis_is_shared_by_apps(redis_server: RedisServer) -> None:
    """Two apps (as two workers) on one Redis: one's history is the other's."""
    room = fresh_room()
    one = TestClient(chat.make_app(redis_server.url))
    with one, one.websocket_connect(f"/ws/{room}?nick=ann") as ann:
        welcome(ann)
        say(ann, "kept")
        assert ann.receive_json()["text"] == "kept"
    two = TestClient(chat.make_app(redis_server.url))
    with two, two.websocket_connect(f"/ws/{room}?nick=bob") as bob:
        assert [m["text"] for m in welcome(bob)["history"]] == ["kept"]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/ws/lobby?nick=", "a nickname is 1 to 24 characters"),
        ("/ws/lobby", "a nickname is 1 to 24 characters"),
        ("/ws/lobby?nick=" + "a" * 25, "a nickname is 1 to 24 characters"),
        ("/ws/lobby?nick=a%20b", "a nickname holds letters, digits, '_', '-' and '.' only"),
        ("/ws/lobby?nick=%3Cb%3E", "a nickname holds letters, digits, '_', '-' and '.' only"),
        ("/ws/lobby?nick=ann%E2%80%AE", "a nickname holds letters, digits, '_', '-' and '.' only"),
        ("/ws/lobby?nick=a%00", "a nickname holds letters, digits, '_', '-' and '.' only"),
        ("/ws/Lobby?nick=ann", "a room name holds a-z, 0-9 and '-' (not first) only"),
        ("/ws/-x?nick=ann", "a room name holds a-z, 0-9 and '-' (not first) only"),
        ("/ws/caf%C3%A9?nick=ann", "a room name holds a-z, 0-9 and '-' (not first) only"),
        ("/ws/" + "a" * 33 + "?nick=ann", "a room name is 1 to 32 characters"),
    ],
    ids=[
        "nickempty",
        "nickmissing",
        "nicklong",
        "nickspace",
        "nickhtml",
        "nickbidi",
        "nicknul",
        "roomupper",
        "roomdash",
        "roomaccent",
        "roomlong",
    ],
)
def test_names_are_checked_by_the_server(client: TestClient, path: str, reason: str) -> None:
    with client.websocket_connect(path) as ws:
        assert ws.receive() == {"type": "websocket.close", "code": 1008, "reason": reason}


def test_a_query_over_its_limits_closes_with_1008(client: TestClient) -> None:
    query = "&".join(f"p{number}=1" for number in range(1001))
    with client.websocket_connect(f"/ws/lobby?{query}&nick=ann") as ws:
        assert ws.receive() == {
            "type": "websocket.close",
            "code": 1008,
            "reason": "Too many query parameters (limit 1000)",
        }


def test_unicode_nicknames_are_letters_too(client: TestClient) -> None:
    with client.websocket_connect(f"/ws/{fresh_room()}?nick=Zo%C3%AB_2") as ws:
        assert welcome(ws)["nick"] == "Zoë_2"


SEND = 'send {"type": "message", "text": "..."}'


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("not json", "not JSON: " + SEND),
        ("[" * 2000, "not JSON: " + SEND),
        ("[]", "unknown message: " + SEND),
        ('{"type": "shout", "text": "x"}', "unknown message: " + SEND),
        ('{"type": "message", "text": 3}', "a message's text is a string"),
        ('{"type": "message"}', "a message's text is a string"),
        ('{"type": "message", "text": "  \\n "}', "a message cannot be empty"),
        (json.dumps({"type": "message", "text": "x" * 501}), "message too long (limit 500 chara"),
        ('{"type": "message", "text": "a\\u0007b"}', "a message cannot hold control characters"),
        ('{"type": "message", "text": "a\\u0085b"}', "a message cannot hold control characters"),
    ],
    ids=[
        "garbage",
        "deep",
        "array",
        "othertype",
        "notstring",
        "notext",
        "blank",
        "toolong",
        "bell",
        "nel",
    ],
)  # fmt: skip
def test_bad_messages_get_an_error_and_the_connection_stays(
    client: TestClient, raw: str, error: str
) -> None:
    room = fresh_room()
    with client.websocket_connect(f"/ws/{room}?nick=ann") as ws:
        welcome(ws)
        ws.send_text(raw)
        got = ws.receive_json()
        assert got["type"] == "error" and got["error"].startswith(error)
        say(ws, "still here")
        assert ws.receive_json()["text"] == "still here"
    with client.websocket_connect(f"/ws/{room}?nick=bob") as ws:
        assert [m["text"] for m in welcome(ws)["history"]] == ["still here"]


def test_binary_messages_get_an_error(client: TestClient) -> None:
    with client.websocket_connect(f"/ws/{fresh_room()}?nick=ann") as ws:
        welcome(ws)
        ws.send_bytes(b'{"type": "message", "text": "x"}')
        assert ws.receive_json() == {
            "type": "error",
            "error": "send JSON text, not binary messages",
        }


def test_a_message_of_the_longest_length_passes(client: TestClient) -> None:
    with client.websocket_connect(f"/ws/{fresh_room()}?nick=ann") as ws:
        welcome(ws)
        text = "\U0001f600" * chat.MAX_TEXT  # 500 characters, escaped by json.dumps
        ws.send_text(json.dumps({"type": "message", "text": text}))
        assert ws.receive_json()["text"] == text


def test_a_frame_over_the_limit_closes_with_1009(client: TestClient) -> None:
    with client.websocket_connect(f"/ws/{fresh_room()}?nick=ann") as ws:
        welcome(ws)
        ws.send_text("x" * (chat.MAX_FRAME + 1))
        assert ws.receive() == {
            "type": "websocket.close",
            "code": 1009,
            "reason": f"message too big (limit {chat.MAX_FRAME} bytes)",
        }


def test_a_flood_closes_with_1008(client: TestClient) -> None:
    with client.websocket_connect(f"/ws/{fresh_room()}?nick=ann") as ws:
        welcome(ws)
        for _ in range(chat.BURST + 1):
            ws.send_text("x")
        errors = [ws.receive_json() for _ in range(chat.BURST)]
        assert {e["type"] for e in errors} == {"error"}
        assert ws.receive()["code"] == 1008


def test_the_page_works_under_its_csp() -> None:
    with TestClient(chat.app) as client:
        page = client.get("/")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "connect-src 'self'" in csp
        assert "unsafe-inline" not in csp
        html = page.text
        assert '<script src="http://testserver/static/chat.js" defer></script>' in html
        assert html.count("<script") == 1  # no inline script
        assert 'data-socket="http://testserver/ws/ROOM"' in html
        script = client.get("/static/chat.js")
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]
        assert client.get("/static/chat.css").status_code == 200
    source = (EXAMPLES / "static" / "chat.js").read_text()
    assert "innerHTML" not in source and "textContent" in source
    assert "//" not in source.replace("// ", "")  # no CDN: no URL but the page's own


def test_memory_history_keeps_a_bounded_number_of_rooms() -> None:
    async def scenario() -> None:
        history = chat.MemoryHistory(2, max_rooms=3)
        for room in "abcd":
            await history.add(room, {"text": room})
        assert await history.recent("a") == []  # the oldest room went
        for text in ("x", "y", "z"):
            await history.add("d", {"text": text})
        assert await history.recent("d") == [{"text": "y"}, {"text": "z"}]

    asyncio.run(scenario())


def test_the_broadcast_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BARE_BROADCAST_URL", "redis://127.0.0.1:1/0")
    app = chat.make_app()
    assert app.state.broadcast.backend == "redis"
    assert isinstance(app.state.history, chat.RedisHistory)
    monkeypatch.delenv("BARE_BROADCAST_URL")
    assert chat.make_app().state.broadcast.backend == "memory"


def test_a_redis_outage_is_told_to_the_client() -> None:
    """Redis gone (SIGKILL): the client stays connected and is told what failed."""
    server = RedisServer()  # its own: killing it must not touch the module's
    server.start()
    try:
        room = fresh_room()
        client = TestClient(chat.make_app(server.url))
        with client, client.websocket_connect(f"/ws/{room}?nick=ann") as ann:
            welcome(ann)
            server.kill()
            say(ann, "lost")
            assert ann.receive_json() == {
                "type": "error",
                "error": "not delivered: try again later",
            }
            with client.websocket_connect(f"/ws/{room}?nick=bob") as bob:
                assert bob.receive_json() == {
                    "type": "error",
                    "error": "the history is unavailable",
                }
                assert bob.receive_json() == {
                    "type": "welcome",
                    "nick": "bob",
                    "room": room,
                    "history": [],
                }
                say(bob, "also lost")
                assert bob.receive_json()["error"] == "not delivered: try again later"
    finally:
        server.close()
