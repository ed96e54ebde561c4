"""`bare.testing`: the sync and async test clients, seen from the app's side and the test's."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import json
import sys
import threading
import zlib
from collections.abc import AsyncIterator, Callable, Iterable
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import HTTP
from typing import Any

import pytest

from bare import Bare, JSONResponse, PlainTextResponse, RedirectResponse, Request, Response
from bare._testing_cookies import parse_cookie_date, parse_set_cookie
from bare.testing import (
    AsyncTestClient,
    ClientDisconnected,
    HTTPStatusError,
    LifespanError,
    TestClient,
    WebSocketDenied,
    WebSocketDisconnect,
)
from bare.types import Message, Receive, Scope, Send
from bare.websockets import WebSocket

# -- small ASGI apps ------------------------------------------------------------------


async def read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    messages = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return b"".join(m.get("body", b"") for m in messages), messages


async def send_json(send: Send, data: Any, status: int = 200, headers: Iterable[Any] = ()) -> None:
    body = json.dumps(data).encode()
    raw = [(b"content-type", b"application/json"), *headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with what it received: the scope (made JSON-safe) and the body."""
    assert scope["type"] == "http"
    body, messages = await read_body(receive)
    described = {
        key: (value.decode("latin-1") if isinstance(value, bytes) else value)
        for key, value in scope.items()
        if key not in ("headers", "state")
    }
    described["headers"] = [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope["headers"]]
    described["has_state"] = "state" in scope
    described["body"] = body.decode("latin-1")
    described["chunks"] = [m.get("more_body", False) for m in messages]
    await send_json(send, described)


def header_names(described: dict[str, Any]) -> list[str]:
    return [name for name, _ in described["headers"]]


def header_value(described: dict[str, Any], name: str) -> str | None:
    values = [value for key, value in described["headers"] if key == name]
    assert len(values) <= 1, values
    return values[0] if values else None


# -- methods, URLs and the scope ------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options", "head"])
def test_every_method_shortcut_sends_its_method(method: str) -> None:
    client = TestClient(echo_app)
    response = getattr(client, method)("/things")
    assert response.status_code == 200
    assert response.request.method == method.upper()
    if method == "head":  # the server drops a HEAD body, keeps the headers
        assert response.content == b""
        assert response.headers["content-type"] == "application/json"
    else:
        assert response.json()["method"] == method.upper()


def test_request_takes_any_method() -> None:
    response = TestClient(echo_app).request("purge", "/cache")
    assert response.json()["method"] == "PURGE"


