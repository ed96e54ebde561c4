"""Compress responses with zstd, Brotli or gzip, as the client's `Accept-Encoding` allows.

    app.add_middleware(CompressionMiddleware)                    # zstd, br, gzip: what is installed
    app.add_middleware(CompressionMiddleware, encodings=("gzip",), minimum_size=1024)

gzip needs nothing; zstd needs `zstandard` and Brotli needs `brotli` (both come with
the `compression` extra of bare). Streams stay streams: each body message the app sends is
compressed and flushed on its own, so the client can decode it as soon as it arrives.
"""

from __future__ import annotations

import importlib
import threading
import zlib
from collections.abc import Iterable
from contextlib import aclosing
from typing import Any, Protocol

from ..types import ASGIApp, Message, Receive, Scope, Send
from . import PATHSEND, read_path

__all__ = ["DEFAULT_COMPRESSIBLE_TYPES", "DEFAULT_ENCODINGS", "CompressionMiddleware"]

DEFAULT_ENCODINGS = ("zstd", "br", "gzip")
"""The server's order of preference when the client likes several codings as much."""

DEFAULT_COMPRESSIBLE_TYPES = frozenset(
    {
        "text/*",
        "application/json",
        "application/*+json",
        "application/x-ndjson",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "application/xml",
        "application/*+xml",
        "image/svg+xml",
        "application/wasm",
        "application/x-www-form-urlencoded",
        "application/yaml",
        "application/x-yaml",
        "application/toml",
        "application/vnd.ms-fontobject",
        "font/ttf",
        "font/otf",
        "font/collection",
        "image/bmp",
        "image/x-icon",
        "image/vnd.microsoft.icon",
    }
)
"""Media types worth compressing. Images, audio, video, archives and woff fonts are
compressed already; `text/event-stream` is never compressed, whatever the list says."""

# The optional packages, by the coding they provide.
_PACKAGES = {"zstd": "zstandard", "br": "brotli"}
_LEVELS = {"gzip": (1, 9), "br": (0, 11), "zstd": (1, 19)}
_NO_BODY = frozenset({204, 205, 304})
_SSE = "text/event-stream"
# Accept-Encoding items read; a real browser sends fewer than ten.
_MAX_CODINGS = 32
# Cache the decisions for short header values only, and a bounded number of them.
_CACHE_KEY_LIMIT = 256
_CACHE_SIZE = 512
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")
_DIGITS = frozenset("0123456789")


class _Stream(Protocol):
    def chunk(self, data: bytes) -> bytes: ...

    def finish(self, data: bytes) -> bytes: ...


class _Codec(Protocol):
    name: str
    token: bytes

    def compress(self, data: bytes) -> bytes: ...

    def stream(self) -> _Stream: ...


class _GzipStream:
    __slots__ = ("_compressor",)

    def __init__(self, level: int) -> None:
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, 31)  # 31: gzip framing

    def chunk(self, data: bytes) -> bytes:
        compressor = self._compressor
        return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)

    def finish(self, data: bytes) -> bytes:
        compressor = self._compressor
        return compressor.compress(data) + compressor.flush()


class _Gzip:
    name = "gzip"
    token = b"gzip"

    def __init__(self, level: int) -> None:
        self.level = level

    def compress(self, data: bytes) -> bytes:
        return _GzipStream(self.level).finish(data)

    def stream(self) -> _Stream:
        return _GzipStream(self.level)


class _BrotliStream:
    __slots__ = ("_compressor",)

    def __init__(self, module: Any, quality: int) -> None:
        self._compressor = module.Compressor(quality=quality)

    def chunk(self, data: bytes) -> bytes:
        compressor = self._compressor
        return bytes(compressor.process(data) + compressor.flush())

    def finish(self, data: bytes) -> bytes:
        compressor = self._compressor
        return bytes(compressor.process(data) + compressor.finish())


