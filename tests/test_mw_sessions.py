"""SessionMiddleware and bare.sessions: signed cookies, stores, and hostile cookies."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

import bare.middleware.sessions as sessions_module
from bare import Bare, HTTPException, JSONResponse, Request, WebSocket
from bare.middleware.sessions import MAX_COOKIE_SIZE, SessionMiddleware
from bare.sessions import MemoryStore, Session, SessionStore, SessionTooLarge, Signer, cookie_values
from bare.testing import TestClient
from servers import uvicorn

SECRET = "first-secret-0123456789abcdefghijkl"
OLD_SECRET = "older-secret-0123456789abcdefghijkl"
OTHER = "other-secret-0123456789abcdefghijkl"
Call = Callable[..., Any]


def make_app(**options: Any) -> Bare:
    app = Bare()
    app.add_middleware(SessionMiddleware, **{"secret_key": SECRET, **options})

    @app.get("/set/{key}/{value}")
    async def set_value(request: Request) -> str:
        request.session[request.path_params["key"]] = request.path_params["value"]
        return "set"

    @app.get("/put")
    async def put(request: Request) -> str:
        request.session.update(json.loads(request.query("data")))
        return "put"

    @app.get("/get/{key}")
    async def get_value(request: Request) -> dict[str, Any]:
        return {"value": request.session.get(request.path_params["key"])}

    @app.get("/contains/{key}")
    async def contains(request: Request) -> dict[str, Any]:
        return {"in": request.path_params["key"] in request.session}

    @app.get("/len")
    async def length(request: Request) -> dict[str, Any]:
        return {"len": len(request.session)}

    @app.get("/dump")
    async def dump(request: Request) -> dict[str, Any]:
        return {"session": dict(request.session), "is_dict": isinstance(request.session, dict)}

    @app.get("/plain")
    async def plain(request: Request) -> str:
        return "plain"

    @app.get("/clear")
    async def clear(request: Request) -> str:
        request.session.clear()
        return "cleared"

    @app.get("/regenerate")
    async def regenerate(request: Request) -> str:
        request.session.regenerate()
        return "regenerated"

    @app.get("/big/{size:int}")
    async def big(request: Request) -> str:
        request.session["blob"] = "x" * request.path_params["size"]
        return "big"

    @app.get("/vary")
    async def vary(request: Request) -> JSONResponse:
        return JSONResponse(
            {"user": request.session.get("user")}, headers={"vary": request.query("vary")}
        )

    @app.get("/fail")
    async def fail(request: Request) -> str:
        request.session["user"] = "ann"
        raise HTTPException(409, "conflict")

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(dict(websocket.session))
        await websocket.close()

    return app


def cookie_of(response: Any, name: str = "session") -> str | None:
    """The value `response` sets for cookie `name`, or None."""
    for header in response.headers.getlist("set-cookie"):
        if header.startswith(f"{name}="):
            return str(header.split(";", 1)[0].split("=", 1)[1])
    return None


def logged_in(client: TestClient, **values: str) -> str:
    """Make `client` log in with `values` and return the session cookie's value."""
    response = client.get("/put", params={"data": json.dumps(values)})
    value = cookie_of(response)
    assert value is not None
    return value


def session_seen(client: TestClient, cookie: str) -> dict[str, Any]:
    """What the app finds in the session for a request carrying exactly `cookie`."""
    response = client.get("/dump", headers={"cookie": cookie})
    assert response.status_code == 200
    result: dict[str, Any] = response.json()["session"]
    return result


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(make_app()) as client:
        yield client


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The middleware's clock, set by the test: `clock[0] = seconds`."""
    now = [1_700_000_000.0]
    monkeypatch.setattr(sessions_module, "_now", lambda: now[0])
    return now


# -- the basics ---------------------------------------------------------------------------


def test_a_session_survives_between_requests(client: TestClient) -> None:
    client.get("/set/user/ann")
    response = client.get("/dump")
    assert response.json() == {"session": {"user": "ann"}, "is_dict": True}


def test_the_cookie_has_the_safe_defaults(client: TestClient) -> None:
    header = client.get("/set/user/ann").headers["set-cookie"]
    assert header.startswith("session=")
    attributes = header.split("; ")[1:]
    assert attributes == ["Max-Age=1209600", "Path=/", "HttpOnly", "SameSite=Lax"]


def test_the_cookie_options_are_written() -> None:
    app = make_app(
        cookie_name="sid",
        max_age=600,
        path="/app",
        domain="example.com",
        secure=True,
        httponly=False,
        samesite="none",
    )
    header = TestClient(app, base_url="https://example.com").get("/set/a/b").headers["set-cookie"]
    assert header.startswith("sid=")
    assert header.split("; ")[1:] == [
        "Max-Age=600",
        "Domain=example.com",
        "Path=/app",
        "Secure",
        "SameSite=None",
    ]


def test_max_age_none_makes_a_browser_session_cookie() -> None:
    client = TestClient(make_app(max_age=None))
    header = client.get("/set/a/b").headers["set-cookie"]
    assert "Max-Age" not in header and "Expires" not in header
    assert client.get("/get/a").json() == {"value": "b"}


