"""BlackSheep, as its docs show: handlers bound by parameter name, answering with
`text()` and `json()`. A router of its own, so no global default router is touched."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from blacksheep import Application, Response, Router, json, text

from . import JSON_DATA, PLAINTEXT, TRIVIAL, Kind, routes

__all__ = ["make_app"]


async def plaintext() -> Response:
    return text(PLAINTEXT)


async def json_message() -> Response:
    return json(JSON_DATA)


async def hello(user: str) -> Response:
    return text(f"Hello, {user}")


async def pair(owner: str, repo: str) -> Response:
    return text(f"{owner}/{repo}")


async def trivial() -> Response:
    return text(TRIVIAL)


HANDLERS: dict[Kind, Callable[..., Any]] = {
    Kind.PLAINTEXT: plaintext,
    Kind.JSON: json_message,
    Kind.HELLO: hello,
    Kind.PAIR: pair,
    Kind.TRIVIAL: trivial,
}


def make_app() -> Application:
    router = Router()
    for method, pattern, kind in routes():
        router.add(method, pattern, HANDLERS[kind])
    return Application(router=router)
