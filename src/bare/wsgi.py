"""Run a WSGI app (PEP 3333), such as a Flask or Django app, inside an ASGI app.

    app.mount("/legacy", WSGIMiddleware(flask_app))

The WSGI app runs on a pool of at most `workers` threads of its own. Bodies stream in
both directions: `wsgi.input` pulls the request body from the client as the app reads
it, and each chunk the app yields is sent as it comes, with at most a few chunks in
flight, so neither body is held whole in memory. The event loop's task stays the only
caller of `receive` and `send`; the worker thread talks to it through a queue.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from queue import SimpleQueue
from types import EllipsisType, TracebackType
from typing import TYPE_CHECKING, Any

from ._paths import route_path
from .headers import check_header
from .requests import DEFAULT_MAX_BODY_SIZE
from .types import Message, Receive, Scope, Send

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

__all__ = ["RequestBodyTooLarge", "WSGIApp", "WSGIClientDisconnected", "WSGIMiddleware"]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

DEFAULT_WORKERS = 10
# Response chunks the worker thread may produce ahead of the client.
_IN_FLIGHT = 4

logger = logging.getLogger("bare.wsgi")


class WSGIClientDisconnected(OSError):
    """Raised by `wsgi.input` when the client went away before the end of its body."""


class RequestBodyTooLarge(OSError):
    """Raised by `wsgi.input` past the body limit; the client gets a 413."""


class _Stopped(Exception):
    """The request is over on the ASGI side: the worker thread stops sending."""


# Items the worker thread posts to the event loop.
_BODY, _READ, _DONE, _RECEIVED = range(4)
# Replies to a _READ besides a chunk of body (b"" is the end of the body).
_STOP: Any = object()
_TOO_LARGE: Any = object()


class WSGIMiddleware:
    """An ASGI app that serves a WSGI app.

    - `workers`: how many requests the WSGI app serves at once (10); more wait their turn.
    - `max_body_size`: the request body limit in bytes; by default the limit of the
      `Bare` app it is mounted in (`scope["app"].max_body_size`), else 1 MiB; None for
      none. A larger `Content-Length` is answered 413 before the app runs; a body that
      grows past it makes `wsgi.input` raise `RequestBodyTooLarge` and, unless the
      response has started, the client gets a 413 whatever the app answers.

    `wsgi.errors` writes to the `bare.wsgi` logger, a line per record. An exception
    from the app propagates (bare, or the server, answers 500 without its text if no
    response had started, and the connection is cut if one had). Header names holding
    `_` are dropped from the environ: `X_Forwarded_For` would otherwise pass for
    `X-Forwarded-For`. WebSocket connections are refused; lifespan is acknowledged.
    """

    def __init__(
        self,
        app: WSGIApp,
        *,
        workers: int = DEFAULT_WORKERS,
        max_body_size: int | EllipsisType | None = ...,
    ) -> None:
        if not callable(app):
            raise TypeError(f"WSGIMiddleware needs a WSGI app (a callable), not {app!r}")
        if type(workers) is not int or workers < 1:
            raise ValueError(
                f"workers must be an int of at least 1, not {workers!r}: pass how many "
                "requests the WSGI app may serve at once"
            )
        if (
            max_body_size is not ...
            and max_body_size is not None
            and (type(max_body_size) is not int or max_body_size < 0)
        ):
            raise ValueError(
                f"max_body_size must be a number of bytes (int >= 0) or None, not {max_body_size!r}"
            )
        self.app = app
        self.workers = workers
        self.max_body_size = max_body_size
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="bare-wsgi")
            return self._pool

    def _limit(self, scope: Scope) -> int | None:
        if self.max_body_size is not ...:
            return self.max_body_size
        limit: int | None = getattr(scope.get("app"), "max_body_size", DEFAULT_MAX_BODY_SIZE)
        return limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1000})
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self._limit(scope)
        declared = _declared_length(scope)
        if declared is None:
            await _plain(send, 400, "Invalid Content-Length header")
            return
        if limit is not None and declared > limit:
            await _plain(send, 413, f"Request body too large (limit {limit} bytes)")
            return
        loop = asyncio.get_running_loop()
        exchange = _Exchange(loop)
        environ = build_environ(scope, _Input(exchange), _Errors())
        watcher = loop.create_task(exchange.watch(receive))
        run = contextvars.copy_context().run
        self._executor().submit(run, _serve, self.app, environ, exchange)
        try:
            await exchange.serve(send, limit)
        finally:
            exchange.stop()
            watcher.cancel()
            await asyncio.wait((watcher,))


class _Exchange:
    """One request's hand-over between the event loop and its worker thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.items: asyncio.Queue[tuple[int, Any, Any]] = asyncio.Queue()
        self.replies: SimpleQueue[Any] = SimpleQueue()
        self.slots = threading.Semaphore(_IN_FLIGHT)
        self.may_receive = asyncio.Event()
        self.stopped = False

    # -- in the worker thread ---------------------------------------------------------

    def post(self, kind: int, a: Any = None, b: Any = None) -> None:
        self.loop.call_soon_threadsafe(self.items.put_nowait, (kind, a, b))

    def read(self) -> Any:
        """The next chunk of body (b"" at the end), `_STOP` or `_TOO_LARGE`."""
        if self.stopped:
            return _STOP
        self.post(_READ)
        return self.replies.get()

    def send_body(self, chunk: bytes, head: Any) -> None:
        if self.stopped:
            raise _Stopped
        self.slots.acquire()
        if self.stopped:
            raise _Stopped
        self.post(_BODY, chunk, head)

    # -- on the event loop ------------------------------------------------------------

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.replies.put(_STOP)  # wakes a thread waiting for body
            self.slots.release()  # wakes a thread waiting for room

    async def watch(self, receive: Receive) -> None:
        """Receive one message at a time, when the last one has been dealt with: body
        for `wsgi.input`, then, once the body has ended, the client's disconnect."""
        self.may_receive.set()
        while True:
            await self.may_receive.wait()
            self.may_receive.clear()
            message = await receive()
            self.items.put_nowait((_RECEIVED, message, None))
            if message["type"] == "http.disconnect":
                return

    async def serve(self, send: Send, limit: int | None) -> None:
        started = False
        pending: bytes | None = None  # a chunk received before the app asked for it
        body_done = False
        reading = False  # the thread waits for a chunk
        received = 0
        while True:
            kind, a, b = await self.items.get()
            if kind == _BODY:
                if not started:
                    await send({"type": "http.response.start", "status": b[0], "headers": b[1]})
                    started = True
                await send({"type": "http.response.body", "body": a, "more_body": True})
                self.slots.release()
            elif kind == _READ:
                if pending is not None:
                    self.replies.put(pending)
                    pending = None
                    self.may_receive.set()
                elif body_done:
                    self.replies.put(b"")
                else:
                    reading = True
            elif kind == _RECEIVED:
                if a["type"] != "http.request":  # the client left
                    self.stop()
                    return
                chunk: bytes = a.get("body", b"")
                received += len(chunk)
                if limit is not None and received > limit:
                    if reading:
                        self.replies.put(_TOO_LARGE)
                    if started:  # too late for a 413: the app sees the error
                        self.stop()
                        raise RequestBodyTooLarge(f"request body over {limit} bytes")
                    await _plain(send, 413, f"Request body too large (limit {limit} bytes)")
                    return
                if not a.get("more_body", False):
                    body_done = True
                if chunk or body_done:
                    if reading:
                        self.replies.put(chunk)
                        reading = False
                        if chunk and body_done:
                            pending = b""
                    else:
                        pending = chunk
                if pending is None or body_done:
                    self.may_receive.set()  # more body, or listen for the disconnect
            else:  # _DONE: (exc, head)
                if a is not None:
                    raise a
                if not started:
                    await send({"type": "http.response.start", "status": b[0], "headers": b[1]})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return


