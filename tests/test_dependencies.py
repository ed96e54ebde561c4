"""Dependencies of typed handlers: sub-dependencies, caching, sync and async functions and
generators, when generator cleanups run (after a streamed response, before the response
with scope="function", on errors and disconnects), overrides, route- and router-level
dependencies, cycles, and what is injected by type."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest

from bare import (
    BackgroundTasks,
    Bare,
    Depends,
    Header,
    HTTPException,
    Query,
    Request,
    Router,
    State,
    StreamingResponse,
    WebSocket,
)
from bare.testing import TestClient
from bare.types import Message, Receive, Scope, Send


class Recorder:
    """Logs what the app sends next to what the dependencies do, in one list."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.log: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.log.append("sent start")
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                self.log.append("sent end")
            await send(message)

        await self.app(scope, receive, recording)


class Resource:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.state = "open"

    def close(self) -> None:
        self.state = "closed"
        self.log.append("closed")


# -- values, sub-dependencies and caching ---------------------------------------------------


def test_sub_dependencies_and_their_parameters() -> None:
    app = Bare()

    def pagination(offset: int = 0, limit: int = Query(10, le=50)) -> dict[str, int]:
        return {"offset": offset, "limit": limit}

    async def user(x_user: str = Header()) -> str:
        return x_user

    async def listing(
        page: dict[str, int] = Depends(pagination), who: str = Depends(user)
    ) -> dict[str, Any]:
        return {**page, "user": who}

    @app.get("/items")
    async def items(listing: dict[str, Any] = Depends(listing), q: str = "") -> Any:
        return {**listing, "q": q}

    client = TestClient(app)
    reply = client.get("/items?limit=5&q=x", headers={"x-user": "ada"})
    assert reply.json() == {"offset": 0, "limit": 5, "user": "ada", "q": "x"}
    # The parameters of every dependency are checked together, before any runs.
    detail = client.get("/items?limit=99&offset=x").json()["detail"]
    assert [d["loc"] for d in detail] == [
        ["query", "offset"],
        ["query", "limit"],
        ["header", "x-user"],
    ]


def test_a_dependency_runs_once_per_request_unless_told_otherwise() -> None:
    app = Bare()
    calls: list[str] = []

    async def counted() -> int:
        calls.append("cached")
        return len(calls)

    def fresh() -> int:
        calls.append("fresh")
        return len(calls)

    async def both(
        a: int = Depends(counted), b: int = Depends(fresh, use_cache=False)
    ) -> list[int]:
        return [a, b]

    @app.get("/")
    async def handler(
        first: int = Depends(counted),
        pair: list[int] = Depends(both),
        again: int = Depends(fresh, use_cache=False),
    ) -> Any:
        return [first, pair, again]

    client = TestClient(app)
    assert client.get("/").json() == [1, [1, 2], 3]
    assert calls == ["cached", "fresh", "fresh"]
    calls.clear()
    assert client.get("/").json() == [1, [1, 2], 3]  # a new request: a new cache


class Pagination:
    def __init__(self, offset: int = 0, limit: int = 10) -> None:
        self.offset, self.limit = offset, limit


def test_classes_as_dependencies() -> None:
    app = Bare()

    @app.get("/")
    async def handler(
        page: Annotated[Pagination, Depends()],
        other: Pagination = Depends(Pagination),
    ) -> Any:
        return [page.offset, page.limit, other is page]

    assert TestClient(app).get("/?offset=3").json() == [3, 10, True]


def test_sync_functions_and_generators_run_in_the_thread_pool() -> None:
    app = Bare()
    main = threading.main_thread()
    threads: list[bool] = []

    def sync_value() -> str:
        threads.append(threading.current_thread() is main)
        return "value"

    def sync_generator() -> Iterator[str]:
        threads.append(threading.current_thread() is main)
        yield "generated"
        threads.append(threading.current_thread() is main)

    @app.get("/")
    async def handler(a: str = Depends(sync_value), b: str = Depends(sync_generator)) -> Any:
        return [a, b]

    assert TestClient(app).get("/").json() == ["value", "generated"]
    assert threads == [False, False, False]


