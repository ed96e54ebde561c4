"""FastAPI, as its docs show: typed path and query parameters, the Authorization header
as `Header()`, a pydantic model for the JSON body, `UploadFile` for the file, dicts
returned for JSON and `PlainTextResponse`/`HTMLResponse` for text. The docs and OpenAPI
routes are switched off, so the route table is the same as everywhere else."""

from __future__ import annotations

import time
from typing import Annotated, Any

from benchmarks.apps.fastapi_app import trivial
from benchmarks.compare.scenarios import HELLO, HTML_PAGE, ROUTE_TABLE, upload_path
from fastapi import FastAPI, Header, HTTPException, UploadFile
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel

__all__ = ["app"]

UPLOAD_PATH = upload_path()


class Record(BaseModel):
    name: str
    email: str
    age: int
    active: bool
    score: float
    tags: list[str]


async def hello() -> PlainTextResponse:
    return PlainTextResponse(HELLO)


async def html() -> HTMLResponse:
    return HTMLResponse(HTML_PAGE, headers={"x-time": repr(time.time())})


async def api(
    user: int,
    record: int,
    body: Record,
    query: str = "",
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    if authorization is None:
        raise HTTPException(401)
    return {"user": user, "record": record, "query": query, "body": body}


async def upload(file: UploadFile) -> dict[str, Any]:
    content = await file.read()
    with open(UPLOAD_PATH, "wb") as out:
        out.write(content)
    return {"name": UPLOAD_PATH.name, "size": len(content)}


async def late(id: str) -> PlainTextResponse:
    return PlainTextResponse(f"key {id}")


def make_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.add_api_route("/", hello, methods=["GET"])
    app.add_api_route("/html", html, methods=["GET"])
    app.add_api_route("/api/users/{user}/records/{record}", api, methods=["PUT"])
    app.add_api_route("/upload", upload, methods=["POST"])
    *table, (method, pattern) = ROUTE_TABLE
    for route_method, route_pattern in table:
        app.add_api_route(route_pattern, trivial, methods=[route_method])
    app.add_api_route(pattern, late, methods=[method])
    return app


app = make_app()
