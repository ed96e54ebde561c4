"""The OpenAPI document (`app.openapi()`, `bare.openapi`), `/openapi.json` and `/docs`.

Every document built here is checked against the OpenAPI 3.1 schema
(openapi-spec-validator) by `documented()`, besides the exact assertions on its parts.
The browser's view of `/docs` is in tests/test_openapi_browser.py.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import re
import subprocess
import sys
from typing import Annotated, Any, Literal, TypedDict

import msgspec
import pydantic
import pytest
from openapi_spec_validator import validate

from bare import (
    Bare,
    Body,
    Cookie,
    Depends,
    File,
    Form,
    Header,
    HTMLResponse,
    Query,
    Request,
    Router,
    UploadFile,
    _docs_ui,
    register_converter,
)
from bare.authentication import APIKeyAuth, BasicAuth, BearerAuth
from bare.exceptions import RequestValidationError
from bare.middleware.authentication import AuthenticationMiddleware
from bare.openapi import BINARY, build_openapi, security_scheme
from bare.responses import JSONResponse
from bare.staticfiles import StaticFiles
from bare.testing import TestClient

REF = "#/components/schemas/"


def documented(app: Bare) -> dict[str, Any]:
    """`app.openapi()`, checked against the OpenAPI 3.1 schema."""
    document = app.openapi()
    validate(document)
    # What /openapi.json sends is JSON: nothing in the document is a Python-only value.
    assert json.loads(json.dumps(document)) == document
    return document


def operation(document: dict[str, Any], path: str, method: str = "get") -> dict[str, Any]:
    found: dict[str, Any] = document["paths"][path][method]
    return found


def error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF + "HTTPError"}}},
    }


VALIDATION_ERROR = {
    "description": "Validation Error",
    "content": {"application/json": {"schema": {"$ref": REF + "HTTPValidationError"}}},
}


class Task(msgspec.Struct):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    done: bool = False


class TaskOut(Task):
    id: int = 0


# -- the document of plain handlers ---------------------------------------------------------


def test_an_app_without_routes() -> None:
    app = Bare()
    assert documented(app) == {
        "openapi": "3.1.0",
        "info": {"title": "bare", "version": "0.1.0"},
        "paths": {},
    }


def test_the_app_settings_are_in_the_info_and_servers() -> None:
    app = Bare(
        title="Tasks",
        version="2.0.0",
        description="The *tasks* API.",
        servers=["https://api.example.com", {"url": "/v2", "description": "here"}],
    )
    document = documented(app)
    assert document["info"] == {
        "title": "Tasks",
        "version": "2.0.0",
        "description": "The *tasks* API.",
    }
    assert document["servers"] == [
        {"url": "https://api.example.com"},
        {"url": "/v2", "description": "here"},
    ]


async def plain(request: Request) -> str:
    return "ok"


def test_plain_handlers_are_documented_from_their_path() -> None:
    app = Bare()

    @app.get("/users/{user_id:int}/files/{name}.{ext}")
    async def user_file(request: Request) -> str:
        """Read a user's file.

        The file is sent as it is stored.
        Mind the size.
        """
        return ""

    document = documented(app)
    assert document["paths"] == {
        "/users/{user_id}/files/{name}.{ext}": {
            "get": {
                "summary": "Read a user's file.",
                "description": "The file is sent as it is stored.\nMind the size.",
                "operationId": "user_file",
                "parameters": [
                    {
                        "name": "user_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0},
                    },
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "ext", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                # No plan to read: a plain handler may answer anything.
                "responses": {"200": {"description": "OK"}},
            }
        }
    }
    assert "components" not in document


def test_every_converter_has_a_schema() -> None:
    app = Bare()
    register_converter("hexa", "[0-9a-f]+", lambda s: int(s, 16), lambda v: f"{v:x}")
    app.add_route("/{a:int}/{b:float}/{c:uuid}/{d:slug}/{e:hexa}/{f}/{g:path}", plain, name="every")
    parameters = operation(documented(app), "/{a}/{b}/{c}/{d}/{e}/{f}/{g}")["parameters"]
    assert {p["name"]: p["schema"] for p in parameters} == {
        "a": {"type": "integer", "minimum": 0},
        "b": {"type": "number", "minimum": 0},
        "c": {"type": "string", "format": "uuid"},
        "d": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
        "e": {"type": "string"},  # a converter of the app's: its regex is Python's
        "f": {"type": "string"},
        "g": {"type": "string"},
    }


def test_summaries_descriptions_and_tags() -> None:
    app = Bare()

    @app.get("/a", summary="Given", description="Said here.", tags=["one", "two"])
    async def with_options(request: Request) -> str:
        """Ignored first line."""
        return ""

    @app.get("/b", summary="Given")
    async def summary_only(request: Request) -> str:
        """The docstring is then the description.

        All of it."""
        return ""

    @app.get("/c")
    async def list_open_tasks(request: Request) -> str:
        return ""

    document = documented(app)
    a, b, c = (operation(document, p) for p in ("/a", "/b", "/c"))
    assert (a["summary"], a["description"], a["tags"]) == ("Given", "Said here.", ["one", "two"])
    assert (b["summary"], b["description"]) == (
        "Given",
        "The docstring is then the description.\n\nAll of it.",
    )
    assert (c["summary"], "description" in c, "tags" in c) == ("List open tasks", False, False)


def test_methods_head_options_and_operation_ids() -> None:
    app = Bare()
    app.add_route("/items", plain, ["GET", "POST"], name="items")
    app.add_route("/items/{item_id}", plain, ["PUT"], name="items")  # the same name again
    app.add_route("/ping", plain, ["OPTIONS"], name="ping")  # given: listed
    app.add_route("/given", plain, ["GET"], operation_id="items_get")  # wins over a made one
    app.add_route("/weird", plain, name="a-b c!")
    document = documented(app)
    # The HEAD that GET answers and the automatic OPTIONS are not operations.
    assert {path: list(item) for path, item in document["paths"].items()} == {
        "/items": ["get", "post"],
        "/items/{item_id}": ["put"],
        "/ping": ["options"],
        "/given": ["get"],
        "/weird": ["get"],
    }
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert ids == ["items_get_2", "items_post", "items", "ping", "items_get", "a_b_c"]


def test_two_routes_given_one_operation_id_are_refused() -> None:
    app = Bare()
    app.add_route("/a", plain, operation_id="same")
    app.add_route("/b", plain, operation_id="same")
    message = re.escape("operation_id 'same' is given to two routes, '/a' (plain) and '/b' (plain)")
    with pytest.raises(ValueError, match=message):
        app.openapi()
    # ...and the app refuses to start with them (a server would stop).
    with pytest.raises(RuntimeError, match="ValueError: " + message), TestClient(app):
        pass


def test_left_out_routes_websockets_and_the_documents_own_routes() -> None:
    app = Bare()
    app.add_route("/shown", plain)
    app.add_route("/hidden", plain, include_in_schema=False)

    @app.websocket("/ws")
    async def chat(websocket: Any) -> None:
        await websocket.close()

    client = TestClient(app)
    assert client.get("/openapi.json").status_code == 200  # its routes exist now
    assert list(documented(app)["paths"]) == ["/shown"]


def test_deprecated() -> None:
    app = Bare()
    app.add_route("/old", plain, deprecated=True)
    app.add_route("/new", plain)
    document = documented(app)
    assert operation(document, "/old")["deprecated"] is True
    assert "deprecated" not in operation(document, "/new")


# -- mounts ------------------------------------------------------------------------------------


class Passing:
    """A middleware that keeps the app it wraps as `.app`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def test_mounted_bare_apps_are_documented_under_their_prefix() -> None:
    child = Bare()
    child.add_route("/stats", plain, name="stats")
    child.add_route("/", plain, name="home")
    grandchild = Bare()
    grandchild.add_route("/deep", plain, name="deep")
    child.mount("/more", Passing(grandchild))
    app = Bare()
    app.add_route("/stats", plain, name="stats")
    app.mount("/orgs/{org:int}", child)
    app.mount("/static", StaticFiles(directory=".", check_dir=False))  # not bare's: skipped
    document = documented(app)
    assert list(document["paths"]) == [
        "/stats",
        "/orgs/{org}/stats",
        "/orgs/{org}/",
        "/orgs/{org}/more/deep",
    ]
    # The prefix's parameter is documented on every operation under it.
    assert operation(document, "/orgs/{org}/more/deep")["parameters"] == [
        {"name": "org", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
    ]
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert ids == ["stats", "stats_2", "home", "deep"]


def test_a_mounted_apps_own_document_routes_are_left_out() -> None:
    child = Bare(title="child")
    child.add_route("/x", plain)
    app = Bare()
    app.mount("/child", child)
    with TestClient(app) as client:  # both apps start: both add their document routes
        assert client.get("/child/openapi.json").json()["paths"] == {
            "/x": documented(child)["paths"]["/x"]
        }
    assert list(documented(app)["paths"]) == ["/child/x"]


def test_included_routers_keep_their_tags() -> None:
    router = Router(tags=["admin"])
    router.add_route("/users", plain, name="users", tags=["users"])
    app = Bare()
    app.include_router(router, prefix="/admin", tags=["v1"])
    tags = operation(documented(app), "/admin/users")["tags"]
    assert set(tags) == {"admin", "users", "v1"}


# -- typed handlers: parameters -----------------------------------------------------------------


def token(x_token: str = Header(description="The caller's token")) -> str:
    return x_token


def test_typed_parameters() -> None:
    app = Bare()

    @app.get("/items/{item_id}")
    async def read_item(
        item_id: int,
        limit: int = Query(10, ge=1, le=100, description="How many", examples=[5]),
        tags: list[str] = Query([]),
        q: Annotated[str, Query(alias="search", max_length=50, deprecated=True)] = "",
        session: str = Cookie("anonymous", pattern="^[a-z]+$"),
        user_agent: str = Header(),
        secret: str = Query("", include_in_schema=False),
        caller: str = Depends(token),
    ) -> dict[str, Any]:
        return {}

    parameters = operation(documented(app), "/items/{item_id}")["parameters"]
    by_name = {(p["in"], p["name"]): p for p in parameters}
    assert list(by_name) == [
        ("path", "item_id"),
        ("query", "limit"),
        ("query", "tags"),
        ("query", "search"),
        ("cookie", "session"),
        ("header", "user-agent"),
        ("header", "x-token"),  # the dependency's
    ]
    assert by_name["path", "item_id"] == {
        "name": "item_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    }
    limit = by_name["query", "limit"]
    assert (limit["required"], limit["description"]) == (False, "How many")
    assert limit["schema"]["default"] == 10
    assert limit["schema"]["examples"] == [5]
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 100)
    assert by_name["query", "tags"]["schema"] == {
        "type": "array",
        "items": {"type": "string"},
        "default": [],
    }
    search = by_name["query", "search"]
    assert search["deprecated"] is True
    assert search["schema"] == {"type": "string", "maxLength": 50, "default": ""}
    assert by_name["cookie", "session"]["schema"]["pattern"] == "^[a-z]+$"
    assert by_name["header", "user-agent"]["required"] is True
    assert by_name["header", "x-token"]["description"] == "The caller's token"


def test_a_route_that_validates_documents_422_and_one_that_does_not_does_not() -> None:
    app = Bare()

    @app.get("/typed")
    async def typed(limit: int = 10) -> dict[str, int]:
        return {"limit": limit}

    @app.get("/nothing", status_code=202)
    async def nothing() -> None:
        return None

    document = documented(app)
    assert operation(document, "/typed")["responses"] == {
        "200": {
            "description": "OK",
            "content": {
                "application/json": {
                    "schema": {"type": "object", "additionalProperties": {"type": "integer"}}
                }
            },
        },
        "422": VALIDATION_ERROR,
    }
    assert operation(document, "/nothing")["responses"] == {"202": {"description": "Accepted"}}
    assert document["components"]["schemas"]["HTTPValidationError"] == {
        "title": "HTTPValidationError",
        "type": "object",
        "properties": {"detail": {"type": "array", "items": {"$ref": REF + "ValidationError"}}},
        "required": ["detail"],
    }


def test_the_validation_error_shape_is_what_the_app_sends() -> None:
    app = Bare()

    @app.get("/typed")
    async def typed(limit: int) -> dict[str, int]:
        return {"limit": limit}

    client = TestClient(app)
    sent = client.get("/typed", params={"limit": "many"}).json()
    schemas = documented(app)["components"]["schemas"]
    # The 422 the app sends fits the schema the document gives it.
    detail_schema = schemas["ValidationError"]
    for problem in sent["detail"]:
        assert set(detail_schema["required"]) <= set(problem) <= set(detail_schema["properties"])
        assert all(isinstance(part, (str, int)) for part in problem["loc"])


class Problem(TypedDict):
    """What the app's own validation error handler answers."""

    message: str
    count: int


@pytest.mark.parametrize("key", [RequestValidationError, 422], ids=["by-class", "by-status"])
def test_the_apps_validation_error_handler_shapes_the_422(key: Any) -> None:
    app = Bare()

    async def on_invalid(request: Request, exc: RequestValidationError) -> Problem:
        return {"message": "invalid", "count": len(exc.errors)}

    app.add_exception_handler(key, on_invalid)

    @app.get("/typed")
    async def typed(limit: int) -> dict[str, int]:
        return {"limit": limit}

    document = documented(app)
    assert operation(document, "/typed")["responses"]["422"] == {
        "description": "Validation Error",
        "content": {"application/json": {"schema": {"$ref": REF + "Problem"}}},
    }
    assert "HTTPValidationError" not in document["components"]["schemas"]
    sent = TestClient(app).get("/typed", params={"limit": "x"})
    assert (sent.status_code, sent.json()) == (422, {"message": "invalid", "count": 1})


def test_a_handler_whose_answer_is_unknown_leaves_the_422_open() -> None:
    app = Bare()

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"whatever": True}, 422)

    @app.get("/typed")
    async def typed(limit: int) -> dict[str, int]:
        return {"limit": limit}

    assert operation(documented(app), "/typed")["responses"]["422"] == {
        "description": "Validation Error",
        "content": {"application/json": {"schema": {}}},
    }


