"""The typed example (examples/typed_tasks.py, examples/typed_db.py) through TestClient:
the API, its Bearer auth, its errors, its database session dependency, and its
OpenAPI document. schemathesis runs against it on a real server in
tests/test_typed_example_schemathesis.py."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import examples.typed_tasks as example
import pytest
from examples.typed_db import Database
from openapi_spec_validator import validate

from bare import Bare, HTTPException, StreamingResponse
from bare.testing import TestClient
from servers import ROOT

TOKEN = "a-token-for-the-tests"
AUTH = {"authorization": f"Bearer {TOKEN}"}
REF = "#/components/schemas/"
NOT_FOUND = {"detail": "No task has this id"}


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Database:
    """An empty database for the example, and a token of the test's own."""
    database = Database()
    monkeypatch.setattr(example, "db", database)
    monkeypatch.setattr(example, "API_TOKEN", TOKEN)
    return database


@pytest.fixture
def client(store: Database) -> TestClient:
    return TestClient(example.app, headers=AUTH)


@pytest.fixture
def anonymous(store: Database) -> TestClient:
    return TestClient(example.app)


def create(client: TestClient, title: str, done: bool = False) -> dict[str, Any]:
    reply = client.post("/tasks", json={"title": title, "done": done})
    assert reply.status_code == 201, reply.text
    task: dict[str, Any] = reply.json()
    return task


def errors(reply: Any) -> list[dict[str, Any]]:
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == "application/json"
    found: list[dict[str, Any]] = reply.json()["detail"]
    return found


# -- the API -------------------------------------------------------------------------------


def test_create_answers_201_with_the_task_and_its_location(
    client: TestClient, store: Database
) -> None:
    before = datetime.now(timezone.utc)
    reply = client.post("/tasks", json={"title": "write the docs"})
    assert reply.status_code == 201
    task = reply.json()
    assert set(task) == {"id", "title", "done", "created"}
    assert (task["title"], task["done"]) == ("write the docs", False)
    task_id = uuid.UUID(task["id"])
    created = datetime.fromisoformat(task["created"].replace("Z", "+00:00"))
    assert before <= created <= datetime.now(timezone.utc)
    assert reply.headers["location"] == f"http://testserver/tasks/{task_id}"
    # Committed before the response: the store has it, and the connection went back.
    assert store.committed()[task_id]["title"] == "write the docs"
    assert store.open_connections == 0
    assert client.get(reply.headers["location"]).json() == task


def test_create_takes_done_and_titles_of_any_script(client: TestClient) -> None:
    task = create(client, "écrire la doc \u2013 \U0001f4dd\x00", done=True)
    assert task["done"] is True
    assert (
        client.get(f"/tasks/{task['id']}").json()["title"] == "écrire la doc \u2013 \U0001f4dd\x00"
    )


def test_list_pages_through_the_tasks_oldest_first(client: TestClient) -> None:
    assert client.get("/tasks").json() == []
    made = [create(client, f"task {n}", done=n % 3 == 0) for n in range(25)]
    assert client.get("/tasks").json() == made[:20]  # limit 20 by default
    assert client.get("/tasks?limit=5&offset=20").json() == made[20:]
    assert client.get("/tasks?offset=25").json() == []
    assert client.get("/tasks?offset=10000000000000000000000").json() == []
    assert client.get("/tasks?limit=100").json() == made
    assert client.get("/tasks?limit=1").json() == made[:1]


@pytest.mark.parametrize("value", ["true", "1", "yes", "on"], ids=["true", "one", "yes", "on"])
def test_list_filters_on_done(client: TestClient, value: str) -> None:
    made = [create(client, f"task {n}", done=n % 2 == 0) for n in range(6)]
    finished = [t for t in made if t["done"]]
    assert client.get(f"/tasks?done={value}").json() == finished
    assert client.get("/tasks?done=false").json() == [t for t in made if not t["done"]]
    # The filter applies before the page.
    assert client.get("/tasks?done=true&limit=2&offset=1").json() == finished[1:3]


def test_get_patch_and_delete(client: TestClient, store: Database) -> None:
    task = create(client, "draft")
    url = f"/tasks/{task['id']}"
    assert client.get(url).json() == task

    done = client.patch(url, json={"done": True})
    assert done.status_code == 200
    assert done.json() == {**task, "done": True}
    renamed = client.patch(url, json={"title": "final"}).json()
    assert renamed == {**task, "done": True, "title": "final"}  # done was kept
    assert client.patch(url, json={}).json() == renamed  # nothing to change
    assert client.get(url).json() == renamed

    deleted = client.delete(url)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert "content-type" not in deleted.headers
    assert store.committed() == {}
    assert client.get(url).status_code == 404
    assert client.get("/tasks").json() == []


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_an_unknown_task_is_a_404(client: TestClient, store: Database, method: str) -> None:
    kept = create(client, "kept")
    options: dict[str, Any] = {"json": {"title": "x"}} if method == "patch" else {}
    reply = client.request(method.upper(), f"/tasks/{uuid.uuid4()}", **options)
    assert (reply.status_code, reply.json()) == (404, NOT_FOUND)
    assert [row["title"] for row in store.committed().values()] == [kept["title"]]
    assert store.open_connections == 0


