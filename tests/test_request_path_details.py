"""Details of the request path that the mutation run found unchecked: routes and mounts
used on their own or under a minimal scope, reverse routing through mounts, redirects,
the error door and the exception handlers' requests, WebSocket dispatch, the app's
defaults and its startup, and the pure matcher's mixed segments."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bare import (
    Bare,
    HTTPException,
    Mount,
    NoMatchFound,
    PlainTextResponse,
    Request,
    Response,
    Route,
    Router,
    StreamingResponse,
    WebSocket,
    WebSocketRoute,
    register_converter,
)
from bare.requests import DEFAULT_MAX_BODY_SIZE
from bare.routing import MOUNT_REST, NOT_FOUND, RouteOptions, route_path
from bare.testing import TestClient
from bare.types import Message, Receive, Scope, Send

Call = Callable[..., Any]


class PassThrough:
    """A middleware that changes nothing."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class Refusing:
    """A middleware that raises before the app runs."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raise LookupError("refused by the middleware")
        await self.app(scope, receive, send)


class BreaksAfterStart:
    """A middleware that passes the start on, then fails on the body."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_start_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                raise RuntimeError("broke after the start")
            await send(message)

        await self.app(scope, receive, send_start_only)


def call_scope(app: Any, scope: Scope, incoming: list[Message] | None = None) -> list[Message]:
    """Call `app` with `scope` as given (no key added); `incoming` is what receive()
    returns, one message a call (an empty HTTP request by default)."""
    pending = list(incoming or [{"type": "http.request", "body": b"", "more_body": False}])
    sent: list[Message] = []

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        await asyncio.Event().wait()  # the client waits for the response
        raise AssertionError("unreachable")  # pragma: no cover

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def websocket_scope(path: str, **extra: Any) -> Scope:
    scope: Scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": path,
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "subprotocols": [],
    }
    scope.update(extra)
    return scope


def chat_app() -> Bare:
    """A WebSocket route that accepts, says its path parameters and closes."""
    app = Bare()

    @app.websocket("/ws")
    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(websocket.path_params)
        await websocket.close()

    return app


def accepted_params(sent: list[Message]) -> Any:
    import json

    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    return json.loads(sent[1]["text"])


async def echo_body(request: Request) -> bytes:
    return await request.body()


def _explode(segment: str) -> Any:
    raise RuntimeError("the converter broke")


register_converter("exploding_detail", "[a-z]+", _explode)


# -- routes and mounts on their own --------------------------------------------------------


def test_route_options_and_option_keywords_together() -> None:
    options = RouteOptions(name="from-options", max_body_size=5)
    route = Route("/x", echo_body, options=options, name="from-keyword")
    assert route.name == "from-keyword"
    assert route.options.max_body_size == 5
    assert route.max_body_size == 5


def test_a_route_served_on_its_own(asgi_call: Call) -> None:
    route = Route("/echo", echo_body, methods=["POST"])
    assert route.max_body_size == DEFAULT_MAX_BODY_SIZE
    assert asgi_call(route, "POST", "/echo", body=b"abc").body == b"abc"
    too_big = asgi_call(route, "POST", "/echo", body=b"x" * (DEFAULT_MAX_BODY_SIZE + 1))
    assert too_big.status == 413
    assert too_big.json()["detail"].startswith("Request body too large")


def test_a_route_on_its_own_answers_http_errors(asgi_call: Call) -> None:
    async def gone(request: Request) -> None:
        raise HTTPException(410)

    reply = asgi_call(Route("/", gone), "GET", "/")
    assert (reply.status, reply.json()) == (410, {"detail": "Gone"})


def test_a_websocket_route_is_named_after_its_handler() -> None:
    async def live_feed(websocket: WebSocket) -> None:
        await websocket.close()

    assert WebSocketRoute("/ws", live_feed).name == "live_feed"
    assert WebSocketRoute("/ws", live_feed, name="feed").name == "feed"


