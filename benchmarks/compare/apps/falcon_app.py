"""Falcon (ASGI), as its docs show: one resource per URI template with an `on_<method>`
responder per method, `{user:int}` fields, `req.auth` and `req.get_param()`, the JSON
body and the multipart form from `req.get_media()`, JSON answers in `resp.media` (with
the compact separators the other apps use, through Falcon's per-app media handler
option)."""

from __future__ import annotations

import functools
import json
import time
from typing import Any

import falcon
import falcon.asgi
import falcon.media
from benchmarks.apps.falcon_app import trivial
from benchmarks.compare.scenarios import HELLO, HTML_PAGE, ROUTE_TABLE, UPLOAD_FIELD, upload_path

__all__ = ["app"]

Request = falcon.asgi.Request
Response = falcon.asgi.Response

UPLOAD_PATH = upload_path()


class Hello:
    async def on_get(self, req: Request, resp: Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = HELLO


class Page:
    async def on_get(self, req: Request, resp: Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.text = HTML_PAGE
        resp.set_header("x-time", repr(time.time()))


class Api:
    async def on_put(self, req: Request, resp: Response, user: int, record: int) -> None:
        if req.auth is None:
            raise falcon.HTTPUnauthorized()
        resp.media = {
            "user": user,
            "record": record,
            "query": req.get_param("query", default=""),
            "body": await req.get_media(),
        }


class Upload:
    async def on_post(self, req: Request, resp: Response) -> None:
        form = await req.get_media()
        content = None
        async for part in form:
            if part.name == UPLOAD_FIELD and part.filename is not None:
                content = await part.get_data()
                break
        if content is None:
            raise falcon.HTTPBadRequest(description=f"no file {UPLOAD_FIELD!r} in the form")
        with open(UPLOAD_PATH, "wb") as out:
            out.write(content)
        resp.media = {"name": UPLOAD_PATH.name, "size": len(content)}


async def late(self: Any, req: Request, resp: Response, id: str) -> None:
    resp.content_type = falcon.MEDIA_TEXT
    resp.text = f"key {id}"


def make_app() -> falcon.asgi.App[Any, Any]:
    app = falcon.asgi.App()
    compact = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = falcon.media.JSONHandler(dumps=compact)
    app.add_route("/", Hello())
    app.add_route("/html", Page())
    app.add_route("/api/users/{user:int}/records/{record:int}", Api())
    app.add_route("/upload", Upload())
    *table, (method, pattern) = ROUTE_TABLE
    responders: dict[str, dict[str, Any]] = {}
    for route_method, route_pattern in table:
        responders.setdefault(route_pattern, {})[f"on_{route_method.lower()}"] = trivial
    responders.setdefault(pattern, {})[f"on_{method.lower()}"] = late
    for route_pattern, methods in responders.items():
        app.add_route(route_pattern, type("Resource", (), methods)())
    return app


app = make_app()
