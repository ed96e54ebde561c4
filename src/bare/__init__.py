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
    from .forms import FormData, FormLimits, UploadFile

# Names loaded when first asked for, so that `import bare` does not pay for them.
_LAZY = {
    "BackgroundTask": "background",
    "BackgroundTasks": "background",
    "FormData": "forms",
    "FormLimits": "forms",
    "UploadFile": "forms",
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
    "Converter",
    "FileResponse",
    "FormData",
    "FormLimits",
    "HTMLResponse",
    "HTTPException",
    "JSONResponse",
    "Mount",
    "NoMatchFound",
    "PlainTextResponse",
    "RedirectResponse",
    "Request",
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
