"""Serve the files of a directory: `app.mount("/static", StaticFiles(directory="static"))`."""

from __future__ import annotations

import os
from stat import S_ISDIR, S_ISLNK, S_ISREG
from typing import Any, BinaryIO, Literal

from ._concurrency import run_in_stream_thread
from ._paths import route_path
from ._ranges import UNSATISFIABLE, if_range_allows, parse_ranges
from .headers import encode_header
from .responses import (
    FileResponse,
    JSONResponse,
    RedirectResponse,
    _guess_type,
    _http_date,
    _length_header,
    _precondition,
    _start_message,
    file_etag,
)
from .routing import location_for
from .types import Receive, Scope, Send

__all__ = ["StaticFiles"]

_MAX_PATH = 2048  # characters of the path under the mount
_MAX_SEGMENT = 255  # bytes of one name: what most file systems allow
_ALLOW = [("allow", "GET, HEAD")]
# Precompressed siblings, best first: (content-coding, file suffix).
_ENCODINGS = (("br", ".br"), ("zstd", ".zst"), ("gzip", ".gz"))

_Found = tuple[str, os.stat_result]
_Kind = Literal["file", "redirect", "missing"]


class StaticFiles:
    """An ASGI app answering GET and HEAD with the files under `directory`.

    - `html`: a directory serves its `index.html` (`/docs` redirects to `/docs/`
      first), and a missing file serves the root's `404.html`, when those exist.
    - `follow_symlink`: follow symbolic links wherever they point. By default a link
      is followed only when its target is inside `directory`.
    - `cache_control`: the `Cache-Control` value sent with every file.
    - `precompressed`: serve `name.br`, `name.zst` or `name.gz` in place of `name`
      to clients whose `Accept-Encoding` allows it.
    - `check_dir`: refuse, when built, a `directory` that is not one.

    Every path that does not name a file under `directory` (missing, `..`, a NUL, a
    backslash, a link leading out) gets the same 404; other methods get 405. Files
    are sent with a strong ETag and Last-Modified, answer `If-None-Match` and
    `If-Modified-Since` with 304, and serve byte ranges (see docs/static-files.md).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        html: bool = False,
        follow_symlink: bool = False,
        cache_control: str | None = None,
        precompressed: bool = True,
        check_dir: bool = True,
    ) -> None:
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"directory must be a path (str or os.PathLike), not {directory!r}")
        self.directory = os.fspath(directory)
        if check_dir and not os.path.isdir(self.directory):
            raise ValueError(
                f"StaticFiles directory {self.directory!r} is not a directory: create it, "
                "fix the path, or pass check_dir=False if it will exist when requests come"
            )
        self.html = html
        self.follow_symlink = follow_symlink
        self.precompressed = precompressed
        self._headers: list[tuple[str, str]] = [("accept-ranges", "bytes")]
        if cache_control is not None:
            encode_header("cache-control", cache_control)  # refuses CR, LF and controls now
            self._headers.append(("cache-control", cache_control))
        self.cache_control = cache_control
        self._root = os.path.realpath(self.directory) if check_dir else None

    def __repr__(self) -> str:
        return f"StaticFiles(directory={self.directory!r})"

    # -- the ASGI app -------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(receive, send)
            return
        if kind != "http":
            await send({"type": "websocket.close", "code": 1000})
            return
        method = scope.get("method", "GET")
        if method not in ("GET", "HEAD"):
            response: Any = JSONResponse({"detail": "Method Not Allowed"}, 405, headers=_ALLOW)
            await response(scope, receive, send)
            return
        rest = route_path(scope)
        parts = _split(rest)
        if parts is None:
            kind_found, found = "missing", None
        else:
            kind_found, found = await run_in_stream_thread(self._lookup, parts)
        if kind_found == "redirect":
            await RedirectResponse(location_for(scope, rest + "/"), 307)(scope, receive, send)
            return
        if kind_found == "missing":
            page = await run_in_stream_thread(self._not_found_page) if self.html else None
            if page is None:
                await _not_found(scope, receive, send)
                return
            response = FileResponse(page, 404, self._headers, _guess_type(page))
            await self._send_file(response, scope, receive, send)
            return
        if found is not None:  # always, with "file"
            await self._serve(found, scope, receive, send)

    async def _serve(self, found: _FoundFile, scope: Scope, receive: Receive, send: Send) -> None:
        headers = list(self._headers)
        path, stat = found.path, found.stat
        if found.siblings:
            headers.append(("vary", "Accept-Encoding"))
            encoding = _choose_encoding(scope, found.siblings)
            if encoding is not None:
                path, stat = found.siblings[encoding]
                headers.append(("content-encoding", encoding))
        content_type = found.content_type
        if scope.get("method") == "GET":
            range_header = _single_header(scope, b"range")
            if range_header is not None and self._range_applies(scope, stat):
                ranges = parse_ranges(range_header, stat.st_size)
                if ranges is not None:
                    await _send_ranges(
                        scope, receive, send, path, stat, ranges, content_type, headers
                    )
                    return
        response = FileResponse(path, 200, headers, content_type, stat_result=stat)
        await self._send_file(response, scope, receive, send)

    @staticmethod
    def _range_applies(scope: Scope, stat: os.stat_result) -> bool:
        # A 304 comes first (RFC 9110 13.2.2), and FileResponse makes it.
        if _precondition(scope, file_etag(stat), stat.st_mtime) is not None:
            return False
        if_range = _single_header(scope, b"if-range")
        return if_range is None or if_range_allows(if_range, file_etag(stat), stat.st_mtime)

    @staticmethod
    async def _send_file(
        response: FileResponse, scope: Scope, receive: Receive, send: Send
    ) -> None:
        try:
            await response(scope, receive, send)
        except OSError:
            # Gone or replaced between the look-up and the send: a 404 if nothing was
            # sent yet; after that, the server ends the connection.
            if response.started:
                raise
            await _not_found(scope, receive, send)

    # -- the file system (in a stream thread) -------------------------------------------

    def _root_path(self) -> str:
        return self._root if self._root is not None else os.path.realpath(self.directory)

    def _inside(self, root: str, path: str) -> str | None:
        """`path`, if it names something under `root` (or links may go anywhere); a
        path through a link is given resolved."""
        if self.follow_symlink:
            return os.path.realpath(path)
        # PERF: `root` is resolved and `_split` lets no ".", ".." or empty name through,
        # so a path with no link below `root` stays inside it: one lstat per name below
        # the root, rather than resolving the whole path from "/" on every request.
        # Links take the resolving path. Guarded by the link cases of
        # tests/test_staticfiles.py::test_escapes_and_misses_get_the_same_404 and
        # ::test_nested_file_and_links_inside_the_root.
        prefix = root if root.endswith(os.sep) else root + os.sep
        if not path.startswith(prefix):
            return self._resolved_inside(root, path)
        current = root
        for name in path[len(prefix) :].split(os.sep):
            current = os.path.join(current, name)
            try:
                mode = os.lstat(current).st_mode
            except (OSError, ValueError):
                return None
            if S_ISLNK(mode):
                return self._resolved_inside(root, path)
        return path

    @staticmethod
    def _resolved_inside(root: str, path: str) -> str | None:
        real = os.path.realpath(path)
        try:
            # NOTE: commonpath compares whole names; commonprefix would let /static-old
            # pass for /static.
            if os.path.commonpath([root, real]) != root:
                return None
        except ValueError:  # another drive, on Windows
            return None
        return real

    def _regular(self, root: str, path: str) -> _Found | None:
        real = self._inside(root, path)
        if real is None:
            return None
        try:
            stat = os.stat(real)
        except (OSError, ValueError):
            return None
        return (real, stat) if S_ISREG(stat.st_mode) else None

    def _lookup(self, parts: list[str]) -> tuple[_Kind, _FoundFile | None]:
        """What `parts` (the path's names; a last "" for a trailing slash) lead to."""
        root = self._root_path()
        slash = not parts or parts[-1] == ""
        names = [p for p in parts if p]
        try:
            candidate = os.path.join(root, *names)
            real = self._inside(root, candidate)
            if real is None:
                return "missing", None
            stat = os.stat(real)
        except (OSError, ValueError):
            return "missing", None
        if S_ISREG(stat.st_mode) and not slash:
            return "file", self._with_siblings(root, candidate, (real, stat), names[-1])
        if S_ISDIR(stat.st_mode) and self.html:
            index = self._regular(root, os.path.join(candidate, "index.html"))
            if index is not None:
                if not slash:
                    return "redirect", None
                return "file", self._with_siblings(
                    root, os.path.join(candidate, "index.html"), index, "index.html"
                )
        return "missing", None

    def _with_siblings(self, root: str, candidate: str, found: _Found, name: str) -> _FoundFile:
        siblings: dict[str, _Found] = {}
        if self.precompressed:
            for encoding, suffix in _ENCODINGS:
                try:
                    # Most files have no siblings: a failed stat is the cheap answer.
                    os.stat(candidate + suffix)
                except (OSError, ValueError):
                    continue
                sibling = self._regular(root, candidate + suffix)
                if sibling is not None:
                    siblings[encoding] = sibling
        return _FoundFile(found[0], found[1], _guess_type(name), siblings)

    def _not_found_page(self) -> str | None:
        root = self._root_path()
        found = self._regular(root, os.path.join(root, "404.html"))
        return None if found is None else found[0]


class _FoundFile:
    __slots__ = ("content_type", "path", "siblings", "stat")

    def __init__(
        self, path: str, stat: os.stat_result, content_type: str, siblings: dict[str, _Found]
    ) -> None:
        self.path = path
        self.stat = stat
        self.content_type = content_type
        self.siblings = siblings


def _split(path: str) -> list[str] | None:
    """The names in `path` (already percent-decoded once, by the server), or None if
    it is not a plain relative path: `.` or `..` names, empty names (`//`, which
    could make it absolute), NUL, backslashes, too long."""
    if len(path) > _MAX_PATH or "\x00" in path or "\\" in path:
        return None
    parts = path.split("/")
    if parts[0] == "":
        parts = parts[1:]  # the leading slash
    for i, part in enumerate(parts):
        if part in (".", ".."):
            return None
        if part == "" and i != len(parts) - 1:
            return None
        if len(part.encode("utf-8", "surrogateescape")) > _MAX_SEGMENT:
            return None
    return parts


def _single_header(scope: Scope, name: bytes) -> str | None:
    """The value of header `name`, or None if absent or given more than once."""
    value: bytes | None = None
    for key, item in scope.get("headers", ()):
        if key == name:
            if value is not None:
                return None
            value = item
    return None if value is None else value.decode("latin-1")


def _choose_encoding(scope: Scope, available: dict[str, _Found]) -> str | None:
    """The best of `available` codings the request's `Accept-Encoding` takes."""
    accepted: dict[str, float] = {}
    for key, value in scope.get("headers", ()):
        if key != b"accept-encoding":
            continue
        for item in value.decode("latin-1").split(","):
            coding, _, params = item.partition(";")
            weight = 1.0
            param, _, number = params.partition("=")
            if param.strip().lower() == "q":
                try:
                    weight = float(number.strip()[:5])
                except ValueError:
                    weight = 0.0
            accepted[coding.strip().lower()] = weight
    for encoding, _suffix in _ENCODINGS:
        weight = accepted.get(encoding, accepted.get("*", 0.0))
        if encoding in available and weight > 0:
            return encoding
    return None


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"detail": "Not Found"}, 404)(scope, receive, send)


