"""Two reference matchers for the router benchmarks: yardsticks, not part of bare.

Both are built from `(method, pattern, handler)` entries with `{name}` parameters (one
whole segment each) and answer `match(method, path)` with `(handler, params)` or None.
Neither tells a 404 from a 405, converts values or knows about HEAD.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["Entry", "HandTrie", "LinearRegexRouter", "Result"]

Entry = tuple[str, str, Any]
Result = tuple[Any, dict[str, str]] | None


class _Node:
    __slots__ = ("methods", "param", "static")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.methods: dict[str, tuple[Any, tuple[str, ...]]] = {}


class HandTrie:
    """A minimal segment trie: a dict of literal children and one parameter child per node.

    A literal segment always wins and is never retried as a parameter (no backtracking),
    which is right for tables where no literal and parameter share a position, as in
    the GitHub table.
    """

    def __init__(self, entries: Iterable[Entry]) -> None:
        self._root = _Node()
        for method, pattern, handler in entries:
            node = self._root
            names = []
            for segment in pattern.split("/"):
                if segment.startswith("{"):
                    names.append(segment[1:-1])
                    if node.param is None:
                        node.param = _Node()
                    node = node.param
                else:
                    child = node.static.get(segment)
                    if child is None:
                        child = node.static[segment] = _Node()
                    node = child
            node.methods[method] = (handler, tuple(names))

    def match(self, method: str, path: str) -> Result:
        """`(handler, params)` of the route for `method` and `path`, or None."""
        found = self.walk(method, path)
        if found is None:
            return None
        handler, names, values = found
        # NOTE: no strict=: a keyword argument makes zip() markedly slower here.
        return handler, dict(zip(names, values))

    def walk(self, method: str, path: str) -> tuple[Any, tuple[str, ...], list[str]] | None:
        """`(handler, param_names, values)`, or None: the walk without a params dict."""
        node = self._root
        values = []
        for segment in path.split("/"):
            child = node.static.get(segment)
            if child is None:
                child = node.param
                if child is None or not segment:
                    return None
                values.append(segment)
            node = child
        found = node.methods.get(method)
        if found is None:
            return None
        return found[0], found[1], values


def _regex(pattern: str) -> re.Pattern[str]:
    # re.split with a group alternates literal text and parameter names.
    parts = re.split(r"\{(\w+)\}", pattern)
    body = "".join(
        f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part) for i, part in enumerate(parts)
    )
    return re.compile(f"^{body}$")


class LinearRegexRouter:
    """The textbook router: one anchored regex per route, scanned in registration order.

    The first route whose regex matches the path and whose method is the request's wins.
    """

    def __init__(self, entries: Iterable[Entry]) -> None:
        self._routes = [(_regex(pattern), method, handler) for method, pattern, handler in entries]

    def match(self, method: str, path: str) -> Result:
        """`(handler, params)` of the first route for `method` and `path`, or None."""
        for regex, route_method, handler in self._routes:
            found = regex.match(path)
            if found is not None and route_method == method:
                return handler, found.groupdict()
        return None
