"""`SessionMiddleware`: `request.session`, a dict kept in a signed cookie, or in a
server-side store with only a signed id in the cookie.

The cookie's value is `payload.timestamp.signature`: the payload is the session's JSON
in unpadded base64url (or, with a store, the session's random id), the timestamp the
second it was signed, and the signature HMAC-SHA256 over the two under a key derived
from the secret for this purpose and cookie name. Nothing but JSON is ever decoded
(never pickle), and only after the signature and the age have been checked.

A store that cannot be reached gives a 503 in place of the request, never an empty
session: see `SessionStoreUnavailable`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import inspect
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .._cookies import cookie_header
from ..requests import SESSION_KEY
from ..sessions import (
    SecretKey,
    Session,
    SessionStore,
    SessionStoreUnavailable,
    SessionTooLarge,
    Signer,
    cookie_values,
)
from ..types import ASGIApp, Message, Receive, Scope, Send
from . import RESPONSE_HEADERS_KEY

__all__ = ["DEFAULT_MAX_AGE", "MAX_COOKIE_SIZE", "SessionMiddleware"]

DEFAULT_MAX_AGE = 14 * 24 * 3600
#: The longest `Set-Cookie` value written (name, value and attributes), and the longest
#: cookie value read: what browsers keep of one cookie.
MAX_COOKIE_SIZE = 4096
# A timestamp this far in the future is still taken: clocks of several servers differ.
_CLOCK_SKEW = 60
# Duplicate cookies (an older path, a sibling domain): at most this many are tried.
_MAX_CANDIDATES = 4

_VARY = (b"vary", b"Cookie")
# One encoder, built once; the options refuse NaN and keep text as UTF-8.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_DECODER = json.JSONDecoder()
_now = time.time  # the clock of timestamps: a module attribute so tests can move it
# What a store raises when its server is down or slow: answered 503, never "no session".
_OUTAGE = (SessionStoreUnavailable, OSError, asyncio.TimeoutError)
# Ids are secrets.token_urlsafe(32): only those reach a store, even signed with our key.
_ID_LENGTH = 43
_ID_CHARACTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

logger = logging.getLogger("bare.sessions")

Validator = Callable[[dict[str, Any]], "bool | Awaitable[bool]"]


class _Loaded:
    """What was read from the request: whether it had a valid cookie, and its timestamp."""

    __slots__ = ("had_cookie", "stamp")

    def __init__(self, had_cookie: bool = False, stamp: int = 0) -> None:
        self.had_cookie = had_cookie
        self.stamp = stamp


_NOTHING = _Loaded()


class SessionMiddleware:
    """Give every HTTP request and WebSocket connection a session: `request.session`.

    Without `store`, the whole session travels in a signed cookie (readable by the
    user, not changeable; keep secrets out of it). With a `store` (`MemoryStore()`, or
    any `bare.sessions.SessionStore`), the cookie holds a signed random id and the data
    stay on the server.

    The session is read when the request comes in and written back only if it changed:
    an untouched session costs no signing and sends no `Set-Cookie`. A response that
    read it gets `Vary: Cookie`. A cookie that is tampered with, signed with an unknown
    secret, older than `max_age`, dated in the future, truncated or oversized gives an
    empty session, never an error. Changes made in a WebSocket handler, or after the
    response has started, are not saved.

    `validate(data)` (sync or async) is called with the data of each non-empty session
    read from a request; returning False drops it (an empty session), which is how a
    stateless cookie is revoked before it expires (see the docs).

    When the store cannot be reached (`SessionStoreUnavailable`, `OSError` or
    `asyncio.TimeoutError` from it), the failure is logged once (logger
    `bare.sessions`, without the session's id) and the request is answered 503
    `{"detail": "Session store unavailable"}` with `Retry-After`: before the handler
    runs if the session could not be loaded, or in place of the handler's response if
    it could not be saved (the response has not started then). A WebSocket handshake
    is refused. Requests that carry no session cookie and write no session never touch
    the store, so they are served as usual.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret_key: SecretKey,
        cookie_name: str = "session",
        max_age: int | None = DEFAULT_MAX_AGE,
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = True,
        samesite: str | None = "lax",
        store: SessionStore | None = None,
        refresh_after: int | None = None,
        validate: Validator | None = None,
    ) -> None:
        self.app = app
        for option, flag in (("secure", secure), ("httponly", httponly)):
            if not isinstance(flag, bool):
                raise TypeError(f"SessionMiddleware {option} must be True or False, not {flag!r}")
        if max_age is not None and (
            isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 1
        ):
            raise ValueError(
                f"SessionMiddleware max_age must be a number of seconds (an int of 1 or "
                f"more), or None for a cookie that ends with the browser session; not {max_age!r}"
            )
        if refresh_after is not None:
            if isinstance(refresh_after, bool) or not isinstance(refresh_after, int):
                raise TypeError(
                    "SessionMiddleware refresh_after must be an int of seconds, "
                    f"not {refresh_after!r}"
                )
            if max_age is None or not 0 <= refresh_after < max_age:
                raise ValueError(
                    "SessionMiddleware refresh_after needs a max_age and must be from 0 to "
                    f"less than max_age ({max_age!r}), not {refresh_after!r}"
                )
        if store is not None:
            _check_store(store)
            if max_age is None:
                raise ValueError(
                    "SessionMiddleware with a store needs max_age: the store must know when "
                    "to forget a session"
                )
        if validate is not None and not callable(validate):
            raise TypeError(
                f"SessionMiddleware validate must be a callable taking the session's data, "
                f"not {validate!r}"
            )
        if not isinstance(cookie_name, str):
            raise TypeError(f"SessionMiddleware cookie_name must be a str, not {cookie_name!r}")
        try:
            # The attributes are the same on every cookie: built (and checked) once.
            sample = cookie_header(
                cookie_name, "v", max_age, None, path, domain, secure, httponly, samesite
            )
            deletion = cookie_header(
                cookie_name, "", 0, 0, path, domain, secure, httponly, samesite
            )
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"SessionMiddleware: {exc}") from None
        self._attributes = sample[len(cookie_name) + 2 :]
        self._deletion = (b"set-cookie", deletion.encode("latin-1"))
        self.cookie_name = cookie_name
        self.max_age = max_age
        self.store = store
        self.refresh_after = refresh_after
        self.validate = validate
        self._name = cookie_name.encode("latin-1")
        self._store_max_age = max_age or DEFAULT_MAX_AGE  # a store comes with a max_age
        purpose = ("store:" if store is not None else "cookie:") + cookie_name
        self._signer = Signer(secret_key, "bare.sessions." + purpose, owner="SessionMiddleware")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        try:
            session, loaded = await self._load(scope)
        except SessionStoreUnavailable as problem:
            await _answer_outage(problem, scope, receive, send)
            return
        scope[SESSION_KEY] = session
        if kind != "http":  # a WebSocket has no response to carry a cookie
            await self.app(scope, receive, send)
            return
        started = False
        replaced: SessionStoreUnavailable | None = None

        async def send_with_session(message: Message) -> None:
            nonlocal started, replaced
            if replaced is not None:
                return  # a 503 went out in place of this response: the rest is dropped
            # NOTE: only the first start: if writing the session fails, the app's error
            # response comes through here again and must pass as it is.
            if not started and message["type"] == "http.response.start":
                started = True
                try:
                    extra = await self._commit(session, loaded)
                except SessionStoreUnavailable as problem:
                    # Saved before the start goes out, so the client can still be told.
                    replaced = problem
                    await _answer_outage(problem, scope, receive, send)
                    raise  # stops the app's response (and its background tasks)
                if extra:
                    message = {**message, "headers": _merged(message.get("headers", ()), extra)}
            await send(message)

        try:
            await self.app(scope, receive, send_with_session)
        except SessionStoreUnavailable as exc:
            if exc is not replaced:
                raise
            # The app gave up its response when told the session could not be saved:
            # the 503 was its answer, and the servers and middleware outside see that.

    # -- reading ------------------------------------------------------------------------

    async def _load(self, scope: Scope) -> tuple[Session, _Loaded]:
        candidates = cookie_values(scope.get("headers", ()), self._name, _MAX_CANDIDATES)
        if not candidates:
            return Session(), _NOTHING
        now = _now()
        for raw in candidates:
            unsigned = self._unsign(raw, now)
            if unsigned is None:
                continue
            payload, stamp = unsigned
            loaded = _Loaded(True, stamp)
            session = Session()
            if self.store is None:
                data = _decode(_unb64(payload))
            elif len(payload) == _ID_LENGTH and not payload.translate(None, _ID_CHARACTERS):
                session_id = payload.decode("ascii")
                try:
                    found = await self.store.load(session_id)
                except _OUTAGE as exc:
                    raise _outage(exc, session_id)  # noqa: B904 - see _outage
                data = _decode(found)
                if data is not None:
                    session._id = session_id
            else:  # signed, yet not an id we make: only a holder of the secret makes these
                data = None
            if data and self.validate is not None:
                verdict = self.validate(data)
                if inspect.isawaitable(verdict):
                    verdict = await verdict
                if not verdict:
                    data = None
            if data:
                dict.update(session, data)
            return session, loaded
        return Session(), _NOTHING

    def _unsign(self, raw: bytes, now: float) -> tuple[bytes, int] | None:
        """The payload and timestamp of a cookie value, if signed by us and not expired."""
        if len(raw) > MAX_COOKIE_SIZE:  # before any decoding: no cookie of ours is larger
            return None
        signed, _, signature = raw.rpartition(b".")
        payload, dot, stamp = signed.rpartition(b".")
        if not dot or not payload or not stamp.isdigit() or len(stamp) > 12:
            return None
        if not self._signer.verify(signed, signature):
            return None
        when = int(stamp)
        if when > now + _CLOCK_SKEW:
            return None
        if self.max_age is not None and now - when > self.max_age:
            return None
        return payload, when

    # -- writing ------------------------------------------------------------------------

    async def _commit(self, session: Session, loaded: _Loaded) -> list[tuple[bytes, bytes]]:
        """The headers to add for this session (none when it was not touched), after
        saving it to the store if there is one."""
        write = session.modified
        if (
            not write
            and self.refresh_after is not None
            and loaded.had_cookie
            and dict.__len__(session)
            and _now() - loaded.stamp >= self.refresh_after
        ):
            write = True  # slide the expiry forward, at most once per refresh_after
        if not write:
            return [_VARY] if session.accessed else []
        store = self.store
        if not dict.__len__(session):
            if store is not None and session._id is not None:
                try:
                    await store.delete(session._id)
                except _OUTAGE as exc:
                    raise _outage(exc, session._id)  # noqa: B904 - see _outage
                session._id = None
            return [self._deletion, _VARY] if loaded.had_cookie else [_VARY]
        data = _encode(session)
        now = int(_now())
        if store is None:
            payload = _b64(data)
        else:
            old_id = session_id = session._id
            if session_id is None or session._regenerate:
                # NOTE: never an id from the request: one the store did not know is not
                # taken over, so a planted id cannot become a live session.
                session_id = secrets.token_urlsafe(32)
            try:
                # Saved first: if the old id cannot be dropped, the session is not lost.
                await store.save(session_id, data, self._store_max_age)
                if old_id is not None and old_id != session_id:
                    await store.delete(old_id)
            except _OUTAGE as exc:
                raise _outage(exc, session_id, old_id)  # noqa: B904 - see _outage
            session._id = session_id
            payload = session_id.encode("ascii")
        session._regenerate = False
        signed = payload + b"." + str(now).encode("ascii")
        value = (
            self.cookie_name
            + "="
            + (signed + b"." + self._signer.signature(signed)).decode("ascii")
            + self._attributes
        )
        if len(value) > MAX_COOKIE_SIZE:
            raise SessionTooLarge(
                f"the session cookie {self.cookie_name!r} would be {len(value)} bytes, more "
                f"than the {MAX_COOKIE_SIZE} browsers keep: store less in the session (ids "
                "rather than records), or keep it on the server with "
                "SessionMiddleware(..., store=MemoryStore()) or another store"
            )
        return [(b"set-cookie", value.encode("ascii")), _VARY]


