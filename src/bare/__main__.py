"""The `bare` command: `bare --version`, `bare routes module:app`, `bare run module:app`,
`bare openapi module:app`.

A mistake in what the command is asked to do (a target that does not name an importable
app, conflicting options) is reported as one line on stderr with exit status 2, never
as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import re
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from . import COMPILED, __version__, implementations

__all__ = [
    "UsageError",
    "load_app",
    "main",
    "openapi_text",
    "parse_target",
    "print_routes",
    "version_line",
]

USAGE_ERROR = 2  # argparse's status for a bad command line, used for every mistake


class UsageError(Exception):
    """A mistake in the command line or in the app it names; the message is one line."""


def version_line() -> str:
    """`bare 0.1.0 (compiled: router=c)` or `(pure Python: ...)`."""
    parts = ", ".join(f"{feature}={kind}" for feature, kind in implementations().items())
    mode = "compiled" if COMPILED else "pure Python"
    return f"bare {__version__} ({mode}: {parts})"


def _dotted(name: str) -> bool:
    return all(part.isidentifier() for part in name.split("."))


def parse_target(target: str) -> tuple[str, str]:
    """Split `module:attribute` into its two parts; the attribute defaults to `app`.

    Both parts are dotted names (`pkg.module:object.app`). A file path or any other
    shape raises UsageError.
    """
    module, colon, attribute = target.partition(":")
    if not colon:
        attribute = "app"
    if "/" in module or "\\" in module or os.path.isfile(module):
        parts = re.split(r"[\\/]", module.removesuffix(".py"))
        dotted = ".".join(part for part in parts if part not in ("", "."))
        example = f"{dotted}:{attribute or 'app'}" if _dotted(dotted) else "pkg.module:app"
        raise UsageError(
            f"{target!r} is a file path: name the module instead, with dots, as in {example}"
        )
    if not _dotted(module) or not _dotted(attribute):
        raise UsageError(f"{target!r} is not module:attribute, as in examples.tasks:app")
    return module, attribute


def _one_line(exc: BaseException) -> str:
    """`ValueError: message (path/to/file.py, line 3)`: the exception and where it was raised."""
    message = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    if isinstance(exc, SyntaxError):  # its message already names the file and line
        return text
    # The import machinery drops its own frames: the last one is where the module failed.
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        text += f" ({frames[-1].filename}, line {frames[-1].lineno})"
    return text


def _kind(obj: Any) -> str:
    if inspect.isclass(obj):
        return f"the class {obj.__qualname__}"
    if inspect.ismodule(obj):
        return f"the module {obj.__name__}"
    if inspect.isfunction(obj):
        return f"the function {obj.__qualname__}"
    return f"of type {type(obj).__qualname__}"


def _asgi_problem(app: Any) -> str | None:
    """Why uvicorn would not serve `app` as an ASGI 3 app, or None if it would.

    uvicorn calls an object as ASGI 3 only if it is a coroutine function or has an async
    `__call__`; anything else it takes for ASGI 2 and answers every request with a 500.
    """
    if inspect.isclass(app) or inspect.ismodule(app):
        return f"{_kind(app)}, not an app"
    if inspect.isfunction(app):
        if not inspect.iscoroutinefunction(app):
            return f"{_kind(app)}, which is not async"
    else:
        call = getattr(app, "__call__", None)  # noqa: B004
        if call is None:
            return f"{_kind(app)}, which is not callable"
        if not inspect.iscoroutinefunction(call):
            return f"{_kind(app)}, whose __call__ is not async"
    try:
        inspect.signature(app).bind(None, None, None)
    except TypeError:
        return f"{_kind(app)}, not callable as app(scope, receive, send)"
    except ValueError:  # no signature to read: let uvicorn try
        pass
    return None


def load_app(target: str, *, bare_only: bool = False, command: str = "routes") -> Any:
    """Import the object that `module:attribute` names, from the current directory.

    It must be an ASGI 3 app, and with `bare_only` a `Bare` or `Router` (the message
    when it is not names `bare {command}`). Every mistake
    (a target of the wrong shape, a missing module or attribute, an exception raised while
    importing the module, an object of the wrong kind) raises UsageError.
    """
    module_name, attribute = parse_target(target)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise UsageError(
                f"no module named {missing!r} in the current directory ({os.getcwd()}) "
                "or on sys.path"
            ) from None
        raise UsageError(f"importing {module_name!r} failed: {_one_line(exc)}") from None
    except Exception as exc:
        raise UsageError(f"importing {module_name!r} failed: {_one_line(exc)}") from None
    app: Any = module
    for part in attribute.split("."):
        try:
            app = getattr(app, part)
        except AttributeError:
            raise UsageError(f"{module_name!r} has no attribute {attribute!r}") from None
    name = f"{module_name}:{attribute}"
    if bare_only:
        from .applications import Bare
        from .routing import Router

        if not isinstance(app, (Bare, Router)):
            raise UsageError(
                f"{name} is {_kind(app)}, not a bare app: `bare {command}` needs a Bare"
                + (" or a Router" if command == "routes" else "")
            )
        return app
    problem = _asgi_problem(app)
    if problem is not None:
        raise UsageError(
            f"{name} is {problem}: an ASGI app is an async callable app(scope, receive, send), "
            "such as a Bare()"
        )
    return app


def print_routes(app: Any) -> None:
    """Print the route table of a `Bare` app or a `Router`: methods, path, name, handler."""
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


YAML_HINT = "pip install pyyaml (or, in a checkout of bare, pip install '.[docs-ui]')"


def openapi_text(app: Any, *, yaml: bool = False, indent: int = 2) -> str:
    """The OpenAPI document of a `Bare` app as JSON (compact with `indent=0`), or as
    YAML; a document that cannot be built, or YAML without PyYAML, raises UsageError."""
    try:
        document = app.openapi()
    except (ValueError, TypeError, RuntimeError) as exc:
        raise UsageError(f"the OpenAPI document cannot be built: {_one_line(exc)}") from None
    if yaml:
        try:
            pyyaml = importlib.import_module("yaml")
        except ImportError:
            raise UsageError(f"--yaml needs PyYAML: {YAML_HINT}") from None
        text: str = pyyaml.safe_dump(
            document, sort_keys=False, allow_unicode=True, indent=max(indent, 2)
        )
        return text.rstrip("\n")
    import json

    if indent == 0:
        return json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(document, ensure_ascii=False, indent=indent)


def _indent(text: str) -> int:
    try:
        indent = int(text)
    except ValueError:
        indent = -1
    if not 0 <= indent <= 8:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 0 to 8")
    return indent


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number from 0 to 65535")
    return port


def _count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return count


def build_parser() -> argparse.ArgumentParser:
    """The command line of `bare`, with its `run` and `routes` commands."""
    parser = argparse.ArgumentParser(prog="bare", description="bare: it's just callables.")
    parser.add_argument("--version", action="version", version=version_line())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="serve an app with uvicorn",
        description="Serve an ASGI app with uvicorn, on uvloop and httptools where they can be "
        "imported (otherwise on asyncio and h11, with a warning on stderr).",
        epilog="For any other uvicorn option, run uvicorn itself with the same module:attribute.",
    )
    run.add_argument(
        "app",
        metavar="module:attribute",
        help="the app to serve, for example examples.tasks:app; the module is imported from "
        "the current directory, and the attribute defaults to app",
    )
    run.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on; 0.0.0.0 listens on every interface (default: %(default)s)",
    )
    run.add_argument(
        "--port", type=_port, default=8000, help="the TCP port to listen on (default: %(default)s)"
    )
    run.add_argument(
        "--workers",
        type=_count,
        default=None,
        metavar="N",
        help="worker processes, each importing its own copy of the app "
        "(default: $WEB_CONCURRENCY if set, else 1)",
    )
    run.add_argument(
        "--reload",
        action="store_true",
        help="restart the server whenever a .py file under the current directory changes; "
        "for development, in one process, so not with --workers (default: off)",
    )

    routes = commands.add_parser(
        "routes",
        help="print the route table of an app",
        description="Print the route table of a bare app: methods, path, name and handler.",
    )
    routes.add_argument(
        "app",
        metavar="module:attribute",
        help="a Bare app or a Router, for example examples.tasks:app; the module is imported "
        "from the current directory, and the attribute defaults to app",
    )

    openapi = commands.add_parser(
        "openapi",
        help="print the OpenAPI document of an app",
        description="Print the OpenAPI 3.1 document of a bare app (what it serves at "
        "/openapi.json), as JSON or YAML.",
    )
    openapi.add_argument(
        "app",
        metavar="module:attribute",
        help="a Bare app, for example examples.tasks:app; the module is imported from the "
        "current directory, and the attribute defaults to app",
    )
    openapi.add_argument(
        "--yaml", action="store_true", help="print YAML instead of JSON (needs PyYAML)"
    )
    openapi.add_argument(
        "--indent",
        type=_indent,
        default=2,
        metavar="N",
        help="spaces per level, 0 to 8; 0 prints JSON on one line (default: %(default)s)",
    )
    return parser


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "routes":
        print_routes(load_app(args.app, bare_only=True))
        return 0
    if args.command == "openapi":
        from .applications import Bare

        app = load_app(args.app, bare_only=True, command="openapi")
        if not isinstance(app, Bare):
            raise UsageError(
                f"{args.app} is a Router: `bare openapi` needs a Bare app (add the router "
                "to one with app.include_router)"
            )
        print(openapi_text(app, yaml=args.yaml, indent=args.indent))
        return 0
    if args.command == "run":
        from ._server import import_uvicorn, run

        if args.reload and args.workers is not None and args.workers > 1:
            raise UsageError("--reload serves from one process: drop --workers or --reload")
        load_app(args.app)
        try:
            import_uvicorn()
        except RuntimeError as exc:
            raise UsageError(str(exc)) from None
        module, attribute = parse_target(args.app)
        options: dict[str, Any] = {"reload": args.reload}
        if args.workers is not None:
            options["workers"] = args.workers
        # uvicorn needs an import string for workers and reload; without them it finds the
        # module already imported above.
        run(f"{module}:{attribute}", host=args.host, port=args.port, **options)
        return 0
    parser.print_help()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `bare` command line; returns the exit status."""
    parser = build_parser()
    try:
        try:
            return _run(parser, parser.parse_args(argv))
        except UsageError as exc:
            print(f"bare: {exc}", file=sys.stderr)
            return USAGE_ERROR
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        # Whoever read stdout (`bare routes app | head -1`) has gone. Point stdout at
        # /dev/null so that the flush at exit does not fail a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