def test_the_document_follows_a_handler_added_later() -> None:
    app = Bare()

    @app.get("/typed")
    async def typed(limit: int) -> dict[str, int]:
        return {"limit": limit}

    first = app.openapi()
    assert app.openapi() is first  # kept while nothing changes

    async def on_invalid(request: Request, exc: RequestValidationError) -> Problem:
        return {"message": "invalid", "count": 0}

    app.add_exception_handler(RequestValidationError, on_invalid)
    second = documented(app)
    assert second is not first
    assert operation(second, "/typed")["responses"]["422"]["content"]["application/json"] == {
        "schema": {"$ref": REF + "Problem"}
    }
    app.add_route("/more", plain)
    assert list(documented(app)["paths"]) == ["/typed", "/more"]

    @app.post("/tasks")
    async def create_task(task: Task) -> None:
        return None

    app.max_body_size = 10  # the 413 says the new limit
    assert operation(documented(app), "/tasks", "post")["responses"]["413"] == error(
        "The body is larger than 10 bytes"
    )


# -- typed handlers: bodies ------------------------------------------------------------------


class Address(pydantic.BaseModel):
    city: str


class User(pydantic.BaseModel):
    name: str
    address: Address
    friends: list[User] = []


@dataclasses.dataclass
class Point:
    x: float
    y: float


