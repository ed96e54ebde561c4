"""Forms on a real server: uvicorn (uvloop + httptools) serving tests/apps/forms_live.py,
with httpx and raw sockets as clients."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from servers import uvicorn

MIB = 1024 * 1024
B = "live-boundary-4e1f"

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="counts open files through /proc"
)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    yield from uvicorn("apps.forms_live:app")


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{server}", timeout=30) as client:
        yield client


def state(client: httpx.Client, **wait: int) -> dict[str, int]:
    """The server's counts once they reach `wait` (see the app)."""
    query = "&".join(f"{name}={value}" for name, value in wait.items())
    answer: dict[str, int] = client.get(f"/state?{query}").json()
    return answer


def raw_request(server: str, head: bytes, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send one request over a new socket; the status, headers and body of the answer."""
    host, port = server.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + body)
        data = b""
        while b"\r\n\r\n" not in data:
            piece = sock.recv(65536)
            assert piece, data
            data += piece
        header_block, _, rest = data.partition(b"\r\n\r\n")
        status_line, *lines = header_block.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        length = int(headers["content-length"])
        while len(rest) < length:
            piece = sock.recv(65536)
            assert piece, rest
            rest += piece
    return int(status_line.split()[1]), headers, rest


def multipart_head(length: int, path: str = "/upload") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: multipart/form-data; boundary={B}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def one_file(filename: str, content: bytes) -> bytes:
    """A multipart body (boundary B) of one file part, field `f`."""
    head = f'--{B}\r\nContent-Disposition: form-data; name="f"; filename="{filename}"\r\n\r\n'
    return head.encode() + content + f"\r\n--{B}--\r\n".encode()


def test_a_large_upload_arrives_whole(client: httpx.Client) -> None:
    before = state(client)
    content = os.urandom(6 * MIB + 12345)
    files = {"doc": ("report.pdf", content, "application/pdf")}
    response = client.post("/upload", data={"title": "Q3"}, files=files)
    assert response.status_code == 200, response.text
    assert response.json() == [
        ["title", "Q3"],
        ["doc", "report.pdf", len(content), hashlib.sha256(content).hexdigest(), True],
    ]
    after = state(client, finished=before["finished"] + 1)
    assert after["temp_files"] == 0  # closed and deleted when the request ended


def test_a_streamed_upload_without_a_length(client: httpx.Client) -> None:
    content = os.urandom(3 * MIB)
    body = one_file("s.bin", content)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 100_000):
            yield body[start : start + 100_000]

    response = client.post(
        "/upload", content=chunks(), headers={"content-type": f"multipart/form-data; boundary={B}"}
    )
    assert response.json() == [
        ["f", "s.bin", len(content), hashlib.sha256(content).hexdigest(), True]
    ]


def test_limits_are_413_and_the_server_goes_on(client: httpx.Client) -> None:
    big = client.post("/small", files={"f": ("f.bin", b"x" * (2 * MIB))})
    assert big.status_code == 413
    assert big.json() == {"detail": "Request body too large (limit 1048576 bytes)"}
    fields = {f"f{i}": "v" for i in range(1001)}
    many = client.post("/small", data=fields, files={"f": ("a", b"1")})
    assert (many.status_code, many.json()) == (
        413,
        {"detail": "Too many form fields (max_fields=1000)"},
    )
    assert many.headers["connection"] == "close"
    assert client.post("/small", data={"a": "1"}, files={"f": ("a", b"1")}).json() == 2
    assert client.post("/small", data={"a": "1", "b": "2"}).json() == 2


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        pytest.param(
            f'--{B}\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue'.encode(),
            "Multipart body ended before its final boundary",
            id="unterminated",
        ),
        pytest.param(
            f"--{B}\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--{B}--\r\n".encode(),
            "A multipart part has no name",
            id="no_name",
        ),
        pytest.param(
            b"garbage before anything" * 10,
            "Multipart body does not start with its boundary",
            id="garbage",
        ),
    ],
)
def test_a_malformed_body_over_a_raw_socket_is_400(
    server: str, client: httpx.Client, body: bytes, detail: str
) -> None:
    status, headers, answer = raw_request(server, multipart_head(len(body), "/small"), body)
    assert (status, json.loads(answer)) == (400, {"detail": detail})
    assert headers["content-type"] == "application/json"
    assert client.post("/small", data={"a": "1"}).json() == 1


def test_a_client_that_leaves_mid_upload_leaves_no_temporary_file(
    server: str, client: httpx.Client
) -> None:
    before = state(client)
    content = os.urandom(4 * MIB)
    body = one_file("gone.bin", content)
    host, port = server.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(multipart_head(len(body)) + body[: 2 * MIB])
        # Once the app has been handed 1.5 MiB, the file is past its spool size: on disk.
        during = state(client, received=before["received"] + 3 * MIB // 2)
        assert during["temp_files"] == 1
        assert during["finished"] == before["finished"]  # still reading
    after = state(client, finished=before["finished"] + 1)
    assert after["temp_files"] == 0
    assert client.post("/small", data={"a": "1"}).json() == 1


def test_hostile_file_names_come_back_as_sent(client: httpx.Client) -> None:
    names = ["../../etc/passwd", "a\x01b.txt", "x" * 1000 + ".txt"]
    files: list[tuple[str, Any]] = [("f", (name, b"1")) for name in names]
    response = client.post("/upload", files=files)
    # httpx escapes control characters as browsers do, %01: it reaches the app as sent.
    assert [row[1] for row in response.json()] == [
        "../../etc/passwd",
        "a%01b.txt",
        "x" * 1000 + ".txt",
    ]
