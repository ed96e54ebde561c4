"""Who is calling: users, scopes, the Basic, Bearer and API key backends of
`bare.middleware.authentication.AuthenticationMiddleware`, and `requires`.

A backend reads one kind of credentials from the request and hands them to the
app's `verify` function, which says who they belong to:

    verify(username, password)   # BasicAuth
    verify(token)                # BearerAuth
    verify(key)                  # APIKeyAuth

`verify` may be a plain function (run in a worker thread) or `async`. It returns None
to reject the credentials, or the user: any object (a `str` becomes a `SimpleUser`),
or `(user, scopes)`. It must compare secrets in constant time: `compare_secret`.

A backend's `authenticate(conn)` answers None when the request carries none of its
credentials (the request goes on, anonymous), `(user, AuthCredentials)` when they
check out, and raises `AuthenticationError` (an `HTTPException`: 400 or 401 with a
`WWW-Authenticate` challenge) when they are malformed or rejected. Whatever else
`verify` raises is the app's own error: it is not turned into a 401.
"""

from __future__ import annotations

import functools
import hmac
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

from ._concurrency import is_async_callable, run_in_threadpool
from .exceptions import HTTPException
from .headers import check_header
from .requests import AUTH_KEY, USER_KEY, HTTPConnection

if TYPE_CHECKING:
    from .types import Scope

__all__ = [
    "CHALLENGE_KEY",
    "MAX_CREDENTIALS_SIZE",
    "APIKeyAuth",
    "AuthCredentials",
    "AuthenticationBackend",
    "AuthenticationError",
    "BaseUser",
    "BasicAuth",
    "BearerAuth",
    "SimpleUser",
    "UnauthenticatedUser",
    "compare_secret",
    "requires",
]

F = TypeVar("F", bound=Callable[..., Any])

# The scope key where AuthenticationMiddleware leaves the challenges of its backends
# (a `WWW-Authenticate` value), for `requires` to send with the 401 of an anonymous
# request.
CHALLENGE_KEY = "bare.auth_challenge"

# Credentials longer than this are refused before they are decoded (400).
MAX_CREDENTIALS_SIZE = 8 * 1024

# RFC 9110 section 11.2: token68, the syntax of Basic and Bearer credentials.
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# RFC 9110 section 5.6.2: a token (header names, cookie names, auth schemes).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# -- who and what -------------------------------------------------------------------------


class AuthCredentials:
    """The scopes (permissions) a request was authenticated with: `request.auth`.

    `"admin" in request.auth` checks one scope; `request.auth.scopes` is the frozenset.
    A single string is one scope, not a set of letters.
    """

    __slots__ = ("_scopes",)

    def __init__(self, scopes: Iterable[str] = ()) -> None:
        if isinstance(scopes, str):
            scopes = (scopes,)
        frozen = frozenset(scopes)
        for scope in frozen:
            if not isinstance(scope, str):
                raise TypeError(f"a scope is a str, not {type(scope).__name__}: {scope!r:.60}")
        self._scopes = frozen

    @property
    def scopes(self) -> frozenset[str]:
        return self._scopes

    def has(self, *scopes: str) -> bool:
        """Whether every one of `scopes` was granted."""
        return self._scopes.issuperset(scopes)

    def __contains__(self, scope: object) -> bool:
        return scope in self._scopes

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AuthCredentials):
            return NotImplemented
        return self._scopes == other._scopes

    def __hash__(self) -> int:
        return hash(self._scopes)

    def __repr__(self) -> str:
        return f"AuthCredentials({sorted(self._scopes)!r})"


class BaseUser:
    """The shape `request.user` has: subclass it for your own users (or return any
    object from `verify`; `requires` only asks `is_authenticated`, True if missing)."""

    __slots__ = ()

    @property
    def is_authenticated(self) -> bool:
        return True

    # Left for subclasses to give, as documented: a user class says how it is shown
    # and identified.
    @property
    def display_name(self) -> str:
        raise NotImplementedError(f"{type(self).__name__} must define display_name")

    @property
    def identity(self) -> str:
        raise NotImplementedError(f"{type(self).__name__} must define identity")


class SimpleUser(BaseUser):
    """An authenticated user known by name only: what a `verify` returning a `str` gives."""

    __slots__ = ("username",)

    def __init__(self, username: str) -> None:
        self.username = username

    @property
    def display_name(self) -> str:
        return self.username

    @property
    def identity(self) -> str:
        return self.username

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SimpleUser):
            return NotImplemented
        return self.username == other.username

    def __hash__(self) -> int:
        return hash(self.username)

    def __repr__(self) -> str:
        return f"SimpleUser({self.username!r})"