class Shape(TypedDict):
    name: str
    points: list[Point]


class Node(msgspec.Struct):
    value: int
    children: list[Node] = []


class Cat(msgspec.Struct, tag="cat"):
    name: str


class Dog(msgspec.Struct, tag="dog"):
    barks: bool


class Pet(msgspec.Struct):
    pet: Cat | Dog


def test_a_json_body_and_its_responses() -> None:
    app = Bare()

    @app.post("/tasks", status_code=201, tags=["tasks"])
    async def create_task(task: Task) -> TaskOut:
        """Create a task."""
        return TaskOut(task.title)

    document = documented(app)
    assert operation(document, "/tasks", "post") == {
        "tags": ["tasks"],
        "summary": "Create a task.",
        "operationId": "create_task",
        "requestBody": {
            "content": {"application/json": {"schema": {"$ref": REF + "Task"}}},
            "required": True,
        },
        "responses": {
            "201": {
                "description": "Created",
                "content": {"application/json": {"schema": {"$ref": REF + "TaskOut"}}},
            },
            "400": error("The body is not valid JSON"),
            "413": error("The body is larger than 1048576 bytes"),
            "415": error("The Content-Type is not application/json"),
            "422": VALIDATION_ERROR,
        },
    }
    assert document["components"]["schemas"]["Task"] == {
        "title": "Task",
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 200},
            "done": {"type": "boolean", "default": False},
        },
        "required": ["title"],
    }


