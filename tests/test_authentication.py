"""Authentication: the Basic, Bearer and API key backends, AuthenticationMiddleware and
`requires`, on a bare app and on a raw ASGI app, over HTTP and WebSocket."""

from __future__ import annotations

import base64
import hmac
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

from bare import Bare, HTTPException, JSONResponse, Request, Router, WebSocket
from bare._concurrency import is_async_callable
from bare.authentication import (
    CHALLENGE_KEY,
    APIKeyAuth,
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
    BasicAuth,
    BearerAuth,
    SimpleUser,
    UnauthenticatedUser,
    compare_secret,
    requires,
)
from bare.middleware.authentication import AuthenticationMiddleware
from bare.responses import PlainTextResponse, Response
from bare.routing import WebSocketRoute
from bare.testing import TestClient, WebSocketDenied

Call = Callable[..., Any]

PASSWORD = "s3cr:et-é"  # a colon and a non-ASCII letter: split at the first colon, UTF-8
TOKEN = "tok.EN-42_~+/abc=="
KEY = "key-0123456789"
BASIC_CHALLENGE = 'Basic realm="Restricted", charset="UTF-8"'


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class Calls:
    """Verify functions that record what they were given."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, ...]] = []
        self.threads: list[int] = []

    def basic(self, username: str, password: str) -> Any:
        self.seen.append((username, password))
        self.threads.append(threading.get_ident())
        if username == "alice" and compare_secret(password, PASSWORD):
            return ("alice", ["read", "admin"])
        if username == "bob" and compare_secret(password, PASSWORD):
            return "bob"  # a str: a SimpleUser with no scopes
        return None

    async def basic_async(self, username: str, password: str) -> Any:
        return self.basic(username, password)

    def token(self, token: str) -> Any:
        self.seen.append((token,))
        return (SimpleUser("tokened"), AuthCredentials(["read"])) if token == TOKEN else None

    async def key(self, key: str) -> Any:
        self.seen.append((key,))
        return ("keyed", ["read"]) if compare_secret(key, KEY) else None


def who(request: Request) -> dict[str, Any]:
    return {
        "user": request.user.display_name,
        "authenticated": request.user.is_authenticated,
        "scopes": sorted(request.auth.scopes),
    }


def make_app(backend: Any, **options: Any) -> Bare:
    app = Bare()
    app.add_middleware(AuthenticationMiddleware, backend=backend, **options)
    app.add_route("/", who)

    @app.get("/admin", requires="admin")
    async def admin(request: Request) -> str:
        return f"hello {request.user.display_name}"

    @app.get("/sync-admin")
    @requires("admin")
    def sync_admin(request: Request) -> str:
        return f"sync {request.user.display_name} {threading.get_ident()}"

    @app.get("/any", requires=[])
    async def any_user(request: Request) -> str:
        return "in"

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"user": websocket.user.display_name})
        await websocket.close()

    @app.websocket("/ws-admin")
    @requires("admin")
    async def ws_admin(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("admin")
        await websocket.close()

    return app


def raw_app(backend: Any, **options: Any) -> Any:
    """The bare minimum ASGI app, with the middleware around it."""

    async def raw(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            return
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": scope["user"].display_name})
            await send({"type": "websocket.close", "code": 1000})
            return
        body = f"{scope['user'].display_name}|{','.join(sorted(scope['auth'].scopes))}"
        await PlainTextResponse(body)(scope, receive, send)

    return AuthenticationMiddleware(raw, backend, **options)


@pytest.fixture
def calls() -> Calls:
    return Calls()


# -- users and scopes ---------------------------------------------------------------------


def test_auth_credentials() -> None:
    creds = AuthCredentials(["read", "write", "read"])
    assert creds.scopes == frozenset({"read", "write"})
    assert "read" in creds and "admin" not in creds
    assert creds.has("read", "write") and creds.has() and not creds.has("read", "admin")
    assert AuthCredentials("admin").scopes == {"admin"}  # one scope, not five letters
    assert AuthCredentials() == AuthCredentials([]) != creds
    assert hash(AuthCredentials(["a", "b"])) == hash(AuthCredentials(["b", "a"]))
    assert repr(creds) == "AuthCredentials(['read', 'write'])"
    with pytest.raises(TypeError, match="a scope is a str"):
        AuthCredentials([b"read"])  # type: ignore[list-item]
    with pytest.raises(AttributeError):
        creds.scopes = frozenset()  # type: ignore[misc]


def test_users() -> None:
    alice = SimpleUser("alice")
    assert alice.is_authenticated and alice.display_name == alice.identity == "alice"
    assert alice == SimpleUser("alice") != SimpleUser("bob")
    assert repr(alice) == "SimpleUser('alice')" and hash(alice) == hash(SimpleUser("alice"))
    anonymous = UnauthenticatedUser()
    assert not anonymous.is_authenticated
    assert anonymous.display_name == anonymous.identity == ""
    assert anonymous == UnauthenticatedUser() and anonymous != alice
    assert isinstance(alice, BaseUser) and isinstance(anonymous, BaseUser)
    with pytest.raises(NotImplementedError):
        _ = BaseUser().display_name


# -- compare_secret -----------------------------------------------------------------------


def test_compare_secret_compares_text_and_bytes() -> None:
    assert compare_secret("s3cret", "s3cret")
    assert not compare_secret("s3cret", "s3creT")
    assert not compare_secret("s3cret", "s3cret ")
    assert compare_secret("pässwörd", "pässwörd")  # compare_digest alone refuses non-ASCII str
    assert compare_secret("pässwörd", "pässwörd".encode())
    assert compare_secret(bytearray(b"k"), memoryview(b"k"))
    assert not compare_secret("", "x") and compare_secret("", b"")
    with pytest.raises(TypeError, match="str or bytes"):
        compare_secret(1234, "1234")  # type: ignore[arg-type]


def test_compare_secret_goes_through_hmac_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert compare_secret("é", b"\xc3\xa9")
    assert seen == [(b"\xc3\xa9", b"\xc3\xa9")]


# -- configuration mistakes, refused when built -------------------------------------------


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: BasicAuth(print, realm='say "hi"'), ValueError, "realm"),
        (lambda: BasicAuth(print, realm="a\r\nSet-Cookie: x=1"), ValueError, "realm"),
        (lambda: BasicAuth(print, realm="back\\slash"), ValueError, "realm"),
        (lambda: BasicAuth(print, realm=""), ValueError, "realm"),
        (lambda: BasicAuth(print, realm=None), ValueError, "needs a realm"),  # type: ignore[arg-type]
        (lambda: BasicAuth(print, realm="日本"), ValueError, "WWW-Authenticate"),
        (lambda: BasicAuth(print, realm=3), TypeError, "realm must be a str"),  # type: ignore[arg-type]
        (lambda: BasicAuth("nope"), TypeError, "verify function"),  # type: ignore[arg-type]
        (lambda: BasicAuth(print, max_size=0), ValueError, "max_size"),
        (lambda: BearerAuth(print, max_size=1.5), ValueError, "max_size"),  # type: ignore[arg-type]
        (lambda: BearerAuth(print, realm="x\x00"), ValueError, "realm"),
        (lambda: APIKeyAuth(print, header="X-Key", query="key"), ValueError, "one place"),
        (lambda: APIKeyAuth(print, query="k", cookie="k"), ValueError, "two"),
        (lambda: APIKeyAuth(print, header="X Key"), ValueError, "not a valid name"),
        (lambda: APIKeyAuth(print, header="X-Key\r\n"), ValueError, "not a valid name"),
        (lambda: APIKeyAuth(print, cookie="a;b"), ValueError, "not a valid name"),
        (lambda: APIKeyAuth(print, query=""), ValueError, "non-empty"),
        (lambda: APIKeyAuth(print, header=b"X-Key"), TypeError, "takes a name"),  # type: ignore[arg-type]
        (lambda: AuthenticationMiddleware(print, []), ValueError, "at least one backend"),
        (lambda: AuthenticationMiddleware(print, print), TypeError, "not an authentication"),
        (lambda: AuthenticationMiddleware(print, [BasicAuth(print), "x"]), TypeError, "backend"),
        (
            lambda: AuthenticationMiddleware(print, BasicAuth(print), on_error="x"),  # type: ignore[arg-type]
            TypeError,
            "on_error",
        ),
        (lambda: requires(["admin"]), TypeError, "scope names"),  # type: ignore[arg-type]
        (lambda: requires(""), TypeError, "scope names"),
        (lambda: requires("a", status_code=200), ValueError, "error status"),
        (lambda: requires("a", status_code="403"), ValueError, "error status"),  # type: ignore[arg-type]
        (lambda: requires("a", redirect=""), TypeError, "redirect"),
        (lambda: requires()(42), TypeError, "decorates a handler"),  # type: ignore[type-var]
    ],
)
def test_configuration_mistakes_are_refused_when_built(
    build: Callable[[], Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        build()


def test_a_backend_whose_authenticate_is_sync_is_refused() -> None:
    class Sync:
        def authenticate(self, conn: Any) -> None:
            return None

    with pytest.raises(TypeError, match="async authenticate"):
        AuthenticationMiddleware(print, Sync())


def test_challenges() -> None:
    assert BasicAuth(print).challenge == BASIC_CHALLENGE
    assert BasicAuth(print, realm="Staff only").challenge.startswith('Basic realm="Staff only"')
    assert BearerAuth(print).challenge == "Bearer"
    assert BearerAuth(print, realm="api").challenge == 'Bearer realm="api"'
    assert APIKeyAuth(print).challenge == "APIKey"
    assert (APIKeyAuth(print).source, APIKeyAuth(print).name) == ("header", "X-API-Key")
    assert (APIKeyAuth(print, cookie="k").source, APIKeyAuth(print, query="q").name) == (
        "cookie",
        "q",
    )
    both = AuthenticationMiddleware(print, [BasicAuth(print), BearerAuth(print), BasicAuth(print)])
    assert both.challenge == f"{BASIC_CHALLENGE}, Bearer"


# -- Basic ----------------------------------------------------------------------------------


@pytest.mark.parametrize("use_async", [False, True], ids=["sync-verify", "async-verify"])
def test_basic_accepts_good_credentials(calls: Calls, use_async: bool) -> None:
    verify = calls.basic_async if use_async else calls.basic
    client = TestClient(make_app(BasicAuth(verify)))
    reply = client.get("/", headers={"authorization": basic("alice", PASSWORD)})
    assert reply.status_code == 200
    assert reply.json() == {"user": "alice", "authenticated": True, "scopes": ["admin", "read"]}
    assert calls.seen == [("alice", PASSWORD)]  # split at the first colon, decoded as UTF-8
    assert client.get("/admin", headers={"authorization": basic("alice", PASSWORD)}).text == (
        "hello alice"
    )
    bob = client.get("/", headers={"authorization": basic("bob", PASSWORD)}).json()
    assert bob == {"user": "bob", "authenticated": True, "scopes": []}


def test_a_sync_verify_runs_in_a_worker_thread(calls: Calls) -> None:
    loop_threads: list[int] = []
    app = make_app(BasicAuth(calls.basic))

    @app.get("/loop")
    async def loop(request: Request) -> str:
        loop_threads.append(threading.get_ident())
        return "ok"

    assert (
        TestClient(app).get("/loop", headers={"authorization": basic("bob", PASSWORD)}).is_success
    )
    assert calls.threads and calls.threads[0] != loop_threads[0]


def test_no_credentials_is_anonymous_and_goes_on(calls: Calls) -> None:
    client = TestClient(make_app(BasicAuth(calls.basic)))
    assert client.get("/").json() == {"user": "", "authenticated": False, "scopes": []}
    assert calls.seen == []


@pytest.mark.parametrize(
    "header",
    [
        "Digest username=alice",  # another scheme: not ours
        "Basicfoo " + base64.b64encode(b"alice:x").decode(),
        "",  # empty
        "Basic\t" + base64.b64encode(b"alice:x").decode(),  # a tab is no separator
    ],
)
def test_other_schemes_are_left_alone(calls: Calls, header: str) -> None:
    reply = TestClient(make_app(BasicAuth(calls.basic))).get("/", headers={"authorization": header})
    assert reply.status_code == 200 and reply.json()["authenticated"] is False
    assert calls.seen == []


@pytest.mark.parametrize("scheme", ["basic", "BASIC", "bAsIc"])
def test_the_scheme_is_case_insensitive(calls: Calls, scheme: str) -> None:
    header = scheme + basic("alice", PASSWORD)[5:]
    reply = TestClient(make_app(BasicAuth(calls.basic))).get("/", headers={"authorization": header})
    assert reply.json()["user"] == "alice"


def test_several_spaces_after_the_scheme_are_one_separator(calls: Calls) -> None:
    header = "Basic    " + basic("alice", PASSWORD)[6:]
    reply = TestClient(make_app(BasicAuth(calls.basic))).get("/", headers={"authorization": header})
    assert reply.json()["user"] == "alice"


def test_wrong_credentials_are_a_401_that_does_not_echo_them(calls: Calls) -> None:
    client = TestClient(make_app(BasicAuth(calls.basic)))
    secret = "hunter2-topsecret"
    header = basic("mallory", secret)
    reply = client.get("/", headers={"authorization": header})
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == BASIC_CHALLENGE
    assert reply.json() == {"detail": "Invalid credentials"}
    everything = reply.content + repr(reply.headers).encode()
    for leaked in (secret, "mallory", header[6:]):
        assert leaked.encode() not in everything
    assert calls.seen == [("mallory", secret)]


def encoded(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode("ascii")


def encoded_bytes(raw: bytes) -> bytes:
    return b"Basic " + base64.b64encode(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"Basic",  # no credentials at all
        b"Basic ",
        b"Basic !!!not-base64!!!",
        b"Basic " + base64.urlsafe_b64encode(b"alice:\xfb\xff"),  # the urlsafe alphabet
        b"Basic YWxpY2U6cw",  # missing padding
        b"Basic YWxp Y2U6cw==",  # a space inside
        b"Basic YWxpY2U6cw==garbage",
        b"Basic YWxpY2U6cw==\t",
        encoded_bytes(b"alice-no-colon"),
        encoded_bytes(b"alice:\xff\xfe"),  # not UTF-8
        encoded_bytes(b"\xc3(:\xa0\xa1"),
        encoded_bytes(b"ali\x00ce:pw"),  # control characters are not allowed (RFC 7617)
        encoded_bytes(b"alice:pw\r\nX-Injected: 1"),
        encoded_bytes(b"alice:pw\x7f"),
        b"Basic \xe9\xe9\xe9\xe9",  # latin-1 bytes where base64 belongs
        b"Basic YWxp\x00Y2U6cHc=",
    ],
)
def test_malformed_basic_credentials_are_a_401_with_the_challenge(
    asgi_call: Call, calls: Calls, raw: bytes
) -> None:
    for app in (make_app(BasicAuth(calls.basic)), raw_app(BasicAuth(calls.basic))):
        reply = asgi_call(app, "GET", "/", headers=[(b"host", b"x"), (b"authorization", raw)])
        assert reply.status == 401
        assert reply.header("www-authenticate") == BASIC_CHALLENGE
        assert reply.json() == {"detail": "Malformed Basic credentials"}
    assert calls.seen == []  # verify never saw them


def test_a_colon_ends_the_username_not_the_password(calls: Calls) -> None:
    client = TestClient(make_app(BasicAuth(calls.basic)))
    client.get("/", headers={"authorization": encoded(b"a:b:c::")})
    client.get("/", headers={"authorization": encoded(b":only-password")})
    assert calls.seen == [("a", "b:c::"), ("", "only-password")]


def test_several_authorization_headers_are_a_400(asgi_call: Call, calls: Calls) -> None:
    good = basic("alice", PASSWORD).encode()
    headers = [(b"host", b"x"), (b"authorization", good), (b"authorization", good)]
    for app in (make_app(BasicAuth(calls.basic)), raw_app(BasicAuth(calls.basic))):
        reply = asgi_call(app, "GET", "/", headers=headers)
        assert reply.status == 400
        assert reply.json() == {"detail": "Several Authorization headers"}
    assert calls.seen == []


def test_a_huge_header_is_refused_before_it_is_decoded(
    asgi_call: Call, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bare.authentication as module

    decoded: list[str] = []
    monkeypatch.setattr(module, "_decode_basic", lambda value: decoded.append(value))
    huge = basic("alice", "x" * 9000).encode()
    for app in (make_app(BasicAuth(calls.basic)), raw_app(BasicAuth(calls.basic))):
        reply = asgi_call(app, "GET", "/", headers=[(b"host", b"x"), (b"authorization", huge)])
        assert reply.status == 400
        assert reply.json() == {"detail": "Authorization header too large"}
    assert decoded == [] and calls.seen == []


def test_the_size_limit_is_a_knob(calls: Calls) -> None:
    header = basic("alice", PASSWORD)
    small = TestClient(make_app(BasicAuth(calls.basic, max_size=len(header) - 1)))
    assert small.get("/", headers={"authorization": header}).status_code == 400
    exact = TestClient(make_app(BasicAuth(calls.basic, max_size=len(header))))
    assert exact.get("/", headers={"authorization": header}).json()["user"] == "alice"


def test_100_kb_of_hostile_credentials_are_read_in_one_pass(asgi_call: Call, calls: Calls) -> None:
    # Linear parsers: 100 kB of near-token68 that only fails at the very end. The
    # pytest timeout is the net for a parser gone quadratic; the outcome is asserted.
    app = raw_app([BasicAuth(calls.basic, max_size=10**6), BearerAuth(calls.token, max_size=10**6)])
    for raw, status in (
        (b"Basic " + b"A" * 100_000 + b"!", 401),
        (b"Basic " + b"=" * 100_000, 401),
        (b"Basic " + b"A" * 100_000 + b"=" * 100_000 + b"A", 401),
        (b"Basic " + base64.b64encode(b"x" * 75_000), 401),  # no colon
        (b"Basic " + base64.b64encode(b"a:" + b"\x01" * 75_000), 401),
        (b"Basic " + base64.b64encode(b"\xff" * 75_000), 401),
        (b"Bearer " + b"a" * 100_000 + b" ", 400),
        (b"Bearer " + b"a=" * 50_000, 400),
        (b"Bearer " + b" " * 100_000 + b"\x00", 400),
    ):
        assert asgi_call(app, "GET", "/", headers=[(b"authorization", raw)]).status == status
    assert calls.seen == []


# -- Bearer ---------------------------------------------------------------------------------


def test_bearer_accepts_a_good_token(calls: Calls) -> None:
    client = TestClient(make_app(BearerAuth(calls.token)))
    reply = client.get("/", headers={"authorization": f"Bearer {TOKEN}"})
    assert reply.json() == {"user": "tokened", "authenticated": True, "scopes": ["read"]}
    assert calls.seen == [(TOKEN,)]


def test_a_rejected_token_is_a_401_invalid_token(calls: Calls) -> None:
    client = TestClient(make_app(BearerAuth(calls.token, realm="api")))
    reply = client.get("/", headers={"authorization": "bearer wrong-token"})
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == 'Bearer realm="api", error="invalid_token"'
    assert b"wrong-token" not in reply.content


@pytest.mark.parametrize(
    "raw",
    [
        b"Bearer",
        b"Bearer ",
        b"Bearer two words",
        b"Bearer a\tb",
        b"Bearer =abc",
        b"Bearer a=b",
        b"Bearer abc\x00",
        b"Bearer abc\x01def",
        b"Bearer \xff\xfe",
        b"Bearer abc ",
    ],
)
def test_a_malformed_token_is_a_400_invalid_request(
    asgi_call: Call, calls: Calls, raw: bytes
) -> None:
    for app in (make_app(BearerAuth(calls.token)), raw_app(BearerAuth(calls.token))):
        reply = asgi_call(app, "GET", "/", headers=[(b"host", b"x"), (b"authorization", raw)])
        assert reply.status == 400
        assert reply.header("www-authenticate") == 'Bearer error="invalid_request"'
        assert reply.json() == {"detail": "Malformed Bearer token"}
    assert calls.seen == []


def test_basic_and_bearer_together_each_take_their_scheme(calls: Calls) -> None:
    client = TestClient(make_app([BasicAuth(calls.basic), BearerAuth(calls.token)]))
    assert client.get("/", headers={"authorization": f"Bearer {TOKEN}"}).json()["user"] == "tokened"
    assert (
        client.get("/", headers={"authorization": basic("bob", PASSWORD)}).json()["user"] == "bob"
    )
    anonymous = client.get("/admin")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == f"{BASIC_CHALLENGE}, Bearer"
    # A wrong token is refused by its backend: no fallback to the others.
    assert client.get("/", headers={"authorization": "Bearer nope"}).status_code == 401


# -- API keys -------------------------------------------------------------------------------


def test_api_key_in_a_header(calls: Calls) -> None:
    client = TestClient(make_app(APIKeyAuth(calls.key)))
    assert client.get("/", headers={"x-api-key": KEY}).json()["user"] == "keyed"
    wrong = client.get("/", headers={"X-API-KEY": "wrong"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "APIKey"
    assert wrong.json() == {"detail": "Invalid API key"}
    # The key in the query string is not where this backend looks.
    assert client.get("/", params={"X-API-Key": KEY}).json()["authenticated"] is False


def test_api_key_in_the_query_string(calls: Calls) -> None:
    client = TestClient(make_app(APIKeyAuth(calls.key, query="api_key")))
    assert client.get("/", params={"api_key": KEY}).json()["user"] == "keyed"
    assert client.get("/", params={"api_key": "nope"}).status_code == 401
    assert client.get("/", headers={"x-api-key": KEY}).json()["authenticated"] is False
    assert client.get("/?api_key=a&api_key=b").status_code == 400  # which one would count?


def test_api_key_in_a_cookie(calls: Calls) -> None:
    client = TestClient(make_app(APIKeyAuth(calls.key, cookie="key", realm="site")))
    assert client.get("/", cookies={"key": KEY}).json()["user"] == "keyed"
    wrong = client.get("/", cookies={"key": "nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == 'APIKey realm="site"'
    # Two cookies of that name (different paths): the first, as browsers order them.
    both = client.get("/", headers={"cookie": f"key={KEY}; key=nope"})
    assert both.json()["user"] == "keyed"


def test_header_first_then_query_with_two_backends(calls: Calls) -> None:
    seen: list[str] = []

    def header_verify(key: str) -> str | None:
        seen.append(f"header:{key}")
        return "by-header" if key == KEY else None

    def query_verify(key: str) -> str | None:
        seen.append(f"query:{key}")
        return "by-query" if key == KEY else None

    backends = [APIKeyAuth(header_verify), APIKeyAuth(query_verify, query="api_key")]
    client = TestClient(make_app(backends))
    both = client.get("/", headers={"x-api-key": KEY}, params={"api_key": "other"})
    assert both.json()["user"] == "by-header"
    assert client.get("/", params={"api_key": KEY}).json()["user"] == "by-query"
    # A wrong key in the header is refused, whatever the query holds.
    assert client.get("/", headers={"x-api-key": "bad"}, params={"api_key": KEY}).status_code == 401
    assert seen == [f"header:{KEY}", f"query:{KEY}", "header:bad"]


def test_hostile_api_keys(asgi_call: Call, calls: Calls) -> None:
    for app in (make_app(APIKeyAuth(calls.key)), raw_app(APIKeyAuth(calls.key))):

        def get(*headers: tuple[bytes, bytes], app: Any = app) -> Any:
            return asgi_call(app, "GET", "/", headers=[(b"host", b"x"), *headers])

        assert get((b"x-api-key", b"")).status == 401  # sent, but empty
        assert get((b"x-api-key", b"k\x00ey")).status == 401
        assert get((b"x-api-key", b"a"), (b"x-api-key", b"b")).status == 400
        assert get((b"x-api-key", b"k" * 9000)).status == 400
        assert get((b"x-api-key", b"\xff" * 10)).status == 401  # latin-1 text, wrong key
    assert calls.seen == [("\xff" * 10,), ("\xff" * 10,)]


def test_too_many_query_items_are_a_400_even_on_a_raw_app(asgi_call: Call, calls: Calls) -> None:
    query = "&".join(f"p{i}=1" for i in range(1001)).encode()
    for app in (
        make_app(APIKeyAuth(calls.key, query="k")),
        raw_app(APIKeyAuth(calls.key, query="k")),
    ):
        reply = asgi_call(app, "GET", "/", query=query)
        assert reply.status == 400 and "Too many query parameters" in reply.json()["detail"]


# -- what verify returns, and what it raises ------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "user", "scopes"),
    [
        ("carol", SimpleUser("carol"), frozenset()),
        (("carol", "admin"), SimpleUser("carol"), {"admin"}),
        (("carol", AuthCredentials(["x"])), SimpleUser("carol"), {"x"}),
        ({"id": 7}, {"id": 7}, frozenset()),  # any object is a user
        ((None, ["admin"]), None, None),  # no user: rejected
    ],
)
def test_what_verify_may_return(asgi_call: Call, answer: Any, user: Any, scopes: Any) -> None:
    seen: dict[str, Any] = {}

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.update(user=scope["user"], scopes=scope["auth"].scopes)
        await PlainTextResponse("ok")(scope, receive, send)

    app = AuthenticationMiddleware(inner, BearerAuth(lambda token: answer))
    reply = asgi_call(app, "GET", "/", headers=[(b"authorization", b"Bearer t")])
    if user is None:
        assert reply.status == 401 and seen == {}
    else:
        assert reply.status == 200 and seen == {"user": user, "scopes": scopes}


@pytest.mark.parametrize(
    ("answer", "message"),
    [(True, "not a bool"), (False, "not a bool"), ((1, 2, 3), "tuple of 3"), (("u", [1]), "scope")],
)
def test_a_verify_returning_nonsense_is_the_apps_bug(answer: Any, message: str) -> None:
    app = make_app(BearerAuth(lambda token: answer))
    with pytest.raises(TypeError, match=message):
        TestClient(app).get("/", headers={"authorization": "Bearer t"})
    reply = TestClient(app, raise_server_exceptions=False).get(
        "/", headers={"authorization": "Bearer t"}
    )
    assert reply.status_code == 500  # never a 200 for a bool, never a silent 401


def test_a_sync_verify_returning_a_coroutine_is_awaited() -> None:
    async def check(token: str) -> str | None:
        return "late" if token == TOKEN else None

    app = make_app(BearerAuth(lambda token: check(token)))
    client = TestClient(app)
    assert client.get("/", headers={"authorization": f"Bearer {TOKEN}"}).json()["user"] == "late"
    assert client.get("/", headers={"authorization": "Bearer x"}).status_code == 401


class DatabaseDown(Exception):
    pass


def broken_verify(username: str, password: str) -> Any:
    raise DatabaseDown("connection refused to db.internal:5432")


def test_an_error_in_verify_is_a_500_through_the_apps_handlers() -> None:
    app = make_app(BasicAuth(broken_verify))
    header = {"authorization": basic("alice", PASSWORD)}
    with pytest.raises(DatabaseDown):
        TestClient(app).get("/", headers=header)
    reply = TestClient(app, raise_server_exceptions=False).get("/", headers=header)
    assert reply.status_code == 500 and b"db.internal" not in reply.content

    handled = make_app(BasicAuth(broken_verify))
    handled.add_exception_handler(DatabaseDown, lambda r, e: JSONResponse({"retry": True}, 503))
    reply = TestClient(handled).get("/", headers=header)
    assert (reply.status_code, reply.json()) == (503, {"retry": True})


def test_an_error_in_verify_reaches_the_server_under_a_raw_app(asgi_call: Call) -> None:
    with pytest.raises(DatabaseDown):
        asgi_call(
            raw_app(BasicAuth(broken_verify)),
            "GET",
            "/",
            headers=[(b"authorization", basic("a", "b").encode())],
        )


def test_an_http_exception_from_verify_is_answered_on_any_app(asgi_call: Call) -> None:
    def limited(token: str) -> Any:
        raise HTTPException(429, "Slow down", {"retry-after": "30"})

    header = [(b"authorization", b"Bearer abc")]
    for app in (make_app(BearerAuth(limited)), raw_app(BearerAuth(limited))):
        reply = asgi_call(app, "GET", "/", headers=header)
        assert (reply.status, reply.header("retry-after")) == (429, "30")
        assert reply.json() == {"detail": "Slow down"}


# -- answering refusals: the app's handlers, on_error, the raw path ------------------------


def test_the_apps_401_handler_answers_and_outer_middleware_see_it(calls: Calls) -> None:
    statuses: list[int] = []

    class Outer:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            async def watch(message: Any) -> None:
                if message["type"] == "http.response.start":
                    statuses.append(message["status"])
                await send(message)

            await self.app(scope, receive, watch)

    app = Bare()
    app.add_middleware(Outer)
    app.add_middleware(AuthenticationMiddleware, backend=BasicAuth(calls.basic))
    app.add_route("/", who)

    @app.exception_handler(401)
    def unauthorized(request: Request, exc: HTTPException) -> Response:
        assert exc.headers is not None
        return PlainTextResponse("who are you?", 401, headers=exc.headers)

    reply = TestClient(app).get("/", headers={"authorization": basic("x", "y")})
    assert (reply.status_code, reply.text) == (401, "who are you?")
    assert reply.headers["www-authenticate"] == BASIC_CHALLENGE
    assert statuses == [401]


def test_bare_and_raw_answer_the_same_by_default(asgi_call: Call, calls: Calls) -> None:
    header = [(b"host", b"x"), (b"authorization", basic("x", "y").encode())]
    on_bare = asgi_call(make_app(BasicAuth(calls.basic)), "GET", "/", headers=header)
    on_raw = asgi_call(raw_app(BasicAuth(calls.basic)), "GET", "/", headers=header)
    assert (on_bare.status, on_bare.headers, on_bare.body) == (
        on_raw.status,
        on_raw.headers,
        on_raw.body,
    )


@pytest.mark.parametrize("use_async", [False, True])
def test_on_error_replaces_the_answer(asgi_call: Call, calls: Calls, use_async: bool) -> None:
    seen: list[tuple[str, int]] = []

    def build(conn: Any, exc: HTTPException) -> Response:
        seen.append((type(conn).__name__, exc.status))
        return PlainTextResponse(f"nope: {exc.detail}", exc.status, headers=exc.headers)

    async def build_async(conn: Any, exc: HTTPException) -> Response:
        return build(conn, exc)

    on_error = build_async if use_async else build
    header = [(b"authorization", basic("x", "y").encode())]
    for app in (
        make_app(BasicAuth(calls.basic), on_error=on_error),
        raw_app(BasicAuth(calls.basic), on_error=on_error),
    ):
        reply = asgi_call(app, "GET", "/", headers=header)
        assert (reply.status, reply.body) == (401, b"nope: Invalid credentials")
        assert reply.header("www-authenticate") == BASIC_CHALLENGE
    assert seen == [("Request", 401), ("Request", 401)]


def test_on_error_must_give_a_response(asgi_call: Call, calls: Calls) -> None:
    app = raw_app(BasicAuth(calls.basic), on_error=lambda conn, exc: "nope")
    with pytest.raises(TypeError, match="not a Response"):
        asgi_call(app, "GET", "/", headers=[(b"authorization", basic("x", "y").encode())])


# -- raw ASGI apps and scope types ----------------------------------------------------------


def test_on_a_raw_app(asgi_call: Call, calls: Calls) -> None:
    app = raw_app([BasicAuth(calls.basic), BearerAuth(calls.token)])
    good = asgi_call(
        app, "GET", "/", headers=[(b"authorization", basic("alice", PASSWORD).encode())]
    )
    assert (good.status, good.body) == (200, b"alice|admin,read")
    assert asgi_call(app, "GET", "/").body == b"|"  # anonymous
    bad = asgi_call(app, "GET", "/", headers=[(b"authorization", b"Bearer nope")])
    assert bad.status == 401
    assert bad.header("www-authenticate") == 'Bearer error="invalid_token"'


def test_lifespan_and_unknown_scopes_pass_through(calls: Calls) -> None:
    with TestClient(raw_app(BasicAuth(calls.basic))) as client:  # runs the lifespan
        assert client.get("/").text == "|"
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        assert "user" not in scope

    import asyncio

    middleware = AuthenticationMiddleware(inner, BasicAuth(calls.basic))
    asyncio.run(middleware({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    asyncio.run(middleware({"type": "webtransport"}, None, None))  # type: ignore[arg-type]
    assert seen == ["lifespan", "webtransport"]


def test_the_challenge_is_left_in_the_scope(asgi_call: Call) -> None:
    seen: list[Any] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope.get(CHALLENGE_KEY))
        await PlainTextResponse("ok")(scope, receive, send)

    asgi_call(AuthenticationMiddleware(inner, BearerAuth(print, realm="r")), "GET", "/")
    assert seen == ['Bearer realm="r"']


def test_an_inner_middleware_finding_nothing_keeps_the_outer_user(calls: Calls) -> None:
    app = Bare()
    app.add_middleware(AuthenticationMiddleware, backend=BasicAuth(calls.basic))
    app.add_middleware(AuthenticationMiddleware, backend=APIKeyAuth(calls.key))
    app.add_route("/", who)

    @app.get("/admin", requires="admin")
    def admin(request: Request) -> str:
        return "admin"

    client = TestClient(app)
    assert client.get("/", headers={"authorization": basic("alice", PASSWORD)}).json()["user"] == (
        "alice"
    )
    assert client.get("/", headers={"x-api-key": KEY}).json()["user"] == "keyed"
    anonymous = client.get("/admin")
    assert anonymous.headers["www-authenticate"] == f"{BASIC_CHALLENGE}, APIKey"


def test_under_a_mount(calls: Calls) -> None:
    inner = Bare()
    inner.add_route("/", who)
    outer = Bare()
    outer.mount("/api", AuthenticationMiddleware(inner, BearerAuth(calls.token)))
    client = TestClient(outer)
    assert client.get("/api/", headers={"authorization": f"Bearer {TOKEN}"}).json()["user"] == (
        "tokened"
    )
    refused = client.get("/api/", headers={"authorization": "Bearer bad"})
    assert refused.status_code == 401 and refused.json() == {"detail": "Invalid token"}


# -- requires -------------------------------------------------------------------------------


def test_requires_anonymous_is_a_401_with_the_challenge(calls: Calls) -> None:
    client = TestClient(make_app(BasicAuth(calls.basic)))
    for path in ("/admin", "/sync-admin", "/any"):
        reply = client.get(path)
        assert reply.status_code == 401, path
        assert reply.headers["www-authenticate"] == BASIC_CHALLENGE
        assert reply.json() == {"detail": "Not authenticated"}


def test_requires_missing_scopes_is_a_403(calls: Calls) -> None:
    client = TestClient(make_app(BasicAuth(calls.basic)))
    bob = {"authorization": basic("bob", PASSWORD)}
    for path in ("/admin", "/sync-admin"):
        reply = client.get(path, headers=bob)
        assert reply.status_code == 403 and "www-authenticate" not in reply.headers
    assert client.get("/any", headers=bob).text == "in"  # requires=[]: any authenticated user
    alice = client.get("/sync-admin", headers={"authorization": basic("alice", PASSWORD)})
    assert alice.text.startswith("sync alice ")


def test_requires_keeps_sync_sync_and_async_async() -> None:
    def plain(request: Request) -> str:
        """Docs."""
        return "x"

    async def coroutine(request: Request) -> str:
        return "x"

    wrapped_plain = requires("a")(plain)
    wrapped_coroutine = requires("a")(coroutine)
    assert not is_async_callable(wrapped_plain) and is_async_callable(wrapped_coroutine)
    assert wrapped_plain.__name__ == "plain" and wrapped_plain.__doc__ == "Docs."
    assert wrapped_plain.__wrapped__ is plain  # type: ignore[attr-defined]
    import inspect

    assert inspect.signature(wrapped_coroutine) == inspect.signature(coroutine)


def test_a_sync_handler_still_runs_in_a_worker_thread(calls: Calls) -> None:
    app = make_app(BasicAuth(calls.basic))
    loop_thread: list[int] = []

    @app.get("/loop")
    async def loop(request: Request) -> str:
        loop_thread.append(threading.get_ident())
        return ""

    client = TestClient(app)
    with client:  # one loop for both requests
        client.get("/loop")
        text = client.get("/sync-admin", headers={"authorization": basic("alice", PASSWORD)}).text
    assert int(text.split()[-1]) != loop_thread[0]


def test_requires_status_code_and_redirect(calls: Calls) -> None:
    app = make_app(BasicAuth(calls.basic))

    @app.get("/teapot")
    @requires("admin", status_code=418)
    def teapot(request: Request) -> str:
        return "tea"

    @app.get("/page")
    @requires("admin", redirect="/login?from=page")
    async def page(request: Request) -> str:
        return "page"

    client = TestClient(app)
    bob = {"authorization": basic("bob", PASSWORD)}
    assert client.get("/teapot", headers=bob).status_code == 418
    assert client.get("/teapot").status_code == 401  # anonymous: always the 401
    login = client.get("/page")
    assert (login.status_code, login.headers["location"]) == (303, "/login?from=page")
    assert client.get("/page", headers=bob).status_code == 403  # logged in, not allowed


def test_requires_without_a_challenge_is_a_403() -> None:
    class Session(AuthenticationBackend):
        async def authenticate(self, conn: Any) -> Any:
            if conn.cookies.get("session") == "ok":
                return SimpleUser("s"), AuthCredentials()
            return None

    client = TestClient(make_app(Session()))
    reply = client.get("/any")
    assert reply.status_code == 403 and "www-authenticate" not in reply.headers
    assert client.get("/any", cookies={"session": "ok"}).text == "in"


def test_requires_without_the_middleware_names_it() -> None:
    app = Bare()

    @app.get("/")
    @requires()
    def home(request: Request) -> str:
        return ""

    app.add_route("/option", lambda r: "", requires="a")
    for path in ("/", "/option"):
        with pytest.raises(RuntimeError, match="AuthenticationMiddleware"):
            TestClient(app).get(path)


def test_requires_finds_the_request_after_self_and_in_keywords(asgi_call: Call) -> None:
    class Views:
        @requires("a")
        def show(self, request: Request) -> str:
            return "shown"

    request = Request({"type": "http", "user": SimpleUser("u"), "auth": AuthCredentials("a")}, None)  # type: ignore[arg-type]
    assert Views().show(request) == "shown"
    assert requires("a")(lambda *, request: "kw")(request=request) == "kw"
    with pytest.raises(TypeError, match="without a request"):
        requires("a")(lambda x: x)(1)


def test_requires_accepts_other_auth_objects_with_scopes() -> None:
    class StarletteStyle:
        scopes = ["a", "b"]  # a list, as Starlette's AuthCredentials has

    request = Request({"type": "http", "user": SimpleUser("u"), "auth": StarletteStyle()}, None)  # type: ignore[arg-type]
    assert requires("a", "b")(lambda r: "ok")(request) == "ok"
    with pytest.raises(HTTPException) as caught:
        requires("c")(lambda r: "ok")(request)
    assert caught.value.status == 403


# -- WebSocket ------------------------------------------------------------------------------


def test_websocket_with_good_credentials(calls: Calls) -> None:
    client = TestClient(make_app(APIKeyAuth(calls.key, query="key")))
    with client.websocket_connect("/ws", params={"key": KEY}) as ws:
        assert ws.receive_json() == {"user": "keyed"}
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json() == {"user": ""}  # anonymous goes on, as for HTTP


def test_websocket_with_wrong_credentials_is_refused(calls: Calls) -> None:
    client = TestClient(make_app(BasicAuth(calls.basic)))
    wrong = {"authorization": basic("x", "y")}
    with pytest.raises(WebSocketDenied) as caught, client.websocket_connect("/ws", headers=wrong):
        pass
    response = caught.value.response
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == BASIC_CHALLENGE
    assert b"x:y" not in response.content


def test_websocket_refusal_without_the_http_response_extension(
    ws_session: Call, calls: Calls
) -> None:
    headers = [(b"authorization", basic("x", "y").encode())]
    for app in (make_app(BasicAuth(calls.basic)), raw_app(BasicAuth(calls.basic))):
        sent = ws_session(app, "/ws", [], headers=headers)
        assert sent == [{"type": "websocket.close", "code": 1008, "reason": ""}]


def test_websocket_refusal_when_the_client_left_first(calls: Calls) -> None:
    import asyncio

    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "websocket.disconnect", "code": 1006}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": [(b"authorization", b"Bearer bad")]}
    asyncio.run(raw_app(BearerAuth(calls.token))(scope, receive, send))
    assert sent == []


def test_websocket_on_a_raw_app(calls: Calls) -> None:
    client = TestClient(raw_app(BearerAuth(calls.token)))
    with client.websocket_connect("/", headers={"authorization": f"Bearer {TOKEN}"}) as ws:
        assert ws.receive_text() == "tokened"
    bad = {"authorization": "Bearer bad"}
    with pytest.raises(WebSocketDenied) as caught, client.websocket_connect("/", headers=bad):
        pass
    assert caught.value.response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_requires_on_a_websocket_handler(ws_session: Call, calls: Calls) -> None:
    client = TestClient(make_app(BasicAuth(calls.basic)))
    with pytest.raises(WebSocketDenied) as anonymous, client.websocket_connect("/ws-admin"):
        pass
    assert anonymous.value.status_code == 401
    assert anonymous.value.response.headers["www-authenticate"] == BASIC_CHALLENGE
    with (
        pytest.raises(WebSocketDenied) as forbidden,
        client.websocket_connect("/ws-admin", headers={"authorization": basic("bob", PASSWORD)}),
    ):
        pass
    assert forbidden.value.status_code == 403
    alice = {"authorization": basic("alice", PASSWORD)}
    with client.websocket_connect("/ws-admin", headers=alice) as ws:
        assert ws.receive_text() == "admin"
    # Without the extension, the refusal is a close before accept (the server says 403).
    sent = ws_session(make_app(BasicAuth(calls.basic)), "/ws-admin", [])
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": ""}]


def test_requires_as_an_option_of_websocket_routes(calls: Calls) -> None:
    app = make_app(BasicAuth(calls.basic))

    async def admin_socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("admin")
        await websocket.close()

    app.websocket("/opt/decorated", requires="admin")(admin_socket)
    app.add_websocket_route("/opt/added", admin_socket, name="added", requires=["admin"])
    router = Router()
    router.websocket("/socket", requires="admin")(admin_socket)
    app.include_router(router, prefix="/opt/included")  # the scopes travel with the copy
    client = TestClient(app)
    for path in ("/opt/decorated", "/opt/added", "/opt/included/socket"):
        with pytest.raises(WebSocketDenied) as anonymous, client.websocket_connect(path):
            pass
        assert anonymous.value.status_code == 401, path
        bob = {"authorization": basic("bob", PASSWORD)}
        with (
            pytest.raises(WebSocketDenied) as forbidden,
            client.websocket_connect(path, headers=bob),
        ):
            pass
        assert forbidden.value.status_code == 403, path
        alice = {"authorization": basic("alice", PASSWORD)}
        with client.websocket_connect(path, headers=alice) as ws:
            assert ws.receive_text() == "admin"
    with pytest.raises(TypeError, match="requires= takes scope names"):
        app.websocket("/bad", requires=[""])


# -- cost -----------------------------------------------------------------------------------


def test_import_bare_does_not_load_authentication() -> None:
    script = (
        "import sys, bare, bare.middleware\n"
        "print(sorted(m for m in sys.modules if 'authentication' in m))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_errors_are_http_exceptions() -> None:
    error = AuthenticationError("Nope", 'Basic realm="x"')
    assert isinstance(error, HTTPException)
    assert (error.status, error.detail, error.headers) == (
        401,
        "Nope",
        {"WWW-Authenticate": 'Basic realm="x"'},
    )
    assert AuthenticationError().headers is None and AuthenticationError(status=400).status == 400


# -- requires on typed handlers -------------------------------------------------------------


class Scoped(AuthenticationBackend):
    """Grants the scopes listed in `x-scopes` (`-` for none); anonymous without it."""

    challenge = 'Test realm="t"'

    async def authenticate(self, conn: Any) -> Any:
        scopes = conn.headers.get("x-scopes")
        if scopes is None:
            return None
        return SimpleUser("u"), AuthCredentials(s for s in scopes.split(",") if s != "-")


def scoped_app() -> Bare:
    app = Bare()
    app.add_middleware(AuthenticationMiddleware, backend=Scoped())
    return app


def scopes(*names: str) -> dict[str, str]:
    return {"x-scopes": ",".join(names) or "-"}


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_requires_on_a_typed_http_handler(kind: str) -> None:
    from bare import Query

    app = scoped_app()
    if kind == "async":

        @app.get("/items/{item_id:int}")
        @requires("read")
        async def item(item_id: int, limit: int = Query(10, le=100)) -> dict[str, int]:
            return {"id": item_id, "limit": limit}

    else:

        @app.get("/items/{item_id:int}")
        @requires("read")
        def item(item_id: int, limit: int = Query(10, le=100)) -> dict[str, int]:
            return {"id": item_id, "limit": limit}

    client = TestClient(app)
    ok = client.get("/items/3?limit=5", headers=scopes("read"))
    assert (ok.status_code, ok.json()) == (200, {"id": 3, "limit": 5})
    anonymous = client.get("/items/3")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Test realm="t"'
    assert client.get("/items/3", headers=scopes("write")).status_code == 403
    # The scopes are checked before the request is read: no 422 tells a stranger
    # what the route takes.
    assert client.get("/items/3?limit=oops").status_code == 401
    assert client.get("/items/3?limit=oops", headers=scopes()).status_code == 403
    assert client.get("/items/3?limit=oops", headers=scopes("read")).status_code == 422
    route = app.routes[0]
    assert route.plan is not None and route.options.requires == ("read",)  # type: ignore[union-attr]


def test_requires_on_typed_handlers_keeps_its_status_code_and_redirect() -> None:
    app = scoped_app()

    @app.get("/hidden")
    @requires("admin", status_code=404)
    def hidden(q: str = "") -> str:
        return "hidden " + q

    @app.post("/form")
    @requires("admin", redirect="/login")
    async def form(payload: dict[str, int]) -> dict[str, int]:
        return payload

    client = TestClient(app)
    assert client.get("/hidden", headers=scopes("read")).status_code == 404
    assert client.get("/hidden?q=x", headers=scopes("admin")).text == "hidden x"
    login = client.post("/form", json={"a": 1})
    assert (login.status_code, login.headers["location"]) == (303, "/login")
    assert client.post("/form", json={"a": 1}, headers=scopes()).status_code == 403
    assert client.post("/form", json={"a": 1}, headers=scopes("admin")).json() == {"a": 1}


def test_requires_on_a_typed_websocket_handler() -> None:
    from bare import Depends, Query

    ran: list[str] = []

    async def audit() -> None:
        ran.append("audit")

    app = scoped_app()

    @app.websocket("/rooms/{room:int}")
    @requires("chat")
    async def room(websocket: WebSocket, room: int, name: str = Query()) -> None:
        await websocket.accept()
        await websocket.send_text(f"{name} in {room}")
        await websocket.close()

    @app.websocket("/feed", dependencies=[Depends(audit)])
    @requires("chat", status_code=404)
    async def feed(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text("feed")
        await ws.close()

    client = TestClient(app)
    with client.websocket_connect("/rooms/2?name=ada", headers=scopes("chat")) as ws:
        assert ws.receive_text() == "ada in 2"
    with pytest.raises(WebSocketDenied) as anonymous, client.websocket_connect("/rooms/2"):
        pass
    assert anonymous.value.status_code == 401  # checked before the missing `name`
    with (
        pytest.raises(WebSocketDenied) as forbidden,
        client.websocket_connect("/rooms/2?name=ada", headers=scopes("read")),
    ):
        pass
    assert forbidden.value.status_code == 403
    with (
        pytest.raises(WebSocketDenied) as hidden,
        client.websocket_connect("/feed", headers=scopes()),
    ):
        pass
    assert hidden.value.status_code == 404 and ran == []
    with client.websocket_connect("/feed", headers=scopes("chat")) as ws:
        assert ws.receive_text() == "feed"
    assert ran == ["audit"]
    sockets = [r for r in app.routes if isinstance(r, WebSocketRoute)]
    assert [r.requires for r in sockets] == [("chat",), ("chat",)]


def test_requires_decorator_and_option_together_ask_for_both() -> None:
    app = scoped_app()

    @app.get("/both", requires=["read"])
    @requires("admin", status_code=404)
    async def both(q: int = 0) -> int:
        return q

    @app.get("/plain", requires="read")
    @requires("admin")
    async def plain(request: Request) -> str:
        return "plain"

    @app.websocket("/ws", requires="read")
    @requires("admin")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close()

    client = TestClient(app)
    assert client.get("/both?q=4", headers=scopes("read", "admin")).text == "4"
    # Either one alone is refused, the way the decorator says.
    assert client.get("/both", headers=scopes("read")).status_code == 404
    assert client.get("/both", headers=scopes("admin")).status_code == 404
    assert client.get("/both").status_code == 401
    assert client.get("/plain", headers=scopes("read", "admin")).text == "plain"
    assert client.get("/plain", headers=scopes("admin")).status_code == 403
    with (
        pytest.raises(WebSocketDenied) as denied,
        client.websocket_connect("/ws", headers=scopes("admin")),
    ):
        pass
    assert denied.value.status_code == 403
    both_route, plain_route, ws_route = app.routes[:3]
    assert both_route.options.requires == ("read", "admin")  # type: ignore[union-attr]
    assert plain_route.plan is None  # a plain handler stays plain
    assert ws_route.requires == ("read", "admin")  # type: ignore[union-attr]


def test_requires_travels_with_included_and_mounted_routes() -> None:
    router = Router()

    @router.get("/typed")
    @requires("admin")
    async def typed(q: int = 1) -> int:
        return q

    @router.websocket("/ws")
    @requires("admin")
    async def ws(websocket: WebSocket, q: int = 1) -> None:
        await websocket.accept()
        await websocket.send_text(str(q))
        await websocket.close()

    app = scoped_app()
    app.include_router(router, prefix="/v1")
    client = TestClient(app)
    assert client.get("/v1/typed?q=3", headers=scopes("admin")).text == "3"
    assert client.get("/v1/typed?q=3", headers=scopes()).status_code == 403
    with client.websocket_connect("/v1/ws?q=5", headers=scopes("admin")) as socket:
        assert socket.receive_text() == "5"
    with pytest.raises(WebSocketDenied), client.websocket_connect("/v1/ws", headers=scopes()):
        pass
    assert app.routes[0].options.requires == ("admin",)  # type: ignore[union-attr]
    assert app.routes[1].requires == ("admin",)  # type: ignore[union-attr]


def test_stacked_requires_and_methods_on_typed_handlers() -> None:
    app = scoped_app()

    @app.get("/stacked")
    @requires("a", status_code=418)
    @requires("b")
    def stacked(q: str = "x") -> str:
        return q

    class Views:
        def __init__(self) -> None:
            self.prefix = "view"

        @requires("a")
        async def show(self, q: str = "x") -> str:
            return f"{self.prefix} {q}"

    app.add_route("/method", Views().show)
    client = TestClient(app)
    assert client.get("/stacked?q=y", headers=scopes("a", "b")).text == "y"
    assert client.get("/stacked", headers=scopes("a")).status_code == 418
    assert client.get("/method?q=y", headers=scopes("a")).text == "view y"
    assert client.get("/method", headers=scopes("b")).status_code == 403
    assert app.routes[0].options.requires == ("a", "b")  # type: ignore[union-attr]


def test_requires_under_another_decorator_of_a_typed_handler_is_refused() -> None:
    import functools

    def logged(handler: Any) -> Any:
        @functools.wraps(handler)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await handler(*args, **kwargs)

        return wrapper

    app = scoped_app()
    with pytest.raises(TypeError, match=r"route '/x'.*right below the route's decorator"):

        @app.get("/x")
        @logged
        @requires("a")
        async def hidden(q: int = 1) -> int:
            return q

    # With the request among its parameters, it finds it, as it always did.
    @app.get("/y")
    @logged
    @requires("a")
    async def with_request(request: Request, q: int = 1) -> int:
        return q

    client = TestClient(app)
    assert client.get("/y?q=2", headers=scopes("a")).text == "2"
    assert client.get("/y?q=2", headers=scopes()).status_code == 403


def test_the_openapi_document_shows_the_security_of_decorated_routes(calls: Calls) -> None:
    app = Bare()
    app.add_middleware(AuthenticationMiddleware, backend=BearerAuth(calls.token))

    @app.get("/typed")
    @requires("read", "write")
    async def typed(q: int = 1) -> dict[str, int]:
        return {"q": q}

    @app.get("/plain")
    @requires()
    async def plain(request: Request) -> str:
        return ""

    @app.get("/open")
    async def open_(q: int = 1) -> int:
        return q

    paths = app.openapi()["paths"]
    typed_operation = paths["/typed"]["get"]
    assert typed_operation["security"] == [{"BearerAuth": ["read", "write"]}]
    assert {"401", "403", "422"} <= set(typed_operation["responses"])
    assert paths["/plain"]["get"]["security"] == [{"BearerAuth": []}]
    assert "security" not in paths["/open"]["get"]
    assert app.openapi()["components"]["securitySchemes"] == {
        "BearerAuth": {"type": "http", "scheme": "bearer"}
    }


def test_a_decorated_plain_handler_is_served_as_before() -> None:
    from bare.authentication import requirement_of

    async def handler(request: Request) -> str:
        return "in"

    guarded = requires("a", status_code=404)(handler)
    found = requirement_of(guarded)
    assert found is not None and found[0] is handler
    assert (found[1].scopes, found[1].status_code, found[1].redirect) == (("a",), 404, None)
    assert requirement_of(handler) is None
    app = scoped_app()
    app.add_route("/", guarded)
    route = app.routes[0]
    assert route.plan is None and route.endpoint is guarded  # type: ignore[union-attr]
    client = TestClient(app)
    assert client.get("/", headers=scopes("a")).text == "in"
    assert client.get("/", headers=scopes("b")).status_code == 404
    assert guarded.__wrapped__ is handler  # type: ignore[attr-defined]
