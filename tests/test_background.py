"""Background tasks: `background=` on every response class and
`request.add_background_task`, run once the response has gone out, in order, each on its
own; failures logged with the request they followed, never sent nor raised."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bare import (
    Bare,
    FileResponse,
    HTMLResponse,
    HTTPException,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Request,
    Response,
    StreamingResponse,
)
from bare.background import BackgroundTask, BackgroundTasks
from bare.middleware.request_id import RequestIdMiddleware
from bare.sse import EventSourceResponse
from bare.testing import TestClient
from bare.types import Message
from raw_asgi import PATHSEND, RawClient, http_scope

Log = list[str]


class _LoggingClient(RawClient):
    """A client that stays until the app is done, and writes what it is sent into `log`,
    as the tasks do."""

    def __init__(self, log: Log) -> None:
        super().__init__()
        self.log = log

    async def send(self, message: Message) -> None:
        await super().send(message)
        if message["type"] == "http.response.start":
            self.log.append(f"start {message['status']}")
        elif not message.get("more_body", False):
            self.log.append("end")


def _send_and_task_order(app: Any, path: str, log: Log, method: str = "GET") -> None:
    """Serve one request with a `send` that writes into `log` as the tasks do."""
    _LoggingClient(log).run(app, http_scope(path, method, spec_version="2.4"))


# -- every response class runs its background, after its last message ----------------------


def _template(task: BackgroundTask, rendered_when_sent: bool = False) -> Response:
    jinja2 = pytest.importorskip("jinja2")
    from bare.templating import TemplateResponse

    env = jinja2.Environment(
        loader=jinja2.DictLoader({"page.html": "<p>hi</p>"}),
        autoescape=True,
        enable_async=rendered_when_sent,
    )
    return TemplateResponse(env.get_template("page.html"), {}, background=task)


def _file(tmp: Path) -> Path:
    path = tmp / "f.txt"
    path.write_bytes(b"file body")
    return path


async def _chunks() -> AsyncIterator[bytes]:
    yield b"a"
    yield b"b"


RESPONSES: dict[str, Callable[[BackgroundTask, Path], Response]] = {
    "response": lambda task, tmp: Response(b"x", background=task),
    "positional": lambda task, tmp: Response(b"x", 200, None, ..., background=task),
    "plain": lambda task, tmp: PlainTextResponse("x", background=task),
    "html": lambda task, tmp: HTMLResponse("<p>x</p>", background=task),
    "json": lambda task, tmp: JSONResponse({"a": 1}, background=task),
    "redirect": lambda task, tmp: RedirectResponse("/elsewhere", background=task),
    "streaming": lambda task, tmp: StreamingResponse(_chunks(), background=task),
    "sync_streaming": lambda task, tmp: StreamingResponse(iter([b"a", b"b"]), background=task),
    "file": lambda task, tmp: FileResponse(_file(tmp), background=task),
    "template": lambda task, tmp: _template(task),
    "async_template": lambda task, tmp: _template(task, rendered_when_sent=True),
    "event_stream": lambda task, tmp: EventSourceResponse(iter(["one"]), background=task),
}


@pytest.mark.parametrize("kind", list(RESPONSES))
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_every_response_runs_its_background_once_after_it_is_sent(
    kind: str, method: str, tmp_path: Path
) -> None:
    log: Log = []
    app = Bare()

    @app.route("/", methods=["GET", "HEAD"])
    async def handler(request: Request) -> Response:
        return RESPONSES[kind](BackgroundTask(log.append, "task"), tmp_path)

    _send_and_task_order(app, "/", log, method)
    assert log[-2:] == ["end", "task"]
    assert log.count("task") == 1


class _OwnCall(Response):
    """A response with a `__call__` of its own that knows nothing of `background`."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"own"})


def test_bare_runs_the_background_of_a_response_whose_call_does_not() -> None:
    log: Log = []
    app = Bare()

    @app.get("/")
    async def handler(request: Request) -> Response:
        return _OwnCall(background=BackgroundTask(log.append, "task"))

    _send_and_task_order(app, "/", log)
    assert log == ["start 200", "end", "task"]


def test_a_response_sent_as_an_asgi_app_runs_its_background() -> None:
    log: Log = []
    response = PlainTextResponse("hi", background=BackgroundTask(log.append, "task"))
    _send_and_task_order(response, "/", log)
    assert log == ["start 200", "end", "task"]


# -- how tasks run ------------------------------------------------------------------------


