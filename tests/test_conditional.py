"""Conditional requests: the `etag` route option (ETags for handlers' responses, 304 and
412), `bare.conditional.check_preconditions` for handlers that change state, and the one
entity-tag comparison FileResponse and StaticFiles share with them."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bare import (
    Bare,
    FileResponse,
    HTTPException,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Request,
    Response,
    StreamingResponse,
)
from bare._conditional import (
    evaluate,
    http_date,
    is_entity_tag,
    list_matches,
    strongly_equal,
)
from bare.background import BackgroundTask
from bare.conditional import check_preconditions, etag_for
from bare.staticfiles import StaticFiles
from bare.testing import TestClient
from bare.types import Message

SMALL = {"items": [{"id": i, "name": f"item {i}"} for i in range(40)]}  # about 1 KB
LARGE = {"items": [{"id": i, "name": f"item {i}"} for i in range(800)]}  # about 20 KB
TAG = '"v1"'


def _app(**options: Any) -> Bare:
    app = Bare(**options)

    @app.get("/text")
    async def text(request: Request) -> str:
        return "hello"

    @app.get("/small")
    async def small(request: Request) -> dict[str, Any]:
        return SMALL

    @app.get("/large")
    def large(request: Request) -> dict[str, Any]:  # sync: hashed in its worker thread
        return LARGE

    @app.get("/list")
    async def listing(request: Request) -> list[int]:
        return [1, 2, 3]

    @app.get("/bytes")
    async def raw(request: Request) -> bytes:
        return b"\x00\x01"

    @app.get("/none")
    async def nothing(request: Request) -> None:
        return None

    @app.get("/tagged")
    async def tagged(request: Request) -> Response:
        return JSONResponse(
            {"a": 1},
            headers={
                "etag": TAG,
                "cache-control": "max-age=60",
                "vary": "Accept-Language",
                "content-location": "/tagged.json",
                "expires": "Thu, 01 Dec 2044 16:00:00 GMT",
                "date": "Thu, 01 Dec 2024 16:00:00 GMT",
                "content-language": "en",
            },
        )

    @app.get("/weak")
    async def weak(request: Request) -> Response:
        return PlainTextResponse("w", headers={"etag": 'W/"w1"'})

    @app.get("/dated")
    async def dated(request: Request) -> Response:
        return PlainTextResponse("d", headers={"last-modified": "Wed, 01 Jan 2025 00:00:00 GMT"})

    @app.get("/missing")
    async def missing(request: Request) -> Response:
        return JSONResponse({"detail": "nope"}, 404)

    @app.get("/created")
    async def created(request: Request) -> Response:
        return JSONResponse({"id": 1}, 201)

    @app.get("/moved")
    async def moved(request: Request) -> Response:
        return RedirectResponse("/small")

    @app.get("/refused")
    async def refused(request: Request) -> None:
        raise HTTPException(403)

    @app.route("/notes", methods=["GET", "POST", "PUT"])
    async def notes(request: Request) -> dict[str, str]:
        return {"method": request.method}

    return app


# -- the option off: nothing changes --------------------------------------------------------


def test_without_the_option_responses_get_no_etag_and_preconditions_are_ignored() -> None:
    client = TestClient(_app())
    response = client.get("/small")
    assert "etag" not in response.headers
    assert client.get("/small", headers={"if-none-match": "*"}).status_code == 200
    assert client.get("/small", headers={"if-match": '"nope"'}).status_code == 200


def test_without_the_option_the_route_callable_is_not_wrapped() -> None:
    script = (
        "import sys\n"
        "from bare import Bare\n"
        "from bare.testing import TestClient\n"
        "app = Bare()\n"
        "app.add_route('/', lambda r: {'a': 1})\n"
        "assert TestClient(app).get('/').status_code == 200\n"
        "print('bare._conditional' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_the_option_is_decided_when_the_route_is_bound() -> None:
    from bare import _conditional
    from bare.responses import json_messages, text_messages

    app = Bare()

    @app.get("/on", etag=True)
    async def on(request: Request) -> str:
        return ""

    @app.get("/off")
    async def off(request: Request) -> str:
        return ""

    def builders(path: str) -> set[Any]:
        route = next(r for r in app.router.routes if getattr(r, "path", None) == path)
        return {cell.cell_contents for cell in route.handle.__closure__}  # type: ignore[union-attr]

    assert {text_messages, json_messages, Response} <= builders("/off")
    assert not set(_conditional.HOOKS) & builders("/off")
    assert set(_conditional.HOOKS) <= builders("/on")


@pytest.mark.parametrize(
    "value",
    ["", "caf\u00e9", "x" * 5000, {"a": [1, None]}, []],
    ids=["empty", "accented", "long", "dict", "list"],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("extra", [None, [(b"x-extra", b"1")]])
def test_the_options_200_is_the_plain_one_and_an_etag(value: Any, method: str, extra: Any) -> None:
    from bare._conditional import HOOKS
    from bare.middleware import RESPONSE_HEADERS_KEY
    from bare.responses import json_messages, text_messages

    scope: dict[str, Any] = {"type": "http", "method": method, "headers": []}
    if extra is not None:
        scope[RESPONSE_HEADERS_KEY] = extra
    plain = text_messages if isinstance(value, str) else json_messages
    tagged = HOOKS[0] if isinstance(value, str) else HOOKS[1]
    start, body = plain(scope, value)
    tagged_start, tagged_body = tagged(scope, value)
    assert tagged_body == body
    content = (
        value.encode()
        if isinstance(value, str)
        else json.dumps(value, separators=(",", ":")).encode()
    )
    etag = (b"etag", etag_for(content).encode())
    assert tagged_start == {**start, "headers": [*start["headers"], etag]}


# -- ETags for 200s to GET and HEAD ----------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/text", "/small", "/large", "/list", "/bytes", "/none"], ids=lambda p: p[1:]
)
def test_a_200_gets_a_strong_etag_from_its_body(path: str) -> None:
    client = TestClient(_app(etag=True))
    response = client.get(path)
    assert response.status_code == 200
    tag = response.headers["etag"]
    assert tag == etag_for(response.content)
    assert tag.startswith('"') and tag.endswith('"') and len(tag) == 34
    assert client.get(path).headers["etag"] == tag  # the same body, the same tag
    head = client.head(path)
    assert head.headers["etag"] == tag and head.content == b""
    assert head.headers.get("content-length") == response.headers.get("content-length")


def test_different_bodies_get_different_tags() -> None:
    client = TestClient(_app(etag=True))
    tags = {client.get(path).headers["etag"] for path in ("/text", "/small", "/large", "/list")}
    assert len(tags) == 4


def test_the_handlers_own_etag_is_kept() -> None:
    client = TestClient(_app(etag=True))
    response = client.get("/tagged")
    assert response.headers.getlist("etag") == [TAG]


def test_a_handlers_etag_that_is_not_an_entity_tag_disables_the_answers() -> None:
    app = Bare(etag=True)

    @app.get("/")
    async def handler(request: Request) -> Response:
        return PlainTextResponse("x", headers={"etag": "unquoted"})

    client = TestClient(app)
    for headers in ({"if-none-match": "unquoted"}, {"if-none-match": "*"}, {"if-match": '"x"'}):
        response = client.get("/", headers=headers)
        assert response.status_code == 200 and response.headers["etag"] == "unquoted"


def test_the_route_option_beats_the_apps() -> None:
    app = Bare(etag=True)

    @app.get("/off", etag=False)
    async def off(request: Request) -> str:
        return "x"

    @app.get("/on")
    async def on(request: Request) -> str:
        return "x"

    client = TestClient(app)
    assert "etag" not in client.get("/off").headers
    assert "etag" in client.get("/on").headers
    other = Bare()
    other.add_route("/", lambda request: "x", etag=True)
    assert "etag" in TestClient(other).get("/").headers


@pytest.mark.parametrize(
    "path", ["/missing", "/created", "/moved", "/refused"], ids=lambda p: p[1:]
)
def test_other_statuses_are_left_alone(path: str) -> None:
    client = TestClient(_app(etag=True), follow_redirects=False)
    plain = TestClient(_app(), follow_redirects=False).get(path)
    response = client.get(path, headers={"if-none-match": "*", "if-match": '"x"'})
    assert response.status_code == plain.status_code
    assert "etag" not in response.headers
    assert response.content == plain.content


def test_unsafe_methods_are_left_to_the_handler() -> None:
    client = TestClient(_app(etag=True))
    for method in ("POST", "PUT"):
        response = client.request(method, "/notes", headers={"if-match": '"stale"'})
        assert response.status_code == 200 and response.json() == {"method": method}
        assert "etag" not in response.headers
    assert "etag" in client.get("/notes").headers


# -- If-None-Match: 304 ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("path", ["/text", "/small", "/large", "/tagged"], ids=lambda p: p[1:])
def test_a_matching_if_none_match_is_a_304_without_body(method: str, path: str) -> None:
    client = TestClient(_app(etag=True))
    tag = client.get(path).headers["etag"]
    response = client.request(method, path, headers={"if-none-match": tag})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == tag
    assert "content-length" not in response.headers
    assert "content-type" not in response.headers


def test_a_304_keeps_what_rfc_9110_asks_and_drops_the_content_headers() -> None:
    client = TestClient(_app(etag=True))
    response = client.get("/tagged", headers={"if-none-match": TAG})
    assert response.status_code == 304
    assert dict(response.headers) == {
        "etag": TAG,
        "cache-control": "max-age=60",
        "vary": "Accept-Language",
        "content-location": "/tagged.json",
        "expires": "Thu, 01 Dec 2044 16:00:00 GMT",
        "date": "Thu, 01 Dec 2024 16:00:00 GMT",
    }


def test_a_304_keeps_cookies_and_middleware_headers() -> None:
    app = Bare(etag=True)

    @app.get("/")
    async def handler(request: Request) -> Response:
        return PlainTextResponse("x").set_cookie("seen", "1")

    async def outer(scope: Any, receive: Any, send: Any) -> None:
        async def add(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], (b"x-outer", b"1")]}
            await send(message)

        await app(scope, receive, add)

    client = TestClient(outer)
    tag = client.get("/").headers["etag"]
    response = client.get("/", headers={"if-none-match": tag})
    assert response.status_code == 304
    assert "seen=1" in response.headers["set-cookie"] and response.headers["x-outer"] == "1"


@pytest.mark.parametrize(
    "header",
    [
        "{tag}",
        "W/{tag}",
        '"a", {tag}',
        '"a",{tag},"b"',
        '  "a" ,\t{tag}\t, ',
        '"x,y", {tag}',
        '"a,", W/{tag}',
        ",,,{tag},,,",
        "*",
        " * ",
        '"a", *',
    ],
    ids=[
        "exact",
        "weak",
        "listed",
        "no_spaces",
        "whitespace",
        "comma_inside_quotes",
        "comma_inside_then_weak",
        "empty_elements",
        "star",
        "spaced_star",
        "star_in_list",
    ],
)
def test_if_none_match_compares_weakly_over_the_whole_list(header: str, asgi_call: Any) -> None:
    app = _app(etag=True)
    tag = TestClient(app).get("/small").headers["etag"]
    value = header.format(tag=tag).encode()
    reply = asgi_call(app, "GET", "/small", headers=[(b"host", b"t"), (b"if-none-match", value)])
    assert reply.status == 304


@pytest.mark.parametrize(
    "header",
    [
        "",
        " ",
        '"other"',
        "{bare}",
        "W/{bare}",
        '"{bare}',
        '{bare}"',
        '"a{tag}"',
        "x{tag}",
        "{tag}x",
        '"{bare}, ',
        "w/{tag}",
        "**",
        '"*"',
        '"a,{tag}"',
    ],
    ids=[
        "empty",
        "blank",
        "other",
        "unquoted",
        "weak_unquoted",
        "unclosed",
        "unopened",
        "inside_another",
        "prefixed",
        "suffixed",
        "open_list",
        "lowercase_weak",
        "double_star",
        "quoted_star",
        "inside_quotes",
    ],
)
def test_a_malformed_or_other_if_none_match_matches_nothing(header: str, asgi_call: Any) -> None:
    app = _app(etag=True)
    tag = TestClient(app).get("/small").headers["etag"]
    value = header.format(tag=tag, bare=tag.strip('"')).encode()
    reply = asgi_call(app, "GET", "/small", headers=[(b"host", b"t"), (b"if-none-match", value)])
    assert reply.status == 200
    assert reply.json() == SMALL


def test_several_if_none_match_lines_make_one_list(asgi_call: Any) -> None:
    app = _app(etag=True)
    tag = TestClient(app).get("/small").headers["etag"].encode()
    for lines in ([b'"a"', tag], [tag, b'"a"'], [b'"a", "b"', b"W/" + tag]):
        headers = [(b"host", b"t"), *((b"if-none-match", line) for line in lines)]
        assert asgi_call(app, "GET", "/small", headers=headers).status == 304
    headers = [(b"host", b"t"), (b"if-none-match", b'"a"'), (b"if-none-match", b'"b"')]
    assert asgi_call(app, "GET", "/small", headers=headers).status == 200


def test_a_handlers_weak_etag_matches_if_none_match_weakly() -> None:
    client = TestClient(_app(etag=True))
    for header in ('W/"w1"', '"w1"'):
        assert client.get("/weak", headers={"if-none-match": header}).status_code == 304


def test_if_modified_since_against_the_handlers_last_modified() -> None:
    client = TestClient(_app(etag=True))
    same = "Wed, 01 Jan 2025 00:00:00 GMT"
    later = "Thu, 02 Jan 2025 00:00:00 GMT"
    earlier = "Tue, 31 Dec 2024 00:00:00 GMT"
    assert client.get("/dated", headers={"if-modified-since": same}).status_code == 304
    assert client.get("/dated", headers={"if-modified-since": later}).status_code == 304
    assert client.get("/dated", headers={"if-modified-since": earlier}).status_code == 200
    assert client.get("/dated", headers={"if-modified-since": "garbage"}).status_code == 200
    # If-None-Match wins over it.
    both = {"if-modified-since": later, "if-none-match": '"other"'}
    assert client.get("/dated", headers=both).status_code == 200
    assert client.get("/dated", headers={"if-unmodified-since": earlier}).status_code == 412
    assert client.get("/dated", headers={"if-unmodified-since": same}).status_code == 200


# -- If-Match on GET: 412 ----------------------------------------------------------------------


def test_if_match_on_get_uses_strong_comparison() -> None:
    client = TestClient(_app(etag=True))
    tag = client.get("/small").headers["etag"]
    for header in (tag, "*", f'"a", {tag}'):
        response = client.get("/small", headers={"if-match": header})
        assert response.status_code == 200 and response.json() == SMALL
    for header in ('"other"', f"W/{tag}", "", tag.strip('"')):
        response = client.get("/small", headers={"if-match": header})
        assert response.status_code == 412, header
        assert response.json() == {"detail": "Precondition Failed"}
    # A weak current tag never matches strongly, not even itself.
    assert client.get("/weak", headers={"if-match": 'W/"w1"'}).status_code == 412


def test_if_match_is_evaluated_before_if_none_match() -> None:
    client = TestClient(_app(etag=True))
    tag = client.get("/small").headers["etag"]
    headers = {"if-match": '"stale"', "if-none-match": tag}
    assert client.get("/small", headers=headers).status_code == 412
    headers = {"if-match": tag, "if-none-match": tag}
    assert client.get("/small", headers=headers).status_code == 304


def test_a_412_goes_through_the_apps_exception_handlers() -> None:
    app = _app(etag=True)

    @app.exception_handler(412)
    async def stale(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("reload first", 412)

    response = TestClient(app).get("/small", headers={"if-match": '"stale"'})
    assert (response.status_code, response.text) == (412, "reload first")


# -- responses that send themselves ----------------------------------------------------------


def _stream_app(log: list[str], tag: str | None) -> Bare:
    app = Bare(etag=True)

    @app.get("/")
    async def handler(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            try:
                for n in range(3):
                    log.append(f"made {n}")
                    yield f"{n}\n".encode()
            finally:
                log.append("closed")

        headers = {"etag": tag} if tag else None
        return StreamingResponse(
            chunks(), headers=headers, background=BackgroundTask(log.append, "task")
        )

    return app


def _serve(
    app: Any, headers: list[tuple[bytes, bytes]], log: list[str], method: str = "GET"
) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "method": method,
        "path": "/",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"t"), *headers],
    }
    status = 0

    async def receive() -> Message:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            log.append(f"start {status}")
        else:
            log.append("sent " + message.get("body", b"").decode())

    asyncio.run(app(scope, receive, send))
    return status


def test_a_stream_without_etag_goes_out_untouched_and_unbuffered() -> None:
    log: list[str] = []
    assert _serve(_stream_app(log, None), [(b"if-none-match", b"*")], log) == 200
    # The start went out before the first chunk was made: nothing was held back.
    assert log == [
        "start 200",
        "made 0",
        "sent 0\n",
        "made 1",
        "sent 1\n",
        "made 2",
        "sent 2\n",
        "closed",
        "sent ",
        "task",
    ]


def test_a_stream_with_the_handlers_etag_is_answered_from_its_start() -> None:
    log: list[str] = []
    assert _serve(_stream_app(log, TAG), [(b"if-none-match", TAG.encode())], log) == 304
    # Stopped at its first chunk, closed, and its tasks ran after the 304.
    assert log == ["start 304", "sent ", "made 0", "closed", "task"]
    log.clear()
    assert _serve(_stream_app(log, TAG), [(b"if-match", b'"other"')], log) == 412
    # Refused before its first chunk was made, by the app's error response; no tasks.
    assert log == ["start 412", 'sent {"detail":"Precondition Failed"}']
    log.clear()
    assert _serve(_stream_app(log, TAG), [(b"if-none-match", b'"other"')], log) == 200
    assert log[-2:] == ["sent ", "task"]
    log.clear()
    assert _serve(_stream_app(log, TAG), [(b"if-none-match", TAG.encode())], log, "HEAD") == 304


def test_a_stream_to_another_method_is_sent_as_it_is() -> None:
    app = Bare(etag=True)

    @app.post("/")
    async def handler(request: Request) -> StreamingResponse:
        return StreamingResponse(iter([b"a", b"b"]), headers={"etag": TAG})

    response = TestClient(app).post("/", headers={"if-match": '"other"', "if-none-match": TAG})
    assert (response.status_code, response.content) == (200, b"ab")


class _FailsAfterItsStart(Response):
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.started = True
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("the body could not be made")


def test_a_start_held_back_still_lets_an_error_page_out() -> None:
    app = Bare(etag=True)

    @app.get("/")
    async def handler(request: Request) -> Response:
        return _FailsAfterItsStart()

    response = TestClient(app, raise_server_exceptions=False).get("/")
    # Nothing had gone out (the start waited for the body): a clean 500.
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}


class _OwnCall(Response):
    """A one-piece response with a `__call__` of its own."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.started = True
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        body = b"" if scope["method"] == "HEAD" else self.body
        await send({"type": "http.response.body", "body": body})
        await self.run_background(scope)


