"""The scenarios of the comparison suite, the contestants, and the checks made before timing.

Every contestant's app (`apps/<module>.py`, attribute `app`) serves, from one ASGI app:

- `hello`: `GET /` answers 200 `Hello, World!` as text/plain;
- `html`: `GET /html` answers 200 `HTML_PAGE` as text/html with an `x-time` header holding
  the server's clock (`time.time()`), so the header differs from one response to the next;
- `api`: `PUT /api/users/{user:int}/records/{record:int}?query=...` answers 401 without an
  `Authorization` header, else 200 with the JSON object `{"user", "record", "query",
  "body"}`: the two path parameters as integers, the `query` query parameter decoded, the
  JSON body decoded (and encoded again);
- `upload`: `POST /upload`, a multipart form with one 2 KiB file in the field `file`; the
  app writes the file's content to `upload_path()` and answers 200 with the JSON object
  `{"name": <that file's name>, "size": <bytes written>}`;
- `routes`: the 203 routes of the GitHub API table (`ROUTE_TABLE`), registered after the
  routes above; each answers 200 `ok` as text/plain, but for the last one, `DELETE
  /user/keys/{id}`, which answers `key {id}`; the scenario requests that late route;
- `404`: `GET` of a path under `/repos/{owner}/{repo}/` that no route matches: 404 (its
  body is each framework's own and is not checked).

Where uploads go: the directory named by `BENCH_UPLOAD_DIR` (the runner creates it), else
`bare-compare-uploads` under `/dev/shm` (tmpfs, so the disk does not decide) or under
tempfile's default directory where there is no `/dev/shm`. Each app process writes every
upload to one file of its own, `upload-<pid>.bin`, truncated and written again by every
request: the write is real (open, write, close on tmpfs) but files cannot pile up under
load, and the check (`Scenario.check`) compares that file with the bytes sent, then
removes it. A checker makes one request at a time, so no other request rewrites the file
between the answer and the comparison. A process that exits normally removes its file
too, but uvicorn ends by re-raising SIGTERM, which skips that: a runner that starts
servers gives them a `BENCH_UPLOAD_DIR` of its own and removes it afterwards.
"""

from __future__ import annotations

import atexit
import json
import os
import random
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.apps import TABLE as ROUTE_TABLE

__all__ = [
    "API_BODY",
    "API_DENIED",
    "API_QUERY",
    "CONTESTANTS",
    "HELLO",
    "HTML_PAGE",
    "LATE_ROUTE",
    "NOT_FOUND_TARGET",
    "ROUTE_TABLE",
    "SCENARIOS",
    "UPLOAD_CONTENT",
    "Contestant",
    "Scenario",
    "check_in_process",
    "check_over_http",
    "contestant",
    "probes",
    "scenario",
    "upload_dir",
    "upload_path",
]

HELLO = "Hello, World!"
HTML_PAGE = (
    "<!DOCTYPE html>\n"
    '<html lang="en">\n'
    "<head>\n"
    '<meta charset="utf-8">\n'
    "<title>bare benchmark</title>\n"
    "</head>\n"
    "<body>\n"
    "<h1>A small page</h1>\n"
    "<p>This page is the same for every request; its <code>x-time</code> header is not.</p>\n"
    "<ul>\n"
    "<li>hello: plain text</li>\n"
    "<li>html: this page</li>\n"
    "<li>api: JSON in, JSON out</li>\n"
    "<li>upload: one file of a multipart form</li>\n"
    "</ul>\n"
    "</body>\n"
    "</html>\n"
)

API_USER = 42
API_RECORD = 7
API_QUERY = "bench mark"
API_BODY: dict[str, Any] = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "age": 36,
    "active": True,
    "score": 9.5,
    "tags": ["math", "engines"],
}
API_AUTHORIZATION = "Bearer 5f0c1e2d-token"

LATE_ROUTE = ("DELETE", "/user/keys/{id}")
LATE_KEY = "4221"
NOT_FOUND_TARGET = "/repos/octocat/hello-world/no-such-page"