def test_sync_tasks_run_in_a_worker_thread_and_async_ones_on_the_loop() -> None:
    threads: dict[str, int] = {}
    app = Bare()

    def blocking(name: str) -> None:
        threads[name] = threading.get_ident()

    async def awaited(name: str, *, suffix: str) -> None:
        threads[name + suffix] = threading.get_ident()

    @app.get("/")
    async def handler(request: Request) -> Response:
        threads["loop"] = threading.get_ident()
        tasks = BackgroundTasks()
        tasks.add_task(blocking, "sync")
        tasks.add_task(awaited, "async", suffix="!")
        return Response(b"", background=tasks)

    assert TestClient(app).get("/").status_code == 200
    assert threads["async!"] == threads["loop"]
    assert threads["sync"] != threads["loop"]


def test_tasks_run_in_order_the_responses_before_the_requests() -> None:
    log: Log = []
    app = Bare()

    @app.get("/")
    async def handler(request: Request) -> Response:
        request.add_background_task(log.append, "request 1")
        tasks = BackgroundTasks([BackgroundTask(log.append, "response 1")])
        tasks.add_task(log.append, "response 2")
        request.add_background_task(log.append, "request 2")
        return Response(b"", background=tasks)

    _send_and_task_order(app, "/", log)
    assert log == ["start 200", "end", "response 1", "response 2", "request 1", "request 2"]


@pytest.mark.parametrize(
    "result",
    ["text", {"a": 1}, [1, 2], b"bytes", None, 42, "response", "stream", "file"],
    ids=["str", "dict", "list", "bytes", "none", "int", "response", "stream", "file"],
)
def test_request_tasks_run_whatever_the_handler_returns(result: Any, tmp_path: Path) -> None:
    log: Log = []
    app = Bare()

    @app.get("/")
    def handler(request: Request) -> Any:  # a sync handler: tasks added from its thread
        request.add_background_task(log.append, "task")
        if result == "response":
            return JSONResponse({"a": 1})
        if result == "stream":
            return StreamingResponse(iter([b"a", b"b"]))
        if result == "file":
            return FileResponse(_file(tmp_path))
        return result

    _send_and_task_order(app, "/", log)
    assert log == ["start 200", "end", "task"]


def test_nested_task_lists_and_tasks_that_add_tasks_all_run() -> None:
    log: Log = []
    app = Bare()

    @app.get("/")
    async def handler(request: Request) -> Response:
        def later() -> None:
            log.append("added by a task")

        async def first() -> None:
            log.append("first")
            request.add_background_task(later)

        request.add_background_task(first)
        inner = BackgroundTasks([BackgroundTask(log.append, "inner")])
        return Response(b"", background=BackgroundTasks([inner, BackgroundTask(log.append, "2")]))

    _send_and_task_order(app, "/", log)
    assert log == ["start 200", "end", "inner", "2", "first", "added by a task"]


def test_deeply_nested_task_lists_run_without_recursion() -> None:
    log: Log = []
    tasks = BackgroundTasks([BackgroundTask(log.append, "deep")])
    for _ in range(5000):
        tasks = BackgroundTasks([tasks])
    asyncio.run(tasks())
    assert log == ["deep"]
    assert "BackgroundTasks" in repr(BackgroundTasks([BackgroundTask(log.append)]))


def test_another_frameworks_task_is_awaited_as_it_is() -> None:
    log: Log = []

    class Foreign:  # what a Starlette BackgroundTask looks like to bare
        async def __call__(self) -> None:
            log.append("foreign")

    app = Bare()

    @app.get("/")
    async def handler(request: Request) -> Response:
        return Response(b"", background=Foreign())  # type: ignore[arg-type]

    _send_and_task_order(app, "/", log)
    assert log == ["start 200", "end", "foreign"]


def test_a_task_may_take_a_keyword_named_func() -> None:
    seen: dict[str, Any] = {}

    def register(*, func: str) -> None:
        seen["func"] = func

    tasks = BackgroundTasks()
    tasks.add_task(register, func="welcome")
    asyncio.run(tasks())
    asyncio.run(BackgroundTask(register, func="again")())
    assert seen == {"func": "again"}


def test_a_task_awaited_directly_raises() -> None:
    def boom() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        asyncio.run(BackgroundTask(boom)())


# -- failures -------------------------------------------------------------------------------


def _failing() -> None:
    raise RuntimeError("the mail server is down")


async def _failing_async() -> None:
    raise KeyError("gone")


def test_a_failing_task_is_logged_with_the_request_and_the_next_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: Log = []
    app = Bare()
    app.add_middleware(RequestIdMiddleware)

    @app.get("/signup")
    async def signup(request: Request) -> Response:
        request.add_background_task(_failing_async)
        request.add_background_task(log.append, "after the request's failure")
        tasks = BackgroundTasks()
        tasks.add_task(_failing)
        tasks.add_task(log.append, "after the response's failure")
        return PlainTextResponse("welcome", background=tasks)

    with caplog.at_level(logging.ERROR, logger="bare.background"):
        response = TestClient(app).get("/signup", headers={"x-request-id": "abc-123"})
    assert response.status_code == 200 and response.text == "welcome"
    assert log == ["after the response's failure", "after the request's failure"]
    records = [r for r in caplog.records if r.name == "bare.background"]
    assert len(records) == 2
    first, second = records
    assert "_failing" in first.getMessage() and "GET '/signup'" in first.getMessage()
    assert "'abc-123'" in first.getMessage()
    assert first.exc_info is not None and isinstance(first.exc_info[1], RuntimeError)
    assert (first.method, first.path, first.request_id) == ("GET", "/signup", "abc-123")  # type: ignore[attr-defined]
    assert second.exc_info is not None and isinstance(second.exc_info[1], KeyError)


