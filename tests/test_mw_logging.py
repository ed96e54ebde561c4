"""LoggingMiddleware: one record per request, its fields, its format, failing apps,
disconnects, hostile paths and secrets that must never be logged."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bare import Bare, Request
from bare.middleware.logging import DEFAULT_FORMAT, FIELDS, LoggingMiddleware, escape
from bare.middleware.request_id import RequestIdFilter, RequestIdMiddleware
from bare.responses import FileResponse, PlainTextResponse, StreamingResponse
from bare.testing import TestClient
from conftest import Reply
from raw_asgi import PATHSEND, RawClient, http_scope

Call = Callable[..., Reply]
Session = Callable[..., list[dict[str, Any]]]


class Access(logging.Handler):
    """Every record of "bare.access", and its formatted text."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.stream = io.StringIO()
        self.text = logging.StreamHandler(self.stream)
        self.text.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.text.handle(record)

    @property
    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    @property
    def only(self) -> logging.LogRecord:
        (record,) = self.records
        return record


@pytest.fixture
def access() -> Iterator[Access]:
    handler = Access()
    logger = logging.getLogger("bare.access")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def bare_app(**options: Any) -> Bare:
    app = Bare()

    @app.get("/hello")
    async def hello(request: Request) -> str:
        return "Hello, World!"

    @app.get("/fail")
    async def fail(request: Request) -> str:
        raise RuntimeError("handler failed")

    @app.get("/stream")
    async def stream(request: Request) -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            for part in (b"one", b"two!", b"three"):
                yield part

        return StreamingResponse(parts())

    @app.post("/echo")
    async def echo(request: Request) -> bytes:
        return await request.body()

    app.add_middleware(LoggingMiddleware, **options)
    return app


async def raw(scope: Any, receive: Any, send: Any) -> None:
    await PlainTextResponse("raw body")(scope, receive, send)


def check_fields(record: logging.LogRecord) -> None:
    """Every field is on the record, with the type of its sample."""
    for name, sample in FIELDS.items():
        assert type(getattr(record, name)) is type(sample), name
    assert record.duration_ms >= 0  # type: ignore[attr-defined]


# -- one record per request -------------------------------------------------------------


def test_bare_app_one_record_with_every_field(access: Access) -> None:
    response = TestClient(bare_app()).get("/hello", headers={"user-agent": "tests"})
    assert response.status_code == 200
    record = access.only
    check_fields(record)
    assert record.name == "bare.access"
    assert record.levelno == logging.INFO
    assert (record.method, record.path, record.status) == ("GET", "/hello", 200)  # type: ignore[attr-defined]
    assert record.bytes == len(b"Hello, World!")  # type: ignore[attr-defined]
    assert record.client == "testclient:50000"  # type: ignore[attr-defined]
    assert record.request_id == "-"  # type: ignore[attr-defined]
    assert record.query == ""  # type: ignore[attr-defined]
    assert record.getMessage() == DEFAULT_FORMAT.format_map(
        {name: getattr(record, name) for name in FIELDS}
    )
    assert record.getMessage().startswith('testclient:50000 "GET /hello HTTP/1.1" 200 13B ')


def test_raw_app_one_record(access: Access, asgi_call: Call) -> None:
    reply = asgi_call(LoggingMiddleware(raw), "GET", "/anything")
    assert reply.body == b"raw body"
    record = access.only
    check_fields(record)
    assert (record.path, record.status, record.bytes) == ("/anything", 200, 8)  # type: ignore[attr-defined]
    assert record.client == "127.0.0.1:50000"  # type: ignore[attr-defined]


def test_every_response_kind_is_logged(access: Access) -> None:
    client = TestClient(bare_app())
    assert client.get("/missing").status_code == 404
    assert client.post("/hello").status_code == 405
    assert client.get("/hello/").status_code == 308
    assert client.head("/hello").status_code == 200
    statuses = [(r.path, r.status, r.method) for r in access.records]  # type: ignore[attr-defined]
    assert statuses == [
        ("/missing", 404, "GET"),
        ("/hello", 405, "POST"),
        ("/hello/", 308, "GET"),
        ("/hello", 200, "HEAD"),
    ]
    assert access.records[-1].bytes == 0  # type: ignore[attr-defined]


