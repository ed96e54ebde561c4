"""The apps of `test_bench_app.py`: bare, a raw ASGI floor and the peers, on one route table.

Every app registers the same routes, listed by `routes()`: `GET /plaintext` and
`GET /json` first, then the 203 routes of `data/github.json` in their order, so 205 in all
(the table's own `GET /users/{user}` is the one-parameter route). Each route answers as
its `Kind` says, with the same status, content type and body in every app:

- `PLAINTEXT`: 200 "Hello, World!" as text/plain;
- `JSON`: 200 {"message":"Hello, World!"} as compact application/json;
- `HELLO` (`GET /users/{user}`): 200 "Hello, {user}" as text/plain;
- `PAIR` (`GET /repos/{owner}/{repo}/stats/punch_card`, the last GET of the table with
  exactly two parameters whose names are `owner` and `repo`): 200 "{owner}/{repo}";
- `TRIVIAL` (every other route of the table): 200 "ok" as text/plain.

Each module of this package has `make_app()`, which returns the ASGI callable; the
benchmark drives its lifespan itself. The modules import their framework when imported,
so only the frameworks in use are loaded.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path

__all__ = [
    "HELLO_PATTERN",
    "JSON_BODY",
    "JSON_DATA",
    "NOT_FOUND_BODY",
    "PAIR_PATTERN",
    "PLAINTEXT",
    "TABLE",
    "TEXT_TYPE",
    "TRIVIAL",
    "Kind",
    "routes",
]

DATA = Path(__file__).resolve().parent.parent / "data"
TABLE: list[tuple[str, str]] = [
    (method, pattern) for method, pattern in json.loads((DATA / "github.json").read_text())
]

PLAINTEXT = "Hello, World!"
JSON_DATA = {"message": "Hello, World!"}
JSON_BODY = b'{"message":"Hello, World!"}'
TRIVIAL = "ok"
TEXT_TYPE = "text/plain; charset=utf-8"
NOT_FOUND_BODY = b'{"detail":"Not Found"}'  # bare's 404 body, which the floor copies

HELLO_PATTERN = "/users/{user}"
PAIR_PATTERN = "/repos/{owner}/{repo}/stats/punch_card"


class Kind(enum.Enum):
    """What a route answers (see the module doc)."""

    PLAINTEXT = "plaintext"
    JSON = "json"
    HELLO = "hello"
    PAIR = "pair"
    TRIVIAL = "trivial"


def routes() -> list[tuple[str, str, Kind]]:
    """`(method, pattern, kind)` of every route, in registration order."""
    special = {("GET", HELLO_PATTERN): Kind.HELLO, ("GET", PAIR_PATTERN): Kind.PAIR}
    assert all(route in TABLE for route in special), "the GitHub table changed"
    table = [(m, p, special.get((m, p), Kind.TRIVIAL)) for m, p in TABLE]
    return [("GET", "/plaintext", Kind.PLAINTEXT), ("GET", "/json", Kind.JSON), *table]
