"""Form bodies: `await request.form()` and what it gives.

A body sent as `application/x-www-form-urlencoded` or `multipart/form-data` (RFC 7578)
is read into a `FormData`, an immutable multi-dict of strings and, for the parts that
carry a file, `UploadFile` objects. `FormLimits` holds every limit that applies while a
form is parsed; an app sets its own with `Bare(form_limits=...)`, a route with the route
option `form_limits=`, and one call with the keywords of `request.form(...)`. The total
size of a body is bounded by the body limit (`max_body_size`), not here.

Multipart bodies are parsed as they arrive by the `multipart` package (the `forms` extra),
imported the first time a multipart form is read; see docs/forms.md.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from ._concurrency import run_in_threadpool
from ._lazy import Lazy
from .exceptions import HTTPException
from .headers import Headers

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from typing import TypedDict

    from .requests import Request

__all__ = ["FormData", "FormLimits", "UploadFile", "safe_filename"]

KIB = 1024
MIB = 1024 * KIB


class FormLimits:
    """The limits on a form body, each on by default.

    - `max_fields`: the most non-file fields (1000).
    - `max_files`: the most file parts (1000).
    - `max_part_size`: the most bytes in the value of one non-file field (1 MiB).
    - `max_file_size`: the most bytes in one file (`None`: only the body limit).
    - `max_part_header_size`: the most bytes of headers in one multipart part (8 KiB).
    - `max_part_headers`: the most headers in one multipart part (16).
    - `max_field_name_length`: the longest field name, in bytes (1024).
    - `spool_max_size`: files larger than this are spooled to a temporary file on disk
      instead of kept in memory (1 MiB).

    Sizes and counts are ints >= 0 (`max_file_size` may be `None`); anything else is
    refused with a `ValueError` when the value is built.
    """

    __slots__ = (
        "max_field_name_length",
        "max_fields",
        "max_file_size",
        "max_files",
        "max_part_header_size",
        "max_part_headers",
        "max_part_size",
        "spool_max_size",
    )

    def __init__(
        self,
        *,
        max_fields: int = 1000,
        max_files: int = 1000,
        max_part_size: int = MIB,
        max_file_size: int | None = None,
        max_part_header_size: int = 8 * KIB,
        max_part_headers: int = 16,
        max_field_name_length: int = 1024,
        spool_max_size: int = MIB,
    ) -> None:
        self.max_fields = _count(max_fields, "max_fields")
        self.max_files = _count(max_files, "max_files")
        self.max_part_size = _count(max_part_size, "max_part_size")
        self.max_file_size = (
            None if max_file_size is None else _count(max_file_size, "max_file_size")
        )
        self.max_part_header_size = _count(max_part_header_size, "max_part_header_size")
        self.max_part_headers = _count(max_part_headers, "max_part_headers")
        self.max_field_name_length = _count(max_field_name_length, "max_field_name_length")
        self.spool_max_size = _count(spool_max_size, "spool_max_size")

    def replace(self, **changes: Any) -> FormLimits:
        """A copy with `changes` applied (checked as the constructor checks them)."""
        unknown = sorted(set(changes) - set(self.__slots__))
        if unknown:
            known = ", ".join(sorted(self.__slots__))
            raise TypeError(f"unknown form limit {unknown[0]!r}; form limits are: {known}")
        return FormLimits(**{**self.as_dict(), **changes})

    def as_dict(self) -> dict[str, int | None]:
        """Every limit, by name."""
        return {name: getattr(self, name) for name in self.__slots__}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FormLimits) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash(tuple(self.as_dict().items()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items())
        return f"FormLimits({fields})"


def _count(value: Any, name: str) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"form limit {name} must be an int >= 0, not {value!r}")
    return value


if TYPE_CHECKING:
    # NOTE: for type checkers only: made at run time, it would take a millisecond (its
    # string annotations are compiled), twice what the rest of this module takes.
    class FormLimitArgs(TypedDict, total=False):
        """The keywords of `request.form(...)`: any `FormLimits` field, for this call only
        (keep the two in step: tests/test_forms.py::test_the_call_keywords_are_the_limits)."""

        max_fields: int
        max_files: int
        max_part_size: int
        max_file_size: int | None
        max_part_header_size: int
        max_part_headers: int
        max_field_name_length: int
        spool_max_size: int


DEFAULT_LIMITS = FormLimits()

# What each limit answers when a form goes past it: a 413 naming the limit.
_LIMIT_MESSAGES = {
    "max_fields": ("Too many form fields", ""),
    "max_files": ("Too many files", ""),
    "max_part_size": ("Form field too large", " bytes"),
    "max_file_size": ("File too large", " bytes"),
    "max_part_header_size": ("Part headers too large", " bytes"),
    "max_part_headers": ("Too many part headers", ""),
    "max_field_name_length": ("Field name too long", " bytes"),
}
# Sent with errors raised while a body is still arriving: the server closes the
# connection after the answer instead of reading the rest of an upload nobody wants.
CLOSE = {"connection": "close"}


def limit_exceeded(limits: FormLimits, name: str, *, close: bool = False) -> HTTPException:
    """The 413 for a form that goes past the limit called `name`."""
    what, unit = _LIMIT_MESSAGES[name]
    return HTTPException(
        413, f"{what} ({name}={getattr(limits, name)}{unit})", CLOSE if close else None
    )


def malformed(detail: str, *, close: bool = False) -> HTTPException:
    """A 400 for a form body that cannot be read; `detail` is never client text."""
    return HTTPException(400, detail, CLOSE if close else None)


# -- the form -----------------------------------------------------------------------------


class FormData(Mapping[str, "str | UploadFile"]):
    """A read-only multi-dict of form fields: names to `str` values and, for file parts
    of a multipart form, `UploadFile` objects, in the order they came.

    As with `request.headers` and `request.query()`, `form[name]` and `form.get(name)`
    give the **first** value of `name` (Starlette gives the last); `getlist(name)` gives
    them all. Iteration, `keys()`, `values()`, `items()` and `len()` see each name once,
    in order of first appearance, with its first value; `multi_items()` is every
    `(name, value)` pair, repeats included. `await form.close()` closes its files.
    """

    __slots__ = ("_first", "_items")

    def __init__(
        self,
        items: Mapping[str, str | UploadFile] | Iterable[tuple[str, str | UploadFile]] = (),
    ) -> None:
        # A list (what the parsers give) skips the isinstance checks: both go through
        # the ABC machinery, FormData being a Mapping.
        if type(items) is list:
            pairs = list(items)
        elif isinstance(items, FormData):
            pairs = items.multi_items()
        elif isinstance(items, Mapping):
            pairs = list(items.items())
        else:
            pairs = list(items)
        self._items: list[tuple[str, str | UploadFile]] = pairs
        self._first: dict[str, str | UploadFile] | None = None

    def _index(self) -> dict[str, str | UploadFile]:
        # Built on the first lookup: a handler that only iterates never pays for it.
        first = self._first
        if first is None:
            first = {}
            for name, value in self._items:
                if name not in first:
                    first[name] = value
            self._first = first
        return first

    def __getitem__(self, name: str) -> str | UploadFile:
        return self._index()[name]

    def get(self, name: str, default: Any = None) -> Any:
        """The first value of `name`, or `default`."""
        return self._index().get(name, default)

    def getlist(self, name: str) -> list[str | UploadFile]:
        """Every value of `name`, in order (an empty list if there is none)."""
        return [value for key, value in self._items if key == name]

    def multi_items(self) -> list[tuple[str, str | UploadFile]]:
        """Every `(name, value)` pair, in order, repeated names included."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._index()

    def __iter__(self) -> Iterator[str]:
        return iter(self._index())

    def __len__(self) -> int:
        return len(self._index())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FormData):
            return self._items == other._items
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FormData({self._items!r})"

    async def close(self) -> None:
        """Close every file of the form (their temporary files are deleted)."""
        for _, value in self._items:
            if isinstance(value, UploadFile):
                await value.close()


