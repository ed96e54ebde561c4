"""Calling handlers: `handler(request) -> value` for HTTP, `handler(websocket)` for WebSocket,
and what happens when they raise."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._concurrency import is_async_callable, run_in_threadpool
from ._errors import SERVER_EXCEPTION_KEY, http_exception_response, server_error_response
from .exceptions import ClientDisconnect, HTTPException, WebSocketException
from .requests import Request
from .responses import (
    JSONResponse,
    PlainTextResponse,
    Response,
    json_messages,
    run_background_tasks,
    text_messages,
)
from .websockets import (
    NO_LIMITS,
    WebSocketDisconnect,
    WebSocketLimits,
    WebSocketState,
    _uncancel,
)
from .websockets import _open as open_websockets

if TYPE_CHECKING:
    from typing import TypeAlias

    from .applications import Bare
    from .routing import RouteSettings
    from .types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["handle_exception", "http_endpoint", "to_response", "websocket_endpoint"]

logger = logging.getLogger("bare.error")


def to_response(value: Any) -> Response:
    """What a handler returned, as a response.

    A `Response` is sent as it is, `None` is an empty 200, `str` is plain text, `bytes`
    is `application/octet-stream`, anything else (dict, list, number...) is JSON.
    """
    if isinstance(value, Response):
        return value
    if value is None:
        return Response()
    if isinstance(value, str):
        return PlainTextResponse(value)
    if isinstance(value, bytes):
        return Response(value, content_type="application/octet-stream")
    if isinstance(value, tuple):
        # Flask's `(body, status)` would silently be a JSON array with a 200 here.
        raise TypeError(
            "a handler returned a tuple; bare does not read (body, status) pairs: "
            "return a response, e.g. JSONResponse(body, status=201), or a list for a "
            "JSON array"
        )
    return JSONResponse(value)


async def _call(handler: Callable[..., Any], is_async: bool, *args: Any) -> Any:
    if is_async:
        return await handler(*args)
    return await run_in_threadpool(handler, *args)


_send_at_once = Response.__call__

if TYPE_CHECKING:
    # What `serve` makes the messages of str, dict and list results with, the class it
    # sends as it is, and what turns any other result into one.
    Builders: TypeAlias = tuple[
        Callable[[Scope, str], tuple[Message, Message]],
        Callable[[Scope, Any], tuple[Message, Message]],
        type[Response],
        Callable[[Any], Response],
    ]

_PLAIN: Builders = (text_messages, json_messages, Response, to_response)


def http_endpoint(endpoint: Callable[..., Any], settings: RouteSettings) -> ASGIApp:
    """The ASGI callable that serves one HTTP route, built once when the route is bound
    with its `settings` (see `bare.routing.RouteSettings`).

    It builds the `Request`, calls `endpoint(request)` (in a worker thread if it is a
    plain function), turns what it returns into a response and sends it, then runs the
    background tasks of the response and of the request. Anything raised on the way
    goes to the app's exception handlers (`handle_exception`). Options that change how
    a route is served belong here, decided once, not as per-request branches.
    """
    is_async = is_async_callable(endpoint)
    # The etag option serves the route with the same code, given other builders.
    text_of, json_of, response_type, convert = _PLAIN
    if settings.etag:
        from ._conditional import HOOKS  # here: only apps that use the option load it

        text_of, json_of, response_type, convert = HOOKS
    max_body_size = settings.max_body_size
    form_limits = settings.form_limits

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, max_body_size, form_limits)
        response: Response | None = None
        started = sent = False
        try:
            if is_async:
                result = await endpoint(request)
            else:
                result = await run_in_threadpool(endpoint, request)
            kind = type(result)
            # PERF: str, dict and list results go out without a response object, and
            # responses that send in one piece go out here, without a coroutine of their
            # own. tests/test_one_path.py::test_inlined_messages_match_the_responses
            # checks these messages against the response classes'.
            if kind is str:
                start, body = text_of(scope, result)
            elif kind is dict or kind is list:
                start, body = json_of(scope, result)
            else:
                response = result if isinstance(result, response_type) else convert(result)
                if type(response).__call__ is not _send_at_once:
                    sent = await _send_itself(response, scope, receive, send)
                    return
                start, body = response.messages(scope)
            # Set first: a start the server refused must not be followed by another.
            started = True
            await send(start)
            await send(body)
            sent = True
            # NOTE: what Response.__call__ does after sending.
            if response is not None and response.background is not None:
                await response.run_background(scope)
        except Exception as exc:
            if started or (response is not None and response.started):
                # Too late for an error page: let the server drop the connection.
                raise
            if isinstance(exc, ClientDisconnect):
                return
            # The handler failed: its tasks do not run (the error response's own do).
            error = await handle_exception(scope.get("app"), exc, request)
            await error(scope, receive, send)
        finally:
            # The one check a handler that adds no task and reads no form pays.
            if request._deferred:
                await _after_response(request, sent)

    serve.__qualname__ = f"http_endpoint({_name(endpoint)})"
    return serve


async def _send_itself(response: Response, scope: Scope, receive: Receive, send: Send) -> bool:
    """Let a response with a `__call__` of its own (a stream, a file) send itself;
    whether it went out in full. Such a response runs its own background once sent in
    full; one that does not (a `__call__` of a user's) has it run here."""
    tracked = _Tracked(send)
    await response(scope, receive, tracked)
    if tracked.complete and response.background is not None and not response.background_ran:
        await response.run_background(scope)
    return tracked.complete


async def _after_response(request: Request, sent: bool) -> None:
    """What a request left for after its response: the tasks of
    `request.add_background_task` if the response went out in full (tasks they add
    too), then closing the files of its form and finishing the generator dependencies
    of a typed handler (last entered, first finished), whatever happened."""
    try:
        if sent:
            while (tasks := request._tasks) is not None:
                request._tasks = None
                await run_background_tasks(tasks, request.scope)
    finally:
        try:
            await request.close()
        finally:
            exits, request._exits = request._exits, None
            while exits:
                await exits.pop()()  # each logs its own failure: none stops the others


class _Tracked:
    """`send`, noting whether the last body message (or the file of a pathsend) went out."""

    __slots__ = ("complete", "send")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.complete = False

    async def __call__(self, message: Message) -> None:
        await self.send(message)
        kind = message["type"]
        if kind == "http.response.body":
            self.complete = not message.get("more_body", False)
        elif kind == "http.response.pathsend":
            self.complete = True


def _name(endpoint: Any) -> str:
    return getattr(endpoint, "__qualname__", None) or type(endpoint).__name__


async def handle_exception(app: Bare | None, exc: Exception, request: Request) -> Response:
    """The response for `exc`: the app's handler for it if any, else the default.

    A handler registered for a status (404) takes HTTPExceptions of that status; one
    registered for an exception class takes that class and its subclasses. If the
    handler itself fails, the answer is a plain 500.
    """
    handler = app.exception_handler_for(exc) if app is not None else None
    if handler is not None:
        try:
            result = await _call(handler, is_async_callable(handler), request, exc)
            if isinstance(result, Response):
                return result
            # A plain value keeps the status of the error it answers.
            response = to_response(result)
            response.status = exc.status if isinstance(exc, HTTPException) else 500
            return response
        except Exception as handler_error:
            logger.exception("exception handler %r failed", handler)
            exc = handler_error
    if isinstance(exc, HTTPException):
        try:
            return http_exception_response(exc)
        except Exception as broken:  # a detail JSON cannot encode, say
            exc = broken
    logger.error("unhandled error in %s %s", request.method, request.path, exc_info=exc)
    request.scope[SERVER_EXCEPTION_KEY] = exc
    return server_error_response(exc, request.scope, app is not None and app.debug)


def websocket_endpoint(
    endpoint: Callable[..., Any], limits: WebSocketLimits = NO_LIMITS
) -> ASGIApp:
    """The ASGI callable that serves one WebSocket route: it hands the connection to
    `endpoint` as a `WebSocket` (one that checks `limits`, when any is set); an
    exception closes the connection (1011, or the code of a `WebSocketException`)
    without sending its text. While it runs, `bare.websockets.close_all()` can reach
    the connection; when it ends, what the connection left to clean up is (rooms)."""
    connection = limits.websocket_class()
    current_task = asyncio.current_task

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = connection(scope, receive, send)
        open_websockets[websocket] = current_task()
        try:
            await endpoint(websocket)
        except WebSocketDisconnect:
            pass  # the client left: not an error
        except WebSocketException as exc:
            await websocket.close(exc.code, exc.reason)
        except asyncio.CancelledError:
            if websocket._going_away is None:
                raise
            # close_all() gave up waiting for the handler: the connection is closed.
            _uncancel()
        except Exception as exc:
            logger.exception("unhandled error in websocket %s", scope.get("path"))
            scope[SERVER_EXCEPTION_KEY] = exc
            await websocket.close(1011)
        else:
            # A handler that returns without closing: refuse (never accepted) or close.
            await websocket.close(
                1008 if websocket.application_state is WebSocketState.CONNECTING else 1000
            )
        finally:
            del open_websockets[websocket]
            # The one check a connection that joined no room and has no idle timeout pays.
            if websocket._cleanups is not None:
                await websocket._end()

    serve.__qualname__ = f"websocket_endpoint({_name(endpoint)})"
    return serve
