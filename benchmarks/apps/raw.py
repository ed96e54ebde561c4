"""The floor: a hand-written ASGI callable that gives the same answers as the others.

Static routes are one dict lookup that finds ready-made messages; parameter routes walk
a minimal segment trie (a dict of literal children and one parameter child per node,
no backtracking, which the GitHub table needs none of). No request object, no response
object, no checks: what is left is the least any framework must do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import JSON_BODY, NOT_FOUND_BODY, PLAINTEXT, TEXT_TYPE, TRIVIAL, Kind, routes

__all__ = ["make_app"]

Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]

_TEXT = TEXT_TYPE.encode("latin-1")


def _messages(status: int, content_type: bytes, body: bytes) -> tuple[Message, Message]:
    headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
    return (
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": body},
    )


_NOT_FOUND = _messages(404, b"application/json", NOT_FOUND_BODY)
_STATIC = {
    Kind.PLAINTEXT: _messages(200, _TEXT, PLAINTEXT.encode()),
    Kind.JSON: _messages(200, b"application/json", JSON_BODY),
    Kind.TRIVIAL: _messages(200, _TEXT, TRIVIAL.encode()),
}
_TEXT_BUILDERS: dict[Kind, Callable[..., str]] = {
    Kind.HELLO: lambda user: f"Hello, {user}",
    Kind.PAIR: lambda owner, repo: f"{owner}/{repo}",
    Kind.TRIVIAL: lambda *values: TRIVIAL,
}


class _Node:
    __slots__ = ("methods", "param", "static")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.methods: dict[str, Callable[..., str]] = {}


class RawApp:
    """The floor app; `routes` as `apps.routes()` gives them."""

    def __init__(self, table: list[tuple[str, str, Kind]]) -> None:
        self.static: dict[str, dict[str, tuple[Message, Message]]] = {}
        self.root = _Node()
        for method, pattern, kind in table:
            if "{" not in pattern:
                self.static.setdefault(method, {})[pattern] = _STATIC[kind]
                continue
            node = self.root
            for segment in pattern.split("/"):
                if segment.startswith("{"):
                    node.param = node.param or _Node()
                    node = node.param
                else:
                    node = node.static.setdefault(segment, _Node())
            node.methods[method] = _TEXT_BUILDERS[kind]

    def _match(self, method: str, path: str) -> tuple[Callable[..., str], list[str]] | None:
        node = self.root
        values = []
        for segment in path.split("/"):
            child = node.static.get(segment)
            if child is None:
                child = node.param
                if child is None or not segment:
                    return None
                values.append(segment)
            node = child
        build = node.methods.get(method)
        return None if build is None else (build, values)

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        method = scope["method"]
        path = scope["path"]
        answer = self.static.get(method, {}).get(path)
        if answer is None:
            found = self._match(method, path)
            if found is None:
                answer = _NOT_FOUND
            else:
                build, values = found
                body = build(*values).encode()
                headers = [(b"content-type", _TEXT), (b"content-length", b"%d" % len(body))]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        start, body_message = answer
        await send(start)
        await send(body_message)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def make_app() -> RawApp:
    return RawApp(routes())
