"""CORSMiddleware: preflights and simple requests on a bare app and on a raw ASGI app,
hostile origins and preflights, errors that keep their CORS headers, and a real server."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from bare import Bare, HTTPException, Request
from bare.middleware import RESPONSE_HEADERS_KEY
from bare.middleware.cors import CORSMiddleware
from bare.responses import PlainTextResponse, StreamingResponse
from bare.testing import TestClient
from bare.types import ASGIApp, Message, Receive, Scope, Send
from conftest import call
from raw_asgi import serve_other_scopes
from servers import uvicorn

Call = Callable[..., Any]
GOOD = "https://good.example"
ACAO = "access-control-allow-origin"


# -- apps ---------------------------------------------------------------------------------


async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A bare-minimum ASGI app: a few paths, lifespan and a WebSocket echo."""
    if scope["type"] != "http":
        await serve_other_scopes(scope, receive, send)
        return
    path = scope["path"]
    if path == "/crash":
        raise RuntimeError("boom")
    headers = [(b"content-type", b"text/plain")]
    if path == "/late-crash":
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"half", "more_body": True})
        raise RuntimeError("boom after the start")
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for chunk in (b"one ", b"two ", b"three"):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/vary":
        headers.append((b"Vary", b"Accept-Encoding"))
    elif path == "/vary-star":
        headers.append((b"vary", b"*"))
    elif path == "/vary-origin":
        headers.append((b"vary", b"accept, origin"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": f"raw {scope['method']}".encode()})


class Refuse:
    """An inner middleware that raises before the response: bare's error door answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/refused":
            raise HTTPException(401, "no entry")
        await self.app(scope, receive, send)


class SeeScope:
    """An inner middleware that notes what the hand-over holds."""

    seen: list[Any] = []

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            SeeScope.seen.append(list(scope.get(RESPONSE_HEADERS_KEY) or ()))
        await self.app(scope, receive, send)


class Teapot(Exception):
    pass


def bare_app(**options: Any) -> Bare:
    app = Bare()
    app.add_middleware(CORSMiddleware, **options)
    app.add_middleware(Refuse)
    app.add_middleware(SeeScope)
    app.state.started = False

    @app.on_startup
    def started() -> None:
        app.state.started = True

    @app.route("/", methods=["GET", "POST", "PUT", "OPTIONS"])
    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"bare {request.scope['method']}")

    @app.get("/crash")
    async def crash(request: Request) -> None:
        raise RuntimeError("boom")

    @app.get("/forbidden")
    async def forbidden(request: Request) -> None:
        raise HTTPException(403)

    @app.get("/teapot")
    async def teapot(request: Request) -> None:
        raise Teapot()

    @app.exception_handler(Teapot)
    async def handle_teapot(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse("teapot", 418)

    @app.get("/stream")
    async def stream(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for chunk in (b"one ", b"two ", b"three"):
                yield chunk

        return StreamingResponse(chunks())

    @app.get("/vary")
    async def vary(request: Request) -> PlainTextResponse:
        return PlainTextResponse("v", headers={"vary": "Accept-Encoding"})

    @app.websocket("/ws")
    async def ws(websocket: Any) -> None:
        await websocket.accept()
        await websocket.send_text("ws ok")
        await websocket.close()

    return app


def wrapped_raw(**options: Any) -> ASGIApp:
    return CORSMiddleware(raw_app, **options)


BOTH = pytest.mark.parametrize("make", [bare_app, wrapped_raw], ids=["bare", "raw"])


def vary_tokens(headers: list[tuple[bytes, bytes]]) -> list[str]:
    return [
        token.strip().lower()
        for name, value in headers
        if name.lower() == b"vary"
        for token in value.decode("latin-1").split(",")
    ]


def cors_names(headers: list[tuple[bytes, bytes]]) -> set[str]:
    return {n.decode() for n, _ in headers if n.lower().startswith(b"access-control-")}


# -- construction -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"allow_origins": ["*"], "allow_credentials": True}, ValueError, "list the origins"),
        ({"allow_origins": ["*", GOOD]}, ValueError, "no others"),
        ({"allow_origins": [GOOD, "null"], "allow_credentials": True}, ValueError, "sandboxed"),
        ({"allow_origins": ["*"], "allow_origin_regex": "https://x"}, ValueError, "drop"),
        ({}, ValueError, "allows no origin"),
        ({"allow_origins": GOOD}, TypeError, "not a single str"),
        ({"allow_origins": [b"https://good.example"]}, TypeError, "must hold str"),
        ({"allow_origins": ["https://good.example/"]}, ValueError, "no path"),
        ({"allow_origins": ["https://good.example/app"]}, ValueError, "no path"),
        ({"allow_origins": ["good.example"]}, ValueError, "scheme"),
        ({"allow_origins": ["https://*.good.example"]}, ValueError, "allow_origin_regex"),
        ({"allow_origins": ["https://bücher.example"]}, ValueError, "punycode"),
        ({"allow_origins": ["https://good.example:70000"]}, ValueError, "65535"),
        ({"allow_origins": ["https://user@good.example"]}, ValueError, "not an origin"),
        ({"allow_origins": ["https://good.example "]}, ValueError, "not an origin"),
        ({"allow_origins": ["https://good.example\r\nx: y"]}, ValueError, "not an origin"),
        ({"allow_origins": ["https://[1::2::3]"]}, ValueError, "IPv6"),
        ({"allow_origin_regex": "https://(good"}, ValueError, "not a valid regex"),
        ({"allow_origin_regex": ".*"}, ValueError, "matches any origin"),
        ({"allow_origin_regex": r"https?://.+"}, ValueError, "matches any origin"),
        ({"allow_origin_regex": rb"https://x"}, TypeError, "must be a str"),
        ({"allow_origins": [GOOD], "allow_methods": "GET"}, TypeError, "single str"),
        ({"allow_origins": [GOOD], "allow_methods": ["GET POST"]}, ValueError, "not a valid"),
        ({"allow_origins": [GOOD], "allow_methods": ["*", "GET"]}, ValueError, "no others"),
        ({"allow_origins": [GOOD], "allow_headers": ["x-a\n"]}, ValueError, "not a valid"),
        ({"allow_origins": [GOOD], "expose_headers": ["x:y"]}, ValueError, "not a valid"),
        (
            {"allow_origins": [GOOD], "expose_headers": ["*"], "allow_credentials": True},
            ValueError,
            "list the header names",
        ),
        ({"allow_origins": [GOOD], "max_age": -1}, ValueError, "max_age"),
        ({"allow_origins": [GOOD], "max_age": True}, ValueError, "max_age"),
        ({"allow_origins": [GOOD], "max_age": "600"}, ValueError, "max_age"),
        ({"allow_origins": [GOOD], "allow_credentials": "yes"}, TypeError, "True or False"),
    ],
)
def test_configuration_mistakes_are_refused_when_built(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        CORSMiddleware(raw_app, **options)


def test_configured_origins_are_normalized_as_browsers_serialize_them() -> None:
    cors = CORSMiddleware(
        raw_app,
        allow_origins=[
            "HTTPS://Good.Example:443",
            "http://localhost:80",
            "http://localhost:08000",
            "https://[0:0::1]:8443",
            "https://trailing.example.",
            "null",
        ],
    )
    assert cors.origins == {
        "https://good.example",
        "http://localhost",
        "http://localhost:8000",
        "https://[::1]:8443",
        "https://trailing.example.",  # a different origin from the one without the dot
        "null",
    }


# -- simple requests ----------------------------------------------------------------------


@BOTH
def test_an_allowed_origin_gets_its_headers(make: Call) -> None:
    app = make(allow_origins=[GOOD], allow_credentials=True, expose_headers=["x-total"])
    response = TestClient(app).post("/", headers={"origin": GOOD})
    assert response.status_code == 200
    assert response.headers[ACAO] == GOOD
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-expose-headers"] == "x-total"
    assert response.headers["vary"] == "Origin"
    # Preflight-only headers stay off actual responses.
    assert "access-control-allow-methods" not in response.headers
    assert "access-control-max-age" not in response.headers


def test_under_bare_the_headers_are_handed_over_not_wrapped() -> None:
    SeeScope.seen.clear()
    TestClient(bare_app(allow_origins=[GOOD])).get("/", headers={"origin": GOOD})
    assert SeeScope.seen == [
        [(b"access-control-allow-origin", GOOD.encode()), (b"vary", b"Origin")]
    ]


HOSTILE_ORIGINS = [
    "null",
    "https://good.example.evil.com",
    "https://good.example.",
    "https://GOOD.example",
    "https://Good.Example",
    "HTTPS://good.example",
    "good.example",
    "//good.example",
    "https://good.example:443",
    "https://good.example:8443",
    "https://good.example/",
    "https://good.example/path",
    "http://good.example",
    "https://xgood.example",
    "https://evil.com",
    " https://good.example",
    "https://good.example ",
    "https://good.example\r\nset-cookie: a=b",
    "https://good.example\x00",
    "https://good.example#",
    "https://user@good.example",
    "https://" + "a" * 100_000 + ".good.example",
    "*",
    "",
]


@BOTH
@pytest.mark.parametrize("origin", HOSTILE_ORIGINS)
def test_a_hostile_origin_is_never_reflected(make: Call, origin: str, asgi_call: Call) -> None:
    app = make(allow_origins=[GOOD], allow_credentials=True)
    headers = [(b"host", b"testserver"), (b"origin", origin.encode("latin-1"))]
    reply = asgi_call(app, "GET", "/", headers=headers)
    assert reply.status == 200
    assert cors_names(reply.headers) == set()
    assert vary_tokens(reply.headers) == ["origin"]


@BOTH
def test_two_origin_headers_are_not_allowed(make: Call, asgi_call: Call) -> None:
    app = make(allow_origins=[GOOD])
    headers = [(b"host", b"testserver"), (b"origin", GOOD.encode()), (b"origin", GOOD.encode())]
    assert cors_names(asgi_call(app, "GET", "/", headers=headers).headers) == set()


@BOTH
def test_null_is_allowed_only_when_listed(make: Call) -> None:
    refused = TestClient(make(allow_origins=[GOOD])).get("/", headers={"origin": "null"})
    assert ACAO not in refused.headers
    allowed = TestClient(make(allow_origins=["null"])).get("/", headers={"origin": "null"})
    assert allowed.headers[ACAO] == "null"


@BOTH
def test_the_regex_is_matched_in_full(make: Call, asgi_call: Call) -> None:
    # Written without anchors, as people do: fullmatch anchors it.
    app = make(allow_origin_regex=r"https://[a-z0-9-]+\.good\.example")
    client = TestClient(app)
    ok = client.get("/", headers={"origin": "https://api.good.example"})
    assert ok.headers[ACAO] == "https://api.good.example"
    assert ok.headers["vary"] == "Origin"
    for origin in [
        "https://api.good.example.evil.com",
        "https://evil.com/https://api.good.example",
        "xhttps://api.good.example",
        "https://api.good.example:8443",
        "https://API.good.example",
        "https://api.good.example\n",
        "null",
    ]:
        headers = [(b"host", b"t"), (b"origin", origin.encode())]
        assert ACAO.encode() not in dict(asgi_call(app, "GET", "/", headers=headers).headers)


@BOTH
def test_a_loose_regex_still_reflects_only_real_origins(make: Call, asgi_call: Call) -> None:
    # `.*` inside: the origin grammar keeps paths, queries, userinfo and controls out.
    app = make(allow_origin_regex=r"https://.*\.good\.example")
    for origin in [
        "https://evil.com/.good.example",
        "https://evil.com?.good.example",
        "https://evil.com#.good.example",
        "https://me@evil.com.good.example",
        "https://evil.com\r\nx:.good.example",
        "https://" + "a" * 600 + ".good.example",  # longer than any real origin
    ]:
        headers = [(b"host", b"t"), (b"origin", origin.encode())]
        reply = asgi_call(app, "GET", "/", headers=headers)
        assert cors_names(reply.headers) == set(), origin
    good = [(b"host", b"t"), (b"origin", b"https://a.b.good.example")]
    assert dict(asgi_call(app, "GET", "/", headers=good).headers)[ACAO.encode()] == (
        b"https://a.b.good.example"
    )


@BOTH
def test_without_an_origin_there_are_no_cors_headers_but_vary(make: Call) -> None:
    response = TestClient(make(allow_origins=[GOOD])).get("/")
    assert cors_names(response.headers.raw) == set()
    assert response.headers["vary"] == "Origin"


@BOTH
def test_any_origin_answers_star_always_and_never_varies(make: Call) -> None:
    client = TestClient(make(allow_origins=["*"], expose_headers=["*"]))
    for headers in ({"origin": "https://anyone.example"}, {"origin": "null"}, {}):
        response = client.get("/", headers=headers)
        assert response.headers[ACAO] == "*"
        assert response.headers["access-control-expose-headers"] == "*"
        assert "vary" not in response.headers
        assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/vary", ["accept-encoding, origin"]),
        ("/vary-star", ["*"]),
        ("/vary-origin", ["accept, origin"]),
        ("/", ["origin"]),
    ],
)
def test_vary_is_merged_into_the_apps_own(path: str, expected: list[str], asgi_call: Call) -> None:
    reply = asgi_call(wrapped_raw(allow_origins=[GOOD]), "GET", path)
    values = [v.decode().lower() for n, v in reply.headers if n.lower() == b"vary"]
    assert values == expected


def test_under_bare_vary_adds_a_field_line_of_its_own() -> None:
    response = TestClient(bare_app(allow_origins=[GOOD])).get("/vary", headers={"origin": GOOD})
    # Two field lines of one list header mean the same as one joined by a comma.
    assert response.headers.getlist("vary") == ["Accept-Encoding", "Origin"]


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [("/crash", 500), ("/forbidden", 403), ("/teapot", 418), ("/missing", 404), ("/refused", 401)],
)
def test_bare_error_responses_carry_the_cors_headers(path: str, status: int) -> None:
    client = TestClient(bare_app(allow_origins=[GOOD]), raise_server_exceptions=False)
    response = client.get(path, headers={"origin": GOOD})
    assert response.status_code == status
    assert response.headers[ACAO] == GOOD
    assert response.headers["vary"] == "Origin"


def test_bare_405_and_slash_redirect_carry_them() -> None:
    client = TestClient(bare_app(allow_origins=[GOOD]))
    assert client.delete("/crash", headers={"origin": GOOD}).headers[ACAO] == GOOD
    assert client.get("/stream/", headers={"origin": GOOD}).headers[ACAO] == GOOD


def test_a_raw_app_that_crashes_gets_a_500_with_cors_headers_and_the_error_goes_on() -> None:
    app = wrapped_raw(allow_origins=[GOOD], allow_credentials=True)
    with pytest.raises(RuntimeError, match="boom"):
        TestClient(app).get("/crash", headers={"origin": GOOD})
    response = TestClient(app, raise_server_exceptions=False).get(
        "/crash", headers={"origin": GOOD}
    )
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert response.headers[ACAO] == GOOD
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["vary"] == "Origin"


def test_a_raw_app_that_crashes_after_starting_is_not_answered_twice() -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/late-crash",
        "headers": [(b"origin", GOOD.encode())],
    }

    async def run() -> None:
        await wrapped_raw(allow_origins=[GOOD])(scope, receive, send)

    with pytest.raises(RuntimeError, match="after the start"):
        asyncio.run(run())
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert (b"access-control-allow-origin", GOOD.encode()) in sent[0]["headers"]


# -- preflight ----------------------------------------------------------------------------


def preflight(
    app: ASGIApp,
    origin: str | None = GOOD,
    method: str | None = "PUT",
    headers: str | None = None,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> Any:
    raw = [(b"host", b"testserver")]
    if origin is not None:
        raw.append((b"origin", origin.encode("latin-1")))
    if method is not None:
        raw.append((b"access-control-request-method", method.encode("latin-1")))
    if headers is not None:
        raw.append((b"access-control-request-headers", headers.encode("latin-1")))
    return call(app, "OPTIONS", "/", headers=raw + (extra or []))


OPTIONS = {
    "allow_origins": [GOOD],
    "allow_methods": ["GET", "PUT", "delete"],
    "allow_headers": ["X-Token", "content-type"],
    "max_age": 120,
}


@BOTH
def test_a_preflight_is_answered_without_the_app(make: Call) -> None:
    reply = preflight(make(**OPTIONS), headers="x-token,Content-Type")
    assert reply.status == 204
    assert reply.body == b""
    assert reply.header(ACAO) == GOOD
    assert reply.header("access-control-allow-methods") == "DELETE, GET, PUT"
    assert reply.header("access-control-allow-headers") == "content-type, x-token"
    assert reply.header("access-control-max-age") == "120"
    assert reply.header("access-control-allow-credentials") is None
    assert vary_tokens(reply.headers) == ["origin"]


@BOTH
def test_the_safelisted_request_headers_are_always_allowed(make: Call) -> None:
    reply = preflight(make(allow_origins=[GOOD]), method="GET", headers="accept, accept-language")
    assert reply.status == 204


@BOTH
@pytest.mark.parametrize(
    ("origin", "method", "headers", "refused"),
    [
        ("https://evil.example", "PUT", None, "origin"),
        ("null", "PUT", None, "origin"),
        ("https://GOOD.example", "PUT", None, "origin"),
        ("https://good.example.", "PUT", None, "origin"),
        ("https://good.example\r\nx: y", "PUT", None, "origin"),
        (GOOD, "PATCH", None, "method"),
        (GOOD, "put", None, "method"),  # methods are case-sensitive
        (GOOD, "PUT\r\nx: y", None, "method"),
        (GOOD, "", None, "method"),
        (GOOD, "P" * 100, None, "method"),
        (GOOD, "PUT", "x-token, x-other", "headers"),
        (GOOD, "PUT", "x-token\r\nx: y", "headers"),
        (GOOD, "PUT", "x token", "headers"),
        (GOOD, "PUT", "x-token;", "headers"),
        (GOOD, "PUT", ",".join(["x-token"] * 65), "headers"),  # too many names
        (GOOD, "PUT", "x-token," + " " * 100_000, "headers"),  # too long
        ("https://evil.example", "PATCH", "x-other", "origin, method, headers"),
    ],
)
def test_a_failed_preflight_is_a_plain_400(
    make: Call, origin: str, method: str, headers: str | None, refused: str
) -> None:
    reply = preflight(make(**OPTIONS), origin=origin, method=method, headers=headers)
    assert reply.status == 400
    assert reply.body == f"Disallowed CORS {refused}".encode()
    assert cors_names(reply.headers) == set()
    assert vary_tokens(reply.headers) == ["origin"]


@BOTH
def test_two_request_method_headers_fail(make: Call) -> None:
    extra = [(b"access-control-request-method", b"GET")]
    assert preflight(make(**OPTIONS), extra=extra).status == 400


@BOTH
def test_requested_header_names_are_case_insensitive_and_spaced_freely(make: Call) -> None:
    reply = preflight(make(**OPTIONS), headers=" X-TOKEN ,\tcontent-type,, ")
    assert reply.status == 204
    split = preflight(make(**OPTIONS), extra=[(b"access-control-request-headers", b"x-token")])
    assert split.status == 204


@BOTH
def test_wildcards_reflect_what_was_asked_even_with_credentials(make: Call) -> None:
    app = make(
        allow_origins=[GOOD], allow_methods=["*"], allow_headers=["*"], allow_credentials=True
    )
    reply = preflight(app, method="PATCH", headers="Authorization,X-Anything")
    assert reply.status == 204
    assert reply.header(ACAO) == GOOD
    assert reply.header("access-control-allow-methods") == "PATCH"
    assert reply.header("access-control-allow-headers") == "authorization, x-anything"
    assert reply.header("access-control-allow-credentials") == "true"
    assert vary_tokens(reply.headers) == [
        "origin",
        "access-control-request-method",
        "access-control-request-headers",
    ]
    assert preflight(app, method="PATCH\n").status == 400


@BOTH
def test_any_origin_preflight_answers_star(make: Call) -> None:
    reply = preflight(make(allow_origins=["*"], max_age=None), origin="null", method="GET")
    assert reply.status == 204
    assert reply.header(ACAO) == "*"
    assert reply.header("access-control-max-age") is None
    assert reply.header("vary") is None


@BOTH
def test_options_without_request_method_is_an_actual_request(make: Call) -> None:
    reply = preflight(make(**OPTIONS), method=None)
    assert reply.status == 200
    assert reply.body.endswith(b"OPTIONS")
    assert reply.header(ACAO) == GOOD


@BOTH
def test_options_with_request_method_but_no_origin_goes_to_the_app(make: Call) -> None:
    reply = preflight(make(**OPTIONS), origin=None)
    assert reply.status == 200
    assert cors_names(reply.headers) == set()


# -- streaming, websocket, lifespan -------------------------------------------------------


@BOTH
def test_streaming_stays_streaming(make: Call, asgi_call: Call) -> None:
    headers = [(b"host", b"testserver"), (b"origin", GOOD.encode())]
    reply = asgi_call(make(allow_origins=[GOOD]), "GET", "/stream", headers=headers)
    assert reply.body == b"one two three"
    bodies = [m for m in reply.messages if m["type"] == "http.response.body" and m.get("body")]
    assert [m["body"] for m in bodies] == [b"one ", b"two ", b"three"]
    assert all(m.get("more_body") for m in bodies)
    assert reply.header(ACAO) == GOOD


@BOTH
def test_websocket_and_lifespan_pass_through(make: Call) -> None:
    app = make(allow_origins=[GOOD])
    with TestClient(app) as client:
        if isinstance(app, Bare):
            assert app.state.started
        with client.websocket_connect("/ws", headers={"origin": "https://evil.example"}) as ws:
            assert ws.receive_text() == "ws ok"


# -- a real server ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    yield from uvicorn("apps.mw_cors:app")


@pytest.fixture(scope="module")
def raw_server() -> Iterator[str]:
    yield from uvicorn("apps.mw_cors:raw_app")


def test_real_server_preflight_simple_request_and_500(server: str) -> None:
    with httpx.Client(base_url=f"http://{server}", timeout=10) as client:
        asked = client.options(
            "/crash",
            headers={
                "origin": GOOD,
                "access-control-request-method": "PUT",
                "access-control-request-headers": "x-token,content-type",
            },
        )
        assert asked.status_code == 204
        assert asked.headers[ACAO] == GOOD
        assert asked.headers["access-control-allow-credentials"] == "true"
        assert "PUT" in asked.headers["access-control-allow-methods"]
        assert asked.headers["access-control-allow-headers"] == "content-type, x-token"

        hello = client.get("/hello", headers={"origin": GOOD})
        assert hello.json() == {"hello": "world"}
        assert hello.headers[ACAO] == GOOD
        assert hello.headers["access-control-expose-headers"] == "x-total"
        assert hello.headers["vary"] == "Origin"

        crashed = client.put("/crash", headers={"origin": GOOD}, json={})
        assert crashed.status_code == 500
        assert crashed.headers[ACAO] == GOOD
        assert crashed.headers["access-control-allow-credentials"] == "true"

        evil = client.get("/hello", headers={"origin": "https://evil.example"})
        assert ACAO not in evil.headers


def test_real_server_raw_app_crash_gets_cors_headers(raw_server: str) -> None:
    with httpx.Client(base_url=f"http://{raw_server}", timeout=10) as client:
        crashed = client.get("/", headers={"origin": GOOD})
        assert crashed.status_code == 500
        assert crashed.text == "Internal Server Error"
        assert crashed.headers[ACAO] == GOOD
