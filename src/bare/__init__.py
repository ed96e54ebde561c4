"""bare: a small, fast, correct ASGI web framework. It's just callables."""

from typing import TYPE_CHECKING, Any

from .__about__ import __version__
from ._speedups import COMPILED, implementations
from .applications import Bare, State
from .converters import Converter, register_converter
from .exceptions import HTTPException
from .requests import Request
from .responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
    safe_redirect,
)
from .routing import (
    Mount,
    NoMatchFound,
    Route,
    RouteConflictError,
    RouteError,
    Router,
    WebSocketRoute,
)
from .websockets import WebSocket, WebSocketDisconnect

if TYPE_CHECKING:
    from .background import BackgroundTask, BackgroundTasks
    from .exceptions import RequestValidationError
    from .forms import FormData, FormLimits, UploadFile
    from .params import Body, Cookie, Depends, File, Form, Header, Path, Query

# Names loaded when first asked for, so that `import bare` does not pay for them.
_LAZY = {
    "BackgroundTask": "background",
    "BackgroundTasks": "background",
    "FormData": "forms",
    "FormLimits": "forms",
    "UploadFile": "forms",
    "RequestValidationError": "exceptions",
    # Typed handlers (docs/typed.md): the markers of their parameters.
    "Body": "params",
    "Cookie": "params",
    "Depends": "params",
    "File": "params",
    "Form": "params",
    "Header": "params",
    "Path": "params",
    "Query": "params",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bare' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"bare.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "COMPILED",
    "BackgroundTask",
    "BackgroundTasks",
    "Bare",
    "Body",
    "Converter",
    "Cookie",
    "Depends",
    "File",
    "FileResponse",
    "Form",
    "FormData",
    "FormLimits",
    "HTMLResponse",
    "HTTPException",
    "Header",
    "JSONResponse",
    "Mount",
    "NoMatchFound",
    "Path",
    "PlainTextResponse",
    "Query",
    "RedirectResponse",
    "Request",
    "RequestValidationError",
    "Response",
    "Route",
    "RouteConflictError",
    "RouteError",
    "Router",
    "State",
    "StreamingResponse",
    "UploadFile",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketRoute",
    "__version__",
    "implementations",
    "register_converter",
    "safe_redirect",
]
