"""Starlette, as its docs show: `Route`s of `endpoint(request) -> Response`, the form read
with `async with request.form()` (python-multipart)."""

from __future__ import annotations

import time

from benchmarks.apps.starlette_app import trivial
from benchmarks.compare.scenarios import HELLO, HTML_PAGE, ROUTE_TABLE, UPLOAD_FIELD, upload_path
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["app"]

UPLOAD_PATH = upload_path()


async def hello(request: Request) -> Response:
    return PlainTextResponse(HELLO)


async def html(request: Request) -> Response:
    return HTMLResponse(HTML_PAGE, headers={"x-time": repr(time.time())})


async def api(request: Request) -> Response:
    if "authorization" not in request.headers:
        raise HTTPException(401)
    params = request.path_params
    return JSONResponse(
        {
            "user": params["user"],
            "record": params["record"],
            "query": request.query_params.get("query", ""),
            "body": await request.json(),
        }
    )


async def upload(request: Request) -> Response:
    async with request.form() as form:
        file = form.get(UPLOAD_FIELD)
        if not isinstance(file, UploadFile):
            raise HTTPException(400, f"no file {UPLOAD_FIELD!r} in the form")
        content = await file.read()
    with open(UPLOAD_PATH, "wb") as out:
        out.write(content)
    return JSONResponse({"name": UPLOAD_PATH.name, "size": len(content)})


async def late(request: Request) -> Response:
    return PlainTextResponse(f"key {request.path_params['id']}")


def make_app() -> Starlette:
    *table, (method, pattern) = ROUTE_TABLE
    return Starlette(
        routes=[
            Route("/", hello, methods=["GET"]),
            Route("/html", html, methods=["GET"]),
            Route("/api/users/{user:int}/records/{record:int}", api, methods=["PUT"]),
            Route("/upload", upload, methods=["POST"]),
            *(Route(p, trivial, methods=[m]) for m, p in table),
            Route(pattern, late, methods=[method]),
        ]
    )


app = make_app()
