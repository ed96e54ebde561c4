"""Falcon (ASGI), as its docs show: one resource per URI template with an `on_<method>`
responder per method, text in `resp.text`, JSON in `resp.media`.

Falcon's JSON handler writes `{"message": "Hello, World!"}` (with spaces) by default; this
app gives it the compact separators the other apps use, through Falcon's documented
per-app media handler option.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import falcon
import falcon.asgi
import falcon.media

from . import JSON_DATA, PLAINTEXT, TRIVIAL, Kind, routes

__all__ = ["make_app"]

Request = falcon.asgi.Request
Response = falcon.asgi.Response


async def plaintext(self: Any, req: Request, resp: Response) -> None:
    resp.content_type = falcon.MEDIA_TEXT
    resp.text = PLAINTEXT


async def json_message(self: Any, req: Request, resp: Response) -> None:
    resp.media = JSON_DATA


async def hello(self: Any, req: Request, resp: Response, user: str) -> None:
    resp.content_type = falcon.MEDIA_TEXT
    resp.text = f"Hello, {user}"


async def pair(self: Any, req: Request, resp: Response, owner: str, repo: str) -> None:
    resp.content_type = falcon.MEDIA_TEXT
    resp.text = f"{owner}/{repo}"


async def trivial(self: Any, req: Request, resp: Response, **params: str) -> None:
    resp.content_type = falcon.MEDIA_TEXT
    resp.text = TRIVIAL


RESPONDERS: dict[Kind, Callable[..., Any]] = {
    Kind.PLAINTEXT: plaintext,
    Kind.JSON: json_message,
    Kind.HELLO: hello,
    Kind.PAIR: pair,
    Kind.TRIVIAL: trivial,
}


def make_app() -> falcon.asgi.App[Any, Any]:
    app = falcon.asgi.App()
    compact = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = falcon.media.JSONHandler(dumps=compact)
    responders: dict[str, dict[str, Callable[..., Any]]] = {}
    for method, pattern, kind in routes():
        responders.setdefault(pattern, {})[f"on_{method.lower()}"] = RESPONDERS[kind]
    for pattern, methods in responders.items():
        resource = type("Resource", (), methods)()
        app.add_route(pattern, resource)
    return app
