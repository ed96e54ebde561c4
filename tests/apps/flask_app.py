"""A small Flask app mounted in a bare app at /legacy, for tests/test_wsgi.py and the
real-server test (`apps.flask_app:app`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from flask import Flask, Response, request, stream_with_context, url_for

import bare
from bare.wsgi import WSGIMiddleware

flask_app = Flask(__name__)

# Set by the stream below when the client is gone and its generator was closed.
stream_closed = threading.Event()


@flask_app.get("/")
def index() -> str:
    return "flask index"


@flask_app.get("/hello/<name>")
def hello(name: str) -> dict[str, str]:
    return {
        "hello": name,
        "self": url_for("hello", name=name),
        "script_name": request.script_root,
        "path": request.path,
    }


@flask_app.post("/form")
def form() -> dict[str, object]:
    return {"fields": request.form.to_dict(flat=False)}


@flask_app.post("/echo")
def echo() -> Response:
    return Response(request.get_data(), mimetype="application/octet-stream")


@flask_app.post("/size")
def size() -> dict[str, int]:
    total = 0
    while chunk := request.stream.read(8192):
        total += len(chunk)
    return {"size": total}


@flask_app.get("/stream")
def stream() -> Response:
    count = request.args.get("n", default=3, type=int)

    def chunks() -> Iterator[str]:
        for i in range(count):
            yield f"chunk {i}\n"

    return Response(stream_with_context(chunks()), mimetype="text/plain")


@flask_app.get("/endless")
def endless() -> Response:
    def chunks() -> Iterator[bytes]:
        try:
            while True:
                yield b"x" * 1024
        finally:
            stream_closed.set()

    return Response(chunks(), mimetype="application/octet-stream")


@flask_app.get("/boom")
def boom() -> str:
    raise RuntimeError("secret database password in the message")


@flask_app.get("/headers")
def headers() -> dict[str, str | None]:
    return {
        "cookie": request.environ.get("HTTP_COOKIE"),
        "accept": request.environ.get("HTTP_ACCEPT"),
        "forwarded": request.environ.get("HTTP_X_FORWARDED_FOR"),
        "content_type": request.environ.get("CONTENT_TYPE"),
        "errors": type(request.environ["wsgi.errors"]).__name__,
    }


@flask_app.get("/log")
def log() -> str:
    request.environ["wsgi.errors"].write("first line\nsecond ")
    request.environ["wsgi.errors"].write("line\n")
    return "logged"


app = bare.Bare()


@app.get("/")
async def home(request: bare.Request) -> dict[str, str]:
    return {"app": "bare"}


app.mount("/legacy", WSGIMiddleware(flask_app))
# One worker thread: a request there is served only once the previous one let go of it.
app.mount("/single", WSGIMiddleware(flask_app, workers=1))
