"""Turning exceptions into responses: HTTP errors, the generic 500, the debug page."""

from __future__ import annotations

import logging
from typing import Any

from .exceptions import HTTPException
from .responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from .types import Scope

__all__ = ["SERVER_EXCEPTION_KEY", "error_response", "is_loopback", "server_error_response"]

logger = logging.getLogger("bare.error")

# The scope key under which an unhandled exception is kept after its 500 was sent, so a
# test client can raise it in the test (servers ignore it).
SERVER_EXCEPTION_KEY = "bare.exception"


def error_response(status: int, detail: Any, headers: dict[str, str] | None = None) -> Response:
    """The default body of an HTTP error: `{"detail": ...}` as JSON."""
    return JSONResponse({"detail": detail}, status=status, headers=headers)


def http_exception_response(exc: HTTPException) -> Response:
    return error_response(exc.status, exc.detail, exc.headers)


def is_loopback(scope: Scope) -> bool:
    """Whether the request came in on a loopback address (127.0.0.0/8, ::1) or a Unix
    socket. Behind a proxy on the same machine every request does: see docs/errors.md."""
    server = scope.get("server")
    if not server:
        return False
    host, port = server[0], server[1]
    if port is None:
        return True  # a Unix socket (servers give its path and no port)
    if host == "localhost":
        return True
    try:
        import ipaddress  # here, not at import: only debug pages need it

        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_error_response(exc: BaseException, scope: Scope, debug: bool) -> Response:
    """A 500. The traceback is shown only with `debug=True` on a loopback server."""
    if not (debug and is_loopback(scope)):
        return error_response(500, "Internal Server Error")
    import html
    import traceback

    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    accept = _header(scope, b"accept")
    if "text/html" in accept:
        body = (
            "<!doctype html><html><head><meta charset='utf-8'><title>500 Internal Server Error"
            "</title></head><body><h1>500 Internal Server Error</h1><p>"
            f"{html.escape(f'{type(exc).__name__}: {exc}')}</p>"
            + "".join(f"<p>{html.escape(str(note))}</p>" for note in getattr(exc, "__notes__", ()))
            + "<pre>"
            f"{html.escape(''.join(lines))}</pre></body></html>"
        )
        return HTMLResponse(body, status=500)
    if "application/json" in accept:
        detail = {"error": type(exc).__name__, "message": str(exc), "traceback": lines}
        return JSONResponse({"detail": detail}, status=500)
    return PlainTextResponse("".join(lines), status=500)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""