def test_scope_is_built_as_a_server_builds_it() -> None:
    data = TestClient(echo_app).get("/a/b?x=1").json()
    assert data["type"] == "http"
    assert data["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert data["http_version"] == "1.1"
    assert data["scheme"] == "http"
    assert data["server"] == ["testserver", 80]
    assert data["client"] == ["testclient", 50000]
    assert data["root_path"] == ""
    assert data["path"] == "/a/b"
    assert data["raw_path"] == "/a/b"
    assert data["query_string"] == "x=1"
    assert data["has_state"] is False  # no lifespan ran
    assert data["headers"] == [
        ["host", "testserver"],
        ["user-agent", "testclient"],
        ["accept", "*/*"],
        ["accept-encoding", "gzip, deflate"],
        ["connection", "keep-alive"],
    ]


def test_base_url_sets_scheme_host_port_and_path_prefix() -> None:
    client = TestClient(echo_app, base_url="https://example.org:8443/api/")
    data = client.get("items").json()
    assert data["scheme"] == "https"
    assert data["server"] == ["example.org", 8443]
    assert header_value(data, "host") == "example.org:8443"
    assert data["path"] == "/api/items"


def test_absolute_url_overrides_the_base_url() -> None:
    response = TestClient(echo_app).get("http://other.test:81/x")
    assert header_value(response.json(), "host") == "other.test:81"
    assert response.url == "http://other.test:81/x"


def test_path_is_percent_decoded_and_raw_path_keeps_the_escapes() -> None:
    client = TestClient(echo_app)
    data = client.get("/caf%C3%A9/a%2Fb").json()
    assert data["path"] == "/café/a/b"
    assert data["raw_path"] == "/caf%C3%A9/a%2Fb"
    data = client.get("/café/two words").json()  # unescaped input is escaped for the wire
    assert data["path"] == "/café/two words"
    assert data["raw_path"] == "/caf%C3%A9/two%20words"


def test_root_path_prefixes_path_and_raw_path() -> None:
    data = TestClient(echo_app, root_path="/api").get("/items").json()
    assert data["root_path"] == "/api"
    assert data["path"] == "/api/items"
    assert data["raw_path"] == "/api/items"


def test_params_are_merged_with_the_query_and_can_repeat() -> None:
    client = TestClient(echo_app)
    data = client.get("/search?q=a+b", params={"tag": ["x", "y"], "page": 2, "on": True}).json()
    assert data["query_string"] == "q=a+b&tag=x&tag=y&page=2&on=true"
    data = client.get("/search", params=[("k", "1"), ("k", "2 3"), ("é", "ü")]).json()
    assert data["query_string"] == "k=1&k=2%203&%C3%A9=%C3%BC"


def test_bare_sees_multi_valued_params() -> None:
    app = Bare()

    @app.get("/search")
    async def search(request: Request) -> Any:
        return {"q": request.query_params["q"], "first": request.query("q")}

    response = TestClient(app).get("/search?q=1", params={"q": ["2", "3"]})
    assert response.json() == {"q": ["1", "2", "3"], "first": "1"}


# -- request bodies -------------------------------------------------------------------


def test_json_body_is_compact_utf8_with_content_type() -> None:
    data = TestClient(echo_app).post("/", json={"name": "Zoë", "n": [1, 2]}).json()
    assert data["body"].encode("latin-1") == '{"name":"Zoë","n":[1,2]}'.encode()
    assert header_value(data, "content-type") == "application/json"
    assert header_value(data, "content-length") == str(len('{"name":"Zoë","n":[1,2]}'.encode()))


def test_form_data_is_urlencoded_and_multi_valued() -> None:
    data = TestClient(echo_app).post("/", data={"a": "1 2", "b": ["x", "&"]}).json()
    assert data["body"] == "a=1+2&b=x&b=%26"
    assert header_value(data, "content-type") == "application/x-www-form-urlencoded"


def test_raw_data_and_content_are_sent_as_given() -> None:
    client = TestClient(echo_app)
    data = client.put("/", content=b"\x00\xffraw", headers={"Content-Type": "app/x"}).json()
    assert data["body"] == "\x00\xffraw"
    assert header_value(data, "content-type") == "app/x"
    data = client.post("/", data="plain text").json()
    assert data["body"] == "plain text"
    assert header_value(data, "content-type") is None
    data = client.post("/", content="é").json()
    assert data["body"].encode("latin-1") == "é".encode()


def test_content_length_follows_rfc9110() -> None:
    client = TestClient(echo_app)
    assert header_value(client.get("/").json(), "content-length") is None
    assert header_value(client.post("/").json(), "content-length") == "0"
    assert header_value(client.delete("/", content=b"abc").json(), "content-length") == "3"


def test_iterable_content_is_streamed_in_chunks() -> None:
    data = TestClient(echo_app).post("/", content=iter([b"ab", b"cd", b"e"])).json()
    assert data["body"] == "abcde"
    assert data["chunks"] == [True, True, False]
    assert header_value(data, "transfer-encoding") == "chunked"
    assert header_value(data, "content-length") is None


def test_only_one_kind_of_body_is_accepted() -> None:
    client = TestClient(echo_app)
    with pytest.raises(TypeError, match="only one of"):
        client.post("/", json={}, content=b"x")
    with pytest.raises(TypeError, match="files="):
        client.post("/", files={"f": b"x"}, json={})


def parse_multipart(content_type: str, body: bytes) -> list[EmailMessage]:
    """Read a multipart body with the stdlib MIME parser: proof that it is well formed."""
    document = f"Content-Type: {content_type}\r\n\r\n".encode() + body
    message = message_from_bytes(document, policy=HTTP)
    assert isinstance(message, EmailMessage)
    assert message.is_multipart() and not message.defects
    return list(message.iter_parts())  # type: ignore[arg-type]


def test_files_build_a_well_formed_multipart_body() -> None:
    received: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body, _ = await read_body(receive)
        received["content_type"] = dict(scope["headers"])[b"content-type"].decode()
        received["length"] = int(dict(scope["headers"])[b"content-length"])
        received["body"] = body
        await send_json(send, "ok")

    binary = bytes(range(256)) + b"\r\n--not-a-boundary\r\n"
    upload = io.BytesIO(b"file object bytes")
    upload.name = "/tmp/dir/report.csv"
    TestClient(app).post(
        "/upload",
        data={"title": 'Zoë\'s "notes"', "tags": ["a", "b"]},
        files={
            "blob": binary,
            "doc": ("notes.txt", "some text\r\nline 2", "text/plain; charset=utf-8"),
            "report": upload,
            "raw": ("data.bin", b"xyz"),
        },
    )
    content_type, body = received["content_type"], received["body"]
    assert content_type.startswith("multipart/form-data; boundary=")
    assert received["length"] == len(body)
    boundary = content_type.split("boundary=")[1]
    assert body.endswith(f"--{boundary}--\r\n".encode())

    parts = parse_multipart(content_type, body)
    fields = [(p.get_param("name", header="content-disposition"), p.get_filename()) for p in parts]
    assert fields == [
        ("title", None),
        ("tags", None),
        ("tags", None),
        ("blob", "blob"),
        ("doc", "notes.txt"),
        ("report", "report.csv"),
        ("raw", "data.bin"),
    ]
    payloads = [p.get_payload(decode=True) for p in parts]
    assert payloads[0] == 'Zoë\'s "notes"'.encode()
    assert payloads[1:3] == [b"a", b"b"]
    assert payloads[3] == binary
    assert payloads[4] == b"some text\r\nline 2"
    assert payloads[5] == b"file object bytes"
    assert [p.get_content_type() for p in parts[3:]] == [
        "application/octet-stream",
        "text/plain",
        "text/csv",
        "application/octet-stream",
    ]
    # The quote in a field value is data; in a name it would be escaped as %22.
    assert b'name="title"' in body


def test_multipart_escapes_quotes_and_newlines_in_names() -> None:
    got: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        got.append((await read_body(receive))[0])
        await send_json(send, None)

    TestClient(app).post("/", files={'a"b': ('x"\r\ny.txt', b"1")})
    assert b'name="a%22b"; filename="x%22%0D%0Ay.txt"' in got[0]


# -- responses and headers ------------------------------------------------------------


def test_response_headers_are_case_insensitive_and_multi_valued() -> None:
    app = Bare()

    @app.get("/")
    async def index(request: Request) -> Response:
        response = PlainTextResponse("hi", headers={"X-Thing": "1"})
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        return response

    response = TestClient(app).get("/")
    headers = response.headers
    assert headers["x-thing"] == headers["X-THING"] == headers.get("X-Thing") == "1"
    assert headers.get("missing") is None
    assert "Content-Type" in headers
    assert len(headers.get_list("set-cookie")) == 2
    assert headers.getlist("Set-Cookie") == headers.get_list("set-cookie")
    assert headers.get_list("set-cookie")[0].startswith("a=1;")
    assert [name for name, _ in headers.items()].count("set-cookie") == 2
    assert list(headers).count("set-cookie") == 1
    with pytest.raises(KeyError):
        headers["nope"]


def test_request_headers_override_defaults_case_insensitively() -> None:
    client = TestClient(echo_app, headers={"X-Client": "c", "User-Agent": "mine"})
    data = client.get("/", headers={"x-client": "request", "X-Extra": "e"}).json()
    assert header_value(data, "user-agent") == "mine"
    assert header_value(data, "x-client") == "request"
    assert header_value(data, "x-extra") == "e"
    data = client.get("/", headers=[("X-Rep", "1"), ("X-Rep", "2")]).json()
    assert [v for n, v in data["headers"] if n == "x-rep"] == ["1", "2"]
    with pytest.raises(ValueError):
        client.get("/", headers={"x-bad": "a\r\nb"})


def test_response_attributes() -> None:
    app = Bare()

    @app.get("/missing")
    async def missing(request: Request) -> Response:
        return JSONResponse({"detail": "gone"}, status=404)

    @app.get("/found")
    async def found(request: Request) -> str:
        return "here"

    response = TestClient(app).get("/missing?x=1")
    assert response.status_code == 404
    assert response.reason_phrase == "Not Found"
    assert response.url == "http://testserver/missing?x=1"
    assert response.request.url == response.url
    assert response.request.headers["host"] == "testserver"
    assert not response.is_success and not response.is_redirect
    assert repr(response) == "<ClientResponse [404 Not Found]>"
    with pytest.raises(HTTPStatusError, match="404 Not Found") as info:
        response.raise_for_status()
    assert info.value.response is response
    fine = TestClient(app).get("/found")
    assert fine.raise_for_status() is fine
    assert fine.is_success and fine.reason_phrase == "OK"


@pytest.mark.parametrize(
    ("content_type", "raw", "text"),
    [
        ("text/plain; charset=iso-8859-1", "café".encode("latin-1"), "café"),
        ('text/plain; charset="UTF-16"', "日本".encode("utf-16"), "日本"),
        ("text/plain", "naïve".encode(), "naïve"),
        ("text/plain; charset=no-such-codec", "ok é".encode(), "ok é"),
    ],
)
def test_text_is_decoded_with_the_content_type_charset(
    content_type: str, raw: bytes, text: str
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", content_type.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": raw})

    response = TestClient(app).get("/")
    assert response.content == raw
    assert response.text == text


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("coding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", raw_deflate)],
)
def test_compressed_responses_are_decoded(coding: str, compress: Callable[[bytes], bytes]) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = compress(b'{"big": true}')
        headers = [(b"content-encoding", coding.encode()), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body[:5], "more_body": True})
        await send({"type": "http.response.body", "body": body[5:]})

    response = TestClient(app).get("/")
    assert response.headers["content-encoding"] == coding
    assert response.json() == {"big": True}


