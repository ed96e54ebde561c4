"""`Lazy`: a name from a module that only some requests need, imported on its first use
and then kept.

`import bare` leaves such modules unloaded (tests/test_import_cost.py). An import
statement where the name is used would run the import machinery on every call instead:
about 10k instructions on CPython 3.11 for a relative `from .x import y`, as much as a
whole small request. Callers write `(LAZY.value or LAZY.load())(...)`, which costs a
global and an attribute lookup once the name is loaded.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any, Generic, TypeVar, cast

__all__ = ["Lazy"]

T = TypeVar("T")


class Lazy(Generic[T]):
    """`module.name`, imported by the first `load()`; `value` is None until then."""

    __slots__ = ("module", "name", "value")

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name
        self.value: T | None = None

    def load(self) -> T:
        """Import `module` if needed and keep `name` from it in `value`."""
        loaded: Any = getattr(import_module(self.module), self.name)
        self.value = value = cast(T, loaded)
        return value