def test_a_failing_task_is_not_raised_to_the_server(caplog: pytest.LogCaptureFixture) -> None:
    app = Bare()

    @app.get("/")
    async def handler(request: Request) -> dict[str, int]:
        request.add_background_task(_failing)
        return {"ok": 1}

    log: Log = []
    with caplog.at_level(logging.ERROR, logger="bare.background"):
        _send_and_task_order(app, "/", log)  # would raise if the error reached the server
    assert log == ["start 200", "end"]
    assert "request id None" in caplog.records[-1].getMessage()


def test_a_hostile_path_cannot_forge_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    app = Bare()

    @app.get("/{rest:path}")
    async def handler(request: Request) -> str:
        request.add_background_task(_failing)
        return ""

    with caplog.at_level(logging.ERROR, logger="bare.background"):
        _send_and_task_order(app, "/a\nERROR forged\x1b[2J", [])
    message = caplog.records[-1].getMessage()
    assert "\n" not in message and "\x1b" not in message
    assert "\\nERROR forged" in message


def test_a_failing_task_of_a_lone_task_list_is_logged_without_a_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: Log = []
    tasks = BackgroundTasks([BackgroundTask(_failing), BackgroundTask(log.append, "next")])
    with caplog.at_level(logging.ERROR, logger="bare.background"):
        asyncio.run(tasks())
    assert log == ["next"]
    assert caplog.records[-1].getMessage() == "background task _failing failed"


# -- when tasks do not run ------------------------------------------------------------------


def test_tasks_do_not_run_when_the_handler_raises() -> None:
    log: Log = []
    app = Bare()

    @app.get("/")
    async def handler(request: Request) -> None:
        request.add_background_task(log.append, "task")
        raise HTTPException(409)

    _send_and_task_order(app, "/", log)
    assert log == ["start 409", "end"]


