"""bare on real servers: uvicorn (uvloop + httptools) and hypercorn, with real clients."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited: {process.stdout.read().decode() if process.stdout else ''}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port} after {timeout}s")


def serve(
    command: list[str], port: int, paths: tuple[Path, ...] = (ROOT, ROOT / "tests")
) -> Iterator[str]:
    """Run a server command until the test is done; yield its `host:port`."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, paths))}
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_for_port(port, process)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def uvicorn(app: str) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    yield from serve([*command, "--loop", "uvloop", "--http", "httptools", "--no-access-log"], port)


@pytest.fixture(scope="module")
def tasks_server() -> Iterator[str]:
    yield from uvicorn("examples.tasks:app")


@pytest.fixture(scope="module")
def live_server() -> Iterator[str]:
    yield from uvicorn("apps.live:app")


def test_tasks_app_over_http(tasks_server: str) -> None:
    with httpx.Client(base_url=f"http://{tasks_server}", timeout=10) as client:
        assert "Bare Framework" in client.get("/").text
        created = client.post("/tasks", json={"title": "Built with bare"})
        assert created.status_code == 201
        task = created.json()
        assert created.headers["location"] == f"/tasks/{task['id']}"
        assert client.get(created.headers["location"]).json() == task
        assert client.patch(f"/tasks/{task['id']}", json={"done": True}).json()["done"] is True
        assert [t["id"] for t in client.get("/tasks", params={"done": "true"}).json()] == [
            task["id"]
        ]
        assert client.delete(f"/tasks/{task['id']}").status_code == 200
        missing = client.get(f"/tasks/{task['id']}")
        assert (missing.status_code, missing.json()) == (404, {"detail": "task not found"})
        assert client.get("/tasks/not-a-uuid").status_code == 404
        assert (
            client.post("/tasks", content=b"{}", headers={"content-type": "text/plain"}).status_code
            == 415
        )
        assert (
            client.post(
                "/tasks", content=b"{oops", headers={"content-type": "application/json"}
            ).status_code
            == 400
        )
        head = client.head("/tasks")
        assert (
            head.status_code == 200
            and head.content == b""
            and head.headers["content-length"] == "2"
        )
        options = client.options("/tasks")
        assert (options.status_code, options.headers["allow"]) == (204, "GET, HEAD, OPTIONS, POST")
        assert client.put("/tasks").headers["allow"] == "GET, HEAD, OPTIONS, POST"
        redirect = client.get("/tasks/", params={"x": "1"})
        assert (redirect.status_code, redirect.headers["location"]) == (308, "/tasks?x=1")


def test_websocket_echo(tasks_server: str) -> None:
    async def talk() -> list[object]:
        async with websockets.connect(f"ws://{tasks_server}/ws") as ws:
            welcome = await ws.recv()
            await ws.send("hello")
            echo = json.loads(await ws.recv())
            return [welcome, echo]

    welcome, echo = asyncio.run(asyncio.wait_for(talk(), 10))
    assert welcome == "Welcome! Type messages to see them echoed."
    assert echo == {"type": "echo", "original": "hello", "upper": "HELLO"}


def test_unknown_websocket_path_is_refused(tasks_server: str) -> None:
    async def connect() -> None:
        async with websockets.connect(f"ws://{tasks_server}/nope"):
            pass  # pragma: no cover

    with pytest.raises(websockets.exceptions.InvalidStatus) as info:
        asyncio.run(asyncio.wait_for(connect(), 10))
    assert info.value.response.status_code == 403


def test_streaming_response(live_server: str) -> None:
    with (
        httpx.Client(base_url=f"http://{live_server}", timeout=10) as client,
        client.stream("GET", "/stream") as response,
    ):
        assert response.headers["transfer-encoding"] == "chunked"
        assert list(response.iter_lines()) == [f"line {i}" for i in range(5)]


def test_large_upload_is_rejected_and_the_server_keeps_serving(live_server: str) -> None:
    with httpx.Client(base_url=f"http://{live_server}", timeout=10) as client:
        small = client.post("/upload", content=b"x" * 1000)
        assert small.json() == {"received": 1000}
        big = client.post("/upload", content=b"x" * (2 * 1024 * 1024))
        assert big.status_code == 413
        assert big.json() == {"detail": "Request body too large (limit 65536 bytes)"}

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
            for _ in range(100):
                yield b"y" * 1024

        assert client.post("/upload", content=chunks()).status_code == 413
    with httpx.Client(base_url=f"http://{live_server}", timeout=10) as client:
        assert client.post("/upload", content=b"ok").json() == {"received": 2}


def test_client_disconnecting_mid_body(live_server: str) -> None:
    host, port = live_server.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"z" * 100
        )
        time.sleep(0.2)
    with httpx.Client(base_url=f"http://{live_server}", timeout=10) as client:
        deadline = time.monotonic() + 5
        while "disconnected" not in client.get("/events").json() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "disconnected" in client.get("/events").json()
        assert client.get("/stream").status_code == 200


def test_errors_do_not_leak(live_server: str) -> None:
    with httpx.Client(base_url=f"http://{live_server}", timeout=10) as client:
        reply = client.get("/boom")
        assert (reply.status_code, reply.json()) == (500, {"detail": "Internal Server Error"})
        assert b"internal detail" not in reply.content


def test_smuggling_shapes_are_refused(live_server: str) -> None:
    host, port = live_server.split(":")
    request = (
        b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400")


def test_book_example_on_hypercorn() -> None:
    port = free_port()
    command = [sys.executable, "-m", "hypercorn", "example_app:app", "--bind", f"127.0.0.1:{port}"]
    for address in serve(command, port, paths=(ROOT / "tests" / "book",)):
        with httpx.Client(base_url=f"http://{address}", timeout=10) as client:
            created = client.post("/tasks", json={"title": "on hypercorn"})
            assert created.status_code == 201
            assert client.get(f"/tasks/{created.json()['id']}").json()["title"] == "on hypercorn"
            assert client.get("/tasks/nonexistent").status_code == 404


def test_websocket_message_size_is_limited_by_the_server() -> None:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "examples.tasks:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--ws-max-size",
        "1024",
    ]

    async def oversized(address: str) -> int | None:
        async with websockets.connect(f"ws://{address}/ws", max_size=None) as ws:
            await ws.recv()  # welcome
            await ws.send("x" * 2048)
            with pytest.raises(websockets.exceptions.ConnectionClosed) as info:
                await ws.recv()
            return info.value.rcvd.code if info.value.rcvd else None

    for address in serve(command, port):
        assert asyncio.run(asyncio.wait_for(oversized(address), 10)) == 1009
        with httpx.Client(base_url=f"http://{address}", timeout=10) as client:
            assert client.get("/tasks").status_code == 200  # still serving