class UnauthenticatedUser(BaseUser):
    """`request.user` of a request that carried no credentials."""

    __slots__ = ()

    @property
    def is_authenticated(self) -> bool:
        return False

    @property
    def display_name(self) -> str:
        return ""

    @property
    def identity(self) -> str:
        return ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnauthenticatedUser)

    def __hash__(self) -> int:
        return hash(UnauthenticatedUser)

    def __repr__(self) -> str:
        return "UnauthenticatedUser()"


# Both immutable: every anonymous request shares them.
ANONYMOUS = UnauthenticatedUser()
NO_CREDENTIALS = AuthCredentials()


def compare_secret(given: str | bytes, expected: str | bytes) -> bool:
    """Whether two secrets are equal, in time that does not depend on where they differ.

    `str` is compared as UTF-8 (`hmac.compare_digest` alone refuses non-ASCII text).
    The time still depends on the lengths: compare digests (or hashes) of fixed size
    when the length of a secret must stay hidden too.
    """
    return hmac.compare_digest(_secret_bytes(given), _secret_bytes(expected))


def _secret_bytes(value: str | bytes) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"compare_secret takes str or bytes, not {type(value).__name__}")


# -- errors -------------------------------------------------------------------------------


class AuthenticationError(HTTPException):
    """Credentials that are malformed (400) or wrong (401), with the backend's
    `WWW-Authenticate` challenge. `detail` goes to the client: it never holds them."""

    def __init__(
        self,
        detail: str = "Invalid credentials",
        challenge: str | None = None,
        status: int = 401,
    ) -> None:
        headers = {"WWW-Authenticate": challenge} if challenge else None
        super().__init__(status, detail, headers)
        self.challenge = challenge


def _check_realm(realm: str | None, backend: str) -> None:
    # The realm goes into a quoted-string: no quote, backslash or control to escape.
    if realm is None:
        return
    if not isinstance(realm, str):
        raise TypeError(f"{backend} realm must be a str, not {type(realm).__name__}")
    if not realm or '"' in realm or "\\" in realm or not realm.isprintable():
        raise ValueError(
            f"{backend} realm {realm!r:.60} cannot be sent: use a non-empty text "
            'without quotes ("), backslashes or control characters'
        )


def _check_size(size: int) -> int:
    if type(size) is not int or size < 1:
        raise ValueError(f"max_size must be a number of bytes >= 1, not {size!r}")
    return size


def _challenge(scheme: str, **params: str | None) -> str:
    pairs = [f'{name}="{value}"' for name, value in params.items() if value is not None]
    value = f"{scheme} {', '.join(pairs)}" if pairs else scheme
    check_header("WWW-Authenticate", value)  # non-latin-1 realms fail here, at startup
    return value


# -- calling verify -----------------------------------------------------------------------

Verify = Callable[..., Any]


class _Verifier:
    """`verify`, called the right way (thread or loop) and its answer checked."""

    __slots__ = ("func", "is_async")

    def __init__(self, func: Verify, backend: str) -> None:
        if not callable(func):
            raise TypeError(f"{backend} needs a verify function, not {func!r:.60}")
        self.func = func
        self.is_async = is_async_callable(func)

    async def __call__(self, *credentials: str) -> tuple[Any, AuthCredentials] | None:
        if self.is_async:
            result = await self.func(*credentials)
        else:
            result = await run_in_threadpool(self.func, *credentials)
            if isinstance(result, Awaitable):  # a plain function handing back a coroutine
                result = await result
        return _outcome(self.func, result)


def _outcome(func: Verify, result: Any) -> tuple[Any, AuthCredentials] | None:
    scopes: Any = NO_CREDENTIALS
    if isinstance(result, tuple):
        if len(result) != 2:
            raise TypeError(
                f"verify function {_name(func)} returned a tuple of {len(result)}: "
                "return None, a user, or (user, scopes)"
            )
        result, scopes = result
    if result is None:
        return None
    if isinstance(result, bool):
        # `return password == expected` would let everyone in with False as the user.
        raise TypeError(
            f"verify function {_name(func)} returned {result!r}: return the user "
            "(or None to reject the credentials), not a bool"
        )
    user = SimpleUser(result) if isinstance(result, str) else result
    credentials = scopes if isinstance(scopes, AuthCredentials) else AuthCredentials(scopes)
    return user, credentials


def _name(func: Any) -> str:
    return str(getattr(func, "__qualname__", None) or type(func).__name__)


# -- backends -----------------------------------------------------------------------------