def test_a_mount_prefix_keeps_its_own_characters() -> None:
    assert Mount("/SPX/", PassThrough(None)).path == "/SPX"
    assert Mount("/X", PassThrough(None)).path == "/X"


def test_a_mounted_app_reads_the_request_body(asgi_call: Call) -> None:
    child = Bare()
    child.add_route("/echo", echo_body, ["POST"])
    app = Bare()
    app.mount("/m", child)
    assert asgi_call(app, "POST", "/m/echo", body=b"through the mount").body == (
        b"through the mount"
    )


# -- a minimal scope: no root_path, query_string or headers --------------------------------


def test_a_minimal_scope_is_served() -> None:
    app = Bare()

    @app.get("/x")
    async def x(request: Request) -> str:
        return "x"

    child = Bare()

    @child.get("/where")
    async def where(request: Request) -> Any:
        return {"root_path": request.scope["root_path"], "path": request.scope["path"]}

    app.mount("/m", child)

    sent = call_scope(app, {"type": "http", "method": "GET", "path": "/x/"})
    assert sent[0]["status"] == 308
    assert (b"location", b"/x") in sent[0]["headers"]

    sent = call_scope(app, {"type": "http", "method": "GET", "path": "/m/where"})
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b'{"root_path":"/m","path":"/m/where"}'

    sent = call_scope(app, {"type": "http", "method": "GET", "path": "/nowhere"})
    assert sent[0]["status"] == 404


def test_a_minimal_websocket_scope_is_served() -> None:
    scope = {"type": "websocket", "path": "/ws"}
    sent = call_scope(chat_app(), scope, [{"type": "websocket.connect"}])
    assert accepted_params(sent) == {}


# -- the router ----------------------------------------------------------------------------


def test_a_router_refuses_a_bad_body_limit() -> None:
    with pytest.raises(ValueError, match=r"^max_body_size must be a number of bytes"):
        Router(max_body_size=-1)
    with pytest.raises(ValueError, match=r"^max_body_size must be a number of bytes"):
        Bare(max_body_size=-1)


def test_an_app_without_routes_answers_404(asgi_call: Call) -> None:
    assert Router().resolve("GET", "/") == (NOT_FOUND, None, None)
    reply = asgi_call(Bare(), "GET", "/")
    assert (reply.status, reply.json()) == (404, {"detail": "Not Found"})


def test_include_router_without_a_prefix(asgi_call: Call) -> None:
    sub = Router()
    sub.add_route("/echo", echo_body, ["POST"])
    router = Router()
    router.include_router(sub)
    assert [route.path for route in router.routes] == ["/echo"]
    app = Bare()
    app.router = router
    assert asgi_call(app, "POST", "/echo", body=b"ok").body == b"ok"


def test_a_websocket_reaches_a_mounted_app_with_the_prefix_parameters(
    ws_session: Call,
) -> None:
    app = Bare()
    app.mount("/rooms/{room}", chat_app())
    assert accepted_params(ws_session(app, "/rooms/7/ws", [])) == {"room": "7"}


def test_no_slash_redirect_points_off_the_site(asgi_call: Call) -> None:
    app = Bare()
    app.add_route("//evil", lambda request: "odd but allowed")
    assert asgi_call(app, "GET", "//evil").status == 200
    reply = asgi_call(app, "GET", "//evil/")
    assert reply.status == 404
    assert reply.header("location") is None
    assert app.router.resolve("GET", "//evil/") == (NOT_FOUND, None, None)


def test_redirect_slashes_can_be_turned_off(asgi_call: Call) -> None:
    app = Bare(redirect_slashes=False)
    app.add_route("/x", lambda request: "x")
    assert asgi_call(app, "GET", "/x/").status == 404
    assert asgi_call(app, "GET", "/x").status == 200