def test_the_cookie_holds_signed_json_only() -> None:
    client = TestClient(make_app())
    value = logged_in(client, user="ann")
    payload, stamp, signature = value.split(".")
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert json.loads(decoded) == {"user": "ann"}
    assert stamp.isdigit() and len(signature) == 43


def test_non_ascii_text_round_trips(client: TestClient) -> None:
    client.get("/put", params={"data": json.dumps({"name": "Zoë 東京 🎉"})})
    assert client.get("/get/name").json() == {"value": "Zoë 東京 🎉"}


# -- only what is needed goes out ---------------------------------------------------------


def test_an_unchanged_session_sends_no_cookie(client: TestClient) -> None:
    client.get("/set/user/ann")
    response = client.get("/get/user")
    assert response.json() == {"value": "ann"}
    assert "set-cookie" not in response.headers


def test_an_untouched_session_sends_neither_cookie_nor_vary(client: TestClient) -> None:
    client.get("/set/user/ann")
    response = client.get("/plain")
    assert "set-cookie" not in response.headers
    assert "vary" not in response.headers


@pytest.mark.parametrize("path", ["/get/user", "/contains/user", "/contains/nobody", "/len"])
def test_every_read_sends_vary_cookie(client: TestClient, path: str) -> None:
    client.get("/set/user/ann")
    assert client.get(path).headers.getlist("vary") == ["Cookie"]


