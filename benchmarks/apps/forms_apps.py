"""The apps of `test_bench_forms.py`: bare and Starlette, each reading forms its own
documented way (`await request.form()`), with the same handlers:

- `POST /upload`: the form's `file` part; answers "{filename}:{size}" as text.
- `POST /fields`: answers "{number of fields}:{value of field99}" as text.

The bodies every case sends are built here too: `UPLOAD` (one 1 MiB file, fixed bytes),
`FIELDS` (100 small multipart fields) and `URLENCODED` (the same 100 fields,
form-encoded), each with its Content-Type. Starlette is imported only by
`make_starlette`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BOUNDARY",
    "FIELDS",
    "FIELDS_ANSWER",
    "UPLOAD",
    "UPLOAD_ANSWER",
    "UPLOAD_SIZE",
    "URLENCODED",
    "make_bare",
    "make_starlette",
]

BOUNDARY = "bare-bench-0f4c2a9d7e3b1c5a"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
UPLOAD_SIZE = 1024 * 1024
# Bytes that hold neither CR nor a dash often, like compressed data.
_CONTENT = (bytes(range(256)) * (UPLOAD_SIZE // 256))[:UPLOAD_SIZE]


def _multipart(parts: list[tuple[str, str | None, bytes]]) -> bytes:
    chunks = []
    for name, filename, value in parts:
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"'
        if filename is not None:
            head += f'; filename="{filename}"\r\nContent-Type: application/octet-stream'
        chunks += [(head + "\r\n\r\n").encode(), value, b"\r\n"]
    chunks.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(chunks)


_FIELDS = [(f"field{i}", f"value number {i}") for i in range(100)]

UPLOAD = (_multipart([("file", "photo.jpg", _CONTENT)]), MULTIPART)
UPLOAD_ANSWER = f"photo.jpg:{UPLOAD_SIZE}".encode()
FIELDS = (_multipart([(name, None, value.encode()) for name, value in _FIELDS]), MULTIPART)
URLENCODED = (
    "&".join(f"{name}={value.replace(' ', '+')}" for name, value in _FIELDS).encode(),
    "application/x-www-form-urlencoded",
)
FIELDS_ANSWER = b"100:value number 99"


def make_bare() -> Any:
    """bare, reading forms with `request.form()`."""
    from bare import Bare, Request
    from bare.forms import UploadFile

    # The default body limit is 1 MiB: this app takes the upload and its framing.
    app = Bare(max_body_size=2 * UPLOAD_SIZE)

    @app.post("/upload")
    async def upload(request: Request) -> str:
        form = await request.form()
        file = form["file"]
        assert isinstance(file, UploadFile)
        return f"{file.filename}:{file.size}"

    @app.post("/fields")
    async def fields(request: Request) -> str:
        form = await request.form()
        return f"{len(form)}:{form['field99']}"

    return app


def make_starlette() -> Any:
    """Starlette, reading forms with `request.form()` (python-multipart)."""
    from starlette.applications import Starlette
    from starlette.datastructures import UploadFile
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def upload(request: Request) -> PlainTextResponse:
        async with request.form() as form:
            file = form["file"]
            assert isinstance(file, UploadFile)
            return PlainTextResponse(f"{file.filename}:{file.size}")

    async def fields(request: Request) -> PlainTextResponse:
        async with request.form() as form:
            return PlainTextResponse(f"{len(form)}:{form['field99']}")

    return Starlette(
        routes=[
            Route("/upload", upload, methods=["POST"]),
            Route("/fields", fields, methods=["POST"]),
        ]
    )
