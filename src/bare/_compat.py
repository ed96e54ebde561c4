"""Environment flags shared by the selectors; no imports of the implementations."""

from __future__ import annotations

import os
import sys

# NOTE: keep in sync with env_flag in setup.py, so build time and run time agree.
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def env_flag(name: str) -> bool:
    """Read a boolean environment variable: 1/true/yes/on or 0/false/no/off/empty/unset."""
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise RuntimeError(f"{name}={value!r}: expected one of 1/true/yes/on or 0/false/no/off/empty")


IS_CPYTHON = sys.implementation.name == "cpython"
NO_EXTENSIONS = env_flag("BARE_NO_EXTENSIONS") or not IS_CPYTHON
