"""bare, written as its docs show: plain handlers `handler(request) -> value`, a str
answered as text and a dict as JSON, `HTMLResponse` for the page, `request.form()` for
the upload. The same module serves compiled and pure: the runner sets
`BARE_NO_EXTENSIONS=1` in the process of the pure contestant."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from benchmarks.apps.bare_app import trivial
from benchmarks.compare.scenarios import HELLO, HTML_PAGE, ROUTE_TABLE, UPLOAD_FIELD, upload_path

from bare import Bare, HTTPException, Request
from bare.forms import UploadFile
from bare.responses import HTMLResponse

__all__ = ["app", "make_app"]

UPLOAD_PATH = upload_path()


async def hello(request: Request) -> str:
    return HELLO


async def html(request: Request) -> HTMLResponse:
    return HTMLResponse(HTML_PAGE, headers={"x-time": repr(time.time())})


async def api(request: Request) -> dict[str, Any]:
    if "authorization" not in request.headers:
        raise HTTPException(401)
    params = request.path_params
    return {
        "user": params["user"],
        "record": params["record"],
        "query": request.query("query"),
        "body": await request.json(),
    }


async def upload(request: Request) -> dict[str, Any]:
    form = await request.form()
    file = form.get(UPLOAD_FIELD)
    if not isinstance(file, UploadFile):
        raise HTTPException(400, f"no file {UPLOAD_FIELD!r} in the form")
    content = await file.read()
    with open(UPLOAD_PATH, "wb") as out:
        out.write(content)
    return {"name": UPLOAD_PATH.name, "size": len(content)}


async def late(request: Request) -> str:
    return f"key {request.path_params['id']}"


def make_app(api_handler: Callable[..., Any] = api) -> Bare:
    """The app, with `api_handler` on the api route (the typed app gives its own)."""
    app = Bare()
    app.add_route("/", hello, ["GET"])
    app.add_route("/html", html, ["GET"])
    app.add_route("/api/users/{user:int}/records/{record:int}", api_handler, ["PUT"])
    app.add_route("/upload", upload, ["POST"])
    *table, (method, pattern) = ROUTE_TABLE
    for route_method, route_pattern in table:
        app.add_route(route_pattern, trivial, [route_method])
    app.add_route(pattern, late, [method])
    return app


app = make_app()