class _Brotli:
    name = "br"
    token = b"br"

    def __init__(self, module: Any, quality: int) -> None:
        self.module = module
        self.quality = quality

    def compress(self, data: bytes) -> bytes:
        return bytes(self.module.compress(data, quality=self.quality))

    def stream(self) -> _Stream:
        return _BrotliStream(self.module, self.quality)


class _ZstdStream:
    __slots__ = ("_block", "_compressor")

    def __init__(self, module: Any, level: int) -> None:
        # NOTE: a compressor of its own: streams interleave on the loop, and a
        # zstandard compressor holds one context.
        self._compressor = module.ZstdCompressor(level=level).compressobj()
        self._block = module.COMPRESSOBJ_FLUSH_BLOCK

    def chunk(self, data: bytes) -> bytes:
        compressor = self._compressor
        return bytes(compressor.compress(data) + compressor.flush(self._block))

    def finish(self, data: bytes) -> bytes:
        compressor = self._compressor
        return bytes(compressor.compress(data) + compressor.flush())


class _Zstd:
    name = "zstd"
    token = b"zstd"

    def __init__(self, module: Any, level: int) -> None:
        self.module = module
        self.level = level
        # PERF: building a compressor costs about as much as compressing 20 kB; whole
        # bodies reuse one per thread (a call compresses all at once, nothing interleaves).
        # Guarded by tests/test_mw_compression.py::
        # test_whole_zstd_bodies_from_the_reused_compressor_are_each_a_complete_frame.
        self._local = threading.local()

    def compress(self, data: bytes) -> bytes:
        compressor = getattr(self._local, "compressor", None)
        if compressor is None:
            compressor = self._local.compressor = self.module.ZstdCompressor(level=self.level)
        return bytes(compressor.compress(data))  # the frame records the size

    def stream(self) -> _Stream:
        return _ZstdStream(self.module, self.level)


def _qvalue(text: str) -> int:
    """An RFC 9110 qvalue in thousandths, or -1 if `text` is not one."""
    head, _, fraction = text.partition(".")
    if len(fraction) > 3 or not _DIGITS.issuperset(fraction):
        return -1
    if head == "0":
        return int(fraction.ljust(3, "0"))
    if head == "1" and fraction.strip("0") == "":
        return 1000
    return -1


def _parse_accept_encoding(value: str) -> dict[str, int]:
    """The codings of an `Accept-Encoding` value, lowered, with their weights in
    thousandths (RFC 9110 12.5.3): `"gzip;q=0.5, br"` gives `{"gzip": 500, "br": 1000}`.

    Malformed items are left out; only the first 32 items are read. A coding named
    twice keeps its lowest weight, and `x-gzip` counts as `gzip`.
    """
    weights: dict[str, int] = {}
    items = value.split(",", _MAX_CODINGS)
    for item in items[:_MAX_CODINGS]:  # any item past the limit is in the unsplit rest
        coding, semicolon, parameter = item.partition(";")
        coding = coding.strip(" \t").lower()
        if not coding:
            continue  # an empty list element, which RFC 9110 5.6.1 allows
        weight = 1000
        if semicolon:
            name, equals, text = parameter.partition("=")
            if not equals or name.strip(" \t").lower() != "q":
                continue
            weight = _qvalue(text.strip(" \t"))
            if weight < 0:
                continue
        if coding == "x-gzip":
            coding = "gzip"
        known = weights.get(coding)
        weights[coding] = weight if known is None or weight < known else known
    return weights


