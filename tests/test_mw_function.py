"""FunctionMiddleware: `async def mw(request, call_next)`, on bare apps and raw ASGI apps.

Most tests go through `TestClient`; those about what happens between the app and the
server (the order of chunks, a client that leaves, servers of older ASGI specs, whose
streaming responses send from another task) play the server themselves (`Server`).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bare import Bare, Request
from bare.background import BackgroundTask
from bare.exceptions import HTTPException
from bare.middleware import add_response_headers
from bare.middleware.function import FunctionMiddleware, check_dispatch
from bare.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from bare.testing import TestClient
from raw_asgi import PATHSEND, RawClient, http_scope

Message = dict[str, Any]
CallNext = Callable[[Request], Awaitable[Response]]
SPECS = ["2.0", "2.3", "2.4"]  # below 2.4, bare's StreamingResponse sends from a task of its own


class Server:
    """Plays the server for one request and records what the app sends.

    After the body, `receive()` waits until the response is complete (or the client
    has gone, `leave()`) and then says `http.disconnect`. `fail_at=n` makes `send`
    raise OSError for the n-th body message, as a server of ASGI 2.4 does once the
    client has gone.
    """

    def __init__(
        self,
        path: str = "/",
        *,
        method: str = "GET",
        spec: str = "2.4",
        chunks: list[bytes] | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
        fail_at: int | None = None,
    ) -> None:
        self.scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": spec},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": headers or [(b"host", b"testserver")],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        chunks = chunks or [b""]
        self.incoming: list[Message] = [
            {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
            for i, chunk in enumerate(chunks)
        ]
        self.sent: list[Message] = []
        self.fail_at = fail_at
        self.gone = asyncio.Event()  # the response is complete, or the client left
        self.complete = asyncio.Event()

    def leave(self) -> None:
        self.gone.set()

    async def receive(self) -> Message:
        if self.incoming:
            return self.incoming.pop(0)
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.body":
            if self.fail_at is not None and len(self.bodies()) + 1 >= self.fail_at:
                self.leave()
                raise OSError("the client has gone")
            if not message.get("more_body", False):
                self.complete.set()
                self.gone.set()
        self.sent.append(message)

    async def serve(self, app: Any) -> Server:
        await app(self.scope, self.receive, self.send)
        return self

    def bodies(self) -> list[bytes]:
        return [m.get("body", b"") for m in self.sent if m["type"] == "http.response.body"]

    @property
    def start(self) -> Message:
        return next(m for m in self.sent if m["type"] == "http.response.start")

    def header(self, name: str) -> list[bytes]:
        return [v for k, v in self.start["headers"] if k == name.encode()]


def serve(app: Any, path: str = "/", **options: Any) -> Server:
    async def main() -> Server:
        return await Server(path, **options).serve(app)

    return asyncio.run(main())


async def add_header(request: Request, call_next: CallNext) -> Response:
    response = await call_next(request)
    response.headers["x-mw"] = "yes"
    return response


def bare_with(dispatch: Any, *inner: Any) -> Bare:
    """A bare app with `dispatch` as its outermost middleware, then `inner` ones."""
    app = Bare()
    app.add_middleware(FunctionMiddleware, dispatch=dispatch)
    for middleware in inner:
        app.add_middleware(middleware)
    return app


async def raw_text(scope: Any, receive: Any, send: Any) -> None:
    """A bare-minimum ASGI app."""
    headers = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"raw"})


# -- what a middleware function can be ---------------------------------------------------


def test_check_dispatch_refuses_what_cannot_be_a_middleware_function() -> None:
    def sync(request: Any, call_next: Any) -> Any:
        return None

    async def one(request: Any) -> Any:
        return None

    with pytest.raises(TypeError, match="must be callable, not int"):
        check_dispatch(42)
    with pytest.raises(TypeError, match=r"must be async: `async def .*sync\(request, call_next\)"):
        check_dispatch(sync)
    with pytest.raises(TypeError, match=r"must take two arguments: \(request, call_next\)"):
        check_dispatch(one)
    with pytest.raises(TypeError, match="must be async"):
        FunctionMiddleware(raw_text, dispatch=sync)


def test_check_dispatch_accepts_async_functions_partials_and_objects() -> None:
    async def with_option(request: Any, call_next: Any, suffix: str = "") -> Any:
        return await call_next(request)

    class Dispatcher:
        async def __call__(self, request: Any, call_next: Any) -> Any:
            return await call_next(request)

    exclaiming = functools.partial(with_option, suffix="!")
    for dispatch in (add_header, with_option, exclaiming, Dispatcher()):
        check_dispatch(dispatch)
        client = TestClient(FunctionMiddleware(raw_text, dispatch=dispatch))
        assert client.get("/").text == "raw"


@pytest.mark.skipif(not hasattr(Bare, "middleware"), reason="Bare.middleware() not there yet")
def test_the_app_decorator_adds_a_function_middleware() -> None:
    app = Bare()

    @app.middleware("http")
    async def tag(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        response.headers["x-tag"] = "1"
        return response

    assert tag.__name__ == "tag"  # the function itself is given back
    app.add_route("/", lambda request: "ok")
    assert TestClient(app).get("/").headers["x-tag"] == "1"

    with pytest.raises(ValueError, match="websocket"):
        app.middleware("websocket")
    with pytest.raises(TypeError, match="must be async"):
        app.middleware("http")(lambda request, call_next: None)


def test_importing_bare_does_not_import_the_middleware() -> None:
    code = "import sys, bare; print('bare.middleware.function' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# -- passing through ---------------------------------------------------------------------


def test_websocket_and_lifespan_scopes_pass_through() -> None:
    calls: list[str] = []

    async def dispatch(request: Request, call_next: CallNext) -> Response:
        calls.append(request.path)
        return await call_next(request)

    app = bare_with(dispatch)
    started: list[bool] = []
    app.on_startup(lambda: started.append(True))

    @app.websocket("/ws")
    async def echo(ws: Any) -> None:
        await ws.accept()
        await ws.send_text(await ws.receive_text())
        await ws.close()

    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "hi"
    assert started == [True]
    assert calls == []  # only HTTP requests reach the function


# -- the response from call_next ---------------------------------------------------------


def make_app(tmp_path: Path) -> Bare:
    app = bare_with(add_header)
    (tmp_path / "f.txt").write_text("file body")

    @app.get("/json")
    async def as_json(request: Request) -> Any:
        return {"a": 1}

    @app.get("/text")
    async def text(request: Request) -> Any:
        return "hello"

    @app.get("/stream")
    async def stream(request: Request) -> Any:
        async def chunks() -> AsyncIterator[str]:
            yield "a"
            yield "b"

        return StreamingResponse(chunks(), content_type="text/plain")

    @app.get("/file")
    async def file(request: Request) -> Any:
        return FileResponse(tmp_path / "f.txt")

    @app.get("/dir/")
    async def slash(request: Request) -> Any:
        return "dir"

    return app


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("GET", "/json", 200, b'{"a":1}'),
        ("GET", "/text", 200, b"hello"),
        ("GET", "/stream", 200, b"ab"),
        ("GET", "/file", 200, b"file body"),
        ("GET", "/missing", 404, b'{"detail":"Not Found"}'),
        ("POST", "/json", 405, b'{"detail":"Method Not Allowed"}'),
        ("GET", "/dir", 308, b""),
        ("HEAD", "/json", 200, b""),
        ("HEAD", "/stream", 200, b""),
    ],
)
def test_headers_set_on_the_response_reach_every_kind_of_response(
    tmp_path: Path, method: str, path: str, status: int, body: bytes
) -> None:
    response = TestClient(make_app(tmp_path)).request(method, path)
    assert response.status_code == status
    assert response.content == body
    assert response.headers["x-mw"] == "yes"


def test_head_keeps_the_headers_of_the_get(tmp_path: Path) -> None:
    client = TestClient(make_app(tmp_path))
    get, head = client.get("/json"), client.head("/json")
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"] == "7"


def test_status_and_headers_can_be_changed_and_removed() -> None:
    async def dispatch(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        assert response.status == response.status_code == 200
        assert response.headers["content-type"] == "text/plain"
        response.status = 201
        del response.headers["content-type"]
        response.set_cookie("seen", "1")
        return response

    response = TestClient(FunctionMiddleware(raw_text, dispatch=dispatch)).get("/")
    assert response.status_code == 201
    assert "content-type" not in response.headers
    assert response.headers["set-cookie"].startswith("seen=1;")
    assert response.text == "raw"


def test_a_header_value_with_a_line_break_is_refused_where_it_is_set() -> None:
    async def dispatch(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        response.headers["x-echo"] = request.query("v")  # an attacker's value
        return response

    app = bare_with(dispatch)
    app.add_route("/", lambda request: "ok")
    response = TestClient(app, raise_server_exceptions=False).get("/", params={"v": "a\r\nx: y"})
    assert response.status_code == 500
    assert "x" not in response.headers and "x-echo" not in response.headers
    assert response.json() == {"detail": "Internal Server Error"}


def test_headers_handed_over_by_an_outer_middleware_are_sent_once() -> None:
    class Outer:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            add_response_headers(scope, [(b"x-outer", b"1")])
            await self.app(scope, receive, send)

    async def early(request: Request, call_next: CallNext) -> Response:
        if request.path == "/early":
            return PlainTextResponse("early")
        return await call_next(request)

    app = Bare()
    app.add_middleware(Outer)
    app.add_middleware(FunctionMiddleware, dispatch=early)
    app.add_route("/", lambda request: "ok")
    client = TestClient(app)
    for path in ("/", "/early"):
        assert client.get(path).headers.get_list("x-outer") == ["1"]


def test_the_body_of_the_response_streams_and_cannot_be_set() -> None:
    seen: list[str] = []

    async def dispatch(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        with pytest.raises(AttributeError, match="body_iterator"):
            response.body  # noqa: B018
        with pytest.raises(AttributeError, match="return a new response"):
            response.body = b"x"
        seen.append("checked")
        return response

    assert TestClient(FunctionMiddleware(raw_text, dispatch=dispatch)).get("/").text == "raw"
    assert seen == ["checked"]


# -- answering instead of the app -------------------------------------------------------


def test_a_function_can_answer_without_calling_the_app() -> None:
    handled: list[str] = []

    async def guard(request: Request, call_next: CallNext) -> Response:
        if request.header("x-token") != "secret":
            return JSONResponse({"detail": "Forbidden"}, 403)
        return await call_next(request)

    app = bare_with(guard)

    @app.post("/")
    async def handler(request: Request) -> Any:
        handled.append(request.method)
        return await request.body()

    client = TestClient(app)
    refused = client.post("/", content=b"data")
    assert (refused.status_code, refused.json()) == (403, {"detail": "Forbidden"})
    assert handled == []
    assert client.post("/", content=b"data", headers={"x-token": "secret"}).content == b"data"
    assert handled == ["POST"]


def test_returning_another_response_cancels_an_unfinished_stream() -> None:
    log: list[str] = []

    async def replace(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        assert await response.body_iterator.__anext__() == b"x"
        return PlainTextResponse("replaced")

    app = bare_with(replace)

    @app.get("/")
    async def endless(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            try:
                while True:
                    log.append("chunk")
                    yield b"x"
            finally:
                log.append("closed")

        return StreamingResponse(chunks())

    for spec in SPECS:
        log.clear()
        server = serve(app, spec=spec)
        assert server.bodies() == [b"replaced"]
        assert log == ["chunk", "closed"]  # never ran ahead, and was closed


def test_returning_another_response_cancels_an_app_waiting_for_something_else() -> None:
    log: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await asyncio.Event().wait()  # never set
        except asyncio.CancelledError:
            log.append("cancelled")
            raise

    async def replace(request: Request, call_next: CallNext) -> Response:
        await call_next(request)
        log.append("replacing")
        return PlainTextResponse("replaced")

    server = serve(FunctionMiddleware(app, dispatch=replace))
    assert server.bodies() == [b"replaced"]
    assert log == ["replacing", "cancelled"]


def test_reading_the_body_and_answering_with_a_new_one() -> None:
    log: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hello ", "more_body": True})
        await send({"type": "http.response.body", "body": b"world"})
        await asyncio.sleep(0)
        log.append("work after the response")  # finished, not cancelled

    async def shout(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        body = b"".join([chunk async for chunk in response.body_iterator])
        return Response(body.upper(), status=response.status, headers={"x-len": str(len(body))})

    for inner in (app, bare_app_of(app)):
        log.clear()
        response = TestClient(FunctionMiddleware(inner, dispatch=shout)).get("/")
        assert (response.text, response.headers["x-len"]) == ("HELLO WORLD", "11")
        assert log == ["work after the response"]


def bare_app_of(raw: Any) -> Bare:
    app = Bare()
    app.mount("/", raw)
    return app


def test_returning_the_response_after_reading_its_body_ends_it_empty() -> None:
    async def dispatch(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        del response.headers["content-length"]
        assert [chunk async for chunk in response.body_iterator] == [b"ab"]
        return response

    app = bare_with(dispatch)
    app.add_route("/", lambda request: "ab")
    response = TestClient(app).get("/")
    assert (response.status_code, response.content) == (200, b"")


@pytest.mark.parametrize("spec", SPECS)
def test_a_new_stream_can_be_made_from_the_body_iterator(spec: str) -> None:
    at_the_client: list[list[bytes]] = []
    server = Server(spec=spec)

    async def upper(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)

        async def shouted() -> AsyncIterator[bytes]:
            async for chunk in response.body_iterator:
                yield chunk.upper()

        return StreamingResponse(shouted(), headers={"x-shouted": "yes"})

    async def chunks() -> AsyncIterator[bytes]:
        yield b"one"
        at_the_client.append(server.bodies())
        yield b"two"

    app = bare_with(upper)
    app.add_route("/", lambda request: StreamingResponse(chunks()))
    asyncio.run(server.serve(app))
    assert server.bodies() == [b"ONE", b"TWO", b""]
    assert server.header("x-shouted") == [b"yes"]
    assert at_the_client == [[b"ONE"]]


def test_a_timeout_around_call_next_cancels_the_app() -> None:
    log: list[str] = []

    async def deadline(request: Request, call_next: CallNext) -> Response:
        try:
            return await asyncio.wait_for(call_next(request), timeout=0.01)
        except asyncio.TimeoutError:
            return PlainTextResponse("too slow", 504)

    app = bare_with(deadline)

    @app.get("/")
    async def slow(request: Request) -> Any:
        try:
            await asyncio.Event().wait()  # never set: only the timeout ends it
        except asyncio.CancelledError:
            log.append("cancelled")
            raise

    response = TestClient(app).get("/")
    assert (response.status_code, response.text) == (504, "too slow")
    assert log == ["cancelled"]


def test_call_next_twice_is_refused() -> None:
    async def twice(request: Request, call_next: CallNext) -> Response:
        await call_next(request)
        return await call_next(request)

    with pytest.raises(RuntimeError, match=r"call_next\(\) was already called"):
        TestClient(FunctionMiddleware(raw_text, dispatch=twice)).get("/")
    app = bare_with(twice)
    app.add_route("/", lambda request: "ok")
    with pytest.raises(RuntimeError, match=r"call_next\(\) was already called"):
        TestClient(app).get("/")
    assert TestClient(app, raise_server_exceptions=False).get("/").status_code == 500


@pytest.mark.parametrize("returned", [None, "text", {"a": 1}])
def test_returning_something_that_is_not_a_response_is_a_type_error(returned: Any) -> None:
    async def forgetful(request: Request, call_next: CallNext) -> Any:
        await call_next(request)
        return returned

    with pytest.raises(TypeError, match="must return a response"):
        TestClient(FunctionMiddleware(raw_text, dispatch=forgetful)).get("/")


def test_call_next_takes_the_request() -> None:
    async def confused(request: Request, call_next: Any) -> Response:
        return await call_next(request.scope)  # type: ignore[no-any-return]

    with pytest.raises(TypeError, match="takes the request, not dict"):
        TestClient(FunctionMiddleware(raw_text, dispatch=confused)).get("/")


# -- streaming -------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS)
def test_the_client_has_each_chunk_before_the_app_makes_the_next(spec: str) -> None:
    at_the_client: list[list[bytes]] = []
    server: Server

    async def chunks() -> AsyncIterator[bytes]:
        yield b"one"
        at_the_client.append(server.bodies())
        yield b"two"
        at_the_client.append(server.bodies())

    app = bare_with(add_header)
    app.add_route("/", lambda request: StreamingResponse(chunks()))

    async def main() -> None:
        nonlocal server
        server = Server(spec=spec)
        await server.serve(app)

    asyncio.run(main())
    assert at_the_client == [[b"one"], [b"one", b"two"]]
    assert server.bodies() == [b"one", b"two", b""]
    assert server.header("x-mw") == [b"yes"]


@pytest.mark.parametrize("spec", SPECS)
def test_a_client_leaving_mid_stream_stops_the_stream(spec: str) -> None:
    log: list[str] = []
    app = bare_with(add_header)

    @app.get("/")
    async def endless(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            try:
                while True:
                    yield b"x"
                    if spec != "2.4" and len(server.bodies()) == 2:
                        server.leave()  # an older server: the client is gone from receive()
            finally:
                log.append("closed")

        return StreamingResponse(chunks())

    server = Server(spec=spec, fail_at=3 if spec == "2.4" else None)
    asyncio.run(server.serve(app))
    assert log == ["closed"]
    assert server.bodies()[:2] == [b"x", b"x"]
    assert not server.complete.is_set()


def test_an_error_mid_stream_reaches_the_server() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"one"
        raise LookupError("mid-stream")

    app = bare_with(add_header)
    app.add_route("/", lambda request: StreamingResponse(chunks()))
    with pytest.raises(LookupError, match="mid-stream"):
        TestClient(app).get("/")


def test_work_after_the_last_body_message_ends_before_the_middleware_returns() -> None:
    log: list[str] = []
    server = Server()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})
        await server.complete.wait()  # the client has the whole response
        await asyncio.sleep(0)
        log.append("background work")

    async def main() -> None:
        await server.serve(FunctionMiddleware(app, dispatch=add_header))
        log.append("middleware returned")

    asyncio.run(main())
    assert server.bodies() == [b"done"]
    assert log == ["background work", "middleware returned"]


def test_a_message_sent_after_the_response_is_refused_as_a_server_would() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})
        await send({"type": "http.response.body", "body": b"late"})

    async def replace(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        body = [chunk async for chunk in response.body_iterator]
        return PlainTextResponse(b"".join(body))

    with pytest.raises(RuntimeError, match="after its response was complete"):
        serve(FunctionMiddleware(app, dispatch=replace))


def test_a_message_before_the_start_goes_to_the_server() -> None:
    hint = {"type": "http.response.early_hint", "links": ["</style.css>; rel=preload"]}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(hint)
        await raw_text(scope, receive, send)

    server = serve(FunctionMiddleware(app, dispatch=add_header))
    assert server.sent[0] == hint
    assert server.header("x-mw") == [b"yes"]


def test_an_app_handing_back_any_awaitable_is_served() -> None:
    def as_future(scope: Any, receive: Any, send: Any) -> Any:
        return asyncio.ensure_future(raw_text(scope, receive, send))  # runs as its own task

    server = serve(FunctionMiddleware(as_future, dispatch=add_header))
    assert server.bodies() == [b"raw"]
    assert server.header("x-mw") == [b"yes"]

    def refusing(scope: Any, receive: Any, send: Any) -> Any:
        raise LookupError("before any await")

    with pytest.raises(LookupError, match="before any await"):
        serve(FunctionMiddleware(refusing, dispatch=add_header))


def test_an_app_that_never_answers_makes_the_middleware_return_quietly() -> None:
    after: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass  # the client left before anything was sent

    async def dispatch(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        after.append("never")
        return response

    async def main() -> Server:
        server = Server()
        server.leave()
        return await server.serve(FunctionMiddleware(app, dispatch=dispatch))

    assert asyncio.run(main()).sent == []
    assert after == []


@pytest.mark.parametrize("spec", SPECS)
def test_two_function_middleware_nest(spec: str) -> None:
    order = contextvars.ContextVar("order", default="")

    def tagging(tag: str) -> Any:
        async def dispatch(request: Request, call_next: CallNext) -> Response:
            order.set(order.get() + tag)
            response = await call_next(request)
            response.headers.append("x-trail", f"{tag}:{order.get()}")
            return response

        return dispatch

    app = Bare()
    app.add_middleware(FunctionMiddleware, dispatch=tagging("outer"))
    app.add_middleware(FunctionMiddleware, dispatch=tagging("inner"))

    @app.get("/")
    async def handler(request: Request) -> StreamingResponse:
        order.set(order.get() + "+handler")
        return StreamingResponse([b"a", b"b"])

    server = serve(app, spec=spec)
    assert server.bodies() == [b"a", b"b", b""]
    assert server.header("x-trail") == [
        b"inner:outerinner+handler",
        b"outer:outerinner+handler",
    ]


# -- context variables ------------------------------------------------------------------

request_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_var", default="unset")
handler_var: contextvars.ContextVar[str] = contextvars.ContextVar("handler_var", default="unset")


def test_context_variables_travel_both_ways() -> None:
    async def dispatch(request: Request, call_next: CallNext) -> Response:
        request_var.set("set by the middleware")
        response = await call_next(request)
        response.headers["x-handler-var"] = handler_var.get()
        return response

    app = bare_with(dispatch)

    @app.get("/")
    async def handler(request: Request) -> Any:
        handler_var.set("set by the handler")
        return {"request_var": request_var.get()}

    response = TestClient(app).get("/")
    assert response.json() == {"request_var": "set by the middleware"}
    assert response.headers["x-handler-var"] == "set by the handler"


def test_a_stream_keeps_the_context_it_started_with() -> None:
    async def scoped(request: Request, call_next: CallNext) -> Response:
        token = request_var.set("scoped")
        try:
            return await call_next(request)
        finally:
            request_var.reset(token)  # before the body is sent

    app = bare_with(scoped)

    @app.get("/")
    async def handler(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[str]:
            yield request_var.get() + ","
            yield request_var.get()

        return StreamingResponse(chunks())

    for spec in SPECS:
        assert serve(app, spec=spec).bodies() == [b"scoped,", b"scoped", b""]


def test_an_inner_middleware_can_set_and_reset_a_variable_around_the_response() -> None:
    class Scoped:  # as request-id middleware do
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            token = request_var.set("inner")
            try:
                await self.app(scope, receive, send)
            finally:
                request_var.reset(token)  # raises if not in the context it was set in

    async def dispatch(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        response.headers["x-seen"] = request_var.get()
        return response

    app = bare_with(dispatch, Scoped)

    @app.get("/")
    async def handler(request: Request) -> StreamingResponse:
        return StreamingResponse([request_var.get()])

    response = TestClient(app).get("/")
    assert (response.text, response.headers["x-seen"]) == ("inner", "inner")


# -- errors ----------------------------------------------------------------------------


def test_a_handler_error_is_answered_by_the_app_before_the_middleware_sees_it() -> None:
    app = bare_with(add_header)

    @app.get("/")
    async def broken(request: Request) -> Any:
        raise ValueError("internal detail")

    response = TestClient(app, raise_server_exceptions=False).get("/")
    assert (response.status_code, response.headers["x-mw"]) == (500, "yes")
    assert "internal detail" not in response.text

    @app.exception_handler(ValueError)
    async def teapot(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": "handled"}, 418)

    response = TestClient(app).get("/")
    assert (response.status_code, response.json()) == (418, {"detail": "handled"})
    assert response.headers["x-mw"] == "yes"


def test_an_error_before_the_response_comes_out_of_call_next() -> None:
    async def failing(scope: Any, receive: Any, send: Any) -> None:
        raise LookupError("upstream")

    async def fallback(request: Request, call_next: CallNext) -> Response:
        try:
            return await call_next(request)
        except LookupError as exc:
            return JSONResponse({"detail": str(exc)}, 502)

    response = TestClient(FunctionMiddleware(failing, dispatch=fallback)).get("/")
    assert (response.status_code, response.json()) == (502, {"detail": "upstream"})

    with pytest.raises(LookupError, match="upstream"):  # not caught: up the stack
        TestClient(FunctionMiddleware(failing, dispatch=add_header)).get("/")


def test_an_uncaught_error_from_inside_reaches_the_exception_handlers() -> None:
    class Failing:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            raise LookupError("inner middleware")

    app = bare_with(add_header, Failing)
    app.add_route("/", lambda request: "never")

    @app.exception_handler(LookupError)
    async def conflict(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": "conflict"}, 409)

    response = TestClient(app).get("/")
    assert (response.status_code, response.json()) == (409, {"detail": "conflict"})


def test_an_error_of_the_function_itself_reaches_the_exception_handlers() -> None:
    log: list[str] = []

    async def strict(request: Request, call_next: CallNext) -> Response:
        if request.path == "/denied":
            raise HTTPException(401, "Log in first")
        response = await call_next(request)
        assert await response.body_iterator.__anext__() == b"x"
        raise KeyError("after call_next")

    app = bare_with(strict)

    @app.get("/{name}")
    async def handler(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            try:
                yield b"x"
            finally:
                log.append("closed")

        return StreamingResponse(chunks())

    @app.exception_handler(401)
    async def login(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": "please log in"}, 401)

    @app.exception_handler(KeyError)
    async def missing(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": "missing"}, 404)

    client = TestClient(app)
    assert client.get("/denied").json() == {"detail": "please log in"}
    assert log == []
    response = client.get("/other")
    assert (response.status_code, response.json()) == (404, {"detail": "missing"})
    assert log == ["closed"]  # the app's stream was cancelled before the error went up


# -- the request body --------------------------------------------------------------------


def echo_app(dispatch: Any) -> Bare:
    app = bare_with(dispatch)

    @app.post("/")
    async def echo(request: Request) -> Any:
        return await request.body()

    return app


def test_a_body_read_by_the_function_is_handed_to_the_app() -> None:
    async def peek(request: Request, call_next: CallNext) -> Response:
        body = await request.body()
        response = await call_next(request)
        response.headers["x-size"] = str(len(body))
        return response

    app = echo_app(peek)
    response = TestClient(app).post("/", content=b"payload")
    assert (response.content, response.headers["x-size"]) == (b"payload", "7")
    server = serve(app, method="POST", chunks=[b"pay", b"lo", b"ad"])
    assert server.bodies() == [b"payload"]
    assert server.header("x-size") == [b"7"]


def test_a_json_body_read_by_the_function_is_handed_to_the_app() -> None:
    async def peek(request: Request, call_next: CallNext) -> Response:
        data = await request.json()
        response = await call_next(request)
        response.headers["x-keys"] = ",".join(data)
        return response

    response = TestClient(echo_app(peek)).post("/", json={"a": 1, "b": 2})
    assert json.loads(response.content) == {"a": 1, "b": 2}
    assert response.headers["x-keys"] == "a,b"


def test_a_body_left_alone_goes_to_the_app_untouched() -> None:
    receives: list[Any] = []

    async def dispatch(request: Request, call_next: CallNext) -> Response:
        receives.append(request._receive)
        return await call_next(request)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        receives.append(receive)
        await raw_text(scope, receive, send)

    TestClient(FunctionMiddleware(app, dispatch=dispatch)).get("/")
    assert receives[0] is receives[1]  # not wrapped: no cost when nothing was read


def test_a_body_peeked_at_by_is_disconnected_is_not_lost() -> None:
    async def check(request: Request, call_next: CallNext) -> Response:
        assert not await request.is_disconnected()
        return await call_next(request)

    assert TestClient(echo_app(check)).post("/", content=b"kept").content == b"kept"


def test_a_body_read_as_a_stream_cannot_be_handed_on() -> None:
    async def consume(request: Request, call_next: CallNext) -> Response:
        async for _ in request.stream():
            pass
        return await call_next(request)

    with pytest.raises(RuntimeError, match=r"await request.body\(\)"):
        TestClient(echo_app(consume)).post("/", content=b"gone")


def test_a_body_over_the_limit_is_a_413_from_the_function() -> None:
    app = echo_app(peek_body)
    app.max_body_size = 4
    response = TestClient(app).post("/", content=b"too long")
    assert response.status_code == 413


async def peek_body(request: Request, call_next: CallNext) -> Response:
    await request.body()
    return await call_next(request)


def test_a_client_gone_while_the_function_reads_the_body_gets_nothing() -> None:
    async def main() -> Server:
        server = Server(method="POST", chunks=[b"part"])
        server.incoming[0]["more_body"] = True
        server.incoming.append({"type": "http.disconnect"})
        return await server.serve(echo_app(peek_body))

    assert asyncio.run(main()).sent == []


# -- cancellation and closing ----------------------------------------------------------


def test_cancelling_the_request_cancels_what_the_app_waits_on() -> None:
    log: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        async def child() -> None:
            log.append("waiting")
            await asyncio.Event().wait()

        task = asyncio.ensure_future(child())
        try:
            await task
        except asyncio.CancelledError:
            log.append(f"child cancelled: {task.cancelled()}")
            raise

    async def main() -> None:
        server = Server()
        request = asyncio.ensure_future(server.serve(FunctionMiddleware(app, dispatch=add_header)))
        while not log:  # until the app waits
            await asyncio.sleep(0)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        assert request.cancelled()

    asyncio.run(main())
    assert log == ["waiting", "child cancelled: True"]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is new in 3.11")
def test_a_timeout_inside_the_app_times_out_the_app_only() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            async with asyncio.timeout(0):
                await asyncio.Event().wait()
        except TimeoutError:
            await PlainTextResponse("timed out", 504)(scope, receive, send)

    response = TestClient(FunctionMiddleware(app, dispatch=add_header)).get("/")
    assert (response.status_code, response.text, response.headers["x-mw"]) == (
        504,
        "timed out",
        "yes",
    )


def test_closing_the_middleware_coroutine_closes_the_app() -> None:
    log: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            log.append("app closed")

    async def main() -> None:
        server = Server()
        middleware = FunctionMiddleware(app, dispatch=add_header)
        coro = middleware(server.scope, server.receive, server.send)
        waited = coro.send(None)  # runs until the app waits: its future is handed up
        assert isinstance(waited, asyncio.Future)
        coro.close()
        waited.cancel()

    asyncio.run(main())
    assert log == ["app closed"]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager tasks are new in 3.12")
def test_an_eager_task_of_the_app_sending_is_served() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.create_task(raw_text(scope, receive, send))  # starts in create_task

    async def main() -> Server:
        loop = asyncio.get_running_loop()
        loop.set_task_factory(asyncio.eager_task_factory)
        return await Server().serve(FunctionMiddleware(app, dispatch=add_header))

    server = asyncio.run(main())
    assert server.bodies() == [b"raw"]
    assert server.header("x-mw") == [b"yes"]


@pytest.mark.parametrize("spec", SPECS)
def test_a_starlette_app_streams_through(spec: str) -> None:
    pytest.importorskip("starlette")
    from starlette.applications import Starlette
    from starlette.responses import StreamingResponse as StarletteStreaming
    from starlette.routing import Route

    at_the_client: list[list[bytes]] = []
    server = Server(spec=spec)

    async def chunks() -> AsyncIterator[bytes]:
        yield b"one"
        at_the_client.append(server.bodies())
        yield b"two"

    async def endpoint(request: Any) -> Any:
        return StarletteStreaming(chunks())

    app = FunctionMiddleware(Starlette(routes=[Route("/", endpoint)]), dispatch=add_header)
    asyncio.run(server.serve(app))
    assert b"".join(server.bodies()) == b"onetwo"
    assert at_the_client == [[b"one"]]
    assert server.header("x-mw") == [b"yes"]


# -- a real server -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live() -> Iterator[str]:
    from servers import uvicorn

    pytest.importorskip("uvicorn")
    yield from uvicorn("apps.mw_proxy:app")


def test_a_real_server_streams_through_a_function_middleware(live: str) -> None:
    httpx = pytest.importorskip("httpx")
    # uvicorn speaks ASGI 2.3: bare's stream sends from a task of its own.
    with (
        httpx.Client(base_url=f"http://{live}", timeout=10) as client,
        client.stream("GET", "/function/stepped") as response,
    ):
        assert response.headers["x-function"] == "yes"
        lines = response.iter_lines()
        assert next(lines) == "chunk 0"
        for i in (1, 2):
            client.get(f"/function/next/{i}")
            assert next(lines) == f"chunk {i}"
        assert list(lines) == []


# -- files sent by path (the http.response.pathsend extension) ------------------------------


def pathsend_app(path: Path, ran: list[str], **options: Any) -> FileResponse:
    """A FileResponse of `path` whose background task records that the app finished."""
    return FileResponse(path, background=BackgroundTask(ran.append, "background"), **options)


def test_a_file_sent_by_path_goes_through_and_completes_the_request(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(b"z" * 300_000)
    ran: list[str] = []
    client = RawClient(leave_when_done=True)
    client.run(
        FunctionMiddleware(pathsend_app(path, ran), add_header), http_scope(extensions=PATHSEND)
    )
    assert client.types() == ["http.response.start", "http.response.pathsend"]
    assert client.sent[-1]["path"] == str(path)
    headers = dict(client.start()["headers"])
    assert (headers[b"x-mw"], headers[b"content-length"]) == (b"yes", b"300000")
    assert ran == ["background"]  # the app ran to its end


def test_the_body_iterator_reads_a_file_sent_by_path(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    content = bytes(range(256)) * 2500  # more than two chunks
    path.write_bytes(content)
    ran: list[str] = []
    seen: list[int] = []

    async def rewrite(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        chunks = [chunk async for chunk in response.body_iterator]
        seen.extend(len(chunk) for chunk in chunks)
        return Response(b"".join(chunks)[::-1], headers={"x-chunks": str(len(chunks))})

    client = RawClient(leave_when_done=True)
    client.run(
        FunctionMiddleware(pathsend_app(path, ran), rewrite), http_scope(extensions=PATHSEND)
    )
    assert b"".join(client.bodies()) == content[::-1]
    assert "http.response.pathsend" not in client.types()
    assert sum(seen) == len(content) and len(seen) > 1 and 0 not in seen
    assert ran == ["background"]  # the file counted as the whole body: the app finished


def test_the_body_iterator_reads_no_more_than_the_length_announced(tmp_path: Path) -> None:
    path = tmp_path / "growing.log"
    path.write_bytes(b"line\n" * 10)
    stat = path.stat()
    with path.open("ab") as log:
        log.write(b"written after the response started\n")

    async def collect(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        return Response(b"".join([chunk async for chunk in response.body_iterator]))

    ran: list[str] = []
    app = FunctionMiddleware(pathsend_app(path, ran, stat_result=stat), collect)
    client = RawClient(leave_when_done=True)
    client.run(app, http_scope(extensions=PATHSEND))
    assert client.bodies() == [b"line\n" * 10]


def test_a_file_gone_before_the_body_iterator_reads_it_raises(tmp_path: Path) -> None:
    path = tmp_path / "gone.txt"
    path.write_bytes(b"soon gone")

    async def too_late(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        path.unlink()
        return Response(b"".join([chunk async for chunk in response.body_iterator]))

    app = FunctionMiddleware(FileResponse(path), too_late)
    client = RawClient(leave_when_done=True)
    with pytest.raises(FileNotFoundError):
        client.run(app, http_scope(extensions=PATHSEND))
    assert client.sent == []
