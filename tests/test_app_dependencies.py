"""App-level dependencies, `Bare(dependencies=[Depends(...)])`: they run before every
route's own, on the app's HTTP and WebSocket routes (added before or after, included
from routers), not on mounted apps nor on the OpenAPI document's routes; plain handlers
stay plain without them; the OpenAPI document shows what they read."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bare import (
    Bare,
    Depends,
    Header,
    HTTPException,
    Query,
    Request,
    Router,
    WebSocket,
)
from bare.exceptions import WebSocketException
from bare.requests import HTTPConnection
from bare.routing import Route, WebSocketRoute
from bare.testing import TestClient, WebSocketDenied

KEY = {"x-key": "secret"}


def named(log: list[str], name: str) -> Any:
    """An async dependency that notes its name when it runs."""

    async def dependency() -> None:
        log.append(name)

    dependency.__name__ = dependency.__qualname__ = name
    return dependency


async def verify_key(x_key: str = Header()) -> str:
    if x_key != "secret":
        raise HTTPException(401, "bad key", {"WWW-Authenticate": "APIKey"})
    return x_key


def route_at(app: Bare, path: str) -> Any:
    return next(r for r in app.routes if getattr(r, "path", None) == path)


# -- where they run ----------------------------------------------------------------------------


def test_they_run_before_every_other_dependency_outermost_first() -> None:
    log: list[str] = []
    app = Bare(dependencies=[Depends(named(log, "app"))])
    router = Router(dependencies=[Depends(named(log, "router"))])

    @router.get("/items", dependencies=[Depends(named(log, "route"))])
    async def items(value: None = Depends(named(log, "parameter"))) -> str:
        log.append("handler")
        return "items"

    app.include_router(router, prefix="/v1", dependencies=[Depends(named(log, "include"))])
    assert TestClient(app).get("/v1/items").text == "items"
    assert log == ["app", "include", "router", "route", "parameter", "handler"]
    plan = route_at(app, "/v1/items").plan
    assert [d.call.__name__ for d in plan.dependencies] == [
        "app",
        "include",
        "router",
        "route",
        "parameter",
    ]


@pytest.mark.parametrize("how", ["decorator", "add_route", "router", "method"])
def test_every_route_added_to_the_app_gets_them(how: str) -> None:
    app = Bare(dependencies=[Depends(verify_key)])

    async def handler(request: Request) -> str:
        return f"in {request.method}"

    if how == "decorator":
        app.get("/r")(handler)
    elif how == "add_route":
        app.add_route("/r", handler)
    elif how == "router":
        router = Router()
        router.add_route("/r", handler)
        app.include_router(router)
    else:
        app.post("/r")(handler)
    client = TestClient(app)
    method = "POST" if how == "method" else "GET"
    assert client.request(method, "/r", headers=KEY).text == f"in {method}"
    refused = client.request(method, "/r", headers={"x-key": "wrong"})
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "APIKey"
    assert refused.json() == {"detail": "bad key"}
    missing = client.request(method, "/r")
    assert missing.status_code == 422
    assert missing.json()["detail"] == [
        {"loc": ["header", "x-key"], "msg": "Field required", "type": "missing"}
    ]


def test_a_404_or_a_405_runs_none_of_them() -> None:
    log: list[str] = []
    app = Bare(dependencies=[Depends(named(log, "app"))])
    app.get("/")(lambda request: "home")
    client = TestClient(app)
    assert client.get("/nowhere").status_code == 404
    assert client.post("/").status_code == 405
    assert log == []
    assert client.get("/").text == "home" and log == ["app"]


def test_plain_handlers_become_typed_and_still_get_the_request() -> None:
    app = Bare(dependencies=[Depends(verify_key)])

    async def unannotated(request):  # type: ignore[no-untyped-def]
        return request.url.path

    async def other_name(req):  # type: ignore[no-untyped-def]
        return req.url.path

    def sync_annotated(request: Request) -> str:
        return request.url.path

    async def connection(conn: HTTPConnection) -> str:
        return conn.url.path

    async def anything(request: Any) -> str:
        return str(request.url.path)

    handlers = [unannotated, other_name, sync_annotated, connection, anything]
    for handler in handlers:
        app.add_route(f"/{handler.__name__}", handler)
    app.add_route("/lambda", lambda request: "lambda")
    client = TestClient(app)
    for handler in handlers:
        path = f"/{handler.__name__}"
        assert route_at(app, path).plan is not None, path  # typed: the dependency must run
        assert client.get(path, headers=KEY).text == path
        # `req` is the request, not a required query parameter.
        assert client.get(path).status_code == 422, path
    assert client.get("/lambda", headers=KEY).text == "lambda"
    assert client.get("/lambda?request=1", headers={"x-key": "no"}).status_code == 401


def test_an_app_without_them_keeps_plain_handlers_plain() -> None:
    app = Bare()
    app.get("/")(lambda request: "home")
    assert route_at(app, "/").plan is None
    assert Bare(dependencies=()).router.dependencies == ()
    assert Bare(dependencies=[]).routes == []


def test_a_plain_handler_made_typed_by_a_route_option_gets_the_request() -> None:
    app = Bare()

    @app.get("/", status_code=201)
    async def created(req):  # type: ignore[no-untyped-def]
        return req.method

    reply = TestClient(app).get("/")
    assert (reply.status_code, reply.text) == (201, "GET")


def test_a_handler_named_like_a_path_parameter_is_not_the_request() -> None:
    app = Bare(dependencies=[Depends(verify_key)])

    @app.get("/users/{name}")
    async def user(name):  # type: ignore[no-untyped-def]
        return f"user {name}"

    assert TestClient(app).get("/users/ada", headers=KEY).text == "user ada"


def test_routes_added_before_and_after_the_first_request() -> None:
    log: list[str] = []
    app = Bare(dependencies=[Depends(named(log, "app"))])
    app.get("/first")(lambda request: "first")
    client = TestClient(app)
    assert client.get("/first").text == "first"
    app.get("/later")(lambda request: "later")
    assert client.get("/later").text == "later"
    assert log == ["app", "app"]


def test_values_are_shared_with_the_handlers_own_dependencies() -> None:
    calls: list[str] = []

    async def current_user(x_user: str = Header("anonymous")) -> str:
        calls.append(x_user)
        return x_user

    app = Bare(dependencies=[Depends(current_user)])

    @app.get("/me")
    async def me(user: str = Depends(current_user)) -> dict[str, str]:
        return {"user": user}

    assert TestClient(app).get("/me", headers={"x-user": "ada"}).json() == {"user": "ada"}
    assert calls == ["ada"]  # once per request, as any dependency


def test_a_generator_dependency_is_cleaned_up_after_the_response() -> None:
    log: list[str] = []

    async def session() -> AsyncIterator[str]:
        log.append("open")
        try:
            yield "s"
        finally:
            log.append("close")

    app = Bare(dependencies=[Depends(session)])

    @app.get("/")
    async def home(request: Request) -> str:
        log.append("handler")
        return "ok"

    @app.get("/fail")
    async def fail(request: Request) -> str:
        raise HTTPException(409, "no")

    client = TestClient(app)
    assert client.get("/").text == "ok"
    assert log == ["open", "handler", "close"]
    log.clear()
    assert client.get("/fail").status_code == 409
    assert log == ["open", "close"]


def test_overrides_replace_them_too() -> None:
    app = Bare(dependencies=[Depends(verify_key)])
    app.get("/")(lambda request: "in")
    client = TestClient(app)
    assert client.get("/").status_code == 422
    app.dependency_overrides[verify_key] = lambda: "test key"
    assert client.get("/").text == "in"
    app.dependency_overrides.clear()
    assert client.get("/", headers={"x-key": "wrong"}).status_code == 401


def test_an_invalid_value_stops_every_dependency_before_any_runs() -> None:
    log: list[str] = []

    async def limited(page: int = Query(1, ge=1, le=100)) -> None:
        log.append(f"page {page}")

    app = Bare(dependencies=[Depends(named(log, "first")), Depends(limited)])
    app.get("/")(lambda request: "in")
    client = TestClient(app)
    for hostile in ("0", "101", "x" * 10_000, "1e400", "-" * 3, "\u0000"):
        reply = client.get("/", params={"page": hostile})
        assert reply.status_code == 422, hostile
        (problem,) = reply.json()["detail"]
        assert problem["loc"] == ["query", "page"]
        assert len(reply.content) < 1000  # long values are not echoed
    assert log == []
    assert client.get("/?page=3").text == "in" and log == ["first", "page 3"]


# -- WebSocket routes --------------------------------------------------------------------------


def test_they_run_for_websocket_routes() -> None:
    log: list[str] = []
    app = Bare(dependencies=[Depends(named(log, "app"))])

    @app.websocket("/plain")
    async def plain(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("plain")
        await websocket.close()

    @app.websocket("/typed/{room:int}")
    async def typed(websocket: WebSocket, room: int) -> None:
        await websocket.accept()
        await websocket.send_text(f"room {room}")
        await websocket.close()

    router = Router()
    router.add_websocket_route("/included", plain)
    app.include_router(router, prefix="/r")
    client = TestClient(app)
    for path, text in (("/plain", "plain"), ("/typed/3", "room 3"), ("/r/included", "plain")):
        log.clear()
        with client.websocket_connect(path) as ws:
            assert ws.receive_text() == text
        assert log == ["app"], path
    assert all(
        r.plan is not None and len(r.plan.dependencies) == 1
        for r in app.routes
        if isinstance(r, WebSocketRoute)
    )


def test_a_websocket_dependency_can_refuse_the_handshake() -> None:
    app = Bare(dependencies=[Depends(verify_key)])

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("in")
        await websocket.close()

    client = TestClient(app)
    with client.websocket_connect("/ws", headers=KEY) as connection:
        assert connection.receive_text() == "in"
    with pytest.raises(WebSocketDenied) as missing, client.websocket_connect("/ws"):
        pass
    assert (missing.value.code, missing.value.reason) == (
        1008,
        "invalid header parameter 'x-key': Field required",
    )


def test_an_http_error_in_a_websocket_dependency_denies_the_handshake(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def policy(x_key: str = Header("")) -> None:
        if x_key == "closed":
            raise WebSocketException(4003, "closed for you")
        if x_key != "secret":
            raise HTTPException(401, "bad key", {"WWW-Authenticate": "APIKey"})

    app = Bare(dependencies=[Depends(policy)])

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("in")
        await websocket.close()

    client = TestClient(app)
    with (
        caplog.at_level(logging.ERROR, logger="bare"),
        pytest.raises(WebSocketDenied) as denied,
        client.websocket_connect("/ws"),
    ):
        pass
    assert denied.value.status_code == 401
    assert denied.value.response.headers["www-authenticate"] == "APIKey"
    assert denied.value.response.json() == {"detail": "bad key"}
    assert not caplog.records  # a refusal, not a server error
    with (
        pytest.raises(WebSocketDenied) as closed,
        client.websocket_connect("/ws", headers={"x-key": "closed"}),
    ):
        pass
    assert (closed.value.code, closed.value.reason) == (4003, "closed for you")


# -- what they do not reach --------------------------------------------------------------------


def test_mounted_apps_are_left_to_their_own_dependencies() -> None:
    log: list[str] = []
    child = Bare(dependencies=[Depends(named(log, "child"))])
    child.get("/inside")(lambda request: "inside")
    plain_child = Bare()
    plain_child.get("/inside")(lambda request: "plain inside")
    app = Bare(dependencies=[Depends(named(log, "parent"))])
    app.mount("/child", child)
    app.mount("/plain", plain_child)
    client = TestClient(app)
    assert client.get("/child/inside").text == "inside"
    assert log == ["child"]
    log.clear()
    assert client.get("/plain/inside").text == "plain inside"
    assert log == []
    assert route_at(plain_child, "/inside").plan is None


def test_the_openapi_document_and_docs_page_are_served_without_them() -> None:
    app = Bare(dependencies=[Depends(verify_key)])
    app.get("/")(lambda request: "in")
    client = TestClient(app)
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200
    assert client.get("/").status_code == 422
    assert route_at(app, "/openapi.json").plan is None
    assert app.router.dependencies  # still there for routes added later
    app.get("/later")(lambda request: "later")
    assert client.get("/later").status_code == 422


# -- configuration -----------------------------------------------------------------------------


def test_what_is_not_a_list_of_dependencies_is_refused() -> None:
    with pytest.raises(TypeError, match=r"Depends\(...\) markers.*write Depends\(verify_key\)"):
        Bare(dependencies=[verify_key])
    with pytest.raises(TypeError, match=r"dependencies must be a list of Depends"):
        Bare(dependencies=Depends(verify_key))
    with pytest.raises(TypeError, match=r"dependencies must be a list of Depends"):
        Bare(dependencies="verify_key")
    with pytest.raises(TypeError, match=r"Depends\(...\) markers, not Header"):
        Bare(dependencies=[Header()])


def test_a_dependency_that_cannot_be_served_is_refused_when_a_route_is_added() -> None:
    async def reads_a_body(payload: dict[str, int]) -> None: ...

    app = Bare(dependencies=[Depends(reads_a_body)])
    with pytest.raises(TypeError, match=r"route '/' \(GET\).*a body on GET"):
        app.get("/")(lambda request: "in")
    app.post("/")(lambda request: "posted")  # a POST route may read it
    reply = TestClient(app).post("/", json={"a": 1})
    assert reply.text == "posted"


# -- OpenAPI -----------------------------------------------------------------------------------


def test_the_openapi_document_shows_what_they_read() -> None:
    async def paging(limit: int = Query(10, ge=1, le=100)) -> None: ...

    app = Bare(dependencies=[Depends(verify_key), Depends(paging)])
    app.get("/plain")(lambda request: "in")

    @app.post("/typed/{item_id:int}")
    async def typed(item_id: int, x_key: str = Header()) -> dict[str, int]:
        return {"id": item_id}

    child = Bare()
    child.get("/inside")(lambda request: "inside")
    app.mount("/child", child)
    document = app.openapi()
    for path, method in (("/plain", "get"), ("/typed/{item_id}", "post")):
        operation = document["paths"][path][method]
        found = {(p["in"], p["name"]): p for p in operation["parameters"]}
        assert found[("header", "x-key")]["required"] is True
        limit = found[("query", "limit")]
        assert limit["required"] is False
        assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 100)
        assert len(operation["parameters"]) == len(found)  # x-key once on the typed route
        assert "422" in operation["responses"]
    inside = document["paths"]["/child/inside"]["get"]
    assert "parameters" not in inside and "422" not in inside["responses"]
    assert "/openapi.json" not in document["paths"]


def test_a_route_added_directly_to_the_router_list_is_not_changed() -> None:
    # `Route` objects built by hand are given the dependencies when added, as a
    # router's are; the original object is left as it was.
    app = Bare(dependencies=[Depends(verify_key)])
    route = Route("/", lambda request: "in")
    added = app.router.add(route)
    assert isinstance(added, Route) and added is not route
    assert route.plan is None and added.plan is not None


def test_a_dependency_for_http_and_websocket_routes_takes_the_connection() -> None:
    seen: list[str] = []

    async def audit(connection: HTTPConnection) -> None:
        seen.append(connection.scope["type"])

    async def http_only(request: Request) -> None: ...

    app = Bare(dependencies=[Depends(audit)])
    app.get("/")(lambda request: "in")

    @app.websocket("/ws")
    async def ws(websocket):  # type: ignore[no-untyped-def]
        await websocket.accept()
        await websocket.send_text("in")
        await websocket.close()

    client = TestClient(app)
    assert client.get("/").text == "in"
    with client.websocket_connect("/ws") as socket:
        assert socket.receive_text() == "in"
    assert seen == ["http", "websocket"]
    strict = Bare(dependencies=[Depends(http_only)])
    strict.get("/")(lambda request: "in")
    with pytest.raises(TypeError, match=r"WebSocket route gets no request.*or HTTPConnection"):
        strict.websocket("/ws")(ws)