class AuthenticationBackend:
    """The base of backends: `authenticate(conn)` reads the request's credentials.

    It returns None when the request has none of this kind (the next backend is
    tried, and the request is anonymous if none has any), `(user, AuthCredentials)`
    when they are good, and raises `AuthenticationError` (or any `HTTPException`) when
    they are malformed or wrong. `challenge` is the `WWW-Authenticate` value that tells
    a client how to authenticate (None: the scheme has none).
    """

    challenge: str | None = None

    async def authenticate(self, conn: HTTPConnection) -> tuple[Any, AuthCredentials] | None:
        """Read this kind of credentials from `conn` (see the class doc): every backend
        defines it; this base has none to read."""
        raise NotImplementedError(f"{type(self).__name__} must define authenticate()")


def _authorization(
    conn: HTTPConnection, scheme: str, max_size: int, challenge: str | None
) -> str | None:
    """The credentials after `scheme` in the Authorization header, as sent; None when
    the header is absent or names another scheme."""
    values = conn.headers.getlist("authorization")
    if not values:
        return None
    if len(values) > 1:  # one field, one value (RFC 9110 section 11.6.2)
        raise AuthenticationError("Several Authorization headers", challenge, 400)
    value = values[0]
    if len(value) > max_size:
        raise AuthenticationError("Authorization header too large", challenge, 400)
    name, _, credentials = value.partition(" ")
    if name.lower() != scheme:  # auth schemes are case-insensitive
        return None
    return credentials.lstrip(" ")


class BasicAuth(AuthenticationBackend):
    """HTTP Basic authentication (RFC 7617): `verify(username, password)`.

    The credentials are strict base64 of UTF-8 `username:password`, split at the first
    colon (a password may hold colons, a username may not). Anything unreadable is a
    401 with the challenge, as wrong credentials are, so a browser asks again; several
    Authorization headers, or one over `max_size` characters, are a 400.
    """

    def __init__(
        self, verify: Verify, *, realm: str = "Restricted", max_size: int = MAX_CREDENTIALS_SIZE
    ) -> None:
        _check_realm(realm, "BasicAuth")
        if realm is None:
            raise ValueError("BasicAuth needs a realm (RFC 7617): name the protected area")
        self._verify = _Verifier(verify, "BasicAuth")
        self.max_size = _check_size(max_size)
        self.challenge = _challenge("Basic", realm=realm, charset="UTF-8")

    async def authenticate(self, conn: HTTPConnection) -> tuple[Any, AuthCredentials] | None:
        challenge = self.challenge
        encoded = _authorization(conn, "basic", self.max_size, challenge)
        if encoded is None:
            return None
        credentials = _decode_basic(encoded)
        if credentials is None:
            raise AuthenticationError("Malformed Basic credentials", challenge)
        result = await self._verify(*credentials)
        if result is None:
            raise AuthenticationError("Invalid credentials", challenge)
        return result


def _decode_basic(encoded: str) -> tuple[str, str] | None:
    if not _TOKEN68.fullmatch(encoded):
        return None
    import base64  # here: only Basic credentials need it
    import binascii

    try:
        text = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None
    username, colon, password = text.partition(":")
    if not colon or _CONTROL.search(text):  # RFC 7617 section 2: no control characters
        return None
    return username, password


class BearerAuth(AuthenticationBackend):
    """Bearer tokens in the Authorization header (RFC 6750): `verify(token)`.

    A token that is not token68 (spaces, controls, empty) is a 400 with
    `error="invalid_request"`; one `verify` rejects is a 401 with
    `error="invalid_token"`. Tokens in the query string (`access_token=`) are not read:
    URLs end up in logs.
    """

    def __init__(
        self, verify: Verify, *, realm: str | None = None, max_size: int = MAX_CREDENTIALS_SIZE
    ) -> None:
        _check_realm(realm, "BearerAuth")
        self._verify = _Verifier(verify, "BearerAuth")
        self.max_size = _check_size(max_size)
        self.challenge = _challenge("Bearer", realm=realm)
        self._invalid_request = _challenge("Bearer", realm=realm, error="invalid_request")
        self._invalid_token = _challenge("Bearer", realm=realm, error="invalid_token")

    async def authenticate(self, conn: HTTPConnection) -> tuple[Any, AuthCredentials] | None:
        token = _authorization(conn, "bearer", self.max_size, self._invalid_request)
        if token is None:
            return None
        if not _TOKEN68.fullmatch(token):
            raise AuthenticationError("Malformed Bearer token", self._invalid_request, 400)
        result = await self._verify(token)
        if result is None:
            raise AuthenticationError("Invalid token", self._invalid_token)
        return result


