"""CompressionMiddleware: the choice of coding, what is compressed and what is left alone,
the headers of a compressed response, streaming with a flush per message, and the
optional packages. In process on raw ASGI apps and bare apps, and on a real server."""

from __future__ import annotations

import asyncio
import gzip
import json
import sys
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import brotli
import httpx
import pytest
import zstandard

from bare import Bare, Request
from bare.middleware.compression import (
    DEFAULT_COMPRESSIBLE_TYPES,
    CompressionMiddleware,
    _parse_accept_encoding,
)
from bare.responses import FileResponse, JSONResponse, PlainTextResponse, StreamingResponse
from bare.testing import TestClient
from raw_asgi import PATHSEND, RawClient, http_scope
from servers import Server, free_port, running, uvicorn_command

Call = Callable[..., Any]
Headers = list[tuple[bytes, bytes]]

TEXT = b"".join(b'{"id": %d, "name": "item %d", "ok": true}\n' % (i, i) for i in range(200))
JSON_TYPE = (b"content-type", b"application/json")


# -- helpers -------------------------------------------------------------------------


def decompress(coding: str, data: bytes) -> bytes:
    if coding == "gzip":
        return gzip.decompress(data)
    if coding == "br":
        return bytes(brotli.decompress(data))
    assert coding == "zstd"
    return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(data))


class Decoder:
    """An incremental decoder: what each piece of a compressed stream decodes to."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        if coding == "gzip":
            self._gzip = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "br":
            self._br = brotli.Decompressor()
        else:
            self._zstd = zstandard.ZstdDecompressor().decompressobj()

    def feed(self, data: bytes) -> bytes:
        if self.coding == "gzip":
            return self._gzip.decompress(data)
        if self.coding == "br":
            return bytes(self._br.process(data))
        return bytes(self._zstd.decompress(data))


def raw_app(
    headers: Headers,
    chunks: list[bytes] = [TEXT],  # noqa: B006 -- never changed
    status: int = 200,
) -> Any:
    """A raw ASGI app that sends `headers` and the body in `chunks` (one message each)."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        last = len(chunks) - 1
        for i, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": i < last})

    return app


def accepting(value: str | None) -> Headers:
    headers = [(b"host", b"testserver")]
    if value is not None:
        headers.append((b"accept-encoding", value.encode()))
    return headers


def body_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["type"] == "http.response.body"]


# -- choosing the coding ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("gzip", "gzip"),
        ("br", "br"),
        ("zstd", "zstd"),
        ("gzip, br, zstd", "zstd"),  # equal weights: the server's order
        ("gzip, br", "br"),
        ("br;q=1, gzip;q=0.9", "br"),
        ("gzip;q=0.5, br;q=0.4", "gzip"),
        ("br;q=0.9, gzip;q=0.9, zstd;q=0.8", "br"),
        ("zstd;q=0, br;q=0, gzip;q=0", None),
        ("gzip;q=0", None),
        ("*", "zstd"),
        ("*;q=0.5, gzip", "gzip"),
        ("*, zstd;q=0", "br"),
        ("*;q=0", None),
        ("*;q=0, gzip", "gzip"),
        ("identity", None),
        ("identity;q=0", None),  # nothing acceptable: the body goes as it is
        ("identity;q=0, *", "zstd"),
        ("gzip;q=0.5, identity", None),  # the client would rather have it plain
        ("gzip;q=0.5, identity;q=0.5", "gzip"),
        ("gzip;q=0.5, *;q=0.2", "gzip"),
        ("GZIP", "gzip"),
        ("Gzip;Q=0.8, BR;q=0.7", "gzip"),
        ("x-gzip", "gzip"),
        (" gzip ;  q=0.5 ,\tbr ; q=0.6 ", "br"),
        (",,, gzip ,,", "gzip"),
        ("", None),
        ("deflate, compress", None),
        ("gzip;q=0.001", "gzip"),
        ("gzip;q=1.000", "gzip"),
        ("gzip;q=1.", "gzip"),
        ("gzip;q=0.", None),
        # malformed items are left out, never an error
        ("gzip;q=1.001", None),
        ("gzip;q=1.5", None),
        ("gzip;q=2", None),
        ("gzip;q=-1", None),
        ("gzip;q=0.1234", None),
        ("gzip;q=abc, br", "br"),
        ("gzip;q=, br;q=0.1", "br"),
        ('gzip;q="1"', None),
        ("gzip;level=9", None),
        ("gzip;q=1;q=1", None),
        ("gzip;q=.5", None),
        ("gzip;q=0.\u00b3", None),  # latin-1 superscript three: a digit to str.isdigit
        ("gzip;q=0.\u0665", None),
        ("gzip, gzip;q=0", None),  # named twice: the lower weight holds
        ("\xff\xfe, gzip", "gzip"),
        ("gzi p, br", "br"),
        (";q=1, gzip", "gzip"),
        ("=, ;, ;;, gzip", "gzip"),
    ],
)
def test_the_coding_is_chosen_from_accept_encoding(
    asgi_call: Call, accept: str, chosen: str | None
) -> None:
    app = CompressionMiddleware(raw_app([JSON_TYPE]))
    reply = asgi_call(app, "GET", "/", headers=accepting(accept))
    assert reply.header("content-encoding") == chosen
    assert reply.header("vary") == "Accept-Encoding"
    body = reply.body if chosen is None else decompress(chosen, reply.body)
    assert body == TEXT


def test_no_accept_encoding_means_no_compression(asgi_call: Call) -> None:
    reply = asgi_call(CompressionMiddleware(raw_app([JSON_TYPE])), "GET", "/", headers=None)
    assert reply.header("content-encoding") is None
    assert reply.body == TEXT
    assert reply.header("vary") == "Accept-Encoding"  # another client may get it compressed


