"""Request framing checks: defence in depth against request smuggling."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["framing_problem"]


def framing_problem(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """Why this request's framing is ambiguous, or None if it is not.

    Two parsers may disagree on where a request ends when it has both Content-Length
    and Transfer-Encoding, two Content-Length headers, or two Host headers; a server
    in front may have let such a request through. Names are compared in any case.
    """
    content_length = transfer_encoding = host = 0
    for name, _ in headers:
        # PERF: servers send lower-case names; lower() only for the rare other case.
        if name == b"content-length" or (len(name) == 14 and name.lower() == b"content-length"):
            content_length += 1
        elif name == b"host" or (len(name) == 4 and name.lower() == b"host"):
            host += 1
        elif name == b"transfer-encoding" or (
            len(name) == 17 and name.lower() == b"transfer-encoding"
        ):
            transfer_encoding += 1
    if content_length and transfer_encoding:
        return "Request has both Content-Length and Transfer-Encoding"
    if content_length > 1:
        return "Request has more than one Content-Length header"
    if host > 1:
        return "Request has more than one Host header"
    return None
