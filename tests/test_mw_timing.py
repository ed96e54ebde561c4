"""ServerTimingMiddleware and request.timing(): the header, handler metrics, blocks,
invalid metrics, options; bare and raw ASGI apps."""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bare import Bare, Request
from bare.middleware.timing import ServerTimingMiddleware
from bare.requests import SERVER_TIMING_KEY, HTTPConnection
from bare.responses import FileResponse, PlainTextResponse, StreamingResponse
from bare.testing import TestClient
from bare.websockets import WebSocket
from conftest import Reply
from raw_asgi import PATHSEND, RawClient, http_scope

Call = Callable[..., Reply]
Session = Callable[..., list[dict[str, Any]]]

DURATION = r"\d+\.\d{3}"  # the app's own metric: always three decimals
METRIC = re.compile(
    r'(?P<name>[^;,]+)(?:;dur=(?P<dur>[0-9.]+))?(?:;desc="(?P<desc>(?:[^"\\]|\\.)*)")?'
)


def parse(value: str) -> list[tuple[str, float | None, str | None]]:
    """The metrics of a Server-Timing value, in order (as a browser would read them)."""
    metrics = []
    for part in value.split(", "):
        match = METRIC.fullmatch(part)
        assert match is not None, part
        duration = float(match["dur"]) if match["dur"] is not None else None
        description = match["desc"]
        if description is not None:
            description = re.sub(r"\\(.)", r"\1", description)
        metrics.append((match["name"], duration, description))
    return metrics


def app_duration(value: str, name: str = "app") -> float:
    """The app's own metric, which must come last: its duration, checked to be sane."""
    last_name, duration, _ = parse(value)[-1]
    assert last_name == name
    assert duration is not None and math.isfinite(duration) and duration >= 0
    return duration


def timing_app(**options: Any) -> Bare:
    app = Bare()

    @app.get("/plain")
    async def plain(request: Request) -> str:
        return "plain"

    @app.get("/metrics")
    async def metrics(request: Request) -> str:
        request.timing("db", 12.3, "primary")
        request.timing("cache", 0)
        request.timing("auth", 7)
        request.timing("quoted", 1.25, 'say "hi" \\ bye')
        return "ok"

    @app.get("/block")
    async def block(request: Request) -> str:
        with request.timing("render", description="template"):
            pass
        try:
            with request.timing("flaky"):
                raise KeyError("inside the block")
        except KeyError:
            pass
        return "ok"

    @app.get("/block-fails")
    async def block_fails(request: Request) -> str:
        with request.timing("doomed"):
            raise RuntimeError("uncaught")

    @app.get("/stream")
    async def stream(request: Request) -> StreamingResponse:
        request.timing("before", 1)

        async def parts() -> AsyncIterator[bytes]:
            request.timing("during", 2)  # the header has gone: dropped
            yield b"a"
            yield b"b"

        return StreamingResponse(parts())

    app.add_middleware(ServerTimingMiddleware, **options)
    return app


# -- the header -------------------------------------------------------------------------


def test_bare_app_gets_the_app_total() -> None:
    response = TestClient(timing_app()).get("/plain")
    assert response.text == "plain"
    (value,) = response.headers.get_list("server-timing")
    assert re.fullmatch(rf"app;dur={DURATION}", value)
    app_duration(value)


def test_handler_metrics_come_first_in_order() -> None:
    value = TestClient(timing_app()).get("/metrics").headers["server-timing"]
    metrics = parse(value)
    assert metrics[:-1] == [
        ("db", 12.3, "primary"),
        ("cache", 0.0, None),
        ("auth", 7.0, None),
        ("quoted", 1.25, 'say "hi" \\ bye'),
    ]
    assert value.startswith(
        'db;dur=12.3;desc="primary", cache;dur=0, auth;dur=7, '
        'quoted;dur=1.25;desc="say \\"hi\\" \\\\ bye", app;dur='
    )
    app_duration(value)


def test_block_timing_including_a_block_that_raises() -> None:
    value = TestClient(timing_app()).get("/block").headers["server-timing"]
    (render, flaky, app) = parse(value)
    assert render[0] == "render" and render[2] == "template"
    assert flaky[0] == "flaky" and flaky[2] is None
    for _, duration, _ in (render, flaky):
        assert duration is not None and duration >= 0
    assert app[0] == "app"


def test_a_block_whose_exception_fails_the_handler_is_still_sent() -> None:
    response = TestClient(timing_app(), raise_server_exceptions=False).get("/block-fails")
    assert response.status_code == 500
    doomed, app = parse(response.headers["server-timing"])
    assert doomed[0] == "doomed" and doomed[1] is not None and doomed[1] >= 0
    assert app[0] == "app"
    assert "uncaught" not in response.text