def _outage(exc: BaseException, *ids: str | None) -> SessionStoreUnavailable:
    """The 503 for a store that failed with `exc`, logged here (once per failure)
    without the session ids a store's message might hold.

    Raised plainly (no `from`): it is `exc` itself when the store raised the 503, and
    `from exc` would make it its own cause; otherwise the context chains the two.
    """
    if isinstance(exc, SessionStoreUnavailable):
        problem, reason = exc, exc.reason or "no reason given"
    else:
        problem, reason = SessionStoreUnavailable(), f"{type(exc).__name__}: {exc}"
    for session_id in ids:
        if session_id:
            reason = reason.replace(session_id, "<session id>")
    problem.reason = reason
    logger.error("session store unavailable, answering 503: %s", reason)
    return problem


async def _answer_outage(
    problem: SessionStoreUnavailable, scope: Scope, receive: Receive, send: Send
) -> None:
    """Answer the request with `problem`'s 503, or refuse the WebSocket handshake."""
    from .._endpoints import handle_exception  # here: only an outage needs these
    from .._errors import http_exception_response
    from ..requests import Request
    from ..websockets import WebSocket

    if scope["type"] == "http":
        # Under a bare app (its hand-over mark is in the scope), its exception handlers
        # answer; the response goes out through `send`, so the middleware outside see it.
        app = scope.get("app") if RESPONSE_HEADERS_KEY in scope else None
        response = await handle_exception(app, problem, Request(scope, receive))
        await response(scope, receive, send)
        return
    message = await receive()
    if message["type"] == "websocket.connect":  # else the client left already
        await WebSocket(scope, receive, send).deny(http_exception_response(problem))