UPLOAD_FIELD = "file"
UPLOAD_FILENAME = "data.bin"
UPLOAD_CONTENT = random.Random(11).randbytes(2048)
UPLOAD_PREFIX = "upload-"
_BOUNDARY = "bare-compare-7MA4YWxkTrZu0gW"
UPLOAD_BODY = (
    (
        f"--{_BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="{UPLOAD_FIELD}"; filename="{UPLOAD_FILENAME}"\r\n'
        "Content-Type: application/octet-stream\r\n"
        "\r\n"
    ).encode()
    + UPLOAD_CONTENT
    + f"\r\n--{_BOUNDARY}--\r\n".encode()
)

assert ROUTE_TABLE[-1] == LATE_ROUTE, "the GitHub table changed: pick another late route"
assert len(ROUTE_TABLE) == 203, "the GitHub table changed"
assert _BOUNDARY.encode() not in UPLOAD_CONTENT


def upload_dir() -> Path:
    """The directory uploads are written to (see the module doc), created if missing."""
    named = os.environ.get("BENCH_UPLOAD_DIR")
    if named:
        path = Path(named)
    else:
        base = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
        path = Path(base) / "bare-compare-uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def upload_path() -> Path:
    """The one file this process writes every upload to (removed at a normal exit)."""
    path = upload_dir() / f"{UPLOAD_PREFIX}{os.getpid()}.bin"
    atexit.register(path.unlink, missing_ok=True)
    return path


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _content_type(name: str, headers: dict[str, str], expected: str) -> None:
    got = headers.get("content-type", "")
    assert got.split(";")[0].strip().lower() == expected, (
        f"{name}: content-type {got!r}, expected {expected}"
    )


