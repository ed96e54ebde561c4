"""BlackSheep, as its docs show: handlers bound by parameter name (route values typed in
the pattern), the request read for the header, query, JSON body and files, answers made
with `text()`, `html()` and `json()`. A router of its own, so no global default router is
touched."""

from __future__ import annotations

import time
from typing import Any

from benchmarks.apps.blacksheep_app import trivial
from benchmarks.compare.scenarios import HELLO, HTML_PAGE, ROUTE_TABLE, UPLOAD_FIELD, upload_path
from blacksheep import Application, Request, Response, Router, html, json, text
from blacksheep.exceptions import BadRequest, Unauthorized

__all__ = ["app"]

UPLOAD_PATH = upload_path()
_FIELD = UPLOAD_FIELD.encode()


async def hello() -> Response:
    return text(HELLO)


async def html_page() -> Response:
    response = html(HTML_PAGE)
    response.add_header(b"x-time", repr(time.time()).encode())
    return response


async def api(request: Request, user: int, record: int) -> Response:
    if not request.has_header(b"authorization"):
        raise Unauthorized()
    query = request.query.get("query")
    return json(
        {
            "user": user,
            "record": record,
            "query": query[0] if query else "",
            "body": await request.json(),
        }
    )


async def upload(request: Request) -> Response:
    parts: Any = await request.files()
    content = next((part.data for part in parts if part.name == _FIELD), None)
    if content is None:
        raise BadRequest(f"no file {UPLOAD_FIELD!r} in the form")
    with open(UPLOAD_PATH, "wb") as out:
        out.write(content)
    return json({"name": UPLOAD_PATH.name, "size": len(content)})


async def late(id: str) -> Response:
    return text(f"key {id}")


def make_app() -> Application:
    router = Router()
    router.add("GET", "/", hello)
    router.add("GET", "/html", html_page)
    router.add("PUT", "/api/users/{int:user}/records/{int:record}", api)
    router.add("POST", "/upload", upload)
    *table, (method, pattern) = ROUTE_TABLE
    for route_method, route_pattern in table:
        router.add(route_method, route_pattern, trivial)
    router.add(method, pattern, late)
    return Application(router=router)


app = make_app()