def _serve(app: WSGIApp, environ: dict[str, Any], exchange: _Exchange) -> None:
    """Run the WSGI app for one request, in a worker thread."""
    if exchange.stopped:  # the client left while the request waited for a thread
        return
    response = _Response(exchange)
    try:
        result = app(environ, response.start_response)
        try:
            for chunk in result:
                response.write(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        head = response.head()
    except _Stopped:
        return
    except Exception as exc:
        exchange.post(_DONE, exc)
        return
    except BaseException as exc:  # SystemExit and the like: not for the event loop
        error = RuntimeError(f"the WSGI app raised {type(exc).__name__}")
        error.__cause__ = exc
        exchange.post(_DONE, error)
        return
    finally:
        environ["wsgi.errors"].flush()
    exchange.post(_DONE, None, head)


class _Response:
    """`start_response` and `write` for one request, under PEP 3333's rules: the status
    and headers leave with the first non-empty chunk, and until then `exc_info` may
    replace them."""

    def __init__(self, exchange: _Exchange) -> None:
        self.exchange = exchange
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.sent = False

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            if self.sent:
                raise exc_info[1].with_traceback(exc_info[2])
        elif self.status is not None:
            raise RuntimeError("start_response() called twice without exc_info")
        if not isinstance(status, str):
            raise TypeError(f"a WSGI status must be a str, not {type(status).__name__}")
        code = status[:3]
        if not (code.isascii() and code.isdigit()) or status[3:4] not in ("", " "):
            raise ValueError(f"invalid WSGI status {status!r}")
        raw = []
        for name, value in headers:
            check_header(name, value)
            raw.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        self.status = int(code)
        self.headers = raw
        return self.write

    def head(self) -> Any:
        if self.status is None:
            raise RuntimeError("the WSGI app returned without calling start_response()")
        if self.sent:
            return None
        self.sent = True
        return (self.status, self.headers)

    def write(self, data: bytes) -> None:
        if not isinstance(data, bytes):
            raise TypeError(f"a WSGI app must give bytes, not {type(data).__name__}")
        if data:
            self.exchange.send_body(data, self.head())


class _Input:
    """`wsgi.input`: the request body, pulled from the client as the app reads it."""

    def __init__(self, exchange: _Exchange) -> None:
        self._exchange = exchange
        self._buffer = bytearray()
        self._scanned = 0  # how much of the buffer readline() knows has no b"\n"
        self._eof = False

    def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = self._exchange.read()
        if chunk is _STOP:
            raise WSGIClientDisconnected("the client disconnected")
        if chunk is _TOO_LARGE:
            raise RequestBodyTooLarge("the request body is over the limit")
        if not chunk:
            self._eof = True
            return False
        self._buffer += chunk
        return True

    def _take(self, size: int) -> bytes:
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        self._scanned = 0
        return data

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            while self._fill():
                pass
            return self._take(len(self._buffer))
        while len(self._buffer) < size and self._fill():
            pass
        return self._take(size)

    def readline(self, size: int | None = -1) -> bytes:
        limit = -1 if size is None else size
        while True:
            end = self._buffer.find(b"\n", self._scanned)
            if end >= 0:
                end += 1
                break
            self._scanned = len(self._buffer)
            if 0 <= limit <= len(self._buffer) or not self._fill():
                end = len(self._buffer)
                break
        return self._take(end if limit < 0 else min(end, limit))

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line


class _Errors:
    """`wsgi.errors`: what the app writes, logged a line at a time to `bare.wsgi`."""

    _MAX_LINE = 64 * 1024

    def __init__(self) -> None:
        self._partial = ""

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            if line:
                logger.error("%s", line)
        if len(self._partial) > self._MAX_LINE:
            self.flush()
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._partial:
            logger.error("%s", self._partial)
            self._partial = ""


def build_environ(scope: Scope, body: Any, errors: Any) -> dict[str, Any]:
    """The PEP 3333 environ for an ASGI HTTP scope: `SCRIPT_NAME` is the scope's
    `root_path`, `PATH_INFO` the rest of the path, both as "bytes in latin-1"."""
    root_path: str = scope.get("root_path", "")
    path = "" if scope["path"] == root_path else route_path(scope)
    server = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": _native(root_path),
        "PATH_INFO": _native(path),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1] or 0),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.input_terminated": True,
        "wsgi.errors": errors,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"] = client[0]
        environ["REMOTE_PORT"] = str(client[1])
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1")
        if "_" in name:
            continue
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        value = raw_value.decode("latin-1")
        if key in environ:
            value = environ[key] + ("; " if key == "HTTP_COOKIE" else ", ") + value
        environ[key] = value
    return environ


def _native(text: str) -> str:
    # PEP 3333 "native strings": the path's UTF-8 bytes, one code point per byte.
    return text.encode("utf-8", "surrogateescape").decode("latin-1")


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length (0 without one); None when it is not a plain number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            if not (value.isdigit() and len(value) <= 18):
                return None
            return int(value)
    return 0


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode("ascii")
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"connection", b"close"),
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})