def test_what_the_document_says_the_app_does() -> None:
    app = Bare(max_body_size=64)

    @app.post("/tasks")
    async def create_task(task: Task) -> TaskOut:
        return TaskOut(task.title)

    responses = operation(documented(app), "/tasks", "post")["responses"]
    client = TestClient(app)
    cases = {
        "400": client.post("/tasks", content=b"{", headers={"content-type": "application/json"}),
        "413": client.post("/tasks", json={"title": "x" * 100}),
        "415": client.post("/tasks", content=b"{}", headers={"content-type": "text/plain"}),
        "422": client.post("/tasks", json={"title": ""}),
    }
    assert responses["413"]["description"] == "The body is larger than 64 bytes"
    for status, reply in cases.items():
        assert str(reply.status_code) == status
        assert status in responses


def test_an_app_without_a_body_limit_documents_no_413() -> None:
    app = Bare(max_body_size=None)

    @app.post("/tasks")
    async def create_task(task: Task) -> None:
        return None

    assert list(operation(documented(app), "/tasks", "post")["responses"]) == [
        "200",
        "400",
        "415",
        "422",
    ]


def test_models_are_components_once_however_often_they_are_used() -> None:
    app = Bare()

    @app.post("/a")
    async def a(task: Task) -> list[TaskOut]:
        return []

    @app.put("/b")
    async def b(task: Task) -> TaskOut:
        return TaskOut("b")

    @app.post("/shapes")
    async def shapes(shape: Shape) -> Point:
        return Point(0, 0)

    document = documented(app)
    schemas = document["components"]["schemas"]
    assert sorted(schemas) == [
        "HTTPError",
        "HTTPValidationError",
        "Point",
        "Shape",
        "Task",
        "TaskOut",
        "ValidationError",
    ]
    assert operation(document, "/a", "post")["responses"]["200"]["content"] == {
        "application/json": {"schema": {"type": "array", "items": {"$ref": REF + "TaskOut"}}}
    }
    assert schemas["Shape"]["properties"]["points"] == {
        "type": "array",
        "items": {"$ref": REF + "Point"},
    }
    assert schemas["Point"]["required"] == ["x", "y"]


def test_recursive_models_and_tagged_unions() -> None:
    app = Bare()

    @app.post("/tree")
    async def tree(node: Node) -> Node:
        return node

    @app.post("/pets")
    async def pets(pet: Pet) -> Pet:
        return pet

    schemas = documented(app)["components"]["schemas"]
    assert schemas["Node"]["properties"]["children"] == {
        "type": "array",
        "items": {"$ref": REF + "Node"},
        "default": [],
    }
    # A tagged union is one of its members, told apart by the tag: oneOf, discriminator.
    assert schemas["Pet"]["properties"]["pet"] == {
        "oneOf": [{"$ref": REF + "Cat"}, {"$ref": REF + "Dog"}],
        "discriminator": {
            "propertyName": "type",
            "mapping": {"cat": REF + "Cat", "dog": REF + "Dog"},
        },
    }
    assert schemas["Cat"]["properties"]["type"] == {"enum": ["cat"]}


def _other_task() -> type:
    class Task(msgspec.Struct):
        other: int

    return Task


OtherTask = _other_task()


def test_two_models_of_one_name_stay_apart() -> None:
    app = Bare()

    @app.post("/a")
    async def a(task: Task) -> None:
        return None

    @app.post("/b")
    async def b(task: OtherTask) -> None:  # type: ignore[valid-type]
        return None

    document = documented(app)
    first = operation(document, "/a", "post")["requestBody"]["content"]["application/json"]
    second = operation(document, "/b", "post")["requestBody"]["content"]["application/json"]
    assert first != second
    names = [schema["$ref"].removeprefix(REF) for schema in (first["schema"], second["schema"])]
    schemas = document["components"]["schemas"]
    assert schemas[names[0]]["required"] == ["title"]
    assert schemas[names[1]]["required"] == ["other"]