# -- generator cleanups: when they run -------------------------------------------------------


def _streaming_app(scope: str, fail_in_cleanup: Exception | None = None) -> tuple[Recorder, Bare]:
    app = Bare()
    recorder = Recorder(app)
    log = recorder.log

    async def resource() -> AsyncIterator[Resource]:
        log.append("opened")
        held = Resource(log)
        try:
            yield held
        finally:
            held.close()
            if fail_in_cleanup is not None:
                raise fail_in_cleanup

    @app.get("/stream")
    async def stream(held: Resource = Depends(resource, scope=scope)) -> Any:  # type: ignore[arg-type]
        async def chunks() -> AsyncIterator[str]:
            for n in range(3):
                log.append(f"chunk {n} {held.state}")
                yield f"{held.state} "

        return StreamingResponse(chunks())

    @app.get("/plain")
    async def plain(held: Resource = Depends(resource, scope=scope)) -> Any:  # type: ignore[arg-type]
        log.append(f"handler {held.state}")
        return {"state": held.state}

    return recorder, app


def test_request_scope_cleanup_runs_after_a_streamed_response_has_gone_out() -> None:
    recorder, _ = _streaming_app("request")
    reply = TestClient(recorder).get("/stream")
    assert reply.text == "open open open "
    assert recorder.log == [
        "opened",
        "sent start",
        "chunk 0 open",
        "chunk 1 open",
        "chunk 2 open",
        "sent end",
        "closed",
    ]


def test_function_scope_cleanup_runs_before_the_response_is_sent() -> None:
    recorder, _ = _streaming_app("function")
    client = TestClient(recorder)
    assert client.get("/plain").json() == {"state": "open"}
    assert recorder.log == ["opened", "handler open", "closed", "sent start", "sent end"]
    recorder.log.clear()
    # A streamed response outlives the resource: it sees it closed (documented).
    assert client.get("/stream").text == "closed closed closed "


def test_a_failing_function_scope_cleanup_is_the_response() -> None:
    recorder, _ = _streaming_app("function", fail_in_cleanup=RuntimeError("commit failed"))
    reply = TestClient(recorder, raise_server_exceptions=False).get("/plain")
    assert reply.status_code == 500
    recorder2, _ = _streaming_app("function", fail_in_cleanup=HTTPException(409, "conflict"))
    reply = TestClient(recorder2).get("/plain")
    assert (reply.status_code, reply.json()) == (409, {"detail": "conflict"})


def test_a_failing_request_scope_cleanup_is_logged_not_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder, _ = _streaming_app("request", fail_in_cleanup=RuntimeError("secret detail"))
    with caplog.at_level(logging.ERROR, logger="bare.dependencies"):
        reply = TestClient(recorder).get("/plain?x=1")
    assert (reply.status_code, reply.json()) == (200, {"state": "open"})
    assert "secret" not in reply.text
    (record,) = [r for r in caplog.records if r.name == "bare.dependencies"]
    assert "cleanup of dependency" in record.getMessage()
    assert "after GET '/plain'" in record.getMessage()
    assert record.exc_info is not None and "secret detail" in str(record.exc_info[1])


@pytest.mark.parametrize("scope", ["request", "function"])
def test_the_handlers_error_is_thrown_into_the_generator(scope: str) -> None:
    app = Bare()
    seen: list[str] = []

    async def transaction() -> AsyncIterator[str]:
        try:
            yield "tx"
        except HTTPException as exc:
            seen.append(f"rollback {exc.status}")
            raise
        else:
            seen.append("commit")
        finally:
            seen.append("finally")

    def sync_transaction() -> Iterator[str]:
        try:
            yield "sync"
        except HTTPException as exc:
            seen.append(f"sync rollback {exc.status}")
            raise

    @app.get("/{item}")
    async def handler(
        item: str,
        tx: str = Depends(transaction, scope=scope),  # type: ignore[arg-type]
        sync: str = Depends(sync_transaction, scope=scope),  # type: ignore[arg-type]
    ) -> Any:
        if item == "missing":
            raise HTTPException(404, "no such item")
        return item

    client = TestClient(app)
    reply = client.get("/missing")
    assert (reply.status_code, reply.json()) == (404, {"detail": "no such item"})
    assert seen == ["sync rollback 404", "rollback 404", "finally"]
    seen.clear()
    assert client.get("/found").text == "found"
    assert seen == ["commit", "finally"]


