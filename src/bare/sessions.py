"""What sessions are made of: the `Session` dict that `SessionMiddleware` puts in the
scope, the interface of server-side stores with two of them (`MemoryStore`, and
`RedisStore` for sessions shared by workers and hosts), and `Signer`, the rotating-key
HMAC that the session and CSRF middleware sign with.

Nothing here is imported by `import bare`: only apps that use sessions or CSRF pay for it,
and redis-py is imported only when a `RedisStore` is made.
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ._concurrency import within
from .exceptions import HTTPException

if TYPE_CHECKING:
    from _collections_abc import dict_items, dict_keys, dict_values

    from redis.asyncio import Redis, RedisCluster

__all__ = [
    "DEFAULT_REDIS_PREFIX",
    "MIN_SECRET_BYTES",
    "MemoryStore",
    "RedisStore",
    "SecretKey",
    "Session",
    "SessionStore",
    "SessionStoreUnavailable",
    "SessionTooLarge",
    "Signer",
    "cookie_values",
]

#: A secret, or a list of them for rotation: the first signs, every one verifies.
SecretKey = str | bytes | Iterable[str | bytes]

#: The shortest secret accepted, in bytes (UTF-8 for a str): HMAC-SHA256's own size.
MIN_SECRET_BYTES = 32

_MISSING: Any = object()


# -- signing ----------------------------------------------------------------------------


def _secret_bytes(secret: object, owner: str) -> bytes:
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, bytes):
        raise TypeError(
            f"{owner} secret_key must be a str or bytes, or a list of them, "
            f"not {type(secret).__name__}"
        )
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(
            f"{owner} secret_key is {len(secret)} bytes; use at least {MIN_SECRET_BYTES} "
            "random bytes, such as the output of "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return secret


def _secret_list(secret_key: SecretKey, owner: str) -> list[bytes]:
    if isinstance(secret_key, (str, bytes)):
        return [_secret_bytes(secret_key, owner)]
    if isinstance(secret_key, Iterable):
        secrets = [_secret_bytes(secret, owner) for secret in secret_key]
        if secrets:
            return secrets
        raise ValueError(f"{owner} secret_key is an empty list: give at least one secret")
    raise TypeError(
        f"{owner} secret_key must be a str or bytes, or a list of them for key rotation, "
        f"not {type(secret_key).__name__}"
    )


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> bytes:
    """Unpadded base64url."""
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_URLSAFE)


class Signer:
    """HMAC-SHA256 signatures with key rotation: the first secret signs, all verify.

    Each secret is turned into a key of its own for `purpose`, so that what is signed
    for one purpose (a session cookie) never verifies for another (a CSRF token), even
    under the same secret. Signatures are 43 characters of unpadded base64url.
    Secrets shorter than `MIN_SECRET_BYTES` are refused (`ValueError`).
    """

    __slots__ = ("_macs",)

    def __init__(self, secret_key: SecretKey, purpose: str, *, owner: str = "Signer") -> None:
        derived = [
            hmac.new(secret, b"bare.signer:" + purpose.encode("utf-8"), hashlib.sha256).digest()
            for secret in _secret_list(secret_key, owner)
        ]
        # PERF: keyed once; each signature copies a keyed HMAC instead of keying a new one.
        # Guarded by tests/test_mw_sessions.py::test_a_signature_is_the_plain_hmac_of_the_message.
        self._macs = [hmac.new(key, digestmod=hashlib.sha256) for key in derived]

    def signature(self, message: bytes) -> bytes:
        """The signature of `message` under the first secret (ASCII bytes)."""
        mac = self._macs[0].copy()
        mac.update(message)
        return _b64(mac.digest())

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether `signature` signs `message` under any of the secrets (constant time)."""
        for keyed in self._macs:
            mac = keyed.copy()
            mac.update(message)
            if hmac.compare_digest(_b64(mac.digest()), signature):
                return True
        return False


