"""Smoke test of the comparison suite (`benchmarks/compare`): every contestant's app
answers every scenario it serves correctly in process, on both of bare's paths; the
checks refuse wrong answers; the in-process runner produces its table and JSON.

bare's contestants are checked in a subprocess, with `BARE_NO_EXTENSIONS` as the
contestant sets it (the header codecs are chosen when bare is imported, so one process
cannot hold both paths); the others in this process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from benchmarks._driver import Client
from benchmarks.compare import inprocess
from benchmarks.compare.scenarios import (
    API_BODY,
    CONTESTANTS,
    HTML_PAGE,
    SCENARIOS,
    UPLOAD_CONTENT,
    check_in_process,
    contestant,
    probes,
    scenario,
    upload_dir,
    upload_path,
)

ROOT = Path(__file__).resolve().parent.parent
IN_PROCESS = [c.name for c in CONTESTANTS if "BARE_NO_EXTENSIONS" not in c.env]
BARE_PATHS = [
    pytest.param("c", ["bare(c)", "bare typed(c)"], marks=pytest.mark.c_extension, id="c"),
    pytest.param("py", ["bare(py)", "bare typed(py)"], id="py"),
]


@pytest.fixture(scope="module")
def client(loop: asyncio.AbstractEventLoop) -> Iterator[Any]:
    """`client(name)`: the started app of a contestant (lifespan run), once per module."""
    started: dict[str, Client] = {}

    def get(name: str) -> Client:
        if name not in started:
            who = contestant(name)
            pytest.importorskip(who.requires or "bare")
            started[name] = Client(import_module(who.module).app, loop)
            started[name].start()
        return started[name]

    yield get
    for each in started.values():
        each.stop()


def test_every_scenario_has_a_floor_and_the_contestants_are_named_once() -> None:
    names = [c.name for c in CONTESTANTS]
    assert len(names) == len(set(names))
    floor = [c for c in CONTESTANTS if c.floor]
    assert [c.name for c in floor] == ["raw"]
    assert floor[0].scenarios == {s.name for s in SCENARIOS}
    assert {"hello", "html", "api", "upload", "routes", "404"} == {s.name for s in SCENARIOS}
    assert contestant("bare(py)").env == {"BARE_NO_EXTENSIONS": "1"}
    assert contestant("bare typed(c)").scenarios == {"api"}
    assert [p.name for p in probes(contestant("bare typed(c)"))] == ["api", "api-401"]


@pytest.mark.parametrize("name", IN_PROCESS)
def test_contestant_answers_every_scenario(
    name: str, client: Any, loop: asyncio.AbstractEventLoop
) -> None:
    who = contestant(name)
    check_in_process(client(name).app, who, loop)
    assert not upload_path().exists(), "the upload check leaves no file behind"


@pytest.mark.parametrize(("path", "names"), BARE_PATHS)
def test_bare_answers_every_scenario_on_its_path(path: str, names: list[str]) -> None:
    env = {**os.environ, "BARE_NO_EXTENSIONS": "0" if path == "c" else "1"}
    command = [sys.executable, "-m", "benchmarks.compare.inprocess", "--worker", *names]
    done = subprocess.run(
        [*command, "--check-only"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.splitlines()[-1])
    assert set(answer) == set(names)
    for name in names:
        assert answer[name]["implementation"]["compiled"] is (path == "c"), answer[name]
        assert answer[name]["loop"] == "uvloop", answer[name]


# -- the checks refuse wrong answers --------------------------------------------------

JSON_TYPE = {"content-type": "application/json"}


def test_check_refuses_a_wrong_status_or_length() -> None:
    hello = scenario("hello")
    hello.check(200, {"Content-Type": "text/plain; charset=utf-8"}, b"Hello, World!")
    with pytest.raises(AssertionError, match="status 500"):
        hello.check(500, {"content-type": "text/plain"}, b"Hello, World!")
    with pytest.raises(AssertionError, match="content-length 3"):
        hello.check(200, {"content-type": "text/plain", "content-length": "3"}, b"Hello, World!")
    with pytest.raises(AssertionError, match="content-type"):
        hello.check(200, {"content-type": "text/html"}, b"Hello, World!")


def test_check_refuses_an_html_page_without_a_time() -> None:
    html = scenario("html")
    page = HTML_PAGE.encode()
    html.check(200, {"content-type": "text/html", "x-time": "1764775000.25"}, page)
    with pytest.raises(AssertionError, match="no x-time"):
        html.check(200, {"content-type": "text/html"}, page)
    with pytest.raises(AssertionError, match="not a time"):
        html.check(200, {"content-type": "text/html", "x-time": "soon"}, page)
    with pytest.raises(AssertionError, match="body"):
        html.check(200, {"content-type": "text/html", "x-time": "1"}, page[:-2])


@pytest.mark.parametrize(
    "change",
    [
        {"user": "42"},  # the path parameter not converted
        {"query": "bench%20mark"},  # the query not decoded
        {"body": {**API_BODY, "age": 37}},
        {"extra": 1},
    ],
    ids=["unconverted", "undecoded", "body", "extra"],
)
def test_check_refuses_a_wrong_api_answer(change: dict[str, Any]) -> None:
    answer = {"user": 42, "record": 7, "query": "bench mark", "body": API_BODY}
    api = scenario("api")
    api.check(200, JSON_TYPE, json.dumps(answer).encode())
    with pytest.raises(AssertionError, match="answered"):
        api.check(200, JSON_TYPE, json.dumps({**answer, **change}).encode())
    with pytest.raises(AssertionError, match="not JSON"):
        api.check(200, JSON_TYPE, b"{")


def test_check_compares_the_uploaded_file_byte_for_byte() -> None:
    upload = scenario("upload")
    path = upload_dir() / "upload-test-compare.bin"
    answer = json.dumps({"name": path.name, "size": len(UPLOAD_CONTENT)}).encode()
    path.write_bytes(UPLOAD_CONTENT)
    upload.check(200, JSON_TYPE, answer)
    assert not path.exists(), "the check removes the file it compared"
    path.write_bytes(UPLOAD_CONTENT[:-1] + b"\0")
    with pytest.raises(AssertionError, match="differ"):
        upload.check(200, JSON_TYPE, answer)
    with pytest.raises(AssertionError, match="cannot read"):
        upload.check(200, JSON_TYPE, answer)  # removed by the check before


@pytest.mark.parametrize(
    "name",
    ["../upload-x.bin", "upload-a/b", "passwd", ""],
    ids=["dotdot", "slash", "other", "empty"],
)
def test_check_refuses_a_file_name_outside_the_upload_directory(name: str) -> None:
    answer = json.dumps({"name": name, "size": len(UPLOAD_CONTENT)}).encode()
    with pytest.raises(AssertionError, match="file name"):
        scenario("upload").check(200, JSON_TYPE, answer)


def test_the_floor_refuses_an_api_call_without_authorization(
    client: Any, loop: asyncio.AbstractEventLoop
) -> None:
    from benchmarks.compare.scenarios import API_DENIED, call

    status, _, body = loop.run_until_complete(call(client("raw").app, API_DENIED))
    assert (status, body) == (401, b'{"detail":"Unauthorized"}')


HOSTILE = {
    "json": ("api", {"body": b'{"name": '}, 400),
    "user": ("api", {"target": "/api/users/4x2/records/7?query=a"}, 404),
    "field": (
        "upload",
        {"body": scenario("upload").body.replace(b'name="file"', b'name="doc"')},
        400,
    ),
    "boundary": (
        "upload",
        {"headers": (("content-type", "multipart/form-data; boundary=x"),)},
        400,
    ),
    "unended": ("upload", {"body": scenario("upload").body[:-40]}, 400),
    "method": ("routes", {"method": "PATCH"}, 404),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_the_floor_refuses_bad_requests(
    case: str, client: Any, loop: asyncio.AbstractEventLoop
) -> None:
    from benchmarks.compare.scenarios import call

    name, change, status = HOSTILE[case]
    probe = dataclasses.replace(scenario(name), **change)
    assert loop.run_until_complete(call(client("raw").app, probe))[0] == status


# -- the in-process runner ------------------------------------------------------------


def test_timing_notices_a_wrong_answer_after_the_first(loop: asyncio.AbstractEventLoop) -> None:
    answers = iter([b"Hello, World!", b"Hello, World!", b"Hello, Wor"])

    async def flaky(scope: Any, receive: Any, send: Any) -> None:
        body = next(answers)
        start = {"type": "http.response.start", "status": 200}
        await send({**start, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})

    timing = inprocess.Timing(flaky, scenario("hello"), loop)
    with pytest.raises(AssertionError, match="answered 200 b'Hello, Wor'"):
        timing.batch(3)


def test_runner_times_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "inprocess.json"
    argv = ["--quick", "--contestants", "raw", "bare(py)", "--scenarios", "hello", "404"]
    assert inprocess.main([*argv, "--json", str(target)]) == 0
    report = json.loads(target.read_text())
    results = report["results"]
    assert set(results) == {"raw", "bare(py)"}
    assert results["raw"]["hello"]["ratio"] == 1.0
    for figures in results.values():
        assert set(figures) == {"hello", "404"}
        assert all(f["ns"] > 0 and len(f["rounds"]) == 1 for f in figures.values())
    assert report["contestants"]["bare(py)"]["implementation"]["compiled"] is False
    table = capsys.readouterr().out
    assert "| raw | " in table and "(1.00x)" in table and "| bare(py) | " in table


def test_targets_are_judged_from_the_figures() -> None:
    results = {
        "raw": {"hello": 100.0, "404": 100.0},
        "bare(c)": {"hello": 150.0, "404": 140.0},
        "bare(py)": {"hello": 400.0},
        "blacksheep": {"hello": 300.0, "404": 150.0},
        "starlette": {"hello": 300.0},
    }
    judged = {what: met for what, met, _ in inprocess.targets(results)}
    assert judged == {
        "bare(c) hello within 2.0x the floor": True,
        "bare(c) 404 within 1.3x the floor": False,
        "bare(c) hello 1.5x cheaper than the fastest peer": True,
        "bare(c) 404 1.5x cheaper than the fastest peer": False,
        "bare(py) hello ahead of starlette": False,
    }
    assert "| bare(c) | 150 (1.50x) | 140 (1.40x) |" in inprocess.table(results, ["hello", "404"])