def test_a_generator_that_swallows_the_error_does_not_change_the_response() -> None:
    app = Bare()

    async def swallowing() -> AsyncIterator[None]:
        with contextlib.suppress(Exception):
            yield

    @app.get("/")
    async def handler(_: None = Depends(swallowing, scope="function")) -> Any:
        raise HTTPException(418)

    assert TestClient(app).get("/").status_code == 418


def test_cleanup_runs_when_the_client_leaves_mid_stream() -> None:
    app = Bare()
    cleaned = threading.Event()
    started = threading.Event()

    async def resource() -> AsyncIterator[str]:
        try:
            yield "r"
        finally:
            cleaned.set()

    @app.get("/")
    async def endless(held: str = Depends(resource)) -> Any:
        async def forever() -> AsyncIterator[str]:
            while True:
                started.set()
                yield held

        return StreamingResponse(forever())

    client = TestClient(app)
    with client.stream("GET", "/") as response:
        for chunk in response.iter_bytes():
            assert chunk.startswith(b"r")
            break
    assert started.is_set()
    assert cleaned.wait(10)


def test_cleanup_runs_when_validation_of_a_later_step_fails() -> None:
    app = Bare(max_body_size=10)
    log: list[str] = []

    async def first() -> AsyncIterator[str]:
        log.append("enter")
        try:
            yield "x"
        finally:
            log.append("exit")

    async def failing(x: str = Depends(first)) -> str:
        raise HTTPException(401, "no")

    @app.get("/")
    async def handler(a: str = Depends(first), b: str = Depends(failing)) -> Any:
        return "unreachable"

    assert TestClient(app).get("/").status_code == 401
    assert log == ["enter", "exit"]


