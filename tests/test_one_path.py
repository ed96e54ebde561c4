"""One request path: the app serves every route through the route's own `handle`, its
inlined resolution agrees with `Router.resolve`, route options survive mounts and
included routers, and every error goes through the app's exception handlers."""

from __future__ import annotations

import logging
import typing
from collections.abc import Callable
from typing import Any

import pytest

from bare import (
    Bare,
    HTTPException,
    Mount,
    Request,
    Route,
    Router,
    WebSocket,
    register_converter,
)
from bare.forms import FormLimits
from bare.middleware import RESPONSE_HEADERS_KEY, add_response_headers
from bare.responses import JSONResponse, PlainTextResponse
from bare.routing import (
    FOUND,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    REDIRECT,
    RouteConflictError,
    RouteError,
    RouteOptionArgs,
    RouteOptions,
    location_for,
)
from bare.testing import TestClient
from bare.types import Receive, Scope, Send

Call = Callable[..., Any]

# -- the app decides as Router.resolve does ---------------------------------------------


async def _mounted(scope: Scope, receive: Receive, send: Send) -> None:
    """A raw ASGI app that says where it was mounted."""
    body = f"mounted {scope['root_path']}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def _named(name: str) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Any:
        return {"route": name, "params": {k: str(v) for k, v in request.path_params.items()}}

    return handler


ROUTES = [
    ("/", ["GET"]),
    ("/users", ["GET", "POST"]),
    ("/users/{user_id:int}", ["GET", "DELETE"]),
    ("/users/{name}", ["PUT"]),
    ("/users/{user_id:int}/posts/", ["GET"]),
    ("/files/{name}.{ext}/raw", ["GET"]),
    ("/static/{rest:path}", ["GET"]),
    ("/docs/", ["GET"]),
    ("/v{major:int}/status", ["GET"]),
]

PATHS = [
    "/",
    "/users",
    "/users/",
    "/users/42",
    "/users/42/",
    "/users/bob",
    "/users/42/posts",
    "/users/42/posts/",
    "/files/a.txt/raw",
    "/files/a.txt/raw/",
    "/files/a/raw",
    "/static/",
    "/static/css/site.css",
    "/static",
    "/docs",
    "/docs/",
    "/v2/status",
    "/vx/status",
    "/api",
    "/api/",
    "/api/anything/at/all",
    "/nowhere",
    "/nowhere/",
    "//evil.example",
    "/caf\u00e9",
]

METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]


def _app(make_router: Call, *, redirect_slashes: bool) -> Bare:
    app = Bare()
    app.router = make_router(redirect_slashes=redirect_slashes)
    for path, methods in ROUTES:
        app.add_route(path, _named(path), methods)
    app.mount("/api", _mounted)
    return app


def _expected(app: Bare, method: str, path: str, root_path: str) -> tuple[int, Any]:
    """What the app should answer, from `Router.resolve` alone."""
    code, target, params = app.router.resolve(method, path)
    if code == FOUND:
        if isinstance(target, Mount):
            return 200, f"mounted {root_path}{target.path}"
        assert isinstance(target, Route)
        return 200, {"route": target.path, "params": {k: str(v) for k, v in params.items()}}
    if code == METHOD_NOT_ALLOWED:
        assert isinstance(target, tuple)
        return (204 if method == "OPTIONS" else 405), ", ".join(target)
    if code == REDIRECT:
        assert isinstance(target, str)
        scope = {"root_path": root_path, "query_string": b"q=1"}
        return 308, location_for(scope, target)
    assert code == NOT_FOUND
    return 404, None


def _answer(reply: Any, status: int, method: str) -> Any:
    if status == 200 and method != "HEAD":
        return (
            reply.json()
            if reply.header("content-type") == "application/json"
            else (reply.body.decode())
        )
    if status in (204, 405):
        return reply.header("allow")
    if status == 308:
        return reply.header("location")
    return None


@pytest.mark.parametrize("redirect_slashes", [True, False], ids=["redirects", "no-redirects"])
@pytest.mark.parametrize("root_path", ["", "/prefix"], ids=["root", "under-prefix"])
def test_app_agrees_with_resolve(
    make_router: Call, asgi_call: Call, redirect_slashes: bool, root_path: str
) -> None:
    app = _app(make_router, redirect_slashes=redirect_slashes)
    seen = set()
    for path in PATHS:
        for method in METHODS:
            status, answer = _expected(app, method, path, root_path)
            seen.add(status)
            reply = asgi_call(app, method, path, root_path=root_path, query=b"q=1")
            assert reply.status == status, (method, path)
            if method == "HEAD" and status == 200:
                continue  # no body to compare (HEAD itself is tested in test_routing)
            assert _answer(reply, status, method) == answer, (method, path)
    # The cases reach every decision the router can make.
    assert seen >= {200, 204, 404, 405} | ({308} if redirect_slashes else set())


