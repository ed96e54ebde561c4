"""The example app's page, upload form, static files and SSE clock (examples/tasks.py,
examples/clock.py), in process and on a real uvicorn."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import subprocess
import sys
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
    assert client.post("/static/app.css").status_code == 403  # CSRFMiddleware, first
    token = {"x-csrf-token": client.cookies["csrftoken"]}
    refused = client.post("/static/app.css", headers=token)
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


# -- the "new task" form: an upload, CSRF, Post/Redirect/Get ------------------------------

FILE_LIMIT = examples.tasks.ATTACHMENT_LIMIT
BODY_LIMIT = FILE_LIMIT + 16 * 1024


def form_token(page: str) -> str:
    """The CSRF token of the page's form, as a browser would send it back."""
    found = re.search(r'<input type="hidden" name="csrf_token" value="([^"]+)">', page)
    assert found is not None, "the page has no CSRF field"
    return found[1]


@pytest.fixture
def token(client: TestClient) -> str:
    """The token of the form on the page (the client keeps its cookie)."""
    return form_token(client.get("/").text)


def post_form(client: TestClient, fields: dict[str, Any], **options: Any) -> Any:
    return client.post("/new-task", data=fields, **options)


def stored() -> list[dict[str, Any]]:
    return list(examples.tasks.tasks.values())


def test_the_page_has_the_upload_form(client: TestClient) -> None:
    page = client.get("/")
    assert form_token(page.text) == client.cookies["csrftoken"]
    assert "Cookie" in page.headers.get_list("vary")
    text = page.text
    assert '<form class="new-task" method="post" action="http://testserver/new-task"' in text
    assert 'enctype="multipart/form-data"' in text
    # The token is the form's first field: CSRFMiddleware reads it there in a multipart body.
    form = text[text.index('<form class="new-task"') :]
    assert form.index('<input type="hidden" name="csrf_token"') < form.index("<input name=")
    assert '<input type="file" name="attachment">' in text
    assert f"up to {FILE_LIMIT // 1024} KiB" in text


def test_a_form_with_a_file_redirects_to_the_page_that_lists_it(
    client: TestClient, token: str
) -> None:
    fields = {"csrf_token": token, "title": "  Read the RFC "}
    files = {"attachment": ("notes.txt", b"hello", "text/plain")}
    answer = post_form(client, fields, files=files)
    assert (answer.status_code, answer.content) == (303, b"")
    assert answer.headers["location"] == "http://testserver/"
    [task] = stored()
    assert task["title"] == "Read the RFC"
    assert task["attachment"] == {"name": "notes.txt", "size": 5, "type": "text/plain"}
    assert set(task) == {"id", "title", "done", "attachment"}  # the bytes are not kept

    page = client.get(answer.headers["location"])
    link = f"http://testserver/tasks/{task['id']}"
    assert f'<li><a href="{link}">Read the RFC</a>' in page.text
    assert '<span class="attachment">notes.txt (5 bytes, text/plain)</span></li>' in page.text
    assert "No tasks yet" not in page.text
    assert client.get("/tasks").json()[0]["attachment"]["name"] == "notes.txt"


def test_following_the_redirect_gets_the_page(client: TestClient, token: str) -> None:
    files = {"attachment": ("a.bin", b"\x00\xff")}
    page = post_form(
        client, {"csrf_token": token, "title": "t"}, files=files, follow_redirects=True
    )
    assert (page.status_code, str(page.url)) == (200, "http://testserver/")
    assert "a.bin (2 bytes, application/octet-stream)" in page.text