def test_a_deleted_task_cannot_be_deleted_again(client: TestClient) -> None:
    url = f"/tasks/{create(client, 'once')['id']}"
    assert client.delete(url).status_code == 204
    assert (client.delete(url).status_code, client.patch(url, json={}).status_code) == (404, 404)


# -- authentication ------------------------------------------------------------------------


ROUTES = [
    ("GET", "/tasks"),
    ("POST", "/tasks"),
    ("GET", "/tasks/00000000-0000-4000-8000-000000000000"),
    ("PATCH", "/tasks/00000000-0000-4000-8000-000000000000"),
    ("DELETE", "/tasks/00000000-0000-4000-8000-000000000000"),
]
ROUTE_IDS = ["list", "create", "read", "update", "delete"]


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=ROUTE_IDS)
def test_every_route_refuses_a_request_without_a_token(
    anonymous: TestClient, store: Database, method: str, path: str
) -> None:
    # A body that would be valid, and one that would not: neither is read first.
    for body in ({"title": "sneaky"}, {"title": 5}):
        reply = anonymous.request(method, path, json=body)
        assert reply.status_code == 401
        assert reply.headers["www-authenticate"] == "Bearer"
        assert reply.json() == {"detail": "Not authenticated"}
    assert store.committed() == {}
    assert store.open_connections == 0  # refused before any dependency ran


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        "Bearer dev-token",
        f"bearer {TOKEN.upper()}",
        "Bearer " + "a" * 4000,
    ],
    ids=["longer", "shorter", "default", "case", "long"],
)
def test_a_wrong_token_is_a_401_with_the_invalid_token_challenge(
    anonymous: TestClient, header: str
) -> None:
    reply = anonymous.get("/tasks", headers={"authorization": header})
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert reply.json() == {"detail": "Invalid token"}


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (f"Basic {TOKEN}", 401),  # another scheme: no Bearer credentials at all
        ("Bearer", 400),
        (f"Bearer {TOKEN} extra", 400),
        ("Bearer a,b", 400),
        ("Bearer " + "a" * 9000, 400),  # over the backend's 8 KiB
    ],
    ids=["basic", "empty", "two_words", "comma", "oversized"],
)
def test_malformed_credentials_are_refused(anonymous: TestClient, header: str, status: int) -> None:
    reply = anonymous.post("/tasks", json={"title": "x"}, headers={"authorization": header})
    assert reply.status_code == status
    assert reply.headers["www-authenticate"].startswith("Bearer")
    assert TOKEN not in reply.text


def test_the_scheme_name_is_case_insensitive(anonymous: TestClient) -> None:
    reply = anonymous.get("/tasks", headers={"authorization": f"BEARER {TOKEN}"})
    assert (reply.status_code, reply.json()) == (200, [])


def test_the_token_comes_from_the_environment() -> None:
    code = "import examples.typed_tasks as e; print(e.API_TOKEN)"
    for given, expected in (("from-env", "from-env"), ("", "dev-token")):
        env = {**os.environ, "TASKS_API_TOKEN": given}
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert result.stdout.strip() == expected, result.stderr


def test_the_document_and_the_docs_page_need_no_token(anonymous: TestClient) -> None:
    assert anonymous.get("/openapi.json").status_code == 200
    page = anonymous.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"


# -- validation errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("limit=0", [("limit", "Expected `int` >= 1", "0")]),
        ("limit=101", [("limit", "Expected `int` <= 100", "101")]),
        ("limit=ten", [("limit", "Expected `int`, got `str`", "ten")]),
        ("limit=1.5", [("limit", "Expected `int`, got `str`", "1.5")]),
        ("offset=-1", [("offset", "Expected `int` >= 0", "-1")]),
        ("done=maybe", [("done", "Expected `bool | null`, got `str`", "maybe")]),
        (
            "limit=0&offset=-1&done=2",
            [
                ("limit", "Expected `int` >= 1", "0"),
                ("offset", "Expected `int` >= 0", "-1"),
                ("done", "Expected `bool | null`, got `str`", "2"),
            ],
        ),
    ],
    ids=["limit_low", "limit_high", "limit_text", "limit_float", "offset", "done", "all"],
)
def test_bad_query_parameters_are_422s_listing_each(
    client: TestClient, query: str, expected: list[tuple[str, str, str]]
) -> None:
    found = errors(client.get(f"/tasks?{query}"))
    assert [(e["loc"], e["msg"], e["input"]) for e in found] == [
        (["query", name], msg, value) for name, msg, value in expected
    ]