def test_streaming_bytes_are_counted_without_buffering(access: Access, asgi_call: Call) -> None:
    reply = asgi_call(bare_app(), "GET", "/stream")
    assert reply.body == b"onetwo!three"
    bodies = [m for m in reply.messages if m["type"] == "http.response.body"]
    assert len(bodies) == 4  # three chunks and the end: passed on one by one
    assert access.only.bytes == 12  # type: ignore[attr-defined]


def test_request_id_from_the_scope_whatever_the_order(access: Access) -> None:
    for outer_first in (True, False):
        app = Bare()

        @app.get("/")
        async def home(request: Request) -> str:
            return request.id or ""

        if outer_first:
            app.add_middleware(LoggingMiddleware)
            app.add_middleware(RequestIdMiddleware)
        else:
            app.add_middleware(RequestIdMiddleware)
            app.add_middleware(LoggingMiddleware)
        response = TestClient(app).get("/", headers={"x-request-id": "abc-1"})
        assert response.text == "abc-1"
    assert [r.request_id for r in access.records] == ["abc-1", "abc-1"]  # type: ignore[attr-defined]
    assert all(line.endswith(" abc-1") for line in access.lines)


def test_request_id_filter_keeps_the_record_id(access: Access) -> None:
    access.addFilter(RequestIdFilter())  # runs after the request: no id in context then
    app = Bare()

    @app.get("/")
    async def home(request: Request) -> str:
        return "ok"

    app.add_middleware(LoggingMiddleware)
    app.add_middleware(RequestIdMiddleware)
    TestClient(app).get("/", headers={"x-request-id": "kept"})
    assert access.only.request_id == "kept"  # type: ignore[attr-defined]


# -- options ----------------------------------------------------------------------------


def test_format_option(access: Access) -> None:
    template = "{method} {path} -> {status} in {duration_ms:.0f}ms ({bytes} bytes) {client!r}"
    TestClient(bare_app(format=template)).get("/hello")
    message = access.only.getMessage()
    assert message.startswith("GET /hello -> 200 in ")
    assert message.endswith("ms (13 bytes) 'testclient:50000'")


@pytest.mark.parametrize(
    ("template", "error", "match"),
    [
        ("{nope}", ValueError, r"unknown field \{nope\}"),
        ("{}", ValueError, r"unknown field \{\}"),
        ("{0}", ValueError, r"unknown field \{0\}"),
        ("{path.__class__}", ValueError, "unknown field"),
        ("{path[0]}", ValueError, "unknown field"),
        ("%(path)s %(status)d", ValueError, r"str.format style: write \{path\}"),
        ("{path", ValueError, "does not parse"),
        ("}", ValueError, "does not parse"),
        ("{status:{bytes}}", ValueError, "may not hold another field"),
        ("{path:d}", ValueError, "does not work"),
        ("{status!z}", ValueError, "does not work"),
        (b"{path}", TypeError, "must be a str"),
        (None, TypeError, "must be a str"),
    ],
)
def test_bad_formats_are_refused(template: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        LoggingMiddleware(raw, format=template)


def test_level_option(access: Access) -> None:
    logging.getLogger("bare.access").setLevel(logging.INFO)
    TestClient(bare_app(level=logging.DEBUG)).get("/hello")
    assert access.records == []  # the logger is not enabled for it: nothing formatted
    TestClient(bare_app(level="warning")).get("/hello")
    TestClient(bare_app(level=logging.ERROR)).get("/hello")
    assert [r.levelno for r in access.records] == [logging.WARNING, logging.ERROR]


def test_a_disabled_level_passes_requests_straight_through(access: Access) -> None:
    logging.getLogger("bare.access").setLevel(logging.WARNING)
    seen: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(receive is outer_receive and send is outer_send)

    async def outer_receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def outer_send(message: Any) -> None:
        pass

    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    asyncio.run(LoggingMiddleware(app)(scope, outer_receive, outer_send))
    asyncio.run(LoggingMiddleware(app, level="ERROR")(scope, outer_receive, outer_send))
    assert seen == [True, False]
    assert [r.levelno for r in access.records] == [logging.ERROR]


def test_client_addresses(access: Access) -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        pass

    for client in [("10.0.0.1", 4000), ["::1", 8000], ("/run/app.sock", None), None]:
        scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "client": client}
        asyncio.run(LoggingMiddleware(raw)(scope, receive, send))
    clients = [r.client for r in access.records]  # type: ignore[attr-defined]
    assert clients == ["10.0.0.1:4000", "[::1]:8000", "/run/app.sock", "-"]


