"""`RequestIdMiddleware`: one id per request, taken from the client or made up, echoed
on the response, readable as `request.id`, `current_request_id()` and, through
`RequestIdFilter`, on every log record written while the request is served.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar

from ..headers import Headers
from ..requests import REQUEST_ID_KEY
from ..types import ASGIApp, Message, Receive, Scope, Send
from . import add_response_headers

__all__ = [
    "DEFAULT_HEADER",
    "DEFAULT_MAX_LENGTH",
    "RequestIdFilter",
    "RequestIdMiddleware",
    "current_request_id",
    "new_request_id",
]

DEFAULT_HEADER = "X-Request-ID"
DEFAULT_MAX_LENGTH = 128
# Ids travel in headers and log lines: letters, digits and -._~+/= (base64 and UUIDs fit).
_ID_CHARACTERS = r"[A-Za-z0-9\-._~+/=]"
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

_current: ContextVar[str | None] = ContextVar("bare.request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served in this context, or None outside one."""
    return _current.get()


# Generated ids: 128 random bits from os.urandom, as 32 hex digits. They are drawn 256
# at a time because one getrandom() call per request costs more than the rest of this
# middleware; taking one is a single `next()`, atomic under the GIL, so threads sharing
# the pool never get the same id. A forked child must not reuse its parent's pool.
_BATCH = 256
_pool: Iterator[str] = iter(())


def _refill() -> Iterator[str]:
    digits = os.urandom(16 * _BATCH).hex()
    return iter([digits[i : i + 32] for i in range(0, len(digits), 32)])


def _forget_pool() -> None:
    global _pool
    _pool = iter(())


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_forget_pool)


def new_request_id() -> str:
    """A fresh, unguessable request id: 32 hexadecimal digits (128 random bits)."""
    global _pool
    request_id = next(_pool, None)
    if request_id is None:
        _pool = _refill()
        request_id = next(_pool)
    return request_id


class RequestIdFilter(logging.Filter):
    """A logging filter that sets `record.request_id` to the current request's id.

    Records logged outside a request get "-"; a record that already carries a
    `request_id` (as `LoggingMiddleware`'s do) keeps it. Attach it to a handler
    (`handler.addFilter(RequestIdFilter())`) to have every record that handler
    writes carry the id, then use `%(request_id)s` in the handler's format.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = _current.get() or "-"
        return True


class RequestIdMiddleware:
    """Give every HTTP request and WebSocket connection an id.

    The client's `X-Request-ID` (or `header`) is kept when `trust_incoming` is true and
    it is well-formed: one such header, 1 to `max_length` characters, only letters,
    digits and `-._~+/=`. Otherwise the id is a new one, from `generator` (a callable
    without arguments returning such a str) or 32 random hexadecimal digits.

    The id is sent back in the same response header (not for WebSockets, which have no
    response to carry it), stored in the scope for `request.id`, and set in a context
    variable for `current_request_id()` and `RequestIdFilter` until the request ends.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        header: str = DEFAULT_HEADER,
        trust_incoming: bool = True,
        generator: Callable[[], str] | None = None,
        max_length: int = DEFAULT_MAX_LENGTH,
    ) -> None:
        if not isinstance(header, str) or not _TOKEN.fullmatch(header):
            raise ValueError(
                f"RequestIdMiddleware header {header!r} must be a header name: letters, "
                "digits and !#$%&'*+-.^_`|~, such as 'X-Request-ID'"
            )
        if not isinstance(trust_incoming, bool):
            raise TypeError(
                f"RequestIdMiddleware trust_incoming must be True or False, not {trust_incoming!r}"
            )
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise ValueError(
                f"RequestIdMiddleware max_length must be an int of 1 or more, not {max_length!r}"
            )
        if generator is not None and not callable(generator):
            raise TypeError(
                "RequestIdMiddleware generator must be a callable without arguments "
                f"returning a str, not {generator!r}"
            )
        self.app = app
        self.header = header
        self.trust_incoming = trust_incoming
        self.generator = generator
        self.max_length = max_length
        self._name = header.lower()
        self._raw_name = self._name.encode("ascii")
        self._valid = re.compile(rf"{_ID_CHARACTERS}{{1,{max_length}}}").fullmatch
        if generator is not None:
            # One trial call, so that a generator that cannot work is refused now and
            # not on every request.
            self._generated(generator)

    def is_valid(self, request_id: object) -> bool:
        """Whether `request_id` would be accepted from a client (or a generator)."""
        return isinstance(request_id, str) and self._valid(request_id) is not None

    def _generated(self, generator: Callable[[], str]) -> str:
        request_id = generator()
        if not self.is_valid(request_id):
            raise ValueError(
                f"RequestIdMiddleware generator {generator!r} returned {request_id!r}: an id "
                f"must be a str of 1 to {self.max_length} letters, digits or -._~+/="
            )
        return request_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        request_id = None
        if self.trust_incoming:
            given = Headers(scope.get("headers", ())).getlist(self._name)
            # NOTE: two headers are two claims, and neither can be preferred: both are dropped.
            if len(given) == 1 and self._valid(given[0]) is not None:
                request_id = given[0]
        if request_id is None:
            generator = self.generator
            request_id = new_request_id() if generator is None else self._generated(generator)
        scope[REQUEST_ID_KEY] = request_id
        token = _current.set(request_id)
        try:
            if kind == "websocket":
                await self.app(scope, receive, send)
                return
            # The id is checked (or made here) to hold header-safe characters only.
            header = (self._raw_name, request_id.encode("ascii"))
            if add_response_headers(scope, (header,)):
                await self.app(scope, receive, send)
                return

            # A plain function handing back send's awaitable: cheaper than a coroutine of its own.
            def send_with_id(message: Message) -> Awaitable[None]:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", ()), header]}
                return send(message)

            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)