@pytest.mark.parametrize("path", ["/get/user", "/contains/user", "/len"])
def test_reading_an_empty_session_sends_vary_cookie_too(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.headers.getlist("vary") == ["Cookie"]
    assert "set-cookie" not in response.headers


def test_a_change_sends_the_cookie_and_vary(client: TestClient) -> None:
    response = client.get("/set/user/ann")
    assert cookie_of(response) is not None
    assert response.headers.getlist("vary") == ["Cookie"]


def test_vary_is_merged_with_the_responses_own() -> None:
    client = TestClient(make_app())
    assert client.get("/vary", params={"vary": "Accept-Encoding"}).headers.getlist("vary") == [
        "Accept-Encoding",
        "Cookie",
    ]
    for already in ("Cookie", "accept, cookie", "*"):
        assert client.get("/vary", params={"vary": already}).headers.getlist("vary") == [already]


def test_returning_the_session_itself_sends_vary_cookie() -> None:
    app = make_app()

    @app.get("/whole")
    async def whole(request: Request) -> Any:
        return request.session

    client = TestClient(app)
    client.get("/set/user/ann")
    response = client.get("/whole")
    assert response.json() == {"user": "ann"}
    assert response.headers.getlist("vary") == ["Cookie"]


def test_a_changed_session_is_written_on_error_responses_too(client: TestClient) -> None:
    response = client.get("/fail")
    assert response.status_code == 409
    assert cookie_of(response) is not None
    assert client.get("/get/user").json() == {"value": "ann"}


# -- deleting -----------------------------------------------------------------------------


def test_clearing_deletes_the_cookie(client: TestClient) -> None:
    client.get("/set/user/ann")
    response = client.get("/clear")
    header = response.headers["set-cookie"]
    assert header.startswith("session=;") and "Max-Age=0" in header
    assert "session" not in client.cookies
    assert client.get("/dump").json()["session"] == {}


def test_clearing_an_empty_session_sends_nothing(client: TestClient) -> None:
    response = client.get("/clear")
    assert "set-cookie" not in response.headers


def test_removing_the_last_key_deletes_the_cookie() -> None:
    app = make_app()

    @app.get("/pop")
    async def pop(request: Request) -> str:
        request.session.pop("user")
        return "popped"

    client = TestClient(app)
    client.get("/set/user/ann")
    assert "Max-Age=0" in client.get("/pop").headers["set-cookie"]


# -- hostile cookies ----------------------------------------------------------------------


def sign(
    payload: bytes, stamp: int | str, secret: str = SECRET, purpose: str = "cookie:session"
) -> str:
    """A cookie value signed as the middleware signs, with any payload and timestamp."""
    signed = payload + b"." + str(stamp).encode()
    signer = Signer(secret, "bare.sessions." + purpose)
    return (signed + b"." + signer.signature(signed)).decode("latin-1")


def b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def flip(text: str, index: int) -> str:
    """`text` with the character at `index` changed to another base64url character."""
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


def test_a_tampered_payload_gives_an_empty_session(client: TestClient) -> None:
    value = logged_in(client, user="ann", role="user")
    payload, rest = value.split(".", 1)
    forged = b64(b'{"user":"ann","role":"admin"}').decode()
    assert session_seen(client, f"session={forged}.{rest}") == {}
    assert session_seen(client, f"session={flip(payload, 3)}.{rest}") == {}


def test_a_tampered_signature_gives_an_empty_session(client: TestClient) -> None:
    value = logged_in(client, user="ann")
    for index in (-1, -20, -43):
        assert session_seen(client, f"session={flip(value, index)}") == {}


def test_a_tampered_timestamp_gives_an_empty_session(client: TestClient) -> None:
    payload, stamp, signature = logged_in(client, user="ann").split(".")
    later = str(int(stamp) + 1000)
    assert session_seen(client, f"session={payload}.{later}.{signature}") == {}


def test_every_truncation_gives_an_empty_session(client: TestClient) -> None:
    value = logged_in(client, user="ann")
    assert session_seen(client, f"session={value}") == {"user": "ann"}
    for length in range(len(value)):
        assert session_seen(client, f"session={value[:length]}") == {}


def test_a_cookie_signed_with_another_secret_gives_an_empty_session(client: TestClient) -> None:
    forged = sign(b64(b'{"user":"root"}'), 1_800_000_000, secret=OTHER)
    assert session_seen(client, f"session={forged}") == {}


def test_a_value_signed_for_another_purpose_does_not_verify(client: TestClient) -> None:
    for purpose in ("store:session", "cookie:other"):
        forged = sign(b64(b'{"user":"root"}'), 1_800_000_000, purpose=purpose)
        assert session_seen(client, f"session={forged}") == {}


def test_an_old_secret_still_verifies_while_the_new_one_signs() -> None:
    before = TestClient(make_app(secret_key=OLD_SECRET))
    old_cookie = logged_in(before, user="ann")
    rotated = TestClient(make_app(secret_key=[SECRET, OLD_SECRET]))
    assert session_seen(rotated, f"session={old_cookie}") == {"user": "ann"}
    new_cookie = logged_in(rotated, user="bob")
    # Signed with the first secret: a middleware without the old one reads it.
    only_new = TestClient(make_app(secret_key=SECRET))
    assert session_seen(only_new, f"session={new_cookie}") == {"user": "bob"}
    assert session_seen(only_new, f"session={old_cookie}") == {}


def test_an_expired_cookie_gives_an_empty_session(clock: list[float]) -> None:
    client = TestClient(make_app(max_age=100))
    value = logged_in(client, user="ann")
    clock[0] += 100
    assert session_seen(client, f"session={value}") == {"user": "ann"}
    clock[0] += 1
    assert session_seen(client, f"session={value}") == {}


def test_a_timestamp_in_the_future_gives_an_empty_session(clock: list[float]) -> None:
    client = TestClient(make_app())
    now = int(clock[0])
    payload = b64(b'{"user":"ann"}')
    assert session_seen(client, f"session={sign(payload, now + 60)}") == {"user": "ann"}
    assert session_seen(client, f"session={sign(payload, now + 61)}") == {}
    assert session_seen(client, f"session={sign(payload, 10**12 - 1)}") == {}


@pytest.mark.parametrize("stamp", ["", "-5", "+5", "1e9", "0x10", "1_000", " 17", "1" * 13, "١٢٣"])
def test_a_malformed_timestamp_gives_an_empty_session(client: TestClient, stamp: str) -> None:
    forged = sign(b64(b'{"user":"ann"}'), stamp)
    assert session_seen(client, "session=" + forged) == {}


@pytest.mark.parametrize(
    "payload",
    [
        b"!!!not-base64!!!",
        b"a",
        b64(b"not json"),
        b64(b'["a", "list"]'),
        b64(b'"a string"'),
        b64(b"null"),
        b64(b"\xff\xfe"),
        b64(b"[" * 3000 + b"]" * 3000),
        b64(b'{"a": NaN}') + b"!",
    ],
)
def test_a_signed_payload_that_is_not_a_json_object_gives_an_empty_session(
    client: TestClient, clock: list[float], payload: bytes
) -> None:
    """Only reachable with the secret, but still never an error."""
    value = sign(payload, int(clock[0]))
    assert session_seen(client, f"session={value}") == {}


@pytest.mark.parametrize(
    "cookie",
    [
        "session=",
        "session=...",
        "session=a.b.c.d",
        "session=" + "A" * 100_000,
        "session=" + "." * 5000,
        'session="quoted.1.sig"',
        "session=caf\xe9.1700000000." + "A" * 43,
        "session=x.1700000000." + "é" * 43,
        "session",
        ";;;;",
        "session=a; session=b; session=c; session=d; session=e",
    ],
)
def test_garbage_cookies_give_an_empty_session(client: TestClient, cookie: str) -> None:
    response = client.get("/dump", headers={"cookie": cookie})
    assert response.status_code == 200
    assert response.json()["session"] == {}


@pytest.mark.parametrize(
    "cookie",
    [
        b"session=\x00\x01.1.\x7f",
        b"session=\xff\xfe.1700000000.\x80" + b"A" * 42,
        b"session=a.1700000000.\r\n" + b"A" * 41,
        b"session=" + b"\xe9" * 4000,
    ],
)
def test_bytes_no_client_should_send_give_an_empty_session(asgi_call: Call, cookie: bytes) -> None:
    async def raw(scope: Any, receive: Any, send: Any) -> None:
        body = json.dumps(dict(scope["session"])).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    app = SessionMiddleware(raw, secret_key=SECRET)
    reply = asgi_call(app, "GET", "/", headers=[(b"host", b"testserver"), (b"cookie", cookie)])
    assert (reply.status, reply.body) == (200, b"{}")


def test_a_huge_cookie_header_is_read_in_bounded_work(monkeypatch: pytest.MonkeyPatch) -> None:
    verified: list[bytes] = []
    real_verify = Signer.verify

    def counting(self: Signer, message: bytes, signature: bytes) -> bool:
        verified.append(message)
        return real_verify(self, message, signature)

    monkeypatch.setattr(Signer, "verify", counting)
    client = TestClient(make_app())
    header = "; ".join(f"session=p{i}.1700000000.{'A' * 43}" for i in range(5000))
    assert len(header) > 100_000
    assert session_seen(client, header) == {}
    assert len(verified) == 4  # only the first few candidates are even checked


def test_a_value_over_4096_bytes_is_refused_before_any_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verified: list[bytes] = []
    monkeypatch.setattr(Signer, "verify", lambda self, m, s: verified.append(m) or True)
    client = TestClient(make_app())
    assert session_seen(client, "session=" + "A" * 5000 + ".1700000000.sig") == {}
    assert verified == []


def test_duplicate_cookies_the_first_valid_one_wins(client: TestClient) -> None:
    ann = logged_in(client, user="ann")
    bob = logged_in(client, user="bob")
    assert session_seen(client, f"session=garbage; session={ann}; session={bob}") == {"user": "ann"}
    assert session_seen(client, f"session={bob}; other=1; session={ann}") == {"user": "bob"}
    assert session_seen(client, f"session={bob}x; session={ann}") == {"user": "ann"}


def test_other_cookies_with_similar_names_are_ignored(client: TestClient) -> None:
    ann = logged_in(client, user="ann")
    assert session_seen(client, f"xsession={ann}; session_old={ann}") == {}
    assert session_seen(client, f"xsession=1;session={ann}") == {"user": "ann"}


def test_cookie_values_splits_every_cookie_header() -> None:
    headers = [
        (b"cookie", b"a=1; session=x"),
        (b"host", b"session=y"),
        (b"cookie", b"session=z;session=w"),
    ]
    assert cookie_values(headers, b"session") == [b"x", b"z", b"w"]
    assert cookie_values(headers, b"session", limit=2) == [b"x", b"z"]
    assert cookie_values(headers, b"none") == []


# -- what the session refuses -------------------------------------------------------------


def test_a_session_larger_than_a_cookie_can_be_is_a_clear_error() -> None:
    client = TestClient(make_app())
    with pytest.raises(SessionTooLarge, match=r"4096.*store=MemoryStore"):
        client.get("/big/5000")


def test_the_size_limit_is_the_whole_set_cookie_value() -> None:
    client = TestClient(make_app())
    # {"blob":"..."} is 11 bytes of JSON around the value; find the largest that fits.
    fits = None
    for size in range(2900, 3100):
        try:
            response = client.get(f"/big/{size}")
        except SessionTooLarge:
            break
        fits = response
    assert fits is not None
    assert len(fits.headers["set-cookie"]) <= MAX_COOKIE_SIZE
    assert len(fits.headers["set-cookie"]) > MAX_COOKIE_SIZE - 4  # base64 steps of 4 bytes


def test_a_too_large_session_answers_500_once_without_a_cookie() -> None:
    client = TestClient(make_app(), raise_server_exceptions=False)
    response = client.get("/big/5000")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert "set-cookie" not in response.headers


def test_the_error_response_after_a_refused_session_passes_through(asgi_call: Call) -> None:
    """An app that answers the error through the same send: no second attempt, no loop."""
    starts: list[int] = []

    async def raw(scope: Any, receive: Any, send: Any) -> None:
        scope["session"]["blob"] = "x" * 5000
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        except SessionTooLarge:
            starts.append(500)
            await send({"type": "http.response.start", "status": 500, "headers": []})
            await send({"type": "http.response.body", "body": b"error"})

    reply = asgi_call(SessionMiddleware(raw, secret_key=SECRET), "GET", "/")
    assert starts == [500]
    assert reply.status == 500 and reply.body == b"error"
    assert [m["type"] for m in reply.messages] == ["http.response.start", "http.response.body"]
    assert reply.headers == []


def test_values_that_are_not_json_are_refused_naming_the_key() -> None:
    app = make_app()

    @app.get("/object")
    async def store_object(request: Request) -> str:
        request.session["ok"] = 1
        request.session["when"] = object()
        return "stored"

    @app.get("/nan")
    async def store_nan(request: Request) -> str:
        request.session["score"] = math.nan
        return "stored"

    @app.get("/nested")
    async def nested(request: Request) -> str:
        request.session["cart"] = [{"items": {1, 2}}]
        return "stored"

    client = TestClient(app)
    with pytest.raises(TypeError, match=r"session\['when'\].*object.*JSON"):
        client.get("/object")
    with pytest.raises(ValueError, match=r"session\['score'\]"):
        client.get("/nan")
    with pytest.raises(TypeError, match=r"session\['cart'\].*set"):
        client.get("/nested")


def test_a_lone_surrogate_is_refused_not_garbled() -> None:
    app = make_app()

    @app.get("/surrogate")
    async def surrogate(request: Request) -> str:
        request.session["text"] = "\ud800"
        return "stored"

    with pytest.raises(ValueError, match=r"session\['text'\]"):
        TestClient(app).get("/surrogate")


# -- the Session dict ---------------------------------------------------------------------


def fresh() -> Session:
    session = Session({"a": 1, "b": [2]})
    assert not session.accessed and not session.modified
    return session


READS: list[Callable[[Session], Any]] = [
    lambda s: s["a"],
    lambda s: s.get("zz"),
    lambda s: "a" in s,
    lambda s: "zz" in s,
    len,
    bool,
    list,
    lambda s: list(reversed(s)),
    lambda s: s.keys(),
    lambda s: s.values(),
    lambda s: s.items(),
    lambda s: s.copy(),
    lambda s: s == {"a": 1},
    lambda s: {"a": 1} == s,  # noqa: SIM300 - the reflected comparison
    lambda s: s != {},
    lambda s: s | {"c": 3},
    lambda s: {"c": 3} | s,
    repr,
    dict,
    lambda s: {**s},
    json.dumps,
    lambda s: s.pop("zz", None),
    lambda s: s.setdefault("a", 5),
]


@pytest.mark.parametrize("read", READS)
def test_every_read_marks_the_session_accessed_and_not_modified(
    read: Callable[[Session], Any],
) -> None:
    session = fresh()
    read(session)
    assert session.accessed
    assert not session.modified
    assert dict.__eq__(session, {"a": 1, "b": [2]})


WRITES: list[Callable[[Session], Any]] = [
    lambda s: s.__setitem__("c", 3),
    lambda s: s.__setitem__("a", 1),  # the same value: still a write
    lambda s: s.__delitem__("a"),
    lambda s: s.pop("a"),
    lambda s: s.popitem(),
    lambda s: s.setdefault("c", 3),
    lambda s: s.update({"c": 3}),
    lambda s: s.update(c=3),
    lambda s: s.__ior__({"c": 3}),
    lambda s: s.clear(),
    lambda s: s.regenerate(),
]


@pytest.mark.parametrize("write", WRITES)
def test_every_write_marks_the_session_modified(write: Callable[[Session], Any]) -> None:
    session = fresh()
    write(session)
    assert session.modified


def test_failed_or_empty_changes_do_not_mark_it_modified() -> None:
    session = Session()
    with pytest.raises(KeyError):
        session.popitem()
    with pytest.raises(KeyError):
        session.pop("missing")
    with pytest.raises(KeyError):
        del session["missing"]
    session.update({})
    session.clear()
    assert session.accessed and not session.modified


def test_keys_must_be_str() -> None:
    session = Session()
    for write in (
        lambda: session.__setitem__(1, "x"),
        lambda: session.setdefault(None, "x"),  # type: ignore[arg-type]
        lambda: session.update({b"k": 1}),
        lambda: Session({2: "x"}),  # type: ignore[dict-item]
    ):
        with pytest.raises(TypeError, match="session keys must be str"):
            write()
    assert dict.__len__(session) == 0 and not session.modified


def test_the_session_is_a_dict_json_can_write() -> None:
    session = Session({"a": [1, {"b": None}]})
    assert isinstance(session, dict)
    assert json.loads(json.dumps(session)) == {"a": [1, {"b": None}]}
    assert type(session.copy()) is dict
    assert type(session | {}) is dict
    session |= {"c": 1}
    assert type(session) is Session and session["c"] == 1
    with pytest.raises(TypeError):
        hash(session)


# -- WebSockets, lifespan, raw apps ---------------------------------------------------------


def test_websockets_get_the_session(client: TestClient) -> None:
    client.get("/set/user/ann")
    with client.websocket_connect("/ws") as websocket:
        assert websocket.receive_json() == {"user": "ann"}


def test_a_raw_websocket_app_gets_the_session_and_nothing_is_written(
    ws_session: Call, clock: list[float]
) -> None:
    async def raw(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        session = scope["session"]
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(dict(session))})
        session["changed"] = True
        await send({"type": "websocket.close", "code": 1000})

    cookie = sign(b64(b'{"user":"ann"}'), int(clock[0]))
    sent = ws_session(
        SessionMiddleware(raw, secret_key=SECRET),
        "/ws",
        [],
        headers=[(b"host", b"testserver"), (b"cookie", f"session={cookie}".encode())],
    )
    assert sent[0] == {"type": "websocket.accept"}  # no headers added: nothing written
    assert json.loads(sent[1]["text"]) == {"user": "ann"}
    assert sent[2] == {"type": "websocket.close", "code": 1000}