@pytest.mark.parametrize(
    "files",
    [{"attachment": ("", b"", "application/octet-stream")}, None],
    ids=["no_file_chosen", "urlencoded"],
)
def test_the_attachment_is_optional(
    client: TestClient, token: str, files: dict[str, Any] | None
) -> None:
    # With no file chosen, a browser sends the file part with an empty name and no bytes.
    answer = post_form(client, {"csrf_token": token, "title": "plain"}, files=files)
    assert answer.status_code == 303
    [task] = stored()
    assert (task["title"], "attachment" in task) == ("plain", False)
    assert 'class="attachment"' not in client.get("/").text


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("/abs/path/key.pem", "key.pem"),
        ("..", "upload"),
        ("evil\x1b[31m\x07.txt", "evil[31m.txt"),
        ("line\r\nbreak.txt", "linebreak.txt"),
        ("photo\u202egpj.exe", "photogpj.exe"),
        ("NUL.txt", "_NUL.txt"),
        ('a"b<c>.txt', "a_b_c_.txt"),
        ("x" * 400 + ".txt", "x" * 251 + ".txt"),
    ],
    ids=["dotdot", "windows", "absolute", "only_dots", "controls", "crlf", "bidi", "device",
         "quotes", "long"],
)  # fmt: skip
def test_a_hostile_file_name_is_stored_and_shown_safe(
    client: TestClient, token: str, sent: str, kept: str
) -> None:
    files = {"attachment": (sent, b"data", "text/plain")}
    answer = post_form(client, {"csrf_token": token, "title": "t"}, files=files)
    assert answer.status_code == 303
    assert stored()[0]["attachment"]["name"] == kept
    page = client.get("/").text
    shown = kept.replace('"', "&#34;").replace("<", "&lt;").replace(">", "&gt;")
    assert f'<span class="attachment">{shown} (4 bytes, text/plain)</span>' in page


def test_the_page_escapes_what_the_form_stored(client: TestClient, token: str) -> None:
    files = {"attachment": ("<b>.txt", b"x", "text/html<script>")}
    fields = {"csrf_token": token, "title": "<script>alert(1)</script>"}
    assert post_form(client, fields, files=files).status_code == 303
    page = client.get("/").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;</a>" in page
    assert "_b_.txt (1 bytes, text/html&lt;script&gt;)" in page
    assert "<script>alert" not in page and "<b>" not in page


def test_a_file_at_the_limit_passes(client: TestClient, token: str) -> None:
    files = {"attachment": ("full.bin", b"x" * FILE_LIMIT)}
    assert post_form(client, {"csrf_token": token, "title": "t"}, files=files).status_code == 303
    assert stored()[0]["attachment"]["size"] == FILE_LIMIT


@pytest.mark.parametrize(
    ("size", "detail"),
    [
        (FILE_LIMIT + 1, f"File too large (max_file_size={FILE_LIMIT} bytes)"),
        (10 * FILE_LIMIT, f"Request body too large (limit {BODY_LIMIT} bytes)"),
    ],
    ids=["file_limit", "body_limit"],
)
def test_a_file_over_the_limit_is_a_413_naming_it(
    client: TestClient, token: str, size: int, detail: str
) -> None:
    files = {"attachment": ("big.bin", b"x" * size)}
    answer = post_form(client, {"csrf_token": token, "title": "t"}, files=files)
    assert (answer.status_code, answer.json()) == (413, {"detail": detail})
    assert stored() == []


@pytest.mark.parametrize(
    ("fields", "files", "status", "detail"),
    [
        ({}, None, 400, "title is required"),
        ({"title": ""}, None, 400, "title is required"),
        ({"title": " \t "}, None, 400, "title is required"),
        ({}, {"title": ("title.txt", b"a title")}, 400, "title is required"),
        ({"title": "x" * 1025}, None, 413, "Form field too large (max_part_size=1024 bytes)"),
        ({"title": "t", "extra": "x"}, None, 413, "Too many form fields (max_fields=2)"),
        (
            {"title": "t"},
            [("attachment", ("a.txt", b"a")), ("attachment", ("b.txt", b"b"))],
            413,
            "Too many files (max_files=1)",
        ),
    ],
    ids=["missing", "empty", "blank", "file_as_title", "long_title", "extra_field",
         "two_files"],
)  # fmt: skip
def test_a_bad_form_is_a_clear_4xx(
    client: TestClient, token: str, fields: dict[str, str], files: Any, status: int, detail: str
) -> None:
    answer = post_form(client, {"csrf_token": token, **fields}, files=files)
    assert (answer.status_code, answer.json()) == (status, {"detail": detail})
    assert stored() == []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"title": "t"}'),
        ("text/plain", b"title=t"),
        (None, b"title=t"),
    ],
    ids=["json", "text", "none"],
)
def test_a_body_that_is_not_a_form_is_a_415(
    client: TestClient, token: str, content_type: str | None, body: bytes
) -> None:
    headers = {"x-csrf-token": token}
    if content_type is not None:
        headers["content-type"] = content_type
    answer = client.post("/new-task", content=body, headers=headers)
    assert answer.status_code == 415
    assert answer.json() == {
        "detail": "Content-Type must be application/x-www-form-urlencoded or multipart/form-data"
    }
    assert stored() == []