def test_several_bodies_are_one_object() -> None:
    app = Bare()

    @app.post("/move")
    async def move(task: Task, to: Point, priority: int = Body(0, ge=0)) -> None:
        return None

    document = documented(app)
    body = operation(document, "/move", "post")["requestBody"]
    (name,) = [s["$ref"].removeprefix(REF) for s in body["content"]["application/json"].values()]
    schema = document["components"]["schemas"][name]
    assert schema["properties"] == {
        "task": {"$ref": REF + "Task"},
        "to": {"$ref": REF + "Point"},
        "priority": {"type": "integer", "minimum": 0, "default": 0},
    }
    assert schema["required"] == ["task", "to"]


def test_forms_and_files() -> None:
    app = Bare()

    @app.post("/upload")
    async def upload(
        title: str = Form(min_length=1),
        count: int = Form(1, description="How many"),
        file: UploadFile = File(description="The file"),
        extras: list[UploadFile] = File([]),
    ) -> None:
        return None

    body = operation(documented(app), "/upload", "post")["requestBody"]
    assert body == {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "title": {"type": "string", "minLength": 1},
                        "count": {"type": "integer", "default": 1, "description": "How many"},
                        # binary and contentMediaType: Swagger UI shows a file picker.
                        "file": {**BINARY, "description": "The file"},
                        "extras": {"type": "array", "items": BINARY},
                    },
                    "required": ["title", "file"],
                }
            }
        },
        "required": True,
    }
    assert BINARY == {
        "type": "string",
        "format": "binary",
        "contentMediaType": "application/octet-stream",
    }
    responses = operation(documented(app), "/upload", "post")["responses"]
    assert responses["400"] == error("The form is malformed")
    assert responses["415"] == error(
        "The Content-Type is not multipart/form-data or application/x-www-form-urlencoded"
    )


def test_raw_bodies() -> None:
    app = Bare()

    @app.put("/blob")
    async def blob(data: bytes = Body()) -> None:
        return None

    @app.put("/note")
    async def note(text: str = Body(media_type="text/markdown")) -> str:
        return text

    document = documented(app)
    blob_op, note_op = operation(document, "/blob", "put"), operation(document, "/note", "put")
    assert blob_op["requestBody"]["content"] == {"application/octet-stream": {"schema": BINARY}}
    # Raw bytes cannot be invalid: no 400, 415 or 422.
    assert list(blob_op["responses"]) == ["200", "413"]
    assert note_op["requestBody"]["content"] == {"text/markdown": {"schema": {"type": "string"}}}
    assert list(note_op["responses"]) == ["200", "400", "413"]
    assert note_op["responses"]["200"]["content"] == {"text/plain": {"schema": {"type": "string"}}}


def test_response_options() -> None:
    app = Bare()

    @app.get("/page", response_class=HTMLResponse)
    async def page() -> str:
        return "<p>hi</p>"

    @app.delete("/tasks/{task_id}", status_code=204)
    async def delete_task(task_id: int) -> None:
        return None

    @app.get(
        "/tasks/{task_id}",
        response_model=TaskOut,
        responses={
            404: {"description": "No such task", "model": Problem},
            "4XX": {"description": "Some other mistake"},
            "default": {"content": {"text/plain": {"schema": {"type": "string"}}}},
            200: {"headers": {"ETag": {"schema": {"type": "string"}}}},
        },
    )
    async def read_task(task_id: int) -> Any:
        return {"title": "x", "secret": "never sent"}

    document = documented(app)
    assert operation(document, "/page")["responses"]["200"] == {
        "description": "OK",
        "content": {"text/html": {}},
    }
    assert operation(document, "/tasks/{task_id}", "delete")["responses"]["204"] == {
        "description": "No Content"
    }
    responses = operation(document, "/tasks/{task_id}")["responses"]
    assert list(responses) == ["200", "404", "422", "4XX", "default"]
    assert responses["200"] == {
        "description": "OK",
        "content": {"application/json": {"schema": {"$ref": REF + "TaskOut"}}},
        "headers": {"ETag": {"schema": {"type": "string"}}},
    }
    assert responses["404"] == {
        "description": "No such task",
        "content": {"application/json": {"schema": {"$ref": REF + "Problem"}}},
    }
    assert responses["4XX"] == {"description": "Some other mistake"}
    assert responses["default"] == {
        "content": {"text/plain": {"schema": {"type": "string"}}},
        "description": "Default response",
    }
    assert TestClient(app).get("/tasks/1").json() == {"title": "x", "done": False, "id": 0}


def test_pydantic_models() -> None:
    app = Bare()

    @app.post("/users")
    async def create_user(user: User) -> User:
        return user

    document = documented(app)
    create = operation(document, "/users", "post")
    assert create["requestBody"]["content"]["application/json"] == {
        "schema": {"$ref": REF + "User"}
    }
    assert create["responses"]["200"]["content"]["application/json"] == {
        "schema": {"$ref": REF + "User"}
    }
    schemas = document["components"]["schemas"]
    assert schemas["User"]["properties"]["address"] == {"$ref": REF + "Address"}
    assert schemas["User"]["properties"]["friends"]["items"] == {"$ref": REF + "User"}
    assert schemas["Address"]["required"] == ["city"]
    assert "$defs" not in json.dumps(document)


# -- security -------------------------------------------------------------------------------------


async def never(*credentials: str) -> None:
    return None