def test_streaming_gets_the_header_and_stays_streaming(asgi_call: Call) -> None:
    reply = asgi_call(timing_app(), "GET", "/stream")
    assert reply.body == b"ab"
    bodies = [m for m in reply.messages if m["type"] == "http.response.body"]
    assert len(bodies) == 3
    value = reply.header("server-timing") or ""
    assert [name for name, _, _ in parse(value)] == ["before", "app"]


def test_every_response_kind_gets_it(asgi_call: Call) -> None:
    app = timing_app()
    for path in ["/missing", "/plain/"]:
        reply = asgi_call(app, "GET", path)
        assert len(reply.header_list("server-timing")) == 1, path
    reply = asgi_call(app, "POST", "/plain")
    assert reply.status == 405
    app_duration(reply.header("server-timing") or "")


def test_options_name_and_description() -> None:
    response = TestClient(timing_app(name="total", description="whole app")).get("/plain")
    value = response.headers["server-timing"]
    assert re.fullmatch(rf'total;dur={DURATION};desc="whole app"', value)


def test_a_description_with_quotes_is_escaped() -> None:
    value = TestClient(timing_app(description='a "b" \\c')).get("/plain").headers["server-timing"]
    assert value.endswith(';desc="a \\"b\\" \\\\c"')
    assert parse(value)[-1][2] == 'a "b" \\c'


@pytest.mark.parametrize(
    ("name", "description"), [("app", None), ("total", "whole app"), ("t", 'a "b" \\c')]
)
def test_the_apps_own_metric_is_header_value_s(name: str, description: str | None) -> None:
    # Guards the prefix and suffix ServerTimingMiddleware builds once: the app's metric
    # reads as header_value() writes it, whatever the duration's digits.
    from bare._server_timing import Metric, header_value

    app = timing_app(name=name, description=description)
    value = TestClient(app).get("/plain").headers["server-timing"]
    duration = app_duration(value, name)
    rendered = header_value([Metric(name, duration, description)])
    numbers = re.compile(r"dur=([0-9.]+)")
    assert numbers.sub("dur=N", value) == numbers.sub("dur=N", rendered)


# -- invalid metrics --------------------------------------------------------------------

BAD_METRICS: list[tuple[Any, ...]] = [
    ("",),
    ("has space", 1),
    ("semi;colon", 1),
    ("comma,", 1),
    ("new\r\nline", 1),
    ("caf\u00e9", 1),
    ("x" * 65, 1),
    (None, 1),
    ("db", -1),
    ("db", math.nan),
    ("db", math.inf),
    ("db", True),
    ("db", "12"),
    ("db", 1, "new\r\nline"),
    ("db", 1, "caf\u00e9"),
    ("db", 1, "x" * 257),
    ("db", 1, b"bytes"),
]


def plain_id(args: tuple[Any, ...]) -> str:
    """A test id of plain characters only: ids holding CR, LF or escapes cannot be
    selected again by name (mutmut selects tests that way)."""
    return re.sub(r"[^A-Za-z0-9_.;,-]+", "_", repr(args))


@pytest.mark.parametrize("args", BAD_METRICS, ids=plain_id)
def test_invalid_metrics_reach_the_handler_as_value_error(args: tuple[Any, ...]) -> None:
    app = Bare()
    caught: list[str] = []

    @app.get("/")
    async def home(request: Request) -> str:
        try:
            request.timing(*args)
        except ValueError as exc:
            caught.append(str(exc))
        try:
            with request.timing(args[0], description=args[2] if len(args) > 2 else None):
                pass
        except ValueError:
            caught.append("block")
        return "ok"

    app.add_middleware(ServerTimingMiddleware)
    response = TestClient(app).get("/")
    assert response.status_code == 200
    assert caught and caught[0].startswith("Server-Timing")
    assert [name for name, _, _ in parse(response.headers["server-timing"])][-1] == "app"
    assert "\r" not in response.headers["server-timing"]