@pytest.mark.parametrize("level", ["LOUD", -1, True, 2.5, None])
def test_bad_levels_are_refused(level: Any) -> None:
    with pytest.raises(ValueError, match="must be a logging level"):
        LoggingMiddleware(raw, level=level)


def test_other_bad_options_are_refused() -> None:
    with pytest.raises(TypeError, match="include_query must be True or False"):
        LoggingMiddleware(raw, include_query="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="logger must be a logger name"):
        LoggingMiddleware(raw, logger=42)  # type: ignore[arg-type]


def test_logger_option(asgi_call: Call) -> None:
    handler = Access()
    logger = logging.getLogger("tests.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        asgi_call(LoggingMiddleware(raw, logger=logger), "GET", "/a")
        asgi_call(LoggingMiddleware(raw, logger="tests.access"), "GET", "/b")
    finally:
        logger.removeHandler(handler)
    assert [r.path for r in handler.records] == ["/a", "/b"]  # type: ignore[attr-defined]


def test_query_is_left_out_unless_asked_for(access: Access) -> None:
    TestClient(bare_app()).get("/hello?token=s3cret&x=1")
    TestClient(bare_app(include_query=True)).get("/hello?token=s3cret&x=1")
    TestClient(bare_app(include_query=True)).get("/hello")
    left_out, included, none = access.records
    assert "s3cret" not in repr(left_out.__dict__)
    assert left_out.query == ""  # type: ignore[attr-defined]
    assert included.query == "?token=s3cret&x=1"  # type: ignore[attr-defined]
    assert '"GET /hello?token=s3cret&x=1 HTTP/1.1"' in included.getMessage()
    assert none.query == ""  # type: ignore[attr-defined]
    assert "s3cret" not in access.lines[0]


# -- secrets ----------------------------------------------------------------------------


def test_no_body_authorization_or_cookie_is_ever_logged(access: Access) -> None:
    secrets = ["Bearer-T0KEN-abc", "sessi0n-value", "b0dy-secret", "qu3ry-secret", "pr0xy-pw"]
    template = " ".join(f"{{{name}}}" for name in FIELDS)
    for options in ({}, {"format": template}):
        client = TestClient(bare_app(**options))
        response = client.post(
            f"/echo?key={secrets[3]}",
            content=secrets[2],
            headers={
                "authorization": f"Bearer {secrets[0]}",
                "cookie": f"session={secrets[1]}",
                "proxy-authorization": f"Basic {secrets[4]}",
            },
        )
        assert response.text == secrets[2]
    assert len(access.records) == 2
    everything = access.stream.getvalue() + "".join(
        repr(record.__dict__) + record.getMessage() for record in access.records
    )
    for secret in secrets:
        assert secret not in everything


# -- failing apps -----------------------------------------------------------------------


def test_raw_app_failing_before_the_response_is_logged_as_500(
    access: Access, asgi_call: Call
) -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise LookupError("before start")

    with pytest.raises(LookupError, match="before start"):
        asgi_call(LoggingMiddleware(broken), "GET", "/x")
    assert (access.only.status, access.only.bytes) == (500, 0)  # type: ignore[attr-defined]
    check_fields(access.only)


def test_raw_app_failing_after_the_start_logs_the_real_status(
    access: Access, asgi_call: Call
) -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"half", "more_body": True})
        raise LookupError("after start")

    with pytest.raises(LookupError, match="after start"):
        asgi_call(LoggingMiddleware(broken), "GET", "/x")
    assert (access.only.status, access.only.bytes) == (201, 4)  # type: ignore[attr-defined]


