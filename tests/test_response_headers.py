"""`response.headers` (a live, checked view), the Starlette spellings of the response
arguments, and the status checked where it is set. The view runs on both header
implementations ([c] and [py])."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import bare.headers
import bare.responses
from bare.headers import MutableHeaders
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


@pytest.fixture(autouse=True)
def codecs(headers_module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test here runs on the compiled codecs and on the pure ones."""
    for module in (bare.headers, bare.responses):
        monkeypatch.setattr(module, "encode_header", headers_module.encode_header)
    monkeypatch.setattr(bare.headers, "Headers", headers_module.Headers)
    yield


def serve(response: Response) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await response(scope, receive, send)

    return app


# -- the view -----------------------------------------------------------------------------


def test_setting_a_header_through_the_view_is_sent(asgi_call: Call) -> None:
    response = PlainTextResponse("hi")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["content-type"] = "text/csv"  # replaces the default one
    reply = asgi_call(serve(response), "GET", "/")
    assert reply.header_list("x-frame-options") == ["DENY"]
    assert reply.header_list("content-type") == ["text/csv"]
    assert reply.header_list("content-length") == ["2"]


def test_reads_ignore_case_and_give_the_last_value() -> None:
    response = Response("x", headers=[("Vary", "Cookie"), ("vary", "Origin")])
    headers = response.headers
    assert headers["VARY"] == "Origin" == headers.get("vary")
    assert headers.getlist("Vary") == ["Cookie", "Origin"]
    assert "vary" in headers and "VaRy" in headers
    assert "missing" not in headers and b"vary" not in headers and None not in headers
    assert headers.get("missing") is None and headers.get("missing", "d") == "d"
    assert headers.getlist("missing") == []
    with pytest.raises(KeyError):
        headers["missing"]
    # A name no header can have (beyond latin-1, or not a token) is simply absent.
    assert headers.get("\u2603") is None and "bad name" not in headers


def test_iteration_len_keys_values_items() -> None:
    response = PlainTextResponse("hey", headers=[("Vary", "a"), ("X-One", "1"), ("vary", "b")])
    headers = response.headers
    names = ["content-type", "content-length", "vary", "x-one"]
    assert list(headers) == names and list(headers.keys()) == names
    assert len(headers) == 4
    assert list(headers.values()) == ["text/plain; charset=utf-8", "3", "b", "1"]
    assert headers.items() == [
        ("content-type", "text/plain; charset=utf-8"),
        ("content-length", "3"),
        ("vary", "a"),
        ("x-one", "1"),
        ("vary", "b"),
    ]
    assert dict(headers) == dict(headers.items())
    assert headers == {
        "content-type": "text/plain; charset=utf-8",
        "content-length": "3",
        "vary": "b",
        "x-one": "1",
    }
    assert "MutableHeaders([('content-type'" in repr(headers)


def test_set_replaces_every_value_in_place_of_the_first(asgi_call: Call) -> None:
    response = Response("x", headers=[("Vary", "a"), ("X-Other", "o"), ("Vary", "b")])
    response.headers["VARY"] = "c"
    assert response.raw_headers[2:] == [(b"vary", b"c"), (b"x-other", b"o")]
    assert asgi_call(serve(response), "GET", "/").header_list("vary") == ["c"]


def test_append_keeps_repeatable_names_and_replaces_single_ones(asgi_call: Call) -> None:
    response = Response("body")
    response.headers.append("Set-Cookie", "a=1")
    response.headers.append("set-cookie", "b=2")
    response.headers.append("Content-Type", "text/html")
    response.headers.append("content-length", "4")
    reply = asgi_call(serve(response), "GET", "/")
    assert reply.header_list("set-cookie") == ["a=1", "b=2"]
    assert reply.header_list("content-type") == ["text/html"]
    assert reply.header_list("content-length") == ["4"]


def test_delete_removes_every_value(asgi_call: Call) -> None:
    response = Response("x", headers=[("Vary", "a"), ("X-Keep", "k"), ("VARY", "b")])
    del response.headers["vary"]
    assert "vary" not in response.headers
    with pytest.raises(KeyError):
        del response.headers["vary"]
    with pytest.raises(KeyError):
        del response.headers["\u2603"]
    reply = asgi_call(serve(response), "GET", "/")
    assert reply.header_list("vary") == [] and reply.header_list("x-keep") == ["k"]