# -- every route kind is served through its `handle` --------------------------------------


def test_the_app_serves_routes_through_their_handle(asgi_call: Call) -> None:
    app = Bare()

    @app.get("/x")
    async def x(request: Request) -> str:
        return "from the handler"

    route = app.routes[0]
    assert isinstance(route, Route)

    async def replacement(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("from handle")(scope, receive, send)

    route.handle = replacement
    assert asgi_call(app, "GET", "/x").body == b"from handle"


def test_a_route_is_an_asgi_app(asgi_call: Call) -> None:
    route = Route("/", lambda request: "direct")
    assert asgi_call(route, "GET", "/").body == b"direct"


# -- route options: one value, kept by copies, resolved when bound ------------------------


def test_route_options_are_checked_at_the_decorator() -> None:
    app = Bare()
    with pytest.raises(TypeError, match=r"unknown route option 'max_body'.*max_body_size, name"):
        app.get("/", max_body=10)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="max_body_size must be a number of bytes"):
        app.post("/", max_body_size=-1)
    with pytest.raises(TypeError, match="route name must be a string"):
        app.get("/", name=3)  # type: ignore[arg-type]


def test_route_option_keywords_and_the_record_stay_in_step() -> None:
    # FormLimits is only imported for type checkers in bare.routing (import cost).
    hints = typing.get_type_hints(RouteOptionArgs, localns={"FormLimits": FormLimits})
    assert set(hints) == set(RouteOptions.__slots__)


def test_route_options_replace_and_compare() -> None:
    options = RouteOptions(name="a")
    assert options.replace(max_body_size=5) == RouteOptions(name="a", max_body_size=5)
    assert options != RouteOptions(name="b")
    assert "name='a'" in repr(options)


def test_included_and_mounted_routes_keep_their_options(asgi_call: Call) -> None:
    sub = Router()

    @sub.post("/small", name="small", max_body_size=4)
    async def small(request: Request) -> Any:
        return len(await request.body())

    sub.mount("/raw", _mounted, name="raw")
    app = Bare(max_body_size=1000)
    app.include_router(sub, prefix="/v1")
    route = app.routes[0]
    assert isinstance(route, Route)
    assert (route.path, route.name, route.options.max_body_size) == ("/v1/small", "small", 4)
    assert asgi_call(app, "POST", "/v1/small", body=b"1234").json() == 4
    assert asgi_call(app, "POST", "/v1/small", body=b"12345").status == 413
    assert app.url_path_for("small") == "/v1/small"
    assert asgi_call(app, "GET", "/v1/raw/x").body == b"mounted /v1/raw"


def test_an_included_routers_own_limit_travels_with_its_routes(asgi_call: Call) -> None:
    sub = Router(max_body_size=3)
    sub.add_route("/echo", _echo_length, ["POST"])
    app = Bare(max_body_size=1000)
    app.include_router(sub)
    assert asgi_call(app, "POST", "/echo", body=b"123").json() == 3
    assert asgi_call(app, "POST", "/echo", body=b"1234").status == 413


async def _echo_length(request: Request) -> Any:
    return len(await request.body())


def test_the_body_limit_is_resolved_when_the_route_is_bound(asgi_call: Call) -> None:
    app = Bare(max_body_size=5)
    app.add_route("/echo", _echo_length, ["POST"])
    app.add_route("/own", _echo_length, ["POST"], max_body_size=2)
    routes = app.routes
    assert [r.max_body_size for r in routes if isinstance(r, Route)] == [5, 2]
    app.max_body_size = 3  # the app's limit changes: routes without their own follow
    assert [r.max_body_size for r in routes if isinstance(r, Route)] == [3, 2]
    assert asgi_call(app, "POST", "/echo", body=b"1234").status == 413
    assert asgi_call(app, "POST", "/echo", body=b"123").json() == 3
    with pytest.raises(ValueError, match="max_body_size"):
        app.max_body_size = -5


def test_the_limit_is_not_looked_up_through_the_scope(asgi_call: Call) -> None:
    app = Bare(max_body_size=2)
    app.add_route("/echo", _echo_length, ["POST"])
    route = app.routes[0]

    async def without_app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = Bare(max_body_size=None)  # another app, with no limit
        await route.handle(scope, receive, send)

    assert asgi_call(without_app, "POST", "/echo", body=b"123").status == 413