def test_a_compressed_head_answer_has_no_body_to_decode() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-encoding", b"gzip"), (b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    response = TestClient(app).head("/")
    assert (response.status_code, response.content) == (200, b"")
    assert response.headers["content-encoding"] == "gzip"


def test_redirects_are_not_followed_by_default() -> None:
    app = Bare()

    @app.get("/new")
    async def new(request: Request) -> str:
        return f"new {request.query('q')}"

    @app.post("/form")
    async def form(request: Request) -> Response:
        return RedirectResponse("/new?q=posted", status=303)

    client = TestClient(app)
    response = client.get("/new/?q=1")  # Bare's redirect_slashes answers 308
    assert response.status_code == 308
    assert response.is_redirect
    assert response.headers["location"] == "/new?q=1"

    followed = client.get("/new/?q=1", follow_redirects=True)
    assert followed.status_code == 200
    assert followed.text == "new 1"
    assert [r.status_code for r in followed.history] == [308]
    assert followed.url == "http://testserver/new?q=1"

    after_post = TestClient(app, follow_redirects=True).post("/form", data={"a": "b"})
    assert after_post.request.method == "GET"  # 303: see other, with GET
    assert after_post.text == "new posted"
    assert "content-type" not in after_post.request.headers


def test_redirect_307_keeps_method_and_body() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/old":
            await read_body(receive)
            headers = [(b"location", b"http://testserver/new")]
            await send({"type": "http.response.start", "status": 307, "headers": headers})
            await send({"type": "http.response.body"})
        else:
            await echo_app(scope, receive, send)

    response = TestClient(app).post("/old", json=[1], follow_redirects=True)
    assert response.json()["method"] == "POST"
    assert response.json()["body"] == "[1]"