def _media_type_rule(entry: Any) -> str:
    """`entry` of `compressible_types`, lowered, if it is a rule we can match."""
    if not isinstance(entry, str):
        raise TypeError(f"compressible_types holds str, not {type(entry).__name__}: {entry!r}")
    rule = entry.strip(" \t").lower()
    main, slash, sub = rule.partition("/")
    wild_suffix = sub.startswith("*+") and _is_token(sub[2:])
    if (
        not slash
        or not (main == "*" or _is_token(main))
        or not (sub == "*" or wild_suffix or _is_token(sub))
        or (main == "*" and not (sub == "*" or wild_suffix))
    ):
        raise ValueError(
            f"compressible_types: {entry!r} is not a media type rule: give 'type/subtype', "
            "'type/*', 'type/*+suffix' or '*/*+suffix' (e.g. 'application/*+json')"
        )
    if rule == _SSE:
        raise ValueError(
            "compressible_types: text/event-stream is never compressed (each event must "
            "reach the client as it is sent); leave it out"
        )
    return rule


def _is_token(text: str) -> bool:
    return bool(text) and "*" not in text and _TCHAR.issuperset(text)


def _level(name: str, option: str, value: Any) -> int:
    low, high = _LEVELS[name]
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{option} must be an int from {low} to {high}, not {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{option} must be from {low} to {high}, not {value}")
    return value


def _load(name: str, explicit: bool) -> Any:
    """The package behind coding `name`; None if it is missing and was not asked for."""
    package = _PACKAGES[name]
    try:
        return importlib.import_module(package)
    except ImportError as exc:
        if not explicit:
            return None
        raise ImportError(
            f"encodings asks for {name!r}, which needs the {package} package: "
            f"pip install {package} (or, in a checkout of bare, pip install '.[compression]'), "
            f"or leave {name!r} out of encodings",
            name=package,
        ) from exc


class CompressionMiddleware:
    """Compress responses with the best coding the client accepts: zstd, Brotli or gzip.

    The coding is chosen from the request's `Accept-Encoding` (weights, `*` and
    `identity` included; a request without one is not compressed), preferring
    `encodings` in order among those the client likes best. A response is compressed
    when its media type is in `compressible_types` and its body is at least
    `minimum_size` bytes; a streamed body (several body messages and no
    `Content-Length`) is compressed whatever its size, one message at a time, each
    flushed so that it reaches the client at once.

    Left alone: responses that have a `Content-Encoding` or a `Content-Range`, 206s,
    `Cache-Control: no-transform`, `text/event-stream`, statuses without a body, and
    bodies sent with the `http.response.zerocopysend` extension. A file the app hands to
    the server by path (`http.response.pathsend`) is read here and compressed when its
    response would be; any other is left to the server.

    A compressed response loses its `Content-Length` (it gets the compressed length when
    the body came in one message) and `Accept-Ranges`; a strong `ETag` becomes weak.
    Every response that a client could get compressed says `Vary: Accept-Encoding`.
    A HEAD request gets the headers its GET would get (without a compressed length).

    Options (checked here; a mistake raises `TypeError` or `ValueError`):

    - `minimum_size` (500): bodies sent whole and smaller than this are left alone.
    - `encodings` (zstd, br, gzip): the codings to offer, in order of preference. By
      default those whose package is installed; naming zstd or br without `zstandard`
      or `brotli` installed raises `ImportError`.
    - `gzip_level` (6, 1-9), `brotli_quality` (4, 0-11), `zstd_level` (3, 1-19).
    - `compressible_types` (`DEFAULT_COMPRESSIBLE_TYPES`): media type rules, each
      `type/subtype`, `type/*`, `type/*+suffix` or `*/*+suffix`; replaces the default
      (extend it with `DEFAULT_COMPRESSIBLE_TYPES | {...}`).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        minimum_size: int = 500,
        encodings: Iterable[str] | None = None,
        gzip_level: int = 6,
        brotli_quality: int = 4,
        zstd_level: int = 3,
        compressible_types: Iterable[str] | None = None,
    ) -> None:
        self.app = app
        if not isinstance(minimum_size, int) or isinstance(minimum_size, bool):
            raise TypeError(f"minimum_size must be an int (bytes), not {minimum_size!r}")
        if minimum_size < 0:
            raise ValueError(f"minimum_size must be 0 or more bytes, not {minimum_size}")
        self.minimum_size = minimum_size
        # An empty body is never worth compressing, whatever the minimum.
        self._threshold = max(minimum_size, 1)
        levels = {
            "gzip": _level("gzip", "gzip_level", gzip_level),
            "br": _level("br", "brotli_quality", brotli_quality),
            "zstd": _level("zstd", "zstd_level", zstd_level),
        }
        self._encoders = self._codecs(encodings, levels)
        # The codings offered, in order: those of `encodings` that can be used.
        self.encodings = tuple(codec.name for codec in self._encoders)

        if compressible_types is None:
            rules = DEFAULT_COMPRESSIBLE_TYPES
        elif isinstance(compressible_types, (str, bytes)):
            raise TypeError(
                "compressible_types is a collection of media types, not one: "
                f"write {{{compressible_types!r}}}"
            )
        else:
            rules = frozenset(_media_type_rule(entry) for entry in compressible_types)
            if not rules:
                raise ValueError(
                    "compressible_types is empty, so nothing would be compressed: "
                    "leave the middleware out instead"
                )
        self.compressible_types = rules
        self._choices: dict[bytes, _Codec | None] = {}
        self._types: dict[bytes, bool] = {}

    @staticmethod
    def _codecs(encodings: Iterable[str] | None, levels: dict[str, int]) -> tuple[_Codec, ...]:
        explicit = encodings is not None
        if encodings is None:
            names: tuple[str, ...] = DEFAULT_ENCODINGS
        elif isinstance(encodings, (str, bytes)):
            raise TypeError(f"encodings is a sequence of names, not one: write ({encodings!r},)")
        else:
            names = tuple(encodings)
        if not names:
            raise ValueError("encodings is empty: leave the middleware out instead")
        codecs: list[_Codec] = []
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"encodings holds str, not {type(name).__name__}: {name!r}")
            if name not in _LEVELS:
                hint = " (Brotli's coding is named 'br')" if name.lower() == "brotli" else ""
                raise ValueError(
                    f"unknown encoding {name!r}{hint}: choose among 'zstd', 'br' and 'gzip'"
                )
            if any(codec.name == name for codec in codecs):
                raise ValueError(f"encodings names {name!r} twice")
            if name == "gzip":
                codecs.append(_Gzip(levels["gzip"]))
                continue
            module = _load(name, explicit)
            if module is None:
                continue
            if name == "br":
                codecs.append(_Brotli(module, levels["br"]))
            else:
                codecs.append(_Zstd(module, levels["zstd"]))
        return tuple(codecs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        responder = _Responder(self, send, self._choose(scope.get("headers") or ()), scope)
        await self.app(scope, receive, responder.send)

    def _choose(self, headers: Iterable[tuple[bytes, bytes]]) -> _Codec | None:
        """The codec for a request with these headers; None for no compression."""
        values = [value for name, value in headers if name == b"accept-encoding"]
        if not values:
            return None  # RFC 9110 allows any coding then; old clients mean none
        value = values[0] if len(values) == 1 else b",".join(values)
        choices = self._choices
        if value in choices:
            return choices[value]
        weights = _parse_accept_encoding(value.decode("latin-1"))
        star = weights.get("*", 0)
        best: _Codec | None = None
        best_weight = 0
        for codec in self._encoders:
            weight = weights.get(codec.name, star)
            if weight > best_weight:
                best, best_weight = codec, weight
        if best is not None and weights.get("identity", star) > best_weight:
            best = None  # the client said it would rather have the body as it is
        if len(value) <= _CACHE_KEY_LIMIT and len(choices) < _CACHE_SIZE:
            choices[value] = best
        return best

    def compressible(self, content_type: bytes) -> bool:
        """Whether a response with this `Content-Type` value is worth compressing."""
        known = self._types.get(content_type)
        if known is not None:
            return known
        media = content_type.decode("latin-1").partition(";")[0].strip(" \t").lower()
        main, _, sub = media.partition("/")
        rules = self.compressible_types
        if not main or not sub or media == _SSE:
            verdict = False
        elif media in rules or f"{main}/*" in rules or "*/*" in rules:
            verdict = True
        else:
            _, plus, suffix = sub.rpartition("+")
            verdict = bool(plus) and (f"{main}/*+{suffix}" in rules or f"*/*+{suffix}" in rules)
        if len(content_type) <= _CACHE_KEY_LIMIT and len(self._types) < _CACHE_SIZE:
            self._types[content_type] = verdict
        return verdict


# The states of a response on its way through.
_START, _PASS, _HELD, _STREAM = range(4)


class _Responder:
    """The `send` of one response: decides at its start, compresses its body."""

    __slots__ = (
        "_codec",
        "_head",
        "_held",
        "_length",
        "_middleware",
        "_send",
        "_state",
        "_stream",
    )

    def __init__(
        self, middleware: CompressionMiddleware, send: Send, codec: _Codec | None, scope: Scope
    ) -> None:
        self._middleware = middleware
        self._send = send
        self._codec = codec
        self._head = scope.get("method") == "HEAD"
        self._state = _START
        self._held: Message = {}
        self._length: int | None = None  # of the held response, if it said
        self._stream: _Stream | None = None

    async def send(self, message: Message) -> None:
        state = self._state
        if state == _PASS:
            await self._send(message)
        elif state == _STREAM:
            await self._send_compressed(message)
        elif state == _HELD:
            if message["type"] == PATHSEND and self._codec is not None:
                await self._send_file(message["path"])
            else:
                await self._send_first(message)
        else:
            if message["type"] == "http.response.start":
                message = self._start(message)
            else:
                self._state = _PASS  # not ours to judge: the server will complain
            if self._state != _HELD:
                await self._send(message)

    def _start(self, message: Message) -> Message:
        """Decide what to do with a response from its start; the start to send now (or
        to hold, in state _HELD)."""
        self._state = _PASS
        status = message["status"]
        headers = message.get("headers") or ()
        content_type = length = None
        for name, value in headers:
            key = name.lower()
            if key == b"content-type":
                content_type = value
            elif key == b"content-length":
                length = int(value) if value.isdigit() and len(value) <= 18 else None
            elif key in (b"content-encoding", b"content-range") or (
                key == b"cache-control" and _no_transform(value)
            ):
                return message
        if status == 206:
            return message
        codec = self._codec
        if status in _NO_BODY:
            if status != 304:
                return message
            # RFC 9110 15.4.5: a 304 carries the Vary and ETag that a 200 would. It
            # rarely has a Content-Type; a weak tag then does no harm if not needed.
            if content_type is None:
                return message if codec is None else _rewritten(message, vary=False, weaken=True)
            if self._middleware.compressible(content_type):
                return _rewritten(message, vary=True, weaken=codec is not None)
            return message
        if status < 200 or content_type is None:
            return message
        middleware = self._middleware
        if not middleware.compressible(content_type):
            return message
        if length is not None and length < middleware._threshold:
            return message
        if self._head:
            # No body to look at: decide as the GET would have, on the Content-Length.
            if codec is None:
                return _rewritten(message, vary=True)
            return _rewritten(message, vary=True, weaken=True, coding=codec.token)
        self._state = _HELD
        self._held = message
        self._length = length
        return message

    async def _send_first(self, message: Message) -> None:
        """The first message after a held start: compress, stream, or neither."""
        start = self._held
        self._held = {}
        self._state = _PASS
        send = self._send
        if message["type"] != "http.response.body":
            # Sent by the server from a file (zerocopysend; pathsend to a client that
            # takes no coding): not compressed here, though it could be for others.
            await send(_rewritten(start, vary=True))
            await send(message)
            return
        body = message.get("body", b"")
        more = message.get("more_body", False)
        codec = self._codec
        if not more and len(body) < self._middleware._threshold:
            await send(start)
            await send(message)
            return
        if codec is None:
            await send(_rewritten(start, vary=True))
            await send(message)
            return
        if not more:
            compressed = codec.compress(body)
            await send(
                _rewritten(
                    start, vary=True, weaken=True, coding=codec.token, length=len(compressed)
                )
            )
            await send({"type": "http.response.body", "body": compressed})
            return
        stream = self._stream = codec.stream()
        self._state = _STREAM
        await send(_rewritten(start, vary=True, weaken=True, coding=codec.token))
        await send({"type": "http.response.body", "body": stream.chunk(body), "more_body": True})

    async def _send_file(self, path: str) -> None:
        """The body of a held response that the app handed to the server by path: read
        here, and sent on as body messages (compressed, or not if it is small)."""
        previous: bytes | None = None
        # NOTE: a chunk is held until the next is read: the last must say more_body=False.
        async with aclosing(read_path(path, self._length)) as chunks:
            async for chunk in chunks:
                if previous is not None:
                    await self.send(
                        {"type": "http.response.body", "body": previous, "more_body": True}
                    )
                previous = chunk
        await self.send({"type": "http.response.body", "body": previous or b""})

    async def _send_compressed(self, message: Message) -> None:
        stream = self._stream
        if message["type"] != "http.response.body" or stream is None:
            await self._send(message)  # trailers, after the body
            return
        body = message.get("body", b"")
        if message.get("more_body", False):
            # A chunk is flushed as it is: the client can decode it before the next.
            await self._send(
                {
                    "type": "http.response.body",
                    "body": stream.chunk(body) if body else b"",
                    "more_body": True,
                }
            )
            return
        self._stream = None
        self._state = _PASS
        await self._send({"type": "http.response.body", "body": stream.finish(body)})


def _no_transform(value: bytes) -> bool:
    """Whether a Cache-Control value has the `no-transform` directive."""
    lowered = value.lower()
    if b"no-transform" not in lowered:
        return False
    return any(
        directive.partition(b"=")[0].strip(b" \t") == b"no-transform"
        for directive in lowered.split(b",")
    )


def _rewritten(
    start: Message,
    *,
    vary: bool,
    weaken: bool = False,
    coding: bytes | None = None,
    length: int | None = None,
) -> Message:
    """`start` with `Vary: Accept-Encoding` merged in, a strong ETag made weak, and, for
    a compressed body, `Content-Encoding` and the new length (or none)."""
    headers: list[tuple[bytes, bytes]] = []
    varies: list[int] = []
    for name, value in start.get("headers") or ():
        key = name.lower()
        if key == b"vary":
            varies.append(len(headers))
        elif coding is not None and key in (b"content-length", b"accept-ranges"):
            continue  # the compressed body has another length, and no byte ranges
        elif weaken and key == b"etag" and value[:1] == b'"':
            value = b"W/" + value  # the compressed bytes differ: the tag cannot be strong
        headers.append((name, value))
    if vary:
        _merge_vary(headers, varies)
    if coding is not None:
        headers.append((b"content-encoding", coding))
        if length is not None:
            headers.append((b"content-length", str(length).encode("ascii")))
    return {**start, "headers": headers}


def _merge_vary(headers: list[tuple[bytes, bytes]], varies: list[int]) -> None:
    """Make the `Vary` field lines at `varies` in `headers` (in place) name
    Accept-Encoding, on one line."""
    if not varies:
        headers.append((b"vary", b"Accept-Encoding"))
        return
    names = [
        name.strip(b" \t")
        for index in varies
        for name in headers[index][1].split(b",")
        if name.strip(b" \t")
    ]
    if any(name == b"*" or name.lower() == b"accept-encoding" for name in names):
        return
    headers[varies[0]] = (headers[varies[0]][0], b", ".join([*names, b"Accept-Encoding"]))
    for index in reversed(varies[1:]):
        del headers[index]
