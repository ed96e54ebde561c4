"""Chooses between the compiled modules and their pure-Python twins, once, at import.

`BARE_NO_EXTENSIONS=1` (or a non-CPython interpreter) forces the pure modules; otherwise
the compiled ones are used when they were built, and the pure ones when they were not.
Nothing else in the package imports `_router`/`_router_py` directly.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING

from ._compat import NO_EXTENSIONS

__all__ = ["COMPILED", "headers_impl", "implementations", "router_impl"]

_FEATURES = ("router", "headers")


def _load(feature: str) -> ModuleType:
    if not NO_EXTENSIONS:
        try:
            return import_module(f"bare._{feature}")
        except ImportError:  # no compiler at install time, or an sdist built without one
            pass
    return import_module(f"bare._{feature}_py")


_modules = {feature: _load(feature) for feature in _FEATURES}

if TYPE_CHECKING:
    from . import _headers_py as headers_impl
    from . import _router_py as router_impl
else:
    router_impl = _modules["router"]
    headers_impl = _modules["headers"]


def implementations() -> dict[str, str]:
    """Which implementation each feature runs: `{"router": "c" | "py", ...}`."""
    return {f: "py" if m.__name__.endswith("_py") else "c" for f, m in _modules.items()}


COMPILED: bool = all(kind == "c" for kind in implementations().values())
