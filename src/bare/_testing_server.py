"""The server half of the test client: the portal loop, the lifespan and one HTTP exchange."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from ._errors import SERVER_EXCEPTION_KEY
from ._testing_http import Body, raw_headers
from .types import ASGIApp, Message, Scope

__all__ = ["Lifespan", "LifespanError", "Portal", "run_http"]

P = ParamSpec("P")
T = TypeVar("T")

_ERROR_BODY = b"Internal Server Error"
_ERROR_HEADERS = (
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", str(len(_ERROR_BODY)).encode("ascii")),
)


class LifespanError(RuntimeError):
    """The app answered `lifespan.startup.failed` or `lifespan.shutdown.failed`."""


class Portal:
    """An event loop on a background thread, for sync code to run coroutines on.

    `with Portal() as portal: portal.call(func, *args)` runs `await func(*args)` on the
    loop and returns its result (or raises its exception) in the calling thread. The
    loop is an `asyncio.run()` loop: leaving the block cancels what is still running,
    shuts the default executor down and closes the loop.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Portal:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="bare-testclient", daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._loop is None:  # pragma: no cover - asyncio.run() failed to start
            raise RuntimeError("the test client's event loop did not start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join()
        self._loop = self._stop = self._thread = None

    def call(
        self, func: Callable[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run `await func(*args, **kwargs)` on the portal's loop and wait for it."""
        if self._loop is None:
            raise RuntimeError("the portal is not running: use it with `with`")
        future = asyncio.run_coroutine_threadsafe(func(*args, **kwargs), self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # e.g. Ctrl-C in the test: stop the coroutine too
            raise

    def _run(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self._serve(ready))
        finally:
            ready.set()

    async def _serve(self, ready: threading.Event) -> None:
        self._stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        ready.set()
        await self._stop.wait()


class Lifespan:
    """The server half of the ASGI lifespan protocol, with the lifespan state extension.

    `state` is the dict the app sees as `scope["state"]` during the lifespan; requests
    get a shallow copy of it.
    """

    def __init__(self, app: ASGIApp, raise_server_exceptions: bool) -> None:
        self.state: dict[str, Any] = {}
        self._app = app
        self._raise = raise_server_exceptions
        self._error: Exception | None = None
        self._task: asyncio.Task[None] | None = None
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message | None] = asyncio.Queue()  # None: app returned

    async def startup(self) -> bool:
        """Start the app; False if it does not speak lifespan (it raised or returned)."""
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        scope["state"] = self.state
        self._task = asyncio.create_task(self._run(scope))
        self._to_app.put_nowait({"type": "lifespan.startup"})
        message = await self._from_app.get()
        if message is None:
            return False  # as servers do: carry on without lifespan events
        if message["type"] == "lifespan.startup.failed":
            await self._wait()
            raise LifespanError(message.get("message") or "lifespan startup failed")
        if message["type"] != "lifespan.startup.complete":
            await self._wait(timeout=0)
            raise RuntimeError(f"unexpected ASGI message {message['type']!r} during startup")
        return True

    async def shutdown(self) -> None:
        """Ask the app to shut down; raise if it fails or raised since startup."""
        self._to_app.put_nowait({"type": "lifespan.shutdown"})
        message = await self._from_app.get()
        await self._wait()
        if self._error is not None and self._raise:
            raise self._error
        if message is not None and message["type"] == "lifespan.shutdown.failed":
            raise LifespanError(message.get("message") or "lifespan shutdown failed")

    async def _run(self, scope: Scope) -> None:
        try:
            await self._app(scope, self._to_app.get, self._send)
        except Exception as exc:
            self._error = exc
        finally:
            self._from_app.put_nowait(None)

    async def _send(self, message: Message) -> None:
        self._from_app.put_nowait(message)

    async def _wait(self, timeout: float = 5.0) -> None:
        assert self._task is not None
        await asyncio.wait({self._task}, timeout=timeout)
        if not self._task.done():  # an app that will not return after shutdown
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def run_http(
    app: ASGIApp, scope: Scope, body: Body, raise_server_exceptions: bool
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Call `app` with one request, as a server would; return status, headers and body.

    A list `body` is sent in chunks (`more_body=True` until the last). After the body,
    `receive()` waits until the response is complete and then says `http.disconnect`.
    Messages out of order raise `RuntimeError` in the app, as a strict server would.
    """
    chunks = body if isinstance(body, list) else [body]
    incoming: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks or [b""])
    ]
    complete = asyncio.Event()
    start: Message | None = None
    content = bytearray()

    async def receive() -> Message:
        if incoming:
            return incoming.pop(0)
        await complete.wait()  # as a server does: nothing more until the client leaves
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal start
        kind = message["type"]
        if complete.is_set():
            raise RuntimeError(f"the app sent {kind!r} after the response was complete")
        if kind == "http.response.start" and start is None:
            start = message
        elif kind == "http.response.body" and start is not None:
            chunk = message.get("body", b"")
            if not isinstance(chunk, bytes):
                raise TypeError(f"http.response.body needs bytes, not {type(chunk).__name__}")
            content.extend(chunk)
            if not message.get("more_body", False):
                complete.set()
        else:
            started = "after" if start is not None else "before"
            raise RuntimeError(f"unexpected ASGI message {kind!r} {started} http.response.start")

    try:
        await app(scope, receive, send)
        if raise_server_exceptions and scope.get(SERVER_EXCEPTION_KEY) is not None:
            # bare answered 500 and kept the exception: the test should see it.
            raise scope[SERVER_EXCEPTION_KEY]
        if not complete.is_set():
            raise RuntimeError("the app returned without completing its response")
    except Exception:
        complete.set()
        if raise_server_exceptions:
            raise
        if start is None:  # nothing sent yet: answer as a server would
            return 500, list(_ERROR_HEADERS), _ERROR_BODY
    complete.set()
    assert start is not None
    payload = b"" if scope["method"] == "HEAD" else bytes(content)
    return start["status"], raw_headers(start.get("headers")), payload