# -- redirect locations --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/x\udce9/", "/x%ED%B3%A9"),  # a byte that was not UTF-8, as servers pass it on
        ("/a:b@c!$&'()*+,;=~/", "/a:b@c!$&'()*+,;=~"),
        ("/a b/", "/a%20b"),
    ],
)
def test_slash_redirect_locations_are_quoted(asgi_call: Call, path: str, location: str) -> None:
    app = Bare()
    app.add_route("/{name}", lambda request: "found")
    reply = asgi_call(app, "GET", path)
    assert reply.status == 308
    assert reply.header("location") == location


# -- reverse routing through mounts --------------------------------------------------------


def child_with_routes() -> Bare:
    child = Bare()
    child.add_route("/", lambda request: "home", name="home")
    child.add_route("/page", lambda request: "page", name="page")
    return child


def test_url_path_for_through_a_root_mount() -> None:
    app = Bare()
    app.mount("/", child_with_routes())
    assert app.url_path_for("page") == "/page"
    named = Bare()
    named.mount("/", child_with_routes(), name="site")
    assert named.url_path_for("site:page") == "/page"
    assert named.url_path_for("site", path="a.txt") == "/a.txt"


def test_url_path_for_a_mounted_apps_root() -> None:
    app = Bare()
    app.mount("/m", child_with_routes())
    assert app.url_path_for("home") == "/m/"
    assert app.url_path_for("page") == "/m/page"


def test_url_path_for_a_named_mount_keeps_the_path_as_given() -> None:
    app = Bare()
    app.mount("/files", child_with_routes(), name="files")
    assert app.url_path_for("files", path="Xfile") == "/files/Xfile"
    assert app.url_path_for("files", path="//X/y") == "/files/X/y"


def test_url_path_for_says_what_did_not_fit_through_mounts() -> None:
    app = Bare()
    app.mount("/files", child_with_routes(), name="files")
    with pytest.raises(NoMatchFound) as named:
        app.url_path_for("files:nope")
    assert str(named.value) == "no route 'files:nope' takes these parameters: no route named 'nope'"

    unnamed = Bare()
    unnamed.mount("/m", child_with_routes())
    with pytest.raises(NoMatchFound) as missing:
        unnamed.url_path_for("nope")
    assert str(missing.value) == "no route named 'nope'"

    typed = Bare()
    typed.mount("/u/{id:int}", child_with_routes())
    assert typed.url_path_for("page", id=3) == "/u/3/page"
    with pytest.raises(NoMatchFound) as bad_prefix:
        typed.url_path_for("page", id="abc")
    assert str(bad_prefix.value) == (
        "no route 'page' takes these parameters: /u/{id:int}: id='abc' is not a valid 'int' value"
    )


# -- reverse routing: what the template quotes ---------------------------------------------


def test_url_path_for_keeps_the_characters_a_segment_allows() -> None:
    app = Bare()
    app.add_route("/a:b@c", lambda request: "", name="literal")
    app.add_route("/v:{n:int}", lambda request: "", name="leading")
    app.add_route("/{a}:{b}", lambda request: "", name="between")
    app.add_route("/users/{name}", lambda request: "", name="value")
    assert app.url_path_for("literal") == "/a:b@c"
    assert app.url_path_for("leading", n=3) == "/v:3"
    assert app.url_path_for("between", a="x", b="y@z") == "/x:y@z"
    assert app.url_path_for("value", name="a:b@c!") == "/users/a:b@c!"
    assert app.url_path_for("value", name="a b?") == "/users/a%20b%3F"
    with pytest.raises(NoMatchFound, match="is not a valid 'str' value"):
        app.url_path_for("value", name="a/b")


# -- the pure matcher's mixed segments -----------------------------------------------------


def test_three_parameters_in_one_segment_need_every_separator(asgi_call: Call) -> None:
    app = Bare()
    app.add_route("/{a}-{b}_{c}", lambda request: request.path_params)
    assert asgi_call(app, "GET", "/x-y_z").json() == {"a": "x", "b": "y", "c": "z"}
    assert asgi_call(app, "GET", "/x-y-z").status == 404
    assert asgi_call(app, "GET", "/x_y-z").status == 404


