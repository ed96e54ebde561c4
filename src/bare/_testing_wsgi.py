"""Serve a WSGI app (PEP 3333) over ASGI, so the test client can call it like any other."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from ._concurrency import run_in_threadpool
from .headers import check_header
from .types import Receive, Scope, Send

__all__ = ["WSGIAdapter", "WSGIApp", "build_environ"]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class WSGIAdapter:
    """An ASGI app that runs a WSGI app in a worker thread, one whole request at a time.

    WSGI has no lifespan and no WebSockets: a lifespan scope returns at once (so the
    client carries on as with any app without lifespan), and a WebSocket scope raises.
    """

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        if scope["type"] != "http":
            raise TypeError(f"a WSGI app cannot serve a {scope['type']!r} connection")
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        environ = build_environ(scope, bytes(body))
        status, headers, content = await run_in_threadpool(self._run, environ)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def _run(self, environ: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        response = _Response()
        result = self.app(environ, response.start_response)
        try:
            for chunk in result:
                response.write(chunk)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if response.status is None:
            raise RuntimeError("the WSGI app returned without calling start_response()")
        return response.status, response.headers, b"".join(response.body)


class _Response:
    """`start_response` and `write` for one request, with PEP 3333's error-handling rules."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.headers_sent = False

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            if self.headers_sent:  # too late to change the status: re-raise, as PEP 3333 says
                raise exc_info[1].with_traceback(exc_info[2])
        elif self.status is not None:
            raise RuntimeError("start_response() called twice without exc_info")
        code, _, _ = status.partition(" ")
        if len(code) != 3 or not code.isdigit():
            raise ValueError(f"invalid WSGI status {status!r}")
        for name, value in headers:
            check_header(name, value)
        self.status = int(code)
        self.headers = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers]
        return self.write

    def write(self, data: bytes) -> None:
        if self.status is None:
            raise RuntimeError("the WSGI app sent body data before calling start_response()")
        if not isinstance(data, bytes):
            raise TypeError(f"a WSGI app must send bytes, not {type(data).__name__}")
        if data:
            self.headers_sent = True
            self.body.append(data)


def build_environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """The PEP 3333 environ for an ASGI HTTP scope and its whole request body."""
    root_path: str = scope.get("root_path", "")
    path: str = scope["path"]
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": _native(root_path),
        "PATH_INFO": _native(path),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": client[0],
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        key = name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"
        value = raw_value.decode("latin-1")
        if key in environ:  # a repeated header: join the values, as CGI does
            value = environ[key] + ("; " if key == "HTTP_COOKIE" else ",") + value
        environ[key] = value
    return environ


def _native(text: str) -> str:
    # PEP 3333 "native strings": the UTF-8 bytes of the path, each byte as one code point.
    return text.encode("utf-8", "surrogateescape").decode("latin-1")
