"""The request object handed to HTTP handlers: a thin, lazy wrapper over the scope."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .headers import Headers
from .types import Receive, Scope

if TYPE_CHECKING:
    from .applications import Bare

__all__ = ["Request"]


class Request:
    """An HTTP request. Nothing is parsed until asked for, and then only once."""

    __slots__ = ("_body", "_headers", "_query", "_receive", "scope")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self._receive = receive
        self._body: bytes | None = None
        self._headers: Headers | None = None
        self._query: dict[str, list[str]] | None = None

    @property
    def method(self) -> str:
        method: str = self.scope["method"]
        return method

    @property
    def path(self) -> str:
        path: str = self.scope["path"]
        return path

    @property
    def query_string(self) -> str:
        raw: bytes = self.scope.get("query_string", b"")
        return raw.decode("latin-1")

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers(self.scope.get("headers", ()))
        return self._headers

    def header(self, name: str, default: str = "") -> str:
        """The first value of header `name` (any case), or `default`."""
        value = self.headers.get(name)
        return default if value is None else value

    @property
    def content_type(self) -> str:
        return self.header("content-type")

    @property
    def path_params(self) -> dict[str, Any]:
        params: dict[str, Any] = self.scope.get("path_params", {})
        return params

    @property
    def query_params(self) -> dict[str, list[str]]:
        if self._query is None:
            self._query = parse_qs(self.query_string, keep_blank_values=True, max_num_fields=1000)
        return self._query

    def query(self, name: str, default: str = "") -> str:
        """The first value of query parameter `name`, or `default`."""
        values = self.query_params.get(name)
        return values[0] if values else default

    async def body(self) -> bytes:
        """The whole body, read once and kept."""
        if self._body is None:
            chunks = []
            while True:
                message = await self._receive()
                if message["type"] == "http.request":
                    chunks.append(message.get("body", b""))
                    if not message.get("more_body", False):
                        break
                elif message["type"] == "http.disconnect":
                    break
            self._body = b"".join(chunks)
        return self._body

    async def text(self) -> str:
        return (await self.body()).decode("utf-8")

    async def json(self) -> Any:
        return json.loads(await self.body())

    @property
    def app(self) -> Bare:
        app: Bare = self.scope["app"]
        return app

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"