def test_mixed_segments_with_the_same_text_try_typed_parameters_first(asgi_call: Call) -> None:
    app = Bare()
    app.add_route("/v{s}", lambda request: {"str": request.path_params["s"]})
    app.add_route("/v{n:int}", lambda request: {"int": request.path_params["n"]})
    assert asgi_call(app, "GET", "/v12").json() == {"int": 12}
    assert asgi_call(app, "GET", "/vab").json() == {"str": "ab"}


def test_route_path_leaves_a_path_outside_the_root_path_alone() -> None:
    assert route_path({"path": "/xyz/users", "root_path": "/api"}) == "/xyz/users"
    assert route_path({"path": "/api/users", "root_path": "/api"}) == "/users"
    app = Bare()
    app.add_route("/xyz/users", lambda request: "stripped by the server")
    # A server that strips the prefix itself passes the rest in `path`.
    sent = call_scope(
        app,
        {"type": "http", "method": "GET", "path": "/xyz/users", "root_path": "/api"},
    )
    assert sent[0]["status"] == 200


# -- the app's defaults --------------------------------------------------------------------


def test_no_traceback_on_loopback_unless_debug_is_asked_for(asgi_call: Call) -> None:
    app = Bare()
    assert app.debug is False

    @app.get("/boom")
    async def boom(request: Request) -> None:
        raise RuntimeError("secret internals")

    reply = asgi_call(app, "GET", "/boom", server=("127.0.0.1", 8000))
    assert (reply.status, reply.json()) == (500, {"detail": "Internal Server Error"})
    assert b"secret internals" not in reply.body


def test_a_websocket_route_name_given_to_the_decorator() -> None:
    app = Bare()

    @app.websocket("/ws", name="chat")
    async def handler(websocket: WebSocket) -> None:
        await websocket.close()

    assert app.routes[0].name == "chat"
    assert app.url_path_for("chat") == "/ws"


def test_run_passes_its_defaults_and_options_on(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, dict[str, Any]]] = []

    def fake_run(app: Any, **options: Any) -> None:
        calls.append((app, options))

    monkeypatch.setattr("bare._server.run", fake_run)
    app = Bare()
    app.run()
    app.run(host="0.0.0.0", port=9000, reload=True)
    assert calls == [
        (app, {"host": "127.0.0.1", "port": 8000}),
        (app, {"host": "0.0.0.0", "port": 9000, "reload": True}),
    ]


def test_a_mounted_apps_stack_is_built_when_its_parent_starts() -> None:
    parent = Bare()
    child = Bare()
    parent.mount("/child", child)
    child.add_middleware(PassThrough)
    with (
        TestClient(parent),
        pytest.raises(RuntimeError, match="after the application has started"),
    ):
        child.add_middleware(PassThrough)


# -- the error door and the exception handlers' requests -----------------------------------


def test_middleware_pass_websockets_and_lifespan_through(ws_session: Call) -> None:
    app = chat_app()
    app.add_middleware(PassThrough)
    started: list[bool] = []
    app.on_startup(lambda: started.append(True))
    assert accepted_params(ws_session(app, "/ws", [])) == {}
    with TestClient(app) as client, client.websocket_connect("/ws") as websocket:
        assert websocket.receive_json() == {}
    assert started == [True]


def test_an_error_after_a_middleware_passed_the_start_is_not_answered_again(
    asgi_call: Call,
) -> None:
    app = Bare()
    app.add_route("/", lambda request: "fine")
    app.add_middleware(BreaksAfterStart)
    with pytest.raises(RuntimeError, match="broke after the start"):
        asgi_call(app, "GET", "/")


def handlers_that_read_the_body(app: Bare) -> None:
    async def read_body(request: Request, exc: Exception) -> Any:
        return {"error": type(exc).__name__, "body": (await request.body()).decode()}

    for key in (404, 405, 500, LookupError):
        app.add_exception_handler(key, read_body)


