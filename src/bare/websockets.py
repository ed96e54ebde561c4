"""The WebSocket object handed to WebSocket handlers."""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any

from .types import Receive, Scope, Send

__all__ = ["WebSocket", "WebSocketDisconnect"]


class WebSocketDisconnect(Exception):
    """The client went away (or a receive was attempted after it had)."""

    def __init__(self, code: int = 1000, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class WebSocket:
    """One WebSocket connection: accept it, exchange messages, close it.

    `receive_text()`/`receive_bytes()` return None once the client has disconnected, as
    in the book; `async for message in ws` ends there too.
    """

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send
        self.path_params: dict[str, Any] = scope.get("path_params", {})
        self.accepted = False
        self.closed = False

    async def accept(self, subprotocol: str | None = None) -> None:
        message = await self._receive()
        if message["type"] != "websocket.connect":
            raise RuntimeError(f"expected websocket.connect, got {message['type']!r}")
        await self._send({"type": "websocket.accept", "subprotocol": subprotocol})
        self.accepted = True

    async def _receive_message(self) -> dict[str, Any] | None:
        if self.closed:
            return None
        message: dict[str, Any] = dict(await self._receive())
        if message["type"] == "websocket.disconnect":
            self.closed = True
            return None
        return message

    async def receive_text(self) -> str | None:
        message = await self._receive_message()
        if message is None:
            return None
        text = message.get("text")
        if text is None:
            raise TypeError("expected a text message, got a binary one")
        return str(text)

    async def receive_bytes(self) -> bytes | None:
        message = await self._receive_message()
        if message is None:
            return None
        data = message.get("bytes")
        if data is None:
            raise TypeError("expected a binary message, got a text one")
        return bytes(data)

    async def receive_json(self) -> Any:
        text = await self.receive_text()
        return json.loads(text) if text is not None else None

    async def send_text(self, text: str) -> None:
        await self._send({"type": "websocket.send", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        await self._send({"type": "websocket.send", "bytes": data})

    async def send_json(self, data: Any) -> None:
        await self.send_text(
            json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
        )

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        await self._send({"type": "websocket.close", "code": code, "reason": reason})

    async def __aenter__(self) -> WebSocket:
        await self.accept()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close(1000 if exc_type is None else 1011)
