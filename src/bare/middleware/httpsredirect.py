"""Send plain-HTTP requests to HTTPS: `http://` to `https://`, `ws://` to `wss://`.

The redirect keeps the method and the body (308 by default, 307 if asked), the path
and the query, percent-encoded where needed. Its host is the request's `Host`, checked
first: only letters, digits, `-`, `.` and `_`, or an IPv6 literal, and a port, which is
replaced by `https_port`. Anything else is a 400, so the redirect never points to a
place the request's path or a crafted `Host` chose: a path such as `//evil.example`
stays a path under the checked host.
"""

from __future__ import annotations

import re
from typing import Final

from .._paths import full_path
from ..headers import Headers
from ..requests import is_valid_host
from ..responses import PlainTextResponse, Response
from ..types import ASGIApp, Receive, Scope, Send

__all__ = ["HTTPSRedirectMiddleware"]

# A host a redirect can be built on: a DNS-like name or an IPv6 literal, then a port.
# Narrower than a valid Host header (no percent-escapes, no sub-delims), on purpose.
_PLAIN_HOST: Final = re.compile(r"(?P<name>[A-Za-z0-9\-._]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{0,5})?")
# What may stay as it is in the path (RFC 3986 pchar and "/", with "%" kept so that the
# client's escapes are not escaped twice); every other byte is percent-encoded.
_PATH_UNSAFE: Final = re.compile(rb"[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]")
_QUERY_UNSAFE: Final = re.compile(rb"[^A-Za-z0-9\-._~!$&'()*+,;=:@/%?]")
_BAD_HOST: Final = "Invalid host header"


def _escape(match: re.Match[bytes]) -> bytes:
    return b"%%%02X" % match[0][0]


def _request_target(scope: Scope) -> str:
    """The path and query of the request, as they go in a `Location` header.

    Built from `raw_path` (the path as the client sent it) when the server gives it;
    any byte that has no place there (controls, spaces, `\\`, `#`, non-ASCII) is
    percent-encoded. A target that is not an absolute path (`*`) becomes `/`.
    """
    raw: bytes | None = scope.get("raw_path")
    if raw is None:
        raw = full_path(scope).encode("utf-8", "surrogatepass")
    if not raw.startswith(b"/"):
        raw = b"/"
    target = _PATH_UNSAFE.sub(_escape, raw)
    query: bytes = scope.get("query_string", b"")
    if query:
        target += b"?" + _QUERY_UNSAFE.sub(_escape, query)
    return target.decode("ascii")


def _redirect_host(scope: Scope) -> str | None:
    """The request's host name (no port) if its one `Host` header can be redirected to,
    else None."""
    hosts = Headers(scope.get("headers", ())).getlist("host")
    if len(hosts) != 1:
        return None
    host = hosts[0]
    match = _PLAIN_HOST.fullmatch(host)
    if match is None or not is_valid_host(host):  # is_valid_host: IPv6 literals checked
        return None
    name = match["name"]
    if name.strip(".") == "":
        return None
    return name


class HTTPSRedirectMiddleware:
    """Redirect `http` and `ws` requests to the same URL over TLS.

    - `https_port`: the port of the redirect's URL (443, which is left out of it).
      The port of the request's `Host` is dropped: a port cannot speak both.
    - `status`: 308 (permanent) or 307 (temporary); both keep the method and body.

    A request without a single valid `Host` header gets a 400. A WebSocket handshake
    is answered with the redirect when the server supports the `websocket.http.response`
    extension, and is refused otherwise (close code 1008: the server answers 403).
    Behind a proxy that terminates TLS, the server must report the scheme the client
    used (uvicorn's `--proxy-headers`), or every request is redirected, forever.
    """

    def __init__(self, app: ASGIApp, https_port: int = 443, status: int = 308) -> None:
        if not isinstance(https_port, int) or isinstance(https_port, bool):
            raise TypeError(f"https_port must be an int, not {type(https_port).__name__}")
        if not 0 < https_port < 65536:
            raise ValueError(f"https_port must be from 1 to 65535, not {https_port}")
        if status not in (307, 308):
            raise ValueError(
                f"status must be 308 (permanent) or 307 (temporary), not {status!r}: "
                "301 and 302 let clients turn a POST into a GET"
            )
        self.app = app
        self.https_port = https_port
        self.status = status
        self._port = "" if https_port == 443 else f":{https_port}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if scope.get("scheme", "http") == "https":
                await self.app(scope, receive, send)
                return
            response = self._redirect(scope, "https")
            await response(scope, receive, send)
        elif kind == "websocket":
            if scope.get("scheme", "ws") == "wss":
                await self.app(scope, receive, send)
                return
            await self._redirect_websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _location(self, scope: Scope, scheme: str) -> str | None:
        host = _redirect_host(scope)
        if host is None:
            return None
        return f"{scheme}://{host}{self._port}{_request_target(scope)}"

    def _redirect(self, scope: Scope, scheme: str) -> Response:
        location = self._location(scope, scheme)
        if location is None:
            return PlainTextResponse(_BAD_HOST, 400)
        response = Response(status=self.status, content_type=None)
        response.raw_headers.append((b"location", location.encode("ascii")))
        return response

    async def _redirect_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return  # the client left before its handshake was even read
        if "websocket.http.response" not in (scope.get("extensions") or {}):
            await send({"type": "websocket.close", "code": 1008})
            return
        location = self._location(scope, "wss")
        if location is None:
            status, headers, body = 400, [(b"content-type", b"text/plain")], _BAD_HOST.encode()
        else:
            status, headers, body = self.status, [(b"location", location.encode("ascii"))], b""
        headers.append((b"content-length", str(len(body)).encode("ascii")))
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
