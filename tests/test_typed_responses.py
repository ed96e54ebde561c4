"""What typed handlers return: response models (fields they lack never leak), lists of
them, `status_code=`, `response_class=`, `response_model=`, responses returned as they
are, and pydantic models."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, TypedDict

import msgspec
import pydantic
import pytest

from bare import Bare, HTMLResponse, JSONResponse, PlainTextResponse, Request, Response
from bare.routing import Route
from bare.testing import TestClient


class PublicUser(msgspec.Struct):
    name: str
    email: str


class StoredUser(PublicUser):
    password_hash: str = "x"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Movie(TypedDict):
    title: str


class PydanticUser(pydantic.BaseModel):
    name: str


class PydanticStored(PydanticUser):
    token: str = "secret"


class Row:
    """An ORM-like object: attributes, no dict."""

    def __init__(self) -> None:
        self.name = "ada"
        self.email = "ada@example.com"
        self.password_hash = "hash"


def _app() -> Bare:
    app = Bare()

    @app.get("/dict")
    async def from_dict() -> PublicUser:
        return {"name": "ada", "email": "a@x", "password_hash": "leak"}  # type: ignore[return-value]

    @app.get("/subclass")
    async def from_subclass() -> PublicUser:
        return StoredUser("ada", "a@x", "leak")

    @app.get("/object")
    async def from_object() -> PublicUser:
        return Row()  # type: ignore[return-value]

    @app.get("/list")
    async def many() -> list[PublicUser]:
        return [StoredUser("a", "a@x"), {"name": "b", "email": "b@x", "extra": 1}]  # type: ignore[list-item]

    @app.get("/dataclass")
    async def point() -> Point:
        return {"x": 1, "y": 2, "z": 3}  # type: ignore[return-value]

    @app.get("/typeddict")
    async def movie() -> Movie:
        return {"title": "M", "secret": "s"}  # type: ignore[typeddict-unknown-key]

    @app.get("/pydantic")
    async def pyd() -> PydanticUser:
        return PydanticStored(name="ada")

    @app.get("/pydantic-list")
    async def pyd_list() -> list[PydanticUser]:
        return [PydanticStored(name="a"), {"name": "b", "token": "t"}]  # type: ignore[list-item]

    @app.get("/explicit", response_model=PublicUser)
    async def explicit() -> dict[str, str]:
        return {"name": "n", "email": "e", "secret": "s"}

    @app.get("/off", response_model=None)
    async def off() -> PublicUser:
        return {"anything": 1}  # type: ignore[return-value]

    @app.post("/created", status_code=201)
    async def created() -> PublicUser:
        return PublicUser("new", "n@x")

    @app.delete("/gone", status_code=204)
    async def gone() -> None:
        return None

    @app.get("/page", response_class=HTMLResponse)
    async def page() -> str:
        return "<h1>hi</h1>"

    @app.get("/text-status", status_code=202, response_class=PlainTextResponse)
    async def text_status() -> str:
        return "accepted"

    @app.get("/custom")
    async def custom() -> PublicUser:
        return Response(b"as is", 203)  # type: ignore[return-value]

    @app.get("/wrong")
    async def wrong() -> PublicUser:
        return {"name": "only"}  # type: ignore[return-value]

    @app.get("/struct-no-model", response_model=None)
    async def struct() -> Any:
        return StoredUser("a", "b")

    @app.get("/status-values", status_code=202)
    async def status_values(kind: str) -> Any:
        return {"str": "text", "bytes": b"raw", "dict": {"a": 1}, "list": [1], "none": None}[kind]

    @app.get("/model-in-class", response_class=JSONResponse)
    async def model_in_class() -> PublicUser:
        return StoredUser("a", "b")

    return app


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(_app(), raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/dict", {"name": "ada", "email": "a@x"}),
        ("/subclass", {"name": "ada", "email": "a@x"}),
        ("/object", {"name": "ada", "email": "ada@example.com"}),
        ("/list", [{"name": "a", "email": "a@x"}, {"name": "b", "email": "b@x"}]),
        ("/dataclass", {"x": 1, "y": 2}),
        ("/typeddict", {"title": "M"}),
        ("/pydantic", {"name": "ada"}),
        ("/pydantic-list", [{"name": "a"}, {"name": "b"}]),
        ("/explicit", {"name": "n", "email": "e"}),
        ("/off", {"anything": 1}),
        ("/model-in-class", {"name": "a", "email": "b"}),
    ],
    ids=[
        "dict",
        "subclass",
        "object",
        "list",
        "dataclass",
        "typeddict",
        "pydantic",
        "pydantic_list",
        "explicit",
        "off",
        "model_in_class",
    ],
)
def test_fields_not_in_the_model_never_leak(client: TestClient, path: str, body: Any) -> None:
    reply = client.get(path)
    assert (reply.status_code, reply.json()) == (200, body)
    assert reply.headers["content-type"] == "application/json"
    for secret in (b"leak", b"password_hash", b"secret", b"token", b"extra", b'"z"'):
        assert secret not in reply.content


def test_status_codes_and_response_classes(client: TestClient) -> None:
    reply = client.post("/created")
    assert (reply.status_code, reply.json()) == (201, {"name": "new", "email": "n@x"})
    reply = client.delete("/gone")
    assert (reply.status_code, reply.content) == (204, b"")
    assert "content-length" not in reply.headers
    reply = client.get("/page")
    assert (reply.text, reply.headers["content-type"]) == (
        "<h1>hi</h1>",
        "text/html; charset=utf-8",
    )
    reply = client.get("/text-status")
    assert (reply.status_code, reply.text) == (202, "accepted")


@pytest.mark.parametrize(
    ("kind", "content_type", "body"),
    [
        ("str", "text/plain; charset=utf-8", b"text"),
        ("bytes", "application/octet-stream", b"raw"),
        ("dict", "application/json", b'{"a":1}'),
        ("list", "application/json", b"[1]"),
        ("none", "text/plain; charset=utf-8", b""),  # as a plain handler's None
    ],
    ids=["str", "bytes", "dict", "list", "none"],
)
def test_status_code_applies_to_every_kind_of_result(
    client: TestClient, kind: str, content_type: str | None, body: bytes
) -> None:
    reply = client.get(f"/status-values?kind={kind}")
    assert (reply.status_code, reply.content) == (202, body)
    assert reply.headers.get("content-type") == content_type


def test_a_response_is_sent_as_it_is(client: TestClient) -> None:
    reply = client.get("/custom")
    assert (reply.status_code, reply.content) == (203, b"as is")


def test_a_struct_without_a_model_is_encoded_whole(client: TestClient) -> None:
    assert client.get("/struct-no-model").json() == {
        "name": "a",
        "email": "b",
        "password_hash": "x",
    }


def test_a_result_that_does_not_fit_the_model_is_a_logged_500(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        reply = client.get("/wrong")
    assert (reply.status_code, reply.json()) == (500, {"detail": "Internal Server Error"})
    assert "only" not in reply.text
    assert any("does not fit" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_the_plan_records_the_response_model_and_status() -> None:
    routes = {r.path: r for r in _app().routes if isinstance(r, Route)}
    assert routes["/list"].plan.response_model == list[PublicUser]  # type: ignore[union-attr]
    assert routes["/explicit"].plan.response_model is PublicUser  # type: ignore[union-attr]
    assert routes["/off"].plan.response_model is None  # type: ignore[union-attr]
    assert routes["/created"].plan.status_code == 201  # type: ignore[union-attr]
    assert routes["/status-values"].plan.response_model is None  # type: ignore[union-attr]


def test_response_options_are_checked_at_the_decorator() -> None:
    app = Bare()
    with pytest.raises(ValueError, match="status_code must be an HTTP status"):
        app.get("/", status_code=99)
    with pytest.raises(TypeError, match=r"response_class must be a bare\.responses\.Response"):
        app.get("/", response_class=dict)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"responses: 'oops' is not a status"):
        app.get("/", responses={"oops": {}})
    with pytest.raises(TypeError, match=r"responses\[404\] must be a dict"):
        app.get("/", responses={404: "Not found"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="summary must be a non-empty string"):
        app.get("/", summary="")
    with pytest.raises(TypeError, match="deprecated must be True or False"):
        app.get("/", deprecated=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot be encoded or decoded"):

        @app.get("/", response_model=object)
        async def handler() -> Any: ...


def test_documented_responses_are_kept_in_the_options() -> None:
    app = Bare()

    @app.get(
        "/", responses={404: {"description": "Missing"}, "4XX": {"description": "x"}, "200": {}}
    )
    async def handler() -> Any:
        return None

    route = next(r for r in app.routes if isinstance(r, Route) and r.path == "/")
    assert route.options.responses == {
        404: {"description": "Missing"},
        "4XX": {"description": "x"},
        200: {},
    }


def test_head_requests_to_typed_routes_get_no_body(client: TestClient) -> None:
    reply = client.head("/dict")
    assert (reply.status_code, reply.content) == (200, b"")


def test_pydantic_models_returned_without_a_response_model_are_encoded() -> None:
    app = Bare()

    @app.get("/any")
    async def any_result() -> Any:
        return PydanticStored(name="ada", token="t")

    @app.get("/unannotated")
    async def unannotated(q: int = 0):  # type: ignore[no-untyped-def]
        return {"users": [PydanticUser(name="ada")], "q": q}

    @app.post("/created", status_code=201)
    async def created() -> Any:
        return [PydanticUser(name="bob")]

    @app.get("/html", response_class=HTMLResponse)
    async def html() -> Any:
        return PydanticUser(name="x")

    client = TestClient(app)
    # Without a model, the whole object goes out, as FastAPI sends it.
    assert client.get("/any").json() == {"name": "ada", "token": "t"}
    assert client.get("/unannotated?q=2").json() == {
        "users": [{"name": "ada"}],
        "q": 2,
    }
    reply = client.post("/created")
    assert (reply.status_code, reply.json()) == (201, [{"name": "bob"}])
    assert client.get("/html").status_code == 200


def test_a_plain_handler_made_typed_by_an_option_is_given_the_request() -> None:
    app = Bare()

    @app.get("/", status_code=202)
    async def accepted(req):  # type: ignore[no-untyped-def]
        return {"method": req.method}

    @app.get("/html", response_class=HTMLResponse)
    def page(request: Request) -> str:
        return f"<p>{request.url.path}</p>"

    client = TestClient(app)
    reply = client.get("/?req=ignored")
    assert (reply.status_code, reply.json()) == (202, {"method": "GET"})
    assert client.get("/html").text == "<p>/html</p>"
    assert all(r.plan is not None for r in app.routes[:2])  # type: ignore[union-attr]


def test_response_classes_as_return_annotations_and_204s() -> None:
    app = Bare()

    @app.get("/json")
    async def as_json(status: int = 202) -> JSONResponse:
        return JSONResponse({"a": 1}, status=status)

    @app.get("/either")
    async def either(raw: bool = False) -> PublicUser | Response:
        return Response(b"raw", 203) if raw else StoredUser("a", "b")

    @app.delete("/items/{item_id:int}", status_code=204)
    async def delete(item_id: int) -> PublicUser | None:
        return None if item_id else PublicUser("x", "y")

    routes = {r.path: r for r in app.routes}
    assert routes["/json"].plan.response_model is None  # type: ignore[union-attr]
    client = TestClient(app)
    reply = client.get("/json?status=201")
    assert (reply.status_code, reply.json()) == (201, {"a": 1})
    assert client.get("/either?raw=1").status_code == 203
    # The model of `Model | Response` still filters what a result that is not a
    # response sends.
    assert client.get("/either").json() == {"name": "a", "email": "b"}
    assert routes["/either"].plan.response_model is PublicUser  # type: ignore[union-attr]
    for item_id in (1, 0):  # a 204 has no body, whatever was returned
        gone = client.delete(f"/items/{item_id}")
        assert (gone.status_code, gone.content) == (204, b"")
        assert "content-length" not in gone.headers