def cookie_values(
    headers: Iterable[tuple[bytes, bytes]], name: bytes, limit: int = 8
) -> list[bytes]:
    """The values of every cookie called `name` in the request's `Cookie` headers, in
    the order sent (the most specific path first), at most `limit` of them.

    Works on the raw ASGI header list, without parsing the cookies of others. Values
    are not unquoted: signed values never need quotes.
    """
    prefix = name + b"="
    found: list[bytes] = []
    for key, value in headers:
        if key != b"cookie" or prefix not in value:
            continue
        for piece in value.split(b";"):
            piece = piece.strip(b" \t")
            if piece.startswith(prefix):
                found.append(piece[len(prefix) :])
                if len(found) >= limit:
                    return found
    return found


# -- the session --------------------------------------------------------------------------


class SessionTooLarge(ValueError):
    """A cookie session grew past what browsers keep (4096 bytes): store less in it, or
    keep the data on the server (`SessionMiddleware(..., store=MemoryStore())`)."""


def _check_key(key: object) -> None:
    if not isinstance(key, str):
        raise TypeError(
            f"session keys must be str (they are stored as JSON object keys), "
            f"not {type(key).__name__}: {key!r}"
        )


class Session(dict[str, Any]):
    """The session of one request: a dict that notes what is done with it.

    `accessed` turns true on every read, including `in`, `len()`, `bool()`, iteration
    and `get()`: a response that read the session depends on the cookie, so the
    middleware sends `Vary: Cookie`. `modified` turns true on every change, and only
    then is the session written back. A change inside a value (`session["cart"].append(x)`)
    is not seen: assign the value again, or set `session.modified = True`.

    Keys must be str; values must be JSON (str, int, float, bool, None, and lists and
    dicts of them): tuples come back as lists. Anything else is refused when the
    response starts (`TypeError`).
    """

    __slots__ = ("_id", "_regenerate", "accessed", "modified")

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        if data:
            for key in data:
                _check_key(key)
            dict.update(self, data)
        self.accessed = False
        self.modified = False
        self._id: str | None = None
        self._regenerate = False

    @property
    def id(self) -> str | None:
        """The session's id in a server-side store; None for a cookie session, or a new
        one not saved yet."""
        return self._id

    def regenerate(self) -> None:
        """Give the session a new id when the response starts, keeping its data, and
        drop the old one from the store.

        Call it when the user logs in (and when their rights change): an id an attacker
        planted before the login then stops working (session fixation). For a cookie
        session it only signs the cookie anew.
        """
        self._regenerate = True
        self.modified = True

    # -- reads ----------------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        self.accessed = True
        return dict.__getitem__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        return dict.get(self, key, default)

    def __contains__(self, key: object) -> bool:
        self.accessed = True
        return dict.__contains__(self, key)

    def __len__(self) -> int:
        self.accessed = True
        return dict.__len__(self)

    def __iter__(self) -> Iterator[str]:
        self.accessed = True
        return dict.__iter__(self)

    def __reversed__(self) -> Iterator[str]:
        self.accessed = True
        return dict.__reversed__(self)

    def keys(self) -> dict_keys[str, Any]:
        self.accessed = True
        return dict.keys(self)

    def values(self) -> dict_values[str, Any]:
        self.accessed = True
        return dict.values(self)

    def items(self) -> dict_items[str, Any]:
        self.accessed = True
        return dict.items(self)

    def copy(self) -> dict[str, Any]:
        """A plain dict with the same items."""
        self.accessed = True
        return dict(dict.items(self))

    def __eq__(self, other: object) -> bool:
        self.accessed = True
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        self.accessed = True
        return dict.__ne__(self, other)

    __hash__ = None

    def __or__(self, other: Any) -> Any:
        self.accessed = True
        return dict.__or__(dict(dict.items(self)), other)

    def __ror__(self, other: Any) -> Any:
        self.accessed = True
        return dict.__ror__(dict(dict.items(self)), other)

    def __repr__(self) -> str:
        self.accessed = True
        return f"Session({dict.__repr__(self)})"

    # -- changes ----------------------------------------------------------------------

    def __setitem__(self, key: str, value: Any) -> None:
        _check_key(key)
        self.accessed = self.modified = True
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: str) -> None:
        self.accessed = True
        dict.__delitem__(self, key)
        self.modified = True

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        if not dict.__contains__(self, key):
            _check_key(key)
            self.modified = True
        return dict.setdefault(self, key, default)

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        self.accessed = True
        if dict.__contains__(self, key):
            self.modified = True
            return dict.pop(self, key)
        if default is _MISSING:
            raise KeyError(key)
        return default

    def popitem(self) -> tuple[str, Any]:
        self.accessed = True
        item = dict.popitem(self)  # KeyError when empty: nothing changed
        self.modified = True
        return item

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        pairs = dict(other, **kwargs)
        for key in pairs:
            _check_key(key)
        self.accessed = True
        if pairs:
            self.modified = True
            dict.update(self, pairs)

    def __ior__(self, other: Any) -> Session:  # type: ignore[override]
        self.update(other)
        return self

    def clear(self) -> None:
        """Empty the session: on the way out its cookie is deleted, and its entry in the
        store (log out with this)."""
        self.accessed = True
        if dict.__len__(self) or self._id is not None:
            self.modified = True
        dict.clear(self)


