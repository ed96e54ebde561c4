"""The book's tasks app, grown up: typed routes, HTTP errors, reverse routing, the usual
middleware (request ids, Server-Timing, CORS, a session with a login, CSRF protection),
and a page rendered from a Jinja2 template (examples/templates/) with its stylesheet and
script served from examples/static/, showing the server's clock live over server-sent
events (examples/clock.py) and a "new task" form with an optional attachment: an upload
read with `await request.form()`, answered with a redirect back to the page.

Run it with `make run` (uvicorn + uvloop + httptools on http://127.0.0.1:8000), or
`bare run examples.tasks:app`, or `python -m examples.tasks`. The page needs jinja2
and its form the multipart package (`pip install jinja2 multipart`, or
`pip install '.[templates,forms]'` in a checkout of bare).

Sessions and CSRF tokens are signed with `TASKS_SECRET_KEY` from the environment (32
bytes or more); without it, with a random key made at startup, so sessions end when the
server stops and are not shared between workers.
"""

from __future__ import annotations

import os
import secrets
import uuid
from pathlib import Path
from typing import Any

from bare import Bare, HTTPException, JSONResponse, RedirectResponse, Request, WebSocket
from bare.forms import UploadFile
from bare.middleware.cors import CORSMiddleware
from bare.middleware.csrf import CSRFMiddleware
from bare.middleware.request_id import RequestIdMiddleware
from bare.middleware.sessions import SessionMiddleware
from bare.middleware.timing import ServerTimingMiddleware
from bare.shutdown import close_on_signals, restore_signals
from bare.staticfiles import StaticFiles
from bare.templating import Jinja2Templates, TemplateResponse

from . import clock

# Next to this file, wherever the server was started from.
HERE = Path(__file__).resolve().parent

app = Bare()
app.add_middleware(RequestIdMiddleware)
app.add_middleware(ServerTimingMiddleware)
app.add_middleware(
    CORSMiddleware,
    allow_origins=["http://localhost:3000", "http://127.0.0.1:3000"],  # a front end in dev
    allow_methods=["GET", "POST", "PATCH", "DELETE"],
    allow_headers=["content-type"],
    allow_credentials=True,
)
SECRET_KEY = os.environ.get("TASKS_SECRET_KEY") or secrets.token_hex(32)
app.add_middleware(SessionMiddleware, secret_key=SECRET_KEY)
# CSRF: another site's page can make a browser post here, with this site's cookies. The
# middleware refuses posts without the token of the `csrftoken` cookie, in a header or
# in the form (the page's upload form sends it as its first field: see index.html),
# except on the JSON API: it reads bodies only as application/json (else 415), and takes
# PATCH and DELETE, which a browser sends to another site only after a CORS preflight
# (granted above to the dev front end alone); /logout reads no body: a forged one logs out.
app.add_middleware(
    CSRFMiddleware, secret_key=SECRET_KEY, exempt=["/login", "/logout", "/tasks", "/tasks/*"]
)
# no-cache: browsers ask again each time, and get a 304 while the file is unchanged (ETag).
app.mount(
    "/static", StaticFiles(directory=HERE / "static", cache_control="no-cache"), name="static"
)
app.include_router(clock.router)
templates = Jinja2Templates(directory=HERE / "templates", trim_blocks=True, lstrip_blocks=True)

# In-memory store: enough for an example, lost on restart, not shared between workers.
tasks: dict[uuid.UUID, dict[str, Any]] = {}


@app.on_startup
async def startup() -> None:
    await close_on_signals()  # open clocks end at once when the server is stopped
    print("App started. Ready to serve.")


@app.on_shutdown
async def shutdown() -> None:
    await restore_signals()
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
async def index(request: Request) -> TemplateResponse:
    # The template escapes the titles: they come from clients.
    context = {"tasks": list(tasks.values()), "attachment_limit": ATTACHMENT_LIMIT}
    return templates.TemplateResponse(request, "index.html", context)


@app.post("/login")
async def login(request: Request) -> dict[str, str]:
    data = await request.json()
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, str) or not 0 < len(name.strip()) <= 64:
        raise HTTPException(400, "name must be a string of 1 to 64 characters")
    request.session["user"] = name.strip()  # a real app checks a password first
    return {"user": request.session["user"]}


@app.post("/logout")
async def logout(request: Request) -> dict[str, str | None]:
    request.session.clear()
    return {"user": None}


@app.get("/me")
async def me(request: Request) -> dict[str, Any]:
    user = request.session.get("user")
    if user is None:
        raise HTTPException(401, "not logged in")
    return {"user": user, "request_id": request.id}


@app.get("/tasks")
async def list_tasks(request: Request) -> list[dict[str, Any]]:
    done = request.query("done")
    with request.timing("store", description="in-memory tasks"):
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


# The "new task" form of the page: a title and, optionally, a small attachment. An
# example keeps no files: only the attachment's name, size and type are stored, and its
# bytes go when the request ends (kept in memory meanwhile, as they are under the
# form's spool size of 1 MiB).
ATTACHMENT_LIMIT = 64 * 1024  # bytes


# Not under /tasks/, which CSRFMiddleware leaves to the JSON API: it checks this form's
# token (its first field) before the handler runs.
@app.post("/new-task", max_body_size=ATTACHMENT_LIMIT + 16 * 1024)
async def new_task_form(request: Request) -> RedirectResponse:
    """Post/Redirect/Get: a 303 back to the page, which lists the new task."""
    form = await request.form(
        max_fields=2,  # title and the CSRF token
        max_files=1,
        max_part_size=1024,  # for the title
        max_file_size=ATTACHMENT_LIMIT,
    )
    title = form.get("title")
    if not isinstance(title, str) or not title.strip():
        raise HTTPException(400, "title is required")
    task: dict[str, Any] = {"id": uuid.uuid4(), "title": title.strip(), "done": False}
    upload = form.get("attachment")
    # With no file chosen, a browser sends the field with an empty name and no bytes.
    if isinstance(upload, UploadFile) and (upload.filename or upload.size):
        task["attachment"] = {
            # Not the client's name: safe_filename is one name (never a path), without
            # the control and bidi characters a client can put in (the page escapes it).
            "name": upload.safe_filename,
            "size": upload.size,
            "type": upload.content_type or "application/octet-stream",
        }
    tasks[task["id"]] = task
    return RedirectResponse(str(request.url_for("index")), 303)


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
