"""The response family: bodies, headers, cookies, JSON, redirects, streaming and files."""

from __future__ import annotations

import asyncio
import datetime
import decimal
import json
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bare import _json
from bare.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

Call = Callable[..., Any]


def serve(response: Response) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await response(scope, receive, send)

    return app


def test_bodies_and_content_length(asgi_call: Call) -> None:
    for body, expected in [
        ("caf\u00e9", "caf\u00e9".encode()),
        (b"\x00\xff", b"\x00\xff"),
        (None, b""),
    ]:
        reply = asgi_call(serve(Response(body)), "GET", "/")
        assert reply.body == expected
        assert reply.header("content-length") == str(len(expected))
        assert reply.header("content-type") == "text/plain; charset=utf-8"


@pytest.mark.parametrize("status", [204, 304, 101])
def test_no_body_no_length_for_bodiless_statuses(asgi_call: Call, status: int) -> None:
    reply = asgi_call(serve(Response("ignored", status=status)), "GET", "/")
    assert reply.status == status
    assert reply.body == b""
    assert reply.header("content-length") is None
    assert reply.header("content-type") is None


def test_head_keeps_length_and_drops_body(asgi_call: Call) -> None:
    reply = asgi_call(serve(HTMLResponse("<p>hi</p>")), "HEAD", "/")
    assert reply.body == b""
    assert reply.header("content-length") == "9"
    assert reply.header("content-type") == "text/html; charset=utf-8"


def test_set_header_replaces_and_add_header_appends(asgi_call: Call) -> None:
    response = PlainTextResponse("x", headers={"X-Thing": "1"})
    response.set_header("x-thing", "2").add_header("Vary", "Cookie").add_header("vary", "Origin")
    assert response.get_header("X-THING") == "2"
    reply = asgi_call(serve(response), "GET", "/")
    assert reply.header_list("x-thing") == ["2"]
    assert reply.header_list("vary") == ["Cookie", "Origin"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("x-ok", "evil\r\nset-cookie: a=b"),
        ("x-ok", "nul\x00byte"),
        ("x-ok", "line\nfeed"),
        ("x-ok", "snow\u2603man"),
        ("bad name", "v"),
        ("x:y", "v"),
        ("", "v"),
    ],
)
def test_header_injection_is_refused_when_set(name: str, value: str) -> None:
    with pytest.raises(ValueError):
        Response("x").set_header(name, value)
    with pytest.raises(ValueError):
        Response("x", headers={name: value})


def test_several_cookies_with_safe_defaults(asgi_call: Call) -> None:
    response = Response("x")
    response.set_cookie("session", "abc123", max_age=3600)
    response.set_cookie("theme", "dark", httponly=False, samesite="strict", secure=True)
    response.delete_cookie("old")
    cookies = asgi_call(serve(response), "GET", "/").header_list("set-cookie")
    assert cookies[0] == "session=abc123; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax"
    assert cookies[1] == "theme=dark; Path=/; Secure; SameSite=Strict"
    assert cookies[2] == (
        "old=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; SameSite=Lax"
    )


def test_cookie_expires_forms() -> None:
    when = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    response = Response().set_cookie("a", "1", expires=when, path=None, domain="example.com")
    assert response.get_header("set-cookie") == (
        "a=1; Expires=Wed, 02 Jan 2030 03:04:05 GMT; Domain=example.com; HttpOnly; SameSite=Lax"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": "bad name", "value": "v"}, "invalid cookie name"),
        ({"key": "", "value": "v"}, "invalid cookie name"),
        ({"key": "k", "value": "a;b"}, "may not contain"),
        ({"key": "k", "value": "a b"}, "may not contain"),
        ({"key": "k", "value": 'say "hi"'}, "may not contain"),
        ({"key": "k", "value": "caf\u00e9"}, "may not contain"),
        ({"key": "k", "value": "v", "path": "/a;b"}, "contains ';'"),
        ({"key": "k", "value": "v", "domain": "x\r\n"}, "control character"),
        ({"key": "k", "value": "v", "samesite": "sometimes"}, "samesite must be"),
        ({"key": "k", "value": "v", "samesite": "none"}, "needs secure=True"),
    ],
)
def test_unsafe_cookies_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Response().set_cookie(**kwargs)


