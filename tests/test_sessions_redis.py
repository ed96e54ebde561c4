"""RedisStore against a real redis-server, and what SessionMiddleware does when its store
is down: 503s, never a silent logout nor a 500."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio

import bare.middleware.sessions as sessions_module
from bare import BackgroundTask, Bare, Request, StreamingResponse, WebSocket
from bare.middleware.sessions import SessionMiddleware
from bare.sessions import (
    MemoryStore,
    RedisStore,
    SessionStore,
    SessionStoreUnavailable,
    Signer,
)
from bare.testing import AsyncTestClient, TestClient, WebSocketDenied
from redis_server import RedisServer
from servers import free_port, serve, uvicorn_command

SECRET = "redis-secret-0123456789abcdefghijklmn"
OTHER = "other-secret-0123456789abcdefghijklmn"
Call = Callable[..., Any]


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The module's Redis, started again if a fault test left it down."""
    if redis_server.server is None:
        redis_server.start()
    return redis_server.url


@pytest.fixture
def prefix() -> str:
    """A namespace of this test's own in the shared Redis."""
    return f"test:{uuid.uuid4().hex}:"


@pytest.fixture
def inspect(redis_url: str) -> Iterator[redis.Redis]:
    """A plain (sync) client to look at what the store wrote."""
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def down(redis_server: RedisServer, redis_url: str) -> Iterator[Callable[[], None]]:
    """`down()` kills the Redis (SIGKILL); it is started again after the test."""
    try:
        yield redis_server.kill
    finally:
        if redis_server.server is None:
            redis_server.start()


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The middleware's clock for cookie timestamps, held still (Redis keeps its own)."""
    now = [float(int(sessions_module._now()))]
    monkeypatch.setattr(sessions_module, "_now", lambda: now[0])
    return now


def build(store: Any, **options: Any) -> Bare:
    app = Bare()
    app.add_middleware(SessionMiddleware, **{"secret_key": SECRET, "store": store, **options})
    if isinstance(store, RedisStore):
        app.on_shutdown(store.close)

    @app.post("/login")
    async def login(request: Request) -> dict[str, Any]:
        request.session.regenerate()
        request.session["user"] = "ann"
        return {"logged_in": True}

    @app.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        return {"user": request.session.get("user"), "session": dict(request.session)}

    @app.get("/set/{key}/{value}")
    async def set_value(request: Request) -> str:
        request.session[request.path_params["key"]] = request.path_params["value"]
        return "set"

    @app.post("/logout")
    async def logout(request: Request) -> dict[str, Any]:
        request.session.clear()
        return {"logged_in": False}

    @app.get("/plain")
    async def plain(request: Request) -> str:
        return "plain"

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(dict(websocket.session))
        await websocket.close()

    return app


def cookie_of(response: Any) -> str | None:
    for header in response.headers.getlist("set-cookie"):
        if header.startswith("session="):
            return str(header.split(";", 1)[0].split("=", 1)[1])
    return None


def session_id(cookie: str) -> str:
    return cookie.split(".")[0]


def sign(payload: bytes, stamp: int, secret: str = SECRET, purpose: str = "store:session") -> str:
    """A cookie value signed as the middleware signs, with any payload."""
    signed = payload + b"." + str(stamp).encode()
    signer = Signer(secret, "bare.sessions." + purpose)
    return (signed + b"." + signer.signature(signed)).decode("latin-1")


def flip_last(value: str) -> str:
    return value[:-1] + ("A" if value[-1] != "A" else "B")


def gets_counted(inspect: redis.Redis) -> int:
    """How many GET commands the Redis has run since its statistics were reset."""
    stats: dict[str, Any] = inspect.info("commandstats")
    return int(stats.get("cmdstat_get", {}).get("calls", 0))


# -- the store in Redis -------------------------------------------------------------------


def test_a_session_round_trips_through_redis(
    redis_url: str, prefix: str, inspect: redis.Redis
) -> None:
    store = RedisStore(redis_url, prefix=prefix)
    with TestClient(build(store)) as client:
        cookie = cookie_of(client.post("/login"))
        assert cookie is not None
        sid = session_id(cookie)
        assert len(sid) == 43 and "ann" not in cookie
        assert json.loads(inspect.get(prefix + sid) or b"") == {"user": "ann"}
        response = client.get("/me")
        assert response.json() == {"user": "ann", "session": {"user": "ann"}}
        assert "set-cookie" not in response.headers  # read, not written back
        assert response.headers["vary"] == "Cookie"
        assert inspect.keys(prefix + "*") == [(prefix + sid).encode()]


