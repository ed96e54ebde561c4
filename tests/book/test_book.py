"""The book's logging middleware and test harness, run unchanged against bare.

The code between the markers is copied from the chapter as printed; only the lines
that run it at import time (`app.add_middleware(...)`, `asyncio.run(...)`) moved into
the tests below.
"""

# ruff: noqa

# --- the book's LoggingMiddleware ---------------------------------------------------------
import time
import sys


class LoggingMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.monotonic()
        status_code = [None]

        async def capturing_send(event):
            if event["type"] == "http.response.start":
                status_code[0] = event["status"]
            await send(event)

        await self.app(scope, receive, capturing_send)

        elapsed = (time.monotonic() - started) * 1000
        print(
            f"{scope['method']} {scope['path']} → "
            f"{status_code[0]} ({elapsed:.1f}ms)",
            file=sys.stderr,
        )


# --- the book's test harness ----------------------------------------------------------------
import asyncio
import json


async def test_bare_framework():
    from example_app import app

    # Build a minimal test harness
    async def request(method, path, body=b"", headers=None):
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "method": method,
            "path": path,
            "query_string": b"",
            "headers": headers or (
                [(b"content-type", b"application/json")] if body else []
            ),
            "server": ("testserver", 8000),
        }
        events = [{"type": "http.request", "body": body, "more_body": False}]
        idx = [0]

        async def receive():
            e = events[idx[0]] if idx[0] < len(events) else {"type": "http.disconnect"}
            idx[0] += 1
            return e

        response_events = []
        async def send(event):
            response_events.append(event)

        await app(scope, receive, send)
        start = next(e for e in response_events if e["type"] == "http.response.start")
        body_data = b"".join(
            e.get("body", b"") for e in response_events
            if e["type"] == "http.response.body"
        )
        return start["status"], json.loads(body_data) if body_data else None

    # Test cases
    status, data = await request("GET", "/tasks")
    assert status == 200, f"Expected 200, got {status}"

    status, data = await request(
        "POST", "/tasks",
        body=json.dumps({"title": "Framework test"}).encode()
    )
    assert status == 201
    task_id = data["id"]

    status, data = await request("GET", f"/tasks/{task_id}")
    assert status == 200
    assert data["title"] == "Framework test"

    status, data = await request("GET", "/tasks/nonexistent")
    assert status == 404

    print("Framework tests passed.")


# --- running them ----------------------------------------------------------------------------
import importlib
import sys as _sys

test_bare_framework.__test__ = False  # the book's coroutine, run by the tests below


def fresh_example_app():
    _sys.modules.pop("example_app", None)
    return importlib.import_module("example_app")


def test_book_harness_passes_unchanged(capsys):
    fresh_example_app()
    asyncio.run(test_bare_framework())
    assert "Framework tests passed." in capsys.readouterr().out


def test_book_harness_passes_with_the_logging_middleware(capsys):
    module = fresh_example_app()
    module.app.add_middleware(LoggingMiddleware)
    asyncio.run(test_bare_framework())
    captured = capsys.readouterr()
    assert "Framework tests passed." in captured.out
    lines = captured.err.splitlines()
    assert any(line.startswith("POST /tasks → 201 (") for line in lines)
    assert any(line.startswith("GET /tasks/nonexistent → 404 (") for line in lines)
