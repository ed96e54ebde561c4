"""WebSocket limits (message size, rate, idle timeout), `close_all()` and
`bare.shutdown`, in process and on real uvicorn servers.

The rate and idle tests that need time to pass run on a fake clock
(`bare.websockets._clock`), so no wall-clock window decides an outcome; the idle timeout
on a real server only decides when the close comes, not whether.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import websockets

import bare.websockets
from bare import Bare, Router, WebSocket
from bare.broadcast import Broadcast, Rooms
from bare.params import Depends
from bare.routing import WebSocketRoute
from bare.shutdown import close_connections, close_on_signals, restore_signals
from bare.testing import TestClient
from bare.websockets import (
    DEFAULT_MAX_MESSAGE_SIZE,
    WebSocketLimits,
    WebSocketState,
    close_all,
)
from servers import Server, free_port, running, uvicorn_command

NET = 10.0
Session = Callable[..., list[dict[str, Any]]]


def echo_app(**limits: Any) -> Bare:
    app = Bare(openapi_url=None, docs_url=None)

    @app.websocket("/", **limits)
    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        async for message in ws:
            await ws.send_text(f"{type(message).__name__} {len(message)}")

    return app


def texts(sent: list[dict[str, Any]]) -> list[Any]:
    """What the app sent after accepting: texts, and the close as (code, reason)."""
    assert sent[0]["type"] == "websocket.accept"
    return [
        m.get("text") if m["type"] == "websocket.send" else (m["code"], m.get("reason", ""))
        for m in sent[1:]
    ]


def text(content: str) -> dict[str, Any]:
    return {"type": "websocket.receive", "text": content}


def data(content: bytes) -> dict[str, Any]:
    return {"type": "websocket.receive", "bytes": content}


# -- message size ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "outcome"),
    [
        (text("x" * 16), "str 16"),
        (text("x" * 17), None),
        (text("é" * 8), "str 8"),  # 16 bytes of UTF-8
        (text("é" * 8 + "x"), None),  # 9 characters, 17 bytes
        (text("𝄞" * 4), "str 4"),  # 16 bytes
        (text("𝄞" * 5), None),  # 5 characters, 20 bytes
        (text(""), "str 0"),
        (data(b"\0" * 16), "bytes 16"),
        (data(b"\0" * 17), None),
    ],
    ids=[
        "ascii_at",
        "ascii_over",
        "utf8_at",
        "utf8_over",
        "astral_at",
        "astral_over",
        "empty",
        "bytes_at",
        "bytes_over",
    ],
)
def test_a_message_over_the_size_limit_closes_with_1009(
    ws_session: Session, message: dict[str, Any], outcome: str | None, caplog: Any
) -> None:
    sent = ws_session(echo_app(max_message_size=16), "/", [message, text("after")])
    if outcome is None:
        assert texts(sent) == [(1009, "message too big (limit 16 bytes)")]
    else:
        assert texts(sent) == [outcome, "str 5"]
    assert caplog.records == []  # a client's mistake: nothing logged


def test_the_default_size_limit_is_one_mebibyte(ws_session: Session) -> None:
    assert DEFAULT_MAX_MESSAGE_SIZE == 1024 * 1024
    app = echo_app()
    limit = DEFAULT_MAX_MESSAGE_SIZE
    assert texts(ws_session(app, "/", [data(b"x" * limit)])) == [f"bytes {limit}"]
    closed = texts(ws_session(app, "/", [text("x" * (limit + 1))]))
    assert closed == [(1009, f"message too big (limit {limit} bytes)")]
    # The size limit alone, without the rate.
    closed = texts(ws_session(echo_app(message_rate=None), "/", [data(b"x" * (limit + 1))]))
    assert closed == [(1009, f"message too big (limit {limit} bytes)")]


def test_reasons_stay_within_what_a_close_frame_can_carry(ws_session: Session) -> None:
    huge = 10**130
    app = echo_app(max_message_size=huge, message_rate=1e-9, message_burst=huge, idle_timeout=1e300)
    sent = ws_session(app, "/", [text("x")] * 3)
    assert texts(sent) == ["str 1"] * 3  # a burst of 10**130 is not reached
    limited = WebSocketLimits(max_message_size=huge, message_rate=1, message_burst=huge)
    made = limited.websocket_class()
    assert (made._too_big, made._too_many) == ("message too big", "too many messages")  # type: ignore[attr-defined]


def test_a_long_hostile_text_is_measured_in_linear_time(ws_session: Session) -> None:
    # 100 kB of 4-byte characters just under and over a 400 kB limit.
    app = echo_app(max_message_size=400_000)
    started = time.perf_counter()
    assert texts(ws_session(app, "/", [text("𝄞" * 100_000)]))[0] == "str 100000"
    assert texts(ws_session(app, "/", [text("𝄞" * 100_001)]))[0][0] == 1009
    assert time.perf_counter() - started < 1.0


# -- rate --------------------------------------------------------------------------------


def test_a_burst_over_the_rate_closes_with_1008(ws_session: Session, caplog: Any) -> None:
    app = echo_app(message_rate=0.001, message_burst=3)
    sent = ws_session(app, "/", [text("a"), text("b"), data(b"c"), text("d"), text("e")])
    assert texts(sent) == [
        "str 1",
        "str 1",
        "bytes 1",
        (1008, "too many messages (limit 0.001 a second, bursts of 3)"),
    ]
    assert caplog.records == []


def test_the_default_rate_lets_a_burst_of_a_hundred_through(ws_session: Session) -> None:
    limits = WebSocketLimits()
    assert (limits.message_rate, limits.burst) == (100.0, 100)
    # Without the clock moving: 100 at once pass, the 101st is one too many.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bare.websockets, "_clock", lambda: 1000.0)
        sent = ws_session(echo_app(), "/", [text("x")] * 101)
    assert texts(sent)[:100] == ["str 1"] * 100
    assert texts(sent)[100] == (1008, "too many messages (limit 100 a second, bursts of 100)")


class FakeClock:
    """A clock the test moves; it counts the calls and lets the test wait for them."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.calls = 0
        self._called = threading.Condition()

    def __call__(self) -> float:
        with self._called:
            self.calls += 1
            self._called.notify_all()
        return self.now

    def wait_for_calls(self, count: int) -> None:
        with self._called:
            assert self._called.wait_for(lambda: self.calls >= count, NET)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(bare.websockets, "_clock", fake)
    return fake


