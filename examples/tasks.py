"""The book's tasks app, grown up: typed routes, HTTP errors, reverse routing, a page.

Run it with `make run` (uvicorn + uvloop + httptools on http://127.0.0.1:8000), or
`bare run examples.tasks:app`, or `python -m examples.tasks`.
"""

from __future__ import annotations

import html
import uuid
from typing import Any

from bare import Bare, HTMLResponse, HTTPException, JSONResponse, Request, WebSocket

app = Bare()

# In-memory store: enough for an example, lost on restart, not shared between workers.
tasks: dict[uuid.UUID, dict[str, Any]] = {}


@app.on_startup
async def startup() -> None:
    print("App started. Ready to serve.")


@app.on_shutdown
async def shutdown() -> None:
    print("App stopping. Cleaning up.")


def find_task(request: Request) -> dict[str, Any]:
    task = tasks.get(request.path_params["task_id"])
    if task is None:
        raise HTTPException(404, "task not found")
    return task


async def task_fields(request: Request) -> dict[str, Any]:
    data = await request.json()
    if not isinstance(data, dict):
        raise HTTPException(400, "expected a JSON object")
    if "title" in data and not (isinstance(data["title"], str) and data["title"].strip()):
        raise HTTPException(400, "title must be a non-empty string")
    return data


@app.get("/")
async def index(request: Request) -> HTMLResponse:
    rows = "".join(
        f'<li><a href="{request.app.url_path_for("get_task", task_id=task["id"])}">'
        f"{html.escape(task['title'])}</a>{' (done)' if task['done'] else ''}</li>"
        for task in tasks.values()
    )
    return HTMLResponse(
        "<!doctype html><meta charset='utf-8'><title>bare tasks</title>"
        "<h1>Bare Framework</h1><p>It's just callables.</p>"
        f"<h2>Tasks</h2><ul>{rows or '<li>No tasks yet.</li>'}</ul>"
        "<p>Try <code>curl -X POST localhost:8000/tasks -H 'content-type: application/json' "
        '-d \'{"title": "Built with bare"}\'</code>, or the JSON at '
        f"<a href='{app.url_path_for('list_tasks')}'>/tasks</a>.</p>"
    )


@app.get("/tasks")
async def list_tasks(request: Request) -> list[dict[str, Any]]:
    done = request.query("done")
    result = list(tasks.values())
    if done == "true":
        result = [t for t in result if t["done"]]
    elif done == "false":
        result = [t for t in result if not t["done"]]
    return result


@app.post("/tasks")
async def create_task(request: Request) -> JSONResponse:
    data = await task_fields(request)
    if "title" not in data:
        raise HTTPException(400, "title is required")
    task = {"id": uuid.uuid4(), "title": data["title"], "done": False}
    tasks[task["id"]] = task
    location = request.url_for("get_task", task_id=task["id"])  # root_path included
    return JSONResponse(task, 201, headers={"location": str(location)})


@app.get("/tasks/{task_id:uuid}")
async def get_task(request: Request) -> dict[str, Any]:
    return find_task(request)


@app.patch("/tasks/{task_id:uuid}")
async def update_task(request: Request) -> dict[str, Any]:
    task = find_task(request)
    data = await task_fields(request)
    if "done" in data:
        task["done"] = bool(data["done"])
    if "title" in data:
        task["title"] = data["title"]
    return task


@app.delete("/tasks/{task_id:uuid}")
async def delete_task(request: Request) -> dict[str, Any]:
    task = find_task(request)
    return tasks.pop(task["id"])


@app.websocket("/ws")
async def chat(ws: WebSocket) -> None:
    async with ws:
        await ws.send_text("Welcome! Type messages to see them echoed.")
        async for message in ws:
            if not isinstance(message, str):
                continue
            await ws.send_json({"type": "echo", "original": message, "upper": message.upper()})


if __name__ == "__main__":
    app.run()