# -- one door for errors ------------------------------------------------------------------


def _explode(segment: str) -> Any:
    raise RuntimeError("the converter broke")


register_converter("exploding", "[a-z]+", _explode)


def test_a_converter_that_raises_reaches_the_500_handler(asgi_call: Call) -> None:
    app = Bare()
    app.add_route("/boom/{x:exploding}", lambda request: "never")
    seen: list[Exception] = []

    @app.exception_handler(500)
    async def on_error(request: Request, exc: Exception) -> Any:
        seen.append(exc)
        return JSONResponse({"handled": type(exc).__name__}, status=500)

    reply = asgi_call(app, "GET", "/boom/abc")
    assert (reply.status, reply.json()) == (500, {"handled": "RuntimeError"})
    assert str(seen[0]) == "the converter broke"


def test_a_converter_that_raises_gets_the_generic_500_without_handlers(asgi_call: Call) -> None:
    app = Bare()
    app.add_route("/boom/{x:exploding}", lambda request: "never")
    reply = asgi_call(app, "GET", "/boom/abc")
    assert (reply.status, reply.json()) == (500, {"detail": "Internal Server Error"})
    assert b"converter broke" not in reply.body


class _Refusing:
    """A middleware that raises before the app runs."""

    def __init__(self, app: Any, exc: Exception) -> None:
        self.app = app
        self.exc = exc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raise self.exc
        await self.app(scope, receive, send)


def test_a_middleware_error_reaches_the_apps_handlers(asgi_call: Call) -> None:
    app = Bare()
    app.add_route("/", lambda request: "never")
    app.add_middleware(_Refusing, exc=HTTPException(418, "short and stout"))

    @app.exception_handler(418)
    def teapot(request: Request, exc: Exception) -> Any:
        return {"teapot": True}

    reply = asgi_call(app, "GET", "/")
    assert (reply.status, reply.json()) == (418, {"teapot": True})


def test_a_middleware_crash_is_a_500_through_the_handler(asgi_call: Call) -> None:
    app = Bare()
    app.add_route("/", lambda request: "never")
    app.add_middleware(_Refusing, exc=KeyError("secret"))
    app.add_exception_handler(500, lambda request, exc: "sorry")
    reply = asgi_call(app, "GET", "/")
    assert (reply.status, reply.body) == (500, b"sorry")


class _FailingAfterStart:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        raise RuntimeError("after the response")


def test_an_error_after_the_response_started_reaches_the_server() -> None:
    app = Bare()
    app.add_route("/", lambda request: "fine")
    app.add_middleware(_FailingAfterStart)
    handled: list[Exception] = []
    app.add_exception_handler(500, lambda request, exc: handled.append(exc))
    with pytest.raises(RuntimeError, match="after the response"):
        TestClient(app).get("/")
    assert handled == []


def test_a_tuple_result_is_refused_with_a_clear_error() -> None:
    app = Bare()
    app.add_route("/", lambda request: ({"x": 1}, 201))
    with pytest.raises(TypeError, match=r"returned a tuple.*JSONResponse\(body, status=201\)"):
        TestClient(app).get("/")
    reply = TestClient(app, raise_server_exceptions=False).get("/")
    assert reply.status_code == 500


# -- the response-headers hand-over -------------------------------------------------------


class _AddsHeader:
    def __init__(self, app: Any, name: bytes) -> None:
        self.app = app
        self.name = name
        self.handed_over: list[bool] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        header = (self.name, b"1")
        handed = scope["type"] == "http" and add_response_headers(scope, [header])
        self.handed_over.append(handed)
        if handed or scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def adding(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], header]}
            await send(message)

        await self.app(scope, receive, adding)


def test_headers_are_handed_over_only_to_the_app_that_takes_them(asgi_call: Call) -> None:
    inner = _AddsHeader(_mounted, b"x-inner")  # a raw app: must wrap send itself
    child = Bare()
    child.add_route("/", lambda request: "child")
    child.add_middleware(_AddsHeader, name=b"x-child")
    app = Bare()
    app.add_route("/", lambda request: "parent")
    app.mount("/raw", inner)
    app.mount("/child", child)
    app.add_middleware(_AddsHeader, name=b"x-outer")

    for path, names in [
        ("/", ["x-outer"]),
        ("/raw/x", ["x-inner", "x-outer"]),
        ("/child/", ["x-child", "x-outer"]),
    ]:
        reply = asgi_call(app, "GET", path)
        assert reply.status == 200, path
        for name in names:
            assert reply.header_list(name) == ["1"], (path, name)
    assert inner.handed_over == [False]