def test_the_rate_refills_with_time(clock: FakeClock) -> None:
    app = echo_app(message_rate=10, message_burst=2)  # one every 0.1 s, two at once
    with TestClient(app) as client, client.websocket_connect("/") as ws:
        for step in (0.0, 0.0, 0.1, 0.1, 0.1, 1.0, 0.0):
            clock.now += step
            ws.send_text("x")
            assert ws.receive_text() == "str 1"  # within the rate
        clock.now += 0.05  # half an interval after a message that used the last token
        ws.send_text("x")
        assert ws.receive()["code"] == 1008


# -- idle timeout ------------------------------------------------------------------------


def test_the_idle_timeout_closes_a_silent_client_with_1001() -> None:
    app = echo_app(idle_timeout=0.2)
    with TestClient(app) as client, client.websocket_connect("/", timeout=NET) as ws:
        ws.send_text("one")
        assert ws.receive_text() == "str 3"
        assert ws.receive() == {
            "type": "websocket.close",
            "code": 1001,
            "reason": "idle timeout (0.2 s)",
        }


def test_messages_keep_the_connection_open_until_the_client_goes_silent(
    clock: FakeClock,
) -> None:
    app = echo_app(idle_timeout=0.02)
    with TestClient(app) as client, client.websocket_connect("/", timeout=NET) as ws:
        for _ in range(3):
            clock.now += 0.019  # just under the timeout since the last message
            ws.send_text("x")
            assert ws.receive_text() == "str 1"
        # The timer checks (each one reads the clock) find the client within its time:
        # the connection stays open however often they run.
        calls = clock.calls
        clock.wait_for_calls(calls + 3)
        ws.send_text("still here")
        assert ws.receive_text() == "str 10"
        clock.now += 0.02  # silent for the whole timeout: the next check closes
        assert ws.receive()["code"] == 1001


