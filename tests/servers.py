"""Real servers for tests: start uvicorn (or any server command) on 127.0.0.1 at a free
port, wait until it says it listens, and stop it by its pid when the test is done.

    @pytest.fixture(scope="module")
    def server() -> Iterator[str]:
        yield from uvicorn("apps.live:app")     # "host:port"; module paths: repo root, tests/
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A net for a server that never comes up; a healthy one is waited for by its own word.
STARTUP_LIMIT = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A server process whose output a thread reads as it comes.

    `ready` is set when the server says it is listening on `port` (uvicorn and
    hypercorn both print "running on http://host:port" once the socket is open; other
    servers give their `banner`), or when its output ends because it exited.
    """

    def __init__(
        self,
        command: list[str],
        port: int,
        paths: tuple[Path, ...],
        banner: str | None = None,
    ) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, paths))}
        self.address = f"127.0.0.1:{port}"
        self.ready = threading.Event()
        self.listening = False
        self._lines: list[str] = []
        # What the server prints once it listens (other servers than uvicorn say it
        # in their own words).
        self._banner = (banner or f"running on http://{self.address}").lower()
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        # NOTE: read all along, or a chatty server would block once the pipe is full.
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace")
            self._lines.append(line)
            if self._banner in line.lower():
                self.listening = True
                self.ready.set()
        self.ready.set()  # the server exited: wake the waiter up

    def output(self) -> str:
        """What the server has printed so far (stdout and stderr)."""
        return "".join(self._lines)

    def wait_until_listening(self) -> None:
        if not self.ready.wait(STARTUP_LIMIT):
            raise RuntimeError(f"no sign of life after {STARTUP_LIMIT}s:\n{self.output()}")
        if not self.listening:
            raise RuntimeError(f"the server exited:\n{self.output()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            self.process.kill()
            self.process.wait()
        self._reader.join()
        if self.process.stdout:
            self.process.stdout.close()


def running(
    command: list[str], port: int, paths: tuple[Path, ...] = (ROOT, ROOT / "tests")
) -> Iterator[Server]:
    """Run a server command until the test is done; yield it once it listens."""
    server = Server(command, port, paths)
    try:
        server.wait_until_listening()
        yield server
    finally:
        server.stop()


def serve(
    command: list[str], port: int, paths: tuple[Path, ...] = (ROOT, ROOT / "tests")
) -> Iterator[str]:
    """Run a server command until the test is done; yield its `host:port`."""
    for server in running(command, port, paths):
        yield server.address


def uvicorn_command(app: str, port: int, *options: str) -> list[str]:
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    return [*command, "--loop", "uvloop", "--http", "httptools", *options]


def uvicorn(app: str) -> Iterator[str]:
    port = free_port()
    yield from serve(uvicorn_command(app, port, "--no-access-log"), port)
