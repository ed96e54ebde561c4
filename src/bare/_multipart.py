"""`multipart/form-data` bodies (RFC 7578), parsed as they arrive by the `multipart`
package's sans-IO `PushMultipartParser`, in its strict mode, under a form's limits.

The parser finds the parts and checks their framing; this module applies the limits
as each part's headers and bytes come, decodes fields as UTF-8, and writes files to
`SpooledTemporaryFile`s: in memory up to `spool_max_size`, then on disk, where every
write runs in a worker thread. Whatever goes wrong half-way (a malformed body, a limit,
the client leaving), every file made so far is closed before the error goes up.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from importlib import import_module
from tempfile import SpooledTemporaryFile
from typing import Any

from ._concurrency import run_in_threadpool
from .exceptions import HTTPException
from .forms import FormData, FormLimits, UploadFile, limit_exceeded, malformed
from .headers import Headers

__all__ = ["parse_multipart"]

MINIMUM_VERSION = (2, 0, 1)
DISK_BATCH = 256 * 1024  # file bytes written to disk in one go (one thread hop)
UNTERMINATED = "Multipart body ended before its final boundary"

# The parser's own reasons, in words for the client (never with the client's bytes).
_REASONS = {
    "Missing Content-Disposition segment header": (
        "A multipart part has no Content-Disposition header"
    ),
    "Invalid Content-Disposition segment header: Wrong type": (
        "A multipart part's Content-Disposition is not form-data"
    ),
    "Invalid Content-Disposition segment header: Missing name option": (
        "A multipart part has no name"
    ),
    "Segment header failed to decode": "Multipart part headers are not valid UTF-8",
    "Unexpected segment header continuation": "Multipart part headers may not be folded",
}
NO_START = "Multipart body does not start with its boundary"
_LIMITS = {
    "Maximum segment header length exceeded": "max_part_header_size",
    "Maximum segment header count exceeded": "max_part_headers",
}


_checked: Any = None  # the module load_parser() last accepted


def load_parser() -> Any:
    """The `multipart` module (2.0.1 or later); ImportError saying what to install."""
    global _checked
    loaded = sys.modules.get("multipart")
    if loaded is not None and loaded is _checked:
        return loaded  # imported and checked already
    hint = "pip install multipart (or, in a checkout of bare, pip install '.[forms]')"
    try:
        multipart = import_module("multipart")
    except ImportError:
        raise ImportError(
            f"request.form() needs multipart to read multipart/form-data: {hint}"
        ) from None
    version = getattr(multipart, "__version__", "0")
    numbers = tuple(int(part) for part in version.split(".")[:3] if part.isdigit())
    if numbers < MINIMUM_VERSION or not hasattr(multipart, "PushMultipartParser"):
        # Old python-multipart releases install a module of the same name.
        raise ImportError(
            f"request.form() needs multipart >= 2.0.1, and the module called multipart "
            f"here is {version!r} from {getattr(multipart, '__file__', '?')}: {hint}"
        )
    _checked = multipart
    return multipart


def _to_disk(file: Any, data: list[bytes]) -> None:
    file.rollover()  # to disk, if not already there
    file.writelines(data)


def _header_size(headers: list[tuple[str, str]]) -> int:
    size = 0
    for name, value in headers:
        size += len(name) + 2 + len(value.encode())
    return size


async def parse_multipart(
    chunks: AsyncIterator[bytes], boundary: str, limits: FormLimits
) -> FormData:
    """The form in the body `chunks` (non-empty byte strings), split by `boundary`."""
    multipart = load_parser()
    parser = multipart.PushMultipartParser(
        boundary,
        max_header_size=limits.max_part_header_size,
        max_header_count=limits.max_part_headers,
        strict=True,
    )
    # NOTE: the parser's private end state. Strict mode refuses any byte after the final
    # boundary that comes in a later chunk, so a body split between `--` and its CRLF
    # would be refused: bytes that arrive once the end is seen are read and dropped
    # instead (RFC 2046's epilogue). Guarded by
    # tests/test_forms.py::test_bytes_after_the_final_boundary_are_ignored_in_any_chunk.
    done = getattr(multipart, "_COMPLETE", object())
    segment_class = multipart.MultipartSegment

    max_fields, max_files = limits.max_fields, limits.max_files
    max_part, max_file = limits.max_part_size, limits.max_file_size
    max_header_size, max_name = limits.max_part_header_size, limits.max_field_name_length
    spool = limits.spool_max_size

    items: list[tuple[str, str | UploadFile]] = []
    uploads: list[UploadFile] = []
    fields = files = size = 0
    name = ""
    pieces: list[bytes] = []
    pending: list[bytes] = []  # file bytes on their way to disk
    pending_size = 0
    upload: UploadFile | None = None
    file: Any = None
    received = False  # the whole body has come in
    try:
        try:
            iterator = aiter(chunks)
            chunk = await _start(iterator, boundary.encode("latin-1"))
            while chunk is not None:
                if parser._state is done:
                    chunk = await anext(iterator, None)
                    continue
                for event in parser.parse(chunk):
                    if event is None:  # the end of a part
                        if upload is not None:
                            if pending:
                                await run_in_threadpool(_to_disk, file, pending)
                                pending = []
                                pending_size = 0
                            # lseek: never waits for the disk, even once the file is there.
                            file.seek(0)
                            upload.size = size
                            file = upload = None
                        else:
                            items.append((name, b"".join(pieces).decode("utf-8")))
                    elif event.__class__ is segment_class:  # a part's headers
                        name = event.name
                        if len(name) * 4 > max_name and len(name.encode()) > max_name:
                            raise limit_exceeded(limits, "max_field_name_length", close=True)
                        headers = event.headerlist
                        # One line is bounded by the parser; the sum of several here.
                        if len(headers) > 1 and _header_size(headers) > max_header_size:
                            raise limit_exceeded(limits, "max_part_header_size", close=True)
                        size = 0
                        if event.filename is None:
                            fields += 1
                            if fields > max_fields:
                                raise limit_exceeded(limits, "max_fields", close=True)
                            pieces = []
                            continue
                        files += 1
                        if files > max_files:
                            raise limit_exceeded(limits, "max_files", close=True)
                        raw = [(n.lower().encode("latin-1"), v.encode()) for n, v in headers]
                        file = SpooledTemporaryFile(max_size=spool)  # noqa: SIM115 (closed by the form)
                        upload = UploadFile(
                            file, size=0, filename=event.filename, headers=Headers(raw)
                        )
                        uploads.append(upload)
                        items.append((name, upload))
                    elif upload is not None:  # file bytes
                        size += len(event)
                        if max_file is not None and size > max_file:
                            raise limit_exceeded(limits, "max_file_size", close=True)
                        if size <= spool:
                            file.write(event)  # in memory, and it stays there
                        else:
                            # To disk in batches: a thread hop costs more than the
                            # write of a chunk.
                            pending.append(event)
                            pending_size += len(event)
                            if pending_size >= DISK_BATCH:
                                await run_in_threadpool(_to_disk, file, pending)
                                pending = []
                                pending_size = 0
                    else:  # field bytes
                        size += len(event)
                        if size > max_part:
                            raise limit_exceeded(limits, "max_part_size", close=True)
                        pieces.append(event)
                chunk = await anext(iterator, None)
            received = True
            parser.close()
        except multipart.MultipartError as error:
            raise _answer(error, limits, received) from None
        except UnicodeDecodeError:
            raise malformed("Form field value is not valid UTF-8", close=not received) from None
    except BaseException:
        for made in uploads:
            made.file.close()
        raise
    return FormData(items)


async def _start(chunks: AsyncIterator[bytes], boundary: bytes) -> bytes | None:
    """The first bytes of `chunks` (None if there are none), once they are known to be
    the first boundary, a CRLF in front allowed; a 400 otherwise.

    RFC 2046 allows a preamble, which no browser sends, and the parser's strict mode
    refuses one only when it fills the first chunk: whether a body passed would depend
    on how it was cut. Refused here, whatever the chunks.
    """
    head = b""
    need = len(boundary) + 4
    while len(head) < need:
        chunk = await anext(chunks, None)
        if chunk is None:
            return head or None  # too short to tell: the parser will find it cut
        head += chunk
    if not (head.startswith(b"--" + boundary) or head.startswith(b"\r\n--" + boundary)):
        raise malformed(NO_START, close=True)
    return head


def _answer(error: Exception, limits: FormLimits, received: bool) -> HTTPException:
    """The 400 or 413 for an error of the parser."""
    if received:  # only close() raises then: the body ended too soon
        return malformed(UNTERMINATED)
    reason = str(error.args[0]) if error.args else ""
    limit = _LIMITS.get(reason)
    if limit is not None:
        return limit_exceeded(limits, limit, close=True)
    return malformed(_REASONS.get(reason, "Malformed multipart body"), close=True)
