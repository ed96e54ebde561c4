"""Running an app on uvicorn, with uvloop and httptools when they can be imported."""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType
from typing import Any

__all__ = ["import_uvicorn", "run", "server_options"]

# bare is not on PyPI, where the name belongs to another project: the install hints name
# the packages themselves, never an extra of `bare`.


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def server_options() -> dict[str, str]:
    """uvicorn's `loop` and `http` options: uvloop and httptools where each can be imported.

    Each missing one is replaced by the engine uvicorn always has (asyncio, h11), and a
    line on stderr says so.
    """
    loop = "uvloop" if _importable("uvloop") else "asyncio"
    http = "httptools" if _importable("httptools") else "h11"
    missing = [name for name, used in (("uvloop", loop), ("httptools", http)) if name != used]
    if missing:
        print(
            f"bare: {' and '.join(missing)} cannot be imported, serving on {loop} + {http}, "
            f"which is slower (pip install {' '.join(missing)} for the fast stack)",
            file=sys.stderr,
        )
    return {"loop": loop, "http": http}


def import_uvicorn() -> ModuleType:
    """The `uvicorn` module; RuntimeError saying how to install it if it cannot be imported."""
    try:
        return importlib.import_module("uvicorn")
    except ImportError as exc:
        raise RuntimeError(
            f"uvicorn cannot be imported ({exc}): pip install uvicorn uvloop httptools "
            "websockets, or pip install '.[speedups]' from a checkout of bare"
        ) from None


def import_string(app: Any) -> tuple[str, str] | None:
    """`("module:attribute", app_dir)` naming `app` in the script being run, or None.

    uvicorn can only reload or start workers from an import string; the book runs its
    app with `app.run(reload=True)` from the script itself, where the module is
    `__main__`: name it by its spec (`python -m pkg.mod`) or its file.
    """
    main = sys.modules.get("__main__")
    if main is None:
        return None
    names = [name for name, value in vars(main).items() if value is app]
    if not names:
        return None
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        return f"{spec.name}:{names[0]}", os.getcwd()
    path = getattr(main, "__file__", None)
    if not path:
        return None
    directory, filename = os.path.split(os.path.abspath(path))
    return f"{os.path.splitext(filename)[0]}:{names[0]}", directory


def run(app: Any, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
    """Serve `app` (an ASGI app or an import string `module:attr`) with uvicorn.

    `options` go to `uvicorn.run` and win over the engine `server_options()` picks. With
    `reload=True` or several `workers`, an app object defined in the script being run is
    passed to uvicorn as an import string, which those modes need.
    """
    uvicorn = import_uvicorn()
    if not isinstance(app, str) and (options.get("reload") or (options.get("workers") or 1) > 1):
        found = import_string(app)
        if found is not None:
            app, options["app_dir"] = found
    engine = {} if {"loop", "http"} <= options.keys() else server_options()
    uvicorn.run(app, host=host, port=port, **{**engine, **options})
