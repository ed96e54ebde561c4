"""Builds the plain-data route table that both matchers walk.

Everything about patterns, precedence and conflicts is decided here, once; the
compiled matcher (`_router.pyx`) and its pure twin (`_router_py.py`) only walk the
result. The table is made of dicts, lists, tuples, strings, ints and callables:

    table = {"root": Node, "static": {full_path: Leaf}}
    Node  = {
        "static": {segment_text: Node},                  # literal segments
        "mixed":  [(literals, slots, Node), ...],        # text + params in one segment
        "params": [(slot, Node), ...],                   # typed first, `str` last
        "rest":   (slot, Leaf) | None,                   # `{name:path}`, always last
        "leaf":   Leaf | None,                           # a pattern ends here
    }
    slot  = (kind, convert)   # kind from bare.converters; convert(segment) or None
    Leaf  = (handlers, allow) # handlers: {method: (target, param_names)}
                              # allow: sorted tuple of methods for the Allow header

Lists are already in precedence order. A handler under the method "*" answers any
method (mounts use it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

from ._templates import Literal, Mixed, Param, PathTemplate, RouteError, Value
from .converters import KIND_OTHER, KIND_PATH, KIND_STR, Converter

__all__ = ["ANY_METHOD", "RouteConflictError", "Table", "TableBuilder", "TableEntry"]

ANY_METHOD = "*"

# The plain data both matchers walk (see the module docstring).
Slot = tuple[int, Callable[[str], Any] | None]
Handler = tuple[Any, tuple[str, ...]]
Leaf = tuple[dict[str, Handler], tuple[str, ...]]


class Node(TypedDict):
    static: dict[str, Node]
    mixed: list[tuple[tuple[str, ...], tuple[Slot, ...], Node]]
    params: list[tuple[Slot, Node]]
    rest: tuple[Slot, Leaf] | None
    leaf: Leaf | None


class Table(TypedDict):
    root: Node
    static: dict[str, Leaf]


class RouteConflictError(RouteError):
    """Two routes claim the same method on equivalent patterns."""

    __module__ = "bare.routing"  # where users import it from


class TableEntry(Value):
    """One pattern, the methods it answers and what a match returns."""

    __slots__ = ("label", "methods", "target", "template")

    def __init__(
        self, template: PathTemplate, methods: tuple[str, ...], target: Any, label: str
    ) -> None:
        self.template = template
        self.methods = methods
        self.target = target
        self.label = label


class _Leaf:
    __slots__ = ("handlers", "labels")

    def __init__(self) -> None:
        self.handlers: dict[str, tuple[Any, tuple[str, ...]]] = {}
        self.labels: dict[str, str] = {}

    def plain(self) -> Leaf:
        methods = {m for m in self.handlers if m != ANY_METHOD}
        if "GET" in methods:
            methods.add("HEAD")
        methods.add("OPTIONS")
        return dict(self.handlers), tuple(sorted(methods))


class _Node:
    __slots__ = ("leaf", "mixed", "params", "rest", "rest_converter", "static")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        self.mixed: dict[tuple[Any, ...], tuple[Mixed, _Node]] = {}
        self.params: dict[str, tuple[Converter, _Node]] = {}
        self.rest: _Leaf | None = None
        self.rest_converter: Converter | None = None
        self.leaf: _Leaf | None = None


def _slot(converter: Converter) -> Slot:
    return (converter.kind, converter.convert if converter.kind == KIND_OTHER else None)


class TableBuilder:
    """Collects entries, raising on conflicts as they are added; `table()` builds the data."""

    def __init__(self) -> None:
        self._root = _Node()

    def add(self, entry: TableEntry) -> None:
        """Add an entry; `RouteConflictError` naming both routes if it clashes."""
        leaf = _insert(self._root, entry.template)
        clashes = [m for m in entry.methods if m in leaf.handlers]
        if clashes:
            method = clashes[0]
            raise RouteConflictError(
                f"{entry.label} conflicts with {leaf.labels[method]}: "
                f"same method {method} and an equivalent pattern"
            )
        for method in entry.methods:
            leaf.handlers[method] = (entry.target, entry.template.param_names)
            leaf.labels[method] = entry.label

    def table(self) -> Table:
        static: dict[str, Leaf] = {}
        return {"root": _plain(self._root, "", static), "static": static}


def _insert(root: _Node, template: PathTemplate) -> _Leaf:
    node = root
    for segment in template.segments:
        if isinstance(segment, Literal):
            node = node.static.setdefault(segment.text, _Node())
        elif isinstance(segment, Param) and segment.converter.kind == KIND_PATH:
            # The parser guarantees a `path` parameter is the whole last segment.
            if node.rest is None:
                node.rest = _Leaf()
                node.rest_converter = segment.converter
            return node.rest
        elif isinstance(segment, Param):
            name = segment.converter.name
            if name not in node.params:
                node.params[name] = (segment.converter, _Node())
            node = node.params[name][1]
        else:
            key = segment.key()
            if key not in node.mixed:
                node.mixed[key] = (segment, _Node())
            node = node.mixed[key][1]
    if node.leaf is None:
        node.leaf = _Leaf()
    return node.leaf


def _mixed_order(item: tuple[Mixed, _Node]) -> tuple[Any, ...]:
    segment = item[0]
    converters = tuple((p.converter.priority, p.converter.name) for p in segment.params)
    return (-sum(map(len, segment.literals)), converters, segment.literals)


def _param_order(item: tuple[Converter, _Node]) -> tuple[bool, int, str]:
    converter = item[0]
    return (converter.kind == KIND_STR, converter.priority, converter.name)


def _plain(node: _Node, path: str | None, static: dict[str, Leaf]) -> Node:
    """Turn a build node into plain data; record fully literal paths in `static`.

    `path` is the literal path leading here, or None once a parameter was crossed.
    """
    leaf = node.leaf.plain() if node.leaf is not None else None
    if leaf is not None and path is not None:
        static[path or "/"] = leaf
    mixed = sorted(node.mixed.values(), key=_mixed_order)
    # Typed parameters by priority, and `str` after all of them whatever their priority.
    params = sorted(node.params.values(), key=_param_order)
    rest = None
    if node.rest is not None and node.rest_converter is not None:
        rest = (_slot(node.rest_converter), node.rest.plain())
    return {
        "static": {
            text: _plain(child, None if path is None else f"{path}/{text}", static)
            for text, child in node.static.items()
        },
        "mixed": [
            (
                segment.literals,
                tuple(_slot(p.converter) for p in segment.params),
                _plain(child, None, static),
            )
            for segment, child in mixed
        ],
        "params": [(_slot(converter), _plain(child, None, static)) for converter, child in params],
        "rest": rest,
        "leaf": leaf,
    }
