"""Header handling: a case-insensitive view over the raw ASGI request headers, `Cookie`
parsing, and the checks that keep CR, LF and other controls out of response headers.

The work is done by `bare._headers` (compiled) or its pure twin `bare._headers_py`,
chosen once by `bare._speedups`; their contract is in `_headers_py`'s docstring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._speedups import headers_impl

if TYPE_CHECKING:
    from ._headers_py import Headers, encode_header, encode_headers, framing_problem, parse_cookie
else:
    Headers = headers_impl.Headers
    encode_header = headers_impl.encode_header
    encode_headers = headers_impl.encode_headers
    parse_cookie = headers_impl.parse_cookie
    framing_problem = headers_impl.framing_problem

__all__ = [
    "Headers",
    "check_header",
    "encode_header",
    "encode_headers",
    "framing_problem",
    "parse_cookie",
]


def check_header(name: str, value: str) -> None:
    """Raise `ValueError` unless `name: value` is a header `encode_header` would send."""
    encode_header(name, value)
