"""Typed handlers: the request body as a msgspec Struct, a dataclass, a TypedDict, a
pydantic model, bytes or str; several bodies embedded in one object; form fields and
files. Every error status: 400, 413, 415, 422 (all errors, `input` only when short)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal, TypedDict

import msgspec
import pydantic
import pytest

from bare import Bare, Body, File, Form, UploadFile
from bare.testing import TestClient


class Line(msgspec.Struct):
    sku: str
    quantity: Annotated[int, msgspec.Meta(ge=1)] = 1


class Order(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    lines: list[Line]
    note: str = ""


@dataclasses.dataclass
class Point:
    x: float
    y: float


class Movie(TypedDict):
    title: str
    year: int


class User(pydantic.BaseModel):
    name: str
    age: int = pydantic.Field(ge=0)


class Cat(msgspec.Struct, tag="cat"):
    lives: int


class Dog(msgspec.Struct, tag="dog"):
    good: bool


class Signup(msgspec.Struct):
    email: str
    tags: list[str] = []
    newsletter: bool = False


def _app() -> Bare:
    app = Bare()

    @app.post("/orders")
    async def order(order: Order) -> Any:
        return {"id": order.id, "skus": [line.sku for line in order.lines]}

    @app.put("/points")
    async def point(point: Point) -> Any:
        return [type(point).__name__, point.x + point.y]

    @app.patch("/movies")
    async def movie(movie: Movie) -> Any:
        return [type(movie).__name__, movie["title"]]

    @app.post("/users")
    async def user(user: User) -> Any:
        return [type(user).__name__, user.name, user.age]

    @app.post("/raw")
    async def raw(data: bytes) -> Any:
        return {"size": len(data)}

    @app.post("/text")
    async def text(note: Annotated[str, Body(media_type="text/plain")]) -> Any:
        return {"note": note}

    @app.post("/pets")
    async def pet(pet: Cat | Dog) -> Any:
        return type(pet).__name__

    @app.post("/optional")
    async def optional(point: Point | None = None) -> Any:
        return "none" if point is None else point.x

    @app.post("/embedded")
    async def embedded(point: Point = Body(embed=True)) -> Any:
        return point.x

    @app.post("/two")
    async def two(line: Line, point: Point, priority: int = Body(0)) -> Any:
        return [line.sku, point.y, priority]

    @app.post("/numbers")
    async def numbers(values: list[int] = Body()) -> Any:
        return sum(values)

    return app


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(_app())


def _detail(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    detail: list[dict[str, Any]] = response.json()["detail"]
    return detail


def test_models_of_every_kind(client: TestClient) -> None:
    order = {"id": 1, "lines": [{"sku": "a"}, {"sku": "b", "quantity": 2}]}
    assert client.post("/orders", json=order).json() == {"id": 1, "skus": ["a", "b"]}
    assert client.put("/points", json={"x": 1, "y": 2.5}).json() == ["Point", 3.5]
    assert client.patch("/movies", json={"title": "M", "year": 1931}).json() == ["dict", "M"]
    assert client.post("/users", json={"name": "ada", "age": 36}).json() == ["User", "ada", 36]
    assert client.post("/pets", json={"type": "dog", "good": True}).text == "Dog"
    assert client.post("/numbers", json=[1, 2, 3]).json() == 6


def test_raw_bodies(client: TestClient) -> None:
    assert client.post("/raw", content=b"\x00\xff" * 10).json() == {"size": 20}
    assert client.post("/text", content="caf\u00e9".encode()).json() == {"note": "caf\u00e9"}
    reply = client.post("/text", content=b"\xff\xfe")
    assert (reply.status_code, reply.json()["detail"]) == (400, "Request body is not valid UTF-8")


def test_optional_and_embedded_bodies(client: TestClient) -> None:
    assert client.post("/optional").text == "none"
    assert client.post("/optional", json={"x": 4, "y": 0}).json() == 4
    assert client.post("/embedded", json={"point": {"x": 5, "y": 0}}).json() == 5
    assert _detail(client.post("/embedded", json={"x": 5, "y": 0})) == [
        {"loc": ["body", "point"], "msg": "Field required", "type": "missing"}
    ]
    reply = client.post("/two", json={"line": {"sku": "s"}, "point": {"x": 0, "y": 2}})
    assert reply.json() == ["s", 2, 0]


def test_a_missing_required_body_is_a_422(client: TestClient) -> None:
    assert _detail(client.post("/orders")) == [
        {"loc": ["body"], "msg": "Field required", "type": "missing"}
    ]
    detail = _detail(client.post("/two", json={}))
    assert {tuple(d["loc"]) for d in detail} == {("body", "line"), ("body", "point")}


def test_every_body_error_is_listed(client: TestClient) -> None:
    order = {
        "id": "seven",
        "lines": [{"sku": 1}, {"sku": "ok", "quantity": 0}, {}],
        "extra": True,
    }
    detail = _detail(client.post("/orders", json=order))
    assert detail == [
        {
            "loc": ["body", "id"],
            "msg": "Expected `int`, got `str`",
            "type": "type_error",
            "input": "seven",
        },
        {
            "loc": ["body", "lines", 0, "sku"],
            "msg": "Expected `str`, got `int`",
            "type": "type_error",
            "input": 1,
        },
        {
            "loc": ["body", "lines", 1, "quantity"],
            "msg": "Expected `int` >= 1",
            "type": "constraint",
            "input": 0,
        },
        {"loc": ["body", "lines", 2, "sku"], "msg": "Field required", "type": "missing"},
        {"loc": ["body", "extra"], "msg": "Unknown field", "type": "extra_forbidden"},
    ]


def test_pydantic_errors_have_the_same_shape(client: TestClient) -> None:
    detail = _detail(client.post("/users", json={"age": -1}))
    assert [(d["loc"], d["type"]) for d in detail] == [
        (["body", "name"], "missing"),
        (["body", "age"], "greater_than_equal"),
    ]
    reply = client.post(
        "/users", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert (reply.status_code, reply.json()["detail"]) == (400, "Request body is not valid JSON")


def test_a_tagged_union_reports_the_tag(client: TestClient) -> None:
    detail = _detail(client.post("/pets", json={"type": "cow"}))
    assert detail[0]["loc"] == ["body", "type"]
    assert "input" not in detail[0] or detail[0]["input"] == "cow"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "Request body is not valid JSON: Input data was truncated"),
        (b'{"id": 1,}', "Request body is not valid JSON: JSON is malformed: trailing comma"),
        (b"NaN", "Request body is not valid JSON: JSON is malformed: invalid character"),
        (b'{"id": 1, "lines": []}\xff', "Request body is not valid JSON: JSON is malformed"),
        (b"[" * 100_000 + b"]" * 100_000, None),
    ],
    ids=["truncated", "trailing_comma", "nan", "garbage_after", "deep"],
)
def test_malformed_json_is_a_400(client: TestClient, body: bytes, message: str | None) -> None:
    for path in ("/orders", "/numbers"):
        reply = client.post(path, content=body, headers={"content-type": "application/json"})
        if reply.status_code == 422:  # valid JSON of the wrong shape for that model
            assert path == "/orders" and message is None
            continue
        assert reply.status_code == 400, (path, reply.text)
        detail = reply.json()["detail"]
        assert detail.startswith("Request body is not valid JSON")
        if message is not None:
            assert detail.startswith(message)


def test_deeply_nested_json_into_any_is_a_400() -> None:
    app = Bare()

    @app.post("/")
    async def anything(data: dict[str, Any]) -> Any:
        return len(data)

    reply = TestClient(app).post("/", content=b'{"a":' * 50_000 + b"1" + b"}" * 50_000)
    assert reply.status_code in (400, 413)
    assert reply.json()["detail"].startswith(
        ("Request body is not valid JSON", "Request body too large")
    )
    small = TestClient(app).post("/", content=b'{"a":' * 5000 + b"1" + b"}" * 5000)
    assert small.status_code == 400, small.text
    assert small.json()["detail"] == "Request body is not valid JSON: nested more than 256 deep"


def test_typed_bodies_nest_as_deep_as_request_json_allows() -> None:
    # The limit of request.json(), on every Python (msgspec alone stops where the
    # interpreter's recursion limit says, which differs between versions).
    from bare._json import MAX_DEPTH

    app = Bare()

    @app.post("/")
    async def anything(data: dict[str, Any]) -> Any:
        return len(data)

    client = TestClient(app)

    def nested(depth: int) -> bytes:
        return b'{"a":' * depth + b"1" + b"}" * depth

    assert client.post("/", content=nested(MAX_DEPTH)).status_code == 200
    deeper = client.post("/", content=nested(MAX_DEPTH + 1))
    assert deeper.status_code == 400
    assert deeper.json()["detail"].endswith(f"nested more than {MAX_DEPTH} deep")


def test_huge_numbers_and_nan_in_json(client: TestClient) -> None:
    detail = _detail(client.post("/numbers", content=b"[" + b"9" * 5000 + b"]"))
    assert detail == [
        {"loc": ["body", 0], "msg": "Integer value out of range", "type": "out_of_range"}
    ]
    detail = _detail(client.put("/points", content=b'{"x": 1e400, "y": 0}'))
    assert detail[0]["loc"] == ["body", "x"]


def test_content_types(client: TestClient) -> None:
    body = b'{"x": 1, "y": 2}'
    # No content type: read as JSON (docs/typed.md says so).
    assert client.put("/points", content=body).json() == ["Point", 3]
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        reply = client.put("/points", content=body, headers={"content-type": content_type})
        assert reply.status_code == 200, content_type
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        reply = client.put("/points", content=body, headers={"content-type": content_type})
        assert reply.status_code == 415, content_type
        assert reply.json()["detail"] == "Content-Type must be application/json"


def test_the_body_limit_is_a_413_before_decoding() -> None:
    app = Bare(max_body_size=100)

    @app.post("/")
    async def numbers(values: list[int] = Body()) -> Any:
        return len(values)

    @app.post("/big", max_body_size=10_000)
    async def big(values: list[int] = Body()) -> Any:
        return len(values)

    client = TestClient(app)
    body = b"[" + b"1," * 100 + b"1]"
    reply = client.post("/", content=body)
    assert (reply.status_code, reply.json()["detail"]) == (
        413,
        "Request body too large (limit 100 bytes)",
    )
    assert client.post("/big", content=body).json() == 101


def test_a_json_body_on_a_get_route_is_refused_but_delete_gets_none() -> None:
    app = Bare()
    with pytest.raises(TypeError, match="a body on DELETE"):

        @app.delete("/")
        async def remove(point: Point) -> None: ...

    @app.route("/", ["GET", "POST"])
    async def both(point: Point | None = None) -> Any:
        return None if point is None else point.x

    assert TestClient(app).post("/", json={"x": 2, "y": 0}).json() == 2


def test_several_json_sources_must_agree() -> None:
    app = Bare()
    with pytest.raises(TypeError, match="the raw body and other body parameters"):

        @app.post("/")
        async def mixed(raw: bytes, point: Point) -> None: ...

    with pytest.raises(TypeError, match="a JSON body and form fields in one request"):

        @app.post("/f")
        async def mixed_form(point: Point, name: str = Form()) -> None: ...


# -- forms --------------------------------------------------------------------------------


def _form_app() -> Bare:
    app = Bare()

    @app.post("/signup")
    async def signup(
        email: str = Form(),
        age: int = Form(ge=13),
        tags: list[str] = Form([]),
        newsletter: bool = Form(False),
    ) -> Any:
        return [email, age, tags, newsletter]

    @app.post("/upload")
    async def upload(
        title: str = Form(),
        file: UploadFile = File(),
        extras: list[UploadFile] = File([]),
        raw: Annotated[bytes | None, File()] = None,
    ) -> Any:
        return {
            "title": title,
            "name": file.filename,
            "content": (await file.read()).decode(),
            "extras": [e.filename for e in extras],
            "raw": None if raw is None else raw.decode(),
        }

    @app.post("/model")
    async def model(data: Annotated[Signup, Form()]) -> Any:
        return [data.email, data.tags, data.newsletter]

    return app


def test_form_fields_are_converted_and_checked() -> None:
    client = TestClient(_form_app())
    reply = client.post(
        "/signup", data={"email": "a@b.c", "age": "30", "tags": ["x", "y"], "newsletter": "on"}
    )
    assert reply.json() == ["a@b.c", 30, ["x", "y"], True]
    detail = _detail(client.post("/signup", data={"age": "9"}))
    assert detail == [
        {"loc": ["body", "email"], "msg": "Field required", "type": "missing"},
        {"loc": ["body", "age"], "msg": "Expected `int` >= 13", "type": "constraint", "input": "9"},
    ]
    reply = client.post("/signup", json={"email": "a", "age": 30})
    assert reply.status_code == 415


def test_files_and_their_types() -> None:
    client = TestClient(_form_app())
    reply = client.post(
        "/upload",
        data={"title": "t"},
        files=[
            ("file", ("a.txt", b"hello", "text/plain")),
            ("extras", ("b.txt", b"1", "text/plain")),
            ("extras", ("c.txt", b"2", "text/plain")),
            ("raw", ("d.bin", b"bytes", "application/octet-stream")),
        ],
    )
    assert reply.json() == {
        "title": "t",
        "name": "a.txt",
        "content": "hello",
        "extras": ["b.txt", "c.txt"],
        "raw": "bytes",
    }
    detail = _detail(client.post("/upload", data={"title": "t", "file": "not a file"}))
    assert detail == [
        {
            "loc": ["body", "file"],
            "msg": "Expected a file, got a text field",
            "type": "file_expected",
        }
    ]
    detail = _detail(
        client.post(
            "/upload",
            files=[("title", ("t.txt", b"x", "text/plain")), ("file", ("a", b"", "text/plain"))],
        )
    )
    assert detail == [
        {
            "loc": ["body", "title"],
            "msg": "Expected a text field, got a file",
            "type": "text_expected",
        }
    ]


def test_the_routes_form_limits_apply() -> None:
    from bare import FormLimits

    app = Bare()

    @app.post("/", form_limits=FormLimits(max_fields=2))
    async def many(a: str = Form(), b: str = Form(""), c: str = Form("")) -> Any:
        return [a, b, c]

    reply = TestClient(app).post("/", data={"a": "1", "b": "2", "c": "3"})
    assert reply.status_code == 413
    assert "max_fields" in reply.json()["detail"]


def test_a_form_model_takes_the_whole_form() -> None:
    client = TestClient(_form_app())
    reply = client.post("/model", data={"email": "e", "tags": ["a", "b"], "newsletter": "true"})
    assert reply.json() == ["e", ["a", "b"], True]
    detail = _detail(client.post("/model", data={"tags": "a"}))
    assert detail == [{"loc": ["body", "email"], "msg": "Field required", "type": "missing"}]


def test_form_plans_describe_fields_and_files() -> None:
    app = _form_app()
    routes = {r.path: r for r in app.routes if getattr(r, "plan", None) is not None}
    upload = routes["/upload"].plan.body  # type: ignore[union-attr]
    assert upload is not None and upload.media_type == "multipart/form-data"
    assert [(f.alias, f.is_file, f.is_list) for f in upload.fields] == [
        ("title", False, False),
        ("file", True, False),
        ("extras", True, True),
        ("raw", True, False),
    ]
    signup = routes["/signup"].plan.body  # type: ignore[union-attr]
    assert signup is not None and signup.media_type == "application/x-www-form-urlencoded"
    schema = msgspec.json.schema(signup.annotation)
    assert set(schema["$defs"][signup.annotation.__name__]["properties"]) == {
        "email",
        "age",
        "tags",
        "newsletter",
    }


def test_body_plans_for_json() -> None:
    app = _app()
    plans = {r.path: r.plan for r in app.routes if getattr(r, "plan", None) is not None}
    order = plans["/orders"].body  # type: ignore[union-attr]
    assert order is not None and (order.name, order.annotation, order.required) == (
        "order",
        Order,
        True,
    )
    raw = plans["/raw"].body  # type: ignore[union-attr]
    assert raw is not None and raw.media_type == "application/octet-stream"
    two = plans["/two"].body  # type: ignore[union-attr]
    assert two is not None and two.name is None and two.annotation.__name__ == "Body_two_two_post"
    schema = msgspec.json.schema(two.annotation)["$defs"]["Body_two_two_post"]
    assert schema["required"] == ["line", "point"]


def test_literal_and_unknown_kinds_in_bodies() -> None:
    app = Bare()

    @app.post("/")
    async def kind(value: Literal["a", "b"] = Body(embed=True)) -> Any:
        return value

    client = TestClient(app)
    assert client.post("/", json={"value": "a"}).text == "a"
    detail = _detail(client.post("/", json={"value": "z" * 300}))
    assert detail[0]["msg"] == "Invalid enum value"
    assert "z" * 50 not in str(detail)


def test_a_hostile_body_gets_at_most_64_errors(client: TestClient) -> None:
    body = b'{"id": 1, "lines": [' + b",".join([b'{"sku": 1}'] * 10_000) + b"]}"
    assert len(body) > 100_000
    detail = _detail(client.post("/orders", content=body))
    assert len(detail) == 64
    assert detail[0]["loc"] == ["body", "lines", 0, "sku"]
    unknown = b'{"id": 1, "lines": [], ' + b",".join(b'"k%d": 0' % i for i in range(10_000)) + b"}"
    detail = _detail(client.post("/orders", content=unknown))
    assert len(detail) == 64 and {d["type"] for d in detail} == {"extra_forbidden"}


def test_an_empty_form_field_counts_as_not_sent() -> None:
    # A browser sends every input of a form, the empty ones as "": as in FastAPI, such a
    # field takes its default (or is missing), rather than failing `int | None`.
    app = Bare()

    @app.post("/profile")
    async def profile(
        name: str = Form(),
        age: int | None = Form(None),
        city: str = Form("nowhere"),
        tags: list[str] = Form([]),
    ) -> Any:
        return [name, age, city, tags]

    @app.post("/model")
    async def model(data: Annotated[Signup, Form()]) -> Any:
        return [data.email, data.tags, data.newsletter]

    client = TestClient(app)
    reply = client.post("/profile", data={"name": "ada", "age": "", "city": ""})
    assert reply.json() == ["ada", None, "nowhere", []]
    assert client.post("/profile", data={"name": "ada", "tags": ""}).json()[3] == [""]
    detail = _detail(client.post("/profile", data={"name": "", "age": "x"}))
    assert detail == [
        {"loc": ["body", "name"], "msg": "Field required", "type": "missing"},
        {
            "loc": ["body", "age"],
            "msg": "Expected `int | null`, got `str`",
            "type": "type_error",
            "input": "x",
        },
    ]
    reply = client.post("/model", data={"email": "e", "newsletter": ""})
    assert reply.json() == ["e", [], False]
    detail = _detail(client.post("/model", data={"email": ""}))
    assert detail == [{"loc": ["body", "email"], "msg": "Field required", "type": "missing"}]
