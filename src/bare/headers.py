"""Header handling: a case-insensitive view over the raw ASGI request headers, a live,
checked view over a response's headers, `Cookie` parsing, and the checks that keep CR,
LF and other controls out of response headers.

The work is done by `bare._headers` (compiled) or its pure twin `bare._headers_py`,
chosen once by `bare._speedups`; their contract is in `_headers_py`'s docstring.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING

from ._speedups import headers_impl

if TYPE_CHECKING:
    from ._headers_py import Headers, encode_header, encode_headers, framing_problem, parse_cookie
else:
    Headers = headers_impl.Headers
    encode_header = headers_impl.encode_header
    encode_headers = headers_impl.encode_headers
    parse_cookie = headers_impl.parse_cookie
    framing_problem = headers_impl.framing_problem

__all__ = [
    "Headers",
    "MutableHeaders",
    "check_header",
    "encode_header",
    "encode_headers",
    "framing_problem",
    "parse_cookie",
]

RawList = list[tuple[bytes, bytes]]

# Headers a response carries once: appending one replaces the earlier value.
SINGLE = frozenset({b"content-length", b"content-type"})


def check_header(name: str, value: str) -> None:
    """Raise `ValueError` unless `name: value` is a header `encode_header` would send."""
    encode_header(name, value)


def _key(name: str) -> bytes | None:
    """The lowered latin-1 bytes of `name`; None if no header can have it."""
    if not isinstance(name, str):
        raise TypeError(f"header name must be str, not {type(name).__name__}")
    try:
        return name.lower().encode("latin-1")
    except UnicodeEncodeError:
        return None


def set_header(raw: RawList, pair: tuple[bytes, bytes]) -> None:
    """Give `pair`'s name the single value `pair[1]` in `raw`, in place: the first pair of
    that name is replaced and the others removed, or `pair` is appended."""
    key = pair[0]
    found = -1
    for index, (name, _) in enumerate(raw):
        if name == key or name.lower() == key:
            found = index
            break
    if found < 0:
        raw.append(pair)
        return
    raw[found] = pair
    rest = raw[found + 1 :]
    del raw[found + 1 :]
    raw.extend(h for h in rest if h[0] != key and h[0].lower() != key)


def append_header(raw: RawList, pair: tuple[bytes, bytes]) -> None:
    """Add `pair` to `raw`, in place; a `content-type` or `content-length` replaces the
    earlier one instead."""
    if pair[0] in SINGLE:
        set_header(raw, pair)
    else:
        raw.append(pair)


class MutableHeaders(MutableMapping[str, str]):
    """A live, case-insensitive, checked view over a list of ASGI header pairs: what
    `response.headers` gives.

    Every read and write goes to the list itself (`raw`), so the view and the response
    never disagree. Names are matched in any case and stored lowered; values are str
    (latin-1 text).

    - `headers[name]` and `get(name, default=None)` give the **last** value of `name`
      (`getlist(name)` gives them all, in order); `name in headers` tests for one.
    - `headers[name] = value` replaces every value of `name` with this one (in the place
      of the first); `append(name, value)` adds one more, for the names that repeat
      (`Set-Cookie`, `Vary`, `Link`). `content-type` and `content-length` are sent once,
      so appending one replaces it.
    - `del headers[name]` removes every value (KeyError if there is none).
    - Iteration, `keys()` and `len()` see each name once, lowered, in order of first
      appearance; `values()` holds the last value of each; `items()` is every
      `(name, value)` pair, repeats included, as on `request.headers`.

    Every value set is checked as `encode_header` does, so a name that is not an HTTP
    token, or a value with CR, LF, NUL or another control character, with text beyond
    latin-1 or with whitespace at either end, raises `ValueError` where it is set; a
    name or value that is not a str raises `TypeError`.
    """

    __slots__ = ("_raw",)

    def __init__(self, raw: RawList) -> None:
        self._raw = raw

    @property
    def raw(self) -> RawList:
        """The list of `(name, value)` byte pairs the view reads and changes."""
        return self._raw

    def getlist(self, name: str) -> list[str]:
        """Every value of `name`, in order."""
        return Headers(self._raw).getlist(name)

    def __getitem__(self, name: str) -> str:
        values = Headers(self._raw).getlist(name)
        if not values:
            raise KeyError(name)
        return values[-1]

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        """The last value of `name`, or `default`."""
        values = Headers(self._raw).getlist(name)
        return values[-1] if values else default

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in Headers(self._raw)

    def __setitem__(self, name: str, value: str) -> None:
        set_header(self._raw, encode_header(name, value))

    def append(self, name: str, value: str) -> None:
        """Add one more `name: value`, keeping the earlier values of `name` (except for
        `content-type` and `content-length`, which it replaces)."""
        append_header(self._raw, encode_header(name, value))

    def __delitem__(self, name: str) -> None:
        key = _key(name)
        kept = [h for h in self._raw if h[0] != key and h[0].lower() != key]
        if len(kept) == len(self._raw):
            raise KeyError(name)
        self._raw[:] = kept

    def clear(self) -> None:
        """Remove every header."""
        self._raw.clear()

    def __iter__(self) -> Iterator[str]:
        return iter(Headers(self._raw).keys())

    def __len__(self) -> int:
        return len(Headers(self._raw))

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        """Every `(name, value)` pair, repeated names included, names lowered."""
        return Headers(self._raw).items()

    def __repr__(self) -> str:
        return f"MutableHeaders({self.items()!r})"