def test_bare_handler_failing_is_logged_as_500(access: Access) -> None:
    client = TestClient(bare_app(), raise_server_exceptions=False)
    response = client.get("/fail")
    assert response.status_code == 500
    assert access.only.status == 500  # type: ignore[attr-defined]
    assert access.only.bytes == len(response.content)  # type: ignore[attr-defined]
    assert "handler failed" not in access.only.getMessage()


def test_a_middleware_failing_inside_is_logged_as_500(access: Access) -> None:
    class Refuse:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            raise PermissionError("refused")

    app = bare_app()
    app.add_middleware(Refuse)
    response = TestClient(app, raise_server_exceptions=False).get("/hello")
    assert response.status_code == 500  # bare's error door answers it, outside the logger
    assert access.only.status == 500  # type: ignore[attr-defined]


def test_a_cancelled_request_is_still_logged(access: Access) -> None:
    async def waits_forever(scope: Any, receive: Any, send: Any) -> None:
        entered.set()
        await asyncio.Event().wait()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        pass

    async def main() -> None:
        scope = {"type": "http", "method": "GET", "path": "/slow", "headers": []}
        task = asyncio.ensure_future(LoggingMiddleware(waits_forever)(scope, receive, send))
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    entered = asyncio.Event()
    asyncio.run(main())
    assert (access.only.path, access.only.status) == ("/slow", 500)  # type: ignore[attr-defined]
    assert access.only.client == "-"  # type: ignore[attr-defined]


# -- disconnects ------------------------------------------------------------------------


def test_disconnect_mid_stream_is_logged(access: Access, asgi_call: Call) -> None:
    """ASGI before 2.4: bare's stream watches for the disconnect and stops."""
    app = Bare()
    released = asyncio.Event()

    @app.get("/stuck")
    async def stuck(request: Request) -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            yield b"first"
            await released.wait()  # never set: only the disconnect ends this
            yield b"never"

        return StreamingResponse(parts())

    app.add_middleware(LoggingMiddleware)
    reply = asgi_call(app, "GET", "/stuck", disconnect=True)
    assert reply.body == b"first"
    assert (access.only.status, access.only.bytes) == (200, 5)  # type: ignore[attr-defined]


def test_send_failing_after_a_disconnect_is_logged(access: Access) -> None:
    """ASGI 2.4: send raises OSError once the client has gone."""

    async def streams(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for chunk in (b"12345", b"678", b"lost"):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})

    sent: list[Any] = []

    async def send(message: Any) -> None:
        if len(sent) == 3:
            raise OSError("client gone")
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "GET", "path": "/s", "headers": [], "client": ("::1", 1)}
    with pytest.raises(OSError, match="client gone"):
        asyncio.run(LoggingMiddleware(streams)(scope, receive, send))
    assert (access.only.status, access.only.bytes) == (200, 8)  # type: ignore[attr-defined]
    assert access.only.client == "[::1]:1"  # type: ignore[attr-defined]


def test_no_response_after_a_disconnect_is_499(access: Access, asgi_call: Call) -> None:
    app = Bare()

    @app.post("/upload")
    async def upload(request: Request) -> str:
        await request.body()  # the client leaves half-way: ClientDisconnect
        return "never"

    app.add_middleware(LoggingMiddleware)
    reply = asgi_call(app, "POST", "/upload", chunks=[b"part"], disconnect=True)
    assert reply.status == 0  # nothing was sent
    assert access.only.status == 499  # type: ignore[attr-defined]


def test_no_response_without_a_disconnect_is_500(access: Access, asgi_call: Call) -> None:
    async def silent(scope: Any, receive: Any, send: Any) -> None:
        await receive()

    asgi_call(LoggingMiddleware(silent), "GET", "/")
    assert access.only.status == 500  # type: ignore[attr-defined]


# -- hostile text from the client -------------------------------------------------------

FORGERIES = [
    '/a\r\nINFO bare.access 127.0.0.1 "GET /admin HTTP/1.1" 200',
    "/a\nfake line",
    "/a\rfake",
    "/\x1b[2J\x1b[31mred",
    "/\x00nul",
    "/next\u2028line",
    "/para\u2029graph",
    "/nel\x85line",
    "/bidi\u202eevil",
    "/zero\u200bwidth",
    '/quote" 200 0B',
    "/back\\x0aslash",
    "/lone\udcffsurrogate",
    "/\x7fdel\x9bcsi",
]


