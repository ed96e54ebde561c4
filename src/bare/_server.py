"""Running an app on uvicorn, with uvloop and httptools when they are installed."""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

__all__ = ["run", "server_options"]


def server_options() -> dict[str, str]:
    """The fastest uvicorn engine available: uvloop + httptools, else asyncio + h11."""
    fast = all(importlib.util.find_spec(name) for name in ("uvloop", "httptools"))
    if fast:
        return {"loop": "uvloop", "http": "httptools"}
    print(
        "bare: uvloop/httptools not installed, serving on asyncio + h11 "
        "(pip install 'bare[speedups]' for the fast stack)",
        file=sys.stderr,
    )
    return {"loop": "asyncio", "http": "h11"}


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

    With `reload=True` or several `workers`, an app object defined in the script being
    run is passed to uvicorn as an import string, which those modes need.
    """
    try:
        import uvicorn
    except ImportError:
        raise RuntimeError("uvicorn is not installed: pip install 'bare[speedups]'") from None
    if not isinstance(app, str) and (options.get("reload") or (options.get("workers") or 1) > 1):
        found = import_string(app)
        if found is not None:
            app, options["app_dir"] = found
    uvicorn.run(app, host=host, port=port, **{**server_options(), **options})
