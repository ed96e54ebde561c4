"""An app whose documentation page the browser test loads (tests/test_openapi_browser.py).

Typed and plain handlers, a mounted bare app and a route left out of the document, so
that the page shows what the document lists and nothing else.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from bare import Bare, File, Form, Query, Request, UploadFile

app = Bare(title="Tasks API", version="2.0.0", description="The tasks of the book, typed.")
admin = Bare(openapi_url=None, docs_url=None)


class NewTask(msgspec.Struct):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Task(NewTask):
    id: int
    done: bool = False


TASKS = [Task("write the docs", 1)]


@app.get("/tasks", tags=["tasks"])
async def list_tasks(done: bool | None = Query(None, description="Only these")) -> list[Task]:
    """List the tasks."""
    return [task for task in TASKS if done is None or task.done is done]


@app.post("/tasks", tags=["tasks"], status_code=201)
async def create_task(task: NewTask) -> Task:
    """Create a task."""
    return Task(task.title, len(TASKS) + 1)


@app.get("/tasks/{task_id:int}", tags=["tasks"])
async def read_task(request: Request) -> dict[str, object]:
    """Read one task."""
    return {"id": request.path_params["task_id"]}


@app.delete("/tasks/{task_id:int}", tags=["tasks"], deprecated=True)
async def delete_task(request: Request) -> None:
    """Delete a task."""


@app.post("/tasks/{task_id:int}/attachments", tags=["files"])
async def attach(task_id: int, note: str = Form(""), file: UploadFile = File()) -> dict[str, int]:
    """Attach a file to a task."""
    return {"task_id": task_id, "size": len(await file.read())}


@app.get("/internal/health", include_in_schema=False)
async def health(request: Request) -> str:
    return "ok"


@admin.get("/stats")
async def stats(request: Request) -> dict[str, int]:
    """Count the tasks."""
    return {"tasks": len(TASKS)}


app.mount("/admin", admin)