def test_outside_a_bare_app_nothing_is_handed_over(asgi_call: Call) -> None:
    app = Bare()
    app.add_route("/", lambda request: "plain")
    wrapped = _AddsHeader(app, b"x-around")  # wraps the app from outside
    reply = asgi_call(wrapped, "GET", "/")
    assert reply.header_list("x-around") == ["1"]
    assert wrapped.handed_over == [False]


# -- lifespans of mounted apps ------------------------------------------------------------


def test_mounted_bare_apps_start_and_stop_with_their_parent() -> None:
    events: list[str] = []

    def app_with_lifespan(name: str) -> Bare:
        from contextlib import asynccontextmanager

        @asynccontextmanager
        async def lifespan(app: Bare) -> Any:
            assert isinstance(app, Bare)
            events.append(f"{name} enter")
            yield {f"{name}_resource": name}
            events.append(f"{name} exit")

        app = Bare(lifespan=lifespan)
        app.on_startup(lambda: events.append(f"{name} startup"))
        app.on_shutdown(lambda: events.append(f"{name} shutdown"))

        @app.get("/state")
        async def state(request: Request) -> Any:
            return sorted(request.state)

        return app

    parent = app_with_lifespan("parent")
    child = app_with_lifespan("child")
    grandchild = app_with_lifespan("grandchild")
    child.mount("/deeper", grandchild)
    child.mount("/again", grandchild)  # the same app twice starts once
    parent.mount("/raw", _mounted)  # not a bare app, and nothing wraps one: skipped
    parent.mount("/child", _AddsHeader(_AddsHeader(child, b"x-1"), b"x-2"))  # found via .app

    with TestClient(parent) as client:
        assert events == [
            "parent startup",
            "parent enter",
            "child startup",
            "child enter",
            "grandchild startup",
            "grandchild enter",
        ]
        shared = ["child_resource", "grandchild_resource", "parent_resource"]
        assert client.get("/child/deeper/state").json() == shared
        with pytest.raises(RuntimeError, match="after the application has started"):
            child.add_middleware(_AddsHeader, name=b"x-late")  # its stack was built
    assert events[6:] == [
        "grandchild exit",
        "grandchild shutdown",
        "child exit",
        "child shutdown",
        "parent exit",
        "parent shutdown",
    ]


def test_an_app_that_wraps_itself_is_not_followed_forever() -> None:
    class Loop:
        def __init__(self) -> None:
            self.app = self

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            raise AssertionError("never called")

    events: list[str] = []
    parent = Bare(on_startup=[lambda: events.append("parent")])
    parent.mount("/loop", Loop())  # type: ignore[arg-type]
    with TestClient(parent):
        assert events == ["parent"]


def test_lifespan_failures_are_logged_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Bare) -> Any:
        yield
        raise RuntimeError("context broke")

    def handler_breaks() -> None:
        raise KeyError("handler broke")

    app = Bare(lifespan=lifespan, on_shutdown=[handler_breaks])
    client = TestClient(app)
    with caplog.at_level(logging.ERROR, logger="bare"):
        client.__enter__()
        with pytest.raises(Exception, match="context broke") as caught:
            client.__exit__(None, None, None)
    assert "RuntimeError: context broke; KeyError: 'handler broke'" in str(caught.value)
    messages = [r.getMessage() for r in caplog.records]
    assert "lifespan shutdown failed" in messages
    assert f"shutdown handler {handler_breaks!r} failed" in messages

    broken = Bare(on_startup=[handler_breaks])
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="bare"), pytest.raises(Exception, match="handler"):
        TestClient(broken).__enter__()
    assert [r.getMessage() for r in caplog.records] == ["application startup failed"]


def test_a_mounted_app_that_fails_to_start_stops_what_started(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from contextlib import asynccontextmanager

    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Bare) -> Any:
        events.append("parent enter")
        yield
        events.append("parent exit")

    def broken() -> None:
        raise RuntimeError("no database")

    parent = Bare(lifespan=lifespan, on_shutdown=[lambda: events.append("parent shutdown")])
    parent.mount("/child", Bare(on_startup=[broken]))
    with caplog.at_level(logging.ERROR), pytest.raises(Exception, match="no database"):
        TestClient(parent).__enter__()
    # The parent's context is left again; its shutdown handlers are not run.
    assert events == ["parent enter", "parent exit"]


# -- small things that belong to the path -------------------------------------------------