def test_json_is_compact_utf8(asgi_call: Call) -> None:
    data = {"name": "caf\u00e9 \u2603", "n": [1, 2.5, None, True], "nested": {"k": "v"}}
    reply = asgi_call(serve(JSONResponse(data, status=201)), "GET", "/")
    assert reply.status == 201
    assert reply.header("content-type") == "application/json"
    assert (
        reply.body
        == '{"name":"caf\u00e9 \u2603","n":[1,2.5,null,true],"nested":{"k":"v"}}'.encode()
    )


def test_json_extra_types() -> None:
    data = {
        "when": datetime.datetime(2024, 5, 6, 7, 8, 9),
        "day": datetime.date(2024, 5, 6),
        "id": uuid.UUID("3b241101-e2bb-4255-8caf-4136c566a962"),
        "price": decimal.Decimal("9.99"),
        "tags": frozenset({"a"}),
    }
    assert JSONResponse(data).body == (
        b'{"when":"2024-05-06T07:08:09","day":"2024-05-06",'
        b'"id":"3b241101-e2bb-4255-8caf-4136c566a962","price":"9.99","tags":["a"]}'
    )


def test_json_refuses_unknown_objects_instead_of_leaking_their_str() -> None:
    class Secret:
        def __str__(self) -> str:
            return "password=hunter2"

    with pytest.raises(TypeError, match="Secret is not JSON serializable"):
        JSONResponse({"x": Secret()})


@pytest.mark.skipif(_json.orjson is None, reason="orjson is not installed")
@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": [True, False, None], "c": "\u00e9\u2028</script>"},
        [0.1, 1.5, 123456789.0, 1e16, 1e300, -0.0],
        {1: "int key", "s": "str key"},
        2**80,
        {"when": datetime.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.timezone.utc)},
        "",
        [],
        {"nan": float("nan"), "inf": [float("inf"), -float("inf")]},
        {2.5: "float key", True: "bool key", None: "none key"},
        (1, (2, 3)),
    ],
)
def test_orjson_and_stdlib_give_the_same_bytes(value: Any) -> None:
    assert _json.dumps(value) == _json._dumps_stdlib(value)


@pytest.mark.skipif(_json.orjson is None, reason="orjson is not installed")
@pytest.mark.parametrize(
    "value",
    [{datetime.date(2020, 1, 1): 1}, {uuid.uuid4(): 1}, {frozenset(): 1}, object(), "\ud800"],
)
def test_orjson_and_stdlib_refuse_the_same_values(value: Any) -> None:
    for dumps in (_json.dumps, _json._dumps_stdlib):
        with pytest.raises((TypeError, ValueError)):
            dumps(value)


def test_small_floats_are_the_one_spelling_difference() -> None:
    # orjson writes 1e-7 where the standard library writes 1e-07: the same number.
    for value in (1e-7, 8.530132475717321e-05, 1.5994002884711645e-06, 0.1, 12.5):
        assert json.loads(_json.dumps(value)) == json.loads(_json._dumps_stdlib(value)) == value


def test_redirects() -> None:
    for status in (301, 302, 303, 307, 308):
        response = RedirectResponse("/caf\u00e9 x?q=1#top", status=status)
        assert response.get_header("location") == "/caf%C3%A9%20x?q=1#top"
        assert response.body == b""
    assert RedirectResponse("/").status == 302
    with pytest.raises(ValueError, match="redirect status"):
        RedirectResponse("/", status=200)
    # Control characters are percent-encoded, so they cannot split the headers.
    assert RedirectResponse("/\r\nset-cookie: x=1").get_header("location") == (
        "/%0D%0Aset-cookie:%20x=1"
    )
    assert RedirectResponse("/a%20b").get_header("location") == "/a%20b"


# -- streaming --------------------------------------------------------------------------