class SessionBackend:
    """A backend of the app's own, declaring how it is used."""

    security_scheme = {"type": "apiKey", "in": "cookie", "name": "session"}

    async def authenticate(self, conn: Any) -> None:
        return None


class SilentBackend:
    async def authenticate(self, conn: Any) -> None:
        return None


def test_security_schemes_from_the_authentication_backends() -> None:
    app = Bare()
    app.add_middleware(
        AuthenticationMiddleware,
        backend=[
            BasicAuth(never),
            BearerAuth(never),
            APIKeyAuth(never, query="key"),
            SessionBackend(),
            SilentBackend(),  # declares nothing: not listed
        ],
    )
    app.add_route("/admin", plain, requires=["admin", "write"])
    app.add_route("/me", plain, requires=[])
    app.add_route("/open", plain)
    document = documented(app)
    assert document["components"]["securitySchemes"] == {
        "BasicAuth": {"type": "http", "scheme": "basic"},
        "BearerAuth": {"type": "http", "scheme": "bearer"},
        "APIKeyAuth": {"type": "apiKey", "in": "query", "name": "key"},
        "SessionBackend": {"type": "apiKey", "in": "cookie", "name": "session"},
    }
    admin = operation(document, "/admin")
    assert admin["security"] == [
        {"BasicAuth": ["admin", "write"]},
        {"BearerAuth": ["admin", "write"]},
        {"APIKeyAuth": ["admin", "write"]},
        {"SessionBackend": ["admin", "write"]},
    ]
    assert admin["responses"]["400"] == error("Malformed credentials")
    assert admin["responses"]["401"] == error("Not authenticated")
    assert admin["responses"]["403"] == error("Not allowed")
    assert operation(document, "/me")["security"][0] == {"BasicAuth": []}
    assert "security" not in operation(document, "/open")
    assert list(operation(document, "/open")["responses"]) == ["200"]


def test_backends_in_front_of_a_mount_and_two_api_keys() -> None:
    child = Bare()
    child.add_route("/x", plain, requires="read")
    app = Bare()
    app.mount(
        "/child",
        AuthenticationMiddleware(
            child, backend=[APIKeyAuth(never), APIKeyAuth(never, cookie="key")]
        ),
    )
    document = documented(app)
    assert document["components"]["securitySchemes"] == {
        "APIKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "APIKeyAuth2": {"type": "apiKey", "in": "cookie", "name": "key"},
    }
    assert operation(document, "/child/x")["security"] == [
        {"APIKeyAuth": ["read"]},
        {"APIKeyAuth2": ["read"]},
    ]


def test_security_scheme_of_each_backend() -> None:
    assert security_scheme(APIKeyAuth(never, header="X-Key")) == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Key",
    }
    assert security_scheme(SilentBackend()) is None


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "exception", "message"),
    [
        ({"title": ""}, TypeError, "title must be a non-empty string"),
        ({"version": 1}, TypeError, "version must be a non-empty string"),
        ({"description": 3}, TypeError, "description must be a string or None"),
        ({"servers": "https://a"}, TypeError, "servers must be a list"),
        ({"servers": [{"description": "x"}]}, TypeError, 'a dict with a "url" string'),
        ({"servers": ["https://a\r\nx: y"]}, ValueError, "spaces or control characters"),
        ({"servers": [""]}, ValueError, "is empty"),
        ({"servers": [{"url": "/", "description": 1}]}, TypeError, "description is a string"),
        ({"openapi_url": "openapi.json"}, ValueError, "is not a plain path"),
        ({"openapi_url": "/"}, ValueError, "is not a plain path"),
        ({"openapi_url": "/api/"}, ValueError, "is not a plain path"),
        ({"openapi_url": "/{x}.json"}, ValueError, "is not a plain path"),
        ({"docs_url": "/docs?x"}, ValueError, "is not a plain path"),
        ({"docs_url": "/d%20ocs"}, ValueError, "is not a plain path"),
        ({"docs_url": "/a b"}, ValueError, "is not a plain path"),
        ({"docs_url": "/d\x00"}, ValueError, "is not a plain path"),
        ({"docs_url": "//evil"}, ValueError, "is not a plain path"),
        ({"docs_url": b"/docs"}, TypeError, "docs_url must be a path"),
        ({"openapi_url": None}, ValueError, "docs_url needs openapi_url"),
        ({"openapi_url": "/docs"}, ValueError, "is taken by the documentation page"),
        ({"openapi_url": "/docs/assets/x.json"}, ValueError, "is taken by the documentation"),
    ],
    ids=[
        "empty-title",
        "int-version",
        "int-description",
        "servers-string",
        "server-without-url",
        "server-crlf",
        "server-empty",
        "server-description",
        "relative",
        "root",
        "trailing-slash",
        "parameter",
        "query",
        "percent",
        "space",
        "nul",
        "double-slash",
        "bytes",
        "docs-without-document",
        "same-path",
        "under-the-assets",
    ],
)
def test_configuration_mistakes_are_refused_at_construction(
    options: dict[str, Any], exception: type[Exception], message: str
) -> None:
    with pytest.raises(exception, match=message):
        Bare(**options)


