"""Starlette, as its docs show: `Route`s of `endpoint(request) -> Response`."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from . import JSON_DATA, PLAINTEXT, TRIVIAL, Kind, routes

__all__ = ["make_app"]


async def plaintext(request: Request) -> Response:
    return PlainTextResponse(PLAINTEXT)


async def json(request: Request) -> Response:
    return JSONResponse(JSON_DATA)


async def hello(request: Request) -> Response:
    return PlainTextResponse(f"Hello, {request.path_params['user']}")


async def pair(request: Request) -> Response:
    params = request.path_params
    return PlainTextResponse(f"{params['owner']}/{params['repo']}")


async def trivial(request: Request) -> Response:
    return PlainTextResponse(TRIVIAL)


HANDLERS = {
    Kind.PLAINTEXT: plaintext,
    Kind.JSON: json,
    Kind.HELLO: hello,
    Kind.PAIR: pair,
    Kind.TRIVIAL: trivial,
}


def make_app() -> Starlette:
    table = [Route(pattern, HANDLERS[kind], methods=[method]) for method, pattern, kind in routes()]
    return Starlette(routes=table)