class _Dated(_OwnCall):
    def __init__(self) -> None:
        super().__init__(b"dated", headers={"last-modified": "Wed, 01 Jan 2025 00:00:00 GMT"})


def test_a_response_that_sends_itself_answers_if_modified_since() -> None:
    app = Bare(etag=True)

    @app.get("/")
    async def dated(request: Request) -> Response:
        return _Dated()

    client = TestClient(app)
    later = {"if-modified-since": "Thu, 02 Jan 2025 00:00:00 GMT"}
    earlier = {"if-modified-since": "Tue, 31 Dec 2024 00:00:00 GMT"}
    assert client.get("/", headers=later).status_code == 304
    response = client.get("/", headers=earlier)
    assert response.status_code == 200 and response.headers["etag"] == etag_for(b"dated")


class _TwoPieces(Response):
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.started = True
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"b"})


class _OwnMessages(Response):
    def messages(self, scope: Any) -> tuple[Message, Message]:
        start, body = super().messages(scope)
        return {**start, "headers": [*start["headers"], (b"x-own", b"1")]}, body


def test_a_one_piece_response_that_sends_itself_is_hashed() -> None:
    log: list[str] = []
    app = Bare(etag=True)

    @app.route("/own", methods=["GET", "HEAD"])
    async def own(request: Request) -> Response:
        return _OwnCall(b"own body", background=BackgroundTask(log.append, "task"))

    @app.get("/messages")
    async def messages(request: Request) -> Response:
        return _OwnMessages(b"messages")

    @app.get("/two")
    async def two(request: Request) -> Response:
        return _TwoPieces()

    client = TestClient(app)
    tag = client.get("/own").headers["etag"]
    assert tag == etag_for(b"own body")
    assert client.head("/own").headers["etag"] == tag
    response = client.get("/own", headers={"if-none-match": tag})
    assert response.status_code == 304 and response.content == b""
    assert log == ["task", "task", "task"]
    assert client.get("/own", headers={"if-match": '"other"'}).status_code == 412
    assert log == ["task", "task", "task"]  # not after a 412
    assert client.get("/messages").headers["etag"] == etag_for(b"messages")
    assert client.get("/messages").headers["x-own"] == "1"
    pieces = client.get("/two", headers={"if-none-match": "*"})
    assert pieces.status_code == 200 and pieces.content == b"ab" and "etag" not in pieces.headers