def test_streaming_async_and_sync_iterators(asgi_call: Call) -> None:
    async def agen() -> AsyncIterator[str]:
        for part in ("a", "b", "c"):
            yield part

    threads = set()

    def gen() -> Iterator[bytes]:
        for part in (b"x", b"y"):
            threads.add(threading.get_ident())
            yield part

    reply = asgi_call(serve(StreamingResponse(agen())), "GET", "/")
    assert reply.body == b"abc"
    assert reply.header("content-length") is None
    assert [m.get("more_body") for m in reply.messages[1:]] == [True, True, True, None]
    reply = asgi_call(
        serve(StreamingResponse(gen(), content_type="application/octet-stream")), "GET", "/"
    )
    assert reply.body == b"xy"
    assert threading.get_ident() not in threads  # a blocking generator runs off the loop


def test_streaming_stops_when_the_client_disconnects(asgi_call: Call) -> None:
    produced = []
    closed = []

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                produced.append(1)
                yield b"tick"
                await asyncio.sleep(0.001)
        finally:
            closed.append(True)

    reply = asgi_call(
        serve(StreamingResponse(endless())), "GET", "/", chunks=[b""], disconnect=True
    )
    assert reply.status == 200
    assert closed == [True]
    assert len(produced) < 1000


def test_streaming_head_sends_no_body_and_closes_the_generator(asgi_call: Call) -> None:
    closed = []

    def gen() -> Iterator[bytes]:
        try:
            yield b"never sent"
        finally:
            closed.append(True)

    iterator = gen()
    next(iterator, None)  # started, so close() runs its finally
    reply = asgi_call(serve(StreamingResponse(iterator)), "HEAD", "/")
    assert reply.body == b"" and closed == [True]


def test_streaming_error_after_start_propagates(asgi_call: Call) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"partial"
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        asgi_call(serve(StreamingResponse(broken())), "GET", "/")


# -- files ----------------------------------------------------------------------------


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"hello file\n" * 10_000)
    return path


def test_file_response(asgi_call: Call, text_file: Path) -> None:
    reply = asgi_call(serve(FileResponse(text_file)), "GET", "/")
    assert reply.status == 200
    assert reply.body == text_file.read_bytes()
    assert reply.header("content-length") == str(text_file.stat().st_size)
    assert reply.header("content-type") == "text/plain; charset=utf-8"
    assert reply.header("etag") and (reply.header("last-modified") or "").endswith("GMT")
    assert (
        len([m for m in reply.messages if m["type"] == "http.response.body"]) > 1
    )  # chunked reads


def test_file_response_head_and_conditional(asgi_call: Call, text_file: Path) -> None:
    first = asgi_call(serve(FileResponse(text_file)), "HEAD", "/")
    assert first.body == b"" and first.header("content-length") == str(text_file.stat().st_size)
    etag = first.header("etag")
    assert etag is not None
    again = asgi_call(
        serve(FileResponse(text_file)), "GET", "/", headers=[(b"if-none-match", etag.encode())]
    )
    assert again.status == 304 and again.body == b"" and again.header("etag") == etag
    since = first.header("last-modified")
    assert since is not None
    cached = asgi_call(
        serve(FileResponse(text_file)), "GET", "/", headers=[(b"if-modified-since", since.encode())]
    )
    assert cached.status == 304
    os.utime(text_file, (1, 2_000_000_000))
    fresh = asgi_call(
        serve(FileResponse(text_file)), "GET", "/", headers=[(b"if-none-match", etag.encode())]
    )
    assert fresh.status == 200


def test_file_response_download_name(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"\x00")
    response = FileResponse(path, filename='r\u00e9sum\u00e9 "final".pdf')
    assert response.get_header("content-type") == "application/pdf"
    assert response.get_header("content-disposition") == (
        'attachment; filename="r?sum? _final_.pdf"; '
        "filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf"
    )


def test_file_response_missing_file_raises_before_sending(asgi_call: Call, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        asgi_call(serve(FileResponse(tmp_path / "nope.txt")), "GET", "/")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/account", "/account"),
        ("/a/b?next=1#top", "/a/b?next=1#top"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example", "/"),
        ("evil.example", "/"),
        ("", "/"),
        (None, "/"),
        ("/a\r\nset-cookie:x", "/"),
        ("/a\\b", "/"),
        ("/tab\there", "/"),
    ],
)
def test_safe_redirect(target: str | None, expected: str) -> None:
    from bare import safe_redirect

    assert safe_redirect(target) == expected
    assert safe_redirect("//x", fallback="/home") == "/home"


