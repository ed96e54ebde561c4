"""bare.staticfiles.StaticFiles: lookup and containment, validators, ranges, html mode."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import bare.responses
import bare.staticfiles
from bare import Bare
from bare._ranges import MAX_RANGES, UNSATISFIABLE, merge, parse_ranges
from bare.staticfiles import StaticFiles
from bare.testing import TestClient
from servers import uvicorn

DATA = bytes(range(256)) * 4  # 1024 bytes, each offset recognisable
SECRET = b"TOP SECRET"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    base = tmp_path / "root"
    base.mkdir()
    (base / "hello.txt").write_text("Hello, world!\n")
    (base / "data.bin").write_bytes(DATA)
    (base / "app.js").write_text("console.log('plain')\n")
    (base / "app.js.gz").write_bytes(b"gzip-bytes")
    (base / "app.js.br").write_bytes(b"brotli-bytes")
    (base / "sub").mkdir()
    (base / "sub" / "index.html").write_text("<p>sub index</p>")
    (base / "sub" / "page.css").write_text("p {}")
    (base / "empty").mkdir()
    (base / "%2e%2e").mkdir()  # a real directory with that literal name
    (base / "%2e%2e" / "ok.txt").write_text("literal")
    # Outside the root: a file, a directory, and a sibling whose name starts with the
    # root's (commonprefix would take it for inside).
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "outdir").mkdir()
    (tmp_path / "outdir" / "secret.txt").write_bytes(SECRET)
    (tmp_path / "root-old").mkdir()
    (tmp_path / "root-old" / "secret.txt").write_bytes(SECRET)
    (base / "link_in.txt").symlink_to(base / "hello.txt")
    (base / "link_dir_in").symlink_to(base / "sub", target_is_directory=True)
    (base / "link_out.txt").symlink_to(tmp_path / "secret.txt")
    (base / "link_dir_out").symlink_to(tmp_path / "outdir", target_is_directory=True)
    (base / "link_old.txt").symlink_to(tmp_path / "root-old" / "secret.txt")
    (base / "sub" / "up.txt").symlink_to(Path("..") / ".." / "secret.txt")
    return base


@pytest.fixture
def client(root: Path) -> TestClient:
    app = Bare()
    app.mount("/static", StaticFiles(directory=root), name="static")
    return TestClient(app)


def raw_call(
    app: Any,
    path: str,
    raw_path: bytes | None = None,
    method: str = "GET",
    root_path: str = "",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request straight through ASGI, with `path` and `raw_path` as given."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape") if raw_path is None else raw_path,
        "root_path": root_path,
        "query_string": b"",
        "headers": [(b"host", b"testserver")]
        + [(k.encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    got = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], got, body


# -- construction ----------------------------------------------------------------------


def test_missing_directory_is_refused_when_built(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="check_dir=False"):
        StaticFiles(directory=tmp_path / "nope")
    with pytest.raises(ValueError, match="not a directory"):
        (tmp_path / "file").write_text("x")
        StaticFiles(directory=tmp_path / "file")
    with pytest.raises(TypeError, match="directory must be a path"):
        StaticFiles(directory=42)  # type: ignore[arg-type]


def test_check_dir_false_serves_once_the_directory_exists(tmp_path: Path) -> None:
    static = StaticFiles(directory=tmp_path / "later", check_dir=False)
    assert raw_call(static, "/a.txt")[0] == 404
    (tmp_path / "later").mkdir()
    (tmp_path / "later" / "a.txt").write_text("now")
    assert raw_call(static, "/a.txt")[2] == b"now"


def test_cache_control_with_a_newline_is_refused(root: Path) -> None:
    with pytest.raises(ValueError):
        StaticFiles(directory=root, cache_control="max-age=60\r\nx-evil: 1")


# -- serving ---------------------------------------------------------------------------


def test_get_serves_the_file_with_type_and_validators(client: TestClient) -> None:
    response = client.get("/static/hello.txt")
    assert response.status_code == 200
    assert response.content == b"Hello, world!\n"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == "14"
    assert response.headers["accept-ranges"] == "bytes"
    etag = response.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert response.headers["last-modified"].endswith("GMT")
    assert "cache-control" not in response.headers


def test_nested_file_and_links_inside_the_root(client: TestClient) -> None:
    assert client.get("/static/sub/page.css").content == b"p {}"
    assert client.get("/static/sub/page.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/link_in.txt").content == b"Hello, world!\n"
    assert client.get("/static/link_dir_in/page.css").content == b"p {}"


def test_head_has_the_headers_and_no_body(client: TestClient) -> None:
    response = client.head("/static/data.bin")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "1024"
    assert response.headers["content-type"] == "application/octet-stream"


def test_head_ignores_range(client: TestClient) -> None:
    response = client.head("/static/data.bin", headers={"range": "bytes=0-9"})
    assert response.status_code == 200
    assert response.headers["content-length"] == "1024"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_get_405_with_allow(client: TestClient, method: str) -> None:
    response = client.request(method, "/static/hello.txt")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_cache_control_option(root: Path) -> None:
    static = StaticFiles(directory=root, cache_control="public, max-age=3600")
    status, headers, _ = raw_call(static, "/hello.txt")
    assert status == 200
    assert headers["cache-control"] == "public, max-age=3600"


def test_url_for_the_mount(root: Path) -> None:
    app = Bare()
    app.mount("/static", StaticFiles(directory=root), name="static")
    assert app.url_path_for("static", path="app.css") == "/static/app.css"
    assert app.url_path_for("static", path="sub/a b.css") == "/static/sub/a%20b.css"

    @app.get("/")
    def home(request: Any) -> str:
        return str(request.url_for("static", path="hello.txt"))

    client = TestClient(app)
    url = client.get("/").text
    assert url == "http://testserver/static/hello.txt"
    assert client.get(url).content == b"Hello, world!\n"


def test_standalone_app_and_lifespan(root: Path) -> None:
    static = StaticFiles(directory=root)
    assert raw_call(static, "/hello.txt")[2] == b"Hello, world!\n"
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(static({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


# -- containment -----------------------------------------------------------------------

NOT_FOUND = b'{"detail":"Not Found"}'

TRAVERSALS = [
    "/static/../secret.txt",
    "/static/../../etc/passwd",
    "/static/sub/../../secret.txt",
    "/static/./hello.txt",
    "/static/%2e%2e/secret.txt",  # double-encoded by the client, decoded once by the server
    "/static/%252e%252e/secret.txt",
    "/static/..%2fsecret.txt",
    "/static/..\\secret.txt",
    "/static/sub\\..\\..\\secret.txt",
    "/static//etc/passwd",
    "/static///etc/passwd",
    "/static/hello.txt\x00.png",
    "/static/\x00",
    "/static/" + "a/" * 1500 + "b",
    "/static/" + "x" * 300,
    "/static/link_out.txt",
    "/static/link_dir_out/secret.txt",
    "/static/link_old.txt",
    "/static/sub/up.txt",
    "/static/nope.txt",
    "/static/hello.txt/",
    "/static/sub",  # a directory, without html
    "/static/sub/",
    "/static/",
    "/static",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_escapes_and_misses_get_the_same_404(root: Path, path: str) -> None:
    app = Bare()
    app.mount("/static", StaticFiles(directory=root), name="static")
    status, _, body = raw_call(app, path)
    assert (status, body) == (404, NOT_FOUND)
    assert SECRET not in body
    # The raw path is the client's; only `path` counts.
    status, _, body = raw_call(app, path, raw_path=b"/static/hello.txt")
    assert (status, body) == (404, NOT_FOUND)


@pytest.mark.parametrize(
    "raw_path", [b"/static/../secret.txt", b"/static/%2e%2e/secret.txt", b"/static/%2E%2E%2Fsecret"]
)
def test_a_hostile_raw_path_is_not_decoded_again(root: Path, raw_path: bytes) -> None:
    app = Bare()
    app.mount("/static", StaticFiles(directory=root), name="static")
    assert raw_call(app, "/static/hello.txt", raw_path=raw_path)[2] == b"Hello, world!\n"


def test_literal_percent_names_are_files(root: Path) -> None:
    static = StaticFiles(directory=root)
    # A client asked for %252e%252e: the server decodes once, to the literal name.
    assert raw_call(static, "/%2e%2e/ok.txt")[2] == b"literal"


def test_absolute_path_in_scope_without_mount(root: Path, tmp_path: Path) -> None:
    static = StaticFiles(directory=root)
    target = str(tmp_path / "secret.txt")
    assert raw_call(static, target)[0] == 404
    assert raw_call(static, "/" + target)[0] == 404


def test_follow_symlink_true_follows_links_out(root: Path) -> None:
    static = StaticFiles(directory=root, follow_symlink=True)
    assert raw_call(static, "/link_out.txt")[2] == SECRET
    # ... but `..` is still refused.
    assert raw_call(static, "/../secret.txt")[0] == 404


def test_a_root_that_is_a_link_serves_its_target(root: Path, tmp_path: Path) -> None:
    (tmp_path / "alias").symlink_to(root, target_is_directory=True)
    static = StaticFiles(directory=tmp_path / "alias")
    assert raw_call(static, "/hello.txt")[2] == b"Hello, world!\n"
    assert raw_call(static, "/link_out.txt")[0] == 404


def test_file_removed_between_lookup_and_send_is_a_404(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    static = StaticFiles(directory=root)
    lookup = static._lookup

    def lookup_then_remove(parts: list[str]) -> Any:
        found = lookup(parts)
        (root / "hello.txt").unlink()
        return found

    monkeypatch.setattr(static, "_lookup", lookup_then_remove)
    assert raw_call(static, "/hello.txt")[:1] == (404,)


def test_file_shrinking_during_a_range_does_not_hang(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    static = StaticFiles(directory=root)
    lookup = static._lookup

    def lookup_then_truncate(parts: list[str]) -> Any:
        found = lookup(parts)
        (root / "data.bin").write_bytes(b"")
        return found

    monkeypatch.setattr(static, "_lookup", lookup_then_truncate)
    with pytest.raises(OSError, match="shrank"):
        _range_call(static, "bytes=0-99")


def _range_call(app: Any, value: str) -> None:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/data.bin",
        "root_path": "",
        "headers": [(b"range", value.encode())],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    asyncio.run(app(scope, receive, send))


# -- conditional requests --------------------------------------------------------------


def test_if_none_match_gives_304(client: TestClient) -> None:
    etag = client.get("/static/hello.txt").headers["etag"]
    for value in [etag, f"W/{etag}", f'"nope", {etag}', "*"]:
        response = client.get("/static/hello.txt", headers={"if-none-match": value})
        assert response.status_code == 304, value
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert "content-length" not in response.headers
    assert client.get("/static/hello.txt", headers={"if-none-match": '"nope"'}).status_code == 200


def test_if_modified_since(client: TestClient) -> None:
    last = client.get("/static/hello.txt").headers["last-modified"]
    assert client.get("/static/hello.txt", headers={"if-modified-since": last}).status_code == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert client.get("/static/hello.txt", headers={"if-modified-since": old}).status_code == 200
    bad = {"if-modified-since": "yesterday-ish"}
    assert client.get("/static/hello.txt", headers=bad).status_code == 200
    # Ignored when If-None-Match is there.
    both = {"if-modified-since": last, "if-none-match": '"other"'}
    assert client.get("/static/hello.txt", headers=both).status_code == 200


def test_a_304_wins_over_range(client: TestClient) -> None:
    etag = client.get("/static/data.bin").headers["etag"]
    response = client.get("/static/data.bin", headers={"if-none-match": etag, "range": "bytes=0-1"})
    assert response.status_code == 304


# -- ranges ----------------------------------------------------------------------------


def get_range(client: TestClient, value: str, **extra: str) -> Any:
    return client.get("/static/data.bin", headers={"range": value, **extra})


@pytest.mark.parametrize(
    ("value", "first", "last"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=10-10", 10, 10),
        ("bytes=1000-", 1000, 1023),
        ("bytes=1000-5000", 1000, 1023),
        ("bytes=-24", 1000, 1023),
        ("bytes=-5000", 0, 1023),
        ("BYTES = 5-6", 5, 6),
        ("bytes=5-6,", 5, 6),
        ("bytes=2000-3000, 7-8", 7, 8),  # the unsatisfiable one dropped
    ],
)
def test_single_range(client: TestClient, value: str, first: int, last: int) -> None:
    response = get_range(client, value)
    assert response.status_code == 206
    assert response.content == DATA[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/1024"
    assert response.headers["content-length"] == str(last - first + 1)
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["etag"] == client.get("/static/data.bin").headers["etag"]


def parse_multipart(response: Any) -> list[tuple[str, str, bytes]]:
    content_type = response.headers["content-type"]
    assert content_type.startswith("multipart/byteranges; boundary=")
    raw = f"content-type: {content_type}\r\n\r\n".encode() + response.content
    message = email.message_from_bytes(raw, policy=email.policy.HTTP)
    parts = []
    for part in message.iter_parts():  # type: ignore[attr-defined]
        parts.append((part["content-type"], part["content-range"], part.get_payload(decode=True)))
    return parts


def test_several_ranges_are_multipart(client: TestClient) -> None:
    response = get_range(client, "bytes=0-1, 100-103, -2")
    assert response.status_code == 206
    assert response.headers["content-length"] == str(len(response.content))
    assert "content-range" not in response.headers
    assert parse_multipart(response) == [
        ("application/octet-stream", "bytes 0-1/1024", DATA[0:2]),
        ("application/octet-stream", "bytes 100-103/1024", DATA[100:104]),
        ("application/octet-stream", "bytes 1022-1023/1024", DATA[1022:]),
    ]
    assert response.content.endswith(b"--\r\n")


def test_overlapping_and_adjacent_ranges_are_merged(client: TestClient) -> None:
    response = get_range(client, "bytes=10-19, 0-4, 5-9, 15-30, 500-510, 505-")
    parts = parse_multipart(response)
    assert [p[1] for p in parts] == ["bytes 0-30/1024", "bytes 500-1023/1024"]
    assert parts[0][2] == DATA[0:31] and parts[1][2] == DATA[500:]
    # Merged down to one: a plain 206.
    response = get_range(client, "bytes=0-9, 10-19, 5-15")
    assert response.headers["content-range"] == "bytes 0-19/1024"
    assert response.content == DATA[:20]


def test_more_than_16_ranges_are_ignored(client: TestClient) -> None:
    many = "bytes=" + ",".join(f"{i}-{i}" for i in range(MAX_RANGES + 1))
    response = get_range(client, many)
    assert response.status_code == 200
    assert response.content == DATA
    exactly = "bytes=" + ",".join(f"{2 * i}-{2 * i}" for i in range(MAX_RANGES))
    assert len(parse_multipart(get_range(client, exactly))) == MAX_RANGES


def test_thousands_of_ranges_cost_one_pass() -> None:
    hostile = "bytes=" + "0-0," * 200_000
    assert parse_ranges(hostile, 1024) is None
    assert merge([(5, 9), (0, 4), (20, 30), (8, 12)]) == [(0, 12), (20, 30)]


@pytest.mark.parametrize(
    "value", ["bytes=1024-", "bytes=5000-6000", "bytes=-0", "bytes=2000-,3000-"]
)
def test_unsatisfiable_gives_416(client: TestClient, value: str) -> None:
    response = get_range(client, value)
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */1024"
    assert DATA[:16] not in response.content


@pytest.mark.parametrize(
    "value",
    [
        "bytes=9-1",
        "bytes=abc",
        "bytes=1-2-3",
        "bytes=--1",
        "bytes=+1-2",
        "bytes= 1 - 2",
        "bytes=1_0-20",
        "bytes=\xb2-\xb3",  # digits to str.isdigit(), not to HTTP
        "bytes=",
        "bytes=,",
        "items=0-1",
        "bytes",
        "0-1",
        "bytes=99999999999999999999999-",
    ],
)
def test_malformed_range_is_ignored(client: TestClient, value: str) -> None:
    response = get_range(client, value)
    assert response.status_code == 200
    assert response.content == DATA


def test_two_range_headers_are_ignored(root: Path) -> None:
    static = StaticFiles(directory=root)
    scope_headers = [(b"range", b"bytes=0-1"), (b"range", b"bytes=2-3")]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/data.bin", "headers": scope_headers}
    asyncio.run(static(scope, receive, send))
    assert sent[0]["status"] == 200


def test_empty_file_ranges(root: Path) -> None:
    (root / "empty.txt").write_bytes(b"")
    static = StaticFiles(directory=root)
    client = TestClient(static)
    assert client.get("/empty.txt", headers={"range": "bytes=0-"}).status_code == 416
    assert client.get("/empty.txt", headers={"range": "bytes=-5"}).status_code == 416
    assert client.get("/empty.txt").content == b""


def test_parse_ranges_results() -> None:
    assert parse_ranges("bytes=0-0", 1) == [(0, 0)]
    assert parse_ranges("bytes=5-", 3) == UNSATISFIABLE
    assert parse_ranges("bytes=0-1,x", 10) is None


def test_if_range(client: TestClient) -> None:
    first = client.get("/static/data.bin")
    etag, last = first.headers["etag"], first.headers["last-modified"]
    for value, applies in [
        (etag, True),
        (f"W/{etag}", False),  # weak never matches
        ('"other"', False),
        (last, True),
        ("Mon, 01 Jan 2001 00:00:00 GMT", False),
        ("garbage", False),
    ]:
        response = get_range(client, "bytes=0-3", **{"if-range": value})
        assert response.status_code == (206 if applies else 200), value
        assert response.content == (DATA[:4] if applies else DATA)


# -- html mode -------------------------------------------------------------------------


@pytest.fixture
def html_client(root: Path) -> TestClient:
    (root / "index.html").write_text("<p>home</p>")
    (root / "404.html").write_text("<p>lost</p>")
    app = Bare()
    app.mount("/static", StaticFiles(directory=root, html=True), name="static")
    return TestClient(app)


def test_html_index_and_redirect(html_client: TestClient) -> None:
    assert html_client.get("/static/").content == b"<p>home</p>"
    response = html_client.get("/static/sub/")
    assert response.content == b"<p>sub index</p>"
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    response = html_client.get("/static/sub?x=1")
    assert response.status_code == 307
    assert response.headers["location"] == "/static/sub/?x=1"
    assert html_client.get("/static/sub", follow_redirects=True).content == b"<p>sub index</p>"


def test_html_404_page(html_client: TestClient) -> None:
    for path in ["/static/nope", "/static/empty/", "/static/../secret.txt", "/static/link_out.txt"]:
        response = html_client.get(path)
        assert response.status_code == 404
        assert response.content == b"<p>lost</p>"
        assert response.headers["content-type"] == "text/html; charset=utf-8"


def test_html_without_404_page(root: Path) -> None:
    static = StaticFiles(directory=root, html=True)
    assert raw_call(static, "/nope.html")[:1] == (404,)
    assert raw_call(static, "/nope.html")[2] == NOT_FOUND


def test_html_index_link_out_is_refused(root: Path, tmp_path: Path) -> None:
    (tmp_path / "outdir" / "index.html").write_bytes(SECRET)
    (root / "trap").mkdir()
    (root / "trap" / "index.html").symlink_to(tmp_path / "outdir" / "index.html")
    static = StaticFiles(directory=root, html=True)
    assert raw_call(static, "/trap/")[0] == 404
    assert raw_call(static, "/link_dir_out/")[0] == 404


# -- precompressed siblings ------------------------------------------------------------


def test_precompressed_by_accept_encoding(root: Path) -> None:
    static = StaticFiles(directory=root)

    def get(accept: str) -> tuple[int, dict[str, str], bytes]:
        return raw_call(static, "/app.js", headers={"accept-encoding": accept})

    status, headers, body = get("gzip, br")
    assert (status, body, headers["content-encoding"]) == (200, b"brotli-bytes", "br")
    assert headers["vary"] == "Accept-Encoding"
    assert headers["content-type"] == "text/javascript; charset=utf-8"
    assert headers["content-length"] == str(len(b"brotli-bytes"))
    assert get("gzip, br;q=0")[1]["content-encoding"] == "gzip"
    assert get("*")[1]["content-encoding"] == "br"
    assert get("br;q=bogus, gzip;q=0.5")[1]["content-encoding"] == "gzip"
    status, headers, body = get("identity")
    assert "content-encoding" not in headers
    assert headers["vary"] == "Accept-Encoding"
    assert body == b"console.log('plain')\n"
    # Ranges apply to the encoded bytes.
    status, headers, body = raw_call(
        static, "/app.js", headers={"accept-encoding": "br", "range": "bytes=0-5"}
    )
    assert (status, body, headers["content-encoding"]) == (206, b"brotli", "br")
    # Only files with siblings vary.
    assert "vary" not in raw_call(static, "/hello.txt", headers={"accept-encoding": "br"})[1]


def test_precompressed_off(root: Path) -> None:
    client = TestClient(StaticFiles(directory=root, precompressed=False))
    response = client.get("/app.js", headers={"accept-encoding": "br"})
    assert "content-encoding" not in response.headers
    assert "vary" not in response.headers


# -- a real server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    yield from uvicorn("apps.static_live:app")


def raw_get(address: str, target: str) -> bytes:
    host, port = address.split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


REAL_TRAVERSALS = {
    "dotdot": "/static/../secret.txt",
    "encoded_dotdot": "/static/%2e%2e/secret.txt",
    "encoded_slash": "/static/%2E%2E%2Fsecret.txt",
    "double_encoded": "/static/%252e%252e/secret.txt",
    "backslash": "/static/..%5csecret.txt",
    "raw_backslash": "/static/..\\secret.txt",
    "absolute": "/static//etc/passwd",
    "encoded_absolute": "/static/%2fetc%2fpasswd",
    "nul": "/static/hello.txt%00.png",
    "overlong": "/static/" + "a/" * 1500 + "b",
    "link_out": "/static/link_out.txt",
    "link_dir_out": "/static/link_dir_out/secret.txt",
}


@pytest.mark.parametrize("target", list(REAL_TRAVERSALS.values()), ids=list(REAL_TRAVERSALS))
def test_real_server_traversal(server: str, target: str) -> None:
    # Raw sockets: an HTTP client would normalise the path before sending it.
    reply = raw_get(server, target)
    assert b"TOP SECRET" not in reply
    # Each reaches the app and gets the answer for a file that is not there.
    assert reply.startswith(b"HTTP/1.1 404 "), reply[:200]
    assert raw_get(server, "/static/hello.txt").startswith(b"HTTP/1.1 200 ")  # still serving


def test_real_server_serves_the_file(server: str) -> None:
    reply = raw_get(server, "/static/hello.txt")
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert reply.endswith(b"\r\n\r\nhello from static\n")


def test_real_server_precompressed_siblings(server: str) -> None:
    import brotli

    from apps.static_live import ROOT, SCRIPT

    with httpx.Client(base_url=f"http://{server}", timeout=10) as client:
        for encoding, sibling in (("br", "app.js.br"), ("gzip", "app.js.gz")):
            with client.stream(
                "GET", "/static/app.js", headers={"accept-encoding": encoding}
            ) as response:
                raw = b"".join(response.iter_raw())
            assert response.status_code == 200
            assert response.headers["content-encoding"] == encoding
            assert response.headers["content-type"] == "text/javascript; charset=utf-8"
            assert response.headers["vary"] == "Accept-Encoding"
            assert raw == (ROOT / sibling).read_bytes()
        assert brotli.decompress((ROOT / "app.js.br").read_bytes()) == SCRIPT
        # br is preferred when both are accepted; nothing accepted: the original.
        both = client.get("/static/app.js", headers={"accept-encoding": "gzip, br"})
        assert (both.headers["content-encoding"], both.content) == ("br", SCRIPT)
        plain = client.get("/static/app.js", headers={"accept-encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.content == SCRIPT


def test_real_server_ranges_and_validators(server: str) -> None:
    from apps.static_live import LARGE

    with httpx.Client(base_url=f"http://{server}", timeout=10) as client:
        whole = client.get("/static/large.bin")
        assert whole.content == LARGE
        etag = whole.headers["etag"]
        part = client.get("/static/large.bin", headers={"range": "bytes=1000-1999"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 1000-1999/{len(LARGE)}"
        assert part.content == LARGE[1000:2000]
        tail = client.get("/static/large.bin", headers={"range": "bytes=-4"})
        assert tail.content == LARGE[-4:]
        cached = client.get("/static/large.bin", headers={"if-none-match": etag})
        assert (cached.status_code, cached.content) == (304, b"")
        wrong = client.get("/static/large.bin", headers={"range": f"bytes={len(LARGE)}-"})
        assert wrong.status_code == 416
        assert wrong.headers["content-range"] == f"bytes */{len(LARGE)}"


# -- the pathsend extension ---------------------------------------------------------------


def _pathsend_call(app: Any, path: str, method: str = "GET", **headers: str) -> list[Any]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")]
        + [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
        "extensions": {"http.response.pathsend": {}},
    }
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_a_server_offering_pathsend_gets_the_path(root: Path) -> None:
    static = StaticFiles(directory=root)
    start, last = _pathsend_call(static, "/data.bin")
    assert start["status"] == 200
    assert (b"content-length", b"1024") in start["headers"]
    assert last == {"type": "http.response.pathsend", "path": str(root / "data.bin")}
    # HEAD, 304 and ranges are answered by the app, never by path.
    assert _pathsend_call(static, "/data.bin", "HEAD")[1] == {
        "type": "http.response.body",
        "body": b"",
    }
    etag = dict(start["headers"])[b"etag"].decode()
    answer = _pathsend_call(static, "/data.bin", if_none_match=etag)
    assert answer[0]["status"] == 304
    assert "path" not in answer[1]
    ranged = _pathsend_call(static, "/data.bin", range="bytes=0-9")
    assert ranged[0]["status"] == 206
    assert b"".join(m.get("body", b"") for m in ranged[1:]) == DATA[:10]


# -- siblings that are links --------------------------------------------------------------


def test_a_sibling_link_out_is_refused(root: Path, tmp_path: Path) -> None:
    (root / "lib.js").write_text("plain")
    (root / "lib.js.gz").symlink_to(tmp_path / "secret.txt")  # out of the root
    (root / "lib.js.br").mkdir()  # not a file: never served
    (root / "inner.js").write_text("inner plain")
    (root / "inner.js.br").symlink_to(root / "app.js.br")  # a link that stays inside
    (root / "sub" / "evil.css").write_text("plain css")
    (root / "sub" / "evil.css.gz").symlink_to(tmp_path / "secret.txt")
    (root / "sub" / "page.css.gz").write_bytes(b"gzip-css")
    static = StaticFiles(directory=root)

    def get(path: str) -> tuple[int, dict[str, str], bytes]:
        return raw_call(static, path, headers={"accept-encoding": "br, gzip"})

    status, headers, body = get("/lib.js")
    assert (status, body) == (200, b"plain")
    assert "content-encoding" not in headers and "vary" not in headers
    status, headers, body = get("/inner.js")
    assert (status, body, headers["content-encoding"]) == (200, b"brotli-bytes", "br")
    # Through a directory link, the siblings take the resolving check too.
    status, headers, body = get("/link_dir_in/evil.css")
    assert (status, body) == (200, b"plain css")
    assert "content-encoding" not in headers
    status, headers, body = get("/link_dir_in/page.css")
    assert (status, body, headers["content-encoding"]) == (200, b"gzip-css", "gzip")
    assert get("/sub/evil.css")[2] == b"plain css"
    # A link out whose target links back in is served, but its siblings live out there.
    (tmp_path / "outdir" / "back.txt").symlink_to(root / "hello.txt")
    (tmp_path / "outdir" / "back.txt.gz").write_bytes(SECRET)
    status, headers, body = get("/link_dir_out/back.txt")
    assert (status, body) == (200, b"Hello, world!\n")
    assert "content-encoding" not in headers
    # With links followed anywhere, the link out is a sibling like any other.
    followed = StaticFiles(directory=root, follow_symlink=True)
    status, headers, body = raw_call(followed, "/lib.js", headers={"accept-encoding": "gzip"})
    assert (body, headers["content-encoding"]) == (SECRET, "gzip")


# -- thread calls, chunks and closed files ---------------------------------------------------


@pytest.fixture
def thread_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the callables StaticFiles and FileResponse run in stream threads."""
    calls: list[str] = []
    real = bare.responses.run_in_stream_thread

    async def spy(func: Any, *args: Any) -> Any:
        calls.append(func.__name__)
        return await real(func, *args)

    monkeypatch.setattr(bare.responses, "run_in_stream_thread", spy)
    monkeypatch.setattr(bare.staticfiles, "run_in_stream_thread", spy)
    return calls