def test_repeated_accept_encoding_lines_make_one_list(asgi_call: Call) -> None:
    app = CompressionMiddleware(raw_app([JSON_TYPE]))
    headers = [(b"accept-encoding", b"br;q=0.1"), (b"accept-encoding", b"gzip")]
    assert asgi_call(app, "GET", "/", headers=headers).header("content-encoding") == "gzip"


def test_the_server_order_follows_encodings(asgi_call: Call) -> None:
    app = CompressionMiddleware(raw_app([JSON_TYPE]), encodings=("gzip", "br"))
    assert app.encodings == ("gzip", "br")
    for accept, chosen in [("*", "gzip"), ("zstd", None), ("br, zstd", "br"), ("br, gzip", "gzip")]:
        reply = asgi_call(app, "GET", "/", headers=accepting(accept))
        assert reply.header("content-encoding") == chosen


def test_parse_accept_encoding_weights() -> None:
    assert _parse_accept_encoding("gzip;q=0.5, br, x-gzip;q=0.7, *;q=0") == {
        "gzip": 500,
        "br": 1000,
        "*": 0,
    }


def test_hostile_accept_encoding_is_read_in_linear_time(asgi_call: Call) -> None:
    # Only the first 32 items count: a `br` past them is not seen.
    assert _parse_accept_encoding("gzip;q=0," * 20_000 + "br") == {"gzip": 0}
    assert "br" not in _parse_accept_encoding(", " * 50_000 + "br")
    hostile = [
        "gzip;q=0," * 12_000,
        ";" * 100_000,
        "gzip" + " " * 100_000 + ";q=0.5",
        "q=" * 50_000,
        "," * 100_000,
        "gzip;q=" + "0" * 100_000,
    ]
    app = CompressionMiddleware(raw_app([JSON_TYPE]))
    # Linear work on 600 kB takes milliseconds; a quadratic parser would take minutes and
    # trip the suite's timeout (no wall-clock assertion: the machine may be slow or busy).
    for value in hostile:
        _parse_accept_encoding(value)
        reply = asgi_call(app, "GET", "/", headers=accepting(value))
        assert reply.status == 200 and reply.header("content-encoding") in (None, "gzip")
    assert _parse_accept_encoding("gzip" + " " * 100_000 + ";q=0.5") == {"gzip": 500}


def test_the_decision_cache_is_bounded(asgi_call: Call) -> None:
    app = CompressionMiddleware(raw_app([JSON_TYPE], [b"x"]))
    for i in range(700):
        asgi_call(app, "GET", "/", headers=accepting(f"gzip;q=0.{i % 1000:03d}, x-{i}"))
    asgi_call(app, "GET", "/", headers=accepting("gzip, " + "x" * 300))
    assert len(app._choices) == 512
    assert all(len(key) <= 256 for key in app._choices)


# -- round trips ---------------------------------------------------------------------


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_a_whole_body_is_compressed_with_its_new_length(asgi_call: Call, coding: str) -> None:
    headers = [JSON_TYPE, (b"content-length", str(len(TEXT)).encode())]
    app = CompressionMiddleware(raw_app(headers))
    reply = asgi_call(app, "GET", "/", headers=accepting(coding))
    assert reply.header("content-encoding") == coding
    assert reply.header_list("content-length") == [str(len(reply.body))]
    assert len(reply.body) < len(TEXT) // 4
    assert decompress(coding, reply.body) == TEXT
    assert len(body_messages(reply.messages)) == 1


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_each_streamed_message_is_flushed(asgi_call: Call, coding: str) -> None:
    # Every message decodes, on its own, to exactly what the app sent in it.
    chunks = [b"data: %d\n" % i for i in range(5)] + [TEXT, b"", b"tail\n", b""]
    headers = [JSON_TYPE, (b"content-length", str(sum(map(len, chunks))).encode())]
    reply = asgi_call(
        CompressionMiddleware(raw_app(headers, chunks)), "GET", "/", headers=accepting(coding)
    )
    assert reply.header("content-encoding") == coding
    assert reply.header("content-length") is None
    sent = body_messages(reply.messages)
    assert [m.get("more_body", False) for m in sent] == [True] * 8 + [False]
    decoder = Decoder(coding)
    for chunk, message in zip(chunks[:-1], sent[:-1]):
        assert decoder.feed(message["body"]) == chunk
    decoder.feed(sent[-1]["body"])
    assert decompress(coding, reply.body) == b"".join(chunks)


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_interleaved_streams_do_not_share_a_compressor(coding: str) -> None:
    # Two responses stream at once on one loop, their messages alternating.
    turns = [asyncio.Event() for _ in range(8)]

    def app_for(offset: int) -> Any:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            start = {"type": "http.response.start", "status": 200, "headers": [JSON_TYPE]}
            await send(start)
            for i in range(offset, 8, 2):
                await turns[i].wait()
                body = b"%d:" % i + TEXT[i * 100 : i * 100 + 700]
                await send({"type": "http.response.body", "body": body, "more_body": i < 6})
                if i + 1 < 8:
                    turns[i + 1].set()

        return CompressionMiddleware(app)

    async def one(app: Any) -> bytes:
        sent: list[bytes] = []

        async def send(message: Any) -> None:
            if message["type"] == "http.response.body":
                sent.append(message["body"])

        scope = {"type": "http", "method": "GET", "headers": accepting(coding)}
        await app(scope, None, send)
        return b"".join(sent)

    async def both() -> list[bytes]:
        turns[0].set()
        return list(await asyncio.gather(one(app_for(0)), one(app_for(1))))

    even, odd = asyncio.run(asyncio.wait_for(both(), 10))
    expected = [b"%d:" % i + TEXT[i * 100 : i * 100 + 700] for i in range(8)]
    assert decompress(coding, even) == b"".join(expected[0::2])
    assert decompress(coding, odd) == b"".join(expected[1::2])