def test_timing_without_the_middleware_is_a_no_op() -> None:
    app = Bare()
    ran: list[str] = []

    @app.get("/")
    async def home(request: Request) -> str:
        request.timing("db", 1.5, "primary")
        with request.timing("block"):
            ran.append("block")
        with pytest.raises(ValueError):
            request.timing("bad name", 1)  # still checked
        return "ok"

    response = TestClient(app).get("/")
    assert response.text == "ok"
    assert ran == ["block"]
    assert "server-timing" not in response.headers


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"name": ""}, "metric name"),
        ({"name": "a b"}, "metric name"),
        ({"name": "app\r\nx-evil: 1"}, "metric name"),
        ({"name": None}, "metric name"),
        ({"name": "x" * 65}, "metric name"),
        ({"description": "line\nbreak"}, "description"),
        ({"description": "\u00e9"}, "description"),
        ({"description": 5}, "description"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ServerTimingMiddleware(PlainTextResponse("x"), **options)


# -- raw ASGI apps ----------------------------------------------------------------------


def test_raw_app_with_its_own_metrics(asgi_call: Call) -> None:
    async def raw(scope: Any, receive: Any, send: Any) -> None:
        HTTPConnection(scope).timing("db", 3)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
        await send({"type": "http.response.body", "body": b"raw"})

    reply = asgi_call(ServerTimingMiddleware(raw), "GET", "/")
    assert reply.body == b"raw"
    assert reply.header("x-a") == "1"
    value = reply.header("server-timing") or ""
    assert re.fullmatch(rf"db;dur=3, app;dur={DURATION}", value)


def test_raw_app_start_without_headers(asgi_call: Call) -> None:
    async def raw(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    reply = asgi_call(ServerTimingMiddleware(raw), "GET", "/")
    assert reply.status == 204
    app_duration(reply.header("server-timing") or "")


def test_raw_app_failing_before_start_gets_no_header(asgi_call: Call) -> None:
    async def raw(scope: Any, receive: Any, send: Any) -> None:
        raise LookupError("failed")

    with pytest.raises(LookupError):
        asgi_call(ServerTimingMiddleware(raw), "GET", "/")


def test_the_app_message_is_not_changed_in_place(asgi_call: Call) -> None:
    headers = [(b"x-a", b"1")]
    start = {"type": "http.response.start", "status": 200, "headers": headers}

    async def raw(scope: Any, receive: Any, send: Any) -> None:
        await send(start)
        await send({"type": "http.response.body", "body": b""})

    reply = asgi_call(ServerTimingMiddleware(raw), "GET", "/")
    assert reply.header("server-timing")
    assert start["headers"] == [(b"x-a", b"1")]


# -- WebSocket and lifespan -------------------------------------------------------------


def test_websocket_passes_through(ws_session: Session) -> None:
    app = Bare()
    seen: list[Any] = []

    @app.websocket("/ws")
    async def chat(ws: WebSocket) -> None:
        seen.append(SERVER_TIMING_KEY in ws.scope)
        ws.timing("db", 1)  # no header to carry it: dropped
        await ws.accept()

    app.add_middleware(ServerTimingMiddleware)
    sent = ws_session(app, "/ws", [])
    assert seen == [False]
    assert sent[0]["type"] == "websocket.accept"
    assert all(b"server-timing" not in name for name, _ in sent[0].get("headers", []))


def test_lifespan_passes_through() -> None:
    app = timing_app()
    started: list[bool] = []

    @app.on_startup
    async def startup() -> None:
        started.append(True)

    with TestClient(app) as client:
        assert client.get("/plain").headers["server-timing"]
    assert started == [True]

    events: list[str] = []

    async def raw_lifespan(scope: Any, receive: Any, send: Any) -> None:
        events.append((await receive())["type"])
        await send({"type": "lifespan.startup.complete"})
        events.append((await receive())["type"])
        await send({"type": "lifespan.shutdown.complete"})

    with TestClient(ServerTimingMiddleware(raw_lifespan)):
        pass
    assert events == ["lifespan.startup", "lifespan.shutdown"]


# -- files sent by path (the http.response.pathsend extension) ------------------------------


def test_a_file_sent_by_path_gets_the_header(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG" + b"0" * 1000)
    app = timing_app()

    @app.get("/photo")
    async def photo(request: Request) -> FileResponse:
        with request.timing("disk"):
            return FileResponse(path)

    # Under a bare app (headers handed over) and around a raw ASGI app (send wrapped).
    raw = ServerTimingMiddleware(FileResponse(path))
    for served, target, metrics in ((app, "/photo", rb"disk;dur=[\d.]+, "), (raw, "/", b"")):
        client = RawClient(leave_when_done=True)
        client.run(served, http_scope(target, extensions=PATHSEND))
        assert client.types() == ["http.response.start", "http.response.pathsend"]
        assert client.sent[-1] == {"type": "http.response.pathsend", "path": str(path)}
        headers = dict(client.start()["headers"])
        assert headers[b"content-length"] == b"1004"
        assert re.fullmatch(metrics + rb"app;dur=[\d.]+", headers[b"server-timing"])
