"""`LoggingMiddleware`: one access-log record per HTTP request, through `logging`."""

from __future__ import annotations

import logging
import os
import re
import string
from time import perf_counter
from typing import Any

from ..requests import REQUEST_ID_KEY
from ..types import ASGIApp, Message, Receive, Scope, Send
from . import PATHSEND, content_length

__all__ = ["DEFAULT_FORMAT", "FIELDS", "LoggingMiddleware", "escape"]

DEFAULT_FORMAT = (
    '{client} "{method} {path}{query} HTTP/{http_version}" {status} {bytes}B '
    "{duration_ms:.2f}ms {request_id}"
)

# Every field a record carries (as an attribute, too), with a sample value of its type.
FIELDS: dict[str, Any] = {
    "method": "GET",
    "path": "/",
    "query": "",
    "status": 200,
    "duration_ms": 0.5,
    "bytes": 0,
    "client": "127.0.0.1:50000",
    "request_id": "-",
    "http_version": "1.1",
}

# What a client could use to forge or hide log lines: C0 and C1 controls and DEL, the
# Unicode line and paragraph separators, the invisible and bidirectional formatting
# marks, lone surrogates (a handler could not even encode them), and the backslash and
# double quote, so that escaped text reads one way only and stays inside its quotes.
_UNSAFE = re.compile(
    '[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff"\\\\]'
)


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\" or char == '"':
        return "\\" + char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """`text` with every character that could forge or hide a log line escaped
    (`\\x1b`, `\\u2028`, `\\"`, `\\\\`...); other text, non-ASCII included, unchanged."""
    return _UNSAFE.sub(_escape_one, text)


def _check_format(template: str) -> None:
    if not isinstance(template, str):
        raise TypeError(f"LoggingMiddleware format must be a str, not {template!r}")
    percent = re.search(r"%\((\w+)\)", template)
    if percent is not None:
        raise ValueError(
            "LoggingMiddleware format is in str.format style: "
            f"write {{{percent[1]}}} where it has {percent[0]}"
        )
    try:
        fields = [(field, spec) for _, field, spec, _ in string.Formatter().parse(template)]
    except ValueError as exc:
        raise ValueError(f"LoggingMiddleware format {template!r} does not parse: {exc}") from None
    for field, spec in fields:
        if field is None:
            continue
        if field not in FIELDS:
            raise ValueError(
                f"LoggingMiddleware format has an unknown field {{{field}}}: use only "
                f"{', '.join(FIELDS)}, each as {{name}} (str.format style, not %-style)"
            )
        if spec and "{" in spec:
            raise ValueError(
                f"LoggingMiddleware format: the spec of {{{field}}} may not hold another field"
            )
    try:
        template.format_map(FIELDS)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"LoggingMiddleware format {template!r} does not work: {exc}") from None


def _level(level: int | str) -> int:
    if isinstance(level, str):
        number = logging.getLevelName(level.upper())
        if isinstance(number, int):
            return number
    elif isinstance(level, int) and not isinstance(level, bool) and level >= 0:
        return level
    raise ValueError(
        f"LoggingMiddleware level {level!r} must be a logging level: "
        "logging.INFO, 20 or 'INFO', say"
    )


class LoggingMiddleware:
    """Log one record per HTTP request to `logger` (default "bare.access"), at `level`.

    The record's message is `format` (str.format style, see `FIELDS`) filled with the
    request's fields, and every field is also an attribute of the record
    (`record.status`, `record.duration_ms`...), for formatters and filters to use.
    Text that comes from the client (method, path, query) is escaped first (see
    `escape`), so it cannot forge log lines. The query string is left out
    (`query` is "") unless `include_query` is true: it may carry secrets. Bodies and
    headers are never logged.

    A request whose app fails before the response starts is logged with status 500
    and the exception goes on; one that fails later is logged with the status that
    was sent. When no response was sent and the client was seen to leave, the status
    is 499 (nginx's "client closed request"). `bytes` counts the body as sent; a file
    handed to the server by path (`http.response.pathsend`) counts as the response's
    `Content-Length`, or the file's size without one. WebSocket and lifespan scopes
    pass through unlogged.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        format: str = DEFAULT_FORMAT,
        level: int | str = logging.INFO,
        include_query: bool = False,
        logger: str | logging.Logger = "bare.access",
    ) -> None:
        _check_format(format)
        if not isinstance(include_query, bool):
            raise TypeError(
                f"LoggingMiddleware include_query must be True or False, not {include_query!r}"
            )
        if isinstance(logger, str):
            logger = logging.getLogger(logger)
        elif not isinstance(logger, logging.Logger):
            raise TypeError(
                "LoggingMiddleware logger must be a logger name or a logging.Logger, "
                f"not {logger!r}"
            )
        self.app = app
        self.format = format
        self.level = _level(level)
        self.include_query = include_query
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.logger.isEnabledFor(self.level):
            # PERF: nothing to log, nothing to wrap. Guarded by tests/test_mw_logging.py::
            # test_a_disabled_level_passes_requests_straight_through.
            await self.app(scope, receive, send)
            return
        status = 0
        sent = 0
        start: Message = {}
        disconnected = False

        async def receive_and_watch() -> Message:
            nonlocal disconnected
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected = True
            return message

        async def send_and_count(message: Message) -> None:
            nonlocal status, sent, start, disconnected
            try:
                await send(message)
            except OSError:  # how ASGI 2.4 servers say the client has gone
                disconnected = True
                raise
            # Counted once sent: what the client was given, not what the app meant to give.
            kind = message["type"]
            if kind == "http.response.body":
                sent += len(message.get("body", b""))
            elif kind == "http.response.start":
                status = message["status"]
                start = message
            elif kind == PATHSEND:  # the server sends the whole file
                length = content_length(start)
                sent += length if length is not None else await _file_size(message["path"])

        started = perf_counter()
        try:
            await self.app(scope, receive_and_watch, send_and_count)
        finally:
            # Every way out is logged: a return, an exception, a cancellation.
            duration_ms = (perf_counter() - started) * 1000.0
            if not status:
                status = 499 if disconnected else 500
            self._log(scope, status, sent, duration_ms)

    def _log(self, scope: Scope, status: int, sent: int, duration_ms: float) -> None:
        client = scope.get("client")
        if not client:
            where = "-"
        else:
            host, port = client[0], client[1]
            where = f"[{host}]" if ":" in str(host) else str(host)  # IPv6 in brackets
            if port is not None:
                where = f"{where}:{port}"
        query = ""
        if self.include_query:
            raw_query = scope.get("query_string", b"")
            if raw_query:
                query = "?" + escape(raw_query.decode("latin-1"))
        request_id = scope.get(REQUEST_ID_KEY)
        fields = {
            "method": escape(str(scope.get("method", "-"))),
            "path": escape(str(scope.get("path", "-"))),
            "query": query,
            "status": status,
            "duration_ms": duration_ms,
            "bytes": sent,
            "client": escape(where),
            "request_id": escape(request_id) if isinstance(request_id, str) else "-",
            "http_version": escape(str(scope.get("http_version", "1.1"))),
        }
        self.logger.log(self.level, self.format.format_map(fields), extra=fields)


async def _file_size(path: str) -> int:
    """The size of the file at `path`; 0 if it cannot be known."""
    from .._concurrency import run_in_stream_thread  # here: only this rare case needs it

    try:
        return (await run_in_stream_thread(os.stat, path)).st_size
    except (OSError, TypeError, ValueError):
        return 0