class UploadFile:
    """A file sent in a multipart form.

    - `filename`: the name the client sent, as the parser decoded it; display it, never
      use it as a path. `safe_filename` is a sanitised base name for the rare cases a
      client's name must reach a file system (see `safe_filename`).
    - `content_type`: the part's `Content-Type` header, if any; `headers`: all its
      headers (a `bare.headers.Headers`).
    - `size`: the number of bytes received.
    - `file`: the content, a `tempfile.SpooledTemporaryFile` kept in memory up to the
      form's `spool_max_size` and on disk past it; positioned at the start.

    `read`, `seek`, `write` and `close` are async: once the content is on disk, they run
    in a worker thread so the event loop never waits for the disk.
    """

    __slots__ = ("file", "filename", "headers", "size")

    def __init__(
        self,
        file: BinaryIO,
        *,
        size: int | None = None,
        filename: str | None = None,
        headers: Headers | None = None,
    ) -> None:
        self.file = file
        self.size = size
        self.filename = filename
        self.headers = headers if headers is not None else Headers([])

    @property
    def content_type(self) -> str | None:
        """The part's `Content-Type` header, parameters included; None without one."""
        return self.headers.get("content-type")

    @property
    def safe_filename(self) -> str:
        """`filename` made safe to use as one name in a directory (never a path).

        The name is NFKC-normalised; everything up to its last `/` or `\\` is dropped;
        control and format characters (bidi overrides, zero-width spaces), line
        separators and the rare spaces NFKC leaves alone are removed;
        `< > : " | ? *` become `_`; spaces and dots at either end are removed
        (so no `.`, `..` or hidden name); a Windows device name (`CON`, `NUL.txt`...)
        gets a `_` in front; it is cut to 255 bytes of UTF-8, keeping a short
        extension. A name with nothing left is `upload`. Two clients can send the same
        name: to store files, prefer a name of your own (see docs/forms.md).
        """
        return safe_filename(self.filename)

    def _in_memory(self) -> bool:
        file = self.file
        # NOTE: SpooledTemporaryFile's own flag (Starlette reads it too): no public API
        # says whether it has rolled over to disk.
        rolled = getattr(file, "_rolled", None)
        return rolled is False or isinstance(file, io.BytesIO)

    async def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes from the current position (all of the rest with -1)."""
        if self._in_memory():
            return self.file.read(size)
        return await run_in_threadpool(self.file.read, size)

    async def seek(self, offset: int, whence: int = 0) -> int:
        """Move to `offset` (from the start, or as `whence` says); the new position."""
        if self._in_memory():
            return self.file.seek(offset, whence)
        return await run_in_threadpool(self.file.seek, offset, whence)

    async def write(self, data: bytes) -> None:
        """Write `data` at the current position and count it in `size`.

        A write that would take an in-memory file past its spool size (and so move it
        to disk) runs in a worker thread, as do all writes to a file already on disk.
        """
        if self.size is not None:
            self.size += len(data)
        file = self.file
        if self._in_memory():
            limit = getattr(file, "_max_size", 0)  # NOTE: as `_rolled` above
            if not limit or file.tell() + len(data) <= limit:
                file.write(data)
                return
        await run_in_threadpool(file.write, data)

    async def close(self) -> None:
        """Close the file; a temporary file is deleted."""
        if self._in_memory():
            self.file.close()
            return
        try:
            await run_in_threadpool(self.file.close)
        except BaseException:
            self.file.close()  # cancelled while waiting for the thread: close it here
            raise

    def __repr__(self) -> str:
        return (
            f"UploadFile(filename={self.filename!r}, size={self.size!r}, "
            f"content_type={self.content_type!r})"
        )


# -- safe file names ----------------------------------------------------------------------

MAX_FILENAME_BYTES = 255  # what most file systems allow for one name
_MAX_EXTENSION = 16  # a longer "extension" is part of the name when cutting
_WINDOWS_UNSAFE = re.compile(r'[<>:"|?*]')
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{kind}{n}" for kind in ("COM", "LPT") for n in range(10)]
)


def safe_filename(name: str | None) -> str:
    """A sanitised base name for `name` (see `UploadFile.safe_filename`)."""
    import unicodedata  # here: only handlers that store files need it

    text = unicodedata.normalize("NFKC", name or "")
    text = text.replace("\\", "/").rpartition("/")[2]
    if not text.isprintable():
        text = "".join(char for char in text if char.isprintable())
    text = _WINDOWS_UNSAFE.sub("_", text).strip(" .")
    if text.partition(".")[0].rstrip(" ").upper() in _WINDOWS_DEVICES:
        text = "_" + text
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILENAME_BYTES:
        text = _shorten(text)
    return text or "upload"


def _shorten(text: str) -> str:
    stem, dot, extension = text.rpartition(".")
    if not stem or len(extension.encode("utf-8", "surrogatepass")) > _MAX_EXTENSION:
        stem, dot, extension = text, "", ""
    room = MAX_FILENAME_BYTES - len((dot + extension).encode("utf-8", "surrogatepass"))
    cut = stem.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
    return cut.rstrip(" .") + dot + extension


# -- reading a form -----------------------------------------------------------------------

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
# RFC 2046 section 5.1.1: 1 to 70 of these characters, the last not a space.
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")


async def read_form(
    request: Request, limits: FormLimits | None, overrides: FormLimitArgs
) -> FormData:
    """The form in `request`'s body, read under `limits` (None: the defaults) changed by
    `overrides`; what `Request.form()` calls."""
    if limits is None:
        limits = DEFAULT_LIMITS
    if overrides:
        limits = limits.replace(**overrides)
    media_type, _, params = request.header("content-type").partition(";")
    media_type = media_type.strip().lower()
    if media_type == URLENCODED:
        parse_urlencoded = _PARSE_URLENCODED.value or _PARSE_URLENCODED.load()
        return parse_urlencoded(await request.body(), limits)
    if media_type == MULTIPART:
        boundary = multipart_boundary(params)
        parse_multipart = _PARSE_MULTIPART.value or _PARSE_MULTIPART.load()
        return await parse_multipart(request.stream(), boundary, limits)
    raise HTTPException(415, f"Content-Type must be {URLENCODED} or {MULTIPART}")


# The parsers, imported by the first form of their kind (see bare._lazy); the multipart
# one loads the `multipart` package and `tempfile`.
_PARSE_URLENCODED: Lazy[Callable[[bytes, FormLimits], FormData]]
_PARSE_URLENCODED = Lazy("bare._urlencoded", "parse_urlencoded")
_PARSE_MULTIPART: Lazy[Callable[[AsyncIterator[bytes], str, FormLimits], Awaitable[FormData]]]
_PARSE_MULTIPART = Lazy("bare._multipart", "parse_multipart")


def multipart_boundary(params: str) -> str:
    """The `boundary` parameter among the `;`-separated `params` of a multipart
    Content-Type; a 400 if it is missing, given twice or not a valid boundary."""
    found: str | None = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() != "boundary":
            continue
        if found is not None:
            raise malformed("Content-Type has more than one multipart boundary")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        found = value
    if found is None:
        raise malformed("Content-Type multipart/form-data needs a boundary parameter")
    if not _BOUNDARY.fullmatch(found):
        raise malformed("Invalid multipart boundary (RFC 2046: 1 to 70 characters)")
    return found
