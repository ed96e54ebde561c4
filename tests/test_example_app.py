"""The example app's page, static files and SSE clock (examples/tasks.py, examples/clock.py),
in process and on a real uvicorn."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import examples.clock
import examples.tasks
import httpx
import pytest

from bare.sse import close_streams
from bare.testing import TestClient
from servers import ROOT, free_port, running, uvicorn, uvicorn_command

NET = 10  # a net for waits on threads and sockets; a healthy test never comes near it
STATIC = ROOT / "examples" / "static"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """A client of the example app, with an empty task store and a fast clock."""
    monkeypatch.setattr(examples.tasks, "tasks", {})
    monkeypatch.setattr(examples.clock, "INTERVAL", 0.001)
    yield TestClient(examples.tasks.app)
    assert examples.clock.watching == 0  # every clock this test opened has ended


# -- static files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("app.css", "text/css; charset=utf-8"), ("clock.js", "text/javascript; charset=utf-8")],
    ids=["css", "js"],
)
def test_static_files_are_served_with_their_type_and_validators(
    client: TestClient, name: str, content_type: str
) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 200
    assert response.content == (STATIC / name).read_bytes()
    assert response.headers["content-type"] == content_type
    assert response.headers["cache-control"] == "no-cache"
    etag = response.headers["etag"]
    assert re.fullmatch(r'"[^"]+"', etag)  # strong

    again = client.get(f"/static/{name}", headers={"if-none-match": etag})
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["etag"] == etag
    changed = client.get(f"/static/{name}", headers={"if-none-match": '"other"'})
    assert changed.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/static/../tasks.py",
        "/static/%2e%2e/tasks.py",
        "/static/..%2Ftasks.py",
        "/static/%252e%252e/tasks.py",
        "/static//etc/passwd",
        "/static/..\\tasks.py",
        "/static/app.css%00",
        "/static/app.css/",
        "/static/",
        "/static/" + "a" * 300,
    ],
    ids=["dotdot", "encoded", "slash", "double", "absolute", "backslash", "nul", "trailing",
         "root", "long"],
)  # fmt: skip
def test_nothing_outside_the_static_folder_is_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_only_get_and_head_reach_the_static_files(client: TestClient) -> None:
    assert client.head("/static/app.css").content == b""
    refused = client.post("/static/app.css")
    assert (refused.status_code, refused.headers["allow"]) == (405, "GET, HEAD")


def test_the_folders_are_found_from_the_module_not_the_working_directory(
    tmp_path: Path,
) -> None:
    code = (
        "from bare.testing import TestClient\n"
        "from examples.tasks import app\n"
        "client = TestClient(app)\n"
        "print(client.get('/static/app.css').status_code, client.get('/').status_code)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stdout.split()) == (0, ["200", "200"]), done.stderr


# -- the page ----------------------------------------------------------------------------


def test_the_page_links_its_files_and_its_clock(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    text = page.text
    assert '<link rel="stylesheet" href="http://testserver/static/app.css">' in text
    assert '<script src="http://testserver/static/clock.js" defer></script>' in text
    assert 'data-src="http://testserver/clock"' in text
    assert "<li>No tasks yet.</li>" in text
    assert "Bare Framework" in text


def test_the_page_keeps_the_root_path_of_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(examples.tasks, "tasks", {})
    text = TestClient(examples.tasks.app, root_path="/site").get("/").text
    assert 'href="http://testserver/site/static/app.css"' in text
    assert 'data-src="http://testserver/site/clock"' in text


@pytest.mark.parametrize(
    ("title", "escaped"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ('"><img src=x onerror=alert(1)>', "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"),
        ("Tom & Jerry's {{ 7 * 7 }}", "Tom &amp; Jerry&#39;s {{ 7 * 7 }}"),
    ],
    ids=["script", "attribute", "braces"],
)
def test_the_page_escapes_task_titles(client: TestClient, title: str, escaped: str) -> None:
    created = client.post("/tasks", json={"title": title}).json()
    client.patch(f"/tasks/{created['id']}", json={"done": True})
    text = client.get("/").text
    link = f"http://testserver/tasks/{created['id']}"
    assert f'<li class="done"><a href="{link}">{escaped}</a> (done)</li>' in text
    assert title not in text
    assert "No tasks yet" not in text


def test_a_bad_host_header_is_a_400_not_a_broken_link(client: TestClient) -> None:
    response = client.get("/", headers={"host": "evil.example/path"})
    assert (response.status_code, response.json()) == (400, {"detail": "Invalid Host header"})


# -- the clock ---------------------------------------------------------------------------


def tick(event: Any) -> dict[str, Any]:
    """The data of a tick event, checked: the time in UTC to the second, and a count."""
    assert event.event == "tick"
    data: dict[str, Any] = json.loads(event.data)
    assert set(data) == {"time", "watching"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", data["time"])
    assert type(data["watching"]) is int
    return data


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def test_the_clock_ticks_with_increasing_ids_and_ends_when_the_client_leaves(
    client: TestClient,
) -> None:
    before = now()
    with client.stream("GET", "/clock") as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert response.headers["cache-control"] == "no-store"
        events = response.iter_events()
        first, second = next(events), next(events)
        assert (first.id, second.id) == ("1", "2")
        assert tick(first)["watching"] == tick(second)["watching"] == 1
        assert before <= datetime.fromisoformat(tick(first)["time"]) <= now()
        assert examples.clock.watching == 1
    assert examples.clock.watching == 0  # leaving the block waited for the generator's finally


def test_two_clocks_count_each_other(client: TestClient) -> None:
    with client.stream("GET", "/clock") as one:
        assert tick(next(one.iter_events()))["watching"] == 1
        with client.stream("GET", "/clock") as two:
            assert tick(next(two.iter_events()))["watching"] == 2
        assert examples.clock.watching == 1


def test_a_reconnecting_browser_resumes_after_its_last_event_id(client: TestClient) -> None:
    with client.stream("GET", "/clock", headers={"last-event-id": "41"}) as response:
        events = response.iter_events()
        assert [next(events).id, next(events).id] == ["42", "43"]


@pytest.mark.parametrize(
    "given",
    ["", "abc", "-5", "+5", "7 8", "1.5", "0x10", "²", "٣", "9" * 19, "9" * 5000, "1\t2"],
    ids=["empty", "letters", "negative", "plus", "space", "float", "hex", "superscript",
         "arabic", "long", "huge", "tab"],
)  # fmt: skip
def test_a_last_event_id_that_is_not_ours_starts_again_from_one(
    client: TestClient, given: str
) -> None:
    headers = {"last-event-id": given.encode("utf-8").decode("latin-1")}
    with client.stream("GET", "/clock", headers=headers) as response:
        assert response.status_code == 200
        assert next(response.iter_events()).id == "1"


def test_the_longest_last_event_id_is_taken(client: TestClient) -> None:
    with client.stream("GET", "/clock", headers={"last-event-id": "9" * 18}) as response:
        assert next(response.iter_events()).id == "1" + "0" * 18


def test_the_clock_pings_between_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(examples.clock, "INTERVAL", 3600)  # no second tick in this test
    monkeypatch.setattr(examples.clock, "PING", 0.001)
    with TestClient(examples.tasks.app).stream("GET", "/clock") as response:
        lines = response.iter_lines()
        assert [next(lines) for _ in range(2)] == ["event: tick", "id: 1"]
        assert next(lines).startswith("data: ")
        assert [next(lines), next(lines)] == ["", ": ping"]
    assert examples.clock.watching == 0


def test_close_streams_ends_the_clock(client: TestClient) -> None:
    with client.stream("GET", "/clock") as response:
        events = response.iter_events()
        assert next(events).id == "1"
        assert close_streams() == 1
        assert len(list(itertools.islice(events, 100))) < 100  # the body ended
        assert examples.clock.watching == 0


# -- ending the clocks on SIGINT and SIGTERM ---------------------------------------------


@pytest.fixture
def handlers() -> Iterator[list[int]]:
    """Fake server handlers on SIGINT and SIGTERM, recording the signals; put back after."""
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    received: list[int] = []
    try:
        for number in saved:
            signal.signal(number, lambda signum, frame: received.append(signum))
        yield received
    finally:
        examples.clock.restore_signal_handlers()
        for number, handler in saved.items():
            signal.signal(number, handler)


def test_a_signal_ends_the_clocks_then_reaches_the_servers_handler(
    client: TestClient, handlers: list[int]
) -> None:
    servers = signal.getsignal(signal.SIGTERM)
    examples.clock.end_streams_on_signals()
    ours = signal.getsignal(signal.SIGTERM)
    assert callable(ours) and ours is not servers
    examples.clock.end_streams_on_signals()  # a second start does not chain twice
    assert signal.getsignal(signal.SIGTERM) is ours
    with client.stream("GET", "/clock") as response:
        events = response.iter_events()
        assert next(events).id == "1"
        ours(signal.SIGTERM, None)  # as Python calls a handler when the signal comes
        assert len(list(itertools.islice(events, 100))) < 100
        assert examples.clock.watching == 0
    assert handlers == [signal.SIGTERM]
    examples.clock.restore_signal_handlers()
    assert signal.getsignal(signal.SIGTERM) is servers
    assert signal.getsignal(signal.SIGINT) is not ours


def test_a_handler_set_over_ours_is_left_in_place(handlers: list[int]) -> None:
    examples.clock.end_streams_on_signals()

    def later(signum: int, frame: Any) -> None:
        pass

    signal.signal(signal.SIGINT, later)
    examples.clock.restore_signal_handlers()
    assert signal.getsignal(signal.SIGINT) is later


def test_default_and_ignored_signals_are_left_alone() -> None:
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        examples.clock.end_streams_on_signals()
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    finally:
        examples.clock.restore_signal_handlers()
        for number, handler in saved.items():
            signal.signal(number, handler)


def test_off_the_main_thread_no_handler_is_touched(handlers: list[int]) -> None:
    before = signal.getsignal(signal.SIGTERM)
    with TestClient(examples.tasks.app) as client:  # its lifespan runs in the client's thread
        assert client.get("/static/app.css").status_code == 200
        assert signal.getsignal(signal.SIGTERM) is before
    errors: list[BaseException] = []

    def start() -> None:
        try:
            examples.clock.end_streams_on_signals()
        except BaseException as exc:  # pragma: no cover - the failure this test looks for
            errors.append(exc)

    thread = threading.Thread(target=start)
    thread.start()
    thread.join(NET)
    assert errors == []
    assert signal.getsignal(signal.SIGTERM) is before


# -- on a real server --------------------------------------------------------------------


@pytest.fixture(scope="module")
def tasks_server() -> Iterator[str]:
    yield from uvicorn("examples.tasks:app")


def test_real_server_serves_the_page_its_files_and_the_clock(tasks_server: str) -> None:
    with httpx.Client(base_url=f"http://{tasks_server}", timeout=NET) as client:
        page = client.get("/")
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        found = re.search(r'<link rel="stylesheet" href="([^"]+)">', page.text)
        assert found is not None
        assert found[1] == f"http://{tasks_server}/static/app.css"
        css = client.get(found[1])
        assert (css.status_code, css.content) == (200, (STATIC / "app.css").read_bytes())
        assert css.headers["content-type"] == "text/css; charset=utf-8"
        cached = client.get(found[1], headers={"if-none-match": css.headers["etag"]})
        assert (cached.status_code, cached.content) == (304, b"")

        clock = re.search(r'data-src="([^"]+)"', page.text)
        assert clock is not None
        with client.stream("GET", clock[1], headers={"last-event-id": "7"}) as response:
            assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
            lines = response.iter_lines()
            for number in (8, 9):
                assert [next(lines), next(lines)] == ["event: tick", f"id: {number}"]
                data = next(lines)
                assert data.startswith('data: {"time":"') and data.endswith('","watching":1}')
                assert next(lines) == ""


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"], ids=["sigint", "sigterm"])
def test_real_server_stops_at_once_with_a_clock_open(name: str) -> None:
    port = free_port()
    command = uvicorn_command("examples.tasks:app", port, "--no-access-log")
    for server in running(command, port):
        with (
            httpx.Client(base_url=f"http://{server.address}", timeout=NET) as client,
            client.stream("GET", "/clock") as response,
        ):
            lines = response.iter_lines()
            assert [next(lines), next(lines)] == ["event: tick", "id: 1"]
            server.process.send_signal(getattr(signal, name))
            # The clock ends and the response completes (a cut one would raise here); a
            # clock the signal did not end would tick on past this count.
            rest = list(itertools.islice(lines, 12))
            assert len(rest) < 12, rest
        server.process.wait(NET)
    assert "App stopping. Cleaning up." in server.output()  # a graceful stop, hooks and all