def test_content_type_and_length_are_sent_once() -> None:
    response = Response("x", headers={"Content-Type": "text/csv", "Content-Length": "1"})
    assert [n for n, _ in response.raw_headers].count(b"content-type") == 1
    assert response.get_header("content-type") == "text/csv"
    response.add_header("content-length", "1")
    assert [n for n, _ in response.raw_headers].count(b"content-length") == 1


def test_no_content_type_when_none_is_asked_for(asgi_call: Call) -> None:
    assert Response("x", content_type=None).get_header("content-type") is None
    assert RedirectResponse("/x").get_header("content-type") is None
    assert Response("x").get_header("content-type") == "text/plain; charset=utf-8"


def test_body_can_be_replaced_and_its_length_follows(asgi_call: Call) -> None:
    response = PlainTextResponse("short")
    response.body = b"a longer body"
    reply = asgi_call(serve(response), "GET", "/")
    assert reply.body == b"a longer body" and reply.header("content-length") == "13"


def test_status_changed_to_bodiless_drops_body_headers(asgi_call: Call) -> None:
    response = PlainTextResponse("gone")
    response.status = 204
    reply = asgi_call(serve(response), "GET", "/")
    assert (reply.status, reply.body, reply.headers) == (204, b"", [])


def test_streaming_refuses_chunks_that_are_not_bytes_or_text(asgi_call: Call) -> None:
    with pytest.raises(TypeError, match="must yield bytes or str, not int"):
        asgi_call(serve(StreamingResponse(iter([b"ok", 5]))), "GET", "/")


def test_streaming_on_asgi_2_4_stops_when_send_fails() -> None:
    closed = []

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"tick"
        finally:
            closed.append(True)

    sent: list[Any] = []

    async def send(message: Any) -> None:
        if len(sent) == 3:
            raise ConnectionResetError("client gone")  # what ASGI 2.4 servers raise
        sent.append(message)

    async def receive() -> Any:  # pragma: no cover - a 2.4 stream does not listen
        raise AssertionError("not called")

    scope = {"type": "http", "method": "GET", "asgi": {"version": "3.0", "spec_version": "2.4"}}
    asyncio.run(StreamingResponse(endless())(scope, receive, send))
    assert len(sent) == 3 and closed == [True]


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("a.tar.gz", "application/gzip"),
        ("a.txt.bz2", "application/x-bzip2"),
        ("a.html", "text/html; charset=utf-8"),
        ("a.json", "application/json"),
        ("a.unknown-ext", "application/octet-stream"),
    ],
)
def test_file_types(tmp_path: Path, name: str, content_type: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"x")
    assert FileResponse(path).get_header("content-type") == content_type
    assert FileResponse(path).get_header("content-encoding") is None


# -- conditional requests and bodiless statuses on files (RFC 9110 13 and 15.4.5) -------

CACHING = {
    "Cache-Control": "max-age=60",
    "Vary": "Accept-Encoding",
    "Content-Location": "/files/notes.txt",
    "Expires": "Thu, 01 Jan 2037 00:00:00 GMT",
    "Content-Language": "en",
    "X-Custom": "kept",
}


def etag_of(asgi_call: Call, path: Path) -> str:
    etag = asgi_call(serve(FileResponse(path)), "HEAD", "/").header("etag")
    assert etag is not None
    return etag


def test_304_keeps_the_caching_headers_and_drops_the_content_ones(
    asgi_call: Call, text_file: Path
) -> None:
    etag = etag_of(asgi_call, text_file)
    response = FileResponse(text_file, headers=CACHING, filename="notes.txt")
    reply = asgi_call(serve(response), "GET", "/", headers=[(b"if-none-match", etag.encode())])
    assert (reply.status, reply.body) == (304, b"")
    for name in ("cache-control", "vary", "content-location", "expires", "x-custom"):
        assert reply.header_list(name) == [CACHING[name.title()] if name != "x-custom" else "kept"]
    assert reply.header_list("etag") == [etag]
    assert reply.header("last-modified") is not None
    for name in ("content-type", "content-length", "content-language", "content-disposition"):
        assert reply.header(name) is None, name


