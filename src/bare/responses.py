"""Responses. Each one is an ASGI app: `await response(scope, receive, send)`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .headers import check_header
from .types import Receive, Scope, Send

__all__ = ["HTMLResponse", "JSONResponse", "PlainTextResponse", "RedirectResponse", "Response"]

_NO_BODY_STATUSES = frozenset({204, 304})


class Response:
    """An HTTP response with a body known in advance.

    `body` may be bytes, str (UTF-8 encoded) or None. Headers are kept as a list of
    pairs, so a name may repeat (several `Set-Cookie`); they are checked when set, so a
    bad value raises `ValueError` in the handler, never half-way through sending.
    """

    content_type: str | None = "text/plain; charset=utf-8"

    def __init__(
        self,
        body: Any = None,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> None:
        self.status = status
        self.body = self.render(body)
        self.headers: list[tuple[str, str]] = []
        content_type = content_type if content_type is not None else self.content_type
        if content_type is not None and status not in _NO_BODY_STATUSES and status >= 200:
            self.headers.append(("content-type", content_type))
        if headers:
            for name, value in headers.items():
                self.set_header(name, value)

    def render(self, body: Any) -> bytes:
        """Turn the `body` argument into bytes."""
        if body is None:
            return b""
        if isinstance(body, bytes):
            return body
        if isinstance(body, str):
            return body.encode("utf-8")
        return str(body).encode("utf-8")

    @property
    def status_code(self) -> int:
        return self.status

    def set_header(self, name: str, value: str) -> Response:
        """Set `name` to `value`, replacing any earlier value of that name."""
        check_header(name, value)
        key = name.lower()
        self.headers = [(n, v) for n, v in self.headers if n != key]
        self.headers.append((key, value))
        return self

    def add_header(self, name: str, value: str) -> Response:
        """Add a `name: value` header, keeping earlier ones of the same name."""
        check_header(name, value)
        self.headers.append((name.lower(), value))
        return self

    def set_cookie(self, name: str, value: str, **attrs: Any) -> Response:
        """Add a `Set-Cookie` header; every call adds one (the book kept only the first)."""
        cookie = f"{name}={value}"
        for attr, attr_value in attrs.items():
            cookie += f"; {attr.replace('_', '-')}={attr_value}"
        return self.add_header("set-cookie", cookie)

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The ASGI header list, with `content-length` added where a body is allowed."""
        raw = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in self.headers]
        if (
            self.status >= 200
            and self.status not in _NO_BODY_STATUSES
            and not any(n == "content-length" for n, _ in self.headers)
        ):
            raw.append((b"content-length", str(len(self.body)).encode("latin-1")))
        return raw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status, "headers": self.raw_headers()}
        )
        no_body = scope.get("method") == "HEAD" or self.status in _NO_BODY_STATUSES
        await send({"type": "http.response.body", "body": b"" if no_body else self.body})

    async def send(self, send: Send) -> None:
        """Send this response through `send` (the book's API; prefer calling the response)."""
        await self({"type": "http"}, _never_receive, send)


async def _never_receive() -> dict[str, Any]:  # pragma: no cover - a response never reads
    raise RuntimeError("a response does not receive")


class PlainTextResponse(Response):
    content_type = "text/plain; charset=utf-8"


class HTMLResponse(Response):
    content_type = "text/html; charset=utf-8"


class JSONResponse(Response):
    """A JSON body, compact and UTF-8 (`NaN` and `Infinity` are refused)."""

    content_type = "application/json"

    def render(self, body: Any) -> bytes:
        return json.dumps(
            body, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str
        ).encode("utf-8")


class RedirectResponse(Response):
    """A redirect to `location` (302 by default; 301, 303, 307 and 308 too)."""

    def __init__(
        self, location: str, status: int = 302, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status=status, headers=headers, content_type=None)
        self.set_header("location", location)
