"""bare.wsgi.WSGIMiddleware: a real Flask app mounted in bare, raw WSGI apps for the
edges, a raw ASGI harness where the chunks and the disconnect must be seen, and uvicorn."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import pytest
from flask import Flask

import bare
from apps import flask_app as flask_module
from apps.flask_app import app as mounted
from bare.testing import TestClient
from bare.wsgi import WSGIClientDisconnected, WSGIMiddleware
from raw_asgi import RawClient, http_scope
from servers import uvicorn

Environ = dict[str, Any]
WAIT = 10  # a safety net for events that a healthy run sets at once


def client(app: Any = mounted, **options: Any) -> TestClient:
    return TestClient(app, **options)


def harness(chunks: Iterable[bytes] = (b"",)) -> RawClient:
    """A raw ASGI client that sends `chunks` and leaves once the response is complete:
    every message the app sends is in `sent`."""
    return RawClient(chunks, leave_when_done=True)


# -- routing through the mount --------------------------------------------------------


def test_routes_reach_bare_and_flask() -> None:
    c = client()
    assert c.get("/").json() == {"app": "bare"}
    index = c.get("/legacy/")
    assert (index.status_code, index.text) == (200, "flask index")
    assert c.get("/legacy/nope").status_code == 404


def test_url_for_and_script_root_carry_the_mount_prefix() -> None:
    body = client().get("/legacy/hello/w%C3%A9").json()
    assert body == {
        "hello": "wé",
        "self": "/legacy/hello/w%C3%A9",
        "script_name": "/legacy",
        "path": "/hello/wé",
    }


def test_the_bare_prefix_is_an_empty_path_info_that_flask_redirects() -> None:
    response = client(follow_redirects=False).get("/legacy")
    assert response.status_code == 308
    assert response.headers["location"].endswith("/legacy/")


def test_a_standalone_middleware_has_no_script_name() -> None:
    seen: list[Environ] = []

    def wsgi(environ: Environ, start_response: Any) -> list[bytes]:
        seen.append(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    response = client(WSGIMiddleware(wsgi)).get("/a%20b?x=1&y=%C3%A9")
    assert response.text == "ok"
    environ = seen[0]
    assert environ["SCRIPT_NAME"] == ""
    assert environ["PATH_INFO"] == "/a b"
    assert environ["QUERY_STRING"] == "x=1&y=%C3%A9"
    assert environ["REQUEST_METHOD"] == "GET"
    assert environ["wsgi.url_scheme"] == "http"
    assert environ["wsgi.input_terminated"] is True


# -- request bodies ---------------------------------------------------------------------


def test_a_form_post() -> None:
    response = client().post("/legacy/form", data={"a": "1", "b": ["x", "y"]})
    assert response.json() == {"fields": {"a": ["1"], "b": ["x", "y"]}}


def test_a_multipart_form_post() -> None:
    response = client().post(
        "/legacy/form", data={"name": "ada"}, files={"upload": ("a.txt", b"content")}
    )
    assert response.json() == {"fields": {"name": ["ada"]}}


def test_a_chunked_body_streams_in_whole() -> None:
    chunks = [b"a" * 1000, b"", b"b" * 3000, b"c"]
    response = client().post("/legacy/echo", content=chunks)
    assert response.content == b"".join(chunks)


def test_an_upload_over_the_declared_limit_is_413_before_flask_runs() -> None:
    app = bare.Bare(max_body_size=1000)
    app.mount("/legacy", WSGIMiddleware(flask_module.flask_app))
    response = client(app).post("/legacy/size", content=b"x" * 1001)
    assert response.status_code == 413
    assert "1000" in response.text
    assert client(app).post("/legacy/size", content=b"x" * 1000).json() == {"size": 1000}


def test_a_chunked_upload_over_the_limit_is_413_whatever_flask_answers() -> None:
    app = bare.Bare()
    app.mount("/legacy", WSGIMiddleware(flask_module.flask_app, max_body_size=5000))
    response = client(app).post("/legacy/size", content=[b"x" * 4000, b"x" * 4000, b"x"])
    assert response.status_code == 413
    assert response.headers["connection"] == "close"


def test_the_app_limit_one_mib_by_default_and_none_for_none() -> None:
    big = [b"x" * 65536] * 17  # 1 MiB + 64 KiB
    assert client().post("/legacy/size", content=big).status_code == 413
    unlimited = WSGIMiddleware(flask_module.flask_app, max_body_size=None)
    assert client(unlimited).post("/size", content=big).json() == {"size": 17 * 65536}


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "9" * 19, " 12"])
def test_a_malformed_content_length_is_400(length: str) -> None:
    raw = harness()
    raw.run(
        WSGIMiddleware(flask_module.flask_app),
        http_scope(headers=[(b"content-length", length.encode())]),
    )
    assert raw.sent[0]["status"] == 400


def test_wsgi_input_reads_lines_and_sizes_across_chunks() -> None:
    def wsgi(environ: Environ, start_response: Any) -> list[bytes]:
        stream = environ["wsgi.input"]
        first = stream.readline()
        part = stream.read(3)
        capped = stream.readline(2)
        rest = list(stream)
        start_response("200 OK", [])
        return [repr((first, part, capped, rest, stream.read())).encode()]

    chunks = [b"li", b"ne1\nab", b"cdef\nline3\n", b"tail"]
    text = client(WSGIMiddleware(wsgi)).post("/", content=chunks).text
    assert text == repr((b"line1\n", b"abc", b"de", [b"f\n", b"line3\n", b"tail"], b""))


def test_an_app_that_ignores_the_body_is_answered() -> None:
    def wsgi(environ: Environ, start_response: Any) -> list[bytes]:
        start_response("204 No Content", [])
        return []

    response = client(WSGIMiddleware(wsgi)).post("/", content=[b"x"] * 50)
    assert (response.status_code, response.content) == (204, b"")


# -- headers ----------------------------------------------------------------------------


def test_request_headers_in_the_environ() -> None:
    headers = [
        (b"cookie", b"a=1"),
        (b"cookie", b"b=2"),
        (b"accept", b"text/html"),
        (b"accept", b"*/*"),
        (b"content-type", b"text/plain"),
        (b"x_forwarded_for", b"6.6.6.6"),  # would pass for X-Forwarded-For
        (b"host", b"testserver"),
    ]
    raw = harness()
    raw.run(WSGIMiddleware(flask_module.flask_app), http_scope("/headers", headers=headers))
    assert json.loads(b"".join(raw.bodies())) == {
        "cookie": "a=1; b=2",
        "accept": "text/html, */*",
        "forwarded": None,
        "content_type": "text/plain",
        "errors": "_Errors",
    }


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        ("200 OK", [("X-Evil", "a\r\nSet-Cookie: s=1")]),
        ("200 OK", [("Bad Name", "v")]),
        ("20 OK", []),
        ("abc", []),
        ("200OK", []),
    ],
)
def test_a_bad_status_or_header_from_the_app_is_a_500(status: str, headers: Any) -> None:
    def wsgi(environ: Environ, start_response: Any) -> list[bytes]:
        start_response(status, headers)
        return [b"body"]

    response = client(WSGIMiddleware(wsgi), raise_server_exceptions=False).get("/")
    assert response.status_code == 500
    assert "Set-Cookie" not in response.headers
    assert b"body" not in response.content


def test_the_write_callable_and_exc_info_replace_the_head_before_the_body() -> None:
    def wsgi(environ: Environ, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("X-First", "1")])
        try:
            raise ValueError("oops")
        except ValueError as exc:
            write = start_response("503 Busy", [("X-Second", "2")], (ValueError, exc, None))
        write(b"written ")
        return [b"returned"]

    response = client(WSGIMiddleware(wsgi)).get("/")
    assert response.status_code == 503
    assert response.headers["x-second"] == "2"
    assert "x-first" not in response.headers
    assert response.text == "written returned"


# -- errors -----------------------------------------------------------------------------


def test_a_flask_error_is_flask_500_without_the_text_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        response = client().get("/legacy/boom")
    assert response.status_code == 500
    assert "secret" not in response.text
    # Flask logs to its own logger when logging is set up, else to wsgi.errors.
    assert any("secret database password" in r.getMessage() or r.exc_info for r in caplog.records)


def test_an_exception_out_of_the_wsgi_app_is_bare_500_without_the_text() -> None:
    propagating = Flask("propagating")
    propagating.config["PROPAGATE_EXCEPTIONS"] = True
    propagating.add_url_rule("/boom", view_func=flask_module.boom)
    app = bare.Bare()
    app.mount("/legacy", WSGIMiddleware(propagating))
    with pytest.raises(RuntimeError, match="secret"):
        client(app).get("/legacy/boom")
    response = client(app, raise_server_exceptions=False).get("/legacy/boom")
    assert response.status_code == 500
    assert "secret" not in response.text


def test_an_error_mid_stream_cuts_the_response() -> None:
    def wsgi(environ: Environ, start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"part"
        raise RuntimeError("mid-stream")

    raw = harness()
    with pytest.raises(RuntimeError, match="mid-stream"):
        raw.run(WSGIMiddleware(wsgi), http_scope())
    assert raw.sent[0]["status"] == 200
    assert raw.bodies() == [b"part"]
    assert all(m.get("more_body") for m in raw.sent[1:])  # never said complete


def test_wsgi_errors_logs_a_line_per_record(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="bare.wsgi"):
        assert client().get("/legacy/log").text == "logged"
    logged = [r.getMessage() for r in caplog.records if r.name == "bare.wsgi"]
    assert logged == ["first line", "second line"]


# -- streaming responses and disconnects ------------------------------------------------


def test_a_streaming_response_arrives_in_chunks() -> None:
    raw = harness()
    raw.run(WSGIMiddleware(flask_module.flask_app), http_scope("/stream"))
    assert raw.sent[0]["status"] == 200
    assert raw.bodies() == [b"chunk 0\n", b"chunk 1\n", b"chunk 2\n", b""]
    assert client().get("/legacy/stream?n=5").text == "".join(f"chunk {i}\n" for i in range(5))


def test_a_client_leaving_mid_stream_stops_and_closes_the_generator() -> None:
    flask_module.stream_closed.clear()
    app = WSGIMiddleware(flask_module.flask_app, workers=1)

    async def main() -> list[bytes]:
        raw = harness()

        async def send(message: dict[str, Any]) -> None:
            raw.sent.append(message)
            if len(raw.bodies()) == 3:
                raw.leave.set()  # the client goes away after three chunks

        await asyncio.wait_for(app(http_scope("/endless"), raw.receive, send), WAIT)
        return raw.bodies()

    bodies = asyncio.run(main())
    assert len(bodies) >= 3
    assert flask_module.stream_closed.wait(WAIT)
    # The single worker is free again.
    assert client(app).get("/").text == "flask index"


def test_a_client_leaving_mid_upload_raises_in_wsgi_input() -> None:
    raised: list[BaseException] = []
    done = threading.Event()

    def wsgi(environ: Environ, start_response: Any) -> list[bytes]:
        try:
            environ["wsgi.input"].read()
        except OSError as exc:
            raised.append(exc)
        finally:
            done.set()
        start_response("200 OK", [])
        return [b"never sent"]

    raw = harness([b"part", b"more"])
    raw.incoming[-1]["more_body"] = True  # the rest never comes
    raw.leave.set()
    raw.run(WSGIMiddleware(wsgi), http_scope(method="POST"))
    assert done.wait(WAIT)
    assert isinstance(raised[0], WSGIClientDisconnected)
    assert raw.sent == []


def test_requests_wait_for_a_free_worker() -> None:
    entered = threading.Semaphore(0)
    release = threading.Event()
    active = 0
    most = 0
    lock = threading.Lock()

    def wsgi(environ: Environ, start_response: Any) -> list[bytes]:
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        entered.release()
        release.wait(WAIT)
        with lock:
            active -= 1
        start_response("200 OK", [])
        return [b"ok"]

    app = WSGIMiddleware(wsgi, workers=2)

    async def main() -> list[bytes]:
        harnesses = [harness() for _ in range(4)]
        calls = [asyncio.ensure_future(app(http_scope(), h.receive, h.send)) for h in harnesses]
        for _ in range(2):
            await asyncio.to_thread(entered.acquire)
        release.set()
        await asyncio.gather(*calls)
        return [b"".join(h.bodies()) for h in harnesses]

    assert asyncio.run(main()) == [b"ok"] * 4
    assert most == 2


# -- other scopes and configuration -----------------------------------------------------


def test_lifespan_is_acknowledged_and_websockets_refused() -> None:
    app = WSGIMiddleware(flask_module.flask_app)

    async def main() -> list[dict[str, Any]]:
        incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return incoming.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app({"type": "lifespan"}, receive, send)
        await app({"type": "websocket", "path": "/"}, receive, send)
        return sent

    assert [m["type"] for m in asyncio.run(main())] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
        "websocket.close",
    ]


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"workers": 0}, ValueError),
        ({"workers": "4"}, ValueError),
        ({"workers": True}, ValueError),
        ({"max_body_size": -1}, ValueError),
        ({"max_body_size": 1.5}, ValueError),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error, match=r"workers|max_body_size"):
        WSGIMiddleware(flask_module.flask_app, **options)


def test_a_non_callable_app_is_refused() -> None:
    with pytest.raises(TypeError, match="WSGI app"):
        WSGIMiddleware("app")  # type: ignore[arg-type]


# -- a real server ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    yield from uvicorn("apps.flask_app:app")


def test_flask_on_uvicorn(server: str) -> None:
    with httpx.Client(base_url=f"http://{server}", timeout=WAIT) as http:
        assert http.get("/legacy/hello/ada").json()["self"] == "/legacy/hello/ada"
        assert http.post("/legacy/form", data={"a": "1"}).json() == {"fields": {"a": ["1"]}}
        big = http.post("/legacy/size", content=iter([b"x" * 65536] * 17))
        assert big.status_code == 413
        boom = http.get("/legacy/boom")
        assert boom.status_code == 500 and "secret" not in boom.text
        with http.stream("GET", "/legacy/stream", params={"n": 200}) as stream:
            text = b"".join(stream.iter_raw()).decode()
        assert text == "".join(f"chunk {i}\n" for i in range(200))
        # A client leaving an endless stream frees the only worker of /single.
        with http.stream("GET", "/single/endless") as stream:
            for _ in stream.iter_raw(1024):
                break
        assert http.get("/single/").text == "flask index"
