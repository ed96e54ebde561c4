"""A bare app reading forms, for tests/test_forms_live.py, on a real uvicorn.

- `POST /upload`: a body limit of 64 MiB and files on disk past 64 KiB; answers, for
  each part, a field's value or a file's name, size, SHA-256 and whether it went to
  disk (the file is read back in pieces with `await upload.read(...)`).
- `POST /small`: the default limits; answers the number of parts.
- `GET /state?finished=N&received=M`: waits until N requests to `/upload` have ended
  (their route callable returned, files closed) and M bytes of their bodies have been
  handed to the app, then answers those counts and the number of temporary files the
  server process holds open.

The app is wrapped in `Watch`, the plain ASGI layer that does the counting.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import Callable
from typing import Any

from bare import Bare, Request
from bare.forms import FormLimits
from bare.types import Message, Receive, Scope, Send

bare_app = Bare()


@bare_app.post(
    "/upload", max_body_size=64 * 1024 * 1024, form_limits=FormLimits(spool_max_size=65536)
)
async def upload(request: Request) -> Any:
    form = await request.form()
    answer: list[Any] = []
    for name, value in form.multi_items():
        if isinstance(value, str):
            answer.append([name, value])
            continue
        digest = hashlib.sha256()
        while piece := await value.read(65536):
            digest.update(piece)
        answer.append(
            [name, value.filename, value.size, digest.hexdigest(), not value._in_memory()]
        )
    return answer


@bare_app.post("/small")
async def small(request: Request) -> int:
    return len((await request.form()).multi_items())


def temp_files() -> int:
    """How many files under the temporary directory this process holds open."""
    root = tempfile.gettempdir()
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed in between
            continue
        count += target.startswith(root)
    return count


@bare_app.get("/state")
async def state(request: Request) -> dict[str, int]:
    finished = int(request.query("finished", "0"))
    received = int(request.query("received", "0"))
    await app.wait(lambda: app.finished >= finished and app.received >= received)
    return {"finished": app.finished, "received": app.received, "temp_files": temp_files()}


class Watch:
    """Counts the `/upload` requests that ended and the body bytes they received."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.finished = 0
        self.received = 0
        self.waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    async def wait(self, ready: Callable[[], bool]) -> None:
        if not ready():
            future = asyncio.get_running_loop().create_future()
            self.waiters.append((ready, future))
            await future

    def changed(self) -> None:
        for waiter in list(self.waiters):
            ready, future = waiter
            if ready():
                self.waiters.remove(waiter)
                if not future.done():
                    future.set_result(None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/upload":
            await self.inner(scope, receive, send)
            return

        async def counting() -> Message:
            message = await receive()
            self.received += len(message.get("body", b""))
            self.changed()
            return message

        try:
            await self.inner(scope, counting, send)
        finally:
            self.finished += 1
            self.changed()


app = Watch(bare_app)