def test_exception_handlers_can_read_the_request_body(asgi_call: Call) -> None:
    app = Bare()
    app.add_route("/only-get", lambda request: "got")
    app.add_route("/boom/{x:exploding_detail}", lambda request: "never")
    handlers_that_read_the_body(app)

    reply = asgi_call(app, "POST", "/missing", body=b"lost")
    assert (reply.status, reply.json()) == (404, {"error": "HTTPException", "body": "lost"})
    reply = asgi_call(app, "POST", "/only-get", body=b"wrong method")
    assert (reply.status, reply.json()) == (
        405,
        {"error": "HTTPException", "body": "wrong method"},
    )
    reply = asgi_call(app, "POST", "/boom/abc", body=b"converter")
    assert (reply.status, reply.json()) == (500, {"error": "RuntimeError", "body": "converter"})

    app = Bare()
    app.add_route("/", lambda request: "never")
    app.add_middleware(Refusing)
    handlers_that_read_the_body(app)
    reply = asgi_call(app, "POST", "/", body=b"before the app")
    assert (reply.status, reply.json()) == (500, {"error": "LookupError", "body": "before the app"})


def test_an_exception_handlers_request_keeps_the_apps_body_limit(asgi_call: Call) -> None:
    app = Bare(max_body_size=4)
    handlers_that_read_the_body(app)
    assert asgi_call(app, "POST", "/missing", body=b"1234").json()["body"] == "1234"
    assert asgi_call(app, "POST", "/missing", body=b"12345").status == 413


async def ticking(request: Request, exc: Exception) -> StreamingResponse:
    async def ticks() -> AsyncIterator[bytes]:
        for n in range(10):
            await asyncio.sleep(0)  # other tasks run between chunks
            yield str(n).encode()

    return StreamingResponse(ticks(), status=503)


def test_an_exception_handler_may_stream_its_answer(asgi_call: Call) -> None:
    app = Bare()

    @app.get("/fails")
    async def fails(request: Request) -> None:
        raise KeyError("x")

    app.add_exception_handler(404, ticking)
    app.add_exception_handler(KeyError, ticking)
    for path in ("/missing", "/fails"):
        reply = asgi_call(app, "GET", path, chunks=[b""])
        assert (reply.status, reply.body) == (503, b"0123456789")


def test_a_failing_exception_handlers_error_reaches_the_test() -> None:
    app = Bare()

    @app.get("/value")
    async def value(request: Request) -> None:
        raise ValueError("first")

    @app.exception_handler(ValueError)
    async def broken(request: Request, exc: Exception) -> None:
        raise KeyError("the handler broke")

    @app.get("/detail")
    async def detail(request: Request) -> None:
        raise HTTPException(400, detail=object())  # JSON cannot encode it

    with pytest.raises(KeyError, match="the handler broke"):
        TestClient(app).get("/value")
    with pytest.raises(TypeError):
        TestClient(app).get("/detail")
    assert TestClient(app, raise_server_exceptions=False).get("/detail").status_code == 500


# -- handlers ------------------------------------------------------------------------------


def test_a_sync_handler_gets_the_request(asgi_call: Call) -> None:
    app = Bare()

    @app.get("/items/{item_id:int}")
    def item(request: Request) -> Any:
        return {"id": request.path_params["item_id"], "method": request.method}

    assert asgi_call(app, "GET", "/items/5").json() == {"id": 5, "method": "GET"}


def test_a_send_that_fails_on_the_body_is_not_answered_again() -> None:
    app = Bare()
    app.add_route("/", lambda request: "text")
    starts: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            starts.append(message["status"])
        else:
            raise ConnectionResetError("client gone")

    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    with pytest.raises(ConnectionResetError):
        asyncio.run(app(scope, receive, send))
    assert starts == [200]