class APIKeyAuth(AuthenticationBackend):
    """An API key from one place: a header (`X-API-Key` unless told), a query parameter
    or a cookie. `verify(key)`.

    An empty key, or one with control characters, is a 401 without calling `verify`;
    several keys (the header or parameter repeated) or one over `max_size` characters
    are a 400. To accept a key from two places, give the middleware two backends: the
    first that finds a key decides. The challenge is `APIKey` (there is no standard
    scheme; the realm is added if given).
    """

    def __init__(
        self,
        verify: Verify,
        *,
        header: str | None = None,
        query: str | None = None,
        cookie: str | None = None,
        realm: str | None = None,
        max_size: int = MAX_CREDENTIALS_SIZE,
    ) -> None:
        given = {k: v for k, v in (("header", header), ("query", query), ("cookie", cookie)) if v}
        if len(given) > 1:
            raise ValueError(
                f"APIKeyAuth reads one place, not {' and '.join(given)}: give two "
                "backends to AuthenticationMiddleware to accept a key from both"
            )
        for where, name in (("header", header), ("query", query), ("cookie", cookie)):
            if name is None:
                continue
            if not isinstance(name, str):
                raise TypeError(f"APIKeyAuth {where}= takes a name (str), not {name!r:.60}")
            if where != "query" and not _TOKEN.fullmatch(name):
                raise ValueError(f"APIKeyAuth {where} name {name!r:.60} is not a valid name")
            if not name:
                raise ValueError("APIKeyAuth query= takes a non-empty parameter name")
        _check_realm(realm, "APIKeyAuth")
        self.source, self.name = next(iter(given.items()), ("header", "X-API-Key"))
        self._verify = _Verifier(verify, "APIKeyAuth")
        self.max_size = _check_size(max_size)
        self.challenge = _challenge("APIKey", realm=realm)

    def _key(self, conn: HTTPConnection) -> str | None:
        if self.source == "cookie":
            return conn.cookies.get(self.name)  # at most 200 cookies, from 8 KiB
        if self.source == "header":
            values = conn.headers.getlist(self.name)
        else:
            values = conn.query_params.get(self.name, [])  # over 1000 items: HTTPException 400
        if len(values) > 1:
            raise AuthenticationError("Several API keys", self.challenge, 400)
        return values[0] if values else None

    async def authenticate(self, conn: HTTPConnection) -> tuple[Any, AuthCredentials] | None:
        key = self._key(conn)
        if key is None:
            return None
        if len(key) > self.max_size:
            raise AuthenticationError("API key too large", self.challenge, 400)
        if not key or _CONTROL.search(key):
            raise AuthenticationError("Invalid API key", self.challenge)
        result = await self._verify(key)
        if result is None:
            raise AuthenticationError("Invalid API key", self.challenge)
        return result


# -- requires -----------------------------------------------------------------------------


def requires(*scopes: str, status_code: int = 403, redirect: str | None = None) -> Callable[[F], F]:
    """A decorator that lets a handler run only for authenticated requests that were
    granted every one of `scopes` (none: any authenticated request).

    An anonymous request gets a 401 with the challenge of the app's backends (or, with
    `redirect=`, a 303 to that URL, for a login page); an authenticated one without
    the scopes gets `status_code` (403). On a WebSocket handler the handshake is
    refused with that response (or closed with 1008 where the server cannot send
    one). Sync handlers stay sync, async ones async. It needs `AuthenticationMiddleware`:
    without it, a `RuntimeError` says so. `@app.get(path, requires=...)` applies it.

    It works on any handler, typed ones included (docs/typed.md): a route given a
    handler decorated this way (right below the route's decorator) checks the scopes
    before it reads anything of the request, and its OpenAPI operation shows them.
    Given `requires=` too, the route asks for the scopes of both, and refuses as the
    decorator says (its `status_code`, its `redirect`).
    """
    for scope in scopes:
        if not isinstance(scope, str) or not scope:
            raise TypeError(
                f"requires() takes scope names (non-empty str), not {scope!r:.60}: "
                'write requires("read", "write")'
            )
    if type(status_code) is not int or not 400 <= status_code <= 599:
        raise ValueError(
            f"status_code must be an HTTP error status (4xx, 5xx), not {status_code!r}"
        )
    if redirect is not None:
        if not isinstance(redirect, str) or not redirect:
            raise TypeError(f"redirect= takes a URL (str), not {redirect!r:.60}")
        from .responses import RedirectResponse

        RedirectResponse(redirect, 303)  # a URL that cannot be sent fails here
    needed = frozenset(scopes)
    ordered = tuple(dict.fromkeys(scopes))

    def decorator(handler: F) -> F:
        if not callable(handler):
            raise TypeError(f"requires() decorates a handler, not {handler!r:.60}")
        guard = _guard(handler, needed, status_code, redirect)
        # What routes read (`requirement_of`), to check the scopes themselves.
        guard.__bare_requires__ = Requirement(  # type: ignore[attr-defined]
            ordered, status_code, redirect, handler, guard
        )
        return cast(F, guard)

    return decorator


