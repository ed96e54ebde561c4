"""Conditional requests in handlers: `check_preconditions`, before changing a resource
(lost-update protection) or before building an expensive answer to a GET.

    @app.put("/notes/{id:int}")
    async def update(request: Request) -> dict:
        note = await notes.get(request.path_params["id"])
        check_preconditions(request, etag=note.etag)  # 412 if the client's copy is stale
        ...

See docs/conditional-responses.md. Not imported by `import bare`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from ._conditional import NOT_MODIFIED, PRECONDITION_FAILED, evaluate
from ._conditional import etag_for as _etag_for
from .exceptions import HTTPException
from .headers import encode_header
from .responses import Response

if TYPE_CHECKING:
    from .requests import HTTPConnection

__all__ = ["check_preconditions", "etag_for"]

# RFC 9110 8.8.3: etagc = "!" / %x23-7E / obs-text (no space, no quote, no control).
_ETAGC = (frozenset(range(0x21, 0x7F)) - {0x22}) | frozenset(range(0x80, 0x100))


def etag_for(body: bytes) -> str:
    """The strong ETag the `etag` route option gives a response with this body
    (quoted): to set the same one yourself, on a stream say."""
    return _etag_for(body).decode("ascii")


def check_preconditions(
    request: HTTPConnection,
    *,
    etag: str | None = None,
    last_modified: datetime | float | None = None,
    exists: bool = True,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
) -> Response | None:
    """Answer the request's `If-Match`, `If-Unmodified-Since`, `If-None-Match` and
    `If-Modified-Since` against the resource's current validators (RFC 9110 13.2.2).

    - `etag`: the resource's current entity tag: `'"v7"'`, `'W/"v7"'`, or bare text
      (`"v7"`, quoted for you). `last_modified`: when it last changed (an aware
      `datetime` or a timestamp). Either may be None.
    - `exists`: False when there is no resource yet (a PUT that creates): then
      `If-Match: *` fails and `If-None-Match: *` lets the request through.
    - `headers`: what your 200 would carry that a 304 must repeat (`Cache-Control`,
      `Vary`, `Expires`, `Content-Location`).

    Raises `HTTPException(412)` when a precondition fails: an `If-Match` naming
    another tag (a weak tag never matches it), an `If-Unmodified-Since` older than
    `last_modified`, or, for methods other than GET and HEAD, an `If-None-Match` that
    matches. Call it before changing anything, so a stale client changes nothing.
    Returns a 304 response to send for a GET or HEAD whose `If-None-Match` matches (or,
    without one, whose `If-Modified-Since` is not older than `last_modified`), and
    None when the handler should go on.
    """
    tag = None if etag is None else _entity_tag(etag)
    modified = None if last_modified is None else _timestamp(last_modified)
    outcome = evaluate(request.scope, tag, modified, exists)
    if outcome is None:
        return None
    if outcome == PRECONDITION_FAILED:
        raise HTTPException(PRECONDITION_FAILED)
    response = Response(status=NOT_MODIFIED, headers=headers)
    if modified is not None:
        from email.utils import formatdate

        response.set_header("last-modified", formatdate(modified, usegmt=True))
    if tag is not None:
        response.set_header("etag", tag.decode("latin-1"))
    return response


def _entity_tag(etag: str) -> bytes:
    if not isinstance(etag, str):
        raise TypeError(f"etag= is a str such as '\"v7\"', not {etag!r}")
    try:
        value = etag.encode("latin-1")
    except UnicodeEncodeError:
        value = b" "  # refused below, with the message that says why
    opaque = value[2:] if value.startswith(b'W/"') else value
    if opaque[:1] == b'"':
        if len(opaque) < 2 or opaque[-1:] != b'"':
            raise ValueError(f"etag {etag!r} opens a quote it does not close")
        text = opaque[1:-1]
    else:
        text, value = value, b'"' + value + b'"'
    if not _ETAGC.issuperset(text):
        raise ValueError(
            f"etag {etag!r} may hold only visible characters, no space nor inner quote "
            "(RFC 9110 8.8.3)"
        )
    encode_header("etag", value.decode("latin-1"))  # checked as every header is
    return value


def _timestamp(last_modified: datetime | float) -> float:
    if isinstance(last_modified, datetime):
        if last_modified.tzinfo is None:
            raise ValueError(
                "last_modified is a naive datetime: give it a time zone, such as "
                "datetime.now(timezone.utc), so that it names one moment"
            )
        return last_modified.timestamp()
    if isinstance(last_modified, bool) or not isinstance(last_modified, (int, float)):
        raise TypeError(f"last_modified is an aware datetime or a timestamp, not {last_modified!r}")
    return float(last_modified)
