"""Query strings, read as `urllib.parse.parse_qsl(query, keep_blank_values=True)` reads them.

Pairs are split on `&` only, empty pieces are skipped, a piece without `=` is a name with
an empty value, `+` is a space, and `%XX` escapes are decoded as UTF-8 (with U+FFFD for
bytes that are not). The answers are the standard library's (tests/test_query.py holds
the two together), at a fraction of the cost: most names and values hold no `+` or `%`,
and only those that do are decoded, while `parse_qsl` decodes every one.
"""

from __future__ import annotations

from collections.abc import Callable

from .datastructures import QueryParams

__all__ = ["TooManyItems", "parse_query"]


class TooManyItems(ValueError):
    """The query string holds more items than allowed."""


def _first_unquote(text: str) -> str:
    # urllib.parse is imported on first use, so that `import bare` does not pay for it
    # (tests/test_import_cost.py); then `_unquote` is urllib's own function.
    global _unquote
    from urllib.parse import unquote

    _unquote = unquote
    return unquote(text)


_unquote: Callable[[str], str] = _first_unquote


def parse_query(query: str, max_items: int) -> QueryParams:
    """The parameters of `query`: each name with the list of its values, in order.

    More than `max_items` pieces (empty ones included, as `parse_qsl` counts them) raise
    `TooManyItems` before anything is split.
    """
    params = QueryParams()
    if not query:
        return params
    if query.count("&") >= max_items:
        raise TooManyItems(f"more than {max_items} query items")
    decode: Callable[[str], str] = _unquote
    plus = "+" in query
    escaped = "%" in query
    for piece in query.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        if plus:
            name = name.replace("+", " ")
            value = value.replace("+", " ")
        if escaped:
            if "%" in name:
                name = decode(name)
            if "%" in value:
                value = decode(value)
        values = params.get(name)
        if values is None:
            params[name] = [value]
        else:
            values.append(value)
    return params