@pytest.mark.parametrize("path", FORGERIES)
def test_paths_cannot_forge_log_lines(access: Access, asgi_call: Call, path: str) -> None:
    asgi_call(LoggingMiddleware(raw), "GET", path)
    (line,) = access.lines  # one record: one line
    message = access.only.getMessage()
    assert message.isprintable()
    assert access.only.path == escape(path)  # type: ignore[attr-defined]
    assert line.endswith(message)
    assert message.replace('\\"', "").count('"') == 2  # only the format's quotes stay bare
    message.encode("utf-8")  # no lone surrogate left for a handler to choke on


def test_escaping_is_unambiguous() -> None:
    assert escape("/plain/caf\u00e9/\u4e2d") == "/plain/caf\u00e9/\u4e2d"
    assert escape("a\r\nb") == "a\\x0d\\x0ab"
    assert escape("\\x0a") == "\\\\x0a"  # a literal backslash is doubled
    assert escape('"') == '\\"'
    assert escape("\u2028\x1b") == "\\u2028\\x1b"
    assert escape("\udcff") == "\\udcff"


def test_method_query_and_request_id_are_escaped_too(access: Access) -> None:
    from bare.requests import REQUEST_ID_KEY

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope[REQUEST_ID_KEY] = "id\nforged"  # set by some other middleware
        await raw(scope, receive, send)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        pass

    scope = {
        "type": "http",
        "method": "GET\r\nX",
        "path": "/",
        "query_string": b"a=\r\nb",
        "headers": [],
        "http_version": "1.1\n",
    }
    asyncio.run(LoggingMiddleware(app, include_query=True)(scope, receive, send))
    assert len(access.lines) == 1
    record = access.only
    assert record.method == "GET\\x0d\\x0aX"  # type: ignore[attr-defined]
    assert record.query == "?a=\\x0d\\x0ab"  # type: ignore[attr-defined]
    assert record.request_id == "id\\x0aforged"  # type: ignore[attr-defined]
    assert record.http_version == "1.1\\x0a"  # type: ignore[attr-defined]


def test_a_long_hostile_path_is_escaped_in_linear_time(access: Access, asgi_call: Call) -> None:
    path = "/" + "\x1b\n\\\u2028" * 25_000  # 100 kB
    asgi_call(LoggingMiddleware(raw), "GET", path)
    assert len(access.lines) == 1
    assert len(access.only.path) > len(path)  # type: ignore[attr-defined]


# -- WebSocket and lifespan -------------------------------------------------------------