def test_generators_that_do_not_yield_once_are_errors(caplog: pytest.LogCaptureFixture) -> None:
    app = Bare()

    async def never() -> AsyncIterator[str]:
        if False:  # pragma: no cover
            yield "x"

    async def twice() -> AsyncIterator[str]:
        yield "a"
        yield "b"

    @app.get("/never")
    async def uses_never(v: str = Depends(never)) -> Any:
        return v

    @app.get("/twice")
    async def uses_twice(v: str = Depends(twice)) -> Any:
        return v

    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/never").status_code == 500
    with caplog.at_level(logging.ERROR, logger="bare.dependencies"):
        assert client.get("/twice").text == "a"
    assert any("yielded more than once" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_dependencies_do_not_run_when_the_request_is_invalid() -> None:
    app = Bare()
    ran: list[str] = []

    async def side_effect() -> None:
        ran.append("ran")

    @app.get("/", dependencies=[Depends(side_effect)])
    async def handler(n: int) -> Any:
        return n

    assert TestClient(app).get("/?n=x").status_code == 422
    assert ran == []


# -- overrides -------------------------------------------------------------------------------


def test_overrides_replace_a_dependency_at_call_time() -> None:
    app = Bare()

    async def database() -> AsyncIterator[str]:
        yield "real"

    async def current_user(db: str = Depends(database)) -> str:
        return f"user from {db}"

    @app.get("/")
    async def handler(user: str = Depends(current_user), db: str = Depends(database)) -> Any:
        return [user, db]

    client = TestClient(app)
    assert client.get("/").json() == ["user from real", "real"]

    def fake_database(name: str = Query("fake")) -> str:
        return name

    app.dependency_overrides[database] = fake_database
    assert client.get("/").json() == ["user from fake", "fake"]
    assert client.get("/?name=other").json() == ["user from other", "other"]
    assert client.get("/?name=").json() == ["user from ", ""]

    async def admin() -> str:
        return "admin"

    app.dependency_overrides[current_user] = admin
    assert client.get("/").json() == ["admin", "fake"]
    app.dependency_overrides.clear()
    assert client.get("/").json() == ["user from real", "real"]


def test_an_overrides_parameters_are_validated() -> None:
    app = Bare()

    def token() -> str:
        return "t"

    @app.get("/")
    async def handler(value: str = Depends(token)) -> Any:
        return value

    def strict(n: int) -> str:
        return str(n)

    app.dependency_overrides[token] = strict
    client = TestClient(app)
    assert client.get("/?n=4").text == "4"
    detail = client.get("/?n=x").json()["detail"]
    assert detail == [
        {
            "loc": ["query", "n"],
            "msg": "Expected `int`, got `str`",
            "type": "type_error",
            "input": "x",
        }
    ]


# -- route- and router-level dependencies ------------------------------------------------------


def test_route_router_and_include_dependencies_run_outermost_first() -> None:
    order: list[str] = []

    def named(name: str) -> Any:
        async def dependency() -> None:
            order.append(name)

        dependency.__name__ = dependency.__qualname__ = name
        return dependency

    router = Router(dependencies=[Depends(named("router"))], tags=["items"])

    @router.get("/items", dependencies=[Depends(named("route"))], tags=["list"])
    async def items() -> Any:
        order.append("handler")
        return "ok"

    app = Bare()
    app.include_router(router, prefix="/v1", dependencies=[Depends(named("include"))], tags=["v1"])
    assert TestClient(app).get("/v1/items").text == "ok"
    assert order == ["include", "router", "route", "handler"]
    route = next(r for r in app.routes if getattr(r, "path", None) == "/v1/items")
    assert route.options.tags == ("v1", "items", "list")  # type: ignore[union-attr]
    plan = route.plan  # type: ignore[union-attr]
    assert [d.call.__name__ for d in plan.dependencies] == ["include", "router", "route"]
    assert all(d.name is None for d in plan.dependencies)


def test_a_route_dependency_can_refuse_the_request() -> None:
    app = Bare()

    async def verify(x_key: str = Header()) -> None:
        if x_key != "secret":
            raise HTTPException(401, "bad key")

    @app.get("/", dependencies=[Depends(verify)])
    async def handler(request: Request) -> Any:
        return "in"

    client = TestClient(app)
    assert client.get("/", headers={"x-key": "secret"}).text == "in"
    assert client.get("/", headers={"x-key": "nope"}).status_code == 401
    assert client.get("/").json()["detail"][0]["loc"] == ["header", "x-key"]


def test_route_options_refuse_what_is_not_a_dependency() -> None:
    app = Bare()

    def plain() -> None: ...

    with pytest.raises(
        TypeError, match=r"dependencies takes Depends\(...\) markers.*Depends\(plain\)"
    ):
        app.get("/", dependencies=[plain])
    with pytest.raises(TypeError, match="dependencies must be a list"):
        Router(dependencies=Depends(plain))
    with pytest.raises(TypeError, match="tags must be a list of strings"):
        Router(tags="items")
    with pytest.raises(ValueError, match=r'scope=\.\.\.\) is "request" or "function"'):
        Depends(plain, scope="app")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Depends\\(\\) takes a callable"):
        Depends(3)  # type: ignore[arg-type]


# -- cycles ------------------------------------------------------------------------------------


class Node:
    def __init__(self, parent: Node = Depends()) -> None:
        self.parent = parent


def test_dependency_cycles_are_refused_at_registration() -> None:
    app = Bare()
    later = Depends(None)

    def first(value: str = later) -> str:
        return value

    def second(value: str = Depends(first)) -> str:
        return value

    later.dependency = second

    with pytest.raises(TypeError, match=r"dependency cycle .*second -> .*first -> .*second"):

        @app.get("/")
        async def handler(value: str = Depends(second)) -> Any: ...

    with pytest.raises(TypeError, match=r"dependency cycle Node -> Node"):

        @app.get("/node")
        async def node(n: Node = Depends()) -> Any: ...


async def token() -> str:
    return "t"


def test_one_parameter_with_a_marker_is_typed_not_plain() -> None:
    app = Bare()

    @app.get("/a")
    async def annotated(value: Annotated[str, Depends(token)]) -> Any:
        return value

    @app.get("/b")
    async def query(n: int) -> Any:
        return n

    client = TestClient(app)
    assert (client.get("/a").text, client.get("/b?n=2").json()) == ("t", 2)


def test_depends_without_a_callable_needs_a_class() -> None:
    app = Bare()
    with pytest.raises(TypeError, match=r"Depends\(\) without a callable needs a class annotation"):

        @app.get("/")
        async def handler(value: Annotated[Any, Depends()]) -> Any: ...


# -- injected by type --------------------------------------------------------------------------


def test_request_state_and_background_tasks_are_injected() -> None:
    app = Bare()
    app.state.greeting = "hello"
    done = threading.Event()
    after: list[str] = []

    def remember(word: str) -> None:
        after.append(word)
        done.set()

    async def audited(request: Request, tasks: BackgroundTasks) -> str:
        tasks.add_task(remember, f"audit {request.method}")
        return request.path

    @app.get("/")
    async def handler(state: State, tasks: BackgroundTasks, path: str = Depends(audited)) -> Any:
        tasks.add_task(remember, "handler")
        return [state.greeting, path]

    assert TestClient(app).get("/").json() == ["hello", "/"]
    assert done.wait(5)
    assert after == ["audit GET", "handler"]


def test_background_tasks_run_before_request_scope_cleanups() -> None:
    app = Bare()
    log: list[str] = []

    async def resource() -> AsyncIterator[str]:
        yield "r"
        log.append("cleanup")

    async def task() -> None:
        log.append("task")

    @app.get("/")
    async def handler(tasks: BackgroundTasks, held: str = Depends(resource)) -> Any:
        tasks.add_task(task)
        return held

    assert TestClient(app).get("/").text == "r"
    assert log == ["task", "cleanup"]


# -- overrides, what FastAPI users rely on -----------------------------------------------------


def test_an_overridden_dependencys_parameters_are_not_read() -> None:
    # The point of overriding `current_user` in a test: requests need no token.
    ran: list[str] = []

    async def token_scheme(authorization: str = Header()) -> str:
        ran.append("token")
        return authorization

    async def current_user(token: str = Depends(token_scheme), tenant: int = Query()) -> str:
        ran.append("user")
        return f"user of {token} in {tenant}"

    app = Bare()

    @app.get("/me")
    async def me(user: str = Depends(current_user), tenant: int = Query()) -> Any:
        return [user, tenant]

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, user: str = Depends(current_user)) -> None:
        await websocket.accept()
        await websocket.send_text(user)
        await websocket.close()

    client = TestClient(app)
    assert client.get("/me?tenant=1").status_code == 422  # no token
    app.dependency_overrides[current_user] = lambda: "stub"
    assert client.get("/me?tenant=1").json() == ["stub", 1]
    # What the handler itself declares is still read and checked.
    assert client.get("/me").json()["detail"][0]["loc"] == ["query", "tenant"]
    assert client.get("/me?tenant=x").status_code == 422
    with client.websocket_connect("/ws") as socket:
        assert socket.receive_text() == "stub"
    assert ran == []
    # Overriding the sub-dependency only: the user's own parameters are read again.
    app.dependency_overrides.clear()
    app.dependency_overrides[token_scheme] = lambda: "fake token"
    assert client.get("/me").json()["detail"][0]["loc"] == ["query", "tenant"]
    assert client.get("/me?tenant=2").json() == ["user of fake token in 2", 2]
    app.dependency_overrides.clear()
    reply = client.get("/me?tenant=2", headers={"authorization": "real"})
    assert reply.json() == ["user of real in 2", 2]