def test_too_many_redirects_raise() -> None:
    async def loop_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 302, "headers": [(b"location", b"/")]})
        await send({"type": "http.response.body"})

    with pytest.raises(RuntimeError, match="more than 3 redirects"):
        TestClient(loop_app, max_redirects=3).get("/", follow_redirects=True)


# -- cookies --------------------------------------------------------------------------


def cookie_app() -> Bare:
    app = Bare()

    @app.get("/login")
    async def login(request: Request) -> Response:
        response = PlainTextResponse("in")
        response.set_cookie("session", "abc123")
        response.set_cookie("theme", "dark", max_age=3600)
        response.set_cookie("scoped", "yes", path="/admin")
        return response

    @app.get("/logout")
    async def logout(request: Request) -> Response:
        response = PlainTextResponse("out")
        response.delete_cookie("session")
        response.add_header("set-cookie", "theme=x; Expires=Wed, 21 Oct 2015 07:28:00 GMT")
        return response

    @app.get("/whoami")
    async def whoami(request: Request) -> dict[str, str]:
        return request.cookies

    @app.get("/admin/whoami")
    async def admin_whoami(request: Request) -> dict[str, str]:
        return request.cookies

    @app.get("/elsewhere")
    async def elsewhere(request: Request) -> Response:
        response = PlainTextResponse("x")
        response.add_header("set-cookie", "evil=1; Domain=other.example")
        response.add_header("set-cookie", "broad=1; Domain=.testserver")
        return response

    return app


def test_cookie_jar_round_trip_path_and_deletion() -> None:
    client = TestClient(cookie_app())
    login = client.get("/login")
    assert login.cookies == {"session": "abc123", "theme": "dark", "scoped": "yes"}
    assert dict(client.cookies) == {"session": "abc123", "theme": "dark", "scoped": "yes"}
    assert client.get("/whoami").json() == {"session": "abc123", "theme": "dark"}
    # The most specific path comes first.
    assert client.get("/admin/whoami").request.headers["cookie"] == (
        "scoped=yes; session=abc123; theme=dark"
    )

    logout = client.get("/logout")
    assert logout.cookies == {}  # both cookies were deleted, not set
    assert client.get("/whoami").json() == {}
    assert dict(client.cookies) == {"scoped": "yes"}


def test_cookie_domain_must_cover_the_host() -> None:
    client = TestClient(cookie_app())
    client.get("/elsewhere")
    assert dict(client.cookies) == {"broad": "1"}


def test_cookies_set_by_hand_and_per_request() -> None:
    client = TestClient(cookie_app(), cookies={"a": "1"})
    client.cookies["b"] = "2"
    assert client.get("/whoami").json() == {"a": "1", "b": "2"}
    assert client.get("/whoami", cookies={"b": "override", "c": "3"}).json() == {
        "a": "1",
        "b": "override",
        "c": "3",
    }
    assert dict(client.cookies) == {"a": "1", "b": "2"}  # per-request cookies are not kept
    del client.cookies["a"]
    client.cookies = {"z": "26"}
    assert client.get("/whoami").json() == {"z": "26"}
    # A server's Set-Cookie replaces a hand-set cookie of the same name, and can delete it.
    client.cookies["session"] = "by-hand"
    client.get("/login")
    assert client.cookies["session"] == "abc123"
    client.get("/logout")
    assert "session" not in client.cookies