def test_bytes_like_bodies_are_compressed(asgi_call: Call) -> None:
    chunks: list[Any] = [bytearray(TEXT), memoryview(TEXT)]
    reply = asgi_call(
        CompressionMiddleware(raw_app([JSON_TYPE], chunks)), "GET", "/", headers=accepting("br")
    )
    assert decompress("br", reply.body) == TEXT * 2


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_levels_are_used(asgi_call: Call, coding: str) -> None:
    options = {"gzip": "gzip_level", "br": "brotli_quality", "zstd": "zstd_level"}[coding]
    low, high = {"gzip": (1, 9), "br": (0, 11), "zstd": (1, 19)}[coding]
    sizes = []
    for level in (low, high):
        app = CompressionMiddleware(raw_app([JSON_TYPE], [TEXT * 20]), **{options: level})
        reply = asgi_call(app, "GET", "/", headers=accepting(coding))
        assert decompress(coding, reply.body) == TEXT * 20
        sizes.append(len(reply.body))
    assert sizes[1] < sizes[0]


# -- what is left alone --------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        [JSON_TYPE, (b"content-encoding", b"gzip")],
        [JSON_TYPE, (b"Content-Encoding", b"identity")],
        [JSON_TYPE, (b"content-range", b"bytes 0-9/100")],
        [JSON_TYPE, (b"cache-control", b"no-transform")],
        [JSON_TYPE, (b"cache-control", b"public, No-Transform ,max-age=60")],
        [JSON_TYPE, (b"cache-control", b"max-age=60"), (b"cache-control", b"no-transform")],
        [(b"content-type", b"text/event-stream")],
        [(b"content-type", b"Text/Event-Stream; charset=utf-8")],
        [(b"content-type", b"image/png")],
        [(b"content-type", b"application/zip")],
        [(b"content-type", b"video/mp4")],
        [(b"content-type", b"font/woff2")],
        [(b"content-type", b"application/octet-stream")],
        [(b"content-type", b"text")],
        [(b"content-type", b"/json")],
        [(b"content-type", b"")],
        [],
        [JSON_TYPE, (b"content-length", b"499")],
    ],
)
def test_responses_left_alone(asgi_call: Call, headers: Headers) -> None:
    for chunks in ([TEXT], [TEXT[:100], TEXT[100:]]):
        app = CompressionMiddleware(raw_app(headers, chunks))
        reply = asgi_call(app, "GET", "/", headers=accepting("gzip, br, zstd"))
        assert reply.headers == headers  # untouched: no Vary either
        assert reply.body == TEXT
        assert [m.get("body") for m in body_messages(reply.messages)] == chunks


def test_no_transform_is_matched_as_a_directive(asgi_call: Call) -> None:
    for value in (b"no-transformer", b'private="x-no-transform"', b"max-age=1"):
        app = CompressionMiddleware(raw_app([JSON_TYPE, (b"cache-control", value)]))
        reply = asgi_call(app, "GET", "/", headers=accepting("gzip"))
        assert reply.header("content-encoding") == "gzip", value


def test_a_206_is_left_alone(asgi_call: Call) -> None:
    app = CompressionMiddleware(raw_app([JSON_TYPE], status=206))
    reply = asgi_call(app, "GET", "/", headers=accepting("gzip"))
    assert (reply.status, reply.headers, reply.body) == (206, [JSON_TYPE], TEXT)


@pytest.mark.parametrize("status", [204, 205])
def test_statuses_without_a_body_are_left_alone(asgi_call: Call, status: int) -> None:
    app = CompressionMiddleware(raw_app([JSON_TYPE, (b"etag", b'"x"')], [b""], status=status))
    reply = asgi_call(app, "GET", "/", headers=accepting("gzip"))
    assert reply.headers == [JSON_TYPE, (b"etag", b'"x"')]
    assert reply.body == b""


def test_other_statuses_are_compressed(asgi_call: Call) -> None:
    for status in (201, 404, 500):
        app = CompressionMiddleware(raw_app([JSON_TYPE], status=status))
        reply = asgi_call(app, "GET", "/", headers=accepting("gzip"))
        assert (reply.status, reply.header("content-encoding")) == (status, "gzip")


def test_minimum_size(asgi_call: Call) -> None:
    for size, compressed in [(499, False), (500, True)]:
        app = CompressionMiddleware(raw_app([JSON_TYPE], [TEXT[:size]]))
        reply = asgi_call(app, "GET", "/", headers=accepting("gzip"))
        assert (reply.header("content-encoding") == "gzip") is compressed
        # A small body goes as it is, for every client: nothing varies.
        assert (reply.header("vary") == "Accept-Encoding") is compressed
        body = decompress("gzip", reply.body) if compressed else reply.body
        assert body == TEXT[:size]
    small = CompressionMiddleware(raw_app([JSON_TYPE], [TEXT[:10]]), minimum_size=10)
    assert asgi_call(small, "GET", "/", headers=accepting("gzip")).header("content-encoding")


def test_an_empty_body_is_never_compressed(asgi_call: Call) -> None:
    app = CompressionMiddleware(raw_app([JSON_TYPE], [b""]), minimum_size=0)
    reply = asgi_call(app, "GET", "/", headers=accepting("gzip"))
    assert (reply.headers, reply.body) == ([JSON_TYPE], b"")


def test_a_stream_is_compressed_whatever_its_size(asgi_call: Call) -> None:
    # Its first message cannot say how long it will be, and is not held back to find out.
    app = CompressionMiddleware(raw_app([JSON_TYPE], [b"a", b"b"]))
    reply = asgi_call(app, "GET", "/", headers=accepting("gzip"))
    assert reply.header("content-encoding") == "gzip"
    assert decompress("gzip", reply.body) == b"ab"


