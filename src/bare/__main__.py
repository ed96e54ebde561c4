"""The `bare` command: `bare --version`, `bare routes module:app`, `bare run module:app`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from . import COMPILED, __version__, implementations


def version_line() -> str:
    """`bare 0.1.0 (compiled: router=c)` or `(pure Python: ...)`."""
    parts = ", ".join(f"{feature}={kind}" for feature, kind in implementations().items())
    mode = "compiled" if COMPILED else "pure Python"
    return f"bare {__version__} ({mode}: {parts})"


def load_app(target: str) -> Any:
    """Import `module:attribute` (attribute defaults to `app`) from the current directory."""
    module_name, _, attribute = target.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute or "app")
    except AttributeError:
        raise SystemExit(f"bare: {module_name!r} has no attribute {attribute or 'app'!r}") from None


def print_routes(app: Any) -> None:
    from .routing import Mount, Route

    rows = [("METHODS", "PATH", "NAME", "HANDLER")]
    for route in app.routes:
        if isinstance(route, Mount):
            rows.append(("*", (route.path or "") + "/...", route.name or "", repr(route.app)))
            continue
        methods = ",".join(route.methods) if isinstance(route, Route) else "WEBSOCKET"
        handler = (
            f"{route.endpoint.__module__}.{getattr(route.endpoint, '__qualname__', route.name)}"
        )
        rows.append((methods, route.path, route.name, handler))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bare", description="bare: it's just callables.")
    parser.add_argument("--version", action="version", version=version_line())
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser("run", help="serve an app with uvicorn")
    run.add_argument("app", help="module:attribute, for example examples.tasks:app")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--workers", type=int, default=None)
    run.add_argument("--reload", action="store_true")
    routes = commands.add_parser("routes", help="print the route table of an app")
    routes.add_argument("app", help="module:attribute")
    args = parser.parse_args(argv)

    if args.command == "routes":
        print_routes(load_app(args.app))
        return 0
    if args.command == "run":
        from ._server import run as serve

        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        options: dict[str, Any] = {"reload": args.reload}
        if args.workers:
            options["workers"] = args.workers
        # An import string lets uvicorn spawn workers and reload.
        serve(args.app, host=args.host, port=args.port, **options)
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