def test_a_long_bad_value_is_not_echoed(client: TestClient) -> None:
    found = errors(client.get("/tasks?limit=" + "9" * 5000))
    assert found == [
        {"loc": ["query", "limit"], "msg": "Integer value out of range", "type": "out_of_range"}
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, [(["body", "title"], "missing")]),
        ({"title": ""}, [(["body", "title"], "constraint")]),
        ({"title": " \t\r\n "}, [(["body", "title"], "constraint")]),
        ({"title": "x" * 201}, [(["body", "title"], "constraint")]),
        ({"title": None}, [(["body", "title"], "type_error")]),
        ({"title": ["a"]}, [(["body", "title"], "type_error")]),
        ({"title": "a", "done": "yes"}, [(["body", "done"], "type_error")]),
        ({"title": "a", "id": "mine"}, [(["body", "id"], "extra_forbidden")]),
        ([{"title": "a"}], [(["body"], "type_error")]),
        ("a title", [(["body"], "type_error")]),
    ],
    ids=[
        "missing",
        "empty",
        "blank",
        "too_long",
        "null",
        "list",
        "done_text",
        "extra",
        "array",
        "string",
    ],
)
def test_a_bad_new_task_is_a_422_and_stores_nothing(
    client: TestClient, store: Database, body: Any, expected: list[tuple[list[Any], str]]
) -> None:
    found = errors(client.post("/tasks", json=body))
    assert [(e["loc"], e["type"]) for e in found] == expected
    assert all(e["msg"] for e in found)
    assert store.committed() == {}


def test_the_title_limit_is_200_characters_not_bytes(client: TestClient) -> None:
    assert create(client, "\U0001f4dd" * 200)["title"] == "\U0001f4dd" * 200


def test_a_bad_patch_is_a_422_listing_path_and_body_errors(client: TestClient) -> None:
    task = create(client, "kept")
    found = errors(client.patch("/tasks/42", json={"title": None, "owner": "me"}))
    assert [(e["loc"], e["type"]) for e in found] == [
        (["path", "task_id"], "value_error"),
        (["body", "title"], "type_error"),
        (["body", "owner"], "extra_forbidden"),
    ]
    # null is not "leave it": TaskPatch fields are given or left out.
    found = errors(client.patch(f"/tasks/{task['id']}", json={"done": None}))
    assert [e["loc"] for e in found] == [["body", "done"]]
    assert client.get(f"/tasks/{task['id']}").json() == task


@pytest.mark.parametrize(
    "task_id", ["42", "not-a-uuid", "0" * 33, "%00"], ids=["number", "word", "long", "nul"]
)
def test_a_task_id_that_is_not_a_uuid_is_a_422(client: TestClient, task_id: str) -> None:
    found = errors(client.get(f"/tasks/{task_id}"))
    assert [(e["loc"], e["msg"]) for e in found] == [(["path", "task_id"], "Invalid UUID")]


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'{"title": "x"', "application/json", 400),
        (b'{"title": "\xff"}', "application/json", 400),
        (b"[" * 10_000 + b"]" * 10_000, "application/json", 400),
        (b"title=x", "application/x-www-form-urlencoded", 415),
        (b'{"title": "x"}', "text/plain", 415),
        (b'{"title": "' + b"x" * (1 << 20) + b'"}', "application/json", 413),
    ],
    ids=["truncated", "not_utf8", "deep", "form", "text", "too_large"],
)
def test_a_body_that_cannot_be_read_is_a_4xx(
    client: TestClient, store: Database, content: bytes, content_type: str, status: int
) -> None:
    reply = client.post("/tasks", content=content, headers={"content-type": content_type})
    assert reply.status_code == status
    assert isinstance(reply.json()["detail"], str)
    assert store.committed() == {}


# -- the session dependency ----------------------------------------------------------------