def test_a_truncated_upload_is_a_400(client: TestClient, token: str) -> None:
    body = (
        b"--b\r\n"
        b'Content-Disposition: form-data; name="csrf_token"\r\n\r\n' + token.encode() + b"\r\n"
        b"--b\r\n"
        b'Content-Disposition: form-data; name="attachment"; filename="a.txt"\r\n\r\n'
        b"half a file"
    )
    headers = {"content-type": "multipart/form-data; boundary=b"}
    answer = client.post("/new-task", content=body, headers=headers)
    assert answer.status_code == 400
    assert answer.json() == {"detail": "Multipart body ended before its final boundary"}
    assert stored() == []


FIRST_FIELD = "CSRF token missing: a multipart form must send its csrf_token field first"


@pytest.mark.parametrize(
    ("sent", "detail"),
    [
        (None, FIRST_FIELD),
        ("", "CSRF token incorrect"),
        ("forged", "CSRF token incorrect"),
        ("x" * 66, "CSRF token incorrect"),
        ("é" * 33, "CSRF token incorrect"),
    ],
    ids=["missing", "empty", "forged", "same_length", "non_ascii"],
)
def test_a_form_without_the_cookies_token_is_a_403(
    client: TestClient, token: str, sent: str | None, detail: str
) -> None:
    # Refused by CSRFMiddleware, before the handler reads the form.
    fields = {"title": "forged"} if sent is None else {"csrf_token": sent, "title": "forged"}
    answer = post_form(client, fields, files={"attachment": ("a.txt", b"a")})
    assert (answer.status_code, answer.json()) == (403, {"detail": detail})
    assert stored() == []


def test_the_token_must_be_the_forms_first_field(client: TestClient, token: str) -> None:
    files = {"attachment": ("a.txt", b"a")}
    late = post_form(client, {"title": "late", "csrf_token": token}, files=files)
    assert (late.status_code, late.json()) == (403, {"detail": FIRST_FIELD})
    # A file first, as a form with the file input above the hidden one would send it.
    file_first = client.post(
        "/new-task",
        files=[("attachment", ("a.txt", b"a")), ("csrf_token", (None, token.encode()))],
    )
    assert (file_first.status_code, file_first.json()) == (403, {"detail": FIRST_FIELD})
    assert stored() == []
    # A urlencoded form may hold the token anywhere.
    assert post_form(client, {"title": "urlencoded", "csrf_token": token}).status_code == 303
    assert [task["title"] for task in stored()] == ["urlencoded"]


def test_a_token_without_its_cookie_is_a_403(client: TestClient, token: str) -> None:
    # Another site's page can post any token it has seen, but not with the victim's cookie.
    client.cookies.clear()
    answer = post_form(client, {"csrf_token": token, "title": "forged"})
    assert answer.status_code == 403
    client.cookies.set("csrftoken", "a" * 22 + "." + "b" * 43)  # not signed by us
    assert post_form(client, {"csrf_token": token, "title": "forged"}).status_code == 403
    assert stored() == []


