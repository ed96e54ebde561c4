"""WebSocket handlers in process: the book's API and what it grew."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from bare import Bare, PlainTextResponse, WebSocket
from bare.exceptions import WebSocketException
from bare.websockets import WebSocketDisconnect, WebSocketState

Session = Callable[..., list[dict[str, Any]]]


def text(message: str) -> dict[str, Any]:
    return {"type": "websocket.receive", "text": message}


def binary(data: bytes) -> dict[str, Any]:
    return {"type": "websocket.receive", "bytes": data}


def test_book_echo(ws_session: Session) -> None:
    app = Bare()

    @app.websocket("/ws")
    async def chat(ws: WebSocket) -> None:
        async with ws:
            await ws.send_text("Welcome!")
            while True:
                message = await ws.receive_text()
                if message is None:
                    break
                await ws.send_json({"type": "echo", "original": message, "upper": message.upper()})

    sent = ws_session(app, "/ws", [text("hi"), text("caf\u00e9")])
    assert sent[0]["type"] == "websocket.accept"
    assert sent[1] == {"type": "websocket.send", "text": "Welcome!"}
    assert sent[2]["text"] == '{"type":"echo","original":"hi","upper":"HI"}'
    assert sent[3]["text"] == '{"type":"echo","original":"caf\u00e9","upper":"CAF\u00c9"}'
    assert len(sent) == 4  # the client closed first: nothing more to send


def test_iteration_json_and_scope_data(ws_session: Session) -> None:
    app = Bare()
    seen: list[Any] = []

    @app.websocket("/rooms/{room}")
    async def room(ws: WebSocket) -> None:
        seen.append((ws.path_params, ws.query("user"), ws.header("x-team"), ws.cookies))
        await ws.accept(subprotocol="chat.v1", headers=[("x-server", "bare")])
        async for message in ws:
            seen.append(message)
        seen.append(ws.client_state)

    headers = [(b"host", b"h"), (b"x-team", b"blue"), (b"cookie", b"sid=42")]
    sent = ws_session(
        app, "/rooms/lobby", [text("a"), binary(b"\x00")], query=b"user=ann", headers=headers
    )
    assert sent[0] == {
        "type": "websocket.accept",
        "subprotocol": "chat.v1",
        "headers": [(b"x-server", b"bare")],
    }
    assert seen == [
        ({"room": "lobby"}, "ann", "blue", {"sid": "42"}),
        "a",
        b"\x00",
        WebSocketState.DISCONNECTED,
    ]


@pytest.mark.parametrize(
    "payload",
    [
        "[" * 600 + '"\\ud800"' + "]" * 600,
        "[" * 257 + "]" * 257,
        "1e999",
        '{"a": [-1E400]}',
        "NaN",
        '{"a": ',
    ],
    ids=["deep-surrogate", "too-deep", "overflow", "nested-overflow", "nan", "truncated"],
)
def test_receive_json_raises_value_error_on_bad_json(ws_session: Session, payload: str) -> None:
    app = Bare()
    errors: list[Any] = []

    @app.websocket("/")
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        try:
            await ws.receive_json()
        except ValueError as exc:
            errors.append(type(exc))
        await ws.send_text("still here")

    sent = ws_session(app, "/", [text(payload)])
    assert len(errors) == 1 and issubclass(errors[0], ValueError)
    assert sent[1] == {"type": "websocket.send", "text": "still here"}


def test_receive_json(ws_session: Session) -> None:
    app = Bare()
    got: list[Any] = []

    @app.websocket("/")
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        got.append(await ws.receive_json())
        got.append(await ws.receive_json())

    ws_session(app, "/", [text('{"a": [1, 2]}')])
    assert got == [{"a": [1, 2]}, None]


@pytest.mark.parametrize(
    ("receive", "message", "reason"),
    [
        ("receive_text", binary(b"\x01"), "expected a text message"),
        ("receive_json", binary(b"{}"), "expected a text message"),
        ("receive_bytes", text("hi"), "expected a binary message"),
    ],
)
def test_a_message_of_the_wrong_kind_closes_with_1003_quietly(
    ws_session: Session, caplog: Any, receive: str, message: dict[str, Any], reason: str
) -> None:
    app = Bare()
    seen: list[Any] = []

    @app.websocket("/")
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        try:
            await getattr(ws, receive)()
            seen.append("carried on")  # pragma: no cover - the receive must raise
        except WebSocketDisconnect as exc:
            seen.extend([exc.code, exc.reason, ws.close_code])
            raise

    sent = ws_session(app, "/", [message])
    assert sent == [
        {"type": "websocket.accept", "subprotocol": None, "headers": []},
        {"type": "websocket.close", "code": 1003, "reason": reason},
    ]
    assert seen == [1003, reason, 1003]
    assert caplog.records == []  # no traceback: it ends like a client that leaves


def test_the_book_loop_ends_quietly_on_a_binary_message(ws_session: Session, caplog: Any) -> None:
    app = Bare()

    @app.websocket("/ws")
    async def chat(ws: WebSocket) -> None:
        async with ws:
            while True:
                message = await ws.receive_text()
                if message is None:
                    break
                await ws.send_text(message.upper())

    sent = ws_session(app, "/ws", [text("a"), binary(b"\x00"), text("never read")])
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert sent[-1] == {
        "type": "websocket.close",
        "code": 1003,
        "reason": "expected a text message",
    }
    assert caplog.records == []


def test_iteration_takes_both_kinds_and_stops_at_the_disconnect(ws_session: Session) -> None:
    app = Bare()
    seen: list[Any] = []

    @app.websocket("/")
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        seen.extend([message async for message in ws])
        seen.append(await ws.receive_text())  # after the client left: None, no error

    sent = ws_session(app, "/", [text("a"), binary(b"b"), text("c")])
    assert seen == ["a", b"b", "c", None]
    assert [m["type"] for m in sent] == ["websocket.accept"]  # the client closed first


def test_handler_error_closes_with_1011_without_the_text(ws_session: Session) -> None:
    app = Bare()

    @app.websocket("/")
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        raise RuntimeError("secret detail")

    sent = ws_session(app, "/", [])
    assert sent == [
        {"type": "websocket.accept", "subprotocol": None, "headers": []},
        {"type": "websocket.close", "code": 1011, "reason": ""},
    ]


def test_websocket_exception_closes_with_its_code(ws_session: Session) -> None:
    app = Bare()

    @app.websocket("/")
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        raise WebSocketException(4001, "bad token")

    assert ws_session(app, "/", [])[-1] == {
        "type": "websocket.close",
        "code": 4001,
        "reason": "bad token",
    }


def test_reject_before_accept(ws_session: Session) -> None:
    app = Bare()

    @app.websocket("/private")
    async def private(ws: WebSocket) -> None:
        await ws.close(4403, "forbidden")

    assert ws_session(app, "/private", []) == [
        {"type": "websocket.close", "code": 4403, "reason": "forbidden"}
    ]


def test_deny_with_an_http_response(ws_session: Session) -> None:
    app = Bare()

    @app.websocket("/private")
    async def private(ws: WebSocket) -> None:
        await ws.deny(PlainTextResponse("go away", status=403))

    with_extension = ws_session(app, "/private", [], extensions={"websocket.http.response": {}})
    assert with_extension[0]["type"] == "websocket.http.response.start"
    assert with_extension[0]["status"] == 403
    assert with_extension[1] == {"type": "websocket.http.response.body", "body": b"go away"}
    without = ws_session(app, "/private", [])
    assert without == [{"type": "websocket.close", "code": 1008, "reason": ""}]


def test_unknown_websocket_path_is_refused(ws_session: Session) -> None:
    assert ws_session(Bare(), "/nope", []) == [
        {"type": "websocket.close", "code": 1008, "reason": "Not Found"}
    ]


def test_close_is_idempotent_and_client_close_code_is_kept(ws_session: Session) -> None:
    app = Bare()
    codes: list[Any] = []

    @app.websocket("/")
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        assert await ws.receive_text() is None
        codes.append(ws.close_code)
        await ws.close()  # nothing left to close: no message

    sent = ws_session(app, "/", [])
    assert codes == [1000]
    assert [m["type"] for m in sent] == ["websocket.accept"]


def test_sending_after_the_client_left_is_not_an_error(caplog: Any) -> None:
    import asyncio

    app = Bare()
    outcome: list[Any] = []

    @app.websocket("/")
    async def handler(ws: WebSocket) -> None:
        await ws.accept()
        try:
            await ws.send_text("anyone there?")
        except Exception as exc:
            outcome.append(type(exc).__name__)
            raise

    incoming = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        if message["type"] != "websocket.accept":
            raise ConnectionResetError("client gone")  # what ASGI 2.4 servers raise

    scope = {"type": "websocket", "path": "/", "headers": [], "query_string": b""}
    asyncio.run(app(scope, receive, send))  # nothing escapes
    assert outcome == ["WebSocketDisconnect"]
    assert "unhandled error" not in caplog.text


def test_websocket_exception_inside_async_with(ws_session: Session) -> None:
    app = Bare()

    @app.websocket("/")
    async def handler(ws: WebSocket) -> None:
        async with ws:
            raise WebSocketException(4001, "bad token")

    assert ws_session(app, "/", [])[-1] == {
        "type": "websocket.close",
        "code": 4001,
        "reason": "bad token",
    }


def test_returning_without_closing(ws_session: Session) -> None:
    app = Bare()

    @app.websocket("/accepts")
    async def accepts(ws: WebSocket) -> None:
        await ws.accept()

    @app.websocket("/ignores")
    async def ignores(ws: WebSocket) -> None:
        return None

    assert ws_session(app, "/accepts", [])[-1] == {
        "type": "websocket.close",
        "code": 1000,
        "reason": "",
    }
    assert ws_session(app, "/ignores", []) == [
        {"type": "websocket.close", "code": 1008, "reason": ""}
    ]


# -- what accept() sends -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"headers": [("x-a", "1\r\nset-cookie: evil=1")]}, ValueError, "'x-a'"),
        ({"headers": [("x-a", "line\nbreak")]}, ValueError, "U\\+000A"),
        ({"headers": [("x-a", "caf\u00e9 \u2603")]}, ValueError, "U\\+2603"),
        ({"headers": [("bad name", "1")]}, ValueError, "invalid header name"),
        ({"headers": [("x-a\r\n", "1")]}, ValueError, "invalid header name"),
        ({"headers": [("", "1")]}, ValueError, "invalid header name"),
        ({"headers": [("x-a", 1)]}, TypeError, "must be str"),
        ({"subprotocol": "chat v1"}, ValueError, "must be a token"),
        ({"subprotocol": "chat\r\nx-evil: 1"}, ValueError, "must be a token"),
        ({"subprotocol": ""}, ValueError, "must be a token"),
        ({"subprotocol": "caf\u00e9"}, ValueError, "must be a token"),
        ({"subprotocol": b"chat"}, TypeError, "must be str"),
    ],
)
def test_accept_checks_headers_and_subprotocol_before_sending(
    ws_session: Session, options: dict[str, Any], error: type[Exception], match: str
) -> None:
    app = Bare()
    raised: list[Exception] = []
    received: list[Any] = []

    @app.websocket("/")
    async def handler(ws: WebSocket) -> None:
        try:
            await ws.accept(**options)
        except Exception as exc:
            raised.append(exc)
        received.append(ws.client_state)

    sent = ws_session(app, "/", [])
    assert len(raised) == 1 and type(raised[0]) is error
    assert re.search(match, str(raised[0])), raised[0]
    assert received == [WebSocketState.CONNECTING]  # checked before reading the connect
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": ""}]  # never accepted


def test_accept_encodes_valid_headers_from_pairs_or_a_mapping(ws_session: Session) -> None:
    app = Bare()

    @app.websocket("/pairs")
    async def pairs(ws: WebSocket) -> None:
        await ws.accept(subprotocol="chat.v1+json", headers=[("X-Server", "bare\tcaf\u00e9")])

    @app.websocket("/mapping")
    async def mapping(ws: WebSocket) -> None:
        await ws.accept(headers={"x-a": "1", "x-b": ""})

    assert ws_session(app, "/pairs", [])[0] == {
        "type": "websocket.accept",
        "subprotocol": "chat.v1+json",
        "headers": [(b"x-server", b"bare\tcaf\xe9")],
    }
    assert ws_session(app, "/mapping", [])[0]["headers"] == [(b"x-a", b"1"), (b"x-b", b"")]


# -- the Host header -----------------------------------------------------------------------


def test_an_invalid_host_refuses_the_handshake_quietly(ws_session: Session, caplog: Any) -> None:
    app = Bare()
    urls: list[str] = []

    @app.websocket("/ws")
    async def handler(ws: WebSocket) -> None:
        urls.append(str(ws.url))
        await ws.accept()

    for host in (b"example.com/evil?", b"a@b"):
        sent = ws_session(app, "/ws", [], headers=[(b"host", host)])
        assert sent == [{"type": "websocket.close", "code": 1008, "reason": "Invalid Host header"}]
    assert urls == []
    assert caplog.records == []
    ws_session(app, "/ws", [], headers=[(b"host", b"[::1]:8000")])
    assert urls == ["ws://[::1]:8000/ws"]
