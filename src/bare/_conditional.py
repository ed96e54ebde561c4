"""Conditional requests (RFC 9110 section 13), answered in one place.

- `evaluate`: what a request's `If-Match`, `If-Unmodified-Since`, `If-None-Match` and
  `If-Modified-Since` ask of a resource with a given ETag and modification time: go on,
  304 or 412. `FileResponse`, `StaticFiles`, the `etag` route option and
  `bare.conditional.check_preconditions` all use it.
- `HOOKS`: the `etag` route option, as what `http_endpoint` serves the route with: a
  200 to a GET or HEAD sent in one piece gets an ETag (the handler's, else a hash of
  the body) and the request's preconditions are answered against it.

Entity-tag lists are scanned once, left to right, by one regular expression whose every
alternative moves forward: linear in the header's length whatever it holds.
"""

from __future__ import annotations

import re
from binascii import hexlify
from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from ._endpoints import to_response
from ._json import dumps
from ._lazy import Lazy
from .exceptions import HTTPException
from .responses import (
    _JSON_TYPE,
    _TEXT_TYPE,
    FileResponse,
    Response,
    StreamingResponse,
    _describes_content,
    _ok_messages,
    _start_message,
    messages,
)

if TYPE_CHECKING:
    from ._endpoints import Builders
    from .types import Message, Receive, Scope, Send

__all__ = ["HOOKS", "NOT_MODIFIED", "PRECONDITION_FAILED", "etag_for", "evaluate"]

NOT_MODIFIED = 304
PRECONDITION_FAILED = 412

# One element of an If-Match or If-None-Match list (RFC 9110 8.8.3, 13.1.1, 5.6.1): an
# entity tag, quoted, commas allowed inside; or `*`; or anything else up to the next
# comma, skipped (an unquoted or otherwise malformed tag matches nothing).
_ELEMENT = re.compile(rb'[ \t]*(?:(W/)?("[^"]*")[ \t]*(?:,|\Z)|(\*)[ \t]*(?:,|\Z)|[^,]*,?)')
_MAX_DATE = 64  # an HTTP-date is 29 characters: longer is not one
_TWICE: Any = object()  # a date header given more than once: ignored (RFC 9110 13.1.3)
_NAMES = frozenset({b"if-match", b"if-none-match", b"if-modified-since", b"if-unmodified-since"})


def list_matches(value: bytes, etag: bytes | None, exists: bool, strong: bool) -> bool:
    """Whether `value`, an If-Match or If-None-Match field value, names `etag`, the
    current entity tag (None: there is none). `*` names any current representation,
    so it matches when `exists`. With `strong` (If-Match, If-Range) a weak tag on either
    side never matches; otherwise (If-None-Match) `W/` is ignored."""
    if value == b"*":
        return exists
    opaque = None
    if etag is not None:
        weak = etag[:2] == b"W/"
        if not (strong and weak):
            opaque = etag[2:] if weak else etag
            # PERF: the usual request holds one tag, the one it was given; guarded by
            # tests/test_conditional.py::test_list_matches_agrees_with_the_oracle.
            if value == opaque or (not strong and value[:2] == b"W/" and value[2:] == opaque):
                return True
    # PERF: guarded by tests/test_conditional.py::test_list_matches_agrees_with_the_oracle
    # A tag cannot match unless its quoted text is in the value somewhere.
    if (opaque is None or opaque not in value) and b"*" not in value:
        return False
    for element in _ELEMENT.finditer(value):
        tag = element[2]
        if tag is not None:
            if tag == opaque and not (strong and element[1] is not None):
                return True
        elif element[3] is not None and exists:
            return True
    return False


def strongly_equal(tag: bytes, etag: bytes) -> bool:
    """Whether entity tag `tag` is strongly equal to `etag` (RFC 9110 8.8.3.2): the same
    quoted text, neither weak."""
    return tag == etag and tag[:1] == b'"'


def is_entity_tag(value: bytes) -> bool:
    """Whether `value` is an entity tag: `"text"` or `W/"text"`, no quote inside."""
    if value[:2] == b"W/":
        value = value[2:]
    return len(value) >= 2 and value[:1] == b'"' and value[-1:] == b'"' and value.count(b'"') == 2


