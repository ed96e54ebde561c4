"""An app for the real-server tests of rooms, WebSocket limits and shutdown.

Configured by the environment, so that two processes can share one Redis:

- `BARE_BROADCAST_URL`: the broadcast ("memory://" by default);
- `ROOMS_MAX_QUEUE`: the broadcast's `max_queue` (64);
- `ROOMS_CLOSE_TIMEOUT`: `close_on_signals`' timeout, in seconds (5).

Routes:

- `WS /chat/{room}`: joins the room, says `{"joined": room, "pid": ...}`, then sends
  every message it receives to the room;
- `WS /push`: accepts and never reads again, as a server-push handler might;
- `WS /limited`: echoes, with small limits (1 KiB messages, 3 at once then one a
  day: the 4th message of a burst is one too many);
- `WS /idle`: echoes, closing after 0.5 s without a message;
- `POST /send/{room}/{n}/{size}`: sends `n` (six digits) padded to `size` bytes;
- `GET /members/{room}`: how many members the room has in this process;
- `GET /pid`: the process id.
"""

from __future__ import annotations

import asyncio
import functools
import os

from bare import Bare, Request, WebSocket
from bare.broadcast import Broadcast, Rooms
from bare.responses import PlainTextResponse
from bare.shutdown import close_on_signals, restore_signals

broadcast = Broadcast(
    os.environ.get("BARE_BROADCAST_URL", "memory://"),
    max_queue=int(os.environ.get("ROOMS_MAX_QUEUE", "64")),
)
rooms = Rooms(broadcast, close_timeout=30)
closing = functools.partial(
    close_on_signals, timeout=float(os.environ.get("ROOMS_CLOSE_TIMEOUT", "5"))
)
app = Bare(
    lifespan=broadcast.lifespan,
    on_startup=[closing],
    on_shutdown=[restore_signals],
    openapi_url=None,
    docs_url=None,
)


@app.websocket("/chat/{room}")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    name = websocket.path_params["room"]
    async with rooms.join(name, websocket) as room:
        await websocket.send_json({"joined": name, "pid": os.getpid()})
        async for message in websocket:
            await room.send(message)


@app.websocket("/push")
async def push(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello")
    await asyncio.Event().wait()  # never reads: only close_all() ends it


@app.websocket("/limited", max_message_size=1024, message_rate=1 / 86400, message_burst=3)
async def limited(websocket: WebSocket) -> None:
    await websocket.accept()
    async for message in websocket:
        await websocket.send_text(f"echo {len(message)}")


@app.websocket("/idle", idle_timeout=0.5)
async def idle(websocket: WebSocket) -> None:
    await websocket.accept()
    async for message in websocket:
        await websocket.send_text(f"echo {message!s}")


@app.post("/send/{room}/{n:int}/{size:int}")
async def send(request: Request) -> PlainTextResponse:
    params = request.path_params
    text = f"{params['n']:06d}".ljust(params["size"], ".")
    await rooms.send(params["room"], text)
    return PlainTextResponse("sent")


@app.get("/members/{room}")
async def members(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(len(rooms.members(request.path_params["room"]))))


@app.get("/pid")
async def pid(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(os.getpid()))
