"""SecurityHeadersMiddleware on a bare app and on a raw ASGI app: the defaults, HSTS over
HTTPS only, headers the handler set left alone, errors, streaming, and every value
checked when the middleware is built."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bare import Bare, HTTPException, Request
from bare.middleware.security import SecurityHeadersMiddleware
from bare.responses import PlainTextResponse, StreamingResponse
from bare.testing import TestClient
from bare.types import ASGIApp, Receive, Scope, Send
from conftest import call
from raw_asgi import serve_other_scopes

Call = Callable[..., Any]

DEFAULTS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
HSTS = "strict-transport-security"


async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        await serve_other_scopes(scope, receive, send)
        return
    path = scope["path"]
    headers: list[tuple[bytes, bytes]] = []
    if path == "/own":
        headers = [(b"X-Frame-Options", b"SAMEORIGIN"), (b"content-security-policy", b"x")]
    elif path == "/missing":
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": b"nope"})
        return
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for chunk in (b"one ", b"two ", b"three"):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"raw"})


def bare_app(**options: Any) -> Bare:
    app = Bare()
    app.add_middleware(SecurityHeadersMiddleware, **options)
    app.state.started = False

    @app.on_startup
    def started() -> None:
        app.state.started = True

    @app.get("/")
    async def home(request: Request) -> str:
        return "bare"

    @app.get("/own")
    async def own(request: Request) -> PlainTextResponse:
        response = PlainTextResponse("own")
        response.headers["x-frame-options"] = "SAMEORIGIN"
        response.headers["content-security-policy"] = "x"
        return response

    @app.get("/crash")
    async def crash(request: Request) -> None:
        raise RuntimeError("boom")

    @app.get("/forbidden")
    async def forbidden(request: Request) -> None:
        raise HTTPException(403)

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


def wrapped_raw(**options: Any) -> ASGIApp:
    return SecurityHeadersMiddleware(raw_app, **options)


BOTH = pytest.mark.parametrize("make", [bare_app, wrapped_raw], ids=["bare", "raw"])


@BOTH
def test_the_defaults_over_http(make: Call) -> None:
    response = TestClient(make()).get("/")
    assert response.status_code == 200
    for name, value in DEFAULTS.items():
        assert response.headers.getlist(name) == [value]
    assert HSTS not in response.headers  # plain HTTP: a browser would ignore it
    assert "content-security-policy" not in response.headers


@BOTH
def test_hsts_only_over_https(make: Call) -> None:
    response = TestClient(make(), base_url="https://example.com").get("/")
    assert response.headers[HSTS] == "max-age=63072000; includeSubDomains"
    preload = TestClient(make(hsts_preload=True), base_url="https://example.com").get("/")
    assert preload.headers[HSTS] == "max-age=63072000; includeSubDomains; preload"
    short = TestClient(
        make(hsts_max_age=300, hsts_include_subdomains=False), base_url="https://example.com"
    ).get("/")
    assert short.headers[HSTS] == "max-age=300"


@BOTH
def test_every_header_can_be_dropped_or_changed(make: Call) -> None:
    dropped = make(
        content_type_options=None,
        referrer_policy=None,
        frame_options=None,
        cross_origin_opener_policy=None,
        hsts_max_age=None,
    )
    response = TestClient(dropped, base_url="https://example.com").get("/")
    assert not set(DEFAULTS) & set(response.headers)
    assert HSTS not in response.headers
    changed = make(
        referrer_policy="no-referrer, strict-origin-when-cross-origin",
        frame_options="SAMEORIGIN",
        cross_origin_opener_policy="same-origin-allow-popups",
        content_security_policy="default-src 'self'; frame-ancestors 'none'",
    )
    response = TestClient(changed).get("/")
    assert response.headers["referrer-policy"] == "no-referrer, strict-origin-when-cross-origin"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["cross-origin-opener-policy"] == "same-origin-allow-popups"
    assert response.headers["content-security-policy"] == (
        "default-src 'self'; frame-ancestors 'none'"
    )


@BOTH
def test_headers_the_handler_set_are_left_alone(make: Call) -> None:
    response = TestClient(make(content_security_policy="default-src 'self'")).get("/own")
    assert response.headers.getlist("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers.getlist("content-security-policy") == ["x"]
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(("path", "status"), [("/crash", 500), ("/forbidden", 403), ("/no", 404)])
def test_bare_error_responses_get_them_too(path: str, status: int) -> None:
    client = TestClient(bare_app(), raise_server_exceptions=False, base_url="https://example.com")
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["x-frame-options"] == "DENY"
    assert HSTS in response.headers


def test_raw_error_responses_get_them_too() -> None:
    response = TestClient(wrapped_raw()).get("/missing")
    assert response.status_code == 404
    assert response.headers["x-content-type-options"] == "nosniff"


@BOTH
def test_streaming_stays_streaming(make: Call) -> None:
    reply = call(make(), "GET", "/stream")
    bodies = [m for m in reply.messages if m["type"] == "http.response.body" and m.get("body")]
    assert [m["body"] for m in bodies] == [b"one ", b"two ", b"three"]
    assert all(m.get("more_body") for m in bodies)
    assert reply.header("x-frame-options") == "DENY"


@BOTH
def test_websocket_and_lifespan_pass_through(make: Call) -> None:
    app = make()
    with TestClient(app) as client:
        if isinstance(app, Bare):
            assert app.state.started
        with client.websocket_connect("/ws") as ws:
            assert ws.receive_text() == "ws ok"


def test_nothing_to_add_means_no_wrapping() -> None:
    middleware = SecurityHeadersMiddleware(
        raw_app,
        content_type_options=None,
        referrer_policy=None,
        frame_options=None,
        cross_origin_opener_policy=None,
    )
    assert middleware.headers == []
    reply = call(middleware, "GET", "/")
    assert reply.headers == []


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"content_type_options": "sniff"}, ValueError, "only be 'nosniff'"),
        ({"referrer_policy": "strict-origin-when-crossorigin"}, ValueError, "not a policy"),
        ({"referrer_policy": "no-referrer,"}, ValueError, "not a policy"),
        ({"referrer_policy": ""}, ValueError, "pass None"),
        ({"frame_options": "ALLOW-FROM https://x"}, ValueError, "must be one of"),
        ({"frame_options": "DENY\r\nset-cookie: a=b"}, ValueError, "must be one of"),
        ({"cross_origin_opener_policy": "same-site"}, ValueError, "must be one of"),
        ({"content_security_policy": "default-src 'self'\r\nx: y"}, ValueError, "control"),
        ({"content_security_policy": "default-src 'sélf'\u2028"}, ValueError, "content-security"),
        ({"content_security_policy": " "}, ValueError, "pass None"),
        ({"content_security_policy": b"default-src"}, TypeError, "str or None"),
        ({"hsts_max_age": -1}, ValueError, "hsts_max_age"),
        ({"hsts_max_age": True}, ValueError, "hsts_max_age"),
        ({"hsts_max_age": "63072000"}, ValueError, "hsts_max_age"),
        ({"hsts_preload": True, "hsts_max_age": 86400}, ValueError, "31536000"),
        ({"hsts_preload": True, "hsts_include_subdomains": False}, ValueError, "31536000"),
        ({"hsts_preload": True, "hsts_max_age": None}, ValueError, "give hsts_max_age"),
        ({"hsts_preload": 1}, TypeError, "True or False"),
        ({"hsts_include_subdomains": "yes"}, TypeError, "True or False"),
    ],
)
def test_bad_values_are_refused_when_built(
    options: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        SecurityHeadersMiddleware(raw_app, **options)
