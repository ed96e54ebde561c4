"""An app for the real-server tests of ProxyHeadersMiddleware and FunctionMiddleware.

Served by uvicorn with `--no-proxy-headers`, so that only the middleware reads the
proxy headers. The test client connects from 127.0.0.1:

- `/trusted/whoami`: behind a middleware that trusts 127.0.0.1 (and the forwarded host
  and prefix), `/untrusted/whoami` behind one that trusts only 10.0.0.0/8.
- `/function/stepped`: a stream through a function middleware; chunk i+1 waits for
  `/function/next/{i+1}`, so the client must have read chunk i first.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from bare import Bare, Request
from bare.middleware.function import CallNext, FunctionMiddleware
from bare.middleware.proxy_headers import ProxyHeadersMiddleware
from bare.responses import Response, StreamingResponse


def _whoami_app(trusted: list[str]) -> Bare:
    app = Bare()
    app.add_middleware(
        ProxyHeadersMiddleware, trusted_proxies=trusted, trust_host=True, trust_prefix=True
    )

    @app.get("/whoami")
    async def whoami(request: Request) -> Any:
        client = request.client
        return {
            "client": list(client) if client else None,
            "scheme": request.scope["scheme"],
            "url": str(request.url),
            "root_path": request.scope["root_path"],
        }

    return app


async def _mark(request: Request, call_next: CallNext) -> Response:
    response = await call_next(request)
    response.headers["x-function"] = "yes"
    return response


function_app = Bare()
function_app.add_middleware(FunctionMiddleware, dispatch=_mark)
_next: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)


@function_app.get("/stepped")
async def stepped(request: Request) -> StreamingResponse:
    async def chunks() -> AsyncIterator[str]:
        yield "chunk 0\n"
        for i in range(1, 3):
            await _next[str(i)].wait()
            yield f"chunk {i}\n"

    return StreamingResponse(chunks(), content_type="text/plain")


@function_app.get("/next/{i}")
async def next_chunk(request: Request) -> str:
    _next[request.path_params["i"]].set()
    return "ok"


app = Bare()
app.mount("/trusted", _whoami_app(["127.0.0.1"]))
app.mount("/untrusted", _whoami_app(["10.0.0.0/8"]))
app.mount("/function", function_app)