def test_url_path_for_quotes_a_parameterless_mount_prefix() -> None:
    child = Bare()
    child.add_route("/item", lambda request: "", name="item")
    app = Bare()
    app.mount("/caf\u00e9 shop", child, name="shop")
    app.mount("/a?b", _mounted, name="odd")
    assert app.url_path_for("shop:item") == "/caf%C3%A9%20shop/item"
    assert app.url_path_for("odd", path="x y") == "/a%3Fb/x%20y"


@pytest.mark.parametrize("error", [RouteError, RouteConflictError])
def test_public_exceptions_show_where_users_import_them(error: type[Exception]) -> None:
    assert error.__module__ == "bare.routing"
    with pytest.raises(RouteConflictError) as caught:
        router = Router()
        router.add_route("/a", lambda request: "")
        router.add_route("/a", lambda request: "")
    assert "bare.routing.RouteConflictError" in caught.exconly()


# -- the inlined response messages --------------------------------------------------------


@pytest.mark.parametrize("value", ["", "caf\u00e9", "x" * 5000, {"a": [1, 2.5, None]}, []])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("extra", [None, [(b"x-extra", b"1")]])
def test_inlined_messages_match_the_responses(value: Any, method: str, extra: Any) -> None:
    from bare.middleware import RESPONSE_HEADERS_KEY
    from bare.responses import json_messages, text_messages

    scope: dict[str, Any] = {"type": "http", "method": method}
    if extra is not None:
        scope[RESPONSE_HEADERS_KEY] = extra
    if isinstance(value, str):
        inlined, full = text_messages(scope, value), PlainTextResponse(value).messages(scope)
    else:
        inlined, full = json_messages(scope, value), JSONResponse(value).messages(scope)
    assert inlined == full


# -- names Starlette and FastAPI users write ----------------------------------------------


def test_http_exception_takes_status_code(asgi_call: Call) -> None:
    assert HTTPException(status_code=404).status == 404
    assert HTTPException(status_code=409, detail="taken").detail == "taken"
    with pytest.raises(TypeError, match="status or status_code, not both"):
        HTTPException(404, status_code=404)
    with pytest.raises(TypeError, match="needs a status"):
        HTTPException()
    with pytest.raises(ValueError, match="int from 100 to 599"):
        HTTPException(600)
    app = Bare()

    @app.get("/")
    async def taken(request: Request) -> Any:
        raise HTTPException(status_code=409, detail="taken")

    reply = asgi_call(app, "GET", "/")
    assert (reply.status, reply.json()) == (409, {"detail": "taken"})


# -- where the path stands relative to root_path ------------------------------------------


@pytest.mark.parametrize(
    ("path", "root_path", "routed", "full"),
    [
        ("/api", "/api", "/", "/api"),
        ("/api/", "/api", "/", "/api/"),
        ("/api/users", "/api", "/users", "/api/users"),
        ("/users", "/api", "/users", "/api/users"),  # a server that strips the prefix
        ("/apis", "/api", "/apis", "/api/apis"),  # not under the prefix at a boundary
        ("/x", "", "/x", "/x"),
    ],
)
def test_route_path_and_full_path(path: str, root_path: str, routed: str, full: str) -> None:
    from bare._paths import full_path, route_path

    scope = {"path": path, "root_path": root_path}
    assert (route_path(scope), full_path(scope)) == (routed, full)


def test_request_url_without_raw_path_is_the_full_path() -> None:
    scope = {
        "type": "http",
        "path": "/api",
        "root_path": "/api",
        "headers": [(b"host", b"example.com")],
        "query_string": b"",
    }
    assert str(Request(scope, None).url) == "http://example.com/api"  # type: ignore[arg-type]


# -- the WebSocket handshake gets the same header checks as HTTP --------------------------


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ([(b"host", b"a.example"), (b"host", b"b.example")], "Request has more than one Host"),
        ([(b"x-h", b"v")] * 101, "Too many request headers"),
    ],
)
def test_an_ambiguous_handshake_is_refused(headers: list[Any], reason: str) -> None:
    import asyncio

    app = Bare()
    entered: list[bool] = []

    @app.websocket("/ws")
    async def ws(websocket: Any) -> None:
        entered.append(True)
        await websocket.accept()

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": headers, "root_path": ""}
    asyncio.run(app(scope, receive, send))
    assert entered == []
    assert len(sent) == 1
    assert (sent[0]["type"], sent[0]["code"]) == ("websocket.close", 1008)
    assert sent[0]["reason"].startswith(reason)


# -- copies under a prefix, and the shortcuts -------------------------------------------------


def test_included_websocket_routes_and_mounts_keep_their_names() -> None:
    sub = Router()

    @sub.websocket("/ws", name="chat")
    async def chat(websocket: Any) -> None:
        await websocket.close()

    sub.mount("/files", _mounted, name="files")
    app = Bare()
    app.include_router(sub, prefix="/v1")
    assert app.url_path_for("chat") == "/v1/ws"
    assert app.url_path_for("files", path="a.txt") == "/v1/files/a.txt"