@pytest.mark.parametrize("swap", ["generator_for_function", "function_for_generator"])
def test_overrides_swap_generators_and_functions(swap: str) -> None:
    log: list[str] = []

    async def real_generator() -> AsyncIterator[str]:
        log.append("real enter")
        yield "real"
        log.append("real exit")

    def real_function() -> str:
        return "real"

    def fake_generator() -> Iterator[str]:
        log.append("fake enter")
        try:
            yield "fake"
        finally:
            log.append("fake exit")

    original = real_function if swap == "generator_for_function" else real_generator
    replacement = fake_generator if swap == "generator_for_function" else (lambda: "fake")
    app = Bare()

    @app.get("/")
    async def handler(value: str = Depends(original)) -> str:
        log.append(f"handler {value}")
        return value

    app.dependency_overrides[original] = replacement
    assert TestClient(app).get("/").text == "fake"
    if swap == "generator_for_function":
        assert log == ["fake enter", "handler fake", "fake exit"]
    else:
        assert log == ["handler fake"]


def test_partials_and_callable_instances_as_dependencies() -> None:
    import functools

    log: list[str] = []

    async def scoped_session(name: str, q: str = "") -> AsyncIterator[str]:
        log.append(f"open {name}")
        yield f"{name}:{q}"
        log.append(f"close {name}")

    def numbered(start: int) -> Iterator[int]:
        yield start

    class Checker:
        def __init__(self, word: str) -> None:
            self.word = word

        async def __call__(self, q: str = "") -> bool:
            return self.word in q

    class Counter:
        def __call__(self) -> Iterator[int]:
            yield 7

    app = Bare()

    @app.get("/")
    async def handler(
        session: str = Depends(functools.partial(scoped_session, "db")),
        number: int = Depends(functools.partial(numbered, 3)),
        found: bool = Depends(Checker("x")),
        counted: int = Depends(Counter()),
    ) -> Any:
        return [session, number, found, counted]

    assert TestClient(app).get("/?q=xy").json() == ["db:xy", 3, True, 7]
    assert log == ["open db", "close db"]


