"""Corners of the response family that the mutation run found unchecked: statuses at the
ends of their range, bodies of unusual types, headers as ASGI sends them (names lowered,
lengths past the ready-made ones), cookies, redirects, streams that close or stop, and
files served in several chunks, with their validators and download names."""

from __future__ import annotations

import asyncio
import mimetypes
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bare import Bare, Request
from bare.responses import (
    FileResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
    safe_redirect,
)
from bare.types import Message

Call = Callable[..., Any]

# 2001-09-09 01:46:40 UTC, as an mtime and as an HTTP date.
MTIME = 1_000_000_000
MTIME_DATE = b"Sun, 09 Sep 2001 01:46:40 GMT"
DAY_BEFORE = "Sat, 08 Sep 2001 01:46:40 GMT"


def serve(response: Response) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await response(scope, receive, send)

    return app


def run_response(
    response: Response,
    scope: dict[str, Any],
    *,
    fail_on: int | None = None,
) -> list[Message]:
    """Call `response` with `scope` and a client that never leaves; `fail_on` makes the
    send of that message (0 is the start) raise ConnectionResetError."""
    sent: list[Message] = []

    async def receive() -> Message:
        await asyncio.Event().wait()  # the client stays until the response is over
        raise AssertionError("unreachable")  # pragma: no cover

    async def send(message: Message) -> None:
        if fail_on is not None and len(sent) == fail_on:
            raise ConnectionResetError("client gone")
        sent.append(message)

    asyncio.run(response(scope, receive, send))
    return sent


# -- statuses ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [100, 599])
def test_the_ends_of_the_status_range_can_be_set(status: int) -> None:
    response = Response("x")
    response.status = status
    assert response.status == status


def test_a_bodiless_status_has_no_content_headers_from_the_start() -> None:
    for status in (101, 204, 205, 304):
        response = Response("ignored", status=status)
        assert response.raw_headers == []
        assert "content-type" not in response.headers
        assert "content-length" not in response.headers


# -- bodies --------------------------------------------------------------------------------


def test_bodies_of_subclasses_and_other_types_become_bytes() -> None:
    class Text(str):
        pass

    class Blob(bytes):
        pass

    assert Response(Text("caf\u00e9")).body == "caf\u00e9".encode()
    blob = Response(Blob(b"\x00\xff")).body
    assert blob == b"\x00\xff" and type(blob) is bytes
    assert Response(bytearray(b"ab")).body == b"ab"
    assert Response(memoryview(b"cd")).body == b"cd"
    assert Response(42).body == b"42"
    assert Response(3.5).body == b"3.5"


# -- headers as sent -----------------------------------------------------------------------


@pytest.mark.parametrize("size", [2047, 2048, 2049, 100_000])
def test_content_length_at_and_past_the_ready_made_headers(asgi_call: Call, size: int) -> None:
    reply = asgi_call(serve(Response(b"x" * size)), "GET", "/")
    assert reply.body == b"x" * size
    # ASGI header names are lowercase bytes: compare the pair as sent.
    assert (b"content-length", str(size).encode()) in reply.headers


@pytest.mark.parametrize("size", [2047, 2048, 5000])
def test_handler_results_of_any_size_get_their_length(asgi_call: Call, size: int) -> None:
    app = Bare()

    @app.get("/text")
    async def text(request: Request) -> str:
        return "t" * size

    @app.get("/json")
    async def json(request: Request) -> list[str]:
        return ["j" * (size - 4)]  # '["' and '"]'

    for path in ("/text", "/json"):
        reply = asgi_call(app, "GET", path)
        assert reply.status == 200
        assert len(reply.body) == size
        assert (b"content-length", str(size).encode()) in reply.headers


def test_a_content_type_seen_for_the_first_time_is_sent_as_given(asgi_call: Call) -> None:
    # A fresh value each run: a cache filled by earlier tests cannot answer for it.
    content_type = f"application/x-detail-{uuid.uuid4().hex}"
    response = Response("body", content_type=content_type)
    assert response.raw_headers[0] == (b"content-type", content_type.encode())
    reply = asgi_call(serve(Response("body", media_type=content_type)), "GET", "/")
    assert (b"content-type", content_type.encode()) in reply.headers
    with pytest.raises(ValueError):
        Response("body", content_type=f"text/plain\r\nx-evil: {uuid.uuid4().hex}")