async def _lifespan(receive: Receive, send: Send) -> None:
    """Served on its own, a directory has nothing to start or stop."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


# -- byte ranges -----------------------------------------------------------------------


def _read_at(file: BinaryIO, offset: int, size: int) -> bytes:
    file.seek(offset)
    return file.read(size)


async def _send_ranges(
    scope: Scope,
    receive: Receive,
    send: Send,
    path: str,
    stat: os.stat_result,
    ranges: list[tuple[int, int]] | str,
    content_type: str,
    extra: list[tuple[str, str]],
) -> None:
    size = stat.st_size
    validators = [(b"etag", file_etag(stat).encode("ascii")), (b"last-modified", _http_date(stat))]
    headers = [encode_header(name, value) for name, value in extra]
    if ranges == UNSATISFIABLE or isinstance(ranges, str):
        await _send_416(scope, receive, send, size)
        return
    if len(ranges) == 1:
        first, last = ranges[0]
        parts = [(b"", first, last)]
        headers += [
            encode_header("content-type", content_type),
            (b"content-range", f"bytes {first}-{last}/{size}".encode("ascii")),
            _length_header(last - first + 1),
        ]
        closing = b""
    else:
        import secrets

        boundary = secrets.token_hex(16)
        parts = []
        for i, (first, last) in enumerate(ranges):
            text = (
                f"--{boundary}\r\ncontent-type: {content_type}\r\n"
                f"content-range: bytes {first}-{last}/{size}\r\n\r\n"
            )
            # Each part after the first starts on a new line (RFC 2046 5.1.1).
            parts.append(((text if i == 0 else "\r\n" + text).encode("latin-1"), first, last))
        closing = f"\r\n--{boundary}--\r\n".encode("ascii")
        length = len(closing) + sum(len(head) + last - first + 1 for head, first, last in parts)
        headers += [
            encode_header("content-type", f"multipart/byteranges; boundary={boundary}"),
            _length_header(length),
        ]
    try:
        file: BinaryIO = await run_in_stream_thread(open, path, "rb")
    except OSError:
        await _not_found(scope, receive, send)
        return
    with file:
        await send(_start_message(scope, 206, [*headers, *validators]))
        for head, first, last in parts:
            if head:
                await send({"type": "http.response.body", "body": head, "more_body": True})
            offset, remaining = first, last - first + 1
            while remaining > 0:
                chunk = await run_in_stream_thread(
                    _read_at, file, offset, min(FileResponse.chunk_size, remaining)
                )
                if not chunk:
                    # Shrunk while being sent: the length already sent cannot be met.
                    raise OSError(f"{path} shrank while being sent")
                offset += len(chunk)
                remaining -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": closing, "more_body": False})


async def _send_416(scope: Scope, receive: Receive, send: Send, size: int) -> None:
    response = JSONResponse(
        {"detail": "Range Not Satisfiable"},
        416,
        headers=[("content-range", f"bytes */{size}"), ("accept-ranges", "bytes")],
    )
    await response(scope, receive, send)