def test_websocket_passes_through_unlogged(access: Access, ws_session: Session) -> None:
    from bare.websockets import WebSocket

    app = Bare()

    @app.websocket("/ws")
    async def chat(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("hi")

    app.add_middleware(LoggingMiddleware)
    sent = ws_session(app, "/ws", [])
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert access.records == []


def test_lifespan_passes_through(access: Access) -> None:
    started: list[bool] = []
    app = bare_app()

    @app.on_startup
    async def startup() -> None:
        started.append(True)

    with TestClient(app) as client:
        client.get("/hello")
    assert started == [True]
    assert len(access.records) == 1

    events: list[str] = []

    async def raw_lifespan(scope: Any, receive: Any, send: Any) -> None:
        events.append((await receive())["type"])
        await send({"type": "lifespan.startup.complete"})
        events.append((await receive())["type"])
        await send({"type": "lifespan.shutdown.complete"})

    with TestClient(LoggingMiddleware(raw_lifespan)):
        pass
    assert events == ["lifespan.startup", "lifespan.shutdown"]
    assert len(access.records) == 1


# -- files sent by path (the http.response.pathsend extension) ------------------------------


def test_a_file_sent_by_path_is_logged_with_its_size(access: Access, tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    path.write_bytes(b"x" * 100_000)
    app = Bare()
    app.add_middleware(LoggingMiddleware)

    @app.get("/report")
    async def report(request: Request) -> FileResponse:
        return FileResponse(path)

    client = RawClient(leave_when_done=True)
    client.run(app, http_scope("/report", extensions=PATHSEND))
    assert client.types() == ["http.response.start", "http.response.pathsend"]
    record = access.only
    assert (record.status, record.bytes) == (200, 100_000)
    assert " 200 100000B " in record.getMessage()

    # A server without the extension: the same count, from the body messages.
    plain = RawClient(leave_when_done=True)
    plain.run(app, http_scope("/report"))
    assert b"".join(plain.bodies()) == path.read_bytes()
    assert access.records[-1].bytes == 100_000


@pytest.mark.parametrize(
    ("length", "exists", "logged"),
    [(None, True, 1234), (None, False, 0), (b"1234", False, 1234), (b"12x", True, 1234)],
    ids=["stat", "missing", "declared", "bad_length"],
)
def test_a_file_sent_by_path_without_a_length_is_counted_from_the_file(
    access: Access, tmp_path: Path, length: bytes | None, exists: bool, logged: int
) -> None:
    path = tmp_path / "data.bin"
    if exists:
        path.write_bytes(b"y" * 1234)
    headers = [] if length is None else [(b"content-length", length)]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.pathsend", "path": str(path)})

    client = RawClient(leave_when_done=True)
    client.run(LoggingMiddleware(app), http_scope("/data", extensions=PATHSEND))
    assert (access.only.status, access.only.bytes) == (200, logged)


def test_head_and_not_modified_files_log_no_bytes(access: Access, tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(b"<p>hi</p>")
    app = LoggingMiddleware(FileResponse(path))
    head = RawClient(leave_when_done=True)
    head.run(app, http_scope(method="HEAD", extensions=PATHSEND))
    assert head.types() == ["http.response.start", "http.response.body"]
    etag = dict(head.start()["headers"])[b"etag"]
    cached = RawClient(leave_when_done=True)
    headers = [(b"host", b"testserver"), (b"if-none-match", etag)]
    cached.run(app, http_scope(headers=headers, extensions=PATHSEND))
    assert [(r.status, r.bytes) for r in access.records] == [(200, 0), (304, 0)]


def test_a_file_sent_by_path_through_the_whole_stack(access: Access, tmp_path: Path) -> None:
    # Every middleware that touches responses, around a handler's FileResponse: the file
    # still goes by path, with every middleware's headers, and is logged in full.
    from bare.middleware.compression import CompressionMiddleware
    from bare.middleware.cors import CORSMiddleware
    from bare.middleware.csrf import CSRFMiddleware
    from bare.middleware.function import FunctionMiddleware
    from bare.middleware.security import SecurityHeadersMiddleware
    from bare.middleware.sessions import SessionMiddleware
    from bare.middleware.timing import ServerTimingMiddleware

    async def tag(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["x-function"] = "yes"
        return response

    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG" + b"0" * 5000)
    secret = "s" * 32
    app = Bare()
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(LoggingMiddleware)
    app.add_middleware(CompressionMiddleware)
    app.add_middleware(ServerTimingMiddleware)
    app.add_middleware(CORSMiddleware, allow_origins=["https://app.example"])
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(SessionMiddleware, secret_key=secret)
    app.add_middleware(CSRFMiddleware, secret_key=secret)
    app.add_middleware(FunctionMiddleware, dispatch=tag)

    @app.get("/photo")
    async def photo(request: Request) -> FileResponse:
        request.session["seen"] = True
        return FileResponse(path)

    client = RawClient(leave_when_done=True)
    headers = [
        (b"host", b"testserver"),
        (b"accept-encoding", b"gzip"),
        (b"origin", b"https://app.example"),
    ]
    client.run(app, http_scope("/photo", headers=headers, extensions=PATHSEND))
    assert client.types() == ["http.response.start", "http.response.pathsend"]
    sent = client.start()["headers"]
    names = {name for name, _ in sent}
    assert {b"x-request-id", b"server-timing", b"access-control-allow-origin"} <= names
    assert {b"x-content-type-options", b"x-function", b"set-cookie"} <= names
    assert (b"content-length", b"5004") in sent and b"content-encoding" not in names
    assert (access.only.status, access.only.bytes) == (200, 5004)
