"""What sessions are made of: the `Session` dict that `SessionMiddleware` puts in the
scope, the interface of server-side stores with an in-memory one, and `Signer`, the
rotating-key HMAC that the session and CSRF middleware sign with.

Nothing here is imported by `import bare`: only apps that use sessions or CSRF pay for it.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from _collections_abc import dict_items, dict_keys, dict_values

__all__ = [
    "MIN_SECRET_BYTES",
    "MemoryStore",
    "SecretKey",
    "Session",
    "SessionStore",
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


@runtime_checkable
class SessionStore(Protocol):
    """Where server-side sessions live: the cookie then holds only a signed random id.

    Data are the session's JSON as bytes (encoded and checked by the middleware, so
    every store refuses the same values). The store keeps each entry's expiry: an entry
    is gone `max_age` seconds after it was last saved, and `load` never returns it after
    that. Ids are 43 characters of base64url; a store may prefix them with its own
    namespace. The methods are coroutines so that a network store (Redis) fits.
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
