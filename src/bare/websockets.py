"""The WebSocket object handed to WebSocket handlers."""

from __future__ import annotations

import contextlib
import enum
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

from ._json import dumps, loads
from .exceptions import WebSocketException
from .headers import encode_headers
from .requests import HTTPConnection

if TYPE_CHECKING:
    from .responses import Response
    from .types import Message, Receive, Scope, Send

__all__ = ["WebSocket", "WebSocketDisconnect", "WebSocketState"]

# RFC 6455 section 4.1: a subprotocol is an RFC 2616 token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class WebSocketDisconnect(Exception):
    """The connection is over: the client went away (or a receive was attempted after
    it had), or the handler was sent a message of a kind it cannot take and bare
    closed the connection with 1003.

    Escaping a handler, it ends the connection quietly: nothing is logged.
    """

    def __init__(self, code: int = 1000, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class WebSocketState(enum.Enum):
    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2


class WebSocket(HTTPConnection):
    """One WebSocket connection: accept it, exchange messages, close it.

    As in the book, `receive_text()`, `receive_bytes()` and `receive_json()` return
    None once the client has gone; `async for message in ws` stops there. A message of
    the other kind (bytes to `receive_text()`, text to `receive_bytes()`) closes the
    connection with 1003 (unsupported data) and raises `WebSocketDisconnect`, which
    ends the handler as quietly as a client that leaves.

    Before `accept()`, `close(code)` refuses the handshake (the server answers 403)
    and `deny(response)` sends a full HTTP response instead, where the server
    supports it.
    """

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        super().__init__(scope)
        self._receive = receive
        self._send = send
        self.client_state = WebSocketState.CONNECTING
        self.application_state = WebSocketState.CONNECTING
        self.close_code: int | None = None

    # -- the handshake --------------------------------------------------------------------

    async def accept(
        self,
        subprotocol: str | None = None,
        headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
    ) -> None:
        """Accept the connection, optionally choosing one of the client's subprotocols
        and adding headers to the handshake response.

        `subprotocol` must be a token and `headers` must pass the checks of HTTP
        response headers (no CR, LF or other controls, latin-1 values): anything else
        raises `ValueError` (or `TypeError` for a non-str) before anything is sent.
        """
        if subprotocol is not None:
            if not isinstance(subprotocol, str):
                raise TypeError(f"subprotocol must be str, not {type(subprotocol).__name__}")
            if not _TOKEN.fullmatch(subprotocol):
                raise ValueError(
                    f"invalid subprotocol {subprotocol!r:.60}: it must be a token (RFC 6455)"
                )
        raw = encode_headers(headers)
        if self.client_state is WebSocketState.CONNECTING:
            message = await self._receive()
            if message["type"] == "websocket.disconnect":
                self._client_gone(message)
                raise WebSocketDisconnect(self.close_code or 1006)
            if message["type"] != "websocket.connect":
                raise RuntimeError(f"expected websocket.connect, got {message['type']!r}")
            self.client_state = WebSocketState.CONNECTED
        if self.application_state is not WebSocketState.CONNECTING:
            raise RuntimeError("accept() after the connection was accepted or closed")
        await self._send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": raw})
        self.application_state = WebSocketState.CONNECTED

    async def deny(self, response: Response) -> None:
        """Refuse the handshake with an HTTP response (403 page, redirect...).

        Servers without the `websocket.http.response` extension cannot send one: the
        connection is then refused with a plain 403.
        """
        if self.application_state is not WebSocketState.CONNECTING:
            raise RuntimeError("deny() after the connection was accepted or closed")
        self.application_state = WebSocketState.DISCONNECTED
        if "websocket.http.response" not in self.scope.get("extensions", {}):
            await self._send({"type": "websocket.close", "code": 1008, "reason": ""})
            return

        async def send_as_denial(message: Message) -> None:
            await self._send({**message, "type": "websocket." + message["type"]})

        await response(self.scope, self._receive, send_as_denial)

    # -- receiving ------------------------------------------------------------------------

    def _client_gone(self, message: Message) -> None:
        self.client_state = WebSocketState.DISCONNECTED
        self.application_state = WebSocketState.DISCONNECTED
        self.close_code = message.get("code", 1005)

    async def receive(self) -> Message | None:
        """The next raw `websocket.receive` message, or None once the client has gone."""
        if self.application_state is WebSocketState.CONNECTING:
            raise RuntimeError("accept() the connection before receiving")
        if self.client_state is WebSocketState.DISCONNECTED:
            return None
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            self._client_gone(message)
            return None
        return message

    async def receive_text(self) -> str | None:
        """The next text message, or None once the client has gone.

        A binary message closes the connection with 1003 and raises `WebSocketDisconnect`.
        """
        message = await self.receive()
        if message is None:
            return None
        text = message.get("text")
        if text is None:
            await self._unsupported("text")
        return str(text)

    async def receive_bytes(self) -> bytes | None:
        """The next binary message, or None once the client has gone.

        A text message closes the connection with 1003 and raises `WebSocketDisconnect`.
        """
        message = await self.receive()
        if message is None:
            return None
        data = message.get("bytes")
        if data is None:
            await self._unsupported("binary")
        return bytes(data)

    async def receive_json(self) -> Any:
        """The next text message parsed as JSON, or None once the client has gone.

        Malformed JSON raises `ValueError`; the handler decides what to do with it. A
        binary message closes the connection with 1003, as in `receive_text()`.
        """
        text = await self.receive_text()
        return loads(text.encode("utf-8", "surrogatepass")) if text is not None else None

    async def _unsupported(self, expected: str) -> NoReturn:
        # RFC 6455 section 7.4.1: 1003 is for "a type of data it cannot accept".
        reason = f"expected a {expected} message"
        await self.close(1003, reason)
        raise WebSocketDisconnect(1003, reason)

    def _bad_host(self) -> Exception:
        """An invalid Host header refuses the handshake (or closes with 1008), quietly."""
        return WebSocketException(1008, "Invalid Host header")

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str | bytes]:
        while True:
            message = await self.receive()
            if message is None:
                return
            text = message.get("text")
            yield text if text is not None else bytes(message.get("bytes") or b"")

    # -- sending --------------------------------------------------------------------------

    async def send(self, message: Message) -> None:
        """Send a raw ASGI WebSocket message.

        Raises `WebSocketDisconnect` if the client has gone (servers raise `OSError`).
        """
        if self.application_state is WebSocketState.DISCONNECTED:
            raise WebSocketDisconnect(self.close_code or 1006)
        try:
            await self._send(message)
        except OSError:
            self._client_gone({"code": 1006})
            raise WebSocketDisconnect(1006) from None

    async def send_text(self, text: str) -> None:
        await self.send({"type": "websocket.send", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        await self.send({"type": "websocket.send", "bytes": data})

    async def send_json(self, data: Any) -> None:
        """Send `data` as a compact JSON text message."""
        await self.send({"type": "websocket.send", "text": dumps(data).decode("utf-8")})

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (once; later calls do nothing).

        Before `accept()` this refuses the handshake.
        """
        if self.application_state is WebSocketState.DISCONNECTED:
            return
        self.application_state = WebSocketState.DISCONNECTED
        self.close_code = code
        with contextlib.suppress(OSError):  # the client left first: nothing to close
            await self._send({"type": "websocket.close", "code": code, "reason": reason})

    # -- the book's context manager -------------------------------------------------------

    async def __aenter__(self) -> WebSocket:
        await self.accept()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            await self.close(1000)
        elif isinstance(exc, WebSocketException):
            await self.close(exc.code, exc.reason)
        elif not isinstance(exc, WebSocketDisconnect):
            await self.close(1011)
