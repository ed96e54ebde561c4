"""TrustedHostMiddleware and HTTPSRedirectMiddleware, on a bare app and on a raw ASGI app:
hostile Host headers, wildcard shapes, the www redirect, redirects that stay on the
checked host whatever the path, WebSocket refusals, streaming and lifespan."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from bare import Bare, Request
from bare.middleware.httpsredirect import HTTPSRedirectMiddleware
from bare.middleware.trustedhost import TrustedHostMiddleware
from bare.responses import PlainTextResponse, StreamingResponse
from bare.testing import TestClient, WebSocketDenied
from bare.types import ASGIApp, Receive, Scope, Send
from conftest import call, websocket_session
from raw_asgi import serve_other_scopes

Call = Callable[..., Any]


async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        await serve_other_scopes(scope, receive, send)
        return
    start = {"type": "http.response.start", "status": 200, "headers": []}
    if scope["path"] == "/stream":
        await send(start)
        for chunk in (b"one ", b"two ", b"three"):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    await send(start)
    await send({"type": "http.response.body", "body": f"raw {scope['method']}".encode()})


def bare_app(middleware: type, **options: Any) -> Bare:
    app = Bare()
    app.add_middleware(middleware, **options)
    app.state.started = False

    @app.on_startup
    def started() -> None:
        app.state.started = True

    @app.route("/", methods=["GET", "POST"])
    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"bare {request.scope['method']}")

    @app.get("/stream")
    async def stream(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for chunk in (b"one ", b"two ", b"three"):
                yield chunk

        return StreamingResponse(chunks())

    @app.websocket("/ws")
    async def ws(websocket: Any) -> None:
        await websocket.accept()
        await websocket.send_text("ws ok")
        await websocket.close()

    return app


def wrapped_raw(middleware: type, **options: Any) -> ASGIApp:
    return middleware(raw_app, **options)  # type: ignore[no-any-return]


BOTH = pytest.mark.parametrize("make", [bare_app, wrapped_raw], ids=["bare", "raw"])


def with_host(*hosts: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"host", host) for host in hosts] or [(b"x-nothing", b"")]


# == TrustedHostMiddleware ================================================================


@pytest.mark.parametrize(
    ("hosts", "error", "message"),
    [
        ([], ValueError, "empty"),
        ("example.com", TypeError, "not a single str"),
        ([b"example.com"], TypeError, "must hold str"),
        (["*", "example.com"], ValueError, "no others"),
        (["*example.com"], ValueError, "whole left-most label"),
        (["a.*.example.com"], ValueError, "whole left-most label"),
        (["*.*.example.com"], ValueError, "whole left-most label"),
        (["ex*.com"], ValueError, "whole left-most label"),
        (["**.example.com"], ValueError, "whole left-most label"),
        (["*."], ValueError, "not a host name"),
        (["example.com:8000"], ValueError, "ports are not compared"),
        (["bücher.example"], ValueError, "punycode"),
        (["exa mple.com"], ValueError, "not a host name"),
        (["-bad.example.com"], ValueError, "not a host name"),
        (["a..example.com"], ValueError, "not a host name"),
        (["example.com/"], ValueError, "not a host name"),
        (["user@example.com"], ValueError, "not a host name"),
        (["a" * 64 + ".com"], ValueError, "not a host name"),
        (["[::g]"], ValueError, "not an IPv6 address"),
        (["[::1]:8000"], ValueError, "not an IPv6 address"),
        ([""], ValueError, "not a host name"),
    ],
)
def test_trusted_host_configuration_mistakes(hosts: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        TrustedHostMiddleware(raw_app, allowed_hosts=hosts)


def test_trusted_host_www_redirect_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="True or False"):
        TrustedHostMiddleware(raw_app, allowed_hosts=["example.com"], www_redirect="yes")  # type: ignore[arg-type]


def test_configured_hosts_are_normalized() -> None:
    middleware = TrustedHostMiddleware(
        raw_app, allowed_hosts=["Example.COM.", "::1", "[0:0::2]", "*.Api.Example.com"]
    )
    assert middleware.names == {"example.com", "[::1]", "[::2]"}
    assert middleware.suffixes == (".api.example.com",)


HOSTS = ["example.com", "*.api.example.com", "127.0.0.1", "[::1]"]


@BOTH
@pytest.mark.parametrize(
    "host",
    [
        b"example.com",
        b"EXAMPLE.com",
        b"example.com:8000",
        b"example.com.",
        b"Example.Com.:443",
        b"v1.api.example.com",
        b"a.b.api.example.com",
        b"127.0.0.1:8000",
        b"[::1]",
        b"[::1]:8000",
        b"[0:0::1]:8000",
    ],
)
def test_allowed_hosts_pass(make: Call, host: bytes) -> None:
    reply = call(
        make(TrustedHostMiddleware, allowed_hosts=HOSTS), "GET", "/", headers=with_host(host)
    )
    assert (reply.status, reply.body) == (200, reply.body)
    assert reply.body.endswith(b"GET")


@BOTH
@pytest.mark.parametrize(
    "hosts",
    [
        [b"evil.com"],
        [b"example.com.evil.com"],
        [b"evilexample.com"],
        [b"api.example.com"],  # the wildcard is for names under it, not itself
        [b"evilapi.example.com"],
        [b"example.com.."],
        [b"example.com:99999"],
        [b"example.com:000000000000000000000000080"],
        [b"example.com:" + b"9" * 5000],  # int() would refuse that many digits
        [b"example.com:abc"],
        [b"ex%61mple.com"],
        [b"example.com/path"],
        [b"evil.com/example.com"],
        [b"user@example.com"],
        [b"example.com\r\nx-evil: 1"],
        [b"example.com evil.com"],
        [b"exampl\xe9.com"],
        [b""],
        [b"."],
        [b":80"],
        [b"[::1"],
        [b"[::2]"],
        [b"[::g]"],
        [b"example.com" * 10_000],
        [],  # no Host header
        [b"example.com", b"example.com"],  # two
        [b"example.com", b"evil.com"],
    ],
)
def test_other_hosts_get_a_plain_400_that_does_not_echo_them(
    make: Call, hosts: list[bytes]
) -> None:
    reply = call(
        make(TrustedHostMiddleware, allowed_hosts=HOSTS), "GET", "/", headers=with_host(*hosts)
    )
    assert reply.status == 400
    assert reply.body == b"Invalid host header"
    assert reply.header("location") is None
    assert reply.header("content-type") == "text/plain; charset=utf-8"


@BOTH
def test_any_host_lets_everything_through(make: Call) -> None:
    app = make(TrustedHostMiddleware, allowed_hosts=["*"])
    assert call(app, "GET", "/", headers=with_host()).status == 200
    assert call(app, "GET", "/", headers=with_host(b"anything:1")).status == 200


@BOTH
def test_www_redirect_goes_to_the_listed_name(make: Call) -> None:
    app = make(TrustedHostMiddleware, allowed_hosts=["www.example.com"])
    client = TestClient(app)
    response = client.post("/a b/ü", params={"q": "x y"}, headers={"host": "Example.COM.:8000"})
    assert response.status_code == 308
    assert response.headers["location"] == "http://www.example.com:8000/a%20b/%C3%BC?q=x%20y"
    secure = TestClient(app, base_url="https://example.com").get("/")
    assert secure.headers["location"] == "https://www.example.com/"
    assert client.get("/", headers={"host": "www.example.com"}).status_code == 200


@BOTH
def test_www_redirect_keeps_hostile_paths_on_the_listed_host(make: Call) -> None:
    app = make(TrustedHostMiddleware, allowed_hosts=["www.example.com"])
    for raw_path in [b"//evil.com", b"/\\evil.com", b"/%2F%2Fevil.com", b"/x\r\nset-cookie: a"]:
        scope_headers = with_host(b"example.com")
        reply = _call_raw_path(app, raw_path, scope_headers)
        assert reply.status == 308
        location = reply.header("location")
        assert location is not None
        assert urlsplit(location).netloc == "www.example.com"
        assert "\r" not in location and "\n" not in location and "\\" not in location


@BOTH
@pytest.mark.parametrize(
    ("hosts", "www_redirect", "host"),
    [
        (["www.example.com"], False, b"example.com"),
        (["*.example.com"], True, b"example.com"),  # a wildcard does not redirect
        (["www.example.com"], True, b"evil.com"),
        (["www.example.com"], True, b"www.evil.com"),
        (["www.example.com"], True, b"example.com:99999"),
    ],
)
def test_no_www_redirect_unless_the_www_name_is_listed(
    make: Call, hosts: list[str], www_redirect: bool, host: bytes
) -> None:
    app = make(TrustedHostMiddleware, allowed_hosts=hosts, www_redirect=www_redirect)
    reply = call(app, "GET", "/", headers=with_host(host))
    assert reply.status == 400
    assert reply.header("location") is None


@BOTH
def test_trusted_host_checks_websockets(make: Call) -> None:
    app = make(TrustedHostMiddleware, allowed_hosts=["www.example.com"])
    client = TestClient(app, base_url="http://www.example.com")
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "ws ok"
    for host in ("evil.com", "example.com"):  # no www redirect for a handshake
        connect = client.websocket_connect("/ws", headers={"host": host})
        with pytest.raises(WebSocketDenied) as denied, connect:
            pass
        assert (denied.value.code, denied.value.status_code) == (1008, 403)


@BOTH
def test_trusted_host_streaming_and_lifespan(make: Call) -> None:
    app = make(TrustedHostMiddleware, allowed_hosts=["testserver"])
    reply = call(app, "GET", "/stream")
    bodies = [m["body"] for m in reply.messages if m["type"] == "http.response.body"]
    assert bodies[:3] == [b"one ", b"two ", b"three"]
    with TestClient(app) as client:
        assert client.get("/").status_code == 200
        if isinstance(app, Bare):
            assert app.state.started


# == HTTPSRedirectMiddleware ==============================================================


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"status": 301}, ValueError, "308 (permanent) or 307"),
        ({"status": 302}, ValueError, "308 (permanent) or 307"),
        ({"status": "308"}, ValueError, "308 (permanent) or 307"),
        ({"https_port": 0}, ValueError, "1 to 65535"),
        ({"https_port": 65536}, ValueError, "1 to 65535"),
        ({"https_port": "443"}, TypeError, "must be an int"),
        ({"https_port": True}, TypeError, "must be an int"),
    ],
)
def test_https_redirect_configuration_mistakes(
    options: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        HTTPSRedirectMiddleware(raw_app, **options)


@BOTH
def test_http_is_redirected_keeping_method_path_and_query(make: Call) -> None:
    client = TestClient(make(HTTPSRedirectMiddleware), base_url="http://example.com")
    response = client.post("/a b/ü", params={"q": "x y"}, content=b"body")
    assert response.status_code == 308
    assert response.headers["location"] == "https://example.com/a%20b/%C3%BC?q=x%20y"
    assert response.content == b""
    temporary = TestClient(make(HTTPSRedirectMiddleware, status=307), base_url="http://example.com")
    assert temporary.get("/").status_code == 307


@BOTH
def test_https_passes_through(make: Call) -> None:
    client = TestClient(make(HTTPSRedirectMiddleware), base_url="https://example.com")
    response = client.post("/")
    assert (response.status_code, response.text.split()[1]) == (200, "POST")


@BOTH
@pytest.mark.parametrize(
    ("host", "https_port", "location"),
    [
        (b"example.com", 443, "https://example.com/"),
        (b"example.com:80", 443, "https://example.com/"),
        (b"example.com:8080", 443, "https://example.com/"),  # the request's port is dropped
        (b"example.com:8080", 8443, "https://example.com:8443/"),
        (b"EXAMPLE.com.", 443, "https://EXAMPLE.com./"),
        (b"[::1]:8000", 8443, "https://[::1]:8443/"),
        (b"127.0.0.1:8000", 443, "https://127.0.0.1/"),
    ],
)
def test_the_redirect_port_is_the_https_port(
    make: Call, host: bytes, https_port: int, location: str
) -> None:
    app = make(HTTPSRedirectMiddleware, https_port=https_port)
    assert call(app, "GET", "/", headers=with_host(host)).header("location") == location


def _call_raw_path(
    app: ASGIApp, raw_path: bytes | None, headers: list[tuple[bytes, bytes]], query: bytes = b""
) -> Any:
    """`call` with a raw_path of our choosing (or none at all)."""
    original = app

    async def with_raw_path(scope: Scope, receive: Receive, send: Send) -> None:
        if raw_path is None:
            del scope["raw_path"]
        else:
            scope["raw_path"] = raw_path
        await original(scope, receive, send)

    return call(with_raw_path, "GET", "/p", headers=headers, query=query)


@BOTH
@pytest.mark.parametrize(
    ("raw_path", "query", "location"),
    [
        (b"//evil.com", b"", "https://good.example//evil.com"),
        (b"//evil.com/%2e%2e", b"", "https://good.example//evil.com/%2e%2e"),
        (b"/\\evil.com", b"", "https://good.example/%5Cevil.com"),
        (b"/a%20b", b"x=%20&y=/?", "https://good.example/a%20b?x=%20&y=/?"),
        (b"/a b\r\nset-cookie: x", b"q=\r\n#frag", None),
        (b"/caf\xc3\xa9", b"", "https://good.example/caf%C3%A9"),
        (b"*", b"", "https://good.example/"),
        (b"", b"", "https://good.example/"),
        (b"https://evil.com/", b"", "https://good.example/"),
        (None, b"a=1", "https://good.example/p?a=1"),
    ],
)
def test_the_redirect_never_leaves_the_checked_host(
    make: Call, raw_path: bytes | None, query: bytes, location: str | None
) -> None:
    app = make(HTTPSRedirectMiddleware)
    reply = _call_raw_path(app, raw_path, with_host(b"good.example"), query)
    assert reply.status == 308
    found = reply.header("location")
    assert found is not None
    assert urlsplit(found).netloc == "good.example"
    assert all(32 < ord(char) < 127 and char not in "\\#" for char in found)
    if location is not None:
        assert found == location
    else:
        assert found == "https://good.example/a%20b%0D%0Aset-cookie:%20x?q=%0D%0A%23frag"


@BOTH
@pytest.mark.parametrize(
    "hosts",
    [
        [b"evil.com/x"],
        [b"user@evil.com"],
        [b"ex%61mple.com"],
        [b"a,b.com"],
        [b"a b"],
        [b"exa\r\nmple.com"],
        [b"exampl\xe9.com"],
        [b""],
        [b"."],
        [b":443"],
        [b"[::g]"],
        [b"[::1"],
        [b"example.com:abc"],
        [],
        [b"a.com", b"b.com"],
    ],
)
def test_a_bad_host_gets_a_400_not_a_redirect(make: Call, hosts: list[bytes]) -> None:
    reply = call(make(HTTPSRedirectMiddleware), "GET", "/", headers=with_host(*hosts))
    assert reply.status == 400
    assert reply.body == b"Invalid host header"
    assert reply.header("location") is None


@BOTH
def test_a_websocket_is_redirected_to_wss_when_the_server_can_answer(make: Call) -> None:
    app = make(HTTPSRedirectMiddleware)
    client = TestClient(app, base_url="http://example.com")
    with pytest.raises(WebSocketDenied) as denied, client.websocket_connect("/ws?x=1"):
        pass
    assert denied.value.status_code == 308
    assert denied.value.response.headers["location"] == "wss://example.com/ws?x=1"
    connect = client.websocket_connect("/ws", headers={"host": "evil.com/x"})
    with pytest.raises(WebSocketDenied) as bad, connect:
        pass
    assert bad.value.status_code == 400
    secure = TestClient(app, base_url="https://example.com")
    with secure.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "ws ok"


@BOTH
def test_a_websocket_is_refused_when_the_server_cannot_redirect(make: Call) -> None:
    sent = websocket_session(make(HTTPSRedirectMiddleware), "/ws", [])
    assert sent == [{"type": "websocket.close", "code": 1008}]


@BOTH
def test_https_redirect_streaming_and_lifespan(make: Call) -> None:
    app = make(HTTPSRedirectMiddleware)
    with TestClient(app, base_url="https://example.com") as client:
        assert client.get("/stream").text == "one two three"
        if isinstance(app, Bare):
            assert app.state.started

    async def https(scope: Scope, receive: Receive, send: Send) -> None:
        scope["scheme"] = "https"
        await app(scope, receive, send)

    reply = call(https, "GET", "/stream")
    bodies = [m["body"] for m in reply.messages if m["type"] == "http.response.body"]
    assert bodies[:3] == [b"one ", b"two ", b"three"]
