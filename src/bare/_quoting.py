"""`quote`: `urllib.parse.quote`, imported on its first use and then kept.

`urllib.parse` (and the `ipaddress` module it loads) takes milliseconds to import, so
`import bare` leaves it unloaded (tests/test_import_cost.py); an import statement where
it is used would run the import machinery on every call instead, which costs more than
the quoting itself.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["quote"]

_quote: Callable[..., str] | None = None


def quote(string: str, safe: str = "/", errors: str | None = None) -> str:
    """`urllib.parse.quote(string, safe=safe, errors=errors)`, UTF-8."""
    global _quote
    function = _quote
    if function is None:
        from urllib.parse import quote as urllib_quote

        function = _quote = urllib_quote
    return function(string, safe=safe, errors=errors)