@pytest.mark.parametrize("prefix", ["v1", "/v1/", "v1/"])
def test_an_include_prefix_must_start_and_not_end_with_a_slash(prefix: str) -> None:
    with pytest.raises(RouteError, match="must start with '/' and not end with one"):
        Bare().include_router(Router(), prefix=prefix)


def test_a_routes_own_limit_beats_its_routers(asgi_call: Call) -> None:
    sub = Router(max_body_size=3)
    sub.add_route("/echo", _echo_length, ["POST"], max_body_size=10)
    app = Bare()
    app.include_router(sub)
    assert asgi_call(app, "POST", "/echo", body=b"12345").json() == 5


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_the_method_shortcuts_pass_options_on(asgi_call: Call, method: str) -> None:
    app = Bare()
    shortcut = getattr(app, method.lower())
    shortcut("/x", name="x", max_body_size=2)(_echo_length)
    route = app.routes[0]
    assert isinstance(route, Route)
    assert (route.methods, route.name, route.max_body_size) == ((method,), "x", 2)
    assert asgi_call(app, method, "/x").status == 200


async def _no_headers_key(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200})  # headers may be left out
    await send({"type": "http.response.body", "body": b"bare start"})


def test_handed_over_headers_reach_a_mount_whose_start_has_no_headers(asgi_call: Call) -> None:
    app = Bare()
    app.mount("/raw", _no_headers_key)
    app.add_middleware(_AddsHeader, name=b"x-outer")
    reply = asgi_call(app, "GET", "/raw/x")
    assert (reply.body, reply.header_list("x-outer")) == (b"bare start", ["1"])


def test_full_path_without_a_root_path_key() -> None:
    from bare._paths import full_path, route_path

    assert full_path({"path": "/a"}) == route_path({"path": "/a"}) == "/a"


def test_route_options_repr_lists_every_option() -> None:
    assert repr(RouteOptions(name="a", max_body_size=5)) == (
        "RouteOptions(dependencies=(), deprecated=False, description=None, etag=Ellipsis, "
        "form_limits=Ellipsis, include_in_schema=True, max_body_size=5, name='a', "
        "operation_id=None, requires=None, response_class=None, response_model=Ellipsis, "
        "responses=None, status_code=None, summary=None, tags=())"
    )


# -- the response constructor's inlined status check ----------------------------------------


