"""Apps for the real-server CORS tests: a bare app with `CORSMiddleware`, and the same
middleware around a raw ASGI app that crashes before it starts its response."""

from __future__ import annotations

from bare import Bare, Request
from bare.middleware.cors import CORSMiddleware
from bare.types import Receive, Scope, Send

ORIGIN = "https://good.example"

app = Bare()
app.add_middleware(
    CORSMiddleware,
    allow_origins=[ORIGIN],
    allow_methods=["GET", "POST", "PUT"],
    allow_headers=["x-token", "content-type"],
    allow_credentials=True,
    expose_headers=["x-total"],
)


@app.get("/hello")
async def hello(request: Request) -> dict[str, str]:
    return {"hello": "world"}


@app.put("/crash")
async def crash(request: Request) -> None:
    raise RuntimeError("the handler crashed")


async def crashing(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].rpartition(".")[2]  # startup / shutdown
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    raise RuntimeError("the raw app crashed")


raw_app = CORSMiddleware(crashing, allow_origins=[ORIGIN])
