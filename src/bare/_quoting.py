"""`quote`: `urllib.parse.quote`, imported on its first use (see bare._lazy).

`urllib.parse` (and the `ipaddress` module it loads) takes milliseconds to import, so
`import bare` leaves it unloaded (tests/test_import_cost.py).
"""

from __future__ import annotations

from collections.abc import Callable

from ._lazy import Lazy

__all__ = ["quote"]

_QUOTE: Lazy[Callable[..., str]] = Lazy("urllib.parse", "quote")


def quote(string: str, safe: str = "/", errors: str | None = None) -> str:
    """`urllib.parse.quote(string, safe=safe, errors=errors)`, UTF-8."""
    return (_QUOTE.value or _QUOTE.load())(string, safe=safe, errors=errors)