def test_a_small_content_length_decides_for_a_stream(asgi_call: Call) -> None:
    app = CompressionMiddleware(raw_app([JSON_TYPE, (b"content-length", b"2")], [b"a", b"b"]))
    reply = asgi_call(app, "GET", "/", headers=accepting("gzip"))
    assert (reply.header("content-encoding"), reply.body) == (None, b"ab")


def test_a_bad_content_length_is_not_trusted(asgi_call: Call) -> None:
    for value in (b"-1", b"1e3", b"9" * 40, b" 12"):
        app = CompressionMiddleware(raw_app([JSON_TYPE, (b"content-length", value)]))
        reply = asgi_call(app, "GET", "/", headers=accepting("gzip"))
        assert reply.header("content-encoding") == "gzip"
        assert reply.header_list("content-length") == [str(len(reply.body))]


def test_trailers_follow_a_compressed_body(asgi_call: Call) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        start = {"type": "http.response.start", "status": 200, "headers": [JSON_TYPE]}
        await send({**start, "trailers": True})
        await send({"type": "http.response.body", "body": TEXT, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        await send({"type": "http.response.trailers", "headers": [(b"x-sum", b"1")]})

    reply = asgi_call(CompressionMiddleware(app), "GET", "/", headers=accepting("gzip"))
    assert reply.messages[0]["trailers"] is True
    assert reply.messages[-1] == {"type": "http.response.trailers", "headers": [(b"x-sum", b"1")]}
    assert decompress("gzip", reply.body) == TEXT


# -- media types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "compressible"),
    [
        ("text/html; charset=utf-8", True),
        ("TEXT/CSS", True),
        ("text/plain;charset=utf-8", True),
        ("application/json", True),
        ("application/problem+json", True),
        ("application/ld+json; profile=x", True),
        ("application/x-ndjson", True),
        ("application/javascript", True),
        ("application/atom+xml", True),
        ("image/svg+xml", True),
        ("application/wasm", True),
        ("font/ttf", True),
        ("image/x-icon", True),
        ("text/event-stream", False),
        ("image/png", False),
        ("image/webp", False),
        ("audio/mpeg", False),
        ("application/pdf", False),
        ("application/gzip", False),
        ("font/woff2", False),
        ("model/gltf+json", False),
        ("application/json+", False),
        ("json", False),
        ("", False),
    ],
)
def test_default_compressible_types(content_type: str, compressible: bool) -> None:
    app = CompressionMiddleware(raw_app([]))
    assert app.compressible(content_type.encode()) is compressible
    assert app.compressible(content_type.encode()) is compressible  # and from the cache


def test_compressible_types_can_be_replaced_or_extended(asgi_call: Call) -> None:
    app = CompressionMiddleware(
        raw_app([]), compressible_types=["*/*+xml", " Application/X-Thing ", "model/*"]
    )
    assert app.compressible(b"image/svg+xml")
    assert app.compressible(b"model/x3d+xml")
    assert app.compressible(b"application/x-thing; v=1")
    assert app.compressible(b"model/obj")
    assert not app.compressible(b"text/html")
    extended = CompressionMiddleware(
        raw_app([]), compressible_types=DEFAULT_COMPRESSIBLE_TYPES | {"application/x-thing"}
    )
    assert extended.compressible(b"application/x-thing")
    assert extended.compressible(b"text/html")
    everything = CompressionMiddleware(raw_app([]), compressible_types={"*/*"})
    assert everything.compressible(b"image/png")
    assert not everything.compressible(b"text/event-stream")


def test_the_type_cache_is_bounded() -> None:
    app = CompressionMiddleware(raw_app([]))
    for i in range(600):
        app.compressible(b"text/x-%d" % i)
    app.compressible(b"text/" + b"x" * 300)
    assert len(app._types) == 512


# -- the headers of a compressed response ---------------------------------------------


@pytest.mark.parametrize(
    ("vary", "expected"),
    [
        ([], [b"Accept-Encoding"]),
        ([b"Cookie"], [b"Cookie, Accept-Encoding"]),
        ([b"accept-encoding"], [b"accept-encoding"]),
        ([b"Origin, Accept-Encoding"], [b"Origin, Accept-Encoding"]),
        ([b"*"], [b"*"]),
        ([b"Origin", b"Cookie"], [b"Origin, Cookie, Accept-Encoding"]),
        ([b"Origin", b"ACCEPT-ENCODING"], [b"Origin", b"ACCEPT-ENCODING"]),
        ([b"", b" Cookie ,, "], [b"Cookie, Accept-Encoding"]),
    ],
)
def test_vary_is_merged(asgi_call: Call, vary: list[bytes], expected: list[bytes]) -> None:
    headers = [(b"vary", value) for value in vary] + [JSON_TYPE]
    for accept in ("gzip", None):
        reply = asgi_call(
            CompressionMiddleware(raw_app(headers)), "GET", "/", headers=accepting(accept)
        )
        assert [v for k, v in reply.headers if k == b"vary"] == expected


@pytest.mark.parametrize(
    ("etag", "expected"),
    [(b'"abc"', b'W/"abc"'), (b'W/"abc"', b'W/"abc"'), (b"unquoted", b"unquoted")],
)
def test_a_strong_etag_becomes_weak(asgi_call: Call, etag: bytes, expected: bytes) -> None:
    headers = [JSON_TYPE, (b"ETag", etag)]
    reply = asgi_call(CompressionMiddleware(raw_app(headers)), "GET", "/", headers=accepting("br"))
    assert reply.header("etag") == expected.decode()
    plain = asgi_call(CompressionMiddleware(raw_app(headers)), "GET", "/", headers=accepting(None))
    assert plain.header("etag") == etag.decode()  # sent as it is: the tag stays


def test_a_compressed_response_has_no_byte_ranges(asgi_call: Call) -> None:
    headers = [JSON_TYPE, (b"accept-ranges", b"bytes"), (b"content-length", b"8400")]
    reply = asgi_call(
        CompressionMiddleware(raw_app(headers)), "GET", "/", headers=accepting("gzip")
    )
    assert reply.header("accept-ranges") is None
    assert [k for k, _ in reply.headers] == [
        b"content-type",
        b"vary",
        b"content-encoding",
        b"content-length",
    ]


def test_uppercase_header_names_from_a_raw_app(asgi_call: Call) -> None:
    headers = [
        (b"Content-Type", b"application/json"),
        (b"Content-Length", str(len(TEXT)).encode()),
        (b"Vary", b"Cookie"),
        (b"ETag", b'"1"'),
    ]
    reply = asgi_call(
        CompressionMiddleware(raw_app(headers)), "GET", "/", headers=accepting("gzip")
    )
    assert reply.headers == [
        (b"Content-Type", b"application/json"),
        (b"Vary", b"Cookie, Accept-Encoding"),
        (b"ETag", b'W/"1"'),
        (b"content-encoding", b"gzip"),
        (b"content-length", str(len(reply.body)).encode()),
    ]


def test_not_modified(asgi_call: Call) -> None:
    # A 304 carries the ETag the 200 would: weak if the 200 would be compressed.
    etag = (b"etag", b'"v1"')
    cases: list[tuple[Headers, str | None, Headers]] = [
        ([etag], "gzip", [(b"etag", b'W/"v1"')]),
        ([etag], None, [etag]),
        ([JSON_TYPE, etag], None, [JSON_TYPE, etag, (b"vary", b"Accept-Encoding")]),
        (
            [JSON_TYPE, etag],
            "gzip",
            [JSON_TYPE, (b"etag", b'W/"v1"'), (b"vary", b"Accept-Encoding")],
        ),
        ([(b"content-type", b"image/png"), etag], "gzip", [(b"content-type", b"image/png"), etag]),
        ([etag, (b"content-encoding", b"br")], "gzip", [etag, (b"content-encoding", b"br")]),
    ]
    for headers, accept, expected in cases:
        app = CompressionMiddleware(raw_app(headers, [b""], status=304))
        reply = asgi_call(app, "GET", "/", headers=accepting(accept))
        assert (reply.status, reply.headers, reply.body) == (304, expected, b"")


# -- HEAD ----------------------------------------------------------------------------


def test_head_gets_the_headers_of_get(asgi_call: Call) -> None:
    app = Bare()
    app.add_middleware(CompressionMiddleware)

    @app.get("/big")
    async def big(request: Request) -> PlainTextResponse:
        return PlainTextResponse(TEXT.decode(), headers={"etag": '"t"'})

    @app.get("/small")
    async def small(request: Request) -> PlainTextResponse:
        return PlainTextResponse("small")

    @app.get("/stream")
    async def stream(request: Request) -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            yield b"one"
            yield b"two"

        return StreamingResponse(parts(), content_type="text/plain")

    def without_length(headers: Headers) -> Headers:
        return [(k, v) for k, v in headers if k != b"content-length"]

    for path in ("/big", "/small", "/stream"):
        get = asgi_call(app, "GET", path, headers=accepting("gzip"))
        head = asgi_call(app, "HEAD", path, headers=accepting("gzip"))
        assert head.body == b""
        assert without_length(head.headers) == without_length(get.headers), path
    head = asgi_call(app, "HEAD", "/big", headers=accepting("gzip"))
    assert head.header("content-encoding") == "gzip"
    assert head.header("content-length") is None  # the compressed length is not known
    assert head.header("etag") == 'W/"t"'
    short = asgi_call(app, "HEAD", "/small", headers=accepting("gzip"))
    assert (short.header("content-encoding"), short.header("content-length")) == (None, "5")
    plain = asgi_call(app, "HEAD", "/big", headers=accepting("identity"))
    assert plain.header("content-encoding") is None
    assert plain.header("vary") == "Accept-Encoding"
    assert plain.header("content-length") == str(len(TEXT))


# -- on a bare app -------------------------------------------------------------------


def bare_app(tmp_path: Path, **options: Any) -> Bare:
    app = Bare()
    app.add_middleware(CompressionMiddleware, **options)
    (tmp_path / "page.html").write_bytes(b"<p>hello</p>\n" * 100)
    (tmp_path / "photo.png").write_bytes(b"\x89PNG" + bytes(2000))

    @app.get("/items")
    async def items(request: Request) -> JSONResponse:
        return JSONResponse([{"id": i, "name": f"item {i}"} for i in range(100)])

    @app.get("/tiny")
    async def tiny(request: Request) -> dict[str, int]:
        return {"id": 1}

    @app.get("/stream")
    async def stream(request: Request) -> StreamingResponse:
        async def lines() -> AsyncIterator[str]:
            for i in range(3):
                yield f"line {i}\n"

        return StreamingResponse(lines(), content_type="text/plain")

    @app.get("/events")
    async def events(request: Request) -> StreamingResponse:
        async def lines() -> AsyncIterator[str]:
            yield "data: 1\n\n"

        return StreamingResponse(lines(), content_type="text/event-stream")

    @app.get("/page")
    async def page(request: Request) -> FileResponse:
        return FileResponse(tmp_path / "page.html")

    @app.get("/photo")
    async def photo(request: Request) -> FileResponse:
        return FileResponse(tmp_path / "photo.png")

    return app


def test_on_a_bare_app(tmp_path: Path) -> None:
    client = TestClient(bare_app(tmp_path))
    items = client.get("/items")  # the client asks for gzip and undoes it
    assert items.headers["content-encoding"] == "gzip"
    assert items.json() == [{"id": i, "name": f"item {i}"} for i in range(100)]
    assert int(items.headers["content-length"]) < len(items.content) // 3
    assert items.headers["vary"] == "Accept-Encoding"

    zstd = client.get("/items", headers={"accept-encoding": "zstd"})
    assert zstd.headers["content-encoding"] == "zstd"
    assert json.loads(decompress("zstd", zstd.content))[99] == {"id": 99, "name": "item 99"}

    tiny = client.get("/tiny")
    assert "content-encoding" not in tiny.headers and tiny.json() == {"id": 1}

    stream = client.get("/stream", headers={"accept-encoding": "br"})
    assert stream.headers["content-encoding"] == "br"
    assert decompress("br", stream.content) == b"line 0\nline 1\nline 2\n"

    events = client.get("/events")
    assert "content-encoding" not in events.headers and events.text == "data: 1\n\n"

    photo = client.get("/photo")
    assert "content-encoding" not in photo.headers and "vary" not in photo.headers


def test_a_file_and_its_304(tmp_path: Path) -> None:
    client = TestClient(bare_app(tmp_path))
    page = client.get("/page")
    assert page.headers["content-encoding"] == "gzip"
    assert page.content == b"<p>hello</p>\n" * 100
    etag = page.headers["etag"]
    assert etag.startswith('W/"')
    again = client.get("/page", headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.headers["etag"] == etag
    plain = client.get("/page", headers={"accept-encoding": "identity"})
    assert plain.headers["etag"] == etag.removeprefix("W/")
    assert plain.headers["vary"] == "Accept-Encoding"


def test_the_other_middleware_headers_survive(tmp_path: Path) -> None:
    from bare.middleware import add_response_headers

    class Tag:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            add_response_headers(scope, [(b"x-tag", b"1"), (b"vary", b"Cookie")])
            await self.app(scope, receive, send)

    app = bare_app(tmp_path)
    app.add_middleware(Tag)  # inside the compression: its headers are in the start
    items = TestClient(app).get("/items")
    assert items.headers["x-tag"] == "1"
    assert items.headers.getlist("vary") == ["Cookie, Accept-Encoding"]
    assert items.headers["content-encoding"] == "gzip"


def test_websocket_and_lifespan_pass_through(tmp_path: Path) -> None:
    app = bare_app(tmp_path)
    started: list[str] = []

    @app.on_startup
    async def startup() -> None:
        started.append("yes")

    @app.websocket("/ws")
    async def ws(websocket: Any) -> None:
        await websocket.accept()
        await websocket.send_text("x" * 2000)
        await websocket.close()

    with TestClient(app) as client, client.websocket_connect("/ws") as session:
        assert session.receive_text() == "x" * 2000
    assert started == ["yes"]


def test_raw_scopes_other_than_http_are_untouched() -> None:
    seen: list[tuple[str, Any, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope["type"], receive, send))

    app = CompressionMiddleware(inner)

    async def receive() -> Any: ...

    async def send(message: Any) -> None: ...

    for kind in ("websocket", "lifespan"):
        asyncio.run(app({"type": kind, "headers": accepting("gzip")}, receive, send))
    assert seen == [("websocket", receive, send), ("lifespan", receive, send)]


def test_the_client_leaving_mid_stream(asgi_call: Call) -> None:
    # A server of ASGI 2.4 raises OSError from send once the client is gone: the app
    # gets it as it is, and nothing is sent after.
    outcome: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [JSON_TYPE]})
        await send({"type": "http.response.body", "body": TEXT, "more_body": True})
        try:
            await send({"type": "http.response.body", "body": TEXT, "more_body": True})
        except OSError:
            outcome.append("told")

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        if len(sent) == 2:
            raise OSError("client gone")
        sent.append(message)

    scope = {"type": "http", "method": "GET", "headers": accepting("zstd")}
    asyncio.run(CompressionMiddleware(app)(scope, None, send))
    assert outcome == ["told"]
    assert Decoder("zstd").feed(sent[1]["body"]) == TEXT