def test_an_async_template_is_hashed_as_it_is_sent() -> None:
    jinja2 = pytest.importorskip("jinja2")
    from bare.templating import TemplateResponse

    env = jinja2.Environment(
        loader=jinja2.DictLoader({"t.html": "<p>{{ n }}</p>"}), enable_async=True, autoescape=True
    )
    app = Bare(etag=True)

    @app.route("/", methods=["GET", "HEAD"])
    async def page(request: Request) -> Response:
        return TemplateResponse(env.get_template("t.html"), {"n": 5})

    client = TestClient(app)
    response = client.get("/")
    assert response.text == "<p>5</p>" and response.headers["etag"] == etag_for(b"<p>5</p>")
    assert client.head("/").headers["etag"] == response.headers["etag"]
    assert client.get("/", headers={"if-none-match": response.headers["etag"]}).status_code == 304


def test_a_file_answers_its_own_preconditions(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("file")
    app = Bare(etag=True)

    @app.get("/f")
    async def handler(request: Request) -> FileResponse:
        return FileResponse(path)

    client = TestClient(app)
    tag = client.get("/f").headers["etag"]
    assert tag.count("-") == 1  # the file's own tag, not a hash of its body
    assert client.get("/f", headers={"if-none-match": tag}).status_code == 304
    assert client.get("/f", headers={"if-match": '"other"'}).status_code == 412
    assert client.get("/f", headers={"if-match": tag}).status_code == 200


def test_behind_compression_the_weakened_tag_still_revalidates() -> None:
    from bare.middleware.compression import CompressionMiddleware

    app = _app(etag=True)
    app.add_middleware(CompressionMiddleware)
    client = TestClient(app)
    gzip = {"accept-encoding": "gzip"}
    first = client.get("/large", headers=gzip)
    assert first.headers["content-encoding"] == "gzip"
    tag = first.headers["etag"]
    assert tag.startswith('W/"')  # the compressed bytes are not what was hashed
    again = client.get("/large", headers={**gzip, "if-none-match": tag})
    assert again.status_code == 304 and again.headers["etag"] == tag
    plain = client.get("/large", headers={"accept-encoding": "identity", "if-none-match": tag})
    assert plain.status_code == 304 and plain.headers["etag"] == tag.removeprefix("W/")


# -- background tasks and 304/412 --------------------------------------------------------------


def test_tasks_run_after_a_304_but_not_after_a_412() -> None:
    log: list[str] = []
    app = Bare(etag=True)

    @app.get("/")
    async def handler(request: Request) -> Response:
        request.add_background_task(log.append, "request")
        return JSONResponse(SMALL, background=BackgroundTask(log.append, "response"))

    client = TestClient(app)
    tag = client.get("/").headers["etag"]
    log.clear()
    assert client.get("/", headers={"if-none-match": tag}).status_code == 304
    assert log == ["response", "request"]
    log.clear()
    assert client.get("/", headers={"if-match": '"other"'}).status_code == 412
    assert log == []


# -- hostile headers ----------------------------------------------------------------------


T, F = True, False


def _hostile(tag: bytes) -> list[bytes]:
    n = 100_000
    return [
        b"," * n + tag,
        b'"' * n + tag,
        b'"a,' * (n // 3) + tag,
        b"W/" * (n // 2) + tag,
        b" " * n + tag,
        b"\t," * (n // 2) + tag,
        b"*" * n,
        b'"*' * (n // 2),
        b'W/"' * (n // 3) + tag,
        tag * (n // len(tag)),
        (tag + b"x") * (n // len(tag)),
        b'"' + b"," * n,
        b"x" * n + b", " + tag,
    ]


def test_hostile_lists_are_scanned_in_linear_time() -> None:
    # Linear work on these takes milliseconds; a quadratic scan would take minutes and
    # trip the suite's timeout (no wall-clock assertion: the machine may be slow).
    tag = etag_for(b"x").encode()
    for strong in (False, True):
        results = [list_matches(value, tag, True, strong) for value in _hostile(tag)]
        # A malformed element is skipped up to the next comma (the third: even one that
        # opens a quote); tags must be separated by commas (the tenth).
        assert results == [T, F, T, F, T, T, F, F, F, F, F, F, T]


def test_hostile_headers_get_a_plain_answer(asgi_call: Any) -> None:
    app = _app(etag=True)
    tag = TestClient(app).get("/small").headers["etag"].encode()
    for value in _hostile(tag):
        for name in (b"if-none-match", b"if-match"):
            reply = asgi_call(app, "GET", "/small", headers=[(b"host", b"t"), (name, value)])
            assert reply.status in (200, 304, 412)
    many = [(b"if-none-match", b'"a"' * 1000)] * 90 + [(b"if-none-match", tag)]
    assert asgi_call(app, "GET", "/small", headers=[(b"host", b"t"), *many]).status == 304


# -- the comparison itself -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "etag", "strong", "expected"),
    [
        (b'"a"', b'"a"', True, True),
        (b'W/"a"', b'"a"', True, False),
        (b'"a"', b'W/"a"', True, False),
        (b'W/"a"', b'W/"a"', True, False),
        (b'W/"a"', b'"a"', False, True),
        (b'"a"', b'W/"a"', False, True),
        (b'W/"a"', b'W/"a"', False, True),
        (b'"b", "a"', b'"a"', True, True),
        (b'"a,b"', b'"a"', False, False),
        (b'"a,b"', b'"a,b"', False, True),
        (b'"x,y", "a,b"', b'"a,b"', True, True),
        (b"a", b'"a"', False, False),
        (b'"a" "b"', b'"a"', False, False),
        (b'"A"', b'"a"', False, False),
        (b"*", None, False, False),
        (b'"a"', None, False, False),
    ],
    ids=[
        "strong_same",
        "strong_weak_given",
        "strong_weak_current",
        "strong_both_weak",
        "weak_weak_given",
        "weak_weak_current",
        "weak_both_weak",
        "strong_in_list",
        "comma_inside_other",
        "comma_inside_same",
        "commas_inside_list",
        "unquoted",
        "no_comma",
        "case_differs",
        "star_nothing_there",
        "tag_nothing_there",
    ],
)
def test_list_matches(value: bytes, etag: bytes | None, strong: bool, expected: bool) -> None:
    assert list_matches(value, etag, etag is not None, strong) is expected


def test_strong_equality_and_entity_tags() -> None:
    assert strongly_equal(b'"a"', b'"a"')
    assert not strongly_equal(b'W/"a"', b'W/"a"')
    assert not strongly_equal(b'"a"', b'"b"')
    assert [is_entity_tag(v) for v in (b'"a"', b'W/"a"', b'""', b"a", b'"a', b'"a"b"', b"W/a")] == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"Wed, 01 Jan 2025 00:00:00 GMT", 1735689600),
        (b"Wed, 01 Jan 2025 00:00:00 -0000", 1735689600),
        (b"Wednesday, 01-Jan-25 00:00:00 GMT", 1735689600),
        (b"garbage", None),
        (b"", None),
        (b"Wed, 01 Jan 2025 00:00:00 GMT" + b" " * 100, None),
        (b"\xff\xfe", None),
    ],
    ids=["imf", "minus_zero", "rfc850", "garbage", "empty", "too_long", "binary"],
)
def test_http_dates(value: bytes, expected: int | None) -> None:
    assert http_date(value) == expected


def test_a_date_given_twice_is_ignored() -> None:
    date = b"Wed, 01 Jan 2025 00:00:00 GMT"
    scope = {"method": "GET", "headers": [(b"if-modified-since", date)] * 2}
    assert evaluate(scope, None, 1735689600) is None
    assert evaluate({**scope, "headers": scope["headers"][:1]}, None, 1735689600) == 304
    scope = {"method": "PUT", "headers": [(b"if-unmodified-since", date)] * 2}
    assert evaluate(scope, None, 1735689700) is None


# -- check_preconditions: before a handler changes anything --------------------------------------


class _Store:
    def __init__(self) -> None:
        self.version = 1
        self.text = "first"
        self.deleted = False

    @property
    def etag(self) -> str:
        return f'"v{self.version}"'


def _store_app(store: _Store) -> Bare:
    app = Bare()

    @app.route("/doc", methods=["GET", "PUT", "PATCH", "DELETE"])
    async def doc(request: Request) -> Any:
        if request.method == "GET":
            early = check_preconditions(
                request, etag=store.etag, headers={"cache-control": "no-cache"}
            )
            if early is not None:
                return early
            return JSONResponse({"text": store.text}, headers={"etag": store.etag})
        check_preconditions(request, etag=store.etag, exists=not store.deleted)
        if request.method == "DELETE":
            store.deleted = True
        else:
            store.text = (await request.json())["text"]
            store.version += 1
            store.deleted = False
        return JSONResponse({"text": store.text}, headers={"etag": store.etag})

    return app


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_if_match_guards_changes(method: str) -> None:
    store = _Store()
    client = TestClient(_store_app(store))
    body = {"text": "second"}
    for header in ('"v0"', 'W/"v1"', "v1", ""):
        response = client.request(method, "/doc", json=body, headers={"if-match": header})
        assert response.status_code == 412, header
        assert (store.version, store.deleted) == (1, False)  # nothing changed
    for header in ('"v1"', '"v0", "v1"'):
        store.version, store.deleted = 1, False
        response = client.request(method, "/doc", json=body, headers={"if-match": header})
        assert response.status_code == 200, header
    store.version, store.deleted = 1, False
    assert client.request(method, "/doc", json=body, headers={"if-match": "*"}).status_code == 200
    # The second writer with the same old tag loses.
    if method != "DELETE":
        late = client.request(method, "/doc", json={"text": "late"}, headers={"if-match": '"v1"'})
        assert late.status_code == 412 and store.text == "second"


def test_if_match_star_fails_and_if_none_match_star_passes_when_nothing_exists() -> None:
    store = _Store()
    store.deleted = True
    client = TestClient(_store_app(store))
    assert client.put("/doc", json={"text": "x"}, headers={"if-match": "*"}).status_code == 412
    assert client.put("/doc", json={"text": "x"}, headers={"if-none-match": "*"}).status_code == 200
    # Now it exists: create-only fails.
    assert client.put("/doc", json={"text": "y"}, headers={"if-none-match": "*"}).status_code == 412
    assert store.text == "x"


def test_check_preconditions_answers_a_get_with_a_304() -> None:
    store = _Store()
    client = TestClient(_store_app(store))
    response = client.get("/doc", headers={"if-none-match": 'W/"v1"'})
    assert response.status_code == 304
    assert dict(response.headers) == {"cache-control": "no-cache", "etag": '"v1"'}
    assert client.get("/doc", headers={"if-none-match": '"v0"'}).status_code == 200
    assert client.get("/doc", headers={"if-match": '"v0"'}).status_code == 412


def _request(method: str, **headers: str) -> Request:
    raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": method, "headers": raw}, _no_receive)


async def _no_receive() -> Message:  # pragma: no cover - never read
    raise AssertionError


def test_check_preconditions_with_dates() -> None:
    changed = datetime(2025, 1, 1, tzinfo=timezone.utc)
    at = format_datetime(changed, usegmt=True)
    before = format_datetime(changed - timedelta(days=1), usegmt=True)
    response = check_preconditions(_request("GET", if_modified_since=at), last_modified=changed)
    assert response is not None and response.status == 304
    assert response.headers["last-modified"] == at
    assert (
        check_preconditions(_request("GET", if_modified_since=before), last_modified=changed)
        is None
    )
    with pytest.raises(HTTPException) as caught:
        check_preconditions(
            _request("PUT", if_unmodified_since=before), last_modified=changed.timestamp()
        )
    assert caught.value.status == 412
    assert (
        check_preconditions(_request("PUT", if_unmodified_since=at), last_modified=changed) is None
    )
    # If-Match comes first: with it, If-Unmodified-Since is not looked at.
    request = _request("PUT", if_match='"a"', if_unmodified_since=before)
    assert check_preconditions(request, etag='"a"', last_modified=changed) is None


def test_check_preconditions_refuses_mistakes() -> None:
    request = _request("GET")
    assert check_preconditions(request, etag="v1") is None  # quoted for you
    for bad, message in (
        ('"v1', "opens a quote"),
        ('"v"1"', "only visible characters"),
        ("v 1", "only visible characters"),
        ("v\n1", "only visible characters"),
        ("caf\u00e9\u20ac", "only visible characters"),
    ):
        with pytest.raises(ValueError, match=message):
            check_preconditions(request, etag=bad)
    with pytest.raises(TypeError, match="etag= is a str"):
        check_preconditions(request, etag=b'"v1"')  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="naive datetime"):
        check_preconditions(request, last_modified=datetime(2025, 1, 1))
    with pytest.raises(TypeError, match="aware datetime or a timestamp"):
        check_preconditions(request, last_modified="yesterday")  # type: ignore[arg-type]
    # The quoted form and the bare one name the same tag.
    request = _request("GET", if_none_match='"v1"')
    for etag in ("v1", '"v1"'):
        response = check_preconditions(request, etag=etag)
        assert response is not None and response.headers["etag"] == '"v1"'


# -- static files share the comparison ------------------------------------------------------------


def test_static_files_answer_if_match_and_comma_tags(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("static")
    app = Bare()
    app.mount("/s", StaticFiles(directory=tmp_path))
    client = TestClient(app)
    tag = client.get("/s/a.txt").headers["etag"]
    # One tag whose text holds a comma and the file's tag: not the file's tag.
    inside = '"x,' + tag[1:]
    assert client.get("/s/a.txt", headers={"if-none-match": inside}).status_code == 200
    assert client.get("/s/a.txt", headers={"if-none-match": f'"x,y", {tag}'}).status_code == 304
    assert client.get("/s/a.txt", headers={"if-match": '"x"'}).status_code == 412
    ranged = client.get("/s/a.txt", headers={"if-match": tag, "range": "bytes=0-1"})
    assert ranged.status_code == 206 and ranged.content == b"st"
    assert (
        client.get("/s/a.txt", headers={"if-range": f"W/{tag}", "range": "bytes=0-1"}).status_code
        == 200
    )


# -- the hash -------------------------------------------------------------------------------


def test_etag_for_is_stable() -> None:
    assert etag_for(b"") == '"e3b0c44298fc1c149afbf4c8996fb924"'  # SHA-256 of nothing, 128 bits
    assert etag_for(json.dumps(SMALL).encode()) == etag_for(json.dumps(SMALL).encode())


# -- list_matches against a deliberately simple oracle ----------------------------------


def _oracle_matches(value: bytes, etag: bytes | None, exists: bool, strong: bool) -> bool:
    """RFC 9110 8.8.3 and 13.1.1, spelled out, with the documented recovery: from the
    start of each element, a quoted tag (or `*`) then blanks then a comma or the end is
    an element; anything else is skipped up to the next comma."""
    elements: list[bytes] = []
    i = 0
    while i < len(value):
        while i < len(value) and value[i : i + 1] in (b" ", b"\t"):
            i += 1
        j = i + 2 if value[i : i + 2] == b"W/" else i
        taken = None
        if value[j : j + 1] == b'"' and b'"' in value[j + 1 :]:
            end = value.index(b'"', j + 1) + 1
            taken = (value[i:end], end)
        elif value[i : i + 1] == b"*":
            taken = (b"*", i + 1)
        if taken is not None:
            k = taken[1]
            while k < len(value) and value[k : k + 1] in (b" ", b"\t"):
                k += 1
            if k == len(value) or value[k : k + 1] == b",":
                elements.append(taken[0])
                i = k + 1
                continue
        comma = value.find(b",", i)
        i = len(value) if comma < 0 else comma + 1
    for element in elements:
        if element == b"*":
            if exists:
                return True
            continue
        weak = element.startswith(b"W/")
        if etag is None:
            continue
        etag_weak = etag.startswith(b"W/")
        if strong and (weak or etag_weak):
            continue
        if (element[2:] if weak else element) == (etag[2:] if etag_weak else etag):
            return True
    return False


_PIECES = [b'"a"', b'W/"a"', b'"b"', b'W/"b"', b"*", b'"a,b"', b"a", b" ", b",", b'"', b"W/"]


@settings(max_examples=500, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(_PIECES), max_size=6),
    etag=st.sampled_from([b'"a"', b'W/"a"', b'"a,b"', None]),
    strong=st.booleans(),
    exists=st.booleans(),
)
def test_list_matches_agrees_with_the_oracle(
    pieces: list[bytes], etag: bytes | None, strong: bool, exists: bool
) -> None:
    # Guards the two PERF shortcuts of bare._conditional.list_matches.
    value = b"".join(pieces)
    assert list_matches(value, etag, exists, strong) is _oracle_matches(value, etag, exists, strong)
