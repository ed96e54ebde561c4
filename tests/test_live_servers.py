"""bare on real servers: uvicorn (uvloop + httptools) and hypercorn, with real clients."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import Iterator

import httpx
import pytest
import websockets

from servers import ROOT, free_port, running, serve, uvicorn, uvicorn_command

STARTUP_LIMIT = 60


@pytest.fixture(scope="module")
def tasks_server() -> Iterator[str]:
    yield from uvicorn("examples.tasks:app")


@pytest.fixture(scope="module")
def live_server() -> Iterator[str]:
    yield from uvicorn("apps.live:app")


def test_the_tasks_app_logs_in_and_carries_its_middleware(tasks_server: str) -> None:
    with httpx.Client(base_url=f"http://{tasks_server}", timeout=10) as client:
        anonymous = client.get("/me")
        assert (anonymous.status_code, anonymous.json()) == (401, {"detail": "not logged in"})
        assert len(anonymous.headers["x-request-id"]) == 32
        assert client.post("/login", json={"name": " ada "}).json() == {"user": "ada"}
        me = client.get("/me", headers={"x-request-id": "trace-42"})
        assert me.json() == {"user": "ada", "request_id": "trace-42"}
        assert me.headers["x-request-id"] == "trace-42"
        assert "cookie" in me.headers["vary"].lower()
        listed = client.get("/tasks")
        assert listed.headers["server-timing"].startswith("store;dur=")
        assert 'desc="in-memory tasks"' in listed.headers["server-timing"]
        client.post("/logout")
        assert client.get("/me").status_code == 401
        preflight = client.options(
            "/tasks",
            headers={
                "origin": "http://localhost:3000",
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert preflight.headers["access-control-allow-credentials"] == "true"
        other = client.get("/tasks", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_tasks_app_over_http(tasks_server: str) -> None:
    with httpx.Client(base_url=f"http://{tasks_server}", timeout=10) as client:
        assert "Bare Framework" in client.get("/").text
        created = client.post("/tasks", json={"title": "Built with bare"})
        assert created.status_code == 201
        task = created.json()
        assert created.headers["location"] == f"http://{tasks_server}/tasks/{task['id']}"
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


def test_streaming_reaches_the_client_line_by_line(live_server: str) -> None:
    # Each line after the first waits on the server until the client has read the one
    # before: a server that held the body back would never send line 0.
    with (
        httpx.Client(base_url=f"http://{live_server}", timeout=10) as client,
        client.stream("GET", "/stepped") as response,
    ):
        lines = response.iter_lines()
        assert next(lines) == "line 0"
        for i in (1, 2):
            client.get(f"/mark/next {i}")
            assert next(lines) == f"line {i}"
        assert list(lines) == []


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


def wait_for_event(client: httpx.Client, name: str) -> list[str]:
    """Block until the live app has noted `name`; fail clearly if it never does."""
    try:
        events: list[str] = client.get(f"/wait/{name}").json()
    except httpx.TimeoutException:
        pytest.fail(f"the server never noted {name!r}")
    return events


def test_client_disconnecting_mid_body(live_server: str) -> None:
    host, port = live_server.split(":")
    with httpx.Client(base_url=f"http://{live_server}", timeout=10) as client:
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(
                b"POST /upload?tag=mid HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"
                + b"z" * 100
            )
            wait_for_event(client, "receiving mid")  # the handler is reading the body
        assert "disconnected mid" in wait_for_event(client, "disconnected mid")
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
    command = uvicorn_command("examples.tasks:app", port, "--ws-max-size", "1024")

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


def test_book_chat_loop_closes_1003_on_a_binary_frame() -> None:
    # The book's handler calls receive_text() in a loop; a binary frame used to raise
    # TypeError in it: a traceback in the log and a close with 1011.
    port = free_port()
    command = uvicorn_command("example_app:app", port)

    async def talk(address: str) -> tuple[object, ...]:
        async with websockets.connect(f"ws://{address}/ws") as ws:
            await ws.recv()  # welcome
            await ws.send("hi")
            echo = json.loads(await ws.recv())
            await ws.send(b"\x00\x01")
            with pytest.raises(websockets.exceptions.ConnectionClosed) as info:
                await ws.recv()
            received = info.value.rcvd
            return echo["upper"], received.code if received else None, received and received.reason

    for server in running(command, port, paths=(ROOT / "tests" / "book",)):
        outcome = asyncio.run(asyncio.wait_for(talk(server.address), 10))
        assert outcome == ("HI", 1003, "expected a text message")
        with httpx.Client(base_url=f"http://{server.address}", timeout=10) as client:
            assert client.get("/tasks/nope").status_code == 404  # still serving
        # The close frame left after anything the handler would have logged.
        output = server.output()
        assert "Traceback" not in output and "unhandled error" not in output, output


@pytest.mark.parametrize("host", [b"example.com/evil?", b"a@b", b"[::1"])
def test_an_invalid_host_is_a_400_on_a_real_server(live_server: str, host: bytes) -> None:
    address, port = live_server.split(":")
    with socket.create_connection((address, int(port)), timeout=5) as sock:
        sock.sendall(b"GET /url HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer
    assert json.loads(body) == {"detail": "Invalid Host header"}


def test_a_valid_ipv6_host_builds_the_url(live_server: str) -> None:
    with httpx.Client(base_url=f"http://{live_server}", timeout=10) as client:
        reply = client.get("/url", headers={"host": "[::1]:8000"})
    assert reply.json() == ["http://[::1]:8000/url", "/url"]
