"""Static files: bare's `StaticFiles` against Starlette's, in process, on the same files.

Both apps mount their framework's `StaticFiles` at `/static` over one temporary directory
holding `small.txt` (1 KiB) and `large.bin` (1 MiB), written once per module (see
`apps/static_apps.py`), and are driven by the same `Client` as `test_bench_app.py`: one
event loop (uvloop when installed), a fresh scope per request, every answer checked as it
arrives. The scope offers no `extensions`, so neither framework may hand the file to the
server (`http.response.pathsend`): both read it and send every byte through `send`, and the
driver joins the chunks and compares the whole body with the file.

The cases, each in its own group: a GET of each file (200), the same GET with an
`If-None-Match` holding the ETag the framework gave on a first request (304, no body: each
framework formats its ETag its own way), and a `Range: bytes=0-1023` of the large file
(206). A round sends `calls` requests (the same number for every app of a case);
`extra_info["calls"]` holds it and `static_report.py` divides it out.

Before measuring, each app's thread calls for one request of the case are counted into
`extra_info["thread_calls"]` (see `thread_calls`); bare's are checked against
`Case.bare_threads`, so a change that adds one fails here.

bare runs as `[c]` and `[py]` (the `impl` fixture), which picks the route matcher that
finds the mount; the header codecs are chosen when bare is imported, as in
`test_bench_app.py`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from _driver import SCOPE, Call, Client
from apps import static_apps
from apps.static_apps import LARGE, SMALL


@dataclass(frozen=True)
class Case:
    """One request, what every app must answer it, and how many go in a round."""

    name: str
    path: str
    status: int
    body: bytes
    calls: int
    bare_threads: int  # bare's thread calls per request
    conditional: bool = False  # send back the ETag of a first GET in If-None-Match
    range: bytes | None = None

    @property
    def request(self) -> Call:
        return (self.path, self.path.encode(), self.status, self.body)


CASES = [
    Case("small", "/static/small.txt", 200, SMALL, 100, 1),
    # A first read of 64 KiB with the look-up, then 256 KiB at a time.
    Case("large", "/static/large.bin", 200, LARGE, 10, 5),
    Case("small-304", "/static/small.txt", 304, b"", 100, 1, conditional=True),
    Case("large-304", "/static/large.bin", 304, b"", 100, 1, conditional=True),
    Case("large-range", "/static/large.bin", 206, LARGE[:1024], 100, 1, range=b"bytes=0-1023"),
]
PARAMS = [
    pytest.param(case, id=case.name, marks=pytest.mark.benchmark(group=f"static-{case.name}"))
    for case in CASES
]


@pytest.fixture(scope="module")
def static_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("static")
    static_apps.write_files(directory)
    return directory


def thread_calls(make_app: Callable[[], Any], template: dict[str, Any], case: Case) -> int:
    """How many calls into other threads one request of `case` makes, counted as the
    results those threads hand back to the loop (`call_soon_threadsafe`, which both
    asyncio's `run_in_executor`, behind bare's stream threads, and anyio's worker
    threads, behind Starlette's, use), on a plain asyncio loop of its own. A first
    request goes uncounted: Starlette checks its directory once, on the first."""
    loop = asyncio.new_event_loop()
    counted = 0
    handing_back = loop.call_soon_threadsafe

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal counted
        counted += 1
        return handing_back(*args, **kwargs)

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
    try:
        client = Client(make_app(), loop, template)
        client.start()
        assert client.probe(case.request)[0] == case.status
        counted = 0
        assert client.probe(case.request)[0] == case.status
        calls = counted
        client.stop()
    finally:
        loop.close()
    return calls


def _measure(
    benchmark: Any,
    serve: Callable[..., Client],
    app: str,
    make_app: Callable[[], Any],
    case: Case,
) -> None:
    """Check the app's answers to the case in full, then benchmark rounds of it."""
    plain = serve(app, make_app)
    status, body, headers = plain.probe((case.path, case.path.encode(), 200, None))
    content = LARGE if case.path.endswith(".bin") else SMALL
    assert (status, body) == (200, content), (status, len(body))
    assert headers["content-length"] == str(len(content)), headers
    assert headers["accept-ranges"] == "bytes", headers
    etag = headers["etag"]
    assert etag.startswith('"') and etag.endswith('"'), headers

    extra = []
    if case.conditional:
        extra.append((b"if-none-match", etag.encode("latin-1")))
    if case.range is not None:
        extra.append((b"range", case.range))
    client = plain
    template = {**SCOPE, "headers": [*SCOPE["headers"], *extra]}
    if extra:
        client = serve(f"{app}-{case.name}", make_app, template)

    status, body, headers = client.probe(case.request)
    assert (status, body) == (case.status, case.body), (status, len(body))
    assert headers["etag"] == etag, headers
    if case.status == 304:
        assert "content-length" not in headers and "content-type" not in headers, headers
    else:
        assert headers["content-length"] == str(len(case.body)), headers
    if case.status == 206:
        assert headers["content-range"] == f"bytes 0-1023/{len(LARGE)}", headers

    threads = thread_calls(make_app, template, case)
    if app.startswith("bare"):
        assert threads == case.bare_threads, threads
    benchmark.extra_info.update(
        app=app,
        case=case.name,
        calls=case.calls,
        loop=type(client.loop).__module__,
        thread_calls=threads,
    )
    requests = [case.request] * case.calls
    benchmark(client.run, requests)


@pytest.mark.parametrize("case", PARAMS)
def test_bare(
    benchmark: Any, serve: Callable[..., Client], static_dir: Path, impl: Any, case: Case
) -> None:
    """bare's StaticFiles, found through the compiled or the pure matcher."""
    matcher_class = impl.module("router").Matcher
    _measure(
        benchmark,
        serve,
        f"bare-{impl}",
        lambda: static_apps.make_bare(static_dir, matcher_class),
        case,
    )


@pytest.mark.parametrize("case", PARAMS)
def test_starlette(
    benchmark: Any, serve: Callable[..., Client], static_dir: Path, case: Case
) -> None:
    """Starlette's StaticFiles on the same files."""
    pytest.importorskip("starlette")
    _measure(benchmark, serve, "starlette", lambda: static_apps.make_starlette(static_dir), case)