@pytest.fixture
def opened_files(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every file bare opens to send, to check that each gets closed."""
    files: list[Any] = []

    def tracking_open(*args: Any) -> Any:
        file = open(*args)  # noqa: SIM115 - the code under test closes it
        files.append(file)
        return file

    monkeypatch.setattr(bare.responses, "open", tracking_open, raising=False)
    return files


BIG = bytes(range(256)) * 2400  # 600 KiB: a first read and three more


@pytest.mark.parametrize(
    ("path", "headers", "status", "calls"),
    [
        ("/data.bin", {}, 200, 1),
        ("/data.bin", {"range": "bytes=0-9"}, 206, 1),
        ("/data.bin", {"range": "bytes=0-9, 20-29"}, 206, 2),
        ("/big.bin", {}, 200, 4),
        ("/big.bin", {"range": "bytes=100-"}, 206, 4),
        ("/nope.bin", {}, 404, 1),
        ("/../secret.txt", {}, 404, 0),
    ],
    ids=["small", "range", "two-ranges", "big", "big-range", "missing", "escape"],
)
def test_one_thread_call_up_to_the_first_byte(
    root: Path,
    thread_calls: list[str],
    opened_files: list[Any],
    path: str,
    headers: dict[str, str],
    status: int,
    calls: int,
) -> None:
    (root / "big.bin").write_bytes(BIG)
    static = StaticFiles(directory=root)
    assert raw_call(static, path, headers=headers)[0] == status
    assert len(thread_calls) == calls, thread_calls
    assert thread_calls[:1] == (["_answer"] if calls else [])
    assert all(file.closed for file in opened_files)


def test_a_304_a_head_and_pathsend_read_nothing(
    root: Path, thread_calls: list[str], opened_files: list[Any]
) -> None:
    static = StaticFiles(directory=root)
    etag = raw_call(static, "/data.bin")[1]["etag"]
    thread_calls.clear()
    assert raw_call(static, "/data.bin", headers={"if-none-match": etag})[0] == 304
    assert raw_call(static, "/data.bin", method="HEAD")[0] == 200
    assert _pathsend_call(static, "/data.bin")[1]["type"] == "http.response.pathsend"
    assert thread_calls == ["_answer"] * 3
    assert len(opened_files) == 1  # the first GET's


def _collect(app: Any, path: str, headers: dict[str, str], after_first: Any) -> list[Any]:
    """The messages `app` sends for a GET of `path`; `after_first()` runs once the
    first body message went out."""
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and len(sent) == 2:
            after_first()

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }
    asyncio.run(app(scope, receive, send))
    return sent


def test_big_files_go_in_a_short_first_chunk_then_bigger_ones(root: Path) -> None:
    (root / "big.bin").write_bytes(BIG)
    sent = _collect(StaticFiles(directory=root), "/big.bin", {}, lambda: None)
    bodies = [m["body"] for m in sent[1:]]
    assert [len(b) for b in bodies] == [64 * 1024, 256 * 1024, 256 * 1024, len(BIG) - 576 * 1024]
    assert b"".join(bodies) == BIG
    assert [m["more_body"] for m in sent[1:]] == [True, True, True, False]


def test_a_file_shrinking_while_sent_ends_short(root: Path, opened_files: list[Any]) -> None:
    (root / "big.bin").write_bytes(BIG)
    sent = _collect(
        StaticFiles(directory=root), "/big.bin", {}, lambda: os.truncate(root / "big.bin", 10)
    )
    assert dict(sent[0]["headers"])[b"content-length"] == str(len(BIG)).encode()
    body = b"".join(m["body"] for m in sent[1:])
    assert body == BIG[: 64 * 1024]  # what was read before it shrank; never a byte more
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert all(file.closed for file in opened_files)


def test_a_file_shrinking_during_a_long_range_raises(root: Path, opened_files: list[Any]) -> None:
    (root / "big.bin").write_bytes(BIG)
    with pytest.raises(OSError, match="shrank"):
        _collect(
            StaticFiles(directory=root),
            "/big.bin",
            {"range": "bytes=10-"},
            lambda: os.truncate(root / "big.bin", 10),
        )
    assert all(file.closed for file in opened_files)


def test_a_file_removed_while_sent_is_sent_in_full(root: Path) -> None:
    # The file is open by then: removing its name does not take its bytes away.
    (root / "big.bin").write_bytes(BIG)
    sent = _collect(StaticFiles(directory=root), "/big.bin", {}, (root / "big.bin").unlink)
    assert b"".join(m["body"] for m in sent[1:]) == BIG


def test_a_client_gone_mid_file_closes_it(root: Path, opened_files: list[Any]) -> None:
    (root / "big.bin").write_bytes(BIG)

    def gone() -> None:
        raise ConnectionResetError("client gone")

    with pytest.raises(ConnectionResetError):
        _collect(StaticFiles(directory=root), "/big.bin", {}, gone)
    with pytest.raises(ConnectionResetError):
        _collect(StaticFiles(directory=root), "/big.bin", {"range": "bytes=0-1,-2"}, gone)
    assert len(opened_files) == 2 and all(file.closed for file in opened_files)


def test_content_types_are_guessed_once_per_name(root: Path) -> None:
    static = StaticFiles(directory=root)
    assert raw_call(static, "/hello.txt")[1]["content-type"] == "text/plain; charset=utf-8"
    assert raw_call(static, "/sub/index.html")[1]["content-type"] == "text/html; charset=utf-8"
    assert raw_call(static, "/hello.txt")[1]["content-type"] == "text/plain; charset=utf-8"
    assert static._types == {
        "hello.txt": "text/plain; charset=utf-8",
        "index.html": "text/html; charset=utf-8",
    }


# -- files changing on a real server ----------------------------------------------------


@pytest.fixture(scope="module")
def changing_server() -> Iterator[str]:
    yield from uvicorn("apps.static_changing:app")


def split_reply(reply: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
    head, _, body = reply.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = dict(line.lower().split(b": ", 1) for line in lines)
    return status, headers, body


def test_real_server_file_shrinking_while_sent(changing_server: str) -> None:
    from apps.static_changing import LARGE

    status, headers, body = split_reply(raw_get(changing_server, "/shrinks.bin"))
    assert status.startswith(b"HTTP/1.1 200 ")
    assert headers[b"content-length"] == str(len(LARGE)).encode()
    # The server ends the connection short of the length announced, with what was read.
    assert 0 < len(body) < len(LARGE)
    assert body == LARGE[: len(body)]
    # ... and goes on serving.
    assert split_reply(raw_get(changing_server, "/steady.txt"))[2] == b"steady\n"


def test_real_server_file_removed_while_sent(changing_server: str) -> None:
    from apps.static_changing import LARGE

    status, headers, body = split_reply(raw_get(changing_server, "/vanishes.bin"))
    assert status.startswith(b"HTTP/1.1 200 ")
    assert headers[b"content-length"] == str(len(LARGE)).encode()
    assert body == LARGE
    assert raw_get(changing_server, "/steady.txt").endswith(b"\r\n\r\nsteady\n")