def test_an_idle_timeout_ends_with_the_handler_and_leaves_no_timer() -> None:
    opened: list[WebSocket] = []
    app = Bare()

    @app.websocket("/", idle_timeout=3600)
    async def handler(ws: WebSocket) -> None:
        opened.append(ws)
        await ws.accept()
        await ws.receive()

    with TestClient(app) as client, client.websocket_connect("/") as ws:
        ws.send_text("x")
        ws.receive()
    (websocket,) = opened
    assert websocket._timer is None and websocket._cleanups == []  # type: ignore[attr-defined]


# -- the route's callable decides ---------------------------------------------------------


def test_limits_off_serve_a_plain_websocket_and_limits_a_subclass() -> None:
    classes: list[type] = []
    app = Bare()

    async def handler(ws: WebSocket) -> None:
        classes.append(type(ws))
        await ws.accept()

    app.add_websocket_route("/off", handler, max_message_size=None, message_rate=None)
    app.add_websocket_route("/defaults", handler)
    app.add_websocket_route("/same", handler)
    app.add_websocket_route("/other", handler, max_message_size=10)
    with TestClient(app) as client:
        for path in ("/off", "/defaults", "/same", "/other"):
            with client.websocket_connect(path):
                pass
    off, defaults, same, other = classes
    assert off is WebSocket
    assert defaults is same is WebSocketLimits().websocket_class()  # one class per value
    assert issubclass(defaults, WebSocket) and defaults is not other
    assert WebSocketLimits(max_message_size=None, message_rate=None).off


async def _script(ws: WebSocket) -> list[Any]:
    """Everything a handler can observe through receive and its friends."""
    seen: list[Any] = []
    try:
        await ws.receive()
    except RuntimeError as exc:
        seen.append(str(exc))
    await ws.accept()
    seen.append(await ws.receive())
    seen.append(await ws.receive_text())
    seen.append(await ws.receive_bytes())
    seen.append(await ws.receive_json())
    seen.extend([message async for message in ws])  # up to the client's disconnect
    seen.append(await ws.receive())  # after it: None
    seen.append(await ws.receive_text())
    seen += [ws.client_state, ws.application_state, ws.close_code]
    return seen


def recording(runs: dict[str, list[Any]], kind: str) -> Callable[[WebSocket], Any]:
    async def handler(ws: WebSocket) -> None:
        runs[kind] = await _script(ws)

    return handler


