"""Declares bare's optional Cython extensions; all metadata lives in pyproject.toml.

The extensions are built whenever CPython and a C compiler are present. A failed
build falls back to the pure-Python modules, unless BARE_REQUIRE_EXTENSIONS is set.
BARE_NO_EXTENSIONS skips the build altogether.
"""

import os
import platform

from setuptools import setup

# NOTE: keep in sync with bare._compat.env_flag (setup.py cannot import the package).
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def env_flag(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SystemExit(f"{name}={value!r}: expected one of 1/true/yes/on or 0/false/no/off/empty")


NO_EXTENSIONS = env_flag("BARE_NO_EXTENSIONS") or platform.python_implementation() != "CPython"
REQUIRE_EXTENSIONS = env_flag("BARE_REQUIRE_EXTENSIONS")
MODULES = ("_router", "_headers")


def extensions() -> list:
    if NO_EXTENSIONS:
        if REQUIRE_EXTENSIONS:
            raise SystemExit("BARE_REQUIRE_EXTENSIONS is set but extensions are disabled")
        print("*** bare: pure Python build (BARE_NO_EXTENSIONS or not CPython) ***")
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        if REQUIRE_EXTENSIONS:
            raise
        print("*** bare: Cython is missing, pure Python build ***")
        return []
    from setuptools import Extension

    sources = [
        Extension(f"bare.{name}", [f"src/bare/{name}.pyx"], optional=not REQUIRE_EXTENSIONS)
        for name in MODULES
    ]
    print("*** bare: accelerated build (Cython extensions) ***")
    return cythonize(
        sources,
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "embedsignature": True,
            "annotation_typing": False,
        },
        quiet=True,
    )


setup(ext_modules=extensions())
