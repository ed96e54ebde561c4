"""The test client's WebSocket sessions: the server half of the ASGI WebSocket protocol.

`AsyncWebSocketSession` does the work on the running event loop; `WebSocketSession`
drives it from sync code through the client's portal thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager, ExitStack
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from ._testing_http import ClientHeaders, ClientRequest, ClientResponse, raw_headers
from ._testing_server import Portal
from .types import ASGIApp, Message, Scope
from .websockets import WebSocketDisconnect

__all__ = ["AsyncWebSocketSession", "ClientDisconnected", "WebSocketDenied", "WebSocketSession"]

P = ParamSpec("P")
T = TypeVar("T")


class WebSocketDenied(Exception):
    """The app turned the WebSocket handshake down instead of accepting it.

    `response` is the HTTP answer a browser would have seen: 403 after a
    `websocket.close`, or the app's own response sent with the `websocket.http.response`
    extension. `code` and `reason` are those of the `websocket.close`, if that is how
    the app refused (None and "" otherwise).
    """

    def __init__(self, response: ClientResponse, code: int | None = None, reason: str = "") -> None:
        how = f"closed with code {code}" if code is not None else "answered over HTTP"
        super().__init__(f"WebSocket handshake denied ({how}): {response.status_code}")
        self.response = response
        self.code = code
        self.reason = reason

    @property
    def status_code(self) -> int:
        return self.response.status_code


class ClientDisconnected(OSError):
    """Raised in the app by `send()` once the client has closed the connection (ASGI 2.4)."""


class AsyncWebSocketSession:
    """One WebSocket connection to the app, used with `async with`.

    Entering runs the handshake: it returns once the app accepts, and raises
    `WebSocketDenied` if it refuses. Every receive waits at most `timeout` seconds and
    raises `TimeoutError` after that, so a test never hangs on a silent app. Once the
    app has closed the connection, `receive_text()` and friends raise
    `WebSocketDisconnect` with its close code.
    """

    def __init__(
        self,
        app: ASGIApp,
        scope: Scope,
        request: ClientRequest,
        *,
        raise_server_exceptions: bool = True,
        timeout: float = 5.0,
    ) -> None:
        self.scope = scope
        self.request = request
        self.timeout = timeout
        self.accepted_subprotocol: str | None = None
        self.extra_headers = ClientHeaders()
        self._app = app
        self._raise = raise_server_exceptions
        self._state = "new"  # -> connecting -> accepted | responding -> closed
        self._client_closed = False
        self._close_message: Message | None = None  # the app's close, once read by the test
        self._disconnect: Message | None = None  # what the app's receive() ends with
        self._error: Exception | None = None
        self._task: asyncio.Task[None] | None = None
        self._to_app: asyncio.Queue[Message] | None = None
        self._from_app: asyncio.Queue[Message | None] | None = None  # None: the app returned

    # -- the test's side ------------------------------------------------------------

    async def connect(self) -> None:
        """Run the handshake (what `async with` does on the way in)."""
        if self._state != "new":
            raise RuntimeError("this WebSocket session has already been opened")
        self._state = "connecting"
        self._to_app, self._from_app = asyncio.Queue(), asyncio.Queue()
        self._to_app.put_nowait({"type": "websocket.connect"})
        self._task = asyncio.create_task(self._run_app())
        try:
            message = await self._next(self.timeout)
        except TimeoutError:
            await self._stop_app(timeout=0)  # an app that never answers the handshake
            raise
        if message is not None and message["type"] == "websocket.accept":
            self.accepted_subprotocol = message.get("subprotocol")
            self.extra_headers = ClientHeaders(message.get("headers") or ())
            return
        if message is not None and message["type"] == "websocket.close":
            await self._finish()
            response = ClientResponse(403, [], b"", self.request)
            raise WebSocketDenied(response, message.get("code", 1000), message.get("reason") or "")
        if message is not None:  # websocket.http.response.start
            body = bytearray()
            while part := await self._next(self.timeout):
                body += part.get("body", b"")
                if not part.get("more_body", False):
                    await self._finish()
                    response = ClientResponse(
                        message["status"],
                        raw_headers(message.get("headers")),
                        bytes(body),
                        self.request,
                    )
                    raise WebSocketDenied(response)
        # The app returned or raised before answering the handshake: a server says 500.
        await self._finish()
        if self._raise:
            raise RuntimeError("the app returned without answering the WebSocket handshake")
        raise WebSocketDenied(ClientResponse(500, [], b"", self.request))

    async def send_text(self, text: str) -> None:
        """Send a text message to the app."""
        await self._put({"type": "websocket.receive", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message to the app."""
        await self._put({"type": "websocket.receive", "bytes": bytes(data)})

    async def send_json(self, data: Any, mode: str = "text") -> None:
        """Send `data` as compact JSON, in a text frame (or a binary one: `mode="binary"`)."""
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if mode == "binary":
            await self.send_bytes(text.encode("utf-8"))
        else:
            await self.send_text(text)

    async def receive(self, timeout: float | None = None) -> Message:
        """The next raw message from the app (`websocket.send` or `websocket.close`)."""
        if self._close_message is not None:
            raise WebSocketDisconnect(self._close_message["code"], self._close_message["reason"])
        message = await self._next(self.timeout if timeout is None else timeout)
        if message is None:  # the app ended: a server closes the socket for it
            code = 1000 if self._error is None else 1011
            self._close_message = {"type": "websocket.close", "code": code, "reason": ""}
            self._raise_app_error()
        elif message["type"] == "websocket.close":
            code, reason = message.get("code", 1000), message.get("reason") or ""
            self._close_message = {"type": "websocket.close", "code": code, "reason": reason}
        else:
            return message
        return dict(self._close_message)

    async def receive_text(self, timeout: float | None = None) -> str:
        """The next text message; `WebSocketDisconnect` if the app closed instead."""
        text = (await self._receive_data(timeout)).get("text")
        if text is None:
            raise TypeError("expected a text message, got a binary one")
        return str(text)

    async def receive_bytes(self, timeout: float | None = None) -> bytes:
        """The next binary message; `WebSocketDisconnect` if the app closed instead."""
        data = (await self._receive_data(timeout)).get("bytes")
        if data is None:
            raise TypeError("expected a binary message, got a text one")
        return bytes(data)

    async def receive_json(self, timeout: float | None = None) -> Any:
        """The next message (text or binary) parsed as JSON."""
        message = await self._receive_data(timeout)
        text = message.get("text")
        return json.loads(text if text is not None else message["bytes"])

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection and wait (up to `timeout`) for the app to finish."""
        if self._client_closed or self._state == "new":
            return
        self._client_closed = True
        self._deliver_disconnect(code, reason)
        await self._finish()

    async def __aenter__(self) -> AsyncWebSocketSession:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.close()
            return
        # The test failed: close anyway, and let its exception be the one that shows.
        with contextlib.suppress(Exception):
            await self.close(1006)

    # -- the app's side -------------------------------------------------------------

    async def _run_app(self) -> None:
        assert self._from_app is not None
        try:
            await self._app(self.scope, self._receive, self._send)
        except ClientDisconnected:
            pass  # raised by our own send(): the app is just noticing the client left
        except Exception as exc:
            self._error = exc
        finally:
            self._from_app.put_nowait(None)

    async def _receive(self) -> Message:
        assert self._to_app is not None
        if self._disconnect is not None and self._to_app.empty():
            return dict(self._disconnect)
        return await self._to_app.get()

    async def _send(self, message: Message) -> None:
        assert self._from_app is not None
        kind, state = message["type"], self._state
        if state == "closed":
            raise RuntimeError(f"the app sent {kind!r} after closing the WebSocket")
        if self._client_closed:
            raise ClientDisconnected(f"the client has closed the WebSocket; cannot send {kind!r}")
        if state == "connecting" and kind == "websocket.accept":
            subprotocol = message.get("subprotocol")
            if subprotocol is not None and subprotocol not in self.scope["subprotocols"]:
                raise RuntimeError(f"the app accepted subprotocol {subprotocol!r}, not offered")
            self._state = "accepted"
        elif state == "connecting" and kind == "websocket.http.response.start":
            self._state = "responding"
        elif state == "responding" and kind == "websocket.http.response.body":
            if not message.get("more_body", False):
                self._state = "closed"
        elif state == "accepted" and kind == "websocket.send":
            if (message.get("text") is None) == (message.get("bytes") is None):
                raise RuntimeError("websocket.send needs exactly one of 'text' and 'bytes'")
        elif state in ("connecting", "accepted") and kind == "websocket.close":
            self._state = "closed"
            self._deliver_disconnect(message.get("code", 1000), message.get("reason") or "")
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r} in WebSocket state {state!r}")
        self._from_app.put_nowait(dict(message))

    # -- shared -------------------------------------------------------------------

    def _deliver_disconnect(self, code: int, reason: str) -> None:
        if self._disconnect is None and self._to_app is not None:
            self._disconnect = {"type": "websocket.disconnect", "code": code, "reason": reason}
            self._to_app.put_nowait(dict(self._disconnect))

    async def _put(self, message: Message) -> None:
        if self._to_app is None:
            raise RuntimeError("the WebSocket session is not open: use it with `with`")
        if self._client_closed:
            raise RuntimeError("the WebSocket session is closed")
        await self._to_app.put(message)

    async def _next(self, timeout: float) -> Message | None:
        if self._from_app is None:
            raise RuntimeError("the WebSocket session is not open: use it with `with`")
        try:
            return await asyncio.wait_for(self._from_app.get(), timeout)
        except asyncio.TimeoutError:  # NOTE: not the builtin TimeoutError before 3.11
            raise TimeoutError(f"the app sent nothing within {timeout} s") from None

    async def _receive_data(self, timeout: float | None) -> Message:
        message = await self.receive(timeout)
        if message["type"] == "websocket.close":
            raise WebSocketDisconnect(message["code"], message["reason"])
        return message

    async def _finish(self) -> None:
        """Wait for the app to return (cancelling it after `timeout`); raise what it raised."""
        await self._stop_app(self.timeout)
        self._raise_app_error()

    async def _stop_app(self, timeout: float) -> None:
        if self._task is not None and not self._task.done():
            await asyncio.wait({self._task}, timeout=timeout)
            if not self._task.done():
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task

    def _raise_app_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            if self._raise:
                raise error
            self._error = error  # keep it: receive() reports the close as 1011


class WebSocketSession:
    """The sync face of `AsyncWebSocketSession`, for `TestClient`: same methods, no `await`.

    Use it with `with`; every call runs on the client's event loop thread.
    """

    def __init__(
        self,
        session: AsyncWebSocketSession,
        portal_scope: Callable[[], AbstractContextManager[Portal]],
    ) -> None:
        self._session = session
        self._portal_scope = portal_scope
        self._portal: Portal | None = None
        self._stack = ExitStack()

    @property
    def scope(self) -> Scope:
        """The scope the app was called with."""
        return self._session.scope

    @property
    def accepted_subprotocol(self) -> str | None:
        """The subprotocol the app chose when accepting, if any."""
        return self._session.accepted_subprotocol

    @property
    def extra_headers(self) -> ClientHeaders:
        """The headers the app sent with `websocket.accept`."""
        return self._session.extra_headers

    def send_text(self, text: str) -> None:
        """Send a text message to the app."""
        self._call(self._session.send_text, text)

    def send_bytes(self, data: bytes) -> None:
        """Send a binary message to the app."""
        self._call(self._session.send_bytes, data)

    def send_json(self, data: Any, mode: str = "text") -> None:
        """Send `data` as compact JSON, in a text frame (or a binary one: `mode="binary"`)."""
        self._call(self._session.send_json, data, mode)

    def receive(self, timeout: float | None = None) -> Message:
        """The next raw message from the app (`websocket.send` or `websocket.close`)."""
        return self._call(self._session.receive, timeout)

    def receive_text(self, timeout: float | None = None) -> str:
        """The next text message; `WebSocketDisconnect` if the app closed instead."""
        return self._call(self._session.receive_text, timeout)

    def receive_bytes(self, timeout: float | None = None) -> bytes:
        """The next binary message; `WebSocketDisconnect` if the app closed instead."""
        return self._call(self._session.receive_bytes, timeout)

    def receive_json(self, timeout: float | None = None) -> Any:
        """The next message (text or binary) parsed as JSON."""
        return self._call(self._session.receive_json, timeout)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection and wait (up to `timeout`) for the app to finish."""
        self._call(self._session.close, code, reason)

    def __enter__(self) -> WebSocketSession:
        with ExitStack() as stack:
            portal = stack.enter_context(self._portal_scope())
            portal.call(self._session.connect)
            self._stack = stack.pop_all()
        self._portal = portal
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with self._stack:
            if self._portal is not None:
                self._portal.call(self._session.__aexit__, exc_type, exc, traceback)
        self._portal = None

    def _call(
        self, func: Callable[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        if self._portal is None:
            raise RuntimeError("the WebSocket session is not open: use it with `with`")
        return self._portal.call(func, *args, **kwargs)
