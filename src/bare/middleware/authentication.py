"""AuthenticationMiddleware: who made the request, in `request.user` and `request.auth`.

    app.add_middleware(AuthenticationMiddleware, backend=BasicAuth(verify))

The backends and `requires` live in `bare.authentication`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

from .._concurrency import is_async_callable, run_in_threadpool
from .._endpoints import handle_exception
from .._errors import http_exception_response
from ..authentication import (
    ANONYMOUS,
    CHALLENGE_KEY,
    NO_CREDENTIALS,
    AuthenticationBackend,
)
from ..exceptions import HTTPException
from ..requests import AUTH_KEY, USER_KEY, HTTPConnection, Request
from ..responses import Response
from ..types import ASGIApp, Receive, Scope, Send
from ..websockets import WebSocket
from . import RESPONSE_HEADERS_KEY

__all__ = ["AuthenticationMiddleware"]

ErrorHandler = Callable[[HTTPConnection, HTTPException], Any]


class AuthenticationMiddleware:
    """Authenticate every HTTP request and WebSocket handshake with `backend` (or a list
    of backends, tried in order: the first that finds its kind of credentials decides).

    - No credentials: `request.user` is an `UnauthenticatedUser`, `request.auth` an
      empty `AuthCredentials`, and the request goes on; handlers decide with `requires`.
    - Good credentials: the user and scopes `verify` gave.
    - Malformed or wrong credentials: the backend's 400 or 401 (with its
      `WWW-Authenticate` challenge), and the app is not called. Under a bare app, the
      app's exception handlers make that response (a handler for 401 answers it);
      `on_error(conn, exc)` (sync or async, returning a `Response`) replaces them.
      A WebSocket handshake is refused with that response, or closed with 1008 where
      the server cannot send one.

    An error raised by a `verify` function is not a 401: it reaches the app's error
    handling (a 500) like any bug. Lifespan and other scopes pass through.
    """

    def __init__(
        self,
        app: ASGIApp,
        backend: AuthenticationBackend | Sequence[AuthenticationBackend],
        *,
        on_error: ErrorHandler | None = None,
    ) -> None:
        backends: list[AuthenticationBackend] = (
            list(backend) if isinstance(backend, (list, tuple)) else [cast(Any, backend)]
        )
        if not backends:
            raise ValueError("AuthenticationMiddleware needs at least one backend")
        for each in backends:
            if not is_async_callable(getattr(each, "authenticate", None)):
                raise TypeError(
                    f"{each!r:.60} is not an authentication backend: give BasicAuth(verify), "
                    "BearerAuth(verify), APIKeyAuth(verify) or an object with an async "
                    "authenticate(conn) method"
                )
        if on_error is not None and not callable(on_error):
            raise TypeError(
                f"on_error must be a function (conn, exc) -> Response, not {on_error!r:.60}"
            )
        self.app = app
        self.backends: tuple[AuthenticationBackend, ...] = tuple(backends)
        self.on_error = on_error
        challenges = [
            c for c in dict.fromkeys(getattr(b, "challenge", None) for b in backends) if c
        ]
        # RFC 9110 section 11.6.1: one WWW-Authenticate may list several challenges.
        self.challenge: str | None = ", ".join(challenges) or None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        result = None
        try:
            for backend in self.backends:
                result = await backend.authenticate(conn)
                if result is not None:
                    break
        except HTTPException as exc:
            await self._refuse(exc, scope, receive, send)
            return
        if result is not None:
            scope[USER_KEY], scope[AUTH_KEY] = result
        elif USER_KEY not in scope:
            scope[USER_KEY], scope[AUTH_KEY] = ANONYMOUS, NO_CREDENTIALS
        # else: an outer AuthenticationMiddleware already decided; no credentials here
        # must not undo what it found.
        challenge = self.challenge
        if challenge is not None:
            outer = scope.get(CHALLENGE_KEY)
            scope[CHALLENGE_KEY] = (
                f"{outer}, {challenge}" if outer and outer != challenge else challenge
            )
        await self.app(scope, receive, send)

    async def _refuse(self, exc: HTTPException, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive)
            on_error = self.on_error
            if on_error is not None:
                response = await self._custom(on_error, request, exc)
            else:
                # Under a bare app (its hand-over mark is in the scope, and only its own
                # stack sees that), its exception handlers answer. The response is sent
                # from here, so the middleware outside this one see it.
                app = scope.get("app") if RESPONSE_HEADERS_KEY in scope else None
                response = await handle_exception(app, exc, request)
            await response(scope, receive, send)
            return
        message = await receive()
        if message["type"] != "websocket.connect":  # the client left already
            return
        websocket = WebSocket(scope, receive, send)
        on_error = self.on_error
        if on_error is not None:
            response = await self._custom(on_error, websocket, exc)
        else:
            response = http_exception_response(exc)
        await websocket.deny(response)

    @staticmethod
    async def _custom(on_error: ErrorHandler, conn: HTTPConnection, exc: HTTPException) -> Response:
        if is_async_callable(on_error):
            response = await on_error(conn, exc)
        else:
            response = await run_in_threadpool(on_error, conn, exc)
        if not isinstance(response, Response):
            raise TypeError(
                f"on_error {getattr(on_error, '__qualname__', on_error)!r} returned "
                f"{type(response).__name__}, not a Response"
            )
        return response