@pytest.mark.parametrize(
    ("status", "status_code"),
    [
        (None, None),
        (201, None),
        (100, None),
        (599, None),
        (99, None),
        (600, None),
        ("200", None),
        (200.0, None),
        (True, None),
        (None, 404),
        (None, 99),
        (201, 202),
    ],
)
def test_the_inlined_status_check_agrees_with_resolve(status: Any, status_code: Any) -> None:
    from http import HTTPStatus

    from bare.responses import _OK, _resolve

    def outcome(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (TypeError, ValueError) as exc:
            return type(exc), str(exc)

    given = _OK if status is None else status
    inlined = outcome(lambda: PlainTextResponse("", given, status_code=status_code).status)
    reference = outcome(lambda: _resolve(given, _OK, status_code))
    assert inlined == reference
    assert outcome(lambda: PlainTextResponse("", HTTPStatus.CREATED).status) == 201


def test_the_ready_length_headers_are_the_computed_ones() -> None:
    from bare.responses import _LENGTH_HEADERS

    assert [(b"content-length", str(n).encode()) for n in range(2048)] == _LENGTH_HEADERS


# -- more survivors of the mutation run ----------------------------------------------------


def test_websocket_route_names_are_kept_everywhere() -> None:
    async def handler(websocket: Any) -> None:
        await websocket.close()

    sub = Router()
    sub.websocket("/a", name="by-decorator")(handler)
    sub.add_websocket_route("/b", handler, name="by-call")
    app = Bare()
    app.include_router(sub, prefix="/v1")
    assert [r.name for r in app.routes] == ["by-decorator", "by-call"]
    assert app.url_path_for("by-call") == "/v1/b"


def test_a_callable_object_is_named_by_its_class() -> None:
    class Handler:
        async def __call__(self, request: Request) -> str:
            return "ok"

    assert Route("/", Handler()).name == "Handler"


def test_registration_mistakes_say_what_is_wrong() -> None:
    with pytest.raises(RouteError, match="answers no method"):
        Route("/", _echo_length, methods=[])
    with pytest.raises(RouteError, match="must start with '/'"):
        Mount("api", _mounted)
    with pytest.raises(RouteConflictError, match="mount '/'"):
        app = Bare()
        app.mount("/", _mounted)
        app.mount("/", _mounted)


def test_a_mount_prefix_loses_its_trailing_slash(asgi_call: Call) -> None:
    app = Bare()
    app.mount("/api/", _mounted)
    assert app.routes[0].path == "/api"
    assert asgi_call(app, "GET", "/api/x").body == b"mounted /api"


def test_a_body_limit_of_zero_refuses_any_body(asgi_call: Call) -> None:
    app = Bare()
    app.add_route("/echo", _echo_length, ["POST"], max_body_size=0)
    assert asgi_call(app, "POST", "/echo").json() == 0
    assert asgi_call(app, "POST", "/echo", body=b"x").status == 413


def test_slash_redirects_follow_the_method(asgi_call: Call, make_router: Call) -> None:
    app = Bare()
    app.router = make_router()
    app.add_route("/items", _echo_length, ["POST"])
    assert app.router.resolve("POST", "/items/") == (REDIRECT, "/items", None)
    reply = asgi_call(app, "POST", "/items/")
    assert (reply.status, reply.header("location")) == (308, "/items")


@pytest.mark.parametrize(
    "patterns",
    [("/", "/a", "/a/b"), ("/", "/a/"), ("/{x}", "/a/{y}/"), ("/", "/files/{rest:path}")],
    ids=["root-and-plain", "root-and-slashed", "params", "path-parameter"],
)
def test_a_slash_is_added_only_where_a_pattern_could_take_it(
    make_router: Call, patterns: tuple[str, ...]
) -> None:
    # The router skips the second lookup when no pattern could match the path with a
    # slash added ("/" alone never can); the answers must be those of always looking.
    router = make_router()
    for pattern in patterns:
        router.add_route(pattern, _echo_length, ["GET"])
    matcher = router.http_matcher()
    paths = ["/a", "/a/", "/a/b", "/a/b/", "/b", "/a/c", "/files", "/files/x", "//", "/"]
    skipping = [router.slash_redirect(matcher, "GET", path) for path in paths]
    router._slash_endings = True
    assert skipping == [router.slash_redirect(matcher, "GET", path) for path in paths]


def test_a_named_mounts_path_is_built_and_checked() -> None:
    from bare import NoMatchFound

    app = Bare()
    app.mount("/files", _mounted, name="files")
    assert app.url_path_for("files", path="/a:b/c/") == "/files/a:b/c/"
    with pytest.raises(NoMatchFound, match="takes its prefix parameters and path="):
        app.url_path_for("files")
    with pytest.raises(NoMatchFound, match="takes its prefix parameters and path="):
        app.url_path_for("files", path="x", other=1)


def test_the_requires_option_is_a_tuple_of_scope_names() -> None:
    assert RouteOptions(requires="admin").requires == ("admin",)
    assert RouteOptions(requires=["a", "b"]).requires == ("a", "b")
    assert RouteOptions(requires=[]).requires == ()
    assert RouteOptions().requires is None
    for bad in ([1], [""], ["a", None]):
        with pytest.raises(TypeError, match="requires= takes scope names"):
            RouteOptions(requires=bad)  # type: ignore[arg-type]


class PassThrough:
    def __init__(self, app: typing.Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def test_only_http_scopes_of_an_app_with_middleware_are_marked_for_the_hand_over() -> None:
    seen: dict[str, bool] = {}

    def app_with(middleware: bool) -> Bare:
        app = Bare()

        @app.get("/")
        async def page(request: Request) -> str:
            seen[f"http, middleware={middleware}"] = RESPONSE_HEADERS_KEY in request.scope
            return "ok"

        @app.websocket("/ws")
        async def socket(ws: WebSocket) -> None:
            seen[f"websocket, middleware={middleware}"] = RESPONSE_HEADERS_KEY in ws.scope
            await ws.accept()
            await ws.close()

        if middleware:
            app.add_middleware(PassThrough)
        return app

    for middleware in (False, True):
        with TestClient(app_with(middleware)) as client:
            assert client.get("/").text == "ok"
            with client.websocket_connect("/ws"):
                pass
    assert seen == {
        "http, middleware=False": False,
        "websocket, middleware=False": False,
        "http, middleware=True": True,
        "websocket, middleware=True": False,
    }


# -- route settings: each route's own options, else the app's -------------------------------


def test_route_settings_come_from_the_route_else_the_app() -> None:
    strict = FormLimits(max_fields=3)
    app = Bare(etag=True, form_limits=strict, max_body_size=100)

    @app.get("/own", etag=False, form_limits=None, max_body_size=7)
    async def own(request: Request) -> str:
        return ""

    @app.get("/inherits")
    async def inherits(request: Request) -> str:
        return ""

    routes = {r.path: r for r in app.router.routes if isinstance(r, Route)}
    assert routes["/own"].settings == (7, False, None)
    assert routes["/inherits"].settings == (100, True, strict)
    # Changing the app's setting rebinds the routes that set none.
    looser = FormLimits(max_fields=9)
    app.etag = False
    app.form_limits = looser
    assert routes["/inherits"].settings == (100, False, looser)
    assert routes["/own"].settings == (7, False, None)
    assert (app.etag, app.form_limits) == (False, looser)


def test_an_included_router_passes_on_only_what_it_was_given() -> None:
    limits = FormLimits(max_files=1)
    given = Router(etag=True, form_limits=limits)
    plain = Router()

    @given.get("/a")
    @plain.get("/b")
    async def handler(request: Request) -> str:
        return ""

    @given.get("/c", etag=False)
    async def own(request: Request) -> str:
        return ""

    app = Bare(max_body_size=50)
    app.include_router(given, prefix="/g")
    app.include_router(plain, prefix="/p")
    settings = {r.path: r.settings for r in app.router.routes if isinstance(r, Route)}
    assert settings == {
        "/g/a": (50, True, limits),
        "/g/c": (50, False, limits),
        "/p/b": (50, False, None),
    }


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"etag": 1}, TypeError, "etag must be True or False"),
        ({"etag": None}, TypeError, "etag must be True or False"),
        ({"form_limits": {"max_fields": 3}}, TypeError, "form_limits must be a bare.forms"),
    ],
    ids=["etag_int", "etag_none", "form_limits_dict"],
)
def test_bad_settings_are_refused_where_they_are_given(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    app = Bare()
    with pytest.raises(error, match=message):
        app.get("/", **options)
    with pytest.raises(error, match=message):
        Bare(**options)
    with pytest.raises(error, match=message):
        Router(**options)


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"max_fields": -1}, "max_fields must be an int >= 0"),
        ({"max_part_size": 1.5}, "max_part_size must be an int >= 0"),
        ({"spool_max_size": True}, "spool_max_size must be an int >= 0"),
        ({"max_file_size": "10"}, "max_file_size must be an int >= 0"),
    ],
    ids=["negative", "float", "bool", "string"],
)
def test_form_limits_refuse_what_is_not_a_count(limits: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FormLimits(**limits)


def test_form_limits_replace_and_compare() -> None:
    limits = FormLimits(max_files=2)
    assert limits.replace(max_fields=5) == FormLimits(max_files=2, max_fields=5)
    assert limits.replace(max_file_size=None).max_file_size is None
    with pytest.raises(TypeError, match="unknown form limit 'max_feilds'"):
        limits.replace(max_feilds=5)
    assert "max_files=2" in repr(limits)
    assert hash(limits) == hash(FormLimits(max_files=2))


# -- the options of typed handlers and of the OpenAPI document ---------------------------------


def test_typed_and_documentation_options_travel_with_copies() -> None:
    from bare import Depends

    async def audit() -> None: ...

    router = Router()

    @router.get(
        "/items",
        tags=["items"],
        summary="List items",
        description="All of them.",
        operation_id="list_items",
        deprecated=True,
        include_in_schema=False,
        responses={404: {"description": "None"}},
        status_code=203,
        dependencies=[Depends(audit)],
    )
    async def items(request: Request) -> str:
        return "items"

    app = Bare()
    app.include_router(router, prefix="/v1")
    route = next(r for r in app.routes if isinstance(r, Route) and r.path == "/v1/items")
    options = route.options
    assert (options.tags, options.summary, options.description, options.operation_id) == (
        ("items",),
        "List items",
        "All of them.",
        "list_items",
    )
    assert (options.deprecated, options.include_in_schema, options.status_code) == (
        True,
        False,
        203,
    )
    assert options.responses == {404: {"description": "None"}}
    assert route.plan is not None and route.plan.status_code == 203
    assert hash(options) == hash(options.replace())  # a dict among the options: still hashable
    assert options == options.replace() and options != options.replace(tags=["other"])


def test_only_serving_options_make_a_handler_typed() -> None:
    assert not RouteOptions(tags=["a"], summary="s", responses={200: {}}).typed
    assert RouteOptions(status_code=201).typed
    assert RouteOptions(response_model=None).typed
    assert RouteOptions(response_class=PlainTextResponse).typed
