"""Forms: bare's `request.form()` against Starlette's, in process, on the same bodies.

Three cases, each in its own group (bodies and handlers in `apps/forms_apps.py`):

- `upload-1MiB`: a multipart form holding one 1 MiB file; the handler answers its name
  and size. Both frameworks keep a file of 1 MiB in memory (their default spool size).
- `fields-100`: a multipart form of 100 small fields; the handler counts them.
- `urlencoded-100`: the same 100 fields, form-encoded.

The body comes in `http.request` messages of 64 KiB, as uvicorn hands it over; every
answer is checked as it arrives (see `_driver.py`). A round sends `calls` requests.

`test_parser` times the two parsers alone (`multipart`, which bare uses, and
python-multipart, which Starlette uses) on the two multipart bodies: how bare chose.
Starlette's cases need starlette and python-multipart installed; they are skipped
otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from _driver import SCOPE, Call, Client, Message
from apps import forms_apps

CHUNK = 64 * 1024

# name -> (body and content type, path, expected answer, requests per round)
CASES: dict[str, tuple[tuple[bytes, str], str, bytes, int]] = {
    "upload-1MiB": (forms_apps.UPLOAD, "/upload", forms_apps.UPLOAD_ANSWER, 10),
    "fields-100": (forms_apps.FIELDS, "/fields", forms_apps.FIELDS_ANSWER, 20),
    "urlencoded-100": (forms_apps.URLENCODED, "/fields", forms_apps.FIELDS_ANSWER, 20),
}
APPS: dict[str, Callable[[], Any]] = {
    "bare": forms_apps.make_bare,
    "starlette": forms_apps.make_starlette,
}
PARAMS = [
    pytest.param(case, app, id=f"{case}-{app}", marks=pytest.mark.benchmark(group=f"forms-{case}"))
    for case in CASES
    for app in APPS
]


class BodyClient(Client):
    """`Client` whose requests each carry the same body, in messages of 64 KiB."""

    def __init__(
        self, app: Any, loop: asyncio.AbstractEventLoop, body: bytes, content_type: str
    ) -> None:
        headers = [
            *SCOPE["headers"],
            (b"content-type", content_type.encode("latin-1")),
            (b"content-length", str(len(body)).encode()),
        ]
        super().__init__(app, loop, {**SCOPE, "method": "POST", "headers": headers})
        last = max(len(body) - 1, 0) // CHUNK
        self.messages = [
            {"type": "http.request", "body": body[start : start + CHUNK], "more_body": i < last}
            for i, start in enumerate(range(0, max(len(body), 1), CHUNK))
        ]
        self.sent = 0

    async def receive(self) -> Message:
        # `Client` sets `received` to False before each request: start the body again.
        if not self.received:
            self.received = True
            self.sent = 0
        if self.sent < len(self.messages):
            self.sent += 1
            return self.messages[self.sent - 1]
        return {"type": "http.disconnect"}


@pytest.fixture(scope="module")
def clients(loop: asyncio.AbstractEventLoop) -> Iterator[Callable[[str, str], BodyClient]]:
    """`clients(case, app)`: the started client of that app with that case's body."""
    made: dict[tuple[str, str], BodyClient] = {}

    def get(case: str, app: str) -> BodyClient:
        if (case, app) not in made:
            (body, content_type), *_ = CASES[case]
            client = BodyClient(APPS[app](), loop, body, content_type)
            client.start()
            made[case, app] = client
        return made[case, app]

    yield get
    for client in made.values():
        client.stop()


@pytest.mark.parametrize(("case", "app"), PARAMS)
def test_form(
    benchmark: Any, clients: Callable[[str, str], BodyClient], case: str, app: str
) -> None:
    if app == "starlette":
        pytest.importorskip("starlette")
        pytest.importorskip("python_multipart")
    _, path, answer, calls = CASES[case]
    client = clients(case, app)
    request: Call = (path, path.encode(), 200, answer)
    status, body, _ = client.probe(request)
    assert (status, body) == (200, answer), (status, body[:200])
    benchmark.extra_info.update(app=app, case=case, calls=calls)
    benchmark(client.run, [request] * calls)


# -- the two parsers on their own ---------------------------------------------------------
# How bare chose its parser: each parses the same multipart bodies, fed in 64 KiB chunks,
# and collects every part's bytes; nothing else. `multipart` is driven as bare drives it
# (strict mode, the default header limits), python-multipart as Starlette drives it
# (callbacks).


def _parse_with_multipart(chunks: list[bytes]) -> list[bytes]:
    import multipart

    parser = multipart.PushMultipartParser(
        forms_apps.BOUNDARY, max_header_size=8192, max_header_count=16, strict=True
    )
    parts: list[bytes] = []
    pieces: list[bytes] = []
    for chunk in chunks:
        for event in parser.parse(chunk):
            if event is None:
                parts.append(b"".join(pieces))
            elif isinstance(event, bytes):
                pieces.append(event)
            else:
                pieces = []
    parser.close()
    return parts


def _parse_with_python_multipart(chunks: list[bytes]) -> list[bytes]:
    from python_multipart.multipart import MultipartParser

    parts: list[bytes] = []
    pieces: list[bytes] = []

    def on_part_data(data: bytes, start: int, end: int) -> None:
        pieces.append(data[start:end])

    def on_part_end() -> None:
        parts.append(b"".join(pieces))
        pieces.clear()

    parser = MultipartParser(
        forms_apps.BOUNDARY,
        {"on_part_data": on_part_data, "on_part_end": on_part_end},
    )
    for chunk in chunks:
        parser.write(chunk)
    parser.finalize()
    return parts


PARSERS: dict[str, Callable[[list[bytes]], list[bytes]]] = {
    "multipart": _parse_with_multipart,
    "python-multipart": _parse_with_python_multipart,
}
PARSER_CASES = {"upload-1MiB": forms_apps.UPLOAD[0], "fields-100": forms_apps.FIELDS[0]}


@pytest.mark.parametrize(
    ("case", "parser"),
    [
        pytest.param(
            case,
            parser,
            id=f"{case}-{parser}",
            marks=pytest.mark.benchmark(group=f"forms-parser-{case}"),
        )
        for case in PARSER_CASES
        for parser in PARSERS
    ],
)
def test_parser(benchmark: Any, case: str, parser: str) -> None:
    pytest.importorskip("python_multipart" if parser == "python-multipart" else "multipart")
    body = PARSER_CASES[case]
    chunks = [body[start : start + CHUNK] for start in range(0, len(body), CHUNK)]
    parts = PARSERS[parser](chunks)
    if case == "upload-1MiB":
        assert [len(part) for part in parts] == [forms_apps.UPLOAD_SIZE]
    else:
        assert parts == [f"value number {i}".encode() for i in range(100)]
    benchmark.extra_info.update(parser=parser, case=case)
    benchmark(PARSERS[parser], chunks)
