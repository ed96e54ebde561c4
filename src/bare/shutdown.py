"""Ending long-lived connections when the server stops: event streams and WebSockets.

On SIGINT or SIGTERM, uvicorn stops accepting connections, then waits for the open ones
and their handlers before it runs the lifespan shutdown: an event stream never ends by
itself, and a WebSocket handler that is not reading holds the stop up too (uvicorn
closes WebSockets with 1012, but waits for their handlers). `close_on_signals` puts
`close_connections()` in front of the server's own handlers, so every stream ends and
every WebSocket is closed with 1001 (going away) at once::

    from bare.shutdown import close_on_signals, restore_signals

    app = Bare(on_startup=[close_on_signals], on_shutdown=[restore_signals])

Not imported by `import bare`. See docs/websockets.md, "Shutdown".
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from .sse import close_streams
from .websockets import _check_close, _seconds, close_all

__all__ = ["close_connections", "close_on_signals", "restore_signals"]

Handler = Callable[[int, FrameType | None], Any]
_chained: dict[int, tuple[Handler, Handler]] = {}  # signal: (the server's, ours)


def close_connections(
    *, code: int = 1001, reason: str = "server shutting down", timeout: float = 5.0
) -> int:
    """End every open event stream (`bare.sse.close_streams()`) and close every open
    WebSocket (`bare.websockets.close_all(code, reason, timeout=timeout)`); return how
    many there were. Safe to call from any thread and from a signal handler."""
    return close_streams() + close_all(code, reason, timeout=timeout)


async def close_on_signals(
    *, code: int = 1001, reason: str = "server shutting down", timeout: float = 5.0
) -> None:
    """Put `close_connections(...)` in front of the server's SIGINT and SIGTERM handlers.

    Meant for `on_startup` (the server has set its handlers by then; use
    `functools.partial` for other values). Does nothing off the main thread (only it
    may set handlers: `TestClient` runs the app in another one), for a signal that is
    ignored or has its default action (which ends the process anyway), or for one it
    has already chained. Bad values raise `ValueError` or `TypeError` here, at startup.
    """
    _check_close(code, reason)
    _seconds(timeout, "timeout")
    if threading.current_thread() is not threading.main_thread():
        return
    for number in (signal.SIGINT, signal.SIGTERM):
        servers = signal.getsignal(number)
        if not callable(servers) or number in _chained:
            continue

        def ours(signum: int, frame: FrameType | None, servers: Handler = servers) -> None:
            close_connections(code=code, reason=reason, timeout=timeout)
            servers(signum, frame)

        signal.signal(number, ours)
        _chained[number] = (servers, ours)


async def restore_signals() -> None:
    """Give the server its own handlers back (for `on_shutdown`). A handler someone
    set over ours is left in place."""
    if threading.current_thread() is not threading.main_thread():
        return
    for number, (servers, ours) in list(_chained.items()):
        if signal.getsignal(number) is ours:
            signal.signal(number, servers)
        del _chained[number]