def _check_store(store: object) -> None:
    for method in ("load", "save", "delete"):
        function = getattr(store, method, None)
        if function is None or not inspect.iscoroutinefunction(function):
            raise TypeError(
                f"SessionMiddleware store must have async methods load, save and delete "
                f"(see bare.sessions.SessionStore); {type(store).__name__}.{method} is "
                f"{'missing' if function is None else 'not a coroutine function'}"
            )


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _unb64(payload: bytes) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4))
    except (binascii.Error, ValueError):
        return None


def _decode(data: bytes | None) -> dict[str, Any] | None:
    """The session's data from JSON; None for anything that is not a JSON object."""
    if not data:
        return None
    try:
        value = _DECODER.decode(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _encode(session: Session) -> bytes:
    data = dict(dict.items(session))
    try:
        return _ENCODER.encode(data).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise _unstorable(data, exc) from None


def _unstorable(data: dict[str, Any], exc: BaseException) -> Exception:
    """A clear error naming the session key whose value cannot be stored."""
    allowed = (
        "sessions hold JSON: str, int, float, bool, None, and lists and dicts of them "
        "(dict keys str)"
    )
    for key, value in data.items():
        try:
            _ENCODER.encode(value).encode("utf-8")
        except TypeError as error:
            return TypeError(f"session[{key!r}] cannot be stored ({error}): {allowed}")
        except (ValueError, RecursionError) as error:
            return ValueError(f"session[{key!r}] cannot be stored ({error}): {allowed}")
    return TypeError(f"the session cannot be stored ({exc}): {allowed}")


def _merged(headers: Any, extra: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` plus `extra`, leaving out a `Vary: Cookie` the response already has."""
    merged = list(headers)
    for name, value in merged:
        if name.lower() == b"vary":
            tokens = {token.strip().lower() for token in value.split(b",")}
            if b"cookie" in tokens or b"*" in tokens:
                extra = [pair for pair in extra if pair is not _VARY]
                break
    merged += extra
    return merged
