"""RequestIdMiddleware: ids from clients and generators, the echo, request.id, the
context variable and its logging filter; hostile ids; bare and raw ASGI apps."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from bare import Bare, Request
from bare.middleware import RESPONSE_HEADERS_KEY
from bare.middleware.request_id import (
    RequestIdFilter,
    RequestIdMiddleware,
    current_request_id,
    new_request_id,
)
from bare.requests import REQUEST_ID_KEY, HTTPConnection
from bare.responses import PlainTextResponse, StreamingResponse
from bare.testing import TestClient
from bare.websockets import WebSocket
from conftest import Reply
from servers import uvicorn

Call = Callable[..., Reply]
Session = Callable[..., list[dict[str, Any]]]

GENERATED = re.compile(r"[0-9a-f]{32}")
seen_by_raw: list[tuple[str | None, str | None]] = []


def bare_app(**options: Any) -> Bare:
    """A bare app whose handlers answer `request.id` and `current_request_id()`."""
    app = Bare()

    @app.get("/")
    async def home(request: Request) -> dict[str, Any]:
        return {"id": request.id, "current": current_request_id()}

    @app.get("/stream")
    async def stream(request: Request) -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            yield (request.id or "").encode()

        return StreamingResponse(parts())

    app.add_middleware(RequestIdMiddleware, **options)
    return app


async def raw(scope: Any, receive: Any, send: Any) -> None:
    """A raw ASGI app: answers with the id it finds in the scope and the context."""
    seen_by_raw.append((HTTPConnection(scope).id, current_request_id()))
    await PlainTextResponse(str(scope.get(REQUEST_ID_KEY)))({"type": "http"}, receive, send)


def ids_sent(reply: Reply, name: str = "x-request-id") -> list[str]:
    return reply.header_list(name)


# -- what every request gets ------------------------------------------------------------


def test_bare_app_generates_an_id_and_echoes_it() -> None:
    client = TestClient(bare_app())
    first, second = client.get("/"), client.get("/")
    for response in (first, second):
        body = response.json()
        assert GENERATED.fullmatch(body["id"])
        assert body["current"] == body["id"]
        assert response.headers.get_list("x-request-id") == [body["id"]]
    assert first.json()["id"] != second.json()["id"]


def test_bare_app_uses_the_hand_over_not_a_wrapped_send(asgi_call: Call) -> None:
    seen: list[Any] = []
    app = Bare()

    @app.get("/")
    async def home(request: Request) -> str:
        seen.append(list(request.scope[RESPONSE_HEADERS_KEY]))
        return "ok"

    app.add_middleware(RequestIdMiddleware)
    reply = asgi_call(app, "GET", "/")
    (request_id,) = ids_sent(reply)
    assert seen == [[(b"x-request-id", request_id.encode())]]


def test_raw_app_gets_a_wrapped_send(asgi_call: Call) -> None:
    seen_by_raw.clear()
    reply = asgi_call(RequestIdMiddleware(raw), "GET", "/")
    (request_id,) = ids_sent(reply)
    assert GENERATED.fullmatch(request_id)
    assert reply.body.decode() == request_id
    assert seen_by_raw == [(request_id, request_id)]


def test_raw_app_start_without_headers(asgi_call: Call) -> None:
    async def bare_minimum(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    reply = asgi_call(RequestIdMiddleware(bare_minimum), "GET", "/")
    assert reply.status == 204
    assert GENERATED.fullmatch(ids_sent(reply)[0])


@pytest.mark.parametrize("path", ["/stream", "/missing", "/stream/"])
def test_every_kind_of_bare_response_carries_it(asgi_call: Call, path: str) -> None:
    reply = asgi_call(bare_app(), "GET", path)
    (request_id,) = ids_sent(reply)
    assert GENERATED.fullmatch(request_id)
    if path == "/stream":
        assert reply.body.decode() == request_id


def test_request_id_is_none_without_the_middleware() -> None:
    app = Bare()

    @app.get("/")
    async def home(request: Request) -> dict[str, Any]:
        return {"id": request.id, "current": current_request_id()}

    response = TestClient(app).get("/")
    assert response.json() == {"id": None, "current": None}
    assert "x-request-id" not in response.headers


def test_generated_ids_are_unique_random_hex() -> None:
    ids = [new_request_id() for _ in range(2000)]  # crosses several refills of the pool
    assert len(set(ids)) == len(ids)
    assert all(GENERATED.fullmatch(i) for i in ids)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_reuse_the_parent_ids() -> None:
    new_request_id()  # the pool is filled: a child must not take the same ids
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.write(write, new_request_id().encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        child = pipe.read().decode()
    os.waitpid(pid, 0)
    assert GENERATED.fullmatch(child)
    assert child != new_request_id()


# -- ids from the client ----------------------------------------------------------------

GOOD = [
    "abc",
    "0f8fad5b-d9cb-469f-a165-70867728950e",
    "dGhpcyBpcyBiYXNlNjQ+Lw==",
    "a.b_c~d",
    "x" * 128,
    "7",
]


@pytest.mark.parametrize("given", GOOD)
@pytest.mark.parametrize("kind", ["bare", "raw"])
def test_a_well_formed_incoming_id_is_kept(asgi_call: Call, given: str, kind: str) -> None:
    app = bare_app() if kind == "bare" else RequestIdMiddleware(raw)
    headers = [(b"host", b"testserver"), (b"x-request-id", given.encode())]
    reply = asgi_call(app, "GET", "/", headers=headers)
    assert ids_sent(reply) == [given]
    assert given in reply.body.decode()


HOSTILE: list[tuple[str, list[bytes]]] = [
    ("129 characters", [b"x" * 129]),
    ("huge", [b"a" * 100_000]),
    ("empty", [b""]),
    ("space", [b"xyz uvw"]),
    ("leading space", [b" xyz"]),
    ("CR LF injection", [b"xyz\r\nSet-Cookie: evil=1"]),
    ("LF only", [b"xyz\nx-admin: 1"]),
    ("NUL", [b"xyz\x00"]),
    ("tab", [b"xyz\tuvw"]),
    ("ANSI escape", [b"\x1b[31mred"]),
    ("UTF-8", ["caf\u00e9".encode()]),
    ("latin-1", [b"caf\xe9"]),
    ("quote", [b'a"b']),
    ("semicolon and comma", [b"a;b,c"]),
    ("percent", [b"%0d%0a"]),
    ("two valid copies", [b"xyz", b"xyz"]),
    ("two different", [b"xyz", b"uvw"]),
    ("one good one bad", [b"xyz", b"a b"]),
]


@pytest.mark.parametrize(("case", "values"), HOSTILE, ids=[case for case, _ in HOSTILE])
@pytest.mark.parametrize("kind", ["bare", "raw"])
def test_a_malformed_incoming_id_is_replaced(
    asgi_call: Call, case: str, values: list[bytes], kind: str
) -> None:
    seen_by_raw.clear()
    app = bare_app() if kind == "bare" else RequestIdMiddleware(raw)
    headers = [(b"host", b"testserver"), *((b"x-request-id", v) for v in values)]
    reply = asgi_call(app, "GET", "/", headers=headers)
    assert reply.status == 200
    (request_id,) = ids_sent(reply)
    assert GENERATED.fullmatch(request_id), case
    # Nothing of the client's value got into the response headers.
    assert [name for name, _ in reply.headers].count(b"x-request-id") == 1
    assert b"set-cookie" not in [name for name, _ in reply.headers]
    assert b"x-admin" not in [name for name, _ in reply.headers]
    # (The values hold letters outside the hex digits of a generated id.)
    for value in values:
        if value:
            assert all(value not in header for _, header in reply.headers)


def test_header_names_of_any_case_are_read(asgi_call: Call) -> None:
    headers = [(b"X-Request-ID", b"from-a-raw-server")]
    reply = asgi_call(RequestIdMiddleware(raw), "GET", "/", headers=headers)
    assert ids_sent(reply) == ["from-a-raw-server"]


def test_trust_incoming_false_ignores_the_client(asgi_call: Call) -> None:
    headers = [(b"host", b"testserver"), (b"x-request-id", b"abc")]
    reply = asgi_call(bare_app(trust_incoming=False), "GET", "/", headers=headers)
    (request_id,) = ids_sent(reply)
    assert request_id != "abc"
    assert GENERATED.fullmatch(request_id)


def test_max_length_bounds_incoming_ids(asgi_call: Call) -> None:
    app = bare_app(max_length=8)
    kept = asgi_call(app, "GET", "/", headers=[(b"x-request-id", b"12345678")])
    assert ids_sent(kept) == ["12345678"]
    replaced = asgi_call(app, "GET", "/", headers=[(b"x-request-id", b"123456789")])
    assert GENERATED.fullmatch(ids_sent(replaced)[0])


def test_another_header_name(asgi_call: Call) -> None:
    app = bare_app(header="X-Correlation-ID")
    headers = [(b"x-request-id", b"ignored"), (b"x-correlation-id", b"corr-1")]
    reply = asgi_call(app, "GET", "/", headers=headers)
    assert ids_sent(reply, "x-correlation-id") == ["corr-1"]
    assert ids_sent(reply) == []
    assert reply.json()["id"] == "corr-1"


# -- the generator option ---------------------------------------------------------------


def test_a_generator_makes_the_ids(asgi_call: Call) -> None:
    numbers = iter(range(1, 100))

    def counter() -> str:
        return f"req-{next(numbers)}"

    app = bare_app(generator=counter)  # called once when built: req-1
    assert ids_sent(asgi_call(app, "GET", "/")) == ["req-2"]
    assert ids_sent(asgi_call(RequestIdMiddleware(raw, generator=counter), "GET", "/")) == ["req-4"]
    # A client's id still wins when it is well-formed.
    reply = asgi_call(app, "GET", "/", headers=[(b"x-request-id", b"mine")])
    assert ids_sent(reply) == ["mine"]


@pytest.mark.parametrize(
    "output", [42, None, b"bytes", "", "has space", "new\r\nline", "x" * 129, "caf\u00e9"]
)
def test_a_generator_that_returns_bad_ids_is_refused_when_built(output: Any) -> None:
    with pytest.raises(ValueError, match=r"generator .* returned"):
        RequestIdMiddleware(raw, generator=lambda: output)


def test_a_generator_that_goes_bad_later_fails_the_request_not_the_header(
    asgi_call: Call,
) -> None:
    outputs = iter(["fine", "evil\r\nset-cookie: a=1"])
    middleware = RequestIdMiddleware(raw, generator=lambda: next(outputs))
    with pytest.raises(ValueError, match="returned 'evil"):
        asgi_call(middleware, "GET", "/")

    outputs = iter(["fine", "evil\r\nset-cookie: a=1"])
    app = Bare()

    @app.get("/")
    async def home(request: Request) -> str:
        return "never"

    app.add_middleware(RequestIdMiddleware, generator=lambda: next(outputs))
    response = TestClient(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500
    assert "set-cookie" not in response.headers
    assert "evil" not in response.text


# -- configuration mistakes -------------------------------------------------------------


@pytest.mark.parametrize(
    "header", ["", "X Request", "X-Id\r\n", "x-id:", "caf\u00e9", "(id)", None, b"x-id"]
)
def test_bad_header_names_are_refused(header: Any) -> None:
    with pytest.raises(ValueError, match="header name"):
        RequestIdMiddleware(raw, header=header)


@pytest.mark.parametrize("max_length", [0, -1, True, "128", 1.5, None])
def test_bad_max_length_is_refused(max_length: Any) -> None:
    with pytest.raises(ValueError, match="max_length"):
        RequestIdMiddleware(raw, max_length=max_length)


def test_other_bad_options_are_refused() -> None:
    with pytest.raises(TypeError, match="generator must be a callable"):
        RequestIdMiddleware(raw, generator="uuid4")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="trust_incoming must be True or False"):
        RequestIdMiddleware(raw, trust_incoming="no")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        RequestIdMiddleware(raw, "X-Request-ID")  # type: ignore[call-arg]


def test_is_valid() -> None:
    middleware = RequestIdMiddleware(raw, max_length=4)
    assert middleware.is_valid("ab-=")
    assert not middleware.is_valid("abcde")
    assert not middleware.is_valid(b"ab")
    assert not middleware.is_valid("")


# -- the context variable and the logging filter ---------------------------------------


def test_the_context_variable_is_reset_after_the_request() -> None:
    seen: list[str | None] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(current_request_id())
        if scope["path"] == "/fail":
            raise RuntimeError("boom")
        await PlainTextResponse("ok")(scope, receive, send)

    middleware = RequestIdMiddleware(app)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        pass

    async def main() -> list[str | None]:
        outside = [current_request_id()]
        scope = {"type": "http", "path": "/", "headers": [(b"x-request-id", b"first")]}
        await middleware(scope, receive, send)
        outside.append(current_request_id())
        with pytest.raises(RuntimeError, match="boom"):
            await middleware({"type": "http", "path": "/fail", "headers": []}, receive, send)
        outside.append(current_request_id())
        return outside

    assert asyncio.run(main()) == [None, None, None]
    assert seen[0] == "first"
    assert GENERATED.fullmatch(seen[1] or "")


def test_nested_middleware_restore_the_outer_id() -> None:
    seen: list[str | None] = []

    async def inner_app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(current_request_id())

    inner = RequestIdMiddleware(inner_app, trust_incoming=False, generator=lambda: "inner")

    async def outer_app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(current_request_id())
        await inner(dict(scope), receive, send)
        seen.append(current_request_id())

    outer = RequestIdMiddleware(outer_app, generator=lambda: "outer")

    async def nothing() -> dict[str, Any]:
        return {}

    async def drop(message: Any) -> None:
        pass

    asyncio.run(outer({"type": "websocket", "headers": []}, nothing, drop))
    assert seen == ["outer", "inner", "outer"]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def app_log() -> Iterator[Records]:
    """Records of the logger "tests.handlers", through a handler with RequestIdFilter."""
    handler = Records()
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("tests.handlers")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def test_the_filter_puts_the_id_on_every_record(app_log: Records) -> None:
    app = Bare()

    @app.get("/")
    async def home(request: Request) -> str:
        logging.getLogger("tests.handlers").info("handling")
        return request.id or ""

    app.add_middleware(RequestIdMiddleware)
    client = TestClient(app)
    ids = [client.get("/").text for _ in range(3)]
    logging.getLogger("tests.handlers").info("outside")
    assert [record.request_id for record in app_log.records] == [*ids, "-"]  # type: ignore[attr-defined]


def test_the_filter_keeps_an_id_already_on_the_record(app_log: Records) -> None:
    logging.getLogger("tests.handlers").info("given", extra={"request_id": "given-1"})
    assert app_log.records[0].request_id == "given-1"  # type: ignore[attr-defined]


def test_the_filter_in_a_format_string() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    assert RequestIdFilter().filter(record)
    assert logging.Formatter("[%(request_id)s] %(message)s").format(record) == "[-] hello"


# -- WebSocket and lifespan -------------------------------------------------------------


def test_websocket_gets_an_id_but_no_header(ws_session: Session) -> None:
    app = Bare()
    seen: list[Any] = []

    @app.websocket("/ws")
    async def chat(ws: WebSocket) -> None:
        seen.append((ws.id, current_request_id()))
        await ws.accept()
        await ws.send_text(ws.id or "")

    app.add_middleware(RequestIdMiddleware)
    sent = ws_session(app, "/ws", [], headers=[(b"x-request-id", b"ws-1")])
    assert seen == [("ws-1", "ws-1")]
    assert sent[0]["type"] == "websocket.accept"
    assert all(name.lower() != b"x-request-id" for name, _ in sent[0].get("headers", []))
    assert sent[1]["text"] == "ws-1"


def test_websocket_on_a_raw_app(ws_session: Session) -> None:
    seen: list[Any] = []

    async def ws_app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope[REQUEST_ID_KEY], current_request_id()))
        await receive()
        await send({"type": "websocket.close", "code": 1000})

    sent = ws_session(RequestIdMiddleware(ws_app), "/", [], headers=[(b"x-request-id", b"a b")])
    ((request_id, current),) = seen
    assert GENERATED.fullmatch(request_id)
    assert current == request_id
    assert sent == [{"type": "websocket.close", "code": 1000}]


def test_lifespan_passes_through() -> None:
    app = Bare()
    started: list[bool] = []

    @app.on_startup
    async def startup() -> None:
        started.append(current_request_id() is None)

    @app.get("/")
    async def home(request: Request) -> str:
        return "ok"

    app.add_middleware(RequestIdMiddleware)
    with TestClient(app) as client:
        assert client.get("/").status_code == 200
    assert started == [True]

    scopes: list[Any] = []

    async def raw_lifespan(scope: Any, receive: Any, send: Any) -> None:
        scopes.append(scope)
        assert (await receive())["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.complete"})
        assert (await receive())["type"] == "lifespan.shutdown"
        await send({"type": "lifespan.shutdown.complete"})

    with TestClient(RequestIdMiddleware(raw_lifespan)):
        pass
    assert len(scopes) == 1
    assert REQUEST_ID_KEY not in scopes[0]


# -- a real server ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    yield from uvicorn("apps.mw_basic:app")


def test_real_server_echoes_the_id_and_sends_server_timing(server: str) -> None:
    import httpx

    with httpx.Client(base_url=f"http://{server}", timeout=10) as client:
        given = client.get("/", headers={"x-request-id": "live-123"})
        assert given.status_code == 200
        assert given.headers.get_list("x-request-id") == ["live-123"]
        assert given.json()["id"] == "live-123"

        made = client.get("/", headers={"x-request-id": "no good"})
        assert GENERATED.fullmatch(made.headers["x-request-id"])
        assert made.json()["id"] == made.headers["x-request-id"]

        timing = made.headers["server-timing"]
        assert re.fullmatch(r'db;dur=12\.5;desc="primary", app;dur=\d+\.\d{3}', timing)