def test_limited_receive_acts_as_plain(ws_session: Session) -> None:
    """The limited receive repeats WebSocket.receive (see its PERF note): within the
    limits, both must be indistinguishable, messages, states and close codes alike."""
    runs: dict[str, list[Any]] = {}
    incoming = [
        text("raw"),
        text("hello"),
        data(b"\x00bytes"),
        text('{"a": [1, 2]}'),
        text("iterated"),
        data(b"too"),
    ]
    routes: list[tuple[str, dict[str, Any]]] = [
        ("plain", {"max_message_size": None, "message_rate": None}),
        ("limited", {"max_message_size": 10**9, "message_rate": 1e9, "idle_timeout": 3600}),
    ]
    for kind, limits in routes:
        app = Bare()
        app.add_websocket_route("/", recording(runs, kind), **limits)
        runs[kind + " sent"] = ws_session(app, "/", incoming)
    assert runs["plain"] == runs["limited"]
    assert runs["plain sent"] == runs["limited sent"]
    assert runs["plain"][0] == "accept() the connection before receiving"
    assert runs["plain"][-5:] == [
        None,
        None,
        WebSocketState.DISCONNECTED,
        WebSocketState.DISCONNECTED,
        1000,
    ]
    # And a message of the wrong kind closes both with 1003.
    wrong_kinds: list[dict[str, Any]] = [{"max_message_size": None, "message_rate": None}, {}]
    for options in wrong_kinds:
        app = Bare()

        @app.websocket("/", **options)
        async def wrong(ws: WebSocket) -> None:
            await ws.accept()
            await ws.receive_text()

        assert texts(ws_session(app, "/", [data(b"x")])) == [(1003, "expected a text message")]


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"max_message_size": 0}, ValueError, "max_message_size is a number of bytes above 0"),
        ({"max_message_size": -1}, ValueError, "max_message_size"),
        ({"max_message_size": 1.5}, ValueError, "max_message_size"),
        ({"max_message_size": True}, ValueError, "max_message_size"),
        ({"message_rate": 0}, ValueError, "message_rate must be above 0"),
        ({"message_rate": float("inf")}, ValueError, "message_rate must be above 0"),
        ({"message_rate": float("nan")}, ValueError, "message_rate must be above 0"),
        ({"message_rate": "10"}, TypeError, "message_rate is a number"),
        ({"message_rate": True}, TypeError, "message_rate is a number"),
        ({"message_burst": 0}, ValueError, "message_burst is a number of messages"),
        ({"message_burst": 2.5}, ValueError, "message_burst"),
        ({"message_rate": None, "message_burst": 5}, ValueError, "message_burst needs"),
        ({"idle_timeout": 0}, ValueError, "idle_timeout must be above 0"),
        ({"idle_timeout": float("inf")}, ValueError, "idle_timeout must be above 0"),
        ({"idle_timeout": "5"}, TypeError, "idle_timeout is a number of seconds"),
        ({"max_mesage_size": 10}, TypeError, "unknown WebSocket route option"),
    ],
    ids=[
        "size_zero",
        "size_negative",
        "size_float",
        "size_bool",
        "rate_zero",
        "rate_inf",
        "rate_nan",
        "rate_str",
        "rate_bool",
        "burst_zero",
        "burst_float",
        "burst_without_rate",
        "idle_zero",
        "idle_inf",
        "idle_str",
        "misspelt",
    ],
)
def test_bad_limits_are_refused_at_registration(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    async def handler(ws: WebSocket) -> None:
        pass

    app = Bare()
    with pytest.raises(error, match=match):
        app.websocket("/", **options)  # at the decorator's line, before any handler
    with pytest.raises(error, match=match):
        app.add_websocket_route("/", handler, **options)
    with pytest.raises(error, match=match):
        WebSocketRoute("/", handler, **options)
    assert app.routes == []


def test_limits_go_with_prefixes_included_routers_and_typed_handlers(
    ws_session: Session,
) -> None:
    router = Router()

    async def dependency() -> str:
        return "dep"

    @router.websocket("/small", max_message_size=4)
    async def small(ws: WebSocket, value: str = Depends(dependency)) -> None:
        await ws.accept()
        async for message in ws:
            await ws.send_text(f"{value} {message!s}")

    app = Bare(dependencies=[Depends(dependency)])
    app.include_router(router, prefix="/api")
    (route,) = [r for r in app.routes if isinstance(r, WebSocketRoute)]
    assert route.path == "/api/small" and route.limits.max_message_size == 4
    assert texts(ws_session(app, "/api/small", [text("abcd"), text("abcde")])) == [
        "dep abcd",
        (1009, "message too big (limit 4 bytes)"),
    ]


def test_a_limits_object_with_options_over_it() -> None:
    async def handler(ws: WebSocket) -> None:
        pass

    shared = WebSocketLimits(max_message_size=100, idle_timeout=30)
    route = WebSocketRoute("/", handler, limits=shared, idle_timeout=5)
    assert route.limits == WebSocketLimits(max_message_size=100, idle_timeout=5)
    assert WebSocketRoute("/", handler, limits=shared).limits is shared
    with pytest.raises(TypeError, match=r"limits is a bare\.websockets\.WebSocketLimits"):
        WebSocketRoute("/", handler, limits={"max_message_size": 1})  # type: ignore[arg-type]


# -- close_all ----------------------------------------------------------------------------


def closing_app() -> tuple[Bare, Rooms, list[str]]:
    broadcast = Broadcast()
    rooms = Rooms(broadcast)
    app = Bare(lifespan=broadcast.lifespan)
    ended: list[str] = []

    @app.websocket("/chat")
    async def chat(ws: WebSocket) -> None:
        await ws.accept()
        async with rooms.join("lobby", ws) as room:
            await ws.send_text("in")
            async for message in ws:
                await room.send(message)
        ended.append("chat")

    @app.websocket("/push")
    async def push(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("in")
        try:
            await asyncio.Event().wait()  # never reads: only a cancel ends it
        finally:
            ended.append("push")

    return app, rooms, ended


def test_close_all_closes_every_websocket_with_1001(caplog: Any) -> None:
    app, rooms, ended = closing_app()
    others = len(bare.websockets._open)  # 0, unless another test left one open
    with TestClient(app) as client:
        with (
            client.websocket_connect("/chat") as first,
            client.websocket_connect("/chat") as second,
            client.websocket_connect("/push") as push,
        ):
            for ws in (first, second, push):
                assert ws.receive_text() == "in"
            # From this thread, not the app's: close_all() is thread-safe.
            assert close_all(timeout=0.2) == 3 + others
            for ws in (first, second, push):
                assert ws.receive() == {
                    "type": "websocket.close",
                    "code": 1001,
                    "reason": "server shutting down",
                }
        # The reading handlers ended by themselves and left the room; the one that
        # never reads was cancelled after the timeout, its finally run, quietly.
        assert sorted(ended) == ["chat", "chat", "push"]
        assert rooms.names() == []
        assert len(bare.websockets._open) <= others
        with client.websocket_connect("/chat") as later:  # opened after: not affected
            assert later.receive_text() == "in"
            later.send_text("hello")
            assert later.receive_text() == "hello"
    assert caplog.records == []


def test_close_all_with_a_code_and_reason_of_your_own() -> None:
    app, _, _ = closing_app()
    with TestClient(app) as client, client.websocket_connect("/chat") as ws:
        assert ws.receive_text() == "in"
        assert close_all(4000, "maintenance: back at 10:00") >= 1
        assert ws.receive() == {
            "type": "websocket.close",
            "code": 4000,
            "reason": "maintenance: back at 10:00",
        }


def test_close_all_refuses_a_handshake_still_being_decided(caplog: Any) -> None:
    app = Bare()
    entered, decided, ended = asyncio.Event(), asyncio.Event(), []

    @app.websocket("/slow")
    async def slow(ws: WebSocket) -> None:
        entered.set()
        await decided.wait()  # e.g. a database lookup before accepting
        try:
            await ws.accept()
        finally:
            ended.append(ws.application_state)

    others = len(bare.websockets._open)

    async def scenario() -> None:
        incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        incoming.put_nowait({"type": "websocket.connect"})
        scope = {"type": "websocket", "path": "/slow", "headers": [], "subprotocols": []}
        task = asyncio.create_task(app(scope, incoming.get, outgoing.put))  # type: ignore[arg-type]
        await asyncio.wait_for(entered.wait(), NET)
        assert close_all() == 1 + others
        refusal = await asyncio.wait_for(outgoing.get(), NET)
        assert refusal == {
            "type": "websocket.close",
            "code": 1001,
            "reason": "server shutting down",
        }
        decided.set()  # accept() now finds the connection closed: the handler ends quietly
        await asyncio.wait_for(task, NET)
        assert ended == [WebSocketState.DISCONNECTED] and outgoing.empty()

    asyncio.run(asyncio.wait_for(scenario(), 4 * NET))
    assert caplog.records == []


def test_close_all_forgets_connections_of_a_loop_that_is_gone() -> None:
    # A connection whose event loop was closed under it (a test client torn down in
    # the middle, say) is not counted, and leaves the registry.
    loop = asyncio.new_event_loop()
    task = loop.create_task(asyncio.sleep(0))
    loop.run_until_complete(task)
    loop.close()
    ghost = WebSocket({"type": "websocket"}, None, None)  # type: ignore[arg-type]
    bare.websockets._open[ghost] = task
    others = len(bare.websockets._open) - 1
    assert close_all() == others
    assert ghost not in bare.websockets._open


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((1005,), {}, ValueError, "a close code is 1000-1003"),
        ((1006,), {}, ValueError, "a close code"),
        ((1015,), {}, ValueError, "a close code"),
        ((999,), {}, ValueError, "a close code"),
        ((5000,), {}, ValueError, "a close code"),
        ((True,), {}, ValueError, "a close code"),
        ((1001, b"bye"), {}, TypeError, "a close reason is a str"),
        ((1001, "x" * 124), {}, ValueError, "at most 123 bytes"),
        ((1001, "é" * 62), {}, ValueError, "at most 123 bytes"),
        ((1001, "\udc80"), {}, ValueError, "lone surrogate"),
        ((), {"timeout": 0}, ValueError, "timeout must be above 0"),
        ((), {"timeout": "1"}, TypeError, "timeout is a number of seconds"),
    ],
    ids=[
        "code_1005",
        "code_1006",
        "code_1015",
        "code_999",
        "code_5000",
        "code_bool",
        "reason_bytes",
        "reason_long",
        "reason_long_utf8",
        "reason_surrogate",
        "timeout_zero",
        "timeout_str",
    ],
)
def test_close_all_checks_what_it_is_given(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        close_all(*args, **kwargs)
    with pytest.raises(error, match=match):
        close_connections(**dict(zip(("code", "reason"), args, strict=False)), **kwargs)


# -- bare.shutdown ----------------------------------------------------------------------------


def test_a_signal_closes_the_websockets_then_reaches_the_servers_handler(
    handlers: list[int],
) -> None:
    app, _, _ = closing_app()
    servers = signal.getsignal(signal.SIGTERM)
    asyncio.run(close_on_signals(timeout=0.2))
    ours = signal.getsignal(signal.SIGTERM)
    assert callable(ours) and ours is not servers
    asyncio.run(close_on_signals())  # a second start does not chain twice
    assert signal.getsignal(signal.SIGTERM) is ours
    with TestClient(app) as client, client.websocket_connect("/push") as ws:
        assert ws.receive_text() == "in"
        signal.raise_signal(signal.SIGTERM)  # a real signal, handled on this thread
        assert ws.receive()["code"] == 1001
    assert handlers == [signal.SIGTERM]
    asyncio.run(restore_signals())
    assert signal.getsignal(signal.SIGTERM) is servers


def test_restoring_leaves_a_handler_set_over_ours(handlers: list[int]) -> None:
    asyncio.run(close_on_signals())

    def later(signum: int, frame: Any) -> None:
        pass

    signal.signal(signal.SIGINT, later)
    asyncio.run(restore_signals())
    assert signal.getsignal(signal.SIGINT) is later


def test_default_and_ignored_signals_and_other_threads_are_left_alone() -> None:
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        asyncio.run(close_on_signals())
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    finally:
        asyncio.run(restore_signals())
        for number, handler in saved.items():
            signal.signal(number, handler)
    before = signal.getsignal(signal.SIGTERM)
    app = Bare(on_startup=[close_on_signals], on_shutdown=[restore_signals])
    with TestClient(app):  # its lifespan runs in the client's thread: nothing to set
        assert signal.getsignal(signal.SIGTERM) is before


def test_bad_values_are_refused_at_startup() -> None:
    with pytest.raises(ValueError, match="a close code"):
        asyncio.run(close_on_signals(code=1006))
    with pytest.raises(ValueError, match="timeout must be above 0"):
        asyncio.run(close_on_signals(timeout=-1))


def test_import_bare_loads_neither_shutdown_nor_broadcast() -> None:
    script = (
        "import sys, bare; print('bare.shutdown' in sys.modules, 'bare.broadcast' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.stdout.split() == ["False", "False"]


# -- on real servers ----------------------------------------------------------------------


def _serve(*options: str, close_timeout: float = 5.0) -> Iterator[Server]:
    port = free_port()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ROOMS_CLOSE_TIMEOUT", str(close_timeout))
        servers = running(uvicorn_command("apps.rooms_live:app", port, *options), port)
        server = next(servers)
    try:
        yield server
    finally:
        servers.close()  # type: ignore[attr-defined]  # a generator: stops the server


@pytest.fixture(scope="module")
def server_address() -> Iterator[str]:
    for server in _serve("--no-access-log"):
        yield server.address


async def closed_by(ws: Any) -> tuple[int, str]:
    with pytest.raises(websockets.exceptions.ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), NET)
    received = info.value.rcvd
    assert received is not None
    return received.code, received.reason


def test_real_server_enforces_the_limits(server_address: str) -> None:
    async def scenario() -> None:
        base = f"ws://{server_address}"
        async with websockets.connect(f"{base}/limited") as ws:
            await ws.send("x" * 1024)
            assert await ws.recv() == "echo 1024"
            await ws.send("x" * 1025)
            assert await closed_by(ws) == (1009, "message too big (limit 1024 bytes)")
        async with websockets.connect(f"{base}/limited") as ws:
            for _ in range(4):  # sent at once: the 4th is over the burst of 3
                await ws.send("x")
            assert [await ws.recv() for _ in range(3)] == ["echo 1"] * 3
            code, reason = await closed_by(ws)
            assert code == 1008 and reason.startswith("too many messages")
        async with websockets.connect(f"{base}/idle") as ws:
            await ws.send("hi")
            assert await ws.recv() == "echo hi"
            assert await closed_by(ws) == (1001, "idle timeout (0.5 s)")

    asyncio.run(asyncio.wait_for(scenario(), 4 * NET))


def test_real_server_uvicorns_ws_max_size_applies_first() -> None:
    """Below uvicorn's --ws-max-size the route's limit applies; above it, uvicorn's."""

    async def scenario(address: str) -> None:
        async with websockets.connect(f"ws://{address}/limited") as ws:
            await ws.send("x" * 600)  # over uvicorn's 512, under the route's 1024
            code, _ = await closed_by(ws)
            assert code == 1009

    for server in _serve("--no-access-log", "--ws-max-size", "512"):
        asyncio.run(asyncio.wait_for(scenario(server.address), 4 * NET))


def test_sigterm_closes_every_websocket_with_1001_and_the_server_stops_promptly() -> None:
    async def connect(address: str) -> list[Any]:
        clients = []
        for path in ("/chat/lobby", "/chat/lobby", "/chat/garden", "/push", "/limited"):
            ws = await websockets.connect(f"ws://{address}{path}")
            if path != "/limited":
                await ws.recv()  # joined, or hello: the handler runs
            clients.append(ws)
        return clients

    async def outcomes(clients: list[Any]) -> list[tuple[int, str]]:
        return [await closed_by(ws) for ws in clients]

    for server in _serve(close_timeout=1.0):
        loop = asyncio.new_event_loop()
        try:
            clients = loop.run_until_complete(connect(server.address))
            started = time.perf_counter()
            server.process.send_signal(signal.SIGTERM)
            closes = loop.run_until_complete(asyncio.wait_for(outcomes(clients), NET))
            server.process.wait(timeout=30)
            stopped = time.perf_counter() - started
            for ws in clients:
                loop.run_until_complete(ws.close())
        finally:
            loop.close()
        assert closes == [(1001, "server shutting down")] * len(clients)
        output = server.output()
        # uvicorn ends by raising the signal it caught again, with the default handler.
        assert server.process.returncode in (0, -signal.SIGTERM), output
        assert "Traceback" not in output and "Exception in ASGI" not in output, output
        # A net, not the claim: the push handler never reads, so without close_all()
        # uvicorn would wait for it for ever; with it, about close_timeout (1 s).
        print(f"stopped {stopped:.2f} s after SIGTERM with {len(clients)} clients connected")
        assert stopped < 15
