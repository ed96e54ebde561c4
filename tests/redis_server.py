"""A real Redis for tests: Debian's `redis-server` on a free loopback port, with its
own temporary directory and no persistence, stopped by its pid when the test is done.

    @pytest.fixture
    def redis_url(redis_server: RedisServer) -> str:
        return redis_server.url

`redis_server` (a fixture in conftest.py, one server per test module) fails, never
skips, when `redis-server` is missing: `make test` installs it
(scripts/install-system-packages). Fault tests `kill()` it (SIGKILL, as a crash) and
`start()` it again on the same port.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
from pathlib import Path

from servers import Server, free_port

READY = "Ready to accept connections"


class RedisServer:
    """One `redis-server` process on 127.0.0.1, started by `start()`."""

    def __init__(self, port: int | None = None) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError(
                "these tests need Debian's redis-server: run `make test`, which installs it "
                "(scripts/install-system-packages), or apt-get install redis-server"
            )
        self.executable = executable
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = Path(tempfile.mkdtemp(prefix="bare-redis-"))
        self.server: Server | None = None

    def command(self) -> list[str]:
        return [
            self.executable,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--loglevel", "notice",
        ]  # fmt: skip

    def start(self) -> None:
        """Start the server (again, after `kill` or `stop`) and wait until it is ready."""
        server = Server(self.command(), self.port, (), banner=READY)
        try:
            server.wait_until_listening()
        except BaseException:
            server.stop()
            raise
        self.server = server

    def kill(self) -> None:
        """End the server at once, as a crash would (SIGKILL by its pid)."""
        server, self.server = self.server, None
        if server is not None:
            server.process.send_signal(signal.SIGKILL)
            server.stop()  # reaps it and its output reader

    def stop(self) -> None:
        """Stop the server by its pid (SIGTERM), if it runs."""
        server, self.server = self.server, None
        if server is not None:
            server.stop()

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
