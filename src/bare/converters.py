"""Path parameter converters: how `{name:conv}` matches a segment and turns into a value.

A converter has a regular expression that a whole segment must match, a `to_python`
function that builds the value handed to the handler, and a `to_url` function used by
reverse routing. `str`, `int` and `path` are matched by the router itself without a
regex (see `kind`); every other converter goes through `convert()`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

__all__ = ["Converter", "get_converter", "register_converter"]

# How the matchers treat a converter. NOTE: the same numbers are used in _router.pyx.
KIND_STR = 0  # any non-empty segment, value is the segment itself
KIND_INT = 1  # 1 to 18 ASCII digits, value is an int (more digits cannot match: no huge int())
KIND_PATH = 2  # the rest of the path, slashes included; only as the last segment
KIND_OTHER = 3  # regex full match, then to_python; a ValueError from it means "no match"

MAX_INT_DIGITS = 18


class Converter:
    """Describes one `{name:conv}` converter.

    `regex` must match a whole segment (it never sees a `/`). `to_python` may raise
    `ValueError` to reject a segment the regex let through. `to_url` turns a value back
    into the text of a segment; its output must match `regex`.
    """

    __slots__ = ("_fullmatch", "kind", "name", "priority", "regex", "to_python", "to_url")

    def __init__(
        self,
        name: str,
        regex: str,
        to_python: Callable[[str], Any] = str,
        to_url: Callable[[Any], str] = str,
        *,
        priority: int = 100,
        kind: int = KIND_OTHER,
    ) -> None:
        self.name = name
        self.regex = regex
        self.to_python = to_python
        self.to_url = to_url
        self.priority = priority
        self.kind = kind
        self._fullmatch = re.compile(regex).fullmatch

    def convert(self, segment: str) -> Any:
        """Return the value for `segment`, or raise `ValueError` if it does not match."""
        if self._fullmatch(segment) is None:
            raise ValueError(f"{segment!r} does not match converter {self.name!r}")
        return self.to_python(segment)

    def matches(self, text: str) -> bool:
        """Whether `text` is a valid segment (or rest of path) for this converter."""
        if self.kind == KIND_PATH:
            return True
        if not text or "/" in text:
            return False
        try:
            self.convert(text)
        except ValueError:
            return False
        return True

    def __repr__(self) -> str:
        return f"<Converter {self.name} {self.regex!r}>"


def _int_to_url(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a non-negative int, got {value!r}")
    return str(value)


def _int_to_python(segment: str) -> int:
    if len(segment) > MAX_INT_DIGITS or not (segment.isascii() and segment.isdigit()):
        raise ValueError("not a short non-negative integer")
    return int(segment)


def _float_to_url(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"expected a finite non-negative number, got {value!r}")
    from decimal import Decimal  # only URL building needs it: not at import

    return format(Decimal(repr(float(value))), "f")


def _float_to_python(segment: str) -> float:
    value = float(segment)
    if not math.isfinite(value):  # thousands of digits overflow to inf
        raise ValueError("float out of range")
    return value


def _uuid_to_python(segment: str) -> Any:
    # The uuid module is slow to import (it asks the platform for its name), so the first
    # uuid parameter loads it and puts its UUID class in this function's place.
    from uuid import UUID

    _UUID_CONVERTER.to_python = UUID
    return UUID(segment)


def _uuid_to_url(value: Any) -> str:
    from uuid import UUID

    return str(value if isinstance(value, UUID) else UUID(str(value)))


def _str_to_url(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


_HEX = "[0-9a-fA-F]"
_UUID_CONVERTER = Converter(
    "uuid",
    f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}",
    _uuid_to_python,
    _uuid_to_url,
    priority=5,
)
_builtins = (
    Converter("str", "[^/]+", str, _str_to_url, priority=1000, kind=KIND_STR),
    Converter(
        "int",
        f"[0-9]{{1,{MAX_INT_DIGITS}}}",
        _int_to_python,
        _int_to_url,
        priority=10,
        kind=KIND_INT,
    ),
    Converter("float", "[0-9]+(?:\\.[0-9]+)?", _float_to_python, _float_to_url, priority=20),
    _UUID_CONVERTER,
    Converter("slug", "[-a-zA-Z0-9_]+", str, _str_to_url, priority=30),
    Converter("path", ".*", str, _str_to_url, priority=2000, kind=KIND_PATH),
)
BUILTIN_NAMES = frozenset(c.name for c in _builtins)
_registry: dict[str, Converter] = {c.name: c for c in _builtins}


def register_converter(
    name: str,
    regex: str,
    to_python: Callable[[str], Any] = str,
    to_url: Callable[[Any], str] = str,
    *,
    priority: int = 100,
) -> Converter:
    """Register a converter usable as `{param:name}` in every route pattern.

    Among typed parameters at the same position, lower `priority` is tried first
    (builtins: uuid 5, int 10, float 20, slug 30). The regex must match in linear time:
    it runs against attacker-controlled segments.
    """
    if not name.isidentifier():
        raise ValueError(f"converter name {name!r} is not an identifier")
    if name in BUILTIN_NAMES:
        raise ValueError(f"converter {name!r} is built in and cannot be replaced")
    if "/" in regex:
        raise ValueError(
            f"converter {name!r}: a segment never contains '/', drop it from {regex!r}"
        )
    converter = Converter(name, regex, to_python, to_url, priority=priority)
    _registry[name] = converter
    return converter


def get_converter(name: str) -> Converter:
    """Return the converter registered as `name`; `KeyError` if there is none."""
    return _registry[name]