def test_the_json_api_needs_no_token_but_other_posts_do(client: TestClient) -> None:
    created = client.post("/tasks", json={"title": "api"})
    assert created.status_code == 201
    task = created.json()
    assert client.patch(f"/tasks/{task['id']}", json={"done": True}).json()["done"] is True
    assert client.delete(f"/tasks/{task['id']}").status_code == 200
    assert client.post("/login", json={"name": "ada"}).json() == {"user": "ada"}
    assert client.post("/logout").json() == {"user": None}
    # A form posted to the API is still refused, by the handler's Content-Type check.
    assert client.post("/tasks", data={"title": "forged"}).status_code == 415
    # Any other unsafe request needs the token (the client has the cookie by now).
    refused = client.post("/")
    assert (refused.status_code, refused.json()) == (403, {"detail": "CSRF token missing"})
    assert (
        client.post("/", headers={"x-csrf-token": client.cookies["csrftoken"]}).status_code == 405
    )


def test_the_exemptions_hold_behind_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(examples.tasks, "tasks", {})
    client = TestClient(examples.tasks.app, root_path="/site")
    assert client.post("/tasks", json={"title": "api"}).status_code == 201
    # The form is still checked, and its token found, under the proxy's prefix.
    page = client.get("/")
    action = re.search(r'<form class="new-task" method="post" action="([^"]+)"', page.text)
    assert action is not None and action[1] == "http://testserver/site/new-task"
    files = {"attachment": ("a.txt", b"a")}
    refused = client.post("/new-task", data={"title": "forged"}, files=files)  # to /site/...
    assert (refused.status_code, refused.json()) == (403, {"detail": FIRST_FIELD})
    fields = {"csrf_token": form_token(page.text), "title": "proxied"}
    answer = client.post("/new-task", data=fields, files=files)
    assert (answer.status_code, answer.headers["location"]) == (303, "http://testserver/site/")
    assert [task["title"] for task in stored()] == ["api", "proxied"]


def test_real_server_takes_an_upload_from_the_page(tasks_server: str) -> None:
    with httpx.Client(base_url=f"http://{tasks_server}", timeout=NET) as client:
        page = client.get("/")
        action = re.search(r'<form class="new-task" method="post" action="([^"]+)"', page.text)
        assert action is not None
        fields = {"csrf_token": form_token(page.text), "title": "from uvicorn"}
        files = {"attachment": ("../report.csv", b"a,b\r\n1,2\r\n", "text/csv")}
        answer = client.post(action[1], data=fields, files=files)
        assert (answer.status_code, answer.headers["location"]) == (303, f"http://{tasks_server}/")
        listed = client.get(answer.headers["location"]).text
        assert '<span class="attachment">report.csv (10 bytes, text/csv)</span>' in listed
        too_big = client.post(
            action[1], data=fields, files={"attachment": ("big", b"x" * (10 * FILE_LIMIT))}
        )
        assert too_big.status_code == 413
        assert too_big.json() == {"detail": f"Request body too large (limit {BODY_LIMIT} bytes)"}


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


def test_close_streams_ends_the_clock(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # One tick, then a long wait: no tick is queued behind the first when the streams
    # are closed, so the body ends right after it (or the test times out).
    monkeypatch.setattr(examples.clock, "INTERVAL", 3600)
    with client.stream("GET", "/clock") as response:
        events = response.iter_events()
        assert next(events).id == "1"
        assert close_streams() == 1
        assert list(events) == []  # the body ended
        assert examples.clock.watching == 0


# -- ending the clocks on SIGINT and SIGTERM ---------------------------------------------


def test_a_signal_ends_the_clocks_then_reaches_the_servers_handler(
    client: TestClient, handlers: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the app's startup does on the server's main thread (bare.shutdown's own
    # tests cover the chaining itself).
    monkeypatch.setattr(examples.clock, "INTERVAL", 3600)  # one tick: none queued behind it
    servers = signal.getsignal(signal.SIGTERM)
    asyncio.run(examples.tasks.startup())
    ours = signal.getsignal(signal.SIGTERM)
    assert callable(ours) and ours is not servers
    with client.stream("GET", "/clock") as response:
        events = response.iter_events()
        assert next(events).id == "1"
        ours(signal.SIGTERM, None)  # as Python calls a handler when the signal comes
        assert list(events) == []  # the body ended
        assert examples.clock.watching == 0
    assert handlers == [signal.SIGTERM]
    asyncio.run(examples.tasks.shutdown())
    assert signal.getsignal(signal.SIGTERM) is servers


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