def test_get_header_gives_the_default_for_a_missing_header() -> None:
    response = Response("x")
    assert response.get_header("x-missing", "fallback") == "fallback"
    assert response.get_header("x-missing") is None
    assert response.get_header("Content-Type", "fallback") == "text/plain; charset=utf-8"


# -- cookies -------------------------------------------------------------------------------


def test_a_cookie_set_without_a_value_is_empty_with_the_safe_defaults() -> None:
    response = Response()
    response.set_cookie("k")
    assert response.get_header("set-cookie") == "k=; Path=/; HttpOnly; SameSite=Lax"


def test_delete_cookie_passes_every_attribute_on() -> None:
    response = Response()
    response.delete_cookie(
        "k", path="/app", domain="example.com", secure=True, httponly=False, samesite="strict"
    )
    assert response.get_header("set-cookie") == (
        "k=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Domain=example.com; "
        "Path=/app; Secure; SameSite=Strict"
    )
    response = Response()
    response.delete_cookie("k")
    assert response.get_header("set-cookie") == (
        "k=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; SameSite=Lax"
    )


# -- redirects -----------------------------------------------------------------------------


def test_a_redirect_keeps_the_headers_it_is_given(asgi_call: Call) -> None:
    response = RedirectResponse("/next", headers={"cache-control": "no-store"})
    reply = asgi_call(serve(response), "GET", "/")
    assert reply.status == 302
    assert reply.header("cache-control") == "no-store"
    assert reply.header("location") == "/next"
    assert reply.body == b""


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/a b", "/a b"),  # a space is quoted by the redirect, not refused
        ("/search?q=a b", "/search?q=a b"),
        ("/a\x7f", "/"),  # DEL is a control character
        ("/a\x1f", "/"),
        ("/a\\b", "/"),
    ],
)
def test_safe_redirect_draws_the_line_at_control_characters(target: str, expected: str) -> None:
    assert safe_redirect(target) == expected


# -- streaming -----------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "status"), [("HEAD", 200), ("GET", 204), ("GET", 304)])
def test_a_stream_without_a_body_never_runs_its_generator(
    asgi_call: Call, method: str, status: int
) -> None:
    ran: list[bool] = []

    def gen() -> Iterator[bytes]:
        ran.append(True)
        yield b"never sent"

    reply = asgi_call(serve(StreamingResponse(gen(), status=status)), method, "/")
    assert reply.status == status
    assert reply.body == b""
    assert [m["type"] for m in reply.messages] == ["http.response.start", "http.response.body"]
    assert ran == []


def test_a_sync_stream_marks_every_chunk_but_the_last(asgi_call: Call) -> None:
    reply = asgi_call(serve(StreamingResponse(iter([b"a", "b"]))), "GET", "/")
    assert reply.body == b"ab"
    assert [m.get("more_body") for m in reply.messages[1:]] == [True, True, None]


class AsyncSource:
    """An async iterable that is not a generator, closed with `aclose()`."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)
        self.closed: list[str] = []

    def __aiter__(self) -> AsyncSource:
        return self

    async def __anext__(self) -> bytes:
        if not self.chunks:
            raise StopAsyncIteration
        return self.chunks.pop(0)

    async def aclose(self) -> None:
        self.closed.append("aclose")


class AsyncSourceWithClose:
    """An async iterable with only a plain `close()`."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)
        self.closed: list[str] = []

    def __aiter__(self) -> AsyncSourceWithClose:
        return self

    async def __anext__(self) -> bytes:
        if not self.chunks:
            raise StopAsyncIteration
        return self.chunks.pop(0)

    def close(self) -> None:
        self.closed.append("close")


