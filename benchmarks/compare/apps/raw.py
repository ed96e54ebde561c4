"""The floor: a hand-written ASGI callable answering every scenario as the frameworks do.

Written honestly, as the least a framework must do, not as a shortcut: it reads the
request as a server gives it (the body through `receive`, until `more_body` is false),
looks for the `Authorization` header, reads the `query` parameter, decodes the JSON body
and encodes the answer again (with orjson when it is installed, as bare does, else with
the standard library: the floor must not cost more than a framework), finds the file in a multipart
body and writes it to tmpfs, and matches paths in a minimal segment trie
(`benchmarks._reference.HandTrie`, the one the router benchmarks compare with).

What it skips, which every framework does: no request or response objects; no 405 (a
known path with another method is a 404) and no HEAD; no checks of the content type, the
declared length or any size limit; no percent-decoding of paths; `/api/...` takes only
ASCII digits as integers; the multipart parser reads only the first part and stops at the
first delimiter, with no checks of part headers beyond the field name; errors are bare
statuses with canned bodies.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from benchmarks._reference import HandTrie
from benchmarks.compare.scenarios import HELLO, HTML_PAGE, ROUTE_TABLE, UPLOAD_FIELD, upload_path

__all__ = ["app"]

Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]

_TEXT = b"text/plain; charset=utf-8"
_JSON = b"application/json"
_HTML = b"text/html; charset=utf-8"
try:  # the fastest codec at hand, as a framework may use it (bare does when installed)
    import orjson

    _LOADS: Callable[[bytes], Any] = orjson.loads
    _DUMPS: Callable[[Any], bytes] = orjson.dumps
except ImportError:
    _LOADS = json.loads
    _encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def _DUMPS(value: Any) -> bytes:
        return _encode(value).encode()


_UPLOAD_PATH = upload_path()
_UPLOAD_NAME = _UPLOAD_PATH.name


def _start(status: int, content_type: bytes, body: bytes) -> Message:
    headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
    return {"type": "http.response.start", "status": status, "headers": headers}


def _canned(status: int, content_type: bytes, body: bytes) -> tuple[Message, Message]:
    return _start(status, content_type, body), {"type": "http.response.body", "body": body}


_HELLO = _canned(200, _TEXT, HELLO.encode())
_OK = _canned(200, _TEXT, b"ok")
_NOT_FOUND = _canned(404, _JSON, b'{"detail":"Not Found"}')
_UNAUTHORIZED = _canned(401, _JSON, b'{"detail":"Unauthorized"}')
_BAD_REQUEST = _canned(400, _JSON, b'{"detail":"Bad Request"}')
_HTML_BODY = HTML_PAGE.encode()
_HTML_LENGTH = b"%d" % len(_HTML_BODY)


async def _read_body(receive: Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body  # the usual case: the whole body in one message
    chunks = [body]
    while message.get("more_body", False):
        message = await receive()
        chunks.append(message.get("body", b""))
    return b"".join(chunks)


def _header(scope: Message, name: bytes) -> bytes | None:
    value: bytes
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def _query(query_string: bytes, name: str) -> str:
    for pair in query_string.decode("latin-1").split("&"):
        key, _, value = pair.partition("=")
        if unquote_plus(key) == name:
            return unquote_plus(value)
    return ""


async def _send(send: Send, answer: tuple[Message, Message]) -> None:
    await send(answer[0])
    await send(answer[1])


async def _hello(scope: Message, receive: Receive, send: Send, values: list[str]) -> None:
    await _send(send, _HELLO)


async def _html(scope: Message, receive: Receive, send: Send, values: list[str]) -> None:
    headers = [
        (b"content-type", _HTML),
        (b"content-length", _HTML_LENGTH),
        (b"x-time", repr(time.time()).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": _HTML_BODY})


async def _api(scope: Message, receive: Receive, send: Send, values: list[str]) -> None:
    user, record = values
    if _header(scope, b"authorization") is None:
        await _send(send, _UNAUTHORIZED)
        return
    if not (user.isascii() and user.isdigit() and record.isascii() and record.isdigit()):
        await _send(send, _NOT_FOUND)
        return
    try:
        data = _LOADS(await _read_body(receive))
    except ValueError:
        await _send(send, _BAD_REQUEST)
        return
    answer = {
        "user": int(user),
        "record": int(record),
        "query": _query(scope["query_string"], "query"),
        "body": data,
    }
    body = _DUMPS(answer)
    await send(_start(200, _JSON, body))
    await send({"type": "http.response.body", "body": body})


def _first_file(content_type: bytes, body: bytes, field: str) -> bytes | None:
    """The content of the first part of a multipart body if it is the file `field`."""
    _, _, params = content_type.partition(b";")
    boundary = b""
    for param in params.split(b";"):
        key, _, value = param.strip().partition(b"=")
        if key.lower() == b"boundary":
            boundary = value.strip(b'"')
    if not boundary:
        return None
    delimiter = b"--" + boundary
    if not body.startswith(delimiter + b"\r\n"):
        return None
    head_end = body.find(b"\r\n\r\n", len(delimiter))
    if head_end < 0:
        return None
    if b'name="%s"' % field.encode() not in body[len(delimiter) : head_end]:
        return None
    end = body.find(b"\r\n" + delimiter, head_end + 4)
    if end < 0:
        return None
    return body[head_end + 4 : end]


async def _upload(scope: Message, receive: Receive, send: Send, values: list[str]) -> None:
    content = _first_file(
        _header(scope, b"content-type") or b"", await _read_body(receive), UPLOAD_FIELD
    )
    if content is None:
        await _send(send, _BAD_REQUEST)
        return
    with open(_UPLOAD_PATH, "wb") as file:
        file.write(content)
    body = b'{"name":"%s","size":%d}' % (_UPLOAD_NAME.encode(), len(content))
    await send(_start(200, _JSON, body))
    await send({"type": "http.response.body", "body": body})


async def _late(scope: Message, receive: Receive, send: Send, values: list[str]) -> None:
    body = f"key {values[0]}".encode()
    await send(_start(200, _TEXT, body))
    await send({"type": "http.response.body", "body": body})


async def _ok(scope: Message, receive: Receive, send: Send, values: list[str]) -> None:
    await _send(send, _OK)


Handler = Callable[[Message, Receive, Send, list[str]], Any]


class RawApp:
    """The floor (see the module doc)."""

    def __init__(self) -> None:
        table: list[tuple[str, str, Handler]] = [
            ("GET", "/", _hello),
            ("GET", "/html", _html),
            ("PUT", "/api/users/{user}/records/{record}", _api),
            ("POST", "/upload", _upload),
        ]
        table += [(method, pattern, _ok) for method, pattern in ROUTE_TABLE[:-1]]
        method, pattern = ROUTE_TABLE[-1]
        table.append((method, pattern, _late))
        self.static: dict[tuple[str, str], Handler] = {
            (method, pattern): handler for method, pattern, handler in table if "{" not in pattern
        }
        self.trie = HandTrie(entry for entry in table if "{" in entry[1])

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await _lifespan(receive, send)
            return
        method = scope["method"]
        path = scope["path"]
        handler = self.static.get((method, path))
        if handler is not None:
            await handler(scope, receive, send, [])
            return
        found = self.trie.walk(method, path)
        if found is None:
            await _send(send, _NOT_FOUND)
            return
        await found[0](scope, receive, send, found[2])


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


app = RawApp()