def test_non_ascii_data_round_trips(redis_url: str, prefix: str) -> None:
    with TestClient(build(RedisStore(redis_url, prefix=prefix))) as client:
        client.get("/set/name/Zoë 日本")
        assert client.get("/me").json()["session"] == {"name": "Zoë 日本"}


def test_the_ttl_is_the_max_age(redis_url: str, prefix: str, inspect: redis.Redis) -> None:
    with TestClient(build(RedisStore(redis_url, prefix=prefix), max_age=1000)) as client:
        sid = session_id(cookie_of(client.post("/login")) or "")
        ttl = inspect.ttl(prefix + sid)
        # Counted down in whole seconds since the save; the test's own timeout is 60 s.
        assert 1000 - 60 < ttl <= 1000


def test_refresh_after_saves_again_with_a_fresh_ttl(
    redis_url: str, prefix: str, inspect: redis.Redis, frozen: list[float]
) -> None:
    store = RedisStore(redis_url, prefix=prefix)
    with TestClient(build(store, max_age=1000, refresh_after=100)) as client:
        sid = session_id(cookie_of(client.post("/login")) or "")
        inspect.expire(prefix + sid, 500)
        frozen[0] += 100
        refreshed = cookie_of(client.get("/plain"))
        assert refreshed is not None and session_id(refreshed) == sid
        assert inspect.ttl(prefix + sid) > 500


def test_redis_forgets_an_expired_session(
    redis_url: str, prefix: str, inspect: redis.Redis, frozen: list[float]
) -> None:
    # The cookie's own timestamp is held still: only Redis's TTL can end this session.
    inspect.config_set("notify-keyspace-events", "Ex")
    expirations = inspect.pubsub()
    expirations.subscribe("__keyevent@0__:expired")
    store = RedisStore(redis_url, prefix=prefix)
    try:
        with TestClient(build(store, max_age=1)) as client:
            old = session_id(cookie_of(client.post("/login")) or "")
            assert client.get("/me").json()["user"] == "ann"
            for event in expirations.listen():  # Redis tells when it dropped the key
                if event["data"] == (prefix + old).encode():
                    break
            assert client.get("/me").json() == {"user": None, "session": {}}
            new = cookie_of(client.get("/set/cart/1"))
            assert new is not None and session_id(new) != old  # never taken over
    finally:
        expirations.close()


def test_logging_out_deletes_the_key(redis_url: str, prefix: str, inspect: redis.Redis) -> None:
    with TestClient(build(RedisStore(redis_url, prefix=prefix))) as client:
        cookie = cookie_of(client.post("/login")) or ""
        assert inspect.exists(prefix + session_id(cookie))
        response = client.post("/logout")
        assert "Max-Age=0" in response.headers["set-cookie"]
        assert not inspect.exists(prefix + session_id(cookie))
        # A copy of the cookie made before the logout leads nowhere now.
        assert client.get("/me", cookies={"session": cookie}).json()["user"] is None


def test_logging_in_rotates_the_id_and_keeps_the_data(
    redis_url: str, prefix: str, inspect: redis.Redis
) -> None:
    with TestClient(build(RedisStore(redis_url, prefix=prefix))) as client:
        before = cookie_of(client.get("/set/cart/3")) or ""
        after = cookie_of(client.post("/login")) or ""
        old, new = session_id(before), session_id(after)
        assert new != old and len(new) == 43
        assert not inspect.exists(prefix + old)
        assert json.loads(inspect.get(prefix + new) or b"") == {"cart": "3", "user": "ann"}
        assert client.get("/me").json()["session"] == {"cart": "3", "user": "ann"}
        # The id from before the login (one an attacker could have planted) is dead.
        assert client.get("/me", cookies={"session": before}).json()["session"] == {}


def test_an_id_redis_does_not_know_is_never_taken_over(
    redis_url: str, prefix: str, inspect: redis.Redis, frozen: list[float]
) -> None:
    with TestClient(build(RedisStore(redis_url, prefix=prefix))) as client:
        planted = sign(b"P" * 43, int(frozen[0]))
        response = client.post("/login", cookies={"session": planted})
        new = cookie_of(response)
        assert new is not None and session_id(new) != "P" * 43
        assert not inspect.exists(prefix + "P" * 43)


def test_prefixes_keep_apps_apart(redis_url: str, prefix: str) -> None:
    with (
        TestClient(build(RedisStore(redis_url, prefix=prefix + "a:"))) as first,
        TestClient(build(RedisStore(redis_url, prefix=prefix + "b:"))) as second,
    ):
        cookie = cookie_of(first.post("/login")) or ""
        assert second.get("/me", cookies={"session": cookie}).json()["user"] is None