def test_the_routes_are_added_after_the_apps_own_when_it_starts() -> None:
    app = Bare()
    app.add_route("/x", plain)
    assert [r.path for r in app.routes] == ["/x"]  # nothing else until it runs
    with TestClient(app):
        pass
    with TestClient(app):  # a second start adds nothing
        pass
    app.build_middleware_stack()
    assert [(r.path, r.name) for r in app.routes] == [
        ("/x", "plain"),
        ("/openapi.json", "openapi"),
        ("/docs", "docs"),
        ("/docs/assets/{name}", "docs_assets"),
    ]
    assert app.url_path_for("docs") == "/docs"


def test_off_and_elsewhere() -> None:
    off = Bare(openapi_url=None, docs_url=None)
    no_page = Bare(docs_url=None)
    elsewhere = Bare(openapi_url="/api/schema.json", docs_url="/api/docs")
    with TestClient(off) as client:
        assert client.get("/openapi.json").status_code == 404
        assert client.get("/docs").status_code == 404
        assert off.routes == []
    assert off.openapi()["paths"] == {}  # still built when asked for
    with TestClient(no_page) as client:
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/docs").status_code == 404
    with TestClient(elsewhere) as client:
        assert client.get("/api/schema.json").json()["openapi"] == "3.1.0"
        page = client.get("/api/docs").text
        assert 'data-openapi-url="/api/schema.json"' in page
        assert 'src="/api/docs/assets/swagger-ui-bundle.js"' in page


