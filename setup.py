"""Declares bare's optional Cython extensions; all metadata lives in pyproject.toml.

The extensions are built whenever CPython and a C compiler are present. A failed
build falls back to the pure-Python modules, unless BARE_REQUIRE_EXTENSIONS is set.
BARE_NO_EXTENSIONS skips the build altogether. BARE_DEBUG_BUILD keeps the C compiler's
debug information, which is left out otherwise.
"""

import os
import platform

from setuptools import setup
from setuptools.command.build_ext import build_ext

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
DEBUG_BUILD = env_flag("BARE_DEBUG_BUILD")
MODULES = ("_router", "_headers")


class BuildExt(build_ext):
    """build_ext without debug information, replacing in-place libraries atomically."""

    def build_extensions(self) -> None:
        # Python's own CFLAGS carry -g, which makes each library five times larger. MSVC
        # knows no -g0 and adds debug information only when asked, so it is left alone.
        if not DEBUG_BUILD and self.compiler.compiler_type != "msvc":
            for ext in self.extensions:
                ext.extra_compile_args = [*ext.extra_compile_args, "-g0"]
        super().build_extensions()

    def get_source_files(self) -> list:
        # cythonize() swaps each .pyx for its generated .c; the sdist needs both, and no
        # wheel ships either (package data leaves them out).
        return [*super().get_source_files(), *(f"src/bare/{name}.pyx" for name in MODULES)]

    def copy_file(self, infile, outfile, *args, **kwargs):
        # An editable install copies each library into src/bare/ on every install. Copying
        # over the old file would rewrite it under any process that has it loaded (a test
        # run of another venv of the same Python); a new file renamed into place leaves
        # those processes their old copy.
        partial = f"{outfile}.{os.getpid()}.partial"
        try:
            _, copied = super().copy_file(infile, partial, *args, **kwargs)
            if os.path.exists(partial):
                os.replace(partial, outfile)
        finally:
            if os.path.exists(partial):
                os.remove(partial)
        return outfile, copied


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


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
