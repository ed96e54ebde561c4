"""bare, written as its docs show: `handler(request) -> value`, a str answered as text and
a dict as JSON."""

from __future__ import annotations

from typing import Any

from bare import Bare, Request

from . import JSON_DATA, PLAINTEXT, TRIVIAL, Kind, routes

__all__ = ["make_app"]


async def plaintext(request: Request) -> str:
    return PLAINTEXT


async def json(request: Request) -> dict[str, str]:
    return JSON_DATA


async def hello(request: Request) -> str:
    return f"Hello, {request.path_params['user']}"


async def pair(request: Request) -> str:
    params = request.path_params
    return f"{params['owner']}/{params['repo']}"


async def trivial(request: Request) -> str:
    return TRIVIAL


HANDLERS = {
    Kind.PLAINTEXT: plaintext,
    Kind.JSON: json,
    Kind.HELLO: hello,
    Kind.PAIR: pair,
    Kind.TRIVIAL: trivial,
}


def make_app(matcher_class: Any = None) -> Bare:
    """The app; `matcher_class` replaces the selected matcher (compiled or pure) if given."""
    app = Bare()
    if matcher_class is not None:
        app.router._matcher_class = matcher_class  # before the matcher is first built
    for method, pattern, kind in routes():
        app.add_route(pattern, HANDLERS[kind], [method])
    return app