def test_an_app_error_before_the_body_sends_nothing() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [JSON_TYPE]})
        raise RuntimeError("boom")

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "headers": accepting("gzip")}
    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(CompressionMiddleware(app)(scope, None, send))
    assert sent == []  # the start was held: the server can still answer 500


# -- options -------------------------------------------------------------------------


def test_defaults() -> None:
    app = CompressionMiddleware(raw_app([]))
    assert (app.minimum_size, app.encodings) == (500, ("zstd", "br", "gzip"))
    assert app.compressible_types == DEFAULT_COMPRESSIBLE_TYPES


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"minimum_size": -1}, ValueError, "minimum_size must be 0 or more"),
        ({"minimum_size": "500"}, TypeError, "minimum_size must be an int"),
        ({"minimum_size": True}, TypeError, "minimum_size must be an int"),
        ({"minimum_size": 1.5}, TypeError, "minimum_size must be an int"),
        ({"encodings": "gzip"}, TypeError, r"write \('gzip',\)"),
        ({"encodings": b"gzip"}, TypeError, "sequence of names"),
        ({"encodings": []}, ValueError, "encodings is empty"),
        ({"encodings": ["deflate"]}, ValueError, "unknown encoding 'deflate'"),
        ({"encodings": ["brotli"]}, ValueError, "named 'br'"),
        ({"encodings": ["GZIP"]}, ValueError, "unknown encoding 'GZIP'"),
        ({"encodings": ["gzip", "gzip"]}, ValueError, "names 'gzip' twice"),
        ({"encodings": [1]}, TypeError, "encodings holds str"),
        ({"gzip_level": 0}, ValueError, "gzip_level must be from 1 to 9"),
        ({"gzip_level": 10}, ValueError, "gzip_level must be from 1 to 9"),
        ({"gzip_level": True}, TypeError, "gzip_level must be an int"),
        ({"gzip_level": "6"}, TypeError, "gzip_level must be an int"),
        ({"brotli_quality": 12}, ValueError, "brotli_quality must be from 0 to 11"),
        ({"brotli_quality": -1}, ValueError, "brotli_quality must be from 0 to 11"),
        ({"zstd_level": 0}, ValueError, "zstd_level must be from 1 to 19"),
        ({"zstd_level": 22}, ValueError, "zstd_level must be from 1 to 19"),
        ({"zstd_level": None}, TypeError, "zstd_level must be an int"),
        ({"compressible_types": "text/html"}, TypeError, r"write \{'text/html'\}"),
        ({"compressible_types": []}, ValueError, "compressible_types is empty"),
        ({"compressible_types": ["text"]}, ValueError, "'text' is not a media type rule"),
        ({"compressible_types": ["*/json"]}, ValueError, "is not a media type rule"),
        ({"compressible_types": ["text/*+"]}, ValueError, "is not a media type rule"),
        ({"compressible_types": ["te xt/html"]}, ValueError, "is not a media type rule"),
        ({"compressible_types": ["text/ht*ml"]}, ValueError, "is not a media type rule"),
        ({"compressible_types": ["text/html\r\n"]}, ValueError, "is not a media type rule"),
        ({"compressible_types": [b"text/html"]}, TypeError, "compressible_types holds str"),
        ({"compressible_types": ["text/event-stream"]}, ValueError, "never compressed"),
    ],
)
def test_configuration_mistakes_are_refused(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        CompressionMiddleware(raw_app([]), **options)


def test_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        CompressionMiddleware(raw_app([]), 100)  # type: ignore[misc]


# -- the optional packages -----------------------------------------------------------


@pytest.mark.parametrize(
    ("missing", "offered"),
    [
        (("zstandard",), ("br", "gzip")),
        (("brotli",), ("zstd", "gzip")),
        (("zstandard", "brotli"), ("gzip",)),
    ],
)
def test_missing_packages_are_skipped_by_default(
    monkeypatch: pytest.MonkeyPatch,
    asgi_call: Call,
    missing: tuple[str, ...],
    offered: tuple[str, ...],
) -> None:
    for package in missing:
        monkeypatch.setitem(sys.modules, package, None)  # `import package` fails
    app = CompressionMiddleware(raw_app([JSON_TYPE]))
    assert app.encodings == offered
    reply = asgi_call(app, "GET", "/", headers=accepting("zstd, br;q=0.9, gzip;q=0.1"))
    assert reply.header("content-encoding") == offered[0]
    assert decompress(offered[0], reply.body) == TEXT


@pytest.mark.parametrize(("coding", "package"), [("zstd", "zstandard"), ("br", "brotli")])
def test_a_missing_package_asked_for_is_refused(
    monkeypatch: pytest.MonkeyPatch, coding: str, package: str
) -> None:
    monkeypatch.setitem(sys.modules, package, None)
    with pytest.raises(ImportError) as info:
        CompressionMiddleware(raw_app([]), encodings=(coding, "gzip"))
    message = str(info.value)
    assert f"pip install {package}" in message
    assert "'.[compression]'" in message
    assert info.value.name == package
    # gzip alone needs nothing.
    assert CompressionMiddleware(raw_app([]), encodings=["gzip"]).encodings == ("gzip",)


def test_import_bare_does_not_import_the_middleware() -> None:
    import subprocess

    code = "import bare, sys; print('bare.middleware.compression' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- on a real server ----------------------------------------------------------------


@pytest.fixture(scope="module")
def live() -> Iterator[Server]:
    port = free_port()
    command = uvicorn_command("apps.mw_compression:app", port, "--no-access-log")
    yield from running(command, port)


@pytest.fixture
def server(live: Server) -> Iterator[str]:
    yield live.address
    assert "Traceback" not in live.output()  # no error, logged or not, from any test


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_each_message_reaches_the_client_at_once(server: str, coding: str) -> None:
    # Line i+1 is only sent once the client has decoded line i from what it received.
    from apps.mw_compression import STEPS, line

    tag = f"flush-{coding}"
    with (
        httpx.Client(base_url=f"http://{server}", timeout=10) as client,
        client.stream("GET", f"/stepped/{tag}", headers={"accept-encoding": coding}) as response,
    ):
        assert response.headers["content-encoding"] == coding
        assert "content-length" not in response.headers
        assert response.headers["vary"] == "Accept-Encoding"
        decoder = Decoder(coding)
        raw = response.iter_raw()
        for i in range(STEPS):
            decoded = b""
            while decoded != line(tag, i).encode():
                decoded += decoder.feed(next(raw))
            if i + 1 < STEPS:
                client.get(f"/mark/{tag} {i + 1}")
        assert decoder.feed(b"".join(raw)) == b""  # the end of the stream, no more data


def test_a_whole_json_body_over_the_wire(server: str) -> None:
    from apps.mw_compression import ITEMS

    with httpx.Client(base_url=f"http://{server}", timeout=10) as client:
        for coding in ("gzip", "br", "zstd"):
            with client.stream("GET", "/items", headers={"accept-encoding": coding}) as response:
                raw = b"".join(response.iter_raw())
            assert response.headers["content-encoding"] == coding
            assert int(response.headers["content-length"]) == len(raw)
            assert json.loads(decompress(coding, raw)) == ITEMS
        plain = client.get("/items", headers={"accept-encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.json() == ITEMS


def test_the_client_leaving_mid_stream_on_a_real_server(server: str) -> None:
    with httpx.Client(base_url=f"http://{server}", timeout=10) as client:
        with client.stream("GET", "/stepped/leaver", headers={"accept-encoding": "br"}) as response:
            assert next(response.iter_raw())
        # The stream's generator is closed once the server sees the client go.
        client.get("/mark/leaver 1")
        assert client.get("/wait/closed leaver").json() == {"noted": "closed leaver"}
        assert client.get("/items").status_code == 200


def test_whole_zstd_bodies_from_the_reused_compressor_are_each_a_complete_frame() -> None:
    # Guards the per-thread compressor that _Zstd.compress reuses for whole bodies: each
    # body must decompress on its own to itself, as one from a fresh compressor does.
    from bare.middleware import compression

    codec = compression._Zstd(zstandard, 3)
    bodies = [b"first body " * 100, b"", b"second, other body " * 300, b"x"]
    for body in bodies * 2:
        frame = codec.compress(body)
        fresh = zstandard.ZstdCompressor(level=3).compress(body)
        assert zstandard.ZstdDecompressor().decompress(frame) == body
        assert frame == fresh


# -- files sent by path (the http.response.pathsend extension) ------------------------------


def send_file(app: Any, accept: str | None, method: str = "GET") -> RawClient:
    """Serve `app` to a server that offers pathsend, for a client accepting `accept`."""
    client = RawClient(leave_when_done=True)
    client.run(app, http_scope(method=method, headers=accepting(accept), extensions=PATHSEND))
    return client


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_a_compressible_file_sent_by_path_is_read_and_compressed(
    tmp_path: Path, coding: str
) -> None:
    path = tmp_path / "items.json"
    path.write_bytes(TEXT)
    client = send_file(CompressionMiddleware(FileResponse(path)), coding)
    assert client.types() == ["http.response.start", "http.response.body"]
    headers = dict(client.start()["headers"])
    assert headers[b"content-encoding"] == coding.encode()
    assert headers[b"vary"] == b"Accept-Encoding"
    assert headers[b"etag"].startswith(b'W/"')
    (body,) = client.bodies()
    assert headers[b"content-length"] == str(len(body)).encode()
    assert decompress(coding, body) == TEXT


def test_a_large_file_sent_by_path_is_compressed_as_a_stream(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    content = b"".join(b"line %d of a long text file\n" % i for i in range(20_000))
    path.write_bytes(content)
    client = send_file(CompressionMiddleware(FileResponse(path)), "gzip")
    assert "http.response.pathsend" not in client.types()
    headers = dict(client.start()["headers"])
    assert headers[b"content-encoding"] == b"gzip" and b"content-length" not in headers
    bodies = body_messages(client.sent)
    assert len(bodies) > 2 and not bodies[-1].get("more_body", False)
    assert all(m["more_body"] for m in bodies[:-1])
    assert decompress("gzip", b"".join(client.bodies())) == content


def test_a_file_sent_by_path_is_read_no_further_than_its_length(tmp_path: Path) -> None:
    path = tmp_path / "growing.log"
    path.write_bytes(TEXT)
    stat = path.stat()
    with path.open("ab") as log:
        log.write(b"appended after the stat\n")
    app = CompressionMiddleware(FileResponse(path, stat_result=stat, content_type="text/plain"))
    assert decompress("gzip", b"".join(send_file(app, "gzip").bodies())) == TEXT


@pytest.mark.parametrize(
    ("name", "content", "accept", "vary"),
    [
        ("items.json", TEXT, None, True),  # no coding for this client; others may get one
        ("items.json", TEXT, "identity", True),
        ("photo.png", TEXT, "gzip", False),  # compressed already
        ("tiny.json", b"{}", "gzip", False),  # under minimum_size
    ],
    ids=["no_accept", "identity", "image", "small"],
)
def test_other_files_sent_by_path_are_left_to_the_server(
    tmp_path: Path, name: str, content: bytes, accept: str | None, vary: bool
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    client = send_file(CompressionMiddleware(FileResponse(path)), accept)
    assert client.types() == ["http.response.start", "http.response.pathsend"]
    assert client.sent[-1]["path"] == str(path)
    headers = dict(client.start()["headers"])
    assert headers[b"content-length"] == str(len(content)).encode()
    assert b"content-encoding" not in headers
    assert headers.get(b"vary") == (b"Accept-Encoding" if vary else None)


def test_head_of_a_file_says_what_its_get_sends(tmp_path: Path) -> None:
    path = tmp_path / "items.json"
    path.write_bytes(TEXT)
    app = CompressionMiddleware(FileResponse(path))
    head = dict(send_file(app, "gzip", method="HEAD").start()["headers"])
    get = dict(send_file(app, "gzip").start()["headers"])
    assert head[b"content-encoding"] == get[b"content-encoding"] == b"gzip"
    assert head[b"vary"] == get[b"vary"] and head[b"etag"] == get[b"etag"]


def test_a_zerocopysend_body_is_left_alone_but_varies() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [JSON_TYPE]})
        await send({"type": "http.response.zerocopysend", "file": 3, "count": 10})

    client = RawClient()
    client.run(CompressionMiddleware(app), http_scope(headers=accepting("gzip")))
    assert client.types() == ["http.response.start", "http.response.zerocopysend"]
    assert client.start()["headers"] == [JSON_TYPE, (b"vary", b"Accept-Encoding")]


def test_a_file_gone_before_it_is_read_raises_before_the_start(tmp_path: Path) -> None:
    path = tmp_path / "items.json"
    path.write_bytes(TEXT)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        start = [JSON_TYPE, (b"content-length", str(len(TEXT)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": start})
        path.unlink()
        await send({"type": "http.response.pathsend", "path": str(path)})

    client = RawClient(leave_when_done=True)
    with pytest.raises(FileNotFoundError):
        client.run(CompressionMiddleware(app), http_scope(headers=accepting("gzip")))
    assert client.sent == []  # nothing went out: the app's own error handling decides