def test_uncommitted_writes_are_seen_only_by_their_connection() -> None:
    database = Database()
    mine, other = database.connect(), database.connect()
    row: dict[str, Any] = {"id": uuid.uuid4(), "title": "t", "done": False}
    mine.insert(row)
    assert mine.get(row["id"]) == row
    assert other.get(row["id"]) is None
    assert other.select(done=None, limit=10, offset=0) == []
    mine.commit()
    assert other.get(row["id"]) == row
    assert other.delete(row["id"])
    assert other.select(done=None, limit=10, offset=0) == []
    assert mine.get(row["id"]) == row  # until other commits
    other.rollback()
    assert database.committed() == {row["id"]: row}
    assert database.open_connections == 2
    mine.close()
    other.close()
    mine.close()  # twice: given back once
    assert database.open_connections == 0


def test_a_connection_closed_uncommitted_rolls_back() -> None:
    database = Database()
    conn = database.connect()
    conn.insert({"id": uuid.uuid4(), "title": "t", "done": False})
    conn.close()
    assert database.committed() == {}


def test_a_failed_commit_is_a_500_and_nothing_is_stored(
    store: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(writes: Any) -> None:
        raise RuntimeError("disk full at /var/lib/tasks")

    monkeypatch.setattr(store, "_apply", refuse)
    client = TestClient(example.app, headers=AUTH, raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR):
        reply = client.post("/tasks", json={"title": "lost"})
    # scope="function": the commit ran before the response, so its failure is the response.
    assert reply.status_code == 500
    assert "disk full" not in reply.text
    assert "location" not in reply.headers
    assert "disk full at /var/lib/tasks" in caplog.text
    assert store.committed() == {}
    assert store.open_connections == 0
    assert client.get("/tasks").json() == []


def test_a_handler_that_raises_rolls_its_writes_back(store: Database) -> None:
    app = Bare()
    row: dict[str, Any] = {"id": uuid.uuid4(), "title": "half done", "done": False}

    @app.post("/conflict")
    async def conflict(conn: example.Writer) -> None:
        conn.insert(row)
        raise HTTPException(409, "changed my mind")

    @app.post("/crash")
    async def crash(conn: example.Writer) -> None:
        conn.insert(row)
        raise RuntimeError("bug")

    @app.post("/fine")
    async def fine(conn: example.Writer) -> dict[str, bool]:
        conn.insert(row)
        return {"stored": conn.get(row["id"]) is not None}

    client = TestClient(app, raise_server_exceptions=False)
    assert client.post("/conflict").status_code == 409
    assert client.post("/crash").status_code == 500
    assert store.committed() == {}
    assert store.open_connections == 0
    assert client.post("/fine").json() == {"stored": True}
    assert list(store.committed()) == [row["id"]]


def test_a_read_connection_goes_back_after_the_response_has_been_sent(store: Database) -> None:
    app = Bare()
    seen: list[int] = []

    @app.get("/rows")
    async def rows(conn: example.Reader) -> StreamingResponse:
        async def lines() -> AsyncIterator[str]:
            for _ in range(3):
                seen.append(store.open_connections)  # still open while streaming
                yield f"closed: {conn.closed}\n"

        return StreamingResponse(lines())

    assert TestClient(app).get("/rows").text == "closed: False\n" * 3
    assert seen == [1, 1, 1]
    assert store.open_connections == 0


def test_a_request_shares_one_connection_between_its_dependencies(store: Database) -> None:
    app = Bare()

    @app.get("/same")
    async def same(reader: example.Reader, writer: example.Writer) -> dict[str, bool]:
        return {"same": reader is writer, "one": store.open_connections == 1}

    assert TestClient(app).get("/same").json() == {"same": True, "one": True}


def test_created_tasks_are_in_utc(client: TestClient) -> None:
    created = datetime.fromisoformat(create(client, "t")["created"].replace("Z", "+00:00"))
    assert created.utcoffset() == timedelta(0)


# -- the OpenAPI document ------------------------------------------------------------------


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    built = example.app.openapi()
    validate(built)
    assert json.loads(json.dumps(built)) == built
    return built


OPERATIONS = {
    ("/tasks", "get"): ("list_tasks", "List the tasks, oldest first.", "tasks:read"),
    ("/tasks", "post"): ("create_task", "Create a task.", "tasks:write"),
    ("/tasks/{task_id}", "get"): ("get_task", "Read a task.", "tasks:read"),
    ("/tasks/{task_id}", "patch"): (
        "update_task",
        "Change a task's title or state.",
        "tasks:write",
    ),
    ("/tasks/{task_id}", "delete"): ("delete_task", "Delete a task.", "tasks:write"),
}


def test_the_document_lists_the_operations_with_tags_summaries_and_security(
    document: dict[str, Any],
) -> None:
    assert document["info"] == {
        "title": "Tasks",
        "version": "1.0.0",
        "description": "The book's tasks app, typed. Every route wants a Bearer token.",
    }
    assert document["components"]["securitySchemes"] == {
        "BearerAuth": {"type": "http", "scheme": "bearer"}
    }
    found = {(path, method) for path, item in document["paths"].items() for method in item}
    assert found == set(OPERATIONS)
    for (path, method), (operation_id, summary, scope) in OPERATIONS.items():
        operation = document["paths"][path][method]
        assert operation["operationId"] == operation_id
        assert operation["summary"] == summary
        assert operation["tags"] == ["tasks"]
        assert operation["security"] == [{"BearerAuth": [scope]}]
        responses = operation["responses"]
        for status in ("401", "403", "422"):
            assert status in responses, (path, method, status)
        assert responses["422"]["content"]["application/json"]["schema"] == {
            "$ref": REF + "HTTPValidationError"
        }
        if path == "/tasks/{task_id}":
            assert responses["404"] == {
                "description": "No task has this id",
                "content": {"application/json": {"schema": {"$ref": REF + "NotFound"}}},
            }
            assert operation["parameters"] == [
                {
                    "name": "task_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "format": "uuid"},
                }
            ]
        else:
            assert "404" not in responses
    listing = document["paths"]["/tasks"]["get"]
    assert listing["description"].startswith("`done=true` keeps the finished ones")


def test_the_document_describes_bodies_and_successes(document: dict[str, Any]) -> None:
    paths = document["paths"]
    task = {"$ref": REF + "Task"}

    def body(operation: dict[str, Any]) -> Any:
        assert operation["requestBody"]["required"] is True
        return operation["requestBody"]["content"]["application/json"]["schema"]

    def success(operation: dict[str, Any], status: str) -> Any:
        return operation["responses"][status]["content"]["application/json"]["schema"]

    creating = paths["/tasks"]["post"]
    assert body(creating) == {"$ref": REF + "TaskIn"}
    assert success(creating, "201") == task
    assert creating["responses"]["201"]["headers"]["Location"]["schema"] == {"type": "string"}
    assert set(creating["responses"]) == {"201", "400", "401", "403", "413", "415", "422"}
    assert body(paths["/tasks/{task_id}"]["patch"]) == {"$ref": REF + "TaskPatch"}
    assert success(paths["/tasks/{task_id}"]["patch"], "200") == task
    assert success(paths["/tasks/{task_id}"]["get"], "200") == task
    assert success(paths["/tasks"]["get"], "200") == {"type": "array", "items": task}
    assert paths["/tasks/{task_id}"]["delete"]["responses"]["204"] == {"description": "No Content"}


def test_the_document_has_the_models_with_their_constraints(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert {"Task", "TaskIn", "TaskPatch", "NotFound", "HTTPError", "HTTPValidationError"} <= set(
        schemas
    )
    title = {
        "type": "string",
        "minLength": 1,
        "maxLength": 200,
        "pattern": "[^ \\t\\r\\n]",
        "examples": ["write the docs"],
    }
    new = schemas["TaskIn"]
    assert new["properties"] == {"title": title, "done": {"type": "boolean", "default": False}}
    assert (new["required"], new["additionalProperties"]) == (["title"], False)
    patch = schemas["TaskPatch"]
    assert patch["properties"] == {"title": title, "done": {"type": "boolean"}}
    assert (patch.get("required", []), patch["additionalProperties"]) == ([], False)
    stored = schemas["Task"]
    assert stored["properties"] == {
        "id": {"type": "string", "format": "uuid"},
        "title": {"type": "string"},
        "done": {"type": "boolean"},
        "created": {"type": "string", "format": "date-time"},
    }
    assert stored["required"] == ["id", "title", "done", "created"]


def test_the_document_describes_the_query_parameters(document: dict[str, Any]) -> None:
    parameters = {p["name"]: p for p in document["paths"]["/tasks"]["get"]["parameters"]}
    assert list(parameters) == ["limit", "offset", "done"]
    assert all(p["in"] == "query" and p["required"] is False for p in parameters.values())
    limit = parameters["limit"]["schema"]
    assert (limit["type"], limit["minimum"], limit["maximum"], limit["default"]) == (
        "integer",
        1,
        100,
        20,
    )
    offset = parameters["offset"]["schema"]
    assert (offset["type"], offset["minimum"], offset["default"]) == ("integer", 0, 0)
    assert "maximum" not in offset
    assert parameters["done"]["schema"] == {
        "anyOf": [{"type": "boolean"}, {"type": "null"}],
        "default": None,
    }


def test_the_served_document_is_the_built_one(
    anonymous: TestClient, document: dict[str, Any]
) -> None:
    assert anonymous.get("/openapi.json").json() == document
