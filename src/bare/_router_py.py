"""Pure-Python route matcher: the reference twin of `_router.pyx`.

`Matcher(table)` takes the plain-data table built by `bare._table.TableBuilder` and
answers `match(method, path)` with one of:

    (FOUND, target, params)           params: {name: converted value}
    (METHOD_NOT_ALLOWED, allow, None) allow: sorted tuple of the methods that would match
    (NOT_FOUND, None, None)

The walk is a depth-first search over the segment trie in precedence order (literal,
mixed, typed param, `str` param, `path`). The first node whose pattern matches the whole
path *and* has a handler for the method wins; nodes that match the path but not the
method only contribute to `allow`. Every trie node sits at one depth and is visited at
most once, so the cost is linear in the path and bounded by the table, not the number
of routes. Nothing here raises on hostile input: converters that reject a segment raise
`ValueError`, which means "no match".

Keep in sync with _router.pyx. The shortcuts marked PERF below copy parts of the walk;
tests/test_router_oracle.py holds both matchers, shortcuts and all, to an independent
reference, and tests/test_equivalence.py holds the twins to each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._table import Node, Table

__all__ = ["FOUND", "METHOD_NOT_ALLOWED", "NOT_FOUND", "Matcher"]

FOUND = 0
METHOD_NOT_ALLOWED = 1
NOT_FOUND = 2

# NOTE: converter kinds, as in bare.converters.
_KIND_STR = 0
_KIND_INT = 1
_KIND_PATH = 2
_MAX_INT_DIGITS = 18

_NOT_FOUND_RESULT = (NOT_FOUND, None, None)
_NO_MATCH: Any = object()

Handler = tuple[Any, tuple[str, ...]]
Leaf = tuple[dict[str, Handler], tuple[str, ...]]


class _Node:
    __slots__ = ("first", "forks", "leaf", "mixed", "params", "rest", "static")

    def __init__(self, plain: Node) -> None:
        self.static: dict[str, _Node] = {k: _Node(v) for k, v in plain["static"].items()}
        self.mixed = [(lits, slots, _Node(child)) for lits, slots, child in plain["mixed"]]
        self.params = [(slot[0], slot[1], _Node(child)) for slot, child in plain["params"]]
        self.rest: Leaf | None = plain["rest"][1] if plain["rest"] is not None else None
        self.leaf: Leaf | None = plain["leaf"]
        # For the first-branch loop: whether anything but a literal child may match a
        # segment here, and the one parameter to follow when nothing else can.
        self.forks = bool(self.params or self.mixed or self.rest)
        self.first = self.params[0] if self.params and not self.mixed and not self.rest else None


def _pick(handlers: dict[str, Handler], method: str) -> Handler | None:
    handler = handlers.get(method)
    if handler is None:
        if method == "HEAD":
            handler = handlers.get("GET")
        if handler is None:
            handler = handlers.get("*")
    return handler


def _convert(kind: int, convert: Any, segment: str) -> Any:
    if kind == _KIND_STR:
        return segment
    if kind == _KIND_INT:
        if len(segment) <= _MAX_INT_DIGITS and segment.isascii() and segment.isdigit():
            return int(segment)
        return _NO_MATCH
    try:
        return convert(segment)
    except ValueError:
        return _NO_MATCH


def _split_mixed(
    segment: str, literals: tuple[str, ...], slots: tuple[tuple[int, Any], ...], values: list[Any]
) -> bool:
    """Match `segment` against text and params; append the values on success.

    The text between params is searched from the right (`rfind`), so the first param
    is greedy, as in a regex: `{name}.{ext}` splits `a.tar.gz` into `a.tar` and `gz`.
    Each params is non-empty. One split is tried, never more: linear time.
    """
    first = literals[0]
    last = literals[-1]
    if not segment.startswith(first) or not segment.endswith(last):
        return False
    start = len(first)
    high = len(segment) - len(last)
    count = len(slots)
    pieces = [""] * count
    for k in range(count - 1, 0, -1):
        literal = literals[k]
        pos = segment.rfind(literal, start + 1, high - 1)
        if pos == -1:
            return False
        pieces[k] = segment[pos + len(literal) : high]
        high = pos
    if high <= start:
        return False
    pieces[0] = segment[start:high]
    converted = []
    for (kind, convert), piece in zip(slots, pieces):
        value = _convert(kind, convert, piece)
        if value is _NO_MATCH:
            return False
        converted.append(value)
    values.extend(converted)
    return True


def _walk(
    node: _Node,
    segments: list[str],
    index: int,
    values: list[Any],
    method: str,
    partial: list[tuple[str, ...]],
) -> Handler | None:
    if index == len(segments):
        leaf = node.leaf
        if leaf is not None:
            # PERF: the common case of _pick, inlined.
            handler = leaf[0].get(method) or _pick(leaf[0], method)
            if handler is not None:
                return handler
            partial.append(leaf[1])
        return None
    segment = segments[index]
    child = node.static.get(segment)
    if child is not None:
        handler = _walk(child, segments, index + 1, values, method, partial)
        if handler is not None:
            return handler
    if segment:  # parameters never match an empty segment
        for literals, slots, child in node.mixed:
            if _split_mixed(segment, literals, slots, values):
                handler = _walk(child, segments, index + 1, values, method, partial)
                if handler is not None:
                    return handler
                del values[len(values) - len(slots) :]
        for kind, convert, child in node.params:
            # PERF: `str` parameters skip the _convert call.
            value = segment if kind == _KIND_STR else _convert(kind, convert, segment)
            if value is not _NO_MATCH:
                values.append(value)
                handler = _walk(child, segments, index + 1, values, method, partial)
                if handler is not None:
                    return handler
                values.pop()
    rest = node.rest
    if rest is not None:
        handler = _pick(rest[0], method)
        if handler is not None:
            values.append("/".join(segments[index:]))
            return handler
        partial.append(rest[1])
    return None


class Matcher:
    """Matches request paths against a route table (see the module docstring)."""

    __slots__ = ("_root", "_static")

    def __init__(self, table: Table) -> None:
        self._static: dict[str, Leaf] = table["static"]
        self._root = _Node(table["root"])

    def match(self, method: str, path: str) -> tuple[int, Any, Any]:
        # PERF: fully literal paths first; a literal beats any parameter at every
        # segment, so a static hit with the right method is the walk's answer too.
        leaf = self._static.get(path)
        if leaf is not None:
            handler = _pick(leaf[0], method)
            if handler is not None:
                return (FOUND, handler[0], {})
        if not path.startswith("/"):
            return _NOT_FOUND_RESULT
        segments = path[1:].split("/")
        values: list[Any] = []
        # PERF: follow the walk's first branch in a loop; most requests end there. If
        # it fails where the walk would have had another branch to try (`forked`), or
        # at a mixed segment or a refused conversion, run the full walk, which tries
        # this same branch first. Without a fork, the loop's 404 or 405 is the answer.
        node = self._root
        forked = False
        for segment in segments:
            child = node.static.get(segment)
            if child is not None:
                forked = forked or node.forks
            else:
                first = node.first
                if first is None or not segment:
                    if forked or node.forks:
                        break
                    return _NOT_FOUND_RESULT
                kind, convert, child = first
                value = segment if kind == _KIND_STR else _convert(kind, convert, segment)
                if value is _NO_MATCH:
                    break
                forked = forked or len(node.params) > 1
                values.append(value)
            node = child
        else:
            leaf = node.leaf
            if leaf is not None:
                handler = leaf[0].get(method) or _pick(leaf[0], method)
                if handler is not None:
                    return (FOUND, handler[0], dict(zip(handler[1], values)))
                if not forked:
                    return (METHOD_NOT_ALLOWED, leaf[1], None)
            elif not forked:
                return _NOT_FOUND_RESULT
        values = []
        partial: list[tuple[str, ...]] = []
        handler = _walk(self._root, segments, 0, values, method, partial)
        if handler is not None:
            return (FOUND, handler[0], dict(zip(handler[1], values)))
        if not partial:
            return _NOT_FOUND_RESULT
        if len(partial) == 1:
            return (METHOD_NOT_ALLOWED, partial[0], None)
        return (METHOD_NOT_ALLOWED, tuple(sorted(set().union(*partial))), None)