def test_a_websocket_gets_the_session_from_redis(redis_url: str, prefix: str) -> None:
    with TestClient(build(RedisStore(redis_url, prefix=prefix))) as client:
        client.post("/login")
        with client.websocket_connect("/ws") as websocket:
            assert websocket.receive_json() == {"user": "ann"}


# -- cookies that must never reach Redis ----------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["unsigned", "flipped", "othersecret", "cookiepurpose", "expired", "future"]
)
def test_a_forged_cookie_never_reaches_redis(
    redis_url: str, prefix: str, inspect: redis.Redis, frozen: list[float], kind: str
) -> None:
    with TestClient(build(RedisStore(redis_url, prefix=prefix), max_age=1000)) as client:
        sid = session_id(cookie_of(client.post("/login")) or "")
        now = int(frozen[0])
        forged = {
            "unsigned": f"{sid}.{now}.{'A' * 43}",
            "flipped": flip_last(sign(sid.encode(), now)),
            "othersecret": sign(sid.encode(), now, secret=OTHER),
            "cookiepurpose": sign(sid.encode(), now, purpose="cookie:session"),
            "expired": sign(sid.encode(), now - 1001),
            "future": sign(sid.encode(), now + 3600),
        }[kind]
        inspect.config_resetstat()
        response = client.get("/me", cookies={"session": forged})
        assert response.json() == {"user": None, "session": {}}
        assert gets_counted(inspect) == 0


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"A" * 42,
        b"A" * 44,
        b"A" * 4000,
        b"*",
        b"A" * 42 + b"*",
        b"A" * 42 + b"+",
        b"A" * 42 + b"/",
        b"A" * 42 + b"=",
        b"A" * 42 + b" ",
        b"A" * 39 + "é".encode(),
        b"../../" + b"A" * 37,
        b"%2A" + b"A" * 40,
    ],
    ids=[
        "empty",
        "short",
        "long",
        "huge",
        "star",
        "glob",
        "plus",
        "slash",
        "padding",
        "space",
        "utf8",
        "dots",
        "percent",
    ],
)
def test_a_signed_payload_that_is_no_id_never_reaches_redis(
    redis_url: str, prefix: str, inspect: redis.Redis, frozen: list[float], payload: bytes
) -> None:
    # Only a holder of the secret can sign these: still, no key of their choosing is read.
    with TestClient(build(RedisStore(redis_url, prefix=prefix))) as client:
        cookie = sign(payload, int(frozen[0]))
        inspect.config_resetstat()
        response = client.get("/me", headers={"cookie": f"session={cookie}"})
        assert response.status_code == 200
        assert response.json() == {"user": None, "session": {}}
        assert gets_counted(inspect) == 0
        written = cookie_of(client.get("/set/cart/1", headers={"cookie": f"session={cookie}"}))
        assert written is not None and len(session_id(written)) == 43


def test_a_well_formed_signed_id_is_looked_up_once(
    redis_url: str, prefix: str, inspect: redis.Redis, frozen: list[float]
) -> None:
    with TestClient(build(RedisStore(redis_url, prefix=prefix))) as client:
        inspect.config_resetstat()
        client.get("/me", cookies={"session": sign(b"Q" * 43, int(frozen[0]))})
        assert gets_counted(inspect) == 1


# -- outages ----------------------------------------------------------------------------------


