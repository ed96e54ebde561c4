"""Bare as an ASGI app: return values, errors, framing checks, middleware and lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bare import Bare, HTTPException, JSONResponse, PlainTextResponse, Request
from bare.responses import StreamingResponse

Call = Callable[..., Any]


# -- what handlers return ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "content_type", "body"),
    [
        (None, "text/plain; charset=utf-8", b""),
        ("caf\u00e9", "text/plain; charset=utf-8", "caf\u00e9".encode()),
        (b"\x00\x01", "application/octet-stream", b"\x00\x01"),
        ({"a": 1}, "application/json", b'{"a":1}'),
        ([1, "two"], "application/json", b'[1,"two"]'),
        (42, "application/json", b"42"),
        (True, "application/json", b"true"),
    ],
)
def test_return_values_become_responses(
    asgi_call: Call, value: Any, content_type: str, body: bytes
) -> None:
    app = Bare()
    app.add_route("/", lambda request: value)
    reply = asgi_call(app, "GET", "/")
    assert (reply.status, reply.header("content-type"), reply.body) == (200, content_type, body)


def test_sync_handlers_run_in_a_thread(asgi_call: Call) -> None:
    app = Bare()
    loop_thread = []

    @app.get("/sync")
    def blocking(request: Request) -> Any:
        return {"same_thread": threading.get_ident() == loop_thread[0]}

    @app.get("/async")
    async def non_blocking(request: Request) -> Any:
        loop_thread.append(threading.get_ident())
        return "ok"

    assert asgi_call(app, "GET", "/async").body == b"ok"
    # Each call runs its own loop in this thread, so the ids are comparable.
    assert asgi_call(app, "GET", "/sync").json() == {"same_thread": False}


# -- errors -----------------------------------------------------------------------------


def test_http_exception(asgi_call: Call) -> None:
    app = Bare()

    @app.get("/")
    async def index(request: Request) -> Any:
        raise HTTPException(418, "short and stout", headers={"x-teapot": "yes"})

    @app.get("/plain")
    async def plain(request: Request) -> Any:
        raise HTTPException(403)

    reply = asgi_call(app, "GET", "/")
    assert (reply.status, reply.json(), reply.header("x-teapot")) == (
        418,
        {"detail": "short and stout"},
        "yes",
    )
    assert asgi_call(app, "GET", "/plain").json() == {"detail": "Forbidden"}


def test_unhandled_errors_are_a_generic_500_and_logged(
    asgi_call: Call, caplog: pytest.LogCaptureFixture
) -> None:
    app = Bare()

    @app.get("/")
    async def index(request: Request) -> Any:
        raise KeyError("secret-internal-detail")

    with caplog.at_level(logging.ERROR, logger="bare.error"):
        reply = asgi_call(app, "GET", "/", headers=[(b"accept", b"text/html")])
    assert (reply.status, reply.json()) == (500, {"detail": "Internal Server Error"})
    assert b"secret" not in reply.body
    assert "secret-internal-detail" in caplog.text and "Traceback" in caplog.text


def test_debug_shows_the_traceback_on_loopback_only(asgi_call: Call) -> None:
    app = Bare(debug=True)

    @app.get("/")
    async def index(request: Request) -> Any:
        raise ValueError("boom <b>")

    html = asgi_call(
        app, "GET", "/", headers=[(b"accept", b"text/html")], server=("127.0.0.1", 8000)
    )
    assert html.status == 500 and html.header("content-type") == "text/html; charset=utf-8"
    assert b"ValueError: boom &lt;b&gt;" in html.body and b"Traceback" in html.body
    js = asgi_call(
        app, "GET", "/", headers=[(b"accept", b"application/json")], server=("::1", 8000)
    )
    assert js.json()["detail"]["error"] == "ValueError"
    assert any("raise ValueError" in line for line in js.json()["detail"]["traceback"])
    public = asgi_call(
        app, "GET", "/", headers=[(b"accept", b"text/html")], server=("0.0.0.0", 8000)
    )
    assert public.json() == {"detail": "Internal Server Error"}


def test_the_debug_page_shows_an_exceptions_notes_under_its_message(asgi_call: Call) -> None:
    app = Bare(debug=True)

    @app.get("/")
    async def index(request: Request) -> Any:
        error = ValueError("boom")
        error.__notes__ = ["in template 'page.html', line 3", "<i>escaped</i>"]  # add_note()
        raise error

    page = asgi_call(
        app, "GET", "/", headers=[(b"accept", b"text/html")], server=("127.0.0.1", 8000)
    )
    head = page.body.split(b"<pre>", 1)[0]  # above the traceback
    assert b"<p>ValueError: boom</p><p>in template &#x27;page.html&#x27;, line 3</p>" in head
    assert b"<p>&lt;i&gt;escaped&lt;/i&gt;</p>" in head


def test_exception_handlers_by_class_and_status(asgi_call: Call) -> None:
    app = Bare()

    class OutOfStock(Exception):
        pass

    class Discontinued(OutOfStock):
        pass

    @app.exception_handler(OutOfStock)
    async def out_of_stock(request: Request, exc: Exception) -> Any:
        return JSONResponse({"error": type(exc).__name__, "path": request.path}, status=409)

    @app.exception_handler(404)
    def not_found(request: Request, exc: Exception) -> Any:
        return PlainTextResponse(f"nothing at {request.path}", status=404)

    @app.get("/item")
    async def item(request: Request) -> Any:
        raise Discontinued()

    @app.get("/missing")
    async def missing(request: Request) -> Any:
        raise HTTPException(404)

    assert asgi_call(app, "GET", "/item").json() == {"error": "Discontinued", "path": "/item"}
    assert asgi_call(app, "GET", "/missing").body == b"nothing at /missing"
    assert asgi_call(app, "GET", "/nowhere").body == b"nothing at /nowhere"  # router 404s too


def test_405_handler_keeps_allow(asgi_call: Call) -> None:
    app = Bare()
    app.add_route("/only-get", lambda r: "x")

    @app.exception_handler(405)
    async def not_allowed(request: Request, exc: HTTPException) -> Any:
        return JSONResponse({"allowed": exc.headers}, status=405, headers=exc.headers)

    reply = asgi_call(app, "POST", "/only-get")
    assert reply.json() == {"allowed": {"allow": "GET, HEAD, OPTIONS"}}
    assert reply.header("allow") == "GET, HEAD, OPTIONS"


def test_a_500_handler_takes_unhandled_exceptions(asgi_call: Call) -> None:
    app = Bare()

    @app.exception_handler(500)
    async def oops(request: Request, exc: Exception) -> Any:
        return PlainTextResponse(f"sorry ({type(exc).__name__})", status=500)

    @app.get("/")
    async def index(request: Request) -> Any:
        raise LookupError("x")

    @app.get("/teapot")
    async def teapot(request: Request) -> Any:
        raise HTTPException(418)

    assert asgi_call(app, "GET", "/").body == b"sorry (LookupError)"
    assert asgi_call(app, "GET", "/teapot").json() == {"detail": "I'm a Teapot"}


def test_a_failing_exception_handler_gives_a_plain_500(asgi_call: Call) -> None:
    app = Bare()

    @app.exception_handler(ValueError)
    async def broken(request: Request, exc: Exception) -> Any:
        raise RuntimeError("handler bug")

    @app.get("/")
    async def index(request: Request) -> Any:
        raise ValueError("x")

    assert asgi_call(app, "GET", "/").json() == {"detail": "Internal Server Error"}


def test_error_after_the_response_started_reaches_the_server(asgi_call: Call) -> None:
    app = Bare()

    async def chunks() -> AsyncIterator[bytes]:
        yield b"first"
        raise RuntimeError("mid-stream")

    @app.get("/")
    async def index(request: Request) -> Any:
        return StreamingResponse(chunks())

    # The server sees the exception and drops the connection; no second response.
    with pytest.raises(RuntimeError, match="mid-stream"):
        asgi_call(app, "GET", "/")


# -- framing (smuggling defence) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        (
            [(b"content-length", b"5"), (b"transfer-encoding", b"chunked")],
            "Request has both Content-Length and Transfer-Encoding",
        ),
        (
            [(b"Transfer-Encoding", b"chunked"), (b"Content-Length", b"5")],
            "Request has both Content-Length and Transfer-Encoding",
        ),
        (
            [(b"content-length", b"5"), (b"content-length", b"5")],
            "Request has more than one Content-Length header",
        ),
        ([(b"host", b"a"), (b"HOST", b"b")], "Request has more than one Host header"),
    ],
)
def test_ambiguous_framing_is_refused(asgi_call: Call, headers: list[Any], detail: str) -> None:
    app = Bare()
    called = []
    app.add_route("/", lambda r: called.append(1), ["GET", "POST"])
    reply = asgi_call(app, "POST", "/", headers=headers)
    assert (reply.status, reply.json(), reply.header("connection")) == (
        400,
        {"detail": detail},
        "close",
    )
    assert called == []


# -- middleware ---------------------------------------------------------------------------


class Tag:
    """A pure ASGI middleware that records the order it runs in."""

    def __init__(self, app: Any, name: str, log: list[str]) -> None:
        self.app, self.name, self.log = app, name, log

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.log.append(f"{self.name}:{scope['type']}:{type(scope.get('app')).__name__}")
        await self.app(scope, receive, send)


def test_middleware_order_and_freeze(asgi_call: Call) -> None:
    log: list[str] = []
    app = Bare()
    app.add_route("/", lambda r: "ok")
    app.add_middleware(Tag, name="outer", log=log)  # the first added is outermost
    app.add_middleware(Tag, name="inner", log=log)
    assert asgi_call(app, "GET", "/").body == b"ok"
    assert log == ["outer:http:Bare", "inner:http:Bare"]
    with pytest.raises(RuntimeError, match="after the application has started"):
        app.add_middleware(Tag, name="late", log=log)


# -- lifespan -------------------------------------------------------------------------------


def run_lifespan(app: Any, state: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope: dict[str, Any] = {"type": "lifespan", "asgi": {"version": "3.0"}}
    if state is not None:
        scope["state"] = state
    asyncio.run(app(scope, receive, send))
    return sent


def test_startup_and_shutdown_handlers_sync_and_async() -> None:
    events: list[str] = []
    app = Bare(on_startup=[lambda: events.append("first")])

    @app.on_startup
    async def second() -> None:
        events.append("second")

    @app.on_shutdown
    def bye() -> None:
        events.append("bye")

    sent = run_lifespan(app)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert events == ["first", "second", "bye"]


def test_lifespan_context_manager_with_state(asgi_call: Call) -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Bare) -> AsyncIterator[dict[str, Any]]:
        events.append("enter")
        yield {"db": "connected"}
        events.append("exit")

    state: dict[str, Any] = {}
    sent = run_lifespan(Bare(lifespan=lifespan), state)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert events == ["enter", "exit"] and state == {"db": "connected"}


def test_startup_failure_is_reported() -> None:
    app = Bare()

    @app.on_startup
    async def explode() -> None:
        raise ConnectionError("database unreachable")

    sent = run_lifespan(app)
    assert sent == [
        {"type": "lifespan.startup.failed", "message": "ConnectionError: database unreachable"}
    ]


def test_shutdown_runs_every_handler_and_reports_failures(caplog: pytest.LogCaptureFixture) -> None:
    events: list[str] = []
    app = Bare()

    @app.on_shutdown
    async def first() -> None:
        raise RuntimeError("first failed")

    @app.on_shutdown
    def second() -> None:
        events.append("second ran")

    with caplog.at_level(logging.ERROR, logger="bare"):
        sent = run_lifespan(app)
    assert events == ["second ran"]
    assert sent[-1] == {"type": "lifespan.shutdown.failed", "message": "RuntimeError: first failed"}
    assert "first failed" in caplog.text


def test_the_stack_is_built_at_startup() -> None:
    app = Bare()
    run_lifespan(app)
    with pytest.raises(RuntimeError):
        app.add_middleware(Tag, name="late", log=[])


def test_exception_handler_values_keep_the_error_status(asgi_call: Call) -> None:
    app = Bare()

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception) -> Any:
        return {"missing": request.path}

    @app.exception_handler(KeyError)
    def key_error(request: Request, exc: Exception) -> Any:
        return "no such key"

    @app.get("/key")
    async def key(request: Request) -> Any:
        raise KeyError("k")

    reply = asgi_call(app, "GET", "/nope")
    assert (reply.status, reply.json()) == (404, {"missing": "/nope"})
    reply = asgi_call(app, "GET", "/key")
    assert (reply.status, reply.body) == (500, b"no such key")


def test_http_exception_headers_are_checked_when_raised() -> None:
    with pytest.raises(ValueError, match="x-bad"):
        HTTPException(400, headers={"x-bad": "a\r\nb"})


def test_lifespan_state_without_server_support_leaves_the_context() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Bare) -> AsyncIterator[dict[str, Any]]:
        events.append("enter")
        try:
            yield {"db": 1}
        finally:
            events.append("exit")

    sent = run_lifespan(Bare(lifespan=lifespan))  # no "state" in the scope
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert "does not support lifespan state" in sent[0]["message"]
    assert events == ["enter", "exit"]


@pytest.mark.parametrize(
    ("server", "shown"),
    [
        (("127.0.0.1", 8000), True),
        (("::1", 8000), True),
        (("/run/app.sock", None), True),
        (("10.0.0.5", 8000), False),
        (("example.com", 80), False),
        (None, False),
    ],
)
def test_debug_pages_only_on_loopback_or_unix_sockets(server: Any, shown: bool) -> None:
    from bare._errors import is_loopback

    scope: dict[str, Any] = {"type": "http"}
    if server is not None:
        scope["server"] = server
    assert is_loopback(scope) is shown


def test_too_many_headers_is_a_431(asgi_call: Call) -> None:
    app = Bare(max_headers=10)
    app.add_route("/", lambda r: "ok")
    few = [(b"x-%d" % i, b"v") for i in range(10)]
    assert asgi_call(app, "GET", "/", headers=few).body == b"ok"
    reply = asgi_call(app, "GET", "/", headers=[*few, (b"x-one-more", b"v")])
    assert (reply.status, reply.json()) == (431, {"detail": "Too many request headers (limit 10)"})
    assert reply.header("connection") == "close"