def test_mutable_mapping_methods() -> None:
    headers = Response("x", content_type=None).headers
    headers.update({"X-A": "1", "X-B": "2"})
    assert headers.setdefault("x-a", "other") == "1"
    assert headers.pop("X-B") == "2" and "x-b" not in headers
    assert headers.pop("x-b", None) is None
    headers.clear()
    assert len(headers) == 0 and headers.raw == []


def test_the_view_is_live_both_ways() -> None:
    response = Response("x")
    view = response.headers
    response.set_header("x-a", "1")
    assert view["x-a"] == "1"  # a view taken earlier sees later changes
    view["x-b"] = "2"
    assert response.get_header("x-b") == "2"
    response.body = b"longer"  # the body setter changes the list in place
    assert view["content-length"] == "6"
    assert view.raw is response.raw_headers


def test_raw_pairs_added_by_hand_in_upper_case_are_found() -> None:
    response = Response("x")
    response.raw_headers.append((b"X-Upper", b"v"))
    assert response.headers["x-upper"] == "v"
    response.headers["x-upper"] = "w"
    assert response.headers.getlist("X-UPPER") == ["w"]
    response.raw_headers.append((b"X-UPPER", b"v"))
    del response.headers["x-upper"]
    assert [n for n, _ in response.raw_headers if n.lower() == b"x-upper"] == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("x-a", "evil\r\nset-cookie: a=b", "control character (U+000D at index 4)"),
        ("x-a", "nul\x00", "control character (U+0000 at index 3)"),
        ("x-a", "bell\x07", "control character (U+0007 at index 4)"),
        ("x-a", "snow\u2603", "not latin-1 (U+2603 at index 4)"),
        ("x-a", " padded", "starts with whitespace (U+0020 at index 0)"),
        ("x-a", "padded\t", "ends with whitespace (U+0009 at index 6)"),
        ("bad name", "v", "invalid header name 'bad name'"),
        ("x:y", "v", "invalid header name 'x:y'"),
        ("", "v", "invalid header name ''"),
    ],
)
def test_bad_headers_are_refused_where_they_are_set(name: str, value: str, message: str) -> None:
    response = Response("x")
    before = list(response.raw_headers)
    for write in (response.headers.__setitem__, response.headers.append):
        with pytest.raises(ValueError) as info:
            write(name, value)
        assert message in str(info.value)
    assert response.raw_headers == before  # nothing half-set


@pytest.mark.parametrize(("name", "value"), [("x", 1), ("x", b"v"), (b"x", "v"), (None, "v")])
def test_headers_that_are_not_str_are_a_type_error(name: Any, value: Any) -> None:
    headers = Response().headers
    with pytest.raises(TypeError, match="must be str"):
        headers[name] = value
    with pytest.raises(TypeError, match="must be str"):
        headers.append(name, value)


def test_lookups_by_something_else_than_str_are_a_type_error() -> None:
    headers = Response().headers
    for lookup in (headers.get, headers.getlist, headers.__getitem__, headers.__delitem__):
        with pytest.raises(TypeError, match="header name must be str, not bytes"):
            lookup(b"content-type")


def test_a_view_over_any_list() -> None:
    raw: list[tuple[bytes, bytes]] = []
    view = MutableHeaders(raw)
    view["A"] = "1"
    view.append("a", "2")
    assert raw == [(b"a", b"1"), (b"a", b"2")]


def test_headers_given_to_the_constructor_keep_working(asgi_call: Call) -> None:
    for given in ({"X-A": "1", "Vary": "Cookie"}, [("X-A", "1"), ("Vary", "Cookie")]):
        reply = asgi_call(serve(PlainTextResponse("x", headers=given)), "GET", "/")
        assert reply.header_list("x-a") == ["1"] and reply.header_list("vary") == ["Cookie"]