def test_a_failing_websocket_handler_leaves_its_error_in_the_scope() -> None:
    from bare._errors import SERVER_EXCEPTION_KEY

    app = Bare()
    error = ValueError("websocket handler broke")

    @app.websocket("/ws")
    async def broken(websocket: WebSocket) -> None:
        await websocket.accept()
        raise error

    scope = websocket_scope("/ws")
    sent = call_scope(app, scope, [{"type": "websocket.connect"}])
    assert sent[-1] == {"type": "websocket.close", "code": 1011, "reason": ""}
    assert scope[SERVER_EXCEPTION_KEY] is error


# -- WebSocket dispatch --------------------------------------------------------------------


def test_a_handshake_with_exactly_the_most_headers_is_accepted(ws_session: Call) -> None:
    app = chat_app()
    app.max_headers = 3
    headers = [(b"host", b"testserver"), (b"x-a", b"1"), (b"x-b", b"2")]
    assert accepted_params(ws_session(app, "/ws", [], headers=headers)) == {}
    sent = ws_session(app, "/ws", [], headers=[*headers, (b"x-c", b"3")])
    assert (sent[0]["type"], sent[0]["code"]) == ("websocket.close", 1008)


@pytest.mark.parametrize("path", ["/api/ws", "/ws"])
def test_a_websocket_routes_on_the_path_below_root_path(path: str) -> None:
    scope = websocket_scope(path, root_path="/api")
    sent = call_scope(chat_app(), scope, [{"type": "websocket.connect"}])
    assert accepted_params(sent) == {}


# -- small parts of the API no other test reaches ------------------------------------------


def test_parsed_patterns_are_immutable_records() -> None:
    from bare._templates import parse_template

    first, again, other = (parse_template(p) for p in ("/a/{b:int}", "/a/{b:int}", "/a/{c}"))
    assert first == again and hash(first) == hash(again)
    assert first != other and first != "/a/{b:int}"
    assert repr(first).startswith("PathTemplate(param_names=('b',), segments=(")
    assert repr(first).endswith(", template='/a/{b:int}')")
    with pytest.raises(AttributeError, match=r"PathTemplate\.template cannot be changed"):
        first.template = "/x"  # type: ignore[misc]


def test_route_records_are_asgi_apps_and_say_what_they_are(
    asgi_call: Callable[..., Any], ws_session: Callable[..., list[dict[str, Any]]]
) -> None:
    app = Bare()

    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text(ws.path)
        await ws.close()

    socket = app.add_websocket_route("/ws", echo, name="chat")
    assert (socket.name, app.url_path_for("chat")) == ("chat", "/ws")
    with TestClient(app).websocket_connect("/ws") as ws:
        assert ws.receive_text() == "/ws"
    # Each record is an ASGI app of its own, as a router would call it.
    sent = ws_session(socket, "/ws", [])
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]

    inner = Bare()

    @inner.get("/page")
    async def page(request: Request) -> str:
        body = await request.body()  # the mount hands the app its `receive`
        return f"{request.scope['root_path']} {request.path} {body!r}"

    mount = Mount("/sub", inner)

    async def as_routed(scope: Scope, receive: Receive, send: Send) -> None:
        scope["path_params"] = {MOUNT_REST: "page"}  # what the router's match gives
        await mount(scope, receive, send)

    reply = asgi_call(as_routed, "GET", "/sub/page")
    assert (reply.status, reply.body) == (200, b"/sub /sub/page b''")

    route = Route("/r", page, methods=["GET", "POST"], name="r")
    assert repr(route) == "Route('/r', methods=['GET', 'POST'], name='r')"
    assert repr(mount) == "Mount('/sub', name=None)"
    assert repr(socket) == "WebSocketRoute('/ws', name='chat')"
    assert RouteOptions(name="a") in {RouteOptions(name="a")}
    assert RouteOptions(name="a") not in {RouteOptions(name="b")}
    assert repr(PlainTextResponse("x", status=404)) == "<PlainTextResponse 404>"
    # help(Response) shows the body's default as None, which it means.
    assert repr(inspect.signature(Response).parameters["body"].default) == "None"
