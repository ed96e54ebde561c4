"""Litestar, as its docs show: typed path parameters (`{user:str}` in the path,
`FromPath[str]` in the handler), a str returned with the text media type and a dict
returned for JSON (encoded by msgspec).

Three adjustments, none of which changes what is matched: routes are declared with
`route(..., status_code=200)`, since Litestar's POST and DELETE handlers otherwise answer
201 and 204; the table's `{state}` parameter is renamed, since Litestar reserves that
name; and the OpenAPI routes are switched off, so the table is the same 205 routes as
everywhere else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from litestar import HttpMethod, Litestar, MediaType, route

from . import JSON_DATA, PLAINTEXT, TRIVIAL, Kind, routes

__all__ = ["make_app"]

try:
    from litestar.params import FromPath

    PathStr: Any = FromPath[str]
except ImportError:  # Litestar before FromPath, where a plain annotation was the style
    PathStr = str


async def plaintext() -> str:
    return PLAINTEXT


async def json() -> dict[str, str]:
    return JSON_DATA


async def hello(user: PathStr) -> str:
    return f"Hello, {user}"


async def pair(owner: PathStr, repo: PathStr) -> str:
    return f"{owner}/{repo}"


async def trivial() -> str:
    return TRIVIAL


HANDLERS: dict[Kind, Callable[..., Any]] = {
    Kind.PLAINTEXT: plaintext,
    Kind.JSON: json,
    Kind.HELLO: hello,
    Kind.PAIR: pair,
    Kind.TRIVIAL: trivial,
}

_PARAM = re.compile(r"\{(\w+)\}")
_RESERVED = {"state": "state_"}  # path parameter names Litestar refuses


def _litestar_pattern(pattern: str) -> str:
    return _PARAM.sub(lambda m: f"{{{_RESERVED.get(m[1], m[1])}:str}}", pattern)


def make_app() -> Litestar:
    handlers = []
    for method, pattern, kind in routes():
        media_type = MediaType.JSON if kind is Kind.JSON else MediaType.TEXT
        decorator = route(
            _litestar_pattern(pattern),
            http_method=[HttpMethod(method)],
            status_code=200,
            media_type=media_type,
        )
        handlers.append(decorator(HANDLERS[kind]))
    return Litestar(route_handlers=handlers, openapi_config=None)