def test_304_from_if_modified_since_too(asgi_call: Call, text_file: Path) -> None:
    since = asgi_call(serve(FileResponse(text_file)), "HEAD", "/").header("last-modified")
    assert since is not None
    reply = asgi_call(
        serve(FileResponse(text_file, headers={"Cache-Control": "no-cache"})),
        "GET",
        "/",
        headers=[(b"if-modified-since", since.encode())],
    )
    assert reply.status == 304 and reply.header("cache-control") == "no-cache"
    assert reply.header("content-length") is None and reply.header("content-type") is None


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_a_matching_if_none_match_on_another_method_is_412(
    asgi_call: Call, text_file: Path, method: str
) -> None:
    etag = etag_of(asgi_call, text_file)
    for tag in (etag, "*", f'"other", W/{etag}'):
        reply = asgi_call(
            serve(FileResponse(text_file)), method, "/", headers=[(b"if-none-match", tag.encode())]
        )
        assert reply.status == 412, tag
        assert reply.json() == {"detail": "Precondition Failed"}
        assert reply.header("content-type") == "application/json"
        assert reply.header("content-length") == str(len(reply.body))
    other = asgi_call(
        serve(FileResponse(text_file)), method, "/", headers=[(b"if-none-match", b'"other"')]
    )
    assert other.status == 200 and other.body == text_file.read_bytes()


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_matching_if_none_match_on_get_or_head_is_304(
    asgi_call: Call, text_file: Path, method: str
) -> None:
    etag = etag_of(asgi_call, text_file)
    for tag in (etag, "*", f'"other", W/{etag}'):
        reply = asgi_call(
            serve(FileResponse(text_file)), method, "/", headers=[(b"if-none-match", tag.encode())]
        )
        assert reply.status == 304, tag


def test_if_none_match_over_several_lines(asgi_call: Call, text_file: Path) -> None:
    etag = etag_of(asgi_call, text_file)
    for lines in (
        [(b"if-none-match", b'"a"'), (b"if-none-match", etag.encode())],
        [(b"if-none-match", etag.encode()), (b"if-none-match", b'"a"')],
    ):
        assert asgi_call(serve(FileResponse(text_file)), "GET", "/", headers=lines).status == 304


def test_if_modified_since_is_for_get_and_head_only(asgi_call: Call, text_file: Path) -> None:
    since = asgi_call(serve(FileResponse(text_file)), "HEAD", "/").header("last-modified")
    assert since is not None
    reply = asgi_call(
        serve(FileResponse(text_file)),
        "POST",
        "/",
        headers=[(b"if-modified-since", since.encode())],
    )
    assert reply.status == 200 and reply.body == text_file.read_bytes()


def test_if_none_match_wins_over_if_modified_since(asgi_call: Call, text_file: Path) -> None:
    since = asgi_call(serve(FileResponse(text_file)), "HEAD", "/").header("last-modified")
    assert since is not None
    headers = [(b"if-none-match", b'"stale"'), (b"if-modified-since", since.encode())]
    assert asgi_call(serve(FileResponse(text_file)), "GET", "/", headers=headers).status == 200


@pytest.mark.parametrize("status", [204, 304, 101])
def test_a_file_with_a_bodiless_status_sends_no_length_and_no_body(
    asgi_call: Call, text_file: Path, status: int
) -> None:
    for method in ("GET", "HEAD"):
        reply = asgi_call(serve(FileResponse(text_file, status=status)), method, "/")
        assert (reply.status, reply.body) == (status, b"")
        assert reply.header("content-length") is None
        assert reply.header("content-type") is None
        assert [m.get("body") for m in reply.messages[1:]] == [b""]


def test_no_content_type_is_sent_for_content_type_none_or_a_redirect(asgi_call: Call) -> None:
    for response in (Response("x", content_type=None), RedirectResponse("/x")):
        reply = asgi_call(serve(response), "GET", "/")
        assert reply.header("content-type") is None
        assert reply.header("content-length") == str(len(reply.body))


def test_a_redirect_sends_one_location(asgi_call: Call) -> None:
    response = RedirectResponse("/new", headers={"Location": "/old"})
    assert asgi_call(serve(response), "GET", "/").header_list("location") == ["/new"]


