"""bare: a small, fast, correct ASGI web framework. It's just callables."""

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

__all__ = [
    "COMPILED",
    "Bare",
    "Converter",
    "FileResponse",
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
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketRoute",
    "__version__",
    "implementations",
    "register_converter",
    "safe_redirect",
]