def test_an_unhashable_dependency_is_refused_at_registration() -> None:
    import dataclasses

    @dataclasses.dataclass
    class Checker:  # eq=True: instances cannot be hashed
        word: str

        def __call__(self, q: str = "") -> bool:
            return self.word in q

    app = Bare()
    with pytest.raises(TypeError, match=r"parameter 'found'.*cannot be hashed.*frozen=True"):

        @app.get("/")
        async def handler(found: bool = Depends(Checker("x"))) -> Any:
            return found

    @dataclasses.dataclass(frozen=True)
    class Frozen:
        word: str

        def __call__(self, q: str = "") -> bool:
            return self.word in q

    @app.get("/frozen")
    async def frozen(found: bool = Depends(Frozen("x"))) -> Any:
        return found

    assert TestClient(app).get("/frozen?q=x").json() is True


def test_a_generator_dependency_that_raises_before_its_yield() -> None:
    log: list[str] = []

    async def refuse_async() -> AsyncIterator[str]:
        log.append("async")
        raise HTTPException(403, "no entry")
        yield "never"  # pragma: no cover

    def refuse_sync() -> Iterator[str]:
        log.append("sync")
        raise HTTPException(409, "busy")
        yield "never"  # pragma: no cover

    def broken() -> Iterator[str]:
        raise ValueError("bug")
        yield "never"  # pragma: no cover

    app = Bare()

    @app.get("/async")
    async def a(value: str = Depends(refuse_async)) -> str:
        return value

    @app.get("/sync")
    async def s(value: str = Depends(refuse_sync)) -> str:
        return value

    @app.get("/broken")
    async def b(value: str = Depends(broken)) -> str:
        return value

    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/async").json() == {"detail": "no entry"}
    assert client.get("/sync").status_code == 409
    assert client.get("/broken").status_code == 500
    assert log == ["async", "sync"]
