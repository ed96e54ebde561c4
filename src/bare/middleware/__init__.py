"""Middleware: plain ASGI classes, `Middleware(app, **options)`, one module per middleware.

Adding response headers without wrapping `send`
-----------------------------------------------
A middleware that only adds headers to responses (request ids, timing, security
headers) does not need to wrap `send`, which costs a closure and a call per message.
Under a bare app it can hand the headers over in the scope instead:

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and add_response_headers(scope, [(b"x-id", b"42")]):
            await self.app(scope, receive, send)  # bare's responses add them
        else:
            ...  # any other app: wrap send as usual

It stays a plain ASGI class: under an app that does not know the convention,
`add_response_headers` returns False and the middleware wraps `send` itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..types import Scope

__all__ = ["ACCEPTS_RESPONSE_HEADERS", "RESPONSE_HEADERS_KEY", "add_response_headers"]

# The scope key of the hand-over. A bare app with middleware puts ACCEPTS_RESPONSE_HEADERS
# there before its middleware run, and the headers handed over replace it; bare's
# responses add what they find there. A mount removes it from the scope it passes on.
RESPONSE_HEADERS_KEY = "bare.response_headers"


class _Accepts(tuple):  # type: ignore[type-arg]
    """The mark of a scope whose app adds handed-over headers: empty, so falsy."""

    __slots__ = ()


ACCEPTS_RESPONSE_HEADERS = _Accepts()


def add_response_headers(scope: Scope, headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Have bare add `headers` (lower-case ASGI byte pairs) to this request's response.

    Returns False, doing nothing, when the app under `scope` does not take headers
    this way (it is not a bare app, or not the one this scope was given to); the
    caller then has to wrap `send`. The headers are not checked here: build them from
    trusted values or with `bare.headers.encode_header`.
    """
    pending = scope.get(RESPONSE_HEADERS_KEY)
    if pending is None:
        return False
    if pending is ACCEPTS_RESPONSE_HEADERS:
        scope[RESPONSE_HEADERS_KEY] = list(headers)
    else:
        pending.extend(headers)
    return True
