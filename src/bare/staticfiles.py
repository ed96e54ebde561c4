"""Serve the files of a directory: `app.mount("/static", StaticFiles(directory="static"))`."""

from __future__ import annotations

import os
from stat import S_ISDIR, S_ISLNK, S_ISREG
from typing import TYPE_CHECKING, Any, Literal

from ._concurrency import run_in_stream_thread
from ._paths import route_path
from ._ranges import if_range_allows, parse_ranges
from .headers import encode_header
from .responses import (
    FileResponse,
    JSONResponse,
    RedirectResponse,
    _guess_type,
    _http_date,
    _length_header,
    _open_and_read,
    _precondition,
    _read_chunk,
    _send_chunks,
    _start_message,
    file_etag,
)
from .routing import location_for
from .types import Receive, Scope, Send

if TYPE_CHECKING:
    from io import BufferedReader
    from typing import TypeAlias

    from .responses import _OpenedFile

    # What the stream-thread part of a request gives the loop: a file response and
    # its opened file, a range answer, `_REDIRECT`, or None for a 404.
    _Answer: TypeAlias = "tuple[FileResponse, _OpenedFile] | _Ranges | str | None"

__all__ = ["StaticFiles"]

_MAX_PATH = 2048  # characters of the path under the mount
_MAX_SEGMENT = 255  # bytes of one name: what most file systems allow
_ALLOW = [("allow", "GET, HEAD")]
# Precompressed siblings, best first: (content-coding, file suffix).
_ENCODINGS = (("br", ".br"), ("zstd", ".zst"), ("gzip", ".gz"))
_CODINGS = {coding: encode_header("content-encoding", coding) for coding, _ in _ENCODINGS}
_VARY = encode_header("vary", "Accept-Encoding")
_ACCEPT_RANGES = encode_header("accept-ranges", "bytes")

