"""The floor: a hand-written ASGI callable that gives the same answers as the others.

Static routes are one dict lookup that finds ready-made messages; parameter routes walk
a minimal segment trie (a dict of literal children and one parameter child per node,
no backtracking, which the GitHub table needs none of). No request object, no response
object, no checks: what is left is the least any framework must do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from _reference import HandTrie

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


class RawApp:
    """The floor app; `routes` as `apps.routes()` gives them."""

    def __init__(self, table: list[tuple[str, str, Kind]]) -> None:
        self.static: dict[str, dict[str, tuple[Message, Message]]] = {}
        for method, pattern, kind in table:
            if "{" not in pattern:
                self.static.setdefault(method, {})[pattern] = _STATIC[kind]
        # The parameter routes, in the minimal trie the router benchmarks compare with.
        self.trie = HandTrie(
            (method, pattern, _TEXT_BUILDERS[kind])
            for method, pattern, kind in table
            if "{" in pattern
        )

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        method = scope["method"]
        path = scope["path"]
        answer = self.static.get(method, {}).get(path)
        if answer is None:
            found = self.trie.walk(method, path)
            if found is None:
                answer = _NOT_FOUND
            else:
                build, _, values = found
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
