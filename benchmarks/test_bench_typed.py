"""Typed handlers: bare against FastAPI and Litestar on the same endpoints, in process.

Each group is one endpoint, written for each framework as its docs show:

- `plain`: `GET /plain`, a plain bare handler (`async def h(request)`) answering a
  short text; the reference for what a route costs when nothing is typed.
- `params`: `GET /users/{user_id}/posts/{post_id}?limit=N`, two int path parameters
  and one int query parameter (with a bound), answered as JSON. bare runs it typed
  (`bare-typed`) and as a plain handler that parses the same values by hand
  (`bare-by-hand`): the cost of the typing itself.
- `body-small` and `body-10KiB`: `POST /orders`, a JSON body decoded into a model
  (msgspec Structs for bare and Litestar, pydantic models for FastAPI), answered with
  two of its values as JSON.
- `deps`: `GET /deps`, a handler with two dependencies, one of them an async
  generator (its cleanup runs after the response), answered as JSON.

Every app is driven as a server would (see `_driver.py`): one event loop, a fresh scope
per request with six realistic headers, the body in one `http.request` message, and
every answer checked (status and body) as it arrives. A round sends `CALLS` requests:
divide the figures by `CALLS` for one request. Path and query values change from one
request to the next over `POOL` requests, so no framework answers from a cache.

    taskset -c 1 python -m pytest benchmarks/test_bench_typed.py --benchmark-only
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import pytest

from _driver import SCOPE, Client, Message, outcome
from bare import Bare, Depends, HTTPException, Query, Request

CALLS = 100  # requests per round
POOL = 8 * CALLS

msgspec = pytest.importorskip("msgspec")


# -- the requests -------------------------------------------------------------------------

# One request: method, path, query string, body, expected body.
Sent = tuple[str, str, bytes, bytes, bytes]


def _order(lines: int) -> dict[str, Any]:
    return {
        "id": 7,
        "customer": "ada@example.com",
        "lines": [
            {"sku": f"SKU-{i:06d}", "quantity": 1 + i % 5, "price": 9.99 + i} for i in range(lines)
        ],
        "note": "leave at the door",
    }


SMALL = json.dumps(_order(2)).encode()
LARGE = json.dumps(_order(180)).encode()
assert len(SMALL) < 300 and 10_000 <= len(LARGE) <= 11_000, (len(SMALL), len(LARGE))


def _params_requests() -> list[Sent]:
    requests = []
    for k in range(POOL):
        user, post, limit = k + 1, 1000 + k, 1 + k % 50
        answer = b'{"user":%d,"post":%d,"limit":%d}' % (user, post, limit)
        requests.append(("GET", f"/users/{user}/posts/{post}", b"limit=%d" % limit, b"", answer))
    return requests


def _body_requests(body: bytes) -> list[Sent]:
    lines = len(json.loads(body)["lines"])
    answer = b'{"id":7,"lines":%d}' % lines
    return [("POST", "/orders", b"", body, answer)] * POOL


CASES: dict[str, list[Sent]] = {
    "plain": [("GET", "/plain", b"", b"", b"Hello, World!")] * POOL,
    "params": _params_requests(),
    "body-small": _body_requests(SMALL),
    "body-10KiB": _body_requests(LARGE),
    "deps": [("GET", "/deps", b"", b"", b'{"session":"open","user":"ada"}')] * POOL,
}


# -- bare ---------------------------------------------------------------------------------


class Line(msgspec.Struct):
    sku: str
    quantity: int
    price: float


class Order(msgspec.Struct):
    id: int
    customer: str
    lines: list[Line]
    note: str = ""


class Session:
    """What a database session dependency hands out."""

    state = "open"

    def close(self) -> None:
        self.state = "closed"


async def session_dependency() -> Any:
    session = Session()
    try:
        yield session
    finally:
        session.close()


async def user_dependency() -> str:
    return "ada"


def make_bare(typed: bool) -> Any:
    app = Bare(openapi_url=None, docs_url=None) if _bare_has_docs() else Bare()

    @app.get("/plain")
    async def plain(request: Request) -> str:
        return "Hello, World!"

    if typed:

        @app.get("/users/{user_id:int}/posts/{post_id:int}")
        async def posts(user_id: int, post_id: int, limit: int = Query(10, ge=1, le=100)) -> Any:
            return {"user": user_id, "post": post_id, "limit": limit}

    else:

        @app.get("/users/{user_id:int}/posts/{post_id:int}")
        async def posts_by_hand(request: Request) -> Any:
            params = request.path_params
            raw = request.query("limit", "10")
            if not (raw.isascii() and raw.isdigit() and len(raw) < 4) or not 1 <= int(raw) <= 100:
                raise HTTPException(422, "limit must be an int from 1 to 100")
            return {"user": params["user_id"], "post": params["post_id"], "limit": int(raw)}

    @app.post("/orders")
    async def orders(order: Order) -> Any:
        return {"id": order.id, "lines": len(order.lines)}

    @app.get("/deps")
    async def deps(
        session: Session = Depends(session_dependency), user: str = Depends(user_dependency)
    ) -> Any:
        return {"session": session.state, "user": user}

    return app


def _bare_has_docs() -> bool:
    import inspect

    from bare import Bare

    return "docs_url" in inspect.signature(Bare).parameters


# -- FastAPI ------------------------------------------------------------------------------
# The models and the annotations the peers read live at module level: both frameworks
# resolve string annotations (this module uses `from __future__ import annotations`)
# in the module's namespace.

try:
    import pydantic

    class LineModel(pydantic.BaseModel):
        sku: str
        quantity: int
        price: float

    class OrderModel(pydantic.BaseModel):
        id: int
        customer: str
        lines: list[LineModel]
        note: str = ""

except ImportError:  # pragma: no cover - FastAPI's cases are skipped then
    pass

try:
    from litestar.di import NamedDependency
    from litestar.params import FromPath, JSONBody
except ImportError:  # pragma: no cover - Litestar's cases are skipped then
    pass


def make_fastapi() -> Any:
    from fastapi import Depends, FastAPI, Query
    from fastapi.responses import PlainTextResponse

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/plain", response_class=PlainTextResponse)
    async def plain() -> str:
        return "Hello, World!"

    @app.get("/users/{user_id}/posts/{post_id}")
    async def posts(user_id: int, post_id: int, limit: int = Query(10, ge=1, le=100)) -> Any:
        return {"user": user_id, "post": post_id, "limit": limit}

    @app.post("/orders")
    async def orders(order: OrderModel) -> Any:
        return {"id": order.id, "lines": len(order.lines)}

    @app.get("/deps")
    async def deps(
        session: Session = Depends(session_dependency), user: str = Depends(user_dependency)
    ) -> Any:
        return {"session": session.state, "user": user}

    return app


# -- Litestar -----------------------------------------------------------------------------


def make_litestar() -> Any:
    from litestar import Litestar, MediaType, get, post
    from litestar.di import Provide
    from litestar.params import QueryParameter

    @get("/plain", media_type=MediaType.TEXT)
    async def plain() -> str:
        return "Hello, World!"

    @get("/users/{user_id:int}/posts/{post_id:int}")
    async def posts(
        user_id: FromPath[int],
        post_id: FromPath[int],
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 10,
    ) -> dict[str, int]:
        return {"user": user_id, "post": post_id, "limit": limit}

    @post("/orders", status_code=200)
    async def orders(data: JSONBody[Order]) -> dict[str, int]:
        return {"id": data.id, "lines": len(data.lines)}

    @get(
        "/deps",
        dependencies={
            "session": Provide(session_dependency),
            "user": Provide(user_dependency),
        },
    )
    async def deps(session: NamedDependency[Session], user: NamedDependency[str]) -> dict[str, str]:
        return {"session": session.state, "user": user}

    return Litestar([plain, posts, orders, deps], openapi_config=None)


APPS: dict[str, Callable[[], Any]] = {
    "bare-typed": lambda: make_bare(typed=True),
    "bare-by-hand": lambda: make_bare(typed=False),
    "fastapi": make_fastapi,
    "litestar": make_litestar,
}
# `bare-by-hand` differs from `bare-typed` on `params` only.
PARAMS = [
    pytest.param(case, app, id=f"{case}-{app}", marks=pytest.mark.benchmark(group=f"typed-{case}"))
    for case in CASES
    for app in APPS
    if app != "bare-by-hand" or case == "params"
]


# -- the driver ---------------------------------------------------------------------------


class TypedClient(Client):
    """`Client` for requests that differ in method, query string and body."""

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(app, loop)
        self.body = b""

    async def receive(self) -> Message:
        if self.received:
            return {"type": "http.disconnect"}
        self.received = True
        return {"type": "http.request", "body": self.body, "more_body": False}

    def scope(self, request: Sent) -> Message:
        method, path, query, body, _ = request
        scope = SCOPE.copy()
        scope.update(method=method, path=path, raw_path=path.encode(), query_string=query)
        if body:
            scope["headers"] = [
                *SCOPE["headers"],
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
        return scope

    async def _send_all(self, requests: list[Sent]) -> None:
        app = self.app
        receive = self.receive
        events = self.events

        async def send(message: Message) -> None:
            events.append(message)

        for request in requests:
            scope = self.scope(request)
            self.body = request[3]
            self.received = False
            events.clear()
            await app(scope, receive, send)
            status, body, _ = outcome(events)
            assert (status, body) == (200, request[4]), (request[:2], status, body[:300])

    def send_all(self, requests: list[Sent]) -> None:
        self.loop.run_until_complete(self._send_all(requests))


@pytest.fixture(scope="module")
def clients(loop: asyncio.AbstractEventLoop) -> Iterator[Callable[[str], TypedClient]]:
    made: dict[str, TypedClient] = {}

    def get(app: str) -> TypedClient:
        if app not in made:
            client = TypedClient(APPS[app](), loop)
            client.start()
            made[app] = client
        return made[app]

    yield get
    for client in made.values():
        client.stop()


@pytest.mark.parametrize(("case", "app"), PARAMS)
def test_typed(benchmark: Any, clients: Callable[[str], TypedClient], case: str, app: str) -> None:
    framework = {"fastapi": "fastapi", "litestar": "litestar"}.get(app)
    if framework is not None:
        pytest.importorskip(framework)
    client = clients(app)
    requests = CASES[case]
    rounds = [requests[i : i + CALLS] for i in range(0, len(requests), CALLS)]
    client.send_all(rounds[0][:1])  # checked in full before timing
    benchmark.extra_info.update(app=app, case=case, calls=CALLS)
    next_round = itertools.cycle(rounds).__next__
    benchmark(lambda: client.send_all(next_round()))


def test_the_generator_dependency_is_cleaned_up_after_each_request(
    clients: Callable[[str], TypedClient],
) -> None:
    """The benchmark's `deps` endpoint does what it says: the session closes."""
    closed: list[str] = []
    original = Session.close

    def close(self: Session) -> None:
        original(self)
        closed.append(self.state)

    Session.close = close  # type: ignore[method-assign]
    try:
        clients("bare-typed").send_all(CASES["deps"][:3])
    finally:
        Session.close = original  # type: ignore[method-assign]
    assert closed == ["closed"] * 3