@pytest.mark.parametrize(
    "response",
    [
        lambda: Response("x", headers={"Content-Type": "text/csv"}),
        lambda: HTMLResponse("x", headers=[("content-type", "text/csv")]),
        lambda: JSONResponse(1, headers={"CONTENT-TYPE": "text/csv"}),
        lambda: StreamingResponse(iter([b"x"]), headers={"Content-Type": "text/csv"}),
    ],
)
def test_a_content_type_in_headers_replaces_the_default(asgi_call: Call, response: Any) -> None:
    reply = asgi_call(serve(response()), "GET", "/")
    assert reply.header_list("content-type") == ["text/csv"]


# -- Starlette's spellings ----------------------------------------------------------------


def test_content_status_code_and_media_type(asgi_call: Call) -> None:
    response = Response(content="<b>x</b>", status_code=201, media_type="text/html")
    reply = asgi_call(serve(response), "GET", "/")
    assert (reply.status, reply.body) == (201, b"<b>x</b>")
    assert reply.header("content-type") == "text/html"
    assert JSONResponse(content={"a": 1}, status_code=202).body == b'{"a":1}'
    assert JSONResponse().body == b"null"  # as before: no data is JSON null
    assert JSONResponse(content=None).body == b"null"
    assert PlainTextResponse(content="t", media_type=None).get_header("content-type") is None
    assert RedirectResponse("/x", status_code=303).status == 303
    assert StreamingResponse(iter(()), status_code=206, media_type="text/csv").status == 206
    assert StreamingResponse(iter(()), media_type="a/b").get_header("content-type") == "a/b"


def test_file_response_aliases(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("x")
    response = FileResponse(path, status_code=203, media_type="text/csv")
    assert (response.status, response.get_header("content-type")) == (203, "text/csv")
    with pytest.raises(TypeError, match="content_type or media_type, not both"):
        FileResponse(path, content_type="a/b", media_type="a/b")
    with pytest.raises(TypeError, match="status or status_code, not both"):
        FileResponse(path, 200, status_code=200)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Response("a", content="b"), "body or content, not both"),
        (lambda: Response(None, content="b"), "body or content, not both"),
        (lambda: JSONResponse({}, content={}), "body or content, not both"),
        (lambda: Response(status=200, status_code=201), "status or status_code, not both"),
        (lambda: Response("a", 404, status_code=404), "status or status_code, not both"),
        (lambda: HTMLResponse(content_type=None, media_type="a/b"), "content_type or media_type"),
        (lambda: Response(content_type="a/b", media_type=None), "content_type or media_type"),
        (lambda: RedirectResponse("/", 302, status_code=301), "status or status_code, not both"),
        (lambda: StreamingResponse([], 200, status_code=200), "status or status_code, not both"),
        (lambda: StreamingResponse([], content_type="a", media_type="a"), "content_type or"),
    ],
)
def test_giving_both_spellings_is_a_type_error(make: Callable[[], Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        make()


def test_status_code_is_the_status() -> None:
    response = Response()
    assert response.status_code == response.status == 200
    response.status_code = 404
    assert response.status == 404
    response.status = HTTPStatus.CREATED
    assert response.status_code == 201 and type(response.status) is int
    assert RedirectResponse("/").status_code == 302


# -- the status, checked where it is set --------------------------------------------------


@pytest.mark.parametrize("status", [99, 600, 0, -200, 1000, "200", 200.0, None, True])
def test_a_bad_status_is_refused_when_set(status: Any) -> None:
    message = f"an HTTP status is an int from 100 to 599, not {status!r}"
    with pytest.raises(ValueError) as info:
        Response(status=status)
    assert str(info.value) == message
    if status is not None:  # status_code=None is status_code left out
        with pytest.raises(ValueError):
            Response(status_code=status)
    with pytest.raises(ValueError):
        StreamingResponse([], status=status)
    response = Response()
    with pytest.raises(ValueError):
        response.status = status
    with pytest.raises(ValueError):
        response.status_code = status
    assert response.status == 200  # unchanged


@pytest.mark.parametrize("status", [100, 101, 199, 200, 204, 418, 599, HTTPStatus.ACCEPTED])
def test_every_http_status_is_accepted(status: int) -> None:
    assert Response(status=status).status == status
    assert type(Response(status=status).status) is int


def test_file_response_checks_its_status(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="from 100 to 599, not 42"):
        FileResponse(tmp_path / "x", status=42)
