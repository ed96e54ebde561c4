"""Litestar, as its docs show: typed handlers with `{user:int}` path parameters, the
query parameter and the Authorization header declared with `Parameter`, a msgspec Struct
as `data`, the file as an `UploadFile` of a multipart body, and `Response` where a
header is set. Routes are declared with `status_code=200` (Litestar's POST and DELETE
otherwise answer 201 and 204) and the GitHub table's patterns are adapted as in
`benchmarks/apps/litestar_app.py`; the OpenAPI routes are switched off, so the route
table is the same as everywhere else."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from litestar import HttpMethod, Litestar, MediaType, Response, get, post, put, route
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException
from litestar.params import Body, Parameter

try:  # recent Litestar 2, which deprecates the older spellings in the `except` branch
    from litestar.params import FromPath, HeaderParameter, QueryParameter

    PathInt: Any = FromPath[int]
    QUERY: Any = QueryParameter(name="query")
    AUTHORIZATION: Any = HeaderParameter(name="authorization")
except ImportError:
    PathInt = int
    QUERY = Parameter(query="query")
    AUTHORIZATION = Parameter(header="authorization")

from benchmarks.apps.litestar_app import PathStr, _litestar_pattern, trivial
from benchmarks.compare.scenarios import HELLO, HTML_PAGE, ROUTE_TABLE, upload_path

__all__ = ["app"]

UPLOAD_PATH = upload_path()


class Record(msgspec.Struct):
    name: str
    email: str
    age: int
    active: bool
    score: float
    tags: list[str]


@get("/", media_type=MediaType.TEXT)
async def hello() -> str:
    return HELLO


@get("/html")
async def html() -> Response[str]:
    return Response(HTML_PAGE, media_type=MediaType.HTML, headers={"x-time": repr(time.time())})


@put("/api/users/{user:int}/records/{record:int}", status_code=200)
async def api(
    user: PathInt,
    record: PathInt,
    data: Annotated[Record, Body()],
    search: Annotated[str, QUERY] = "",
    authorization: Annotated[str | None, AUTHORIZATION] = None,
) -> dict[str, Any]:
    if authorization is None:
        raise NotAuthorizedException()
    return {"user": user, "record": record, "query": search, "body": data}


@post("/upload", status_code=200)
async def upload(
    data: Annotated[UploadFile, Body(media_type=RequestEncodingType.MULTI_PART)],
) -> dict[str, Any]:
    content = await data.read()
    with open(UPLOAD_PATH, "wb") as out:
        out.write(content)
    return {"name": UPLOAD_PATH.name, "size": len(content)}


async def late(id: PathStr) -> str:
    return f"key {id}"


def make_app() -> Litestar:
    handlers: list[Any] = [hello, html, api, upload]
    *table, (method, pattern) = ROUTE_TABLE
    entries: list[tuple[str, str, Callable[..., Any]]] = [(m, p, trivial) for m, p in table]
    entries.append((method, pattern, late))
    for route_method, route_pattern, handler in entries:
        decorator = route(
            _litestar_pattern(route_pattern),
            http_method=[HttpMethod(route_method)],
            status_code=200,
            media_type=MediaType.TEXT,
        )
        handlers.append(decorator(handler))
    return Litestar(route_handlers=handlers, openapi_config=None)


app = make_app()
