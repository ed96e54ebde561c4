"""Typed WebSocket handlers: path, query, header and cookie parameters and dependencies,
as HTTP handlers get them; invalid values refuse the handshake (1008) naming the
parameter; generator cleanups run when the connection ends."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bare import Bare, Body, Cookie, Depends, Header, Query, Request, Router, State, WebSocket
from bare.routing import WebSocketRoute
from bare.testing import TestClient, WebSocketDenied


def _app(log: list[str]) -> Bare:
    app = Bare()
    app.state.motd = "welcome"

    async def session(token: str = Query()) -> AsyncIterator[str]:
        log.append(f"open {token}")
        try:
            yield f"session-{token}"
        finally:
            log.append("closed")

    @app.websocket("/rooms/{room_id:int}")
    async def room(
        websocket: WebSocket,
        room_id: int,
        state: State,
        user: str = Depends(session),
        x_client: str = Header("unknown"),
        theme: str = Cookie("light"),
        limit: int = Query(10, le=100),
    ) -> None:
        await websocket.accept()
        await websocket.send_json([room_id, user, x_client, theme, limit, state.motd])
        log.append(await websocket.receive_text() or "")
        await websocket.close()

    return app


def test_typed_parameters_and_dependencies_reach_the_handler() -> None:
    log: list[str] = []
    client = TestClient(_app(log))
    with client.websocket_connect(
        "/rooms/7?token=abc&limit=3", headers={"x-client": "cli"}, cookies={"theme": "dark"}
    ) as ws:
        assert ws.receive_json() == [7, "session-abc", "cli", "dark", 3, "welcome"]
        ws.send_text("bye")
    assert log == ["open abc", "bye", "closed"]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "invalid query parameter 'token': Field required"),
        ("token=t&limit=1000", "invalid query parameter 'limit': Expected `int` <= 100"),
    ],
    ids=["missing", "too_big"],
)
def test_invalid_parameters_refuse_the_handshake(query: str, reason: str) -> None:
    log: list[str] = []
    client = TestClient(_app(log))
    with pytest.raises(WebSocketDenied) as denied, client.websocket_connect(f"/rooms/1?{query}"):
        pass  # pragma: no cover
    assert (denied.value.code, denied.value.reason) == (1008, reason)
    assert log == []  # no dependency ran


def test_a_long_reason_is_cut_to_what_a_close_frame_holds() -> None:
    app = Bare()

    @app.websocket("/")
    async def handler(websocket: WebSocket, name: str = Query(max_length=3)) -> None:
        await websocket.accept()  # pragma: no cover

    client = TestClient(app)
    with pytest.raises(WebSocketDenied) as denied, client.websocket_connect("/?name=" + "é" * 200):
        pass  # pragma: no cover
    assert len(denied.value.reason.encode()) <= 123


def test_cleanups_run_when_the_handler_fails_or_the_client_leaves() -> None:
    app = Bare()
    log: list[str] = []
    done = threading.Event()

    async def resource() -> AsyncIterator[str]:
        try:
            yield "r"
        except RuntimeError as exc:
            log.append(f"saw {exc}")
            raise
        finally:
            log.append("cleanup")
            done.set()

    @app.websocket("/fail")
    async def fail(websocket: WebSocket, held: str = Depends(resource)) -> None:
        await websocket.accept()
        raise RuntimeError("boom")

    @app.websocket("/echo")
    async def echo(websocket: WebSocket, held: str = Depends(resource)) -> None:
        await websocket.accept()
        while (text := await websocket.receive_text()) is not None:
            await websocket.send_text(text)

    client = TestClient(app, raise_server_exceptions=False)
    with client.websocket_connect("/fail") as ws:
        message = ws.receive()
        assert message["type"] == "websocket.close" and message["code"] == 1011
    assert done.wait(5)
    assert log == ["saw boom", "cleanup"]
    log.clear()
    done.clear()
    with client.websocket_connect("/echo") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "hi"
    assert done.wait(5)
    assert log == ["cleanup"]


def test_router_dependencies_apply_to_websocket_routes() -> None:
    ran: list[str] = []

    async def audit() -> None:
        ran.append("audit")

    router = Router(dependencies=[Depends(audit)])

    @router.websocket("/ws")
    async def plain(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    app = Bare()
    app.include_router(router, prefix="/v1")
    with TestClient(app).websocket_connect("/v1/ws") as ws:
        assert ws.receive_text() == "hello"
    assert ran == ["audit"]
    route = next(r for r in app.routes if isinstance(r, WebSocketRoute))
    assert route.plan is not None and len(route.plan.dependencies) == 1


def test_a_plain_websocket_handler_stays_plain() -> None:
    async def plain(ws: Any) -> None: ...

    async def unannotated(ws) -> None: ...  # type: ignore[no-untyped-def]

    assert WebSocketRoute("/", plain).plan is None
    assert WebSocketRoute("/", unannotated).plan is None


def test_websocket_handlers_that_cannot_be_served_are_refused() -> None:
    app = Bare()
    with pytest.raises(TypeError, match="a WebSocket handler has no body"):

        @app.websocket("/a")
        async def body(websocket: WebSocket, data: dict[str, Any] = Body()) -> None: ...

    with pytest.raises(TypeError, match="a WebSocket route gets no request; annotate it WebSocket"):

        @app.websocket("/b")
        async def wrong(request: Request) -> None: ...
