"""The book's tasks app in typed form: handlers declare what they take and return,
bare validates it with msgspec and describes the API in an OpenAPI document.

    bare run examples.typed_tasks:app          # or: uvicorn examples.typed_tasks:app
                                               # or: python -m examples.typed_tasks

then open http://127.0.0.1:8000/docs, press "Authorize" and give the token. Every
/tasks route wants `Authorization: Bearer <token>`: the token is `TASKS_API_TOKEN` from
the environment, `dev-token` when it is not set (good for trying the example, nothing
else). For instance:

    curl -H 'Authorization: Bearer dev-token' -H 'Content-Type: application/json' \\
         -d '{"title": "write the docs"}' http://127.0.0.1:8000/tasks

It needs msgspec (`pip install msgspec`, or, in a checkout of bare, `pip install
'.[typed]'`); /docs draws Swagger UI with swagger-ui-py installed, a plain list of the
routes without it. The tasks live in memory (examples/typed_db.py), gone on restart.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Annotated, Any

import msgspec

from bare import Bare, Depends, HTTPException, JSONResponse, Query, Request, Router
from bare.authentication import BearerAuth, compare_secret
from bare.middleware.authentication import AuthenticationMiddleware

from .typed_db import Connection, Database

# -- models --------------------------------------------------------------------------------

# 1 to 200 characters, not all spaces, tabs or line breaks. Spelt out rather than `\S`:
# msgspec checks patterns with Python's `re`, JSON Schema means ECMA-262 regexes, and
# the two disagree on what `\s` is (U+0085, for one).
Title = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=200, pattern=r"[^ \t\r\n]", examples=["write the docs"]),
]


class TaskIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new task."""

    title: Title
    done: bool = False


class TaskPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Changes to a task: the fields given change, the others stay (`null` is not a
    value of either: leave the field out)."""

    title: Title | msgspec.UnsetType = msgspec.UNSET
    done: bool | msgspec.UnsetType = msgspec.UNSET


class Task(msgspec.Struct):
    """A task, as stored."""

    id: uuid.UUID
    title: str
    done: bool
    created: Annotated[datetime, msgspec.Meta(tz=True)]  # aware: in UTC


class NotFound(msgspec.Struct):
    """What a 404 says."""

    detail: str


# -- the database session ------------------------------------------------------------------

# A real app opens its connection pool at startup (`@app.on_startup`) and closes it at
# shutdown; this one keeps its rows in memory.
db = Database()


async def connection() -> AsyncIterator[Connection]:
    """A connection for the request. The default scope ("request"): it goes back to
    the pool once the response has been sent, so a streaming response could still
    read through it."""
    conn = db.connect()
    try:
        yield conn
    finally:
        conn.close()


async def transaction(
    conn: Annotated[Connection, Depends(connection)],
) -> AsyncIterator[Connection]:
    """The request's connection in a transaction: committed when the handler returns,
    rolled back when it raises (a 404 included). Used with `scope="function"`, the
    commit runs before the response is sent, so the client hears "created" only once
    the task is stored, and a commit that fails is the response (a 500)."""
    try:
        yield conn
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


Reader = Annotated[Connection, Depends(connection)]
Writer = Annotated[Connection, Depends(transaction, scope="function")]

# -- authentication ------------------------------------------------------------------------

API_TOKEN = os.environ.get("TASKS_API_TOKEN") or "dev-token"
READ, WRITE = "tasks:read", "tasks:write"


async def verify_token(token: str) -> tuple[str, list[str]] | None:
    """The user and scopes a Bearer token stands for; None rejects it (a 401)."""
    if compare_secret(token, API_TOKEN):  # constant time: no timing hints for guessers
        return "demo", [READ, WRITE]
    return None


# -- the API -------------------------------------------------------------------------------

app = Bare(
    title="Tasks",
    version="1.0.0",
    description="The book's tasks app, typed. Every route wants a Bearer token.",
)
# BearerAuth puts the scheme in the OpenAPI document; `requires=` on a route refuses
# anonymous requests (401 with `WWW-Authenticate: Bearer`) and marks it as secured.
app.add_middleware(AuthenticationMiddleware, backend=BearerAuth(verify_token))

router = Router(tags=["tasks"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No task has this id", "model": NotFound}
}
CREATED: dict[int | str, dict[str, Any]] = {
    201: {
        "headers": {"Location": {"description": "The new task's URL", "schema": {"type": "string"}}}
    }
}


def not_found() -> HTTPException:
    return HTTPException(404, "No task has this id")


@router.get("/tasks", requires=READ)
async def list_tasks(
    conn: Reader,
    limit: int = Query(20, ge=1, le=100, description="How many tasks at most"),
    offset: int = Query(0, ge=0, description="How many to skip"),
    done: bool | None = None,
) -> list[Task]:
    """List the tasks, oldest first.

    `done=true` keeps the finished ones, `done=false` the others; `limit` and `offset`
    page through them.
    """
    return [Task(**row) for row in conn.select(done=done, limit=limit, offset=offset)]


@router.post("/tasks", status_code=201, response_model=Task, responses=CREATED, requires=WRITE)
async def create_task(task: TaskIn, conn: Writer, request: Request) -> JSONResponse:
    """Create a task.

    The response's `Location` header is the new task's URL.
    """
    created = Task(uuid.uuid4(), task.title, task.done, datetime.now(timezone.utc))
    conn.insert(msgspec.structs.asdict(created))
    # A Response is sent as it is, headers and all; response_model= documents its body.
    location = request.url_for("get_task", task_id=created.id)
    return JSONResponse(created, 201, headers={"location": str(location)})


@router.get("/tasks/{task_id}", responses=NOT_FOUND, requires=READ)
async def get_task(task_id: uuid.UUID, conn: Reader) -> Task:
    """Read a task."""
    row = conn.get(task_id)
    if row is None:
        raise not_found()
    return Task(**row)


@router.patch("/tasks/{task_id}", responses=NOT_FOUND, requires=WRITE)
async def update_task(task_id: uuid.UUID, changes: TaskPatch, conn: Writer) -> Task:
    """Change a task's title or state."""
    given = {
        name: value
        for name, value in msgspec.structs.asdict(changes).items()
        if value is not msgspec.UNSET
    }
    row = conn.update(task_id, given)
    if row is None:
        raise not_found()
    return Task(**row)


@router.delete("/tasks/{task_id}", status_code=204, responses=NOT_FOUND, requires=WRITE)
async def delete_task(task_id: uuid.UUID, conn: Writer) -> None:
    """Delete a task."""
    if not conn.delete(task_id):
        raise not_found()


app.include_router(router)


if __name__ == "__main__":
    app.run()