def test_a_route_of_the_app_on_a_document_path_is_refused_at_startup(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Bare()
    app.add_route("/openapi.json", plain)
    message = re.escape(
        "the route '/openapi.json' (plain) answers GET /openapi.json, where the app would "
        "serve its OpenAPI document: pass Bare(openapi_url=...) another path, or None"
    )
    with pytest.raises(RuntimeError, match=message), TestClient(app):
        pass
    assert [r.path for r in app.routes] == ["/openapi.json"]  # nothing added
    assert "the route '/openapi.json' (plain) answers GET" in caplog.text  # said at once too
    mounted = Bare()
    mounted.mount("/docs", Bare(openapi_url=None, docs_url=None))
    refused = pytest.raises(RuntimeError, match="the mount '/docs' answers GET /docs")
    with refused, TestClient(mounted):
        pass


def test_routes_with_parameters_and_a_root_mount_give_way() -> None:
    app = Bare()
    app.add_route("/{name}", lambda request: "page")
    app.mount("/", StaticFiles(directory=".", check_dir=False))
    with TestClient(app) as client:
        assert client.get("/openapi.json").headers["content-type"] == "application/json"
        assert client.get("/about").text == "page"


@pytest.mark.parametrize("redirect_slashes", [True, False], ids=["redirects", "no-redirects"])
def test_a_route_of_the_app_with_a_slash_is_left_alone(
    redirect_slashes: bool, caplog: pytest.LogCaptureFixture
) -> None:
    app = Bare(redirect_slashes=redirect_slashes)
    app.add_route("/docs/", lambda request: "the app's docs")
    with caplog.at_level(logging.WARNING, logger="bare"), TestClient(app) as client:
        assert client.get("/docs/").text == "the app's docs"
        assert client.get("/docs").status_code == (308 if redirect_slashes else 404)
        assert client.get("/openapi.json").status_code == 200
    assert "the app's documentation page is not served there" in caplog.text
    assert "pass Bare(docs_url=...) another path" in caplog.text


# -- what is served ---------------------------------------------------------------------------


def test_openapi_json_is_the_document() -> None:
    app = Bare(title="Tasks")
    app.add_route("/x", plain)
    client = TestClient(app)
    reply = client.get("/openapi.json")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.json() == documented(app)
    assert app.openapi_json() is app.openapi_json()  # encoded once
    head = client.head("/openapi.json")
    assert (head.status_code, head.content) == (200, b"")
    assert client.post("/openapi.json").status_code == 405


def test_the_docs_page() -> None:
    app = Bare(title="Tasks")
    client = TestClient(app)
    reply = client.get("/docs")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert reply.headers["content-security-policy"] == (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    assert reply.headers["referrer-policy"] == "no-referrer"
    page = reply.text
    assert "<title>Tasks - API documentation</title>" in page
    assert '<div id="swagger-ui" data-openapi-url="/openapi.json"></div>' in page
    # Everything from the app itself: no other host, no inline script.
    assert "http" not in page.replace('<html lang="en">', "")
    assert "<script>" not in page and "<style" not in page and " on" not in page


def test_the_page_under_a_mount_and_a_hostile_title() -> None:
    child = Bare(title='</title><script>alert("x")</script>')
    app = Bare(openapi_url=None, docs_url=None)
    app.mount('/a"b<c', child)
    with TestClient(app) as client:
        page = client.get('/a"b<c/docs').text
    assert "<script>alert" not in page
    assert "&lt;/title&gt;&lt;script&gt;alert(&quot;x&quot;)" in page
    assert 'data-openapi-url="/a%22b%3Cc/openapi.json"' in page
    assert 'href="/a%22b%3Cc/docs/assets/swagger-ui.css"' in page


def test_servers_elsewhere_may_be_reached_from_the_page() -> None:
    app = Bare(
        servers=[
            "https://api.example.com/v1",
            "http://[::1]:8080",
            "/relative",
            "https://evil.example;script-src",  # not a plain origin: not in the policy
            "https://x.example'unsafe-inline'",
        ]
    )
    policy = TestClient(app).get("/docs").headers["content-security-policy"]
    assert "connect-src 'self' https://api.example.com http://[::1]:8080;" in policy
    assert "unsafe" not in policy and "evil" not in policy


def test_the_assets() -> None:
    app = Bare()
    client = TestClient(app)
    script = client.get("/docs/assets/bare-docs.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "SwaggerUIBundle(" in script.text and "validatorUrl: null" in script.text
    css = client.get("/docs/assets/swagger-ui.css")
    assert (css.status_code, css.headers["content-type"]) == (200, "text/css; charset=utf-8")
    again = client.get(
        "/docs/assets/swagger-ui.css", headers={"if-none-match": css.headers["etag"]}
    )
    assert again.status_code == 304
    bundle = client.get("/docs/assets/swagger-ui-bundle.js", headers={"range": "bytes=0-9"})
    assert (bundle.status_code, len(bundle.content)) == (206, 10)
    assert client.get("/docs/assets/favicon-32x32.png").content.startswith(b"\x89PNG")
    # Only the files the page uses: nothing else of the package's directory.
    for name in [
        "swagger-editor.js",
        "oauth2-redirect.html",
        "LICENSE",
        "index.css",
        "swagger-ui.css.map",
        "..%2F__init__.py",
        "%2e%2e",
        "swagger-ui.css%00",
        "SWAGGER-UI.CSS",
    ]:
        assert client.get(f"/docs/assets/{name}").status_code == 404, name
    assert client.post("/docs/assets/swagger-ui.css").status_code == 405
    assert client.get("/docs/assets/a/b").status_code == 404


def test_without_swagger_ui_the_page_lists_the_operations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_docs_ui, "swagger_ui_directory", lambda: None)
    monkeypatch.setattr(_docs_ui, "_files", [])
    app = Bare(title="Tasks & co")

    @app.get("/tasks/{task_id}", summary="Read <b>one</b> task")
    async def read_task(request: Request) -> str:
        return ""

    client = TestClient(app)
    reply = client.get("/docs")
    assert reply.status_code == 200
    assert "content-security-policy" in reply.headers
    page = reply.text
    assert "<h1>Tasks &amp; co</h1>" in page
    assert (
        "<tr><td><code>GET</code></td><td><code>/tasks/{task_id}</code></td>"
        "<td>Read &lt;b&gt;one&lt;/b&gt; task</td></tr>"
    ) in page
    assert (
        "pip install swagger-ui-py (or, in a checkout of bare, pip install &#x27;.[docs-ui]&#x27;)"
        in page
    )
    assert "<script" not in page
    assert client.get("/docs/assets/swagger-ui.css").status_code == 404
    assert client.get("/docs/assets/bare-docs.js").status_code == 200


def test_the_swagger_ui_directory_is_found_without_importing_the_package() -> None:
    code = (
        "import sys\n"
        "from bare._docs_ui import swagger_ui_directory\n"
        "d = swagger_ui_directory()\n"
        "assert d is not None and d.endswith('static'), d\n"
        "assert 'swagger_ui' not in sys.modules and 'jinja2' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_import_bare_and_bare_load_neither_the_builder_nor_msgspec() -> None:
    code = (
        "import sys\n"
        "import bare\n"
        "assert 'bare._docs_ui' not in sys.modules and 'bare.openapi' not in sys.modules\n"
        "app = bare.Bare()\n"
        "app.add_route('/x', lambda request: 'x')\n"
        "loaded = [m for m in ('bare.openapi', 'msgspec', 'html', 'urllib.parse') "
        "if m in sys.modules]\n"
        "assert loaded == [], loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- size ------------------------------------------------------------------------------------------


def test_a_thousand_routes() -> None:
    app = Bare()
    for number in range(1000):
        app.add_route(f"/items{number}/{{item_id:int}}", plain, ["GET", "DELETE"], name="item")
    document = documented(app)
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)) == 2000
    assert ids[:4] == ["item_get", "item_delete", "item_get_2", "item_delete_2"]


def test_build_openapi_is_a_pure_function_of_the_app() -> None:
    app = Bare()

    @app.post("/tasks")
    async def create_task(task: Task) -> TaskOut:
        return TaskOut(task.title)

    assert build_openapi(app) == build_openapi(app) == app.openapi()
    assert build_openapi(app) is not build_openapi(app)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


def test_a_literal_type_and_enums_default_as_json() -> None:
    app = Bare()

    @app.get("/paint")
    async def paint(
        color: Color = Query(Color.RED), mode: Literal["fast", "slow"] = "fast"
    ) -> None:
        return None

    parameters = operation(documented(app), "/paint")["parameters"]
    assert parameters[0]["schema"]["default"] == "red"
    assert parameters[1]["schema"] == {"enum": ["fast", "slow"], "default": "fast"}


def test_a_protected_route_with_a_body_names_both_kinds_of_400() -> None:
    app = Bare()
    app.add_middleware(AuthenticationMiddleware, backend=BearerAuth(never))

    @app.post("/things", requires="write")
    async def things(payload: dict[str, int]) -> Any:
        return payload

    responses = operation(documented(app), "/things", "post")["responses"]
    assert responses["400"]["description"] == (
        "The body is not valid JSON, or malformed credentials"
    )
    client = TestClient(app)
    malformed = client.post("/things", json={}, headers={"authorization": "Bearer a b"})
    assert malformed.status_code == 400