class AsyncSourceWithoutClose:
    """An async iterable with nothing to close."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)

    def __aiter__(self) -> AsyncSourceWithoutClose:
        return self

    async def __anext__(self) -> bytes:
        if not self.chunks:
            raise StopAsyncIteration
        return self.chunks.pop(0)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_async_iterables_are_closed_by_aclose_or_close(asgi_call: Call, method: str) -> None:
    with_aclose = AsyncSource(b"a", b"b")
    reply = asgi_call(serve(StreamingResponse(with_aclose)), method, "/")
    assert reply.body == (b"ab" if method == "GET" else b"")
    assert with_aclose.closed == ["aclose"]

    with_close = AsyncSourceWithClose(b"c")
    reply = asgi_call(serve(StreamingResponse(with_close)), method, "/")
    assert reply.body == (b"c" if method == "GET" else b"")
    assert with_close.closed == ["close"]

    reply = asgi_call(serve(StreamingResponse(AsyncSourceWithoutClose(b"d"))), method, "/")
    assert reply.body == (b"d" if method == "GET" else b"")


def test_a_stream_left_by_the_client_finishes_its_cleanup_before_returning(
    asgi_call: Call,
) -> None:
    cleaned: list[bool] = []

    async def gen() -> AsyncIterator[bytes]:
        try:
            yield b"first"
            await asyncio.Event().wait()  # stuck here when the client leaves
        finally:
            # Cleanup that takes a few turns of the loop (closing a cursor, say).
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            cleaned.append(True)

    reply = asgi_call(serve(StreamingResponse(gen())), "GET", "/", chunks=[b""], disconnect=True)
    assert reply.body == b"first"
    assert cleaned == [True]


def test_a_finished_stream_stops_listening_before_it_returns() -> None:
    left: list[bool] = []
    returned: list[list[bool]] = []

    async def receive() -> Message:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            left.append(True)
        raise AssertionError("unreachable")  # pragma: no cover

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def main() -> None:
        scope = {"type": "http", "method": "GET", "asgi": {"version": "3.0"}}
        await StreamingResponse(iter([b"a", b"b"]))(scope, receive, send)
        returned.append(list(left))  # as it stood when the response returned

    asyncio.run(main())
    assert returned == [[True]]
    assert b"".join(m.get("body", b"") for m in sent) == b"ab"


def test_a_scope_without_an_asgi_key_is_served_as_asgi_2_0() -> None:
    sent = run_response(StreamingResponse(iter([b"a", b"b"])), {"type": "http", "method": "GET"})
    assert [m.get("body") for m in sent[1:]] == [b"a", b"b", b""]


@pytest.mark.parametrize("spec_version", ["two.four", "", None, 24])
def test_an_unreadable_spec_version_is_taken_as_2_0(spec_version: Any) -> None:
    # Before 2.4, a failed send is an error of the response, raised to the server; a
    # 2.4 server raises OSError from send for a client that left, which is not.
    scope: dict[str, Any] = {"type": "http", "method": "GET", "asgi": {"version": "3.0"}}
    scope["asgi"]["spec_version"] = spec_version
    with pytest.raises(ConnectionResetError):
        run_response(StreamingResponse(iter([b"a", b"b"])), scope, fail_on=2)
    scope["asgi"]["spec_version"] = "2.4"
    sent = run_response(StreamingResponse(iter([b"a", b"b"])), scope, fail_on=2)
    assert len(sent) == 2


# -- files ---------------------------------------------------------------------------------


@pytest.fixture
def dated_file(tmp_path: Path) -> Path:
    path = tmp_path / "page.txt"
    path.write_bytes(b"abcdefghi")
    os.utime(path, (MTIME, MTIME))
    return path


def test_last_modified_is_the_files_mtime(asgi_call: Call, dated_file: Path) -> None:
    reply = asgi_call(serve(FileResponse(dated_file)), "GET", "/")
    assert (b"last-modified", MTIME_DATE) in reply.headers
    stat = dated_file.stat()
    etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'.encode()
    assert (b"etag", etag) in reply.headers


def test_if_modified_since_before_the_mtime_sends_the_file(
    asgi_call: Call, dated_file: Path
) -> None:
    headers = [(b"host", b"testserver"), (b"if-modified-since", DAY_BEFORE.encode())]
    reply = asgi_call(serve(FileResponse(dated_file)), "GET", "/", headers=headers)
    assert (reply.status, reply.body) == (200, b"abcdefghi")
    headers = [(b"host", b"testserver"), (b"if-modified-since", MTIME_DATE)]
    reply = asgi_call(serve(FileResponse(dated_file)), "GET", "/", headers=headers)
    assert (reply.status, reply.body) == (304, b"")


def test_a_file_response_sends_through_the_books_send(dated_file: Path) -> None:
    # `send()` calls the response with a scope holding nothing but its type.
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(FileResponse(dated_file).send(send))
    assert sent[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"abcdefghi"


def test_a_412_marks_the_response_started(dated_file: Path) -> None:
    response = FileResponse(dated_file)
    scope = {
        "type": "http",
        "method": "POST",
        "headers": [(b"if-none-match", b"*")],
        "asgi": {"version": "3.0"},
    }
    sent = run_response(response, scope)
    assert sent[0]["status"] == 412
    assert response.started is True


def test_a_failed_412_is_not_answered_again() -> None:
    app = Bare()
    path = Path(__file__)

    @app.post("/file")
    async def file(request: Request) -> FileResponse:
        return FileResponse(path)

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            raise ConnectionResetError("client gone")
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "method": "POST",
        "path": "/file",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"if-none-match", b"*")],
    }
    with pytest.raises(ConnectionResetError):
        asyncio.run(app(scope, receive, send))
    assert [m["status"] for m in sent] == [412]


def test_a_head_for_a_file_sends_one_empty_body_message(asgi_call: Call, dated_file: Path) -> None:
    reply = asgi_call(serve(FileResponse(dated_file)), "HEAD", "/")
    assert reply.messages[1:] == [{"type": "http.response.body", "body": b""}]
    assert reply.header("content-length") == "9"


@pytest.mark.parametrize(
    ("content", "chunks"),
    [
        (b"abcdefghi", [b"abcd", b"efgh", b"i"]),
        (b"abcdefgh", [b"abcd", b"efgh"]),  # exactly two chunks: no empty third
        (b"abcde", [b"abcd", b"e"]),  # one byte past a chunk
        (b"abc", [b"abc"]),
        (b"", [b""]),
    ],
)
def test_a_file_is_sent_chunk_by_chunk_and_ends_with_its_last(
    asgi_call: Call, tmp_path: Path, content: bytes, chunks: list[bytes]
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(content)
    response = FileResponse(path)
    response.chunk_size = 4
    reply = asgi_call(serve(response), "GET", "/")
    bodies = reply.messages[1:]
    assert [m["body"] for m in bodies] == chunks
    assert [m["more_body"] for m in bodies] == [True] * (len(chunks) - 1) + [False]
    assert reply.header("content-length") == str(len(content))


def test_a_file_with_an_unknown_encoding_is_sent_as_octets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mimetypes.guess_type("x.txt")  # the table exists before it is changed
    monkeypatch.setitem(mimetypes.encodings_map, ".lzdetail", "lzip-detail")
    assert mimetypes.guess_type("a.txt.lzdetail") == ("text/plain", "lzip-detail")
    path = tmp_path / "a.txt.lzdetail"
    path.write_bytes(b"packed")
    response = FileResponse(path)
    assert response.raw_headers[0] == (b"content-type", b"application/octet-stream")


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("X-ray.txt", "attachment; filename=\"X-ray.txt\"; filename*=UTF-8''X-ray.txt"),
        (
            'X"y\\.txt',
            "attachment; filename=\"X_y_.txt\"; filename*=UTF-8''X%22y%5C.txt",
        ),
        ("a/b.txt", "attachment; filename=\"a/b.txt\"; filename*=UTF-8''a%2Fb.txt"),
        (
            "r\u00e9sum\u00e9.pdf",
            "attachment; filename=\"r?sum?.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf",
        ),
    ],
)
def test_download_names(tmp_path: Path, filename: str, expected: str) -> None:
    path = tmp_path / "stored.bin"
    path.write_bytes(b"x")
    response = FileResponse(path, filename=filename)
    assert response.get_header("content-disposition") == expected


def test_a_file_that_grows_while_sent_is_sent_as_long_as_announced(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    path.write_bytes(b"a" * 10)
    response = FileResponse(path)
    response.chunk_size = 4
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and len(sent) == 2:
            with path.open("ab") as file:  # the file grows after the first chunk went out
                file.write(b"b" * 100)

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    asyncio.run(response(scope, receive, send))
    headers = dict(sent[0]["headers"])
    body = b"".join(m.get("body", b"") for m in sent[1:])
    assert headers[b"content-length"] == b"10"
    assert body == b"a" * 10 and not sent[-1].get("more_body", False)
