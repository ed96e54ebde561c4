"""The `bare` command: routes and run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from test_live_servers import free_port, serve

ROOT = Path(__file__).resolve().parent.parent


def test_routes_prints_the_table() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bare", "routes", "examples.tasks:app"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["METHODS", "PATH", "NAME", "HANDLER"]
    assert lines[1].split() == ["GET", "/", "index", "examples.tasks.index"]
    assert ["PATCH", "/tasks/{task_id:uuid}", "update_task", "examples.tasks.update_task"] in [
        line.split() for line in lines
    ]
    assert lines[-1].split() == ["WEBSOCKET", "/ws", "chat", "examples.tasks.chat"]


def test_routes_with_a_bad_target() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bare", "routes", "examples.tasks:nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "has no attribute 'nope'" in done.stderr


def test_run_serves_on_uvloop_and_httptools() -> None:
    port = free_port()
    command = [sys.executable, "-m", "bare", "run", "examples.tasks:app", "--port", str(port)]
    for address in serve(command, port):
        with httpx.Client(base_url=f"http://{address}", timeout=10) as client:
            assert client.get("/tasks").json() == []


def test_the_fast_engine_is_picked_when_installed() -> None:
    from bare._server import server_options

    assert server_options() == {"loop": "uvloop", "http": "httptools"}


def test_app_run_with_reload_names_the_script(tmp_path: Path) -> None:
    script = tmp_path / "myapp.py"
    script.write_text(
        "from bare import Bare\n"
        "from bare._server import import_string\n"
        "app = Bare()\n"
        "if __name__ == '__main__':\n"
        "    print(import_string(app))\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == repr(("myapp:app", str(tmp_path)))
    done = subprocess.run(
        [sys.executable, "-m", "myapp"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == repr(("myapp:app", str(tmp_path)))
