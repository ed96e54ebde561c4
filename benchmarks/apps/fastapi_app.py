"""FastAPI, as its docs show: typed path parameters, a dict returned for JSON (validated
and encoded by FastAPI), and text returned as a `PlainTextResponse`, which FastAPI sends
as it is. The docs and OpenAPI routes are switched off, so the table is the same 205
routes as everywhere else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from . import JSON_DATA, PLAINTEXT, TRIVIAL, Kind, routes

__all__ = ["make_app"]


async def plaintext() -> PlainTextResponse:
    return PlainTextResponse(PLAINTEXT)


async def json() -> dict[str, str]:
    return JSON_DATA


async def hello(user: str) -> PlainTextResponse:
    return PlainTextResponse(f"Hello, {user}")


async def pair(owner: str, repo: str) -> PlainTextResponse:
    return PlainTextResponse(f"{owner}/{repo}")


async def trivial() -> PlainTextResponse:
    return PlainTextResponse(TRIVIAL)


HANDLERS: dict[Kind, Callable[..., Any]] = {
    Kind.PLAINTEXT: plaintext,
    Kind.JSON: json,
    Kind.HELLO: hello,
    Kind.PAIR: pair,
    Kind.TRIVIAL: trivial,
}


def make_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    for method, pattern, kind in routes():
        app.add_api_route(pattern, HANDLERS[kind], methods=[method])
    return app