def test_the_lifespan_passes_through() -> None:
    app = make_app()
    started: list[bool] = []
    app.on_startup(lambda: started.append(True))
    with TestClient(app) as client:
        assert started == [True]
        assert client.get("/plain").text == "plain"


def test_a_raw_app_keeps_its_session_and_streams(asgi_call: Call, clock: list[float]) -> None:
    async def raw(scope: Any, receive: Any, send: Any) -> None:
        scope["session"]["visits"] = scope["session"].get("visits", 0) + 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for chunk in (b"a", b"b", b"c"):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    app = SessionMiddleware(raw, secret_key=SECRET)
    first = asgi_call(app, "GET", "/")
    assert [m.get("body") for m in first.messages[1:]] == [b"a", b"b", b"c", b""]
    cookie = first.header("set-cookie")
    assert cookie is not None
    value = cookie.split(";")[0]
    second = asgi_call(app, "GET", "/", headers=[(b"cookie", value.encode())])
    payload = second.header("set-cookie").split(";")[0].split("=")[1].split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(payload + "==")) == {"visits": 2}
    assert second.header("vary") == "Cookie"


def test_a_raw_app_that_does_not_touch_the_session_gets_its_messages_unchanged(
    asgi_call: Call, clock: list[float]
) -> None:
    start = {"type": "http.response.start", "status": 200, "headers": [(b"x", b"y")]}

    async def raw(scope: Any, receive: Any, send: Any) -> None:
        await send(start)
        await send({"type": "http.response.body", "body": b"ok"})

    cookie = sign(b64(b'{"user":"ann"}'), int(clock[0]))
    reply = asgi_call(
        SessionMiddleware(raw, secret_key=SECRET),
        "GET",
        "/",
        headers=[(b"cookie", f"session={cookie}".encode())],
    )
    assert reply.messages[0] is start