def test_an_error_responses_own_background_runs() -> None:
    log: Log = []
    app = Bare()

    @app.exception_handler(409)
    async def conflict(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("conflict", 409, background=BackgroundTask(log.append, "error"))

    @app.get("/")
    async def handler(request: Request) -> None:
        request.add_background_task(log.append, "handler's")
        raise HTTPException(409)

    _send_and_task_order(app, "/", log)
    assert log == ["start 409", "end", "error"]


def _serve_to_a_client_that_left(app: Any, spec_version: str, fail_on: str) -> None:
    """A request whose `send` raises OSError at the first message of kind `fail_on`."""
    client = RawClient(chunks=())  # no body: receive() waits for the client to leave

    async def send(message: Message) -> None:
        if message["type"] == fail_on and message.get("more_body", True):
            client.leave.set()
            raise OSError("the client left")

    # A response sent in one piece lets the server see the failure.
    with contextlib.suppress(OSError):
        asyncio.run(app(http_scope(spec_version=spec_version), client.receive, send))


@pytest.mark.parametrize("spec_version", ["2.4", "2.0"])
@pytest.mark.parametrize("fail_on", ["http.response.start", "http.response.body"])
@pytest.mark.parametrize("kind", ["dict", "response", "stream"])
def test_tasks_do_not_run_when_the_response_could_not_be_sent(
    spec_version: str, fail_on: str, kind: str
) -> None:
    log: Log = []
    app = Bare()

    def chunks() -> Iterator[bytes]:
        yield b"a"
        yield b"b"

    @app.get("/")
    async def handler(request: Request) -> Any:
        request.add_background_task(log.append, "request's")
        task = BackgroundTask(log.append, "response's")
        if kind == "response":
            return Response(b"x", background=task)
        if kind == "stream":
            return StreamingResponse(chunks(), background=task)
        return {"a": 1}

    _serve_to_a_client_that_left(app, spec_version, fail_on)
    assert log == []


def test_a_stream_left_by_its_client_runs_no_tasks() -> None:
    log: Log = []
    release = threading.Event()
    app = Bare()

    def endless() -> Iterator[bytes]:
        try:
            while True:
                yield b"tick\n"
        finally:
            release.set()

    @app.get("/")
    async def handler(request: Request) -> StreamingResponse:
        request.add_background_task(log.append, "request's")
        return StreamingResponse(endless(), background=BackgroundTask(log.append, "response's"))

    client = TestClient(app)
    with client.stream("GET", "/") as response:
        assert next(response.iter_bytes()).startswith(b"tick")
    assert release.wait(10)
    assert log == []


def test_tasks_added_while_a_stream_is_sent_run_when_it_ends() -> None:
    log: Log = []
    app = Bare()

    @app.get("/")
    async def handler(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"a"
            request.add_background_task(log.append, "added while streaming")

        return StreamingResponse(chunks())

    _send_and_task_order(app, "/", log)
    assert log == ["start 200", "end", "added while streaming"]


# -- mistakes refused where they are made ---------------------------------------------------


def test_mistakes_are_refused_when_made() -> None:
    with pytest.raises(TypeError, match="a background task runs a function"):
        BackgroundTask("not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"wrap it, BackgroundTask\(_failing, \*args\)"):
        Response(b"", background=_failing)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"background= takes a bare\.background\.BackgroundTask"):
        JSONResponse({}, background="later")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="BackgroundTasks holds BackgroundTask objects"):
        BackgroundTasks([_failing])  # type: ignore[list-item]
    assert repr(BackgroundTask(_failing)) == "<BackgroundTask _failing>"


# -- what it costs a handler that does not use it --------------------------------------------


def test_handlers_without_tasks_load_nothing_for_them() -> None:
    script = (
        "import sys; sys.modules['orjson'] = None\n"
        "from bare import Bare, JSONResponse\n"
        "from bare.testing import TestClient\n"
        "app = Bare()\n"
        "app.add_route('/s', lambda r: 'text')\n"
        "app.add_route('/d', lambda r: {'a': 1})\n"
        "app.add_route('/r', lambda r: JSONResponse([1]))\n"
        "client = TestClient(app)\n"
        "assert [client.get(p).status_code for p in ('/s', '/d', '/r')] == [200] * 3\n"
        "import json; print(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(result.stdout.splitlines()[-1]))
    assert "bare.background" not in loaded
    assert "bare._conditional" not in loaded


# -- uploaded files are closed last (request.form()) -----------------------------------------


def _multipart(name: str, content: bytes) -> tuple[bytes, str]:
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\ncontent-disposition: form-data; name="f"; filename="{name}"\r\n'
            "content-type: text/plain\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("outcome", ["sent", "raised"])
def test_uploaded_files_are_closed_after_the_tasks(outcome: str) -> None:
    pytest.importorskip("multipart")
    seen: dict[str, Any] = {}
    app = Bare()

    @app.post("/upload")
    async def upload(request: Request) -> Response:
        form = await request.form()
        file = form["f"]
        seen["file"] = file

        async def read_it() -> None:
            seen["closed in the task"] = file.file.closed  # type: ignore[union-attr]
            await file.seek(0)  # type: ignore[union-attr]
            seen["content"] = await file.read()  # type: ignore[union-attr]

        request.add_background_task(read_it)
        if outcome == "raised":
            raise HTTPException(400)
        return PlainTextResponse("stored", background=BackgroundTask(read_it))

    body, content_type = _multipart("a.txt", b"hello")
    client = TestClient(app)
    response = client.post("/upload", content=body, headers={"content-type": content_type})
    assert response.status_code == (200 if outcome == "sent" else 400)
    if outcome == "sent":
        assert seen["closed in the task"] is False and seen["content"] == b"hello"
    assert seen["file"].file.closed


def test_jinja2_templates_pass_background_on(tmp_path: Path) -> None:
    from bare.templating import Jinja2Templates

    (tmp_path / "page.html").write_text("<p>{{ word }}</p>")
    templates = Jinja2Templates(directory=tmp_path)
    ran: list[str] = []
    app = Bare()

    @app.get("/")
    async def page(request: Request) -> Any:
        task = BackgroundTask(ran.append, "rendered")
        return templates.TemplateResponse(request, "page.html", {"word": "hi"}, background=task)

    response = TestClient(app).get("/")
    assert (response.text, ran) == ("<p>hi</p>", ["rendered"])


@pytest.mark.parametrize("where", ["request", "response"])
def test_tasks_run_when_the_file_went_by_path(tmp_path: Path, where: str) -> None:
    # A server offering pathsend gets one message for the whole file: that is the end.
    ran: list[str] = []
    app = Bare()

    @app.get("/file")
    async def file(request: Request) -> FileResponse:
        task = BackgroundTask(ran.append, where)
        if where == "request":
            request.add_background_task(ran.append, where)
            return FileResponse(_file(tmp_path))
        return FileResponse(_file(tmp_path), background=task)

    client = RawClient(leave_when_done=True)
    client.run(app, http_scope("/file", extensions=PATHSEND))
    assert client.types() == ["http.response.start", "http.response.pathsend"]
    assert ran == [where]