def http_date(value: bytes) -> int | None:
    """The time an HTTP-date stands for, in whole seconds since the epoch; None if it
    is not one."""
    if len(value) > _MAX_DATE:
        return None
    from email.utils import parsedate_to_datetime  # NOTE: lazy, as `import bare` stays cheap

    try:
        date = parsedate_to_datetime(value.decode("latin-1"))
        if date.tzinfo is None:  # "-0000": still GMT, as every HTTP-date is
            from datetime import timezone

            date = date.replace(tzinfo=timezone.utc)
        return int(date.timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _seconds(last_modified: float | bytes) -> int | None:
    if isinstance(last_modified, bytes):
        return http_date(last_modified)
    return int(last_modified)


def evaluate(
    scope: Scope,
    etag: bytes | None,
    last_modified: float | bytes | None = None,
    exists: bool = True,
) -> int | None:
    """What the preconditions of the request in `scope` say (RFC 9110 13.2.2): None to
    go on, `NOT_MODIFIED` (304) or `PRECONDITION_FAILED` (412).

    `etag` is the resource's current entity tag (quoted), `last_modified` its
    modification time (seconds, or an HTTP-date as sent), each None if it has none;
    `exists` is False when the resource has no current representation (then `*`
    matches nothing). In order: a failing `If-Match` (strong comparison), else a
    failing `If-Unmodified-Since`, is a 412; a matching `If-None-Match` (weak
    comparison) is a 304 for GET and HEAD and a 412 otherwise; else, for GET and HEAD,
    an `If-Modified-Since` not older than `last_modified` is a 304. Repeated
    If-Match or If-None-Match lines make one list; a date given twice, or that does
    not parse, is ignored.
    """
    if_match: Any = None  # bytes, or a list of them for repeated lines
    if_none_match: Any = None
    modified_since: bytes | None = None
    unmodified_since: bytes | None = None
    for name, value in scope.get("headers", ()):
        if name not in _NAMES:
            continue
        if name == b"if-none-match":
            if if_none_match is None:
                if_none_match = value
            elif type(if_none_match) is list:
                if_none_match.append(value)
            else:
                if_none_match = [if_none_match, value]
        elif name == b"if-match":
            if if_match is None:
                if_match = value
            elif type(if_match) is list:
                if_match.append(value)
            else:
                if_match = [if_match, value]
        elif name == b"if-modified-since":
            modified_since = value if modified_since is None else _TWICE
        else:
            unmodified_since = value if unmodified_since is None else _TWICE
    if (
        if_match is None
        and if_none_match is None
        and modified_since is None
        and unmodified_since is None
    ):
        return None  # what most requests hold: nothing to evaluate
    method = scope.get("method", "GET")
    safe = method == "GET" or method == "HEAD"
    if if_match is not None:
        if type(if_match) is list:
            if_match = b",".join(if_match)
        if not list_matches(if_match, etag, exists, strong=True):
            return PRECONDITION_FAILED
    elif unmodified_since is not None and unmodified_since is not _TWICE and exists:
        since = http_date(unmodified_since)
        modified = None if last_modified is None else _seconds(last_modified)
        if since is not None and modified is not None and modified > since:
            return PRECONDITION_FAILED
    if if_none_match is not None:
        if type(if_none_match) is list:
            if_none_match = b",".join(if_none_match)
        if list_matches(if_none_match, etag, exists, strong=False):
            return NOT_MODIFIED if safe else PRECONDITION_FAILED
    elif safe and modified_since is not None and modified_since is not _TWICE and exists:
        since = http_date(modified_since)
        modified = None if last_modified is None else _seconds(last_modified)
        if since is not None and modified is not None and modified <= since:
            return NOT_MODIFIED
    return None


def not_modified_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The headers of a 304 for a 200 with `headers` (RFC 9110 15.4.5): all of them
    (ETag, Cache-Control, Vary, Expires, Date, Content-Location, Set-Cookie...) less
    those describing the content (Content-Type, Content-Length...)."""
    return [pair for pair in headers if not _describes_content(pair[0])]


# -- the hash behind the ETags the route option makes -------------------------------------

# Only apps that make ETags pay for the import (see bare._lazy).
_SHA256: Lazy[Callable[[bytes], Any]] = Lazy("hashlib", "sha256")


def etag_for(body: bytes) -> bytes:
    """A strong entity tag for `body`: the first 128 bits of its SHA-256, in hex, quoted.

    SHA-256 rather than MD5 or BLAKE2b: it was the fastest of the three where measured
    (CPUs with SHA extensions, which most current ones have; see
    docs/conditional-responses.md), and no one can make two bodies share a tag.
    """
    return b'"%.32b"' % hexlify((_SHA256.value or _SHA256.load())(body).digest())


# -- the route option ---------------------------------------------------------------------
# `http_endpoint` serves a route with the option through the very same `serve`, given
# these in place of `text_messages`, `json_messages`, `Response` and `to_response`.

_send_at_once = Response.__call__
_messages = Response.messages


def _text_messages(scope: Scope, text: str) -> tuple[Message, Message]:
    """`text_messages`, answered as the option wants."""
    return _answered(scope, _TEXT_TYPE, text.encode())


def _json_messages(scope: Scope, value: Any) -> tuple[Message, Message]:
    """`json_messages`, answered as the option wants."""
    return _answered(scope, _JSON_TYPE, dumps(value))


def _answered(
    scope: Scope, content_type: tuple[bytes, bytes], content: bytes
) -> tuple[Message, Message]:
    method = scope["method"]
    if method != "GET" and method != "HEAD":
        # See docs/conditional-responses.md: unsafe methods check before changing.
        return _ok_messages(scope, content_type, content)
    etag = etag_for(content)
    outcome = evaluate(scope, etag)
    if outcome is None:
        start, body = _ok_messages(scope, content_type, content)  # what text_messages makes
        start["headers"].append((b"etag", etag))  # a list of its own, made for this start
        return start, body
    if outcome == NOT_MODIFIED:
        start = _start_message(scope, NOT_MODIFIED, [(b"etag", etag)])
        return start, {"type": "http.response.body", "body": b""}
    raise HTTPException(PRECONDITION_FAILED)


class _NoResponse(Response):
    """What the option gives `serve` for `Response`: never made, so every result that
    is not a str, dict or list goes through `_to_response`."""


def _to_response(value: Any) -> Response:
    """`to_response`, answered as the option wants: a 200 of a response sent in one
    piece is given its ETag when sent; one that sends itself goes through a `_Gate`."""
    response = value if isinstance(value, Response) else to_response(value)
    if response._status != 200 or isinstance(response, FileResponse):
        return response  # only a 200 has preconditions; a file answers its own
    kind = type(response)
    if kind.__call__ is not _send_at_once or kind.messages is not _messages:
        return _Checked(response)
    return _Tagged(response)


HOOKS: Builders = (_text_messages, _json_messages, _NoResponse, _to_response)


class _Tagged(Response):
    """A response sent in one piece, given an ETag and answered when its messages are
    made (`serve` calls `messages`, then runs `background`)."""

    def __init__(self, inner: Response) -> None:
        # NOTE: Response.__init__ is skipped on purpose: the inner response is sent.
        self.inner = inner
        self._status = inner._status
        self.raw_headers = inner.raw_headers
        self._body = inner._body
        self.background = inner.background

    def messages(self, scope: Scope) -> tuple[Message, Message]:
        method = scope["method"]
        if method != "GET" and method != "HEAD":
            return self.inner.messages(scope)
        headers = self.raw_headers
        etag = modified = None
        for name, value in headers:
            if name == b"etag":
                etag = value
            elif name == b"last-modified":
                modified = value
        if etag is None:
            etag = etag_for(self._body)
            headers = [*headers, (b"etag", etag)]
        elif not is_entity_tag(etag):
            return self.inner.messages(scope)  # not an entity tag: nothing to compare with
        outcome = evaluate(scope, etag, modified)
        if outcome is None:
            return messages(scope, 200, headers, self._body)
        if outcome == NOT_MODIFIED:
            return messages(scope, NOT_MODIFIED, not_modified_headers(headers), b"")
        raise HTTPException(PRECONDITION_FAILED)


class _Answered(Exception):
    """Raised into a response that sends itself, to stop it once bare has answered."""


class _Checked(Response):
    """A response that sends itself (a stream, a template, your own `__call__`), sent
    through a `_Gate` that answers the preconditions on the way out."""

    def __init__(self, inner: Response) -> None:
        # NOTE: Response.__init__ is skipped on purpose: the inner response is sent.
        self.inner = inner
        self._status = inner._status
        self.raw_headers = inner.raw_headers
        self.background = inner.background
        self.forwarded = False  # something went out to the server
        self.direct = False  # sent as it is (not a GET nor a HEAD)

    # Started means "something was sent": until then, a 412 can still be answered.
    @property
    def started(self) -> bool:
        return self.inner.started if self.direct else self.forwarded

    @started.setter
    def started(self, value: bool) -> None:
        self.forwarded = value

    @property
    def background_ran(self) -> bool:
        return self.inner.background_ran

    @background_ran.setter
    def background_ran(self, value: bool) -> None:
        self.inner.background_ran = value

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method != "GET" and method != "HEAD":
            self.direct = True
            await self.inner(scope, receive, send)
            return
        # Stopped after a 304 went out: bare runs the tasks, as for any response sent.
        with suppress(_Answered):
            await self.inner(scope, receive, _Gate(self, scope, send))


class _Gate:
    """The `send` of a response that sends itself. A 200 whose start carries an ETag is
    answered from it; one without is held until its first body message: if that is the
    last, the body is hashed for an ETag. Streams are never held, nor read."""

    __slots__ = ("answered", "held", "modified", "owner", "passing", "scope", "send")

    def __init__(self, owner: _Checked, scope: Scope, send: Send) -> None:
        self.owner = owner
        self.scope = scope
        self.send = send
        self.passing = False  # decided: what comes is sent as it is
        self.answered = False  # a 304 went out: what comes is dropped
        self.held: Message | None = None
        self.modified: bytes | None = None  # the held start's Last-Modified

    async def __call__(self, message: Message) -> None:
        if self.passing:
            await self.send(message)
            return
        if self.answered:
            if message.get("more_body", False):
                raise _Answered()  # stop a stream; a last message is dropped quietly
            return
        kind = message["type"]
        if kind == "http.response.start":
            await self._start(message)
        elif kind == "http.response.body" and self.held is not None:
            await self._first_body(self.held, message)
        else:
            await self._pass(message)

    async def _pass(self, *messages: Message) -> None:
        self.passing = True
        self.owner.forwarded = True
        for message in messages:
            await self.send(message)

    async def _start(self, start: Message) -> None:
        if start["status"] != 200:
            await self._pass(start)
            return
        etag = modified = None
        for name, value in start.get("headers") or ():
            key = name.lower()
            if key == b"etag":
                etag = bytes(value)
            elif key == b"last-modified":
                modified = bytes(value)
        if etag is not None:
            await self._decide(start, etag, modified)
        elif isinstance(self.owner.inner, StreamingResponse):
            await self._pass(start)  # a stream is never held back
        else:
            self.held, self.modified = start, modified

    async def _first_body(self, start: Message, message: Message) -> None:
        self.held = None
        if message.get("more_body", False):
            await self._pass(start, message)  # not one piece after all
            return
        body: Any = message.get("body", b"")
        if self.scope.get("method") == "HEAD":
            body = getattr(self.owner.inner, "body", None)  # what the GET would send
        if not isinstance(body, bytes):
            await self._pass(start, message)
            return
        etag = etag_for(body)
        start = {**start, "headers": [*(start.get("headers") or ()), (b"etag", etag)]}
        await self._decide(start, etag, self.modified, message)

    async def _decide(
        self, start: Message, etag: bytes, modified: bytes | None, *body: Message
    ) -> None:
        outcome = evaluate(self.scope, etag, modified) if is_entity_tag(etag) else None
        if outcome is None:
            await self._pass(start, *body)
        elif outcome == NOT_MODIFIED:
            self.answered = True
            self.owner.forwarded = True
            headers = not_modified_headers(start.get("headers") or ())
            await self.send({"type": "http.response.start", "status": 304, "headers": headers})
            await self.send({"type": "http.response.body", "body": b""})
        else:
            # Nothing went out yet: the app's exception handlers answer it, as for any
            # handler's error (the response's tasks do not run).
            raise HTTPException(PRECONDITION_FAILED)