# -- stores -----------------------------------------------------------------------------


class SessionStoreUnavailable(HTTPException):
    """The session store cannot be reached, or did not answer in time: a 503.

    A store raises it (or lets `OSError` or `asyncio.TimeoutError` out) rather than
    answer "no such session", which would log the user out. `SessionMiddleware` then
    logs `reason` once and answers `503 {"detail": "Session store unavailable"}` with
    `Retry-After: retry_after` (seconds; None leaves the header out) in place of the
    request; under a bare app, an exception handler for 503 or for this class answers
    instead. `reason` goes to the log only, never to the client, and must not hold
    session ids.
    """

    def __init__(self, reason: str = "", *, retry_after: int | None = 5) -> None:
        if retry_after is not None and (
            isinstance(retry_after, bool) or not isinstance(retry_after, int) or retry_after < 0
        ):
            raise ValueError(
                f"SessionStoreUnavailable retry_after must be an int of 0 or more seconds, "
                f"or None; not {retry_after!r}"
            )
        headers = None if retry_after is None else {"retry-after": str(retry_after)}
        super().__init__(503, "Session store unavailable", headers)
        self.reason = reason


@runtime_checkable
class SessionStore(Protocol):
    """Where server-side sessions live: the cookie then holds only a signed random id.

    Data are the session's JSON as bytes (encoded and checked by the middleware, so
    every store refuses the same values). The store keeps each entry's expiry: an entry
    is gone `max_age` seconds after it was last saved, and `load` never returns it after
    that. Ids are 43 characters of base64url (the middleware passes no others); a store
    may prefix them with its own namespace. The methods are coroutines so that a network
    store fits; one that cannot reach its server raises `SessionStoreUnavailable`.
    """

    async def load(self, session_id: str) -> bytes | None:
        """The data saved under `session_id`, or None if there are none (or they expired)."""

    async def save(self, session_id: str, data: bytes, max_age: int) -> None:
        """Keep `data` under `session_id` for `max_age` seconds, replacing what was there."""

    async def delete(self, session_id: str) -> None:
        """Forget `session_id` (nothing happens if it is unknown)."""