def _json(name: str, body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise AssertionError(f"{name}: the body is not JSON: {body[:200]!r}") from None


def _check_text(s: Scenario, headers: dict[str, str], body: bytes, text: str) -> None:
    _content_type(s.name, headers, "text/plain")
    assert body == text.encode(), f"{s.name}: body {body[:200]!r}, expected {text!r}"


def _check_hello(s: Scenario, headers: dict[str, str], body: bytes) -> None:
    _check_text(s, headers, body, HELLO)


def _check_routes(s: Scenario, headers: dict[str, str], body: bytes) -> None:
    _check_text(s, headers, body, f"key {LATE_KEY}")


def _check_html(s: Scenario, headers: dict[str, str], body: bytes) -> None:
    _content_type(s.name, headers, "text/html")
    assert body == HTML_PAGE.encode(), f"{s.name}: body {body[:200]!r}, expected HTML_PAGE"
    stamp = headers.get("x-time")
    assert stamp is not None, f"{s.name}: no x-time header"
    try:
        float(stamp)
    except ValueError:
        raise AssertionError(f"{s.name}: x-time {stamp!r} is not a time") from None


def _check_api(s: Scenario, headers: dict[str, str], body: bytes) -> None:
    _content_type(s.name, headers, "application/json")
    got = _json(s.name, body)
    expected = {"user": API_USER, "record": API_RECORD, "query": API_QUERY, "body": API_BODY}
    assert got == expected, f"{s.name}: answered {got!r}, expected {expected!r}"


def _check_upload(s: Scenario, headers: dict[str, str], body: bytes) -> None:
    _content_type(s.name, headers, "application/json")
    got = _json(s.name, body)
    assert isinstance(got, dict) and set(got) == {"name", "size"}, f"{s.name}: answered {got!r}"
    name = got["name"]
    assert isinstance(name, str) and name.startswith(UPLOAD_PREFIX) and "/" not in name, (
        f"{s.name}: answered the file name {name!r}"
    )
    assert got["size"] == len(UPLOAD_CONTENT), f"{s.name}: size {got['size']!r}"
    path = upload_dir() / name
    try:
        written = path.read_bytes()
    except OSError as exc:
        raise AssertionError(f"{s.name}: cannot read the written file {path}: {exc}") from None
    path.unlink()
    assert written == UPLOAD_CONTENT, (
        f"{s.name}: {path} holds {len(written)} bytes that differ from the "
        f"{len(UPLOAD_CONTENT)} sent"
    )


def _check_status_only(s: Scenario, headers: dict[str, str], body: bytes) -> None:
    pass


_CHECKS = {
    "hello": _check_hello,
    "html": _check_html,
    "api": _check_api,
    "upload": _check_upload,
    "routes": _check_routes,
    "404": _check_status_only,
    "api-401": _check_status_only,
}


@dataclass(frozen=True)
class Scenario:
    """One request and what every app must answer it (see the module doc)."""

    name: str  # "hello", "html", "api", "upload", "routes", "404" ("api-401": a probe)
    method: str
    target: str  # path and query exactly as sent
    headers: tuple[tuple[str, str], ...]  # the request headers the scenario needs
    body: bytes
    expected_status: int

    @property
    def path(self) -> str:
        """The target's path (percent-decoding is not needed: the paths are plain)."""
        return self.target.partition("?")[0]

    @property
    def query_string(self) -> bytes:
        return self.target.partition("?")[2].encode("ascii")

    def check(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        """Check one answer; AssertionError naming what differs."""
        assert status == self.expected_status, (
            f"{self.name}: status {status}, expected {self.expected_status}: {body[:200]!r}"
        )
        lowered = _lower(headers)
        length = lowered.get("content-length")
        assert length is None or int(length) == len(body), (
            f"{self.name}: content-length {length} for {len(body)} bytes"
        )
        _CHECKS[self.name](self, lowered, body)


_API_TARGET = f"/api/users/{API_USER}/records/{API_RECORD}?query=bench%20mark"
_API_BODY = json.dumps(API_BODY, separators=(",", ":")).encode()
_JSON_HEADERS = (("content-type", "application/json"),)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("hello", "GET", "/", (), b"", 200),
    Scenario("html", "GET", "/html", (), b"", 200),
    Scenario(
        "api",
        "PUT",
        _API_TARGET,
        (*_JSON_HEADERS, ("authorization", API_AUTHORIZATION)),
        _API_BODY,
        200,
    ),
    Scenario(
        "upload",
        "POST",
        "/upload",
        (("content-type", f"multipart/form-data; boundary={_BOUNDARY}"),),
        UPLOAD_BODY,
        200,
    ),
    Scenario("routes", LATE_ROUTE[0], LATE_ROUTE[1].replace("{id}", LATE_KEY), (), b"", 200),
    Scenario("404", "GET", NOT_FOUND_TARGET, (), b"", 404),
)
# The api request without its Authorization header: checked, not timed.
API_DENIED = Scenario("api-401", "PUT", _API_TARGET, _JSON_HEADERS, _API_BODY, 401)

_BY_NAME = {s.name: s for s in (*SCENARIOS, API_DENIED)}


def scenario(name: str) -> Scenario:
    """The scenario called `name` (KeyError naming the known ones otherwise)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no scenario {name!r}; known: {', '.join(_BY_NAME)}") from None


ALL = frozenset(s.name for s in SCENARIOS)


@dataclass(frozen=True)
class Contestant:
    """One app of the suite: how a server imports it and which scenarios it serves."""

    name: str
    app: str  # uvicorn import string, importable from the repository root
    env: Mapping[str, str]  # set over the runner's environment for the app's process
    scenarios: frozenset[str]
    requires: str = ""  # the package it needs beyond bare, "" for none
    floor: bool = False  # the raw ASGI callable the others are compared with

    @property
    def module(self) -> str:
        return self.app.partition(":")[0]


def _app(module: str) -> str:
    return f"benchmarks.compare.apps.{module}:app"


_COMPILED = {"BARE_NO_EXTENSIONS": "0"}
_PURE = {"BARE_NO_EXTENSIONS": "1"}

CONTESTANTS: tuple[Contestant, ...] = (
    Contestant("raw", _app("raw"), {}, ALL, floor=True),
    Contestant("bare(c)", _app("bare_app"), _COMPILED, ALL),
    Contestant("bare(py)", _app("bare_app"), _PURE, ALL),
    Contestant("bare typed(c)", _app("bare_typed_app"), _COMPILED, frozenset({"api"}), "msgspec"),
    Contestant("bare typed(py)", _app("bare_typed_app"), _PURE, frozenset({"api"}), "msgspec"),
    Contestant("starlette", _app("starlette_app"), {}, ALL, "starlette"),
    Contestant("fastapi", _app("fastapi_app"), {}, ALL, "fastapi"),
    Contestant("blacksheep", _app("blacksheep_app"), {}, ALL, "blacksheep"),
    Contestant("falcon", _app("falcon_app"), {}, ALL, "falcon"),
    Contestant("litestar", _app("litestar_app"), {}, ALL, "litestar"),
)

_CONTESTANTS = {c.name: c for c in CONTESTANTS}


def contestant(name: str) -> Contestant:
    """The contestant called `name` (KeyError naming the known ones otherwise)."""
    try:
        return _CONTESTANTS[name]
    except KeyError:
        raise KeyError(f"no contestant {name!r}; known: {', '.join(_CONTESTANTS)}") from None


def probes(who: Contestant) -> list[Scenario]:
    """Every request to check `who` with: its scenarios, and the 401 probe with api."""
    found = [s for s in SCENARIOS if s.name in who.scenarios]
    if "api" in who.scenarios:
        found.append(API_DENIED)
    return found


def check_over_http(base_url: str, who: Contestant, timeout: float = 10.0) -> None:
    """Check a running server of `who` on every probe; AssertionError on the first wrong one."""
    import httpx

    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        for probe in probes(who):
            reply = client.request(
                probe.method, probe.target, headers=list(probe.headers), content=probe.body
            )
            try:
                probe.check(reply.status_code, reply.headers, reply.content)
            except AssertionError as exc:
                raise AssertionError(f"{who.name} over HTTP: {exc}") from None


# -- in process -------------------------------------------------------------------

Message = dict[str, Any]


def scope_for(probe: Scenario) -> Message:
    """The ASGI scope a server would give `probe` (with a browser's usual headers)."""
    from benchmarks._driver import SCOPE

    headers = list(SCOPE["headers"])
    headers += [(n.encode("latin-1"), v.encode("latin-1")) for n, v in probe.headers]
    if probe.body or probe.method in ("POST", "PUT", "PATCH"):
        headers.append((b"content-length", b"%d" % len(probe.body)))
    return {
        **SCOPE,
        "method": probe.method,
        "path": probe.path,
        "raw_path": probe.path.encode("ascii"),
        "query_string": probe.query_string,
        "headers": headers,
    }


@dataclass
class Exchange:
    """One request to an app in process: its `receive`, its `send`, what was sent back."""

    body: bytes
    events: list[Message] = field(default_factory=list)
    received: bool = False

    async def receive(self) -> Message:
        if self.received:
            return {"type": "http.disconnect"}
        self.received = True
        return {"type": "http.request", "body": self.body, "more_body": False}

    async def send(self, message: Message) -> None:
        self.events.append(message)


async def call(app: Any, probe: Scenario) -> tuple[int, dict[str, str], bytes]:
    """Send `probe` to `app` in process once: status, headers (lower-case names), body."""
    from benchmarks._driver import outcome

    exchange = Exchange(probe.body)
    await app(scope_for(probe), exchange.receive, exchange.send)
    status, body, headers = outcome(exchange.events)
    return status, headers, body


def check_in_process(app: Any, who: Contestant, loop: Any) -> None:
    """Check a started app (lifespan done) on every probe, on `loop`."""
    for probe in probes(who):
        status, headers, body = loop.run_until_complete(call(app, probe))
        try:
            probe.check(status, headers, body)
        except AssertionError as exc:
            raise AssertionError(f"{who.name} in process: {exc}") from None
