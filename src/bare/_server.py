"""Running an app on uvicorn, with uvloop and httptools when they are installed."""

from __future__ import annotations

import importlib.util
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


def run(app: Any, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
    """Serve `app` (an ASGI app or an import string `module:attr`) with uvicorn."""
    try:
        import uvicorn
    except ImportError:
        raise RuntimeError("uvicorn is not installed: pip install 'bare[speedups]'") from None
    uvicorn.run(app, host=host, port=port, **{**server_options(), **options})