def test_other_scope_types_pass_through_untouched() -> None:
    seen: list[dict[str, Any]] = []

    async def raw(scope: Any, receive: Any, send: Any) -> None:
        seen.append(dict(scope))

    asyncio.run(SessionMiddleware(raw, secret_key=SECRET)({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert seen == [{"type": "lifespan"}]


# -- revocation and refresh ---------------------------------------------------------------


@pytest.mark.parametrize("is_async", [False, True])
def test_validate_can_revoke_a_cookie_session(is_async: bool) -> None:
    revoked = {"bob"}
    calls: list[dict[str, Any]] = []

    def check(data: dict[str, Any]) -> bool:
        calls.append(data)
        return data.get("user") not in revoked

    async def check_async(data: dict[str, Any]) -> bool:
        return check(data)

    client = TestClient(make_app(validate=check_async if is_async else check))
    ann = logged_in(client, user="ann")
    bob = logged_in(client, user="bob")
    assert session_seen(client, f"session={ann}") == {"user": "ann"}
    assert session_seen(client, f"session={bob}") == {}
    assert calls[-2:] == [{"user": "ann"}, {"user": "bob"}]


def test_validate_is_not_called_without_a_session() -> None:
    calls: list[Any] = []
    client = TestClient(make_app(validate=lambda data: calls.append(data) or True))
    client.get("/dump")
    client.get("/dump", headers={"cookie": "session=garbage"})
    assert calls == []


def test_refresh_after_sends_the_cookie_again_once_it_is_old(clock: list[float]) -> None:
    client = TestClient(make_app(max_age=1000, refresh_after=100))
    value = logged_in(client, user="ann")
    clock[0] += 99
    response = client.get("/plain", headers={"cookie": f"session={value}"})
    assert "set-cookie" not in response.headers
    clock[0] += 1
    response = client.get("/plain", headers={"cookie": f"session={value}"})
    refreshed = cookie_of(response)
    assert refreshed is not None and refreshed != value
    assert response.headers.getlist("vary") == ["Cookie"]
    clock[0] += 950  # past the first cookie's max_age, not the refreshed one's
    assert session_seen(client, f"session={value}") == {}
    assert session_seen(client, f"session={refreshed}") == {"user": "ann"}


def test_without_refresh_after_a_session_expires_max_age_after_its_last_change(
    clock: list[float],
) -> None:
    client = TestClient(make_app(max_age=1000))
    value = logged_in(client, user="ann")
    for _ in range(3):
        clock[0] += 400
        response = client.get("/get/user", headers={"cookie": f"session={value}"})
        assert "set-cookie" not in response.headers
    assert response.json() == {"value": None}


# -- server-side stores -------------------------------------------------------------------


class RecordingStore(MemoryStore):
    """A MemoryStore that notes every call."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.calls: list[tuple[str, str]] = []

    async def load(self, session_id: str) -> bytes | None:
        self.calls.append(("load", session_id))
        return await super().load(session_id)

    async def save(self, session_id: str, data: bytes, max_age: int) -> None:
        self.calls.append(("save", session_id))
        await super().save(session_id, data, max_age)

    async def delete(self, session_id: str) -> None:
        self.calls.append(("delete", session_id))
        await super().delete(session_id)


def session_id(value: str) -> str:
    return value.split(".")[0]


def test_a_store_keeps_the_data_and_the_cookie_only_an_id() -> None:
    store = RecordingStore()
    client = TestClient(make_app(store=store))
    value = logged_in(client, user="ann", secret="s3cret")
    assert "ann" not in value and "s3cret" not in value
    sid = session_id(value)
    assert len(sid) == 43
    assert store.calls == [("save", sid)]
    response = client.get("/dump")
    assert response.json()["session"] == {"user": "ann", "secret": "s3cret"}
    assert "set-cookie" not in response.headers
    assert store.calls[-1] == ("load", sid)


def test_regenerate_signs_a_cookie_session_anew_keeping_its_data(clock: list[float]) -> None:
    client = TestClient(make_app())
    before = logged_in(client, user="ann")
    clock[0] += 10
    after = cookie_of(client.get("/regenerate"))
    assert after is not None and after != before
    assert session_seen(client, f"session={after}") == {"user": "ann"}


def test_regenerating_an_empty_store_session_stores_nothing() -> None:
    store = RecordingStore()
    response = TestClient(make_app(store=store)).get("/regenerate")
    assert "set-cookie" not in response.headers
    assert store.calls == [] and len(store) == 0


def test_regenerate_gives_a_new_id_and_forgets_the_old_one() -> None:
    store = RecordingStore()
    client = TestClient(make_app(store=store))
    old = session_id(logged_in(client, user="ann"))
    new_cookie = cookie_of(client.get("/regenerate"))
    assert new_cookie is not None
    new = session_id(new_cookie)
    assert new != old
    assert ("delete", old) in store.calls
    assert session_seen(client, f"session={new_cookie}") == {"user": "ann"}
    # The old cookie, planted before a login, now leads nowhere.
    old_cookie = sign(old.encode(), int(new_cookie.split(".")[1]), purpose="store:session")
    assert session_seen(client, f"session={old_cookie}") == {}


def test_clear_deletes_the_entry_and_the_cookie() -> None:
    store = RecordingStore()
    client = TestClient(make_app(store=store))
    sid = session_id(logged_in(client, user="ann"))
    response = client.get("/clear")
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert store.calls[-1] == ("delete", sid)
    assert len(store) == 0


def test_an_id_the_store_does_not_know_is_never_taken_over(clock: list[float]) -> None:
    store = RecordingStore()
    client = TestClient(make_app(store=store))
    planted = "P" * 43
    cookie = sign(planted.encode(), int(clock[0]), purpose="store:session")
    response = client.get("/set/user/ann", headers={"cookie": f"session={cookie}"})
    assert ("load", planted) in store.calls
    new = cookie_of(response)
    assert new is not None and session_id(new) != planted
    assert ("save", planted) not in store.calls


def test_an_unsigned_id_never_reaches_the_store() -> None:
    store = RecordingStore()
    client = TestClient(make_app(store=store))
    sid = session_id(logged_in(client, user="ann"))
    assert session_seen(client, f"session={sid}.1700000000.{'A' * 43}") == {}
    assert session_seen(client, f"session={sid}") == {}
    assert [call for call in store.calls if call[0] == "load"] == []


def test_store_entries_expire_by_the_stores_clock() -> None:
    now = [0.0]
    store = MemoryStore(clock=lambda: now[0])
    client = TestClient(make_app(store=store, max_age=100))
    value = logged_in(client, user="ann")
    now[0] = 99.9
    assert session_seen(client, f"session={value}") == {"user": "ann"}
    now[0] = 100.0
    assert session_seen(client, f"session={value}") == {}
    assert len(store) == 0


def test_refresh_after_saves_the_entry_again(clock: list[float]) -> None:
    now = [0.0]
    store = RecordingStore(clock=lambda: now[0])
    client = TestClient(make_app(store=store, max_age=100, refresh_after=50))
    value = logged_in(client, user="ann")
    clock[0] += 60
    now[0] = 60
    response = client.get("/plain", headers={"cookie": f"session={value}"})
    refreshed = cookie_of(response)
    assert refreshed is not None and session_id(refreshed) == session_id(value)
    assert store.calls[-1] == ("save", session_id(value))
    now[0] = 150  # past the first save's expiry, within the second's
    assert session_seen(client, f"session={refreshed}") == {"user": "ann"}


def test_the_memory_store_is_bounded() -> None:
    store = MemoryStore(max_entries=3)

    async def fill() -> list[bytes | None]:
        for i in range(5):
            await store.save(f"id{i}", b"{}", 100)
        await store.save("id2", b'{"again":1}', 100)  # saved again: now the newest
        await store.save("id5", b"{}", 100)
        return [await store.load(f"id{i}") for i in range(6)]

    assert asyncio.run(fill()) == [None, None, b'{"again":1}', None, b"{}", b"{}"]
    assert len(store) == 3


def test_memory_store_deletes_and_satisfies_the_protocol() -> None:
    store = MemoryStore()
    assert isinstance(store, SessionStore)

    async def run() -> tuple[bytes | None, bytes | None]:
        await store.save("a", b"1", 10)
        first = await store.load("a")
        await store.delete("a")
        await store.delete("never")
        return first, await store.load("a")

    assert asyncio.run(run()) == (b"1", None)


def test_a_store_session_in_a_websocket() -> None:
    client = TestClient(make_app(store=MemoryStore()))
    client.get("/set/user/ann")
    with client.websocket_connect("/ws") as websocket:
        assert websocket.receive_json() == {"user": "ann"}


def test_a_store_session_has_an_id_the_handler_can_see() -> None:
    app = make_app(store=MemoryStore())

    @app.get("/id")
    async def show_id(request: Request) -> dict[str, Any]:
        session = request.session
        assert isinstance(session, Session)
        return {"id": session.id}

    client = TestClient(app)
    assert client.get("/id").json() == {"id": None}
    sid = session_id(logged_in(client, user="ann"))
    assert client.get("/id").json() == {"id": sid}


# -- configuration mistakes ---------------------------------------------------------------


async def noop(scope: Any, receive: Any, send: Any) -> None:
    pass


class SyncStore:
    def load(self, session_id: str) -> None:
        return None

    async def save(self, session_id: str, data: bytes, max_age: int) -> None:
        pass

    async def delete(self, session_id: str) -> None:
        pass


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"secret_key": "short"}, ValueError, "at least 32 random bytes"),
        ({"secret_key": ""}, ValueError, "at least 32 random bytes"),
        ({"secret_key": []}, ValueError, "empty list"),
        ({"secret_key": [SECRET, "short"]}, ValueError, "at least 32"),
        ({"secret_key": 12345}, TypeError, "str or bytes"),
        ({"secret_key": [SECRET, 1]}, TypeError, "str or bytes"),
        ({"max_age": 0}, ValueError, "max_age"),
        ({"max_age": -1}, ValueError, "max_age"),
        ({"max_age": True}, ValueError, "max_age"),
        ({"max_age": 1.5}, ValueError, "max_age"),
        ({"samesite": "none"}, ValueError, "secure=True"),
        ({"samesite": "sometimes"}, ValueError, "samesite"),
        ({"cookie_name": "my session"}, ValueError, "cookie name"),
        ({"cookie_name": ""}, ValueError, "cookie name"),
        ({"cookie_name": b"s"}, TypeError, "cookie_name"),
        ({"path": "/a;b"}, ValueError, "path"),
        ({"domain": "ex\r\nample.com"}, ValueError, "domain"),
        ({"secure": "yes"}, TypeError, "secure"),
        ({"httponly": 1}, TypeError, "httponly"),
        ({"store": object()}, TypeError, "async methods"),
        ({"store": SyncStore()}, TypeError, "SyncStore.load is not a coroutine"),
        ({"store": MemoryStore(), "max_age": None}, ValueError, "store needs max_age"),
        ({"refresh_after": 100, "max_age": 100}, ValueError, "refresh_after"),
        ({"refresh_after": 10, "max_age": None}, ValueError, "refresh_after"),
        ({"refresh_after": -1}, ValueError, "refresh_after"),
        ({"refresh_after": "10"}, TypeError, "refresh_after"),
        ({"validate": "yes"}, TypeError, "validate"),
    ],
)
def test_configuration_mistakes_are_refused_at_construction(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        SessionMiddleware(noop, **{"secret_key": SECRET, **options})


def test_bytes_secrets_and_a_tuple_of_them_are_taken() -> None:
    SessionMiddleware(noop, secret_key=b"\x00" * 32)
    SessionMiddleware(noop, secret_key=(SECRET.encode(), OLD_SECRET))


@pytest.mark.parametrize(
    ("options", "message"),
    [({"max_entries": 0}, "max_entries"), ({"max_entries": True}, "max_entries")],
)
def test_memory_store_mistakes_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MemoryStore(**options)
    with pytest.raises(TypeError, match="clock"):
        MemoryStore(clock=5)  # type: ignore[arg-type]


def test_request_session_without_the_middleware_says_what_to_add() -> None:
    app = Bare()

    @app.get("/")
    async def home(request: Request) -> Any:
        return request.session

    with pytest.raises(RuntimeError, match="SessionMiddleware"):
        TestClient(app).get("/")


def test_import_bare_does_not_import_sessions() -> None:
    code = (
        "import sys, bare, bare.middleware; "
        "print(sorted(m for m in sys.modules if 'session' in m or 'csrf' in m))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"


# -- a real server --------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["apps.mw_sessions:app", "apps.mw_sessions:store_app"])
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from uvicorn(request.param)


def test_log_in_see_who_you_are_and_log_out_on_a_real_server(server: str) -> None:
    with httpx.Client(base_url=f"http://{server}", timeout=10) as http:
        assert http.get("/me").json() == {"user": None}
        form = http.get("/form")
        token = http.cookies["csrftoken"]
        assert f'value="{token}"' in form.text
        refused = http.post("/login", data={"name": "ann"})
        assert refused.status_code == 403
        login = http.post("/login", data={"name": "ann", "csrf_token": token})
        assert login.status_code == 200
        assert login.json() == {"logged_in": True, "body": f"name=ann&csrf_token={token}"}
        assert "HttpOnly" in login.headers["set-cookie"]
        me = http.get("/me")
        assert me.json() == {"user": "ann"}
        assert me.headers["vary"] == "Cookie"
        assert "set-cookie" not in me.headers
        logout = http.post("/logout", headers={"x-csrf-token": token})
        assert logout.status_code == 200
        assert "session" not in http.cookies
        assert http.get("/me").json() == {"user": None}


def test_a_signature_is_the_plain_hmac_of_the_message() -> None:
    # Guards Signer's copied keyed HMACs: each signature is HMAC-SHA256 over the message
    # with the key derived for the purpose, whatever was signed before.
    import base64
    import hashlib
    import hmac

    from bare.sessions import Signer

    secrets = ["n" * 32, "o" * 32]
    signer = Signer(secrets, "a purpose")
    for message in (b"one", b"", b"two" * 1000, b"one"):
        for number, secret in enumerate(secrets):
            key = hmac.new(secret.encode(), b"bare.signer:a purpose", hashlib.sha256).digest()
            plain = hmac.new(key, message, hashlib.sha256).digest()
            expected = base64.urlsafe_b64encode(plain).rstrip(b"=")
            if number == 0:
                assert signer.signature(message) == expected
            assert signer.verify(message, expected)
