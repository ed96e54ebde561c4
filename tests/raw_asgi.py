"""Pieces of bare-minimum ASGI apps for the middleware tests (no framework at all)."""

from __future__ import annotations

from bare.types import Receive, Scope, Send


async def serve_other_scopes(scope: Scope, receive: Receive, send: Send) -> None:
    """What a raw test app does with a scope that is not HTTP: complete the lifespan's
    startup and shutdown, or accept a WebSocket, send "ws ok" and close it."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].rpartition(".")[2]
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "ws ok"})
        await send({"type": "websocket.close", "code": 1000})
