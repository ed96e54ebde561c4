"""What middleware cost: a plain-text request through bare with none, with each alone, and
with a realistic stack, next to the raw ASGI floor and Starlette with the same stack.

Every app answers `GET /plaintext` with "Hello, World!" and is driven in process as in
`test_bench_app.py` (see `_driver.py`). Every request carries an `Origin` that CORS
allows and a valid session cookie of the app's framework (made by a first request to
`/login`), so CORS answers a simple request and the session middleware loads a session
that the handler reads and leaves unchanged. The body is below the compression minimum.

`python benchmarks/middleware_report.py` runs this module and prints, per app, the
median time per request and what each middleware adds, as a share of the floor.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest

from _driver import SCOPE, Call, Client
from apps import PLAINTEXT, raw, stacks

CALLS = 200
GROUP = "middleware-plaintext"

# name -> (how to build the app, its framework's session-making app or None)
APPS: dict[str, Callable[[], Any]] = {
    "floor": raw.make_app,
    # What any ASGI layer costs: a middleware that does nothing, around the floor.
    "floor+pass_through": lambda: stacks.PassThrough(raw.make_app()),
    "bare": lambda: stacks.make_bare(()),
    **{
        f"bare+{name}": (lambda name=name: stacks.make_bare((name,)))
        for name in stacks.BARE_MIDDLEWARE
    },
    "bare+stack": lambda: stacks.make_bare(stacks.STACK),
    "starlette": lambda: stacks.make_starlette(()),
    "starlette+stack": lambda: stacks.make_starlette(stacks.STACK),
}

REQUEST: Call = ("/plaintext", b"/plaintext", 200, PLAINTEXT.encode())


def _template(cookie: str) -> dict[str, Any]:
    headers = [*SCOPE["headers"], (b"origin", stacks.ORIGIN.encode())]
    if cookie:
        headers.append((b"cookie", cookie.encode("latin-1")))
    return {**SCOPE, "headers": headers}


def _session_cookie(serve: Callable[..., Client], framework: str) -> str:
    """A session cookie holding a user, made by the framework's own session middleware."""
    make = stacks.make_bare if framework == "bare" else stacks.make_starlette
    client = serve(f"{framework}-login", lambda: make(("sessions",)))
    status, _, headers = client.probe(("/login", b"/login", 200, None))
    assert status == 200, status
    return headers["set-cookie"].split(";", 1)[0]


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize("name", list(APPS))
def test_middleware(benchmark: Any, serve: Callable[..., Client], name: str) -> None:
    if name.startswith("starlette"):
        pytest.importorskip("starlette")
    framework = name.split("+")[0]
    cookie = "" if framework == "floor" else _session_cookie(serve, framework)
    client = serve(name, APPS[name], _template(cookie))
    status, body, headers = client.probe(REQUEST)
    assert (status, body) == (200, PLAINTEXT.encode())
    if name.endswith(("+cors", "+stack")):
        assert headers["access-control-allow-origin"] == stacks.ORIGIN, headers
    if name.endswith(("+request_id", "+stack")):
        assert len(headers["x-request-id"]) >= 16, headers
    assert "set-cookie" not in headers, headers  # the session stays unchanged
    benchmark.extra_info.update(app=name, calls=CALLS)
    rounds = itertools.cycle([[REQUEST] * CALLS]).__next__
    benchmark(lambda: client.run(rounds()))


# -- compression throughput ---------------------------------------------------------------

ITEMS = [{"id": i, "name": f"item {i}", "tags": ["a", "b"], "price": i * 1.25} for i in range(1420)]
BIG_JSON = json.dumps(ITEMS).encode()  # about 100 KB
COMPRESSED: Call = ("/big", b"/big", 200, None)


@pytest.mark.benchmark(group="middleware-compression-100KB")
@pytest.mark.parametrize("coding", ["identity", "gzip", "br", "zstd"])
def test_compression(benchmark: Any, serve: Callable[..., Client], coding: str) -> None:
    """A 100 KB JSON body through CompressionMiddleware, per encoding (identity: none)."""
    from bare import Bare, Request, Response
    from bare.middleware.compression import CompressionMiddleware

    def make() -> Any:
        app = Bare()

        @app.get("/big")
        async def big(request: Request) -> Response:
            return Response(BIG_JSON, content_type="application/json")

        app.add_middleware(CompressionMiddleware)
        return app

    headers = [(n, v) for n, v in SCOPE["headers"] if n != b"accept-encoding"]
    template = {**SCOPE, "headers": [*headers, (b"accept-encoding", coding.encode())]}
    client = serve(f"compression-{coding}", make, template)
    status, body, response_headers = client.probe(COMPRESSED)
    assert status == 200
    if coding == "identity":
        assert body == BIG_JSON and "content-encoding" not in response_headers
    else:
        assert response_headers["content-encoding"] == coding and len(body) < len(BIG_JSON) // 4
    benchmark.extra_info.update(app=f"compression-{coding}", calls=20, size=len(BIG_JSON))
    benchmark(lambda: client.run([COMPRESSED] * 20))