_Found = tuple[str, os.stat_result]
_Kind = Literal["file", "redirect", "missing"]
_REDIRECT = "redirect"


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
        # Sent with every file, encoded once (encode_header refuses CR, LF and controls)
        # and added to its response's raw_headers as they are.
        self._headers = [_ACCEPT_RANGES]
        if cache_control is not None:
            self._headers.append(encode_header("cache-control", cache_control))
        self.cache_control = cache_control
        self._root = os.path.realpath(self.directory) if check_dir else None
        self._types: dict[str, str] = {}  # content types by file name

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
        if parts is None and not self.html:
            await _not_found(scope, receive, send)
            return
        # One stream-thread call up to the first byte: look-up, preconditions, open, read.
        answer = await run_in_stream_thread(self._answer, scope, parts)
        if type(answer) is tuple:
            response, opened = answer
            try:
                await response._send_opened(scope, send, opened)
            except OSError:
                # Gone or replaced since its look-up: a 404 if nothing was sent yet;
                # after that, the server ends the connection.
                if response.started:
                    raise
                await _not_found(scope, receive, send)
        elif isinstance(answer, _Ranges):
            await answer(scope, receive, send)
        elif answer is _REDIRECT:
            await RedirectResponse(location_for(scope, rest + "/"), 307)(scope, receive, send)
        else:
            await _not_found(scope, receive, send)

    def _answer(self, scope: Scope, parts: list[str] | None) -> _Answer:
        """What the request is answered with, and, for a file, all the file system work
        up to its first byte (in a stream thread)."""
        try:
            if parts is not None:
                kind, found = self._lookup(parts)
                if kind == "redirect":
                    return _REDIRECT
                if found is not None:
                    return self._prepare(scope, found)
            page = self._not_found_page() if self.html else None
            if page is not None:
                path, stat = page
                response = FileResponse(path, 404, None, _guess_type(path))
                response.raw_headers += self._headers
                return response, response._open(scope, stat)
        except OSError:
            pass  # gone or replaced since its look-up: the same 404 as a file never there
        return None

    def _prepare(self, scope: Scope, found: _FoundFile) -> _Answer:
        """The answer for a file found, with its first chunk read (in a stream thread)."""
        headers = self._headers
        path, stat = found.path, found.stat
        if found.siblings:
            headers = [*headers, _VARY]
            encoding = _choose_encoding(scope, found.siblings)
            if encoding is not None:
                path, stat = found.siblings[encoding]
                headers.append(_CODINGS[encoding])
        content_type = found.content_type
        if scope.get("method") == "GET":
            range_header = _single_header(scope, b"range")
            if range_header is not None and self._range_applies(scope, stat):
                ranges = parse_ranges(range_header, stat.st_size)
                if ranges is not None:
                    return _Ranges(path, stat, ranges, content_type, headers)
        response = FileResponse(path, 200, None, content_type, stat_result=stat)
        response.raw_headers += headers
        return response, response._open(scope, stat)

    @staticmethod
    def _range_applies(scope: Scope, stat: os.stat_result) -> bool:
        # A 304 comes first (RFC 9110 13.2.2), and FileResponse makes it.
        if _precondition(scope, file_etag(stat), stat.st_mtime) is not None:
            return False
        if_range = _single_header(scope, b"if-range")
        return if_range is None or if_range_allows(if_range, file_etag(stat), stat.st_mtime)

    # -- the file system (in a stream thread) -------------------------------------------

    def _root_path(self) -> str:
        return self._root if self._root is not None else os.path.realpath(self.directory)

    def _inside(self, root: str, path: str) -> tuple[str, os.stat_result | None] | None:
        """`path` and its stat, if it names something under `root` (or links may go
        anywhere). A path through a link is given resolved, and without its stat."""
        if self.follow_symlink:
            return os.path.realpath(path), None
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
        stat = None
        for name in path[len(prefix) :].split(os.sep):
            current = os.path.join(current, name)
            try:
                stat = os.lstat(current)
            except (OSError, ValueError):
                return None
            if S_ISLNK(stat.st_mode):
                return self._resolved_inside(root, path)
        return path, stat  # the last name is no link: its lstat is its stat

    @staticmethod
    def _resolved_inside(root: str, path: str) -> tuple[str, None] | None:
        real = os.path.realpath(path)
        try:
            # NOTE: commonpath compares whole names; commonprefix would let /static-old
            # pass for /static.
            if os.path.commonpath([root, real]) != root:
                return None
        except ValueError:  # another drive, on Windows
            return None
        return real, None

    def _stat_inside(self, root: str, path: str) -> _Found | None:
        """`path` (resolved if through a link) and its stat, if it is under `root`."""
        checked = self._inside(root, path)
        if checked is None:
            return None
        real, stat = checked
        if stat is None:
            try:
                stat = os.stat(real)
            except (OSError, ValueError):
                return None
        return real, stat

    def _regular(self, root: str, path: str) -> _Found | None:
        found = self._stat_inside(root, path)
        return found if found is not None and S_ISREG(found[1].st_mode) else None

    def _lookup(self, parts: list[str]) -> tuple[_Kind, _FoundFile | None]:
        """What `parts` (the path's names; a last "" for a trailing slash) lead to."""
        root = self._root_path()
        slash = not parts or parts[-1] == ""
        names = [p for p in parts if p]
        try:
            candidate = os.path.join(root, *names)
        except ValueError:
            return "missing", None
        found = self._stat_inside(root, candidate)
        if found is None:
            return "missing", None
        stat = found[1]
        if S_ISREG(stat.st_mode) and not slash:
            return "file", self._with_siblings(root, candidate, found, names[-1])
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
            # PERF: a path `_inside` gave back as it was has no link below the root, so a
            # sibling that is itself no link is inside too: one lstat tells, and a failed
            # one (most files have no siblings) is the cheap answer. A link, or a path
            # that went through one, takes `_regular`
            # (guarded by tests/test_staticfiles.py::test_a_sibling_link_out_is_refused
            # and tests/test_staticfiles.py::test_precompressed_by_accept_encoding).
            unlinked = found[0] == candidate
            for encoding, suffix in _ENCODINGS:
                path = candidate + suffix
                try:
                    stat = os.lstat(path)
                except (OSError, ValueError):
                    continue
                if unlinked and S_ISREG(stat.st_mode):
                    siblings[encoding] = (path, stat)
                    continue
                sibling = self._regular(root, path)
                if sibling is not None:
                    siblings[encoding] = sibling
        content_type = self._types.get(name)
        if content_type is None:
            # Guessed once per name (mimetypes parses the name as a URL first).
            content_type = _guess_type(name)
            if len(self._types) >= 1024:
                self._types.clear()
            self._types[name] = content_type
        return _FoundFile(found[0], found[1], content_type, siblings)

    def _not_found_page(self) -> _Found | None:
        root = self._root_path()
        return self._regular(root, os.path.join(root, "404.html"))


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


