"""Pattern errors, reverse routing, mounts and sub-routers, and routing seen through `Bare`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from bare import Bare, NoMatchFound, PlainTextResponse, RouteConflictError, RouteError, Router
from bare.converters import register_converter

Call = Callable[..., Any]


async def handler(request: Any) -> str:
    return "ok"


async def other(request: Any) -> str:
    return "other"


# -- registration errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("users", "must start with '/'"),
        ("/users/{id", "unbalanced '{'"),
        ("/users/id}", "unbalanced '}'"),
        ("/users/}{id}", "unbalanced '}'"),
        ("/users/{a{b}}", "nested braces"),
        ("/users/{}", "empty name"),
        ("/users/{:int}", "empty name"),
        ("/users/{id:}", "empty converter"),
        ("/users/{1d}", "not an identifier"),
        ("/users/{id:nope}", "unknown converter 'nope'"),
        ("/users/{id}/{id}", "uses the parameter 'id' twice"),
        ("/files/{a}{b}", "need text between them"),
        ("/files/{p:path}/edit", "'path' parameter must be the whole last segment"),
        ("/files/x{p:path}", "'path' parameter must be the whole last segment"),
    ],
)
def test_malformed_patterns_are_refused(pattern: str, message: str) -> None:
    router = Router()
    with pytest.raises(RouteError, match=message) as info:
        router.add_route(pattern, handler)
    assert repr(pattern)[1:-1].replace("\\\\", "\\") in str(info.value)


def test_duplicate_route_error_names_both_routes() -> None:
    router = Router()
    router.add_route("/users/{user_id:int}", handler, ["GET", "POST"])
    with pytest.raises(RouteConflictError) as info:
        router.add_route("/users/{uid:int}", other, ["POST"])
    text = str(info.value)
    assert "'/users/{uid:int}' (other)" in text
    assert "'/users/{user_id:int}' (handler)" in text
    assert "POST" in text


def test_equivalent_only_when_converters_match() -> None:
    router = Router()
    router.add_route("/users/{id:int}", handler)
    router.add_route("/users/{id}", other)  # a different converter: no conflict
    router.add_route("/users/{id:int}", other, ["DELETE"])  # another method: no conflict
    with pytest.raises(RouteConflictError):
        router.add_route("/users/{name}", other)


def test_methods_must_be_a_list() -> None:
    with pytest.raises(TypeError, match="list of strings"):
        Router().add_route("/", handler, "GET")


def test_custom_converter() -> None:
    register_converter("hexcolor", "[0-9a-f]{6}", lambda s: int(s, 16), lambda v: f"{v:06x}")
    router = Router()
    router.add_route("/color/{c:hexcolor}", handler, name="color")
    code, route, params = router.resolve("GET", "/color/ff8000")
    assert (code, route.name, params) == (0, "color", {"c": 0xFF8000})
    assert router.resolve("GET", "/color/zz8000")[0] == 2
    assert router.url_path_for("color", c=0x00FF00) == "/color/00ff00"
    with pytest.raises(ValueError, match="built in"):
        register_converter("int", "[0-9]+")


# -- reverse routing ---------------------------------------------------------------------


def test_url_path_for_uses_converters_and_quotes() -> None:
    router = Router()
    router.add_route("/users/{user_id:int}/files/{name}.{ext}", handler, name="file")
    router.add_route("/static/{p:path}", handler, name="static")
    router.add_route("/u/{id:uuid}", handler, name="by_uuid")
    router.add_route("/caf\u00e9", handler, name="cafe")
    assert (
        router.url_path_for("file", user_id=7, name="my report", ext="pdf")
        == "/users/7/files/my%20report.pdf"
    )
    assert (
        router.url_path_for("file", user_id=7, name="a?c#d", ext="x")
        == "/users/7/files/a%3Fc%23d.x"
    )
    # A `/` could not come back as one segment: refused rather than quoted.
    with pytest.raises(NoMatchFound, match="not a valid 'str' value"):
        router.url_path_for("file", user_id=7, name="a/b", ext="x")
    assert router.url_path_for("static", p="css/site main.css") == "/static/css/site%20main.css"
    uid = uuid.UUID("3b241101-e2bb-4255-8caf-4136c566a962")
    assert router.url_path_for("by_uuid", id=uid) == f"/u/{uid}"
    assert router.url_path_for("cafe") == "/caf%C3%A9"


def test_url_path_for_default_name_is_the_handler_name() -> None:
    router = Router()
    router.add_route("/h", handler)
    assert router.url_path_for("handler") == "/h"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "missing user_id"),
        ({"user_id": 1, "extra": 2}, "unexpected extra"),
        ({"user_id": "x"}, "not a valid 'int' value"),
        ({"user_id": -1}, "not a valid 'int' value"),
    ],
)
def test_url_path_for_param_errors(params: dict[str, Any], message: str) -> None:
    router = Router()
    router.add_route("/users/{user_id:int}", handler, name="user")
    with pytest.raises(NoMatchFound, match=message):
        router.url_path_for("user", **params)


def test_url_path_for_unknown_name() -> None:
    with pytest.raises(NoMatchFound, match="no route named 'nope'"):
        Router().url_path_for("nope")


def test_url_path_for_picks_the_route_whose_params_fit() -> None:
    router = Router()
    router.add_route("/items", handler, name="items")
    router.add_route("/items/{id:int}", handler, name="items")
    assert router.url_path_for("items") == "/items"
    assert router.url_path_for("items", id=3) == "/items/3"


# -- sub-routers and mounts ------------------------------------------------------------


def test_include_router_prefixes_routes(asgi_call: Call) -> None:
    api = Router()
    api.add_route("/users/{id:int}", handler, name="user")
    api.add_websocket_route("/ws", handler, name="ws")
    app = Bare()
    app.include_router(api, prefix="/api/v1")
    assert app.url_path_for("user", id=5) == "/api/v1/users/5"
    assert asgi_call(app, "GET", "/api/v1/users/5").body == b"ok"
    assert asgi_call(app, "GET", "/users/5").status == 404
    with pytest.raises(RouteError, match="must start with '/'"):
        app.include_router(api, prefix="api")


def test_mount_routes_the_rest_of_the_path(asgi_call: Call) -> None:
    child = Bare()

    @child.get("/items/{id:int}", name="item")
    async def item(request: Any) -> Any:
        return {
            "id": request.path_params["id"],
            "root_path": request.scope["root_path"],
            "path": request.path,
        }

    @child.get("/")
    async def child_index(request: Any) -> str:
        return "child index"

    app = Bare()
    app.mount("/shop", child, name="shop")
    reply = asgi_call(app, "GET", "/shop/items/3")
    assert reply.status == 200
    assert reply.body == b'{"id":3,"root_path":"/shop","path":"/shop/items/3"}'
    assert asgi_call(app, "GET", "/shop").body == b"child index"
    assert asgi_call(app, "GET", "/shop/").body == b"child index"
    assert asgi_call(app, "GET", "/shop/nope").status == 404
    assert app.url_path_for("shop:item", id=3) == "/shop/items/3"
    assert app.url_path_for("shop", path="a b/c") == "/shop/a%20b/c"


def test_mount_under_a_root_path(asgi_call: Call) -> None:
    child = Bare()

    @child.get("/x")
    async def x(request: Any) -> Any:
        return request.scope["root_path"]

    app = Bare()
    app.mount("/sub", child)
    assert asgi_call(app, "GET", "/sub/x", root_path="/proxy").body == b"/proxy/sub"


def test_unnamed_mount_routes_are_found_by_name(asgi_call: Call) -> None:
    child = Bare()

    @child.get("/y/{n:int}", name="why")
    async def why(request: Any) -> Any:
        return request.path_params

    app = Bare()
    app.mount("/m/{tenant}", child)
    assert app.url_path_for("why", tenant="acme", n=2) == "/m/acme/y/2"
    assert asgi_call(app, "GET", "/m/acme/y/2").body == b'{"tenant":"acme","n":2}'


def test_a_route_beats_a_mount_on_its_own_path(asgi_call: Call) -> None:
    async def mounted(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("mounted")(scope, receive, send)

    app = Bare()
    app.mount("/static", mounted)
    app.add_route("/static/special", handler)
    assert asgi_call(app, "GET", "/static/special").body == b"ok"
    assert asgi_call(app, "GET", "/static/other").body == b"mounted"
    # The mount answers the methods the route does not.
    assert asgi_call(app, "POST", "/static/special").body == b"mounted"


# -- through the app ---------------------------------------------------------------------


@pytest.fixture
def app() -> Bare:
    app = Bare()

    @app.get("/items/{id:int}")
    async def get_item(request: Any) -> Any:
        return {"id": request.path_params["id"]}

    @app.delete("/items/{id:int}")
    async def delete_item(request: Any) -> None:
        return None

    @app.route("/form/", methods=["POST"])
    async def form(request: Any) -> str:
        return "posted " + (await request.text())

    @app.route("/custom-options", methods=["GET", "OPTIONS"])
    async def custom_options(request: Any) -> str:
        return request.method

    return app


def test_app_405_has_allow(app: Bare, asgi_call: Call) -> None:
    reply = asgi_call(app, "PUT", "/items/1")
    assert reply.status == 405
    assert reply.header("allow") == "DELETE, GET, HEAD, OPTIONS"


def test_app_head_keeps_headers_and_drops_the_body(app: Bare, asgi_call: Call) -> None:
    get = asgi_call(app, "GET", "/items/12")
    head = asgi_call(app, "HEAD", "/items/12")
    assert (get.status, head.status) == (200, 200)
    assert get.body == b'{"id":12}' and head.body == b""
    assert head.header("content-length") == get.header("content-length") == "9"
    assert head.header("content-type") == "application/json"


def test_app_options_is_answered_automatically(app: Bare, asgi_call: Call) -> None:
    reply = asgi_call(app, "OPTIONS", "/items/1")
    assert reply.status == 204
    assert reply.header("allow") == "DELETE, GET, HEAD, OPTIONS"
    assert reply.body == b"" and reply.header("content-length") is None
    assert asgi_call(app, "OPTIONS", "/custom-options").body == b"OPTIONS"


def test_app_redirects_with_308_keeping_the_query(app: Bare, asgi_call: Call) -> None:
    reply = asgi_call(app, "POST", "/form", query=b"a=1&b=%20x")
    assert reply.status == 308
    assert reply.header("location") == "/form/?a=1&b=%20x"
    proxied = asgi_call(app, "POST", "/form", root_path="/app")
    assert proxied.header("location") == "/app/form/"


def test_app_redirect_location_is_quoted(asgi_call: Call) -> None:
    app = Bare()
    app.add_route("/{name}/", handler)
    reply = asgi_call(app, "GET", "/caf\u00e9 \r\n%")
    assert reply.status == 308
    assert reply.header("location") == "/caf%C3%A9%20%0D%0A%25/"


def test_app_unknown_path_and_unknown_websocket(app: Bare, asgi_call: Call) -> None:
    assert asgi_call(app, "GET", "/nope").status == 404
    assert asgi_call(app, "GET", "/items/" + "9" * 5000).status == 404


def test_app_routes_on_the_path_below_root_path(app: Bare, asgi_call: Call) -> None:
    assert asgi_call(app, "GET", "/items/4", root_path="/api").body == b'{"id":4}'


def test_websocket_handlers_must_be_async() -> None:
    def blocking(ws: Any) -> None:
        """A sync handler cannot await the socket."""

    with pytest.raises(TypeError, match="WebSocket handler 'blocking' must be async"):
        Router().add_websocket_route("/ws", blocking)