def _file_call(
    response: FileResponse,
    method: str = "GET",
    extensions: dict[str, Any] | None = None,
    after_first: Callable[[], None] = lambda: None,
) -> list[dict[str, Any]]:
    """The messages `response` sends; `after_first()` runs once the first body
    message went out."""
    scope: dict[str, Any] = {"type": "http", "method": method, "headers": []}
    if extensions is not None:
        scope["extensions"] = extensions
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and len(sent) == 2:
            after_first()

    asyncio.run(response(scope, receive, send))
    return sent


def test_a_file_response_makes_one_thread_call_up_to_the_first_byte(
    text_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bare.responses

    calls: list[str] = []
    real = bare.responses.run_in_stream_thread

    async def spy(func: Any, *args: Any) -> Any:
        calls.append(func.__name__)
        return await real(func, *args)

    monkeypatch.setattr(bare.responses, "run_in_stream_thread", spy)
    size = text_file.stat().st_size  # 110 000 bytes: a first read of 64 KiB, one more
    sent = _file_call(FileResponse(text_file))
    assert [len(m["body"]) for m in sent[1:]] == [64 * 1024, size - 64 * 1024]
    assert calls == ["_open", "_read_chunk"]  # stat, preconditions, open, first read; the rest
    calls.clear()
    stat = text_file.stat()
    _file_call(FileResponse(text_file, stat_result=stat))
    assert calls == ["read_first", "_read_chunk"]
    calls.clear()
    assert _file_call(FileResponse(text_file, stat_result=stat), "HEAD")[1]["body"] == b""
    pathsend = {"http.response.pathsend": {}}
    assert _file_call(FileResponse(text_file, stat_result=stat), extensions=pathsend)[1] == {
        "type": "http.response.pathsend",
        "path": str(text_file),
    }
    assert calls == []  # the stat was given and nothing is read here
    assert _file_call(FileResponse(text_file), extensions=pathsend)[1]["type"] == (
        "http.response.pathsend"
    )
    assert calls == ["_open"]  # the stat alone


def test_a_file_response_shrinking_while_sent_ends_short(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    content = os.urandom(300 * 1024)
    path.write_bytes(content)
    sent = _file_call(FileResponse(path), after_first=lambda: os.truncate(path, 100))
    assert dict(sent[0]["headers"])[b"content-length"] == str(len(content)).encode()
    assert b"".join(m["body"] for m in sent[1:]) == content[: 64 * 1024]
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


def test_a_file_response_to_a_client_gone_closes_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bare.responses

    files: list[Any] = []

    def tracking_open(*args: Any) -> Any:
        file = open(*args)  # noqa: SIM115 - the code under test closes it
        files.append(file)
        return file

    monkeypatch.setattr(bare.responses, "open", tracking_open, raising=False)
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * (300 * 1024))

    def gone() -> None:
        raise ConnectionResetError("client gone")

    with pytest.raises(ConnectionResetError):
        _file_call(FileResponse(path), after_first=gone)
    small = tmp_path / "small.bin"
    small.write_bytes(b"y" * 10)
    assert _file_call(FileResponse(small))[1]["body"] == b"y" * 10
    assert len(files) == 2 and all(file.closed for file in files)


def test_a_response_sent_again_is_not_changed_by_what_its_receivers_did() -> None:
    # An outer middleware may change the header list of the start message in place; a
    # response sent more than once (bare's own 404, a response kept in a module) must
    # not carry those changes into the next request.
    from bare import Bare
    from bare.testing import TestClient

    kept = PlainTextResponse("kept")
    app = Bare()

    @app.get("/kept")
    async def kept_handler(request: Any) -> PlainTextResponse:
        return kept

    async def outer(scope: Any, receive: Any, send: Any) -> None:
        async def add_header(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"].append((b"x-outer", b"1"))
            await send(message)

        await app(scope, receive, add_header)

    client = TestClient(outer)
    for path, status in (("/nowhere", 404), ("/kept", 200)):
        for _ in range(3):
            response = client.get(path)
            assert response.status_code == status
            assert response.headers.get_list("x-outer") == ["1"]