class MemoryStore:
    """Sessions kept in this process's memory: for development, tests and single-process
    apps. They are lost when the process ends and are not shared between workers.

    At most `max_entries` sessions are kept; past that, the one saved longest ago goes
    first. `clock` gives the time in seconds (`time.monotonic` by default; tests pass
    their own to expire entries without waiting).
    """

    def __init__(
        self, max_entries: int = 10_000, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(
                f"MemoryStore max_entries must be an int of 1 or more, not {max_entries!r}"
            )
        if not callable(clock):
            raise TypeError(
                f"MemoryStore clock must be a callable returning seconds, not {clock!r}"
            )
        self.max_entries = max_entries
        self._clock = clock
        # Insertion order is saving order: a save moves its entry to the end.
        self._entries: dict[str, tuple[bytes, float]] = {}

    def __len__(self) -> int:
        """How many entries are kept, expired ones not yet dropped included."""
        return len(self._entries)

    async def load(self, session_id: str) -> bytes | None:
        entry = self._entries.get(session_id)
        if entry is None:
            return None
        data, expires = entry
        if self._clock() >= expires:
            self._entries.pop(session_id, None)
            return None
        return data

    async def save(self, session_id: str, data: bytes, max_age: int) -> None:
        entries = self._entries
        entries.pop(session_id, None)
        entries[session_id] = (bytes(data), self._clock() + max_age)
        while len(entries) > self.max_entries:
            del entries[next(iter(entries))]

    async def delete(self, session_id: str) -> None:
        self._entries.pop(session_id, None)


#: Where `RedisStore` keeps sessions unless told otherwise: `prefix + session_id`.
DEFAULT_REDIS_PREFIX = "bare:session:"


def _import_redis() -> Any:
    try:
        import redis.asyncio
    except ImportError:
        raise ImportError(
            "RedisStore needs redis-py: pip install redis "
            "(or, in a checkout of bare, pip install '.[redis]')"
        ) from None
    return redis


def _outage_errors(redis: Any) -> tuple[type[BaseException], ...]:
    """What an unreachable, stopped, restarting or failing-over Redis raises."""
    names = (
        "ConnectionError",  # refused, reset, closed; also still loading, or bad credentials
        "TimeoutError",
        "ReadOnlyError",  # a replica during a failover
        "OutOfMemoryError",  # maxmemory reached with no eviction: nothing can be saved
        "TryAgainError",
        "ClusterDownError",
    )
    found = [getattr(redis.exceptions, name, None) for name in names]  # by version
    return (*(error for error in found if error is not None), OSError, asyncio.TimeoutError)


_OTHER_LOOP = (
    "RedisStore is used on another event loop than the one its connections were made "
    "on, and was not closed on that one: close it when the server stops, on its loop "
    "(app.on_shutdown(store.close)); in tests, send requests inside "
    "`with TestClient(app) as client:` so that they share one loop and the app's "
    "shutdown closes the store"
)


def _client_from_url(url: str, timeout: float) -> Redis:
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError

    try:
        # Timeouts are not retried: a Redis that does not answer would double the wait.
        return Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1, (ConnectionError,)),
        )
    except ValueError as exc:  # redis-py's words, which never repeat the URL's password
        raise ValueError(f"RedisStore: {exc}") from None