def test_secure_cookies_go_over_https_only() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        cookie = dict(scope["headers"]).get(b"cookie", b"").decode()
        headers = [(b"set-cookie", b"s=1; Secure; Path=/"), (b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": cookie.encode()})

    plain = TestClient(app)
    plain.get("/")
    assert plain.get("/").text == ""
    secure = TestClient(app, base_url="https://testserver")
    secure.get("/")
    assert secure.get("/").text == "s=1"


# -- errors ---------------------------------------------------------------------------


class Boom(Exception):
    pass


async def raising_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise Boom("kaboom")


def test_app_exception_is_reraised_in_the_test() -> None:
    with pytest.raises(Boom, match="kaboom"):
        TestClient(raising_app).get("/")


def test_app_exception_becomes_500_when_asked() -> None:
    response = TestClient(raising_app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"


def test_protocol_errors_are_reported() -> None:
    async def no_response(scope: Scope, receive: Receive, send: Send) -> None:
        pass

    async def body_first(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.body", "body": b"x"})

    async def str_body(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": "text"})

    with pytest.raises(RuntimeError, match="without completing"):
        TestClient(no_response).get("/")
    with pytest.raises(RuntimeError, match=r"before http\.response\.start"):
        TestClient(body_first).get("/")
    with pytest.raises(TypeError, match="needs bytes"):
        TestClient(str_body).get("/")
    assert TestClient(no_response, raise_server_exceptions=False).get("/").status_code == 500


def test_error_after_the_response_started_returns_what_was_sent() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise Boom("mid-stream")

    with pytest.raises(Boom):
        TestClient(app).get("/")
    response = TestClient(app, raise_server_exceptions=False).get("/")
    assert (response.status_code, response.content) == (200, b"part")


def test_bare_handler_errors_reach_the_test() -> None:
    app = Bare()
    child = Bare()

    @app.get("/fail")
    async def fail(request: Request) -> str:
        raise Boom("in handler")

    @child.get("/deep")
    async def deep(request: Request) -> str:
        raise Boom("in a mounted app")

    app.mount("/child", child)
    # Bare answers 500 and keeps the exception in the scope; the client raises it.
    with pytest.raises(Boom, match="in handler"):
        TestClient(app).get("/fail")
    with pytest.raises(Boom, match="in a mounted app"):
        TestClient(app).get("/child/deep")
    response = TestClient(app, raise_server_exceptions=False).get("/fail")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}


def test_receive_waits_for_the_response_then_reports_disconnect() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await read_body(receive)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        entered = asyncio.Event()

        async def wait_for_disconnect() -> Message:
            entered.set()
            return await receive()

        waiter = asyncio.ensure_future(wait_for_disconnect())
        # Resumed only after the waiter's first step, which either returned from
        # receive() (too early) or is blocked in it.
        await entered.wait()
        seen.append("waiting" if not waiter.done() else "early")
        await send({"type": "http.response.body", "body": b"done"})
        seen.append((await waiter)["type"])

    assert TestClient(app).get("/").content == b"done"
    assert seen == ["waiting", "http.disconnect"]


# -- the event loop and lifespan ------------------------------------------------------


def lifespan_app(events: list[str], fail: str | None = None) -> Callable[..., Any]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    if fail == "startup":
                        await send({"type": "lifespan.startup.failed", "message": "no db"})
                        return
                    scope["state"]["db"] = "connected"
                    await send({"type": "lifespan.startup.complete"})
                else:
                    if fail == "shutdown":
                        await send({"type": "lifespan.shutdown.failed", "message": "stuck"})
                    else:
                        await send({"type": "lifespan.shutdown.complete"})
                    return
        state = scope.get("state")
        body = {
            "state": dict(state) if state is not None else None,
            "thread": threading.get_ident(),
        }
        scope.get("state", {})["mutated"] = True  # a copy: must not leak to later requests
        events.append("request")
        await read_body(receive)
        await send_json(send, body)

    return app


def test_lifespan_runs_around_the_with_block_and_shares_state() -> None:
    events: list[str] = []
    with TestClient(lifespan_app(events)) as client:
        assert events == ["lifespan.startup"]
        first = client.get("/").json()
        second = client.get("/").json()
        assert first["state"] == second["state"] == {"db": "connected"}
        assert first["thread"] == second["thread"] != threading.get_ident()
    assert events == ["lifespan.startup", "request", "request", "lifespan.shutdown"]


def test_without_with_no_lifespan_runs_and_each_call_gets_a_fresh_loop() -> None:
    events: list[str] = []
    client = TestClient(lifespan_app(events))
    assert client.get("/").json()["state"] is None
    assert events == ["request"]

    loops: list[asyncio.AbstractEventLoop] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        loops.append(asyncio.get_running_loop())  # kept alive, so never the same object
        await send_json(send, None)

    client = TestClient(app)
    client.get("/")
    client.get("/")
    assert loops[0] is not loops[1]
    assert all(loop.is_closed() for loop in loops)
    assert not [t for t in threading.enumerate() if t.name == "bare-testclient"]


def test_lifespan_startup_failure_raises_with_the_app_message() -> None:
    events: list[str] = []
    with pytest.raises(LifespanError, match="no db"), TestClient(lifespan_app(events, "startup")):
        pytest.fail("the block must not run")  # pragma: no cover
    assert events == ["lifespan.startup"]
    assert not [t for t in threading.enumerate() if t.name == "bare-testclient"]


def test_lifespan_shutdown_failure_raises() -> None:
    events: list[str] = []
    with pytest.raises(LifespanError, match="stuck"), TestClient(lifespan_app(events, "shutdown")):
        pass
    assert events == ["lifespan.startup", "lifespan.shutdown"]


def test_apps_without_lifespan_support_are_served_anyway() -> None:
    async def http_only(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http", "no lifespan here"
        await send_json(send, "served")

    async def returns_early(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await send_json(send, "served")

    for app in (http_only, returns_early):
        with TestClient(app) as client:
            assert client.get("/").json() == "served"


def test_bare_lifespan_handlers_and_state() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Bare) -> AsyncIterator[dict[str, Any]]:
        events.append("enter")
        yield {"pool": "ready"}
        events.append("exit")

    app = Bare(lifespan=lifespan, on_startup=[lambda: events.append("startup")])
    app.on_shutdown(lambda: events.append("shutdown"))

    @app.get("/")
    async def index(request: Request) -> Any:
        return {"pool": request.state.pool}

    with TestClient(app) as client:
        assert events == ["startup", "enter"]
        assert client.get("/").json() == {"pool": "ready"}
    assert events == ["startup", "enter", "exit", "shutdown"]


def test_bare_startup_failure_message_reaches_the_test() -> None:
    app = Bare()

    @app.on_startup
    async def connect() -> None:
        raise ConnectionError("database unreachable")

    message = "ConnectionError: database unreachable"
    with pytest.raises(LifespanError, match=message), TestClient(app):
        pass  # pragma: no cover


def test_handlers_can_use_asyncio_across_calls_in_one_loop() -> None:
    app = Bare()
    app.state.lock = None

    @app.get("/lock")
    async def lock(request: Request) -> bool:
        if app.state.lock is None:
            app.state.lock = asyncio.Lock()  # bound to the loop on first use
        async with app.state.lock:
            await asyncio.sleep(0)
        return True

    with TestClient(app) as client:
        assert client.get("/lock").json() is True
        assert client.get("/lock").json() is True


# -- WebSockets -----------------------------------------------------------------------


def websocket_app() -> Bare:
    app = Bare()

    @app.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept(headers=[("x-hello", "1")])
        async for message in websocket:
            if message == "bye":
                await websocket.close(4000, "bye to you")
                return
            if isinstance(message, bytes):
                await websocket.send_bytes(message[::-1])
            else:
                await websocket.send_text(message.upper())

    @app.websocket("/json")
    async def json_echo(websocket: WebSocket) -> None:
        await websocket.accept(
            subprotocol="v2" if "v2" in websocket.scope["subprotocols"] else None
        )
        data = await websocket.receive_json()
        await websocket.send_json({"got": data, "query": websocket.query("q")})

    @app.websocket("/silent")
    async def silent(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive()

    @app.websocket("/forbidden")
    async def forbidden(websocket: WebSocket) -> None:
        await websocket.close(4403, "members only")

    @app.websocket("/denied-page")
    async def denied_page(websocket: WebSocket) -> None:
        await websocket.deny(PlainTextResponse("log in first", status=401))

    return app


def test_websocket_echo_text_and_bytes() -> None:
    client = TestClient(websocket_app())
    with client.websocket_connect("/echo") as ws:
        assert ws.extra_headers["x-hello"] == "1"
        assert ws.accepted_subprotocol is None
        ws.send_text("hello")
        assert ws.receive_text() == "HELLO"
        ws.send_bytes(b"\x01\x02\x03")
        assert ws.receive_bytes() == b"\x03\x02\x01"
        ws.send_text("bye")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert (info.value.code, info.value.reason) == (4000, "bye to you")


def test_websocket_json_subprotocol_and_query() -> None:
    client = TestClient(websocket_app())
    with client.websocket_connect("/json?q=1", subprotocols=["v1", "v2"]) as ws:
        assert ws.accepted_subprotocol == "v2"
        ws.send_json({"a": [1, "é"]})
        assert ws.receive_json() == {"got": {"a": [1, "é"]}, "query": "1"}


def test_websocket_scope() -> None:
    scopes: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        assert (await receive())["type"] == "websocket.disconnect"

    client = TestClient(app, base_url="https://testserver", cookies={"c": "1"})
    with client.websocket_connect("/ws/caf%C3%A9?x=y", subprotocols=["chat"]) as ws:
        assert ws.scope is scopes[0]
    scope = scopes[0]
    assert scope["type"] == "websocket"
    assert scope["scheme"] == "wss"
    assert scope["path"] == "/ws/café"
    assert scope["raw_path"] == b"/ws/caf%C3%A9"
    assert scope["query_string"] == b"x=y"
    assert scope["subprotocols"] == ["chat"]
    assert scope["asgi"]["spec_version"] == "2.4"
    assert "websocket.http.response" in scope["extensions"]
    headers = dict(scope["headers"])
    assert headers[b"host"] == b"testserver"
    assert headers[b"upgrade"] == b"websocket"
    assert headers[b"sec-websocket-version"] == b"13"
    assert headers[b"sec-websocket-protocol"] == b"chat"
    assert headers[b"cookie"] == b"c=1"
    assert "method" not in scope


def test_websocket_rejected_before_accept() -> None:
    client = TestClient(websocket_app())
    with pytest.raises(WebSocketDenied) as info, client.websocket_connect("/forbidden"):
        pytest.fail("the block must not run")  # pragma: no cover
    assert (info.value.code, info.value.reason) == (4403, "members only")
    assert info.value.status_code == 403
    with pytest.raises(WebSocketDenied) as info, client.websocket_connect("/no-such-route"):
        pass  # pragma: no cover
    assert info.value.code == 1008


def test_websocket_denied_with_an_http_response() -> None:
    client = TestClient(websocket_app())
    with pytest.raises(WebSocketDenied) as info, client.websocket_connect("/denied-page"):
        pass  # pragma: no cover
    assert info.value.code is None
    assert info.value.status_code == 401
    assert info.value.response.text == "log in first"


def test_websocket_receive_times_out_with_its_own_timeout(monkeypatch: Any) -> None:
    waits: list[float | None] = []
    wait_for = asyncio.wait_for

    async def recording_wait_for(awaitable: Any, timeout: float | None) -> Any:
        waits.append(timeout)
        return await wait_for(awaitable, timeout)

    client = TestClient(websocket_app())
    with client.websocket_connect("/silent", timeout=30) as ws:
        monkeypatch.setattr(asyncio, "wait_for", recording_wait_for)
        with pytest.raises(TimeoutError, match=r"within 0\.2 s"):
            ws.receive_text(timeout=0.2)
        monkeypatch.undo()
        ws.send_text("still open")  # a timeout leaves the session usable
    assert waits == [0.2]  # the receive's own timeout, not the session's


def test_websocket_handshake_timeout_cancels_the_app() -> None:
    cancelled: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()
            try:
                await asyncio.Event().wait()  # never answers the handshake
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

    with TestClient(app) as client:
        with pytest.raises(TimeoutError), client.websocket_connect("/", timeout=0.2):
            pass  # pragma: no cover
        assert cancelled == [True]


def test_websocket_raw_messages_and_binary_json() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        for _ in range(2):
            message = await receive()
            await send({"type": "websocket.send", "bytes": message["bytes"]})
        await send({"type": "websocket.close", "code": 1001, "reason": "going away"})
        assert (await receive())["type"] == "websocket.disconnect"

    with TestClient(app).websocket_connect("/") as ws:
        ws.send_json({"k": 1}, mode="binary")
        ws.send_json([True], mode="binary")
        assert ws.receive() == {"type": "websocket.send", "bytes": b'{"k":1}'}
        assert ws.receive_json() == [True]
        assert ws.receive() == {"type": "websocket.close", "code": 1001, "reason": "going away"}
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive()
        assert info.value.code == 1001


def test_websocket_client_close_reaches_the_app() -> None:
    seen: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        seen.append(await receive())
        try:
            await send({"type": "websocket.send", "text": "too late"})
        except ClientDisconnected as exc:
            seen.append(isinstance(exc, OSError))
            raise

    with TestClient(app).websocket_connect("/") as ws:
        ws.close(4001, "done here")
    assert seen == [{"type": "websocket.disconnect", "code": 4001, "reason": "done here"}, True]


def test_websocket_app_errors() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        raise Boom("ws handler")

    with TestClient(app).websocket_connect("/") as ws:
        ws.send_text("go")
        with pytest.raises(Boom):
            ws.receive_text()
    with TestClient(app, raise_server_exceptions=False).websocket_connect("/") as ws:
        ws.send_text("go")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert info.value.code == 1011
    with pytest.raises(Boom), TestClient(raising_app).websocket_connect("/"):
        pass  # pragma: no cover


def test_websocket_protocol_errors_are_reported() -> None:
    async def sends_before_accept(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.send", "text": "hi"})

    async def bad_subprotocol(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept", "subprotocol": "unoffered"})

    early = TestClient(sends_before_accept)
    with pytest.raises(RuntimeError, match=r"'websocket\.send' in WebSocket state 'connecting'"):
        early.websocket_connect("/").__enter__()
    unoffered = TestClient(bad_subprotocol)
    with pytest.raises(RuntimeError, match="not offered"):
        unoffered.websocket_connect("/", subprotocols=["v1"]).__enter__()


def test_websocket_session_stays_open_across_calls_in_a_with_client() -> None:
    with TestClient(websocket_app()) as client:
        with client.websocket_connect("/echo") as first, client.websocket_connect("/echo") as two:
            first.send_text("a")
            two.send_text("b")
            assert (two.receive_text(), first.receive_text()) == ("B", "A")
        assert client.get("/nowhere").status_code == 404


# -- WSGI -----------------------------------------------------------------------------


def test_wsgi_app_in_the_books_style() -> None:
    closed: list[bool] = []

    class Body:
        def __init__(self, chunks: list[bytes]) -> None:
            self.chunks = chunks

        def __iter__(self) -> Any:
            return iter(self.chunks)

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        seen = {
            key: environ[key]
            for key in (
                "REQUEST_METHOD",
                "SCRIPT_NAME",
                "PATH_INFO",
                "QUERY_STRING",
                "CONTENT_TYPE",
                "CONTENT_LENGTH",
                "SERVER_NAME",
                "SERVER_PORT",
                "SERVER_PROTOCOL",
                "HTTP_HOST",
                "HTTP_X_TWICE",
                "HTTP_COOKIE",
                "wsgi.url_scheme",
                "wsgi.version",
                "wsgi.multiprocess",
                "wsgi.run_once",
            )
        }
        seen["body"] = environ["wsgi.input"].read(length).decode()
        write = start_response("201 Created", [("Content-Type", "application/json")])
        write(b'{"seen": ')  # the legacy write() callable still works
        return Body([json.dumps(seen).encode(), b"}"])

    client = TestClient(app, root_path="/app", cookies={"k": "v"})
    response = client.post(
        "/caf%C3%A9?x=1", json={"a": 1}, headers=[("X-Twice", "1"), ("X-Twice", "2")]
    )
    assert response.status_code == 201
    seen = response.json()["seen"]
    assert seen == {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "/app",
        "PATH_INFO": "/café".encode().decode("latin-1"),  # PEP 3333 native string
        "QUERY_STRING": "x=1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": "7",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "HTTP_X_TWICE": "1,2",
        "HTTP_COOKIE": "k=v",
        "wsgi.url_scheme": "http",
        "wsgi.version": [1, 0],
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "body": '{"a":1}',
    }
    assert closed == [True]


def test_wsgi_errors_exc_info_and_lifespan() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ["PATH_INFO"] == "/boom":
            raise Boom("wsgi")
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("changed my mind")
        except ValueError:
            start_response("503 Service Unavailable", [("Retry-After", "1")], sys.exc_info())
        return [b"later"]

    with TestClient(app) as client:  # no lifespan in WSGI: carry on
        response = client.get("/")
        assert (response.status_code, response.headers["retry-after"]) == (503, "1")
        assert response.text == "later"
        with pytest.raises(Boom):
            client.get("/boom")
        with pytest.raises(TypeError, match="WSGI"), client.websocket_connect("/ws"):
            pass  # pragma: no cover
    assert TestClient(app, raise_server_exceptions=False).get("/boom").status_code == 500


# -- AsyncTestClient ------------------------------------------------------------------


def test_async_client_runs_on_the_callers_loop() -> None:
    events: list[str] = []
    app = lifespan_app(events)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with AsyncTestClient(app) as client:
            response = await client.get("/", params={"a": "1"})
            assert response.json()["state"] == {"db": "connected"}
            assert response.json()["thread"] == threading.get_ident()
            posted = await client.post("/", json={"x": 1})
            assert posted.status_code == 200
        assert asyncio.get_running_loop() is loop

    asyncio.run(main())
    assert events == ["lifespan.startup", "request", "request", "lifespan.shutdown"]


def test_async_client_with_bare_http_and_websocket() -> None:
    app = websocket_app()

    @app.post("/items")
    async def create(request: Request) -> Response:
        return JSONResponse(await request.json(), status=201)

    async def main() -> None:
        client = AsyncTestClient(app)
        for method in ("get", "put", "patch", "delete", "options", "head"):
            response = await getattr(client, method)("/items")
            assert response.status_code in (204, 405), method
        created = await client.post("/items", json={"name": "x"})
        assert (created.status_code, created.json()) == (201, {"name": "x"})
        async with client.websocket_connect("/echo") as ws:
            await ws.send_text("async")
            assert await ws.receive_text() == "ASYNC"
            with pytest.raises(TimeoutError):
                await ws.receive_text(timeout=0.05)
        with pytest.raises(WebSocketDenied):
            async with client.websocket_connect("/forbidden"):
                pass  # pragma: no cover

    asyncio.run(main())


def test_async_client_lifespan_failure() -> None:
    async def main() -> None:
        async with AsyncTestClient(lifespan_app([], "startup")):
            pass  # pragma: no cover

    with pytest.raises(LifespanError, match="no db"):
        asyncio.run(main())


# -- bad input from the client's side ---------------------------------------------------


def test_max_age_too_large_for_a_date_is_capped() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        cookie = dict(scope["headers"]).get(b"cookie", b"")
        headers = [
            (b"set-cookie", b"forever=1; Max-Age=99999999999999999999"),
            (b"set-cookie", b"long=1; Max-Age=" + b"9" * 5000),
            (b"set-cookie", b"gone=1; Max-Age=-99999999999999999999"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": cookie})

    client = TestClient(app)
    client.cookies["gone"] = "by hand"
    assert client.get("/").status_code == 200
    assert client.get("/").content == b"forever=1; long=1"
    last = parse_cookie_date("Fri, 31 Dec 9999 23:59:59 GMT")
    assert last is not None
    assert {c.name: c.expires for c in client.cookies.cookies()} == {
        "forever": last,
        "long": last,
    }


@pytest.mark.parametrize(
    ("attribute", "expires"),
    [
        ("Max-Age=60", 1060.0),
        ("Max-Age=0", 0.0),
        ("Max-Age=-5", 0.0),
        ("Max-Age=000", 0.0),
        ("Max-Age=99999999999999999999", 253402300799.0),
        ("Max-Age=+60", None),  # only digits and a leading "-" (RFC 6265 5.2.2)
        ("Max-Age=1e3", None),
        ("Max-Age=6_0", None),
        ("Max-Age=", None),
        ("Max-Age=60; Expires=Wed, 21 Oct 2015 07:28:00 GMT", 1060.0),
    ],
)
def test_max_age_parsing(attribute: str, expires: float | None) -> None:
    cookie = parse_set_cookie(f"a=1; {attribute}", "testserver", "/", now=1000.0)
    assert cookie is not None
    assert cookie.expires == expires


def test_a_host_header_that_is_not_an_authority_is_a_400() -> None:
    app = Bare()

    @app.get("/admin")
    async def admin(request: Request) -> str:
        return request.url.path  # the CVE: a Host with "/" or "?" rewrote this path

    client = TestClient(app)
    for host in ("example.com/evil?", "a@b", "example.com:80/x", "bad host", "h\u00e9.com"):
        response = client.get("/admin", headers={"host": host})
        assert (response.status_code, response.json()) == (
            400,
            {"detail": "Invalid Host header"},
        ), host
    assert client.get("/admin", headers={"host": "[::1]:8000"}).text == "/admin"
    ipv6 = TestClient(app, base_url="http://[::1]:8000")
    response = ipv6.get("/admin")
    assert (response.status_code, response.request.headers["host"]) == (200, "[::1]:8000")


def test_websocket_frame_of_the_wrong_kind_closes_with_1003(caplog: Any) -> None:
    app = Bare()
    ended: list[str] = []

    @app.websocket("/text")
    async def text_only(websocket: WebSocket) -> None:  # the book's loop
        async with websocket:
            try:
                while True:
                    message = await websocket.receive_text()
                    if message is None:
                        break
                    await websocket.send_text(message.upper())
            finally:
                ended.append("text")

    @app.websocket("/bytes")
    async def bytes_only(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while (data := await websocket.receive_bytes()) is not None:
                await websocket.send_bytes(data[::-1])
        finally:
            ended.append("bytes")

    client = TestClient(app)
    with client.websocket_connect("/text") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "HI"
        ws.send_bytes(b"\x00")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert (info.value.code, info.value.reason) == (1003, "expected a text message")
    with client.websocket_connect("/bytes") as ws:
        ws.send_bytes(b"ab")
        assert ws.receive_bytes() == b"ba"
        ws.send_text("ab")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_bytes()
        assert (info.value.code, info.value.reason) == (1003, "expected a binary message")
    assert ended == ["text", "bytes"]
    assert caplog.records == []  # ended quietly, as when a client leaves