def test_loading_during_an_outage_answers_503_not_an_empty_session(
    redis_url: str, prefix: str, down: Callable[[], None], caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(build(RedisStore(redis_url, prefix=prefix))) as client:
        cookie = cookie_of(client.post("/login")) or ""
        down()
        caplog.clear()
        for path in ("/me", "/plain"):  # the session is loaded before any handler runs
            response = client.get(path)
            assert response.status_code == 503
            assert response.json() == {"detail": "Session store unavailable"}
            assert response.headers["retry-after"] == "5"
            assert "set-cookie" not in response.headers  # the cookie is kept: no logout
        records = [r for r in caplog.records if r.name == "bare.sessions"]
        assert len(records) == 2  # once per failure
        for record in records:
            assert record.levelno == logging.ERROR
            assert "ConnectionError" in record.getMessage()
            assert session_id(cookie) not in record.getMessage()
        assert client.cookies["session"] == cookie


def test_writing_during_an_outage_answers_503(
    redis_url: str, prefix: str, down: Callable[[], None]
) -> None:
    with TestClient(build(RedisStore(redis_url, prefix=prefix))) as client:
        down()
        response = client.post("/login")  # no cookie: nothing to load, the save fails
        assert response.status_code == 503
        assert response.json() == {"detail": "Session store unavailable"}
        assert "set-cookie" not in response.headers
        assert "session" not in client.cookies


def test_requests_without_a_session_are_served_during_an_outage(
    redis_url: str, prefix: str, down: Callable[[], None]
) -> None:
    with TestClient(build(RedisStore(redis_url, prefix=prefix))) as client:
        down()
        assert client.get("/plain").text == "plain"
        assert client.get("/me").json() == {"user": None, "session": {}}  # read, empty
        garbage = client.get("/me", cookies={"session": "not.a.cookie"})
        assert garbage.json()["user"] is None
        clear = client.post("/logout")  # clearing an empty session writes nothing
        assert clear.status_code == 200


def test_after_a_restart_the_first_request_is_served(
    redis_server: RedisServer, redis_url: str, prefix: str, down: Callable[[], None]
) -> None:
    with TestClient(build(RedisStore(redis_url, prefix=prefix))) as client:
        client.post("/login")
        down()
        assert client.get("/me").status_code == 503
        redis_server.start()
        # The pooled connection died with the old process: a new one is made at once.
        response = client.get("/me")
        assert response.status_code == 200
        # This Redis keeps nothing on disk (--save ""): the session went with it.
        assert response.json()["user"] is None
        assert client.post("/login").status_code == 200
        assert client.get("/me").json()["user"] == "ann"


def test_losing_redis_in_the_handler_fails_the_logout_with_503(
    redis_server: RedisServer, redis_url: str, prefix: str, down: Callable[[], None]
) -> None:
    app = build(RedisStore(redis_url, prefix=prefix))

    @app.post("/crash-then-logout")
    async def crash_then_logout(request: Request) -> str:
        down()
        request.session.clear()
        return "logged out"

    with TestClient(app) as client:
        cookie = cookie_of(client.post("/login")) or ""
        response = client.post("/crash-then-logout")
        assert response.status_code == 503
        assert "set-cookie" not in response.headers  # not told it is logged out
        assert client.cookies["session"] == cookie


def test_losing_redis_in_the_handler_fails_the_login_with_503(
    redis_url: str, prefix: str, down: Callable[[], None]
) -> None:
    app = build(RedisStore(redis_url, prefix=prefix))

    @app.post("/crash-then-login")
    async def crash_then_login(request: Request) -> str:
        down()
        request.session.regenerate()
        request.session["user"] = "ann"
        return "logged in"

    with TestClient(app) as client:
        before = cookie_of(client.get("/set/cart/1")) or ""
        response = client.post("/crash-then-login")
        assert response.status_code == 503
        assert response.json() == {"detail": "Session store unavailable"}
        assert client.cookies["session"] == before


def test_a_streaming_response_is_replaced_before_it_starts(
    redis_url: str, prefix: str, down: Callable[[], None]
) -> None:
    ran: list[str] = []
    app = build(RedisStore(redis_url, prefix=prefix))

    @app.get("/stream")
    async def stream(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            ran.append("body")
            yield b"never"

        request.session["seen"] = True
        down()
        return StreamingResponse(chunks(), background=BackgroundTask(ran.append, "task"))

    with TestClient(app) as client:
        response = client.get("/stream")
        assert response.status_code == 503
        assert response.json() == {"detail": "Session store unavailable"}
        assert ran == []  # neither the body nor the response's task ran


@pytest.mark.parametrize("state", ["full", "replica"])
def test_a_redis_that_refuses_writes_answers_503(
    redis_url: str, prefix: str, inspect: redis.Redis, state: str
) -> None:
    with TestClient(build(RedisStore(redis_url, prefix=prefix))) as client:
        try:
            if state == "full":  # maxmemory reached, no eviction: OOM for every SET
                inspect.config_set("maxmemory-policy", "noeviction")
                inspect.config_set("maxmemory", "1")
            else:  # a replica during a failover: READONLY for every SET
                inspect.replicaof("127.0.0.1", free_port())
            response = client.post("/login")
            assert response.status_code == 503
            assert response.json() == {"detail": "Session store unavailable"}
        finally:
            inspect.config_set("maxmemory", "0")
            inspect.replicaof("NO", "ONE")
        assert client.post("/login").status_code == 200


def test_a_connection_that_breaks_under_a_command_is_retried_once(
    redis_server: RedisServer, redis_url: str, prefix: str
) -> None:
    """Through a proxy that cuts the first connection as the GET passes (as a restart or
    an idle-connection reaper would): the store's own client retries the command once,
    on a new connection, and the reader never notices."""
    cut: list[int] = []

    async def run() -> bytes | None:
        async def pump(source: Any, target: Any, cut_at_get: bool) -> None:
            try:
                while data := await source.read(65536):
                    if cut_at_get and b"GET" in data:
                        cut.append(1)
                        return
                    target.write(data)
                    await target.drain()
            finally:
                target.close()

        async def relay(reader: Any, writer: Any) -> None:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", redis_server.port
            )
            first = not cut
            await asyncio.gather(
                pump(reader, upstream_writer, first),
                pump(upstream_reader, writer, False),
                return_exceptions=True,
            )

        proxy = await asyncio.start_server(relay, "127.0.0.1", 0)
        port = proxy.sockets[0].getsockname()[1]
        try:
            async with RedisStore(f"redis://127.0.0.1:{port}/0", prefix=prefix) as store:
                await store.save("r" * 43, b'{"kept":1}', 100)  # connects; cut at the GET
                return await store.load("r" * 43)
        finally:
            proxy.close()
            await proxy.wait_closed()

    assert asyncio.run(run()) == b'{"kept":1}'
    assert cut == [1]


def test_a_websocket_handshake_is_refused_with_503(
    redis_url: str, prefix: str, down: Callable[[], None]
) -> None:
    with TestClient(build(RedisStore(redis_url, prefix=prefix))) as client:
        client.post("/login")
        down()
        with pytest.raises(WebSocketDenied) as denied, client.websocket_connect("/ws"):
            pass
        assert denied.value.response.status_code == 503
        assert denied.value.response.json() == {"detail": "Session store unavailable"}


def stopped(redis_server: RedisServer) -> Callable[[], None]:
    """Stop the Redis process (SIGSTOP, by its pid): it accepts connections, answers
    nothing. Returns what resumes it."""
    assert redis_server.server is not None
    pid = redis_server.server.process.pid
    os.kill(pid, signal.SIGSTOP)
    return lambda: os.kill(pid, signal.SIGCONT)


def test_a_hung_redis_answers_503_within_the_timeout(
    redis_server: RedisServer, redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(build(RedisStore(redis_url, prefix=prefix, timeout=0.2))) as client:
        client.post("/login")
        resume = stopped(redis_server)
        try:
            caplog.clear()
            assert client.get("/me").status_code == 503
            assert client.post("/login").status_code == 503
            messages = [r.getMessage() for r in caplog.records if r.name == "bare.sessions"]
            assert len(messages) == 2
            assert all("did not answer" in m or "Timeout" in m for m in messages)
        finally:
            resume()
        assert client.get("/plain").status_code == 200
        assert client.post("/login").status_code == 200
        assert client.get("/me").json()["user"] == "ann"


def test_the_timeout_bounds_a_given_client_without_socket_timeouts(
    redis_server: RedisServer, redis_url: str, prefix: str
) -> None:
    given = redis.asyncio.Redis.from_url(redis_url, socket_timeout=None)
    app = build(RedisStore(given, prefix=prefix, timeout=0.2))
    app.on_shutdown(given.aclose)
    with TestClient(app) as client:
        client.post("/login")
        resume = stopped(redis_server)
        try:
            assert client.get("/me").status_code == 503
        finally:
            resume()
        assert client.get("/me").json()["user"] == "ann"


def test_an_exception_handler_for_503_answers_the_outage(
    redis_url: str, prefix: str, down: Callable[[], None]
) -> None:
    app = build(RedisStore(redis_url, prefix=prefix))

    @app.exception_handler(SessionStoreUnavailable)
    async def unavailable(request: Request, exc: SessionStoreUnavailable) -> Any:
        return {"error": "try again soon"}

    with TestClient(app) as client:
        client.post("/login")
        down()
        response = client.get("/me")
        assert response.status_code == 503
        assert response.json() == {"error": "try again soon"}


def test_middleware_outside_see_the_503_and_no_exception(
    redis_url: str, prefix: str, down: Callable[[], None]
) -> None:
    seen: list[Any] = []

    class Outer:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            async def watch(message: Any) -> None:
                if message["type"] == "http.response.start":
                    seen.append(message["status"])
                await send(message)

            try:
                await self.app(scope, receive, watch)
            except Exception as exc:
                seen.append(exc)
                raise

    store = RedisStore(redis_url, prefix=prefix)
    app = Bare()
    app.add_middleware(Outer)
    app.add_middleware(SessionMiddleware, secret_key=SECRET, store=store)
    app.on_shutdown(store.close)

    @app.get("/write")
    async def write(request: Request) -> str:
        request.session["x"] = 1
        return "written"

    with TestClient(app) as client:
        client.get("/write")
        down()
        assert client.get("/write").status_code == 503  # loading fails
        client.cookies.clear()
        assert client.get("/write").status_code == 503  # saving fails
    assert seen == [200, 503, 503]


# -- the middleware with any store that fails ----------------------------------------------


class FailingStore(MemoryStore):
    """A MemoryStore that raises `error` from every method while `error` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.error: BaseException | None = None

    async def load(self, session_id: str) -> bytes | None:
        if self.error is not None:
            raise self.error
        return await super().load(session_id)

    async def save(self, session_id: str, data: bytes, max_age: int) -> None:
        if self.error is not None:
            raise self.error
        await super().save(session_id, data, max_age)


@pytest.mark.parametrize("kind", ["unavailable", "oserror", "timeout"])
def test_outage_errors_of_any_store_answer_503_and_are_logged_without_the_id(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = FailingStore()
    client = TestClient(build(store))
    cookie = cookie_of(client.post("/login")) or ""
    sid = session_id(cookie)
    store.error = {
        "unavailable": SessionStoreUnavailable(f"cannot load {sid}", retry_after=None),
        "oserror": ConnectionRefusedError(111, f"refused for {sid}"),
        "timeout": asyncio.TimeoutError(f"slow for {sid}"),
    }[kind]
    caplog.clear()
    response = client.get("/me")
    assert response.status_code == 503
    assert response.json() == {"detail": "Session store unavailable"}
    assert response.headers.get("retry-after") == (None if kind == "unavailable" else "5")
    [record] = [r for r in caplog.records if r.name == "bare.sessions"]
    assert sid not in record.getMessage() and "<session id>" in record.getMessage()


def test_other_store_errors_are_bugs_not_outages() -> None:
    store = FailingStore()
    client = TestClient(build(store))
    client.post("/login")
    store.error = KeyError("a bug in the store")
    with pytest.raises(KeyError):
        client.get("/me")


def test_a_raw_app_that_answers_after_the_failure_is_not_heard(asgi_call: Call) -> None:
    """The 503 went out; what the app sends after it is dropped, and its reaction to the
    failure ends at the middleware."""
    store = FailingStore()
    store.error = SessionStoreUnavailable("down")
    caught: list[BaseException] = []

    async def raw(scope: Any, receive: Any, send: Any) -> None:
        scope["session"]["user"] = "ann"
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        except SessionStoreUnavailable as exc:
            caught.append(exc)
            await send({"type": "http.response.start", "status": 500, "headers": []})
            await send({"type": "http.response.body", "body": b"error"})
            raise

    reply = asgi_call(SessionMiddleware(raw, secret_key=SECRET, store=store), "GET", "/")
    assert len(caught) == 1
    assert reply.status == 503
    assert json.loads(reply.body) == {"detail": "Session store unavailable"}
    assert [m["type"] for m in reply.messages] == ["http.response.start", "http.response.body"]


def test_another_exception_after_the_503_goes_on(asgi_call: Call) -> None:
    store = FailingStore()
    store.error = SessionStoreUnavailable("down")

    async def raw(scope: Any, receive: Any, send: Any) -> None:
        scope["session"]["user"] = "ann"
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        except SessionStoreUnavailable:
            raise RuntimeError("the app's own failure") from None

    with pytest.raises(RuntimeError, match="own failure"):
        asgi_call(SessionMiddleware(raw, secret_key=SECRET, store=store), "GET", "/")


def test_a_raw_websocket_with_a_failing_store_is_refused(ws_session: Call) -> None:
    store = FailingStore()
    stamp = int(sessions_module._now())
    cookie = sign(b"Q" * 43, stamp)
    store.error = SessionStoreUnavailable("down")
    reached: list[bool] = []

    async def raw(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)

    sent = ws_session(
        SessionMiddleware(raw, secret_key=SECRET, store=store),
        "/ws",
        [],
        headers=[(b"host", b"testserver"), (b"cookie", f"session={cookie}".encode())],
    )
    assert reached == []
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": ""}]


class RecordingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []

    async def load(self, session_id: str) -> bytes | None:
        self.loaded.append(session_id)
        return await super().load(session_id)


@pytest.mark.parametrize(
    "payload",
    [b"A" * 41 + b"\r\n", b"A" * 42 + b"\x00", b"A" * 42 + b"\x7f", b"A" * 42 + b"\xff"],
    ids=["crlf", "nul", "del", "latin1"],
)
def test_ids_with_bytes_no_browser_sends_never_reach_a_store(
    asgi_call: Call, payload: bytes
) -> None:
    store = RecordingStore()
    cookie = sign(payload, int(sessions_module._now())).encode("latin-1")

    async def raw(scope: Any, receive: Any, send: Any) -> None:
        body = json.dumps(dict(scope["session"])).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    app = SessionMiddleware(raw, secret_key=SECRET, store=store)
    reply = asgi_call(app, "GET", "/", headers=[(b"cookie", b"session=" + cookie)])
    assert (reply.status, reply.body) == (200, b"{}")
    assert store.loaded == []


def test_session_store_unavailable_is_a_503_http_exception() -> None:
    problem = SessionStoreUnavailable("why", retry_after=30)
    assert (problem.status, problem.detail, problem.reason) == (
        503,
        "Session store unavailable",
        "why",
    )
    assert problem.headers == {"retry-after": "30"}
    for wrong in (-1, True, 1.5, "5"):
        with pytest.raises(ValueError, match="retry_after"):
            SessionStoreUnavailable(retry_after=wrong)  # type: ignore[arg-type]


# -- the store itself ---------------------------------------------------------------------


def test_the_store_follows_the_protocol(redis_url: str, prefix: str, inspect: redis.Redis) -> None:
    store = RedisStore(redis_url, prefix=prefix)
    assert isinstance(store, SessionStore)

    async def run() -> list[Any]:
        async with store:
            await store.save("a" * 43, b'{"n":1}', 100)
            first = await store.load("a" * 43)
            await store.save("a" * 43, b'{"n":2}', 100)  # replaces
            second = await store.load("a" * 43)
            await store.delete("a" * 43)
            await store.delete("never" * 8)
            return [first, second, await store.load("a" * 43), await store.load("b" * 43)]

    assert asyncio.run(run()) == [b'{"n":1}', b'{"n":2}', None, None]
    assert inspect.keys(prefix + "*") == []


def test_a_client_with_decoded_responses_still_gives_bytes(redis_url: str, prefix: str) -> None:
    async def run() -> bytes | None:
        given = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
        try:
            store = RedisStore(given, prefix=prefix)
            await store.save("a" * 43, '{"name":"Zoë"}'.encode(), 100)
            return await store.load("a" * 43)
        finally:
            await given.aclose()

    assert asyncio.run(run()) == '{"name":"Zoë"}'.encode()


def test_close_closes_the_stores_own_client(redis_url: str, inspect: redis.Redis) -> None:
    store = RedisStore(redis_url)

    async def connection_of_store() -> int:
        client_id = int(await store.client.client_id())
        await store.close()
        return client_id

    closed = asyncio.run(connection_of_store())
    while any(int(c["id"]) == closed for c in inspect.client_list()):
        pass  # the server sees the close a moment later; the test's timeout is the net
    # Closed, and usable again on another loop: it connects anew.

    async def again() -> bytes | None:
        async with store:
            await store.save("c" * 43, b"{}", 10)
            return await store.load("c" * 43)

    assert asyncio.run(again()) == b"{}"


def test_close_leaves_a_given_client_open(redis_url: str) -> None:
    async def run() -> tuple[int, int]:
        given = redis.asyncio.Redis.from_url(redis_url)
        try:
            store = RedisStore(given)
            assert not store.owns_client and store.client is given
            before = int(await given.client_id())
            await store.save("g" * 43, b"{}", 10)
            await store.close()
            async with store:
                pass
            return before, int(await given.client_id())  # the same connection: not closed
        finally:
            await given.aclose()

    before, after = asyncio.run(run())
    assert before == after


def test_the_lifespan_closes_the_store_and_a_new_one_reconnects(
    redis_url: str, prefix: str
) -> None:
    store = RedisStore(redis_url, prefix=prefix)
    app = build(store)
    with TestClient(app) as client:
        client.post("/login")
        cookie = client.cookies["session"]
    first = store.client
    with TestClient(app) as client:  # a new event loop: the closed store starts over
        assert client.get("/me", cookies={"session": cookie}).json()["user"] == "ann"
    assert store.client is not first


def test_another_loop_without_closing_is_a_clear_error(redis_url: str, prefix: str) -> None:
    store = RedisStore(redis_url, prefix=prefix)
    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(store.save("l" * 43, b"{}", 10))
        with pytest.raises(RuntimeError, match=r"another event loop.*store\.close"):
            asyncio.run(store.load("l" * 43))
        with pytest.raises(RuntimeError, match=r"another event loop.*store\.close"):
            asyncio.run(store.close())
        first.run_until_complete(store.close())  # on the loop its connections belong to
    finally:
        first.close()

    async def again() -> bytes | None:
        async with store:  # closed: any loop may start over
            return await store.load("l" * 43)

    assert asyncio.run(again()) == b"{}"


def test_an_async_app_shares_one_loop_with_the_store(redis_url: str, prefix: str) -> None:
    async def run() -> list[Any]:
        store = RedisStore(redis_url, prefix=prefix)
        async with store, AsyncTestClient(build(store)) as client:
            await client.post("/login")
            return [(await client.get("/me")).json()["user"]]

    assert asyncio.run(run()) == ["ann"]


@pytest.mark.parametrize(
    ("args", "options", "error", "message"),
    [
        ((12,), {}, TypeError, "Redis URL"),
        ((None,), {}, TypeError, "Redis URL"),
        (("http://127.0.0.1:6379",), {}, ValueError, "redis://"),
        (("",), {}, ValueError, "redis://"),
        (("redis://127.0.0.1:port/0",), {}, ValueError, "Port"),
        (("redis://127.0.0.1:6379/0",), {"prefix": b"x"}, TypeError, "prefix"),
        (("redis://127.0.0.1:6379/0",), {"timeout": 0}, ValueError, "timeout"),
        (("redis://127.0.0.1:6379/0",), {"timeout": -1}, ValueError, "timeout"),
        (("redis://127.0.0.1:6379/0",), {"timeout": True}, ValueError, "timeout"),
        (("redis://127.0.0.1:6379/0",), {"timeout": float("nan")}, ValueError, "timeout"),
        (("redis://127.0.0.1:6379/0",), {"timeout": float("inf")}, ValueError, "timeout"),
        (("redis://127.0.0.1:6379/0",), {"timeout": "1"}, ValueError, "timeout"),
    ],
    ids=[
        "int",
        "none",
        "http",
        "empty",
        "port",
        "bytesprefix",
        "zero",
        "negative",
        "bool",
        "nan",
        "inf",
        "str",
    ],
)
def test_configuration_mistakes_are_refused(
    args: tuple[Any, ...], options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        RedisStore(*args, **options)


def test_a_sync_client_is_refused_naming_the_asyncio_one() -> None:
    sync_client = redis.Redis()
    try:
        with pytest.raises(TypeError, match=r"redis\.asyncio\.Redis, not redis\.Redis"):
            RedisStore(sync_client)  # type: ignore[arg-type]
    finally:
        sync_client.close()


def test_a_bad_url_error_does_not_repeat_the_password() -> None:
    with pytest.raises(ValueError) as raised:
        RedisStore("http://user:hunter2@127.0.0.1:6379/0")
    assert "hunter2" not in str(raised.value)


def test_save_refuses_a_max_age_redis_would_not_take(redis_url: str) -> None:
    store = RedisStore(redis_url)  # refused before any connection is made
    for max_age in (0, -5, True, 1.5, None):
        with pytest.raises(ValueError, match="max_age"):
            asyncio.run(store.save("m" * 43, b"{}", max_age))  # type: ignore[arg-type]


def test_middleware_refuses_a_store_without_max_age(redis_url: str) -> None:
    with pytest.raises(ValueError, match="store needs max_age"):
        SessionMiddleware(Bare(), secret_key=SECRET, store=RedisStore(redis_url), max_age=None)


def test_missing_redis_is_a_clear_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ImportError) as raised:
        RedisStore("redis://127.0.0.1:6379/0")
    assert "pip install redis (or, in a checkout of bare, pip install '.[redis]')" in str(
        raised.value
    )


def test_sessions_do_not_import_redis_until_a_redis_store_is_made() -> None:
    code = (
        "import sys, bare, bare.sessions, bare.middleware.sessions; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'redis'))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"


# -- a real server ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(redis_server: RedisServer) -> Iterator[str]:
    if redis_server.server is None:
        redis_server.start()
    port = free_port()
    saved = os.environ.get("BARE_TEST_REDIS_URL")
    os.environ["BARE_TEST_REDIS_URL"] = redis_server.url  # read by the server's process
    try:
        yield from serve(uvicorn_command("apps.sessions_redis:app", port, "--no-access-log"), port)
    finally:
        if saved is None:
            os.environ.pop("BARE_TEST_REDIS_URL", None)
        else:
            os.environ["BARE_TEST_REDIS_URL"] = saved


def test_log_in_out_and_an_outage_on_a_real_server(
    live: str, redis_server: RedisServer, redis_url: str, down: Callable[[], None]
) -> None:
    with httpx.Client(base_url=f"http://{live}", timeout=10) as http:
        assert http.get("/me").json() == {"user": None}
        login = http.post("/login")
        assert login.status_code == 200 and "HttpOnly" in login.headers["set-cookie"]
        assert http.get("/me").json() == {"user": "ann"}
        down()
        outage = http.get("/me")
        assert outage.status_code == 503
        assert outage.json() == {"detail": "Session store unavailable"}
        assert outage.headers["retry-after"] == "5"
        assert http.get("/plain").status_code == 503  # the jar sends the cookie
        with httpx.Client(base_url=f"http://{live}", timeout=10) as anonymous:
            assert anonymous.get("/plain").text == "plain"
        redis_server.start()
        assert http.get("/me").json() == {"user": None}  # this Redis keeps nothing on disk
        http.post("/login")
        assert http.post("/logout").json() == {"logged_in": False}
        assert "session" not in http.cookies