class RedisStore:
    """Sessions kept in Redis: shared by every worker process and host that uses the
    same Redis, and kept across restarts of the app.

        store = RedisStore("redis://127.0.0.1:6379/0")
        app.add_middleware(SessionMiddleware, secret_key=SECRET, store=store)
        app.on_shutdown(store.close)

    Each session is one Redis string, `prefix + session_id`, holding the session's JSON,
    written with the session's `max_age` as its TTL (`SET key data EX max_age`): Redis
    forgets it by itself. `load` is a `GET`, `delete` a `DEL`.

    `redis` is a URL (`redis://`, `rediss://`, `unix://`, as redis-py reads them), or a
    `redis.asyncio.Redis` (or `RedisCluster`) client the app already has. From a URL, the
    store makes its own client, with socket timeouts of `timeout` seconds and one
    immediate retry on a broken connection (after Redis restarted, say); `close()`
    closes its connections. A client given to the store keeps its own settings and is
    never closed by the store: its owner closes it.

    Each operation gets at most `timeout` seconds, connecting and retrying included.
    When Redis cannot be reached, fails over, or does not answer in time, the store
    raises `SessionStoreUnavailable` (the middleware answers 503), never "no session".
    Other Redis errors (a key of another type under `prefix`) go on as they are.
    Requires redis-py (`pip install redis`).
    """

    def __init__(
        self,
        redis: str | Redis | RedisCluster,
        /,
        *,
        prefix: str = DEFAULT_REDIS_PREFIX,
        timeout: float = 1.0,
    ) -> None:
        module = _import_redis()
        if not isinstance(prefix, str):
            raise TypeError(f"RedisStore prefix must be a str, not {prefix!r}")
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not 0 < timeout < float("inf")
        ):
            raise ValueError(
                f"RedisStore timeout must be a number of seconds above 0, such as 1.0; "
                f"not {timeout!r}"
            )
        self.prefix = prefix
        self.timeout = float(timeout)
        self._outage = _outage_errors(module)
        # The event loop the store's own client first ran on: its connections belong to it.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._url: str | None
        if isinstance(redis, str):
            self._url = redis
            self._client = _client_from_url(redis, self.timeout)  # a bad URL fails here
        elif isinstance(redis, (module.asyncio.Redis, module.asyncio.RedisCluster)):
            self._url = None
            self._client = redis
        else:
            hint = (
                " (the asyncio one: redis.asyncio.Redis, not redis.Redis)"
                if isinstance(redis, (module.Redis, module.RedisCluster))
                else ""
            )
            raise TypeError(
                f"RedisStore takes a Redis URL such as 'redis://127.0.0.1:6379/0', or a "
                f"redis.asyncio.Redis client{hint}; not {type(redis).__name__}"
            )

    @property
    def client(self) -> Redis | RedisCluster:
        """The redis-py client the store uses (its own, or the one it was given)."""
        return self._client

    @property
    def owns_client(self) -> bool:
        """Whether the store made its client from a URL (and `close()` closes it)."""
        return self._url is not None

    def _use(self) -> Redis | RedisCluster:
        if self._url is not None:
            loop = asyncio.get_running_loop()
            if self._loop is not loop:
                if self._loop is not None:
                    raise RuntimeError(_OTHER_LOOP)
                self._loop = loop
        return self._client

    def _unavailable(self, exc: BaseException) -> SessionStoreUnavailable:
        if isinstance(exc, asyncio.TimeoutError) and not str(exc):
            return SessionStoreUnavailable(f"Redis did not answer within {self.timeout:g} s")
        return SessionStoreUnavailable(f"Redis is unavailable: {type(exc).__name__}: {exc}")

    async def load(self, session_id: str) -> bytes | None:
        try:
            data = await within(self.timeout, self._use().get(self.prefix + session_id))
        except self._outage as exc:
            raise self._unavailable(exc) from exc
        if isinstance(data, str):  # a client given with decode_responses=True
            return data.encode("utf-8")
        return data

    async def save(self, session_id: str, data: bytes, max_age: int) -> None:
        if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 1:
            raise ValueError(f"RedisStore max_age must be an int of 1 or more, not {max_age!r}")
        key = self.prefix + session_id
        try:
            await within(self.timeout, self._use().set(key, data, ex=max_age))
        except self._outage as exc:
            raise self._unavailable(exc) from exc

    async def delete(self, session_id: str) -> None:
        try:
            await within(self.timeout, self._use().delete(self.prefix + session_id))
        except self._outage as exc:
            raise self._unavailable(exc) from exc

    async def close(self) -> None:
        """Close the connections of the client the store made (nothing happens to a
        client it was given). The store may be used again after: it connects anew, on
        the event loop it then runs on."""
        if self._url is None:
            return
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            raise RuntimeError(_OTHER_LOOP)
        client, self._client = self._client, _client_from_url(self._url, self.timeout)
        self._loop = None
        # NOTE: aclose() since redis-py 5.0.1; close() before that.
        closer = getattr(client, "aclose", None) or client.close
        await closer()

    async def __aenter__(self) -> RedisStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
