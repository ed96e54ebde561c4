"""bare with a typed api handler, as docs/typed.md shows: path parameters as ints, the
query parameter, the Authorization header and a msgspec Struct body declared in the
signature. The rest of the app is `bare_app`'s, so the route table is the same."""

from __future__ import annotations

from typing import Any

import msgspec
from benchmarks.compare.apps.bare_app import make_app

from bare import Bare, Header, HTTPException

__all__ = ["Record", "app"]


class Record(msgspec.Struct):
    name: str
    email: str
    age: int
    active: bool
    score: float
    tags: list[str]


async def api(
    user: int,
    record: int,
    body: Record,
    query: str = "",
    authorization: str | None = Header(None),
) -> dict[str, Any]:
    if authorization is None:
        raise HTTPException(401)
    return {"user": user, "record": record, "query": query, "body": body}


app: Bare = make_app(api)