class _Ranges:
    """The answer to a `Range` request: a 206, or a 416 when no range fits. Made in a
    stream thread, where the file is opened and the first range's first chunk read
    (the file is closed there already when that is all); sent from the loop."""

    __slots__ = ("chunk", "closing", "file", "headers", "parts", "path", "size")

    def __init__(
        self,
        path: str,
        stat: os.stat_result,
        ranges: list[tuple[int, int]] | str,
        content_type: str,
        extra: list[tuple[bytes, bytes]],
    ) -> None:
        self.path = path
        size = self.size = stat.st_size
        self.file: BufferedReader | None = None
        self.chunk = b""
        self.closing = b""
        self.parts: list[tuple[bytes, int, int]] = []
        self.headers: list[tuple[bytes, bytes]] = []
        if isinstance(ranges, str):  # UNSATISFIABLE: a 416
            return
        headers = list(extra)
        if len(ranges) == 1:
            first, last = ranges[0]
            self.parts = [(b"", first, last)]
            headers += [
                encode_header("content-type", content_type),
                (b"content-range", f"bytes {first}-{last}/{size}".encode("ascii")),
                _length_header(last - first + 1),
            ]
        else:
            import secrets

            boundary = secrets.token_hex(16)
            for i, (first, last) in enumerate(ranges):
                text = (
                    f"--{boundary}\r\ncontent-type: {content_type}\r\n"
                    f"content-range: bytes {first}-{last}/{size}\r\n\r\n"
                )
                # Each part after the first starts on a new line (RFC 2046 5.1.1).
                head = (text if i == 0 else "\r\n" + text).encode("latin-1")
                self.parts.append((head, first, last))
            self.closing = f"\r\n--{boundary}--\r\n".encode("ascii")
            length = len(self.closing) + sum(
                len(head) + last - first + 1 for head, first, last in self.parts
            )
            headers += [
                encode_header("content-type", f"multipart/byteranges; boundary={boundary}"),
                _length_header(length),
            ]
        headers += [
            (b"etag", file_etag(stat).encode("ascii")),
            (b"last-modified", _http_date(stat)),
        ]
        self.headers = headers
        # The file is closed by the read that ends the last part.
        _, first, last = self.parts[0]
        self.file, self.chunk = _open_and_read(
            path, first, last - first + 1, FileResponse.chunk_size, len(self.parts) == 1
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        file = self.file
        if file is None:
            await _send_416(scope, receive, send, self.size)
            return
        try:
            await send(_start_message(scope, 206, self.headers))
            chunk, count, chunk_size = self.chunk, len(self.parts), FileResponse.chunk_size
            for index, (head, first, last) in enumerate(self.parts):
                final = index == count - 1
                length = last - first + 1
                if index:
                    size = min(chunk_size, length)
                    chunk = await run_in_stream_thread(
                        _read_part, file, first, size, final and size == length
                    )
                if head:
                    await send({"type": "http.response.body", "body": head, "more_body": True})
                more = not final or bool(self.closing)
                short = await _send_chunks(send, file, chunk, length, chunk_size, more, final)
                if short:
                    # Shrunk while being sent: the length already sent cannot be met.
                    raise OSError(f"{self.path} shrank while being sent")
            if self.closing:
                await send({"type": "http.response.body", "body": self.closing, "more_body": False})
        finally:
            file.close()


def _read_part(file: BufferedReader, offset: int, size: int, last: bool) -> bytes:
    """In a stream thread: the first chunk of a part after the first."""
    file.seek(offset)
    return _read_chunk(file, size, last)


async def _send_416(scope: Scope, receive: Receive, send: Send, size: int) -> None:
    response = JSONResponse(
        {"detail": "Range Not Satisfiable"},
        416,
        headers=[("content-range", f"bytes */{size}"), ("accept-ranges", "bytes")],
    )
    await response(scope, receive, send)
