"""Serve only the host names you list: a request for any other `Host` gets a 400.

Host names are compared in lower case, without the port and without one trailing dot
(`Example.COM.:8000` is `example.com`: the dot only says the name is fully qualified).
Nothing is decoded: `ex%61mple.com` is not `example.com`. IPv6 literals are compared
as addresses (`[0::1]` is `[::1]`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from ..headers import Headers
from ..requests import is_valid_host
from ..responses import PlainTextResponse, Response
from ..types import ASGIApp, Receive, Scope, Send
from .httpsredirect import _request_target

__all__ = ["TrustedHostMiddleware"]

_LABEL: Final = re.compile(r"[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?")
_BAD_HOST: Final = "Invalid host header"
_MAX_NAME: Final = 253


class TrustedHostMiddleware:
    """Refuse requests whose `Host` header is not one of `allowed_hosts`.

    - `allowed_hosts`: host names (`example.com`, `127.0.0.1`, `[::1]`), and
      `*.example.com` for every name under `example.com` (at any depth, but not
      `example.com` itself). `["*"]` allows any host, and requests without one.
    - `www_redirect`: when `www.example.com` is listed by name and a request comes for
      `example.com`, which is not, answer with a 308 to the same URL on
      `www.example.com` (True).

    Refused: a missing, repeated or malformed `Host` (unless `allowed_hosts` is `["*"]`),
    and any host not allowed, with a plain 400 that does not repeat it. A refused
    WebSocket handshake is closed with code 1008 (the server answers 403).
    """

    def __init__(
        self, app: ASGIApp, allowed_hosts: Iterable[str], www_redirect: bool = True
    ) -> None:
        if isinstance(allowed_hosts, (str, bytes)):
            raise TypeError(
                f"allowed_hosts must be a list of str, like [{allowed_hosts!r}], not a single str"
            )
        if not isinstance(www_redirect, bool):
            raise TypeError(f"www_redirect must be True or False, not {www_redirect!r}")
        hosts = list(allowed_hosts)
        if not hosts:
            raise ValueError(
                "allowed_hosts is empty, so every request would be refused: "
                "list your host names, as in ['example.com', '*.example.com']"
            )
        for host in hosts:
            if not isinstance(host, str):
                raise TypeError(f"allowed_hosts must hold str, not {type(host).__name__}")
        self.app = app
        self.allow_any = "*" in hosts
        if self.allow_any and len(hosts) > 1:
            raise ValueError("allowed_hosts=['*'] allows any host: list no others with it")
        names: set[str] = set()
        suffixes: set[str] = set()
        for host in hosts:
            if host == "*":
                continue
            if host.startswith("*."):
                suffixes.add("." + _name(host[2:], host))
            else:
                names.add(_name(host, host))
        self.names = frozenset(names)
        self.suffixes = tuple(sorted(suffixes))
        self.www_redirect = www_redirect
        # bare name -> the listed www name it redirects to (the redirect's host comes
        # from here, never from the request).
        self._www = {name[4:]: name for name in names if name.startswith("www.") and www_redirect}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if self.allow_any or (kind != "http" and kind != "websocket"):
            await self.app(scope, receive, send)
            return
        hosts = Headers(scope.get("headers", ())).getlist("host")
        parsed = _parse(hosts[0]) if len(hosts) == 1 else None
        if parsed is not None:
            name, port = parsed
            if name in self.names or any(name.endswith(s) for s in self.suffixes):
                await self.app(scope, receive, send)
                return
            www = self._www.get(name)
            if www is not None and kind == "http":
                scheme = "https" if scope.get("scheme") == "https" else "http"
                location = f"{scheme}://{www}{port}{_request_target(scope)}"
                response = Response(status=308, content_type=None)
                response.raw_headers.append((b"location", location.encode("ascii")))
                await response(scope, receive, send)
                return
        if kind == "http":
            await PlainTextResponse(_BAD_HOST, 400)(scope, receive, send)
            return
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.close", "code": 1008, "reason": _BAD_HOST})


def _parse(host: str) -> tuple[str, str] | None:
    """`(name, ":port" or "")` of a Host header, the name normalized; None if invalid."""
    if not is_valid_host(host):
        return None
    if host.startswith("["):
        end = host.index("]") + 1
        name, port = _ip_literal(host[:end]), host[end + 1 :]
    else:
        name, _, port = host.partition(":")
        name = name.lower()
        if name.endswith("."):
            name = name[:-1]
    if port:
        if len(port) > 5 or int(port) > 65535:
            return None
        port = f":{int(port)}"
    return name, port


def _ip_literal(literal: str) -> str:
    """An IPv6 literal in its compressed form (a future-version one, in lower case)."""
    if literal[1:2] in ("v", "V"):
        return literal.lower()
    import ipaddress  # here: IPv6 literals are rare, the import is not cheap

    return f"[{ipaddress.IPv6Address(literal[1:-1]).compressed}]"  # checked by is_valid_host


def _name(name: str, host: str) -> str:
    """A configured host name, normalized as requests' are; ValueError if it is not one."""
    if not name.isascii():
        raise ValueError(
            f"allowed_hosts: {host!r} is not ASCII: write it in its punycode form (xn--...), "
            "as clients send it"
        )
    if "*" in name:
        raise ValueError(
            f"allowed_hosts: {host!r}: a wildcard must be the whole left-most label, "
            "as in '*.example.com'"
        )
    lowered = name.lower()
    if lowered.startswith("[") or lowered.count(":") > 1:
        literal = lowered if lowered.startswith("[") else f"[{lowered}]"
        if not literal.endswith("]") or not is_valid_host(literal):
            raise ValueError(
                f"allowed_hosts: {host!r} is not an IPv6 address (ports are not compared)"
            )
        return _ip_literal(literal)
    if ":" in lowered:
        raise ValueError(
            f"allowed_hosts: {host!r}: ports are not compared, leave it out "
            f"({lowered.partition(':')[0]!r})"
        )
    if lowered.endswith("."):
        lowered = lowered[:-1]
    if (
        not lowered
        or len(lowered) > _MAX_NAME
        or not all(_LABEL.fullmatch(label) for label in lowered.split("."))
    ):
        raise ValueError(
            f"allowed_hosts: {host!r} is not a host name (letters, digits, '-' and '.')"
        )
    return lowered