class Requirement(NamedTuple):
    """What `requires(...)` asked of a handler, kept on the function it returns
    (`wrapper`, around `handler`), for routes to apply to typed handlers too."""

    scopes: tuple[str, ...]
    status_code: int
    redirect: str | None
    handler: Callable[..., Any]
    wrapper: Callable[..., Any]


def requirement_of(endpoint: Any) -> tuple[Callable[..., Any], Requirement] | None:
    """The handler under `requires(...)` and what it asked, when `endpoint` is what
    `requires` returned (or a bound method of it); stacked `requires` are merged (the
    scopes of all, the outermost's `status_code` and `redirect`). None otherwise, also
    for a `requires` wrapped in another decorator, which cannot be taken apart."""
    import types

    found: Requirement | None = None
    scopes: tuple[str, ...] = ()
    while True:
        requirement = getattr(endpoint, "__bare_requires__", None)
        if not isinstance(requirement, Requirement):
            break
        if requirement.wrapper is endpoint:
            endpoint = requirement.handler
        elif isinstance(endpoint, types.MethodType) and requirement.wrapper is endpoint.__func__:
            endpoint = types.MethodType(requirement.handler, endpoint.__self__)
        else:
            break
        scopes = (*scopes, *requirement.scopes)
        found = found or requirement
    if found is None:
        return None
    return endpoint, found._replace(scopes=tuple(dict.fromkeys(scopes)))


def _guard(
    handler: Callable[..., Any],
    needed: frozenset[str],
    status_code: int,
    redirect: str | None,
) -> Callable[..., Any]:
    """`handler`, checking the scopes first (sync stays sync, async stays async)."""
    if is_async_callable(handler):

        @functools.wraps(handler)
        async def guarded_async(*args: Any, **kwargs: Any) -> Any:
            conn = _connection(handler, args, kwargs)
            problem = _refusal(conn.scope, conn, needed, status_code, redirect)
            if problem is not None:
                if conn.scope["type"] == "websocket":
                    await _deny(conn, problem)
                    return None
                if isinstance(problem, HTTPException):
                    raise problem
                return problem
            return await handler(*args, **kwargs)

        return guarded_async

    @functools.wraps(handler)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        conn = _connection(handler, args, kwargs)
        problem = _refusal(conn.scope, conn, needed, status_code, redirect)
        if problem is not None:
            if isinstance(problem, HTTPException):
                raise problem
            return problem
        return handler(*args, **kwargs)

    return guarded


def _connection(handler: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> HTTPConnection:
    # The request is the first argument of a bare handler; look further for methods
    # (self first) and for handlers called with keywords.
    for value in (*args, *kwargs.values()):
        if isinstance(value, HTTPConnection):
            return value
    raise TypeError(
        f"requires() on {_name(handler)}: the handler was called without a request or "
        "WebSocket among its arguments"
    )


def _refusal(
    scope: Scope,
    conn: HTTPConnection,
    needed: frozenset[str],
    status_code: int,
    redirect: str | None,
) -> Any:
    """None when the request may go on; else the HTTPException (or redirect) refusing it."""
    if USER_KEY not in scope or AUTH_KEY not in scope:
        conn.user  # noqa: B018 - raises the RuntimeError naming AuthenticationMiddleware
        conn.auth  # noqa: B018
    if not getattr(scope[USER_KEY], "is_authenticated", True):
        if redirect is not None and scope["type"] == "http":
            from .responses import RedirectResponse  # here: only login redirects need it

            return RedirectResponse(redirect, 303)
        challenge = scope.get(CHALLENGE_KEY)
        if challenge:
            return HTTPException(401, "Not authenticated", {"WWW-Authenticate": challenge})
        # RFC 9110: a 401 must carry a challenge; without one (sessions, custom
        # backends) the honest answer is 403.
        return HTTPException(403, "Not authenticated")
    if needed and not needed.issubset(getattr(scope[AUTH_KEY], "scopes", ())):
        return HTTPException(status_code)
    return None


async def _deny(conn: HTTPConnection, problem: HTTPException) -> None:
    from ._errors import http_exception_response
    from .websockets import WebSocket

    if not isinstance(conn, WebSocket):  # pragma: no cover - a websocket scope is a WebSocket
        raise problem
    await conn.deny(http_exception_response(problem))
