"""`ServerTimingMiddleware`: the app's duration, and the metrics handlers add with
`request.timing()`, in the response's `Server-Timing` header (W3C Server Timing).
"""

from __future__ import annotations

from collections.abc import Awaitable
from time import perf_counter

from .._server_timing import Metric, header_value, validate_metric
from ..requests import SERVER_TIMING_KEY
from ..types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ServerTimingMiddleware"]


class ServerTimingMiddleware:
    """Add a `Server-Timing` header to every HTTP response.

    It holds the metrics handlers added with `request.timing(...)` before the response
    started, in order, then `name` (default "app"): the time from this middleware
    passing the request on to the response starting, in milliseconds, with
    `description` if one is given. Both are checked as metric names and descriptions
    are (`ValueError`). WebSocket and lifespan scopes pass through untouched.

    The header shows clients how long the server took, and on what: leave out
    whatever a client should not learn (see the docs).
    """

    def __init__(self, app: ASGIApp, *, name: str = "app", description: str | None = None) -> None:
        validate_metric(name, None, description)
        self.app = app
        self.name = name
        self.description = description
        # PERF: the header's own metric is spelled out once; only its duration varies.
        # Guarded by tests/test_mw_timing.py::test_the_apps_own_metric_is_header_value_s.
        self._prefix = f"{name};dur=".encode("ascii")
        self._suffix = header_value([Metric("", None, description)]).encode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics: list[Metric] = []
        scope[SERVER_TIMING_KEY] = metrics
        prefix, suffix = self._prefix, self._suffix
        started = perf_counter()

        # NOTE: this wraps `send` under a bare app too: bare's hand-over of response
        # headers (`add_response_headers`) takes them before the app runs, and the
        # header's value is only known once the response starts.
        # A plain function handing back send's awaitable: cheaper than a coroutine of its own.
        def send_with_timing(message: Message) -> Awaitable[None]:
            if message["type"] == "http.response.start":
                value = prefix + b"%.3f" % ((perf_counter() - started) * 1000.0) + suffix
                if metrics:  # checked when added: header-safe ASCII
                    value = header_value(metrics).encode("ascii") + b", " + value
                headers = [*message.get("headers", ()), (b"server-timing", value)]
                message = {**message, "headers": headers}
            return send(message)

        await self.app(scope, receive, send_with_timing)
