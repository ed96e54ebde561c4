"""The apps of `test_bench_static.py`: bare and Starlette, each with its own `StaticFiles`
mounted at `/static` as its docs show, both serving the same directory.

`write_files(directory)` fills that directory with the two files every case reads:
`small.txt` (1 KiB of text) and `large.bin` (1 MiB of bytes), with fixed contents.
Starlette is imported only by `make_starlette`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["FILES", "LARGE", "SMALL", "make_bare", "make_starlette", "write_files"]

SMALL = (b"bare serves static files. " * 40)[:1024]
LARGE = bytes(range(256)) * 4096
FILES = {"small.txt": SMALL, "large.bin": LARGE}
assert len(SMALL) == 1024 and len(LARGE) == 1024 * 1024


def write_files(directory: Path) -> None:
    """Write `small.txt` and `large.bin` into `directory`."""
    for name, content in FILES.items():
        (directory / name).write_bytes(content)


def make_bare(directory: Path, matcher_class: Any = None) -> Any:
    """bare with `StaticFiles(directory=directory)` at `/static`, on the compiled or the
    pure matcher when `matcher_class` is given."""
    from bare import Bare
    from bare.staticfiles import StaticFiles

    app = Bare()
    if matcher_class is not None:
        app.router._matcher_class = matcher_class  # before the matcher is first built
    app.mount("/static", StaticFiles(directory=directory))
    return app


def make_starlette(directory: Path) -> Any:
    """Starlette with its `StaticFiles(directory=directory)` mounted at `/static`."""
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    return Starlette(routes=[Mount("/static", app=StaticFiles(directory=directory))])
